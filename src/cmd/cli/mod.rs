//! The command line of `publish` and `listen`, and the one step that turns
//! parsed flags into a typed config ([`PublishArgs::into_config`],
//! [`ListenArgs::into_config`]). Every check of a single flag is its value
//! parser; checks across flags live in `into_config`. Both end in a clap
//! error, so bad input always exits with status 2 and one clear line.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ServerAddr;
use bytes::Bytes;
use clap::builder::{PathBufValueParser, TypedValueParser as _};
use clap::error::{ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, ValueHint};

use crate::channel::Channel;
use crate::cmd::listen::ListenConfig;
use crate::cmd::publish::{Output, PublishConfig};
use crate::connection::{self, Auth, ConnectConfig, MAX_CREDS_BYTES, MAX_PEM_BYTES, Secret, Tls};
use crate::duration;
use crate::events::{TICKET_CREATED, TicketCreated};
use crate::mask::{self, Masked};
use crate::notes::Notes;
use crate::subscription::{DEFAULT_QUEUE_GROUP, StartPosition, SubscriptionOptions};

pub mod completions;
mod context;
mod event_data;
mod files;
mod headers;
mod status;
mod values;

use context::parse_context;
pub use context::{MAX_CONTEXT_BYTES, NatsContext};
pub use event_data::{
    DataFile, EventData, MAX_LINES_BYTES, check_event_json, event_lines, read_event_file,
};
use event_data::{parse_data_file, parse_event_data};
use files::{ca_file, cert_file, creds_file, key_file};
pub use headers::{Header, MAX_HEADER_BYTES, MAX_HEADERS};
use headers::{header_map, parse_header};
pub use status::StatusArgs;
pub use values::Servers;
use values::{consumer_safe, duration_in, parse_client_id, parse_name, parse_servers, watchable};

/// The most events one `--count` may ask for.
pub const MAX_COUNT: u64 = 1_000_000_000;

/// The largest event, in bytes: nats-server's default `max_payload` (1 MiB).
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;

/// The longest queue group, durable name or client id, in bytes: the
/// longest consumer name nats-server takes (`JSMaxNameLen`).
pub const MAX_NAME_BYTES: usize = 255;

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
    if has(&command, "context")
        && !completing
        && let Some(selected) = context::selected()
    {
        // Read only when nothing else names a context, like clap's other defaults.
        let selected: &'static str = Box::leak(selected.into_boxed_str());
        command = command.mut_arg("context", |arg| {
            arg.default_value(selected).hide_default_value(true)
        });
    }
    let mut matches = command
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|err| exit_usage(err));
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

