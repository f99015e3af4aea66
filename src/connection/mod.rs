//! Connecting to NATS.
//!
//! The course's `nats.connect('ticketing', 'abc', { url: 'http://localhost:4222' })`
//! named a cluster id, a client id and a URL. JetStream has no cluster id to
//! match; the client id becomes the connection's name, which the server shows
//! on its monitoring port (`/connz`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use async_nats::{Client, ConnectOptions, Event, ServerAddr, rustls};

use crate::server_url::percent_decode;

mod urls;

use crate::notes::Notes;
use crate::said::{Mention, Said};
pub use urls::parse_servers;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// One or more servers; the client fails over between them.
    pub servers: Vec<ServerAddr>,
    /// The connection's name, NATS Streaming's client id.
    pub client_id: String,
    /// How long to wait for each server before giving up.
    pub connect_timeout: Duration,
    /// Who we are to the server.
    pub auth: Auth,
    /// TLS certificates, when the server asks for TLS.
    pub tls: Tls,
    /// Where lost and restored connections, and warnings, are said.
    pub notes: Notes,
}

/// A secret: shown as `***` by `Debug`, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How the client proves who it is. Credentials inside the URL
/// (`nats://user:password@host`) work too, whatever this says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (or only those in the URL).
    #[default]
    None,
    /// `--user` and `--password`.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// `--token`.
    Token(Secret),
    /// `--creds FILE`: a JWT and NKey seed, as `nsc` writes them.
    Creds(PathBuf),
}

/// TLS settings: `--tls-ca`, `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// A CA certificate (PEM) to trust for the server's certificate.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub cert_and_key: Option<(PathBuf, PathBuf)>,
}

impl ConnectConfig {
    /// The servers as the user can read them, passwords masked.
    pub fn display_servers(&self) -> String {
        let urls: Vec<String> = self
            .servers
            .iter()
            .map(|addr| crate::server_url::hide_credentials(addr.as_url_str()).into_owned())
            .collect();
        urls.join(",")
    }

