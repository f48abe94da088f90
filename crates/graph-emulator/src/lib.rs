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

mod assign;
mod audit;
pub mod auth;
mod batch;
mod clock;
mod directory;
mod error;
pub mod faults;
pub mod generate;
mod groups;
pub mod history;
pub mod permissions;
pub mod plans;
mod query;
mod replica;
mod routes;
mod server;
mod state;
pub mod stats;
pub mod throttle;
mod users;

use std::collections::BTreeMap;
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
pub use error::EmulatorError;
use error::GraphError;
pub use faults::FaultSpec;
pub use history::{HistoryEntry, Interruption, LicenseHistory, UserLicenseHistory};
pub use server::{Running, serve};
pub use throttle::ThrottleOptions;

use auth::{Authority, Claims};
use clock::Stamp;
use faults::{Fault, Faults};
use query::Query;
use replica::{Replication, View};
use routes::{Route, route};
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
    /// Let assignments take units of a subscription in its grace period
    /// (`prepaidUnits.warning`); default false: only `enabled − consumed` seats are
    /// assignable, the fail-safe reading of the sources.
    pub grace_units_assignable: bool,
    /// Accept a `X.ReadWrite.All` permission wherever the reference lists `X.Read.All`
    /// (default false: only what the reference tables list, the fail-safe reading).
    pub read_write_implies_read: bool,
    /// Whether the tenant has Microsoft Entra ID P1 or P2 (needed for `signInActivity`);
    /// `None` derives it from the SKUs: an enabled SKU carrying `AAD_PREMIUM` or
    /// `AAD_PREMIUM_P2`.
    pub premium: Option<bool>,
    /// The password with which every enabled user signs in (resource-owner password
    /// grant, for delegated tokens).
    pub user_password: String,
    /// Directory roles of users who sign in: user (UPN or object id) → role names or
    /// template ids ([`permissions::DIRECTORY_ROLES`]); delegated calls need them for
    /// writes (e.g. License Administrator for `assignLicense`).
    pub directory_roles: BTreeMap<String, Vec<String>>,
    /// Bind addresses other than loopback (the emulator-only endpoints answer without a
    /// token); default false.
    pub allow_remote: bool,
    /// A connection that has not sent a request's complete headers within this time is
    /// closed (slowloris); default 10 s.
    pub header_read_timeout: Duration,
    /// Larger request bodies are answered 413 (Graph: 4 MB); default 4 MiB.
    pub max_request_bytes: usize,
    /// Lifetime of issued access tokens (Azure AD: about an hour). Graph calls with an
    /// expired token answer 401 `InvalidAuthenticationToken`. Whole seconds, at least one.
    pub token_lifetime: Duration,
    /// Sort users by `userPrincipalName` (default true, as Graph documents); false
    /// refuses `$orderby` with 400 `Request_UnsupportedQuery`, for testing a client
    /// against a Graph that would not.
    pub upn_order: bool,
    /// What `ge`/`le` on strings do in user filters (default: applied, as Graph
    /// documents); refused or silently ignored, for testing a client against a Graph
    /// that would not apply them.
    pub string_ranges: RangeFilters,
}

/// What the emulator does with `ge`/`le` clauses on strings in a user filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RangeFilters {
    /// Applied, as Graph documents.
    #[default]
    Applied,
    /// Refused: 400 `Request_UnsupportedQuery`.
    Refused,
    /// Dropped from the filter without a word: the rest of the filter still applies.
    Ignored,
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
            grace_units_assignable: false,
            read_write_implies_read: false,
            premium: None,
            user_password: auth::DEFAULT_USER_PASSWORD.to_owned(),
            directory_roles: BTreeMap::new(),
            allow_remote: false,
            header_read_timeout: Duration::from_secs(10),
            max_request_bytes: 4 * 1024 * 1024,
            group_processing: Duration::ZERO,
            token_lifetime: Duration::from_secs(auth::TOKEN_LIFETIME_SECS as u64),
            upn_order: true,
            string_ranges: RangeFilters::Applied,
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
    /// The tenant has Microsoft Entra ID P1/P2.
    premium: bool,
}

/// Service plans that make a tenant "premium" (Microsoft Entra ID P1 and P2).
const PREMIUM_PLANS: &[&str] = &[
    "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
    "eec0eb4f-6444-4f95-aba0-50c24d67f998",
];

