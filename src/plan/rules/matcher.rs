//! Compiled conditions: a rule's `match:`/`exclude:` (and `rules_scope`) as [`Matcher`]s
//! that test one user's [`Facts`] without allocating.
//!
//! Text is compared ignoring case: the config's values are lowercased once, here, and a
//! user's value is lowercased character by character while it is compared. `member_of`
//! leaves are resolved to the set of groups they hold for when compiled, so testing one
//! is a lookup in the user's (short) list of groups.
//!
//! The keys that need the current date (`inactive_days`, `disabled_days`) get their day
//! counts through [`Facts`], computed by the caller from the plan's "now" — data, never
//! a clock read here — and compile to a [`Test`] like any other: `N` holds at N days or
//! more, and an unknown count (never signed in, no audit entry) holds for no `N`.

use crate::config::{Attribute, AttributeCondition, AttributeKind, Condition, ConditionValue};
use crate::snapshot::User;

/// What a compiled condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// Equal to this (lowercase) text.
    Eq(String),
    /// Starts with this (lowercase) text.
    StartsWith(String),
    /// Ends with this (lowercase) text.
    EndsWith(String),
    /// Equal to this boolean.
    Bool(bool),
    /// Set and not empty (`true`), or not.
    Exists(bool),
    /// The inner test does not hold.
    Not(Box<Test>),
    /// Any holds.
    Any(Vec<Test>),
    /// All hold.
    All(Vec<Test>),
    /// `member_of`: the user is a direct member of one of these groups (sorted
    /// positions in the snapshot's group list).
    Groups(Vec<u32>),
    /// A day count of at least this.
    AtLeastDays(u32),
}

/// One compiled `key: condition`.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// The attribute.
    pub(crate) attribute: Attribute,
    /// The compiled test.
    pub(crate) test: Test,
    /// The condition as written (for explanations).
    pub(crate) source: AttributeCondition,
}

/// A compiled `match:` (all must hold) with its `exclude:` (none may hold).
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    /// Every one must hold.
    pub(crate) all: Vec<Check>,
    /// Any one that holds excludes the user.
    pub(crate) none: Vec<Check>,
    /// Holds for nobody: it compares a day count the tenant state cannot give (sign-in
    /// activity or the audit log not read, or no date to count from).
    pub(crate) nobody: bool,
}

/// What one user's conditions are tested on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    /// The user, with the directory attributes the snapshot carries.
    pub(crate) user: &'a User,
    /// Positions of the groups the user is a direct member of, sorted (empty when no
    /// condition uses `member_of`).
    pub(crate) groups: &'a [u32],
    /// Days since the last sign-in (`None`: unknown, or never signed in).
    pub(crate) inactive_days: Option<i64>,
    /// Days since the account was disabled (`None`: enabled, or no date known).
    pub(crate) disabled_days: Option<i64>,
}

impl<'a> Facts<'a> {
    /// A text attribute's value (`None` when unset).
    pub(crate) fn text(&self, attribute: Attribute) -> Option<&'a str> {
        let u = self.user;
        match attribute {
            Attribute::Department => u.attributes.department.as_deref(),
            Attribute::JobTitle => u.attributes.job_title.as_deref(),
            Attribute::CompanyName => u.attributes.company_name.as_deref(),
            Attribute::Country => u.attributes.country.as_deref(),
            Attribute::State => u.attributes.state.as_deref(),
            Attribute::City => u.attributes.city.as_deref(),
            Attribute::OfficeLocation => u.attributes.office_location.as_deref(),
            Attribute::EmployeeType => u.attributes.employee_type.as_deref(),
            Attribute::UserType => u.attributes.user_type.as_deref(),
            Attribute::UsageLocation => u.usage_location.as_deref(),
            Attribute::ExtensionAttribute(n) => u.extension_attribute(n),
            Attribute::UpnDomain => u.user_principal_name.rsplit_once('@').map(|(_, d)| d),
            Attribute::AccountEnabled
            | Attribute::OnPremisesSyncEnabled
            | Attribute::MemberOf
            | Attribute::InactiveDays
            | Attribute::DisabledDays => None,
        }
    }

    /// A true/false attribute's value (`None` when unknown).
    pub(crate) fn boolean(&self, attribute: Attribute) -> Option<bool> {
        match attribute {
            Attribute::AccountEnabled => self.user.account_enabled,
            Attribute::OnPremisesSyncEnabled => self.user.attributes.on_premises_sync_enabled,
            _ => None,
        }
    }

    /// A day count's value (`None` when unknown).
    pub(crate) fn days(&self, attribute: Attribute) -> Option<i64> {
        match attribute {
            Attribute::InactiveDays => self.inactive_days,
            Attribute::DisabledDays => self.disabled_days,
            _ => None,
        }
    }
}

