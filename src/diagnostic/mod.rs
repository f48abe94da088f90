//! Diagnostics: problems found in a configuration (or while resolving it against a tenant,
//! or exporting one), as plain data with a stable code ([`DiagnosticCode`], the one list of
//! codes of the product), a severity, a source location and help text.
//!
//! Loading and planning collect diagnostics instead of stopping at the first problem;
//! the `render` module turns them into human, JSON or GitHub-annotation output. This module
//! only defines the data; it does no I/O and no formatting beyond `Display`.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

#[cfg(licensectl_purity_probe)]
#[path = "../purity_probe.rs"]
mod purity_probe;

pub(crate) mod code;
pub mod render;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use code::{DiagnosticCode, Stage};

/// A place in a configuration file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// The file, as the user named it (config dir joined with the relative path); shared,
    /// since every located value of a file names it.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the configuration (or plan) invalid.
    Error,
    /// Worth attention; does not stop anything.
    Warning,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `duplicate-principal`; documented on its [`DiagnosticCode::docs_page`].
    pub code: DiagnosticCode,
    /// Error or warning: the code's severity.
    pub severity: Severity,
    /// What is wrong, naming the object (lowercase, no trailing period).
    pub message: String,
    /// Where; `None` for problems with no single place (e.g. an empty directory).
    pub location: Option<Location>,
    /// Other places involved (e.g. the first declaration of a duplicate), with a note each.
    pub related: Vec<(Location, String)>,
    /// How to fix it, when known.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic, with the severity of its code.
    pub fn new(code: DiagnosticCode, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity(),
            message: message.into(),
            location: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// Sets the location.
    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Adds a related location with a note.
    #[must_use]
    pub fn related(mut self, location: Location, note: impl Into<String>) -> Self {
        self.related.push((location, note.into()));
        self
    }

    /// Sets the help text.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{level}[{}]: {}", self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line, column, then code, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics
        .sort_by(|a, b| (&a.location, a.code, &a.message).cmp(&(&b.location, b.code, &b.message)));
}

/// The texts of the files diagnostics point into, kept so that renderers can show snippets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    files: BTreeMap<PathBuf, String>,
}

impl SourceFiles {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file's text; `path` is the path as [`Location::file`] names it.
    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }

    /// The text of `path`, if known.
    pub fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Every file with its text, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().map(|(p, t)| (p.as_path(), t.as_str()))
    }

    /// How many files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// True for a character that must never reach a terminal, a log or Markdown as it is: the
/// C0 and C1 controls and DEL (ESC starts terminal escape and OSC sequences), the Unicode
/// bidirectional formatting characters (which reorder what a reviewer sees: "Trojan
/// Source", https://trojansource.codes/) and the line and paragraph separators; the set
/// of [`crate::render`]'s escaping.
pub fn is_unsafe_char(c: char) -> bool {
    crate::render::escape::is_control(c)
}

/// `text` with every [`is_unsafe_char`] shown as an escape (`\u{1b}`), as the renderers
/// show names from the tenant.
pub fn escape_value(text: &str) -> std::borrow::Cow<'_, str> {
    crate::render::escape::terminal(text)
}

/// Counts errors and warnings.
pub fn counts(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}
