//! `licensectl comment` on Azure Pipelines, against the pull-request threads stand-in
//! (`platforms`): one thread per target, created once and updated in place (active while
//! the plan has changes, closed when it has none), none for a plan without changes, the
//! build summary attachment, a 403 and a missing token named, the token never printed.

use std::process::{Command, Output};

use tempfile::TempDir;

use licensectl::render::Mode;

use crate::platforms::{
    AzureApi, BUILD_SERVICE, assert_hidden, assert_ok, changed_report, contoso_report, quiet_report,
};
use crate::util::{licensectl, output, show, text};

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.azure-pipelines-token";
const PROJECT: &str = "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c";
const REPOSITORY: &str = "3411ebc1-d5aa-464f-9615-0b527bc66719";

struct Build {
    api: AzureApi,
    collection: String,
    dir: TempDir,
}

impl Build {
    async fn new() -> Self {
        let api = AzureApi::new("fabrikam", PROJECT, REPOSITORY, TOKEN);
        let collection = api.serve().await;
        Build {
            api,
            collection,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn command(&self, report: &str, pull_request: Option<u64>, args: &[&str]) -> Command {
        let path = self.dir.path().join("report.json");
        std::fs::write(&path, report).expect("report");
        let mut cmd = licensectl();
        cmd.arg("comment")
            .arg(&path)
            .args(["--config", "tenants/contoso"])
            .args(args)
            .env("TF_BUILD", "True")
            .env("SYSTEM_COLLECTIONURI", &self.collection)
            .env("SYSTEM_TEAMPROJECTID", PROJECT)
            .env("SYSTEM_TEAMPROJECT", "Licenses")
            .env("BUILD_BUILDID", "318")
            .env("BUILD_REPOSITORY_ID", REPOSITORY)
            .env("AGENT_TEMPDIRECTORY", self.dir.path())
            .env("SYSTEM_ACCESSTOKEN", TOKEN);
        if let Some(id) = pull_request {
            cmd.env("SYSTEM_PULLREQUEST_PULLREQUESTID", id.to_string());
        }
        cmd
    }

    async fn run(&self, report: &str, pull_request: Option<u64>) -> Output {
        output(self.command(report, pull_request, &[])).await
    }
}

#[tokio::test]
async fn one_thread_per_target_is_created_then_updated_in_place() {
    let build = Build::new().await;
    build.api.pull_request(22);

    let out = build.run(&contoso_report(Mode::Plan), Some(22)).await;
    assert_ok(&out);
    assert!(
        text(&out.stderr).contains("created the plan comment on pull request 22"),
        "{}",
        show(&out)
    );
    let threads = build.api.marked_threads(22);
    assert_eq!(threads.len(), 1);
    let (id, thread) = &threads[0];
    assert_eq!(thread.status, "active");
    assert_eq!(thread.comments[0].author, BUILD_SERVICE);
    let first = thread.comments[0].content.clone();
    let create = build
        .api
        .state()
        .requests
        .iter()
        .find(|r| r.method == "POST")
        .and_then(|r| r.body.clone())
        .expect("a create request");
    assert_eq!(create["status"], 1, "active");
    assert_eq!(create["comments"][0]["parentCommentId"], 0);
    assert_eq!(create["comments"][0]["commentType"], 1, "text");
    assert!(first.contains("**Plan: 4 to add, 4 to change, 3 to remove.**"));

    let out = build.run(&changed_report(Mode::Plan), Some(22)).await;
    assert_ok(&out);
    assert!(
        text(&out.stderr).contains(&format!("updated the plan comment {id}/1")),
        "{}",
        show(&out)
    );
    let threads = build.api.marked_threads(22);
    assert_eq!(threads.len(), 1, "still one thread");
    assert_ne!(threads[0].1.comments[0].content, first);
    let writes = build.api.writes();
    assert!(
        writes.contains(&format!(
            "PATCH /fabrikam/{PROJECT}/_apis/git/repositories/{REPOSITORY}/pullRequests/22/threads/{id}/comments/1?api-version=7.1"
        )),
        "{writes:?}"
    );

    // No changes now: the thread says so and is closed.
    let out = build.run(&quiet_report(Mode::Plan), Some(22)).await;
    assert_ok(&out);
    let threads = build.api.marked_threads(22);
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].1.status, "closed");
    assert!(threads[0].1.comments[0].content.contains("**No changes.**"));
    assert_eq!(build.api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_plan_without_changes_on_a_new_pull_request_creates_no_thread() {
    let build = Build::new().await;
    build.api.pull_request(23);
    let out = build.run(&quiet_report(Mode::Plan), Some(23)).await;
    assert_ok(&out);
    assert!(build.api.marked_threads(23).is_empty());
    assert_eq!(build.api.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn the_build_summary_is_attached_with_the_logging_command() {
    let build = Build::new().await;
    build.api.pull_request(22);
    let out = build.run(&contoso_report(Mode::Plan), None).await;
    assert_ok(&out);
    let path = build
        .dir
        .path()
        .join("licensectl-summary-contoso.onmicrosoft.com__tenants_contoso_.md");
    assert!(
        text(&out.stdout).contains(&format!("##vso[task.uploadsummary]{}\n", path.display())),
        "{}",
        show(&out)
    );
    let summary = std::fs::read_to_string(&path).expect("summary");
    assert!(summary.contains("**Plan: 4 to add, 4 to change, 3 to remove.**"));
    assert!(text(&out.stderr).contains("not a pull-request build"));
    assert_eq!(build.api.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_missing_permission_or_token_is_named() {
    let build = Build::new().await;
    build.api.pull_request(22);
    build.api.state().contribute = false;
    let mut cmd = build.command(&contoso_report(Mode::Plan), Some(22), &[]);
    cmd.env("LICENSECTL_LOG", "trace");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("Azure DevOps answered 403 (TF401027: You need the Git 'PullRequestContribute' permission to perform this action."),
        "{}",
        show(&out)
    );
    assert!(
        text(&out.stderr)
            .contains("the build service lacks the `Contribute to pull requests` permission")
    );
    assert_hidden(&out, TOKEN);

    // SYSTEM_ACCESSTOKEN mapped to nothing: Azure DevOps' sign-in page (203).
    let mut cmd = build.command(&contoso_report(Mode::Plan), Some(22), &[]);
    cmd.env("SYSTEM_ACCESSTOKEN", "not-the-token");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("Azure DevOps answered 203; Azure DevOps did not accept the token; map it into the step: `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`"),
        "{}",
        show(&out)
    );

    let mut cmd = build.command(&contoso_report(Mode::Plan), Some(22), &[]);
    cmd.env_remove("SYSTEM_ACCESSTOKEN");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("SYSTEM_ACCESSTOKEN is not set; map it into the step"));
}

#[tokio::test]
async fn the_token_is_never_printed_even_when_tracing() {
    let build = Build::new().await;
    build.api.pull_request(22);
    for args in [&[][..], &["--dry-run"][..]] {
        let mut cmd = build.command(&contoso_report(Mode::Plan), Some(22), args);
        cmd.env("LICENSECTL_LOG", "trace");
        let out = output(cmd).await;
        assert_ok(&out);
        assert_hidden(&out, TOKEN);
    }
    let out = output(build.command(&changed_report(Mode::Plan), Some(22), &["--dry-run"])).await;
    assert!(text(&out.stdout).contains("authorization: Bearer ***"));
    assert!(text(&out.stdout).contains("# would update the plan thread"));
}
