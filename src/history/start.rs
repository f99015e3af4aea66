//! Where a subscription starts in the channel's history.
//!
//! A subscription that starts at `new`, `last` or a time does not say where
//! that was ([`SubscriptionStatus::start_seq`] works it out from its info):
//!
//! - `all` starts at the first stored event, `#N` at event N: exact.
//! - A new subscription's delivered position is the event before its
//!   start, and each delivery moves it on by one stored event. So while
//!   every delivery it had is an event still waiting for its ack (its
//!   delivery count, `delivered.consumer_seq`, equals its ack pending
//!   count), nothing was acked, given up or sent twice, and the events it
//!   had are the last `ack_pending` up to its delivered position: it
//!   started at `delivered + 1 - ack_pending`. Exact, for a channel whose
//!   events are removed only from the front (by its limits), as here.
//! - Until its first ack the ack floor's delivery sequence
//!   (`ack_floor.consumer_seq`) is 0 and the floor acks nothing: nats-server
//!   2.12 and newer report it as 0, older servers as the event before the start.
//!   Events at or below it are before the start, not acked.
//! - Otherwise (first seen after an ack or a redelivery) the start is not
//!   told: `status --live` remembers it from an earlier poll, or says so.

use async_nats::jetstream::consumer::DeliverPolicy;

use super::{SubscriptionStatus, rfc3339};

impl SubscriptionStatus {
    /// The first event it may be given, where its info tells it (see the
    /// module doc); `None` when it does not.
    pub fn start_seq(&self) -> Option<u64> {
        if self.start == "all" {
            return Some(1);
        }
        if let Some(n) = self.start.strip_prefix('#').and_then(|n| n.parse().ok()) {
            return Some(n);
        }
        (self.deliveries == self.ack_pending)
            .then(|| (self.delivered + 1).saturating_sub(self.ack_pending).max(1))
    }

    /// Whether its ack floor stands for acks: not until the first one.
    pub fn has_acked(&self) -> bool {
        self.floor_delivery > 0
    }
}

/// The start position as `status` shows it.
pub(super) fn start_position(policy: &DeliverPolicy) -> String {
    match policy {
        DeliverPolicy::All => "all".into(),
        DeliverPolicy::Last => "last".into(),
        DeliverPolicy::New => "new".into(),
        DeliverPolicy::LastPerSubject => "last per subject".into(),
        DeliverPolicy::ByStartSequence { start_sequence } => format!("#{start_sequence}"),
        DeliverPolicy::ByStartTime { start_time } => rfc3339(*start_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::consumer;

    /// A consumer's info as nats-server 2.12 sends it.
    fn info(policy: &str, delivered: [u64; 2], floor: [u64; 2], pending: u64) -> consumer::Info {
        let json = format!(
            r#"{{"stream_name":"TICKET_CREATED","name":"late","created":"2026-12-06T06:21:00Z",
            "config":{{"durable_name":"late","deliver_policy":"{policy}","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"ticket:created","replay_policy":"instant"}},
            "delivered":{{"consumer_seq":{},"stream_seq":{}}},"ack_floor":{{"consumer_seq":{},"stream_seq":{}}},
            "num_ack_pending":{pending},"num_redelivered":0,"num_waiting":1,"num_pending":0}}"#,
            delivered[0], delivered[1], floor[0], floor[1]
        );
        serde_json::from_str(&json).expect("a consumer info")
    }

    /// Where a subscription starts: `all` at the first event; a new one,
    /// given nothing of 12 stored events, at #13 (its delivered position
    /// is #12, its floor 0 on nats-server 2.12 and newer, #12 on older servers: no
    /// ack either way); one that had #13 and #14 and acked nothing, at #13;
    /// once it acked one, not told.
    #[test]
    fn the_start_of_a_subscription_is_told_until_its_first_ack_or_redelivery() {
        let start = |i: consumer::Info| SubscriptionStatus::new(&i).start_seq();
        assert_eq!(start(info("all", [0, 0], [0, 0], 0)), Some(1));
        let new = SubscriptionStatus::new(&info("new", [0, 12], [0, 0], 0));
        assert_eq!((new.start_seq(), new.has_acked()), (Some(13), false));
        let older = SubscriptionStatus::new(&info("new", [0, 12], [0, 12], 0));
        assert_eq!((older.start_seq(), older.has_acked()), (Some(13), false));
        assert_eq!(start(info("new", [2, 14], [0, 0], 2)), Some(13));
        // #13 sent twice: 3 deliveries, 2 waiting.
        assert_eq!(start(info("new", [3, 14], [0, 0], 2)), None);
        let acked = SubscriptionStatus::new(&info("new", [2, 14], [1, 13], 1));
        assert_eq!((acked.start_seq(), acked.has_acked()), (None, true));
        assert_eq!(start(info("last", [0, 11], [0, 0], 0)), Some(12));
    }
}
