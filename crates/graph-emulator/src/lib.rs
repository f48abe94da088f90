//! The Graph emulator: a local Microsoft Graph v1.0 for licensing, served from a tenant
//! snapshot held in memory.
//!
//! It answers the calls licensectl makes (`/subscribedSkus`, `/users`, `/groups`,
//! `assignLicense`, `$batch`) with Graph's JSON shapes, validation and error bodies, runs
//! group-based licensing asynchronously, issues OAuth2 client-credential tokens, and can
//! throttle (Graph's resource-unit and write quotas), add latency and inject faults.
//! Extra endpoints outside `/v1.0` expose the current tenant as a snapshot and request
//! statistics. It is an edge of the system: it owns its sockets and clock, but it must not
//! print (the CLI does) and must not depend on the planner or the Graph client, so that
//! it stays an independent double of Graph.

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod assign;
pub mod auth;
mod batch;
pub mod clock;
pub mod error;
pub mod faults;
pub mod generate;
pub mod groups;
pub mod history;
pub mod plans;
pub mod query;
mod replica;
pub mod state;
pub mod stats;
pub mod throttle;
pub mod users;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

use licensectl_model::snapshot::TenantSnapshot;

pub use auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
pub use error::{EmulatorError, GraphError, TokenError};
pub use faults::FaultSpec;
pub use history::{HistoryEntry, Interruption, LicenseHistory, UserLicenseHistory};
pub use throttle::ThrottleOptions;

use auth::{Authority, Claims};
use clock::Stamp;
use faults::{Fault, Faults};
use query::Query;
use replica::{Replication, View};
use state::Tenant;
use stats::Stats;
use throttle::{Throttle, Verdict};

/// How the emulator behaves beyond the tenant's data.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorOptions {
    /// Service time added to every request (and to every item of a batch).
    pub latency: Duration,
    /// Graph throttling; `None` turns it off.
    pub throttle: Option<ThrottleOptions>,
    /// Injected faults.
    pub faults: FaultSpec,
    /// Seed of the fault generator and of stale reads.
    pub seed: u64,
    /// Replication lag: for this long after a write, reads of the written user or group
    /// (its licenses, states, usage location, a group's `licenseProcessingState`) may
    /// return the version from before the write; zero turns eventual consistency off.
    pub replication_lag: Duration,
    /// The chance that one read of an object written within the lag returns the old
    /// version (per object and request, from the seed); 1, the default, means always
    /// stale until the lag has passed (the hardest case).
    pub stale_read_probability: f64,
    /// Enforce the built-in table of service-plan rules Graph is known to apply
    /// ([`plans::KNOWN_DEPENDENCIES`], [`plans::KNOWN_EXCLUSIONS`]) on top of the tenant
    /// file's `servicePlanRules` (default true).
    pub known_plan_rules: bool,
    /// Opt-in model of Graph widening `disabledPlans`: when a license's `disabledPlans`
    /// take away a prerequisite, the plans of that license that depend on it are disabled
    /// too, instead of the call being refused (the default, Graph's documented answer).
    pub disable_dependent_plans: bool,
    /// Time group-based licensing takes; zero processes within the request.
    pub group_processing: Duration,
    /// Lifetime of issued access tokens (Azure AD: about an hour). Graph calls with an
    /// expired token answer 401 `InvalidAuthenticationToken`. Whole seconds, at least one.
    pub token_lifetime: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            throttle: None,
            faults: FaultSpec::default(),
            seed: 0,
            replication_lag: Duration::ZERO,
            stale_read_probability: 1.0,
            known_plan_rules: true,
            disable_dependent_plans: false,
            group_processing: Duration::ZERO,
            token_lifetime: Duration::from_secs(auth::TOKEN_LIFETIME_SECS as u64),
        }
    }
}

