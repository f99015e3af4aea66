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
//! | `setDurableName(D)`          | a durable pull consumer named `D`                   |
//! | neither                      | an ephemeral push consumer, deleted when the listener exits |
//! | `setDeliverAllAvailable()`   | `deliver_policy: all`                               |
//! | (no start option)            | `deliver_policy: new`                               |
//! | `setStartAtSequence(n)`      | `deliver_policy: by_start_sequence`                 |
//! | `setStartAtTimeDelta(ms)`    | `deliver_policy: by_start_time`, now minus the span |
//! | `setStartTime(date)`         | `deliver_policy: by_start_time`                     |
//! | `setManualAckMode(true)`     | `ack_policy: explicit`; `all` for an in-order listener of its own ([`SubscriptionOptions::acks_all`]) |
//! | `setAckWait(ms)`             | `ack_wait`                                          |
//! | `setMaxInFlight(n)`          | `max_ack_pending` (for the whole queue group)       |
//! | (none: redelivered forever)  | `max_deliver`, then a `MAX_DELIVERIES` advisory, kept in a stream (`advisories.rs`) |
//! | (none: one ack wait each)    | `backoff`: the wait before each redelivery          |
//! | (none)                       | a dead-letter channel: each given-up event published there once ([`GiveUpNotices`]) |
//! | `msg.ack()`                  | `+ACK` sent to the message's reply subject          |
//! | (none; only the ack wait)    | `-NAK` or `-NAK {"delay":ns}`: send again now or after a delay ([`Subscription::nak`]) |
//! | (none)                       | `+TERM`: never send again ([`Subscription::term`])  |
//! | `msg.getSequence()`          | the stream sequence in the reply subject            |
//! | `msg.getTimestamp()`         | the timestamp in the reply subject                  |
//! | `msg.isRedelivered()`        | a delivery count above 1 in the reply subject       |
//! | (none)                       | pause, resume, rewind from outside: consumer pause and reset ([`control`]) |
//!
//! Events reach the listener pushed by the server or pulled by the
//! listener: `src/subscription/delivery.rs` says which and why.
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
use async_nats::jetstream::stream::{ConsumerErrorKind, LastRawMessageErrorKind};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{Client, StatusCode, Subject, Subscriber};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;

use crate::channel::{Channel, ClusterWait, jetstream_error};
use crate::connection;
use crate::duration;

mod acks;
mod advisories;
mod consumer;
pub mod control;
mod delivery;
mod options;
mod recent;

use crate::notes::Notes;
use crate::said::{Mention, Said};
use acks::AckLedger;
pub use advisories::{
    DEAD_LETTER_CHANNEL, DEAD_LETTER_DELIVERIES, DEAD_LETTER_SEQUENCE, DEAD_LETTER_SUBSCRIPTION,
    DeadLetter, GiveUpNotices, GivenUp, record_stream_name, record_subject,
};
use consumer::open_consumer;
pub use delivery::AckSubject;
use delivery::Feed;
pub use options::{StartPosition, SubscriptionOptions};
use recent::RecentlyAcked;

/// The queue group of the course's listener.
pub const DEFAULT_QUEUE_GROUP: &str = "orders-microservice-queue-group";

/// NATS Streaming's default ack wait.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// How long a non-durable consumer outlives its last listener (after a crash,
/// say); a listener that exits cleanly deletes its own consumer at once.
pub const INACTIVE_THRESHOLD: Duration = Duration::from_secs(5);

/// How often a push consumer sends an idle heartbeat while it has nothing
/// to deliver.
pub const IDLE_HEARTBEAT: Duration = Duration::from_secs(5);

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

/// How many ack confirmations may be awaited at once (each covers up to
/// [`CONFIRM_EVERY`] acks) before the listener waits for them.
const MAX_UNCONFIRMED: u64 = 8192;

