//! Packing a round: which pending units go out in it, how they are grouped into `$batch`
//! requests, and the exact items each batch carries (with the journal's request entries
//! derived from them). Pure: no clock, network or journal.
//!
//! Graph supports `dependsOn` only as one pattern per batch (all parallel, one serial
//! chain, or all on one request): a usage location `PATCH` and the `assignLicense`
//! depending on it travel alone, as one serial chain; single writes are packed twenty to a
//! batch, all parallel. See
//! <https://learn.microsoft.com/en-us/graph/json-batching#sequencing-requests-with-the-dependson-property>.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::client::BATCH_MAX;
use crate::plan::Principal;

use super::super::journal::{Entry, Event};
use super::super::schedule::Operation;
use super::{Pending, Slot};

/// The units a round sends: `$batch`es of indexes into the pending list, and how many
/// writes they carry in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Round {
    /// Each batch's units, as indexes into the pending list.
    pub(super) batches: Vec<Vec<usize>>,
    /// Writes (batch items) in the round.
    pub(super) writes: usize,
}

/// Packs pending units, given as each one's count of remaining operations in pending
/// order, into a round of at most `wave` writes (the first unit always goes, however many
/// writes it has). Units are taken in order until the next would overrun the wave; a unit
/// with several operations (a serial chain) gets a batch of its own, emitted when it is
/// reached, while single writes fill the open batch up to [`BATCH_MAX`].
pub(super) fn pack(remaining: impl IntoIterator<Item = usize>, wave: usize) -> Round {
    let mut round = Round::default();
    let mut current: Vec<usize> = Vec::new();
    for (i, n) in remaining.into_iter().enumerate() {
        if round.writes + n > wave && round.writes > 0 {
            break;
        }
        round.writes += n;
        if n > 1 {
            round.batches.push(vec![i]);
            continue;
        }
        current.push(i);
        if current.len() == BATCH_MAX {
            round.batches.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        round.batches.push(current);
    }
    round
}

/// Counts an attempt for every unit of `round`, sent at `now` (the first attempt starts
/// a unit's deadline).
pub(super) fn begin(pending: &mut [Pending<'_>], round: &Round, now: Instant) {
    for &pi in round.batches.iter().flatten() {
        let p = &mut pending[pi];
        p.attempts += 1;
        p.started.get_or_insert(now);
    }
}

/// One request inside a `$batch` body, in Graph's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Item {
    /// The item's id within its batch (`"1"`, `"2"`, …).
    pub(super) id: String,
    /// `PATCH` or `POST`.
    pub(super) method: &'static str,
    /// The path under the Graph version root.
    pub(super) url: String,
    headers: Value,
    /// The request body.
    pub(super) body: Value,
    /// The item this one runs after (the previous write of the same unit).
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub(super) depends_on: Vec<String>,
}

/// One `$batch` as it is sent: its items and, item by item, the write each carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Batch {
    /// The items, in order.
    pub(super) items: Vec<Item>,
    /// For each item, its unit and operation.
    pub(super) slots: Vec<Slot>,
}

/// The JSON body of an operation.
fn body_of(op: &Operation) -> Value {
    match op {
        Operation::SetUsageLocation { usage_location } => {
            json!({ "usageLocation": usage_location })
        }
        Operation::AssignLicense { request } => {
            serde_json::to_value(request).unwrap_or(Value::Null)
        }
        // The action takes no parameters; an empty object keeps the item a JSON POST.
        Operation::ReprocessLicenseAssignment => json!({}),
    }
}

