//! `licensectl export` (issue 6): the round trip (export → validate → plan against the same
//! tenant has no changes → re-export byte-identical) on the example tenant, a tenant full
//! of awkward names and a generated 10k-user tenant; the CLI's flags, `--diff`, refusals
//! and exit codes; and an export of the live tenant through the emulator.

use std::path::Path;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::DEFAULT_CLIENT_SECRET;
use graph_emulator::generate::{GenerateOptions, generate};
use licensectl::config;
use licensectl::export::{Export, ExportOptions, PlanStyle, UserSelection, export};
use licensectl::plan::{PlanOptions, plan};
use licensectl::snapshot::TenantSnapshot;
use serde_json::{Value, json};

use crate::util::{Emulated, contoso, example, licensectl, text};

fn write(export: &Export, dir: &Path) {
    for file in &export.files {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, &file.contents).expect("write");
    }
}

/// Exports `snapshot`, writes the files, loads them (no diagnostic at all), plans them
/// against the same snapshot (no changes, no errors), and exports again from the snapshot
/// as written to JSON and read back (byte-identical). Returns the export.
fn round_trip(snapshot: &TenantSnapshot, options: &ExportOptions) -> Export {
    let exported = export(snapshot, options);
    let dir = tempfile::tempdir().expect("temp dir");
    write(&exported, dir.path());
    let loaded = config::load(dir.path());
    assert!(
        loaded.diagnostics.is_empty(),
        "{options:?}: {:#?}",
        loaded.diagnostics
    );
    let desired = loaded.desired.expect("valid config");
    assert_eq!(desired.users.len(), exported.users, "{options:?}");
    assert_eq!(desired.groups.len(), exported.groups, "{options:?}");
    let plan = plan(&desired, snapshot, &PlanOptions::default());
    assert!(
        !plan.has_changes && !plan.has_errors() && !plan.safety.refused,
        "{options:?}: {:#?} {:#?}",
        plan.changes.iter().take(3).collect::<Vec<_>>(),
        plan.diagnostics
    );
    assert_eq!(plan.summary.managed_users as usize, exported.users);
    assert_eq!(plan.summary.managed_groups as usize, exported.groups);

    let reread = TenantSnapshot::from_json(&snapshot.to_json_pretty(), Path::new("t.json"))
        .expect("re-read");
    assert!(
        export(&reread, options) == exported,
        "{options:?}: re-export differs"
    );
    exported
}

fn all_options() -> Vec<ExportOptions> {
    let mut out = Vec::new();
    for users in [UserSelection::Licensed, UserSelection::All] {
        for plans in [None, Some(PlanStyle::Enabled), Some(PlanStyle::Disabled)] {
            for usage_locations in [true, false] {
                out.push(ExportOptions {
                    users,
                    plans,
                    usage_locations,
                    ..ExportOptions::default()
                });
            }
        }
    }
    out
}

#[test]
fn issue6_export_round_trip_of_the_example_tenant() {
    let snapshot = contoso();
    for options in all_options() {
        let exported = round_trip(&snapshot, &options);
        let expected_users = match options.users {
            UserSelection::Licensed => 13,
            UserSelection::All => snapshot.users.len(),
        };
        assert_eq!((exported.users, exported.groups), (expected_users, 3));
    }
}

