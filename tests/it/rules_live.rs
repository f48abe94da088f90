//! Attribute rules against the emulator (issue 14): the live plan of a rules config equals
//! the plan from a snapshot of the same tenant byte for byte (in every format, for `plan`
//! and `drift`), the live read selects only what the rules need, and applying a rules
//! config converges: a re-plan is empty and a second apply writes nothing.

use std::path::Path;
use std::time::Duration;

use graph_emulator::EmulatorOptions;
use licensectl::snapshot::{TenantSnapshot, User};

use crate::util::{Emulated, config_with, contoso, licensectl, show, text};

/// More rules beside the example's: by department (a list), `member_of` by name (a group
/// that licenses nobody, read for the rule),
/// `starts_with`, an `exclude`, `from_country`, and a rule-governed SKU taken from a user
/// who left Sales.
const MORE_RULES: &str = "\
rules:
  - name: sales-power-bi
    match: { department: [Sales, Marketing] }
    exclude: { job_title: { starts_with: Kiosk } }
    licenses: [ { sku: POWER_BI_PRO } ]
    usage_location: from_country
  - name: marketing-visio
    match: { member_of: Marketing }
    licenses:
      - sku: VISIOCLIENT
        enabled_plans: [VISIO_CLIENT_SUBSCRIPTION, ONEDRIVE_BASIC, EXCHANGE_S_FOUNDATION]
    usage_location: from_country
";

/// The example tenant with a few more people for the rules above: a new Marketing hire
/// with no usage location from Österreich, a leaver from Sales who still holds
/// POWER_BI_PRO, and a guest in Sales (outside the default scope).
fn tenant() -> TenantSnapshot {
    let mut tenant = contoso();
    let template = tenant
        .users
        .iter()
        .find(|u| u.user_principal_name == "yara@contoso.com")
        .cloned()
        .expect("yara");
    let person = |n: u128, upn: &str, f: &dyn Fn(&mut User)| {
        let mut user = User {
            id: licensectl::ids::UserId::new(uuid::Uuid::from_u128(0x5eed_0000 + n)),
            user_principal_name: upn.to_owned(),
            ..template.clone()
        };
        f(&mut user);
        user
    };
    let pbi = tenant
        .subscribed_skus
        .iter()
        .find(|s| s.sku_part_number == "POWER_BI_PRO")
        .map(|s| s.sku_id)
        .expect("POWER_BI_PRO");
    tenant.users.push(person(1, "lena@contoso.com", &|u| {
        u.attributes.department = Some("Marketing".into());
        u.attributes.country = Some("Österreich".into());
        u.attributes.city = Some("Wien".into());
        u.attributes.on_premises_sync_enabled = None;
        u.attributes.created_date_time = Some("2026-11-30T10:00:00Z".into());
    }));
    tenant.users.push(person(2, "omar@contoso.com", &|u| {
        u.attributes.department = Some("Engineering".into());
        u.attributes.on_premises_sync_enabled = None;
        u.usage_location = Some("US".into());
        u.assigned_licenses = vec![licensectl::snapshot::AssignedLicense {
            sku_id: pbi,
            disabled_plans: Vec::new(),
        }];
        u.license_assignment_states = vec![licensectl::snapshot::LicenseAssignmentState {
            sku_id: pbi,
            disabled_plans: Vec::new(),
            assigned_by_group: None,
            state: licensectl::snapshot::AssignmentStateKind::Active,
            error: None,
            last_updated_date_time: None,
        }];
    }));
    tenant.users.push(person(
        3,
        "guest_sales#EXT#@contoso.onmicrosoft.com",
        &|u| {
            u.attributes.department = Some("Sales".into());
            u.attributes.user_type = Some("Guest".into());
            u.attributes.on_premises_sync_enabled = None;
        },
    ));
    let sku = tenant
        .subscribed_skus
        .iter_mut()
        .find(|s| s.sku_part_number == "POWER_BI_PRO")
        .expect("POWER_BI_PRO");
    sku.consumed_units += 1;
    tenant
}

fn options() -> EmulatorOptions {
    EmulatorOptions {
        group_processing: Duration::from_millis(300),
        ..EmulatorOptions::default()
    }
}

