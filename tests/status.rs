//! `status` against a real nats-server: what the server keeps, and where
//! each subscription stands, read over the client port.

mod common;

use common::{
    DEADLINE, Listener, NatsServer, SEED, listen, poll, publish_ok, status, status_json, text,
};
use serde_json::Value;

const OWN: &str = "--no-queue-group";

/// The subscription named `name` in `status --json`'s document.
fn subscription(document: &Value, name: &str) -> Value {
    document["channels"][0]["subscriptions"]
        .as_array()
        .expect("subscriptions is a list")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no subscription {name} in {document}"))
        .clone()
}

/// `status --json` answers over the client port alone: the server has no
/// monitoring port, as after `kubectl port-forward <pod> 4222:4222`. Its
/// keys are the documented ones.
#[test]
fn json_needs_no_monitoring_port() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    listen(
        &url,
        &["--durable", "d", OWN, "--deliver-all", "--count", "2"],
    );
    let document = status_json(&url, &[]);
    let channel = &document["channels"][0];
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(channel),
        [
            "bytes",
            "channel",
            "events",
            "first_seq",
            "last_seq",
            "stream",
            "subscriptions"
        ]
    );
    assert_eq!(channel["channel"], "ticket:created");
    assert_eq!(channel["stream"], "TICKET_CREATED");
    assert_eq!(channel["events"], 2);
    assert_eq!(
        (channel["first_seq"].as_u64(), channel["last_seq"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        keys(&subscription(&document, "d")),
        [
            "ack_floor",
            "ack_pending",
            "ack_wait_ms",
            "delivered",
            "durable",
            "max_deliver",
            "name",
            "pending",
            "queue_group",
            "redelivered",
            "start",
            "waiting"
        ]
    );
}

/// A durable that acked 3 events has its ack floor at #3, and nothing
/// pending.
#[test]
fn a_durable_that_acked_3_events_shows_ack_floor_3() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let output = listen(
        &url,
        &[
            "--durable",
            "accounting",
            OWN,
            "--deliver-all",
            "--count",
            "3",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let durable = subscription(&status_json(&url, &["ticket:created"]), "accounting");
    assert_eq!(durable["durable"], true);
    assert_eq!(durable["queue_group"], Value::Null);
    assert_eq!(durable["ack_floor"], 3);
    assert_eq!(durable["delivered"], 3);
    assert_eq!(durable["ack_pending"], 0);
    assert_eq!(durable["pending"], 0);
    assert_eq!(durable["start"], "all");
}

/// A listener that never acks holds 3 events waiting for their acks; once
/// the ack wait has passed the server has sent them again.
#[test]
fn a_skip_ack_listener_shows_3_ack_pending_then_redeliveries() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Listener::start(
        &url,
        &["--skip-ack", "--ack-wait", "1s", "--queue-group", "orders"],
    );
    let group = || subscription(&status_json(&url, &[]), "orders");
    // A queue group starts with new events: these 3 come after it.
    publish_ok(&url, &["--count", "3"]);
    listener.wait_for_events(3);
    let held = poll(DEADLINE, std::time::Duration::from_millis(100), || {
        Some(group()).filter(|s| s["ack_pending"] == 3)
    })
    .unwrap_or_else(|| panic!("3 acks pending, in {}", group()));
    assert_eq!(held["queue_group"], "orders");
    assert_eq!(held["delivered"], 6);
    poll(DEADLINE, std::time::Duration::from_millis(100), || {
        Some(group()).filter(|s| s["redelivered"].as_u64() > Some(0))
    })
    .unwrap_or_else(|| panic!("redeliveries after the ack wait, in {}", group()));
    listener.stop();
}

/// `--events` prints each stored event as `#<seq> <time> <data>`, the data
/// byte for byte as published.
#[test]
fn events_prints_the_published_data_byte_for_byte() {
    let server = NatsServer::start();
    let url = server.url();
    let data = r#"{"id":"7 b","title":"Café ✓","price":1.50,"tags":[]}"#;
    publish_ok(&url, &[]);
    publish_ok(&url, &["--data", data]);
    let output = status(&url, &["ticket:created", "--events"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, (seq, data)) in lines.iter().zip([(1, SEED), (2, data)]) {
        let (head, rest) = line.split_once(' ').expect("#seq time data");
        let (time, shown) = rest.split_once(' ').expect("time data");
        assert_eq!(head, format!("#{seq}"));
        assert!(
            time.ends_with('Z') && time.len() == 24,
            "RFC 3339 ms: {time}"
        );
        assert_eq!(shown, data);
    }
}

/// `--events --json --last 1` prints one JSON object for the last event,
/// with its data as published.
#[test]
fn events_as_json_lines_for_the_last_event() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let output = status(
        &url,
        &["ticket:created", "--events", "--json", "--last", "1"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let event: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(event["seq"], 3);
    assert_eq!(event["data"], serde_json::from_str::<Value>(SEED).unwrap());
    assert!(event["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(event.get("headers").is_none(), "no headers were published");
}

/// `--events --from 2` starts at event #2.
#[test]
fn events_from_a_sequence() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "4"]);
    let output = status(&url, &["ticket:created", "--events", "--from", "2"]);
    let stdout = text(&output.stdout);
    let seqs: Vec<&str> = stdout.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(seqs, ["#2", "#3", "#4"]);
}

/// Looking changes nothing: `--events` creates no subscription.
#[test]
fn events_creates_no_subscription() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    assert!(
        status(&url, &["ticket:created", "--events"])
            .status
            .success()
    );
    assert_eq!(
        server.consumer_names("TICKET_CREATED"),
        Vec::<String>::new()
    );
}

/// A channel the server does not have is an error (exit 1) that lists the
/// channels there are.
#[test]
fn an_unknown_channel_is_an_error_that_lists_the_channels() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    let output = status(&url, &["order:created"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "Error: no channel order:created on this server; the channels are: ticket:created"
        ),
        "{stderr}"
    );
}

