//! The desired state: what a loaded, offline-validated configuration says.
//!
//! This is the contract between the config loader and the planner. Names are not yet
//! resolved to GUIDs (that needs the tenant's `subscribedSkus` and directory, which the
//! planner's resolution step has); every value keeps the [`Location`] it came from so that
//! later errors can point at the config.

use serde::Serialize;

use crate::diagnostic::Location;

pub use super::rules::{
    Attribute, AttributeCondition, AttributeKind, Condition, ConditionValue, DesiredRule,
    RuleScope, RuleUsageLocation,
};
use crate::ids::{GroupId, ServicePlanId, SkuId};

/// A value with the config location it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub location: Location,
}

/// Everything the configuration directory declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DesiredState {
    /// Settings from `licensectl.yaml`.
    pub settings: Settings,
    /// Declared users, in declaration order (the root file, then the others by path).
    pub users: Vec<DesiredUser>,
    /// Declared groups, in declaration order (the root file, then the others by path).
    pub groups: Vec<DesiredGroup>,
    /// Attribute rules, in file order (files by path).
    pub rules: Vec<DesiredRule>,
}

/// Settings from `licensectl.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Format version (1).
    pub version: u32,
    /// Pinned tenant: a domain (`contoso.onmicrosoft.com`) or tenant id GUID.
    pub tenant: Option<Located<String>>,
    /// Usage location given to managed users who need one and declare none.
    pub default_usage_location: Option<Located<String>>,
    /// Blast-radius limits.
    pub safety: Safety,
    /// Principals that must never lose a license.
    pub protected: Vec<Located<PrincipalRef>>,
    /// Which users the rules govern.
    pub rules_scope: RuleScope,
    /// The staged move from direct to group licensing (`migrate_to_groups`), when opted in.
    pub migrate_to_groups: Option<MigrateToGroups>,
    /// Monthly seat prices (`prices`), in the order written.
    pub prices: Vec<Price>,
}

/// `migrate_to_groups`: remove direct copies that a managed group covers, in waves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrateToGroups {
    /// Most users whose direct copies one plan removes.
    pub max_users_per_run: u32,
    /// Where `migrate_to_groups` is written.
    pub location: Location,
}

/// One entry of `prices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// The product.
    pub sku: Located<SkuRef>,
    /// Per seat and month, in hundredths of the currency unit (`57.00` → 5700).
    pub monthly_cents: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Default for Settings {
    /// Version 1 with no tenant pin, no default usage location, no limits, nothing
    /// protected, the default rules scope.
    fn default() -> Self {
        Settings {
            version: 1,
            tenant: None,
            default_usage_location: None,
            safety: Safety::default(),
            protected: Vec::new(),
            rules_scope: RuleScope::default(),
            migrate_to_groups: None,
            prices: Vec::new(),
        }
    }
}

/// Blast-radius limits; `None` means no limit of that kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Safety {
    /// Most license removals one plan may contain.
    pub max_removals: Option<u32>,
    /// Most managed principals, in percent, one plan may change.
    pub max_change_percent: Option<f64>,
}

/// A reference to a principal in `protected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "key", rename_all = "lowercase")]
pub enum PrincipalRef {
    /// By userPrincipalName.
    User(String),
    /// By displayName, mailNickname or object id.
    Group(String),
}

/// A declared user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredUser {
    /// userPrincipalName as written.
    pub upn: String,
    /// Where the user's key is.
    pub location: Location,
    /// Usage location to set when the user needs one.
    pub usage_location: Option<Located<String>>,
    /// The user's direct licenses: `None` = not managed (no `licenses` and no `profile`),
    /// `Some(vec![])` = "no direct licenses" (`licenses: []`).
    pub licenses: Option<Vec<DesiredLicense>>,
}

/// How a group is named in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum GroupKey {
    /// By object id.
    Id(GroupId),
    /// By displayName or mailNickname (resolution decides which matches).
    Name(String),
}

/// A declared group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredGroup {
    /// The key as written.
    pub key: GroupKey,
    /// Where the group's key is.
    pub location: Location,
    /// The group's licenses; same `None`/empty rule as for users.
    pub licenses: Option<Vec<DesiredLicense>>,
}

/// One license a principal should hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredLicense {
    /// The product.
    pub sku: Located<SkuRef>,
    /// Which of its service plans are on.
    pub plans: PlanSelection,
    /// The profile this entry came from, if any.
    pub from_profile: Option<String>,
    /// Where the entry starts.
    pub location: Location,
}

/// A product named by part number or id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum SkuRef {
    /// `skuId` GUID.
    Id(SkuId),
    /// `skuPartNumber`, e.g. `ENTERPRISEPACK`.
    PartNumber(String),
}

/// A service plan named by name or id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum PlanRef {
    /// `servicePlanId` GUID.
    Id(ServicePlanId),
    /// `servicePlanName`, e.g. `EXCHANGE_S_ENTERPRISE`.
    Name(String),
}

/// Which service plans of a license are enabled.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", content = "plans", rename_all = "snake_case")]
pub enum PlanSelection {
    /// Every plan of the SKU (neither list given).
    All,
    /// Every plan except these (`disabled_plans`).
    Disabled(Vec<Located<PlanRef>>),
    /// Only these; every other plan, including ones Microsoft adds later, is off
    /// (`enabled_plans`).
    Enabled(Vec<Located<PlanRef>>),
}