/// The example tenant plus every awkward case the exporter must name or skip correctly.
fn awkward() -> TenantSnapshot {
    let mut t: Value = serde_json::from_str(
        &std::fs::read_to_string(example().join("tenant.json")).expect("read"),
    )
    .expect("json");
    let plan = |n: &str, i: &str| json!({"servicePlanId": i, "servicePlanName": n});
    let sku = |part: &str, id: &str, status: &str, plans: Vec<Value>| {
        json!({"appliesTo": "User", "capabilityStatus": status, "consumedUnits": 0,
               "prepaidUnits": {"enabled": 100}, "servicePlans": plans, "skuId": id, "skuPartNumber": part})
    };
    let skus = t["subscribedSkus"].as_array_mut().expect("skus");
    // A part number that differs from POWER_BI_PRO only in case, with plan names that clash.
    skus.push(sku(
        "power_bi_pro",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "Enabled",
        vec![
            plan("BI_AZURE_P2", "aaaaaaaa-0000-4000-8000-0000000000b1"),
            plan("bi_azure_p2", "aaaaaaaa-0000-4000-8000-0000000000b2"),
            plan(
                "EXCHANGE_S_FOUNDATION",
                "aaaaaaaa-0000-4000-8000-0000000000b3",
            ),
            plan("", "aaaaaaaa-0000-4000-8000-0000000000b4"),
        ],
    ));
    // A part number shaped like a GUID.
    skus.push(sku(
        "bbbbbbbb-0000-4000-8000-00000000000f",
        "bbbbbbbb-0000-4000-8000-000000000001",
        "Warning",
        vec![plan(
            "NOT_NAMED_LIKE_A_GUID",
            "bbbbbbbb-0000-4000-8000-0000000000c1",
        )],
    ));
    let state = |sku: &str, disabled: Value, group: Value| json!({"skuId": sku, "disabledPlans": disabled, "assignedByGroup": group, "state": "Active", "error": "None"});
    let user = |id: &str, upn: &str, location: Value, states: Vec<Value>| {
        let assigned: Vec<Value> = states
            .iter()
            .map(|s| json!({"skuId": s["skuId"], "disabledPlans": s["disabledPlans"]}))
            .collect();
        json!({"id": id, "userPrincipalName": upn, "usageLocation": location,
               "assignedLicenses": assigned, "licenseAssignmentStates": states})
    };
    let users = t["users"].as_array_mut().expect("users");
    users.push(user(
        "cccccccc-0000-4000-8000-000000000001",
        "joe_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        json!("no"),
        vec![state(
            "aaaaaaaa-0000-4000-8000-000000000001",
            json!([
                "aaaaaaaa-0000-4000-8000-0000000000b1",
                "aaaaaaaa-0000-4000-8000-0000000000b4"
            ]),
            Value::Null,
        )],
    ));
    users.push(user(
        "cccccccc-0000-4000-8000-000000000002",
        "1234@contoso.com",
        json!("NO"),
        vec![
            state(
                "bbbbbbbb-0000-4000-8000-000000000001",
                json!(["bbbbbbbb-0000-4000-8000-0000000000c1"]),
                Value::Null,
            ),
            state(
                "f8a1db68-be16-40ed-86d5-cb42ce701560",
                json!([]),
                Value::Null,
            ),
        ],
    ));
    // Licensed, but the snapshot did not select licenseAssignmentStates: all direct.
    let mut plain = user(
        "cccccccc-0000-4000-8000-000000000003",
        "Yes@Contoso.com",
        json!("GB"),
        vec![state(
            "f8a1db68-be16-40ed-86d5-cb42ce701560",
            json!([]),
            Value::Null,
        )],
    );
    plain["licenseAssignmentStates"] = json!([]);
    users.push(plain);
    // Holds a SKU of a suspended subscription: skipped, so never touched.
    users.push(user(
        "cccccccc-0000-4000-8000-000000000004",
        "stream@contoso.com",
        json!("US"),
        vec![state(
            "1f2f344a-700d-42c9-9427-5cea1d5d7ba6",
            json!([]),
            Value::Null,
        )],
    ));
    let groups = t["groups"].as_array_mut().expect("groups");
    let group = |id: &str, name: &str, nick: Value, sku: &str| {
        json!({"id": id, "displayName": name, "mailNickname": nick, "securityEnabled": true,
               "assignedLicenses": [{"skuId": sku, "disabledPlans": []}], "members": []})
    };
    // Same displayName as SG-License-EMS (whose mailNickname is this one's displayName in
    // lower case): this one is keyed by mailNickname, SG-License-EMS by object id.
    groups.push(group(
        "dddddddd-0000-4000-8000-000000000001",
        "SG-License-EMS",
        json!("sg-license-ems-2"),
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
    ));
    // A displayName shaped like a GUID, and no mailNickname: keyed by id.
    groups.push(group(
        "dddddddd-0000-4000-8000-000000000002",
        "eeeeeeee-0000-4000-8000-000000000000",
        Value::Null,
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
    ));
    // A name with YAML-special characters.
    groups.push(group(
        "dddddddd-0000-4000-8000-000000000003",
        "Sales: EMEA #1 – \"core\"",
        json!("sales-emea"),
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
    ));
    serde_json::from_value(t).expect("awkward tenant")
}

