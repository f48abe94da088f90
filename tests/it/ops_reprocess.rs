//! `licensectl reprocess` against the emulator (issue 16): a group license that failed
//! for lack of seats stays failing while no seat is free, and is fixed by reprocessing
//! once a seat is freed; `--dry-run` sends nothing; users are chosen by UPN, by group or
//! by their errors (through `hasMembersWithLicenseErrors`); a token without
//! User.ReadWrite.All is refused before anything is sent; reads lagging behind the
//! reprocess are waited for.

use std::time::Duration;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use licensectl::ids::SkuId;
use licensectl::snapshot::{
    AppRegistration, AssignedLicense, AssignmentStateKind, LicenseAssignmentState, TenantSnapshot,
};
use serde_json::{Value, json};

use crate::util::{Emulated, contoso, show, text};

const DESKLESS: &str = "4b585984-651b-448a-9e53-3b10f069cf7f";
const SAM: &str = "9060f3c7-db89-5aa6-bfc9-e108a738ed43";

/// The example tenant with one more DESKLESSPACK seat, held directly by trent (who is not
/// in Frontline Workers): still none free, so sam's copy from the group stays in
/// `CountViolation` until trent's is removed.
fn tenant() -> TenantSnapshot {
    let mut t = contoso();
    let sku: SkuId = DESKLESS.parse().expect("sku");
    let deskless = t
        .subscribed_skus
        .iter_mut()
        .find(|s| s.sku_id == sku)
        .expect("DESKLESSPACK");
    deskless.prepaid_units.enabled = 5;
    deskless.consumed_units = 5;
    let trent = t
        .users
        .iter_mut()
        .find(|u| u.user_principal_name == "trent@contoso.com")
        .expect("trent");
    trent.usage_location = Some("US".into());
    trent.assigned_licenses.push(AssignedLicense {
        sku_id: sku,
        disabled_plans: Vec::new(),
    });
    trent
        .license_assignment_states
        .push(LicenseAssignmentState {
            sku_id: sku,
            disabled_plans: Vec::new(),
            assigned_by_group: None,
            state: AssignmentStateKind::Active,
            error: None,
            last_updated_date_time: None,
        });
    t
}

async fn token(tenant: &Emulated) -> String {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            tenant.running.url, tenant.tid
        ))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token");
    let body: Value = r.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Frees trent's DESKLESSPACK seat (a direct removal, as an apply would make it).
