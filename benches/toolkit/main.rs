//! `make bench` (`cargo bench --bench toolkit`): how fast `publish` and
//! `listen` are, each beside a minimal async-nats program measured in the same
//! run on the same server.
//!
//! The bench starts its own nats-server (JetStream, file storage, a random
//! loopback port, a temporary store: the tests' launcher, from
//! `tests/common/`), runs the release builds of both
//! commands as separate processes, and prints one Markdown table on stdout
//! (progress goes to stderr). It exits with status 1 when a target is missed.
//!
//! The baselines are this same bench binary, started again with a
//! `--baseline-*` argument, so that they too are whole processes timed from
//! exec to exit, with their own connection, like the commands:
//!
//! - `--baseline-publish URL SUBJECT N [--msg-id] [--replicas R]`: creates
//!   the stream (with R copies on a cluster), then
//!   publishes N events as core NATS messages with a reply subject each
//!   (`{inbox}.{i}`), at most [`BASELINE_WINDOW`] unacked, and reads and
//!   checks every ack. (async-nats's `jetstream::Context::publish` futures in
//!   a window were slower.) `--msg-id` adds a `Nats-Msg-Id` header per event.
//!   Figure 1's target is against the run with `--msg-id`: those are the same
//!   publishes as `publish` sends, whose ids let the stream drop the copy of
//!   an event sent again after a fault (exactly once, issue #4). The run
//!   without ids is shown beside it, with no target: the server's duplicate
//!   check is most of the difference.
//! - `--baseline-replay URL SUBJECT N`: an ephemeral pull consumer (deliver
//!   all, explicit ack) read with `consumer.stream()`, [`BASELINE_PULL_BATCH`]
//!   events per pull request; prints the same line per event as `listen`
//!   (through a `BufWriter`) and `ack()`s each one; then deletes the consumer.
//! - `--baseline-push-replay URL SUBJECT N`: the same with an ephemeral push
//!   consumer (a deliver subject of its own, flow control and an idle
//!   heartbeat, which async-nats's `Messages` answers). Replay ratios are
//!   taken against the faster of the two in the same run.
//! - `--baseline-oneshot URL SUBJECT`: connects, publishes one event, awaits
//!   its ack. Its exec includes this bench binary's start-up.
//!
//! Like the commands, the baselines run on a current-thread tokio runtime.
//!
//! Figure 6, the progress bar's cost, has no baseline program: the same
//! command runs on a pseudo-terminal (util-linux `script`) with the bar drawn
//! and with it hidden, and their CPU times are compared.
//!
//! Figures 7 to 9 are `status`'s: `status --json` on a channel of a
//! million events and 50 subscriptions, from exec to exit; the CPU share of
//! `status --live` on a pseudo-terminal at idle and while 10,000 events/s
//! flow; and what watching every ack (as `status --live` does) costs a
//! `listen` replay.
//!
//! Figure 10 draws the cost curves: publish, replay, `--json` replay and a
//! queue group of two `listen`s, each with its baseline, at every size of
//! `BENCH_SIZES`, with `listen`'s peak memory; it prints a table of its own
//! after the main one and draws `target/bench/curves.svg`
//! (`$CARGO_TARGET_DIR/bench/` if set). Figure 11 starts a 3-node cluster
//! (the tests' `Cluster`) and measures publish and replay with 3 replicas.
//! Throughput figures run with the server on the first CPU and the
//! processes measured on the second ([`measure::Pinned`]). Figure 12 times
//! the masking writer in this process: a line of 1 MiB and one of 4 MiB of
//! escaped control characters, whose times must grow linearly.
//!
//! Environment: `NATS_SERVER_BIN` (else `.nats/bin/nats-server`, else `PATH`),
//! `BENCH_RUNS` (repetitions of each measurement, at least 5; default 5),
//! `BENCH_EVENTS` (events per bulk run, default 100000: the targets are set
//! for that), `BENCH_ONLY` (figures to run, e.g. `status` or
//! `publish,replay`; names: publish, replay, one-shot, watch, progress,
//! status, curves, cluster, masking; default all), `BENCH_SIZES` (figure 10's sizes,
//! default `10000,100000,1000000`; `10000,100000` for a quick run).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull, push};
use bytes::Bytes;
use futures_util::StreamExt;

