//! The diagnostic codes of the whole product, as one enum: [`DiagnosticCode`].
//!
//! Each code has a stable kebab-case string (an output contract: `error[code]` headers,
//! the JSON `code` field and GitHub annotation titles show it, and scripts match on it),
//! a fixed severity, the stages that emit it, a one-line description, and the docs page
//! whose section (headed by the code, so the URL fragment is the code itself) explains it.
//!
//! The table in this file is the only list: the enum, [`DiagnosticCode::ALL`] and every
//! lookup are generated from it, so a code cannot be left out of `ALL` or lack a string.
//! Tests check that every code is documented, and that every code is produced by a broken
//! config under `tests/fixtures/` ([`Stage::Config`]) or by the producing unit tests of the
//! planner ([`Stage::Plan`]) and the exporter ([`Stage::Export`]). Pure data; no I/O.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Severity;

/// Which stage of the pipeline emits a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Loading and checking a config directory (`config`, `licensectl validate`).
    Config,
    /// Resolving the desired state against a tenant and planning (`plan`, `drift`).
    Plan,
    /// Writing a tenant out as a config directory (`export`).
    Export,
}

/// Generates [`DiagnosticCode`] and its lookups from one row per code:
/// `Variant = "string", Severity, [stages], "docs page", "description";`.
macro_rules! diagnostic_codes {
    ($(
        $variant:ident = $code:literal, $severity:ident, [$($stage:ident),+], $docs:literal,
            $description:literal;
    )+) => {
        /// A stable diagnostic code. Serializes (and displays) as its kebab-case string;
        /// ordered by that string, so sorted output stays alphabetical.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum DiagnosticCode {
            $(
                #[doc = concat!("`", $code, "`: ", $description, ".")]
                $variant,
            )+
        }

        impl DiagnosticCode {
            /// Every code, in the order of the table.
            pub const ALL: &[DiagnosticCode] = &[$(DiagnosticCode::$variant),+];

            /// The stable kebab-case string, e.g. `duplicate-principal`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $code,)+
                }
            }

            /// How bad a diagnostic with this code is; every code has one severity.
            pub const fn severity(self) -> Severity {
                match self {
                    $(DiagnosticCode::$variant => Severity::$severity,)+
                }
            }

            /// The stages that emit this code.
            pub const fn stages(self) -> &'static [Stage] {
                match self {
                    $(DiagnosticCode::$variant => &[$(Stage::$stage),+],)+
                }
            }

            /// What the code means, in one lowercase line.
            pub const fn description(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $description,)+
                }
            }

            /// The docs page (relative to the repository root) with this code's section.
            pub const fn docs_page(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $docs,)+
                }
            }
        }
    };
}

