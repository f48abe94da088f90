//! Issue 17's apply case against the SDK loop a script would be: 400 license changes in a
//! generated tenant whose config also names its 20 groups, served by `licensectl emulator
//! serve` (a child process) with 250 ms of latency per request and Graph's throttling
//! (`--throttle graph`, unscaled). Prints:
//! - the release `licensectl apply` end to end (token, live read, plan, writes, checks),
//!   against its own round bound: the rounds of requests that must follow one another
//!   (the token; the licensed users' pages, the first beside the SKUs, the organization
//!   and the one `$batch` of group lookups, or the token's round plus the largest group's
//!   member pages when longer; the lookup of unlicensed group members; the write rounds of
//!   32 `$batch`es of 20; one round re-reading what was written) times the latency;
//! - the same writes (taken from the tenant before and after the apply) made one
//!   `assignLicense` call per user, one after another, through Microsoft's Python Graph SDK
//!   (`msgraph-sdk` from PyPI, installed into a venv under `target/sdk-venv` on the first
//!   run; the bench says so and skips this part when Python or the install fails), on a
//!   fresh emulator with the same tenant, and how many times faster apply was.
//!
//! Run: `cargo bench --bench sdk_loop`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

// Only the config writer is used here.
#[allow(dead_code)]
#[path = "../tests/it/churn.rs"]
mod churn;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::graph::{BATCH_MAX, IN_FILTER_MAX, PAGE_SIZE};
use licensectl::snapshot::{TenantSnapshot, User};

const USERS: usize = 5_000;
const GROUPS: usize = 20;
const CHANGES: usize = 400;
const LATENCY_MS: u64 = 250;
/// `apply`'s default `--max-concurrency`.
const APPLY_CONCURRENCY: u64 = 32;
/// The goals of issue 17.
const TARGET_RATIO: f64 = 1.3;
const TARGET_SPEEDUP: f64 = 30.0;

