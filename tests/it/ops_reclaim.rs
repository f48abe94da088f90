//! Reclaim and subscription expiry against the emulator (issue 16): a rule that excludes
//! users inactive for 90 days (`inactive_days`, from `signInActivity`) and accounts
//! disabled for 14 (`disabled_days`, from the audit log's `Disable account` entries)
//! takes SPE_E5 from exactly those users, is refused beyond `max_removals`, values the
//! seats with `prices:`, and apply carries it out; without Microsoft Entra ID P1 (Graph's
//! 403) the rule matches nobody and nothing is removed. A plan that needs seats beyond
//! what remains after a subscription's next lifecycle date warns with the date, and
//! `licensectl seats` shows the expiring and trial seats.

use std::path::{Path, PathBuf};

use graph_emulator::EmulatorOptions;
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::snapshot::{
    CapabilityStatus, CompanySubscription, DirectoryAudit, SignInActivity, TargetResource,
    TenantSnapshot,
};

use crate::apply_lag::hold_directly;
use crate::util::{Emulated, show, text};

/// `days` before now (the CLI plans with the clock), as Graph writes times.
fn ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// Six members holding SPE_E5 directly: ann (signed in 5 days ago), bob (120), cy
/// (never), dora (disabled 20 days ago), eve (disabled 3 days ago), fred (200).
fn tenant() -> TenantSnapshot {
    let mut t = generate(&GenerateOptions {
        users: 6,
        groups: 0,
        seed: 61,
        skus: vec!["SPE_E5".to_owned()],
        ..GenerateOptions::default()
    })
    .expect("generates");
    let e5 = &mut t.subscribed_skus[0];
    e5.prepaid_units.enabled = 10;
    e5.consumed_units = 6;
    let e5 = e5.sku_id;
    t.subscriptions.retain(|s| s.sku_id == e5);
    for s in &mut t.subscriptions {
        s.total_licenses = 10;
        s.status = CapabilityStatus::Enabled;
        s.next_lifecycle_date_time = Some(ago(-365));
        s.is_trial = false;
    }
    let names = ["ann", "bob", "cy", "dora", "eve", "fred"];
    let signed_in = [Some(5), Some(120), None, Some(25), Some(4), Some(200)];
    let domain = t.tenant_domain.clone().unwrap_or_default();
    let mut audits = Vec::new();
    for (i, u) in t.users.iter_mut().enumerate() {
        u.user_principal_name = format!("{}@{domain}", names[i]);
        u.attributes.user_type = Some("Member".into());
        u.account_enabled = Some(true);
        u.usage_location = Some("US".into());
        hold_directly(u, &[e5]);
        u.sign_in_activity = Some(Box::new(SignInActivity {
            last_successful_sign_in_date_time: signed_in[i].map(ago),
            ..SignInActivity::default()
        }));
        let disabled = match names[i] {
            "dora" => Some(20),
            "eve" => Some(3),
            _ => None,
        };
        if let Some(days) = disabled {
            u.account_enabled = Some(false);
            audits.push(DirectoryAudit {
                id: format!("audit-{}", names[i]),
                category: Some("UserManagement".into()),
                correlation_id: None,
                result: Some("success".into()),
                result_reason: None,
                activity_display_name: "Disable account".into(),
                activity_date_time: ago(days),
                logged_by_service: Some("Core Directory".into()),
                operation_type: Some("Update".into()),
                initiated_by: None,
                target_resources: vec![TargetResource {
                    id: Some(u.id.to_string()),
                    display_name: None,
                    kind: Some("User".into()),
                    user_principal_name: Some(u.user_principal_name.clone()),
                }],
            });
        }
    }
    t.directory_audits = Some(audits);
    t
}

/// The reclaim config with `max_removals`.
fn config(dir: &Path, max_removals: u32) -> PathBuf {
    let config = dir.join(format!("config-{max_removals}"));
    std::fs::create_dir_all(config.join("licenses")).expect("mkdir");
    std::fs::write(
        config.join("licensectl.yaml"),
        format!(
            "version: 1\nsafety:\n  max_removals: {max_removals}\nrules_scope:\n  match: {{ user_type: Member }}\nprices:\n  SPE_E5: {{ monthly: 57.00, currency: EUR }}\n"
        ),
    )
    .expect("settings");
    std::fs::write(
        config.join("licenses/rules.yaml"),
        "rules:\n  - name: e5-for-active-staff\n    match: {}\n    exclude:\n      inactive_days: 90\n      disabled_days: 14\n    licenses:\n      - sku: SPE_E5\n",
    )
    .expect("rules");
    config
}

fn premium(premium: bool) -> EmulatorOptions {
    EmulatorOptions {
        premium: Some(premium),
        ..EmulatorOptions::default()
    }
}

