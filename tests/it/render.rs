//! Snapshot tests of the three renderings of the contoso example plan.

use std::path::PathBuf;

use licensectl::config::{
    Attribute, AttributeCondition, Condition, ConditionValue, DesiredGroup, DesiredLicense,
    DesiredRule, DesiredState, DesiredUser, GroupKey, Located, PlanRef, PlanSelection,
    PrincipalRef, RuleUsageLocation, Safety, Settings, SkuRef,
};
use licensectl::diagnostic::Location;
use licensectl::plan::{Plan, PlanOptions, plan};
use licensectl::render::{Mode, json, markdown, text};
use licensectl::snapshot::TenantSnapshot;

use crate::util::{contoso, example};

fn at(file: &str, line: usize, column: usize) -> Location {
    Location {
        file: PathBuf::from("examples/contoso").join(file).into(),
        line,
        column,
    }
}

fn located<T>(value: T, location: Location) -> Located<T> {
    Located { value, location }
}

fn license(
    file: &str,
    line: usize,
    sku: &str,
    plans: PlanSelection,
    profile: Option<&str>,
) -> DesiredLicense {
    DesiredLicense {
        sku: located(SkuRef::PartNumber(sku.to_owned()), at(file, line, 15)),
        plans,
        from_profile: profile.map(str::to_owned),
        location: at(file, line, 7),
    }
}

fn names(file: &str, line: usize, plans: &[&str]) -> Vec<Located<PlanRef>> {
    plans
        .iter()
        .map(|p| located(PlanRef::Name((*p).to_owned()), at(file, line, 24)))
        .collect()
}

const SETTINGS: &str = "licensectl.yaml";

fn knowledge_worker() -> Vec<DesiredLicense> {
    vec![license(
        SETTINGS,
        22,
        "SPE_E3",
        PlanSelection::Disabled(names(SETTINGS, 23, &["YAMMER_ENTERPRISE"])),
        Some("knowledge-worker"),
    )]
}

fn user(
    file: &str,
    line: usize,
    upn: &str,
    usage: Option<&str>,
    licenses: Option<Vec<DesiredLicense>>,
) -> DesiredUser {
    DesiredUser {
        upn: upn.to_owned(),
        location: at(file, line, 3),
        usage_location: usage.map(|u| located(u.to_owned(), at(file, line + 1, 21))),
        licenses,
    }
}

