//! `licensectl apply`: plan against the live tenant (or check a saved plan), confirm,
//! apply through `licensectl::apply`, and print what happened.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use licensectl::apply::{self, ApplyInput, ApplyOptions, ApplyReport, Journal, Verdict};
use licensectl::auth::token_permissions;
use licensectl::graph::LicensedUsersStrategy;
use licensectl::plan::saved::SavedPlan;
use licensectl::plan::{Plan, PlanOptions, plan};
use licensectl::render::{Mode, text};
use licensectl::snapshot::TenantSnapshot;

use super::connection::{ConnectionArgs, stderr_is_tty};
use super::exit;
use super::live::scope_of;
use super::output::print;
use super::plan::{Format, eprint_diagnostics, load, render};
use super::progress::StderrProgress;
use super::snapshot::read_live;

/// Arguments of `licensectl apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// A saved plan (`licensectl plan --out FILE`) to apply instead of planning now.
    ///
    /// The reviewed plan of a pull request: it is applied only if planning again gives
    /// exactly its changes (the tenant and the config are as they were).
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The config directory (holding licensectl.yaml).
    ///
    /// With a saved plan, the config it was made from.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub config: PathBuf,
    /// Apply without asking (as CI must: its stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Accept a plan beyond the safety limits of licensectl.yaml.
    ///
    /// Overrides safety.max_removals and safety.max_change_percent for this apply;
    /// protected principals stay protected.
    #[arg(long)]
    pub allow_unsafe: bool,
    /// Where to write the journal of every write (JSON lines).
    ///
    /// Default: DIR/.licensectl/journal/apply-TIME.jsonl, kept out of git. Keep it (a CI
    /// artifact): it records every request, Graph's answer and its request-id.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Longest wait for group license processing.
    ///
    /// Group-based licensing is asynchronous; after this long, apply reports the groups
    /// still processing and `licensectl drift` confirms their members later.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub group_timeout: f64,
    /// Longest wait for a change to show in reads.
    ///
    /// Graph's reads lag its writes (eventual consistency): verification re-reads a
    /// change that is not visible yet until then. Raise it on a slow tenant.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub verify_timeout: f64,
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
    /// Connection flags.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// An `error: …` line (always printed), or a note (not with `--quiet`).
fn eprintln(line: &str) {
    match line.strip_prefix("error: ") {
        Some(error) => super::ui::error(error),
        None => super::ui::note(line),
    }
}

/// Asks on the terminal; true only for `yes`.
fn confirm(changes: usize) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    write!(
        stderr,
        "\nDo you want to apply these {changes} change(s)? Only 'yes' will be accepted: "
    )
    .and_then(|()| stderr.flush())
    .context("cannot write to stderr")?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer from stdin")?;
    Ok(answer.trim() == "yes")
}

/// `DIR/.licensectl/journal/KIND-<UTC time>.jsonl` (`kind`: `apply`, `reprocess`).
pub(super) fn default_journal(config: &Path, kind: &str) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "now".to_owned());
    config
        .join(".licensectl")
        .join("journal")
        .join(format!("{kind}-{stamp}.jsonl"))
}

/// Creates `dir` with a `.gitignore` ignoring everything in it, so that default journals
/// are not committed with the config by accident (best effort: the journal itself
/// reports a directory it cannot create).
fn keep_out_of_git(dir: &Path) {
    let ignore = dir.join(".gitignore");
    if std::fs::create_dir_all(dir).is_ok() && !ignore.exists() {
        let _ = std::fs::write(
            &ignore,
            "# licensectl apply journals; keep them as CI artifacts, not in git.\n*\n",
        );
    }
}

/// Reads and checks a saved plan before the tenant is read: its format and version, and
/// that the config directory is the one it was made from. `Err(code)` when refused
/// (reason printed).
fn read_saved(path: &Path, config: &Path, digest: &str) -> anyhow::Result<Result<SavedPlan, u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read saved plan {}", path.display()))?;
    let saved = SavedPlan::from_json(&text, path)?;
    if saved.config_digest != digest {
        eprintln(&format!(
            "error: refusing to apply {}: the config in {} changed since the plan was made ({} then, {} now); run `licensectl plan --out` again and review the new plan",
            path.display(),
            config.display(),
            saved.config_digest,
            digest
        ));
        return Ok(Err(exit::ERROR));
    }
    Ok(Ok(saved))
}

