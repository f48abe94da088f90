//! Build script: records which source the binary was built from, for `licensectl
//! --version`, the apply journal and bug reports.
//!
//! It sets `LICENSECTL_BUILD` to `COMMIT DATE`: the first 12 hex digits of the git commit
//! and that commit's date (UTC, `YYYY-MM-DD`). The commit's date, not today's, so that two
//! builds of one commit say the same thing. Outside a git checkout of this package (a
//! source tarball, a crates.io download, or no `git` at all) it falls back to
//! `LICENSECTL_BUILD_COMMIT` and `LICENSECTL_BUILD_DATE` when a packager sets them, the
//! date of `SOURCE_DATE_EPOCH` (https://reproducible-builds.org/specs/source-date-epoch/),
//! and otherwise says `unknown`. Nothing here fails the build.

// Cargo reads a build script's instructions from its standard output.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in [
        "LICENSECTL_BUILD_COMMIT",
        "LICENSECTL_BUILD_DATE",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let checkout = Checkout::of(&dir);
    if let Some(checkout) = &checkout {
        checkout.rerun_when_head_moves();
    }
    let commit = env("LICENSECTL_BUILD_COMMIT")
        .or_else(|| checkout.as_ref()?.git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let date = env("LICENSECTL_BUILD_DATE")
        .or_else(|| {
            checkout.as_ref()?.git(&[
                "log",
                "-1",
                "--date=format-local:%Y-%m-%d",
                "--format=%cd",
                "HEAD",
            ])
        })
        .or_else(|| {
            let epoch: i64 = env("SOURCE_DATE_EPOCH")?.parse().ok()?;
            Some(civil_date(epoch))
        });
    let build = match date {
        Some(date) => format!("{commit} {date}"),
        None => commit,
    };
    println!("cargo:rustc-env=LICENSECTL_BUILD={build}");
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic()))
}

/// A git checkout whose top level is this package's directory (so that a tarball
/// unpacked inside some other repository does not take that repository's commit).
struct Checkout {
    dir: PathBuf,
}

impl Checkout {
    fn of(dir: &Path) -> Option<Self> {
        let checkout = Checkout {
            dir: dir.to_path_buf(),
        };
        let top = checkout.git(&["rev-parse", "--show-toplevel"])?;
        let same = match (Path::new(&top).canonicalize(), dir.canonicalize()) {
            (Ok(top), Ok(dir)) => top == dir,
            _ => false,
        };
        same.then_some(checkout)
    }

    fn git(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("TZ", "UTC")
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let text = text.trim();
        (out.status.success() && !text.is_empty()).then(|| text.to_owned())
    }

    /// Asks cargo to run this script again when HEAD moves: a commit, a checkout, a
    /// rebase (HEAD, the branch it names, and the packed refs). Only files that exist are
    /// named: cargo runs a script again on every build while a file it names is missing.
    fn rerun_when_head_moves(&self) {
        let Some(git_dir) = self.git(&["rev-parse", "--absolute-git-dir"]) else {
            return;
        };
        let common = self
            .git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .unwrap_or_else(|| git_dir.clone());
        let mut watched = vec![
            PathBuf::from(&git_dir).join("HEAD"),
            PathBuf::from(&common).join("packed-refs"),
        ];
        if let Some(branch) = self.git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(PathBuf::from(&common).join(branch));
        }
        for path in watched.iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by Howard Hinnant's days-to-civil algorithm
/// (https://howardhinnant.github.io/date_algorithms.html#civil_from_days).
fn civil_date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
