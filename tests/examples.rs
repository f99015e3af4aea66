//! The examples in `examples/`, run against a real `nats-server`.
//!
//! Each test builds its example with `cargo build --example NAME` (the first
//! build may compile the crate, so it has a long deadline of its own), then
//! runs the built program with the test server's URL in `NATS_URL` and a
//! short deadline, and checks what it prints.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::{DEADLINE, NatsServer, Running, text};

/// How long building one example may take: the first build compiles the crate,
/// maybe while other builds hold the machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(900);

/// Fails the test unless `what` exited with success.
fn assert_success(finished: &Output, what: &str) {
    assert!(
        finished.status.success(),
        "{what} exited with {}\nstdout:\n{}\nstderr:\n{}",
        finished.status,
        text(&finished.stdout),
        text(&finished.stderr)
    );
}

/// Builds the example and returns the path of its program, as cargo reports it.
fn build_example(name: &str) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--example", name, "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Cargo gives this test the package's CARGO_PKG_NAME, CARGO_MANIFEST_DIR
    // and the like. Build scripts (ring's) rerun when those change, so passed
    // on they would make this build and the next plain `cargo` command each
    // rebuild half the dependencies.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if is_set_by_cargo_for_tests(&key) {
            cargo.env_remove(&*key);
        }
    }
    let what = format!("cargo build --example {name}");
    let built = Running::spawn(&what, &mut cargo).finish_within(BUILD_DEADLINE);
    assert_success(&built, &what);
    text(&built.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == name
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo did not report the program of example {name}"))
}

