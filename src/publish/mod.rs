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
//! stored twice, as long as the window spans the copies ([`Prepared`] says
//! whether the channel's stream's does). [`Window`] keeps that account; [`Batch`] is the one way to
//! publish, for the `publish` command and the library's
//! [`Publisher`](crate::Publisher) alike.
//!
//! A batch is one event sent `count` times ([`Batch::new`], `publish
//! --count`), or a sequence of events sent in order ([`Batch::each`]; for
//! millions of small events, packed in one buffer, [`Batch::packed`],
//! `publish --lines`); either may carry headers of the caller's
//! ([`Batch::with_headers`]) next to its `Nats-Msg-Id`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use async_nats::{Client, HeaderMap};
use bytes::Bytes;

use crate::channel::{Channel, ClusterWait, jetstream_error};
use crate::connection::connect_count;
use crate::notes::Notes;

mod packed;
mod send;
mod window;

pub use packed::Packed;
pub use window::Window;

/// An event the server will not take, said by the stream (a limit of its:
/// `maximum messages exceeded`) or known before sending (larger than the
/// server's max payload). The same event sent again gets the same answer,
/// so a caller that tries again after a lost connection (watch mode) should
/// not try again after this: it is in the chain of the error a publish
/// returns (`err.is::<Refused>()`).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

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

/// Publishing gave up: no event was confirmed for [`GIVE_UP_AFTER`]. The
/// server has been silent that long, so closing the connection gracefully
/// (sending what the client still buffers) would only make the caller wait
/// longer: drop the client instead.
#[derive(Debug)]
pub struct GaveUp(String);

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GaveUp {}

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

/// The channel's stream, as [`prepare`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The stream's name.
    pub stream: String,
    /// Its duplicate window: a copy of an event (the same `Nats-Msg-Id`)
    /// that arrives within it of the first is dropped.
    pub duplicate_window: Duration,
}

impl Prepared {
    /// Whether the stream drops every copy a publish may send: copies of an
    /// event go out for up to [`GIVE_UP_AFTER`] after it. A stream made
    /// here keeps JetStream's default, 2 minutes; one made by someone else
    /// (`nats stream add --dupe-window 100ms`) may keep less, and then an
    /// event sent again after a lost connection may be stored twice.
    pub fn exactly_once(&self) -> bool {
        self.duplicate_window >= GIVE_UP_AFTER
    }
}

/// Makes sure the channel's stream exists and confirms what it stores, so
/// that publishing can be exactly once: the start of every publish. Says
/// how long the stream drops copies ([`Prepared::exactly_once`]).
pub async fn prepare(
    client: &Client,
    channel: &Channel,
    replicas: usize,
    notes: &Notes,
) -> anyhow::Result<Prepared> {
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
    let config = &info.cached_info().config;
    if config.no_ack {
        bail!(
            "the stream {stream}, which stores channel {channel}, does not confirm what it stores \
             (it was made with no_ack), so publish cannot tell whether an event is stored. \
             Publish to a channel that no such stream captures, or turn no_ack off on {stream}",
        );
    }
    Ok(Prepared {
        duplicate_window: config.duplicate_window,
        stream,
    })
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
    /// How many copies a stream made for the batch keeps (1 by default).
    replicas: usize,
}

/// The data of a batch's events. Both share their bytes: sending an event
/// copies no data and allocates nothing for it.
#[derive(Debug, Clone)]
enum Events {
    /// One event, sent `count` times.
    Repeat(Bytes),
    /// Event `i` is the `i`th of these.
    Each(Arc<[Bytes]>),
    /// Event `i` is the `i`th of these, in one buffer.
    Packed(Packed),
}

/// The framing of a header block: `NATS/1.0\r\n` before the headers,
/// `\r\n` after them.
const HEADER_FRAMING: usize = 10 + 2;

/// The length of a batch's id prefix: 8 random bytes in hex.
const ID_PREFIX_LEN: usize = 16;

