//! `status --live` for real: in a pseudo-terminal of 80×24 made by tmux
//! (`send-keys` to type, `capture-pane` to read the screen), against a real
//! nats-server; and its usage error when stdout is not a terminal.

mod common;

use common::tmux::{Tmux, quote};
use common::{DEADLINE, Listener, NatsServer, publish_ok, run, text};

/// The live view follows the channel in a real terminal: a new event
/// appears on the tape, a listener that does not ack gets a lane of events
/// waiting for their ack, and `q` exits 0 with the terminal restored (the
/// alternate screen left).
#[test]
fn live_view_shows_new_events_and_waiting_acks_and_q_restores_the_terminal() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &[]);
    let status = env!("CARGO_BIN_EXE_status");
    let command = format!(
        "env -u NATS_URL -u NATS_CLIENT_ID -u NO_COLOR {} -s {} ticket:created --live; echo EXIT=$?; sleep 60",
        quote(status),
        quote(&url)
    );
    let tmux = Tmux::start(&command);
    tmux.wait_for("the view of event #1", |s| {
        s.contains("ticket:created (stream TICKET_CREATED): 1 event, #1")
    });
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the view is on the alternate screen"
    );

    // A new event: the tape shows #2.
    publish_ok(&url, &[]);
    let screen = tmux.wait_for("event #2 on the tape", |s| {
        s.contains("2 events, #1 to #2") && s.lines().any(|l| l.trim_start().starts_with("1  2"))
    });
    assert!(screen.contains("No subscriptions"), "{screen}");

    // A listener that never acks: its lane shows both events waiting.
    let listener = Listener::start(&url, &["--skip-ack", "--no-queue-group", "--deliver-all"]);
    listener.wait_for_events(2);
    let screen = tmux.wait_for("a lane of 2 events waiting for their ack", |s| {
        s.contains(" ▒▒ ▒▒") && s.contains("ack pending 2")
    });
    assert!(screen.contains("delivered #2  ack floor -"), "{screen}");
    assert!(screen.contains("▒ waiting"), "the legend: {screen}");

    // q: the view exits 0, and the shell's screen is back.
    tmux.send(&["q"]);
    let screen = tmux.wait_for("the view to exit", |s| s.contains("EXIT="));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        !screen.contains("ack pending"),
        "the view is gone: {screen}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the alternate screen was left"
    );
    drop(listener);
}

