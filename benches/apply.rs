//! Apply throughput against Graph's write budget: a generated tenant served by the
//! emulator with Graph's throttling model (fixed windows, as the emulator counts them by
//! default, scaled 100× shorter, so the app + tenant write quota of 3,000 per 150 s
//! becomes 3,000 per 1.5 s), and a config that changes 10,000 users, with 50 ms of latency
//! on every request. Runs the release `licensectl apply` through the CLI at two
//! concurrency limits and prints, from the journal and the emulator's statistics: writes,
//! `$batch` requests against the lower bound (`ceil(writes / 20)`), wall time of the
//! writes against the budget's lower bound, the share of writes answered 429, and the
//! apply process's peak memory (its `VmHWM`, sampled every 20 ms while it runs), at
//! `apply`'s default `--max-concurrency` (32) and at 8.
//!
//! The budget's lower bound: the emulator opens the app's write window at the app's first
//! request, then every window; the bench makes that first request itself (at `T0`), so
//! the windows are `T0 + k × window`. Writes that start at `s` in window `k0` can have
//! their `N`-th accepted at the earliest when window `k0 + ⌊(N − 1) / quota⌋` opens
//! (the first window's whole quota is there at once): the bound is that time minus `s`,
//! and the ratio is the writes' wall time (first request to last answer) over it.
//! The target: at most 1.05× the bound with at most 2% of the writes answered 429.
//! Run with `cargo bench --bench apply` (`APPLY_BENCH_JOURNALS=DIR` keeps the journals).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/churn.rs"]
mod churn;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::throttle::ThrottleOptions;
use graph_emulator::{EmulatorOptions, serve};

const USERS: usize = 25_000;
/// The target of issue 13: the writes' wall time over the budget's lower bound.
const TARGET_RATIO: f64 = 1.05;
/// The target share of writes answered 429.
const TARGET_429_SHARE: f64 = 0.02;
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

/// Opens the app's windows now: one Graph request as the app (the emulator starts an
/// app's quota windows at its first request).
async fn open_windows(url: &str, tid: &str) -> Instant {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{url}/{tid}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let at = Instant::now();
    let status = http
        .get(format!("{url}/v1.0/subscribedSkus"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    at
}

#[tokio::main]
async fn main() {
    let tenant = churn::tenant(USERS);
    let tid = tenant.tenant_id.to_string();
    let budget = ThrottleOptions::graph().time_scaled(SCALE);
    let window = budget.write_window.as_secs_f64();
    let quota = budget.write_quota as usize;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "apply: {CHANGES} changes in a {USERS}-user tenant; write budget {quota} per {window:.1} s, {:?} (Graph's 3,000 per 150 s, windows scaled {SCALE}), {} ms latency per request (load {})",
        budget.refill,
        LATENCY.as_millis(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for concurrency in [None, Some(8)] {
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
        let windows_open = open_windows(&running.url, &tid).await;
        let windows_open_unix = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
            - windows_open.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_licensectl"));
        cmd.args(["apply", "--config"])
            .arg(dir.path())
            .arg("--auto-approve");
        if let Some(n) = concurrency {
            cmd.args(["--max-concurrency", &n.to_string()]);
        }
        cmd.arg("--journal")
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
        // `APPLY_BENCH_JOURNALS=DIR` keeps each run's journal for a closer look.
        if let Some(keep) = std::env::var_os("APPLY_BENCH_JOURNALS") {
            let keep = std::path::Path::new(&keep);
            std::fs::create_dir_all(keep).unwrap();
            let name = concurrency.map_or("default".to_owned(), |n| n.to_string());
            std::fs::copy(&journal, keep.join(format!("apply-{name}.jsonl"))).unwrap();
        }
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
        // The earliest the last write could be accepted: when the window holding it opens.
        let k0 = ((first - windows_open_unix) / window).floor().max(0.0);
        let last_window = k0 + ((ok.max(1) - 1) / quota) as f64;
        let bound = (windows_open_unix + last_window * window - first).max(0.0);
        let ratio = write_secs / bound.max(1e-3);
        let sent = ok + throttled_items;
        let share = throttled_items as f64 / sent.max(1) as f64;
        let verdict = if ratio <= TARGET_RATIO && share <= TARGET_429_SHARE {
            "meets"
        } else {
            "misses"
        };
        println!(
            "  --max-concurrency {}: exit {}, {ok} writes in {write_secs:.2} s against the budget's lower bound of {bound:.2} s: {ratio:.3}x; {throttled_items} of {sent} writes sent answered 429 ({:.2}%); {verdict} the target (<= {TARGET_RATIO}x, <= {:.0}% 429); {} batches (lower bound {}: {:.2}x), peak memory {:.0} MiB, total {total:.2} s incl. read and verify",
            concurrency.map_or("default (32)".to_owned(), |n| n.to_string()),
            status.code().unwrap_or(-1),
            100.0 * share,
            100.0 * TARGET_429_SHARE,
            stats.batches,
            ok.div_ceil(20),
            stats.batches as f64 / ok.div_ceil(20).max(1) as f64,
            peak as f64 / 1024.0,
        );
    }
}
