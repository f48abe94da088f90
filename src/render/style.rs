//! The colours of the terminal rendering, as data: which style each kind of text gets.
//!
//! A [`Palette`] is chosen by the caller (the CLI decides from `--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE` and whether the stream is a terminal) and passed in; nothing here
//! looks at the environment or the terminal. [`Palette::PLAIN`] renders byte-identically
//! to no styling at all, so files, pipes, Markdown and JSON never carry a colour code.

use anstyle::{AnsiColor, Color, Style};

/// The styles of the terminal rendering (terraform's: `+` green, `~` yellow, `-` red,
/// destructive in bold red).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// `+`: something is added.
    pub add: Style,
    /// `~`: something changes in place.
    pub change: Style,
    /// `-`: something is removed.
    pub remove: Style,
    /// A removal that loses data or service (a mailbox entering its grace period).
    pub destructive: Style,
    /// Findings, grace units, warnings.
    pub warning: Style,
    /// Errors, refusals, oversubscribed SKUs.
    pub error: Style,
    /// Principals and the closing summary.
    pub strong: Style,
}

const fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(color)))
}

impl Palette {
    /// No styling: the text as it would be without colours.
    pub const PLAIN: Palette = Palette {
        add: Style::new(),
        change: Style::new(),
        remove: Style::new(),
        destructive: Style::new(),
        warning: Style::new(),
        error: Style::new(),
        strong: Style::new(),
    };

    /// ANSI colours for a terminal.
    pub const ANSI: Palette = Palette {
        add: fg(AnsiColor::Green),
        change: fg(AnsiColor::Yellow),
        remove: fg(AnsiColor::Red),
        destructive: fg(AnsiColor::Red).bold(),
        warning: fg(AnsiColor::Yellow),
        error: fg(AnsiColor::Red).bold(),
        strong: Style::new().bold(),
    };

    /// `text` in `style` (just `text` when the style is empty).
    pub(crate) fn paint(style: Style, text: &str) -> String {
        format!("{style}{text}{style:#}")
    }
}
