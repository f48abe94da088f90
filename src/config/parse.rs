//! Parsing one file: YAML text → [`RawFile`], or diagnostics.
//!
//! The fast path deserializes straight into the spanned serde types. When that fails, the
//! file is parsed again into a generic value and checked against the JSON Schema, so that
//! every structural problem of the file is reported (serde stops at the first); YAML syntax
//! errors, duplicate keys and limit breaches are reported from the generic parse.

use std::path::Path;

use serde_saphyr::{DuplicateKeyPolicy, Error as YamlError};

use super::raw::RawFile;
use super::schema;
use crate::diagnostic::{Diagnostic, DiagnosticCode, Location};

/// Largest config file accepted, in bytes ([`super::load::MAX_FILE_BYTES`]).
pub(crate) const MAX_FILE_BYTES: usize = super::load::MAX_FILE_BYTES as usize;

/// The YAML options every config file is read with: strict booleans (only `true`/`false`),
/// numbers with leading zeros or underscores kept as strings, duplicate keys refused,
/// one document per file, and budgets large enough for 200k users per file but small
/// enough that alias bombs and deep nesting are refused quickly.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_FILE_BYTES),
            max_events: 40_000_000,
            max_nodes: 20_000_000,
            max_total_scalar_bytes: MAX_FILE_BYTES,
            max_depth: 32,
            max_documents: 1,
            max_aliases: 100_000,
            max_anchors: 100_000,
            max_recorded_anchor_events: 100_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 1_000_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 100_000,
        },
        duplicate_keys: DuplicateKeyPolicy::Error,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        legacy_octal_numbers: false,
        with_snippet: false,
    }
}

/// Parses one file's text; `file` is the path diagnostics name.
pub fn parse_file(file: &Path, text: &str) -> Result<RawFile, Vec<Diagnostic>> {
    // The plain layout `export` writes, without serde-saphyr (in about a fifth of the time).
    if let Some(raw) = super::plain::parse_plain(text) {
        return Ok(raw);
    }
    // A large file on every core (when it is plain enough to cut; otherwise whole).
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if let Some(raw) = super::split::parse_split(text, parts, super::split::SPLIT_BYTES) {
        return Ok(raw);
    }
    let typed_error = match serde_saphyr::from_str_with_options::<RawFile>(text, yaml_options()) {
        Ok(raw) => return Ok(raw),
        Err(error) => error,
    };
    let value = match serde_saphyr::from_str_with_options::<serde_json::Value>(text, yaml_options())
    {
        Ok(value) => value,
        Err(error) => return Err(vec![yaml_error(file, &error)]),
    };
    let diagnostics = schema::check(file, text, &value);
    if diagnostics.is_empty() {
        // The schema accepted what serde refused (e.g. `1.0` for an integer): report serde's.
        Err(vec![yaml_error(file, &typed_error)])
    } else {
        Err(diagnostics)
    }
}

/// Turns a serde-saphyr error into a diagnostic with a code.
pub(crate) fn yaml_error(file: &Path, error: &YamlError) -> Diagnostic {
    let location = error
        .without_snippet()
        .location()
        .filter(|l| l.line() > 0)
        .map_or_else(
            || Location {
                file: file.into(),
                line: 1,
                column: 1,
            },
            |l| Location {
                file: file.into(),
                line: usize::try_from(l.line()).unwrap_or(usize::MAX),
                column: usize::try_from(l.column()).unwrap_or(usize::MAX).max(1),
            },
        );
    let mut error = error.without_snippet();
    // An error met while replaying an alias: classify the underlying one.
    for _ in 0..8 {
        match error {
            YamlError::AliasError { error: inner, .. } => error = inner.without_snippet(),
            _ => break,
        }
    }
    let (code, message, help): (DiagnosticCode, String, Option<String>) = match error {
        YamlError::MultipleDocuments { .. }
        | YamlError::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Documents { .. },
            ..
        } => (
            DiagnosticCode::YamlSyntax,
            "the file holds more than one YAML document".to_owned(),
            Some("remove the `---` separators: put each document in its own file".to_owned()),
        ),
        YamlError::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_else(|| "(complex key)".to_owned());
            (
                DiagnosticCode::DuplicateKey,
                format!("key '{key}' appears twice in the same mapping"),
                Some("YAML keeps only one of them; merge the two entries into one".to_owned()),
            )
        }
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. }
        | YamlError::RecursiveReferencesRequireWeakTypes { .. } => (
            DiagnosticCode::YamlLimit,
            format!("the YAML exceeds a safety limit: {}", plain_message(error)),
            Some(
                "config files need no deep nesting, recursive aliases or alias expansion bombs"
                    .to_owned(),
            ),
        ),
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => (
            DiagnosticCode::UnknownField,
            format!("unknown key '{field}'"),
            Some(super::schema::did_you_mean_or_list(field, expected)),
        ),
        YamlError::SerdeInvalidType { .. }
        | YamlError::InvalidScalar { .. }
        | YamlError::Unexpected { .. }
        | YamlError::InvalidBooleanStrict { .. }
        | YamlError::NullIntoString { .. } => {
            (DiagnosticCode::InvalidType, plain_message(error), None)
        }
        YamlError::SerdeInvalidValue { .. } | YamlError::NonFiniteFloat { .. } => {
            (DiagnosticCode::InvalidValue, plain_message(error), None)
        }
        _ => {
            let message = plain_message(error);
            if message.contains("limit exceeded") || message.contains("nesting") {
                (
                    DiagnosticCode::YamlLimit,
                    format!("the YAML exceeds a safety limit: {message}"),
                    Some("config files need no deep nesting".to_owned()),
                )
            } else {
                (DiagnosticCode::YamlSyntax, message, None)
            }
        }
    };
    let mut diagnostic = Diagnostic::new(code, message).at(location);
    if let Some(help) = help {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}

/// The error's message without serde-saphyr's `error: line N column M: ` prefix.
fn plain_message(error: &YamlError) -> String {
    let text = error.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let text = match text.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, message)| message),
        None => text,
    };
    let text = text.lines().next().unwrap_or_default().trim();
    // The location is shown separately.
    let text = match text.rfind(" at line ") {
        Some(i) if text[i..].contains("column") => &text[..i],
        _ => text,
    };
    text.to_owned()
}
