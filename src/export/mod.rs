//! Export: a tenant snapshot → the files of a config directory that describes it.
//!
//! [`export`] is pure: it takes a [`TenantSnapshot`] and [`ExportOptions`] and returns the
//! files (relative paths and text) plus warnings, with no file system, network, clock or
//! environment, so the same tenant always gives byte-identical files. The files are built
//! so that `plan` against the same tenant has no changes: users carry only their direct
//! licenses (inherited ones belong to their groups), groups their own licenses, every name
//! resolves back to the object it came from (else the GUID is written, with the reason in a
//! comment), and a principal licensectl could not manage without changing it (a suspended
//! subscription, a plan the SKU no longer lists, a malformed name) is left out with a
//! warning rather than written wrong. [`target`] decides, again without I/O, what writing
//! into an existing directory may replace and what `--diff` shows; the CLI reads and writes.
//! This module must not read or write files, talk to Graph, or print.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub(crate) mod layout;
pub(crate) mod names;
pub(crate) mod render;
pub mod target;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashMap};

use crate::config::check::upn_problem;
use crate::config::countries;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ids::{ServicePlanId, SkuId};
use crate::plan::resolve::TenantIndex;
use crate::snapshot::{AssignmentStateKind, TenantSnapshot, User};

pub use target::ExportError;

use names::{Catalog, Written};

/// Which users to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UserSelection {
    /// Users holding at least one direct license.
    #[default]
    Licensed,
    /// Every user; those without a direct license get `licenses: []`.
    All,
}

/// How to write service plan lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanStyle {
    /// Always `enabled_plans` (an allowlist), even when every plan is on.
    Enabled,
    /// Always `disabled_plans` (nothing when every plan is on).
    Disabled,
}

/// Export switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Which users to write.
    pub users: UserSelection,
    /// Force one form of plan list; `None` writes whichever lists fewer plans.
    pub plans: Option<PlanStyle>,
    /// Write each user's usage location.
    pub usage_locations: bool,
    /// Most principals per file before a file is split.
    pub max_per_file: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            users: UserSelection::Licensed,
            plans: None,
            usage_locations: true,
            max_per_file: layout::MAX_PER_FILE,
        }
    }
}

/// One file of the exported directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// `/`-separated path relative to the config directory.
    pub path: String,
    /// The file's text.
    pub contents: String,
}

/// The result of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The files, sorted by path.
    pub files: Vec<ExportFile>,
    /// Principals and values left out, and why (warnings), sorted.
    pub warnings: Vec<Diagnostic>,
    /// Users written.
    pub users: usize,
    /// Groups written.
    pub groups: usize,
}

/// A service plan list as written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plans {
    /// Neither list: every plan on.
    All,
    /// `enabled_plans`.
    Enabled(Vec<Written>),
    /// `disabled_plans`.
    Disabled(Vec<Written>),
}

/// One license as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LicenseEntry {
    id: SkuId,
    sku: Written,
    plans: Plans,
    /// Groups that also give the user this SKU (the direct copy is redundant).
    also_inherited_from: Vec<String>,
}

/// One principal as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: Written,
    usage_location: Option<String>,
    licenses: Vec<LicenseEntry>,
}

/// The direct licenses of a user, as the planner sees them: the `licenseAssignmentStates`
/// with no `assignedByGroup` (the first per SKU), or every assigned license when the
/// snapshot has no assignment states at all.
fn direct_licenses(user: &User) -> Vec<(SkuId, &[ServicePlanId])> {
    if user.license_assignment_states.is_empty() {
        return user
            .assigned_licenses
            .iter()
            .map(|l| (l.sku_id, l.disabled_plans.as_slice()))
            .collect();
    }
    let mut out: Vec<(SkuId, &[ServicePlanId])> = Vec::new();
    for state in user.direct_states() {
        if !out.iter().any(|(sku, _)| *sku == state.sku_id) {
            out.push((state.sku_id, state.disabled_plans.as_slice()));
        }
    }
    out
}

