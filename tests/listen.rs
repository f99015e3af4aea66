//! `listen` against a real nats-server: the NATS Streaming semantics the
//! course teaches, each in one test.

mod common;

use common::{Listener, NatsServer, listen, publish_ok, received};

const OWN: &str = "--no-queue-group";

/// Without a start flag a listener gets only events published after it
/// started, as in NATS Streaming.
#[test]
fn without_start_flag_gets_only_new_events() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Listener::start(&url, &[OWN]);
    publish_ok(&url, &[]);
    assert_eq!(listener.wait_for_events(1), [4]);
    let stdout = listener.stop();
    assert_eq!(received(&stdout), [4]);
}

/// `--deliver-all --no-queue-group`: every new listener replays the whole
/// history from #1, in order, then gets new events.
#[test]
fn replays_history_with_deliver_all() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let first = Listener::start(&url, &["--deliver-all", OWN]);
    assert_eq!(first.wait_for_events(3), [1, 2, 3]);
    let second = Listener::start(&url, &["--deliver-all", OWN]);
    assert_eq!(second.wait_for_events(3), [1, 2, 3]);
    publish_ok(&url, &[]);
    assert_eq!(first.wait_for_events(4), [1, 2, 3, 4]);
    assert_eq!(second.wait_for_events(4), [1, 2, 3, 4]);
    assert!(first.stdout().contains(
        "Received event #1, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20}\n"
    ));
}

/// Listeners in the same queue group share the events: each event reaches
/// exactly one of them.
#[test]
fn queue_group_members_each_get_a_share() {
    let server = NatsServer::start();
    let url = server.url();
    let a = Listener::start(&url, &[]);
    let b = Listener::start(&url, &[]);
    publish_ok(&url, &["--count", "40"]);
    a.wait_until("all 40 events to arrive", |a| {
        a.received().len() + b.received().len() >= 40
    });
    let (from_a, from_b) = (received(&a.stop()), received(&b.stop()));
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "both members got a share"
    );
    let mut all = [from_a, from_b].concat();
    all.sort();
    assert_eq!(all, (1..=40).collect::<Vec<_>>(), "each event exactly once");
}

/// Listeners without a queue group each get every event.
#[test]
fn listeners_without_group_each_get_every_event() {
    let server = NatsServer::start();
    let url = server.url();
    let a = Listener::start(&url, &[OWN]);
    let b = Listener::start(&url, &[OWN]);
    publish_ok(&url, &["--count", "5"]);
    assert_eq!(a.wait_for_events(5), [1, 2, 3, 4, 5]);
    assert_eq!(b.wait_for_events(5), [1, 2, 3, 4, 5]);
}

/// A queue group's start position applies when the group is first formed: a
/// member joining later gets no history, and the listener says so.
#[test]
fn joining_an_existing_group_gets_no_history_and_says_so() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let founder = Listener::start(&url, &["--deliver-all"]);
    assert_eq!(founder.wait_for_events(3), [1, 2, 3]);
    let late = Listener::start(&url, &["--deliver-all"]);
    assert!(
        late.stderr().contains("already exists") && late.stderr().contains("--no-queue-group"),
        "{}",
        late.stderr()
    );
    founder.stop();
    publish_ok(&url, &[]);
    assert_eq!(
        late.wait_for_events(1),
        [4],
        "no history, only the new event"
    );
}

/// An event that is not acked within the ack wait is delivered again, and
/// shown as a redelivery.
#[test]
fn unacked_event_is_redelivered_after_ack_wait() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(&url, &[OWN, "--skip-ack", "--ack-wait", "1s"]);
    publish_ok(&url, &[]);
    listener.wait_for_stdout("(redelivered, delivery #2)");
    let events = listener.received();
    assert_eq!(&events[..2], [1, 1]);
}

/// A durable subscription remembers what was acked: restarted with another
/// client id, it gets only what it missed.
#[test]
fn durable_resumes_after_restart_with_only_missed_events() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let args = ["--durable", "accounting", "--deliver-all", OWN];
    let first = listen(
        &url,
        &[&args[..], &["--client-id", "one", "--count", "3"]].concat(),
    );
    assert!(first.status.success());
    assert_eq!(received(&String::from_utf8_lossy(&first.stdout)), [1, 2, 3]);

    publish_ok(&url, &["--count", "2"]);
    let second = listen(
        &url,
        &[&args[..], &["--client-id", "two", "--count", "2"]].concat(),
    );
    assert!(second.status.success());
    assert_eq!(received(&String::from_utf8_lossy(&second.stdout)), [4, 5]);
}

