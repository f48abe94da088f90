//! The Graph HTTP client: authenticated requests with retries, concurrency control,
//! paging and `$batch`.
//!
//! Every request goes through [`GraphClient::send`]: it takes a slot from the
//! [`AdaptiveLimiter`], attaches a (cached) bearer token, and retries per the
//! [`RetryPolicy`]. Typed helpers (`subscribedSkus`, users, groups, members) ask for only
//! the fields licensectl needs (`$select`) in pages of 999 (`$top`) and follow
//! `@odata.nextLink` (only within the Graph root: the token is never sent elsewhere).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::TokenSource;
use crate::snapshot::{Group, SubscribedSku, User};

use super::error::{ApiError, GraphError};
use super::retry::{AdaptiveLimiter, Decision, Failure, RetryPolicy, parse_retry_after};

/// Fields of `subscribedSku` licensectl reads.
pub(crate) const SKU_SELECT: &str = "id,accountId,accountName,appliesTo,capabilityStatus,consumedUnits,prepaidUnits,servicePlans,skuId,skuPartNumber,subscriptionIds";
/// Fields of `user` licensectl reads.
pub(crate) const USER_SELECT: &str = "id,userPrincipalName,displayName,accountEnabled,usageLocation,assignedLicenses,licenseAssignmentStates";
/// Fields of `group` licensectl reads.
pub(crate) const GROUP_SELECT: &str =
    "id,displayName,mailNickname,securityEnabled,assignedLicenses,licenseProcessingState";
/// Largest page Graph serves for users, groups and members.
pub const PAGE_SIZE: u32 = 999;
/// Most requests in one `$batch`.
pub const BATCH_MAX: usize = 20;

/// Counters of what a client did, for progress and benchmarks.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// HTTP requests sent (a `$batch` counts once).
    pub requests: AtomicU64,
    /// Requests inside `$batch` bodies.
    pub batch_items: AtomicU64,
    /// Retries (of whole requests and of batch items).
    pub retries: AtomicU64,
    /// 429 answers seen (whole requests and batch items).
    pub throttled: AtomicU64,
    /// Resource units Graph reported charging (`x-ms-resource-unit`).
    pub resource_units: AtomicU64,
}

impl ClientStats {
    /// Adds `by` to a counter.
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Largest response body read by default, in bytes: 64 MiB (a page of 999 users with
/// every attribute is a few MiB).
pub const MAX_RESPONSE_BYTES: u64 = 64 << 20;

/// Most pages one collection may have when Graph gives no `@odata.count`: 100,000 pages
/// of 999 are 100 million objects, far above any tenant.
pub const MAX_PAGES: u64 = 100_000;

/// Client tuning.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// Retry limits.
    pub retry: RetryPolicy,
    /// Most requests in flight at once.
    pub max_concurrency: usize,
    /// Largest response body read, in bytes ([`MAX_RESPONSE_BYTES`] by default): a larger
    /// answer is refused as soon as it passes the limit, never held whole.
    pub max_response_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            max_concurrency: 8,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The `request-id` header.
    pub request_id: Option<String>,
    /// The body.
    pub body: bytes::Bytes,
}

/// A Graph client bound to one Graph root and one credential.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    tokens: Arc<TokenSource>,
    policy: RetryPolicy,
    limiter: Arc<AdaptiveLimiter>,
    stats: Arc<ClientStats>,
    max_response_bytes: u64,
}

/// One page of a collection.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    /// The items.
    pub value: Vec<T>,
    /// The next page, absent on the last.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// `@odata.count`: on the first page of a `$count=true` advanced query.
    #[serde(rename = "@odata.count", default)]
    pub count: Option<u64>,
}

/// What paging needs of a page, scanned without decoding its items.
#[derive(Debug, Deserialize)]
struct PageHead {
    /// The number of items.
    value: ItemCount,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.count", default)]
    count: Option<u64>,
}

