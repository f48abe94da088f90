//! Plans a generated 500k-user tenant and prints wall time and peak memory.
//!
//! Run with `cargo bench --bench plan`. The tenant uses the SKUs (and their real service
//! plans) of `examples/contoso/tenant.json`; 60% of users inherit SPE_E3 from one of 20
//! groups, the rest hold it directly; every user is declared, and about 4% of them need a
//! change (adds, in-place plan updates, removals, swaps).

// Printing its numbers is what a benchmark is for.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use licensectl::config::{
    DesiredGroup, DesiredLicense, DesiredState, DesiredUser, GroupKey, Located, PlanRef,
    PlanSelection, SkuRef,
};
use licensectl::diagnostic::Location;
use licensectl::ids::{GroupId, SkuId, UserId};
use licensectl::plan::{PlanOptions, plan};
use licensectl::snapshot::{
    AssignedLicense, AssignmentStateKind, Group, LicenseAssignmentState, TenantSnapshot, User,
};
use uuid::Uuid;

const USERS: usize = 500_000;
const GROUPS: usize = 20;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn loc(line: usize) -> Location {
    Location {
        file: Path::new("licenses/generated.yaml").into(),
        line,
        column: 3,
    }
}

fn license(part: &str, disabled: &[&str], line: usize) -> DesiredLicense {
    DesiredLicense {
        sku: Located {
            value: SkuRef::PartNumber(part.to_owned()),
            location: loc(line),
        },
        plans: if disabled.is_empty() {
            PlanSelection::All
        } else {
            PlanSelection::Disabled(
                disabled
                    .iter()
                    .map(|p| Located {
                        value: PlanRef::Name((*p).to_owned()),
                        location: loc(line),
                    })
                    .collect(),
            )
        },
        from_profile: None,
        location: loc(line),
    }
}

fn main() {
    let started = Instant::now();
    let contoso = TenantSnapshot::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/tenant.json"),
    )
    .expect("contoso snapshot");
    let mut skus = contoso.subscribed_skus.clone();
    for sku in &mut skus {
        sku.prepaid_units.enabled = 1_000_000;
        sku.prepaid_units.warning = 0;
        sku.consumed_units = 400_000;
    }
    let sku = |part: &str| -> SkuId {
        skus.iter()
            .find(|s| s.sku_part_number == part)
            .map(|s| s.sku_id)
            .expect("sku")
    };
    let plan_id = |part: &str, name: &str| {
        skus.iter()
            .find(|s| s.sku_part_number == part)
            .and_then(|s| s.service_plans.iter().find(|p| p.service_plan_name == name))
            .map(|p| p.service_plan_id)
            .expect("plan")
    };
    let (e3, pbi) = (sku("SPE_E3"), sku("POWER_BI_PRO"));
    let yammer = plan_id("SPE_E3", "YAMMER_ENTERPRISE");

    let mut groups: Vec<Group> = (0..GROUPS)
        .map(|g| Group {
            id: GroupId::new(Uuid::from_u128(0x9000_0000 + g as u128)),
            display_name: format!("SG-License-E3-{g:02}"),
            mail_nickname: Some(format!("sg-license-e3-{g:02}")),
            security_enabled: true,
            assigned_licenses: vec![AssignedLicense {
                sku_id: e3,
                disabled_plans: Vec::new(),
            }],
            license_processing_state: None,
            members: Vec::new(),
        })
        .collect();
    let mut users = Vec::with_capacity(USERS);
    let mut desired_users = Vec::with_capacity(USERS);
    for n in 0..USERS {
        let id = UserId::new(Uuid::from_u128(0x1_0000_0000 + n as u128));
        let upn = format!("user{n:06}@contoso.com");
        let mut states = Vec::new();
        let mut want = Vec::new();
        let in_group = n % 10 < 6;
        if in_group {
            let group = &mut groups[n % GROUPS];
            group.members.push(id);
            states.push(LicenseAssignmentState {
                sku_id: e3,
                disabled_plans: Vec::new(),
                assigned_by_group: Some(group.id),
                state: AssignmentStateKind::Active,
                error: None,
                last_updated_date_time: None,
            });
        } else {
            states.push(LicenseAssignmentState {
                sku_id: e3,
                disabled_plans: vec![yammer],
                assigned_by_group: None,
                state: AssignmentStateKind::Active,
                error: None,
                last_updated_date_time: None,
            });
            want.push(license("SPE_E3", &["YAMMER_ENTERPRISE"], 10));
        }
        if n % 5 == 0 {
            states.push(LicenseAssignmentState {
                sku_id: pbi,
                disabled_plans: Vec::new(),
                assigned_by_group: None,
                state: AssignmentStateKind::Active,
                error: None,
                last_updated_date_time: None,
            });
            want.push(license("POWER_BI_PRO", &[], 11));
        }
        // About 4% of users need a change.
        match n % 100 {
            1 => want.push(license("POWER_BI_PRO", &[], 12)), // add
            8 if !in_group => want[0] = license("SPE_E3", &[], 13), // in-place update
            7 if !in_group => want[0] = license("SPE_E5", &[], 14), // swap
            15 => want.clear(),                               // removals
            _ => {}
        }
        users.push(User {
            account_enabled: Some(true),
            usage_location: Some("US".to_owned()),
            assigned_licenses: states
                .iter()
                .map(|s| AssignedLicense {
                    sku_id: s.sku_id,
                    disabled_plans: s.disabled_plans.clone(),
                })
                .collect(),
            license_assignment_states: states,
            ..User::new(id, upn.clone())
        });
        desired_users.push(DesiredUser {
            upn,
            location: loc(n + 1),
            usage_location: None,
            licenses: Some(want),
        });
    }
    let desired_groups = groups
        .iter()
        .enumerate()
        .map(|(g, group)| DesiredGroup {
            key: GroupKey::Name(group.display_name.clone()),
            location: loc(g + 1),
            licenses: Some(vec![license("SPE_E3", &[], 20)]),
        })
        .collect();
    let live = TenantSnapshot {
        version: 1,
        tenant_id: contoso.tenant_id,
        tenant_domain: contoso.tenant_domain.clone(),
        verified_domains: contoso.verified_domains.clone(),
        subscribed_skus: skus,
        users,
        groups,
        subscriptions: Vec::new(),
        directory_audits: None,
        apps: Vec::new(),
        service_plan_rules: Default::default(),
    };
    let desired = DesiredState {
        settings: Default::default(),
        users: desired_users,
        groups: desired_groups,
    };
    let generated = started.elapsed();

    let t = Instant::now();
    let result = plan(&desired, &live, &PlanOptions::default());
    let plan_time = t.elapsed();
    assert!(
        result.diagnostics.is_empty(),
        "{:?}",
        &result.diagnostics[..3.min(result.diagnostics.len())]
    );

    println!(
        "plan benchmark: {USERS} users, {GROUPS} groups, {} SKUs",
        live.subscribed_skus.len()
    );
    println!(
        "  generate tenant + desired state: {:>8.3} s",
        generated.as_secs_f64()
    );
    println!(
        "  plan (index, resolve, diff, seats, safety): {:>8.3} s",
        plan_time.as_secs_f64()
    );
    println!(
        "  changes: {} principals ({} add, {} change, {} remove), {} diagnostics, {} findings",
        result.changes.len(),
        result.summary.add,
        result.summary.change,
        result.summary.remove,
        result.diagnostics.len(),
        result.findings.len()
    );
    match peak_rss_kib() {
        Some(kib) => println!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("  peak memory: unavailable (no /proc/self/status)"),
    }
}
