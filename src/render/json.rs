//! JSON rendering: the [`Plan`] as a versioned document (schema in `docs/plan.md`).
//!
//! The document is the plan's own serialization plus `kind` (`plan` or `drift`) and
//! `has_drift`, pretty-printed with a trailing newline. Field order is fixed by the
//! structs and every list is sorted by the planner, so output is byte-stable.

use serde::Serialize;
use serde_json::ser::{Formatter as _, PrettyFormatter};

use crate::plan::Plan;

use super::Mode;

#[derive(Serialize)]
struct Document<'a> {
    kind: &'static str,
    has_drift: bool,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// Renders the plan as pretty JSON.
pub fn render(plan: &Plan, mode: Mode) -> String {
    // Room for the whole document at once (about 700 bytes an entry on a large plan)
    // rather than doubling through a 73 MB one; room never written costs no memory.
    let entries = plan.changes.len() + plan.findings.len() + plan.notes.len();
    let mut bytes = Vec::with_capacity(64 * 1024 + entries.saturating_mul(1024));
    // A `Vec` takes every write, and the plan is plain data with string keys and finite
    // numbers: serialization cannot fail, and serde_json writes UTF-8.
    if write(plan, mode, &mut bytes).is_err() {
        bytes.clear();
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// Writes what [`render`] returns into `out` as it is made, so that a caller printing a
/// large plan never holds the whole document (73 MB for a 500k-user tenant's plan). The
/// only errors are `out`'s own.
pub fn write(plan: &Plan, mode: Mode, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let entries = plan.changes.len() + plan.findings.len() + plan.notes.len();
    if entries < PARALLEL_ENTRIES {
        return write_serde(plan, mode, out);
    }
    write_split(plan, mode, out, BLOCK)
}

/// From this many changes, findings and notes, their lists are rendered on two threads
/// (a 500k-user tenant's plan has 110k; serializing them was a tenth of a second on one
/// core while the other idled).
const PARALLEL_ENTRIES: usize = 20_000;

/// Entries of a list rendered together, by one thread, between two hand-overs.
const BLOCK: usize = 512;

fn kind(mode: Mode) -> &'static str {
    match mode {
        Mode::Plan => "plan",
        Mode::Drift => "drift",
    }
}

/// The document as serde writes it (`Document`), on one thread.
fn write_serde(plan: &Plan, mode: Mode, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let document = Document {
        kind: kind(mode),
        has_drift: plan.has_drift(),
        plan,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

/// The same bytes as [`write_serde`], the three long lists rendered in blocks of `block`
/// entries by this thread and one beside it, in turns, and written in order (a test holds
/// the two equal). The top-level fields are written here one by one: the destructuring
/// below stops the build when `Plan` gains a field, and `Plan`'s `skip_serializing_if`s
/// are followed by hand.
fn write_split(
    plan: &Plan,
    mode: Mode,
    out: &mut impl std::io::Write,
    block: usize,
) -> std::io::Result<()> {
    let Plan {
        format_version,
        tenant_id,
        tenant_domain,
        has_changes,
        summary,
        changes,
        seats,
        findings,
        notes,
        safety,
        diagnostics,
        rules,
        operations,
    } = plan;
    let mut fields = Fields { out, first: true };
    fields.value("kind", &kind(mode))?;
    fields.value("has_drift", &plan.has_drift())?;
    fields.value("format_version", format_version)?;
    fields.value("tenant_id", tenant_id)?;
    fields.value("tenant_domain", tenant_domain)?;
    fields.value("has_changes", has_changes)?;
    fields.value("summary", summary)?;
    fields.list("changes", changes, block)?;
    fields.value("seats", seats)?;
    fields.list("findings", findings, block)?;
    fields.list("notes", notes, block)?;
    fields.value("safety", safety)?;
    fields.value("diagnostics", diagnostics)?;
    if let Some(rules) = rules {
        fields.value("rules", rules)?;
    }
    if !operations.is_empty() {
        fields.value("operations", operations)?;
    }
    let out = fields.out;
    out.write_all(if fields.first { b"{}\n" } else { b"\n}\n" })
}

/// serde_json's pretty formatter `depth` levels in, as it is when it writes a value there.
fn formatter_at(depth: usize) -> PrettyFormatter<'static> {
    let mut formatter = PrettyFormatter::new();
    for _ in 0..depth {
        // Only the nesting is wanted: the bracket goes nowhere.
        let _ = formatter.begin_object(&mut std::io::sink());
    }
    formatter
}

/// `value` serialized as serde_json's pretty printer writes it `depth` levels in.
fn value_at<T: Serialize>(
    out: &mut impl std::io::Write,
    depth: usize,
    value: &T,
) -> std::io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, formatter_at(depth));
    value
        .serialize(&mut serializer)
        .map_err(std::io::Error::other)
}

