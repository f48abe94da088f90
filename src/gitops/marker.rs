//! Targets and the hidden marker: how a comment, a thread or an issue is found again.
//!
//! A target is one config directory planned against one tenant (or a name given with
//! `--target`). Every body licensectl posts starts with one HTML comment, invisible in the
//! rendered Markdown on GitHub and Azure DevOps:
//!
//! ```text
//! <!-- licensectl:v1 target=tenant%3Dcontoso.onmicrosoft.com%3Bconfig%3Dtenants%2Fcontoso state=changes destructive=no -->
//! ```
//!
//! The target is percent-encoded (nothing in it can close the comment), and the state
//! records what the body said, so that labels can be computed from every target's latest
//! comment on the pull request. Only a marker on the first line counts: a report that
//! quotes a marker further down cannot pose as another target's comment. Pure.

// Pure: no clock, environment, filesystem, network or process (clippy.toml).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fmt;

const PREFIX: &str = "<!-- licensectl:v1 ";
const SUFFIX: &str = " -->";

/// What a comment is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    key: String,
    title: String,
}

impl Target {
    /// The config directory `config_dir` planned against `tenant` (its domain or id).
    pub fn of(tenant: &str, config_dir: &str) -> Self {
        let config = normalize_dir(config_dir);
        Target {
            key: format!("tenant={tenant};config={config}"),
            title: format!("{tenant} ({config})"),
        }
    }

    /// A target named with `--target NAME`.
    pub fn named(name: &str) -> Self {
        Target {
            key: format!("name={name}"),
            title: name.to_owned(),
        }
    }

    /// `TENANT (CONFIG DIR)` or the name: for titles and messages.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The key the marker holds.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

/// A config directory as the marker names it: forward slashes, no `./` prefix or trailing
/// slash, `.` for the repository root.
fn normalize_dir(dir: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split(['/', '\\']) {
        match part {
            "" | "." => {}
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        let joined = parts.join("/");
        if dir.starts_with('/') {
            format!("/{joined}")
        } else {
            joined
        }
    }
}

/// What a body said, as recorded in its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// The plan has changes (or the drift report has drift).
    pub changes: bool,
    /// A principal loses a license entirely.
    pub destructive: bool,
}

/// The marker line for `target` in `state` (without a line break).
pub fn marker(target: &Target, state: State) -> String {
    format!(
        "{PREFIX}target={} state={} destructive={}{SUFFIX}",
        encode(target.key()),
        if state.changes {
            "changes"
        } else {
            "no-changes"
        },
        if state.destructive { "yes" } else { "no" }
    )
}

/// The target key and state of a body whose first line is a licensectl marker.
pub fn read(body: &str) -> Option<(String, State)> {
    let first = body.lines().next()?.trim_end();
    let inner = first.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let mut key = None;
    let mut changes = None;
    let mut destructive = None;
    for field in inner.split(' ') {
        let (name, value) = field.split_once('=')?;
        match name {
            "target" => key = Some(decode(value)?),
            "state" => {
                changes = Some(match value {
                    "changes" => true,
                    "no-changes" => false,
                    _ => return None,
                })
            }
            "destructive" => destructive = Some(value == "yes"),
            _ => {}
        }
    }
    Some((
        key?,
        State {
            changes: changes?,
            destructive: destructive.unwrap_or(false),
        },
    ))
}

/// True when `body` is the marked body of `target`.
pub fn is_for(body: &str, target: &Target) -> bool {
    read(body).is_some_and(|(key, _)| key == target.key())
}

/// Percent-encoding of everything but ASCII letters, digits and `-._~`.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_reads_back_its_target_and_state() {
        let target = Target::of("contoso.onmicrosoft.com", "./tenants/contoso/");
        assert_eq!(target.title(), "contoso.onmicrosoft.com (tenants/contoso)");
        for (changes, destructive) in [(true, true), (true, false), (false, false)] {
            let state = State {
                changes,
                destructive,
            };
            let body = format!("{}\n### licensectl plan\n", marker(&target, state));
            assert_eq!(read(&body), Some((target.key().to_owned(), state)));
            assert!(is_for(&body, &target));
            assert!(!is_for(&body, &Target::of("contoso.onmicrosoft.com", ".")));
        }
    }

    #[test]
    fn nothing_in_a_target_can_close_the_html_comment() {
        let target = Target::named("a --> <script> b");
        let line = marker(
            &target,
            State {
                changes: true,
                destructive: false,
            },
        );
        assert_eq!(line.matches("-->").count(), 1, "{line}");
        assert!(line.ends_with(" -->"));
        assert!(!line.contains('<') || line.starts_with("<!--") && line.matches('<').count() == 1);
        assert!(is_for(&line, &target));
    }

    #[test]
    fn only_a_marker_on_the_first_line_counts() {
        let target = Target::named("prod");
        let state = State {
            changes: false,
            destructive: false,
        };
        assert!(!is_for(
            &format!("quote:\n{}", marker(&target, state)),
            &target
        ));
        assert!(read("<!-- licensectl:v1 target=%ZZ state=changes -->").is_none());
        assert!(read("<!-- licensectl:v1 target=x state=maybe -->").is_none());
        assert!(read("").is_none());
    }

    #[test]
    fn config_directories_are_named_the_same_however_they_are_written() {
        for dir in [
            "tenants/contoso",
            "./tenants/contoso",
            "tenants//contoso/",
            "tenants\\contoso",
        ] {
            assert_eq!(
                Target::of("t", dir),
                Target::of("t", "tenants/contoso"),
                "{dir}"
            );
        }
        assert_eq!(Target::of("t", "./").title(), "t (.)");
        assert_eq!(Target::of("t", "").title(), "t (.)");
    }
}
