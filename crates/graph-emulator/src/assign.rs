//! `assignLicense` for users and groups: Graph's validation, seat counting, plan rules and
//! group-based licensing. Pure functions on a [`Tenant`]; no I/O and no clock (callers
//! pass the moment of the write). Every change goes through [`Tenant::commit_user`] or
//! [`Tenant::commit_group`], which keep the replaced version for lagging reads and the
//! users' license history.

use std::collections::HashSet;

use serde_json::Value;

use licensectl_model::ids::{GroupId, ServicePlanId, SkuId, parse_guid};
use licensectl_model::snapshot::{
    AppliesTo, AssignedLicense, AssignmentError, AssignmentStateKind, LicenseAssignmentState,
    LicenseProcessingState, User,
};

use super::clock::Stamp;
use super::error::GraphError;
use super::plans::Violation;
use super::state::Tenant;

/// A parsed `assignLicense` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssignRequest {
    /// Licenses to add or update.
    pub add: Vec<AssignedLicense>,
    /// SKUs to remove.
    pub remove: Vec<SkuId>,
}

fn guid_value(v: &Value) -> Result<uuid::Uuid, GraphError> {
    match v {
        Value::String(s) => parse_guid(s).map_err(|_| GraphError::bad_guid(s)),
        other => Err(GraphError::bad_guid(&other.to_string())),
    }
}

/// Parses `{"addLicenses":[{skuId,disabledPlans}],"removeLicenses":[guid]}`.
pub(crate) fn parse_request(body: Option<&Value>) -> Result<AssignRequest, GraphError> {
    let Some(Value::Object(map)) = body else {
        return Err(GraphError::bad_request(
            "Empty Payload. JSON content expected: {\"addLicenses\": [...], \"removeLicenses\": [...]}.",
        ));
    };
    // Observed: a missing parameter answers 400 "One or more parameters of the operation
    // 'assignLicense' are missing from the request payload. The missing parameters are:
    // removeLicenses." (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/3201).
    let absent: Vec<&str> = ["addLicenses", "removeLicenses"]
        .into_iter()
        .filter(|k| !map.contains_key(*k))
        .collect();
    if !absent.is_empty() {
        return Err(GraphError::bad_request(format!(
            "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: {}.",
            absent.join(",")
        )));
    }
    let field = |name: &str| -> Result<&Vec<Value>, GraphError> {
        match map.get(name) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(GraphError::bad_request(format!(
                "Property '{name}' must be a collection."
            ))),
        }
    };
    let mut add = Vec::new();
    for item in field("addLicenses")? {
        let Value::Object(lic) = item else {
            return Err(GraphError::bad_request(
                "Each addLicenses entry must be an object with skuId and disabledPlans.",
            ));
        };
        let sku = lic
            .get("skuId")
            .ok_or_else(|| GraphError::bad_request("An addLicenses entry lacks 'skuId'."))?;
        let sku_id = SkuId(guid_value(sku)?);
        let mut disabled = Vec::new();
        match lic.get("disabledPlans") {
            None | Some(Value::Null) => {}
            Some(Value::Array(plans)) => {
                for p in plans {
                    disabled.push(ServicePlanId(guid_value(p)?));
                }
            }
            Some(_) => {
                return Err(GraphError::bad_request(
                    "Property 'disabledPlans' must be a collection of GUIDs.",
                ));
            }
        }
        add.push(AssignedLicense {
            sku_id,
            disabled_plans: disabled,
        });
    }
    let mut remove = Vec::new();
    for item in field("removeLicenses")? {
        remove.push(SkuId(guid_value(item)?));
    }
    Ok(AssignRequest { add, remove })
}

fn is_active(s: &LicenseAssignmentState) -> bool {
    matches!(
        s.state,
        AssignmentStateKind::Active | AssignmentStateKind::ActiveWithError
    )
}

/// SKUs the user holds (some active source).
pub(crate) fn held_skus(user: &User) -> HashSet<SkuId> {
    user.license_assignment_states
        .iter()
        .filter(|s| is_active(s))
        .map(|s| s.sku_id)
        .collect()
}

