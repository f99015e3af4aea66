//! What the toolkit promises when things go wrong, each promise in one test
//! against a real nats-server: an acked event is a printed event, every wait
//! ends, and what is printed is what happened.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{NatsServer, Running, publish_ok};

/// Runs `listen` and adds the event numbers it prints to `printed` until
/// `stop(new events this run, printed, time since the last new one)` says
/// so; then kills it with SIGKILL and adds whatever it had written before it
/// died.
fn listen_until(
    url: &str,
    flags: &[&str],
    printed: &mut BTreeSet<u64>,
    deadline: Duration,
    mut stop: impl FnMut(usize, &BTreeSet<u64>, Duration) -> bool,
) {
    let mut listener = Running::launch(url, flags);
    let started = Instant::now();
    let (mut new, mut last_new, mut read) = (0, Instant::now(), 0);
    while !stop(new, printed, last_new.elapsed()) {
        assert!(
            started.elapsed() < deadline,
            "timed out: {new} new events this run, {} of them in all",
            printed.len()
        );
        std::thread::sleep(Duration::from_millis(20));
        let (lines, end) = listener.stdout_from(read);
        read = end;
        for seq in common::received(&lines) {
            if printed.insert(seq) {
                new += 1;
                last_new = Instant::now();
            }
        }
    }
    // The pipe holds what the listener wrote before it died: read it to the end.
    listener.kill();
    printed.extend(common::received(&listener.stdout_from(read).0));
}

/// A listener killed with SIGKILL in the middle of a replay loses no event:
/// it acks an event only once its line is written out, so whatever the
/// server takes as handled was printed. Across several killed runs and a
/// last one of the same durable, every event is printed at least once.
#[test]
fn a_killed_durable_listener_loses_no_event() {
    const EVENTS: u64 = 50_000;
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", &EVENTS.to_string()]);
    let flags = [
        "--no-queue-group",
        "--durable",
        "killed",
        "--deliver-all",
        "--ack-wait",
        "2s",
    ];
    let mut printed = BTreeSet::new();
    // Killed at different moments of the replay, wherever it is in writing
    // out its lines: a moment after its first new line, then later ones.
    for kill_at in [10, 60, 150, 300, 500] {
        let mut first_new: Option<Instant> = None;
        listen_until(&url, &flags, &mut printed, common::DEADLINE, |new, _, _| {
            if new == 0 {
                return false;
            }
            let first = *first_new.get_or_insert_with(Instant::now);
            first.elapsed() >= Duration::from_millis(kill_at)
        });
    }
    // The same durable again, until idle: what the killed runs did not ack
    // comes back (at once, or after the 2 s ack wait).
    listen_until(
        &url,
        &flags,
        &mut printed,
        Duration::from_secs(60),
        |_, printed, idle| printed.len() as u64 >= EVENTS || idle > Duration::from_secs(6),
    );
    let missing: Vec<u64> = (1..=EVENTS).filter(|s| !printed.contains(s)).collect();
    assert!(missing.is_empty(), "never printed: {missing:?}");
}

/// The server's ack floor of a consumer on `ticket:created`: every event up
/// to it is acked.
fn ack_floor(server: &NatsServer, consumer: &str) -> u64 {
    server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        let info = stream.consumer_info(consumer).await.expect("consumer");
        info.ack_floor.stream_sequence
    })
}

