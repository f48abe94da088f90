//! Rendering diagnostics: human snippets (rustc-like, via `codespan-reporting`), a
//! versioned JSON document, and GitHub Actions workflow commands.
//!
//! Every function here is pure: it takes diagnostics (and file texts) and returns a
//! `String`. Deciding where the output goes and whether to colour it is the caller's job.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

use super::{Diagnostic, Location, Severity, SourceFiles, counts};
use crate::render::escape::terminal;

/// Version of the JSON document [`json`] produces; bumped on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Renders diagnostics for a terminal: a header with severity and code, a source snippet
/// with the problem underlined, related places, and help. `color` adds ANSI colours.
///
/// Nothing unsafe reaches the terminal: control and bidirectional-formatting characters
/// ([`super::is_unsafe_char`]) in messages are written as `\u{…}`, and in snippets they
/// show as `�` (one character for one, so columns stay right).
pub fn human(diagnostics: &[Diagnostic], sources: &SourceFiles, color: bool) -> String {
    let mut files = SimpleFiles::new();
    let mut ids: HashMap<&Path, usize> = HashMap::new();
    let mut texts = SourceFiles::new();
    for (path, text) in sources.iter() {
        let shown = snippet_text(text);
        let name = terminal(&path.display().to_string()).into_owned();
        let id = files.add(name, shown.clone());
        texts.insert(path, shown);
        ids.insert(path, id);
    }
    let sources = &texts;
    let config = term::Config::default();
    let mut out: Vec<u8> = Vec::new();
    let mut colored = termcolor::Buffer::ansi();
    for diagnostic in diagnostics {
        let cs = to_codespan(diagnostic, sources, &ids);
        let result = if color {
            term::emit_to_write_style(&mut colored, &config, &files, &cs)
        } else {
            term::emit_to_io_write(&mut out, &config, &files, &cs)
        };
        if result.is_err() {
            // A location outside its file (should not happen): fall back to one plain line.
            let line = format!("{}\n\n", terminal(&diagnostic.to_string()));
            if color {
                colored_push(&mut colored, &line);
            } else {
                out.extend_from_slice(line.as_bytes());
            }
        }
    }
    if color {
        String::from_utf8_lossy(colored.as_slice()).into_owned()
    } else {
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A file's text as snippets show it: unsafe characters other than tab and line breaks
/// replaced by U+FFFD.
fn snippet_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if super::is_unsafe_char(c) && !matches!(c, '\t' | '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn colored_push(buffer: &mut termcolor::Buffer, text: &str) {
    use std::io::Write as _;
    let _ = buffer.write_all(text.as_bytes());
}

fn to_codespan(
    diagnostic: &Diagnostic,
    sources: &SourceFiles,
    ids: &HashMap<&Path, usize>,
) -> CsDiagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
    };
    let mut cs = CsDiagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        // Messages and help name tenant objects (plan diagnostics): no control character
        // from a name may reach the terminal raw.
        .with_message(terminal(&diagnostic.message));
    let mut labels = Vec::new();
    let mut notes = Vec::new();
    if let Some(location) = &diagnostic.location {
        match label_at(location, sources, ids) {
            Some((id, range)) => labels.push(Label::primary(id, range)),
            None => notes.push(format!("at {location}")),
        }
    }
    for (location, note) in &diagnostic.related {
        match label_at(location, sources, ids) {
            Some((id, range)) => {
                labels.push(Label::secondary(id, range).with_message(terminal(note)));
            }
            None => notes.push(format!("{} ({location})", terminal(note))),
        }
    }
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {}", terminal(help)));
    }
    cs = cs.with_labels(labels).with_notes(notes);
    cs
}

/// Longest source line shown in a snippet, in bytes: a longer line (minified or generated
/// YAML, or a file that is no config at all) is named by its location only, so a
/// diagnostic never prints more than one bounded line of a file.
pub const MAX_SNIPPET_LINE_BYTES: usize = 1000;

