//! The lesson demos in `scripts/demo/`, each run against a real nats-server.
//!
//! Every demo checks its own lesson and exits 1 if the lesson didn't show, so
//! each test here runs one demo, expects exit status 0, and reads the key lines
//! of its output. Each test starts its own server (a random client port, with
//! monitoring on a random port) and gives the script `NATS_URL`,
//! `NATS_MONITOR_URL` and the binaries cargo built. So the demos never touch
//! the local server on port 4222, and `scripts/nats-server.sh ensure` leaves
//! them alone.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{NatsServer, Running, SEED, script, text};

/// How long a demo may run. The slowest waits about 6 s for a subscription
/// to expire; the rest is headroom for a busy machine.
const DEMO_DEADLINE: Duration = Duration::from_secs(120);

/// What a finished script printed (stdout and stderr, interleaved) and how it exited.
struct Run {
    finished: Output,
    output: String,
    /// The lesson's picture (`save_picture`), once read.
    picture: Option<String>,
}

impl Run {
    /// Fails the test unless the script exited 0.
    fn assert_success(&self) {
        assert!(
            self.finished.status.success(),
            "exited with {}:\n{}",
            self.finished.status,
            self.output
        );
    }

    fn code(&self) -> Option<i32> {
        self.finished.status.code()
    }

    fn assert_contains(&self, text: &str) {
        assert!(
            self.output.contains(text),
            "output should contain {text:?}:\n{}",
            self.output
        );
    }

    /// The event numbers the demo's listener `name` printed, in order.
    fn events_of(&self, name: &str) -> Vec<u64> {
        let prefix = format!("[{name}] Received event #");
        self.output
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix(&prefix))
            .filter_map(|rest| rest.split(',').next()?.parse().ok())
            .collect()
    }

    /// The classes of the cells of the picture's lane whose name is `name`.
    fn picture_lane(&self, name: &str) -> Vec<String> {
        let svg = self.picture.as_deref().expect("a picture");
        let document = resvg::usvg::roxmltree::Document::parse(svg).expect("the picture is XML");
        let lane = document
            .descendants()
            .filter(|n| n.attribute("class") == Some("lane"))
            .find(|lane| {
                lane.descendants()
                    .find(|n| n.has_tag_name("tspan"))
                    .and_then(|n| n.text())
                    == Some(name)
            })
            .unwrap_or_else(|| panic!("no lane {name} in the picture:\n{svg}"));
        lane.children()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("class").map(str::to_owned))
            .collect()
    }
}

/// Runs `scripts/<name>` with `env`, in a process group of its own so that
/// it and every listener it started can be killed on timeout, and checks
/// that it left no process running.
fn run_script(name: &str, env: &[(&str, &str)]) -> Run {
    let mut command = script(name);
    command.envs(env.iter().copied());
    let finished = Running::script(name, &mut command).finish_within(DEMO_DEADLINE);
    let output = text(&finished.stdout);
    Run {
        finished,
        output,
        picture: None,
    }
}

/// Runs `scripts/demo/<name>.sh` against a fresh server, its picture going
/// to a folder of the test's own: the demo says where it wrote it, and it
/// is an SVG.
fn run_demo(name: &str) -> Run {
    let server = NatsServer::start_with_monitoring();
    let pictures = tempfile::tempdir().expect("temp dir");
    let dir = pictures.path().to_str().expect("utf-8");
    let mut run = run_script(
        &format!("demo/{name}.sh"),
        &[
            ("NATS_URL", &server.url()),
            ("NATS_MONITOR_URL", &server.monitor_url()),
            ("DEMO_PICTURES_DIR", dir),
        ],
    );
    run.assert_success();
    run.assert_contains("==> Lesson shown: ");
    let file = pictures.path().join(format!("{name}.svg"));
    run.assert_contains(&format!("    Picture of this moment: {}", file.display()));
    let svg = std::fs::read_to_string(&file)
        .unwrap_or_else(|err| panic!("{}: {err}\n{}", file.display(), run.output));
    assert!(
        svg.starts_with("<?xml") && svg.contains(&format!("lesson.{name}")),
        "{svg}"
    );
    run.picture = Some(svg);
    run
}

/// Lesson 1: the listener prints the course's event and an event with data of
/// our own, with the numbers the publisher was given, then closes on Ctrl-C.
#[test]
fn publish_listen_demo_shows_the_published_events_arrive() {
    let run = run_demo("publish-listen");
    run.assert_contains("Event published to lesson.publish-listen as event #1");
    run.assert_contains(&format!("[listener] Received event #1, with data: {SEED}"));
    run.assert_contains(
        r#"[listener] Received event #2, with data: {"id":"456","title":"opera","price":55}"#,
    );
    assert_eq!(run.events_of("listener"), [1, 2]);
    run.assert_contains("[listener] NATS connection closed!");
}

