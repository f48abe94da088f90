//! `licensectl apply` end to end through the CLI against the emulator (issue 6):
//! convergence (plan → apply → re-plan empty, a second apply writes nothing), a swap is
//! one call, refusals (stale or foreign saved plan, changed config, wrong tenant, unsafe
//! plan, no confirmation), write permission errors, and the journal.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use graph_emulator::EmulatorOptions;
use graph_emulator::auth::DEFAULT_CLIENT_SECRET;
use licensectl::snapshot::AppRegistration;
use serde_json::Value;

use crate::util::{Emulated, config_with, contoso, on_a_terminal, show, text};

/// Write requests (assignLicense and PATCH, any status) the emulator answered.
pub(crate) fn write_requests(tenant: &Emulated) -> u64 {
    let stats = tenant.running.emulator.stats();
    stats
        .by_endpoint
        .iter()
        .filter(|(k, _)| k.contains("assignLicense") || k.starts_with("PATCH "))
        .map(|(_, by_status)| by_status.values().sum::<u64>())
        .sum()
}

fn endpoint(tenant: &Emulated, key: &str) -> BTreeMap<u16, u64> {
    tenant
        .running
        .emulator
        .stats()
        .by_endpoint
        .get(key)
        .cloned()
        .unwrap_or_default()
}

fn journal_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("journal written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .collect()
}

fn options() -> EmulatorOptions {
    EmulatorOptions {
        group_processing: Duration::from_millis(300),
        ..EmulatorOptions::default()
    }
}

/// Applies `config`, then checks: exit 0 and "Apply complete", an empty re-plan, and a
/// second apply that writes nothing.
async fn converge(tenant: &Emulated, config: &Path, journal: &Path, extra: &[&str]) -> Output {
    let config_arg = config.display().to_string();
    let journal_arg = journal.display().to_string();
    let mut args = vec![
        "apply",
        "--config",
        &config_arg,
        "--auto-approve",
        "--journal",
        &journal_arg,
        "--group-timeout",
        "30",
    ];
    args.extend_from_slice(extra);
    let first = tenant.run(&args).await;
    assert_eq!(first.status.code(), Some(0), "{}", show(&first));
    assert!(
        text(&first.stdout).contains("Apply complete:")
            && text(&first.stdout).contains(" 0 failed."),
        "{}",
        show(&first)
    );
    let replan = tenant
        .run(&["plan", "--config", &config_arg, "--detailed-exitcode"])
        .await;
    assert_eq!(
        replan.status.code(),
        Some(0),
        "re-plan is empty: {}",
        show(&replan)
    );
    assert!(text(&replan.stdout).contains("Plan: 0 to add, 0 to change, 0 to remove."));
    let writes = write_requests(tenant);
    let again = tenant.run(&args).await;
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(
        text(&again.stdout).contains("No changes."),
        "{}",
        show(&again)
    );
    assert_eq!(
        write_requests(tenant),
        writes,
        "the second apply made zero write requests"
    );
    first
}

