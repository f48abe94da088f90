//! Applying a plan to the tenant: the permissions it needs ([`preflight`]), the order of
//! work ([`schedule`]), the writes through `$batch` ([`execute`]), with a last check of
//! each write against the config (`execute::gate`), waiting for group license processing,
//! verification by reading the affected principals back ([`verify`]), and the journal
//! ([`journal`]).
//!
//! This module does network and journal I/O. It must not decide what should change (the
//! planner did), print, prompt or read the environment (the CLI does); it returns an
//! [`ApplyReport`] as data. Writes are idempotent at the level of state: re-sending an
//! `assignLicense` that already took effect leaves the tenant as it is, and every write is
//! verified against the tenant afterwards, so an interrupted or partly failed apply is
//! finished by a new plan and apply.

pub(crate) mod execute;
pub(crate) mod journal;
pub mod preflight;
pub(crate) mod schedule;
pub(crate) mod verify;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::DesiredState;
use crate::graph::read::{ReadEvent, ReadProgress, read_principals};
use crate::graph::{GraphClient, GraphError};
use crate::ids::{GroupId, UserId};
use crate::plan::{Change, Finding, FindingKind, PlanOptions, Principal, SeatRow, plan};
use crate::snapshot::TenantSnapshot;

pub use execute::gate::{Allowed, Gate, Refusal, RefusalKind, UnitWrites};
pub use execute::{Executor, UnitOutcome, WriteFailure};
pub use journal::{Entry, Event, Journal};
pub use schedule::{Operation, Phase, PhaseKind, Schedule, Unit, schedule};
pub use verify::{Mismatch, verify};

/// Errors that stop an apply (the journal's too). The cause is the `source`, printed once by
/// an error chain after the message.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The journal cannot be written: nothing more is sent.
    #[error("cannot write the apply journal {path} (nothing more was sent)")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading the tenant back failed.
    #[error("the writes were sent but the tenant could not be read back to verify them")]
    Verify(#[source] GraphError),
    /// The last gate refused writes of the plan before anything was sent.
    #[error(
        "refusing to apply: {} write(s) are not what the config allows; nothing was sent",
        .refusals.len()
    )]
    Refused {
        /// Each refused unit, with the reason.
        refusals: Vec<Refusal>,
    },
}

/// How to apply.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Longest wait for group license processing after the group assignments.
    pub group_timeout: Duration,
    /// Pause between two checks of group processing.
    pub group_poll: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            group_timeout: Duration::from_secs(600),
            group_poll: Duration::from_secs(2),
        }
    }
}

/// What became of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    /// Index of the change in the plan.
    pub change: usize,
    /// Who.
    pub principal: Principal,
    /// True when the tenant, read back, holds what the change asked for.
    pub ok: bool,
    /// The write failure, when a write failed for good (it may still be `ok` when the
    /// write had taken effect before its answer was lost).
    pub write_failure: Option<WriteFailure>,
    /// How the tenant differs from the change, when it does.
    pub mismatches: Vec<String>,
}

/// The result of an apply, as data for the CLI to render.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// One result per change, in plan order.
    pub results: Vec<ChangeResult>,
    /// Licensing errors on the principals the apply touched (including members of the
    /// groups it changed), with their fixes.
    pub license_errors: Vec<Finding>,
    /// Groups whose license processing had not finished when the wait timed out.
    pub groups_still_processing: Vec<Principal>,
    /// Licenses added by successful changes.
    pub added: u64,
    /// `disabledPlans` updates and usage locations of successful changes.
    pub changed: u64,
    /// Licenses removed by successful changes.
    pub removed: u64,
    /// Changes that did not take effect.
    pub failed: u64,
}

impl ApplyReport {
    /// True when every change took effect, no licensing error appeared on a touched
    /// principal and group processing finished.
    pub fn converged(&self) -> bool {
        self.failed == 0
            && self.license_errors.is_empty()
            && self.groups_still_processing.is_empty()
    }
}

/// Everything `run` needs.
pub struct ApplyInput<'a> {
    /// The config (for the re-plan that reports licensing errors after the writes).
    pub desired: &'a DesiredState,
    /// The live state the changes were planned (or checked) against.
    pub before: &'a TenantSnapshot,
    /// The changes to make.
    pub changes: &'a [Change],
    /// Seat rows of the current plan (for the order of removals).
    pub seats: &'a [SeatRow],
    /// `--allow-unsafe`: the last gate lets writes pass the safety thresholds.
    pub allow_unsafe: bool,
}

