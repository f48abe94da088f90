//! CLI tests for `licensectl validate` and `licensectl schema`: one broken config per
//! diagnostic code, the bundled examples, output formats, exit codes and schema drift.

use std::path::Path;

use licensectl::config::codes;

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
        codes::CONFIG_UNREADABLE,
        None,
    ),
    ("no-config-files", "", codes::NO_CONFIG_FILES, None),
    ("missing-settings", "", codes::MISSING_SETTINGS, None),
    (
        "invalid-encoding",
        "",
        codes::INVALID_ENCODING,
        Some(("licenses/team.yaml", 3, 21)),
    ),
    (
        "yaml-syntax",
        "",
        codes::YAML_SYNTAX,
        Some(("licenses/team.yaml", 4, 15)),
    ),
    (
        "yaml-limit",
        "",
        codes::YAML_LIMIT,
        Some(("licenses/bomb.yaml", 6, 8)),
    ),
    (
        "duplicate-key",
        "",
        codes::DUPLICATE_KEY,
        Some(("licenses/team.yaml", 6, 3)),
    ),
    (
        "unknown-field",
        "",
        codes::UNKNOWN_FIELD,
        Some(("licenses/team.yaml", 4, 5)),
    ),
    (
        "invalid-type",
        "",
        codes::INVALID_TYPE,
        Some(("licenses/team.yaml", 3, 15)),
    ),
    (
        "invalid-value",
        "",
        codes::INVALID_VALUE,
        Some(("licensectl.yaml", 3, 17)),
    ),
    (
        "missing-version",
        "",
        codes::MISSING_VERSION,
        Some(("licensectl.yaml", 1, 1)),
    ),
    (
        "unsupported-version",
        "",
        codes::UNSUPPORTED_VERSION,
        Some(("licensectl.yaml", 1, 10)),
    ),
    (
        "settings-outside-root",
        "",
        codes::SETTINGS_OUTSIDE_ROOT,
        Some(("licenses/team.yaml", 2, 3)),
    ),
    (
        "duplicate-principal",
        "",
        codes::DUPLICATE_PRINCIPAL,
        Some(("licenses/support.yaml", 4, 3)),
    ),
    (
        "invalid-upn",
        "",
        codes::INVALID_UPN,
        Some(("licenses/team.yaml", 2, 3)),
    ),
    (
        "invalid-guid",
        "",
        codes::INVALID_GUID,
        Some(("licenses/team.yaml", 5, 14)),
    ),
    (
        "invalid-usage-location",
        "",
        codes::INVALID_USAGE_LOCATION,
        Some(("licenses/team.yaml", 3, 21)),
    ),
    (
        "plans-both-enabled-and-disabled",
        "",
        codes::PLANS_BOTH,
        Some(("licenses/team.yaml", 5, 9)),
    ),
    (
        "unknown-profile",
        "",
        codes::UNKNOWN_PROFILE,
        Some(("licenses/team.yaml", 3, 14)),
    ),
    (
        "duplicate-sku",
        "",
        codes::DUPLICATE_SKU,
        Some(("licenses/team.yaml", 6, 14)),
    ),
    (
        "duplicate-plan",
        "",
        codes::DUPLICATE_PLAN,
        Some(("licenses/team.yaml", 8, 13)),
    ),
    (
        "empty-name",
        "",
        codes::EMPTY_NAME,
        Some(("licenses/team.yaml", 5, 14)),
    ),
    (
        "invalid-safety",
        "",
        codes::INVALID_SAFETY,
        Some(("licensectl.yaml", 8, 23)),
    ),
    (
        "invalid-tenant",
        "",
        codes::INVALID_TENANT,
        Some(("licensectl.yaml", 2, 9)),
    ),
];

const WARNING: &[(&str, &str, At)] = &[
    (
        "protected-unknown",
        codes::PROTECTED_UNKNOWN,
        ("licensectl.yaml", 7, 11),
    ),
    (
        "manages-nothing",
        codes::MANAGES_NOTHING,
        ("licenses/team.yaml", 4, 3),
    ),
    (
        "unused-profile",
        codes::UNUSED_PROFILE,
        ("licensectl.yaml", 6, 3),
    ),
];

fn config_arg(dir: &str, sub: &str) -> String {
    if sub.is_empty() {
        dir.to_owned()
    } else {
        format!("{dir}/{sub}")
    }
}

#[test]
fn every_code_has_a_fixture() {
    for (code, _, _) in codes::ALL {
        let covered = INVALID.iter().any(|c| c.2 == *code) || WARNING.iter().any(|c| c.1 == *code);
        assert!(covered, "no fixture for {code}");
        let kind = if INVALID.iter().any(|c| c.2 == *code) {
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

#[test]
fn every_code_is_documented() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md"))
            .expect("docs/config.md");
    for (code, _, _) in codes::ALL {
        assert!(
            docs.contains(&format!("### `{code}`")),
            "docs/config.md lacks a section for {code}"
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
    assert_eq!(out.stderr, "ok: 5 files, 8 users, 3 groups\n");
}

#[test]
fn every_example_is_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
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
