//! What a snapshot must hold to be planned against: every user id, userPrincipalName
//! (ignoring case), group id and SKU id once; counts that Graph could have sent (its
//! `consumedUnits`, `prepaidUnits.*` and `totalLicenses` are Int32 and never negative:
//! https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku); and SKU ids
//! `{tenantId}_{skuId}` of the snapshot's own tenant. Reading a snapshot checks this
//! ([`super::TenantSnapshot::from_slice`]); the emulator checks the same before serving
//! one.

use std::borrow::Cow;
use std::fmt::Display;
use std::hash::{BuildHasher, Hash};

use hashbrown::DefaultHashBuilder;
use hashbrown::hash_table::{Entry, HashTable};

use super::model::TenantSnapshot;

/// Most values named per kind of problem; the rest are counted.
const NAMED: usize = 100;

/// From this many users, the id and UPN checks run on two threads.
const PARALLEL_USERS: usize = 50_000;

impl TenantSnapshot {
    /// Every problem that makes the snapshot unusable, one line each (empty when it is
    /// sound): duplicate ids and UPNs (each value named once, with how often it occurs),
    /// impossible counts, and SKU ids of another tenant.
    pub fn problems(&self) -> Vec<String> {
        let users = &self.users;
        let id_problems = || {
            let mut problems = Vec::new();
            duplicates(&mut problems, ("user id", "user ids"), users.len(), |i| {
                users[i].id
            });
            problems
        };
        let upn_problems = || {
            let mut problems = Vec::new();
            duplicates(
                &mut problems,
                (
                    "userPrincipalName (compared ignoring case)",
                    "userPrincipalNames (compared ignoring case)",
                ),
                users.len(),
                |i| folded(&users[i].user_principal_name),
            );
            problems
        };
        // A large tenant's two checks side by side (a thread costs more than a small one).
        let (mut problems, upns) = if self.users.len() < PARALLEL_USERS {
            (id_problems(), upn_problems())
        } else {
            std::thread::scope(|scope| {
                let upns = scope.spawn(upn_problems);
                let ids = id_problems();
                match upns.join() {
                    Ok(upns) => (ids, upns),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        };
        problems.extend(upns);
        let groups = &self.groups;
        duplicates(
            &mut problems,
            ("group id", "group ids"),
            groups.len(),
            |i| groups[i].id,
        );
        let skus = &self.subscribed_skus;
        duplicates(&mut problems, ("SKU id", "SKU ids"), skus.len(), |i| {
            skus[i].sku_id
        });
        let mut counts = Vec::new();
        for sku in &self.subscribed_skus {
            let name = &sku.sku_part_number;
            let units = &sku.prepaid_units;
            for (field, value) in [
                ("consumedUnits", sku.consumed_units),
                ("prepaidUnits.enabled", units.enabled),
                ("prepaidUnits.warning", units.warning),
                ("prepaidUnits.suspended", units.suspended),
                ("prepaidUnits.lockedOut", units.locked_out),
            ] {
                if !is_count(value) {
                    counts.push(format!("{name} {field} {value}"));
                }
            }
            if let Some(id) = &sku.id
                && let Some((tenant, _)) = id.split_once('_')
                && !tenant.eq_ignore_ascii_case(&self.tenant_id.to_string())
            {
                problems.push(format!(
                    "SKU {name} has id {id}, of tenant {tenant}, but the snapshot is of tenant {}",
                    self.tenant_id
                ));
            }
        }
        for subscription in &self.subscriptions {
            if !is_count(subscription.total_licenses) {
                counts.push(format!(
                    "subscription {} totalLicenses {}",
                    subscription.id, subscription.total_licenses
                ));
            }
        }
        if !counts.is_empty() {
            problems.push(format!(
                "impossible counts (Graph sends whole numbers from 0 to {}): {}",
                i32::MAX,
                named(&counts, counts.len())
            ));
        }
        problems
    }
}

/// A count Graph can send: an Int32 that is not negative.
fn is_count(value: i64) -> bool {
    (0..=i64::from(i32::MAX)).contains(&value)
}

/// A UPN as compared: lowercased, borrowed when it already is (lowercase ASCII).
fn folded(upn: &str) -> Cow<'_, str> {
    if upn.is_ascii() && !upn.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(upn)
    } else {
        Cow::Owned(upn.to_lowercase())
    }
}

/// Adds one problem naming every value `key(0..len)` gives more than once, in order,
/// with how often it occurs. One pass over a hash table of positions finds the repeats
/// (a position, 8 bytes, a value; only a repeat is kept as a value), and only they are sorted:
/// sorting all 500k UPNs to find none cost 0.12 s of a large plan's load.
fn duplicates<K: Hash + Eq + Ord + Display>(
    problems: &mut Vec<String>,
    (one, many): (&str, &str),
    len: usize,
    key: impl Fn(usize) -> K,
) {
    let hasher = DefaultHashBuilder::default();
    let mut seen: HashTable<usize> = HashTable::with_capacity(len);
    let mut repeats: Vec<K> = Vec::new();
    for at in 0..len {
        let value = key(at);
        let hash = hasher.hash_one(&value);
        match seen.entry(hash, |&i| key(i) == value, |&i| hasher.hash_one(key(i))) {
            Entry::Occupied(_) => repeats.push(value),
            Entry::Vacant(slot) => {
                slot.insert(at);
            }
        }
    }
    if repeats.is_empty() {
        return;
    }
    // A value occurring n times is n - 1 repeats.
    repeats.sort_unstable();
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    for run in repeats.chunk_by(|a, b| a == b) {
        count += 1;
        if list.len() < NAMED {
            list.push(format!("{} ({} times)", run[0], run.len() + 1));
        }
    }
    problems.push(format!(
        "{count} duplicate {}: {}",
        if count == 1 { one } else { many },
        named(&list, count)
    ));
}

/// The first [`NAMED`] of `items`, comma-separated, then how many more.
fn named(items: &[String], total: usize) -> String {
    let mut text = items
        .iter()
        .take(NAMED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if total > NAMED {
        text.push_str(&format!(" and {} more", total - NAMED));
    }
    text
}
