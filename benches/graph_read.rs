//! Reads a generated 100k-user tenant from the real emulator (`licensectl emulator serve`
//! in a child process, 50 ms of service time per request) through the real client and
//! credential, once per licensed-user strategy (`Auto` last: it reads one page in UPN order
//! to learn the number of licensed users, then decides), and prints: requests against the lower
//! bound, resource units spent (the emulator's count), wall time against the time the
//! lower bound needs at that latency, and the client's peak memory.
//!
//! Each strategy's read is followed by the read a live `plan` makes of the same tenant
//! when the config names every group by displayName: its requests against the snapshot
//! read's (issue 17: no more than the snapshot's plus what the named groups need).
//!
//! Run: `cargo bench --bench graph_read`. `GRAPH_READ_USERS=500000 GRAPH_READ_LATENCY_MS=100`
//! reads a larger tenant at another latency; `GRAPH_READ_RULES=1` adds the read of a
//! config with attribute rules over every user (every user read with `department`);
//! `GRAPH_READ_RULES=only` reads only that.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

// The binary's allocator, so that the memory figures are the command's (and the memory
// freed after generating the tenant goes back to the system before the read).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::auth::{AuthMethod, AuthSettings, TokenSource};
use licensectl::graph::{BATCH_MAX, ClientStats, PAGE_SIZE};
use licensectl::graph::{ClientOptions, Cloud, Endpoints, GraphClient, RetryPolicy};
use licensectl::graph::{
    IN_FILTER_MAX, LicensedUsersStrategy, NoProgress, ReadScope, RulesRead, per_sku_rounds,
    read_tenant,
};
use licensectl::snapshot::TenantSnapshot;