    /// Connects, or explains how to get a server when none answers.
    ///
    /// Once connected, the client reconnects by itself when the connection
    /// drops (a restarted NATS pod, a broken port-forward); the lost and the
    /// restored connection are reported on stderr.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let url = self.display_servers();
        let lost = Arc::new(AtomicBool::new(false));
        let notes = self.notes.clone();
        let options = self.credentials().await?;
        let options = options
            .name(&self.client_id)
            .connection_timeout(self.connect_timeout)
            .reconnect_delay_callback(reconnect_delay)
            .event_callback(move |event| {
                let (url, lost, notes) = (url.clone(), Arc::clone(&lost), notes.clone());
                async move { report(&event, &url, &lost, &notes) }
            });
        let client = options
            .connect(self.servers.as_slice())
            .await
            .map_err(|err| self.connect_error(err))?;
        // Every command works on stored events: without JetStream there is nothing to do.
        if !client.server_info().jetstream {
            return Err(crate::channel::no_jetstream(&self.display_servers()));
        }
        Ok(client)
    }

    /// Connect options carrying the credentials and TLS files.
    async fn credentials(&self) -> anyhow::Result<ConnectOptions> {
        let mut options = match &self.auth {
            Auth::None => self.url_credentials(),
            Auth::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user.clone(), password.0.clone())
            }
            Auth::Token(token) => ConnectOptions::with_token(token.0.clone()),
            Auth::Creds(path) => {
                let cannot_read = |err: &dyn std::fmt::Display| {
                    Said::text(format!(
                        "cannot read the credentials file {}",
                        path.display()
                    ))
                    .mention(Mention::Creds, "")
                    .and(format!(": {err}"))
                };
                let creds = read_at_most(path, MAX_CREDS_BYTES, CREDS_LIMIT)
                    .map_err(|err| cannot_read(&err))?;
                let creds = String::from_utf8(creds).map_err(|err| cannot_read(&err))?;
                let options =
                    ConnectOptions::with_credentials(&creds).map_err(|err| cannot_read(&err))?;
                warn_if_others_can_read(path, &self.notes);
                options
            }
        };
        if let Some(ca) = &self.tls.ca {
            readable(ca, Mention::TlsCa)?;
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls.cert_and_key {
            readable(cert, Mention::TlsCert)?;
            readable(key, Mention::TlsKey)?;
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }

    /// Credentials written into a server URL: `nats://user:password@host`
    /// or `nats://token@host`. The client does not read them by itself.
    fn url_credentials(&self) -> ConnectOptions {
        let Some(addr) = self.servers.iter().find(|addr| addr.username().is_some()) else {
            return ConnectOptions::new();
        };
        let user = percent_decode(addr.username().unwrap_or_default());
        match addr.password() {
            Some(password) => {
                ConnectOptions::with_user_and_password(user, percent_decode(password))
            }
            None => ConnectOptions::with_token(user),
        }
    }

    fn connect_error(&self, err: async_nats::ConnectError) -> anyhow::Error {
        use async_nats::ConnectErrorKind as Kind;
        let url = self.display_servers();
        match err.kind() {
            Kind::AuthorizationViolation | Kind::Authentication => {
                anyhow!(
                    "could not connect to NATS at {url}: authorization failed; check your credentials"
                )
            }
            Kind::Io if tls_failure(&err).is_some() => {
                let failed = Said::text(format!(
                    "could not connect to NATS at {url}: TLS failed ({}): ",
                    tls_failure(&err)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ));
                match tls_failure(&err) {
                    Some(rustls::Error::AlertReceived(_)) => failed
                        .and(
                            "the server refused the TLS handshake; it may require a client \
                             certificate: ",
                        )
                        .mention(
                            Mention::ClientCertificate,
                            "give a client certificate and its key",
                        ),
                    _ => failed
                        .and("the server's TLS certificate is not trusted; ")
                        .mention(Mention::TrustedCa, "give the CA that signed it"),
                }
                .into()
            }
            // The server answered, and refused: a CONNECT longer than its
            // max_control_line (a huge client id or password), say.
            Kind::Io if server_refusal(&err).is_some() => {
                let refusal = server_refusal(&err)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let advice = if refusal.contains("maximum control line") {
                    ": the client id and credentials are longer than the server takes \
                     (its max_control_line, 4 KiB by default)"
                } else {
                    ""
                };
                anyhow!(
                    "could not connect to NATS at {url}: the server refused the connection ({refusal}){advice}"
                )
            }
            Kind::Io if refused(&err) => anyhow!(
                "could not connect to NATS at {url}: connection refused (nothing listens there). {}",
                no_server_advice()
            ),
            Kind::TimedOut | Kind::Io | Kind::MaxReconnects => anyhow!(
                "could not connect to NATS at {url}: no server answered within {}. {}",
                crate::duration::format(self.connect_timeout),
                no_server_advice()
            ),
            _ => anyhow!("could not connect to NATS at {url}: {err}"),
        }
    }
}

/// Whether nothing listened at the address: the connection was refused at
/// once, rather than left unanswered.
fn refused(err: &async_nats::ConnectError) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// How to get a server: `make server` only where it means something, in
/// the toolkit's own folder.
fn no_server_advice() -> String {
    let in_project = Path::new("scripts/nats-server.sh").is_file();
    format!(
        "Start a server with `nats-server -js`{}, or forward your cluster's with \
         `kubectl port-forward <nats pod> 4222:4222`",
        if in_project {
            " (here: `make server`)"
        } else {
            ""
        }
    )
}

/// The TLS error under a connect error, if a TLS handshake failed.
fn tls_failure(err: &async_nats::ConnectError) -> Option<&rustls::Error> {
    let io = std::error::Error::source(err)?.downcast_ref::<std::io::Error>()?;
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The server's `-ERR` under a connect error, if it refused the connection.
fn server_refusal(err: &async_nats::ConnectError) -> Option<&async_nats::ServerError> {
    std::error::Error::source(err)?.downcast_ref::<async_nats::ServerError>()
}

/// The largest credentials file read: a JWT and a seed take about 1 KiB.
pub const MAX_CREDS_BYTES: u64 = 1024 * 1024;

/// Why a credentials file may not be larger, for the error.
pub const CREDS_LIMIT: &str = "the most a credentials file may be";

/// The largest certificate or key file read.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a whole file of at most `limit` bytes. The size is what a read
/// gets, not what the file system says (`/dev/zero` says 0), and no more
/// than `limit + 1` bytes are ever read. `why` ends the error that names the
/// limit: "the most a credentials file may be".
pub fn read_at_most(path: &Path, limit: u64, why: &str) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    read_bounded(file, &path.display().to_string(), limit, why)
}

