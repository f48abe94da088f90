//! Reading tenant snapshots from the CLI (`plan --snapshot`, `drift`, `export`, and the
//! `snapshot` command's live read): what Graph cannot send is refused with every problem
//! named, non-regular and oversized files are refused before they are read, and values
//! this licensectl does not know are warnings, never failures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use graph_emulator::EmulatorOptions;
use licensectl::snapshot::{AssignmentStateKind, CapabilityStatus, TenantSnapshot};
use serde_json::Value;

use crate::util::{Emulated, contoso, example, licensectl, output, show, text};

fn contoso_json() -> Value {
    let text = std::fs::read_to_string(example().join("tenant.json")).expect("example");
    serde_json::from_str(&text).expect("json")
}

fn write_json(dir: &Path, value: &Value) -> PathBuf {
    let path = dir.join("tenant.json");
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("json")).expect("write");
    path
}

/// `licensectl plan --config examples/contoso --snapshot FILE` with `env`.
fn plan(snapshot: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = licensectl();
    cmd.args(["plan", "--config"])
        .arg(example())
        .arg("--snapshot")
        .arg(snapshot);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("runs")
}

#[test]
fn plan_refuses_a_snapshot_with_duplicates_and_names_every_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tenant = contoso_json();
    let users = tenant["users"].as_array_mut().expect("users");
    let alice = users[0].clone();
    let mut bob_again = users[1].clone();
    bob_again["id"] = "00000000-0000-4000-8000-000000000001".into();
    bob_again["userPrincipalName"] = "BOB@contoso.com".into();
    users.push(alice);
    users.push(bob_again);
    let groups = tenant["groups"].as_array_mut().expect("groups");
    let group = groups[0].clone();
    groups.push(group);
    let skus = tenant["subscribedSkus"].as_array_mut().expect("skus");
    let sku = skus[0].clone();
    skus.push(sku);
    let path = write_json(dir.path(), &tenant);
    let out = plan(&path, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(text(&out.stdout), "", "nothing planned");
    for named in [
        "duplicate user id: 651080ba-71fb-5b9f-a1c0-924f2e50ba4c (2 times)",
        "2 duplicate userPrincipalNames (compared ignoring case): alice@contoso.com (2 times), bob@contoso.com (2 times)",
        "duplicate group id: ",
        "duplicate SKU id: 05e9a617-0261-4cee-bb44-138d3ef5d965 (2 times)",
    ] {
        assert!(stderr.contains(named), "{stderr}\n  lacks: {named}");
    }
}

#[test]
fn plan_refuses_impossible_counts_in_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tenant = contoso_json();
    tenant["subscribedSkus"][0]["prepaidUnits"]["enabled"] = i64::MIN.into();
    tenant["subscribedSkus"][1]["consumedUnits"] = (-3).into();
    let path = write_json(dir.path(), &tenant);
    let out = plan(&path, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr.contains("impossible counts")
            && stderr.contains("prepaidUnits.enabled -9223372036854775808")
            && stderr.contains("consumedUnits -3"),
        "{stderr}"
    );
}

#[test]
fn a_snapshot_that_is_not_a_regular_file_is_refused_at_once() {
    let started = Instant::now();
    let out = plan(Path::new("/dev/zero"), &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "read /dev/zero"
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("cannot read snapshot /dev/zero: it is not a regular file"),
        "{}",
        show(&out)
    );
}

#[test]
fn the_snapshot_size_limit_is_checked_before_reading_and_can_be_changed() {
    let path = example().join("tenant.json");
    let out = plan(&path, &[("LICENSECTL_MAX_SNAPSHOT_BYTES", "1KiB")]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("more than the 1024 a snapshot may hold; raise the limit with LICENSECTL_MAX_SNAPSHOT_BYTES"),
        "{}",
        show(&out)
    );
    let out = plan(&path, &[("LICENSECTL_MAX_SNAPSHOT_BYTES", "64MiB")]);
    assert_ne!(out.status.code(), Some(1), "{}", show(&out));
}

#[test]
fn a_snapshot_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tenant.json");
    let bytes = std::fs::read(example().join("tenant.json")).expect("example");
    std::fs::write(&path, [b"\xEF\xBB\xBF".as_slice(), &bytes].concat()).expect("write");
    let with_bom = plan(&path, &[]);
    let without = plan(&example().join("tenant.json"), &[]);
    assert_eq!(
        with_bom.status.code(),
        without.status.code(),
        "{}",
        show(&with_bom)
    );
    assert_eq!(text(&with_bom.stdout), text(&without.stdout));
}

/// The example tenant with values Graph may add later: a `state` on two users and a
/// `capabilityStatus` on one SKU.
fn tenant_with_unknown_values() -> TenantSnapshot {
    let mut tenant = contoso();
    for user in tenant.users.iter_mut().take(2) {
        if let Some(state) = user.license_assignment_states.first_mut() {
            state.state = AssignmentStateKind::Unknown("ActiveWithWarnings".into());
        }
    }
    tenant.subscribed_skus[0].capability_status =
        CapabilityStatus::Unknown("PendingRenewal".into());
    tenant
}

const WARNINGS: [&str; 2] = [
    "warning: capabilityStatus 'PendingRenewal' is a value this licensectl does not know (1 object, e.g. ",
    "warning: licenseAssignmentStates.state 'ActiveWithWarnings' is a value this licensectl does not know (2 objects, e.g. alice@contoso.com); it is kept as Graph sent it",
];

fn assert_warned_once_each(stderr: &str) {
    for warning in WARNINGS {
        assert_eq!(
            stderr.matches(warning).count(),
            1,
            "{stderr}\n  lacks once: {warning}"
        );
    }
}

#[test]
fn unknown_string_values_in_a_snapshot_are_warnings_never_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tenant.json");
    tenant_with_unknown_values().write(&path).expect("write");
    let known = plan(&example().join("tenant.json"), &[]);
    let out = plan(&path, &[]);
    assert_eq!(out.status.code(), known.status.code(), "{}", show(&out));
    assert_warned_once_each(&text(&out.stderr));
    let drift = licensectl()
        .args(["drift", "--config"])
        .arg(example())
        .arg("--snapshot")
        .arg(&path)
        .output()
        .expect("runs");
    assert!(
        matches!(drift.status.code(), Some(0 | 2)),
        "{}",
        show(&drift)
    );
    assert_warned_once_each(&text(&drift.stderr));
    let export = licensectl()
        .args(["export", "--snapshot"])
        .arg(&path)
        .arg("--output")
        .arg(dir.path().join("exported"))
        .output()
        .expect("runs");
    assert_warned_once_each(&text(&export.stderr));
}

#[tokio::test]
async fn unknown_string_values_read_live_are_warnings_never_failures() {
    let emulated = Emulated::serve(tenant_with_unknown_values(), EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("snap.json");
    let out = output(emulated.command(&[
        "snapshot",
        "--full",
        "-o",
        out_file.to_str().expect("utf-8"),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_warned_once_each(&text(&out.stderr));
    let read = TenantSnapshot::read(&out_file).expect("written");
    assert_eq!(read.unknown_values().len(), 2, "kept as Graph sent them");
}
