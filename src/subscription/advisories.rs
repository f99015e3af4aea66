//! Events the server gave up (`max_deliver`), kept so none is missed, and
//! sent on to a dead-letter channel.
//!
//! When a consumer has delivered an event `max_deliver` times without an
//! ack, the server stops and announces it on the advisory subject
//! `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`. An
//! advisory is a plain NATS message: nobody listening, it is gone. So a
//! stream of the channel's own, [`record_stream_name`], keeps them (the
//! engine's way to a dead-letter queue), made before the consumer is, and
//! a listener reads the notices of its subscription from it through a
//! consumer of the same name: a notice sent while no listener ran is
//! read when one starts, and one is settled only once the caller has
//! reported it ([`GiveUpNotices::done`]).
//!
//! With a dead-letter channel, each given-up event is published there first:
//! its data and headers, with headers naming where it came from, and a
//! `Nats-Msg-Id` made of the stream, the sequence and the consumer, so a
//! notice read twice (a listener killed before it settled it) stores one
//! event (within the dead-letter stream's duplicate window, 2 minutes).

use super::*;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::Stream as Pulled;

/// The header naming the channel a dead letter came from.
pub const DEAD_LETTER_CHANNEL: &str = "Dead-Letter-Channel";
/// The header with the dead letter's sequence in that channel.
pub const DEAD_LETTER_SEQUENCE: &str = "Dead-Letter-Sequence";
/// The header with how many times it was delivered before it was given up.
pub const DEAD_LETTER_DELIVERIES: &str = "Dead-Letter-Deliveries";
/// The header naming the subscription (the consumer) that gave it up.
pub const DEAD_LETTER_SUBSCRIPTION: &str = "Dead-Letter-Subscription";

/// An event the server stopped delivering: it was delivered `max_deliver`
/// times and never acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct GivenUp {
    /// The event's number in its channel.
    #[serde(rename = "stream_seq")]
    pub sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// Where it went on the dead-letter channel, if there is one.
    #[serde(skip)]
    pub dead_letter: Option<DeadLetter>,
}

/// A given-up event sent to the dead-letter channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter channel.
    pub sequence: u64,
    /// It was there already (a notice read again after a listener died
    /// before settling it): not stored twice.
    pub duplicate: bool,
}

/// The stream that keeps the give-up notices of the consumers of `stream`.
pub fn record_stream_name(stream: &str) -> String {
    format!("GIVEN_UP_{stream}")
}

/// The advisory subject of the events `consumer` of `stream` gave up.
pub fn record_subject(stream: &str, consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
}

/// Makes the stream that keeps the give-up notices of `stream`'s consumers,
/// unless it is there: before a consumer that may give events up exists.
pub(super) async fn ensure_record(
    js: &jetstream::Context,
    stream: &jetstream::stream::Stream,
) -> anyhow::Result<jetstream::stream::Stream> {
    let source = &stream.cached_info().config;
    js.get_or_create_stream(jetstream::stream::Config {
        name: record_stream_name(&source.name),
        subjects: vec![record_subject(&source.name, "*")],
        storage: jetstream::stream::StorageType::File,
        num_replicas: source.num_replicas,
        ..Default::default()
    })
    .await
    .with_context(|| {
        format!(
            "could not make the stream {} that keeps the events given up",
            record_stream_name(&source.name)
        )
    })
}

/// The [`GivenUp`] notices of one subscription.
pub struct GiveUpNotices {
    records: Pulled,
    source: jetstream::stream::Stream,
    js: jetstream::Context,
    consumer: String,
    dead_letters: Option<Channel>,
    /// The notice being read: kept here from the moment it arrives, so a
    /// `next` cut short (it races the events) takes it up again, and
    /// settled by `done` once reported.
    current: Option<jetstream::Message>,
}

/// How long a listener has to report a notice it read before the server
/// sends it again (to it, or to another member of its queue group).
const NOTICE_ACK_WAIT: Duration = Duration::from_secs(5);

impl std::fmt::Debug for GiveUpNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GiveUpNotices")
            .field("consumer", &self.consumer)
            .field("dead_letters", &self.dead_letters)
            .finish_non_exhaustive()
    }
}

