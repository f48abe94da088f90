//! Shared helpers of the integration tests: the one `licensectl` command (the binary with
//! a scrubbed environment), the Contoso example and copies of it, the emulator serving a
//! tenant with the CLI pointed at it, and a library Graph client. Helpers only: the
//! tests, and what they assert, live in the other modules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use graph_emulator::auth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use graph_emulator::{EmulatorOptions, Running, serve};
use licensectl::auth::{AuthMethod, AuthSettings, TokenSource};
use licensectl::graph::{ClientOptions, Cloud, Endpoints, GraphClient, RetryPolicy};
use licensectl::snapshot::TenantSnapshot;

/// Prefixes of the inherited environment variables that could steer `licensectl` or what
/// it prints: credentials and endpoints (`AZURE_`, managed identity's `IDENTITY_` and
/// `MSI_`, GitHub's OIDC token request `ACTIONS_`), its own settings and log filter
/// (`LICENSECTL_`), CI systems (GitHub Actions' `GITHUB_`, Azure Pipelines' `TF_BUILD` and
/// `SYSTEM_`), colour (`NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, `FORCE_COLOR`) and logging
/// (`RUST_LOG`).
const SCRUBBED_PREFIXES: &[&str] = &[
    "AZURE_",
    "IDENTITY_",
    "MSI_",
    "ACTIONS_",
    "LICENSECTL_",
    "GITHUB_",
    "TF_BUILD",
    "SYSTEM_",
    "NO_COLOR",
    "CLICOLOR",
    "FORCE_COLOR",
    "RUST_LOG",
];

/// The `licensectl` binary, run from the package root, with every inherited variable that
/// starts with one of [`SCRUBBED_PREFIXES`] removed, `NO_COLOR=1`, and stdin closed. Every
/// test that runs the binary starts here, so none depends on the caller's environment.
pub(crate) fn licensectl() -> Command {
    scrubbed(env!("CARGO_BIN_EXE_licensectl"))
}

/// `program` with the environment [`licensectl`] gets (the action's shell steps run so).
pub(crate) fn scrubbed(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let scrubbed = SCRUBBED_PREFIXES
            .iter()
            .any(|prefix| name.to_string_lossy().starts_with(prefix));
        if scrubbed {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Client-secret credentials of app `client` for `cmd`.
pub(crate) fn with_secret(mut cmd: Command, client: &str, secret: &str) -> Command {
    cmd.env("AZURE_CLIENT_ID", client)
        .env("AZURE_CLIENT_SECRET", secret);
    cmd
}

/// Runs `cmd` to the end on a blocking thread, so that an emulator on this runtime keeps
/// answering it.
pub(crate) async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("joined")
}

/// Runs `cmd` to the end like [`output`], but kills it and fails the test after `limit`:
/// the time bound of a heavy test, so that a stall fails with its name instead of holding
/// CI until its own limit.
pub(crate) async fn output_within(cmd: Command, limit: std::time::Duration, what: &str) -> Output {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("runs");
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(out) => out.expect("runs"),
        Err(_) => panic!(
            "{what} did not finish within {} s (it takes well under a minute): killed",
            limit.as_secs()
        ),
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code and the last lines of both streams, for an assertion's message.
pub(crate) fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
        out.status.code(),
        tail(&out.stdout),
        tail(&out.stderr)
    )
}

