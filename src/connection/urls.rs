//! `--server` as learners type it, turned into the addresses the client
//! connects to (the URLs themselves are parsed in [`crate::server_url`]).

use async_nats::ServerAddr;

use crate::server_url::split_servers;

/// Parses `--server`: `nats://host:port`, the seed's `http://localhost:4222`,
/// `host:port`, or a comma-separated list of those ([`split_servers`]).
pub fn parse_servers(text: &str) -> Result<Vec<ServerAddr>, String> {
    let mut servers = Vec::new();
    // An address quoted in an error shows no password, however short.
    let shown = |part: &str| crate::server_url::hide_credentials(part).into_owned();
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
