//! Resolution: names in the desired state → GUIDs of the tenant.
//!
//! SKU part numbers and service plan names resolve through the snapshot's
//! `subscribedSkus`; users through their userPrincipalName; groups through object id,
//! displayName or mailNickname. `enabled_plans` compiles to the complete `disabledPlans`
//! set (every plan of the SKU not listed, so plans Microsoft adds later stay off). Every
//! problem becomes a [`Diagnostic`] at the config location, with a suggestion when a close
//! name exists. A principal with any resolution error is left out of the plan entirely,
//! so that a typo can never turn into a removal.

use hashbrown::{HashMap, HashSet};
use std::borrow::Cow;
use std::sync::Arc;

use crate::config::{
    DesiredLicense, DesiredState, DesiredUser, GroupKey, Located, PlanRef, PlanSelection,
    PrincipalRef, SkuRef,
};
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};
use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::snapshot::{
    AppliesTo, CapabilityStatus, Group, SubscribedSku, TenantSnapshot, User, UserIndex,
};

use super::model::{PlanName, SkuName};

/// Lookup tables over a snapshot, keyed by id and by (lowercase) name.
#[derive(Debug)]
pub(crate) struct TenantIndex<'a> {
    /// The snapshot.
    pub snapshot: &'a TenantSnapshot,
    /// SKUs by id.
    pub skus: HashMap<SkuId, &'a SubscribedSku>,
    skus_by_part: HashMap<&'a str, &'a SubscribedSku>,
    skus_by_part_lower: HashMap<String, &'a SubscribedSku>,
    /// Users by id and by UPN.
    pub users: UserTables<'a>,
    /// Groups by id.
    pub groups: HashMap<GroupId, &'a Group>,
    groups_by_name: HashMap<String, Vec<&'a Group>>,
}

impl<'a> TenantIndex<'a> {
    /// Indexes a snapshot (linear in its size).
    pub(crate) fn new(snapshot: &'a TenantSnapshot) -> Self {
        Self::with_users(snapshot, None)
    }

    /// Indexes a snapshot, taking `users` as its users' index when it is one of as many
    /// users (the one its reader built: [`crate::snapshot::TenantSnapshot::read_indexed`]).
    pub(crate) fn with_users(snapshot: &'a TenantSnapshot, users: Option<&'a UserIndex>) -> Self {
        let mut index = TenantIndex {
            snapshot,
            skus: HashMap::with_capacity(snapshot.subscribed_skus.len()),
            skus_by_part: HashMap::new(),
            skus_by_part_lower: HashMap::new(),
            users: UserTables::new(&snapshot.users, users),
            groups: HashMap::with_capacity(snapshot.groups.len()),
            groups_by_name: HashMap::new(),
        };
        for sku in &snapshot.subscribed_skus {
            index.skus.insert(sku.sku_id, sku);
            index.skus_by_part.insert(&sku.sku_part_number, sku);
            index
                .skus_by_part_lower
                .insert(sku.sku_part_number.to_lowercase(), sku);
        }
        for group in &snapshot.groups {
            index.groups.insert(group.id, group);
            let mut names = vec![group.display_name.to_lowercase()];
            if let Some(nick) = &group.mail_nickname {
                let nick = nick.to_lowercase();
                if !names.contains(&nick) {
                    names.push(nick);
                }
            }
            for name in names {
                let entry = index.groups_by_name.entry(name).or_default();
                if !entry.iter().any(|g| g.id == group.id) {
                    entry.push(group);
                }
            }
        }
        index
    }

    /// The SKU's id and part number (the GUID when the tenant does not list it).
    pub(crate) fn sku_name(&self, id: SkuId) -> SkuName {
        SkuName {
            part_number: self
                .skus
                .get(&id)
                .map_or_else(|| id.to_string(), |s| s.sku_part_number.clone()),
            id,
        }
    }

    /// A plan's id and name within a SKU (the GUID when the SKU does not list it).
    pub(crate) fn plan_name(&self, sku: SkuId, plan: ServicePlanId) -> PlanName {
        let name = self
            .skus
            .get(&sku)
            .and_then(|s| s.service_plans.iter().find(|p| p.service_plan_id == plan))
            .map_or_else(|| plan.to_string(), |p| p.service_plan_name.clone());
        PlanName { name, id: plan }
    }

