//! The CLI prints an error as one line, `error: ` and the chain of causes joined by ": ",
//! each cause once.

use std::process::Command;

use crate::util::{example, licensectl};

fn stderr_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The operating system's text for a missing file.
fn not_found() -> String {
    std::fs::read("/nonexistent/licensectl-test")
        .expect_err("missing")
        .to_string()
}

#[test]
fn a_missing_snapshot_is_reported_once_with_its_cause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("tenant.json");
    let stderr = stderr_of(
        licensectl()
            .arg("plan")
            .arg("--config")
            .arg(example())
            .arg("--snapshot")
            .arg(&missing),
    );
    assert_eq!(
        stderr,
        format!(
            "error: cannot read snapshot {}: {}\n",
            missing.display(),
            not_found()
        )
    );
}

#[test]
fn a_missing_certificate_is_reported_once_with_its_cause() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("app.pem");
    let stderr = stderr_of(
        licensectl()
            .args(["snapshot", "--auth", "certificate"])
            .args(["--tenant-id", "contoso.onmicrosoft.com", "--client-id", "c"])
            .args(["--authority-host", "http://127.0.0.1:9"])
            .args(["--graph-url", "http://127.0.0.1:9"])
            .arg("--certificate")
            .arg(&missing)
            .arg("--output")
            .arg(dir.path().join("out.json"))
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
    );
    assert_eq!(
        stderr,
        format!(
            "error: cannot read certificate file {}: {}\n",
            missing.display(),
            not_found()
        )
    );
}