/// Rebuilds `assignedLicenses` from the active sources: one entry per SKU, with the
/// plans disabled by every source (enabled plans are the union across sources). Keeps
/// the existing order and appends new SKUs.
pub(crate) fn recompute_assigned(user: &mut User) {
    let mut order: Vec<SkuId> = Vec::new();
    for lic in &user.assigned_licenses {
        order.push(lic.sku_id);
    }
    for s in &user.license_assignment_states {
        if is_active(s) && !order.contains(&s.sku_id) {
            order.push(s.sku_id);
        }
    }
    let mut out = Vec::new();
    for sku in order {
        let mut sources = user
            .license_assignment_states
            .iter()
            .filter(|s| s.sku_id == sku && is_active(s));
        let Some(first) = sources.next() else {
            continue;
        };
        let mut disabled = first.disabled_plans.clone();
        for other in sources {
            disabled.retain(|p| other.disabled_plans.contains(p));
        }
        out.push(AssignedLicense {
            sku_id: sku,
            disabled_plans: disabled,
        });
    }
    user.assigned_licenses = out;
}

/// Plans enabled by `licenses` (for a user: `assignedLicenses`, the union over sources).
fn enabled_by(t: &Tenant, licenses: &[AssignedLicense]) -> HashSet<ServicePlanId> {
    licenses
        .iter()
        .flat_map(|lic| plans_enabled_by(t, lic))
        .collect()
}

/// Plans enabled by the active sources of `user`, leaving out the direct source of `skip`.
fn enabled_by_sources_except(t: &Tenant, user: &User, skip: SkuId) -> HashSet<ServicePlanId> {
    user.license_assignment_states
        .iter()
        .filter(|s| is_active(s) && !(s.assigned_by_group.is_none() && s.sku_id == skip))
        .flat_map(|s| {
            plans_enabled_by(
                t,
                &AssignedLicense {
                    sku_id: s.sku_id,
                    disabled_plans: s.disabled_plans.clone(),
                },
            )
        })
        .collect()
}

/// The plan ids of SKU `sku`.
fn sku_plans(t: &Tenant, sku: SkuId) -> Vec<ServicePlanId> {
    t.sku(sku)
        .map(|i| {
            t.skus[i]
                .service_plans
                .iter()
                .map(|p| p.service_plan_id)
                .collect()
        })
        .unwrap_or_default()
}

/// Plans of `lic` that it enables.
fn plans_enabled_by(t: &Tenant, lic: &AssignedLicense) -> HashSet<ServicePlanId> {
    sku_plans(t, lic.sku_id)
        .into_iter()
        .filter(|p| !lic.disabled_plans.contains(p))
        .collect()
}

/// Validates that every SKU exists, is assignable, and that disabled plans belong to it.
fn check_licenses(t: &Tenant, req: &AssignRequest) -> Result<(), GraphError> {
    for lic in &req.add {
        let Some(i) = t.sku(lic.sku_id) else {
            return Err(GraphError::bad_request(format!(
                "License {} does not correspond to a valid company License.",
                lic.sku_id
            )));
        };
        let sku = &t.skus[i];
        if sku.applies_to == AppliesTo::Company {
            return Err(GraphError::bad_request(format!(
                "License {} cannot be assigned to a user.",
                lic.sku_id
            )));
        }
        for p in &lic.disabled_plans {
            if !sku.service_plans.iter().any(|sp| sp.service_plan_id == *p) {
                return Err(GraphError::bad_request(format!(
                    "Service plan {p} does not belong to the subscription {} ({}); disabledPlans may only name plans of that SKU.",
                    sku.sku_part_number, lic.sku_id
                )));
            }
        }
    }
    for sku in &req.remove {
        if t.sku(*sku).is_none() {
            return Err(GraphError::bad_request(format!(
                "License {sku} does not correspond to a valid company License."
            )));
        }
    }
    Ok(())
}

fn valid_usage_location(loc: Option<&str>) -> bool {
    loc.is_some_and(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_uppercase()))
}

fn adjust_consumption(t: &mut Tenant, before: &HashSet<SkuId>, after: &HashSet<SkuId>) {
    for sku in after.difference(before) {
        if let Some(i) = t.sku(*sku) {
            t.skus[i].consumed_units += 1;
        }
    }
    for sku in before.difference(after) {
        if let Some(i) = t.sku(*sku) {
            t.skus[i].consumed_units -= 1;
        }
    }
}

