//! Graph resource shapes as they appear in a snapshot (and on the wire).

use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};

/// A whole tenant's license state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSnapshot {
    /// Snapshot format version, see [`super::SNAPSHOT_VERSION`].
    pub version: u32,
    /// The directory (tenant) id.
    pub tenant_id: TenantId,
    /// The tenant's primary domain, e.g. `contoso.onmicrosoft.com`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_domain: Option<String>,
    /// Every verified domain of the tenant (`organization.verifiedDomains`), when read
    /// live; lets a config pinned to a custom domain be checked offline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified_domains: Vec<String>,
    /// The products the tenant subscribes to (`GET /subscribedSkus`).
    #[serde(default)]
    pub subscribed_skus: Vec<SubscribedSku>,
    /// Users (`GET /users` with the license fields selected).
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups, with their direct user members.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Emulator only: app registrations allowed to get tokens, with their permissions.
    /// Empty in snapshots read from Graph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppRegistration>,
    /// Emulator only: service plan rules that `assignLicense` enforces
    /// (mutually exclusive plans, plan dependencies). Empty in snapshots read from Graph.
    #[serde(default, skip_serializing_if = "ServicePlanRules::is_empty")]
    pub service_plan_rules: ServicePlanRules,
}

/// `subscribedSku`: one product the tenant has bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedSku {
    /// `{tenantId}_{skuId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Billing account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Billing account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// `User` or `Company`; only `User` SKUs can be assigned.
    pub applies_to: AppliesTo,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted` or `LockedOut`.
    pub capability_status: CapabilityStatus,
    /// Licenses currently assigned.
    pub consumed_units: i64,
    /// Purchased units by state.
    pub prepaid_units: LicenseUnitsDetail,
    /// The service plans the product contains.
    #[serde(default)]
    pub service_plans: Vec<ServicePlanInfo>,
    /// The product id.
    pub sku_id: SkuId,
    /// The product's part number, e.g. `ENTERPRISEPACK`.
    pub sku_part_number: String,
    /// Subscription ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscription_ids: Vec<String>,
}

/// `licenseUnitsDetail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseUnitsDetail {
    /// Active units.
    #[serde(default)]
    pub enabled: i64,
    /// Suspended units.
    #[serde(default)]
    pub suspended: i64,
    /// Units in the warning (grace) state.
    #[serde(default)]
    pub warning: i64,
    /// Locked-out units.
    #[serde(default)]
    pub locked_out: i64,
}

/// `servicePlanInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanInfo {
    /// The plan id.
    pub service_plan_id: ServicePlanId,
    /// The plan name, e.g. `EXCHANGE_S_ENTERPRISE`.
    pub service_plan_name: String,
    /// `Success`, `Disabled`, `Error`, `PendingInput`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_status: Option<String>,
    /// `User` or `Company`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<AppliesTo>,
}

/// Whom a SKU or plan applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppliesTo {
    /// Assignable to users.
    User,
    /// Tenant-wide; not assignable.
    Company,
}

/// `capabilityStatus` of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CapabilityStatus {
    /// Active.
    Enabled,
    /// Expired, in the grace period.
    Warning,
    /// Suspended.
    Suspended,
    /// Deleted.
    Deleted,
    /// Locked out.
    LockedOut,
}

/// `assignedLicense`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    /// The product.
    pub sku_id: SkuId,
    /// Plans of the product that are switched off.
    #[serde(default)]
    pub disabled_plans: Vec<ServicePlanId>,
}

/// A user with the license fields licensectl selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: UserId,
    /// Sign-in name.
    pub user_principal_name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether sign-in is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// ISO 3166-1 alpha-2 code; required before a license can be assigned.
    #[serde(default)]
    pub usage_location: Option<String>,
    /// Every license the user holds, direct and inherited alike.
    #[serde(default)]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// One entry per license source (direct, or each assigning group).
    #[serde(default)]
    pub license_assignment_states: Vec<LicenseAssignmentState>,
}