// The tests' support module: the nats-server launcher.
#[path = "../../tests/common/mod.rs"]
mod common;

mod baseline;
mod bench;
mod cluster;
mod curves;
mod masking;
mod measure;
mod replays;
mod verdict;

const PUBLISH: &str = env!("CARGO_BIN_EXE_publish");
const LISTEN: &str = env!("CARGO_BIN_EXE_listen");
const STATUS: &str = env!("CARGO_BIN_EXE_status");

/// The default event of `publish`.
const SEED: &[u8] = br#"{"id":"123","title":"concert","price":20}"#;

/// Events the baseline publisher has in flight at most (1024 was its best
/// of 256, 512, 1024 and 4096 on the 2-core machine of the README's table).
const BASELINE_WINDOW: u64 = 1024;

/// Events per pull request of the baseline consumer (async-nats's default
/// is 200; 1000 replayed faster).
const BASELINE_PULL_BATCH: usize = 1000;

/// Runs of the one-shot publish, and saves in watch mode.
const ONE_SHOT_RUNS: usize = 20;

/// Runs with and without the progress bar, at least: its cost is small
/// beside how much CPU time varies between runs.
const PROGRESS_RUNS: usize = 21;
const WATCH_SAVES: usize = 20;

/// Targets (issue #5).
const MIN_THROUGHPUT_RATIO: f64 = 0.8;
const MAX_JSON_TIME_RATIO: f64 = 1.2;
const MAX_ONE_SHOT_MS: f64 = 25.0;
const MAX_ONE_SHOT_RATIO: f64 = 3.0;
const MAX_WATCH_MS: f64 = 300.0;
const MAX_RSS_MIB: f64 = 20.0;
const MAX_PROGRESS_TIME_RATIO: f64 = 1.05;

/// Targets of issue #15: replay against the faster raw consumer; the cost
/// curves (throughput at the largest size against 100,000 events, and
/// `listen`'s memory there); the 3-node cluster.
const MIN_REPLAY_RATIO: f64 = 0.95;

/// Issue #24: a listener of its own, acking in order (one ack per batch),
/// against the faster raw explicit-ack consumer; and `publish` against its
/// baseline at every size of the curves.
const MIN_ACK_ALL_REPLAY_RATIO: f64 = 1.2;
const MIN_PUBLISH_AT_SIZE_RATIO: f64 = 0.95;
const MIN_SCALE_RATIO: f64 = 0.9;
const MIN_CLUSTER_RATIO: f64 = 0.8;

/// Targets of `status` (issue #13).
const MAX_STATUS_JSON_MS: f64 = 200.0;
const MAX_LIVE_CPU_SHARE: f64 = 0.05;
const MAX_WATCHED_ACKS_TIME_RATIO: f64 = 1.05;

/// Events and subscriptions of the channel `status --json` reads in figure 7.
const STATUS_EVENTS: u64 = 1_000_000;
const STATUS_SUBSCRIPTIONS: usize = 50;

/// How long figure 8 watches `status --live`'s CPU time, at idle and while
/// events flow.
const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// Events per second while figure 8 measures `status --live` with events flowing.
const LIVE_EVENTS_PER_SECOND: u64 = 10_000;

/// How long any single step may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let result = match arg(0) {
        "--baseline-publish" => {
            let flag = |name: &str| args.iter().position(|a| a == name);
            let msg_id = flag("--msg-id").is_some();
            let replicas = flag("--replicas").map_or("1", |i| arg(i + 1));
            baseline::publish(arg(1), arg(2), arg(3), msg_id, replicas).map(|()| true)
        }
        "--baseline-replay" => baseline::replay(arg(1), arg(2), arg(3)).map(|()| true),
        "--baseline-push-replay" => baseline::push_replay(arg(1), arg(2), arg(3)).map(|()| true),
        "--baseline-oneshot" => baseline::one_shot(arg(1), arg(2)).map(|()| true),
        // `cargo bench` passes `--bench` (and maybe a filter): run everything.
        _ => bench::run(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("bench: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A current-thread runtime, as the commands use.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
