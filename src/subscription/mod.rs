//! Subscriptions: NATS Streaming subscription options as a JetStream consumer.
//!
//! The course's listener subscribed like this:
//!
//! ```text
//! const options = stan.subscriptionOptions()
//!   .setManualAckMode(true)          // manual ack: always, see --skip-ack
//!   .setDeliverAllAvailable()        // --deliver-all
//!   .setDurableName('accounting');   // --durable accounting
//! stan.subscribe('ticket:created', 'orders-microservice-queue-group', options);
//! ```
//!
//! In JetStream the server keeps the subscription's state in a *consumer*:
//! where in the history it starts, what was delivered, what was acked. This
//! module is the one place where each option becomes a consumer setting (see
//! [`SubscriptionOptions::consumer_config`]):
//!
//! | NATS Streaming               | JetStream consumer                                  |
//! |------------------------------|-----------------------------------------------------|
//! | queue group `Q`              | one pull consumer named `Q`, shared by all members |
//! | `setDurableName(D)`          | a durable consumer named `D`                        |
//! | neither                      | an ephemeral consumer, deleted when the listener exits |
//! | `setDeliverAllAvailable()`   | `deliver_policy: all`                               |
//! | (no start option)            | `deliver_policy: new`                               |
//! | `setManualAckMode(true)`     | `ack_policy: explicit`                              |
//! | `setAckWait(ms)`             | `ack_wait`                                          |
//! | `msg.ack()`                  | `+ACK` sent to the message's reply subject          |
//! | `msg.getSequence()`          | the stream sequence in the reply subject            |
//!
//! A consumer that is not durable expires [`INACTIVE_THRESHOLD`] after its
//! last member stops asking for events, which is how a non-durable queue group
//! disappears with its last member, as in NATS Streaming.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use async_nats::jetstream::consumer::{
    AckPolicy, DeliverPolicy, IntoConsumerConfig, PullConsumer, pull,
};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::ConsumerErrorKind;
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{Client, StatusCode, Subject, Subscriber};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;

use crate::channel::{Channel, ClusterWait, jetstream_error};
use crate::connection;
use crate::duration;
use crate::notes::Notes;

/// The queue group of the course's listener.
pub const DEFAULT_QUEUE_GROUP: &str = "orders-microservice-queue-group";

/// NATS Streaming's default ack wait.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// How long a non-durable consumer outlives its last listener (after a crash,
/// say); a listener that exits cleanly deletes its own consumer at once.
pub const INACTIVE_THRESHOLD: Duration = Duration::from_secs(5);

/// How many events one pull request asks for. The next request goes out
/// when half of them have arrived, so events keep flowing.
const PULL_BATCH: u64 = 512;

/// How long the server holds a pull request open while no event arrives.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// How long past its expiry a pull request may stay unanswered before it is
/// taken as lost (the server restarted, say) and sent again.
const PULL_GRACE: Duration = Duration::from_secs(2);

/// While waiting for events, how often to check whether the pull request
/// was lost to a reconnect.
const LOST_REQUEST_CHECK: Duration = Duration::from_millis(250);

/// How many acks may wait for their confirmation before the listener waits.
const MAX_UNCONFIRMED: u64 = 8192;

/// At most this many acks in a row go out without asking for a confirmation
/// (see [`Subscription::ack`]).
const CONFIRM_EVERY: u32 = 256;

/// How long to wait for the server to confirm acks.
const ACK_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// How far back, in sequences, a subscription remembers what it acked: more
/// than a crashed server can forget (a few seconds of acks), in 128 KiB.
const RECENT_ACKS: u64 = 1 << 20;

/// Consumer metadata key recording the queue group a consumer serves.
const QUEUE_GROUP_KEY: &str = "queue_group";

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
}

