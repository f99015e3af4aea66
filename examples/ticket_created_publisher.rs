//! The course's `TicketCreatedPublisher`: a `Publisher` for one event type.
//!
//! The idea: a publisher is tied to one event type, so it can only send that
//! event's data, on that event's subject. The course wrote
//!
//! ```text
//! export class TicketCreatedPublisher extends Publisher<TicketCreatedEvent> {
//!   readonly subject = Subjects.TicketCreated;
//! }
//! await new TicketCreatedPublisher(stan).publish({ id: '123', title: 'concert', price: 20 });
//! ```
//!
//! and here the event type (`TicketCreatedEvent`) brings its subject along.
//! `publish` returns once the server has stored the event, with its sequence.
//!
//! Run it with a server on `NATS_URL` (default `nats://localhost:4222`, e.g.
//! from `make server`): `cargo run --example ticket_created_publisher`. Each
//! run publishes one event; `ticket_created_listener` receives them.

use nats_course_toolkit::events::{Event, TicketCreatedData, TicketCreatedEvent};
use nats_course_toolkit::typed::Publisher;

// export class TicketCreatedPublisher extends Publisher<TicketCreatedEvent>
struct TicketCreatedPublisher {
    // constructor(protected client: Stan)
    client: async_nats::Client,
}

impl Publisher for TicketCreatedPublisher {
    // Publisher<TicketCreatedEvent>; readonly subject = Subjects.TicketCreated
    type Event = TicketCreatedEvent;

    fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://localhost:4222".into());
    // const stan = nats.connect('ticketing', 'abc', { url: 'http://localhost:4222' });
    let client = async_nats::ConnectOptions::new()
        .name("abc")
        .connect(&url)
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "could not connect to NATS at {url} ({err}); start one with `make server`"
            )
        })?;
    // stan.on('connect', ...)
    println!("Publisher connected to NATS");

    let publisher = TicketCreatedPublisher {
        client: client.clone(),
    };
    // await publisher.publish({ id: '123', title: 'concert', price: 20 });
    // (with the fields the course's TicketCreatedEvent has by the end: version and userId)
    let sequence = publisher
        .publish(&TicketCreatedData {
            id: "123".into(),
            version: 0,
            title: "concert".into(),
            price: 20.0,
            user_id: "456".into(),
        })
        .await?;
    // console.log('Event published to subject', this.subject);
    println!(
        "Event published to subject {} as event #{sequence}",
        TicketCreatedEvent::SUBJECT
    );

    client.drain().await?;
    Ok(())
}