    /// A user by UPN, case-insensitively.
    pub(crate) fn user_by_upn(&self, upn: &str) -> Option<&'a User> {
        self.users.position_by_upn(upn).map(|i| self.user_at(i))
    }

    /// The snapshot's user at `position` (one this index gave, as in
    /// [`ResolvedUser::position`]).
    pub(crate) fn user_at(&self, position: usize) -> &'a User {
        &self.snapshot.users[position]
    }

    /// Groups whose displayName or mailNickname is `name`, case-insensitively.
    pub(crate) fn groups_named(&self, name: &str) -> &[&'a Group] {
        self.groups_by_name
            .get(&name.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    fn sku_by_part(&self, part: &str) -> Option<&'a SubscribedSku> {
        self.skus_by_part
            .get(part)
            .or_else(|| self.skus_by_part_lower.get(&part.to_lowercase()))
            .copied()
    }
}

/// The snapshot's users by id and by lowercase UPN: the index the snapshot's check built
/// when the reader handed it on ([`crate::snapshot::TenantSnapshot::read_indexed`]), else
/// one built here. A repeated id or UPN (the snapshot check refuses them) finds the
/// first user.
pub(crate) struct UserTables<'a> {
    users: &'a [User],
    index: Cow<'a, UserIndex>,
}

impl<'a> UserTables<'a> {
    fn new(users: &'a [User], given: Option<&'a UserIndex>) -> Self {
        let index = match given {
            Some(index) if index.fits(users) => Cow::Borrowed(index),
            _ => Cow::Owned(UserIndex::new(users)),
        };
        UserTables { users, index }
    }

    /// The user with this id.
    pub(crate) fn get(&self, id: &UserId) -> Option<&'a User> {
        self.position(id).map(|i| &self.users[i])
    }

    /// The position in the snapshot's list of the user with this id.
    pub(crate) fn position(&self, id: &UserId) -> Option<usize> {
        self.index.position(self.users, id)
    }

    /// The position of the user with this UPN, case-insensitively.
    fn position_by_upn(&self, upn: &str) -> Option<usize> {
        self.index.position_by_upn(self.users, upn)
    }
}

impl std::fmt::Debug for UserTables<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTables")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// One license with every name resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedLicense {
    /// The product.
    pub sku: SkuId,
    /// The complete `disabledPlans` set, sorted.
    pub disabled_plans: Arc<[ServicePlanId]>,
    /// True when the config gave an `enabled_plans` allowlist.
    pub allowlist: bool,
    /// Where the entry is in the config.
    pub location: Location,
}

/// A declared user found in the tenant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedUser {
    /// The tenant's user.
    pub id: UserId,
    /// Where that user is in the snapshot's list ([`TenantIndex::user_at`]): planning
    /// and notes reach it without a second lookup.
    pub position: usize,
    /// Where the user is declared.
    pub location: Location,
    /// Usage location given in the config for this user.
    pub usage_location: Option<String>,
    /// Direct licenses (`None` = unmanaged licenses).
    pub licenses: Option<Vec<ResolvedLicense>>,
}

/// A declared group found in the tenant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResolvedGroup {
    /// The tenant's group.
    pub id: GroupId,
    /// Where the group is declared.
    pub location: Location,
    /// The group's licenses (`None` = unmanaged).
    pub licenses: Option<Vec<ResolvedLicense>>,
}

/// The desired state with names resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Resolved {
    /// Declared users that resolved without error, in config order.
    pub users: Vec<ResolvedUser>,
    /// Declared groups that resolved without error, in config order.
    pub groups: Vec<ResolvedGroup>,
    /// Every declared user found in the tenant (also ones with license errors), so that
    /// they never count as unmanaged.
    pub declared_users: DeclaredUsers,
    /// Every declared group found in the tenant.
    pub declared_groups: HashSet<GroupId>,
    /// Protected users.
    pub protected_users: HashSet<UserId>,
    /// Protected groups.
    pub protected_groups: HashSet<GroupId>,
    /// Problems found.
    pub diagnostics: Vec<Diagnostic>,
}

