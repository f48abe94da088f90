//! `licensectl plan` and `licensectl drift`: load the config, read a tenant snapshot,
//! plan, render, and map the outcome to an exit code.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use licensectl::config::ConfigFiles;
use licensectl::config::DesiredState;
use licensectl::diagnostic::{Diagnostic, SourceFiles, render as diagnostics};
use licensectl::graph::LicensedUsersStrategy;
use licensectl::plan::saved::SavedPlan;
use licensectl::plan::tenant_pin_problem;
use licensectl::plan::{Plan, PlanOptions, plan_indexed};
use licensectl::render::{Mode, html, json, markdown, text};
use licensectl::snapshot::{TenantSnapshot, UserFields, UserIndex};

use super::connection::ConnectionArgs;
use super::exit;
use super::live::scope_of;
use super::output::{print, stream};
use super::snapshot::read_live;

/// Output format of a plan or drift report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Terraform-like text, coloured on a terminal.
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
    /// Also save the plan, for `licensectl apply FILE`.
    ///
    /// The saved plan records the tenant state and the config it was computed from;
    /// `apply FILE` recomputes it and refuses it once either changed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when none), for CI.
    ///
    /// Errors still exit 1, a plan refused by the safety limits 3.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Accept a plan beyond the safety limits of licensectl.yaml.
    ///
    /// Overrides safety.max_removals and safety.max_change_percent for this plan;
    /// protected principals stay protected.
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
    /// The config directory (holding licensectl.yaml).
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// Compare with this snapshot file instead of the live tenant.
    ///
    /// A snapshot (from `licensectl snapshot`) needs no credentials: for pull requests
    /// from forks, or to try a config offline.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Format of the report.
    ///
    /// text for a terminal, markdown for a pull request, json for scripts (docs/plan.md),
    /// html for one self-contained page (docs/operations.md).
    #[arg(long, value_enum, default_value_t = Format::Text, hide_possible_values = true)]
    pub format: Format,
    /// How to read licensed users from the live tenant.
    ///
    /// The default suits every tenant; the others are for comparisons and troubleshooting.
    #[arg(
        long,
        value_enum,
        default_value_t = LicensedUsersStrategy::Auto,
        hide_short_help = true
    )]
    pub strategy: LicensedUsersStrategy,
    /// Plan as of this date (YYYY-MM-DD) instead of today.
    ///
    /// An RFC 3339 time is accepted too. It is what the dated checks see: subscription
    /// lifecycle dates, `inactive_days`, `disabled_days`. `apply` always uses the clock.
    #[arg(long, value_name = "DATE", value_parser = super::clock::parse_as_of)]
    pub as_of: Option<time::OffsetDateTime>,
    /// Connection flags (used without --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

impl CompareArgs {
    /// "Now" for the planner: `--as-of`, else the clock.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        super::clock::now(self.as_of)
    }

    /// The config and the tenant state to plan it against. With `--snapshot`, the
    /// snapshot is parsed on a thread of its own while the config loads (each is about half
    /// of an offline plan's time on a large tenant); what either prints comes in the same
    /// order as one after the other, and an invalid config wins over a bad snapshot.
    /// The snapshot's users are read with only their license fields unless a config file
    /// mentions `rules` (what [`licensectl::plan::user_fields`] asks for, decided before
    /// the config is parsed; should the parsed config need more, the snapshot is read
    /// again whole).
    /// `Err(code)`: the config is invalid (diagnostics printed).
    /// The third part is the index of the tenant's users (built by a snapshot's check, or
    /// here for a live read), for [`plan_indexed`].
    pub(super) fn config_and_tenant(
        &self,
    ) -> anyhow::Result<Result<(Config, TenantSnapshot, UserIndex), u8>> {
        let Some(path) = self.snapshot.as_deref() else {
            let config = match load(&self.config) {
                Ok(config) => config,
                Err(code) => return Ok(Err(code)),
            };
            let live = self.tenant_state(&config.desired)?;
            let users = UserIndex::new(&live.users);
            return Ok(Ok((config, live, users)));
        };
        let files = match read_config(&self.config) {
            Ok(files) => files,
            Err(code) => return Ok(Err(code)),
        };
        let fields = if files.may_mention("rules") {
            UserFields::All
        } else {
            UserFields::Licensing
        };
        let (config, read) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| super::live::read_snapshot_indexed(path, fields));
            let config = check_config(files);
            (config, reader.join())
        });
        let config = match config {
            Ok(config) => config,
            Err(code) => return Ok(Err(code)),
        };
        let (mut live, mut users) = match read {
            Ok(read) => read?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let needed = licensectl::plan::user_fields(&config.desired);
        if !fields.covers(needed) {
            tracing::debug!(
                ?needed,
                ?fields,
                "the config needs more of each user: snapshot read again"
            );
            (live, users) = super::live::read_snapshot_indexed(path, needed)?;
        }
        super::live::warn_unknown_values(&live);
        check_pin(&config.desired, &live, path)?;
        Ok(Ok((config, live, users)))
    }

    /// The tenant state to plan against: the `--snapshot` file, or a live read of what
    /// the config manages. Both refuse a tenant other than the one the config pins.
    pub(crate) fn tenant_state(&self, desired: &DesiredState) -> anyhow::Result<TenantSnapshot> {
        tenant_state(
            self.snapshot.as_deref(),
            self.strategy,
            &self.connection,
            desired,
        )
    }
}