/// The desired state that `examples/contoso` describes, written out by hand.
fn contoso_desired() -> DesiredState {
    let eng = "licenses/engineering.yaml";
    let sales = "licenses/sales.yaml";
    let groups = "licenses/groups.yaml";
    let mut dave = knowledge_worker();
    dave.push(license(
        eng,
        8,
        "VISIOCLIENT",
        PlanSelection::Enabled(names(
            eng,
            9,
            &[
                "VISIO_CLIENT_SUBSCRIPTION",
                "ONEDRIVE_BASIC",
                "EXCHANGE_S_FOUNDATION",
            ],
        )),
        None,
    ));
    let mut alice = knowledge_worker();
    alice.push(license(sales, 9, "POWER_BI_PRO", PlanSelection::All, None));
    let mut frank = knowledge_worker();
    frank.push(license(
        SETTINGS,
        29,
        "PROJECTPROFESSIONAL",
        PlanSelection::All,
        Some("project-lead"),
    ));
    let mut users = vec![
        user(sales, 5, "alice@contoso.com", Some("DE"), Some(alice)),
        user(
            sales,
            11,
            "bob@contoso.com",
            None,
            Some(vec![license(
                sales,
                13,
                "SPE_E5",
                PlanSelection::Disabled(names(sales, 14, &["YAMMER_ENTERPRISE"])),
                None,
            )]),
        ),
        user(sales, 16, "carol@contoso.com", None, Some(vec![])),
        user(
            "licenses/executives.yaml",
            5,
            "ceo@contoso.com",
            None,
            Some(vec![license(
                SETTINGS,
                25,
                "SPE_E5",
                PlanSelection::All,
                Some("executive"),
            )]),
        ),
        user(eng, 5, "dave@contoso.com", None, Some(dave)),
        user(eng, 11, "erin@contoso.com", None, Some(knowledge_worker())),
        user(eng, 14, "frank@contoso.com", Some("GB"), Some(frank)),
        user(eng, 18, "grace@contoso.com", None, Some(vec![])),
    ];
    users.sort_by(|a, b| a.upn.cmp(&b.upn));
    let e3_allowlist = [
        "EXCHANGE_S_ENTERPRISE",
        "TEAMS1",
        "SHAREPOINTENTERPRISE",
        "SHAREPOINTWAC",
        "OFFICESUBSCRIPTION",
        "MCOSTANDARD",
        "INTUNE_O365",
        "MDE_LITE",
        "WIN10_PRO_ENT_SUB",
        "RMS_S_ENTERPRISE",
        "MIP_S_CLP1",
    ];
    DesiredState {
        settings: Settings {
            version: 1,
            tenant: Some(located(
                "contoso.onmicrosoft.com".to_owned(),
                at(SETTINGS, 5, 9),
            )),
            default_usage_location: Some(located("US".to_owned(), at(SETTINGS, 8, 19))),
            safety: Safety {
                max_removals: Some(10),
                max_change_percent: Some(75.0),
            },
            protected: vec![
                located(
                    PrincipalRef::User("ceo@contoso.com".into()),
                    at(SETTINGS, 16, 7),
                ),
                located(
                    PrincipalRef::Group("SG-License-EMS".into()),
                    at(SETTINGS, 18, 7),
                ),
            ],
            ..Settings::default()
        },
        users,
        groups: vec![
            DesiredGroup {
                key: GroupKey::Name("SG-License-M365-E3".into()),
                location: at(groups, 5, 3),
                licenses: Some(vec![license(
                    groups,
                    7,
                    "SPE_E3",
                    PlanSelection::Enabled(names(groups, 10, &e3_allowlist)),
                    None,
                )]),
            },
            DesiredGroup {
                key: GroupKey::Id(
                    "ec655ed5-f794-5444-a896-a9e880c9a50d"
                        .parse()
                        .expect("guid"),
                ),
                location: at(groups, 22, 3),
                licenses: Some(vec![license(groups, 24, "EMS", PlanSelection::All, None)]),
            },
            DesiredGroup {
                key: GroupKey::Name("frontline".into()),
                location: at(groups, 26, 3),
                licenses: Some(vec![license(
                    groups,
                    28,
                    "DESKLESSPACK",
                    PlanSelection::All,
                    None,
                )]),
            },
        ],
        rules: vec![synced_staff()],
    }
}

/// The rule of `licenses/rules.yaml`, written out by hand.
fn synced_staff() -> DesiredRule {
    let rules = "licenses/rules.yaml";
    let text = |t: &str| Condition::Is(ConditionValue::Text(t.to_owned()));
    DesiredRule {
        name: "synced-staff".into(),
        location: at(rules, 8, 11),
        matches: vec![
            AttributeCondition {
                attribute: Attribute::OnPremisesSyncEnabled,
                condition: Condition::Is(ConditionValue::Bool(true)),
                location: Some(at(rules, 10, 33)),
            },
            AttributeCondition {
                attribute: Attribute::CompanyName,
                condition: text("Contoso"),
                location: Some(at(rules, 11, 21)),
            },
        ],
        exclude: vec![AttributeCondition {
            attribute: Attribute::EmployeeType,
            condition: Condition::AnyOf(vec![text("Contractor"), text("Intern")]),
            location: Some(at(rules, 13, 22)),
        }],
        licenses: vec![DesiredLicense {
            sku: located(SkuRef::PartNumber("SPE_E3".into()), at(rules, 15, 14)),
            plans: PlanSelection::All,
            from_profile: None,
            location: at(rules, 15, 9),
        }],
        usage_location: Some(located(RuleUsageLocation::FromCountry, at(rules, 16, 21))),
    }
}

