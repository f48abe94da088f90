//! One file's users, groups and rules, checked on their own against the settings file's
//! [`Root`]: keys, usage locations, profiles and licenses (rules: `rules.rs`). Duplicates
//! across files are left to [`super::combine()`]. Pure; files are checked in parallel.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::rules::DeclaredRule;
use super::settings::{CheckedProfile, Root, settings_keys};
use super::values::{looks_like_guid, upn_problem};
use super::{Checker, Owner, ParsedFile, at};
use crate::config::desired::{DesiredGroup, DesiredLicense, DesiredUser, GroupKey};
use crate::config::raw::RawLicense;
use crate::config::suggest::{Candidates, some_of};
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};
use crate::ids::GroupId;

/// A principal as one file declares it: its key for duplicates (lowercase UPN, group id or
/// lowercase name), where, and the checked principal or, when it is broken, its name.
#[derive(Debug)]
pub(super) struct Declared<T> {
    pub(super) key: String,
    pub(super) location: Location,
    pub(super) value: Result<T, String>,
}

/// One file's principals, checked on their own (duplicates across files are found when
/// the files are combined).
#[derive(Debug)]
pub(crate) struct FilePrincipals {
    pub(super) users: Vec<Declared<DesiredUser>>,
    pub(super) groups: Vec<Declared<DesiredGroup>>,
    /// The file's rules, in order.
    pub(super) rules: Vec<DeclaredRule>,
    /// Which of the root's profiles this file uses.
    pub(super) used: Vec<bool>,
    /// False when some principal was skipped for a problem reported in `diagnostics`.
    pub(super) ok: bool,
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// Checks one file's users and groups against the root's settings and profiles; for a
/// file other than `licensectl.yaml`, also reports settings it must not hold. Pure; files
/// can be checked in parallel.
pub(crate) fn check_principals(parsed: &ParsedFile, root: &Root) -> FilePrincipals {
    let mut diagnostics = super::text::control_characters(parsed);
    let clean = diagnostics.is_empty();
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
                    "move '{key}' to {}; principal files hold only users, groups and rules",
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
    let mut rules = Vec::new();
    for (position, raw) in parsed.raw.rules.iter().flatten().enumerate() {
        match c.rule(&parsed.path, raw, position, &mut profile_table) {
            Some(rule) => {
                users_ok &= rule.rule.is_some();
                rules.push(rule);
            }
            None => users_ok = false,
        }
    }
    FilePrincipals {
        users,
        groups,
        rules,
        used: profile_table.used,
        ok: users_ok && clean,
        diagnostics,
    }
}

/// Most "did you mean" searches for unknown profiles in one file; later unknown profiles
/// get the list of defined profiles instead (each search is bounded too:
/// [`crate::config::suggest::Candidates`]).
const SUGGESTIONS_PER_FILE: usize = 1_000;

/// Most profile names a help text lists.
const LISTED_PROFILES: usize = 20;

/// The checked profiles, looked up by name, with a mark for each one a principal uses.
pub(super) struct ProfileTable<'a> {
    list: &'a [CheckedProfile],
    index: HashMap<&'a str, usize>,
    used: Vec<bool>,
    /// Built at the first unknown profile.
    candidates: Option<Candidates<'a>>,
    suggestions_left: usize,
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
            candidates: None,
            suggestions_left: SUGGESTIONS_PER_FILE,
        }
    }

    /// The help for an unknown profile `name`.
    fn help_for_unknown(&mut self, name: &str) -> String {
        let list = self.list;
        if list.is_empty() {
            return "define it under `profiles:` in licensectl.yaml".to_owned();
        }
        if self.suggestions_left > 0 {
            self.suggestions_left -= 1;
            let candidates = self
                .candidates
                .get_or_insert_with(|| Candidates::new(list.iter().map(|p| p.0.as_str())));
            if let Some(best) = candidates.closest(name) {
                return format!("did you mean '{best}'?");
            }
        }
        format!(
            "defined profiles: {}",
            some_of(list.iter().map(|p| p.0.as_str()), LISTED_PROFILES)
        )
    }
}

/// A principal's expanded license list: `Ok(None)` when unmanaged, `Err` after a diagnostic.
#[allow(clippy::too_many_arguments)]
pub(super) fn principal_licenses(
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
    let mut expanded: Vec<Option<DesiredLicense>> =
        Vec::with_capacity(licenses.map_or(0, |list| list.value.len()));
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
                let help = profiles.help_for_unknown(&name.value);
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
