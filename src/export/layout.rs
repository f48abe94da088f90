//! Where principals go: file names that are stable, portable and never too big.
//!
//! Users are grouped by the domain of their userPrincipalName. A domain with at most
//! [`MAX_PER_FILE`] users gets one file; a larger one is split by the first characters of
//! the name before the `@`, one more character wherever a file would still be too big
//! (`al.yaml`, `am.yaml`, …). The split depends only on the set of names, so re-exporting
//! the same tenant gives the same files, and a new user changes one file (or, when it
//! tips a file over the limit, splits that one file). Names are
//! lowercase ASCII (safe on case-insensitive file systems) and avoid Windows device names.

use std::collections::BTreeMap;

/// Most principals in one file before it is split.
pub(crate) const MAX_PER_FILE: usize = 1000;

/// Longest name prefix a split goes down to; a bucket that is still too big stays whole.
const MAX_PREFIX: usize = 8;

/// Windows device names, which are not allowed as a file name (with any extension).
const DEVICE_NAMES: &[&str] = &[
    "con", "prn", "aux", "nul", "com0", "com1", "com2", "com3", "com4", "com5", "com6", "com7",
    "com8", "com9", "lpt0", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The bucketing key of a name: lowercase ASCII letters and digits kept, anything else `-`.
pub(crate) fn bucket_key(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A portable file or directory name for `text` (already lowercase ASCII letters, digits,
/// `-` and `.`): `_` when empty, `_` in front when it would be a Windows device name.
pub(crate) fn file_stem(text: &str) -> String {
    let base = text.split('.').next().unwrap_or(text);
    if text.is_empty() {
        "_".to_owned()
    } else if DEVICE_NAMES.contains(&base) {
        format!("_{text}")
    } else {
        text.to_owned()
    }
}

/// The directory name for a UPN domain: lowercase, letters, digits, `.` and `-`.
pub(crate) fn domain_stem(domain: &str) -> String {
    let cleaned: String = domain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    file_stem(&cleaned)
}

/// Splits `items` (each with its [`bucket_key`]) into buckets of at most `max` items by
/// key prefix, keeping the items' order within each bucket. Returns `(prefix, items)`
/// sorted by prefix; prefixes are unique. Call it only when `items` holds more than `max`.
pub(crate) fn split<T>(items: Vec<(String, T)>, max: usize) -> Vec<(String, Vec<T>)> {
    let mut out = Vec::new();
    split_into(String::new(), items, max.max(1), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn split_into<T>(
    prefix: String,
    items: Vec<(String, T)>,
    max: usize,
    out: &mut Vec<(String, Vec<T>)>,
) {
    if (items.len() <= max && !prefix.is_empty()) || prefix.len() >= MAX_PREFIX {
        out.push((prefix, items.into_iter().map(|(_, item)| item).collect()));
        return;
    }
    let depth = prefix.len();
    // Keys that end at this prefix stay in the prefix's own file; the prefix is split, so
    // no other bucket has this name.
    let mut ended = Vec::new();
    let mut children: BTreeMap<u8, Vec<(String, T)>> = BTreeMap::new();
    for (key, item) in items {
        match key.as_bytes().get(depth) {
            None => ended.push(item),
            Some(next) => children.entry(*next).or_default().push((key, item)),
        }
    }
    if !ended.is_empty() {
        out.push((prefix.clone(), ended));
    }
    for (next, group) in children {
        split_into(format!("{prefix}{}", char::from(next)), group, max, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_stems_are_portable() {
        let table: &[(&str, &str)] = &[
            ("Alice.Smith", "alice-smith"),
            ("joe_fabrikam.com#EXT#", "joe-fabrikam-com-ext-"),
            ("Équipe", "-quipe"),
        ];
        for (text, key) in table {
            assert_eq!(bucket_key(text), *key, "{text}");
        }
        assert_eq!(file_stem("con"), "_con");
        assert_eq!(file_stem("al"), "al");
        assert_eq!(file_stem(""), "_");
        assert_eq!(domain_stem("Contoso.COM"), "contoso.com");
        assert_eq!(domain_stem("aux.example.org"), "_aux.example.org");
        assert_eq!(domain_stem("a_b.com"), "a-b.com");
    }

    fn names(prefixes: &[(String, Vec<&str>)]) -> Vec<(String, Vec<String>)> {
        prefixes
            .iter()
            .map(|(p, items)| (p.clone(), items.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn splits_only_where_a_file_would_be_too_big() {
        let list = ["a", "ab", "abc", "abd", "b", "ba", "c"];
        let items: Vec<(String, &str)> = list.iter().map(|s| (bucket_key(s), *s)).collect();
        let got = split(items, 2);
        assert_eq!(
            names(&got),
            vec![
                ("a".to_owned(), vec!["a".to_owned()]),
                ("ab".to_owned(), vec!["ab".to_owned()]),
                ("abc".to_owned(), vec!["abc".to_owned()]),
                ("abd".to_owned(), vec!["abd".to_owned()]),
                ("b".to_owned(), vec!["b".to_owned(), "ba".to_owned()]),
                ("c".to_owned(), vec!["c".to_owned()]),
            ]
        );
    }

    #[test]
    fn a_bucket_that_cannot_shrink_stays_whole() {
        let items: Vec<(String, usize)> = (0..5).map(|i| ("aaaaaaaaaaaa".to_owned(), i)).collect();
        let got = split(items, 2);
        assert_eq!(got, vec![("aaaaaaaa".to_owned(), vec![0, 1, 2, 3, 4])]);
    }

    #[test]
    fn adding_a_name_changes_one_bucket() {
        let base: Vec<String> = (0..2500).map(|i| format!("user{i:04}")).collect();
        let split_of = |list: &[String]| {
            split(
                list.iter()
                    .map(|s| (bucket_key(s), s.clone()))
                    .collect::<Vec<_>>(),
                1000,
            )
        };
        let before = split_of(&base);
        assert!(before.iter().all(|(_, b)| b.len() <= 1000));
        let mut more = base.clone();
        more.push("user2100x".to_owned());
        more.sort();
        let after = split_of(&more);
        let differing = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(before.len(), after.len());
        assert_eq!(differing, 1);
    }
}
