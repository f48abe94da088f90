//! What a snapshot must hold to be planned against: every user id, userPrincipalName
//! (ignoring case), group id and SKU id once; counts that Graph could have sent (its
//! `consumedUnits`, `prepaidUnits.*` and `totalLicenses` are Int32 and never negative:
//! https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku); and SKU ids
//! `{tenantId}_{skuId}` of the snapshot's own tenant. Reading a snapshot checks this
//! ([`super::TenantSnapshot::from_slice`]); the emulator checks the same before serving
//! one.

use std::borrow::Cow;
use std::fmt::Display;
use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;
use hashbrown::hash_table::{Entry, HashTable};

use super::model::{TenantSnapshot, User};
use crate::ids::UserId;

/// Most values named per kind of problem; the rest are counted.
const NAMED: usize = 100;

/// From this many users, the id and UPN checks run on two threads.
const PARALLEL_USERS: usize = 50_000;

/// A snapshot's users by id and by userPrincipalName (compared ignoring case: both
/// lowercased with `str::to_lowercase`), as tables of positions in its list: a slot is a
/// position (8 bytes) rather than a key and a reference, 9 MB a table on a 500k-user
/// tenant. The soundness
/// check builds it to find repeats ([`TenantSnapshot::problems_and_index`]) and a reader
/// hands it on ([`TenantSnapshot::read_indexed`]), so that a planner looks users up
/// without building it again. A repeated id or UPN keeps its first position.
///
/// It holds positions, not users: it answers only for the list it was built from (the
/// lookups compare the keys found, so for another list of as many users a lookup can
/// miss, never give a user of another key), and a list of another length is refused.
#[derive(Clone)]
pub struct UserIndex {
    by_id: HashTable<usize>,
    by_upn: HashTable<usize>,
    hasher: DefaultHashBuilder,
    users: usize,
}

