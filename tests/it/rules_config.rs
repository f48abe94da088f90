//! Rules in the config (issue 14): every rule error has a broken config under
//! `tests/fixtures/rules/` (and one per new code under `tests/fixtures/invalid/`), whose
//! diagnostics are checked exactly (file:line:col, code, message, help) against reviewed
//! snapshots; a valid rules config with a custom `rules_scope` validates.

use crate::util::{licensectl, text};

/// The broken rules configs, under `tests/fixtures/`.
const BROKEN: &[&str] = &[
    "rules/unknown-attribute",
    "rules/unknown-operator",
    "rules/operator-of-wrong-type",
    "rules/text-for-a-boolean",
    "rules/unknown-rule-key",
    "rules/missing-name-and-match",
    "rules/empty-conditions",
    "rules/unknown-profile",
    "rules/bad-usage-location",
    "rules/rules-scope-outside-root",
    "invalid/duplicate-rule",
    "invalid/rule-grants-nothing",
    "invalid/invalid-condition",
];

#[test]
fn every_rule_error_is_located_coded_and_helped_exactly() {
    for fixture in BROKEN {
        let dir = format!("tests/fixtures/{fixture}");
        let out = licensectl()
            .args(["validate", "--config", &dir])
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(78),
            "{fixture}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "", "{fixture}");
        insta::assert_snapshot!(fixture.replace('/', "-"), text(&out.stderr));
    }
}

#[test]
fn a_rules_config_with_a_custom_scope_is_valid_and_counts_its_rules() {
    let out = licensectl()
        .args([
            "validate",
            "--config",
            "tests/fixtures/rules/scope-and-rules-valid",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "ok: 2 files, 0 users, 0 groups, 1 rule\n"
    );
}

/// The rules example of docs/config.md is `tests/fixtures/rules/documented/`, file for
/// file (each YAML block follows a `<!-- file: PATH -->` line), so the validate run of the
/// docs' console example checks what the docs show.
#[test]
fn the_documented_rules_example_is_the_validated_fixture() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/config.md")).expect("docs/config.md");
    let mut found = 0;
    let mut lines = docs.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next(),
            Some("```yaml"),
            "{path}: a yaml block follows"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let file = root.join("tests/fixtures/rules/documented").join(path);
        let on_disk = std::fs::read_to_string(&file).expect("fixture file");
        assert_eq!(format!("{}\n", block.join("\n")), on_disk, "{path}");
        found += 1;
    }
    assert_eq!(found, 2, "both files of the example are shown");
}
