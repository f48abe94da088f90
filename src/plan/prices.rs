//! Seat prices (`prices:` in licensectl.yaml): what the seats a plan frees and needs are
//! worth per month, per SKU the plan touches.
//!
//! Amounts are kept in hundredths of the currency unit (integers), so sums are exact;
//! SKUs priced in different currencies are never added together. Pure.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::{Price, SkuRef};
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ids::SkuId;

use super::model::{SeatRow, SkuName};
use super::resolve::TenantIndex;

/// An amount of money: hundredths of `currency`'s unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217 code.
    pub currency: String,
    /// Hundredths (cents).
    pub cents: i64,
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{} {sign}{}.{:02}", self.currency, abs / 100, abs % 100)
    }
}

/// What a plan's seats of one priced SKU are worth per month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatValue {
    /// The product.
    pub sku: SkuName,
    /// One seat per month.
    pub price: Money,
    /// Seats the plan frees (`freed` of the seat row).
    pub freed: i64,
    /// Seats the plan needs (`needed` of the seat row).
    pub needed: i64,
    /// `freed × price`: what the plan reclaims per month.
    pub freed_monthly: Money,
    /// `needed × price`: what the plan's new seats cost per month.
    pub needed_monthly: Money,
}

/// The configured prices resolved to the tenant's SKUs (the first price of a SKU wins),
/// and a `price-unknown-sku` warning for each price of a SKU the tenant does not have.
pub(crate) fn resolve(
    index: &TenantIndex<'_>,
    prices: &[Price],
) -> (HashMap<SkuId, Money>, Vec<Diagnostic>) {
    let mut out: HashMap<SkuId, Money> = HashMap::new();
    let mut diagnostics = Vec::new();
    for price in prices {
        let found = match &price.sku.value {
            SkuRef::Id(id) => index.skus.get(id).map(|s| s.sku_id),
            SkuRef::PartNumber(part) => index
                .snapshot
                .subscribed_skus
                .iter()
                .find(|s| s.sku_part_number.eq_ignore_ascii_case(part))
                .map(|s| s.sku_id),
        };
        match found {
            Some(id) => {
                out.entry(id).or_insert_with(|| Money {
                    currency: price.currency.clone(),
                    cents: price.monthly_cents,
                });
            }
            None => {
                let name = match &price.sku.value {
                    SkuRef::Id(id) => id.to_string(),
                    SkuRef::PartNumber(part) => part.clone(),
                };
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticCode::PriceUnknownSku,
                        format!("prices: the tenant has no subscription '{name}'; its price is not used"),
                    )
                    .at(price.sku.location.clone())
                    .help("remove the price, or name the SKU by the skuPartNumber or skuId the tenant lists"),
                );
            }
        }
    }
    (out, diagnostics)
}

/// The value of the seats of every priced SKU in `seats` that the plan frees or needs.
pub(crate) fn values(prices: &HashMap<SkuId, Money>, seats: &[SeatRow]) -> Vec<SeatValue> {
    seats
        .iter()
        .filter(|row| row.freed > 0 || row.needed > 0)
        .filter_map(|row| {
            let price = prices.get(&row.sku.id)?;
            let times = |n: i64| Money {
                currency: price.currency.clone(),
                cents: price.cents.saturating_mul(n),
            };
            Some(SeatValue {
                sku: row.sku.clone(),
                price: price.clone(),
                freed: row.freed,
                needed: row.needed,
                freed_monthly: times(row.freed),
                needed_monthly: times(row.needed),
            })
        })
        .collect()
}

/// Sums of `amounts` per currency, by currency.
pub fn totals<'a>(amounts: impl IntoIterator<Item = &'a Money>) -> Vec<Money> {
    let mut by: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for m in amounts {
        let sum = by.entry(m.currency.as_str()).or_default();
        *sum = sum.saturating_add(m.cents);
    }
    by.into_iter()
        .map(|(currency, cents)| Money {
            currency: currency.to_owned(),
            cents,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_shows_two_decimals_and_sums_per_currency() {
        let eur = |cents| Money {
            currency: "EUR".into(),
            cents,
        };
        assert_eq!(eur(5700).to_string(), "EUR 57.00");
        assert_eq!(eur(-5).to_string(), "EUR -0.05");
        let usd = Money {
            currency: "USD".into(),
            cents: 1,
        };
        assert_eq!(
            totals([&eur(5700), &usd, &eur(300)]),
            vec![eur(6000), usd.clone()]
        );
    }
}
