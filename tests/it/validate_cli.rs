//! CLI tests for `licensectl validate` and `licensectl schema`: one broken config per
//! diagnostic code, the bundled examples, output formats, exit codes and schema drift.

use std::path::Path;

use licensectl::diagnostic::{DiagnosticCode as Code, Stage};

use crate::util::{example, licensectl};

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Output {
    let output = licensectl().args(args).output().expect("runs");
    Output {
        code: output.status.code().expect("exit code"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// (fixture directory, config path passed to --config relative to it, code, expected
/// location `file:line:column` relative to the fixture directory, if any).
/// A `file:line:column` relative to the fixture directory.
type At = (&'static str, usize, usize);

const INVALID: &[(&str, &str, &str, Option<At>)] = &[
    (
        "config-unreadable",
        "licensectl.yaml",
        Code::ConfigUnreadable.as_str(),
        None,
    ),
    (
        "not-a-regular-file",
        "",
        Code::NotARegularFile.as_str(),
        Some(("licenses/team.yaml", 1, 1)),
    ),
    ("no-config-files", "", Code::NoConfigFiles.as_str(), None),
    ("missing-settings", "", Code::MissingSettings.as_str(), None),
    (
        "invalid-encoding",
        "",
        Code::InvalidEncoding.as_str(),
        Some(("licenses/team.yaml", 3, 21)),
    ),
    (
        "yaml-syntax",
        "",
        Code::YamlSyntax.as_str(),
        Some(("licenses/team.yaml", 4, 15)),
    ),
    (
        "yaml-limit",
        "",
        Code::YamlLimit.as_str(),
        Some(("licenses/bomb.yaml", 6, 8)),
    ),
    (
        "duplicate-key",
        "",
        Code::DuplicateKey.as_str(),
        Some(("licenses/team.yaml", 6, 3)),
    ),
    (
        "unknown-field",
        "",
        Code::UnknownField.as_str(),
        Some(("licenses/team.yaml", 4, 5)),
    ),
    (
        "invalid-type",
        "",
        Code::InvalidType.as_str(),
        Some(("licenses/team.yaml", 3, 15)),
    ),
    (
        "invalid-value",
        "",
        Code::InvalidValue.as_str(),
        Some(("licensectl.yaml", 3, 17)),
    ),
    (
        "missing-version",
        "",
        Code::MissingVersion.as_str(),
        Some(("licensectl.yaml", 1, 1)),
    ),
    (
        "unsupported-version",
        "",
        Code::UnsupportedVersion.as_str(),
        Some(("licensectl.yaml", 1, 10)),
    ),
    (
        "settings-outside-root",
        "",
        Code::SettingsOutsideRoot.as_str(),
        Some(("licenses/team.yaml", 2, 3)),
    ),
    (
        "duplicate-principal",
        "",
        Code::DuplicatePrincipal.as_str(),
        Some(("licenses/support.yaml", 4, 3)),
    ),
    (
        "invalid-upn",
        "",
        Code::InvalidUpn.as_str(),
        Some(("licenses/team.yaml", 2, 3)),
    ),
    (
        "invalid-guid",
        "",
        Code::InvalidGuid.as_str(),
        Some(("licenses/team.yaml", 5, 14)),
    ),
    (
        "invalid-usage-location",
        "",
        Code::InvalidUsageLocation.as_str(),
        Some(("licenses/team.yaml", 3, 21)),
    ),
    (
        "plans-both-enabled-and-disabled",
        "",
        Code::PlansBothEnabledAndDisabled.as_str(),
        Some(("licenses/team.yaml", 5, 9)),
    ),
    (
        "unknown-profile",
        "",
        Code::UnknownProfile.as_str(),
        Some(("licenses/team.yaml", 3, 14)),
    ),
    (
        "duplicate-rule",
        "",
        Code::DuplicateRule.as_str(),
        Some(("licenses/rules.yaml", 5, 11)),
    ),
    (
        "rule-grants-nothing",
        "",
        Code::RuleGrantsNothing.as_str(),
        Some(("licenses/rules.yaml", 2, 11)),
    ),
    (
        "invalid-condition",
        "",
        Code::InvalidCondition.as_str(),
        Some(("licenses/rules.yaml", 4, 19)),
    ),
    (
        "duplicate-sku",
        "",
        Code::DuplicateSku.as_str(),
        Some(("licenses/team.yaml", 6, 14)),
    ),
    (
        "duplicate-plan",
        "",
        Code::DuplicatePlan.as_str(),
        Some(("licenses/team.yaml", 8, 13)),
    ),
    (
        "control-character",
        "",
        Code::ControlCharacter.as_str(),
        Some(("licenses/team.yaml", 2, 3)),
    ),
    (
        "empty-name",
        "",
        Code::EmptyName.as_str(),
        Some(("licenses/team.yaml", 5, 14)),
    ),
    (
        "invalid-safety",
        "",
        Code::InvalidSafety.as_str(),
        Some(("licensectl.yaml", 8, 23)),
    ),
    (
        "invalid-tenant",
        "",
        Code::InvalidTenant.as_str(),
        Some(("licensectl.yaml", 2, 9)),
    ),
];

const WARNING: &[(&str, &str, At)] = &[
    (
        "protected-unknown",
        Code::ProtectedUnknown.as_str(),
        ("licensectl.yaml", 7, 12),
    ),
    (
        "manages-nothing",
        Code::ManagesNothing.as_str(),
        ("licenses/team.yaml", 4, 3),
    ),
    (
        "unused-profile",
        Code::UnusedProfile.as_str(),
        ("licensectl.yaml", 6, 3),
    ),
    (
        "migration-without-groups",
        Code::MigrationWithoutGroups.as_str(),
        ("licensectl.yaml", 4, 3),
    ),
];

fn config_arg(dir: &str, sub: &str) -> String {
    if sub.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{sub}")
    }
}

/// Every config code has a broken config under `tests/fixtures/` that the tests below run;
/// plan and export codes are produced by the unit tests of `src/plan/` and `src/export/`.
#[test]
fn every_code_has_a_fixture() {
    for code in Code::of_stage(Stage::Config) {
        let code = code.as_str();
        let covered = INVALID.iter().any(|c| c.2 == code) || WARNING.iter().any(|c| c.1 == code);
        assert!(covered, "no fixture for {code}");
        let kind = if INVALID.iter().any(|c| c.2 == code) {
            "invalid"
        } else {
            "warning"
        };
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("tests/fixtures/{kind}/{code}"))
                .is_dir(),
            "missing tests/fixtures/{kind}/{code}"
        );
    }
}

/// The URL fragments GitHub gives the headings of a Markdown text (outside code blocks):
/// lowercase, spaces as hyphens, punctuation other than `-` and `_` dropped.
fn heading_anchors(markdown: &str) -> Vec<String> {
    let mut anchors = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && let Some(title) = line.strip_prefix('#') {
            let title = title.trim_start_matches('#').trim();
            anchors.push(
                title
                    .to_lowercase()
                    .chars()
                    .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                    .map(|c| if c == ' ' { '-' } else { c })
                    .collect(),
            );
        }
    }
    anchors
}

