//! Lesson 10, a poison event, against a real nats-server: redelivery with
//! backoff (`--backoff`), a limit on deliveries (`--max-deliver`), and
//! where a given-up event goes then (`--dead-letter`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Listener, NatsServer, listen, publish_ok, text};

const OWN: &str = "--no-queue-group";

/// Each redelivery of an event that is not acked waits its `--backoff`
/// step, the last step repeating, and its line says which.
#[test]
fn each_redelivery_waits_its_backoff_step() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--fail-on",
            "1",
            "--backoff",
            "300ms,1s",
            "--max-deliver",
            "4",
        ],
    );
    publish_ok(&url, &[]);
    // When each delivery's line appeared, polled (every 20 ms).
    let mut seen = Vec::new();
    for delivery in 1..=4 {
        let line = match delivery {
            1 => "Received event #1, with data".to_owned(),
            n => format!("delivery #{n},"),
        };
        listener.wait_for_stdout(&line);
        seen.push(Instant::now());
    }
    let out = listener.stdout();
    assert!(
        out.contains("(redelivered, delivery #2, after 300ms;"),
        "{out}"
    );
    assert!(
        out.contains("(redelivered, delivery #3, after 1s;"),
        "{out}"
    );
    assert!(
        out.contains("(redelivered, delivery #4, after 1s;"),
        "{out}"
    );
    // The server never sends one before its step (the polling only adds).
    let steps = [300, 1000, 1000];
    for (gap, step) in seen.windows(2).zip(steps) {
        let gap = gap[1] - gap[0];
        assert!(
            gap + Duration::from_millis(25) >= Duration::from_millis(step),
            "a redelivery came {gap:?} after the one before, its step is {step}ms"
        );
    }
}

/// After its last delivery (`--max-deliver`), a failed event is given up:
/// its line says it is the last, and one line gives its number.
#[test]
fn the_last_delivery_is_said_and_the_give_up_names_the_event() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--deliver-all",
            "--fail-on",
            "2",
            "--backoff",
            "200ms",
            "--max-deliver",
            "2",
        ],
    );
    listener.wait_for_stdout("Event #2 was given up after 2 deliveries without an ack");
    let out = listener.stdout();
    assert!(
        out.contains("(failed: not acked, so it comes back after 200ms)"),
        "{out}"
    );
    assert!(
        out.contains(
            "(redelivered, delivery #2, after 200ms; failed: not acked; its last delivery \
             (--max-deliver), so the server gives it up after 200ms)"
        ),
        "{out}"
    );
    assert_eq!(out.matches("given up").count(), 1, "{out}");
}

/// `status` counts the events each subscription gave up.
#[test]
fn status_counts_the_events_given_up() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "4"]);
    let listener = Listener::start(
        &url,
        &[
            "--durable",
            "billing",
            OWN,
            "--deliver-all",
            "--fail-on",
            "1,3",
            "--ack-wait",
            "200ms",
            "--max-deliver",
            "1",
        ],
    );
    listener.wait_for_stdout("Event #3 was given up");
    listener.wait_for_stdout("Event #1 was given up");
    let json = common::status_json(&url, &["ticket:created"]);
    let subscription = &json["channels"][0]["subscriptions"][0];
    assert_eq!(subscription["name"], "billing");
    assert_eq!(subscription["given_up"], 2, "{json}");
    let table = text(&common::status(&url, &[]).stdout);
    assert!(
        table.contains("billing: 2 events given up after 1 deliveries"),
        "{table}"
    );
    // The stream that keeps the notices is not shown as a channel.
    assert!(!table.contains("Channel $JS"), "{table}");
}

