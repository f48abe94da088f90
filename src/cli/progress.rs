//! Progress of a live read on stderr: an indicatif bar on a terminal, plain periodic
//! lines otherwise (CI logs).

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use licensectl::graph::{ReadEvent, ReadProgress};

/// Plain lines are printed at most this often.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Reports read progress on stderr.
pub(crate) struct StderrProgress {
    verb: &'static str,
    bar: Option<ProgressBar>,
    plain: Mutex<PlainState>,
}

struct PlainState {
    phase: &'static str,
    total: Option<u64>,
    done: u64,
    last: Instant,
}

impl StderrProgress {
    /// A bar when `tty`, plain lines otherwise; phases print as "reading {phase}".
    pub(crate) fn new(tty: bool) -> Self {
        Self::with_verb(tty, "reading ")
    }

    /// Like [`StderrProgress::new`], phases printed as "{verb}{phase}".
    pub(crate) fn with_verb(tty: bool, verb: &'static str) -> Self {
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg:<16} {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            verb,
            bar,
            plain: Mutex::new(PlainState {
                phase: "",
                total: None,
                done: 0,
                last: Instant::now(),
            }),
        }
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
        if let Some(bar) = &self.bar {
            match event {
                ReadEvent::Phase { name, total } => {
                    bar.set_message(name);
                    bar.set_position(0);
                    bar.set_length(total.unwrap_or(0));
                }
                ReadEvent::Items(n) => bar.inc(n),
            }
            return;
        }
        let Ok(mut s) = self.plain.lock() else { return };
        let line = match event {
            ReadEvent::Phase { name, total } => {
                s.phase = name;
                s.total = total;
                s.done = 0;
                s.last = Instant::now();
                let verb = self.verb;
                Some(match total {
                    Some(t) => format!("{verb}{name} (about {t})"),
                    None => format!("{verb}{name}"),
                })
            }
            ReadEvent::Items(n) => {
                s.done += n;
                (s.last.elapsed() >= LINE_EVERY).then(|| {
                    s.last = Instant::now();
                    match s.total {
                        Some(t) => format!("  {}: {}/{t}", s.phase, s.done),
                        None => format!("  {}: {}", s.phase, s.done),
                    }
                })
            }
        };
        if let Some(line) = line {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}
