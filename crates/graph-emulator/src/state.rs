//! The in-memory tenant: the snapshot's objects plus indexes by id and lowercase UPN.

use std::collections::{BTreeSet, HashMap};

use licensectl_model::ids::{GroupId, SkuId, TenantId, UserId, parse_guid};
use licensectl_model::snapshot::{
    AppRegistration, CapabilityStatus, CompanySubscription, DirectoryAudit, Group,
    ServicePlanRules, SubscribedSku, TenantSnapshot, User,
};

use super::assign::held_skus;
use super::clock::{self, Stamp};
use super::error::EmulatorError;
use super::history::{HistoryLog, LicenseHistory};
use super::plans::PlanRules;
use super::replica::Replication;

/// The tenant the emulator serves, indexed for lookups.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// Snapshot format version (kept for the round trip).
    pub version: u32,
    /// The directory id.
    pub tenant_id: TenantId,
    /// The primary domain, when known.
    pub domain: Option<String>,
    /// Further verified domains (custom domains), served by `GET /organization`.
    pub verified_domains: Vec<String>,
    /// Subscribed SKUs.
    pub skus: Vec<SubscribedSku>,
    /// Users, in snapshot order (paging order).
    pub users: Vec<User>,
    /// Groups, in snapshot order.
    pub groups: Vec<Group>,
    /// Commercial subscriptions (`GET /directory/subscriptions`).
    pub subscriptions: Vec<CompanySubscription>,
    /// The directory audit log: the tenant file's entries and those the emulator wrote.
    pub audits: Vec<DirectoryAudit>,
    /// The tenant file held a `directoryAudits` list (written back even when empty).
    audits_listed: bool,
    /// App registrations from the tenant file (empty: the default app is used).
    pub apps: Vec<AppRegistration>,
    /// Service plan rules.
    pub rules: ServicePlanRules,
    sku_index: HashMap<SkuId, usize>,
    user_by_id: HashMap<UserId, usize>,
    user_by_upn: HashMap<String, usize>,
    /// Positions of the users ordered by folded UPN (`$orderby=userPrincipalName`;
    /// UPNs do not change while the emulator runs), and those keys in that order.
    upn_order: Vec<usize>,
    upn_keys: Vec<String>,
    group_by_id: HashMap<GroupId, usize>,
    /// The plan rules `assignLicense` enforces (the file's plus, by default, the built-in).
    pub(crate) plan_rules: PlanRules,
    /// Units of a subscription in its grace period (`prepaidUnits.warning`) may be
    /// assigned (default false).
    pub(crate) grace_units_assignable: bool,
    /// Versions replaced by writes not yet visible to every read.
    pub(crate) replication: Replication,
    history: HistoryLog,
}

