//! Splitting a snapshot document as it is read: the `users` array's elements go out in
//! chunks that can be parsed on their own (and side by side), everything else is kept as
//! the document's "head" with `"users": []`.
//!
//! The splitter tracks only what JSON's structure needs to find element boundaries
//! (strings with their escapes, and nesting depth); it validates nothing. Every piece it
//! emits is then parsed by `serde_json`, so a document the splitter misreads can only make
//! a piece fail to parse, and the caller then parses the whole file the ordinary way for
//! the exact error. It gives up (and the caller takes the ordinary way) on anything
//! unusual: a top-level key with escapes, `users` twice, `users` that is not an array.
//!
//! In pretty-printed JSON (what `licensectl snapshot` and the emulator write) it does not
//! look inside the elements: when the first element opens on a line of its own, indented
//! by spaces, and closes on a line indented the same, each later element is skipped to
//! the next line holding only that indentation and `}` (JSON strings hold no raw line
//! breaks, so such a line is outside every string; in consistently indented JSON it is
//! that element's close). Should a file's indentation mislead it, a chunk is cut inside
//! an element and cannot parse (its brackets do not balance), or the array's end is not
//! found, and the caller again parses the whole file.

/// The bytes that change the splitter's state outside strings.
const STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    let bytes = b"\"{}[],:";
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

/// Where the splitter is in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Outside the `users` array (copying to the head).
    Head,
    /// After the top-level key `users` and before its value starts.
    UsersValue,
    /// Inside the `users` array (copying elements to the current chunk).
    Users,
}

/// What the splitter emits for the bytes fed to it.
pub(super) trait Sink {
    /// A chunk of complete `users` elements, as a JSON array (`[` … `]`), and how many
    /// elements it seems to hold (for sizing; the parser decides).
    fn chunk(&mut self, chunk: Vec<u8>, elements: usize);
    /// An empty buffer for the next chunk (a recycled one when there is one).
    fn fresh(&mut self, capacity: usize) -> Vec<u8>;
}

/// The splitting state across the blocks of a file.
#[derive(Debug)]
pub(super) struct Splitter {
    /// Nesting depth outside strings: 1 inside the top-level object.
    depth: u32,
    in_string: bool,
    /// The previous byte in a string was a backslash (the escape may straddle blocks).
    escape: bool,
    mode: Mode,
    /// At depth 1, the next string is a key (after `{` or `,`).
    expect_key: bool,
    /// Collecting a top-level key's bytes.
    key: Option<Vec<u8>>,
    /// The last top-level key read.
    last_key_is_users: bool,
    /// `users` was seen (a second one makes the splitter give up).
    seen_users: bool,
    /// The document's bytes outside the `users` elements.
    pub(super) head: Vec<u8>,
    /// The elements since the last chunk went out (starts with `[`).
    chunk: Vec<u8>,
    /// Elements begun in the current chunk.
    elements: usize,
    /// Inside the `users` array: an element started since the last `,` (or the `[`).
    element_since_separator: bool,
    /// Inside the `users` array: a `,` was seen since the `[`.
    comma_seen: bool,
    /// Chunks go out once they are at least this large, at an element boundary.
    chunk_bytes: usize,
    /// Set when the document is too unusual to split; the caller parses it whole.
    pub(super) gave_up: bool,
    /// The whitespace between the `users` array's `[` and its first element.
    gap: Vec<u8>,
    /// The first element has started (the gap is complete).
    first_started: bool,
    /// The first element has closed (skipping is decided).
    first_closed: bool,
    /// A line break, the elements' indentation and `}`: an element's close, when the
    /// first element showed that shape.
    close: Option<memchr::memmem::Finder<'static>>,
    /// Inside an element being skipped to its close.
    skipping: bool,
    /// The last bytes skipped (fewer than the close's), for a close across two blocks.
    tail: Vec<u8>,
}

impl Splitter {
    pub(super) fn new(chunk_bytes: usize) -> Self {
        Self {
            depth: 0,
            in_string: false,
            escape: false,
            mode: Mode::Head,
            expect_key: false,
            key: None,
            last_key_is_users: false,
            seen_users: false,
            head: Vec::new(),
            chunk: Vec::new(),
            elements: 0,
            element_since_separator: false,
            comma_seen: false,
            chunk_bytes: chunk_bytes.max(1),
            gave_up: false,
            gap: Vec::new(),
            first_started: false,
            first_closed: false,
            close: None,
            skipping: false,
            tail: Vec::new(),
        }
    }

