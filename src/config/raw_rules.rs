//! The format of `rules:` and `rules_scope:` as written: serde types with spans, the
//! single source of their part of the JSON Schema.
//!
//! A condition (the value of one attribute key under `match:` or `exclude:`) is a scalar
//! (equality), a list (any of) or a mapping of operators (`starts_with`, `ends_with`,
//! `not`, `exists`; several in one mapping must all hold). Serde-saphyr's `Spanned` loses
//! positions through untagged enums, so [`RawCondition`] has its own visitor that keeps
//! the span of every nested value; its schema is written by hand to say the same. Shape
//! only: what the values mean is checked in `check/rules.rs`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::raw::RawLicense;

/// One rule: users in `rules_scope` whose attributes match get its licenses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Rule")]
pub struct RawRule {
    /// Unique name of the rule (required); the plan names it for every change it causes.
    #[schemars(with = "String")]
    pub name: Option<Spanned<String>>,
    /// Attribute conditions (required); every key must hold (AND). `{}` matches every
    /// user in `rules_scope`.
    #[serde(rename = "match")]
    #[schemars(with = "RawMatch")]
    pub matches: Option<Spanned<RawMatch>>,
    /// Attribute conditions; a user for whom any key holds is excluded (OR).
    #[schemars(with = "Option<RawMatch>")]
    pub exclude: Option<Spanned<RawMatch>>,
    /// Name of a profile whose licenses the rule gives.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Licenses the rule gives, in addition to the profile's.
    #[schemars(with = "Option<Vec<RawLicense>>")]
    pub licenses: Option<Spanned<Vec<Spanned<RawLicense>>>>,
    /// Usage location set on a matching user who has none when the rule gives it a
    /// license: an ISO 3166-1 alpha-2 code, or `from_country` (mapped from the user's
    /// `country` attribute).
    #[schemars(with = "Option<String>")]
    pub usage_location: Option<Spanned<String>>,
}

/// Which users the rules govern (`licensectl.yaml`); the default is
/// `{ match: { account_enabled: true, user_type: Member } }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RulesScope")]
pub struct RawRulesScope {
    /// Attribute conditions; every key must hold (AND).
    #[serde(rename = "match")]
    #[schemars(with = "Option<RawMatch>")]
    pub matches: Option<Spanned<RawMatch>>,
    /// Attribute conditions; a user for whom any key holds is outside the scope (OR).
    #[schemars(with = "Option<RawMatch>")]
    pub exclude: Option<Spanned<RawMatch>>,
}

/// A condition on one attribute key, with its span; its schema is [`RawCondition`]'s.
#[derive(Debug)]
pub struct Cond<T: RawScalar>(pub Spanned<RawCondition<T>>);

impl<'de, T: RawScalar> Deserialize<'de> for Cond<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::deserialize(deserializer).map(Cond)
    }
}

impl<T: RawScalar> JsonSchema for Cond<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        RawCondition::<T>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<RawCondition<T>>()
    }
}

/// An attribute key's condition, absent by default. Unlike an `Option`, it refuses an
/// empty value (`department:` or `department: null`), which would otherwise match as if
/// the key were not written.
#[derive(Debug)]
pub struct Slot<T: RawScalar>(pub Option<Cond<T>>);

impl<T: RawScalar> Default for Slot<T> {
    fn default() -> Self {
        Slot(None)
    }
}

impl<'de, T: RawScalar> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Cond::deserialize(deserializer).map(|c| Slot(Some(c)))
    }
}

impl<T: RawScalar> JsonSchema for Slot<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        RawCondition::<T>::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<RawCondition<T>>()
    }
}

/// A condition on a text attribute.
pub(crate) type TextCondition = Cond<String>;
/// A condition on a true/false attribute.
pub(crate) type BoolCondition = Cond<bool>;
/// A condition on a number of days.
pub(crate) type DaysCondition = Cond<u32>;