impl Tenant {
    /// Indexes a snapshot; refuses duplicate ids or user principal names.
    pub(crate) fn from_snapshot(snapshot: TenantSnapshot) -> Result<Self, EmulatorError> {
        let mut sku_index = HashMap::new();
        for (i, sku) in snapshot.subscribed_skus.iter().enumerate() {
            if sku_index.insert(sku.sku_id, i).is_some() {
                return Err(EmulatorError::Tenant(format!(
                    "SKU {} ({}) appears twice in subscribedSkus; keep one entry",
                    sku.sku_id, sku.sku_part_number
                )));
            }
        }
        let mut user_by_id = HashMap::with_capacity(snapshot.users.len());
        let mut user_by_upn = HashMap::with_capacity(snapshot.users.len());
        for (i, user) in snapshot.users.iter().enumerate() {
            if user_by_id.insert(user.id, i).is_some() {
                return Err(EmulatorError::Tenant(format!(
                    "user id {} appears twice; user ids must be unique",
                    user.id
                )));
            }
            if user_by_upn
                .insert(user.user_principal_name.to_lowercase(), i)
                .is_some()
            {
                return Err(EmulatorError::Tenant(format!(
                    "userPrincipalName '{}' appears twice; UPNs must be unique (case-insensitive)",
                    user.user_principal_name
                )));
            }
        }
        let mut group_by_id = HashMap::with_capacity(snapshot.groups.len());
        for (i, group) in snapshot.groups.iter().enumerate() {
            if group_by_id.insert(group.id, i).is_some() {
                return Err(EmulatorError::Tenant(format!(
                    "group id {} ({}) appears twice; group ids must be unique",
                    group.id, group.display_name
                )));
            }
        }
        let mut keyed: Vec<(String, usize)> = snapshot
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (crate::query::fold(&u.user_principal_name), i))
            .collect();
        keyed.sort_unstable();
        let (upn_keys, upn_order): (Vec<String>, Vec<usize>) = keyed.into_iter().unzip();
        let plan_rules = PlanRules::new(
            &snapshot.service_plan_rules.mutually_exclusive,
            &snapshot.service_plan_rules.dependencies,
            true,
            false,
        );
        Ok(Self {
            version: snapshot.version,
            tenant_id: snapshot.tenant_id,
            domain: snapshot.tenant_domain,
            verified_domains: snapshot.verified_domains,
            skus: snapshot.subscribed_skus,
            users: snapshot.users,
            groups: snapshot.groups,
            subscriptions: snapshot.subscriptions,
            audits_listed: snapshot.directory_audits.is_some(),
            audits: snapshot.directory_audits.unwrap_or_default(),
            apps: snapshot.apps,
            rules: snapshot.service_plan_rules,
            sku_index,
            user_by_id,
            user_by_upn,
            upn_order,
            upn_keys,
            group_by_id,
            plan_rules,
            grace_units_assignable: false,
            replication: Replication::default(),
            history: HistoryLog::new(clock::iso_utc_millis(clock::unix_now_ms())),
        })
    }

    /// The current tenant as a snapshot.
    pub(crate) fn to_snapshot(&self) -> TenantSnapshot {
        TenantSnapshot {
            version: self.version,
            tenant_id: self.tenant_id,
            tenant_domain: self.domain.clone(),
            verified_domains: self.verified_domains.clone(),
            subscribed_skus: self.skus.clone(),
            users: self.users.clone(),
            groups: self.groups.clone(),
            subscriptions: self.subscriptions.clone(),
            directory_audits: (self.audits_listed || !self.audits.is_empty())
                .then(|| self.audits.clone()),
            apps: self.apps.clone(),
            service_plan_rules: self.rules.clone(),
        }
    }

    /// Replaces user `u` by `next` (a write at `stamp`): keeps the old version for lagging
    /// reads and records a change of the SKUs the user holds.
    pub(crate) fn commit_user(&mut self, u: usize, next: User, stamp: &Stamp) {
        let Some(slot) = self.users.get_mut(u) else {
            return;
        };
        if *slot == next {
            return;
        }
        let old = std::mem::replace(slot, next);
        let before: BTreeSet<SkuId> = held_skus(&old).into_iter().collect();
        let after: BTreeSet<SkuId> = held_skus(&self.users[u]).into_iter().collect();
        self.history.record(u, before, after, stamp.iso_millis());
        self.replication.record_user(u, old, stamp.at);
    }

    /// Replaces group `g` by `next` (a write at `stamp`), keeping the old version for
    /// lagging reads.
    pub(crate) fn commit_group(&mut self, g: usize, next: Group, stamp: &Stamp) {
        let Some(slot) = self.groups.get_mut(g) else {
            return;
        };
        if *slot == next {
            return;
        }
        let old = std::mem::replace(slot, next);
        self.replication.record_group(g, old, stamp.at);
    }

    /// Every user's license history (or only user `only`'s).
    pub(crate) fn license_history(&self, only: Option<usize>) -> LicenseHistory {
        self.history.history(
            self.users
                .iter()
                .enumerate()
                .map(|(i, u)| (i, u.id, u.user_principal_name.as_str())),
            |u| held_skus(&self.users[u]).into_iter().collect(),
            only,
        )
    }

    /// Index of the SKU `id`.
    pub(crate) fn sku(&self, id: SkuId) -> Option<usize> {
        self.sku_index.get(&id).copied()
    }

    /// Index of a user by object id or (case-insensitive) userPrincipalName.
    pub(crate) fn user(&self, key: &str) -> Option<usize> {
        match parse_guid(key) {
            Ok(id) => self.user_by_id.get(&UserId(id)).copied(),
            Err(_) => self.user_by_upn.get(&key.to_lowercase()).copied(),
        }
    }

    /// Positions of the users ordered by folded UPN.
    pub(crate) fn users_by_upn(&self) -> &[usize] {
        &self.upn_order
    }

    /// The span of [`Tenant::users_by_upn`] whose folded UPNs are at or after `lo` and at or
    /// before `hi` (both folded).
    pub(crate) fn upn_span(&self, lo: Option<&str>, hi: Option<&str>) -> std::ops::Range<usize> {
        let start = lo.map_or(0, |lo| self.upn_keys.partition_point(|k| k.as_str() < lo));
        let end = hi.map_or(self.upn_keys.len(), |hi| {
            self.upn_keys.partition_point(|k| k.as_str() <= hi)
        });
        start..end.max(start)
    }

    /// Index of a user by id.
    pub(crate) fn user_by_id(&self, id: UserId) -> Option<usize> {
        self.user_by_id.get(&id).copied()
    }

    /// Index of a group by id text.
    pub(crate) fn group(&self, key: &str) -> Option<usize> {
        parse_guid(key)
            .ok()
            .and_then(|id| self.group_by_id.get(&GroupId(id)).copied())
    }

    /// Seats of SKU `sku` that an assignment may take now.
    ///
    /// `prepaidUnits` splits a SKU's units by subscription state, one bucket each:
    /// `enabled` ("units that are enabled for the active subscription"), `warning` (a
    /// subscription in its grace period), `suspended` ("can't be assigned"), `lockedOut`
    /// (cancelled), <https://learn.microsoft.com/en-us/graph/api/resources/licenseunitsdetail>.
    /// By default only enabled units are assignable: `max(0, enabled − consumed)` — what the
    /// admin center's figures and tools that read real tenants compute, and the fail-safe
    /// reading (a Microsoft engineer reported that units of an expired subscription in grace
    /// cannot be assigned, <https://github.com/MicrosoftDocs/microsoft-365-docs/issues/1441>).
    /// With `grace_units_assignable`, warning units count too (Partner Center's
    /// "available = active + warning − consumed"). Suspended and locked-out units never
    /// count, and a SKU whose `capabilityStatus` is neither `Enabled` nor `Warning` has no
    /// assignable seat whatever its counts say.
    pub(crate) fn free_seats(&self, sku: usize) -> i64 {
        self.skus.get(sku).map_or(0, |s| {
            if !matches!(
                s.capability_status,
                CapabilityStatus::Enabled | CapabilityStatus::Warning
            ) {
                return 0;
            }
            let units = s.prepaid_units;
            let assignable = if self.grace_units_assignable {
                units.enabled.saturating_add(units.warning)
            } else {
                units.enabled
            };
            assignable.saturating_sub(s.consumed_units).max(0)
        })
    }
}
