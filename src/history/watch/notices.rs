//! The notices `status --live` follows: the ack reports and the consumer
//! advisories of the module doc's table, subscribed to ([`Notices`]) and
//! read ([`Notice::parse`]); and one stored event, read for the live view's
//! popup ([`event`]).

use anyhow::Context as _;
use async_nats::{Client, Subscriber};
use futures_util::StreamExt as _;
use futures_util::stream::Select;
use serde::Deserialize;

use crate::history::StoredEvent;

/// The subject prefix of the ack reports (`sample_frequency`).
pub const ACK_METRICS: &str = "$JS.EVENT.METRIC.CONSUMER.ACK";

/// The subject prefix of the consumers' advisories.
pub const CONSUMER_ADVISORIES: &str = "$JS.EVENT.ADVISORY.CONSUMER";

/// What the server said about one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The stream (the channel's).
    pub stream: String,
    /// The consumer (the subscription).
    pub consumer: String,
    /// What happened.
    pub kind: NoticeKind,
}

/// What happened, by the notice's JSON `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Event `seq` was acked, after `deliveries` deliveries.
    Acked {
        /// The event's stream sequence.
        seq: u64,
        /// How many times it was delivered.
        deliveries: u64,
    },
    /// Event `seq` was NAKed at its `deliveries`th delivery: the server
    /// sends it again at once.
    Naked {
        /// The event's stream sequence.
        seq: u64,
        /// How many times it was delivered.
        deliveries: u64,
    },
    /// Event `seq` was given up: delivered `deliveries` times (the
    /// subscription's max deliver) without an ack, or terminated by its
    /// listener. The server never sends it again.
    GivenUp {
        /// The event's stream sequence.
        seq: u64,
        /// How many times it was delivered.
        deliveries: u64,
    },
    /// The subscription was created or deleted: what was known of it is
    /// void, and its info is worth asking for now.
    Changed,
}

/// The fields the notices share (the server's `JSConsumerAckMetric`,
/// `JSConsumerDeliveryNakAdvisory`, `JSConsumerDeliveryTerminatedAdvisory`,
/// `JSConsumerDeliveryExceededAdvisory` and `JSConsumerActionAdvisory`).
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    consumer: String,
    #[serde(default)]
    stream_seq: u64,
    #[serde(default)]
    deliveries: u64,
}

impl Notice {
    /// Reads a notice's JSON; `None` for other advisories (leader elected,
    /// paused, ...) and for what is not JSON.
    pub fn parse(payload: &[u8]) -> Option<Notice> {
        let wire: Wire = serde_json::from_slice(payload).ok()?;
        let (seq, deliveries) = (wire.stream_seq, wire.deliveries);
        let kind = match wire.kind.as_str() {
            "io.nats.jetstream.metric.v1.consumer_ack" => NoticeKind::Acked { seq, deliveries },
            "io.nats.jetstream.advisory.v1.nak" => NoticeKind::Naked { seq, deliveries },
            "io.nats.jetstream.advisory.v1.terminated"
            | "io.nats.jetstream.advisory.v1.max_deliver" => {
                NoticeKind::GivenUp { seq, deliveries }
            }
            "io.nats.jetstream.advisory.v1.consumer_action" => NoticeKind::Changed,
            _ => return None,
        };
        if seq == 0 && kind != NoticeKind::Changed {
            return None;
        }
        Some(Notice {
            stream: wire.stream,
            consumer: wire.consumer,
            kind,
        })
    }
}

/// The ack reports and advisories of one stream's subscriptions (or of
/// every stream's), as they come.
pub struct Notices {
    subscribers: Select<Subscriber, Subscriber>,
}

impl Notices {
    /// Subscribes to the notices of `stream`'s subscriptions, or of every
    /// stream's with `None`. While this subscription lasts, the server
    /// reports the acks of every subscription that samples them.
    pub async fn subscribe(client: &Client, stream: Option<&str>) -> anyhow::Result<Notices> {
        let stream = stream.unwrap_or("*");
        let acks = client
            .subscribe(format!("{ACK_METRICS}.{stream}.*"))
            .await
            .context("could not subscribe to the ack reports")?;
        let advisories = client
            .subscribe(format!("{CONSUMER_ADVISORIES}.*.{stream}.*"))
            .await
            .context("could not subscribe to the subscriptions' advisories")?;
        Ok(Notices {
            subscribers: futures_util::stream::select(acks, advisories),
        })
    }

    /// The next notice, or `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<Notice> {
        loop {
            let message = self.subscribers.next().await?;
            if let Some(notice) = Notice::parse(&message.payload) {
                return Some(notice);
            }
        }
    }
}

/// The most give-up notices [`given_up`] reads, the newest.
pub const GIVEN_UP_READ: u64 = 1000;

/// The notices of the events `stream`'s subscriptions gave up before now,
/// from the stream that keeps them
/// ([`crate::subscription::record_stream_name`]; none when it does not
/// exist): for a view that starts after the advisories were sent. At most
/// the newest [`GIVEN_UP_READ`], one stream get each.
pub async fn given_up(
    js: &async_nats::jetstream::Context,
    stream: &str,
) -> anyhow::Result<Vec<Notice>> {
    let Ok(mut record) = js
        .get_stream(crate::subscription::record_stream_name(stream))
        .await
    else {
        return Ok(Vec::new());
    };
    let state = record
        .info()
        .await
        .context("could not read the events given up")?
        .state
        .clone();
    if state.messages == 0 {
        return Ok(Vec::new());
    }
    let from = state
        .first_sequence
        .max(state.last_sequence.saturating_sub(GIVEN_UP_READ - 1));
    let mut notices = Vec::new();
    for seq in from..=state.last_sequence {
        // Deleted ones (a gap) are skipped.
        if let Ok(message) = record.get_raw_message(seq).await
            && let Some(notice) = Notice::parse(&message.payload)
        {
            notices.push(notice);
        }
    }
    Ok(notices)
}

/// Event `seq` of the stream named `stream`, read with a direct or stream
/// get (no consumer); `None` if it is not stored (deleted, or not yet).
pub async fn event(
    js: &async_nats::jetstream::Context,
    stream: &str,
    seq: u64,
) -> anyhow::Result<Option<StoredEvent>> {
    let stream = js
        .get_stream(stream)
        .await
        .with_context(|| format!("could not find stream {stream}"))?;
    let direct = stream.cached_info().config.allow_direct;
    crate::history::get::get(js, &stream, seq, direct).await
}
