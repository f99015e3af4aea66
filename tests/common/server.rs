//! The nats-server each test starts for itself: [`NatsServer`], on random
//! loopback ports with a temporary store, killed on drop; and the loopback
//! helpers around it (free ports, the monitoring port's pages).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::{DEADLINE, block_on};

/// The nats-server to run, found once: `NATS_SERVER_BIN`, else
/// `.nats/bin/nats-server` (where `scripts/install-nats-server.sh` puts it),
/// else the one on `PATH`; always the program itself, never a launcher
/// script in front of it (see [`find_nats_server`]).
pub fn nats_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        find_nats_server(
            std::env::var_os("NATS_SERVER_BIN"),
            &super::repo_root().join(".nats/bin/nats-server"),
            std::env::var_os("PATH"),
        )
    })
    .clone()
}

/// The nats-server binary that `explicit` (a `NATS_SERVER_BIN`) names, else
/// `local` if it exists, else `nats-server` in the folders of `path` (a
/// `PATH`), as the binary itself: its symlinks followed or, when it is a
/// launcher script (a pyenv shim, which picks the program by the name it is
/// called by), the program the script runs ([`program_behind`]). The tests
/// start it under other names (`kubectl`), which a launcher would refuse.
pub fn find_nats_server(
    explicit: Option<OsString>,
    local: &Path,
    path: Option<OsString>,
) -> PathBuf {
    let found = explicit
        .map(PathBuf::from)
        .or_else(|| local.exists().then(|| local.to_owned()))
        .or_else(|| {
            std::env::split_paths(&path.unwrap_or_default())
                .map(|dir| dir.join("nats-server"))
                .find(|program| program.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "nats-server not found: run `scripts/install-nats-server.sh` (make test does), \
                 or set NATS_SERVER_BIN"
            )
        });
    if is_script(&found) {
        // Started by the name it was found by: the name tells a launcher
        // which program to run.
        let found = std::path::absolute(&found).expect("absolute path");
        program_behind(&found)
    } else {
        std::fs::canonicalize(&found)
            .unwrap_or_else(|err| panic!("nats-server {}: {err}", found.display()))
    }
}

/// True if `program` is a script (it starts with `#!`), not a binary.
fn is_script(program: &Path) -> bool {
    let mut start = [0; 2];
    std::fs::File::open(program)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| &start == b"#!")
}

/// The binary that the launcher script `launcher` runs as nats-server:
/// started once as a plain server, its process's `/proc/<pid>/exe` is the
/// real program, whatever the script did to find it.
fn program_behind(launcher: &Path) -> PathBuf {
    let store = tempfile::tempdir().expect("temp dir");
    let (mut child, _, _) = spawn_server(launcher, "-1", store.path(), &[]);
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id()));
    let _ = child.kill();
    let _ = child.wait();
    let exe = exe.unwrap_or_else(|err| {
        panic!(
            "{} is a launcher script, and which program it runs is unknown \
             (/proc: {err}): set NATS_SERVER_BIN to the nats-server binary itself",
            launcher.display()
        )
    });
    // A launcher that runs the server as its child, rather than in its
    // place, leaves its interpreter there.
    let version = Command::new(&exe).arg("--version").output();
    assert!(
        version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("nats-server")),
        "{} is a launcher script that runs nats-server as a child of {}: \
         set NATS_SERVER_BIN to the nats-server binary itself",
        launcher.display(),
        exe.display()
    );
    exe
}

