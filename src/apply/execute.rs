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
//!
//! [`Executor::run`] is a thin loop that only does I/O (journal, send, sleep); what it
//! sends and what it makes of the answers are pure functions over plain data: `pack`
//! (which writes go in which `$batch` this round), `classify` (what each answer means),
//! `settle` (what becomes of each unit) and [`Pacer`] (how much to send, how long to
//! pause). Between packing and sending, the last gate (`gate`) checks every write of
//! the round against what the config allows; a refused unit is not sent and fails with
//! the reason.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::graph::GraphClient;
use crate::graph::client::{BATCH_MAX, ClientStats};
use crate::graph::read::{ReadEvent, ReadProgress};
use crate::plan::Principal;
use crate::snapshot::AssignedLicense;

use super::ApplyError;
use super::journal::{Entry, Event, Journal};
use super::schedule::{Operation, Phase, Unit};

mod classify;
pub(crate) mod gate;
mod pacer;
mod pack;
mod settle;

use classify::{Answer, BatchAnswer, ItemResult, classify, throttle_usage};
use gate::{Gate, REFUSED_CODE, UnitWrites};
pub(crate) use pacer::Pacer;
use pacer::Round as PacedRound;
use pack::Batch;
use settle::settle;

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
    Applied {
        /// The principal's `assignedLicenses` as Graph's answer to its `assignLicense`
        /// gave them (a user's 200 and a group's 202 return the object as written:
        /// authoritative, unlike a read right after the write); `None` when the unit
        /// made no such call or the answer did not carry them.
        licenses: Option<Vec<AssignedLicense>>,
    },
    /// An operation failed for good.
    Failed(WriteFailure),
}

impl UnitOutcome {
    /// The outcome of a unit the phase never got to.
    fn not_attempted() -> Self {
        UnitOutcome::Failed(WriteFailure {
            operation: "assignLicense",
            status: 0,
            code: None,
            message: "not attempted".to_owned(),
            request_id: None,
            attempts: 0,
        })
    }
}

/// Runs phases against one client, journalling everything. One executor runs every
/// phase of an apply, so that its pacer keeps what it learned of the write budget.
pub struct Executor<'a> {
    client: &'a GraphClient,
    journal: &'a Journal,
    progress: &'a dyn ReadProgress,
    gate: &'a Gate,
    /// The pacer between phases (taken out while a phase runs).
    pacer: Mutex<Option<Pacer>>,
}

/// A unit in flight: how far its operations got and how often it was tried.
#[derive(Debug, Clone)]
struct Pending<'p> {
    /// The unit's index in its phase.
    index: usize,
    principal: &'p Principal,
    operations: &'p [Operation],
    /// Operations before this one are done.
    next: usize,
    attempts: u32,
    /// Attempts answered 429 (they do not count against `--max-attempts`: Graph asks to
    /// wait and retry, and the deadline bounds them).
    throttled: u32,
    /// When the first attempt was sent.
    started: Option<Instant>,
    /// `assignedLicenses` from Graph's answer to the unit's `assignLicense`.
    licenses: Option<Vec<AssignedLicense>>,
}

impl<'p> Pending<'p> {
    fn new(index: usize, unit: &'p Unit) -> Self {
        Self {
            index,
            principal: &unit.principal,
            operations: &unit.operations,
            next: 0,
            attempts: 0,
            throttled: 0,
            started: None,
            licenses: None,
        }
    }

    /// Operations not done yet.
    fn remaining(&self) -> usize {
        self.operations.len() - self.next
    }
}

/// One write of a round: a unit (by its index in the pending list) and one of its
/// operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    unit: usize,
    op: usize,
}

impl<'a> Executor<'a> {
    /// An executor writing through `client`, recording in `journal`, reporting progress
    /// and checking every write with `gate`.
    pub fn new(
        client: &'a GraphClient,
        journal: &'a Journal,
        progress: &'a dyn ReadProgress,
        gate: &'a Gate,
    ) -> Self {
        Self {
            client,
            journal,
            progress,
            gate,
            pacer: Mutex::new(None),
        }
    }

    fn journal(&self, entry: Entry) -> Result<(), ApplyError> {
        self.journal.record(entry)
    }

