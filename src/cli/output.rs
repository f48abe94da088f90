//! Standard output, where commands print their result: plans, drift reports, apply
//! reports, schemas, diffs, diagnostics as JSON, the emulator's URL.
//!
//! A reader that stops early (`licensectl plan … | head -1`) closes the pipe. That is not
//! an error: the rest of the text is dropped without a word and the command carries on, so
//! it still does everything it was asked (saves `--out`, applies, keeps serving) and exits
//! with its own code (`drift | head` still exits 2 when there is drift). Any other failure
//! to write stdout is an error.

use std::io::{ErrorKind, Write};

use anyhow::Context;

/// Writes to stdout through `write` (buffered) and flushes; a closed pipe is a quiet
/// success. For output too large to hold as one string first.
pub(crate) fn stream(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to stdout"),
    }
}

/// Writes `text` to stdout and flushes it; a closed pipe is a quiet success.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    // A text larger than the buffer goes straight through to stdout.
    stream(|out| out.write_all(text.as_bytes()))
}
