//! `licensectl export`: read the tenant (live or a snapshot file), export it as a config
//! directory, and either write it (refusing to destroy files that are not a previous
//! export) or print the unified diff against the directory (`--diff`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use licensectl::config::{self, DesiredState, Located, SETTINGS_FILE, Settings};
use licensectl::diagnostic::{Diagnostic, Location, SourceFiles, render as diagnostics};
use licensectl::export::target::{self, Existing};
use licensectl::export::{Export, ExportOptions, PlanStyle, UserSelection, export};
use licensectl::graph::ReadScope;
use licensectl::plan::tenant_pin_problem;
use licensectl::plan::{PlanOptions, plan};
use licensectl::render::{Mode, text};
use licensectl::snapshot::TenantSnapshot;

use super::connection::ConnectionArgs;
use super::exit;
use super::output::print;
use super::plan::pin_refusal;
use super::snapshot::{ConfigScope, read_live};
use super::ui::note;

/// Arguments of `licensectl export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The config directory to write (or, with --diff, to compare with).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Users to export.
    ///
    /// `all` also writes every other user with `licenses: []`: licensectl then manages
    /// every user, and a later apply removes direct licenses given outside git. Keep the
    /// default unless git is to be the only way licenses are given.
    #[arg(long, value_enum, default_value_t = UserSelection::Licensed)]
    pub users: UserSelection,
    /// Force one style of plan lists.
    ///
    /// Default: per license, the shorter of enabled_plans and disabled_plans. `enabled`
    /// writes allowlists: plans Microsoft adds to a SKU later stay off. `disabled`: they
    /// are on.
    #[arg(long, value_enum)]
    pub plans: Option<PlanStyle>,
    /// Do not write users' usage locations.
    #[arg(long)]
    pub no_usage_locations: bool,
    /// Export this snapshot file instead of reading the live tenant.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Show how the tenant differs from DIR; write nothing.
    ///
    /// A unified diff on stdout (how the tenant drifted from the files in git); exit 2
    /// when they differ, 0 when they are identical.
    #[arg(long)]
    pub diff: bool,
    /// Write into a directory export would refuse, or of another tenant.
    ///
    /// A licensectl config directory that is not a previous export gets its config
    /// files (licensectl.yaml included) replaced; any other directory gets the exported
    /// files added. Also accepts a tenant other than the one DIR pins.
    #[arg(long, conflicts_with = "diff")]
    pub force: bool,
    /// Connection flags (used without --snapshot).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Reads what `dir` holds: its visible top-level entries, and the text of its config files
