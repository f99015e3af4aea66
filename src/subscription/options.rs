//! Subscription options, and the consumer each set of them describes: the
//! one place where a NATS Streaming option becomes a JetStream setting.

use super::*;

/// Where in the channel's history a new subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// Only events published from now on: NATS Streaming's default.
    New,
    /// The whole history: `setDeliverAllAvailable()`.
    All,
    /// The last event, then new ones: `setStartWithLastReceived()`.
    Last,
    /// From this sequence on: `setStartAtSequence(n)`.
    Sequence(u64),
    /// Events of this recent span: `setStartAtTimeDelta(ms)`.
    Since(Duration),
    /// The first event stored at or after this time: `setStartTime(date)`.
    Time(time::OffsetDateTime),
}

impl StartPosition {
    /// The start times nats-server takes, in seconds since 1970 (from
    /// 1677-09-21T00:12:44Z to 2262-04-11T23:47:16Z): it keeps a time as
    /// nanoseconds since 1970 in 64 bits, and reads one outside that range
    /// as another time. A [`StartPosition::Time`] outside is sent as the
    /// nearest end, which starts at the same event.
    pub const TIME_RANGE: std::ops::RangeInclusive<i64> = -9_223_372_036..=9_223_372_036;

    /// `at` within [`TIME_RANGE`](StartPosition::TIME_RANGE), in UTC.
    fn server_time(at: time::OffsetDateTime) -> time::OffsetDateTime {
        let end = |seconds: i64| {
            time::OffsetDateTime::from_unix_timestamp(seconds).expect("1677 and 2262 are times")
        };
        let range = StartPosition::TIME_RANGE;
        at.clamp(end(*range.start()), end(*range.end()))
            .to_offset(time::UtcOffset::UTC)
    }

    pub(super) fn deliver_policy(self) -> DeliverPolicy {
        match self {
            StartPosition::New => DeliverPolicy::New,
            StartPosition::All => DeliverPolicy::All,
            StartPosition::Last => DeliverPolicy::Last,
            StartPosition::Sequence(start_sequence) => {
                DeliverPolicy::ByStartSequence { start_sequence }
            }
            // A span reaching back before 1970 is the whole history.
            StartPosition::Since(span) => DeliverPolicy::ByStartTime {
                start_time: time::Duration::try_from(span)
                    .ok()
                    .and_then(|span| time::OffsetDateTime::now_utc().checked_sub(span))
                    .map_or(time::OffsetDateTime::UNIX_EPOCH, |t| {
                        t.max(time::OffsetDateTime::UNIX_EPOCH)
                    }),
            },
            StartPosition::Time(start_time) => DeliverPolicy::ByStartTime {
                start_time: StartPosition::server_time(start_time),
            },
        }
    }

    /// The start position in words, for a note that it does not apply.
    pub fn describe(self) -> String {
        match self {
            StartPosition::New => "a start at new events".into(),
            StartPosition::All => "a start at the whole history".into(),
            StartPosition::Last => "a start at the last event".into(),
            StartPosition::Sequence(n) => format!("a start at event #{n}"),
            StartPosition::Since(span) => format!("a start {} back", duration::format(span)),
            StartPosition::Time(start) => format!(
                "a start at {}",
                start
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| start.to_string())
            ),
        }
    }
}

