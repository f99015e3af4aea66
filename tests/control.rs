//! The library's subscription controls (`subscription::control`: pause,
//! resume, rewind), which `status --live` offers on a lane, against a real
//! nats-server and a running `listen`.

mod common;

use common::{Listener, NatsServer, block_on, publish_ok, status_json, within};
use nats_course_toolkit::subscription::control::{self, Control, ServerVersion};

/// The stream of `ticket:created`.
const STREAM: &str = "TICKET_CREATED";

async fn jetstream(url: &str) -> async_nats::jetstream::Context {
    let client = async_nats::connect(url).await.expect("connect");
    async_nats::jetstream::new(client)
}

/// The pinned server does all three: its version passes every gate.
#[test]
fn the_pinned_server_has_pause_and_reset() {
    let server = NatsServer::start();
    block_on(async {
        let js = jetstream(&server.url()).await;
        let version = ServerVersion::of(&js.client()).expect("the server says its version");
        for control in [Control::Pause, Control::Resume, Control::Rewind] {
            control
                .check(Some(version))
                .expect("the pinned server does it");
        }
    });
}

/// A paused durable delivers nothing to its running listener until it is
/// resumed; then the event comes at once.
#[test]
fn a_paused_subscription_delivers_nothing_until_resumed() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(&url, &["--durable", "d", "--no-queue-group"]);
    block_on(async {
        let js = jetstream(&url).await;
        let until = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let paused = within("the pause", control::pause(&js, STREAM, "d", until))
            .await
            .expect("pause");
        assert!(paused.paused, "{paused:?}");
        assert!(paused.remaining.is_some_and(|left| left.as_secs() > 200));
        publish_ok(&url, &[]);
        // The server counts it pending, and delivers it to nobody.
        common::wait_until("the event pending", common::DEADLINE, || {
            let status = status_json(&url, &["ticket:created"]);
            status["channels"][0]["subscriptions"][0]["pending"] == 1
        });
        assert!(listener.received().is_empty(), "{}", listener.stdout());
        let resumed = within("the resume", control::resume(&js, STREAM, "d"))
            .await
            .expect("resume");
        assert!(!resumed.paused, "{resumed:?}");
    });
    assert_eq!(listener.wait_for_events(1), [1]);
}

/// Rewinding a running listener's durable sends it the events again, and
/// it prints them (it does not take them for copies a crashed server sent
/// again); to its ack floor, nothing comes (all acked); a subscription for
/// new events cannot be rewound to an event, in the server's words.
#[test]
fn a_rewound_listener_prints_the_events_again() {
    let server = NatsServer::start();
    let url = server.url();
    for _ in 0..3 {
        publish_ok(&url, &[]);
    }
    let listener = Listener::start(
        &url,
        &["--durable", "d", "--no-queue-group", "--deliver-all"],
    );
    assert_eq!(listener.wait_for_events(3), [1, 2, 3]);
    let fresh = Listener::start(&url, &["--durable", "fresh", "--no-queue-group"]);
    block_on(async {
        let js = jetstream(&url).await;
        common::wait_until("the acks applied", common::DEADLINE, || {
            let status = status_json(&url, &["ticket:created"]);
            status["channels"][0]["subscriptions"]
                .as_array()
                .is_some_and(|subs| subs.iter().any(|s| s["name"] == "d" && s["ack_floor"] == 3))
        });
        let floor = within(
            "the rewind to the floor",
            control::rewind(&js, STREAM, "d", None),
        )
        .await
        .expect("rewind to the floor");
        assert_eq!(floor.from, 4, "{floor:?}");
        let rewound = within(
            "the rewind to #2",
            control::rewind(&js, STREAM, "d", Some(2)),
        )
        .await
        .expect("rewind to #2");
        assert_eq!((rewound.from, rewound.ack_floor), (2, 1), "{rewound:?}");
        let refused = within(
            "a refused rewind",
            control::rewind(&js, STREAM, "fresh", Some(1)),
        )
        .await
        .expect_err("a start at new events cannot go back to #1");
        assert_eq!(
            refused.to_string(),
            "rewinding a subscription failed: the server said invalid reset: not allowed"
        );
    });
    assert_eq!(listener.wait_for_events(5), [1, 2, 3, 2, 3]);
    drop(fresh);
}
