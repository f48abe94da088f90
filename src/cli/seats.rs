//! `licensectl seats`: per SKU what is purchased, assigned (directly and through groups),
//! free, in grace, expiring, on trial, idle and what it costs, from the live tenant or a
//! snapshot.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use licensectl::graph::ops_read::Extras;
use licensectl::ops::seats::report;
use licensectl::plan::tenant_pin_problem;
use licensectl::render::{html, seats as render};
use licensectl::snapshot::TenantSnapshot;

use super::connection::ConnectionArgs;
use super::exit;
use super::live::scope_of;
use super::output::print;
use super::plan::Format;
use super::snapshot::{ConfigScope, read_live};

/// Arguments of `licensectl seats`.
#[derive(Debug, Args)]
pub(crate) struct SeatsArgs {
    /// A config directory: its `prices:` give the cost, and the tenant it pins is
    /// enforced.
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Report from this snapshot instead of the live tenant.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Output format (html: one self-contained page with a seat bar per SKU).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A holder is idle after this many days without a sign-in.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub idle_days: u32,
    /// Count as of this date (YYYY-MM-DD, or an RFC 3339 time) instead of now.
    #[arg(long, value_name = "DATE", value_parser = super::clock::parse_as_of)]
    pub as_of: Option<time::OffsetDateTime>,
    /// Connection flags (used when no --snapshot is given).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Runs `licensectl seats`; returns the exit code.
pub(crate) fn run(args: &SeatsArgs) -> anyhow::Result<u8> {
    let config = match &args.config {
        Some(dir) => match super::plan::load(dir) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let desired = config.as_ref().map(|c| &c.desired);
    let snapshot: TenantSnapshot = match &args.snapshot {
        Some(path) => {
            let snapshot = super::live::read_snapshot(path)?;
            if let Some(desired) = desired
                && let Some(problem) = tenant_pin_problem(desired, &snapshot)
            {
                bail!(super::plan::pin_refusal(
                    &problem,
                    path,
                    problem.help.as_deref().unwrap_or("")
                ));
            }
            snapshot
        }
        None => {
            let mut scope = desired.map(scope_of).unwrap_or_else(ConfigScope::default);
            scope.extras = Extras {
                subscriptions: true,
                sign_ins: true,
                audits: false,
            };
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(read_live(&args.connection, &scope))?.0
        }
    };
    let now = super::clock::now(args.as_of);
    let report = report(&snapshot, desired, now, i64::from(args.idle_days));
    print(&match args.format {
        Format::Text => render::text(&report),
        Format::Markdown => render::markdown_report(&report),
        Format::Json => render::json(&report),
        Format::Html => html::seats(&report),
    })?;
    Ok(exit::SUCCESS)
}
