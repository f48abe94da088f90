//! Benchmark of `config::load` (what `licensectl validate` does) on a generated config of
//! 100,000 users in 10 files, with profiles, swaps, plan lists and groups.
//!
//! Run with `cargo bench --bench validate`; prints the median of several runs and users/s.

#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const FILES: usize = 10;
const RUNS: usize = 5;

fn generate(dir: &std::path::Path) -> usize {
    let root = "\
version: 1
tenant: contoso.onmicrosoft.com
defaults:
  usage_location: US
safety:
  max_removals: 100
  max_change_percent: 10
profiles:
  knowledge-worker:
    - sku: SPE_E3
      disabled_plans: [YAMMER_ENTERPRISE]
  executive:
    - sku: SPE_E5
  frontline:
    - sku: DESKLESSPACK
";
    std::fs::write(dir.join("licensectl.yaml"), root).expect("write settings");
    std::fs::create_dir_all(dir.join("licenses")).expect("mkdir");
    let mut bytes = 0;
    for f in 0..FILES {
        let mut text = String::from("users:\n");
        for u in (f * USERS / FILES)..((f + 1) * USERS / FILES) {
            let _ = writeln!(text, "  user{u}@contoso.com:");
            match u % 5 {
                0 => {
                    let _ = writeln!(
                        text,
                        "    usage_location: DE\n    profile: knowledge-worker"
                    );
                }
                1 => {
                    let _ = writeln!(text, "    profile: frontline");
                }
                2 => {
                    let _ = writeln!(
                        text,
                        "    profile: knowledge-worker\n    licenses:\n      - sku: POWER_BI_PRO\n      - sku: VISIOCLIENT\n        enabled_plans: [VISIO_CLIENT_SUBSCRIPTION, ONEDRIVE_BASIC]"
                    );
                }
                3 => {
                    let _ = writeln!(text, "    licenses: []");
                }
                _ => {
                    let _ = writeln!(
                        text,
                        "    usage_location: GB\n    licenses:\n      - sku: 06ebc4ee-1bb5-47dd-8120-11324bc54e06\n        disabled_plans: [YAMMER_ENTERPRISE, 7547a3fe-08ee-4ccb-b430-5077c5041653]"
                    );
                }
            }
        }
        if f == 0 {
            text.push_str("groups:\n");
            for g in 0..100 {
                let _ = writeln!(text, "  SG-License-{g}:\n    profile: knowledge-worker");
            }
        }
        bytes += text.len();
        std::fs::write(dir.join(format!("licenses/team-{f:02}.yaml")), text).expect("write team");
    }
    bytes
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = generate(dir.path());
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let loaded = licensectl::config::load(dir.path());
        times.push(start.elapsed());
        let desired = loaded.desired.expect("generated config is valid");
        assert_eq!(desired.users.len(), USERS);
    }
    times.sort();
    let median = times[RUNS / 2];
    let secs = median.as_secs_f64();
    println!(
        "validate: {USERS} users in {} files ({:.1} MiB): median {:.0} ms over {RUNS} runs (min {:.0} ms, max {:.0} ms), {:.0} users/s, {:.1} MiB/s",
        FILES + 1,
        bytes as f64 / (1024.0 * 1024.0),
        secs * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        USERS as f64 / secs,
        bytes as f64 / (1024.0 * 1024.0) / secs,
    );
}

// The allocator the `licensectl` binary uses, so that the figure is the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