/// A listener whose output nobody reads stops once the pipe is full, with
/// more lines in its own buffer. It has acked only what it wrote out: killed
/// there, every event the server holds as acked is in the pipe.
#[test]
fn acks_only_events_whose_lines_were_written_out() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "20000"]);
    let flags = ["--no-queue-group", "--durable", "stalled", "--deliver-all"];
    let mut child = common::command(env!("CARGO_BIN_EXE_listen"), &url, &flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start listen");
    // Not read yet: the listener fills the pipe, then its buffer, then waits.
    // Stuck is when its ack floor no longer moves.
    let started = Instant::now();
    let mut floor = 0;
    loop {
        assert!(
            started.elapsed() < common::DEADLINE,
            "the ack floor kept moving"
        );
        std::thread::sleep(Duration::from_millis(500));
        let now = ack_floor(&server, "stalled");
        if now > 0 && now == floor {
            break;
        }
        floor = now;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut written = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut written).unwrap();
    let printed: BTreeSet<u64> = common::received(&written).into_iter().collect();
    let missing: Vec<u64> = (1..=floor).filter(|s| !printed.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "acked up to #{floor}, but {} of them were never written out, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Waits, for at most `limit`, until `running` exits having printed an
/// `Error:` line, and returns its exit code and stderr.
fn error_within(mut running: Running, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    loop {
        // The last line may still be on its way through the pipe.
        if let Some(status) = running.try_wait()
            && running.stderr().contains("Error: ")
        {
            return (status.code(), running.stderr());
        }
        assert!(
            started.elapsed() < limit,
            "no exit with an error within {limit:?}\nstderr:\n{}",
            running.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many events the channel's stream holds (0 before it exists).
fn stored(server: &NatsServer) -> u64 {
    server.with_js(|js| async move {
        match js.get_stream("TICKET_CREATED").await {
            Ok(mut stream) => stream.info().await.map_or(0, |info| info.state.messages),
            Err(_) => 0,
        }
    })
}

/// A server that dies during `publish --count` and does not come back: the
/// publish gives up 30 s after the last confirmed event, says how many were
/// stored, and exits 1. It never waits forever.
#[test]
fn publish_gives_up_when_the_server_is_gone_for_good() {
    let mut server = NatsServer::start();
    let url = server.url();
    let publish = Running::publish(&url, &["--count", "1000000"]);
    publish.wait_until("some events stored", |_| stored(&server) > 1000);
    server.kill();
    let (code, stderr) = error_within(publish, Duration::from_secs(50));
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("Error: the server did not confirm event ")
            && line.contains(" of 1000000 on ticket:created within 30s; ")
            && line.contains(" were stored (events #1 to #"),
        "{stderr}"
    );
}

/// A server frozen for good (SIGSTOP) during `publish --count`: publish
/// gives up, saying how many events are stored and how many more may be:
/// those it handed to the connection, which the server reads once it goes
/// on (issue #29: 192,795 said stored, 196,891 stored). After SIGCONT, once
/// the server has read all the publisher sent, the stream holds at least
/// what was said, and at most that plus what may be stored.
#[test]
fn publish_giving_up_on_a_frozen_server_says_what_may_be_stored() {
    let server = NatsServer::start_with_monitoring();
    let url = server.url();
    let publish = Running::publish(&url, &["--count", "1000000"]);
    publish.wait_until("some events stored", |_| stored(&server) > 1000);
    server.signal("STOP");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        error_within(publish, Duration::from_secs(60))
    }));
    server.signal("CONT");
    let (code, stderr) = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("Error: the server did not confirm event ")
            && line.contains(" more were sent but not confirmed, and may be stored. "),
        "{stderr}"
    );
    let said = stored_count(line);
    let may: u64 = line
        .split("; ")
        .find_map(|part| part.strip_suffix(" more were sent but not confirmed, and may be stored. Check the connection to NATS and publish again"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count of events that may be stored: {line}"));
    // The server has read everything the publisher sent once it has closed
    // its connection; an event stored after that was stored after them.
    common::wait_until(
        "the publisher's connection closed",
        common::DEADLINE,
        || {
            let connz: serde_json::Value =
                serde_json::from_str(&server.monitoring("/connz")).unwrap();
            connz["num_connections"] == 0
        },
    );
    server.with_js(|js| async move {
        js.publish("ticket:created", "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    let stored = stored(&server) - 1;
    assert!(
        said <= stored && stored <= said + may,
        "stored {stored}: {line}"
    );
}

/// The number in "N were stored (events #1 to #N)".
fn stored_count(line: &str) -> u64 {
    let rest = line.split("; ").nth(1).expect("a '; N were stored' part");
    rest.split(' ').next().unwrap().parse().expect("a count")
}

/// Ctrl-C (SIGINT) or SIGTERM during `publish --count`: nothing more is
/// sent, the events in flight are confirmed, and it says how many events are
/// stored, as many as the stream holds, and exits 1.
#[test]
fn publish_interrupted_says_how_many_events_are_stored() {
    let server = NatsServer::start();
    let url = server.url();
    for signal in ["INT", "TERM"] {
        let before = stored(&server);
        let publish = Running::publish(&url, &["--count", "1000000"]);
        publish.wait_until("some events stored", |_| stored(&server) > before + 1000);
        publish.signal(signal);
        let (code, stderr) = error_within(publish, Duration::from_secs(10));
        assert_eq!(code, Some(1), "{stderr}");
        let line = stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with(
                "Error: interrupted before all 1000000 events were stored on ticket:created; "
            ),
            "{stderr}"
        );
        assert_eq!(before + stored_count(line), stored(&server), "{stderr}");
    }
}

/// Ctrl-C during `publish --count` while the server is gone: it does not
/// wait for the server, and says what it knows: how many are stored, and
/// how many were sent without a confirmation.
#[test]
fn publish_interrupted_while_the_server_is_gone_exits_in_bounded_time() {
    let mut server = NatsServer::start();
    let url = server.url();
    let publish = Running::publish(&url, &["--count", "1000000"]);
    publish.wait_until("some events stored", |_| stored(&server) > 1000);
    server.kill();
    publish.wait_for_stderr("Lost the connection to NATS");
    publish.signal("INT");
    // The 5 s wait for events in flight, and 5 s to close.
    let (code, stderr) = error_within(publish, Duration::from_secs(15));
    assert_eq!(code, Some(1), "{stderr}");
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("Error: interrupted before all 1000000 events were stored")
            && line.contains(" were sent but not confirmed within 5s, and may be stored"),
        "{stderr}"
    );
}

/// A stream made with `no_ack` stores events without a word: publish says
/// at once that it cannot confirm anything, instead of waiting 30 s and
/// claiming that nothing was stored.
#[test]
fn publish_to_a_stream_that_does_not_ack_fails_at_once() {
    let server = NatsServer::start();
    let url = server.url();
    server.with_js(|js| async move {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "SILENT".into(),
            subjects: vec!["ticket:created".into()],
            no_ack: true,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    });
    let output = common::publish(&url, &["--count", "3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the stream SILENT, which stores channel ticket:created, does not confirm")
            && stderr.contains("no_ack"),
        "{stderr}"
    );
    assert_eq!(server.stream_event_count("SILENT"), 0, "nothing was sent");
}

/// A stream that refuses an event (full: here its message limit; on a real
/// server, a full disk) makes publish say which event was refused and how
/// many before it are stored.
#[test]
fn a_refused_event_says_how_many_were_stored() {
    let server = NatsServer::start();
    let url = server.url();
    server.with_js(|js| async move {
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "TICKET_CREATED".into(),
            subjects: vec!["ticket:created".into()],
            max_messages: 5,
            discard: async_nats::jetstream::stream::DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    });
    let output = common::publish(&url, &["--count", "8"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Error: the server refused event 6 of 8 on ticket:created: ")
            && stderr.contains("; 5 were stored (events #1 to #5)"),
        "{stderr}"
    );
}

/// The state of a durable on `ticket:created`: (last delivered, redelivered).
fn delivered(server: &NatsServer, consumer: &str) -> (u64, usize) {
    server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        let info = stream.consumer_info(consumer).await.expect("consumer");
        (info.delivered.stream_sequence, info.num_redelivered)
    })
}

/// A listener paused (SIGSTOP) past its ack wait gets its events again
/// while it sleeps. Resumed, it prints each once, and says they came back
/// after the ack wait: no server restarted.
#[test]
fn a_paused_listener_says_its_events_came_back_after_the_ack_wait() {
    let server = NatsServer::start();
    let url = server.url();
    let flags = [
        "--no-queue-group",
        "--durable",
        "paused",
        "--ack-wait",
        "1s",
    ];
    let listener = Running::start(&url, &flags);
    listener.signal("STOP");
    publish_ok(&url, &["--count", "3"]);
    listener.wait_until("the events to be delivered again", |_| {
        delivered(&server, "paused").1 >= 3
    });
    listener.signal("CONT");
    assert_eq!(listener.wait_for_events(3), [1, 2, 3]);
    listener.wait_until("every event acked", |_| ack_floor(&server, "paused") == 3);
    listener.signal("INT");
    listener.wait_for_stderr("came back (redelivered after the ack wait)");
    assert_eq!(listener.received(), [1, 2, 3], "each shown once");
    assert!(
        !listener.stderr().contains("restart"),
        "{}",
        listener.stderr()
    );
}

/// A listener stopped while the server does not answer says how many of its
/// acks the server did not confirm, instead of closing as if all were
/// applied; and it does not wait for the server forever.
#[test]
fn a_listener_closing_without_a_server_says_which_acks_are_unconfirmed() {
    let server = NatsServer::start();
    let url = server.url();
    let flags = ["--no-queue-group", "--durable", "unconfirmed"];
    let listener = Running::start(&url, &flags);
    // Frozen, the listener cannot ack the events the server sends it...
    listener.signal("STOP");
    publish_ok(&url, &["--count", "3"]);
    listener.wait_until("the events to be sent", |_| {
        delivered(&server, "unconfirmed").0 == 3
    });
    // ...and then the server cannot confirm the acks.
    server.signal("STOP");
    listener.signal("CONT");
    assert_eq!(listener.wait_for_events(3), [1, 2, 3]);
    listener.signal("INT");
    listener.wait_for_stderr(
        "3 acks were not confirmed by the server before closing (NATS did not answer \
         within 5s); \
         their events may be delivered again",
    );
    listener.wait_for_stdout("NATS connection closed!");
    server.signal("CONT");
}

/// An event's data comes from anyone who can publish: on the terminal its
/// control characters are printed escaped, so a raw newline cannot forge a
/// second `Received event` line and no escape sequence reaches the terminal.
#[test]
fn control_characters_in_event_data_are_printed_escaped() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    server.with_js(|js| async move {
        let forged = "x\nReceived event #99, with data: forged\u{1b}[2J\r";
        js.publish("ticket:created", forged.into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    });
    let output = common::listen(&url, &["--no-queue-group", "--deliver-all", "--count", "2"]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(common::received(&stdout), [1, 2], "{stdout}");
    assert!(
        stdout.contains(
            "Received event #2, with data: x\\nReceived event #99, with data: forged\\u001b[2J\\r\n"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );
}

/// `publish --watch` of an event larger than the server takes says so once,
/// publishes nothing until the next save, and publishes that one.
#[test]
fn watch_says_once_that_an_event_is_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.conf");
    std::fs::write(&config, "max_payload: 1000\n").unwrap();
    let server = NatsServer::start_with(&["-js", "-c", config.to_str().unwrap()]);
    let file = dir.path().join("event.json");
    std::fs::write(&file, r#"{"id":"1"}"#).unwrap();
    let watcher = Running::publish(
        &server.url(),
        &["--watch", "--data-file", file.to_str().unwrap()],
    );
    watcher.wait_for_stdout("as event #1");
    std::fs::write(&file, format!(r#"{{"id":"{}"}}"#, "x".repeat(2000))).unwrap();
    watcher.wait_for_stderr("more than the 1000 bytes the server takes");
    std::fs::write(&file, r#"{"id":"small again"}"#).unwrap();
    watcher.wait_for_stdout("as event #2");
    let stderr = watcher.stderr();
    assert_eq!(stderr.matches("Error: ").count(), 1, "{stderr}");
    assert!(
        stderr.contains("the event is 2009 bytes, and 2054 bytes with its headers")
            && stderr.contains("more than the 1000 bytes the server takes"),
        "{stderr}"
    );
}

/// `publish --watch` whose folder is removed says so, and watches again
/// when the folder comes back: a file saved there is published.
#[test]
fn watch_survives_its_folder_being_removed_and_made_again() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("events");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("event.json");
    std::fs::write(&file, r#"{"id":"1"}"#).unwrap();
    let watcher = Running::publish(
        &server.url(),
        &["--watch", "--data-file", file.to_str().unwrap()],
    );
    watcher.wait_for_stdout("Watching");
    std::fs::remove_dir_all(&folder).unwrap();
    watcher.wait_for_stderr("was removed; watching for it to come back");
    std::fs::create_dir(&folder).unwrap();
    watcher.wait_for_stdout("again");
    std::fs::write(&file, r#"{"id":"back"}"#).unwrap();
    watcher.wait_for_stdout("as event #2");
    assert_eq!(server.event_data("TICKET_CREATED", 2), r#"{"id":"back"}"#);
}

/// Nothing listening at the URL is a refusal, said at once; a server that
/// takes the connection and never answers is silence, said after the
/// connect timeout. `make server` is advised only in the toolkit's folder.
#[test]
fn a_refused_connection_and_a_silent_one_say_what_happened() {
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = common::listen(&format!("nats://127.0.0.1:{port}"), &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr.contains("connection refused (nothing listens there). Start a server with `nats-server -js` (here: `make server`)"),
        "{stderr}"
    );
    let elsewhere = common::run(
        common::command(
            env!("CARGO_BIN_EXE_publish"),
            &format!("nats://127.0.0.1:{port}"),
            &[],
        )
        .current_dir(std::env::temp_dir()),
    );
    let stderr = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(
        stderr.contains("`nats-server -js`, or forward") && !stderr.contains("make server"),
        "{stderr}"
    );
    // Takes the connection, says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("nats://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let output = common::listen(&url, &["--connect-timeout", "1s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("no server answered within 1s"), "{stderr}");
}
