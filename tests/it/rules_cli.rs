//! `licensectl explain` and the plan-time problems of rules through the CLI (issue 14):
//! exact output on stdout, what goes to stderr, and the exit codes.

use std::process::Output;

use crate::util::{config_with, example, licensectl, text};

fn explain(config: &str, user: &str, extra: &[&str]) -> Output {
    licensectl()
        .args(["explain", "--config", config, "--snapshot"])
        .arg(example().join("tenant.json"))
        .args(["--user", user])
        .args(extra)
        .output()
        .expect("runs")
}

const YARA: &str = "\
user yara@contoso.com  (7d3b9a52-1c4e-5f08-9b6a-2e8f4c1d7a93)
  governed by the rules: its direct licenses of rule-governed SKUs are what rule synced-staff gives

rules_scope: in scope
  ✓ account_enabled is true (is true)
  ✓ user_type is Member (is 'Member')

Rules:
  + synced-staff: matches; gives SPE_E3
      ✓ company_name is Contoso (is 'Contoso')
      ✓ on_premises_sync_enabled is true (is true)
      ✓ not excluded by employee_type is Contractor or Intern (is 'Employee')

Groups: no group licenses this user

Holds now: no license
After the plan:
  SPE_E3  direct (rule synced-staff)

The plan:
  ~ usageLocation: (unset) -> DE  (set before assigning; rule synced-staff, from country 'Deutschland')
  + SPE_E3  05e9a617-0261-4cee-bb44-138d3ef5d965  (rule synced-staff)
";

#[test]
fn explain_shows_why_a_newly_synced_user_is_licensed() {
    let config = example().display().to_string();
    // The UPN compares ignoring case.
    let out = explain(&config, "Yara@Contoso.com", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), YARA);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn explain_names_the_failing_condition_and_the_covering_group() {
    let config = "examples/contoso".to_owned();
    let olga = explain(&config, "olga@contoso.com", &[]);
    assert_eq!(olga.status.code(), Some(0));
    let stdout = text(&olga.stdout);
    for line in [
        "  governed by the rules, and matches none: it holds no rule-governed SKU directly\n",
        "  - synced-staff: does not match; gives SPE_E3\n",
        "      ✗ company_name is Contoso (is 'Contoso Retail')\n",
        "  Frontline Workers gives DESKLESSPACK (Active)\n",
        "The plan does not change this user.\n",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    let ivan = text(&explain(&config, "ivan@contoso.com", &[]).stdout);
    assert!(
        ivan.contains(
            "      = covered: SPE_E3 through group SG-License-M365-E3 (not assigned directly)\n"
        ),
        "{ivan}"
    );
    let alice = text(&explain(&config, "alice@contoso.com", &[]).stdout);
    assert!(
        alice.contains("  declared under users: at examples/contoso/licenses/sales.yaml:5:3: that entry alone governs its direct licenses; rules never touch it\n")
            && alice.contains("  + synced-staff: would match, but does not govern this user; gives SPE_E3\n"),
        "{alice}"
    );
    let victor = text(&explain(&config, "victor@contoso.com", &[]).stdout);
    assert!(
        victor.contains("rules_scope: outside\n  ✗ account_enabled is true (is false)\n"),
        "{victor}"
    );
}

#[test]
fn explain_as_json_is_the_explanation() {
    let config = example().display().to_string();
    let out = explain(&config, "yara@contoso.com", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["governed"], true);
    assert_eq!(json["rules"][0]["name"], "synced-staff");
    assert_eq!(json["rules"][0]["matches"], true);
    assert_eq!(json["after"][0]["because"], "rule synced-staff");
    assert_eq!(
        json["change"]["rules"]["usage_location"]["country"],
        "Deutschland"
    );
}

#[test]
fn explain_of_an_unknown_user_exits_1_with_a_suggestion() {
    let config = example().display().to_string();
    let out = explain(&config, "yarra@contoso.com", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "error: user yarra@contoso.com does not exist in the tenant (did you mean yara@contoso.com?)\n"
    );
}

#[test]
fn explain_with_an_invalid_config_exits_78_with_its_diagnostics() {
    let out = explain(
        "tests/fixtures/invalid/duplicate-rule",
        "yara@contoso.com",
        &[],
    );
    assert_eq!(out.status.code(), Some(78));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[duplicate-rule]: rule 'Sales-Power-BI' is declared twice")
            && stderr.ends_with("error: 1 error in 1 file; the configuration is invalid\n"),
        "{stderr}"
    );
}