/// `POST /users/{id}/assignLicense` on the user at index `u`: validates everything
/// first, then applies adds and removes atomically. `visible_usage_location` is the
/// user's usage location as the replica serving the write sees it (a `PATCH` younger than
/// the replication lag may not be visible yet); `stamp` dates `lastUpdatedDateTime`.
pub(crate) fn assign_user(
    t: &mut Tenant,
    u: usize,
    req: &AssignRequest,
    visible_usage_location: Option<&str>,
    stamp: &Stamp,
) -> Result<(), GraphError> {
    let now = stamp.iso();
    let now = now.as_str();
    check_licenses(t, req)?;
    let user = &t.users[u];
    for sku in &req.remove {
        let direct = user.direct_states().any(|s| s.sku_id == *sku);
        if !direct {
            if user.inherited_states().any(|s| s.sku_id == *sku) {
                return Err(GraphError::bad_request(
                    "User license is inherited from a group membership and it cannot be removed directly from the user.",
                ));
            }
            return Err(GraphError::bad_request(
                "User does not have a corresponding license.",
            ));
        }
    }
    let location_ok = valid_usage_location(user.usage_location.as_deref())
        && valid_usage_location(visible_usage_location);
    if !req.add.is_empty() && !location_ok {
        return Err(GraphError::bad_request(
            "License assignment cannot be done for user with invalid usage location.",
        ));
    }

    let before = held_skus(user);
    let mut next = user.clone();
    next.license_assignment_states
        .retain(|s| !(s.assigned_by_group.is_none() && req.remove.contains(&s.sku_id)));
    for lic in &req.add {
        if let Some(existing) = next
            .license_assignment_states
            .iter_mut()
            .find(|s| s.assigned_by_group.is_none() && s.sku_id == lic.sku_id)
        {
            existing.disabled_plans = lic.disabled_plans.clone();
            existing.state = AssignmentStateKind::Active;
            existing.error = None;
            existing.last_updated_date_time = Some(now.to_owned());
        } else {
            next.license_assignment_states.push(LicenseAssignmentState {
                sku_id: lic.sku_id,
                disabled_plans: lic.disabled_plans.clone(),
                assigned_by_group: None,
                state: AssignmentStateKind::Active,
                error: None,
                last_updated_date_time: Some(now.to_owned()),
            });
        }
    }
    recompute_assigned(&mut next);
    if t.plan_rules.disable_dependents {
        // Opt-in model of Graph widening `disabledPlans`: dependents of a prerequisite the
        // request disables are disabled with it.
        for lic in &req.add {
            let others = enabled_by_sources_except(t, &next, lic.sku_id);
            let plans = sku_plans(t, lic.sku_id);
            if let Some(state) = next
                .license_assignment_states
                .iter_mut()
                .find(|s| s.assigned_by_group.is_none() && s.sku_id == lic.sku_id)
            {
                let mut widened = AssignedLicense {
                    sku_id: lic.sku_id,
                    disabled_plans: state.disabled_plans.clone(),
                };
                if t.plan_rules.disable_orphans(&mut widened, &plans, &others) {
                    state.disabled_plans = widened.disabled_plans;
                }
            }
        }
        recompute_assigned(&mut next);
    }
    let after = held_skus(&next);
    for sku in after.difference(&before) {
        if let Some(i) = t.sku(*sku)
            && t.free_seats(i) < 1
        {
            return Err(GraphError::bad_request(format!(
                "Subscription with SKU {sku} does not have any available licenses."
            )));
        }
    }
    let enabled_before = enabled_by(t, &user.assigned_licenses);
    let enabled_after = enabled_by(t, &next.assigned_licenses);
    if let Some(v) = t.plan_rules.introduced(&enabled_before, &enabled_after) {
        return Err(GraphError::bad_request(v.message()));
    }
    adjust_consumption(t, &before, &after);
    t.commit_user(u, next, stamp);
    Ok(())
}

/// `POST /groups/{id}/assignLicense` on group `g`: validates, updates the group's
/// licenses and queues processing. Members change later, in [`process_group`].
pub(crate) fn assign_group(
    t: &mut Tenant,
    g: usize,
    req: &AssignRequest,
    stamp: &Stamp,
) -> Result<(), GraphError> {
    check_licenses(t, req)?;
    let group = &t.groups[g];
    if !group.security_enabled {
        return Err(GraphError::bad_request(format!(
            "Group {} ({}) is not security enabled; only security groups can be assigned licenses.",
            group.id, group.display_name
        )));
    }
    for sku in &req.remove {
        if !group.assigned_licenses.iter().any(|l| l.sku_id == *sku) {
            return Err(GraphError::bad_request(
                "Group does not have a corresponding license.",
            ));
        }
    }
    let mut group = t.groups[g].clone();
    group
        .assigned_licenses
        .retain(|l| !req.remove.contains(&l.sku_id));
    for lic in &req.add {
        if let Some(existing) = group
            .assigned_licenses
            .iter_mut()
            .find(|l| l.sku_id == lic.sku_id)
        {
            existing.disabled_plans = lic.disabled_plans.clone();
        } else {
            group.assigned_licenses.push(lic.clone());
        }
    }
    if t.plan_rules.disable_dependents {
        for i in 0..group.assigned_licenses.len() {
            let others = group
                .assigned_licenses
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, l)| plans_enabled_by(t, l))
                .collect();
            let plans = sku_plans(t, group.assigned_licenses[i].sku_id);
            t.plan_rules
                .disable_orphans(&mut group.assigned_licenses[i], &plans, &others);
        }
    }
    // "Both the prerequisite and add-on service plans [must] be present in the same group"
    // (https://learn.microsoft.com/en-us/entra/identity/users/licensing-groups-resolve-problems).
    let before = enabled_by(t, &t.groups[g].assigned_licenses);
    let after = enabled_by(t, &group.assigned_licenses);
    if let Some(v) = t.plan_rules.introduced(&before, &after) {
        return Err(GraphError::bad_request(v.message()));
    }
    group.license_processing_state = Some(LicenseProcessingState {
        state: "QueuedForProcessing".to_owned(),
    });
    t.commit_group(g, group, stamp);
    Ok(())
}

