//! Issue 18: `licensectl init` scaffolds a configuration repository that validates at
//! once: from nothing but a tenant pin, from a snapshot or from the live tenant (through
//! export: the first plan is empty), with the CI workflows of GitHub (which must pass
//! actionlint, as .ci/actionlint checks the examples) or Azure DevOps, and it never
//! overwrites a file without `--force`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graph_emulator::EmulatorOptions;

use crate::util::{Emulated, contoso, example, licensectl, show, text};

fn init(dir: &Path, args: &[&str]) -> Output {
    licensectl()
        .arg("init")
        .arg(dir)
        .args(args)
        .output()
        .expect("runs")
}

fn validate(config: &Path) -> Output {
    licensectl()
        .args(["validate", "--config"])
        .arg(config)
        .output()
        .expect("runs")
}

/// `plan --detailed-exitcode` of `config` against the contoso snapshot.
fn plan_against_contoso(config: &Path) -> Output {
    licensectl()
        .args(["plan", "--detailed-exitcode", "--config"])
        .arg(config)
        .arg("--snapshot")
        .arg(example().join("tenant.json"))
        .output()
        .expect("runs")
}

fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("listed") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("below root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[test]
fn issue18_init_writes_a_repository_that_validates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    let out = init(&repo, &["--tenant", "contoso.onmicrosoft.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        files_below(&repo),
        [
            ".gitignore",
            "CODEOWNERS",
            "licenses/licensectl.schema.json",
            "licenses/licensectl.yaml",
            "licenses/principals.yaml",
        ]
    );
    let settings = read(repo.join("licenses/licensectl.yaml"));
    assert!(settings.starts_with("# yaml-language-server: $schema=licensectl.schema.json\n"));
    assert!(
        settings.contains("\ntenant: contoso.onmicrosoft.com\n"),
        "{settings}"
    );
    assert!(
        settings.contains("\nsafety:\n  # "),
        "commented safety defaults: {settings}"
    );
    let principals = read(repo.join("licenses/principals.yaml"));
    assert!(
        principals.contains("#  alice@contoso.onmicrosoft.com:"),
        "{principals}"
    );
    assert_eq!(
        read(repo.join("licenses/licensectl.schema.json")),
        read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/licensectl.schema.json")),
        "the schema the modelines point at"
    );
    assert!(read(repo.join(".gitignore")).contains("/licenses/.licensectl/\n"));

    let valid = validate(&repo.join("licenses"));
    assert_eq!(valid.status.code(), Some(0), "{}", show(&valid));
    // It declares nobody: a plan against the tenant is empty.
    let planned = plan_against_contoso(&repo.join("licenses"));
    assert_eq!(planned.status.code(), Some(0), "{}", show(&planned));
    let said = text(&out.stderr);
    assert!(
        said.contains("licensectl validate --config"),
        "next steps: {said}"
    );
}

#[test]
fn issue18_init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    assert_eq!(
        init(repo, &["--tenant", "contoso.onmicrosoft.com"])
            .status
            .code(),
        Some(0)
    );
    let settings = repo.join("licenses/licensectl.yaml");
    std::fs::write(&settings, "version: 1\n# mine\n").expect("edited");

    let again = init(repo, &["--tenant", "contoso.onmicrosoft.com"]);
    assert_eq!(again.status.code(), Some(1), "{}", show(&again));
    let said = text(&again.stderr);
    assert!(
        said.contains("error: refusing to overwrite")
            && said.contains(&settings.display().to_string())
            && said.contains("pass --force"),
        "{said}"
    );
    assert_eq!(read(&settings), "version: 1\n# mine\n", "left as it was");

    let forced = init(repo, &["--tenant", "contoso.onmicrosoft.com", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", show(&forced));
    assert!(read(&settings).contains("tenant: contoso.onmicrosoft.com"));
    // .gitignore and CODEOWNERS are added to, once, never replaced.
    let ignore = read(repo.join(".gitignore"));
    assert_eq!(
        ignore.matches("/licenses/.licensectl/").count(),
        1,
        "{ignore}"
    );
}

#[test]
fn issue18_init_adds_to_an_existing_gitignore_and_refuses_foreign_config_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    std::fs::write(repo.join(".gitignore"), "/target\n").expect("written");
    std::fs::create_dir_all(repo.join("licenses")).expect("mkdir");
    std::fs::write(repo.join("licenses/old.yaml"), "users: {}\n").expect("written");
    let out = init(repo, &["--tenant", "contoso.onmicrosoft.com"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr)
            .contains("already holds config files that would be read with the new ones"),
        "{}",
        show(&out)
    );
    assert!(
        !repo.join("licenses/licensectl.yaml").exists(),
        "nothing written"
    );
    std::fs::remove_file(repo.join("licenses/old.yaml")).expect("removed");
    let out = init(repo, &["--tenant", "contoso.onmicrosoft.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let ignore = read(repo.join(".gitignore"));
    assert!(ignore.starts_with("/target\n\n# licensectl:"), "{ignore}");
}

#[test]
fn issue18_init_needs_a_tenant_and_a_plain_config_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &str); 4] = [
        (&[], "init needs the tenant to pin"),
        (&["--tenant", "contoso onmicrosoft"], "is neither a domain"),
        (
            &["--tenant", "x.com", "--config-dir", "../up"],
            "must be one directory name",
        ),
        (
            &["--tenant", "x.com", "--ci", "jenkins"],
            "invalid value 'jenkins'",
        ),
    ];
    for (args, message) in cases {
        let out = init(dir.path(), args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", show(&out));
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: {}",
            show(&out)
        );
    }
    assert!(files_below(dir.path()).is_empty(), "nothing written");
}