/// A page's items alone.
#[derive(Debug, Deserialize)]
struct ValueOnly<T> {
    value: Vec<T>,
}

/// The length of a JSON array, its elements skipped.
#[derive(Debug)]
struct ItemCount(usize);

impl<'de> Deserialize<'de> for ItemCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> serde::de::Visitor<'de> for Counter {
            type Value = ItemCount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ItemCount, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ItemCount(n))
            }
        }
        deserializer.deserialize_seq(Counter)
    }
}

/// A member of a group as `GET /groups/{id}/members?$select=id` returns it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DirectoryObject {
    /// Object id.
    pub id: String,
    /// `#microsoft.graph.user`, `#microsoft.graph.group`, ...
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
}

/// One request inside a `$batch`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRequest {
    /// Unique id within the batch.
    pub id: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Relative URL, e.g. `/users/alice@contoso.com?$select=id`.
    pub url: String,
    /// Headers (needed with a body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// JSON body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// One answer inside a `$batch` response.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchResponse {
    /// The request's id.
    pub id: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its headers.
    #[serde(default)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// Its body.
    #[serde(default)]
    pub body: serde_json::Value,
}

impl BatchResponse {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header of the item's answer, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    /// The item's error, decoded (for a non-2xx item).
    pub fn error(&self) -> ApiError {
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        ApiError::from_response(self.status, self.header("request-id"), &body)
    }
}

#[derive(Serialize)]
struct BatchBody<'a> {
    requests: &'a [BatchRequest],
}

#[derive(Deserialize)]
struct BatchResponseBody {
    responses: Vec<BatchResponse>,
}