async fn free_a_seat(tenant: &Emulated) {
    let token = token(tenant).await;
    let r = reqwest::Client::new()
        .post(format!(
            "{}/v1.0/users/trent@contoso.com/assignLicense",
            tenant.running.url
        ))
        .bearer_auth(token)
        .json(&json!({"addLicenses": [], "removeLicenses": [DESKLESS]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
}

fn reprocess_calls(tenant: &Emulated) -> u64 {
    tenant
        .running
        .emulator
        .stats()
        .by_endpoint
        .iter()
        .filter(|(k, _)| k.contains("reprocessLicenseAssignment"))
        .map(|(_, by_status)| by_status.values().sum::<u64>())
        .sum()
}

fn sam_holds_deskless(tenant: &Emulated) -> bool {
    let snap = tenant.running.emulator.snapshot();
    snap.users
        .iter()
        .find(|u| u.id.to_string() == SAM)
        .is_some_and(|u| {
            u.license_assignment_states
                .iter()
                .any(|s| s.sku_id.to_string() == DESKLESS && s.state == AssignmentStateKind::Active)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue16_reprocess_fixes_users_after_seats_are_freed() {
    let options = EmulatorOptions {
        replication_lag: Duration::from_millis(800),
        ..EmulatorOptions::default()
    };
    let tenant = Emulated::serve(tenant(), options).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = dir.path().join("reprocess.jsonl");
    let journal = journal.to_str().expect("utf-8");

    // The dry run names sam and the fix, and sends nothing.
    let out = tenant.run(&["reprocess", "--errors", "--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Would reprocess 1 user(s)"), "{stdout}");
    assert!(stdout.contains("sam@contoso.com"), "{stdout}");
    assert!(
        stdout.contains("not enough seats (0 free)")
            && stdout.contains("fix: buy more DESKLESSPACK seats or free some"),
        "{stdout}"
    );
    assert_eq!(reprocess_calls(&tenant), 0, "a dry run sends nothing");

    // No seat is free: reprocessing cannot fix sam.
    let out = tenant
        .run(&[
            "reprocess",
            "--errors",
            "--journal",
            journal,
            "--timeout",
            "3",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("still failing  sam@contoso.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Reprocess: 0 fixed, 1 still failing, 0 without errors."),
        "{stdout}"
    );
    assert!(!sam_holds_deskless(&tenant));

    // Free a seat, then reprocess every user with an error again: sam is fixed.
    free_a_seat(&tenant).await;
    let out = tenant
        .run(&["reprocess", "--errors", "--journal", journal])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("fixed          sam@contoso.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "+ DESKLESSPACK (from group Frontline Workers) works now (was CountViolation)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Reprocess: 1 fixed, 0 still failing, 0 without errors."),
        "{stdout}"
    );
    assert!(sam_holds_deskless(&tenant));
    // Each reprocess went through $batch and the journal.
    let lines = std::fs::read_to_string(journal).expect("journal");
    assert!(
        lines.contains("\"operation\":\"reprocessLicenseAssignment\""),
        "{lines}"
    );
    assert!(tenant.running.emulator.stats().batches >= 2);

    // Nothing fails any more: --errors finds no one, and sends nothing.
    let before = reprocess_calls(&tenant);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let out = tenant.run(&["reprocess", "--errors"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(text(&out.stdout).contains("0 user(s)"), "{}", show(&out));
    assert_eq!(reprocess_calls(&tenant), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_chosen_by_name_and_group_and_unknown_ones_are_refused() {
    let tenant = Emulated::serve(tenant(), EmulatorOptions::default()).await;
    let out = tenant
        .run(&[
            "reprocess",
            "--group",
            "Frontline Workers",
            "--user",
            "alice@contoso.com",
            "--dry-run",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = text(&out.stdout);
    // The group's five members and alice.
    assert!(stdout.contains("Would reprocess 6 user(s)"), "{stdout}");
    for upn in ["alice", "olga", "pete", "quinn", "rosa", "sam"] {
        assert!(
            stdout.contains(&format!("{upn}@contoso.com")),
            "{upn}: {stdout}"
        );
    }
    let out = tenant
        .run(&["reprocess", "--user", "nobody@contoso.com"])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("no user 'nobody@contoso.com' in the tenant"),
        "{}",
        show(&out)
    );
    let out = tenant.run(&["reprocess"]).await;
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    assert_eq!(reprocess_calls(&tenant), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_user_read_write_all_is_refused_before_anything_is_sent() {
    let mut t = tenant();
    t.apps = vec![AppRegistration {
        app_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
        display_name: None,
        client_secrets: vec!["s3cret".into()],
        public_keys_pem: Vec::new(),
        federated_credentials: Vec::new(),
        roles: [
            "LicenseAssignment.Read.All",
            "LicenseAssignment.ReadWrite.All",
            "User.Read.All",
            "Group.Read.All",
            "GroupMember.Read.All",
        ]
        .map(str::to_owned)
        .to_vec(),
    }];
    let tenant = Emulated::serve(t, EmulatorOptions::default()).await;
    let out = tenant
        .run_as(
            "6731de76-14a6-49ae-97bc-6eba6914391e",
            "s3cret",
            &["reprocess", "--errors"],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("the token lacks User.ReadWrite.All (or Directory.ReadWrite.All), which reprocessing license assignments needs"),
        "{}",
        show(&out)
    );
    assert_eq!(reprocess_calls(&tenant), 0);
}
