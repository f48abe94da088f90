//! HTML reports: a plan or drift report (`drift --format html`, `plan --format html`)
//! and the seat report (`seats --format html`), each one self-contained file — inline
//! CSS, no script, no external asset (a Content-Security-Policy of `default-src 'none'`
//! says so to the browser too) — with per-SKU seat bars and the change table, laid out
//! for a phone as well as a desktop.
//!
//! Pure: data in, `String` out, no timestamp (the same plan renders byte-identically).
//! Every text from the tenant goes through [`html`] (controls and bidi characters shown
//! as escapes, markup characters as references); the plan's structure comes from the
//! shared `view`, so the HTML cannot disagree with the text and Markdown renderings.

use std::fmt::Write;

use crate::ops::seats::SeatReport;
use crate::plan::{Plan, SeatRow};

use super::Mode;
use super::escape::html;
use super::view::{ChangeView, Headline, SeatVerdict, View, seat_verdict, view};

const STYLE: &str = r#"
:root { color-scheme: light dark; --line: #d0d7de; --muted: #57606a; --in-use: #0969da;
  --group: #8250df; --new: #1a7f37; --grace: #bf8700; --free: #e6e9ed; --bad: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --line: #3d444d; --muted: #9198a1; --free: #2d333b; } }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
  padding: 12px 14px 32px; max-width: 980px; }
h1 { font-size: 1.25em; margin: .2em 0 .4em; word-break: break-word; }
h2 { font-size: 1.05em; margin: 1.6em 0 .5em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
p.headline { font-weight: 600; }
.alert { border-left: 4px solid var(--bad); padding: .4em .8em; margin: .6em 0; }
.sku { margin: .7em 0 1em; }
.sku .name { font-weight: 600; word-break: break-all; }
.sku .nums { font-size: .85em; color: var(--muted); }
.bar { display: flex; height: 16px; border-radius: 4px; overflow: hidden; background: var(--free);
  margin: .25em 0; }
.bar span { display: block; height: 100%; }
.in-use { background: var(--in-use); } .group { background: var(--group); }
.new { background: var(--new); } .grace { background: var(--grace); }
.legend { font-size: .8em; color: var(--muted); }
.legend i { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin: 0 .3em 0 .8em;
  vertical-align: -1px; }
.legend i.free { background: var(--free); border: 1px solid var(--line); }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: .92em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.destructive { color: var(--bad); font-weight: 600; }
ul { padding-left: 1.2em; } li { margin: .3em 0; } .fix { color: var(--muted); }
@media (max-width: 640px) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border-bottom: 1px solid var(--line); padding: .4em 0; }
  table.cards td { display: block; border: 0; padding: 1px 0; }
  table.cards td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); }
}
"#;