/// Checks a saved plan against the tenant and the recomputed plan: the tenant, each
/// changed principal's fingerprint (stale), and that the saved changes are exactly the
/// recomputed ones (edited). `Err(code)` when refused (reason printed).
fn check_saved(
    saved: &SavedPlan,
    path: &Path,
    live: &TenantSnapshot,
    current: &Plan,
) -> Result<(), u8> {
    let checked = saved
        .check_fresh(live)
        .and_then(|()| saved.check_changes(live, &current.changes));
    if let Err(refusal) = checked {
        eprintln(&format!(
            "error: refusing to apply {}: {refusal}",
            path.display()
        ));
        return Err(exit::ERROR);
    }
    eprintln(&format!(
        "Applying saved plan {} ({} change(s), made by licensectl {}): the recomputed plan matches it.",
        path.display(),
        saved.changes.len(),
        saved.tool_version
    ));
    Ok(())
}

/// Runs `licensectl apply`; returns the exit code.
pub(crate) fn run(args: &ApplyArgs) -> anyhow::Result<u8> {
    for (flag, value) in [
        ("--group-timeout", args.group_timeout),
        ("--verify-timeout", args.verify_timeout),
    ] {
        // Finite and at most a week: Duration::from_secs_f64 panics on huge values.
        if !(value.is_finite() && (0.0..=604_800.0).contains(&value)) {
            bail!("{flag} must be a number of seconds between 0 and 604800");
        }
    }
    let config = match load(&args.config) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    // A saved plan is read and checked before the tenant is.
    let saved = match &args.plan {
        Some(path) => match read_saved(path, &args.config, &config.digest)? {
            Ok(saved) => Some((path, saved)),
            Err(code) => return Ok(code),
        },
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut scope = scope_of(&config.desired);
        scope.scope.strategy = args.strategy;
        let mut connection = args.connection.clone();
        connection
            .max_concurrency
            .get_or_insert(super::connection::APPLY_CONCURRENCY);
        let (live, client, _) = read_live(&connection, &scope).await?;
        let now = time::OffsetDateTime::now_utc();
        let current = plan(
            &config.desired,
            &live,
            &PlanOptions {
                allow_unsafe: args.allow_unsafe,
                now: Some(now),
            },
        );
        if current.has_errors() {
            eprint_diagnostics(&current.diagnostics, &config.sources);
            eprintln(&format!(
                "error: the plan has {} error(s); nothing was applied",
                current.summary.errors
            ));
            return Ok(exit::ERROR);
        }
        // What is applied is always the plan recomputed here; a saved plan only decides
        // whether to go on (it must be fresh and say exactly the same).
        if let Some((path, saved)) = &saved
            && let Err(code) = check_saved(saved, path, &live, &current)
        {
            return Ok(code);
        }
        // The plan is shown before anything else happens (and before the question).
        print(&render(&current, Format::Text, Mode::Plan))?;
        if current.safety.refused {
            for line in text::refusal(&current) {
                eprintln(&format!("error: unsafe plan refused: {line}"));
            }
            return Ok(exit::UNSAFE);
        }
        let changes = &current.changes;
        if changes.is_empty() {
            print("No changes. The tenant matches the config; nothing was written.\n")?;
            return Ok(exit::SUCCESS);
        }
        // Before any write (and before asking): does the token allow what the plan does?
        let token = client.tokens().token().await?;
        if let Some((roles, scopes)) = token_permissions(token.token.secret()) {
            let missing = apply::preflight::missing(&roles, &scopes, changes);
            if !missing.is_empty() {
                for m in &missing {
                    eprintln(&format!("error: refusing to apply: {}", m.message()));
                }
                eprintln("Nothing was written.");
                return Ok(exit::ERROR);
            }
        }
        if !args.auto_approve {
            if !std::io::stdin().is_terminal() {
                eprintln("error: refusing to apply without confirmation: stdin is not a terminal; review the plan and pass --auto-approve (CI) or run apply at a terminal");
                return Ok(exit::USAGE);
            }
            if !confirm(changes.len())? {
                eprintln("Apply cancelled; nothing was written.");
                return Ok(exit::ERROR);
            }
        }
        let journal_path = match &args.journal {
            Some(path) => path.clone(),
            None => {
                let path = default_journal(&args.config, "apply");
                keep_out_of_git(&args.config.join(".licensectl"));
                path
            }
        };
        let journal = Journal::open(&journal_path)?;
        eprintln(&format!(
            "Journal: {} (run {})",
            journal_path.display(),
            journal.run_id()
        ));
        let progress = StderrProgress::with_verb(stderr_is_tty(), "");
        let report = apply::run(
            &client,
            &journal,
            &ApplyInput {
                desired: &config.desired,
                before: &live,
                changes,
                seats: &current.seats,
                allow_unsafe: args.allow_unsafe,
                now: Some(now),
            },
            &ApplyOptions {
                group_timeout: Duration::from_secs_f64(args.group_timeout),
                verify_timeout: Duration::from_secs_f64(args.verify_timeout),
                ..ApplyOptions::default()
            },
            &progress,
        )
        .await;
        progress.finish();
        let report = match report {
            Err(apply::ApplyError::Refused { refusals }) => {
                for r in &refusals {
                    eprintln(&format!("error: refusing to apply: {}", r.reason));
                }
                eprintln("Nothing was written.");
                let thresholds_only = refusals
                    .iter()
                    .all(|r| r.kind == apply::RefusalKind::Threshold);
                return Ok(if thresholds_only {
                    exit::UNSAFE
                } else {
                    exit::ERROR
                });
            }
            other => other?,
        };
        print(&render_report(&report, &journal_path, args.verify_timeout))?;
        Ok(if report.converged() {
            exit::SUCCESS
        } else {
            exit::ERROR
        })
    })
}

