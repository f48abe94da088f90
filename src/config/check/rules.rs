//! `rules:` and `rules_scope:`, checked: names, conditions, licenses (profiles expanded),
//! usage locations. Unknown attribute keys and operators, and values of the wrong type,
//! are found by the schema before this runs (`parse.rs`); what is left is what a schema
//! cannot say well: empty names, lists and mappings, rules that give nothing, usage
//! locations that are neither ISO codes nor `from_country`. Duplicate names across files
//! are found when the files are combined ([`super::combine()`]). Pure.

use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::principals::ProfileTable;
use super::values::looks_like_guid;
use super::{Checker, Owner, at};
use crate::config::desired::{
    Attribute, AttributeCondition, AttributeKind, Condition, ConditionValue, DesiredRule, Located,
    RuleScope, RuleUsageLocation,
};
use crate::config::raw_rules::{RawAny, RawCondition, RawMatch, RawOp, RawRule, RawRulesScope};
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};

/// The `usage_location` value that maps the user's `country` attribute.
pub(crate) const FROM_COUNTRY: &str = "from_country";

/// A rule as one file declares it: its name for duplicates (lowercase), where, and the
/// checked rule (`None` after a diagnostic).
#[derive(Debug)]
pub(crate) struct DeclaredRule {
    pub(super) key: String,
    pub(super) name: String,
    pub(super) location: Location,
    pub(super) rule: Option<DesiredRule>,
}

