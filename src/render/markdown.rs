//! Markdown rendering for pull-request comments: a summary table, a per-SKU seat table,
//! a change table with destructive removals marked, and the full per-principal details
//! in a collapsible `<details>` block. Byte-stable: re-running on the same inputs gives
//! identical text, so a bot can skip updating an unchanged comment. Text from the plan is
//! escaped (`escape`): as inline text, as a code span, or — inside the `diff` block — for
//! control characters, so no tenant name can open HTML, a link or a new table cell.

use std::fmt::Write;

use crate::plan::Plan;

use super::Mode;
use super::escape::{markdown as esc, markdown_code as code, terminal};
use super::view::{
    ChangeView, FindingView, Headline, Mark, RuleFindingView, SeatVerdict, View, seat_verdict, view,
};

fn sku_list<'a>(items: impl Iterator<Item = (&'a str, bool)>) -> String {
    items
        .map(|(name, strong)| {
            if strong {
                format!("**{}** (destructive)", code(name))
            } else {
                code(name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders a plan or drift report as GitHub-flavoured Markdown.
pub fn render(plan: &Plan, mode: Mode) -> String {
    let v = view(plan, mode);
    let mut out = String::new();
    headline(&mut out, &v);
    counts(&mut out, &v);
    seats(&mut out, &v);
    rules(&mut out, &v);
    changes(&mut out, &v);
    findings(&mut out, &v);
    notes(&mut out, &v);
    operations(&mut out, plan);
    problems(&mut out, &v);
    out
}

/// License operations (migration waves, what freed seats are worth), one bullet each.
fn operations(out: &mut String, plan: &Plan) {
    let lines = super::operations::lines(plan);
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "#### License operations");
    let _ = writeln!(out);
    for line in lines {
        let _ = writeln!(out, "- {}", esc(&line));
    }
}

/// The title, the verdict and the alerts (destructive removals, errors, safety refusal).
fn headline(out: &mut String, v: &View<'_>) {
    let s = v.summary;
    let _ = writeln!(out, "### {}: {}", v.title, code(&v.tenant));
    let _ = writeln!(out);
    let headline = match v.headline {
        Headline::NoChanges => "**No changes.** The tenant matches the configuration.".to_owned(),
        Headline::Changes => format!(
            "**Plan: {} to add, {} to change, {} to remove.**",
            s.add, s.change, s.remove
        ),
        Headline::NoDrift => "**No drift.**".to_owned(),
        Headline::Drift => format!(
            "**Drift: {} principals differ, {} findings.**",
            s.principals_changed, s.findings
        ),
    };
    let _ = writeln!(out, "{headline}");
    if v.destructive > 0 {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> {} principal(s) lose a license entirely (destructive). A removed Exchange Online license starts the mailbox's 30-day grace period.",
            v.destructive
        );
    }
    if v.has_errors {
        let _ = writeln!(
            out,
            "\n> [!CAUTION]\n> The plan has {} error(s) and cannot be applied.",
            s.errors
        );
    }
    if v.safety.refused {
        let _ = writeln!(
            out,
            "\n> [!CAUTION]\n> The plan is refused by the safety limits:"
        );
        for violation in &v.safety.violations {
            let _ = writeln!(out, "> - {}", esc(&violation.text));
        }
    }
    let _ = writeln!(out);
}

/// The table of counts.
fn counts(out: &mut String, v: &View<'_>) {
    let s = v.summary;
    let _ = writeln!(out, "| | Count |");
    let _ = writeln!(out, "|---|---:|");
    let rows = [
        ("Licenses to add", s.add),
        ("Changes (service plans, usage location)", s.change),
        ("Licenses to remove", s.remove),
        ("Principals changed", s.principals_changed),
        ("Managed users", s.managed_users),
        ("Managed groups", s.managed_groups),
        (
            "Unmanaged licensed users (untouched)",
            s.unmanaged_licensed_users,
        ),
        (
            "Unmanaged licensed groups (untouched)",
            s.unmanaged_licensed_groups,
        ),
        ("Findings", s.findings),
        ("Notes", s.notes),
        ("Errors", s.errors),
        ("Warnings", s.warnings),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "| {label} | {value} |");
        if label == "Managed groups" && s.rule_users > 0 {
            let _ = writeln!(out, "| Users governed by rules | {} |", s.rule_users);
        }
    }
}

/// The seat table, when the plan adds or removes seats.
fn seats(out: &mut String, v: &View<'_>) {
    if v.seats.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Seats");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| SKU | Status | Enabled | Grace | Consumed | Free | Needed | Freed | In use after | |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in v.seats {
        let verdict = match seat_verdict(row) {
            SeatVerdict::Ok => "ok".to_owned(),
            SeatVerdict::Grace(n) => format!("relies on {n} grace units"),
            SeatVerdict::Oversubscribed => "**oversubscribed**".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {verdict} |",
            code(&row.sku.part_number),
            esc(row.capability_status.as_str()),
            row.enabled,
            row.warning,
            row.consumed,
            row.free,
            row.needed,
            row.freed,
            row.consumed_after,
        );
    }
}

/// The change table, then every principal's block in a collapsed `diff`.
fn changes(out: &mut String, v: &View<'_>) {
    if v.changes.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Changes");
    let _ = writeln!(out);
    let _ = writeln!(out, "| | Principal | Add | Change | Remove |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for change in &v.changes {
        change_row(out, change);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<details><summary>Details ({} principals)</summary>",
        v.changes.len()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "```diff");
    for change in &v.changes {
        diff_block(out, change);
    }
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
}

fn change_row(out: &mut String, change: &ChangeView<'_>) {
    let adds = sku_list(change.adds.iter().map(|&a| (a, false)));
    let updates: Vec<String> = change
        .usage_location
        .map(|to| format!("usage location → {}", code(to)))
        .into_iter()
        .chain(change.updates.iter().map(|u| format!("{} plans", code(u))))
        .collect();
    let removes = sku_list(change.removes.iter().copied());
    let _ = writeln!(
        out,
        "| {} | {} {} | {adds} | {} | {removes} |",
        code(&change.mark.symbol().to_string()),
        change.principal.kind(),
        code(change.principal.name()),
        updates.join(", ")
    );
}

/// The change as a `diff` block: `+` added, `-` removed, `!` changed (highlighted).
fn diff_block(out: &mut String, change: &ChangeView<'_>) {
    for line in &change.lines {
        let marker = match line.mark {
            Mark::Change => '!',
            mark => mark.symbol(),
        };
        let _ = writeln!(
            out,
            "{marker}{}{}",
            "  ".repeat(line.depth + 1),
            terminal(&line.text)
        );
    }
}

/// The rules table, when the config has rules.
fn rules(out: &mut String, v: &View<'_>) {
    let Some(report) = v.rules else {
        return;
    };
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Rules");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Rules govern {} of the {} users in `rules_scope` (the other {} are declared under `users:`).",
        report.governed,
        report.in_scope,
        report.in_scope.saturating_sub(report.governed)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Rule | Users matching | Licensed by this plan | Holding its licenses through a group |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for rule in &report.rules {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            code(&rule.name),
            rule.matched,
            rule.gains,
            rule.covered_by_groups
        );
    }
}

