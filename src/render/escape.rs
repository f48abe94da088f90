//! Escaping text that comes from the tenant (UPNs, display names, SKU part numbers,
//! service plan names, Graph's raw values) for the two human renderings.
//!
//! Anyone who can name a user or a group in Entra ID can put control characters into a
//! plan: an ESC or OSC sequence that rewrites the terminal, a bidi override that makes a
//! line read differently than it is, a newline that forges a plan line, or Markdown/HTML
//! that breaks a pull-request comment. So every string a renderer did not write itself
//! goes through one of these functions:
//!
//! - [`terminal`]: control characters (C0, DEL, C1 — which covers ESC, CSI and OSC),
//!   line and paragraph separators and bidi controls are shown as Rust-style escapes
//!   (`\u{1b}`, `\n`), so none reaches the terminal raw and nothing starts a new line;
//! - [`markdown`]: the same, plus a backslash before every character that means something
//!   inline in GitHub-flavoured Markdown (so `<img src=x>` is text, and `|` cannot end a
//!   table cell);
//! - [`markdown_code`]: a code span that holds any text: a backtick fence longer than any
//!   backtick run inside, and `\|` so that a pipe cannot end a table cell (GFM unescapes
//!   it inside the span: https://github.github.com/gfm/#example-200).
//!
//! - [`html`]: the same control escapes, then the five characters HTML gives a meaning in
//!   text and attribute values (`&`, `<`, `>`, `"`, `'`) as character references, so a
//!   name can neither open markup nor leave a quoted attribute.
//!
//! No crate does exactly this (HTML escapers leave Markdown and terminal controls alone,
//! so bidi overrides would still reorder a report), and the rules are short. JSON needs
//! none of it: serde escapes control characters and keeps the names exact. Pure functions.

use std::borrow::Cow;
use std::fmt::Write;

/// True for a character that must never reach a terminal raw.
pub(crate) fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Line and paragraph separators.
            '\u{2028}' | '\u{2029}'
            // Bidi marks, embeddings, overrides and isolates.
            | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    let _ = write!(out, "{}", c.escape_debug());
    // `escape_debug` leaves a few of these as they are; force the \u{…} form then.
    if out.ends_with(c) {
        out.pop();
        let _ = write!(out, "{}", c.escape_unicode());
    }
}

/// `text` with every control character shown as an escape (see the module docs).
pub(crate) fn terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters with an inline meaning in GitHub-flavoured Markdown: emphasis, code,
/// links and images (`[`, `]`), HTML and autolinks (`<`, `>`), table cells,
/// strikethrough and entity references. (`(`, `)` and `!` only mean something after `]`
/// or before `[`, which are escaped; `#` and list markers only at the start of a line,
/// where no escaped text goes.)
fn is_markdown_special(c: char) -> bool {
    matches!(
        c,
        '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&'
    )
}

/// `text` as Markdown inline text: control characters escaped, special characters
/// backslash-escaped.
pub(crate) fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            // `\u{1b}`: a backslash before a letter is literal in Markdown.
            push_escaped(&mut out, c);
        } else {
            if is_markdown_special(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// `text` as a Markdown code span that is safe in a table cell.
pub(crate) fn markdown_code(text: &str) -> String {
    let text = terminal(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A space inside the fence when the text starts or ends with a backtick (or is all
    // spaces), as CommonMark strips exactly one space on each side.
    let pad = if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` for HTML text or a quoted attribute value: control characters escaped, then
/// `&`, `<`, `>`, `"` and `'` as character references.
pub(crate) fn html(text: &str) -> String {
    let text = terminal(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Of ASCII, exactly what is not printable (C0 controls and DEL) is unsafe: the
    /// config check decides printable-ASCII strings a byte at a time on this.
    #[test]
    fn printable_ascii_is_exactly_the_safe_ascii() {
        for b in 0..0x80u8 {
            assert_eq!(
                is_control(char::from(b)),
                !(0x20..0x7f).contains(&b),
                "{b:#x}"
            );
        }
    }

    #[test]
    fn html_text_cannot_open_markup_leave_an_attribute_or_reorder_a_line() {
        let cases = [
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("\" onmouseover='x'", "&quot; onmouseover=&#39;x&#39;"),
            ("a & b", "a &amp; b"),
            ("user\u{202e}moc.evil", "user\\u{202e}moc.evil"),
            ("two\nlines", "two\\nlines"),
            ("café", "café"),
        ];
        for (raw, shown) in cases {
            assert_eq!(html(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn terminal_escapes_every_control_and_bidi_character() {
        let cases = [
            ("alice@contoso.com", "alice@contoso.com"),
            ("O'Brien \"Bob\" \\ café", "O'Brien \"Bob\" \\ café"),
            (
                "\u{1b}[2J\u{1b}]0;owned\u{7}",
                "\\u{1b}[2J\\u{1b}]0;owned\\u{7}",
            ),
            ("a\nb\rc\td", "a\\nb\\rc\\td"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("\u{7f}", "\\u{7f}"),
            ("user\u{202e}moc.evil", "user\\u{202e}moc.evil"),
            ("\u{2066}x\u{2069}\u{200f}", "\\u{2066}x\\u{2069}\\u{200f}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            ("\0", "\\0"),
        ];
        for (raw, shown) in cases {
            assert_eq!(terminal(raw), shown, "{raw:?}");
            assert!(!terminal(raw).chars().any(is_control), "{raw:?}");
        }
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn markdown_text_cannot_open_html_code_links_or_cells() {
        let cases = [
            (
                "<img src=x onerror=alert(1)>",
                "\\<img src=x onerror=alert(1)\\>",
            ),
            ("a|b", "a\\|b"),
            ("`code` **bold** _x_", "\\`code\\` \\*\\*bold\\*\\* \\_x\\_"),
            ("[link](http://x)", "\\[link\\](http://x)"),
            ("&lt; ~~s~~", "\\&lt; \\~\\~s\\~\\~"),
            ("two\nlines", "two\\nlines"),
            ("\u{1b}[31m", "\\u{1b}\\[31m"),
            ("plain text", "plain text"),
        ];
        for (raw, shown) in cases {
            assert_eq!(markdown(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn a_code_span_holds_backticks_and_pipes() {
        let cases = [
            ("SPE_E3", "`SPE_E3`"),
            ("a`b", "``a`b``"),
            ("`x``", "``` `x`` ```"),
            ("a|b", "`a\\|b`"),
            ("<img src=x>", "`<img src=x>`"),
            ("new\nline", "`new\\nline`"),
            (" ", "`   `"),
        ];
        for (raw, shown) in cases {
            assert_eq!(markdown_code(raw), shown, "{raw:?}");
        }
    }
}