#[test]
fn explain_needs_a_user() {
    let out = licensectl()
        .args(["explain", "--config", "examples/contoso"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("--user <UPN>"),
        "{}",
        text(&out.stderr)
    );
}

/// A rule naming a SKU or a group the tenant does not have stops the plan (exit 1), with
/// a suggestion at the rule's place; nothing of any rule is planned then.
#[test]
fn rule_names_that_do_not_resolve_fail_the_plan_with_suggestions() {
    let out = plan_example_with(
        "licenses/broken.yaml",
        "rules:\n  - name: pbi\n    match: { member_of: Marketting }\n    licenses: [ { sku: POWER_BI_PRP } ]\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains("(rule synced-staff)"),
        "no rule plans while a rule is broken: {stdout}"
    );
    for expected in [
        "licenses/broken.yaml:3:25: error[unknown-group]: rule 'pbi': member_of names group Marketting, which does not exist in the tenant (help: did you mean Marketing?)",
        "licenses/broken.yaml:4:24: error[unknown-sku]: SKU POWER_BI_PRP (for rule 'pbi') is not a subscription of this tenant (help: did you mean POWER_BI_PRO?)",
    ] {
        assert!(stdout.contains(expected), "{expected}: {stdout}");
    }
    assert!(
        text(&out.stderr).ends_with("error: the plan has 2 error(s); nothing was saved\n"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_rule_that_matches_nobody_is_a_warning_at_its_name() {
    let out = plan_example_with(
        "licenses/typo.yaml",
        "rules:\n  - name: sales\n    match: { department: Slaes }\n    licenses: [ { sku: POWER_BI_PRO } ]\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("licenses/typo.yaml:2:11: warning[rule-matches-nobody]: rule sales matches no user the rules govern (25 in rules_scope, 17 of them not declared under users:)"),
        "{stdout}"
    );
}

/// `licensectl plan` of the example config with one more file, `path` holding `yaml`,
/// against the example tenant.
fn plan_example_with(path: &str, yaml: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[(path, yaml)]);
    licensectl()
        .args(["plan", "--config"])
        .arg(&config)
        .arg("--snapshot")
        .arg(example().join("tenant.json"))
        .output()
        .expect("runs")
}

/// `plan --snapshot` reads only the users' license fields when no config file mentions
/// `rules`; a rules key no file spells out (YAML's `"\x72ules"`) still gets the directory
/// attributes: the snapshot is read again whole, and the plan is the example's own.
#[test]
fn a_rules_key_no_file_spells_out_still_plans_with_the_directory_attributes() {
    let original = std::fs::read_to_string(example().join("licenses/rules.yaml")).expect("rules");
    assert!(original.contains("\nrules:\n"), "the example's rules key");
    let disguised = original
        .replace("\nrules:\n", "\n\"\\x72ules\":\n")
        .replace("rules", "r-ules")
        .replace("Rules", "R-ules");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[("licenses/rules.yaml", &disguised)]);
    for dir in [config.clone(), config.join("licenses")] {
        for entry in std::fs::read_dir(&dir).expect("config dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).expect("config file");
                assert!(!text.contains("rules"), "{} mentions rules", path.display());
            }
        }
    }
    let plan = |config: &std::path::Path| {
        licensectl()
            .args(["plan", "--format", "json", "--config"])
            .arg(config)
            .arg("--snapshot")
            .arg(example().join("tenant.json"))
            .output()
            .expect("runs")
    };
    let (expected, got) = (plan(&example()), plan(&config));
    assert_eq!(
        expected.status.code(),
        got.status.code(),
        "{}",
        text(&got.stderr)
    );
    let stdout = text(&got.stdout);
    assert!(stdout.contains("\"rule\": \"synced-staff\""), "{stdout}");
    assert_eq!(text(&expected.stdout), stdout);
}
