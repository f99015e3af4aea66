//! A listener stopped with SIGTERM or Ctrl-C in the middle of a replay, and
//! started again with `--until-caught-up`: between the two runs every event
//! is printed, and the second run says it caught up only then.
//!
//! The stopped listener gives back (nak's) what the server sent it and it
//! did not write out, so the next listener gets those events at once. The
//! ack wait is 10 minutes here: a second run that had to wait for it would
//! not end within the test's deadline. A killed listener cannot give
//! anything back: then `--until-caught-up` waits for the ack wait (40 s there)
//! to bring its events back, and says what it waits for.

mod common;

use std::collections::BTreeSet;

use async_nats::jetstream::consumer::AckPolicy;
use common::{NatsServer, Running, publish_ok};

const EVENTS: u64 = 100_000;

/// The sequences in a run's output, plain lines or `--json` ones.
fn sequences(stdout: &str) -> Vec<u64> {
    let json = stdout.lines().filter_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        value.get("seq")?.as_u64()
    });
    common::received(stdout).into_iter().chain(json).collect()
}

/// Replays `events` events with `flags`, stops the listener with `signal` once it
/// has printed some of them, then runs it again with `--until-caught-up`
/// and checks that it exits 0 with every event printed in one run or the
/// other. Returns the second run's stderr.
fn stopped_then_caught_up(events: u64, flags: &[&str], signal: &str) -> String {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", &events.to_string()]);
    let first = Running::launch(&url, flags);
    first.wait_until("the replay to be under way", |run| {
        sequences(&run.stdout()).len() >= 1000
    });
    first.signal(signal);
    let first = first.finish();
    if signal != "KILL" {
        let stderr = common::text(&first.stderr);
        assert!(
            first.status.success(),
            "first run: {}: {stderr}",
            first.status
        );
    }
    let mut printed: BTreeSet<u64> = sequences(&common::text(&first.stdout))
        .into_iter()
        .collect();
    assert!(
        (printed.len() as u64) < events,
        "the first run was stopped before the end of the replay"
    );

    let again = [flags, &["--until-caught-up"]].concat();
    let second = Running::launch(&url, &again).finish();
    let stderr = common::text(&second.stderr);
    assert!(second.status.success(), "second run: {stderr}");
    printed.extend(sequences(&common::text(&second.stdout)));
    let missing: Vec<u64> = (1..=events).filter(|s| !printed.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "caught up with {} events never printed: {:?}...",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    stderr
}

const DURABLE: &[&str] = &[
    "--no-queue-group",
    "--durable",
    "stopped",
    "--deliver-all",
    "--ack-wait",
    "10m",
];

#[test]
fn a_durable_stopped_with_sigterm_then_caught_up_prints_every_event() {
    stopped_then_caught_up(EVENTS, DURABLE, "TERM");
}

#[test]
fn a_durable_stopped_with_ctrl_c_then_caught_up_prints_every_event() {
    stopped_then_caught_up(EVENTS, DURABLE, "INT");
}

#[test]
fn a_durable_stopped_with_sigterm_then_caught_up_prints_every_event_as_json() {
    stopped_then_caught_up(EVENTS, &[DURABLE, &["--json"]].concat(), "TERM");
}

#[test]
fn a_queue_group_member_stopped_with_sigterm_then_caught_up_prints_every_event() {
    stopped_then_caught_up(
        EVENTS,
        &[
            "--queue-group",
            "stopped-group",
            "--deliver-all",
            "--ack-wait",
            "10m",
        ],
        "TERM",
    );
}

/// A killed listener's events wait for the ack wait on a consumer that acks
/// each event (`--max-in-flight` makes this durable's acks explicit): `--until-caught-up`
/// waits for them too, says so, and exits 0 once they came and were printed.
/// The ack wait (40 s) is far longer than the rest of the replay takes on
/// a busy machine (a few seconds), so the second run reaches the last event
/// while they are still held.
#[test]
fn caught_up_waits_for_the_events_a_killed_listener_held() {
    let flags = [
        "--no-queue-group",
        "--durable",
        "killed",
        "--deliver-all",
        "--ack-wait",
        "40s",
        "--max-in-flight",
        "1000",
    ];
    let stderr = stopped_then_caught_up(EVENTS, &flags, "KILL");
    assert!(
        stderr.contains("Waiting for events up to #100000 to be acked"),
        "says what it waits for: {stderr}"
    );
}

/// A durable of its own acks in order (`ack_policy: all`, one ack per
/// written-out batch, covering the events before it). Killed with SIGKILL in
/// the middle of a replay of 20,000 events, then started again: every event
/// is printed at least once across the two runs (some may be printed twice,
/// none zero times). The second run does not wait out the 10-minute ack wait
/// for the events the killed one held: a durable that acks in order is
/// rewound to its ack floor (the server's consumer reset), so they come
/// first, at once.
#[test]
fn an_ack_all_durable_killed_mid_replay_loses_no_event() {
    const EVENTS: u64 = 20_000;
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", &EVENTS.to_string()]);
    let flags = [
        "--no-queue-group",
        "--durable",
        "ack-all",
        "--deliver-all",
        "--ack-wait",
        "10m",
    ];
    let first = Running::launch(&url, &flags);
    first.wait_until("the replay to be under way", |run| {
        common::received(&run.stdout()).len() >= 1000
    });
    let policy = server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        let info = stream.consumer_info("ack-all").await.expect("consumer");
        info.config.ack_policy
    });
    assert_eq!(policy, AckPolicy::All, "a durable of its own acks in order");
    first.signal("KILL");
    let first = first.finish();
    let mut printed: BTreeSet<u64> = common::received(&common::text(&first.stdout))
        .into_iter()
        .collect();
    assert!((printed.len() as u64) < EVENTS, "killed mid-replay");
    let again = [&flags[..], &["--until-caught-up"]].concat();
    let second = Running::launch(&url, &again).finish();
    let stderr = common::text(&second.stderr);
    assert!(second.status.success(), "second run: {stderr}");
    printed.extend(common::received(&common::text(&second.stdout)));
    let missing: Vec<u64> = (1..=EVENTS).filter(|s| !printed.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "{} events never printed: {:?}...",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// A durable of its own that acks in order has one listener at a time: a
/// second one, while the first waits for events, is refused with one line
/// (its acks would cover the first one's events), and the first goes on.
#[test]
fn a_second_listener_on_an_ack_all_durable_is_refused() {
    let server = NatsServer::start();
    let url = server.url();
    let flags = ["--no-queue-group", "--durable", "solo"];
    let first = Running::start(&url, &flags);
    common::wait_until(
        "the first listener to wait for events",
        common::DEADLINE,
        || {
            server.with_js(|js| async move {
                let stream = js.get_stream("TICKET_CREATED").await.ok()?;
                let info = stream.consumer_info("solo").await.ok()?;
                Some(info.num_waiting > 0)
            }) == Some(true)
        },
    );
    let second = Running::launch(&url, &flags).finish();
    let stderr = common::text(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another listener is reading the durable 'solo'"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    publish_ok(&url, &[]);
    first.wait_for_events(1);
}

/// A slow service stopped while it works on an event (`--delay`): the event
/// it printed and did not finish goes to the next listener at once, with
/// those it had not started.
#[test]
fn a_slow_member_stopped_mid_event_gives_it_back_at_once() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let group = [
        "--queue-group",
        "slow",
        "--deliver-all",
        "--ack-wait",
        "10m",
    ];
    let slow = Running::start(&url, &[&group[..], &["--delay", "1h"]].concat());
    assert_eq!(slow.wait_for_events(1), [1]);
    slow.signal("TERM");
    let slow = slow.finish();
    assert!(slow.status.success(), "{}", common::text(&slow.stderr));
    let next = Running::launch(&url, &[&group[..], &["--until-caught-up"]].concat()).finish();
    assert!(next.status.success(), "{}", common::text(&next.stderr));
    let mut received = common::received(&common::text(&next.stdout));
    received.sort_unstable();
    assert_eq!(received, [1, 2, 3], "every event, once");
}
