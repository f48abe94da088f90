//! `licensectl reprocess`: reprocess the group-based licenses of chosen users
//! (`--user`, `--group`, or every user with a license error), wait for the result, and
//! report per user what is fixed and what still fails, with the fix.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use licensectl::apply::Journal;
use licensectl::apply::reprocess::{WaitOptions, read_selection, run};
use licensectl::auth::token_permissions;
use licensectl::ops::reprocess::{self, Selection, dry_run, missing_permission, outcome, select};
use licensectl::plan::tenant_pin_problem;
use licensectl::render::reprocess as render;
use licensectl::snapshot::TenantSnapshot;

use super::apply::default_journal;
use super::connection::{ConnectionArgs, stderr_is_tty};
use super::exit;
use super::output::print;
use super::progress::StderrProgress;

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for the terminal.
    Text,
    /// Versioned JSON.
    Json,
}

/// Arguments of `licensectl reprocess`.
#[derive(Debug, Args)]
pub(crate) struct ReprocessArgs {
    /// A config directory: the tenant it pins is enforced, and the journal goes under it.
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Reprocess this user (userPrincipalName or object id); repeatable.
    #[arg(long = "user", value_name = "UPN")]
    pub users: Vec<String>,
    /// Reprocess the direct members of this group (object id, displayName or
    /// mailNickname); repeatable.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Reprocess every user with a license in error (found through the groups Graph
    /// lists with hasMembersWithLicenseErrors).
    #[arg(long)]
    pub errors: bool,
    /// Show whom reprocessing would touch and what fails for them; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: choose the users from this snapshot instead of the live tenant.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Longest wait, in seconds, for reprocessed licenses to clear their errors.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub timeout: f64,
    /// Where to write the journal (JSON lines) [default: DIR/.licensectl/journal/reprocess-TIME.jsonl].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Connection flags.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

fn eprintln(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn render_report(report: &reprocess::Report, format: Format) -> String {
    match format {
        Format::Text => render::text(report),
        Format::Json => render::json(report),
    }
}

/// Runs `licensectl reprocess`; returns the exit code.
pub(crate) fn run_reprocess(args: &ReprocessArgs) -> anyhow::Result<u8> {
    let selection = Selection {
        users: args.users.clone(),
        groups: args.groups.clone(),
        errors: args.errors,
    };
    if selection.is_empty() {
        eprintln("error: say whom to reprocess: --user UPN, --group NAME or --errors");
        return Ok(exit::USAGE);
    }
    if !(args.timeout.is_finite() && (0.0..=604_800.0).contains(&args.timeout)) {
        bail!("--timeout must be a number of seconds between 0 and 604800");
    }
    let config = match &args.config {
        Some(dir) => match super::plan::load(dir) {
            Ok(config) => Some(config),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let pinned = config
        .as_ref()
        .and_then(|c| c.desired.settings.tenant.as_ref())
        .map(|t| t.value.clone());
    if let Some(path) = &args.snapshot {
        let snapshot = super::live::read_snapshot(path)?;
        if let Some(config) = &config
            && let Some(problem) = tenant_pin_problem(&config.desired, &snapshot)
        {
            bail!(super::plan::pin_refusal(
                &problem,
                path,
                problem.help.as_deref().unwrap_or("")
            ));
        }
        let targets = select(&snapshot, &selection)?;
        print(&render_report(&dry_run(&targets, &snapshot), args.format))?;
        return Ok(exit::SUCCESS);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let conn = args.connection.connect(pinned.as_deref()).await?;
        let before: TenantSnapshot =
            read_selection(&conn.client, conn.tenant_id, &selection).await?;
        let targets = select(&before, &selection)?;
        if args.dry_run || targets.is_empty() {
            print(&render_report(&dry_run(&targets, &before), args.format))?;
            return Ok(exit::SUCCESS);
        }
        let token = conn.client.tokens().token().await?;
        if let Some((roles, scopes)) = token_permissions(token.token.secret())
            && let Some(refusal) = missing_permission(&roles, &scopes)
        {
            eprintln(&format!("error: refusing to reprocess: {refusal}"));
            eprintln("Nothing was sent.");
            return Ok(exit::ERROR);
        }
        let journal_path = match (&args.journal, &args.config) {
            (Some(path), _) => path.clone(),
            (None, Some(dir)) => default_journal(dir, "reprocess"),
            (None, None) => default_journal(std::path::Path::new("."), "reprocess"),
        };
        let journal = Journal::open(&journal_path)?;
        eprintln(&format!(
            "Journal: {} (run {})",
            journal_path.display(),
            journal.run_id()
        ));
        let progress = StderrProgress::with_verb(stderr_is_tty(), "");
        let result = run(
            &conn.client,
            &journal,
            &before,
            &targets,
            WaitOptions {
                timeout: Duration::from_secs_f64(args.timeout),
                ..WaitOptions::default()
            },
            &progress,
        )
        .await;
        progress.finish();
        let (users, failed) = result?;
        let mut after = before.clone();
        for user in users {
            match after.users.iter_mut().find(|u| u.id == user.id) {
                Some(slot) => *slot = user,
                None => after.users.push(user),
            }
        }
        let report = outcome(&targets, &before, &after, &failed);
        print(&render_report(&report, args.format))?;
        Ok(if report.all_fixed() {
            exit::SUCCESS
        } else {
            exit::ERROR
        })
    })
}
