//! The processes the tests run: the built binaries (`publish`, `listen`, `status`),
//! the examples and the scripts. [`run`] runs one to its end within a
//! deadline; [`Running`] runs one in the background and collects what it
//! prints as it comes, so that a test waits for a line with a deadline
//! instead of sleeping.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DEADLINE, RUN_DEADLINE, nats_server_bin, poll, repo_root, signal};

/// Where the tests' commands look for natscli contexts: nowhere, so that a
/// context the developer selected changes no test.
pub const NO_CONFIG: &str = "/nonexistent/nats-course-toolkit-tests";

/// A command for one of the binaries, with `--server` and none of the
/// caller's `NATS_URL`, `NATS_CLIENT_ID` or natscli context.
pub fn command(bin: &str, server: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_remove("NATS_URL")
        .env_remove("NATS_CLIENT_ID")
        .env_remove("NATS_CONTEXT")
        .env("XDG_CONFIG_HOME", NO_CONFIG)
        .args(["--server", server])
        .args(args);
    cmd
}

/// `scripts/<name>` as `make` runs it: from the repository root, with the
/// test's nats-server and the binaries cargo built (`NATS_SERVER_BIN`,
/// `PUBLISH_BIN`, `LISTEN_BIN`), and none of the caller's NATS settings.
pub fn script(name: &str) -> Command {
    let mut command = Command::new(repo_root().join("scripts").join(name));
    command
        .current_dir(repo_root())
        .env("NATS_SERVER_BIN", nats_server_bin())
        .env("PUBLISH_BIN", env!("CARGO_BIN_EXE_publish"))
        .env("LISTEN_BIN", env!("CARGO_BIN_EXE_listen"))
        .env("STATUS_BIN", env!("CARGO_BIN_EXE_status"))
        .stdin(Stdio::null());
    for var in [
        "NATS_URL",
        "NATS_PORT",
        "NATS_MONITOR_PORT",
        "NATS_MONITOR_URL",
        "NATS_DIR",
        "NATS_CLIENT_ID",
        "NATS_CONTEXT",
    ] {
        command.env_remove(var);
    }
    command.env("XDG_CONFIG_HOME", NO_CONFIG);
    command
}

/// Runs `command` to its end and returns what it printed; kills it and
/// fails the test if it runs longer than [`RUN_DEADLINE`].
pub fn run(command: &mut Command) -> Output {
    Running::spawn(&format!("{command:?}"), command).finish()
}

/// Runs `publish` to completion.
pub fn publish(server: &str, args: &[&str]) -> Output {
    run(&mut command(env!("CARGO_BIN_EXE_publish"), server, args))
}

/// Runs `listen` to completion (give it `--count`).
pub fn listen(server: &str, args: &[&str]) -> Output {
    run(&mut command(env!("CARGO_BIN_EXE_listen"), server, args))
}

/// Runs `status` to completion.
pub fn status(server: &str, args: &[&str]) -> Output {
    run(&mut command(env!("CARGO_BIN_EXE_status"), server, args))
}

