//! The I/O edge of config loading: finds the config files below a directory and reads
//! them into memory as a [`ConfigFiles`]. It checks nothing about their content and
//! reports nothing: a directory or file that cannot (or must not) be read is recorded with
//! a [`ReadError`], and [`super::load_files`] turns it into a diagnostic like every other
//! problem.
//!
//! What is read, and what never is (docs/security.md, "Files outside the config
//! directory"):
//! - only **regular files** named `*.yaml` / `*.yml` below the directory (hidden files and
//!   directories skipped);
//! - **no symbolic link is followed**, whether its target is inside the directory or not:
//!   a symlink named like a config file, or a symlink to a directory, is a
//!   `not-a-regular-file` error (a dangling one too), never a silent skip and never read;
//! - FIFOs, devices and sockets named like config files are errors and are never opened
//!   (so a FIFO cannot block the read);
//! - sizes are checked from metadata **before** reading: a file above
//!   [`ReadLimits::max_file_bytes`] is not read, and when the files together exceed
//!   [`ReadLimits::max_total_bytes`] none is read.
//!
//! Each file is opened without following a swap of the entry checked: after `open`, the
//! open file's own metadata must still be the regular file (same device and inode) that
//! was listed, and at most its listed size plus one byte is read.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::load::{ConfigFile, ConfigFiles, ReadError, ReadLimits};

/// Reads the config directory `dir` with the default [`ReadLimits`].
pub fn read_files(dir: &Path) -> ConfigFiles {
    read_files_with(dir, &ReadLimits::default())
}

/// Reads the config directory `dir`: every file [`discover`] finds, with its bytes or why
/// it was not read; the directory's own error when it cannot be listed, or when its files
/// together exceed `limits.max_total_bytes` (then no file is read).
pub fn read_files_with(dir: &Path, limits: &ReadLimits) -> ConfigFiles {
    let found = match discover_entries(dir) {
        Ok(found) => found,
        Err(error) => {
            return ConfigFiles {
                dir: dir.to_path_buf(),
                files: Err(ReadError::Io(error)),
                limits: *limits,
            };
        }
    };
    let total: u64 = found
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Regular { len, .. } => Some(*len),
            Kind::Refused(_) => None,
        })
        .fold(0, u64::saturating_add);
    if total > limits.max_total_bytes {
        return ConfigFiles {
            dir: dir.to_path_buf(),
            files: Err(ReadError::TotalTooLarge {
                files: found.len(),
                bytes: total,
                limit: limits.max_total_bytes,
            }),
            limits: *limits,
        };
    }
    let files = found
        .into_iter()
        .map(|entry| {
            let contents = match entry.kind {
                Kind::Refused(what) => Err(ReadError::NotRegular { what }),
                Kind::Regular { len, .. } if len > limits.max_file_bytes => {
                    Err(ReadError::TooLarge {
                        bytes: len,
                        limit: limits.max_file_bytes,
                    })
                }
                Kind::Regular { len, identity } => {
                    read_regular(&dir.join(&entry.path), len, identity, limits.max_file_bytes)
                }
            };
            ConfigFile {
                path: entry.path,
                contents,
            }
        })
        .collect();
    ConfigFiles {
        dir: dir.to_path_buf(),
        files: Ok(files),
        limits: *limits,
    }
}

/// Every config file below `dir` (`*.yaml` and `*.yml`, hidden files and directories
/// skipped), as `/`-separated relative paths, sorted; entries that are named like config
/// files but are not regular files (symlinks, FIFOs, devices) are listed too: reading them
/// with [`read_files`] reports why they are refused.
pub fn discover(dir: &Path) -> io::Result<Vec<String>> {
    Ok(discover_entries(dir)?.into_iter().map(|e| e.path).collect())
}

/// Identity of a listed regular file, checked again on the open handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

fn identity(metadata: &fs::Metadata) -> Identity {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Identity { dev: 0, ino: 0 }
    }
}

#[derive(Debug)]
enum Kind {
    Regular {
        len: u64,
        identity: Identity,
    },
    /// Not read: what it is, e.g. "a symbolic link (to ../secret.env)".
    Refused(String),
}

#[derive(Debug)]
struct Entry {
    path: String,
    kind: Kind,
}

fn is_config_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// What a non-regular, non-directory entry is, in words.
fn describe_special(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    let _ = file_type;
    "not a regular file"
}

fn discover_entries(dir: &Path) -> io::Result<Vec<Entry>> {
    // The directory named on the command line may itself be a symlink: that is the
    // operator's choice, not the content's.
    let metadata = fs::metadata(dir)?;
    if !metadata.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let raw_name = entry.file_name();
            let lossy = raw_name.to_string_lossy();
            if lossy.starts_with('.') {
                continue;
            }
            let plain = raw_name
                .to_str()
                .filter(|n| !n.chars().any(crate::diagnostic::is_unsafe_char));
            let Some(name) = plain else {
                // Not UTF-8, or holding control characters: never read, and named safely.
                if is_config_name(&lossy) || entry.file_type()?.is_dir() {
                    found.push(Entry {
                        path: format!("{prefix}{}", crate::diagnostic::escape_value(&lossy)),
                        kind: Kind::Refused(
                            "named with bytes that are not plain UTF-8 text".to_owned(),
                        ),
                    });
                }
                continue;
            };
            let rel = format!("{prefix}{name}");
            // `DirEntry::file_type` does not follow symlinks.
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                pending.push((entry.path(), format!("{rel}/")));
            } else if file_type.is_symlink() {
                let target = fs::read_link(entry.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "an unreadable target".to_owned());
                // The target's type (metadata only, never its content) tells a symlinked
                // directory from a dangling link; either way nothing is followed.
                let what = match fs::metadata(entry.path()) {
                    Ok(m) if m.is_dir() => format!("a symbolic link to a directory ({target})"),
                    Ok(_) if is_config_name(name) => format!("a symbolic link (to {target})"),
                    Ok(_) => continue,
                    Err(_) if is_config_name(name) => {
                        format!("a dangling symbolic link (to {target})")
                    }
                    Err(_) => continue,
                };
                found.push(Entry {
                    path: rel,
                    kind: Kind::Refused(what),
                });
            } else if is_config_name(name) {
                let kind = if file_type.is_file() {
                    let metadata = entry.metadata()?;
                    Kind::Regular {
                        len: metadata.len(),
                        identity: identity(&metadata),
                    }
                } else {
                    Kind::Refused(describe_special(&file_type).to_owned())
                };
                found.push(Entry { path: rel, kind });
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Reads the regular file `path` listed with `len` bytes and `listed` identity: refuses it
/// when the open file is not that regular file any more, and reads at most `limit` + 1
/// bytes (a file that grew past the limit is refused as too large).
fn read_regular(path: &Path, len: u64, listed: Identity, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() || identity(&metadata) != listed {
        return Err(ReadError::NotRegular {
            what: "replaced by another file while being read".to_owned(),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            bytes: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}
