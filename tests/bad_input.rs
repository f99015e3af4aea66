//! Bad input and faults: one clear line on stderr, the right exit code
//! (2 for usage, 1 at run time), and nothing half done.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Listener, NatsServer, dead_url, listen, publish, run, text};

/// Asserts a usage error: exit 2, one clap `error:` line on stderr, nothing
/// on stdout, neither a panic nor a backtrace; returns the line.
fn usage_error(output: &Output) -> String {
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing is done: {:?}",
        text(&output.stdout)
    );
    err
}

/// Asserts a [`usage_error`] that names `expected`.
fn assert_usage_error(output: &Output, expected: &str) {
    let err = usage_error(output);
    assert!(err.contains(expected), "expected {expected:?} in {err}");
}

/// No server at the URL: exit 1 within the connect timeout, naming the URL
/// and both ways to get a server.
#[test]
fn no_server_names_the_url_and_how_to_get_one() {
    let url = dead_url();
    for run in [publish, listen] {
        let start = Instant::now();
        let output = run(&url, &["--connect-timeout", "2s"]);
        assert!(start.elapsed() < Duration::from_secs(10));
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&url), "{err}");
        assert!(
            err.contains("make server") && err.contains("kubectl port-forward"),
            "{err}"
        );
    }
}

/// A server without JetStream: say that JetStream is required and how to
/// turn it on, naming the server by the URL given (its password masked),
/// not by the address the server listens on.
#[test]
fn server_without_jetstream_says_how_to_enable_it() {
    let server = NatsServer::start_without_jetstream();
    let given = server
        .url()
        .replace("nats://127.0.0.1", "nats://bob:Pw-Qz9Xw@localhost");
    let shown = given.replace("Pw-Qz9Xw", "***");
    for run in [publish, listen] {
        let output = run(&given, &[]);
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("does not have JetStream enabled") && err.contains("-js"),
            "{err}"
        );
        assert!(err.contains(&format!("at {shown} ")), "{err}");
        assert!(!err.contains("Qz9Xw"), "{err}");
    }
}

/// A server that answers and refuses the connection (a CONNECT longer than
/// its max_control_line: a 5000-character password) is not "no server".
#[test]
fn a_refused_connection_says_what_the_server_said() {
    let server = NatsServer::start();
    let password = format!("Qz9Xw{}", "p".repeat(5000));
    for run in [publish, listen] {
        let output = run(&server.url(), &["--user", "ana", "--password", &password]);
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("the server refused the connection")
                && err.contains("maximum control line exceeded"),
            "{err}"
        );
        assert!(!err.contains("no server answered"), "{err}");
        assert!(!err.contains("Qz9Xw"), "{err}");
    }
}