/// The snapshot's users declared in the config, by their position in its list of users
/// ([`TenantIndex::user_at`]): whoever asks walks that list, so each answer is a read of
/// the next entry instead of a lookup by id in a table of a quarter million.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeclaredUsers(Vec<bool>);

impl DeclaredUsers {
    /// None of `users` users declared.
    pub(crate) fn new(users: usize) -> Self {
        Self(vec![false; users])
    }

    /// Marks the user at `position` (one of the snapshot's positions) declared; false
    /// when it was already.
    fn insert(&mut self, position: usize) -> bool {
        self.0
            .get_mut(position)
            .is_some_and(|declared| !std::mem::replace(declared, true))
    }

    /// Whether the user at `position` in the snapshot's list is declared.
    pub(crate) fn contains(&self, position: usize) -> bool {
        self.0.get(position).copied().unwrap_or(false)
    }
}

/// From this many declared users, they are looked up and their licenses resolved in two
/// halves side by side.
const PARALLEL_LOOKUPS: usize = 50_000;

/// A declared user found in the tenant, with its licenses resolved (`None`: not managed)
/// and the diagnostics that gave.
type Found = (ResolvedUser, Vec<Diagnostic>);

/// Every declared user's live user, by UPN, with its licenses resolved; in order. A large
/// config's users (each lookup a cache miss or two in a table of every user) go in two
/// halves side by side, each with its own cache of plan sets.
fn find_users(desired: &DesiredState, index: &TenantIndex<'_>) -> Vec<Option<Found>> {
    let lookup = |users: &[DesiredUser], found: &mut Vec<Option<Found>>| {
        let mut cache = LicenseCache::default();
        found.extend(users.iter().map(|u| {
            let position = index.users.position_by_upn(&u.upn)?;
            let mut diagnostics = Vec::new();
            let licenses = u
                .licenses
                .as_ref()
                .map(|list| resolve_licenses(list, index, &mut cache, &mut diagnostics, &u.upn));
            let user = ResolvedUser {
                id: index.user_at(position).id,
                position,
                location: u.location.clone(),
                usage_location: u.usage_location.as_ref().map(|l| l.value.clone()),
                licenses,
            };
            Some((user, diagnostics))
        }));
    };
    // Room for every user at once: the other half is appended, never regrown into.
    let mut found = Vec::with_capacity(desired.users.len());
    if desired.users.len() < PARALLEL_LOOKUPS {
        lookup(&desired.users, &mut found);
        return found;
    }
    let (first, second) = desired.users.split_at(desired.users.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            let mut found = Vec::with_capacity(second.len());
            lookup(second, &mut found);
            found
        });
        lookup(first, &mut found);
        // A panic of the other half is the planner's own: raised again here.
        found.append(
            &mut other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        found
    })
}

