//! The course's shared package: the [`Listener`] and [`Publisher`] base
//! classes, as traits over the typed events of [`crate::events`].
//!
//! After the test project, the course moves its NATS code into a package
//! every microservice imports. Its abstract `Listener<T>` and `Publisher<T>`
//! become the two traits here; its `Subjects` enum and event interfaces are in
//! [`crate::events`]. A service implements a trait for one event type, and the
//! compiler checks that it publishes, or handles, only that event's data.
//!
//! | Course (TypeScript)                                  | Here (Rust)                                   |
//! |------------------------------------------------------|-----------------------------------------------|
//! | `abstract class Listener<T extends Event>`           | [`Listener`], with `type Event = ...`         |
//! | `abstract subject: T['subject']`                     | `Event::SUBJECT` of the listener's event type |
//! | `abstract queueGroupName: string`                    | [`Listener::queue_group_name`]                |
//! | `protected ackWait = 5 * 1000`                       | [`Listener::ack_wait`], default [`ACK_WAIT`]  |
//! | `abstract onMessage(data: T['data'], msg: Message)`  | [`Listener::on_message`], returning an [`Ack`]|
//! | `msg.ack()`                                          | return `Ok(Ack::Ack)`                         |
//! | `subscriptionOptions()`                              | [`Listener::subscription_options`]            |
//! | `listen()`                                           | [`Listener::listen`]                          |
//! | `parseMessage(msg)`                                  | JSON into [`Data<Self::Event>`](Data), inside `listen` |
//! | `abstract class Publisher<T extends Event>`          | [`Publisher`], with `type Event = ...`        |
//! | `publish(data: T['data']): Promise<void>`            | [`Publisher::publish`], which returns the event's sequence |
//!
//! The concurrency lesson (process each ticket's versions in order, leave an
//! event that came too early unacked so the server delivers it again later)
//! has a helper here too: [`VersionTracker`].
//!
//! The crate-level documentation shows a complete listener and publisher; the
//! `examples/` directory has runnable ones.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::Client;
use bytes::Bytes;

use crate::duration;
use crate::events::{Data, Event};
use crate::notes::{Notes, error_line, escape_control};
use crate::publish::Batch;
use crate::receive::{self, Handler, ReceiveOptions};
use crate::subscription::{self, GivenUp, StartPosition, Subscription, SubscriptionOptions};

/// The course's listener ack wait: `protected ackWait = 5 * 1000`.
pub const ACK_WAIT: Duration = Duration::from_secs(5);

/// What [`Listener::on_message`] decided about an event: `Ack::Ack`
/// (`msg.ack()`), `Ack::Later` (no ack: the server delivers it again once
/// the ack wait has passed, for an event that came too early, say),
/// `Ack::Nak(delay)` (deliver it again at once, or after the delay) or
/// `Ack::Term` (never again). The receive loop's [`Settle`](crate::receive::Settle).
pub use crate::receive::Settle as Ack;

/// A listener for one event type: the course's `abstract class Listener<T>`.
///
/// Implement [`queue_group_name`](Listener::queue_group_name) and
/// [`on_message`](Listener::on_message); call [`listen`](Listener::listen).
/// `listen` subscribes with the course's options: the whole history
/// (`setDeliverAllAvailable()`), a durable subscription named after the queue
/// group (`setDurableName(queueGroupName)`), manual ack
/// (`setManualAckMode(true)`) and the listener's ack wait (`setAckWait`).
/// It then reads each event's JSON as the event's data type, hands it to
/// `on_message`, and settles it as `on_message` says once it returned: acks
/// it for `Ok(Ack::Ack)`. This is the `listen` command's receive loop
/// ([`crate::receive`]), with its guarantees: a copy redelivered while the
/// first is still being handled is not handed over twice, an event the
/// server gave up (`max_deliver`) is reported to the notes, and on shutdown
/// an event whose `on_message` has not returned is cut short at its next
/// `.await` and given back (nak'd), so another copy of the service gets it
/// at once.
///
/// An event for which `on_message` returns an error is reported (to stderr,
/// or to the writer given to [`listen_with`](Listener::listen_with)) and not
/// acked, so the server delivers it again after the ack wait, as the
/// course's listener, whose `onMessage` threw, would see it again.
///
/// An event whose JSON does not fit the data type (another shape on the
/// same channel, such as the test project's seed event) is reported once and
/// terminated (`+TERM`): no redelivery could ever make it fit, so the server
/// does not send it again. (The course's listener, whose `JSON.parse` threw,
/// saw such an event again after every ack wait, forever.)
///
/// Events are handled one at a time, in the order they arrive, so
/// `on_message` takes `&mut self` and can keep state without locks.
pub trait Listener: Send {
    /// The event this listener handles: `Listener<TicketCreatedEvent>`. Its
    /// subject is the channel it listens on (`subject = Subjects.TicketCreated`).
    type Event: Event;

