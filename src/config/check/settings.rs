//! The settings file, `licensectl.yaml`: version, tenant, defaults, safety, profiles,
//! protected principals and the rules scope, checked into a [`Root`] that every file's principals are then
//! checked against. Pure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::values::{is_domain, looks_like_guid, upn_problem};
use super::{Checker, Owner, ParsedFile, at, located};
use crate::config::desired::{DesiredLicense, Located, RuleScope, Safety, Settings};
use crate::config::raw::RawFile;
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};

/// The format version this licensectl reads.
pub(crate) const SUPPORTED_VERSION: u64 = 1;

/// A profile as checked: name, where it is defined, and its licenses (`None` when broken).
pub(super) type CheckedProfile = (String, Location, Option<Vec<DesiredLicense>>);

/// Settings keys that only `licensectl.yaml` may hold, with the location of each present one.
pub(super) fn settings_keys(raw: &RawFile) -> Vec<(&'static str, &serde_saphyr::Location)> {
    let mut keys = Vec::new();
    if let Some(v) = &raw.version {
        keys.push(("version", &v.referenced));
    }
    if let Some(v) = &raw.tenant {
        keys.push(("tenant", &v.referenced));
    }
    if let Some(v) = &raw.defaults {
        keys.push(("defaults", &v.referenced));
    }
    if let Some(v) = &raw.safety {
        keys.push(("safety", &v.referenced));
    }
    if let Some(v) = &raw.profiles {
        keys.push(("profiles", &v.referenced));
    }
    if let Some(v) = &raw.protected {
        keys.push(("protected", &v.referenced));
    }
    if let Some(v) = &raw.migrate_to_groups {
        keys.push(("migrate_to_groups", &v.referenced));
    }
    if let Some(v) = &raw.prices {
        keys.push(("prices", &v.referenced));
    }
    if let Some(v) = &raw.rules_scope {
        keys.push(("rules_scope", &v.referenced));
    }
    keys
}

/// What the settings file holds, checked: what every file's principals are checked
/// against.
#[derive(Debug)]
pub(crate) struct Root {
    pub(super) settings: Settings,
    pub(super) profiles: Vec<CheckedProfile>,
    pub(super) protected: Vec<(bool, Located<String>)>,
    pub(super) root_path: PathBuf,
    /// False when `rules_scope` had a problem (reported).
    pub(super) rules_scope_ok: bool,
}