/// A name, edits `(file, from, to)` of the example config, and extra `(file, text)`.
type Scenario = (
    &'static str,
    Vec<(&'static str, &'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_apply_converges_for_a_series_of_configs() {
    let scenarios: Vec<Scenario> = vec![
        // Swap (bob), plan updates (alice, the E3 group), usage location (erin),
        // removals (carol, grace), an add with a location (frank).
        ("the example", vec![], vec![]),
        (
            "a group assignment",
            vec![],
            vec![(
                "licenses/pilot.yaml",
                "groups:\n  copilot-pilot:\n    licenses:\n      - sku: POWER_BI_PRO\n",
            )],
        ),
        (
            "a group removal",
            vec![(
                "licenses/groups.yaml",
                "  frontline:                         # by mailNickname\n    licenses:\n      - sku: DESKLESSPACK            # Office 365 F3",
                "  frontline:\n    licenses: []",
            )],
            vec![],
        ),
        (
            "a usage location on its own",
            vec![],
            vec![(
                "licenses/moves.yaml",
                "users:\n  adams@contoso.com:\n    usage_location: GB\n    licenses: []\n",
            )],
        ),
        (
            "a service plan switched back on",
            vec![(
                "licensectl.yaml",
                "    - sku: SPE_E3                    # Microsoft 365 E3\n      disabled_plans: [YAMMER_ENTERPRISE]\n  executive:",
                "    - sku: SPE_E3\n  executive:",
            )],
            vec![],
        ),
    ];
    for (name, edits, extra) in scenarios {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config_with(dir.path(), &edits, &extra);
        let tenant = Emulated::serve(contoso(), options()).await;
        let journal = dir.path().join("journal.jsonl");
        let out = converge(&tenant, &config, &journal, &[]).await;
        let lines = journal_lines(&journal);
        assert!(
            lines
                .iter()
                .any(|l| l["event"] == "end" && l["outcome"] == "converged"),
            "{name}: the journal ends converged"
        );
        assert!(
            !text(&out.stdout).contains(DEFAULT_CLIENT_SECRET)
                && !text(&out.stderr).contains(DEFAULT_CLIENT_SECRET),
            "{name}: no secret in the output"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_a_swap_is_one_assign_license_call_with_add_and_remove() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[]);
    let tenant = Emulated::serve(contoso(), options()).await;
    let journal = dir.path().join("journal.jsonl");
    converge(&tenant, &config, &journal, &[]).await;
    let bob: Vec<Value> = journal_lines(&journal)
        .into_iter()
        .filter(|l| l["event"] == "request" && l["principal"]["name"] == "bob@contoso.com")
        .collect();
    assert_eq!(bob.len(), 1, "one request for bob: {bob:?}");
    assert_eq!(bob[0]["operation"], "assignLicense");
    let body = &bob[0]["body"];
    assert_eq!(
        body["addLicenses"][0]["skuId"],
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
    );
    assert_eq!(
        body["removeLicenses"][0],
        "05e9a617-0261-4cee-bb44-138d3ef5d965"
    );
    // Seven users change licenses (alice, bob, carol, erin, frank, grace, and yara by the
    // rule synced-staff): seven calls, all 200.
    assert_eq!(
        endpoint(&tenant, "POST /users/{id}/assignLicense"),
        BTreeMap::from([(200, 7)])
    );
    // Erin's and yara's usage locations went first, in the same batch.
    assert_eq!(
        endpoint(&tenant, "PATCH /users/{id}"),
        BTreeMap::from([(204, 2)])
    );
}

/// `apply [SAVED] --config CONFIG --auto-approve`.
async fn auto_apply(tenant: &Emulated, saved: Option<&Path>, config: &Path) -> Output {
    let saved = saved.map(|p| p.display().to_string());
    let config = config.display().to_string();
    let mut args = vec!["apply"];
    args.extend(saved.as_deref());
    args.extend(["--config", &config, "--auto-approve"]);
    tenant.run(&args).await
}

/// `plan --config CONFIG --out SAVED`.
async fn save_plan(tenant: &Emulated, config: &Path, saved: &Path) -> Output {
    let (config, saved) = (config.display().to_string(), saved.display().to_string());
    tenant
        .run(&["plan", "--config", &config, "--out", &saved])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_refusals_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[]);
    let config_arg = config.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;

    // No --auto-approve and no terminal.
    let out = tenant.run(&["apply", "--config", &config_arg]).await;
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("--auto-approve"),
        "{}",
        show(&out)
    );

    // Unsafe plan: the numbers and the flag.
    let unsafe_config = config_with(
        &dir.path().join("unsafe"),
        &[("licensectl.yaml", "max_removals: 10", "max_removals: 1")],
        &[],
    );
    let out = auto_apply(&tenant, None, &unsafe_config).await;
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("more than safety.max_removals (1)")
            && text(&out.stderr).contains("--allow-unsafe"),
        "{}",
        show(&out)
    );

    // Wrong tenant: the config pins another one.
    let foreign = config_with(
        &dir.path().join("foreign"),
        &[(
            "licensectl.yaml",
            "tenant: contoso.onmicrosoft.com",
            "tenant: fabrikam.onmicrosoft.com",
        )],
        &[],
    );
    let out = auto_apply(&tenant, None, &foreign).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("fabrikam.onmicrosoft.com"));
    assert_eq!(
        text(&out.stdout),
        "",
        "nothing printed for the wrong tenant"
    );

    // Saved plans: stale, config changed, foreign tenant.
    let saved = dir.path().join("plan.json");
    let out = save_plan(&tenant, &config, &saved).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let edited = config.join("licenses/sales.yaml");
    let original = std::fs::read_to_string(&edited).expect("sales.yaml");
    std::fs::write(&edited, format!("{original}\n# a reviewer's note\n")).expect("edit");
    let out = auto_apply(&tenant, Some(&saved), &config).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("changed since the plan was made"),
        "{}",
        show(&out)
    );
    std::fs::write(&edited, original).expect("restore");

    let plan_text = std::fs::read_to_string(&saved).expect("saved plan");
    let foreign_plan = dir.path().join("foreign-plan.json");
    std::fs::write(
        &foreign_plan,
        plan_text.replace(&tenant.tid, "00000000-1111-4222-8333-444444444444"),
    )
    .expect("write");
    let out = auto_apply(&tenant, Some(&foreign_plan), &config).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("is for tenant 00000000-1111-4222-8333-444444444444"));

    assert_eq!(write_requests(&tenant), 0, "no refusal wrote anything");

    // Someone changes alice in the portal: the saved plan is stale and names her.
    let other = config_with(
        &dir.path().join("other"),
        &[(
            "licenses/sales.yaml",
            "      - sku: POWER_BI_PRO            # extra license on top of the profile\n",
            "",
        )],
        &[],
    );
    let out = auto_apply(&tenant, None, &other).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let writes = write_requests(&tenant);
    let out = auto_apply(&tenant, Some(&saved), &config).await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("stale") && text(&out.stderr).contains("user alice@contoso.com"),
        "{}",
        show(&out)
    );
    assert_eq!(
        write_requests(&tenant),
        writes,
        "the stale plan wrote nothing"
    );

    // A fresh saved plan applies and converges.
    let out = save_plan(&tenant, &config, &saved).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = auto_apply(&tenant, Some(&saved), &config).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = tenant
        .run(&["plan", "--config", &config_arg, "--detailed-exitcode"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_a_missing_write_permission_is_reported_with_its_fix() {
    const READER: &str = "c0000000-0000-4000-8000-0000000000aa";
    const READER_SECRET: &str = "reader-secret-value";
    let mut snapshot = contoso();
    snapshot.apps = vec![AppRegistration {
        app_id: READER.into(),
        display_name: Some("licensectl read-only".into()),
        client_secrets: vec![READER_SECRET.into()],
        public_keys_pem: Vec::new(),
        federated_credentials: Vec::new(),
        roles: [
            "LicenseAssignment.Read.All",
            "User.Read.All",
            "GroupMember.Read.All",
            "Group.Read.All",
            "Organization.Read.All",
        ]
        .map(str::to_owned)
        .to_vec(),
    }];
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[]);
    let journal = dir.path().join("journal.jsonl");
    let tenant = Emulated::serve(snapshot, options()).await;
    let out = tenant
        .run_as(
            READER,
            READER_SECRET,
            &[
                "apply",
                "--config",
                &config.display().to_string(),
                "--auto-approve",
                "--journal",
                &journal.display().to_string(),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // The preflight (issue 13) names the missing permission before any write, instead of
    // one 403 per write.
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the token lacks LicenseAssignment.ReadWrite.All")
            && stderr.contains(
                "grant the app registration the Microsoft Graph application permission LicenseAssignment.ReadWrite.All and give admin consent"
            ),
        "{}",
        show(&out)
    );
    assert_eq!(write_requests(&tenant), 0, "nothing was sent");
    assert!(
        !journal.exists(),
        "no journal: nothing was about to be written"
    );
    for secret in [READER_SECRET, "eyJ"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue6_apply_asks_on_a_terminal_and_only_yes_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(dir.path(), &[], &[]);
    let config_arg = config.display().to_string();
    let tenant = Emulated::serve(contoso(), options()).await;
    let apply = tenant.command(&["apply", "--config", &config_arg, "--group-timeout", "30"]);

    let out = on_a_terminal(&apply, "no\n").await;
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        all.contains("Do you want to apply these 8 change(s)? Only 'yes' will be accepted:"),
        "{all}"
    );
    // The plan, its summary and its destructive changes come before the question, for a
    // saved plan too (issue 12).
    let saved = dir.path().join("plan.json");
    let out = save_plan(&tenant, &config, &saved).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let saved_arg = saved.display().to_string();
    let apply_saved = tenant.command(&["apply", &saved_arg, "--config", &config_arg]);
    for out in [
        on_a_terminal(&apply, "no\n").await,
        on_a_terminal(&apply_saved, "no\n").await,
    ] {
        let screen = text(&out.stdout);
        let at = |needle: &str| {
            screen
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} is shown: {screen}"))
        };
        let question = at("Do you want to apply these 8 change(s)?");
        assert!(
            at("Plan: 4 to add, 4 to change, 3 to remove.") < question,
            "{screen}"
        );
        assert!(at("- user carol@contoso.com") < question, "{screen}");
        assert!(at("DESTRUCTIVE") < question, "{screen}");
    }
    assert!(
        all.contains("Apply cancelled; nothing was written."),
        "{all}"
    );
    assert_eq!(write_requests(&tenant), 0);

    let out = on_a_terminal(&apply, "yes\n").await;
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    // The default journal lives in the config directory, kept out of git.
    let journals: Vec<_> = std::fs::read_dir(config.join(".licensectl/journal"))
        .expect("default journal directory")
        .collect();
    assert_eq!(journals.len(), 1);
    assert_eq!(
        std::fs::read_to_string(config.join(".licensectl/.gitignore")).expect("gitignore"),
        "# licensectl apply journals; keep them as CI artifacts, not in git.\n*\n"
    );
    assert!(
        all.contains("Apply complete: 4 added, 4 changed, 3 removed, 0 failed."),
        "{all}"
    );
}
