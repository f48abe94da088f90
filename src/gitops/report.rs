//! The report `licensectl comment` posts: a saved plan (`plan --out`) or the JSON document
//! of `plan`/`drift --format json`, read as untrusted input.
//!
//! A report may come from a job that ran code of a pull request (a fork's artifact), so it
//! is checked before a word of it is posted: its size, its format and version, that every
//! text in it is free of control characters (names may not even hold a line break, which
//! would let them out of a Markdown code block), that the tenant domain is a domain, and
//! that its counts agree with its changes (a hand-edited "no changes" over a list of
//! removals is refused). The report is only ever rendered; it names no command, file or
//! URL that anything acts on. Pure: text in, data out.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use serde::Deserialize;
use serde_json::Value;

use crate::plan::saved::{SAVED_PLAN_FORMAT, SavedPlan, SavedPlanError};
use crate::plan::{PLAN_FORMAT_VERSION, Plan, SafetyReport, Summary};
use crate::render::Mode;

/// The largest report read (a 500,000-user tenant's plan JSON is well below it).
pub const MAX_REPORT_BYTES: usize = 256 * 1024 * 1024;

/// Why a report is refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Larger than [`MAX_REPORT_BYTES`].
    #[error("the report is {size} bytes, more than the {MAX_REPORT_BYTES} a report may have")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not JSON, or not of either shape.
    #[error(
        "not a licensectl report: {reason} (expected a saved plan from `licensectl plan --out` or the output of `licensectl plan|drift --format json`)"
    )]
    NotAReport {
        /// What is wrong, with the JSON position when there is one.
        reason: String,
    },
    /// A saved plan that does not read.
    #[error("not a readable saved plan")]
    SavedPlan(#[source] SavedPlanError),
    /// A plan document of another format version.
    #[error(
        "the report has plan format version {found}; this licensectl reads version {PLAN_FORMAT_VERSION}"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// A text with a control character.
    #[error("the report holds a control character in {path}; refusing to post it")]
    ControlCharacter {
        /// JSON path of the text, e.g. `changes[3].principal.name`.
        path: String,
    },
    /// A tenant domain that is not a DNS name.
    #[error("the report's tenant_domain is not a domain name")]
    BadDomain,
    /// Counts that disagree with the changes.
    #[error("the report is inconsistent: {what} (it was not written by licensectl, or was edited)")]
    Inconsistent {
        /// Which count disagrees.
        what: String,
    },
}

/// Plan or drift report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// `licensectl plan` (or a saved plan).
    Plan,
    /// `licensectl drift`.
    Drift,
}

/// A checked report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Plan or drift.
    pub kind: ReportKind,
    /// The plan it holds (from a saved plan: its changes, with counts recomputed, and no
    /// seats, findings, notes or problems, which a saved plan does not record).
    pub plan: Plan,
    /// True when read from a saved plan.
    pub from_saved_plan: bool,
}

impl Report {
    /// The rendering mode.
    pub fn mode(&self) -> Mode {
        match self.kind {
            ReportKind::Plan => Mode::Plan,
            ReportKind::Drift => Mode::Drift,
        }
    }

    /// Changes to review (a plan) or drift to report (changes or findings).
    pub fn has_changes(&self) -> bool {
        match self.kind {
            ReportKind::Plan => self.plan.has_changes,
            ReportKind::Drift => self.plan.has_drift(),
        }
    }

    /// True when a principal loses a license entirely.
    pub fn is_destructive(&self) -> bool {
        self.plan.changes.iter().any(|c| c.is_destructive())
    }

    /// The tenant's domain when known, else its id.
    pub fn tenant(&self) -> String {
        self.plan
            .tenant_domain
            .clone()
            .unwrap_or_else(|| self.plan.tenant_id.to_string())
    }
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    kind: Option<Value>,
}

#[derive(Deserialize)]
struct Document {
    kind: ReportKind,
    has_drift: bool,
    #[serde(flatten)]
    plan: Plan,
}

/// Reads and checks a report.
pub fn parse(text: &str) -> Result<Report, ReportError> {
    if text.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge { size: text.len() });
    }
    let not_a_report = |e: serde_json::Error| ReportError::NotAReport {
        reason: format!("line {} column {}: {e}", e.line(), e.column()),
    };
    let value: Value = serde_json::from_str(text).map_err(not_a_report)?;
    check_texts(&value, &mut String::new())?;
    let header: Header =
        serde_json::from_value(value.clone()).map_err(|e| ReportError::NotAReport {
            reason: e.to_string(),
        })?;
    let report = if header.format.as_deref() == Some(SAVED_PLAN_FORMAT) {
        let saved = SavedPlan::from_json(text, std::path::Path::new("REPORT"))
            .map_err(ReportError::SavedPlan)?;
        Report {
            kind: ReportKind::Plan,
            plan: plan_of_saved(saved),
            from_saved_plan: true,
        }
    } else if header.kind.is_some() {
        let version = value.get("format_version").and_then(Value::as_u64);
        if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
            return Err(ReportError::Version {
                found: version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            });
        }
        let document: Document =
            serde_json::from_value(value).map_err(|e| ReportError::NotAReport {
                reason: e.to_string(),
            })?;
        check_counts(&document.plan, document.has_drift)?;
        Report {
            kind: document.kind,
            plan: document.plan,
            from_saved_plan: false,
        }
    } else {
        return Err(ReportError::NotAReport {
            reason: "neither a `format` nor a `kind` field".to_owned(),
        });
    };
    check_names(&report.plan)?;
    Ok(report)
}