/// Applies `input.changes` in the documented order, waits for group processing,
/// verifies, and reports. Returns an error only when the journal fails or the tenant
/// cannot be read back; write failures are in the report.
pub async fn run(
    client: &GraphClient,
    journal: &Journal,
    input: &ApplyInput<'_>,
    options: &ApplyOptions,
    progress: &dyn ReadProgress,
) -> Result<ApplyReport, ApplyError> {
    let schedule = schedule(input.changes, input.seats);
    journal.record(Entry {
        event: Some(Event::Start),
        message: Some(format!(
            "tenant {}: {} change(s) in {} phase(s)",
            input.before.tenant_id,
            input.changes.len(),
            schedule.phases.len()
        )),
        ..Entry::default()
    })?;
    // The last gate, computed once from the config and the state planned against; it
    // checks the whole schedule before the first write (nothing is sent when it refuses
    // any of it), then every round again as it is sent.
    let gate = Gate::new(Allowed::new(
        input.desired,
        input.before,
        input.allow_unsafe,
    ));
    let units: Vec<UnitWrites<'_>> = schedule.units().map(UnitWrites::of).collect();
    let refusals = gate.preview(&units);
    if !refusals.is_empty() {
        journal.record(Entry {
            event: Some(Event::End),
            outcome: Some("refused"),
            message: Some(
                refusals
                    .iter()
                    .map(|r| r.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ..Entry::default()
        })?;
        return Err(ApplyError::Refused { refusals });
    }
    let executor = Executor {
        client,
        journal,
        progress,
        gate: &gate,
    };
    let mut failures: HashMap<usize, WriteFailure> = HashMap::new();
    let changed_groups: Vec<GroupId> = input
        .changes
        .iter()
        .filter_map(|c| match c.principal {
            Principal::Group { id, .. } => Some(id),
            Principal::User { .. } => None,
        })
        .collect();
    let mut still_processing: Vec<GroupId> = Vec::new();
    for phase in &schedule.phases {
        let outcomes = executor.run(phase).await?;
        for (unit, outcome) in phase.units.iter().zip(outcomes) {
            if let UnitOutcome::Failed(f) = outcome {
                failures.insert(unit.change, f);
            }
        }
        if phase.kind == PhaseKind::GroupAssignments {
            let groups: Vec<GroupId> = phase
                .units
                .iter()
                .filter(|u| !failures.contains_key(&u.change))
                .filter_map(|u| match u.principal {
                    Principal::Group { id, .. } => Some(id),
                    Principal::User { .. } => None,
                })
                .collect();
            still_processing = wait_for_groups(client, journal, &groups, options, progress).await?;
        }
    }
    // Groups changed by the removal phases: wait for them too before verifying members.
    let late: Vec<GroupId> = changed_groups
        .iter()
        .copied()
        .filter(|g| !still_processing.contains(g))
        .collect();
    if schedule.phases.iter().any(|p| {
        p.kind != PhaseKind::GroupAssignments
            && p.units
                .iter()
                .any(|u| matches!(u.principal, Principal::Group { .. }))
    }) {
        let more = wait_for_groups(client, journal, &late, options, progress).await?;
        still_processing.extend(more);
    }

    // Read back what was touched: changed users, changed groups and their members.
    progress.event(ReadEvent::Phase {
        name: "reading back the affected principals",
        total: None,
    });
    let mut user_ids: BTreeSet<UserId> = input
        .changes
        .iter()
        .filter_map(|c| match c.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Group { .. } => None,
        })
        .collect();
    for g in &input.before.groups {
        if changed_groups.contains(&g.id) {
            user_ids.extend(g.members.iter().copied());
        }
    }
    let user_ids: Vec<UserId> = user_ids.into_iter().collect();
    let (skus, users, groups) = read_principals(client, &user_ids, &changed_groups)
        .await
        .map_err(ApplyError::Verify)?;
    // Members added to a changed group since the plan are read too.
    let extra: Vec<UserId> = groups
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .filter(|m| user_ids.binary_search(m).is_err())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let extra_users = if extra.is_empty() {
        Vec::new()
    } else {
        read_principals(client, &extra, &[])
            .await
            .map_err(ApplyError::Verify)?
            .1
    };
    let after = overlay(
        input.before,
        skus,
        users.into_iter().chain(extra_users),
        groups,
    );
    let report = assess(input, &after, failures, &still_processing);
    for r in &report.results {
        journal.record(Entry {
            event: Some(Event::Verify),
            principal: Some(r.principal.clone()),
            outcome: Some(if r.ok { "verified" } else { "mismatch" }),
            message: (!r.mismatches.is_empty()).then(|| r.mismatches.join("; ")),
            ..Entry::default()
        })?;
    }
    journal.record(Entry {
        event: Some(Event::End),
        outcome: Some(if report.converged() {
            "converged"
        } else {
            "incomplete"
        }),
        message: Some(format!(
            "{} added, {} changed, {} removed, {} failed, {} licensing error(s)",
            report.added,
            report.changed,
            report.removed,
            report.failed,
            report.license_errors.len()
        )),
        ..Entry::default()
    })?;
    Ok(report)
}

/// The state before, with the re-read SKUs, users and groups put in place.
fn overlay(
    before: &TenantSnapshot,
    skus: Vec<crate::snapshot::SubscribedSku>,
    users: impl Iterator<Item = crate::snapshot::User>,
    groups: Vec<crate::snapshot::Group>,
) -> TenantSnapshot {
    let mut after = before.clone();
    after.subscribed_skus = skus;
    let index: HashMap<UserId, usize> = after
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id, i))
        .collect();
    for u in users {
        match index.get(&u.id) {
            Some(&i) => after.users[i] = u,
            None => after.users.push(u),
        }
    }
    for g in groups {
        match after.groups.iter_mut().find(|x| x.id == g.id) {
            Some(slot) => *slot = g,
            None => after.groups.push(g),
        }
    }
    after
}

