//! The course's events: data shapes tied to the channel they travel on.
//!
//! Two generations of the course's events live here.
//!
//! **The test project's seed event.** In the course, `publisher.ts` sends
//! `JSON.stringify({ id: '123', title: 'concert', price: 20 })` on the
//! `ticket:created` channel. [`SEED`] is that event, byte for byte; the
//! `publish` binary sends it unless told otherwise, on the channel
//! [`TICKET_CREATED`]. It is data, not a type: the course never read it back
//! as one (it has no `version` or `userId`, so it is no
//! [`TicketCreatedData`]).
//!
//! **The shared package's typed events.** Later the course moves its event
//! definitions into a package every microservice imports: an enum of channel
//! names (`Subjects`), and one interface per event that ties a subject to the
//! shape of its data. Here they are:
//!
//! | Course (TypeScript)              | Here (Rust)                                              |
//! |----------------------------------|----------------------------------------------------------|
//! | `enum Subjects { TicketCreated = 'ticket:created', ... }` | [`Subject`]                     |
//! | `interface Event { subject: Subjects; data: any }` | the [`Event`] trait                   |
//! | `interface TicketCreatedEvent { subject; data }` | [`TicketCreatedEvent`] (the subject) and [`TicketCreatedData`] (the data) |
//! | `TicketCreatedEvent['data']`     | [`Data<TicketCreatedEvent>`](Data), i.e. [`TicketCreatedData`] |
//! | `enum OrderStatus { Created = 'created', ... }` | [`OrderStatus`]                           |
//!
//! Each course interface becomes two Rust types: a marker type such as
//! [`TicketCreatedEvent`], which holds no data and only names the subject
//! (through [`Event::SUBJECT`]), and a struct such as [`TicketCreatedData`]
//! with the event's fields.
//!
//! **Wire format.** The data structs serialise to the JSON the course's
//! TypeScript services write with `JSON.stringify`: camelCase keys (`userId`),
//! the fields in the order of the course's interfaces, an absent `orderId`
//! left out, whole-number prices written without a decimal point (`20`, not
//! `20.0`). So a Node service reads what a Rust service publishes, byte for
//! byte, and the other way round. Reading is lenient the way JavaScript is:
//! unknown fields are ignored, `"orderId": null` reads as no order.

#![warn(missing_docs)]

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::channel::Channel;

/// The channel the course's publisher and listener use.
pub const TICKET_CREATED: &str = "ticket:created";

/// The event the test project's publisher sends, as its
/// `JSON.stringify({ id: '123', title: 'concert', price: 20 })` writes it.
pub const SEED: &str = r#"{"id":"123","title":"concert","price":20}"#;

/// The course's channel names: `export enum Subjects`.
///
/// [`Subject::as_str`], [`Display`](fmt::Display) and [`FromStr`] use the
/// course's spelling, and round-trip:
///
/// ```
/// use nats_course_toolkit::events::Subject;
///
/// let subject: Subject = "order:cancelled".parse().unwrap();
/// assert_eq!(subject, Subject::OrderCancelled);
/// assert_eq!(subject.to_string(), "order:cancelled");
/// assert_eq!(subject.channel().stream_name(), "ORDER_CANCELLED");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    /// `ticket:created`
    #[serde(rename = "ticket:created")]
    TicketCreated,
    /// `ticket:updated`
    #[serde(rename = "ticket:updated")]
    TicketUpdated,
    /// `order:created`
    #[serde(rename = "order:created")]
    OrderCreated,
    /// `order:cancelled`
    #[serde(rename = "order:cancelled")]
    OrderCancelled,
    /// `expiration:complete`
    #[serde(rename = "expiration:complete")]
    ExpirationComplete,
    /// `payment:created`
    #[serde(rename = "payment:created")]
    PaymentCreated,
}

impl Subject {
    /// Every subject, in the course's order.
    pub const ALL: [Subject; 6] = [
        Subject::TicketCreated,
        Subject::TicketUpdated,
        Subject::OrderCreated,
        Subject::OrderCancelled,
        Subject::ExpirationComplete,
        Subject::PaymentCreated,
    ];