impl std::fmt::Debug for UserIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserIndex")
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl UserIndex {
    /// Both tables of `users` (side by side from [`PARALLEL_USERS`] users).
    pub fn new(users: &[User]) -> Self {
        Self::build(users, None).0
    }

    /// The tables, and the ids and folded UPNs that repeat (once per repeat). `hashed`:
    /// the hasher and, for each user in order, [`UserHashes::of`] it (the split read's
    /// workers compute them while the user is in their cache); used only when there is
    /// one per user.
    pub(crate) fn build<'u>(
        users: &'u [User],
        hashed: Option<(DefaultHashBuilder, &[UserHashes])>,
    ) -> (Self, Vec<UserId>, Vec<Cow<'u, str>>) {
        let (hasher, hashes) = match hashed {
            Some((hasher, hashes)) if hashes.len() == users.len() => (hasher, Some(hashes)),
            _ => (DefaultHashBuilder::default(), None),
        };
        let id_hash = |i: usize| match hashes {
            Some(hashes) => hashes[i].id,
            None => UserHashes::id(&hasher, &users[i]),
        };
        let upn_hash = |i: usize| match hashes {
            Some(hashes) => hashes[i].upn,
            None => UserHashes::upn(&hasher, &users[i]),
        };
        let ids = || table(users.len(), id_hash, |i| users[i].id);
        let upns = || {
            table(users.len(), upn_hash, |i| {
                fold(&users[i].user_principal_name)
            })
        };
        // A large tenant's two tables side by side (a thread costs more than a small one).
        let ((by_id, id_repeats), (by_upn, upn_repeats)) = if users.len() < PARALLEL_USERS {
            (ids(), upns())
        } else {
            std::thread::scope(|scope| {
                let upns = scope.spawn(upns);
                let ids = ids();
                match upns.join() {
                    Ok(upns) => (ids, upns),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        };
        let index = Self {
            by_id,
            by_upn,
            hasher,
            users: users.len(),
        };
        (index, id_repeats, upn_repeats)
    }

    /// How many users the index was built from.
    pub fn len(&self) -> usize {
        self.users
    }

    /// True when it was built from no users.
    pub fn is_empty(&self) -> bool {
        self.users == 0
    }

    /// True when it can answer for `users` (as many as it was built from).
    pub fn fits(&self, users: &[User]) -> bool {
        users.len() == self.users
    }

    /// The position in `users` (the list the index was built from) of the user with
    /// this id.
    pub fn position(&self, users: &[User], id: &UserId) -> Option<usize> {
        self.by_id
            .find(self.hasher.hash_one(id), |&i| {
                users.get(i).is_some_and(|u| u.id == *id)
            })
            .copied()
    }

    /// The position in `users` of the user with this UPN, compared ignoring case.
    pub fn position_by_upn(&self, users: &[User], upn: &str) -> Option<usize> {
        let upn = fold(upn);
        // A borrowed fold is the query itself, lowercase ASCII.
        let ascii = matches!(upn, Cow::Borrowed(_));
        self.by_upn
            .find(self.hasher.hash_one(upn.as_ref()), |&i| {
                users
                    .get(i)
                    .is_some_and(|u| folds_to(&u.user_principal_name, &upn, ascii))
            })
            .copied()
    }
}

/// Whether `candidate` folds to `folded` (a [`fold`]ed UPN, `lowercase_ascii` when it
/// is all lowercase ASCII) — `fold(candidate) == folded` without folding an ASCII
/// candidate: one comparison of bytes when the two are the same lowercase ASCII (a
/// lookup's usual case), else ASCII's case-insensitive comparison (an ASCII candidate
/// folds to ASCII lowercase, which `folded` holds where it holds ASCII at all, so
/// comparing `folded`'s bytes lowercased changes nothing).
fn folds_to(candidate: &str, folded: &str, lowercase_ascii: bool) -> bool {
    if lowercase_ascii && candidate == folded {
        // `folded` folds to itself.
        return true;
    }
    if candidate.is_ascii() {
        return candidate.eq_ignore_ascii_case(folded);
    }
    fold(candidate) == folded
}

impl TenantSnapshot {
    /// Every problem that makes the snapshot unusable, one line each (empty when it is
    /// sound): duplicate ids and UPNs (each value named once, with how often it occurs),
    /// impossible counts, and SKU ids of another tenant.
    pub fn problems(&self) -> Vec<String> {
        self.problems_and_index().0
    }

    /// [`TenantSnapshot::problems`], and the users' index the check of ids and UPNs built.
    pub fn problems_and_index(&self) -> (Vec<String>, UserIndex) {
        self.problems_and_index_hashed(None)
    }

    /// [`TenantSnapshot::problems_and_index`] with the users' hashes computed already
    /// (see [`UserIndex::build`]).
    pub(crate) fn problems_and_index_hashed(
        &self,
        hashed: Option<(DefaultHashBuilder, &[UserHashes])>,
    ) -> (Vec<String>, UserIndex) {
        let (index, id_repeats, upn_repeats) = UserIndex::build(&self.users, hashed);
        let mut problems = Vec::new();
        report(&mut problems, ("user id", "user ids"), id_repeats);
        report(
            &mut problems,
            (
                "userPrincipalName (compared ignoring case)",
                "userPrincipalNames (compared ignoring case)",
            ),
            upn_repeats,
        );
        let hasher = DefaultHashBuilder::default();
        let groups = &self.groups;
        let group_id = |i: usize| groups[i].id;
        let (_, repeats) = table(groups.len(), |i| hasher.hash_one(group_id(i)), group_id);
        report(&mut problems, ("group id", "group ids"), repeats);
        let skus = &self.subscribed_skus;
        let sku_id = |i: usize| skus[i].sku_id;
        let (_, repeats) = table(skus.len(), |i| hasher.hash_one(sku_id(i)), sku_id);
        report(&mut problems, ("SKU id", "SKU ids"), repeats);
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
        (problems, index)
    }
}

/// A count Graph can send: an Int32 that is not negative.
fn is_count(value: i64) -> bool {
    (0..=i64::from(i32::MAX)).contains(&value)
}

/// A UPN as compared: lowercased (`str::to_lowercase`), borrowed when it already is
/// (lowercase ASCII).
pub(crate) fn fold(upn: &str) -> Cow<'_, str> {
    // One pass: every byte ASCII and none a capital.
    if upn.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        Cow::Borrowed(upn)
    } else {
        Cow::Owned(upn.to_lowercase())
    }
}

