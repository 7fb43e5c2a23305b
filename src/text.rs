//! Text from outside (flags, specs, certificates made elsewhere) on its way to a terminal or a
//! file (docs/guarantees.md, "text is data"): names are checked where they enter, and every field of a
//! certificate is made printable before it is shown.

use std::borrow::Cow;

use anyhow::{Result, bail};

/// The longest CN or O otelpki writes (RFC 5280's upper bound for both).
pub const MAX_NAME_CHARS: usize = 64;

/// True for a character that can end a line or change what a terminal shows: the C0 and C1
/// controls (newline, carriage return, ESC, NUL, DEL, NEL ...) and the Unicode line and
/// paragraph separators, which some YAML parsers and editors also take as line breaks.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// An unsafe character, or the line feed that ends a rendered line (for tests of output).
#[cfg(test)]
pub fn is_unsafe_but_newline(c: char) -> bool {
    c != '\n' && is_unsafe(c)
}

/// `value` with every unsafe character written as an escape (`\n`, `\u{1b}`), so it prints
/// on one line and cannot drive a terminal; other text is unchanged.
pub fn printable(value: &str) -> Cow<'_, str> {
    if !value.chars().any(is_unsafe) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Checks a CN or O given on the command line or in a spec: at most 64 characters and no
/// control character. `what` names where it came from (`--cn`, `` `client.cn` in otelpki.toml ``).
pub fn check_name(value: &str, what: &str) -> Result<()> {
    if let Some(c) = value.chars().find(|&c| is_unsafe(c)) {
        bail!(
            "{what} `{}` holds the control character {}; a certificate name is one line of \
             printable text",
            printable(value),
            c.escape_default()
        );
    }
    let chars = value.chars().count();
    if chars > MAX_NAME_CHARS {
        bail!(
            "{what} `{value}` is {chars} characters; a certificate's CN and O are at most \
             {MAX_NAME_CHARS} (RFC 5280)"
        );
    }
    Ok(())
}

/// The value parser of `--cn` and `--org` (`cli.rs`).
pub fn parse_name(value: &str) -> Result<String, String> {
    check_name(value, "the name")
        .map(|()| value.to_string())
        .map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_moves_the_cursor_and_keeps_the_rest() {
        assert_eq!(printable("my-app"), "my-app");
        assert!(matches!(printable("my-app"), Cow::Borrowed(_)));
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable("\u{1b}[2K ok"), "\\u{1b}[2K ok");
        assert_eq!(
            printable("x\u{2028}y\u{85}z\u{7f}"),
            "x\\u{2028}y\\u{85}z\\u{7f}"
        );
        assert_eq!(printable("Café ü"), "Café ü");
    }

    #[test]
    fn names_are_one_short_line() {
        assert!(check_name("checkout-service", "--cn").is_ok());
        assert!(check_name(&"é".repeat(64), "--cn").is_ok());
        let long = check_name(&"a".repeat(65), "--cn").unwrap_err().to_string();
        assert!(
            long.contains("65 characters") && long.contains("at most 64"),
            "{long}"
        );
        for bad in ["a\nb", "a\rb", "a\u{0}b", "a\u{1b}b", "a\u{2029}b", "a\tb"] {
            let err = check_name(bad, "--cn").unwrap_err().to_string();
            assert!(err.starts_with("--cn `a\\"), "{err}");
            assert!(err.contains("control character"), "{err}");
        }
    }
}
