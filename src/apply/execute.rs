//! Running one phase of writes through Graph `$batch`: up to 20 independent requests per
//! batch; a user's usage location `PATCH` and its `assignLicense` together in one batch
//! of their own, the second with `dependsOn` the first (Graph supports a single serial
//! chain per batch, not several); batches in flight concurrently under the client's
//! adaptive limiter (which halves on whole-request 429s); items retried individually
//! (honouring `Retry-After`); the writes sent per round paced by the rate Graph accepts
//! (see [`Pacer`]), so that a long apply settles at the write budget (429s do not use
//! up `--max-attempts`, the deadline bounds them); and every request and result written
//! to the journal as it happens.
//!
//! A failure that cannot be retried is recorded for its principal and the rest of the
//! phase goes on. Nothing here decides *what* to write: that is the schedule's job.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::GraphClient;
use crate::graph::client::{BATCH_MAX, BatchResponse, ClientStats};
use crate::graph::error::ApiError;
use crate::graph::read::{ReadEvent, ReadProgress};
use crate::graph::retry::{Decision, Failure, parse_retry_after};
use crate::plan::Principal;

use super::ApplyError;
use super::journal::{Entry, Event, Journal};
use super::schedule::{Operation, Phase};

mod pacer;

pub use pacer::Pacer;

/// Most batches built per round and sent concurrently (the client's limiter decides how
/// many are really in flight).
const BATCHES_IN_FLIGHT: usize = 32;

/// Why a unit's writes did not all succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteFailure {
    /// The operation that failed (`assignLicense`, `setUsageLocation`).
    pub operation: &'static str,
    /// HTTP status (0 when the batch carrying it got no answer).
    pub status: u16,
    /// Graph's error code, when it gave one.
    pub code: Option<String>,
    /// Graph's message, or what went wrong on the way.
    pub message: String,
    /// Graph's `request-id`.
    pub request_id: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

/// The outcome of one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Every operation succeeded.
    Applied,
    /// An operation failed for good.
    Failed(WriteFailure),
}

/// Runs phases against one client, journalling everything.
pub struct Executor<'a> {
    /// The Graph client.
    pub client: &'a GraphClient,
    /// Where requests and results are recorded.
    pub journal: &'a Journal,
    /// Progress (one item per finished unit).
    pub progress: &'a dyn ReadProgress,
}

/// A unit in flight.
struct Pending<'p> {
    index: usize,
    principal: &'p Principal,
    operations: &'p [Operation],
    /// Operations before this one are done.
    next: usize,
    attempts: u32,
    /// Attempts answered 429 (they do not count against `--max-attempts`: Graph asks to
    /// wait and retry, and the deadline bounds them).
    throttled: u32,
    started: Option<Instant>,
}

#[derive(Serialize)]
struct Item {
    id: String,
    method: &'static str,
    url: String,
    headers: Value,
    body: Value,
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

/// The JSON body of an operation.
fn body_of(op: &Operation) -> Value {
    match op {
        Operation::SetUsageLocation { usage_location } => {
            json!({ "usageLocation": usage_location })
        }
        Operation::AssignLicense { request } => {
            serde_json::to_value(request).unwrap_or(Value::Null)
        }
    }
}

fn item_for(principal: &Principal, op: &Operation, id: String, depends_on: Vec<String>) -> Item {
    // Groups have no usage location and the planner never asks for one; were it asked,
    // Graph's answer (400) would be recorded like any other failure.
    let (method, url) = match (principal, op) {
        (Principal::User { id: user, .. }, Operation::SetUsageLocation { .. }) => {
            ("PATCH", format!("/users/{user}"))
        }
        (Principal::User { id: user, .. }, Operation::AssignLicense { .. }) => {
            ("POST", format!("/users/{user}/assignLicense"))
        }
        (Principal::Group { id: group, .. }, Operation::AssignLicense { .. }) => {
            ("POST", format!("/groups/{group}/assignLicense"))
        }
        (Principal::Group { id: group, .. }, Operation::SetUsageLocation { .. }) => {
            ("PATCH", format!("/groups/{group}"))
        }
    };
    Item {
        id,
        method,
        url,
        headers: json!({ "Content-Type": "application/json" }),
        body: body_of(op),
        depends_on,
    }
}

/// What became of one item in a round.
enum ItemResult {
    Ok,
    /// Its dependency failed (424): it follows the dependency's fate.
    Dependency,
    Retry(Duration),
    Failed(WriteFailure),
}

impl Executor<'_> {
    fn journal(&self, entry: Entry) -> Result<(), ApplyError> {
        self.journal.record(entry)
    }

