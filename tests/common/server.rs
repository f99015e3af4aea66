//! The nats-server that each test starts for itself.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{DEADLINE, block_on};

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
