//! The event history, and where each subscription stands in it, read over
//! the client port: what `status` shows.
//!
//! NATS Streaming showed this on its monitoring page
//! (`/streaming/channelsz?subs=1`). JetStream answers the same questions on
//! the client port, through its API, so no monitoring port is needed, and
//! a learner who only forwarded port 4222 can ask too:
//!
//! | Question | JetStream API | Here |
//! |---|---|---|
//! | Which channels are there, how many events does each keep? | `STREAM.LIST` (a stream's state) | [`read`] → [`ChannelStatus`] |
//! | Where does each subscription stand? | `CONSUMER.LIST` (a consumer's info) | [`SubscriptionStatus`] |
//! | What exactly is stored? | `DIRECT.GET` or `STREAM.MSG.GET`, one event each | [`events`] → [`StoredEvent`] |
//!
//! A subscription's place in the history is three numbers:
//! - its **ack floor**: every event up to it was acked (JetStream's
//!   `ack_floor.stream_seq`);
//! - its **delivered** position: the last event sent to a listener
//!   (`delivered.stream_seq`); events between the two were delivered and
//!   wait for their ack, unless acked out of order;
//! - its **pending** events: stored, not delivered yet (`num_pending`).
//!
//! Where a subscription starts, which its info does not say outright, is
//! worked out in [`start`].
//!
//! Nothing here creates a consumer or acks anything: looking changes nothing.
//! The one change it makes is the course's durable `unsubscribe()`
//! ([`delete_subscription`], asked for by `listen --delete-durable`).

mod get;
mod given_up;
pub mod start;
mod unsubscribe;
pub mod watch;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::HeaderMap;
use async_nats::jetstream::consumer;
use async_nats::jetstream::context::GetStreamByNameErrorKind;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use time::OffsetDateTime;

use crate::channel::Channel;
use crate::subscription::{QUEUE_GROUP_KEY, record_stream_name};
use given_up::{count_given_up, is_record};
pub use unsubscribe::{delete_subscription, find_subscription};

/// How many stored events [`events`] asks for at once: enough to keep the
/// connection busy, few enough that a slow reader holds little memory.
const EVENTS_IN_FLIGHT: usize = 64;

/// A channel (a stream) and its subscriptions (its consumers). The field
/// names are `status --json`'s keys, kept stable for scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelStatus {
    /// The channel: the subject the stream captures (its subjects, joined
    /// by `, `, for a stream made by hand that captures several).
    pub channel: String,
    /// The JetStream stream that stores the channel's events.
    pub stream: String,
    /// How many events are stored.
    pub events: u64,
    /// The first stored event's sequence (0 when none is stored).
    pub first_seq: u64,
    /// The last stored event's sequence (0 when none was ever stored).
    pub last_seq: u64,
    /// The bytes the stored events take.
    pub bytes: u64,
    /// One per subscription, by name.
    pub subscriptions: Vec<SubscriptionStatus>,
}