fn contoso_plan() -> Plan {
    plan(&contoso_desired(), &contoso(), &PlanOptions::default())
}

#[test]
fn contoso_plan_as_text() {
    insta::assert_snapshot!(text::render(&contoso_plan(), Mode::Plan));
}

#[test]
fn contoso_plan_as_markdown() {
    insta::assert_snapshot!(markdown::render(&contoso_plan(), Mode::Plan));
}

#[test]
fn contoso_plan_as_json() {
    insta::assert_snapshot!(json::render(&contoso_plan(), Mode::Plan));
}

#[test]
fn contoso_drift_as_text() {
    insta::assert_snapshot!(text::render(&contoso_plan(), Mode::Drift));
}

#[test]
fn renderings_are_byte_stable() {
    let (a, b) = (contoso_plan(), contoso_plan());
    for mode in [Mode::Plan, Mode::Drift] {
        assert_eq!(markdown::render(&a, mode), markdown::render(&b, mode));
        assert_eq!(json::render(&a, mode), json::render(&b, mode));
    }
}

/// Contoso with problems: a typo in a SKU, no default usage location, too many removals.
fn contoso_with_problems() -> Plan {
    let mut desired = contoso_desired();
    desired.settings.default_usage_location = None;
    desired.settings.safety.max_removals = Some(1);
    let bob = desired
        .users
        .iter_mut()
        .find(|u| u.upn == "bob@contoso.com")
        .expect("bob");
    if let Some(licenses) = bob.licenses.as_mut() {
        licenses[0].sku.value = SkuRef::PartNumber("SPE_E6".into());
    }
    plan(&desired, &contoso(), &PlanOptions::default())
}

#[test]
fn problems_as_text() {
    let plan = contoso_with_problems();
    assert!(plan.has_errors() && plan.safety.refused);
    insta::assert_snapshot!(text::render(&plan, Mode::Plan));
}

#[test]
fn problems_as_markdown() {
    insta::assert_snapshot!(markdown::render(&contoso_with_problems(), Mode::Plan));
}

/// Applies a plan's changes to a snapshot the way Graph would (direct assignments only).
fn apply_in_memory(plan: &Plan, live: &mut TenantSnapshot) {
    use licensectl::plan::Principal;
    use licensectl::snapshot::{AssignedLicense, AssignmentStateKind, LicenseAssignmentState};
    for change in &plan.changes {
        let request = change.assign_license_request();
        match &change.principal {
            Principal::User { id, .. } => {
                let user = live.users.iter_mut().find(|u| u.id == *id).expect("user");
                if let Some(step) = &change.usage_location {
                    user.usage_location = Some(step.to.clone());
                }
                user.license_assignment_states.retain(|s| {
                    s.assigned_by_group.is_some()
                        || !(request.remove_licenses.contains(&s.sku_id)
                            || request.add_licenses.iter().any(|a| a.sku_id == s.sku_id))
                });
                for add in &request.add_licenses {
                    user.license_assignment_states.push(LicenseAssignmentState {
                        sku_id: add.sku_id,
                        disabled_plans: add.disabled_plans.clone(),
                        assigned_by_group: None,
                        state: AssignmentStateKind::Active,
                        error: None,
                        last_updated_date_time: None,
                    });
                }
                let mut assigned: Vec<AssignedLicense> = Vec::new();
                for state in &user.license_assignment_states {
                    if !assigned.iter().any(|a| a.sku_id == state.sku_id) {
                        assigned.push(AssignedLicense {
                            sku_id: state.sku_id,
                            disabled_plans: state.disabled_plans.clone(),
                        });
                    }
                }
                user.assigned_licenses = assigned;
            }
            Principal::Group { id, .. } => {
                let group = live.groups.iter_mut().find(|g| g.id == *id).expect("group");
                group.assigned_licenses.retain(|l| {
                    !request.remove_licenses.contains(&l.sku_id)
                        && !request.add_licenses.iter().any(|a| a.sku_id == l.sku_id)
                });
                group
                    .assigned_licenses
                    .extend(request.add_licenses.iter().map(|a| AssignedLicense {
                        sku_id: a.sku_id,
                        disabled_plans: a.disabled_plans.clone(),
                    }));
            }
        }
    }
}

