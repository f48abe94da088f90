//! Reads a generated 100k-user tenant through the real client, with 50 ms of service time
//! per request, once per licensed-user strategy, and prints requests against the lower
//! bound, resource units, wall time against the lower-bound time, and peak memory.
//!
//! Run: `cargo bench --bench graph_read`. Until the emulator lands on main this serves
//! the tenant from the scripted Graph double of the integration tests.

#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use licensectl::auth::{AuthMethod, AuthSettings, TokenSource};
use licensectl::graph::client::{ClientStats, PAGE_SIZE};
use licensectl::graph::read::{LicensedUsersStrategy, NoProgress, ReadScope, read_tenant};
use licensectl::graph::{ClientOptions, Cloud, Endpoints, GraphClient, RetryPolicy};

const USERS: usize = 100_000;
const LATENCY: Duration = Duration::from_millis(50);

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let double = support::Double::new(USERS);
    double.0.lock().expect("lock").latency = LATENCY;
    let url = double.clone().serve().await;
    let endpoints = Endpoints::resolve(Cloud::Global, Some(&url), Some(&url)).expect("endpoints");
    let settings = AuthSettings {
        method: Some(AuthMethod::Secret),
        tenant_id: Some(support::TENANT.into()),
        client_id: Some(support::CLIENT_ID.into()),
        client_secret: Some(Secret::new(support::SECRET)),
        ..AuthSettings::default()
    };
    let lower_requests = USERS.div_ceil(PAGE_SIZE as usize) as u64 + 1; // pages + subscribedSkus
    println!(
        "graph_read: {USERS} licensed users, {} ms per request",
        LATENCY.as_millis()
    );
    println!(
        "lower bound: {lower_requests} requests (ceil({USERS}/999) pages + 1 subscribedSkus; no managed groups), {:.2} s sequential at this latency",
        (lower_requests as f64) * LATENCY.as_secs_f64()
    );
    for strategy in [
        LicensedUsersStrategy::Sequential,
        LicensedUsersStrategy::PerSku,
    ] {
        let http = reqwest::Client::new();
        let tokens = TokenSource::new(&settings, &endpoints, http.clone()).expect("tokens");
        let client = GraphClient::new(
            http,
            endpoints.graph_v1(),
            tokens,
            ClientOptions {
                retry: RetryPolicy::default(),
                max_concurrency: 8,
            },
        );
        client.tokens().token().await.expect("token");
        let started = Instant::now();
        let snap = read_tenant(
            &client,
            support::TENANT.parse().expect("tid"),
            &ReadScope {
                strategy,
                ..ReadScope::default()
            },
            &NoProgress,
        )
        .await
        .expect("read");
        let wall = started.elapsed();
        let s = client.stats();
        println!(
            "{strategy:?}: {} users, {} requests (lower bound {lower_requests}), {} RU, wall {:.2} s (lower-bound time {:.2} s sequential / {:.2} s with 2 SKU partitions), peak RSS {:.0} MiB",
            snap.users.len(),
            ClientStats::get(&s.requests),
            ClientStats::get(&s.resource_units),
            wall.as_secs_f64(),
            lower_requests as f64 * LATENCY.as_secs_f64(),
            (1 + (USERS * 2 / 3).div_ceil(999)) as f64 * LATENCY.as_secs_f64(),
            peak_rss_mib(),
        );
    }
}
