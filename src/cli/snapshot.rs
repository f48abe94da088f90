//! `licensectl snapshot`: reads the live tenant and writes the snapshot the planner uses.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use licensectl::graph::GraphClient;
use licensectl::graph::{LicensedUsersStrategy, ReadScope, read_tenant};
use licensectl::ids::TenantId;
use licensectl::snapshot::TenantSnapshot;

use super::connection::{ConnectionArgs, stderr_is_tty};
use super::exit;
use super::progress::StderrProgress;
use super::ui;

/// Arguments of `licensectl snapshot`.
#[derive(Debug, clap::Args)]
pub(crate) struct SnapshotArgs {
    /// Where to write the snapshot (JSON).
    ///
    /// It names your users and their licenses: keep it out of git (a CI artifact with
    /// a short retention).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Also read what this config manages, and refuse any tenant but the one it pins.
    ///
    /// Without it the snapshot holds the licensed users and their groups only; with it,
    /// also the unlicensed users and the groups the config declares, so that `plan
    /// --snapshot` of that config sees everything it needs.
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Read every user and group, not only licensed and managed ones.
    ///
    /// For `licensectl export` and copies of a tenant for the emulator; slower on large
    /// tenants.
    #[arg(long)]
    pub full: bool,
    /// How to read licensed users.
    ///
    /// The default suits every tenant; the others are for comparisons and troubleshooting.
    #[arg(
        long,
        value_enum,
        default_value_t = LicensedUsersStrategy::Auto,
        hide_short_help = true
    )]
    pub strategy: LicensedUsersStrategy,
    /// Also read every user's sign-in activity and the audit log's account entries
    /// (`inactive_days`, `disabled_days`; needs AuditLog.Read.All, Directory.Read.All and
    /// Microsoft Entra ID P1 or P2 for sign-ins).
    #[arg(long)]
    pub activity: bool,
    /// Connection flags.
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// What the config contributes to a live read.
#[derive(Debug, Default)]
pub(crate) struct ConfigScope {
    /// The pinned tenant, if any.
    pub pinned_tenant: Option<String>,
    /// The read scope.
    pub scope: ReadScope,
    /// Reads for license operations the command needs (subscriptions are always read).
    pub extras: licensectl::graph::ops_read::Extras,
}

/// Connects and reads the live tenant (shared with `plan`, `drift`, `apply`, `export` and
/// `init`), with progress on a terminal, then prints the one-line summary of the read:
/// what was read, how long it took, and the requests, throttled requests and retries.
pub(crate) async fn read_live(
    connection: &ConnectionArgs,
    scope: &ConfigScope,
) -> anyhow::Result<(TenantSnapshot, GraphClient, TenantId)> {
    let started = Instant::now();
    let conn = connection.connect(scope.pinned_tenant.as_deref()).await?;
    let progress = StderrProgress::new(stderr_is_tty());
    let snapshot = read_tenant(&conn.client, conn.tenant_id, &scope.scope, &progress).await;
    progress.finish();
    let mut snapshot = snapshot?;
    super::live::read_extras(&conn.client, &mut snapshot, scope.extras).await?;
    // What Graph sent must be what a snapshot file may hold: SKU ids of the token's
    // tenant (`{tenantId}_{skuId}`), each object once, counts Graph can send.
    let problems = snapshot.problems();
    if !problems.is_empty() {
        anyhow::bail!(
            "the tenant read from Graph is not consistent: {}",
            problems.join("; ")
        );
    }
    if let Some(domain) = conn.confirmed_domain
        && snapshot.tenant_domain.is_none()
        && snapshot.verified_domains.is_empty()
    {
        snapshot.verified_domains.push(domain);
    }
    super::live::warn_unknown_values(&snapshot);
    let stats = conn.client.stats();
    let get = licensectl::graph::ClientStats::get;
    ui::note(&format!(
        "Read {} SKUs, {} users and {} groups of tenant {} in {:.1} s ({} requests, {} throttled, {} retries).",
        snapshot.subscribed_skus.len(),
        snapshot.users.len(),
        snapshot.groups.len(),
        snapshot
            .tenant_domain
            .clone()
            .unwrap_or_else(|| snapshot.tenant_id.to_string()),
        started.elapsed().as_secs_f64(),
        get(&stats.requests),
        get(&stats.throttled),
        get(&stats.retries),
    ));
    Ok((snapshot, conn.client, conn.tenant_id))
}

/// Runs `licensectl snapshot`.
pub(crate) fn run(args: &SnapshotArgs) -> anyhow::Result<u8> {
    let mut scope = ConfigScope::default();
    if let Some(dir) = &args.config {
        let loaded = super::limits::load_config(dir)?;
        let Some(desired) = loaded.desired.as_ref().filter(|_| loaded.is_valid()) else {
            let text = licensectl::diagnostic::render::human(
                &loaded.diagnostics,
                &loaded.sources,
                super::ui::stderr_color(),
            );
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            let _ = writeln!(stderr, "{}", super::validate::summary(&loaded));
            return Ok(exit::INVALID_CONFIG);
        };
        scope = super::live::scope_of(desired);
    }
    scope.scope.full = args.full;
    scope.scope.strategy = args.strategy;
    if args.activity {
        scope.extras.sign_ins = true;
        scope.extras.audits = true;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (snapshot, _, _) = runtime.block_on(read_live(&args.connection, &scope))?;
    snapshot.write(&args.output)?;
    ui::note(&format!("Wrote {}.", args.output.display()));
    Ok(exit::SUCCESS)
}
