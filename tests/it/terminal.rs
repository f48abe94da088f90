//! Issue 18, what a person at a terminal sees: colour on a terminal and never in a pipe
//! or with `NO_COLOR` (driven through a pseudo-terminal, as the apply confirmation test
//! does), `--color` and `CLICOLOR_FORCE`, `--quiet`, help that fits a screen, and a
//! version that names the build. The renderer's side (the plain palette is the uncoloured
//! text byte for byte) is checked here too.

use std::process::Command;

use licensectl::config::load;
use licensectl::plan::{PlanOptions, plan};
use licensectl::render::{Mode, Palette, text};

use crate::util::{contoso, example, licensectl, on_a_terminal, show, text as utf8};

const ESC: char = '\u{1b}';

/// The contoso plan on the command line.
fn plan_cmd(extra: &[&str]) -> Command {
    let mut cmd = licensectl();
    cmd.args([
        "plan",
        "--config",
        "examples/contoso",
        "--snapshot",
        "examples/contoso/tenant.json",
    ])
    .args(extra);
    cmd
}

/// `cmd` as a colour terminal runs it: NO_COLOR (which every test command sets) removed.
fn at_a_colour_terminal(mut cmd: Command) -> Command {
    cmd.env_remove("NO_COLOR").env("TERM", "xterm-256color");
    cmd
}

/// Removes ANSI SGR sequences (`ESC [ … m`).
fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue18_a_terminal_gets_colours_a_pipe_and_no_color_do_not() {
    let coloured = on_a_terminal(&at_a_colour_terminal(plan_cmd(&[])), "").await;
    let screen = utf8(&coloured.stdout);
    assert_eq!(coloured.status.code(), Some(0), "{}", show(&coloured));
    // Terraform's colours: + green, ~ yellow, - red, a destructive removal bold red.
    for (what, code) in [
        ("+ in green", "\u{1b}[32m+\u{1b}[0m"),
        ("~ in yellow", "\u{1b}[33m~\u{1b}[0m"),
        ("- in red", "\u{1b}[31m-\u{1b}[0m"),
        (
            "the destructive removal in bold red",
            "\u{1b}[1m\u{1b}[31m- ENTERPRISEPACK",
        ),
    ] {
        assert!(screen.contains(code), "{what}: {screen:?}");
    }

    let mut no_color = at_a_colour_terminal(plan_cmd(&[]));
    no_color.env("NO_COLOR", "1");
    let plain = on_a_terminal(&no_color, "").await;
    assert_eq!(plain.status.code(), Some(0), "{}", show(&plain));
    let plain_screen = utf8(&plain.stdout);
    assert!(!plain_screen.contains(ESC), "NO_COLOR=1: {plain_screen:?}");
    assert_eq!(
        strip_sgr(&screen),
        plain_screen,
        "the colours are all that differs"
    );

    let piped = at_a_colour_terminal(plan_cmd(&[])).output().expect("runs");
    assert!(
        !piped.stdout.contains(&0x1b) && !piped.stderr.contains(&0x1b),
        "a pipe gets no colour: {}",
        show(&piped)
    );

    let never = on_a_terminal(&at_a_colour_terminal(plan_cmd(&["--color", "never"])), "").await;
    assert!(!utf8(&never.stdout).contains(ESC), "--color never");

    // Markdown and JSON are never coloured, even on a terminal.
    for format in ["markdown", "json"] {
        let out = on_a_terminal(&at_a_colour_terminal(plan_cmd(&["--format", format])), "").await;
        assert!(!utf8(&out.stdout).contains(ESC), "--format {format}");
    }
}

#[test]
fn issue18_color_always_and_clicolor_force_colour_a_pipe_and_the_flag_wins() {
    let always = plan_cmd(&["--color=always"]).output().expect("runs");
    assert!(
        utf8(&always.stdout).contains("\u{1b}[32m+"),
        "{}",
        show(&always)
    );
    // NO_COLOR=1 is set by the test command: the flag overrides it.
    let mut forced = plan_cmd(&[]);
    forced.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    let forced = forced.output().expect("runs");
    assert!(
        utf8(&forced.stdout).contains("\u{1b}[32m+"),
        "CLICOLOR_FORCE=1"
    );
    let mut both = plan_cmd(&[]);
    both.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
    let both = both.output().expect("runs");
    assert!(
        !utf8(&both.stdout).contains(ESC),
        "NO_COLOR wins over CLICOLOR_FORCE"
    );
    let mut never = plan_cmd(&["--color", "never"]);
    never.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    let never = never.output().expect("runs");
    assert!(!utf8(&never.stdout).contains(ESC), "--color never wins");
    // Diagnostics on stderr follow the same rule.
    let invalid = licensectl()
        .args([
            "validate",
            "--config",
            "tests/fixtures/invalid/unknown-profile",
            "--color",
            "always",
        ])
        .output()
        .expect("runs");
    assert_eq!(invalid.status.code(), Some(78));
    assert!(utf8(&invalid.stderr).contains(ESC), "{}", show(&invalid));
}