/// The users who hold SPE_E5, by name.
fn holders(t: &TenantSnapshot) -> Vec<String> {
    let mut out: Vec<String> = t
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .map(|u| {
            u.user_principal_name
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue16_reclaim_rules_remove_from_inactive_and_disabled_users_within_the_thresholds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant = Emulated::serve(tenant(), premium(true)).await;

    // Three removals (bob and fred inactive, dora disabled 20 days) exceed max_removals 2.
    let strict = config(dir.path(), 2);
    let strict = strict.to_str().expect("utf-8");
    let out = tenant.run(&["plan", "--config", strict]).await;
    let stdout = text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "refused: {}", show(&out));
    assert!(stdout.contains("Unsafe"), "{stdout}");
    let out = tenant
        .run(&["apply", "--config", strict, "--auto-approve"])
        .await;
    assert_ne!(out.status.code(), Some(0), "apply refuses: {}", show(&out));
    assert_eq!(
        holders(&tenant.running.emulator.snapshot()).len(),
        6,
        "nothing removed"
    );

    let config = config(dir.path(), 3);
    let config = config.to_str().expect("utf-8");
    let out = tenant
        .run(&["plan", "--config", config, "--format", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut removed: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["remove"].as_array().is_some_and(|r| !r.is_empty()))
        .map(|c| {
            assert_eq!(c["remove"][0]["destructive"], true, "{c}");
            let name = c["principal"]["name"].as_str().expect("name");
            name.split('@').next().unwrap_or_default().to_owned()
        })
        .collect();
    removed.sort();
    assert_eq!(removed, ["bob", "dora", "fred"]);
    let value = &plan["operations"]["seat_values"][0];
    assert_eq!(value["freed"], 3, "{value}");
    assert_eq!(value["freed_monthly"]["cents"], 17100, "3 × 57.00 EUR");
    let codes: Vec<&str> = plan["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"never-signed-in"), "cy: {codes:?}");

    let journal = dir.path().join("apply.jsonl");
    let out = tenant
        .run(&[
            "apply",
            "--config",
            config,
            "--auto-approve",
            "--journal",
            journal.to_str().expect("utf-8"),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        holders(&tenant.running.emulator.snapshot()),
        ["ann", "cy", "eve"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue16_without_premium_an_inactive_days_rule_matches_nobody_and_removes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tenant = Emulated::serve(tenant(), premium(false)).await;
    let config = config(dir.path(), 3);
    let config = config.to_str().expect("utf-8");
    let out = tenant.run(&["plan", "--config", config]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("No changes."), "{stdout}");
    assert!(
        stderr.contains("Microsoft Entra ID P1 or P2") && stdout.contains("activity-unavailable"),
        "{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue16_seats_beyond_the_next_lifecycle_date_warn_and_the_seat_table_shows_expiring_seats()
{
    let dir = tempfile::tempdir().expect("temp dir");
    let mut t = tenant();
    let e5 = t.subscribed_skus[0].sku_id;
    // 10 seats: 6 on a trial that ends in 20 days, 4 on a subscription renewed for a year.
    t.subscriptions = vec![
        CompanySubscription {
            id: "trial".into(),
            commerce_subscription_id: None,
            sku_id: e5,
            sku_part_number: Some("SPE_E5".into()),
            status: CapabilityStatus::Enabled,
            total_licenses: 6,
            is_trial: true,
            created_date_time: Some(ago(10)),
            next_lifecycle_date_time: Some(ago(-20)),
        },
        CompanySubscription {
            id: "paid".into(),
            commerce_subscription_id: None,
            sku_id: e5,
            sku_part_number: Some("SPE_E5".into()),
            status: CapabilityStatus::Enabled,
            total_licenses: 4,
            is_trial: false,
            created_date_time: Some(ago(100)),
            next_lifecycle_date_time: Some(ago(-265)),
        },
    ];
    for u in &mut t.users {
        u.account_enabled = Some(true);
        u.sign_in_activity = Some(Box::new(SignInActivity {
            last_successful_sign_in_date_time: Some(ago(1)),
            ..SignInActivity::default()
        }));
        u.assigned_licenses.clear();
        u.license_assignment_states.clear();
    }
    t.subscribed_skus[0].consumed_units = 0;
    t.directory_audits = Some(Vec::new());
    let tenant = Emulated::serve(t, premium(true)).await;
    let config = config(dir.path(), 10);
    let config = config.to_str().expect("utf-8");
    let out = tenant.run(&["plan", "--config", config]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    let date = (time::OffsetDateTime::now_utc() + time::Duration::days(20)).date();
    assert!(
        stdout.contains("seats-expire")
            && stdout.contains(&date.to_string())
            && stdout.contains("4 remain for the 6 in use after this plan"),
        "{stdout}"
    );

    let out = tenant
        .run(&["seats", "--config", config, "--format", "json"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let e5 = &report["skus"][0];
    assert_eq!(e5["expiring"], serde_json::json!([6, 6, 6]), "{e5}");
    assert_eq!(e5["trial"], 6, "{e5}");
    assert_eq!(e5["purchased"], 10, "{e5}");
}
