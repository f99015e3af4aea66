//! Server restarts: a NATS pod killed and started again, with its store, in
//! the middle of the work. No stored event is lost and none is stored or
//! acked twice.

mod common;

use std::collections::HashMap;

use common::{NatsServer, Running, publish_ok, received};

const EVENTS: u64 = 50_000;

/// Waits until the stream holds at least `n` events.
fn wait_for_stored(server: &NatsServer, watcher: &Running, n: u64) {
    watcher.wait_until(&format!("{n} events to be stored"), |_| {
        server
            .with_js(|js| async move {
                let mut stream = js.get_stream("TICKET_CREATED").await.ok()?;
                Some(stream.info().await.ok()?.state.messages)
            })
            .is_some_and(|stored| stored >= n)
    });
}

/// `publish --count N` across a server restart stores every event exactly
/// once: unconfirmed events are sent again with the same `Nats-Msg-Id`, and
/// the server drops the copies. (How many need sending again depends on
/// where the kill lands, so only the outcome is checked.)
#[test]
fn publish_across_a_restart_stores_every_event_once() {
    let mut server = NatsServer::start();
    let count = EVENTS.to_string();
    let mut publisher = Running::publish(&server.url(), &["--count", &count]);
    wait_for_stored(&server, &publisher, 1_000);
    server.kill();
    server.start_again();
    let status = publisher.wait_exit();
    assert!(status.success(), "{}", publisher.stderr());
    assert_eq!(server.stream_event_count("TICKET_CREATED"), EVENTS);
    assert!(
        publisher.stderr().contains("Lost the connection"),
        "{}",
        publisher.stderr()
    );
}

/// A durable listener replaying the history across a server restart goes on
/// where it was: it sees every event, and only an event whose ack had not
/// yet been confirmed comes again, marked as a redelivery.
#[test]
fn durable_replay_across_a_restart_sees_every_event_and_no_acked_one_again() {
    let mut server = NatsServer::start();
    let url = server.url();
    let stdout = replay_across_a_restart(&mut server, &["--durable", "replay"]);
    every_event_seen_and_each_repeat_marked(&stdout);

    // The durable's acks all reached the server: nothing is pending, and a
    // restarted listener gets nothing from the replay again.
    publish_ok(&url, &[]);
    let next = common::listen(
        &url,
        &["--durable", "replay", "--no-queue-group", "--count", "1"],
    );
    assert_eq!(
        received(&String::from_utf8_lossy(&next.stdout)),
        [EVENTS + 1]
    );
}

/// Publishes [`EVENTS`] events, replays them with `listen --deliver-all
/// --no-queue-group` and `extra` flags, kills and restarts the server part
/// of the way, and returns the output of the listener, which exited 0 after
/// reconnecting.
fn replay_across_a_restart(server: &mut NatsServer, extra: &[&str]) -> String {
    replay_and_notes_across_a_restart(server, extra).0
}

/// [`replay_across_a_restart`], with what the listener said on stderr.
fn replay_and_notes_across_a_restart(server: &mut NatsServer, extra: &[&str]) -> (String, String) {
    let url = server.url();
    let count = EVENTS.to_string();
    publish_ok(&url, &["--count", &count]);
    let flags = ["--deliver-all", "--no-queue-group", "--count", &count];
    let mut listener = Running::start(&url, &[&flags[..], extra].concat());
    listener.wait_until("part of the replay", |l| l.received().len() > 2_000);
    server.kill();
    server.start_again();
    let status = listener.wait_exit();
    assert!(status.success(), "{}", listener.stderr());
    assert!(
        listener.stderr().contains("Reconnected"),
        "{}",
        listener.stderr()
    );
    (listener.stdout(), listener.stderr())
}

/// Acks whose confirmations were asked on the connection a restart ended
/// are not waited for at the close on the new one: the listener says
/// nothing of unconfirmed acks (the server confirmed every ack sent since).
#[test]
fn a_listener_closing_after_a_restart_waits_for_no_confirmation_of_the_old_connection() {
    let mut server = NatsServer::start();
    let (_, stderr) = replay_and_notes_across_a_restart(&mut server, &["--durable", "confirmed"]);
    assert!(!stderr.contains("acks were not confirmed"), "{stderr}");
}