fn path_of(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

impl GraphClient {
    /// A client for the Graph root whose v1.0 base is `base` (ending in `/v1.0/`).
    pub fn new(
        http: reqwest::Client,
        base: Url,
        tokens: TokenSource,
        options: ClientOptions,
    ) -> Self {
        let max = options.max_concurrency.max(1);
        Self {
            http,
            base,
            tokens: Arc::new(tokens),
            policy: options.retry,
            limiter: AdaptiveLimiter::new(max, max),
            stats: Arc::new(ClientStats::default()),
            max_response_bytes: options.max_response_bytes.max(1),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The concurrency limiter.
    pub fn limiter(&self) -> &AdaptiveLimiter {
        &self.limiter
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The token source.
    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    /// The URL of a path relative to the v1.0 base, e.g. `users?$top=999`.
    pub fn url(&self, relative: &str) -> Result<Url, GraphError> {
        self.base
            .join(relative.trim_start_matches('/'))
            .map_err(|source| GraphError::InvalidPath {
                path: relative.to_owned(),
                source,
            })
    }

    fn check_same_origin(&self, url: &Url) -> Result<(), GraphError> {
        if url.origin() == self.base.origin() && url.path().starts_with(self.base.path()) {
            Ok(())
        } else {
            let mut shown = url.clone();
            shown.set_query(None);
            Err(GraphError::ForeignLink {
                link: shown.to_string(),
            })
        }
    }

    /// Sends one request with retries; returns the 2xx response or the final error.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, GraphError> {
        self.check_same_origin(&url)?;
        let path = path_of(&url);
        let start = Instant::now();
        let mut rng = StdRng::from_os_rng();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let remaining = self.policy.deadline.saturating_sub(start.elapsed());
            let outcome =
                tokio::time::timeout(remaining, self.attempt(&method, &url, headers, body)).await;
            let (failure, last) = match outcome {
                Err(_) => {
                    return Err(GraphError::Deadline {
                        method: method.to_string(),
                        path,
                        elapsed: start.elapsed(),
                        deadline: self.policy.deadline,
                        attempts: attempt,
                        last_answer: None,
                        source: None,
                    });
                }
                Ok(Attempt::Auth(e)) => return Err(GraphError::Auth(e)),
                Ok(Attempt::Done(resp)) => return Ok(resp),
                Ok(Attempt::TooLarge) => {
                    return Err(GraphError::BodyTooLarge {
                        method: method.to_string(),
                        path,
                        limit: self.max_response_bytes,
                    });
                }
                // Graph refused the token (revoked, or replaced on its side before its
                // expiry): once per request, fetch a fresh one and try again at once.
                Ok(Attempt::Refused(error, token)) => {
                    if refreshed {
                        return Err(GraphError::TokenRejected {
                            method: method.to_string(),
                            path,
                            error: Box::new(error),
                        });
                    }
                    refreshed = true;
                    tracing::debug!(method = %method, path = %path, "graph refused the access token; fetching a fresh one");
                    self.tokens
                        .refused(&token)
                        .await
                        .map_err(GraphError::Auth)?;
                    continue;
                }
                Ok(Attempt::Status(error, retry_after)) => (
                    Failure::Status(error.status, retry_after),
                    LastFailure::Api(error),
                ),
                Ok(Attempt::Connection(error)) => {
                    (Failure::Connection, LastFailure::Transport(error))
                }
            };
            match self
                .policy
                .decide(attempt, failure, start.elapsed(), &mut rng)
            {
                Decision::RetryAfter(wait) => {
                    ClientStats::bump(&self.stats.retries, 1);
                    tracing::debug!(
                        method = %method, path = %path, attempt, wait_ms = wait.as_millis() as u64,
                        failure = %last, "retrying graph request"
                    );
                    tokio::time::sleep(wait).await;
                }
                Decision::GiveUp => return Err(last.into_error(&method, path, attempt)),
                Decision::Exhausted => {
                    if attempt < self.policy.max_attempts {
                        let (last_answer, source) = match last {
                            LastFailure::Api(error) => (Some(Box::new(error)), None),
                            LastFailure::Transport(error) => (None, Some(error)),
                        };
                        return Err(GraphError::Deadline {
                            method: method.to_string(),
                            path,
                            elapsed: start.elapsed(),
                            deadline: self.policy.deadline,
                            attempts: attempt,
                            last_answer,
                            source,
                        });
                    }
                    return Err(last.into_error(&method, path, attempt));
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Attempt {
        // The slot first, then the token: a caller may wait long for a slot (throttling,
        // a full limiter), and the token must be fresh when the request leaves.
        let _permit = self.limiter.acquire().await;
        let token = match self.tokens.token().await {
            Ok(t) => t,
            Err(e) => return Attempt::Auth(e),
        };
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.token.secret());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        ClientStats::bump(&self.stats.requests, 1);
        let sent = Instant::now();
        let rsp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Connection(e.without_url()),
        };
        let status = rsp.status().as_u16();
        let header = |name: &str| {
            rsp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("request-id");
        let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
        if let Some(ru) = header("x-ms-resource-unit").and_then(|v| v.trim().parse::<u64>().ok()) {
            ClientStats::bump(&self.stats.resource_units, ru);
        }
        let bytes = match read_capped(rsp, self.max_response_bytes).await {
            Ok(Some(b)) => b,
            Ok(None) => return Attempt::TooLarge,
            Err(e) => return Attempt::Connection(e.without_url()),
        };
        if status == 401 {
            return Attempt::Refused(
                ApiError::from_response(status, request_id.as_deref(), &bytes),
                token,
            );
        }
        if (200..300).contains(&status) {
            self.limiter.on_success();
            return Attempt::Done(Response {
                status,
                request_id,
                body: bytes,
            });
        }
        if status == 429 {
            ClientStats::bump(&self.stats.throttled, 1);
            self.limiter.on_throttled(retry_after, sent, Instant::now());
        }
        Attempt::Status(
            ApiError::from_response(status, request_id.as_deref(), &bytes),
            retry_after,
        )
    }

    /// GETs and decodes one JSON document.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        let resp = self.send(Method::GET, url.clone(), headers, None).await?;
        decode(&Method::GET, &url, &resp)
    }

    /// Follows `@odata.nextLink` from `first`, calling `on_page` with each page's items;
    /// bounded by [`Paging`].
    pub async fn for_each_page<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Url,
        headers: &[(&str, &str)],
        on_page: impl FnMut(Vec<T>),
    ) -> Result<(), GraphError> {
        let paging = Paging::new(&first);
        self.continue_pages(Some(first), paging, headers, on_page)
            .await
    }

    /// Follows `@odata.nextLink` from `next` (a page of the collection `paging` has
    /// followed so far), calling `on_page` with each page's items.
    ///
    /// Each page is scanned first for its link, count and number of items ([`PageHead`]);
    /// the next page is requested while this one's items are decoded on a blocking
    /// thread, so that decoding does not lengthen the chain of requests.
    pub(crate) async fn continue_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        next: Option<Url>,
        mut paging: Paging,
        headers: &[(&str, &str)],
        mut on_page: impl FnMut(Vec<T>),
    ) -> Result<(), GraphError> {
        let Some(first) = next else {
            return Ok(());
        };
        let mut url = first;
        let mut resp = self.send(Method::GET, url.clone(), headers, None).await?;
        loop {
            let head: PageHead = decode(&Method::GET, &url, &resp)?;
            let next = paging.page(head.value.0, head.count, head.next_link.as_deref())?;
            if let Some(next) = &next {
                self.check_same_origin(next)?;
            }
            let (page_url, page_resp) = (url.clone(), resp);
            let items = async move {
                let decoded = tokio::task::spawn_blocking(move || {
                    decode::<ValueOnly<T>>(&Method::GET, &page_url, &page_resp)
                })
                .await;
                match decoded {
                    Ok(page) => page.map(|p| p.value),
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // The blocking pool is gone only while the runtime shuts down.
                    Err(_) => Err(GraphError::Cancelled {
                        path: path_of(&url),
                    }),
                }
            };
            match next {
                Some(next) => {
                    let (fetched, items) =
                        futures::join!(self.send(Method::GET, next.clone(), headers, None), items);
                    on_page(items?);
                    resp = fetched?;
                    url = next;
                }
                None => {
                    on_page(items.await?);
                    return Ok(());
                }
            }
        }
    }

    /// Collects every page from `first`.
    pub async fn list_all<T: DeserializeOwned + Send + 'static>(
        &self,
        first: Url,
        headers: &[(&str, &str)],
    ) -> Result<Vec<T>, GraphError> {
        let mut all = Vec::new();
        self.for_each_page(first, headers, |items| all.extend(items))
            .await?;
        Ok(all)
    }

    /// `GET /subscribedSkus` with the fields licensectl needs.
    pub async fn subscribed_skus(&self) -> Result<Vec<SubscribedSku>, GraphError> {
        let url = self.url(&format!("subscribedSkus?$select={SKU_SELECT}"))?;
        self.list_all(url, &[]).await
    }

    /// The first page URL of `GET /users` with licensectl's `$select`, `$top=999` and an
    /// optional `$filter`.
    pub fn users_url(&self, filter: Option<&str>) -> Result<Url, GraphError> {
        self.collection_url("users", USER_SELECT, filter)
    }

    fn collection_url(
        &self,
        path: &str,
        select: &str,
        filter: Option<&str>,
    ) -> Result<Url, GraphError> {
        let mut url = self.url(path)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("$select", select);
            q.append_pair("$top", &PAGE_SIZE.to_string());
            if let Some(f) = filter {
                q.append_pair("$filter", f);
            }
        }
        Ok(url)
    }

    /// `GET /users/{id or UPN}` with licensectl's `$select`; `None` on 404.
    pub async fn user(&self, id_or_upn: &str) -> Result<Option<User>, GraphError> {
        let url = self.url(&format!("{}?$select={USER_SELECT}", user_path(id_or_upn)))?;
        not_found_is_none(self.get_json(url, &[]).await)
    }

    /// The first page URL of `GET /groups` with licensectl's `$select` and a `$filter`.
    pub fn groups_url(&self, filter: Option<&str>) -> Result<Url, GraphError> {
        self.collection_url("groups", GROUP_SELECT, filter)
    }

    /// `GET /groups/{id}` with licensectl's `$select`; `None` on 404. Members are not
    /// filled in (see [`Self::group_member_ids`]).
    pub async fn group(&self, id: &str) -> Result<Option<Group>, GraphError> {
        let url = self.url(&format!(
            "groups/{}?$select={GROUP_SELECT}",
            encode_segment(id)
        ))?;
        not_found_is_none(self.get_json(url, &[]).await)
    }

    /// Ids of the direct members of a group that are users, from `GET /groups/{id}/members`.
    pub async fn group_member_ids(&self, id: &str) -> Result<Vec<String>, GraphError> {
        let url = self.url(&format!(
            "groups/{}/members?$select=id&$top={PAGE_SIZE}",
            encode_segment(id)
        ))?;
        let members: Vec<DirectoryObject> = self.list_all(url, &[]).await?;
        Ok(members
            .into_iter()
            .filter(|m| {
                m.odata_type
                    .as_deref()
                    .is_none_or(|t| t == "#microsoft.graph.user")
            })
            .map(|m| m.id)
            .collect())
    }

    /// Sends `requests` as `$batch`es of at most 20, retrying throttled and failed items
    /// (429, 5xx) individually in later batches. Returns one answer per request, in the
    /// order of `requests`; items that still fail are returned with their error status.
    pub async fn batch(&self, requests: &[BatchRequest]) -> Result<Vec<BatchResponse>, GraphError> {
        let mut answers: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        let index: std::collections::HashMap<&str, usize> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let start = Instant::now();
        let mut rng = StdRng::from_os_rng();
        let mut round = 0u32;
        while !pending.is_empty() {
            round += 1;
            let mut retry_next = Vec::new();
            let mut wait = Duration::ZERO;
            // The batches of a round are independent: they go out side by side, within the
            // concurrency limit.
            let sends = pending.chunks(BATCH_MAX).map(|chunk| async move {
                let items: Vec<BatchRequest> = chunk.iter().map(|&i| requests[i].clone()).collect();
                let sent = Instant::now();
                let responses = self.send_batch(&items).await?;
                Ok::<_, GraphError>((sent, responses))
            });
            let rounds: Vec<(Instant, Vec<BatchResponse>)> = futures::stream::iter(sends)
                .buffered(self.limiter.max())
                .try_collect()
                .await?;
            for (sent, responses) in rounds {
                for r in responses {
                    let Some(&i) = index.get(r.id.as_str()) else {
                        return Err(GraphError::BatchMissing { id: r.id });
                    };
                    if !r.is_success() {
                        let retry_after = r.header("retry-after").and_then(parse_retry_after);
                        if r.status == 429 {
                            ClientStats::bump(&self.stats.throttled, 1);
                            self.limiter.on_throttled(retry_after, sent, Instant::now());
                        }
                        if let Decision::RetryAfter(d) = self.policy.decide(
                            round,
                            Failure::Status(r.status, retry_after),
                            start.elapsed(),
                            &mut rng,
                        ) {
                            tracing::debug!(
                                item = %r.id, status = r.status, round, wait_ms = d.as_millis() as u64,
                                "retrying $batch item"
                            );
                            ClientStats::bump(&self.stats.retries, 1);
                            wait = wait.max(d);
                            retry_next.push(i);
                        }
                    }
                    answers[i] = Some(r);
                }
            }
            if !retry_next.is_empty() {
                tokio::time::sleep(wait).await;
            }
            pending = retry_next;
        }
        answers
            .into_iter()
            .zip(requests)
            .map(|(a, r)| a.ok_or_else(|| GraphError::BatchMissing { id: r.id.clone() }))
            .collect()
    }

    /// Sends one `$batch` whose `requests` are `items` (at most 20, in Graph's item shape,
    /// `dependsOn` included) once through [`GraphClient::send`], which retries the whole
    /// request on 429, 5xx and dropped connections. Returns the item answers and the
    /// batch's `request-id`; items are not retried here.
    pub async fn post_batch<T: Serialize>(
        &self,
        items: &[T],
    ) -> Result<(Vec<BatchResponse>, Option<String>), GraphError> {
        let url = self.url("$batch")?;
        let body = serde_json::json!({ "requests": items });
        ClientStats::bump(&self.stats.batch_items, items.len() as u64);
        let resp = self
            .send(Method::POST, url.clone(), &[], Some(&body))
            .await?;
        let parsed: BatchResponseBody = decode(&Method::POST, &url, &resp)?;
        Ok((parsed.responses, resp.request_id))
    }

    async fn send_batch(&self, items: &[BatchRequest]) -> Result<Vec<BatchResponse>, GraphError> {
        let url = self.url("$batch")?;
        let body = serde_json::to_value(BatchBody { requests: items }).unwrap_or_default();
        ClientStats::bump(&self.stats.batch_items, items.len() as u64);
        let resp = self
            .send(Method::POST, url.clone(), &[], Some(&body))
            .await?;
        let parsed: BatchResponseBody = decode(&Method::POST, &url, &resp)?;
        for item in items {
            if !parsed.responses.iter().any(|r| r.id == item.id) {
                return Err(GraphError::BatchMissing {
                    id: item.id.clone(),
                });
            }
        }
        Ok(parsed.responses)
    }
}