/// The table shows the channel's stored events and one row per
/// subscription, with its ack floor.
#[test]
fn the_table_shows_each_subscription() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    listen(
        &url,
        &[
            "--durable",
            "accounting",
            OWN,
            "--deliver-all",
            "--count",
            "2",
        ],
    );
    let output = status(&url, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("Channel ticket:created (stream TICKET_CREATED): 2 events, #1 to #2"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("accounting"))
        .unwrap_or_else(|| panic!("a row for accounting in {stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "accounting",
            "-",
            "yes",
            "all",
            "30s",
            "-",
            "#2",
            "#2",
            "0",
            "0",
            "0",
            "0"
        ]
    );
}

/// With no channel at all, the table says how to make one.
#[test]
fn no_channels_says_to_publish_first() {
    let server = NatsServer::start();
    let output = status(&server.url(), &[]);
    assert!(output.status.success());
    assert!(
        text(&output.stdout).ends_with("No channels yet: publish an event first (make publish).\n")
    );
}

/// The elements of an SVG with `class`, in document order.
fn with_class<'a>(
    document: &'a resvg::usvg::roxmltree::Document<'a>,
    class: &str,
) -> Vec<resvg::usvg::roxmltree::Node<'a, 'a>> {
    document
        .descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

/// `status CHANNEL --svg FILE` against a real server: a lane per
/// subscription, named as in the table; the 3 events a skip-ack queue
/// group holds marked as waiting (or redelivered), the 3 a durable acked
/// as acked; `--svg -` writes a picture to stdout; the password of the
/// server's URL is in neither.
#[test]
fn svg_draws_a_lane_per_subscription_and_the_held_events() {
    let server = NatsServer::start_with(&["-js", "--user", "ana", "--pass", "s3cret-pw"]);
    let url = server.url().replace("nats://", "nats://ana:s3cret-pw@");
    publish_ok(&url, &["--count", "3"]);
    listen(
        &url,
        &[
            "--durable",
            "accounting",
            OWN,
            "--deliver-all",
            "--count",
            "3",
        ],
    );
    let listener = Listener::start(&url, &["--skip-ack", "--queue-group", "orders"]);
    publish_ok(&url, &["--count", "3"]);
    listener.wait_for_events(3);
    let group = || subscription(&status_json(&url, &[]), "orders");
    poll(DEADLINE, std::time::Duration::from_millis(100), || {
        Some(group()).filter(|s| s["ack_pending"] == 3)
    })
    .unwrap_or_else(|| panic!("3 acks pending, in {}", group()));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tape.svg");
    let output = status(
        &url,
        &["ticket:created", "--svg", file.to_str().expect("utf-8")],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    let svg = std::fs::read_to_string(&file).expect("the picture");
    assert!(!svg.contains("s3cret-pw"), "{svg}");
    assert!(svg.contains("nats://ana:***@127.0.0.1:"), "{svg}");
    let document = resvg::usvg::roxmltree::Document::parse(&svg).expect("XML");
    let lanes = with_class(&document, "lane");
    assert_eq!(lanes.len(), 2, "{svg}");
    let names: Vec<String> = lanes
        .iter()
        .map(|lane| {
            let name = lane.descendants().find(|n| n.has_tag_name("tspan"));
            name.and_then(|n| n.text()).unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(names, ["accounting", "orders"]);
    let marks = |lane: &resvg::usvg::roxmltree::Node| -> Vec<String> {
        lane.children()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("class").map(str::to_owned))
            .collect()
    };
    assert_eq!(
        marks(&lanes[0]),
        ["acked", "acked", "acked", "pending", "pending", "pending"]
    );
    let held = marks(&lanes[1]);
    assert_eq!(held.len(), 3, "events 4 to 6 only: {held:?}");
    assert!(
        held.iter().all(|m| m == "waiting" || m == "redelivered"),
        "{held:?}"
    );
    let output = status(&url, &["ticket:created", "--svg", "-"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("<?xml") && stdout.ends_with("</svg>\n"));
    assert!(!stdout.contains("s3cret-pw"));
    listener.stop();
}

/// `--svg` into a folder that does not exist is one error line, exit 1,
/// before connecting; the file is not made.
#[test]
fn svg_into_a_missing_folder_is_one_error_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nosuch").join("tape.svg");
    let output = status(
        &common::dead_url(),
        &["ticket:created", "--svg", file.to_str().expect("utf-8")],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: cannot write ") && stderr.contains("there is no folder"),
        "{stderr}"
    );
    assert!(!file.exists());
}

/// Bad flags are one usage line and exit 2, before connecting: `--events`
/// without a channel, `--from` without `--events`, a bad channel name,
/// `--live` when stdout is not a terminal (which points to `--json`), and
/// `--svg` without a channel or with another form (`--live`, `--json`,
/// `--events`).
#[test]
fn bad_flags_are_one_usage_line() {
    let url = common::dead_url();
    for (args, expected) in [
        (&["--events"][..], "--events"),
        (&["ticket:created", "--from", "2"], "--events"),
        (&["ticket:created", "--events", "--from", "0"], "--from"),
        (
            &["ticket:created", "--events", "--from", "2", "--last", "1"],
            "--last",
        ),
        (&["ticket.*"], "wildcard"),
        (&["--live"], "--json"),
        (&["--svg", "tape.svg"], "--svg draws one channel: name it"),
        (
            &["ticket:created", "--svg", "-", "--live"],
            "'--svg <FILE>' cannot be used with '--live'",
        ),
        (
            &["ticket:created", "--svg", "-", "--json"],
            "'--svg <FILE>' cannot be used with '--json'",
        ),
        (
            &["ticket:created", "--svg", "-", "--events"],
            "'--svg <FILE>' cannot be used with '--events'",
        ),
    ] {
        let output = status(&url, args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}

/// Names from the server reach the terminal escaped, as event data does:
/// a stream, its subject, a durable and its queue group made with the raw
/// JetStream API to hold an escape sequence and newlines. Neither the table,
/// nor `status nosuch`'s list of channels, nor `listen`'s "already exists
/// with a different configuration" prints an ESC byte, and no newline
/// forges a row or an error line.
#[test]
fn names_from_the_server_are_printed_escaped() {
    use async_nats::jetstream::{consumer, stream};
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    const RED: &str = "\u{1b}[31m";
    let forged = format!("g{RED}\n  forged  -  yes  all  30s\nError: forged");
    server.with_js(|js| async move {
        let evil = js
            .create_stream(stream::Config {
                name: format!("EVIL{RED}"),
                subjects: vec![format!("evil{RED}")],
                ..Default::default()
            })
            .await
            .expect("a stream with an escape sequence in its name");
        for (stream, name) in [
            (evil, format!("c{RED}")),
            (
                js.get_stream("TICKET_CREATED").await.unwrap(),
                "billing".into(),
            ),
        ] {
            stream
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(name),
                    metadata: [("queue_group".to_owned(), forged.clone())].into(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .expect("a durable with a queue group of newlines");
        }
    });
    let outputs = [
        ("status", status(&url, &[])),
        ("status nosuch", status(&url, &["nosuch"])),
        (
            "listen",
            listen(&url, &["--durable", "billing", OWN, "--count", "1"]),
        ),
    ];
    // The errors as a learner sees them, in the bad-input snapshots.
    let mut snapshot = String::new();
    for (what, output) in &outputs[1..] {
        snapshot.push_str(&format!("$ {what}\n{}\n", text(&output.stderr)));
    }
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("bad-input-server-names", snapshot.replace(&url, "[URL]"));
    });
    for (what, output) in outputs {
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        for printed in [&output.stdout, &output.stderr] {
            assert!(
                !printed.contains(&0x1b),
                "{what}: an ESC byte in {stdout}{stderr}"
            );
        }
        assert!(
            !stdout
                .lines()
                .chain(stderr.lines())
                .any(|l| l.trim_start().starts_with("forged") || l.starts_with("Error: forged")),
            "{what}: a forged line in {stdout}{stderr}"
        );
        if what == "status" {
            assert!(output.status.success(), "{stderr}");
            assert!(
                stdout.contains("Channel evil\\u001b[31m (stream EVIL\\u001b[31m)"),
                "{stdout}"
            );
            assert!(stdout.contains("c\\u001b[31m"), "{stdout}");
            assert!(stdout.contains("g\\u001b[31m\\n  forged"), "{stdout}");
        } else {
            assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
            assert!(stderr.contains("\\u001b[31m"), "{what}: {stderr}");
        }
    }
}

/// A header named twice (`-H a:1 -H a:2`) keeps both values, in order, in
/// `listen --json` and in `status --events --json` alike.
#[test]
fn a_header_named_twice_shows_both_values() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["-H", "a:1", "-H", "a:2", "-H", "b:x"]);
    let heard = common::listen(
        &url,
        &[
            "--no-queue-group",
            "--deliver-all",
            "--count",
            "1",
            "--json",
        ],
    );
    let stored = common::status(&url, &["ticket:created", "--events", "--json"]);
    for output in [heard, stored] {
        let line = common::text(&output.stdout);
        let event: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        assert_eq!(
            event["headers"]["a"],
            serde_json::json!(["1", "2"]),
            "{line}"
        );
        assert_eq!(event["headers"]["b"], "x");
    }
}

/// Makes `n` durable subscriptions (pull consumers) on `stream`, straight
/// through JetStream.
fn make_consumers(server: &NatsServer, stream: &str, n: usize) {
    let stream = stream.to_owned();
    server.with_js(|js| async move {
        let stream = js.get_stream(&stream).await.expect("stream exists");
        for i in 0..n {
            let name = format!("sub-{i:03}");
            stream
                .create_consumer(async_nats::jetstream::consumer::pull::Config {
                    durable_name: Some(name),
                    ..Default::default()
                })
                .await
                .expect("create consumer");
        }
    });
}

/// The JetStream API requests of `status ARGS`, run to its end.
fn requests_of(url: &str, args: &[&str]) -> Vec<String> {
    let (url2, args): (String, Vec<String>) =
        (url.to_owned(), args.iter().map(|a| a.to_string()).collect());
    let (subjects, output) = common::api::api_requests(url, move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        status(&url2, &args)
    });
    assert!(output.status.success(), "{}", text(&output.stderr));
    subjects
}

/// `status --json` asks the server exactly what the table asks, whatever
/// the number of subscriptions: one consumer list per channel, never a
/// request per subscription (with 3000 subscriptions it took 18 s where
/// the table took 0.05 s).
#[test]
fn json_asks_the_server_no_more_than_the_table() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    make_consumers(&server, "TICKET_CREATED", 50);
    let mut table = requests_of(&url, &[]);
    let mut json = requests_of(&url, &["--json"]);
    assert_eq!(
        common::api::count(&json, "$JS.API.CONSUMER.INFO"),
        0,
        "{json:?}"
    );
    assert_eq!(
        common::api::count(&json, "$JS.API.CONSUMER.LIST"),
        1,
        "{json:?}"
    );
    table.sort();
    json.sort();
    assert_eq!(json, table, "the same requests");
    // A channel named: found by its subject, its info read once (it was
    // read twice), then its subscriptions.
    let one = requests_of(&url, &["ticket:created", "--json"]);
    assert_eq!(
        one,
        [
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.INFO.TICKET_CREATED",
            "$JS.API.CONSUMER.LIST.TICKET_CREATED"
        ],
        "{one:?}"
    );
}
