//! The real Graph client against the real emulator, end to end through the CLI: a tenant
//! served by `licensectl emulator`, read back by `licensectl snapshot` with client-secret
//! credentials, is the same tenant (every licensed user, every SKU, every licensing group).

use std::collections::HashMap;

use assert_cmd::Command;
use licensectl::emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use licensectl::emulator::generate::{GenerateOptions, generate};
use licensectl::emulator::{EmulatorOptions, serve};
use licensectl::snapshot::TenantSnapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_of_an_emulated_tenant_round_trips() {
    let original = generate(&GenerateOptions {
        users: 2500,
        groups: 8,
        seed: 11,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let running = serve(original.clone(), EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .expect("emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("read-back.json");

    let url = running.url.clone();
    let tenant = original.tenant_id.to_string();
    let out_arg = out.clone();
    let assert = tokio::task::spawn_blocking(move || {
        Command::cargo_bin("licensectl")
            .expect("binary")
            .args([
                "snapshot",
                "--graph-url",
                &url,
                "--authority-host",
                &url,
                "-o",
            ])
            .arg(&out_arg)
            .env("AZURE_TENANT_ID", &tenant)
            .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .assert()
    })
    .await
    .expect("snapshot command ran");
    let output = assert.get_output();
    assert!(
        output.status.success(),
        "snapshot failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(DEFAULT_CLIENT_SECRET),
        "the secret leaked: {stderr}"
    );

    let read = TenantSnapshot::read(&out).expect("snapshot parses");
    assert_eq!(read.tenant_id, original.tenant_id);
    assert_eq!(read.subscribed_skus, original.subscribed_skus);

    let licensed: Vec<_> = original
        .users
        .iter()
        .filter(|u| !u.assigned_licenses.is_empty())
        .collect();
    assert!(
        licensed.len() > 1000,
        "the generated tenant has licensed users"
    );
    let read_users: HashMap<_, _> = read.users.iter().map(|u| (u.id, u)).collect();
    assert_eq!(
        read.users.len(),
        licensed.len(),
        "exactly the licensed users are read"
    );
    for user in licensed {
        assert_eq!(
            read_users.get(&user.id),
            Some(&user),
            "user {}",
            user.user_principal_name
        );
    }

    // Group members are a set; the client returns them sorted.
    let sorted = |g: &licensectl::snapshot::Group| {
        let mut g = g.clone();
        g.members.sort();
        g
    };
    let original_groups: HashMap<_, _> =
        original.groups.iter().map(|g| (g.id, sorted(g))).collect();
    assert_eq!(read.groups.len(), original.groups.len());
    for group in &read.groups {
        assert_eq!(
            Some(&sorted(group)),
            original_groups.get(&group.id),
            "group {}",
            group.display_name
        );
    }
}
