//! Loading a config directory held in memory: [`ConfigFiles`] (relative paths and bytes,
//! as [`super::read_files`] reads them) → [`LoadedConfig`], the desired state with every
//! diagnostic, the file texts and the config digest.
//!
//! Pure: no filesystem, clock or environment. It decodes, parses and checks the files
//! (the settings file first, then the others on several threads; the result does not
//! depend on how many) and hashes their paths and bytes. Read errors recorded in the input
//! become diagnostics here, like every other problem.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{LoadedConfig, SETTINGS_FILE, check, parse};
use crate::config::desired::DesiredState;
use crate::diagnostic::{self, Diagnostic, DiagnosticCode, Location, SourceFiles};

/// A config directory in memory: how to name it, and its config files.
#[derive(Debug)]
pub struct ConfigFiles {
    /// The directory as the user named it: diagnostics name each file as `dir` joined
    /// with its relative path (just the relative path when `dir` is `.` or empty).
    pub dir: PathBuf,
    /// The config files (unique paths, any order), or why the directory could not be
    /// listed or read.
    pub files: Result<Vec<ConfigFile>, ReadError>,
    /// The limits the files were read with; [`load_files`] applies them again to the
    /// bytes in memory.
    pub limits: ReadLimits,
}

impl ConfigFiles {
    /// True when `word` occurs in the bytes of a file, or when a file or the directory
    /// could not be read (what it holds is unknown): a cheap, conservative look at what
    /// the config may declare before it is parsed.
    pub fn may_mention(&self, word: &str) -> bool {
        let Ok(files) = &self.files else {
            return true;
        };
        let finder = memchr::memmem::Finder::new(word.as_bytes());
        files.iter().any(|file| match &file.contents {
            Ok(bytes) => finder.find(bytes).is_some(),
            Err(_) => true,
        })
    }
}

/// One config file in memory.
#[derive(Debug)]
pub struct ConfigFile {
    /// `/`-separated path relative to the directory, e.g. `licenses/sales.yaml`.
    pub path: String,
    /// The file's bytes, or why it was not read.
    pub contents: Result<Vec<u8>, ReadError>,
}

/// Largest config file accepted, in bytes (a 200k-user file is about 10 MiB).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Largest total of all config files of a directory, in bytes (about 10 million users).
pub const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;

/// How much a config directory may hold (docs/config.md, "Limits"). Both limits are
/// checked before anything is read, and again on the bytes in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest single file, in bytes: [`MAX_FILE_BYTES`] (the YAML parser's own budget
    /// is sized for it, so it is not raised).
    pub max_file_bytes: u64,
    /// Largest total of all files, in bytes: [`MAX_TOTAL_BYTES`] unless raised
    /// (`LICENSECTL_MAX_CONFIG_BYTES`).
    pub max_total_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: MAX_FILE_BYTES,
            max_total_bytes: MAX_TOTAL_BYTES,
        }
    }
}