const USERS: usize = 100_000;
const GROUPS: usize = 20;
const LATENCY_MS: u64 = 50;
const CONCURRENCY: usize = 8;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills the emulator when the benchmark ends, however it ends.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kib_field(name: &str) -> Option<f64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets the peak resident set size (Linux: `5` to clear_refs); false if not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: Option<f64>) -> f64 {
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// What the fewest requests reading `t` need, and how many must follow one another.
struct LowerBound {
    requests: u64,
    detail: String,
    /// Rounds of requests (each waiting for the previous one) with CONCURRENCY in flight.
    chain_sequential: u64,
    chain_per_sku: u64,
    /// The fewest rounds of all: every user page once, CONCURRENCY at a time.
    chain_parallel: u64,
    /// Pages of every user (what attribute rules over every user read).
    all_pages: u64,
}

fn lower_bound(t: &TenantSnapshot) -> LowerBound {
    let licensed: Vec<_> = t
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .collect();
    let licensed_ids: HashSet<_> = licensed.iter().map(|u| u.id).collect();
    let groups: BTreeSet<_> = licensed
        .iter()
        .flat_map(|u| u.inherited_states().filter_map(|s| s.assigned_by_group))
        .collect();
    let page = |n: usize| (n.max(1) as u64).div_ceil(u64::from(PAGE_SIZE));
    let pages = page(licensed.len());
    let read_groups: Vec<_> = t.groups.iter().filter(|g| groups.contains(&g.id)).collect();
    let member_pages: Vec<u64> = read_groups.iter().map(|g| page(g.members.len())).collect();
    let unlicensed: BTreeSet<_> = read_groups
        .iter()
        .flat_map(|g| g.members.iter())
        .filter(|m| !licensed_ids.contains(m))
        .collect();
    let group_requests = (read_groups.len() as u64).div_ceil((IN_FILTER_MAX * BATCH_MAX) as u64);
    let lookups = (unlicensed.len() as u64).div_ceil((IN_FILTER_MAX * BATCH_MAX) as u64);
    let members: u64 = member_pages.iter().sum();
    let sku_pages: Vec<u64> = t
        .subscribed_skus
        .iter()
        .filter(|s| s.consumed_units > 0)
        .map(|s| page(s.consumed_units as usize))
        .collect();
    // Pagers run side by side, CONCURRENCY requests at a time.
    let tail = 1 + per_sku_rounds(&member_pages, CONCURRENCY) + u64::from(lookups > 0);
    LowerBound {
        requests: pages + 2 + group_requests + members + lookups,
        detail: format!(
            "{pages} user pages (ceil({}/999)) + subscribedSkus + organization + {group_requests} $batch for {} groups + {members} member pages + {lookups} $batch for {} unlicensed members",
            licensed.len(),
            read_groups.len(),
            unlicensed.len()
        ),
        chain_sequential: 1 + pages + tail,
        chain_per_sku: 1 + per_sku_rounds(&sku_pages, CONCURRENCY) + tail,
        chain_parallel: 1 + pages.div_ceil(CONCURRENCY as u64) + tail,
        all_pages: page(t.users.len()),
    }
}

fn start_emulator(tenant: &std::path::Path, latency_ms: u64) -> (Emulator, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licensectl"))
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--tenant"])
        .arg(tenant)
        .args(["--latency-ms", &latency_ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let stdout = child.stdout.take().expect("stdout");
    let emulator = Emulator(child);
    let mut url = String::new();
    BufReader::new(stdout)
        .read_line(&mut url)
        .expect("emulator prints its URL");
    (emulator, url.trim().to_owned())
}

async fn emulator_stats(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(format!("{url}/_emulator/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// One read of the tenant at `url` with `scope`: requests, resource units, wall time,
/// peak and starting RSS (MiB), users and groups read.
struct Measured {
    requests: u64,
    resource_units: serde_json::Value,
    wall: Duration,
    peak: f64,
    before: f64,
    users: usize,
    groups: usize,
}

async fn measure(
    url: &str,
    endpoints: &Endpoints,
    settings: &AuthSettings,
    tid: licensectl::ids::TenantId,
    scope: &ReadScope,
) -> Measured {
    let http = reqwest::Client::new();
    let tokens = TokenSource::new(settings, endpoints, http.clone()).expect("credential");
    let client = GraphClient::new(
        http.clone(),
        endpoints.graph_v1(),
        tokens,
        ClientOptions {
            retry: RetryPolicy::default(),
            max_concurrency: CONCURRENCY,
            ..ClientOptions::default()
        },
    );
    client.tokens().token().await.expect("token");
    http.post(format!("{url}/_emulator/stats/reset"))
        .send()
        .await
        .expect("stats reset");
    reset_peak_rss();
    let before = mib(kib_field("VmRSS:"));
    let started = Instant::now();
    let snap = read_tenant(&client, tid, scope, &NoProgress)
        .await
        .expect("read");
    let wall = started.elapsed();
    let peak = mib(kib_field("VmHWM:"));
    let stats = emulator_stats(&http, url).await;
    Measured {
        requests: ClientStats::get(&client.stats().requests),
        resource_units: stats["resourceUnits"].clone(),
        wall,
        peak,
        before,
        users: snap.users.len(),
        groups: snap.groups.len(),
    }
}

#[tokio::main]
async fn main() {
    let t0 = Instant::now();
    let users = env_or("GRAPH_READ_USERS", USERS);
    let latency_ms = env_or("GRAPH_READ_LATENCY_MS", LATENCY_MS);
    let rules_env = std::env::var("GRAPH_READ_RULES").unwrap_or_default();
    let with_rules = rules_env == "1" || rules_env == "only";
    let strategies: &[LicensedUsersStrategy] = if rules_env == "only" {
        &[]
    } else {
        &[
            LicensedUsersStrategy::Sequential,
            LicensedUsersStrategy::PerSku,
            LicensedUsersStrategy::Ranges,
            LicensedUsersStrategy::Auto,
        ]
    };
    let tenant = generate(&GenerateOptions {
        users,
        groups: GROUPS,
        seed: 1,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tenant.json");
    tenant.write(&file).expect("tenant written");
    let bound = lower_bound(&tenant);
    let tid = tenant.tenant_id;
    let group_names: Vec<String> = tenant
        .groups
        .iter()
        .map(|g| g.display_name.clone())
        .collect();
    drop(tenant);
    let (_emulator, url) = start_emulator(&file, latency_ms);
    let latency = Duration::from_millis(latency_ms);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "graph_read: {users} users, {GROUPS} groups, {latency_ms} ms per request, at most {CONCURRENCY} in flight (set up in {:.1} s; load {})",
        t0.elapsed().as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "lower bound: {} requests = {}",
        bound.requests, bound.detail
    );
    println!(
        "lower-bound time: {:.2} s one request after another; {:.2} s sequential, {:.2} s per SKU (the parallel bound) and {:.2} s with every user page once, with {CONCURRENCY} in flight",
        bound.requests as f64 * latency.as_secs_f64(),
        bound.chain_sequential as f64 * latency.as_secs_f64(),
        bound.chain_per_sku as f64 * latency.as_secs_f64(),
        bound.chain_parallel as f64 * latency.as_secs_f64(),
    );
    let endpoints = Endpoints::resolve(Cloud::Global, Some(&url), Some(&url)).expect("endpoints");
    let settings = AuthSettings {
        method: Some(AuthMethod::Secret),
        tenant_id: Some(tid.to_string()),
        client_id: Some(DEFAULT_CLIENT_ID.into()),
        client_secret: Some(Secret::new(DEFAULT_CLIENT_SECRET)),
        ..AuthSettings::default()
    };
    let peak_resettable = reset_peak_rss();
    let peak_note = if peak_resettable {
        ""
    } else {
        "; peak since start"
    };
    for &strategy in strategies {
        let chain = match strategy {
            LicensedUsersStrategy::Sequential => bound.chain_sequential,
            _ => bound.chain_per_sku,
        };
        let chain_time = chain as f64 * latency.as_secs_f64();
        let snapshot_scope = ReadScope {
            strategy,
            ..ReadScope::default()
        };
        let m = measure(&url, &endpoints, &settings, tid, &snapshot_scope).await;
        let tight = if strategy == LicensedUsersStrategy::Sequential {
            String::new()
        } else {
            let t = bound.chain_parallel as f64 * latency.as_secs_f64();
            format!(
                "; {:.2}x the {t:.2} s of every user page once",
                m.wall.as_secs_f64() / t
            )
        };
        println!(
            "{strategy:?}: {} users, {} groups; {} requests (lower bound {}, {:.2}x), {} RU; wall {:.2} s (lower-bound time {:.2} s serial, {chain_time:.2} s with {CONCURRENCY} in flight: {:.2}x{tight}); peak RSS {:.0} MiB ({:.0} MiB before the read{peak_note})",
            m.users,
            m.groups,
            m.requests,
            bound.requests,
            m.requests as f64 / bound.requests as f64,
            m.resource_units,
            m.wall.as_secs_f64(),
            bound.requests as f64 * latency.as_secs_f64(),
            m.wall.as_secs_f64() / chain_time,
            m.peak,
            m.before,
        );
        // The read of a live plan whose config names every group by displayName.
        let plan_scope = ReadScope {
            strategy,
            managed_group_names: group_names.clone(),
            ..ReadScope::default()
        };
        let p = measure(&url, &endpoints, &settings, tid, &plan_scope).await;
        let names_batches = (2 * group_names.len().div_ceil(IN_FILTER_MAX)).div_ceil(BATCH_MAX);
        println!(
            "  {strategy:?} plan read (config names all {} groups): {} requests = snapshot's {} {:+} (the names need {names_batches} $batch); wall {:.2} s ({:.2}x the snapshot read's lower-bound time)",
            group_names.len(),
            p.requests,
            m.requests,
            p.requests as i64 - m.requests as i64,
            p.wall.as_secs_f64(),
            p.wall.as_secs_f64() / chain_time,
        );
    }
    if with_rules {
        // Attribute rules over every user: every user is read (with `department`) beside
        // the licensed users; the bound is every user's pages one after another.
        let rules_chain = (1 + bound.all_pages + 2) as f64 * latency.as_secs_f64();
        // Read in UPN ranges: every page once, CONCURRENCY at a time.
        let rules_parallel =
            (1 + bound.all_pages.div_ceil(CONCURRENCY as u64) + 2) as f64 * latency.as_secs_f64();
        let scope = ReadScope {
            managed_group_names: group_names.clone(),
            rules: Some(RulesRead {
                attributes: vec!["department"],
                filter: None,
                all_groups: false,
            }),
            ..ReadScope::default()
        };
        let m = measure(&url, &endpoints, &settings, tid, &scope).await;
        println!(
            "with rules over every user: {} users, {} groups; {} requests; wall {:.2} s (lower-bound time {rules_chain:.2} s: {} pages of every user one after another + 3 rounds: {:.2}x; {rules_parallel:.2} s with {CONCURRENCY} in flight: {:.2}x); peak RSS {:.0} MiB ({:.0} MiB before the read{peak_note})",
            m.users,
            m.groups,
            m.requests,
            m.wall.as_secs_f64(),
            bound.all_pages,
            m.wall.as_secs_f64() / rules_chain,
            m.wall.as_secs_f64() / rules_parallel,
            m.peak,
            m.before,
        );
    }
}
