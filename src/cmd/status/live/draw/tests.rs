//! Drawing tests: ratatui's `TestBackend`, snapshots of the screen.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::*;
use crate::status::test_data::{channel, served, sub};
use nats_course_toolkit::history::watch::Notice;
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};
use ratatui::style::Color;

/// A channel of 12 events and six subscriptions, one per state: all
/// acked; 3 waiting; acked out of order (told by an ack report); one
/// given up (told by an advisory); a span the counts cannot tell
/// apart; a queue group with a NAKed event and one redelivered.
fn lesson() -> State {
    let acked = SubscriptionStatus {
        delivered: 12,
        ack_floor: 12,
        ..sub("a-acked-everything")
    };
    let waiting = SubscriptionStatus {
        delivered: 12,
        ack_floor: 9,
        ack_pending: 3,
        ..sub("b-skip-ack")
    };
    let out_of_order = SubscriptionStatus {
        delivered: 5,
        ack_floor: 2,
        ack_pending: 2,
        pending: 7,
        ..sub("c-out-of-order")
    };
    let redelivered = SubscriptionStatus {
        queue_group: Some("orders-service".into()),
        durable: true,
        ack_wait_ms: 5_000,
        delivered: 3,
        ack_floor: 1,
        ack_pending: 2,
        redelivered: 2,
        pending: 9,
        ..sub("orders-service")
    };
    let given_up = SubscriptionStatus {
        max_deliver: Some(3),
        delivered: 12,
        ack_floor: 12,
        ..sub("d-max-deliver")
    };
    let behind = SubscriptionStatus {
        delivered: 6,
        ack_floor: 4,
        ack_pending: 1,
        pending: 6,
        ..sub("e-slow")
    };
    let channel = ChannelStatus {
        channel: "ticket:created".into(),
        stream: "TICKET_CREATED".into(),
        events: 12,
        first_seq: 1,
        last_seq: 12,
        bytes: 1_200,
        subscriptions: [acked, waiting, out_of_order, given_up, behind, redelivered]
            .into_iter()
            .map(served)
            .collect(),
    };
    let mut state = State::new(vec![channel], true, "nats://localhost:4222".into());
    let notice = |kind: &str, consumer: &str, seq: u64, deliveries: u64| {
        Notice::parse(format!(
            r#"{{"type":"io.nats.jetstream.{kind}","stream":"TICKET_CREATED","consumer":"{consumer}","stream_seq":{seq},"deliveries":{deliveries}}}"#
        ).as_bytes())
        .unwrap()
    };
    state
        .watch
        .notice(notice("advisory.v1.max_deliver", "d-max-deliver", 7, 3));
    state
        .watch
        .notice(notice("advisory.v1.nak", "orders-service", 2, 1));
    state
        .watch
        .notice(notice("metric.v1.consumer_ack", "c-out-of-order", 4, 1));
    state
}

fn render(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, state)).unwrap();
    terminal
}

/// Every state in one view: acked, waiting, redelivered (with its
/// count where an advisory told it), given up, unsure, not delivered.
#[test]
fn lanes_show_each_state() {
    let state = lesson();
    insta::assert_snapshot!(render(&state, 80, 24).backend());
}

/// The screen's text, row by row.
fn screen(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    let symbols: Vec<&str> = buffer.content().iter().map(|cell| cell.symbol()).collect();
    symbols
        .chunks(width)
        .map(|row| row.concat() + "\n")
        .collect()
}

/// More lanes than fit (9 at 80×24, where 5 show): the row under them
/// says which are shown and how many are above and below, and ↓
/// scrolls down to the last one (no further), ↑ back up.
#[test]
fn lanes_past_the_screen_scroll_and_say_how_many_are_off_screen() {
    let subscriptions = (1..=9).map(|i| served(sub(&format!("lane-{i}")))).collect();
    let channel = ChannelStatus {
        channel: "ticket:created".into(),
        stream: "TICKET_CREATED".into(),
        events: 0,
        first_seq: 0,
        last_seq: 0,
        bytes: 0,
        subscriptions,
    };
    let mut state = State::new(vec![channel], true, "nats://localhost:4222".into());
    let text = screen(&render(&state, 80, 24));
    assert!(
        text.contains("lanes 1 to 5 of 9: 0 above, 4 below (↑/↓ to scroll)"),
        "{text}"
    );
    assert!(
        text.contains("lane-5") && !text.contains("lane-6"),
        "{text}"
    );
    assert!(text.contains("↑/↓ lane"), "{text}");
    for _ in 0..10 {
        state.scroll_lanes(1);
    }
    let text = screen(&render(&state, 80, 24));
    assert!(
        text.contains("lanes 5 to 9 of 9: 4 above, 0 below"),
        "{text}"
    );
    assert!(
        text.contains("lane-9") && !text.contains("lane-4 "),
        "{text}"
    );
    state.scroll_lanes(-1);
    let text = screen(&render(&state, 80, 24));
    assert!(
        text.contains("lanes 4 to 8 of 9: 3 above, 1 below"),
        "{text}"
    );
}

