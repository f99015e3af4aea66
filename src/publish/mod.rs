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
//! stored twice. [`Window`] keeps that account; [`Batch`] is the one way to
//! publish, for the `publish` command and the library's
//! [`Publisher`](crate::Publisher) alike.
//!
//! A batch is one event sent `count` times ([`Batch::new`], `publish
//! --count`), or a sequence of events sent in order ([`Batch::each`],
//! `publish --lines`); either may carry headers of the caller's
//! ([`Batch::with_headers`]) next to its `Nats-Msg-Id`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::{Client, HeaderMap, StatusCode, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::channel::{Channel, ClusterWait, jetstream_error};
use crate::connection::connect_count;
use crate::notes::Notes;

mod window;

pub use window::Window;

/// How many events may wait for their ack at once.
pub const WINDOW: u64 = 4096;

/// With events in flight and no ack for this long, they are sent again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// While waiting for acks, how often to check for a reconnect.
const RECONNECT_CHECK: Duration = Duration::from_millis(250);

/// How long publishing goes on without any event confirmed before it gives up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// After a stop (Ctrl-C), how long the events in flight may take to be confirmed.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// One event stored, as its ack said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The event's sequence in the stream.
    pub sequence: u64,
    /// Whether the stream had stored it already (a copy sent again after
    /// a lost ack): it is stored once either way, under `sequence`.
    pub duplicate: bool,
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

impl Published {
    pub(crate) fn record(&mut self, sequence: u64) {
        if self.count == 0 || sequence < self.first {
            self.first = sequence;
        }
        self.last = self.last.max(sequence);
        self.count += 1;
    }

    /// What is stored, for a message: "5 were stored (events #1 to #5)".
    pub fn describe(&self) -> String {
        match self.count {
            0 => "none were stored".to_owned(),
            1 => format!("1 was stored (event #{})", self.first),
            n => format!("{n} were stored (events #{} to #{})", self.first, self.last),
        }
    }
}

/// Makes sure the channel's stream exists and confirms what it stores, so
/// that publishing can be exactly once: the start of every publish.
pub async fn prepare(
    client: &Client,
    channel: &Channel,
    replicas: usize,
    notes: &Notes,
) -> anyhow::Result<()> {
    let js = async_nats::jetstream::new(client.clone());
    // One wait for a settling cluster (its stream leader just died, say),
    // shared by both requests.
    let mut wait = ClusterWait::new(notes.clone());
    let stream = channel
        .find_or_create_stream(&js, replicas, &mut wait)
        .await?;
    // A stream made with no_ack stores events without a word: no publish
    // could ever be confirmed, so say so now rather than after a long wait.
    let info = loop {
        match js.get_stream(&stream).await {
            Ok(info) => break info,
            Err(err) => {
                let err = jetstream_error(&js, err);
                if !wait.retry_after(&err).await {
                    return Err(err);
                }
            }
        }
    };
    if info.cached_info().config.no_ack {
        bail!(
            "the stream {stream}, which stores channel {channel}, does not confirm what it stores \
             (it was made with no_ack), so publish cannot tell whether an event is stored. \
             Publish to a channel that no such stream captures, or turn no_ack off on {stream}",
        );
    }
    Ok(())
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

/// `count` copies of one event, or a sequence of events, each with its
/// own `Nats-Msg-Id`.
#[derive(Debug, Clone)]
pub struct Batch {
    channel: Channel,
    events: Events,
    count: u64,
    /// The caller's headers, sent with every event; empty for most batches.
    headers: HeaderMap,
    /// The size of `headers` on the wire, counted against max_payload.
    headers_len: usize,
    /// Unique to this batch; event `i` has the id `{id_prefix}-{i}`.
    id_prefix: String,
}

/// The data of a batch's events. Both share their bytes: sending an event
/// copies no data and allocates nothing for it.
#[derive(Debug, Clone)]
enum Events {
    /// One event, sent `count` times.
    Repeat(Bytes),
    /// Event `i` is the `i`th of these.
    Each(Arc<[Bytes]>),
}

/// The room the `Nats-Msg-Id` header and the header block's framing take
/// (`NATS/1.0`, the id of 16 hex digits, a dash and an index, line ends).
const ID_HEADER_LEN: usize = 64;

/// The stream's answer to one publish. Only what is read is parsed, and
/// nothing is copied: acks arrive once per event.
#[derive(Debug, Deserialize)]
struct Ack<'a> {
    /// For a duplicate (`"duplicate":true`), the sequence of the copy
    /// stored earlier: either way, the event is stored once.
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    duplicate: bool,
    #[serde(borrow, default)]
    error: Option<AckError<'a>>,
}