/// [`read_at_most`] for any reader (standard input, say), named `what` in
/// its errors.
pub fn read_bounded(
    reader: impl std::io::Read,
    what: &str,
    limit: u64,
    why: &str,
) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read {what}: {err}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{what} is larger than {}, {why}", size(limit)));
    }
    Ok(bytes)
}

/// A size as the limits are written: `1 MiB`, `64 KiB`, `100 bytes`.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// Warns, as ssh does for keys, when others may read the credentials file:
/// its seed is a secret.
fn warn_if_others_can_read(path: &Path, notes: &Notes) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if metadata.is_file() && mode & 0o077 != 0 {
        let can = if mode & 0o044 != 0 { "read" } else { "changed" };
        notes.say(format_args!(
            "Warning: the credentials file {file} can be {can} by other users (mode {mode:03o}); \
             run chmod 600 {file}",
            file = path.display()
        ));
    }
}

/// Fails unless `path` is a readable file, mentioning the setting that gave it.
fn readable(path: &Path, setting: Mention) -> anyhow::Result<()> {
    std::fs::File::open(path).map(drop).map_err(|err| {
        Said::text(format!("cannot read {}", path.display()))
            .mention(setting, "")
            .and(format!(": {err}"))
            .into()
    })
}

/// How long closing a connection may take (sending what it still buffers).
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Closes the connection, sending what the client still buffers (acks,
/// events), for at most [`CLOSE_WAIT`]: a server that is gone does not hold
/// anyone up.
pub async fn close(client: Client) {
    let _ = tokio::time::timeout(CLOSE_WAIT, client.drain()).await;
}

/// How many times `client` has connected so far: a change means the
/// connection dropped and came back, and with it whatever the server held for
/// us (pull requests, pending acks) is gone.
pub fn connect_count(client: &Client) -> u64 {
    client.statistics().connects.load(Ordering::Relaxed)
}

/// Waits between reconnect attempts: at once the first time, then a little
/// longer each time, at most 2 s, so a restarted server is found quickly.
fn reconnect_delay(attempts: usize) -> Duration {
    let steps = attempts.saturating_sub(1).min(8) as u32;
    Duration::from_millis(250) * steps
}

fn report(event: &Event, url: &str, lost: &AtomicBool, notes: &Notes) {
    match event {
        Event::Disconnected => {
            lost.store(true, Ordering::Relaxed);
            notes.say(format_args!(
                "Lost the connection to NATS at {url}; reconnecting..."
            ));
        }
        Event::Connected if lost.swap(false, Ordering::Relaxed) => {
            notes.say(format_args!("Reconnected to NATS at {url}"));
        }
        Event::ServerError(err) => notes.say(format_args!("NATS server error: {err}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_seeds_http_url_and_lists() {
        let servers = parse_servers("http://localhost:4222, nats://127.0.0.1:4223").unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].host(), "localhost");
        assert_eq!(servers[0].port(), 4222);
        assert_eq!(servers[1].port(), 4223);
    }

    #[test]
    fn rejects_bad_urls_and_ports() {
        for bad in [
            "nats://localhost:99999",
            "nats://:4222:x",
            "localhost:4222,",
            "nats://host:0",
        ] {
            assert!(parse_servers(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn a_comma_in_a_password_stays_in_the_server() {
        let servers = parse_servers("nats://alice:pa,ss@host:4222").unwrap();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].password(), Some("pa,ss"));
    }

    #[test]
    fn sizes_read_as_limits() {
        assert_eq!(size(1024 * 1024), "1 MiB");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