diagnostic_codes! {
    // Loading and checking a config directory: docs/config.md, "Diagnostic codes".
    ConfigUnreadable = "config-unreadable", Error, [Config], "docs/config.md",
        "the config directory is missing or cannot be read";
    NoConfigFiles = "no-config-files", Error, [Config], "docs/config.md",
        "the directory holds no *.yaml or *.yml file";
    MissingSettings = "missing-settings", Error, [Config], "docs/config.md",
        "principal files but no licensectl.yaml";
    NotARegularFile = "not-a-regular-file", Error, [Config], "docs/config.md",
        "a symbolic link, FIFO or device named like a config file (never read)";
    InvalidEncoding = "invalid-encoding", Error, [Config], "docs/config.md",
        "a file is not valid UTF-8";
    YamlSyntax = "yaml-syntax", Error, [Config], "docs/config.md",
        "the YAML does not parse";
    YamlLimit = "yaml-limit", Error, [Config], "docs/config.md",
        "the YAML exceeds a safety limit (nesting depth, aliases, size)";
    DuplicateKey = "duplicate-key", Error, [Config], "docs/config.md",
        "a mapping has the same key twice";
    UnknownField = "unknown-field", Error, [Config], "docs/config.md",
        "a key the format does not know";
    InvalidType = "invalid-type", Error, [Config], "docs/config.md",
        "a value of the wrong type";
    InvalidValue = "invalid-value", Error, [Config], "docs/config.md",
        "a value the schema refuses";
    MissingVersion = "missing-version", Error, [Config], "docs/config.md",
        "licensectl.yaml has no version";
    UnsupportedVersion = "unsupported-version", Error, [Config], "docs/config.md",
        "a version this licensectl does not read";
    SettingsOutsideRoot = "settings-outside-root", Error, [Config], "docs/config.md",
        "a settings key outside licensectl.yaml";
    DuplicatePrincipal = "duplicate-principal", Error, [Config, Plan], "docs/config.md",
        "a user or group declared twice";
    InvalidUpn = "invalid-upn", Error, [Config], "docs/config.md",
        "a user key that is not a userPrincipalName";
    InvalidGuid = "invalid-guid", Error, [Config], "docs/config.md",
        "a malformed GUID";
    InvalidUsageLocation = "invalid-usage-location", Error, [Config], "docs/config.md",
        "not an ISO 3166-1 alpha-2 country code";
    PlansBothEnabledAndDisabled = "plans-both-enabled-and-disabled", Error, [Config],
        "docs/config.md", "a license with both enabled_plans and disabled_plans";
    UnknownProfile = "unknown-profile", Error, [Config], "docs/config.md",
        "a profile that is not defined";
    DuplicateSku = "duplicate-sku", Error, [Config, Plan], "docs/config.md",
        "the same SKU twice for one principal or profile";
    DuplicatePlan = "duplicate-plan", Error, [Config], "docs/config.md",
        "the same service plan twice in one list";
    ControlCharacter = "control-character", Error, [Config], "docs/config.md",
        "a name or value holds a control or bidirectional formatting character";
    EmptyName = "empty-name", Error, [Config], "docs/config.md",
        "an empty name";
    InvalidSafety = "invalid-safety", Error, [Config], "docs/config.md",
        "a safety threshold out of range";
    InvalidTenant = "invalid-tenant", Error, [Config], "docs/config.md",
        "a tenant that is neither a domain nor a GUID";
    ProtectedUnknown = "protected-unknown", Warning, [Config], "docs/config.md",
        "a protected principal the config does not declare";
    ManagesNothing = "manages-nothing", Warning, [Config], "docs/config.md",
        "a principal with neither profile nor licenses";
    UnusedProfile = "unused-profile", Warning, [Config], "docs/config.md",
        "a profile no principal uses";
    MigrationWithoutGroups = "migration-without-groups", Warning, [Config], "docs/config.md",
        "migrate_to_groups is set but no group is declared with licenses";
    DuplicateRule = "duplicate-rule", Error, [Config], "docs/config.md",
        "two rules with the same name";
    RuleGrantsNothing = "rule-grants-nothing", Error, [Config], "docs/config.md",
        "a rule with neither licenses nor profile";
    InvalidCondition = "invalid-condition", Error, [Config], "docs/config.md",
        "a rule condition that is empty or missing";

    // Resolving names against the tenant and planning: docs/plan.md, "Diagnostic codes".
    UnknownSku = "unknown-sku", Error, [Plan], "docs/plan.md",
        "the tenant has no subscription with that part number or id";
    UnknownServicePlan = "unknown-service-plan", Error, [Plan], "docs/plan.md",
        "the service plan is not part of that SKU";
    CompanySku = "company-sku", Error, [Plan], "docs/plan.md",
        "the SKU applies to the company, not to users";
    SkuUnavailable = "sku-unavailable", Error, [Plan], "docs/plan.md",
        "the subscription is suspended, locked out or deleted";
    UnknownUser = "unknown-user", Error, [Plan], "docs/plan.md",
        "no user has that userPrincipalName";
    UnknownGroup = "unknown-group", Error, [Plan], "docs/plan.md",
        "no group has that object id, displayName or mailNickname";
    AmbiguousGroup = "ambiguous-group", Error, [Plan], "docs/plan.md",
        "several groups have that displayName or mailNickname";
    GroupNotSecurityEnabled = "group-not-security-enabled", Error, [Plan], "docs/plan.md",
        "a group with licenses is not security-enabled";
    TenantMismatch = "tenant-mismatch", Error, [Plan], "docs/plan.md",
        "the snapshot is of another tenant than the pinned one";
    TenantUnverified = "tenant-unverified", Error, [Plan], "docs/plan.md",
        "the pinned tenant cannot be checked against the snapshot";
    UsageLocationMissing = "usage-location-missing", Error, [Plan], "docs/plan.md",
        "a user gains a license but no usage location is known";
    SeatsExhausted = "seats-exhausted", Error, [Plan], "docs/plan.md",
        "the plan needs more seats of a SKU than are free";
    SkuExpiring = "sku-expiring", Warning, [Plan], "docs/plan.md",
        "the plan adds seats of a subscription in its grace period";
    SeatsInGrace = "seats-in-grace", Warning, [Plan], "docs/plan.md",
        "the plan relies on seats in their grace period, which Graph may refuse";
    GraceUnitsLapse = "grace-units-lapse", Warning, [Plan], "docs/plan.md",
        "a SKU the plan touches has units in their grace period, which lapse unless renewed";
    InvalidSeatCounts = "invalid-seat-counts", Error, [Plan], "docs/plan.md",
        "a SKU the plan touches reports impossible (negative) seat counts";
    DependencyUnmet = "dependency-unmet", Error, [Plan], "docs/plan.md",
        "a user would keep a service plan without the plan it depends on";
    GroupDependencyUnmet = "group-dependency-unmet", Error, [Plan], "docs/plan.md",
        "a group would assign a service plan without its prerequisite in the same group";
    UnknownSkuStatus = "unknown-sku-status", Warning, [Plan], "docs/plan.md",
        "a SKU the plan touches has a capabilityStatus this licensectl does not know";
    SeatsExpire = "seats-expire", Warning, [Plan], "docs/plan.md",
        "the seats in use after the plan exceed what remains after the next lifecycle date";
    PriceUnknownSku = "price-unknown-sku", Warning, [Plan], "docs/plan.md",
        "prices names a SKU the tenant has no subscription to";
    RuleMatchesNobody = "rule-matches-nobody", Warning, [Plan], "docs/plan.md",
        "no user in rules_scope matches a rule";
    ActivityUnavailable = "activity-unavailable", Warning, [Plan], "docs/plan.md",
        "a rule compares inactive_days or disabled_days the tenant state cannot count";
    NeverSignedIn = "never-signed-in", Warning, [Plan], "docs/plan.md",
        "users in rules_scope never signed in (inactive_days holds for none of them)";

    // Exporting a tenant: docs/export.md, "What is left out, and why".
    ExportSkippedUser = "export-skipped-user", Warning, [Export], "docs/export.md",
        "a user is left out of the export";
    ExportSkippedGroup = "export-skipped-group", Warning, [Export], "docs/export.md",
        "a group is left out of the export";
    ExportUsageLocationDropped = "export-usage-location-dropped", Warning, [Export],
        "docs/export.md", "a user's usage location is not written";
}