/// Asserts that the exported file `path` contains every piece of `expected`.
fn assert_contains_all(export: &Export, path: &str, expected: &[&str]) {
    let text = &export
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents;
    for piece in expected {
        assert!(text.contains(piece), "{piece}\nnot in\n{text}");
    }
}

#[test]
fn issue6_export_round_trip_of_awkward_names() {
    let snapshot = awkward();
    for options in all_options() {
        let exported = round_trip(&snapshot, &options);
        let codes: Vec<&str> = exported.warnings.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(codes, ["export-skipped-user"], "{options:?}");
        assert!(exported.warnings[0].message.contains("stream@contoso.com"));
    }
    let exported = export(&snapshot, &ExportOptions::default());
    assert_contains_all(
        &exported,
        "users/contoso.com.yaml",
        &[
            "  \"1234@contoso.com\":\n",
            "      - sku: bbbbbbbb-0000-4000-8000-000000000001  # the skuPartNumber 'bbbbbbbb-0000-4000-8000-00000000000f' looks like a GUID\n        enabled_plans: []\n",
            "    usage_location: \"NO\"\n",
            "  Yes@Contoso.com:\n",
            "      - sku: SPE_E3  # also inherited from group SG-License-M365-E3\n",
        ],
    );
    assert_contains_all(
        &exported,
        "groups.yaml",
        &[
            "  dddddddd-0000-4000-8000-000000000002:  # the displayName 'eeeeeeee-0000-4000-8000-000000000000' looks like a GUID, and it has no mailNickname\n",
            "  \"Sales: EMEA #1 – \\\"core\\\"\":\n",
            // its mailNickname equals the other's displayName, ignoring case: by id
            "  ec655ed5-f794-5444-a896-a9e880c9a50d:  # the displayName 'SG-License-EMS' also names another group, and the mailNickname 'sg-license-ems' also names another group\n",
            "  sg-license-ems-2:  # the displayName 'SG-License-EMS' also names another group: keyed by mailNickname\n",
        ],
    );
}

#[test]
fn issue6_export_round_trip_of_a_generated_10k_user_tenant() {
    let snapshot = generate(&GenerateOptions {
        users: 10_000,
        groups: 12,
        seed: 6,
        ..GenerateOptions::default()
    })
    .expect("generated tenant");
    for options in [
        ExportOptions::default(),
        ExportOptions {
            users: UserSelection::All,
            plans: Some(PlanStyle::Enabled),
            ..ExportOptions::default()
        },
    ] {
        let exported = round_trip(&snapshot, &options);
        let user_files: Vec<&str> = exported
            .files
            .iter()
            .filter(|f| f.path.starts_with("users/"))
            .map(|f| f.path.as_str())
            .collect();
        assert!(user_files.len() > 5, "{user_files:?}");
        for file in &exported.files {
            let principals = file
                .contents
                .lines()
                .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
                .count();
            assert!(principals <= 1000, "{}: {principals}", file.path);
        }
        assert_eq!(exported.groups, 12);
        if options.users == UserSelection::All {
            assert_eq!(exported.users, 10_000);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The command line.

/// `licensectl export --snapshot examples/contoso/tenant.json -o DIR ARGS...`.
fn export_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    licensectl()
        .arg("export")
        .arg("--snapshot")
        .arg(example().join("tenant.json"))
        .arg("-o")
        .arg(dir)
        .args(args)
        .output()
        .expect("runs")
}

/// `plan --detailed-exitcode` of `dir` against the example tenant: exit 0, no changes.
fn assert_plans_empty(dir: &Path) {
    let plan = licensectl()
        .args(["plan", "--detailed-exitcode", "--config"])
        .arg(dir)
        .arg("--snapshot")
        .arg(example().join("tenant.json"))
        .output()
        .expect("runs");
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        text(&plan.stdout).contains("No changes. The tenant matches the configuration."),
        "{}",
        text(&plan.stdout)
    );
    let validate = licensectl()
        .args(["validate", "--config"])
        .arg(dir)
        .output()
        .expect("runs");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        text(&validate.stderr)
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn issue6_export_cli_writes_then_finds_nothing_to_change() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("config");
    let first = export_cli(&dir, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "");
    assert_eq!(
        text(&first.stderr),
        format!(
            "Exported 13 users and 3 groups of tenant contoso.onmicrosoft.com to {}: 4 files written, 0 unchanged, 0 deleted.\n",
            dir.display()
        )
    );
    assert_plans_empty(&dir);

    let again = export_cli(&dir, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).ends_with(": 0 files written, 4 unchanged, 0 deleted.\n"),
        "{}",
        text(&again.stderr)
    );

    let diff = export_cli(&dir, &["--diff"]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stderr));
    assert_eq!(text(&diff.stdout), "");
    assert_eq!(
        text(&diff.stderr),
        format!(
            "No differences: {} matches the tenant (13 users and 3 groups).\n",
            dir.display()
        )
    );
}