fn label_at(
    location: &Location,
    sources: &SourceFiles,
    ids: &HashMap<&Path, usize>,
) -> Option<(usize, Range<usize>)> {
    let id = *ids.get(&*location.file)?;
    let text = sources.get(&location.file)?;
    let range = token_range(text, location.line, location.column)?;
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[range.start..]
        .find('\n')
        .map_or(text.len(), |i| range.start + i);
    (line_end - line_start <= MAX_SNIPPET_LINE_BYTES).then_some((id, range))
}

/// The byte range of the YAML token starting at 1-based `line` and character `column`:
/// a quoted scalar up to its closing quote, otherwise up to whitespace, a flow indicator
/// or a `: ` separator. An empty range at the end of a line is allowed.
pub fn token_range(text: &str, line: usize, column: usize) -> Option<Range<usize>> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let line_text = &text[line_start..];
    let line_text = line_text.split('\n').next().unwrap_or("");
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let start = match line_text.char_indices().nth(column.saturating_sub(1)) {
        Some((i, _)) => i,
        None => line_text.len(),
    };
    let rest = &line_text[start..];
    let mut chars = rest.char_indices().peekable();
    let len = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => rest[1..]
            .find(quote)
            .map_or(rest.len(), |end| end + 2)
            .min(rest.len()),
        Some(_) => {
            let mut end = rest.len();
            while let Some((i, c)) = chars.next() {
                let next = chars.peek().map(|(_, c)| *c);
                let separator = c == ':' && next.is_none_or(char::is_whitespace);
                if i > 0 && (c.is_whitespace() || matches!(c, ',' | ']' | '}') || separator) {
                    end = i;
                    break;
                }
                if i == 0 && separator {
                    end = 1;
                    break;
                }
            }
            end
        }
        None => 0,
    };
    Some(line_start + start..line_start + start + len)
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    format_version: u32,
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: Cow<'a, str>,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    related: Vec<JsonRelated<'a>>,
    help: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    file: String,
    line: usize,
    column: usize,
    note: Cow<'a, str>,
}

/// Renders diagnostics as one pretty-printed JSON document:
/// `{"format_version": 1, "valid": …, "errors": n, "warnings": n, "diagnostics": […]}`,
/// each diagnostic with `code`, `severity`, `message`, `file`, `line`, `column` (null when
/// the problem has no single place), `related` places with a `note`, and `help`. Texts
/// hold no control or bidirectional-formatting character: they are written as `\u{…}`.
pub fn json(diagnostics: &[Diagnostic]) -> String {
    let (errors, warnings) = counts(diagnostics);
    let document = JsonDocument {
        format_version: JSON_FORMAT_VERSION,
        valid: errors == 0,
        errors,
        warnings,
        diagnostics: diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code.as_str(),
                severity: d.severity,
                message: terminal(&d.message),
                file: d
                    .location
                    .as_ref()
                    .map(|l| terminal(&l.file.display().to_string()).into_owned()),
                line: d.location.as_ref().map(|l| l.line),
                column: d.location.as_ref().map(|l| l.column),
                related: d
                    .related
                    .iter()
                    .map(|(l, note)| JsonRelated {
                        file: terminal(&l.file.display().to_string()).into_owned(),
                        line: l.line,
                        column: l.column,
                        note: terminal(note),
                    })
                    .collect(),
                help: d.help.as_deref().map(terminal),
            })
            .collect(),
    };
    // Serializing plain structs of strings and numbers cannot fail.
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

