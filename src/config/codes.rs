//! The stable diagnostic codes the config loader emits, with their severity and a one-line
//! description. `docs/config.md` documents each; a test checks that every code has a
//! broken-config fixture under `tests/fixtures/invalid/` and a section in the docs.

use crate::diagnostic::Severity;

/// The config directory is missing or cannot be read.
pub const CONFIG_UNREADABLE: &str = "config-unreadable";
/// The directory holds no `*.yaml`/`*.yml` file.
pub const NO_CONFIG_FILES: &str = "no-config-files";
/// There are principal files but no `licensectl.yaml`.
pub const MISSING_SETTINGS: &str = "missing-settings";
/// A file is not valid UTF-8.
pub const INVALID_ENCODING: &str = "invalid-encoding";
/// The YAML does not parse.
pub const YAML_SYNTAX: &str = "yaml-syntax";
/// The YAML exceeds a safety limit (nesting, aliases, size).
pub const YAML_LIMIT: &str = "yaml-limit";
/// A mapping has the same key twice.
pub const DUPLICATE_KEY: &str = "duplicate-key";
/// A key that the format does not know.
pub const UNKNOWN_FIELD: &str = "unknown-field";
/// A value of the wrong type (a list where a string belongs, ...).
pub const INVALID_TYPE: &str = "invalid-type";
/// A value of the right type that the schema refuses (e.g. a negative number).
pub const INVALID_VALUE: &str = "invalid-value";
/// `version` is missing from `licensectl.yaml`.
pub const MISSING_VERSION: &str = "missing-version";
/// `version` is not one this licensectl reads.
pub const UNSUPPORTED_VERSION: &str = "unsupported-version";
/// A settings key in a file other than `licensectl.yaml`.
pub const SETTINGS_OUTSIDE_ROOT: &str = "settings-outside-root";
/// A user or group declared twice (in one file or two).
pub const DUPLICATE_PRINCIPAL: &str = "duplicate-principal";
/// A user key that is not a userPrincipalName.
pub const INVALID_UPN: &str = "invalid-upn";
/// Something that must be a GUID is not one.
pub const INVALID_GUID: &str = "invalid-guid";
/// A usage location that is not an ISO 3166-1 alpha-2 code.
pub const INVALID_USAGE_LOCATION: &str = "invalid-usage-location";
/// A license entry with both `enabled_plans` and `disabled_plans`.
pub const PLANS_BOTH: &str = "plans-both-enabled-and-disabled";
/// A `profile` that `profiles` does not define.
pub const UNKNOWN_PROFILE: &str = "unknown-profile";
/// The same SKU twice for one principal (after profile expansion), or in one profile.
pub const DUPLICATE_SKU: &str = "duplicate-sku";
/// The same service plan twice in one plan list.
pub const DUPLICATE_PLAN: &str = "duplicate-plan";
/// An empty name (SKU, plan, profile, principal, tenant).
pub const EMPTY_NAME: &str = "empty-name";
/// A safety threshold out of range.
pub const INVALID_SAFETY: &str = "invalid-safety";
/// An invalid `tenant`.
pub const INVALID_TENANT: &str = "invalid-tenant";
/// A protected principal that the config does not declare (warning).
pub const PROTECTED_UNKNOWN: &str = "protected-unknown";
/// A principal with neither `profile` nor `licenses` (warning).
pub const MANAGES_NOTHING: &str = "manages-nothing";
/// A profile no principal uses (warning).
pub const UNUSED_PROFILE: &str = "unused-profile";

/// Every code the loader emits: (code, severity, description).
pub const ALL: &[(&str, Severity, &str)] = &[
    (
        CONFIG_UNREADABLE,
        Severity::Error,
        "the config directory is missing or cannot be read",
    ),
    (
        NO_CONFIG_FILES,
        Severity::Error,
        "the directory holds no *.yaml or *.yml file",
    ),
    (
        MISSING_SETTINGS,
        Severity::Error,
        "principal files but no licensectl.yaml",
    ),
    (
        INVALID_ENCODING,
        Severity::Error,
        "a file is not valid UTF-8",
    ),
    (YAML_SYNTAX, Severity::Error, "the YAML does not parse"),
    (
        YAML_LIMIT,
        Severity::Error,
        "the YAML exceeds a safety limit (nesting depth, aliases, size)",
    ),
    (
        DUPLICATE_KEY,
        Severity::Error,
        "a mapping has the same key twice",
    ),
    (
        UNKNOWN_FIELD,
        Severity::Error,
        "a key the format does not know",
    ),
    (INVALID_TYPE, Severity::Error, "a value of the wrong type"),
    (INVALID_VALUE, Severity::Error, "a value the schema refuses"),
    (
        MISSING_VERSION,
        Severity::Error,
        "licensectl.yaml has no version",
    ),
    (
        UNSUPPORTED_VERSION,
        Severity::Error,
        "a version this licensectl does not read",
    ),
    (
        SETTINGS_OUTSIDE_ROOT,
        Severity::Error,
        "a settings key outside licensectl.yaml",
    ),
    (
        DUPLICATE_PRINCIPAL,
        Severity::Error,
        "a user or group declared twice",
    ),
    (
        INVALID_UPN,
        Severity::Error,
        "a user key that is not a userPrincipalName",
    ),
    (INVALID_GUID, Severity::Error, "a malformed GUID"),
    (
        INVALID_USAGE_LOCATION,
        Severity::Error,
        "not an ISO 3166-1 alpha-2 country code",
    ),
    (
        PLANS_BOTH,
        Severity::Error,
        "a license with both enabled_plans and disabled_plans",
    ),
    (
        UNKNOWN_PROFILE,
        Severity::Error,
        "a profile that is not defined",
    ),
    (
        DUPLICATE_SKU,
        Severity::Error,
        "the same SKU twice for one principal or profile",
    ),
    (
        DUPLICATE_PLAN,
        Severity::Error,
        "the same service plan twice in one list",
    ),
    (EMPTY_NAME, Severity::Error, "an empty name"),
    (
        INVALID_SAFETY,
        Severity::Error,
        "a safety threshold out of range",
    ),
    (
        INVALID_TENANT,
        Severity::Error,
        "a tenant that is neither a domain nor a GUID",
    ),
    (
        PROTECTED_UNKNOWN,
        Severity::Warning,
        "a protected principal the config does not declare",
    ),
    (
        MANAGES_NOTHING,
        Severity::Warning,
        "a principal with neither profile nor licenses",
    ),
    (
        UNUSED_PROFILE,
        Severity::Warning,
        "a profile no principal uses",
    ),
];