#[test]
fn issue6_export_cli_keeps_the_settings_the_team_added() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("config");
    assert_eq!(export_cli(&dir, &[]).status.code(), Some(0));
    let settings = dir.join("licensectl.yaml");
    let mine = format!(
        "{}safety:\n  max_removals: 5\nprotected:\n  users: [ceo@contoso.com]\n",
        read(&settings)
    );
    std::fs::write(&settings, &mine).expect("edit");

    let again = export_cli(&dir, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        text(&again.stderr),
        format!(
            "kept {} (your settings; --force regenerates it)\nExported 13 users and 3 groups of tenant contoso.onmicrosoft.com to {}: 0 files written, 4 unchanged, 0 deleted.\n",
            settings.display(),
            dir.display()
        )
    );
    assert_eq!(read(&settings), mine);
    let diff = export_cli(&dir, &["--diff"]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stderr));
    assert_plans_empty(&dir);

    let forced = export_cli(&dir, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(!read(&settings).contains("max_removals"));
}

#[test]
fn issue6_export_cli_warns_about_principals_it_leaves_out() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut tenant = contoso();
    let trent = tenant
        .users
        .iter_mut()
        .find(|u| u.user_principal_name == "trent@contoso.com")
        .expect("trent");
    let stream: licensectl::ids::SkuId =
        "1f2f344a-700d-42c9-9427-5cea1d5d7ba6".parse().expect("id");
    let mut state = trent.license_assignment_states[0].clone();
    state.sku_id = stream;
    trent.license_assignment_states.push(state);
    let file = tmp.path().join("tenant.json");
    tenant.write(&file).expect("write");
    let dir = tmp.path().join("config");
    let out = licensectl()
        .args(["export", "--snapshot"])
        .arg(&file)
        .arg("-o")
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "warning[export-skipped-user]: user trent@contoso.com (316659da-1add-50f2-9be4-f7331bdb3d2b) is not exported: it holds STREAM, but the subscription of SKU STREAM is suspended\n = help: the user stays unmanaged (licensectl never touches it); fix the cause in the tenant and export again, or declare the user by hand\n\nExported 12 users and 3 groups of tenant contoso.onmicrosoft.com to {}: 4 files written, 0 unchanged, 0 deleted; 1 warning.\n",
            dir.display()
        )
    );
    assert!(!read(&dir.join("users/contoso.com.yaml")).contains("trent"));
}

