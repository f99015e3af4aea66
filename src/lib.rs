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
//! - [`cli`]: the command-line flags of both binaries, and the one step that
//!   turns them into a typed config.
//! - [`connection`]: server URLs (`http://` and comma lists accepted),
//!   connecting with a client id, and errors that say how to get a server.
//! - [`channel`]: a NATS Streaming channel is a JetStream subject captured by
//!   a stream; the stream name rule and the creation of the stream on first use.
//! - [`events`]: the course's event types, such as [`TicketCreated`].
//! - [`publish`]: pipelined publishing, each event confirmed by the server.
//! - [`subscription`]: subscription options (queue group, deliver-all,
//!   durable name, manual ack, ack wait) become a JetStream pull consumer;
//!   pulling events, acking them, closing.
//! - [`listen`]: the `listen` command: print each event, ack it, close cleanly.
//! - [`watch`]: `publish --watch`: publish again on every save of a file.
//! - [`shutdown`]: SIGINT/SIGTERM as a future, so a clean close is one call.
//! - [`duration`]: `500ms`, `30s`, `10m`, `1h` as flag values.

pub mod channel;
pub mod cli;
pub mod connection;
pub mod duration;
pub mod events;
pub mod listen;
pub mod publish;
pub mod shutdown;
pub mod subscription;
pub mod typed;
pub mod watch;

pub use channel::Channel;
pub use cli::{ListenArgs, PublishArgs};
pub use events::TicketCreated;
pub use listen::ListenConfig;
pub use publish::PublishConfig;
pub use subscription::{Event, StartPosition, Subscription, SubscriptionOptions};
pub use typed::{Ack, Listener, Publisher};
