//! Unit tests of the exporter: plan list forms, names and their GUID fallbacks, skipped
//! principals, usage locations, file layout, and the output-directory rules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use super::target::{self, Existing, ExportError};
use super::*;

const TENANT: &str = "48a80680-7326-48cd-9935-b556b81d3a4e";
const E3: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";
const PBI: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";
const P1: &str = "00000000-0000-4000-8000-0000000000a1";
const P2: &str = "00000000-0000-4000-8000-0000000000a2";
const P3: &str = "00000000-0000-4000-8000-0000000000a3";
const P4: &str = "00000000-0000-4000-8000-0000000000a4";

fn sku(part: &str, id: &str, status: &str, plans: &[(&str, &str)]) -> Value {
    json!({
        "appliesTo": "User", "capabilityStatus": status, "consumedUnits": 1,
        "prepaidUnits": {"enabled": 10},
        "servicePlans": plans.iter().map(|(n, i)| json!({"servicePlanId": i, "servicePlanName": n})).collect::<Vec<_>>(),
        "skuId": id, "skuPartNumber": part,
    })
}

fn user(upn: &str, n: u32, location: Option<&str>, direct: &[(&str, &[&str])]) -> Value {
    json!({
        "id": format!("a0000000-0000-4000-8000-{n:012}"),
        "userPrincipalName": upn,
        "usageLocation": location,
        "assignedLicenses": direct.iter().map(|(s, d)| json!({"skuId": s, "disabledPlans": d})).collect::<Vec<_>>(),
        "licenseAssignmentStates": direct.iter().map(|(s, d)| json!({"skuId": s, "disabledPlans": d, "assignedByGroup": null, "state": "Active", "error": "None"})).collect::<Vec<_>>(),
    })
}

fn tenant(skus: Vec<Value>, users: Vec<Value>, groups: Vec<Value>) -> TenantSnapshot {
    serde_json::from_value(json!({
        "version": 1, "tenantId": TENANT, "tenantDomain": "contoso.onmicrosoft.com",
        "subscribedSkus": skus, "users": users, "groups": groups,
    }))
    .expect("test tenant")
}

fn e3() -> Value {
    sku(
        "SPE_E3",
        E3,
        "Enabled",
        &[
            ("TEAMS1", P1),
            ("YAMMER_ENTERPRISE", P2),
            ("SWAY", P3),
            ("EXCHANGE_S_ENTERPRISE", P4),
        ],
    )
}

fn file<'a>(export: &'a Export, path: &str) -> &'a str {
    export
        .files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or_else(|| {
            let paths: Vec<&str> = export.files.iter().map(|f| f.path.as_str()).collect();
            panic!("no {path} among {paths:?}")
        })
}

