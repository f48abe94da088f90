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
