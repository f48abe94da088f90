//! A least-privilege app (no `Organization.*`, no `Directory.*`) can snapshot and plan:
//! `GET /organization` is optional, and a tenant pin is checked without it where that is
//! sound (docs/live.md, "Permissions"). Against the scripted double, whose `/organization`
//! needs Organization.Read.All as Graph's does.

use std::path::Path;

use crate::support::{CLIENT_ID, Double, SECRET, TENANT};
use crate::util::{licensectl, output, show, text};

/// What a plan reads with: no Organization.Read.All.
const LEAST: &[&str] = &[
    "LicenseAssignment.Read.All",
    "User.Read.All",
    "GroupMember.Read.All",
];

fn config(dir: &Path, pin: &str) -> std::path::PathBuf {
    let cfg = dir.join("cfg");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::write(
        cfg.join("licensectl.yaml"),
        format!("version: 1\ntenant: {pin}\nusers:\n  user1@contoso.com:\n    licenses: [{{sku: ENTERPRISEPACK}}]\n"),
    )
    .expect("write");
    cfg
}

/// `licensectl ARGS` against the double at `url`, authenticating in `tenant` (unset: the
/// pinned tenant is the authority tenant).
fn command(url: &str, tenant: Option<&str>, args: &[&str]) -> std::process::Command {
    let mut cmd = licensectl();
    cmd.args(args)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("LICENSECTL_GRAPH_URL", url)
        .env("AZURE_AUTHORITY_HOST", url);
    if let Some(tenant) = tenant {
        cmd.env("AZURE_TENANT_ID", tenant);
    }
    cmd
}

async fn least_privilege_double() -> (Double, String) {
    let double = Double::new(3);
    double.roles(LEAST);
    let url = double.clone().serve().await;
    (double, url)
}

#[tokio::test]
async fn a_plan_pinned_by_tenant_id_needs_no_organization_permission() {
    let (_, url) = least_privilege_double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), TENANT);
    let out = output(command(
        &url,
        Some(TENANT),
        &["plan", "--config", cfg.to_str().expect("utf-8")],
    ))
    .await;
    // `/organization` answered 403; the plan went on without it.
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("user1@contoso.com") || text(&out.stdout).contains("No changes"),
        "{}",
        show(&out)
    );
}

#[tokio::test]
async fn a_domain_pin_is_confirmed_by_the_authority_when_organization_is_forbidden() {
    let (_, url) = least_privilege_double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "contoso.onmicrosoft.com");
    let cfg = cfg.to_str().expect("utf-8");
    // No AZURE_TENANT_ID: the token is asked for the pinned domain itself.
    let out = output(command(&url, None, &["plan", "--config", cfg])).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The snapshot records the confirmed domain, so an offline plan of it passes the pin.
    let snapshot = dir.path().join("t.json");
    let out = output(command(
        &url,
        None,
        &[
            "snapshot",
            "--config",
            cfg,
            "-o",
            snapshot.to_str().expect("utf-8"),
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let written = licensectl::snapshot::TenantSnapshot::read(&snapshot).expect("snapshot");
    assert_eq!(written.verified_domains, ["contoso.onmicrosoft.com"]);
    assert_eq!(written.tenant_domain, None, "no primary domain was read");
    let offline = licensectl()
        .args(["plan", "--config", cfg, "--snapshot"])
        .arg(&snapshot)
        .output()
        .expect("runs");
    assert_eq!(offline.status.code(), Some(0), "{}", show(&offline));
}

#[tokio::test]
async fn a_domain_pin_that_cannot_be_confirmed_names_the_permission_that_would() {
    let (_, url) = least_privilege_double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "contoso.com");
    let out = output(command(
        &url,
        Some(TENANT),
        &["plan", "--config", cfg.to_str().expect("utf-8")],
    ))
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        stderr.contains("cannot confirm that tenant 48a80680-7326-48cd-9935-b556b81d3a4e owns the pinned domain 'contoso.com'")
            && stderr.contains("needs the application permission Organization.Read.All"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), "", "no plan printed");
}

#[tokio::test]
async fn a_domain_pin_is_still_checked_against_organization_when_it_is_readable() {
    let double = Double::new(3);
    double.roles(&[
        "LicenseAssignment.Read.All",
        "User.Read.All",
        "Organization.Read.All",
    ]);
    let url = double.clone().serve().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "fabrikam.com");
    let out = output(command(
        &url,
        None,
        &["plan", "--config", cfg.to_str().expect("utf-8")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("whose domains are contoso.com, contoso.onmicrosoft.com"),
        "{}",
        show(&out)
    );
}
