//! A fast reader for principal files in the plain layout that `licensectl export` writes
//! (and most hand-kept files follow): `users:` and `groups:` at the top, each entry's key
//! indented two spaces, its keys four, license items (`- sku: …`) six, a license's other
//! keys eight and block lists of plans ten. Values are plain scalars of letters, digits
//! and `. _ @ + -` (a GUID may start with a digit), or quoted strings without escapes,
//! and plan lists may be flow lists (`[A, B]`). The result is the [`RawFile`] serde-saphyr
//! builds, with the line and column serde-saphyr gives every value (the tests and the
//! `config_loader` fuzz target hold the two equal), in about a fifth of the time.
//!
//! It must not decide anything: on any line it does not recognise (another key, an anchor,
//! a tag, a tab, a null, a YAML 1.1 boolean word, an escape, a duplicate key, a missing
//! `sku`, more values than serde-saphyr's budget allows) it returns `None`, and the
//! caller parses the file with serde-saphyr, so every diagnostic is that parser's.

use serde::Deserialize as _;
use serde::de::value::Error as ValueError;
use serde_saphyr::{Location, Spanned};

use super::raw::{Entries, RawFile, RawGroup, RawLicense, RawUser};

/// Most values one file may hold on this path: half of serde-saphyr's node budget
/// (`super::parse::yaml_options`), so that a file near the budget is left to it.
const MAX_NODES: usize = 10_000_000;

/// Words that some YAML reader (YAML 1.1 or 1.2) turns into a boolean or null: `export`
/// quotes them, and this reader leaves them to serde-saphyr.
pub(crate) const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null"];

/// The file is not in the plain layout (or not certainly): parse it with serde-saphyr.
struct NotPlain;

type Step<T> = Result<T, NotPlain>;

/// Parses `text` when it is a plain principal file; `None` otherwise.
pub(crate) fn parse_plain(text: &str) -> Option<RawFile> {
    if text.starts_with('\u{feff}') || memchr::memchr2(b'\t', b'\r', text.as_bytes()).is_some() {
        return None;
    }
    let mut reader = Reader {
        text,
        pos: 0,
        line_no: 0,
        peeked: None,
        nodes: 0,
    };
    reader.file().ok()
}

/// One line with content: its number (1-based), indentation and the rest.
#[derive(Clone, Copy)]
struct Line<'a> {
    no: u32,
    indent: usize,
    body: &'a str,
}

impl Line<'_> {
    /// The location of the byte at `offset` into the body (columns count characters).
    fn at(&self, offset: usize) -> Step<Location> {
        let prefix = self.body.get(..offset).ok_or(NotPlain)?;
        let chars = if prefix.is_ascii() {
            prefix.len()
        } else {
            prefix.chars().count()
        };
        location(self.no, self.indent + chars + 1)
    }
}

/// A `serde_saphyr::Location` for `line` and `column` (1-based), made through its
/// `Deserialize` (it has no public constructor); the span stays unknown, as nothing
/// here reads it.
fn location(line: u32, column: usize) -> Step<Location> {
    let column = u32::try_from(column).map_err(|_| NotPlain)?;
    Location::deserialize(LineColumn {
        line,
        column,
        field: 0,
    })
    .map_err(|_| NotPlain)
}

/// A map of `line` and `column` for `Location::deserialize` (serde's `MapDeserializer`
/// did the same at three times the cost, a million times for a 250k-user file).
struct LineColumn {
    line: u32,
    column: u32,
    /// The next field: 0 `line`, 1 `column`, 2 none.
    field: u8,
}

impl<'de> serde::Deserializer<'de> for LineColumn {
    type Error = ValueError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> serde::de::MapAccess<'de> for LineColumn {
    type Error = ValueError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let key = match self.field {
            0 => "line",
            1 => "column",
            _ => return Ok(None),
        };
        seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let value = if self.field == 0 {
            self.line
        } else {
            self.column
        };
        self.field += 1;
        seed.deserialize(serde::de::value::U32Deserializer::new(value))
    }
}

fn spanned<T>(value: T, at: Location) -> Spanned<T> {
    Spanned::new(value, at, at)
}

