//! The desired state of attribute rules: what `rules:` and `rules_scope:` say once checked.
//!
//! Part of the contract between the config loader and the planner ([`super::desired`]):
//! attribute keys are known ([`Attribute`]), conditions are well formed ([`Condition`]),
//! licenses are expanded from profiles; names (SKUs, service plans, `member_of` groups)
//! are resolved against the tenant by the planner. Plain data.

use std::fmt;

use serde::{Serialize, Serializer};

use super::desired::{DesiredLicense, Located};
use crate::diagnostic::Location;

/// A directory attribute a rule can match on: a Graph user property, or one derived from
/// the user (`upn_domain`, `member_of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    /// `department`.
    Department,
    /// `jobTitle`.
    JobTitle,
    /// `companyName`.
    CompanyName,
    /// `country`.
    Country,
    /// `state`.
    State,
    /// `city`.
    City,
    /// `officeLocation`.
    OfficeLocation,
    /// `employeeType`.
    EmployeeType,
    /// `userType`.
    UserType,
    /// `accountEnabled`.
    AccountEnabled,
    /// `onPremisesSyncEnabled`.
    OnPremisesSyncEnabled,
    /// `usageLocation`.
    UsageLocation,
    /// `onPremisesExtensionAttributes.extensionAttribute{n}`, n in 1..=15.
    ExtensionAttribute(u8),
    /// The part of the userPrincipalName after the last `@`.
    UpnDomain,
    /// The display names and object ids of the groups the user is a direct member of.
    MemberOf,
    /// Days since the user last signed in: `signInActivity.lastSuccessfulSignInDateTime`,
    /// else `lastSignInDateTime` (unknown for a user who never signed in).
    InactiveDays,
    /// Days since the account was disabled, by the directory audit log's latest
    /// `Disable account` entry (unknown without one).
    DisabledDays,
}

/// What an attribute's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    /// One text value (or none).
    Text,
    /// True, false (or unknown).
    Bool,
    /// Any number of groups.
    Groups,
    /// A number of whole days up to "now" (or unknown).
    Days,
}

impl Attribute {
    /// Every attribute, in the order of the format.
    pub fn all() -> Vec<Attribute> {
        let mut all = vec![
            Attribute::Department,
            Attribute::JobTitle,
            Attribute::CompanyName,
            Attribute::Country,
            Attribute::State,
            Attribute::City,
            Attribute::OfficeLocation,
            Attribute::EmployeeType,
            Attribute::UserType,
            Attribute::AccountEnabled,
            Attribute::OnPremisesSyncEnabled,
            Attribute::UsageLocation,
        ];
        all.extend((1..=15).map(Attribute::ExtensionAttribute));
        all.extend([
            Attribute::UpnDomain,
            Attribute::MemberOf,
            Attribute::InactiveDays,
            Attribute::DisabledDays,
        ]);
        all
    }

    /// The attribute of a config key (`department`, `extension_attribute_7`, …).
    pub fn from_key(key: &str) -> Option<Attribute> {
        Attribute::all().into_iter().find(|a| a.key() == key)
    }

    /// The config key, e.g. `job_title` or `extension_attribute_7`.
    pub fn key(self) -> String {
        match self {
            Attribute::ExtensionAttribute(n) => format!("extension_attribute_{n}"),
            other => other.fixed_key().to_owned(),
        }
    }

