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

pub mod evidence;
pub(crate) mod execute;
pub(crate) mod journal;
pub mod preflight;
pub mod reprocess;
pub(crate) mod schedule;
pub(crate) mod verify;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::DesiredState;
use crate::graph::read::{ReadEvent, ReadProgress, read_principals, users_by_id};
use crate::graph::{GraphClient, GraphError};
use crate::ids::{GroupId, UserId};
use crate::plan::{Change, Finding, FindingKind, PlanOptions, Principal, SeatRow, plan};
use crate::snapshot::{AssignedLicense, TenantSnapshot};

use evidence::{GroupExpect, Reliance};

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
    /// Longest wait for group license processing after the group assignments (and, as
    /// long again, for a group's copy to reach the members whose direct copy goes).
    pub group_timeout: Duration,
    /// Pause between two checks of group processing (or of the members).
    pub group_poll: Duration,
    /// Longest time verification re-reads a change that the tenant does not show yet.
    pub verify_timeout: Duration,
    /// The first pause before such a re-read (doubling up to 8 s).
    pub verify_poll: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            group_timeout: Duration::from_secs(600),
            group_poll: Duration::from_secs(2),
            verify_timeout: Duration::from_secs(120),
            verify_poll: Duration::from_millis(500),
        }
    }
}

/// The longest pause between two verification re-reads.
const VERIFY_POLL_MAX: Duration = Duration::from_secs(8);

/// The error code of a write held back because a group's copy of the SKU had not reached
/// the member (the direct copy was kept).
pub const GROUP_COPY_NOT_SEEN: &str = "licensectl.group-copy-not-seen";

/// How a change was found after the writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Graph's answer to the write shows it done (the object as written).
    Confirmed,
    /// The tenant, read back, holds what the change asked for.
    Verified,
    /// Graph accepted every write, but the tenant's reads did not show it within
    /// `verify_timeout` (eventual consistency): not known to have failed.
    NotYetVisible,
    /// A write failed, and the tenant does not hold what the change asked for.
    Failed,
}

/// What became of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    /// Index of the change in the plan.
    pub change: usize,
    /// Who.
    pub principal: Principal,
    /// True when the change took effect (confirmed by Graph's answer or read back).
    pub ok: bool,
    /// How it was found.
    pub verdict: Verdict,
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
    /// Changes Graph accepted that the tenant's reads did not show yet.
    pub not_visible: u64,
}

