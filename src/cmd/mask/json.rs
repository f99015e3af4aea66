//! Masking a line that is JSON (`listen --json`, `status --json`,
//! `status --events --json`) so that it stays JSON: secrets are hidden
//! inside its strings and numbers only, never in its syntax.

use std::borrow::Cow;

use memchr::memmem;

use super::MASK;
use super::text::{SHORT, mask_text};

/// Whether `line` is one JSON object or array.
pub fn is_json(line: &[u8]) -> bool {
    matches!(
        line.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ) && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// `line`, JSON (see [`is_json`]), with its secrets hidden and still JSON:
/// - in a string, as in a line of text, the secret as JSON writes it
///   (`pa\"ss`); a string whose masking would break one of its escapes
///   (a secret `a\` in `"a\"b"`) becomes `"***"`;
/// - a number that holds a long secret becomes the string `"***"`; short
///   secrets are never looked for in numbers (`"seq":2`).
pub fn mask_json(line: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                let end = string_end(line, i + 1);
                let content = &line[i + 1..end];
                out.push(b'"');
                match mask_text(content, secrets) {
                    Cow::Borrowed(content) => out.extend_from_slice(content),
                    Cow::Owned(masked) if is_string_content(&masked) => out.extend(masked),
                    Cow::Owned(_) => out.extend_from_slice(MASK.as_bytes()),
                }
                out.push(b'"');
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = line[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(line.len(), |n| i + n);
                let number = &line[i..end];
                let holds_secret = secrets
                    .iter()
                    .any(|s| s.len() >= SHORT && memmem::find(number, s).is_some());
                if holds_secret {
                    out.push(b'"');
                    out.extend_from_slice(MASK.as_bytes());
                    out.push(b'"');
                } else {
                    out.extend_from_slice(number);
                }
                i = end;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Where the string whose text starts at `from` ends: its closing quote.
fn string_end(line: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    line.len()
}

/// Whether `text` between two quotes is a JSON string.
fn is_string_content(text: &[u8]) -> bool {
    let mut quoted = Vec::with_capacity(text.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(text);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str, secrets: &[&str]) -> String {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        String::from_utf8(super::super::mask_with(line.as_bytes(), &secrets).into_owned()).unwrap()
    }

    /// Lines as `listen --json` and `status --events --json` print them,
    /// with what makes JSON hard: escapes, surrogate pairs, numbers with
    /// exponents, a URL with a password, nesting.
    const LINES: [&str; 4] = [
        r#"{"seq":2,"channel":"ticket:created","delivery":1,"redelivered":false,"published":"2024-05-02T12:20:02.020Z","pending":20,"data":{"id":"123","price":20}}"#,
        r#"{"seq":12,"time":"2024-05-01T12:00:00.123Z","data":{"note":"a\"b\\c\u001b[31m\n\ud83d\ude00 é","n":-1.5e+10,"ok":[true,null,{}]},"headers":{"Tag":["a","b"]}}"#,
        r#"{"seq":3,"data":{"url":"nats://ana:Pw-Qz9Xw@host:4222","again":"Pw-Qz9Xw","n":98765432}}"#,
        r#"["x\\",1,"\"\\\"",{"k\"\\":"\\u0041"}]"#,
    ];

    #[test]
    fn a_json_line_stays_json_whatever_the_secret() {
        // Every piece of every line, up to 10 bytes, as the secret.
        for line in LINES {
            assert!(is_json(line.as_bytes()), "{line}");
            for start in 0..line.len() {
                for end in start + 1..=(start + 10).min(line.len()) {
                    let Some(secret) = line.get(start..end) else {
                        continue;
                    };
                    let out = masked(line, &[secret]);
                    assert!(
                        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                        "secret {secret:?}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_secrets_leave_numbers_and_times_alone() {
        for secret in ["2", "20", "12", "0", "1", "true"] {
            assert_eq!(masked(LINES[0], &[secret]), LINES[0], "{secret}");
        }
        // A string that is the secret is hidden, inside its quotes.
        assert_eq!(
            masked(r#"{"seq":1,"data":{"pw":"20","n":20}}"#, &["20"]),
            r#"{"seq":1,"data":{"pw":"***","n":20}}"#
        );
    }

    #[test]
    fn long_secrets_are_hidden_in_strings_and_numbers() {
        let out = masked(LINES[2], &["Pw-Qz9Xw", "98765432"]);
        assert_eq!(
            out,
            r#"{"seq":3,"data":{"url":"nats://ana:***@host:4222","again":"***","n":"***"}}"#
        );
        // As JSON writes it: a secret with a quote, escaped.
        assert_eq!(
            masked(r#"{"data":"is pa\"ss-word!"}"#, &[r#"pa\"ss-word"#]),
            r#"{"data":"is ***!"}"#
        );
    }
}
