//! Configuration: loading a config directory (`licensectl.yaml` plus principal files) into
//! a [`DesiredState`], with every problem collected as a [`crate::diagnostic::Diagnostic`].
//!
//! This module reads files and checks everything that can be checked offline (syntax,
//! schema, GUID syntax, usage locations, profiles, duplicates). It must not resolve names
//! against a tenant (the planner's resolution step does) nor touch the network. Loading
//! never panics and never stops at the first problem.
//!
//! Only [`read_files`] (`read.rs`) touches the filesystem: it reads the directory into a
//! [`ConfigFiles`] (paths and bytes). Everything after that is the pure [`load_files`]
//! (`load.rs`), which tests can call with files made in memory; [`load`] is the two.

pub(crate) mod check;
pub(crate) mod countries;
pub(crate) mod country_names;
pub(crate) mod desired;
pub(crate) mod load;
pub(crate) mod parse;
pub(crate) mod plain;
pub(crate) mod raw;
pub(crate) mod raw_rules;
pub(crate) mod read;
pub(crate) mod rules;
pub mod schema;
pub(crate) mod split;
pub(crate) mod suggest;

use std::path::Path;

pub use desired::*;
pub use load::{
    ConfigFile, ConfigFiles, MAX_FILE_BYTES, MAX_TOTAL_BYTES, ReadError, ReadLimits, load_files,
};
pub use parse::parse_file;
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub use plain::agrees_with_serde_saphyr;
pub use read::{discover, read_files, read_files_with};

use crate::diagnostic::Diagnostic;
pub use crate::diagnostic::SourceFiles;

/// The settings file's name, at the top of the config directory.
pub const SETTINGS_FILE: &str = "licensectl.yaml";

/// The result of loading a config directory.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The desired state; `None` when any error was found.
    pub desired: Option<DesiredState>,
    /// Every problem found, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every config file, for snippet rendering.
    pub sources: SourceFiles,
    /// SHA-256 (hex) over the sorted relative paths and bytes of every config file.
    pub digest: String,
}

impl LoadedConfig {
    /// True when no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        self.desired.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads and checks the config directory `dir`: `licensectl.yaml` and every `*.yaml` /
/// `*.yml` file below it (hidden files and directories skipped; symbolic links and other
/// non-regular files are refused, never read). Paths in diagnostics are `dir` joined with
/// the file's relative path. The I/O edge [`read_files`] followed by the pure
/// [`load_files`].
pub fn load(dir: &Path) -> LoadedConfig {
    load_files(read_files(dir))
}

/// [`load`] with other [`ReadLimits`].
pub fn load_with(dir: &Path, limits: &ReadLimits) -> LoadedConfig {
    load_files(read_files_with(dir, limits))
}
