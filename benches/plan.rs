//! Plans generated 500k-user tenants and prints wall time and peak memory.
//!
//! Run with `cargo bench --bench plan`. The tenants use the SKUs (and their real service
//! plans) of `examples/contoso/tenant.json`.
//!
//! - Declared users: 60% of users inherit SPE_E3 from one of 20 groups, the rest hold it
//!   directly; every user is declared, and about 4% of them need a change (adds, in-place
//!   plan updates, removals, swaps).
//! - Attribute rules (issue 14): no user is declared; 20 rules (equality on department,
//!   company and synced-from-AD, lists, `starts_with`, `not`, `exists`, `member_of`,
//!   excludes, `from_country`) govern every enabled member, who mostly already hold what
//!   the rules give; about 5% are new or moved (gain, loss, plan changes). The plan must
//!   take under 2 s on the project's 2-core machine; the bench prints the time against it.

// Printing its numbers is what a benchmark is for.
#![allow(clippy::print_stdout)]

// The binary's allocator, so that the figures are the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::Instant;

use licensectl::config::{
    Attribute, AttributeCondition, Condition, ConditionValue, DesiredGroup, DesiredLicense,
    DesiredRule, DesiredState, DesiredUser, GroupKey, Located, PlanRef, PlanSelection,
    RuleUsageLocation, SkuRef,
};
use licensectl::diagnostic::Location;
use licensectl::ids::{GroupId, SkuId, UserId};
use licensectl::plan::{PlanOptions, plan};
use licensectl::snapshot::{
    AssignedLicense, AssignmentStateKind, DirectoryAttributes, Group, LicenseAssignmentState,
    TenantSnapshot, User,
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
    declared_users();
    attribute_rules();
}

fn declared_users() {
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
        rules: Vec::new(),
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

/// The bound issue 14 sets for planning 500k users with 20 rules.
const RULES_BOUND_SECONDS: f64 = 2.0;

fn cond(attribute: Attribute, condition: Condition) -> AttributeCondition {
    AttributeCondition {
        attribute,
        condition,
        location: Some(loc(1)),
    }
}

fn is(text: &str) -> Condition {
    Condition::Is(ConditionValue::Text(text.to_owned()))
}

fn any(texts: &[&str]) -> Condition {
    Condition::AnyOf(texts.iter().map(|t| is(t)).collect())
}

fn yes() -> Condition {
    Condition::Is(ConditionValue::Bool(true))
}

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Engineering",
    "Finance",
    "Human Resources",
    "Legal",
    "Support",
    "Operations",
    "Stores",
    "Logistics",
    "Research",
    "IT",
];
const COUNTRIES: &[&str] = &[
    "United States",
    "Deutschland",
    "France",
    "UK",
    "España",
    "Nederland",
    "Polska",
    "USA",
    "Schweiz",
    "Atlantis",
];

