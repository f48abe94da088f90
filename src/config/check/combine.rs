//! Combining every file's checked principals with the settings into the desired state:
//! principals and rules declared twice (in one file or two), protected principals no file
//! declares, profiles nobody uses. Pure.

use super::Checker;
use super::principals::{Declared, FilePrincipals};
use super::rules::DeclaredRule;
use super::settings::Root;
use super::values::looks_like_guid;
use crate::config::desired::{DesiredGroup, DesiredState, GroupKey, Located, PrincipalRef};
use crate::diagnostic::{Diagnostic, DiagnosticCode};

/// True when `all` (sorted by key) declares `key`.
fn is_declared<T>(all: &[Declared<T>], key: &str) -> bool {
    all.binary_search_by(|d| d.key.as_str().cmp(key)).is_ok()
}

/// Sorts `all` by key, keeping the order of declaration among equal keys. The entries
/// are large (a principal with its locations): indices are sorted, and each entry then
/// moves once into place, instead of the O(n log n) moves of a stable sort.
fn sort_declared<T>(all: &mut [Declared<T>]) {
    if all.is_sorted_by(|a, b| a.key <= b.key) {
        return;
    }
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_unstable_by(|&a, &b| all[a].key.cmp(&all[b].key).then(a.cmp(&b)));
    // Entry `i` of the result is entry `order[i]` of `all`: follow each cycle once.
    let mut placed = vec![false; all.len()];
    for start in 0..all.len() {
        if placed[start] {
            continue;
        }
        let mut i = start;
        loop {
            placed[i] = true;
            let j = order[i];
            if j == start {
                break;
            }
            all.swap(i, j);
            i = j;
        }
    }
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
    sort_declared(all);
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
pub(crate) fn combine(
    root: Root,
    files: Vec<FilePrincipals>,
    complete: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<DesiredState> {
    let Root {
        mut settings,
        profiles,
        protected: protected_raw,
        rules_scope_ok,
        ..
    } = root;
    let mut all_rules = Vec::new();
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
        all_rules.extend(file.rules);
    }
    let mut c = Checker { diagnostics };
    let rules_ok = rules_scope_ok && duplicate_rules(&mut c, &all_rules);
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
        // A protected user needs no declaration: group changes and rules reach undeclared
        // users, and protection guards them there too. A protected group that no file
        // declares is never changed, so naming it protects nothing.
        let declared = if is_user {
            true
        } else if looks_like_guid(&item.value) {
            is_declared(&all_groups, &item.value.to_lowercase()) || any_group_by_name
        } else {
            is_declared(&all_groups, &item.value.to_lowercase()) || any_group_by_id
        };
        if !declared && complete {
            c.push(
                Diagnostic::new(DiagnosticCode::ProtectedUnknown, format!("protected group '{}' is not declared in any file", item.value))
                    .at(item.location.clone())
                    .help("licensectl never changes an undeclared group, so this entry protects nothing; check the spelling or remove it"),
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

    if let Some(migrate) = &settings.migrate_to_groups
        && complete
        && !all_groups
            .iter()
            .any(|g| matches!(&g.value, Ok(group) if group.licenses.is_some()))
    {
        c.push(
            Diagnostic::new(
                DiagnosticCode::MigrationWithoutGroups,
                "migrate_to_groups is set, but no file declares a group with licenses: there is nothing to migrate to",
            )
            .at(migrate.location.clone())
            .help("declare the groups that should license the users (with `licenses` or a `profile`), or remove migrate_to_groups"),
        );
    }
    let profiles_ok = profiles.iter().all(|p| p.2.is_some());
    if !users_ok || !profiles_ok || !rules_ok || c.diagnostics.iter().any(Diagnostic::is_error) {
        return None;
    }
    // Sorted by key already; every value is `Ok` when `users_ok`.
    let users = all_users.into_iter().filter_map(|d| d.value.ok()).collect();
    let groups = all_groups
        .into_iter()
        .filter_map(|d| d.value.ok())
        .collect();
    let rules = all_rules.into_iter().filter_map(|r| r.rule).collect();
    Some(DesiredState {
        settings,
        users,
        groups,
        rules,
    })
}

/// Reports every rule whose name (ignoring case) an earlier rule has; false when any does.
fn duplicate_rules(c: &mut Checker<'_>, rules: &[DeclaredRule]) -> bool {
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by(|&a, &b| rules[a].key.cmp(&rules[b].key).then(a.cmp(&b)));
    let mut ok = true;
    for pair in order.windows(2) {
        let (first, later) = (&rules[pair[0]], &rules[pair[1]]);
        if first.key != later.key {
            continue;
        }
        let first = order
            .iter()
            .map(|&i| &rules[i])
            .find(|r| r.key == later.key)
            .unwrap_or(first);
        c.push(
            Diagnostic::new(
                DiagnosticCode::DuplicateRule,
                format!("rule '{}' is declared twice", later.name),
            )
            .at(later.location.clone())
            .related(first.location.clone(), "first declared here")
            .help("rule names are compared ignoring case and name the rule in every plan: rename one of them"),
        );
        ok = false;
    }
    ok
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::config::check::{ParsedFile, check_principals, check_root};

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
    fn declarations_sort_by_key_keeping_the_order_of_equal_keys() {
        let keys = ["d", "b", "a", "b", "c", "a", "e", "b"];
        let mut all: Vec<Declared<usize>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Declared {
                key: (*k).to_owned(),
                location: crate::diagnostic::Location {
                    file: Path::new("a.yaml").into(),
                    line: i + 1,
                    column: 3,
                },
                value: Ok(i),
            })
            .collect();
        sort_declared(&mut all);
        let got: Vec<(String, usize)> = all
            .iter()
            .map(|d| (d.key.clone(), *d.value.as_ref().unwrap_or(&usize::MAX)))
            .collect();
        let mut want: Vec<(String, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| ((*k).to_owned(), i))
            .collect();
        want.sort();
        assert_eq!(got, want);
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