    /// The channel name, as the course spells it (`ticket:created`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Subject::TicketCreated => "ticket:created",
            Subject::TicketUpdated => "ticket:updated",
            Subject::OrderCreated => "order:created",
            Subject::OrderCancelled => "order:cancelled",
            Subject::ExpirationComplete => "expiration:complete",
            Subject::PaymentCreated => "payment:created",
        }
    }

    /// The [`Channel`] of this subject, which knows the stream that keeps its
    /// history (`ticket:created` is kept in `TICKET_CREATED`).
    pub fn channel(self) -> Channel {
        Channel::new(self.as_str()).expect("the course's subjects are valid channel names")
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Subject {
    type Err = UnknownSubject;

    fn from_str(name: &str) -> Result<Subject, UnknownSubject> {
        Subject::ALL
            .into_iter()
            .find(|subject| subject.as_str() == name)
            .ok_or_else(|| UnknownSubject(name.to_owned()))
    }
}

impl From<Subject> for Channel {
    fn from(subject: Subject) -> Channel {
        subject.channel()
    }
}

/// A name that is none of the course's [`Subject`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSubject(pub String);

impl fmt::Display for UnknownSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not one of the course's subjects (", self.0)?;
        for (i, subject) in Subject::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(subject.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownSubject {}

/// An event: a subject tied to the shape of its data, as the course's
/// `interface Event { subject: Subjects; data: any }`.
///
/// Implemented by marker types such as [`TicketCreatedEvent`]; a
/// [`Listener`](crate::typed::Listener) or [`Publisher`](crate::typed::Publisher)
/// names one, and the compiler then checks that it only ever handles that
/// subject's data.
pub trait Event: Send + Sync + 'static {
    /// The channel the event travels on: `subject: Subjects.TicketCreated`.
    const SUBJECT: Subject;
    /// The event's data: `data: { id: string; ... }`.
    type Data: Serialize + DeserializeOwned + fmt::Debug + Send + Sync + 'static;
}

/// The data of event `E`: the course's `E['data']`.
pub type Data<E> = <E as Event>::Data;

/// An order's status: the course's `export enum OrderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// `created`: the order exists, its ticket is not yet reserved.
    #[serde(rename = "created")]
    Created,
    /// `cancelled`: the ticket was taken, the user cancelled, or the order expired.
    #[serde(rename = "cancelled")]
    Cancelled,
    /// `awaiting:payment`: the ticket is reserved, payment is pending.
    #[serde(rename = "awaiting:payment")]
    AwaitingPayment,
    /// `complete`: paid.
    #[serde(rename = "complete")]
    Complete,
}

impl OrderStatus {
    /// Every status, in the course's order.
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Created,
        OrderStatus::Cancelled,
        OrderStatus::AwaitingPayment,
        OrderStatus::Complete,
    ];

    /// The status as the course spells it (`awaiting:payment`).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::AwaitingPayment => "awaiting:payment",
            OrderStatus::Complete => "complete",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = String;

    fn from_str(name: &str) -> Result<OrderStatus, String> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| {
                format!("'{name}' is not an order status (created, cancelled, awaiting:payment, complete)")
            })
    }
}

mod course;

pub use course::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_through_str_display_and_serde() {
        for subject in Subject::ALL {
            assert_eq!(subject.as_str().parse::<Subject>(), Ok(subject));
            assert_eq!(subject.to_string(), subject.as_str());
            assert_eq!(Channel::from(subject).as_str(), subject.as_str());
            let json = serde_json::to_string(&subject).unwrap();
            assert_eq!(json, format!("\"{}\"", subject.as_str()));
            assert_eq!(serde_json::from_str::<Subject>(&json).unwrap(), subject);
        }
        let err = "ticket:deleted".parse::<Subject>().unwrap_err();
        assert!(err.to_string().contains("ticket:created, ticket:updated"));
    }

    #[test]
    fn order_statuses_use_the_course_spelling() {
        for status in OrderStatus::ALL {
            assert_eq!(status.as_str().parse::<OrderStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(OrderStatus::AwaitingPayment.as_str(), "awaiting:payment");
    }

    #[test]
    fn prices_are_written_as_javascript_writes_numbers() {
        let json = |price: f64| {
            serde_json::to_string(&OrderCreatedTicket {
                id: "t".into(),
                price,
            })
            .unwrap()
        };
        assert_eq!(json(20.0), r#"{"id":"t","price":20}"#);
        assert_eq!(json(20.5), r#"{"id":"t","price":20.5}"#);
        assert_eq!(json(0.1), r#"{"id":"t","price":0.1}"#);
        assert_eq!(json(-0.0), r#"{"id":"t","price":0}"#);
        assert_eq!(json(1e20), r#"{"id":"t","price":100000000000000000000}"#);
        assert_eq!(json(f64::NAN), r#"{"id":"t","price":null}"#);
    }

    #[test]
    fn missing_or_null_order_id_reads_as_none_and_is_not_written() {
        let json = r#"{"id":"t1","version":2,"title":"concert","price":20,"userId":"u1"}"#;
        let data: TicketUpdatedData = serde_json::from_str(json).unwrap();
        assert_eq!(data.order_id, None);
        assert_eq!(serde_json::to_string(&data).unwrap(), json);
        let with_null =
            r#"{"id":"t1","version":2,"title":"concert","price":20,"userId":"u1","orderId":null}"#;
        let data: TicketUpdatedData = serde_json::from_str(with_null).unwrap();
        assert_eq!(data.order_id, None);
    }
}
