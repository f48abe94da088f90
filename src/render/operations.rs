//! The license-operations section of a plan, shared by the text and Markdown renderings:
//! the migration to group licensing (this wave, the next waves, what is blocked) and what
//! the seats the plan frees and needs are worth per month. Plain sentences, raw: each
//! renderer escapes them for its medium. Pure.

use crate::plan::{Plan, totals};

/// One sentence per operation the plan carries, in a fixed order; empty when none.
pub(crate) fn lines(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = &plan.operations.migration {
        let mut line = format!(
            "migration to group licensing: this plan removes {} direct cop{} that managed groups cover, from {} user(s) (at most {} per plan)",
            m.removals,
            if m.removals == 1 { "y" } else { "ies" },
            m.this_wave.len(),
            m.max_users_per_run
        );
        if m.next_waves.is_empty() {
            line.push_str("; no further waves");
        } else {
            line.push_str(&format!(
                "; {} user(s) wait for the next waves ({} more plan(s))",
                m.next_waves.len(),
                m.runs_after_this
            ));
        }
        if m.blocked > 0 {
            line.push_str(&format!(
                "; {} direct cop{} kept (migration blocked: see the findings)",
                m.blocked,
                if m.blocked == 1 { "y" } else { "ies" }
            ));
        }
        out.push(line);
    }
    for v in &plan.operations.seat_values {
        let mut parts = Vec::new();
        if v.freed > 0 {
            parts.push(format!(
                "frees {} seat(s) worth {} per month",
                v.freed, v.freed_monthly
            ));
        }
        if v.needed > 0 {
            parts.push(format!(
                "needs {} seat(s) costing {} per month",
                v.needed, v.needed_monthly
            ));
        }
        out.push(format!(
            "{}: {} ({} per seat)",
            v.sku.part_number,
            parts.join(", "),
            v.price
        ));
    }
    let freed: Vec<_> = plan
        .operations
        .seat_values
        .iter()
        .filter(|v| v.freed > 0)
        .map(|v| &v.freed_monthly)
        .collect();
    if !freed.is_empty() {
        let sums: Vec<String> = totals(freed).iter().map(ToString::to_string).collect();
        out.push(format!(
            "this plan reclaims {} per month",
            sums.join(" and ")
        ));
    }
    out
}
