//! Classifying what Graph answered to a round's `$batch`es: per item, done, retry after a
//! wait, failed for good (with Graph's code, message and `request-id`), or not run because
//! the write it depends on failed. Pure: the clock reading and the jitter source are
//! passed in.
//!
//! 429 and 503 items honour `Retry-After`; a 429 does not use up `--max-attempts` (Graph
//! asks to wait and retry; the deadline bounds them), other retryable answers do. See
//! <https://learn.microsoft.com/en-us/graph/throttling>.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::graph::GraphError;
use crate::graph::client::BatchResponse;
use crate::graph::retry::{Decision, Failure, RetryPolicy, parse_retry_after};

use super::pack::Batch;
use super::{Pending, Slot, WriteFailure};

/// What became of one item in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemResult {
    /// It took effect.
    Ok,
    /// Its dependency failed (424): it follows the dependency's fate.
    Dependency,
    /// Try it again after this wait.
    Retry(Duration),
    /// It failed for good.
    Failed(WriteFailure),
}

/// One item's answer, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Answer {
    /// What to do about it.
    pub(super) result: ItemResult,
    /// Graph's `request-id` of the item, else of its batch.
    pub(super) request_id: Option<String>,
    /// The item's HTTP status (0: no answer).
    pub(super) status: u16,
}

/// What the retry decision needs to know about the unit an item belongs to.
#[derive(Debug, Clone, Copy)]
struct Tries {
    operation: &'static str,
    attempts: u32,
    /// Attempts answered 429 before this round.
    throttled: u32,
    /// Since the unit's first attempt.
    elapsed: Duration,
}

/// What the client gave back for one `$batch`: the item answers and the batch's
/// `request-id`, or the error that left the batch without a usable answer.
pub(super) type BatchAnswer = Result<(Vec<BatchResponse>, Option<String>), GraphError>;