    fn fixed_key(self) -> &'static str {
        match self {
            Attribute::Department => "department",
            Attribute::JobTitle => "job_title",
            Attribute::CompanyName => "company_name",
            Attribute::Country => "country",
            Attribute::State => "state",
            Attribute::City => "city",
            Attribute::OfficeLocation => "office_location",
            Attribute::EmployeeType => "employee_type",
            Attribute::UserType => "user_type",
            Attribute::AccountEnabled => "account_enabled",
            Attribute::OnPremisesSyncEnabled => "on_premises_sync_enabled",
            Attribute::UsageLocation => "usage_location",
            Attribute::ExtensionAttribute(_) => "extension_attribute",
            Attribute::UpnDomain => "upn_domain",
            Attribute::MemberOf => "member_of",
            Attribute::InactiveDays => "inactive_days",
            Attribute::DisabledDays => "disabled_days",
        }
    }

    /// What its values are.
    pub fn kind(self) -> AttributeKind {
        match self {
            Attribute::AccountEnabled | Attribute::OnPremisesSyncEnabled => AttributeKind::Bool,
            Attribute::MemberOf => AttributeKind::Groups,
            Attribute::InactiveDays | Attribute::DisabledDays => AttributeKind::Days,
            _ => AttributeKind::Text,
        }
    }

    /// The Graph user property to `$select` to read it (`None` for `member_of`, which
    /// comes from group memberships, and for the day counts, which come from the reads
    /// of sign-in activity and of the directory audit log).
    pub fn graph_property(self) -> Option<&'static str> {
        Some(match self {
            Attribute::Department => "department",
            Attribute::JobTitle => "jobTitle",
            Attribute::CompanyName => "companyName",
            Attribute::Country => "country",
            Attribute::State => "state",
            Attribute::City => "city",
            Attribute::OfficeLocation => "officeLocation",
            Attribute::EmployeeType => "employeeType",
            Attribute::UserType => "userType",
            Attribute::AccountEnabled => "accountEnabled",
            Attribute::OnPremisesSyncEnabled => "onPremisesSyncEnabled",
            Attribute::UsageLocation => "usageLocation",
            Attribute::ExtensionAttribute(_) => "onPremisesExtensionAttributes",
            Attribute::UpnDomain => "userPrincipalName",
            Attribute::MemberOf | Attribute::InactiveDays | Attribute::DisabledDays => {
                return None;
            }
        })
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::ExtensionAttribute(n) => write!(f, "extension_attribute_{n}"),
            other => f.write_str(other.fixed_key()),
        }
    }
}

impl Serialize for Attribute {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A value a condition compares with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ConditionValue {
    /// Text, compared ignoring case.
    Text(String),
    /// True or false.
    Bool(bool),
    /// At least this many days (`inactive_days`, `disabled_days`).
    Days(u32),
}

impl fmt::Display for ConditionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionValue::Text(text) => f.write_str(text),
            ConditionValue::Bool(b) => write!(f, "{b}"),
            ConditionValue::Days(n) => write!(f, "{n}"),
        }
    }
}

/// A condition on one attribute. For `member_of` a positive leaf holds when it holds for
/// any of the user's groups, and `not` negates the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Equal to the value (text ignoring case).
    Is(ConditionValue),
    /// Any of these holds (a list).
    AnyOf(Vec<Condition>),
    /// Every one of these holds (a mapping with several operators).
    AllOf(Vec<Condition>),
    /// Starts with the text, ignoring case.
    StartsWith(String),
    /// Ends with the text, ignoring case.
    EndsWith(String),
    /// The condition does not hold (it holds for a user without the attribute).
    Not(Box<Condition>),
    /// The attribute is set and not empty (`true`), or not (`false`).
    Exists(bool),
}

/// One key of a `match:` or `exclude:` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeCondition {
    /// The attribute.
    pub attribute: Attribute,
    /// What must hold.
    pub condition: Condition,
    /// Where the condition is written (`None` for the default `rules_scope`).
    pub location: Option<Location>,
}

/// A usage location a rule sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleUsageLocation {
    /// An ISO 3166-1 alpha-2 code.
    Code(String),
    /// Mapped from the user's `country` attribute.
    FromCountry,
}

/// One rule, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredRule {
    /// The rule's unique name.
    pub name: String,
    /// Where its name is written.
    pub location: Location,
    /// Every one must hold.
    pub matches: Vec<AttributeCondition>,
    /// Any one excludes the user.
    pub exclude: Vec<AttributeCondition>,
    /// The licenses it gives (its profile's first, then its own), never empty.
    pub licenses: Vec<DesiredLicense>,
    /// The usage location it sets on users who have none, if any.
    pub usage_location: Option<Located<RuleUsageLocation>>,
}

/// Which users the rules govern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleScope {
    /// Every one must hold.
    pub matches: Vec<AttributeCondition>,
    /// Any one puts the user outside.
    pub exclude: Vec<AttributeCondition>,
    /// Where `rules_scope` is written; `None` for the default.
    pub location: Option<Location>,
}

impl RuleScope {
    /// True for the default scope: enabled members.
    pub fn is_default(&self) -> bool {
        self.location.is_none()
    }
}

impl Default for RuleScope {
    /// Enabled members: `{ match: { account_enabled: true, user_type: Member } }`.
    fn default() -> Self {
        RuleScope {
            matches: vec![
                AttributeCondition {
                    attribute: Attribute::AccountEnabled,
                    condition: Condition::Is(ConditionValue::Bool(true)),
                    location: None,
                },
                AttributeCondition {
                    attribute: Attribute::UserType,
                    condition: Condition::Is(ConditionValue::Text("Member".to_owned())),
                    location: None,
                },
            ],
            exclude: Vec::new(),
            location: None,
        }
    }
}
