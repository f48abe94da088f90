//! Observations on the tenant as the plan leaves it: stacked mailbox plans (a finding:
//! real cost) and licenses a declared user keeps through a group (a note: `licenses`
//! governs direct licenses only).
//!
//! Pure: reads the tenant index and the plan's [`Effect`], returns findings and notes.
//! Nothing here changes the plan.

use std::collections::BTreeMap;

use hashbrown::{HashMap, HashSet};

use crate::ids::{GroupId, SkuId};
use crate::snapshot::User;

use super::effect::{Effect, Holding};
use super::model::{Change, Finding, FindingKind, Note, NoteKind, PlanName};
use super::planner::{group_principal, user_principal};
use super::resolve::{DeclaredUsers, TenantIndex};

/// Exchange Online mailbox plans (Plan 1, Plan 2, Kiosk, Essentials, and their US
/// government twins), by service plan name and id
/// (https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference).
/// Since January 2023 any of them may be assigned together, and every license assigned
/// is in use (and billed): "Introducing Support for Concurrent Exchange Online License
/// Assignments",
/// https://techcommunity.microsoft.com/t5/exchange-team-blog/introducing-support-for-concurrent-exchange-online-license/ba-p/3721098.
const MAILBOX_PLANS: &[(&str, &str)] = &[
    (
        "EXCHANGE_S_STANDARD",
        "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
    ),
    (
        "EXCHANGE_S_ENTERPRISE",
        "efb87545-963c-4e0d-99df-69c6916d9eb0",
    ),
    (
        "EXCHANGE_S_DESKLESS",
        "4a82b400-a79f-41a4-b4e2-e94f5787b113",
    ),
    (
        "EXCHANGE_S_ESSENTIALS",
        "1126bef5-da20-4f07-b45e-ad25d2581aa8",
    ),
    (
        "EXCHANGE_S_STANDARD_GOV",
        "e9b4930a-925f-45e2-ac2a-3f7788ca6fdd",
    ),
    (
        "EXCHANGE_S_ENTERPRISE_GOV",
        "8c3069c0-ccdb-44be-ab77-986203a67df2",
    ),
];

fn is_mailbox_plan(name: &str, id: &str) -> bool {
    MAILBOX_PLANS.iter().any(|(n, i)| *n == name || *i == id)
}

/// Per SKU of the tenant, its mailbox plans.
/// True when the user holds (from any source) at least two SKUs that carry a mailbox
/// plan; no allocation.
fn two_mailbox_skus(user: &User, mailbox: &HashMap<SkuId, Vec<PlanName>>) -> bool {
    let mut first: Option<SkuId> = None;
    let held = user
        .assigned_licenses
        .iter()
        .map(|l| l.sku_id)
        .chain(user.license_assignment_states.iter().map(|s| s.sku_id));
    for sku in held.filter(|s| mailbox.contains_key(s)) {
        match first {
            None => first = Some(sku),
            Some(f) if f != sku => return true,
            Some(_) => {}
        }
    }
    false
}

fn mailbox_plans(index: &TenantIndex<'_>) -> HashMap<SkuId, Vec<PlanName>> {
    let mut out = HashMap::new();
    for (id, sku) in &index.skus {
        let plans: Vec<PlanName> = sku
            .service_plans
            .iter()
            .filter(|p| is_mailbox_plan(&p.service_plan_name, &p.service_plan_id.to_string()))
            .map(|p| PlanName {
                name: p.service_plan_name.clone(),
                id: p.service_plan_id,
            })
            .collect();
        if !plans.is_empty() {
            out.insert(*id, plans);
        }
    }
    out
}

