use super::*;
use crate::config::raw::everything;

fn saphyr(text: &str) -> Result<RawFile, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<RawFile>(text, super::super::parse::yaml_options())
}

/// Files in the plain layout: each must take the fast path and give exactly what
/// serde-saphyr gives (values, lines, columns).
const PLAIN: &[&str] = &[
    "users:\n  a@contoso.com:\n    licenses: []\n",
    "users:\n  a@contoso.com:\n    licenses:\n      - sku: SPE_E5\n        disabled_plans: [YAMMER_ENTERPRISE, \"SWAY\", 'TEAMS1']\n    usage_location: DE\n",
    // What `licensectl export` writes: a header, comments after values, blank lines
    // between entries, block lists of plans, quoted words YAML 1.1 reads as booleans.
    "# yaml-language-server: $schema=../licensectl.schema.json\n# exported from tenant contoso.onmicrosoft.com; edit freely.\nusers:\n  a@contoso.com:  # disabled account\n    licenses:\n      - sku: SPE_E3  # also inherited from group Sales\n        disabled_plans:\n          - SWAY  # not in the catalog\n          - YAMMER_ENTERPRISE\n        enabled_plans: []\n    usage_location: \"NO\"\n\n  \"o'brien@contoso.com\":\n    licenses: []\n",
    "users:\n  a@contoso.com:\n    profile: knowledge-worker\n    usage_location: 'GB'\n  b@contoso.com:\n    licenses:\n      - sku: c7df2760-2c81-4ef7-b578-5b5392b571df\n        enabled_plans: [57ff2da0-773e-42df-b2af-ffb7a2317929 , TEAMS1]\n      - sku: EMS\n",
    "groups:\n  Sales:\n    licenses:\n      - sku: SPE_E5\n  12345678-1234-1234-1234-123456789012:\n    profile: base\n",
    "users:\n  a@contoso.com:\n    licenses: [ ]\ngroups:\n  \"Sales & Marketing\":\n    licenses:\n      - sku: EMS\n        disabled_plans: []\n",
    // Non-ASCII text: columns count characters, not bytes.
    "users:\n  \"jürgen@contoso.de\":\n    licenses:\n      - sku: SPE_E5\n        disabled_plans: [\"ü\", A, 'é', B]\n",
    "\n\n# leading comments\n   # indented comment\nusers:\n\n  a@contoso.com:\n      # a comment deeper than the keys\n    licenses: []\n# trailing comment",
    "users:\n  a@contoso.com:\n    licenses:\n      - sku: SPE_E5\n        disabled_plans: [A,B]\n",
];

