//! The one walk of a plan that the text and Markdown renderers both format: what each
//! section holds — the headline verdict, the destructive count, each changed principal's
//! block of lines and its table cells, the seat rows, the findings with their labels, the
//! notes, the unmanaged counts, the problems, the safety verdicts and the summary counts — decided
//! here once, so that the two renderings cannot disagree.
//!
//! Pure data in, plain data out; no formatting beyond the words that both renderings share
//! (a renderer may lay the sections out in its own order and with its own markup, but
//! must not decide what they contain). The texts here are raw: names from the tenant are
//! escaped by each renderer (`escape`), for its own medium.

use crate::diagnostic::Diagnostic;
use crate::plan::{
    Change, Finding, FindingKind, Note, Plan, PlanName, Principal, RuleFinding, RuleFindingKind,
    RulesReport, SeatRow, SkuName, Summary, safety,
};

use super::Mode;

/// A plan as the human renderings show it.
#[derive(Debug, Clone)]
pub(crate) struct View<'p> {
    /// Plan or drift report.
    pub(crate) mode: Mode,
    /// `licensectl plan` or `licensectl drift report`.
    pub(crate) title: &'static str,
    /// `contoso.onmicrosoft.com (48a8…)`, or just the tenant id.
    pub(crate) tenant: String,
    /// The verdict in one word.
    pub(crate) headline: Headline,
    /// The counts.
    pub(crate) summary: &'p Summary,
    /// Principals that lose a license entirely.
    pub(crate) destructive: usize,
    /// True when a diagnostic is an error: the plan cannot be applied.
    pub(crate) has_errors: bool,
    /// One per changed principal, in the plan's order (groups first, then users).
    pub(crate) changes: Vec<ChangeView<'p>>,
    /// Seat arithmetic per SKU, in the plan's order.
    pub(crate) seats: &'p [SeatRow],
    /// Drift beyond assignments, in the plan's order.
    pub(crate) findings: Vec<FindingView<'p>>,
    /// Findings of the rules about many users at once, after `findings`.
    pub(crate) rule_findings: Vec<RuleFindingView<'p>>,
    /// What the rules did, when the config has rules.
    pub(crate) rules: Option<&'p RulesReport>,
    /// Notes, in the plan's order.
    pub(crate) notes: &'p [Note],
    /// Licensed users and groups the config does not manage, when there are any.
    pub(crate) unmanaged: Option<(u64, u64)>,
    /// Problems, in the plan's order.
    pub(crate) diagnostics: &'p [Diagnostic],
    /// The safety verdict.
    pub(crate) safety: SafetyView,
}

/// The verdict of a plan or drift report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Headline {
    /// A plan with nothing to do.
    NoChanges,
    /// A plan with changes.
    Changes,
    /// A drift report with nothing to report.
    NoDrift,
    /// A drift report with changes or findings.
    Drift,
}

/// What a line does: adds, changes or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Something is added.
    Add,
    /// Something changes in place.
    Change,
    /// Something is removed.
    Remove,
}

impl Mark {
    /// `+`, `~` or `-`.
    pub(crate) fn symbol(self) -> char {
        match self {
            Mark::Add => '+',
            Mark::Change => '~',
            Mark::Remove => '-',
        }
    }
}

/// One line of a principal's block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// What the line does.
    pub(crate) mark: Mark,
    /// 0 = the principal, 1 = a license (or its usage location), 2 = a detail.
    pub(crate) depth: usize,
    /// The words.
    pub(crate) text: String,
    /// A removal that loses data or service (its note says DESTRUCTIVE).
    pub(crate) destructive: bool,
}

/// One changed principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeView<'p> {
    /// Who.
    pub(crate) principal: &'p Principal,
    /// [`Mark::Add`] when the change only adds, [`Mark::Remove`] when it only removes,
    /// [`Mark::Change`] otherwise.
    pub(crate) mark: Mark,
    /// The principal's block: its own line, then its usage location, adds, updates and
    /// removes with their details.
    pub(crate) lines: Vec<Line>,
    /// The usage location set first, if any.
    pub(crate) usage_location: Option<&'p str>,
    /// Part numbers added.
    pub(crate) adds: Vec<&'p str>,
    /// Part numbers whose service plans change.
    pub(crate) updates: Vec<&'p str>,
    /// Part numbers removed, each with whether the removal is destructive.
    pub(crate) removes: Vec<(&'p str, bool)>,
}

