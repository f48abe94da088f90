//! Issue 18: the progress a live read reports is true for the strategy in use. The read
//! runs through the library against the emulator with a recording [`ReadProgress`] (what
//! the CLI's bar is drawn from): for the licensed users, the phase's last total must be
//! the number of items its pagers then report, and that number is what the emulator
//! served — the licensed users for one sequential pager, one per user and SKU held when
//! reading per SKU. Through the CLI, a pipe gets no progress, only the one-line summary.

use std::sync::Mutex;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::graph::{LicensedUsersStrategy, ReadEvent, ReadProgress, ReadScope, read_tenant};
use licensectl::snapshot::TenantSnapshot;

use crate::util::{Emulated, graph_client, show, text};

/// Every event, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<ReadEvent>>);

impl ReadProgress for Recorder {
    fn event(&self, event: ReadEvent) {
        self.0.lock().expect("not poisoned").push(event);
    }
}

/// For the phase named `name`: the total of its last `Phase` event, and the items reported
/// after that event until the next phase.
fn last_phase(events: &[ReadEvent], name: &str) -> (Option<u64>, u64) {
    let start = events
        .iter()
        .rposition(|e| matches!(e, ReadEvent::Phase { name: n, .. } if *n == name))
        .unwrap_or_else(|| panic!("a {name} phase: {events:?}"));
    let ReadEvent::Phase { total, .. } = events[start] else {
        unreachable!("found above")
    };
    let items = events[start + 1..]
        .iter()
        .take_while(|e| matches!(e, ReadEvent::Items(_)))
        .map(|e| match e {
            ReadEvent::Items(n) => *n,
            ReadEvent::Phase { .. } => 0,
        })
        .sum();
    (total, items)
}

/// A tenant whose licensed users hold several SKUs each, so that the sum of consumed units
/// (what the bar used to count to) is well above the number of licensed users.
fn tenant() -> TenantSnapshot {
    generate(&GenerateOptions {
        users: 2_600,
        groups: 4,
        seed: 18,
        directory_attributes: false,
        ..GenerateOptions::default()
    })
    .expect("generates")
}

async fn read(strategy: LicensedUsersStrategy) -> (TenantSnapshot, Vec<ReadEvent>) {
    let snapshot = tenant();
    let emulated = Emulated::serve(snapshot.clone(), EmulatorOptions::default()).await;
    let client = graph_client(
        &emulated.running.url,
        &emulated.tid,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        licensectl::graph::RetryPolicy::default(),
        8,
    );
    let recorder = Recorder::default();
    let scope = ReadScope {
        strategy,
        ..ReadScope::default()
    };
    read_tenant(&client, snapshot.tenant_id, &scope, &recorder)
        .await
        .expect("reads");
    let events = recorder.0.into_inner().expect("not poisoned");
    (snapshot, events)
}

fn licensed(snapshot: &TenantSnapshot) -> u64 {
    snapshot
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .count() as u64
}

fn held_licenses(snapshot: &TenantSnapshot) -> u64 {
    snapshot
        .users
        .iter()
        .map(|u| u.assigned_licenses.len() as u64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue18_the_sequential_total_is_the_number_of_users_the_pager_reads() {
    let (snapshot, events) = read(LicensedUsersStrategy::Sequential).await;
    let (total, items) = last_phase(&events, "licensed users");
    let licensed = licensed(&snapshot);
    assert!(
        held_licenses(&snapshot) > licensed + licensed / 4,
        "the tenant's users hold several SKUs: {} licenses for {licensed} users",
        held_licenses(&snapshot)
    );
    assert_eq!(
        total,
        Some(licensed),
        "the pager's @odata.count: {events:?}"
    );
    assert_eq!(items, licensed, "the bar reaches its total exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue18_the_per_sku_total_is_what_the_per_sku_pagers_read() {
    let (snapshot, events) = read(LicensedUsersStrategy::PerSku).await;
    let (total, items) = last_phase(&events, "licensed users");
    // One item per user and SKU held: the sum of the SKUs' consumed units.
    assert_eq!(total, Some(held_licenses(&snapshot)), "{events:?}");
    assert_eq!(items, held_licenses(&snapshot));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue18_a_pipe_gets_the_summary_line_and_no_progress() {
    let snapshot = tenant();
    let emulated = Emulated::serve(snapshot.clone(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out_file = dir.path().join("read.json");
    let out_arg = out_file.display().to_string();
    let args = ["snapshot", "-o", &out_arg, "--strategy", "sequential"];
    let out = emulated.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "the summary and the file, nothing else: {stderr}"
    );
    let stats = emulated.running.emulator.stats();
    assert!(
        lines[0].starts_with(&format!(
            "Read {} SKUs, {} users and ",
            snapshot.subscribed_skus.len(),
            licensed(&snapshot)
        )) && lines[0].ends_with(&format!(
            " s ({} requests, 0 throttled, 0 retries).",
            stats.requests
        )),
        "{stderr}"
    );
    assert_eq!(lines[1], format!("Wrote {out_arg}."));

    let mut quiet = emulated.command(&args);
    quiet.arg("--quiet");
    let quiet = crate::util::output(quiet).await;
    assert_eq!(quiet.status.code(), Some(0), "{}", show(&quiet));
    assert!(quiet.stderr.is_empty(), "--quiet: {}", show(&quiet));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue17_the_ranges_total_is_the_number_of_users_each_counted_once() {
    // The two ends' first pages overlap the second page here: a user read twice is
    // counted once.
    for strategy in [LicensedUsersStrategy::Ranges, LicensedUsersStrategy::Auto] {
        let (snapshot, events) = read(strategy).await;
        let (total, items) = last_phase(&events, "licensed users");
        let licensed = licensed(&snapshot);
        assert_eq!(total, Some(licensed), "{strategy:?}: {events:?}");
        assert_eq!(
            items, licensed,
            "{strategy:?}: the bar reaches its total exactly"
        );
    }
}