#[derive(Debug, Deserialize)]
struct AckError<'a> {
    #[serde(borrow, default)]
    description: &'a str,
}

/// The clock of one publish: when an event was last confirmed, when events
/// were last sent again, and what the client's connect count was then.
struct Timing {
    last_progress: Instant,
    last_resend: Instant,
    connects_seen: u64,
    said_not_ready: bool,
}

impl Timing {
    /// When publishing gives up if no event is confirmed before.
    fn give_up_at(&self) -> Instant {
        self.last_progress + GIVE_UP_AFTER
    }
}

/// One publish of a batch under way: the connection, the window and the
/// clock.
struct Run<'a> {
    batch: &'a Batch,
    client: &'a Client,
    notes: &'a Notes,
    subject: Subject,
    inbox: String,
    window: Window,
    timing: Timing,
    /// Whether this run already made the channel's missing stream.
    stream_made: bool,
}

impl Run<'_> {
    /// Sends event `i`, failing as [`Batch::gave_up`] when the client
    /// cannot take it before the deadline (while the connection is down,
    /// the client buffers only so much).
    async fn send(&self, i: u64) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::from_std(self.timing.give_up_at());
        let send = self.batch.send(self.client, &self.subject, &self.inbox, i);
        match tokio::time::timeout_at(deadline, send).await {
            Ok(sent) => sent,
            Err(_) => Err(self.batch.gave_up(&self.window)),
        }
    }

    /// Takes one message of the ack inbox: an event stored (reported in
    /// order through `on_stored`), a refusal, or no stream to answer.
    async fn on_ack<E>(
        &mut self,
        message: async_nats::Message,
        on_stored: &mut impl FnMut(Stored) -> Result<(), E>,
    ) -> anyhow::Result<()>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let Some(i) = index_of(&message.subject) else {
            return Ok(());
        };
        if !self.window.holds(i) {
            return Ok(()); // a late ack of an event already stored
        }
        if message.status == Some(StatusCode::NO_RESPONDERS) {
            // No stream captures the channel: make it once, and send the
            // event again. (While a server starts, the stream may just not
            // be loaded yet: it is sent again when acks stop coming.)
            if !self.stream_made {
                prepare(self.client, &self.batch.channel, 1, self.notes).await?;
                self.stream_made = true;
                self.send(i).await?;
            }
            return Ok(());
        }
        let ack: Ack = serde_json::from_slice(&message.payload)
            .with_context(|| format!("unreadable ack from the server: {:?}", message.payload))?;
        if let Some(error) = ack.error {
            // A copy sent again while the first is still being stored (a
            // cluster without a majority): not an answer yet, the first
            // copy's is still to come.
            if error.description.contains("in process") {
                return Ok(());
            }
            bail!(
                "the server refused event {} of {} on {}: {}; {}",
                i + 1,
                self.batch.count,
                self.batch.channel,
                error.description,
                self.window.published().describe()
            );
        }
        let stored = Stored {
            sequence: ack.seq,
            duplicate: ack.duplicate,
        };
        self.window.record_ack(i, stored);
        // Report in order, and slide the window past what is stored.
        while let Some(stored) = self.window.pop_stored() {
            on_stored(stored)?;
            self.timing.last_progress = Instant::now();
        }
        Ok(())
    }
}

impl Batch {
    /// A batch of `payload` on `channel`, `count` times, with fresh ids.
    pub fn new(channel: Channel, payload: Bytes, count: u64) -> Batch {
        Batch::of(channel, Events::Repeat(payload), count)
    }