/// What following one collection's `@odata.nextLink`s has seen, to stop a server that
/// would page forever: a link back to a page already read is refused, and so are more
/// items than the first page's `@odata.count` allows (with room for objects added while
/// reading, as `ConsistencyLevel: eventual` counts may lag) or more than [`MAX_PAGES`]
/// pages.
#[derive(Debug)]
pub(crate) struct Paging {
    path: String,
    seen: std::collections::HashSet<String>,
    pages: u64,
    items: u64,
    count: Option<u64>,
}

impl Paging {
    /// Paging that starts at `first`.
    pub(crate) fn new(first: &Url) -> Self {
        Self {
            path: path_of(first),
            seen: std::iter::once(first.to_string()).collect(),
            pages: 0,
            items: 0,
            count: None,
        }
    }

    /// Most items a collection of `count` may show: the count, a tenth more, and a page.
    fn item_limit(count: u64) -> u64 {
        count
            .saturating_add(count / 10)
            .saturating_add(u64::from(PAGE_SIZE))
    }

    /// Records a page of `items` items, with its `@odata.count` and `@odata.nextLink`;
    /// the next page's URL, or why paging must stop.
    pub(crate) fn page(
        &mut self,
        items: usize,
        count: Option<u64>,
        next: Option<&str>,
    ) -> Result<Option<Url>, GraphError> {
        self.pages += 1;
        self.items = self.items.saturating_add(items as u64);
        if self.count.is_none() {
            self.count = count;
        }
        if let Some(count) = self.count
            && self.items > Self::item_limit(count)
        {
            return Err(GraphError::TooManyPages {
                path: self.path.clone(),
                what: "items",
                limit: Self::item_limit(count),
                why: "@odata.count, with room for objects added while reading",
            });
        }
        let Some(link) = next else {
            return Ok(None);
        };
        if self.pages >= MAX_PAGES {
            return Err(GraphError::TooManyPages {
                path: self.path.clone(),
                what: "pages",
                limit: MAX_PAGES,
                why: "page limit",
            });
        }
        let url = Url::parse(link).map_err(|_| GraphError::ForeignLink {
            link: link.to_owned(),
        })?;
        if !self.seen.insert(url.to_string()) {
            return Err(GraphError::RepeatedLink {
                path: self.path.clone(),
                pages: self.pages,
            });
        }
        Ok(Some(url))
    }
}

