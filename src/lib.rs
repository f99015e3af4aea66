//! # nats-course-toolkit
//!
//! A Rust port of the course's `nats_test_project`: a `publish` command that
//! sends a `ticket:created` event as soon as it connects, and a `listen`
//! command that subscribes with the course's options and prints every event it
//! gets. The course ran on NATS Streaming, which is end-of-life; this toolkit
//! runs on its successor, NATS JetStream, and maps every NATS Streaming idea
//! onto a JetStream setting in exactly one place.
//!
//! What you can see with it: the server keeps every event of a channel (its
//! event history), a new listener can replay that history, a durable
//! subscription remembers what was acknowledged, queue groups share events,
//! and an event that is not acknowledged comes back after the ack wait.
//!
//! # Layout
//!
//! This crate is the library (its manifest is `lib/Cargo.toml`; its
//! sources are this file and the folders beside it). It prints nothing,
//! and has no command-line crate in its tree (no clap, notify, indicatif,
//! ctrlc, ratatui or crossterm: `tests/layout.rs` checks it):
//!
//! - [`connection`]: server URLs (`http://` and comma lists accepted),
//!   connecting with a client id, closing within a deadline, and errors that
//!   say how to get a server.
//! - [`channel`]: a NATS Streaming channel is a JetStream subject captured by
//!   a stream; the stream name rule, the stream's creation on first use, and
//!   [`channel::ClusterWait`] for a cluster that is electing leaders.
//! - [`publish`]: exactly-once, pipelined publishing: the [`publish::Window`]
//!   of events in flight and the [`publish::Batch`] that sends them, each
//!   with a `Nats-Msg-Id`, again after a lost connection: one payload N
//!   times ([`publish::Batch::new`]) or a list in order
//!   ([`publish::Batch::each`]; packed in one buffer, [`publish::Packed`],
//!   for `publish --lines`), with headers or without.
//! - [`subscription`]: subscription options (queue group, deliver-all,
//!   durable name, manual ack, ack wait, max in flight, start time) become a
//!   JetStream consumer; its module docs hold the table from NATS
//!   Streaming to JetStream. Receiving events (pushed to a listener's own
//!   consumer, pulled from a queue group's or durable's); acking, nak-ing
//!   or terminating them; closing. Events given up after their
//!   deliveries (`max_deliver`, with a `backoff` between them): their
//!   notices kept in a stream, and sent on to a dead-letter channel
//!   (`subscription/advisories.rs`).
//! - [`receive`]: the one receive loop both listeners run (the `listen`
//!   command and [`typed::Listener`]): each event handed to a handler and
//!   settled (ack, nak, term, later) only once handled and written out;
//!   redelivered copies, give-ups, a stop mid-event, `--until-caught-up`.
//! - [`history`]: what the server keeps, read over the client port: each
//!   channel's stored events and every subscription's place in them (ack
//!   floor, delivered, ack pending), the stored events themselves, and
//!   [`history::watch`], which follows ack reports and advisories to tell
//!   each event's state for a subscription.
//! - [`events`]: the course's event types: the seed event
//!   ([`events::SEED`]), and the shared package's subjects
//!   ([`events::Subject`]) and typed events.
//! - [`typed`]: the shared package's [`Listener`] and [`Publisher`] traits,
//!   and the concurrency lesson's [`typed::VersionTracker`].
//! - [`notes`]: what the library has to say ([`Notes`]), handed to the
//!   caller instead of printed; error lines and escaped event data.
//! - [`said`]: errors and notes that say what the user can change, as
//!   [`said::Mention`]s, never as a flag: the commands say their flags.
//! - [`server_url`]: the one parser of server URLs (lists, credentials), and
//!   the pure redactor of a URL's password or token
//!   ([`server_url::hide_credentials`]). Masking every secret of a run in
//!   every line printed is the commands' job (`src/cmd/mask/`).
//! - [`duration`]: `500ms`, `30s`, `10m`, `1h30m`, `1d` as flag values.
//!
//! The commands above it are a crate of their own, `nats-course-cli` (the
//! top `Cargo.toml`; sources in `src/cmd/`, binaries in `src/bin/`): the
//! flags and the one step that turns them into a typed config, the
//! `publish`, `listen` and `status` commands and the lines they print,
//! `publish --watch`, colours, the progress bar, signals, and the live
//! view. Flags → typed config → command → library, one way.
//!
//! # The course's shared package: a listener and a publisher
//!
//! After the test project, the course turns its code into a package every
//! service imports: an abstract `Listener<T>` and `Publisher<T>`, an enum of
//! subjects, and one interface per event. Here they are the [`Listener`] and
//! [`Publisher`] traits of [`typed`] and the event types of [`events`]. A
//! listener names its event type and queue group, and handles one event at a
//! time; [`Listener::listen`] subscribes with the course's options (the whole
//! history, a durable subscription named after the queue group, manual ack,
//! a 5 s ack wait):
//!
//! ```no_run
//! use nats_course_toolkit::events::{TicketCreatedData, TicketCreatedEvent};
//! use nats_course_toolkit::{Ack, Listener};
//!
//! // class TicketCreatedListener extends Listener<TicketCreatedEvent>
//! struct TicketCreatedListener;
//!
//! impl Listener for TicketCreatedListener {
//!     type Event = TicketCreatedEvent; // subject = Subjects.TicketCreated
//!
//!     fn queue_group_name(&self) -> &str {
//!         "payments-service"
//!     }
//!
//!     async fn on_message(
//!         &mut self,
//!         data: TicketCreatedData,
//!         msg: &nats_course_toolkit::Delivery,
//!     ) -> anyhow::Result<Ack> {
//!         println!("Event data! #{} {data:?}", msg.sequence);
//!         Ok(Ack::Ack) // msg.ack()
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> anyhow::Result<()> {
//!     let client = async_nats::connect("nats://localhost:4222").await?;
//!     // The service's stop signal (SIGTERM, say) ends listen(), which
//!     // closes the subscription; here it never comes.
//!     let shutdown = std::future::pending();
//!     TicketCreatedListener.listen(&client, shutdown).await?;
//!     client.drain().await?;
//!     Ok(())
//! }
//! ```
//!
//! A publisher names its event type and the connection to publish on;
//! [`Publisher::publish`] returns once the server has stored the event:
//!
//! ```no_run
//! use nats_course_toolkit::Publisher;
//! use nats_course_toolkit::events::{TicketCreatedData, TicketCreatedEvent};
//!
//! // class TicketCreatedPublisher extends Publisher<TicketCreatedEvent>
//! struct TicketCreatedPublisher {
//!     client: async_nats::Client,
//! }
//!
//! impl Publisher for TicketCreatedPublisher {
//!     type Event = TicketCreatedEvent; // subject = Subjects.TicketCreated
//!
//!     fn client(&self) -> &async_nats::Client {
//!         &self.client
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> anyhow::Result<()> {
//!     let client = async_nats::connect("nats://localhost:4222").await?;
//!     let publisher = TicketCreatedPublisher { client: client.clone() };
//!     let sequence = publisher
//!         .publish(&TicketCreatedData {
//!             id: "123".into(),
//!             version: 0,
//!             title: "concert".into(),
//!             price: 20.0,
//!             user_id: "456".into(),
//!         })
//!         .await?;
//!     println!("Event published to subject ticket:created as event #{sequence}");
//!     client.drain().await?;
//!     Ok(())
//! }
//! ```
//!
//! The `examples/` directory has both as runnable programs, plus
//! `typed_events` (subjects and the JSON wire format) and
//! `concurrency_versions` (events processed in version order).

pub mod channel;
pub mod connection;
pub mod duration;
pub mod events;
pub mod history;
pub mod notes;
pub mod publish;
pub mod receive;
pub mod said;
pub mod server_url;
pub mod subscription;
pub mod typed;

pub use channel::Channel;
pub use notes::Notes;
pub use subscription::{Delivery, StartPosition, Subscription, SubscriptionOptions};
pub use typed::{Ack, Listener, Publisher};
