//! The config loader on arbitrary bytes, through its pure seam `config::load_files`: the
//! input is split at `\0---\0` into `licensectl.yaml` and principal files. Loading and
//! rendering the diagnostics must never panic, every diagnostic must be a config code,
//! every location must be inside a file that was read, and the desired state must exist
//! exactly when there is no error. The fast reader of plain principal files must give
//! exactly what serde-saphyr gives whenever it takes a file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licensectl::config::{ConfigFiles, agrees_with_serde_saphyr, load_files};
use licensectl::diagnostic::{Stage, render};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split_windows_at(b"\0---\0");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(root) = parts.next() {
        files.push(("licensectl.yaml".to_owned(), root.to_vec()));
    }
    for (i, part) in parts.take(8).enumerate() {
        files.push((format!("licenses/f{i}.yaml"), part.to_vec()));
    }
    for (_, bytes) in &files {
        if let Ok(text) = std::str::from_utf8(bytes) {
            assert!(agrees_with_serde_saphyr(text), "the plain reader disagrees");
        }
    }
    let loaded = load_files(ConfigFiles::new("cfg", files));
    let has_error = loaded.diagnostics.iter().any(|d| d.is_error());
    assert_eq!(loaded.desired.is_some(), !has_error);
    for diagnostic in &loaded.diagnostics {
        assert!(diagnostic.code.stages().contains(&Stage::Config));
        for location in diagnostic
            .location
            .iter()
            .chain(diagnostic.related.iter().map(|r| &r.0))
        {
            if let Some(text) = loaded.sources.get(&location.file) {
                assert!(location.line >= 1 && location.column >= 1);
                assert!(location.line <= text.lines().count() + 1);
            }
        }
    }
    let human = render::human(&loaded.diagnostics, &loaded.sources, false);
    let _ = render::json(&loaded.diagnostics);
    let github = render::github(&loaded.diagnostics);
    // Nothing that can steer a terminal reaches the output.
    for text in [&human, &github] {
        assert!(
            !text
                .chars()
                .any(|c| c == '\u{1b}' || c == '\u{9b}' || c == '\u{202e}')
        );
    }
});

/// Splitting a byte slice at every occurrence of a separator.
trait SplitWindows {
    fn split_windows_at<'a>(&'a self, separator: &'a [u8]) -> SplitAt<'a>;
}

impl SplitWindows for [u8] {
    fn split_windows_at<'a>(&'a self, separator: &'a [u8]) -> SplitAt<'a> {
        SplitAt {
            rest: Some(self),
            separator,
        }
    }
}

struct SplitAt<'a> {
    rest: Option<&'a [u8]>,
    separator: &'a [u8],
}

impl<'a> Iterator for SplitAt<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest
            .windows(self.separator.len())
            .position(|w| w == self.separator)
        {
            Some(at) => {
                self.rest = Some(&rest[at + self.separator.len()..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}