/// A subscription's options: `stan.subscriptionOptions()` and the
/// arguments of `stan.subscribe(channel, queueGroup, options)`.
#[derive(Debug, Clone)]
pub struct SubscriptionOptions {
    /// The channel to listen on.
    pub channel: Channel,
    /// The queue group, or `None` for a listener of its own.
    pub queue_group: Option<String>,
    /// Where a new subscription starts; `None` means [`StartPosition::New`]
    /// without the user having asked for anything.
    pub start: Option<StartPosition>,
    /// The durable name, remembered by the server across restarts.
    pub durable: Option<String>,
    /// How long the server waits for an ack before delivering the event again.
    /// With a [`backoff`](Self::backoff), its first step takes this place.
    pub ack_wait: Duration,
    /// Redelivery with backoff: the wait before each redelivery of an event
    /// not acked, one step per delivery, the last step repeating (the
    /// consumer's `backoff`; empty: the ack wait each time). The server
    /// allows fewer steps than [`max_deliver`](Self::max_deliver).
    pub backoff: Vec<Duration>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Delete the durable or queue group's consumer first, to start over.
    pub reset: bool,
    /// Copies of the channel's stream in a cluster, when it is created here.
    pub replicas: usize,
    /// Deliver an event at most this many times, then give it up.
    pub max_deliver: Option<u32>,
    /// At most this many events delivered and not yet acked at a time
    /// (`setMaxInFlight()`); `None` keeps the server's default (1000).
    pub max_in_flight: Option<u32>,
    /// Send each event given up after `max_deliver` deliveries to this
    /// channel (a dead-letter channel), once, with headers naming where it
    /// came from. Needs `max_deliver`.
    pub dead_letter: Option<Channel>,
    /// The consumer's name for a listener of its own (no queue group, not
    /// durable): `listen` uses its client id, so the subscription can be
    /// told apart. `None` lets the server choose one.
    pub own_name: Option<String>,
    /// Ask the server to report every ack of this subscription
    /// (`$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>`), so that
    /// `status --live` can tell which events were acked even when they are
    /// acked out of order. It costs: about a fifth of a replay's throughput
    /// on one server, even while nobody reads the reports.
    pub report_acks: bool,
    /// Ask a pulled subscription (a queue group's, a durable's) for one
    /// event at a time, the next once the last is settled: nothing waits
    /// behind the event in hand (`listen --interactive`). A pushed one
    /// (a listener's own) gets the same from `max_in_flight` 1.
    pub one_at_a_time: bool,
    /// The caller settles every event it is given by acking it, in the
    /// order given, once its work is written out (no nak, term or event
    /// left for later). A listener of its own that does so gets a consumer
    /// that acks in order (`ack_policy: all`, see [`Self::acks_all`]).
    pub acks_in_order: bool,
}

impl SubscriptionOptions {
    /// The wait before delivery number `delivery` (2 or more) of an event
    /// that was not acked: the backoff's step for it (the last one repeats),
    /// or the ack wait without a backoff. `None` for a first delivery.
    pub fn wait_before(&self, delivery: u64) -> Option<Duration> {
        let redelivery = usize::try_from(delivery.checked_sub(2)?).unwrap_or(usize::MAX);
        Some(match self.backoff.as_slice() {
            [] => self.ack_wait,
            steps => steps[redelivery.min(steps.len() - 1)],
        })
    }

    /// Options for a listener of its own on `channel`, starting with new
    /// events, with NATS Streaming's 30 s ack wait.
    pub fn new(channel: Channel) -> SubscriptionOptions {
        SubscriptionOptions {
            channel,
            queue_group: None,
            start: None,
            durable: None,
            ack_wait: DEFAULT_ACK_WAIT,
            backoff: Vec::new(),
            count: None,
            reset: false,
            replicas: 1,
            max_deliver: None,
            max_in_flight: None,
            dead_letter: None,
            own_name: None,
            report_acks: false,
            one_at_a_time: false,
            acks_in_order: false,
        }
    }

    /// Whether the consumer acks in order (`ack_policy: all`): an ack of an
    /// event acks every event delivered before it too, so only the last of
    /// each written-out batch goes to the server, and the server handles one
    /// ack per batch instead of one per event. Only for a caller that acks
    /// every event in order ([`Self::acks_in_order`]), on a consumer nobody
    /// else reads (no queue group; a durable of its own qualifies, and
    /// [`Subscription::open`] refuses to join one another listener is
    /// reading), with nothing that settles events one by one: no delivery
    /// limit, backoff or dead letters, no in-flight limit, no ack reports.
    pub fn acks_all(&self) -> bool {
        self.acks_in_order
            && self.queue_group.is_none()
            && self.max_deliver.is_none()
            && self.backoff.is_empty()
            && self.dead_letter.is_none()
            && self.max_in_flight.is_none()
            && !self.report_acks
    }

