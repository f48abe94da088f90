//! `assignLicense` for users and groups: Graph's validation, seat counting, plan rules and
//! group-based licensing. Pure functions on a [`Tenant`]; no I/O and no clock (callers
//! pass the moment of the write). Every change goes through [`Tenant::commit_user`] or
//! [`Tenant::commit_group`], which keep the replaced version for lagging reads and the
//! users' license history.

use std::collections::HashSet;

use serde_json::Value;

use licensectl_model::ids::{ServicePlanId, SkuId, parse_guid};
use licensectl_model::snapshot::{
    AppliesTo, AssignedLicense, AssignmentError, AssignmentStateKind, LicenseAssignmentState,
    LicenseProcessingState, User,
};

use super::clock::Stamp;
use super::error::GraphError;
use super::state::Tenant;

/// A parsed `assignLicense` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignRequest {
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
pub fn parse_request(body: Option<&Value>) -> Result<AssignRequest, GraphError> {
    let Some(Value::Object(map)) = body else {
        return Err(GraphError::bad_request(
            "Empty Payload. JSON content expected: {\"addLicenses\": [...], \"removeLicenses\": [...]}.",
        ));
    };
    let field = |name: &str| -> Result<&Vec<Value>, GraphError> {
        match map.get(name) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(GraphError::bad_request(format!(
                "Property '{name}' must be a collection."
            ))),
            None => Err(GraphError::bad_request(format!(
                "Required property '{name}' is missing; send it (use [] when there is nothing to {}).",
                if name == "addLicenses" {
                    "add"
                } else {
                    "remove"
                }
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
pub fn held_skus(user: &User) -> HashSet<SkuId> {
    user.license_assignment_states
        .iter()
        .filter(|s| is_active(s))
        .map(|s| s.sku_id)
        .collect()
}

/// Rebuilds `assignedLicenses` from the active sources: one entry per SKU, with the
/// plans disabled by every source (enabled plans are the union across sources). Keeps
/// the existing order and appends new SKUs.
pub fn recompute_assigned(user: &mut User) {
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

/// Plans enabled for a user, from `assignedLicenses`.
fn enabled_plans(t: &Tenant, user: &User) -> HashSet<ServicePlanId> {
    let mut out = HashSet::new();
    for lic in &user.assigned_licenses {
        if let Some(i) = t.sku(lic.sku_id) {
            for p in &t.skus[i].service_plans {
                if !lic.disabled_plans.contains(&p.service_plan_id) {
                    out.insert(p.service_plan_id);
                }
            }
        }
    }
    out
}

/// Checks the tenant's plan rules for the plans in `touched` against `enabled`.
fn rule_violation(
    t: &Tenant,
    enabled: &HashSet<ServicePlanId>,
    touched: &HashSet<ServicePlanId>,
) -> Option<(AssignmentError, String)> {
    for [a, b] in &t.rules.mutually_exclusive {
        if enabled.contains(a)
            && enabled.contains(b)
            && (touched.contains(a) || touched.contains(b))
        {
            return Some((
                AssignmentError::MutuallyExclusiveViolation,
                format!(
                    "License assignment failed because service plans {}, {} are mutually exclusive.",
                    t.plan_name(*a),
                    t.plan_name(*b)
                ),
            ));
        }
    }
    for dep in &t.rules.dependencies {
        if touched.contains(&dep.plan)
            && enabled.contains(&dep.plan)
            && !dep.requires.iter().any(|r| enabled.contains(r))
        {
            let names: Vec<String> = dep.requires.iter().map(|r| t.plan_name(*r)).collect();
            return Some((
                AssignmentError::DependencyViolation,
                format!(
                    "License assignment failed because service plan {} depends on the service plan(s) {}.",
                    t.plan_name(dep.plan),
                    names.join(", ")
                ),
            ));
        }
    }
    None
}

/// Plans of `lic` that it enables.
fn plans_enabled_by(t: &Tenant, lic: &AssignedLicense) -> HashSet<ServicePlanId> {
    t.sku(lic.sku_id)
        .map(|i| {
            t.skus[i]
                .service_plans
                .iter()
                .map(|p| p.service_plan_id)
                .filter(|p| !lic.disabled_plans.contains(p))
                .collect()
        })
        .unwrap_or_default()
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
    let touched: HashSet<ServicePlanId> = req
        .add
        .iter()
        .flat_map(|l| plans_enabled_by(t, l))
        .collect();
    if let Some((_, message)) = rule_violation(t, &enabled_plans(t, &next), &touched) {
        return Err(GraphError::bad_request(message));
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

/// Applies group `g`'s licenses to its direct user members: each member's entries from
/// this group are rebuilt, all-or-none per member (one failing license puts every
/// license of the group in `Error` for that member, with the failure's code). Seats are
/// counted once per user and SKU whatever the number of sources. Ends in
/// `ProcessingComplete`.
pub(crate) fn process_group(t: &mut Tenant, g: usize, stamp: &Stamp) {
    let now = stamp.iso();
    let now = now.as_str();
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
        let mut next = t.users[u].clone();
        next.license_assignment_states
            .retain(|s| s.assigned_by_group != Some(gid));
        recompute_assigned(&mut next);
        let held_without = held_skus(&next);
        let mut failure: Option<AssignmentError> = None;
        for lic in &licenses {
            if !held_without.contains(&lic.sku_id)
                && !before.contains(&lic.sku_id)
                && let Some(i) = t.sku(lic.sku_id)
                && t.free_seats(i) < 1
            {
                failure = Some(AssignmentError::CountViolation);
                break;
            }
        }
        let mut trial = next.clone();
        for lic in &licenses {
            trial
                .license_assignment_states
                .push(LicenseAssignmentState {
                    sku_id: lic.sku_id,
                    disabled_plans: lic.disabled_plans.clone(),
                    assigned_by_group: Some(gid),
                    state: AssignmentStateKind::Active,
                    error: None,
                    last_updated_date_time: Some(now.to_owned()),
                });
        }
        recompute_assigned(&mut trial);
        if failure.is_none() {
            let touched: HashSet<ServicePlanId> = licenses
                .iter()
                .flat_map(|l| plans_enabled_by(t, l))
                .collect();
            failure = rule_violation(t, &enabled_plans(t, &trial), &touched).map(|(e, _)| e);
        }
        let next = match failure {
            None => trial,
            Some(err) => {
                for lic in &licenses {
                    next.license_assignment_states.push(LicenseAssignmentState {
                        sku_id: lic.sku_id,
                        disabled_plans: lic.disabled_plans.clone(),
                        assigned_by_group: Some(gid),
                        state: AssignmentStateKind::Error,
                        error: Some(err.clone()),
                        last_updated_date_time: Some(now.to_owned()),
                    });
                }
                next
            }
        };
        let after = held_skus(&next);
        adjust_consumption(t, &before, &after);
        t.commit_user(u, next, stamp);
    }
    set_processing_state(t, g, "ProcessingComplete", stamp);
}
