//! Issue 18: `licensectl completions SHELL` for every shell clap_complete knows, and
//! `licensectl man [--out DIR]`. A script must be non-empty, name the commands, and parse
//! in its shell where that shell is installed (bash always; .ci/run installs zsh and fish
//! when it can); a man page must render with man-db's `man -l` (.ci/run installs man-db).
//! Where a tool is missing the check is skipped with a message saying so.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{licensectl, show, text};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "powershell", "elvish"];

/// True when `program` can be run (it answers `--version`).
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn completions(shell: &str) -> String {
    let out = licensectl()
        .args(["completions", shell])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{shell}: {}", show(&out));
    text(&out.stdout)
}

#[test]
fn issue18_completions_cover_every_command_in_every_shell() {
    for shell in SHELLS {
        let script = completions(shell);
        for command in [
            "init", "validate", "plan", "drift", "apply", "export", "man",
        ] {
            assert!(
                script.contains(command),
                "{shell}: the script completes `{command}`"
            );
        }
        // fish names long flags `-l config`, the others `--config`.
        assert!(
            script.contains("--config") || script.contains("-l config"),
            "{shell}: flags are completed"
        );
    }
}

/// Checks `script` with `shell`'s own parser (`-n`: read, do not run), if installed.
fn parses(shell: &str, args: &[&str], script: &str, dir: &Path) {
    if !installed(shell) {
        crate::util::skipped(&format!(
            "{shell} is not installed, its completion script is not parsed"
        ));
        return;
    }
    let file = dir.join(format!("licensectl.{shell}"));
    std::fs::write(&file, script).expect("written");
    let out = Command::new(shell)
        .args(args)
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} parses the script: {}",
        show(&out)
    );
}

#[test]
fn issue18_completion_scripts_parse_in_their_shells() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(installed("bash"), "bash runs the tests");
    parses("bash", &["-n"], &completions("bash"), dir.path());
    parses("zsh", &["-n"], &completions("zsh"), dir.path());
    parses("fish", &["--no-execute"], &completions("fish"), dir.path());
}

#[test]
fn issue18_bash_completion_completes_a_subcommand_and_its_flags() {
    let script = completions("bash");
    // Load the script, then ask its completion function as bash would for
    // `licensectl pl<TAB>` and `licensectl plan --det<TAB>`.
    let probe = format!(
        "{script}\n\
         COMP_WORDS=(licensectl pl); COMP_CWORD=1; _licensectl licensectl pl licensectl; echo \"${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(licensectl plan --det); COMP_CWORD=2; _licensectl licensectl --det plan; echo \"${{COMPREPLY[*]}}\"\n"
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("bash runs");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", show(&out));
    assert_eq!(lines[0], "plan", "licensectl pl<TAB>");
    assert_eq!(
        lines[1], "--detailed-exitcode",
        "licensectl plan --det<TAB>"
    );
}

/// Renders a roff page with man-db's `man -l` as plain text, or `None` (with a message)
/// when man-db is not installed.
fn rendered(page: &Path) -> Option<String> {
    if !installed("man") {
        crate::util::skipped("man (man-db) is not installed, man pages are not rendered");
        return None;
    }
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LANG", "C.UTF-8")
        .env_remove("MANOPT")
        .stdin(Stdio::null())
        .output()
        .expect("man runs");
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        show(&out)
    );
    let warnings: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains("warning") || l.contains("error"))
        .collect();
    assert!(
        warnings.is_empty(),
        "man -l {} warns: {warnings:?}",
        page.display()
    );
    Some(text(&out.stdout))
}

#[test]
fn issue18_the_man_page_renders_with_man() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = licensectl().arg("man").output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(text(&out.stdout).starts_with(".ie \\n(.g .ds Aq"), "roff");
    let page = dir.path().join("licensectl.1");
    std::fs::write(&page, &out.stdout).expect("written");
    let Some(shown) = rendered(&page) else { return };
    for needle in [
        "NAME",
        "licensectl",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "init",
        "plan",
        "--color",
    ] {
        assert!(shown.contains(needle), "the page shows {needle}: {shown}");
    }
    assert!(
        shown.contains(licensectl::VERSION),
        "the page names the version and build"
    );
}

#[test]
fn issue18_man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("man1");
    let out = licensectl()
        .args(["man", "--out"])
        .arg(&out_dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    for command in [
        "licensectl",
        "licensectl-init",
        "licensectl-plan",
        "licensectl-apply",
    ] {
        let page = out_dir.join(format!("{command}.1"));
        assert!(page.is_file(), "{} written", page.display());
        if let Some(shown) = rendered(&page) {
            assert!(shown.contains(command), "{command}: {shown}");
        }
    }
    let plan = out_dir.join("licensectl-plan.1");
    if let Some(shown) = rendered(&plan) {
        assert!(shown.contains("--detailed-exitcode"), "{shown}");
    }
    let count = std::fs::read_dir(&out_dir).expect("listed").count();
    assert!(
        text(&out.stderr).contains(&format!("wrote {count} man pages to")),
        "{}",
        show(&out)
    );
}