/// The body of a principal file, without its two header lines.
fn body(export: &Export, path: &str) -> String {
    file(export, path)
        .lines()
        .skip(2)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn issue6_export_writes_the_shorter_plan_list_or_the_one_asked_for() {
    // (disabled plans, --plans, expected lines of the license)
    let table: &[(&[&str], Option<PlanStyle>, &str)] = &[
        (&[], None, "- sku: SPE_E3"),
        (
            &[P2],
            None,
            "- sku: SPE_E3\n        disabled_plans:\n          - YAMMER_ENTERPRISE",
        ),
        // two of four off: a tie keeps disabled_plans (new plans stay on, as Microsoft does)
        (
            &[P2, P3],
            None,
            "- sku: SPE_E3\n        disabled_plans:\n          - SWAY\n          - YAMMER_ENTERPRISE",
        ),
        (
            &[P2, P3, P4],
            None,
            "- sku: SPE_E3\n        enabled_plans:\n          - TEAMS1",
        ),
        (
            &[P1, P2, P3, P4],
            None,
            "- sku: SPE_E3\n        enabled_plans: []",
        ),
        (
            &[],
            Some(PlanStyle::Enabled),
            "- sku: SPE_E3\n        enabled_plans:\n          - EXCHANGE_S_ENTERPRISE\n          - SWAY\n          - TEAMS1\n          - YAMMER_ENTERPRISE",
        ),
        (
            &[P2, P3, P4],
            Some(PlanStyle::Disabled),
            "- sku: SPE_E3\n        disabled_plans:\n          - EXCHANGE_S_ENTERPRISE\n          - SWAY\n          - YAMMER_ENTERPRISE",
        ),
        (&[], Some(PlanStyle::Disabled), "- sku: SPE_E3"),
        // duplicates in disabledPlans count once
        (
            &[P2, P2],
            None,
            "- sku: SPE_E3\n        disabled_plans:\n          - YAMMER_ENTERPRISE",
        ),
    ];
    for (disabled, style, expected) in table {
        let snapshot = tenant(
            vec![e3()],
            vec![user("alice@contoso.com", 1, Some("DE"), &[(E3, disabled)])],
            vec![],
        );
        let export = export(
            &snapshot,
            &ExportOptions {
                plans: *style,
                ..ExportOptions::default()
            },
        );
        let expected = format!(
            "users:\n  alice@contoso.com:\n    licenses:\n      {expected}\n    usage_location: DE"
        );
        assert_eq!(
            body(&export, "users/contoso.com.yaml"),
            expected,
            "{disabled:?} {style:?}"
        );
        assert!(export.warnings.is_empty(), "{:?}", export.warnings);
    }
}

#[test]
fn issue6_export_falls_back_to_guids_with_the_reason_in_a_comment() {
    let twin = "11111111-0000-4000-8000-000000000001";
    let guid_named = "22222222-0000-4000-8000-000000000002";
    let snapshot = tenant(
        vec![
            sku(
                "SPE_E3",
                E3,
                "Enabled",
                &[("TEAMS1", P1), ("teams1", P2), ("SWAY", P3), ("", P4)],
            ),
            sku("spe_e3", twin, "Enabled", &[]),
            sku(
                "33333333-0000-4000-8000-000000000003",
                guid_named,
                "Warning",
                &[],
            ),
        ],
        vec![user(
            "alice@contoso.com",
            1,
            None,
            &[(E3, &[P2, P4]), (twin, &[]), (guid_named, &[])],
        )],
        vec![
            json!({"id": "b0000000-0000-4000-8000-000000000001", "displayName": "Sales", "mailNickname": "sales-1",
                   "securityEnabled": true, "assignedLicenses": [{"skuId": PBI_SKU, "disabledPlans": []}]}),
            json!({"id": "b0000000-0000-4000-8000-000000000002", "displayName": "Sales", "mailNickname": "sales-2",
                   "securityEnabled": true, "assignedLicenses": [{"skuId": PBI_SKU, "disabledPlans": []}]}),
            json!({"id": "b0000000-0000-4000-8000-000000000003", "displayName": "sales-2",
                   "securityEnabled": true, "assignedLicenses": [{"skuId": PBI_SKU, "disabledPlans": []}]}),
            json!({"id": "b0000000-0000-4000-8000-000000000004", "displayName": " Padded ", "mailNickname": "padded",
                   "securityEnabled": true, "assignedLicenses": [{"skuId": PBI_SKU, "disabledPlans": []}]}),
        ],
    );
    let mut snapshot = snapshot;
    snapshot
        .subscribed_skus
        .push(serde_json::from_value(sku("POWER_BI_PRO", PBI_SKU, "Enabled", &[])).expect("sku"));
    let export = export(&snapshot, &ExportOptions::default());
    assert!(export.warnings.is_empty(), "{:?}", export.warnings);
    insta::assert_snapshot!(
        "issue6_export_guid_fallbacks",
        format!(
            "{}\n---\n{}",
            body(&export, "groups.yaml"),
            body(&export, "users/contoso.com.yaml")
        )
    );
}

const PBI_SKU: &str = PBI;

/// A tenant with one principal for each reason export leaves something out, and one user
/// (ok@contoso.com) it writes.
fn unexportable_tenant() -> TenantSnapshot {
    let stream = "44444444-0000-4000-8000-000000000004";
    let unknown = "55555555-0000-4000-8000-000000000005";
    let gone_plan = "66666666-0000-4000-8000-000000000006";
    tenant(
        vec![e3(), sku("STREAM", stream, "Suspended", &[])],
        vec![
            user("ok@contoso.com", 1, Some("us"), &[(E3, &[])]),
            user(
                "suspended@contoso.com",
                2,
                Some("US"),
                &[(E3, &[]), (stream, &[])],
            ),
            user("unknown@contoso.com", 3, Some("US"), &[(unknown, &[])]),
            user("gone@contoso.com", 4, Some("US"), &[(E3, &[gone_plan])]),
            user("no-at-sign", 5, Some("US"), &[(E3, &[])]),
            user("Twin@contoso.com", 6, Some("US"), &[(E3, &[])]),
            user("twin@contoso.com", 7, Some("US"), &[(E3, &[])]),
            user("odd@contoso.com", 8, Some("XX"), &[(E3, &[])]),
        ],
        vec![
            json!({"id": "b0000000-0000-4000-8000-000000000009", "displayName": "Mail list",
                    "securityEnabled": false, "assignedLicenses": [{"skuId": E3, "disabledPlans": []}]}),
        ],
    )
}

#[test]
fn issue6_export_leaves_out_what_it_cannot_write_faithfully_and_says_why() {
    let export = export(&unexportable_tenant(), &ExportOptions::default());
    let messages: Vec<String> = export
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.code, w.message))
        .collect();
    assert_eq!(
        messages,
        [
            "export-skipped-group: group Mail list (b0000000-0000-4000-8000-000000000009) is not exported: it assigns licenses but is not security-enabled",
            "export-skipped-user: user Twin@contoso.com (a0000000-0000-4000-8000-000000000006) is not exported: another user has the same userPrincipalName (ignoring case)",
            "export-skipped-user: user gone@contoso.com (a0000000-0000-4000-8000-000000000004) is not exported: its SPE_E3 has service plan 66666666-0000-4000-8000-000000000006 disabled, which the SKU does not list",
            "export-skipped-user: user no-at-sign (a0000000-0000-4000-8000-000000000005) is not exported: its userPrincipalName is not name@domain (it has no '@')",
            "export-skipped-user: user suspended@contoso.com (a0000000-0000-4000-8000-000000000002) is not exported: it holds STREAM, but the subscription of SKU STREAM is suspended",
            "export-skipped-user: user twin@contoso.com (a0000000-0000-4000-8000-000000000007) is not exported: another user has the same userPrincipalName (ignoring case)",
            "export-skipped-user: user unknown@contoso.com (a0000000-0000-4000-8000-000000000003) is not exported: it holds SKU 55555555-0000-4000-8000-000000000005, which is not among the tenant's subscribedSkus",
            "export-usage-location-dropped: user odd@contoso.com has usage location 'XX', which is not an ISO 3166-1 alpha-2 code; it is not exported",
        ]
    );
    assert!(
        export
            .warnings
            .iter()
            .all(|w| !w.is_error() && w.help.is_some())
    );
    // Lower-case usage locations are written in capitals (the planner compares ignoring case).
    assert_eq!(
        body(&export, "users/contoso.com.yaml"),
        "users:\n  odd@contoso.com:\n    licenses:\n      - sku: SPE_E3\n\n  ok@contoso.com:\n    licenses:\n      - sku: SPE_E3\n    usage_location: US"
    );
    assert_eq!((export.users, export.groups), (2, 0));
    assert!(!export.files.iter().any(|f| f.path == "groups.yaml"));
}

