//! Fidelity: the emulator's responses have the field names and JSON types of Microsoft's
//! own samples in `shared/graph-reference/examples/` beside the checkout (read at test
//! time; skipped with a message when the folder is absent).

use std::path::{Path, PathBuf};

use crate::common::*;
use graph_emulator::EmulatorOptions;
use serde_json::{Value, json};

/// `shared/graph-reference/examples` beside the checkout: the first ancestor of the
/// crate that has it (a worktree sits deeper than the main checkout).
#[allow(clippy::print_stdout)]
pub(crate) fn examples() -> Option<PathBuf> {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = crate_dir
        .ancestors()
        .map(|a| a.join("shared/graph-reference/examples"))
        .find(|d| d.is_dir());
    if found.is_none() {
        println!(
            "skipping fidelity test: no shared/graph-reference/examples above {}",
            crate_dir.display()
        );
    }
    found
}

/// Reads a `.json` example, or the JSON body of an `.http` example.
fn example(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("example readable");
    let json_text = if name.ends_with(".http") {
        let start = text.find("\n{").expect("a JSON body");
        text[start..].to_owned()
    } else {
        text
    };
    // Some samples carry trailing commas; drop them before parsing.
    let cleaned = json_text.replace(",\n}", "\n}").replace(",\n\n}", "\n}");
    serde_json::from_str(&cleaned).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `sample` exists in `ours` with the same JSON type (a null in either
/// side matches any type, as Graph's nullable properties do).
fn same_shape(sample: &Value, ours: &Value, path: &str, skip: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    match (sample, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, sv) in s {
                if skip.contains(&k.as_str()) {
                    continue;
                }
                match o.get(k) {
                    None => problems.push(format!("{path}.{k} missing")),
                    Some(ov) => problems.extend(same_shape(sv, ov, &format!("{path}.{k}"), skip)),
                }
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            if let (Some(sf), Some(of)) = (s.first(), o.first()) {
                problems.extend(same_shape(sf, of, &format!("{path}[0]"), skip));
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (s, o) if kind(s) != kind(o) => {
            problems.push(format!("{path}: sample {} vs ours {}", kind(s), kind(o)))
        }
        _ => {}
    }
    problems
}

fn assert_shape(name: &str, sample: &Value, ours: &Value, skip: &[&str]) {
    let problems = same_shape(sample, ours, "", skip);
    assert!(problems.is_empty(), "{name}: {problems:?}\nours: {ours}");
}

#[tokio::test]
async fn responses_match_microsoft_samples() {
    let Some(dir) = examples() else { return };
    let emu = start().await;
    let (_, _, skus) = emu.get("/subscribedSkus").await;
    assert_shape(
        "subscribedSkus-list",
        &example(&dir, "subscribedSkus-list.response.json"),
        &skus,
        &[],
    );
    let (_, _, sku) = emu.get(&format!("/subscribedSkus/{TENANT}_{E3}")).await;
    assert_shape(
        "subscribedSku-get",
        &example(&dir, "subscribedSku-get.response.http"),
        &sku,
        &[],
    );
    let (_, _, users) = emu.get("/users").await;
    assert_shape(
        "users-list",
        &example(&dir, "users-list.response.http"),
        &users,
        &[],
    );
    let (_, _, page) = emu.get("/users?$top=2").await;
    assert_shape(
        "paging",
        &example(&dir, "paging-nextLink.fragment.json"),
        &page,
        &[],
    );
    let (_, _, states) = emu
        .get(&format!("/users/{CAROL}?$select=licenseAssignmentStates"))
        .await;
    let resource = example(&dir, "licenseAssignmentState.resource.json");
    let mut ours_keys: Vec<&String> = states["licenseAssignmentStates"][0]
        .as_object()
        .expect("state")
        .keys()
        .collect();
    let mut sample_keys: Vec<&String> = resource.as_object().expect("resource").keys().collect();
    ours_keys.sort();
    sample_keys.sort();
    assert_eq!(ours_keys, sample_keys, "licenseAssignmentState properties");
    let (_, _, assigned) = emu
        .post(
            &format!("/users/{DAVE}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_shape(
        "user-assignLicense-add",
        &example(&dir, "user-assignLicense-add.response.http"),
        &assigned,
        &[],
    );
    let (status, _, group) = emu
        .post(
            &format!("/groups/{G2}/assignLicense"),
            json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(status, 202);
    assert_shape(
        "group-assignLicense-add",
        &example(&dir, "group-assignLicense-add.response.http"),
        &group,
        &[],
    );
}

#[tokio::test]
async fn errors_batch_tokens_and_throttling_match_microsoft_samples() {
    let Some(dir) = examples() else { return };
    let emu = start().await;
    let reader = secret_token(&emu.running.url, READ_APP).await;
    let r = emu
        .http
        .post(emu.url(&format!("/users/{DAVE}/assignLicense")))
        .bearer_auth(&reader)
        .json(&json!({"addLicenses": [], "removeLicenses": []}))
        .send()
        .await
        .expect("send");
    let (_, _, denied) = split(r).await;
    let sample = example(&dir, "error-authorization-requestdenied.json");
    assert_shape("requestdenied", &sample, &denied, &[]);
    assert_eq!(denied["error"]["code"], sample["error"]["code"]);
    assert_eq!(denied["error"]["message"], sample["error"]["message"]);
    let (_, _, count) = emu.get("/users?$filter=assignedLicenses/$count eq 0").await;
    let sample = example(&dir, "error-request-badrequest-count.json");
    assert_shape("badrequest-count", &sample, &count, &[]);
    assert_eq!(count["error"]["message"], sample["error"]["message"]);
    let (_, _, search) = emu.get("/users?$search=\"displayName:a\"").await;
    let sample = example(&dir, "error-request-unsupportedquery-search.json");
    assert_eq!(
        search["error"],
        json!({"code": sample["error"]["code"], "message": sample["error"]["message"], "innerError": search["error"]["innerError"]})
    );

    let (_, _, batch) = emu
        .post("/$batch", json!({"requests": [
            {"id": "1", "method": "GET", "url": "/users?$select=id,displayName,userPrincipalName&$count=true", "headers": {"ConsistencyLevel": "eventual"}},
            {"id": "2", "method": "DELETE", "url": format!("/groups/{G1}")},
        ]}))
        .await;
    let sample = example(&dir, "json-batch.response.json");
    let ours_ok = batch["responses"]
        .as_array()
        .expect("r")
        .iter()
        .find(|r| r["id"] == "1")
        .expect("1");
    let ours_err = batch["responses"]
        .as_array()
        .expect("r")
        .iter()
        .find(|r| r["id"] == "2")
        .expect("2");
    // Sample item 5 is a successful query; item 4 a 405 with a directory error body.
    assert_shape(
        "batch item ok",
        &sample["responses"][4],
        ours_ok,
        &["Cache-Control", "OData-Version"],
    );
    assert_shape("batch item error", &sample["responses"][3], ours_err, &[]);
    assert_eq!(ours_err["status"], 405);

    let (_, token_error) = token_response(
        &emu.running.url,
        &[
            ("client_id", FULL_APP),
            ("client_secret", SECRET),
            ("scope", "https://foo.microsoft.com/User.Read"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_shape(
        "token-error",
        &example(&dir, "token-error.json"),
        &token_error,
        &[],
    );
    assert_eq!(token_error["error"], "invalid_scope");
    let (_, token) = token_response(
        &emu.running.url,
        &[
            ("client_id", FULL_APP),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_shape(
        "token-response",
        &example(&dir, "token-response.json"),
        &token,
        &[],
    );

    let throttled = start_with(
        tenant(),
        EmulatorOptions {
            faults: "429=1".parse().expect("spec"),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let (_, _, body) = throttled.get("/users").await;
    assert_shape(
        "throttled-429",
        &example(&dir, "throttled-429.body.json"),
        &body,
        &[],
    );
}
