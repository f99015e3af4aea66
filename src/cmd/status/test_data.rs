//! Test data the drawings of the tape share (the live view's and the
//! picture's): subscriptions and a channel as the server reports them.

use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};

/// A subscription that has had nothing yet (see [`served`] for how the
/// server reports one).
pub(crate) fn sub(name: &str) -> SubscriptionStatus {
    SubscriptionStatus {
        name: name.into(),
        queue_group: None,
        durable: false,
        start: "all".into(),
        ack_wait_ms: 30_000,
        max_deliver: None,
        delivered: 0,
        ack_floor: 0,
        ack_pending: 0,
        redelivered: 0,
        pending: 0,
        waiting: 1,
        deliveries: 0,
        floor_delivery: 0,
        pushed: false,
        push_bound: false,
        given_up: 0,
        paused_until: None,
    }
}

/// As the server reports them: the floor's delivery sequence set once
/// something was acked, every delivery a first one, and a listener's own
/// subscription pushed to a listener connected now.
pub(crate) fn served(mut s: SubscriptionStatus) -> SubscriptionStatus {
    s.floor_delivery = s.ack_floor;
    s.deliveries = s.delivered;
    if s.queue_group.is_none() && !s.durable {
        (s.pushed, s.push_bound, s.waiting) = (true, true, 0);
    }
    s
}

/// The channel `ticket:created` with events #1 to #`last`.
pub(crate) fn channel(last: u64, subscriptions: Vec<SubscriptionStatus>) -> ChannelStatus {
    ChannelStatus {
        channel: "ticket:created".into(),
        stream: "TICKET_CREATED".into(),
        events: last,
        first_seq: 1,
        last_seq: last,
        bytes: 100 * last,
        subscriptions,
    }
}