fn has_premium(t: &Tenant) -> bool {
    t.skus.iter().any(|s| {
        s.prepaid_units.enabled > 0
            && s.service_plans
                .iter()
                .any(|p| PREMIUM_PLANS.contains(&p.service_plan_id.to_string().as_str()))
    })
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
        tenant.grace_units_assignable = options.grace_units_assignable;
        let lifetime = i64::try_from(options.token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let authority = Authority::with_sign_in(
            &tenant,
            lifetime,
            &options.user_password,
            &options.directory_roles,
        )?;
        let premium = options.premium.unwrap_or_else(|| has_premium(&tenant));
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
                premium,
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
            .layer(axum::extract::DefaultBodyLimit::disable())
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
        let lenient = self.shared.options.read_write_implies_read;
        if let Err(e) = permissions::authorize(claims, &permissions::rule(r, &call.method), lenient)
        {
            return Reply::error(&e, call);
        }
        let mut extra_headers = Vec::new();
        let verdict = lock(&self.shared.throttle)
            .as_mut()
            .map(|t| t.check(&claims.appid, ru, write, Instant::now()));
        let refusal = self
            .shared
            .options
            .throttle
            .as_ref()
            .map(|t| t.refusal)
            .unwrap_or_default();
        match verdict {
            Some(Verdict::Deny {
                retry_after,
                seconds,
                information,
                kind,
                scope,
            }) => {
                let tid = lock(&self.shared.tenant).tenant_id.to_string();
                let headers = vec![
                    (
                        "x-ms-throttle-scope".to_owned(),
                        format!("{scope}/{kind}/{}/{tid}", claims.appid),
                    ),
                    (
                        "x-ms-throttle-information".to_owned(),
                        information.to_owned(),
                    ),
                ];
                return match refusal {
                    throttle::Refusal::TooManyRequests => {
                        self.throttled(call, &retry_after, headers)
                    }
                    throttle::Refusal::ThrottledTemporarily => {
                        let mut reply =
                            Reply::error(&GraphError::throttled_temporarily(seconds), call);
                        reply.headers.push(("Retry-After".to_owned(), retry_after));
                        reply.headers.extend(headers);
                        lock(&self.shared.stats).throttled += 1;
                        reply
                    }
                };
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
                return self.throttled(call, &throttle::fault_retry_after(retry), Vec::new());
            }
            Fault::Load => {
                // "It is possible to receive 429 Too Many Requests responses even when the
                // following limits are not reached" (throttling-limits page).
                lock(&self.shared.stats).faults += 1;
                let tid = lock(&self.shared.tenant).tenant_id.to_string();
                let kind = if write { "ReadWrite" } else { "Read" };
                return self.throttled(
                    call,
                    &throttle::fault_retry_after(retry),
                    vec![
                        (
                            "x-ms-throttle-scope".to_owned(),
                            format!("Tenant_Application/{kind}/{}/{tid}", claims.appid),
                        ),
                        (
                            "x-ms-throttle-information".to_owned(),
                            "CPULimitExceeded".to_owned(),
                        ),
                    ],
                );
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
                    .push(("Retry-After".to_owned(), throttle::fault_retry_after(retry)));
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
        // A top-level read waits out its latency after it is answered (`graph_handler`):
        // its own work counts toward the service time, as a service's does. Writes and
        // `$batch` items wait first, so that a write takes effect no earlier than before.
        let top_level_read = call.method == Method::GET && !in_batch;
        if !self.shared.options.latency.is_zero() && !top_level_read {
            tokio::time::sleep(self.shared.options.latency).await;
        }
        let mut reply = match self.handle(call, r, q, claims) {
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
    fn handle(
        &self,
        call: &Call,
        r: &Route,
        q: &Query,
        claims: &Claims,
    ) -> Result<Reply, GraphError> {
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
            upn_order: self.shared.options.upn_order,
            string_ranges: self.shared.options.string_ranges,
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
        let lenient = self.shared.options.read_write_implies_read;
        if users::selects_sign_in_activity(q) && matches!(r, Route::Users | Route::User(_)) {
            if !permissions::reads_sign_in_activity(claims, lenient) {
                return Err(GraphError::forbidden());
            }
            if !self.shared.premium {
                return Err(GraphError::non_premium());
            }
        }
        if matches!(r, Route::Groups | Route::Group(_))
            && groups::reads_licensing(q)
            && !permissions::reads_group_licensing(claims, lenient)
        {
            return Err(GraphError::forbidden());
        }
        match r {
            Route::Skus => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, directory::list_skus(&t, q, &call.base)?))
            }
            Route::Organization => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(
                    200,
                    directory::organization(&t, q, &call.base)?,
                ))
            }
            Route::Sku(id) => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(200, directory::get_sku(&t, id, q, &call.base)?))
            }
            Route::Subscriptions => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(
                    200,
                    directory::list_subscriptions(&t, q, &call.base)?,
                ))
            }
            Route::Subscription(id) => {
                let t = lock(&self.shared.tenant);
                Ok(Reply::json(
                    200,
                    directory::get_subscription(&t, id, q, &call.base)?,
                ))
            }
            Route::Users => {
                let t = lock(&self.shared.tenant);
                if self.is_guest(&t, claims) {
                    // "Guest users cannot call this API" (https://learn.microsoft.com/en-us/graph/api/user-list).
                    return Err(GraphError::forbidden());
                }
                Ok(Reply::json(200, users::list(&view(&t), q, &ctx)?))
            }
            Route::User(key) if call.method == Method::PATCH => {
                let mut t = lock(&self.shared.tenant);
                let u = t.user(key);
                let enabled_before = u.and_then(|u| t.users[u].account_enabled);
                users::patch(&mut t, key, call.body.as_ref(), &stamp)?;
                // A change of `accountEnabled` is logged as Entra logs it.
                if let Some(u) = u
                    && let Some(enabled) = t.users[u].account_enabled
                    && enabled_before != Some(enabled)
                {
                    let entry = audit::account_entry(
                        &t.users[u],
                        enabled,
                        stamp.unix_ms,
                        self.initiator(&t, claims),
                    );
                    t.audits.push(entry);
                }
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
            Route::UserReprocess(key) => {
                let mut t = lock(&self.shared.tenant);
                let u = t.user(key).ok_or_else(|| GraphError::not_found(key))?;
                assign::reprocess_user(&mut t, u, &stamp)?;
                Ok(Reply::json(200, users::assign_response(&t, u, &call.base)))
            }
            Route::GroupMembersWithErrors(key) => {
                let t = lock(&self.shared.tenant);
                let path = format!("/groups/{key}/membersWithLicenseErrors");
                let ctx = users::ListCtx { path: &path, ..ctx };
                let full = permissions::reads_users(claims, lenient);
                Ok(Reply::json(
                    200,
                    groups::members(
                        &view(&t),
                        key,
                        q,
                        &ctx,
                        groups::Members::WithLicenseErrors,
                        full,
                    )?,
                ))
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
                let full = permissions::reads_users(claims, lenient);
                Ok(Reply::json(
                    200,
                    groups::members(&view(&t), key, q, &ctx, groups::Members::All, full)?,
                ))
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
            Route::DirectoryAudits | Route::DirectoryAudit(_) => {
                if !permissions::reads_audit_log(claims, lenient) {
                    return Err(GraphError::forbidden());
                }
                let t = lock(&self.shared.tenant);
                let retention = audit::retention_days(self.shared.premium);
                match r {
                    Route::DirectoryAudit(id) => Ok(Reply::json(
                        200,
                        audit::get(&t, id, q, &call.base, stamp.unix_ms, retention)?,
                    )),
                    _ => Ok(Reply::json(
                        200,
                        audit::list(&t, q, &ctx, stamp.unix_ms, retention)?,
                    )),
                }
            }
            Route::Batch => Err(GraphError::bad_request("nested $batch")),
        }
    }

    /// Graph's `initiatedBy` for a write made with `claims`: the signed-in user of a
    /// delegated token, else the app.
    fn initiator(&self, t: &Tenant, claims: &Claims) -> Value {
        let user = claims.oid.as_deref().and_then(|oid| t.user(oid));
        match (claims.scp.is_some(), user) {
            (true, Some(u)) => json!({
                "app": null,
                "user": {
                    "id": t.users[u].id.to_string(),
                    "displayName": t.users[u].display_name,
                    "userPrincipalName": t.users[u].user_principal_name,
                    "ipAddress": "127.0.0.1",
                },
            }),
            _ => json!({
                "app": {
                    "appId": claims.appid,
                    "displayName": null,
                    "servicePrincipalId": null,
                    "servicePrincipalName": null,
                },
                "user": null,
            }),
        }
    }
}