/// Durations out of their flag's range are usage errors that state the
/// range, against a real server: `--since 4294967295h` used to panic (an
/// overflow subtracting it from now), `--ack-wait 4294967295h` to wrap.
#[test]
fn huge_durations_are_usage_errors_stating_the_range() {
    let server = NatsServer::start();
    let url = server.url();
    common::publish_ok(&url, &[]);
    let replay = ["--deliver-all", "--no-queue-group", "--count", "1"];
    let cases: &[(&[&str], &str)] = &[
        (&["--since", "4294967295h"], "from 1ms to 876000h"),
        (&["--since", "876001h"], "from 1ms to 876000h"),
        (&["--ack-wait", "4294967295h"], "from 100ms to 24h"),
        (&["--ack-wait", "24h1ms"], "from 100ms to 24h"),
        (&["--ack-wait", "99ms"], "from 100ms to 24h"),
        (&["--connect-timeout", "4294967295h"], "from 100ms to 1h"),
    ];
    for (args, range) in cases {
        let args: Vec<&str> = if args[0] == "--since" {
            [&args[..], &["--no-queue-group", "--count", "1"]].concat()
        } else {
            [&args[..], &replay[..]].concat()
        };
        let output = listen(&url, &args);
        assert_usage_error(&output, range);
        assert!(
            text(&output.stderr).contains(args[0]),
            "{}",
            text(&output.stderr)
        );
    }
    let output = publish(&url, &["--connect-timeout", "61m"]);
    assert_usage_error(&output, "from 100ms to 1h");
    // The ends of each range are taken.
    for args in [
        &["--ack-wait", "24h", "--deliver-all"][..],
        &["--ack-wait", "100ms", "--deliver-all"],
        &["--since", "876000h"],
    ] {
        let output = listen(&url, &[args, &replay[1..]].concat());
        let err = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Names longer than nats-server takes are usage errors before connecting,
/// stating the limit: a channel (the stream name, at most 255 bytes; at
/// 5000 the server dropped the connection), a queue group or durable (the
/// consumer name, at most 255 bytes), a client id (at 10000 the server
/// refused the CONNECT, and the tools said no server answered).
#[test]
fn names_longer_than_the_server_takes_are_usage_errors() {
    let server = NatsServer::start();
    let url = server.url();
    let (a255, a256, a300, a5000, a10000) = (
        "a".repeat(255),
        "a".repeat(256),
        "a".repeat(300),
        "a".repeat(5000),
        "a".repeat(10_000),
    );
    let cases: &[(&str, &[&str], &str)] = &[
        ("publish", &["--channel", &a5000], "at most 255"),
        ("listen", &["--channel", &a5000], "at most 255"),
        ("publish", &["--channel", &a300], "at most 255"),
        ("listen", &["--channel", &a256], "at most 255"),
        ("listen", &["--queue-group", &a300], "at most 255"),
        ("listen", &["--durable", &a300], "at most 255"),
        ("publish", &["--client-id", &a10000], "at most 255"),
        ("listen", &["--client-id", &a300], "at most 255"),
    ];
    for (bin, args, limit) in cases {
        let run = if *bin == "publish" { publish } else { listen };
        let output = run(&url, args);
        assert_usage_error(&output, limit);
        assert!(
            text(&output.stderr).contains(args[0]),
            "{}",
            text(&output.stderr)
        );
        assert!(text(&output.stderr).len() < 400, "{}", text(&output.stderr));
    }
    assert!(server.stream_names().is_empty(), "nothing was created");
    // At the limit, both work.
    let long_channel = ["--channel", &a255, "--client-id", &a255];
    common::publish_ok(&url, &long_channel);
    let output = listen(
        &url,
        &[
            &long_channel[..],
            &["--durable", &a255, "--deliver-all", "--count", "1"],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        common::received(&String::from_utf8_lossy(&output.stdout)),
        [1]
    );
}

/// A long bad value is cut in the usage error: a 100 KB `--data` is not
/// echoed whole.
#[test]
fn long_bad_values_are_cut_in_usage_errors() {
    let url = dead_url();
    let data = format!("{{\"id\": {}", "1".repeat(100_000));
    let output = publish(&url, &["--data", &data]);
    assert_usage_error(&output, "--data");
    let err = text(&output.stderr);
    assert!(err.len() < 400, "{} bytes: {}", err.len(), &err[..400]);
    assert!(err.contains(&format!("{}…", &data[..80])), "{err}");
    let leftover = "x".repeat(100_000);
    let output = listen(&url, &[&leftover]);
    assert_usage_error(&output, "unexpected argument");
    assert!(
        text(&output.stderr).len() < 400,
        "{}",
        &text(&output.stderr)[..400]
    );
}

/// Files are read with a limit: an event, a creds file and a certificate
/// are at most 1 MiB. `/dev/zero` (size 0 to the file system, endless to
/// a read) used to grow the tools to gigabytes. Past the limit: one line
/// naming the flag and the limit, exit 2, at once.
#[test]
fn files_past_their_limit_are_usage_errors_naming_flag_and_limit() {
    let url = dead_url();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b' '; 1024 * 1024 + 1]).unwrap();
    let big = big.to_str().unwrap();
    for file in ["/dev/zero", big] {
        let cases: &[(&str, &[&str])] = &[
            ("publish", &["--data-file", file]),
            ("publish", &["--creds", file]),
            ("listen", &["--creds", file]),
            ("publish", &["--tls-ca", file]),
            ("listen", &["--tls-ca", file]),
            ("publish", &["--tls-cert", file, "--tls-key", file]),
        ];
        for (bin, args) in cases {
            let run = if *bin == "publish" { publish } else { listen };
            let start = Instant::now();
            let output = run(&url, args);
            assert!(start.elapsed() < Duration::from_secs(10), "{bin} {args:?}");
            assert_usage_error(&output, "larger than 1 MiB");
            assert!(
                text(&output.stderr).contains(args[0]),
                "{}",
                text(&output.stderr)
            );
        }
    }
    // Exactly 1 MiB of JSON is an event.
    let fits = dir.path().join("fits.json");
    let mut json = b"{\"id\":\"1\"}".to_vec();
    json.resize(1024 * 1024, b' ');
    std::fs::write(&fits, json).unwrap();
    let output = publish(&url, &["--data-file", fits.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("could not connect"),
        "{}",
        text(&output.stderr)
    );
}

/// The header block every event carries when no -H is given: the framing
/// (`NATS/1.0\r\n`, `\r\n`) and `Nats-Msg-Id: <16 hex>-0\r\n`, for a
/// single event.
const ID_HEADERS: usize = 12 + "Nats-Msg-Id: ".len() + 16 + 2 + 2;

/// A JSON event file of exactly `len` bytes, compact.
fn event_file(dir: &std::path::Path, name: &str, len: usize) -> String {
    let padding = len - r#"{"a":""}"#.len();
    let path = dir.join(name);
    std::fs::write(&path, format!(r#"{{"a":"{}"}}"#, "x".repeat(padding))).unwrap();
    path.to_str().unwrap().to_owned()
}

/// An event counts with its headers (the Nats-Msg-Id publish sets, and
/// -H's) against the 1 MiB an event may be: one byte over is a usage error
/// naming --data-file, before anything is published; at the limit it is
/// stored (issue #29: 1,048,575 bytes met the client's raw "max payload
/// size exceeded").
#[test]
fn an_event_over_1_mib_with_its_headers_is_a_usage_error() {
    let server = NatsServer::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    const MIB: usize = 1024 * 1024;
    let trace = "Trace-Id: 42\r\n".len();
    for (name, args, room) in [
        ("plain", &[][..], MIB - ID_HEADERS),
        (
            "with -H",
            &["-H", "Trace-Id: 42"][..],
            MIB - ID_HEADERS - trace,
        ),
    ] {
        let over = event_file(dir.path(), "over.json", room + 1);
        let output = publish(&url, &[&["--data-file", &over][..], args].concat());
        assert_usage_error(&output, "with its headers");
        assert_usage_error(&output, "--data-file");
        assert!(
            server.stream_names().is_empty(),
            "{name}: nothing published"
        );
        let lines = dir.path().join("over.jsonl");
        std::fs::write(
            &lines,
            format!("{{}}\n{}\n", std::fs::read_to_string(&over).unwrap()),
        )
        .unwrap();
        let output = publish(
            &url,
            &[
                &["--data-file", lines.to_str().unwrap(), "--lines"][..],
                args,
            ]
            .concat(),
        );
        assert_usage_error(&output, "line 2: the event is");
        assert!(
            server.stream_names().is_empty(),
            "{name}: nothing published"
        );
    }
    let output = publish(
        &url,
        &[
            "--data-file",
            &event_file(dir.path(), "issue.json", MIB - 1),
        ],
    );
    assert_usage_error(&output, "--data-file");
    for (args, room) in [
        (&[][..], MIB - ID_HEADERS),
        (&["-H", "Trace-Id: 42"][..], MIB - ID_HEADERS - trace),
    ] {
        let at = event_file(dir.path(), "at.json", room);
        let output = publish(&url, &[&["--data-file", &at][..], args].concat());
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 2);
}

/// A server whose max_payload is below 1 MiB decides only once connected:
/// one line naming --data-file and the server's limit, exit 1, nothing
/// stored; an event that fits with its headers is stored.
#[test]
fn an_event_over_the_servers_max_payload_with_its_headers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("server.conf");
    std::fs::write(&conf, "max_payload: 4096\n").unwrap();
    let server = NatsServer::start_with(&["-js", "-c", conf.to_str().unwrap()]);
    let url = server.url();
    let over = event_file(dir.path(), "over.json", 4096 - ID_HEADERS + 1);
    let output = publish(&url, &["--data-file", &over]);
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with(&format!("Error: --data-file {over}: ")),
        "{err}"
    );
    assert!(
        err.contains("the 4096 bytes the server takes (its max_payload)"),
        "{err}"
    );
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 0);
    let at = event_file(dir.path(), "at.json", 4096 - ID_HEADERS);
    let output = publish(&url, &["--data-file", &at]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 1);
}

/// A writer process, killed when the test ends, however it ends: one that
/// waits to open a FIFO nobody reads would wait forever.
struct Writer(std::process::Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes a FIFO at `path` (`mkfifo`).
fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A FIFO or a standard input whose writer keeps it open without writing:
/// `--data-file` gives up after `--read-timeout` without a byte, with one
/// line naming the flags, exit 2, nothing published (issue #29: it waited
/// forever).
#[test]
fn a_data_file_that_never_closes_gives_up_after_read_timeout() {
    let url = dead_url();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.fifo");
    mkfifo(&fifo);
    // A writer that opens the FIFO and never writes or closes it.
    let writer = Writer(
        Command::new("sh")
            .args(["-c", r#"exec sleep 120 > "$0""#])
            .arg(&fifo)
            .spawn()
            .unwrap(),
    );
    let fifo = fifo.to_str().unwrap();
    for args in [
        &["--data-file", fifo][..],
        &["--data-file", fifo, "--lines"][..],
    ] {
        let output = publish(&url, &[args, &["--read-timeout", "500ms"]].concat());
        assert_usage_error(&output, &format!("nothing came from {fifo} for 500ms"));
        assert_usage_error(&output, "--read-timeout");
    }
    drop(writer);
    // Standard input: a pipe whose writing end this test holds open.
    use std::process::Stdio;
    let args = ["--data-file", "-", "--read-timeout", "500ms"];
    let mut child = common::command(env!("CARGO_BIN_EXE_publish"), &url, &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let held = child.stdin.take();
    let exited = common::poll(common::DEADLINE, Duration::from_millis(50), || {
        child.try_wait().unwrap()
    });
    drop(held);
    if exited.is_none() {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(exited.is_some(), "publish --data-file - still waits");
    assert_usage_error(&output, "nothing came from standard input for 500ms");
}

/// The deadline counts from the last bytes that came: a writer that keeps
/// writing, slowly, is waited for past it.
#[test]
fn a_slow_writer_that_keeps_writing_is_waited_for() {
    let server = common::NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("event.fifo");
    mkfifo(&fifo);
    // 8 spaces a quarter second apart, then the event: 2 s in all.
    let writer = Writer(
        Command::new("sh")
            .args([
                "-c",
                r#"exec > "$0"; for i in 1 2 3 4 5 6 7 8; do printf ' '; sleep 0.25; done; echo '{"id":"9"}'"#,
            ])
            .arg(&fifo)
            .spawn()
            .unwrap(),
    );
    let output = publish(
        &server.url(),
        &[
            "--data-file",
            fifo.to_str().unwrap(),
            "--read-timeout",
            "1500ms",
        ],
    );
    drop(writer);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(server.event_data("TICKET_CREATED", 1), r#"{"id":"9"}"#);
}

/// Empty channels, whitespace and wildcards are usage errors, for both binaries.
#[test]
fn bad_channel_names_are_usage_errors() {
    let url = dead_url();
    for channel in ["", "ticket created", "ticket:*", "tickets.>", ".ticket"] {
        for run in [publish, listen] {
            assert_usage_error(&run(&url, &["--channel", channel]), "--channel");
        }
    }
}

/// Two start positions at once are a usage error.
#[test]
fn conflicting_start_flags_are_usage_errors() {
    let url = dead_url();
    assert_usage_error(
        &listen(&url, &["--deliver-all", "--deliver-last"]),
        "cannot be used",
    );
    assert_usage_error(
        &listen(&url, &["--start-seq", "3", "--since", "10m"]),
        "cannot be used",
    );
    assert_usage_error(
        &listen(&url, &["--queue-group", "g", "--no-queue-group"]),
        "cannot be used",
    );
}

/// Invalid JSON exits 2 before connecting, with the parser's line and column.
#[test]
fn invalid_json_is_a_usage_error_with_line_and_column() {
    let url = dead_url();
    let output = publish(&url, &["--data", "{\"id\": \"1\",\n \"price\": }"]);
    assert_usage_error(&output, "line 2 column 11");
    let output = publish(&url, &["--data", "[1, 2]"]);
    assert_usage_error(&output, "must be a JSON object");
}

/// Counts, durations and URLs out of range are usage errors.
#[test]
fn bad_numbers_durations_and_urls_are_usage_errors() {
    let url = dead_url();
    assert_usage_error(&publish(&url, &["--count", "0"]), "--count");
    assert_usage_error(&publish(&url, &["--count", "-1"]), "--count");
    assert_usage_error(&listen(&url, &["--ack-wait", "30"]), "no unit");
    assert_usage_error(
        &publish(&url, &["--connect-timeout", "0s"]),
        "--connect-timeout",
    );
    assert_usage_error(&publish("nats://localhost:99999", &[]), "--server");
}

/// A durable that exists with another configuration: say what differs and
/// how to start over; `--reset` then starts over.
#[test]
fn durable_with_different_config_says_what_differs() {
    let server = NatsServer::start();
    let url = server.url();
    let durable = ["--durable", "billing", "--no-queue-group"];
    Listener::start(&url, &durable).stop();

    let output = listen(&url, &[&durable[..], &["--ack-wait", "5s"]].concat());
    let err = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("ack wait is 30s, you asked for 5s"), "{err}");
    assert!(err.contains("--reset"), "{err}");

    let reset = Listener::start(
        &url,
        &[&durable[..], &["--ack-wait", "5s", "--reset"]].concat(),
    );
    assert!(
        reset.stderr().contains("Deleted the durable 'billing'"),
        "{}",
        reset.stderr()
    );
    reset.stop();
}

/// Bad input, tried wholesale: every case exits 2 with one line on stderr,
/// prints nothing on stdout, and neither panics nor
/// shows a backtrace. What each case says is `tests/snapshots/bad-input.snap`:
/// a change of wording shows in review as a change of that file.
#[test]
fn every_bad_input_is_one_line_and_exit_2() {
    use std::os::unix::ffi::OsStrExt;
    let url = dead_url();
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_str().unwrap().to_owned();
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap().to_owned();
    let long = "x".repeat(300);
    let bad_lines = dir.path().join("bad.jsonl");
    std::fs::write(&bad_lines, "{\"id\":\"1\"}\n\n[2]\n").unwrap();
    let bad_lines = bad_lines.to_str().unwrap().to_owned();
    let cases: &[(&str, &[&str])] = &[
        // Malformed URLs and ports out of range.
        ("publish", &["--server", "nats://localhost:65536"]),
        ("publish", &["--server", "nats://:::"]),
        ("listen", &["--server", "nats://localhost:-1"]),
        ("listen", &["--server", ","]),
        // Zero, negative and huge counts.
        ("publish", &["--count", "0"]),
        ("publish", &["--count", "-5"]),
        ("publish", &["--count", "99999999999999999999"]),
        ("publish", &["--count", "1000000001"]),
        ("listen", &["--count", "0"]),
        ("listen", &["--count", "-1"]),
        // Durations without units, or nonsense.
        ("listen", &["--ack-wait", "30"]),
        ("listen", &["--ack-wait", "soon"]),
        ("listen", &["--since", "10"]),
        ("publish", &["--connect-timeout", "5"]),
        // Durations out of range: no panic, no wrap-around.
        ("listen", &["--since", "4294967295h"]),
        ("listen", &["--ack-wait", "4294967295h"]),
        ("listen", &["--ack-wait", "99999999999999999999ms"]),
        ("publish", &["--connect-timeout", "2h"]),
        // Files past their limit, or not what the flag needs.
        ("publish", &["--data-file", "/dev/zero"]),
        ("publish", &["--creds", "/dev/zero"]),
        ("listen", &["--tls-ca", "/dev/zero"]),
        ("listen", &["--tls-ca", "Cargo.toml"]),
        // Names longer than the server takes.
        ("publish", &["--channel", &long]),
        ("listen", &["--queue-group", &long]),
        ("listen", &["--durable", &long]),
        ("publish", &["--client-id", &long]),
        // --data that is not JSON, or is JSON but not an object.
        ("publish", &["--data", "{oops}"]),
        ("publish", &["--data", "42"]),
        ("publish", &["--data", "\"text\""]),
        ("publish", &["--data", "null"]),
        // A data file that is missing or is a directory.
        ("publish", &["--data-file", &missing]),
        ("publish", &["--data-file", &dir_path]),
        // Channel names with spaces, wildcards or a leading dot.
        ("publish", &["--channel", "ticket created"]),
        ("publish", &["--channel", "ticket.*"]),
        ("listen", &["--channel", "ticket.>"]),
        ("listen", &["--channel", ".ticket"]),
        // Names and numbers that cannot be consumer settings.
        ("listen", &["--durable", "a.b"]),
        ("listen", &["--queue-group", "has space"]),
        ("listen", &["--max-deliver", "0"]),
        ("listen", &["--start-seq", "0"]),
        ("publish", &["--replicas", "0"]),
        // Flags that need each other.
        ("publish", &["--user", "ana"]),
        ("publish", &["--tls-cert", "cert.pem"]),
        ("listen", &["--reset", "--no-queue-group"]),
        ("publish", &["--watch"]),
        // listen's flow, settle and output flags (issue #14).
        ("listen", &["--max-in-flight", "0"]),
        // Redelivery with backoff, and where given-up events go (issue #21).
        ("listen", &["--backoff", ""]),
        ("listen", &["--backoff", "5s,1s"]),
        ("listen", &["--backoff", "1s,,2s"]),
        ("listen", &["--backoff", "1s,2s", "--max-deliver", "2"]),
        ("listen", &["--backoff", "1s", "--ack-wait", "5s"]),
        ("listen", &["--dead-letter", "ticket:dead"]),
        (
            "listen",
            &["--dead-letter", "ticket:created", "--max-deliver", "2"],
        ),
        ("listen", &["--fail-on", "0"]),
        ("listen", &["--max-in-flight", "10001"]),
        ("listen", &["--start-time", "yesterday"]),
        // Times nats-server cannot take (issue #29: a panic, exit 101).
        (
            "listen",
            &[
                "--no-queue-group",
                "--start-time",
                "0000-01-01T00:00:00+00:01",
            ],
        ),
        (
            "listen",
            &[
                "--no-queue-group",
                "--start-time",
                "9999-12-31T23:59:59-23:59",
            ],
        ),
        ("listen", &["--start-time", "2024-05-01T12:00:00"]),
        (
            "listen",
            &["--start-time", "2024-05-01T12:00:00Z", "--deliver-all"],
        ),
        ("listen", &["--since", "1w"]),
        ("listen", &["--since", "1.5h"]),
        ("listen", &["--nak", "soon"]),
        ("listen", &["--nak", "0ms"]),
        ("listen", &["--nak", "--skip-ack"]),
        ("listen", &["--nak", "--term"]),
        ("listen", &["--term", "--delay", "1s"]),
        ("listen", &["--until-caught-up", "--skip-ack"]),
        ("listen", &["--until-caught-up", "--nak"]),
        ("listen", &["--color", "sometimes"]),
        ("listen", &["-t", "--json"]),
        // --lines: a bad line, by number, before anything is published; and
        // the flags it does not combine with.
        ("publish", &["--data-file", &bad_lines, "--lines"]),
        ("publish", &["--lines"]),
        (
            "publish",
            &["--data-file", &bad_lines, "--lines", "--count", "2"],
        ),
        (
            "publish",
            &["--data-file", &bad_lines, "--lines", "--watch"],
        ),
        ("publish", &["--data-file", ""]),
        // Headers that NATS cannot carry, or that are JetStream's own.
        ("publish", &["-H", "Trace-Id"]),
        ("publish", &["-H", "Trace Id: 1"]),
        ("publish", &["-H", ": 1"]),
        ("publish", &["--header", "Nats-Msg-Id: 1"]),
        // A value ending in spaces, which every NATS client trims on reading.
        ("publish", &["-H", "Trace-Id: 42  "]),
        // Output modes that exclude each other.
        ("publish", &["--json", "--quiet"]),
        // A shell without completions; a context name that is not a file name.
        ("listen", &["--completions", "tcsh"]),
        ("publish", &["--context", "../secrets"]),
        ("listen", &["--context", "course"]),
    ];
    let bins = |name: &str| match name {
        "publish" => env!("CARGO_BIN_EXE_publish"),
        "status" => env!("CARGO_BIN_EXE_status"),
        _ => env!("CARGO_BIN_EXE_listen"),
    };
    // Each run gets only RUST_BACKTRACE (a panic would show one), and a URL
    // where nothing listens unless the case gives --server.
    let command = |name: &str| {
        let mut command = Command::new(bins(name));
        command.env_clear().env("RUST_BACKTRACE", "1");
        command
    };
    let mut snapshot = String::new();
    for (name, args) in cases {
        let mut command = command(name);
        if !args.contains(&"--server") {
            command.args(["--server", &url]);
        }
        let output = run(command.args(*args));
        usage_error(&output);
        snapshot.push_str(&shown(name, args, &output));
    }
    // natscli contexts whose secrets an error could quote (issue #29): a
    // url with a password (with a space, a quote, or short), a password
    // that is a number (serde_json's message quotes it); then the first as
    // the selected context, which every command reads, even with --server.
    let contexts = dir.path().join(".config/nats/context");
    std::fs::create_dir_all(&contexts).unwrap();
    let context_cases: &[(&str, &str)] = &[
        ("c2", r#"{"url":"u:ctxSecret2@bad host:1"}"#),
        ("space", r#"{"url":"u:ctx Secret2@bad host:1"}"#),
        ("quote", r#"{"url":"u:ctx\"Secret2@bad host:1"}"#),
        ("short", r#"{"url":"u:Q9@bad host:1"}"#),
        (
            "number",
            r#"{"url":"nats://127.0.0.1:1","user":"u","password": 98765432}"#,
        ),
    ];
    let hidden = ["Secret2", "98765432", "Q9"];
    let in_home = |name: &str, args: &[&str]| {
        let mut command = command(name);
        command.env("HOME", dir.path()).args(["--server", &url]);
        let output = run(command.args(args));
        usage_error(&output);
        for secret in hidden {
            assert!(
                !text(&output.stderr).contains(secret),
                "{}",
                text(&output.stderr)
            );
        }
        output
    };
    for (context, json) in context_cases {
        std::fs::write(contexts.join(format!("{context}.json")), json).unwrap();
        let args = ["--context", context];
        let case = shown("publish", &args, &in_home("publish", &args));
        snapshot.push_str(&case.replacen('\n', &format!("  # {context}.json: {json}\n"), 1));
    }
    std::fs::write(dir.path().join(".config/nats/context.txt"), "c2").unwrap();
    for name in ["publish", "listen", "status"] {
        let case = shown(name, &["--server", &url], &in_home(name, &[]));
        snapshot.push_str(&case.replacen('\n', "  # context.txt: c2\n", 1));
    }
    // Non-UTF-8 bytes in arguments.
    let bad = std::ffi::OsStr::from_bytes(b"ticket\xff");
    for name in ["publish", "listen"] {
        let output = run(command(name).arg("--channel").arg(bad));
        assert_usage_error(&output, "UTF-8");
        snapshot.push_str(&shown(name, &["--channel", "ticket\\xff"], &output));
    }
    // The test's own folder and URL are not part of what the tools say.
    let snapshot = snapshot
        .replace(&dir_path, "[TEMP DIR]")
        .replace(&url, "[DEAD URL]");
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("bad-input", snapshot);
    });
}

/// One case as the snapshot shows it: the command line (a long argument
/// cut short), the exit code, and stderr.
fn shown(name: &str, args: &[&str], output: &Output) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|arg| match arg.chars().next() {
            Some(first) if arg.len() > 60 && arg.chars().all(|c| c == first) => {
                format!("<{} × {first}>", arg.len())
            }
            _ if arg.is_empty() || arg.contains(char::is_whitespace) => format!("'{arg}'"),
            _ => arg.to_string(),
        })
        .collect();
    format!(
        "$ {name} {}\n? {}\n{}\n",
        args.join(" "),
        output
            .status
            .code()
            .map_or("signal".into(), |c| c.to_string()),
        text(&output.stderr)
    )
}
