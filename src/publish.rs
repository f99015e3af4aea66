//! Publishing events, each one confirmed by the server, exactly once.
//!
//! In the course, `stan.publish('ticket:created', data, () => console.log('Event published'))`
//! sent an event and called back once NATS Streaming had stored it. A
//! JetStream publish works the same way. It is a plain NATS message with a
//! reply subject, and the stream that stores it answers on that subject with
//! an ack: `{"stream":"TICKET_CREATED","seq":7}`. Here up to [`WINDOW`]
//! events are in flight at once (pipelined), so `--count 100000` does not
//! wait one round trip per event, and each event's reply subject ends in its
//! index, so every ack finds its event.
//!
//! Each event also carries a `Nats-Msg-Id` header. When acks stop coming (the
//! server restarted, a port-forward dropped), every event not yet confirmed is
//! sent again with the same id, and the stream's duplicate window drops the
//! copy of any that had been stored after all: no event is lost, none is
//! stored twice.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::{Client, HeaderMap, StatusCode, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::channel::Channel;
use crate::connection::{ConnectConfig, connects};
use crate::progress::Progress;

/// Up to this many events print one `Event published` line each; more print a summary.
pub const MAX_LINES: u64 = 10;

/// How many events may wait for their ack at once.
pub const WINDOW: u64 = 4096;

/// With events in flight and no ack for this long, they are sent again.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// While waiting for acks, how often to check for a reconnect.
const RECONNECT_CHECK: Duration = Duration::from_millis(250);

/// How long publishing goes on without any progress before it gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

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
    let client = connect(&config, out).await?;
    let batch = Batch::new(&config).with_progress();
    let result = tokio::select! {
        result = batch.publish(&client, out) => result,
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

/// Connects as the course's publisher does, and makes sure the channel's
/// stream exists: the start of both `publish` and `publish --watch`.
pub async fn connect(config: &PublishConfig, out: &mut impl Write) -> anyhow::Result<Client> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    let js = async_nats::jetstream::new(client.clone());
    config
        .channel
        .ensure_stream_with(&js, config.replicas)
        .await?;
    Ok(client)
}

/// `count` copies of one event, each with its own `Nats-Msg-Id`.
#[derive(Debug, Clone)]
pub struct Batch {
    channel: Channel,
    payload: Bytes,
    count: u64,
    /// Unique to this batch; event `i` has the id `{id_prefix}-{i}`.
    id_prefix: String,
    /// Counts stored events on a terminal.
    progress: Progress,
}

/// The stream's answer to one publish. Only what is read is parsed, and
/// nothing is copied: acks arrive once per event.
#[derive(Debug, Deserialize)]
struct Ack<'a> {
    /// For a duplicate (`"duplicate":true`), the sequence of the copy
    /// stored earlier: either way, the event is stored once.
    #[serde(default)]
    seq: u64,
    #[serde(borrow, default)]
    error: Option<AckError<'a>>,
}

#[derive(Debug, Deserialize)]
struct AckError<'a> {
    #[serde(borrow, default)]
    description: &'a str,
}

