//! Graph resource shapes as they appear in a snapshot (and on the wire).

use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{GroupId, ServicePlanId, SkuId, TenantId, UserId};

/// Declares an enum for one of Graph's string-typed values: the documented values as
/// variants plus `Unknown(String)` for any other, so that a value Microsoft adds later
/// (docs once said `Others` where Graph sends `Other`,
/// https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/2510) decodes
/// instead of failing a whole page. It serializes back to the exact string.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know, kept as Graph sent it.
            Unknown(String),
        }

        impl $name {
            /// Every documented value.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as Graph spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(other) => other,
                }
            }

            /// True for a documented value.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(StrVisitor(|text: &str| $name::from(text)))
            }
        }
    };
}

/// Reads a string without allocating a copy of it (a `Cow<str>` always owns one):
/// `map` makes the value of the text.
pub(super) struct StrVisitor<F>(pub(super) F);

impl<'de, T, F: FnOnce(&str) -> T> serde::de::Visitor<'de> for StrVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        Ok((self.0)(text))
    }
}

/// Like [`StrVisitor`], for a string that may be `null`.
struct OptionStrVisitor<F>(F);

impl<'de, T, F: FnOnce(&str) -> T> serde::de::Visitor<'de> for OptionStrVisitor<F> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_str(StrVisitor(self.0)).map(Some)
    }
}

/// A list that holds no spare room: a `Vec` grown from empty has room for four, and these
/// lists are on each of a tenant's users (the spare room freed here is reused at once).
pub(super) fn exact_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let mut list = Vec::<T>::deserialize(d)?;
    list.shrink_to_fit();
    Ok(list)
}

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
    /// Commercial subscriptions (`GET /directory/subscriptions`), when read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<CompanySubscription>,
    /// Entries of the directory audit log (`GET /auditLogs/directoryAudits`) about
    /// accounts being disabled and enabled, when read: `None` when the snapshot holds no
    /// audit log at all (not read, or not readable), `Some` (maybe empty) when it was
    /// read. Microsoft Entra keeps audit entries 7 days on Free and 30 days with P1/P2
    /// (https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-data-retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_audits: Option<Vec<DirectoryAudit>>,
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

open_string_enum! {
    /// Whom a SKU or plan applies to (`appliesTo`, a string in Graph's metadata).
    AppliesTo {
        /// Assignable to users.
        User => "User",
        /// Tenant-wide; not assignable.
        Company => "Company",
    }
}

open_string_enum! {
    /// `capabilityStatus` of a subscription (a string in Graph's metadata).
    CapabilityStatus {
        /// Active.
        Enabled => "Enabled",
        /// Expired, in the grace period.
        Warning => "Warning",
        /// Suspended.
        Suspended => "Suspended",
        /// Deleted.
        Deleted => "Deleted",
        /// Locked out.
        LockedOut => "LockedOut",
    }
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
#[serde(rename_all = "camelCase", from = "WireUser")]
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
    #[serde(default, deserialize_with = "exact_vec")]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// One entry per license source (direct, or each assigning group).
    #[serde(default, deserialize_with = "exact_vec")]
    pub license_assignment_states: Vec<LicenseAssignmentState>,
    /// The directory attributes rules match on (`department` … `createdDateTime`),
    /// written at the top level of the user.
    #[serde(flatten)]
    pub attributes: Attributes,
    /// `signInActivity` (needs `AuditLog.Read.All` and Microsoft Entra ID P1). Boxed: most
    /// reads leave it out, and a box keeps 64 bytes off each of a tenant's users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_activity: Option<Box<SignInActivity>>,
}

impl User {
    /// A user with only an id and a UPN: enabled unknown, no usage location, no licenses,
    /// no attributes.
    pub fn new(id: UserId, user_principal_name: impl Into<String>) -> Self {
        Self {
            id,
            user_principal_name: user_principal_name.into(),
            display_name: None,
            account_enabled: None,
            usage_location: None,
            assigned_licenses: Vec::new(),
            license_assignment_states: Vec::new(),
            attributes: Attributes::default(),
            sign_in_activity: None,
        }
    }

    /// `onPremisesExtensionAttributes.extensionAttribute{n}`, when set.
    pub fn extension_attribute(&self, n: u8) -> Option<&str> {
        self.attributes
            .on_premises_extension_attributes
            .as_ref()?
            .get(n)
    }
}