/// A subscription (a JetStream consumer) and its place in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionStatus {
    /// The consumer's name: the durable name, the queue group, or the
    /// client id of a listener of its own.
    pub name: String,
    /// The queue group it serves, if any.
    pub queue_group: Option<String>,
    /// Whether the server keeps it when no listener is left.
    pub durable: bool,
    /// Where it started in the history: `all`, `last`, `new`, `#N` or an
    /// RFC 3339 time.
    pub start: String,
    /// How long the server waits for an ack before sending an event again.
    pub ack_wait_ms: u64,
    /// How many times an event is sent before the server gives it up
    /// (`None`: no limit).
    pub max_deliver: Option<u64>,
    /// The sequence of the last event delivered.
    pub delivered: u64,
    /// Every event up to this sequence was acked.
    pub ack_floor: u64,
    /// Events delivered and not acked yet.
    pub ack_pending: u64,
    /// Events the server has sent again, waiting for their ack.
    pub redelivered: u64,
    /// Events stored and not delivered yet.
    pub pending: u64,
    /// Listeners waiting for events (pull requests): always 0 for a
    /// listener's own subscription, which the server pushes to.
    pub waiting: u64,
    /// How many deliveries it made, first ones and again
    /// (`delivered.consumer_seq`).
    #[serde(skip)]
    pub deliveries: u64,
    /// The delivery sequence of its ack floor (`ack_floor.consumer_seq`):
    /// 0 until its first ack moved the floor.
    #[serde(skip)]
    pub floor_delivery: u64,
    /// Whether the server pushes its events (a listener's own
    /// subscription) rather than being asked for them (pull requests).
    #[serde(skip)]
    pub pushed: bool,
    /// For a pushed subscription: whether a listener is connected to it
    /// now (`push_bound`).
    #[serde(skip)]
    pub push_bound: bool,
    /// Until when the server delivers none of its events (paused; RFC 3339,
    /// UTC), if it is paused; see [`crate::subscription::control`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
    /// Events the server gave up after `max_deliver` deliveries, as the
    /// stream that keeps their notices counts them (see
    /// [`crate::subscription::record_stream_name`]); in `--json` only when
    /// there are some.
    #[serde(skip_serializing_if = "is_zero")]
    pub given_up: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ChannelStatus {
    fn new(info: &stream::Info, mut subscriptions: Vec<SubscriptionStatus>) -> ChannelStatus {
        subscriptions.sort_by(|a, b| a.name.cmp(&b.name));
        let state = &info.state;
        ChannelStatus {
            channel: info.config.subjects.join(", "),
            stream: info.config.name.clone(),
            events: state.messages,
            first_seq: if state.messages == 0 {
                0
            } else {
                state.first_sequence
            },
            last_seq: state.last_sequence,
            bytes: state.bytes,
            subscriptions,
        }
    }
}

impl SubscriptionStatus {
    /// A consumer's info, in the course's words.
    pub fn new(info: &consumer::Info) -> SubscriptionStatus {
        let config = &info.config;
        SubscriptionStatus {
            name: info.name.clone(),
            queue_group: config.metadata.get(QUEUE_GROUP_KEY).cloned(),
            durable: config.durable_name.is_some(),
            start: start::start_position(&config.deliver_policy),
            ack_wait_ms: u64::try_from(config.ack_wait.as_millis()).unwrap_or(u64::MAX),
            max_deliver: u64::try_from(config.max_deliver).ok().filter(|n| *n > 0),
            delivered: info.delivered.stream_sequence,
            ack_floor: info.ack_floor.stream_sequence,
            ack_pending: info.num_ack_pending as u64,
            redelivered: info.num_redelivered as u64,
            pending: info.num_pending,
            waiting: info.num_waiting as u64,
            deliveries: info.delivered.consumer_sequence,
            floor_delivery: info.ack_floor.consumer_sequence,
            pushed: config.deliver_subject.is_some(),
            push_bound: info.push_bound,
            given_up: 0,
            paused_until: config
                .pause_until
                .filter(|_| info.paused)
                .map(|until| rfc3339(until.to_offset(time::UtcOffset::UTC))),
        }
    }

    /// The ack wait as a [`Duration`].
    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }
}

/// A time as RFC 3339 in UTC, to the millisecond: `2026-11-30T09:21:37.123Z`
/// (see [`crate::notes::write_rfc3339`]).
pub fn rfc3339(time: OffsetDateTime) -> String {
    let mut text = Vec::with_capacity(24);
    crate::notes::write_rfc3339(&mut text, time).expect("writing to a Vec succeeds");
    String::from_utf8(text).expect("RFC 3339 is ASCII")
}

/// Every channel and its subscriptions, or only `only` (an error that lists
/// the channels there are, when it has no stream).
pub async fn read(
    js: &jetstream::Context,
    only: Option<&Channel>,
) -> anyhow::Result<Vec<ChannelStatus>> {
    let (infos, records): (Vec<stream::Info>, Vec<stream::Info>) = match only {
        // Found by its subject; its info, read on the way, is not asked again.
        Some(channel) => (
            vec![stream_of(js, channel).await?.cached_info().clone()],
            Vec::new(),
        ),
        None => list(js)
            .await?
            .into_iter()
            .partition(|info| !is_record(info)),
    };
    let records = &records;
    // The streams' consumers are asked for all at once: one round trip in all.
    let channels = futures_util::future::try_join_all(infos.iter().map(|info| async move {
        let mut subscriptions = subscriptions(js, &info.config.name).await?;
        // The events given up, where a subscription can give some up.
        let record = record_stream_name(&info.config.name);
        let known = records.iter().find(|r| r.config.name == record);
        let maybe = match only {
            Some(_) => subscriptions.iter().any(|s| s.max_deliver.is_some()),
            None => known.is_some_and(|r| r.state.messages > 0),
        };
        if maybe {
            count_given_up(js, &info.config.name, &mut subscriptions).await?;
        }
        anyhow::Ok(ChannelStatus::new(info, subscriptions))
    }))
    .await?;
    Ok(sorted(channels))
}

