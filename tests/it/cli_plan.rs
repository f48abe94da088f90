//! CLI tests of `licensectl plan` and `licensectl drift`: stdout, stderr and exit codes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;
use tempfile::TempDir;

use crate::util::{config_with, example, licensectl};

/// A copy of the contoso config with `from` replaced by `to` in `licensectl.yaml`.
fn contoso_copy(from: &str, to: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with(dir.path(), &[("licensectl.yaml", from, to)], &[]);
    (dir, config)
}

fn plan_cmd(config: &Path) -> Command {
    let mut cmd = licensectl();
    cmd.arg("plan")
        .arg("--config")
        .arg(config)
        .arg("--snapshot")
        .arg(example().join("tenant.json"));
    cmd
}

#[test]
fn the_contoso_plan_succeeds_and_prints_the_summary() {
    plan_cmd(&example())
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Plan: 4 to add, 4 to change, 3 to remove.",
        ))
        .stdout(predicate::str::contains(
            "+ SPE_E5  06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        ))
        .stderr(predicate::str::is_empty());
}

#[test]
fn detailed_exitcode_exits_2_on_changes() {
    plan_cmd(&example())
        .arg("--detailed-exitcode")
        .assert()
        .code(2);
}

#[test]
fn no_changes_exits_0_even_with_detailed_exitcode() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("licensectl.yaml"),
        "version: 1\ntenant: contoso.onmicrosoft.com\n",
    )
    .expect("write");
    fs::write(
        dir.path().join("dave.yaml"),
        "users:\n  dave@contoso.com:\n    licenses:\n      - sku: SPE_E3\n        disabled_plans: [YAMMER_ENTERPRISE]\n      - sku: VISIOCLIENT\n        disabled_plans: [VISIOONLINE]\n",
    )
    .expect("write");
    plan_cmd(dir.path())
        .arg("--detailed-exitcode")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

#[test]
fn formats_render_markdown_and_json() {
    plan_cmd(&example())
        .args(["--format", "markdown"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "### licensectl plan: `contoso.onmicrosoft.com",
        ));
    let output = plan_cmd(&example())
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["has_changes"], true);
    assert_eq!(json["changes"].as_array().map(Vec::len), Some(8));
}

#[test]
fn an_unsafe_plan_exits_3_and_names_the_numbers_and_the_flag() {
    let (_dir, config) = contoso_copy("max_removals: 10", "max_removals: 2");
    plan_cmd(&config)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "the plan removes 3 licenses, more than safety.max_removals (2)",
        ))
        .stderr(predicate::str::contains("--allow-unsafe"));
    plan_cmd(&config).arg("--allow-unsafe").assert().code(0);
}

#[test]
fn a_tenant_mismatch_is_an_error() {
    let (_dir, config) = contoso_copy(
        "tenant: contoso.onmicrosoft.com",
        "tenant: fabrikam.onmicrosoft.com",
    );
    // Refused before any plan output (issue 5: pin checked before output).
    plan_cmd(&config)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("refusing to continue"))
        .stderr(predicate::str::contains("licensectl.yaml:5:9"))
        .stderr(predicate::str::contains(
            "pinned to tenant fabrikam.onmicrosoft.com but the snapshot is of tenant contoso.onmicrosoft.com",
        ))
        .stderr(predicate::str::contains("[tenant-mismatch]"));
}

#[test]
fn a_missing_snapshot_is_an_error_naming_the_file() {
    licensectl()
        .args(["plan", "--config"])
        .arg(example())
        .args(["--snapshot", "no-such-tenant.json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-tenant.json"));
}

#[test]
fn an_invalid_config_exits_78() {
    let (_dir, config) = contoso_copy("version: 1\n", "version: 1\nunknown_setting: true\n");
    plan_cmd(&config)
        .assert()
        .code(78)
        .stdout(predicate::str::is_empty());
}

#[test]
fn out_saves_a_plan_for_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("plan.json");
    plan_cmd(&example())
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("Saved the plan to"));
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out).expect("saved")).expect("json");
    assert_eq!(saved["format"], "licensectl-saved-plan");
    assert_eq!(saved["tenant_id"], "48a80680-7326-48cd-9935-b556b81d3a4e");
    assert!(
        saved["config_digest"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(saved["changes"].as_array().map(Vec::len), Some(8));
}

#[test]
fn drift_exits_2_when_the_tenant_differs() {
    licensectl()
        .args(["drift", "--config"])
        .arg(example())
        .arg("--snapshot")
        .arg(example().join("tenant.json"))
        .assert()
        .code(2)
        .stdout(predicate::str::contains("licensectl drift report"))
        .stdout(predicate::str::contains("Drift: 8 principals differ"));
}
