//! The command-line layer: argument parsing, dispatch, terminal output and exit codes.
//!
//! This is the only layer that prints to stdout/stderr, reads the environment for its
//! own flags, and uses `anyhow`. Each command lives in its own file and calls into the
//! library; no licensing logic lives here.

pub(crate) mod apply;
pub(crate) mod clock;
pub(crate) mod comment;
pub(crate) mod completions;
pub(crate) mod connection;
#[cfg(feature = "emulator")]
pub(crate) mod emulator;
pub(crate) mod exit;
pub(crate) mod explain;
pub(crate) mod export;
pub(crate) mod init;
pub(crate) mod limits;
pub(crate) mod live;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod progress;
pub(crate) mod reprocess;
pub(crate) mod schema;
pub(crate) mod seats;
pub(crate) mod snapshot;
pub(crate) mod ui;
pub(crate) mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Microsoft 365 license assignment as code.
#[derive(Debug, Parser)]
#[command(
    name = "licensectl",
    version = licensectl::VERSION,
    about = "Microsoft 365 license assignment as code: validate, plan and apply through Microsoft Graph",
    long_about = None,
    after_help = "New here? `licensectl init` starts a configuration repository, then\n`licensectl validate` and `licensectl plan`. `licensectl COMMAND --help` explains a command."
)]
pub(crate) struct Cli {
    /// Flags of every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, clap::Args)]
pub(crate) struct GlobalArgs {
    /// When to colour output.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        global = true,
        default_value_t = ui::ColorWhen::Auto,
        help_heading = "Global options",
        long_help = "When to colour terminal output: plans, drift reports and diagnostics (Markdown, JSON and files never are).\n\n`auto` colours a terminal unless NO_COLOR is set (to anything but an empty string); CLICOLOR_FORCE (not empty, not 0) colours even a pipe; CLICOLOR=0 or TERM=dumb turn colour off. `always` and `never` override all of these."
    )]
    pub color: ui::ColorWhen,
    /// Print only errors on stderr (no progress, notes, warnings or summaries).
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        long_help = "Print only errors on stderr: no progress, notes, warnings or summaries. The command's result (a plan, a report, a diff) is still printed on stdout, and the exit code is the same."
    )]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start a configuration repository: settings, a first principals file, CI workflows.
    Init(init::InitArgs),
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
    /// Explain one user: which rules match, which groups give what, what it will hold and why.
    Explain(explain::ExplainArgs),
    /// Post a plan or drift report as a pull-request comment, drift issue, job summary.
    Comment(comment::CommentArgs),
    /// Reprocess group-based licenses of chosen users and report what is fixed.
    Reprocess(reprocess::ReprocessArgs),
    /// Report seats per SKU: purchased, assigned, free, in grace, expiring, idle, cost.
    Seats(seats::SeatsArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print the man page, or write one page per command into a directory.
    Man(completions::ManArgs),
}

/// The command line as clap sees it; `--color never` (or NO_COLOR) also keeps clap's own
/// help and error messages plain.
pub(crate) fn command() -> clap::Command {
    let color = match color_flag(std::env::args_os()) {
        Some(ui::ColorWhen::Always) => clap::ColorChoice::Always,
        Some(ui::ColorWhen::Never) => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    };
    Cli::command().color(color)
}

/// The value of the last `--color` in `args`, read before clap parses them.
fn color_flag(args: impl Iterator<Item = std::ffi::OsString>) -> Option<ui::ColorWhen> {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(value) =
            value.and_then(|v| <ui::ColorWhen as clap::ValueEnum>::from_str(v, true).ok())
        {
            found = Some(value);
        }
    }
    found
}

/// Entry point: parses the arguments, runs the command, maps the outcome to an exit code.
pub(crate) fn main() -> ExitCode {
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
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
    ui::init(cli.global.color, cli.global.quiet);
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
        Command::Explain(args) => explain::run(args),
        Command::Comment(args) => comment::run(args),
        Command::Reprocess(args) => reprocess::run_reprocess(args),
        Command::Seats(args) => seats::run(args),
        Command::Init(args) => init::run(args, matches.subcommand_matches("init")),
        Command::Completions(args) => completions::run_completions(args),
        Command::Man(args) => completions::run_man(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            ui::error(&format!("{err:#}"));
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Logs to stderr, filtered by `LICENSECTL_LOG` (e.g. `licensectl=debug`); warnings only by
/// default, errors only with `--quiet`.
fn init_tracing() {
    let level = if ui::quiet() { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LICENSECTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ui::stderr_color())
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_color_flag_before_a_double_dash_decides_clap_s_own_colours() {
        let flag = |args: &[&str]| color_flag(args.iter().map(std::ffi::OsString::from));
        assert_eq!(flag(&["licensectl", "plan"]), None);
        assert_eq!(
            flag(&["licensectl", "--color", "never", "plan"]),
            Some(ui::ColorWhen::Never)
        );
        assert_eq!(
            flag(&["licensectl", "plan", "--color=always"]),
            Some(ui::ColorWhen::Always)
        );
        assert_eq!(
            flag(&["licensectl", "--color=never", "plan", "--color", "auto"]),
            Some(ui::ColorWhen::Auto)
        );
        assert_eq!(flag(&["licensectl", "plan", "--color", "sometimes"]), None);
        assert_eq!(flag(&["licensectl", "init", "--", "--color=never"]), None);
    }
}