/// Runs `status --json` and returns its document, failing the test unless it succeeds.
pub fn status_json(server: &str, args: &[&str]) -> serde_json::Value {
    let output = status(server, &[&["--json"], args].concat());
    assert!(
        output.status.success(),
        "status --json {args:?} failed: {}",
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("status --json prints JSON")
}

/// Runs `publish` and fails the test unless it succeeds.
pub fn publish_ok(server: &str, args: &[&str]) -> String {
    let output = publish(server, args);
    assert!(
        output.status.success(),
        "publish {args:?} failed: {}",
        text(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Output bytes as text (invalid UTF-8 shown as U+FFFD).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

/// A process running in the background, its output collected.
pub struct Running {
    /// What it is, for messages: `listen`, a command line, a script's name.
    what: String,
    child: Child,
    /// Whether it leads a process group of its own (a script, with the
    /// processes it starts).
    group: bool,
    stdout: Collected,
    stderr: Collected,
}

impl Running {
    /// Starts `listen` and waits until it says it is connected.
    pub fn start(server: &str, args: &[&str]) -> Running {
        let listener = Running::launch(server, args);
        listener.wait_for_stdout("Listener connected to NATS");
        listener
    }

    /// Starts `listen` without waiting for it to connect.
    pub fn launch(server: &str, args: &[&str]) -> Running {
        let bin = env!("CARGO_BIN_EXE_listen");
        Running::spawn("listen", &mut command(bin, server, args))
    }

    /// Starts `publish` with these arguments (`--watch`, say) in the background.
    pub fn publish(server: &str, args: &[&str]) -> Running {
        let bin = env!("CARGO_BIN_EXE_publish");
        Running::spawn("publish", &mut command(bin, server, args))
    }

    /// Starts `command`, its stdout and stderr collected apart, its stdin empty.
    pub fn spawn(what: &str, command: &mut Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_when_written(command)
            .unwrap_or_else(|err| panic!("could not start {what}: {err}"));
        let stdout = Collected::from(child.stdout.take().expect("stdout"));
        let stderr = Collected::from(child.stderr.take().expect("stderr"));
        Running {
            what: what.to_owned(),
            child,
            group: false,
            stdout,
            stderr,
        }
    }

    /// Starts a script in a process group of its own, so that it and every
    /// process it starts can be killed together; its stdout and stderr are
    /// collected together, interleaved as a terminal shows them, in
    /// [`stdout`](Running::stdout). [`finish`](Running::finish) also waits
    /// for the processes it started to end.
    pub fn script(what: &str, command: &mut Command) -> Running {
        let (reader, writer) = std::io::pipe().expect("pipe");
        command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().expect("pipe"))
            .stderr(writer);
        let child = spawn_when_written(command)
            .unwrap_or_else(|err| panic!("could not start {what}: {err}"));
        // `command` holds the pipe's writing end: let it go, so that the
        // pipe closes once the script and its processes have exited.
        command.stdout(Stdio::null()).stderr(Stdio::null());
        Running {
            what: what.to_owned(),
            child,
            group: true,
            stdout: Collected::from(reader),
            stderr: Collected::default(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// What it printed on stdout after its first `from` bytes, and the
    /// length of all it printed: to read a long output as it grows.
    pub fn stdout_from(&self, from: usize) -> (String, usize) {
        let bytes = self.stdout.bytes.lock().unwrap();
        let new = String::from_utf8_lossy(&bytes[from.min(bytes.len())..]).into_owned();
        (new, bytes.len())
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
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
        self.wait_within(what, DEADLINE, condition);
    }

    /// Polls `condition` until it holds, failing the test after `deadline`.
    pub fn wait_within(
        &self,
        what: &str,
        deadline: Duration,
        condition: impl Fn(&Running) -> bool,
    ) {
        let every = Duration::from_millis(20);
        if poll(deadline, every, || condition(self).then_some(())).is_none() {
            panic!(
                "timed out after {deadline:?} waiting for {what} ({})\nstdout:\n{}\nstderr:\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            );
        }
    }

    /// Sends a signal (`INT`, `TERM`, `KILL`, `STOP`, `CONT`).
    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the process to exit, failing the test after [`DEADLINE`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.wait_exit_within(DEADLINE)
    }

    fn wait_exit_within(&mut self, deadline: Duration) -> ExitStatus {
        let every = Duration::from_millis(20);
        match poll(deadline, every, || self.try_wait()) {
            Some(status) => status,
            None => {
                self.kill();
                panic!(
                    "{} did not exit within {deadline:?}\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout(),
                    self.stderr()
                );
            }
        }
    }

    /// Stops `listen` with SIGINT and checks that it closed cleanly.
    pub fn stop(mut self) -> String {
        self.signal("INT");
        let status = self.wait_exit();
        assert!(
            status.success(),
            "{} exited with {status}: {}",
            self.what,
            self.stderr()
        );
        self.wait_for_stdout("NATS connection closed!");
        self.stdout()
    }

    /// Kills it (SIGKILL; a script with every process it started) and reads
    /// what it wrote before it died.
    pub fn kill(&mut self) {
        if self.group {
            signal_group(self.pid(), "KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.read_to_end();
    }

    /// Waits for it to exit, within [`RUN_DEADLINE`], and returns what it printed.
    pub fn finish(self) -> Output {
        self.finish_within(RUN_DEADLINE)
    }

    /// Waits for it to exit, killing it and failing the test after
    /// `deadline`, and returns what it printed. A script's processes are
    /// given [`DEADLINE`] more to end: its clean-up stops them.
    pub fn finish_within(mut self, deadline: Duration) -> Output {
        let status = self.wait_exit_within(deadline);
        if self.group {
            let every = Duration::from_millis(50);
            let ended = poll(DEADLINE, every, || {
                (!signal_group(self.pid(), "0")).then_some(())
            });
            if ended.is_none() {
                signal_group(self.pid(), "KILL");
                panic!("{} left processes running:\n{}", self.what, self.stdout());
            }
        }
        self.read_to_end();
        Output {
            status,
            stdout: self.stdout.take(),
            stderr: self.stderr.take(),
        }
    }

    /// Waits, a few seconds at most, for the pipes to close: their text is
    /// complete once no process holds them, which is at exit unless it left
    /// a process behind.
    fn read_to_end(&mut self) {
        let limit = Instant::now() + Duration::from_secs(5);
        for pipe in [&mut self.stdout, &mut self.stderr] {
            pipe.join_until(limit);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.group {
            signal_group(self.pid(), "KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal to every process of the group `group`; true if there was one.
fn signal_group(group: u32, name: &str) -> bool {
    Command::new("kill")
        .args([&format!("-{name}"), "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Everything a pipe delivers, line by line (a line shows once it is
/// whole), collected in the background.
#[derive(Default)]
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Collected {
    fn from(pipe: impl Read + Send + 'static) -> Collected {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bytes);
        let reader = std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            while pipe.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().append(&mut line);
            }
        });
        Collected {
            bytes,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes.lock().unwrap())
    }

    /// Waits until the pipe has closed and everything is read, or `limit`.
    fn join_until(&mut self, limit: Instant) {
        let Some(reader) = self.reader.take() else {
            return;
        };
        while !reader.is_finished() && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
}

/// Spawns `command`; a script a test has just written may still be open for
/// writing in a child that another test's thread forked meanwhile (until
/// that child's exec closes it), and then exec fails with ETXTBSY ("Text
/// file busy"): tried again, every 10 ms, for at most [`DEADLINE`].
fn spawn_when_written(command: &mut Command) -> std::io::Result<std::process::Child> {
    const ETXTBSY: i32 = 26;
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        match command.spawn() {
            Err(err)
                if err.raw_os_error() == Some(ETXTBSY) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}
