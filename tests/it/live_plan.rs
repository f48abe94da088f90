//! `plan` and `drift` against the live tenant (the emulator serving the Contoso example):
//! the live plan is byte-identical to the plan from a snapshot of the same tenant, and a
//! tenant other than the pinned one is refused before any plan output (issue 5).

use std::path::Path;
use std::process::Output;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::DEFAULT_CLIENT_SECRET;
use licensectl::snapshot::TenantSnapshot;

use crate::util::{Emulated, contoso, copy_dir, example, licensectl, text};

/// `licensectl snapshot --config CONFIG -o OUT` against the emulator; the snapshot read.
async fn snapshot_with_config(tenant: &Emulated, config: &str, out: &Path) -> TenantSnapshot {
    let out_arg = out.display().to_string();
    let snap = tenant
        .run(&["snapshot", "--config", config, "-o", &out_arg])
        .await;
    assert_eq!(snap.status.code(), Some(0), "{}", text(&snap.stderr));
    TenantSnapshot::read(out).expect("written snapshot")
}

/// `licensectl COMMAND --config CONFIG --format FORMAT --snapshot SNAPSHOT`.
fn offline(command: &str, config: &str, format: &str, snapshot: &Path) -> Output {
    licensectl()
        .args([
            command,
            "--config",
            config,
            "--format",
            format,
            "--snapshot",
        ])
        .arg(snapshot)
        .output()
        .expect("runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_live_plan_is_identical_to_the_snapshot_plan() {
    let tenant = Emulated::serve(contoso(), EmulatorOptions::default()).await;
    let config = example().display().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let written = dir.path().join("live.json");

    let read_back = snapshot_with_config(&tenant, &config, &written).await;
    assert_eq!(
        read_back.tenant_domain.as_deref(),
        Some("contoso.onmicrosoft.com")
    );

    for format in ["text", "json", "markdown"] {
        for command in ["plan", "drift"] {
            let live = tenant
                .run(&[command, "--config", &config, "--format", format])
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
    let tenant = Emulated::serve(contoso(), EmulatorOptions::default()).await;
    let tid = &tenant.tid;
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

        let live = tenant.run(&["plan", "--config", &config]).await;
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
        assert!(stderr.contains(tid), "names the actual tenant: {stderr}");

        let offline = licensectl()
            .args(["plan", "--config", &config, "--snapshot"])
            .arg(example().join("tenant.json"))
            .output()
            .expect("runs");
        assert_eq!(offline.status.code(), Some(1));
        assert_eq!(text(&offline.stdout), "");
        assert!(text(&offline.stderr).contains("refusing to continue"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue5_a_custom_domain_pin_is_checked_live_and_in_the_written_snapshot() {
    let mut snapshot = contoso();
    snapshot.verified_domains = vec!["contoso.com".into()];
    let tenant = Emulated::serve(snapshot, EmulatorOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config_dir = dir.path().join("config");
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

    let read_back = snapshot_with_config(&tenant, &config, &written).await;
    assert_eq!(
        read_back.verified_domains,
        vec![
            "contoso.com".to_owned(),
            "contoso.onmicrosoft.com".to_owned()
        ]
    );
    let live = tenant.run(&["plan", "--config", &config]).await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let offline = licensectl()
        .args(["plan", "--config", &config, "--snapshot"])
        .arg(&written)
        .output()
        .expect("runs");
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert_eq!(text(&live.stdout), text(&offline.stdout));
}