fn attribute_rules() {
    let started = Instant::now();
    let contoso = TenantSnapshot::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/tenant.json"),
    )
    .expect("contoso snapshot");
    let mut skus = contoso.subscribed_skus.clone();
    for sku in &mut skus {
        sku.prepaid_units.enabled = 2_000_000;
        sku.prepaid_units.warning = 0;
        sku.consumed_units = 600_000;
    }
    let sku = |part: &str| -> SkuId {
        skus.iter()
            .find(|s| s.sku_part_number == part)
            .map(|s| s.sku_id)
            .expect("sku")
    };
    let (e3, visio, project) = (
        sku("SPE_E3"),
        sku("VISIOCLIENT"),
        sku("PROJECTPROFESSIONAL"),
    );
    let mut groups: Vec<Group> = (0..GROUPS)
        .map(|g| Group {
            id: GroupId::new(Uuid::from_u128(0xa000_0000 + g as u128)),
            display_name: format!("SG-Team-{g:02}"),
            mail_nickname: Some(format!("sg-team-{g:02}")),
            security_enabled: true,
            assigned_licenses: Vec::new(),
            license_processing_state: None,
            members: Vec::new(),
        })
        .collect();

    // 20 rules.
    let mut rules: Vec<DesiredRule> = Vec::new();
    let mut add_rule = |name: &str,
                        matches: Vec<AttributeCondition>,
                        exclude: Vec<AttributeCondition>,
                        licenses: Vec<DesiredLicense>,
                        from_country: bool| {
        rules.push(DesiredRule {
            name: name.to_owned(),
            location: loc(rules.len() + 1),
            matches,
            exclude,
            licenses,
            usage_location: from_country.then(|| Located {
                value: RuleUsageLocation::FromCountry,
                location: loc(1),
            }),
        });
    };
    add_rule(
        "all-staff",
        vec![
            cond(Attribute::OnPremisesSyncEnabled, yes()),
            cond(Attribute::CompanyName, any(&["Contoso", "Contoso Retail"])),
        ],
        vec![cond(Attribute::EmployeeType, is("Frontline"))],
        vec![license("SPE_E3", &["YAMMER_ENTERPRISE"], 1)],
        true,
    );
    add_rule(
        "frontline",
        vec![cond(Attribute::EmployeeType, is("Frontline"))],
        Vec::new(),
        vec![license("DESKLESSPACK", &[], 2)],
        true,
    );
    add_rule(
        "cloud-staff",
        vec![
            cond(Attribute::OnPremisesSyncEnabled, Condition::Exists(false)),
            cond(Attribute::UpnDomain, is("contoso.com")),
        ],
        Vec::new(),
        vec![license("SPE_E3", &[], 3)],
        false,
    );
    for (i, dept) in DEPARTMENTS.iter().enumerate() {
        let (licenses, exclude) = match i % 3 {
            0 => (
                vec![license("POWER_BI_PRO", &[], 10 + i)],
                vec![cond(Attribute::JobTitle, is("Intern"))],
            ),
            1 => (vec![license("EMS", &[], 10 + i)], Vec::new()),
            _ => (
                vec![license("VISIOCLIENT", &[], 10 + i)],
                vec![cond(
                    Attribute::ExtensionAttribute(1),
                    Condition::Exists(true),
                )],
            ),
        };
        add_rule(
            &format!("dept-{}", dept.to_lowercase().replace(' ', "-")),
            vec![cond(Attribute::Department, is(dept))],
            exclude,
            licenses,
            false,
        );
    }
    add_rule(
        "managers",
        vec![
            cond(Attribute::JobTitle, Condition::StartsWith("Head of".into())),
            cond(
                Attribute::Department,
                Condition::Not(Box::new(any(&["Legal", "IT"]))),
            ),
        ],
        Vec::new(),
        vec![license("PROJECTPROFESSIONAL", &[], 30)],
        false,
    );
    add_rule(
        "pilots",
        vec![cond(
            Attribute::MemberOf,
            any(&["SG-Team-03", "SG-Team-07"]),
        )],
        Vec::new(),
        vec![license("EMS", &[], 31)],
        false,
    );
    add_rule(
        "contractors",
        vec![cond(Attribute::ExtensionAttribute(1), is("contractor"))],
        Vec::new(),
        vec![license("EMS", &[], 32)],
        false,
    );
    add_rule(
        "research-visio",
        vec![
            cond(Attribute::Department, is("Research")),
            cond(Attribute::Country, any(&["Deutschland", "France"])),
        ],
        Vec::new(),
        vec![license("VISIOCLIENT", &[], 33)],
        false,
    );
    add_rule(
        "fabrikam",
        vec![cond(Attribute::UpnDomain, is("fabrikam.com"))],
        vec![cond(Attribute::UserType, is("Guest"))],
        vec![license("EMS", &[], 34)],
        false,
    );
    assert_eq!(rules.len(), 20);

    let mut users = Vec::with_capacity(USERS);
    for n in 0..USERS {
        let id = UserId::new(Uuid::from_u128(0x2_0000_0000 + n as u128));
        let domain = if n % 50 == 0 {
            "fabrikam.com"
        } else {
            "contoso.com"
        };
        let upn = format!("user{n:06}@{domain}");
        let dept = DEPARTMENTS[n % DEPARTMENTS.len()];
        let frontline = dept == "Stores" || dept == "Logistics";
        let synced = n % 10 < 7;
        let company = if frontline {
            "Contoso Retail"
        } else {
            "Contoso"
        };
        let title = match n % 40 {
            0 => "Head of Sales",
            1 => "Intern",
            _ => "Specialist",
        };
        let mut user = User {
            account_enabled: Some(n % 97 != 0),
            usage_location: Some("US".to_owned()),
            attributes: DirectoryAttributes {
                user_type: Some(if n % 89 == 0 { "Guest" } else { "Member" }.to_owned()),
                department: Some(dept.to_owned()),
                company_name: Some(company.to_owned()),
                job_title: Some(title.to_owned()),
                country: Some(COUNTRIES[n % COUNTRIES.len()].to_owned()),
                employee_type: Some(if frontline { "Frontline" } else { "Employee" }.to_owned()),
                on_premises_sync_enabled: synced.then_some(true),
                created_date_time: Some(format!(
                    "2026-{:02}-{:02}T08:00:00Z",
                    1 + n % 12,
                    1 + n % 28
                )),
                ..DirectoryAttributes::default()
            }
            .into(),
            ..User::new(id, upn)
        };
        if n % 13 == 0 {
            user.attributes.on_premises_extension_attributes = Some(
                [(
                    "extensionAttribute1".to_owned(),
                    Some("contractor".to_owned()),
                )]
                .into_iter()
                .collect(),
            );
        }
        groups[n % GROUPS].members.push(id);
        users.push(user);
    }
    let mut live = TenantSnapshot {
        version: 2,
        tenant_id: contoso.tenant_id,
        tenant_domain: contoso.tenant_domain.clone(),
        verified_domains: contoso.verified_domains.clone(),
        subscribed_skus: skus,
        users,
        groups,
        subscriptions: Vec::new(),
        apps: Vec::new(),
        service_plan_rules: Default::default(),
        directory_audits: None,
    };
    let settings = licensectl::config::Settings {
        default_usage_location: Some(Located {
            value: "US".to_owned(),
            location: loc(1),
        }),
        ..licensectl::config::Settings::default()
    };
    let desired = DesiredState {
        settings,
        users: Vec::new(),
        groups: Vec::new(),
        rules,
    };
    // The tenant as the rules left it last time (one untimed plan, applied to the
    // snapshot), then about 5% drift: new accounts with nothing, movers to another
    // department, licenses whose plans someone changed, stray licenses.
    let converged = plan(
        &desired,
        &live,
        &PlanOptions {
            allow_unsafe: true,
            ..Default::default()
        },
    );
    apply_to(&mut live, &converged.changes);
    for (n, user) in live.users.iter_mut().enumerate() {
        match n % 100 {
            0 => {
                user.assigned_licenses.clear();
                user.license_assignment_states.clear();
                user.usage_location = None;
            }
            1 => {
                user.attributes.department =
                    Some(DEPARTMENTS[(n / 100) % DEPARTMENTS.len()].to_owned())
            }
            2 => {
                for state in &mut user.license_assignment_states {
                    if state.sku_id == e3 {
                        state.disabled_plans.clear();
                    }
                }
            }
            3 => {
                for sku_id in [project, visio] {
                    if !user.assigned_licenses.iter().any(|l| l.sku_id == sku_id) {
                        user.license_assignment_states
                            .push(direct_state(sku_id, &[]));
                    }
                }
            }
            _ => continue,
        }
        user.assigned_licenses = user
            .license_assignment_states
            .iter()
            .map(|s| AssignedLicense {
                sku_id: s.sku_id,
                disabled_plans: s.disabled_plans.clone(),
            })
            .collect();
    }
    let generated = started.elapsed();

    let t = Instant::now();
    let result = plan(&desired, &live, &PlanOptions::default());
    let plan_time = t.elapsed();
    let t = Instant::now();
    let rendered = licensectl::render::text::render(&result, licensectl::render::Mode::Plan);
    let render_time = t.elapsed();
    assert!(
        !result.has_errors(),
        "{:?}",
        &result.diagnostics[..3.min(result.diagnostics.len())]
    );
    let report = result.rules.as_ref().expect("rules report");
    let seconds = plan_time.as_secs_f64();
    println!(
        "plan benchmark, attribute rules: {USERS} users, {} rules, {GROUPS} groups",
        desired.rules.len()
    );
    println!(
        "  generate tenant + desired state: {:>8.3} s",
        generated.as_secs_f64()
    );
    println!(
        "  plan (index, rules, diff, seats, safety, findings): {seconds:>8.3} s ({} the {RULES_BOUND_SECONDS} s bound)",
        if seconds < RULES_BOUND_SECONDS {
            "within"
        } else {
            "OVER"
        }
    );
    println!(
        "  render as text: {:>8.3} s ({} KiB)",
        render_time.as_secs_f64(),
        rendered.len() / 1024
    );
    println!(
        "  {} in scope, {} governed; changes: {} principals ({} add, {} change, {} remove), {} rule findings",
        report.in_scope,
        report.governed,
        result.changes.len(),
        result.summary.add,
        result.summary.change,
        result.summary.remove,
        report.findings.len()
    );
    match peak_rss_kib() {
        Some(kib) => println!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("  peak memory: unavailable (no /proc/self/status)"),
    }
}

