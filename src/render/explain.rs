//! `licensectl explain` for a terminal: an [`Explanation`] of one user as text — who
//! governs it, `rules_scope`, every rule with each condition and the user's value, the
//! groups that license it, what it holds now and after the plan, and the plan's change.
//! JSON is the explanation's own serialization. Every text from the tenant or the config
//! passes through `terminal`.

use std::fmt::Write;

use crate::plan::{ConditionResult, Explanation, Held};

use super::escape::terminal;
use super::view;

fn mark(holds: bool) -> &'static str {
    if holds { "✓" } else { "✗" }
}

fn condition(out: &mut String, indent: &str, c: &ConditionResult, prefix: &str) {
    let _ = writeln!(
        out,
        "{indent}{} {prefix}{} {} (is {})",
        mark(c.holds),
        terminal(&c.attribute),
        terminal(&c.condition),
        terminal(&c.value)
    );
}

fn holdings(out: &mut String, title: &str, list: &[Held]) {
    if list.is_empty() {
        let _ = writeln!(out, "{title}: no license");
        return;
    }
    let _ = writeln!(out, "{title}:");
    for h in list {
        let because = h
            .because
            .as_ref()
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}{}",
            terminal(&h.sku.part_number),
            terminal(&h.source),
            terminal(&because)
        );
    }
}

/// The explanation as text.
pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "user {}  ({})",
        terminal(e.user.name()),
        e.user.id_string()
    );
    let _ = writeln!(out, "  {}", terminal(&e.verdict));
    if e.has_rules {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "rules_scope: {}",
            if e.in_scope { "in scope" } else { "outside" }
        );
        for c in &e.scope {
            condition(&mut out, "  ", c, "");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Rules:");
        for rule in &e.rules {
            let gives: Vec<&str> = rule.gives.iter().map(|s| s.part_number.as_str()).collect();
            let verdict = match (rule.matches, e.governed) {
                (true, true) => "matches",
                (true, false) => "would match, but does not govern this user",
                (false, _) => "does not match",
            };
            let _ = writeln!(
                out,
                "  {} {}: {verdict}; gives {}",
                if rule.matches { '+' } else { '-' },
                terminal(&rule.name),
                terminal(&gives.join(", "))
            );
            for c in &rule.conditions {
                condition(&mut out, "      ", c, "");
            }
            for c in &rule.exclude {
                let mut shown = c.clone();
                // An exclude condition that holds is what fails the rule.
                shown.holds = !c.holds;
                condition(&mut out, "      ", &shown, "not excluded by ");
            }
            for covered in &rule.covered {
                let _ = writeln!(
                    out,
                    "      = covered: {} (not assigned directly)",
                    terminal(covered)
                );
            }
        }
    }
    let _ = writeln!(out);
    if e.groups.is_empty() {
        let _ = writeln!(out, "Groups: no group licenses this user");
    } else {
        let _ = writeln!(out, "Groups:");
        for g in &e.groups {
            let licenses: Vec<String> = g
                .licenses
                .iter()
                .map(|(sku, state)| format!("{} ({state})", sku.part_number))
                .collect();
            let _ = writeln!(
                out,
                "  {} gives {}",
                terminal(g.group.name()),
                terminal(&licenses.join(", "))
            );
        }
    }
    let _ = writeln!(out);
    holdings(&mut out, "Holds now", &e.holds);
    holdings(&mut out, "After the plan", &e.after);
    let _ = writeln!(out);
    match &e.change {
        None => {
            let _ = writeln!(out, "The plan does not change this user.");
        }
        Some(change) => {
            let _ = writeln!(out, "The plan:");
            let view = view::change(change);
            for line in view.lines.iter().skip(1) {
                let _ = writeln!(
                    out,
                    "  {}{} {}",
                    "    ".repeat(line.depth.saturating_sub(1)),
                    line.mark.symbol(),
                    terminal(&line.text)
                );
            }
        }
    }
    out
}

/// The explanation as pretty JSON with a trailing newline.
pub fn json(e: &Explanation) -> String {
    let mut text = serde_json::to_string_pretty(e).unwrap_or_default();
    text.push('\n');
    text
}