/// Resolves `desired` against the tenant. Never fails: problems are diagnostics.
pub(crate) fn resolve(desired: &DesiredState, index: &TenantIndex<'_>) -> Resolved {
    let mut out = Resolved::default();
    check_tenant(desired, index.snapshot, &mut out.diagnostics);
    let mut cache = LicenseCache::default();
    // Suggesting a UPN scans every user; do it for the first few unknown users only.
    let mut suggestions: usize = 20;

    out.declared_users = DeclaredUsers::new(index.snapshot.users.len());
    // Looked up and resolved first (side by side for a large config), then taken in
    // order: a repeated declaration's licenses are dropped unreported, as if never read.
    // Collected from the found list's own iterator by `filter_map`, which std's
    // in-place collection builds in that list's memory rather than in fresh pages.
    let found = find_users(desired, index);
    let mut users = desired.users.iter();
    out.users = found
        .into_iter()
        .filter_map(|found| {
            let user = users.next()?;
            let Some((resolved, diagnostics)) = found else {
                out.diagnostics.push(unknown_user(
                    &user.upn,
                    &user.location,
                    index,
                    &mut suggestions,
                ));
                return None;
            };
            if !out.declared_users.insert(resolved.position) {
                // Rare: find the first declaration only now.
                let live = index.user_at(resolved.position);
                let first = desired
                    .users
                    .iter()
                    .find(|u| index.user_by_upn(&u.upn).is_some_and(|f| f.id == live.id))
                    .map_or(&user.location, |u| &u.location);
                out.diagnostics.push(
                    Diagnostic::new(
                        DiagnosticCode::DuplicatePrincipal,
                        format!("user {} is declared twice", live.user_principal_name),
                    )
                    .at(user.location.clone())
                    .related(first.clone(), "first declared here")
                    .help("keep one declaration of the user"),
                );
                return None;
            }
            let failed = diagnostics.iter().any(Diagnostic::is_error);
            out.diagnostics.extend(diagnostics);
            (!failed).then_some(resolved)
        })
        .collect();

    let mut seen_groups: HashMap<GroupId, &Location> = HashMap::new();
    for group in &desired.groups {
        let live = match find_group(&group.key, &group.location, index) {
            Ok(live) => live,
            Err(diagnostic) => {
                out.diagnostics.push(*diagnostic);
                continue;
            }
        };
        if let Some(first) = seen_groups.insert(live.id, &group.location) {
            out.diagnostics.push(
                Diagnostic::new(
                    DiagnosticCode::DuplicatePrincipal,
                    format!(
                        "group {} ({}) is declared twice",
                        live.display_name, live.id
                    ),
                )
                .at(group.location.clone())
                .related(first.clone(), "first declared here")
                .help(
                    "keep one declaration of the group (names and object ids can both point at it)",
                ),
            );
            continue;
        }
        out.declared_groups.insert(live.id);
        let before = out.diagnostics.len();
        let licenses = group.licenses.as_ref().map(|list| {
            resolve_licenses(
                list,
                index,
                &mut cache,
                &mut out.diagnostics,
                &live.display_name,
            )
        });
        if licenses.as_ref().is_some_and(|l| !l.is_empty()) && !live.security_enabled {
            out.diagnostics.push(
                Diagnostic::new(DiagnosticCode::GroupNotSecurityEnabled,
                    format!(
                        "group {} ({}) is not security-enabled, so it cannot assign licenses",
                        live.display_name, live.id
                    ),
                )
                .at(group.location.clone())
                .help("license a security group (or a Microsoft 365 group with securityEnabled) instead"),
            );
        }
        if out.diagnostics[before..].iter().any(Diagnostic::is_error) {
            continue;
        }
        out.groups.push(ResolvedGroup {
            id: live.id,
            location: group.location.clone(),
            licenses,
        });
    }

    for protected in &desired.settings.protected {
        match &protected.value {
            PrincipalRef::User(upn) => match index.user_by_upn(upn) {
                Some(user) => {
                    out.protected_users.insert(user.id);
                }
                None => out.diagnostics.push(unknown_user(
                    upn,
                    &protected.location,
                    index,
                    &mut suggestions,
                )),
            },
            PrincipalRef::Group(key) => {
                let key = match crate::ids::parse_guid(key) {
                    Ok(id) => GroupKey::Id(GroupId::new(id)),
                    Err(_) => GroupKey::Name(key.clone()),
                };
                match find_group(&key, &protected.location, index) {
                    Ok(group) => {
                        out.protected_groups.insert(group.id);
                    }
                    Err(diagnostic) => out.diagnostics.push(*diagnostic),
                }
            }
        }
    }
    out
}

fn check_tenant(desired: &DesiredState, live: &TenantSnapshot, diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.extend(tenant_pin_problem(desired, live));
}