/// A finding with the label of its kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FindingView<'p> {
    /// `new service plan`, `license error`, …
    pub(crate) label: &'static str,
    /// The finding.
    pub(crate) finding: &'p Finding,
}

/// A rule finding with the label of its kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleFindingView<'p> {
    /// `no license`, `no usage location`, `unmapped country`.
    pub(crate) label: &'static str,
    /// The finding.
    pub(crate) finding: &'p RuleFinding,
}

/// What a seat row says about the plan's seats of its SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeatVerdict {
    /// The active subscriptions have the seats.
    Ok,
    /// The plan takes this many seats from units in their grace period (Graph may refuse).
    Grace(i64),
    /// More than Graph may accept: the plan is refused.
    Oversubscribed,
}

/// The verdict of one seat row.
pub(crate) fn seat_verdict(row: &SeatRow) -> SeatVerdict {
    if row.oversubscribed {
        SeatVerdict::Oversubscribed
    } else if row.grace_needed > 0 {
        SeatVerdict::Grace(row.grace_needed)
    } else {
        SeatVerdict::Ok
    }
}

/// The safety verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SafetyView {
    /// True when the plan must not be applied.
    pub(crate) refused: bool,
    /// Every threshold exceeded.
    pub(crate) violations: Vec<ViolationView>,
}

/// One exceeded threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViolationView {
    /// What was exceeded and what to do.
    pub(crate) text: String,
    /// True when this violation refuses the plan (not overridden by `--allow-unsafe`).
    pub(crate) refuses: bool,
}

/// The view of `plan` in `mode`.
pub(crate) fn view(plan: &Plan, mode: Mode) -> View<'_> {
    let s = &plan.summary;
    View {
        mode,
        title: match mode {
            Mode::Plan => "licensectl plan",
            Mode::Drift => "licensectl drift report",
        },
        tenant: match &plan.tenant_domain {
            Some(domain) => format!("{domain} ({})", plan.tenant_id),
            None => plan.tenant_id.to_string(),
        },
        headline: match mode {
            Mode::Plan if plan.has_changes => Headline::Changes,
            Mode::Plan => Headline::NoChanges,
            Mode::Drift if plan.has_drift() => Headline::Drift,
            Mode::Drift => Headline::NoDrift,
        },
        summary: s,
        destructive: plan.changes.iter().filter(|c| c.is_destructive()).count(),
        has_errors: plan.has_errors(),
        changes: plan.changes.iter().map(change).collect(),
        seats: &plan.seats,
        findings: plan
            .findings
            .iter()
            .map(|finding| FindingView {
                label: finding_label(finding.kind),
                finding,
            })
            .collect(),
        rule_findings: plan
            .rules
            .iter()
            .flat_map(|r| &r.findings)
            .map(|finding| RuleFindingView {
                label: match finding.kind {
                    RuleFindingKind::NoLicense => "no license",
                    RuleFindingKind::NoUsageLocation => "no usage location",
                    RuleFindingKind::UnmappedCountry => "unmapped country",
                },
                finding,
            })
            .collect(),
        rules: plan.rules.as_ref(),
        notes: &plan.notes,
        unmanaged: (s.unmanaged_licensed_users > 0 || s.unmanaged_licensed_groups > 0)
            .then_some((s.unmanaged_licensed_users, s.unmanaged_licensed_groups)),
        diagnostics: &plan.diagnostics,
        safety: SafetyView {
            refused: plan.safety.refused,
            violations: violations(plan),
        },
    }
}

/// Every exceeded threshold of `plan`, each with whether it refuses the plan: a violation
/// refuses unless `--allow-unsafe` was given and overrides it (the planner's rule for
/// [`SafetyReport::refused`](crate::plan::SafetyReport::refused)).
pub(crate) fn violations(plan: &Plan) -> Vec<ViolationView> {
    plan.safety
        .violations
        .iter()
        .map(|violation| ViolationView {
            text: safety::describe(violation),
            refuses: !plan.safety.allow_unsafe || !violation.overridable(),
        })
        .collect()
}

