//! `publish` against a real nats-server: what is stored, and where.

mod common;

use common::{NatsServer, SEED, publish_ok};

/// The default event is the seed's, byte for byte, and the first event of a
/// new channel is #1.
#[test]
fn publishes_the_seed_event_byte_for_byte() {
    let server = NatsServer::start();
    let stdout = publish_ok(&server.url(), &[]);
    assert_eq!(
        stdout,
        "Publisher connected to NATS\nEvent published to ticket:created as event #1\n"
    );
    assert_eq!(server.event_data("TICKET_CREATED", 1), SEED);
}

/// Each channel gets its own stream, named by the documented rule, so
/// sequences count from 1 per channel as in NATS Streaming.
#[test]
fn each_channel_has_its_own_stream_and_sequence() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    let other = publish_ok(&url, &["--channel", "order:created"]);
    assert!(
        other.contains("Event published to order:created as event #1"),
        "{other}"
    );
    let mut names = server.stream_names();
    names.sort();
    assert_eq!(names, ["ORDER_CREATED", "TICKET_CREATED"]);
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 2);
    assert_eq!(server.stream_event_count("ORDER_CREATED"), 1);
}

/// A stream that already captures the channel's subject is used as it is.
#[test]
fn reuses_a_stream_that_already_captures_the_channel() {
    let server = NatsServer::start();
    server.with_js(|js| async move {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "MY_EVENTS".into(),
            subjects: vec!["ticket:created".into(), "ticket:updated".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    });
    publish_ok(&server.url(), &[]);
    assert_eq!(server.stream_names(), ["MY_EVENTS"]);
    assert_eq!(server.stream_event_count("MY_EVENTS"), 1);
}

/// `--count N` stores N events, each confirmed, and prints a summary line
/// instead of N lines.
#[test]
fn count_stores_every_event_and_prints_a_summary() {
    let server = NatsServer::start();
    let stdout = publish_ok(&server.url(), &["--count", "5000"]);
    assert_eq!(
        stdout,
        "Publisher connected to NATS\nPublished 5000 events to ticket:created (events #1 to #5000)\n"
    );
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 5000);
}

/// `--data` and `--data-file` replace the event, sent as compact JSON with
/// the keys in the order given.
#[test]
fn data_and_data_file_replace_the_event() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--data", r#"{ "title": "opera", "id": "7" }"#]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, "{\n  \"id\": \"8\",\n  \"price\": 5\n}\n").unwrap();
    publish_ok(&url, &["--data-file", file.to_str().unwrap()]);
    assert_eq!(
        server.event_data("TICKET_CREATED", 1),
        r#"{"title":"opera","id":"7"}"#
    );
    assert_eq!(
        server.event_data("TICKET_CREATED", 2),
        r#"{"id":"8","price":5}"#
    );
}

/// The seed's `http://localhost:4222` form and a comma-separated list both
/// reach the server; the client fails over past a dead entry.
#[test]
fn accepts_the_seeds_http_url_and_server_lists() {
    let server = NatsServer::start();
    let http = server.url().replace("nats://", "http://");
    assert!(publish_ok(&http, &[]).contains("as event #1"));
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let list = format!("nats://{dead},{}", server.url());
    assert!(publish_ok(&list, &[]).contains("as event #2"));
}

/// `--client-id` names the connection, as the server's monitoring shows it.
#[test]
fn client_id_names_the_connection() {
    let server = NatsServer::start_with_monitoring();
    let listener = common::Listener::start(&server.url(), &["--client-id", "learner-42"]);
    let connz = server.monitoring("/connz");
    assert!(connz.contains("\"name\": \"learner-42\""), "{connz}");
    listener.stop();
}
