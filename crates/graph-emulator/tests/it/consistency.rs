//! Eventual consistency (`replication_lag`) and the license history.

use std::time::Duration;

use crate::common::*;
use graph_emulator::{EmulatorOptions, LicenseHistory};
use serde_json::{Value, json};

const LAG: Duration = Duration::from_millis(400);

fn lagging() -> EmulatorOptions {
    EmulatorOptions {
        replication_lag: LAG,
        ..EmulatorOptions::default()
    }
}

fn skus(body: &Value, field: &str) -> Vec<String> {
    body[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| l["skuId"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn history(emu: &Emu, query: &str) -> (u16, Value) {
    let r = emu
        .http
        .get(format!(
            "{}/_emulator/license-history{query}",
            emu.running.url
        ))
        .send()
        .await
        .expect("send");
    let (s, _, b) = split(r).await;
    (s, b)
}

#[tokio::test]
async fn reads_within_the_lag_show_the_user_before_the_write_and_the_write_response_is_authoritative()
 {
    let emu = start_with(tenant(), lagging()).await;
    let add = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    let (s, _, written) = emu.post(&format!("/users/{DAVE}/assignLicense"), add).await;
    assert_eq!(s, 200, "{written}");
    assert_eq!(
        skus(&written, "assignedLicenses"),
        [E1],
        "the write's own answer"
    );
    let select = "$select=id,assignedLicenses,licenseAssignmentStates";
    let (_, _, read) = emu.get(&format!("/users/{DAVE}?{select}")).await;
    assert!(skus(&read, "assignedLicenses").is_empty(), "stale: {read}");
    assert!(skus(&read, "licenseAssignmentStates").is_empty());
    let (_, _, list) = emu
        .get(&format!(
            "/users?$filter=assignedLicenses/any(x:x/skuId eq {E1})&$select=id"
        ))
        .await;
    assert_eq!(list["value"], json!([]), "filters see the replica too");
    let (_, _, members) = emu
        .get(&format!("/groups/{G2}/members?$select=id,assignedLicenses"))
        .await;
    assert!(skus(&members["value"][0], "assignedLicenses").is_empty());
    tokio::time::sleep(LAG + Duration::from_millis(50)).await;
    let (_, _, read) = emu.get(&format!("/users/{DAVE}?{select}")).await;
    assert_eq!(skus(&read, "assignedLicenses"), [E1], "replicated: {read}");
}

#[tokio::test]
async fn an_assign_right_after_a_usage_location_patch_may_not_see_it() {
    let emu = start_with(tenant(), lagging()).await;
    assert_eq!(
        emu.patch(&format!("/users/{BOB}"), json!({"usageLocation": "FR"}))
            .await,
        204
    );
    let add = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    let (s, _, b) = emu
        .post(&format!("/users/{BOB}/assignLicense"), add.clone())
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["error"]["message"],
        "License assignment cannot be done for user with invalid usage location."
    );
    tokio::time::sleep(LAG + Duration::from_millis(50)).await;
    let (s, _, b) = emu.post(&format!("/users/{BOB}/assignLicense"), add).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_group_shows_its_previous_processing_state_until_the_write_replicates() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            group_processing: Duration::from_millis(100),
            ..lagging()
        },
    )
    .await;
    let add = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    for g in [G1, G2] {
        let (s, _, b) = emu
            .post(&format!("/groups/{g}/assignLicense"), add.clone())
            .await;
        assert_eq!(s, 202, "{b}");
        assert_eq!(b["id"], g, "the 202 answer is the group as written: {b}");
    }
    let state = |b: &Value| b["licenseProcessingState"].clone();
    let select = "$select=id,assignedLicenses,licenseProcessingState";
    let (_, _, g1) = emu.get(&format!("/groups/{G1}?{select}")).await;
    assert_eq!(state(&g1), json!({"state": "ProcessingComplete"}), "stale");
    assert_eq!(skus(&g1, "assignedLicenses"), [E3], "the old licenses too");
    let (_, _, g2) = emu.get(&format!("/groups/{G2}?{select}")).await;
    assert_eq!(state(&g2), Value::Null, "never processed before: null");
    // Processing ends after 100 ms; its writes lag too: the members still look unlicensed.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, _, dave) = emu
        .get(&format!("/users/{DAVE}?$select=licenseAssignmentStates"))
        .await;
    assert!(skus(&dave, "licenseAssignmentStates").is_empty(), "{dave}");
    tokio::time::sleep(LAG).await;
    let (_, _, g2) = emu.get(&format!("/groups/{G2}?{select}")).await;
    assert_eq!(state(&g2), json!({"state": "ProcessingComplete"}));
    let (_, _, dave) = emu
        .get(&format!("/users/{DAVE}?$select=licenseAssignmentStates"))
        .await;
    assert_eq!(skus(&dave, "licenseAssignmentStates"), [E1]);
}

