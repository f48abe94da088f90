//! Combining every file's checked principals with the settings into the desired state:
//! principals and rules declared twice (in one file or two), protected principals no file
//! declares, profiles nobody uses. Pure.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;
use hashbrown::hash_table::{Entry, HashTable};

use super::Checker;
use super::principals::{Declared, FilePrincipals};
use super::rules::DeclaredRule;
use super::settings::Root;
use super::values::looks_like_guid;
use crate::config::desired::{DesiredGroup, DesiredState, GroupKey, Located, PrincipalRef};
use crate::diagnostic::{Diagnostic, DiagnosticCode};

/// Reports each later declaration of a key as a duplicate of its first declaration.
/// Returns false when any was. The declarations stay in the order given (the root, then
/// the files in path order, each in its own order): one pass over a table of positions
/// finds the repeats. (Sorting 250k declarations by key to find them took a tenth of a
/// second, and planning them in that order reached their licenses in memory at random.)
fn dedup<T>(
    c: &mut Checker<'_>,
    all: &[Declared<T>],
    kind: &str,
    name: impl Fn(&Declared<T>) -> &str,
    help: &'static str,
) -> bool {
    let hasher = DefaultHashBuilder::default();
    let key_hash = |i: &usize| hasher.hash_one(all[*i].key.as_str());
    let mut first_of: HashTable<usize> = HashTable::with_capacity(all.len());
    let mut ok = true;
    for (i, declared) in all.iter().enumerate() {
        let hash = hasher.hash_one(declared.key.as_str());
        match first_of.entry(hash, |&j| all[j].key == declared.key, key_hash) {
            Entry::Occupied(first) => {
                let first = &all[*first.get()];
                c.push(
                    Diagnostic::new(
                        DiagnosticCode::DuplicatePrincipal,
                        format!("{kind} {} is declared twice", name(declared)),
                    )
                    .at(declared.location.clone())
                    .related(first.location.clone(), "first declared here")
                    .help(help),
                );
                ok = false;
            }
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
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
        &all_users,
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
        &all_groups,
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
    let group_keys: hashbrown::HashSet<&str> = if protected_raw.iter().any(|(is_user, _)| !is_user)
    {
        all_groups.iter().map(|g| g.key.as_str()).collect()
    } else {
        hashbrown::HashSet::new()
    };
    for (is_user, item) in protected_raw {
        // A protected user needs no declaration: group changes and rules reach undeclared
        // users, and protection guards them there too. A protected group that no file
        // declares is never changed, so naming it protects nothing.
        let declared = if is_user {
            true
        } else if looks_like_guid(&item.value) {
            group_keys.contains(item.value.to_lowercase().as_str()) || any_group_by_name
        } else {
            group_keys.contains(item.value.to_lowercase().as_str()) || any_group_by_id
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
    drop(group_keys);
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
    // In declaration order; every value is `Ok` when `users_ok`.
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
    fn each_repeated_key_is_reported_against_its_first_declaration_and_the_order_kept() {
        let keys = ["d", "b", "a", "b", "c", "a", "e", "b"];
        let all: Vec<Declared<usize>> = keys
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
        let mut diagnostics = Vec::new();
        let ok = dedup(
            &mut Checker {
                diagnostics: &mut diagnostics,
            },
            &all,
            "user",
            |d| d.key.as_str(),
            "keep one",
        );
        assert!(!ok);
        let found: Vec<(usize, usize)> = diagnostics
            .iter()
            .map(|d| {
                let at = d.location.as_ref().map_or(0, |l| l.line);
                let first = d.related.first().map_or(0, |r| r.0.line);
                (at, first)
            })
            .collect();
        assert_eq!(found, [(4, 2), (6, 3), (8, 2)]);
        let order: Vec<&str> = all.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(order, keys);
        let unique = &all[..3];
        assert!(dedup(
            &mut Checker {
                diagnostics: &mut diagnostics,
            },
            unique,
            "user",
            |d| d.key.as_str(),
            "keep one",
        ));
    }

    #[test]
    fn combined_principals_come_in_declaration_order_root_then_files_by_path() {
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
            ["zed@contoso.com", "Amy@contoso.com", "bea@contoso.com"]
        );
    }
}