/// The tenant state to plan against: the `snapshot` file, or a live read of what the
/// config manages (and the rules govern). Both refuse a tenant other than the one the
/// config pins.
pub(crate) fn tenant_state(
    snapshot: Option<&Path>,
    strategy: LicensedUsersStrategy,
    connection: &ConnectionArgs,
    desired: &DesiredState,
) -> anyhow::Result<TenantSnapshot> {
    if let Some(path) = snapshot {
        let live = super::live::read_snapshot(path)?;
        check_pin(desired, &live, path)?;
        return Ok(live);
    }
    let mut scope = scope_of(desired);
    scope.scope.strategy = strategy;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (live, _, _) = runtime.block_on(read_live(connection, &scope))?;
    Ok(live)
}

/// Refuses the snapshot file `path` when it is not of the tenant the config pins.
fn check_pin(desired: &DesiredState, live: &TenantSnapshot, path: &Path) -> anyhow::Result<()> {
    if let Some(problem) = tenant_pin_problem(desired, live) {
        bail!(pin_refusal(
            &problem,
            path,
            problem.help.as_deref().unwrap_or("")
        ));
    }
    Ok(())
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

/// Prints the plan in `format`: JSON as it is written (a large plan's document is never
/// held whole), the others rendered first.
fn print_plan(plan: &Plan, format: Format, mode: Mode) -> anyhow::Result<()> {
    match format {
        Format::Json => stream(|out| json::write(plan, mode, out)),
        _ => print(&render(plan, format, mode)),
    }
}

pub(super) fn render(plan: &Plan, format: Format, mode: Mode) -> String {
    match format {
        Format::Text => text::render_with(plan, mode, &super::ui::stdout_palette()),
        Format::Markdown => markdown::render(plan, mode),
        Format::Json => json::render(plan, mode),
        Format::Html => html::plan(plan, mode),
    }
}

/// Prints diagnostics to stderr as snippets of the config files they point into (only
/// the errors with `--quiet`).
pub(super) fn eprint_diagnostics(list: &[Diagnostic], sources: &SourceFiles) {
    let shown: Vec<Diagnostic>;
    let list = if super::ui::quiet() {
        shown = list.iter().filter(|d| d.is_error()).cloned().collect();
        &shown[..]
    } else {
        list
    };
    if list.is_empty() {
        return;
    }
    let text = diagnostics::human(list, sources, super::ui::stderr_color());
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
    check_config(read_config(dir)?)
}

/// Reads the files of the config directory `dir` (the limits' errors printed).
fn read_config(dir: &Path) -> Result<ConfigFiles, u8> {
    match super::limits::config_limits() {
        Ok(limits) => Ok(licensectl::config::read_files_with(dir, &limits)),
        Err(error) => {
            super::ui::error(&format!("{error:#}"));
            Err(exit::ERROR)
        }
    }
}

/// Checks the config `files` read; prints the diagnostics.
fn check_config(files: ConfigFiles) -> Result<Config, u8> {
    let loaded = licensectl::config::load_files(files);
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
    // Neither these nor the plan are dropped: the process ends after this command, and
    // freeing a 500k-user tenant one allocation at a time costs more than exiting.
    let both = match args.input.config_and_tenant()? {
        Ok(both) => ManuallyDrop::new(both),
        Err(code) => return Ok(code),
    };
    let (config, live, users) = (&both.0, &both.1, &both.2);
    let plan = ManuallyDrop::new(plan_indexed(
        &config.desired,
        live,
        users,
        &PlanOptions {
            allow_unsafe: args.allow_unsafe,
            now: Some(args.input.now()),
        },
    ));
    print_plan(&plan, args.input.format, Mode::Plan)?;
    if plan.has_errors() {
        if args.input.format != Format::Text {
            eprint_diagnostics(&plan.diagnostics, &config.sources);
        }
        super::ui::error(&format!(
            "the plan has {} error(s); nothing was saved",
            plan.summary.errors
        ));
        return Ok(exit::ERROR);
    }
    if plan.safety.refused {
        for line in text::refusal(&plan) {
            super::ui::error(&format!("unsafe plan refused: {line}"));
        }
        return Ok(exit::UNSAFE);
    }
    if let Some(out) = &args.out {
        let saved = SavedPlan::new(&plan, live, &config.digest);
        std::fs::write(out, saved.to_json())
            .with_context(|| format!("cannot write saved plan {}", out.display()))?;
        super::ui::note(&format!("Saved the plan to {}.", out.display()));
    }
    Ok(if plan.has_changes && args.detailed_exitcode {
        exit::CHANGES
    } else {
        exit::SUCCESS
    })
}

/// Runs `licensectl drift`; returns the exit code.
pub(crate) fn run_drift(args: &DriftArgs) -> anyhow::Result<u8> {
    // Neither these nor the plan are dropped: the process ends after this command, and
    // freeing a 500k-user tenant one allocation at a time costs more than exiting.
    let both = match args.input.config_and_tenant()? {
        Ok(both) => ManuallyDrop::new(both),
        Err(code) => return Ok(code),
    };
    let (config, live, users) = (&both.0, &both.1, &both.2);
    // Drift reports what differs; safety limits concern applying, so they are not applied.
    let plan = ManuallyDrop::new(plan_indexed(
        &config.desired,
        live,
        users,
        &PlanOptions {
            allow_unsafe: true,
            now: Some(args.input.now()),
        },
    ));
    print_plan(&plan, args.input.format, Mode::Drift)?;
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