#[test]
fn every_export_code_has_a_producing_case() {
    let produced: BTreeSet<DiagnosticCode> =
        export(&unexportable_tenant(), &ExportOptions::default())
            .warnings
            .iter()
            .map(|w| w.code)
            .collect();
    let export_codes: BTreeSet<DiagnosticCode> =
        DiagnosticCode::of_stage(crate::diagnostic::Stage::Export).collect();
    assert_eq!(
        produced, export_codes,
        "every code the exporter emits needs a principal in unexportable_tenant, and only those"
    );
}

#[test]
fn issue6_export_users_all_declares_everyone_and_usage_locations_can_be_left_out() {
    let snapshot = tenant(
        vec![e3()],
        vec![
            user("b@contoso.com", 1, Some("NO"), &[]),
            user("a@contoso.com", 2, Some("DE"), &[(E3, &[])]),
            user("c@fabrikam.com", 3, None, &[]),
        ],
        vec![],
    );
    let licensed = export(&snapshot, &ExportOptions::default());
    assert_eq!(licensed.users, 1);
    assert!(
        !licensed
            .files
            .iter()
            .any(|f| f.path == "users/fabrikam.com.yaml")
    );

    let all = export(
        &snapshot,
        &ExportOptions {
            users: UserSelection::All,
            ..ExportOptions::default()
        },
    );
    assert_eq!(all.users, 3);
    assert_eq!(
        body(&all, "users/contoso.com.yaml"),
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: SPE_E3\n    usage_location: DE\n\n  b@contoso.com:\n    licenses: []\n    usage_location: \"NO\""
    );
    assert_eq!(
        body(&all, "users/fabrikam.com.yaml"),
        "users:\n  c@fabrikam.com:\n    licenses: []"
    );
    assert!(file(&all, "licensectl.yaml").contains("licensectl export --users all --diff"));

    let bare = export(
        &snapshot,
        &ExportOptions {
            users: UserSelection::All,
            usage_locations: false,
            plans: Some(PlanStyle::Disabled),
            ..ExportOptions::default()
        },
    );
    assert!(!body(&bare, "users/contoso.com.yaml").contains("usage_location"));
    assert!(
        file(&bare, "licensectl.yaml")
            .contains("licensectl export --users all --plans disabled --no-usage-locations --diff")
    );
}

