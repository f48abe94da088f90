//! Writing YAML text by hand: scalars quoted only when they must be, comments that cannot
//! break a line. The exporter builds its files line by line (so that it controls order,
//! comments and layout exactly); these helpers keep every value readable back unchanged.

use crate::config::plain::{RESERVED, is_plain_char, is_unusual};

/// True for an 8-4-4-4-12 hex GUID, written as is (a braced one would read as a YAML
/// flow mapping).
fn is_plain_guid(text: &str) -> bool {
    !text.starts_with('{') && crate::ids::is_guid(text)
}

/// True when `text` can be written as a plain scalar and every YAML reader gives back the
/// same string: it starts with a letter (or is a GUID), uses only letters, digits and
/// `. _ @ + -`, and is not a boolean or null word of YAML 1.1 or 1.2.
fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if is_plain_guid(text) {
        return true;
    }
    first.is_ascii_alphabetic()
        && text.bytes().all(is_plain_char)
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(text))
}

/// `text` as a YAML scalar: plain when that is safe, double-quoted otherwise.
pub(crate) fn scalar(text: &str) -> String {
    if plain_is_safe(text) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unusual(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` made safe for a `# comment`: control characters and line separators become
/// spaces, so the comment cannot end early or start a new line.
pub(crate) fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if is_unusual(c) { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::config::parse::yaml_options;

    fn read_back(key: &str, value: &str) -> BTreeMap<String, String> {
        let text = format!("{}: {}  # {}\n", scalar(key), scalar(value), comment(value));
        serde_saphyr::from_str_with_options(&text, yaml_options())
            .unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"))
    }

    #[test]
    fn plain_only_when_safe() {
        let table: &[(&str, &str)] = &[
            ("SPE_E5", "SPE_E5"),
            ("alice@contoso.com", "alice@contoso.com"),
            (
                "ec655ed5-f794-5444-a896-a9e880c9a50d",
                "ec655ed5-f794-5444-a896-a9e880c9a50d",
            ),
            (
                "EC655ED5-F794-5444-A896-A9E880C9A50D",
                "EC655ED5-F794-5444-A896-A9E880C9A50D",
            ),
            (
                "{ec655ed5-f794-5444-a896-a9e880c9a50d}",
                "\"{ec655ed5-f794-5444-a896-a9e880c9a50d}\"",
            ),
            ("NO", "\"NO\""),
            ("yes", "\"yes\""),
            ("Null", "\"Null\""),
            ("", "\"\""),
            ("007", "\"007\""),
            ("1e5", "\"1e5\""),
            ("1234@contoso.com", "\"1234@contoso.com\""),
            ("-x", "\"-x\""),
            (".inf", "\".inf\""),
            ("Sales: EMEA", "\"Sales: EMEA\""),
            ("a #b", "\"a #b\""),
            (
                "joe_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                "\"joe_fabrikam.com#EXT#@contoso.onmicrosoft.com\"",
            ),
            ("Équipe \"A\"\\", "\"Équipe \\\"A\\\"\\\\\""),
            ("tab\there", "\"tab\\there\""),
        ];
        for (text, expected) in table {
            assert_eq!(scalar(text), *expected, "{text}");
            let map = read_back(text, text);
            assert_eq!(map.get(*text).map(String::as_str), Some(*text), "{text}");
        }
    }

    #[test]
    fn comments_stay_on_their_line() {
        assert_eq!(comment("a\nb\r\u{2028}c"), "a b  c");
    }

    proptest! {
        #[test]
        fn any_string_reads_back_unchanged(key in "\\PC{0,12}|[ -~]{0,12}", value in any::<String>()) {
            let map = read_back(&key, &value);
            prop_assert_eq!(map.len(), 1);
            prop_assert_eq!(map.get(&key), Some(&value));
        }
    }
}