struct Shared {
    tenant: Mutex<Tenant>,
    authority: Authority,
    options: EmulatorOptions,
    throttle: Mutex<Option<Throttle>>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    /// Requests seen, for the salt of stale reads.
    requests: AtomicU64,
}

/// A running emulator's state, cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One Graph request, top-level or inside a batch.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// Path under `/v1.0`, starting with `/`.
    pub path: String,
    pub query: String,
    /// Lowercase header names.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub base: String,
    pub request_id: String,
    pub client_request_id: Option<String>,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer before it becomes HTTP (or a batch item).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Drop the connection instead of answering.
    pub drop: bool,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
            drop: false,
        }
    }
    fn error(e: &GraphError, call: &Call) -> Self {
        Self::json(
            e.status,
            e.body(
                &clock::graph_date(clock::unix_now()),
                &call.request_id,
                call.client_request_id.as_deref(),
            ),
        )
    }
}

/// The endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Skus,
    Sku(String),
    Users,
    User(String),
    UserAssign(String),
    Groups,
    Group(String),
    GroupMembers(String),
    GroupAssign(String),
    Organization,
    Batch,
}

fn segment_key(seg: &str, collection: &str) -> Option<String> {
    // `users('$x@contoso.com')` addressing.
    let rest = seg.strip_prefix(collection)?;
    let inner = rest.strip_prefix("('")?.strip_suffix("')")?;
    Some(inner.replace("''", "'"))
}

fn route(path: &str) -> Result<Route, GraphError> {
    let decoded = query::Query::parse(&format!("p={path}"))
        .pairs
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default();
    let segs: Vec<&str> = decoded.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let unknown =
        |s: &str| GraphError::bad_request(format!("Resource not found for the segment '{s}'."));
    if let Some(first) = segs.first()
        && let Some(key) = segment_key(first, "users")
    {
        return match segs.get(1..) {
            Some([]) => Ok(Route::User(key)),
            Some([a]) if eq(a, "assignLicense") => Ok(Route::UserAssign(key)),
            Some(rest) => Err(unknown(rest.first().copied().unwrap_or(""))),
            None => Ok(Route::User(key)),
        };
    }
    match segs.as_slice() {
        [s] if eq(s, "subscribedSkus") => Ok(Route::Skus),
        [s, id] if eq(s, "subscribedSkus") => Ok(Route::Sku((*id).to_owned())),
        [s] if eq(s, "users") => Ok(Route::Users),
        [s, id] if eq(s, "users") => Ok(Route::User((*id).to_owned())),
        [s, id, a] if eq(s, "users") && eq(a, "assignLicense") => {
            Ok(Route::UserAssign((*id).to_owned()))
        }
        [s] if eq(s, "groups") => Ok(Route::Groups),
        [s, id] if eq(s, "groups") => Ok(Route::Group((*id).to_owned())),
        [s, id, m] if eq(s, "groups") && eq(m, "members") => {
            Ok(Route::GroupMembers((*id).to_owned()))
        }
        [s, id, a] if eq(s, "groups") && eq(a, "assignLicense") => {
            Ok(Route::GroupAssign((*id).to_owned()))
        }
        [s] if eq(s, "organization") => Ok(Route::Organization),
        [s] if eq(s, "$batch") => Ok(Route::Batch),
        [s, ..] => Err(unknown(s)),
        [] => Err(unknown("")),
    }
}

