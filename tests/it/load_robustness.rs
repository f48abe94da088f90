//! The loader never panics and always explains itself: random bytes, YAML-like noise,
//! non-UTF-8, deep nesting, alias bombs and large files all end in diagnostics (or a
//! valid state), with every location inside a known file.

use std::path::Path;

use licensectl::config::{self, ConfigFiles, LoadedConfig};
use licensectl::diagnostic::{DiagnosticCode as Code, Stage};
use proptest::prelude::*;

const ROOT: &str = "version: 1\nprofiles:\n  worker:\n    - sku: SPE_E3\n";

/// Checks `licensectl.yaml` (ROOT) and `team.yaml` held in memory: no directory needed.
fn load_with(team: &[u8]) -> LoadedConfig {
    config::load_files(ConfigFiles::new(
        "cfg",
        [("licensectl.yaml", ROOT.as_bytes()), ("team.yaml", team)],
    ))
}

/// The invariants every load must keep.
fn check_invariants(loaded: &LoadedConfig) {
    let has_error = loaded.diagnostics.iter().any(|d| d.is_error());
    assert_eq!(
        loaded.desired.is_some(),
        !has_error,
        "{:?}",
        loaded.diagnostics
    );
    assert_eq!(loaded.digest.len(), 64);
    for diagnostic in &loaded.diagnostics {
        assert!(!diagnostic.message.is_empty());
        assert!(
            diagnostic.code.stages().contains(&Stage::Config),
            "{} is not a config code",
            diagnostic.code
        );
        for location in diagnostic
            .location
            .iter()
            .chain(diagnostic.related.iter().map(|(l, _)| l))
        {
            let text = loaded
                .sources
                .get(&location.file)
                .unwrap_or_else(|| panic!("{} not in sources", location.file.display()));
            assert!(location.line >= 1 && location.column >= 1, "{location}");
            assert!(
                location.line <= text.lines().count() + 1,
                "{location} beyond end of file"
            );
        }
    }
    // Rendering never panics either.
    let _ = licensectl::diagnostic::render::human(&loaded.diagnostics, &loaded.sources, false);
    let _ = licensectl::diagnostic::render::json(&loaded.diagnostics);
    let _ = licensectl::diagnostic::render::github(&loaded.diagnostics);
}

fn yaml_noise() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("users:".to_owned()),
        Just("groups:".to_owned()),
        Just("licenses:".to_owned()),
        Just("profile:".to_owned()),
        Just("usage_location:".to_owned()),
        Just("sku:".to_owned()),
        Just("enabled_plans:".to_owned()),
        Just("disabled_plans:".to_owned()),
        Just("version:".to_owned()),
        Just("alice@contoso.com:".to_owned()),
        Just("worker".to_owned()),
        Just("SPE_E3".to_owned()),
        Just("6fd2c87f-b296-42f0-b197-1e91e994b900".to_owned()),
        Just("DE".to_owned()),
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("- ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(", ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: ".to_owned()),
        Just("!!str ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("|\n".to_owned()),
        Just("# c\n".to_owned()),
        Just("---\n".to_owned()),
        Just("~".to_owned()),
        Just("0x1F".to_owned()),
        Just("007".to_owned()),
        Just("yes".to_owned()),
        "[a-zA-Z0-9@._-]{1,8}",
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_invariants(&load_with(&bytes));
    }

    #[test]
    fn yaml_like_noise_never_panics(text in yaml_noise()) {
        check_invariants(&load_with(text.as_bytes()));
    }

    #[test]
    fn noise_inside_a_valid_user_never_panics(text in yaml_noise()) {
        let indented: String = text.lines().map(|l| format!("    {l}\n")).collect();
        let team = format!("users:\n  alice@contoso.com:\n{indented}");
        check_invariants(&load_with(team.as_bytes()));
    }
}

