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
use crate::snapshot::AssignedLicense;

use super::super::schedule::Operation;
use super::pack::Batch;
use super::{Pending, Slot, WriteFailure};

/// The longest time, from a unit's first attempt, that an `assignLicense` refused for an
/// invalid usage location is retried after the unit's usage location `PATCH` succeeded:
/// the time Graph may take to make the new location visible to the call.
const LOCATION_VISIBLE_BOUND: Duration = Duration::from_secs(120);
/// The longest pause between two such retries.
const LOCATION_RETRY_MAX: Duration = Duration::from_secs(8);

/// What became of one item in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemResult {
    /// It took effect.
    Ok,
    /// An `assignLicense` took effect, and Graph's answer gives the principal's
    /// `assignedLicenses` as written (authoritative, unlike a read right after it).
    Written(Vec<AssignedLicense>),
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
    /// The item is an `assignLicense` right after the unit's usage location `PATCH`,
    /// which succeeded (it `dependsOn` it, or ran in an earlier round).
    after_location: bool,
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
            after_location: slot.op > 0
                && matches!(
                    p.operations[slot.op - 1],
                    Operation::SetUsageLocation { .. }
                ),
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
        written(tries.operation, &answer.body).map_or(ItemResult::Ok, ItemResult::Written)
    } else if answer.status == 424 {
        ItemResult::Dependency
    } else if let Some(wait) = location_not_yet_visible(answer, tries) {
        ItemResult::Retry(wait)
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

/// The highest `x-ms-throttle-limit-percentage` among a batch's item answers: the share of
/// its limit the app has used, which Graph reports above 0.8
/// (https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits).
pub(super) fn throttle_usage(answer: &BatchAnswer) -> Option<f64> {
    let (responses, _) = answer.as_ref().ok()?;
    responses
        .iter()
        .filter_map(|r| r.header("x-ms-throttle-limit-percentage"))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

/// The `assignedLicenses` in Graph's 2xx answer to an `assignLicense` (the object as
/// written: https://learn.microsoft.com/en-us/graph/api/user-assignlicense#response).
fn written(operation: &str, body: &serde_json::Value) -> Option<Vec<AssignedLicense>> {
    if operation != "assignLicense" {
        return None;
    }
    serde_json::from_value(body.get("assignedLicenses")?.clone()).ok()
}

/// The wait before retrying an `assignLicense` that Graph refused for an invalid usage
/// location right after the unit's usage location `PATCH` succeeded: the location is
/// not yet visible to the call (eventual consistency,
/// https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/).
/// Graph gives this refusal no code of its own (`Request_BadRequest`, "License assignment
/// cannot be done for user with invalid usage location."), so its message decides.
/// Backs off 1, 2, 4, 8, 8 … s, for at most [`LOCATION_VISIBLE_BOUND`] from the first
/// attempt; `None` when it is another answer or the bound has passed.
fn location_not_yet_visible(answer: &BatchResponse, tries: Tries) -> Option<Duration> {
    if answer.status != 400 || !tries.after_location {
        return None;
    }
    let message = answer.error().message.to_ascii_lowercase();
    if !message.contains("usage location") {
        return None;
    }
    let retries = tries.attempts.saturating_sub(tries.throttled).max(1);
    let wait = Duration::from_secs(1u64 << (retries - 1).min(3)).min(LOCATION_RETRY_MAX);
    (tries.elapsed + wait <= LOCATION_VISIBLE_BOUND).then_some(wait)
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
            after_location: false,
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
    fn an_assign_license_answer_carries_the_licenses_as_written() {
        let mut rng = StdRng::seed_from_u64(7);
        let sku = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";
        let body = json!({ "id": "u", "assignedLicenses": [
            { "skuId": sku, "disabledPlans": [] }
        ]});
        let answer = classify_item(
            "1",
            Some(&response("1", 200, &[], body)),
            None,
            tries(1, 0, 0),
            &POLICY,
            &mut rng,
        );
        assert_eq!(
            answer.result,
            ItemResult::Written(vec![AssignedLicense {
                sku_id: sku.parse().expect("guid"),
                disabled_plans: Vec::new(),
            }])
        );
        // A usage location's 204 carries nothing.
        let patch = Tries {
            operation: "setUsageLocation",
            ..tries(1, 0, 0)
        };
        let answer = classify_item(
            "1",
            Some(&response("1", 204, &[], serde_json::Value::Null)),
            None,
            patch,
            &POLICY,
            &mut rng,
        );
        assert_eq!(answer.result, ItemResult::Ok);
    }

    #[test]
    fn an_invalid_usage_location_right_after_the_patch_is_retried_with_backoff_for_a_bounded_time()
    {
        let mut rng = StdRng::seed_from_u64(7);
        let invalid = graph_error(
            "Request_BadRequest",
            "License assignment cannot be done for user with invalid usage location.",
            None,
        );
        let after = |attempts: u32, elapsed: u64| Tries {
            after_location: true,
            ..tries(attempts, 0, elapsed)
        };
        let mut classify_400 = |body: &serde_json::Value, tries: Tries| {
            classify_item(
                "2",
                Some(&response("2", 400, &[], body.clone())),
                None,
                tries,
                &POLICY,
                &mut rng,
            )
            .result
        };
        let secs = Duration::from_secs;
        assert_eq!(
            classify_400(&invalid, after(1, 0)),
            ItemResult::Retry(secs(1))
        );
        assert_eq!(
            classify_400(&invalid, after(3, 3)),
            ItemResult::Retry(secs(4))
        );
        assert_eq!(
            classify_400(&invalid, after(9, 60)),
            ItemResult::Retry(secs(8))
        );
        // Past the bound, without a PATCH before it, or another 400: failed at once.
        for (what, tries, body) in [
            ("past the bound", after(20, 118), &invalid),
            ("no usage location set before it", tries(1, 0, 0), &invalid),
            (
                "another refusal",
                after(1, 0),
                &graph_error("Request_BadRequest", "Subscription has no licenses.", None),
            ),
        ] {
            assert!(
                matches!(classify_400(body, tries), ItemResult::Failed(ref f) if f.status == 400),
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
