//! `licensectl emulator`: serve a tenant snapshot as a local Microsoft Graph, or generate
//! a synthetic tenant snapshot.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use graph_emulator::generate::{GenerateOptions, generate};
use graph_emulator::throttle;
use graph_emulator::{EmulatorOptions, FaultSpec, ThrottleOptions, serve};
use licensectl::snapshot::TenantSnapshot;

use super::exit;
use super::output::print;

/// `licensectl emulator …`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: EmulatorCommand,
}

/// Emulator subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EmulatorCommand {
    /// Serve a tenant snapshot as a local Graph (prints its URL, runs until stopped).
    Serve(ServeArgs),
    /// Write a synthetic tenant snapshot.
    Generate(GenerateArgs),
}

/// Throttling mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ThrottleMode {
    /// No throttling.
    Off,
    /// Graph's identity-and-access limits (RU per 10 s, 3,000 writes per 150 s).
    Graph,
}

/// What `assignLicense` does with a `disabledPlans` list that takes a prerequisite away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DependentPlans {
    /// Refuse the call with Graph's dependency error (Graph's documented answer).
    Refuse,
    /// Disable the dependent plans of the same license too (an observed, unexplained
    /// Graph behaviour, modelled as an option).
    Disable,
}

/// How throttling quotas refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Refill {
    /// A fixed number per window (Graph's quotas as stated: n per period).
    FixedWindow,
    /// A bucket refilled continuously at quota/period.
    TokenBucket,
}

/// How a throttled request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Refusal {
    /// 429 TooManyRequests.
    #[value(name = "429")]
    TooManyRequests,
    /// 503 Request_ThrottledTemporarily.
    #[value(name = "503")]
    ThrottledTemporarily,
}

/// `emulator serve` flags.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Tenant snapshot (JSON) to serve.
    #[arg(long, value_name = "FILE")]
    pub tenant: PathBuf,
    /// Address to listen on; port 0 picks a free port. Loopback only, unless
    /// `--allow-remote`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Allow a `--listen` address other than loopback. The emulator answers its own
    /// endpoints (the tenant snapshot, statistics) without a token.
    #[arg(long)]
    pub allow_remote: bool,
    /// Service time added to every request and every batch item, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Throttling model.
    #[arg(long, value_enum, default_value_t = ThrottleMode::Off)]
    pub throttle: ThrottleMode,
    /// Multiplies the throttling windows (0.01 makes 10 s windows last 100 ms); Retry-After
    /// is then whole emulated seconds scaled back.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = time_scale)]
    pub throttle_time_scale: f64,
    /// How throttling quotas refill: a fixed count per window, or a continuously
    /// refilled token bucket.
    #[arg(long, value_enum, default_value_t = Refill::FixedWindow)]
    pub throttle_refill: Refill,
    /// How a request over a quota is answered: 429 `TooManyRequests` or 503
    /// `Request_ThrottledTemporarily`.
    #[arg(long, value_enum, default_value_t = Refusal::TooManyRequests)]
    pub throttle_refusal: Refusal,
    /// Injected faults, e.g. `429=0.05,load429=0.01,503=0.02,504=0.01,drop=0.01,slow=0.05,slow-ms=2000,retry-after=1`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Seed of the fault generator and of stale reads.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Replication lag in milliseconds: for this long after a write, reads of that user or
    /// group may return the version from before the write (0: reads see every write).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub replication_lag_ms: u64,
    /// Chance (0–1) that a read of an object written within the replication lag returns
    /// the old version; 1 means always stale until the lag has passed.
    #[arg(long, value_name = "P", default_value_t = 1.0, value_parser = probability)]
    pub stale_read_probability: f64,
    /// Also enforce the emulator's built-in, sourced service-plan rules (dependencies such
    /// as Workplace Analytics on Exchange, exclusions such as the two calling plans), on
    /// top of the tenant file's `servicePlanRules`.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub builtin_plan_rules: bool,
    /// What a `disabledPlans` list that disables a prerequisite does.
    #[arg(long, value_enum, default_value_t = DependentPlans::Refuse)]
    pub dependent_plans: DependentPlans,
    /// Let assignments take units of a subscription in its grace period
    /// (`prepaidUnits.warning`); default: only `enabled − consumed` seats.
    #[arg(long)]
    pub grace_units_assignable: bool,
    /// Accept an `X.ReadWrite.All` permission wherever Graph's reference lists only
    /// `X.Read.All` (default: only what the reference lists).
    #[arg(long)]
    pub read_write_implies_read: bool,
    /// Whether the tenant has Microsoft Entra ID P1/P2 (needed for `signInActivity`);
    /// default: derived from its SKUs.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub premium: Option<bool>,
    /// A directory role of a user who signs in with a delegated token, e.g.
    /// `admin@contoso.com=License Administrator` (repeatable).
    #[arg(long = "directory-role", value_name = "USER=ROLE", value_parser = user_role)]
    pub directory_roles: Vec<(String, String)>,
    /// The password every enabled user signs in with (resource-owner password grant).
    #[arg(long, value_name = "TEXT", default_value = graph_emulator::auth::DEFAULT_USER_PASSWORD)]
    pub user_password: String,
    /// How long group-based license processing takes, in milliseconds (0: immediate).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub group_processing_ms: u64,
    /// Lifetime of issued access tokens in seconds (Azure AD: about an hour).
    #[arg(long, value_name = "SECONDS", default_value_t = 3599, value_parser = clap::value_parser!(u64).range(1..))]
    pub token_lifetime_secs: u64,
}

