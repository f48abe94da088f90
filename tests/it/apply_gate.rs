//! The executor's last gate with writes that bypass the planner (issue 12, "Critical"):
//! units handed straight to `Executor::run`, against the emulator, each breaking one rule
//! (a protected user or group losing a license, a group taking a license from a protected
//! member, an unmanaged user, a license the config does not give, ten removals under
//! `max_removals: 5`). Each refused unit fails with the reason, is never sent (no
//! journal request, no write in the emulator's statistics), and is not retried.

use std::path::Path;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use licensectl::apply::{
    Allowed, Executor, Gate, Journal, Operation, Phase, PhaseKind, Unit, UnitOutcome,
};
use licensectl::graph::{NoProgress, RetryPolicy};
use licensectl::plan::{AssignLicenseRequest, Principal};
use licensectl::snapshot::{AssignedLicense, TenantSnapshot};

use crate::apply_emulator::write_requests;
use crate::util::{Emulated, config_with, contoso, graph_client};

fn user(live: &TenantSnapshot, upn: &str) -> Principal {
    let u = live
        .users
        .iter()
        .find(|u| u.user_principal_name == upn)
        .expect("user");
    Principal::User {
        id: u.id,
        name: upn.to_owned(),
    }
}

fn group(live: &TenantSnapshot, name: &str) -> Principal {
    let g = live
        .groups
        .iter()
        .find(|g| g.display_name == name)
        .expect("group");
    Principal::Group {
        id: g.id,
        name: name.to_owned(),
    }
}

/// One `assignLicense` unit for `principal`, adding `add` and removing `remove` (part
/// numbers).
fn unit(live: &TenantSnapshot, principal: Principal, add: &[&str], remove: &[&str]) -> Unit {
    let sku = |part: &str| {
        live.subscribed_skus
            .iter()
            .find(|s| s.sku_part_number == part)
            .expect("sku")
            .sku_id
    };
    Unit {
        change: 0,
        principal,
        operations: vec![Operation::AssignLicense {
            request: AssignLicenseRequest {
                add_licenses: add
                    .iter()
                    .map(|p| AssignedLicense {
                        sku_id: sku(p),
                        disabled_plans: Vec::new(),
                    })
                    .collect(),
                remove_licenses: remove.iter().map(|p| sku(p)).collect(),
            },
        }],
    }
}

/// Runs `units` as one phase through an executor whose gate allows what the example
/// config, edited by `edits` and `extra`, allows; the outcomes, and the journal's lines.
async fn run_phase(
    edits: &[(&str, &str, &str)],
    extra: &[(&str, &str)],
    units: impl FnOnce(&TenantSnapshot) -> Vec<Unit>,
) -> (Vec<UnitOutcome>, Vec<serde_json::Value>, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), edits, extra);
    let desired = licensectl::config::load(&config)
        .desired
        .expect("a valid config");
    let live = contoso();
    let tenant = Emulated::serve(live.clone(), EmulatorOptions::default()).await;
    let client = graph_client(
        &tenant.running.url,
        &tenant.tid,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        RetryPolicy::default(),
        4,
    );
    let journal_path = dir.path().join("journal.jsonl");
    let journal = Journal::open(&journal_path).expect("journal");
    let gate = Gate::new(Allowed::new(&desired, &live, false));
    let executor = Executor::new(&client, &journal, &NoProgress, &gate);
    let phase = Phase {
        kind: PhaseKind::Removals,
        units: units(&live),
    };
    let outcomes = executor.run(&phase).await.expect("journal works");
    drop(journal);
    let lines = read_journal(&journal_path);
    (outcomes, lines, write_requests(&tenant))
}

