//! What a snapshot must hold to be planned against: every user id, userPrincipalName
//! (ignoring case), group id and SKU id once; counts that Graph could have sent (its
//! `consumedUnits`, `prepaidUnits.*` and `totalLicenses` are Int32 and never negative:
//! https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku); and SKU ids
//! `{tenantId}_{skuId}` of the snapshot's own tenant. Reading a snapshot checks this
//! ([`super::TenantSnapshot::from_slice`]); the emulator checks the same before serving
//! one.

use std::collections::{BTreeMap, HashMap};

use super::model::TenantSnapshot;

/// Most values named per kind of problem; the rest are counted.
const NAMED: usize = 100;

impl TenantSnapshot {
    /// Every problem that makes the snapshot unusable, one line each (empty when it is
    /// sound): duplicate ids and UPNs (each value named once, with how often it occurs),
    /// impossible counts, and SKU ids of another tenant.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        duplicates(
            &mut problems,
            ("user id", "user ids"),
            self.users.iter().map(|u| u.id.to_string()),
        );
        duplicates(
            &mut problems,
            (
                "userPrincipalName (compared ignoring case)",
                "userPrincipalNames (compared ignoring case)",
            ),
            self.users
                .iter()
                .map(|u| u.user_principal_name.to_lowercase()),
        );
        duplicates(
            &mut problems,
            ("group id", "group ids"),
            self.groups.iter().map(|g| g.id.to_string()),
        );
        duplicates(
            &mut problems,
            ("SKU id", "SKU ids"),
            self.subscribed_skus.iter().map(|s| s.sku_id.to_string()),
        );
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
                named(&counts)
            ));
        }
        problems
    }
}

/// A count Graph can send: an Int32 that is not negative.
fn is_count(value: i64) -> bool {
    (0..=i64::from(i32::MAX)).contains(&value)
}

/// Adds one problem naming every value of `values` that occurs more than once.
fn duplicates(
    problems: &mut Vec<String>,
    (one, many): (&str, &str),
    values: impl Iterator<Item = String>,
) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for value in values {
        *seen.entry(value).or_default() += 1;
    }
    let twice: BTreeMap<String, usize> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
    if twice.is_empty() {
        return;
    }
    let list: Vec<String> = twice
        .iter()
        .map(|(value, n)| format!("{value} ({n} times)"))
        .collect();
    problems.push(format!(
        "{} duplicate {}: {}",
        twice.len(),
        if twice.len() == 1 { one } else { many },
        named(&list)
    ));
}

/// The first [`NAMED`] of `items`, comma-separated, then how many more.
fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > NAMED {
        text.push_str(&format!(" and {} more", items.len() - NAMED));
    }
    text
}
