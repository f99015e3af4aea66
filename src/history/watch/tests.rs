//! The watch's tests: notices read by their type, and the marks each
//! subscription's lane gets from infos and notices.

use super::*;
use crate::history::{ChannelStatus, SubscriptionStatus};

fn sub(
    name: &str,
    floor: u64,
    delivered: u64,
    pending: u64,
    redelivered: u64,
) -> SubscriptionStatus {
    SubscriptionStatus {
        name: name.into(),
        queue_group: None,
        durable: false,
        start: "all".into(),
        ack_wait_ms: 5_000,
        max_deliver: None,
        delivered,
        ack_floor: floor,
        ack_pending: pending,
        redelivered,
        pending: 0,
        waiting: 1,
        deliveries: pending,
        floor_delivery: floor,
        pushed: false,
        push_bound: false,
        given_up: 0,
        paused_until: None,
    }
}

fn channel(last: u64, subscriptions: Vec<SubscriptionStatus>) -> ChannelStatus {
    ChannelStatus {
        channel: "ticket:created".into(),
        stream: "TICKET_CREATED".into(),
        events: last,
        first_seq: 1,
        last_seq: last,
        bytes: 100,
        subscriptions,
    }
}

fn json(kind: &str, consumer: &str, seq: u64, deliveries: u64) -> Vec<u8> {
    // Shaped as nats-server 2.12 sends them, with fields this does not read.
    format!(
        r#"{{"type":"{kind}","id":"x1","timestamp":"2026-11-30T09:21:37.1Z","stream":"TICKET_CREATED","consumer":"{consumer}","consumer_seq":7,"stream_seq":{seq},"ack_time":1200,"deliveries":{deliveries}}}"#
    )
    .into_bytes()
}

fn marks(watch: &Watch, seqs: RangeInclusive<u64>) -> Vec<Mark> {
    let channel = &watch.channels()[0];
    let lane = watch.lane(channel, &channel.subscriptions[0]);
    seqs.map(|seq| lane.mark(seq)).collect()
}

const ACK: &str = "io.nats.jetstream.metric.v1.consumer_ack";

#[test]
fn notices_are_read_by_their_type() {
    let n = Notice::parse(&json(ACK, "g", 3, 2)).unwrap();
    assert_eq!(n.stream, "TICKET_CREATED");
    assert_eq!(n.consumer, "g");
    assert_eq!(
        n.kind,
        NoticeKind::Acked {
            seq: 3,
            deliveries: 2
        }
    );
    let nak = json("io.nats.jetstream.advisory.v1.nak", "g", 4, 1);
    assert_eq!(
        Notice::parse(&nak).unwrap().kind,
        NoticeKind::Naked {
            seq: 4,
            deliveries: 1
        }
    );
    let max = br#"{"type":"io.nats.jetstream.advisory.v1.max_deliver","id":"a","timestamp":"2026-11-30T09:21:37Z","stream":"TICKET_CREATED","consumer":"g","stream_seq":5,"deliveries":3}"#;
    assert_eq!(
        Notice::parse(max).unwrap().kind,
        NoticeKind::GivenUp {
            seq: 5,
            deliveries: 3
        }
    );
    let term = json("io.nats.jetstream.advisory.v1.terminated", "g", 6, 1);
    assert_eq!(
        Notice::parse(&term).unwrap().kind,
        NoticeKind::GivenUp {
            seq: 6,
            deliveries: 1
        }
    );
    let created = br#"{"type":"io.nats.jetstream.advisory.v1.consumer_action","stream":"TICKET_CREATED","consumer":"g","action":"created"}"#;
    assert_eq!(Notice::parse(created).unwrap().kind, NoticeKind::Changed);
    let leader = br#"{"type":"io.nats.jetstream.advisory.v1.consumer_leader_elected","stream":"S","consumer":"g"}"#;
    assert_eq!(Notice::parse(leader), None);
    assert_eq!(Notice::parse(b"not json"), None);
}

/// Without notices, a span whose events all wait (ack pending equals
/// its length) is exact: delivered and waiting.
#[test]
fn a_span_that_all_waits_is_exact() {
    let mut watch = Watch::default();
    watch.update(vec![channel(6, vec![sub("g", 2, 5, 3, 0)])]);
    use Mark::*;
    assert_eq!(
        marks(&watch, 0..=7),
        [
            NotStored,
            Acked,
            Acked,
            Waiting,
            Waiting,
            Waiting,
            NotDelivered,
            NotStored
        ]
    );
    let channel = &watch.channels()[0];
    assert!(watch.lane(channel, &channel.subscriptions[0]).is_exact());
}

