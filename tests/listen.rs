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

/// A slow service that is alive keeps its events (lesson 8): a `--delay`
/// member tells the server its events are in progress (`+WPI`) within each
/// ack wait, so the other member of its group gets none of them past
/// several ack waits; killed with kill -9, its events go to the other
/// member one ack wait later, each a redelivery.
#[test]
fn a_slow_member_keeps_its_events_until_it_is_killed() {
    let server = NatsServer::start();
    let url = server.url();
    let group = ["--queue-group", "slow-group", "--ack-wait", "1s"];
    let mut slow = Listener::start(&url, &[&group[..], &["--delay", "1h"]].concat());
    slow.wait_for_stderr("in progress (+WPI)");
    publish_ok(&url, &["--count", "3"]);
    assert_eq!(slow.wait_for_events(1), [1]);
    common::wait_until("the group to hold 3 events", common::DEADLINE, || {
        consumer_state(&server, "slow-group").2 == 3
    });
    let other = Listener::start(&url, &group);
    // Four ack waits in which the server must send nothing again: the one
    // window this test watches, since it checks that something does not
    // happen.
    let window = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < window {
        let redelivered = redelivered(&server, "slow-group");
        assert_eq!(
            redelivered, 0,
            "the server sent a held event again while its member lived"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        other.received(),
        [] as [u64; 0],
        "nothing for the other member yet"
    );
    slow.kill();
    assert_eq!(other.wait_for_events(3), [1, 2, 3]);
    assert_eq!(
        other.stdout().matches("(redelivered, delivery #2)").count(),
        3,
        "{}",
        other.stdout()
    );
}

/// How many events the consumer `name` has sent more than once.
fn redelivered(server: &NatsServer, name: &str) -> usize {
    let name = name.to_owned();
    server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.unwrap();
        stream.consumer_info(&name).await.unwrap().num_redelivered
    })
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
        .and_then(|rest| rest.split_once(" (pid "))
        .map(|(id, _)| id)
        .expect("the client id on the first line");
    assert_eq!(server.consumer_names("TICKET_CREATED"), [id]);
    listener.stop();
    let a = Listener::start(&server.url(), &[OWN, "--client-id", "alice"]);
    let b = Listener::start(&server.url(), &[OWN, "--client-id", "alice"]);
    a.wait_for_stdout(&format!(
        "Listener connected to NATS as alice (pid {})\n",
        a.pid()
    ));
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

/// A listener of its own is pushed its events, so nothing answers it when
/// its consumer is deleted: its heartbeats stop, and after two of them it
/// asks the server, stops and says why.
#[test]
fn own_listener_whose_consumer_is_deleted_stops_and_says_why() {
    let server = NatsServer::start();
    let mut listener = Listener::start(&server.url(), &[OWN]);
    let name = server.consumer_names("TICKET_CREATED").remove(0);
    server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        stream
            .delete_consumer(&name)
            .await
            .expect("delete consumer");
    });
    listener.wait_for_stderr("the server deleted this listener's subscription");
    assert_eq!(listener.wait_exit().code(), Some(1));
}

