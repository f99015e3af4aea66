//! `publish` against a real nats-server: what is stored, and where.

mod common;

use common::{NatsServer, SEED, publish_ok, text};

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

/// Makes the stream `MY_EVENTS` for `ticket:created` as someone else would,
/// with this duplicate window.
fn make_stream_with_window(server: &NatsServer, window: std::time::Duration) {
    server.with_js(|js| async move {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "MY_EVENTS".into(),
            subjects: vec!["ticket:created".into()],
            duplicate_window: window,
            ..Default::default()
        })
        .await
        .unwrap();
    });
}

/// A reused stream whose duplicate window is shorter than the 30 s publish
/// may send copies for: one warning line on stderr naming the stream, its
/// window and how to widen it; the event is published all the same. A
/// window of 30 s or more gets no warning.
#[test]
fn a_reused_stream_with_a_short_duplicate_window_is_warned_about() {
    use std::time::Duration;
    let server = NatsServer::start();
    make_stream_with_window(&server, Duration::from_millis(100));
    let output = common::publish(&server.url(), &[]);
    let err = text(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("Warning: the stream MY_EVENTS, which stores channel ticket:created, ")
            && err.contains(" within 100ms ")
            && err.contains("nats stream edit MY_EVENTS --dupe-window 2m"),
        "{err}"
    );
    assert_eq!(server.stream_event_count("MY_EVENTS"), 1);
    let quiet = common::publish(&server.url(), &["--quiet"]);
    assert!(
        quiet.status.success() && quiet.stderr.is_empty(),
        "{}",
        text(&quiet.stderr)
    );

    let server = NatsServer::start();
    make_stream_with_window(&server, Duration::from_secs(30));
    let output = common::publish(&server.url(), &[]);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        text(&output.stderr)
    );
}

/// With such a stream, events sent again after the server went silent
/// (SIGSTOP, then SIGCONT) are not claimed to be "stored once": the
/// summary says that some may be stored twice (issue #29: 1693 events
/// stored twice under that claim).
#[test]
fn events_sent_again_to_a_short_window_are_not_claimed_stored_once() {
    let server = NatsServer::start();
    make_stream_with_window(&server, std::time::Duration::from_millis(100));
    let publish = common::Running::publish(&server.url(), &["--count", "500000"]);
    publish.wait_until("some events stored", |_| {
        server.stream_event_count("MY_EVENTS") > 1000
    });
    server.signal("STOP");
    // Said just before the events in flight are sent again.
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        publish.wait_for_stderr("JetStream is not ready yet")
    }));
    server.signal("CONT");
    waited.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let output = publish.finish();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains(" events were sent again after a lost connection; the stream MY_EVENTS \
                         drops copies only within 100ms (its duplicate window), so some may be stored twice"),
        "{stdout}"
    );
    assert!(!stdout.contains("stored once"), "{stdout}");
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

/// Runs `publish` with `input` piped into its standard input, as
/// `jq -c ... | publish --data-file - ...` does.
fn publish_piped(server: &str, input: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input");
    std::fs::write(&file, input).unwrap();
    // `sh -c 'cat "$IN" | "$0" "$@"' publish --server URL ARGS...`
    let mut sh = std::process::Command::new("sh");
    sh.env("IN", &file)
        .env_remove("NATS_URL")
        .env_remove("NATS_CLIENT_ID")
        .args([
            "-c",
            r#"cat "$IN" | "$0" "$@""#,
            env!("CARGO_BIN_EXE_publish"),
        ])
        .args(["--server", server])
        .args(args);
    common::run(&mut sh)
}