/// Why `live` is not the tenant the config pins, if it is not (`tenant-mismatch`), or
/// cannot be told (`tenant-unverified`). A pinned GUID must equal `tenantId`; a pinned
/// domain must be `tenantDomain` or one of `verifiedDomains`.
pub fn tenant_pin_problem(desired: &DesiredState, live: &TenantSnapshot) -> Option<Diagnostic> {
    let pinned = desired.settings.tenant.as_ref()?;
    let live_name = match &live.tenant_domain {
        Some(domain) => format!("{domain} ({})", live.tenant_id),
        None => live.tenant_id.to_string(),
    };
    let matches = match crate::ids::parse_guid(&pinned.value) {
        Ok(id) => Some(id == live.tenant_id.0),
        Err(_) if live.tenant_domain.is_none() && live.verified_domains.is_empty() => None,
        Err(_) => Some(
            live.tenant_domain
                .iter()
                .chain(&live.verified_domains)
                .any(|d| d.eq_ignore_ascii_case(&pinned.value)),
        ),
    };
    match matches {
        Some(true) => None,
        Some(false) => Some(
            Diagnostic::new(DiagnosticCode::TenantMismatch,
                format!(
                    "the config is pinned to tenant {} but the snapshot is of tenant {live_name}",
                    pinned.value
                ),
            )
            .at(pinned.location.clone())
            .help("plan against a snapshot of the pinned tenant, or change `tenant` if the config really moved"),
        ),
        None => Some(
            Diagnostic::new(DiagnosticCode::TenantUnverified,
                format!(
                    "the config is pinned to tenant {} but the snapshot of tenant {live_name} does not name its domain",
                    pinned.value
                ),
            )
            .at(pinned.location.clone())
            .help(format!(
                "pin the tenant by id (`tenant: {}`) or take a snapshot that records tenantDomain",
                live.tenant_id
            )),
        ),
    }
}

fn unknown_user(
    upn: &str,
    location: &Location,
    index: &TenantIndex<'_>,
    budget: &mut usize,
) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        DiagnosticCode::UnknownUser,
        format!("user {upn} does not exist in the tenant"),
    )
    .at(location.clone());
    let candidates = index
        .snapshot
        .users
        .iter()
        .map(|u| u.user_principal_name.as_str());
    let best = if *budget > 0 {
        *budget -= 1;
        suggest(upn, candidates)
    } else {
        None
    };
    match best {
        Some(best) => diagnostic.help(format!("did you mean {best}?")),
        None => {
            diagnostic.help("check the userPrincipalName (the sign-in name, not the email alias)")
        }
    }
}

fn find_group<'a>(
    key: &GroupKey,
    location: &Location,
    index: &TenantIndex<'a>,
) -> Result<&'a Group, Box<Diagnostic>> {
    match key {
        GroupKey::Id(id) => index.groups.get(id).copied().ok_or_else(|| {
            Box::new(
                Diagnostic::new(
                    DiagnosticCode::UnknownGroup,
                    format!("group with object id {id} does not exist in the tenant"),
                )
                .at(location.clone())
                .help("copy the object id from Entra ID, or name the group by displayName"),
            )
        }),
        GroupKey::Name(name) => match index.groups_named(name) {
            [one] => Ok(*one),
            [] => {
                let candidates = index.snapshot.groups.iter().flat_map(|g| {
                    std::iter::once(g.display_name.as_str()).chain(g.mail_nickname.as_deref())
                });
                let help = match suggest(name, candidates) {
                    Some(best) => format!("did you mean {best}?"),
                    None => "name the group by displayName, mailNickname or object id".to_owned(),
                };
                Err(Box::new(
                    Diagnostic::new(
                        DiagnosticCode::UnknownGroup,
                        format!("no group is named {name} (by displayName or mailNickname)"),
                    )
                    .at(location.clone())
                    .help(help),
                ))
            }
            many => {
                let mut ids: Vec<String> = many
                    .iter()
                    .map(|g| {
                        format!(
                            "{} ({}, mailNickname {})",
                            g.id,
                            g.display_name,
                            g.mail_nickname.as_deref().unwrap_or("none")
                        )
                    })
                    .collect();
                ids.sort();
                Err(Box::new(
                    Diagnostic::new(
                        DiagnosticCode::AmbiguousGroup,
                        format!("{} groups are named {name}: {}", many.len(), ids.join(", ")),
                    )
                    .at(location.clone())
                    .help("name the group by its object id instead"),
                ))
            }
        },
    }
}