#[test]
fn issue18_the_plain_palette_is_the_uncoloured_text_and_colours_only_add_codes() {
    let loaded = load(&example());
    let desired = loaded.desired.as_ref().expect("valid example");
    let plan = plan(desired, &contoso(), &PlanOptions::default());
    for mode in [Mode::Plan, Mode::Drift] {
        let plain = text::render(&plan, mode);
        assert_eq!(text::render_with(&plan, mode, &Palette::PLAIN), plain);
        let coloured = text::render_with(&plan, mode, &Palette::ANSI);
        assert_ne!(coloured, plain, "{mode:?}: coloured");
        assert_eq!(
            strip_sgr(&coloured),
            plain,
            "{mode:?}: only codes are added"
        );
    }
}

#[test]
fn issue18_quiet_prints_only_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("plan.json");
    let loud = plan_cmd(&["--out"]).arg(&saved).output().expect("runs");
    assert!(
        utf8(&loud.stderr).contains("Saved the plan to"),
        "{}",
        show(&loud)
    );
    let quiet = plan_cmd(&["-q", "--out"])
        .arg(&saved)
        .output()
        .expect("runs");
    assert_eq!(quiet.status.code(), Some(0), "{}", show(&quiet));
    assert!(
        quiet.stderr.is_empty(),
        "nothing but errors: {}",
        show(&quiet)
    );
    assert_eq!(
        quiet.stdout, loud.stdout,
        "the plan itself is still printed"
    );
    // An error still is.
    let broken = licensectl()
        .args([
            "--quiet",
            "plan",
            "--config",
            "tests/fixtures/invalid/unknown-profile",
        ])
        .args(["--snapshot", "examples/contoso/tenant.json"])
        .output()
        .expect("runs");
    assert_eq!(broken.status.code(), Some(78));
    assert!(
        utf8(&broken.stderr).contains("error[unknown-profile]"),
        "{}",
        show(&broken)
    );
    // A valid config validates without a word.
    let ok = licensectl()
        .args(["validate", "--config", "examples/contoso", "--quiet"])
        .output()
        .expect("runs");
    assert_eq!(ok.status.code(), Some(0));
    assert!(
        ok.stderr.is_empty() && ok.stdout.is_empty(),
        "{}",
        show(&ok)
    );
}

#[test]
fn issue18_plan_short_help_fits_a_screen() {
    let out = licensectl().args(["plan", "-h"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let help = utf8(&out.stdout);
    let lines: Vec<&str> = help.lines().collect();
    assert!(lines.len() <= 40, "{} lines:\n{help}", lines.len());
    let wide: Vec<&&str> = lines.iter().filter(|l| l.chars().count() > 100).collect();
    assert!(wide.is_empty(), "lines wider than 100 columns: {wide:#?}");
    // The long form keeps the detail.
    let long = licensectl()
        .args(["plan", "--help"])
        .output()
        .expect("runs");
    assert!(utf8(&long.stdout).lines().count() > lines.len());
}

#[test]
fn issue18_help_speaks_to_the_user_not_the_code() {
    let commands: [&[&str]; 13] = [
        &["plan"],
        &["drift"],
        &["apply"],
        &["snapshot"],
        &["export"],
        &["init"],
        &["validate"],
        &["schema"],
        &["comment"],
        &["completions"],
        &["man"],
        &["emulator", "serve"],
        &["emulator", "generate"],
    ];
    for command in commands {
        let command = command.join(" ");
        let out = licensectl()
            .args(command.split(' '))
            .arg("--help")
            .output()
            .expect("runs");
        let help = utf8(&out.stdout);
        for internal in [
            "[`",
            "`]",
            "cargo bench",
            "rustdoc",
            "TODO",
            " ms per request",
        ] {
            assert!(
                !help.contains(internal),
                "`{command} --help` shows an implementation note ({internal}):\n{help}"
            );
        }
    }
}

#[test]
fn issue18_the_version_names_the_commit_and_its_date() {
    let out = licensectl().arg("--version").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let version = utf8(&out.stdout);
    assert_eq!(version, format!("licensectl {}\n", licensectl::VERSION));
    let build = licensectl::BUILD;
    let (commit, date) = build.split_once(' ').expect("a commit and a date");
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=12",
            "HEAD",
        ])
        .output();
    match head {
        Ok(head) if head.status.success() => {
            assert_eq!(commit, utf8(&head.stdout).trim(), "the commit built");
        }
        _ => crate::util::skipped("no git checkout, the commit is not compared"),
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = date.split('-').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| digits(p)) && parts[0].len() == 4,
        "a YYYY-MM-DD date: {date}"
    );
}
