//! JSON rendering: the [`Plan`] as a versioned document (schema in `docs/plan.md`).
//!
//! The document is the plan's own serialization plus `kind` (`plan` or `drift`) and
//! `has_drift`, pretty-printed with a trailing newline. Field order is fixed by the
//! structs and every list is sorted by the planner, so output is byte-stable.

use serde::Serialize;

use crate::plan::Plan;

use super::Mode;

#[derive(Serialize)]
struct Document<'a> {
    kind: &'static str,
    has_drift: bool,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// Renders the plan as pretty JSON.
pub fn render(plan: &Plan, mode: Mode) -> String {
    // Room for the whole document at once (about 700 bytes an entry on a large plan)
    // rather than doubling through a 73 MB one; room never written costs no memory.
    let entries = plan.changes.len() + plan.findings.len() + plan.notes.len();
    let mut bytes = Vec::with_capacity(64 * 1024 + entries.saturating_mul(1024));
    // A `Vec` takes every write, and the plan is plain data with string keys and finite
    // numbers: serialization cannot fail, and serde_json writes UTF-8.
    if write(plan, mode, &mut bytes).is_err() {
        bytes.clear();
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes what [`render`] returns into `out` as it is made, so that a caller printing a
/// large plan never holds the whole document (73 MB for a 500k-user tenant's plan). The
/// only errors are `out`'s own.
pub fn write(plan: &Plan, mode: Mode, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let document = Document {
        kind: match mode {
            Mode::Plan => "plan",
            Mode::Drift => "drift",
        },
        has_drift: plan.has_drift(),
        plan,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct Versioned<'r, R: Serialize> {
    kind: &'static str,
    format_version: u32,
    #[serde(flatten)]
    report: &'r R,
}

/// A report other than a plan (`seats`, `reprocess`) as pretty JSON: `kind` and
/// `format_version` first, then the report's own fields, with a trailing newline.
pub(crate) fn versioned<R: Serialize>(
    kind: &'static str,
    format_version: u32,
    report: &R,
) -> String {
    let document = Versioned {
        kind,
        format_version,
        report,
    };
    // Plain data with string keys and finite numbers: serialization cannot fail.
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
