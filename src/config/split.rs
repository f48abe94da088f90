//! Parsing one large principal file on several cores: its `users:` block is cut at entry
//! boundaries and each piece is parsed as a document of its own, padded with blank lines
//! so that every position the parser reports is the position in the file.
//!
//! Only plain files are cut: no anchors, aliases, tags, directives, document markers, tabs
//! or carriage returns anywhere, one top-level `users:` key, entries indented two spaces.
//! A cut is made only before a line that starts an entry (two spaces, then a key): such a
//! line cannot be inside a value of an entry (block scalars and continuation lines of a
//! value are indented further). The pieces must all parse, hold no key twice between
//! them, and hold every other top-level key once; otherwise [`parse_split`] returns
//! `None` and the caller parses the file whole, so every diagnostic is the one the whole
//! file gives. This module must not report anything itself.

use super::raw::{Entries, RawFile};

/// Files smaller than this are parsed whole (a thread costs more than it saves).
pub(crate) const SPLIT_BYTES: usize = 4 << 20;

/// Parses `text` in `parts` pieces side by side; `None` when the file is smaller than
/// `min_bytes`, is not cut this way, or a piece does not parse.
pub(crate) fn parse_split(text: &str, parts: usize, min_bytes: usize) -> Option<RawFile> {
    if text.len() < min_bytes {
        return None;
    }
    let cuts = cut_points(text, parts)?;
    let pieces = pieces(text, &cuts);
    let parsed: Vec<Option<RawFile>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .iter()
            .map(|piece| {
                scope.spawn(move || {
                    serde_saphyr::from_str_with_options::<RawFile>(
                        piece,
                        super::parse::yaml_options(),
                    )
                    .ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut parsed = parsed.into_iter();
    let mut whole = parsed.next()??;
    for piece in parsed {
        merge(&mut whole, piece?)?;
    }
    // A key twice across pieces: the whole file's parse names it.
    let users = whole.users.as_ref()?;
    let mut keys: Vec<&str> = users.0.iter().map(|(key, _)| key.value.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return None;
    }
    Some(whole)
}

/// Byte offsets (each at the start of an entry line) where the `users:` block is cut into
/// about `parts` pieces; `None` when the file is not plain enough to cut.
fn cut_points(text: &str, parts: usize) -> Option<Vec<usize>> {
    if parts < 2
        || text
            .bytes()
            .any(|b| matches!(b, b'&' | b'*' | b'!' | b'%' | b'\t' | b'\r'))
        || text.starts_with("---")
        || text.contains("\n---")
        || text.contains("\n...")
    {
        return None;
    }
    // The one top-level `users:` line.
    let mut users_line = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let key = line.trim_end_matches('\n');
        let key = key.split_once(" #").map_or(key, |(k, _)| k).trim_end();
        if key == "users:" {
            if users_line.is_some() {
                return None;
            }
            users_line = Some(offset + line.len());
        }
        offset += line.len();
    }
    let start = users_line?;
    // The block's first entry sets its indentation: it must be two spaces, as the cuts
    // assume (an entry indented three makes a later one indented two an error).
    let first_entry = text[start..].split_inclusive('\n').find(|line| {
        !matches!(
            line.trim_start_matches(' ').as_bytes().first(),
            None | Some(b'\n' | b'#')
        )
    })?;
    if next_entry_line(first_entry, 0, first_entry.len()) != Some(0) {
        return None;
    }
    // The block ends at the next line that starts at column 0 (other than a comment).
    let mut end = text.len();
    let mut at = start;
    for line in text[start..].split_inclusive('\n') {
        let first = line.as_bytes().first().copied();
        if first.is_some_and(|b| !matches!(b, b' ' | b'#' | b'\n')) {
            end = at;
            break;
        }
        at += line.len();
    }
    let size = end - start;
    let mut cuts = Vec::with_capacity(parts - 1);
    for k in 1..parts {
        let target = start + size * k / parts;
        let from = cuts.last().copied().unwrap_or(start).max(target);
        if let Some(cut) = next_entry_line(text, from, end)
            && cut > start
            && cuts.last().is_none_or(|&last| cut > last)
        {
            cuts.push(cut);
        }
    }
    (!cuts.is_empty()).then_some(cuts)
}

/// The start of the first entry line (two spaces, then a key) at or after `from`.
fn next_entry_line(text: &str, from: usize, end: usize) -> Option<usize> {
    let mut at = text[..from].rfind('\n').map_or(0, |i| i + 1);
    if at < from {
        at += text[at..].find('\n')? + 1;
    }
    while at < end {
        let line = &text[at..];
        let bytes = line.as_bytes();
        if bytes.len() > 2
            && bytes[0] == b' '
            && bytes[1] == b' '
            && !matches!(bytes[2], b' ' | b'#' | b'-' | b'\n' | b'?' | b'[' | b'{')
        {
            return Some(at);
        }
        at += line.find('\n')? + 1;
    }
    None
}

/// The texts to parse: the file up to the first cut, then each later piece as a
/// `users:` document whose first entry is on its line in the file.
fn pieces(text: &str, cuts: &[usize]) -> Vec<String> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    pieces.push(text[..cuts[0]].to_owned());
    for (i, &cut) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).copied().unwrap_or(text.len());
        // The cut's line number (1-based) is one more than the newlines before it; the
        // `users:` line goes on the line above it.
        let line = text[..cut].bytes().filter(|&b| b == b'\n').count() + 1;
        let mut piece = String::with_capacity(line + 8 + end - cut);
        piece.extend(std::iter::repeat_n('\n', line.saturating_sub(2)));
        piece.push_str("users:\n");
        piece.push_str(&text[cut..end]);
        pieces.push(piece);
    }
    pieces
}

