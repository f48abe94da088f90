//! Markdown rendering for pull-request comments: a summary table, a per-SKU seat table,
//! a change table with destructive removals marked, and the full per-principal details
//! in a collapsible `<details>` block. Byte-stable: re-running on the same inputs gives
//! identical text, so a bot can skip updating an unchanged comment.

use std::fmt::Write;

use crate::plan::{Change, FindingKind, Plan, safety};

use super::{Mode, change_lines, principal_marker, tenant_label};

/// Escapes text for a table cell or inline use.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

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
    let mut out = String::new();
    let s = &plan.summary;
    let title = match mode {
        Mode::Plan => "licensectl plan",
        Mode::Drift => "licensectl drift report",
    };
    let _ = writeln!(out, "### {title}: {}", code(&tenant_label(plan)));
    let _ = writeln!(out);

    let headline = match mode {
        Mode::Plan if !plan.has_changes => {
            "**No changes.** The tenant matches the configuration.".to_owned()
        }
        Mode::Plan => format!(
            "**Plan: {} to add, {} to change, {} to remove.**",
            s.add, s.change, s.remove
        ),
        Mode::Drift if !plan.has_drift() => "**No drift.**".to_owned(),
        Mode::Drift => format!(
            "**Drift: {} principals differ, {} findings.**",
            s.principals_changed, s.findings
        ),
    };
    let _ = writeln!(out, "{headline}");
    let destructive = plan.changes.iter().filter(|c| c.is_destructive()).count();
    if destructive > 0 {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> {destructive} principal(s) lose a license entirely (destructive). A removed Exchange Online license starts the mailbox's 30-day grace period."
        );
    }
    if plan.has_errors() {
        let _ = writeln!(
            out,
            "\n> [!CAUTION]\n> The plan has {} error(s) and cannot be applied.",
            s.errors
        );
    }
    if plan.safety.refused {
        let _ = writeln!(
            out,
            "\n> [!CAUTION]\n> The plan is refused by the safety limits:"
        );
        for violation in &plan.safety.violations {
            let _ = writeln!(out, "> - {}", esc(&safety::describe(violation)));
        }
    }
    let _ = writeln!(out);

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
        ("Errors", s.errors),
        ("Warnings", s.warnings),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "| {label} | {value} |");
    }

    if !plan.seats.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "#### Seats");
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| SKU | Status | Enabled | Warning | Consumed | Free | Needed | Freed | In use after | |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for row in &plan.seats {
            let _ = writeln!(
                out,
                "| {} | {:?} | {} | {} | {} | {} | {} | {} | {} | {} |",
                code(&row.sku.part_number),
                row.capability_status,
                row.enabled,
                row.warning,
                row.consumed,
                row.free,
                row.needed,
                row.freed,
                row.consumed_after,
                if row.oversubscribed {
                    "**oversubscribed**"
                } else {
                    "ok"
                }
            );
        }
    }

    if !plan.changes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "#### Changes");
        let _ = writeln!(out);
        let _ = writeln!(out, "| | Principal | Add | Change | Remove |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for change in &plan.changes {
            change_row(&mut out, change);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "<details><summary>Details ({} principals)</summary>",
            plan.changes.len()
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "```diff");
        for change in &plan.changes {
            diff_block(&mut out, change);
        }
        let _ = writeln!(out, "```");
        let _ = writeln!(out);
        let _ = writeln!(out, "</details>");
    }

    if !plan.findings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "#### Findings");
        let _ = writeln!(out);
        let _ = writeln!(out, "| Kind | Principal | SKU | What | Fix |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for finding in &plan.findings {
            let kind = match finding.kind {
                FindingKind::PlanOutsideAllowlist => "new service plan",
                FindingKind::DuplicateOfInherited => "duplicate of inherited",
                FindingKind::InheritedOverrides => "inherited overrides",
                FindingKind::AssignmentError => "license error",
            };
            let _ = writeln!(
                out,
                "| {kind} | {} {} | {} | {} | {} |",
                finding.principal.kind(),
                code(finding.principal.name()),
                code(&finding.sku.part_number),
                esc(&finding.message),
                esc(&finding.fix)
            );
        }
    }

    if !plan.diagnostics.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "#### Problems");
        let _ = writeln!(out);
        for diagnostic in &plan.diagnostics {
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
    out
}

fn change_row(out: &mut String, change: &Change) {
    let adds = sku_list(
        change
            .add
            .iter()
            .map(|a| (a.sku.part_number.as_str(), false)),
    );
    let mut updates: Vec<String> = change
        .update
        .iter()
        .map(|u| format!("{} plans", code(&u.sku.part_number)))
        .collect();
    if let Some(step) = &change.usage_location {
        updates.insert(0, format!("usage location → {}", code(&step.to)));
    }
    let removes = sku_list(
        change
            .remove
            .iter()
            .map(|r| (r.sku.part_number.as_str(), r.destructive)),
    );
    let _ = writeln!(
        out,
        "| {} | {} {} | {adds} | {} | {removes} |",
        code(&principal_marker(change).to_string()),
        change.principal.kind(),
        code(change.principal.name()),
        updates.join(", ")
    );
}

/// The change as a `diff` block: `+` added, `-` removed, `!` changed (highlighted).
fn diff_block(out: &mut String, change: &Change) {
    for line in change_lines(change) {
        let marker = if line.marker == '~' { '!' } else { line.marker };
        let _ = writeln!(out, "{marker}{}{}", "  ".repeat(line.depth + 1), line.text);
    }
}
