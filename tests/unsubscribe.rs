//! `listen --delete-durable NAME`: the course's durable `unsubscribe()`,
//! against a real nats-server. It says what the subscription holds, asks on
//! a terminal (a pseudo-terminal made by util-linux's `script` here), and
//! deletes it; `--yes` skips the question, and is needed without a terminal.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{NatsServer, command, listen, publish_ok, text};

/// A durable `accounting` that acked #1 and #2 of 3 events.
fn durable_that_acked_two(server: &NatsServer) {
    publish_ok(&server.url(), &["--count", "3"]);
    let first = listen(
        &server.url(),
        &["--durable", "accounting", "--deliver-all", "--count", "2"],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
}

/// `listen ARGS` on a pseudo-terminal, answering `answer` to its question.
fn on_a_terminal(server: &NatsServer, args: &[&str], answer: &str) -> String {
    let listen = command(env!("CARGO_BIN_EXE_listen"), &server.url(), args);
    let line: Vec<String> = std::iter::once(listen.get_program())
        .chain(listen.get_args())
        .map(|word| format!("'{}'", word.to_string_lossy()))
        .collect();
    let mut script = Command::new("script")
        .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .env_remove("NATS_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux's script");
    script
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.as_bytes())
        .expect("answer");
    let output = script.wait_with_output().expect("listen on a terminal");
    assert!(output.status.success(), "{}", text(&output.stdout));
    text(&output.stdout)
}

/// With `--yes` the subscription is deleted at once, after a line on what it
/// held (acked up to #2, 1 not delivered yet).
#[test]
fn delete_durable_with_yes_deletes_it_and_says_what_it_held() {
    let server = NatsServer::start();
    durable_that_acked_two(&server);
    let output = listen(&server.url(), &["--delete-durable", "accounting", "--yes"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("acked up to #2, 0 waiting for an ack, 1 not delivered yet"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Deleted subscription accounting of ticket:created"),
        "{stdout}"
    );
    assert!(server.consumer_names("TICKET_CREATED").is_empty());
}

/// On a terminal it asks first: `y` deletes, anything else deletes nothing.
#[test]
fn delete_durable_asks_on_a_terminal_and_only_yes_deletes() {
    let server = NatsServer::start();
    durable_that_acked_two(&server);
    let args = ["--delete-durable", "accounting"];
    let said = on_a_terminal(&server, &args, "n\n");
    assert!(said.contains("Delete it? [y/N]"), "{said}");
    assert!(said.contains("Nothing deleted."), "{said}");
    assert_eq!(server.consumer_names("TICKET_CREATED"), ["accounting"]);
    let said = on_a_terminal(&server, &args, "y\n");
    assert!(said.contains("Deleted subscription accounting"), "{said}");
    assert!(server.consumer_names("TICKET_CREATED").is_empty());
}

/// Without a terminal to ask on and without `--yes`: a usage error (exit 2)
/// saying to add `--yes`, and nothing deleted.
#[test]
fn delete_durable_without_a_terminal_needs_yes() {
    let server = NatsServer::start();
    durable_that_acked_two(&server);
    let output = listen(&server.url(), &["--delete-durable", "accounting"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("add --yes"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(server.consumer_names("TICKET_CREATED"), ["accounting"]);
}

/// A name the channel has no subscription of: exit 1, naming those it has.
#[test]
fn delete_durable_of_an_unknown_name_names_the_subscriptions_there_are() {
    let server = NatsServer::start();
    durable_that_acked_two(&server);
    let output = listen(&server.url(), &["--delete-durable", "nosuch", "--yes"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "channel ticket:created has no subscription nosuch; its subscriptions are: accounting"
        ),
        "{stderr}"
    );
}