/// At most this many acks in a row go out without asking for a confirmation
/// (see [`Subscription::ack`]).
const CONFIRM_EVERY: u32 = 256;

/// How long a closing listener waits for the events still on their way to
/// it, to give them back (see [`Subscription::close`]).
const GIVE_BACK_WAIT: Duration = Duration::from_secs(2);

/// How long to wait for the server to confirm acks.
const ACK_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// How far back, in sequences, a subscription remembers what it acked: more
/// than a crashed server can forget (a few seconds of acks), in 128 KiB.
const RECENT_ACKS: u64 = 1 << 20;

/// Consumer metadata key recording the queue group a consumer serves.
pub const QUEUE_GROUP_KEY: &str = "queue_group";

/// One event as delivered (a delivery: the same event may be delivered again): `msg` in the course's `onMessage(data, msg)`.
#[derive(Debug)]
pub struct Delivery {
    /// The event's number in its channel (`msg.getSequence()`).
    pub sequence: u64,
    /// 1 on the first delivery, 2 on the first redelivery, and so on.
    pub delivered: u64,
    /// When the server stored the event (`msg.getTimestamp()`).
    pub published: time::OffsetDateTime,
    /// How many events of the subscription were still waiting to be
    /// delivered behind this one, when the server sent it.
    pub pending: u64,
    /// The event's data (`msg.getData()`).
    pub data: Bytes,
    /// The event's NATS headers, if it has any (`Nats-Msg-Id`, say).
    pub headers: Option<async_nats::HeaderMap>,
    reply: Subject,
}

impl Delivery {
    /// Whether the server delivered this event before (`msg.isRedelivered()`).
    pub fn redelivered(&self) -> bool {
        self.delivered > 1
    }
}