impl Route {
    fn label(&self) -> &'static str {
        match self {
            Route::Skus => "/subscribedSkus",
            Route::Sku(_) => "/subscribedSkus/{id}",
            Route::Users => "/users",
            Route::User(_) => "/users/{id}",
            Route::UserAssign(_) => "/users/{id}/assignLicense",
            Route::Groups => "/groups",
            Route::Group(_) => "/groups/{id}",
            Route::GroupMembers(_) => "/groups/{id}/members",
            Route::GroupAssign(_) => "/groups/{id}/assignLicense",
            Route::Organization => "/organization",
            Route::Batch => "/$batch",
        }
    }

    fn allowed(&self, m: &Method) -> bool {
        match self {
            Route::UserAssign(_) | Route::GroupAssign(_) | Route::Batch => m == Method::POST,
            Route::User(_) => m == Method::GET || m == Method::PATCH,
            _ => m == Method::GET,
        }
    }

    /// Application permissions that allow the call (any one of them).
    fn roles(&self, m: &Method) -> &'static [&'static str] {
        const DIR_R: [&str; 2] = ["Directory.Read.All", "Directory.ReadWrite.All"];
        let _ = DIR_R;
        match self {
            Route::Skus | Route::Sku(_) => &[
                "LicenseAssignment.Read.All",
                "LicenseAssignment.ReadWrite.All",
                "Organization.Read.All",
                "Organization.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Route::User(_) if m == Method::PATCH => {
                &["User.ReadWrite.All", "Directory.ReadWrite.All"]
            }
            Route::Users | Route::User(_) => &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Route::UserAssign(_) => &[
                "LicenseAssignment.ReadWrite.All",
                "User.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            Route::Groups | Route::Group(_) => &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "GroupMember.Read.All",
                "GroupMember.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Route::GroupMembers(_) => &[
                "GroupMember.Read.All",
                "GroupMember.ReadWrite.All",
                "Group.Read.All",
                "Group.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Route::GroupAssign(_) => &[
                "LicenseAssignment.ReadWrite.All",
                "Group.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            // Any signed-in app may read its own organization's basic profile.
            Route::Organization => &[
                "Organization.Read.All",
                "Organization.ReadWrite.All",
                "User.Read.All",
                "User.ReadWrite.All",
                "LicenseAssignment.Read.All",
                "LicenseAssignment.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            Route::Batch => &[],
        }
    }

    /// Resource units and whether it is a write (https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits).
    fn cost(&self, m: &Method, q: &Query) -> (u32, bool) {
        if *m != Method::GET {
            return (1, true);
        }
        let base: i64 = match self {
            Route::Users | Route::User(_) => 2,
            Route::Skus => 3,
            Route::GroupMembers(_) => 3,
            _ => 1,
        };
        let mut cost = base;
        if q.has_select() {
            cost -= 1;
        }
        if q.get("$expand").is_some() {
            cost += 1;
        }
        if q.get("$top")
            .and_then(|t| t.trim().parse::<u32>().ok())
            .is_some_and(|t| t < 20)
        {
            cost -= 1;
        }
        (cost.max(1) as u32, false)
    }
}

fn new_request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

impl Emulator {
    /// Builds an emulator serving `snapshot`.
    pub fn new(snapshot: TenantSnapshot, options: EmulatorOptions) -> Result<Self, EmulatorError> {
        let mut tenant = Tenant::from_snapshot(snapshot)?;
        tenant.replication =
            Replication::new(options.replication_lag, options.stale_read_probability);
        tenant.plan_rules = plans::PlanRules::new(
            &tenant.rules.mutually_exclusive,
            &tenant.rules.dependencies,
            options.known_plan_rules,
            options.disable_dependent_plans,
        );
        let lifetime = i64::try_from(options.token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let authority = Authority::new(&tenant, lifetime)?;
        let throttle = options
            .throttle
            .clone()
            .map(|o| Throttle::new(o, tenant.users.len()));
        let faults = Faults::new(options.faults.clone(), options.seed);
        Ok(Self {
            shared: Arc::new(Shared {
                tenant: Mutex::new(tenant),
                authority,
                options,
                throttle: Mutex::new(throttle),
                faults: Mutex::new(faults),
                stats: Mutex::new(Stats::default()),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The current tenant as a snapshot.
    pub fn snapshot(&self) -> TenantSnapshot {
        lock(&self.shared.tenant).to_snapshot()
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Every user's license history since start: the SKUs each user effectively held
    /// after every change (see [`history`]).
    pub fn license_history(&self) -> LicenseHistory {
        lock(&self.shared.tenant).license_history(None)
    }

    /// Resets the statistics.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// The axum router serving this emulator.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_handler))
            .route("/_emulator/snapshot", get(snapshot_handler))
            .route("/_emulator/stats", get(stats_handler))
            .route("/_emulator/stats/reset", post(reset_handler))
            .route("/_emulator/license-history", get(history_handler))
            .route("/v1.0/{*rest}", any(graph_handler))
            .fallback(fallback_handler)
            .layer(middleware::from_fn(request_id_layer))
            .with_state(self.clone())
    }

    fn record(&self, endpoint: &str, status: u16, write: bool, ru: u32) {
        lock(&self.shared.stats).record(endpoint, status, write, ru);
    }

    /// Runs a top-level Graph request: authentication, then `$batch` or one call.
    async fn execute(&self, call: Call) -> Reply {
        let r = match route(&call.path) {
            Ok(r) => r,
            Err(e) => {
                self.record("(unknown)", e.status, false, 0);
                return Reply::error(&e, &call);
            }
        };
        let claims = match self
            .shared
            .authority
            .check_bearer(call.header("authorization"), clock::unix_now())
        {
            Ok(c) => c,
            Err(msg) => {
                let e = GraphError::unauthenticated(msg);
                self.record(&format!("{} {}", call.method, r.label()), 401, false, 0);
                let mut reply = Reply::error(&e, &call);
                reply.headers.push((
                    "WWW-Authenticate".to_owned(),
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"".to_owned(),
                ));
                return reply;
            }
        };
        if r == Route::Batch {
            if !r.allowed(&call.method) {
                return Reply::error(&GraphError::method_not_allowed(), &call);
            }
            let fault = lock(&self.shared.faults).draw();
            let reply = batch::run(self, &call, &claims).await;
            if fault == Fault::Drop {
                // The connection drops after the batch ran: its writes took effect but
                // the client never sees the answer (the hard case for idempotency).
                let mut stats = lock(&self.shared.stats);
                stats.faults += 1;
                stats.batches += 1;
                stats.dropped += 1;
                return Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: None,
                    drop: true,
                };
            }
            let mut stats = lock(&self.shared.stats);
            stats.batches += 1;
            return reply;
        }
        self.execute_one(call, r, &claims, false).await
    }

    /// Runs one non-batch call (top-level or a batch item).
    async fn execute_one(&self, call: Call, r: Route, claims: &Claims, in_batch: bool) -> Reply {
        let endpoint = format!("{} {}", call.method, r.label());
        let q = Query::parse(&call.query);
        let (ru, write) = r.cost(&call.method, &q);
        let reply = self
            .answer(&call, &r, &q, claims, ru, write, in_batch)
            .await;
        let mut reply = reply;
        if reply.drop {
            lock(&self.shared.stats).dropped += 1;
            return reply;
        }
        reply
            .headers
            .push(("x-ms-resource-unit".to_owned(), ru.to_string()));
        self.record(&endpoint, reply.status, write, ru);
        reply
    }

    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        call: &Call,
        r: &Route,
        q: &Query,
        claims: &Claims,
        ru: u32,
        write: bool,
        in_batch: bool,
    ) -> Reply {
        if r == &Route::Batch {
            return Reply::error(
                &GraphError::bad_request("A $batch request cannot contain another $batch request."),
                call,
            );
        }
        if !r.allowed(&call.method) {
            return Reply::error(&GraphError::method_not_allowed(), call);
        }
        if !r
            .roles(&call.method)
            .iter()
            .any(|role| claims.roles.iter().any(|c| c == role))
        {
            return Reply::error(&GraphError::forbidden(), call);
        }
        let mut extra_headers = Vec::new();
        let verdict = lock(&self.shared.throttle)
            .as_mut()
            .map(|t| t.check(&claims.appid, ru, write, Instant::now()));
        match verdict {
            Some(Verdict::Deny {
                retry_after,
                information,
                kind,
            }) => {
                let tid = lock(&self.shared.tenant).tenant_id.to_string();
                return self.throttled(
                    call,
                    &throttle::retry_after_value(retry_after),
                    vec![
                        (
                            "x-ms-throttle-scope".to_owned(),
                            format!("Tenant_Application/{kind}/{}/{tid}", claims.appid),
                        ),
                        (
                            "x-ms-throttle-information".to_owned(),
                            information.to_owned(),
                        ),
                    ],
                );
            }
            Some(Verdict::Allow { usage }) if usage > 0.8 => {
                extra_headers.push((
                    "x-ms-throttle-limit-percentage".to_owned(),
                    format!("{:.1}", usage.min(1.8)),
                ));
            }
            _ => {}
        }
        let fault = lock(&self.shared.faults).draw();
        let retry = self.shared.options.faults.retry_after_secs;
        match fault {
            Fault::None => {}
            Fault::Slow(d) => {
                lock(&self.shared.stats).faults += 1;
                tokio::time::sleep(d).await;
            }
            Fault::Throttle => {
                lock(&self.shared.stats).faults += 1;
                return self.throttled(call, &format_secs(retry), Vec::new());
            }
            Fault::Unavailable => {
                lock(&self.shared.stats).faults += 1;
                let mut reply = Reply::error(
                    &GraphError::new(
                        503,
                        "serviceNotAvailable",
                        "The service is temporarily unavailable. Please retry later.",
                    ),
                    call,
                );
                reply
                    .headers
                    .push(("Retry-After".to_owned(), format_secs(retry)));
                return reply;
            }
            Fault::Timeout => {
                lock(&self.shared.stats).faults += 1;
                return Reply::error(
                    &GraphError::new(504, "UnknownError", "Gateway Timeout"),
                    call,
                );
            }
            Fault::Drop => {
                lock(&self.shared.stats).faults += 1;
                if !in_batch {
                    return Reply {
                        status: 200,
                        headers: Vec::new(),
                        body: None,
                        drop: true,
                    };
                }
                return Reply::error(
                    &GraphError::new(504, "UnknownError", "Gateway Timeout"),
                    call,
                );
            }
        }
        if !self.shared.options.latency.is_zero() {
            tokio::time::sleep(self.shared.options.latency).await;
        }
        let mut reply = match self.handle(call, r, q) {
            Ok(reply) => reply,
            Err(e) => Reply::error(&e, call),
        };
        reply.headers.extend(extra_headers);
        reply
    }

    fn throttled(&self, call: &Call, retry_after: &str, headers: Vec<(String, String)>) -> Reply {
        let mut reply = Reply::json(
            429,
            error::throttled_body(
                &clock::graph_date(clock::unix_now()),
                &call.request_id,
                call.client_request_id.as_deref(),
            ),
        );
        reply
            .headers
            .push(("Retry-After".to_owned(), retry_after.to_owned()));
        reply.headers.extend(headers);
        reply
    }

    /// The endpoint logic proper.
    fn handle(&self, call: &Call, r: &Route, q: &Query) -> Result<Reply, GraphError> {
        let eventual = call
            .header("consistencylevel")
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
        let ctx = users::ListCtx {
            base: &call.base,
            path: r
                .label()
                .split('{')
                .next()
                .unwrap_or("")
                .trim_end_matches('/'),
            eventual,
        };
        let stamp = Stamp::now();
        let salt = replica::request_salt(
            self.shared.options.seed,
            self.shared.requests.fetch_add(1, Ordering::Relaxed),
        );
        fn view_of(t: &Tenant, at: Instant, salt: u64) -> View<'_> {
            View::new(t, at, salt)
        }
        let view = |t| view_of(t, stamp.at, salt);
        match r {
            Route::Skus => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, groups::list_skus(&t, q, &call.base)?))
            }
            Route::Organization => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, groups::organization(&t, q, &call.base)?))
            }
            Route::Sku(id) => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, groups::get_sku(&t, id, q, &call.base)?))
            }
            Route::Users => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, users::list(&view(&t), q, &ctx)?))
            }
            Route::User(key) if call.method == Method::PATCH => {
                let mut t = lock(&self.shared.tenant);
                users::patch(&mut t, key, call.body.as_ref(), &stamp)?;
                Ok(Reply {
                    status: 204,
                    headers: Vec::new(),
                    body: None,
                    drop: false,
                })
            }
            Route::User(key) => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, users::get(&view(&t), key, q, &call.base)?))
            }
            Route::UserAssign(key) => {
                let req = assign::parse_request(call.body.as_ref())?;
                let mut t = lock(&self.shared.tenant);
                let u = t.user(key).ok_or_else(|| GraphError::not_found(key))?;
                let visible = view(&t).user(u).usage_location.clone();
                assign::assign_user(&mut t, u, &req, visible.as_deref(), &stamp)?;
                Ok(Reply::json(200, users::assign_response(&t, u, &call.base)))
            }
            Route::Groups => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, groups::list(&view(&t), q, &ctx)?))
            }
            Route::Group(key) => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(
                    200,
                    groups::get(&view(&t), key, q, &call.base)?,
                ))
            }
            Route::GroupMembers(key) => {
                let t = lock(&self.shared.tenant);
                let path = format!("/groups/{key}/members");
                let ctx = users::ListCtx { path: &path, ..ctx };
                Ok(Reply::json(200, groups::members(&view(&t), key, q, &ctx)?))
            }
            Route::GroupAssign(key) => {
                let req = assign::parse_request(call.body.as_ref())?;
                let mut t = lock(&self.shared.tenant);
                let g = t.group(key).ok_or_else(|| GraphError::not_found(key))?;
                assign::assign_group(&mut t, g, &req, &stamp)?;
                let delay = self.shared.options.group_processing;
                if delay.is_zero() {
                    assign::process_group(&mut t, g, &stamp);
                } else {
                    let emu = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay / 2).await;
                        assign::set_processing_state(
                            &mut lock(&emu.shared.tenant),
                            g,
                            "ProcessingInProgress",
                            &Stamp::now(),
                        );
                        tokio::time::sleep(delay - delay / 2).await;
                        assign::process_group(&mut lock(&emu.shared.tenant), g, &Stamp::now());
                    });
                }
                let body = groups::assign_response(&t, g, &call.base);
                let location = format!(
                    "{}/v2/{}/directoryObjects/{}/Microsoft.DirectoryServices.Group",
                    call.base, t.tenant_id, t.groups[g].id
                );
                Ok(Reply {
                    status: 202,
                    headers: vec![("Location".to_owned(), location)],
                    body: Some(body),
                    drop: false,
                })
            }
            Route::Batch => Err(GraphError::bad_request("nested $batch")),
        }
    }
}