/// [`User`] as a snapshot and Graph spell it, every property at the top level; read
/// this way, then the directory attributes are boxed (or left out when none is set).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUser {
    id: UserId,
    user_principal_name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
    #[serde(default)]
    usage_location: Option<String>,
    #[serde(default, deserialize_with = "exact_vec")]
    assigned_licenses: Vec<AssignedLicense>,
    #[serde(default, deserialize_with = "exact_vec")]
    license_assignment_states: Vec<LicenseAssignmentState>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    job_title: Option<String>,
    #[serde(default)]
    company_name: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    office_location: Option<String>,
    #[serde(default)]
    employee_type: Option<String>,
    #[serde(default)]
    user_type: Option<String>,
    #[serde(default)]
    on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    on_premises_extension_attributes: Option<ExtensionAttributes>,
    #[serde(default)]
    created_date_time: Option<String>,
    #[serde(default)]
    sign_in_activity: Option<Box<SignInActivity>>,
}

impl From<WireUser> for User {
    fn from(wire: WireUser) -> Self {
        let attributes = DirectoryAttributes {
            department: wire.department,
            job_title: wire.job_title,
            company_name: wire.company_name,
            country: wire.country,
            state: wire.state,
            city: wire.city,
            office_location: wire.office_location,
            employee_type: wire.employee_type,
            user_type: wire.user_type,
            on_premises_sync_enabled: wire.on_premises_sync_enabled,
            on_premises_extension_attributes: wire.on_premises_extension_attributes,
            created_date_time: wire.created_date_time,
        };
        Self {
            id: wire.id,
            user_principal_name: wire.user_principal_name,
            display_name: wire.display_name,
            account_enabled: wire.account_enabled,
            usage_location: wire.usage_location,
            assigned_licenses: wire.assigned_licenses,
            license_assignment_states: wire.license_assignment_states,
            attributes: Attributes::from(attributes),
            sign_in_activity: wire.sign_in_activity,
        }
    }
}

/// A user's directory attributes that rules match on (snapshot version 2; absent from
/// version 1 files and when no rule needs them). Every one is optional: Graph returns
/// only what `$select` asks for, and most are null for many users.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAttributes {
    /// `department`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// `jobTitle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// `companyName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// `country` (free text: synced from AD's `co`/`c` or typed in the portal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `city`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// `officeLocation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    /// `employeeType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee_type: Option<String>,
    /// `userType`: `Member` or `Guest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// `onPremisesSyncEnabled`: true for accounts synchronized from Active Directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_premises_sync_enabled: Option<bool>,
    /// `onPremisesExtensionAttributes`: `extensionAttribute1` … `extensionAttribute15`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_premises_extension_attributes: Option<ExtensionAttributes>,
    /// `createdDateTime` (ISO 8601, as Graph sends it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
}

/// No attribute set.
static NO_ATTRIBUTES: DirectoryAttributes = DirectoryAttributes {
    department: None,
    job_title: None,
    company_name: None,
    country: None,
    state: None,
    city: None,
    office_location: None,
    employee_type: None,
    user_type: None,
    on_premises_sync_enabled: None,
    on_premises_extension_attributes: None,
    created_date_time: None,
};

/// A user's [`DirectoryAttributes`], boxed and allocated only once one is set: a
/// licensing read sets none, and the box keeps 200 bytes off each of a tenant's users.
/// Reads see [`DirectoryAttributes`] through `Deref` (all `None` when nothing is set);
/// a write through `DerefMut` allocates the box. Unset and all-`None` compare equal.
#[derive(Clone, Default)]
pub struct Attributes(Option<Box<DirectoryAttributes>>);

impl Attributes {
    /// True when the box is allocated (some attribute was set).
    pub fn is_boxed(&self) -> bool {
        self.0.is_some()
    }

    /// Drops every attribute (and the box).
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl From<DirectoryAttributes> for Attributes {
    /// Boxed when any attribute is set.
    fn from(attributes: DirectoryAttributes) -> Self {
        Self((attributes != NO_ATTRIBUTES).then(|| Box::new(attributes)))
    }
}

impl std::ops::Deref for Attributes {
    type Target = DirectoryAttributes;
    fn deref(&self) -> &DirectoryAttributes {
        self.0.as_deref().unwrap_or(&NO_ATTRIBUTES)
    }
}

impl std::ops::DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut DirectoryAttributes {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

/// `onPremisesExtensionAttributes`: the values of `extensionAttribute1` …
/// `extensionAttribute15` that are set, ordered by key. Graph sends all fifteen keys,
/// most of them `null`; a `null` and an absent key read the same, so only set values are
/// kept (a list of pairs rather than a map: this is on every synced user of a tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionAttributes(Vec<(String, String)>);

impl ExtensionAttributes {
    /// `extensionAttribute{n}`, when set.
    pub fn get(&self, n: u8) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| extension_number(key) == Some(n))
            .map(|(_, value)| value.as_str())
    }
}

