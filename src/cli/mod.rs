//! The command-line layer: argument parsing, dispatch, terminal output and exit codes.
//!
//! This is the only layer that prints to stdout/stderr, reads the environment for its
//! own flags, and uses `anyhow`. Each command lives in its own file and calls into the
//! library; no licensing logic lives here.

pub(crate) mod apply;
pub(crate) mod clock;
pub(crate) mod comment;
pub(crate) mod connection;
#[cfg(feature = "emulator")]
pub(crate) mod emulator;
pub(crate) mod exit;
pub(crate) mod export;
pub(crate) mod limits;
pub(crate) mod live;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod reprocess;
pub(crate) mod schema;
pub(crate) mod seats;
pub(crate) mod snapshot;
pub(crate) mod validate;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Microsoft 365 license assignment as code.
#[derive(Debug, Parser)]
#[command(name = "licensectl", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a config directory offline and report every problem (exit 0 valid, 78 invalid).
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of a config file (for editors and CI).
    Schema,
    /// Run the local Graph emulator or generate a synthetic tenant.
    #[cfg(feature = "emulator")]
    Emulator(emulator::EmulatorArgs),
    /// Read the live tenant from Microsoft Graph and write it as a snapshot file.
    Snapshot(snapshot::SnapshotArgs),
    /// Compute the license changes that make the tenant match the config.
    Plan(plan::PlanArgs),
    /// Report where the tenant differs from the config (exit 2 when it does).
    Drift(plan::DriftArgs),
    /// Make the tenant match the config (or a saved plan), verify, and journal every write.
    Apply(apply::ApplyArgs),
    /// Write the tenant's license state as a config directory (or diff it against one).
    Export(export::ExportArgs),
    /// Post a plan or drift report to the pull request (GitHub, Azure DevOps), the drift
    /// issue and the job summary.
    Comment(comment::CommentArgs),
    /// Reprocess group-based licenses of chosen users and report what is fixed.
    Reprocess(reprocess::ReprocessArgs),
    /// Report seats per SKU: purchased, assigned, free, in grace, expiring, idle, cost.
    Seats(seats::SeatsArgs),
}

/// Entry point: parses the arguments, runs the command, maps the outcome to an exit code.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            // clap prints help/version to stdout and errors to stderr itself.
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    init_tracing();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Schema => schema::run(),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Plan(args) => plan::run_plan(args),
        Command::Drift(args) => plan::run_drift(args),
        Command::Apply(args) => apply::run(args),
        Command::Export(args) => export::run(args),
        Command::Comment(args) => comment::run(args),
        Command::Reprocess(args) => reprocess::run_reprocess(args),
        Command::Seats(args) => seats::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Logs to stderr, filtered by `LICENSECTL_LOG` (e.g. `licensectl=debug`); off by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LICENSECTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