/// Whether cargo sets `key` for the test process, rather than the user for cargo.
fn is_set_by_cargo_for_tests(key: &str) -> bool {
    [
        "CARGO_PKG_",
        "CARGO_BIN_",
        "CARGO_CFG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

/// The built example, ready to start with `NATS_URL` set to `server`'s URL.
fn example(name: &str, server: Option<&NatsServer>, args: &[&str]) -> Command {
    let mut command = Command::new(build_example(name));
    command.args(args).env_remove("NATS_URL");
    if let Some(server) = server {
        command.env("NATS_URL", server.url());
    }
    command
}

/// What an example printed: stdout and stderr.
struct Printed {
    stdout: String,
    stderr: String,
}

/// Runs the example to completion, failing the test unless it succeeds.
fn run_example(name: &str, server: Option<&NatsServer>, args: &[&str]) -> Printed {
    let finished = Running::spawn(name, &mut example(name, server, args)).finish_within(DEADLINE);
    assert_success(&finished, name);
    Printed {
        stdout: text(&finished.stdout),
        stderr: text(&finished.stderr),
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// The publisher example stores one course-shaped `ticket:created` event
/// and says where it went.
#[test]
fn publisher_example_stores_one_course_shaped_ticket_created_event() {
    let server = NatsServer::start();
    let finished = run_example("ticket_created_publisher", Some(&server), &[]);
    assert_eq!(
        finished.stdout,
        "Publisher connected to NATS\nEvent published to subject ticket:created as event #1\n"
    );
    assert_eq!(
        server.event_data("TICKET_CREATED", 1),
        r#"{"id":"123","version":0,"title":"concert","price":20,"userId":"456"}"#
    );
}

/// The listener example, given a count, prints each event the course's way,
/// exits by itself, and replays the whole history again on a rerun.
#[test]
fn listener_example_prints_each_event_and_exits_after_the_count_on_every_run() {
    let server = NatsServer::start();
    for _ in 0..2 {
        run_example("ticket_created_publisher", Some(&server), &[]);
    }
    for run in 1..=2 {
        let finished = run_example("ticket_created_listener", Some(&server), &["2"]);
        let out = &finished.stdout;
        assert!(
            out.starts_with("Listener connected to NATS\n"),
            "run {run}: {out}"
        );
        assert_eq!(
            count(out, "Message received: ticket:created / payments-service\n"),
            2,
            "run {run}: {out}"
        );
        for sequence in [1, 2] {
            assert!(
                out.contains(&format!(
                    "Event data! #{sequence} TicketCreatedData {{ id: \"123\", version: 0, title: \"concert\", price: 20.0, user_id: \"456\" }}\n"
                )),
                "run {run}: {out}"
            );
        }
        assert!(
            out.ends_with("NATS connection closed!\n"),
            "run {run}: {out}"
        );
    }
}

/// The listener example on a channel that also holds events of another
/// shape (the test project's seed events, as `make publish` leaves them):
/// it reports each of those once, does not count them, and handles the
/// course-shaped ones.
#[test]
fn listener_example_reports_each_event_that_does_not_fit_once_and_goes_on() {
    let server = NatsServer::start();
    server.with_js(|js| async move {
        let channel = nats_course_toolkit::events::Subject::TicketCreated.channel();
        channel
            .find_or_create_stream(
                &js,
                1,
                &mut nats_course_toolkit::channel::ClusterWait::new(Default::default()),
            )
            .await
            .expect("stream");
        for _ in 0..5 {
            js.publish("ticket:created", common::SEED.into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    });
    run_example("ticket_created_publisher", Some(&server), &[]);
    run_example("ticket_created_publisher", Some(&server), &[]);
    let finished = run_example("ticket_created_listener", Some(&server), &["2"]);
    let reports = finished.stderr.matches("Could not read event #").count();
    assert_eq!(reports, 5, "each seed event once: {}", finished.stderr);
    assert!(
        finished.stderr.contains(
            "Could not read event #1 on ticket:created as TicketCreatedData: missing field `version`"
        ),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stdout.contains("Event data! #6 TicketCreatedData")
            && finished.stdout.contains("Event data! #7 TicketCreatedData"),
        "{}",
        finished.stdout
    );
}

/// Without a count, the listener example runs until Ctrl-C, then closes the
/// connection cleanly and exits with success.
#[test]
fn listener_example_closes_cleanly_on_ctrl_c() {
    let server = NatsServer::start();
    run_example("ticket_created_publisher", Some(&server), &[]);
    let listener = Running::spawn(
        "ticket_created_listener",
        &mut example("ticket_created_listener", Some(&server), &[]),
    );
    listener.wait_for_stdout("Event data! #1");
    listener.signal("INT");
    let finished = listener.finish_within(DEADLINE);
    assert_success(&finished, "ticket_created_listener after Ctrl-C");
    let stdout = text(&finished.stdout);
    assert!(stdout.ends_with("NATS connection closed!\n"), "{stdout}");
}

/// The typed-events example, which needs no server, shows the six subjects,
/// the JSON a Node service reads, and the JSON it reads from one.
#[test]
fn typed_events_example_shows_subjects_and_node_compatible_json() {
    let finished = run_example("typed_events", None, &[]);
    let out = &finished.stdout;
    for (subject, stream) in [
        ("ticket:created", "TICKET_CREATED"),
        ("ticket:updated", "TICKET_UPDATED"),
        ("order:created", "ORDER_CREATED"),
        ("order:cancelled", "ORDER_CANCELLED"),
        ("expiration:complete", "EXPIRATION_COMPLETE"),
        ("payment:created", "PAYMENT_CREATED"),
    ] {
        assert!(
            out.contains(&format!(
                "Subject {subject} is kept in the stream {stream}\n"
            )),
            "{out}"
        );
    }
    assert!(
        out.contains(
            r#"ticket:updated data as JSON: {"id":"123","version":1,"title":"concert","price":25,"userId":"456"}"#
        ),
        "{out}"
    );
    assert!(out.contains(r#"order_id: Some("789")"#), "{out}");
    assert!(
        out.contains("Without a version: missing field `version`"),
        "{out}"
    );
}

/// The concurrency example publishes versions 2, 0, 3, 1 of a ticket, and its
/// listener processes them as 0, 1, 2, 3, leaving early ones unacked until
/// the server delivers them again; a rerun does the same.
#[test]
fn concurrency_example_processes_out_of_order_versions_in_order_on_every_run() {
    let server = NatsServer::start();
    for run in 1..=2 {
        let finished = run_example("concurrency_versions", Some(&server), &[]);
        let out = &finished.stdout;
        assert!(
            out.ends_with("Processed versions in order: 0, 1, 2, 3\n"),
            "run {run}: {out}"
        );
        assert!(
            out.contains("Version 2 came too early, waiting for version 0: not acked"),
            "run {run}: {out}"
        );
        let processed: Vec<&str> = out
            .lines()
            .filter(|line| line.starts_with("Processed version "))
            .collect();
        assert_eq!(processed.len(), 4, "run {run}: {out}");
        assert!(
            processed[2].starts_with("Processed version 2 (")
                && !processed[2].contains("delivery #1)"),
            "version 2 is processed on a redelivery: {out}"
        );
    }
}
