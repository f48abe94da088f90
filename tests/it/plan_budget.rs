//! The Markdown budget on a real large plan: the churn tenant with 12,437 changed users
//! (3.56 MB of Markdown uncut; the issue measured 3.8 MB) rendered into a comment (65,000)
//! and a job summary (1,000,000), with the guaranteed content checked in each.

use licensectl::diagnostic::{Diagnostic, DiagnosticCode};
use licensectl::plan::{PlanOptions, plan};
use licensectl::render::Mode;
use licensectl::render::markdown::{Budget, COMMENT_BUDGET, SUMMARY_BUDGET, render, render_within};

use crate::churn;

const CHANGES: usize = 12_437;

// The figures (sizes, counts) are what this test reports.
#[allow(clippy::print_stderr)]
#[test]
fn a_12437_change_plan_fits_a_comment_and_a_summary_with_everything_guaranteed() {
    let tenant = churn::tenant(29_000);
    let dir = tempfile::tempdir().expect("tempdir");
    churn::write_config(&tenant, dir.path(), CHANGES);
    // Limits the plan exceeds: the refusal must show.
    std::fs::write(
        dir.path().join("licensectl.yaml"),
        "version: 1\ntenant: contoso.onmicrosoft.com\nsafety: { max_removals: 25, max_change_percent: 10 }\n",
    )
    .expect("settings");
    let loaded = licensectl::config::load(dir.path());
    let desired = loaded.desired.expect("valid churn config");
    let mut p = plan(&desired, &tenant, &PlanOptions::default());
    assert_eq!(p.changes.len(), CHANGES);
    // Problems to carry: errors must all show, warnings may be cut.
    for n in 0..40 {
        p.diagnostics.push(Diagnostic::new(
            DiagnosticCode::UnknownSku,
            format!("unknown SKU `GHOST_{n:02}` for user{n}@contoso.com"),
        ));
    }
    p.summary.errors = 40;

    let full = render(&p, Mode::Plan);
    let destructive: Vec<&str> = p
        .changes
        .iter()
        .filter(|c| c.is_destructive())
        .map(|c| c.principal.name())
        .collect();
    eprintln!(
        "12,437-change plan: {} bytes uncut, {} destructive principals, {} seat rows, {} safety violations",
        full.len(),
        destructive.len(),
        p.seats.len(),
        p.safety.violations.len()
    );
    assert!(full.len() > 3_500_000, "{}", full.len());
    assert!(
        p.safety.refused,
        "the churn plan exceeds the default safety limits"
    );

    for (limit, full_plan) in [
        (
            COMMENT_BUDGET,
            "the job summary and the `plan.json` artifact",
        ),
        (SUMMARY_BUDGET, "the `plan.json` artifact"),
    ] {
        let out = render_within(&p, Mode::Plan, &Budget { limit, full_plan });
        eprintln!(
            "  within {limit}: {} bytes, {} characters",
            out.len(),
            out.chars().count()
        );
        assert!(out.len() <= limit, "{} > {limit}", out.len());
        // The summary, the counts, every seat row, the refusal and every error.
        let s = &p.summary;
        assert!(out.contains(&format!(
            "**Plan: {} to add, {} to change, {} to remove.**",
            s.add, s.change, s.remove
        )));
        assert!(out.contains(&format!("| Principals changed | {CHANGES} |")));
        for row in &p.seats {
            assert!(
                out.contains(&format!("| `{}` |", row.sku.part_number)),
                "seat row {}",
                row.sku.part_number
            );
        }
        assert!(out.contains("The plan is refused by the safety limits:"));
        let refusals = out.lines().filter(|l| l.starts_with("> - ")).count();
        assert_eq!(refusals, p.safety.violations.len(), "every exceeded limit");
        for n in 0..40 {
            assert!(out.contains(&format!("GHOST\\_{n:02}")), "error {n} shown");
        }
        assert!(out.contains(&format!("the full plan is in {full_plan}.")));
        assert!(
            out.matches("```").count().is_multiple_of(2),
            "code fences stay balanced"
        );
        let rows = destructive
            .iter()
            .filter(|name| out.contains(&format!("| `-` | user `{name}` |")))
            .count();
        if limit == SUMMARY_BUDGET {
            // Every destructive principal has its row; the rest are cut at principals.
            assert_eq!(rows, destructive.len());
            assert!(out.contains("more principals ("), "a count of what was cut");
        } else {
            // More destructive principals than one comment can name: counted per SKU, named
            // while room lasts, and the rest pointed to.
            let named = destructive
                .iter()
                .filter(|name| out.contains(&format!("user `{name}`")))
                .count();
            eprintln!(
                "    {named} of {} destructive principals named",
                destructive.len()
            );
            assert!(named > 500, "{named}");
            assert!(out.contains(&format!(
                "{} principals lose a license entirely:",
                destructive.len()
            )));
            assert!(out.contains(&format!(
                "…and {} more destructive principals — the full plan is in {full_plan}.",
                destructive.len() - named
            )));
        }
    }
}
