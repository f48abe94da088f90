//! Configuration: loading a config directory (`licensectl.yaml` plus principal files) into
//! a [`DesiredState`], with every problem collected as a [`crate::diagnostic::Diagnostic`].
//!
//! This module reads files and checks everything that can be checked offline (syntax,
//! schema, GUID syntax, usage locations, profiles, duplicates). It must not resolve names
//! against a tenant (the planner's resolution step does) nor touch the network. Loading
//! never panics and never stops at the first problem.

pub mod check;
pub mod countries;
pub mod desired;
pub mod parse;
pub mod raw;
pub mod schema;

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use desired::*;

pub use crate::diagnostic::SourceFiles;
use crate::diagnostic::{self, Diagnostic, DiagnosticCode, Location};

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
/// `*.yml` file below it (hidden files and directories, and symlinked directories, are
/// skipped). Paths in diagnostics are `dir` joined with the file's relative path.
pub fn load(dir: &Path) -> LoadedConfig {
    let mut diagnostics = Vec::new();
    let mut sources = SourceFiles::new();
    let mut hasher = Sha256::new();
    let mut complete = true;

    let relative = match discover(dir) {
        Ok(files) => files,
        Err(error) => {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticCode::ConfigUnreadable,
                    format!("cannot read config directory {}: {error}", dir.display()),
                )
                .help("pass the directory holding licensectl.yaml with --config DIR"),
            );
            return finish(None, diagnostics, sources, hasher);
        }
    };
    if relative.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                DiagnosticCode::NoConfigFiles,
                format!("{} holds no *.yaml or *.yml file", dir.display()),
            )
            .help(format!(
                "create {} with `version: 1`, or pass the right directory with --config DIR",
                display_path(dir, SETTINGS_FILE).display()
            )),
        );
        return finish(None, diagnostics, sources, hasher);
    }
    let root_path = display_path(dir, SETTINGS_FILE);
    if !relative.iter().any(|r| r == SETTINGS_FILE) {
        diagnostics.push(
            Diagnostic::new(
                DiagnosticCode::MissingSettings,
                format!("{} has config files but no {SETTINGS_FILE}", dir.display()),
            )
            .help(format!(
                "create {} with at least `version: 1`",
                root_path.display()
            )),
        );
    }

    let mut texts: Vec<(&str, PathBuf, String)> = Vec::with_capacity(relative.len());
    for rel in &relative {
        let path = display_path(dir, rel);
        let bytes = match fs::read(dir.join(rel)) {
            Ok(bytes) => bytes,
            Err(error) => {
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticCode::ConfigUnreadable,
                        format!("cannot read {}: {error}", path.display()),
                    )
                    .at(Location {
                        file: path.as_path().into(),
                        line: 1,
                        column: 1,
                    }),
                );
                complete = false;
                continue;
            }
        };
        if bytes.len() > parse::MAX_FILE_BYTES {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticCode::YamlLimit,
                    format!(
                        "{} is {} bytes, more than the {} a config file may hold",
                        path.display(),
                        bytes.len(),
                        parse::MAX_FILE_BYTES
                    ),
                )
                .at(Location {
                    file: path.as_path().into(),
                    line: 1,
                    column: 1,
                })
                .help("split the principals over several files"),
            );
            complete = false;
            continue;
        }
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        let text = match decode(&path, &bytes) {
            Ok(text) => text,
            Err(diagnostic) => {
                sources.insert(&path, String::from_utf8_lossy(&bytes).into_owned());
                diagnostics.push(*diagnostic);
                complete = false;
                continue;
            }
        };
        let text = text.to_owned();
        texts.push((rel.as_str(), path, text));
    }
    // The settings file first: its profiles are what every file's principals are checked
    // against. Then every other file is parsed and checked on its own, in parallel.
    let root_index = texts.iter().position(|(rel, _, _)| *rel == SETTINGS_FILE);
    let root_file = root_index.and_then(|i| {
        let (_, path, text) = &texts[i];
        match parse::parse_file(path, text) {
            Ok(raw) => Some(check::ParsedFile {
                path: path.as_path().into(),
                is_root: true,
                raw,
            }),
            Err(mut found) => {
                complete = false;
                diagnostics.append(&mut found);
                None
            }
        }
    });
    let root = check::check_root(root_file.as_ref(), &root_path, &mut diagnostics);
    let mut parts = Vec::with_capacity(texts.len());
    if let Some(file) = &root_file {
        parts.push(check::check_principals(file, &root));
    }
    drop(root_file);
    let others: Vec<usize> = (0..texts.len())
        .filter(|&i| Some(i) != root_index)
        .collect();
    for result in parse_and_check(&texts, &others, &root) {
        match result {
            Ok(part) => parts.push(part),
            Err(mut found) => {
                complete = false;
                diagnostics.append(&mut found);
            }
        }
    }
    for (_, path, text) in texts {
        sources.insert(path, text);
    }
    let desired = check::combine(root, parts, complete, &mut diagnostics);
    finish(desired, diagnostics, sources, hasher)
}

