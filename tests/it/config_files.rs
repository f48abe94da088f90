//! Which files config discovery reads (docs/config.md, "Which files are read"): regular
//! files only, no symbolic link followed, special files never opened, sizes checked
//! before reading, and diagnostics that never print a line of a file that was not read.
//! These guard the CI flow in which `validate` and `plan` run on a pull request's config
//! with credentials in the environment.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::util::{example, licensectl};

/// A secret that only the file outside the config directory holds.
const FILE_SECRET: &str = "fake-client-secret-Zq81xW";
/// A value that only the process environment holds (and so `/proc/self/environ`).
const ENV_CANARY: &str = "canary-in-the-environment-7731";

const SETTINGS: &str =
    "version: 1\ntenant: contoso.onmicrosoft.com\nprofiles:\n  worker:\n    - sku: SPE_E3\n";
const TEAM: &str = "users:\n  alice@contoso.com:\n    profile: worker\n";

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// A valid config directory `cfg` (settings and one team file) inside `root`.
fn config_in(root: &Path) -> std::path::PathBuf {
    let cfg = root.join("cfg");
    write(&cfg.join("licensectl.yaml"), SETTINGS);
    write(&cfg.join("licenses/team.yaml"), TEAM);
    cfg
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `licensectl validate --config cfg` with `env`, within 30 s: exit code and all output.
fn validate(cfg: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = licensectl();
    cmd.args(["validate", "--config"]).arg(cfg);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let output = run_within(cmd, Duration::from_secs(30));
    (output.status.code(), text(&output))
}

/// Runs `cmd`, killing it if it has not finished within `limit`.
fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("licensectl did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every way a pull request's config is looked at: `validate` in each format, and `plan`
/// against the example snapshot in text and Markdown.
fn every_reading(cfg: &Path) -> Vec<(String, Output)> {
    let cfg = cfg.to_str().expect("utf-8 path");
    let snapshot = example().join("tenant.json");
    let snapshot = snapshot.to_str().expect("utf-8 path");
    let runs: [&[&str]; 5] = [
        &["validate", "--config", cfg],
        &["validate", "--config", cfg, "--format", "json"],
        &["validate", "--config", cfg, "--format", "github"],
        &["plan", "--config", cfg, "--snapshot", snapshot],
        &[
            "plan",
            "--config",
            cfg,
            "--snapshot",
            snapshot,
            "--format",
            "markdown",
        ],
    ];
    runs.iter()
        .map(|args| {
            let mut cmd = licensectl();
            cmd.args(*args)
                .env("AZURE_CLIENT_SECRET", FILE_SECRET)
                .env("LICENSECTL_TEST_CANARY", ENV_CANARY);
            (args.join(" "), run_within(cmd, Duration::from_secs(60)))
        })
        .collect()
}

#[test]
fn symlinks_out_of_the_config_directory_are_refused_and_their_content_never_printed() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    let secret = root.path().join("outside/ci.env");
    write(
        &secret,
        &format!("AZURE_CLIENT_SECRET={FILE_SECRET}\nOTHER=value\n"),
    );
    std::os::unix::fs::symlink(&secret, cfg.join("licenses/x.yaml")).expect("symlink");
    std::os::unix::fs::symlink("/proc/self/environ", cfg.join("licenses/y.yaml")).expect("symlink");
    for (run, output) in every_reading(&cfg) {
        let all = text(&output);
        assert_eq!(output.status.code(), Some(78), "{run}: {all}");
        assert!(!all.contains(FILE_SECRET), "{run} printed the file: {all}");
        assert!(
            !all.contains(ENV_CANARY),
            "{run} printed the environment: {all}"
        );
        assert!(!all.contains("OTHER=value"), "{run}: {all}");
        assert!(all.contains("not-a-regular-file"), "{run}: {all}");
        for name in ["licenses/x.yaml", "licenses/y.yaml"] {
            assert!(all.contains(name), "{run} does not name {name}: {all}");
        }
    }
}

#[test]
fn symlinks_inside_the_config_directory_are_refused_too() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    write(
        &cfg.join("shared/team.txt"),
        "users:\n  bob@contoso.com: {profile: worker}\n",
    );
    std::os::unix::fs::symlink("../shared/team.txt", cfg.join("licenses/bob.yaml"))
        .expect("symlink");
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("licenses/bob.yaml is a symbolic link (to ../shared/team.txt)"),
        "{all}"
    );
}

#[test]
fn a_dangling_symlink_is_an_error_not_a_silent_skip() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    std::os::unix::fs::symlink("gone.yaml", cfg.join("licenses/sales.yaml")).expect("symlink");
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("error[not-a-regular-file]")
            && all.contains("licenses/sales.yaml is a dangling symbolic link (to gone.yaml)"),
        "{all}"
    );
}

#[test]
fn a_symlinked_directory_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    write(&root.path().join("elsewhere/more.yaml"), TEAM);
    std::os::unix::fs::symlink(root.path().join("elsewhere"), cfg.join("teams")).expect("symlink");
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(all.contains("is a symbolic link to a directory"), "{all}");
}

