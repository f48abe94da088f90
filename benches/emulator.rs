//! Emulator throughput on a generated 100k-user tenant over loopback HTTP:
//! paged user listing (`$top=999`) and `$batch` of 20 `assignLicense`.
//! Run with `cargo bench --bench emulator`; it prints the numbers.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::generate::{GenerateOptions, generate};
use graph_emulator::{EmulatorOptions, serve};
use serde_json::{Value, json};

const USERS: usize = 100_000;
const CONCURRENCY: usize = 8;

#[tokio::main]
async fn main() {
    let t = Instant::now();
    let snapshot = generate(&GenerateOptions {
        users: USERS,
        groups: 50,
        seed: 1,
        ..GenerateOptions::default()
    })
    .unwrap();
    println!(
        "generate: {USERS} users in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let tenant = snapshot.tenant_id.to_string();
    // Direct assignments to re-send (in-place updates: no seat changes, always valid).
    let direct: Vec<(String, String)> = snapshot
        .users
        .iter()
        .filter_map(|u| {
            u.direct_states()
                .next()
                .map(|s| (u.id.to_string(), s.sku_id.to_string()))
        })
        .collect();
    let running = serve(snapshot, EmulatorOptions::default(), "127.0.0.1:0")
        .await
        .unwrap();
    let base = running.url.clone();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    // 1. Paged listing: CONCURRENCY clients each walk the whole tenant.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut url = format!("{base}/v1.0/users?$top=999&$select=id,userPrincipalName,usageLocation,assignedLicenses,licenseAssignmentStates");
            let (mut pages, mut users) = (0usize, 0usize);
            loop {
                let body: Value = http.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
                pages += 1;
                users += body["value"].as_array().unwrap().len();
                match body["@odata.nextLink"].as_str() {
                    Some(next) => url = next.to_owned(),
                    None => break,
                }
            }
            (pages, users)
        }));
    }
    let (mut pages, mut users) = (0, 0);
    for task in tasks {
        let (p, u) = task.await.unwrap();
        pages += p;
        users += u;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "paged listing ($top=999, {CONCURRENCY} clients): {pages} pages in {secs:.2} s = {:.0} requests/s, {:.0} users/s",
        pages as f64 / secs,
        users as f64 / secs
    );

    // 2. $batch of 20 assignLicense.
    let batches_per_client = 100;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONCURRENCY {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        let direct = direct.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for b in 0..batches_per_client {
                let requests: Vec<Value> = (0..20)
                    .map(|i| {
                        let (user, sku) = &direct[(c * batches_per_client * 20 + b * 20 + i) % direct.len()];
                        json!({"id": i.to_string(), "method": "POST", "url": format!("/users/{user}/assignLicense"),
                               "headers": {"Content-Type": "application/json"},
                               "body": {"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}})
                    })
                    .collect();
                let body: Value = http.post(format!("{base}/v1.0/$batch")).bearer_auth(&token).json(&json!({"requests": requests})).send().await.unwrap().json().await.unwrap();
                ok += body["responses"].as_array().unwrap().iter().filter(|r| r["status"] == 200).count();
            }
            ok
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let batches = CONCURRENCY * batches_per_client;
    println!(
        "$batch of 20 assignLicense ({CONCURRENCY} clients): {batches} batches in {secs:.2} s = {:.0} batches/s, {:.0} assignLicense/s ({ok} succeeded)",
        batches as f64 / secs,
        ok as f64 / secs
    );
}
