//! `licensectl emulator`: serve a tenant snapshot as a local Microsoft Graph, or generate
//! a synthetic tenant snapshot.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use graph_emulator::generate::{GenerateOptions, generate};
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

/// `emulator serve` flags.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Tenant snapshot (JSON) to serve.
    #[arg(long, value_name = "FILE")]
    pub tenant: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Service time added to every request and every batch item, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Throttling model.
    #[arg(long, value_enum, default_value_t = ThrottleMode::Off)]
    pub throttle: ThrottleMode,
    /// Multiplies the throttling windows (0.01 makes 10 s windows last 100 ms).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub throttle_time_scale: f64,
    /// Injected faults, e.g. `429=0.05,503=0.02,504=0.01,drop=0.01,slow=0.05,slow-ms=2000`.
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

fn run_serve(a: &ServeArgs) -> anyhow::Result<u8> {
    let snapshot = TenantSnapshot::read(&a.tenant)?;
    let faults = match &a.faults {
        Some(spec) => spec.parse::<FaultSpec>()?,
        None => FaultSpec::default(),
    };
    let options = EmulatorOptions {
        latency: Duration::from_millis(a.latency_ms),
        throttle: match a.throttle {
            ThrottleMode::Off => None,
            ThrottleMode::Graph => {
                Some(ThrottleOptions::graph().time_scaled(a.throttle_time_scale))
            }
        },
        faults,
        seed: a.seed,
        replication_lag: Duration::from_millis(a.replication_lag_ms),
        stale_read_probability: a.stale_read_probability,
        known_plan_rules: a.builtin_plan_rules,
        disable_dependent_plans: a.dependent_plans == DependentPlans::Disable,
        group_processing: Duration::from_millis(a.group_processing_ms),
        token_lifetime: Duration::from_secs(a.token_lifetime_secs),
    };
    let users = snapshot.users.len();
    let tenant = snapshot.tenant_id;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
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
            _ = tokio::signal::ctrl_c() => {},
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