/// The bytes the header block of event `index` of a batch takes on the
/// wire: the caller's `headers` and the `Nats-Msg-Id` (`{prefix}-{index}`),
/// framed as async-nats writes them. The server's max_payload counts them
/// together with the event's data.
pub fn headers_size(headers: &HeaderMap, index: u64) -> usize {
    header_block(own_headers_len(headers), index)
}

/// `Name: value\r\n` for every header of the caller's.
fn own_headers_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |v| name.len() + v.as_str().len() + 4)
        })
        .sum()
}

/// [`headers_size`], given the caller's headers' length.
fn header_block(own: usize, index: u64) -> usize {
    let digits = index.checked_ilog10().map_or(1, |log| log as usize + 1);
    let id = "Nats-Msg-Id".len() + 2 + ID_PREFIX_LEN + 1 + digits + 2;
    HEADER_FRAMING + own + id
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

    /// A batch of these events on `channel`, sent and stored in this
    /// order, with fresh ids: [`Batch::each`] without a [`Bytes`] per event.
    pub fn packed(channel: Channel, events: Packed) -> Batch {
        let count = events.len() as u64;
        Batch::of(channel, Events::Packed(events), count)
    }

    fn of(channel: Channel, events: Events, count: u64) -> Batch {
        Batch {
            channel,
            events,
            count,
            headers: HeaderMap::new(),
            headers_len: 0,
            id_prefix: hex::encode(rand::random::<[u8; 8]>()),
            replicas: 1,
        }
    }

    /// The batch, making the channel's stream with this many replicas if
    /// it has to (the stream was deleted while publishing, say), as the
    /// stream [`prepare`] made.
    pub fn with_replicas(mut self, replicas: usize) -> Batch {
        self.replicas = replicas;
        self
    }

    /// The batch with these headers on every event, next to the
    /// `Nats-Msg-Id` it sets itself (a `Nats-Msg-Id` among them is replaced).
    pub fn with_headers(mut self, headers: HeaderMap) -> Batch {
        self.headers_len = own_headers_len(&headers);
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

    /// Event `i`'s data, sharing the batch's bytes (no copy).
    fn payload(&self, i: u64) -> Bytes {
        match &self.events {
            Events::Repeat(payload) => payload.clone(),
            Events::Each(payloads) => payloads[i as usize].clone(),
            Events::Packed(packed) => packed.get(i as usize),
        }
    }

    /// Fails when an event of the batch, with its headers (its
    /// `Nats-Msg-Id` and the caller's), is larger than the server takes
    /// (its max payload, 1 MiB unless configured otherwise).
    pub fn check_size(&self, client: &Client) -> anyhow::Result<()> {
        let max = client.server_info().max_payload;
        // The largest event on the wire, and its index.
        let largest = |sizes: &mut dyn Iterator<Item = usize>| {
            (0u64..)
                .zip(sizes)
                .max_by_key(|&(i, len)| len + header_block(self.headers_len, i))
                .unwrap_or((0, 0))
        };
        let (index, data) = match &self.events {
            Events::Repeat(payload) => (self.count.saturating_sub(1), payload.len()),
            Events::Each(payloads) => largest(&mut payloads.iter().map(Bytes::len)),
            Events::Packed(packed) => largest(&mut packed.sizes()),
        };
        let headers = header_block(self.headers_len, index);
        if data + headers > max {
            let which = match &self.events {
                Events::Repeat(_) => "the event".to_owned(),
                Events::Each(_) | Events::Packed(_) => {
                    format!("event {} of {}", index + 1, self.count)
                }
            };
            let whose = if self.headers_len > 0 {
                "its Nats-Msg-Id, which makes publishing exactly once, and the headers given"
            } else {
                "its Nats-Msg-Id, which makes publishing exactly once"
            };
            bail!(
                "{which} is {data} bytes, and {total} bytes with its headers ({whose}): more than \
                 the {max} bytes the server takes (its max_payload). Make it smaller, or raise the \
                 server's max_payload",
                total = data + headers,
            );
        }
        Ok(())
    }
}
