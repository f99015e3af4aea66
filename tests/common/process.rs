//! The built binaries, run to completion or in the background.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::DEADLINE;

/// A command for one of the binaries, with `--server` and none of the
/// caller's `NATS_URL` or `NATS_CLIENT_ID`.
pub fn command(bin: &str, server: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_remove("NATS_URL")
        .env_remove("NATS_CLIENT_ID")
        .args(["--server", server])
        .args(args);
    cmd
}

/// Runs `publish` to completion.
pub fn publish(server: &str, args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_publish"), server, args)
        .output()
        .expect("run publish")
}

/// Runs `listen` to completion (give it `--count`).
pub fn listen(server: &str, args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_listen"), server, args)
        .output()
        .expect("run listen")
}

/// Runs `publish` and fails the test unless it succeeds.
pub fn publish_ok(server: &str, args: &[&str]) -> String {
    let output = publish(server, args);
    assert!(
        output.status.success(),
        "publish {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The event numbers in `Received event #N` lines, in order.
pub fn received(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Received event #"))
        .filter_map(|rest| rest.split(',').next()?.parse().ok())
        .collect()
}

/// A `listen` (or `publish --watch`) process in the background.
pub type Listener = Running;

/// One of the binaries, running in the background, its output collected.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `listen` and waits until it says it is connected.
    pub fn start(server: &str, args: &[&str]) -> Running {
        let listener = Running::spawn(env!("CARGO_BIN_EXE_listen"), server, args);
        listener.wait_for_stdout("Listener connected to NATS");
        listener
    }

    /// Starts `listen` without waiting for it to connect.
    pub fn launch(server: &str, args: &[&str]) -> Running {
        Running::spawn(env!("CARGO_BIN_EXE_listen"), server, args)
    }

    /// Starts `publish` with these arguments (`--watch`, say) in the background.
    pub fn publish(server: &str, args: &[&str]) -> Running {
        Running::spawn(env!("CARGO_BIN_EXE_publish"), server, args)
    }

    fn spawn(bin: &str, server: &str, args: &[&str]) -> Running {
        let mut child = command(bin, server, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start binary");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The event numbers it printed so far.
    pub fn received(&self) -> Vec<u64> {
        received(&self.stdout())
    }

    /// Waits until stderr contains `text`.
    pub fn wait_for_stderr(&self, text: &str) {
        self.wait_until(&format!("stderr to contain {text:?}"), |l| {
            l.stderr().contains(text)
        });
    }

    /// Waits until stdout contains `text`.
    pub fn wait_for_stdout(&self, text: &str) {
        self.wait_until(&format!("stdout to contain {text:?}"), |l| {
            l.stdout().contains(text)
        });
    }

    /// Waits until it has printed `n` events.
    pub fn wait_for_events(&self, n: usize) -> Vec<u64> {
        self.wait_until(&format!("{n} events"), |l| l.received().len() >= n);
        self.received()
    }

    /// Polls `condition` until it holds, failing the test after [`DEADLINE`].
    pub fn wait_until(&self, what: &str, condition: impl Fn(&Running) -> bool) {
        let start = Instant::now();
        while !condition(self) {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "listener did not exit\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGINT and checks that it closed cleanly.
    pub fn stop(mut self) -> String {
        self.signal("INT");
        let status = self.wait_exit();
        assert!(
            status.success(),
            "listener exited with {status}: {}",
            self.stderr()
        );
        self.wait_for_stdout("NATS connection closed!");
        self.stdout()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects everything a pipe delivers, line by line, in the background.
pub fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}
