//! Offline semantic checks: parsed files → [`DesiredState`] plus diagnostics.
//!
//! Checks everything that needs no tenant: version, settings placement, GUID syntax,
//! usage locations, UPN shape, profile references, duplicate principals and rules across
//! files, duplicate SKUs and plans, rule conditions. Collects every problem; pure (no I/O).
//!
//! Three steps, so that files can be checked in parallel: [`check_root`] checks the
//! settings file (`settings.rs`); [`check_principals`] checks one file's users and groups
//! against it (`principals.rs`, with the value checks of `values.rs`); [`combine()`] puts
//! the files together and reports what only the whole directory shows (`combine.rs`).

mod combine;
mod operations;
mod principals;
mod rules;
mod settings;
mod text;
mod values;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

#[cfg(doc)]
use super::desired::DesiredState;
use super::desired::Located;
use super::raw::RawFile;
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};

pub(crate) use combine::combine;
pub(crate) use principals::{FilePrincipals, check_principals};
pub(crate) use settings::{Root, check_root};
pub(crate) use values::{is_domain, looks_like_guid, upn_problem};

/// A parsed file: its path as diagnostics name it, and whether it is `licensectl.yaml`.
#[derive(Debug)]
pub(crate) struct ParsedFile {
    /// Path as diagnostics name it.
    pub path: Arc<Path>,
    /// True for the settings file at the top of the directory.
    pub is_root: bool,
    /// The content.
    pub raw: RawFile,
}

/// Collects the diagnostics of one check.
struct Checker<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

/// A serde-saphyr position in `file` as a diagnostic location (line and column at least 1).
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

/// A spanned value of `file`, mapped by `value`, with its location.
fn located<T>(file: &Arc<Path>, spanned: &Spanned<T>, value: impl FnOnce(&T) -> T) -> Located<T> {
    Located {
        value: value(&spanned.value),
        location: at(file, &spanned.referenced),
    }
}

/// Whose value a diagnostic is about; formatted only when a diagnostic is made.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    User(&'a str),
    Group(&'a str),
    Profile(&'a str),
    Defaults,
    Prices,
    Rule(&'a str),
    RulesScope,
}

impl fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::User(upn) => write!(f, "user {upn}"),
            Owner::Group(name) => write!(f, "group {name}"),
            Owner::Profile(name) => write!(f, "profile '{name}'"),
            Owner::Defaults => f.write_str("defaults"),
            Owner::Prices => f.write_str("prices"),
            Owner::Rule(name) => write!(f, "rule '{name}'"),
            Owner::RulesScope => f.write_str("rules_scope"),
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
}
