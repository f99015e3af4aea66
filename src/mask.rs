//! Secrets never reach the terminal.
//!
//! Everything `publish` and `listen` print goes through one function,
//! [`mask`], at one place: the [`Masked`] writer that wraps their stdout and
//! their stderr (the library's [`Notes`](crate::Notes) among them).
//! It hides:
//!
//! - the password of any URL with credentials, `scheme://user:password@` →
//!   `scheme://user:***@`, and the token of `scheme://token@` → `scheme://***@`;
//! - the secrets of this run, wherever they occur: the values of
//!   `--password` and `--token`, of `NATS_PASSWORD` and `NATS_TOKEN`, and
//!   the passwords and tokens of the URLs on the command line and in
//!   `NATS_URL`. They are read from the raw command line
//!   ([`register_process_secrets`]) before clap parses it, since clap's own
//!   errors repeat what was typed;
//! - the password and token of a natscli context (`--context`), registered
//!   once the context is read ([`register_secrets`]).
//!
//! Lines are masked whole: the writer holds a line until its end has been
//! written, so a secret is never split across two writes.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::OnceLock;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// The secrets of this run, longest first.
static SECRETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// Secrets learnt after parsing (a natscli context's password and token),
/// longest first.
static LATER_SECRETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// Adds secrets that do not come from the command line or environment: a
/// natscli context's password and token. Once per process; later calls do
/// nothing (a process reads one context).
pub fn register_secrets<'a>(secrets: impl IntoIterator<Item = &'a str>) {
    LATER_SECRETS.get_or_init(|| {
        let mut secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|secret| !secret.is_empty())
            .map(|secret| secret.as_bytes().to_vec())
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        secrets
    });
}

/// Collects the secrets of this process from its command line and
/// environment, once; later calls do nothing. Call it before parsing.
pub fn register_process_secrets() {
    SECRETS.get_or_init(|| secrets_of(std::env::args_os().skip(1), |name| std::env::var_os(name)));
}

/// Hides passwords, tokens and this run's secrets in `text` (see the module
/// docs). Borrows `text` when there is nothing to hide, which is nearly
/// always: the common case allocates nothing.
pub fn mask(text: &[u8]) -> Cow<'_, [u8]> {
    let masked = mask_with(text, SECRETS.get().map_or(&[][..], Vec::as_slice));
    match LATER_SECRETS.get() {
        None => masked,
        Some(later) => match masked {
            Cow::Borrowed(text) => mask_with(text, later),
            Cow::Owned(text) => Cow::Owned(mask_with(&text, later).into_owned()),
        },
    }
}

/// [`mask`] for text: the same masking, on a `str`.
pub fn mask_str(text: &str) -> Cow<'_, str> {
    match mask(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
        ),
    }
}

/// A writer that masks every line it passes on. Buffered (`publish`'s
/// stdout is line buffered, `listen`'s holds up to 64 KiB of events), it
/// writes complete lines only, except on [`flush`](Write::flush), which
/// writes out everything it holds and flushes the writer beneath.
pub struct Masked<W: Write> {
    inner: W,
    buf: Vec<u8>,
    /// Write out the complete lines once this much is held; 0: at every line's end.
    capacity: usize,
    /// Set when a write beneath failed: every later write and flush fails
    /// too, so that no flush says lines are out that were lost (`listen`
    /// acks an event once the flush after its line succeeded).
    failed: Option<io::ErrorKind>,
}

impl<W: Write> Masked<W> {
    /// Holds up to `capacity` bytes before writing out the complete lines.
    pub fn with_capacity(capacity: usize, inner: W) -> Masked<W> {
        Masked {
            inner,
            buf: Vec::with_capacity(capacity),
            capacity,
            failed: None,
        }
    }

    /// Writes every line out as soon as it is complete, as stderr and a
    /// terminal's stdout do.
    pub fn line_buffered(inner: W) -> Masked<W> {
        Masked {
            inner,
            buf: Vec::new(),
            capacity: 0,
            failed: None,
        }
    }

    /// Writes out, masked, the first `len` bytes held.
    fn write_out(&mut self, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let result = self.inner.write_all(&mask(&self.buf[..len]));
        self.buf.drain(..len);
        if let Err(err) = &result {
            self.failed = Some(err.kind());
        }
        result
    }

