//! The preflight (issue 13): before any write, the token's permissions are checked
//! against what the plan's writes need. A least-privilege app (`LicenseAssignment.Read.All`
//! to read the SKUs, `LicenseAssignment.ReadWrite.All`, `User.Read.All`,
//! `GroupMember.Read.All`, `Group.Read.All`; no `Organization.*`, no `Directory.*`, the
//! tenant pinned by id) applies a plan that sets no usage location; the
//! same app is stopped, naming `User.ReadWrite.All`, when a usage location must be set.
//! (An app missing `LicenseAssignment.ReadWrite.All` is `apply_emulator`'s
//! `issue6_a_missing_write_permission_is_reported_with_its_fix`.)

use std::time::Duration;

use graph_emulator::EmulatorOptions;
use licensectl::snapshot::{AppRegistration, TenantSnapshot};

use crate::apply_emulator::write_requests;
use crate::util::{Emulated, config_with, contoso, show, text};

const LEAST: &str = "c0000000-0000-4000-8000-0000000000bb";
const LEAST_SECRET: &str = "least-privilege-secret";

/// The example tenant with one more app: the least-privilege one.
fn tenant_with_least_privilege_app() -> TenantSnapshot {
    let mut snapshot = contoso();
    snapshot.apps.push(AppRegistration {
        app_id: LEAST.into(),
        display_name: Some("licensectl least privilege".into()),
        client_secrets: vec![LEAST_SECRET.into()],
        public_keys_pem: Vec::new(),
        federated_credentials: Vec::new(),
        roles: [
            // Graph lists LicenseAssignment.Read.All, not ReadWrite, for GET /subscribedSkus.
            "LicenseAssignment.Read.All",
            "LicenseAssignment.ReadWrite.All",
            "User.Read.All",
            "GroupMember.Read.All",
            "Group.Read.All",
        ]
        .map(str::to_owned)
        .to_vec(),
    });
    snapshot
}

/// Without `Organization.Read.All` the tenant's domains cannot be read: the config pins
/// the tenant by id.
const PIN_BY_ID: (&str, &str, &str) = (
    "licensectl.yaml",
    "tenant: contoso.onmicrosoft.com",
    "tenant: 48a80680-7326-48cd-9935-b556b81d3a4e",
);

fn options() -> EmulatorOptions {
    EmulatorOptions {
        group_processing: Duration::from_millis(300),
        ..EmulatorOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue13_a_least_privilege_app_applies_a_plan_that_sets_no_usage_location() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Without erin, and with the newly synced yara given her usage location already (the
    // users who need one), no PATCH is planned.
    let mut snapshot = tenant_with_least_privilege_app();
    for user in &mut snapshot.users {
        if user.user_principal_name == "yara@contoso.com" {
            user.usage_location = Some("DE".into());
        }
    }
    let config = config_with(
        dir.path(),
        &[
            PIN_BY_ID,
            (
                "licenses/engineering.yaml",
                "  erin@contoso.com:                  # new hire, no usage location yet: gets US from defaults\n    profile: knowledge-worker\n",
                "",
            ),
        ],
        &[],
    );
    let tenant = Emulated::serve(snapshot, options()).await;
    let args = [
        "apply",
        "--config",
        &config.display().to_string(),
        "--auto-approve",
        "--group-timeout",
        "30",
    ];
    let out = tenant.run_as(LEAST, LEAST_SECRET, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("Apply complete:"),
        "{}",
        show(&out)
    );
    let again = tenant.run_as(LEAST, LEAST_SECRET, &args).await;
    assert!(
        text(&again.stdout).contains("No changes."),
        "{}",
        show(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue13_the_preflight_names_user_readwrite_all_when_a_usage_location_must_be_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[PIN_BY_ID], &[]);
    let tenant = Emulated::serve(tenant_with_least_privilege_app(), options()).await;
    let before = tenant.running.emulator.snapshot();
    let out = tenant
        .run_as(
            LEAST,
            LEAST_SECRET,
            &[
                "apply",
                "--config",
                &config.display().to_string(),
                "--auto-approve",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(
            "error: refusing to apply: the token lacks User.ReadWrite.All (or Directory.ReadWrite.All), which the plan needs to set usage locations (2 principal(s))"
        ),
        "{}",
        show(&out)
    );
    assert_eq!(write_requests(&tenant), 0, "nothing was written");
    assert_eq!(tenant.running.emulator.snapshot(), before);
}