/// The final report: failures with fixes, licensing errors, the summary line.
fn render_report(report: &ApplyReport, journal: &Path, verify_timeout: f64) -> String {
    let mut out = String::new();
    let failed: Vec<_> = report.results.iter().filter(|r| !r.ok).collect();
    if !failed.is_empty() {
        out.push_str("\nFailed:\n");
        for r in &failed {
            let verdict = match r.verdict {
                Verdict::NotYetVisible => "  [not yet visible]",
                _ => "",
            };
            out.push_str(&format!(
                "  - {} {}  ({}){verdict}\n",
                r.principal.kind(),
                r.principal.name(),
                r.principal.id_string()
            ));
            for m in &r.mismatches {
                out.push_str(&format!("      tenant: {m}\n"));
            }
            if r.verdict == Verdict::NotYetVisible {
                out.push_str(&format!(
                    "      Graph accepted every write, but the tenant's reads did not show it within --verify-timeout ({verify_timeout:.0} s; reads lag behind writes): run `licensectl plan` later to confirm\n"
                ));
            }
            if let Some(f) = &r.write_failure {
                out.push_str(&format!(
                    "      {}: {} {}: {} (request-id {})\n      fix: {}\n",
                    f.operation,
                    f.status,
                    f.code.as_deref().unwrap_or("-"),
                    f.message,
                    f.request_id.as_deref().unwrap_or("none"),
                    f.fix()
                ));
            }
        }
    }
    if !report.license_errors.is_empty() {
        out.push_str("\nLicensing errors on the principals this apply touched:\n");
        for f in &report.license_errors {
            out.push_str(&format!("  ! {}\n      fix: {}\n", f.message, f.fix));
        }
    }
    if !report.groups_still_processing.is_empty() {
        let names: Vec<&str> = report
            .groups_still_processing
            .iter()
            .map(|g| g.name())
            .collect();
        out.push_str(&format!(
            "\nGroup license processing had not finished for {} when --group-timeout passed; run `licensectl drift` later to confirm their members.\n",
            names.join(", ")
        ));
    }
    let verdict = if report.converged() {
        "Apply complete"
    } else {
        "Apply incomplete"
    };
    let not_visible = if report.not_visible > 0 {
        format!(", {} not yet visible", report.not_visible)
    } else {
        String::new()
    };
    out.push_str(&format!(
        "\n{verdict}: {} added, {} changed, {} removed, {} failed{not_visible}.\nJournal: {}\n",
        report.added,
        report.changed,
        report.removed,
        report.failed,
        journal.display()
    ));
    out
}
