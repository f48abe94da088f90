//! Tenant snapshots: the live license state of a tenant as one JSON document.
//!
//! A snapshot holds Microsoft Graph's own resource shapes with Graph's camelCase field
//! names (`subscribedSkus`, `users`, `groups`), plus a format `version` and the tenant id.
//! It is what `licensectl snapshot` writes, what `plan --snapshot` reads, and what the
//! emulator serves. This module parses and indexes snapshots; it must not talk to Graph
//! (the `graph` module does) and must not plan (the `plan` module does).
//!
//! Parsing accepts what real Graph sends: GUIDs in any case, `error` as `null` or
//! `"None"`, and unknown extra fields (ignored).

mod model;

pub use model::*;

use std::path::{Path, PathBuf};

/// The snapshot format version this build reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Errors reading or writing a snapshot file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read snapshot {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid snapshot.
    #[error("{path}:{line}:{column}: invalid tenant snapshot: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The snapshot declares a format version this build does not know.
    #[error(
        "{path}: snapshot version {found} is not supported (this licensectl reads version {SNAPSHOT_VERSION}); write a new snapshot with `licensectl snapshot`"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
    },
    /// The file could not be written.
    #[error("cannot write snapshot {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl TenantSnapshot {
    /// Parses a snapshot from JSON text; `path` names the source in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, SnapshotError> {
        let snapshot: TenantSnapshot =
            serde_json::from_str(text).map_err(|e| SnapshotError::Parse {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                path: path.to_owned(),
                found: snapshot.version,
            });
        }
        Ok(snapshot)
    }

    /// Reads and parses a snapshot file.
    pub fn read(path: &Path) -> Result<Self, SnapshotError> {
        let bytes = std::fs::read(path).map_err(|source| SnapshotError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Self::from_json(&text, path)
    }

    /// Serializes the snapshot as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data structs with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the snapshot to `path` as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        std::fs::write(path, self.to_json_pretty()).map_err(|source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        })
    }
}