/// Resolved SKU entries are shared: thousands of users with the same profile get the same
/// `disabledPlans` allocation.
#[derive(Default)]
pub(crate) struct LicenseCache {
    disabled: HashMap<(SkuId, Vec<ServicePlanId>), Arc<[ServicePlanId]>>,
    /// The empty set, shared by every license with all its plans on.
    none: Option<Arc<[ServicePlanId]>>,
}

pub(crate) fn resolve_licenses(
    list: &[DesiredLicense],
    index: &TenantIndex<'_>,
    cache: &mut LicenseCache,
    diagnostics: &mut Vec<Diagnostic>,
    principal: &str,
) -> Vec<ResolvedLicense> {
    let mut out: Vec<ResolvedLicense> = Vec::with_capacity(list.len());
    for license in list {
        let Some(sku) = resolve_sku(&license.sku, index, diagnostics, principal) else {
            continue;
        };
        if let Some(first) = out.iter().find(|l| l.sku == sku.sku_id) {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticCode::DuplicateSku,
                    format!(
                        "{principal} lists {} twice{}",
                        sku.sku_part_number,
                        license
                            .from_profile
                            .as_ref()
                            .map(|p| format!(" (once through profile {p})"))
                            .unwrap_or_default()
                    ),
                )
                .at(license.location.clone())
                .related(first.location.clone(), "first listed here")
                .help("list each SKU once per principal; merge the service plan settings"),
            );
            continue;
        }
        let Some((disabled, allowlist)) = resolve_plans(license, sku, cache, diagnostics) else {
            continue;
        };
        out.push(ResolvedLicense {
            sku: sku.sku_id,
            disabled_plans: disabled,
            allowlist,
            location: license.location.clone(),
        });
    }
    out
}

fn resolve_sku<'a>(
    sku: &Located<SkuRef>,
    index: &TenantIndex<'a>,
    diagnostics: &mut Vec<Diagnostic>,
    principal: &str,
) -> Option<&'a SubscribedSku> {
    let found = match &sku.value {
        SkuRef::Id(id) => index.skus.get(id).copied(),
        SkuRef::PartNumber(part) => index.sku_by_part(part),
    };
    let Some(found) = found else {
        let (shown, help) = match &sku.value {
            SkuRef::Id(id) => (
                format!("SKU {id}"),
                "the tenant has no subscription with this skuId; check `licensectl snapshot` output for subscribedSkus".to_owned(),
            ),
            SkuRef::PartNumber(part) => {
                let candidates = index
                    .snapshot
                    .subscribed_skus
                    .iter()
                    .map(|s| s.sku_part_number.as_str());
                let help = match suggest(part, candidates) {
                    Some(best) => format!("did you mean {best}?"),
                    None => format!(
                        "the tenant subscribes to: {}",
                        sorted_part_numbers(index).join(", ")
                    ),
                };
                (format!("SKU {part}"), help)
            }
        };
        diagnostics.push(
            Diagnostic::new(
                DiagnosticCode::UnknownSku,
                format!("{shown} (for {principal}) is not a subscription of this tenant"),
            )
            .at(sku.location.clone())
            .help(help),
        );
        return None;
    };
    if found.applies_to == AppliesTo::Company {
        diagnostics.push(
            Diagnostic::new(DiagnosticCode::CompanySku,
                format!(
                    "SKU {} ({}) applies to the company, not to users, so it cannot be assigned to {principal}",
                    found.sku_part_number, found.sku_id
                ),
            )
            .at(sku.location.clone())
            .help("remove this entry: tenant-wide products need no assignment"),
        );
        return None;
    }
    let unusable = match found.capability_status {
        CapabilityStatus::Suspended => Some("suspended"),
        CapabilityStatus::LockedOut => Some("locked out"),
        CapabilityStatus::Deleted => Some("deleted"),
        // An unknown status is not refused here: Graph decides, and apply reports it.
        CapabilityStatus::Enabled | CapabilityStatus::Warning | CapabilityStatus::Unknown(_) => {
            None
        }
    };
    if let Some(state) = unusable {
        diagnostics.push(
            Diagnostic::new(DiagnosticCode::SkuUnavailable,
                format!(
                    "the subscription of SKU {} ({}) is {state}, so it cannot be assigned to {principal}",
                    found.sku_part_number, found.sku_id
                ),
            )
            .at(sku.location.clone())
            .help("renew the subscription in the Microsoft 365 admin center, or remove this entry"),
        );
        return None;
    }
    Some(found)
}

