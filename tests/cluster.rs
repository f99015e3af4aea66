//! A 3-node JetStream cluster: publish and listen across its nodes, kill the
//! stream's leader (SIGKILL) in the middle of a big `publish`, and check that
//! every event is stored and delivered exactly once, and that the killed
//! node, started again with its store, catches up.
//!
//! The nodes are real `nats-server` processes on random loopback ports, each
//! with its own temporary store, routed into one cluster, as
//! `scripts/nats-cluster.sh` runs them (the launcher is `common::cluster`,
//! shared with `tests/chaos.rs`). Elections and catch-up take a few
//! seconds, so every wait polls with a deadline. The last tests run
//! `scripts/nats-cluster.sh` itself, on ports and in a folder of its own.
//!
//! All but one are `#[ignore]`d (about a minute in all: `make test-all`
//! runs them). The one `make test` runs is the lesson of docs/kubernetes.md,
//! a node killed while a durable listener replays
//! ([`kill_mid_replay_a_durable_listener_prints_every_event_once`]).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::cluster::{CLUSTER_DEADLINE, Cluster, ClusterScript};
use common::text;
use common::{Running, publish_ok};

/// Events published while the stream's leader is killed.
const EVENTS: u64 = 20_000;

/// Waits for `listen` to exit 0 and returns the event numbers it printed.
fn finished(mut listener: Running, what: &str) -> Vec<u64> {
    let status = listener.wait_exit();
    assert!(
        status.success(),
        "{what} exited with {status}: {}",
        listener.stderr()
    );
    listener.received()
}