impl ApplyReport {
    /// True when every change took effect, no licensing error appeared on a touched
    /// principal and group processing finished.
    pub fn converged(&self) -> bool {
        self.failed == 0
            && self.not_visible == 0
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
    /// The date the changes were planned at (what `inactive_days` and `disabled_days`
    /// count to, for the last gate).
    pub now: Option<time::OffsetDateTime>,
}

fn group_of(principal: &Principal) -> Option<GroupId> {
    match principal {
        Principal::Group { id, .. } => Some(*id),
        Principal::User { .. } => None,
    }
}

fn user_of(principal: &Principal) -> Option<UserId> {
    match principal {
        Principal::User { id, .. } => Some(*id),
        Principal::Group { .. } => None,
    }
}

/// Applies `input.changes` in the documented order, waits for group processing (and for
/// a group's copy to reach each member before the member's direct copy goes), verifies,
/// and reports. Returns an error only when the journal fails, the last gate refuses the
/// plan before anything is sent, or the tenant cannot be read back; write failures are
/// in the report.
pub async fn run(
    client: &GraphClient,
    journal: &Journal,
    input: &ApplyInput<'_>,
    options: &ApplyOptions,
    progress: &dyn ReadProgress,
) -> Result<ApplyReport, ApplyError> {
    let reliances = evidence::reliances(input.changes, input.before);
    let reliant: BTreeSet<usize> = reliances.iter().map(|r| r.change).collect();
    let schedule = schedule(input.changes, input.seats, &reliant);
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
    let gate = Gate::new(Allowed::at(
        input.desired,
        input.before,
        input.allow_unsafe,
        input.now,
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
    let executor = Executor::new(client, journal, progress, &gate);
    let mut failures: HashMap<usize, WriteFailure> = HashMap::new();
    let mut answers: HashMap<usize, Option<Vec<AssignedLicense>>> = HashMap::new();
    let mut still_processing: Vec<GroupId> = Vec::new();
    let mut late: Vec<(GroupId, GroupExpect)> = Vec::new();
    for phase in &schedule.phases {
        let phase = hold_back_until_group_copies(
            client,
            journal,
            input,
            phase,
            &reliances,
            &mut failures,
            options,
            progress,
        )
        .await?;
        if phase.units.is_empty() {
            continue;
        }
        let outcomes = executor.run(&phase).await?;
        let mut applied_groups = Vec::new();
        for (unit, outcome) in phase.units.iter().zip(outcomes) {
            match outcome {
                UnitOutcome::Failed(f) => {
                    failures.insert(unit.change, f);
                }
                UnitOutcome::Applied { licenses } => {
                    answers.insert(unit.change, licenses);
                    if let Some(id) = group_of(&unit.principal) {
                        applied_groups.push((id, GroupExpect::of(&input.changes[unit.change])));
                    }
                }
            }
        }
        if phase.kind == PhaseKind::GroupAssignments {
            still_processing =
                wait_for_groups(client, journal, &applied_groups, options, progress).await?;
        } else {
            late.extend(applied_groups);
        }
    }
    // Groups changed by the removal phases: wait for them too before verifying members.
    let more = wait_for_groups(client, journal, &late, options, progress).await?;
    still_processing.extend(more);

    // Changes whose writes Graph refused (or that were never sent) will not show up in
    // the tenant however long verification waits; a lost answer might have taken effect.
    let settled_failures: BTreeSet<usize> = failures
        .iter()
        .filter(|(_, f)| !f.outcome_unknown())
        .map(|(i, _)| *i)
        .collect();
    let after = read_back(
        client,
        journal,
        input,
        &answers,
        &settled_failures,
        options,
        progress,
    )
    .await?;
    let confirmed = confirmed_changes(input, &answers);
    let report = assess(input, &after, failures, &still_processing, &confirmed);
    for r in &report.results {
        journal.record(Entry {
            event: Some(Event::Verify),
            principal: Some(r.principal.clone()),
            outcome: Some(match r.verdict {
                Verdict::Confirmed => "confirmed",
                Verdict::Verified => "verified",
                Verdict::NotYetVisible => "not-yet-visible",
                Verdict::Failed => "mismatch",
            }),
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
            "{} added, {} changed, {} removed, {} failed, {} not yet visible, {} licensing error(s)",
            report.added,
            report.changed,
            report.removed,
            report.failed,
            report.not_visible,
            report.license_errors.len()
        )),
        ..Entry::default()
    })?;
    Ok(report)
}

/// `phase` without the units that remove a direct copy a group's copy replaces, until
/// the member's own state shows one of those groups' copies `Active` (read by id, every
/// `group_poll`, at most `group_timeout`): a unit still without that evidence is not sent
/// and fails with [`GROUP_COPY_NOT_SEEN`] (its direct copy is kept, so that the member is
/// never without the license). A unit whose only granting group's change failed is held
/// back at once.
#[allow(clippy::too_many_arguments)]
async fn hold_back_until_group_copies<'p>(
    client: &GraphClient,
    journal: &Journal,
    input: &ApplyInput<'_>,
    phase: &'p Phase,
    reliances: &[Reliance],
    failures: &mut HashMap<usize, WriteFailure>,
    options: &ApplyOptions,
    progress: &dyn ReadProgress,
) -> Result<Cow<'p, Phase>, ApplyError> {
    let in_phase: BTreeSet<usize> = phase.units.iter().map(|u| u.change).collect();
    let group_change: HashMap<GroupId, usize> = input
        .changes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| group_of(&c.principal).map(|g| (g, i)))
        .collect();
    // What is still to be seen: reliances of this phase, minus the hopeless ones.
    let mut pending: Vec<&Reliance> = Vec::new();
    let mut held: HashMap<usize, String> = HashMap::new();
    for r in reliances.iter().filter(|r| in_phase.contains(&r.change)) {
        let all_failed = r.keeps_from.is_empty()
            && r.gains_from.iter().all(|g| {
                group_change
                    .get(g)
                    .is_some_and(|i| failures.contains_key(i))
            });
        if all_failed {
            held.insert(
                r.change,
                format!(
                    "not sent: the group change that was to grant {} failed, so the direct copy was kept",
                    sku_name(input.before, r.sku)
                ),
            );
        } else {
            pending.push(r);
        }
    }
    if !pending.is_empty() {
        progress.event(ReadEvent::Phase {
            name: "waiting for group licenses to reach the members",
            total: Some(pending.len() as u64),
        });
        journal.record(Entry {
            event: Some(Event::Wait),
            phase: Some(phase.kind.label()),
            message: Some(format!(
                "waiting up to {} s for group copies to show Active on {} member(s) before their direct copies are removed",
                options.group_timeout.as_secs(),
                pending.len()
            )),
            ..Entry::default()
        })?;
        let start = Instant::now();
        loop {
            let users: BTreeSet<UserId> = pending.iter().map(|r| r.user).collect();
            let users: Vec<UserId> = users.into_iter().collect();
            match users_by_id(client, &users).await {
                Ok(read) => {
                    let by_id: HashMap<UserId, &crate::snapshot::User> =
                        read.iter().map(|u| (u.id, u)).collect();
                    let before = pending.len();
                    pending.retain(|r| {
                        !by_id
                            .get(&r.user)
                            .is_some_and(|u| evidence::group_copy_active(u, r.sku, &r.groups()))
                    });
                    progress.event(ReadEvent::Items((before - pending.len()) as u64));
                }
                Err(e) => tracing::debug!(error = %e, "cannot read the members yet"),
            }
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
        for r in &pending {
            held.entry(r.change).or_insert_with(|| {
                format!(
                    "not sent: no group's copy of {} showed Active on the user within {} s, so the direct copy was kept",
                    sku_name(input.before, r.sku),
                    start.elapsed().as_secs()
                )
            });
        }
        journal.record(Entry {
            event: Some(Event::Wait),
            phase: Some(phase.kind.label()),
            outcome: Some(if pending.is_empty() {
                "done"
            } else {
                "timed-out"
            }),
            message: Some(format!(
                "group copies seen on the members after {:.1} s; {} direct removal(s) held back",
                start.elapsed().as_secs_f64(),
                held.len()
            )),
            ..Entry::default()
        })?;
    }
    if held.is_empty() {
        return Ok(Cow::Borrowed(phase));
    }
    for (change, message) in &held {
        failures.insert(
            *change,
            WriteFailure {
                operation: "assignLicense",
                status: 0,
                code: Some(GROUP_COPY_NOT_SEEN.to_owned()),
                message: message.clone(),
                request_id: None,
                attempts: 0,
            },
        );
    }
    Ok(Cow::Owned(Phase {
        kind: phase.kind,
        units: phase
            .units
            .iter()
            .filter(|u| !held.contains_key(&u.change))
            .cloned()
            .collect(),
    }))
}

