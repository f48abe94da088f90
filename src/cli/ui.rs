//! What the person at the terminal sees besides a command's result: whether a stream gets
//! colours, and whether notes, warnings and progress are printed at all (`--quiet`).
//!
//! Decided once per run, from the global flags and the environment, and kept here for
//! every command. Colour is decided per stream, in this order (the first that applies
//! wins):
//!
//! 1. `--color always` or `--color never`;
//! 2. `NO_COLOR` set to anything but the empty string: no colour (https://no-color.org);
//! 3. `CLICOLOR_FORCE` set to anything but empty or `0`: colour, even into a pipe
//!    (https://bixense.com/clicolors/);
//! 4. `CLICOLOR=0`: no colour;
//! 5. otherwise colour when the stream is a terminal and `TERM` is not `dumb`.
//!
//! Only terminal text is ever coloured: plans and drift reports in `--format text` on
//! stdout, diagnostics and the `error:` prefix on stderr. Markdown, JSON and files never.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use clap::ValueEnum;
use licensectl::render::Palette;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set (or CLICOLOR_FORCE forces it).
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

/// The colour variables of the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ColorEnv {
    /// `NO_COLOR`.
    pub no_color: Option<String>,
    /// `CLICOLOR_FORCE`.
    pub clicolor_force: Option<String>,
    /// `CLICOLOR`.
    pub clicolor: Option<String>,
    /// `TERM`.
    pub term: Option<String>,
}

impl ColorEnv {
    fn read() -> Self {
        let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        ColorEnv {
            no_color: var("NO_COLOR"),
            clicolor_force: var("CLICOLOR_FORCE"),
            clicolor: var("CLICOLOR"),
            term: var("TERM"),
        }
    }
}

/// Whether a stream that `is_terminal` (or not) gets colours; see the module documentation
/// for the order.
pub(crate) fn wants_color(when: ColorWhen, env: &ColorEnv, is_terminal: bool) -> bool {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto if set(&env.no_color) => false,
        ColorWhen::Auto
            if set(&env.clicolor_force) && env.clicolor_force.as_deref() != Some("0") =>
        {
            true
        }
        ColorWhen::Auto if env.clicolor.as_deref() == Some("0") => false,
        ColorWhen::Auto => is_terminal && env.term.as_deref() != Some("dumb"),
    }
}

#[derive(Debug)]
struct Ui {
    quiet: bool,
    stdout_color: bool,
    stderr_color: bool,
}

static UI: OnceLock<Ui> = OnceLock::new();

fn ui() -> &'static Ui {
    UI.get_or_init(|| Ui::new(ColorWhen::Auto, false))
}

impl Ui {
    fn new(when: ColorWhen, quiet: bool) -> Self {
        let env = ColorEnv::read();
        Ui {
            quiet,
            stdout_color: wants_color(when, &env, std::io::stdout().is_terminal()),
            stderr_color: wants_color(when, &env, std::io::stderr().is_terminal()),
        }
    }
}

/// Settles the run's `--color` and `--quiet` (once, before any command runs).
pub(crate) fn init(when: ColorWhen, quiet: bool) {
    let _ = UI.set(Ui::new(when, quiet));
}

/// True with `--quiet`: only errors are printed on stderr.
pub(crate) fn quiet() -> bool {
    ui().quiet
}

/// True when stdout gets colours.
pub(crate) fn stdout_color() -> bool {
    ui().stdout_color
}

/// True when stderr gets colours (diagnostics, `error:`).
pub(crate) fn stderr_color() -> bool {
    ui().stderr_color
}

/// The palette of text printed on stdout.
pub(crate) fn stdout_palette() -> Palette {
    if stdout_color() {
        Palette::ANSI
    } else {
        Palette::PLAIN
    }
}

/// `error:`, in bold red when stderr gets colours.
pub(crate) fn error_prefix() -> String {
    let palette = if stderr_color() {
        Palette::ANSI
    } else {
        Palette::PLAIN
    };
    format!(
        "{}error{}:",
        palette.error.render(),
        palette.error.render_reset()
    )
}

/// Prints an error line on stderr (`error: MESSAGE`), even with `--quiet`.
pub(crate) fn error(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{} {message}", error_prefix());
}

/// Prints a note (what was written, what is happening) or a warning on stderr, unless
/// `--quiet`.
pub(crate) fn note(line: &str) {
    if !quiet() {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_color_flag_wins_then_no_color_then_clicolor_force_then_the_terminal() {
        let env = |no: Option<&str>, force: Option<&str>, cli: Option<&str>, term: Option<&str>| {
            ColorEnv {
                no_color: no.map(str::to_owned),
                clicolor_force: force.map(str::to_owned),
                clicolor: cli.map(str::to_owned),
                term: term.map(str::to_owned),
            }
        };
        let xterm = Some("xterm-256color");
        // (flag, env, terminal, colour?)
        let cases = [
            (ColorWhen::Auto, env(None, None, None, xterm), true, true),
            (ColorWhen::Auto, env(None, None, None, xterm), false, false),
            (ColorWhen::Auto, env(None, None, None, None), true, true),
            (
                ColorWhen::Auto,
                env(None, None, None, Some("dumb")),
                true,
                false,
            ),
            (
                ColorWhen::Auto,
                env(Some("1"), None, None, xterm),
                true,
                false,
            ),
            (
                ColorWhen::Auto,
                env(Some(""), None, None, xterm),
                true,
                true,
            ),
            (
                ColorWhen::Auto,
                env(None, Some("1"), None, xterm),
                false,
                true,
            ),
            (
                ColorWhen::Auto,
                env(None, Some("0"), None, xterm),
                false,
                false,
            ),
            (
                ColorWhen::Auto,
                env(None, Some(""), None, xterm),
                false,
                false,
            ),
            (
                ColorWhen::Auto,
                env(Some("1"), Some("1"), None, xterm),
                true,
                false,
            ),
            (
                ColorWhen::Auto,
                env(None, None, Some("0"), xterm),
                true,
                false,
            ),
            (
                ColorWhen::Auto,
                env(None, Some("1"), Some("0"), xterm),
                false,
                true,
            ),
            (
                ColorWhen::Always,
                env(Some("1"), None, None, Some("dumb")),
                false,
                true,
            ),
            (
                ColorWhen::Never,
                env(None, Some("1"), None, xterm),
                true,
                false,
            ),
        ];
        for (when, env, terminal, want) in cases {
            assert_eq!(
                wants_color(when, &env, terminal),
                want,
                "{when:?}, {env:?}, terminal {terminal}"
            );
        }
    }
}
