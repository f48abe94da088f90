//! Markdown within a size budget: a plan rendered for a place that refuses long text (a
//! GitHub comment holds at most 65,536 characters, a job summary 1 MiB).
//!
//! A rendering that fits is returned unchanged, byte for byte. One that does not is rebuilt
//! from the same sections with this priority: the headline (with every safety refusal and
//! the error alert), the count table, the seat table, every error, and a table row for every
//! principal that loses a license entirely (destructive) always appear; then, while the
//! budget lasts, the details of the destructive principals, then the other principals (row
//! and details together, in plan order), then findings, then notes, then warnings. What is
//! cut is cut at principal (or row) boundaries and named: "…and N more principals (N adds,
//! N changes, N removals) — the full plan is in …".
//!
//! When even the guaranteed part does not fit (thousands of destructive principals in a
//! comment), the destructive principals are counted per SKU and listed by name only, as many
//! as fit, followed by "…and N more destructive principals"; if the headline, counts, seats
//! and errors alone are too long, they are cut at a line boundary with a pointer. The
//! result never exceeds the budget.
//!
//! Sizes are counted in bytes of UTF-8, which are never fewer than characters, so a budget
//! holds for a character limit (GitHub's comments) and a byte limit (job summaries) alike.
//! Pure: data in, `String` out.

use std::fmt::Write;

use crate::diagnostic::Diagnostic;
use crate::plan::Plan;

use super::super::Mode;
use super::super::view::{ChangeView, View, view};
use super::{change_row, code, diff_block, findings, headline, notes, problems, seats};

/// Default budget of a pull-request comment or issue body: GitHub refuses bodies over
/// 65,536 characters (<https://docs.github.com/en/rest/issues/comments#create-an-issue-comment>
/// answers 422 "body is too long"); 536 are left for the hidden marker and a header.
pub const COMMENT_BUDGET: usize = 65_000;

/// Default budget of a job summary: GitHub Actions refuses a step summary over 1 MiB
/// (<https://docs.github.com/en/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary>).
pub const SUMMARY_BUDGET: usize = 1_000_000;

/// How long a rendering may be, and where the reader finds what was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget<'a> {
    /// The most bytes the rendering may have.
    pub limit: usize,
    /// Where the full plan is, as Markdown completing "the full plan is in …", e.g.
    /// "the job summary and the `plan.json` artifact".
    pub full_plan: &'a str,
}

/// Renders `plan` as [`render`](super::render) does when that fits `budget`, and otherwise
/// as the cut rendering described in the module documentation; never longer than
/// `budget.limit` bytes.
pub fn render_within(plan: &Plan, mode: Mode, budget: &Budget<'_>) -> String {
    let full = super::render(plan, mode);
    if full.len() <= budget.limit {
        return full;
    }
    let out = cut(plan, mode, budget);
    if out.len() <= budget.limit {
        out
    } else {
        fit_lines(&out, 0, budget.limit, "lines", budget.full_plan)
    }
}

/// Counts of what a set of principals would add, change and remove.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    principals: usize,
    adds: usize,
    changes: usize,
    removals: usize,
}