/// `n` of a key `extensionAttribute{n}`.
fn extension_number(key: &str) -> Option<u8> {
    key.strip_prefix("extensionAttribute")?.parse().ok()
}

impl<K: Into<String>, V: Into<Option<String>>> FromIterator<(K, V)> for ExtensionAttributes {
    /// From keys and values; `None` values are dropped, a repeated key keeps its last.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut list: Vec<(String, String)> = pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.into(), v.into()?)))
            .collect();
        // Stable: among equal keys the last read stays last, and dedup keeps the first.
        list.reverse();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|later, first| later.0 == first.0);
        list.shrink_to_fit();
        Self(list)
    }
}

impl Serialize for ExtensionAttributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for ExtensionAttributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut pairs: Vec<(String, Option<String>)> = Vec::with_capacity(16);
        d.deserialize_map(ExtensionPairs::new(|key, value| pairs.push((key, value))))?;
        Ok(pairs.into_iter().collect())
    }
}

/// Reads `onPremisesExtensionAttributes`, a map, handing `each` every key and value as
/// `K` and `V` (the whole read keeps them, a licensing read drops them: one visitor, so
/// that both accept the same maps).
pub(super) struct ExtensionPairs<K, V, F> {
    each: F,
    types: std::marker::PhantomData<fn(K, V)>,
}

impl<K, V, F: FnMut(K, V)> ExtensionPairs<K, V, F> {
    pub(super) fn new(each: F) -> Self {
        Self {
            each,
            types: std::marker::PhantomData,
        }
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>, F: FnMut(K, V)> serde::de::Visitor<'de>
    for ExtensionPairs<K, V, F>
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of extensionAttribute1 … extensionAttribute15")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some((key, value)) = map.next_entry::<K, V>()? {
            (self.each)(key, value);
        }
        Ok(())
    }
}

/// `signInActivity`: when the user last signed in (ISO 8601 strings as Graph sends them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    /// Last interactive sign-in attempt, successful or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_date_time: Option<String>,
    /// Last non-interactive sign-in attempt, successful or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_non_interactive_sign_in_date_time: Option<String>,
    /// Last successful sign-in of either kind (recorded since 2023-12-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_sign_in_date_time: Option<String>,
}

/// `companySubscription` (`GET /directory/subscriptions`): one commercial subscription of
/// a SKU, with its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanySubscription {
    /// Subscription id (the values of `subscribedSku.subscriptionIds`).
    pub id: String,
    /// Commerce subscription id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commerce_subscription_id: Option<String>,
    /// The product.
    pub sku_id: SkuId,
    /// The product's part number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_part_number: Option<String>,
    /// `Enabled`, `Warning`, `Suspended`, `Deleted` or `LockedOut`.
    pub status: CapabilityStatus,
    /// Seats in this subscription.
    #[serde(default)]
    pub total_licenses: i64,
    /// True for a trial.
    #[serde(default)]
    pub is_trial: bool,
    /// When it was created (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    /// When it moves to its next state unless renewed (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_lifecycle_date_time: Option<String>,
}

/// `directoryAudit` (`GET /auditLogs/directoryAudits`): one entry of the directory audit
/// log, with the properties licensectl reads
/// (https://learn.microsoft.com/en-us/graph/api/resources/directoryaudit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// The entry's id.
    pub id: String,
    /// `UserManagement`, `GroupManagement`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Correlates activities across services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// `success`, `failure`, `timeout` or `unknownFutureValue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why the activity had its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_reason: Option<String>,
    /// The activity, e.g. `Disable account`, `Enable account`.
    pub activity_display_name: String,
    /// When it happened (ISO 8601, UTC).
    pub activity_date_time: String,
    /// The service that logged it, e.g. `Core Directory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_by_service: Option<String>,
    /// `Add`, `Assign`, `Update`, `Unassign` or `Delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    /// Who or what did it (`user` and `app`, as Graph sends them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<serde_json::Value>,
    /// The objects it changed.
    #[serde(default)]
    pub target_resources: Vec<TargetResource>,
}