/// `--live` draws on a terminal: with stdout a pipe it is a usage error
/// (exit 2), one line that points to `--json`.
#[test]
fn live_without_a_terminal_is_a_usage_error() {
    let server = NatsServer::start();
    let status = env!("CARGO_BIN_EXE_status");
    let output = run(&mut common::command(status, &server.url(), &["--live"]));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: --live"), "{stderr}");
    assert!(stderr.contains("--json"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// The JetStream API requests a running `status ARGS --live` makes (in an
/// 80×24 tmux), seen by a subscription of the test's own on `$JS.API.>`,
/// until `polls` requests on `marker` were seen (each poll asks it once).
fn live_requests(url: &str, args: &str, marker: &str, polls: usize) -> Vec<String> {
    use futures_util::StreamExt as _;
    let status = env!("CARGO_BIN_EXE_status");
    let command = format!(
        "env -u NATS_URL -u NATS_CLIENT_ID {} -s {} {args} --live; echo EXIT=$?; sleep 60",
        quote(status),
        quote(url)
    );
    common::block_on(async {
        let client = async_nats::connect(url).await.expect("connect test client");
        let mut api = client.subscribe("$JS.API.>").await.expect("subscribe");
        client.flush().await.expect("flush");
        let tmux = Tmux::start(&command);
        let mut subjects = Vec::new();
        let seen = tokio::time::timeout(DEADLINE, async {
            while let Some(request) = api.next().await {
                subjects.push(request.subject.to_string());
                if common::api::count(&subjects, marker) >= polls {
                    return;
                }
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "{polls} polls within {DEADLINE:?}: {subjects:?}; the screen:\n{}",
            tmux.screen()
        );
        tmux.send(&["q"]);
        tmux.wait_for("the view to exit", |s| s.contains("EXIT=0"));
        subjects
    })
}

/// Three channels, each with a subscription (a durable made by `listen`).
fn three_channels(url: &str) {
    for channel in ["a:created", "b:created", "c:created"] {
        publish_ok(url, &["-c", channel]);
        common::listen(
            url,
            &[
                "-c",
                channel,
                "--durable",
                "d",
                "--no-queue-group",
                "--deliver-all",
                "--count",
                "1",
            ],
        );
    }
}

/// `status CHANNEL --live` polls that channel's stream only, and finds it
/// once: each poll is its info and its subscriptions (`STREAM.INFO`,
/// `CONSUMER.LIST`), never another stream's, nor a lookup by subject again.
#[test]
fn live_with_a_channel_polls_its_stream_only() {
    let server = NatsServer::start();
    let url = server.url();
    three_channels(&url);
    let requests = live_requests(&url, "b:created", "$JS.API.CONSUMER.LIST.", 5);
    let count = |prefix: &str| common::api::count(&requests, prefix);
    assert_eq!(count("$JS.API.CONSUMER.LIST.B_CREATED"), 5, "{requests:?}");
    assert_eq!(count("$JS.API.STREAM.LIST"), 0, "{requests:?}");
    assert_eq!(count("$JS.API.STREAM.NAMES"), 1, "found once: {requests:?}");
    assert!(count("$JS.API.STREAM.INFO.B_CREATED") <= 5, "{requests:?}");
    assert_eq!(
        requests.len(),
        count("$JS.API.CONSUMER.LIST.B_CREATED")
            + count("$JS.API.STREAM.INFO.B_CREATED")
            + count("$JS.API.STREAM.NAMES"),
        "nothing else: {requests:?}"
    );
}

/// `status --live` without a channel shows one channel at a time (Tab for
/// the next): after its first read, each poll lists the channels (one
/// `STREAM.LIST`) and the subscriptions of the channel on screen only, not
/// every channel's.
#[test]
fn live_without_a_channel_polls_the_subscriptions_on_screen_only() {
    let server = NatsServer::start();
    let url = server.url();
    three_channels(&url);
    let requests = live_requests(&url, "", "$JS.API.STREAM.LIST", 5);
    // The first read (before the view is drawn) reads every channel.
    let second = requests
        .iter()
        .enumerate()
        .filter(|(_, s)| s.starts_with("$JS.API.STREAM.LIST"))
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second STREAM.LIST");
    let polls = &requests[second..];
    let lists: Vec<&String> = polls
        .iter()
        .filter(|s| s.starts_with("$JS.API.CONSUMER.LIST."))
        .collect();
    assert!(
        lists
            .iter()
            .all(|s| s.as_str() == "$JS.API.CONSUMER.LIST.A_CREATED"),
        "only the channel on screen (a:created): {polls:?}"
    );
    // Polls 2 to 4 whole, and the 5th's STREAM.LIST, where the count stopped.
    assert_eq!(lists.len(), 3, "one per poll: {polls:?}");
}

/// The view of `channel` in an 80×24 tmux, its exit code echoed after it.
fn live_view(url: &str, channel: &str) -> Tmux {
    let status = env!("CARGO_BIN_EXE_status");
    let command = format!(
        "env -u NATS_URL -u NATS_CLIENT_ID -u NO_COLOR {} -s {} {} --live; echo EXIT=$?; sleep 60",
        quote(status),
        quote(url),
        quote(channel)
    );
    Tmux::start(&command)
}

/// The lane of the subscription named `name`: its cells row and its counts
/// row, where the screen shows it.
fn lane_rows(screen: &str, name: &str) -> Option<(String, String)> {
    let lines: Vec<&str> = screen.lines().collect();
    let i = lines.iter().enumerate().position(|(i, line)| {
        line.split([' ', '(']).any(|word| word == name)
            && lines
                .get(i + 2)
                .is_some_and(|l| l.trim_start().starts_with("delivered"))
    })?;
    Some((lines[i + 1].to_owned(), lines[i + 2].to_owned()))
}

/// A durable made while 12 events are stored, starting at new events, was
/// given none of them: its lane is blank under #1 to #12 and its ack floor
/// claims no ack (JetStream sets the floor of a new subscription to the
/// event before its start). The next event is delivered, acked, and drawn so.
#[test]
fn a_new_subscription_is_blank_before_its_start_and_claims_no_acks() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "12"]);
    let listener = Listener::start(&url, &["--durable", "late", "--no-queue-group"]);
    let tmux = live_view(&url, "ticket:created");
    let screen = tmux.wait_for("the lane of the durable late", |s| {
        s.contains("12 events, #1 to #12") && lane_rows(s, "late").is_some()
    });
    let (cells, counts) = lane_rows(&screen, "late").unwrap();
    assert!(cells.trim().is_empty(), "no event is its own:\n{screen}");
    assert!(counts.contains("ack floor -"), "no ack claimed:\n{screen}");
    assert!(screen.contains("start new"), "its start:\n{screen}");

    publish_ok(&url, &[]);
    listener.wait_for_events(1);
    let screen = tmux.wait_for("event #13 acked by late", |s| {
        lane_rows(s, "late").is_some_and(|(_, counts)| counts.contains("ack floor #13"))
    });
    let (cells, _) = lane_rows(&screen, "late").unwrap();
    assert_eq!(cells.trim(), "██", "only #13 is its own, acked:\n{screen}");
    tmux.send(&["q"]);
    tmux.wait_for("the view to exit", |s| s.contains("EXIT=0"));
}

/// Opened on a channel that has no stream yet, the view waits and says so;
/// the first event published makes the channel, and the tape shows it.
#[test]
fn live_view_of_a_channel_not_made_yet_waits_for_its_first_event() {
    let server = NatsServer::start();
    let url = server.url();
    let tmux = live_view(&url, "ticket:created");
    tmux.wait_for("the view to wait for the channel", |s| {
        s.contains("waiting for the first event on ticket:created: publish one")
    });
    publish_ok(&url, &[]);
    tmux.wait_for("event #1 on the tape", |s| {
        s.contains("ticket:created (stream TICKET_CREATED): 1 event, #1")
            && s.lines().any(|l| l.trim() == "1")
    });
    tmux.send(&["q"]);
    tmux.wait_for("the view to exit", |s| s.contains("EXIT=0"));
}

/// The subscription `name` of ticket:created in `status --json`.
fn subscription(url: &str, name: &str) -> serde_json::Value {
    let status = common::status_json(url, &["ticket:created"]);
    status["channels"][0]["subscriptions"]
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no subscription {name} in {status}"))
}

/// On the selected lane (↓ selects the second, `▸` marks it), `P` 1m
/// Enter pauses its subscription for a minute, `R` Enter resumes it, `X` 2
/// Enter rewinds it to event #2 and `X` Enter to its ack floor; each says
/// what the server answered on the bottom line, the other lane is left
/// alone, and `status --json` agrees (`paused_until`, the ack floor, the
/// events pending).
#[test]
fn p_pauses_r_resumes_and_x_rewinds_the_selected_lane() {
    let server = NatsServer::start();
    let url = server.url();
    for _ in 0..3 {
        publish_ok(&url, &[]);
    }
    for durable in ["acct", "bill"] {
        common::listen(
            &url,
            &[
                "--durable",
                durable,
                "--no-queue-group",
                "--deliver-all",
                "--count",
                "3",
            ],
        );
    }
    let status = env!("CARGO_BIN_EXE_status");
    let tmux = Tmux::start(&format!(
        "env -u NATS_URL -u NATS_CLIENT_ID -u NO_COLOR {} -s {} ticket:created --live; echo EXIT=$?; sleep 60",
        quote(status),
        quote(&url)
    ));
    tmux.wait_for("both lanes", |s| {
        s.contains("durable acct") && s.contains("durable bill")
    });
    tmux.send(&["Down"]);
    tmux.wait_for("the second lane marked", |s| {
        let lines: Vec<&str> = s.lines().collect();
        lines
            .iter()
            .position(|l| l.starts_with("durable bill"))
            .is_some_and(|at| lines[at + 1].starts_with('▸'))
    });

    tmux.send(&["P"]);
    tmux.wait_for("the pause prompt", |s| s.contains("Pause bill for"));
    tmux.send(&["1", "m", "Enter"]);
    let screen = tmux.wait_for("the pause confirmed", |s| s.contains("paused bill until"));
    assert!(screen.contains("(R resumes)"), "{screen}");
    tmux.wait_for("the lane paused", |s| {
        s.contains("durable bill (paused until")
    });
    assert!(subscription(&url, "bill")["paused_until"].is_string());
    assert!(subscription(&url, "acct").get("paused_until").is_none());

    tmux.send(&["R"]);
    tmux.wait_for("the resume prompt", |s| s.contains("Resume bill now?"));
    tmux.send(&["Enter"]);
    tmux.wait_for("the resume confirmed", |s| {
        s.contains("resumed bill: the server delivers its events again")
    });
    assert!(subscription(&url, "bill").get("paused_until").is_none());

    tmux.send(&["X"]);
    tmux.wait_for("the rewind prompt", |s| {
        s.contains("Rewind bill to event #")
    });
    tmux.send(&["2", "Enter"]);
    tmux.wait_for("the rewind confirmed", |s| {
        s.contains("rewound bill to #2: delivers again from #2; ack floor #1, 2 to deliver")
    });
    let bill = subscription(&url, "bill");
    assert_eq!(
        (&bill["ack_floor"], &bill["pending"]),
        (&1.into(), &2.into()),
        "{bill}"
    );
    let acct = subscription(&url, "acct");
    assert_eq!(
        (&acct["ack_floor"], &acct["pending"]),
        (&3.into(), &0.into()),
        "{acct}"
    );

    tmux.send(&["X", "Enter"]);
    tmux.wait_for("the rewind to the ack floor", |s| {
        s.contains("rewound bill to its ack floor: delivers again from #2")
    });

    // Esc cancels a prompt; any key then brings the keys back.
    tmux.send(&["P", "Escape", "Left"]);
    tmux.wait_for("the keys line", |s| s.contains("P/R/X pause/resume/rewind"));
    tmux.send(&["q"]);
    tmux.wait_for("the view to exit", |s| s.contains("EXIT=0"));
}

/// An event given up before the view opened (its advisory came then) is
/// marked given up all the same: the view reads the stream that keeps the
/// notices once, where a subscription has a delivery limit.
#[test]
fn an_event_given_up_before_the_view_opened_is_marked() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Listener::start(
        &url,
        &[
            "--durable",
            "svc",
            "--no-queue-group",
            "--deliver-all",
            "--fail-on",
            "2",
            "--ack-wait",
            "200ms",
            "--max-deliver",
            "1",
        ],
    );
    listener.wait_for_stdout("Event #2 was given up");
    listener.stop();
    let tmux = live_view(&url, "ticket:created");
    let screen = tmux.wait_for("the lane of svc with #2 given up", |s| {
        lane_rows(s, "svc").is_some_and(|(cells, _)| cells.contains('x'))
    });
    let (cells, _) = lane_rows(&screen, "svc").unwrap();
    assert_eq!(
        cells.split_whitespace().collect::<Vec<_>>(),
        ["██", "xx", "██"],
        "#1 and #3 acked, #2 given up:\n{screen}"
    );
    tmux.send(&["q"]);
    tmux.wait_for("the view to exit", |s| s.contains("EXIT=0"));
}