/// `value` equals `lower` (already lowercase), ignoring case.
pub(crate) fn eq_ci(value: &str, lower: &str) -> bool {
    if value.is_ascii() && lower.is_ascii() {
        return value.eq_ignore_ascii_case(lower);
    }
    value.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

fn starts_with_ci(value: &str, lower: &str) -> bool {
    if value.is_ascii() && lower.is_ascii() {
        return value.len() >= lower.len()
            && value.as_bytes()[..lower.len()].eq_ignore_ascii_case(lower.as_bytes());
    }
    let mut chars = value.chars().flat_map(char::to_lowercase);
    lower.chars().all(|c| chars.next() == Some(c))
}

fn ends_with_ci(value: &str, lower: &str) -> bool {
    if value.is_ascii() && lower.is_ascii() {
        return value.len() >= lower.len()
            && value.as_bytes()[value.len() - lower.len()..]
                .eq_ignore_ascii_case(lower.as_bytes());
    }
    value.to_lowercase().ends_with(lower)
}

impl Test {
    fn text(&self, value: Option<&str>) -> bool {
        match self {
            Test::Eq(v) => value.is_some_and(|x| eq_ci(x, v)),
            Test::StartsWith(p) => value.is_some_and(|x| starts_with_ci(x, p)),
            Test::EndsWith(s) => value.is_some_and(|x| ends_with_ci(x, s)),
            Test::Exists(b) => value.is_some_and(|x| !x.trim().is_empty()) == *b,
            Test::Not(t) => !t.text(value),
            Test::Any(ts) => ts.iter().any(|t| t.text(value)),
            Test::All(ts) => ts.iter().all(|t| t.text(value)),
            Test::Bool(_) | Test::Groups(_) | Test::AtLeastDays(_) => false,
        }
    }

    fn days(&self, value: Option<i64>) -> bool {
        match self {
            Test::AtLeastDays(n) => value.is_some_and(|d| d >= i64::from(*n)),
            Test::Exists(b) => value.is_some() == *b,
            Test::Not(t) => !t.days(value),
            Test::Any(ts) => ts.iter().any(|t| t.days(value)),
            Test::All(ts) => ts.iter().all(|t| t.days(value)),
            _ => false,
        }
    }

    fn boolean(&self, value: Option<bool>) -> bool {
        match self {
            Test::Bool(b) => value == Some(*b),
            Test::Exists(b) => value.is_some() == *b,
            Test::Not(t) => !t.boolean(value),
            Test::Any(ts) => ts.iter().any(|t| t.boolean(value)),
            Test::All(ts) => ts.iter().all(|t| t.boolean(value)),
            _ => false,
        }
    }

    fn groups(&self, groups: &[u32]) -> bool {
        match self {
            Test::Groups(set) => groups.iter().any(|g| set.binary_search(g).is_ok()),
            Test::Exists(b) => groups.is_empty() != *b,
            Test::Not(t) => !t.groups(groups),
            Test::Any(ts) => ts.iter().any(|t| t.groups(groups)),
            Test::All(ts) => ts.iter().all(|t| t.groups(groups)),
            _ => false,
        }
    }
}

impl Check {
    /// True when the condition holds for the user.
    pub(crate) fn holds(&self, facts: &Facts<'_>) -> bool {
        match self.attribute.kind() {
            AttributeKind::Text => self.test.text(facts.text(self.attribute)),
            AttributeKind::Bool => self.test.boolean(facts.boolean(self.attribute)),
            AttributeKind::Groups => self.test.groups(facts.groups),
            AttributeKind::Days => self.test.days(facts.days(self.attribute)),
        }
    }
}

impl Matcher {
    /// True when every `match` condition holds and no `exclude` condition does.
    pub(crate) fn matches(&self, facts: &Facts<'_>) -> bool {
        !self.nobody
            && self.all.iter().all(|c| c.holds(facts))
            && !self.none.iter().any(|c| c.holds(facts))
    }

    /// True when some condition tests `member_of`.
    pub(crate) fn uses_groups(&self) -> bool {
        self.all
            .iter()
            .chain(&self.none)
            .any(|c| c.attribute == Attribute::MemberOf)
    }
}

/// Compiles one condition; `groups` resolves a `member_of` leaf to group positions (it
/// reports the names it cannot resolve itself).
pub(crate) fn compile(
    condition: &AttributeCondition,
    groups: &mut dyn FnMut(&Condition) -> Vec<u32>,
) -> Check {
    Check {
        attribute: condition.attribute,
        test: compile_condition(&condition.condition, condition.attribute, groups),
        source: condition.clone(),
    }
}

fn compile_condition(
    condition: &Condition,
    attribute: Attribute,
    groups: &mut dyn FnMut(&Condition) -> Vec<u32>,
) -> Test {
    let groups_leaf = attribute.kind() == AttributeKind::Groups;
    match condition {
        Condition::Is(_) | Condition::StartsWith(_) | Condition::EndsWith(_) if groups_leaf => {
            Test::Groups(groups(condition))
        }
        Condition::Is(ConditionValue::Text(text)) => Test::Eq(text.to_lowercase()),
        Condition::Is(ConditionValue::Bool(b)) => Test::Bool(*b),
        Condition::Is(ConditionValue::Days(n)) => Test::AtLeastDays(*n),
        Condition::StartsWith(text) => Test::StartsWith(text.to_lowercase()),
        Condition::EndsWith(text) => Test::EndsWith(text.to_lowercase()),
        Condition::Exists(b) => Test::Exists(*b),
        Condition::Not(inner) => Test::Not(Box::new(compile_condition(inner, attribute, groups))),
        Condition::AnyOf(items) => Test::Any(
            items
                .iter()
                .map(|c| compile_condition(c, attribute, groups))
                .collect(),
        ),
        Condition::AllOf(items) => Test::All(
            items
                .iter()
                .map(|c| compile_condition(c, attribute, groups))
                .collect(),
        ),
    }
}

/// The values an index can look a check up by: `Some` when the check holds only for
/// users whose attribute equals one of these (lowercase text, or a boolean), or who are
/// members of one of these groups.
pub(crate) enum Key<'c> {
    /// Text equal to one of these.
    Text(Vec<&'c str>),
    /// This boolean.
    Bool(bool),
    /// A member of one of these groups.
    Groups(Vec<u32>),
}

impl Check {
    /// How an index can find the users this check may hold for, if it can.
    pub(crate) fn key(&self) -> Option<Key<'_>> {
        fn texts<'c>(test: &'c Test, out: &mut Vec<&'c str>) -> bool {
            match test {
                Test::Eq(v) => {
                    out.push(v);
                    true
                }
                Test::Any(ts) => ts.iter().all(|t| texts(t, out)),
                _ => false,
            }
        }
        fn group_set(test: &Test, out: &mut Vec<u32>) -> bool {
            match test {
                Test::Groups(set) => {
                    out.extend(set);
                    true
                }
                Test::Any(ts) => ts.iter().all(|t| group_set(t, out)),
                _ => false,
            }
        }
        match self.attribute.kind() {
            AttributeKind::Text => {
                let mut out = Vec::new();
                texts(&self.test, &mut out).then_some(Key::Text(out))
            }
            AttributeKind::Bool => match self.test {
                Test::Bool(b) => Some(Key::Bool(b)),
                _ => None,
            },
            AttributeKind::Days => None,
            AttributeKind::Groups => {
                let mut out = Vec::new();
                group_set(&self.test, &mut out).then(|| {
                    out.sort_unstable();
                    out.dedup();
                    Key::Groups(out)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn check(attribute: Attribute, condition: Condition) -> Check {
        compile(
            &AttributeCondition {
                attribute,
                condition,
                location: None,
            },
            &mut |_| vec![1, 3],
        )
    }

    fn text(v: &str) -> Condition {
        Condition::Is(ConditionValue::Text(v.to_owned()))
    }

    #[test]
    fn text_conditions_ignore_case_and_treat_a_missing_value_as_no_match() {
        let mut user = User::new(UserId::new(uuid::Uuid::from_u128(1)), "a@Contoso.COM");
        user.attributes.department = Some("Sales".into());
        user.attributes.city = Some("München".into());
        let facts = Facts {
            user: &user,
            groups: &[3],
            inactive_days: None,
            disabled_days: None,
        };
        let cases: Vec<(Attribute, Condition, bool)> = vec![
            (Attribute::Department, text("sales"), true),
            (Attribute::Department, text("SALES"), true),
            (Attribute::Department, text("Sale"), false),
            (Attribute::City, text("MÜNCHEN"), true),
            (Attribute::City, Condition::StartsWith("mün".into()), true),
            (Attribute::City, Condition::EndsWith("CHEN".into()), true),
            (
                Attribute::Department,
                Condition::AnyOf(vec![text("Marketing"), text("sales")]),
                true,
            ),
            (
                Attribute::Department,
                Condition::Not(Box::new(text("sales"))),
                false,
            ),
            (Attribute::JobTitle, text("Intern"), false),
            (
                Attribute::JobTitle,
                Condition::Not(Box::new(text("Intern"))),
                true,
            ),
            (Attribute::JobTitle, Condition::Exists(false), true),
            (Attribute::Department, Condition::Exists(true), true),
            (
                Attribute::Department,
                Condition::AllOf(vec![
                    Condition::StartsWith("S".into()),
                    Condition::Not(Box::new(text("Sales Ops"))),
                ]),
                true,
            ),
            (Attribute::UpnDomain, text("contoso.com"), true),
            (
                Attribute::AccountEnabled,
                Condition::Is(ConditionValue::Bool(true)),
                false,
            ),
            (Attribute::AccountEnabled, Condition::Exists(false), true),
            (Attribute::MemberOf, text("any"), true),
            (Attribute::MemberOf, Condition::Exists(true), true),
            (
                Attribute::MemberOf,
                Condition::Not(Box::new(text("any"))),
                false,
            ),
        ];
        for (attribute, condition, expected) in cases {
            let c = check(attribute, condition.clone());
            assert_eq!(c.holds(&facts), expected, "{attribute} {condition:?}");
        }
    }

    #[test]
    fn day_counts_hold_at_n_days_or_more_and_an_unknown_count_for_no_n() {
        let user = User::new(UserId::new(uuid::Uuid::from_u128(1)), "a@contoso.com");
        let at = |inactive: Option<i64>| Facts {
            user: &user,
            groups: &[],
            inactive_days: inactive,
            disabled_days: None,
        };
        let ninety = check(
            Attribute::InactiveDays,
            Condition::Is(ConditionValue::Days(90)),
        );
        assert!(ninety.holds(&at(Some(90))));
        assert!(ninety.holds(&at(Some(400))));
        assert!(!ninety.holds(&at(Some(89))));
        assert!(!ninety.holds(&at(None)));
        let not = check(
            Attribute::InactiveDays,
            Condition::Not(Box::new(Condition::Is(ConditionValue::Days(90)))),
        );
        assert!(not.holds(&at(Some(3))));
        let known = check(Attribute::InactiveDays, Condition::Exists(true));
        assert!(!known.holds(&at(None)));
        assert!(known.key().is_none(), "day counts are not indexed");
        let disabled = check(
            Attribute::DisabledDays,
            Condition::Is(ConditionValue::Days(1)),
        );
        assert!(!disabled.holds(&at(Some(400))), "the other count");
    }
}