/// Lesson 2: two members of a queue group each get a share of the 10 events,
/// every event exactly once; two listeners without a group both get all 5.
#[test]
fn queue_groups_demo_shares_events_in_a_group_and_not_without() {
    let run = run_demo("queue-groups");
    let (a, b) = (run.events_of("member-a"), run.events_of("member-b"));
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both got a share:\n{}",
        run.output
    );
    let mut shared = [a, b].concat();
    shared.sort();
    assert_eq!(shared, (1..=10).collect::<Vec<_>>(), "each event once");
    assert_eq!(run.events_of("alone-c"), [11, 12, 13, 14, 15]);
    assert_eq!(run.events_of("alone-d"), [11, 12, 13, 14, 15]);
}

/// Lesson 3: a listener that never acks gets the events again after each 2 s
/// ack wait, marked as redeliveries, and `status` counts 3 waiting for their
/// acks (the picture shows them redelivered); a listener that acks ends the
/// loop.
#[test]
fn manual_ack_demo_shows_the_unacked_event_redelivered_until_acked() {
    let run = run_demo("manual-ack");
    for delivery in [2, 3] {
        run.assert_contains(&format!(
            "[forgetful] Received event #1, with data: {SEED} (redelivered, delivery #{delivery})"
        ));
    }
    assert_eq!(&run.events_of("forgetful")[..3], [1, 2, 3]);
    run.assert_contains("the server holds 3 events unacked for 'manual-ack-lesson'");
    let mut acked = run.events_of("acking");
    acked.sort();
    assert_eq!(acked, [1, 2, 3]);
    run.assert_contains("the server holds nothing unacked for 'manual-ack-lesson'");
    // The picture, at the third delivery: the 3 events held, sent again
    // (all three, unless the counts were read as one of them was resent).
    let cells = run.picture_lane("manual-ack-lesson");
    assert_eq!(cells.len(), 3, "{cells:?}");
    assert!(
        cells.iter().all(|c| c == "redelivered" || c == "waiting")
            && cells.contains(&"redelivered".to_owned()),
        "{cells:?}"
    );
}

/// Lesson 4: a late listener gets only the new event, a late listener with
/// --deliver-all replays the history from #1.
#[test]
fn deliver_all_demo_replays_the_history_from_the_first_event() {
    let run = run_demo("deliver-all");
    assert_eq!(run.events_of("late"), [4]);
    assert_eq!(run.events_of("replay"), [1, 2, 3, 4]);
}

/// Lesson 5: a durable listener restarted after missing 3 events gets exactly
/// those 3.
#[test]
fn durable_demo_restarted_listener_gets_only_missed_events() {
    let run = run_demo("durable");
    assert_eq!(run.events_of("accounting"), [1, 2]);
    assert_eq!(run.events_of("accounting-again"), [3, 4, 5]);
}

/// Lesson 6: Ctrl-C removes the listener's subscription at once; after kill -9
/// the subscription is still listed, then expires.
#[test]
fn graceful_shutdown_demo_shows_ctrl_c_and_kill_9_differ() {
    let run = run_demo("graceful-shutdown");
    run.assert_contains("[polite] NATS connection closed!");
    run.assert_contains("is gone");
    run.assert_contains("outlives its listener");
    run.assert_contains("expired after about");
}

/// Lesson 8: a slow queue-group member that is alive keeps its 3 unacked
/// events (in-progress acks): the other member gets none of them over three
/// ack waits. Killed with kill -9, its 3 events go to the other member after
/// the ack wait, each marked as a redelivery.
#[test]
fn crash_redelivery_demo_gives_a_crashed_members_events_to_the_other() {
    let run = run_demo("crash-redelivery");
    assert_eq!(
        run.events_of("member-a"),
        [1],
        "A was still on its first event"
    );
    run.assert_contains("B has nothing and the server sent nothing again: A is alive");
    run.assert_contains("B got exactly the events A held (#1 #2 #3), each marked redelivered");
    assert_eq!(run.events_of("member-b"), [1, 2, 3]);
    for event in 1..=3 {
        run.assert_contains(&format!(
            "[member-b] Received event #{event}, with data: {SEED} (redelivered, delivery #2)"
        ));
    }
}

/// Lesson 9: four listeners answer one event in four ways: the ack'er and
/// the term'er see it once, the nak'er three times (--max-deliver 3) before
/// the skip-ack'er sees it again after its ack wait.
#[test]
fn nak_term_demo_shows_ack_skip_nak_and_term_side_by_side() {
    let run = run_demo("nak-term");
    assert_eq!(run.events_of("acker"), [1]);
    assert_eq!(run.events_of("termer"), [1]);
    assert_eq!(run.events_of("naker"), [1, 1, 1]);
    assert_eq!(run.events_of("skipper")[..2], [1, 1]);
    run.assert_contains(&format!(
        "[termer] Received event #1, with data: {SEED} (terminated: the server never sends it again)"
    ));
    run.assert_contains(&format!(
        "[naker] Received event #1, with data: {SEED} (redelivered, delivery #3; nak'd: the server sends it again after 300ms)"
    ));
    run.assert_contains("[naker] Event #1 was given up after 3 deliveries");
    run.assert_contains(&format!(
        "[skipper] Received event #1, with data: {SEED} (redelivered, delivery #2)"
    ));
}

