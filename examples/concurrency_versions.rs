//! The concurrency lesson: process each ticket's versions in order, even when
//! events arrive out of order.
//!
//! Events can arrive out of order: published by different copies of a
//! service, or delivered again after a listener crashed. The course gives
//! every record a `version` (0 when created, +1 on each update) and has a
//! listener process only the next version of a record:
//!
//! ```text
//! const ticket = await Ticket.findByEvent(data); // { _id: data.id, version: data.version - 1 }
//! if (!ticket) throw new Error('Ticket not found'); // too early: no ack
//! ...
//! msg.ack();
//! ```
//!
//! An event that comes too early is not acked, so the server delivers it
//! again after the ack wait (1 s here), by when the events before it have
//! been processed. This example publishes versions 2, 0, 3, 1 of one ticket
//! and shows the listener process them as 0, 1, 2, 3. `VersionTracker` keeps
//! the last version per ticket id in memory, where the course used MongoDB.
//!
//! Run it with a server on `NATS_URL` (default `nats://localhost:4222`):
//! `cargo run --example concurrency_versions`. It stops once version 3 is
//! processed (or on Ctrl-C). Each run uses a new ticket id and starts its
//! subscription over, so a rerun behaves the same.

use std::time::Duration;

use nats_course_cli::shutdown;
use nats_course_toolkit::Notes;
use nats_course_toolkit::events::{TicketUpdatedData, TicketUpdatedEvent};
use nats_course_toolkit::typed::{Ack, Listener, Publisher, VersionCheck, VersionTracker};

/// The order of versions the publisher sends them in.
const PUBLISHED: [u64; 4] = [2, 0, 3, 1];

struct TicketUpdatedPublisher {
    client: async_nats::Client,
}

impl Publisher for TicketUpdatedPublisher {
    type Event = TicketUpdatedEvent;

    fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

// The orders service's TicketUpdatedListener.
struct TicketUpdatedListener {
    /// This run's ticket.
    ticket: String,
    /// The last version processed per ticket id (the course's tickets collection).
    versions: VersionTracker,
    /// The versions processed, in order.
    processed: Vec<u64>,
}

impl Listener for TicketUpdatedListener {
    type Event = TicketUpdatedEvent;

    fn queue_group_name(&self) -> &str {
        "concurrency-example"
    }

    // ackWait: short, so an early event comes back quickly.
    fn ack_wait(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn on_message(
        &mut self,
        data: TicketUpdatedData,
        msg: &nats_course_toolkit::Delivery,
    ) -> anyhow::Result<Ack> {
        if data.id != self.ticket {
            return Ok(Ack::Ack); // an earlier run's ticket: not this run's lesson
        }
        let delivery = format!("event #{}, delivery #{}", msg.sequence, msg.delivered);
        // Ticket.findByEvent(data): is the previous version the last one processed?
        match self.versions.check(&data.id, data.version) {
            VersionCheck::Next => {
                // ticket.set({ title, price }); await ticket.save();
                self.versions.processed(&data.id, data.version);
                self.processed.push(data.version);
                println!("Processed version {} ({delivery})", data.version);
                Ok(Ack::Ack) // msg.ack();
            }
            VersionCheck::TooEarly { expected } => {
                // throw new Error('Ticket not found'): no ack, so it comes back after ackWait
                println!(
                    "Version {} came too early, waiting for version {expected}: not acked ({delivery})",
                    data.version
                );
                Ok(Ack::Later)
            }
            // Processed already (its ack was lost): ack it again, change nothing.
            VersionCheck::AlreadyProcessed => Ok(Ack::Ack),
        }
    }

    fn is_done(&self) -> bool {
        self.versions.last(&self.ticket) == Some(3)
    }

    // Not in the course: forget earlier runs' acks (each run is the same).
    fn start_over(&self) -> bool {
        true
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let ctrl_c = shutdown::signal()?;
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://localhost:4222".into());
    let client = async_nats::connect(&url).await.map_err(|err| {
        anyhow::anyhow!("could not connect to NATS at {url} ({err}); start one with `make server`")
    })?;
    let ticket = format!("ticket-{:08x}", rand::random::<u32>());

    // Versions 2, 0, 3, 1 of one ticket, in that order.
    let publisher = TicketUpdatedPublisher {
        client: client.clone(),
    };
    for version in PUBLISHED {
        let data = TicketUpdatedData {
            id: ticket.clone(),
            version,
            title: "concert".into(),
            price: 20.0 + version as f64,
            user_id: "456".into(),
            order_id: None,
        };
        let sequence = publisher.publish(&data).await?;
        println!("Published version {version} of {ticket} as event #{sequence}");
    }

    let mut listener = TicketUpdatedListener {
        ticket,
        versions: VersionTracker::default(),
        processed: Vec::new(),
    };
    // Notes (an event that cannot be read, say) on stderr: the library prints nothing itself.
    let notes = Notes::to(|line| eprintln!("{line}"));
    let result = listener.listen_with(&client, ctrl_c, &notes).await;
    client.drain().await.ok();
    result?;

    let order: Vec<String> = listener.processed.iter().map(u64::to_string).collect();
    println!("Processed versions in order: {}", order.join(", "));
    Ok(())
}
