//! The course's events: data shapes tied to the channel they travel on.
//!
//! In the course, `publisher.ts` sends
//! `JSON.stringify({ id: '123', title: 'concert', price: 20 })` on the
//! `ticket:created` channel. [`TicketCreated`] is that event, serialised to the
//! same bytes.

use serde::{Deserialize, Serialize};

/// The channel the course's publisher and listener use.
pub const TICKET_CREATED: &str = "ticket:created";

/// The course's `ticket:created` event data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketCreated {
    /// Ticket id, a string in the course (`'123'`).
    pub id: String,
    /// What the ticket is for.
    pub title: String,
    /// Price in whole currency units.
    pub price: u64,
}

impl TicketCreated {
    /// The event the seed publisher sends: `{"id":"123","title":"concert","price":20}`.
    pub fn seed() -> Self {
        TicketCreated {
            id: "123".into(),
            title: "concert".into(),
            price: 20,
        }
    }

    /// The event as JSON, exactly as the seed's `JSON.stringify` writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and numbers always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_event_serialises_like_the_course() {
        assert_eq!(
            TicketCreated::seed().to_json(),
            r#"{"id":"123","title":"concert","price":20}"#
        );
    }
}