impl StartPosition {
    fn deliver_policy(self) -> DeliverPolicy {
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
        }
    }

    fn flag(self) -> String {
        match self {
            StartPosition::New => "(no start flag)".into(),
            StartPosition::All => "--deliver-all".into(),
            StartPosition::Last => "--deliver-last".into(),
            StartPosition::Sequence(n) => format!("--start-seq {n}"),
            StartPosition::Since(span) => format!("--since {}", duration::format(span)),
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
    pub ack_wait: Duration,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Delete the durable or queue group's consumer first, to start over.
    pub reset: bool,
    /// Copies of the channel's stream in a cluster, when it is created here.
    pub replicas: usize,
    /// Deliver an event at most this many times, then give it up.
    pub max_deliver: Option<u32>,
    /// The consumer's name for a listener of its own (no queue group, not
    /// durable): `listen` uses its client id, so the subscription can be
    /// told apart. `None` lets the server choose one.
    pub own_name: Option<String>,
}

impl SubscriptionOptions {
    /// Options for a listener of its own on `channel`, starting with new
    /// events, with NATS Streaming's 30 s ack wait.
    pub fn new(channel: Channel) -> SubscriptionOptions {
        SubscriptionOptions {
            channel,
            queue_group: None,
            start: None,
            durable: None,
            ack_wait: DEFAULT_ACK_WAIT,
            count: None,
            reset: false,
            replicas: 1,
            max_deliver: None,
            own_name: None,
        }
    }

    /// The consumer's name: the durable name, else the queue group, else none
    /// (the server names an ephemeral consumer itself).
    pub fn consumer_name(&self) -> Option<&str> {
        self.durable.as_deref().or(self.queue_group.as_deref())
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
            // setManualAckMode(true): every event must be acked, or it comes back.
            ack_policy: AckPolicy::Explicit,
            // setAckWait().
            ack_wait: self.ack_wait,
            // Redeliver forever (-1), as NATS Streaming did, unless told otherwise.
            max_deliver: self.max_deliver.map_or(-1, i64::from),
            // Only this channel, even if the stream captures more subjects.
            filter_subject: self.channel.as_str().to_owned(),
            inactive_threshold: if self.durable.is_some() {
                Duration::ZERO
            } else {
                INACTIVE_THRESHOLD
            },
            metadata,
            ..Default::default()
        }
    }

    fn describe(&self) -> String {
        match (&self.durable, &self.queue_group) {
            (Some(d), Some(q)) => format!("durable '{d}' (queue group '{q}')"),
            (Some(d), None) => format!("durable '{d}'"),
            (None, Some(q)) => format!("queue group '{q}'"),
            (None, None) => "listener".into(),
        }
    }
}

/// One event as delivered: `msg` in the course's `onMessage(data, msg)`.
#[derive(Debug)]
pub struct Event {
    /// The event's number in its channel (`msg.getSequence()`).
    pub sequence: u64,
    /// 1 on the first delivery, 2 on the first redelivery, and so on.
    pub delivered: u64,
    /// The event's data (`msg.getData()`).
    pub data: Bytes,
    reply: Subject,
}

/// A live subscription: a consumer on the server, and the inbox its events
/// arrive on.
pub struct Subscription {
    client: Client,
    stream: jetstream::stream::Stream,
    consumer: PullConsumer,
    inbox: Subject,
    events: Subscriber,
    /// A message already received, not yet handled (see `has_ready`).
    ready: Option<async_nats::Message>,
    /// Where the server confirms our acks.
    ack_inbox: Subject,
    ack_confirmations: Subscriber,
    /// How many acks were sent, and how many of them the server confirmed.
    acks_sent: u64,
    acks_confirmed: u64,
    /// For each confirmation asked for and not yet come, in order: how
    /// many acks had been sent when it was asked for (it covers them all).
    confirmations: VecDeque<u64>,
    /// Acks sent without asking for a confirmation since the last one that
    /// asked, and the reply subject of the latest of them.
    plain_acks: u32,
    last_plain_ack: Option<Subject>,
    /// The events acked lately, to recognise one that comes back.
    acked: RecentlyAcked,
    /// Events that came back although acked, and were not shown again.
    skipped: Skipped,
    /// How many times the client had connected when the subscription opened.
    connects_at_open: u64,
    /// When the pull request in flight was sent, and how many times the
    /// client had connected by then.
    requested_at: Instant,
    connects_at_request: u64,
    /// Events still wanted (`--count`), `u64::MAX` for no limit.
    remaining: u64,
    /// Events the pull request in flight may still bring.
    outstanding: u64,
    /// The consumer is this listener's alone, and goes when it closes.
    own_consumer: bool,
    /// The server's notices of events it gave up (`--max-deliver`).
    give_ups: Option<GiveUps>,
}