/// Writes the licenses a principal holds, or says why they cannot be written so that a
/// plan would keep them as they are.
fn license_entries(
    held: &[(SkuId, &[ServicePlanId])],
    catalog: &Catalog,
    style: Option<PlanStyle>,
) -> Result<Vec<LicenseEntry>, String> {
    let mut out: Vec<LicenseEntry> = Vec::with_capacity(held.len());
    for (sku_id, disabled) in held {
        let Some(sku) = catalog.sku(*sku_id) else {
            return Err(format!(
                "it holds SKU {sku_id}, which is not among the tenant's subscribedSkus"
            ));
        };
        if let Some(why) = &sku.unassignable {
            return Err(format!("it holds {}, but {why}", sku.written.text));
        }
        let mut off: Vec<ServicePlanId> = disabled.to_vec();
        off.sort();
        off.dedup();
        if let Some(unknown) = off.iter().find(|p| !sku.plans.contains_key(p)) {
            return Err(format!(
                "its {} has service plan {unknown} disabled, which the SKU does not list",
                sku.written.text
            ));
        }
        let on: Vec<ServicePlanId> = sku
            .plan_ids
            .iter()
            .filter(|p| !off.contains(p))
            .copied()
            .collect();
        let written = |ids: &[ServicePlanId]| -> Vec<Written> {
            let mut list: Vec<Written> = ids
                .iter()
                .filter_map(|id| sku.plans.get(id).cloned())
                .collect();
            list.sort_by_cached_key(Written::sort_key);
            list
        };
        let plans = match style {
            Some(PlanStyle::Enabled) => Plans::Enabled(written(&on)),
            Some(PlanStyle::Disabled) | None if off.is_empty() => Plans::All,
            Some(PlanStyle::Disabled) => Plans::Disabled(written(&off)),
            None if on.len() < off.len() => Plans::Enabled(written(&on)),
            None => Plans::Disabled(written(&off)),
        };
        out.push(LicenseEntry {
            id: *sku_id,
            sku: sku.written.clone(),
            plans,
            also_inherited_from: Vec::new(),
        });
    }
    out.sort_by_cached_key(|l| l.sku.sort_key());
    Ok(out)
}

/// The usage location to write for `user`, or `Err(warning)` when it is not a valid code.
fn usage_location(user: &User) -> Result<Option<String>, Box<Diagnostic>> {
    let Some(code) = user.usage_location.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if countries::is_alpha2(code) {
        return Ok(Some(code.to_owned()));
    }
    if let Some((alpha2, _)) = countries::by_alpha2(code) {
        return Ok(Some(alpha2.to_owned()));
    }
    Err(Box::new(Diagnostic::new(
        DiagnosticCode::ExportUsageLocationDropped,
        format!(
            "user {} has usage location '{code}', which is not an ISO 3166-1 alpha-2 code; it is not exported",
            user.user_principal_name
        ),
    )
    .help("set a valid usage location on the user in Entra ID, or add `usage_location:` to the user in the config")))
}

fn skipped_user(user: &User, why: &str) -> Diagnostic {
    Diagnostic::new(
        DiagnosticCode::ExportSkippedUser,
        format!(
            "user {} ({}) is not exported: {why}",
            user.user_principal_name, user.id
        ),
    )
    .help("the user stays unmanaged (licensectl never touches it); fix the cause in the tenant and export again, or declare the user by hand")
}

/// Notes on each direct license the groups that give the user the same SKU too (working
/// group assignments only), as the planner reports them: the direct copy is redundant.
fn note_inherited(user: &User, index: &TenantIndex<'_>, licenses: &mut [LicenseEntry]) {
    for state in user.inherited_states() {
        if state.state == AssignmentStateKind::Error {
            continue;
        }
        let (Some(license), Some(group)) = (
            licenses.iter_mut().find(|l| l.id == state.sku_id),
            state.assigned_by_group,
        ) else {
            continue;
        };
        let name = index
            .groups
            .get(&group)
            .map_or_else(|| group.to_string(), |g| g.display_name.clone());
        if !license.also_inherited_from.contains(&name) {
            license.also_inherited_from.push(name);
            license.also_inherited_from.sort();
        }
    }
}

