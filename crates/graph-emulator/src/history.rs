//! Each user's license history: the time-ordered sets of SKUs the user effectively held.
//!
//! "Effectively held" is the truth of the tenant (not what a lagging replica shows): a SKU
//! with at least one source (direct or inherited from a group) in state `Active` or
//! `ActiveWithError` — the states in which the license is assigned and takes a seat
//! (<https://learn.microsoft.com/en-us/graph/api/resources/licenseassignmentstate>). The
//! emulator records an entry whenever a write changes that set, so a test can assert that
//! no user was ever without a SKU they held before and after a run
//! ([`LicenseHistory::interruptions`]). Served at `GET /_emulator/license-history`.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use licensectl_model::ids::{SkuId, UserId};

/// One point of a user's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Order of the change across all users (0: the state at start).
    pub sequence: u64,
    /// When it happened (`2025-02-13T10:17:06.042Z`).
    pub at: String,
    /// The SKUs held from then on.
    pub skus: BTreeSet<SkuId>,
}

/// One user's history, oldest first; the first entry is the state at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLicenseHistory {
    /// The user.
    pub id: UserId,
    /// Their sign-in name.
    pub user_principal_name: String,
    /// The entries.
    pub entries: Vec<HistoryEntry>,
}

/// A SKU a user held, then lost, then held again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interruption {
    /// The user.
    pub user_id: UserId,
    /// Their sign-in name.
    pub user_principal_name: String,
    /// The SKU.
    pub sku_id: SkuId,
    /// When it was lost.
    pub lost_at: String,
    /// When it was held again.
    pub regained_at: String,
}

/// Every user's history (`GET /_emulator/license-history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseHistory {
    /// When the emulator started (the time of every user's first entry).
    pub started_at: String,
    /// Users in tenant order.
    pub users: Vec<UserLicenseHistory>,
    /// Every interruption, by user then time.
    pub interruptions: Vec<Interruption>,
}

impl UserLicenseHistory {
    /// Each time this user lost a SKU they held before and held again later.
    pub fn interruptions(&self) -> Vec<Interruption> {
        let mut out = Vec::new();
        let all: BTreeSet<SkuId> = self.entries.iter().flat_map(|e| e.skus.clone()).collect();
        for sku in all {
            let mut held = false;
            let mut lost_at: Option<&str> = None;
            for e in &self.entries {
                match (e.skus.contains(&sku), held) {
                    (false, true) => {
                        held = false;
                        lost_at = Some(&e.at);
                    }
                    (true, false) => {
                        held = true;
                        if let Some(lost) = lost_at.take() {
                            out.push(Interruption {
                                user_id: self.id,
                                user_principal_name: self.user_principal_name.clone(),
                                sku_id: sku,
                                lost_at: lost.to_owned(),
                                regained_at: e.at.clone(),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

impl LicenseHistory {
    /// Every interruption of every user (also in [`LicenseHistory::interruptions`] as
    /// served).
    pub fn interruptions(&self) -> Vec<Interruption> {
        self.users
            .iter()
            .flat_map(UserLicenseHistory::interruptions)
            .collect()
    }

    /// The history of the user with this id or (case-insensitive) UPN.
    pub fn user(&self, key: &str) -> Option<&UserLicenseHistory> {
        self.users.iter().find(|u| {
            u.id.to_string().eq_ignore_ascii_case(key)
                || u.user_principal_name.eq_ignore_ascii_case(key)
        })
    }
}

/// The recorder kept by the tenant: entries only for users whose set changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryLog {
    started_at: String,
    sequence: u64,
    changed: HashMap<usize, Vec<HistoryEntry>>,
}

impl HistoryLog {
    /// A log whose initial entries are dated `started_at`.
    pub(crate) fn new(started_at: String) -> Self {
        Self {
            started_at,
            ..Self::default()
        }
    }

    /// Records that user `u` went from `before` to `after` at `at`, if they differ.
    pub(crate) fn record(
        &mut self,
        u: usize,
        before: BTreeSet<SkuId>,
        after: BTreeSet<SkuId>,
        at: String,
    ) {
        if before == after {
            return;
        }
        self.sequence += 1;
        let entries = self.changed.entry(u).or_insert_with(|| {
            vec![HistoryEntry {
                sequence: 0,
                at: self.started_at.clone(),
                skus: before,
            }]
        });
        entries.push(HistoryEntry {
            sequence: self.sequence,
            at,
            skus: after,
        });
    }

    /// The full history; `current(u)` gives the held set of a user who never changed.
    pub(crate) fn history<'a>(
        &self,
        users: impl Iterator<Item = (usize, UserId, &'a str)>,
        current: impl Fn(usize) -> BTreeSet<SkuId>,
        only: Option<usize>,
    ) -> LicenseHistory {
        let users: Vec<UserLicenseHistory> = users
            .filter(|(u, _, _)| only.is_none_or(|o| o == *u))
            .map(|(u, id, upn)| UserLicenseHistory {
                id,
                user_principal_name: upn.to_owned(),
                entries: self.changed.get(&u).cloned().unwrap_or_else(|| {
                    vec![HistoryEntry {
                        sequence: 0,
                        at: self.started_at.clone(),
                        skus: current(u),
                    }]
                }),
            })
            .collect();
        let mut out = LicenseHistory {
            started_at: self.started_at.clone(),
            users,
            interruptions: Vec::new(),
        };
        out.interruptions = out.interruptions();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(n: u8) -> SkuId {
        SkuId(uuid::Uuid::from_bytes([n; 16]))
    }

    fn set(skus: &[u8]) -> BTreeSet<SkuId> {
        skus.iter().map(|n| sku(*n)).collect()
    }

    #[test]
    fn a_sku_lost_and_regained_is_an_interruption_a_swap_is_not() {
        let mut log = HistoryLog::new("t0".into());
        // User 0 swaps 1 for 2 (no interruption); user 1 loses 1 and gets it back.
        log.record(0, set(&[1]), set(&[1, 2]), "t1".into());
        log.record(0, set(&[1, 2]), set(&[2]), "t2".into());
        log.record(1, set(&[1]), set(&[]), "t3".into());
        log.record(1, set(&[]), set(&[1]), "t4".into());
        log.record(1, set(&[1]), set(&[1]), "t5".into());
        let ids = [UserId(uuid::Uuid::nil()), UserId(uuid::Uuid::max())];
        let h = log.history(
            [(0, ids[0], "a@x"), (1, ids[1], "b@x"), (2, ids[1], "c@x")].into_iter(),
            |_| set(&[9]),
            None,
        );
        assert_eq!(h.users[0].entries.len(), 3);
        assert_eq!(
            h.users[1].entries.len(),
            3,
            "an unchanged set is not recorded"
        );
        assert_eq!(h.users[2].entries[0].skus, set(&[9]));
        assert_eq!(
            h.interruptions,
            vec![Interruption {
                user_id: ids[1],
                user_principal_name: "b@x".into(),
                sku_id: sku(1),
                lost_at: "t3".into(),
                regained_at: "t4".into(),
            }]
        );
        assert_eq!(h.users[1].entries[2].sequence, 4);
        assert!(h.user("B@X").is_some());
    }
}