impl Emulator {
    /// True when `claims` are a delegated token of a guest user.
    fn is_guest(&self, t: &Tenant, claims: &Claims) -> bool {
        claims.scp.is_some()
            && claims
                .oid
                .as_deref()
                .and_then(|oid| t.user(oid))
                .is_some_and(|u| {
                    t.users[u]
                        .attributes
                        .user_type
                        .as_deref()
                        .is_some_and(|ty| ty.eq_ignore_ascii_case("Guest"))
                })
    }

    fn sign_in_user(t: &Tenant, key: &str) -> Option<auth::SignInUser> {
        t.user(key).map(|u| auth::SignInUser {
            id: t.users[u].id.to_string(),
            upn: t.users[u].user_principal_name.clone(),
            enabled: t.users[u].account_enabled != Some(false),
        })
    }

    /// A delegated access token for `user` (UPN or object id) as the Azure CLI gets it:
    /// client [`auth::AZURE_CLI_CLIENT_ID`], `scp` [`auth::AZURE_CLI_SCOPES`] (or `scp`),
    /// the user's directory roles from [`EmulatorOptions::directory_roles`]. No password:
    /// for tests that stand in for `az`.
    pub fn user_token(&self, user: &str, scp: Option<&str>) -> Result<String, EmulatorError> {
        let t = lock(&self.shared.tenant);
        let who = Self::sign_in_user(&t, user)
            .ok_or_else(|| EmulatorError::Option(format!("no user '{user}' in the tenant")))?;
        Ok(self.shared.authority.user_token(
            &who,
            auth::AZURE_CLI_CLIENT_ID,
            scp.unwrap_or(auth::AZURE_CLI_SCOPES),
            clock::unix_now(),
        ))
    }

