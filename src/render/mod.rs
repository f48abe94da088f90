//! Rendering: a [`Plan`] as terminal text, a Markdown pull-request comment, or JSON.
//!
//! Pure functions, data in and `String` out: no I/O, clock or environment, so the same
//! plan always renders byte-identically (PR comments are updated only when the plan
//! really changed). Rendering must not decide anything; the plan already holds it.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub mod json;
pub mod markdown;
pub mod text;

use crate::plan::{Change, Plan, PlanName};

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

/// One line of a principal's block: a `+`/`~`/`-` marker, a depth (0 = the principal,
/// 1 = a license, 2 = a detail) and the text.
struct Line {
    marker: char,
    depth: usize,
    text: String,
}

fn plan_list(plans: &[PlanName]) -> String {
    plans
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lines describing one change, shared by the text and Markdown renderers.
fn change_lines(change: &Change) -> Vec<Line> {
    let line = |marker, depth, text: String| Line {
        marker,
        depth,
        text,
    };
    let p = &change.principal;
    let mut lines = vec![line(
        principal_marker(change),
        0,
        format!("{} {}  ({})", p.kind(), p.name(), p.id_string()),
    )];
    if let Some(step) = &change.usage_location {
        lines.push(line(
            '~',
            1,
            format!(
                "usageLocation: {} -> {}  (set before assigning)",
                step.from.as_deref().unwrap_or("(unset)"),
                step.to
            ),
        ));
    }
    for add in &change.add {
        let mut text = format!("{}  {}", add.sku.part_number, add.sku.id);
        if add.already_inherited {
            text.push_str("  (also inherited from a group: no new seat)");
        }
        lines.push(line('+', 1, text));
        if !add.disabled_plans.is_empty() {
            lines.push(line(
                '+',
                2,
                format!("disabled: {}", plan_list(&add.disabled_plans)),
            ));
        }
    }
    for update in &change.update {
        lines.push(line(
            '~',
            1,
            format!("{}  {}", update.sku.part_number, update.sku.id),
        ));
        if !update.disable.is_empty() {
            lines.push(line(
                '-',
                2,
                format!("turn off: {}", plan_list(&update.disable)),
            ));
        }
        if !update.enable.is_empty() {
            lines.push(line(
                '+',
                2,
                format!("turn on: {}", plan_list(&update.enable)),
            ));
        }
    }
    for remove in &change.remove {
        let note = if !remove.still_inherited_from.is_empty() {
            let groups: Vec<&str> = remove
                .still_inherited_from
                .iter()
                .map(|g| g.name())
                .collect();
            format!(
                "  (direct copy only; still inherited from group {})",
                groups.join(", ")
            )
        } else if remove.exchange_grace {
            "  (DESTRUCTIVE: the mailbox enters Exchange Online's 30-day grace period)".to_owned()
        } else if !remove.swapped_for.is_empty() {
            let by: Vec<&str> = remove
                .swapped_for
                .iter()
                .map(|s| s.part_number.as_str())
                .collect();
            format!("  (swapped for {} in the same call)", by.join(", "))
        } else if remove.destructive {
            "  (DESTRUCTIVE)".to_owned()
        } else {
            String::new()
        };
        lines.push(line(
            '-',
            1,
            format!("{}  {}{note}", remove.sku.part_number, remove.sku.id),
        ));
    }
    lines
}