/// `--data-file -` reads the event from standard input, checked and
/// compacted as a file's would be.
#[test]
fn data_file_dash_reads_the_event_from_standard_input() {
    let server = NatsServer::start();
    let output = publish_piped(&server.url(), "{ \"id\": \"9\" }\n", &["--data-file", "-"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(server.event_data("TICKET_CREATED", 1), r#"{"id":"9"}"#);
}

/// `--lines` publishes each non-empty line of standard input as one event,
/// in order, each once (`jq -c ... | publish --data-file - --lines`).
#[test]
fn lines_publishes_each_line_once_in_order() {
    let server = NatsServer::start();
    let input = "{\"id\":\"1\"}\n\n{ \"id\": \"2\" }\r\n{\"id\":\"3\"}";
    let output = publish_piped(&server.url(), input, &["--data-file", "-", "--lines"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "Publisher connected to NATS\n\
         Event published to ticket:created as event #1\n\
         Event published to ticket:created as event #2\n\
         Event published to ticket:created as event #3\n"
    );
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 3);
    for seq in 1..=3 {
        assert_eq!(
            server.event_data("TICKET_CREATED", seq),
            format!(r#"{{"id":"{seq}"}}"#)
        );
    }
}

/// Many lines are pipelined like `--count`: a summary line, and every event
/// stored once with its own data.
#[test]
fn lines_from_a_file_are_pipelined_with_a_summary() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines: String = (1..=5000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    std::fs::write(&file, lines).unwrap();
    let stdout = publish_ok(
        &server.url(),
        &["--data-file", file.to_str().unwrap(), "--lines"],
    );
    assert!(
        stdout.ends_with("Published 5000 events to ticket:created (events #1 to #5000)\n"),
        "{stdout}"
    );
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 5000);
    assert_eq!(server.event_data("TICKET_CREATED", 4321), r#"{"n":4321}"#);
}

/// A file that starts with a UTF-8 byte order mark (as Windows editors
/// write it) is read, the mark skipped: with `--lines` and without.
#[test]
fn a_byte_order_mark_at_the_start_of_the_data_file_is_skipped() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, "\u{feff}{\"id\":\"1\"}\r\n{\"id\":\"2\"}\r\n").unwrap();
    let path = file.to_str().unwrap();
    publish_ok(&server.url(), &["--data-file", path, "--lines"]);
    let one = dir.path().join("event.json");
    std::fs::write(&one, "\u{feff}{ \"id\": \"3\" }\r\n").unwrap();
    publish_ok(&server.url(), &["--data-file", one.to_str().unwrap()]);
    let piped = publish_piped(
        &server.url(),
        "\u{feff}{\"id\":\"4\"}\n",
        &["--data-file", "-"],
    );
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    for seq in 1..=4 {
        assert_eq!(
            server.event_data("TICKET_CREATED", seq),
            format!(r#"{{"id":"{seq}"}}"#)
        );
    }
}

/// `--lines` holds its events in about the memory of the file: 64 MiB of
/// `{}` lines (22 million events) are read, checked and being published
/// with a peak resident size under 4 times the file's (issue #29: 256 MiB
/// of them took 8.5 GB, a `Bytes` and more per event). The run is stopped
/// (SIGINT) once its first events are stored; its peak is the kernel's
/// account of the child (`wait4`).
#[test]
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which reads its peak"
)]
fn lines_hold_their_events_in_about_the_memory_of_the_file() {
    use std::io::Read as _;
    const SIZE: usize = 64 * 1024 * 1024;
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, "{}\n".repeat(SIZE / 3)).unwrap();
    let mut child = common::command(
        env!("CARGO_BIN_EXE_publish"),
        &server.url(),
        &["--data-file", file.to_str().unwrap(), "--lines", "--json"],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // The first JSON line: every line is checked and publishing is under way.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    let read = stdout.read(&mut first).unwrap();
    assert_eq!(read, 1, "publish printed nothing");
    // The rest of its lines are read (and dropped), so that it never waits
    // on a full pipe.
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    common::signal(child.id(), "INT");
    // Reap the child ourselves, to read its own peak resident size.
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    drain.join().unwrap().unwrap();
    let peak = usage.ru_maxrss as usize * 1024; // KiB on Linux
    eprintln!("peak resident size: {} MiB", peak / (1024 * 1024));
    assert!(
        peak < 4 * SIZE,
        "peak resident size {} MiB for a {} MiB file",
        peak / (1024 * 1024),
        SIZE / (1024 * 1024)
    );
}

/// A bad line is a usage error naming its number, and nothing is published:
/// no stream is even made.
#[test]
fn a_bad_line_publishes_nothing_and_names_its_number() {
    let server = NatsServer::start();
    let input = "{\"id\":\"1\"}\n{\"id\":\"2\"}\n\n{\"id\": }\n{\"id\":\"5\"}\n";
    let output = publish_piped(&server.url(), input, &["--data-file", "-", "--lines"]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("line 4: not valid JSON"), "{err}");
    assert!(output.stdout.is_empty());
    assert!(server.stream_names().is_empty());
}

/// `-H NAME:VALUE` headers are stored with every event, next to the
/// `Nats-Msg-Id` that makes publishing exactly once.
#[test]
fn headers_are_stored_with_every_event() {
    let server = NatsServer::start();
    publish_ok(
        &server.url(),
        &[
            "--count",
            "2",
            "-H",
            "Trace-Id: 42",
            "--header",
            "Source:test:a",
            "-H",
            "Source:b",
        ],
    );
    for seq in 1..=2 {
        // The stored header block as the server holds it (async-nats's own
        // decoding of a stored message keeps one value per name).
        let block = server.with_js(|js| async move {
            let subject = "$JS.API.STREAM.MSG.GET.TICKET_CREATED";
            let response = js
                .client()
                .request(
                    subject,
                    serde_json::json!({ "seq": seq }).to_string().into(),
                )
                .await
                .unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&response.payload).unwrap();
            let hdrs = answer["message"]["hdrs"].as_str().unwrap().to_owned();
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(hdrs)
                .unwrap();
            String::from_utf8(bytes).unwrap()
        });
        for line in [
            "Trace-Id: 42\r\n",
            "Source: test:a\r\n",
            "Source: b\r\n",
            "Nats-Msg-Id: ",
        ] {
            assert!(block.contains(line), "{line:?} in {block:?}");
        }
    }
}

/// `--json` prints one JSON object per confirmed event on stdout, and only
/// that: the status lines go to stderr.
#[test]
fn json_prints_one_object_per_event_and_nothing_else_on_stdout() {
    let server = NatsServer::start();
    let output = common::publish(&server.url(), &["--count", "12", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(lines.len(), 12, "{stdout}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            serde_json::json!({"seq": i + 1, "channel": "ticket:created", "duplicate": false})
        );
    }
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Publisher connected to NATS"), "{stderr}");
    assert!(stderr.contains("Published 12 events"), "{stderr}");
}

/// `--quiet` prints nothing when all goes well, and the error when not.
#[test]
fn quiet_prints_only_errors() {
    let server = NatsServer::start();
    let output = common::publish(&server.url(), &["--count", "20", "--quiet"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        (text(&output.stdout), text(&output.stderr)),
        (String::new(), String::new())
    );
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 20);
    let output = common::publish(&common::dead_url(), &["--quiet", "--connect-timeout", "1s"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(
        text(&output.stderr).starts_with("Error: "),
        "{}",
        text(&output.stderr)
    );
}
