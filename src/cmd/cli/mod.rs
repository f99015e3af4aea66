//! What the three command lines share: the flags every binary has (server,
//! credentials, context: [`ConnectArgs`]; the channel: [`ChannelArgs`]),
//! the value parsers of single flags (`values.rs`, `files.rs`), parsing,
//! and usage errors. Each command's own flags, and the one step that turns
//! them into its typed config, are in its folder, as cargo keeps a
//! command's surface in one place: `publish/args.rs`, `listen/args.rs`,
//! `status/args.rs`. Every check of a single flag is its value parser;
//! checks across flags live in `into_config`. Both end in a clap error, so
//! bad input always exits with status 2 and one clear line.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::ServerAddr;
use clap::builder::{PathBufValueParser, TypedValueParser as _};
use clap::error::ContextValue;
use clap::{Args, Parser, ValueHint};

use crate::mask::{self, Masked};
use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::connection::{
    self, Auth, ConnectConfig, MAX_CREDS_BYTES, MAX_PEM_BYTES, Secret, Tls,
};
use nats_course_toolkit::duration;
use nats_course_toolkit::events::TICKET_CREATED;
use nats_course_toolkit::notes::Notes;

pub mod completions;
mod context;
mod files;
pub mod said;
pub(crate) mod values;

use context::parse_context;
pub use context::{MAX_CONTEXT_BYTES, NatsContext};
use files::{ca_file, cert_file, creds_file, key_file};
pub use said::{error_line, stderr_notes, stderr_notes_for};
pub use values::Servers;
pub(crate) use values::{
    consumer_safe, duration_in, parse_client_id, parse_name, parse_servers, watchable,
};

/// The longest queue group, durable name or client id, in bytes: the
/// longest consumer name nats-server takes (`JSMaxNameLen`).
/// The most events one `--count` (publish, listen) or `--last` (status) may ask for.
pub const MAX_COUNT: u64 = 1_000_000_000;

pub const MAX_NAME_BYTES: usize = 255;

/// `publish --read-timeout`: from 100ms to 1h.
pub const READ_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// `--connect-timeout`: from 100ms to 1h.
pub const CONNECT_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// `--ack-wait`: from 100ms (shorter redelivers before a listener could
/// ack) to 24h.
pub const ACK_WAIT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(24 * 3600));

/// `--delay`: from 1ms to 24h.
pub const DELAY_RANGE: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(24 * 3600));

/// `--since`: from 1ms to 876000h, 100 years back.
pub const SINCE_RANGE: (Duration, Duration) = (
    Duration::from_millis(1),
    Duration::from_secs(876_000 * 3600),
);

/// How much of a bad value a usage error repeats, in characters.
const ECHO_CHARS: usize = 80;

/// Where the server is when neither a flag, `NATS_URL` nor a context says.
pub const DEFAULT_SERVER: &str = "nats://localhost:4222";