    /// The queue group: `queueGroupName = 'payments-service'`. Every copy of a
    /// service uses the same one, so each event goes to one of them. It is
    /// also the durable name, so the server remembers what the group acked.
    fn queue_group_name(&self) -> &str;

    /// How long the server waits for an ack before delivering an event again:
    /// `ackWait`, 5 s by default as in the course.
    fn ack_wait(&self) -> Duration {
        ACK_WAIT
    }

    /// Handles one event: `onMessage(data, msg)`. `msg` tells the event's
    /// sequence in its channel and how many times it has been delivered.
    ///
    /// Return `Ok(Ack::Ack)` to ack it (`msg.ack()`), `Ok(Ack::Later)` to
    /// leave it unacked, `Ok(Ack::Nak(delay))` or `Ok(Ack::Term)`, or an
    /// error, which is reported and leaves it unacked.
    /// Implement it with `async fn on_message(...)`.
    fn on_message(
        &mut self,
        data: Data<Self::Event>,
        msg: &subscription::Delivery,
    ) -> impl Future<Output = anyhow::Result<Ack>> + Send;

    /// Whether `listen` should return now. Checked before each event; the
    /// course's listeners never stop, so the default is `false`. Examples and
    /// tests stop after a number of events with it.
    fn is_done(&self) -> bool {
        false
    }

    /// Whether `listen` first deletes the durable subscription, forgetting
    /// what the queue group acked, so it replays the whole history again (like
    /// `listen --reset`). Not in the course; `false` by default. The examples
    /// set it so that every run behaves the same.
    ///
    /// Don't use it with two copies of a listener in one queue group: the
    /// second would delete the first one's subscription.
    fn start_over(&self) -> bool {
        false
    }

    /// The course's `subscriptionOptions()`. Override it to subscribe
    /// differently.
    fn subscription_options(&self) -> SubscriptionOptions {
        let queue_group = self.queue_group_name().to_owned();
        SubscriptionOptions {
            // stan.subscribe(this.subject, this.queueGroupName, ...)
            channel: <Self::Event as Event>::SUBJECT.channel(),
            queue_group: Some(queue_group.clone()),
            // .setDeliverAllAvailable()
            start: Some(StartPosition::All),
            // .setDurableName(this.queueGroupName)
            durable: Some(queue_group),
            // .setManualAckMode(true) is how every subscription works here;
            // .setAckWait(this.ackWait)
            ack_wait: self.ack_wait(),
            reset: self.start_over(),
            ..SubscriptionOptions::new(<Self::Event as Event>::SUBJECT.channel())
        }
    }

    /// Subscribes and handles events until `shutdown` resolves or
    /// [`is_done`](Listener::is_done) says so: the course's `listen()`.
    /// It prints nothing: to hear about problems with single events, use
    /// [`listen_with`](Listener::listen_with).
    ///
    /// `client` is a connection the caller made (and closes, with
    /// `client.drain()`); on the way out `listen` closes its subscription and
    /// makes sure its acks have reached the server.
    fn listen(
        &mut self,
        client: &Client,
        shutdown: impl Future<Output = ()> + Send,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move { self.listen_with(client, shutdown, &Notes::silent()).await }
    }

