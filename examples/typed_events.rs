//! Typed events: each event type ties a subject to the shape of its data, and
//! the data travels as the JSON a Node service writes and reads.
//!
//! The course's shared package has an enum of subjects and one interface per
//! event:
//!
//! ```text
//! export enum Subjects { TicketCreated = 'ticket:created', TicketUpdated = 'ticket:updated', ... }
//! export interface TicketUpdatedEvent {
//!   subject: Subjects.TicketUpdated;
//!   data: { id: string; version: number; title: string; price: number; userId: string; orderId?: string };
//! }
//! ```
//!
//! Here `Subject` is that enum, `TicketUpdatedEvent` names the subject (its
//! `Event::SUBJECT`) and `TicketUpdatedData` is the data. Because a listener
//! or publisher names its event type, the compiler rejects publishing the
//! wrong data on a subject; TypeScript did the same with `Publisher<T>`.
//!
//! This example needs no server: `cargo run --example typed_events`.

use nats_course_toolkit::events::{Data, Event, Subject, TicketUpdatedData, TicketUpdatedEvent};

fn main() -> anyhow::Result<()> {
    // export enum Subjects { ... }: the name round-trips through text.
    for subject in Subject::ALL {
        let parsed: Subject = subject.as_str().parse()?;
        assert_eq!(parsed, subject);
        println!(
            "Subject {subject} is kept in the stream {}",
            subject.channel().stream_name()
        );
    }

    // TicketUpdatedEvent['data']: the subject's data type.
    let data: Data<TicketUpdatedEvent> = TicketUpdatedData {
        id: "123".into(),
        version: 1,
        title: "concert".into(),
        price: 25.0,
        user_id: "456".into(),
        // orderId?: string, absent: not written at all, as JSON.stringify leaves out undefined
        order_id: None,
    };
    // JSON.stringify(data): camelCase keys, the interface's field order, 25 not 25.0
    println!(
        "{} data as JSON: {}",
        TicketUpdatedEvent::SUBJECT,
        serde_json::to_string(&data)?
    );

    // What a Node service publishes after an order reserves the ticket:
    let from_node =
        r#"{"id":"123","version":2,"title":"concert","price":25,"userId":"456","orderId":"789"}"#;
    // JSON.parse(msg.getData()), checked against the interface
    let reserved: TicketUpdatedData = serde_json::from_str(from_node)?;
    println!("Read from a Node service: {reserved:?}");

    // A field missing from the JSON is an error, not `undefined`:
    let missing_version = r#"{"id":"123","title":"concert","price":25,"userId":"456"}"#;
    let err = serde_json::from_str::<TicketUpdatedData>(missing_version).unwrap_err();
    println!("Without a version: {err}");

    // And the compiler ties data to subjects: a Publisher<Event = TicketCreatedEvent>
    // given TicketUpdatedData does not compile ("expected `TicketCreatedData`").
    Ok(())
}