    /// The earlier failure, if a write beneath failed.
    fn check(&self) -> io::Result<()> {
        match self.failed {
            Some(kind) => Err(kind.into()),
            None => Ok(()),
        }
    }

    /// Writes out the complete lines held.
    fn write_lines(&mut self) -> io::Result<()> {
        match self.buf.iter().rposition(|&b| b == b'\n') {
            Some(end) => self.write_out(end + 1),
            None => Ok(()),
        }
    }
}

impl<W: Write> Write for Masked<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.buf.extend_from_slice(data);
        let ready = if self.capacity == 0 {
            data.contains(&b'\n')
        } else {
            self.buf.len() >= self.capacity
        };
        if ready {
            self.write_lines()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.write_out(self.buf.len())?;
        let flushed = self.inner.flush();
        if let Err(err) = &flushed {
            self.failed = Some(err.kind());
        }
        flushed
    }
}

impl<W: Write> Drop for Masked<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The secrets in a command line (without the program's name) and the
/// environment, longest first.
fn secrets_of(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Vec<Vec<u8>> {
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut secrets: Vec<String> = Vec::new();
    let mut servers: Vec<String> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let next = args.get(i + 1).cloned();
        match arg.as_str() {
            "--password" | "--token" => secrets.extend(next),
            "-s" | "--server" | "--url" => servers.extend(next),
            _ => {
                for flag in ["--password=", "--token="] {
                    secrets.extend(arg.strip_prefix(flag).map(str::to_owned));
                }
                for flag in ["--server=", "--url=", "-s=", "-s"] {
                    if let Some(value) = arg.strip_prefix(flag) {
                        servers.push(value.to_owned());
                        break;
                    }
                }
            }
        }
        // A URL anywhere, even where it doesn't belong (a forgotten -s).
        secrets.extend(url_secrets(arg));
    }
    servers.extend(env("NATS_URL").map(|url| url.to_string_lossy().into_owned()));
    for list in &servers {
        for server in crate::connection::split_servers(list) {
            let server = server.trim();
            if server.contains("://") {
                secrets.extend(url_secrets(server));
            } else {
                // The client reads `user:password@host:port` as a nats:// URL.
                secrets.extend(url_secrets(&format!("nats://{server}")));
            }
        }
    }
    for name in ["NATS_PASSWORD", "NATS_TOKEN"] {
        secrets.extend(env(name).map(|value| value.to_string_lossy().into_owned()));
    }
    // The client decodes %XX escapes of a URL: the decoded secret is one too.
    let decoded: Vec<String> = secrets
        .iter()
        .map(|secret| crate::connection::percent_decode(secret))
        .collect();
    let mut secrets: Vec<Vec<u8>> = secrets
        .into_iter()
        .chain(decoded)
        .filter(|secret| !secret.is_empty())
        .map(String::into_bytes)
        .collect();
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    secrets
}

/// The passwords and tokens of the URLs in one argument, which may hold a
/// comma-separated list: each URL's credentials end at the last `@` before
/// the next URL.
fn url_secrets(arg: &str) -> Vec<String> {
    credentials(arg.as_bytes(), false)
        .map(|range| arg[range].to_owned())
        .collect()
}

/// The byte ranges of the passwords and tokens of the URLs in `text`, in
/// order and apart: after each `://`, up to the last `@` before the next URL
/// ([`next_url`]; in a line of text, also before the next whitespace or
/// quote), the part after the first `:`, or all of it when there is no `:`.
fn credentials(text: &[u8], in_line: bool) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let sep = find(text, b"://", from)?;
            let start = sep + 3;
            from = start;
            let mut end = next_url(text, start).unwrap_or(text.len());
            if in_line && let Some(stop) = text[start..end].iter().position(|&b| ends_url(b)) {
                end = start + stop;
            }
            let Some(at) = text[start..end].iter().rposition(|&b| b == b'@') else {
                continue;
            };
            let userinfo = start..start + at;
            // The next URL begins after these credentials: ranges never overlap.
            from = userinfo.end;
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
pub(crate) fn next_url(text: &[u8], from: usize) -> Option<usize> {
    let mut search = from;
    loop {
        let sep = find(text, b"://", search)?;
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

/// The first position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        let at = i + haystack[i..=haystack.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        if &haystack[at + 1..at + needle.len()] == rest {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// [`mask`] with the secrets given: every secret replaced by `***`, then the
/// credentials of every URL.
fn mask_with<'a>(text: &'a [u8], secrets: &[Vec<u8>]) -> Cow<'a, [u8]> {
    // The common case first, fast: text (valid UTF-8, where the standard
    // library's substring search is vectorised) without a secret or a `://`.
    let as_str = std::str::from_utf8(text).ok();
    let contains = |needle: &[u8]| match (as_str, std::str::from_utf8(needle)) {
        (Some(text), Ok(needle)) => text.contains(needle),
        _ => find(text, needle, 0).is_some(),
    };
    let has_secret = secrets.iter().any(|secret| contains(secret));
    let has_credentials =
        contains(b"://") && credentials(text, true).any(|range| &text[range] != MASK.as_bytes());
    if !has_secret && !has_credentials {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_vec();
    for secret in secrets {
        out = replace_all(&out, secret);
    }
    let mut masked = Vec::with_capacity(out.len());
    let mut copied = 0;
    for range in credentials(&out, true) {
        masked.extend_from_slice(&out[copied..range.start]);
        masked.extend_from_slice(MASK.as_bytes());
        copied = range.end;
    }
    masked.extend_from_slice(&out[copied..]);
    Cow::Owned(masked)
}

/// `text` with every `secret` replaced by `***`.
fn replace_all(text: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    while let Some(at) = find(text, secret, copied) {
        out.extend_from_slice(&text[copied..at]);
        out.extend_from_slice(MASK.as_bytes());
        copied = at + secret.len();
    }
    out.extend_from_slice(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str, secrets: &[&str]) -> String {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        String::from_utf8(mask_with(text.as_bytes(), &secrets).into_owned()).unwrap()
    }

    fn secrets(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        secrets_of(args.iter().map(OsString::from), |name| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        })
        .into_iter()
        .map(|s| String::from_utf8(s).unwrap())
        .collect()
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
    }

    #[test]
    fn masks_registered_secrets_wherever_they_are() {
        assert_eq!(
            masked("error: unexpected argument '-Sup3r' found", &["-Sup3r"]),
            "error: unexpected argument '***' found"
        );
        assert_eq!(masked("a b c, a b", &["a b"]), "*** c, ***");
    }

    #[test]
    fn leaves_plain_text_borrowed() {
        let text = b"Received event #1, with data: {\"url\":\"http://x\"}\n";
        assert!(matches!(
            mask_with(text, &[b"zz".to_vec()]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn finds_the_secrets_of_a_command_line() {
        let found = secrets(
            &[
                "--password",
                "-Sup3r",
                "--token=t0k",
                "-s",
                "nats://alice:pa,ss@host:4222,nats://bob:b@h",
                "nats://x:a%40b@h",
                "--url=carol:c0@h:1",
            ],
            &[("NATS_PASSWORD", "envpw"), ("NATS_TOKEN", "envtok")],
        );
        for secret in [
            "-Sup3r", "t0k", "pa,ss", "b", "a%40b", "a@b", "c0", "envpw", "envtok",
        ] {
            assert!(found.iter().any(|s| s == secret), "{secret} in {found:?}");
        }
        assert!(!found.iter().any(|s| s == "pa"), "{found:?}");
    }

    #[test]
    fn writes_whole_lines_and_everything_on_flush() {
        let mut out = Masked::with_capacity(8, Vec::new());
        out.write_all(b"nats://a:se").unwrap();
        out.write_all(b"cret@h done\nnext").unwrap();
        assert_eq!(out.inner, b"nats://a:***@h done\n");
        out.flush().unwrap();
        assert_eq!(out.inner, b"nats://a:***@h done\nnext");
        let mut line = Masked::line_buffered(Vec::new());
        line.write_all(b"one\ntw").unwrap();
        assert_eq!(line.inner, b"one\n");
    }
}
