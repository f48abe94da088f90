//! The offline `plan` of issue 17 end to end, as the CLI process a user runs: a generated
//! 500k-user tenant snapshot (JSON) and a config declaring 250k of its users (their direct
//! licenses, every 20th one changed) in 25 files, planned with `licensectl plan --snapshot
//! --format json` (snapshot parse, config load, plan and output included); and `licensectl
//! validate` of the same 250k users in a single file. Prints the median wall time of 3
//! runs and the process's peak memory (`VmHWM`, sampled every 10 ms), against the goals
//! (plan ≤ 1.5 s and ≤ 700 MiB; validate ≤ 0.8 s).
//!
//! Run: `cargo bench --bench plan_cli` (`PLAN_CLI_RUNS=N` for another number of runs,
//! `PLAN_CLI_DIR=DIR` to keep the generated files there).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::snapshot::{TenantSnapshot, User};

const USERS: usize = 500_000;
const MANAGED: usize = 250_000;
const FILES: usize = 25;

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `licensectl ARGS` with its output to /dev/null: exit code, wall time, peak KiB.
fn run(args: &[&str]) -> (i32, Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_licensectl"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), started.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// YAML entries for `users`: each user's direct licenses, every 20th with one dropped.
fn users_yaml(t: &TenantSnapshot, users: &[&User], first: usize) -> String {
    let part: HashMap<_, _> = t
        .subscribed_skus
        .iter()
        .map(|s| (s.sku_id, s.sku_part_number.as_str()))
        .collect();
    let plan: HashMap<_, _> = t
        .subscribed_skus
        .iter()
        .flat_map(|s| s.service_plans.iter())
        .map(|p| (p.service_plan_id, p.service_plan_name.as_str()))
        .collect();
    let mut yaml = String::from("users:\n");
    for (i, u) in users.iter().enumerate() {
        let mut states: Vec<_> = u.direct_states().collect();
        if (first + i).is_multiple_of(20) {
            states.pop();
        }
        let _ = writeln!(yaml, "  {}:", u.user_principal_name);
        if states.is_empty() {
            yaml.push_str("    licenses: []\n");
            continue;
        }
        yaml.push_str("    licenses:\n");
        for s in states {
            let _ = writeln!(yaml, "      - sku: {}", part[&s.sku_id]);
            if !s.disabled_plans.is_empty() {
                let names: Vec<&str> = s.disabled_plans.iter().map(|p| plan[p]).collect();
                let _ = writeln!(yaml, "        disabled_plans: [{}]", names.join(", "));
            }
        }
    }
    yaml
}

fn settings(dir: &Path) {
    std::fs::create_dir_all(dir.join("licenses")).unwrap();
    std::fs::write(dir.join("licensectl.yaml"), "version: 1\n").unwrap();
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn measure(label: &str, args: &[&str], runs: usize, goal_s: f64, goal_mib: Option<f64>) {
    let mut times = Vec::new();
    let mut peak = 0;
    let mut code = 0;
    for _ in 0..runs {
        let (c, t, p) = run(args);
        code = c;
        times.push(t);
        peak = peak.max(p);
    }
    let all: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}", t.as_secs_f64()))
        .collect();
    let m = median(times).as_secs_f64();
    let mib = peak as f64 / 1024.0;
    let memory = goal_mib.map_or(String::new(), |g| {
        format!(" ({:.2}x the {g:.0} MiB goal)", mib / g)
    });
    println!(
        "  {label}: exit {code}; median {m:.2} s of [{}] ({:.2}x the {goal_s} s goal), peak {mib:.0} MiB{memory}",
        all.join(", "),
        m / goal_s,
    );
}

fn main() {
    let runs: usize = std::env::var("PLAN_CLI_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let t0 = Instant::now();
    let t = generate(&GenerateOptions {
        users: USERS,
        groups: 20,
        seed: 17,
        ..GenerateOptions::default()
    })
    .expect("generates");
    // `PLAN_CLI_DIR=DIR` writes (and keeps) the tenant and configs there.
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("PLAN_CLI_DIR").map(std::path::PathBuf::from);
    let root = kept.as_deref().unwrap_or(temp.path());
    std::fs::create_dir_all(root).unwrap();
    let snapshot = root.join("tenant.json");
    t.write(&snapshot).unwrap();
    let managed: Vec<&User> = t
        .users
        .iter()
        .filter(|u| u.direct_states().next().is_some())
        .take(MANAGED)
        .collect();
    let many = root.join("many");
    settings(&many);
    let per_file = managed.len().div_ceil(FILES);
    for (f, chunk) in managed.chunks(per_file).enumerate() {
        std::fs::write(
            many.join(format!("licenses/users-{f:02}.yaml")),
            users_yaml(&t, chunk, f * per_file),
        )
        .unwrap();
    }
    let one = root.join("one");
    settings(&one);
    std::fs::write(one.join("licenses/users.yaml"), users_yaml(&t, &managed, 0)).unwrap();
    let bytes = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "plan_cli: {USERS}-user snapshot ({:.0} MiB), {} managed users ({:.0} MiB of YAML in {FILES} files; one file for validate), set up in {:.1} s, load {}",
        bytes(&snapshot),
        managed.len(),
        bytes(&one.join("licenses/users.yaml")),
        t0.elapsed().as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    drop(t);
    let many_arg = many.display().to_string();
    let one_arg = one.display().to_string();
    let snap_arg = snapshot.display().to_string();
    measure(
        "plan --snapshot --format json",
        &[
            "plan",
            "--config",
            &many_arg,
            "--snapshot",
            &snap_arg,
            "--format",
            "json",
        ],
        runs,
        1.5,
        Some(700.0),
    );
    measure(
        "validate (one 250k-user file)",
        &["validate", "--config", &one_arg],
        runs,
        0.8,
        None,
    );
}