/// A table of the positions `0..len` by `key` (whose hash is `hash(i)`), and every
/// value `key` gives more than once (once per repeat; the table keeps its first
/// position). One pass over a hash table of positions finds the repeats (a position, 8
/// bytes, a value; only a repeat is kept as a value), and only they are sorted
/// ([`report`]): sorting all 500k UPNs to find none cost 0.12 s of a large plan's load.
/// A key is made only to compare two whose hashes agree in the table's tag bits (and for
/// a repeat): with the hashes computed already, a user's strings are rarely read again.
fn table<K: Eq>(
    len: usize,
    hash: impl Fn(usize) -> u64,
    key: impl Fn(usize) -> K,
) -> (HashTable<usize>, Vec<K>) {
    let mut seen: HashTable<usize> = HashTable::with_capacity(len);
    let mut repeats: Vec<K> = Vec::new();
    for at in 0..len {
        match seen.entry(hash(at), |&i| key(i) == key(at), |&i| hash(i)) {
            Entry::Occupied(_) => repeats.push(key(at)),
            Entry::Vacant(slot) => {
                slot.insert(at);
            }
        }
    }
    (seen, repeats)
}

/// A user's two hashes, as [`UserIndex`] keys them: the id's and the folded UPN's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserHashes {
    id: u64,
    upn: u64,
}

impl UserHashes {
    /// `user`'s hashes with `hasher`.
    pub(crate) fn of(hasher: &DefaultHashBuilder, user: &User) -> Self {
        Self {
            id: Self::id(hasher, user),
            upn: Self::upn(hasher, user),
        }
    }

    /// The hash of `user`'s id, as the index keys it.
    fn id(hasher: &DefaultHashBuilder, user: &User) -> u64 {
        hasher.hash_one(user.id)
    }

    /// The hash of `user`'s folded UPN, as the index keys it.
    fn upn(hasher: &DefaultHashBuilder, user: &User) -> u64 {
        hasher.hash_one(fold(&user.user_principal_name).as_ref())
    }
}

/// Adds one problem naming every value of `repeats` in order, with how often it occurs.
fn report<K: Ord + Display>(
    problems: &mut Vec<String>,
    (one, many): (&str, &str),
    mut repeats: Vec<K>,
) {
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

#[cfg(test)]
mod tests {
    use super::{fold, folds_to};
    use std::borrow::Cow;

    /// The lookup's comparison answers exactly as folding both sides does: for every
    /// character (alone and between ASCII letters) as the query, against the query
    /// itself, its fold, its fold's capitals and ASCII look-alikes as candidates (the
    /// Kelvin sign folds to ASCII `k`; `İ` folds to two characters).
    #[test]
    fn a_candidate_folds_to_the_query_exactly_when_folding_both_sides_agrees() {
        let mut cases = 0;
        for c in (0..0x3_0000u32).filter_map(char::from_u32) {
            for query in [c.to_string(), format!("Ab{c}z@Contoso.com")] {
                let folded = fold(&query);
                let mut candidates = vec![
                    query.clone(),
                    folded.to_string(),
                    folded.to_uppercase(),
                    query.to_ascii_uppercase(),
                ];
                if folded.is_ascii() {
                    candidates.push(folded.to_ascii_uppercase());
                }
                for candidate in candidates {
                    let ascii = matches!(folded, Cow::Borrowed(_));
                    assert_eq!(
                        folds_to(&candidate, &folded, ascii),
                        fold(&candidate) == folded,
                        "{candidate:?} against {folded:?}"
                    );
                    cases += 1;
                }
            }
        }
        assert!(cases > 1_000_000, "{cases}");
        assert!(folds_to("\u{212A}elvin@x", "kelvin@x", true));
        assert!(folds_to("kelvin@x", &fold("\u{212A}elvin@x"), false));
        assert!(!folds_to("kelvin@y", "kelvin@x", true));
    }
}