enum Attempt {
    Done(Response),
    Status(ApiError, Option<Duration>),
    Connection(reqwest::Error),
    Auth(crate::auth::AuthError),
    /// 401: Graph refused this token.
    Refused(ApiError, azure_core::credentials::AccessToken),
    /// The body passed the response limit.
    TooLarge,
}

/// The body of `rsp`, read chunk by chunk and stopped as soon as it passes `limit` bytes
/// (`None`); a `Content-Length` above the limit is refused before reading.
async fn read_capped(
    mut rsp: reqwest::Response,
    limit: u64,
) -> Result<Option<bytes::Bytes>, reqwest::Error> {
    if rsp.content_length().is_some_and(|len| len > limit) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = rsp.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

enum LastFailure {
    Api(ApiError),
    Transport(reqwest::Error),
}

impl std::fmt::Display for LastFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastFailure::Api(e) => e.fmt(f),
            LastFailure::Transport(e) => e.fmt(f),
        }
    }
}

impl LastFailure {
    fn into_error(self, method: &Method, path: String, attempts: u32) -> GraphError {
        match self {
            LastFailure::Api(error) => GraphError::Api {
                method: method.to_string(),
                path,
                error: Box::new(error),
            },
            LastFailure::Transport(source) => GraphError::Transport {
                method: method.to_string(),
                path,
                attempts,
                source,
            },
        }
    }
}

