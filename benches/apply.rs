//! Apply throughput against Graph's write budget: a generated tenant served by the
//! emulator with Graph's throttling model (its windows scaled 100× shorter, so the app +
//! tenant write quota of 3,000 per 150 s becomes 3,000 per 1.5 s = 2,000 writes/s), and a
//! config that changes 10,000 users, with 50 ms of latency on every request. Runs the
//! release `licensectl apply` through the CLI at two concurrency limits and prints, from
//! the journal and the emulator's statistics: writes, `$batch` requests against the lower
//! bound (`ceil(writes / 20)`), wall time of the write phases against the time the write
//! budget needs, the 429s Graph answered (thrashing shows as many 429s per write), and the
//! apply process's peak memory (its `VmHWM`, sampled every 20 ms while it runs).
//! Run with `cargo bench --bench apply`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/churn.rs"]
mod churn;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::throttle::ThrottleOptions;
use graph_emulator::{EmulatorOptions, serve};

const USERS: usize = 25_000;
const CHANGES: usize = 10_000;
const SCALE: f64 = 0.01;
const LATENCY: Duration = Duration::from_millis(50);

/// The peak resident set (`VmHWM`, KiB) of process `pid`, while it lives.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn seconds(stamp: &str) -> f64 {
    let t = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 time");
    t.unix_timestamp_nanos() as f64 / 1e9
}

#[tokio::main]
async fn main() {
    let tenant = churn::tenant(USERS);
    let tid = tenant.tenant_id.to_string();
    let budget = ThrottleOptions::graph().time_scaled(SCALE);
    let per_second = f64::from(budget.write_quota) / budget.write_window.as_secs_f64();
    println!(
        "apply: {CHANGES} changes in a {USERS}-user tenant; write budget {} per {:.1} s = {per_second:.0} writes/s (Graph's 3,000 per 150 s, windows scaled {SCALE}), {} ms latency per request",
        budget.write_quota,
        budget.write_window.as_secs_f64(),
        LATENCY.as_millis()
    );
    for concurrency in [8, 32] {
        let dir = tempfile::tempdir().unwrap();
        churn::write_config(&tenant, dir.path(), CHANGES);
        let running = serve(
            tenant.clone(),
            EmulatorOptions {
                throttle: Some(ThrottleOptions::graph().time_scaled(SCALE)),
                latency: LATENCY,
                ..EmulatorOptions::default()
            },
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let journal = dir.path().join("journal.jsonl");
        let started = Instant::now();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_licensectl"));
        cmd.args(["apply", "--config"])
            .arg(dir.path())
            .args([
                "--auto-approve",
                "--max-concurrency",
                &concurrency.to_string(),
            ])
            .arg("--journal")
            .arg(&journal)
            .env("AZURE_TENANT_ID", &tid)
            .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("LICENSECTL_GRAPH_URL", &running.url)
            .env("AZURE_AUTHORITY_HOST", &running.url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (status, peak) = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap();
            let mut peak = 0;
            loop {
                if let Some(kib) = peak_kib(child.id()) {
                    peak = peak.max(kib);
                }
                if let Some(status) = child.try_wait().unwrap() {
                    return (status, peak);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        let total = started.elapsed().as_secs_f64();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&journal)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let times = |event: &str| {
            lines
                .iter()
                .filter(|l| l["event"] == event)
                .map(|l| seconds(l["time"].as_str().unwrap()))
                .collect::<Vec<f64>>()
        };
        let requests = times("request");
        let results = times("result");
        let first = requests.iter().copied().fold(f64::INFINITY, f64::min);
        let last = results.iter().copied().fold(0.0, f64::max);
        let write_secs = (last - first).max(1e-3);
        let ok = lines
            .iter()
            .filter(|l| l["event"] == "result" && l["outcome"] == "ok")
            .count();
        let throttled_items = lines
            .iter()
            .filter(|l| l["event"] == "result" && l["status"] == 429)
            .count();
        let stats = running.emulator.stats();
        // The budget allows the first window's quota at once, then `per_second`.
        let bound = (ok as f64 - f64::from(budget.write_quota)).max(0.0) / per_second;
        println!(
            "  --max-concurrency {concurrency}: exit {}, {ok} writes in {write_secs:.2} s (lower bound at the budget {bound:.2} s: {:.0}% of the budget's pace), {throttled_items} item 429s ({:.2} per write), {} batches (lower bound {}: {:.2}x), peak memory {:.0} MiB, total {total:.2} s incl. read and verify",
            status.code().unwrap_or(-1),
            100.0 * bound / write_secs,
            throttled_items as f64 / ok.max(1) as f64,
            stats.batches,
            ok.div_ceil(20),
            stats.batches as f64 / ok.div_ceil(20).max(1) as f64,
            peak as f64 / 1024.0,
        );
    }
}