    /// The consumer's name: the durable name, else the queue group, else none
    /// (the server names an ephemeral consumer itself).
    pub fn consumer_name(&self) -> Option<&str> {
        self.durable.as_deref().or(self.queue_group.as_deref())
    }

    /// Whether the server pushes events to this listener unasked: yes for a
    /// listener's own consumer (no queue group, no durable), which nobody
    /// else reads. A queue group's or a durable's consumer is pulled: each
    /// member asks for what it will handle (see the module doc).
    pub fn pushed(&self) -> bool {
        self.consumer_name().is_none()
    }

    /// The push consumer of a listener's own subscription ([`Self::pushed`]):
    /// the settings of [`Self::consumer_config`], sent to `deliver_subject`
    /// with flow control and an idle heartbeat every [`IDLE_HEARTBEAT`].
    pub fn push_config(&self, deliver_subject: &Subject) -> jetstream::consumer::Config {
        jetstream::consumer::Config {
            deliver_subject: Some(deliver_subject.to_string()),
            // The server waits for the listener to answer now and then, so a
            // listener that falls behind slows the server down instead of
            // being cut off as a slow consumer.
            flow_control: true,
            // Sent while there is nothing to deliver: silence longer than two
            // of them means the consumer or the connection is gone.
            idle_heartbeat: IDLE_HEARTBEAT,
            ..self.consumer_config().into_consumer_config()
        }
    }

    /// The JetStream consumer this listener's options describe.
    pub fn consumer_config(&self) -> pull::Config {
        let mut metadata = HashMap::new();
        if let Some(group) = &self.queue_group {
            metadata.insert(QUEUE_GROUP_KEY.to_owned(), group.clone());
        }
        pull::Config {
            name: self
                .consumer_name()
                .or(self.own_name.as_deref())
                .map(str::to_owned),
            // setDurableName(): the server keeps the consumer, and what it acked, forever.
            durable_name: self.durable.clone(),
            // setDeliverAllAvailable() and friends.
            deliver_policy: self.start.unwrap_or(StartPosition::New).deliver_policy(),
            // setManualAckMode(true): every event must be acked, or it
            // comes back; acked in order, an ack covers those before it.
            ack_policy: if self.acks_all() {
                AckPolicy::All
            } else {
                AckPolicy::Explicit
            },
            // setAckWait(); with a backoff the server takes its first step
            // as the ack wait, and so do we, so a joined group compares equal.
            ack_wait: self.backoff.first().copied().unwrap_or(self.ack_wait),
            // Each redelivery after a missing ack waits the next step.
            backoff: self.backoff.clone(),
            // Redeliver forever (-1), as NATS Streaming did, unless told otherwise.
            max_deliver: self.max_deliver.map_or(-1, i64::from),
            // setMaxInFlight(): the server stops sending once this many
            // events wait for their ack. 0 leaves the server's default.
            max_ack_pending: self.max_in_flight.map_or(0, i64::from),
            // Only this channel, even if the stream captures more subjects.
            filter_subject: self.channel.as_str().to_owned(),
            inactive_threshold: if self.durable.is_some() {
                Duration::ZERO
            } else {
                INACTIVE_THRESHOLD
            },
            metadata,
            // `--report-acks`: report every ack to
            // `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>`, for
            // `status --live`. Off by default: it slows a replay by about a
            // fifth, even while nobody subscribes to the reports.
            sample_frequency: if self.report_acks { 100 } else { 0 },
            ..Default::default()
        }
    }

