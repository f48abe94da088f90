//! Terminal rendering of a plan, terraform-style: `+` add, `~` change, `-` remove, one
//! block per principal, SKU names with their GUIDs, and a closing summary line
//! "Plan: N to add, N to change, N to remove.". Every text that comes from the plan
//! passes through [`terminal`], so no control character from the tenant reaches the
//! terminal raw. Colours come from the caller's [`Palette`], added after escaping;
//! [`render`] uses none.

use std::fmt::Write;

use crate::diagnostic::Severity;
use crate::plan::Plan;

use super::Mode;
use super::escape::terminal;
use super::style::Palette;
use super::view::{ChangeView, Headline, Mark, SeatVerdict, View, seat_verdict, view, violations};

/// Renders a plan (`Mode::Plan`) or a drift report (`Mode::Drift`) for a terminal,
/// without colours (for files and pipes).
pub fn render(plan: &Plan, mode: Mode) -> String {
    render_with(plan, mode, &Palette::PLAIN)
}

/// [`render`] in the colours of `palette`; with [`Palette::PLAIN`] the same text.
pub fn render_with(plan: &Plan, mode: Mode, palette: &Palette) -> String {
    let v = view(plan, mode);
    let p = palette;
    let mut out = String::new();
    let _ = writeln!(out, "{} for tenant {}", v.title, terminal(&v.tenant));
    let _ = writeln!(out);
    changes(&mut out, &v, p);
    seats(&mut out, &v, p);
    rules(&mut out, &v);
    findings(&mut out, &v, p);
    notes(&mut out, &v);
    operations(&mut out, plan);
    unmanaged(&mut out, &v);
    problems(&mut out, &v, p);
    safety(&mut out, &v, p);
    summary(&mut out, &v, p);
    out
}

/// `mark`'s symbol in its colour.
fn symbol(mark: Mark, p: &Palette) -> String {
    let style = match mark {
        Mark::Add => p.add,
        Mark::Change => p.change,
        Mark::Remove => p.remove,
    };
    Palette::paint(style, &mark.symbol().to_string())
}

/// One block per changed principal, or the sentence saying there is none.
fn changes(out: &mut String, v: &View<'_>, p: &Palette) {
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
    let (lead, words) = match v.mode {
        Mode::Plan => (
            "licensectl will perform these changes",
            ["add", "change", "remove"],
        ),
        Mode::Drift => (
            "These principals differ from the configuration",
            ["missing", "different", "extra"],
        ),
    };
    let _ = writeln!(
        out,
        "{lead} ({} {}, {} {}, {} {}):",
        symbol(Mark::Add, p),
        words[0],
        symbol(Mark::Change, p),
        words[1],
        symbol(Mark::Remove, p),
        words[2],
    );
    for change in &v.changes {
        let _ = writeln!(out);
        change_block(out, change, p);
    }
}

fn change_block(out: &mut String, change: &ChangeView<'_>, p: &Palette) {
    for line in &change.lines {
        let indent = "    ".repeat(line.depth);
        let text = terminal(&line.text);
        let _ = if line.destructive {
            let body = format!("{} {text}", line.mark.symbol());
            writeln!(out, "  {indent}{}", Palette::paint(p.destructive, &body))
        } else if line.depth == 0 {
            let text = Palette::paint(p.strong, &text);
            writeln!(out, "  {indent}{} {text}", symbol(line.mark, p))
        } else {
            writeln!(out, "  {indent}{} {text}", symbol(line.mark, p))
        };
    }
}

fn seats(out: &mut String, v: &View<'_>, p: &Palette) {
    if v.seats.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Seats:");
    for row in v.seats {
        let verdict = match seat_verdict(row) {
            SeatVerdict::Ok => String::new(),
            SeatVerdict::Grace(n) => {
                format!(
                    "  {}",
                    Palette::paint(p.warning, &format!("RELIES ON {n} GRACE UNITS"))
                )
            }
            SeatVerdict::Oversubscribed => {
                format!("  {}", Palette::paint(p.error, "OVERSUBSCRIBED"))
            }
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

/// One line per rule: how many users it matches, licenses, and finds covered by a group.
fn rules(out: &mut String, v: &View<'_>) {
    let Some(report) = v.rules else {
        return;
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Rules govern {} of the {} users in rules_scope (the other {} are declared under users:):",
        report.governed,
        report.in_scope,
        report.in_scope.saturating_sub(report.governed)
    );
    for rule in &report.rules {
        let _ = writeln!(
            out,
            "  {}: {} users match; this plan licenses {}, {} hold its licenses through a group",
            terminal(&rule.name),
            rule.matched,
            rule.gains,
            rule.covered_by_groups
        );
    }
}

fn findings(out: &mut String, v: &View<'_>, p: &Palette) {
    if v.findings.is_empty() && v.rule_findings.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Findings:");
    let all = v
        .findings
        .iter()
        .map(|f| (f.label, &f.finding.message, &f.finding.fix))
        .chain(
            v.rule_findings
                .iter()
                .map(|f| (f.label, &f.finding.message, &f.finding.fix)),
        );
    for (label, message, fix) in all {
        let _ = writeln!(
            out,
            "  {} {label}: {}",
            Palette::paint(p.warning, "!"),
            terminal(message)
        );
        let _ = writeln!(out, "      fix: {}", terminal(fix));
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

fn problems(out: &mut String, v: &View<'_>, p: &Palette) {
    if v.diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for diagnostic in v.diagnostics {
        let style = match diagnostic.severity {
            Severity::Error => p.error,
            Severity::Warning => p.warning,
        };
        let text = diagnostic.to_string();
        let _ = writeln!(out, "{}", Palette::paint(style, &terminal(&text)));
    }
}

fn safety(out: &mut String, v: &View<'_>, p: &Palette) {
    if v.safety.violations.is_empty() {
        return;
    }
    let _ = writeln!(out);
    for violation in &v.safety.violations {
        let (verdict, style) = if violation.refuses {
            ("refused", p.error)
        } else {
            ("allowed by --allow-unsafe", p.warning)
        };
        let head = Palette::paint(style, &format!("Unsafe ({verdict}):"));
        let _ = writeln!(out, "{head} {}", terminal(&violation.text));
    }
}

/// The closing line: the counts, and why the plan cannot be applied if it cannot.
fn summary(out: &mut String, v: &View<'_>, p: &Palette) {
    let s = v.summary;
    let _ = writeln!(out);
    match v.headline {
        Headline::NoChanges | Headline::Changes => {
            let _ = writeln!(
                out,
                "{} {} to add, {} to change, {} to remove.",
                Palette::paint(p.strong, "Plan:"),
                s.add,
                s.change,
                s.remove
            );
            if v.has_errors {
                let line = "The plan has errors and cannot be applied.";
                let _ = writeln!(out, "{}", Palette::paint(p.error, line));
            } else if v.safety.refused {
                let line = "The plan is refused by the safety limits.";
                let _ = writeln!(out, "{}", Palette::paint(p.error, line));
            }
        }
        Headline::Drift => {
            let _ = writeln!(
                out,
                "{} {} principals differ ({} to add, {} to change, {} to remove), {} findings.",
                Palette::paint(p.strong, "Drift:"),
                s.principals_changed,
                s.add,
                s.change,
                s.remove,
                s.findings
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