/// Checks the settings file (`None` when it is missing or did not parse): version,
/// tenant, defaults, safety, profiles and protected principals. Its principals are
/// checked by [`super::check_principals`] like every other file's.
pub(crate) fn check_root(
    root: Option<&ParsedFile>,
    root_path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Root {
    let mut c = Checker { diagnostics };

    // Settings.
    let mut settings = Settings {
        version: 1,
        tenant: None,
        default_usage_location: None,
        safety: Safety {
            max_removals: None,
            max_change_percent: None,
        },
        protected: Vec::new(),
        migrate_to_groups: None,
        prices: Vec::new(),
        rules_scope: RuleScope::default(),
    };
    let mut rules_scope_ok = true;
    let mut profiles: Vec<(String, Location, Option<Vec<DesiredLicense>>)> = Vec::new();
    let mut protected_raw: Vec<(bool, Located<String>)> = Vec::new();
    if let Some(root) = root {
        let file = &root.path;
        let raw = &root.raw;
        match &raw.version {
            None => c.push(
                Diagnostic::new(
                    DiagnosticCode::MissingVersion,
                    "licensectl.yaml does not say which format version it uses",
                )
                .at(Location {
                    file: Arc::clone(file),
                    line: 1,
                    column: 1,
                })
                .help("add `version: 1` at the top"),
            ),
            Some(v) if v.value != SUPPORTED_VERSION => c.push(
                Diagnostic::new(
                    DiagnosticCode::UnsupportedVersion,
                    format!("format version {} is not supported", v.value),
                )
                .at(at(file, &v.referenced))
                .help(format!(
                    "this licensectl reads `version: {SUPPORTED_VERSION}`"
                )),
            ),
            Some(_) => {}
        }
        if let Some(tenant) = &raw.tenant {
            let location = at(file, &tenant.referenced);
            let text = tenant.value.trim();
            if c.non_empty("the tenant", text, &location) {
                if looks_like_guid(text) {
                    if let Err(error) = crate::ids::parse_guid(text) {
                        c.push(
                            Diagnostic::new(
                                DiagnosticCode::InvalidGuid,
                                format!("tenant: {error}"),
                            )
                            .at(location.clone()),
                        );
                    }
                } else if !is_domain(text) {
                    c.push(
                        Diagnostic::new(DiagnosticCode::InvalidTenant, format!("tenant '{text}' is neither a domain nor a tenant id"))
                            .at(location.clone())
                            .help("write the tenant's initial domain (contoso.onmicrosoft.com) or its tenant id GUID"),
                    );
                }
                settings.tenant = Some(Located {
                    value: text.to_owned(),
                    location,
                });
            }
        }
        if let Some(defaults) = &raw.defaults
            && let Some(ul) = &defaults.value.usage_location
        {
            settings.default_usage_location = c.usage_location(file, &Owner::Defaults, ul);
        }
        if let Some(safety) = &raw.safety {
            if let Some(max) = &safety.value.max_removals {
                match u32::try_from(max.value) {
                    Ok(n) => settings.safety.max_removals = Some(n),
                    Err(_) => c.push(
                        Diagnostic::new(
                            DiagnosticCode::InvalidSafety,
                            format!("safety.max_removals {} is too large", max.value),
                        )
                        .at(at(file, &max.referenced))
                        .help(format!("use a number from 0 to {}", u32::MAX)),
                    ),
                }
            }
            if let Some(pct) = &safety.value.max_change_percent {
                if pct.value.is_finite() && (0.0..=100.0).contains(&pct.value) {
                    settings.safety.max_change_percent = Some(pct.value);
                } else {
                    c.push(
                        Diagnostic::new(
                            DiagnosticCode::InvalidSafety,
                            format!(
                                "safety.max_change_percent {} is not a percentage",
                                pct.value
                            ),
                        )
                        .at(at(file, &pct.referenced))
                        .help("use a number from 0 to 100"),
                    );
                }
            }
        }
        super::operations::check(&mut c, file, raw, &mut settings);
        if let Some(entries) = &raw.profiles {
            for (name, list) in &entries.value.0 {
                let location = at(file, &name.referenced);
                let owner = Owner::Profile(&name.value);
                if !c.non_empty("a profile name", &name.value, &location) {
                    continue;
                }
                let licenses: Vec<Option<DesiredLicense>> = list
                    .iter()
                    .map(|entry| c.license(file, &owner, entry, Some(&name.value)))
                    .collect();
                let licenses = c.license_list(&owner, licenses.into_iter());
                profiles.push((name.value.clone(), location, licenses));
            }
        }
        if let Some(scope) = &raw.rules_scope {
            match c.rules_scope(file, scope) {
                Some(scope) => settings.rules_scope = scope,
                None => rules_scope_ok = false,
            }
        }
        if let Some(protected) = &raw.protected {
            for (is_user, list) in [
                (true, &protected.value.users),
                (false, &protected.value.groups),
            ] {
                for item in list.iter().flatten() {
                    let item = located(file, item, |v| v.trim().to_owned());
                    let what = if is_user {
                        "a protected user"
                    } else {
                        "a protected group"
                    };
                    if !c.non_empty(what, &item.value, &item.location) {
                        continue;
                    }
                    if is_user && let Some(problem) = upn_problem(&item.value) {
                        c.push(
                            Diagnostic::new(
                                DiagnosticCode::InvalidUpn,
                                format!(
                                    "protected user '{}' is not a userPrincipalName: {problem}",
                                    item.value
                                ),
                            )
                            .at(item.location.clone())
                            .help("write the user's userPrincipalName, e.g. alice@contoso.com"),
                        );
                        continue;
                    }
                    protected_raw.push((is_user, item));
                }
            }
        }
    }
    Root {
        settings,
        profiles,
        protected: protected_raw,
        root_path: root_path.to_path_buf(),
        rules_scope_ok,
    }
}