/// Sets a group's `licenseProcessingState`.
pub(crate) fn set_processing_state(t: &mut Tenant, g: usize, state: &str, stamp: &Stamp) {
    if let Some(group) = t.groups.get(g) {
        let mut next = group.clone();
        next.license_processing_state = Some(LicenseProcessingState {
            state: state.to_owned(),
        });
        t.commit_group(g, next, stamp);
    }
}

fn group_state(
    lic: &AssignedLicense,
    gid: GroupId,
    state: AssignmentStateKind,
    error: Option<AssignmentError>,
    now: &str,
) -> LicenseAssignmentState {
    LicenseAssignmentState {
        sku_id: lic.sku_id,
        disabled_plans: lic.disabled_plans.clone(),
        assigned_by_group: Some(gid),
        state,
        error,
        last_updated_date_time: Some(now.to_owned()),
    }
}

/// What group processing makes of one member: `user` with the group's entries rebuilt,
/// and the rule the result breaks when a license could not be applied.
fn process_member(
    t: &Tenant,
    user: &User,
    gid: GroupId,
    licenses: &[AssignedLicense],
    now: &str,
) -> (User, Option<Violation>) {
    let before = held_skus(user);
    let enabled_before = enabled_by(t, &user.assigned_licenses);
    let old: Vec<LicenseAssignmentState> = user
        .license_assignment_states
        .iter()
        .filter(|s| s.assigned_by_group == Some(gid))
        .cloned()
        .collect();
    let mut base = user.clone();
    base.license_assignment_states
        .retain(|s| s.assigned_by_group != Some(gid));
    recompute_assigned(&mut base);
    let held_without = held_skus(&base);
    let with = |states: Vec<LicenseAssignmentState>| {
        let mut next = base.clone();
        next.license_assignment_states.extend(states);
        recompute_assigned(&mut next);
        next
    };
    let seats_ok = licenses.iter().all(|lic| {
        held_without.contains(&lic.sku_id)
            || before.contains(&lic.sku_id)
            || t.sku(lic.sku_id).is_none_or(|i| t.free_seats(i) >= 1)
    });
    let target = with(
        licenses
            .iter()
            .map(|l| group_state(l, gid, AssignmentStateKind::Active, None, now))
            .collect(),
    );
    let violation = t
        .plan_rules
        .introduced(&enabled_before, &enabled_by(t, &target.assigned_licenses));
    match (seats_ok, violation) {
        (true, None) => (target, None),
        (true, Some(v)) if v.error() == AssignmentError::DependencyViolation => {
            // A removal or a plan change that takes a prerequisite away: the member keeps
            // the group's previous copy in `ActiveWithError` / `DependencyViolation`
            // (observed: the license "still attached to the user with `assignedByGroup`
            // pointing to this group, and stuck in `ActiveWithError` / `DependencyViolation`"
            // although the group showed ProcessingComplete).
            let mut states: Vec<LicenseAssignmentState> = Vec::new();
            for lic in licenses {
                let previous = old.iter().find(|s| s.sku_id == lic.sku_id);
                match previous {
                    Some(p) if p.disabled_plans != lic.disabled_plans => {
                        states.push(LicenseAssignmentState {
                            state: AssignmentStateKind::ActiveWithError,
                            error: Some(AssignmentError::DependencyViolation),
                            last_updated_date_time: Some(now.to_owned()),
                            ..p.clone()
                        });
                    }
                    _ => states.push(group_state(
                        lic,
                        gid,
                        AssignmentStateKind::Active,
                        None,
                        now,
                    )),
                }
            }
            for p in old
                .iter()
                .filter(|p| !licenses.iter().any(|l| l.sku_id == p.sku_id))
            {
                states.push(LicenseAssignmentState {
                    state: AssignmentStateKind::ActiveWithError,
                    error: Some(AssignmentError::DependencyViolation),
                    last_updated_date_time: Some(now.to_owned()),
                    ..p.clone()
                });
            }
            let kept = with(states);
            let still = t
                .plan_rules
                .introduced(&enabled_before, &enabled_by(t, &kept.assigned_licenses));
            match still {
                None => (kept, Some(v)),
                Some(v) => (failed(&base, licenses, gid, v.error(), now), Some(v)),
            }
        }
        (true, Some(v)) => (failed(&base, licenses, gid, v.error(), now), Some(v)),
        (false, _) => (
            failed(&base, licenses, gid, AssignmentError::CountViolation, now),
            None,
        ),
    }
}

