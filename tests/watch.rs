//! `publish --watch` against a real nats-server: one publish per save,
//! however the editor saves, and a watcher that survives bad JSON, a deleted
//! file and a lost connection.

mod common;

use std::path::Path;

use common::{NatsServer, Running};

/// A data file in a fresh folder, and a `publish --watch --data-file` on it
/// that has published once at start.
fn watching(server: &NatsServer) -> (tempfile::TempDir, std::path::PathBuf, Running) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket-created.json");
    std::fs::write(&file, r#"{"id":"1","title":"concert","price":20}"#).unwrap();
    let watcher = Running::publish(
        &server.url(),
        &["--watch", "--data-file", file.to_str().unwrap()],
    );
    watcher.wait_for_stdout("as event #1");
    watcher.wait_for_stdout("Watching");
    (dir, file, watcher)
}

/// Rewrites the file in place, as `echo > file` or most editors do.
fn save_in_place(file: &Path, json: &str) {
    std::fs::write(file, json).unwrap();
}

/// Saves the way vim and VS Code can: a temporary file renamed over the old one.
fn save_by_rename(file: &Path, json: &str) {
    let temp = file.with_extension("json.tmp");
    std::fs::write(&temp, json).unwrap();
    std::fs::rename(&temp, file).unwrap();
}

/// Stops the watcher cleanly and returns how many events the stream holds.
fn stop_and_count(server: &NatsServer, mut watcher: Running) -> u64 {
    watcher.signal("INT");
    assert!(watcher.wait_exit().success(), "{}", watcher.stderr());
    server.stream_event_count("TICKET_CREATED")
}

