//! The course's `TicketCreatedListener`: a `Listener` for one event type.
//!
//! The idea: a listener names its event type and queue group and says what to
//! do with one event; `listen()` does the rest with the course's subscription
//! options. The course wrote
//!
//! ```text
//! export class TicketCreatedListener extends Listener<TicketCreatedEvent> {
//!   readonly subject = Subjects.TicketCreated;
//!   queueGroupName = 'payments-service';
//!   onMessage(data: TicketCreatedEvent['data'], msg: Message) {
//!     console.log('Event data!', data);
//!     msg.ack();
//!   }
//! }
//! new TicketCreatedListener(stan).listen();
//! ```
//!
//! `data` arrives already parsed as `TicketCreatedData`. The channel may hold
//! events of other shapes: the test project's seed events
//! (`make publish`) have no `version`. Each of those is reported once on
//! stderr and terminated, so it does not come back. An event delivered again
//! (not acked in time by an earlier run) is marked `(redelivered, delivery #N)`.
//!
//! Run it with a server on `NATS_URL` (default `nats://localhost:4222`):
//! `cargo run --example ticket_created_listener` listens until Ctrl-C;
//! `cargo run --example ticket_created_listener -- 3` exits after 3 events.
//! Publish with `cargo run --example ticket_created_publisher`.

use nats_course_cli::shutdown;
use nats_course_toolkit::Notes;
use nats_course_toolkit::events::{Event, TicketCreatedData, TicketCreatedEvent};
use nats_course_toolkit::typed::{Ack, Listener};

// export class TicketCreatedListener extends Listener<TicketCreatedEvent>
struct TicketCreatedListener {
    /// Events still to handle before exiting; `None` to run until Ctrl-C.
    remaining: Option<u64>,
}

impl Listener for TicketCreatedListener {
    // Listener<TicketCreatedEvent>; readonly subject = Subjects.TicketCreated
    type Event = TicketCreatedEvent;

    // queueGroupName = 'payments-service';
    fn queue_group_name(&self) -> &str {
        "payments-service"
    }

    // (ackWait = 5 * 1000 is the default; override ack_wait() to change it)

    // onMessage(data: TicketCreatedEvent['data'], msg: Message)
    async fn on_message(
        &mut self,
        data: TicketCreatedData,
        msg: &nats_course_toolkit::Delivery,
    ) -> anyhow::Result<Ack> {
        // console.log(`Message received: ${this.subject} / ${this.queueGroupName}`);
        println!(
            "Message received: {} / {}",
            TicketCreatedEvent::SUBJECT,
            self.queue_group_name()
        );
        // console.log('Event data!', data);
        let redelivered = if msg.delivered > 1 {
            format!(" (redelivered, delivery #{})", msg.delivered)
        } else {
            String::new()
        };
        println!("Event data! #{} {data:?}{redelivered}", msg.sequence);
        if let Some(remaining) = &mut self.remaining {
            *remaining -= 1;
        }
        // msg.ack();
        Ok(Ack::Ack)
    }

    fn is_done(&self) -> bool {
        self.remaining == Some(0)
    }

    // Not in the course: forget what the last run acked, so every run
    // replays the channel's whole history (setDeliverAllAvailable()).
    // Remove it to see the durable subscription resume where it left off,
    // or to run two copies in the queue group.
    fn start_over(&self) -> bool {
        true
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let remaining = match std::env::args().nth(1) {
        Some(count) => Some(count.parse::<u64>().map_err(|_| {
            anyhow::anyhow!("usage: ticket_created_listener [COUNT], got '{count}'")
        })?),
        None => None,
    };
    // process.on('SIGINT', () => stan.close()); process.on('SIGTERM', ...)
    let ctrl_c = shutdown::signal()?;

    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://localhost:4222".into());
    // const stan = nats.connect('ticketing', randomBytes(4).toString('hex'), { url });
    let client = async_nats::ConnectOptions::new()
        .name(format!("listener-{:08x}", rand::random::<u32>()))
        .connect(&url)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "could not connect to NATS at {url} ({err}); start one with `make server`"
            )
        })?;
    println!("Listener connected to NATS");

    // Notes (an event that cannot be read, say) on stderr: the library prints nothing itself.
    let notes = Notes::to(|line| eprintln!("{line}"));
    // new TicketCreatedListener(stan).listen();
    let result = TicketCreatedListener { remaining }
        .listen_with(&client, ctrl_c, &notes)
        .await;

    // stan.on('close', () => { console.log('NATS connection closed!'); process.exit(); });
    client.drain().await.ok();
    println!("NATS connection closed!");
    result
}
