//! Terminal rendering of a plan, terraform-style: `+` add, `~` change, `-` remove, one
//! block per principal, SKU names with their GUIDs, and a closing summary line
//! "Plan: N to add, N to change, N to remove.".

use std::fmt::Write;

use crate::plan::{Change, FindingKind, Plan, SafetyViolation, safety};

use super::{Mode, change_lines, tenant_label};

/// Renders a plan (`Mode::Plan`) or a drift report (`Mode::Drift`) for a terminal.
pub fn render(plan: &Plan, mode: Mode) -> String {
    let mut out = String::new();
    let title = match mode {
        Mode::Plan => "licensectl plan",
        Mode::Drift => "licensectl drift report",
    };
    let _ = writeln!(out, "{title} for tenant {}", tenant_label(plan));
    let _ = writeln!(out);

    if plan.changes.is_empty() {
        match mode {
            Mode::Plan => {
                let _ = writeln!(out, "No changes. The tenant matches the configuration.");
            }
            Mode::Drift => {
                let _ = writeln!(out, "Every managed principal matches the configuration.");
            }
        }
    } else {
        let _ = writeln!(
            out,
            "{}",
            match mode {
                Mode::Plan => "licensectl will perform these changes (+ add, ~ change, - remove):",
                Mode::Drift =>
                    "These principals differ from the configuration (+ missing, ~ different, - extra):",
            }
        );
        for change in &plan.changes {
            let _ = writeln!(out);
            change_block(&mut out, change);
        }
    }

    if !plan.seats.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Seats:");
        for row in &plan.seats {
            let _ = writeln!(
                out,
                "  {:<22} {}  free {}, needs {}, frees {}, in use after {}/{}{}",
                row.sku.part_number,
                row.sku.id,
                row.free,
                row.needed,
                row.freed,
                row.consumed_after,
                row.enabled - row.warning,
                if row.oversubscribed {
                    "  OVERSUBSCRIBED"
                } else {
                    ""
                }
            );
        }
    }

    if !plan.findings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Findings:");
        for finding in &plan.findings {
            let label = match finding.kind {
                FindingKind::PlanOutsideAllowlist => "new service plan",
                FindingKind::DuplicateOfInherited => "duplicate of inherited",
                FindingKind::InheritedOverrides => "inherited overrides",
                FindingKind::AssignmentError => "license error",
            };
            let _ = writeln!(out, "  ! {label}: {}", finding.message);
            let _ = writeln!(out, "      fix: {}", finding.fix);
        }
    }

    let s = &plan.summary;
    if s.unmanaged_licensed_users > 0 || s.unmanaged_licensed_groups > 0 {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Not managed (left untouched): {} licensed users, {} licensed groups.",
            s.unmanaged_licensed_users, s.unmanaged_licensed_groups
        );
    }

    if !plan.diagnostics.is_empty() {
        let _ = writeln!(out);
        for diagnostic in &plan.diagnostics {
            let _ = writeln!(out, "{diagnostic}");
        }
    }

    if !plan.safety.violations.is_empty() {
        let _ = writeln!(out);
        for violation in &plan.safety.violations {
            let verdict =
                if plan.safety.refused && (!plan.safety.allow_unsafe || !violation.overridable()) {
                    "refused"
                } else {
                    "allowed by --allow-unsafe"
                };
            let _ = writeln!(out, "Unsafe ({verdict}): {}", safety::describe(violation));
        }
    }

    let _ = writeln!(out);
    match mode {
        Mode::Plan => {
            let _ = writeln!(
                out,
                "Plan: {} to add, {} to change, {} to remove.",
                s.add, s.change, s.remove
            );
            if plan.has_errors() {
                let _ = writeln!(out, "The plan has errors and cannot be applied.");
            } else if plan.safety.refused {
                let _ = writeln!(out, "The plan is refused by the safety limits.");
            }
        }
        Mode::Drift => {
            if plan.has_drift() {
                let _ = writeln!(
                    out,
                    "Drift: {} principals differ ({} to add, {} to change, {} to remove), {} findings.",
                    s.principals_changed, s.add, s.change, s.remove, s.findings
                );
            } else {
                let _ = writeln!(out, "No drift.");
            }
        }
    }
    out
}

fn change_block(out: &mut String, change: &Change) {
    for line in change_lines(change) {
        let _ = writeln!(
            out,
            "  {}{} {}",
            "    ".repeat(line.depth),
            line.marker,
            line.text
        );
    }
}

/// The violations that refuse the plan, one line each (for the CLI's stderr).
pub fn refusal(plan: &Plan) -> Vec<String> {
    plan.safety
        .violations
        .iter()
        .filter(|v: &&SafetyViolation| !plan.safety.allow_unsafe || !v.overridable())
        .map(safety::describe)
        .collect()
}
