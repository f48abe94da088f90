//! A reader that stops early (`licensectl plan … | head -1`) is not an error: the command
//! exits with its own code and prints nothing on stderr.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{example, licensectl, text};

use graph_emulator::generate::{GenerateOptions, generate};

/// Runs `cmd` with a stdout whose read end is closed before the command starts: its first
/// write fails with a broken pipe, whatever the size of its output.
fn run_with_closed_stdout(cmd: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("runs")
}

#[test]
fn plan_to_a_closed_pipe_exits_0_with_nothing_on_stderr() {
    let out = run_with_closed_stdout(
        licensectl()
            .arg("plan")
            .arg("--config")
            .arg(example())
            .arg("--snapshot")
            .arg(example().join("tenant.json")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn every_printing_command_ignores_a_closed_pipe_and_keeps_its_exit_code() {
    let cases: [(&[&str], i32); 6] = [
        (&["schema"], 0),
        // JSON plans and drift reports are written as they are made, not printed whole.
        (
            &[
                "plan",
                "--format",
                "json",
                "--snapshot",
                "tenant.json",
                "--config",
            ],
            0,
        ),
        (
            &[
                "drift",
                "--format",
                "json",
                "--snapshot",
                "tenant.json",
                "--config",
            ],
            2,
        ),
        (&["validate", "--format", "json", "--config"], 0),
        (&["validate", "--format", "github", "--config"], 0),
        (&["drift", "--snapshot", "tenant.json", "--config"], 2),
    ];
    for (args, code) in cases {
        let mut cmd = licensectl();
        cmd.current_dir(example());
        for arg in args {
            cmd.arg(arg);
        }
        if args.last() == Some(&"--config") {
            cmd.arg(".");
        }
        let out = run_with_closed_stdout(&mut cmd);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

/// A tenant of 2,000 users and a config that removes every direct license: a plan of
/// about 300 KB, far more than a pipe holds, so the command is still writing when the
/// reader goes away.
fn large_plan_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let snapshot = generate(&GenerateOptions {
        users: 2_000,
        ..GenerateOptions::default()
    })
    .expect("generates");
    let tenant = dir.join("tenant.json");
    snapshot.write(&tenant).expect("writes the tenant");
    let config = dir.join("config");
    std::fs::create_dir(&config).expect("mkdir");
    std::fs::write(config.join("licensectl.yaml"), "version: 1\n").expect("writes");
    let mut users = String::from("users:\n");
    for user in &snapshot.users {
        users.push_str(&format!(
            "  {}:\n    licenses: []\n",
            user.user_principal_name
        ));
    }
    std::fs::write(config.join("users.yaml"), users).expect("writes");
    (config, tenant)
}

/// Text is printed whole, JSON as it is written: either way the pipe closes mid-write.
#[test]
fn a_reader_that_stops_after_one_line_leaves_plan_exiting_0_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, tenant) = large_plan_inputs(dir.path());
    for (format, first_line) in [("text", "licensectl plan for tenant "), ("json", "{")] {
        let mut child = licensectl()
            .arg("plan")
            .arg("--allow-unsafe")
            .args(["--format", format])
            .arg("--config")
            .arg(&config)
            .arg("--snapshot")
            .arg(&tenant)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("reads a line");
        assert!(first.starts_with(first_line), "{format}: {first}");
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("reads stderr");
        let status = child.wait().expect("waits");
        assert_eq!(status.code(), Some(0), "{format}: {stderr}");
        assert_eq!(stderr, "", "{format}");
    }
}