#[test]
fn every_code_is_documented() {
    let mut pages = std::collections::HashMap::new();
    for code in Code::ALL {
        if code.stages().contains(&Stage::Config) {
            assert_eq!(code.docs_page(), "docs/config.md", "{code}");
        }
        let page = code.docs_page();
        let anchors = pages.entry(page).or_insert_with(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
            let docs = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{page}: {e}"));
            heading_anchors(&docs)
        });
        assert!(
            anchors.iter().any(|a| a == code.docs_anchor()),
            "{page} lacks a section for {code} (#{})",
            code.docs_anchor()
        );
    }
}

#[test]
fn invalid_fixtures_exit_78_with_code_and_location() {
    for (name, sub, code, location) in INVALID {
        let dir = format!("tests/fixtures/invalid/{name}");
        let config = config_arg(&dir, sub);

        let human = run(&["validate", "--config", &config]);
        assert_eq!(human.code, 78, "{name}: {}", human.stderr);
        assert_eq!(human.stdout, "", "{name}: human output goes to stderr");
        assert!(
            human.stderr.contains(&format!("error[{code}]")),
            "{name}: {}",
            human.stderr
        );
        assert!(
            human.stderr.contains("; the configuration is invalid\n"),
            "{name}: {}",
            human.stderr
        );

        let github = run(&["validate", "--config", &config, "--format", "github"]);
        assert_eq!(github.code, 78, "{name}");
        assert_eq!(github.stderr, "", "{name}");
        let title = format!("title=licensectl {code}::");
        let line = github
            .stdout
            .lines()
            .find(|l| l.starts_with("::error ") && l.contains(&title))
            .unwrap_or_else(|| panic!("{name}: no {code} annotation in {}", github.stdout));

        let json = run(&["validate", "--config", &config, "--format", "json"]);
        assert_eq!(json.code, 78, "{name}");
        let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("json output");
        assert_eq!(document["valid"], false, "{name}");
        let diagnostic = document["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .find(|d| d["code"] == *code)
            .unwrap_or_else(|| panic!("{name}: no {code} in {}", json.stdout));

        match location {
            Some((file, l, c)) => {
                let path = format!("{dir}/{file}");
                assert!(
                    line.contains(&format!("file={path},line={l},col={c},")),
                    "{name}: {line}"
                );
                assert!(
                    human.stderr.contains(&format!("{path}:{l}:{c}")),
                    "{name}: {}",
                    human.stderr
                );
                assert_eq!(diagnostic["file"], path.as_str(), "{name}");
                assert_eq!(diagnostic["line"], *l, "{name}");
                assert_eq!(diagnostic["column"], *c, "{name}");
            }
            None => {
                assert!(!line.contains("file="), "{name}: {line}");
                assert!(diagnostic["file"].is_null(), "{name}");
            }
        }
    }
}

#[test]
fn warning_fixtures_exit_0_and_report_the_warning() {
    for (name, code, (file, l, c)) in WARNING {
        let dir = format!("tests/fixtures/warning/{name}");
        let github = run(&["validate", "--config", &dir, "--format", "github"]);
        assert_eq!(github.code, 0, "{name}: {}", github.stdout);
        let expected =
            format!("::warning file={dir}/{file},line={l},col={c},title=licensectl {code}::");
        assert!(
            github.stdout.contains(&expected),
            "{name}: {}",
            github.stdout
        );
        let human = run(&["validate", "--config", &dir]);
        assert_eq!(human.code, 0, "{name}");
        assert!(
            human.stderr.contains(&format!("warning[{code}]")),
            "{name}: {}",
            human.stderr
        );
        assert!(
            human
                .stderr
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("ok: ") && l.ends_with(", 1 warning")),
            "{name}: {}",
            human.stderr
        );
    }
}