impl GiveUpNotices {
    /// Reads the notices of `consumer` from `record` (see
    /// [`ensure_record`]) through a consumer of the same name there,
    /// durable when the subscription is; with `dead_letters`, makes that
    /// channel's stream if needed.
    pub(super) async fn open(
        js: &jetstream::Context,
        record: &jetstream::stream::Stream,
        source: &jetstream::stream::Stream,
        consumer: &jetstream::consumer::Info,
        dead_letters: Option<&Channel>,
        wait: &mut ClusterWait,
    ) -> anyhow::Result<GiveUpNotices> {
        let durable = consumer.config.durable_name.is_some();
        let config = pull::Config {
            durable_name: durable.then(|| consumer.name.clone()),
            name: Some(consumer.name.clone()),
            filter_subject: record_subject(&consumer.stream_name, &consumer.name),
            ack_policy: AckPolicy::Explicit,
            ack_wait: NOTICE_ACK_WAIT,
            deliver_policy: DeliverPolicy::All,
            num_replicas: record.cached_info().config.num_replicas,
            inactive_threshold: if durable {
                Duration::ZERO
            } else {
                INACTIVE_THRESHOLD
            },
            ..Default::default()
        };
        let records = record
            .get_or_create_consumer(&consumer.name, config)
            .await
            .context("could not read the events given up")?
            .messages()
            .await
            .context("could not read the events given up")?;
        if let Some(channel) = dead_letters {
            channel
                .find_or_create_stream(js, consumer.config.num_replicas.max(1), wait)
                .await?;
        }
        Ok(GiveUpNotices {
            records,
            source: source.clone(),
            js: js.clone(),
            consumer: consumer.name.clone(),
            dead_letters: dead_letters.cloned(),
            current: None,
        })
    }

    /// The next event the server gave up, sent to the dead-letter channel
    /// first if there is one; `None` when the connection closed. Call
    /// [`GiveUpNotices::done`] once it is reported.
    pub async fn next(&mut self) -> Option<anyhow::Result<GivenUp>> {
        loop {
            let record = match &self.current {
                Some(record) => record,
                None => match self.records.next().await? {
                    Ok(record) => self.current.insert(record),
                    Err(err) => {
                        return Some(Err(
                            anyhow::Error::new(err).context("could not read the events given up")
                        ));
                    }
                },
            };
            let Ok(mut given_up) = serde_json::from_slice::<GivenUp>(&record.payload) else {
                // Not a notice: nothing to report, nothing to keep.
                record.ack().await.ok();
                self.current = None;
                continue;
            };
            if let Some(channel) = &self.dead_letters {
                // Cut short here, it is sent again next time: stored once.
                match self.send_dead_letter(channel, &given_up).await {
                    Ok(dead_letter) => given_up.dead_letter = Some(dead_letter),
                    Err(err) => {
                        // Read again once the server sends it again.
                        if let Some(record) = self.current.take() {
                            let later = jetstream::AckKind::Nak(Some(Duration::from_secs(1)));
                            record.ack_with(later).await.ok();
                        }
                        return Some(Err(err));
                    }
                }
            }
            return Some(Ok(given_up));
        }
    }

    /// The last [`GivenUp`] from [`GiveUpNotices::next`] was reported: its
    /// notice is not read again.
    pub async fn done(&mut self) -> anyhow::Result<()> {
        if let Some(record) = self.current.take() {
            record
                .double_ack()
                .await
                .map_err(|err| anyhow::anyhow!("could not settle a give-up notice: {err}"))?;
        }
        Ok(())
    }

    /// Publishes the given-up event on the dead-letter channel, and waits
    /// for the server to store it.
    async fn send_dead_letter(
        &self,
        channel: &Channel,
        given_up: &GivenUp,
    ) -> anyhow::Result<DeadLetter> {
        let source = &self.source.cached_info().config;
        let (mut headers, payload) = match self.source.get_raw_message(given_up.sequence).await {
            Ok(event) => (event.headers, event.payload),
            // Gone from the history (deleted, or aged out): its place is sent.
            Err(_) => (HeaderMap::new(), Bytes::new()),
        };
        let id = format!(
            "dead-letter:{}:{}:{}",
            source.name, given_up.sequence, self.consumer
        );
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
        let from = source.subjects.join(",");
        headers.insert(DEAD_LETTER_CHANNEL, from.as_str());
        headers.insert(DEAD_LETTER_SEQUENCE, given_up.sequence.to_string().as_str());
        headers.insert(
            DEAD_LETTER_DELIVERIES,
            given_up.deliveries.to_string().as_str(),
        );
        headers.insert(DEAD_LETTER_SUBSCRIPTION, self.consumer.as_str());
        let ack = self
            .js
            .publish_with_headers(channel.as_str().to_owned(), headers, payload)
            .await
            .with_context(|| format!("could not send event #{} to {channel}", given_up.sequence))?
            .await
            .with_context(|| {
                format!(
                    "the server did not store event #{} on {channel}",
                    given_up.sequence
                )
            })?;
        Ok(DeadLetter {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