/// Renders diagnostics as GitHub Actions workflow commands, one line each
/// (`::error file=…,line=…,col=…,title=…::message`), so GitHub annotates the pull request
/// diff. Related places and help are appended to the message on extra lines.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = Vec::new();
        if let Some(location) = &d.location {
            properties.push(format!(
                "file={}",
                escape_property(&terminal(&location.file.display().to_string()))
            ));
            properties.push(format!("line={}", location.line));
            properties.push(format!("col={}", location.column));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("licensectl {}", d.code))
        ));
        // Each part escaped on its own: the line breaks between them are the annotation's.
        let mut message = terminal(&d.message).into_owned();
        for (location, note) in &d.related {
            let location = terminal(&location.to_string()).into_owned();
            message.push_str(&format!("\nnote: {} ({location})", terminal(note)));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {}", terminal(help)));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// Escapes a workflow command's message: `%`, CR and LF.
pub fn escape_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::DiagnosticCode;
    use std::path::PathBuf;

    fn sample() -> (Vec<Diagnostic>, SourceFiles) {
        let mut sources = SourceFiles::new();
        let a = PathBuf::from("cfg/a.yaml");
        let b = PathBuf::from("cfg/b.yaml");
        sources.insert(&a, "users:\n  alice@contoso.com:\n    profile: wroker\n");
        sources.insert(&b, "users:\n  Alice@contoso.com: {licenses: []}\n");
        let loc = |file: &PathBuf, line, column| Location {
            file: file.as_path().into(),
            line,
            column,
        };
        let diagnostics = vec![
            Diagnostic::new(
                DiagnosticCode::UnknownProfile,
                "user alice@contoso.com uses unknown profile 'wroker'",
            )
            .at(loc(&a, 3, 14))
            .help("did you mean 'worker'?"),
            Diagnostic::new(
                DiagnosticCode::DuplicatePrincipal,
                "user Alice@contoso.com is declared twice",
            )
            .at(loc(&b, 2, 3))
            .related(loc(&a, 2, 3), "first declared here"),
            // A warning whatever the code, to show both severities.
            Diagnostic {
                severity: Severity::Warning,
                ..Diagnostic::new(
                    DiagnosticCode::NoConfigFiles,
                    "no *.yaml files, 100% empty: really",
                )
            },
        ];
        (diagnostics, sources)
    }

    #[test]
    fn human_output_escapes_control_characters_from_tenant_names() {
        let diagnostic = Diagnostic::new(
            DiagnosticCode::DependencyUnmet,
            "user evil\u{1b}]0;pwned\u{7}@contoso.com would keep X",
        )
        .help("turn \u{202e}X off");
        let text = human(&[diagnostic], &SourceFiles::new(), false);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(
            text.contains("evil\\u{1b}]0;pwned\\u{7}@contoso.com"),
            "{text}"
        );
    }

    #[test]
    fn human_output_has_snippets_codes_and_help() {
        let (diagnostics, sources) = sample();
        insta::assert_snapshot!(human(&diagnostics, &sources, false));
    }

    #[test]
    fn human_output_is_coloured_only_on_request() {
        let (diagnostics, sources) = sample();
        assert!(!human(&diagnostics, &sources, false).contains('\u{1b}'));
        assert!(human(&diagnostics, &sources, true).contains('\u{1b}'));
    }

    #[test]
    fn json_output_is_versioned_with_counts() {
        let (diagnostics, _) = sample();
        insta::assert_snapshot!(json(&diagnostics));
    }

    #[test]
    fn github_output_escapes_as_required() {
        let (diagnostics, _) = sample();
        insta::assert_snapshot!(github(&diagnostics));
    }

    #[test]
    fn escaping_table() {
        let cases = [
            ("plain", "plain", "plain"),
            ("50%", "50%25", "50%25"),
            ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
            ("c:/x,y", "c:/x,y", "c%3A/x%2Cy"),
        ];
        for (input, data, property) in cases {
            assert_eq!(escape_data(input), data, "data {input:?}");
            assert_eq!(escape_property(input), property, "property {input:?}");
        }
    }

    #[test]
    fn token_ranges() {
        let text = "users:\n  alice@x.com: {a: 1}\n  \"q t\": x\nkey:\n";
        let cases = [
            (1, 1, Some(0..5)),
            (2, 3, Some(9..20)),
            (2, 17, Some(23..24)),
            (2, 20, Some(26..27)),
            (3, 3, Some(31..36)),
            (4, 4, Some(43..44)),
            (4, 9, Some(44..44)),
            (9, 1, None),
        ];
        for (line, column, expected) in cases {
            assert_eq!(token_range(text, line, column), expected, "{line}:{column}");
        }
    }
}
