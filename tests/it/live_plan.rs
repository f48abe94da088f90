//! `plan` and `drift` against the live tenant (the emulator serving the Contoso example):
//! the live plan is byte-identical to the plan from a snapshot of the same tenant, and a
//! tenant other than the pinned one is refused before any plan output (issue 5).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::{EmulatorOptions, serve};
use licensectl::snapshot::TenantSnapshot;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso")
}

/// Runs the CLI with client-secret credentials for the emulator at `url`.
async fn run(url: &str, tenant: &str, args: Vec<String>) -> std::process::Output {
    let url = url.to_owned();
    let tenant = tenant.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("licensectl")
            .expect("binary")
            .args(&args)
            .args(["--graph-url", &url, "--authority-host", &url])
            .env("AZURE_TENANT_ID", &tenant)
            .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .env_remove("LICENSECTL_GRAPH_URL")
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    })
    .await
    .expect("joined")
}

/// `licensectl snapshot --config CONFIG -o OUT` against the emulator; the snapshot read.
async fn snapshot_with_config(url: &str, tid: &str, config: &str, out: &Path) -> TenantSnapshot {
    let snap = run(
        url,
        tid,
        vec![
            "snapshot".into(),
            "--config".into(),
            config.into(),
            "-o".into(),
            out.display().to_string(),
        ],
    )
    .await;
    assert_eq!(snap.status.code(), Some(0), "{}", text(&snap.stderr));
    TenantSnapshot::read(out).expect("written snapshot")
}

/// `licensectl COMMAND --config CONFIG --format FORMAT --snapshot SNAPSHOT`.
fn offline(command: &str, config: &str, format: &str, snapshot: &Path) -> std::process::Output {
    Command::cargo_bin("licensectl")
        .expect("binary")
        .args([
            command,
            "--config",
            config,
            "--format",
            format,
            "--snapshot",
        ])
        .arg(snapshot)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_live_plan_is_identical_to_the_snapshot_plan() {
    let tenant = TenantSnapshot::read(&example().join("tenant.json")).expect("example tenant");
    let tid = tenant.tenant_id.to_string();
    let running = serve(tenant, EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .expect("emulator starts");
    let config = example().display().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let written = dir.path().join("live.json");

    let read_back = snapshot_with_config(&running.url, &tid, &config, &written).await;
    assert_eq!(
        read_back.tenant_domain.as_deref(),
        Some("contoso.onmicrosoft.com")
    );

    for format in ["text", "json", "markdown"] {
        for command in ["plan", "drift"] {
            let live = run(
                &running.url,
                &tid,
                vec![
                    command.into(),
                    "--config".into(),
                    config.clone(),
                    "--format".into(),
                    format.into(),
                ],
            )
            .await;
            let from_snapshot = offline(command, &config, format, &written);
            assert_eq!(
                live.status.code(),
                from_snapshot.status.code(),
                "{command} {format}: {}",
                text(&live.stderr)
            );
            assert!(
                !text(&live.stdout).trim().is_empty(),
                "{command} {format} printed a plan"
            );
            assert_eq!(
                text(&live.stdout),
                text(&from_snapshot.stdout),
                "{command} --format {format}: live and snapshot plans differ"
            );
            let original = offline(command, &config, format, &example().join("tenant.json"));
            assert_eq!(
                text(&live.stdout),
                text(&original.stdout),
                "{command} --format {format}: the live plan differs from the full tenant's"
            );
            assert!(
                !text(&live.stderr).contains(DEFAULT_CLIENT_SECRET),
                "the secret leaked"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_a_tenant_other_than_the_pinned_one_is_refused_before_any_output() {
    let tenant = TenantSnapshot::read(&example().join("tenant.json")).expect("example tenant");
    let tid = tenant.tenant_id.to_string();
    let running = serve(tenant.clone(), EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .expect("emulator starts");
    let other = "00000000-1111-4222-8333-444444444444";
    for pin in ["fabrikam.onmicrosoft.com", other] {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&example(), dir.path());
        let settings = dir.path().join("licensectl.yaml");
        let yaml = std::fs::read_to_string(&settings).expect("settings");
        std::fs::write(
            &settings,
            yaml.replace("tenant: contoso.onmicrosoft.com", &format!("tenant: {pin}")),
        )
        .expect("rewritten");
        let config = dir.path().display().to_string();

        let live = run(
            &running.url,
            &tid,
            vec!["plan".into(), "--config".into(), config.clone()],
        )
        .await;
        assert_eq!(live.status.code(), Some(1), "{}", text(&live.stderr));
        assert_eq!(
            text(&live.stdout),
            "",
            "no plan output for the wrong tenant"
        );
        let stderr = text(&live.stderr);
        assert!(
            stderr.contains("pins tenant") && stderr.contains(pin),
            "names the pin: {stderr}"
        );
        assert!(stderr.contains(&tid), "names the actual tenant: {stderr}");

        let offline = Command::cargo_bin("licensectl")
            .expect("binary")
            .args(["plan", "--config", &config, "--snapshot"])
            .arg(example().join("tenant.json"))
            .output()
            .expect("runs");
        assert_eq!(offline.status.code(), Some(1));
        assert_eq!(text(&offline.stdout), "");
        assert!(text(&offline.stderr).contains("refusing to continue"));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_a_custom_domain_pin_is_checked_live_and_in_the_written_snapshot() {
    let mut tenant = TenantSnapshot::read(&example().join("tenant.json")).expect("example tenant");
    tenant.verified_domains = vec!["contoso.com".into()];
    let tid = tenant.tenant_id.to_string();
    let running = serve(tenant, EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .expect("emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config_dir = dir.path().join("config");
    std::fs::create_dir_all(&config_dir).expect("mkdir");
    copy_dir(&example(), &config_dir);
    let settings = config_dir.join("licensectl.yaml");
    let yaml = std::fs::read_to_string(&settings).expect("settings");
    std::fs::write(
        &settings,
        yaml.replace("tenant: contoso.onmicrosoft.com", "tenant: contoso.com"),
    )
    .expect("rewritten");
    let config = config_dir.display().to_string();
    let written = dir.path().join("live.json");

    let read_back = snapshot_with_config(&running.url, &tid, &config, &written).await;
    assert_eq!(
        read_back.verified_domains,
        vec![
            "contoso.com".to_owned(),
            "contoso.onmicrosoft.com".to_owned()
        ]
    );
    let live = run(
        &running.url,
        &tid,
        vec!["plan".into(), "--config".into(), config.clone()],
    )
    .await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let offline = Command::cargo_bin("licensectl")
        .expect("binary")
        .args(["plan", "--config", &config, "--snapshot"])
        .arg(&written)
        .output()
        .expect("runs");
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert_eq!(text(&live.stdout), text(&offline.stdout));
}
