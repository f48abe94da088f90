//! Apply of 2,000 changes against an emulator injecting 20% 429, 5% 503 and 1% dropped
//! connections (a dropped `$batch` has already run): it converges with no assignment lost
//! or duplicated, and so does an apply killed midway and run again (issue 6).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graph_emulator::EmulatorOptions;
use graph_emulator::faults::FaultSpec;
use licensectl::ids::{ServicePlanId, SkuId, UserId};
use licensectl::snapshot::TenantSnapshot;

use crate::churn;
use crate::util::{Emulated, output, output_within, show, text};

const CHANGES: usize = 2000;
/// The time bound of one apply here: it takes 10–35 s; a pacer walking its rate down to
/// one write a second took 11 minutes.
const APPLY_LIMIT: Duration = Duration::from_secs(600);

fn faulty() -> EmulatorOptions {
    EmulatorOptions {
        faults: FaultSpec {
            throttle: 0.20,
            unavailable: 0.05,
            drop: 0.01,
            retry_after_secs: 0.05,
            slow_ms: 0,
            ..FaultSpec::default()
        },
        seed: 3,
        ..EmulatorOptions::default()
    }
}

/// `licensectl ARGS` against `tenant`, with attempts to spare for the injected faults.
fn with_retries(tenant: &Emulated, args: &[&str]) -> Command {
    let mut cmd = tenant.command(args);
    cmd.env("LICENSECTL_MAX_ATTEMPTS", "12");
    cmd
}

/// Direct licenses per user, and seats per SKU, of the emulator's current state.
fn direct(t: &TenantSnapshot) -> BTreeMap<UserId, Vec<(SkuId, Vec<ServicePlanId>)>> {
    t.users
        .iter()
        .map(|u| {
            let mut l: Vec<(SkuId, Vec<ServicePlanId>)> = u
                .direct_states()
                .map(|s| {
                    let mut d = s.disabled_plans.clone();
                    d.sort();
                    (s.sku_id, d)
                })
                .collect();
            l.sort();
            (u.id, l)
        })
        .collect()
}

/// No assignment lost or duplicated: each SKU's consumed units equal the users holding
/// it, no user holds a SKU twice from one source, and users outside the config are as
/// they were.
fn check_integrity(before: &TenantSnapshot, after: &TenantSnapshot, managed: &[String]) {
    for sku in &after.subscribed_skus {
        let holders = after
            .users
            .iter()
            .filter(|u| u.assigned_licenses.iter().any(|l| l.sku_id == sku.sku_id))
            .count() as i64;
        assert_eq!(
            sku.consumed_units, holders,
            "seats of {}",
            sku.sku_part_number
        );
    }
    for u in &after.users {
        let mut seen = std::collections::HashSet::new();
        for s in &u.license_assignment_states {
            assert!(
                seen.insert((s.sku_id, s.assigned_by_group)),
                "{} holds {} twice from one source",
                u.user_principal_name,
                s.sku_id
            );
        }
    }
    let (b, a) = (direct(before), direct(after));
    for u in &before.users {
        if !managed.contains(&u.user_principal_name) {
            assert_eq!(
                b.get(&u.id),
                a.get(&u.id),
                "{} untouched",
                u.user_principal_name
            );
        }
    }
}

fn managed_upns(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir.join("licenses")).expect("dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
        out.extend(
            text.lines()
                .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
                .map(|l| l.trim().trim_end_matches(':').to_owned()),
        );
    }
    out
}

async fn replan_is_empty(tenant: &Emulated, config: &str) {
    let out = output(with_retries(
        tenant,
        &["plan", "--config", config, "--detailed-exitcode"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "re-plan is empty: {}",
        show(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_apply_of_2000_changes_converges_under_faults() {
    let before = churn::tenant(5000);
    let dir = tempfile::tempdir().expect("temp dir");
    churn::write_config(&before, dir.path(), CHANGES);
    let config = dir.path().display().to_string();
    let tenant = Emulated::serve(before.clone(), faulty()).await;
    let out = output_within(
        with_retries(&tenant, &["apply", "--config", &config, "--auto-approve"]),
        APPLY_LIMIT,
        "apply of 2,000 changes under faults",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(" 0 failed."), "{}", show(&out));
    let stats = tenant.running.emulator.stats();
    assert!(
        stats.faults > 100 && stats.throttled > 100,
        "faults were injected: {stats:?}"
    );
    check_integrity(
        &before,
        &tenant.running.emulator.snapshot(),
        &managed_upns(dir.path()),
    );
    replan_is_empty(&tenant, &config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_apply_killed_midway_converges_when_run_again() {
    let before = churn::tenant(5000);
    let dir = tempfile::tempdir().expect("temp dir");
    churn::write_config(&before, dir.path(), CHANGES);
    let config = dir.path().display().to_string();
    let options = EmulatorOptions {
        latency: Duration::from_millis(20),
        ..faulty()
    };
    let tenant = Emulated::serve(before.clone(), options).await;
    let journal = dir.path().join("killed.jsonl");
    let mut child = with_retries(
        &tenant,
        &[
            "apply",
            "--config",
            &config,
            "--auto-approve",
            "--max-concurrency",
            "2",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("apply starts");
    // Kill it once a few hundred writes have been answered.
    let start = Instant::now();
    loop {
        let results = std::fs::read_to_string(&journal)
            .map(|t| {
                t.lines()
                    .filter(|l| l.contains("\"event\":\"result\""))
                    .count()
            })
            .unwrap_or(0);
        if results >= 300 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the apply made progress"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("apply finished before it could be killed: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("killed");
    let _ = child.wait();
    let journal_text = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        !journal_text.contains("\"event\":\"end\""),
        "the killed apply did not finish"
    );
    // Every journal line is whole JSON, even the last one written before the kill.
    for line in journal_text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("whole JSON line");
    }
    let midway = tenant.running.emulator.snapshot();
    check_integrity(&before, &midway, &managed_upns(dir.path()));
    let (was, now) = (direct(&before), direct(&midway));
    let changed = was
        .iter()
        .filter(|(id, l)| now.get(*id) != Some(*l))
        .count();
    assert!(
        changed > 0 && changed < CHANGES,
        "the kill left the work half done ({changed} users changed)"
    );

    let out = output_within(
        with_retries(&tenant, &["apply", "--config", &config, "--auto-approve"]),
        APPLY_LIMIT,
        "apply run again after the kill",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    check_integrity(
        &before,
        &tenant.running.emulator.snapshot(),
        &managed_upns(dir.path()),
    );
    replan_is_empty(&tenant, &config).await;
}