/// Every event of the replay was printed, and each one printed again is
/// marked as a redelivery.
fn every_event_seen_and_each_repeat_marked(stdout: &str) {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for seq in received(stdout) {
        *seen.entry(seq).or_default() += 1;
    }
    let missing: Vec<u64> = (1..=EVENTS).filter(|s| !seen.contains_key(s)).collect();
    assert!(
        missing.is_empty(),
        "{} events never delivered, from #{:?}",
        missing.len(),
        missing.first()
    );
    // Each delivery after the first is a redelivery, shown as such.
    let again = seen.values().map(|n| u64::from(n - 1)).sum::<u64>();
    let marked = stdout.matches("(redelivered, delivery #").count() as u64;
    assert_eq!(again, marked, "every repeat is a marked redelivery");
}

/// A listener of its own, replaying the history across a server restart,
/// goes on: the server keeps pushing to it once it has reconnected, and it
/// sees every event.
#[test]
fn own_replay_across_a_restart_sees_every_event() {
    let mut server = NatsServer::start();
    let stdout = replay_across_a_restart(&mut server, &[]);
    every_event_seen_and_each_repeat_marked(&stdout);
}

/// The library's `Publisher` is the `publish` command's exactly-once
/// publish: a service publishing one event after another across a server
/// restart gets every publish confirmed, and each event is stored once.
#[test]
fn library_publisher_across_a_restart_stores_each_event_once() {
    use nats_course_toolkit::Publisher;
    use nats_course_toolkit::events::{TicketCreatedData, TicketCreatedEvent};

    struct Tickets(async_nats::Client);
    impl Publisher for Tickets {
        type Event = TicketCreatedEvent;
        fn client(&self) -> &async_nats::Client {
            &self.0
        }
    }

    const TICKETS: u64 = 2_000;
    let mut server = NatsServer::start();
    let url = server.url();
    let publishing = std::thread::spawn(move || {
        common::block_on(async move {
            let client = async_nats::connect(&url).await.expect("connect");
            let tickets = Tickets(client.clone());
            let mut sequences = Vec::new();
            for i in 0..TICKETS {
                let data = TicketCreatedData {
                    id: i.to_string(),
                    version: 0,
                    title: "concert".into(),
                    price: 20.0,
                    user_id: "456".into(),
                };
                match tickets.publish(&data).await {
                    Ok(sequence) => sequences.push(sequence),
                    Err(err) => panic!("publish of ticket {i} failed: {err:#}"),
                }
            }
            client.drain().await.ok();
            sequences
        })
    });
    let started = std::time::Instant::now();
    let stored = |server: &NatsServer| {
        server.with_js(|js| async move {
            let mut stream = js.get_stream("TICKET_CREATED").await.ok()?;
            Some(stream.info().await.ok()?.state.messages)
        })
    };
    while stored(&server).unwrap_or(0) < 200 {
        assert!(started.elapsed() < common::DEADLINE, "no events stored");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill();
    server.start_again();
    let sequences = publishing.join().expect("every publish is confirmed");
    assert_eq!(sequences.len() as u64, TICKETS);
    assert_eq!(
        server.stream_event_count("TICKET_CREATED"),
        TICKETS,
        "none twice"
    );
    let mut ids: Vec<u64> = server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        let mut ids = Vec::new();
        for seq in 1..=TICKETS {
            let event = stream.get_raw_message(seq).await.expect("event");
            let value: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
            ids.push(value["id"].as_str().unwrap().parse().unwrap());
        }
        ids
    });
    ids.sort();
    assert_eq!(ids, (0..TICKETS).collect::<Vec<_>>(), "each ticket once");
}

/// The folders of the stream's consumers in a stopped server's store.
fn consumer_folders(server: &NatsServer) -> Vec<std::path::PathBuf> {
    let obs = server
        .store()
        .join("jetstream/$G/streams/TICKET_CREATED/obs");
    std::fs::read_dir(&obs)
        .map(|dir| dir.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default()
}

/// A listener of its own with a start position, whose consumer a restart
/// lost before any event reached it, makes it anew where it started: it
/// gets the events from its start on, and not the one before.
#[test]
fn a_listener_whose_consumer_a_restart_lost_starts_it_again_where_it_started() {
    let mut server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Running::start(&url, &["--no-queue-group", "--start-seq", "5"]);
    server.kill();
    let lost = consumer_folders(&server);
    assert_eq!(lost.len(), 1, "the listener's consumer is stored: {lost:?}");
    for folder in lost {
        std::fs::remove_dir_all(folder).expect("remove the consumer");
    }
    server.start_again();
    listener.wait_for_stderr("Reconnected");
    publish_ok(&url, &["--count", "3"]);
    assert_eq!(listener.wait_for_events(2), [5, 6]);
    let stdout = listener.stop();
    assert_eq!(received(&stdout), [5, 6], "nothing before its start");
}