/// Flags every binary shares: where the server is and who we are.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// NATS server URL; nats://localhost:4222 unless a context gives one.
    /// The course's http://localhost:4222 works too, as does a
    /// comma-separated list. Forward a cluster's server with
    /// `kubectl port-forward <nats pod> 4222:4222`.
    #[arg(
        short = 's',
        long = "server",
        visible_alias = "url",
        env = "NATS_URL",
        hide_env_values = true,
        value_name = "URL",
        value_hint = ValueHint::Url,
        value_parser = parse_servers
    )]
    pub server: Option<Servers>,

    /// Take the server URL and credentials from this natscli context
    /// (~/.config/nats/context/NAME.json); without it, from the one `nats
    /// context select` chose. Flags and variables given win over it.
    #[arg(long, env = "NATS_CONTEXT", value_name = "NAME", value_parser = parse_context)]
    pub context: Option<NatsContext>,

    /// Client id, shown as the connection's name on the server's monitoring
    /// page. Defaults to `abc` for publish and 8 random hex characters for
    /// listen. At most 255 bytes.
    #[arg(long, env = "NATS_CLIENT_ID", value_name = "ID", value_parser = parse_client_id)]
    pub client_id: Option<String>,

    /// How long to wait for the server before giving up, e.g. 5s or 500ms
    /// (100ms to 1h).
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = duration_in(CONNECT_TIMEOUT_RANGE))]
    pub connect_timeout: Duration,

    /// User name, for servers that require one (with --password).
    #[arg(long, env = "NATS_USER", value_name = "NAME", requires = "password")]
    pub user: Option<String>,

    /// Password for --user. Prefer the NATS_PASSWORD variable: a flag shows in `ps`.
    /// It may start with '-'.
    #[arg(
        long,
        env = "NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        requires = "user",
        allow_hyphen_values = true
    )]
    pub password: Option<String>,

    /// Token, for servers that use token authentication. Prefer NATS_TOKEN.
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true, value_name = "TOKEN", conflicts_with_all = ["user", "creds"], allow_hyphen_values = true)]
    pub token: Option<String>,

    /// Credentials file (JWT and NKey seed), as `nsc` writes it; at most 1 MiB.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, conflicts_with = "user", value_parser = PathBufValueParser::new().try_map(creds_file))]
    pub creds: Option<PathBuf>,

    /// CA certificate (PEM) that signed the server's TLS certificate; at most 1 MiB.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, value_parser = PathBufValueParser::new().try_map(ca_file))]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate (PEM), for servers that verify clients (with
    /// --tls-key); at most 1 MiB.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "tls_key", value_parser = PathBufValueParser::new().try_map(cert_file))]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert; at most 1 MiB.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "tls_cert", value_parser = PathBufValueParser::new().try_map(key_file))]
    pub tls_key: Option<PathBuf>,

    /// Print this command's completion script for SHELL on stdout and exit;
    /// docs/flags.md says where each shell reads it.
    #[arg(long, value_name = "SHELL", value_enum)]
    pub completions: Option<completions::Shell>,
}

/// Flags of the commands that work on one channel: `publish` and `listen`.
#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// Channel (a JetStream subject) to publish on or listen to. At most 255
    /// bytes, no spaces or wildcards.
    #[arg(
        short = 'c',
        long,
        visible_alias = "subject",
        default_value = TICKET_CREATED,
        value_name = "NAME",
        value_parser = Channel::new
    )]
    pub channel: Channel,

    /// How many servers of a cluster keep a copy of the channel's events,
    /// when this command creates its stream (3 on a 3-node cluster; 1 to 5).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
}

/// Parses the command line, or exits: 0 for `--help` and `--version`, 2 with
/// one line on stderr for bad input (clap's tips folded into that line).
/// The secrets on the command line are noted first, so that no line
/// printed from here on shows them ([`crate::mask`]).
///
/// Two flags of [`ConnectArgs`] are answered here, for every binary that
/// flattens it: `--completions SHELL` prints the script and exits 0, and
/// `--context` takes the context `nats context select` chose when neither
/// the flag nor `NATS_CONTEXT` names one.
pub fn parse_or_exit<T: Parser>() -> T {
    mask::register_process_secrets();
    let mut command = T::command();
    let has = |command: &clap::Command, id: &str| command.get_arguments().any(|a| a.get_id() == id);
    let completing =
        std::env::args_os().any(|arg| arg.to_string_lossy().starts_with("--completions"));
    let selected = (has(&command, "context") && !completing)
        .then(context::selected)
        .flatten();
    let mut matches = command
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|err| exit_usage(err));
    if let Some(selected) = selected
        && matches.value_source("context").is_none()
        // A selected context that is gone is left out when the server is
        // named: `-s URL` works whatever context.txt says.
        && (context::exists(&selected) || matches.value_source("server").is_none())
    {
        // Read only when nothing else names a context, like clap's other
        // defaults: parsed again with it as the default, by a command not
        // yet built (clap's arguments cannot be changed after a parse).
        let selected: &'static str = Box::leak(selected.into_boxed_str());
        command = T::command().mut_arg("context", |arg| {
            arg.default_value(selected).hide_default_value(true)
        });
        matches = command
            .try_get_matches_from_mut(std::env::args_os())
            .unwrap_or_else(|err| exit_usage(err));
    }
    if let Some(shell) = matches
        .get_one::<completions::Shell>(completions::ID)
        .copied()
    {
        let status = match completions::print(shell, &mut command) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        std::process::exit(status);
    }
    T::from_arg_matches_mut(&mut matches)
        .map_err(|err| err.format(&mut command))
        .unwrap_or_else(|err| exit_usage(err))
}