/// Declares [`RawMatch`] from one line per attribute key: the field, its Rust condition
/// type, and its documentation. [`RawMatch::conditions`] lists the present ones.
macro_rules! raw_match {
    ($($(#[$doc:meta])* $field:ident : $kind:ident,)+) => {
        /// Attribute keys: the snake_case names of Graph user properties. A string is
        /// compared ignoring case; a list means any of; a mapping holds operators.
        #[derive(Debug, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(rename = "Match")]
        pub struct RawMatch {
            $(
                $(#[$doc])*
                #[serde(default)]
                pub $field: Slot<$kind>,
            )+
        }

        impl RawMatch {
            /// The keys present, in the order of the format, with their conditions.
            pub fn conditions(&self) -> Vec<(&'static str, RawAny<'_>)> {
                let mut out = Vec::new();
                $(
                    if let Some(c) = &self.$field.0 {
                        out.push((stringify!($field), raw_match!(@any $kind, c)));
                    }
                )+
                out
            }
        }
    };
    (@any String, $c:expr) => { RawAny::Text($c) };
    (@any bool, $c:expr) => { RawAny::Bool($c) };
    (@any u32, $c:expr) => { RawAny::Days($c) };
}

/// A condition of either kind, as [`RawMatch::conditions`] lists them.
#[derive(Debug, Clone, Copy)]
pub enum RawAny<'a> {
    /// On a text attribute.
    Text(&'a TextCondition),
    /// On a true/false attribute.
    Bool(&'a BoolCondition),
    /// On a number of days.
    Days(&'a DaysCondition),
}

raw_match! {
    /// `department`.
    department: String,
    /// `jobTitle`.
    job_title: String,
    /// `companyName`.
    company_name: String,
    /// `country` (free text).
    country: String,
    /// `state`.
    state: String,
    /// `city`.
    city: String,
    /// `officeLocation`.
    office_location: String,
    /// `employeeType`.
    employee_type: String,
    /// `userType`: `Member` or `Guest`.
    user_type: String,
    /// `accountEnabled`.
    account_enabled: bool,
    /// `onPremisesSyncEnabled`: true for accounts synchronized from Active Directory.
    on_premises_sync_enabled: bool,
    /// `usageLocation` (ISO 3166-1 alpha-2).
    usage_location: String,
    /// `onPremisesExtensionAttributes.extensionAttribute1`.
    extension_attribute_1: String,
    /// `onPremisesExtensionAttributes.extensionAttribute2`.
    extension_attribute_2: String,
    /// `onPremisesExtensionAttributes.extensionAttribute3`.
    extension_attribute_3: String,
    /// `onPremisesExtensionAttributes.extensionAttribute4`.
    extension_attribute_4: String,
    /// `onPremisesExtensionAttributes.extensionAttribute5`.
    extension_attribute_5: String,
    /// `onPremisesExtensionAttributes.extensionAttribute6`.
    extension_attribute_6: String,
    /// `onPremisesExtensionAttributes.extensionAttribute7`.
    extension_attribute_7: String,
    /// `onPremisesExtensionAttributes.extensionAttribute8`.
    extension_attribute_8: String,
    /// `onPremisesExtensionAttributes.extensionAttribute9`.
    extension_attribute_9: String,
    /// `onPremisesExtensionAttributes.extensionAttribute10`.
    extension_attribute_10: String,
    /// `onPremisesExtensionAttributes.extensionAttribute11`.
    extension_attribute_11: String,
    /// `onPremisesExtensionAttributes.extensionAttribute12`.
    extension_attribute_12: String,
    /// `onPremisesExtensionAttributes.extensionAttribute13`.
    extension_attribute_13: String,
    /// `onPremisesExtensionAttributes.extensionAttribute14`.
    extension_attribute_14: String,
    /// `onPremisesExtensionAttributes.extensionAttribute15`.
    extension_attribute_15: String,
    /// The part of the userPrincipalName after the `@`.
    upn_domain: String,
    /// Display names or object ids of groups the user is a direct member of.
    member_of: String,
    /// Holds when the user's last sign-in (`signInActivity.lastSuccessfulSignInDateTime`,
    /// else `lastSignInDateTime`) is at least this many days before the plan's date;
    /// never for a user who never signed in. Needs AuditLog.Read.All and Microsoft Entra
    /// ID P1 or P2; without them a rule using it matches nobody.
    inactive_days: u32,
    /// Holds when the account is disabled and the directory audit log's latest `Disable
    /// account` entry for it is at least this many days before the plan's date; never
    /// without such an entry (the log keeps 7 days on Entra ID Free, 30 with P1 or P2).
    disabled_days: u32,
}

/// A condition as written: a value, a list (any of), or a mapping of operators.
#[derive(Debug)]
pub enum RawCondition<T> {
    /// Equal to the value (strings ignoring case).
    Is(T),
    /// Any of these holds.
    AnyOf(Vec<Spanned<RawCondition<T>>>),
    /// Every one of these operators holds (an empty list: `{}`).
    Ops(Vec<RawOp<T>>),
}

/// One operator of a mapping condition.
#[derive(Debug)]
pub enum RawOp<T> {
    /// `starts_with: text` (text attributes only).
    StartsWith(Spanned<String>),
    /// `ends_with: text` (text attributes only).
    EndsWith(Spanned<String>),
    /// `not: condition`.
    Not(Box<Spanned<RawCondition<T>>>),
    /// `exists: true|false`: the attribute is set (and not empty), or not.
    Exists(Spanned<bool>),
}

/// What an attribute's values are: text or true/false.
pub trait RawScalar: Sized {
    /// The name of the condition type in the schema.
    const SCHEMA_NAME: &'static str;
    /// The JSON type of a value.
    const JSON_TYPE: &'static str;
    /// True for text (which allows `starts_with` and `ends_with`).
    const TEXT: bool;
    /// A value from a YAML string, if this kind accepts one.
    fn from_str(value: &str) -> Option<Self>;
    /// A value from a YAML boolean, if this kind accepts one.
    fn from_bool(value: bool) -> Option<Self>;
    /// A value from a YAML integer, if this kind accepts one.
    fn from_u64(_value: u64) -> Option<Self> {
        None
    }
    /// What a value of this kind is, for serde's messages.
    fn expected() -> &'static str;
}

impl RawScalar for String {
    const SCHEMA_NAME: &'static str = "TextCondition";
    const JSON_TYPE: &'static str = "string";
    const TEXT: bool = true;
    fn from_str(value: &str) -> Option<Self> {
        Some(value.to_owned())
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn expected() -> &'static str {
        "a string, a list or a mapping of operators"
    }
}

impl RawScalar for bool {
    const SCHEMA_NAME: &'static str = "BooleanCondition";
    const JSON_TYPE: &'static str = "boolean";
    const TEXT: bool = false;
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_bool(value: bool) -> Option<Self> {
        Some(value)
    }
    fn expected() -> &'static str {
        "true, false, a list or a mapping of operators"
    }
}

impl RawScalar for u32 {
    const SCHEMA_NAME: &'static str = "DaysCondition";
    const JSON_TYPE: &'static str = "integer";
    const TEXT: bool = false;
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_u64(value: u64) -> Option<Self> {
        u32::try_from(value).ok()
    }
    fn expected() -> &'static str {
        "a whole number of days, a list or a mapping of operators"
    }
}

struct ConditionVisitor<T>(PhantomData<T>);

impl<'de, T: RawScalar> Visitor<'de> for ConditionVisitor<T> {
    type Value = RawCondition<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::expected())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        T::from_str(value)
            .map(RawCondition::Is)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Str(value), &self))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        T::from_bool(value)
            .map(RawCondition::Is)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Bool(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        T::from_u64(value)
            .map(RawCondition::Is)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        u64::try_from(value)
            .ok()
            .and_then(T::from_u64)
            .map(RawCondition::Is)
            .ok_or_else(|| E::invalid_type(de::Unexpected::Signed(value), &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawCondition<T>>>()? {
            items.push(item);
        }
        Ok(RawCondition::AnyOf(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ops = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let op = match key.as_str() {
                "starts_with" if T::TEXT => RawOp::StartsWith(map.next_value()?),
                "ends_with" if T::TEXT => RawOp::EndsWith(map.next_value()?),
                "not" => RawOp::Not(Box::new(map.next_value()?)),
                "exists" => RawOp::Exists(map.next_value()?),
                _ => return Err(de::Error::unknown_field(&key, T::operators())),
            };
            ops.push(op);
        }
        Ok(RawCondition::Ops(ops))
    }
}

trait Operators {
    fn operators() -> &'static [&'static str];
}

impl<T: RawScalar> Operators for T {
    fn operators() -> &'static [&'static str] {
        if T::TEXT {
            &["starts_with", "ends_with", "not", "exists"]
        } else {
            &["not", "exists"]
        }
    }
}

impl<'de, T: RawScalar> Deserialize<'de> for RawCondition<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ConditionVisitor(PhantomData))
    }
}

impl<T: RawScalar> JsonSchema for RawCondition<T> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(T::SCHEMA_NAME)
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let this = generator.subschema_for::<Self>();
        let mut properties = serde_json::Map::new();
        if T::TEXT {
            let text = json_schema!({ "type": "string" });
            properties.insert("starts_with".into(), text.clone().into());
            properties.insert("ends_with".into(), text.into());
        }
        properties.insert("not".into(), this.clone().into());
        properties.insert("exists".into(), json_schema!({ "type": "boolean" }).into());
        json_schema!({
            "description": if T::TEXT {
                "A text condition: a string (equal, ignoring case), a list (any of), or a mapping of operators (starts_with, ends_with, not, exists), all of which must hold."
            } else if T::JSON_TYPE == "integer" {
                "A day count: a whole number N ≥ 1 (holds at N days or more), a list (any of), or a mapping of operators (not, exists: whether the date is known), all of which must hold."
            } else {
                "A true/false condition: true or false, a list (any of), or a mapping of operators (not, exists), all of which must hold."
            },
            "type": [T::JSON_TYPE, "array", "object"],
            "items": this,
            "properties": properties,
            "additionalProperties": false,
        })
    }
}
