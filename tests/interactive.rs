//! `listen --interactive` for real: in a pseudo-terminal made by tmux (keys
//! typed with `send-keys`, the screen read with `capture-pane`), against a
//! real nats-server, with `status --json` as the witness of what the
//! server was told; and its usage error without a terminal.

mod common;

use std::time::Duration;

use common::tmux::{Tmux, quote};
use common::{NatsServer, publish_ok, run, status_json, text, wait_until};

/// The prompt's end, on screen while an event waits for a key.
const PROMPT_END: &str = "Ctrl-C stops >";

/// `listen ARGS --interactive` in tmux; after it exits, the shell says its
/// status and whether the terminal is back in its usual (canonical) mode.
fn interactive(url: &str, args: &str) -> Tmux {
    let listen = env!("CARGO_BIN_EXE_listen");
    Tmux::start(&format!(
        "env -u NATS_URL -u NATS_CLIENT_ID -u NATS_CONTEXT -u NO_COLOR {} -s {} {args} --interactive; \
         echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        quote(listen),
        quote(url)
    ))
}

/// Waits until the last line on screen is the prompt and the line with
/// `text` (an event's) is above it.
fn wait_for_prompt(tmux: &Tmux, text: &str) -> String {
    tmux.wait_for(&format!("the prompt under '{text}'"), |screen| {
        let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
        lines
            .last()
            .is_some_and(|l| l.trim_end().ends_with(PROMPT_END))
            && lines.len() >= 2
            && lines[..lines.len() - 1]
                .iter()
                .rev()
                .find(|l| l.starts_with("Received event"))
                .is_some_and(|l| l.contains(text))
    })
}

/// The subscription `name` in `status --json`.
fn subscription(url: &str, name: &str) -> serde_json::Value {
    let status = status_json(url, &["ticket:created"]);
    status["channels"][0]["subscriptions"]
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no subscription {name} in {status}"))
}

