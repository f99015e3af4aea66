//! Server URLs, parsed in one place: how a list of them splits
//! ([`split_servers`]), where a URL starts in a line of text
//! ([`next_url`]), where its password or token is ([`credentials`]), and
//! how the client decodes it ([`percent_decode`]), and the URL with them
//! hidden ([`hide_credentials`]).
//!
//! Learners type `nats://host:port`, the course's `http://localhost:4222`,
//! `host:port`, comma-separated lists, and credentials inside the URL
//! (`nats://alice:pa,ss@host`). [`crate::connection`] turns them into the
//! addresses it connects to; the commands' masking step hides their
//! credentials, and every other secret of a run, in what is printed.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memmem;

/// Splits a comma-separated list of servers. A comma in a URL's credentials
/// (`nats://alice:pa,ss@host:4222`) is part of the password: a URL's
/// credentials run up to the last `@` before the next `scheme://`.
pub fn split_servers(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let from = credentials_end(rest);
        match rest[from..].find(',') {
            Some(comma) => {
                parts.push(&rest[..from + comma]);
                rest = &rest[from + comma + 1..];
            }
            None => {
                parts.push(rest);
                return parts;
            }
        }
    }
}

/// Where the credentials of the URL at the start of `text` end (just after
/// the `@`), or 0 when it has none.
fn credentials_end(text: &str) -> usize {
    let Some(sep) = text.find("://") else {
        return 0;
    };
    let scheme = text[..sep].trim_start();
    let is_scheme = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !is_scheme {
        return 0;
    }
    let start = sep + 3;
    let end = next_url(text.as_bytes(), start).unwrap_or(text.len());
    text[start..end].rfind('@').map_or(0, |at| start + at + 1)
}

/// Decodes `%XX` escapes, as a URL's user and password carry them: the
/// `percent-encoding` crate's decoder, the one the `url` crate (and so the
/// client) uses; an escape that is not one stays as it is.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The byte ranges of the passwords and tokens of the URLs in `text`, in
/// order and apart: after each `://`, up to the last `@` before the next URL
/// ([`next_url`]; in a line of text, also before the next whitespace or
/// quote), the part after the first `:`, or all of it when there is no `:`.
pub fn credentials(text: &[u8], in_line: bool) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut from = 0;
    // In a line, the first whitespace or quote after the last URL's start:
    // it ends every URL that starts before it, so it is looked for once.
    let mut line_stop: Option<usize> = None;
    std::iter::from_fn(move || {
        loop {
            let sep = from + memmem::find(&text[from..], b"://")?;
            let start = sep + 3;
            let stop = match line_stop {
                _ if !in_line => text.len(),
                Some(stop) if start <= stop => stop,
                _ => {
                    let stop = text[start..]
                        .iter()
                        .position(|&b| ends_url(b))
                        .map_or(text.len(), |p| start + p);
                    line_stop = Some(stop);
                    stop
                }
            };
            let end = next_url(&text[..stop], start).unwrap_or(stop);
            // Any `://` before `end` belongs to this URL (`nats://a://b@h`),
            // and its credentials are this URL's: the next search starts at `end`.
            from = end;
            let Some(at) = text[start..end].iter().rposition(|&b| b == b'@') else {
                continue;
            };
            let userinfo = start..start + at;
            let secret = match text[userinfo.clone()].iter().position(|&b| b == b':') {
                Some(colon) => userinfo.start + colon + 1..userinfo.end,
                None => userinfo,
            };
            if !secret.is_empty() {
                return Some(secret);
            }
        }
    })
}

/// Where the next URL at or after `from` begins: a scheme and `://`, the
/// scheme at the start of the text or after a space, comma, quote, `(`,
/// `<`, `=` or `;`. (So `nats://a://b@h` is one URL, whose password is `//b`.)
pub fn next_url(text: &[u8], from: usize) -> Option<usize> {
    let mut search = from;
    loop {
        let sep = search + memmem::find(&text[search..], b"://")?;
        let scheme = text[from..sep]
            .iter()
            .rev()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        let start = sep - scheme;
        let at_boundary = start == 0
            || text[start - 1].is_ascii_whitespace()
            || matches!(
                text[start - 1],
                b',' | b'\'' | b'"' | b'`' | b'(' | b'<' | b'=' | b';'
            );
        if scheme > 0 && at_boundary {
            return Some(start);
        }
        search = sep + 1;
    }
}

/// Characters that end a URL in a line of text.
fn ends_url(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'\'' | b'"' | b'`' | b'<' | b'>')
}

/// What a hidden password or token is written as.
pub const MASK: &str = "***";

/// `text` with the password or token of each URL in it as `***`, or `None`
/// when there is none (or each is `***` already). `in_line`: see
/// [`credentials`].
pub fn hide_credentials_in(text: &[u8], in_line: bool) -> Option<Vec<u8>> {
    let mut ranges = credentials(text, in_line).peekable();
    // Skip those masked already: a line masked twice is the same line.
    while ranges
        .next_if(|r| &text[r.clone()] == MASK.as_bytes())
        .is_some()
    {}
    ranges.peek()?;
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    for range in credentials(text, in_line) {
        out.extend_from_slice(&text[copied..range.start]);
        out.extend_from_slice(MASK.as_bytes());
        copied = range.end;
    }
    out.extend_from_slice(&text[copied..]);
    Some(out)
}

/// A server address as given (`nats://user:password@host`, or
/// `user:password@host` without a scheme) with its password or token as
/// `***`, whatever their length: for a message that quotes an address it
/// could not use.
pub fn hide_credentials(server: &str) -> Cow<'_, str> {
    if server.contains("://") {
        return match hide_credentials_in(server.as_bytes(), false) {
            Some(hidden) => Cow::Owned(String::from_utf8_lossy(&hidden).into_owned()),
            None => Cow::Borrowed(server),
        };
    }
    let url = format!("nats://{server}");
    match hide_credentials_in(url.as_bytes(), false) {
        Some(hidden) => {
            Cow::Owned(String::from_utf8_lossy(&hidden["nats://".len()..]).into_owned())
        }
        None => Cow::Borrowed(server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("p%40ss%3Aword"), "p@ss:word");
        assert_eq!(percent_decode("plain%"), "plain%");
    }

    #[test]
    fn a_comma_in_a_password_does_not_split_the_list() {
        assert_eq!(
            split_servers("nats://alice:pa,ss@host:4222"),
            ["nats://alice:pa,ss@host:4222"]
        );
        assert_eq!(
            split_servers("nats://a:x,y@h1:1, tls://b:z@h2:2,h3:3"),
            ["nats://a:x,y@h1:1", " tls://b:z@h2:2", "h3:3"]
        );
        assert_eq!(split_servers("a:1,b:2"), ["a:1", "b:2"]);
    }

    #[test]
    fn credentials_are_the_password_or_the_token() {
        let text = "nats://ana:pw@h:1, tls://tok@h2 and http://h3";
        let found: Vec<&str> = credentials(text.as_bytes(), true)
            .map(|range| &text[range])
            .collect();
        assert_eq!(found, ["pw", "tok"]);
        assert_eq!(next_url(text.as_bytes(), 1), Some(19));
    }
}
