//! Figure 11: a 3-node cluster (the tests' [`common::cluster::Cluster`]),
//! channels with 3 replicas: bulk publish and replay against the raw
//! client's baselines, on the same cluster in the same run.

use crate::measure::*;
use crate::replays::{self, Replayer};
use crate::verdict::Target;
use crate::*;

/// Runs on the cluster are this many times `BENCH_RUNS`: a replay there
/// takes either about 0.7 s or 1.1–1.4 s for 100,000 events, for `listen`
/// and the raw consumers alike (most likely where the cluster places each
/// new consumer's leader: on the node the client talks to or not); the
/// more runs, the more alike both sides' draws.
const CLUSTER_RUNS_FACTOR: usize = 3;

pub fn cluster(events: u64, runs: usize, table: &mut Table) -> anyhow::Result<()> {
    let runs = runs * CLUSTER_RUNS_FACTOR;
    eprintln!("bench: cluster, starting 3 nodes");
    let cluster = common::cluster::Cluster::start();
    // Every command and baseline talks to the same node, n1; the channels'
    // leaders are wherever the cluster places them, for both sides alike.
    let url = cluster.url(0);
    let pids: Vec<u32> = (0..3)
        .map(|i| child_with_arg(&cluster.nodes[i].client_port.to_string()))
        .collect::<anyhow::Result<_>>()?;
    let _pinned = Pinned::all_apart(&pids)?;
    let n = events.to_string();

    let (mut tool, mut base) = (Vec::new(), Vec::new());
    for run in 0..runs {
        eprintln!("bench: cluster, publish, run {}/{runs}", run + 1);
        let mut order = [true, false];
        if run % 2 == 1 {
            order.reverse();
        }
        for toolkit in order {
            let channel = format!("bench.cluster.publish.{run}.{toolkit}");
            let mut command = if toolkit {
                let mut command = Command::new(PUBLISH);
                command.args(["--server", &url, "--channel", &channel, "--count", &n]);
                command
            } else {
                let mut command = Command::new(std::env::current_exe()?);
                command.args(["--baseline-publish", &url, &channel, &n, "--msg-id"]);
                command
            };
            let (time, _) = timed(command.args(["--replicas", "3"]).stdout(Stdio::null()))?;
            let rate = events as f64 / time.as_secs_f64();
            if toolkit { &mut tool } else { &mut base }.push(rate);
            delete_stream(&url, &channel)?;
        }
    }
    let (tool, base) = (Stats::of(tool), Stats::of(base));
    table.row(Row::paired(
        format!(
            "11a. 3-node cluster, `publish --replicas 3 --count {events}`, events/s (baseline: \
             the same publishes with `Nats-Msg-Id`, to a stream of 3 replicas; {runs} runs)"
        ),
        tool.show(kilo),
        base.show(kilo),
        &tool.over(&base),
        Some(Target::AtLeast(MIN_CLUSTER_RATIO)),
    ));

    let channel = "bench.cluster.replay";
    replays::fill(&url, channel, events, 3)?;
    use Replayer::*;
    let results = replays::replays(
        &url,
        channel,
        events,
        runs,
        &[Listen, Pull, Push],
        "cluster, replay",
    )?;
    let [listen, pull, push] = [0, 1, 2].map(|i| replays::rates(events, &results[i].0));
    let (fastest, fastest_rate) = if push.median > pull.median {
        ("push", &push)
    } else {
        ("pull", &pull)
    };
    table.row(Row::paired(
        format!(
            "11b. 3-node cluster, replay of a channel with 3 replicas, `listen --count {events}`, \
             events/s (baseline: the faster raw consumer, {fastest}; pull {}, push {}; \
             {runs} runs)",
            kilo(pull.median),
            kilo(push.median)
        ),
        listen.show(kilo),
        fastest_rate.show(kilo),
        &listen.over(fastest_rate),
        Some(Target::AtLeast(MIN_CLUSTER_RATIO)),
    ));
    Ok(())
}

/// The process id of this process's child whose command line has `arg`
/// (a node of the cluster, by its client port).
fn child_with_arg(arg: &str) -> anyhow::Result<u32> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so from the last ')'.
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1));
        if ppid != Some(me.as_str()) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|&b| b == 0).any(|a| a == arg.as_bytes()) {
            return Ok(pid);
        }
    }
    bail!("no child process with {arg} on its command line")
}