#[tokio::test]
async fn stale_reads_with_a_probability_are_repeatable_for_a_seed() {
    let run = |seed: u64| async move {
        let emu = start_with(
            tenant(),
            EmulatorOptions {
                replication_lag: Duration::from_secs(60),
                stale_read_probability: 0.5,
                seed,
                ..EmulatorOptions::default()
            },
        )
        .await;
        let add =
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
        let (s, _, _) = emu.post(&format!("/users/{DAVE}/assignLicense"), add).await;
        assert_eq!(s, 200);
        let mut seen = Vec::new();
        for _ in 0..24 {
            let (_, _, b) = emu
                .get(&format!("/users/{DAVE}?$select=assignedLicenses"))
                .await;
            seen.push(skus(&b, "assignedLicenses").is_empty());
        }
        seen
    };
    let a = run(3).await;
    assert_eq!(a, run(3).await, "same seed, same replicas");
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
}

#[tokio::test]
async fn the_license_history_records_every_change_and_names_interruptions() {
    let emu = start().await;
    let post = |user: &'static str, body: Value| {
        let emu = &emu;
        async move {
            let (s, _, b) = emu
                .post(&format!("/users/{user}/assignLicense"), body)
                .await;
            assert_eq!(s, 200, "{b}");
        }
    };
    // Alice swaps E3 for E1 in one call: no gap. Dave gets E1, loses it, gets it back.
    post(
        ALICE,
        json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": [E3]}),
    )
    .await;
    let add = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []});
    post(DAVE, add.clone()).await;
    post(DAVE, json!({"addLicenses": [], "removeLicenses": [E1]})).await;
    post(DAVE, add).await;
    let (s, body) = history(&emu, "").await;
    assert_eq!(s, 200, "{body}");
    let h: LicenseHistory = serde_json::from_value(body).expect("history");
    assert_eq!(
        h,
        emu.running.emulator.license_history(),
        "HTTP and in-process agree"
    );
    assert_eq!(h.users.len(), 10, "every user");
    let alice = h.user(ALICE).expect("alice");
    let sets: Vec<Vec<String>> = alice
        .entries
        .iter()
        .map(|e| e.skus.iter().map(ToString::to_string).collect())
        .collect();
    assert_eq!(sets, [vec![E3.to_owned()], vec![E1.to_owned()]]);
    assert_eq!(h.user(CAROL).expect("carol").entries.len(), 1, "unchanged");
    let dave = h.user("dave@contoso.com").expect("dave");
    assert_eq!(dave.entries.len(), 4);
    assert!(
        dave.entries
            .windows(2)
            .all(|w| w[0].sequence < w[1].sequence),
        "time-ordered"
    );
    assert_eq!(h.interruptions.len(), 1, "{:?}", h.interruptions);
    assert_eq!(h.interruptions[0].user_id.to_string(), DAVE);
    assert_eq!(h.interruptions[0].sku_id.to_string(), E1);
    let (s, one) = history(&emu, "?user=dave@contoso.com").await;
    assert_eq!(s, 200);
    assert_eq!(one["users"].as_array().map(Vec::len), Some(1));
    let (s, _) = history(&emu, "?user=nobody@contoso.com").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_license_history_follows_group_processing_and_ignores_failed_calls() {
    let emu = start().await;
    let (s, _, _) = emu
        .post(
            &format!("/groups/{G2}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(s, 202);
    let (s, _, _) = emu
        .post(
            &format!("/users/{DAVE}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [E3]}),
        )
        .await;
    assert_eq!(s, 400);
    let h = emu.running.emulator.license_history();
    for id in [DAVE, ERIN] {
        let last = h.user(id).and_then(|u| u.entries.last()).expect("entries");
        assert!(
            last.skus.iter().any(|s| s.to_string() == E1),
            "{id} inherits E1: {h:?}"
        );
    }
    assert_eq!(h.user(DAVE).map(|u| u.entries.len()), Some(2));
}
