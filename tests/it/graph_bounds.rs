//! The Graph client and the token request against hostile or broken servers on
//! 127.0.0.1: paging that would never end, answers too large to hold, tokens Graph stops
//! accepting, and an authority that never answers or is not there. Each must end, within
//! its bound, with an error that names the real cause.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use licensectl::graph::{ClientOptions, GraphClient, GraphError, RetryPolicy};
use serde_json::json;

use crate::support::{CLIENT_ID, SECRET, TENANT};
use crate::util::{graph_client, licensectl, output, show, text};

/// How `/v1.0/users` misbehaves.
#[derive(Clone, Copy)]
enum Users {
    /// Page 1 links to page 2, which links back to page 1.
    LinkBack,
    /// Every page claims `@odata.count` 5, holds 999 users and links to a new page.
    PastTheCount,
    /// Answers `bytes` bytes of a JSON string, streamed without a length.
    Huge { bytes: u64 },
    /// Answers 401 to every token but the `accepted`-th and later.
    RefuseTokensBefore { accepted: u32 },
}

#[derive(Clone)]
struct Server {
    users: Users,
    tokens_issued: Arc<AtomicU32>,
    bytes_sent: Arc<AtomicU64>,
}

async fn token(State(s): State<Server>) -> Response {
    let n = s.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let claims = json!({"tid": TENANT, "roles": ["Directory.Read.All"], "n": n});
    let token = format!(
        "eyJhbGciOiJub25lIn0.{}.sig{n}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token}))
        .into_response()
}

fn token_number(headers: &HeaderMap) -> u32 {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(".sig").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn user(i: u64) -> serde_json::Value {
    json!({"id": format!("00000000-0000-4000-8000-{i:012}"), "userPrincipalName": format!("u{i}@contoso.com")})
}

async fn users(
    State(s): State<Server>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let link = |n: u64| format!("http://{host}/v1.0/users?page={n}");
    match s.users {
        Users::LinkBack => {
            let next = if page == 1 { link(2) } else { link(1) };
            axum::Json(json!({"value": [user(page)], "@odata.nextLink": next})).into_response()
        }
        Users::PastTheCount => {
            let value: Vec<_> = (0..999).map(|i| user(page * 1000 + i)).collect();
            axum::Json(
                json!({"@odata.count": 5, "value": value, "@odata.nextLink": link(page + 1)}),
            )
            .into_response()
        }
        Users::Huge { bytes } => {
            let sent = Arc::clone(&s.bytes_sent);
            let chunk = vec![b'x'; 64 * 1024];
            let stream = futures::stream::unfold(0u64, move |done| {
                let chunk = chunk.clone();
                let sent = Arc::clone(&sent);
                async move {
                    (done < bytes).then(|| {
                        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        (
                            Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)),
                            done + 64 * 1024,
                        )
                    })
                }
            });
            Response::new(Body::from_stream(stream))
        }
        Users::RefuseTokensBefore { accepted } => {
            if token_number(&headers) < accepted {
                let body = json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}});
                (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
            } else {
                axum::Json(json!({"value": [user(1)]})).into_response()
            }
        }
    }
}

async fn serve(users_behaviour: Users) -> (String, Server) {
    let server = Server {
        users: users_behaviour,
        tokens_issued: Arc::default(),
        bytes_sent: Arc::default(),
    };
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/users", get(users))
        .with_state(server.clone());
    (crate::util::listen(app).await, server)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        deadline: Duration::from_secs(20),
    }
}

fn client(url: &str) -> GraphClient {
    graph_client(url, TENANT, CLIENT_ID, SECRET, policy(), 2)
}

async fn read_users(client: &GraphClient) -> Result<Vec<serde_json::Value>, GraphError> {
    client
        .list_all(client.url("users?page=1").expect("url"), &[])
        .await
}