    /// Feeds the next block of the file.
    pub(super) fn feed(&mut self, block: &[u8], sink: &mut impl Sink) {
        if self.gave_up {
            return;
        }
        let mut i = 0;
        // Start of the run of bytes not yet copied to the head or the chunk.
        let mut run = 0;
        while i < block.len() {
            if self.skipping {
                let Some(close) = &self.close else {
                    self.gave_up = true;
                    return;
                };
                match find_close(close, &mut self.tail, block, i) {
                    // At the element's `}`, which the match below closes as usual.
                    Some(at) => {
                        self.skipping = false;
                        i = at;
                    }
                    None => {
                        i = block.len();
                        continue;
                    }
                }
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &block[i..]) {
                    Some(k) => {
                        let at = i + k;
                        if let Some(key) = self.key.as_mut() {
                            key.extend_from_slice(&block[i..at]);
                        }
                        if block[at] == b'\\' {
                            if self.key.is_some() {
                                // An escaped key (e.g. `"\u0075sers"`): too unusual.
                                self.gave_up = true;
                                return;
                            }
                            self.escape = true;
                        } else {
                            self.in_string = false;
                            if let Some(key) = self.key.take() {
                                self.last_key_is_users = key == b"users";
                                self.expect_key = false;
                            }
                        }
                        i = at + 1;
                    }
                    None => {
                        if let Some(key) = self.key.as_mut() {
                            key.extend_from_slice(&block[i..]);
                        }
                        i = block.len();
                    }
                }
                continue;
            }
            if self.mode != Mode::UsersValue && !(self.mode == Mode::Users && self.depth == 2) {
                // Whitespace, numbers and literals matter only where an element or the
                // `users` value starts: elsewhere skip them in a tight loop (pretty JSON
                // is mostly indentation between the strings).
                while i < block.len() && !STRUCTURAL[usize::from(block[i])] {
                    i += 1;
                }
                if i == block.len() {
                    break;
                }
            }
            let byte = block[i];
            match byte {
                b'"' => {
                    self.in_string = true;
                    if self.depth == 1 && self.expect_key {
                        self.key = Some(Vec::new());
                    }
                    if self.mode == Mode::UsersValue {
                        // `"users": "…"`: not an array.
                        self.gave_up = true;
                        return;
                    }
                    self.mark_element_start();
                }
                b'{' | b'[' => {
                    if self.mode == Mode::UsersValue {
                        if byte != b'[' {
                            self.gave_up = true;
                            return;
                        }
                        // The array opens: copy through `[` to the head, then `]` later.
                        self.head.extend_from_slice(&block[run..=i]);
                        self.head.push(b']');
                        run = i + 1;
                        self.mode = Mode::Users;
                        self.depth += 1;
                        self.chunk.clear();
                        self.chunk.push(b'[');
                        self.elements = 0;
                        self.element_since_separator = false;
                        self.comma_seen = false;
                        i += 1;
                        continue;
                    }
                    self.mark_element_start();
                    self.depth += 1;
                    if self.depth == 1 {
                        self.expect_key = byte == b'{';
                    }
                    if self.mode == Mode::Users && self.depth == 3 {
                        self.first_started = true;
                        self.skipping = self.close.is_some() && byte == b'{';
                    }
                }
                b'}' | b']' => {
                    if self.mode == Mode::Users && self.depth == 2 {
                        if self.comma_seen && !self.element_since_separator {
                            // A trailing comma: let the parser say so.
                            self.gave_up = true;
                            return;
                        }
                        // The users array closes: what is left of the chunk goes out, and
                        // the head already holds `[]`; skip this `]`.
                        self.chunk.extend_from_slice(&block[run..i]);
                        run = i + 1;
                        self.flush(sink);
                        self.mode = Mode::Head;
                        self.depth -= 1;
                        i += 1;
                        continue;
                    }
                    let Some(depth) = self.depth.checked_sub(1) else {
                        self.gave_up = true;
                        return;
                    };
                    self.depth = depth;
                    if self.mode == Mode::Users && depth == 2 && !self.first_closed {
                        self.first_closed = true;
                        self.close = self.element_close(byte, &block[..i]);
                    }
                }
                b',' => {
                    if self.depth == 1 && self.mode == Mode::Head {
                        self.expect_key = true;
                    }
                    if self.mode == Mode::Users && self.depth == 2 {
                        if !self.element_since_separator {
                            // `[,` or `,,`: let the parser say so.
                            self.gave_up = true;
                            return;
                        }
                        self.element_since_separator = false;
                        self.comma_seen = true;
                        // Between two elements: cut here when the chunk is large enough.
                        self.chunk.extend_from_slice(&block[run..i]);
                        run = i + 1;
                        if self.chunk.len() >= self.chunk_bytes {
                            self.flush(sink);
                        } else {
                            self.chunk.push(b',');
                        }
                    }
                }
                b':' => {
                    if self.depth == 1 && self.mode == Mode::Head && self.last_key_is_users {
                        self.last_key_is_users = false;
                        if self.seen_users {
                            self.gave_up = true;
                            return;
                        }
                        self.seen_users = true;
                        self.mode = Mode::UsersValue;
                    }
                }
                b' ' | b'\n' | b'\r' | b'\t' => {
                    if self.mode == Mode::Users && self.depth == 2 && !self.first_started {
                        self.gap.push(byte);
                    }
                }
                _ => {
                    if self.mode == Mode::UsersValue {
                        // `"users": null`, a number, …: not an array.
                        self.gave_up = true;
                        return;
                    }
                    self.mark_element_start();
                }
            }
            i += 1;
        }
        match self.mode {
            Mode::Users => self.chunk.extend_from_slice(&block[run..]),
            Mode::Head | Mode::UsersValue => self.head.extend_from_slice(&block[run..]),
        }
    }

    /// The close of every element, when the first one (closed by `byte`, after `before`
    /// in this block) opened after a line break and spaces and closes with `}` on a line
    /// of the same spaces; `None` otherwise (every element is then scanned).
    fn element_close(&self, byte: u8, before: &[u8]) -> Option<memchr::memmem::Finder<'static>> {
        let (&first, spaces) = self.gap.split_first()?;
        if byte != b'}'
            || first != b'\n'
            || spaces.is_empty()
            || spaces.len() > 64
            || spaces.iter().any(|&b| b != b' ')
            || !before.ends_with(&self.gap)
        {
            return None;
        }
        let mut close = self.gap.clone();
        close.push(b'}');
        Some(memchr::memmem::Finder::new(&close).into_owned())
    }

    /// Notes that a byte of a `users` element was seen (so the chunk is not empty).
    fn mark_element_start(&mut self) {
        if self.mode == Mode::Users && self.depth == 2 {
            if !self.element_since_separator {
                self.elements += 1;
            }
            self.element_since_separator = true;
        }
    }

    /// Sends the current chunk (when it holds an element) and starts a new one.
    fn flush(&mut self, sink: &mut impl Sink) {
        if self.elements > 0 {
            let capacity = self.chunk_bytes + (self.chunk_bytes >> 2);
            let mut chunk = std::mem::replace(&mut self.chunk, sink.fresh(capacity));
            chunk.push(b']');
            sink.chunk(chunk, self.elements);
        }
        self.elements = 0;
        self.chunk.clear();
        self.chunk.push(b'[');
    }

    /// Ends the document: true when it was split (the head and every chunk went out).
    pub(super) fn finish(&self) -> bool {
        !self.gave_up
            && !self.in_string
            && !self.skipping
            && self.depth == 0
            && self.mode == Mode::Head
    }
}

/// Where `close` ends (the index of its `}`) in `block` from `from`, counting a close that
/// begins in `tail` (the last bytes skipped before this block); `None` when the block
/// holds none, and then `tail` keeps the block's last bytes.
fn find_close(
    close: &memchr::memmem::Finder<'_>,
    tail: &mut Vec<u8>,
    block: &[u8],
    from: usize,
) -> Option<usize> {
    let len = close.needle().len();
    let rest = &block[from..];
    if !tail.is_empty() {
        let mut joint = std::mem::take(tail);
        let before = joint.len();
        joint.extend_from_slice(&rest[..rest.len().min(len - 1)]);
        if let Some(at) = close.find(&joint) {
            return Some(from + at + len - 1 - before);
        }
        if rest.len() < len {
            // The block is shorter than the close: what is kept spans both.
            joint.drain(..joint.len().saturating_sub(len - 1));
            *tail = joint;
            return None;
        }
    }
    if let Some(at) = close.find(rest) {
        return Some(from + at + len - 1);
    }
    tail.extend_from_slice(&rest[rest.len().saturating_sub(len - 1)..]);
    None
}
