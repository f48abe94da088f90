//! `licensectl validate`: load a config directory, report every problem, exit 0 or 78.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::exit;
use super::output::print;
use licensectl::config::LoadedConfig;
use licensectl::diagnostic::{counts, render};

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The config directory (holding licensectl.yaml).
    #[arg(long, short = 'c', value_name = "DIR", default_value = ".")]
    pub config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// rustc-like snippets and a summary line, on stderr.
    Human,
    /// One JSON document, on stdout.
    Json,
    /// GitHub Actions annotations on the pull request's diff, on stdout.
    Github,
}

/// The one-line summary of a load: `ok: …` or `error: …`.
pub(crate) fn summary(loaded: &LoadedConfig) -> String {
    let (errors, warnings) = counts(&loaded.diagnostics);
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match &loaded.desired {
        Some(desired) if errors == 0 => {
            let mut line = format!(
                "ok: {}, {}, {}",
                plural(loaded.sources.len(), "file"),
                plural(desired.users.len(), "user"),
                plural(desired.groups.len(), "group")
            );
            if !desired.rules.is_empty() {
                line.push_str(&format!(", {}", plural(desired.rules.len(), "rule")));
            }
            if warnings > 0 {
                line.push_str(&format!(", {}", plural(warnings, "warning")));
            }
            line
        }
        _ => {
            let files: BTreeSet<_> = loaded
                .diagnostics
                .iter()
                .filter_map(|d| d.location.as_ref().map(|l| &l.file))
                .collect();
            let mut line = format!("error: {}", plural(errors, "error"));
            if warnings > 0 {
                line.push_str(&format!(" and {}", plural(warnings, "warning")));
            }
            if !files.is_empty() {
                line.push_str(&format!(" in {}", plural(files.len(), "file")));
            }
            line.push_str("; the configuration is invalid");
            line
        }
    }
}

/// Runs `validate`; returns the exit code.
pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<u8> {
    // Not dropped: the process ends after this command, and freeing a 250k-user config
    // one allocation at a time costs more than the kernel reclaiming it at exit.
    let loaded = std::mem::ManuallyDrop::new(super::limits::load_config(&args.config)?);
    match args.format {
        Format::Human => {
            super::plan::eprint_diagnostics(&loaded.diagnostics, &loaded.sources);
            if !(super::ui::quiet() && loaded.is_valid()) {
                writeln!(std::io::stderr().lock(), "{}", summary(&loaded))?;
            }
        }
        Format::Json => print(&render::json(&loaded.diagnostics))?,
        Format::Github => print(&render::github(&loaded.diagnostics))?,
    }
    Ok(if loaded.is_valid() {
        exit::SUCCESS
    } else {
        exit::INVALID_CONFIG
    })
}