/// The events a listener's dead-letter channel receives: original sequence
/// → how many times it is stored there, from its headers.
fn dead_letters(url: &str, channel: &str) -> BTreeMap<u64, u32> {
    let output = listen(
        url,
        &[
            OWN,
            "--channel",
            channel,
            "--deliver-all",
            "--until-caught-up",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut seen = BTreeMap::new();
    for line in text(&output.stdout).lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let headers = &event["headers"];
        assert_eq!(headers["Dead-Letter-Channel"], "ticket:created", "{line}");
        let seq: u64 = headers["Dead-Letter-Sequence"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        *seen.entry(seq).or_default() += 1;
    }
    seen
}

/// `--dead-letter` sends each given-up event to another channel, with its
/// data and headers naming where it came from, for another listener.
#[test]
fn a_given_up_event_goes_to_the_dead_letter_channel() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--deliver-all",
            "--fail-on",
            "2",
            "--ack-wait",
            "200ms",
            "--max-deliver",
            "2",
            "--dead-letter",
            "ticket:dead",
        ],
    );
    listener.wait_for_stdout(
        "Event #2 was given up after 2 deliveries without an ack (--max-deliver); sent to the \
         dead-letter channel ticket:dead as event #1",
    );
    let output = listen(
        &url,
        &[
            OWN,
            "-c",
            "ticket:dead",
            "--deliver-all",
            "--count",
            "1",
            "--json",
        ],
    );
    let event: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        event["data"],
        serde_json::json!({"id": "123", "title": "concert", "price": 20})
    );
    let headers = &event["headers"];
    assert_eq!(headers["Dead-Letter-Sequence"], "2");
    assert_eq!(headers["Dead-Letter-Deliveries"], "2");
    assert!(headers["Dead-Letter-Subscription"].is_string(), "{event}");
}

/// A dead-letter listener killed at any moment, and started again, leaves
/// every given-up event on the dead-letter channel exactly once: the
/// notices given up while it was down are kept, and one sent again is
/// stored once (`Nats-Msg-Id`).
#[test]
fn dead_letters_are_neither_lost_nor_doubled_across_a_kill() {
    let server = NatsServer::start();
    let url = server.url();
    const EVENTS: u64 = 40;
    publish_ok(&url, &["--count", &EVENTS.to_string()]);
    let every: Vec<String> = (1..=EVENTS).map(|n| n.to_string()).collect();
    let fail_on = every.join(",");
    let args = [
        "--durable",
        "billing",
        OWN,
        "--deliver-all",
        "--fail-on",
        &fail_on,
        "--ack-wait",
        "300ms",
        "--max-deliver",
        "2",
        "--max-in-flight",
        "5",
        "--dead-letter",
        "ticket:dead",
    ];
    let mut first = Listener::start(&url, &args);
    first.wait_for_stdout("dead-letter channel ticket:dead as event #3");
    first.kill();
    // Meanwhile the server gives up the rest, with nobody listening.
    let second = Listener::start(&url, &args);
    // Every event reported given up, by one listener or the other (one
    // killed before it settled its last notices may be repeated).
    let reported = |first: &str, second: &str| {
        (1..=EVENTS).all(|n| {
            let line = format!("Event #{n} was given up");
            first.contains(&line) || second.contains(&line)
        })
    };
    let before_kill = first.stdout();
    second.wait_until("every event reported given up", |l| {
        reported(&before_kill, &l.stdout())
    });
    assert!(
        !reported(&before_kill, ""),
        "the kill came before the last event was given up"
    );
    let json = common::status_json(&url, &["ticket:created"]);
    assert_eq!(json["channels"][0]["subscriptions"][0]["given_up"], EVENTS);
    let seen = dead_letters(&url, "ticket:dead");
    let expected: BTreeMap<u64, u32> = (1..=EVENTS).map(|n| (n, 1)).collect();
    assert_eq!(seen, expected);
    assert_eq!(dead_letters_stored(&server), EVENTS);
    drop(second);
}

/// How many events the dead-letter channel's stream keeps.
fn dead_letters_stored(server: &NatsServer) -> u64 {
    server.with_js(|js| async move {
        match js.get_stream("TICKET_DEAD").await {
            Ok(mut stream) => stream.info().await.unwrap().state.messages,
            Err(_) => 0,
        }
    })
}
