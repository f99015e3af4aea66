//! Masking a line of text: the secrets of this run, by the rule of the
//! module docs, then the credentials of every URL.
//!
//! Every search here moves forward: no part of a line is looked at more
//! than a few times, however long the line.

use std::borrow::Cow;

use memchr::memmem;

use super::MASK;
use nats_course_toolkit::server_url::hide_credentials_in as hide_credentials;

/// Secrets shorter than this are masked only where they are a whole word.
pub const SHORT: usize = 6;

/// `text` with its secrets and its URLs' credentials as `***`. Borrows
/// `text` when there is nothing to hide.
pub fn mask_text<'a>(text: &'a [u8], secrets: &[Vec<u8>]) -> Cow<'a, [u8]> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        if let Some(replaced) = replace(&out, secret) {
            out = Cow::Owned(replaced);
        }
    }
    if let Some(hidden) = hide_credentials(&out, true) {
        out = Cow::Owned(hidden);
    }
    out
}

/// `text` with every occurrence of `secret` that counts (see [`SHORT`])
/// replaced by `***`, or `None` when none counts.
fn replace(text: &[u8], secret: &[u8]) -> Option<Vec<u8>> {
    if secret.is_empty() {
        return None;
    }
    let finder = memmem::Finder::new(secret);
    let whole_word = secret.len() < SHORT;
    let mut out: Option<Vec<u8>> = None;
    let (mut copied, mut from) = (0, 0);
    while let Some(found) = finder.find(&text[from..]) {
        let at = from + found;
        let end = at + secret.len();
        if whole_word && !(word_starts(text, at) && word_ends(text, end)) {
            // Overlapping occurrences may still count: `a a` in `xa a a`.
            from = at + 1;
            continue;
        }
        let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
        out.extend_from_slice(&text[copied..at]);
        out.extend_from_slice(MASK.as_bytes());
        copied = end;
        from = end;
    }
    let mut out = out?;
    out.extend_from_slice(&text[copied..]);
    Some(out)
}

/// Whether a word starts at `at`: the text's start, or after a space (also
/// as the escape `\n`, `\r` or `\t`), a quote, or `=` (`--password=pw`).
fn word_starts(text: &[u8], at: usize) -> bool {
    at == 0
        || is_gap(text[at - 1])
        || text[at - 1] == b'='
        || (at >= 2 && text[at - 2] == b'\\' && matches!(text[at - 1], b'n' | b'r' | b't'))
}

/// Whether a word ends at `end`: the text's end, or before a space, a
/// quote, or an escape (`\n`, `\"`).
fn word_ends(text: &[u8], end: usize) -> bool {
    end == text.len() || is_gap(text[end]) || text[end] == b'\\'
}

/// Whitespace and quotes: what stands between words.
fn is_gap(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'\'' | b'"' | b'`')
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn masked(text: &str, secrets: &[&str]) -> String {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        String::from_utf8(mask_text(text.as_bytes(), &secrets).into_owned()).unwrap()
    }

    #[test]
    fn masks_url_passwords_and_tokens() {
        assert_eq!(
            masked("at nats://ana:s3cret@localhost:4222: no", &[]),
            "at nats://ana:***@localhost:4222: no"
        );
        assert_eq!(masked("nats://tok3n@host:1", &[]), "nats://***@host:1");
        assert_eq!(
            masked("'nats://a:x@h1,tls://b:y@h2'", &[]),
            "'nats://a:***@h1,tls://b:***@h2'"
        );
        assert_eq!(masked("nats://a:p@ss@h", &[]), "nats://a:***@h");
        assert_eq!(masked("nats://a://b@h", &[]), "nats://a:***@h");
        assert_eq!(masked("localhost:4222 a@b", &[]), "localhost:4222 a@b");
        assert_eq!(masked("nats://ana:***@h", &[]), "nats://ana:***@h");
        // A URL's password is hidden whatever its length.
        assert_eq!(masked("nats://u:2@h #2", &["2"]), "nats://u:***@h #2");
        assert_eq!(
            masked("x nats://a:b@h y nats://c:d@h", &[]),
            "x nats://a:***@h y nats://c:***@h"
        );
    }

    #[test]
    fn long_secrets_are_masked_wherever_they_are() {
        assert_eq!(
            masked("error: unexpected argument '-Sup3r' found", &["-Sup3r"]),
            "error: unexpected argument '***' found"
        );
        assert_eq!(
            masked("{\"note\":\"pw=xPw-Qz9Xwy,#1Pw-Qz9Xw\"}", &["Pw-Qz9Xw"]),
            "{\"note\":\"pw=x***y,#1***\"}"
        );
        assert_eq!(masked("s3cr3t123456", &["123456"]), "s3cr3t***");
    }

    #[test]
    fn short_secrets_are_masked_as_whole_words_only() {
        assert_eq!(masked("a b c, a b", &["a b"]), "*** c, ***");
        let line = "Received event #2, with data: {\"seq\":2,\"price\":20} at 2024-05-02T12:20:02Z";
        assert_eq!(masked(line, &["2"]), line);
        assert_eq!(masked(line, &["20"]), line);
        assert_eq!(
            masked("invalid value '2' for '--password <PASSWORD>'", &["2"]),
            "invalid value '***' for '--password <PASSWORD>'"
        );
        assert_eq!(
            masked("tip: to pass 'pw' as a value, use '-- pw'", &["pw"]),
            "tip: to pass '***' as a value, use '-- ***'"
        );
        assert_eq!(masked("--token=pw x", &["pw"]), "--token=*** x");
        assert_eq!(masked("\"a\\npw\\n\" pw", &["pw"]), "\"a\\n***\\n\" ***");
        assert_eq!(masked("xa a a", &["a a"]), "xa ***");
        assert_eq!(masked("apw pwa", &["pw"]), "apw pwa");
    }

    #[test]
    fn leaves_plain_text_borrowed() {
        let text = b"Received event #1, with data: {\"url\":\"http://x\"}\n";
        assert!(matches!(
            mask_text(text, &[b"zz".to_vec(), b"1".to_vec()]),
            Cow::Borrowed(_)
        ));
    }
}
