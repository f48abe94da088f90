//! The `licensectl emulator` commands end to end.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use assert_cmd::assert::OutputAssertExt;
use licensectl::snapshot::TenantSnapshot;

use crate::util::licensectl;

#[test]
fn generate_writes_a_deterministic_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    for out in [&a, &b] {
        licensectl()
            .args([
                "emulator",
                "generate",
                "--users",
                "300",
                "--groups",
                "4",
                "--seed",
                "7",
                "--skus",
                "ENTERPRISEPACK,SPE_E5,POWER_BI_PRO",
                "-o",
            ])
            .arg(out)
            .assert()
            .success()
            .stdout("")
            .stderr(predicates::str::contains("300 users, 4 groups, 3 SKUs"));
    }
    assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    let snap = TenantSnapshot::read(&a).expect("valid snapshot");
    assert_eq!(snap.users.len(), 300);
    licensectl()
        .args(["emulator", "generate", "--users", "1", "--skus", "E9", "-o"])
        .arg(dir.path().join("c.json"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("unknown SKU 'E9'"));
}

#[test]
fn serve_prints_its_url_first_and_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("t.json");
    licensectl()
        .args([
            "emulator", "generate", "--users", "20", "--groups", "2", "-o",
        ])
        .arg(&file)
        .assert()
        .success();
    let mut child = licensectl()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--tenant"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line.trim().to_owned();
    let status = std::panic::catch_unwind(|| {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            let r = reqwest::get(format!("{url}/v1.0/users"))
                .await
                .expect("get");
            assert_eq!(r.status().as_u16(), 401);
            let snap: TenantSnapshot = reqwest::get(format!("{url}/_emulator/snapshot"))
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            assert_eq!(snap.users.len(), 20);
        });
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.is_ok(), "serve checks failed");
    licensectl()
        .args(["emulator", "serve", "--tenant", "/nonexistent.json"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "cannot read snapshot /nonexistent.json",
        ));
}

/// licensectl's Azure CLI credential runs `az account get-access-token`; a stand-in `az`
/// on `PATH` that prints the emulator's delegated token the way `az` prints it lets the
/// whole path run against the emulator: a License Administrator applies the example, a
/// member without a role is refused the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_credential_works_against_the_emulator_with_the_users_role() {
    use std::os::unix::fs::PermissionsExt as _;

    use crate::util::{Emulated, config_with, contoso, output, show, text};

    let mut roles = std::collections::BTreeMap::new();
    roles.insert(
        "alice@contoso.com".to_owned(),
        vec!["License Administrator".to_owned()],
    );
    let tenant = Emulated::serve(
        contoso(),
        graph_emulator::EmulatorOptions {
            directory_roles: roles,
            ..graph_emulator::EmulatorOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_with(dir.path(), &[], &[]);
    let run_as = |user: &str| {
        let bin = dir.path().join(user);
        std::fs::create_dir_all(&bin).expect("mkdir");
        let token = tenant
            .running
            .emulator
            .azure_cli_token_json(user)
            .expect("token");
        std::fs::write(bin.join("token.json"), token).expect("token file");
        let az = bin.join("az");
        std::fs::write(
            &az,
            format!("#!/bin/sh\ncat '{}'\n", bin.join("token.json").display()),
        )
        .expect("az");
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = licensectl();
        cmd.args([
            "apply",
            "--config",
            &config.display().to_string(),
            "--auto-approve",
            "--auth",
            "azure-cli",
            "--group-timeout",
            "30",
        ])
        .env("PATH", path)
        .env("AZURE_TENANT_ID", &tenant.tid)
        .env("LICENSECTL_GRAPH_URL", &tenant.running.url);
        cmd
    };
    let denied = output(run_as("bob@contoso.com")).await;
    assert_ne!(denied.status.code(), Some(0), "{}", show(&denied));
    assert!(
        text(&denied.stdout).contains("Authorization_RequestDenied")
            || text(&denied.stderr).contains("Authorization_RequestDenied")
            || text(&denied.stderr).contains("403"),
        "{}",
        show(&denied)
    );
    let applied = output(run_as("alice@contoso.com")).await;
    assert_eq!(applied.status.code(), Some(0), "{}", show(&applied));
    assert!(
        text(&applied.stdout).contains("Apply complete:"),
        "{}",
        show(&applied)
    );
}

/// A tenant file of five users for the serve flag tests.
fn small_tenant(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("t.json");
    licensectl()
        .args([
            "emulator", "generate", "--users", "5", "--groups", "1", "-o",
        ])
        .arg(&file)
        .assert()
        .success();
    file
}

#[test]
fn out_of_range_float_flags_are_clear_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = small_tenant(dir.path());
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--throttle-time-scale", "1e300"],
            64,
            "1e300 would make the throttling windows",
        ),
        (
            &["--throttle-time-scale", "NaN"],
            64,
            "NaN is not a positive number",
        ),
        (
            &["--faults", "retry-after=1e308"],
            1,
            "'1e308' for 'retry-after' is more than a day",
        ),
        (
            &["--faults", "slow-ms=1e300"],
            1,
            "for 'slow-ms' is more than a day",
        ),
        (
            &["--stale-read-probability", "2"],
            64,
            "2 is not between 0 and 1",
        ),
    ];
    for (flags, code, message) in cases {
        let out = licensectl()
            .args(["emulator", "serve", "--tenant"])
            .arg(&file)
            .args(*flags)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    }
}

#[test]
fn a_non_loopback_listen_address_needs_allow_remote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = small_tenant(dir.path());
    licensectl()
        .args(["emulator", "serve", "--listen", "0.0.0.0:0", "--tenant"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "refusing to listen on 0.0.0.0:0: not a loopback address",
        ));
}

/// Starts `emulator serve` on `file` and returns the child and the URL it printed.
fn spawn_serve(file: &std::path::Path) -> (std::process::Child, String) {
    let mut child = licensectl()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--tenant"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("url");
    (child, line.trim().to_owned())
}

#[test]
fn sigterm_stops_the_emulator_with_exit_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = small_tenant(dir.path());
    let (mut child, url) = spawn_serve(&file);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(0), "a clean stop, as documented");
}

#[test]
fn a_tenant_file_with_a_utf8_bom_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = small_tenant(dir.path());
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(&file).expect("tenant"));
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, bytes).expect("write");
    let (mut child, url) = spawn_serve(&bom);
    assert!(url.starts_with("http://127.0.0.1:"), "served: {url}");
    child.kill().expect("kill");
    let _ = child.wait();
}