/// Classifies every item of `batch` from `answer`, at `now`.
pub(super) fn classify(
    batch: &Batch,
    answer: &BatchAnswer,
    pending: &[Pending<'_>],
    policy: &RetryPolicy,
    now: Instant,
    rng: &mut impl Rng,
) -> Vec<(Slot, Answer)> {
    let tries = |slot: &Slot| {
        let p = &pending[slot.unit];
        Tries {
            operation: p.operations[slot.op].name(),
            attempts: p.attempts,
            throttled: p.throttled,
            elapsed: p
                .started
                .map(|s| now.saturating_duration_since(s))
                .unwrap_or_default(),
        }
    };
    match answer {
        // The batch got no usable answer even after the client's retries.
        Err(error) => batch
            .slots
            .iter()
            .map(|slot| {
                let failure = WriteFailure {
                    operation: tries(slot).operation,
                    status: 0,
                    code: error.code().map(|c| c.as_str().to_owned()),
                    message: error.with_causes(),
                    request_id: None,
                    attempts: tries(slot).attempts,
                };
                let answer = Answer {
                    result: ItemResult::Failed(failure),
                    request_id: None,
                    status: 0,
                };
                (*slot, answer)
            })
            .collect(),
        Ok((responses, batch_request_id)) => {
            let by_id: HashMap<&str, &BatchResponse> =
                responses.iter().map(|r| (r.id.as_str(), r)).collect();
            batch
                .items
                .iter()
                .zip(&batch.slots)
                .map(|(item, slot)| {
                    let answer = classify_item(
                        &item.id,
                        by_id.get(item.id.as_str()).copied(),
                        batch_request_id.as_deref(),
                        tries(slot),
                        policy,
                        rng,
                    );
                    (*slot, answer)
                })
                .collect()
        }
    }
}

/// Classifies one item from its `response` (none when the batch answer left it out).
fn classify_item(
    id: &str,
    response: Option<&BatchResponse>,
    batch_request_id: Option<&str>,
    tries: Tries,
    policy: &RetryPolicy,
    rng: &mut impl Rng,
) -> Answer {
    let Some(answer) = response else {
        let failure = WriteFailure {
            operation: tries.operation,
            status: 0,
            code: None,
            message: format!("the $batch answer has no response for item {id}"),
            request_id: batch_request_id.map(str::to_owned),
            attempts: tries.attempts,
        };
        return Answer {
            result: ItemResult::Failed(failure),
            request_id: batch_request_id.map(str::to_owned),
            status: 0,
        };
    };
    let request_id = answer
        .header("request-id")
        .map(str::to_owned)
        .or_else(|| {
            (!answer.is_success())
                .then(|| answer.error().request_id)
                .flatten()
        })
        .or_else(|| batch_request_id.map(str::to_owned));
    let result = if answer.is_success() {
        ItemResult::Ok
    } else if answer.status == 424 {
        ItemResult::Dependency
    } else {
        let retry_after = answer.header("retry-after").and_then(parse_retry_after);
        let counted = if answer.status == 429 {
            1
        } else {
            tries.attempts.saturating_sub(tries.throttled).max(1)
        };
        match policy.decide(
            counted,
            Failure::Status(answer.status, retry_after),
            tries.elapsed,
            rng,
        ) {
            Decision::RetryAfter(wait) => ItemResult::Retry(wait),
            Decision::GiveUp | Decision::Exhausted => {
                let error = answer.error();
                ItemResult::Failed(WriteFailure {
                    operation: tries.operation,
                    status: answer.status,
                    code: Some(error.code.as_str().to_owned()),
                    message: error.message.clone(),
                    request_id: request_id.clone(),
                    attempts: tries.attempts,
                })
            }
        }
    };
    Answer {
        result,
        request_id,
        status: answer.status,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    use super::super::pack::{batches, pack};
    use super::super::tests::{assign, location, pending, user};
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        deadline: Duration::from_secs(60),
    };

    fn response(
        id: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: serde_json::Value,
    ) -> BatchResponse {
        BatchResponse {
            id: id.to_owned(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
            body,
        }
    }

    fn graph_error(code: &str, message: &str, request_id: Option<&str>) -> serde_json::Value {
        json!({ "error": {
            "code": code,
            "message": message,
            "innerError": { "request-id": request_id }
        }})
    }

    fn tries(attempts: u32, throttled: u32, elapsed_secs: u64) -> Tries {
        Tries {
            operation: "assignLicense",
            attempts,
            throttled,
            elapsed: Duration::from_secs(elapsed_secs),
        }
    }

    fn failed(
        status: u16,
        code: &str,
        message: &str,
        request_id: Option<&str>,
        attempts: u32,
    ) -> ItemResult {
        ItemResult::Failed(WriteFailure {
            operation: "assignLicense",
            status,
            code: Some(code.to_owned()),
            message: message.to_owned(),
            request_id: request_id.map(str::to_owned),
            attempts,
        })
    }

    #[test]
    fn each_answer_is_done_retried_failed_or_left_to_its_dependency() {
        let secs = Duration::from_secs;
        let no_body = serde_json::Value::Null;
        let denied = graph_error(
            "Authorization_RequestDenied",
            "Insufficient privileges.",
            Some("body-id"),
        );
        let busy = graph_error("TooManyRequests", "Too many requests.", None);
        let unavailable = graph_error("ServiceUnavailable", "Try later.", None);
        // (what, response, the unit's tries, expected result, expected request-id)
        let cases: Vec<(&str, BatchResponse, Tries, ItemResult, Option<&str>)> = vec![
            (
                "2xx is done, with the item's request-id",
                response("1", 200, &[("Request-Id", "item-id")], no_body.clone()),
                tries(1, 0, 0),
                ItemResult::Ok,
                Some("item-id"),
            ),
            (
                "a 2xx without request-id takes the batch's",
                response("1", 204, &[], no_body.clone()),
                tries(1, 0, 0),
                ItemResult::Ok,
                Some("batch-id"),
            ),
            (
                "424: the write it depends on failed",
                response("1", 424, &[], no_body.clone()),
                tries(1, 0, 0),
                ItemResult::Dependency,
                Some("batch-id"),
            ),
            (
                "429 waits its Retry-After",
                response("1", 429, &[("Retry-After", "2")], busy.clone()),
                tries(1, 0, 0),
                ItemResult::Retry(secs(2)),
                Some("batch-id"),
            ),
            (
                "429s do not use up --max-attempts",
                response("1", 429, &[("Retry-After", "2")], busy.clone()),
                tries(9, 2, 10),
                ItemResult::Retry(secs(2)),
                Some("batch-id"),
            ),
            (
                "a 429 whose wait passes the deadline fails",
                response("1", 429, &[("Retry-After", "5")], busy.clone()),
                tries(2, 1, 58),
                failed(
                    429,
                    "TooManyRequests",
                    "Too many requests.",
                    Some("batch-id"),
                    2,
                ),
                Some("batch-id"),
            ),
            (
                "503 waits its Retry-After",
                response("1", 503, &[("retry-after", "1.5")], unavailable.clone()),
                tries(1, 0, 0),
                ItemResult::Retry(Duration::from_millis(1500)),
                Some("batch-id"),
            ),
            (
                "503s use up --max-attempts, not counting earlier 429s",
                response("1", 503, &[("Retry-After", "1")], unavailable.clone()),
                tries(4, 2, 0),
                ItemResult::Retry(secs(1)),
                Some("batch-id"),
            ),
            (
                "the last attempt's 503 fails",
                response("1", 503, &[("Retry-After", "1")], unavailable.clone()),
                tries(3, 0, 0),
                failed(503, "ServiceUnavailable", "Try later.", Some("batch-id"), 3),
                Some("batch-id"),
            ),
            (
                "403 fails at once, with the request-id of the error body",
                response("1", 403, &[], denied.clone()),
                tries(1, 0, 0),
                failed(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges.",
                    Some("body-id"),
                    1,
                ),
                Some("body-id"),
            ),
            (
                "the item's request-id header comes first",
                response("1", 403, &[("request-id", "item-id")], denied.clone()),
                tries(1, 0, 0),
                failed(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges.",
                    Some("item-id"),
                    1,
                ),
                Some("item-id"),
            ),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for (what, response, tries, result, request_id) in cases {
            let status = response.status;
            let answer = classify_item(
                "1",
                Some(&response),
                Some("batch-id"),
                tries,
                &POLICY,
                &mut rng,
            );
            assert_eq!(
                answer,
                Answer {
                    result,
                    request_id: request_id.map(str::to_owned),
                    status
                },
                "{what}"
            );
        }
    }

    #[test]
    fn a_backoff_without_retry_after_stays_within_the_policy() {
        let mut rng = StdRng::seed_from_u64(7);
        let answer = classify_item(
            "1",
            Some(&response("1", 502, &[], serde_json::Value::Null)),
            None,
            tries(1, 0, 0),
            &POLICY,
            &mut rng,
        );
        match answer.result {
            ItemResult::Retry(wait) => assert!(
                (Duration::from_millis(50)..=Duration::from_millis(100)).contains(&wait),
                "{wait:?}"
            ),
            other => panic!("502 is retried: {other:?}"),
        }
    }

    #[test]
    fn an_item_missing_from_the_batch_answer_fails_with_no_status() {
        let mut rng = StdRng::seed_from_u64(7);
        let answer = classify_item(
            "3",
            None,
            Some("batch-id"),
            tries(2, 0, 0),
            &POLICY,
            &mut rng,
        );
        assert_eq!(
            answer,
            Answer {
                result: ItemResult::Failed(WriteFailure {
                    operation: "assignLicense",
                    status: 0,
                    code: None,
                    message: "the $batch answer has no response for item 3".to_owned(),
                    request_id: Some("batch-id".to_owned()),
                    attempts: 2,
                }),
                request_id: Some("batch-id".to_owned()),
                status: 0,
            }
        );
    }

    #[test]
    fn a_batch_answer_is_matched_to_its_items_by_id() {
        let bob = user(2, "bob@contoso.com");
        let chain = [location("DE"), assign()];
        let mut units = vec![pending(0, &bob, &chain)];
        units[0].attempts = 1;
        let sent = batches(&units, &pack([2], 40));
        let forbidden = graph_error(
            "Authorization_RequestDenied",
            "Insufficient privileges.",
            None,
        );
        // Graph may answer in any order.
        let answer: BatchAnswer = Ok((
            vec![
                response("2", 424, &[], serde_json::Value::Null),
                response("1", 403, &[], forbidden),
            ],
            Some("batch-id".to_owned()),
        ));
        let mut rng = StdRng::seed_from_u64(7);
        let got = classify(&sent[0], &answer, &units, &POLICY, Instant::now(), &mut rng);
        let results: Vec<_> = got.iter().map(|(s, a)| (*s, a.status)).collect();
        assert_eq!(
            results,
            vec![
                (Slot { unit: 0, op: 0 }, 403),
                (Slot { unit: 0, op: 1 }, 424)
            ]
        );
        assert!(
            matches!(&got[0].1.result, ItemResult::Failed(f) if f.operation == "setUsageLocation")
        );
        assert_eq!(got[1].1.result, ItemResult::Dependency);
    }

    #[test]
    fn a_batch_without_an_answer_fails_each_item_with_the_error() {
        let (alice, bob) = (user(1, "alice@contoso.com"), user(2, "bob@contoso.com"));
        let ops = [assign()];
        let mut units = vec![pending(0, &alice, &ops), pending(1, &bob, &ops)];
        units[0].attempts = 1;
        units[1].attempts = 4;
        let sent = batches(&units, &pack([1, 1], 40));
        let error = GraphError::BatchMissing { id: "1".to_owned() };
        let message = error.with_causes();
        let answer: BatchAnswer = Err(error);
        let mut rng = StdRng::seed_from_u64(7);
        let got = classify(&sent[0], &answer, &units, &POLICY, Instant::now(), &mut rng);
        let expected = |unit: usize, attempts: u32| {
            (
                Slot { unit, op: 0 },
                Answer {
                    result: ItemResult::Failed(WriteFailure {
                        operation: "assignLicense",
                        status: 0,
                        code: None,
                        message: message.clone(),
                        request_id: None,
                        attempts,
                    }),
                    request_id: None,
                    status: 0,
                },
            )
        };
        assert_eq!(got, vec![expected(0, 1), expected(1, 4)]);
    }
}