fn direct_state(
    sku_id: SkuId,
    disabled: &[licensectl::ids::ServicePlanId],
) -> LicenseAssignmentState {
    LicenseAssignmentState {
        sku_id,
        disabled_plans: disabled.to_vec(),
        assigned_by_group: None,
        state: AssignmentStateKind::Active,
        error: None,
        last_updated_date_time: None,
    }
}

/// The tenant after `changes` (direct licenses and usage locations of users).
fn apply_to(live: &mut TenantSnapshot, changes: &[licensectl::plan::Change]) {
    let by_id: std::collections::HashMap<String, &licensectl::plan::Change> = changes
        .iter()
        .map(|c| (c.principal.id_string(), c))
        .collect();
    for user in &mut live.users {
        let Some(change) = by_id.get(&user.id.to_string()) else {
            continue;
        };
        if let Some(step) = &change.usage_location {
            user.usage_location = Some(step.to.clone());
        }
        let states = &mut user.license_assignment_states;
        states.retain(|s| {
            s.assigned_by_group.is_some()
                || !change.remove.iter().any(|r| r.sku.id == s.sku_id)
                    && !change.update.iter().any(|u| u.sku.id == s.sku_id)
        });
        for add in &change.add {
            let plans: Vec<_> = add.disabled_plans.iter().map(|p| p.id).collect();
            states.push(direct_state(add.sku.id, &plans));
        }
        for update in &change.update {
            let plans: Vec<_> = update.disabled_plans.iter().map(|p| p.id).collect();
            states.push(direct_state(update.sku.id, &plans));
        }
        user.assigned_licenses = states
            .iter()
            .map(|s| AssignedLicense {
                sku_id: s.sku_id,
                disabled_plans: s.disabled_plans.clone(),
            })
            .collect();
    }
}