/// Exits for a clap error: help and version as clap prints them, usage
/// errors as one line and status 2. Masked, like every line the commands print.
pub fn exit_usage(err: clap::Error) -> ! {
    mask::register_process_secrets();
    let mut rendered = err.render().to_string();
    if !err.use_stderr() {
        let mut stdout = Masked::line_buffered(std::io::stdout().lock());
        let _ = stdout
            .write_all(rendered.as_bytes())
            .and_then(|()| stdout.flush());
        std::process::exit(err.exit_code());
    }
    // clap repeats a bad value as given: cut a long one (masked first, so
    // that no part of a secret is left).
    for (_, value) in err.context() {
        let values: Vec<&String> = match value {
            ContextValue::String(value) => vec![value],
            ContextValue::Strings(values) => values.iter().collect(),
            _ => Vec::new(),
        };
        for value in values {
            if let Cow::Owned(short) = shorten(&mask::mask_str(value)) {
                rendered = rendered.replace(value.as_str(), &short);
            }
        }
    }
    // clap writes the error, tips, usage and a pointer to --help in blocks
    // separated by blank lines; keep the error and its tips, on one line.
    let line = rendered
        .split("\n\n")
        .map(str::trim)
        .filter(|block| block.starts_with("error:") || block.starts_with("tip:"))
        .map(|block| block.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ");
    let mut stderr = Masked::line_buffered(std::io::stderr().lock());
    let _ = writeln!(stderr, "{line} (see --help)").and_then(|()| stderr.flush());
    std::process::exit(2);
}

/// `text` cut to its first 80 characters and `…`, when it is longer.
pub fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// What a file flag's file must hold.
#[derive(Clone, Copy)]
enum Holds {
    Creds,
    Certificate,
    Key,
}

impl ConnectArgs {
    pub(crate) fn into_config(self, default_client_id: impl FnOnce() -> String) -> ConnectConfig {
        self.into_config_with(default_client_id, stderr_notes())
    }

    /// [`into_config`](ConnectArgs::into_config), saying what there is to
    /// say (a context's unsupported keys, lost connections) to `notes`.
    pub(crate) fn into_config_with(
        self,
        default_client_id: impl FnOnce() -> String,
        notes: Notes,
    ) -> ConnectConfig {
        let context = self.context.unwrap_or_else(NatsContext::none);
        // Its secrets were registered with the masking step as its file was read.
        if !context.name.is_empty() && !context.unsupported.is_empty() {
            notes.say(format_args!(
                "Warning: context {} ({}) sets {}, which this toolkit does not support; ignored",
                context.name,
                context.path.display(),
                context.unsupported.join(", ")
            ));
        }
        // Credentials come from the flags and variables, or else wholly from the context.
        let auth = match (self.user, self.password, self.token, self.creds) {
            (Some(user), Some(password), _, _) => Auth::UserPassword {
                user,
                password: Secret(password),
            },
            (_, _, Some(token), _) => Auth::Token(Secret(token)),
            (_, _, _, Some(creds)) => Auth::Creds(creds),
            _ => match (context.user, context.password, context.token, context.creds) {
                (Some(user), password, _, _) => Auth::UserPassword {
                    user,
                    password: Secret(password.unwrap_or_default()),
                },
                (_, _, Some(token), _) => Auth::Token(Secret(token)),
                (_, _, _, Some(creds)) => Auth::Creds(creds),
                _ => Auth::None,
            },
        };
        let servers = match (self.server, context.url) {
            (Some(servers), _) => servers.0,
            // Checked when the context was read.
            (None, Some(url)) => connection::parse_servers(&url).unwrap_or_default(),
            (None, None) => connection::parse_servers(DEFAULT_SERVER).expect("a valid URL"),
        };
        ConnectConfig {
            servers,
            client_id: self.client_id.unwrap_or_else(default_client_id),
            connect_timeout: self.connect_timeout,
            auth,
            tls: Tls {
                ca: self.tls_ca.or(context.ca),
                cert_and_key: self
                    .tls_cert
                    .zip(self.tls_key)
                    .or(context.cert.zip(context.key)),
            },
            notes,
        }
    }
}

/// 8 random hex characters, like the seed's `randomBytes(4).toString('hex')`.
pub fn random_client_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_client_ids_are_8_hex_characters() {
        let id = random_client_id();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
