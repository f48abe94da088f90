//! `licensectl comment` on GitHub Actions, against the GitHub REST API stand-in
//! (`platforms`): one plan comment per target, created once and updated in place; none for
//! a plan without changes; labels that follow; the drift issue's life; the job summary;
//! forks; 403s; and a token that is never printed.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};
use tempfile::TempDir;

use licensectl::render::Mode;

use crate::platforms::{
    BOT, GitHubApi, assert_hidden, assert_ok, changed_report, contoso_report, quiet_report,
};
use crate::util::{licensectl, output, show, text};

const REPO: &str = "contoso/licenses";
const TOKEN: &str = "ghs_TestToken0123456789abcdefABCDEF";

/// The stand-in, and a job's directory with its files.
struct Job {
    api: GitHubApi,
    url: String,
    dir: TempDir,
}

fn pull_request_event(number: u64, head: &str) -> Value {
    json!({
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": "change", "repo": {"full_name": head}},
            "base": {"ref": "main", "repo": {"full_name": REPO}},
        },
    })
}

fn schedule_event() -> Value {
    json!({"schedule": "17 3 * * *"})
}

impl Job {
    async fn new() -> Self {
        let api = GitHubApi::new(REPO, TOKEN);
        let url = api.serve().await;
        Job {
            api,
            url,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn summary(&self) -> PathBuf {
        self.dir.path().join("step_summary.md")
    }

    /// `licensectl comment REPORT --config examples/contoso ARGS` in a GitHub Actions
    /// environment with `event` as the event payload.
    fn command(&self, report: &str, event: &Value, args: &[&str]) -> Command {
        let report_path = self.dir.path().join("report.json");
        std::fs::write(&report_path, report).expect("report");
        let event_path = self.dir.path().join("event.json");
        std::fs::write(&event_path, event.to_string()).expect("event");
        let mut cmd = licensectl();
        cmd.arg("comment")
            .arg(&report_path)
            .args(["--config", "examples/contoso"])
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", &self.url)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event_path)
            .env("GITHUB_STEP_SUMMARY", self.summary())
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_RUN_ID", "4711")
            .env("GITHUB_TOKEN", TOKEN);
        cmd
    }

    async fn run(&self, report: &str, event: &Value, args: &[&str]) -> Output {
        output(self.command(report, event, args)).await
    }

    /// Runs, expects exit 0 and `says` on stderr.
    async fn expect(&self, report: &str, event: &Value, args: &[&str], says: &str) -> Output {
        let out = self.run(report, event, args).await;
        assert_ok(&out);
        assert!(
            text(&out.stderr).contains(says),
            "{says:?}:\n{}",
            show(&out)
        );
        out
    }
}

#[tokio::test]
async fn one_comment_per_target_is_created_then_updated_in_place() {
    let job = Job::new().await;
    job.api.pull_request(7);
    // More comments than one page holds, and a copied marker in a reviewer's comment.
    for n in 0..130 {
        job.api
            .comment(7, "octocat", &format!("review comment {n}"));
    }
    let first = contoso_report(Mode::Plan);
    let marker_line = {
        let out = job
            .run(&first, &pull_request_event(7, REPO), &["--dry-run"])
            .await;
        assert_ok(&out);
        let stdout = text(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.contains("licensectl:v1"))
            .expect("the dry run shows the body");
        let start = line.find("<!-- licensectl:v1").expect("marker");
        let end = line[start..].find(" -->").expect("end") + start + 4;
        line[start..end].to_owned()
    };
    let spoof = job.api.comment(
        7,
        "mallory",
        &format!("{marker_line}\nNo changes, merge away!"),
    );
    job.api.forget_requests();

    job.expect(
        &first,
        &pull_request_event(7, REPO),
        &[],
        "created the plan comment on pull request #7",
    )
    .await;
    let comments = job.api.bot_comments(7);
    assert_eq!(comments.len(), 1, "one licensectl comment");
    let (id, body) = &comments[0];
    assert!(
        body.contains("**Plan: 4 to add, 4 to change, 3 to remove.**"),
        "{body}"
    );
    assert!(body.contains("target `contoso.onmicrosoft.com (examples/contoso)`"));
    let list_pages = job
        .api
        .state()
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/issues/7/comments"))
        .count();
    assert_eq!(list_pages, 2, "132 comments are two pages of 100");

    job.expect(
        &changed_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &[],
        &format!("updated the plan comment {id} on pull request #7"),
    )
    .await;
    let after = job.api.bot_comments(7);
    assert_eq!(after.len(), 1, "still one licensectl comment");
    assert_eq!(&after[0].0, id);
    assert_ne!(&after[0].1, body, "the body is the new plan's");
    assert!(
        job.api
            .writes()
            .contains(&format!("PATCH /repos/{REPO}/issues/comments/{id}")),
        "{:?}",
        job.api.writes()
    );
    assert_eq!(
        job.api.state().comments[&spoof].body,
        format!("{marker_line}\nNo changes, merge away!"),
        "a reviewer's comment is never edited"
    );

    // The same plan again: nothing to write but the labels (already right).
    job.api.forget_requests();
    job.expect(
        &changed_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &[],
        "is up to date",
    )
    .await;
    assert_eq!(job.api.writes(), Vec::<String>::new());
    assert_eq!(job.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_plan_without_changes_creates_no_comment_but_updates_one_and_labels_follow() {
    let job = Job::new().await;
    job.api.pull_request(8);
    job.api.pull_request(9);

    job.expect(
        &quiet_report(Mode::Plan),
        &pull_request_event(8, REPO),
        &[],
        "nothing posted",
    )
    .await;
    assert!(job.api.bot_comments(8).is_empty());
    assert_eq!(job.api.labels(8), vec!["licensectl:no-changes"]);

    job.expect(
        &contoso_report(Mode::Plan),
        &pull_request_event(9, REPO),
        &[],
        "created the plan comment",
    )
    .await;
    assert_eq!(
        job.api.labels(9),
        vec!["licensectl:changes", "licensectl:destructive"]
    );
    let out = job
        .run(&quiet_report(Mode::Plan), &pull_request_event(9, REPO), &[])
        .await;
    assert_ok(&out);
    let comments = job.api.bot_comments(9);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .1
            .contains("**No changes.** The tenant matches the configuration."),
        "{}",
        comments[0].1
    );
    assert!(comments[0].1.contains("state=no-changes"));
    assert_eq!(job.api.labels(9), vec!["licensectl:no-changes"]);
    assert!(
        job.api.writes().contains(&format!(
            "DELETE /repos/{REPO}/issues/9/labels/licensectl:destructive"
        )),
        "{:?}",
        job.api.writes()
    );

    // `--always-comment` posts even a plan without changes.
    let out = job
        .run(
            &quiet_report(Mode::Plan),
            &pull_request_event(8, REPO),
            &["--always-comment"],
        )
        .await;
    assert_ok(&out);
    assert_eq!(job.api.bot_comments(8).len(), 1);
    assert_eq!(job.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn two_targets_keep_two_comments_and_share_the_labels() {
    let job = Job::new().await;
    job.api.pull_request(5);
    let report = contoso_report(Mode::Plan);
    let prod = ["--target", "prod"];
    let test = ["--target", "test"];
    assert_ok(&job.run(&report, &pull_request_event(5, REPO), &prod).await);
    assert_ok(
        &job.run(
            &quiet_report(Mode::Plan),
            &pull_request_event(5, REPO),
            &test,
        )
        .await,
    );
    assert_ok(&job.run(&report, &pull_request_event(5, REPO), &test).await);
    assert_eq!(job.api.bot_comments(5).len(), 2, "one comment per target");
    // prod's plan goes quiet; test's still has changes: the pull request keeps `changes`.
    assert_ok(
        &job.run(
            &quiet_report(Mode::Plan),
            &pull_request_event(5, REPO),
            &prod,
        )
        .await,
    );
    assert_eq!(
        job.api.labels(5),
        vec!["licensectl:changes", "licensectl:destructive"]
    );
    assert_ok(
        &job.run(
            &quiet_report(Mode::Plan),
            &pull_request_event(5, REPO),
            &test,
        )
        .await,
    );
    assert_eq!(job.api.labels(5), vec!["licensectl:no-changes"]);
}

#[tokio::test]
async fn drift_opens_then_updates_then_closes_one_issue() {
    let job = Job::new().await;
    job.api
        .issue(1, "Onboarding checklist", "", false, "octocat");
    job.api.pull_request(2);
    job.api.issue(
        3,
        "License drift: somebody's copy",
        "<!-- not ours -->",
        false,
        "mallory",
    );

    job.expect(
        &contoso_report(Mode::Drift),
        &schedule_event(),
        &[],
        "opened drift issue #4",
    )
    .await;
    let issue = job.api.state().issues[&4].clone();
    assert_eq!(
        issue.title,
        "License drift: contoso.onmicrosoft.com (examples/contoso)"
    );
    assert_eq!(issue.labels, vec!["licensectl:drift"]);
    let report: Value = serde_json::from_str(&contoso_report(Mode::Drift)).expect("json");
    let headline = format!(
        "**Drift: {} principals differ, {} findings.**",
        report["summary"]["principals_changed"], report["summary"]["findings"]
    );
    assert!(issue.body.contains(&headline), "{headline}\n{}", issue.body);

    job.expect(
        &changed_report(Mode::Drift),
        &schedule_event(),
        &[],
        "updated drift issue #4",
    )
    .await;
    let updated = job.api.state().issues[&4].clone();
    assert_ne!(updated.body, issue.body);
    assert_eq!(updated.state, "open");

    job.expect(
        &quiet_report(Mode::Drift),
        &schedule_event(),
        &[],
        "the drift is gone: closed drift issue #4",
    )
    .await;
    let closed = job.api.state().issues[&4].clone();
    assert_eq!(
        (closed.state.as_str(), closed.state_reason.as_deref()),
        ("closed", Some("completed"))
    );
    let closing = job
        .api
        .state()
        .comments
        .values()
        .filter(|c| c.issue == 4 && c.user == BOT)
        .map(|c| c.body.clone())
        .collect::<Vec<_>>();
    assert_eq!(closing.len(), 1);
    assert!(
        closing[0].starts_with("The drift is gone"),
        "{}",
        closing[0]
    );
    assert!(closing[0].contains("(https://github.com/contoso/licenses/actions/runs/4711)"));

    // Nothing to close, nothing to open: no writes.
    job.api.forget_requests();
    assert_ok(
        &job.run(&quiet_report(Mode::Drift), &schedule_event(), &[])
            .await,
    );
    assert_eq!(job.api.writes(), Vec::<String>::new());
    assert_eq!(job.api.state().issues.len(), 4, "no new issue");
    assert_eq!(job.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_job_summary_gets_the_report_within_its_budget() {
    let job = Job::new().await;
    job.api.pull_request(7);
    job.expect(
        &contoso_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &["--max-summary-chars", "1500"],
        "wrote the report to the job summary",
    )
    .await;
    let summary = std::fs::read_to_string(job.summary()).expect("summary written");
    assert!(summary.len() <= 1_500, "{}", summary.len());
    assert!(summary.contains("**Plan: 4 to add, 4 to change, 3 to remove.**"));
    assert!(
        summary.contains("the full plan is in the `plan.json` artifact"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_missing_pull_request_write_permission_is_named_and_nothing_panics() {
    let job = Job::new().await;
    job.api.pull_request(7);
    {
        let mut s = job.api.state();
        s.pull_requests_write = false;
        s.issues_write = false;
    }
    let mut cmd = job.command(
        &contoso_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &[],
    );
    cmd.env("LICENSECTL_LOG", "trace");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: cannot create the plan comment on pull request #7: GitHub answered 403 (Resource not accessible by integration); the token lacks `pull-requests: write`; add it to the workflow's permissions"),
        "{}",
        show(&out)
    );
    assert!(!stderr.contains("panicked"));
    assert_hidden(&out, TOKEN);
    // The summary is written before commenting, so the plan is still visible.
    assert!(job.summary().exists());

    let out = job
        .run(&contoso_report(Mode::Drift), &schedule_event(), &[])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("the token lacks `issues: write`"),
        "{}",
        show(&out)
    );
}

#[tokio::test]
async fn the_token_is_never_printed_even_when_tracing() {
    let job = Job::new().await;
    job.api.pull_request(7);
    for args in [&[][..], &["--dry-run"][..]] {
        let mut cmd = job.command(
            &contoso_report(Mode::Plan),
            &pull_request_event(7, REPO),
            args,
        );
        cmd.env("LICENSECTL_LOG", "trace");
        let out = output(cmd).await;
        assert_ok(&out);
        assert!(
            text(&out.stderr).contains("request"),
            "tracing is on: {}",
            show(&out)
        );
        assert_hidden(&out, TOKEN);
    }
    // A wrong token: GitHub's 401, named, and neither token printed.
    let mut cmd = job.command(
        &contoso_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &[],
    );
    cmd.env("GITHUB_TOKEN", "ghs_WrongToken")
        .env("LICENSECTL_LOG", "trace");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("GitHub answered 401 (Bad credentials); the token is invalid")
    );
    assert!(!text(&out.stderr).contains("ghs_WrongToken"));
    assert_hidden(&out, TOKEN);
}

#[tokio::test]
async fn a_dry_run_prints_the_requests_with_the_token_hidden_and_writes_nothing() {
    let job = Job::new().await;
    job.api.pull_request(7);
    let out = job
        .run(
            &contoso_report(Mode::Plan),
            &pull_request_event(7, REPO),
            &["--dry-run"],
        )
        .await;
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "POST {}/repos/{REPO}/issues/7/comments\n",
            job.url
        )),
        "{stdout}"
    );
    assert!(stdout.contains("authorization: Bearer ***\n"));
    assert!(stdout.contains("x-github-api-version: 2022-11-28\n"));
    assert!(stdout.contains("\"labels\":[\"licensectl:changes\",\"licensectl:destructive\"]"));
    assert_eq!(job.api.writes(), Vec::<String>::new(), "nothing written");
    assert!(!job.summary().exists(), "no summary in a dry run");
    assert_hidden(&out, TOKEN);

    // Without a token a dry run still shows what it would post.
    let mut cmd = job.command(
        &contoso_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &["--dry-run"],
    );
    cmd.env_remove("GITHUB_TOKEN");
    let out = output(cmd).await;
    assert_ok(&out);
    assert!(text(&out.stdout).contains("# not sent (no token): GET"));
    assert!(text(&out.stdout).contains("# would create the plan comment on pull request #7"));
    // Without one, a real run says how to pass it.
    let mut cmd = job.command(
        &contoso_report(Mode::Plan),
        &pull_request_event(7, REPO),
        &[],
    );
    cmd.env_remove("GITHUB_TOKEN");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("GITHUB_TOKEN is not set; pass it to the step"));
}

#[tokio::test]
async fn a_fork_pull_request_gets_the_summary_and_a_notice_only() {
    let job = Job::new().await;
    job.api.pull_request(7);
    let out = job
        .run(
            &contoso_report(Mode::Plan),
            &pull_request_event(7, "mallory/licenses"),
            &[],
        )
        .await;
    assert_ok(&out);
    assert!(text(&out.stdout).contains("::notice title=licensectl::pull request from a fork"));
    assert_eq!(job.api.writes(), Vec::<String>::new());
    assert!(job.summary().exists());
}

#[tokio::test]
async fn a_hostile_report_is_refused_before_any_request() {
    let job = Job::new().await;
    job.api.pull_request(7);
    let mut v: Value = serde_json::from_str(&contoso_report(Mode::Plan)).expect("json");
    v["changes"][0]["principal"]["name"] = json!("x\n```\n**No changes.** @everyone");
    let out = job
        .run(&v.to_string(), &pull_request_event(7, REPO), &[])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("refusing report")
            && text(&out.stderr).contains("control character in changes[0].principal.name"),
        "{}",
        show(&out)
    );
    assert!(job.api.state().requests.is_empty());

    let out = job.run("not json", &pull_request_event(7, REPO), &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a licensectl report"));
}

#[tokio::test]
async fn a_saved_plan_is_a_report_too() {
    let job = Job::new().await;
    job.api.pull_request(7);
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("plan.json");
    let out = output({
        let mut cmd = licensectl();
        cmd.args([
            "plan",
            "--config",
            "examples/contoso",
            "--snapshot",
            "examples/contoso/tenant.json",
            "--out",
        ])
        .arg(&saved);
        cmd
    })
    .await;
    assert_ok(&out);
    let out = job
        .run(
            &std::fs::read_to_string(&saved).expect("saved"),
            &pull_request_event(7, REPO),
            &[],
        )
        .await;
    assert_ok(&out);
    let comments = job.api.bot_comments(7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].1.contains("Rendered from a saved plan"));
    assert!(
        comments[0]
            .1
            .contains("**Plan: 4 to add, 4 to change, 3 to remove.**")
    );
}
