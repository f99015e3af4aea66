//! The course's event interfaces, one marker type (the subject) and one
//! data struct (the fields) each.

use serde::{Deserialize, Serialize};

use super::{Event, OrderStatus, Subject};

/// A course event's marker type: it holds no data, and names the subject the
/// event travels on and the struct of its data (see [`Event`]).
macro_rules! course_event {
    ($(#[$doc:meta])* $marker:ident: $subject:ident => $data:ident) => {
        $(#[$doc])*
        #[doc = concat!("\n\nIts data is [`", stringify!($data), "`].")]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl Event for $marker {
            const SUBJECT: Subject = Subject::$subject;
            type Data = $data;
        }
    };
}

course_event!(
    /// `ticket:created`: the course's `TicketCreatedEvent`.
    TicketCreatedEvent: TicketCreated => TicketCreatedData
);

/// The data of `ticket:created`, as the course's shared package defines it.
///
/// JSON: `{"id":"...","version":0,"title":"...","price":20,"userId":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreatedData {
    /// The ticket's id.
    pub id: String,
    /// The ticket's version: 0 when created, one more on each update.
    pub version: u64,
    /// What the ticket is for.
    pub title: String,
    /// The price; a JavaScript `number`, so `20` and `20.5` both work.
    #[serde(with = "js_number")]
    pub price: f64,
    /// The user who sells the ticket.
    pub user_id: String,
}

course_event!(
    /// `ticket:updated`: the course's `TicketUpdatedEvent`.
    TicketUpdatedEvent: TicketUpdated => TicketUpdatedData
);

/// The data of `ticket:updated`.
///
/// JSON: `{"id":"...","version":1,"title":"...","price":20,"userId":"...","orderId":"..."}`,
/// without `orderId` when the ticket is not reserved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketUpdatedData {
    /// The ticket's id.
    pub id: String,
    /// The ticket's version after this update.
    pub version: u64,
    /// What the ticket is for.
    pub title: String,
    /// The price, a JavaScript `number`.
    #[serde(with = "js_number")]
    pub price: f64,
    /// The user who sells the ticket.
    pub user_id: String,
    /// The order that reserved the ticket, if any: `orderId?: string`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

course_event!(
    /// `order:created`: the course's `OrderCreatedEvent`.
    OrderCreatedEvent: OrderCreated => OrderCreatedData
);

/// The data of `order:created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreatedData {
    /// The order's id.
    pub id: String,
    /// The order's version.
    pub version: u64,
    /// The order's status.
    pub status: OrderStatus,
    /// The user who placed the order.
    pub user_id: String,
    /// When the reservation runs out, as the course writes it:
    /// `order.expiresAt.toISOString()`, e.g. `2024-01-01T00:15:00.000Z`.
    pub expires_at: String,
    /// The ordered ticket.
    pub ticket: OrderCreatedTicket,
}

/// The ticket inside [`OrderCreatedData`]: `ticket: { id: string; price: number }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreatedTicket {
    /// The ticket's id.
    pub id: String,
    /// The ticket's price, a JavaScript `number`.
    #[serde(with = "js_number")]
    pub price: f64,
}

course_event!(
    /// `order:cancelled`: the course's `OrderCancelledEvent`.
    OrderCancelledEvent: OrderCancelled => OrderCancelledData
);

/// The data of `order:cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelledData {
    /// The order's id.
    pub id: String,
    /// The order's version.
    pub version: u64,
    /// The ticket the order had reserved.
    pub ticket: OrderCancelledTicket,
}

/// The ticket inside [`OrderCancelledData`]: `ticket: { id: string }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelledTicket {
    /// The ticket's id.
    pub id: String,
}

course_event!(
    /// `expiration:complete`: the course's `ExpirationCompleteEvent`.
    ExpirationCompleteEvent: ExpirationComplete => ExpirationCompleteData
);

/// The data of `expiration:complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationCompleteData {
    /// The order whose reservation ran out.
    pub order_id: String,
}

course_event!(
    /// `payment:created`: the course's `PaymentCreatedEvent`.
    PaymentCreatedEvent: PaymentCreated => PaymentCreatedData
);

/// The data of `payment:created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCreatedData {
    /// The payment's id.
    pub id: String,
    /// The order that was paid.
    pub order_id: String,
    /// The charge's id at Stripe.
    pub stripe_id: String,
}

/// JavaScript numbers as `JSON.stringify` writes them.
///
/// serde_json writes the `f64` 20.0 as `20.0`; JavaScript writes `20`. Whole
/// numbers below 10^21 (where JavaScript switches to exponent notation) are
/// therefore written as integers; fractions are written by serde_json in the
/// same shortest round-trip form JavaScript uses (`20.5`, `0.1`). Only
/// fractions below 10^-6 could differ in spelling (`1e-7`), never in value.
/// A non-finite number is written as `null`, as JavaScript does.
mod js_number {
    use serde::{Deserialize, Deserializer, Serializer};

    /// The first whole number JavaScript writes in exponent notation.
    const EXPONENT_FROM: f64 = 1e21;

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        let value = *value;
        if value.is_finite() && value.fract() == 0.0 && value.abs() < EXPONENT_FROM {
            // Exact: a whole f64 below 10^21 fits an i128; -0 becomes 0, as in JavaScript.
            serializer.serialize_i128(value as i128)
        } else {
            serializer.serialize_f64(value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        f64::deserialize(deserializer)
    }
}
