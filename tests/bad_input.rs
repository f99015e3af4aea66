//! Bad input and faults: one clear line on stderr, the right exit code
//! (2 for usage, 1 at run time), and nothing half done.

mod common;

use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Listener, NatsServer, listen, publish};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a usage error: exit 2, a clap `error:` line naming the problem, no panic.
fn assert_usage_error(output: &Output, expected: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(expected), "expected {expected:?} in {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        output.stdout.is_empty(),
        "nothing is done: {:?}",
        output.stdout
    );
}

/// A URL where nothing listens: a port that was free a moment ago.
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("nats://127.0.0.1:{port}")
}

/// No server at the URL: exit 1 within the connect timeout, naming the URL
/// and both ways to get a server.
#[test]
fn no_server_names_the_url_and_how_to_get_one() {
    let url = dead_url();
    for run in [publish, listen] {
        let start = Instant::now();
        let output = run(&url, &["--connect-timeout", "2s"]);
        assert!(start.elapsed() < Duration::from_secs(10));
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&url), "{err}");
        assert!(
            err.contains("make server") && err.contains("kubectl port-forward"),
            "{err}"
        );
    }
}

/// A server without JetStream: say that JetStream is required and how to turn it on.
#[test]
fn server_without_jetstream_says_how_to_enable_it() {
    let server = NatsServer::start_without_jetstream();
    for run in [publish, listen] {
        let output = run(&server.url(), &[]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("does not have JetStream enabled") && err.contains("-js"),
            "{err}"
        );
    }
}

/// Empty channels, whitespace and wildcards are usage errors, for both binaries.
#[test]
fn bad_channel_names_are_usage_errors() {
    let url = dead_url();
    for channel in ["", "ticket created", "ticket:*", "tickets.>", ".ticket"] {
        for run in [publish, listen] {
            assert_usage_error(&run(&url, &["--channel", channel]), "--channel");
        }
    }
}

/// Two start positions at once are a usage error.
#[test]
fn conflicting_start_flags_are_usage_errors() {
    let url = dead_url();
    assert_usage_error(
        &listen(&url, &["--deliver-all", "--deliver-last"]),
        "cannot be used",
    );
    assert_usage_error(
        &listen(&url, &["--start-seq", "3", "--since", "10m"]),
        "cannot be used",
    );
    assert_usage_error(
        &listen(&url, &["--queue-group", "g", "--no-queue-group"]),
        "cannot be used",
    );
}

/// Invalid JSON exits 2 before connecting, with the parser's line and column.
#[test]
fn invalid_json_is_a_usage_error_with_line_and_column() {
    let url = dead_url();
    let output = publish(&url, &["--data", "{\"id\": \"1\",\n \"price\": }"]);
    assert_usage_error(&output, "line 2 column 11");
    let output = publish(&url, &["--data", "[1, 2]"]);
    assert_usage_error(&output, "must be a JSON object");
}

/// Counts, durations and URLs out of range are usage errors.
#[test]
fn bad_numbers_durations_and_urls_are_usage_errors() {
    let url = dead_url();
    assert_usage_error(&publish(&url, &["--count", "0"]), "--count");
    assert_usage_error(&publish(&url, &["--count", "-1"]), "--count");
    assert_usage_error(&listen(&url, &["--ack-wait", "30"]), "no unit");
    assert_usage_error(
        &publish(&url, &["--connect-timeout", "0s"]),
        "--connect-timeout",
    );
    assert_usage_error(&publish("nats://localhost:99999", &[]), "--server");
}

/// A durable that exists with another configuration: say what differs and
/// how to start over; `--reset` then starts over.
#[test]
fn durable_with_different_config_says_what_differs() {
    let server = NatsServer::start();
    let url = server.url();
    let durable = ["--durable", "billing", "--no-queue-group"];
    Listener::start(&url, &durable).stop();

    let output = listen(&url, &[&durable[..], &["--ack-wait", "5s"]].concat());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("ack wait is 30s, you asked for 5s"), "{err}");
    assert!(err.contains("--reset"), "{err}");

    let reset = Listener::start(
        &url,
        &[&durable[..], &["--ack-wait", "5s", "--reset"]].concat(),
    );
    assert!(
        reset.stderr().contains("Deleted the durable 'billing'"),
        "{}",
        reset.stderr()
    );
    reset.stop();
}