/// Each key does what its line says, and the server's count agrees: `a`
/// acks #1; `n` naks #2, which comes back at once, and `t` terminates it;
/// `N` 1s naks #3 for a second, meanwhile #4 comes (one at a time, nothing
/// held behind), `p` keeps it and asks again, `s` leaves it unanswered; #3
/// comes back after its second and #4 after the ack wait, both acked. The
/// durable's ack floor is then #4 with nothing pending. Ctrl-C at the
/// prompt of #5 gives it back and exits 0, the terminal out of raw mode.
#[test]
fn each_key_settles_its_event_and_ctrl_c_gives_it_back() {
    let server = NatsServer::start();
    let url = server.url();
    for n in 1..=4 {
        publish_ok(&url, &["--data", &format!(r#"{{"n":{n}}}"#)]);
    }
    let tmux = interactive(
        &url,
        "--durable acct --no-queue-group --deliver-all --ack-wait 2s",
    );

    wait_for_prompt(&tmux, "#1, with data: {\"n\":1}");
    tmux.send(&["a"]);
    tmux.wait_for("#1 acked", |s| {
        s.contains("→ acked: the server never sends it again")
    });

    wait_for_prompt(&tmux, "#2, with data: {\"n\":2}");
    tmux.send(&["n"]);
    tmux.wait_for("#2 nak'd", |s| {
        s.contains("→ nak'd: the server sends it again at once")
    });
    wait_for_prompt(&tmux, "#2, with data: {\"n\":2} (redelivered, delivery #2)");
    tmux.send(&["t"]);
    tmux.wait_for("#2 terminated", |s| s.contains("→ terminated"));

    wait_for_prompt(&tmux, "#3, with data: {\"n\":3}");
    tmux.send(&["N"]);
    tmux.wait_for("the delay asked for", |s| {
        s.contains("nak, sent again after")
    });
    tmux.send(&["1", "s", "Enter"]);
    tmux.wait_for("#3 nak'd for 1s", |s| {
        s.contains("→ nak'd: the server sends it again after 1s")
    });

    wait_for_prompt(&tmux, "#4, with data: {\"n\":4}");
    tmux.send(&["p"]);
    let screen = tmux.wait_for("#4 in progress", |s| s.contains("→ in progress"));
    assert!(screen.contains("its ack wait (2s) starts over"), "{screen}");
    wait_for_prompt(&tmux, "#4, with data: {\"n\":4}");
    tmux.send(&["s"]);
    tmux.wait_for("#4 skipped", |s| s.contains("→ skipped, no answer"));

    wait_for_prompt(&tmux, "#3, with data: {\"n\":3} (redelivered, delivery #2)");
    tmux.send(&["a"]);
    wait_for_prompt(&tmux, "#4, with data: {\"n\":4} (redelivered, delivery #2)");
    tmux.send(&["a"]);
    wait_until("the durable's floor at #4", common::DEADLINE, || {
        let acct = subscription(&url, "acct");
        acct["ack_floor"] == 4 && acct["ack_pending"] == 0 && acct["pending"] == 0
    });

    // Ctrl-C at a prompt: the event goes back at once, the listener closes.
    publish_ok(&url, &["--data", r#"{"n":5}"#]);
    wait_for_prompt(&tmux, "#5, with data: {\"n\":5}");
    tmux.send(&["C-c"]);
    let screen = tmux.wait_for("the listener to exit", |s| s.contains("EXIT="));
    assert!(
        screen.contains("→ stopping: the event is given back (nak'd)"),
        "{screen}"
    );
    assert!(screen.contains("NATS connection closed!"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
    let modes = tmux.wait_for("stty's answer", |s| s.contains("icanon"));
    assert!(
        modes.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in canonical mode: {modes}"
    );
    // Given back: a next listener gets #5 at once, a second delivery.
    let acct = subscription(&url, "acct");
    assert_eq!(acct["ack_floor"], 4, "{acct}");
    let next = run(&mut common::command(
        env!("CARGO_BIN_EXE_listen"),
        &url,
        &[
            "--durable",
            "acct",
            "--no-queue-group",
            "--ack-wait",
            "2s",
            "--count",
            "1",
        ],
    ));
    let out = text(&next.stdout);
    assert!(
        out.contains("Received event #5, with data: {\"n\":5} (redelivered, delivery #2)"),
        "{out}{}",
        text(&next.stderr)
    );
}

/// `p` keeps an event past its ack wait: pressed every 0.4 s for 1.6 s
/// with an ack wait of 1 s, the server sends nothing again; an event left
/// without a key is sent again after the ack wait (a listener's own
/// subscription, with one event in flight).
#[test]
fn p_extends_the_ack_wait() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--data", r#"{"n":1}"#]);
    publish_ok(&url, &["--data", r#"{"n":2}"#]);
    let tmux = interactive(
        &url,
        "--client-id keys --no-queue-group --deliver-all --ack-wait 1s",
    );
    wait_for_prompt(&tmux, "#1, with data: {\"n\":1}");
    let own = || {
        let status = status_json(&url, &["ticket:created"]);
        status["channels"][0]["subscriptions"][0].clone()
    };
    assert_eq!(own()["ack_pending"], 1, "one event in flight: {}", own());
    // The experiment is the time itself: four in-progress acks over 1.6 s.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        tmux.send(&["p"]);
    }
    wait_for_prompt(&tmux, "#1, with data: {\"n\":1}");
    assert_eq!(own()["redelivered"], 0, "kept alive: {}", own());
    tmux.send(&["a"]);
    // #2 without a key: sent again once its ack wait has passed.
    wait_for_prompt(&tmux, "#2, with data: {\"n\":2}");
    wait_until("#2 redelivered", common::DEADLINE, || {
        own()["redelivered"] == 1
    });
    tmux.send(&["a"]);
    tmux.wait_for("#2 acked", |s| s.matches("→ acked").count() == 2);
}

/// Without a terminal `--interactive` is a usage error: one line, exit 2.
#[test]
fn interactive_without_a_terminal_is_a_usage_error() {
    let server = NatsServer::start();
    let output = run(&mut common::command(
        env!("CARGO_BIN_EXE_listen"),
        &server.url(),
        &["--interactive"],
    ));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: --interactive"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A second terminal's `status --live` shows each answer on the tape: #1
/// acked (`██`) while #2, on screen and waiting for its key, waits (`▒▒`);
/// once #2 is acked too, the lane's ack floor is #2.
#[test]
fn the_live_view_shows_each_answer() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    publish_ok(&url, &[]);
    let tmux = interactive(&url, "--durable acct --no-queue-group --deliver-all");
    let status = env!("CARGO_BIN_EXE_status");
    let live = Tmux::start(&format!(
        "env -u NATS_URL -u NATS_CLIENT_ID -u NO_COLOR {} -s {} ticket:created --live; sleep 60",
        quote(status),
        quote(&url)
    ));
    wait_for_prompt(&tmux, "#1,");
    live.wait_for("#1 waiting for its key", |s| {
        s.contains("durable acct") && s.contains(" ▒▒ ··")
    });
    tmux.send(&["a"]);
    wait_for_prompt(&tmux, "#2,");
    live.wait_for("#1 acked, #2 waiting", |s| s.contains(" ██ ▒▒"));
    tmux.send(&["a"]);
    live.wait_for("both acked", |s| {
        s.contains(" ██ ██") && s.contains("ack floor #2  ack pending 0")
    });
}