fn format_secs(secs: f64) -> String {
    throttle::retry_after_value(Duration::from_secs_f64(secs.max(0.0)))
}

/// Builds the router for `snapshot` (usable in-process, e.g. from tests).
pub fn router(
    snapshot: TenantSnapshot,
    options: EmulatorOptions,
) -> Result<(Router, Emulator), EmulatorError> {
    let emu = Emulator::new(snapshot, options)?;
    Ok((emu.router(), emu))
}

/// A started emulator.
pub struct Running {
    /// The base URL, e.g. `http://127.0.0.1:41234`; Graph lives under `{url}/v1.0`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The emulator's state (snapshot, stats).
    pub emulator: Emulator,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server stops (it runs until the process ends or is aborted).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }

    /// Stops the server.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `listen` (port 0 picks a free port) and serves `snapshot` in a background task.
pub async fn serve(
    snapshot: TenantSnapshot,
    options: EmulatorOptions,
    listen: &str,
) -> Result<Running, EmulatorError> {
    let emulator = Emulator::new(snapshot, options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    let app = emulator.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        url: format!("http://{addr}"),
        addr,
        emulator,
        task,
    })
}

#[derive(Debug, Clone)]
struct RequestId(String);

async fn request_id_layer(mut req: Request, next: Next) -> Response {
    let id = new_request_id();
    let client = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("request-id", v);
    }
    if let Some(c) = client.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert("client-request-id", c);
    }
    resp
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn reply_into_response(reply: Reply) -> Response {
    if reply.drop {
        // A body that fails at once makes hyper abort the connection: the client sees
        // the connection closed before a complete response.
        let stream = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "injected dropped connection",
            ))
        });
        return Response::new(Body::from_stream(stream));
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match reply.body {
        Some(body) => {
            let mut r = Response::new(Body::from(body.to_string()));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
                ),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *resp.status_mut() = status;
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}