#[test]
fn issue18_init_from_a_snapshot_plans_empty() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = example().join("tenant.json");
    let snapshot_arg = snapshot.display().to_string();
    let out = init(dir.path(), &["--from-snapshot", &snapshot_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let config = dir.path().join("licenses");
    let files = files_below(&config);
    assert!(
        files.contains(&"groups.yaml".to_owned())
            && files.contains(&"users/contoso.com.yaml".to_owned()),
        "{files:?}"
    );
    // The pin is the snapshot's tenant, in init's own settings file.
    let settings = read(config.join("licensectl.yaml"));
    assert!(
        settings.contains("\ntenant: contoso.onmicrosoft.com\n"),
        "{settings}"
    );
    assert!(settings.contains("max_removals: 25"), "{settings}");
    assert_eq!(validate(&config).status.code(), Some(0));
    let planned = plan_against_contoso(&config);
    assert_eq!(planned.status.code(), Some(0), "{}", show(&planned));
    assert!(text(&planned.stdout).contains("Plan: 0 to add, 0 to change, 0 to remove."));

    // A --tenant that is not the snapshot's is refused, and nothing is written.
    let other = tempfile::tempdir().expect("temp dir");
    let out = init(
        other.path(),
        &[
            "--from-snapshot",
            &snapshot_arg,
            "--tenant",
            "fabrikam.onmicrosoft.com",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("--tenant fabrikam.onmicrosoft.com does not match snapshot"),
        "{}",
        show(&out)
    );
    assert!(files_below(other.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue18_init_from_the_live_tenant_reads_it_through_export() {
    let tenant = Emulated::serve(contoso(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    let repo_arg = repo.display().to_string();
    // A connection flag on the command line means: read the live tenant.
    let mut cmd = tenant.command(&["init", &repo_arg, "--max-attempts", "3"]);
    cmd.env_remove("LICENSECTL_GRAPH_URL")
        .args(["--graph-url", &tenant.running.url]);
    let out = crate::util::output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let config = repo.join("licenses");
    assert!(config.join("users/contoso.com.yaml").is_file());
    let planned = plan_against_contoso(&config);
    assert_eq!(planned.status.code(), Some(0), "{}", show(&planned));
    // The live plan agrees.
    let config_arg = config.display().to_string();
    let live = tenant
        .run(&["plan", "--config", &config_arg, "--detailed-exitcode"])
        .await;
    assert_eq!(live.status.code(), Some(0), "{}", show(&live));
}

/// actionlint as `.ci/actionlint` installs it (target/ci-tools), or from PATH.
fn actionlint() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-tools/bin/actionlint");
    if venv.is_file() {
        return Some(venv);
    }
    let found = Command::new("actionlint").arg("--version").output();
    found
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("actionlint"))
}

/// `licensectl init` of `repo` for contoso with the config in `m365/` and the CI files of
/// `ci`; it must succeed.
fn init_m365(repo: &Path, ci: &str) {
    let args = [
        "--tenant",
        "contoso.onmicrosoft.com",
        "--ci",
        ci,
        "--config-dir",
        "m365",
    ];
    let out = init(repo, &args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn issue18_init_github_workflows_pass_actionlint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    init_m365(repo, "github");
    let workflows = repo.join(".github/workflows");
    let names = files_below(&workflows);
    assert_eq!(
        names,
        ["license-apply.yml", "license-drift.yml", "license-plan.yml"]
    );
    for name in &names {
        let text = read(workflows.join(name));
        assert!(text.contains("config: m365\n"), "{name} points at m365/");
        assert!(!text.contains("config: licenses"), "{name}");
    }
    assert!(read(workflows.join("license-plan.yml")).contains("- \"m365/**\""));
    assert!(read(workflows.join("license-apply.yml")).contains("name: licensectl-plan-m365\n"));
    assert!(read(repo.join(".github/CODEOWNERS")).contains("# /m365/"));
    assert_eq!(validate(&repo.join("m365")).status.code(), Some(0));

    let Some(actionlint) = actionlint() else {
        crate::util::skipped(
            "actionlint is not installed (run .ci/actionlint, which installs it into target/ci-tools); the generated workflows are not linted",
        );
        return;
    };
    // As .ci/actionlint lints the examples: the action from this checkout, so that the
    // workflows' inputs are checked against action.yml.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("action.yml"), repo.join("action.yml")).expect("action.yml");
    crate::util::copy_dir(&root.join("action"), &repo.join("action"));
    for name in &names {
        let path = workflows.join(name);
        let local = read(&path).replace("uses: licensectl/licensectl@v1", "uses: ./");
        std::fs::write(&path, local).expect("written");
    }
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(repo)
        .status()
        .expect("git runs");
    assert!(git.success());
    let mut lint = Command::new(&actionlint);
    if let Some(bin) = actionlint.parent().filter(|p| !p.as_os_str().is_empty()) {
        // shellcheck sits beside it in the virtualenv: actionlint runs it on `run:` steps.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        lint.env("PATH", std::env::join_paths(paths).expect("PATH"));
    }
    let out = lint.current_dir(repo).output().expect("actionlint runs");
    assert!(out.status.success(), "actionlint: {}", show(&out));
}

#[test]
fn issue18_init_azure_pipelines_parse_and_point_at_the_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    init_m365(repo, "azure-devops");
    let pipelines = repo.join(".azure-pipelines");
    let names = files_below(&pipelines);
    assert_eq!(
        names,
        [
            "install-licensectl.yml",
            "license-apply.yml",
            "license-pr.yml"
        ]
    );
    for name in &names {
        let text = read(pipelines.join(name));
        let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str(&text);
        assert!(parsed.is_ok(), "{name} is YAML: {parsed:?}");
        assert!(!text.contains("--config licenses"), "{name}");
    }
    assert!(read(pipelines.join("license-pr.yml")).contains("licensectl plan --config m365 "));
    assert!(read(pipelines.join("license-apply.yml")).contains("include: [m365]"));
    assert!(files_below(repo).contains(&"CODEOWNERS".to_owned()));
}