/// Every license of the group in `Error` with `error` for the member.
fn failed(
    base: &User,
    licenses: &[AssignedLicense],
    gid: GroupId,
    error: AssignmentError,
    now: &str,
) -> User {
    let mut next = base.clone();
    for lic in licenses {
        next.license_assignment_states.push(group_state(
            lic,
            gid,
            AssignmentStateKind::Error,
            Some(error.clone()),
            now,
        ));
    }
    recompute_assigned(&mut next);
    next
}

/// Applies group `g`'s licenses to its direct user members: each member's entries from
/// this group are rebuilt, all-or-none per member (a missing seat or a plan rule the
/// result would break puts every license of the group in `Error` for that member, with the
/// failure's code; a removal or plan change that would take away a prerequisite the member
/// still needs leaves the group's previous copy in `ActiveWithError`). Seats are counted
/// once per user and SKU whatever the number of sources. Ends in `ProcessingComplete`.
pub(crate) fn process_group(t: &mut Tenant, g: usize, stamp: &Stamp) {
    let now = stamp.iso();
    let Some(group) = t.groups.get(g) else {
        return;
    };
    let gid = group.id;
    let licenses = group.assigned_licenses.clone();
    let members = group.members.clone();
    for member in members {
        let Some(u) = t.user_by_id(member) else {
            continue;
        };
        let before = held_skus(&t.users[u]);
        let (next, _) = process_member(t, &t.users[u], gid, &licenses, &now);
        let after = held_skus(&next);
        adjust_consumption(t, &before, &after);
        t.commit_user(u, next, stamp);
    }
    set_processing_state(t, g, "ProcessingComplete", stamp);
}

/// `POST /users/{id}/reprocessLicenseAssignment` on user `u`: group licensing runs again
/// for this user alone — the licenses of every group the user is a direct member of are
/// re-applied (a former `CountViolation` succeeds once a seat is free), and the copies of
/// groups the user left are removed. A reprocessing that still breaks a plan rule answers
/// 400 with the rule's message, as Graph's reprocess "surfaces the full reconciliation
/// failure" (observed: "License assignment failed because service plan … depends on the
/// service plan(s) …"); a missing seat leaves the `CountViolation` in place and answers 200.
pub(crate) fn reprocess_user(t: &mut Tenant, u: usize, stamp: &Stamp) -> Result<(), GraphError> {
    let now = stamp.iso();
    let Some(user) = t.users.get(u) else {
        return Ok(());
    };
    let uid = user.id;
    let member_of: Vec<(GroupId, Vec<AssignedLicense>)> = t
        .groups
        .iter()
        .filter(|g| g.members.contains(&uid))
        .map(|g| (g.id, g.assigned_licenses.clone()))
        .collect();
    let before = held_skus(user);
    let mut next = user.clone();
    let mut failure: Option<Violation> = None;
    let departed: Vec<GroupId> = next
        .license_assignment_states
        .iter()
        .filter_map(|s| s.assigned_by_group)
        .filter(|g| !member_of.iter().any(|(id, _)| id == g))
        .collect();
    for gid in departed {
        let (processed, violation) = process_member(t, &next, gid, &[], &now);
        next = processed;
        failure = failure.or(violation);
    }
    for (gid, licenses) in &member_of {
        let (processed, violation) = process_member(t, &next, *gid, licenses, &now);
        next = processed;
        failure = failure.or(violation);
    }
    let after = held_skus(&next);
    adjust_consumption(t, &before, &after);
    t.commit_user(u, next, stamp);
    match failure {
        Some(v) => Err(GraphError::bad_request(v.message())),
        None => Ok(()),
    }
}
