//! `licensectl reprocess`'s Graph side: reads the users to reprocess (named users,
//! members of named groups, and — with `--errors` — the members with license errors of
//! every group Graph lists with `hasMembersWithLicenseErrors`), sends one
//! `reprocessLicenseAssignment` per user through the same executor as apply (`$batch`,
//! paced for the write quota, retried, journalled, checked by the last gate), waits for
//! the result and reads the users back.
//!
//! What to reprocess and what the answers mean is decided by [`crate::ops::reprocess`]
//! (pure); this module does the I/O only.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::graph::ops_read::{groups_with_license_errors, members_with_license_errors};
use crate::graph::read::{ReadEvent, ReadProgress, read_principals, users_by_id, users_by_upn};
use crate::graph::{GraphClient, GraphError};
use crate::ids::{GroupId, UserId};
use crate::ops::reprocess::{Selection, has_errors};
use crate::plan::Principal;
use crate::snapshot::{SNAPSHOT_VERSION, TenantSnapshot, User};

use super::ApplyError;
use super::execute::gate::{Allowed, Gate};
use super::execute::{Executor, UnitOutcome};
use super::journal::{Entry, Event, Journal};
use super::schedule::{Operation, Phase, PhaseKind, Unit};

/// Reads what `selection` needs into a small snapshot: the SKUs, the named users, the
/// named groups with their members, the error groups' failing members, and the groups
/// their failing assignments come from (for names in the report).
pub async fn read_selection(
    client: &GraphClient,
    tenant: crate::ids::TenantId,
    selection: &Selection,
) -> Result<TenantSnapshot, GraphError> {
    let mut user_ids: BTreeSet<UserId> = BTreeSet::new();
    let mut group_ids: BTreeSet<GroupId> = BTreeSet::new();
    let named: Vec<&str> = selection.users.iter().map(String::as_str).collect();
    let mut users: Vec<User> = users_by_upn(client, &named).await?;
    // Users named by object id.
    let by_id: Vec<UserId> = selection
        .users
        .iter()
        .filter_map(|u| u.parse::<UserId>().ok())
        .collect();
    users.extend(users_by_id(client, &by_id).await?);
    for key in &selection.groups {
        match key.parse::<GroupId>() {
            Ok(id) => {
                group_ids.insert(id);
            }
            Err(_) => {
                for field in ["displayName", "mailNickname"] {
                    let filter = format!("{field} eq '{}'", key.replace('\'', "''"));
                    let found: Vec<crate::snapshot::Group> = client
                        .list_all(client.groups_url(Some(&filter))?, &[])
                        .await?;
                    group_ids.extend(found.iter().map(|g| g.id));
                }
            }
        }
    }
    if selection.errors {
        for group in groups_with_license_errors(client).await? {
            group_ids.insert(group);
            user_ids.extend(members_with_license_errors(client, group).await?);
        }
    }
    let groups_wanted: Vec<GroupId> = group_ids.iter().copied().collect();
    let (skus, _, groups) = read_principals(client, &[], &groups_wanted).await?;
    for g in &groups {
        if selection.groups.iter().any(|k| names(g, k)) {
            user_ids.extend(g.members.iter().copied());
        }
    }
    user_ids.extend(users.iter().map(|u| u.id));
    let wanted: Vec<UserId> = user_ids.into_iter().collect();
    let mut users = users_by_id(client, &wanted).await?;
    // The groups the users' assignments come from, for the report's names.
    let sources: Vec<GroupId> = users
        .iter()
        .flat_map(|u| u.inherited_states().filter_map(|s| s.assigned_by_group))
        .filter(|g| !group_ids.contains(g))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut groups = groups;
    if !sources.is_empty() {
        groups.extend(read_principals(client, &[], &sources).await?.2);
    }
    users.sort_by_key(|u| u.id);
    users.dedup_by(|a, b| a.id == b.id);
    Ok(TenantSnapshot {
        version: SNAPSHOT_VERSION,
        tenant_id: tenant,
        tenant_domain: None,
        verified_domains: Vec::new(),
        subscribed_skus: skus,
        users,
        groups,
        subscriptions: Vec::new(),
        directory_audits: None,
        apps: Vec::new(),
        service_plan_rules: Default::default(),
    })
}

/// True when `group` is the one `key` names (object id, displayName or mailNickname).
fn names(group: &crate::snapshot::Group, key: &str) -> bool {
    group.id.to_string().eq_ignore_ascii_case(key.trim())
        || group.display_name.eq_ignore_ascii_case(key)
        || group
            .mail_nickname
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(key))
}