impl Checker<'_> {
    /// Checks one rule of `file`; `position` is its index in the file's list (for a rule
    /// without a name).
    pub(super) fn rule(
        &mut self,
        file: &Arc<Path>,
        raw: &Spanned<RawRule>,
        position: usize,
        profiles: &mut ProfileTable<'_>,
    ) -> Option<DeclaredRule> {
        let rule_location = at(file, &raw.referenced);
        let raw_rule = &raw.value;
        let (name, location) = match &raw_rule.name {
            Some(name) => (name.value.trim().to_owned(), at(file, &name.referenced)),
            None => (String::new(), rule_location.clone()),
        };
        let named = !name.is_empty();
        if !named {
            let what = if raw_rule.name.is_some() {
                "is empty"
            } else {
                "is missing"
            };
            self.push(
                Diagnostic::new(
                    DiagnosticCode::EmptyName,
                    format!("the name of rule {} of {} {what}", position + 1, file.display()),
                )
                .at(location.clone())
                .help("give every rule a unique `name:`; the plan shows it for every change the rule causes"),
            );
        }
        // A rule without a name is still checked, under its position.
        let shown = if named {
            name.clone()
        } else {
            format!("#{}", position + 1)
        };
        let owner = Owner::Rule(&shown);
        let mut ok = named;
        let matches = match &raw_rule.matches {
            Some(m) => self.conditions(file, &owner, &m.value),
            None => {
                self.push(
                    Diagnostic::new(
                        DiagnosticCode::InvalidCondition,
                        format!("rule '{shown}' has no `match`"),
                    )
                    .at(location.clone())
                    .help("add `match:` with the attributes a user must have; `match: {}` matches every user in rules_scope"),
                );
                None
            }
        };
        let exclude = match &raw_rule.exclude {
            Some(m) => self.conditions(file, &owner, &m.value),
            None => Some(Vec::new()),
        };
        let grants_nothing = raw_rule.profile.is_none()
            && raw_rule
                .licenses
                .as_ref()
                .is_none_or(|l| l.value.is_empty());
        if grants_nothing {
            let at_ = raw_rule
                .licenses
                .as_ref()
                .map_or(location.clone(), |l| at(file, &l.referenced));
            self.push(
                Diagnostic::new(
                    DiagnosticCode::RuleGrantsNothing,
                    format!("rule '{shown}' gives no license: it has neither `licenses` nor `profile`"),
                )
                .at(at_)
                .help("add `licenses: [ { sku: … } ]` or `profile: NAME`; to take licenses away, remove the rule (its SKUs are then no longer rule-governed)"),
            );
            ok = false;
        }
        let licenses = if grants_nothing {
            Err(())
        } else {
            super::principals::principal_licenses(
                self,
                file,
                &owner,
                &location,
                raw_rule.profile.as_ref(),
                raw_rule.licenses.as_ref(),
                profiles,
                false,
            )
        };
        let usage_location = raw_rule
            .usage_location
            .as_ref()
            .map(|ul| self.rule_usage_location(file, &owner, ul));
        let usage_location = match usage_location {
            Some(None) => {
                ok = false;
                None
            }
            Some(Some(ul)) => Some(ul),
            None => None,
        };
        let rule = match (matches, exclude, licenses) {
            (Some(matches), Some(exclude), Ok(Some(licenses))) if ok => Some(DesiredRule {
                name: name.clone(),
                location: location.clone(),
                matches,
                exclude,
                licenses,
                usage_location,
            }),
            _ => None,
        };
        named.then(|| DeclaredRule {
            key: name.to_lowercase(),
            name,
            location,
            rule,
        })
    }

    fn rule_usage_location(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        value: &Spanned<String>,
    ) -> Option<Located<RuleUsageLocation>> {
        if value.value == FROM_COUNTRY {
            return Some(Located {
                value: RuleUsageLocation::FromCountry,
                location: at(file, &value.referenced),
            });
        }
        let before = self.diagnostics.len();
        let Some(checked) = self.usage_location(file, owner, value) else {
            if let Some(diagnostic) = self.diagnostics.get_mut(before)
                && let Some(help) = &mut diagnostic.help
            {
                help.push_str(", or `from_country` to map the user's country attribute");
            }
            return None;
        };
        Some(Located {
            value: RuleUsageLocation::Code(checked.value),
            location: checked.location,
        })
    }

    /// `rules_scope`, checked; `None` after a diagnostic.
    pub(super) fn rules_scope(
        &mut self,
        file: &Arc<Path>,
        raw: &Spanned<RawRulesScope>,
    ) -> Option<RuleScope> {
        let owner = Owner::RulesScope;
        let matches = match &raw.value.matches {
            Some(m) => self.conditions(file, &owner, &m.value),
            None => Some(Vec::new()),
        };
        let exclude = match &raw.value.exclude {
            Some(m) => self.conditions(file, &owner, &m.value),
            None => Some(Vec::new()),
        };
        Some(RuleScope {
            matches: matches?,
            exclude: exclude?,
            location: Some(at(file, &raw.referenced)),
        })
    }

    /// The conditions of a `match:` or `exclude:` mapping; `None` after a diagnostic.
    fn conditions(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        raw: &RawMatch,
    ) -> Option<Vec<AttributeCondition>> {
        let mut ok = true;
        let mut out = Vec::new();
        for (key, condition) in raw.conditions() {
            let Some(attribute) = Attribute::from_key(key) else {
                ok = false;
                continue;
            };
            let (converted, location) = match condition {
                RawAny::Text(c) => (
                    self.condition(file, owner, attribute, &c.0),
                    at(file, &c.0.referenced),
                ),
                RawAny::Bool(c) => (
                    self.condition(file, owner, attribute, &c.0),
                    at(file, &c.0.referenced),
                ),
                RawAny::Days(c) => (
                    self.condition(file, owner, attribute, &c.0),
                    at(file, &c.0.referenced),
                ),
            };
            match converted {
                Some(condition) => out.push(AttributeCondition {
                    attribute,
                    condition,
                    location: Some(location),
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn condition<T: ToValue>(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        attribute: Attribute,
        raw: &Spanned<RawCondition<T>>,
    ) -> Option<Condition> {
        let location = at(file, &raw.referenced);
        let invalid = |c: &mut Self, problem: String, help: &str| {
            c.push(
                Diagnostic::new(
                    DiagnosticCode::InvalidCondition,
                    format!("{problem} in the condition on {attribute} of {owner}"),
                )
                .at(location.clone())
                .help(help.to_owned()),
            );
            None
        };
        match &raw.value {
            RawCondition::Is(value) => {
                let value = value.to_value();
                if value == ConditionValue::Days(0) {
                    return invalid(
                        self,
                        "0 days".to_owned(),
                        &format!(
                            "{attribute} counts whole days and holds at N or more: give N ≥ 1"
                        ),
                    );
                }
                if let ConditionValue::Text(text) = &value {
                    if text.trim().is_empty() {
                        return invalid(
                            self,
                            "an empty value".to_owned(),
                            &format!(
                                "to match users without {attribute}, write `{{ exists: false }}`"
                            ),
                        );
                    }
                    if attribute.kind() == AttributeKind::Groups
                        && looks_like_guid(text)
                        && crate::ids::parse_guid(text).is_err()
                    {
                        self.push(
                            Diagnostic::new(
                                DiagnosticCode::InvalidGuid,
                                format!("member_of of {owner}: '{text}' is shaped like an object id but is not a GUID"),
                            )
                            .at(location)
                            .help("write the group's object id as 8-4-4-4-12 hex digits, or its displayName"),
                        );
                        return None;
                    }
                }
                Some(Condition::Is(value))
            }
            RawCondition::AnyOf(items) => {
                if items.is_empty() {
                    return invalid(
                        self,
                        "an empty list".to_owned(),
                        "a list means any of its values; an empty one matches nobody: give at least one value, or remove the key",
                    );
                }
                let mut ok = true;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.condition(file, owner, attribute, item) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                ok.then_some(Condition::AnyOf(out))
            }
            RawCondition::Ops(ops) => {
                if ops.is_empty() {
                    return invalid(
                        self,
                        "an empty mapping".to_owned(),
                        "write an operator (starts_with, ends_with, not, exists), or a value",
                    );
                }
                let mut ok = true;
                let mut out = Vec::with_capacity(ops.len());
                for op in ops {
                    let converted = match op {
                        RawOp::StartsWith(text) | RawOp::EndsWith(text) => {
                            if text.value.is_empty() {
                                self.push(
                                    Diagnostic::new(
                                        DiagnosticCode::InvalidCondition,
                                        format!("an empty text in the condition on {attribute} of {owner}"),
                                    )
                                    .at(at(file, &text.referenced))
                                    .help("every value starts and ends with the empty text: write the text, or `{ exists: true }`"),
                                );
                                None
                            } else if matches!(op, RawOp::StartsWith(_)) {
                                Some(Condition::StartsWith(text.value.clone()))
                            } else {
                                Some(Condition::EndsWith(text.value.clone()))
                            }
                        }
                        RawOp::Not(inner) => self
                            .condition(file, owner, attribute, inner)
                            .map(|c| Condition::Not(Box::new(c))),
                        RawOp::Exists(b) => Some(Condition::Exists(b.value)),
                    };
                    match converted {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some(if out.len() == 1 {
                    out.remove(0)
                } else {
                    Condition::AllOf(out)
                })
            }
        }
    }
}

/// A raw scalar as a condition value.
trait ToValue {
    fn to_value(&self) -> ConditionValue;
}

impl ToValue for String {
    fn to_value(&self) -> ConditionValue {
        ConditionValue::Text(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> ConditionValue {
        ConditionValue::Bool(*self)
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> ConditionValue {
        ConditionValue::Days(*self)
    }
}

/// Every string of a rule that is not a license (names, profile, usage location,
/// condition values), with what it is, for the control-character check.
pub(super) fn strings(rule: &RawRule) -> Vec<(&'static str, Spanned<String>)> {
    let mut out = Vec::new();
    if let Some(name) = &rule.name {
        out.push(("a rule name", name.clone()));
    }
    if let Some(profile) = &rule.profile {
        out.push(("a profile reference", profile.clone()));
    }
    if let Some(ul) = &rule.usage_location {
        out.push(("a usage location", ul.clone()));
    }
    for m in rule.matches.iter().chain(&rule.exclude) {
        match_strings(&m.value, &mut out);
    }
    out
}

/// Every string of `rules_scope`, as [`strings`] lists them.
pub(super) fn scope_strings(scope: &RawRulesScope) -> Vec<(&'static str, Spanned<String>)> {
    let mut out = Vec::new();
    for m in scope.matches.iter().chain(&scope.exclude) {
        match_strings(&m.value, &mut out);
    }
    out
}

fn match_strings(m: &RawMatch, out: &mut Vec<(&'static str, Spanned<String>)>) {
    for (_, condition) in m.conditions() {
        // True/false conditions hold no text.
        if let RawAny::Text(c) = condition {
            text_strings(&c.0, out);
        }
    }
}

fn text_strings(c: &Spanned<RawCondition<String>>, out: &mut Vec<(&'static str, Spanned<String>)>) {
    match &c.value {
        RawCondition::Is(text) => out.push((
            "a condition value",
            Spanned::new(text.clone(), c.referenced, c.defined),
        )),
        RawCondition::AnyOf(items) => items.iter().for_each(|i| text_strings(i, out)),
        RawCondition::Ops(ops) => {
            for op in ops {
                match op {
                    RawOp::StartsWith(t) | RawOp::EndsWith(t) => {
                        out.push(("a condition value", t.clone()));
                    }
                    RawOp::Not(inner) => text_strings(inner, out),
                    RawOp::Exists(_) => {}
                }
            }
        }
    }
}