type FileResult = Result<check::FilePrincipals, Vec<Diagnostic>>;

/// Parses the file `texts[i]` and checks its principals against `root`; the parsed file is
/// dropped where it was made.
fn parse_and_check_one(text: &(&str, PathBuf, String), root: &check::Root) -> FileResult {
    let (_, path, text) = text;
    let raw = parse::parse_file(path, text)?;
    let parsed = check::ParsedFile {
        path: path.as_path().into(),
        is_root: false,
        raw,
    };
    Ok(check::check_principals(&parsed, root))
}

/// Parses and checks the files `indices` of `texts` on up to `available_parallelism`
/// threads; results in the order of `indices`.
fn parse_and_check(
    texts: &[(&str, PathBuf, String)],
    indices: &[usize],
    root: &check::Root,
) -> Vec<FileResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(indices.len())
        .max(1);
    if threads == 1 {
        return indices
            .iter()
            .map(|&i| parse_and_check_one(&texts[i], root))
            .collect();
    }
    // Deal the files out round-robin, largest first, so the threads get similar work.
    let mut order: Vec<usize> = (0..indices.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(texts[indices[k]].2.len()));
    let mut results: Vec<Option<FileResult>> = (0..indices.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                scope.spawn(move || {
                    mine.into_iter()
                        .map(|k| (k, parse_and_check_one(&texts[indices[k]], root)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A panicking thread would be a bug in a dependency: its files stay `None` and
            // are reported below rather than taking the process down.
            if let Ok(done) = handle.join() {
                for (k, result) in done {
                    results[k] = Some(result);
                }
            }
        }
    });
    results
        .into_iter()
        .zip(indices)
        .map(|(result, &i)| {
            result.unwrap_or_else(|| {
                let path = &texts[i].1;
                Err(vec![
                    Diagnostic::new(
                        DiagnosticCode::YamlSyntax,
                        format!(
                            "{} could not be parsed (internal parser failure)",
                            path.display()
                        ),
                    )
                    .at(Location {
                        file: path.as_path().into(),
                        line: 1,
                        column: 1,
                    }),
                ])
            })
        })
        .collect()
}

fn finish(
    desired: Option<DesiredState>,
    mut diagnostics: Vec<Diagnostic>,
    sources: SourceFiles,
    hasher: Sha256,
) -> LoadedConfig {
    diagnostic::sort(&mut diagnostics);
    let desired = desired.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    LoadedConfig {
        desired,
        diagnostics,
        sources,
        digest,
    }
}

/// `dir/rel` as the user would write it (no leading `./`).
fn display_path(dir: &Path, rel: &str) -> PathBuf {
    if dir == Path::new(".") || dir.as_os_str().is_empty() {
        PathBuf::from(rel)
    } else {
        dir.join(rel)
    }
}

/// The text of a file, or an `invalid-encoding` diagnostic at the first bad byte.
fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, Box<Diagnostic>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            let before = String::from_utf8_lossy(valid);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
            Err(Box::new(
                Diagnostic::new(
                    DiagnosticCode::InvalidEncoding,
                    format!(
                        "{} is not valid UTF-8 (byte {} is not)",
                        path.display(),
                        error.valid_up_to()
                    ),
                )
                .at(Location {
                    file: path.into(),
                    line,
                    column,
                })
                .help(if utf16 {
                    "the file looks like UTF-16: save it as UTF-8"
                } else {
                    "save the file as UTF-8"
                }),
            ))
        }
    }
}

/// Every config file below `dir`, as `/`-separated relative paths, sorted.
pub fn discover(dir: &Path) -> std::io::Result<Vec<String>> {
    let metadata = fs::metadata(dir)?;
    if !metadata.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{prefix}{name}");
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                pending.push((entry.path(), format!("{rel}/")));
            } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
                && (file_type.is_file() || entry.path().is_file())
            {
                found.push(rel);
            }
        }
    }
    found.sort();
    Ok(found)
}
