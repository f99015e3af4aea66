//! The `publish` command: the course's `publisher.ts`.
//!
//! It connects, says `Publisher connected to NATS`, and publishes the event
//! `--count` times (or each line of `--data-file` with `--lines`) through
//! the library's exactly-once [`Batch`], printing `Event published to
//! <channel> as event #<seq>` for each (a summary line and a progress bar
//! for more than [`MAX_LINES`]). `--json` prints a JSON object per event
//! instead, for scripts; `--quiet` prints only errors.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use async_nats::{Client, HeaderMap};
use bytes::Bytes;

use crate::mask::Masked;
use crate::pipe::UntilClosed;
use crate::progress::Progress;
use nats_course_toolkit::channel::Channel;
use nats_course_toolkit::connection::{ConnectConfig, close};
use nats_course_toolkit::duration;
use nats_course_toolkit::publish::{self as exactly_once, Batch, GaveUp, Packed, Prepared, Stored};

mod args;
pub mod event_data;
pub mod headers;
mod read_within;
mod watch;

pub use args::PublishArgs;

/// Up to this many events print one `Event published` line each; more print a summary.
pub const MAX_LINES: u64 = 10;

/// Everything `publish` needs, checked.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Server, client id, timeout.
    pub connect: ConnectConfig,
    /// The channel to publish on.
    pub channel: Channel,
    /// Copies of the channel's stream in a cluster, when it is created here.
    pub replicas: usize,
    /// The event's data: compact JSON (unused with `lines`).
    pub payload: Bytes,
    /// `--lines`: the events, in order, each compact JSON; `count` is their number.
    pub lines: Option<Packed>,
    /// `-H`: headers every event carries.
    pub headers: HeaderMap,
    /// The flag the event's data came from, for errors: `--data`,
    /// `--data-file PATH`, or `-H` (the default event, with headers).
    pub source: String,
    /// The file the data came from, read again on each save in watch mode.
    pub data_file: Option<PathBuf>,
    /// How many copies of the event to publish.
    pub count: u64,
    /// Files whose saves publish again (`--watch`); empty when not watching.
    pub watch: Vec<PathBuf>,
    /// What is printed: lines for people, JSON for scripts, or only errors.
    pub output: Output,
}

/// What `publish` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// `Event published to ... as event #N`, and the status lines.
    #[default]
    Human,
    /// `--json`: one JSON object per event; the status lines go to stderr.
    Json,
    /// `--quiet`: nothing; errors still go to stderr.
    Quiet,
}

impl PublishConfig {
    /// The batch of this config's events (or of `payload`, in watch mode).
    pub fn batch(&self, payload: Bytes) -> Batch {
        let batch = match &self.lines {
            Some(lines) => Batch::packed(self.channel.clone(), lines.clone()),
            None => Batch::new(self.channel.clone(), payload, self.count),
        }
        .with_replicas(self.replicas);
        if self.headers.is_empty() {
            batch
        } else {
            batch.with_headers(self.headers.clone())
        }
    }
}

/// The `publish` binary's command, once its flags are a config: one
/// publish, or watch mode, on stdout through the masking writer.
pub async fn start(config: PublishConfig, signal: crate::shutdown::Signal) -> anyhow::Result<()> {
    // Every line goes through the masking writers: no secret is printed.
    // Line buffered, as stdout was: each line shows as soon as it is written.
    // Until its reader goes (`publish | head -1`): then the events are
    // published all the same, with no lines, so that exit 0 still
    // means every one is stored.
    let stdout = || UntilClosed::new(std::io::stdout().lock());
    match config.output {
        // For scripts: lines gathered into large writes, not one write per event.
        Output::Json => {
            let out = &mut Masked::with_capacity(JSON_BUFFER, stdout());
            run_or_watch(config, signal, out).await
        }
        Output::Quiet => run_or_watch(config, signal, &mut std::io::sink()).await,
        Output::Human => {
            let out = &mut Masked::line_buffered(stdout());
            run_or_watch(config, signal, out).await
        }
    }
}

/// How much of `--json`'s output is held before it is written.
const JSON_BUFFER: usize = 64 * 1024;

async fn run_or_watch(
    config: PublishConfig,
    signal: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if config.watch.is_empty() {
        run(config, signal, out).await
    } else {
        let errors = &mut Masked::line_buffered(std::io::stderr());
        watch::run(config, signal, out, errors).await
    }
}