/// A listener of its own is pushed its events with flow control: once a few
/// MiB are on their way the server waits until the listener answers. A
/// replay of 8 MiB, more than the server sends unanswered, comes through whole.
#[test]
fn own_listener_answers_flow_control_through_a_long_replay() {
    let server = NatsServer::start();
    let url = server.url();
    let data = format!("{{\"text\":\"{}\"}}", "x".repeat(2000));
    publish_ok(&url, &["--count", "4000", "--data", &data]);
    let output = listen(&url, &["--deliver-all", OWN, "--count", "4000"]);
    let events = received(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(events, (1..=4000).collect::<Vec<u64>>());
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

/// `--json` prints one JSON object per event on stdout, and nothing else
/// there: its number, channel, delivery, whether it is a redelivery, when
/// it was published, how many events wait behind it, and its data; no
/// headers, since the `Nats-Msg-Id` that publish sets is JetStream's own.
#[test]
fn json_prints_one_object_per_event() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    let output = listen(&url, &[OWN, "--deliver-all", "--count", "2", "--json"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let first = &lines[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["channel"], "ticket:created");
    assert_eq!(first["delivery"], 1);
    assert_eq!(first["redelivered"], false);
    assert_eq!(first["pending"], 1, "event #2 waits behind it");
    assert_eq!(lines[1]["pending"], 0);
    assert_eq!(
        first["data"],
        serde_json::json!({"id":"123","title":"concert","price":20})
    );
    // publish gives every event a Nats-Msg-Id, against duplicates: not shown.
    assert!(first.get("headers").is_none(), "{first}");
    let published = first["published"].as_str().unwrap();
    assert_publish_time(published);
    // In this order, and nothing else.
    assert!(
        stdout.starts_with(
            "{\"seq\":1,\"channel\":\"ticket:created\",\"delivery\":1,\"redelivered\":false,\"published\":\""
        ),
        "{stdout}"
    );
    assert_eq!(first.as_object().unwrap().len(), 7, "{first}");
}

/// Checks that `text` is a publish time as listen prints it: RFC 3339 in
/// UTC with milliseconds, within the last minute.
fn assert_publish_time(text: &str) {
    use time::format_description::well_known::Rfc3339;
    assert_eq!(text.len(), "2024-05-01T12:00:00.123Z".len(), "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    let at = time::OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
    let age = time::OffsetDateTime::now_utc() - at;
    assert!(
        age > time::Duration::seconds(-5) && age < time::Duration::minutes(1),
        "{text} is not now"
    );
}

/// In `--json`, headers are an object of NAME -> value, NAME -> [values]
/// for a name given more than once, and left out for an event without any.
#[test]
fn json_shows_headers_and_leaves_them_out_when_there_are_none() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]); // creates the channel's stream
    server.with_js(|js| async move {
        let mut headers = async_nats::HeaderMap::new();
        headers.append("X-Tag", "a");
        headers.append("X-Tag", "b");
        headers.insert("X-Trace", "t-1");
        js.publish_with_headers("ticket:created", headers, "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
        js.publish("ticket:created", "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    let output = listen(&url, &[OWN, "--start-seq", "2", "--count", "2", "--json"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines[0]["headers"],
        serde_json::json!({"X-Tag": ["a", "b"], "X-Trace": "t-1"})
    );
    assert!(lines[1].get("headers").is_none(), "{stdout}");
}

/// `-t` starts each event's line with the time the event was published.
#[test]
fn timestamp_starts_each_line_with_the_publish_time() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    let output = listen(&url, &[OWN, "--deliver-all", "--count", "1", "-t"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.contains("Received event #1"))
        .expect("the event's line");
    let (time, rest) = line.split_once(' ').unwrap();
    assert_publish_time(time);
    assert!(rest.starts_with("Received event #1, with data: "), "{line}");
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
    // Days and mixed units, as natscli takes them.
    assert_eq!(from(&["--since", "1d3h"], "5"), [1, 2, 3, 4, 5]);
}

/// `--start-time` starts with the first event stored at or after that time
/// (setStartTime()).
#[test]
fn start_time_starts_with_the_first_event_stored_from_then() {
    use time::format_description::well_known::Rfc3339;
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    // After #2 was stored and before #3 was: nanoseconds tell them apart.
    let between = time::OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    publish_ok(&url, &["--count", "2"]);
    let output = listen(&url, &[OWN, "--start-time", &between, "--count", "2"]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(received(&String::from_utf8_lossy(&output.stdout)), [3, 4]);
    // The same instant in another offset is the same start.
    let in_paris = time::OffsetDateTime::parse(&between, &Rfc3339)
        .unwrap()
        .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
        .format(&Rfc3339)
        .unwrap();
    let output = listen(&url, &[OWN, "--start-time", &in_paris, "--count", "2"]);
    assert_eq!(received(&String::from_utf8_lossy(&output.stdout)), [3, 4]);
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

/// `--max-in-flight 1` (setMaxInFlight(1)): with event #1 not acked, the
/// server sends nothing else; #1 comes back after the ack wait, #2 waits.
#[test]
fn max_in_flight_holds_the_next_event_back_until_one_is_acked() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--skip-ack",
            "--max-in-flight",
            "1",
            "--ack-wait",
            "1s",
        ],
    );
    publish_ok(&url, &["--count", "3"]);
    listener.wait_for_stdout("(redelivered, delivery #2)");
    assert_eq!(
        listener.received()[..2],
        [1, 1],
        "#1, then #1 again, not #2"
    );
    assert!(!listener.received().contains(&2), "{}", listener.stdout());
}

/// `--nak DELAY`: the server sends the event again after DELAY, long before
/// the ack wait, and the line shows the delivery count.
#[test]
fn nak_with_a_delay_gets_the_event_again_before_the_ack_wait() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(
        &url,
        &[
            OWN,
            "--nak",
            "200ms",
            "--ack-wait",
            "1h",
            "--max-deliver",
            "2",
        ],
    );
    publish_ok(&url, &[]);
    listener.wait_for_stdout(
        "(redelivered, delivery #2; nak'd: the server sends it again after 200ms)",
    );
    assert!(
        listener
            .stdout()
            .contains("Received event #1, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20} (nak'd: the server sends it again after 200ms)\n"),
        "{}",
        listener.stdout()
    );
    listener.wait_for_stdout("Event #1 was given up after 2 deliveries");
}

/// `--nak` without a delay: the server sends the event again at once, until
/// --max-deliver gives it up.
#[test]
fn nak_without_a_delay_gets_the_event_again_at_once() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(
        &url,
        &[OWN, "--nak", "--ack-wait", "1h", "--max-deliver", "3"],
    );
    publish_ok(&url, &[]);
    listener.wait_for_stdout("Event #1 was given up after 3 deliveries");
    assert_eq!(listener.received(), [1, 1, 1]);
    assert!(
        listener
            .stdout()
            .contains("(redelivered, delivery #3; nak'd: the server sends it again at once)")
    );
}

/// `--term`: the line says the event is terminated, and the server holds
/// nothing for redelivery: it will never send it again.
#[test]
fn term_ends_an_event_for_good_and_says_so() {
    let server = NatsServer::start();
    let url = server.url();
    let listener = Listener::start(&url, &[OWN, "--term", "--ack-wait", "1s"]);
    publish_ok(&url, &[]);
    listener.wait_for_stdout(
        "Received event #1, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20} \
         (terminated: the server never sends it again)\n",
    );
    let name = server.consumer_names("TICKET_CREATED").remove(0);
    listener.wait_until("the server to hold nothing unacked", |_| {
        consumer_state(&server, &name) == (1, 1, 0)
    });
    // A later event still comes; #1 was not sent again.
    publish_ok(&url, &[]);
    assert_eq!(listener.wait_for_events(2), [1, 2]);
}

/// `--until-caught-up`: the listener prints the events stored when it
/// started, acks them, and exits 0.
#[test]
fn until_caught_up_exits_once_the_stored_events_are_handled() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "600"]);
    let output = listen(
        &url,
        &[
            "--deliver-all",
            OWN,
            "--until-caught-up",
            "--durable",
            "catch-up",
        ],
    );
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert_eq!(
        received(&String::from_utf8_lossy(&output.stdout)),
        (1..=600).collect::<Vec<u64>>()
    );
    assert_eq!(
        consumer_state(&server, "catch-up"),
        (600, 600, 0),
        "all acked"
    );
}

