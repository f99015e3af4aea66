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

/// Bad input, tried wholesale: every case exits 2 with one line on stderr,
/// prints nothing on stdout, and neither panics nor shows a backtrace.
#[test]
fn every_bad_input_is_one_line_and_exit_2() {
    use std::os::unix::ffi::OsStrExt;
    let url = dead_url();
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_str().unwrap().to_owned();
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap().to_owned();
    let cases: &[(&str, &[&str])] = &[
        // Malformed URLs and ports out of range.
        ("publish", &["--server", "nats://localhost:65536"]),
        ("publish", &["--server", "nats://:::"]),
        ("listen", &["--server", "nats://localhost:-1"]),
        ("listen", &["--server", ","]),
        // Zero, negative and huge counts.
        ("publish", &["--count", "0"]),
        ("publish", &["--count", "-5"]),
        ("publish", &["--count", "99999999999999999999"]),
        ("publish", &["--count", "1000000001"]),
        ("listen", &["--count", "0"]),
        ("listen", &["--count", "-1"]),
        // Durations without units, or nonsense.
        ("listen", &["--ack-wait", "30"]),
        ("listen", &["--ack-wait", "soon"]),
        ("listen", &["--since", "10"]),
        ("publish", &["--connect-timeout", "5"]),
        // --data that is not JSON, or is JSON but not an object.
        ("publish", &["--data", "{oops}"]),
        ("publish", &["--data", "42"]),
        ("publish", &["--data", "\"text\""]),
        ("publish", &["--data", "null"]),
        // A data file that is missing or is a directory.
        ("publish", &["--data-file", &missing]),
        ("publish", &["--data-file", &dir_path]),
        // Channel names with spaces, wildcards or a leading dot.
        ("publish", &["--channel", "ticket created"]),
        ("publish", &["--channel", "ticket.*"]),
        ("listen", &["--channel", "ticket.>"]),
        ("listen", &["--channel", ".ticket"]),
        // Names and numbers that cannot be consumer settings.
        ("listen", &["--durable", "a.b"]),
        ("listen", &["--queue-group", "has space"]),
        ("listen", &["--max-deliver", "0"]),
        ("listen", &["--start-seq", "0"]),
        ("publish", &["--replicas", "0"]),
        // Flags that need each other.
        ("publish", &["--user", "ana"]),
        ("publish", &["--tls-cert", "cert.pem"]),
        ("listen", &["--reset", "--no-queue-group"]),
        ("publish", &["--watch"]),
    ];
    let bins = |name: &str| match name {
        "publish" => env!("CARGO_BIN_EXE_publish"),
        _ => env!("CARGO_BIN_EXE_listen"),
    };
    let check = |name: &str, output: Output, shown: String| {
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name} {shown}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "{name} {shown}: one line, got {err}"
        );
        assert!(err.starts_with("error: "), "{name} {shown}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert!(
            output.stdout.is_empty(),
            "{name} {shown}: nothing on stdout"
        );
    };
    for (name, args) in cases {
        let mut command = std::process::Command::new(bins(name));
        command.env_remove("NATS_URL").env("RUST_BACKTRACE", "1");
        if !args.contains(&"--server") {
            command.args(["--server", &url]);
        }
        let output = command.args(*args).output().unwrap();
        check(name, output, format!("{args:?}"));
    }
    // Non-UTF-8 bytes in arguments.
    let bad = std::ffi::OsStr::from_bytes(b"ticket\xff");
    for name in ["publish", "listen"] {
        let output = std::process::Command::new(bins(name))
            .env_remove("NATS_URL")
            .arg("--channel")
            .arg(bad)
            .output()
            .unwrap();
        check(name, output, "--channel <non-UTF-8>".into());
    }
}
