//! Closed pipes: whoever reads a command's stdout goes away before the
//! command is done (`listen | head -3`, `status | true`, `publish --count
//! 20 | head -1`). Every command, in each of its forms, then exits 0
//! without a word, and what it did stays true: `publish` has stored every
//! event, and `listen` has acked no event whose line it did not write out.
//!
//! Each test reads a few lines of the command's stdout (or none) and closes
//! the pipe, at a point where the command still has lines to write: so
//! that a write of its does find the pipe closed.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{DEADLINE, NatsServer, RUN_DEADLINE, poll, publish_ok, text};

/// Events stored before a command runs, whose lines hold more than the
/// pipe (64 KiB) and the test's read buffer do: the command is still
/// writing them when the test closes the pipe.
const MORE_THAN_A_PIPE: &str = "2000";

/// A command whose stdout is a pipe to the test, which reads some lines of
/// it and then closes its end.
struct Piped {
    child: Child,
    /// The lines read before the pipe was closed, once it is.
    read: mpsc::Receiver<Vec<String>>,
    stderr: JoinHandle<String>,
}

impl Piped {
    /// Starts `bin` (`listen`, `status`, `publish`) with `--server url` and
    /// `args`; reads `lines` lines of its stdout (or fewer, if it closes
    /// it first), then closes the pipe: at once, before the command has
    /// written anything, for 0.
    fn start(bin: &str, url: &str, args: &[&str], lines: usize) -> Piped {
        let mut child = common::command(bin, url, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {bin}: {err}"));
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stderr.read_to_end(&mut all);
            text(&all)
        });
        let stdout = child.stdout.take().expect("stdout");
        let (done, read) = mpsc::channel();
        if lines == 0 {
            drop(stdout);
            let _ = done.send(Vec::new());
        } else {
            std::thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut read = Vec::new();
                let mut line = String::new();
                while read.len() < lines && stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
                    read.push(std::mem::take(&mut line));
                }
                drop(stdout);
                let _ = done.send(read);
            });
        }
        Piped {
            child,
            read,
            stderr,
        }
    }

    /// Waits until the lines are read and the pipe is closed; returns them.
    fn closed(&self) -> Vec<String> {
        self.read
            .recv_timeout(DEADLINE)
            .expect("the lines to read within the deadline")
    }

    /// Waits for the command to exit (within [`RUN_DEADLINE`]): its exit
    /// status and what it said on stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        let every = Duration::from_millis(20);
        let status = poll(RUN_DEADLINE, every, || {
            self.child.try_wait().expect("try_wait")
        });
        let Some(status) = status else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!("it did not exit within {RUN_DEADLINE:?} after its reader went");
        };
        (status, self.stderr.join().expect("stderr"))
    }

    /// [`finish`](Piped::finish), failing the test unless the command exits
    /// 0 and says nothing on stderr but lines that start as one of
    /// `status_lines` (what `--json` prints there in any run).
    fn assert_exits_quietly(self, status_lines: &[&str]) {
        let (status, stderr) = self.finish();
        assert!(status.success(), "exited with {status}; stderr:\n{stderr}");
        for line in stderr.lines() {
            assert!(
                status_lines.iter().any(|start| line.starts_with(start)),
                "said {line:?} on stderr:\n{stderr}"
            );
        }
    }
}

const LISTEN: &str = env!("CARGO_BIN_EXE_listen");
const STATUS: &str = env!("CARGO_BIN_EXE_status");
const PUBLISH: &str = env!("CARGO_BIN_EXE_publish");

/// What `listen --json` says on stderr in any run.
const LISTEN_JSON_STATUS: &[&str] = &["Listener connected to NATS as ", "NATS connection closed!"];

/// What `publish --json` says on stderr in any run.
const PUBLISH_JSON_STATUS: &[&str] = &["Publisher connected to NATS", "Published "];

/// Runs `listen` with `args` on a server with 3 events: reads `lines` lines,
/// closes the pipe, and publishes 5 more events, which the listener cannot
/// write out any more.
fn listen_with_events_after_the_close(server: &NatsServer, args: &[&str], lines: usize) -> Piped {
    let url = server.url();
    publish_ok(&url, &["--count", "3"]);
    let listener = Piped::start(LISTEN, &url, args, lines);
    assert_eq!(listener.closed().len(), lines, "lines before the close");
    publish_ok(&url, &["--count", "5"]);
    listener
}

// ------------------------------------------------------------------ listen

/// `listen --count 50 | head -3`: exits 0 without a word.
#[test]
fn listen_with_count_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    let args = ["--no-queue-group", "--deliver-all", "--count", "50"];
    listen_with_events_after_the_close(&server, &args, 3).assert_exits_quietly(&[]);
}

/// `listen --count 3 | head -4`: the reader goes once the last event's line
/// is out, and the closing line (`NATS connection closed!`) finds the pipe
/// closed; exits 0 without a word.
#[test]
fn listen_exits_quietly_when_its_reader_goes_after_the_last_event() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", "3"]);
    let args = ["--no-queue-group", "--deliver-all", "--count", "3"];
    // The connected line and the 3 events' lines.
    let listener = Piped::start(LISTEN, &server.url(), &args, 4);
    listener.closed();
    listener.assert_exits_quietly(&[]);
}

