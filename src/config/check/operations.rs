//! The settings of license operations in `licensectl.yaml`: `migrate_to_groups` (the
//! staged move from direct to group licensing) and `prices` (what a seat costs per
//! month). Their shape is the schema's (`max_users_per_run` at least 1, `monthly` not
//! negative, `currency` three capital letters); this checks what the schema cannot and
//! fills in the [`Settings`]. Pure.

use std::path::Path;
use std::sync::Arc;

use super::{Checker, Owner, at};
use crate::config::desired::{MigrateToGroups, Price, Settings};
use crate::config::raw::RawFile;
use crate::diagnostic::{Diagnostic, DiagnosticCode};

/// Most hundredths a price may hold (far above any seat price; keeps sums exact).
const MAX_CENTS: f64 = 1e12;

/// Checks `raw`'s `migrate_to_groups` and `prices` into `settings`.
pub(super) fn check(c: &mut Checker<'_>, file: &Arc<Path>, raw: &RawFile, settings: &mut Settings) {
    if let Some(migrate) = &raw.migrate_to_groups {
        let n = &migrate.value.max_users_per_run;
        match u32::try_from(n.value) {
            Ok(max) if max >= 1 => {
                settings.migrate_to_groups = Some(MigrateToGroups {
                    max_users_per_run: max,
                    location: at(file, &migrate.referenced),
                });
            }
            // 0 is refused by the schema already.
            Ok(_) => {}
            Err(_) => c.push(
                Diagnostic::new(
                    DiagnosticCode::InvalidValue,
                    format!(
                        "migrate_to_groups.max_users_per_run {} is too large",
                        n.value
                    ),
                )
                .at(at(file, &n.referenced))
                .help(format!("use a number from 1 to {}", u32::MAX)),
            ),
        }
    }
    if let Some(prices) = &raw.prices {
        for (sku, price) in &prices.value.0 {
            let Some(sku) = c.sku(file, &Owner::Prices, sku) else {
                continue;
            };
            let monthly = price.value.monthly.value;
            let cents = (monthly * 100.0).round();
            if !(cents.is_finite() && (0.0..=MAX_CENTS).contains(&cents)) {
                // Negative amounts are refused by the schema; this catches the rest.
                c.push(
                    Diagnostic::new(
                        DiagnosticCode::InvalidValue,
                        format!("prices: {monthly} is not a monthly amount"),
                    )
                    .at(at(file, &price.value.monthly.referenced))
                    .help("write the price of one seat per month, e.g. `monthly: 57.00`"),
                );
                continue;
            }
            settings.prices.push(Price {
                sku,
                monthly_cents: cents as i64,
                currency: price.value.currency.value.trim().to_owned(),
            });
        }
    }
}