impl Subscription {
    /// Finds the channel's stream (creating it on first use), finds or
    /// creates the consumer the options describe, and subscribes to its inbox.
    /// Notes for the user, such as a start flag that cannot apply, go to `notes`.
    pub async fn open(
        client: &Client,
        options: &SubscriptionOptions,
        notes: &Notes,
    ) -> anyhow::Result<Subscription> {
        let js = jetstream::new(client.clone());
        // One wait for a settling cluster, shared by every request below.
        let mut wait = ClusterWait::new(notes.clone());
        let stream_name = options
            .channel
            .find_or_create_stream(&js, options.replicas, &mut wait)
            .await?;
        let stream = loop {
            match js.get_stream(&stream_name).await {
                Ok(stream) => break stream,
                Err(err) => {
                    let err = jetstream_error(&js, err);
                    if !wait.retry_after(&err).await {
                        return Err(err);
                    }
                }
            }
        };
        let consumer = open_consumer(&stream, options, &mut wait).await?;
        // Every reply to our pull requests, events among them, arrives on one inbox.
        let inbox = Subject::from(client.new_inbox());
        let events = client
            .subscribe(inbox.clone())
            .await
            .context("could not subscribe to the listener's inbox")?;
        // With a delivery limit, the server announces each event it gives up
        // on an advisory subject of this consumer.
        let give_ups = match options.max_deliver {
            Some(_) => {
                let info = consumer.cached_info();
                let advisories = client
                    .subscribe(format!(
                        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}",
                        info.stream_name, info.name
                    ))
                    .await
                    .context("could not subscribe to the max-deliveries advisory")?;
                Some(GiveUps { advisories })
            }
            None => None,
        };
        let ack_inbox = Subject::from(client.new_inbox());
        let ack_confirmations = client
            .subscribe(ack_inbox.clone())
            .await
            .context("could not subscribe to the listener's ack inbox")?;
        Ok(Subscription {
            ack_inbox,
            ack_confirmations,
            acks_sent: 0,
            acks_confirmed: 0,
            confirmations: VecDeque::new(),
            plain_acks: 0,
            last_plain_ack: None,
            ready: None,
            acked: RecentlyAcked::default(),
            skipped: Skipped::default(),
            connects_at_open: connection::connects(client),
            requested_at: Instant::now(),
            connects_at_request: 0,
            client: client.clone(),
            stream,
            consumer,
            inbox,
            events,
            remaining: options.count.unwrap_or(u64::MAX),
            outstanding: 0,
            own_consumer: options.consumer_name().is_none(),
            give_ups,
        })
    }

    /// The next event, or `None` once `count` events have arrived. Waits as
    /// long as it takes; cancel-safe, so it can race a shutdown signal.
    pub async fn next(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            if self.remaining == 0 {
                return Ok(None);
            }
            // One that has_ready() took from the inbox already.
            if let Some(message) = self.ready.take() {
                if let Some(event) = self.handle(message).await? {
                    return Ok(Some(event));
                }
                continue;
            }
            // Pipelined: the next request goes out when half of the events
            // asked for have arrived, so the server never waits for us.
            if self.outstanding <= PULL_BATCH / 2 && self.remaining > self.outstanding {
                self.request_more().await?;
            }
            let message = match tokio::time::timeout(LOST_REQUEST_CHECK, self.events.next()).await {
                Ok(Some(message)) => message,
                Ok(None) => bail!("the connection to NATS was closed"),
                Err(_elapsed) => {
                    // A reconnect means the server lost our pull request (it
                    // restarted, or we came back through another node); so
                    // does a request left unanswered past its expiry. Ask again.
                    if connection::connects(&self.client) != self.connects_at_request
                        || self.requested_at.elapsed() > PULL_EXPIRES + PULL_GRACE
                    {
                        self.outstanding = 0;
                    }
                    continue;
                }
            };
            if let Some(event) = self.handle(message).await? {
                return Ok(Some(event));
            }
        }
    }

    /// Asks the server for up to [`PULL_BATCH`] more events.
    async fn request_more(&mut self) -> anyhow::Result<()> {
        // Confirmations are collected now and then, not per batch, so
        // replay never stalls on them; close() collects the rest.
        self.collect_confirmations();
        if self.confirmations.len() as u64 >= MAX_UNCONFIRMED {
            self.confirm_acks().await;
        }
        // Ask for no more than we still want, so `--count N` leaves the
        // events after the Nth to the next listener instead of holding
        // them until their ack wait runs out.
        let batch = (self.remaining - self.outstanding).min(PULL_BATCH);
        let request = pull::BatchConfig {
            batch: batch as usize,
            expires: Some(PULL_EXPIRES),
            ..Default::default()
        };
        // Counted before it is sent, so a caller that stops waiting
        // half-way (a shutdown) never sends a second request.
        self.outstanding += batch;
        self.requested_at = Instant::now();
        self.connects_at_request = connection::connects(&self.client);
        self.consumer
            .request_batch(request, self.inbox.clone())
            .await
            .context("could not ask the server for events")
    }

    /// Whether an event has already arrived, so that [`Subscription::next`]
    /// will not wait. Cheap; the listener flushes its output when it is not.
    pub fn has_ready(&mut self) -> bool {
        if self.ready.is_none() && self.outstanding > 0 {
            self.ready = self.events.next().now_or_never().flatten();
        }
        self.ready.is_some()
    }

    /// Turns one message from the inbox into an event, or `None` for a
    /// status message or an event this subscription already acked.
    async fn handle(&mut self, message: async_nats::Message) -> anyhow::Result<Option<Event>> {
        match message.status {
            None | Some(StatusCode::OK) => {}
            Some(StatusCode::IDLE_HEARTBEAT) => return Ok(None),
            // 408: a request expired with nothing (more) to deliver; 409:
            // the server ended it (a leadership change, say). The events it
            // will no longer bring are asked for again, unless the consumer
            // itself is gone.
            Some(_) => {
                let description = message.description.as_deref().unwrap_or_default();
                if description.eq_ignore_ascii_case("consumer deleted") {
                    bail!(
                        "the server deleted this listener's subscription (someone ran listen --reset \
                         for its queue group or durable, or deleted its consumer); start the listener again"
                    );
                }
                let void = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get("Nats-Pending-Messages"))
                    .and_then(|pending| pending.as_str().parse().ok())
                    // Without the count, every request in flight is taken as void.
                    .unwrap_or(self.outstanding);
                self.outstanding = self.outstanding.saturating_sub(void);
                return Ok(None);
            }
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        let Some(reply) = message.reply else {
            return Ok(None);
        };
        let meta = AckSubject::parse(&reply)
            .with_context(|| format!("unexpected reply subject on an event: {reply}"))?;
        let event = Event {
            sequence: meta.sequence,
            delivered: meta.delivered,
            data: message.payload,
            reply,
        };
        if self.acked.contains(event.sequence) {
            // A server that crashed can forget acks it had confirmed and
            // deliver those events again. They were handled: ack them
            // again and move on, so nothing is handled twice.
            self.ack(&event).await?;
            if connection::connects(&self.client) == self.connects_at_open {
                self.skipped.after_ack_wait += 1;
            } else {
                self.skipped.after_reconnect += 1;
            }
            return Ok(None);
        }
        self.remaining -= 1;
        Ok(Some(event))
    }

    /// Acks an event (`msg.ack()`): the server will not deliver it again.
    ///
    /// When the listener is about to wait for events, and at least every
    /// `CONFIRM_EVERY` (256) acks, the ack asks the server for a confirmation,
    /// without waiting for it. The server handles one connection's acks in
    /// order, so a confirmation covers every ack sent before it.
    /// Confirmations are collected when many are waiting, and on
    /// [`Subscription::close`], so a listener that exits has had every ack
    /// it sent applied by the server.
    pub async fn ack(&mut self, event: &Event) -> anyhow::Result<()> {
        let more_coming = self.remaining > 0 && self.has_ready();
        self.send_ack(event, more_coming).await
    }

    /// Acks events in order, as [`Subscription::ack`] does one: the acks
    /// before the last go out without asking for a confirmation.
    pub async fn ack_all(&mut self, events: impl IntoIterator<Item = Event>) -> anyhow::Result<()> {
        let mut events = events.into_iter().peekable();
        while let Some(event) = events.next() {
            let more_coming = events.peek().is_some() || (self.remaining > 0 && self.has_ready());
            self.send_ack(&event, more_coming).await?;
        }
        Ok(())
    }

    /// Acks `event`; while more events are coming, without asking for a
    /// confirmation (at most [`CONFIRM_EVERY`] times in a row): it would
    /// only be one more message each way.
    async fn send_ack(&mut self, event: &Event, more_coming: bool) -> anyhow::Result<()> {
        self.acked.insert(event.sequence);
        if more_coming && self.plain_acks < CONFIRM_EVERY {
            self.client
                .publish(event.reply.clone(), Bytes::from_static(b"+ACK"))
                .await
                .context("could not send the ack")?;
            self.plain_acks += 1;
            self.acks_sent += 1;
            self.last_plain_ack = Some(event.reply.clone());
            return Ok(());
        }
        self.acks_sent += 1;
        self.send_confirmed_ack(event.reply.clone()).await
    }

    /// Sends `+ACK` to `reply`, asking for a confirmation on the ack inbox.
    async fn send_confirmed_ack(&mut self, reply: Subject) -> anyhow::Result<()> {
        self.client
            .publish_with_reply(reply, self.ack_inbox.clone(), Bytes::from_static(b"+ACK"))
            .await
            .context("could not send the ack")?;
        self.confirmations.push_back(self.acks_sent);
        self.plain_acks = 0;
        self.last_plain_ack = None;
        Ok(())
    }

    /// The server's notices of events it gave up after `max_deliver`
    /// deliveries; `None` without a limit, or once taken.
    pub fn take_give_ups(&mut self) -> Option<GiveUps> {
        self.give_ups.take()
    }

    /// How many events came back although this subscription had acked them,
    /// and were acked again instead of returned.
    pub fn skipped_duplicates(&self) -> Skipped {
        self.skipped
    }

    /// Terminates an event (`+TERM`): the server will never deliver it again,
    /// as for an event no listener can handle.
    pub async fn term(&mut self, event: &Event) -> anyhow::Result<()> {
        self.client
            .publish(event.reply.clone(), Bytes::from_static(b"+TERM"))
            .await
            .context("could not terminate the event")
    }

    /// Counts a copy of an event that came back after the ack wait while
    /// the caller still held the first one, and did not show it again.
    pub fn skipped_copy(&mut self) {
        self.skipped.after_ack_wait += 1;
    }

    /// Counts the confirmations that have arrived, without waiting.
    fn collect_confirmations(&mut self) {
        while !self.confirmations.is_empty() {
            match self.ack_confirmations.next().now_or_never() {
                Some(Some(_)) => self.confirmed(),
                _ => return,
            }
        }
    }

    /// One confirmation came: it covers every ack sent before it was asked for.
    fn confirmed(&mut self) {
        if let Some(covered) = self.confirmations.pop_front() {
            self.acks_confirmed = covered;
        }
    }

    /// Waits until the server has confirmed every ack sent so far, and
    /// returns how many acks it did not confirm. An ack whose confirmation
    /// does not come (the server restarted, or is gone) may have been lost,
    /// and then the server delivers its event again: at least once.
    async fn confirm_acks(&mut self) -> u64 {
        // Acking the latest plain-acked event again, asking for a
        // confirmation, confirms it and every ack before it.
        if let Some(reply) = self.last_plain_ack.take()
            && self.send_confirmed_ack(reply).await.is_err()
        {
            return self.acks_sent - self.acks_confirmed;
        }
        let started = Instant::now();
        while !self.confirmations.is_empty() {
            match tokio::time::timeout(LOST_REQUEST_CHECK, self.ack_confirmations.next()).await {
                Ok(Some(_)) => self.confirmed(),
                // Confirmations do not survive a reconnect: stop waiting.
                Ok(None) => break,
                Err(_) if connection::connects(&self.client) != self.connects_at_request => break,
                Err(_) if started.elapsed() > ACK_CONFIRM_TIMEOUT => break,
                Err(_) => {}
            }
        }
        self.confirmations.clear();
        let unconfirmed = self.acks_sent - self.acks_confirmed;
        // Given up on: not waited for again.
        self.acks_confirmed = self.acks_sent;
        unconfirmed
    }

    /// Stops receiving and deletes the consumer if it was this listener's
    /// alone, and returns how many acks the server did not confirm (0 when
    /// every ack is applied). The caller then drains the connection.
    pub async fn close(mut self) -> u64 {
        let unconfirmed = self.confirm_acks().await;
        self.events.unsubscribe().await.ok();
        if self.own_consumer {
            let name = self.consumer.cached_info().name.clone();
            self.stream.delete_consumer(&name).await.ok();
        }
        unconfirmed
    }
}