impl DirectoryAudit {
    /// True when the activity succeeded (`result` is `success`, compared ignoring case).
    pub fn succeeded(&self) -> bool {
        self.result
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("success"))
    }
}

/// `targetResource` of a directory audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    /// The object's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `User`, `Group`, `Device`, ... (Microsoft's own example spells the key `Type`).
    #[serde(
        default,
        rename = "type",
        alias = "Type",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// The user's userPrincipalName, for a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
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

open_string_enum! {
    /// `licenseAssignmentState.state` (a string in Graph's metadata).
    AssignmentStateKind {
        /// Assigned and working.
        Active => "Active",
        /// Assigned, but part of it failed.
        ActiveWithError => "ActiveWithError",
        /// Disabled.
        Disabled => "Disabled",
        /// Not assigned because of an error.
        Error => "Error",
    }
}

open_string_enum! {
    /// `licenseAssignmentState.error` (a string in Graph's metadata; `None` means no error
    /// and decodes to `Option::None`).
    AssignmentError {
        /// Not enough seats.
        CountViolation => "CountViolation",
        /// Conflicts with a plan of another license.
        MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
        /// A plan needs a plan the user does not have.
        DependencyViolation => "DependencyViolation",
        /// A plan is not available in the user's usage location.
        ProhibitedInUsageLocationViolation => "ProhibitedInUsageLocationViolation",
        /// A unique attribute (e.g. proxy address) conflicts.
        UniquenessViolation => "UniquenessViolation",
        /// Anything else (Graph's own catch-all value).
        Other => "Other",
    }
}

pub(super) fn deserialize_assignment_error<'de, D>(
    d: D,
) -> Result<Option<AssignmentError>, D::Error>
where
    D: Deserializer<'de>,
{
    let error = d.deserialize_option(OptionStrVisitor(|text: &str| match text {
        "None" | "" => None,
        other => Some(AssignmentError::from(other)),
    }))?;
    Ok(error.flatten())
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

/// A string value of the snapshot that this build does not know (see [`AppliesTo`],
/// [`CapabilityStatus`], [`AssignmentStateKind`], [`AssignmentError`]), with how often it
/// occurs: a reason to warn, never to fail.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownValue {
    /// Graph's property, e.g. `licenseAssignmentStates.state`.
    pub property: &'static str,
    /// The value as Graph sent it.
    pub value: String,
    /// How many objects carry it.
    pub count: usize,
    /// One object that carries it (a SKU part number or a UPN).
    pub example: String,
}

impl TenantSnapshot {
    /// Every unknown string value, by property then value.
    pub fn unknown_values(&self) -> Vec<UnknownValue> {
        use std::collections::BTreeMap;
        let mut found: BTreeMap<(&'static str, String), (usize, String)> = BTreeMap::new();
        let mut note = |property: &'static str, value: &str, example: &str| {
            let entry = found
                .entry((property, value.to_owned()))
                .or_insert_with(|| (0, example.to_owned()));
            entry.0 += 1;
        };
        for sku in &self.subscribed_skus {
            if !sku.applies_to.is_known() {
                note("appliesTo", sku.applies_to.as_str(), &sku.sku_part_number);
            }
            if !sku.capability_status.is_known() {
                note(
                    "capabilityStatus",
                    sku.capability_status.as_str(),
                    &sku.sku_part_number,
                );
            }
            for plan in &sku.service_plans {
                if let Some(applies) = plan.applies_to.as_ref().filter(|a| !a.is_known()) {
                    note(
                        "servicePlans.appliesTo",
                        applies.as_str(),
                        &sku.sku_part_number,
                    );
                }
            }
        }
        for user in &self.users {
            for state in &user.license_assignment_states {
                if !state.state.is_known() {
                    note(
                        "licenseAssignmentStates.state",
                        state.state.as_str(),
                        &user.user_principal_name,
                    );
                }
                if let Some(error) = state.error.as_ref().filter(|e| !e.is_known()) {
                    note(
                        "licenseAssignmentStates.error",
                        error.as_str(),
                        &user.user_principal_name,
                    );
                }
            }
        }
        found
            .into_iter()
            .map(|((property, value), (count, example))| UnknownValue {
                property,
                value,
                count,
                example,
            })
            .collect()
    }
}
