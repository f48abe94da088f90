//! Settling a round: from the classified answers, each pending unit is done, failed, or
//! pending again from its first unfinished operation; with the journal's `result` entries,
//! the longest `Retry-After` among the units retried, and the count of 429s for the pacer.
//! Pure: the caller writes the entries, reports progress and sleeps.

use std::collections::HashMap;
use std::time::Duration;

use super::super::journal::{Entry, Event};
use super::classify::{Answer, ItemResult};
use super::{Pending, Slot, UnitOutcome};

/// What a round left behind.
#[derive(Debug)]
pub(super) struct Settlement<'p> {
    /// The units to send again, in their order.
    pub(super) pending: Vec<Pending<'p>>,
    /// The units that were answered or finished, in pending order.
    pub(super) units: Vec<Settled>,
    /// The longest wait asked of a unit still pending.
    pub(super) wait: Duration,
    /// Items answered 429 (the pacer's signal).
    pub(super) throttled: usize,
}

/// One unit's share of a round.
#[derive(Debug, Clone)]
pub(super) struct Settled {
    /// The unit's index in its phase.
    pub(super) index: usize,
    /// The journal's `result` entries, one per answered item, in operation order.
    pub(super) results: Vec<Entry>,
    /// Its outcome, once it has one.
    pub(super) outcome: Option<UnitOutcome>,
}

/// Settles each unit of `pending` from `answers` (keyed by slot). The first unfinished
/// operation decides: a success moves the unit past it, a retry keeps it pending, a
/// failure ends the unit; a dependency failure (424) follows the fate of the operation it
/// depends on. A unit with no operation left is applied.
pub(super) fn settle<'p>(
    pending: Vec<Pending<'p>>,
    mut answers: HashMap<Slot, Answer>,
    phase: &'static str,
) -> Settlement<'p> {
    let mut settlement = Settlement {
        pending: Vec::new(),
        units: Vec::new(),
        wait: Duration::ZERO,
        throttled: 0,
    };
    for (unit, mut p) in pending.into_iter().enumerate() {
        let mut verdict: Option<UnitOutcome> = None;
        let mut retry: Option<Duration> = None;
        let mut results = Vec::new();
        for op in p.next..p.operations.len() {
            let Some(answer) = answers.remove(&Slot { unit, op }) else {
                continue;
            };
            if answer.status == 429 {
                p.throttled += 1;
                settlement.throttled += 1;
            }
            results.push(result_entry(&p, op, &answer, phase));
            if verdict.is_some() || retry.is_some() {
                continue;
            }
            match answer.result {
                ItemResult::Ok => p.next = op + 1,
                ItemResult::Written(licenses) => {
                    p.licenses = Some(licenses);
                    p.next = op + 1;
                }
                ItemResult::Dependency => {}
                ItemResult::Retry(d) => retry = Some(d),
                ItemResult::Failed(f) => verdict = Some(UnitOutcome::Failed(f)),
            }
        }
        if verdict.is_none() && retry.is_none() && p.next >= p.operations.len() {
            verdict = Some(UnitOutcome::Applied {
                licenses: p.licenses.take(),
            });
        }
        let finished = verdict.is_some();
        if !results.is_empty() || finished {
            settlement.units.push(Settled {
                index: p.index,
                results,
                outcome: verdict,
            });
        }
        if !finished {
            settlement.wait = settlement.wait.max(retry.unwrap_or(Duration::ZERO));
            settlement.pending.push(p);
        }
    }
    settlement
}

