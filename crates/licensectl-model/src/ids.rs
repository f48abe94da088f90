//! Identifier newtypes for the directory objects licensectl deals with.
//!
//! Graph identifies SKUs, service plans, users and groups by GUIDs. Graph's samples
//! use lowercase GUIDs but older ones show uppercase, so every id here parses in any
//! case and compares and serializes in the canonical lowercase hyphenated form.
//! This module only defines types; it does no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The error for a string that is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{value}' is not a GUID (expected 8-4-4-4-12 hex digits, e.g. 6fd2c87f-b296-42f0-b197-1e91e994b900)"
)]
pub struct InvalidGuid {
    /// The rejected text.
    pub value: String,
}

/// Parses a GUID in Graph's textual form: 8-4-4-4-12 hex digits, any case,
/// optionally wrapped in braces. URNs and the 32-digit simple form are refused,
/// because Graph does not accept them either.
pub fn parse_guid(value: &str) -> Result<Uuid, InvalidGuid> {
    let inner = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value);
    if inner.len() != 36 {
        return Err(InvalidGuid {
            value: value.to_owned(),
        });
    }
    Uuid::try_parse(inner).map_err(|_| InvalidGuid {
        value: value.to_owned(),
    })
}

/// True when `value` looks like a GUID (see [`parse_guid`]).
pub fn is_guid(value: &str) -> bool {
    parse_guid(value).is_ok()
}

/// Reads a GUID from a string (see [`parse_guid`]).
struct GuidVisitor;

impl serde::de::Visitor<'_> for GuidVisitor {
    type Value = Uuid;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Uuid, E> {
        parse_guid(value).map_err(E::custom)
    }
    fn visit_bytes<E: serde::de::Error>(self, value: &[u8]) -> Result<Uuid, E> {
        // As `String` does: bytes that are UTF-8 are a string.
        match std::str::from_utf8(value) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(value), &self)),
        }
    }
}

macro_rules! guid_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        // Written and read as text without a `String` in between: these are on every
        // license of every user of a snapshot. The messages are those of a `String`
        // converted with `FromStr` (`invalid type: …, expected a string`, then
        // [`InvalidGuid`]).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut buffer = Uuid::encode_buffer();
                s.serialize_str(self.0.hyphenated().encode_lower(&mut buffer))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(GuidVisitor).map(Self)
            }
        }

        impl $name {
            /// Wraps a parsed GUID.
            pub const fn new(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying GUID.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidGuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_guid(s).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidGuid;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

guid_newtype!(
    /// A SKU (product) id, Graph's `skuId`.
    SkuId
);
guid_newtype!(
    /// A service plan id, Graph's `servicePlanId`.
    ServicePlanId
);
guid_newtype!(
    /// A user's object id.
    UserId
);
guid_newtype!(
    /// A group's object id.
    GroupId
);
guid_newtype!(
    /// A tenant (directory) id, the `tid` claim of a token.
    TenantId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_parse_in_any_case_and_print_lowercase() {
        let upper: SkuId = "C7DF2760-2C81-4EF7-B578-5B5392B571DF"
            .parse()
            .expect("valid");
        let lower: SkuId = "c7df2760-2c81-4ef7-b578-5b5392b571df"
            .parse()
            .expect("valid");
        assert_eq!(upper, lower);
        assert_eq!(upper.to_string(), "c7df2760-2c81-4ef7-b578-5b5392b571df");
    }

    #[test]
    fn malformed_guids_are_refused() {
        for bad in [
            "",
            "c7df2760",
            "c7df27602c814ef7b5785b5392b571df",
            "c7df2760-2c81-4ef7-b578-5b5392b571dg",
            "urn:uuid:c7df2760-2c81-4ef7-b578-5b5392b571df",
        ] {
            assert!(bad.parse::<SkuId>().is_err(), "{bad} should be refused");
        }
        assert!(
            "{c7df2760-2c81-4ef7-b578-5b5392b571df}"
                .parse::<SkuId>()
                .is_ok()
        );
    }

    #[test]
    fn serde_round_trip_is_canonical() {
        let id: UserId =
            serde_json::from_str("\"6EA91A8D-E32E-41A1-B7BD-D2D185EED0E0\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&id).expect("serializes"),
            "\"6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0\""
        );
        assert!(serde_json::from_str::<UserId>("\"nope\"").is_err());
    }

    #[test]
    fn serde_errors_are_those_of_a_string_parsed_as_a_guid() {
        let number = serde_json::from_str::<UserId>("5").expect_err("not a string");
        assert_eq!(
            number.to_string(),
            "invalid type: integer `5`, expected a string at line 1 column 1"
        );
        let bad = serde_json::from_str::<SkuId>("\"c7df2760\"").expect_err("not a GUID");
        assert_eq!(
            bad.to_string(),
            format!(
                "{} at line 1 column 10",
                InvalidGuid {
                    value: "c7df2760".into()
                }
            )
        );
        let escaped: GroupId =
            serde_json::from_str("\"c7df2760-2c81-4ef7-b578-5b5392b571d\\u0066\"").expect("valid");
        assert_eq!(escaped.to_string(), "c7df2760-2c81-4ef7-b578-5b5392b571df");
    }
}