    /// Runs `phase`; one outcome per unit, in the phase's order. Errors only when the
    /// journal cannot be written (then nothing more is sent).
    ///
    /// Each round: pack what the pacer allows (`pack`), journal and send it, classify
    /// the answers (`classify`), settle the units (`settle`), then pause for the
    /// longest `Retry-After` or the pacer's spread, whichever is longer.
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
            .map(|(index, unit)| Pending::new(index, unit))
            .collect();
        let policy = *self.client.policy();
        let mut rng = StdRng::from_os_rng();
        let mut pacer = self
            .pacer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| Pacer::new(BATCH_MAX * self.client.limiter().limit().max(1)));
        while !pending.is_empty() {
            let round_started = Instant::now();
            let wave = pacer.wave(round_started);
            let round = pack::pack(pending.iter().map(Pending::remaining), wave);
            pack::begin(&mut pending, &round, Instant::now());
            // Every write of the round is known here, before any of it is journalled or
            // sent: the gate takes out what the config does not allow, with a failed
            // answer for each (so that settling ends the unit instead of retrying it).
            let (batches, mut results) = self.gate_round(&pending, pack::batches(&pending, &round));
            let sent: usize = batches.iter().map(|b| b.items.len()).sum();
            // The requests are journalled before any of them is sent.
            for entry in pack::requests(&pending, &batches, label) {
                self.journal(entry)?;
            }
            // Graph's report of the app's use, and when the writes asked to wait may go
            // again (answer time plus Retry-After; for 429s, when the window opens).
            let mut usage: Option<f64> = None;
            let mut retry_at: Option<Instant> = None;
            let mut reset_at: Option<Instant> = None;
            for (b, answer) in self.send(&batches).await {
                let now = Instant::now();
                usage = match (usage, throttle_usage(&answer)) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                for (slot, item) in classify(&batches[b], &answer, &pending, &policy, now, &mut rng)
                {
                    if let ItemResult::Retry(wait) = item.result {
                        retry_at = retry_at.max(Some(now + wait));
                        if item.status == 429 {
                            reset_at = reset_at.max(Some(now + wait));
                        }
                    }
                    results.insert(slot, item);
                }
            }
            self.count(&results);

            let settlement = settle(pending, results, label);
            for unit in settlement.units {
                for entry in unit.results {
                    self.journal(entry)?;
                }
                if let Some(outcome) = unit.outcome {
                    outcomes[unit.index] = Some(outcome);
                    self.progress.event(ReadEvent::Items(1));
                }
            }
            pending = settlement.pending;
            let now = Instant::now();
            let pace = pacer.record(
                PacedRound {
                    sent,
                    throttled: settlement.throttled,
                    reset_at,
                    usage,
                    elapsed: round_started.elapsed(),
                },
                now,
            );
            let wait = retry_at
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
                .max(pace);
            if !pending.is_empty() && !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        *self.pacer.lock().unwrap_or_else(PoisonError::into_inner) = Some(pacer);
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(UnitOutcome::not_attempted))
            .collect())
    }

    /// The round's `batches` without the units the gate refuses (a batch left empty is
    /// dropped), and a failed answer for every write it took out.
    fn gate_round(
        &self,
        pending: &[Pending<'_>],
        batches: Vec<Batch>,
    ) -> (Vec<Batch>, HashMap<Slot, Answer>) {
        let mut units: Vec<usize> = batches
            .iter()
            .flat_map(|b| b.slots.iter().map(|s| s.unit))
            .collect();
        units.dedup();
        let writes: Vec<UnitWrites<'_>> = units
            .iter()
            .map(|&u| UnitWrites {
                principal: pending[u].principal,
                operations: &pending[u].operations[pending[u].next..],
            })
            .collect();
        let verdicts = self.gate.review(&writes);
        let mut answers: HashMap<Slot, Answer> = HashMap::new();
        for (&u, verdict) in units.iter().zip(verdicts) {
            let Some(refusal) = verdict else { continue };
            let p = &pending[u];
            for op in p.next..p.operations.len() {
                let failure = WriteFailure {
                    operation: p.operations[op].name(),
                    status: 0,
                    code: Some(REFUSED_CODE.to_owned()),
                    message: format!("not sent: {}", refusal.reason),
                    request_id: None,
                    attempts: p.attempts,
                };
                answers.insert(
                    Slot { unit: u, op },
                    Answer {
                        result: ItemResult::Failed(failure),
                        request_id: None,
                        status: 0,
                    },
                );
            }
        }
        if answers.is_empty() {
            return (batches, answers);
        }
        let kept = batches
            .into_iter()
            .filter_map(|batch| {
                let (items, slots): (Vec<_>, Vec<_>) = batch
                    .items
                    .into_iter()
                    .zip(batch.slots)
                    .filter(|(_, slot)| !answers.contains_key(slot))
                    .unzip();
                (!items.is_empty()).then_some(Batch { items, slots })
            })
            .collect();
        (kept, answers)
    }

    /// Counts the round's item 429s and retries in the client's stats. (Item 429s are
    /// paced by the round's [`Pacer`]; halving the HTTP concurrency as well would slow the
    /// writes twice for one signal.)
    fn count(&self, results: &HashMap<Slot, Answer>) {
        let stats = self.client.stats();
        let throttled = results.values().filter(|a| a.status == 429).count();
        let retries = results
            .values()
            .filter(|a| matches!(a.result, ItemResult::Retry(_)))
            .count();
        ClientStats::bump(&stats.throttled, throttled as u64);
        ClientStats::bump(&stats.retries, retries as u64);
    }

    /// Sends `batches`, up to [`BATCHES_IN_FLIGHT`] at once; each answer with the index of
    /// its batch, in the order they arrive.
    async fn send(&self, batches: &[Batch]) -> Vec<(usize, BatchAnswer)> {
        let sends = batches
            .iter()
            .enumerate()
            .map(|(b, batch)| async move { (b, self.client.post_batch(&batch.items).await) });
        stream::iter(sends)
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .collect()
            .await
    }
}