/// Events that came back although the subscription had acked them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// After the client reconnected: a restarted server forgot the acks.
    pub after_reconnect: u64,
    /// Without a reconnect: the acks came after the ack wait (the listener
    /// was paused, say), so the server had sent the events again.
    pub after_ack_wait: u64,
}

/// Finds or creates the consumer. A queue group or durable that already exists
/// is joined as it is: its position in the history was fixed when it was
/// first formed. A cluster that is electing leaders is waited for.
async fn open_consumer(
    stream: &jetstream::stream::Stream,
    options: &SubscriptionOptions,
    wait: &mut ClusterWait,
) -> anyhow::Result<PullConsumer> {
    if options.reset
        && let Some(name) = options.consumer_name()
    {
        loop {
            match stream.delete_consumer(name).await {
                Ok(_) => {
                    wait.notes().say(format_args!(
                        "Deleted the {} to start over",
                        options.describe()
                    ));
                    break;
                }
                Err(err) if is_not_found(&err) => break,
                Err(err) => {
                    let err = anyhow::Error::new(err)
                        .context("could not delete the consumer for --reset");
                    if !wait.retry_after(&err).await {
                        return Err(err);
                    }
                }
            }
        }
    }
    loop {
        match find_or_create_consumer(stream, options, wait.notes()).await {
            Err(err) if wait.retry_after(&err).await => {}
            result => return result,
        }
    }
}

