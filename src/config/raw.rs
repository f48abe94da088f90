//! The file format as written: serde types that mirror one YAML file, with spans.
//!
//! These types are the single source of the JSON Schema (`licensectl schema`). They only
//! describe shape; every semantic rule (GUIDs, country codes, profiles, duplicates) lives in
//! the checks that turn them into a [`super::DesiredState`]. No flatten or untagged enums
//! here: serde-saphyr's `Spanned` loses positions through them.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

pub(crate) use super::raw_rules::{RawRule, RawRulesScope};

/// One configuration file: `licensectl.yaml` (settings, optionally principals) or a
/// principal file (only `users` and `groups`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "licensectl configuration file",
    description = "A licensectl config file. licensectl.yaml holds the settings (version, tenant, defaults, safety, profiles, protected, rules_scope, migrate_to_groups, prices) and may declare users, groups and rules; every other *.yaml file in the directory holds only users, groups and rules. A principal that no file declares (and no rule governs) is never touched."
)]
pub struct RawFile {
    /// Format version; must be 1. Required in licensectl.yaml.
    #[schemars(with = "Option<u32>")]
    pub version: Option<Spanned<u64>>,
    /// The tenant this config belongs to, as its initial domain (`contoso.onmicrosoft.com`)
    /// or tenant id GUID. `apply` refuses to run against any other tenant.
    #[schemars(with = "Option<String>")]
    pub tenant: Option<Spanned<String>>,
    /// Defaults for managed users.
    #[schemars(with = "Option<RawDefaults>")]
    pub defaults: Option<Spanned<RawDefaults>>,
    /// Blast-radius limits: a plan that exceeds one is refused unless explicitly allowed.
    #[schemars(with = "Option<RawSafety>")]
    pub safety: Option<Spanned<RawSafety>>,
    /// Named license lists that users and groups refer to with `profile`.
    #[schemars(with = "Option<std::collections::BTreeMap<String, Vec<RawLicense>>>")]
    pub profiles: Option<Spanned<Entries<Vec<Spanned<RawLicense>>>>>,
    /// Principals that must never lose a license, whatever the config says.
    #[schemars(with = "Option<RawProtected>")]
    pub protected: Option<Spanned<RawProtected>>,
    /// Opt in to a staged move from direct to group licensing: the plan removes a user's
    /// direct copy of a SKU when a group the config manages, of which the user is a direct
    /// member, gives that SKU with every service plan the direct copy has on — for at most
    /// `max_users_per_run` users per plan. Only in licensectl.yaml.
    #[schemars(with = "Option<RawMigrateToGroups>")]
    pub migrate_to_groups: Option<Spanned<RawMigrateToGroups>>,
    /// What one seat of a SKU costs per month, keyed by skuPartNumber or skuId: the plan
    /// and `licensectl seats` show the monthly amount seats free or cost. Only in
    /// licensectl.yaml.
    #[schemars(with = "Option<std::collections::BTreeMap<String, RawPrice>>")]
    pub prices: Option<Spanned<Entries<Spanned<RawPrice>>>>,
    /// Users, keyed by userPrincipalName.
    #[schemars(with = "Option<std::collections::BTreeMap<String, RawUser>>")]
    pub users: Option<Entries<Box<RawUser>>>,
    /// Groups, keyed by displayName, mailNickname or object id (GUID).
    #[schemars(with = "Option<std::collections::BTreeMap<String, RawGroup>>")]
    pub groups: Option<Entries<Box<RawGroup>>>,
    /// Attribute rules: users in `rules_scope` whose directory attributes match a rule get
    /// its licenses (for the SKUs rules name; users declared under `users` are governed by
    /// their entry alone).
    #[schemars(with = "Option<Vec<RawRule>>")]
    pub rules: Option<Vec<Spanned<RawRule>>>,
    /// Which users the rules govern; default `{ match: { account_enabled: true,
    /// user_type: Member } }`. Only in licensectl.yaml.
    #[schemars(with = "Option<RawRulesScope>")]
    pub rules_scope: Option<Spanned<RawRulesScope>>,
}

/// Defaults for managed users.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub struct RawDefaults {
    /// ISO 3166-1 alpha-2 country code (e.g. `US`) given to managed users that need a usage
    /// location and declare none.
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
}