async fn graph_handler(
    State(emu): State<Emulator>,
    axum::Extension(rid): axum::Extension<RequestId>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_owned();
    let header_list: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let mut call = Call {
        method,
        path,
        query: uri.query().unwrap_or("").to_owned(),
        headers: header_list,
        body: None,
        base: base_url(&headers),
        request_id: rid.0,
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if !body.is_empty() {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => call.body = Some(v),
            Err(_) => {
                let e = GraphError::new(
                    400,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                );
                return reply_into_response(Reply::error(&e, &call));
            }
        }
    }
    reply_into_response(emu.execute(call).await)
}

async fn fallback_handler(
    axum::Extension(rid): axum::Extension<RequestId>,
    uri: axum::http::Uri,
) -> Response {
    let first = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_owned();
    let e = GraphError::new(400, "BadRequest", format!("Invalid version: {first}"));
    let body = e.body(&clock::graph_date(clock::unix_now()), &rid.0, None);
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

async fn token_handler(
    State(emu): State<Emulator>,
    axum::Extension(rid): axum::Extension<RequestId>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&emu.shared.stats).token_requests += 1;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let basic = auth::basic_credentials(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let now = clock::unix_now();
    match emu.shared.authority.token(&tenant, &fields, basic, now) {
        Ok(token) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store, no-cache")],
            axum::Json(json!({
                "token_type": "Bearer",
                "expires_in": emu.shared.authority.lifetime_secs(),
                "ext_expires_in": emu.shared.authority.lifetime_secs(),
                "access_token": token,
            })),
        )
            .into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = e.body(&clock::aad_timestamp(now), &rid.0, &new_request_id());
            (status, axum::Json(body)).into_response()
        }
    }
}

async fn snapshot_handler(State(emu): State<Emulator>) -> Response {
    let snap = emu.snapshot();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        snap.to_json_pretty(),
    )
        .into_response()
}

async fn stats_handler(State(emu): State<Emulator>) -> Response {
    axum::Json(emu.stats()).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct HistoryQuery {
    user: Option<String>,
}

async fn history_handler(
    State(emu): State<Emulator>,
    axum::extract::Query(q): axum::extract::Query<HistoryQuery>,
) -> Response {
    let t = lock(&emu.shared.tenant);
    let only = match q.user.as_deref() {
        None => None,
        Some(key) => match t.user(key) {
            Some(u) => Some(u),
            None => {
                let e = GraphError::not_found(key);
                let body = e.body(&clock::graph_date(clock::unix_now()), "", None);
                return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
            }
        },
    };
    axum::Json(t.license_history(only)).into_response()
}

async fn reset_handler(State(emu): State<Emulator>) -> Response {
    emu.reset_stats();
    StatusCode::NO_CONTENT.into_response()
}