fn decode<T: DeserializeOwned>(
    method: &Method,
    url: &Url,
    resp: &Response,
) -> Result<T, GraphError> {
    serde_json::from_slice(&resp.body).map_err(|source| GraphError::Decode {
        method: method.to_string(),
        path: path_of(url),
        request_id: resp.request_id.clone().unwrap_or_else(|| "none".into()),
        source,
    })
}

fn not_found_is_none<T>(r: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(GraphError::Api { error, .. }) if error.status == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Percent-encodes one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `users/{upn}`, or `users('{upn}')` for UPNs starting with `$` (https://learn.microsoft.com/en-us/graph/api/user-get).
pub(crate) fn user_path(id_or_upn: &str) -> String {
    if id_or_upn.starts_with('$') {
        format!(
            "users('{}')",
            encode_segment(&id_or_upn.replace('\'', "''"))
        )
    } else {
        format!("users/{}", encode_segment(id_or_upn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths() {
        assert_eq!(user_path("alice@contoso.com"), "users/alice%40contoso.com");
        assert_eq!(
            user_path("$admin@contoso.com"),
            "users('%24admin%40contoso.com')"
        );
        assert_eq!(user_path("o'brien@x.com"), "users/o%27brien%40x.com");
    }

    #[test]
    fn page_and_batch_shapes_decode() {
        let page: Page<DirectoryObject> = serde_json::from_str(
            r##"{"@odata.context":"x","@odata.nextLink":"https://graph.microsoft.com/v1.0/groups/1/members?$skiptoken=abc","value":[{"@odata.type":"#microsoft.graph.user","id":"1"}]}"##,
        )
        .expect("page");
        assert_eq!(page.value.len(), 1);
        assert!(page.next_link.is_some());
        let b: BatchResponseBody = serde_json::from_str(
            r#"{"responses":[{"id":"1","status":429,"headers":{"Retry-After":"2.5"},"body":{"error":{"code":"TooManyRequests","message":"x","innerError":{"request-id":"r"}}}}]}"#,
        )
        .expect("batch");
        let item = &b.responses[0];
        assert!(!item.is_success());
        assert_eq!(
            item.header("retry-after").and_then(parse_retry_after),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(item.error().request_id.as_deref(), Some("r"));
    }
}
