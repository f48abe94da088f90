//! Rendering: a [`Plan`] as terminal text, a Markdown pull-request comment, or JSON.
//!
//! Pure functions, data in and `String` out: no I/O, clock or environment, so the same
//! plan always renders byte-identically (PR comments are updated only when the plan
//! really changed). Rendering must not decide anything; the plan already holds it.

pub mod json;
pub mod markdown;
pub mod text;

use crate::plan::{Change, Plan};

/// Whether a plan is shown for applying or as a drift report (no apply framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `licensectl plan`.
    Plan,
    /// `licensectl drift`.
    Drift,
}

/// `contoso.onmicrosoft.com (48a8…)` or just the id.
fn tenant_label(plan: &Plan) -> String {
    match &plan.tenant_domain {
        Some(domain) => format!("{domain} ({})", plan.tenant_id),
        None => plan.tenant_id.to_string(),
    }
}

/// `+` when a change only adds, `-` when it only removes, `~` otherwise.
fn principal_marker(change: &Change) -> char {
    let adds = !change.add.is_empty();
    let removes = !change.remove.is_empty();
    let updates = !change.update.is_empty() || change.usage_location.is_some();
    match (adds, updates, removes) {
        (true, false, false) => '+',
        (false, false, true) => '-',
        _ => '~',
    }
}