fn item_for(principal: &Principal, op: &Operation, id: String, depends_on: Vec<String>) -> Item {
    // Groups have no usage location and the planner never asks for one; were it asked,
    // Graph's answer (400) would be recorded like any other failure.
    let (method, url) = match (principal, op) {
        (Principal::User { id: user, .. }, Operation::SetUsageLocation { .. }) => {
            ("PATCH", format!("/users/{user}"))
        }
        (Principal::User { id: user, .. }, Operation::AssignLicense { .. }) => {
            ("POST", format!("/users/{user}/assignLicense"))
        }
        (Principal::Group { id: group, .. }, Operation::AssignLicense { .. }) => {
            ("POST", format!("/groups/{group}/assignLicense"))
        }
        (Principal::Group { id: group, .. }, Operation::SetUsageLocation { .. }) => {
            ("PATCH", format!("/groups/{group}"))
        }
        // Graph has no group reprocess; the gate refuses one before it is sent.
        (Principal::User { id, .. }, Operation::ReprocessLicenseAssignment) => {
            ("POST", format!("/users/{id}/reprocessLicenseAssignment"))
        }
        (Principal::Group { id, .. }, Operation::ReprocessLicenseAssignment) => {
            ("POST", format!("/groups/{id}/reprocessLicenseAssignment"))
        }
    };
    Item {
        id,
        method,
        url,
        headers: json!({ "Content-Type": "application/json" }),
        body: body_of(op),
        depends_on,
    }
}