#[test]
fn the_plain_reader_gives_exactly_what_serde_saphyr_gives() {
    for text in PLAIN {
        let plain = parse_plain(text).unwrap_or_else(|| panic!("not taken as plain:\n{text}"));
        let whole = saphyr(text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert_eq!(everything(&plain), everything(&whole), "{text}");
    }
}

/// Files (or lines) the fast path must leave to serde-saphyr: it would give other values,
/// other positions or no diagnostic where serde-saphyr gives one.
const NOT_PLAIN: &[(&str, &str)] = &[
    (
        "settings",
        "version: 1\nusers:\n  a@contoso.com:\n    licenses: []\n",
    ),
    ("no sections", "# nothing\n"),
    ("an empty file", ""),
    ("a null section", "users:\n"),
    ("a null entry", "users:\n  a@contoso.com:\n"),
    (
        "a null value",
        "users:\n  a@contoso.com:\n    usage_location:\n",
    ),
    (
        "a null word",
        "users:\n  a@contoso.com:\n    usage_location: Null\n",
    ),
    (
        "a YAML 1.1 boolean",
        "users:\n  a@contoso.com:\n    usage_location: NO\n",
    ),
    (
        "a tilde",
        "users:\n  a@contoso.com:\n    usage_location: ~\n",
    ),
    (
        "a number",
        "users:\n  a@contoso.com:\n    usage_location: 12\n",
    ),
    (
        "a flow mapping entry",
        "users:\n  a@contoso.com: {licenses: []}\n",
    ),
    (
        "a flow license",
        "users:\n  a@contoso.com:\n    licenses: [{sku: EMS}]\n",
    ),
    (
        "an unknown key",
        "users:\n  a@contoso.com:\n    licence: []\n",
    ),
    (
        "a group's usage location",
        "groups:\n  Sales:\n    usage_location: DE\n",
    ),
    (
        "a key twice",
        "users:\n  a@contoso.com:\n    licenses: []\n  a@contoso.com:\n    licenses: []\n",
    ),
    (
        "a quoted key twice",
        "users:\n  a@contoso.com:\n    licenses: []\n  \"a@contoso.com\":\n    licenses: []\n",
    ),
    (
        "a field twice",
        "users:\n  a@contoso.com:\n    licenses: []\n    licenses: []\n",
    ),
    (
        "a section twice",
        "users:\n  a@contoso.com:\n    licenses: []\nusers:\n  b@contoso.com:\n    licenses: []\n",
    ),
    (
        "no sku",
        "users:\n  a@contoso.com:\n    licenses:\n      - disabled_plans: [A]\n",
    ),
    (
        "a sku twice",
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: A\n        sku: B\n",
    ),
    (
        "an anchor",
        "users:\n  a@contoso.com:\n    usage_location: &x DE\n",
    ),
    (
        "an alias",
        "users:\n  a@contoso.com:\n    usage_location: *x\n",
    ),
    (
        "a tag",
        "users:\n  a@contoso.com:\n    usage_location: !!str DE\n",
    ),
    ("a tab", "users:\n  a@contoso.com:\n    licenses:\t[]\n"),
    (
        "a carriage return",
        "users:\r\n  a@contoso.com:\r\n    licenses: []\r\n",
    ),
    (
        "a byte-order mark",
        "\u{feff}users:\n  a@contoso.com:\n    licenses: []\n",
    ),
    (
        "a document marker",
        "---\nusers:\n  a@contoso.com:\n    licenses: []\n",
    ),
    (
        "a directive",
        "%YAML 1.2\n---\nusers:\n  a@contoso.com:\n    licenses: []\n",
    ),
    (
        "an escape",
        "users:\n  \"a\\u0040contoso.com\":\n    licenses: []\n",
    ),
    (
        "a quote in single quotes",
        "users:\n  'o''brien@contoso.com':\n    licenses: []\n",
    ),
    (
        "a quoted line break",
        "users:\n  a@contoso.com:\n    usage_location: \"D\n      E\"\n",
    ),
    (
        "a block scalar",
        "users:\n  a@contoso.com:\n    usage_location: |\n      DE\n",
    ),
    (
        "a continuation line",
        "users:\n  a@contoso.com:\n    usage_location: D\n      E\n",
    ),
    (
        "a compact sequence",
        "users:\n  a@contoso.com:\n    licenses:\n    - sku: EMS\n",
    ),
    (
        "entries indented four",
        "users:\n    a@contoso.com:\n      licenses: []\n",
    ),
    (
        "an entry indented three",
        "users:\n  a@contoso.com:\n    licenses: []\n   b@contoso.com:\n    licenses: []\n",
    ),
    (
        "an item's key misaligned",
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: EMS\n         disabled_plans: []\n",
    ),
    (
        "two spaces after the dash",
        "users:\n  a@contoso.com:\n    licenses:\n      -  sku: EMS\n",
    ),
    (
        "a trailing comma",
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: EMS\n        disabled_plans: [A, ]\n",
    ),
    (
        "an empty list item",
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: EMS\n        disabled_plans: [A, , B]\n",
    ),
    (
        "an unclosed list",
        "users:\n  a@contoso.com:\n    licenses:\n      - sku: EMS\n        disabled_plans: [A, B\n",
    ),
    (
        "a comment without a space",
        "users:\n  a@contoso.com:\n    usage_location: DE#x\n",
    ),
    (
        "a colon inside a plain key",
        "users:\n  a:b@contoso.com:\n    licenses: []\n",
    ),
    (
        "a space before the colon",
        "users:\n  a@contoso.com :\n    licenses: []\n",
    ),
    (
        "a line separator in a comment",
        "users:\n  a@contoso.com:  # x\u{2028}y\n    licenses: []\n",
    ),
    (
        "a control character in a value",
        "users:\n  \"a\u{7}@contoso.com\":\n    licenses: []\n",
    ),
    (
        "a key that is a sequence item",
        "users:\n  - a@contoso.com\n",
    ),
];

#[test]
fn the_plain_reader_leaves_every_unusual_file_to_serde_saphyr() {
    for (why, text) in NOT_PLAIN {
        assert!(
            parse_plain(text).is_none(),
            "{why}: taken as plain:\n{text}"
        );
    }
}

/// Pieces of files, plain or not, for the property test.
const PIECES: &[&str] = &[
    "users:\n",
    "groups:\n",
    "version: 1\n",
    "  a@contoso.com:\n",
    "  b@contoso.com:  # note\n",
    "  \"c d@contoso.com\":\n",
    "  Sales:\n",
    "    licenses: []\n",
    "    licenses:\n",
    "    licenses: [ ]  # none\n",
    "    usage_location: DE\n",
    "    usage_location: \"NO\"\n",
    "    usage_location: NO\n",
    "    usage_location:\n",
    "    profile: base\n",
    "      - sku: SPE_E5\n",
    "      - sku: \"EMS\"  # x\n",
    "      - disabled_plans: [A]\n",
    "      -  sku: EMS\n",
    "    - sku: EMS\n",
    "        disabled_plans: [A, \"B\"]\n",
    "        enabled_plans: [ ]\n",
    "        disabled_plans:\n",
    "          - SWAY\n",
    "          - 'TEAMS1'\n",
    "        disabled_plans: [A,\n",
    "         B]\n",
    "        sku: EMS\n",
    "\n",
    "# comment\n",
    "      # indented comment\n",
    "      more text\n",
    "    licenses: [{sku: EMS}]\n",
    "  a@contoso.com: {licenses: []}\n",
    "    usage_location: &x DE\n",
    "    unknown: 1\n",
    "   odd@contoso.com:\n",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    /// Whatever the file, the fast path either declines it or gives exactly what
    /// serde-saphyr gives; it never accepts a file serde-saphyr refuses.
    #[test]
    fn the_plain_reader_declines_or_agrees_with_serde_saphyr(
        picks in proptest::collection::vec(0..PIECES.len(), 1..40),
    ) {
        let text: String = picks.iter().map(|&p| PIECES[p]).collect();
        if let Some(plain) = parse_plain(&text) {
            let whole = saphyr(&text).map_err(|e| format!("{text}\n{e}"));
            proptest::prop_assert!(whole.is_ok(), "plain accepted what serde-saphyr refuses: {:?}", whole.err());
            if let Ok(whole) = whole {
                proptest::prop_assert_eq!(everything(&plain), everything(&whole), "{}", text);
            }
        }
    }
}

/// A plain file made from `choices`: entries of users and groups with their keys in any
/// order, scalars plain and quoted (with non-ASCII text), licenses and plans in block
/// and flow lists, comments and blank lines anywhere a line may be.
fn plain_file(choices: &[u8]) -> String {
    let mut next = choices.iter().copied().cycle();
    let mut pick = |n: u8| next.next().map_or(0, |c| c % n);
    let words = [
        "SPE_E5",
        "EMS",
        "c7df2760-2c81-4ef7-b578-5b5392b571df",
        "ü-plan",
        "O'X",
        "a.b+c@d-e",
    ];
    let scalar = |pick: &mut dyn FnMut(u8) -> u8| {
        let word = words[usize::from(pick(6))];
        let plain_ok = !word.contains(['ü', '\'']);
        match pick(3) {
            0 if plain_ok => word.to_owned(),
            1 if !word.contains('\'') => format!("'{word}'"),
            _ => format!("\"{word}\""),
        }
    };
    let mut text = String::from("# header\n");
    let comment = |pick: &mut dyn FnMut(u8) -> u8, text: &mut String| {
        if pick(4) == 0 {
            text.push_str("  # note ü");
        }
    };
    for (section, count) in [("users", 1 + pick(4)), ("groups", pick(3))] {
        if count == 0 {
            continue;
        }
        text.push_str(section);
        text.push_str(":\n");
        for entry in 0..count {
            if pick(3) == 0 {
                text.push('\n');
            }
            text.push_str(&format!("  \"k{entry}-é\":"));
            comment(&mut pick, &mut text);
            text.push('\n');
            let mut fields = vec!["licenses", "profile"];
            if section == "users" {
                fields.push("usage_location");
            }
            let first = usize::from(pick(3)) % fields.len();
            fields.rotate_left(first);
            let keep = 1 + usize::from(pick(3)) % fields.len();
            for field in &fields[..keep] {
                if *field != "licenses" {
                    text.push_str(&format!("    {field}: {}", scalar(&mut pick)));
                    comment(&mut pick, &mut text);
                    text.push('\n');
                    continue;
                }
                let licenses = pick(3);
                if licenses == 0 {
                    text.push_str("    licenses: []\n");
                    continue;
                }
                text.push_str("    licenses:\n");
                for _ in 0..licenses {
                    if pick(4) == 0 {
                        text.push_str("      # between items\n");
                    }
                    text.push_str(&format!("      - sku: {}", scalar(&mut pick)));
                    comment(&mut pick, &mut text);
                    text.push('\n');
                    for key in ["disabled_plans", "enabled_plans"] {
                        match pick(5) {
                            0 => text.push_str(&format!("        {key}: []\n")),
                            1 => {
                                let items: Vec<String> =
                                    (0..1 + pick(3)).map(|_| scalar(&mut pick)).collect();
                                let sep = if pick(2) == 0 { ", " } else { " ,  " };
                                text.push_str(&format!("        {key}: [ {} ]\n", items.join(sep)));
                            }
                            2 => {
                                text.push_str(&format!("        {key}:\n"));
                                for _ in 0..1 + pick(3) {
                                    text.push_str(&format!("          - {}", scalar(&mut pick)));
                                    comment(&mut pick, &mut text);
                                    text.push('\n');
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    text
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// Every file in the plain layout takes the fast path and gives exactly what
    /// serde-saphyr gives.
    #[test]
    fn every_plain_file_takes_the_fast_path_and_agrees_with_serde_saphyr(
        choices in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..200),
    ) {
        let text = plain_file(&choices);
        let whole = saphyr(&text).map_err(|e| format!("{text}\n{e}"));
        proptest::prop_assert!(whole.is_ok(), "{:?}", whole.err());
        let plain = parse_plain(&text);
        proptest::prop_assert!(plain.is_some(), "not taken as plain:\n{}", text);
        if let (Some(plain), Ok(whole)) = (plain, whole) {
            proptest::prop_assert_eq!(everything(&plain), everything(&whole), "{}", text);
        }
    }
}

/// A file of many users takes the fast path (the case it is for).
#[test]
fn a_large_exported_file_takes_the_fast_path() {
    let mut text = String::from("users:\n");
    for i in 0..2_000 {
        text.push_str(&format!(
            "  user{i}@contoso.com:\n    licenses:\n      - sku: SPE_E5\n        disabled_plans: [YAMMER_ENTERPRISE, SWAY]\n    usage_location: DE\n\n"
        ));
    }
    let plain = parse_plain(&text).expect("plain");
    assert_eq!(plain.users.as_ref().map(|u| u.0.len()), Some(2_000));
    let whole = saphyr(&text).expect("parses");
    assert_eq!(everything(&plain), everything(&whole));
}