#[test]
fn a_fifo_named_like_a_config_file_is_refused_without_blocking() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    let fifo = cfg.join("licenses/pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("licenses/pipe.yaml is a FIFO (named pipe); it is not read"),
        "{all}"
    );
}

#[test]
fn devices_named_like_config_files_are_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    // A device node cannot be made without privileges everywhere; a symlink to one is
    // refused as a symlink before its target is ever opened.
    std::os::unix::fs::symlink("/dev/zero", cfg.join("licenses/zero.yaml")).expect("symlink");
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("licenses/zero.yaml is a symbolic link"),
        "{all}"
    );
}

/// Sixteen files of 250 MB (sparse: no disk used) are refused from their sizes alone:
/// nothing is read, so the refusal is quick and costs no memory.
#[test]
fn the_total_config_size_is_capped_before_anything_is_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    for i in 0..16 {
        let file = std::fs::File::create(cfg.join(format!("licenses/big{i:02}.yaml"))).expect("f");
        file.set_len(250_000_000).expect("sparse file");
    }
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("error[yaml-limit]")
            && all.contains("holds 18 config files of 4000000")
            && all.contains("no file was read")
            && all.contains("LICENSECTL_MAX_CONFIG_BYTES"),
        "{all}"
    );
}

#[test]
fn the_total_config_limit_can_be_changed_from_the_environment() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    let (code, all) = validate(&cfg, &[("LICENSECTL_MAX_CONFIG_BYTES", "64")]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("more than the 64 a config directory may hold"),
        "{all}"
    );
    let (code, all) = validate(&cfg, &[("LICENSECTL_MAX_CONFIG_BYTES", "1KiB")]);
    assert_eq!(code, Some(0), "{all}");
    let (code, all) = validate(&cfg, &[("LICENSECTL_MAX_CONFIG_BYTES", "lots")]);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("LICENSECTL_MAX_CONFIG_BYTES=lots is not a size"),
        "{all}"
    );
}

#[test]
fn one_file_above_the_file_limit_is_not_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    let file = std::fs::File::create(cfg.join("licenses/huge.yaml")).expect("f");
    file.set_len(300 * 1024 * 1024).expect("sparse file");
    let (code, all) = validate(&cfg, &[("LICENSECTL_MAX_CONFIG_BYTES", "1GiB")]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("licenses/huge.yaml is 314572800 bytes, more than the 268435456"),
        "{all}"
    );
}

#[test]
fn a_diagnostic_shows_only_the_offending_line_and_never_a_very_long_one() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    write(
        &cfg.join("licenses/sales.yaml"),
        "# NEIGHBOUR-LINE-BEFORE\nusers:\n  bob@contoso.com:\n    profile: wroker\n# NEIGHBOUR-LINE-AFTER\n",
    );
    let long = format!(
        "users: {{carol@contoso.com: {{profile: wroker}}}}  # {}\n",
        "x".repeat(5_000)
    );
    write(&cfg.join("licenses/long.yaml"), &long);
    let (code, all) = validate(&cfg, &[]);
    assert_eq!(code, Some(78), "{all}");
    assert!(
        all.contains("profile: wroker"),
        "the offending line is shown: {all}"
    );
    assert!(
        !all.contains("NEIGHBOUR-LINE"),
        "only the offending line: {all}"
    );
    assert!(all.contains("licenses/long.yaml:1:"), "{all}");
    assert!(
        !all.contains(&"x".repeat(1_001)),
        "a 5,000-byte line is not shown: {all}"
    );
}

#[test]
fn control_and_bidi_characters_are_refused_and_never_reach_the_terminal() {
    let root = tempfile::tempdir().expect("tempdir");
    let cfg = config_in(root.path());
    // An OSC 8 hyperlink written with YAML escapes, a raw right-to-left override in a
    // plain scalar, and a C1 control (CSI) in a profile reference.
    write(
        &cfg.join("licenses/evil.yaml"),
        "users:\n  \"eve\\e]8;;https://evil.example\\e\\\\@contoso.com\": {profile: worker}\n  bob\u{202E}@contoso.com: {profile: worker}\n  carol@contoso.com: {profile: \"work\\x9ber\"}\n",
    );
    for format in ["human", "github", "json"] {
        let (code, all) = validate_as(&cfg, format);
        assert_eq!(code, Some(78), "{format}: {all}");
        assert_eq!(
            all.matches("control-character").count(),
            3,
            "{format}: {all}"
        );
        for bad in ['\u{1b}', '\u{202E}', '\u{9b}'] {
            assert!(!all.contains(bad), "{format} printed {bad:?} raw: {all}");
        }
    }
}

fn validate_as(cfg: &Path, format: &str) -> (Option<i32>, String) {
    let output = licensectl()
        .args(["validate", "--format", format, "--config"])
        .arg(cfg)
        .output()
        .expect("runs");
    (output.status.code(), text(&output))
}