/// A durable queue group outlives all its members: it is kept on the server
/// with no expiry, and a new member resumes where the last one stopped.
#[test]
fn durable_queue_group_outlives_its_members() {
    let server = NatsServer::start();
    let url = server.url();
    let args = ["--durable", "orders-durable", "--deliver-all"];
    publish_ok(&url, &["--count", "2"]);
    let member = Listener::start(&url, &args);
    assert_eq!(member.wait_for_events(2), [1, 2]);
    member.stop();

    assert_eq!(server.consumer_names("TICKET_CREATED"), ["orders-durable"]);
    let threshold = server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.unwrap();
        stream
            .consumer_info("orders-durable")
            .await
            .unwrap()
            .config
            .inactive_threshold
    });
    assert!(
        threshold.is_zero(),
        "a durable never expires, got {threshold:?}"
    );

    publish_ok(&url, &[]);
    let next = listen(&url, &[&args[..], &["--count", "1"]].concat());
    assert_eq!(received(&String::from_utf8_lossy(&next.stdout)), [3]);
}

/// A listener of its own deletes its consumer when it exits cleanly.
#[test]
fn own_listener_deletes_its_consumer_on_clean_exit() {
    let server = NatsServer::start();
    let listener = Listener::start(&server.url(), &[OWN]);
    assert_eq!(server.consumer_names("TICKET_CREATED").len(), 1);
    listener.stop();
    assert!(server.consumer_names("TICKET_CREATED").is_empty());
}

/// A listener of its own says its client id, and its subscription is named
/// after it, so `make status` tells which terminal it is. A client id given
/// by hand gets a suffix: two terminals may give the same one.
#[test]
fn own_listener_names_its_subscription_after_its_client_id() {
    let server = NatsServer::start();
    let listener = Listener::start(&server.url(), &[OWN]);
    let stdout = listener.stdout();
    let id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Listener connected to NATS as "))
        .expect("the client id on the first line");
    assert_eq!(server.consumer_names("TICKET_CREATED"), [id]);
    listener.stop();
    let a = Listener::start(&server.url(), &[OWN, "--client-id", "alice"]);
    let b = Listener::start(&server.url(), &[OWN, "--client-id", "alice"]);
    a.wait_for_stdout("Listener connected to NATS as alice\n");
    let names = server.consumer_names("TICKET_CREATED");
    assert_eq!(names.len(), 2, "one each: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("alice-")), "{names:?}");
    a.stop();
    b.stop();
}

/// `--reset` deletes the group's subscription: a member still running stops
/// and says that someone ran --reset.
#[test]
fn reset_stops_the_running_members_and_says_why() {
    let server = NatsServer::start();
    let mut member = Listener::start(&server.url(), &[]);
    let _resetting = Listener::start(&server.url(), &["--reset"]);
    member.wait_for_stderr("someone ran listen --reset for its queue group or durable");
    assert_eq!(member.wait_exit().code(), Some(1));
}

/// A crashed listener's consumer expires shortly after, on its own.
#[test]
fn crashed_listeners_consumer_expires() {
    let server = NatsServer::start();
    let mut listener = Listener::start(&server.url(), &[OWN]);
    listener.signal("KILL");
    listener.wait_exit();
    assert_eq!(
        server.consumer_names("TICKET_CREATED").len(),
        1,
        "lingers at first"
    );
    listener.wait_until("the consumer to expire", |_| {
        server.consumer_names("TICKET_CREATED").is_empty()
    });
}

/// SIGTERM, like Ctrl-C, closes the connection cleanly and exits 0.
#[test]
fn sigterm_closes_cleanly() {
    let server = NatsServer::start();
    let mut listener = Listener::start(&server.url(), &[OWN]);
    listener.signal("TERM");
    assert!(listener.wait_exit().success());
    listener.wait_for_stdout("NATS connection closed!");
}

/// `--json` prints one JSON object per event on stdout, and nothing else there.
#[test]
fn json_prints_one_object_per_event() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    let output = listen(&url, &[OWN, "--deliver-all", "--count", "1", "--json"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{\"seq\":1,\"channel\":\"ticket:created\",\"delivery\":1,\"data\":{\"id\":\"123\",\"title\":\"concert\",\"price\":20}}\n"
    );
}

/// `--deliver-last`, `--start-seq` and `--since` pick where in the history a
/// new listener starts.
#[test]
fn start_flags_pick_where_the_history_starts() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "5"]);
    let from = |args: &[&str], count: &str| {
        let output = listen(&url, &[&[OWN, "--count", count][..], args].concat());
        assert!(output.status.success());
        received(&String::from_utf8_lossy(&output.stdout))
    };
    assert_eq!(from(&["--deliver-last"], "1"), [5]);
    assert_eq!(from(&["--start-seq", "3"], "3"), [3, 4, 5]);
    assert_eq!(from(&["--since", "1h"], "5"), [1, 2, 3, 4, 5]);
}