fn tail(bytes: &[u8]) -> String {
    let text = text(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The example config, `examples/contoso`.
pub(crate) fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso")
}

/// The example's tenant, `examples/contoso/tenant.json`.
pub(crate) fn contoso() -> TenantSnapshot {
    TenantSnapshot::read(&example().join("tenant.json")).expect("example tenant")
}

/// Copies the directory `from` to `to`, recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `DIR/config`: a copy of the example config (without its tenant) with the edits
/// `(file, from, to)` applied and the extra `(file, text)` files added.
pub(crate) fn config_with(
    dir: &Path,
    edits: &[(&str, &str, &str)],
    extra: &[(&str, &str)],
) -> PathBuf {
    let config = dir.join("config");
    copy_dir(&example(), &config);
    std::fs::remove_file(config.join("tenant.json")).expect("the tenant is not config");
    for (file, from, to) in edits {
        let path = config.join(file);
        let text = std::fs::read_to_string(&path).expect("config file");
        assert!(text.contains(from), "{file} contains {from:?}");
        std::fs::write(&path, text.replace(from, to)).expect("edited");
    }
    for (file, text) in extra {
        std::fs::write(config.join(file), text).expect("extra file");
    }
    config
}

/// The emulator serving a tenant on 127.0.0.1:0, and the CLI pointed at it.
pub(crate) struct Emulated {
    pub(crate) running: Running,
    pub(crate) tid: String,
}

impl Emulated {
    pub(crate) async fn serve(snapshot: TenantSnapshot, options: EmulatorOptions) -> Self {
        let tid = snapshot.tenant_id.to_string();
        let running = serve(snapshot, options, "127.0.0.1:0")
            .await
            .expect("emulator starts");
        Self { running, tid }
    }

    /// `licensectl ARGS` as the emulator's default app, Graph and the authority set by
    /// environment as a CI job sets them.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        self.command_as(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, args)
    }

    /// The same as app `client` with `secret`.
    pub(crate) fn command_as(&self, client: &str, secret: &str, args: &[&str]) -> Command {
        let mut cmd = with_secret(licensectl(), client, secret);
        cmd.args(args)
            .env("AZURE_TENANT_ID", &self.tid)
            .env("LICENSECTL_GRAPH_URL", &self.running.url)
            .env("AZURE_AUTHORITY_HOST", &self.running.url);
        cmd
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        output(self.command(args)).await
    }

    pub(crate) async fn run_as(&self, client: &str, secret: &str, args: &[&str]) -> Output {
        output(self.command_as(client, secret, args)).await
    }
}

/// A library Graph client for the Graph and authority at `url`, as app `client` of tenant
/// `tid` with `secret`.
pub(crate) fn graph_client(
    url: &str,
    tid: &str,
    client: &str,
    secret: &str,
    retry: RetryPolicy,
    max_concurrency: usize,
) -> GraphClient {
    let endpoints = Endpoints::resolve(Cloud::Global, Some(url), Some(url)).expect("endpoints");
    let settings = AuthSettings {
        method: Some(AuthMethod::Secret),
        tenant_id: Some(tid.to_owned()),
        client_id: Some(client.to_owned()),
        client_secret: Some(azure_core::credentials::Secret::new(secret.to_owned())),
        ..AuthSettings::default()
    };
    let http = reqwest::Client::new();
    let tokens = TokenSource::new(&settings, &endpoints, http.clone()).expect("credential");
    GraphClient::new(
        http,
        endpoints.graph_v1(),
        tokens,
        ClientOptions {
            retry,
            max_concurrency,
            ..ClientOptions::default()
        },
    )
}

/// Runs `cmd` on a pseudo-terminal (util-linux `script`), typing `answer`: the same
/// program, arguments, environment and directory, with the terminal as stdin, stdout and
/// stderr (both streams arrive, merged, on the output's stdout).
pub(crate) async fn on_a_terminal(cmd: &Command, answer: &str) -> Output {
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|word| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    script
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let answer = answer.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = script.spawn().expect("script runs (util-linux)");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(answer.as_bytes()).expect("typed");
        drop(stdin);
        child.wait_with_output().expect("finished")
    })
    .await
    .expect("joined")
}

/// Says on stderr that a check was skipped, and why (a tool it needs is missing); the test
/// harness shows it with `--nocapture` and in the output of a failing run.
#[allow(clippy::print_stderr)]
pub(crate) fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// Serves `app` on a free loopback port for the rest of the test; its base URL.
pub(crate) async fn listen(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