#[test]
fn issue6_export_cli_users_and_plans_flags() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let all = tmp.path().join("all");
    let out = export_cli(&all, &["--users", "all", "--plans", "enabled"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("Exported 26 users and 3 groups"));
    let users = read(&all.join("users/contoso.com.yaml"));
    assert!(
        users.contains("  erin@contoso.com:\n    licenses: []\n\n"),
        "{users}"
    );
    assert!(
        users.contains("  ivan@contoso.com:\n    licenses: []\n    usage_location: US\n"),
        "{users}"
    );
    let groups = read(&all.join("groups.yaml"));
    assert!(
        groups.contains("      - sku: EMS\n        enabled_plans:\n          - AAD_PREMIUM\n"),
        "{groups}"
    );
    assert!(!groups.contains("disabled_plans"), "{groups}");
    assert!(read(&all.join("licensectl.yaml")).contains(
        "# Compare the tenant with these files: licensectl export --users all --plans enabled --diff -o <this directory>\n"
    ));
    assert_plans_empty(&all);

    let disabled = tmp.path().join("disabled");
    let out = export_cli(&disabled, &["--plans", "disabled", "--no-usage-locations"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let groups = read(&disabled.join("groups.yaml"));
    assert!(
        groups.contains("  SG-License-M365-E3:\n    licenses:\n      - sku: SPE_E3\n        disabled_plans:\n          - AAD_PREMIUM\n"),
        "{groups}"
    );
    assert!(!groups.contains("enabled_plans"), "{groups}");
    assert!(!read(&disabled.join("users/contoso.com.yaml")).contains("usage_location"));
    assert_plans_empty(&disabled);

    for bad in [
        vec!["--users", "some"],
        vec!["--plans", "both"],
        vec!["--diff", "--force"],
    ] {
        let out = export_cli(&tmp.path().join("bad"), &bad);
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert!(
            text(&out.stderr).starts_with("error: "),
            "{}",
            text(&out.stderr)
        );
        assert!(!tmp.path().join("bad").exists());
    }
}

#[test]
fn issue6_export_cli_diff_shows_drift_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("config");
    assert_eq!(export_cli(&dir, &[]).status.code(), Some(0));
    // Someone edited the config, and added a file by hand.
    let users_file = dir.join("users/contoso.com.yaml");
    let edited = read(&users_file).replace("usage_location: DE", "usage_location: AT");
    std::fs::write(&users_file, &edited).expect("edit");
    std::fs::write(dir.join("users/extra.yaml"), "users: {}\n").expect("extra");

    let out = export_cli(&dir, &["--diff"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let shown = dir.display().to_string();
    assert_eq!(
        text(&out.stdout),
        format!(
            "--- {shown}/users/contoso.com.yaml\n+++ {shown}/users/contoso.com.yaml\n@@ -5,7 +5,7 @@\n     licenses:\n       - sku: POWER_BI_PRO\n       - sku: SPE_E3\n-    usage_location: AT\n+    usage_location: DE\n \n   bob@contoso.com:\n     licenses:\n--- {shown}/users/extra.yaml\n+++ /dev/null\n@@ -1 +0,0 @@\n-users: {{}}\n"
        )
    );
    assert_eq!(
        text(&out.stderr),
        format!(
            "{shown} differs from the tenant: 1 changed, 0 added, 1 removed files (13 users and 3 groups).\n"
        )
    );
    assert_eq!(read(&users_file), edited, "--diff wrote nothing");
    assert!(dir.join("users/extra.yaml").exists());

    // A directory that does not exist yet: every file is new.
    let fresh = tmp.path().join("fresh");
    let out = export_cli(&fresh, &["--diff"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout).matches("+++ ").count(), 4);
    assert!(text(&out.stderr).contains(": 0 changed, 4 added, 0 removed files"));
    assert!(!fresh.exists());
}

#[test]
fn issue6_export_cli_refuses_to_overwrite_what_it_did_not_write() {
    let tmp = tempfile::tempdir().expect("temp dir");

    // A non-empty directory that is not a config.
    let notes = tmp.path().join("notes");
    std::fs::create_dir(&notes).expect("mkdir");
    std::fs::write(notes.join("README.md"), "mine\n").expect("write");
    let out = export_cli(&notes, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: refusing to write into {}: it is not empty (README.md) and is not a licensectl config directory (it has no licensectl.yaml); export into a new or empty directory, or pass --force to write into it anyway (files named like exported ones are replaced, nothing is deleted)\n",
            notes.display()
        )
    );
    assert!(!notes.join("licensectl.yaml").exists());
    let out = export_cli(&notes, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(read(&notes.join("README.md")), "mine\n");
    assert_plans_empty(&notes);

    // A hand-written config (the example): refused, then replaced with --force.
    let hand = tmp.path().join("hand");
    std::fs::create_dir_all(hand.join("licenses")).expect("mkdir");
    for rel in [
        "licensectl.yaml",
        "tenant.json",
        "licenses/engineering.yaml",
        "licenses/executives.yaml",
        "licenses/groups.yaml",
        "licenses/sales.yaml",
    ] {
        std::fs::copy(example().join(rel), hand.join(rel)).expect("copy");
    }
    let out = export_cli(&hand, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "error: refusing to replace the config in {}: licenses/engineering.yaml, licenses/executives.yaml, licenses/groups.yaml and licenses/sales.yaml are not written by `licensectl export`",
            hand.display()
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        read(&hand.join("licensectl.yaml")),
        read(&example().join("licensectl.yaml"))
    );
    let out = export_cli(&hand, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for rel in ["engineering", "executives", "groups", "sales"] {
        let line = format!(
            "deleted {}\n",
            hand.join(format!("licenses/{rel}.yaml")).display()
        );
        assert!(stderr.contains(&line), "{stderr}");
    }
    assert!(
        stderr.ends_with(": 4 files written, 0 unchanged, 4 deleted.\n"),
        "{stderr}"
    );
    assert!(
        !hand.join("licenses").exists(),
        "the emptied directory is gone"
    );
    assert!(hand.join("tenant.json").exists(), "other files stay");
    assert_plans_empty(&hand);
}

#[test]
fn issue6_export_cli_refuses_another_tenant_than_the_pinned_one() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("config");
    assert_eq!(export_cli(&dir, &[]).status.code(), Some(0));
    let other = generate(&GenerateOptions {
        users: 20,
        domain: "fabrikam.onmicrosoft.com".into(),
        ..GenerateOptions::default()
    })
    .expect("tenant");
    let other_file = tmp.path().join("fabrikam.json");
    other.write(&other_file).expect("write");
    for args in [vec![], vec!["--diff"]] {
        let out = licensectl()
            .arg("export")
            .arg("--snapshot")
            .arg(&other_file)
            .arg("-o")
            .arg(&dir)
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stdout), "");
        assert!(
            text(&out.stderr).starts_with(&format!(
                "error: refusing to continue: {}:5:9: the config is pinned to tenant contoso.onmicrosoft.com but the snapshot is of tenant fabrikam.onmicrosoft.com",
                dir.join("licensectl.yaml").display()
            )),
            "{}",
            text(&out.stderr)
        );
    }
    let out = licensectl()
        .arg("export")
        .arg("--snapshot")
        .arg(&other_file)
        .arg("-o")
        .arg(&dir)
        .arg("--force")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(read(&dir.join("licensectl.yaml")).contains("\ntenant: fabrikam.onmicrosoft.com\n"));
}

// ---------------------------------------------------------------------------------------
// Live, through the emulator.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_export_live_then_live_plan_has_no_changes() {
    let tenant = Emulated::serve(contoso(), EmulatorOptions::default()).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let live_dir = tmp.path().join("live");
    let live = live_dir.display().to_string();
    let out = tenant.run(&["export", "-o", &live]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("Exported 13 users and 3 groups of tenant contoso.onmicrosoft.com"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(DEFAULT_CLIENT_SECRET));

    // The live export is byte-identical to the export of the snapshot file.
    let file_dir = tmp.path().join("file");
    assert_eq!(export_cli(&file_dir, &[]).status.code(), Some(0));
    let exported = export(&contoso(), &ExportOptions::default());
    for file in &exported.files {
        assert_eq!(
            read(&live_dir.join(&file.path)),
            read(&file_dir.join(&file.path)),
            "{}",
            file.path
        );
    }

    let plan = tenant
        .run(&["plan", "--detailed-exitcode", "--config", &live])
        .await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        text(&plan.stdout).contains("No changes. The tenant matches the configuration."),
        "{}",
        text(&plan.stdout)
    );
    assert!(text(&plan.stdout).contains("Plan: 0 to add, 0 to change, 0 to remove."));

    let diff = tenant.run(&["export", "--diff", "-o", &live]).await;
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stderr));
    assert_eq!(text(&diff.stdout), "");
}