/// and schema file.
fn read_existing(dir: &Path) -> anyhow::Result<Existing> {
    let mut existing = Existing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(existing),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot read the output directory {}", dir.display()));
        }
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            existing.entries.push(name);
        }
    }
    existing.entries.sort();
    // The same discovery as loading a config: regular files only, no symlink followed.
    let read = config::read_files_with(dir, &super::limits::config_limits()?);
    let found = read
        .files
        .with_context(|| format!("cannot read the output directory {}", dir.display()))?;
    let mut files = BTreeMap::new();
    for file in found {
        let bytes = file
            .contents
            .with_context(|| format!("cannot read {}", dir.join(&file.path).display()))?;
        files.insert(file.path, String::from_utf8_lossy(&bytes).into_owned());
    }
    let schema = dir.join(target::SCHEMA_FILE);
    if std::fs::symlink_metadata(&schema).is_ok_and(|m| m.is_file()) {
        let bytes =
            std::fs::read(&schema).with_context(|| format!("cannot read {}", schema.display()))?;
        files.insert(
            target::SCHEMA_FILE.to_owned(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    existing.files = files;
    Ok(existing)
}

/// The tenant the existing config in `dir` pins, with where, if any.
fn pinned_tenant(dir: &Path, existing: &Existing) -> Option<Located<String>> {
    let file = dir.join(SETTINGS_FILE);
    let raw = config::parse_file(&file, existing.files.get(SETTINGS_FILE)?).ok()?;
    raw.tenant.map(|t| Located {
        value: t.value.trim().to_owned(),
        location: Location {
            file: file.into(),
            line: t.referenced.line() as usize,
            column: t.referenced.column() as usize,
        },
    })
}

/// Reads the tenant: the snapshot file, or the whole live tenant (every user and group:
/// group names must be checked for uniqueness against all groups). Refuses a tenant
/// other than `pin`.
fn read_tenant(args: &ExportArgs, pin: Option<Located<String>>) -> anyhow::Result<TenantSnapshot> {
    if let Some(path) = &args.snapshot {
        let snapshot = super::live::read_snapshot(path)?;
        let pinned = DesiredState {
            settings: Settings {
                tenant: pin,
                ..Settings::default()
            },
            ..DesiredState::default()
        };
        if let Some(problem) = tenant_pin_problem(&pinned, &snapshot) {
            bail!(pin_refusal(
                &problem,
                path,
                "export another tenant into another directory, or pass --force"
            ));
        }
        return Ok(snapshot);
    }
    read_whole_tenant(&args.connection, pin.map(|p| p.value))
}

/// Reads every user and group of the live tenant (what an export needs), refusing a
/// tenant other than `pinned`.
pub(super) fn read_whole_tenant(
    connection: &ConnectionArgs,
    pinned: Option<String>,
) -> anyhow::Result<TenantSnapshot> {
    let scope = ConfigScope {
        pinned_tenant: pinned,
        scope: ReadScope {
            full: true,
            ..ReadScope::default()
        },
        ..ConfigScope::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (snapshot, _, _) = runtime.block_on(read_live(connection, &scope))?;
    Ok(snapshot)
}

/// Prints the export's warnings (principals left out, and why) on stderr, unless `--quiet`.
pub(super) fn print_warnings(warnings: &[Diagnostic]) {
    if warnings.is_empty() || super::ui::quiet() {
        return;
    }
    let text = diagnostics::human(warnings, &SourceFiles::new(), super::ui::stderr_color());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes `contents` to `path` through a temporary file in the same directory, so that an
/// interrupted export never leaves a half-written file.
pub(super) fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".licensectl-tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, contents)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes `rel` under `dir`, then its parent directories below `dir` that became empty.
fn remove_file(dir: &Path, rel: &str) -> anyhow::Result<()> {
    let path = dir.join(rel);
    std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
    let mut parent = path.parent();
    while let Some(p) = parent {
        if p == dir || !p.starts_with(dir) || std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

/// Loads the written directory and plans it against the tenant it came from: the plan
/// must be empty. A failure is a licensectl bug, unless the kept `licensectl.yaml` is the
/// cause; either way it is reported with the diagnostics or the plan.
pub(super) fn verify(dir: &Path, snapshot: &TenantSnapshot, kept: bool) -> anyhow::Result<()> {
    let cause = if kept {
        format!(
            "check {} (kept from before; `--force` regenerates it), else this is a licensectl bug, please report it",
            dir.join(SETTINGS_FILE).display()
        )
    } else {
        "this is a licensectl bug, please report it".to_owned()
    };
    let loaded = super::limits::load_config(dir)?;
    let Some(desired) = loaded.desired.as_ref().filter(|_| loaded.is_valid()) else {
        let text = diagnostics::human(&loaded.diagnostics, &loaded.sources, false);
        bail!(
            "the exported config in {} does not validate; {cause}:\n{text}",
            dir.display()
        );
    };
    let plan = plan(
        desired,
        snapshot,
        &PlanOptions {
            allow_unsafe: true,
            ..PlanOptions::default()
        },
    );
    if plan.has_changes || plan.has_errors() {
        bail!(
            "a plan of the exported config in {} against the tenant it came from is not empty; {cause}:\n{}",
            dir.display(),
            text::render(&plan, Mode::Plan)
        );
    }
    Ok(())
}

/// "N users and M groups", and ", K warnings" when there are any.
fn summary(export: &Export) -> (String, String) {
    (
        format!("{} users and {} groups", export.users, export.groups),
        match export.warnings.len() {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        },
    )
}

/// Runs `licensectl export`; returns the exit code.
pub(crate) fn run(args: &ExportArgs) -> anyhow::Result<u8> {
    let dir = &args.output;
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    let existing = read_existing(dir)?;
    if !args.diff {
        target::check(dir, &existing, args.force)?;
    }
    let pin = if args.force {
        None
    } else {
        pinned_tenant(dir, &existing)
    };
    let snapshot = read_tenant(args, pin)?;
    let options = ExportOptions {
        users: args.users,
        plans: args.plans,
        usage_locations: !args.no_usage_locations,
        ..ExportOptions::default()
    };
    let mut export = export(&snapshot, &options);
    let kept = target::keep_settings(&existing, &mut export, args.force);
    print_warnings(&export.warnings);
    let (counts, warnings) = summary(&export);

    if args.diff {
        let diff = target::diff(dir, &existing, &export);
        print(&diff.text)?;
        if diff.is_empty() {
            note(&format!(
                "No differences: {} matches the tenant ({counts}{warnings}).",
                dir.display()
            ));
            return Ok(exit::SUCCESS);
        }
        note(&format!(
            "{} differs from the tenant: {} changed, {} added, {} removed files ({counts}{warnings}).",
            dir.display(),
            diff.changed,
            diff.added,
            diff.removed
        ));
        return Ok(exit::CHANGES);
    }

    let changes = target::changes(&existing, &export);
    for file in &changes.write {
        write_file(&dir.join(&file.path), &file.contents)?;
    }
    for rel in &changes.remove {
        remove_file(dir, rel)?;
        note(&format!("deleted {}", dir.join(rel).display()));
    }
    verify(dir, &snapshot, kept)?;
    if kept {
        note(&format!(
            "kept {} (your settings; --force regenerates it)",
            dir.join(SETTINGS_FILE).display()
        ));
    }
    note(&format!(
        "Exported {counts} of tenant {} to {}: {} files written, {} unchanged, {} deleted{}.",
        snapshot
            .tenant_domain
            .clone()
            .unwrap_or_else(|| snapshot.tenant_id.to_string()),
        dir.display(),
        changes.write.len(),
        changes.unchanged,
        changes.remove.len(),
        warnings.replacen(',', ";", 1)
    ));
    Ok(exit::SUCCESS)
}
