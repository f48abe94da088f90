//! "Did you mean …?": the closest of a set of names to a misspelt one, bounded.
//!
//! A config can define thousands of profiles and reference them thousands of times, so a
//! search that compares every reference with every name is quadratic (a 411 KB config once
//! took 20 s to validate). [`Candidates`] searches in two bounded steps:
//! 1. names one edit away (a character added, dropped, changed, or two swapped), found
//!    through an index of every name with one character deleted (the "symmetric delete"
//!    method): a lookup per character of the misspelt name;
//! 2. when none is, names whose length is within [`length_window`], nearest lengths first.
//!
//! Either way at most [`MAX_COMPARISONS`] candidates are scored, so each search costs a
//! bounded number of string comparisons however many names there are. Pure.

use std::collections::HashMap;

/// Most candidates one search compares.
pub(crate) const MAX_COMPARISONS: usize = 64;

/// Jaro-Winkler similarity from which a candidate counts as a plausible typo.
const THRESHOLD: f64 = 0.85;

/// How far (in characters) a candidate's length may be from a name of `len` characters:
/// typos add, drop or swap a few characters.
pub(crate) fn length_window(len: usize) -> usize {
    (len / 3).max(3)
}

#[cfg(test)]
thread_local! {
    static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// String comparisons made on this thread so far (tests assert on complexity with it).
#[cfg(test)]
pub(crate) fn comparisons() -> u64 {
    COMPARISONS.with(std::cell::Cell::get)
}

/// Names longer than this (in characters) are not put in the one-edit index.
const MAX_INDEXED_LEN: usize = 64;

/// Names to suggest from, sorted by length.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates<'a> {
    /// (length in characters, lowercase name, name), sorted by length.
    by_len: Vec<(usize, String, &'a str)>,
    /// Each lowercase name, and each with one character deleted → indexes in `by_len`.
    deletes: HashMap<String, Vec<usize>>,
}

/// `text` and every string made from it by deleting one character.
fn with_deletes(text: &str) -> Vec<String> {
    let mut out = vec![text.to_owned()];
    for (i, c) in text.char_indices() {
        let mut shorter = String::with_capacity(text.len());
        shorter.push_str(&text[..i]);
        shorter.push_str(&text[i + c.len_utf8()..]);
        out.push(shorter);
    }
    out
}

impl<'a> Candidates<'a> {
    /// Indexes `names`.
    pub(crate) fn new(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_len: Vec<(usize, String, &'a str)> = names
            .into_iter()
            .map(|n| {
                let lower = n.to_lowercase();
                (lower.chars().count(), lower, n)
            })
            .collect();
        by_len.sort_by_key(|(len, _, _)| *len);
        let mut deletes: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (len, lower, _)) in by_len.iter().enumerate() {
            if *len <= MAX_INDEXED_LEN {
                for key in with_deletes(lower) {
                    let ids = deletes.entry(key).or_default();
                    if ids.last() != Some(&i) {
                        ids.push(i);
                    }
                }
            }
        }
        Self { by_len, deletes }
    }

    /// Scores candidate `i` against `got`.
    fn score(&self, got: &str, i: usize) -> (f64, &'a str) {
        #[cfg(test)]
        COMPARISONS.with(|c| c.set(c.get() + 1));
        let (_, lower, name) = &self.by_len[i];
        (strsim::jaro_winkler(got, lower), name)
    }

    /// The name closest to `got` (ignoring case), if one is a plausible typo of it.
    pub(crate) fn closest(&self, got: &str) -> Option<&'a str> {
        let got = got.to_lowercase();
        let len = got.chars().count();
        // 1. One edit away.
        if len <= MAX_INDEXED_LEN {
            let mut near: Vec<usize> = with_deletes(&got)
                .iter()
                .filter_map(|key| self.deletes.get(key))
                .flatten()
                .copied()
                .collect();
            near.sort_unstable();
            near.dedup();
            let best = near
                .into_iter()
                .take(MAX_COMPARISONS)
                .map(|i| self.score(&got, i))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, name)) = best {
                return Some(name);
            }
        }
        // 2. Near in length.
        let window = length_window(len);
        // Walk outwards from the first candidate of length >= len.
        let split = self.by_len.partition_point(|(l, _, _)| *l < len);
        let (mut below, mut above) = (split, split);
        let mut best: Option<(f64, &'a str)> = None;
        for _ in 0..MAX_COMPARISONS {
            let below_gap = below
                .checked_sub(1)
                .map(|i| len - self.by_len[i].0)
                .filter(|gap| *gap <= window);
            let above_gap = self
                .by_len
                .get(above)
                .map(|(l, _, _)| l - len)
                .filter(|gap| *gap <= window);
            let i = match (below_gap, above_gap) {
                (Some(b), Some(a)) if b < a => {
                    below -= 1;
                    below
                }
                (_, Some(_)) => {
                    above += 1;
                    above - 1
                }
                (Some(_), None) => {
                    below -= 1;
                    below
                }
                (None, None) => break,
            };
            let (score, name) = self.score(&got, i);
            if score >= THRESHOLD && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, name));
            }
        }
        best.map(|(_, name)| name)
    }
}

/// At most `max` of `names`, comma-separated, then "and N more".
pub(crate) fn some_of<'a>(names: impl ExactSizeIterator<Item = &'a str>, max: usize) -> String {
    let total = names.len();
    let shown: Vec<&str> = names.take(max).collect();
    let more = total - shown.len();
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_ignoring_case() {
        let c = Candidates::new(["knowledge-worker", "executive", "Frontline", "x"]);
        assert_eq!(c.closest("knowlege-worker"), Some("knowledge-worker"));
        assert_eq!(c.closest("frontlien"), Some("Frontline"));
        assert_eq!(c.closest("EXECUTIVE"), Some("executive"));
        assert_eq!(c.closest("zzzzzz"), None);
        assert_eq!(Candidates::new([]).closest("a"), None);
        let many: Vec<String> = (0..5_000).map(|i| format!("team-{i:04}")).collect();
        let c = Candidates::new(many.iter().map(String::as_str));
        assert_eq!(
            c.closest("taem-1234"),
            Some("team-1234"),
            "two letters swapped"
        );
        assert_eq!(c.closest("team-1234x"), Some("team-1234"), "one added");
        assert_eq!(c.closest("TEM-1234"), Some("team-1234"), "one dropped");
    }

    #[test]
    fn a_search_compares_a_bounded_number_of_candidates() {
        let names: Vec<String> = (0..20_000).map(|i| format!("profile-{i:05}")).collect();
        let c = Candidates::new(names.iter().map(String::as_str));
        let before = comparisons();
        let found = c.closest("profile-1234");
        assert!(found.is_some());
        assert!(comparisons() - before <= MAX_COMPARISONS as u64);
        // A name far longer than every candidate compares with none.
        let before = comparisons();
        assert_eq!(c.closest(&"q".repeat(200)), None);
        assert_eq!(comparisons() - before, 0);
    }

    #[test]
    fn lists_are_capped() {
        let names = ["a", "b", "c", "d"];
        assert_eq!(some_of(names.iter().copied(), 2), "a, b and 2 more");
        assert_eq!(some_of(names.iter().copied(), 9), "a, b, c, d");
    }
}