/// Every channel's stored events (`STREAM.LIST`, one request per 256
/// channels), and the subscriptions of `stream`'s channel only: the other
/// channels come back with none. What a view that shows one channel at a
/// time needs, at a cost that does not grow with every channel's
/// subscriptions.
pub async fn read_all_with_one(
    js: &jetstream::Context,
    stream: Option<&str>,
) -> anyhow::Result<Vec<ChannelStatus>> {
    let infos = list(js).await?;
    let mut channels = Vec::with_capacity(infos.len());
    for info in infos.iter().filter(|info| !is_record(info)) {
        let subscriptions = if Some(info.config.name.as_str()) == stream {
            subscriptions(js, &info.config.name).await?
        } else {
            Vec::new()
        };
        channels.push(ChannelStatus::new(info, subscriptions));
    }
    Ok(sorted(channels))
}

/// The channel of the stream named `name` and its subscriptions, in two
/// requests (`STREAM.INFO`, `CONSUMER.LIST`): for a view of one channel,
/// whose stream was found once.
pub async fn read_stream(js: &jetstream::Context, name: &str) -> anyhow::Result<ChannelStatus> {
    let stream = js
        .get_stream(name)
        .await
        .with_context(|| format!("could not read the stream {name}"))?;
    let info = stream.cached_info().clone();
    let subscriptions = subscriptions_of(&stream, name).await?;
    Ok(ChannelStatus::new(&info, subscriptions))
}

/// Every stream's info.
async fn list(js: &jetstream::Context) -> anyhow::Result<Vec<stream::Info>> {
    js.streams()
        .try_collect()
        .await
        .context("could not list the channels (JetStream's STREAM.LIST)")
}

fn sorted(mut channels: Vec<ChannelStatus>) -> Vec<ChannelStatus> {
    channels.sort_by(|a, b| a.channel.cmp(&b.channel));
    channels
}

/// The subscriptions of one stream.
pub async fn subscriptions(
    js: &jetstream::Context,
    stream: &str,
) -> anyhow::Result<Vec<SubscriptionStatus>> {
    let handle = js.get_stream_no_info(stream).await?;
    subscriptions_of(&handle, stream).await
}

/// The subscriptions of `stream`, named `name`: one `CONSUMER.LIST` per
/// 256 of them.
async fn subscriptions_of<I>(
    stream: &jetstream::stream::Stream<I>,
    name: &str,
) -> anyhow::Result<Vec<SubscriptionStatus>> {
    let infos: Vec<consumer::Info> = stream
        .consumers()
        .try_collect()
        .await
        .with_context(|| format!("could not list the subscriptions of stream {name}"))?;
    let mut subscriptions: Vec<_> = infos.iter().map(SubscriptionStatus::new).collect();
    subscriptions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(subscriptions)
}

/// The name of the stream that stores `channel`, or `None` while it has
/// none (no event was published on it yet). One `STREAM.NAMES`.
pub async fn find_stream(
    js: &jetstream::Context,
    channel: &Channel,
) -> anyhow::Result<Option<String>> {
    match js.stream_by_subject(channel.as_str()).await {
        Ok(name) => Ok(Some(name)),
        Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("could not find the stream of {channel}")),
    }
}