/// `--until-caught-up` in a queue group: both members exit 0 once the
/// group has acked every stored event, though only one of them got the last.
#[test]
fn until_caught_up_ends_every_member_of_a_queue_group() {
    let server = NatsServer::start();
    let url = server.url();
    // At most 10 unacked events in the group, each handled in 5 ms: neither
    // member can take them all before the other joins.
    let group = ["--queue-group", "catch-up", "--max-in-flight", "10"];
    let args = [&group[..], &["--until-caught-up", "--delay", "5ms"]].concat();
    // The group is formed before the events, so that it starts with them.
    let forming = Listener::start(&url, &group);
    forming.stop();
    publish_ok(&url, &["--count", "400"]);
    let a = Listener::start(&url, &args);
    let b = Listener::start(&url, &args);
    let (a, b) = (
        a.finish_within(common::DEADLINE),
        b.finish_within(common::DEADLINE),
    );
    for (member, output) in [("a", &a), ("b", &b)] {
        assert!(
            output.status.success(),
            "member {member}: {}",
            common::text(&output.stderr)
        );
    }
    let (from_a, from_b) = (
        received(&String::from_utf8_lossy(&a.stdout)),
        received(&String::from_utf8_lossy(&b.stdout)),
    );
    assert!(
        !from_a.is_empty() && !from_b.is_empty(),
        "both members got a share"
    );
    let mut all = [from_a, from_b].concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (1..=400).collect::<Vec<u64>>());
}

