//! `licensectl comment REPORT`: post a plan or drift report where a team reviews it — the
//! pull request's comment (GitHub) or thread (Azure DevOps), updated in place; its labels;
//! the drift issue of a scheduled run; the job or build summary.
//!
//! The report is untrusted (it may be a fork's artifact): it is checked by
//! `licensectl::gitops::report` and only ever rendered. The token comes from the
//! environment (`GITHUB_TOKEN`, `SYSTEM_ACCESSTOKEN`) and is never printed; `--dry-run`
//! prints the requests with the token as `***` and writes no summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use licensectl::gitops::azure_devops::{AzureDevOps, upload_summary_command};
use licensectl::gitops::decide::Author;
use licensectl::gitops::env::{self, AzureEnv, Ci, GitHubEnv};
use licensectl::gitops::flow::{self, GitHubPullRequest};
use licensectl::gitops::github::GitHub;
use licensectl::gitops::marker::marker;
use licensectl::gitops::report::{self, MAX_REPORT_BYTES};
use licensectl::gitops::{Http, HttpOptions, Platform, Report, ReportKind, State, Target};
use licensectl::render::markdown::{Budget, COMMENT_BUDGET, SUMMARY_BUDGET, render_within};

use super::exit;
use super::output::print;

/// Which platform to post to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlatformChoice {
    /// Detect from the environment (`GITHUB_ACTIONS=true` or `TF_BUILD=True`).
    Auto,
    /// GitHub Actions.
    Github,
    /// Azure Pipelines.
    AzureDevops,
}