fn sku_name(before: &TenantSnapshot, sku: crate::ids::SkuId) -> String {
    before
        .subscribed_skus
        .iter()
        .find(|s| s.sku_id == sku)
        .map_or_else(|| sku.to_string(), |s| s.sku_part_number.clone())
}

/// The changes whose writes all succeeded and whose effect Graph's answers show
/// (see [`evidence::confirmed_by_answer`]); a change that only sets a usage location is
/// confirmed by the `PATCH`'s success.
fn confirmed_changes(
    input: &ApplyInput<'_>,
    answers: &HashMap<usize, Option<Vec<AssignedLicense>>>,
) -> BTreeSet<usize> {
    let from_groups = evidence::skus_from_groups(input.changes, input.before);
    let none = BTreeSet::new();
    answers
        .iter()
        .filter(|(i, licenses)| {
            let change = &input.changes[**i];
            if !change.has_license_call() {
                return true;
            }
            let user_skus = user_of(&change.principal)
                .and_then(|u| from_groups.get(&u))
                .unwrap_or(&none);
            licenses
                .as_deref()
                .is_some_and(|l| evidence::confirmed_by_answer(change, l, user_skus))
        })
        .map(|(i, _)| *i)
        .collect()
}

/// Reads back what was touched (changed users, changed groups and their members, and
/// members added since), then re-reads the principals of changes the tenant does not
/// show yet (except the `failed` ones, which Graph refused or which were never sent),
/// with backoff, for at most `verify_timeout`; the state as last read.
async fn read_back(
    client: &GraphClient,
    journal: &Journal,
    input: &ApplyInput<'_>,
    answers: &HashMap<usize, Option<Vec<AssignedLicense>>>,
    failed: &BTreeSet<usize>,
    options: &ApplyOptions,
    progress: &dyn ReadProgress,
) -> Result<TenantSnapshot, ApplyError> {
    progress.event(ReadEvent::Phase {
        name: "reading back the affected principals",
        total: None,
    });
    let changed_groups: Vec<GroupId> = input
        .changes
        .iter()
        .filter_map(|c| group_of(&c.principal))
        .collect();
    let mut user_ids: BTreeSet<UserId> = input
        .changes
        .iter()
        .filter_map(|c| user_of(&c.principal))
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
    let mut after = overlay(
        input.before,
        Some(skus),
        users.into_iter().chain(extra_users),
        groups,
    );
    // Changes the tenant does not show yet (and that no answer confirmed) are re-read
    // while the reads may lag.
    let confirmed = confirmed_changes(input, answers);
    let unseen = |after: &TenantSnapshot| -> BTreeSet<usize> {
        verify(input.changes, after)
            .into_iter()
            .map(|m| m.change)
            .filter(|c| !confirmed.contains(c) && !failed.contains(c))
            .collect()
    };
    let mut pending = unseen(&after);
    let start = Instant::now();
    let mut pause = options.verify_poll;
    while !pending.is_empty() && start.elapsed() + pause <= options.verify_timeout {
        journal.record(Entry {
            event: Some(Event::Wait),
            message: Some(format!(
                "{} change(s) not yet visible in the tenant's reads; reading them again in {:.1} s",
                pending.len(),
                pause.as_secs_f64()
            )),
            ..Entry::default()
        })?;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(VERIFY_POLL_MAX);
        let users: Vec<UserId> = pending
            .iter()
            .filter_map(|&i| user_of(&input.changes[i].principal))
            .collect();
        let groups: Vec<GroupId> = pending
            .iter()
            .filter_map(|&i| group_of(&input.changes[i].principal))
            .collect();
        let (_, users, groups) = read_principals(client, &users, &groups)
            .await
            .map_err(ApplyError::Verify)?;
        after = overlay(&after, None, users.into_iter(), groups);
        pending = unseen(&after);
    }
    Ok(after)
}

