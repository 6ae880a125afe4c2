//! Text from the data (table, column and check names, error messages quoting values) made safe
//! for where it is printed: a terminal or Markdown must not obey the control characters in it (a
//! column name holding `ESC[32m` and a newline would print a fake verdict line), and XML 1.0
//! forbids some characters outright (a `JUnit` file holding U+FFFE is not well-formed).
//! Sample values are quoted with Rust's escapes; names are shown unquoted with the same escapes
//! for the characters that could act on the reader.

use std::borrow::Cow;

/// Whether a character could move the cursor, recolor, reorder or hide text when printed: C0
/// and C1 controls, DEL, Unicode format characters that reorder or hide text (bidi overrides,
/// zero-width marks) and the noncharacters U+FFFE and U+FFFF.
fn acts_on_reader(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        )
}

/// The text with every character that could act on a terminal or a Markdown renderer written
/// as a Rust escape (`\n`, `\u{1b}`); plain text is returned as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_reader) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_reader(c) {
            let escaped = c.escape_debug().to_string();
            if escaped.starts_with('\\') {
                out.push_str(&escaped);
            } else {
                // A format character `escape_debug` keeps as it is.
                out.extend(c.escape_unicode());
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A message of several lines (an error with a parser's excerpt) made printable line by line:
/// its line breaks stay, every other control character is escaped, and each line after the
/// first is indented, so no line of it can pass for a line recon printed itself.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Whether XML 1.0 allows a character in a document (its `Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// The text with every character XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) written as
/// a Rust escape (`\u{fffe}`), so an XML report stays well-formed and still says what was there.
pub fn xml_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(xml_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if xml_char(c) {
            out.push(c);
        } else {
            out.extend(c.escape_unicode());
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_as_escapes() {
        assert_eq!(printable("orders"), "orders");
        assert_eq!(
            printable("x\u{1b}[32mverdict: PASS\n"),
            "x\\u{1b}[32mverdict: PASS\\n"
        );
        assert_eq!(printable("a\rb\u{9b}"), "a\\rb\\u{9b}");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(printable("\u{fffe}\u{ffff}"), "\\u{fffe}\\u{ffff}");
        assert_eq!(printable("Müller, 東京"), "Müller, 東京");
        assert_eq!(
            printable_lines("no column `x\u{1b}[32m\nverdict: PASS`"),
            "no column `x\\u{1b}[32m\n  verdict: PASS`"
        );
    }

    #[test]
    fn xml_forbidden_characters_are_replaced() {
        assert_eq!(xml_text("a\tb\nc"), "a\tb\nc");
        assert_eq!(xml_text("t\u{fffe}\u{ffff}"), "t\\u{fffe}\\u{ffff}");
        assert_eq!(xml_text("\u{1b}[1m"), "\\u{1b}[1m");
        assert_eq!(xml_text("\u{1F600}"), "\u{1F600}");
    }
}