/// How long to wait for the result.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    /// Longest wait for the users' failing assignments to clear.
    pub timeout: Duration,
    /// Pause between two reads.
    pub poll: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            poll: Duration::from_secs(2),
        }
    }
}

/// Reprocesses `targets` (users of `before`), then waits — for the users whose call
/// Graph accepted but whose read still shows a failing assignment — until that clears
/// or `wait.timeout` passes, and returns the users as last read with the failed calls
/// (Graph's status, code and message by user). Errors only when the journal cannot be
/// written or the users cannot be read back.
pub async fn run(
    client: &GraphClient,
    journal: &Journal,
    before: &TenantSnapshot,
    targets: &[UserId],
    wait: WaitOptions,
    progress: &dyn ReadProgress,
) -> Result<(Vec<User>, HashMap<UserId, String>), ApplyError> {
    let by_id: HashMap<UserId, &User> = before.users.iter().map(|u| (u.id, u)).collect();
    let units: Vec<Unit> = targets
        .iter()
        .filter_map(|id| by_id.get(id))
        .enumerate()
        .map(|(i, u)| Unit {
            change: i,
            principal: Principal::User {
                id: u.id,
                name: u.user_principal_name.clone(),
            },
            operations: vec![Operation::ReprocessLicenseAssignment],
        })
        .collect();
    journal.record(Entry {
        event: Some(Event::Start),
        message: Some(format!(
            "tenant {}: reprocess {} user(s)",
            before.tenant_id,
            units.len()
        )),
        ..Entry::default()
    })?;
    // Reprocessing changes no assignment: the gate allows it for any user (and refuses
    // a group), whatever the config says.
    let gate = Gate::new(Allowed::default());
    let executor = Executor::new(client, journal, progress, &gate);
    let phase = Phase {
        kind: PhaseKind::Reprocess,
        units,
    };
    let outcomes = executor.run(&phase).await?;
    let mut failed: HashMap<UserId, String> = HashMap::new();
    for (unit, outcome) in phase.units.iter().zip(outcomes) {
        if let (Principal::User { id, .. }, UnitOutcome::Failed(f)) = (&unit.principal, outcome) {
            failed.insert(
                *id,
                format!(
                    "{} {}: {} (request-id {})",
                    f.status,
                    f.code.as_deref().unwrap_or("-"),
                    f.message,
                    f.request_id.as_deref().unwrap_or("none")
                ),
            );
        }
    }
    let ids: Vec<UserId> = phase
        .units
        .iter()
        .filter_map(|u| match u.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Group { .. } => None,
        })
        .collect();
    progress.event(ReadEvent::Phase {
        name: "waiting for the reprocessed licenses",
        total: Some(ids.len() as u64),
    });
    let start = Instant::now();
    let mut latest: HashMap<UserId, User> = HashMap::new();
    loop {
        // Users whose call Graph accepted and who still show a failing assignment.
        let pending: Vec<UserId> = ids
            .iter()
            .filter(|id| !failed.contains_key(id))
            .filter(|id| latest.get(id).is_none_or(has_errors))
            .copied()
            .collect();
        let read: Vec<UserId> = if latest.is_empty() {
            ids.clone()
        } else {
            pending.clone()
        };
        if read.is_empty() {
            break;
        }
        let users = users_by_id(client, &read)
            .await
            .map_err(ApplyError::Verify)?;
        let before_count = pending.len();
        for u in users {
            latest.insert(u.id, u);
        }
        let still = ids
            .iter()
            .filter(|id| !failed.contains_key(id))
            .filter(|id| latest.get(id).is_none_or(has_errors))
            .count();
        progress.event(ReadEvent::Items(before_count.saturating_sub(still) as u64));
        if still == 0 || start.elapsed() >= wait.timeout {
            break;
        }
        tokio::time::sleep(wait.poll.min(wait.timeout.saturating_sub(start.elapsed()))).await;
    }
    journal.record(Entry {
        event: Some(Event::End),
        outcome: Some("reprocessed"),
        message: Some(format!(
            "{} user(s) reprocessed, {} call(s) failed, read back after {:.1} s",
            ids.len(),
            failed.len(),
            start.elapsed().as_secs_f64()
        )),
        ..Entry::default()
    })?;
    let mut users: Vec<User> = latest.into_values().collect();
    users.sort_by_key(|u| u.id);
    Ok((users, failed))
}
