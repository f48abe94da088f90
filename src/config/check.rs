//! Offline semantic checks: parsed files → [`DesiredState`] plus diagnostics.
//!
//! Checks everything that needs no tenant: version, settings placement, GUID syntax,
//! usage locations, UPN shape, profile references, duplicate principals across files,
//! duplicate SKUs and plans. Collects every problem; pure (no I/O).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::codes;
use super::countries;
use super::desired::{
    DesiredGroup, DesiredLicense, DesiredState, DesiredUser, GroupKey, Located, PlanRef,
    PlanSelection, PrincipalRef, Safety, Settings, SkuRef,
};
use super::raw::{RawFile, RawLicense};
use super::schema::closest;
use crate::diagnostic::{Diagnostic, Location};
use crate::ids::{GroupId, ServicePlanId, SkuId};

/// The format version this licensectl reads.
pub const SUPPORTED_VERSION: u64 = 1;

/// A parsed file: its path as diagnostics name it, and whether it is `licensectl.yaml`.
#[derive(Debug)]
pub struct ParsedFile {
    /// Path as diagnostics name it.
    pub path: PathBuf,
    /// True for the settings file at the top of the directory.
    pub is_root: bool,
    /// The content.
    pub raw: RawFile,
}

struct Checker<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

fn at(file: &Path, location: &serde_saphyr::Location) -> Location {
    Location {
        file: file.to_path_buf(),
        line: usize::try_from(location.line())
            .unwrap_or(usize::MAX)
            .max(1),
        column: usize::try_from(location.column())
            .unwrap_or(usize::MAX)
            .max(1),
    }
}

fn located<T>(file: &Path, spanned: &Spanned<T>, value: impl FnOnce(&T) -> T) -> Located<T> {
    Located {
        value: value(&spanned.value),
        location: at(file, &spanned.referenced),
    }
}

/// True for text shaped like a GUID (hex digits and hyphens, 32+ characters), which must
/// then parse as one; anything else is a name.
pub fn looks_like_guid(value: &str) -> bool {
    let inner = value.trim_start_matches('{').trim_end_matches('}');
    inner.len() >= 32
        && inner.contains('-')
        && inner.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Checks a userPrincipalName's shape: `name@domain`, no spaces.
pub fn upn_problem(upn: &str) -> Option<&'static str> {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return Some("it has no '@'");
    };
    if local.is_empty() {
        return Some("nothing comes before the '@'");
    }
    if domain.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Some("the part after the '@' is not a domain");
    }
    if upn.chars().any(char::is_whitespace) {
        return Some("it contains whitespace");
    }
    None
}

/// What to say when a key is seen twice.
struct Duplicate<'a> {
    code: &'static str,
    message: String,
    note: &'a str,
    help: &'a str,
}

