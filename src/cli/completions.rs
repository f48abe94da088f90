//! `licensectl completions SHELL` and `licensectl man [--out DIR]`: shell completion
//! scripts (`clap_complete`) and man pages (`clap_mangen`), generated from the same
//! command definition the parser uses, so they always list the flags this build has.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use clap_complete::Shell;

use super::exit;
use super::output::print;
use super::ui;

/// Arguments of `licensectl completions`.
#[derive(Debug, Args)]
#[command(after_long_help = "Install (one of):
  bash:       licensectl completions bash > ~/.local/share/bash-completion/completions/licensectl
  zsh:        licensectl completions zsh > \"${fpath[1]}/_licensectl\"
  fish:       licensectl completions fish > ~/.config/fish/completions/licensectl.fish
  powershell: licensectl completions powershell | Out-String | Invoke-Expression
  elvish:     licensectl completions elvish >> ~/.config/elvish/rc.elv")]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `licensectl man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write every command's page into DIR instead of printing licensectl.1.
    ///
    /// licensectl.1, licensectl-plan.1, licensectl-emulator-serve.1, …: install them into
    /// a man1 directory of your MANPATH (e.g. ~/.local/share/man/man1).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `licensectl completions`.
pub(crate) fn run_completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = super::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "licensectl", &mut script);
    print(&String::from_utf8_lossy(&script))?;
    Ok(exit::SUCCESS)
}

/// The date man pages carry: the date of the commit licensectl was built from (so that
/// two builds of one commit write the same pages), empty when unknown.
fn page_date() -> &'static str {
    licensectl::BUILD
        .split_once(' ')
        .map(|(_, date)| date)
        .unwrap_or("")
}

/// The man page of `cmd` (already built), in roff.
fn page(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .date(page_date())
        .manual("licensectl manual")
        .render(&mut out)
        .context("cannot render the man page")?;
    Ok(out)
}

/// `cmd` and its visible subcommands, depth first: one man page each.
fn pages(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, out);
    }
    out.push(cmd.clone());
}

/// Runs `licensectl man`.
pub(crate) fn run_man(args: &ManArgs) -> anyhow::Result<u8> {
    let mut cmd = super::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = &args.out else {
        print(&String::from_utf8_lossy(&page(cmd)?))?;
        return Ok(exit::SUCCESS);
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let mut all = Vec::new();
    pages(&cmd, &mut all);
    for cmd in &all {
        let name = format!("{}.1", cmd.get_display_name().unwrap_or(cmd.get_name()));
        let path = dir.join(&name);
        std::fs::write(&path, page(cmd.clone())?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    ui::note(&format!(
        "wrote {} man pages to {} (e.g. `man -l {}`)",
        all.len(),
        dir.display(),
        dir.join("licensectl.1").display()
    ));
    Ok(exit::SUCCESS)
}
