//! Reprocessing group-based licenses (`licensectl reprocess`): which users to reprocess,
//! what is wrong with each before, and what reprocessing fixed.
//!
//! Graph has no group-level reprocess: `POST /users/{id}/reprocessLicenseAssignment`
//! re-evaluates one user's group-based licenses, and fixes an assignment in `Error` or
//! `ActiveWithError` once its cause is gone — seats freed, a conflicting plan disabled, a
//! usage location set
//! (https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment,
//! https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems).
//! [`select`] picks the users (named ones, members of named groups, or every user with a
//! license error), [`failures`] explains each failing assignment in plain language with
//! its fix (the planner's `assignment-error` findings), and [`outcome`] compares the
//! tenant before and after. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::config::DesiredState;
use crate::ids::UserId;
use crate::plan::{FindingKind, PlanOptions, Principal, plan};
use crate::snapshot::{AssignmentStateKind, Group, TenantSnapshot, User};

/// Whom to reprocess, as the command line names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Users by userPrincipalName (or object id).
    pub users: Vec<String>,
    /// Groups by object id, displayName or mailNickname: their direct members.
    pub groups: Vec<String>,
    /// Every user with a license assignment in `Error` or `ActiveWithError`.
    pub errors: bool,
}

impl Selection {
    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && !self.errors
    }
}

/// Why a selection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A named user is not in the tenant.
    #[error("no user '{0}' in the tenant")]
    UnknownUser(String),
    /// A named group is not in the tenant.
    #[error("no group '{0}' in the tenant (name it by object id, displayName or mailNickname)")]
    UnknownGroup(String),
    /// A group name matches several groups.
    #[error("several groups are named '{0}'; name the group by its object id")]
    AmbiguousGroup(String),
}

/// True when one of the user's license assignments failed.
pub fn has_errors(user: &User) -> bool {
    user.license_assignment_states.iter().any(|s| {
        matches!(
            s.state,
            AssignmentStateKind::Error | AssignmentStateKind::ActiveWithError
        )
    })
}

/// The group `key` names: by object id, else by displayName or mailNickname (ignoring
/// case), which must be unique.
pub fn find_group<'t>(snapshot: &'t TenantSnapshot, key: &str) -> Result<&'t Group, SelectError> {
    if let Some(group) = snapshot
        .groups
        .iter()
        .find(|g| g.id.to_string().eq_ignore_ascii_case(key.trim()))
    {
        return Ok(group);
    }
    let named: Vec<&Group> = snapshot
        .groups
        .iter()
        .filter(|g| {
            g.display_name.eq_ignore_ascii_case(key)
                || g.mail_nickname
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(key))
        })
        .collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(SelectError::UnknownGroup(key.to_owned())),
        _ => Err(SelectError::AmbiguousGroup(key.to_owned())),
    }
}

/// The users `selection` names in `snapshot`, each once, sorted by userPrincipalName.
pub fn select(
    snapshot: &TenantSnapshot,
    selection: &Selection,
) -> Result<Vec<UserId>, SelectError> {
    let by_upn: HashMap<String, &User> = snapshot
        .users
        .iter()
        .map(|u| (u.user_principal_name.to_lowercase(), u))
        .collect();
    let by_id: HashMap<UserId, &User> = snapshot.users.iter().map(|u| (u.id, u)).collect();
    let mut chosen: BTreeMap<(String, UserId), ()> = BTreeMap::new();
    let mut take = |user: &User| {
        chosen.insert((user.user_principal_name.to_lowercase(), user.id), ());
    };
    for name in &selection.users {
        let user = by_upn.get(&name.to_lowercase()).copied().or_else(|| {
            name.parse::<UserId>()
                .ok()
                .and_then(|id| by_id.get(&id).copied())
        });
        match user {
            Some(user) => take(user),
            None => return Err(SelectError::UnknownUser(name.clone())),
        }
    }
    for key in &selection.groups {
        let group = find_group(snapshot, key)?;
        for member in &group.members {
            if let Some(user) = by_id.get(member) {
                take(user);
            }
        }
    }
    if selection.errors {
        for user in snapshot.users.iter().filter(|u| has_errors(u)) {
            take(user);
        }
    }
    Ok(chosen.into_keys().map(|(_, id)| id).collect())
}

/// One failing license assignment, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The product's part number.
    pub sku: String,
    /// The group whose copy failed (`None`: assigned directly).
    pub group: Option<String>,
    /// Graph's error code (`CountViolation`, …).
    pub error: Option<String>,
    /// What is the matter, in one sentence.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl Failure {
    /// The assignment it concerns: part number and source.
    fn key(&self) -> (String, Option<String>) {
        (self.sku.clone(), self.group.clone())
    }
}

/// Every user's failing assignments in `snapshot`, explained (the planner's
/// `assignment-error` findings), by user.
pub fn failures(snapshot: &TenantSnapshot) -> HashMap<UserId, Vec<Failure>> {
    let findings = plan(
        &DesiredState::default(),
        snapshot,
        &PlanOptions {
            allow_unsafe: true,
            ..PlanOptions::default()
        },
    )
    .findings;
    let mut out: HashMap<UserId, Vec<Failure>> = HashMap::new();
    for f in findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::AssignmentError)
    {
        let Principal::User { id, .. } = f.principal else {
            continue;
        };
        out.entry(id).or_default().push(Failure {
            sku: f.sku.part_number,
            group: f.group.map(|g| g.name().to_owned()),
            error: f.error,
            message: f.message,
            fix: f.fix,
        });
    }
    out
}

