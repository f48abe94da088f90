//! `licensectl reprocess`'s report as terminal text or JSON: per user whether
//! reprocessing fixed its failing licenses, and for what still fails the plain-language
//! fix. Pure; names from the tenant are escaped for the terminal.

use crate::ops::reprocess::{Report, Verdict};

use super::escape::terminal;

/// The JSON format version of the reprocess report.
pub const REPROCESS_FORMAT_VERSION: u32 = 1;

/// The report as text.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let n = report.users.len();
    if report.dry_run {
        out.push_str(&format!(
            "Would reprocess {n} user(s) (--dry-run: nothing was sent):\n\n"
        ));
    } else {
        out.push_str(&format!("Reprocessed {n} user(s):\n\n"));
    }
    for r in &report.users {
        let label = match (report.dry_run, r.verdict) {
            (true, Verdict::StillFailing) => "failing",
            (true, _) => "no errors",
            (false, Verdict::Fixed) => "fixed",
            (false, Verdict::StillFailing) => "still failing",
            (false, Verdict::NoErrors) => "no errors",
        };
        out.push_str(&format!(
            "  {label:<14} {}  ({})\n",
            terminal(r.user.name()),
            r.user.id_string()
        ));
        for f in &r.fixed {
            let source = match &f.group {
                Some(g) => format!("from group {}", terminal(g)),
                None => "assigned directly".to_owned(),
            };
            out.push_str(&format!(
                "      + {} ({source}) works now{}\n",
                terminal(&f.sku),
                f.error
                    .as_deref()
                    .map(|e| format!(" (was {})", terminal(e)))
                    .unwrap_or_default()
            ));
        }
        for f in &r.failing {
            out.push_str(&format!(
                "      ! {}\n        fix: {}\n",
                terminal(&f.message),
                terminal(&f.fix)
            ));
        }
        if let Some(call) = &r.call_failed {
            out.push_str(&format!(
                "      reprocessLicenseAssignment: {}\n",
                terminal(call)
            ));
        }
    }
    if report.dry_run {
        out.push_str(&format!(
            "\nDry run: {n} user(s) to reprocess, {} with failing licenses.\n",
            report.still_failing
        ));
    } else {
        out.push_str(&format!(
            "\nReprocess: {} fixed, {} still failing, {} without errors.\n",
            report.fixed, report.still_failing, report.no_errors
        ));
    }
    out
}

/// The report as JSON (`kind: "reprocess"`, `format_version` 1).
pub fn json(report: &Report) -> String {
    super::json::versioned("reprocess", REPROCESS_FORMAT_VERSION, report)
}
