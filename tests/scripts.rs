//! The learners' shell scripts, run as `make` runs them, against real
//! `nats-server` processes on ports and in folders of their own:
//!
//! - `scripts/nats-server.sh ensure` (what `make listen`, `make publish` and
//!   `make demo` run first): it says which server the tools will use, says
//!   loudly when it starts a local one because nothing answered, and never
//!   starts one for a URL that names another server.
//!
//! `tests/port_forward.rs` covers `scripts/port-forward.sh`. Every wait
//! polls with a deadline.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start or stop.
const DEADLINE: Duration = Duration::from_secs(20);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `NATS_SERVER_BIN`, else `.nats/bin/nats-server`, else the one on `PATH`
/// (the order of tests/common).
fn nats_server_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let local = repo().join(".nats/bin/nats-server");
    if local.exists() {
        return local;
    }
    PathBuf::from("nats-server")
}

/// `n` different ports, free on 127.0.0.1 when this returns.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// True if something accepts connections on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// Polls `condition` every 50 ms until it holds; fails after `deadline`.
fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a script printed and how it exited.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn assert_code(&self, code: i32, what: &str) {
        assert_eq!(self.code, Some(code), "{what}:\n{}", self.text());
    }

    fn assert_says(&self, text: &str) {
        assert!(
            self.text().contains(text),
            "should say {text:?}:\n{}",
            self.text()
        );
    }
}

/// `scripts/<name>` from the repository root, with none of the caller's settings.
fn script(name: &str) -> Command {
    let mut command = Command::new(repo().join("scripts").join(name));
    command
        .current_dir(repo())
        .env("NATS_SERVER_BIN", nats_server_bin())
        .stdin(Stdio::null());
    for var in [
        "NATS_URL",
        "NATS_PORT",
        "NATS_MONITOR_PORT",
        "NATS_MONITOR_URL",
        "NATS_DIR",
        "NATS_CLIENT_ID",
    ] {
        command.env_remove(var);
    }
    command
}

fn run(command: &mut Command) -> Ran {
    let output = command.output().expect("run script");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A nats-server that the scripts did not start, as a student may have one
/// running on the port already; killed on drop.
struct Foreign {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

impl Foreign {
    fn start(jetstream: bool) -> Foreign {
        let port = free_ports(1)[0];
        let store = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(nats_server_bin());
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if jetstream {
            command.arg("-js").arg("-sd").arg(store.path());
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        let mut server = Foreign {
            child,
            port,
            _store: store,
        };
        wait_until("the foreign server to listen", DEADLINE, || {
            assert!(
                server.child.try_wait().expect("try_wait").is_none(),
                "nats-server exited at start (port {port} taken?)"
            );
            accepts(port)
        });
        server
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scripts/nats-server.sh` with ports and a `.nats` folder of its own
/// (`NATS_PORT`, `NATS_MONITOR_PORT`, `NATS_DIR`); stops its server on drop.
struct LocalServer {
    dir: tempfile::TempDir,
    port: u16,
    monitor_port: u16,
}

impl LocalServer {
    fn new() -> LocalServer {
        let ports = free_ports(2);
        LocalServer::on(ports[0], ports[1])
    }

    fn on(port: u16, monitor_port: u16) -> LocalServer {
        LocalServer {
            dir: tempfile::tempdir().expect("temp dir"),
            port,
            monitor_port,
        }
    }

    /// The URL of this local server, as a student writes it.
    fn url(&self) -> String {
        format!("nats://localhost:{}", self.port)
    }

    /// Runs `nats-server.sh ARGS` with `NATS_URL` set to `url`.
    fn run(&self, args: &[&str], url: &str) -> Ran {
        run(script("nats-server.sh")
            .args(args)
            .env("NATS_PORT", self.port.to_string())
            .env("NATS_MONITOR_PORT", self.monitor_port.to_string())
            .env("NATS_DIR", self.dir.path())
            .env("NATS_URL", url))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join(format!("run/nats-{}.pid", self.port))
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.run(&["stop"], &self.url());
    }
}

/// A nats-server already on the port, not started by `make server`:
/// `ensure` says it uses that one, that it has JetStream, and starts nothing.
#[test]
fn ensure_names_a_foreign_server_it_uses() {
    let foreign = Foreign::start(true);
    let local = LocalServer::on(foreign.port, free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a server on the port");
    ran.assert_says(&format!(
        "Using the NATS server already running at {} (not started by make server",
        local.url()
    ));
    ran.assert_says("with JetStream");
    assert!(!local.pid_file().exists(), "ensure started no server");
    assert!(
        !accepts(local.monitor_port),
        "no local server's monitoring port"
    );
}

/// A foreign server without JetStream (like the course's nats-streaming):
/// `ensure` still uses it, but says it has no JetStream and what to do.
#[test]
fn ensure_warns_that_a_foreign_server_has_no_jetstream() {
    let foreign = Foreign::start(false);
    let local = LocalServer::on(foreign.port, free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a server without JetStream on the port");
    ran.assert_says("Using the NATS server already running at");
    ran.assert_says("does not announce JetStream");
    ran.assert_says("NATS_URL=nats://localhost:4333");
    assert!(!local.pid_file().exists(), "ensure started no server");
}

/// Nothing answers at the local URL: `ensure` starts the local server in
/// its folder, and says so loudly, with how to reach the cluster instead.
#[test]
fn ensure_says_loudly_that_it_starts_a_local_server_when_nothing_answers() {
    let local = LocalServer::new();
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with nothing on the port");
    ran.assert_says(&format!("Nothing answered at {}", local.url()));
    ran.assert_says("Starting a LOCAL nats-server");
    ran.assert_says("not the NATS server in your Kubernetes cluster");
    ran.assert_says("make port-forward");
    assert!(accepts(local.port), "the local server listens");
    assert!(local.pid_file().exists(), "its pid file is in NATS_DIR");
}

/// The server from `make server` runs: `ensure` says the tools use it.
#[test]
fn ensure_names_the_local_server_from_make_server() {
    let local = LocalServer::new();
    local
        .run(&["start"], &local.url())
        .assert_code(0, "nats-server.sh start");
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with the local server running");
    ran.assert_says(&format!(
        "Using the local NATS server started by make server at {}",
        local.url()
    ));
}

/// A URL that is not the local server's (another local port, as a
/// port-forward to 4333 uses, or another host): `ensure` starts nothing, and
/// says so; when nothing answers at a local address it says that too.
#[test]
fn ensure_never_starts_a_server_for_a_url_that_names_another_server() {
    let local = LocalServer::new();
    let elsewhere = format!("nats://localhost:{}", free_ports(1)[0]);
    let ran = local.run(&["ensure"], &elsewhere);
    ran.assert_code(0, "ensure with NATS_URL on another port");
    ran.assert_says(&format!("Using NATS_URL={elsewhere}"));
    ran.assert_says("no local server is started");
    ran.assert_says(&format!("Nothing answers at {elsewhere}"));
    assert!(!accepts(local.port), "no local server was started");
    assert!(!local.pid_file().exists(), "no pid file either");

    let remote = "nats://user:secret@nats-srv.invalid:4222";
    let ran = local.run(&["ensure"], remote);
    ran.assert_code(0, "ensure with NATS_URL on another host");
    ran.assert_says("Using NATS_URL=nats://user:***@nats-srv.invalid:4222");
    ran.assert_says("no local server is started");
    assert!(!ran.text().contains("secret"), "{}", ran.text());
    assert!(!accepts(local.port), "no local server was started");
}