    pub(super) fn describe(&self) -> String {
        match (&self.durable, &self.queue_group) {
            (Some(d), Some(q)) => format!("durable '{d}' (queue group '{q}')"),
            (Some(d), None) => format!("durable '{d}'"),
            (None, Some(q)) => format!("queue group '{q}'"),
            (None, None) => "listener".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_time_is_deliver_by_start_time_and_said_in_rfc_3339() {
        let start = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_723);
        assert_eq!(
            StartPosition::Time(start).deliver_policy(),
            DeliverPolicy::ByStartTime { start_time: start }
        );
        assert_eq!(
            StartPosition::Time(start).describe(),
            "a start at 2024-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_start_time_the_server_cannot_take_is_sent_as_the_nearest_it_can() {
        let at = |seconds: i64| time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let far = time::PrimitiveDateTime::MAX
            .assume_offset(time::UtcOffset::from_hms(-23, 59, 59).unwrap());
        let cases = [
            (
                time::PrimitiveDateTime::MIN.assume_utc(),
                at(-9_223_372_036),
            ),
            (far, at(9_223_372_036)),
            (at(1_700_000_000), at(1_700_000_000)),
        ];
        for (start, sent) in cases {
            assert_eq!(
                StartPosition::Time(start).deliver_policy(),
                DeliverPolicy::ByStartTime { start_time: sent }
            );
        }
    }

    #[test]
    fn each_redelivery_waits_its_backoff_step_and_the_last_step_repeats() {
        let options = SubscriptionOptions {
            backoff: vec![Duration::from_secs(1), Duration::from_secs(5)],
            ..SubscriptionOptions::new(Channel::new("ticket:created").unwrap())
        };
        let waits: Vec<_> = (1..=4).map(|d| options.wait_before(d)).collect();
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(waits, [None, s(1), s(5), s(5)]);
        assert_eq!(options.consumer_config().ack_wait, Duration::from_secs(1));
    }

    #[test]
    fn max_in_flight_is_max_ack_pending() {
        let options = SubscriptionOptions {
            max_in_flight: Some(1),
            ..SubscriptionOptions::new(Channel::new("ticket:created").unwrap())
        };
        assert_eq!(options.consumer_config().max_ack_pending, 1);
        let default = SubscriptionOptions::new(Channel::new("ticket:created").unwrap());
        assert_eq!(default.consumer_config().max_ack_pending, 0);
    }

    #[test]
    fn only_an_in_order_listener_of_its_own_acks_all() {
        let own = SubscriptionOptions {
            acks_in_order: true,
            ..SubscriptionOptions::new(Channel::new("ticket:created").unwrap())
        };
        assert_eq!(own.consumer_config().ack_policy, AckPolicy::All);
        let durable = SubscriptionOptions {
            durable: Some("accounting".into()),
            ..own.clone()
        };
        assert_eq!(durable.consumer_config().ack_policy, AckPolicy::All);
        let per_event = [
            SubscriptionOptions {
                acks_in_order: false,
                ..own.clone()
            },
            SubscriptionOptions {
                queue_group: Some("orders".into()),
                ..own.clone()
            },
            SubscriptionOptions {
                max_deliver: Some(3),
                ..own.clone()
            },
            SubscriptionOptions {
                max_in_flight: Some(10),
                ..own.clone()
            },
            SubscriptionOptions {
                backoff: vec![Duration::from_secs(1)],
                ..own.clone()
            },
            SubscriptionOptions {
                report_acks: true,
                ..own.clone()
            },
        ];
        for options in per_event {
            assert_eq!(options.consumer_config().ack_policy, AckPolicy::Explicit);
        }
    }

    #[test]
    fn a_since_span_beyond_1970_starts_at_the_whole_history() {
        let policy = StartPosition::Since(Duration::MAX).deliver_policy();
        assert_eq!(
            policy,
            DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::UNIX_EPOCH
            }
        );
    }
}
