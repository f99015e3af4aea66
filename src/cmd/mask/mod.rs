//! Secrets never reach the terminal.
//!
//! Everything the commands print goes through one function, [`mask`], at
//! one place: the [`Masked`] writer that wraps their stdout and their
//! stderr (the library's [`Notes`](nats_course_toolkit::Notes) among them).
//! It hides:
//!
//! - the password of any URL with credentials, `scheme://user:password@` →
//!   `scheme://user:***@`, and the token of `scheme://token@` →
//!   `scheme://***@`, whatever their length;
//! - the secrets of this run, wherever they occur (with the two exceptions
//!   below): the values of `--password` and `--token`, of `NATS_PASSWORD`
//!   and `NATS_TOKEN`, and the passwords and tokens of the URLs on the
//!   command line and in `NATS_URL`. They are read from the raw command
//!   line ([`register_process_secrets`]) before clap parses it, since
//!   clap's own errors repeat what was typed;
//! - the secrets of a natscli context (`--context`): its password, its
//!   token and those of its url, registered as soon as its file is read,
//!   before anything about it can be printed ([`register_secrets`],
//!   [`register_servers`]); and the NKey seed of a credentials file
//!   ([`register_creds`]).
//!
//! Each secret is also looked for as the commands print it: as JSON writes
//! it inside a string (`pa\"ss`), and with its control characters escaped
//! (`a\u001bb`), as event data is shown.
//!
//! # Where a secret counts
//!
//! A secret of typical length (6 bytes or more) is hidden wherever it
//! occurs, even inside a word. Two exceptions keep numbers, times and JSON
//! intact:
//!
//! - A **short secret** (fewer than 6 bytes: a password `2`, a token `20`)
//!   is hidden only where it is a whole word: at the start of the line or
//!   after whitespace (also written as `\n`, `\r`, `\t`), a quote
//!   (`'`, `"`, `` ` ``) or `=`, and at the end of the line or before
//!   whitespace, a quote or a `\`. So clap's `invalid value '2'` and
//!   `--token=20` are masked, but not `"seq":2`, `#20`, `price":20}` or
//!   `2024-05-01T12:20:02Z`. A number that is a word of its own (a table's
//!   cell `2`) is masked: the rule errs on the side of hiding.
//! - In a **line that is JSON** (`--json`), secrets are hidden only inside
//!   its strings, by the same rule, so that `***` stays inside the quotes,
//!   and in its numbers: a number that holds a secret of typical length
//!   becomes the string `"***"`. A line that was JSON stays JSON whatever
//!   the secret: a string whose masking would break one of its escapes
//!   becomes `"***"` whole. A "secret" that spans the JSON's own syntax is
//!   not in the data, and is left alone.
//!
//! A URL's password or token is the exception to the exceptions: it is
//! hidden by its place (between `://user:` and `@`), whatever its length.
//!
//! Lines are masked whole: the writer holds a line until its end has been
//! written, so a secret is never split across two writes. The work is
//! linear in the output: every search only moves forward.

mod json;
mod secrets;
mod text;
mod writer;

use std::borrow::Cow;
use std::sync::{Once, PoisonError, RwLock};

pub use writer::Masked;

/// What a secret is replaced with.
pub use nats_course_toolkit::server_url::{MASK, hide_credentials};

/// The secrets of this run, in every form they are printed in, longest first.
static SECRETS: RwLock<Vec<Vec<u8>>> = RwLock::new(Vec::new());

/// Whether the command line's and environment's secrets were collected.
static PROCESS_SECRETS: Once = Once::new();

/// Adds secrets that do not come from the command line or environment: a
/// natscli context's password and token. Empty ones are left out.
pub fn register_secrets<'a>(secrets: impl IntoIterator<Item = &'a str>) {
    add(secrets.into_iter().map(str::to_owned));
}

/// Adds the passwords and tokens of a server list, as `--server` takes it
/// (a natscli context's `url`).
pub fn register_servers(list: &str) {
    add(secrets::of_servers(list));
}

/// Adds the NKey seed of a credentials file's contents.
pub fn register_creds(creds: &[u8]) {
    add(secrets::of_creds(creds));
}

/// Collects the secrets of this process from its command line and
/// environment, once; later calls do nothing. Call it before parsing.
pub fn register_process_secrets() {
    PROCESS_SECRETS.call_once(|| {
        add(secrets::of_process(std::env::args_os().skip(1), |name| {
            std::env::var_os(name)
        }));
    });
}

fn add(new: impl IntoIterator<Item = String>) {
    let new: Vec<Vec<u8>> = new
        .into_iter()
        .filter(|secret| !secret.is_empty())
        .flat_map(|secret| secrets::forms(&secret))
        .collect();
    if new.is_empty() {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    all.extend(new);
    all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    all.dedup();
}

/// Hides passwords, tokens and this run's secrets in `text` (see the module
/// docs). Borrows `text` when there is nothing to hide, which is nearly
/// always: the common case allocates nothing.
pub fn mask(text: &[u8]) -> Cow<'_, [u8]> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    mask_with(text, &secrets)
}

/// [`mask`] for text: the same masking, on a `str`.
pub fn mask_str(text: &str) -> Cow<'_, str> {
    match mask(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(into_string(bytes)),
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// [`mask`] with the secrets given, longest first.
fn mask_with<'a>(text: &'a [u8], secrets: &[Vec<u8>]) -> Cow<'a, [u8]> {
    // All of it at once first: nearly always there is nothing to hide. (A
    // line's ends are whitespace, so this finds all that the lines would.)
    if let Cow::Borrowed(_) = text::mask_text(text, secrets) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|&b| b == b'\n') {
        let (body, end) = match line.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        match text::mask_text(body, secrets) {
            Cow::Borrowed(body) => out.extend_from_slice(body),
            Cow::Owned(_) if json::is_json(body) => {
                out.extend_from_slice(&json::mask_json(body, secrets));
            }
            Cow::Owned(masked) => out.extend_from_slice(&masked),
        }
        out.extend_from_slice(end);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str, secrets: &[&str]) -> String {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        String::from_utf8(mask_with(text.as_bytes(), &secrets).into_owned()).unwrap()
    }

    #[test]
    fn each_line_is_masked_by_its_own_kind() {
        let text = "Received event #2, with data: {\"pw\":\"s3cr3t!\"}\n\
                    {\"seq\":2,\"data\":{\"pw\":\"s3cr3t!\",\"n\":1s3cr3t!}}\n\
                    {\"seq\":2,\"data\":{\"pw\":\"s3cr3t!\",\"n\":123456789}}\n";
        assert_eq!(
            masked(text, &["s3cr3t!", "2345678"]),
            "Received event #2, with data: {\"pw\":\"***\"}\n\
             {\"seq\":2,\"data\":{\"pw\":\"***\",\"n\":1***}}\n\
             {\"seq\":2,\"data\":{\"pw\":\"***\",\"n\":\"***\"}}\n"
        );
    }

    #[test]
    fn a_servers_password_is_hidden_in_what_quotes_it() {
        assert_eq!(hide_credentials("u:2@bad host:1"), "u:***@bad host:1");
        assert_eq!(
            hide_credentials("nats://u:p w\"@h:1,tls://t@h"),
            "nats://u:***@h:1,tls://***@h"
        );
        assert!(matches!(hide_credentials("bad host:1"), Cow::Borrowed(_)));
    }
}