async fn find_or_create_consumer(
    stream: &jetstream::stream::Stream,
    options: &SubscriptionOptions,
    notes: &Notes,
) -> anyhow::Result<PullConsumer> {
    let mut wanted = options.consumer_config();
    // As many copies as the stream has: a consumer on one node of a cluster
    // would die with that node, and its listeners with it.
    wanted.num_replicas = stream.cached_info().config.num_replicas;
    if let Some(name) = options.consumer_name()
        && let Some(existing) = get_consumer(stream, name).await?
    {
        return join_existing(existing, options, notes);
    }
    // A create that timed out may have been carried out all the same: the
    // next try then finds a named consumer and joins it, and an unnamed one
    // is left to expire (its inactive threshold).
    match stream.create_consumer_strict(wanted).await {
        Ok(consumer) => Ok(consumer),
        Err(create_err) => {
            // Another member may have formed the group a moment ago.
            if let Some(name) = options.consumer_name()
                && let Some(existing) = get_consumer(stream, name).await?
            {
                return join_existing(existing, options, notes);
            }
            Err(create_err)
                .with_context(|| format!("could not subscribe the {}", options.describe()))
        }
    }
}

async fn get_consumer(
    stream: &jetstream::stream::Stream,
    name: &str,
) -> anyhow::Result<Option<PullConsumer>> {
    match stream.consumer_info(name).await {
        Ok(_) => {}
        Err(err) if err.kind() == ConsumerInfoErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("could not look up consumer '{name}'"));
        }
    }
    let consumer = stream
        .get_consumer::<pull::Config>(name)
        .await
        .map_err(|err| anyhow::anyhow!("could not open consumer '{name}': {err}"))?;
    Ok(Some(consumer))
}

