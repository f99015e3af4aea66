//! The learners' shell scripts, run as `make` runs them, against real
//! `nats-server` processes on ports and in folders of their own:
//!
//! - `scripts/nats-server.sh ensure` (what `make listen`, `make publish` and
//!   `make demo` run first): it says which server the tools will use, says
//!   loudly when it starts a local one because nothing answered, and never
//!   starts one for a URL that names another server;
//! - `scripts/nats-cluster.sh`: `kill leader CHANNEL` kills the node that
//!   leads the channel's stream, and `status` reads a stream's replica count
//!   from its configuration;
//! - `scripts/demo.sh` (`make demo`): what it prints is what the README's
//!   Quick start shows.
//!
//! `tests/port_forward.rs` covers `scripts/port-forward.sh`. Every wait
//! polls with a deadline.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::cluster::ClusterScript;
use common::{
    NatsServer, Running, accepts, free_ports, nats_server_bin, repo_root, script, text, wait_until,
};

/// How long a cluster may take to form, elect or notice a dead node.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(60);

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

impl From<Output> for Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code(),
            stdout: text(&output.stdout),
            stderr: text(&output.stderr),
        }
    }
}

fn run(command: &mut Command) -> Ran {
    Ran::from(common::run(command))
}

/// A JetStream nats-server whose process is named `kubectl`, as the process
/// listening on a forwarded port is: a server the scripts did not start.
fn start_as_kubectl() -> NatsServer {
    NatsServer::start_named(&nats_server_bin(), "kubectl", &["-js"])
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
        run(&mut self.command(args, url))
    }

    /// `nats-server.sh ARGS` with this server's settings and `NATS_URL`.
    fn command(&self, args: &[&str], url: &str) -> Command {
        let mut command = script("nats-server.sh");
        command
            .args(args)
            .env("NATS_PORT", self.port.to_string())
            .env("NATS_MONITOR_PORT", self.monitor_port.to_string())
            .env("NATS_DIR", self.dir.path())
            .env("NATS_URL", url)
            .env_remove("NATS_STARTED_BY");
        command
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

/// A nats-server already on the port, not started by this toolkit's scripts:
/// `ensure` says it uses that one, that it has JetStream, and starts nothing.
#[test]
fn ensure_names_a_foreign_server_it_uses() {
    let foreign = NatsServer::start();
    let local = LocalServer::on(foreign.port(), free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a server on the port");
    ran.assert_says(&format!(
        "Using the NATS server already running at {} (not started by this toolkit's scripts",
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
    let foreign = NatsServer::start_without_jetstream();
    let local = LocalServer::on(foreign.port(), free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a server without JetStream on the port");
    ran.assert_says("Using the NATS server already running at");
    ran.assert_says("does not announce JetStream");
    ran.assert_says("NATS_URL=nats://localhost:4333");
    assert!(!local.pid_file().exists(), "ensure started no server");
}

/// A port-forward on the port (the listening process is kubectl): `ensure`
/// says the tools use it, that it is the cluster's server, and starts nothing.
#[test]
fn ensure_names_a_port_forward_as_the_clusters_server() {
    let forward = start_as_kubectl();
    let local = LocalServer::on(forward.port(), free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a port-forward on the port");
    if port_owner_is_known(forward.port()) {
        ran.assert_says("kubectl, pid");
        ran.assert_says("your port-forward to the NATS server in your Kubernetes cluster");
    }
    ran.assert_says("with JetStream");
    assert!(!local.pid_file().exists(), "ensure started no server");
}

/// Something listens on the port but never greets as a NATS server does (a
/// port-forward whose pod is gone accepts connections, then drops them):
/// `ensure` says the tools will fail to connect, and starts nothing.
#[test]
fn ensure_says_when_what_listens_is_no_nats_server() {
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().unwrap().port();
    let local = LocalServer::on(port, free_ports(1)[0]);
    let ran = local.run(&["ensure"], &local.url());
    ran.assert_code(0, "ensure with a silent program on the port");
    ran.assert_says("nothing greeted us there as a NATS server does");
    assert!(!local.pid_file().exists(), "ensure started no server");
}

/// True if `ss` can name the process listening on `port` here (it can for
/// our own processes on Linux); the script names the owner only then.
fn port_owner_is_known(port: u16) -> bool {
    Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("pid="))
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
        "Using the local NATS server at {}, started by make server: nats-server v",
        local.url()
    ));
}

/// A local server started on another port (`NATS_PORT=4333 make server`)
/// is the local server for a `NATS_URL` that names that port, even when
/// `NATS_PORT` is not set to it: `ensure` uses it and says who started it.
#[test]
fn ensure_uses_the_local_server_on_the_port_the_url_names() {
    let local = LocalServer::new();
    local
        .run(&["start"], &local.url())
        .assert_code(0, "nats-server.sh start");
    let default_port = free_ports(1)[0].to_string();
    let ran = run(local
        .command(&["ensure"], &local.url())
        .env("NATS_PORT", &default_port));
    ran.assert_code(0, "ensure with NATS_URL on the local server's port");
    ran.assert_says(&format!(
        "Using the local NATS server at {}, started by make server",
        local.url()
    ));
    assert!(
        !ran.text().contains("does not name the local server"),
        "{}",
        ran.text()
    );
}

/// The server says who started it (`make demo` here), and which binary
/// and version it runs; `status` says so too, with the monitoring port it
/// was started with, whatever `NATS_MONITOR_PORT` says now.
#[test]
fn the_local_server_says_who_started_it_which_binary_and_its_monitoring_port() {
    let local = LocalServer::new();
    let ran = run(local
        .command(&["ensure"], &local.url())
        .env("NATS_STARTED_BY", "make demo"));
    ran.assert_code(0, "ensure with nothing on the port");
    // "started by make demo: nats-server v2.14.6 (.nats/bin/nats-server)":
    // that binary is there and is that version.
    let said = ran.text();
    let words = said
        .split("by make demo: nats-server ")
        .nth(1)
        .unwrap_or_else(|| panic!("who started it and which binary: {said}"));
    let (version, rest) = words
        .split_once(" (")
        .expect("the version, then the binary");
    let binary = repo_root().join(rest.split_once(')').expect("(binary)").0);
    let reported = Command::new(&binary).arg("--version").output();
    let reported = text(&reported.expect("the binary it names runs").stdout);
    assert!(
        reported.contains(version),
        "{binary:?} says {reported}, the script {version}"
    );
    let status = run(local
        .command(&["status"], &local.url())
        .env_remove("NATS_MONITOR_PORT"));
    status.assert_code(0, "status with the server running");
    status.assert_says("started by make demo: nats-server");
    status.assert_says(&format!(
        "monitoring http://localhost:{}",
        local.monitor_port
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

/// `make install` puts `publish`, `listen` and `status` where cargo installs
/// (`~/.cargo/bin`, on the PATH rustup sets; a folder of the test's here, and
/// a debug build to keep it short), and they run; `make uninstall` removes them.
#[test]
fn make_install_puts_the_three_commands_on_the_path_and_uninstall_removes_them() {
    let root = tempfile::tempdir().expect("temp dir");
    let make = |target: &str| {
        let mut command = Command::new("make");
        command
            .arg(target)
            .arg("INSTALL_ARGS=--debug")
            .current_dir(repo_root())
            .env("CARGO_INSTALL_ROOT", root.path());
        run(&mut command)
    };
    make("install").assert_code(0, "make install");
    for command in ["publish", "listen", "status"] {
        let bin = root.path().join("bin").join(command);
        let output = Command::new(&bin).arg("--version").output();
        let output = output.unwrap_or_else(|err| panic!("{bin:?} runs: {err}"));
        assert!(
            text(&output.stdout).starts_with(command),
            "{bin:?} --version"
        );
    }
    make("uninstall").assert_code(0, "make uninstall");
    assert!(
        !root.path().join("bin/listen").exists(),
        "listen is removed"
    );
}

// ------------------------------------------------------------- the cluster

/// Publishes `count` events to `channel` through the cluster, in a stream
/// with 3 replicas.
fn publish_to(cluster: &ClusterScript, channel: &str, count: u32) {
    let count = count.to_string();
    let args = ["--channel", channel, "--replicas", "3", "--count", &count];
    common::publish_ok(&cluster.urls(), &args);
}

/// Runs `nats-cluster.sh ARGS` and checks its exit code.
fn expect(cluster: &ClusterScript, args: &[&str], code: i32) -> Ran {
    let ran = Ran::from(cluster.run(args));
    ran.assert_code(code, &format!("nats-cluster.sh {args:?}"));
    ran
}

/// The leader of the stream that stores `channel`, once all three nodes
/// name the same one.
fn agreed_leader(cluster: &ClusterScript, channel: &str) -> String {
    let mut agreed = None;
    wait_until(
        "the nodes to agree on the stream's leader",
        CLUSTER_DEADLINE,
        || {
            let leaders: Vec<Option<String>> = (0..3)
                .map(|i| {
                    let jsz = cluster.jsz(i)?;
                    let streams = jsz["account_details"]
                        .as_array()?
                        .iter()
                        .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default());
                    streams
                        .filter(|s| {
                            s["config"]["subjects"]
                                .as_array()
                                .is_some_and(|subjects| subjects.iter().any(|x| x == channel))
                        })
                        .find_map(|s| s["cluster"]["leader"].as_str().map(String::from))
                })
                .collect();
            if leaders[0].is_some() && leaders.iter().all(|l| l == &leaders[0]) {
                agreed = leaders[0].clone();
            }
            agreed.is_some()
        },
    );
    agreed.unwrap()
}

/// `status` prints the exact command that kills the leader of each
/// channel's stream, and `kill leader CHANNEL` kills that node: the one all
/// three nodes name as the leader of the stream whose subjects hold the
/// channel. An unknown channel kills nothing.
#[test]
fn cluster_kill_leader_kills_the_node_that_leads_the_channels_stream() {
    let cluster = ClusterScript::start();
    let channel = "ticket:created";
    publish_to(&cluster, channel, 3);
    let leader = agreed_leader(&cluster, channel);

    let status = expect(&cluster, &["status"], 0);
    status.assert_says(&format!("nats-cluster.sh kill leader {channel}"));

    let unknown = Ran::from(cluster.run(&["kill", "leader", "no.such.channel"]));
    unknown.assert_code(1, "kill leader of a channel without a stream");
    unknown.assert_says("no stream stores channel no.such.channel");
    let status = expect(&cluster, &["status"], 0);
    assert_eq!(status.text().matches(": running, pid").count(), 3);

    let killed = expect(&cluster, &["kill", "leader", channel], 0);
    killed.assert_says(&format!("{leader} leads the stream of channel {channel}"));
    killed.assert_says(&format!("{leader} killed (SIGKILL"));
    let status = expect(&cluster, &["status"], 3);
    status.assert_says(&format!("{leader}: not running"));
    assert_eq!(
        status.text().matches(": running, pid").count(),
        2,
        "only the leader was killed:\n{}",
        status.text()
    );
}

/// With two of three nodes down the survivor's stream has no leader, and its
/// replica list names every peer: `status` still says 3 replicas (from the
/// stream's configuration) and that there is no leader.
#[test]
fn cluster_status_reads_the_replica_count_from_the_streams_config() {
    let cluster = ClusterScript::start();
    publish_to(&cluster, "ticket:created", 3);
    agreed_leader(&cluster, "ticket:created");
    expect(&cluster, &["kill", "n2"], 0);
    expect(&cluster, &["kill", "n3"], 0);

    // The survivor notices after a few seconds that the stream has no leader.
    let mut line = String::new();
    wait_until("n1 to see no stream leader", CLUSTER_DEADLINE, || {
        let status = expect(&cluster, &["status"], 3);
        line = status
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("stream "))
            .unwrap_or_default()
            .to_string();
        !line.is_empty() && !line.contains("leader n")
    });
    assert!(line.contains("3 replicas"), "{line}");
    assert!(line.contains("no leader"), "{line}");
}

// ------------------------------------------------------------ make demo

/// The text block the README's Quick start shows as `make demo`'s output.
fn readme_demo_excerpt() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    let quick_start = readme
        .split("\n## ")
        .find(|section| section.starts_with("Quick start"))
        .expect("README has a Quick start section");
    let block = quick_start
        .split("```text\n")
        .nth(1)
        .expect("Quick start shows the demo's output in a ```text block");
    let block = block.split("```").next().unwrap();
    block.lines().map(String::from).collect()
}

/// `line` with the listener's random client id (8 hex digits) and pid, in
/// `Listener connected to NATS as 5f0c2a9e (pid 4242)`, replaced by
/// `<client id>` and `<pid>`.
fn without_client_id(line: &str) -> String {
    const PREFIX: &str = "Listener connected to NATS as ";
    let id_and_pid = line
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once(" (pid "));
    match id_and_pid {
        Some((id, pid))
            if id.len() == 8
                && id.chars().all(|c| c.is_ascii_hexdigit())
                && pid.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{PREFIX}<client id> (pid <pid>)")
        }
        _ => line.to_string(),
    }
}

/// `scripts/demo.sh` against a fresh server prints, from its "==> Publishing"
/// line on, exactly the README's excerpt (with the server's URL in place of
/// `nats://localhost:4222`, and any listener's client id, which is random).
#[test]
fn demo_prints_what_the_readme_quick_start_shows() {
    let server = NatsServer::start();
    let url = server.url();
    let mut demo = script("demo.sh");
    demo.env("NATS_URL", &url);
    let finished = Running::script("demo.sh", &mut demo).finish();
    let output = text(&finished.stdout);
    let status = finished.status;
    assert!(status.success(), "demo.sh exited with {status}:\n{output}");

    let expected: Vec<String> = readme_demo_excerpt()
        .iter()
        .map(|line| without_client_id(&line.replace("nats://localhost:4222", &url)))
        .collect();
    let printed: Vec<String> = output
        .lines()
        .skip_while(|line| !line.starts_with("==> Publishing"))
        .take(expected.len())
        .map(without_client_id)
        .collect();
    assert_eq!(printed, expected, "demo.sh printed:\n{output}");
}

// ------------------------------------------------------------ Kubernetes

/// Every `nats:<version>` image named in `text`, e.g. `nats:2.14-alpine`.
fn nats_images(text: &str) -> Vec<String> {
    text.match_indices("nats:2.")
        .filter(|(at, _)| {
            // not part of a longer name such as nats-streaming:0.17.0
            !text[..*at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(|(at, _)| {
            text[at..]
                .split(|c: char| c.is_whitespace() || c == '`' || c == '\'' || c == '"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The docs (README.md and docs/kubernetes.md) and both manifests name the
/// same `nats` image, so what the prose says is what gets deployed.
#[test]
fn docs_and_manifests_name_one_nats_image() {
    let mut named = Vec::new();
    for doc in ["README.md", "docs/kubernetes.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).expect("read the doc");
        named.extend(nats_images(&text));
    }
    assert!(!named.is_empty(), "docs/kubernetes.md names the nats image");
    for manifest in [
        "nats-depl.yaml",
        "nats-js-depl.yaml",
        "nats-js-cluster.yaml",
    ] {
        let text = std::fs::read_to_string(repo_root().join("infra/k8s").join(manifest))
            .expect("read manifest");
        let images = nats_images(&text);
        assert_eq!(
            images.len(),
            1,
            "{manifest} runs one nats image: {images:?}"
        );
        named.extend(images);
    }
    // The Helm values name the chart's image by its tag alone.
    let values = std::fs::read_to_string(repo_root().join("infra/helm/nats-values.yaml"))
        .expect("read the Helm values");
    let tags: Vec<String> = values
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tag: "))
        .map(|tag| format!("nats:{}", tag.trim_matches('"')))
        .collect();
    assert_eq!(
        tags.len(),
        1,
        "the Helm values name one image tag: {tags:?}"
    );
    named.extend(tags);
    named.sort();
    named.dedup();
    assert_eq!(named.len(), 1, "one image everywhere: {named:?}");
}