/// `--until-caught-up` on a channel without events exits 0 at once.
#[test]
fn until_caught_up_exits_at_once_when_nothing_waits() {
    let server = NatsServer::start();
    let output = listen(&server.url(), &["--deliver-all", OWN, "--until-caught-up"]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    assert!(received(&String::from_utf8_lossy(&output.stdout)).is_empty());
}

/// `--color always` colours a redelivered event yellow and a terminated one
/// magenta, even into a pipe.
#[test]
fn color_always_colours_redelivered_and_terminated_events() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "2"]);
    let redelivered = listen(
        &url,
        &[
            OWN,
            "--deliver-all",
            "--skip-ack",
            "--ack-wait",
            "500ms",
            "--max-in-flight",
            "1",
            "--count",
            "2",
            "--color",
            "always",
        ],
    );
    let stdout = String::from_utf8_lossy(&redelivered.stdout);
    assert!(
        stdout.contains("\u{1b}[33mReceived event #1, with data: {\"id\":\"123\",\"title\":\"concert\",\"price\":20} (redelivered, delivery #2)\u{1b}[0m\n"),
        "{stdout:?}"
    );
    assert!(
        stdout.contains("\nReceived event #1, with data: "),
        "the first delivery is plain: {stdout:?}"
    );
    let terminated = listen(
        &url,
        &[
            OWN,
            "--deliver-all",
            "--term",
            "--count",
            "1",
            "--color",
            "always",
        ],
    );
    let stdout = String::from_utf8_lossy(&terminated.stdout);
    assert!(stdout.contains("\u{1b}[35mReceived event #1"), "{stdout:?}");
}

/// No colour with NO_COLOR set, with `--color never`, and never in `--json`
/// output, whatever `--color` says.
#[test]
fn no_color_color_never_and_json_print_no_escape_codes() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    let term = [OWN, "--deliver-all", "--term", "--count", "1"];
    let no_color = common::run(
        common::command(env!("CARGO_BIN_EXE_listen"), &url, &term).env("NO_COLOR", "1"),
    );
    let never = listen(&url, &[&term[..], &["--color", "never"]].concat());
    let json = listen(
        &url,
        &[&term[..], &["--color", "always", "--json"]].concat(),
    );
    for output in [no_color, never, json] {
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("\"seq\":1") || stdout.contains("Received event #1"),
            "{stdout}"
        );
        assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    }
}

/// With `--color always`, `Error:` is red.
#[test]
fn color_always_makes_error_red() {
    let output = listen(
        &common::dead_url(),
        &["--color", "always", "--connect-timeout", "1s"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = common::text(&output.stderr);
    assert!(
        stderr.starts_with("\u{1b}[1m\u{1b}[31mError:\u{1b}[0m could not connect"),
        "{stderr:?}"
    );
}

/// `--report-acks` has the server report each ack of the subscription (what
/// `status --live` reads); without it, the server reports none.
#[test]
fn report_acks_has_the_server_report_every_ack() {
    use futures_util::StreamExt as _;
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let reports_of = |extra: &[&str]| -> usize {
        common::block_on(async {
            let client = async_nats::connect(&url).await.expect("connect");
            let mut reports = client
                .subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.>")
                .await
                .expect("subscribe");
            client.flush().await.expect("flush");
            let args: Vec<String> = ["--deliver-all", OWN, "--count", "3"]
                .iter()
                .chain(extra)
                .map(|arg| arg.to_string())
                .collect();
            let output = tokio::task::spawn_blocking({
                let url = url.clone();
                move || listen(&url, &args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .expect("listen ran");
            assert!(output.status.success());
            // The reports of acks confirmed before listen exited: wait for
            // three, or until none has come for a second.
            let mut count = 0;
            while let Ok(Some(_)) =
                tokio::time::timeout(std::time::Duration::from_secs(1), reports.next()).await
            {
                count += 1;
                if count == 3 {
                    break;
                }
            }
            count
        })
    };
    assert_eq!(reports_of(&["--report-acks"]), 3);
    assert_eq!(reports_of(&[]), 0);
}

/// `--report-acks` applies when a group is first formed: joining a group
/// formed without it says so, and how to turn the reports on.
#[test]
fn report_acks_on_a_group_formed_without_says_it_does_not_apply() {
    let server = NatsServer::start();
    let url = server.url();
    let founder = Listener::start(&url, &[]);
    let joiner = Listener::start(&url, &["--report-acks"]);
    joiner.wait_until("the note on --report-acks", |joiner| {
        joiner
            .stderr()
            .contains("already exists without ack reports")
    });
    assert!(joiner.stderr().contains("--reset"), "{}", joiner.stderr());
    assert!(
        !founder.stderr().contains("ack reports"),
        "{}",
        founder.stderr()
    );
    let formed_with = Listener::start(&url, &["--queue-group", "reporting", "--report-acks"]);
    let second = Listener::start(&url, &["--queue-group", "reporting", "--report-acks"]);
    publish_ok(&url, &[]);
    formed_with.wait_until("the event", |first| {
        first.received().len() + second.received().len() == 1
    });
    assert!(
        !second.stderr().contains("ack reports"),
        "{}",
        second.stderr()
    );
}
