//! A 3-node JetStream cluster on random loopback ports, shaped as
//! `scripts/nats-cluster.sh` runs it: nodes `n1` to `n3`, each a real
//! `nats-server` with JetStream, a store of its own (in a temporary folder,
//! kept across kills and restarts) and routes to the other two, in a cluster
//! named `course`: [`Cluster`], used by `tests/cluster.rs` and
//! `tests/chaos.rs`. And [`ClusterScript`], `scripts/nats-cluster.sh`
//! itself on ports and in a folder of its own, used by `tests/cluster.rs`
//! and `tests/scripts.rs`.
//!
//! Only one cluster runs at a time in a test binary ([`take_turn`]), and
//! every wait polls with a deadline: elections and catch-ups take seconds.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream::stream;

use super::{block_on, free_ports, monitoring_json, nats_server_bin, run, script, text};

/// The stream of the default channel, `ticket:created`, that the helpers look at.
pub const STREAM: &str = "TICKET_CREATED";

/// How long forming the cluster, an election or a catch-up may take.
pub const CLUSTER_DEADLINE: Duration = Duration::from_secs(30);

/// One `nats-server` of the cluster.
pub struct Node {
    pub name: String,
    pub client_port: u16,
    pub route_port: u16,
    pub monitor_port: u16,
    child: Option<Child>,
}