/// Exports `snapshot` as the files of a config directory. Pure and deterministic.
pub fn export(snapshot: &TenantSnapshot, options: &ExportOptions) -> Export {
    let catalog = Catalog::new(&snapshot.subscribed_skus);
    let index = TenantIndex::new(snapshot);
    let mut warnings: Vec<Diagnostic> = Vec::new();

    let mut upn_count: HashMap<String, usize> = HashMap::with_capacity(snapshot.users.len());
    for user in &snapshot.users {
        *upn_count
            .entry(user.user_principal_name.to_lowercase())
            .or_default() += 1;
    }
    // Users by domain bucket, then by lowercase UPN.
    let mut users: BTreeMap<String, Vec<(String, Entry)>> = BTreeMap::new();
    let mut locations: BTreeMap<String, usize> = BTreeMap::new();
    let mut user_count = 0;
    for user in &snapshot.users {
        let upn = &user.user_principal_name;
        let held = direct_licenses(user);
        if held.is_empty() && options.users == UserSelection::Licensed {
            continue;
        }
        if let Some(problem) =
            upn_problem(upn).or_else(|| (upn.trim() != upn).then_some("it has surrounding spaces"))
        {
            warnings.push(skipped_user(
                user,
                &format!("its userPrincipalName is not name@domain ({problem})"),
            ));
            continue;
        }
        if upn_count.get(&upn.to_lowercase()).copied().unwrap_or(0) > 1 {
            warnings.push(skipped_user(
                user,
                "another user has the same userPrincipalName (ignoring case)",
            ));
            continue;
        }
        let mut licenses = match license_entries(&held, &catalog, options.plans) {
            Ok(licenses) => licenses,
            Err(why) => {
                warnings.push(skipped_user(user, &why));
                continue;
            }
        };
        note_inherited(user, &index, &mut licenses);
        let location = match usage_location(user) {
            Ok(location) => location,
            Err(warning) => {
                if options.usage_locations {
                    warnings.push(*warning);
                }
                None
            }
        };
        if let Some(code) = &location {
            *locations.entry(code.clone()).or_default() += 1;
        }
        let (local, domain) = upn.rsplit_once('@').unwrap_or((upn.as_str(), ""));
        user_count += 1;
        users.entry(layout::domain_stem(domain)).or_default().push((
            layout::bucket_key(local),
            Entry {
                key: Written {
                    text: upn.clone(),
                    why: None,
                },
                usage_location: location.filter(|_| options.usage_locations),
                licenses,
            },
        ));
    }

    let mut groups: Vec<(String, Entry)> = Vec::new();
    for group in &snapshot.groups {
        if group.assigned_licenses.is_empty() {
            continue;
        }
        let skip = |why: String| {
            Diagnostic::new(
                DiagnosticCode::ExportSkippedGroup,
                format!(
                    "group {} ({}) is not exported: {why}",
                    group.display_name, group.id
                ),
            )
            .help("the group stays unmanaged (licensectl never touches it); fix the cause in the tenant and export again")
        };
        if !group.security_enabled {
            warnings.push(skip(
                "it assigns licenses but is not security-enabled".to_owned(),
            ));
            continue;
        }
        let mut held: Vec<(SkuId, &[ServicePlanId])> = Vec::new();
        for license in &group.assigned_licenses {
            if !held.iter().any(|(sku, _)| *sku == license.sku_id) {
                held.push((license.sku_id, license.disabled_plans.as_slice()));
            }
        }
        let licenses = match license_entries(&held, &catalog, options.plans) {
            Ok(licenses) => licenses,
            Err(why) => {
                warnings.push(skip(why));
                continue;
            }
        };
        let key = names::group_key(group, &index);
        groups.push((
            layout::bucket_key(&key.text),
            Entry {
                key,
                usage_location: None,
                licenses,
            },
        ));
    }

    let group_count = groups.len();
    let files = render::files(
        snapshot,
        options,
        render::Principals {
            users,
            groups,
            common_location: most_common(&locations),
        },
    );
    warnings.sort_by(|a, b| (a.code, &a.message).cmp(&(b.code, &b.message)));
    Export {
        files,
        warnings,
        users: user_count,
        groups: group_count,
    }
}

/// The most frequent key (the first in order on a tie).
fn most_common(counts: &BTreeMap<String, usize>) -> Option<String> {
    let mut best: Option<(&String, usize)> = None;
    for (key, count) in counts {
        if best.is_none_or(|(_, b)| *count > b) {
            best = Some((key, *count));
        }
    }
    best.map(|(key, _)| key.clone())
}

#[cfg(test)]
mod tests;
