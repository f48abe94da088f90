//! `licensectl snapshot` end to end against the scripted double: output, exit codes, and
//! that no secret, token or assertion ever reaches stdout or stderr, even at trace level.

mod support;

use assert_cmd::Command;
use support::{CLIENT_ID, Double, Fault, SECRET, TENANT};

fn serve(double: Double) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            tx.send(double.serve().await).expect("send");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("url")
}

fn licensectl() -> Command {
    let mut cmd = Command::cargo_bin("licensectl").expect("binary");
    for var in [
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
        "AZURE_AUTHORITY_HOST",
        "LICENSECTL_GRAPH_URL",
        "LICENSECTL_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn snapshot_writes_the_tenant_and_never_prints_secrets() {
    let double = Double::new(1_200);
    double.fault("/users", &[Fault::Status(429, Some("0.1")), Fault::Drop]);
    let url = serve(double.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("tenant.json");
    let assert = licensectl()
        .args(["snapshot", "-o"])
        .arg(&out)
        .args([
            "--graph-url",
            &url,
            "--authority-host",
            &url,
            "--strategy",
            "sequential",
        ])
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("LICENSECTL_LOG", "trace")
        .assert()
        .success();
    let output = assert.get_output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "snapshot prints nothing on stdout"
    );
    assert!(
        text.contains("retrying graph request"),
        "retries are logged at debug level:\n{text}"
    );
    assert!(text.contains("1200 users"), "{text}");
    for leak in [SECRET, "tokensig", "eyJhbGciOiJub25lIn0"] {
        assert!(!text.contains(leak), "output leaks {leak}");
    }
    let snap = licensectl::snapshot::TenantSnapshot::read(&out).expect("snapshot");
    assert_eq!(snap.users.len(), 1_200);
    assert_eq!(snap.tenant_id.to_string(), TENANT);
}

#[test]
fn certificate_run_does_not_print_the_assertion_or_key() {
    let double = Double::new(10);
    let url = serve(double);
    let dir = tempfile::tempdir().expect("tmp");
    let cert = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/auth/app-cert.pem"
    );
    let assert = licensectl()
        .args(["snapshot", "-o"])
        .arg(dir.path().join("t.json"))
        .args([
            "--graph-url",
            &url,
            "--authority-host",
            &url,
            "--auth",
            "certificate",
            "--certificate",
            cert,
            "--tenant-id",
            TENANT,
            "--client-id",
            CLIENT_ID,
        ])
        .env("LICENSECTL_LOG", "trace")
        .assert()
        .success();
    let output = assert.get_output();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for leak in ["client_assertion=", "PRIVATE KEY", "tokensig", "eyJ"] {
        assert!(!text.contains(leak), "output leaks {leak}:\n{text}");
    }
}

#[test]
fn refusals_exit_1_with_the_fix() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--graph-url", "http://graph.example.com"],
            "plain http on a non-loopback host",
        ),
        (
            &[
                "--authority-host",
                "http://login.example.com",
                "--graph-url",
                "https://graph.microsoft.com",
            ],
            "--authority-host 'http://login.example.com'",
        ),
        (
            &["--auth", "secret"],
            "set AZURE_TENANT_ID or pass --tenant-id",
        ),
    ];
    for (args, text) in cases {
        licensectl()
            .args(["snapshot", "-o", "/dev/null"])
            .args(args)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicates::str::contains(text));
    }
    licensectl().args(["snapshot"]).assert().code(64);
}