/// `emulator generate` flags.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Number of users.
    #[arg(long, value_name = "N")]
    pub users: usize,
    /// Number of licensing groups.
    #[arg(long, value_name = "G", default_value_t = 10)]
    pub groups: usize,
    /// Seed: the same flags always give the same tenant.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// SKU part numbers to subscribe to (comma separated); default: the whole embedded catalog.
    #[arg(long, value_name = "SKU", value_delimiter = ',')]
    pub skus: Vec<String>,
    /// The tenant's domain.
    #[arg(long, value_name = "DOMAIN", default_value = "contoso.onmicrosoft.com")]
    pub domain: String,
    /// Output file.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// A throttling window scale (finite, positive, windows between 1 µs and a day).
fn time_scale(text: &str) -> Result<f64, String> {
    let f: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text} is not a number"))?;
    throttle::check_time_scale(f)
}

/// A `USER=ROLE` pair.
fn user_role(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((user, role)) if !user.trim().is_empty() && !role.trim().is_empty() => {
            Ok((user.trim().to_owned(), role.trim().to_owned()))
        }
        _ => Err(format!("'{text}' is not USER=ROLE")),
    }
}

/// A probability flag: a number from 0 to 1.
fn probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!("{text} is not between 0 and 1")),
        Err(_) => Err(format!("{text} is not a number")),
    }
}

/// Runs `licensectl emulator …`; returns the exit code.
pub(crate) fn run(args: &EmulatorArgs) -> anyhow::Result<u8> {
    match &args.command {
        EmulatorCommand::Serve(a) => run_serve(a),
        EmulatorCommand::Generate(a) => run_generate(a),
    }
}

/// Reads the tenant file, accepting a UTF-8 byte order mark (as config files are).
fn read_tenant(path: &std::path::Path) -> anyhow::Result<TenantSnapshot> {
    let bytes =
        std::fs::read(path).map_err(|source| licensectl::snapshot::SnapshotError::Read {
            path: path.to_owned(),
            source,
        })?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(TenantSnapshot::from_json(text, path)?)
}

/// Ctrl-C or SIGTERM, registered before the URL is printed so that a signal sent as soon
/// as the URL appears is handled: both stop the server cleanly (exit 0).
struct StopSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignal {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate());
            let int = signal(SignalKind::interrupt());
            Self {
                signals: term.ok().zip(int.ok()),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = self.signals.as_mut() {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn run_serve(a: &ServeArgs) -> anyhow::Result<u8> {
    let snapshot = read_tenant(&a.tenant)?;
    let faults = match &a.faults {
        Some(spec) => spec.parse::<FaultSpec>()?,
        None => FaultSpec::default(),
    };
    let options = EmulatorOptions {
        latency: Duration::from_millis(a.latency_ms),
        throttle: match a.throttle {
            ThrottleMode::Off => None,
            ThrottleMode::Graph => Some(ThrottleOptions {
                refill: match a.throttle_refill {
                    Refill::FixedWindow => throttle::Refill::FixedWindow,
                    Refill::TokenBucket => throttle::Refill::TokenBucket,
                },
                refusal: match a.throttle_refusal {
                    Refusal::TooManyRequests => throttle::Refusal::TooManyRequests,
                    Refusal::ThrottledTemporarily => throttle::Refusal::ThrottledTemporarily,
                },
                ..ThrottleOptions::graph().time_scaled(a.throttle_time_scale)
            }),
        },
        faults,
        seed: a.seed,
        replication_lag: Duration::from_millis(a.replication_lag_ms),
        stale_read_probability: a.stale_read_probability,
        known_plan_rules: a.builtin_plan_rules,
        grace_units_assignable: a.grace_units_assignable,
        allow_remote: a.allow_remote,
        read_write_implies_read: a.read_write_implies_read,
        premium: a.premium,
        user_password: a.user_password.clone(),
        directory_roles: {
            let mut roles: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (user, role) in &a.directory_roles {
                roles.entry(user.clone()).or_default().push(role.clone());
            }
            roles
        },
        disable_dependent_plans: a.dependent_plans == DependentPlans::Disable,
        group_processing: Duration::from_millis(a.group_processing_ms),
        token_lifetime: Duration::from_secs(a.token_lifetime_secs),
        ..EmulatorOptions::default()
    };
    let users = snapshot.users.len();
    let tenant = snapshot.tenant_id;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = StopSignal::register();
        let running = serve(snapshot, options, &a.listen).await?;
        print(&format!("{}\n", running.url))?;
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "serving tenant {tenant} ({users} users) from {}: Graph at {}/v1.0, tokens at {}/{tenant}/oauth2/v2.0/token; stop with Ctrl-C",
                a.tenant.display(),
                running.url,
                running.url
            );
        }
        tokio::select! {
            () = running.wait() => {},
            () = stop.recv() => {},
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(exit::SUCCESS)
}

fn run_generate(a: &GenerateArgs) -> anyhow::Result<u8> {
    let opts = GenerateOptions {
        users: a.users,
        groups: a.groups,
        seed: a.seed,
        skus: a.skus.clone(),
        domain: a.domain.clone(),
        ..GenerateOptions::default()
    };
    let snapshot = generate(&opts)?;
    snapshot.write(&a.output)?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "wrote {} ({} users, {} groups, {} SKUs)",
            a.output.display(),
            snapshot.users.len(),
            snapshot.groups.len(),
            snapshot.subscribed_skus.len()
        );
    }
    Ok(exit::SUCCESS)
}