/// When the server redelivered every waiting event, they are marked
/// redelivered, their count unknown.
#[test]
fn a_span_all_redelivered_is_marked_so() {
    let mut watch = Watch::default();
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 3, 3)])]);
    assert_eq!(marks(&watch, 1..=3), [Mark::Redelivered(None); 3]);
    // One of three: which one, the counts do not say.
    let mut watch = Watch::default();
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 3, 1)])]);
    assert_eq!(marks(&watch, 1..=3), [Mark::Waiting; 3]);
    let channel = &watch.channels()[0];
    let lane = watch.lane(channel, &channel.subscriptions[0]);
    assert_eq!(lane.redelivered_among_waiting(), Some((1, 3)));
}

/// Acks reported out of order make the span exact again: the acked
/// event in the middle, the others waiting.
#[test]
fn reported_acks_tell_the_span_apart() {
    let mut watch = Watch::default();
    watch.update(vec![channel(5, vec![sub("g", 2, 5, 2, 0)])]);
    assert_eq!(marks(&watch, 3..=5), [Mark::Unsure; 3]);
    let channel = &watch.channels()[0];
    let span = watch
        .lane(channel, &channel.subscriptions[0])
        .span()
        .unwrap();
    assert_eq!(
        span,
        Span {
            from: 3,
            to: 5,
            waiting: 2,
            unknown: 3
        }
    );
    watch.notice(Notice::parse(&json(ACK, "g", 4, 1)).unwrap());
    use Mark::*;
    assert_eq!(
        marks(&watch, 1..=5),
        [Acked, Acked, Waiting, Acked, Waiting]
    );
}

/// A NAKed event is going out again; a given-up one stays given up,
/// even once the ack floor has passed it.
#[test]
fn naked_and_given_up_events_are_marked() {
    let mut watch = Watch::default();
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 2, 0)])]);
    watch.notice(Notice::parse(&json("io.nats.jetstream.advisory.v1.nak", "g", 2, 1)).unwrap());
    let given_up = json("io.nats.jetstream.advisory.v1.max_deliver", "g", 1, 3);
    watch.notice(Notice::parse(&given_up).unwrap());
    use Mark::*;
    assert_eq!(
        marks(&watch, 1..=3),
        [GivenUp(3), Redelivered(Some(2)), Waiting]
    );
    watch.keep("TICKET_CREATED", 1..=3);
    watch.update(vec![channel(3, vec![sub("g", 1, 3, 2, 1)])]);
    assert_eq!(marks(&watch, 1..=1), [GivenUp(3)]);
}

/// A queue group that starts at `new` has an ack floor of 0: the
/// events before its start are told apart by its counts.
#[test]
fn events_before_a_new_subscription_are_not_its_own() {
    let mut watch = Watch::default();
    let mut group = sub("g", 0, 6, 3, 0);
    group.start = "new".into();
    watch.update(vec![channel(6, vec![group.clone()])]);
    use Mark::*;
    let before = [BeforeStart; 3];
    assert_eq!(marks(&watch, 1..=6), [before, [Waiting; 3]].concat());
    // Event #4 acked: the floor moves to #4, the start stays.
    watch.notice(Notice::parse(&json(ACK, "g", 4, 1)).unwrap());
    group.ack_floor = 4;
    group.floor_delivery = 1;
    group.ack_pending = 2;
    watch.update(vec![channel(6, vec![group.clone()])]);
    assert_eq!(
        marks(&watch, 1..=6),
        [&before[..], &[Acked, Waiting, Waiting]].concat()
    );
    // A subscription that starts at #N starts there.
    group.start = "#2".into();
    group.ack_floor = 0;
    group.floor_delivery = 0;
    group.ack_pending = 5;
    watch.update(vec![channel(6, vec![group])]);
    assert_eq!(marks(&watch, 1..=2), [BeforeStart, Waiting]);
}

/// A subscription created again (listen --reset) forgets what was known.
#[test]
fn a_changed_subscription_forgets() {
    let mut watch = Watch::default();
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 2, 0)])]);
    watch.notice(Notice::parse(&json(ACK, "g", 2, 1)).unwrap());
    assert_eq!(watch.remembered(), 1);
    let created = br#"{"type":"io.nats.jetstream.advisory.v1.consumer_action","stream":"TICKET_CREATED","consumer":"g","action":"created"}"#;
    watch.notice(Notice::parse(created).unwrap());
    assert_eq!(watch.remembered(), 0);
}

/// Memory stays bounded: acks below the floor are dropped at the next
/// update, and no lane remembers more than MAX_KNOWN events.
#[test]
fn what_is_remembered_stays_bounded() {
    let mut watch = Watch::default();
    watch.update(vec![channel(10_000, vec![sub("g", 0, 10_000, 10_000, 0)])]);
    for seq in 1..=10_000 {
        watch.notice(Notice::parse(&json(ACK, "g", seq, 1)).unwrap());
    }
    assert_eq!(watch.remembered(), MAX_KNOWN);
    watch.update(vec![channel(10_000, vec![sub("g", 9_990, 10_000, 0, 0)])]);
    assert_eq!(watch.remembered(), 10);
    // Gone subscriptions are forgotten.
    watch.update(vec![channel(10_000, vec![])]);
    assert_eq!(watch.remembered(), 0);
}