impl Checker<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Records `key` at `location`; when `seen` already holds it, reports the duplicate here
    /// with a note at the first place, and returns false.
    fn first_time(
        &mut self,
        seen: &mut HashMap<String, Location>,
        key: String,
        location: &Location,
        duplicate: impl FnOnce() -> Duplicate<'static>,
    ) -> bool {
        match seen.entry(key) {
            Entry::Occupied(first) => {
                let d = duplicate();
                self.push(
                    Diagnostic::error(d.code, d.message)
                        .at(location.clone())
                        .related(first.get().clone(), d.note)
                        .help(d.help),
                );
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(location.clone());
                true
            }
        }
    }

    fn non_empty(&mut self, what: &str, value: &str, location: &Location) -> bool {
        if value.trim().is_empty() {
            self.push(
                Diagnostic::error(codes::EMPTY_NAME, format!("{what} is empty"))
                    .at(location.clone())
                    .help("write a value, or remove the entry"),
            );
            false
        } else {
            true
        }
    }

    fn usage_location(
        &mut self,
        file: &Path,
        owner: &str,
        value: &Spanned<String>,
    ) -> Option<Located<String>> {
        let location = at(file, &value.referenced);
        let code = value.value.as_str();
        if countries::is_alpha2(code) {
            return Some(Located {
                value: code.to_owned(),
                location,
            });
        }
        let help = if let Some((alpha2, name)) = countries::by_alpha2(code) {
            format!("write the code in capitals: '{alpha2}' ({name})")
        } else if let Some((alpha2, name)) = countries::by_alpha3(code) {
            format!("use the two-letter code '{alpha2}' ({name})")
        } else if code.eq_ignore_ascii_case("UK") {
            "the ISO 3166-1 code for the United Kingdom is 'GB'".to_owned()
        } else {
            "use an ISO 3166-1 alpha-2 country code such as US, GB, DE or JP".to_owned()
        };
        self.push(
            Diagnostic::error(
                codes::INVALID_USAGE_LOCATION,
                format!(
                    "usage location '{code}' of {owner} is not an ISO 3166-1 alpha-2 country code"
                ),
            )
            .at(location)
            .help(help),
        );
        None
    }

    fn sku(&mut self, file: &Path, owner: &str, sku: &Spanned<String>) -> Option<Located<SkuRef>> {
        let location = at(file, &sku.referenced);
        let text = sku.value.trim();
        if !self.non_empty(&format!("the sku of a license of {owner}"), text, &location) {
            return None;
        }
        let value = if looks_like_guid(text) {
            match text.parse::<SkuId>() {
                Ok(id) => SkuRef::Id(id),
                Err(error) => {
                    self.push(
                        Diagnostic::error(codes::INVALID_GUID, format!("sku of {owner}: {error}"))
                            .at(location)
                            .help("write the skuId as 8-4-4-4-12 hex digits, or use the skuPartNumber (e.g. SPE_E5)"),
                    );
                    return None;
                }
            }
        } else {
            SkuRef::PartNumber(text.to_owned())
        };
        Some(Located { value, location })
    }

    fn plans(
        &mut self,
        file: &Path,
        owner: &str,
        list: &[Spanned<String>],
    ) -> Option<Vec<Located<PlanRef>>> {
        let mut ok = true;
        let mut out: Vec<Located<PlanRef>> = Vec::with_capacity(list.len());
        let mut seen: HashMap<String, Location> = HashMap::new();
        for plan in list {
            let location = at(file, &plan.referenced);
            let text = plan.value.trim();
            if !self.non_empty(&format!("a service plan of {owner}"), text, &location) {
                ok = false;
                continue;
            }
            let value = if looks_like_guid(text) {
                match text.parse::<ServicePlanId>() {
                    Ok(id) => PlanRef::Id(id),
                    Err(error) => {
                        self.push(
                            Diagnostic::error(codes::INVALID_GUID, format!("service plan of {owner}: {error}"))
                                .at(location)
                                .help("write the servicePlanId as 8-4-4-4-12 hex digits, or use the servicePlanName"),
                        );
                        ok = false;
                        continue;
                    }
                }
            } else {
                PlanRef::Name(text.to_owned())
            };
            let key = match &value {
                PlanRef::Id(id) => id.to_string(),
                PlanRef::Name(name) => name.to_ascii_uppercase(),
            };
            let first = self.first_time(&mut seen, key, &location, || Duplicate {
                code: codes::DUPLICATE_PLAN,
                message: format!("service plan '{text}' is listed twice for {owner}"),
                note: "first listed here",
                help: "remove one of them",
            });
            if first {
                out.push(Located { value, location });
            } else {
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn license(
        &mut self,
        file: &Path,
        owner: &str,
        entry: &Spanned<RawLicense>,
        from_profile: Option<&str>,
    ) -> Option<DesiredLicense> {
        let raw = &entry.value;
        let location = at(file, &entry.referenced);
        let sku = self.sku(file, owner, &raw.sku);
        let sku_name = raw.sku.value.trim();
        let plans = match (&raw.enabled_plans, &raw.disabled_plans) {
            (Some(_), Some(_)) => {
                self.push(
                    Diagnostic::error(
                        codes::PLANS_BOTH,
                        format!("license '{sku_name}' of {owner} has both enabled_plans and disabled_plans"),
                    )
                    .at(location.clone())
                    .help("keep one: enabled_plans (an allowlist: every other plan is off) or disabled_plans (every other plan is on)"),
                );
                None
            }
            (Some(list), None) => self.plans(file, owner, list).map(PlanSelection::Enabled),
            (None, Some(list)) => self.plans(file, owner, list).map(PlanSelection::Disabled),
            (None, None) => Some(PlanSelection::All),
        };
        Some(DesiredLicense {
            sku: sku?,
            plans: plans?,
            from_profile: from_profile.map(str::to_owned),
            location,
        })
    }

    /// Checks a license list: entries and duplicate SKUs. `None` when any entry is broken.
    fn license_list(
        &mut self,
        owner: &str,
        entries: impl Iterator<Item = Option<DesiredLicense>>,
    ) -> Option<Vec<DesiredLicense>> {
        let mut ok = true;
        let mut out: Vec<DesiredLicense> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for entry in entries {
            let Some(license) = entry else {
                ok = false;
                continue;
            };
            let key = match &license.sku.value {
                SkuRef::Id(id) => id.to_string(),
                SkuRef::PartNumber(name) => name.to_ascii_uppercase(),
            };
            match seen.entry(key) {
                Entry::Occupied(first) => {
                    let first = &out[*first.get()];
                    let name = match &license.sku.value {
                        SkuRef::Id(id) => id.to_string(),
                        SkuRef::PartNumber(name) => name.clone(),
                    };
                    let note = match &first.from_profile {
                        Some(profile) => format!("first here, in profile '{profile}'"),
                        None => "first here".to_owned(),
                    };
                    let mut diagnostic = Diagnostic::error(
                        codes::DUPLICATE_SKU,
                        format!("{owner} gets sku '{name}' twice"),
                    )
                    .at(license.sku.location.clone())
                    .related(first.sku.location.clone(), note)
                    .help(
                        "a principal holds each SKU once: keep one entry (merge their plan lists)",
                    );
                    if let Some(profile) = &license.from_profile {
                        diagnostic
                            .message
                            .push_str(&format!(" (again from profile '{profile}')"));
                    }
                    self.push(diagnostic);
                    ok = false;
                }
                Entry::Vacant(slot) => {
                    slot.insert(out.len());
                    out.push(license);
                }
            }
        }
        ok.then_some(out)
    }
}

/// Settings keys that only `licensectl.yaml` may hold, with the location of each present one.
fn settings_keys(raw: &RawFile) -> Vec<(&'static str, &serde_saphyr::Location)> {
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
    keys
}

/// Checks parsed files (root first, then sorted by path) and builds the desired state.
/// Returns `None` for the state when any error was found (in `diagnostics` before or now).
///
/// `complete` is false when some file could not be parsed; warnings that need the whole
/// configuration (unused profiles, undeclared protected principals) are then skipped.
pub fn check(
    files: &[ParsedFile],
    root_path: &Path,
    complete: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DesiredState> {
    let mut c = Checker { diagnostics };
    let root = files.iter().find(|f| f.is_root);

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
    };
    let mut profiles: Vec<(String, Location, Option<Vec<DesiredLicense>>)> = Vec::new();
    let mut protected_raw: Vec<(bool, Located<String>)> = Vec::new();
    if let Some(root) = root {
        let file = root.path.as_path();
        let raw = &root.raw;
        match &raw.version {
            None => c.push(
                Diagnostic::error(
                    codes::MISSING_VERSION,
                    "licensectl.yaml does not say which format version it uses",
                )
                .at(Location {
                    file: file.to_path_buf(),
                    line: 1,
                    column: 1,
                })
                .help("add `version: 1` at the top"),
            ),
            Some(v) if v.value != SUPPORTED_VERSION => c.push(
                Diagnostic::error(
                    codes::UNSUPPORTED_VERSION,
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
                            Diagnostic::error(codes::INVALID_GUID, format!("tenant: {error}"))
                                .at(location.clone()),
                        );
                    }
                } else if !is_domain(text) {
                    c.push(
                        Diagnostic::error(codes::INVALID_TENANT, format!("tenant '{text}' is neither a domain nor a tenant id"))
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
            settings.default_usage_location = c.usage_location(file, "defaults", ul);
        }
        if let Some(safety) = &raw.safety {
            if let Some(max) = &safety.value.max_removals {
                match u32::try_from(max.value) {
                    Ok(n) => settings.safety.max_removals = Some(n),
                    Err(_) => c.push(
                        Diagnostic::error(
                            codes::INVALID_SAFETY,
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
                        Diagnostic::error(
                            codes::INVALID_SAFETY,
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
        if let Some(entries) = &raw.profiles {
            for (name, list) in &entries.value.0 {
                let location = at(file, &name.referenced);
                let owner = format!("profile '{}'", name.value);
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
                            Diagnostic::error(
                                codes::INVALID_UPN,
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

    // Settings outside the root file.
    for file in files.iter().filter(|f| !f.is_root) {
        for (key, location) in settings_keys(&file.raw) {
            c.push(
                Diagnostic::error(
                    codes::SETTINGS_OUTSIDE_ROOT,
                    format!(
                        "'{key}' is a setting, but {} is not licensectl.yaml",
                        file.path.display()
                    ),
                )
                .at(at(&file.path, location))
                .help(format!(
                    "move '{key}' to {}; principal files hold only users and groups",
                    root_path.display()
                )),
            );
        }
    }

    // Principals.
    let mut profile_table = ProfileTable::new(&profiles);
    let mut users: Vec<DesiredUser> = Vec::new();
    let mut groups: Vec<DesiredGroup> = Vec::new();
    let mut seen_users: HashMap<String, Location> = HashMap::new();
    let mut seen_groups: HashMap<String, Location> = HashMap::new();
    let mut users_ok = true;
    for parsed in files {
        let file = parsed.path.as_path();
        for (key, raw) in parsed.raw.users.iter().flat_map(|e| e.0.iter()) {
            let location = at(file, &key.referenced);
            let upn = key.value.trim();
            if !c.non_empty("a user's userPrincipalName", upn, &location) {
                users_ok = false;
                continue;
            }
            if let Some(problem) = upn_problem(upn) {
                c.push(
                    Diagnostic::error(
                        codes::INVALID_UPN,
                        format!("user key '{upn}' is not a userPrincipalName: {problem}"),
                    )
                    .at(location.clone())
                    .help("users are keyed by userPrincipalName, e.g. alice@contoso.com"),
                );
                users_ok = false;
            }
            let owner = format!("user {upn}");
            users_ok &= c.first_time(&mut seen_users, upn.to_lowercase(), &location, || {
                Duplicate {
                    code: codes::DUPLICATE_PRINCIPAL,
                    message: format!("user {upn} is declared twice"),
                    note: "first declared here",
                    help: "userPrincipalNames are compared ignoring case; keep one declaration",
                }
            });
            let usage_location = match &raw.usage_location {
                Some(ul) => {
                    let checked = c.usage_location(file, &owner, ul);
                    users_ok &= checked.is_some();
                    checked
                }
                None => None,
            };
            let licenses = principal_licenses(
                &mut c,
                file,
                &owner,
                &location,
                raw.profile.as_ref(),
                raw.licenses.as_ref(),
                &mut profile_table,
                raw.usage_location.is_some(),
            );
            match licenses {
                Ok(licenses) => users.push(DesiredUser {
                    upn: upn.to_owned(),
                    location,
                    usage_location,
                    licenses,
                }),
                Err(()) => users_ok = false,
            }
        }
        for (key, raw) in parsed.raw.groups.iter().flat_map(|e| e.0.iter()) {
            let location = at(file, &key.referenced);
            let text = key.value.trim();
            if !c.non_empty("a group's name", text, &location) {
                users_ok = false;
                continue;
            }
            let group_key = if looks_like_guid(text) {
                match text.parse::<GroupId>() {
                    Ok(id) => GroupKey::Id(id),
                    Err(error) => {
                        c.push(
                            Diagnostic::error(codes::INVALID_GUID, format!("group key: {error}"))
                                .at(location.clone())
                                .help("write the group's object id as 8-4-4-4-12 hex digits, or use its displayName or mailNickname"),
                        );
                        users_ok = false;
                        continue;
                    }
                }
            } else {
                GroupKey::Name(text.to_owned())
            };
            let owner = format!("group {text}");
            let dedup = match &group_key {
                GroupKey::Id(id) => id.to_string(),
                GroupKey::Name(name) => name.to_lowercase(),
            };
            users_ok &= c.first_time(&mut seen_groups, dedup, &location, || Duplicate {
                code: codes::DUPLICATE_PRINCIPAL,
                message: format!("group {text} is declared twice"),
                note: "first declared here",
                help: "group names are compared ignoring case; keep one declaration",
            });
            let licenses = principal_licenses(
                &mut c,
                file,
                &owner,
                &location,
                raw.profile.as_ref(),
                raw.licenses.as_ref(),
                &mut profile_table,
                false,
            );
            match licenses {
                Ok(licenses) => groups.push(DesiredGroup {
                    key: group_key,
                    location,
                    licenses,
                }),
                Err(()) => users_ok = false,
            }
        }
    }

    // Protected principals and unused profiles.
    let any_group_by_id = groups.iter().any(|g| matches!(g.key, GroupKey::Id(_)));
    let any_group_by_name = groups.iter().any(|g| matches!(g.key, GroupKey::Name(_)));
    for (is_user, item) in protected_raw {
        let declared = if is_user {
            seen_users.contains_key(&item.value.to_lowercase())
        } else if looks_like_guid(&item.value) {
            seen_groups.contains_key(&item.value.to_lowercase()) || any_group_by_name
        } else {
            seen_groups.contains_key(&item.value.to_lowercase()) || any_group_by_id
        };
        if !declared && complete {
            let kind = if is_user { "user" } else { "group" };
            c.push(
                Diagnostic::warning(codes::PROTECTED_UNKNOWN, format!("protected {kind} '{}' is not declared in any file", item.value))
                    .at(item.location.clone())
                    .help("licensectl never touches undeclared principals anyway; check the spelling or remove the entry"),
            );
        }
        settings.protected.push(Located {
            value: if is_user {
                PrincipalRef::User(item.value)
            } else {
                PrincipalRef::Group(item.value)
            },
            location: item.location,
        });
    }
    for ((name, location, _), used) in profiles.iter().zip(&profile_table.used) {
        if !used && complete {
            c.push(
                Diagnostic::warning(
                    codes::UNUSED_PROFILE,
                    format!("profile '{name}' is not used by any user or group"),
                )
                .at(location.clone())
                .help("remove it, or refer to it with `profile:`"),
            );
        }
    }

    let profiles_ok = profiles.iter().all(|p| p.2.is_some());
    if !users_ok || !profiles_ok || c.diagnostics.iter().any(Diagnostic::is_error) {
        return None;
    }
    users.sort_by_cached_key(|u| u.upn.to_lowercase());
    groups.sort_by_cached_key(|g| group_sort_key(&g.key));
    Some(DesiredState {
        settings,
        users,
        groups,
    })
}

fn group_sort_key(key: &GroupKey) -> String {
    match key {
        GroupKey::Id(id) => id.to_string(),
        GroupKey::Name(name) => name.to_lowercase(),
    }
}

/// True for a DNS name such as `contoso.onmicrosoft.com`: dot-separated labels of ASCII
/// letters, digits and hyphens.
pub fn is_domain(text: &str) -> bool {
    text.contains('.')
        && !text.starts_with('.')
        && !text.ends_with('.')
        && text.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A principal's expanded license list: `Ok(None)` when unmanaged, `Err` after a diagnostic.
/// A profile as checked: name, where it is defined, and its licenses (`None` when broken).
type CheckedProfile = (String, Location, Option<Vec<DesiredLicense>>);

/// The checked profiles, looked up by name, with a mark for each one a principal uses.
struct ProfileTable<'a> {
    list: &'a [CheckedProfile],
    index: HashMap<&'a str, usize>,
    used: Vec<bool>,
}

impl<'a> ProfileTable<'a> {
    fn new(list: &'a [CheckedProfile]) -> Self {
        Self {
            list,
            index: list
                .iter()
                .enumerate()
                .map(|(i, p)| (p.0.as_str(), i))
                .collect(),
            used: vec![false; list.len()],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn principal_licenses(
    c: &mut Checker<'_>,
    file: &Path,
    owner: &str,
    location: &Location,
    profile: Option<&Spanned<String>>,
    licenses: Option<&Spanned<Vec<Spanned<RawLicense>>>>,
    profiles: &mut ProfileTable<'_>,
    has_usage_location: bool,
) -> Result<Option<Vec<DesiredLicense>>, ()> {
    if profile.is_none() && licenses.is_none() {
        let what = if has_usage_location {
            "manages only its usage location"
        } else {
            "manages nothing"
        };
        c.push(
            Diagnostic::warning(codes::MANAGES_NOTHING, format!("{owner} has neither `profile` nor `licenses`, so licensectl {what}"))
                .at(location.clone())
                .help("add `licenses: []` to remove every direct license, or a profile or licenses to assign"),
        );
        return Ok(None);
    }
    let mut ok = true;
    let mut expanded: Vec<Option<DesiredLicense>> = Vec::new();
    if let Some(name) = profile {
        let profile_location = at(file, &name.referenced);
        match profiles.index.get(name.value.as_str()) {
            Some(&i) => {
                profiles.used[i] = true;
                match &profiles.list[i].2 {
                    Some(list) => expanded.extend(list.iter().cloned().map(Some)),
                    None => ok = false,
                }
            }
            None => {
                let help = match closest(&name.value, profiles.list.iter().map(|p| p.0.as_str())) {
                    Some(best) => format!("did you mean '{best}'?"),
                    None if profiles.list.is_empty() => {
                        "define it under `profiles:` in licensectl.yaml".to_owned()
                    }
                    None => format!(
                        "defined profiles: {}",
                        profiles
                            .list
                            .iter()
                            .map(|p| p.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                c.push(
                    Diagnostic::error(
                        codes::UNKNOWN_PROFILE,
                        format!(
                            "{owner} uses profile '{}', which is not defined",
                            name.value
                        ),
                    )
                    .at(profile_location)
                    .help(help),
                );
                ok = false;
            }
        }
    }
    if let Some(list) = licenses {
        for entry in &list.value {
            expanded.push(c.license(file, owner, entry, None));
        }
    }
    let list = c.license_list(owner, expanded.into_iter());
    match list {
        Some(list) if ok => Ok(Some(list)),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shapes() {
        for (text, guid_like) in [
            ("6fd2c87f-b296-42f0-b197-1e91e994b900", true),
            ("{6fd2c87f-b296-42f0-b197-1e91e994b900}", true),
            ("6fd2c87f-b296-42f0-b197-1e91e994b90", true),
            ("6fd2c87f-b296-42f0-b197-1e91e994b9zz", false),
            ("SPE_E5", false),
            ("DEVELOPERPACK_E5", false),
            ("Microsoft_365_E5_(no_Teams)", false),
        ] {
            assert_eq!(looks_like_guid(text), guid_like, "{text}");
        }
    }

    #[test]
    fn upn_shapes() {
        for (text, ok) in [
            ("alice@contoso.com", true),
            ("john_gmail.com#EXT#@contoso.onmicrosoft.com", true),
            ("alice", false),
            ("@contoso.com", false),
            ("alice@", false),
            ("alice@contoso", false),
            ("al ice@contoso.com", false),
            ("alice@.com", false),
        ] {
            assert_eq!(upn_problem(text).is_none(), ok, "{text}");
        }
    }

    #[test]
    fn domains() {
        for (text, ok) in [
            ("contoso.onmicrosoft.com", true),
            ("contoso", false),
            ("contoso..com", false),
            ("con toso.com", false),
        ] {
            assert_eq!(is_domain(text), ok, "{text}");
        }
    }
}
