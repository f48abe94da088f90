//! `licensectl init`: starts a configuration repository — the config directory
//! (`licensectl.yaml` with the tenant pinned and commented safety defaults, the schema
//! file its modelines point at, a first principals file), a `.gitignore` for journals and
//! snapshots, a `CODEOWNERS` example and the CI workflows of the chosen platform.
//!
//! The first principals file comes from the tenant when one is given (`--from-snapshot`,
//! or a live read with the connection flags), through the same export as `licensectl
//! export`; otherwise it is a commented example. The CI workflows are the repository's
//! examples (`examples/github-actions`, `examples/azure-pipelines`), built in and pointed
//! at the config directory this creates. Nothing is overwritten without `--force`, and
//! nothing is written unless the result validates; with a tenant, the written config is
//! planned against it and must show no changes.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{Args, ValueEnum};

use licensectl::config::{
    self, ConfigFile, ConfigFiles, DesiredState, Located, SETTINGS_FILE, Settings,
};
use licensectl::diagnostic::{Location, render as diagnostics};
use licensectl::export::target::SCHEMA_FILE;
use licensectl::export::{ExportFile, ExportOptions, export};
use licensectl::plan::tenant_pin_problem;
use licensectl::snapshot::TenantSnapshot;

use super::connection::ConnectionArgs;
use super::exit;
use super::ui;

/// The CI platform whose workflows `init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Ci {
    /// GitHub Actions: .github/workflows/license-plan.yml, license-apply.yml and
    /// license-drift.yml, and .github/CODEOWNERS.
    Github,
    /// Azure Pipelines: .azure-pipelines/license-pr.yml, license-apply.yml and
    /// install-licensectl.yml.
    AzureDevops,
    /// No CI files.
    #[default]
    None,
}

/// Arguments of `licensectl init`.
#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  licensectl init --tenant contoso.onmicrosoft.com
  licensectl init --from-snapshot tenant.json --ci github
  licensectl init my-licenses --from-tenant --auth azure-cli --tenant contoso.onmicrosoft.com --ci azure-devops")]
pub(crate) struct InitArgs {
    /// The repository to set up (created when missing).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Tenant to pin: initial domain (contoso.onmicrosoft.com) or tenant id.
    ///
    /// Plan and apply refuse any other tenant. Required unless the tenant is read
    /// (--from-snapshot, --from-tenant), which pins the tenant read; given as well, the
    /// two must agree.
    #[arg(long, value_name = "ID|DOMAIN")]
    pub tenant: Option<String>,
    /// Start from this snapshot: its principals become the first files.
    ///
    /// The users holding direct licenses and the licensed groups are exported as `licensectl export --snapshot FILE` would, so a plan
    /// against it right after shows no changes.
    #[arg(long, value_name = "FILE", conflicts_with = "from_tenant")]
    pub from_snapshot: Option<PathBuf>,
    /// Start from the live tenant (implied by a connection flag).
    ///
    /// Reads the tenant with the connection flags, as `licensectl export` does. Any
    /// connection flag given on the command line implies it (variables such as
    /// AZURE_TENANT_ID alone do not).
    #[arg(long)]
    pub from_tenant: bool,
    /// Name of the config directory inside DIR.
    ///
    /// The workflows and CODEOWNERS point at it. Keep it a directory of its own: every
    /// *.yaml file below a config directory is read as config.
    #[arg(long, value_name = "NAME", default_value = "licenses")]
    pub config_dir: String,
    /// CI workflows to write.
    ///
    /// `github`: license-plan.yml (a plan comment on every pull request), license-apply.yml
    /// (applies the reviewed plan on merge) and license-drift.yml (a nightly drift issue)
    /// under .github/workflows/. `azure-devops`: license-pr.yml and license-apply.yml (and
    /// their install template) under .azure-pipelines/.
    #[arg(long, value_enum, default_value_t = Ci::None, hide_default_value = true)]
    pub ci: Ci,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Connection flags (with --from-tenant).
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// One file to write, relative to the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    path: String,
    contents: String,
    /// What it is, for the summary.
    what: &'static str,
    /// A file a repository may already have (`.gitignore`, `CODEOWNERS`): added to the
    /// end of it, unless it already holds these lines, instead of replacing it.
    append: bool,
}

