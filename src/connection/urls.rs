//! Server URLs as learners type them: `nats://host:port`, the course's
//! `http://localhost:4222`, `host:port`, comma-separated lists, and
//! credentials inside the URL.

use async_nats::ServerAddr;

use crate::mask;

/// Parses `--server`: `nats://host:port`, the seed's `http://localhost:4222`,
/// `host:port`, or a comma-separated list of those ([`split_servers`]).
pub fn parse_servers(text: &str) -> Result<Vec<ServerAddr>, String> {
    let mut servers = Vec::new();
    // An address quoted in an error shows no password, however short.
    let shown = |part: &str| mask::hide_credentials(part).into_owned();
    for part in split_servers(text).into_iter().map(str::trim) {
        if part.is_empty() {
            let list: Vec<String> = split_servers(text).into_iter().map(shown).collect();
            return Err(format!(
                "'{}' has an empty server in its list",
                list.join(",")
            ));
        }
        // The course connected with http://localhost:4222. NATS speaks its own
        // protocol, not HTTP, so the scheme is only a spelling of nats://.
        let url = if let Some(rest) = part.strip_prefix("http://") {
            format!("nats://{rest}")
        } else if let Some(rest) = part.strip_prefix("https://") {
            format!("tls://{rest}")
        } else {
            part.to_owned()
        };
        let addr: ServerAddr = url
            .parse()
            .map_err(|err| format!("'{}' is not a NATS server URL: {err}", shown(part)))?;
        if addr.port() == 0 {
            return Err(format!("'{}' has port 0", shown(part)));
        }
        servers.push(addr);
    }
    Ok(servers)
}

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
    let end = mask::next_url(text.as_bytes(), start).unwrap_or(text.len());
    text[start..end].rfind('@').map_or(0, |at| start + at + 1)
}

/// Decodes `%XX` escapes, as a URL's user and password carry them.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
