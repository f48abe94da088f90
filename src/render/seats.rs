//! The seat report of `licensectl seats` as terminal text, Markdown or JSON (HTML is in
//! `html`). Pure; names from the tenant are escaped for each medium.

use std::fmt::Write;

use crate::ops::seats::{SeatReport, SkuSeats};

use super::escape::{markdown, terminal};

/// The JSON format version of the seat report.
pub const SEATS_FORMAT_VERSION: u32 = 1;

/// The columns, as both tables show them.
pub(crate) const HEADERS: [&str; 12] = [
    "SKU",
    "purchased",
    "assigned",
    "direct",
    "group",
    "free",
    "grace",
    "expiring 30/60/90",
    "trial",
    "idle",
    "never",
    "cost/month",
];

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

/// One row's cells after the SKU, as text.
pub(crate) fn cells(s: &SkuSeats) -> [String; 11] {
    [
        s.purchased.to_string(),
        s.assigned.to_string(),
        s.direct.to_string(),
        s.group_only.to_string(),
        s.free.to_string(),
        s.in_grace.to_string(),
        format!("{}/{}/{}", s.expiring[0], s.expiring[1], s.expiring[2]),
        s.trial.to_string(),
        or_dash(s.idle.map(|n| n.to_string())),
        or_dash(s.never_signed_in.map(|n| n.to_string())),
        or_dash(s.monthly_cost.as_ref().map(ToString::to_string)),
    ]
}

/// The sentences under the table: lifecycle dates, what idle means, what is not known,
/// the cost. Raw text.
pub(crate) fn notes(report: &SeatReport) -> Vec<String> {
    let mut out = Vec::new();
    for s in &report.skus {
        if let Some((date, units)) = &s.next_lifecycle {
            out.push(format!(
                "{}: {units} seat(s) reach their next lifecycle date on {date} (they lapse unless renewed)",
                s.sku.part_number
            ));
        }
        if s.in_grace > 0 {
            out.push(format!(
                "{}: {} unit(s) are in their grace period",
                s.sku.part_number, s.in_grace
            ));
        }
    }
    if report.sign_ins_read {
        out.push(format!(
            "idle: holders whose last sign-in (successful, else attempted) is {} or more days ago; never: holders who never signed in",
            report.idle_days
        ));
    } else {
        out.push("idle: not known, the tenant state holds no sign-in activity (it needs AuditLog.Read.All and Microsoft Entra ID P1 or P2)".to_owned());
    }
    if !report.subscriptions_read {
        out.push("expiring and trial: not known, the tenant state holds no subscriptions (GET /directory/subscriptions needs Organization.Read.All)".to_owned());
    }
    if !report.monthly_cost.is_empty() {
        let cost: Vec<String> = report
            .monthly_cost
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut line = format!("cost: {} per month for the priced SKUs", cost.join(" and "));
        let idle: Vec<String> = report
            .idle_cost
            .iter()
            .filter(|m| m.cents > 0)
            .map(ToString::to_string)
            .collect();
        if !idle.is_empty() {
            let _ = write!(line, ", of which idle seats {}", idle.join(" and "));
        }
        out.push(line);
    }
    out
}

/// The report as text.
pub fn text(report: &SeatReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "licensectl seats for tenant {} as of {}",
        terminal(&report.tenant),
        report.as_of
    );
    let _ = writeln!(out);
    let rows: Vec<(String, [String; 11])> = report
        .skus
        .iter()
        .map(|s| (terminal(&s.sku.part_number).into_owned(), cells(s)))
        .collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for (sku, cells) in &rows {
        widths[0] = widths[0].max(sku.chars().count());
        for (i, c) in cells.iter().enumerate() {
            widths[i + 1] = widths[i + 1].max(c.chars().count());
        }
    }
    let line = |first: &str, rest: &[String]| {
        let mut l = format!("{first:<w$}", w = widths[0]);
        for (i, c) in rest.iter().enumerate() {
            let _ = write!(l, "  {c:>w$}", w = widths[i + 1]);
        }
        l.trim_end().to_owned()
    };
    let headers: Vec<String> = HEADERS[1..].iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", line(HEADERS[0], &headers));
    for (sku, cells) in &rows {
        let _ = writeln!(out, "{}", line(sku, cells));
    }
    let notes = notes(report);
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in notes {
            let _ = writeln!(out, "  {}", terminal(&n));
        }
    }
    out
}

/// The report as GitHub-flavoured Markdown.
pub fn markdown_report(report: &SeatReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### licensectl seats: {} as of {}",
        markdown(&report.tenant),
        report.as_of
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(
        out,
        "|---|{}",
        HEADERS[1..].iter().map(|_| "---:|").collect::<String>()
    );
    for s in &report.skus {
        let cells = cells(s);
        let _ = writeln!(
            out,
            "| {} | {} |",
            super::escape::markdown_code(&s.sku.part_number),
            cells.join(" | ")
        );
    }
    let notes = notes(report);
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in notes {
            let _ = writeln!(out, "- {}", markdown(&n));
        }
    }
    out
}

/// The report as JSON (`kind: "seats"`, `format_version` 1).
pub fn json(report: &SeatReport) -> String {
    super::json::versioned("seats", SEATS_FORMAT_VERSION, report)
}