/// Refuses control characters in any text (line breaks and tabs are allowed in messages;
/// the renderers fold them), and in keys.
fn check_texts(value: &Value, path: &mut String) -> Result<(), ReportError> {
    let bad = |text: &str| {
        text.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    };
    match value {
        Value::String(text) if bad(text) => {
            Err(ReportError::ControlCharacter { path: path.clone() })
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.chars().any(char::is_control) {
                    return Err(ReportError::ControlCharacter { path: path.clone() });
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_texts(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Names shown inside code blocks may not hold any control character at all.
fn check_names(plan: &Plan) -> Result<(), ReportError> {
    let bad = |text: &str| text.chars().any(char::is_control);
    let fail = |path: String| Err(ReportError::ControlCharacter { path });
    if let Some(domain) = &plan.tenant_domain {
        let ok = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(ReportError::BadDomain);
        }
    }
    for (i, change) in plan.changes.iter().enumerate() {
        if bad(change.principal.name()) {
            return fail(format!("changes[{i}].principal.name"));
        }
        if let Some(step) = &change.usage_location
            && (bad(&step.to) || step.from.as_deref().is_some_and(bad))
        {
            return fail(format!("changes[{i}].usage_location"));
        }
        let skus = change
            .add
            .iter()
            .map(|a| (&a.sku, &a.disabled_plans, Vec::new()))
            .chain(change.update.iter().map(|u| {
                (
                    &u.sku,
                    &u.disabled_plans,
                    u.enable.iter().chain(&u.disable).collect::<Vec<_>>(),
                )
            }));
        for (sku, disabled, toggled) in skus {
            if bad(&sku.part_number)
                || disabled.iter().any(|p| bad(&p.name))
                || toggled.iter().any(|p| bad(&p.name))
            {
                return fail(format!("changes[{i}]"));
            }
        }
        if let Some(rules) = &change.rules {
            let mut names = rules
                .matched
                .iter()
                .chain(rules.licenses.iter().flat_map(|l| &l.rules))
                .chain(
                    rules
                        .usage_location
                        .iter()
                        .flat_map(|u| u.rule.iter().chain(&u.country)),
                );
            if names.any(|n| bad(n)) {
                return fail(format!("changes[{i}].rules"));
            }
        }
        for remove in &change.remove {
            if bad(&remove.sku.part_number)
                || remove.swapped_for.iter().any(|s| bad(&s.part_number))
                || remove.still_inherited_from.iter().any(|g| bad(g.name()))
            {
                return fail(format!("changes[{i}].remove"));
            }
        }
    }
    for (i, row) in plan.seats.iter().enumerate() {
        if bad(&row.sku.part_number) {
            return fail(format!("seats[{i}].sku.part_number"));
        }
    }
    for (i, finding) in plan.findings.iter().enumerate() {
        if bad(finding.principal.name()) || bad(&finding.sku.part_number) {
            return fail(format!("findings[{i}]"));
        }
    }
    Ok(())
}

/// The counts of a plan document must be the ones its changes, findings and problems give.
fn check_counts(plan: &Plan, has_drift: bool) -> Result<(), ReportError> {
    let expected = summary_of(plan);
    let s = &plan.summary;
    let pairs = [
        ("summary.add", s.add, expected.add),
        ("summary.change", s.change, expected.change),
        ("summary.remove", s.remove, expected.remove),
        (
            "summary.usage_locations",
            s.usage_locations,
            expected.usage_locations,
        ),
        (
            "summary.principals_changed",
            s.principals_changed,
            expected.principals_changed,
        ),
        ("summary.findings", s.findings, plan.finding_count()),
        ("summary.notes", s.notes, plan.notes.len() as u64),
        ("summary.errors", s.errors, expected.errors),
        ("summary.warnings", s.warnings, expected.warnings),
    ];
    for (what, claimed, actual) in pairs {
        if claimed != actual {
            return Err(ReportError::Inconsistent {
                what: format!("{what} is {claimed} but the report lists {actual}"),
            });
        }
    }
    if plan.has_changes == plan.changes.is_empty() {
        return Err(ReportError::Inconsistent {
            what: format!(
                "has_changes is {} with {} change(s)",
                plan.has_changes,
                plan.changes.len()
            ),
        });
    }
    if has_drift != plan.has_drift() {
        return Err(ReportError::Inconsistent {
            what: format!("has_drift is {has_drift} but the changes and findings say otherwise"),
        });
    }
    let refuses = plan
        .safety
        .violations
        .iter()
        .any(|v| !v.overridable() || !plan.safety.allow_unsafe);
    if plan.safety.refused != refuses {
        return Err(ReportError::Inconsistent {
            what: format!(
                "safety.refused is {} but its violations say {refuses}",
                plan.safety.refused
            ),
        });
    }
    Ok(())
}

/// The change counts of a plan's changes and problems (the planner's rules).
fn summary_of(plan: &Plan) -> Summary {
    let mut s = Summary {
        principals_changed: plan.changes.len() as u64,
        findings: plan.finding_count(),
        notes: plan.notes.len() as u64,
        ..Summary::default()
    };
    for change in &plan.changes {
        s.add += change.add.len() as u64;
        s.remove += change.remove.len() as u64;
        s.change += change.update.len() as u64;
        if change.usage_location.is_some() {
            s.usage_locations += 1;
            s.change += 1;
        }
    }
    s.errors = plan.diagnostics.iter().filter(|d| d.is_error()).count() as u64;
    s.warnings = plan.diagnostics.len() as u64 - s.errors;
    s
}

/// A saved plan as a plan: its changes, counted; nothing else (seats, findings, notes,
/// problems) is recorded in it.
fn plan_of_saved(saved: SavedPlan) -> Plan {
    let changes: Vec<_> = saved.changes.into_iter().map(|c| c.change).collect();
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        tenant_id: saved.tenant_id,
        tenant_domain: saved.tenant_domain,
        has_changes: !changes.is_empty(),
        summary: Summary::default(),
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
    };
    plan.summary = summary_of(&plan);
    plan.safety.removals = plan.summary.remove;
    plan.safety.changed_principals = plan.summary.principals_changed;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::json;

    fn contoso_plan() -> Plan {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso");
        let loaded = crate::config::load(&dir);
        let desired = loaded.desired.expect("valid example");
        let live = crate::snapshot::TenantSnapshot::read(&dir.join("tenant.json")).expect("tenant");
        crate::plan::plan(&desired, &live, &crate::plan::PlanOptions::default())
    }

    #[test]
    fn a_plan_document_reads_back_as_the_plan_it_renders() {
        let plan = contoso_plan();
        for mode in [Mode::Plan, Mode::Drift] {
            let report = parse(&json::render(&plan, mode)).expect("reads");
            assert_eq!(report.plan, plan);
            assert_eq!(report.mode(), mode);
            assert!(report.has_changes());
            assert!(report.is_destructive());
            assert_eq!(report.tenant(), "contoso.onmicrosoft.com");
        }
    }

    #[test]
    fn a_saved_plan_reads_as_its_changes_with_counts() {
        let plan = contoso_plan();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso");
        let live = crate::snapshot::TenantSnapshot::read(&dir.join("tenant.json")).expect("tenant");
        let saved = SavedPlan::new(&plan, &live, "sha256:x");
        let report = parse(&saved.to_json()).expect("reads");
        assert!(report.from_saved_plan);
        assert_eq!(report.plan.changes, plan.changes);
        assert_eq!(report.plan.summary.add, plan.summary.add);
        assert_eq!(report.plan.summary.remove, plan.summary.remove);
        assert_eq!(report.plan.summary.change, plan.summary.change);
    }

    fn edited(f: impl FnOnce(&mut Value)) -> Result<Report, ReportError> {
        let mut value: Value =
            serde_json::from_str(&json::render(&contoso_plan(), Mode::Plan)).expect("json");
        f(&mut value);
        parse(&value.to_string())
    }

    #[test]
    fn hostile_or_edited_reports_are_refused_with_the_reason() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "a line break in a name",
                Box::new(|v| v["changes"][0]["principal"]["name"] = "x\n```\n# pwned".into()),
                "control character in changes[0].principal.name",
            ),
            (
                "an escape sequence in a message",
                Box::new(|v| v["findings"][0]["message"] = "\u{1b}[2J".into()),
                "control character in findings[0].message",
            ),
            (
                "no changes claimed over a list of changes",
                Box::new(|v| v["has_changes"] = false.into()),
                "has_changes is false with 8 change(s)",
            ),
            (
                "a lowered removal count",
                Box::new(|v| v["summary"]["remove"] = 0.into()),
                "summary.remove is 0 but the report lists 3",
            ),
            (
                "a markup tenant domain",
                Box::new(|v| v["tenant_domain"] = "<!-- x -->".into()),
                "not a domain name",
            ),
            (
                "another format version",
                Box::new(|v| v["format_version"] = 99.into()),
                "plan format version 99",
            ),
            (
                "an unknown kind",
                Box::new(|v| v["kind"] = "apply".into()),
                "not a licensectl report",
            ),
        ];
        for (what, edit, message) in cases {
            let err = edited(edit).expect_err(what);
            assert!(err.to_string().contains(message), "{what}: {err}");
        }
        for text in ["", "[]", "{}", "{\"kind\": 1", "\"plan\""] {
            let err = parse(text).expect_err(text);
            assert!(
                err.to_string().starts_with("not a licensectl report"),
                "{err}"
            );
        }
    }
}