#[test]
fn applying_the_contoso_plan_converges() {
    let mut live = contoso();
    let desired = contoso_desired();
    let first = plan(&desired, &live, &PlanOptions::default());
    assert!(first.has_changes);
    apply_in_memory(&first, &mut live);
    let second = plan(&desired, &live, &PlanOptions::default());
    assert!(!second.has_changes, "{}", text::render(&second, Mode::Plan));
    // What remains is drift outside the config's reach: heidi's duplicate, sam's error and
    // mallory's two mailbox licenses.
    let kinds: Vec<String> = second
        .findings
        .iter()
        .map(|f| format!("{:?} {}", f.kind, f.principal.name()))
        .collect();
    assert_eq!(
        kinds,
        [
            "DuplicateOfInherited heidi@contoso.com",
            "AssignmentError sam@contoso.com",
            "StackedPlans mallory@contoso.com"
        ]
    );
}

#[test]
fn the_loaded_contoso_config_plans_like_the_hand_written_one() {
    let loaded = licensectl::config::load(&example());
    assert!(loaded.is_valid(), "{:?}", loaded.diagnostics);
    let desired = loaded.desired.expect("desired state");
    let from_files = plan(&desired, &contoso(), &PlanOptions::default());
    assert_eq!(from_files, contoso_plan());
}

/// Contoso with names an attacker controls in the tenant: UPNs, group display names, a
/// SKU part number and a service plan name carrying terminal escapes, bidi overrides,
/// newlines, HTML and Markdown.
fn hostile_contoso() -> TenantSnapshot {
    let mut live = contoso();
    let rename_user = |live: &mut TenantSnapshot, from: &str, to: &str| {
        let user = live
            .users
            .iter_mut()
            .find(|u| u.user_principal_name == from)
            .expect("user");
        user.user_principal_name = to.to_owned();
    };
    rename_user(
        &mut live,
        "heidi@contoso.com",
        "heidi<img src=x onerror=alert(1)>\u{1b}]0;pwned\u{7}@contoso.com",
    );
    rename_user(
        &mut live,
        "sam@contoso.com",
        "sam|`x`\u{202e}moc@contoso.com",
    );
    rename_user(
        &mut live,
        "mallory@contoso.com",
        "mal\nlory\u{9b}31m@contoso.com",
    );
    for group in &mut live.groups {
        match group.display_name.as_str() {
            "Frontline Workers" => {
                group.display_name = "Front|line <script>alert(1)</script> `x`\u{1b}[2J".into();
            }
            "SG-License-EMS" => group.display_name = "EMS **bold** [x](http://e)\u{2066}".into(),
            _ => {}
        }
    }
    for sku in &mut live.subscribed_skus {
        if sku.sku_part_number == "ENTERPRISEPACK" {
            sku.sku_part_number = "ENTERPRISE|PACK``\u{1b}[1m".into();
        }
        for plan in &mut sku.service_plans {
            if plan.service_plan_name == "Windows_Autopatch" {
                plan.service_plan_name = "Windows<b>Autopatch</b>\u{1b}]8;;http://x\u{7}".into();
            }
        }
    }
    live
}

fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{61c}' | '\u{200e}' | '\u{200f}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The unescaped `|` of a Markdown line.
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