/// A live subscription: a consumer on the server, and the inbox its events
/// arrive on. Split by job: the transport (here and in `delivery.rs`: the
/// consumer, the inbox, pulling or being pushed to) moves events; its
/// ack ledger (`AckLedger`, in `acks.rs`) keeps the account of how each was settled and
/// what the server confirmed.
pub struct Subscription {
    client: Client,
    stream: jetstream::stream::Stream,
    /// The consumer, and how it sends events: pushed or pulled.
    feed: Feed,
    inbox: Subject,
    events: Subscriber,
    /// Messages already taken from the inbox, not yet handled, in order
    /// (see `event_waiting` and `keep_alive`).
    arrived: VecDeque<async_nats::Message>,
    /// What was acked, nak'd or terminated, and what the server confirmed.
    acks: AckLedger,
    /// How many times the client had connected when the subscription
    /// opened.
    connects_at_open: u64,
    /// Events still wanted (`--count`), `u64::MAX` for no limit.
    remaining: u64,
    /// The consumer is this listener's alone, and goes when it closes.
    own_consumer: bool,
    /// The server's notices of events it gave up (`--max-deliver`).
    give_ups: Option<GiveUpNotices>,
    /// The connect count and consumer sequence of the last delivery, to
    /// notice a rewind ([`control::rewind`]).
    last_delivery: (u64, u64),
    /// How many events one pull request asks for: [`PULL_BATCH`], or 1
    /// ([`SubscriptionOptions::one_at_a_time`]).
    pull_batch: u64,
    /// The consumer acks in order (`ack_policy: all`): one ack per batch.
    in_order: bool,
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
        // Every event arrives on one inbox: pushed there, or in reply to our
        // pull requests. Subscribed first, so a push consumer finds it.
        let inbox = Subject::from(client.new_inbox());
        let events = client
            .subscribe(inbox.clone())
            .await
            .context("could not subscribe to the listener's inbox")?;
        // With a delivery limit, the server announces each event it gives
        // up; a stream keeps the notices, made before the consumer is.
        let record = match options.max_deliver {
            Some(_) => Some(advisories::ensure_record(&js, &stream).await?),
            None => None,
        };
        let connects = connection::connect_count(client);
        let feed = open_consumer(&js, &stream, options, &inbox, connects, &mut wait).await?;
        let give_ups = match &record {
            Some(record) => Some(
                GiveUpNotices::open(
                    &js,
                    record,
                    &stream,
                    feed.info(),
                    options.dead_letter.as_ref(),
                    &mut wait,
                )
                .await?,
            ),
            None => None,
        };
        let acks = AckLedger::open(client).await?;
        Ok(Subscription {
            in_order: feed.info().config.ack_policy == AckPolicy::All,
            arrived: VecDeque::new(),
            acks,
            connects_at_open: connection::connect_count(client),
            client: client.clone(),
            stream,
            feed,
            inbox,
            events,
            remaining: options.count.unwrap_or(u64::MAX),
            own_consumer: options.consumer_name().is_none(),
            give_ups,
            last_delivery: (0, 0),
            pull_batch: if options.one_at_a_time { 1 } else { PULL_BATCH },
        })
    }

    /// The next event, or `None` once `count` events have arrived. Waits as
    /// long as it takes; cancel-safe, so it can race a shutdown signal.
    pub async fn next(&mut self) -> anyhow::Result<Option<Delivery>> {
        loop {
            if self.remaining == 0 {
                return Ok(None);
            }
            // One that event_waiting() or keep_alive() took from the inbox already.
            if let Some(message) = self.arrived.pop_front() {
                if let Some(event) = self.handle(message).await? {
                    return Ok(Some(event));
                }
                continue;
            }
            // Pulled: the next request goes out when half of the events
            // asked for have arrived, so the server never waits for us.
            self.ask_for_more().await?;
            self.recover_after_reconnect().await?;
            let message = match tokio::time::timeout(LOST_REQUEST_CHECK, self.events.next()).await {
                Ok(Some(message)) => message,
                Ok(None) => bail!("the connection to NATS was closed"),
                Err(_elapsed) => {
                    self.quiet().await?;
                    continue;
                }
            };
            if let Some(event) = self.handle(message).await? {
                return Ok(Some(event));
            }
        }
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
    pub async fn ack(&mut self, event: &Delivery) -> anyhow::Result<()> {
        let more_coming = self.remaining > 0 && self.event_waiting();
        self.acks.send_ack(event, more_coming).await
    }

    /// Acks events in order, as [`Subscription::ack`] does one: the acks
    /// before the last go out without asking for a confirmation. On a
    /// consumer that acks in order ([`Subscription::acks_in_order`]) only
    /// the highest is sent: it covers the others.
    pub async fn ack_all(
        &mut self,
        events: impl IntoIterator<Item = Delivery>,
    ) -> anyhow::Result<()> {
        if self.in_order {
            let more_coming = self.remaining > 0 && self.event_waiting();
            return self.acks.send_acks_in_order(events, more_coming).await;
        }
        let mut events = events.into_iter().peekable();
        while let Some(event) = events.next() {
            let more_coming =
                events.peek().is_some() || (self.remaining > 0 && self.event_waiting());
            self.acks.send_ack(&event, more_coming).await?;
        }
        Ok(())
    }

    /// Whether the consumer acks in order (`ack_policy: all`, see
    /// [`SubscriptionOptions::acks_all`]): an ack covers every event
    /// delivered before it, so events are settled by acks only, in order.
    pub fn acks_in_order(&self) -> bool {
        self.in_order
    }

    /// Terminates an event (`+TERM`): the server will never deliver it again,
    /// as for an event no listener can handle.
    pub async fn term(&mut self, event: &Delivery) -> anyhow::Result<()> {
        self.acks.term(event).await
    }

    /// Negatively acknowledges an event (`-NAK`): the server delivers it
    /// again at once, or after `delay`, instead of waiting out the ack wait.
    /// Its delivery count goes up each time, so `max_deliver` ends the loop.
    pub async fn nak(&mut self, event: &Delivery, delay: Option<Duration>) -> anyhow::Result<()> {
        if self.pull_batch == 1 {
            // One at a time: back before the next event is asked for.
            return self.acks.nak_applied(event, delay).await;
        }
        self.acks.nak(event, delay).await
    }

    /// The channel's last event when the subscription opened, as a stream
    /// sequence: once it has been handled, so has every event that was
    /// stored before the listener started. `None` when the subscription had
    /// nothing to deliver then (an empty channel, a listener for new events
    /// only, or a durable that had handled them all). One request to the
    /// server, made only by whoever asks.
    pub async fn backlog_end(&self) -> anyhow::Result<Option<u64>> {
        let info = self.feed.info();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return Ok(None);
        }
        match self
            .stream
            .get_last_raw_message_by_subject(&info.config.filter_subject)
            .await
        {
            Ok(last) => Ok(Some(last.sequence)),
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(err) => Err(err).context("could not look up the channel's last event"),
        }
    }

    /// Where the subscription stands in its channel, by the server's
    /// count: every event up to the ack floor is acked (by this listener or
    /// another member of its queue group), and how many events wait for an
    /// ack. This listener's own acks are confirmed first, so they are
    /// counted. One request to the server, or two.
    pub async fn standing(&mut self) -> anyhow::Result<Standing> {
        self.acks.confirm_acks().await;
        let info = self
            .stream
            .consumer_info(&self.feed.info().name)
            .await
            .context("could not ask the server where the subscription stands")?;
        Ok(Standing {
            ack_floor: info.ack_floor.stream_sequence,
            waiting_for_ack: info.num_ack_pending as u64,
            ack_wait: info.config.ack_wait,
        })
    }

    /// The server's notices of events it gave up after `max_deliver`
    /// deliveries; `None` without a limit, or once taken.
    pub fn take_give_ups(&mut self) -> Option<GiveUpNotices> {
        self.give_ups.take()
    }

    /// How many events came back although this subscription had acked them,
    /// and were acked again instead of returned.
    pub fn skipped_duplicates(&self) -> Skipped {
        self.acks.skipped
    }

    /// Counts a copy of an event that came back after the ack wait while
    /// the caller still held the first one, and did not show it again.
    pub fn skipped_copy(&mut self) {
        self.acks.skipped.after_ack_wait += 1;
    }

    /// Stops receiving, gives back (nak's) every event the server sent that
    /// [`Subscription::next`] did not return, deletes the consumer if it was
    /// this listener's alone, and returns how many acks the server did not
    /// confirm (0 when every ack is applied). The caller nak's what it was
    /// given and did not handle before, and drains the connection after.
    pub async fn close(mut self) -> u64 {
        // A shared consumer outlives this listener: what it was sent and did
        // not handle goes back to the server at once. An own consumer is
        // deleted below, and its events with it.
        if !self.own_consumer {
            self.give_back().await;
        }
        let unconfirmed = self.acks.confirm_acks().await;
        self.events.unsubscribe().await.ok();
        if self.own_consumer {
            self.stream
                .delete_consumer(&self.feed.info().name)
                .await
                .ok();
        }
        unconfirmed
    }
}

/// What closing says when the server did not confirm every ack: the one
/// wording of it, for the `listen` command and the `Listener` trait alike.
pub fn unconfirmed_acks_note(unconfirmed: u64) -> String {
    format!(
        "{unconfirmed} acks were not confirmed by the server before closing (NATS did not \
         answer within {}); their events may be delivered again",
        duration::format(ACK_CONFIRM_TIMEOUT)
    )
}

/// Where a subscription stands, from [`Subscription::standing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Every event up to this sequence is acked.
    pub ack_floor: u64,
    /// Events delivered and not acked yet, by any member.
    pub waiting_for_ack: u64,
    /// How long the server waits for an ack before it sends an event again.
    pub ack_wait: Duration,
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