    /// A batch of these events on `channel`, sent and stored in this
    /// order, with fresh ids. Payloads cut from one buffer
    /// ([`Bytes::slice`]) share it.
    pub fn each(channel: Channel, payloads: Vec<Bytes>) -> Batch {
        let count = payloads.len() as u64;
        Batch::of(channel, Events::Each(payloads.into()), count)
    }

    fn of(channel: Channel, events: Events, count: u64) -> Batch {
        Batch {
            channel,
            events,
            count,
            headers: HeaderMap::new(),
            headers_len: 0,
            id_prefix: hex::encode(rand::random::<[u8; 8]>()),
        }
    }

    /// The batch with these headers on every event, next to the
    /// `Nats-Msg-Id` it sets itself (a `Nats-Msg-Id` among them is replaced).
    pub fn with_headers(mut self, headers: HeaderMap) -> Batch {
        self.headers_len = headers
            .iter()
            .flat_map(|(name, values)| {
                // `Name: value\r\n`
                let name: &str = name.as_ref();
                values
                    .iter()
                    .map(move |v| name.len() + v.as_str().len() + 4)
            })
            .sum();
        self.headers = headers;
        self
    }

    /// How many events the batch holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Event `i`'s data.
    fn payload(&self, i: u64) -> &Bytes {
        match &self.events {
            Events::Repeat(payload) => payload,
            Events::Each(payloads) => &payloads[i as usize],
        }
    }

    /// Fails when an event of the batch, with its headers, is larger than
    /// the server takes (its max payload, 1 MiB unless configured otherwise).
    pub fn check_size(&self, client: &Client) -> anyhow::Result<()> {
        let largest = match &self.events {
            Events::Repeat(payload) => payload.len(),
            Events::Each(payloads) => payloads.iter().map(Bytes::len).max().unwrap_or(0),
        };
        let max = client.server_info().max_payload;
        let headers = if self.headers.is_empty() {
            0
        } else {
            self.headers_len + ID_HEADER_LEN
        };
        if largest + headers > max {
            let with = if headers > 0 {
                format!(" (with {headers} bytes of headers)")
            } else {
                String::new()
            };
            bail!(
                "the event is {largest} bytes{with}, more than the {max} bytes the server takes (its max_payload)",
            );
        }
        Ok(())
    }