fn head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(out, "<title>{}</title>", html(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
}

fn foot(out: &mut String) {
    out.push_str("</body>\n</html>\n");
}

/// A bar of `segments` (CSS class, value) over `total` (the rest shows as free).
fn bar(out: &mut String, total: i64, segments: &[(&str, i64)]) {
    let total = total.max(1) as f64;
    out.push_str("<div class=\"bar\" role=\"img\">");
    for (class, value) in segments {
        if *value <= 0 {
            continue;
        }
        let width = (*value as f64 * 100.0 / total).clamp(0.0, 100.0);
        let _ = write!(
            out,
            "<span class=\"{class}\" style=\"width:{width:.2}%\"></span>"
        );
    }
    out.push_str("</div>\n");
}

fn legend(out: &mut String, items: &[(&str, &str)]) {
    out.push_str("<p class=\"legend\">");
    for (class, label) in items {
        let _ = write!(out, "<i class=\"{class}\"></i>{}", html(label));
    }
    out.push_str("</p>\n");
}

/// The plan's seat rows as bars: seats kept, seats the plan adds, grace units, free.
fn plan_seats(out: &mut String, rows: &[SeatRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2>Seats</h2>\n");
    legend(
        out,
        &[
            ("in-use", "in use"),
            ("new", "added by this plan"),
            ("grace", "in grace period"),
            ("free", "free"),
        ],
    );
    for row in rows {
        let after = row.consumed_after.max(0);
        let new = row.needed.clamp(0, after);
        let total = (row.enabled.max(0) + row.warning.max(0)).max(after);
        let verdict = match seat_verdict(row) {
            SeatVerdict::Ok => String::new(),
            SeatVerdict::Grace(n) => {
                format!(" · <span class=\"destructive\">relies on {n} grace units</span>")
            }
            SeatVerdict::Oversubscribed => {
                " · <span class=\"destructive\">oversubscribed</span>".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "<div class=\"sku\"><div class=\"name\">{} <code>{}</code></div>",
            html(&row.sku.part_number),
            row.sku.id
        );
        bar(
            out,
            total,
            &[
                ("in-use", after - new),
                ("new", new),
                ("grace", row.warning.max(0).min(total - after)),
            ],
        );
        let _ = writeln!(
            out,
            "<div class=\"nums\">in use after {after} of {} · needs {} · frees {} · free {} · grace {}{verdict}</div></div>",
            row.enabled, row.needed, row.freed, row.free, row.warning
        );
    }
}

fn change_row(out: &mut String, change: &ChangeView<'_>) {
    let list = |items: Vec<String>| -> String {
        if items.is_empty() {
            "—".to_owned()
        } else {
            items.join(", ")
        }
    };
    let adds = list(
        change
            .adds
            .iter()
            .map(|a| format!("<code>{}</code>", html(a)))
            .collect(),
    );
    let mut updates: Vec<String> = change
        .usage_location
        .map(|to| format!("usage location → <code>{}</code>", html(to)))
        .into_iter()
        .collect();
    updates.extend(
        change
            .updates
            .iter()
            .map(|u| format!("<code>{}</code> plans", html(u))),
    );
    let removes = list(
        change
            .removes
            .iter()
            .map(|(r, destructive)| {
                if *destructive {
                    format!(
                        "<code class=\"destructive\">{}</code> (destructive)",
                        html(r)
                    )
                } else {
                    format!("<code>{}</code>", html(r))
                }
            })
            .collect(),
    );
    let detail: Vec<String> = change
        .lines
        .iter()
        .skip(1)
        .map(|l| {
            format!(
                "{}{} {}",
                "&nbsp;&nbsp;".repeat(l.depth),
                l.mark.symbol(),
                html(&l.text)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<tr><td data-label=\"{}\"><code>{}</code><br><span class=\"legend\">{}</span></td><td data-label=\"add\">{adds}</td><td data-label=\"change\">{}</td><td data-label=\"remove\">{removes}</td></tr>",
        change.principal.kind(),
        html(change.principal.name()),
        detail.join("<br>"),
        list(updates),
    );
}

fn changes(out: &mut String, v: &View<'_>) {
    let title = match v.mode {
        Mode::Plan => "Changes",
        Mode::Drift => "Drift",
    };
    let _ = writeln!(out, "<h2>{title}</h2>");
    if v.changes.is_empty() {
        out.push_str("<p>Every managed principal matches the configuration.</p>\n");
        return;
    }
    out.push_str("<div class=\"wrap\"><table class=\"cards\">\n<thead><tr><th>Principal</th><th>Add</th><th>Change</th><th>Remove</th></tr></thead>\n<tbody>\n");
    for change in &v.changes {
        change_row(out, change);
    }
    out.push_str("</tbody></table></div>\n");
}

fn findings(out: &mut String, v: &View<'_>) {
    if v.findings.is_empty() {
        return;
    }
    out.push_str("<h2>Findings</h2>\n<ul>\n");
    for f in &v.findings {
        let _ = writeln!(
            out,
            "<li><strong>{}</strong>: {}<br><span class=\"fix\">fix: {}</span></li>",
            html(f.label),
            html(&f.finding.message),
            html(&f.finding.fix)
        );
    }
    out.push_str("</ul>\n");
}

fn list_section(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>{}</h2>\n<ul>", html(title));
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", html(item));
    }
    out.push_str("</ul>\n");
}

/// A plan or drift report as one self-contained HTML page.
pub fn plan(plan: &Plan, mode: Mode) -> String {
    let v = view(plan, mode);
    let s = v.summary;
    let mut out = String::new();
    head(&mut out, &format!("{} for {}", v.title, v.tenant));
    let _ = writeln!(
        out,
        "<h1>{} for <code>{}</code></h1>",
        html(v.title),
        html(&v.tenant)
    );
    let headline = match v.headline {
        Headline::NoChanges => "No changes. The tenant matches the configuration.".to_owned(),
        Headline::Changes => format!(
            "Plan: {} to add, {} to change, {} to remove.",
            s.add, s.change, s.remove
        ),
        Headline::NoDrift => "No drift.".to_owned(),
        Headline::Drift => format!(
            "Drift: {} principals differ ({} to add, {} to change, {} to remove), {} findings.",
            s.principals_changed, s.add, s.change, s.remove, s.findings
        ),
    };
    let _ = writeln!(out, "<p class=\"headline\">{headline}</p>");
    if v.destructive > 0 {
        let _ = writeln!(
            out,
            "<p class=\"alert\">{} principal(s) lose a license entirely (destructive). A removed Exchange Online license starts the mailbox's 30-day grace period.</p>",
            v.destructive
        );
    }
    if v.has_errors {
        let _ = writeln!(
            out,
            "<p class=\"alert\">The plan has {} error(s) and cannot be applied.</p>",
            s.errors
        );
    }
    for violation in v.safety.violations.iter().filter(|x| x.refuses) {
        let _ = writeln!(
            out,
            "<p class=\"alert\">Refused: {}</p>",
            html(&violation.text)
        );
    }
    plan_seats(&mut out, v.seats);
    changes(&mut out, &v);
    findings(&mut out, &v);
    list_section(
        &mut out,
        "License operations",
        &super::operations::lines(plan),
    );
    let notes: Vec<String> = v.notes.iter().map(|n| n.message.clone()).collect();
    list_section(&mut out, "Notes", &notes);
    let problems: Vec<String> = v.diagnostics.iter().map(ToString::to_string).collect();
    list_section(&mut out, "Problems", &problems);
    foot(&mut out);
    out
}

/// The seat report as one self-contained HTML page.
pub fn seats(report: &SeatReport) -> String {
    let mut out = String::new();
    head(&mut out, &format!("licensectl seats for {}", report.tenant));
    let _ = writeln!(
        out,
        "<h1>licensectl seats for <code>{}</code></h1>\n<p class=\"headline\">As of {}</p>",
        html(&report.tenant),
        html(&report.as_of)
    );
    out.push_str("<h2>Seats per SKU</h2>\n");
    legend(
        &mut out,
        &[
            ("in-use", "assigned directly"),
            ("group", "through groups only"),
            ("grace", "in grace period"),
            ("free", "free"),
        ],
    );
    for s in &report.skus {
        let held = s.direct + s.group_only;
        let total = (s.purchased.max(0) + s.in_grace.max(0))
            .max(held)
            .max(s.assigned);
        let _ = writeln!(
            out,
            "<div class=\"sku\"><div class=\"name\">{} <code>{}</code></div>",
            html(&s.sku.part_number),
            s.sku.id
        );
        bar(
            &mut out,
            total,
            &[
                ("in-use", s.direct),
                ("group", s.group_only),
                ("grace", s.in_grace.max(0).min(total - held)),
            ],
        );
        let cost = s
            .monthly_cost
            .as_ref()
            .map(|c| format!(" · {} per month", html(&c.to_string())))
            .unwrap_or_default();
        let idle = match (s.idle, s.never_signed_in) {
            (Some(i), Some(n)) => format!(" · idle {i}, never signed in {n}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<div class=\"nums\">purchased {} · assigned {} ({} direct, {} through groups) · free {} · grace {} · expiring in 30/60/90 days {}/{}/{} · trial {}{idle}{cost}</div></div>",
            s.purchased,
            s.assigned,
            s.direct,
            s.group_only,
            s.free,
            s.in_grace,
            s.expiring[0],
            s.expiring[1],
            s.expiring[2],
            s.trial
        );
    }
    out.push_str(
        "<h2>Table</h2>\n<div class=\"wrap\"><table class=\"cards\">\n<thead><tr><th>SKU</th>",
    );
    let headers = &super::seats::HEADERS[1..];
    for h in headers {
        let _ = write!(out, "<th class=\"num\">{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in &report.skus {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td>",
            html(&s.sku.part_number)
        );
        for (h, c) in headers.iter().zip(super::seats::cells(s)) {
            let _ = write!(
                out,
                "<td class=\"num\" data-label=\"{h}\">{}</td>",
                html(&c)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    list_section(&mut out, "Notes", &super::seats::notes(report));
    foot(&mut out);
    out
}