/// What became of one event of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Sent, no ack yet.
    Waiting,
    /// Sent again at least once, no ack yet.
    Retried,
    /// Stored with this sequence.
    Stored(u64),
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
            progress: Progress::none(),
        }
    }

    /// The same batch, showing a progress bar on a terminal when it is too
    /// long for one line per event.
    pub fn with_progress(mut self) -> Batch {
        self.progress = Progress::new(self.count, self.count > MAX_LINES);
        self
    }

    /// Publishes the batch, pipelined, and waits until every event is
    /// stored. Publishing the same batch again (after an error) stores only
    /// what is missing.
    pub async fn publish(
        &self,
        client: &Client,
        out: &mut impl Write,
    ) -> anyhow::Result<Published> {
        // Every ack of this batch arrives on `{inbox}.{index}`.
        let inbox = client.new_inbox();
        let mut acks = client
            .subscribe(format!("{inbox}.*"))
            .await
            .context("could not subscribe to the publish acks")?;
        let subject = Subject::from(self.channel.as_str());
        let mut published = Published::default();
        // Events [base, next) are in flight; window[i - base] is event i's.
        let mut window: VecDeque<Slot> = VecDeque::with_capacity(WINDOW as usize);
        let (mut base, mut next) = (0u64, 0u64);
        // When an ack last came, and when events were last sent again.
        let (mut last_progress, mut last_resend) = (Instant::now(), Instant::now());
        let mut connects_seen = connects(client);
        while base < self.count {
            while next < self.count && next - base < WINDOW {
                self.send(client, &subject, &inbox, next).await?;
                window.push_back(Slot::Waiting);
                next += 1;
            }
            match tokio::time::timeout(RECONNECT_CHECK, acks.next()).await {
                Ok(Some(message)) => {
                    let Some(i) = index_of(&message.subject) else {
                        continue;
                    };
                    if i < base || i >= next {
                        continue; // a late ack of an event already stored
                    }
                    if message.status == Some(StatusCode::NO_RESPONDERS) {
                        continue; // no stream yet (the server is starting): sent again below
                    }
                    let ack: Ack = serde_json::from_slice(&message.payload).with_context(|| {
                        format!("unreadable ack from the server: {:?}", message.payload)
                    })?;
                    if let Some(error) = ack.error {
                        bail!(
                            "the server refused event {} on {}: {}",
                            i + 1,
                            self.channel,
                            error.description
                        );
                    }
                    let slot = &mut window[(i - base) as usize];
                    if !matches!(slot, Slot::Stored(_)) {
                        *slot = Slot::Stored(ack.seq);
                    }
                    // Report in order, and slide the window past what is stored.
                    while let Some(Slot::Stored(seq)) = window.front().copied() {
                        window.pop_front();
                        published.record(seq);
                        self.progress.inc();
                        if self.count <= MAX_LINES {
                            writeln!(out, "Event published to {} as event #{seq}", self.channel)?;
                        }
                        base += 1;
                        last_progress = Instant::now();
                    }
                }
                Ok(None) => bail!("the connection to NATS was closed"),
                Err(_) => {
                    let reconnected = connects_seen != connects(client);
                    let quiet = last_progress.elapsed().min(last_resend.elapsed());
                    if !reconnected && quiet < ACK_TIMEOUT {
                        continue;
                    }
                    if last_progress.elapsed() > GIVE_UP_AFTER {
                        bail!(
                            "the server did not confirm event {} of {} on {} within {}s; {} were stored. \
                             Check the connection to NATS and publish again",
                            base + 1,
                            self.count,
                            self.channel,
                            GIVE_UP_AFTER.as_secs(),
                            published.count
                        );
                    }
                    // Acks stopped coming: send again whatever is not stored.
                    connects_seen = connects(client);
                    for (offset, slot) in window.iter_mut().enumerate() {
                        if *slot == Slot::Waiting {
                            published.retried += 1;
                            *slot = Slot::Retried;
                        }
                        if !matches!(slot, Slot::Stored(_)) {
                            self.send(client, &subject, &inbox, base + offset as u64)
                                .await?;
                        }
                    }
                    last_resend = Instant::now();
                }
            }
        }
        acks.unsubscribe().await.ok();
        self.progress.finish();
        Ok(published)
    }

    /// Sends event `i`, asking for its ack on `{inbox}.{i}`.
    async fn send(
        &self,
        client: &Client,
        subject: &Subject,
        inbox: &str,
        i: u64,
    ) -> anyhow::Result<()> {
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, format!("{}-{i}", self.id_prefix));
        // Bytes and Subject are reference counted: every event shares them.
        client
            .publish_with_reply_and_headers(
                subject.clone(),
                format!("{inbox}.{i}"),
                headers,
                self.payload.clone(),
            )
            .await
            .context("could not send the event")
    }
}

impl Published {
    fn record(&mut self, sequence: u64) {
        if self.count == 0 || sequence < self.first {
            self.first = sequence;
        }
        self.last = self.last.max(sequence);
        self.count += 1;
    }
}

/// The index at the end of an ack's subject, `{inbox}.{index}`.
fn index_of(subject: &str) -> Option<u64> {
    subject.rsplit('.').next()?.parse().ok()
}