/// A terminal under 80×24 gets one line that says so.
#[test]
fn a_small_terminal_says_so() {
    let state = lesson();
    insta::assert_snapshot!(render(&state, 60, 20).backend());
}

/// With NO_COLOR no cell has a colour, and the states still read by
/// their characters.
#[test]
fn no_color_draws_without_colours() {
    let mut state = lesson();
    state.no_color = true;
    let terminal = render(&state, 80, 24);
    let buffer = terminal.backend().buffer();
    assert!(
        buffer
            .content()
            .iter()
            .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset),
        "no colour with NO_COLOR"
    );
    insta::assert_snapshot!(terminal.backend());
    // With colours, the same characters.
    let coloured = render(&lesson(), 80, 24);
    assert_eq!(
        format!("{}", coloured.backend()),
        format!("{}", terminal.backend())
    );
}

/// The banner says the connection is being restored; the popup shows
/// the selected event's data over the tape.
#[test]
fn banner_and_popup() {
    let mut state = lesson();
    state.banner = Some("connection lost: reconnecting to nats://localhost:4222 …".into());
    state.popup = Some(Popup::Event(nats_course_toolkit::history::StoredEvent {
        seq: 12,
        time: time::OffsetDateTime::from_unix_timestamp(1_796_030_497).unwrap(),
        data: bytes::Bytes::from_static(br#"{"id":"123","title":"concert","price":20}"#),
        headers: None,
    }));
    insta::assert_snapshot!(render(&state, 80, 24).backend());
}

/// Nothing drawn shows a password: not the event's data or headers in
/// the popup, not the banner's error, not a channel's name (the same
/// masking as every line `listen` writes).
#[test]
fn no_password_is_drawn() {
    let url = "https://bob:hunter2@tickets.example/x";
    let mut state = lesson();
    state.banner = Some(format!("could not reach {url}"));
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("Origin".to_owned(), vec![url.to_owned()]);
    state.popup = Some(Popup::Event(nats_course_toolkit::history::StoredEvent {
        seq: 12,
        time: time::OffsetDateTime::from_unix_timestamp(1_796_030_497).unwrap(),
        data: bytes::Bytes::from(format!(r#"{{"callback":"{url}"}}"#)),
        headers: Some(headers),
    }));
    let text = screen(&render(&state, 80, 24));
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("https://bob:***@tickets.example/x"), "{text}");
    // The error of a popup, a title and the banner's server line.
    state.popup = Some(Popup::Failed(12, format!("no answer from {url}")));
    state.banner = None;
    state.server = "nats://ana:s3cret-pw@localhost:4222".into();
    let mut channel = state.current().unwrap().clone();
    channel.channel = format!("hooks.{url}");
    state.update(vec![channel]);
    let text = screen(&render(&state, 80, 24));
    assert!(
        !text.contains("hunter2") && !text.contains("s3cret-pw"),
        "{text}"
    );
}

/// A channel of many events: the tape scrolls, the newest at the right.
#[test]
fn a_long_history_scrolls() {
    let channel = ChannelStatus {
        channel: "ticket:created".into(),
        stream: "TICKET_CREATED".into(),
        events: 1_000,
        first_seq: 1,
        last_seq: 1_000,
        bytes: 100_000,
        subscriptions: vec![served(SubscriptionStatus {
            delivered: 996,
            ack_floor: 990,
            ack_pending: 6,
            pending: 4,
            ..sub("listener")
        })],
    };
    let state = State::new(vec![channel], true, "nats://localhost:4222".into());
    insta::assert_snapshot!(render(&state, 80, 24).backend());
}

/// The rows of the lane whose first line contains `name`: its name line,
/// its cells, its counts.
fn lane_rows(text: &str, name: &str) -> [String; 3] {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(name))
        .unwrap_or_else(|| panic!("no lane {name}:\n{text}"));
    [0, 1, 2].map(|k| lines[i + k].trim_end().to_owned())
}

/// A durable made while 12 events were stored, starting at new ones, given
/// none of them: blank cells, and its counts claim no delivery and no ack
/// (an older server reports its floor at #12, nats-server 2.12 and newer at 0).
#[test]
fn a_new_durable_given_nothing_is_blank_and_claims_no_ack() {
    let late = SubscriptionStatus {
        durable: true,
        start: "new".into(),
        delivered: 12,
        ack_floor: 12,
        waiting: 1,
        ..sub("late")
    };
    let state = State::new(vec![channel(12, vec![late])], true, String::new());
    let text = screen(&render(&state, 80, 24));
    let [name, cells, counts] = lane_rows(&text, "late");
    assert!(cells.trim().is_empty(), "{text}");
    assert!(
        counts.contains("delivered -  ack floor -  ack pending 0"),
        "{text}"
    );
    assert!(name.contains("start new: #13"), "{text}");
    insta::assert_snapshot!(render(&state, 80, 24).backend());
}

/// A redelivery seen once stays drawn while its event waits: #1 sent again,
/// then #2 and #3 delivered: `▒R ▒▒ ▒▒`, not "1 of these 3 redelivered".
#[test]
fn a_redelivery_stays_drawn_when_more_events_come() {
    let group = |delivered, pending| {
        served(SubscriptionStatus {
            delivered,
            ack_pending: pending,
            redelivered: 1,
            ..sub("skip-ack")
        })
    };
    let mut state = State::new(vec![channel(1, vec![group(1, 1)])], true, String::new());
    state.update(vec![channel(3, vec![group(3, 3)])]);
    let text = screen(&render(&state, 80, 24));
    let [name, cells, _] = lane_rows(&text, "skip-ack");
    assert_eq!(cells, " ▒R ▒▒ ▒▒", "{text}");
    assert!(!name.contains("which: unknown"), "{text}");
}

/// Each lane says what it is (own listener, queue group, durable), whether
/// a listener is there now (connected, or pull requests: the server names
/// no member of a queue group), and where it started; "waiting" means
/// waiting for an ack only, in the legend.
#[test]
fn lane_headers_say_role_listeners_and_start() {
    let own = served(SubscriptionStatus {
        delivered: 3,
        ack_floor: 3,
        ..sub("quick-fox")
    });
    let gone = SubscriptionStatus {
        push_bound: false,
        given_up: 0,
        ..served(sub("slow-owl"))
    };
    let group = SubscriptionStatus {
        queue_group: Some("orders-service".into()),
        durable: true,
        start: "new".into(),
        ack_wait_ms: 5_000,
        waiting: 2,
        delivered: 3,
        ..sub("orders-service")
    };
    let durable = SubscriptionStatus {
        durable: true,
        start: "#2".into(),
        waiting: 0,
        delivered: 3,
        ack_floor: 3,
        floor_delivery: 2,
        deliveries: 2,
        ..sub("audit")
    };
    let state = State::new(
        vec![channel(3, vec![own, gone, group, durable])],
        true,
        String::new(),
    );
    let text = screen(&render(&state, 80, 24));
    let name = |n: &str| lane_rows(&text, n)[0].clone();
    assert!(
        name("quick-fox").starts_with("own listener quick-fox (connected, start all"),
        "{text}"
    );
    assert!(name("slow-owl").contains("(not connected,"), "{text}");
    assert!(
        name("orders-service")
            .starts_with("durable queue group orders-service (pull requests 2, start new: #4"),
        "{text}"
    );
    assert!(
        name("audit").starts_with("durable audit (pull requests 0: no listener, start #2"),
        "{text}"
    );
    assert!(!text.contains("waiting 2"), "{text}");
    insta::assert_snapshot!(render(&state, 80, 24).backend());
}

/// Lanes keep the order they were first seen in: a new one comes last,
/// not sorted in by name.
#[test]
fn lanes_keep_their_order_a_new_one_comes_last() {
    let names = |state: &State| -> Vec<String> {
        let c = state.current().unwrap();
        c.subscriptions.iter().map(|s| s.name.clone()).collect()
    };
    let subs = |names: &[&str]| names.iter().map(|n| served(sub(n))).collect();
    let mut state = State::new(vec![channel(3, subs(&["b", "c"]))], true, String::new());
    state.update(vec![channel(3, subs(&["a", "b", "c"]))]);
    assert_eq!(names(&state), ["b", "c", "a"]);
    state.update(vec![channel(3, subs(&["a", "c"]))]);
    assert_eq!(names(&state), ["c", "a"]);
    let text = screen(&render(&state, 80, 24));
    let c = text.find("own listener c").unwrap();
    assert!(c < text.find("own listener a").unwrap(), "{text}");
}

/// Opened on a channel that has no stream yet, the view says it waits for
/// its first event.
#[test]
fn a_channel_not_made_yet_waits_for_its_first_event() {
    let mut state = State::new(Vec::new(), true, "nats://localhost:4222".into());
    state.named = Some("ticket:created".into());
    let text = screen(&render(&state, 80, 24));
    assert!(
        text.contains("waiting for the first event on ticket:created: publish one"),
        "{text}"
    );
}

/// A subscription that starts at new events, first seen after its first
/// ack: its start is not told, so its events at or below the ack floor are
/// unsure (acked, or before its start), and its lane says so.
#[test]
fn a_start_not_told_is_said() {
    let late = SubscriptionStatus {
        durable: true,
        start: "new".into(),
        delivered: 13,
        ack_floor: 13,
        floor_delivery: 1,
        deliveries: 2,
        ..sub("late")
    };
    let state = State::new(vec![channel(13, vec![late])], true, String::new());
    let text = screen(&render(&state, 80, 24));
    let [name, cells, _] = lane_rows(&text, "late");
    assert!(name.contains("░ to #13: acked or before start"), "{text}");
    assert!(name.contains(", start new"), "{text}");
    assert_eq!(cells.trim(), "░░ ".repeat(13).trim(), "{text}");
}
