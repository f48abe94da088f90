//! `POST /$batch`: up to 20 requests, `dependsOn` with 424 on a failed dependency,
//! responses correlated by `id`, each item authorised, throttled and faulted on its own.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::auth::Claims;
use super::error::GraphError;
use super::{Call, Emulator, Reply, new_request_id, route};

/// Graph's limit of requests per batch.
pub(crate) const MAX_BATCH: usize = 20;

struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn batch_error(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "BadRequest", message)
}

fn parse(body: Option<&Value>) -> Result<Vec<Item>, GraphError> {
    let requests = body
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            batch_error("Invalid batch payload format: expected {\"requests\": [...]}.")
        })?;
    if requests.is_empty() {
        return Err(batch_error(
            "Invalid batch payload format: 'requests' is empty.",
        ));
    }
    if requests.len() > MAX_BATCH {
        return Err(batch_error(format!(
            "The batch contains {} requests; a batch may contain at most {MAX_BATCH}.",
            requests.len()
        )));
    }
    let mut items: Vec<Item> = Vec::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(batch_error(
                    "Every batch request needs a non-empty string 'id'.",
                ));
            }
        };
        if items.iter().any(|i| i.id.eq_ignore_ascii_case(&id)) {
            return Err(batch_error(format!(
                "Batch request ids must be unique; '{id}' appears twice."
            )));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| batch_error(format!("Batch request '{id}' lacks a valid 'method'.")))?;
        let url = r
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| batch_error(format!("Batch request '{id}' lacks 'url'.")))?
            .to_owned();
        let headers: Vec<(String, String)> = match r.get("headers") {
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let depends_on: Vec<String> = match r.get("dependsOn") {
            Some(Value::Array(d)) => d
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        items.push(Item {
            id,
            method,
            url,
            headers,
            body: r.get("body").cloned(),
            depends_on,
        });
    }
    for item in &items {
        for dep in &item.depends_on {
            if !items.iter().any(|i| i.id.eq_ignore_ascii_case(dep)) {
                return Err(batch_error(format!(
                    "Batch request '{}' depends on '{dep}', which is not in the batch.",
                    item.id
                )));
            }
        }
    }
    Ok(items)
}

fn item_response(id: &str, reply: Reply) -> Value {
    let mut headers = Map::new();
    if reply.body.is_some() {
        headers.insert(
            "Content-Type".to_owned(),
            Value::String("application/json".to_owned()),
        );
    }
    headers.insert(
        "Cache-Control".to_owned(),
        Value::String("no-cache".to_owned()),
    );
    for (k, v) in reply.headers {
        headers.insert(k, Value::String(v));
    }
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::String(id.to_owned()));
    out.insert("status".to_owned(), json!(reply.status));
    out.insert("headers".to_owned(), Value::Object(headers));
    if let Some(body) = reply.body {
        out.insert("body".to_owned(), body);
    }
    Value::Object(out)
}

async fn run_item(emu: &Emulator, outer: &Call, claims: &Claims, item: &Item) -> Reply {
    let mut call = Call {
        method: item.method.clone(),
        path: String::new(),
        query: String::new(),
        headers: item.headers.clone(),
        body: item.body.clone(),
        base: outer.base.clone(),
        request_id: new_request_id(),
        client_request_id: outer.client_request_id.clone(),
    };
    let rel = item.url.trim_start_matches('/');
    let (path, query) = rel.split_once('?').unwrap_or((rel, ""));
    let lower = path.to_ascii_lowercase();
    if item.url.contains("://") || lower.starts_with("v1.0/") || lower.starts_with("beta/") {
        return Reply::error(
            &GraphError::bad_request(format!(
                "The URL '{}' of a batch request must be relative to the version, e.g. /users/{{id}}/assignLicense.",
                item.url
            )),
            &call,
        );
    }
    call.path = format!("/{path}");
    call.query = query.to_owned();
    if call.body.is_some() && call.header("content-type").is_none() {
        return Reply::error(
            &GraphError::bad_request(
                "A batch request with a body must have a 'Content-Type' header.",
            ),
            &call,
        );
    }
    match route(&call.path) {
        Ok(r) => emu.execute_one(call, r, claims, true).await,
        Err(e) => Reply::error(&e, &call),
    }
}

/// Runs a batch: items without pending dependencies run concurrently, in waves.
pub(super) async fn run(emu: &Emulator, outer: &Call, claims: &Claims) -> Reply {
    let items = match parse(outer.body.as_ref()) {
        Ok(items) => items,
        Err(e) => return Reply::error(&e, outer),
    };
    let mut status: HashMap<String, u16> = HashMap::new();
    let mut responses: Vec<Value> = Vec::with_capacity(items.len());
    let mut pending: Vec<&Item> = items.iter().collect();
    while !pending.is_empty() {
        let (ready, waiting): (Vec<&Item>, Vec<&Item>) = pending.into_iter().partition(|i| {
            i.depends_on
                .iter()
                .all(|d| status.contains_key(&d.to_ascii_lowercase()))
        });
        pending = waiting;
        if ready.is_empty() {
            // A dependency cycle: nothing can run.
            for i in pending.drain(..) {
                let e = GraphError::new(
                    424,
                    "FailedDependency",
                    "The request has a cyclic dependency.",
                );
                responses.push(item_response(&i.id, Reply::error(&e, outer)));
            }
            break;
        }
        let mut runnable = Vec::new();
        for i in ready {
            let failed = i.depends_on.iter().any(|d| {
                status
                    .get(&d.to_ascii_lowercase())
                    .is_some_and(|s| !(200..300).contains(s))
            });
            if failed {
                status.insert(i.id.to_ascii_lowercase(), 424);
                let e = GraphError::new(
                    424,
                    "FailedDependency",
                    "The request could not be executed because a request it depends on failed.",
                );
                emu.record("(batch dependency)", 424, false, 0);
                responses.push(item_response(&i.id, Reply::error(&e, outer)));
            } else {
                runnable.push(i);
            }
        }
        let replies = futures_util::future::join_all(
            runnable.iter().map(|i| run_item(emu, outer, claims, i)),
        )
        .await;
        for (i, reply) in runnable.iter().zip(replies) {
            status.insert(i.id.to_ascii_lowercase(), reply.status);
            responses.push(item_response(&i.id, reply));
        }
    }
    super::lock(&emu.shared.stats).batch_items += items.len() as u64;
    Reply::json(200, json!({ "responses": responses }))
}
