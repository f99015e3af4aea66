//! Writing XML by hand: text escaped, numbers short.

use std::fmt::Write as _;

/// `text` as XML character data or an attribute's value: `&`, `<`, `>`,
/// and both quotes as references; a character XML 1.0 does not allow
/// (a control character, `U+FFFE`, `U+FFFF`) as `U+FFFD`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A length in pixels, to a tenth, without a trailing `.0`.
pub fn px(value: f64) -> String {
    let tenths = (value * 10.0).round() / 10.0;
    let mut out = String::new();
    if tenths.fract() == 0.0 {
        let _ = write!(out, "{}", tenths as i64);
    } else {
        let _ = write!(out, "{tenths:.1}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup in a name is text, not markup; a control character, which
    /// XML cannot hold even as a reference, becomes U+FFFD.
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{1b}b\u{ffff}"), "a\u{fffd}b\u{fffd}");
        assert_eq!(escape("café ▒"), "café ▒");
    }

    /// Whole pixels have no decimals, others one.
    #[test]
    fn lengths_are_short() {
        assert_eq!(px(16.0), "16");
        assert_eq!(px(7.83), "7.8");
        assert_eq!(px(0.04), "0");
    }
}