/// The GitHub Actions workflows, from the repository's examples.
const GITHUB_WORKFLOWS: [(&str, &str); 3] = [
    (
        "license-plan.yml",
        include_str!("../../examples/github-actions/license-plan.yml"),
    ),
    (
        "license-apply.yml",
        include_str!("../../examples/github-actions/license-apply.yml"),
    ),
    (
        "license-drift.yml",
        include_str!("../../examples/github-actions/license-drift.yml"),
    ),
];

/// The Azure Pipelines definitions, from the repository's examples.
const AZURE_PIPELINES: [(&str, &str); 3] = [
    (
        "license-pr.yml",
        include_str!("../../examples/azure-pipelines/license-pr.yml"),
    ),
    (
        "license-apply.yml",
        include_str!("../../examples/azure-pipelines/license-apply.yml"),
    ),
    (
        "install-licensectl.yml",
        include_str!("../../examples/azure-pipelines/install-licensectl.yml"),
    ),
];

/// What the summary says of a principal file exported from the tenant (only the first
/// few are listed).
const EXPORTED: &str = "principals exported from the tenant";

/// What the summary says of the schema file.
const SCHEMA: &str = "JSON Schema for editors";

/// The usage error of an init with no tenant to pin.
const NEEDS_TENANT: &str = "init needs the tenant to pin: pass --tenant DOMAIN (its initial domain, e.g. contoso.onmicrosoft.com) or --tenant ID, or start from the tenant itself with --from-snapshot FILE or --from-tenant";

/// The config directory's name in the examples.
const EXAMPLE_DIR: &str = "licenses";

/// An example workflow pointed at the config directory `dir`: each place where the
/// examples name their `licenses` directory (paths filters, `config:` inputs, `--config`
/// arguments, the plan artifact's name).
pub(crate) fn adapt(workflow: &str, dir: &str) -> String {
    let d = EXAMPLE_DIR;
    let places = [
        (format!("\"{d}/**\""), format!("\"{dir}/**\"")),
        (format!("config: {d}\n"), format!("config: {dir}\n")),
        (format!("--config {d} "), format!("--config {dir} ")),
        (format!("--config {d}\n"), format!("--config {dir}\n")),
        (
            format!("licensectl-plan-{d}\n"),
            format!("licensectl-plan-{dir}\n"),
        ),
        (format!("include: [{d}]"), format!("include: [{dir}]")),
        (format!("filter /{d}/*."), format!("filter /{dir}/*.")),
    ];
    places.iter().fold(workflow.to_owned(), |text, (from, to)| {
        text.replace(from, to)
    })
}

/// True for a config directory name the workflows can carry unquoted: one path segment
/// of ASCII letters, digits, `-`, `_` and `.`, starting with a letter or digit.
fn valid_dir_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `licensectl.yaml`: the schema modeline, the pin, commented defaults.
fn settings_file(tenant: &str) -> String {
    format!(
        "# yaml-language-server: $schema={SCHEMA_FILE}
# licensectl settings for this config directory. Every other *.yaml file below it declares
# users: and groups: (teams own files; CODEOWNERS says who reviews them). Reference:
# licensectl's docs/config.md; check with `licensectl validate`.
version: 1

# The tenant this config belongs to: plan and apply refuse any other.
tenant: {tenant}

# A usage location for managed users that need one to be licensed and declare none.
# defaults:
#   usage_location: US

# Blast-radius guard: a plan beyond these limits is refused (override: --allow-unsafe).
safety:
  # Most licenses one plan may remove (a group losing a license counts each member).
  max_removals: 25
  # Most managed principals, in percent, one plan may change. Turn it on once the config
  # manages many principals: while it manages few, every change is a large share.
  # max_change_percent: 10

# Principals that never lose a license, whatever the files say.
# protected:
#   users: [ceo@contoso.com]
#   groups: [SG-License-Executives]

# Named license lists that users and groups refer to with `profile:`.
# profiles:
#   knowledge-worker:
#     - sku: SPE_E3                  # skuPartNumber or skuId GUID
#       disabled_plans: [YAMMER_ENTERPRISE]
"
    )
}

