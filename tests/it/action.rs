//! The GitHub Action's shell steps (`action/entrypoint.sh`, run as action.yml runs them)
//! with a fake `GITHUB_*` environment: the Graph emulator as Microsoft Graph, the GitHub
//! stand-in (`platforms`) as GitHub. Checks the outputs, the artifact the upload step would
//! take, the comment, the job summary, the annotations of an invalid config, the exit-code
//! handling, and the apply of the reviewed plan (and its refusal once stale).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::platforms::{GitHubApi, assert_hidden, assert_ok};
use crate::util::{Emulated, contoso, copy_dir, example, output, scrubbed, show, text};

const REPO: &str = "contoso/licenses";
const TOKEN: &str = "ghs_ActionTestToken9876543210";

/// A runner: a workspace holding the config at `tenants/contoso`, RUNNER_TEMP, the output
/// and summary files, the event; the emulator and the GitHub stand-in.
struct Runner {
    dir: TempDir,
    graph: Emulated,
    github: GitHubApi,
    github_url: String,
}

impl Runner {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("workspace/tenants/contoso");
        copy_dir(&example(), &config);
        std::fs::remove_file(config.join("tenant.json")).expect("not config");
        std::fs::create_dir_all(dir.path().join("runner_temp")).expect("mkdir");
        let event = json!({
            "number": 12,
            "pull_request": {
                "number": 12,
                "head": {"repo": {"full_name": REPO}},
                "base": {"repo": {"full_name": REPO}},
            },
        });
        std::fs::write(dir.path().join("event.json"), event.to_string()).expect("event");
        let graph = Emulated::serve(contoso(), EmulatorOptions::default()).await;
        let github = GitHubApi::new(REPO, TOKEN);
        github.pull_request(12);
        let github_url = github.serve().await;
        Runner {
            dir,
            graph,
            github,
            github_url,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bash action/entrypoint.sh PHASE` in the workspace, with `inputs` as INPUT_* (or
    /// other) variables.
    fn step(&self, phase: &str, env: &[(&str, &str)]) -> Command {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/entrypoint.sh");
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_licensectl"))
            .parent()
            .expect("bin dir")
            .to_owned();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = scrubbed("bash");
        cmd.arg(script)
            .arg(phase)
            .current_dir(self.file("workspace"))
            .env("PATH", path)
            .env("RUNNER_TEMP", self.file("runner_temp"))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", self.file("workspace"))
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", self.file("event.json"))
            .env("GITHUB_API_URL", &self.github_url)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_RUN_ID", "4711")
            // Graph: the emulator, as a job's environment points a credential at Entra ID.
            .env("AZURE_TENANT_ID", &self.graph.tid)
            .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("LICENSECTL_GRAPH_URL", &self.graph.running.url)
            .env("AZURE_AUTHORITY_HOST", &self.graph.running.url);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd
    }

    async fn run(&self, phase: &str, env: &[(&str, &str)]) -> Output {
        output(self.step(phase, env)).await
    }

    /// The step outputs written so far (a later value wins, as on GitHub).
    fn outputs(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.file("output"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_step_writes_outputs_and_the_artifact_then_the_comment_step_posts() {
    let runner = Runner::new().await;
    let inputs = [
        ("INPUT_COMMAND", "plan"),
        ("INPUT_CONFIG", "tenants/contoso"),
        ("INPUT_ARGS", ""),
    ];
    let out = runner.run("run", &inputs).await;
    assert_ok(&out);
    assert_hidden(&out, DEFAULT_CLIENT_SECRET);
    let outputs = runner.outputs();
    let artifact_dir = runner
        .file("runner_temp")
        .join("licensectl/licensectl-plan-tenants-contoso");
    let plan_path = artifact_dir.join("plan.json");
    let report_path = artifact_dir.join("report.json");
    assert_eq!(outputs["has-changes"], "true", "{outputs:?}");
    assert_eq!(outputs["exit-code"], "2");
    assert_eq!(outputs["artifact-name"], "licensectl-plan-tenants-contoso");
    assert_eq!(outputs["artifact-dir"], artifact_dir.display().to_string());
    assert_eq!(outputs["plan-path"], plan_path.display().to_string());
    assert_eq!(outputs["report-path"], report_path.display().to_string());
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).expect("plan.json uploaded"))
            .expect("json");
    assert_eq!(saved["format"], "licensectl-saved-plan");
    assert_eq!(saved["changes"].as_array().map(Vec::len), Some(8));
    assert!(text(&out.stdout).contains("::group::licensectl validate --config tenants/contoso"));

    let artifact_url = "https://github.com/contoso/licenses/actions/runs/4711/artifacts/99";
    let out = runner
        .run(
            "comment",
            &[
                ("INPUT_CONFIG", "tenants/contoso"),
                ("INPUT_COMMENT", "true"),
                ("INPUT_SUMMARY", "true"),
                ("REPORT_PATH", &outputs["report-path"]),
                ("ARTIFACT_URL", artifact_url),
                ("GITHUB_TOKEN", TOKEN),
            ],
        )
        .await;
    assert_ok(&out);
    assert_hidden(&out, TOKEN);
    let comments = runner.github.bot_comments(12);
    assert_eq!(comments.len(), 1, "{}", show(&out));
    let body = &comments[0].1;
    assert!(body.contains("**Plan: 4 to add, 4 to change, 3 to remove.**"));
    assert!(body.contains("target `contoso.onmicrosoft.com (tenants/contoso)`"));
    assert_eq!(
        runner.github.labels(12),
        vec!["licensectl:changes", "licensectl:destructive"]
    );
    let summary = std::fs::read_to_string(runner.file("summary.md")).expect("summary");
    assert!(summary.contains("### licensectl plan: `contoso.onmicrosoft.com"));
    assert!(summary.contains("#### Seats"));
    assert_eq!(runner.github.violations(), Vec::<String>::new());

    let out = runner
        .run("finish", &[("EXIT_CODE", "2"), ("INPUT_COMMAND", "plan")])
        .await;
    assert_ok(&out);
    let out = runner
        .run("finish", &[("EXIT_CODE", "3"), ("INPUT_COMMAND", "plan")])
        .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout)
            .contains("::error title=licensectl::licensectl plan failed with exit code 3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_is_annotated_and_fails_the_job_without_a_plan() {
    let runner = Runner::new().await;
    let broken = runner.file("workspace/broken");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/unknown-profile"),
        &broken,
    );
    let out = runner
        .run(
            "run",
            &[("INPUT_COMMAND", "plan"), ("INPUT_CONFIG", "broken")],
        )
        .await;
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("::error file=broken/licenses/team.yaml,line=3,col=14,title=licensectl unknown-profile::"),
        "{}",
        show(&out)
    );
    let outputs = runner.outputs();
    assert_eq!(outputs["exit-code"], "78");
    assert_eq!(outputs["has-changes"], "false");
    assert!(!outputs.contains_key("plan-path"), "no plan: {outputs:?}");
    assert!(!outputs.contains_key("report-path"), "nothing to comment");
    let out = runner
        .run("finish", &[("EXIT_CODE", &outputs["exit-code"])])
        .await;
    assert_eq!(out.status.code(), Some(78));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apply_step_applies_the_reviewed_plan_and_refuses_it_once_stale() {
    let runner = Runner::new().await;
    let plan_inputs = [
        ("INPUT_COMMAND", "plan"),
        ("INPUT_CONFIG", "tenants/contoso"),
    ];
    let reviewed = runner.dir.path().join("reviewed.json");
    let reviewed_arg = reviewed.display().to_string();
    let apply = [
        ("INPUT_COMMAND", "apply"),
        ("INPUT_CONFIG", "tenants/contoso"),
        ("INPUT_PLAN", reviewed_arg.as_str()),
        ("INPUT_ARGS", "--group-timeout 30"),
    ];
    // The pull request's plan, downloaded by the apply job and applied.
    assert_ok(&runner.run("run", &plan_inputs).await);
    std::fs::copy(&runner.outputs()["plan-path"], &reviewed).expect("downloaded artifact");
    let out = runner.run("run", &apply).await;
    assert_ok(&out);
    assert_eq!(runner.outputs()["exit-code"], "0", "{}", show(&out));
    assert!(
        text(&out.stdout).contains("Apply complete:"),
        "{}",
        show(&out)
    );
    assert!(!text(&out.stdout).contains("::error"), "{}", show(&out));
    assert_hidden(&out, DEFAULT_CLIENT_SECRET);

    // The next pull request changes grace; its plan is reviewed, but before the merge
    // someone makes the same change by hand: the reviewed plan is stale.
    let file = runner.file("workspace/tenants/contoso/licenses/engineering.yaml");
    let yaml = std::fs::read_to_string(&file).expect("yaml");
    let edited = yaml.replace(
        "  grace@contoso.com:                 # E3 now comes from SG-License-M365-E3; drop the direct copy\n    licenses: []",
        "  grace@contoso.com:\n    licenses: [ { sku: SPE_E5 } ]",
    );
    assert_ne!(edited, yaml);
    std::fs::write(&file, edited).expect("edit");
    assert_ok(&runner.run("run", &plan_inputs).await);
    assert_eq!(runner.outputs()["exit-code"], "2");
    std::fs::copy(&runner.outputs()["plan-path"], &reviewed).expect("downloaded artifact");
    let mut by_hand = runner.graph.command(&[
        "apply",
        "--config",
        "tenants/contoso",
        "--auto-approve",
        "--group-timeout",
        "30",
    ]);
    by_hand.current_dir(runner.file("workspace"));
    assert_ok(&output(by_hand).await);
    let out = runner.run("run", &apply).await;
    assert_ok(&out);
    assert_eq!(runner.outputs()["exit-code"], "1", "{}", show(&out));
    assert!(
        text(&out.stdout).contains("::error title=licensectl apply refused a stale plan::")
            && text(&out.stdout).contains("Re-run the plan job of the pull request"),
        "{}",
        show(&out)
    );
    assert!(
        text(&out.stderr).contains("the saved plan is stale"),
        "{}",
        show(&out)
    );
}