/// Pure: the report from the re-read state and the write failures.
pub fn assess(
    input: &ApplyInput<'_>,
    after: &TenantSnapshot,
    mut failures: HashMap<usize, WriteFailure>,
    still_processing: &[GroupId],
) -> ApplyReport {
    let mismatches = verify(input.changes, after);
    let mut by_change: HashMap<usize, Vec<String>> = HashMap::new();
    for m in mismatches {
        by_change.entry(m.change).or_default().push(m.message);
    }
    let mut report = ApplyReport {
        results: Vec::new(),
        license_errors: Vec::new(),
        groups_still_processing: Vec::new(),
        added: 0,
        changed: 0,
        removed: 0,
        failed: 0,
    };
    for (i, change) in input.changes.iter().enumerate() {
        let mismatches = by_change.remove(&i).unwrap_or_default();
        let ok = mismatches.is_empty();
        if ok {
            report.added += change.add.len() as u64;
            report.changed +=
                change.update.len() as u64 + u64::from(change.usage_location.is_some());
            report.removed += change.remove.len() as u64;
        } else {
            report.failed += 1;
        }
        report.results.push(ChangeResult {
            change: i,
            principal: change.principal.clone(),
            ok,
            write_failure: failures.remove(&i),
            mismatches,
        });
    }
    // Licensing errors on touched principals, from a re-plan of the state read back.
    let touched_users: BTreeSet<UserId> = input
        .changes
        .iter()
        .filter_map(|c| match c.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Group { .. } => None,
        })
        .collect();
    let touched_groups: BTreeSet<GroupId> = input
        .changes
        .iter()
        .filter_map(|c| match c.principal {
            Principal::Group { id, .. } => Some(id),
            Principal::User { .. } => None,
        })
        .collect();
    let replan = plan(input.desired, after, &PlanOptions { allow_unsafe: true });
    report.license_errors = replan
        .findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::AssignmentError)
        .filter(|f| {
            let direct_touch = matches!(f.principal, Principal::User { id, .. } if touched_users.contains(&id))
                && f.group.is_none();
            let group_touch = matches!(&f.group, Some(Principal::Group { id, .. }) if touched_groups.contains(id));
            direct_touch || group_touch
        })
        .collect();
    report.groups_still_processing = still_processing
        .iter()
        .map(|id| {
            let name = after
                .groups
                .iter()
                .find(|g| g.id == *id)
                .map(|g| g.display_name.clone())
                .unwrap_or_else(|| id.to_string());
            Principal::Group { id: *id, name }
        })
        .collect();
    report
}

/// Polls the groups' `licenseProcessingState` until every one is `ProcessingComplete` or
/// the timeout passes; returns the groups still processing.
async fn wait_for_groups(
    client: &GraphClient,
    journal: &Journal,
    groups: &[GroupId],
    options: &ApplyOptions,
    progress: &dyn ReadProgress,
) -> Result<Vec<GroupId>, ApplyError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    progress.event(ReadEvent::Phase {
        name: "waiting for group license processing",
        total: Some(groups.len() as u64),
    });
    journal.record(Entry {
        event: Some(Event::Wait),
        message: Some(format!(
            "waiting up to {} s for license processing of {} group(s)",
            options.group_timeout.as_secs(),
            groups.len()
        )),
        ..Entry::default()
    })?;
    let start = Instant::now();
    let mut pending: Vec<GroupId> = groups.to_vec();
    loop {
        let mut next = Vec::new();
        for id in &pending {
            let done = match client.group(&id.to_string()).await {
                Ok(Some(g)) => g.license_processing_state.as_ref().is_none_or(|s| {
                    s.state == "ProcessingComplete" || s.state == "ProcessingFailed"
                }),
                // Gone, or not readable right now: verification will tell.
                Ok(None) => true,
                Err(e) => {
                    tracing::debug!(group = %id, error = %e, "cannot read group processing state");
                    false
                }
            };
            if done {
                progress.event(ReadEvent::Items(1));
            } else {
                next.push(*id);
            }
        }
        pending = next;
        if pending.is_empty() || start.elapsed() >= options.group_timeout {
            break;
        }
        tokio::time::sleep(
            options
                .group_poll
                .min(options.group_timeout.saturating_sub(start.elapsed())),
        )
        .await;
    }
    journal.record(Entry {
        event: Some(Event::Wait),
        outcome: Some(if pending.is_empty() {
            "done"
        } else {
            "timed-out"
        }),
        message: Some(format!(
            "group processing: {} of {} finished after {:.1} s",
            groups.len() - pending.len(),
            groups.len(),
            start.elapsed().as_secs_f64()
        )),
        ..Entry::default()
    })?;
    Ok(pending)
}