/// `--max-deliver N` ends the redelivery loop of `--skip-ack`: the server
/// delivers an event N times, then gives it up, and the listener says so.
#[test]
fn max_deliver_gives_an_unacked_event_up_and_says_so() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--skip-ack",
            "--ack-wait",
            "500ms",
            "--max-deliver",
            "2",
        ],
    );
    publish_ok(&url, &[]);
    listener.wait_for_stdout("Event #1 was given up after 2 deliveries");
    // A new event still flows; by the time it arrives, #1 was not delivered a third time.
    publish_ok(&url, &[]);
    listener.wait_for_stdout("Received event #2");
    assert_eq!(listener.received().iter().filter(|&&s| s == 1).count(), 2);
    assert!(listener.stdout().contains("(redelivered, delivery #2)"));
    assert!(!listener.stdout().contains("delivery #3"));
}

/// The state the server keeps for a consumer: (delivered, ack floor, acks
/// pending), as stream sequences.
fn consumer_state(server: &NatsServer, name: &str) -> (u64, u64, usize) {
    let name = name.to_owned();
    server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.unwrap();
        let info = stream.consumer_info(&name).await.unwrap();
        (
            info.delivered.stream_sequence,
            info.ack_floor.stream_sequence,
            info.num_ack_pending,
        )
    })
}

/// When `listen` exits, the server has applied every ack it sent, also
/// after a replay long enough that most acks went out without a
/// confirmation each.
#[test]
fn every_ack_is_applied_when_listen_exits() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3000"]);
    let listener = Listener::start(&url, &["--durable", "audit", "--deliver-all", OWN]);
    listener.wait_for_events(3000);
    // Stopped by a signal in the middle of its work, not by --count.
    listener.stop();
    assert_eq!(consumer_state(&server, "audit"), (3000, 3000, 0));
}

/// `--count N` takes exactly N events from a shared queue group, even when
/// more are waiting: the rest stay with the group, none held unacked.
#[test]
fn count_takes_no_more_than_n_events_from_the_group() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2000"]);
    let output = listen(
        &url,
        &["--durable", "billing", "--deliver-all", "--count", "700"],
    );
    assert!(output.status.success());
    assert_eq!(
        received(&String::from_utf8_lossy(&output.stdout)),
        (1..=700).collect::<Vec<u64>>()
    );
    assert_eq!(consumer_state(&server, "billing"), (700, 700, 0));
}

/// `listen ... | head -3`: the reader goes away after 3 lines. The listener
/// exits 0 with nothing on stderr, as ripgrep does, whether the pipe closes
/// while it replays the history or while it waits for new events.
#[test]
fn a_closed_output_pipe_ends_listen_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "20000"]);
    // During the replay of 20000 events; then while waiting after the last two.
    for start in [["--deliver-all"], ["--deliver-last"]] {
        let mut child = common::command(env!("CARGO_BIN_EXE_listen"), &url, &[OWN])
            .args(start)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start listen");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = if start == ["--deliver-all"] { 3 } else { 2 };
        for _ in 0..wanted {
            lines.next().expect("a line").expect("utf-8");
        }
        drop(lines); // what `head` does once it has its lines
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < common::DEADLINE,
                "listen {start:?} did not exit"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{start:?}: {stderr}");
        assert_eq!(stderr, "", "{start:?}: nothing on stderr");
    }
}
