//! The course's event interfaces, one marker type (the subject) and one
//! data struct (the fields) each.

use serde::{Deserialize, Serialize};

use super::{Event, OrderStatus, Subject};

/// `ticket:created`: the course's `TicketCreatedEvent`. Its data is
/// [`TicketCreatedData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketCreatedEvent;

impl Event for TicketCreatedEvent {
    const SUBJECT: Subject = Subject::TicketCreated;
    type Data = TicketCreatedData;
}

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

/// `ticket:updated`: the course's `TicketUpdatedEvent`. Its data is
/// [`TicketUpdatedData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketUpdatedEvent;

impl Event for TicketUpdatedEvent {
    const SUBJECT: Subject = Subject::TicketUpdated;
    type Data = TicketUpdatedData;
}

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

/// `order:created`: the course's `OrderCreatedEvent`. Its data is
/// [`OrderCreatedData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderCreatedEvent;

impl Event for OrderCreatedEvent {
    const SUBJECT: Subject = Subject::OrderCreated;
    type Data = OrderCreatedData;
}

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

/// `order:cancelled`: the course's `OrderCancelledEvent`. Its data is
/// [`OrderCancelledData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderCancelledEvent;

impl Event for OrderCancelledEvent {
    const SUBJECT: Subject = Subject::OrderCancelled;
    type Data = OrderCancelledData;
}

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

/// `expiration:complete`: the course's `ExpirationCompleteEvent`. Its data is
/// [`ExpirationCompleteData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExpirationCompleteEvent;

impl Event for ExpirationCompleteEvent {
    const SUBJECT: Subject = Subject::ExpirationComplete;
    type Data = ExpirationCompleteData;
}

/// The data of `expiration:complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationCompleteData {
    /// The order whose reservation ran out.
    pub order_id: String,
}

/// `payment:created`: the course's `PaymentCreatedEvent`. Its data is
/// [`PaymentCreatedData`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PaymentCreatedEvent;

impl Event for PaymentCreatedEvent {
    const SUBJECT: Subject = Subject::PaymentCreated;
    type Data = PaymentCreatedData;
}

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