fn finding_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::PlanOutsideAllowlist => "new service plan",
        FindingKind::DuplicateOfInherited => "duplicate of inherited",
        FindingKind::InheritedOverrides => "inherited overrides",
        FindingKind::AssignmentError => "license error",
        FindingKind::StackedPlans => "stacked plans",
        FindingKind::UnknownState => "unknown state",
        FindingKind::MigrationBlocked => "migration blocked",
    }
}

fn plan_list(plans: &[PlanName]) -> String {
    plans
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The view of one change.
pub(crate) fn change(change: &Change) -> ChangeView<'_> {
    let adds = !change.add.is_empty();
    let removes = !change.remove.is_empty();
    let updates = !change.update.is_empty() || change.usage_location.is_some();
    let mark = match (adds, updates, removes) {
        (true, false, false) => Mark::Add,
        (false, false, true) => Mark::Remove,
        _ => Mark::Change,
    };
    ChangeView {
        principal: &change.principal,
        mark,
        lines: lines(change, mark),
        usage_location: change.usage_location.as_ref().map(|step| step.to.as_str()),
        adds: change
            .add
            .iter()
            .map(|a| a.sku.part_number.as_str())
            .collect(),
        updates: change
            .update
            .iter()
            .map(|u| u.sku.part_number.as_str())
            .collect(),
        removes: change
            .remove
            .iter()
            .map(|r| (r.sku.part_number.as_str(), r.destructive))
            .collect(),
    }
}

/// For a rule-governed user, why a SKU line is there: `rule a`, `rules a, b`, or
/// `matches no rule` (a removal).
fn rule_note(change: &Change, sku: &SkuName) -> Option<String> {
    let rules = change.rules.as_ref()?;
    let line = rules.licenses.iter().find(|l| l.sku == *sku)?;
    Some(match line.rules.as_slice() {
        [] => "matches no rule".to_owned(),
        [one] => format!("rule {one}"),
        many => format!("rules {}", many.join(", ")),
    })
}

