//! A saved plan can never write what the config does not say (issue 12, "Critical"):
//! each of the five hand edits that went through before, applied to a real saved plan
//! against the emulator, is refused with exit 1 and nothing written (the emulator's
//! write statistics and its tenant are unchanged). The fingerprints of the edited
//! changes are recomputed, as an attacker would, so that only the recomputation of the
//! plan can catch them.

use std::path::Path;
use std::time::Duration;

use graph_emulator::EmulatorOptions;
use licensectl::ids::SkuId;
use licensectl::plan::saved::{SavedChange, SavedPlan, group_fingerprint, user_fingerprint};
use licensectl::plan::{Change, LicenseAdd, LicenseRemove, Principal, SkuName};
use licensectl::snapshot::TenantSnapshot;

use crate::apply_emulator::write_requests;
use crate::util::{Emulated, config_with, contoso, show, text};

fn options() -> EmulatorOptions {
    EmulatorOptions {
        group_processing: Duration::from_millis(300),
        ..EmulatorOptions::default()
    }
}

fn sku(tenant: &TenantSnapshot, part: &str) -> SkuName {
    let id: SkuId = tenant
        .subscribed_skus
        .iter()
        .find(|s| s.sku_part_number == part)
        .map(|s| s.sku_id)
        .expect("the SKU is in the tenant");
    SkuName {
        part_number: part.to_owned(),
        id,
    }
}

fn removal(sku: SkuName) -> LicenseRemove {
    LicenseRemove {
        sku,
        destructive: true,
        exchange_grace: false,
        still_inherited_from: Vec::new(),
        swapped_for: Vec::new(),
    }
}

/// A change removing `skus` from user `upn`, with the fingerprint of the user's live
/// state (as anyone can recompute it).
fn user_removal(tenant: &TenantSnapshot, upn: &str, skus: &[&str]) -> SavedChange {
    let user = tenant
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .expect("the user is in the tenant");
    SavedChange {
        change: Change {
            remove: skus.iter().map(|s| removal(sku(tenant, s))).collect(),
            ..Change::new(Principal::User {
                id: user.id,
                name: upn.to_owned(),
            })
        },
        live_fingerprint: user_fingerprint(user),
    }
}

/// Saves a plan of `config`, edits it with `edit`, applies it, and checks that the apply
/// is refused with exit 1, naming `named` after `reason`, with nothing written.
async fn refused_after_edit(
    config_edits: &[(&str, &str, &str)],
    edit: impl FnOnce(&mut SavedPlan, &TenantSnapshot),
    reason: &str,
    named: &[&str],
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), config_edits, &[]);
    let config_arg = config.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;
    let saved_path = dir.path().join("plan.json");
    let saved_arg = saved_path.display().to_string();
    let out = tenant
        .run(&["plan", "--config", &config_arg, "--out", &saved_arg])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let before = tenant.running.emulator.snapshot();
    let mut saved = SavedPlan::from_json(
        &std::fs::read_to_string(&saved_path).expect("saved plan"),
        Path::new("plan.json"),
    )
    .expect("a saved plan");
    edit(&mut saved, &before);
    std::fs::write(&saved_path, saved.to_json()).expect("edited plan written");

    let out = tenant
        .run(&[
            "apply",
            &saved_arg,
            "--config",
            &config_arg,
            "--auto-approve",
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(reason), "{}", show(&out));
    for who in named {
        assert!(stderr.contains(who), "names {who}: {}", show(&out));
    }
    assert!(
        !text(&out.stdout).contains("Apply complete"),
        "{}",
        show(&out)
    );
    assert_eq!(write_requests(&tenant), 0, "no write request was made");
    assert_eq!(
        tenant.running.emulator.snapshot(),
        before,
        "the tenant is unchanged"
    );
}