/// Publish and listen across the three nodes; kill the stream's leader in
/// the middle of `publish --count 20000`: the publish still succeeds, each
/// event is stored once and delivered to a listener on the survivors, and
/// the killed node, started again with its store, catches up.
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn cluster_survives_losing_the_stream_leader_and_the_node_catches_up() {
    let started = Instant::now();
    let mut cluster = Cluster::start();
    eprintln!("cluster formed in {:?}", started.elapsed());

    // 1. Across nodes: a live listener on n2 (it creates the stream with 3
    // replicas), a replaying one on n3, events published through n1.
    let live = Running::start(
        &cluster.url(1),
        &["--replicas", "3", "--no-queue-group", "--count", "3"],
    );
    let replay = Running::start(
        &cluster.url(2),
        &[
            "--replicas",
            "3",
            "--deliver-all",
            "--no-queue-group",
            "--count",
            "3",
        ],
    );
    publish_ok(&cluster.url(0), &["--replicas", "3", "--count", "3"]);
    assert_eq!(finished(live, "the listener on n2"), [1, 2, 3]);
    assert_eq!(finished(replay, "the listener on n3"), [1, 2, 3]);

    let info = cluster.poll("the stream's info through n1", || cluster.stream_info(0));
    assert_eq!(info.config.num_replicas, 3);
    let leader_name = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("the stream has a leader");
    let placed: HashSet<String> = info
        .cluster
        .iter()
        .flat_map(|c| c.replicas.iter().map(|p| p.name.clone()))
        .chain([leader_name.clone()])
        .collect();
    assert_eq!(placed.len(), 3, "a copy on every node: {:?}", info.cluster);

    // 2. Kill the stream's leader while a big publish to all three runs.
    let leader = cluster.index_of(&leader_name);
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let total = 3 + EVENTS;
    let mut publisher = Running::publish(
        &cluster.urls(&[0, 1, 2]),
        &["--replicas", "3", "--count", &EVENTS.to_string()],
    );
    let stored = std::cell::Cell::new(0);
    publisher.wait_until("2000 events to be stored", |_| {
        stored.set(cluster.local_copy(survivors[0]).map_or(0, |(n, _)| n));
        stored.get() >= 2_003
    });
    let stored_at_kill = stored.get();
    let killed_at = Instant::now();
    cluster.kill(leader);
    eprintln!(
        "killed the stream leader {leader_name} with {stored_at_kill} events stored, at {:?}",
        started.elapsed()
    );
    assert!(
        stored_at_kill < total,
        "the publish ended before the leader was killed"
    );

    // 3. The publish completes, each event stored once, and a listener on
    // the survivors gets every one. Events sent while the stream has no
    // leader go unanswered and are sent again every 2 s until it has one.
    let waiting = Instant::now();
    while !publisher.stdout().contains("Published ") && !publisher.stderr().contains("Error: ") {
        assert!(
            waiting.elapsed() < CLUSTER_DEADLINE,
            "publish did not finish after the leader was killed:\n{}\n{}",
            publisher.stderr(),
            cluster.log_tails()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = publisher.wait_exit();
    assert!(
        status.success(),
        "publish failed after the leader was killed:\n{}\n{}",
        publisher.stderr(),
        cluster.log_tails()
    );
    eprintln!(
        "publish finished {:?} after the kill:\n{}{}",
        killed_at.elapsed(),
        publisher.stdout(),
        publisher.stderr()
    );
    cluster.wait_for_leaders(survivors[0], &leader_name);
    let info = cluster.poll("the stream's info through a survivor", || {
        cluster.stream_info(survivors[0])
    });
    let new_leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
    assert_ne!(new_leader.as_deref(), Some(leader_name.as_str()));
    assert_eq!(
        (
            info.state.messages,
            info.state.first_sequence,
            info.state.last_sequence
        ),
        (total, 1, total),
        "every event stored exactly once, without gaps"
    );

    // A listener of its own: its consumer, like the stream, has a copy on
    // every node.
    let listener = Running::start(
        &cluster.urls(&survivors),
        &[
            "--deliver-all",
            "--no-queue-group",
            "--count",
            &total.to_string(),
        ],
    );
    let seen = finished(listener, "the listener on the survivors");
    let distinct: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(seen.len() as u64, total, "each event shown once");
    assert_eq!(distinct, (1..=total).collect(), "every event delivered");
    eprintln!("listener done at {:?}", started.elapsed());

    // 4. The killed node comes back with its store and catches up.
    cluster.spawn(leader);
    let restarted = Instant::now();
    cluster.wait_until(
        &format!("{leader_name} to hold all {total} events again"),
        || cluster.local_copy(leader) == Some((total, total)),
    );
    cluster.wait_until(
        &format!("the stream leader to report {leader_name} current"),
        || {
            cluster.stream_info(leader).is_some_and(|info| {
                info.cluster.is_some_and(|c| {
                    c.replicas
                        .iter()
                        .any(|p| p.name == leader_name && p.current && p.lag.unwrap_or(0) == 0)
                        || c.leader.as_deref() == Some(leader_name.as_str())
                })
            })
        },
    );
    eprintln!(
        "{leader_name} caught up {:?} after its restart; whole test {:?}",
        restarted.elapsed(),
        started.elapsed()
    );
}

/// The course's listener (queue group `orders-microservice-queue-group`) on
/// the whole cluster goes on receiving after the node that holds its
/// consumer dies: the consumer has as many copies as the stream, so it gets
/// a new leader within seconds.
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn a_listener_goes_on_after_the_node_of_its_consumer_dies() {
    let mut cluster = Cluster::start();
    publish_ok(&cluster.url(0), &["--replicas", "3", "--count", "1"]);
    let listener = Running::start(&cluster.urls(&[0, 1, 2]), &["--count", "3"]);
    let group = nats_course_toolkit::subscription::DEFAULT_QUEUE_GROUP;
    let holder = cluster.poll("the consumer to have a leader", || {
        cluster.consumer_leader(0, group)
    });
    let holder = cluster.index_of(&holder);
    cluster.kill(holder);
    let survivors: Vec<usize> = (0..3).filter(|&i| i != holder).collect();
    cluster.wait_for_leaders(survivors[0], &cluster.nodes[holder].name);
    publish_ok(&cluster.urls(&survivors), &["--count", "3"]);
    assert_eq!(finished(listener, "the queue group's listener"), [2, 3, 4]);
}

/// A listener started while the cluster has lost its quorum (two of its
/// three nodes down) says JetStream is not ready, waits, and gets the
/// history once the nodes are back.
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn a_listener_waits_for_a_cluster_that_lost_its_quorum() {
    let mut cluster = Cluster::start();
    publish_ok(&cluster.url(0), &["--replicas", "3", "--count", "3"]);
    cluster.kill(1);
    cluster.kill(2);
    let listener = Running::launch(
        &cluster.url(0),
        &["--deliver-all", "--no-queue-group", "--count", "3"],
    );
    listener.wait_for_stderr("JetStream is not ready yet");
    eprintln!("{}", listener.stderr());
    cluster.spawn(1);
    cluster.spawn(2);
    assert_eq!(finished(listener, "the listener"), [1, 2, 3]);
}

/// A publish to a cluster that lost its majority says that JetStream is not
/// ready, keeps trying, and once the nodes are back stores each event once.
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn a_publish_waits_for_a_cluster_that_lost_its_majority() {
    let mut cluster = Cluster::start();
    publish_ok(&cluster.url(0), &["--replicas", "3", "--count", "3"]);
    cluster.kill(1);
    cluster.kill(2);
    let mut publish = Running::publish(&cluster.url(0), &["--count", "3"]);
    // Said when finding the stream, or when no event is confirmed, as the
    // cluster's state has it.
    publish.wait_for_stderr("JetStream is not ready yet (");
    publish.wait_for_stderr("the majority of its nodes");
    cluster.spawn(1);
    cluster.spawn(2);
    let status = publish.wait_exit();
    assert!(status.success(), "{}", publish.stderr());
    publish.wait_for_stdout("as event #6");
    assert!(
        !publish.stdout().contains("as event #7"),
        "{}",
        publish.stdout()
    );
    let stored = cluster.poll("the stream's state", || cluster.stream_info(0));
    assert_eq!(stored.state.messages, 6, "each event stored once");
}

/// A channel's stream deleted while `publish --replicas 3` sends to it is
/// made again with 3 replicas, as the flag says (it was made again with 1).
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn a_stream_made_again_mid_publish_keeps_its_replicas() {
    let cluster = Cluster::start();
    let mut publish = Running::publish(&cluster.url(0), &["--replicas", "3", "--count", "500000"]);
    cluster.wait_until("the first events stored", || {
        cluster
            .stream_info(0)
            .is_some_and(|info| info.state.messages > 0)
    });
    let url = cluster.url(0);
    common::block_on(async move {
        let client = async_nats::connect(url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        js.delete_stream(common::cluster::STREAM)
            .await
            .expect("delete the stream mid-publish");
    });
    let status = publish.wait_exit();
    assert!(status.success(), "{}", publish.stderr());
    let info = cluster.poll("the stream made again", || cluster.stream_info(0));
    assert_eq!(info.config.num_replicas, 3, "{:?}", info.config);
}

/// The script for learners: start, status, kill n2, restart n2, stop, on
/// ports of its own, and its usage errors.
#[test]
#[ignore = "a 3-node cluster, about a minute in all: make test-all (CI) runs it"]
fn cluster_script_starts_kills_restarts_and_stops_nodes() {
    let script = ClusterScript::new();
    for bad in [
        &[][..],
        &["kill"],
        &["kill", "n4"],
        &["restart", "n1", "n2"],
        &["bogus"],
    ] {
        script.expect(bad, 2);
    }

    let urls = script.urls();
    let out = script.expect(&["start"], 0);
    assert!(out.contains(&format!("export NATS_URL={urls}")), "{out}");
    let out = script.expect(&["start"], 0);
    assert_eq!(out.matches("already running").count(), 3, "{out}");
    let out = script.expect(&["status"], 0);
    assert_eq!(out.matches("JetStream meta leader: n").count(), 3, "{out}");

    let out = script.expect(&["kill", "n2"], 0);
    assert!(out.contains("n2 killed (SIGKILL"), "{out}");
    let out = script.expect(&["kill", "n2"], 0);
    assert!(out.contains("n2 is not running"), "{out}");
    let out = script.expect(&["status"], 3);
    assert!(out.contains("n2: not running"), "{out}");

    let out = script.expect(&["restart", "n2"], 0);
    assert!(out.contains("n2 rejoined the cluster"), "{out}");
    script.expect(&["status"], 0);

    let out = script.expect(&["stop"], 0);
    assert_eq!(out.matches(" stopped (was pid").count(), 3, "{out}");
    let out = script.expect(&["status"], 3);
    assert_eq!(out.matches("not running").count(), 3, "{out}");
    for node in ["n1", "n2", "n3"] {
        let node_dir = script.dir().join(node);
        assert!(node_dir.join("store").is_dir(), "{node}'s store is kept");
        assert!(
            !node_dir.join("nats.pid").exists(),
            "{node}'s pid file is gone"
        );
    }
}

/// The lesson of docs/kubernetes.md ("delete one pod while a durable
/// listener replays: nothing is lost"), on this machine:
/// `scripts/nats-cluster.sh kill-mid-replay 3000` publishes 3000 events with
/// 3 replicas, kills the node leading the durable's consumer (SIGKILL) once
/// a third of the replay is printed and before its end, and the listener
/// prints every event exactly once (its lines read here too, not only the
/// script's word). A bad number of events is a usage error (exit 2).
#[test]
fn kill_mid_replay_a_durable_listener_prints_every_event_once() {
    const EVENTS: u64 = 3000;
    let script = ClusterScript::new();
    script.expect(&["kill-mid-replay", "many"], 2);

    let out = script.expect(&["kill-mid-replay", &EVENTS.to_string()], 0);
    let printed_at_kill: u64 = out
        .lines()
        .find_map(|line| line.strip_prefix("3. ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no line saying when the node was killed:\n{out}"));
    assert!(
        printed_at_kill * 3 >= EVENTS && printed_at_kill < EVENTS,
        "killed with {printed_at_kill} of {EVENTS} printed: not mid-replay\n{out}"
    );
    assert!(
        out.contains("serves the durable (leads its consumer): killing it."),
        "{out}"
    );
    assert!(out.contains(" killed (SIGKILL, was pid "), "{out}");
    assert!(
        out.contains(&format!(
            "Every event printed exactly once: {EVENTS} lines, events #1 to #{EVENTS}, none missing, none twice."
        )),
        "{out}"
    );

    let lines =
        std::fs::read(script.dir().join("kill-mid-replay/events.json")).expect("events.json");
    let seqs: Vec<u64> = text(&lines)
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            event["seq"].as_u64().expect("seq")
        })
        .collect();
    let distinct: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(seqs.len() as u64, EVENTS, "one line per event");
    assert_eq!(distinct, (1..=EVENTS).collect(), "every event, none twice");
}