    /// Runs `phase`; one outcome per unit, in the phase's order. Errors only when the
    /// journal cannot be written (then nothing more is sent).
    pub async fn run(&self, phase: &Phase) -> Result<Vec<UnitOutcome>, ApplyError> {
        let label = phase.kind.label();
        self.progress.event(ReadEvent::Phase {
            name: phase.kind.progress(),
            total: Some(phase.units.len() as u64),
        });
        self.journal(Entry {
            event: Some(Event::Phase),
            phase: Some(label),
            message: Some(format!("{} principal(s)", phase.units.len())),
            ..Entry::default()
        })?;
        let mut outcomes: Vec<Option<UnitOutcome>> = vec![None; phase.units.len()];
        let mut pending: Vec<Pending<'_>> = phase
            .units
            .iter()
            .enumerate()
            .map(|(index, unit)| Pending {
                index,
                principal: &unit.principal,
                operations: &unit.operations,
                next: 0,
                attempts: 0,
                throttled: 0,
                started: None,
            })
            .collect();
        let policy = *self.client.policy();
        let mut rng = StdRng::from_os_rng();
        let mut pacer = Pacer::new(BATCH_MAX * self.client.limiter().limit().max(1));
        while !pending.is_empty() {
            let wave = pacer.wave();
            let round_started = Instant::now();
            // Graph supports `dependsOn` only as one pattern per batch (all parallel, one
            // serial chain, or all on one request): a usage location PATCH and the
            // assignLicense depending on it travel alone, as one serial chain; single
            // writes are packed twenty to a batch, all parallel.
            let mut batches: Vec<Vec<usize>> = Vec::new();
            let mut current: Vec<usize> = Vec::new();
            let mut items_this_round = 0;
            for (i, p) in pending.iter().enumerate() {
                let n = p.operations.len() - p.next;
                if items_this_round + n > wave && items_this_round > 0 {
                    break;
                }
                items_this_round += n;
                if n > 1 {
                    batches.push(vec![i]);
                    continue;
                }
                current.push(i);
                if current.len() == BATCH_MAX {
                    batches.push(std::mem::take(&mut current));
                }
            }
            if !current.is_empty() {
                batches.push(current);
            }
            // Journal the requests of this round before sending any of them.
            for members in &batches {
                for &pi in members {
                    let p = &mut pending[pi];
                    p.attempts += 1;
                    p.started.get_or_insert_with(Instant::now);
                    for op in &p.operations[p.next..] {
                        self.journal(Entry {
                            event: Some(Event::Request),
                            phase: Some(label),
                            principal: Some(p.principal.clone()),
                            operation: Some(op.name()),
                            attempt: Some(p.attempts),
                            body: Some(body_of(op)),
                            ..Entry::default()
                        })?;
                    }
                }
            }
            let sends = batches.iter().map(|members| {
                let mut items = Vec::new();
                let mut owners: Vec<(usize, usize)> = Vec::new(); // (pending idx, op idx)
                for &pi in members {
                    let p = &pending[pi];
                    let mut previous: Option<String> = None;
                    for op_index in p.next..p.operations.len() {
                        let id = (items.len() + 1).to_string();
                        items.push(item_for(
                            p.principal,
                            &p.operations[op_index],
                            id.clone(),
                            previous.iter().cloned().collect(),
                        ));
                        owners.push((pi, op_index));
                        previous = Some(id);
                    }
                }
                async move {
                    let result = self.client.post_batch(&items).await;
                    (items, owners, result)
                }
            });
            let answers: Vec<_> = stream::iter(sends)
                .buffer_unordered(BATCHES_IN_FLIGHT)
                .collect()
                .await;

            let mut results: HashMap<(usize, usize), (ItemResult, Option<String>, u16)> =
                HashMap::new();
            for (items, owners, result) in answers {
                match result {
                    Err(error) => {
                        // The batch got no usable answer even after the client's retries.
                        for &(pi, op_index) in &owners {
                            let p = &pending[pi];
                            results.insert(
                                (pi, op_index),
                                (
                                    ItemResult::Failed(WriteFailure {
                                        operation: p.operations[op_index].name(),
                                        status: 0,
                                        code: error.code().map(|c| c.as_str().to_owned()),
                                        message: error.to_string(),
                                        request_id: None,
                                        attempts: p.attempts,
                                    }),
                                    None,
                                    0,
                                ),
                            );
                        }
                    }
                    Ok((responses, batch_request_id)) => {
                        let by_id: HashMap<&str, &BatchResponse> =
                            responses.iter().map(|r| (r.id.as_str(), r)).collect();
                        for (item, &(pi, op_index)) in items.iter().zip(&owners) {
                            let p = &pending[pi];
                            let operation = p.operations[op_index].name();
                            let Some(answer) = by_id.get(item.id.as_str()) else {
                                results.insert(
                                    (pi, op_index),
                                    (
                                        ItemResult::Failed(WriteFailure {
                                            operation,
                                            status: 0,
                                            code: None,
                                            message: format!(
                                                "the $batch answer has no response for item {}",
                                                item.id
                                            ),
                                            request_id: batch_request_id.clone(),
                                            attempts: p.attempts,
                                        }),
                                        batch_request_id.clone(),
                                        0,
                                    ),
                                );
                                continue;
                            };
                            let request_id = answer
                                .header("request-id")
                                .map(str::to_owned)
                                .or_else(|| {
                                    (!answer.is_success())
                                        .then(|| answer.error().request_id)
                                        .flatten()
                                })
                                .or_else(|| batch_request_id.clone());
                            let outcome = if answer.is_success() {
                                ItemResult::Ok
                            } else if answer.status == 424 {
                                ItemResult::Dependency
                            } else {
                                let retry_after =
                                    answer.header("retry-after").and_then(parse_retry_after);
                                if answer.status == 429 {
                                    // Item 429s are paced by the round's `Pacer`; halving
                                    // the HTTP concurrency as well would slow the writes
                                    // twice for one signal.
                                    ClientStats::bump(&self.client.stats().throttled, 1);
                                }
                                let elapsed = p.started.map(|s| s.elapsed()).unwrap_or_default();
                                let counted = if answer.status == 429 {
                                    1
                                } else {
                                    p.attempts.saturating_sub(p.throttled).max(1)
                                };
                                match policy.decide(
                                    counted,
                                    Failure::Status(answer.status, retry_after),
                                    elapsed,
                                    &mut rng,
                                ) {
                                    Decision::RetryAfter(wait) => {
                                        ClientStats::bump(&self.client.stats().retries, 1);
                                        ItemResult::Retry(wait)
                                    }
                                    Decision::GiveUp | Decision::Exhausted => {
                                        let error: ApiError = answer.error();
                                        ItemResult::Failed(WriteFailure {
                                            operation,
                                            status: answer.status,
                                            code: Some(error.code.as_str().to_owned()),
                                            message: error.message.clone(),
                                            request_id: request_id.clone(),
                                            attempts: p.attempts,
                                        })
                                    }
                                }
                            };
                            results.insert((pi, op_index), (outcome, request_id, answer.status));
                        }
                    }
                }
            }

            // Settle each unit: done, failed, or pending again from its first unfinished op.
            let mut still: Vec<Pending<'_>> = Vec::new();
            let mut wait = Duration::ZERO;
            let mut throttled_this_round = 0;
            for (pi, mut p) in pending.into_iter().enumerate() {
                let mut verdict: Option<UnitOutcome> = None;
                let mut retry: Option<Duration> = None;
                let first = p.next;
                for op_index in first..p.operations.len() {
                    let Some((result, request_id, status)) = results.remove(&(pi, op_index)) else {
                        continue;
                    };
                    let operation = p.operations[op_index].name();
                    if status == 429 {
                        p.throttled += 1;
                        throttled_this_round += 1;
                    }
                    let (outcome, code, message) = match &result {
                        ItemResult::Ok => ("ok", None, None),
                        ItemResult::Dependency => (
                            "dependency-failed",
                            None,
                            Some("not run: the request it depends on failed".to_owned()),
                        ),
                        ItemResult::Retry(_) => ("retry", None, None),
                        ItemResult::Failed(f) => {
                            ("failed", f.code.clone(), Some(f.message.clone()))
                        }
                    };
                    self.journal(Entry {
                        event: Some(Event::Result),
                        phase: Some(label),
                        principal: Some(p.principal.clone()),
                        operation: Some(operation),
                        attempt: Some(p.attempts),
                        status: Some(status),
                        outcome: Some(outcome),
                        request_id,
                        error_code: code,
                        message,
                        ..Entry::default()
                    })?;
                    if verdict.is_some() || retry.is_some() {
                        continue;
                    }
                    match result {
                        ItemResult::Ok => p.next = op_index + 1,
                        ItemResult::Dependency => {}
                        ItemResult::Retry(d) => retry = Some(d),
                        ItemResult::Failed(f) => verdict = Some(UnitOutcome::Failed(f)),
                    }
                }
                if verdict.is_none() && retry.is_none() && p.next >= p.operations.len() {
                    verdict = Some(UnitOutcome::Applied);
                }
                match verdict {
                    Some(outcome) => {
                        outcomes[p.index] = Some(outcome);
                        self.progress.event(ReadEvent::Items(1));
                    }
                    None => {
                        wait = wait.max(retry.unwrap_or(Duration::ZERO));
                        still.push(p);
                    }
                }
            }
            pending = still;
            let pace = pacer.record(
                items_this_round,
                throttled_this_round,
                round_started.elapsed(),
            );
            let wait = wait.max(pace);
            if !pending.is_empty() && !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(UnitOutcome::Failed(WriteFailure {
                    operation: "assignLicense",
                    status: 0,
                    code: None,
                    message: "not attempted".to_owned(),
                    request_id: None,
                    attempts: 0,
                }))
            })
            .collect())
    }
}

impl WriteFailure {
    /// What to do about this failure, in plain language (by HTTP status and Graph code,
    /// never by message text).
    pub fn fix(&self) -> String {
        match self.status {
            401 => "Graph refused the credential: check the app registration's secret or certificate and run apply again".to_owned(),
            403 => match self.operation {
                "setUsageLocation" => "grant the app the User.ReadWrite.All application permission (admin consent) so it can set usage locations, then apply again".to_owned(),
                _ => "grant the app the LicenseAssignment.ReadWrite.All application permission (admin consent), then apply again".to_owned(),
            },
            404 => "the principal no longer exists in the tenant: remove it from the config and plan again".to_owned(),
            400 | 409 => "Graph refused the request (see its message): fix the cause in the config or the tenant, then run `licensectl plan` and apply again".to_owned(),
            0 => "no answer arrived (network, or --deadline passed): run `licensectl plan` to see what remains, then apply again".to_owned(),
            _ => "Graph stayed throttled or unavailable through every retry: apply again later; a new plan picks up exactly what remains".to_owned(),
        }
    }
}
