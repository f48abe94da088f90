//! The I/O edge of config loading: finds the config files below a directory and reads
//! them into memory as a [`ConfigFiles`]. It checks nothing and reports nothing: a
//! directory or file that cannot be read is recorded with its [`std::io::Error`], and
//! [`super::load_files`] turns it into a diagnostic like every other problem.

use std::fs;
use std::path::Path;

use super::load::{ConfigFile, ConfigFiles};

/// Reads the config directory `dir`: every file [`discover`] finds, with its bytes or the
/// error reading it; the directory's own error when it cannot be listed.
pub fn read_files(dir: &Path) -> ConfigFiles {
    let files = discover(dir).map(|found| {
        found
            .into_iter()
            .map(|path| {
                let contents = fs::read(dir.join(&path));
                ConfigFile { path, contents }
            })
            .collect()
    });
    ConfigFiles {
        dir: dir.to_path_buf(),
        files,
    }
}

/// Every config file below `dir` (`*.yaml` and `*.yml`; hidden files and directories, and
/// symlinked directories, are skipped), as `/`-separated relative paths, sorted.
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
