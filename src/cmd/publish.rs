//! The `publish` command: the course's `publisher.ts`.
//!
//! It connects, says `Publisher connected to NATS`, and publishes the event
//! `--count` times through the library's exactly-once [`Batch`], printing
//! `Event published to <channel> as event #<seq>` for each (a summary line
//! and a progress bar for more than [`MAX_LINES`]).

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

use async_nats::Client;
use bytes::Bytes;

use crate::channel::Channel;
use crate::cmd::progress::Progress;
use crate::connection::{ConnectConfig, close};
use crate::publish::{self as exactly_once, Batch};

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
    /// The event's data: compact JSON.
    pub payload: Bytes,
    /// The file the data came from, read again on each save in watch mode.
    pub data_file: Option<PathBuf>,
    /// How many copies of the event to publish.
    pub count: u64,
    /// Files whose saves publish again (`--watch`); empty when not watching.
    pub watch: Vec<PathBuf>,
}

/// The `publish` binary: flags, then [`run`] or watch mode.
pub fn main() -> std::process::ExitCode {
    super::main(
        crate::cmd::cli::PublishArgs::into_config,
        |config: PublishConfig, signal| async move {
            // Every line goes through the masking writers: no secret is printed.
            // Line buffered, as stdout was: each line shows as soon as it is written.
            let out = &mut crate::mask::Masked::line_buffered(std::io::stdout().lock());
            if config.watch.is_empty() {
                run(config, signal, out).await
            } else {
                let errors = &mut crate::mask::Masked::line_buffered(std::io::stderr());
                crate::cmd::watch::run(config, signal, out, errors).await
            }
        },
    )
}

/// Connects, publishes `count` events and closes; stops early on `shutdown`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let client = connect(&config, out).await?;
    if let Err(err) = exactly_once::check_size(&client, &config.payload) {
        close(client).await;
        return Err(err);
    }
    let batch = Batch::new(config.channel.clone(), config.payload.clone(), config.count);
    let progress = Progress::new(config.count, config.count > MAX_LINES);
    let result = batch
        .publish(&client, &config.connect.notes, shutdown, |seq| {
            progress.inc();
            if config.count <= MAX_LINES {
                writeln!(out, "Event published to {} as event #{seq}", config.channel)?;
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
    progress.finish();
    close(client).await;
    let published = result?;
    if config.count > MAX_LINES {
        writeln!(
            out,
            "Published {} events to {} (events #{} to #{})",
            published.count, config.channel, published.first, published.last
        )?;
    }
    if published.retried > 0 {
        writeln!(
            out,
            "{} events were sent again after a lost connection; each is stored once",
            published.retried
        )?;
    }
    Ok(())
}

/// Connects as the course's publisher does, and makes sure the channel's
/// stream exists and confirms what it stores: the start of both `publish`
/// and `publish --watch`.
pub async fn connect(config: &PublishConfig, out: &mut impl Write) -> anyhow::Result<Client> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    exactly_once::prepare(
        &client,
        &config.channel,
        config.replicas,
        &config.connect.notes,
    )
    .await?;
    Ok(client)
}