/// Why a config directory or file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The operating system refused (missing, permissions, ...).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Not a regular file (a symbolic link, a FIFO, a device, ...): never opened.
    #[error("it is {what}")]
    NotRegular {
        /// What it is, e.g. "a symbolic link (to ../secret.env)".
        what: String,
    },
    /// One file is larger than [`ReadLimits::max_file_bytes`]: not read.
    #[error("{bytes} bytes, more than the {limit} a config file may hold")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The files together are larger than [`ReadLimits::max_total_bytes`]: none read.
    #[error(
        "{files} config files of {bytes} bytes in all, more than the {limit} a config directory may hold"
    )]
    TotalTooLarge {
        /// How many files.
        files: usize,
        /// Their total size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}

impl ConfigFiles {
    /// A directory named `dir` holding `files` (relative path, bytes), all readable.
    pub fn new<P: Into<String>, B: Into<Vec<u8>>>(
        dir: impl Into<PathBuf>,
        files: impl IntoIterator<Item = (P, B)>,
    ) -> Self {
        ConfigFiles {
            dir: dir.into(),
            limits: ReadLimits::default(),
            files: Ok(files
                .into_iter()
                .map(|(path, bytes)| ConfigFile {
                    path: path.into(),
                    contents: Ok(bytes.into()),
                })
                .collect()),
        }
    }
}

/// One decoded file: relative path, path as diagnostics name it, text.
type Text = (String, PathBuf, String);

/// Checks the config directory held in `files`: what [`super::load`] does after reading.
/// Files are taken in path order, whatever the order given.
pub fn load_files(files: ConfigFiles) -> LoadedConfig {
    let ConfigFiles { dir, files, limits } = files;
    let dir = dir.as_path();
    let mut diagnostics = Vec::new();
    let mut sources = SourceFiles::new();
    let mut hasher = Sha256::new();
    let mut complete = true;

    let mut files = match files {
        Ok(files) => files,
        Err(ReadError::TotalTooLarge {
            files,
            bytes,
            limit,
        }) => {
            diagnostics.push(total_too_large(dir, files, bytes, limit));
            return finish(None, diagnostics, sources, hasher);
        }
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
    // The same limits on the bytes in memory as `read_files` applies from metadata.
    let total: u64 = files
        .iter()
        .filter_map(|f| f.contents.as_ref().ok())
        .map(|b| b.len() as u64)
        .fold(0, u64::saturating_add);
    if total > limits.max_total_bytes {
        diagnostics.push(total_too_large(
            dir,
            files.len(),
            total,
            limits.max_total_bytes,
        ));
        return finish(None, diagnostics, sources, hasher);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if files.is_empty() {
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
    if !files.iter().any(|f| f.path == SETTINGS_FILE) {
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

    let mut texts: Vec<Text> = Vec::with_capacity(files.len());
    for ConfigFile {
        path: rel,
        contents,
    } in files
    {
        let path = display_path(dir, &rel);
        let first_line = || Location {
            file: path.as_path().into(),
            line: 1,
            column: 1,
        };
        let refused = match contents {
            Ok(bytes) if bytes.len() as u64 > limits.max_file_bytes => Err(ReadError::TooLarge {
                bytes: bytes.len() as u64,
                limit: limits.max_file_bytes,
            }),
            other => other,
        };
        let bytes = match refused {
            Ok(bytes) => bytes,
            Err(error) => {
                diagnostics.push(file_problem(&path, error).at(first_line()));
                complete = false;
                continue;
            }
        };
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        match decode(&path, bytes) {
            Ok(text) => texts.push((rel, path, text)),
            Err((diagnostic, lossy)) => {
                sources.insert(&path, lossy);
                diagnostics.push(*diagnostic);
                complete = false;
            }
        }
    }
    // The settings file first: its profiles are what every file's principals are checked
    // against. Then every other file is parsed and checked on its own, in parallel.
    let root_index = texts.iter().position(|(rel, _, _)| rel == SETTINGS_FILE);
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

/// Parses one file and checks its principals against `root`; the parsed file is dropped
/// where it was made.
fn parse_and_check_one(text: &Text, root: &check::Root) -> FileResult {
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
fn parse_and_check(texts: &[Text], indices: &[usize], root: &check::Root) -> Vec<FileResult> {
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

/// The diagnostic for a file that was not read.
fn file_problem(path: &Path, error: ReadError) -> Diagnostic {
    match error {
        ReadError::NotRegular { what } => Diagnostic::new(
            DiagnosticCode::NotARegularFile,
            format!("{} is {what}; it is not read", path.display()),
        )
        .help(
            "config discovery reads only regular files and follows no symbolic link: put the file itself there, or remove the entry (docs/security.md)",
        ),
        ReadError::TooLarge { bytes, limit } => Diagnostic::new(
            DiagnosticCode::YamlLimit,
            format!(
                "{} is {bytes} bytes, more than the {limit} a config file may hold",
                path.display()
            ),
        )
        .help("split the principals over several files"),
        error @ (ReadError::Io(_) | ReadError::TotalTooLarge { .. }) => Diagnostic::new(
            DiagnosticCode::ConfigUnreadable,
            format!("cannot read {}: {error}", path.display()),
        ),
    }
}

/// The diagnostic for a directory whose files together exceed the limit.
fn total_too_large(dir: &Path, files: usize, bytes: u64, limit: u64) -> Diagnostic {
    Diagnostic::new(
        DiagnosticCode::YamlLimit,
        format!(
            "{} holds {files} config files of {bytes} bytes in all, more than the {limit} a config directory may hold; no file was read",
            dir.display()
        ),
    )
    .help("raise the limit with LICENSECTL_MAX_CONFIG_BYTES if the tenant really needs it (docs/config.md, \"Limits\")")
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

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` with each carriage return that is not followed by a line feed (classic Mac line
/// ends) made a line feed. YAML counts a lone CR as a line break, snippets and editors
/// count line feeds: without this, a location after one would point at another line.
/// (Found by the `config_loader` fuzz target.)
fn lone_cr_as_lf(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// The text of a file without its byte order mark, or an `invalid-encoding` diagnostic at
/// the first bad byte together with the file's text decoded lossily (for snippets).
fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, (Box<Diagnostic>, String)> {
    let bom = bytes.starts_with(BOM);
    if bom {
        bytes.drain(..BOM.len());
    }
    let error = match String::from_utf8(bytes) {
        Ok(text) => return Ok(lone_cr_as_lf(text)),
        Err(error) => error,
    };
    let bytes = error.as_bytes();
    let valid_up_to = error.utf8_error().valid_up_to();
    let before = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    let diagnostic = Diagnostic::new(
        DiagnosticCode::InvalidEncoding,
        format!(
            "{} is not valid UTF-8 (byte {valid_up_to} is not)",
            path.display()
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
    });
    let mut lossy = if bom {
        "\u{FEFF}".to_owned()
    } else {
        String::new()
    };
    lossy.push_str(&String::from_utf8_lossy(bytes));
    Err((Box::new(diagnostic), lossy))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "version: 1\nprofiles:\n  worker:\n    - sku: SPE_E3\n";
    const TEAM: &str = "users:\n  alice@contoso.com: {profile: worker}\n";

    fn rendered(loaded: &LoadedConfig) -> Vec<String> {
        loaded.diagnostics.iter().map(ToString::to_string).collect()
    }

    /// What `plan --snapshot` decides how much of each user to read by: never false for
    /// a config that may hold the word.
    #[test]
    fn a_word_may_be_mentioned_when_a_file_holds_it_or_cannot_be_read() {
        let files = ConfigFiles::new("cfg", [(SETTINGS_FILE, ROOT), ("licenses/team.yaml", TEAM)]);
        assert!(!files.may_mention("rules"));
        assert!(files.may_mention("worker"));
        let with_rules = ConfigFiles::new(
            "cfg",
            [
                (SETTINGS_FILE, ROOT),
                ("licenses/r.yaml", "rules:\n  - name: a\n"),
            ],
        );
        assert!(with_rules.may_mention("rules"));
        let mut unreadable = ConfigFiles::new("cfg", [(SETTINGS_FILE, ROOT)]);
        if let Ok(list) = &mut unreadable.files {
            list.push(ConfigFile {
                path: "licenses/x.yaml".into(),
                contents: Err(ReadError::TooLarge { bytes: 9, limit: 1 }),
            });
        }
        assert!(unreadable.may_mention("rules"));
        let unlisted = ConfigFiles {
            dir: "cfg".into(),
            files: Err(ReadError::Io(std::io::Error::other("gone"))),
            limits: ReadLimits::default(),
        };
        assert!(unlisted.may_mention("rules"));
    }

    #[test]
    fn files_are_taken_in_path_order_whatever_the_order_given() {
        let forward = load_files(ConfigFiles::new(
            "cfg",
            [
                ("licensectl.yaml", ROOT),
                ("team.yaml", TEAM),
                ("z.yaml", "users: {}\n"),
            ],
        ));
        let backward = load_files(ConfigFiles::new(
            "cfg",
            [
                ("z.yaml", "users: {}\n"),
                ("team.yaml", TEAM),
                ("licensectl.yaml", ROOT),
            ],
        ));
        assert!(forward.is_valid(), "{:?}", forward.diagnostics);
        assert_eq!(forward.digest, backward.digest);
        assert_eq!(forward.desired, backward.desired);
    }

    #[test]
    fn unreadable_files_and_directories_are_diagnostics() {
        let loaded = load_files(ConfigFiles {
            dir: "cfg".into(),
            limits: ReadLimits::default(),
            files: Ok(vec![
                ConfigFile {
                    path: SETTINGS_FILE.to_owned(),
                    contents: Ok(ROOT.into()),
                },
                ConfigFile {
                    path: "team.yaml".to_owned(),
                    contents: Err(io::Error::other("permission denied").into()),
                },
            ]),
        });
        assert!(loaded.desired.is_none());
        // Profile 'worker' is not reported unused: the unreadable file might use it.
        assert_eq!(
            rendered(&loaded),
            [
                "cfg/team.yaml:1:1: error[config-unreadable]: cannot read cfg/team.yaml: permission denied"
            ]
        );
        let loaded = load_files(ConfigFiles {
            dir: "cfg".into(),
            files: Err(io::Error::new(io::ErrorKind::NotFound, "no such directory").into()),
            limits: ReadLimits::default(),
        });
        assert_eq!(
            rendered(&loaded),
            [
                "error[config-unreadable]: cannot read config directory cfg: no such directory (help: pass the directory holding licensectl.yaml with --config DIR)"
            ]
        );
    }

    /// Thousands of profiles, each referenced misspelt: every "did you mean" search is
    /// bounded (on main, each compared with every profile: 9 million comparisons here).
    #[test]
    fn thousands_of_profiles_validate_with_bounded_did_you_mean_searches() {
        use crate::config::suggest::{MAX_COMPARISONS, comparisons};
        let n = 3_000;
        let mut root = String::from("version: 1\nprofiles:\n");
        for i in 0..n {
            root.push_str(&format!("  team-{i:04}:\n    - sku: SPE_E3\n"));
        }
        root.push_str("users:\n");
        for i in 0..n {
            root.push_str(&format!("  u{i}@contoso.com: {{profile: taem-{i:04}}}\n"));
        }
        // The settings file's own principals are checked on this thread.
        let before = comparisons();
        let loaded = load_files(ConfigFiles::new("cfg", [(SETTINGS_FILE, root)]));
        let made = comparisons() - before;
        let unknown: Vec<&Diagnostic> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.code == DiagnosticCode::UnknownProfile)
            .collect();
        assert_eq!(unknown.len(), n);
        assert!(
            made <= (n * MAX_COMPARISONS) as u64,
            "{made} comparisons for {n} searches"
        );
        let suggested = unknown
            .iter()
            .filter(|d| {
                d.help
                    .as_deref()
                    .is_some_and(|h| h.starts_with("did you mean 'team-"))
            })
            .count();
        assert_eq!(
            suggested, 1_000,
            "a thousand searches per file, then the list"
        );
        let first = unknown
            .iter()
            .find(|d| d.message.contains("taem-0007"))
            .and_then(|d| d.help.as_deref());
        assert_eq!(first, Some("did you mean 'team-0007'?"));
        assert!(
            unknown
                .iter()
                .filter_map(|d| d.help.as_deref())
                .all(|h| h.len() < 400),
            "help lists are capped"
        );
    }

    /// Lines ended by a lone CR are lines to YAML: locations after them must name the
    /// line a snippet shows (a `config_loader` fuzz finding).
    #[test]
    fn locations_after_lone_carriage_returns_name_the_right_line() {
        let text = "version: 1\r\rprofiles:\r  worker:\r    - sku: SPE_E3\rusers:\r  a@b.com: {profile: wroker}\r";
        let loaded = load_files(ConfigFiles::new(".", [(SETTINGS_FILE, text)]));
        let unknown = loaded
            .diagnostics
            .iter()
            .find(|d| d.code == DiagnosticCode::UnknownProfile)
            .expect("unknown profile");
        let location = unknown.location.as_ref().expect("located");
        assert_eq!((location.line, location.column), (7, 22));
        let source = loaded
            .sources
            .get(Path::new(SETTINGS_FILE))
            .expect("source");
        assert_eq!(source.lines().nth(6), Some("  a@b.com: {profile: wroker}"));
        let human = crate::diagnostic::render::human(&loaded.diagnostics, &loaded.sources, false);
        assert!(
            human.contains("7 │   a@b.com: {profile: wroker}"),
            "{human}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped_from_the_text_but_hashed() {
        let plain = load_files(ConfigFiles::new(".", [(SETTINGS_FILE, ROOT)]));
        let with_bom = load_files(ConfigFiles::new(
            ".",
            [(SETTINGS_FILE, [BOM, ROOT.as_bytes()].concat())],
        ));
        assert!(with_bom.is_valid(), "{:?}", with_bom.diagnostics);
        assert_eq!(
            with_bom.sources.get(Path::new(SETTINGS_FILE)),
            Some(ROOT),
            "paths in `.` are named without a leading ./"
        );
        assert_ne!(plain.digest, with_bom.digest);
    }
}
