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

/// How long publishing goes on without any event confirmed before it gives up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// After Ctrl-C, how long the events in flight may take to be confirmed.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// How long closing the connection may take (sending what is buffered).
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

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
    notes: &mut impl Write,
) -> anyhow::Result<()> {
    let client = connect(&config, out).await?;
    if let Err(err) = check_size(&client, &config.payload) {
        close(client).await;
        return Err(err);
    }
    let batch = Batch::new(&config).with_progress();
    let result = batch.publish(&client, out, notes, shutdown).await;
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
/// stream exists: the start of both `publish` and `publish --watch`.
pub async fn connect(config: &PublishConfig, out: &mut impl Write) -> anyhow::Result<Client> {
    let client = config.connect.connect().await?;
    writeln!(out, "Publisher connected to NATS")?;
    let js = async_nats::jetstream::new(client.clone());
    let stream = config
        .channel
        .ensure_stream_with(&js, config.replicas)
        .await?;
    // A stream made with no_ack stores events without a word: no publish
    // could ever be confirmed, so say so now rather than after a long wait.
    let info = js
        .get_stream(&stream)
        .await
        .map_err(|err| crate::channel::jetstream_error(&js, err))?;
    if info.cached_info().config.no_ack {
        bail!(
            "the stream {stream}, which stores channel {}, does not confirm what it stores \
             (it was made with no_ack), so publish cannot tell whether an event is stored. \
             Publish to a channel that no such stream captures, or turn no_ack off on {stream}",
            config.channel
        );
    }
    Ok(client)
}

/// Fails when the event is larger than the server takes (its max payload,
/// 1 MiB unless configured otherwise).
pub fn check_size(client: &Client, payload: &[u8]) -> anyhow::Result<()> {
    let max = client.server_info().max_payload;
    if payload.len() > max {
        bail!(
            "the event is {} bytes, more than the {max} bytes the server takes (its max_payload)",
            payload.len()
        );
    }
    Ok(())
}

/// Closes the connection, sending what the client still buffers, for at most
/// [`CLOSE_WAIT`]: a server that is gone does not hold the command up.
pub async fn close(client: Client) {
    let _ = tokio::time::timeout(CLOSE_WAIT, client.drain()).await;
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

/// The publishing window of one batch: events `[base, next)` are in
/// flight, and `window[i - base]` is event `i`'s.
struct Flight {
    window: VecDeque<Slot>,
    base: u64,
    next: u64,
    published: Published,
    /// When an event was last confirmed, and when events were last sent again.
    last_progress: Instant,
    last_resend: Instant,
    /// The client's connect count when events were last sent again.
    connects_seen: u64,
    /// Whether the user was told that JetStream does not confirm events.
    said_not_ready: bool,
}

impl Flight {
    fn new(connects_seen: u64) -> Flight {
        Flight {
            window: VecDeque::with_capacity(WINDOW as usize),
            base: 0,
            next: 0,
            published: Published::default(),
            last_progress: Instant::now(),
            last_resend: Instant::now(),
            connects_seen,
            said_not_ready: false,
        }
    }

    /// When publishing gives up if no event is confirmed before.
    fn give_up_at(&self) -> Instant {
        self.last_progress + GIVE_UP_AFTER
    }
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

    /// The event's data.
    pub fn payload(&self) -> &[u8] {
        &self.payload
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
    ///
    /// Every wait ends: without any event confirmed for [`GIVE_UP_AFTER`]
    /// (the server is gone and does not come back) it fails, saying how
    /// many are stored. When `stop` resolves (Ctrl-C), nothing more is sent,
    /// the events in flight get up to [`STOP_WAIT`] to be confirmed, and it
    /// fails saying how many are stored.
    pub async fn publish(
        &self,
        client: &Client,
        out: &mut impl Write,
        notes: &mut impl Write,
        stop: impl Future<Output = ()>,
    ) -> anyhow::Result<Published> {
        tokio::pin!(stop);
        // Every ack of this batch arrives on `{inbox}.{index}`.
        let inbox = client.new_inbox();
        let mut acks = client
            .subscribe(format!("{inbox}.*"))
            .await
            .context("could not subscribe to the publish acks")?;
        let subject = Subject::from(self.channel.as_str());
        let mut flight = Flight::new(connects(client));
        // Set when `stop` resolved: the end of the wait for events in flight.
        let mut stop_by: Option<Instant> = None;
        while flight.base < self.count {
            if let Some(stop_by) = stop_by
                && (flight.base == flight.next || Instant::now() >= stop_by)
            {
                return Err(self.interrupted(&flight));
            }
            while stop_by.is_none()
                && flight.next < self.count
                && flight.next - flight.base < WINDOW
            {
                let i = flight.next;
                tokio::select! {
                    biased;
                    () = &mut stop => stop_by = Some(Instant::now() + STOP_WAIT),
                    sent = self.send_within(client, &subject, &inbox, i, &flight) => {
                        sent?;
                        flight.window.push_back(Slot::Waiting);
                        flight.next += 1;
                    }
                }
            }
            let received = tokio::select! {
                biased;
                () = &mut stop, if stop_by.is_none() => {
                    stop_by = Some(Instant::now() + STOP_WAIT);
                    continue;
                }
                received = tokio::time::timeout(RECONNECT_CHECK, acks.next()) => received,
            };
            match received {
                Ok(Some(message)) => {
                    let Some(i) = index_of(&message.subject) else {
                        continue;
                    };
                    if i < flight.base || i >= flight.next {
                        continue; // a late ack of an event already stored
                    }
                    if message.status == Some(StatusCode::NO_RESPONDERS) {
                        continue; // no stream yet (the server is starting): sent again below
                    }
                    let ack: Ack = serde_json::from_slice(&message.payload).with_context(|| {
                        format!("unreadable ack from the server: {:?}", message.payload)
                    })?;
                    if let Some(error) = ack.error {
                        // A copy sent again while the first is still being
                        // stored (a cluster without a majority): not an
                        // answer yet, the first copy's is still to come.
                        if error.description.contains("in process") {
                            continue;
                        }
                        bail!(
                            "the server refused event {} of {} on {}: {}; {}",
                            i + 1,
                            self.count,
                            self.channel,
                            error.description,
                            self.stored(&flight)
                        );
                    }
                    let slot = &mut flight.window[(i - flight.base) as usize];
                    if !matches!(slot, Slot::Stored(_)) {
                        *slot = Slot::Stored(ack.seq);
                    }
                    // Report in order, and slide the window past what is stored.
                    while let Some(Slot::Stored(seq)) = flight.window.front().copied() {
                        flight.window.pop_front();
                        flight.published.record(seq);
                        self.progress.inc();
                        if self.count <= MAX_LINES {
                            writeln!(out, "Event published to {} as event #{seq}", self.channel)?;
                        }
                        flight.base += 1;
                        flight.last_progress = Instant::now();
                    }
                }
                Ok(None) => bail!(
                    "the connection to NATS was closed; {}",
                    self.stored(&flight)
                ),
                Err(_) => {
                    let reconnected = flight.connects_seen != connects(client);
                    let quiet = flight
                        .last_progress
                        .elapsed()
                        .min(flight.last_resend.elapsed());
                    if !reconnected && quiet < ACK_TIMEOUT {
                        continue;
                    }
                    if Instant::now() >= flight.give_up_at() {
                        return Err(self.gave_up(&flight));
                    }
                    if stop_by.is_some() {
                        continue; // stopping: nothing is sent again
                    }
                    if !reconnected && !flight.said_not_ready {
                        writeln!(
                            notes,
                            "JetStream is not ready yet (no event confirmed for {}s: a cluster that \
                             lost the majority of its nodes, or a server that is starting); \
                             trying again for up to {}s...",
                            ACK_TIMEOUT.as_secs(),
                            GIVE_UP_AFTER.as_secs()
                        )?;
                        flight.said_not_ready = true;
                    }
                    // Acks stopped coming: send again whatever is not stored.
                    flight.connects_seen = connects(client);
                    for offset in 0..flight.window.len() {
                        let slot = &mut flight.window[offset];
                        if *slot == Slot::Waiting {
                            flight.published.retried += 1;
                            *slot = Slot::Retried;
                        }
                        if matches!(slot, Slot::Stored(_)) {
                            continue;
                        }
                        let i = flight.base + offset as u64;
                        tokio::select! {
                            biased;
                            () = &mut stop => {
                                stop_by = Some(Instant::now() + STOP_WAIT);
                                break;
                            }
                            sent = self.send_within(client, &subject, &inbox, i, &flight) => sent?,
                        }
                    }
                    flight.last_resend = Instant::now();
                }
            }
        }
        acks.unsubscribe().await.ok();
        self.progress.finish();
        Ok(flight.published)
    }

    /// [`Batch::send`], failing as [`Batch::gave_up`] when the client
    /// cannot take the event before the batch's deadline (while the
    /// connection is down, the client buffers only so much).
    async fn send_within(
        &self,
        client: &Client,
        subject: &Subject,
        inbox: &str,
        i: u64,
        flight: &Flight,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::from_std(flight.give_up_at());
        match tokio::time::timeout_at(deadline, self.send(client, subject, inbox, i)).await {
            Ok(sent) => sent,
            Err(_) => Err(self.gave_up(flight)),
        }
    }

    /// What is stored so far, for an error line: "5 were stored (events #1 to #5)".
    fn stored(&self, flight: &Flight) -> String {
        let published = &flight.published;
        match published.count {
            0 => "none were stored".to_owned(),
            1 => format!("1 was stored (event #{})", published.first),
            n => format!(
                "{n} were stored (events #{} to #{})",
                published.first, published.last
            ),
        }
    }

    /// The error when no event was confirmed for [`GIVE_UP_AFTER`].
    fn gave_up(&self, flight: &Flight) -> anyhow::Error {
        anyhow::anyhow!(
            "the server did not confirm event {} of {} on {} within {}s; {}. \
             Check the connection to NATS and publish again",
            flight.base + 1,
            self.count,
            self.channel,
            GIVE_UP_AFTER.as_secs(),
            self.stored(flight)
        )
    }

    /// The error after a stop (Ctrl-C) once the events in flight are
    /// confirmed, or [`STOP_WAIT`] is over.
    fn interrupted(&self, flight: &Flight) -> anyhow::Error {
        let unconfirmed = flight.next - flight.base;
        let mut line = format!(
            "interrupted before all {} events were stored on {}; {}",
            self.count,
            self.channel,
            self.stored(flight)
        );
        if unconfirmed > 0 {
            line.push_str(&format!(
                "; {unconfirmed} more were sent but not confirmed within {}s, and may be stored",
                STOP_WAIT.as_secs()
            ));
        }
        anyhow::anyhow!(line)
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