    /// [`listen`](Listener::listen), saying problems with single events, and
    /// notes about the subscription, to `notes` (a service's log, say, or
    /// `Notes::to(|line| eprintln!("{line}"))`).
    fn listen_with(
        &mut self,
        client: &Client,
        shutdown: impl Future<Output = ()> + Send,
        notes: &Notes,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            let options = self.subscription_options();
            let mut subscription = Subscription::open(client, &options, notes).await?;
            let mut typed = Typed {
                listener: self,
                notes,
                redelivery: format!(
                    "it is not acked, so the server delivers it again after {}",
                    duration::format(options.ack_wait)
                ),
            };
            let stop = async {
                shutdown.await;
                Ok(())
            };
            let result = receive::receive(
                &mut subscription,
                &mut typed,
                // Nothing to write out: each event is settled as soon as
                // `on_message` returns, however slow the next one is.
                ReceiveOptions {
                    settle_each: true,
                    ..ReceiveOptions::default()
                },
                stop,
                notes,
            )
            .await;
            // stan.close(): stop receiving, and flush so every ack reaches the server.
            let unconfirmed = subscription.close().await;
            if unconfirmed > 0 {
                notes.say(format_args!(
                    "{}",
                    subscription::unconfirmed_acks_note(unconfirmed)
                ));
            }
            let flushed = client
                .flush()
                .await
                .context("could not send the last acks to the server");
            result.and(flushed)
        }
    }
}

/// The receive loop's handler for a [`Listener`]: parse, `on_message`.
struct Typed<'a, L: ?Sized> {
    listener: &'a mut L,
    notes: &'a Notes,
    /// What an event that failed is told to expect.
    redelivery: String,
}

impl<L: Listener + ?Sized> Handler for Typed<'_, L> {
    async fn handle(&mut self, msg: &subscription::Delivery) -> anyhow::Result<Ack> {
        let subject = <L::Event as Event>::SUBJECT;
        // The course's parseMessage(): JSON.parse(msg.getData()).
        let data = match serde_json::from_slice::<Data<L::Event>>(&msg.data) {
            Ok(data) => data,
            Err(err) => {
                self.notes.say(format_args!(
                    "Could not read event #{} on {subject} as {}: {err}; it never will be, so it \
                     is terminated (+TERM) and not delivered again. Its data: {}",
                    msg.sequence,
                    short_type_name::<Data<L::Event>>(),
                    escape_control(&String::from_utf8_lossy(&msg.data))
                ));
                return Ok(Ack::Term);
            }
        };
        match self.listener.on_message(data, msg).await {
            Ok(settle) => Ok(settle),
            Err(err) => {
                self.notes.say(format_args!(
                    "Could not handle event #{} on {subject}: {}; {}",
                    msg.sequence,
                    error_line(&err),
                    self.redelivery
                ));
                Ok(Ack::Later)
            }
        }
    }

    fn given_up(&mut self, given_up: GivenUp) -> anyhow::Result<()> {
        self.notes.say(format_args!(
            "Event #{} on {} was given up after {} deliveries without an ack",
            given_up.sequence,
            <L::Event as Event>::SUBJECT,
            given_up.deliveries
        ));
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.listener.is_done()
    }
}

/// `TicketCreatedData` rather than `nats_course_toolkit::events::TicketCreatedData`.
fn short_type_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    name.rsplit("::").next().unwrap_or(name)
}

/// A publisher for one event type: the course's `abstract class Publisher<T>`.
///
/// Implement [`client`](Publisher::client) (the course passed the client to
/// the constructor) and call [`publish`](Publisher::publish).
pub trait Publisher {
    /// The event this publisher sends: `Publisher<TicketCreatedEvent>`. Its
    /// subject is the channel it publishes on.
    type Event: Event;

    /// The connection to publish on.
    fn client(&self) -> &Client;