    /// Publishes the batch, pipelined, and waits until every event is
    /// stored; `on_stored` hears each event's sequence, in order. Publishing
    /// the same batch again (after an error) stores only what is missing.
    ///
    /// Every wait ends: without any event confirmed for [`GIVE_UP_AFTER`]
    /// (the server is gone and does not come back) it fails, saying how
    /// many are stored. When `stop` resolves (Ctrl-C), nothing more is sent,
    /// the events in flight get up to [`STOP_WAIT`] to be confirmed, and it
    /// fails saying how many are stored. A stream that is missing (no stream
    /// captures the channel yet) is created on the way.
    pub async fn publish<E>(
        &self,
        client: &Client,
        notes: &Notes,
        stop: impl Future<Output = ()>,
        mut on_stored: impl FnMut(u64) -> Result<(), E>,
    ) -> anyhow::Result<Published>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.publish_each(client, notes, stop, |stored| on_stored(stored.sequence))
            .await
    }

    /// [`publish`](Batch::publish), telling `on_stored` for each event, in
    /// order, whether the stream had it already ([`Stored::duplicate`]).
    pub async fn publish_each<E>(
        &self,
        client: &Client,
        notes: &Notes,
        stop: impl Future<Output = ()>,
        mut on_stored: impl FnMut(Stored) -> Result<(), E>,
    ) -> anyhow::Result<Published>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        tokio::pin!(stop);
        // Every ack of this batch arrives on `{inbox}.{index}`.
        let inbox = client.new_inbox();
        let mut acks = client
            .subscribe(format!("{inbox}.*"))
            .await
            .context("could not subscribe to the publish acks")?;
        let mut run = Run {
            batch: self,
            client,
            notes,
            subject: Subject::from(self.channel.as_str()),
            inbox,
            window: Window::new(),
            timing: Timing {
                last_progress: Instant::now(),
                last_resend: Instant::now(),
                connects_seen: connect_count(client),
                said_not_ready: false,
            },
            stream_made: false,
        };
        // Set when `stop` resolved: the end of the wait for events in flight.
        let mut stop_by: Option<Instant> = None;
        while run.window.base() < self.count {
            if let Some(stop_by) = stop_by
                && (run.window.in_flight() == 0 || Instant::now() >= stop_by)
            {
                return Err(self.interrupted(&run.window));
            }
            // Fill the window. While the client cannot take an event (the
            // connection is down, its buffer full), acks are read meanwhile.
            while stop_by.is_none()
                && run.window.sent() < self.count
                && run.window.in_flight() < WINDOW
            {
                let i = run.window.sent();
                tokio::select! {
                    biased;
                    () = &mut stop => stop_by = Some(Instant::now() + STOP_WAIT),
                    sent = run.send(i) => {
                        sent?;
                        run.window.push();
                    }
                    Some(message) = acks.next() => run.on_ack(message, &mut on_stored).await?,
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
                Ok(Some(message)) => run.on_ack(message, &mut on_stored).await?,
                Ok(None) => bail!(
                    "the connection to NATS was closed; {}",
                    run.window.published().describe()
                ),
                Err(_) => {
                    let reconnected = run.timing.connects_seen != connect_count(client);
                    let quiet = run
                        .timing
                        .last_progress
                        .elapsed()
                        .min(run.timing.last_resend.elapsed());
                    if !reconnected && quiet < ACK_TIMEOUT {
                        continue;
                    }
                    if Instant::now() >= run.timing.give_up_at() {
                        return Err(self.gave_up(&run.window));
                    }
                    if stop_by.is_some() {
                        continue; // stopping: nothing is sent again
                    }
                    if !reconnected && !run.timing.said_not_ready {
                        notes.say(format_args!(
                            "JetStream is not ready yet (no event confirmed for {}s: a cluster that \
                             lost the majority of its nodes, or a server that is starting); \
                             trying again for up to {}s...",
                            ACK_TIMEOUT.as_secs(),
                            GIVE_UP_AFTER.as_secs()
                        ));
                        run.timing.said_not_ready = true;
                    }
                    // Acks stopped coming: send again whatever is not stored.
                    run.timing.connects_seen = connect_count(client);
                    for i in run.window.to_resend() {
                        tokio::select! {
                            biased;
                            () = &mut stop => {
                                stop_by = Some(Instant::now() + STOP_WAIT);
                                break;
                            }
                            sent = run.send(i) => sent?,
                        }
                    }
                    run.timing.last_resend = Instant::now();
                }
            }
        }
        acks.unsubscribe().await.ok();
        Ok(run.window.published())
    }

    /// The error when no event was confirmed for [`GIVE_UP_AFTER`].
    fn gave_up(&self, window: &Window) -> anyhow::Error {
        anyhow::anyhow!(
            "the server did not confirm event {} of {} on {} within {}s; {}. \
             Check the connection to NATS and publish again",
            window.base() + 1,
            self.count,
            self.channel,
            GIVE_UP_AFTER.as_secs(),
            window.published().describe()
        )
    }

    /// The error after a stop (Ctrl-C) once the events in flight are
    /// confirmed, or [`STOP_WAIT`] is over.
    fn interrupted(&self, window: &Window) -> anyhow::Error {
        let mut line = format!(
            "interrupted before all {} events were stored on {}; {}",
            self.count,
            self.channel,
            window.published().describe()
        );
        if window.in_flight() > 0 {
            line.push_str(&format!(
                "; {} more were sent but not confirmed within {}s, and may be stored",
                window.in_flight(),
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
        let mut headers = if self.headers.is_empty() {
            HeaderMap::new()
        } else {
            self.headers.clone()
        };
        headers.insert(NATS_MESSAGE_ID, format!("{}-{i}", self.id_prefix));
        // Bytes and Subject are reference counted: every event shares them.
        client
            .publish_with_reply_and_headers(
                subject.clone(),
                format!("{inbox}.{i}"),
                headers,
                self.payload(i).clone(),
            )
            .await
            .context("could not send the event")
    }
}

/// The index at the end of an ack's subject, `{inbox}.{index}`.
fn index_of(subject: &str) -> Option<u64> {
    subject.rsplit('.').next()?.parse().ok()
}