/// What reprocessing did for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every assignment that failed before is working now.
    Fixed,
    /// Some assignment still fails (or failed because of the reprocess).
    StillFailing,
    /// Nothing failed before or after.
    NoErrors,
}

/// One reprocessed user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserResult {
    /// Who.
    pub user: Principal,
    /// The verdict.
    pub verdict: Verdict,
    /// Assignments that failed before and work now.
    pub fixed: Vec<Failure>,
    /// Assignments that fail after reprocessing, with the fix.
    pub failing: Vec<Failure>,
    /// Graph's answer when the reprocess call itself failed (its status and message).
    pub call_failed: Option<String>,
}

/// What `licensectl reprocess` did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True for `--dry-run`: nothing was sent, `failing` is the state before.
    pub dry_run: bool,
    /// One per user, by userPrincipalName.
    pub users: Vec<UserResult>,
    /// Users fixed.
    pub fixed: u64,
    /// Users still failing.
    pub still_failing: u64,
    /// Users without errors before or after.
    pub no_errors: u64,
}

impl Report {
    /// True when no user still fails.
    pub fn all_fixed(&self) -> bool {
        self.still_failing == 0
    }
}

fn principal(user: &User) -> Principal {
    Principal::User {
        id: user.id,
        name: user.user_principal_name.clone(),
    }
}

/// The report of a `--dry-run`: each target with its failing assignments now.
pub fn dry_run(targets: &[UserId], before: &TenantSnapshot) -> Report {
    let failures = failures(before);
    let users = users_by_id(before);
    let results = targets
        .iter()
        .filter_map(|id| users.get(id))
        .map(|user| {
            let failing = failures.get(&user.id).cloned().unwrap_or_default();
            UserResult {
                user: principal(user),
                verdict: if failing.is_empty() {
                    Verdict::NoErrors
                } else {
                    Verdict::StillFailing
                },
                fixed: Vec::new(),
                failing,
                call_failed: None,
            }
        })
        .collect();
    finish(true, results)
}

fn users_by_id(snapshot: &TenantSnapshot) -> HashMap<UserId, &User> {
    snapshot.users.iter().map(|u| (u.id, u)).collect()
}

/// The report after reprocessing `targets`: per user, which of the assignments failing
/// in `before` work in `after`, and which fail in `after`. `call_failures` holds Graph's
/// answer for users whose reprocess call failed.
pub fn outcome(
    targets: &[UserId],
    before: &TenantSnapshot,
    after: &TenantSnapshot,
    call_failures: &HashMap<UserId, String>,
) -> Report {
    let was = failures(before);
    let now = failures(after);
    let before_users = users_by_id(before);
    let after_users = users_by_id(after);
    let mut results = Vec::new();
    for id in targets {
        let Some(user) = after_users.get(id).or_else(|| before_users.get(id)) else {
            continue;
        };
        let failing = now.get(id).cloned().unwrap_or_default();
        let still: BTreeSet<(String, Option<String>)> = failing.iter().map(Failure::key).collect();
        let fixed: Vec<Failure> = was
            .get(id)
            .into_iter()
            .flatten()
            .filter(|f| !still.contains(&f.key()))
            .cloned()
            .collect();
        let verdict = if !failing.is_empty() {
            Verdict::StillFailing
        } else if fixed.is_empty() {
            Verdict::NoErrors
        } else {
            Verdict::Fixed
        };
        results.push(UserResult {
            user: principal(user),
            verdict,
            fixed,
            failing,
            call_failed: call_failures.get(id).cloned(),
        });
    }
    finish(false, results)
}

fn finish(dry_run: bool, mut users: Vec<UserResult>) -> Report {
    let order = crate::plan::sorted_order(users.iter().map(|r| r.user.sort_key()).collect());
    crate::plan::apply_order(&mut users, order);
    let count = |v: Verdict| users.iter().filter(|r| r.verdict == v).count() as u64;
    Report {
        dry_run,
        fixed: count(Verdict::Fixed),
        still_failing: count(Verdict::StillFailing),
        no_errors: count(Verdict::NoErrors),
        users,
    }
}

/// The permissions `POST /users/{id}/reprocessLicenseAssignment` accepts, least
/// privileged first: `User.ReadWrite.All`, `Directory.ReadWrite.All` — not
/// `LicenseAssignment.ReadWrite.All`, which covers only `assignLicense`
/// (https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment#permissions).
pub const PERMISSIONS: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];

/// The refusal when a token granting `roles` (application) or `scopes` (delegated)
/// cannot reprocess; `None` when it can, or when it names no permission at all (Graph
/// then decides).
pub fn missing_permission(roles: &[String], scopes: &[String]) -> Option<String> {
    let delegated = roles.is_empty() && !scopes.is_empty();
    let granted = if delegated { scopes } else { roles };
    if granted.is_empty()
        || PERMISSIONS
            .iter()
            .any(|p| granted.iter().any(|g| g.eq_ignore_ascii_case(p)))
    {
        return None;
    }
    let grant = if delegated {
        "sign in as a user whose token has the delegated permission User.ReadWrite.All and a role such as License Administrator"
    } else {
        "grant the app registration the Microsoft Graph application permission User.ReadWrite.All and give admin consent (Entra admin center > App registrations > API permissions)"
    };
    Some(format!(
        "the token lacks User.ReadWrite.All (or Directory.ReadWrite.All), which reprocessing license assignments needs (LicenseAssignment.ReadWrite.All does not cover it); {grant}, then run reprocess again"
    ))
}
