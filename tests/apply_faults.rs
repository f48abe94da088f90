//! Apply of 2,000 changes against an emulator injecting 20% 429, 5% 503 and 1% dropped
//! connections (a dropped `$batch` has already run): it converges with no assignment lost
//! or duplicated, and so does an apply killed midway and run again (issue 6).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use licensectl::emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use licensectl::emulator::faults::FaultSpec;
use licensectl::emulator::generate::{GenerateOptions, generate};
use licensectl::emulator::{EmulatorOptions, Running, serve};
use licensectl::ids::{ServicePlanId, SkuId, UserId};
use licensectl::snapshot::{TenantSnapshot, User};

const CHANGES: usize = 2000;

/// A generated tenant with ample seats.
fn tenant() -> TenantSnapshot {
    let mut t = generate(&GenerateOptions {
        users: 5000,
        groups: 4,
        seed: 7,
        skus: ["SPE_E3", "SPE_E5", "POWER_BI_PRO", "EMS"]
            .map(str::to_owned)
            .to_vec(),
        ..GenerateOptions::default()
    })
    .expect("generates");
    for sku in &mut t.subscribed_skus {
        sku.prepaid_units.enabled = 100_000;
    }
    t
}

/// A config changing 2,000 users with a direct suite: swaps, adds or removes of an
/// add-on, service plan toggles, and removal of every direct license, in turn.
fn write_config(t: &TenantSnapshot, dir: &Path) {
    let part: HashMap<SkuId, &str> = t
        .subscribed_skus
        .iter()
        .map(|s| (s.sku_id, s.sku_part_number.as_str()))
        .collect();
    let plan_name: HashMap<ServicePlanId, &str> = t
        .subscribed_skus
        .iter()
        .flat_map(|s| s.service_plans.iter())
        .map(|p| (p.service_plan_id, p.service_plan_name.as_str()))
        .collect();
    let sku_id = |name: &str| {
        t.subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == name)
            .map(|s| s.sku_id)
            .expect("sku")
    };
    let (e3, e5, pbi) = (sku_id("SPE_E3"), sku_id("SPE_E5"), sku_id("POWER_BI_PRO"));
    let yammer = plan_name
        .iter()
        .find(|(_, n)| **n == "YAMMER_ENTERPRISE")
        .map(|(id, _)| *id)
        .expect("yammer");
    let mut chosen: Vec<&User> = t
        .users
        .iter()
        .filter(|u| u.usage_location.is_some())
        .filter(|u| u.direct_states().any(|s| s.sku_id == e3 || s.sku_id == e5))
        .collect();
    chosen.sort_by(|a, b| a.user_principal_name.cmp(&b.user_principal_name));
    assert!(chosen.len() >= CHANGES, "enough users: {}", chosen.len());
    std::fs::create_dir_all(dir.join("licenses")).expect("mkdir");
    std::fs::write(
        dir.join("licensectl.yaml"),
        "version: 1\ntenant: contoso.onmicrosoft.com\n",
    )
    .expect("settings");
    for (file, chunk) in chosen[..CHANGES].chunks(500).enumerate() {
        let mut yaml = String::from("users:\n");
        for (j, user) in chunk.iter().enumerate() {
            let i = file * 500 + j;
            let mut licenses: Vec<(SkuId, Vec<ServicePlanId>)> = user
                .direct_states()
                .map(|s| (s.sku_id, s.disabled_plans.clone()))
                .collect();
            match i % 4 {
                0 => {
                    for l in &mut licenses {
                        if l.0 == e3 {
                            l.0 = e5;
                        } else if l.0 == e5 {
                            l.0 = e3;
                        }
                    }
                }
                1 => {
                    if licenses.iter().any(|l| l.0 == pbi) {
                        licenses.retain(|l| l.0 != pbi);
                    } else {
                        licenses.push((pbi, Vec::new()));
                    }
                }
                2 => {
                    for l in &mut licenses {
                        if l.0 == e3 || l.0 == e5 {
                            if l.1.contains(&yammer) {
                                l.1.retain(|p| *p != yammer);
                            } else {
                                l.1.push(yammer);
                            }
                        }
                    }
                }
                _ => licenses.clear(),
            }
            let _ = writeln!(yaml, "  {}:", user.user_principal_name);
            if licenses.is_empty() {
                yaml.push_str("    licenses: []\n");
                continue;
            }
            yaml.push_str("    licenses:\n");
            for (sku, disabled) in licenses {
                let _ = writeln!(yaml, "      - sku: {}", part[&sku]);
                if !disabled.is_empty() {
                    let names: Vec<&str> = disabled.iter().map(|p| plan_name[p]).collect();
                    let _ = writeln!(yaml, "        disabled_plans: [{}]", names.join(", "));
                }
            }
        }
        std::fs::write(dir.join(format!("licenses/users-{file}.yaml")), yaml).expect("users");
    }
}

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

fn licensectl(running: &Running, tid: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("licensectl"));
    cmd.args(args)
        .env("AZURE_TENANT_ID", tid)
        .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env("LICENSECTL_GRAPH_URL", &running.url)
        .env("AZURE_AUTHORITY_HOST", &running.url)
        .env("LICENSECTL_MAX_ATTEMPTS", "12")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .stdin(Stdio::null());
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        out.status.code(),
        tail(&out.stdout),
        tail(&out.stderr)
    )
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
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

async fn replan_is_empty(running: &Running, tid: &str, config: &str) {
    let out = output(licensectl(
        running,
        tid,
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
    let before = tenant();
    let dir = tempfile::tempdir().expect("temp dir");
    write_config(&before, dir.path());
    let config = dir.path().display().to_string();
    let tid = before.tenant_id.to_string();
    let running = serve(before.clone(), faulty(), "127.0.0.1:0")
        .await
        .expect("emulator");
    let out = output(licensectl(
        &running,
        &tid,
        &["apply", "--config", &config, "--auto-approve"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" 0 failed."), "{}", show(&out));
    let stats = running.emulator.stats();
    assert!(
        stats.faults > 100 && stats.throttled > 100,
        "faults were injected: {stats:?}"
    );
    check_integrity(
        &before,
        &running.emulator.snapshot(),
        &managed_upns(dir.path()),
    );
    replan_is_empty(&running, &tid, &config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_apply_killed_midway_converges_when_run_again() {
    let before = tenant();
    let dir = tempfile::tempdir().expect("temp dir");
    write_config(&before, dir.path());
    let config = dir.path().display().to_string();
    let tid = before.tenant_id.to_string();
    let options = EmulatorOptions {
        latency: Duration::from_millis(20),
        ..faulty()
    };
    let running = serve(before.clone(), options, "127.0.0.1:0")
        .await
        .expect("emulator");
    let journal = dir.path().join("killed.jsonl");
    let mut child = licensectl(
        &running,
        &tid,
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
    let midway = running.emulator.snapshot();
    check_integrity(&before, &midway, &managed_upns(dir.path()));
    let changed = direct(&before)
        .iter()
        .filter(|(id, l)| direct(&midway).get(*id) != Some(*l))
        .count();
    assert!(
        changed > 0 && changed < CHANGES,
        "the kill left the work half done ({changed} users changed)"
    );

    let out = output(licensectl(
        &running,
        &tid,
        &["apply", "--config", &config, "--auto-approve"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    check_integrity(
        &before,
        &running.emulator.snapshot(),
        &managed_upns(dir.path()),
    );
    replan_is_empty(&running, &tid, &config).await;
}