#[test]
fn hostile_inputs_end_in_diagnostics() {
    let deep_flow = format!("users: {}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_block: String = (0..500)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let name = (b'a' + i) as char;
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
    }
    let recursive = "users: &u\n  alice@contoso.com: *u\n".to_owned();
    let cases: Vec<(&str, Vec<u8>, Code)> = vec![
        ("deep flow nesting", deep_flow.into_bytes(), Code::YamlLimit),
        (
            "deep block nesting",
            deep_block.into_bytes(),
            Code::YamlLimit,
        ),
        ("alias bomb", bomb.into_bytes(), Code::YamlLimit),
        ("recursive alias", recursive.into_bytes(), Code::YamlLimit),
        (
            "latin-1",
            b"users:\n  caf\xe9@contoso.com:\n    licenses: []\n".to_vec(),
            Code::InvalidEncoding,
        ),
        (
            "utf-16",
            b"\xff\xfeu\0s\0e\0r\0s\0:\0".to_vec(),
            Code::InvalidEncoding,
        ),
        (
            "two documents",
            b"users: {}\n---\ngroups: {}\n".to_vec(),
            Code::YamlSyntax,
        ),
        (
            "tab indentation",
            b"users:\n\talice@contoso.com: {}\n".to_vec(),
            Code::YamlSyntax,
        ),
        (
            "scalar root",
            b"just a string\n".to_vec(),
            Code::InvalidType,
        ),
        ("list root", b"- a\n- b\n".to_vec(), Code::InvalidType),
        (
            "non-string key",
            b"users:\n  [a, b]: {licenses: []}\n".to_vec(),
            Code::InvalidType,
        ),
        (
            "strict booleans",
            b"users:\n  alice@contoso.com:\n    profile: worker\n    licenses: yes\n".to_vec(),
            Code::InvalidType,
        ),
        (
            "null user",
            b"users:\n  alice@contoso.com:\n".to_vec(),
            Code::InvalidType,
        ),
    ];
    for (name, bytes, code) in cases {
        let loaded = load_with(&bytes);
        check_invariants(&loaded);
        assert!(loaded.desired.is_none(), "{name}");
        assert!(
            loaded.diagnostics.iter().any(|d| d.code == code),
            "{name}: expected {code}, got {:?}",
            loaded
                .diagnostics
                .iter()
                .map(|d| (d.code, &d.message))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn yaml_1_1_traps_stay_strings() {
    // Norway's code is not a boolean, leading zeros are kept, and `on` is just a name.
    let loaded = load_with(
        b"users:\n  olaf@contoso.com:\n    usage_location: NO\n    licenses:\n      - sku: '007'\n      - sku: 007\n",
    );
    check_invariants(&loaded);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == Code::DuplicateSku),
        "{:?}",
        loaded.diagnostics
    );
    let loaded = load_with(
        b"users:\n  olaf@contoso.com:\n    usage_location: NO\n    licenses:\n      - sku: 1_000\n",
    );
    check_invariants(&loaded);
    let desired = loaded.desired.expect("valid");
    assert_eq!(
        desired.users[0]
            .usage_location
            .as_ref()
            .map(|l| l.value.as_str()),
        Some("NO")
    );
}

#[test]
fn large_generated_file_loads() {
    let mut team = String::from("users:\n");
    for i in 0..20_000 {
        team.push_str(&format!(
            "  user{i}@contoso.com:\n    usage_location: DE\n    profile: worker\n"
        ));
    }
    let loaded = load_with(team.as_bytes());
    check_invariants(&loaded);
    assert_eq!(loaded.desired.expect("valid").users.len(), 20_000);
}

#[test]
fn missing_or_unreadable_directories_are_diagnostics() {
    for path in [
        Path::new("/nonexistent/licensectl-config"),
        Path::new("Cargo.toml"),
    ] {
        let loaded = config::load(path);
        assert!(loaded.desired.is_none());
        assert_eq!(loaded.diagnostics.len(), 1);
        assert_eq!(loaded.diagnostics[0].code, Code::ConfigUnreadable);
    }
}

#[test]
fn digest_covers_paths_and_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("licensectl.yaml"), ROOT).expect("write");
    std::fs::write(dir.path().join("a.yaml"), "users: {}\n").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let first = config::load(dir.path()).digest;
    assert_eq!(config::load(dir.path()).digest, first, "stable");
    std::fs::write(dir.path().join("notes.txt"), "still ignored").expect("write");
    assert_eq!(
        config::load(dir.path()).digest,
        first,
        "non-config files do not count"
    );
    std::fs::rename(dir.path().join("a.yaml"), dir.path().join("b.yaml")).expect("rename");
    assert_ne!(config::load(dir.path()).digest, first, "renames count");
    std::fs::write(dir.path().join("b.yaml"), "users: {} \n").expect("write");
    assert_ne!(config::load(dir.path()).digest, first, "bytes count");
}