/// A durable made while 12 events are stored, starting at new ones, was
/// given none: they are before its start, not acked, though an older
/// server reports its ack floor at #12 (nats-server 2.12 and newer at 0). Its first
/// event is its own; a view that first sees it after that ack cannot tell
/// #1 to #13 apart (acked, or before its start) and says so.
#[test]
fn a_new_subscription_given_nothing_has_acked_nothing() {
    use Mark::*;
    for floor in [12, 0] {
        let mut watch = Watch::default();
        let mut late = sub("late", floor, 12, 0, 0);
        late.start = "new".into();
        late.floor_delivery = 0;
        watch.update(vec![channel(12, vec![late.clone()])]);
        assert_eq!(marks(&watch, 1..=12), [BeforeStart; 12], "floor {floor}");
        // #13 published, delivered and acked.
        late.delivered = 13;
        late.ack_floor = 13;
        late.floor_delivery = 1;
        late.deliveries = 1;
        watch.update(vec![channel(13, vec![late.clone()])]);
        assert_eq!(
            marks(&watch, 1..=13),
            [&[BeforeStart; 12][..], &[Acked]].concat()
        );
        let mut later = Watch::default();
        later.update(vec![channel(13, vec![late])]);
        assert_eq!(marks(&later, 12..=13), [Unsure; 2]);
        let c = &later.channels()[0];
        let lane = later.lane(c, &c.subscriptions[0]);
        assert_eq!(lane.unknown_start(), Some(13));
    }
}

/// A redelivery stays marked while its event waits: #1 sent again (the
/// counts say so: 1 of 1), then #2 and #3 delivered (1 of 3 redelivered):
/// #1 is still `R`, the others wait. Acked, it turns acked. A NAKed event
/// shows its delivery count, and keeps it.
#[test]
fn a_redelivery_stays_marked_while_its_event_waits() {
    use Mark::*;
    let mut watch = Watch::default();
    watch.update(vec![channel(1, vec![sub("g", 0, 1, 1, 1)])]);
    assert_eq!(marks(&watch, 1..=1), [Redelivered(None)]);
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 3, 1)])]);
    assert_eq!(marks(&watch, 1..=3), [Redelivered(None), Waiting, Waiting]);
    let c = &watch.channels()[0];
    let lane = watch.lane(c, &c.subscriptions[0]);
    assert_eq!(lane.redelivered_among_waiting(), None, "no longer unknown");
    // #3 NAKed at its 2nd delivery: sent a 3rd time.
    let nak = json("io.nats.jetstream.advisory.v1.nak", "g", 3, 2);
    watch.notice(Notice::parse(&nak).unwrap());
    watch.update(vec![channel(3, vec![sub("g", 0, 3, 3, 2)])]);
    assert_eq!(
        marks(&watch, 1..=3),
        [Redelivered(None), Waiting, Redelivered(Some(3))]
    );
    // #1 acked: the floor passes it; the others stay as they were.
    watch.update(vec![channel(3, vec![sub("g", 1, 3, 2, 1)])]);
    assert_eq!(marks(&watch, 1..=3), [Acked, Waiting, Redelivered(Some(3))]);
}

/// The delivery count tells how many times the events redelivered were
/// sent, while every event delivered since the start waits: 3 events, 6
/// deliveries, all 3 redelivered: twice each (`R2`). A 7th delivery: one
/// of them was sent 3 times, which one the counts do not say (`R`). One
/// event sent again, then two more delivered (4 deliveries): `R2`, `▒`, `▒`.
#[test]
fn the_delivery_count_tells_how_many_times_where_it_can() {
    use Mark::*;
    let mut watch = Watch::default();
    let mut g = sub("g", 0, 3, 3, 3);
    g.deliveries = 6;
    watch.update(vec![channel(3, vec![g.clone()])]);
    assert_eq!(marks(&watch, 1..=3), [Redelivered(Some(2)); 3]);
    g.deliveries = 7;
    watch.update(vec![channel(3, vec![g])]);
    assert_eq!(marks(&watch, 1..=3), [Redelivered(None); 3]);

    let mut watch = Watch::default();
    let mut g = sub("g", 0, 1, 1, 1);
    g.deliveries = 2;
    watch.update(vec![channel(1, vec![g])]);
    assert_eq!(marks(&watch, 1..=1), [Redelivered(Some(2))]);
    let mut g = sub("g", 0, 3, 3, 1);
    g.deliveries = 4;
    watch.update(vec![channel(3, vec![g])]);
    assert_eq!(
        marks(&watch, 1..=3),
        [Redelivered(Some(2)), Waiting, Waiting]
    );
    // One of them acked out of order, unseen: the count is not theirs alone.
    let mut g = sub("g", 0, 3, 2, 1);
    g.deliveries = 4;
    watch.update(vec![channel(3, vec![g])]);
    assert!(!marks(&watch, 1..=3).contains(&Redelivered(Some(2))));
}