/// The command line of every binary, for its man page (`make man`) and
/// completion script (`make completions`): adding a binary is one line here.
pub fn commands() -> Vec<clap::Command> {
    vec![
        PublishArgs::command(),
        ListenArgs::command(),
        StatusArgs::command(),
    ]
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

pub use crate::notes::error_line;

/// The library's notes as the commands show them: a line on stderr each,
/// masked like every line they print, its control characters escaped (a
/// note may quote what the server said).
pub fn stderr_notes() -> Notes {
    Notes::to(|line| {
        let mut stderr = Masked::line_buffered(std::io::stderr().lock());
        let line = crate::notes::escape_control(line);
        // Nothing sensible to do when stderr is gone.
        let _ = writeln!(stderr, "{line}").and_then(|()| stderr.flush());
    })
}

/// What a file flag's file must hold.
#[derive(Clone, Copy)]
enum Holds {
    Creds,
    Certificate,
    Key,
}

impl ConnectArgs {
    fn into_config(self, default_client_id: impl FnOnce() -> String) -> ConnectConfig {
        self.into_config_with(default_client_id, stderr_notes())
    }

    /// [`into_config`](ConnectArgs::into_config), saying what there is to
    /// say (a context's unsupported keys, lost connections) to `notes`.
    fn into_config_with(
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

/// Publish a `ticket:created` event to NATS JetStream, as the course's publisher does.
#[derive(Debug, Parser)]
#[command(name = "publish", version, about, long_about = None)]
pub struct PublishArgs {
    #[command(flatten)]
    pub channel: ChannelArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// The event's data as a JSON object, at most 1 MiB. Default: {"id":"123","title":"concert","price":20}
    #[arg(long, value_name = "JSON", value_parser = parse_event_data, conflicts_with = "data_file")]
    pub data: Option<EventData>,

    /// Read the event's data from a JSON file, or from standard input with
    /// `-`; at most 1 MiB.
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath, value_parser = parse_data_file)]
    pub data_file: Option<DataFile>,

    /// With --data-file: each non-empty line is one event, a JSON object of
    /// at most 1 MiB, as `jq -c` writes them; published in order, each
    /// once. Every line is checked before the first is published. At most
    /// 256 MiB in all. Not with --count or --watch.
    #[arg(long, requires = "data_file", conflicts_with_all = ["count", "watch"])]
    pub lines: bool,

    /// Publish again every time one of these files is saved, as the course's
    /// ts-node-dev did on each save of publisher.ts. With no PATH, watches --data-file.
    #[arg(long, num_args = 0.., value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub watch: Option<Vec<PathBuf>>,

    /// How many events to publish (1 to 1000000000). They are pipelined and
    /// each is confirmed by the server.
    #[arg(long, default_value_t = 1, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub count: u64,

    /// Add a NATS header to every event, e.g. -H 'Trace-Id: 42'. Repeat it
    /// for more (at most 64, 16 KiB in all). Names starting with Nats- are
    /// JetStream's own and not taken.
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,

    /// Print one JSON object per confirmed event on stdout, for scripts:
    /// {"seq":7,"channel":"ticket:created","duplicate":false}. The other
    /// lines go to stderr. Not with --watch.
    #[arg(long, conflicts_with_all = ["quiet", "watch"])]
    pub json: bool,

    /// Print only errors: no status or event lines, no progress bar, no
    /// warnings.
    #[arg(long)]
    pub quiet: bool,
}

impl PublishArgs {
    /// Turns the flags into a [`PublishConfig`].
    pub fn into_config(self) -> Result<PublishConfig, clap::Error> {
        let data_file = self
            .data_file
            .as_ref()
            .and_then(|d| d.path().map(Path::to_path_buf));
        let watch = match self.watch {
            None => Vec::new(),
            Some(paths) if !paths.is_empty() => paths,
            Some(_) => {
                match &data_file {
                    Some(path) => vec![path.clone()],
                    None => {
                        let why = if self.data_file.is_some() {
                            "--watch has no file to watch with --data-file - (standard input)"
                        } else {
                            "--watch needs files to watch"
                        };
                        return Err(PublishArgs::command().error(
                        ErrorKind::MissingRequiredArgument,
                        format!("{why}: give them (--watch src/publisher.rs), or give --data-file PATH"),
                    ));
                    }
                }
            }
        };
        if let Some(path) = watch.iter().find(|path| !watchable(path)) {
            return Err(PublishArgs::command().error(
                ErrorKind::ValueValidation,
                format!("--watch: the folder of {} does not exist", path.display()),
            ));
        }
        let headers = header_map(&self.headers).map_err(|err| {
            PublishArgs::command().error(ErrorKind::ValueValidation, format!("--header: {err}"))
        })?;
        // --data-file is read here, once it is known whether it holds one
        // event or one per line; its errors read as a value parser's.
        let bad_file = |file: &DataFile, err: String| {
            PublishArgs::command().error(
                ErrorKind::ValueValidation,
                format!(
                    "invalid value '{}' for '--data-file <PATH>': {err}",
                    file.shown()
                ),
            )
        };
        let (json, lines) = match (self.data, &self.data_file) {
            (Some(data), _) => (data.json, None),
            (None, Some(file)) if self.lines => {
                let lines = file.read_lines().map_err(|err| bad_file(file, err))?;
                (String::new(), Some(lines))
            }
            (None, Some(file)) => (
                file.read_event().map_err(|err| bad_file(file, err))?.json,
                None,
            ),
            (None, None) => (TicketCreated::seed().to_json(), None),
        };
        let output = if self.json {
            Output::Json
        } else if self.quiet {
            Output::Quiet
        } else {
            Output::Human
        };
        let notes = match output {
            Output::Quiet => Notes::silent(),
            _ => stderr_notes(),
        };
        let connect = self.connect.into_config_with(|| "abc".into(), notes);
        Ok(PublishConfig {
            channel: self.channel.channel,
            replicas: usize::from(self.channel.replicas),
            connect,
            count: lines
                .as_ref()
                .map_or(self.count, |lines| lines.len() as u64),
            payload: Bytes::from(json),
            lines,
            headers,
            data_file,
            watch,
            output,
        })
    }
}

/// Listen to a channel on NATS JetStream and print every event, as the course's listener does.
#[derive(Debug, Parser)]
#[command(name = "listen", version, about, long_about = None)]
pub struct ListenArgs {
    #[command(flatten)]
    pub channel: ChannelArgs,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Queue group: listeners in the same group share the events, each event
    /// going to one of them. At most 255 bytes.
    #[arg(short = 'q', long, default_value = DEFAULT_QUEUE_GROUP, value_name = "NAME", value_parser = parse_name)]
    pub queue_group: String,

    /// Listen on your own: get every event, whatever other listeners do.
    /// Needed to see --deliver-all replay the history.
    #[arg(long, conflicts_with = "queue_group")]
    pub no_queue_group: bool,

    /// Start with the channel's whole event history (setDeliverAllAvailable()).
    #[arg(long, group = "start")]
    pub deliver_all: bool,

    /// Start with the last event of the channel (setStartWithLastReceived()).
    #[arg(long, group = "start")]
    pub deliver_last: bool,

    /// Start at this event number, 1 or more (setStartAtSequence()).
    #[arg(long, group = "start", value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub start_seq: Option<u64>,

    /// Start with the events of this recent span, e.g. 10m, 1h30m, 1d or 1d3h
    /// (setStartAtTimeDelta()); 1ms to 876000h (100 years).
    #[arg(long, group = "start", value_name = "DURATION", value_parser = duration_in(SINCE_RANGE))]
    pub since: Option<Duration>,

    /// Start with the first event stored at or after this time, in RFC 3339:
    /// 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00 (setStartTime()).
    #[arg(long, group = "start", value_name = "TIME", value_parser = values::parse_start_time)]
    pub start_time: Option<time::OffsetDateTime>,

    /// Durable name: the server remembers what this subscription acked, so a
    /// restarted listener gets only what it missed (setDurableName()). It is
    /// the queue group's, as in the course; add --no-queue-group for a durable
    /// of this listener's own. At most 255 bytes.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub durable: Option<String>,

    /// How long the server waits for an ack before delivering an event again
    /// (setAckWait()); 100ms to 24h.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration_in(ACK_WAIT_RANGE))]
    pub ack_wait: Duration,

    /// Receive events but never ack them, to watch the server deliver them again.
    #[arg(long)]
    pub skip_ack: bool,

    /// Negatively acknowledge each event instead of acking it (nak): the
    /// server sends it again at once, or after DELAY (1ms to 24h), without
    /// waiting for the ack wait. Add --max-deliver to end the loop.
    #[arg(long, value_name = "DELAY", num_args = 0..=1, value_parser = duration_in(DELAY_RANGE), conflicts_with_all = ["skip_ack", "delay", "term"])]
    pub nak: Option<Option<Duration>>,

    /// Terminate each event instead of acking it: the server never sends it
    /// again, to this listener or any other, as for an event nobody can handle.
    #[arg(long, conflicts_with_all = ["skip_ack", "delay"])]
    pub term: bool,

    /// Ask the server to report every ack, so that `status --live` shows exactly
    /// which events were acked even out of order (a queue group). Costs about a
    /// fifth of a replay's speed.
    #[arg(long)]
    pub report_acks: bool,

    /// At most N events delivered and not acked yet at a time (setMaxInFlight()),
    /// 1 to 10000: the server waits for acks before it sends more. A queue
    /// group's members share it. Default: the server's, 1000.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_in_flight: Option<u32>,

    /// Deliver an event at most N times (1 to 10000); after that the server
    /// gives it up, and the listener says so. Ends the redelivery loop of --skip-ack.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_deliver: Option<u32>,

    /// Wait this long before acking each event, as a slow service would
    /// (1ms to 24h). Kill the listener meanwhile to see its events go to
    /// another member after the ack wait.
    #[arg(long, value_name = "DURATION", value_parser = duration_in(DELAY_RANGE), conflicts_with = "skip_ack")]
    pub delay: Option<Duration>,

    /// Exit after this many deliveries (1 to 1000000000). A redelivered
    /// event counts again.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT))]
    pub count: Option<u64>,

    /// Print one JSON object per event: seq, channel, delivery, redelivered,
    /// published, pending, headers (if any), data.
    #[arg(long)]
    pub json: bool,

    /// Start each line with the time the event was published (RFC 3339, UTC,
    /// milliseconds). --json has it always, as "published".
    #[arg(short = 't', long, conflicts_with = "json")]
    pub timestamp: bool,

    /// Exit (status 0) once every event stored when the listener started has
    /// been printed and acked; at once if there is none.
    #[arg(long, conflicts_with_all = ["skip_ack", "nak"])]
    pub until_caught_up: bool,

    /// Colour redelivered events (yellow), nak'd, terminated or given-up ones
    /// (magenta) and `Error:` (red). auto: on a terminal, unless NO_COLOR is set.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_enum)]
    pub color: crate::cmd::color::ColorChoice,

    /// Delete the durable or queue group's subscription first and start over,
    /// forgetting what it acked. Members of the group still running lose
    /// their subscription and stop.
    #[arg(long)]
    pub reset: bool,
}

impl ListenArgs {
    /// Turns the flags into a [`ListenConfig`].
    pub fn into_config(self) -> Result<ListenConfig, clap::Error> {
        use crate::cmd::listen::Settle;

        let start = if self.deliver_all {
            Some(StartPosition::All)
        } else if self.deliver_last {
            Some(StartPosition::Last)
        } else if let Some(n) = self.start_seq {
            Some(StartPosition::Sequence(n))
        } else if let Some(span) = self.since {
            Some(StartPosition::Since(span))
        } else {
            self.start_time.map(StartPosition::Time)
        };
        let settle = match (self.skip_ack, self.nak, self.term) {
            (true, _, _) => Settle::Skip,
            (_, Some(delay), _) => Settle::Nak(delay),
            (_, _, true) => Settle::Term,
            _ => Settle::Ack,
        };
        let queue_group = (!self.no_queue_group).then_some(self.queue_group);
        let connect_channel = self.channel.channel;
        let replicas = usize::from(self.channel.replicas);
        if self.reset && queue_group.is_none() && self.durable.is_none() {
            return Err(ListenArgs::command().error(
                ErrorKind::ArgumentConflict,
                "--reset starts a durable or a queue group over; give --durable NAME or a --queue-group",
            ));
        }
        // A listener of its own names its consumer after its client id, so
        // `make status` shows which terminal a subscription is. A client id
        // given by hand may be given twice: it gets a random suffix.
        let client_id = self.connect.client_id.clone();
        let connect = self.connect.into_config(random_client_id);
        let own_name = match client_id {
            Some(id) => format!(
                "{}-{}",
                consumer_safe(&id),
                hex::encode(rand::random::<[u8; 2]>())
            ),
            None => connect.client_id.clone(),
        };
        Ok(ListenConfig {
            subscription: SubscriptionOptions {
                channel: connect_channel,
                own_name: Some(own_name),
                replicas,
                max_deliver: self.max_deliver,
                max_in_flight: self.max_in_flight,
                report_acks: self.report_acks,
                queue_group,
                start,
                durable: self.durable,
                ack_wait: self.ack_wait,
                count: self.count,
                reset: self.reset,
            },
            connect,
            settle,
            delay: self.delay,
            json: self.json,
            timestamp: self.timestamp,
            until_caught_up: self.until_caught_up,
            color: self.color,
        })
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
    fn clap_definitions_are_consistent() {
        for command in commands() {
            command.debug_assert();
        }
    }

    #[test]
    fn random_client_ids_are_8_hex_characters() {
        let id = random_client_id();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