/// A finding for every user who, after the plan, holds an Exchange Online mailbox plan
/// from two or more different SKUs (several copies of one SKU use one seat and are
/// `duplicate-of-inherited` instead).
pub(crate) fn stacked_plans(
    index: &TenantIndex<'_>,
    effect: &Effect<'_>,
    declared: &DeclaredUsers,
) -> Vec<Finding> {
    let mailbox = mailbox_plans(index);
    if mailbox.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (position, user) in index.snapshot.users.iter().enumerate() {
        // Cheap pre-filter: nothing changing, and fewer than two SKUs with a mailbox plan
        // held today (from any source).
        if !effect.is_affected(user.id) && !two_mailbox_skus(user, &mailbox) {
            continue;
        }
        let after = effect.after(user);
        // Per SKU: its first source (direct before groups) and the mailbox plans it has on.
        let mut by_sku: BTreeMap<(String, SkuId), (Holding, Vec<PlanName>)> = BTreeMap::new();
        for held in &after {
            let Some(plans) = mailbox.get(&held.sku) else {
                continue;
            };
            let on: Vec<PlanName> = plans
                .iter()
                .filter(|p| !held.disabled.contains(&p.id))
                .cloned()
                .collect();
            if on.is_empty() {
                continue;
            }
            let key = (index.sku_name(held.sku).part_number, held.sku);
            let entry = by_sku
                .entry(key)
                .or_insert_with(|| (held.clone(), on.clone()));
            if entry.0.group.is_some() && held.group.is_none() {
                *entry = (held.clone(), on);
            }
        }
        if by_sku.len() < 2 {
            continue;
        }
        let sources: Vec<String> = by_sku
            .values()
            .map(|(held, plans)| {
                let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "{} with {}",
                    super::dependencies::describe_source(index, held),
                    names.join(", ")
                )
            })
            .collect();
        let mut plans: Vec<PlanName> = by_sku.values().flat_map(|(_, p)| p.clone()).collect();
        plans.sort();
        plans.dedup();
        let Some((first, _)) = by_sku.values().next() else {
            continue;
        };
        let group = by_sku
            .values()
            .find_map(|(h, _)| h.group)
            .map(|g| group_principal(index, g));
        let count = by_sku.len();
        out.push(Finding {
            kind: FindingKind::StackedPlans,
            principal: user_principal(user),
            sku: index.sku_name(first.sku),
            group,
            plans,
            error: None,
            message: format!(
                "{} holds an Exchange Online mailbox from {count} licenses: {}; stacking them is allowed, but each license uses a seat: {count} seats for one service",
                user.user_principal_name,
                sources.join("; ")
            ),
            fix: "keep one of these licenses for the mailbox and remove the others unless their other services are needed (switching a plan off does not free the license's seat)".to_owned(),
            managed: declared.contains(position),
        });
    }
    out
}

/// A note for every license a declared user (with a `licenses` list) keeps after the plan
/// through a group, when the user's list does not name that SKU; SKUs whose direct copy
/// the change removes are left out (the removal already names the groups).
pub(crate) fn kept_through_groups(
    index: &TenantIndex<'_>,
    effect: &Effect<'_>,
    user: &User,
    listed: &[SkuId],
    change: Option<&Change>,
) -> Vec<Note> {
    let mut out: Vec<Note> = Vec::new();
    // Most users hold nothing through a group, now or after the plan.
    if !effect.is_affected(user.id)
        && user
            .license_assignment_states
            .iter()
            .all(|s| s.assigned_by_group.is_none())
    {
        return out;
    }
    let mut seen: HashSet<(SkuId, GroupId)> = HashSet::new();
    for held in effect.after(user) {
        let Some(group) = held.group else { continue };
        if listed.contains(&held.sku)
            || change.is_some_and(|c| c.remove.iter().any(|r| r.sku.id == held.sku))
            || !seen.insert((held.sku, group))
        {
            continue;
        }
        let sku = index.sku_name(held.sku);
        let group = group_principal(index, group);
        out.push(Note {
            kind: NoteKind::KeptThroughGroup,
            principal: user_principal(user),
            message: format!(
                "{} keeps {} through group {} (`licenses` governs direct licenses only)",
                user.user_principal_name,
                sku.part_number,
                group.name()
            ),
            sku,
            group: Some(group),
            plans: Vec::new(),
        });
    }
    out
}
