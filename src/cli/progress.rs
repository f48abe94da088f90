//! Progress of a live read or an apply on stderr: an indicatif bar, drawn only when stderr
//! is a terminal and `--quiet` is not given. Pipes and CI logs get no progress, only the
//! one-line summary each command prints when the read is done.
//!
//! The bar's total is what the library reports for the phase (`ReadEvent::Phase`): the
//! number of items the read will really go through, or none when that is not known (then
//! the bar counts without a total).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use licensectl::graph::{ReadEvent, ReadProgress};

use super::ui;

/// Draws read progress on stderr (a terminal), or nothing.
pub(crate) struct StderrProgress {
    verb: &'static str,
    bar: Option<ProgressBar>,
}

fn style(total_known: bool) -> ProgressStyle {
    let template = if total_known {
        "{spinner} {msg:<28} {pos}/{len} {elapsed}"
    } else {
        "{spinner} {msg:<28} {pos} {elapsed}"
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl StderrProgress {
    /// A bar when `tty` (and not `--quiet`), phases shown as "reading {phase}".
    pub(crate) fn new(tty: bool) -> Self {
        Self::with_verb(tty, "reading ")
    }

    /// Like [`StderrProgress::new`], phases shown as "{verb}{phase}".
    pub(crate) fn with_verb(tty: bool, verb: &'static str) -> Self {
        let bar = (tty && !ui::quiet()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(false));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self { verb, bar }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ReadProgress for StderrProgress {
    fn event(&self, event: ReadEvent) {
        let Some(bar) = &self.bar else { return };
        match event {
            ReadEvent::Phase { name, total } => {
                bar.set_style(style(total.is_some()));
                bar.set_message(format!("{}{name}", self.verb));
                bar.set_position(0);
                match total {
                    Some(total) => bar.set_length(total),
                    None => bar.unset_length(),
                }
            }
            ReadEvent::Items(n) => bar.inc(n),
        }
    }
}
