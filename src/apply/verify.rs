//! Verification after the writes: does the tenant, read back, hold what each change
//! asked for? Pure: takes the plan's changes and the re-read state, returns mismatches.

use std::collections::HashMap;

use serde::Serialize;

use crate::ids::{GroupId, ServicePlanId, SkuId, UserId};
use crate::plan::{Change, PlanName, Principal, SkuName};
use crate::snapshot::{AssignedLicense, Group, TenantSnapshot, User};

/// One way a principal differs from what its change asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Index of the change in the plan.
    pub change: usize,
    /// Who.
    pub principal: Principal,
    /// What differs, in one sentence.
    pub message: String,
}

/// Service plan ids sorted and without duplicates: `disabledPlans` compare as sets.
pub(crate) fn sorted(plans: impl IntoIterator<Item = ServicePlanId>) -> Vec<ServicePlanId> {
    let mut v: Vec<ServicePlanId> = plans.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

fn names(plans: &[PlanName]) -> String {
    if plans.is_empty() {
        "none".to_owned()
    } else {
        plans
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Direct licenses of a user (`licenseAssignmentStates` without `assignedByGroup`).
fn user_direct(user: &User) -> HashMap<SkuId, Vec<ServicePlanId>> {
    user.direct_states()
        .map(|s| (s.sku_id, sorted(s.disabled_plans.iter().copied())))
        .collect()
}

fn group_direct(group: &Group) -> HashMap<SkuId, Vec<ServicePlanId>> {
    group
        .assigned_licenses
        .iter()
        .map(|l: &AssignedLicense| (l.sku_id, sorted(l.disabled_plans.iter().copied())))
        .collect()
}

fn check_licenses(
    change: &Change,
    held: &HashMap<SkuId, Vec<ServicePlanId>>,
    out: &mut Vec<String>,
) {
    let expect = |sku: &SkuName, plans: &[PlanName], out: &mut Vec<String>| match held.get(&sku.id)
    {
        None => out.push(format!("{} is not assigned", sku.part_number)),
        Some(disabled) if *disabled != sorted(plans.iter().map(|p| p.id)) => out.push(format!(
            "{} is assigned with other disabled plans than planned ({})",
            sku.part_number,
            names(plans)
        )),
        Some(_) => {}
    };
    for add in &change.add {
        expect(&add.sku, &add.disabled_plans, out);
    }
    for update in &change.update {
        expect(&update.sku, &update.disabled_plans, out);
    }
    for remove in &change.remove {
        if held.contains_key(&remove.sku.id) {
            out.push(format!(
                "{} is still assigned directly",
                remove.sku.part_number
            ));
        }
    }
}

/// Compares every change with `after`. A principal missing from `after` is a mismatch.
pub fn verify(changes: &[Change], after: &TenantSnapshot) -> Vec<Mismatch> {
    let users: HashMap<UserId, &User> = after.users.iter().map(|u| (u.id, u)).collect();
    let groups: HashMap<GroupId, &Group> = after.groups.iter().map(|g| (g.id, g)).collect();
    let mut out = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let mut problems = Vec::new();
        match &change.principal {
            Principal::User { id, .. } => match users.get(id) {
                None => problems.push("it could not be read back".to_owned()),
                Some(user) => {
                    if let Some(step) = &change.usage_location
                        && user.usage_location.as_deref() != Some(step.to.as_str())
                    {
                        problems.push(format!(
                            "usageLocation is {}, not {}",
                            user.usage_location.as_deref().unwrap_or("unset"),
                            step.to
                        ));
                    }
                    check_licenses(change, &user_direct(user), &mut problems);
                }
            },
            Principal::Group { id, .. } => match groups.get(id) {
                None => problems.push("it could not be read back".to_owned()),
                Some(group) => check_licenses(change, &group_direct(group), &mut problems),
            },
        }
        out.extend(problems.into_iter().map(|message| Mismatch {
            change: i,
            principal: change.principal.clone(),
            message,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LicenseAdd, LicenseRemove, UsageLocationStep};
    use crate::snapshot::{AssignmentStateKind, LicenseAssignmentState};

    fn contoso() -> TenantSnapshot {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/tenant.json");
        TenantSnapshot::read(&path).expect("example tenant")
    }

    fn direct_state(sku: SkuId, disabled: Vec<ServicePlanId>) -> LicenseAssignmentState {
        LicenseAssignmentState {
            sku_id: sku,
            disabled_plans: disabled,
            assigned_by_group: None,
            state: AssignmentStateKind::Active,
            error: None,
            last_updated_date_time: None,
        }
    }

    #[test]
    fn met_and_unmet_targets() {
        let mut after = contoso();
        let user = after.users[0].clone();
        let sku = after.subscribed_skus[0].clone();
        let sku_name = SkuName {
            part_number: sku.sku_part_number.clone(),
            id: sku.sku_id,
        };
        let principal = Principal::User {
            id: user.id,
            name: user.user_principal_name.clone(),
        };
        let change = Change {
            principal: principal.clone(),
            usage_location: Some(UsageLocationStep {
                from: None,
                to: "NO".into(),
            }),
            add: vec![LicenseAdd {
                sku: sku_name.clone(),
                disabled_plans: Vec::new(),
                already_inherited: false,
            }],
            update: Vec::new(),
            remove: Vec::new(),
            rules: None,
        };
        // Not yet applied: both the location and the license are reported.
        {
            let u = &mut after.users[0];
            u.usage_location = Some("US".into());
            u.license_assignment_states
                .retain(|s| s.sku_id != sku.sku_id);
            u.assigned_licenses.retain(|l| l.sku_id != sku.sku_id);
        }
        let found = verify(std::slice::from_ref(&change), &after);
        let messages: Vec<&str> = found.iter().map(|m| m.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "usageLocation is US, not NO".to_owned(),
                format!("{} is not assigned", sku.sku_part_number)
            ]
        );
        // Applied: nothing to report.
        {
            let u = &mut after.users[0];
            u.usage_location = Some("NO".into());
            u.license_assignment_states
                .push(direct_state(sku.sku_id, Vec::new()));
        }
        assert!(verify(std::slice::from_ref(&change), &after).is_empty());
        // A removal not done, and a principal that vanished.
        let removal = Change {
            principal: principal.clone(),
            usage_location: None,
            add: Vec::new(),
            update: Vec::new(),
            remove: vec![LicenseRemove {
                sku: sku_name,
                destructive: true,
                exchange_grace: false,
                still_inherited_from: Vec::new(),
                swapped_for: Vec::new(),
            }],
            rules: None,
        };
        let found = verify(std::slice::from_ref(&removal), &after);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.ends_with("is still assigned directly"));
        after.users.remove(0);
        let found = verify(&[removal], &after);
        assert_eq!(found[0].message, "it could not be read back");
    }
}