/// The lines of one publish: status lines (on `out`, or on stderr with
/// `--json`) and one line per event stored.
struct Report<'a, W: Write> {
    out: &'a mut W,
    /// Where the status lines go with `--json`.
    stderr: Masked<std::io::Stderr>,
    output: Output,
    /// The channel as a JSON string, written once for every `--json` line.
    channel_json: String,
    /// Whether each event gets a line (a few events, or `--json`).
    each: bool,
}

impl<'a, W: Write> Report<'a, W> {
    fn new(config: &PublishConfig, out: &'a mut W) -> Report<'a, W> {
        Report {
            out,
            stderr: Masked::line_buffered(std::io::stderr()),
            output: config.output,
            channel_json: serde_json::to_string(config.channel.as_str()).expect("a string is JSON"),
            each: config.output == Output::Json || config.count <= MAX_LINES,
        }
    }

    /// Where lines about the run go: stdout, or stderr when stdout is `--json`'s.
    fn status(&mut self) -> &mut dyn Write {
        if self.output == Output::Json {
            &mut self.stderr
        } else {
            self.out
        }
    }

    /// The line of one event stored, if it gets one.
    fn stored(&mut self, channel: &Channel, stored: Stored) -> std::io::Result<()> {
        match self.output {
            _ if !self.each => Ok(()),
            Output::Json => writeln!(
                self.out,
                r#"{{"seq":{},"channel":{},"duplicate":{}}}"#,
                stored.sequence, self.channel_json, stored.duplicate
            ),
            _ => writeln!(
                self.out,
                "Event published to {channel} as event #{}",
                stored.sequence
            ),
        }
    }
}

/// Connects, publishes `count` events (or `--lines`' events) and closes;
/// stops early on `shutdown`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut report = Report::new(&config, out);
    let (client, stream) = connect(&config, report.status()).await?;
    let batch = config.batch(config.payload.clone());
    if let Err(err) = batch.check_size(&client) {
        close(client).await;
        return Err(err.context(config.source.clone()));
    }
    let progress = Progress::new(
        config.count,
        config.count > MAX_LINES && config.output != Output::Quiet,
    );
    let result = batch
        .publish_each(&client, &config.connect.notes, shutdown, |stored| {
            progress.inc();
            report.stored(&config.channel, stored)
        })
        .await;
    progress.finish();
    match &result {
        // The server has not answered for GIVE_UP_AFTER: waiting for it to
        // take what the client buffers would only push the error back.
        Err(err) if err.is::<GaveUp>() => drop(client),
        _ => close(client).await,
    }
    let published = result?;
    if config.count > MAX_LINES {
        writeln!(
            report.status(),
            "Published {} events to {} (events #{} to #{})",
            published.count,
            config.channel,
            published.first,
            published.last
        )?;
    }
    if published.retried > 0 {
        // Stored once only if the stream dropped every copy (see `connect`'s warning).
        let once = if stream.exactly_once() {
            "each is stored once".to_owned()
        } else {
            format!(
                "the stream {} drops copies only within {} (its duplicate window), so some may be stored twice",
                stream.stream,
                duration::format(stream.duplicate_window)
            )
        };
        writeln!(
            report.status(),
            "{} events were sent again after a lost connection; {once}",
            published.retried
        )?;
    }
    report.out.flush()?;
    Ok(())
}

/// Connects as the course's publisher does, and makes sure the channel's
/// stream exists and confirms what it stores: the start of both `publish`
/// and `publish --watch`. A stream whose duplicate window is too short for
/// exactly once gets one warning line on stderr (not with `--quiet`).
pub async fn connect(
    config: &PublishConfig,
    out: &mut dyn Write,
) -> anyhow::Result<(Client, Prepared)> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    let notes = &config.connect.notes;
    let stream = exactly_once::prepare(&client, &config.channel, config.replicas, notes).await?;
    if !stream.exactly_once() {
        notes.say(format_args!(
            "Warning: the stream {name}, which stores channel {channel}, drops a copy of an event \
             only within {window} of the first (its duplicate window), and publish may send copies \
             for up to {deadline} after a lost connection: such an event may be stored twice. \
             Widen the window: nats stream edit {name} --dupe-window 2m",
            name = stream.stream,
            channel = config.channel,
            window = duration::format(stream.duplicate_window),
            deadline = duration::format(exactly_once::GIVE_UP_AFTER),
        ));
    }
    Ok((client, stream))
}