impl Tally {
    fn add(&mut self, change: &ChangeView<'_>) {
        self.principals += 1;
        self.adds += change.adds.len();
        self.changes += change.updates.len() + usize::from(change.usage_location.is_some());
        self.removals += change.removes.len();
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "…and 3 more principals (1 add, 2 changes, 0 removals) — the full plan is in X."
fn more_principals(t: Tally, full_plan: &str) -> String {
    format!(
        "…and {} ({}, {}, {}) — the full plan is in {full_plan}.\n",
        plural(t.principals, "more principal", "more principals"),
        plural(t.adds, "add", "adds"),
        plural(t.changes, "change", "changes"),
        plural(t.removals, "removal", "removals"),
    )
}

/// The cut rendering (may still exceed the budget when the guaranteed part does).
fn cut(plan: &Plan, mode: Mode, budget: &Budget<'_>) -> String {
    // Errors first, so that a prefix of the problem lines keeps every error.
    let ordered: Vec<Diagnostic> = plan
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .chain(plan.diagnostics.iter().filter(|d| !d.is_error()))
        .cloned()
        .collect();
    let errors = ordered.iter().filter(|d| d.is_error()).count();
    let mut v = view(plan, mode);
    v.diagnostics = &ordered;

    let mut head = String::new();
    headline(&mut head, &v);
    let _ = writeln!(
        head,
        "> [!NOTE]\n> Shortened to fit; the full plan is in {}.\n",
        budget.full_plan
    );
    super::counts(&mut head, &v);
    seats(&mut head, &v);

    let mut problem_text = String::new();
    problems(&mut problem_text, &v);
    // The problem section opens with a blank line, its heading and a blank line.
    let problem_keep = if ordered.is_empty() { 0 } else { 3 + errors };
    let guaranteed_problems: usize = problem_text
        .split_inclusive('\n')
        .take(problem_keep)
        .map(str::len)
        .sum();

    // Room for the "…and N more" lines of the optional sections.
    let reserve = 3 * (120 + budget.full_plan.len());
    let room = budget
        .limit
        .saturating_sub(head.len() + guaranteed_problems + reserve);
    let changes = changes_within(&v, room, budget.full_plan);

    let mut out = head;
    out.push_str(&changes);
    let reserve = 2 * (120 + budget.full_plan.len());
    let left = budget
        .limit
        .saturating_sub(out.len() + guaranteed_problems + reserve);
    let mut finding_text = String::new();
    findings(&mut finding_text, &v);
    if !finding_text.is_empty() {
        let section = fit_lines(&finding_text, 0, left, "findings", budget.full_plan);
        out.push_str(&section);
    }
    let left = budget
        .limit
        .saturating_sub(out.len() + guaranteed_problems + reserve);
    let mut note_text = String::new();
    notes(&mut note_text, &v);
    if !note_text.is_empty() {
        out.push_str(&fit_framed(&note_text, left, "notes", budget.full_plan));
    }
    if !problem_text.is_empty() {
        let left = budget.limit.saturating_sub(out.len());
        out.push_str(&fit_lines(
            &problem_text,
            problem_keep,
            left,
            "warnings",
            budget.full_plan,
        ));
    }
    out
}

/// The change section within `room` bytes (see the module documentation).
fn changes_within(v: &View<'_>, room: usize, full_plan: &str) -> String {
    if v.changes.is_empty() {
        return String::new();
    }
    let rows: Vec<String> = v
        .changes
        .iter()
        .map(|c| {
            let mut row = String::new();
            change_row(&mut row, c);
            row
        })
        .collect();
    let destructive: Vec<bool> = v
        .changes
        .iter()
        .map(|c| c.removes.iter().any(|(_, d)| *d))
        .collect();
    let table_head =
        "\n#### Changes\n\n| | Principal | Add | Change | Remove |\n|---|---|---|---|---|\n";
    let details_frame = 120;
    let destructive_rows: usize = rows
        .iter()
        .zip(&destructive)
        .filter(|(_, d)| **d)
        .map(|(r, _)| r.len())
        .sum();
    if table_head.len() + destructive_rows + details_frame > room {
        return destructive_compact(v, &destructive, room, full_plan);
    }
    let mut left = room - table_head.len() - destructive_rows - details_frame;
    let n = v.changes.len();
    let mut row_shown = destructive.clone();
    let mut detail_shown = vec![false; n];
    let mut blocks: Vec<Option<String>> = vec![None; n];
    let block = |i: usize| {
        let mut text = String::new();
        diff_block(&mut text, &v.changes[i]);
        text
    };
    // Details of destructive principals first, in plan order, while they fit.
    for i in (0..n).filter(|&i| destructive[i]) {
        let text = block(i);
        if text.len() > left {
            break;
        }
        left -= text.len();
        detail_shown[i] = true;
        blocks[i] = Some(text);
    }
    // Then the other principals, row and details together, in plan order.
    for i in (0..n).filter(|&i| !destructive[i]) {
        let text = block(i);
        let cost = rows[i].len() + text.len();
        if cost > left {
            break;
        }
        left -= cost;
        row_shown[i] = true;
        detail_shown[i] = true;
        blocks[i] = Some(text);
    }

    let mut out = String::from(table_head);
    let mut omitted = Tally::default();
    for (i, change) in v.changes.iter().enumerate() {
        if row_shown[i] {
            out.push_str(&rows[i]);
        } else {
            omitted.add(change);
        }
    }
    if omitted.principals > 0 {
        out.push('\n');
        out.push_str(&more_principals(omitted, full_plan));
    }
    let detailed = detail_shown.iter().filter(|d| **d).count();
    if detailed > 0 {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "<details><summary>Details ({detailed} of {n} principals)</summary>"
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "```diff");
        for text in blocks.iter().flatten() {
            out.push_str(text);
        }
        let _ = writeln!(out, "```");
        let _ = writeln!(out);
        let _ = writeln!(out, "</details>");
    }
    out
}

/// The change section when not even one row per destructive principal fits: the
/// destructive principals counted per SKU, then named as long as room lasts.
fn destructive_compact(v: &View<'_>, destructive: &[bool], room: usize, full_plan: &str) -> String {
    let mut per_sku: std::collections::BTreeMap<&str, usize> = Default::default();
    for (change, _) in v.changes.iter().zip(destructive).filter(|(_, d)| **d) {
        for (sku, _) in change.removes.iter().filter(|(_, d)| *d) {
            *per_sku.entry(sku).or_default() += 1;
        }
    }
    let total = destructive.iter().filter(|d| **d).count();
    let mut out = String::new();
    let _ = writeln!(out, "\n#### Destructive changes\n");
    let _ = writeln!(
        out,
        "{} lose a license entirely:\n",
        plural(total, "principal", "principals")
    );
    for (sku, count) in &per_sku {
        let _ = writeln!(
            out,
            "- {}: {}",
            code(sku),
            plural(*count, "principal", "principals")
        );
    }
    out.push('\n');
    let tail_reserve = 200 + full_plan.len() * 2;
    let mut named = 0;
    let mut names = String::new();
    for change in v
        .changes
        .iter()
        .zip(destructive)
        .filter(|(_, d)| **d)
        .map(|(c, _)| c)
    {
        let item = format!(
            "{}{} {}",
            if named == 0 { "" } else { ", " },
            change.principal.kind(),
            code(change.principal.name())
        );
        if out.len() + names.len() + item.len() + tail_reserve > room {
            break;
        }
        names.push_str(&item);
        named += 1;
    }
    if named > 0 {
        out.push_str(&names);
        out.push_str("\n\n");
    }
    if named < total {
        let _ = writeln!(
            out,
            "…and {} — the full plan is in {full_plan}.\n",
            plural(
                total - named,
                "more destructive principal",
                "more destructive principals"
            )
        );
    }
    let mut omitted = Tally::default();
    for change in &v.changes {
        omitted.add(change);
    }
    out.push_str(&more_principals(omitted, full_plan));
    out
}

/// A section framed by HTML (`<details>` … `</details>`: its first three and last two
/// lines) with one item per line between: as many items as fit in `room`, the frame kept
/// whole (or nothing when not even the frame and one note fit).
fn fit_framed(text: &str, room: usize, what: &str, full_plan: &str) -> String {
    if text.len() <= room {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.len() < 5 {
        return String::new();
    }
    let (head, rest) = lines.split_at(3);
    let (items, tail) = rest.split_at(rest.len() - 2);
    let frame: usize = head.iter().chain(tail).map(|l| l.len()).sum();
    let inner: String = items.concat();
    let kept = fit_lines(&inner, 0, room.saturating_sub(frame), what, full_plan);
    if kept.is_empty() || frame + kept.len() > room {
        return String::new();
    }
    format!("{}{kept}{}", head.concat(), tail.concat())
}

/// The first lines of `text` that fit in `room` bytes, followed by "…and N more WHAT — the
/// full plan is in …" when lines were dropped ("lines" instead of WHAT when one of the
/// first `keep` lines, the guaranteed ones, had to go). Cut at a character boundary when
/// the room is smaller than the note itself.
fn fit_lines(text: &str, keep: usize, room: usize, what: &str, full_plan: &str) -> String {
    if text.len() <= room {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let note = |n: usize, what: &str| {
        format!("\n…and {n} more {what} — the full plan is in {full_plan}.\n")
    };
    let reserve = note(lines.len(), what)
        .len()
        .max(note(lines.len(), "lines").len());
    let mut out = String::new();
    let mut taken = 0;
    for line in &lines {
        if out.len() + line.len() + reserve > room {
            break;
        }
        out.push_str(line);
        taken += 1;
    }
    let dropped = lines.len() - taken;
    if dropped > 0 {
        out.push_str(&note(dropped, if taken < keep { "lines" } else { what }));
    }
    if out.len() > room {
        let mut end = room;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SkuId, TenantId, UserId};
    use crate::plan::{
        Change, LicenseAdd, LicenseRemove, Note, NoteKind, Principal, SafetyReport, SkuName,
        Summary,
    };

    fn sku(part: &str) -> SkuName {
        SkuName {
            part_number: part.into(),
            id: SkuId(uuid::Uuid::from_u128(part.len() as u128)),
        }
    }

    fn change(n: usize, destructive: bool) -> Change {
        let principal = Principal::User {
            id: UserId(uuid::Uuid::from_u128(n as u128 + 1)),
            name: format!("user{n:05}@contoso.com"),
        };
        let mut c = Change {
            principal,
            usage_location: None,
            add: Vec::new(),
            update: Vec::new(),
            remove: Vec::new(),
            rules: None,
        };
        if destructive {
            c.remove.push(LicenseRemove {
                sku: sku("ENTERPRISEPACK"),
                destructive: true,
                exchange_grace: true,
                still_inherited_from: Vec::new(),
                swapped_for: Vec::new(),
            });
        } else {
            c.add.push(LicenseAdd {
                sku: sku("SPE_E5"),
                disabled_plans: Vec::new(),
                already_inherited: false,
            });
        }
        c
    }

    fn plan(changes: Vec<Change>) -> Plan {
        let summary = Summary {
            add: changes.iter().map(|c| c.add.len() as u64).sum(),
            remove: changes.iter().map(|c| c.remove.len() as u64).sum(),
            principals_changed: changes.len() as u64,
            ..Summary::default()
        };
        Plan {
            format_version: crate::plan::PLAN_FORMAT_VERSION,
            tenant_id: TenantId(uuid::Uuid::from_u128(7)),
            tenant_domain: Some("contoso.onmicrosoft.com".into()),
            has_changes: !changes.is_empty(),
            summary,
            changes,
            seats: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
            safety: SafetyReport {
                removals: 0,
                max_removals: None,
                changed_principals: 0,
                managed_principals: 0,
                change_percent: 0.0,
                max_change_percent: None,
                violations: Vec::new(),
                allow_unsafe: false,
                refused: false,
            },
            diagnostics: Vec::new(),
            operations: Default::default(),
            rules: None,
        }
    }

    const WHERE: &str = "the job summary";

    fn within(p: &Plan, limit: usize) -> String {
        render_within(
            p,
            Mode::Plan,
            &Budget {
                limit,
                full_plan: WHERE,
            },
        )
    }

    #[test]
    fn a_rendering_that_fits_is_returned_unchanged() {
        let p = plan((0..5).map(|n| change(n, n == 2)).collect());
        assert_eq!(
            within(&p, COMMENT_BUDGET),
            super::super::render(&p, Mode::Plan)
        );
    }

    #[test]
    fn a_long_plan_is_cut_at_principals_and_keeps_every_destructive_row() {
        let p = plan((0..2_000).map(|n| change(n, n % 100 == 7)).collect());
        let full = super::super::render(&p, Mode::Plan);
        assert!(full.len() > 100_000, "{}", full.len());
        let out = within(&p, 30_000);
        assert!(out.len() <= 30_000, "{}", out.len());
        for n in (0..2_000).filter(|n| n % 100 == 7) {
            assert!(
                out.contains(&format!("| `-` | user `user{n:05}@contoso.com` |")),
                "destructive user{n:05} has its row"
            );
        }
        assert!(out.contains("**Plan: 1980 to add, 0 to change, 20 to remove.**"));
        assert!(out.contains("| Licenses to add | 1980 |"));
        // Every cut is at a principal: a shown principal has its row and its details.
        let shown_rows = out.matches("| `+` | user").count();
        let shown_details = out.matches("\n+  user user").count();
        assert_eq!(shown_rows, shown_details);
        let omitted = 1_980 - shown_rows;
        assert!(
            out.contains(&format!(
                "…and {omitted} more principals ({omitted} adds, 0 changes, 0 removals) — the full plan is in the job summary."
            )),
            "{}",
            &out[out.len() - 2_000..]
        );
        assert!(out.contains(&format!("Details ({} of 2000 principals)", shown_rows + 20)));
        assert!(
            out.matches("```").count().is_multiple_of(2),
            "fences stay balanced"
        );
    }

    #[test]
    fn too_many_destructive_principals_are_counted_and_named_compactly() {
        let p = plan((0..3_000).map(|n| change(n, true)).collect());
        let out = within(&p, 20_000);
        assert!(out.len() <= 20_000, "{}", out.len());
        assert!(out.contains("3000 principals lose a license entirely"));
        assert!(out.contains("- `ENTERPRISEPACK`: 3000 principals"));
        let named = out.matches("user `user").count();
        assert!(named > 100, "{named} named");
        assert!(out.contains(&format!(
            "…and {} more destructive principals — the full plan is in the job summary.",
            3_000 - named
        )));
        assert!(out.contains("…and 3000 more principals (0 adds, 0 changes, 3000 removals)"));
    }

    #[test]
    fn the_budget_holds_even_when_the_guaranteed_part_does_not_fit() {
        let p = plan((0..500).map(|n| change(n, true)).collect());
        for limit in [0, 1, 10, 200, 700, 1_500, 5_000] {
            let out = within(&p, limit);
            assert!(out.len() <= limit, "{limit}: {}", out.len());
        }
    }

    #[test]
    fn notes_are_cut_inside_their_collapsed_block() {
        let mut p = plan((0..50).map(|n| change(n, false)).collect());
        p.notes = (0..2_000)
            .map(|n| Note {
                kind: NoteKind::KeptThroughGroup,
                principal: change(n, false).principal,
                sku: sku("SPE_E3"),
                group: None,
                plans: Vec::new(),
                message: format!("user{n:05}@contoso.com keeps SPE_E3 through a group"),
            })
            .collect();
        p.summary.notes = 2_000;
        let out = within(&p, 40_000);
        assert!(out.len() <= 40_000, "{}", out.len());
        assert_eq!(
            out.matches("<details>").count(),
            out.matches("</details>").count(),
            "every details block is closed"
        );
        let shown = out.matches(" keeps SPE\\_E3 through a group").count();
        assert!(shown > 100 && shown < 2_000, "{shown}");
        assert!(out.contains(&format!(
            "…and {} more notes — the full plan is in the job summary.",
            2_000 - shown
        )));
        assert!(out.contains("Notes (2000)"));
    }

    #[test]
    fn fitting_lines_keeps_the_first_lines_and_names_the_rest() {
        let text: String = (0..20).map(|n| format!("row number {n:02}\n")).collect();
        assert_eq!(fit_lines(&text, 0, 1_000, "rows", "X"), text);
        let cut = fit_lines(&text, 1, 120, "rows", "X");
        assert!(cut.len() <= 120, "{}", cut.len());
        assert!(cut.starts_with("row number 00\nrow number 01\n"), "{cut}");
        let shown = cut.matches("row number").count();
        assert!(
            cut.ends_with(&format!(
                "…and {} more rows — the full plan is in X.\n",
                20 - shown
            )),
            "{cut}"
        );
        let guaranteed_cut = fit_lines(&text, 19, 120, "rows", "X");
        assert!(guaranteed_cut.ends_with("more lines — the full plan is in X.\n"));
        assert!(fit_lines(&text, 0, 3, "rows", "X").len() <= 3);
    }
}