/// `listen --json --count 50 | head -3`: exits 0, saying on stderr only
/// its status line.
#[test]
fn listen_json_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    let args = [
        "--no-queue-group",
        "--deliver-all",
        "--json",
        "--count",
        "50",
    ];
    listen_with_events_after_the_close(&server, &args, 3).assert_exits_quietly(LISTEN_JSON_STATUS);
}

/// `listen -t --count 50 | head -3` (lines with publish times): exits 0
/// without a word.
#[test]
fn listen_with_timestamps_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    let args = ["--no-queue-group", "--deliver-all", "-t", "--count", "50"];
    listen_with_events_after_the_close(&server, &args, 3).assert_exits_quietly(&[]);
}

/// `listen --until-caught-up | head -2` with a history longer than a pipe
/// holds: exits 0 without a word.
#[test]
fn listen_until_caught_up_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", MORE_THAN_A_PIPE]);
    let args = ["--no-queue-group", "--deliver-all", "--until-caught-up"];
    let listener = Piped::start(LISTEN, &server.url(), &args, 2);
    listener.closed();
    listener.assert_exits_quietly(&[]);
}

/// Plain `listen | head -1`, waiting for events that do not come: exits 0
/// without a word once its reader has gone.
#[test]
fn listen_exits_quietly_when_its_reader_goes_while_it_waits() {
    let server = NatsServer::start();
    let listener = Piped::start(LISTEN, &server.url(), &[], 1);
    listener.closed();
    listener.assert_exits_quietly(&[]);
}

/// `listen | true`: the reader is gone before the first line; exits 0
/// without a word.
#[test]
fn listen_exits_quietly_when_its_reader_is_gone_at_once() {
    let server = NatsServer::start();
    let listener = Piped::start(LISTEN, &server.url(), &[], 0);
    listener.assert_exits_quietly(&[]);
}

/// A durable listener whose reader went after 3 events has acked no more
/// than those 3: the events published after that are still to be handled.
#[test]
fn listen_acks_no_event_whose_line_was_not_read() {
    let server = NatsServer::start();
    let args = ["--no-queue-group", "--durable", "piped", "--deliver-all"];
    // The connected line and the 3 events' lines.
    let listener = listen_with_events_after_the_close(&server, &args, 4);
    let _ = listener.finish();
    let floor = server.with_js(|js| async move {
        let stream = js.get_stream("TICKET_CREATED").await.expect("stream");
        let info = stream.consumer_info("piped").await.expect("consumer");
        info.ack_floor.stream_sequence
    });
    assert!(
        floor <= 3,
        "acked up to #{floor}, but only 3 events were read"
    );
}

// ------------------------------------------------------------------ status

/// `status | true`: exits 0 without a word.
#[test]
fn status_exits_quietly_when_its_reader_is_gone() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", "3"]);
    Piped::start(STATUS, &server.url(), &[], 0).assert_exits_quietly(&[]);
}

/// `status --json | true`: exits 0 without a word.
#[test]
fn status_json_exits_quietly_when_its_reader_is_gone() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", "3"]);
    Piped::start(STATUS, &server.url(), &["--json"], 0).assert_exits_quietly(&[]);
}

/// `status CHANNEL --events | head -1` with a history longer than a pipe
/// holds: exits 0 without a word.
#[test]
fn status_events_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", MORE_THAN_A_PIPE]);
    let args = ["ticket:created", "--events"];
    let status = Piped::start(STATUS, &server.url(), &args, 1);
    status.closed();
    status.assert_exits_quietly(&[]);
}

// ----------------------------------------------------------------- publish

/// `publish | true`: the event is stored all the same, and it exits 0
/// without a word.
#[test]
fn publish_stores_the_event_and_exits_quietly_when_its_reader_is_gone() {
    let server = NatsServer::start();
    Piped::start(PUBLISH, &server.url(), &[], 0).assert_exits_quietly(&[]);
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 1);
}

/// `publish --count 20 | true` (a summary line, not one per event): every
/// event is stored all the same, and it exits 0 without a word.
#[test]
fn publish_count_stores_every_event_and_exits_quietly_when_its_reader_is_gone() {
    let server = NatsServer::start();
    let args = ["--count", "20"];
    Piped::start(PUBLISH, &server.url(), &args, 0).assert_exits_quietly(&[]);
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 20);
}

/// `publish --json --count 2000 | head -1`, more lines than a pipe holds:
/// every event is stored all the same, and it exits 0, saying on stderr
/// only its status lines.
#[test]
fn publish_json_stores_every_event_and_exits_quietly_when_its_reader_goes() {
    let server = NatsServer::start();
    let args = ["--json", "--count", MORE_THAN_A_PIPE];
    let publish = Piped::start(PUBLISH, &server.url(), &args, 1);
    publish.closed();
    publish.assert_exits_quietly(PUBLISH_JSON_STATUS);
    assert_eq!(
        server.stream_event_count("TICKET_CREATED"),
        MORE_THAN_A_PIPE.parse::<u64>().unwrap()
    );
}
