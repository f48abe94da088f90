//! The apply journal: one JSON line per Graph write request and per result, written and
//! flushed as it happens, so that an interrupted apply leaves a record of exactly what was
//! sent and what Graph answered.
//!
//! Entries carry principals, operations, HTTP status, Graph `request-id`s, timestamps and
//! attempt numbers — never tokens, secrets or assertions (the client never hands them to
//! this module). Every line also carries the run's id (random, one per opened journal),
//! the licensectl version and the commit it was built from, so that the lines of two
//! applies appending to one file, or of two applies against one tenant, are told apart,
//! and a journal says which build sent its writes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ApplyError;
use crate::plan::Principal;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// The apply started (tenant, counts).
    Start,
    /// A phase started.
    Phase,
    /// A write was sent (inside a `$batch`).
    Request,
    /// Graph answered a write (or the batch carrying it failed).
    Result,
    /// Waiting for group license processing.
    Wait,
    /// A verification result for one principal.
    Verify,
    /// The apply ended (the summary).
    End,
}

/// One line of the journal. Optional fields are left out when empty.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Entry {
    /// RFC 3339 UTC time, filled in by [`Journal::record`].
    pub time: String,
    /// The run's id, filled in by [`Journal::record`].
    pub run: String,
    /// The licensectl version, filled in by [`Journal::record`].
    pub version: &'static str,
    /// The commit licensectl was built from and its date ([`crate::BUILD`]), filled in by
    /// [`Journal::record`].
    pub build: &'static str,
    /// The kind of entry.
    pub event: Option<Event>,
    /// The phase (`group-assignments`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
    /// The principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// `assignLicense` or `setUsageLocation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'static str>,
    /// 1 for the first try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// HTTP status of the item (0 when the whole batch failed without an answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `ok`, `retry`, `failed`, `verified`, `mismatch`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// Graph's `request-id` of the item (or of the `$batch` carrying it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Graph's error `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Graph's error message or licensectl's explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The request body (license and usage location data only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// An append-only JSON-lines journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    run: String,
    out: Mutex<BufWriter<File>>,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unknown".to_owned())
}

impl Journal {
    /// Creates (or appends to) the journal at `path`, creating its directory.
    pub fn open(path: &Path) -> Result<Self, ApplyError> {
        let io = |source| ApplyError::Journal {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            run: uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string(),
            out: Mutex::new(BufWriter::new(file)),
        })
    }

    /// This run's id, on every line it writes.
    pub fn run_id(&self) -> &str {
        &self.run
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` (stamped with the current time) and flushes it to the file.
    pub fn record(&self, mut entry: Entry) -> Result<(), ApplyError> {
        entry.time = now();
        entry.run.clone_from(&self.run);
        entry.version = env!("CARGO_PKG_VERSION");
        entry.build = crate::BUILD;
        let mut line = serde_json::to_vec(&entry).unwrap_or_default();
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        out.write_all(&line)
            .and_then(|()| out.flush())
            .map_err(|source| ApplyError::Journal {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_flushed_json_lines_with_the_run_id_and_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested/journal.jsonl");
        let journal = Journal::open(&path).expect("opens");
        journal
            .record(Entry {
                event: Some(Event::Request),
                operation: Some("assignLicense"),
                attempt: Some(1),
                ..Entry::default()
            })
            .expect("records");
        journal
            .record(Entry {
                event: Some(Event::Result),
                status: Some(200),
                outcome: Some("ok"),
                request_id: Some("abc".into()),
                ..Entry::default()
            })
            .expect("records");
        let run = journal.run_id().to_owned();
        // Read while the journal is still open: every line is already on disk.
        let text = std::fs::read_to_string(&path).expect("reads");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "request");
        assert_eq!(lines[0]["operation"], "assignLicense");
        assert!(
            lines[0].get("status").is_none(),
            "empty fields are left out"
        );
        assert_eq!(lines[1]["request_id"], "abc");
        assert!(lines[1]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        for line in &lines {
            assert_eq!(line["run"], run.as_str(), "the run id on every line");
            assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
        }
        // Another run appending to the same file has another id.
        let again = Journal::open(&path).expect("opens again");
        assert_ne!(again.run_id(), run);
        assert_eq!(run.len(), 36, "a UUID: {run}");
    }

    #[test]
    fn an_unwritable_journal_names_the_file_and_keeps_the_io_error_as_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, "").expect("writes");
        let path = file.join("journal.jsonl");
        let error = Journal::open(&path).expect_err("its parent is a file");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot write the apply journal {} (nothing more was sent)",
                path.display()
            )
        );
        assert!(
            std::error::Error::source(&error)
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
            "{error:?}"
        );
    }

    #[test]
    fn every_line_records_the_version_and_the_build() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        let journal = Journal::open(&path).expect("opens");
        for event in [Event::Start, Event::End] {
            journal
                .record(Entry {
                    event: Some(event),
                    ..Entry::default()
                })
                .expect("records");
        }
        let text = std::fs::read_to_string(&path).expect("reads");
        for line in text.lines() {
            let line: Value = serde_json::from_str(line).expect("json line");
            assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
            assert_eq!(line["build"], crate::BUILD);
        }
        assert!(!crate::BUILD.is_empty());
    }
}