/// A real nats-server on a random loopback port, killed on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    monitor_port: Option<u16>,
    program: PathBuf,
    extra: Vec<OsString>,
    store: tempfile::TempDir,
    /// The folder of the link that names `program` otherwise ([`NatsServer::start_named`]).
    _link: Option<tempfile::TempDir>,
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

    /// A JetStream server with its monitoring port open, on a random port too.
    pub fn start_with_monitoring() -> NatsServer {
        NatsServer::start_with(&["-js", "-m", "-1"])
    }

    /// A server started with these extra arguments (a `-c` config file, say).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        NatsServer::start_as(&nats_server_bin(), extra)
    }

    /// `program` started as a server with these extra arguments.
    pub fn start_as(program: &Path, extra: &[&str]) -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir");
        let extra: Vec<OsString> = extra.iter().map(OsString::from).collect();
        let (child, port, monitor_port) = spawn_server(program, "-1", store.path(), &extra);
        NatsServer {
            child,
            port,
            monitor_port,
            program: program.to_owned(),
            extra,
            store,
            _link: None,
        }
    }

    /// The nats-server binary `program` started under the name `name`
    /// (`kubectl`, as the process listening on a forwarded port is named),
    /// through a symlink of that name: the kernel names a process after the
    /// file it runs, which is what `ss` and `ps` show. `program` must be the
    /// binary itself ([`nats_server_bin`]), not a launcher that picks what to
    /// run by its name.
    pub fn start_named(program: &Path, name: &str, extra: &[&str]) -> NatsServer {
        let link = tempfile::tempdir().expect("temp dir");
        let named = link.path().join(name);
        std::os::unix::fs::symlink(program, &named)
            .unwrap_or_else(|err| panic!("symlink {} as {name}: {err}", program.display()));
        let mut server = NatsServer::start_as(&named, extra);
        server._link = Some(link);
        server
    }

    /// Kills the server at once (SIGKILL), as a crashed pod would die.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends the server a signal (`STOP` to freeze it, `CONT` to go on).
    pub fn signal(&self, name: &str) {
        super::signal(self.pid(), name);
    }

    /// Starts the killed server again on the same port, with the same store.
    pub fn start_again(&mut self) {
        let port = self.port.to_string();
        let (child, _, _) = spawn_server(&self.program, &port, self.store.path(), &self.extra);
        self.child = child;
    }

    /// The folder of its JetStream store.
    pub fn store(&self) -> &Path {
        self.store.path()
    }

    /// A client connected to it.
    pub async fn connect(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to the test server")
    }

    /// The URL to give `--server`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The monitoring port's URL, as `NATS_MONITOR_URL` takes it.
    pub fn monitor_url(&self) -> String {
        let port = self.monitor_port.expect("start_with_monitoring");
        format!("http://127.0.0.1:{port}")
    }

    /// The body of a page of the monitoring port, e.g. `/connz` or `/jsz?consumers=true`.
    pub fn monitoring(&self, path: &str) -> String {
        let port = self.monitor_port.expect("start_with_monitoring");
        monitoring_page(port, path).unwrap_or_else(|| panic!("no answer from {path}"))
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

/// Starts `program` as nats-server on `port` (`-1` for a random one) and
/// waits until it is ready; returns it with its client and monitoring ports.
fn spawn_server(
    program: &Path,
    port: &str,
    store: &Path,
    extra: &[OsString],
) -> (Child, u16, Option<u16>) {
    let mut child = Command::new(program)
        .args(["-a", "127.0.0.1", "-p", port, "-sd"])
        .arg(store)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("start {}: {err}", program.display()));
    // The server logs its ports, then "Server is ready". The log is read to
    // its end, so that the server never blocks on a full pipe.
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut port, mut monitor_port) = (None, None);
        let port_of = |rest: &str| rest.trim().rsplit(':').next()?.parse::<u16>().ok();
        let (mut log, mut ready) = (Vec::new(), false);
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
                ready = true;
                let _ = tx.send(Ok((port, monitor_port)));
            }
            if !ready {
                log.push(line);
            }
        }
        if !ready {
            // It exited before it was ready: say what it said.
            let _ = tx.send(Err(log.join("\n")));
        }
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok((port, monitor_port))) => (child, port, monitor_port),
        Ok(Err(log)) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nats-server exited before it was ready:\n{log}");
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nats-server did not become ready within {DEADLINE:?}");
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` different ports, free on 127.0.0.1 when this returns: all bound at
/// once (so they differ), then released.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A URL where nothing listens: a port that was free a moment ago.
pub fn dead_url() -> String {
    format!("nats://127.0.0.1:{}", free_ports(1)[0])
}

/// True if something accepts connections on 127.0.0.1:`port`.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// The body of the page `path` (`/jsz?streams=true`, say) of the
/// monitoring port `port` on 127.0.0.1, or `None` while it does not answer.
pub fn monitoring_page(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some(body.to_owned())
}

/// [`monitoring_page`], read as JSON.
pub fn monitoring_json(port: u16, path: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&monitoring_page(port, path)?).ok()
}