#[tokio::test]
async fn a_next_link_back_to_a_page_already_read_is_refused() {
    let (url, _) = serve(Users::LinkBack).await;
    let error = read_users(&client(&url)).await.expect_err("loops");
    assert!(
        matches!(error, GraphError::RepeatedLink { pages: 2, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("led back to a page already read"),
        "{error}"
    );
}

#[tokio::test]
async fn pages_are_bounded_by_the_collections_odata_count() {
    let (url, _) = serve(Users::PastTheCount).await;
    let error = read_users(&client(&url)).await.expect_err("past the count");
    assert!(
        matches!(
            error,
            GraphError::TooManyPages {
                what: "items",
                limit: 1004,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn response_bodies_are_capped_while_they_stream() {
    let three_gb = 3_000_000_000;
    let (url, server) = serve(Users::Huge { bytes: three_gb }).await;
    let endpoints = licensectl::graph::Endpoints::resolve(
        licensectl::graph::Cloud::Global,
        Some(&url),
        Some(&url),
    )
    .expect("endpoints");
    let settings = licensectl::auth::AuthSettings {
        method: Some(licensectl::auth::AuthMethod::Secret),
        tenant_id: Some(TENANT.to_owned()),
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(azure_core::credentials::Secret::new(SECRET.to_owned())),
        ..Default::default()
    };
    let http = reqwest::Client::new();
    let tokens = licensectl::auth::TokenSource::new(&settings, &endpoints, http.clone())
        .expect("credential");
    let client = GraphClient::new(
        http,
        endpoints.graph_v1(),
        tokens,
        ClientOptions {
            retry: policy(),
            max_response_bytes: 4 << 20,
            ..ClientOptions::default()
        },
    );
    let started = Instant::now();
    let error = read_users(&client).await.expect_err("too large");
    assert!(
        matches!(
            error,
            GraphError::BodyTooLarge {
                limit: 4_194_304,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("LICENSECTL_MAX_RESPONSE_BYTES"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Reading stopped at the limit: the server got to send little more than that (what
    // sat in socket buffers), not 3 GB.
    let sent = server.bytes_sent.load(Ordering::Relaxed);
    assert!(sent < 64 << 20, "the server sent {sent} bytes");
}

#[tokio::test]
async fn a_refused_token_is_replaced_by_a_fresh_one_once() {
    let (url, server) = serve(Users::RefuseTokensBefore { accepted: 2 }).await;
    let client = client(&url);
    let users = read_users(&client)
        .await
        .expect("the fresh token is accepted");
    assert_eq!(users.len(), 1);
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 2);
    // Later requests use the fresh token: no third one.
    read_users(&client).await.expect("still accepted");
    assert_eq!(server.tokens_issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_fresh_token_refused_too_fails_with_a_clear_message() {
    let (url, server) = serve(Users::RefuseTokensBefore { accepted: u32::MAX }).await;
    let error = read_users(&client(&url)).await.expect_err("refused twice");
    assert!(
        matches!(error, GraphError::TokenRejected { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(
            "the access token was refused, and so was a fresh one: 401 InvalidAuthenticationToken"
        ),
        "{text}"
    );
    assert_eq!(
        server.tokens_issued.load(Ordering::SeqCst),
        2,
        "exactly one fresh token"
    );
}

/// `licensectl snapshot` against an authority at `authority` with `--deadline 3`.
async fn snapshot_against(authority: &str) -> (std::process::Output, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = licensectl();
    cmd.args(["snapshot", "--deadline", "3", "--max-attempts", "4", "-o"])
        .arg(dir.path().join("t.json"))
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_AUTHORITY_HOST", authority)
        .env("LICENSECTL_GRAPH_URL", authority);
    let started = Instant::now();
    let out = output(cmd).await;
    (out, started.elapsed())
}

#[tokio::test]
async fn a_token_request_to_an_authority_that_never_answers_ends_at_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts every connection and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (out, elapsed) = snapshot_against(&format!("http://{addr}")).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(
        stderr.contains(&format!("cannot reach the authority host {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("check AZURE_CLIENT_SECRET"), "{stderr}");
}

#[tokio::test]
async fn a_token_request_to_a_closed_port_ends_within_the_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (out, elapsed) = snapshot_against(&format!("http://{addr}")).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(
        stderr.contains(&format!("cannot reach the authority host {addr}"))
            && stderr.contains("attempt(s)"),
        "{stderr}"
    );
    assert!(!stderr.contains("check AZURE_CLIENT_SECRET"), "{stderr}");
}