fn read_journal(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The refusal reason of each outcome (`None`: applied).
fn reasons(outcomes: &[UnitOutcome]) -> Vec<Option<String>> {
    outcomes
        .iter()
        .map(|o| match o {
            UnitOutcome::Applied { .. } => None,
            UnitOutcome::Failed(f) => {
                assert_eq!(f.code.as_deref(), Some("licensectl.refused"), "{f:?}");
                assert_eq!(f.status, 0, "never sent: {f:?}");
                Some(f.message.clone())
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_the_gate_refuses_writes_that_bypass_the_planner_and_sends_the_rest() {
    let (outcomes, journal, writes) = run_phase(
        // olga, a member of Frontline Workers, is protected too.
        &[(
            "licensectl.yaml",
            "    - ceo@contoso.com",
            "    - ceo@contoso.com\n    - olga@contoso.com",
        )],
        &[],
        |live| {
            vec![
                unit(live, user(live, "ceo@contoso.com"), &[], &["SPE_E5"]),
                unit(live, group(live, "SG-License-EMS"), &[], &["EMS"]),
                unit(
                    live,
                    group(live, "Frontline Workers"),
                    &[],
                    &["DESKLESSPACK"],
                ),
                unit(
                    live,
                    user(live, "victor@contoso.com"),
                    &[],
                    &["ENTERPRISEPACK"],
                ),
                // Governed by the example's rule, which does not name ENTERPRISEPACK.
                unit(
                    live,
                    user(live, "trent@contoso.com"),
                    &[],
                    &["ENTERPRISEPACK"],
                ),
                unit(live, user(live, "bob@contoso.com"), &["POWER_BI_PRO"], &[]),
                // What the config gives goes through.
                unit(
                    live,
                    user(live, "carol@contoso.com"),
                    &[],
                    &["ENTERPRISEPACK"],
                ),
            ]
        },
    )
    .await;
    let found = reasons(&outcomes);
    let expected = [
        Some("protected user ceo@contoso.com would lose SPE_E5"),
        Some("protected group SG-License-EMS would lose EMS"),
        Some(
            "group Frontline Workers would take DESKLESSPACK from its protected member(s) olga@contoso.com",
        ),
        Some("user victor@contoso.com is not managed by the config"),
        Some(
            "no rule names ENTERPRISEPACK, so the rules do not govern it on user trent@contoso.com",
        ),
        Some("the config does not give user bob@contoso.com POWER_BI_PRO"),
        None,
    ];
    assert_eq!(found.len(), expected.len());
    for (got, want) in found.iter().zip(expected) {
        match (got, want) {
            (Some(got), Some(want)) => {
                assert!(got.starts_with(&format!("not sent: {want}")), "{got}");
            }
            (None, None) => {}
            _ => panic!("{got:?} vs {want:?}"),
        }
    }
    assert_eq!(writes, 1, "only carol's removal was sent");
    let requests: Vec<&str> = journal
        .iter()
        .filter(|l| l["event"] == "request")
        .filter_map(|l| l["principal"]["name"].as_str())
        .collect();
    assert_eq!(requests, vec!["carol@contoso.com"]);
    let refused = journal
        .iter()
        .filter(|l| l["event"] == "result" && l["error_code"] == "licensectl.refused")
        .count();
    assert_eq!(refused, 6, "one failed result each, never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_the_gate_refuses_ten_removals_under_max_removals_five() {
    let (outcomes, journal, writes) = run_phase(
        &[("licensectl.yaml", "max_removals: 10", "max_removals: 5")],
        &[(
            "licenses/leavers.yaml",
            "users:\n  heidi@contoso.com: { licenses: [] }\n  mallory@contoso.com: { licenses: [] }\n  trent@contoso.com: { licenses: [] }\n  uma@contoso.com: { licenses: [] }\n  victor@contoso.com: { licenses: [] }\n  wendy@contoso.com: { licenses: [] }\n",
        )],
        |live| {
            [
                ("heidi@contoso.com", &["SPE_E3"][..]),
                ("mallory@contoso.com", &["ENTERPRISEPACK"][..]),
                ("trent@contoso.com", &["ENTERPRISEPACK"][..]),
                ("uma@contoso.com", &["ENTERPRISEPACK", "FLOW_FREE"][..]),
                ("victor@contoso.com", &["ENTERPRISEPACK"][..]),
                ("wendy@contoso.com", &["SPE_E3"][..]),
                ("carol@contoso.com", &["ENTERPRISEPACK"][..]),
                ("grace@contoso.com", &["SPE_E3"][..]),
                ("bob@contoso.com", &["SPE_E3"][..]),
            ]
            .into_iter()
            .map(|(upn, skus)| unit(live, user(live, upn), &[], skus))
            .collect()
        },
    )
    .await;
    for reason in reasons(&outcomes) {
        let reason = reason.expect("refused");
        assert!(
            reason.starts_with(
                "not sent: the writes would remove 10 licenses, more than safety.max_removals (5)"
            ),
            "{reason}"
        );
    }
    assert_eq!(writes, 0, "nothing was sent");
    assert!(journal.iter().all(|l| l["event"] != "request"));
}
