//! `licensectl plan` and `licensectl drift`: load the config, read a tenant snapshot,
//! plan, render, and map the outcome to an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use licensectl::config::DesiredState;
use licensectl::diagnostic::{Diagnostic, SourceFiles, render as diagnostics};
use licensectl::graph::LicensedUsersStrategy;
use licensectl::plan::saved::SavedPlan;
use licensectl::plan::tenant_pin_problem;
use licensectl::plan::{Plan, PlanOptions, plan};
use licensectl::render::{Mode, html, json, markdown, text};
use licensectl::snapshot::TenantSnapshot;

use super::connection::ConnectionArgs;
use super::exit;
use super::live::scope_of;
use super::output::print;
use super::snapshot::read_live;

/// Output format of a plan or drift report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Terraform-like text.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// Versioned JSON (see docs/plan.md).
    Json,
    /// One self-contained HTML page: seat bars and the change table (see docs/operations.md).
    Html,
}

/// Arguments of `licensectl plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Config, live state and output format.
    #[command(flatten)]
    pub input: CompareArgs,
    /// Also save the plan for a later `licensectl apply`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Accept a plan exceeding safety.max_removals or safety.max_change_percent.
    #[arg(long)]
    pub allow_unsafe: bool,
}

/// Arguments of `licensectl drift`.
#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// Config, live state and output format.
    #[command(flatten)]
    pub input: CompareArgs,
}

/// What `plan` and `drift` compare, and how they print it.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The config directory (licensectl.yaml plus principal files).
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// Compare with this tenant snapshot file instead of reading the live tenant.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How to read licensed users from the live tenant.
    #[arg(long, value_enum, default_value_t = LicensedUsersStrategy::Auto)]
    pub strategy: LicensedUsersStrategy,
    /// Plan as of this date (YYYY-MM-DD, or an RFC 3339 time) instead of now: what the
    /// dated checks see (subscription lifecycle dates, `inactive_days`, `disabled_days`).
    /// `apply` always uses the clock.
    #[arg(long, value_name = "DATE", value_parser = super::clock::parse_as_of)]
    pub as_of: Option<time::OffsetDateTime>,
    /// Connection flags (used when no --snapshot is given).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

impl CompareArgs {
    /// "Now" for the planner: `--as-of`, else the clock.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        super::clock::now(self.as_of)
    }

    /// The tenant state to plan against: the `--snapshot` file, or a live read of what
    /// the config manages. Both refuse a tenant other than the one the config pins.
    pub(crate) fn tenant_state(&self, desired: &DesiredState) -> anyhow::Result<TenantSnapshot> {
        if let Some(path) = &self.snapshot {
            let live = super::live::read_snapshot(path)?;
            if let Some(problem) = tenant_pin_problem(desired, &live) {
                bail!(pin_refusal(
                    &problem,
                    path,
                    problem.help.as_deref().unwrap_or("")
                ));
            }
            return Ok(live);
        }
        let mut scope = scope_of(desired);
        scope.scope.strategy = self.strategy;
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let (live, _, _) = runtime.block_on(read_live(&self.connection, &scope))?;
        Ok(live)
    }
}

/// The error when the snapshot file `snapshot` is not of the tenant the config pins:
/// `refusing to continue: FILE:LINE:COL: MESSAGE (SNAPSHOT) [CODE]; HELP`.
pub(super) fn pin_refusal(problem: &Diagnostic, snapshot: &Path, help: &str) -> String {
    let location = problem
        .location
        .as_ref()
        .map(|l| format!("{l}: "))
        .unwrap_or_default();
    format!(
        "refusing to continue: {location}{} ({}) [{}]; {help}",
        problem.message,
        snapshot.display(),
        problem.code,
    )
}

pub(super) fn render(plan: &Plan, format: Format, mode: Mode) -> String {
    match format {
        Format::Text => text::render(plan, mode),
        Format::Markdown => markdown::render(plan, mode),
        Format::Json => json::render(plan, mode),
        Format::Html => html::plan(plan, mode),
    }
}

/// Prints diagnostics to stderr as snippets of the config files they point into.
pub(super) fn eprint_diagnostics(list: &[Diagnostic], sources: &SourceFiles) {
    if list.is_empty() {
        return;
    }
    let text = diagnostics::human(list, sources, super::validate::stderr_color());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A loaded, valid config.
pub(super) struct Config {
    pub(super) desired: DesiredState,
    pub(super) sources: SourceFiles,
    pub(super) digest: String,
}

/// Loads the config; `Err(code)` when it is invalid (diagnostics already printed) or a
/// limit variable is malformed (the error printed: exit 1).
pub(super) fn load(dir: &Path) -> Result<Config, u8> {
    let loaded = match super::limits::load_config(dir) {
        Ok(loaded) => loaded,
        Err(error) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {error:#}");
            return Err(exit::ERROR);
        }
    };
    eprint_diagnostics(&loaded.diagnostics, &loaded.sources);
    if !loaded.is_valid() {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}",
            super::validate::summary(&loaded)
        );
        return Err(exit::INVALID_CONFIG);
    }
    match loaded.desired {
        Some(desired) => Ok(Config {
            desired,
            sources: loaded.sources,
            digest: loaded.digest,
        }),
        None => Err(exit::INVALID_CONFIG),
    }
}

/// Runs `licensectl plan`; returns the exit code.
pub(crate) fn run_plan(args: &PlanArgs) -> anyhow::Result<u8> {
    let config = match load(&args.input.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let live = args.input.tenant_state(&config.desired)?;
    let plan = plan(
        &config.desired,
        &live,
        &PlanOptions {
            allow_unsafe: args.allow_unsafe,
            now: Some(args.input.now()),
        },
    );
    print(&render(&plan, args.input.format, Mode::Plan))?;
    if plan.has_errors() {
        if args.input.format != Format::Text {
            eprint_diagnostics(&plan.diagnostics, &config.sources);
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "error: the plan has {} error(s); nothing was saved",
            plan.summary.errors
        );
        return Ok(exit::ERROR);
    }
    if plan.safety.refused {
        let mut stderr = std::io::stderr().lock();
        for line in text::refusal(&plan) {
            let _ = writeln!(stderr, "error: unsafe plan refused: {line}");
        }
        return Ok(exit::UNSAFE);
    }
    if let Some(out) = &args.out {
        let saved = SavedPlan::new(&plan, &live, &config.digest);
        std::fs::write(out, saved.to_json())
            .with_context(|| format!("cannot write saved plan {}", out.display()))?;
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "Saved the plan to {}.", out.display());
    }
    Ok(if plan.has_changes && args.detailed_exitcode {
        exit::CHANGES
    } else {
        exit::SUCCESS
    })
}

/// Runs `licensectl drift`; returns the exit code.
pub(crate) fn run_drift(args: &DriftArgs) -> anyhow::Result<u8> {
    let config = match load(&args.input.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let live = args.input.tenant_state(&config.desired)?;
    // Drift reports what differs; safety limits concern applying, so they are not applied.
    let plan = plan(
        &config.desired,
        &live,
        &PlanOptions {
            allow_unsafe: true,
            now: Some(args.input.now()),
        },
    );
    print(&render(&plan, args.input.format, Mode::Drift))?;
    if plan.has_errors() {
        if args.input.format != Format::Text {
            eprint_diagnostics(&plan.diagnostics, &config.sources);
        }
        return Ok(exit::ERROR);
    }
    Ok(if plan.has_drift() {
        exit::CHANGES
    } else {
        exit::SUCCESS
    })
}
