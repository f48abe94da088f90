//! Offline semantic checks: parsed files → [`DesiredState`] plus diagnostics.
//!
//! Checks everything that needs no tenant: version, settings placement, GUID syntax,
//! usage locations, UPN shape, profile references, duplicate principals across files,
//! duplicate SKUs and plans. Collects every problem; pure (no I/O).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::countries;
use super::desired::{
    DesiredGroup, DesiredLicense, DesiredState, DesiredUser, GroupKey, Located, PlanRef,
    PlanSelection, PrincipalRef, Safety, Settings, SkuRef,
};
use super::raw::{RawFile, RawLicense};
use super::schema::closest;
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};
use crate::ids::{GroupId, ServicePlanId, SkuId};

/// The format version this licensectl reads.
pub const SUPPORTED_VERSION: u64 = 1;

/// A parsed file: its path as diagnostics name it, and whether it is `licensectl.yaml`.
#[derive(Debug)]
pub struct ParsedFile {
    /// Path as diagnostics name it.
    pub path: Arc<Path>,
    /// True for the settings file at the top of the directory.
    pub is_root: bool,
    /// The content.
    pub raw: RawFile,
}

struct Checker<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

fn at(file: &Arc<Path>, location: &serde_saphyr::Location) -> Location {
    Location {
        file: Arc::clone(file),
        line: usize::try_from(location.line())
            .unwrap_or(usize::MAX)
            .max(1),
        column: usize::try_from(location.column())
            .unwrap_or(usize::MAX)
            .max(1),
    }
}

