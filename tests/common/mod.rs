//! Test helpers: a real `nats-server` per test, and the built binaries.
//!
//! [`NatsServer`] starts `nats-server` on a random port with a temporary
//! store and kills it on drop. [`Running`] runs a binary (`listen`, or
//! `publish --watch`) in the background and collects what it prints, so tests can wait for a line with
//! a deadline instead of sleeping. [`cluster`] runs a 3-node cluster.

#![allow(dead_code)]

pub mod cluster;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The seed event's JSON.
pub const SEED: &str = r#"{"id":"123","title":"concert","price":20}"#;

pub fn nats_server_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".nats/bin/nats-server");
    if local.exists() {
        return local;
    }
    let on_path = Command::new("nats-server").arg("--version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return PathBuf::from("nats-server");
    }
    panic!(
        "nats-server not found: run `scripts/install-nats-server.sh` (make test does), \
         or set NATS_SERVER_BIN"
    );
}

/// A real nats-server on a random loopback port, killed on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    monitor_port: Option<u16>,
    extra: Vec<String>,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// A server with JetStream, as `make server` runs it.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&["-js"])
    }

    /// A plain server, without JetStream (like the course's nats-streaming image).
    pub fn start_without_jetstream() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// A JetStream server with its monitoring port open.
    pub fn start_with_monitoring() -> NatsServer {
        NatsServer::start_with(&["-js", "-m", "-1"])
    }

    /// A server started with these extra arguments (a `-c` config file, say).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, port, monitor_port) = spawn_server("-1", store.path(), &extra);
        NatsServer {
            child,
            port,
            monitor_port,
            extra,
            store,
        }
    }

    /// Kills the server at once (SIGKILL), as a crashed pod would die.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends the server a signal (`STOP` to freeze it, `CONT` to go on).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Starts the killed server again on the same port, with the same store.
    pub fn start_again(&mut self) {
        let (child, _, _) = spawn_server(&self.port.to_string(), self.store.path(), &self.extra);
        self.child = child;
    }

    /// The URL to give `--server`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// GETs a page of the monitoring port, e.g. `/connz` or `/jsz?consumers=true`.
    pub fn monitoring(&self, path: &str) -> String {
        use std::io::{Read, Write};
        let port = self.monitor_port.expect("start_with_monitoring");
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("monitor port");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// Runs `f` with a JetStream context on a fresh connection, to look at
    /// or prepare the server's state.
    pub fn with_js<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce(async_nats::jetstream::Context) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        block_on(async {
            let client = async_nats::connect(self.url())
                .await
                .expect("connect test client");
            f(async_nats::jetstream::new(client)).await
        })
    }

    /// How many events the stream holds.
    pub fn stream_event_count(&self, stream: &str) -> u64 {
        self.with_js(|js| async move {
            let mut stream = js.get_stream(stream).await.expect("stream exists");
            stream.info().await.expect("stream info").state.messages
        })
    }

    /// The data of the stream's event at `seq`.
    pub fn event_data(&self, stream: &str, seq: u64) -> String {
        self.with_js(|js| async move {
            let stream = js.get_stream(stream).await.expect("stream exists");
            let message = stream.get_raw_message(seq).await.expect("event exists");
            String::from_utf8(message.payload.to_vec()).expect("utf-8")
        })
    }

    /// The names of the stream's consumers.
    pub fn consumer_names(&self, stream: &str) -> Vec<String> {
        use futures_util::TryStreamExt;
        self.with_js(|js| async move {
            let stream = js.get_stream(stream).await.expect("stream exists");
            stream
                .consumer_names()
                .try_collect()
                .await
                .expect("consumer names")
        })
    }

    /// The names of all streams.
    pub fn stream_names(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        self.with_js(
            |js| async move { js.stream_names().try_collect().await.expect("stream names") },
        )
    }
}

/// Starts nats-server on `port` (`-1` for a random one) and waits until it
/// is ready; returns it with its client and monitoring ports.
fn spawn_server(
    port: &str,
    store: &std::path::Path,
    extra: &[String],
) -> (Child, u16, Option<u16>) {
    let mut child = Command::new(nats_server_bin())
        .args(["-a", "127.0.0.1", "-p", port, "-sd"])
        .arg(store)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nats-server");
    // The server logs its ports, then "Server is ready".
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut port, mut monitor_port) = (None, None);
        let port_of = |rest: &str| rest.trim().rsplit(':').next()?.parse::<u16>().ok();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                port = port_of(rest);
            }
            if let Some(rest) = line.split("Starting http monitor on ").nth(1) {
                monitor_port = port_of(rest);
            }
            if line.contains("Server is ready")
                && let Some(port) = port
            {
                let _ = tx.send((port, monitor_port));
            }
        }
    });
    match rx.recv_timeout(DEADLINE) {
        Ok((port, monitor_port)) => (child, port, monitor_port),
        Err(_) => {
            let _ = child.kill();
            panic!("nats-server did not become ready");
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.store;
    }
}

/// Runs a future to completion on a small runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

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