    /// Publishes `data` as JSON on the event's subject and returns once the
    /// server has stored it, with the event's sequence in its channel: the
    /// course's `publish(data)`, whose promise resolved in `stan.publish`'s
    /// callback.
    ///
    /// It is the `publish` command's exactly-once publish
    /// ([`crate::publish::Batch`]): the event carries a
    /// `Nats-Msg-Id`, and if the connection drops before the server
    /// confirms it, it is sent again with the same id, so it is stored once.
    /// The first publish on a channel that has no stream yet creates it.
    fn publish(
        &self,
        data: &Data<Self::Event>,
    ) -> impl Future<Output = anyhow::Result<u64>> + Send {
        let subject = <Self::Event as Event>::SUBJECT;
        let payload = serde_json::to_vec(data).map(Bytes::from);
        let client = self.client().clone();
        async move {
            let payload = payload.with_context(|| format!("could not write {subject} as JSON"))?;
            let mut sequence = 0;
            Batch::new(subject.channel(), payload, 1)
                .publish(&client, &Notes::silent(), std::future::pending(), |seq| {
                    sequence = seq;
                    Ok::<(), std::convert::Infallible>(())
                })
                .await
                .with_context(|| format!("could not publish an event on {subject}"))?;
            Ok(sequence)
        }
    }
}

/// The version every record starts with: the course's
/// `mongoose-update-if-current` numbers a new ticket's version 0.
pub const FIRST_VERSION: u64 = 0;

/// Where an event's version stands, for a listener that processes each
/// record's versions in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionCheck {
    /// The version after the last one processed (or [`FIRST_VERSION`] for a
    /// new record): process it, then ack.
    Next,
    /// A later version than the next one: an event before it has not been
    /// processed yet. Don't ack ([`Ack::Later`]); the server delivers it
    /// again after the ack wait, by when the events before it may have come.
    TooEarly {
        /// The version this record needs next.
        expected: u64,
    },
    /// This version, or a later one, was processed already: a redelivery
    /// whose ack was lost. Ack it without processing it again.
    AlreadyProcessed,
}

/// The concurrency lesson: remembers the last version processed per record
/// id, and tells whether an event is the next one.
///
/// In the course, a listener finds the record by id *and* `version - 1`
/// (`Ticket.findByEvent(data)`); when there is none, an earlier event is
/// still missing, so it throws and doesn't ack. The server delivers the event
/// again later, and so events published out of order end up processed in
/// version order. This keeps the last version in memory instead of a
/// database:
///
/// ```
/// use nats_course_toolkit::typed::{VersionCheck, VersionTracker};
///
/// let mut versions = VersionTracker::default();
/// assert_eq!(versions.check("t1", 1), VersionCheck::TooEarly { expected: 0 });
/// assert_eq!(versions.check("t1", 0), VersionCheck::Next);
/// versions.processed("t1", 0);
/// assert_eq!(versions.check("t1", 1), VersionCheck::Next);
/// assert_eq!(versions.check("t1", 0), VersionCheck::AlreadyProcessed);
/// ```
#[derive(Debug, Clone, Default)]
pub struct VersionTracker {
    last: HashMap<String, u64>,
}

impl VersionTracker {
    /// Whether `version` is the next one to process for record `id`.
    pub fn check(&self, id: &str, version: u64) -> VersionCheck {
        let expected = self.expected(id);
        if version == expected {
            VersionCheck::Next
        } else if version > expected {
            VersionCheck::TooEarly { expected }
        } else {
            VersionCheck::AlreadyProcessed
        }
    }

    /// Records that `version` of record `id` has been processed.
    pub fn processed(&mut self, id: &str, version: u64) {
        self.last.insert(id.to_owned(), version);
    }

    /// The last version processed for record `id`, if any.
    pub fn last(&self, id: &str) -> Option<u64> {
        self.last.get(id).copied()
    }

    /// The version record `id` needs next.
    pub fn expected(&self, id: &str) -> u64 {
        self.last(id).map_or(FIRST_VERSION, |last| last + 1)
    }
}