fn is_not_found(err: &async_nats::jetstream::stream::ConsumerError) -> bool {
    matches!(err.kind(), ConsumerErrorKind::JetStream(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}

/// Checks that an existing consumer is the one this listener asks for, and
/// says when a start flag cannot apply to it.
fn join_existing(
    existing: PullConsumer,
    options: &SubscriptionOptions,
    notes: &Notes,
) -> anyhow::Result<PullConsumer> {
    let have = &existing.cached_info().config;
    let wanted: async_nats::jetstream::consumer::Config =
        options.consumer_config().into_consumer_config();
    let mut differences = Vec::new();
    if have.durable_name.is_some() != wanted.durable_name.is_some() {
        let kind = |durable: bool| if durable { "durable" } else { "not durable" };
        differences.push(format!(
            "it is {}, you asked for {}",
            kind(have.durable_name.is_some()),
            kind(wanted.durable_name.is_some())
        ));
    }
    let group =
        |c: &async_nats::jetstream::consumer::Config| c.metadata.get(QUEUE_GROUP_KEY).cloned();
    if group(have) != group(&wanted) {
        let show = |g: Option<String>| {
            g.map_or("no queue group".to_owned(), |g| {
                format!("queue group '{g}'")
            })
        };
        differences.push(format!(
            "it has {}, you asked for {}",
            show(group(have)),
            show(group(&wanted))
        ));
    }
    if have.ack_wait != wanted.ack_wait {
        differences.push(format!(
            "its ack wait is {}, you asked for {}",
            duration::format(have.ack_wait),
            duration::format(wanted.ack_wait)
        ));
    }
    if have.max_deliver != wanted.max_deliver {
        let show = |n: i64| {
            if n < 0 {
                "no limit".to_owned()
            } else {
                n.to_string()
            }
        };
        differences.push(format!(
            "its max deliver is {}, you asked for {}",
            show(have.max_deliver),
            show(wanted.max_deliver)
        ));
    }
    if have.filter_subject != wanted.filter_subject {
        differences.push(format!(
            "it listens on '{}', you asked for '{}'",
            have.filter_subject, wanted.filter_subject
        ));
    }
    let name = options.consumer_name().unwrap_or_default();
    if !differences.is_empty() {
        bail!(
            "consumer '{name}' already exists on channel {} with a different configuration: {}. \
             To start over, run again with --reset (this forgets what it acked), or choose another {}",
            options.channel,
            differences.join("; "),
            if options.durable.is_some() {
                "--durable name"
            } else {
                "--queue-group name"
            }
        );
    }
    if let Some(start) = options.start.filter(|s| *s != StartPosition::New) {
        let advice = if options.queue_group.is_some() {
            "; to replay the whole history, listen with --no-queue-group"
        } else {
            ""
        };
        notes.say(format_args!(
            "Note: the {} already exists, so it resumes where it left off and {} does not apply \
             (a start position applies only when a group or durable is first formed){advice}",
            options.describe(),
            start.flag()
        ));
    }
    Ok(existing)
}

/// An event the server stopped delivering: it was delivered `max_deliver`
/// times and never acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct GivenUp {
    /// The event's number in its channel.
    #[serde(rename = "stream_seq")]
    pub sequence: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
}

/// The stream of [`GivenUp`] notices of one subscription.
#[derive(Debug)]
pub struct GiveUps {
    advisories: Subscriber,
}

impl GiveUps {
    /// The next event the server gave up, or `None` when the connection closed.
    pub async fn next(&mut self) -> Option<GivenUp> {
        loop {
            let advisory = self.advisories.next().await?;
            if let Ok(given_up) = serde_json::from_slice(&advisory.payload) {
                return Some(given_up);
            }
        }
    }
}

/// Which of the last [`RECENT_ACKS`] sequences (up to the highest acked)
/// were acked: one bit each, in a fixed amount of memory.
#[derive(Debug)]
struct RecentlyAcked {
    /// Bit `s % RECENT_ACKS` is sequence `s`'s, for `s` in `(top - RECENT_ACKS, top]`.
    bits: Box<[u64]>,
    /// The highest sequence acked, 0 before the first.
    top: u64,
}

impl Default for RecentlyAcked {
    fn default() -> RecentlyAcked {
        RecentlyAcked {
            bits: vec![0; (RECENT_ACKS / 64) as usize].into_boxed_slice(),
            top: 0,
        }
    }
}

impl RecentlyAcked {
    fn slot(sequence: u64) -> (usize, u64) {
        let bit = sequence % RECENT_ACKS;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn in_window(&self, sequence: u64) -> bool {
        sequence <= self.top && self.top - sequence < RECENT_ACKS
    }

    fn contains(&self, sequence: u64) -> bool {
        let (word, mask) = Self::slot(sequence);
        self.in_window(sequence) && self.bits[word] & mask != 0
    }

    fn insert(&mut self, sequence: u64) {
        if sequence > self.top {
            // Slide the window up: forget the sequences it leaves behind.
            if sequence - self.top >= RECENT_ACKS {
                self.bits.fill(0);
            } else {
                for old in self.top + 1..=sequence {
                    let (word, mask) = Self::slot(old);
                    self.bits[word] &= !mask;
                }
            }
            self.top = sequence;
        }
        if self.in_window(sequence) {
            let (word, mask) = Self::slot(sequence);
            self.bits[word] |= mask;
        }
    }
}

/// What a JetStream event's reply subject tells: its sequence in the channel
/// (`msg.getSequence()`) and how many times it has been delivered.
///
/// The subject is `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`,
/// or the longer form with a domain and an account hash after `$JS.ACK.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSubject {
    /// The event's sequence in the channel, from 1.
    pub sequence: u64,
    /// 1 for the first delivery, 2 for the first redelivery, and so on.
    pub delivered: u64,
}

impl AckSubject {
    /// Reads the sequence and delivery count out of a `$JS.ACK.` subject.
    pub fn parse(reply: &str) -> Option<AckSubject> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        // Counted, then walked again: no allocation on the per-event path.
        let delivered_at = match rest.split('.').count() {
            7 => 2,
            n if n >= 9 => 4,
            _ => return None,
        };
        let mut tokens = rest.split('.').skip(delivered_at);
        let delivered = tokens.next()?;
        let sequence = tokens.next()?;
        Some(AckSubject {
            sequence: sequence.parse().ok()?,
            delivered: delivered.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn reads_sequence_and_delivery_from_both_ack_subject_forms() {
        let v1 = "$JS.ACK.TICKET_CREATED.orders.2.17.5.1700000000000000000.0";
        assert_eq!(
            AckSubject::parse(v1),
            Some(AckSubject {
                sequence: 17,
                delivered: 2
            })
        );
        let v2 = "$JS.ACK.hub.ACCHASH.TICKET_CREATED.orders.1.42.9.1700000000000000000.3.token";
        assert_eq!(
            AckSubject::parse(v2),
            Some(AckSubject {
                sequence: 42,
                delivered: 1
            })
        );
        assert_eq!(AckSubject::parse("_INBOX.x"), None);
    }

    #[test]
    fn recently_acked_remembers_acked_sequences_only() {
        let mut acked = RecentlyAcked::default();
        for sequence in [1, 2, 5] {
            acked.insert(sequence);
        }
        assert!(acked.contains(1) && acked.contains(2) && acked.contains(5));
        assert!(!acked.contains(3) && !acked.contains(4) && !acked.contains(6));
        // An older sequence acked late (a queue group's redelivery) counts too.
        acked.insert(3);
        assert!(acked.contains(3));
    }

    #[test]
    fn recently_acked_forgets_sequences_older_than_its_window() {
        let mut acked = RecentlyAcked::default();
        acked.insert(7);
        acked.insert(7 + RECENT_ACKS - 1);
        assert!(acked.contains(7));
        acked.insert(7 + RECENT_ACKS);
        assert!(!acked.contains(7), "slid out of the window");
        // The bit sequence 7 used now belongs to 7 + RECENT_ACKS.
        assert!(acked.contains(7 + RECENT_ACKS));
        acked.insert(10 * RECENT_ACKS);
        assert!(
            !acked.contains(7 + RECENT_ACKS),
            "a long jump forgets everything"
        );
        assert!(acked.contains(10 * RECENT_ACKS));
    }
}
