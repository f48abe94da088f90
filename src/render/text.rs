//! Terminal rendering of a plan, terraform-style: `+` add, `~` change, `-` remove, one
//! block per principal, SKU names with their GUIDs, and a closing summary line
//! "Plan: N to add, N to change, N to remove.". Every text that comes from the plan
//! passes through [`terminal`], so no control character from the tenant reaches the
//! terminal raw.

use std::fmt::Write;

use crate::plan::Plan;

use super::Mode;
use super::escape::terminal;
use super::view::{ChangeView, Headline, SeatVerdict, View, seat_verdict, view, violations};

/// Renders a plan (`Mode::Plan`) or a drift report (`Mode::Drift`) for a terminal.
pub fn render(plan: &Plan, mode: Mode) -> String {
    let v = view(plan, mode);
    let mut out = String::new();
    let _ = writeln!(out, "{} for tenant {}", v.title, terminal(&v.tenant));
    let _ = writeln!(out);
    changes(&mut out, &v);
    seats(&mut out, &v);
    findings(&mut out, &v);
    notes(&mut out, &v);
    operations(&mut out, plan);
    unmanaged(&mut out, &v);
    problems(&mut out, &v);
    safety(&mut out, &v);
    summary(&mut out, &v);
    out
}

/// One block per changed principal, or the sentence saying there is none.
fn changes(out: &mut String, v: &View<'_>) {
    if v.changes.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            match v.mode {
                Mode::Plan => "No changes. The tenant matches the configuration.",
                Mode::Drift => "Every managed principal matches the configuration.",
            }
        );
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        match v.mode {
            Mode::Plan => "licensectl will perform these changes (+ add, ~ change, - remove):",
            Mode::Drift =>
                "These principals differ from the configuration (+ missing, ~ different, - extra):",
        }
    );
    for change in &v.changes {
        let _ = writeln!(out);
        change_block(out, change);
    }
}

fn change_block(out: &mut String, change: &ChangeView<'_>) {
    for line in &change.lines {
        let _ = writeln!(
            out,
            "  {}{} {}",
            "    ".repeat(line.depth),
            line.mark.symbol(),
            terminal(&line.text)
        );
    }
}

fn seats(out: &mut String, v: &View<'_>) {
    if v.seats.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Seats:");
    for row in v.seats {
        let verdict = match seat_verdict(row) {
            SeatVerdict::Ok => String::new(),
            SeatVerdict::Grace(n) => format!("  RELIES ON {n} GRACE UNITS"),
            SeatVerdict::Oversubscribed => "  OVERSUBSCRIBED".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {:<22} {}  free {}, grace {}, needs {}, frees {}, in use after {}/{}{verdict}",
            terminal(&row.sku.part_number),
            row.sku.id,
            row.free,
            row.warning,
            row.needed,
            row.freed,
            row.consumed_after,
            row.enabled,
        );
    }
}

fn findings(out: &mut String, v: &View<'_>) {
    if v.findings.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Findings:");
    for finding in &v.findings {
        let _ = writeln!(
            out,
            "  ! {}: {}",
            finding.label,
            terminal(&finding.finding.message)
        );
        let _ = writeln!(out, "      fix: {}", terminal(&finding.finding.fix));
    }
}

fn notes(out: &mut String, v: &View<'_>) {
    if v.notes.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Notes:");
    for note in v.notes {
        let _ = writeln!(out, "  i {}", terminal(&note.message));
    }
}

fn operations(out: &mut String, plan: &Plan) {
    let lines = super::operations::lines(plan);
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Operations:");
    for line in lines {
        let _ = writeln!(out, "  > {}", terminal(&line));
    }
}

fn unmanaged(out: &mut String, v: &View<'_>) {
    if let Some((users, groups)) = v.unmanaged {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Not managed (left untouched): {users} licensed users, {groups} licensed groups."
        );
    }
}

fn problems(out: &mut String, v: &View<'_>) {
    if v.diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for diagnostic in v.diagnostics {
        let _ = writeln!(out, "{}", terminal(&diagnostic.to_string()));
    }
}

fn safety(out: &mut String, v: &View<'_>) {
    if v.safety.violations.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for violation in &v.safety.violations {
        let verdict = if violation.refuses {
            "refused"
        } else {
            "allowed by --allow-unsafe"
        };
        let _ = writeln!(out, "Unsafe ({verdict}): {}", terminal(&violation.text));
    }
}

/// The closing line: the counts, and why the plan cannot be applied if it cannot.
fn summary(out: &mut String, v: &View<'_>) {
    let s = v.summary;
    let _ = writeln!(out);
    match v.headline {
        Headline::NoChanges | Headline::Changes => {
            let _ = writeln!(
                out,
                "Plan: {} to add, {} to change, {} to remove.",
                s.add, s.change, s.remove
            );
            if v.has_errors {
                let _ = writeln!(out, "The plan has errors and cannot be applied.");
            } else if v.safety.refused {
                let _ = writeln!(out, "The plan is refused by the safety limits.");
            }
        }
        Headline::Drift => {
            let _ = writeln!(
                out,
                "Drift: {} principals differ ({} to add, {} to change, {} to remove), {} findings.",
                s.principals_changed, s.add, s.change, s.remove, s.findings
            );
        }
        Headline::NoDrift => {
            let _ = writeln!(out, "No drift.");
        }
    }
}

/// The violations that refuse the plan, one line each (for the CLI's stderr).
pub fn refusal(plan: &Plan) -> Vec<String> {
    violations(plan)
        .into_iter()
        .filter(|v| v.refuses)
        .map(|v| terminal(&v.text).into_owned())
        .collect()
}