/// Kills the emulator when the benchmark ends, however it ends.
struct Emulator(Child, String);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(tenant: &Path) -> Emulator {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licensectl"))
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--tenant"])
        .arg(tenant)
        .args([
            "--latency-ms",
            &LATENCY_MS.to_string(),
            "--throttle",
            "graph",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut url = String::new();
    BufReader::new(stdout)
        .read_line(&mut url)
        .expect("emulator prints its URL");
    Emulator(child, url.trim().to_owned())
}

/// The tenant: churn's SKUs with ample seats, 20 groups.
fn tenant() -> TenantSnapshot {
    let mut t = generate(&GenerateOptions {
        users: USERS,
        groups: GROUPS,
        seed: 17,
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

/// The groups, each with the licenses it has (no change), by displayName.
fn write_groups(t: &TenantSnapshot, dir: &Path) {
    let part: BTreeMap<_, _> = t
        .subscribed_skus
        .iter()
        .map(|s| (s.sku_id, s.sku_part_number.as_str()))
        .collect();
    let plan: BTreeMap<_, _> = t
        .subscribed_skus
        .iter()
        .flat_map(|s| s.service_plans.iter())
        .map(|p| (p.service_plan_id, p.service_plan_name.as_str()))
        .collect();
    let mut yaml = String::from("groups:\n");
    for g in &t.groups {
        let _ = writeln!(yaml, "  {:?}:", g.display_name);
        if g.assigned_licenses.is_empty() {
            yaml.push_str("    licenses: []\n");
            continue;
        }
        yaml.push_str("    licenses:\n");
        for l in &g.assigned_licenses {
            let _ = writeln!(yaml, "      - sku: {}", part[&l.sku_id]);
            if !l.disabled_plans.is_empty() {
                let names: Vec<&str> = l.disabled_plans.iter().map(|p| plan[p]).collect();
                let _ = writeln!(yaml, "        disabled_plans: [{}]", names.join(", "));
            }
        }
    }
    std::fs::write(dir.join("licenses/groups.yaml"), yaml).expect("groups");
}

/// Rounds of requests apply cannot do with fewer (see the module comment).
fn round_bound(t: &TenantSnapshot, writes: usize) -> (u64, String) {
    let page = |n: usize| (n.max(1) as u64).div_ceil(u64::from(PAGE_SIZE));
    let licensed = t
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .count();
    let pages = page(licensed);
    let members = t
        .groups
        .iter()
        .map(|g| page(g.members.len()))
        .max()
        .unwrap_or(0);
    let licensed_ids: std::collections::HashSet<_> = t
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .map(|u| u.id)
        .collect();
    let unlicensed = t
        .groups
        .iter()
        .flat_map(|g| g.members.iter())
        .any(|m| !licensed_ids.contains(m));
    let read = pages.max(1 + members) + u64::from(unlicensed);
    let write_rounds = (writes.div_ceil(BATCH_MAX) as u64).div_ceil(APPLY_CONCURRENCY);
    let rounds = 1 + read + write_rounds + 1;
    (
        rounds,
        format!(
            "1 token + {read} read ({pages} user pages; group lookups beside the first, {members} member pages at most{}) + {write_rounds} write + 1 re-read",
            if unlicensed {
                "; 1 unlicensed-member lookup"
            } else {
                ""
            }
        ),
    )
}

/// The `assignLicense` calls that take `before` to `after`: one per user whose direct
/// licenses differ.
fn calls(before: &TenantSnapshot, after: &TenantSnapshot) -> Vec<serde_json::Value> {
    let direct = |u: &User| -> BTreeMap<String, Vec<String>> {
        u.direct_states()
            .map(|s| {
                (
                    s.sku_id.to_string(),
                    s.disabled_plans.iter().map(ToString::to_string).collect(),
                )
            })
            .collect()
    };
    let was: BTreeMap<_, _> = before.users.iter().map(|u| (u.id, direct(u))).collect();
    let mut out = Vec::new();
    for u in &after.users {
        let now = direct(u);
        let Some(old) = was.get(&u.id) else { continue };
        if &now == old {
            continue;
        }
        let add: Vec<serde_json::Value> = now
            .iter()
            .filter(|(sku, plans)| old.get(*sku) != Some(plans))
            .map(|(sku, plans)| serde_json::json!({"skuId": sku, "disabledPlans": plans}))
            .collect();
        let remove: Vec<&String> = old.keys().filter(|sku| !now.contains_key(*sku)).collect();
        out.push(serde_json::json!({"user": u.id.to_string(), "add": add, "remove": remove}));
    }
    out
}

fn token(url: &str, tid: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            &format!("{url}/{tid}/oauth2/v2.0/token"),
        ])
        .args(["-d", &format!("client_id={DEFAULT_CLIENT_ID}")])
        .args([
            "--data-urlencode",
            &format!("client_secret={DEFAULT_CLIENT_SECRET}"),
        ])
        .args([
            "--data-urlencode",
            "scope=https://graph.microsoft.com/.default",
        ])
        .args(["-d", "grant_type=client_credentials"])
        .output()
        .expect("curl runs");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("token JSON");
    body["access_token"].as_str().expect("a token").to_owned()
}

fn snapshot_of(url: &str) -> TenantSnapshot {
    let out = Command::new("curl")
        .args(["-sS", &format!("{url}/_emulator/snapshot")])
        .output()
        .expect("curl runs");
    serde_json::from_slice(&out.stdout).expect("snapshot JSON")
}

/// The venv's Python with `msgraph-sdk`, installed on the first run; why not, otherwise.
fn sdk_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv");
    let python = venv.join("bin/python");
    let has_sdk = |python: &Path| {
        Command::new(python)
            .args(["-c", "import msgraph"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_sdk(&python) {
        return Ok(python);
    }
    println!("installing msgraph-sdk from PyPI into {}", venv.display());
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| format!("python3 -m venv: {e}"))?;
    if !made.success() {
        return Err(format!("python3 -m venv failed: {made}"));
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "msgraph-sdk"])
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() || !has_sdk(&python) {
        return Err(format!("pip install msgraph-sdk failed: {pip}"));
    }
    Ok(python)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let t = tenant();
    let tid = t.tenant_id.to_string();
    let file = dir.path().join("tenant.json");
    t.write(&file).unwrap();
    let config = dir.path().join("config");
    churn::write_config(&t, &config, CHANGES);
    write_groups(&t, &config);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sdk_loop: {CHANGES} changes, config naming {GROUPS} groups, {USERS}-user tenant, {LATENCY_MS} ms per request, --throttle graph (load {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let emulator = serve(&file);
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_licensectl"))
        .args(["apply", "--config"])
        .arg(&config)
        .arg("--auto-approve")
        .env("AZURE_TENANT_ID", &tid)
        .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env("LICENSECTL_GRAPH_URL", &emulator.1)
        .env("AZURE_AUTHORITY_HOST", &emulator.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let apply = started.elapsed();
    let after = snapshot_of(&emulator.1);
    drop(emulator);
    let calls = calls(&t, &after);
    let (rounds, detail) = round_bound(&t, calls.len());
    let bound = Duration::from_millis(LATENCY_MS) * rounds as u32;
    let ratio = apply.as_secs_f64() / bound.as_secs_f64();
    println!(
        "  licensectl apply: exit {}, {} users changed, {:.2} s end to end; round bound {:.2} s ({rounds} rounds = {detail}): {ratio:.2}x ({} the target of <= {TARGET_RATIO}x); group lookups: {} $batch of in-filters",
        status.code().unwrap_or(-1),
        calls.len(),
        apply.as_secs_f64(),
        bound.as_secs_f64(),
        if ratio <= TARGET_RATIO {
            "meets"
        } else {
            "misses"
        },
        (2 * GROUPS.div_ceil(IN_FILTER_MAX)).div_ceil(BATCH_MAX),
    );

    let python = match sdk_python() {
        Ok(p) => p,
        Err(why) => {
            println!("  msgraph-sdk loop: skipped ({why})");
            return;
        }
    };
    let emulator = serve(&file);
    let job = serde_json::json!({
        "base": format!("{}/v1.0", emulator.1),
        "token": token(&emulator.1, &tid),
        "calls": calls,
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/sdk/assign_loop.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(sdk) = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|_| out.status.success())
    else {
        println!("  msgraph-sdk loop: failed ({}): {text}", out.status);
        return;
    };
    let sdk_after = snapshot_of(&emulator.1);
    let same = calls_match(&after, &sdk_after);
    let speedup = sdk / apply.as_secs_f64();
    println!(
        "  msgraph-sdk loop, one assignLicense per user: {} calls in {sdk:.2} s ({:.0} ms a call); the tenant ends {} apply's; licensectl apply is {speedup:.1}x faster ({} the goal of >= {TARGET_SPEEDUP}x)",
        calls.len(),
        1000.0 * sdk / calls.len().max(1) as f64,
        if same {
            "the same as"
        } else {
            "DIFFERENT from"
        },
        if speedup >= TARGET_SPEEDUP {
            "meets"
        } else {
            "misses"
        },
    );
}

/// True when both tenants' users hold the same direct licenses.
fn calls_match(a: &TenantSnapshot, b: &TenantSnapshot) -> bool {
    calls(a, b).is_empty() && calls(b, a).is_empty()
}
