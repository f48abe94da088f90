//! Exports a generated 200k-user tenant and prints the time of each step of
//! `licensectl export`: the pure export, writing the files, and the verification it runs
//! after writing (load the directory, plan it against the tenant: no changes), plus the
//! files and bytes written and peak memory.
//!
//! Run with `cargo bench --bench export`.

// Printing its numbers is what a benchmark is for.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::config;
use licensectl::export::{ExportOptions, UserSelection, export};
use licensectl::plan::{PlanOptions, plan};

const USERS: usize = 200_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let started = Instant::now();
    let tenant = match generate(&GenerateOptions {
        users: USERS,
        groups: 40,
        seed: 6,
        ..GenerateOptions::default()
    }) {
        Ok(tenant) => tenant,
        Err(error) => {
            println!("cannot generate the tenant: {error}");
            return;
        }
    };
    println!(
        "tenant: {USERS} users, 40 groups, generated in {:.2?}",
        started.elapsed()
    );
    for users in [UserSelection::Licensed, UserSelection::All] {
        let options = ExportOptions {
            users,
            ..ExportOptions::default()
        };
        let t = Instant::now();
        let exported = export(&tenant, &options);
        let export_time = t.elapsed();
        let bytes: usize = exported.files.iter().map(|f| f.contents.len()).sum();

        let dir = std::env::temp_dir().join(format!("licensectl-export-bench-{users:?}"));
        let _ = std::fs::remove_dir_all(&dir);
        let t = Instant::now();
        for file in &exported.files {
            let path = dir.join(&file.path);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(error) = std::fs::write(&path, &file.contents) {
                println!("cannot write {}: {error}", path.display());
                return;
            }
        }
        let write_time = t.elapsed();

        let t = Instant::now();
        let loaded = config::load(&dir);
        let load_time = t.elapsed();
        let Some(desired) = loaded.desired.filter(|_| loaded.diagnostics.is_empty()) else {
            println!("the exported config does not load cleanly");
            return;
        };
        let t = Instant::now();
        let planned = plan(&desired, &tenant, &PlanOptions::default());
        let plan_time = t.elapsed();
        let _ = std::fs::remove_dir_all(&dir);

        println!(
            "--users {:<8} {:>6} users, {:>3} groups, {:>4} files, {:>5.1} MiB | export {:>7.2?} | write {:>7.2?} | verify: load {:>7.2?} + plan {:>7.2?} | plan has changes: {}",
            format!("{users:?}").to_lowercase(),
            exported.users,
            exported.groups,
            exported.files.len(),
            bytes as f64 / 1_048_576.0,
            export_time,
            write_time,
            load_time,
            plan_time,
            planned.has_changes || planned.has_errors(),
        );
    }
    if let Some(kib) = peak_rss_kib() {
        println!("peak memory: {} MiB", kib / 1024);
    }
}