/// True for characters no value or comment here may hold (and `export` escapes): controls
/// and the characters some YAML reader treats as a line break or byte-order mark.
pub(crate) fn is_unusual(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// The bytes of a plain scalar here (and of one `export` writes unquoted).
pub(crate) fn is_plain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-')
}

/// True for a hyphenated 8-4-4-4-12 hex GUID: the one plain scalar taken that may start
/// with a digit (it cannot read as a YAML number). Stricter than `crate::ids::is_guid`,
/// which also takes forms that could.
fn is_guid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The scalar at the start of `s`: its text and the bytes it takes.
fn scalar(s: &str) -> Step<(&str, usize)> {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(&quote @ (b'"' | b'\'')) => {
            let close = memchr::memchr(quote, &bytes[1..]).ok_or(NotPlain)? + 1;
            let value = &s[1..close];
            // An escape (`\` in double quotes, `''` in single quotes) is left to serde-saphyr.
            if (quote == b'"' && value.contains('\\'))
                || (quote == b'\'' && bytes.get(close + 1) == Some(&b'\''))
                || value.chars().any(is_unusual)
            {
                return Err(NotPlain);
            }
            Ok((value, close + 1))
        }
        Some(first) if first.is_ascii_alphanumeric() => {
            let len = bytes
                .iter()
                .position(|&b| !is_plain_char(b))
                .unwrap_or(bytes.len());
            let value = &s[..len];
            if (!first.is_ascii_alphabetic() && !is_guid(value))
                || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(value))
            {
                return Err(NotPlain);
            }
            Ok((value, len))
        }
        _ => Err(NotPlain),
    }
}

/// Checks that `rest` holds nothing but spaces and perhaps a comment after one.
fn line_end(rest: &str) -> Step<()> {
    let trimmed = rest.trim_start_matches(' ');
    if trimmed.is_empty() {
        return Ok(());
    }
    if trimmed.starts_with('#') && trimmed.len() < rest.len() && comment_ok(trimmed) {
        return Ok(());
    }
    Err(NotPlain)
}

fn comment_ok(comment: &str) -> bool {
    if comment.is_ascii() {
        comment.bytes().all(|b| (b' '..=b'~').contains(&b))
    } else {
        !comment.chars().any(is_unusual)
    }
}

/// `KEY:` at the start of a line's body: the key and what follows the colon.
fn key(body: &str) -> Step<(&str, &str)> {
    let (key, len) = scalar(body)?;
    let rest = body[len..].strip_prefix(':').ok_or(NotPlain)?;
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(NotPlain);
    }
    Ok((key, rest))
}

/// What follows `key:` when a value is on the same line: its offset into the body (after
/// the spaces), or `None` when the line ends there.
fn inline_value(body: &str, rest: &str) -> Step<Option<usize>> {
    let trimmed = rest.trim_start_matches(' ');
    if trimmed.is_empty() || trimmed.starts_with('#') {
        line_end(rest)?;
        return Ok(None);
    }
    Ok(Some(body.len() - trimmed.len()))
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line_no: u32,
    peeked: Option<Line<'a>>,
    nodes: usize,
}