fn offline(command: &str, config: &str, format: &str, snapshot: &Path) -> std::process::Output {
    licensectl()
        .args([
            command,
            "--config",
            config,
            "--format",
            format,
            "--snapshot",
        ])
        .arg(snapshot)
        .output()
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue14_the_live_plan_with_rules_equals_the_snapshot_plan() {
    let live_tenant = tenant();
    let dir = tempfile::tempdir().expect("temp dir");
    let full = dir.path().join("tenant.json");
    live_tenant.write(&full).expect("tenant written");
    let config = config_with(dir.path(), &[], &[("licenses/more-rules.yaml", MORE_RULES)]);
    let config = config.display().to_string();
    let emulated = Emulated::serve(live_tenant, options()).await;

    let written = dir.path().join("live.json");
    let written_arg = written.display().to_string();
    let snap = emulated
        .run(&["snapshot", "--config", &config, "-o", &written_arg])
        .await;
    assert_eq!(snap.status.code(), Some(0), "{}", show(&snap));
    let read_back = TenantSnapshot::read(&written).expect("snapshot");
    let lena = read_back
        .users
        .iter()
        .find(|u| u.user_principal_name == "lena@contoso.com")
        .expect("an unlicensed user in scope is read");
    assert_eq!(lena.attributes.country.as_deref(), Some("Österreich"));
    assert_eq!(lena.attributes.department.as_deref(), Some("Marketing"));
    assert_eq!(
        lena.attributes.city, None,
        "no rule uses city: it is not selected"
    );
    assert!(
        !read_back
            .users
            .iter()
            .any(|u| u.user_principal_name.starts_with("guest_sales")),
        "an unlicensed guest is outside the scope's $filter and not read"
    );

    let from_snapshot = offline("plan", &config, "text", &written);
    let plan = text(&from_snapshot.stdout);
    for expected in [
        "(rule sales-power-bi)",
        "(DESTRUCTIVE; matches no rule)",
        "rule sales-power-bi, from country 'Österreich'",
        "rule sales-power-bi, from country 'Deutschland'",
        "(rule marketing-visio)",
    ] {
        assert!(plan.contains(expected), "{expected}: {plan}");
    }
    for format in ["text", "json", "markdown"] {
        for command in ["plan", "drift"] {
            let live = emulated
                .run(&[command, "--config", &config, "--format", format])
                .await;
            let snapshot = offline(command, &config, format, &written);
            let original = offline(command, &config, format, &full);
            assert_eq!(
                live.status.code(),
                snapshot.status.code(),
                "{command} {format}: {}",
                show(&live)
            );
            assert!(!text(&live.stdout).is_empty(), "{command} {format}");
            assert_eq!(
                text(&live.stdout),
                text(&snapshot.stdout),
                "{command} --format {format}: live and snapshot plans differ"
            );
            assert_eq!(
                text(&live.stdout),
                text(&original.stdout),
                "{command} --format {format}: the live plan differs from the full tenant's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue14_applying_a_rules_config_converges_and_a_replan_is_empty() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[("licenses/more-rules.yaml", MORE_RULES)]);
    let config_arg = config.display().to_string();
    let journal = dir.path().join("journal.jsonl");
    let journal_arg = journal.display().to_string();
    let emulated = Emulated::serve(tenant(), options()).await;
    let args = [
        "apply",
        "--config",
        &config_arg,
        "--auto-approve",
        "--journal",
        &journal_arg,
        "--group-timeout",
        "30",
    ];
    let first = emulated.run(&args).await;
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    assert!(
        text(&first.stdout).contains(" 0 failed."),
        "{}",
        show(&first)
    );
    let after = emulated.running.emulator.snapshot();
    let user = |upn: &str| {
        after
            .users
            .iter()
            .find(|u| u.user_principal_name == upn)
            .cloned()
            .expect("user")
    };
    let lena = user("lena@contoso.com");
    assert_eq!(
        lena.usage_location.as_deref(),
        Some("AT"),
        "from Österreich"
    );
    assert_eq!(lena.assigned_licenses.len(), 1, "POWER_BI_PRO by the rule");
    assert!(
        user("omar@contoso.com").assigned_licenses.is_empty(),
        "the leaver lost the rule's SKU"
    );
    assert_eq!(
        user("yara@contoso.com").usage_location.as_deref(),
        Some("DE")
    );
    let guest = user("guest_sales#EXT#@contoso.onmicrosoft.com");
    assert!(
        guest.assigned_licenses.is_empty(),
        "a guest is outside the scope"
    );

    let replan = emulated
        .run(&["plan", "--config", &config_arg, "--detailed-exitcode"])
        .await;
    assert_eq!(
        replan.status.code(),
        Some(0),
        "re-plan is empty: {}",
        show(&replan)
    );
    assert!(text(&replan.stdout).contains("Plan: 0 to add, 0 to change, 0 to remove."));
    let again = emulated.run(&args).await;
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(
        text(&again.stdout).contains("No changes."),
        "{}",
        show(&again)
    );
}