fn located<T>(file: &Arc<Path>, spanned: &Spanned<T>, value: impl FnOnce(&T) -> T) -> Located<T> {
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

/// True when two SKU references name the same SKU as written (part numbers ignore case).
fn same_sku(a: &SkuRef, b: &SkuRef) -> bool {
    match (a, b) {
        (SkuRef::Id(a), SkuRef::Id(b)) => a == b,
        (SkuRef::PartNumber(a), SkuRef::PartNumber(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// True when two service plan references name the same plan as written (names ignore case).
fn same_plan(a: &PlanRef, b: &PlanRef) -> bool {
    match (a, b) {
        (PlanRef::Id(a), PlanRef::Id(b)) => a == b,
        (PlanRef::Name(a), PlanRef::Name(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Whose value a diagnostic is about; formatted only when a diagnostic is made.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    User(&'a str),
    Group(&'a str),
    Profile(&'a str),
    Defaults,
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::User(upn) => write!(f, "user {upn}"),
            Owner::Group(name) => write!(f, "group {name}"),
            Owner::Profile(name) => write!(f, "profile '{name}'"),
            Owner::Defaults => f.write_str("defaults"),
        }
    }
}

impl Checker<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn non_empty(&mut self, what: impl fmt::Display, value: &str, location: &Location) -> bool {
        if value.trim().is_empty() {
            self.push(
                Diagnostic::new(DiagnosticCode::EmptyName, format!("{what} is empty"))
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
        file: &Arc<Path>,
        owner: &Owner<'_>,
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
            Diagnostic::new(
                DiagnosticCode::InvalidUsageLocation,
                format!(
                    "usage location '{code}' of {owner} is not an ISO 3166-1 alpha-2 country code"
                ),
            )
            .at(location)
            .help(help),
        );
        None
    }

    fn sku(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
        sku: &Spanned<String>,
    ) -> Option<Located<SkuRef>> {
        let location = at(file, &sku.referenced);
        let text = sku.value.trim();
        if !self.non_empty(
            format_args!("the sku of a license of {owner}"),
            text,
            &location,
        ) {
            return None;
        }
        let value = if looks_like_guid(text) {
            match text.parse::<SkuId>() {
                Ok(id) => SkuRef::Id(id),
                Err(error) => {
                    self.push(
                        Diagnostic::new(DiagnosticCode::InvalidGuid, format!("sku of {owner}: {error}"))
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
        file: &Arc<Path>,
        owner: &Owner<'_>,
        list: &[Spanned<String>],
    ) -> Option<Vec<Located<PlanRef>>> {
        let mut ok = true;
        let mut out: Vec<Located<PlanRef>> = Vec::with_capacity(list.len());
        for plan in list {
            let location = at(file, &plan.referenced);
            let text = plan.value.trim();
            if !self.non_empty(format_args!("a service plan of {owner}"), text, &location) {
                ok = false;
                continue;
            }
            let value = if looks_like_guid(text) {
                match text.parse::<ServicePlanId>() {
                    Ok(id) => PlanRef::Id(id),
                    Err(error) => {
                        self.push(
                            Diagnostic::new(DiagnosticCode::InvalidGuid, format!("service plan of {owner}: {error}"))
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
            // Plan lists are short: a scan costs less than hashing.
            match out.iter().find(|seen| same_plan(&seen.value, &value)) {
                Some(first) => {
                    self.push(
                        Diagnostic::new(
                            DiagnosticCode::DuplicatePlan,
                            format!("service plan '{text}' is listed twice for {owner}"),
                        )
                        .at(location)
                        .related(first.location.clone(), "first listed here")
                        .help("remove one of them"),
                    );
                    ok = false;
                }
                None => out.push(Located { value, location }),
            }
        }
        ok.then_some(out)
    }

    fn license(
        &mut self,
        file: &Arc<Path>,
        owner: &Owner<'_>,
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
                    Diagnostic::new(
                        DiagnosticCode::PlansBothEnabledAndDisabled,
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
        owner: &Owner<'_>,
        entries: impl Iterator<Item = Option<DesiredLicense>>,
    ) -> Option<Vec<DesiredLicense>> {
        let mut ok = true;
        let mut out: Vec<DesiredLicense> = Vec::new();
        for entry in entries {
            let Some(license) = entry else {
                ok = false;
                continue;
            };
            // License lists are short: a scan costs less than hashing.
            match out
                .iter()
                .find(|seen| same_sku(&seen.sku.value, &license.sku.value))
            {
                Some(first) => {
                    let name = match &license.sku.value {
                        SkuRef::Id(id) => id.to_string(),
                        SkuRef::PartNumber(name) => name.clone(),
                    };
                    let note = match &first.from_profile {
                        Some(profile) => format!("first here, in profile '{profile}'"),
                        None => "first here".to_owned(),
                    };
                    let mut diagnostic = Diagnostic::new(
                        DiagnosticCode::DuplicateSku,
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
                None => out.push(license),
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

/// What the settings file holds, checked: what every file's principals are checked
/// against.
#[derive(Debug)]
pub struct Root {
    settings: Settings,
    profiles: Vec<CheckedProfile>,
    protected: Vec<(bool, Located<String>)>,
    root_path: PathBuf,
}

/// Checks the settings file (`None` when it is missing or did not parse): version,
/// tenant, defaults, safety, profiles and protected principals. Its principals are
/// checked by [`check_principals`] like every other file's.
pub fn check_root(
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
    };
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
    }
}

/// A principal as one file declares it: its key for duplicates (lowercase UPN, group id or
/// lowercase name), where, and the checked principal or, when it is broken, its name.
#[derive(Debug)]
struct Declared<T> {
    key: String,
    location: Location,
    value: Result<T, String>,
}

/// One file's principals, checked on their own (duplicates across files are found when
/// the files are combined).
#[derive(Debug)]
pub struct FilePrincipals {
    users: Vec<Declared<DesiredUser>>,
    groups: Vec<Declared<DesiredGroup>>,
    /// Which of the root's profiles this file uses.
    used: Vec<bool>,
    /// False when some principal was skipped for a problem reported in `diagnostics`.
    ok: bool,
    diagnostics: Vec<Diagnostic>,
}

/// Checks one file's users and groups against the root's settings and profiles; for a
/// file other than `licensectl.yaml`, also reports settings it must not hold. Pure; files
/// can be checked in parallel.
pub fn check_principals(parsed: &ParsedFile, root: &Root) -> FilePrincipals {
    let mut diagnostics = Vec::new();
    let mut c = Checker {
        diagnostics: &mut diagnostics,
    };
    if !parsed.is_root {
        for (key, location) in settings_keys(&parsed.raw) {
            c.push(
                Diagnostic::new(
                    DiagnosticCode::SettingsOutsideRoot,
                    format!(
                        "'{key}' is a setting, but {} is not licensectl.yaml",
                        parsed.path.display()
                    ),
                )
                .at(at(&parsed.path, location))
                .help(format!(
                    "move '{key}' to {}; principal files hold only users and groups",
                    root.root_path.display()
                )),
            );
        }
    }
    let mut profile_table = ProfileTable::new(&root.profiles);
    let mut users: Vec<Declared<DesiredUser>> =
        Vec::with_capacity(parsed.raw.users.as_ref().map_or(0, |u| u.0.len()));
    let mut groups: Vec<Declared<DesiredGroup>> = Vec::new();
    let mut users_ok = true;
    {
        let file = &parsed.path;
        for (key, raw) in parsed.raw.users.iter().flat_map(|e| e.0.iter()) {
            let location = at(file, &key.referenced);
            let upn = key.value.trim();
            if !c.non_empty("a user's userPrincipalName", upn, &location) {
                users_ok = false;
                continue;
            }
            if let Some(problem) = upn_problem(upn) {
                c.push(
                    Diagnostic::new(
                        DiagnosticCode::InvalidUpn,
                        format!("user key '{upn}' is not a userPrincipalName: {problem}"),
                    )
                    .at(location.clone())
                    .help("users are keyed by userPrincipalName, e.g. alice@contoso.com"),
                );
                users_ok = false;
            }
            let owner = Owner::User(upn);
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
            let value = match licenses {
                Ok(licenses) => Ok(DesiredUser {
                    upn: upn.to_owned(),
                    location: location.clone(),
                    usage_location,
                    licenses,
                }),
                Err(()) => {
                    users_ok = false;
                    Err(upn.to_owned())
                }
            };
            users.push(Declared {
                key: upn.to_lowercase(),
                location,
                value,
            });
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
                            Diagnostic::new(DiagnosticCode::InvalidGuid, format!("group key: {error}"))
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
            let owner = Owner::Group(text);
            let dedup = match &group_key {
                GroupKey::Id(id) => id.to_string(),
                GroupKey::Name(name) => name.to_lowercase(),
            };
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
            let value = match licenses {
                Ok(licenses) => Ok(DesiredGroup {
                    key: group_key,
                    location: location.clone(),
                    licenses,
                }),
                Err(()) => {
                    users_ok = false;
                    Err(text.to_owned())
                }
            };
            groups.push(Declared {
                key: dedup,
                location,
                value,
            });
        }
    }
    FilePrincipals {
        users,
        groups,
        used: profile_table.used,
        ok: users_ok,
        diagnostics,
    }
}

/// True when `all` (sorted by key) declares `key`.
fn is_declared<T>(all: &[Declared<T>], key: &str) -> bool {
    all.binary_search_by(|d| d.key.as_str().cmp(key)).is_ok()
}

/// Sorts declarations by key (stable: the first declared stays first) and reports each
/// later declaration of a key as a duplicate of the first. Returns false when any was.
fn dedup<T>(
    c: &mut Checker<'_>,
    all: &mut [Declared<T>],
    kind: &str,
    name: impl Fn(&Declared<T>) -> &str,
    help: &'static str,
) -> bool {
    all.sort_by(|a, b| a.key.cmp(&b.key));
    let mut ok = true;
    let mut first = 0;
    for i in 1..all.len() {
        if all[i].key == all[first].key {
            c.push(
                Diagnostic::new(
                    DiagnosticCode::DuplicatePrincipal,
                    format!("{kind} {} is declared twice", name(&all[i])),
                )
                .at(all[i].location.clone())
                .related(all[first].location.clone(), "first declared here")
                .help(help),
            );
            ok = false;
        } else {
            first = i;
        }
    }
    ok
}

/// Combines the root's settings and every file's principals (root first, then the files
/// in path order) into the desired state: finds principals declared twice, protected
/// principals no file declares and unused profiles. Returns `None` when any error was
/// found (in `diagnostics` before or now).
///
/// `complete` is false when some file could not be parsed; warnings that need the whole
/// configuration (unused profiles, undeclared protected principals) are then skipped.
pub fn combine(
    root: Root,
    files: Vec<FilePrincipals>,
    complete: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DesiredState> {
    let Root {
        mut settings,
        profiles,
        protected: protected_raw,
        ..
    } = root;
    let mut used = vec![false; profiles.len()];
    let mut users_ok = true;
    let mut all_users = Vec::with_capacity(files.iter().map(|f| f.users.len()).sum());
    let mut all_groups = Vec::new();
    for file in files {
        diagnostics.extend(file.diagnostics);
        users_ok &= file.ok;
        for (u, f) in used.iter_mut().zip(&file.used) {
            *u |= f;
        }
        all_users.extend(file.users);
        all_groups.extend(file.groups);
    }
    let mut c = Checker { diagnostics };
    users_ok &= dedup(
        &mut c,
        &mut all_users,
        "user",
        |d| {
            d.value
                .as_ref()
                .map_or_else(String::as_str, |u| u.upn.as_str())
        },
        "userPrincipalNames are compared ignoring case; keep one declaration",
    );
    users_ok &= dedup(
        &mut c,
        &mut all_groups,
        "group",
        |d| match &d.value {
            Ok(g) => match &g.key {
                GroupKey::Name(name) => name.as_str(),
                GroupKey::Id(_) => d.key.as_str(),
            },
            Err(name) => name.as_str(),
        },
        "group names are compared ignoring case; keep one declaration",
    );
    let any_group_by_id = all_groups.iter().any(|g| {
        matches!(
            &g.value,
            Ok(DesiredGroup {
                key: GroupKey::Id(_),
                ..
            })
        )
    });
    let any_group_by_name = all_groups.iter().any(|g| {
        matches!(
            &g.value,
            Ok(DesiredGroup {
                key: GroupKey::Name(_),
                ..
            })
        )
    });
    for (is_user, item) in protected_raw {
        let declared = if is_user {
            is_declared(&all_users, &item.value.to_lowercase())
        } else if looks_like_guid(&item.value) {
            is_declared(&all_groups, &item.value.to_lowercase()) || any_group_by_name
        } else {
            is_declared(&all_groups, &item.value.to_lowercase()) || any_group_by_id
        };
        if !declared && complete {
            let kind = if is_user { "user" } else { "group" };
            c.push(
                Diagnostic::new(DiagnosticCode::ProtectedUnknown, format!("protected {kind} '{}' is not declared in any file", item.value))
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
    for ((name, location, _), used) in profiles.iter().zip(&used) {
        if !used && complete {
            c.push(
                Diagnostic::new(
                    DiagnosticCode::UnusedProfile,
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
    // Sorted by key already; every value is `Ok` when `users_ok`.
    let users = all_users.into_iter().filter_map(|d| d.value.ok()).collect();
    let groups = all_groups
        .into_iter()
        .filter_map(|d| d.value.ok())
        .collect();
    Some(DesiredState {
        settings,
        users,
        groups,
    })
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
    file: &Arc<Path>,
    owner: &Owner<'_>,
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
            Diagnostic::new(DiagnosticCode::ManagesNothing, format!("{owner} has neither `profile` nor `licenses`, so licensectl {what}"))
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
                    Diagnostic::new(
                        DiagnosticCode::UnknownProfile,
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

    fn parsed(name: &str, is_root: bool, text: &str) -> ParsedFile {
        let path: Arc<Path> = Path::new(name).into();
        match crate::config::parse::parse_file(&path, text) {
            Ok(raw) => ParsedFile { path, is_root, raw },
            Err(diagnostics) => panic!("test file {name} parses: {diagnostics:?}"),
        }
    }

    /// Checks the root (first) and every file on its own, then combines them, as `load` does.
    fn check_all(files: &[&ParsedFile]) -> (Option<DesiredState>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let root = check_root(
            files.first().copied(),
            Path::new("licensectl.yaml"),
            &mut diagnostics,
        );
        let parts = files.iter().map(|f| check_principals(f, &root)).collect();
        let desired = combine(root, parts, true, &mut diagnostics);
        (desired, diagnostics)
    }

    /// Files checked on their own, then combined: duplicates across files, in the root and
    /// within a file (case differs) are each reported once, at the later declaration.
    #[test]
    fn duplicates_are_found_across_files_when_combining() {
        let root = parsed(
            "licensectl.yaml",
            true,
            "version: 1\nprotected:\n  users: [carol@contoso.com]\nusers:\n  alice@contoso.com: {licenses: []}\n",
        );
        let a = parsed(
            "a.yaml",
            false,
            "users:\n  ALICE@contoso.com: {licenses: []}\n  bob@contoso.com: {licenses: []}\n  Bob@Contoso.com: {licenses: []}\ngroups:\n  SG-X: {licenses: []}\n",
        );
        let b = parsed(
            "b.yaml",
            false,
            "users:\n  carol@contoso.com: {licenses: []}\ngroups:\n  sg-x: {licenses: []}\n",
        );
        let (desired, diagnostics) = check_all(&[&root, &a, &b]);
        assert!(desired.is_none(), "duplicates make the config invalid");
        let mut found: Vec<String> = diagnostics
            .iter()
            .map(|d| {
                let at = d
                    .location
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let first = d
                    .related
                    .first()
                    .map(|r| r.0.to_string())
                    .unwrap_or_default();
                format!("{} {} at {at}, first {first}", d.code, d.message)
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                "duplicate-principal group sg-x is declared twice at b.yaml:4:3, first a.yaml:6:3",
                "duplicate-principal user ALICE@contoso.com is declared twice at a.yaml:2:3, first licensectl.yaml:5:3",
                "duplicate-principal user Bob@Contoso.com is declared twice at a.yaml:4:3, first a.yaml:3:3",
            ]
        );
    }

    #[test]
    fn combined_principals_come_out_sorted_ignoring_case() {
        let root = parsed("licensectl.yaml", true, "version: 1\n");
        let a = parsed(
            "a.yaml",
            false,
            "users:\n  zed@contoso.com: {licenses: []}\n  Amy@contoso.com: {licenses: []}\n",
        );
        let b = parsed(
            "b.yaml",
            false,
            "users:\n  bea@contoso.com: {licenses: []}\n",
        );
        let desired = check_all(&[&root, &a, &b]).0.expect("valid");
        let upns: Vec<&str> = desired.users.iter().map(|u| u.upn.as_str()).collect();
        assert_eq!(
            upns,
            ["Amy@contoso.com", "bea@contoso.com", "zed@contoso.com"]
        );
    }
}