/// The stream that stores `channel`, or an error that names the channels
/// there are. Nothing is created.
pub async fn stream_of(
    js: &jetstream::Context,
    channel: &Channel,
) -> anyhow::Result<jetstream::stream::Stream> {
    match js.stream_by_subject(channel.as_str()).await {
        Ok(name) => Ok(js.get_stream(&name).await?),
        Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => {
            let names: Vec<String> = js
                .streams()
                .try_filter(|info| std::future::ready(!is_record(info)))
                .map_ok(|info| info.config.subjects.join(", "))
                .try_collect()
                .await
                .context("could not list the channels (JetStream's STREAM.LIST)")?;
            let mut names = names;
            names.sort();
            if names.is_empty() {
                bail!(
                    "no channel {channel} on this server, and no other channel either: \
                     publish an event first (publish -c {channel})"
                );
            }
            bail!(
                "no channel {channel} on this server; the channels are: {} \
                 (or publish an event first: publish -c {channel})",
                names.join(", ")
            )
        }
        Err(err) => Err(err).with_context(|| format!("could not find the stream of {channel}")),
    }
}

/// One stored event, as the server keeps it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Its sequence in the channel.
    pub seq: u64,
    /// When the server stored it.
    pub time: OffsetDateTime,
    /// The event's data, byte for byte as published.
    pub data: Bytes,
    /// Its NATS headers, name to values, if it has any.
    pub headers: Option<BTreeMap<String, Vec<String>>>,
}

/// Which stored events [`events`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRange {
    /// From the first stored event on.
    All,
    /// From this sequence on.
    From(u64),
    /// The last N.
    Last(u64),
}

impl EventRange {
    /// The sequences to read, of a channel that stores `first..=last`.
    pub fn sequences(self, first: u64, last: u64) -> std::ops::RangeInclusive<u64> {
        let first = first.max(1);
        let from = match self {
            EventRange::All => first,
            EventRange::From(seq) => seq.max(first),
            EventRange::Last(n) => last.saturating_sub(n.saturating_sub(1)).max(first),
        };
        from..=last
    }
}

/// The stored events of `stream` in `range`, in order. Events deleted from
/// the history (a gap in the sequences) are left out. Each is read with a
/// direct get where the stream allows it, a stream get otherwise; neither
/// creates a consumer.
pub fn events(
    js: &jetstream::Context,
    stream: jetstream::stream::Stream,
    range: EventRange,
) -> impl Stream<Item = anyhow::Result<StoredEvent>> {
    let js = js.clone();
    let info = stream.cached_info();
    let sequences = range.sequences(info.state.first_sequence, info.state.last_sequence);
    let direct = info.config.allow_direct;
    let stream = std::sync::Arc::new(stream);
    futures_util::stream::iter(sequences)
        .map(move |seq| {
            let (js, stream) = (js.clone(), stream.clone());
            async move { get::get(&js, &stream, seq, direct).await }
        })
        .buffered(EVENTS_IN_FLIGHT)
        .filter_map(|result| async move { result.transpose() })
}

/// The headers an application set, as name to values, leaving out JetStream's own: the
/// `Nats-Msg-Id` that `publish` sets for exactly-once, and those the server
/// adds to a direct get's answer (`Nats-Sequence`, `Nats-Time-Stamp`, ...).
pub fn user_headers(map: &HeaderMap) -> Option<BTreeMap<String, Vec<String>>> {
    // Nearly every event has only the `Nats-Msg-Id`: nothing to allocate then.
    if map.iter().all(|(name, _)| {
        let name: &str = name.as_ref();
        name.starts_with("Nats-")
    }) {
        return None;
    }
    let mut headers = BTreeMap::new();
    for (name, values) in map.iter() {
        let name: &str = name.as_ref();
        if name.starts_with("Nats-") {
            continue;
        }
        headers.insert(
            name.to_owned(),
            values.iter().map(|v| v.as_str().to_owned()).collect(),
        );
    }
    (!headers.is_empty()).then_some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_of_the_last_events_never_starts_before_the_first() {
        assert_eq!(EventRange::Last(3).sequences(1, 10), 8..=10);
        assert_eq!(EventRange::Last(30).sequences(5, 10), 5..=10);
        assert_eq!(EventRange::From(7).sequences(1, 10), 7..=10);
        assert_eq!(EventRange::From(0).sequences(4, 10), 4..=10);
        assert_eq!(EventRange::All.sequences(0, 0).count(), 0);
    }

    #[test]
    fn times_are_rfc3339_utc_to_the_millisecond() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_796_030_497_123_456_789).unwrap();
        assert_eq!(rfc3339(t), "2026-11-30T09:21:37.123Z");
    }
}
