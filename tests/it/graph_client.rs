//! The Graph client's retries against a scripted test double on 127.0.0.1:0: exact
//! failure sequences (which request fails, how, in which order) and the retries they
//! cost. Everything else runs against the real emulator in live_graph.

use std::time::Duration;

use licensectl::graph::ClientStats;
use licensectl::graph::{GraphClient, GraphError, RetryPolicy};
use licensectl::graph::{LicensedUsersStrategy, NoProgress, ReadScope, read_tenant, users_by_upn};

use crate::support::{CLIENT_ID, Double, Fault, SECRET, TENANT};
use crate::util::graph_client;

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        deadline: Duration::from_secs(20),
    }
}

/// A client of the double at `url` with its client secret.
fn client_for(url: &str, policy: RetryPolicy) -> GraphClient {
    graph_client(url, TENANT, CLIENT_ID, SECRET, policy, 4)
}

#[tokio::test]
async fn throttling_and_faults_are_retried_and_the_read_succeeds() {
    let double = Double::new(2_500);
    double.fault(
        "/users",
        &[
            Fault::Status(429, Some("0.2")),
            Fault::Status(503, Some("0.05")),
            Fault::Status(504, None),
            Fault::Drop,
            Fault::Status(500, None),
        ],
    );
    double.fault(
        "/subscribedSkus",
        &[Fault::Status(429, Some("0.1")), Fault::Drop],
    );
    let url = double.clone().serve().await;
    let client = client_for(&url, fast_policy());
    let scope = ReadScope {
        strategy: LicensedUsersStrategy::Sequential,
        ..ReadScope::default()
    };
    let snap = read_tenant(&client, TENANT.parse().expect("tid"), &scope, &NoProgress)
        .await
        .expect("read succeeds");
    assert_eq!(snap.users.len(), 2_500);
    let s = client.stats();
    assert_eq!(ClientStats::get(&s.retries), 7);
    assert_eq!(ClientStats::get(&s.throttled), 2);
    assert!(client.limiter().throttled() >= 1);
}

#[tokio::test]
async fn deadline_and_attempt_limits_give_clear_errors() {
    let double = Double::new(1);
    double.fault("/subscribedSkus", &[Fault::Status(429, Some("5"))]);
    double.fault(
        "/users",
        &[
            Fault::Status(503, None),
            Fault::Status(503, None),
            Fault::Status(503, None),
        ],
    );
    let url = double.clone().serve().await;
    let policy = RetryPolicy {
        deadline: Duration::from_secs(1),
        max_attempts: 3,
        ..fast_policy()
    };
    let client = client_for(&url, policy);
    let started = std::time::Instant::now();
    let err = client.subscribed_skus().await.expect_err("deadline");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not sleep through a Retry-After past the deadline"
    );
    let text = err.to_string();
    assert!(matches!(err, GraphError::Deadline { .. }), "{err:?}");
    assert!(
        text.contains("gave up") && text.contains("TooManyRequests") && text.contains("--deadline"),
        "{text}"
    );
    // A fresh client: the first one holds every caller back for the 5 s Retry-After.
    let policy = RetryPolicy {
        max_attempts: 3,
        ..fast_policy()
    };
    let client = client_for(&url, policy);
    let err = client
        .list_all::<serde_json::Value>(client.users_url(None).expect("url"), &[])
        .await
        .expect_err("attempts");
    assert!(
        matches!(&err, GraphError::Api { error, .. } if error.status == 503),
        "{err:?}"
    );
}

#[tokio::test]
async fn batch_items_are_retried_individually() {
    let double = Double::new(100);
    double.item_fault(
        "/users",
        &[Fault::Status(429, Some("0.1")), Fault::Status(503, None)],
    );
    let url = double.clone().serve().await;
    let client = client_for(&url, fast_policy());
    let upns: Vec<String> = (0..40)
        .map(|i| format!("user{i}@contoso.com"))
        .chain(["ghost@contoso.com".to_string()])
        .collect();
    let refs: Vec<&str> = upns.iter().map(String::as_str).collect();
    let found = users_by_upn(&client, &refs).await.expect("lookup");
    assert_eq!(
        found.len(),
        40,
        "every existing user found, the ghost absent"
    );
    let batches = double.requests().iter().filter(|r| *r == "/$batch").count();
    assert_eq!(
        batches, 2,
        "one batch of 3 in-filters, then one batch retrying the 2 failed items"
    );
    assert_eq!(ClientStats::get(&client.stats().retries), 2);
}