/// The findings table.
fn findings(out: &mut String, v: &View<'_>) {
    if v.findings.is_empty() && v.rule_findings.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Findings");
    let _ = writeln!(out);
    let _ = writeln!(out, "| Kind | Principal | SKU | What | Fix |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for FindingView { label, finding } in &v.findings {
        let _ = writeln!(
            out,
            "| {label} | {} {} | {} | {} | {} |",
            finding.principal.kind(),
            code(finding.principal.name()),
            code(&finding.sku.part_number),
            esc(&finding.message),
            esc(&finding.fix)
        );
    }
    for RuleFindingView { label, finding } in &v.rule_findings {
        let _ = writeln!(
            out,
            "| {label} | {} users | | {} | {} |",
            finding.count,
            esc(&finding.message),
            esc(&finding.fix)
        );
    }
}

/// The notes, one bullet each, collapsed (a large tenant may have many).
fn notes(out: &mut String, v: &View<'_>) {
    if v.notes.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "<details><summary>Notes ({})</summary>", v.notes.len());
    let _ = writeln!(out);
    for note in v.notes {
        let _ = writeln!(out, "- {}", esc(&note.message));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
}

/// The problems, one bullet each.
fn problems(out: &mut String, v: &View<'_>) {
    if v.diagnostics.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Problems");
    let _ = writeln!(out);
    for diagnostic in v.diagnostics {
        let place = diagnostic
            .location
            .as_ref()
            .map(|l| format!("{} ", code(&l.to_string())))
            .unwrap_or_default();
        let help = diagnostic
            .help
            .as_ref()
            .map(|h| format!(" — {}", esc(h)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- **{:?}** {place}{}: {}{help}",
            diagnostic.severity,
            code(diagnostic.code.as_str()),
            esc(&diagnostic.message)
        );
    }
}

// Within a size budget (PR comments, job summaries); a child module, so that it lays out
// the same sections as `render`.
#[path = "budget.rs"]
mod budget;
pub use budget::{Budget, COMMENT_BUDGET, SUMMARY_BUDGET, render_within};