/// The state before, with the re-read SKUs (when given), users and groups put in place.
fn overlay(
    before: &TenantSnapshot,
    skus: Option<Vec<crate::snapshot::SubscribedSku>>,
    users: impl Iterator<Item = crate::snapshot::User>,
    groups: Vec<crate::snapshot::Group>,
) -> TenantSnapshot {
    let mut after = before.clone();
    if let Some(skus) = skus {
        after.subscribed_skus = skus;
    }
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

/// Pure: the report from the re-read state, the write failures and the changes Graph's
/// answers confirmed.
pub fn assess(
    input: &ApplyInput<'_>,
    after: &TenantSnapshot,
    mut failures: HashMap<usize, WriteFailure>,
    still_processing: &[GroupId],
    confirmed: &BTreeSet<usize>,
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
        not_visible: 0,
    };
    for (i, change) in input.changes.iter().enumerate() {
        let write_failure = failures.remove(&i);
        let (verdict, mismatches) = if confirmed.contains(&i) {
            (Verdict::Confirmed, Vec::new())
        } else {
            match by_change.remove(&i) {
                None => (Verdict::Verified, Vec::new()),
                Some(m) if write_failure.is_none() => (Verdict::NotYetVisible, m),
                Some(m) => (Verdict::Failed, m),
            }
        };
        let ok = matches!(verdict, Verdict::Confirmed | Verdict::Verified);
        match verdict {
            Verdict::Confirmed | Verdict::Verified => {
                report.added += change.add.len() as u64;
                report.changed +=
                    change.update.len() as u64 + u64::from(change.usage_location.is_some());
                report.removed += change.remove.len() as u64;
            }
            Verdict::NotYetVisible => report.not_visible += 1,
            Verdict::Failed => report.failed += 1,
        }
        report.results.push(ChangeResult {
            change: i,
            principal: change.principal.clone(),
            ok,
            verdict,
            write_failure,
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
    let replan = plan(
        input.desired,
        after,
        &PlanOptions {
            allow_unsafe: true,
            ..PlanOptions::default()
        },
    );
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

/// Polls the groups until a read of each shows its write (`assignedLicenses` as
/// written) and `ProcessingComplete` ([`GroupExpect::settled`]), or the timeout passes;
/// returns the groups still processing. A state read from before the write (the previous
/// `ProcessingComplete`) or a null state is not evidence.
async fn wait_for_groups(
    client: &GraphClient,
    journal: &Journal,
    groups: &[(GroupId, GroupExpect)],
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
    let mut pending: Vec<&(GroupId, GroupExpect)> = groups.iter().collect();
    loop {
        let mut next = Vec::new();
        for item in &pending {
            let (id, expect) = item;
            let done = match client.group(&id.to_string()).await {
                Ok(Some(g)) => expect.settled(&g),
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
                next.push(*item);
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
    Ok(pending.into_iter().map(|(id, _)| *id).collect())
}