/// The journal's `result` entry of operation `op` of `p`.
fn result_entry(p: &Pending<'_>, op: usize, answer: &Answer, phase: &'static str) -> Entry {
    let (outcome, code, message) = match &answer.result {
        ItemResult::Ok | ItemResult::Written(_) => ("ok", None, None),
        ItemResult::Dependency => (
            "dependency-failed",
            None,
            Some("not run: the request it depends on failed".to_owned()),
        ),
        ItemResult::Retry(_) => ("retry", None, None),
        ItemResult::Failed(f) => ("failed", f.code.clone(), Some(f.message.clone())),
    };
    Entry {
        event: Some(Event::Result),
        phase: Some(phase),
        principal: Some(p.principal.clone()),
        operation: Some(p.operations[op].name()),
        attempt: Some(p.attempts),
        status: Some(answer.status),
        outcome: Some(outcome),
        request_id: answer.request_id.clone(),
        error_code: code,
        message,
        ..Entry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::WriteFailure;
    use super::super::tests::{assign, location, pending, user};
    use super::*;

    fn answer(result: ItemResult, status: u16) -> Answer {
        Answer {
            result,
            request_id: Some(format!("id-{status}")),
            status,
        }
    }

    fn ok() -> Answer {
        answer(ItemResult::Ok, 200)
    }

    fn retry(secs: u64, status: u16) -> Answer {
        answer(ItemResult::Retry(Duration::from_secs(secs)), status)
    }

    fn denied() -> WriteFailure {
        WriteFailure {
            operation: "setUsageLocation",
            status: 403,
            code: Some("Authorization_RequestDenied".to_owned()),
            message: "Insufficient privileges.".to_owned(),
            request_id: None,
            attempts: 1,
        }
    }

    fn failed() -> Answer {
        answer(ItemResult::Failed(denied()), 403)
    }

    fn dependency() -> Answer {
        answer(ItemResult::Dependency, 424)
    }

    /// What settling one chained unit (usage location, then assignLicense) gives.
    #[derive(Debug, PartialEq)]
    struct Seen {
        /// The journal's outcomes, in order.
        outcomes: Vec<&'static str>,
        /// Done or failed.
        outcome: Option<UnitOutcome>,
        /// When pending again: the first operation left, and its 429s so far.
        pending: Option<(usize, u32)>,
        wait: Duration,
        throttled: usize,
    }

    #[test]
    fn a_chained_unit_is_settled_by_its_first_unfinished_write() {
        let secs = Duration::from_secs;
        // (what, answers to the PATCH and the assignLicense, what settling gives)
        let cases: Vec<(&str, Vec<Answer>, Seen)> = vec![
            (
                "both done: applied",
                vec![ok(), ok()],
                Seen {
                    outcomes: vec!["ok", "ok"],
                    outcome: Some(UnitOutcome::Applied { licenses: None }),
                    pending: None,
                    wait: Duration::ZERO,
                    throttled: 0,
                },
            ),
            (
                "the PATCH done, the assignLicense throttled: pending from the second",
                vec![ok(), retry(3, 429)],
                Seen {
                    outcomes: vec!["ok", "retry"],
                    outcome: None,
                    pending: Some((1, 1)),
                    wait: secs(3),
                    throttled: 1,
                },
            ),
            (
                "the PATCH unavailable: both again, the 424 follows it",
                vec![retry(2, 503), dependency()],
                Seen {
                    outcomes: vec!["retry", "dependency-failed"],
                    outcome: None,
                    pending: Some((0, 0)),
                    wait: secs(2),
                    throttled: 0,
                },
            ),
            (
                "the PATCH failed: the unit fails with its failure",
                vec![failed(), dependency()],
                Seen {
                    outcomes: vec!["failed", "dependency-failed"],
                    outcome: Some(UnitOutcome::Failed(denied())),
                    pending: None,
                    wait: Duration::ZERO,
                    throttled: 0,
                },
            ),
            (
                "not in the round: untouched",
                vec![],
                Seen {
                    outcomes: vec![],
                    outcome: None,
                    pending: Some((0, 0)),
                    wait: Duration::ZERO,
                    throttled: 0,
                },
            ),
        ];
        let bob = user(2, "bob@contoso.com");
        let chain = [location("DE"), assign()];
        for (what, answers, expected) in cases {
            let units = vec![pending(7, &bob, &chain)];
            let answers = answers
                .into_iter()
                .enumerate()
                .map(|(op, a)| (Slot { unit: 0, op }, a))
                .collect();
            let s = settle(units, answers, "direct assignments");
            let seen = Seen {
                outcomes: s
                    .units
                    .iter()
                    .flat_map(|u| u.results.iter().filter_map(|e| e.outcome))
                    .collect(),
                outcome: s.units.iter().find_map(|u| u.outcome.clone()),
                pending: s.pending.first().map(|p| (p.next, p.throttled)),
                wait: s.wait,
                throttled: s.throttled,
            };
            assert_eq!(seen, expected, "{what}");
            assert!(
                s.units.iter().all(|u| u.index == 7),
                "{what}: the phase's index"
            );
        }
    }

    #[test]
    fn result_entries_carry_what_graph_answered() {
        let bob = user(2, "bob@contoso.com");
        let chain = [location("DE"), assign()];
        let mut units = vec![pending(0, &bob, &chain)];
        units[0].attempts = 2;
        let answers = [
            (Slot { unit: 0, op: 0 }, failed()),
            (Slot { unit: 0, op: 1 }, dependency()),
        ];
        let s = settle(units, answers.into_iter().collect(), "direct assignments");
        let entries = &s.units[0].results;
        let seen: Vec<_> = entries
            .iter()
            .map(|e| {
                (
                    e.event,
                    e.phase,
                    e.operation,
                    e.attempt,
                    e.status,
                    e.request_id.as_deref(),
                    e.error_code.as_deref(),
                    e.message.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (
                    Some(Event::Result),
                    Some("direct assignments"),
                    Some("setUsageLocation"),
                    Some(2),
                    Some(403),
                    Some("id-403"),
                    Some("Authorization_RequestDenied"),
                    Some("Insufficient privileges.")
                ),
                (
                    Some(Event::Result),
                    Some("direct assignments"),
                    Some("assignLicense"),
                    Some(2),
                    Some(424),
                    Some("id-424"),
                    None,
                    Some("not run: the request it depends on failed")
                ),
            ]
        );
        assert_eq!(entries[0].principal.as_ref(), Some(&bob));
    }

    #[test]
    fn a_round_waits_for_the_longest_retry_and_keeps_the_order() {
        let (alice, bob, carol, dave) = (
            user(1, "alice@contoso.com"),
            user(2, "bob@contoso.com"),
            user(3, "carol@contoso.com"),
            user(4, "dave@contoso.com"),
        );
        let ops = [assign()];
        let units = vec![
            pending(0, &alice, &ops),
            pending(1, &bob, &ops),
            pending(2, &carol, &ops),
            pending(3, &dave, &ops),
        ];
        let answers = [
            (Slot { unit: 0, op: 0 }, retry(5, 429)),
            (Slot { unit: 1, op: 0 }, ok()),
            (Slot { unit: 2, op: 0 }, retry(1, 503)),
        ];
        let s = settle(units, answers.into_iter().collect(), "removals");
        let left: Vec<usize> = s.pending.iter().map(|p| p.index).collect();
        assert_eq!(left, vec![0, 2, 3], "retried and unsent units, in order");
        let done: Vec<(usize, Option<UnitOutcome>)> = s
            .units
            .iter()
            .map(|u| (u.index, u.outcome.clone()))
            .collect();
        assert_eq!(
            done,
            vec![
                (0, None),
                (1, Some(UnitOutcome::Applied { licenses: None })),
                (2, None)
            ]
        );
        assert_eq!(s.wait, Duration::from_secs(5));
        assert_eq!(s.throttled, 1);
    }
}
