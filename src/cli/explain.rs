//! `licensectl explain`: loads the config, reads a tenant snapshot (or the live tenant),
//! plans, and explains one user: who governs it, which rules match and which conditions
//! fail, which groups give what, what it will hold and why.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use licensectl::graph::LicensedUsersStrategy;
use licensectl::plan::{PlanOptions, explain, plan};
use licensectl::render::explain as render;

use super::connection::ConnectionArgs;
use super::exit;
use super::output::print;

/// Output format of an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExplainFormat {
    /// Text for a terminal.
    Text,
    /// JSON.
    Json,
}

/// Arguments of `licensectl explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The config directory (licensectl.yaml plus principal files).
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// Explain against this tenant snapshot file instead of the live tenant.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// The user to explain, by userPrincipalName.
    #[arg(long, value_name = "UPN")]
    pub user: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    /// How to read licensed users from the live tenant.
    #[arg(long, value_enum, default_value_t = LicensedUsersStrategy::Auto)]
    pub strategy: LicensedUsersStrategy,
    /// Connection flags (used when no --snapshot is given).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs `licensectl explain`; returns the exit code.
pub(crate) fn run(args: &ExplainArgs) -> anyhow::Result<u8> {
    let config = match super::plan::load(&args.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let live = super::plan::tenant_state(
        args.snapshot.as_deref(),
        args.strategy,
        &args.connection,
        &config.desired,
    )?;
    let now = super::clock::now(None);
    let options = PlanOptions {
        now: Some(now),
        ..PlanOptions::default()
    };
    let planned = plan(&config.desired, &live, &options);
    let explanation = match explain(&config.desired, &live, &planned, &args.user, Some(now)) {
        Ok(explanation) => explanation,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {error}");
            return Ok(exit::ERROR);
        }
    };
    print(&match args.format {
        ExplainFormat::Text => render::text(&explanation),
        ExplainFormat::Json => render::json(&explanation),
    })?;
    if planned.has_errors() {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "warning: the plan has {} error(s) (see `licensectl plan`); the rules are not applied until they are fixed",
            planned.summary.errors
        );
    }
    Ok(exit::SUCCESS)
}