/// Adds a later piece to the file parsed so far: its users go after the others, and every
/// other key must be in one piece only.
fn merge(whole: &mut RawFile, piece: RawFile) -> Option<()> {
    fn once<T>(into: &mut Option<T>, from: Option<T>) -> Option<()> {
        match (into.is_some(), from) {
            (true, Some(_)) => None,
            (_, Some(value)) => {
                *into = Some(value);
                Some(())
            }
            (_, None) => Some(()),
        }
    }
    let RawFile {
        version,
        tenant,
        defaults,
        safety,
        profiles,
        protected,
        migrate_to_groups,
        prices,
        users,
        groups,
        rules,
        rules_scope,
    } = piece;
    let Entries(mut more) = users?;
    whole.users.as_mut()?.0.append(&mut more);
    once(&mut whole.version, version)?;
    once(&mut whole.tenant, tenant)?;
    once(&mut whole.defaults, defaults)?;
    once(&mut whole.safety, safety)?;
    once(&mut whole.profiles, profiles)?;
    once(&mut whole.protected, protected)?;
    once(&mut whole.migrate_to_groups, migrate_to_groups)?;
    once(&mut whole.prices, prices)?;
    once(&mut whole.groups, groups)?;
    once(&mut whole.rules, rules)?;
    once(&mut whole.rules_scope, rules_scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A principal file of `n` users with comments, flow lists and block scalars inside
    /// values, then groups after the users block.
    fn file(n: usize) -> String {
        let mut text = String::from("# generated\nversion: 1\nusers:\n");
        for i in 0..n {
            text.push_str(&format!(
                "  user{i}@contoso.com:\n    # a comment\n    usage_location: DE\n    licenses:\n      - sku: SPE_E5\n        disabled_plans: [YAMMER_ENTERPRISE, \"SWAY\"]\n"
            ));
        }
        text.push_str("groups:\n  Sales:\n    licenses:\n      - sku: EMS\n");
        text
    }

    fn positions(raw: &RawFile) -> Vec<(String, u64, u64)> {
        let mut out: Vec<(String, u64, u64)> = raw
            .users
            .iter()
            .flat_map(|e| e.0.iter())
            .flat_map(|(key, user)| {
                let mut at = vec![(
                    key.value.clone(),
                    key.referenced.line(),
                    key.referenced.column(),
                )];
                for license in user.licenses.iter().flat_map(|l| l.value.iter()) {
                    let sku = &license.value.sku;
                    at.push((
                        sku.value.clone(),
                        sku.referenced.line(),
                        sku.referenced.column(),
                    ));
                    for plan in license.value.disabled_plans.iter().flatten() {
                        at.push((
                            plan.value.clone(),
                            plan.referenced.line(),
                            plan.referenced.column(),
                        ));
                    }
                }
                at
            })
            .collect();
        for (key, _) in raw.groups.iter().flat_map(|e| e.0.iter()) {
            out.push((
                key.value.clone(),
                key.referenced.line(),
                key.referenced.column(),
            ));
        }
        out
    }

    /// Cut into pieces, the file gives the same users, in the same order, at the same
    /// lines and columns as parsed whole.
    #[test]
    fn a_split_parse_gives_what_the_whole_file_gives() {
        let text = file(3_000);
        let whole: RawFile =
            serde_saphyr::from_str_with_options(&text, super::super::parse::yaml_options())
                .expect("parses");
        for parts in [2, 3, 7] {
            let split = parse_split(&text, parts, 0).expect("splits");
            assert_eq!(positions(&split), positions(&whole), "{parts} parts");
            assert!(split.version.is_some());
        }
    }

    /// Pieces of principal files, well-formed or not: entries of every shape, and lines
    /// that end the users block, break it, or look like entries inside values.
    const LINES: &[&str] = &[
        "  a@contoso.com:\n    licenses: []\n",
        "  b@contoso.com:\n    usage_location: DE\n    licenses:\n      - sku: SPE_E5\n",
        "  c@contoso.com:\n    licenses:\n      - sku: EMS\n        disabled_plans: [A, \"B\"]\n",
        "  d@contoso.com:\n    usage_location: |\n      DE\n    licenses: []\n",
        "  \"e@contoso.com\":\n    usage_location: \"D\n      E\"\n    licenses: []\n",
        "  f@contoso.com: {licenses: [], usage_location: FR}\n",
        "  # a comment at the entries' indent\n",
        "\n",
        "  g@contoso.com:\n    licenses:\n    - sku: EMS\n",
        "  h@contoso.com:\n  licenses: []\n",
        "  a@contoso.com:\n    licenses: []\n",
        "   i@contoso.com:\n    licenses: []\n",
        "  j@contoso.com:\n    licenses: [\n      {sku: EMS}]\n",
        "  k@contoso.com:\n    unknown: 1\n",
        "groups:\n  Sales:\n    licenses: []\n",
        "version: 1\n",
        "users:\n",
        "  - l@contoso.com\n",
        "  m@contoso.com:\n    licenses: \"x\n  n@contoso.com:\n    licenses: []\"\n",
        "  o@contoso.com:\n    usage_location: >\n      D\n\n      E\n    licenses: []\n",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Whatever the file, a split parse is either refused (the caller parses whole)
        /// or exactly the whole parse: the same keys, values and positions.
        #[test]
        fn a_split_parse_is_refused_or_exactly_the_whole_parse(
            picks in proptest::collection::vec(0..LINES.len(), 1..60),
            parts in 2usize..6,
        ) {
            let mut text = String::from("users:\n");
            for pick in &picks {
                text.push_str(LINES[*pick]);
            }
            let whole = serde_saphyr::from_str_with_options::<RawFile>(&text, super::super::parse::yaml_options());
            if let Some(split) = parse_split(&text, parts, 0) {
                let whole = whole.map_err(|e| format!("{text}\n{e}"));
                proptest::prop_assert!(whole.is_ok(), "split accepted what the whole parse refuses: {:?}", whole.err());
                if let Ok(whole) = whole {
                    proptest::prop_assert_eq!(super::super::raw::everything(&split), super::super::raw::everything(&whole), "{}", text);
                }
            }
        }
    }

    /// What the split parse does not take (the caller then parses the file whole).
    #[test]
    fn files_that_are_not_plain_are_not_split() {
        let text = file(3_000);
        let at = text.len() / 2;
        let line = text[at..]
            .find("\n  user")
            .map(|i| at + i + 1)
            .expect("entry");
        let key = &text[line + 2..line + text[line..].find(':').expect("colon")];
        let duplicate = format!(
            "{}  {key}:\n    licenses: []\n",
            &text[..text.find("groups:").expect("groups")]
        );
        for (why, changed) in [
            (
                "an anchor",
                text.replacen("usage_location: DE", "usage_location: &de DE", 1),
            ),
            ("a tab", text.replacen("# a comment", "#\ta comment", 1)),
            ("a document marker", format!("---\n{text}")),
            (
                "users twice",
                format!("{text}users:\n  x@contoso.com:\n    licenses: []\n"),
            ),
            ("a key in two pieces", duplicate),
            ("a file below the size", file(3_000)),
            // Found by the property test: the first entry sets the indentation.
            (
                "a first entry indented three",
                text.replacen("\n  user0@", "\n   user0@", 1),
            ),
            (
                "a broken piece",
                text.replacen(
                    "disabled_plans: [YAMMER_ENTERPRISE",
                    "disabled_plans: [YAMMER_ENTERPRISE,,",
                    1,
                ),
            ),
        ] {
            let min = if why == "a file below the size" {
                SPLIT_BYTES
            } else {
                0
            };
            assert!(parse_split(&changed, 2, min).is_none(), "{why}");
        }
    }
}