#[test]
fn contoso_example_is_valid() {
    let out = run(&["validate", "--config", "examples/contoso"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "ok: 6 files, 8 users, 3 groups, 1 rule\n");
}

#[test]
fn every_example_is_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let path = entry.expect("entry").path();
        // CI pipelines (docs/ci.md), not config directories.
        let ci = ["github-actions", "azure-pipelines"]
            .iter()
            .any(|name| path.file_name().is_some_and(|f| f == *name));
        if !path.is_dir() || ci {
            continue;
        }
        count += 1;
        let out = run(&[
            "validate",
            "--config",
            path.to_str().expect("utf-8 path"),
            "--format",
            "json",
        ]);
        assert_eq!(out.code, 0, "{}: {}", path.display(), out.stdout);
        let document: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(document["errors"], 0, "{}", path.display());
        assert_eq!(
            document["warnings"],
            0,
            "{}: {}",
            path.display(),
            out.stdout
        );
    }
    assert!(count >= 1);
}

#[test]
fn default_config_dir_is_the_current_directory() {
    let out = licensectl()
        .current_dir(example())
        .arg("validate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn human_output_snapshots() {
    for name in [
        "duplicate-principal",
        "duplicate-sku",
        "unknown-field",
        "yaml-syntax",
    ] {
        let out = run(&[
            "validate",
            "--config",
            &format!("tests/fixtures/invalid/{name}"),
        ]);
        insta::assert_snapshot!(format!("human-{name}"), out.stderr);
    }
}

#[test]
fn json_and_github_snapshots() {
    let dir = "tests/fixtures/invalid/duplicate-principal";
    insta::assert_snapshot!(
        "json-duplicate-principal",
        run(&["validate", "--config", dir, "--format", "json"]).stdout
    );
    insta::assert_snapshot!(
        "github-duplicate-principal",
        run(&["validate", "--config", dir, "--format", "github"]).stdout
    );
}

#[test]
fn many_problems_are_all_reported() {
    let out = run(&[
        "validate",
        "--config",
        "tests/fixtures/many-problems",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 78);
    insta::assert_snapshot!("json-many-problems", out.stdout);
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["validate", "--format", "xml"][..],
        &["validate", "--bogus"][..],
        &["no-such-command"][..],
        &[][..],
    ] {
        let out = run(args);
        assert_eq!(out.code, 64, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(run(&["--help"]).code, 0);
    assert_eq!(run(&["validate", "--help"]).code, 0);
    assert_eq!(run(&["--version"]).code, 0);
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/licensectl.schema.json"),
    )
    .expect("schemas/licensectl.schema.json");
    assert_eq!(
        committed,
        licensectl::config::schema::schema_json(),
        "schemas/licensectl.schema.json is stale: run `cargo run -- schema > schemas/licensectl.schema.json`"
    );
    let out = run(&["schema"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, committed);
    assert_eq!(out.stderr, "");
}

#[test]
fn examples_point_at_the_schema() {
    let examples = example();
    for file in ["licensectl.yaml", "licenses/sales.yaml"] {
        let text = std::fs::read_to_string(examples.join(file)).expect("example");
        let first = text.lines().next().expect("first line");
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{file} lacks the schema modeline"));
        let resolved = examples.join(file).parent().expect("dir").join(target);
        assert!(
            resolved.is_file(),
            "{file}: modeline target {} missing",
            resolved.display()
        );
    }
}
