//! Publishing events, each one confirmed by the server, exactly once.
//!
//! In the course, `stan.publish('ticket:created', data, () => console.log('Event published'))`
//! sent an event and called back once NATS Streaming had stored it. A
//! JetStream publish works the same way: the server answers each publish with
//! an ack naming the stream and the event's sequence. Here many publishes are
//! in flight at once (pipelined) and their acks are awaited in order, so
//! `--count 100000` does not wait one round trip per event.
//!
//! Each event carries a `Nats-Msg-Id` header. When an ack does not come (the
//! server restarted, a port-forward dropped), the event is sent again with
//! the same id, and the stream's duplicate window drops the copy if the first
//! one was stored after all: no event is lost, none is stored twice.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, publish::PublishAck};
use bytes::Bytes;

use crate::channel::{Channel, jetstream_error};
use crate::connection::ConnectConfig;

/// Up to this many events print one `Event published` line each; more print a summary.
pub const MAX_LINES: u64 = 10;

/// How many publishes may wait for their ack at once.
const IN_FLIGHT: usize = 4096;

/// How long an event is sent again and again before publishing gives up.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// The pause between two tries of the same event.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Everything `publish` needs, checked.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Server, client id, timeout.
    pub connect: ConnectConfig,
    /// The channel to publish on.
    pub channel: Channel,
    /// The event's data: compact JSON.
    pub payload: Bytes,
    /// The file the data came from, read again on each save in watch mode.
    pub data_file: Option<PathBuf>,
    /// How many copies of the event to publish.
    pub count: u64,
    /// Files whose saves publish again (`--watch`); empty when not watching.
    pub watch: Vec<PathBuf>,
}

/// Where the published events went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Lowest sequence stored.
    pub first: u64,
    /// Highest sequence stored.
    pub last: u64,
    /// How many events are stored.
    pub count: u64,
    /// How many events had to be sent more than once.
    pub retried: u64,
}

/// Connects, publishes `count` events and closes; stops early on `shutdown`.
pub async fn run(
    config: PublishConfig,
    shutdown: impl Future<Output = ()>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    let js = jetstream::new(client.clone());
    config.channel.ensure_stream(&js).await?;

    let batch = Batch::new(&config);
    let result = tokio::select! {
        result = batch.publish(&js, out) => result,
        () = shutdown => Err(anyhow::anyhow!("interrupted before every event was stored")),
    };
    client.drain().await.ok();
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

/// `count` copies of one event, each with its own `Nats-Msg-Id`.
#[derive(Debug, Clone)]
pub struct Batch {
    channel: Channel,
    payload: Bytes,
    count: u64,
    /// Unique to this batch; event `i` has the id `{id_prefix}-{i}`.
    id_prefix: String,
}

impl Batch {
    /// A batch of the config's event, `count` times, with fresh ids.
    pub fn new(config: &PublishConfig) -> Batch {
        Batch::of(config.channel.clone(), config.payload.clone(), config.count)
    }

    /// A batch of `payload` on `channel`, `count` times, with fresh ids.
    pub fn of(channel: Channel, payload: Bytes, count: u64) -> Batch {
        Batch {
            channel,
            payload,
            count,
            id_prefix: hex::encode(rand::random::<[u8; 8]>()),
        }
    }

    /// Publishes the batch, pipelined, and waits for every ack. Publishing the
    /// same batch again (after an error) stores only what is missing.
    pub async fn publish(
        &self,
        js: &jetstream::Context,
        out: &mut impl Write,
    ) -> anyhow::Result<Published> {
        let mut in_flight: VecDeque<(u64, PublishAckFuture)> = VecDeque::with_capacity(IN_FLIGHT);
        let mut published = Published::default();
        for i in 0..self.count {
            if in_flight.len() == IN_FLIGHT {
                let (j, ack) = in_flight.pop_front().expect("queue is full");
                self.confirm(js, j, ack, &mut published, out).await?;
            }
            in_flight.push_back((i, self.send(js, i).await?));
        }
        while let Some((j, ack)) = in_flight.pop_front() {
            self.confirm(js, j, ack, &mut published, out).await?;
        }
        Ok(published)
    }

    /// Sends event `i`; the returned future resolves to the server's ack.
    async fn send(&self, js: &jetstream::Context, i: u64) -> anyhow::Result<PublishAckFuture> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}-{i}", self.id_prefix).as_str());
        // Bytes is reference counted: every publish shares the one payload.
        js.publish_with_headers(
            self.channel.as_str().to_owned(),
            headers,
            self.payload.clone(),
        )
        .await
        .map_err(|err| jetstream_error(js, err))
    }

    /// Waits for event `i`'s ack, sending it again until the server confirms it.
    async fn confirm(
        &self,
        js: &jetstream::Context,
        i: u64,
        ack: PublishAckFuture,
        published: &mut Published,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        let ack = match ack.await {
            Ok(ack) => ack,
            Err(err) => {
                published.retried += 1;
                self.resend(js, i, err.to_string(), published.count).await?
            }
        };
        // A duplicate ack means an earlier try was stored: it names that event.
        if published.count == 0 || ack.sequence < published.first {
            published.first = ack.sequence;
        }
        published.last = published.last.max(ack.sequence);
        published.count += 1;
        if self.count <= MAX_LINES {
            writeln!(
                out,
                "Event published to {} as event #{}",
                self.channel, ack.sequence
            )?;
        }
        Ok(())
    }

    /// Sends event `i` again, with the same id, until the server confirms it.
    async fn resend(
        &self,
        js: &jetstream::Context,
        i: u64,
        mut last_error: String,
        stored: u64,
    ) -> anyhow::Result<PublishAck> {
        let started = Instant::now();
        while started.elapsed() < RETRY_FOR {
            tokio::time::sleep(RETRY_PAUSE).await;
            match self.send(js, i).await {
                Ok(ack) => match ack.await {
                    Ok(ack) => return Ok(ack),
                    Err(err) => last_error = err.to_string(),
                },
                Err(err) => last_error = format!("{err:#}"),
            }
        }
        bail!(
            "the server did not confirm event {} of {} on {} within {}s ({last_error}); {stored} were stored. \
             Check the connection to NATS and publish again",
            i + 1,
            self.count,
            self.channel,
            RETRY_FOR.as_secs(),
        )
    }
}
