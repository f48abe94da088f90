//! Hardening of the server itself: slow headers, oversized bodies, remote listening.

use std::time::{Duration, Instant};

use crate::common::*;
use graph_emulator::{EmulatorError, EmulatorOptions, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn slow_headers_are_cut_off_after_the_header_read_timeout() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            header_read_timeout: Duration::from_millis(300),
            ..EmulatorOptions::default()
        },
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(emu.running.addr)
        .await
        .expect("connect");
    // Slowloris: a request line and a header, then nothing.
    stream
        .write_all(b"GET /v1.0/users HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closes the connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after about the timeout: {:?}",
        started.elapsed()
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "no answer to an incomplete request"
    );
    let (status, _, _) = emu.get("/users?$top=1").await;
    assert_eq!(status, 200, "complete requests still work");
}

#[tokio::test]
async fn an_oversized_request_gets_a_graph_shaped_413() {
    let emu = start_with(
        tenant(),
        EmulatorOptions {
            max_request_bytes: 64 * 1024,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let big = "x".repeat(100 * 1024);
    for url in [
        emu.url("/$batch"),
        format!("{}/{TENANT}/oauth2/v2.0/token", emu.running.url),
    ] {
        let r = emu
            .http
            .post(&url)
            .bearer_auth(&emu.token)
            .header("content-type", "application/json")
            .body(format!("{{\"requests\": \"{big}\"}}"))
            .send()
            .await
            .expect("send");
        let (status, _, body) = split(r).await;
        assert_eq!(status, 413, "{url}");
        assert_eq!(error_code(&body), "RequestEntityTooLarge", "{url}: {body}");
        assert!(body["error"]["message"].is_string());
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }
    let (status, _, _) = emu.get("/users?$top=1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_non_loopback_listen_address_is_refused_without_allow_remote() {
    let refused = serve(tenant(), EmulatorOptions::default(), "0.0.0.0:0").await;
    assert!(
        matches!(refused, Err(EmulatorError::Remote { .. })),
        "refused: {:?}",
        refused.err()
    );
    let allowed = serve(
        tenant(),
        EmulatorOptions {
            allow_remote: true,
            ..EmulatorOptions::default()
        },
        "0.0.0.0:0",
    )
    .await
    .expect("allowed when asked");
    assert!(allowed.addr.ip().is_unspecified());
    let local = serve(tenant(), EmulatorOptions::default(), "localhost:0")
        .await
        .expect("a loopback name is fine");
    assert!(local.addr.ip().is_loopback());
}