/// Lesson 10: a poison event comes back after each backoff step, is given
/// up after its third delivery, and arrives once on the dead-letter
/// channel; the other two are handled once.
#[test]
fn poison_event_demo_shows_backoff_give_up_and_dead_letter() {
    let run = run_demo("poison-event");
    assert_eq!(run.events_of("service"), [1, 2, 3, 2, 2]);
    run.assert_contains(&format!(
        "[service] Received event #2, with data: {SEED} (redelivered, delivery #3, after 2s; failed: not acked; its last delivery (--max-deliver), so the server gives it up after 2s)"
    ));
    run.assert_contains(
        "[service] Event #2 was given up after 3 deliveries without an ack (--max-deliver); sent to the dead-letter channel lesson.poison-event.dead as event #1",
    );
    run.assert_contains(r#""Dead-Letter-Sequence":"2""#);
    run.assert_contains("1 event given up after 3 deliveries");
    // The picture marks it given up in the service's lane.
    let service = run
        .output
        .lines()
        .find_map(|l| l.strip_prefix("    [service] Listener connected to NATS as "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the service's client id")
        .to_owned();
    let cells = run.picture_lane(&service);
    assert_eq!(
        cells.iter().filter(|c| c.contains("given-up")).count(),
        1,
        "{cells:?}"
    );
}

/// Lesson 7: `status` lists the channel's stream and both subscriptions,
/// the durable one with its 2s ack wait and 3 unacked events; the
/// monitoring port's /healthz says ok.
#[test]
fn health_demo_shows_the_subscriptions_and_the_health_check() {
    let run = run_demo("health");
    run.assert_contains("Channel lesson.health (stream LESSON_HEALTH): 3 events, #1 to #3");
    let row = |name: &str| -> Vec<String> {
        let line = run
            .output
            .lines()
            .find(|line| line.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", run.output));
        // Drop the "|" that marks status's output in the demo.
        line.split_whitespace().skip(1).map(String::from).collect()
    };
    // SUBSCRIPTION QUEUE-GROUP DURABLE START ACK-WAIT MAX-DELIVER DELIVERED
    // ACK-FLOOR ACK-PENDING REDELIVERED PENDING WAITING
    let group = row("orders-microservice-queue-group");
    assert_eq!(
        [&group[1], &group[2], &group[4], &group[7]],
        ["orders-microservice-queue-group", "no", "30s", "#3"]
    );
    let durable = row("audit-service");
    assert_eq!([&durable[1], &durable[2], &durable[4]], ["-", "yes", "2s"]);
    assert_eq!(durable[8], "3", "ack pending");
    run.assert_contains(r#"| {"status":"ok"}"#);
}

/// A demo whose lesson can't be checked says why and exits 1: here the
/// monitoring port it asks for the server's health doesn't answer.
#[test]
fn demo_without_monitoring_port_fails_with_a_clear_message() {
    let server = NatsServer::start_with_monitoring();
    let pictures = tempfile::tempdir().expect("temp dir");
    let run = run_script(
        "demo/health.sh",
        &[
            ("NATS_URL", &server.url()),
            ("NATS_MONITOR_URL", "http://127.0.0.1:9"),
            (
                "DEMO_PICTURES_DIR",
                pictures.path().to_str().expect("utf-8"),
            ),
        ],
    );
    assert_eq!(run.code(), Some(1), "{}", run.output);
    run.assert_contains("FAILED (health): no answer from http://127.0.0.1:9/healthz");
}

/// Lesson 11: with no learner at the keys, tmux presses them: #1 acked, #2
/// nak'd and back at once then terminated, #3 kept in progress, skipped and
/// back after the ack wait, then acked; `status --json` has the durable's
/// ack floor at #3 with nothing waiting.
#[test]
fn interactive_demo_settles_each_event_by_key() {
    let run = run_demo("interactive");
    assert_eq!(run.events_of("interactive"), [1, 2, 2, 3, 3]);
    run.assert_contains("[interactive]   → nak'd: the server sends it again at once");
    run.assert_contains("[interactive]   → terminated: the server never sends it again, to anyone");
    run.assert_contains("[interactive]   → in progress: its ack wait (3s) starts over");
    run.assert_contains("[interactive]   → skipped, no answer");
    run.assert_contains(&format!(
        "[interactive] Received event #3, with data: {SEED} (redelivered, delivery #2)"
    ));
    run.assert_contains("ok: ack floor #3, nothing waiting");
}