impl WriteFailure {
    /// True when the write may have taken effect although it failed: no answer arrived
    /// (a dropped connection, a whole batch lost) or Graph stayed throttled or
    /// unavailable; false when Graph refused it or it was never sent.
    pub fn outcome_unknown(&self) -> bool {
        let never_sent = matches!(
            self.code.as_deref(),
            Some(REFUSED_CODE | super::GROUP_COPY_NOT_SEEN)
        );
        !never_sent && (self.status == 0 || self.status == 429 || self.status >= 500)
    }

    /// What to do about this failure, in plain language (by HTTP status and Graph code,
    /// never by message text).
    pub fn fix(&self) -> String {
        if self.code.as_deref() == Some(REFUSED_CODE) {
            return "licensectl did not send this write because the config does not allow it (see the reason): fix the config, or run `licensectl plan` and apply the plan it gives".to_owned();
        }
        if self.code.as_deref() == Some(super::GROUP_COPY_NOT_SEEN) {
            return "group licensing has not reached the user yet (it is asynchronous, and reads lag): run `licensectl apply` again later, or raise --group-timeout; the user keeps the direct copy meanwhile".to_owned();
        }
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

#[cfg(test)]
mod tests {
    //! Helpers shared by the tests of the pure parts.

    use super::*;
    use crate::ids::SkuId;
    use crate::plan::AssignLicenseRequest;

    pub(super) use crate::plan::fixture::user;

    pub(super) fn location(code: &str) -> Operation {
        Operation::SetUsageLocation {
            usage_location: code.to_owned(),
        }
    }

    pub(super) fn assign() -> Operation {
        Operation::AssignLicense {
            request: AssignLicenseRequest {
                add_licenses: vec![AssignedLicense {
                    sku_id: SkuId(uuid::Uuid::from_u128(0xe5)),
                    disabled_plans: Vec::new(),
                }],
                remove_licenses: Vec::new(),
            },
        }
    }

    pub(super) fn pending<'p>(
        index: usize,
        principal: &'p Principal,
        operations: &'p [Operation],
    ) -> Pending<'p> {
        Pending {
            index,
            principal,
            operations,
            next: 0,
            attempts: 0,
            throttled: 0,
            started: None,
            licenses: None,
        }
    }
}