/// Arguments of `licensectl comment`.
#[derive(Debug, Args)]
pub(crate) struct CommentArgs {
    /// A saved plan (`plan --out`) or the JSON of `plan`/`drift --format json`.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// The config directory the report was made from.
    ///
    /// With the tenant it names the target (`TENANT (CONFIG DIR)`), so that each config
    /// directory keeps its own comment on a pull request.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub config: PathBuf,
    /// Name the target yourself instead of `TENANT (CONFIG DIR)`.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Where to post.
    #[arg(long, value_enum, default_value_t = PlatformChoice::Auto)]
    pub platform: PlatformChoice,
    /// The pull request [default: the CI run's].
    ///
    /// Taken from the GitHub event, or from SYSTEM_PULLREQUEST_PULLREQUESTID in Azure
    /// Pipelines; give it when the job runs outside a pull-request event.
    #[arg(long, value_name = "NUMBER")]
    pub pull_request: Option<u64>,
    /// Comment even when there are no changes (and no comment yet).
    #[arg(long)]
    pub always_comment: bool,
    /// Post nothing: only write the job or build summary.
    #[arg(long)]
    pub no_comment: bool,
    /// Leave the pull request's labels alone.
    #[arg(long)]
    pub no_labels: bool,
    /// Write no job or build summary.
    #[arg(long)]
    pub no_summary: bool,
    /// Author of licensectl's comments (GitHub default: github-actions[bot]).
    ///
    /// Only comments by this author are updated in place. GitHub: `github-actions[bot]`,
    /// the author of `GITHUB_TOKEN` comments; set it when the job posts with another
    /// token. Azure DevOps: any author.
    #[arg(long, env = "LICENSECTL_COMMENT_AUTHOR", value_name = "LOGIN")]
    pub comment_author: Option<String>,
    /// Link to the uploaded plan.json artifact, shown in the comment.
    ///
    /// actions/upload-artifact's `artifact-url` output.
    #[arg(long, value_name = "URL")]
    pub artifact_url: Option<String>,
    /// Longest comment, in bytes.
    ///
    /// GitHub refuses comments of more than 65,536 characters; a longer plan is
    /// summarised, destructive changes first, with a link to the full plan.
    #[arg(long, value_name = "N", default_value_t = COMMENT_BUDGET)]
    pub max_comment_chars: usize,
    /// Longest job summary, in bytes.
    ///
    /// GitHub refuses job summaries of more than 1 MiB.
    #[arg(long, value_name = "N", default_value_t = SUMMARY_BUDGET)]
    pub max_summary_chars: usize,
    /// Print the writes instead of sending them; write no summary.
    ///
    /// Reads (finding the comment to update) are still made when a token is set.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `licensectl comment`; returns the exit code.
pub(crate) fn run(args: &CommentArgs) -> anyhow::Result<u8> {
    let report = read_report(&args.report)?;
    let ci = match env::detect(&|name| std::env::var(name).ok())? {
        Ci::GitHub(gh) if args.platform != PlatformChoice::AzureDevops => Ci::GitHub(gh),
        Ci::AzureDevOps(az) if args.platform != PlatformChoice::Github => Ci::AzureDevOps(az),
        Ci::None if args.platform == PlatformChoice::Auto => Ci::None,
        _ => bail!(
            "--platform {} but its environment is not set (GITHUB_ACTIONS=true or TF_BUILD=True)",
            match args.platform {
                PlatformChoice::Github => "github",
                _ => "azure-devops",
            }
        ),
    };
    let target = match &args.target {
        Some(name) => Target::named(name),
        None => Target::of(&report.tenant(), &config_name(&args.config)),
    };
    let state = State {
        changes: report.has_changes(),
        destructive: report.is_destructive(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match ci {
        Ci::GitHub(gh) => runtime.block_on(on_github(args, &report, &target, state, &gh)),
        Ci::AzureDevOps(az) => runtime.block_on(on_azure(args, &report, &target, state, &az)),
        Ci::None => {
            if !args.dry_run {
                bail!(
                    "no CI platform detected (GITHUB_ACTIONS=true or TF_BUILD=True); pass --dry-run to print the comment"
                );
            }
            let body = comment_body(
                args,
                &report,
                &target,
                state,
                &artifact_pointer(&report, None),
            );
            print(&format!(
                "# no CI platform detected: the comment would read\n{body}"
            ))?;
            Ok(exit::SUCCESS)
        }
    }
}

/// Reads the report file: a regular file of at most [`MAX_REPORT_BYTES`], then checked.
fn read_report(path: &Path) -> anyhow::Result<Report> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    if !meta.is_file() {
        bail!("cannot read report {}: not a regular file", path.display());
    }
    if meta.len() > MAX_REPORT_BYTES as u64 {
        bail!(
            "refusing report {}: {} bytes, more than {MAX_REPORT_BYTES}",
            path.display(),
            meta.len()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    report::parse(&text).with_context(|| format!("refusing report {}", path.display()))
}

/// The config directory as the marker names it: relative to the working directory when
/// inside it.
fn config_name(dir: &Path) -> String {
    let shown = if dir.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| dir.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| dir.to_path_buf())
    } else {
        dir.to_path_buf()
    };
    shown.to_string_lossy().into_owned()
}

/// An `http(s)` URL that can stand in a Markdown link.
fn link_url(url: &str) -> Option<&str> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url::Url::parse(url).is_ok()
        && !url.contains(|c: char| c.is_whitespace() || c.is_control() || "()<>[]`\"".contains(c));
    ok.then_some(url)
}

/// "the [`plan.json` artifact](URL)" (`report.json` for a drift report, which saves no
/// plan).
fn artifact_pointer(report: &Report, artifact_url: Option<&str>) -> String {
    let file = match report.kind {
        ReportKind::Plan => "plan.json",
        ReportKind::Drift => "report.json",
    };
    match artifact_url.and_then(link_url) {
        Some(url) => format!("the [`{file}` artifact]({url})"),
        None => format!("the `{file}` artifact"),
    }
}

/// "the [job summary](RUN) and the [`plan.json` artifact](URL)".
fn full_plan_pointer(
    report: &Report,
    summary_url: Option<&str>,
    summary: &str,
    artifact_url: Option<&str>,
) -> String {
    let summary = match summary_url.and_then(link_url) {
        Some(url) => format!("the [{summary}]({url})"),
        None => format!("the {summary}"),
    };
    format!("{summary} and {}", artifact_pointer(report, artifact_url))
}

/// The marker, the report within the comment budget, and a footer.
fn comment_body(
    args: &CommentArgs,
    report: &Report,
    target: &Target,
    state: State,
    full_plan: &str,
) -> String {
    let head = format!("{}\n", marker(target, state));
    let note = if report.from_saved_plan {
        "> [!NOTE]\n> Rendered from a saved plan, which records the changes only (no seats, findings or problems).\n\n"
    } else {
        ""
    };
    let footer = format!(
        "\n<sub>licensectl {} · target `{}`</sub>\n",
        env!("CARGO_PKG_VERSION"),
        target.title().replace('`', "'")
    );
    let room = args
        .max_comment_chars
        .saturating_sub(head.len() + note.len() + footer.len());
    let text = render_within(
        &report.plan,
        report.mode(),
        &Budget {
            limit: room,
            full_plan,
        },
    );
    format!("{head}{note}{text}{footer}")
}

/// The report within the summary budget.
fn summary_text(args: &CommentArgs, report: &Report, full_plan: &str) -> String {
    render_within(
        &report.plan,
        report.mode(),
        &Budget {
            limit: args.max_summary_chars.saturating_sub(1),
            full_plan,
        },
    )
}

/// A note on stderr (what was posted or written), unless `--quiet`.
fn say(line: &str) {
    super::ui::note(&format!("licensectl comment: {line}"));
}

fn http_options(args: &CommentArgs) -> HttpOptions {
    HttpOptions {
        dry_run: args.dry_run,
        ..HttpOptions::default()
    }
}

async fn on_github(
    args: &CommentArgs,
    report: &Report,
    target: &Target,
    state: State,
    gh: &GitHubEnv,
) -> anyhow::Result<u8> {
    // The job summary first: it is there even when commenting fails.
    if !args.no_summary
        && let Some(path) = &gh.step_summary
    {
        let text = summary_text(
            args,
            report,
            &artifact_pointer(report, args.artifact_url.as_deref()),
        );
        if args.dry_run {
            say(&format!(
                "would append {} bytes to the job summary",
                text.len()
            ));
        } else {
            append(Path::new(path), &text)?;
            say(&format!(
                "wrote the report to the job summary ({} bytes)",
                text.len()
            ));
        }
    }
    if args.no_comment {
        return Ok(exit::SUCCESS);
    }
    let pointer = full_plan_pointer(
        report,
        gh.run_url.as_deref(),
        "job summary",
        args.artifact_url.as_deref(),
    );
    let body = comment_body(args, report, target, state, &pointer);
    let repo = GitHub::new(&gh.api_url, &gh.repository)?;
    let http = Http::new(Platform::GitHub, gh.token.clone(), http_options(args))?;
    let login = args
        .comment_author
        .as_deref()
        .unwrap_or("github-actions[bot]");
    let author = Author::Exactly(login);
    let event_pr = match &gh.event_path {
        Some(path) => read_event(Path::new(path))?.and_then(|text| env::event_pull_request(&text)),
        None => None,
    };
    let number = args.pull_request.or(event_pr.map(|p| p.number));
    let result = match number {
        Some(_) if args.pull_request.is_none() && event_pr.is_some_and(|p| p.from_fork) => {
            // A fork's run gets a read-only token: writing would only fail with 403.
            print(&format!(
                "::notice title=licensectl::pull request from a fork: its token is read-only, so the plan is in the job summary only (target {})\n",
                target.title()
            ))?;
            Ok(())
        }
        Some(number) => {
            github_pull_request(args, &repo, &http, number, target, state, &body, author).await
        }
        None if report.kind == ReportKind::Drift => {
            let closing = match gh.run_url.as_deref().and_then(link_url) {
                Some(url) => format!(
                    "The drift is gone: the tenant matches the configuration again ([run]({url})). Closing."
                ),
                None => "The drift is gone: the tenant matches the configuration again. Closing."
                    .to_owned(),
            };
            flow::sync_drift_issue(&repo, &http, target, state.changes, &body, &closing, author)
                .await
                .map(|outcome| say(&format!("{target}: {outcome}")))
                .map_err(anyhow::Error::from)
        }
        None => {
            say(&format!(
                "{target}: not a pull request and not a drift report: nothing to comment"
            ));
            Ok(())
        }
    };
    print(&http.take_transcript())?;
    result.map(|()| exit::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
async fn github_pull_request(
    args: &CommentArgs,
    repo: &GitHub,
    http: &Http,
    number: u64,
    target: &Target,
    state: State,
    body: &str,
    author: Author<'_>,
) -> anyhow::Result<()> {
    let pr = GitHubPullRequest { repo, number };
    let (outcome, posted) =
        flow::sync_comment(&pr, http, target, state, body, author, args.always_comment).await?;
    say(&format!("{target}: {outcome} on pull request #{number}"));
    if !args.no_labels {
        let labels = flow::sync_labels(repo, http, number, &posted, target, state, author).await?;
        let changes: Vec<String> = labels
            .add
            .iter()
            .map(|l| format!("+{l}"))
            .chain(labels.remove.iter().map(|l| format!("-{l}")))
            .collect();
        if !changes.is_empty() {
            say(&format!(
                "labels of pull request #{number}: {}",
                changes.join(" ")
            ));
        }
    }
    Ok(())
}

async fn on_azure(
    args: &CommentArgs,
    report: &Report,
    target: &Target,
    state: State,
    az: &AzureEnv,
) -> anyhow::Result<u8> {
    if !args.no_summary {
        let text = summary_text(
            args,
            report,
            &artifact_pointer(report, args.artifact_url.as_deref()),
        );
        let dir = az
            .temp_dir
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!("licensectl-summary-{}.md", file_stem(target)));
        if args.dry_run {
            say(&format!(
                "would attach {} bytes to the build summary ({})",
                text.len(),
                path.display()
            ));
        } else {
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write the build summary {}", path.display()))?;
            match upload_summary_command(&path.to_string_lossy()) {
                Some(command) => print(&format!("{command}\n"))?,
                None => bail!("cannot attach {}: a line break in the path", path.display()),
            }
        }
    }
    if args.no_comment {
        return Ok(exit::SUCCESS);
    }
    let Some(number) = args.pull_request.or(az.pull_request_id) else {
        say(&format!(
            "{target}: not a pull-request build (no SYSTEM_PULLREQUEST_PULLREQUESTID): nothing to comment"
        ));
        return Ok(exit::SUCCESS);
    };
    let pointer = full_plan_pointer(
        report,
        az.build_url.as_deref(),
        "build summary",
        args.artifact_url.as_deref(),
    );
    let body = comment_body(args, report, target, state, &pointer);
    let pr = AzureDevOps::new(
        &az.collection_uri,
        &az.project_id,
        &az.repository_id,
        number,
    )?;
    let http = Http::new(Platform::AzureDevOps, az.token.clone(), http_options(args))?;
    let author = match args.comment_author.as_deref() {
        Some(login) => Author::Exactly(login),
        None => Author::Anyone,
    };
    let result = flow::sync_comment(
        &pr,
        &http,
        target,
        state,
        &body,
        author,
        args.always_comment,
    )
    .await;
    print(&http.take_transcript())?;
    let (outcome, _) = result?;
    say(&format!("{target}: {outcome} on pull request {number}"));
    Ok(exit::SUCCESS)
}

/// A file-name-safe form of a target's title.
fn file_stem(target: &Target) -> String {
    let stem: String = target
        .title()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    stem
}

/// Appends `text` to the job summary file, separated from what is there.
fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write the job summary {}", path.display()))?;
    file.write_all(format!("{text}\n").as_bytes())
        .with_context(|| format!("cannot write the job summary {}", path.display()))
}

/// The event payload, when the file exists and is of a sane size.
fn read_event(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() <= 64 * 1024 * 1024 => {
            std::fs::read_to_string(path)
                .map(Some)
                .with_context(|| format!("cannot read GITHUB_EVENT_PATH {}", path.display()))
        }
        _ => Ok(None),
    }
}