/// Three routed JetStream servers, killed on drop.
pub struct Cluster {
    pub nodes: Vec<Node>,
    dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

/// One cluster at a time: three clusters' elections and catch-ups at once
/// starve each other on a 2-core machine (missed heartbeats, new elections,
/// requests timing out), which is not what these tests are about.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn take_turn() -> MutexGuard<'static, ()> {
    // A test that failed while holding it poisons it; the next one may go on.
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cluster {
    /// Starts n1, n2 and n3 and waits until they have a JetStream meta leader.
    pub fn start() -> Cluster {
        let turn = take_turn();
        let ports = free_ports(9);
        let nodes = (0..3)
            .map(|i| Node {
                name: format!("n{}", i + 1),
                client_port: ports[i],
                route_port: ports[3 + i],
                monitor_port: ports[6 + i],
                child: None,
            })
            .collect();
        let mut cluster = Cluster {
            nodes,
            dir: tempfile::tempdir().expect("temp dir"),
            _turn: turn,
        };
        for i in 0..3 {
            cluster.spawn(i);
        }
        cluster.wait_until("the cluster to elect a JetStream meta leader", || {
            (0..3).all(|i| cluster.meta_leader(i).is_some())
        });
        // A stream with 3 replicas can only be placed once the leader sees
        // both other peers online and current.
        cluster.wait_until("the meta leader to see every peer current", || {
            (0..3).any(|i| cluster.leads_a_current_cluster(i))
        });
        cluster
    }

    /// Whether node `i` is the meta leader and sees both other peers online
    /// and current (the leader's `/jsz` lists them in `meta_cluster.replicas`).
    pub fn leads_a_current_cluster(&self, i: usize) -> bool {
        let Some(jsz) = self.jsz(i) else {
            return false;
        };
        let meta = &jsz["meta_cluster"];
        let leads = meta["leader"].as_str() == Some(self.nodes[i].name.as_str());
        let peers = meta["replicas"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        leads
            && peers.len() == 2
            && peers.iter().all(|p| {
                p["current"].as_bool() == Some(true) && p["offline"].as_bool() != Some(true)
            })
    }

    /// Starts node `i` with its store (the same one on every start).
    pub fn spawn(&mut self, i: usize) {
        let routes: Vec<String> = (0..3)
            .filter(|&j| j != i)
            .map(|j| format!("nats://127.0.0.1:{}", self.nodes[j].route_port))
            .collect();
        let node = &self.nodes[i];
        let store = self.dir.path().join(&node.name);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("log file");
        let child = Command::new(nats_server_bin())
            .args(["-js", "-n", &node.name, "-a", "127.0.0.1"])
            .args(["-p", &node.client_port.to_string()])
            .args(["-m", &node.monitor_port.to_string()])
            .arg("-sd")
            .arg(store)
            .args(["--cluster_name", "course"])
            .args([
                "--cluster",
                &format!("nats://127.0.0.1:{}", node.route_port),
            ])
            .args(["--routes", &routes.join(",")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.nodes[i].child = Some(child);
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.nodes[i].name))
    }

    /// Kills node `i` at once (SIGKILL), as a crashed pod dies.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends node `i` the signal `name` (`STOP`, `CONT`). Stopped, a node
    /// keeps its connections open and answers nothing, as a paused VM does.
    pub fn signal(&self, i: usize, name: &str) {
        if let Some(child) = &self.nodes[i].child {
            super::signal(child.id(), name);
        }
    }

    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// The `--server` list of these nodes.
    pub fn urls(&self, nodes: &[usize]) -> String {
        let urls: Vec<String> = nodes.iter().map(|&i| self.url(i)).collect();
        urls.join(",")
    }

    pub fn index_of(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }

    /// Node `i`'s monitoring page `/jsz?streams=true`, or `None` while it
    /// does not answer.
    pub fn jsz(&self, i: usize) -> Option<serde_json::Value> {
        jsz(self.nodes[i].monitor_port)
    }

    /// The JetStream meta leader as node `i` sees it.
    pub fn meta_leader(&self, i: usize) -> Option<String> {
        let jsz = self.jsz(i)?;
        let leader = jsz["meta_cluster"]["leader"].as_str()?;
        (!leader.is_empty()).then(|| leader.to_owned())
    }

    /// The stream's state in node `i`'s own copy: (events, last sequence).
    pub fn local_copy(&self, i: usize) -> Option<(u64, u64)> {
        local_copy(&self.jsz(i)?)
    }

    /// The stream's info, asked through node `i` alone (the stream's leader
    /// answers); `None` while there is no leader to answer.
    pub fn stream_info(&self, i: usize) -> Option<stream::Info> {
        let url = self.url(i);
        block_on(async move {
            let work = async {
                let client = async_nats::ConnectOptions::new()
                    .connection_timeout(Duration::from_secs(2))
                    .connect(url)
                    .await
                    .ok()?;
                let js = async_nats::jetstream::new(client);
                let stream = js.get_stream(STREAM).await.ok()?;
                Some(stream.cached_info().clone())
            };
            tokio::time::timeout(Duration::from_secs(5), work)
                .await
                .ok()
                .flatten()
        })
    }

    /// Waits until, through node `i`, the stream has a leader other than
    /// `dead` and the JetStream API answers (its meta leader may have died
    /// too): what `publish` and `listen` need to start.
    pub fn wait_for_leaders(&self, i: usize, dead: &str) {
        self.wait_until(&format!("new JetStream leaders after {dead} died"), || {
            let url = self.url(i);
            block_on(async move {
                let work = async {
                    let client = async_nats::connect(url).await.ok()?;
                    let js = async_nats::jetstream::new(client);
                    // Answered by the meta leader.
                    js.stream_by_subject("ticket:created").await.ok()?;
                    // Answered by the stream's leader.
                    let stream = js.get_stream(STREAM).await.ok()?;
                    stream.cached_info().cluster.clone()?.leader
                };
                tokio::time::timeout(Duration::from_secs(5), work)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|leader| leader != dead)
            })
        });
    }

    /// The node that leads the consumer `name`, asked through node `i`.
    pub fn consumer_leader(&self, i: usize, name: &str) -> Option<String> {
        let url = self.url(i);
        block_on(async move {
            let work = async {
                let client = async_nats::connect(url).await.ok()?;
                let js = async_nats::jetstream::new(client);
                let stream = js.get_stream(STREAM).await.ok()?;
                stream.consumer_info(name).await.ok()?.cluster?.leader
            };
            tokio::time::timeout(Duration::from_secs(5), work)
                .await
                .ok()
                .flatten()
        })
    }

    /// Polls `condition` until it holds, failing the test after
    /// [`CLUSTER_DEADLINE`] with the end of every node's log.
    pub fn wait_until(&self, what: &str, condition: impl Fn() -> bool) {
        self.poll(what, || condition().then_some(()));
    }

    /// Polls `f` until it returns something, failing the test after
    /// [`CLUSTER_DEADLINE`] with the end of every node's log.
    pub fn poll<T>(&self, what: &str, f: impl Fn() -> Option<T>) -> T {
        let every = Duration::from_millis(100);
        super::poll(CLUSTER_DEADLINE, every, f)
            .unwrap_or_else(|| panic!("timed out waiting for {what}\n{}", self.log_tails()))
    }

    pub fn log_tails(&self) -> String {
        let mut text = String::new();
        for i in 0..self.nodes.len() {
            let log = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            text.push_str(&format!("--- {} ---\n{tail}\n", self.nodes[i].name));
        }
        text
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// The monitoring page `/jsz?streams=true` of the node whose monitoring port
/// is `port`, or `None` while it does not answer.
pub fn jsz(port: u16) -> Option<serde_json::Value> {
    monitoring_json(port, "/jsz?streams=true")
}

/// [`STREAM`]'s entry in one node's `/jsz?streams=true`.
fn stream_entry(jsz: &serde_json::Value) -> Option<&serde_json::Value> {
    jsz["account_details"]
        .as_array()?
        .iter()
        .filter_map(|account| account["stream_detail"].as_array())
        .flatten()
        .find(|stream| stream["name"] == STREAM)
}

/// [`STREAM`]'s state in one node's own copy, from that node's `/jsz`:
/// (events, last sequence).
pub fn local_copy(jsz: &serde_json::Value) -> Option<(u64, u64)> {
    let state = &stream_entry(jsz)?["state"];
    Some((state["messages"].as_u64()?, state["last_seq"].as_u64()?))
}

/// The leader of [`STREAM`] as one node sees it, from that node's `/jsz`.
pub fn stream_leader(jsz: &serde_json::Value) -> Option<String> {
    stream_entry(jsz)?["cluster"]["leader"]
        .as_str()
        .map(str::to_owned)
}

/// Three consecutive free ports, `base..base + 3`, none in `taken`.
pub fn free_port_run(taken: &[u16]) -> u16 {
    for _ in 0..200 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        if (base..base + 3).any(|p| taken.contains(&p)) {
            continue;
        }
        let bound: Vec<_> = (base..base + 3)
            .map_while(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if bound.len() == 3 {
            return base;
        }
    }
    panic!("no three consecutive free ports found");
}

/// `scripts/nats-cluster.sh` on ports (three runs of three: client, route,
/// monitoring) and in a folder of its own; stopped on drop.
pub struct ClusterScript {
    client: u16,
    route: u16,
    monitor: u16,
    dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl ClusterScript {
    /// Its ports and folder; nothing started yet.
    pub fn new() -> ClusterScript {
        let turn = take_turn();
        let client = free_port_run(&[]);
        let route = free_port_run(&[client, client + 1, client + 2]);
        let taken: Vec<u16> = [client, route].iter().flat_map(|&b| b..b + 3).collect();
        let monitor = free_port_run(&taken);
        ClusterScript {
            client,
            route,
            monitor,
            dir: tempfile::tempdir().expect("temp dir"),
            _turn: turn,
        }
    }

    /// Its ports and folder, the cluster started (`nats-cluster.sh start`).
    pub fn start() -> ClusterScript {
        let cluster = ClusterScript::new();
        cluster.expect(&["start"], 0);
        cluster
    }

    /// Runs `nats-cluster.sh ARGS` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        run(script("nats-cluster.sh")
            .args(args)
            .env("NATS_CLUSTER_PORT", self.client.to_string())
            .env("NATS_CLUSTER_ROUTE_PORT", self.route.to_string())
            .env("NATS_CLUSTER_MONITOR_PORT", self.monitor.to_string())
            .env("NATS_CLUSTER_DIR", self.dir.path()))
    }

    /// Runs `nats-cluster.sh ARGS`, checks its exit code, and returns what
    /// it printed (stdout, then stderr).
    pub fn expect(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(code),
            "nats-cluster.sh {args:?}:\n{printed}"
        );
        printed
    }

    /// Node `i`'s client port (`i` from 0).
    pub fn port(&self, i: usize) -> u16 {
        self.client + i as u16
    }

    /// The `--server` list of the three nodes.
    pub fn urls(&self) -> String {
        (0..3)
            .map(|i| format!("nats://127.0.0.1:{}", self.port(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s `/jsz?streams=true&config=true`, if its port answers.
    pub fn jsz(&self, i: usize) -> Option<serde_json::Value> {
        let port = self.monitor + i as u16;
        monitoring_json(port, "/jsz?streams=true&config=true")
    }

    /// The folder of its nodes' stores, logs and pid files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ClusterScript {
    fn drop(&mut self) {
        let _ = self.run(&["stop"]);
    }
}