/// `licenseAssignmentState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseAssignmentState {
    /// The product.
    pub sku_id: SkuId,
    /// Plans switched off by this source.
    #[serde(default)]
    pub disabled_plans: Vec<ServicePlanId>,
    /// `null` for a direct assignment, else the group that assigns it.
    #[serde(default)]
    pub assigned_by_group: Option<GroupId>,
    /// `Active`, `ActiveWithError`, `Disabled` or `Error`.
    pub state: AssignmentStateKind,
    /// Why the assignment failed; Graph sends `null` or `"None"` on success.
    #[serde(default, deserialize_with = "deserialize_assignment_error")]
    pub error: Option<AssignmentError>,
    /// When the state last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_date_time: Option<String>,
}

/// `licenseAssignmentState.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentStateKind {
    /// Assigned and working.
    Active,
    /// Assigned, but part of it failed.
    ActiveWithError,
    /// Disabled.
    Disabled,
    /// Not assigned because of an error.
    Error,
}

/// `licenseAssignmentState.error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssignmentError {
    /// Not enough seats.
    CountViolation,
    /// Conflicts with a plan of another license.
    MutuallyExclusiveViolation,
    /// A plan needs a plan the user does not have.
    DependencyViolation,
    /// A plan is not available in the user's usage location.
    ProhibitedInUsageLocationViolation,
    /// A unique attribute (e.g. proxy address) conflicts.
    UniquenessViolation,
    /// Anything else.
    Other,
}

fn deserialize_assignment_error<'de, D>(d: D) -> Result<Option<AssignmentError>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref() {
        None | Some("None") | Some("") => Ok(None),
        Some(other) => serde_json::from_value(serde_json::Value::String(other.to_owned()))
            .or(Ok(Some(AssignmentError::Other))),
    }
}

/// A group with its license fields and direct user members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    pub id: GroupId,
    /// Display name (not unique in a tenant).
    pub display_name: String,
    /// Mail nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_nickname: Option<String>,
    /// Only security-enabled groups can assign licenses.
    #[serde(default)]
    pub security_enabled: bool,
    /// Licenses the group assigns to its members.
    #[serde(default)]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// `{"state": "ProcessingComplete"}` and friends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_processing_state: Option<LicenseProcessingState>,
    /// Ids of the group's direct user members (the only ones group licensing serves).
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `licenseProcessingState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseProcessingState {
    /// `QueuedForProcessing`, `ProcessingInProgress`, `ProcessingComplete` (or `ProcessingFailed`).
    pub state: String,
}

/// Emulator only: an app registration that may obtain tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistration {
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Client secrets accepted for this app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_secrets: Vec<String>,
    /// PEM public keys (certificates or SPKI) whose signatures on client assertions are accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys_pem: Vec<String>,
    /// Federated credentials: issuer and subject of accepted external assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
    /// Granted application permissions (the token's `roles`).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Emulator only: a trusted external identity for workload identity federation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    /// Expected `iss` of the external token.
    pub issuer: String,
    /// Expected `sub` of the external token.
    pub subject: String,
}

/// Emulator only: service plan rules enforced by `assignLicense`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanRules {
    /// Pairs of plans that cannot both be enabled for one user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutually_exclusive: Vec<[ServicePlanId; 2]>,
    /// Plans that need other plans enabled for the same user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<PlanDependency>,
}

impl ServicePlanRules {
    /// True when no rule is set.
    pub fn is_empty(&self) -> bool {
        self.mutually_exclusive.is_empty() && self.dependencies.is_empty()
    }
}

/// Emulator only: `plan` requires one of `requires` to be enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDependency {
    /// The dependent plan.
    pub plan: ServicePlanId,
    /// Plans it depends on.
    pub requires: Vec<ServicePlanId>,
}

impl User {
    /// The license sources that are direct assignments (`assignedByGroup` null).
    pub fn direct_states(&self) -> impl Iterator<Item = &LicenseAssignmentState> {
        self.license_assignment_states
            .iter()
            .filter(|s| s.assigned_by_group.is_none())
    }

    /// The license sources inherited from groups.
    pub fn inherited_states(&self) -> impl Iterator<Item = &LicenseAssignmentState> {
        self.license_assignment_states
            .iter()
            .filter(|s| s.assigned_by_group.is_some())
    }
}