/// The commented example principals file, for a config started without a tenant.
fn example_principals(domain: &str) -> String {
    format!(
        "# yaml-language-server: $schema={SCHEMA_FILE}
# Principals: who holds which licenses. Any number of such files (one per team, say).
# A declared user's list is authoritative for their direct licenses; users and groups no
# file declares are never touched. `licenses: []` removes every direct license.
# To declare someone, drop the `{{}}` after `users:` (or `groups:`) and uncomment an entry.
users: {{}}
#  alice@{domain}:
#    usage_location: DE
#    licenses:
#      - sku: SPE_E3
#        disabled_plans: [YAMMER_ENTERPRISE]
#  bob@{domain}:
#    profile: knowledge-worker       # a profile from licensectl.yaml
groups: {{}}
#  SG-License-M365-E3:               # displayName, mailNickname or object id
#    licenses:
#      - sku: SPE_E3
#        enabled_plans: [EXCHANGE_S_ENTERPRISE, TEAMS1, SHAREPOINTENTERPRISE]
"
    )
}

fn gitignore(dir: &str) -> String {
    format!(
        "# licensectl: apply journals, snapshots and saved plans name your users and their
# licenses; keep them as CI artifacts (short retention), not in git.
/{dir}/.licensectl/
tenant.json
*.snapshot.json
plan.json
report.json
"
    )
}

fn codeowners(dir: &str, ci: Ci) -> String {
    let where_ = match ci {
        Ci::Github => {
            "# GitHub asks them for a review when the branch protection of main requires a\n# review from code owners."
        }
        _ => {
            "# GitHub and GitLab read this file; in Azure Repos, add the reviewers per path in\n# the branch policies of main instead."
        }
    };
    format!(
        "# Who must review which config file: the owners of the last pattern that matches.
{where_} Uncomment and replace the teams with yours.
# /{dir}/licensectl.yaml   @contoso/license-admins
# /{dir}/                  @contoso/license-admins
# /{dir}/sales.yaml        @contoso/sales-it
"
    )
}

/// The CI files for `ci`, pointed at `dir`.
fn ci_files(ci: Ci, dir: &str) -> Vec<Planned> {
    let (folder, files): (&str, &[(&str, &str)]) = match ci {
        Ci::Github => (".github/workflows", &GITHUB_WORKFLOWS),
        Ci::AzureDevops => (".azure-pipelines", &AZURE_PIPELINES),
        Ci::None => return Vec::new(),
    };
    files
        .iter()
        .map(|(name, text)| Planned {
            path: format!("{folder}/{name}"),
            contents: adapt(text, dir),
            what: "CI workflow",
            append: false,
        })
        .collect()
}

/// The pin a snapshot gets: the `tenant:` of the settings export writes for it.
fn exported_pin(files: &[ExportFile]) -> Option<String> {
    let settings = files.iter().find(|f| f.path == SETTINGS_FILE)?;
    let raw = config::parse_file(Path::new(SETTINGS_FILE), &settings.contents).ok()?;
    Some(raw.tenant?.value.trim().to_owned())
}

/// Refuses a `--tenant` that is not the tenant of `snapshot` (read from `source`).
fn check_tenant(tenant: &str, snapshot: &TenantSnapshot, source: &str) -> anyhow::Result<()> {
    let desired = DesiredState {
        settings: Settings {
            tenant: Some(Located {
                value: tenant.to_owned(),
                location: Location {
                    file: PathBuf::from("--tenant").into(),
                    line: 1,
                    column: 1,
                },
            }),
            ..Settings::default()
        },
        ..DesiredState::default()
    };
    if let Some(problem) = tenant_pin_problem(&desired, snapshot) {
        bail!(
            "refusing to initialise: --tenant {tenant} does not match {source}: {} [{}]; leave --tenant out to pin the tenant read, or read the tenant you mean",
            problem.message,
            problem.code
        );
    }
    Ok(())
}