#[test]
fn issue6_export_settings_pin_the_tenant_and_suggest_the_common_usage_location() {
    let mut snapshot = tenant(
        vec![e3()],
        vec![
            user("a@contoso.com", 1, Some("DE"), &[(E3, &[])]),
            user("b@contoso.com", 2, Some("US"), &[(E3, &[])]),
            user("c@contoso.com", 3, Some("US"), &[(E3, &[])]),
        ],
        vec![],
    );
    let settings = export(&snapshot, &ExportOptions::default());
    insta::assert_snapshot!("issue6_export_settings", file(&settings, "licensectl.yaml"));
    assert_eq!(
        file(&settings, "licensectl.schema.json"),
        crate::config::schema::schema_json()
    );
    snapshot.tenant_domain = None;
    let by_id = export(&snapshot, &ExportOptions::default());
    assert!(file(&by_id, "licensectl.yaml").contains(&format!("\ntenant: {TENANT}\n")));
}

#[test]
fn issue6_export_splits_large_domains_by_name_prefix() {
    let names = ["adam", "alex", "alice", "bob", "cole", "con", "cora", "zoe"];
    let users: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            user(
                &format!("{n}@contoso.com"),
                i as u32,
                Some("US"),
                &[(E3, &[])],
            )
        })
        .collect();
    let export = export(
        &tenant(vec![e3()], users, vec![]),
        &ExportOptions {
            max_per_file: 2,
            ..ExportOptions::default()
        },
    );
    let paths: Vec<&str> = export.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "licensectl.schema.json",
            "licensectl.yaml",
            "users/contoso.com/_con.yaml",
            "users/contoso.com/ad.yaml",
            "users/contoso.com/al.yaml",
            "users/contoso.com/b.yaml",
            "users/contoso.com/col.yaml",
            "users/contoso.com/cor.yaml",
            "users/contoso.com/z.yaml",
        ]
    );
    assert!(
        file(&export, "users/contoso.com/al.yaml")
            .starts_with("# yaml-language-server: $schema=../../licensectl.schema.json\n# Generated by `licensectl export`")
    );
}