/// The `$batch`es of `round`: each unit's remaining operations in order, numbered from 1
/// within their batch, each depending on the previous one of the same unit.
pub(super) fn batches(pending: &[Pending<'_>], round: &Round) -> Vec<Batch> {
    round
        .batches
        .iter()
        .map(|members| {
            let mut batch = Batch {
                items: Vec::new(),
                slots: Vec::new(),
            };
            for &pi in members {
                let p = &pending[pi];
                let mut previous: Option<String> = None;
                for op in p.next..p.operations.len() {
                    let id = (batch.items.len() + 1).to_string();
                    batch.items.push(item_for(
                        p.principal,
                        &p.operations[op],
                        id.clone(),
                        previous.iter().cloned().collect(),
                    ));
                    batch.slots.push(Slot { unit: pi, op });
                    previous = Some(id);
                }
            }
            batch
        })
        .collect()
}

/// The journal's `request` entries for `batches`, in the order they are sent: what each
/// item carries, with its unit's attempt number.
pub(super) fn requests(
    pending: &[Pending<'_>],
    batches: &[Batch],
    phase: &'static str,
) -> Vec<Entry> {
    batches
        .iter()
        .flat_map(|batch| batch.items.iter().zip(&batch.slots))
        .map(|(item, slot)| {
            let p = &pending[slot.unit];
            Entry {
                event: Some(Event::Request),
                phase: Some(phase),
                principal: Some(p.principal.clone()),
                operation: Some(p.operations[slot.op].name()),
                attempt: Some(p.attempts),
                body: Some(item.body.clone()),
                ..Entry::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assign, location, pending, user};
    use super::*;

    #[test]
    fn rounds_pack_twenty_singles_a_batch_and_chains_alone_within_the_wave() {
        // (what, remaining operations per unit, wave, batches, writes)
        type Case = (&'static str, Vec<usize>, usize, Vec<Vec<usize>>, usize);
        let range = |a: usize, b: usize| (a..b).collect::<Vec<_>>();
        let cases: Vec<Case> = vec![
            ("nothing pending", vec![], 40, vec![], 0),
            (
                "singles, twenty a batch",
                vec![1; 45],
                100,
                vec![range(0, 20), range(20, 40), range(40, 45)],
                45,
            ),
            (
                "the wave bounds the round",
                vec![1; 30],
                25,
                vec![range(0, 20), range(20, 25)],
                25,
            ),
            (
                "a chain travels alone, ahead of the open batch",
                vec![1, 2, 1],
                100,
                vec![vec![1], vec![0, 2]],
                4,
            ),
            (
                "the first unit goes even when it overruns the wave",
                vec![2, 1],
                1,
                vec![vec![0]],
                2,
            ),
            (
                "a unit that overruns the wave ends the round",
                vec![1, 2, 1],
                2,
                vec![vec![0]],
                1,
            ),
            (
                "a chain fills the wave exactly",
                vec![1, 2],
                3,
                vec![vec![1], vec![0]],
                3,
            ),
        ];
        for (name, remaining, wave, batches, writes) in cases {
            assert_eq!(pack(remaining, wave), Round { batches, writes }, "{name}");
        }
    }

    #[test]
    fn a_round_counts_one_attempt_per_unit_and_starts_the_clock_once() {
        let (alice, bob) = (user(1, "alice@contoso.com"), user(2, "bob@contoso.com"));
        let ops = [assign()];
        let mut units = vec![pending(0, &alice, &ops), pending(1, &bob, &ops)];
        let first = Instant::now();
        let round = Round {
            batches: vec![vec![0]],
            writes: 1,
        };
        begin(&mut units, &round, first);
        begin(
            &mut units,
            &round,
            first + std::time::Duration::from_secs(1),
        );
        assert_eq!((units[0].attempts, units[0].started), (2, Some(first)));
        assert_eq!((units[1].attempts, units[1].started), (0, None), "not sent");
    }

    #[test]
    fn batches_number_items_and_chain_a_units_writes() {
        let (alice, bob, carol) = (
            user(1, "alice@contoso.com"),
            user(2, "bob@contoso.com"),
            user(3, "carol@contoso.com"),
        );
        let chain = [location("DE"), assign()];
        let single = [assign()];
        let mut units = vec![
            pending(0, &alice, &single),
            pending(1, &bob, &chain),
            pending(2, &carol, &chain),
        ];
        // Carol's usage location is already set: only her assignLicense remains.
        units[2].next = 1;
        let round = pack(units.iter().map(Pending::remaining), 40);
        let sent = batches(&units, &round);
        // Per batch: (id, method, url, dependsOn, slot) of each item.
        type Shape<'a> = Vec<Vec<(&'a str, &'a str, &'a str, Vec<String>, Slot)>>;
        let shape: Shape<'_> = sent
            .iter()
            .map(|b| {
                b.items
                    .iter()
                    .zip(&b.slots)
                    .map(|(i, s)| {
                        (
                            i.id.as_str(),
                            i.method,
                            i.url.as_str(),
                            i.depends_on.clone(),
                            *s,
                        )
                    })
                    .collect()
            })
            .collect();
        let path = |id: u128, tail: &str| format!("/users/{}{tail}", uuid::Uuid::from_u128(id));
        assert_eq!(
            shape,
            vec![
                vec![
                    ("1", "PATCH", &*path(2, ""), vec![], Slot { unit: 1, op: 0 }),
                    (
                        "2",
                        "POST",
                        &*path(2, "/assignLicense"),
                        vec!["1".to_owned()],
                        Slot { unit: 1, op: 1 }
                    ),
                ],
                vec![
                    (
                        "1",
                        "POST",
                        &*path(1, "/assignLicense"),
                        vec![],
                        Slot { unit: 0, op: 0 }
                    ),
                    (
                        "2",
                        "POST",
                        &*path(3, "/assignLicense"),
                        vec![],
                        Slot { unit: 2, op: 1 }
                    ),
                ],
            ]
        );
        let json = serde_json::to_value(&sent[0].items).expect("serializes");
        assert_eq!(json[0]["body"], json!({ "usageLocation": "DE" }));
        assert_eq!(json[0]["headers"]["Content-Type"], "application/json");
        assert!(json[0].get("dependsOn").is_none(), "left out when empty");
        assert_eq!(json[1]["dependsOn"], json!(["1"]));
    }

    #[test]
    fn request_entries_follow_the_items_sent() {
        let bob = user(2, "bob@contoso.com");
        let chain = [location("DE"), assign()];
        let mut units = vec![pending(0, &bob, &chain)];
        let round = pack([2], 40);
        begin(&mut units, &round, Instant::now());
        let sent = batches(&units, &round);
        let entries = requests(&units, &sent, "direct assignments");
        let seen: Vec<_> = entries
            .iter()
            .map(|e| (e.event, e.phase, e.operation, e.attempt, e.body.clone()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (
                    Some(Event::Request),
                    Some("direct assignments"),
                    Some("setUsageLocation"),
                    Some(1),
                    Some(sent[0].items[0].body.clone())
                ),
                (
                    Some(Event::Request),
                    Some("direct assignments"),
                    Some("assignLicense"),
                    Some(1),
                    Some(sent[0].items[1].body.clone())
                ),
            ]
        );
        assert_eq!(entries[0].principal.as_ref(), Some(&bob));
    }
}
