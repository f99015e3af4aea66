//! The progress bar of `publish --count N` and `listen --count N`: drawn on
//! a terminal, hidden where it would be noise. The terminal is a
//! pseudo-terminal made by util-linux `script`, and what the command drew on
//! it is what `script` copies to its stdout.

mod common;

use std::process::Command;

use common::{NatsServer, listen, publish_ok, received, run};

/// Runs `shell_line` with a pseudo-terminal as its terminal; what appeared
/// on that terminal.
fn on_terminal(shell_line: &str) -> String {
    let output = run(Command::new("script")
        .args(["--quiet", "--return", "--command", shell_line, "/dev/null"])
        .env_remove("NATS_URL")
        .env_remove("NATS_CLIENT_ID"));
    assert!(
        output.status.success(),
        "{shell_line} failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The bar's words, `<pos>/<total> events, <rate> events/s`.
fn shows_bar(terminal: &str, total: u64) -> bool {
    terminal.contains(&format!("/{total} events, ")) && terminal.contains(" events/s")
}

#[test]
fn publish_count_draws_a_bar_on_a_terminal() {
    let server = NatsServer::start();
    let terminal = on_terminal(&format!(
        "'{}' --server {} --count 50000 >/dev/null",
        env!("CARGO_BIN_EXE_publish"),
        server.url()
    ));
    assert!(shows_bar(&terminal, 50000), "no bar in {terminal:?}");
    assert_eq!(server.stream_event_count("TICKET_CREATED"), 50000);
}

#[test]
fn listen_count_to_a_file_draws_a_bar_on_the_terminal() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", "50000"]);
    let terminal = on_terminal(&format!(
        "'{}' --server {} --deliver-all --no-queue-group --count 50000 >/dev/null",
        env!("CARGO_BIN_EXE_listen"),
        server.url()
    ));
    assert!(shows_bar(&terminal, 50000), "no bar in {terminal:?}");
}

/// With the events printed on the terminal, one line each, the lines are the
/// progress: no bar.
#[test]
fn listen_printing_on_the_terminal_draws_no_bar() {
    let server = NatsServer::start();
    publish_ok(&server.url(), &["--count", "50000"]);
    let terminal = on_terminal(&format!(
        "'{}' --server {} --deliver-all --no-queue-group --count 50000",
        env!("CARGO_BIN_EXE_listen"),
        server.url()
    ));
    assert!(terminal.contains("Received event #50000, with data: "));
    assert!(!terminal.contains(" events/s"), "a bar was drawn");
}

/// Output to a pipe or a file gets no bar, and no terminal codes.
#[test]
fn no_bar_when_stderr_is_not_a_terminal() {
    let server = NatsServer::start();
    let url = server.url();
    publish_ok(&url, &["--count", "50000"]);
    let output = listen(
        &url,
        &["--deliver-all", "--no-queue-group", "--count", "50000"],
    );
    assert!(output.status.success());
    assert_eq!(
        received(&String::from_utf8_lossy(&output.stdout)).len(),
        50000
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(" events/s"), "a bar in {stderr:?}");
    assert!(!stderr.contains('\x1b'), "terminal codes in {stderr:?}");
}