/// Blast-radius limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Safety")]
pub struct RawSafety {
    /// Most license removals one plan may contain.
    #[schemars(with = "Option<u32>")]
    pub max_removals: Option<Spanned<u64>>,
    /// Most managed principals, in percent (0-100), that one plan may change.
    #[schemars(with = "Option<f64>")]
    pub max_change_percent: Option<Spanned<f64>>,
}

/// The staged move from direct to group licensing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MigrateToGroups")]
pub struct RawMigrateToGroups {
    /// Most users whose direct copies one plan removes (a wave); the others are listed as
    /// the next waves.
    #[schemars(with = "u32", range(min = 1))]
    pub max_users_per_run: Spanned<u64>,
}

/// The monthly price of one seat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Price")]
pub struct RawPrice {
    /// The amount per seat and month, e.g. `57.00` (shown to the cent).
    #[schemars(with = "f64", range(min = 0))]
    pub monthly: Spanned<f64>,
    /// ISO 4217 currency code, e.g. `EUR`.
    #[schemars(with = "String", regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: Spanned<String>,
}

/// Principals that never lose a license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Protected")]
pub struct RawProtected {
    /// userPrincipalNames.
    #[schemars(with = "Option<Vec<String>>")]
    pub users: Option<Vec<Spanned<String>>>,
    /// Group displayNames, mailNicknames or object ids.
    #[schemars(with = "Option<Vec<String>>")]
    pub groups: Option<Vec<Spanned<String>>>,
}

/// A user's desired licenses. Omitting both `profile` and `licenses` leaves the user's
/// licenses unmanaged; `licenses: []` means "no direct licenses".
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "User")]
pub struct RawUser {
    /// ISO 3166-1 alpha-2 country code, required by Microsoft 365 before a license can be
    /// assigned.
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
    /// Name of a profile whose licenses the user gets.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Direct licenses, in addition to the profile's.
    #[schemars(with = "Option<Vec<RawLicense>>")]
    #[serde(default, deserialize_with = "exact_licenses")]
    pub licenses: Option<Spanned<Vec<Spanned<RawLicense>>>>,
}

/// A group's desired licenses (group-based licensing); same rules as for users.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// Name of a profile whose licenses the group gets.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Licenses, in addition to the profile's.
    #[schemars(with = "Option<Vec<RawLicense>>")]
    #[serde(default, deserialize_with = "exact_licenses")]
    pub licenses: Option<Spanned<Vec<Spanned<RawLicense>>>>,
}

/// One license: a SKU and optionally which of its service plans are on.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "License")]
pub struct RawLicense {
    /// skuPartNumber (e.g. `SPE_E5`) or skuId GUID.
    #[schemars(with = "String")]
    pub sku: Spanned<String>,
    /// Service plans (names or GUIDs) to turn off; every other plan is on.
    #[schemars(with = "Option<Vec<String>>")]
    pub disabled_plans: Option<Vec<Spanned<String>>>,
    /// Service plans (names or GUIDs) to turn on; every other plan, including ones Microsoft
    /// adds later, is off. Never together with `disabled_plans`.
    #[schemars(with = "Option<Vec<String>>")]
    pub enabled_plans: Option<Vec<Spanned<String>>>,
}

/// A principal's or rule's `licenses`, with its position and each entry's.
pub(crate) type RawLicenses = Spanned<Vec<Spanned<RawLicense>>>;

/// A license list without spare room: a YAML sequence gives no length, so a `Vec` grown
/// from empty has room for four licenses, and there is one list per declared user (a
/// 250k-user config held 180 MiB of spare room).
pub(crate) fn exact_licenses<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RawLicenses>, D::Error> {
    let list = Option::<RawLicenses>::deserialize(deserializer)?;
    Ok(list.map(|mut list| {
        list.value.shrink_to_fit();
        list
    }))
}

/// A YAML mapping kept as an ordered list of (spanned key, value), so that every key keeps
/// its position and nothing is merged away. (Users and groups are boxed in it: the list
/// grows by doubling, and moving a pointer per entry costs less than moving the entry.)
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<V>()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// Every key, value, line and column of a parse, to compare two parses of a file (the
/// split and plain readers' with serde-saphyr's); spans are left out, as only lines and
/// columns are used (and the split parse's byte offsets differ: its pieces are padded).
#[cfg(any(test, fuzzing))]
pub(crate) fn everything(raw: &RawFile) -> String {
    let text = format!("{raw:?}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("span: Span {") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = rest.find('}').map_or("", |end| &rest[end + 1..]);
    }
    out.push_str(rest);
    out
}
