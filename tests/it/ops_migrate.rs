//! The staged move from direct to group licensing against the emulator (issue 16), under
//! replication lag and asynchronous group processing: `migrate_to_groups` with
//! `max_users_per_run: 3` migrates ten covered users in ⌈10/3⌉ = 4 applies, no user is
//! ever without a SKU they held (the emulator's license history), the one user whose
//! direct copy has a plan on that the group turns off keeps it, and the plan names that
//! plan; a fifth apply changes nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::snapshot::TenantSnapshot;

use crate::apply_lag::{group_of_everyone, hold_directly, lagging};
use crate::util::{Emulated, show, text};

/// Users the groups cover.
const COVERED: usize = 10;
/// Users per wave.
const WAVE: usize = 3;

/// `COVERED` users holding SPE_E3 directly with YAMMER_ENTERPRISE off, and one more
/// (`blocked@…`) holding it with every plan on; all direct members of an unlicensed
/// group `sg-license-e3`.
fn tenant() -> (TenantSnapshot, String) {
    let mut t = generate(&GenerateOptions {
        users: COVERED + 1,
        groups: 0,
        seed: 16,
        skus: vec!["SPE_E3".to_owned()],
        ..GenerateOptions::default()
    })
    .expect("generates");
    let e3 = &mut t.subscribed_skus[0];
    e3.prepaid_units.enabled = 100;
    e3.consumed_units = (COVERED + 1) as i64;
    let (e3, yammer) = (
        e3.sku_id,
        e3.service_plans
            .iter()
            .find(|p| p.service_plan_name == "YAMMER_ENTERPRISE")
            .expect("yammer")
            .service_plan_id,
    );
    for u in &mut t.users {
        u.usage_location = Some("US".into());
        hold_directly(u, &[e3]);
    }
    for u in &mut t.users[..COVERED] {
        u.assigned_licenses[0].disabled_plans = vec![yammer];
        u.license_assignment_states[0].disabled_plans = vec![yammer];
    }
    let blocked = t.users[COVERED].user_principal_name.clone();
    t.groups = vec![group_of_everyone(&t)];
    (t, blocked)
}

/// The config: the group gets SPE_E3 without YAMMER_ENTERPRISE; no user is declared.
fn config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("config");
    std::fs::create_dir_all(config.join("licenses")).expect("mkdir");
    std::fs::write(
        config.join("licensectl.yaml"),
        format!("version: 1\nsafety:\n  max_removals: 1\nmigrate_to_groups:\n  max_users_per_run: {WAVE}\n"),
    )
    .expect("settings");
    let mut groups = String::new();
    let _ = writeln!(
        groups,
        "groups:\n  sg-license-e3:\n    licenses:\n      - sku: SPE_E3\n        disabled_plans: [YAMMER_ENTERPRISE]"
    );
    std::fs::write(config.join("licenses/groups.yaml"), groups).expect("groups");
    config
}

async fn run(tenant: &Emulated, args: &[&str]) -> Output {
    tenant.run(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue16_migration_waves_finish_in_ceil_users_over_n_runs_without_interruption() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (snapshot, blocked) = tenant();
    let config = config(dir.path());
    let config = config.to_str().expect("utf-8");
    let tenant = Emulated::serve(snapshot, lagging()).await;

    // The plan shows the first wave, the next waves and the blocked copy with its plan.
    let out = run(&tenant, &["plan", "--config", config]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "migration to group licensing: this plan removes {WAVE} direct copies that managed groups cover, from {WAVE} user(s) (at most {WAVE} per plan); 7 user(s) wait for the next waves (3 more plan(s)); 1 direct copy kept (migration blocked: see the findings)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "! migration blocked: {blocked}'s direct copy of SPE_E3 is kept: group sg-license-e3 gives SPE_E3 without YAMMER_ENTERPRISE, which the direct copy has on"
        )),
        "{stdout}"
    );
    // max_removals is 1, but migration removals lose no license: the plan is not refused.
    assert!(!stdout.contains("Unsafe"), "{stdout}");

    let mut runs = 0;
    loop {
        let journal = dir.path().join(format!("apply-{runs}.jsonl"));
        let out = run(
            &tenant,
            &[
                "apply",
                "--config",
                config,
                "--auto-approve",
                "--journal",
                journal.to_str().expect("utf-8"),
            ],
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "run {runs}: {}", show(&out));
        let stdout = text(&out.stdout);
        let history = tenant.running.emulator.license_history();
        assert!(
            history.interruptions.is_empty(),
            "run {runs}: no user was ever without a SKU they held: {:?}",
            history.interruptions
        );
        if stdout.contains("No changes.") {
            break;
        }
        runs += 1;
        assert!(runs <= COVERED, "the migration does not converge: {stdout}");
        // Wait out the replication lag, so that the next plan sees this wave's result.
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    }
    assert_eq!(runs, COVERED.div_ceil(WAVE), "⌈{COVERED}/{WAVE}⌉ runs");

    // Every covered user holds SPE_E3 only through the group now; the blocked one keeps
    // the direct copy (and the group's).
    let after = tenant.running.emulator.snapshot();
    for u in &after.users {
        let direct = u
            .license_assignment_states
            .iter()
            .any(|s| s.assigned_by_group.is_none());
        let inherited = u
            .license_assignment_states
            .iter()
            .any(|s| s.assigned_by_group.is_some());
        assert!(
            inherited,
            "{} holds SPE_E3 through the group",
            u.user_principal_name
        );
        assert_eq!(
            direct,
            u.user_principal_name == blocked,
            "{}: direct copy",
            u.user_principal_name
        );
    }
}