    /// What `az account get-access-token -o json` prints for `user`: `accessToken`,
    /// `expiresOn` (local time text), `expires_on` (Unix seconds), `subscription`,
    /// `tenant`, `tokenType`. A stand-in `az` script that prints it lets licensectl's
    /// Azure CLI credential reach the emulator.
    pub fn azure_cli_token_json(&self, user: &str) -> Result<String, EmulatorError> {
        let token = self.user_token(user, None)?;
        let now = clock::unix_now();
        let expires = now + self.shared.authority.lifetime_secs();
        let tenant = lock(&self.shared.tenant).tenant_id.to_string();
        Ok(json!({
            "accessToken": token,
            "expiresOn": clock::aad_timestamp(expires).trim_end_matches('Z'),
            "expires_on": expires,
            "subscription": "",
            "tenant": tenant,
            "tokenType": "Bearer",
        })
        .to_string())
    }
}

/// Builds the router for `snapshot` (usable in-process, e.g. from tests).
pub fn router(
    snapshot: TenantSnapshot,
    options: EmulatorOptions,
) -> Result<(Router, Emulator), EmulatorError> {
    let emu = Emulator::new(snapshot, options)?;
    Ok((emu.router(), emu))
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
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let body = match read_body(&emu, body, &rid.0).await {
        Ok(body) => body,
        Err(too_large) => return too_large,
    };
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
    let read = call.method == Method::GET;
    let response = reply_into_response(emu.execute(call).await);
    let latency = emu.shared.options.latency;
    if read && !latency.is_zero() {
        // The answer, serialized, goes out no sooner than `latency` after the request
        // arrived (the sleep in `answer` is skipped for top-level reads).
        tokio::time::sleep_until((arrived + latency).into()).await;
    }
    response
}

/// The body, or a Graph-shaped 413 when it is larger than `max_request_bytes` (Graph
/// refuses requests above 4 MB: "there is a 4MB limit on the size of a request",
/// <https://github.com/microsoftgraph/microsoft-graph-docs/issues/85>).
async fn read_body(emu: &Emulator, body: Body, request_id: &str) -> Result<Bytes, Response> {
    let limit = emu.shared.options.max_request_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        let e = GraphError::new(
            413,
            "RequestEntityTooLarge",
            format!("The request is larger than the maximum of {limit} bytes."),
        );
        let body = e.body(&clock::graph_date(clock::unix_now()), request_id, None);
        (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
    })
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
    body: Body,
) -> Response {
    lock(&emu.shared.stats).token_requests += 1;
    let body = match read_body(&emu, body, &rid.0).await {
        Ok(body) => body,
        Err(too_large) => return too_large,
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let basic = auth::basic_credentials(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let now = clock::unix_now();
    let users = |key: &str| Emulator::sign_in_user(&lock(&emu.shared.tenant), key);
    match emu
        .shared
        .authority
        .token(&tenant, &fields, basic, now, &users)
    {
        Ok((token, scope)) => {
            let mut body = json!({
                "token_type": "Bearer",
                "expires_in": emu.shared.authority.lifetime_secs(),
                "ext_expires_in": emu.shared.authority.lifetime_secs(),
                "access_token": token,
            });
            if let (Some(scope), Value::Object(map)) = (scope, &mut body) {
                map.insert("scope".to_owned(), Value::String(scope));
            }
            (
                StatusCode::OK,
                [(header::CACHE_CONTROL, "no-store, no-cache")],
                axum::Json(body),
            )
                .into_response()
        }
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