#[test]
fn issue6_export_is_deterministic_whatever_the_input_order() {
    let users = vec![
        user("b@contoso.com", 1, Some("US"), &[(E3, &[P3, P2])]),
        user("a@contoso.com", 2, Some("US"), &[(E3, &[P2, P3])]),
    ];
    let mut reversed = users.clone();
    reversed.reverse();
    let one = export(
        &tenant(vec![e3()], users, vec![]),
        &ExportOptions::default(),
    );
    let two = export(
        &tenant(vec![e3()], reversed, vec![]),
        &ExportOptions::default(),
    );
    assert_eq!(one, two);
}

fn existing(entries: &[&str], files: &[(&str, &str)]) -> Existing {
    Existing {
        entries: entries.iter().map(|s| (*s).to_owned()).collect(),
        files: files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

const EXPORTED: &str = "# yaml-language-server: $schema=licensectl.schema.json\n# Generated by `licensectl export` from tenant x; edit freely.\nversion: 1\n";

#[test]
fn issue6_export_refuses_directories_it_would_damage() {
    let dir = Path::new("out");
    let table: Vec<(Existing, bool, Option<&str>)> = vec![
        (existing(&[], &[]), false, None),
        (
            existing(&["README.md"], &[]),
            false,
            Some("it is not empty (README.md) and is not a licensectl config directory"),
        ),
        (existing(&["README.md"], &[]), true, None),
        (
            existing(&["a", "b", "c", "d", "e", "f", "g"], &[]),
            false,
            Some("(a, b, c, d, e, and 2 more)"),
        ),
        (
            existing(&["compose.yml"], &[("compose.yml", "services: {}\n")]),
            true,
            Some(
                "it holds YAML files that licensectl would read as part of the exported config (compose.yml)",
            ),
        ),
        (
            existing(&["licensectl.yaml"], &[("licensectl.yaml", EXPORTED)]),
            false,
            None,
        ),
        (
            existing(
                &["licensectl.yaml", "licenses"],
                &[
                    ("licensectl.yaml", EXPORTED),
                    ("licenses/sales.yaml", "users: {}\n"),
                ],
            ),
            false,
            Some("licenses/sales.yaml is not written by `licensectl export`"),
        ),
        // A hand-written licensectl.yaml is kept, so it needs no --force ...
        (
            existing(&["licensectl.yaml"], &[("licensectl.yaml", "version: 1\n")]),
            false,
            None,
        ),
        (
            existing(
                &["licensectl.yaml", "licenses"],
                &[
                    ("licensectl.yaml", "version: 1\n"),
                    ("licenses/sales.yaml", "users: {}\n"),
                ],
            ),
            false,
            Some("licenses/sales.yaml is not written by `licensectl export`"),
        ),
        // ... unless it declares principals (or does not parse).
        (
            existing(
                &["licensectl.yaml", "licenses"],
                &[
                    (
                        "licensectl.yaml",
                        "version: 1\nusers:\n  a@b.com: {licenses: []}\n",
                    ),
                    ("licenses/sales.yaml", "users: {}\n"),
                ],
            ),
            false,
            Some("licensectl.yaml and licenses/sales.yaml are not written"),
        ),
        (
            existing(&["licensectl.yaml"], &[("licensectl.yaml", "version: [\n")]),
            false,
            Some("licensectl.yaml is not written"),
        ),
        (
            existing(&["licensectl.yaml"], &[("licensectl.yaml", "version: [\n")]),
            true,
            None,
        ),
    ];
    for (existing, force, expected) in table {
        let got = target::check(dir, &existing, force);
        match expected {
            None => assert_eq!(got, Ok(()), "{existing:?} force={force}"),
            Some(text) => {
                let error = got.expect_err("refused").to_string();
                assert!(error.contains(text), "{error}\n  expected: {text}");
                assert!(error.starts_with("refusing to "), "{error}");
            }
        }
    }
    assert!(matches!(
        target::check(dir, &existing(&["x"], &[]), false),
        Err(ExportError::NotAConfigDirectory { .. })
    ));
}

#[test]
fn issue6_export_changes_replace_the_config_and_diff_shows_them() {
    let snapshot = tenant(
        vec![e3()],
        vec![user("a@contoso.com", 1, Some("US"), &[(E3, &[])])],
        vec![],
    );
    let export = export(&snapshot, &ExportOptions::default());
    let settings = file(&export, "licensectl.yaml");
    let users = file(&export, "users/contoso.com.yaml");
    let old_users = users.replace("usage_location: US", "usage_location: DE");
    let before = existing(
        &["licensectl.yaml", "users", "README.md"],
        &[
            ("licensectl.yaml", settings),
            ("users/contoso.com.yaml", &old_users),
            ("users/old.com.yaml", EXPORTED),
        ],
    );
    let changes = target::changes(&before, &export);
    let written: Vec<&str> = changes.write.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        written,
        ["licensectl.schema.json", "users/contoso.com.yaml"]
    );
    assert_eq!(changes.unchanged, 1);
    assert_eq!(changes.remove, ["users/old.com.yaml"]);

    let mut before = before;
    before.files.insert(
        "licensectl.schema.json".to_owned(),
        crate::config::schema::schema_json(),
    );
    let diff = target::diff(Path::new("cfg"), &before, &export);
    assert_eq!((diff.changed, diff.added, diff.removed), (1, 0, 1));
    insta::assert_snapshot!("issue6_export_diff", diff.text);

    // A directory that is not a config: its YAML files are neither removed nor diffed.
    let foreign = existing(&["compose.yml"], &[("compose.yml", "x: 1\n")]);
    assert!(target::changes(&foreign, &export).remove.is_empty());
    let diff = target::diff(Path::new("cfg"), &foreign, &export);
    assert_eq!((diff.changed, diff.added, diff.removed), (0, 3, 0));
    assert!(
        diff.text
            .starts_with("--- /dev/null\n+++ cfg/licensectl.schema.json\n@@ -0,0 +1,")
    );
}

#[test]
fn issue6_export_keeps_the_settings_file_unless_forced() {
    let snapshot = tenant(
        vec![e3()],
        vec![user("a@contoso.com", 1, Some("US"), &[(E3, &[])])],
        vec![],
    );
    let generated = export(&snapshot, &ExportOptions::default());
    let settings = file(&generated, "licensectl.yaml").to_owned();
    let mine = format!("{settings}safety:\n  max_removals: 5\n");
    let table: &[(&str, bool, bool, &str)] = &[
        // (existing licensectl.yaml, --force, kept and different, licensectl.yaml written)
        (&mine, false, true, &mine),
        (&mine, true, false, &settings),
        (&settings, false, false, &settings),
        (
            "version: 1\ngroups:\n  g: {licenses: []}\n",
            false,
            false,
            &settings,
        ),
        ("version: [\n", false, false, &settings),
    ];
    for (before, force, expected, written) in table {
        let mut export = generated.clone();
        let dir = existing(&["licensectl.yaml"], &[("licensectl.yaml", before)]);
        assert_eq!(
            target::keep_settings(&dir, &mut export, *force),
            *expected,
            "{before}"
        );
        assert_eq!(file(&export, "licensectl.yaml"), *written, "{before}");
    }
}

#[test]
fn issue6_export_of_the_contoso_tenant() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso/tenant.json");
    let snapshot = TenantSnapshot::read(&path).expect("example tenant");
    let export = export(&snapshot, &ExportOptions::default());
    let mut text = String::new();
    for file in export
        .files
        .iter()
        .filter(|f| f.path != "licensectl.schema.json")
    {
        text.push_str(&format!("=== {}\n{}", file.path, file.contents));
    }
    for warning in &export.warnings {
        text.push_str(&format!(
            "=== warning[{}] {}\n",
            warning.code, warning.message
        ));
    }
    insta::assert_snapshot!("issue6_export_contoso", text);
}
