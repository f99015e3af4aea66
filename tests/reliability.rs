//! What the toolkit promises when things go wrong, each promise in one test
//! against a real nats-server: an acked event is a printed event, every wait
//! ends, and what is printed is what happened.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{NatsServer, publish_ok};

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_listen"))
        .env_remove("NATS_URL")
        .args(["--server", url])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start listen");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(seq) = common::received(&line).first() {
                let _ = tx.send(*seq);
            }
        }
    });
    let started = Instant::now();
    let (mut new, mut last_new) = (0, Instant::now());
    while !stop(new, printed, last_new.elapsed()) {
        assert!(
            started.elapsed() < deadline,
            "timed out: {new} new events this run, {} of them in all",
            printed.len()
        );
        if let Ok(seq) = rx.recv_timeout(Duration::from_millis(20))
            && printed.insert(seq)
        {
            new += 1;
            last_new = Instant::now();
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // The pipe holds what the listener wrote before it died: read it to the end.
    reader.join().expect("reader");
    printed.extend(rx.try_iter());
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
        let mut stream = js.get_stream("TICKET_CREATED").await.expect("stream");
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_listen"))
        .env_remove("NATS_URL")
        .args(["--server", &url])
        .args(["--no-queue-group", "--durable", "stalled", "--deliver-all"])
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