impl<'a> Reader<'a> {
    /// Counts one more value against [`MAX_NODES`].
    fn node(&mut self) -> Step<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(NotPlain);
        }
        Ok(())
    }

    /// The next line with content, skipping blank and comment lines.
    fn peek(&mut self) -> Step<Option<Line<'a>>> {
        if let Some(line) = self.peeked {
            return Ok(Some(line));
        }
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let len = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
            let line = &rest[..len];
            self.pos += (len + 1).min(rest.len());
            self.line_no = self.line_no.checked_add(1).ok_or(NotPlain)?;
            let body = line.trim_start_matches(' ');
            if body.is_empty() {
                continue;
            }
            if body.starts_with('#') {
                if !comment_ok(body) {
                    return Err(NotPlain);
                }
                continue;
            }
            let line = Line {
                no: self.line_no,
                indent: line.len() - body.len(),
                body,
            };
            self.peeked = Some(line);
            return Ok(Some(line));
        }
        Ok(None)
    }

    /// The next line when it is indented `indent`; `None` when it is indented less (or
    /// the file ends); not plain when it is indented more.
    fn next_at(&mut self, indent: usize) -> Step<Option<Line<'a>>> {
        match self.peek()? {
            Some(line) if line.indent == indent => {
                self.peeked = None;
                Ok(Some(line))
            }
            Some(line) if line.indent > indent => Err(NotPlain),
            _ => Ok(None),
        }
    }

    fn file(&mut self) -> Step<RawFile> {
        let mut users = None;
        let mut groups = None;
        while let Some(line) = self.next_at(0)? {
            let (name, rest) = key(line.body)?;
            if inline_value(line.body, rest)?.is_some() {
                return Err(NotPlain);
            }
            match name {
                "users" if users.is_none() => users = Some(self.entries(Self::user)?),
                "groups" if groups.is_none() => groups = Some(self.entries(Self::group)?),
                _ => return Err(NotPlain),
            }
        }
        if users.is_none() && groups.is_none() {
            return Err(NotPlain);
        }
        Ok(RawFile {
            version: None,
            tenant: None,
            defaults: None,
            safety: None,
            profiles: None,
            protected: None,
            migrate_to_groups: None,
            prices: None,
            users,
            groups,
            rules: None,
            rules_scope: None,
        })
    }

    /// A section's entries: keys indented two spaces, each with its value below.
    fn entries<V>(&mut self, value: fn(&mut Self) -> Step<V>) -> Step<Entries<V>> {
        let mut entries = Vec::new();
        let mut seen = hashbrown::HashSet::new();
        while let Some(line) = self.next_at(2)? {
            let (name, rest) = key(line.body)?;
            if inline_value(line.body, rest)?.is_some() || !seen.insert(name) {
                return Err(NotPlain);
            }
            self.node()?;
            let key = spanned(name.to_owned(), line.at(0)?);
            entries.push((key, value(self)?));
        }
        if entries.is_empty() {
            return Err(NotPlain);
        }
        Ok(Entries(entries))
    }

    /// An entry's keys (indented four spaces), each handed to `field` with its line and
    /// what follows its colon; not plain when the entry has none (a null).
    fn fields(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a str, Line<'a>, &'a str) -> Step<()>,
    ) -> Step<()> {
        let mut any = false;
        while let Some(line) = self.next_at(4)? {
            any = true;
            self.node()?;
            let (name, rest) = key(line.body)?;
            field(self, name, line, rest)?;
        }
        if !any {
            return Err(NotPlain);
        }
        self.node()
    }

    fn user(&mut self) -> Step<Box<RawUser>> {
        let mut user = RawUser {
            usage_location: None,
            profile: None,
            licenses: None,
        };
        self.fields(|reader, name, line, rest| {
            match name {
                "usage_location" if user.usage_location.is_none() => {
                    user.usage_location = Some(reader.value(line, rest)?);
                }
                "profile" if user.profile.is_none() => {
                    user.profile = Some(reader.value(line, rest)?);
                }
                "licenses" if user.licenses.is_none() => {
                    user.licenses = Some(reader.licenses(line, rest)?);
                }
                _ => return Err(NotPlain),
            }
            Ok(())
        })?;
        Ok(Box::new(user))
    }

    fn group(&mut self) -> Step<Box<RawGroup>> {
        let mut group = RawGroup {
            profile: None,
            licenses: None,
        };
        self.fields(|reader, name, line, rest| {
            match name {
                "profile" if group.profile.is_none() => {
                    group.profile = Some(reader.value(line, rest)?);
                }
                "licenses" if group.licenses.is_none() => {
                    group.licenses = Some(reader.licenses(line, rest)?);
                }
                _ => return Err(NotPlain),
            }
            Ok(())
        })?;
        Ok(Box::new(group))
    }

    /// A scalar value on the key's line.
    fn value(&mut self, line: Line<'a>, rest: &str) -> Step<Spanned<String>> {
        let start = inline_value(line.body, rest)?.ok_or(NotPlain)?;
        let (text, len) = scalar(&line.body[start..])?;
        line_end(&line.body[start + len..])?;
        self.node()?;
        Ok(spanned(text.to_owned(), line.at(start)?))
    }

    /// `licenses: []` or `licenses:` with `- sku: …` items indented six spaces below.
    fn licenses(&mut self, line: Line<'a>, rest: &str) -> Step<Spanned<Vec<Spanned<RawLicense>>>> {
        self.node()?;
        if let Some(start) = inline_value(line.body, rest)? {
            let inner = line.body[start..].strip_prefix('[').ok_or(NotPlain)?;
            let inner = inner.trim_start_matches(' ');
            let after = inner.strip_prefix(']').ok_or(NotPlain)?;
            line_end(after)?;
            return Ok(spanned(Vec::new(), line.at(start)?));
        }
        let mut list = Vec::new();
        let mut at = None;
        while let Some(item) = self.next_at(6)? {
            let body = item.body.strip_prefix("- ").ok_or(NotPlain)?;
            if at.is_none() {
                at = Some(item.at(0)?);
            }
            let first = Line {
                no: item.no,
                indent: item.indent + 2,
                body,
            };
            list.push(self.license(first)?);
        }
        let at = at.ok_or(NotPlain)?;
        list.shrink_to_fit();
        Ok(spanned(list, at))
    }

    /// One license mapping: its first key on `first` (after the `- `), the others indented
    /// eight spaces below.
    fn license(&mut self, first: Line<'a>) -> Step<Spanned<RawLicense>> {
        self.node()?;
        let mut sku = None;
        let mut disabled = None;
        let mut enabled = None;
        let mut next = Some(first);
        while let Some(line) = next {
            self.node()?;
            let (name, rest) = key(line.body)?;
            match name {
                "sku" if sku.is_none() => sku = Some(self.value(line, rest)?),
                "disabled_plans" if disabled.is_none() => {
                    disabled = Some(self.plans(line, rest)?);
                }
                "enabled_plans" if enabled.is_none() => enabled = Some(self.plans(line, rest)?),
                _ => return Err(NotPlain),
            }
            next = self.next_at(8)?;
        }
        let license = RawLicense {
            sku: sku.ok_or(NotPlain)?,
            disabled_plans: disabled,
            enabled_plans: enabled,
        };
        Ok(spanned(license, first.at(0)?))
    }

    /// A list of plans: `[A, B]` on the key's line, or `- A` items indented ten below.
    fn plans(&mut self, line: Line<'a>, rest: &str) -> Step<Vec<Spanned<String>>> {
        self.node()?;
        let mut plans = Vec::new();
        if let Some(start) = inline_value(line.body, rest)? {
            let body = line.body;
            let mut at = start + body[start..].strip_prefix('[').map(|_| 1).ok_or(NotPlain)?;
            let skip = |at: usize| at + body[at..].len() - body[at..].trim_start_matches(' ').len();
            at = skip(at);
            if let Some(after) = body[at..].strip_prefix(']') {
                line_end(after)?;
                return Ok(plans);
            }
            loop {
                let (text, len) = scalar(&body[at..])?;
                self.node()?;
                plans.push(spanned(text.to_owned(), line.at(at)?));
                at = skip(at + len);
                match body.as_bytes().get(at) {
                    Some(b',') => at = skip(at + 1),
                    Some(b']') => {
                        line_end(&body[at + 1..])?;
                        break;
                    }
                    _ => return Err(NotPlain),
                }
            }
            plans.shrink_to_fit();
            return Ok(plans);
        }
        while let Some(item) = self.next_at(10)? {
            let body = item.body.strip_prefix("- ").ok_or(NotPlain)?;
            let (text, len) = scalar(body)?;
            line_end(&body[len..])?;
            self.node()?;
            plans.push(spanned(text.to_owned(), item.at(2)?));
        }
        if plans.is_empty() {
            return Err(NotPlain);
        }
        plans.shrink_to_fit();
        Ok(plans)
    }
}

/// For the `config_loader` fuzz target: false when the fast path takes `text` and gives
/// other than serde-saphyr gives (values, lines or columns), or takes a file serde-saphyr
/// refuses.
#[cfg(any(test, fuzzing))]
pub fn agrees_with_serde_saphyr(text: &str) -> bool {
    let Some(plain) = parse_plain(text) else {
        return true;
    };
    serde_saphyr::from_str_with_options::<RawFile>(text, super::parse::yaml_options())
        .is_ok_and(|whole| super::raw::everything(&plain) == super::raw::everything(&whole))
}

#[cfg(test)]
mod tests;