/// Publishes once at start, then once per save; the data is read again on
/// every save.
#[test]
fn publishes_once_at_start_and_once_per_save() {
    let server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    for n in 2..=4 {
        save_in_place(&file, &format!(r#"{{"id":"{n}"}}"#));
        watcher.wait_for_stdout(&format!("as event #{n}"));
    }
    assert!(watcher.stdout().contains("Restarting: "));
    assert!(
        watcher
            .stdout()
            .contains("ticket-created.json has been modified")
    );
    assert_eq!(stop_and_count(&server, watcher), 4, "one event per save");
    assert_eq!(server.event_data("TICKET_CREATED", 4), r#"{"id":"4"}"#);
}

/// A save through a temporary file and a rename counts as one save.
#[test]
fn a_save_by_rename_publishes_once() {
    let server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    save_by_rename(&file, r#"{"id":"2"}"#);
    watcher.wait_for_stdout("as event #2");
    save_by_rename(&file, r#"{"id":"3"}"#);
    watcher.wait_for_stdout("as event #3");
    assert_eq!(stop_and_count(&server, watcher), 3, "one event per save");
    assert_eq!(server.event_data("TICKET_CREATED", 3), r#"{"id":"3"}"#);
}

/// Invalid JSON on save prints the parse error with line and column,
/// publishes nothing, and the watcher goes on.
#[test]
fn invalid_json_publishes_nothing_and_the_watcher_survives() {
    let server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    save_in_place(&file, "{\"id\": \n");
    watcher.wait_for_stderr("line 2 column 0");
    watcher.wait_for_stderr("Nothing published; still watching");
    assert!(
        !watcher.stdout().contains("Restarting"),
        "a refused save restarts nothing: {}",
        watcher.stdout()
    );
    save_in_place(&file, r#"{"id":"fixed"}"#);
    watcher.wait_for_stdout("as event #2");
    assert_eq!(
        stop_and_count(&server, watcher),
        2,
        "the bad save published nothing"
    );
    assert_eq!(server.event_data("TICKET_CREATED", 2), r#"{"id":"fixed"}"#);
}

/// A file that is deleted and created again is still watched.
#[test]
fn a_deleted_and_recreated_file_is_still_watched() {
    let server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    std::fs::remove_file(&file).unwrap();
    save_in_place(&file, r#"{"id":"again"}"#);
    watcher.wait_for_stdout("as event #2");
    save_in_place(&file, r#"{"id":"and again"}"#);
    watcher.wait_for_stdout("as event #3");
    assert_eq!(stop_and_count(&server, watcher), 3);
}

/// A save while the server is down is reported, kept, and published once
/// the connection is back: stored once, not lost and not twice.
#[test]
fn a_save_during_a_lost_connection_is_published_once_it_is_back() {
    let mut server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    server.kill();
    watcher.wait_for_stderr("Lost the connection to NATS");
    save_in_place(&file, r#"{"id":"while down"}"#);
    watcher.wait_for_stdout("has been modified");
    server.start_again();
    watcher.wait_for_stderr("Reconnected to NATS");
    watcher.wait_for_stdout("as event #2");
    assert_eq!(stop_and_count(&server, watcher), 2);
    assert_eq!(
        server.event_data("TICKET_CREATED", 2),
        r#"{"id":"while down"}"#
    );
}

/// `--watch --json`: each save's events as JSON lines on stdout, as soon as
/// they are stored; the status lines on stderr.
#[test]
fn json_watch_prints_each_saves_events_as_json() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket-created.json");
    std::fs::write(&file, r#"{"id":"1"}"#).unwrap();
    let watcher = Running::publish(
        &server.url(),
        &["--watch", "--json", "--data-file", file.to_str().unwrap()],
    );
    watcher.wait_for_stdout(r#"{"seq":1,"channel":"ticket:created","duplicate":false}"#);
    watcher.wait_for_stderr("Watching");
    save_in_place(&file, r#"{"id":"2"}"#);
    watcher.wait_for_stdout(r#"{"seq":2,"channel":"ticket:created","duplicate":false}"#);
    let stdout = watcher.stdout();
    for line in stdout.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(value["seq"].is_u64(), "{line}");
    }
    assert!(watcher.stderr().contains("has been modified"));
    assert_eq!(stop_and_count(&server, watcher), 2);
}

/// Waits until stderr holds `needle` once, then checks, polling for a
/// short while (2 s: nothing else the watcher prints shows that it stopped
/// trying), that it is still said only once.
fn said_once(watcher: &Running, needle: &str) {
    watcher.wait_for_stderr(needle);
    let window = std::time::Duration::from_secs(2);
    let start = std::time::Instant::now();
    while start.elapsed() < window {
        let said = watcher.stderr().matches(needle).count();
        assert_eq!(said, 1, "said {said} times:\n{}", watcher.stderr());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A file the server refuses as too large (under 1 MiB, so it is read, but
/// over the server's max_payload with the event's id header) is reported
/// once, not every 250 ms; a save that fixes it publishes.
#[test]
fn an_oversize_file_is_reported_once_and_a_fixed_save_publishes() {
    let server = NatsServer::start();
    let (_dir, file, watcher) = watching(&server);
    let filler = "x".repeat(1024 * 1024 - 40);
    save_in_place(&file, &format!(r#"{{"a":"{filler}"}}"#));
    said_once(
        &watcher,
        "more than the 1048576 bytes the server takes (its max_payload)",
    );
    assert!(
        watcher.stderr().contains("Nothing published"),
        "{}",
        watcher.stderr()
    );
    save_in_place(&file, r#"{"id":"fixed"}"#);
    watcher.wait_for_stdout("as event #2");
    assert_eq!(stop_and_count(&server, watcher), 2);
}

/// A stream that refuses the event (`max_msgs 1`, `discard new`, made
/// here with plain JetStream) is reported once, not every 250 ms; the next
/// save tries again, and is reported once more.
#[test]
fn a_stream_that_refuses_the_event_is_reported_once() {
    use async_nats::jetstream::stream::{Config, DiscardPolicy};
    let server = NatsServer::start();
    server.with_js(|js| async move {
        js.create_stream(Config {
            name: "TICKET_CREATED".into(),
            subjects: vec!["ticket:created".into()],
            max_messages: 1,
            discard: DiscardPolicy::New,
            ..Default::default()
        })
        .await
        .expect("create the stream");
    });
    let (_dir, file, watcher) = watching(&server);
    save_in_place(&file, r#"{"id":"2"}"#);
    said_once(&watcher, "maximum messages exceeded");
    save_in_place(&file, r#"{"id":"3"}"#);
    watcher.wait_until("the second save's refusal", |w| {
        w.stderr().matches("maximum messages exceeded").count() == 2
    });
    assert_eq!(stop_and_count(&server, watcher), 1);
}