/// The block of one change, its principal's line (marked `mark`) first.
pub(crate) fn lines(change: &Change, mark: Mark) -> Vec<Line> {
    let line = |mark, depth, text: String| Line {
        mark,
        depth,
        text,
        destructive: false,
    };
    let p = &change.principal;
    let mut lines = vec![line(
        mark,
        0,
        format!("{} {}  ({})", p.kind(), p.name(), p.id_string()),
    )];
    if let Some(step) = &change.usage_location {
        let source = change
            .rules
            .as_ref()
            .and_then(|r| r.usage_location.as_ref())
            .map(|source| match (&source.rule, &source.country) {
                (Some(rule), Some(country)) => {
                    format!("; rule {rule}, from country '{country}'")
                }
                (Some(rule), None) => format!("; rule {rule}"),
                (None, _) => "; defaults.usage_location".to_owned(),
            })
            .unwrap_or_default();
        lines.push(line(
            Mark::Change,
            1,
            format!(
                "usageLocation: {} -> {}  (set before assigning{source})",
                step.from.as_deref().unwrap_or("(unset)"),
                step.to
            ),
        ));
    }
    for add in &change.add {
        let mut text = format!("{}  {}", add.sku.part_number, add.sku.id);
        let mut notes: Vec<String> = Vec::new();
        if add.already_inherited {
            notes.push("also inherited from a group: no new seat".to_owned());
        }
        notes.extend(rule_note(change, &add.sku));
        if !notes.is_empty() {
            text.push_str(&format!("  ({})", notes.join("; ")));
        }
        lines.push(line(Mark::Add, 1, text));
        if !add.disabled_plans.is_empty() {
            lines.push(line(
                Mark::Add,
                2,
                format!("disabled: {}", plan_list(&add.disabled_plans)),
            ));
        }
    }
    for update in &change.update {
        let note = rule_note(change, &update.sku)
            .map(|n| format!("  ({n})"))
            .unwrap_or_default();
        lines.push(line(
            Mark::Change,
            1,
            format!("{}  {}{note}", update.sku.part_number, update.sku.id),
        ));
        if !update.disable.is_empty() {
            lines.push(line(
                Mark::Remove,
                2,
                format!("turn off: {}", plan_list(&update.disable)),
            ));
        }
        if !update.enable.is_empty() {
            lines.push(line(
                Mark::Add,
                2,
                format!("turn on: {}", plan_list(&update.enable)),
            ));
        }
    }
    for remove in &change.remove {
        let mut destructive = false;
        let note = if !remove.still_inherited_from.is_empty() {
            let groups: Vec<&str> = remove
                .still_inherited_from
                .iter()
                .map(|g| g.name())
                .collect();
            Some(format!(
                "direct copy only; still inherited from group {}",
                groups.join(", ")
            ))
        } else if remove.exchange_grace {
            destructive = true;
            Some("DESTRUCTIVE: the mailbox enters Exchange Online's 30-day grace period".to_owned())
        } else if !remove.swapped_for.is_empty() {
            let by: Vec<&str> = remove
                .swapped_for
                .iter()
                .map(|s| s.part_number.as_str())
                .collect();
            Some(format!("swapped for {} in the same call", by.join(", ")))
        } else if remove.destructive {
            destructive = true;
            Some("DESTRUCTIVE".to_owned())
        } else {
            None
        };
        let notes: Vec<String> = note
            .into_iter()
            .chain(rule_note(change, &remove.sku))
            .collect();
        let note = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join("; "))
        };
        lines.push(Line {
            destructive,
            ..line(
                Mark::Remove,
                1,
                format!("{}  {}{note}", remove.sku.part_number, remove.sku.id),
            )
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::plan::{
        LicenseAdd, LicenseRemove, LicenseUpdate, SafetyReport, SafetyViolation, UsageLocationStep,
    };

    use crate::plan::fixture::{group, sku, user};

    fn plans(names: &[&str]) -> Vec<PlanName> {
        names
            .iter()
            .zip(100u128..)
            .map(|(name, n)| PlanName {
                name: (*name).into(),
                id: crate::ids::ServicePlanId(uuid::Uuid::from_u128(n)),
            })
            .collect()
    }

    fn empty(principal: Principal) -> Change {
        Change::new(principal)
    }

    fn add(part: &str) -> LicenseAdd {
        LicenseAdd {
            sku: sku(1, part),
            disabled_plans: Vec::new(),
            already_inherited: false,
        }
    }

    fn update(part: &str) -> LicenseUpdate {
        LicenseUpdate {
            sku: sku(2, part),
            disabled_plans: Vec::new(),
            enable: Vec::new(),
            disable: Vec::new(),
        }
    }

    fn remove(part: &str) -> LicenseRemove {
        LicenseRemove {
            sku: sku(3, part),
            destructive: false,
            exchange_grace: false,
            still_inherited_from: Vec::new(),
            swapped_for: Vec::new(),
        }
    }

    fn located() -> UsageLocationStep {
        UsageLocationStep {
            from: None,
            to: "US".into(),
        }
    }

    fn plan(changes: Vec<Change>, violations: Vec<SafetyViolation>, allow_unsafe: bool) -> Plan {
        let refused = violations.iter().any(|v| !v.overridable() || !allow_unsafe);
        Plan {
            summary: Summary::default(),
            safety: SafetyReport {
                violations,
                allow_unsafe,
                refused,
                ..SafetyReport::default()
            },
            ..Plan::of_changes(TenantId(uuid::Uuid::from_u128(0x7e)), None, changes)
        }
    }

    #[test]
    fn a_principal_is_marked_by_what_its_change_does() {
        let alice = || empty(user(1, "alice@contoso.com"));
        let cases: Vec<(&str, Change, Mark)> = vec![
            (
                "only adds",
                Change {
                    add: vec![add("SPE_E3")],
                    ..alice()
                },
                Mark::Add,
            ),
            (
                "only removes",
                Change {
                    remove: vec![remove("SPE_E3")],
                    ..alice()
                },
                Mark::Remove,
            ),
            (
                "a swap",
                Change {
                    add: vec![add("SPE_E5")],
                    remove: vec![remove("SPE_E3")],
                    ..alice()
                },
                Mark::Change,
            ),
            (
                "service plans",
                Change {
                    update: vec![update("SPE_E3")],
                    ..alice()
                },
                Mark::Change,
            ),
            (
                "a usage location alone",
                Change {
                    usage_location: Some(located()),
                    ..alice()
                },
                Mark::Change,
            ),
            (
                "a usage location and an add",
                Change {
                    usage_location: Some(located()),
                    add: vec![add("SPE_E3")],
                    ..alice()
                },
                Mark::Change,
            ),
        ];
        for (what, c, mark) in cases {
            let v = change(&c);
            assert_eq!(v.mark, mark, "{what}");
            assert_eq!(v.lines[0].mark, mark, "{what}: the principal's line");
        }
    }

    #[test]
    fn a_removal_notes_its_strongest_reason() {
        let e3 = |f: fn(&mut LicenseRemove)| {
            let mut r = remove("SPE_E3");
            f(&mut r);
            r
        };
        let cases: Vec<(&str, LicenseRemove, &str)> = vec![
            ("a plain removal", e3(|_| {}), ""),
            (
                "destructive",
                e3(|r| r.destructive = true),
                "  (DESTRUCTIVE)",
            ),
            (
                "a swap",
                e3(|r| r.swapped_for = vec![sku(5, "SPE_E5"), sku(6, "VISIOCLIENT")]),
                "  (swapped for SPE_E5, VISIOCLIENT in the same call)",
            ),
            (
                "a swap that takes the last mailbox",
                e3(|r| {
                    r.destructive = true;
                    r.exchange_grace = true;
                    r.swapped_for = vec![sku(5, "SPE_E5")];
                }),
                "  (DESTRUCTIVE: the mailbox enters Exchange Online's 30-day grace period)",
            ),
            (
                "a group still grants it",
                e3(|r| {
                    r.exchange_grace = true;
                    r.still_inherited_from = vec![group(9, "SG-E3"), group(8, "SG-All")];
                }),
                "  (direct copy only; still inherited from group SG-E3, SG-All)",
            ),
        ];
        for (what, r, note) in cases {
            let destructive = r.destructive;
            let c = Change {
                remove: vec![r],
                ..empty(user(1, "alice@contoso.com"))
            };
            let v = change(&c);
            let id = uuid::Uuid::from_u128(3);
            assert_eq!(v.lines[1].text, format!("SPE_E3  {id}{note}"), "{what}");
            assert_eq!(v.removes, vec![("SPE_E3", destructive)], "{what}");
            assert_eq!(
                v.lines[1].destructive,
                note.contains("DESTRUCTIVE"),
                "{what}: the line is styled as destructive exactly when its note says so"
            );
        }
    }

    #[test]
    fn a_block_lists_the_usage_location_adds_updates_then_removes() {
        let mut inherited = add("SPE_E5");
        inherited.already_inherited = true;
        inherited.disabled_plans = plans(&["YAMMER_ENTERPRISE", "SWAY"]);
        let mut plans_change = update("SPE_E3");
        plans_change.disable = plans(&["TEAMS1"]);
        plans_change.enable = plans(&["SWAY"]);
        let c = Change {
            usage_location: Some(UsageLocationStep {
                from: Some("DE".into()),
                to: "US".into(),
            }),
            add: vec![inherited],
            update: vec![plans_change],
            remove: vec![remove("ENTERPRISEPACK")],
            ..empty(user(0xa1, "alice@contoso.com"))
        };
        let v = change(&c);
        let got: Vec<(char, usize, &str)> = v
            .lines
            .iter()
            .map(|l| (l.mark.symbol(), l.depth, l.text.as_str()))
            .collect();
        let id = |n: u128| uuid::Uuid::from_u128(n).to_string();
        let lines = [
            format!("user alice@contoso.com  ({})", id(0xa1)),
            "usageLocation: DE -> US  (set before assigning)".to_owned(),
            format!(
                "SPE_E5  {}  (also inherited from a group: no new seat)",
                id(1)
            ),
            "disabled: YAMMER_ENTERPRISE, SWAY".to_owned(),
            format!("SPE_E3  {}", id(2)),
            "turn off: TEAMS1".to_owned(),
            "turn on: SWAY".to_owned(),
            format!("ENTERPRISEPACK  {}", id(3)),
        ];
        let expected: Vec<(char, usize, &str)> = [
            ('~', 0),
            ('~', 1),
            ('+', 1),
            ('+', 2),
            ('~', 1),
            ('-', 2),
            ('+', 2),
            ('-', 1),
        ]
        .into_iter()
        .zip(&lines)
        .map(|((m, d), t)| (m, d, t.as_str()))
        .collect();
        assert_eq!(got, expected);
        assert_eq!(v.usage_location, Some("US"));
        assert_eq!((v.adds, v.updates), (vec!["SPE_E5"], vec!["SPE_E3"]));
    }

    #[test]
    fn the_headline_follows_the_mode_the_changes_and_the_findings() {
        let change = Change {
            add: vec![add("SPE_E3")],
            ..empty(user(1, "alice@contoso.com"))
        };
        let finding = Finding {
            kind: FindingKind::AssignmentError,
            principal: user(1, "alice@contoso.com"),
            sku: sku(1, "SPE_E3"),
            group: None,
            plans: Vec::new(),
            error: None,
            message: "failed".into(),
            fix: "reprocess".into(),
            managed: true,
        };
        let cases = [
            (Mode::Plan, false, false, Headline::NoChanges),
            (Mode::Plan, false, true, Headline::NoChanges),
            (Mode::Plan, true, false, Headline::Changes),
            (Mode::Drift, false, false, Headline::NoDrift),
            (Mode::Drift, false, true, Headline::Drift),
            (Mode::Drift, true, false, Headline::Drift),
        ];
        for (mode, changes, findings, headline) in cases {
            let mut p = plan(
                if changes {
                    vec![change.clone()]
                } else {
                    vec![]
                },
                Vec::new(),
                false,
            );
            if findings {
                p.findings.push(finding.clone());
            }
            let v = view(&p, mode);
            assert_eq!(
                v.headline, headline,
                "{mode:?} changes {changes} findings {findings}"
            );
            assert_eq!(v.findings.len(), usize::from(findings));
            assert!(v.findings.iter().all(|f| f.label == "license error"));
        }
    }

    #[test]
    fn the_view_counts_destructive_principals_and_names_the_tenant() {
        let mut lost = remove("ENTERPRISEPACK");
        lost.destructive = true;
        let changes = vec![
            Change {
                remove: vec![lost.clone()],
                ..empty(user(1, "carol@contoso.com"))
            },
            Change {
                remove: vec![remove("SPE_E3")],
                ..empty(user(2, "grace@contoso.com"))
            },
            Change {
                remove: vec![lost.clone(), lost],
                ..empty(user(3, "dan@contoso.com"))
            },
        ];
        let mut p = plan(changes, Vec::new(), false);
        let id = uuid::Uuid::from_u128(0x7e);
        assert_eq!(
            view(&p, Mode::Plan).destructive,
            2,
            "principals, not licenses"
        );
        assert_eq!(view(&p, Mode::Plan).tenant, id.to_string());
        p.tenant_domain = Some("contoso.onmicrosoft.com".into());
        assert_eq!(
            view(&p, Mode::Plan).tenant,
            format!("contoso.onmicrosoft.com ({id})")
        );
    }

    #[test]
    fn unmanaged_principals_show_only_when_there_are_any() {
        let mut p = plan(Vec::new(), Vec::new(), false);
        assert_eq!(view(&p, Mode::Plan).unmanaged, None);
        p.summary.unmanaged_licensed_groups = 2;
        assert_eq!(view(&p, Mode::Plan).unmanaged, Some((0, 2)));
    }

    #[test]
    fn a_violation_refuses_unless_allow_unsafe_overrides_it() {
        let removals = SafetyViolation::MaxRemovals {
            removals: 3,
            limit: 1,
        };
        let protected = SafetyViolation::Protected {
            principal: user(1, "ceo@contoso.com"),
            skus: vec![sku(1, "SPE_E5")],
        };
        // (violations, --allow-unsafe, refuses per violation, plan refused)
        let cases = [
            (vec![removals.clone()], false, vec![true], true),
            (vec![removals.clone()], true, vec![false], false),
            (vec![protected.clone()], true, vec![true], true),
            (
                vec![removals.clone(), protected.clone()],
                true,
                vec![false, true],
                true,
            ),
            (vec![], false, vec![], false),
        ];
        for (violations, allow, refuses, refused) in cases {
            let p = plan(Vec::new(), violations, allow);
            let v = view(&p, Mode::Plan);
            let got: Vec<bool> = v.safety.violations.iter().map(|v| v.refuses).collect();
            assert_eq!(
                (got, v.safety.refused),
                (refuses.clone(), refused),
                "{refuses:?}"
            );
            let texts: Vec<String> = p.safety.violations.iter().map(safety::describe).collect();
            let shown: Vec<&str> = v
                .safety
                .violations
                .iter()
                .map(|v| v.text.as_str())
                .collect();
            assert_eq!(shown, texts);
        }
    }
}