/// The Markdown outside code: fenced blocks, code spans and backslash-escaped characters
/// removed (HTML in them is text).
fn outside_code(md: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '\\' {
                // An escaped character is text: keep neither it nor its backslash.
                i += 2;
                continue;
            }
            if chars[i] == '`' {
                let run = chars[i..].iter().take_while(|c| **c == '`').count();
                let fence: String = "`".repeat(run);
                let rest: String = chars[i + run..].iter().collect();
                // The span ends at the next run of exactly `run` backticks.
                let mut end = None;
                let mut at = 0;
                while let Some(found) = rest[at..].find(&fence) {
                    let start = at + found;
                    let len = rest[start..].chars().take_while(|c| *c == '`').count();
                    if len == run {
                        end = Some(start + run);
                        break;
                    }
                    at = start + len;
                }
                match end {
                    Some(end) => i += run + rest[..end].chars().count(),
                    None => {
                        out.push_str(&fence);
                        i += run;
                    }
                }
                continue;
            }
            out.push(chars[i]);
            i += 1;
        }
        out.push('\n');
    }
    out
}

#[test]
fn names_from_the_tenant_are_escaped_in_every_format() {
    let desired = contoso_desired();
    let hostile = plan(&desired, &hostile_contoso(), &PlanOptions::default());
    let normal = contoso_plan();
    assert_eq!(hostile.changes.len(), normal.changes.len());
    assert_eq!(hostile.findings.len(), normal.findings.len());

    // Text: no control or bidi character but the newlines the renderer writes, and not
    // one line more than with ordinary names.
    let text = text::render(&hostile, Mode::Plan);
    let bad: Vec<char> = text
        .chars()
        .filter(|c| *c != '\n' && is_control_or_bidi(*c))
        .collect();
    assert!(bad.is_empty(), "raw control characters {bad:?} in\n{text}");
    assert_eq!(
        text.lines().count(),
        text::render(&normal, Mode::Plan).lines().count()
    );
    for shown in [
        "heidi<img src=x onerror=alert(1)>\\u{1b}]0;pwned\\u{7}@contoso.com",
        "mal\\nlory\\u{9b}31m@contoso.com",
        "ENTERPRISE|PACK``\\u{1b}[1m",
        "Windows<b>Autopatch</b>\\u{1b}]8;;http://x\\u{7}",
        "sam|`x`\\u{202e}moc@contoso.com",
    ] {
        assert!(text.contains(shown), "{shown} not in\n{text}");
    }

    // Markdown: no raw HTML, no control character, every table row keeps its cells.
    let md = markdown::render(&hostile, Mode::Plan);
    let prose = outside_code(&md);
    for raw in ["<img", "<script", "<b>", "</b>", "](http"] {
        assert!(!prose.contains(raw), "{raw:?} raw in\n{prose}");
    }
    for raw in ["\u{1b}", "\u{9b}", "\u{7}", "\u{202e}", "\u{2066}"] {
        assert!(!md.contains(raw), "{raw:?} raw in\n{md}");
    }
    assert_eq!(
        md.lines().count(),
        markdown::render(&normal, Mode::Plan).lines().count()
    );
    let mut expected: Option<usize> = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            expected = None;
            continue;
        }
        let cells = cell_separators(line);
        match expected {
            None => expected = Some(cells),
            Some(n) => assert_eq!(cells, n, "a table row lost its cells: {line}"),
        }
    }
    assert!(
        md.contains("\\<img src=x onerror=alert(1)\\>"),
        "inline text escapes HTML:\n{md}"
    );

    // JSON: the names stay exact, in valid JSON.
    let json = json::render(&hostile, Mode::Plan);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let principals: Vec<&str> = value["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["principal"]["name"].as_str())
        .collect();
    assert!(
        principals.contains(&"heidi<img src=x onerror=alert(1)>\u{1b}]0;pwned\u{7}@contoso.com")
    );
    assert!(principals.contains(&"mal\nlory\u{9b}31m@contoso.com"));
    assert!(!json.contains('\u{1b}'), "JSON escapes control characters");
}