/// The top-level object's fields, written in turn.
struct Fields<'w, W> {
    out: &'w mut W,
    first: bool,
}

impl<W: std::io::Write> Fields<'_, W> {
    fn key(&mut self, key: &str) -> std::io::Result<()> {
        self.out
            .write_all(if self.first { b"{\n  " } else { b",\n  " })?;
        self.first = false;
        serde_json::to_writer(&mut *self.out, key)?;
        self.out.write_all(b": ")
    }

    fn value<T: Serialize>(&mut self, key: &str, value: &T) -> std::io::Result<()> {
        self.key(key)?;
        value_at(self.out, 1, value)
    }

    /// A list, its blocks of `block` entries rendered alternately here and on a thread
    /// beside (each block's bytes written as soon as it and those before it are ready).
    fn list<T: Serialize + Sync>(
        &mut self,
        key: &str,
        items: &[T],
        block: usize,
    ) -> std::io::Result<()> {
        self.key(key)?;
        if items.is_empty() {
            return self.out.write_all(b"[]");
        }
        self.out.write_all(b"[")?;
        let block = block.max(1);
        // Entry `i` as serde writes it in the list: a separator, indentation, the value.
        let entry = |bytes: &mut Vec<u8>, i: usize| -> std::io::Result<()> {
            bytes.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
            value_at(bytes, 2, &items[i])
        };
        let render = |bytes: &mut Vec<u8>, b: usize| -> std::io::Result<()> {
            let end = ((b + 1) * block).min(items.len());
            (b * block..end).try_for_each(|i| entry(bytes, i))
        };
        let blocks = items.len().div_ceil(block);
        let out = &mut *self.out;
        std::thread::scope(|scope| {
            // The odd blocks, rendered beside and handed over in order; at most two wait.
            let (to_writer, rendered) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
            let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
            let side = scope.spawn(move || {
                for b in (1..blocks).step_by(2) {
                    let mut bytes = recycled.try_recv().unwrap_or_default();
                    bytes.clear();
                    // A `Vec` takes every write, and the entries are plain data:
                    // rendering cannot fail.
                    if render(&mut bytes, b).is_err() || to_writer.send(bytes).is_err() {
                        return;
                    }
                }
            });
            let mut mine = Vec::new();
            let mut written = Ok(());
            for b in 0..blocks {
                let result = if b % 2 == 0 {
                    mine.clear();
                    render(&mut mine, b).and_then(|()| out.write_all(&mine))
                } else {
                    match rendered.recv() {
                        Ok(bytes) => {
                            let result = out.write_all(&bytes);
                            let _ = recycle.send(bytes);
                            result
                        }
                        Err(_) => Err(std::io::Error::other("a list's block was not rendered")),
                    }
                };
                if let Err(error) = result {
                    written = Err(error);
                    break;
                }
            }
            // Dropping the receiver stops the side thread at its next hand-over.
            drop(rendered);
            if let Err(panic) = side.join() {
                std::panic::resume_unwind(panic);
            }
            written
        })?;
        self.out.write_all(b"\n  ]")
    }
}

/// The document both ways — serde's and split in blocks of `block` (for the tests that
/// hold them equal).
#[cfg(test)]
pub(crate) fn both_ways(plan: &Plan, mode: Mode, block: usize) -> (String, String) {
    let mut serde = Vec::new();
    let mut split = Vec::new();
    write_serde(plan, mode, &mut serde).expect("a Vec takes every write");
    write_split(plan, mode, &mut split, block).expect("a Vec takes every write");
    (
        String::from_utf8(serde).expect("serde_json writes UTF-8"),
        String::from_utf8(split).expect("serde_json writes UTF-8"),
    )
}

#[derive(Serialize)]
struct Versioned<'r, R: Serialize> {
    kind: &'static str,
    format_version: u32,
    #[serde(flatten)]
    report: &'r R,
}

/// A report other than a plan (`seats`, `reprocess`) as pretty JSON: `kind` and
/// `format_version` first, then the report's own fields, with a trailing newline.
pub(crate) fn versioned<R: Serialize>(
    kind: &'static str,
    format_version: u32,
    report: &R,
) -> String {
    let document = Versioned {
        kind,
        format_version,
        report,
    };
    // Plain data with string keys and finite numbers: serialization cannot fail.
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