impl DiagnosticCode {
    /// The URL fragment of the code's section in [`Self::docs_page`]: every section is
    /// headed by its code in backticks, so the fragment is the code itself.
    pub const fn docs_anchor(self) -> &'static str {
        self.as_str()
    }

    /// The codes a stage emits, in table order.
    pub fn of_stage(stage: Stage) -> impl Iterator<Item = DiagnosticCode> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |code| code.stages().contains(&stage))
    }
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DiagnosticCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Reads the kebab-case string back (plan JSON read by `licensectl comment`).
impl<'de> Deserialize<'de> for DiagnosticCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DiagnosticCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code `{text}`")))
    }
}

impl PartialOrd for DiagnosticCode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DiagnosticCode {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_strings() {
        let mut seen = HashSet::new();
        for code in DiagnosticCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                !text.is_empty()
                    && !text.starts_with('-')
                    && !text.ends_with('-')
                    && !text.contains("--")
                    && text.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{text} is not kebab-case"
            );
            assert_eq!(code.to_string(), text);
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(text.to_owned()))
            );
        }
    }

    #[test]
    fn descriptions_are_one_lowercase_line_and_docs_pages_are_markdown() {
        for code in DiagnosticCode::ALL {
            let description = code.description();
            assert!(
                !description.is_empty()
                    && !description.contains('\n')
                    && !description.ends_with('.')
                    && !description.starts_with(|c: char| c.is_ascii_uppercase()),
                "{code}: {description:?}"
            );
            assert!(
                code.docs_page().starts_with("docs/") && code.docs_page().ends_with(".md"),
                "{code}"
            );
        }
    }

    #[test]
    fn codes_order_by_their_string() {
        let mut sorted = DiagnosticCode::ALL.to_vec();
        sorted.sort();
        let texts: Vec<&str> = sorted.iter().map(|c| c.as_str()).collect();
        let mut expected = texts.clone();
        expected.sort_unstable();
        assert_eq!(texts, expected);
    }

    #[test]
    fn export_codes_are_warnings() {
        for code in DiagnosticCode::of_stage(Stage::Export) {
            assert_eq!(code.severity(), Severity::Warning, "{code}");
        }
    }
}