/// True when a connection flag was given on the command line (not only by environment).
fn connection_flag_given(matches: Option<&clap::ArgMatches>) -> bool {
    let Some(matches) = matches else {
        return false;
    };
    let flags = <ConnectionArgs as clap::Args>::augment_args(clap::Command::new("connection"));
    flags
        .get_arguments()
        .any(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
}

/// The tenant to start from, if any, and where it came from (for messages).
fn read_source(args: &InitArgs, live: bool) -> anyhow::Result<Option<(TenantSnapshot, String)>> {
    if let Some(path) = &args.from_snapshot {
        let snapshot = super::live::read_snapshot(path)?;
        return Ok(Some((snapshot, format!("snapshot {}", path.display()))));
    }
    if live {
        let snapshot = super::export::read_whole_tenant(&args.connection, args.tenant.clone())?;
        return Ok(Some((snapshot, "the live tenant".to_owned())));
    }
    Ok(None)
}

/// Every file `init` writes, relative to the repository, and the tenant read if any.
fn plan_files(
    args: &InitArgs,
    live: bool,
) -> anyhow::Result<(Vec<Planned>, Option<TenantSnapshot>)> {
    let dir = args.config_dir.as_str();
    let mut files = Vec::new();
    let source = read_source(args, live)?;
    let (tenant, principals, snapshot) = match source {
        Some((snapshot, from)) => {
            let exported = export(&snapshot, &ExportOptions::default());
            super::export::print_warnings(&exported.warnings);
            let tenant = match &args.tenant {
                Some(tenant) => {
                    check_tenant(tenant, &snapshot, &from)?;
                    tenant.clone()
                }
                None => {
                    exported_pin(&exported.files).unwrap_or_else(|| snapshot.tenant_id.to_string())
                }
            };
            let principals: Vec<Planned> = exported
                .files
                .into_iter()
                .filter(|f| f.path != SETTINGS_FILE)
                .map(|f| Planned {
                    what: if f.path == SCHEMA_FILE {
                        SCHEMA
                    } else {
                        EXPORTED
                    },
                    path: format!("{dir}/{}", f.path),
                    contents: f.contents,
                    append: false,
                })
                .collect();
            (tenant, principals, Some(snapshot))
        }
        None => {
            let Some(tenant) = args.tenant.clone() else {
                bail!(NEEDS_TENANT);
            };
            let domain = if tenant.parse::<uuid::Uuid>().is_ok() {
                "contoso.com"
            } else {
                tenant.as_str()
            };
            let principals = vec![
                Planned {
                    path: format!("{dir}/{SCHEMA_FILE}"),
                    contents: config::schema::schema_json(),
                    what: SCHEMA,
                    append: false,
                },
                Planned {
                    path: format!("{dir}/principals.yaml"),
                    contents: example_principals(domain),
                    what: "a commented example of users and groups",
                    append: false,
                },
            ];
            (tenant, principals, None)
        }
    };
    files.push(Planned {
        path: format!("{dir}/{SETTINGS_FILE}"),
        contents: settings_file(&tenant),
        what: "settings: the tenant pin and safety limits",
        append: false,
    });
    files.extend(principals);
    files.push(Planned {
        path: ".gitignore".to_owned(),
        contents: gitignore(dir),
        what: "keeps journals, snapshots and plans out of git",
        append: true,
    });
    files.push(Planned {
        path: match args.ci {
            Ci::Github => ".github/CODEOWNERS".to_owned(),
            _ => "CODEOWNERS".to_owned(),
        },
        contents: codeowners(dir, args.ci),
        what: "who reviews which file (an example)",
        append: true,
    });
    files.extend(ci_files(args.ci, dir));
    Ok((files, snapshot))
}

/// Loads the config directory's files from memory: the result `init` would write.
fn load_planned(dir: &Path, config_dir: &str, files: &[Planned]) -> config::LoadedConfig {
    let prefix = format!("{config_dir}/");
    let files: Vec<ConfigFile> = files
        .iter()
        .filter_map(|f| {
            let rel = f.path.strip_prefix(&prefix)?;
            (rel.ends_with(".yaml") || rel.ends_with(".yml")).then(|| ConfigFile {
                path: rel.to_owned(),
                contents: Ok(f.contents.clone().into_bytes()),
            })
        })
        .collect();
    config::load_files(ConfigFiles {
        dir: dir.join(config_dir),
        files: Ok(files),
        limits: config::ReadLimits::default(),
    })
}

/// The config files already in `config`, other than those `init` writes: they would be
/// read as part of the new config.
fn foreign_config_files(config: &Path, ours: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(found) = config::discover(config) else {
        return Vec::new();
    };
    found
        .into_iter()
        .map(|rel| config.join(rel))
        .filter(|path| !ours.contains(path))
        .collect()
}

/// Why the arguments cannot be used, if they cannot (a usage error, exit 64).
fn usage_problem(args: &InitArgs, live: bool) -> Option<String> {
    if !valid_dir_name(&args.config_dir) {
        return Some(format!(
            "--config-dir '{}' must be one directory name of letters, digits, '-', '_' and '.', starting with a letter or digit",
            args.config_dir.escape_debug()
        ));
    }
    if let Some(tenant) = &args.tenant
        && !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    {
        return Some(format!(
            "--tenant '{}' is neither a domain (contoso.onmicrosoft.com) nor a tenant id GUID",
            tenant.escape_debug()
        ));
    }
    if args.from_snapshot.is_none() && !live && args.tenant.is_none() {
        return Some(NEEDS_TENANT.to_owned());
    }
    None
}

/// Refuses, unless `force`, when any of `paths` exists.
fn refuse_overwrite(root: &Path, paths: &[&PathBuf], force: bool) -> anyhow::Result<()> {
    let existing: Vec<String> = paths
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if existing.is_empty() || force {
        return Ok(());
    }
    let one = existing.len() == 1;
    bail!(
        "refusing to overwrite {}: {} already exist{}; pass --force to replace {}, or init another directory",
        root.display(),
        existing.join(", "),
        if one { "s" } else { "" },
        if one { "it" } else { "them" },
    );
}

/// Writes `file` to `path`: replaced, or added to the end of what is there for a file
/// that is appended to (unless it already holds the file's first line).
fn write(file: &Planned, path: &Path) -> anyhow::Result<()> {
    let contents = if file.append {
        match std::fs::read_to_string(path) {
            Ok(before) if before.contains(file.contents.lines().next().unwrap_or("")) => {
                return Ok(());
            }
            Ok(before) if before.is_empty() => file.contents.clone(),
            Ok(before) => format!("{}\n\n{}", before.trim_end(), file.contents),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => file.contents.clone(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        }
    } else {
        file.contents.clone()
    };
    super::export::write_file(path, &contents)
}

/// Runs `licensectl init`; `matches` are the subcommand's own (to tell connection flags
/// given on the command line from ones set by environment).
pub(crate) fn run(args: &InitArgs, matches: Option<&clap::ArgMatches>) -> anyhow::Result<u8> {
    let live = args.from_snapshot.is_none() && (args.from_tenant || connection_flag_given(matches));
    if let Some(problem) = usage_problem(args, live) {
        ui::error(&problem);
        return Ok(exit::USAGE);
    }
    let root = &args.dir;
    if root.exists() && !root.is_dir() {
        bail!("{} exists and is not a directory", root.display());
    }
    let config_dir = root.join(&args.config_dir);
    // Before reading a tenant, which can take long: the files known without it.
    let settings = config_dir.join(SETTINGS_FILE);
    let known: Vec<PathBuf> = ci_files(args.ci, &args.config_dir)
        .iter()
        .map(|f| root.join(&f.path))
        .chain([settings])
        .collect();
    refuse_overwrite(root, &known.iter().collect::<Vec<_>>(), args.force)?;

    let (files, snapshot) = plan_files(args, live)?;
    let targets: Vec<PathBuf> = files.iter().map(|f| root.join(&f.path)).collect();
    let replaced: Vec<&PathBuf> = files
        .iter()
        .zip(&targets)
        .filter(|(file, _)| !file.append)
        .map(|(_, path)| path)
        .collect();
    refuse_overwrite(root, &replaced, args.force)?;
    let foreign = foreign_config_files(&config_dir, &targets);
    if !foreign.is_empty() {
        let names: Vec<String> = foreign.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "refusing to initialise {}: it already holds config files that would be read with the new ones ({}); move them away, or init another directory",
            config_dir.display(),
            names.join(", ")
        );
    }
    let loaded = load_planned(root, &args.config_dir, &files);
    if !loaded.is_valid() {
        let text = diagnostics::human(&loaded.diagnostics, &loaded.sources, ui::stderr_color());
        bail!(
            "the config init would write does not validate (nothing was written):\n{}",
            text.trim_end()
        );
    }
    for (file, path) in files.iter().zip(&targets) {
        write(file, path)?;
    }
    verify(&config_dir, snapshot.as_ref())?;
    summary(root, &args.config_dir, &files, args.ci);
    Ok(exit::SUCCESS)
}

/// Loads the written config (it must validate) and, with the tenant it came from, plans
/// it (it must show no changes).
fn verify(config_dir: &Path, snapshot: Option<&TenantSnapshot>) -> anyhow::Result<()> {
    match snapshot {
        Some(snapshot) => super::export::verify(config_dir, snapshot, false),
        None => {
            let loaded = super::limits::load_config(config_dir)?;
            if !loaded.is_valid() {
                let text = diagnostics::human(&loaded.diagnostics, &loaded.sources, false);
                bail!(
                    "the written config in {} does not validate; this is a licensectl bug, please report it:\n{text}",
                    config_dir.display()
                );
            }
            Ok(())
        }
    }
    .with_context(|| format!("checking {}", config_dir.display()))
}

fn summary(root: &Path, config_dir: &str, files: &[Planned], ci: Ci) {
    if ui::quiet() {
        return;
    }
    let width = files.iter().map(|f| f.path.len()).max().unwrap_or(0);
    let mut lines = vec![format!(
        "Initialised a licensectl repository in {}:",
        root.display()
    )];
    let mut principal_files = 0;
    for file in files {
        if file.what == EXPORTED {
            principal_files += 1;
            if principal_files > 3 {
                continue;
            }
        }
        lines.push(format!("  {:<width$}  {}", file.path, file.what));
    }
    if principal_files > 3 {
        lines.push(format!(
            "  … and {} more principal files",
            principal_files - 3
        ));
    }
    let config = if root == Path::new(".") {
        PathBuf::from(config_dir)
    } else {
        root.join(config_dir)
    };
    let config = config.display();
    lines.push(String::new());
    lines.push(format!(
        "Next: edit {config}/*.yaml, then `licensectl validate --config {config}` and `licensectl plan --config {config}`."
    ));
    match ci {
        Ci::Github => lines.push(
            "The workflows sign in with GitHub OIDC: set the repository variables AZURE_TENANT_ID, LICENSECTL_PLAN_CLIENT_ID and LICENSECTL_APPLY_CLIENT_ID, and create the environment license-apply (licensectl's docs/ci.md)."
                .to_owned(),
        ),
        Ci::AzureDevops => lines.push(
            "The pipelines use the service connections licensectl-plan and licensectl-apply and the environment license-apply; set planPipelineId in license-apply.yml (licensectl's docs/ci.md)."
                .to_owned(),
        ),
        Ci::None => {}
    }
    ui::note(&lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_are_pointed_at_the_config_directory_everywhere_they_name_it() {
        for (name, text) in GITHUB_WORKFLOWS.iter().chain(&AZURE_PIPELINES) {
            assert_eq!(
                adapt(text, EXAMPLE_DIR),
                *text,
                "{name}: unchanged for `licenses`"
            );
            let adapted = adapt(text, "tenant-config");
            let left: Vec<&str> = adapted
                .lines()
                .filter(|line| {
                    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .any(|word| word == EXAMPLE_DIR || word == "licensectl-plan-licenses")
                })
                .collect();
            assert!(left.is_empty(), "{name} still names `licenses`: {left:?}");
        }
    }

    #[test]
    fn config_directory_names_are_single_plain_segments() {
        for good in ["licenses", "tenant-config", "m365_licenses", "v1.2"] {
            assert!(valid_dir_name(good), "{good}");
        }
        for bad in [
            "",
            ".licenses",
            "-x",
            "a/b",
            "../x",
            "a b",
            "a$b",
            "licenses/",
        ] {
            assert!(!valid_dir_name(bad), "{bad}");
        }
    }
}