const DIFFERS: &str = "the saved plan's changes differ from what the config gives:";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_saved_plan_edited_so_a_protected_user_loses_spe_e5_is_refused() {
    refused_after_edit(
        &[],
        |saved, tenant| {
            saved
                .changes
                .push(user_removal(tenant, "ceo@contoso.com", &["SPE_E5"]));
        },
        DIFFERS,
        &["user ceo@contoso.com (the config gives no change; the file would remove SPE_E5)"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_saved_plan_edited_so_a_protected_group_loses_ems_is_refused() {
    refused_after_edit(
        &[],
        |saved, tenant| {
            let group = tenant
                .groups
                .iter()
                .find(|g| g.display_name == "SG-License-EMS")
                .expect("SG-License-EMS");
            saved.changes.push(SavedChange {
                change: Change {
                    remove: vec![removal(sku(tenant, "EMS"))],
                    ..Change::new(Principal::Group {
                        id: group.id,
                        name: group.display_name.clone(),
                    })
                },
                live_fingerprint: group_fingerprint(group),
            });
        },
        DIFFERS,
        &["group SG-License-EMS (the config gives no change; the file would remove EMS)"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_saved_plan_edited_so_an_unmanaged_user_loses_a_license_is_refused() {
    refused_after_edit(
        &[],
        |saved, tenant| {
            saved
                .changes
                .push(user_removal(tenant, "trent@contoso.com", &["ENTERPRISEPACK"]));
        },
        DIFFERS,
        &["user trent@contoso.com (the config gives no change; the file would remove ENTERPRISEPACK)"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_saved_plan_edited_to_give_a_license_the_config_does_not_is_refused() {
    refused_after_edit(
        &[],
        |saved, tenant| {
            let bob = saved
                .changes
                .iter_mut()
                .find(|c| c.change.principal.name() == "bob@contoso.com")
                .expect("bob's change");
            bob.change.add.push(LicenseAdd {
                sku: sku(tenant, "POWER_BI_PRO"),
                disabled_plans: Vec::new(),
                already_inherited: false,
            });
        },
        DIFFERS,
        &["user bob@contoso.com (adds POWER_BI_PRO, which the config does not give)"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_saved_plan_edited_to_ten_removals_under_max_removals_five_is_refused() {
    refused_after_edit(
        &[("licensectl.yaml", "max_removals: 10", "max_removals: 5")],
        |saved, tenant| {
            // The plan removes 3 licenses (bob's swap, carol, grace); 7 more make 10.
            for (upn, skus) in [
                ("dave@contoso.com", &["VISIOCLIENT"][..]),
                ("frank@contoso.com", &["PROJECTPROFESSIONAL"][..]),
                ("uma@contoso.com", &["ENTERPRISEPACK", "FLOW_FREE"][..]),
                ("victor@contoso.com", &["ENTERPRISEPACK"][..]),
                ("wendy@contoso.com", &["SPE_E3"][..]),
                ("mallory@contoso.com", &["ENTERPRISEPACK"][..]),
            ] {
                saved.changes.push(user_removal(tenant, upn, skus));
            }
            let removals: usize = saved.changes.iter().map(|c| c.change.remove.len()).sum();
            assert_eq!(removals, 10);
        },
        DIFFERS,
        &[
            "user dave@contoso.com",
            "user frank@contoso.com",
            "user mallory@contoso.com",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_apply_checks_the_saved_plan_file_before_it_reads_the_tenant() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[]);
    let config_arg = config.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;
    let saved_path = dir.path().join("plan.json");
    let saved_arg = saved_path.display().to_string();
    let out = tenant
        .run(&["plan", "--config", &config_arg, "--out", &saved_arg])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let good = std::fs::read_to_string(&saved_path).expect("saved plan");
    let version_one = good.replace("\"format_version\": 2", "\"format_version\": 1");
    assert_ne!(version_one, good);
    let other_config = {
        let saved = SavedPlan::from_json(&good, Path::new("plan.json")).expect("parses");
        SavedPlan {
            config_digest: "sha256:0000".into(),
            ..saved
        }
        .to_json()
    };
    let cases = [
        (
            "not JSON",
            "{ not a plan".to_owned(),
            "not a licensectl saved plan",
        ),
        (
            "an older format",
            version_one,
            "the file was made by an older licensectl",
        ),
        (
            "another config",
            other_config,
            "changed since the plan was made",
        ),
    ];
    for (what, content, reason) in cases {
        std::fs::write(&saved_path, content).expect("written");
        tenant.running.emulator.reset_stats();
        let out = tenant
            .run(&[
                "apply",
                &saved_arg,
                "--config",
                &config_arg,
                "--auto-approve",
            ])
            .await;
        assert_eq!(out.status.code(), Some(1), "{what}: {}", show(&out));
        assert!(text(&out.stderr).contains(reason), "{what}: {}", show(&out));
        let stats = tenant.running.emulator.stats();
        assert!(
            stats.by_endpoint.is_empty(),
            "{what}: no Graph request before the file is checked: {:?}",
            stats.by_endpoint
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_a_group_removal_that_takes_a_license_from_a_protected_member_is_refused_even_with_allow_unsafe()
 {
    let dir = tempfile::tempdir().expect("temp dir");
    // ivan inherits SPE_E3 from SG-License-M365-E3; the config takes it from the group.
    let config = config_with(
        dir.path(),
        &[(
            "licensectl.yaml",
            "    - ceo@contoso.com",
            "    - ceo@contoso.com\n    - ivan@contoso.com",
        )],
        &[(
            "licenses/groups.yaml",
            "groups:\n  SG-License-M365-E3:\n    licenses: []\n  SG-License-EMS:\n    licenses:\n      - sku: EMS\n  frontline:\n    licenses:\n      - sku: DESKLESSPACK\n",
        )],
    );
    let config_arg = config.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;
    let before = tenant.running.emulator.snapshot();
    let out = tenant
        .run(&[
            "apply",
            "--config",
            &config_arg,
            "--auto-approve",
            "--allow-unsafe",
        ])
        .await;
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ivan@contoso.com") && stderr.contains("SPE_E3"),
        "names the protected member and the license: {}",
        show(&out)
    );
    assert_eq!(write_requests(&tenant), 0, "nothing was written");
    assert_eq!(tenant.running.emulator.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_every_journal_line_names_its_run_and_version_and_two_applies_differ() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = config_with(
        &dir.path().join("first"),
        &[(
            "licenses/sales.yaml",
            "      - sku: POWER_BI_PRO            # extra license on top of the profile\n",
            "",
        )],
        &[],
    );
    let second = config_with(&dir.path().join("second"), &[], &[]);
    let journal = dir.path().join("journal.jsonl");
    let journal_arg = journal.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;
    for config in [&first, &second] {
        let out = tenant
            .run(&[
                "apply",
                "--config",
                &config.display().to_string(),
                "--auto-approve",
                "--journal",
                &journal_arg,
            ])
            .await;
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        assert!(text(&out.stderr).contains("(run "), "{}", show(&out));
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&journal)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let runs: Vec<&str> = lines
        .iter()
        .map(|l| l["run"].as_str().expect("every line has a run id"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["version"] == env!("CARGO_PKG_VERSION"))
    );
    let mut distinct = runs.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        2,
        "two runs, each a block of lines: {distinct:?}"
    );
    // Each run starts with its own `start` line.
    for run in distinct {
        let first_line = lines.iter().find(|l| l["run"] == run).expect("a line");
        assert_eq!(first_line["event"], "start");
    }
}