fn sorted_part_numbers(index: &TenantIndex<'_>) -> Vec<String> {
    let mut parts: Vec<String> = index
        .snapshot
        .subscribed_skus
        .iter()
        .filter(|s| s.applies_to == AppliesTo::User)
        .map(|s| s.sku_part_number.clone())
        .collect();
    parts.sort();
    parts
}

fn resolve_plans(
    license: &DesiredLicense,
    sku: &SubscribedSku,
    cache: &mut LicenseCache,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Arc<[ServicePlanId]>, bool)> {
    let (refs, allowlist) = match &license.plans {
        PlanSelection::All => {
            let none = cache.none.get_or_insert_with(|| Arc::from(Vec::new()));
            return Some((Arc::clone(none), false));
        }
        PlanSelection::Disabled(refs) => (refs, false),
        PlanSelection::Enabled(refs) => (refs, true),
    };
    let mut listed: Vec<ServicePlanId> = Vec::with_capacity(refs.len());
    let mut ok = true;
    for plan in refs {
        match resolve_plan(plan, sku) {
            Some(id) => listed.push(id),
            None => {
                ok = false;
                diagnostics.push(unknown_plan(plan, sku));
            }
        }
    }
    if !ok {
        return None;
    }
    let mut disabled: Vec<ServicePlanId> = if allowlist {
        sku.service_plans
            .iter()
            .map(|p| p.service_plan_id)
            .filter(|id| !listed.contains(id))
            .collect()
    } else {
        listed
    };
    disabled.sort();
    disabled.dedup();
    let shared = cache
        .disabled
        .entry((sku.sku_id, disabled))
        .or_insert_with_key(|(_, d)| Arc::from(d.as_slice()))
        .clone();
    Some((shared, allowlist))
}

fn resolve_plan(plan: &Located<PlanRef>, sku: &SubscribedSku) -> Option<ServicePlanId> {
    match &plan.value {
        PlanRef::Id(id) => sku
            .service_plans
            .iter()
            .any(|p| p.service_plan_id == *id)
            .then_some(*id),
        PlanRef::Name(name) => sku
            .service_plans
            .iter()
            .find(|p| p.service_plan_name == *name)
            .or_else(|| {
                sku.service_plans
                    .iter()
                    .find(|p| p.service_plan_name.eq_ignore_ascii_case(name))
            })
            .map(|p| p.service_plan_id),
    }
}

fn unknown_plan(plan: &Located<PlanRef>, sku: &SubscribedSku) -> Diagnostic {
    let shown = match &plan.value {
        PlanRef::Id(id) => id.to_string(),
        PlanRef::Name(name) => name.clone(),
    };
    let help = match &plan.value {
        PlanRef::Name(name) => suggest(
            name,
            sku.service_plans
                .iter()
                .map(|p| p.service_plan_name.as_str()),
        )
        .map(|best| format!("did you mean {best}?")),
        PlanRef::Id(_) => None,
    }
    .unwrap_or_else(|| {
        let mut names: Vec<&str> = sku
            .service_plans
            .iter()
            .map(|p| p.service_plan_name.as_str())
            .collect();
        names.sort_unstable();
        format!("{} contains: {}", sku.sku_part_number, names.join(", "))
    });
    Diagnostic::new(
        DiagnosticCode::UnknownServicePlan,
        format!(
            "service plan {shown} is not part of SKU {} ({})",
            sku.sku_part_number, sku.sku_id
        ),
    )
    .at(plan.location.clone())
    .help(help)
}

/// The closest candidate to `wanted` (case-insensitive Jaro–Winkler ≥ 0.8), if any.
pub(crate) fn suggest<'c>(
    wanted: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let wanted = wanted.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&wanted, &candidate.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, b)| score > s || (score == s && candidate < b)) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}
