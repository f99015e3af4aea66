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
//! - `--baseline-publish URL SUBJECT N [--msg-id]`: creates the stream, then
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
//! Environment: `NATS_SERVER_BIN` (else `.nats/bin/nats-server`, else `PATH`),
//! `BENCH_RUNS` (repetitions of each measurement, at least 5; default 5),
//! `BENCH_EVENTS` (events per bulk run, default 100000: the targets are set
//! for that), `BENCH_ONLY` (figures to run, e.g. `status` or
//! `publish,replay`; default all).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use bytes::Bytes;
use futures_util::StreamExt;

// The tests' support module: the nats-server launcher.
#[path = "../tests/common/mod.rs"]
mod common;

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
            baseline::publish(arg(1), arg(2), arg(3), arg(4) == "--msg-id").map(|()| true)
        }
        "--baseline-replay" => baseline::replay(arg(1), arg(2), arg(3)).map(|()| true),
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

/// The minimal async-nats programs the commands are compared with.
mod baseline {
    use super::*;

    /// The stream for `subject`, configured as the toolkit does (file storage).
    fn stream_config(subject: &str) -> jetstream::stream::Config {
        jetstream::stream::Config {
            name: subject.replace(['.', ':'], "_").to_uppercase(),
            subjects: vec![subject.to_owned()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        }
    }

    /// Publishes `count` events, pipelined, and awaits every ack: core NATS
    /// publishes with a reply subject `{inbox}.{i}` each, at most
    /// [`BASELINE_WINDOW`] unacked, every ack read and checked. With
    /// `msg_id`, each event also carries a `Nats-Msg-Id` header, as `publish`
    /// sends (the row that shows what the server's duplicate check costs).
    pub fn publish(url: &str, subject: &str, count: &str, msg_id: bool) -> anyhow::Result<()> {
        let count: u64 = count.parse().context("count")?;
        runtime()?.block_on(async {
            let client = async_nats::connect(url).await?;
            let js = jetstream::new(client.clone());
            js.get_or_create_stream(stream_config(subject)).await?;
            let subject = async_nats::Subject::from(subject);
            let payload = Bytes::from_static(SEED);
            let inbox = client.new_inbox();
            let mut acks = client.subscribe(format!("{inbox}.*")).await?;
            let (mut sent, mut acked, mut last) = (0u64, 0u64, 0u64);
            while acked < count {
                while sent < count && sent - acked < BASELINE_WINDOW {
                    let reply = format!("{inbox}.{sent}");
                    if msg_id {
                        let mut headers = async_nats::HeaderMap::new();
                        // `{16 random characters}-{i}`, as long as `publish`'s ids.
                        let id = format!("{}-{sent}", &inbox[inbox.len() - 16..]);
                        headers.insert("Nats-Msg-Id", id.as_str());
                        client
                            .publish_with_reply_and_headers(
                                subject.clone(),
                                reply,
                                headers,
                                payload.clone(),
                            )
                            .await?;
                    } else {
                        client
                            .publish_with_reply(subject.clone(), reply, payload.clone())
                            .await?;
                    }
                    sent += 1;
                }
                let message = acks.next().await.context("the connection closed")?;
                let ack: PublishAck = serde_json::from_slice(&message.payload)
                    .with_context(|| format!("bad ack {:?}", message.payload))?;
                if let Some(error) = ack.error {
                    bail!("the server refused an event: {error}");
                }
                last = last.max(ack.seq);
                acked += 1;
            }
            println!("Published {count} events to {subject}, last #{last}");
            client.drain().await?;
            anyhow::Ok(())
        })
    }

    #[derive(serde::Deserialize)]
    struct PublishAck {
        #[serde(default)]
        seq: u64,
        error: Option<serde_json::Value>,
    }

    /// Replays the channel's history with an ephemeral pull consumer,
    /// printing and acking each event, until `count` events.
    pub fn replay(url: &str, subject: &str, count: &str) -> anyhow::Result<()> {
        let count: usize = count.parse().context("count")?;
        runtime()?.block_on(async {
            let client = async_nats::connect(url).await?;
            let js = jetstream::new(client.clone());
            let stream_name = js.stream_by_subject(subject).await?;
            let stream = js.get_stream(&stream_name).await?;
            let consumer: jetstream::consumer::PullConsumer = stream
                .create_consumer(pull::Config {
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    filter_subject: subject.to_owned(),
                    inactive_threshold: Duration::from_secs(5),
                    ..Default::default()
                })
                .await?;
            let name = consumer.cached_info().name.clone();
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(BASELINE_PULL_BATCH)
                .messages()
                .await?
                .take(count);
            let mut out = BufWriter::new(std::io::stdout().lock());
            while let Some(message) = messages.next().await {
                let message = message?;
                let info = message.info().map_err(|e| anyhow::anyhow!(e))?;
                writeln!(
                    out,
                    "Received event #{}, with data: {}",
                    info.stream_sequence,
                    String::from_utf8_lossy(&message.payload)
                )?;
                message.ack().await.map_err(|e| anyhow::anyhow!(e))?;
            }
            out.flush()?;
            drop(messages);
            stream.delete_consumer(&name).await?;
            client.drain().await?;
            anyhow::Ok(())
        })
    }

    /// Publishes one event and awaits its ack.
    pub fn one_shot(url: &str, subject: &str) -> anyhow::Result<()> {
        runtime()?.block_on(async {
            let client = async_nats::connect(url).await?;
            let js = jetstream::new(client.clone());
            let ack = js
                .publish(subject.to_owned(), Bytes::from_static(SEED))
                .await?
                .await?;
            println!("Event published to {subject} as event #{}", ack.sequence);
            client.drain().await?;
            anyhow::Ok(())
        })
    }
}

mod bench {
    use super::*;

    /// Runs every measurement and prints the table; `false` when a target is missed.
    pub fn run() -> anyhow::Result<bool> {
        let runs: usize = env_number("BENCH_RUNS", 5)?.max(5);
        let events: u64 = env_number("BENCH_EVENTS", 100_000)?;
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let server_bin = common::nats_server_bin();
        let server_version = Command::new(&server_bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let scratch = tempfile::tempdir()?;
        let server = common::NatsServer::start();
        let url = server.url();
        eprintln!(
            "bench: {cores} cores, {server_version} on {url} (file storage), {events} events, {runs} runs each"
        );

        let mut table = Table::default();
        // BENCH_ONLY=status (or publish, replay, one-shot, watch, progress,
        // comma-separated) runs only those figures.
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
        if wanted("publish") {
            bulk_publish(&url, events, runs, &mut table)?;
        }
        if wanted("replay") || wanted("progress") || wanted("status") {
            // Leaves `bench.replay` with the events the later figures replay.
            replay(&url, events, runs, &mut table)?;
        }
        if wanted("one-shot") {
            one_shot(&url, &mut table)?;
        }
        if wanted("watch") {
            watch(&url, scratch.path(), &mut table)?;
        }
        if wanted("progress") {
            progress_bar(&url, server.pid(), events, runs, &mut table)?;
        }
        if wanted("status") {
            watched_acks(&url, server.pid(), events, runs, &mut table)?;
            status_json(&url, server.pid(), runs, &mut table)?;
            status_live(&url, &mut table)?;
        }

        let mut heading = format!(
            "Machine: {cores} cores{}; {server_version}; {events} events per bulk run, \
             {runs} runs (one-shot: {ONE_SHOT_RUNS} runs, watch: {WATCH_SAVES} saves). \
             Median (min–max).",
            cpu_model().map(|m| format!(" ({m})")).unwrap_or_default()
        );
        if events != 100_000 {
            heading.push_str(" Note: the throughput targets are set for 100000 events.");
        }
        println!("{heading}\n");
        print!("{}", table.render());
        let missed = table.missed();
        if missed.is_empty() {
            eprintln!("bench: every target met");
            Ok(true)
        } else {
            eprintln!("bench: missed: {}", missed.join("; "));
            Ok(false)
        }
    }

    /// Figure 1: `publish --count N` against the pipelined baseline, each on a fresh
    /// channel; and the baseline with a `Nats-Msg-Id` per event, for context.
    fn bulk_publish(url: &str, events: u64, runs: usize, table: &mut Table) -> anyhow::Result<()> {
        let n = events.to_string();
        let (mut tool, mut base, mut base_id) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!("bench: bulk publish, run {}/{runs}", run + 1);
            let channel = format!("bench.publish.tool.{run}");
            let (time, _) = timed(
                Command::new(PUBLISH)
                    .args(["--server", url, "--channel", &channel, "--count", &n])
                    .stdout(Stdio::null()),
            )?;
            tool.push(events as f64 / time.as_secs_f64());
            delete_stream(url, &channel)?;

            for (results, extra) in [(&mut base, None), (&mut base_id, Some("--msg-id"))] {
                let channel = format!(
                    "bench.publish.baseline{}.{run}",
                    extra.map_or("", |_| "-id")
                );
                let (time, _) = timed(
                    Command::new(std::env::current_exe()?)
                        .args(["--baseline-publish", url, &channel, &n])
                        .args(extra)
                        .stdout(Stdio::null()),
                )?;
                results.push(events as f64 / time.as_secs_f64());
                delete_stream(url, &channel)?;
            }
        }
        let (tool, base, base_id) = (Stats::of(tool), Stats::of(base), Stats::of(base_id));
        let ratio = tool.median / base_id.median;
        table.row(Row {
            figure: format!(
                "1. Bulk publish, `publish --count {events}`, events/s (baseline: the same \
                 publishes, each with the `Nats-Msg-Id` header that exactly-once needs)"
            ),
            tool: tool.show(kilo),
            baseline: base_id.show(kilo),
            ratio: format!("{ratio:.2}"),
            target: format!("ratio ≥ {MIN_THROUGHPUT_RATIO}"),
            pass: Some(ratio >= MIN_THROUGHPUT_RATIO),
        });
        table.row(Row {
            figure: "1b. Context, no target: the baseline without `Nats-Msg-Id` (no duplicate \
                     check, so a resend after a fault could store an event twice), events/s"
                .into(),
            tool: "–".into(),
            baseline: base.show(kilo),
            ratio: format!("{:.2}", tool.median / base.median),
            target: "–".into(),
            pass: None,
        });
        Ok(())
    }

    /// Figures 2 and 5: replays of one channel of N events: `listen` (default output
    /// and `--json`) against the baseline consumer, and `listen`'s peak memory.
    fn replay(url: &str, events: u64, runs: usize, table: &mut Table) -> anyhow::Result<()> {
        let channel = "bench.replay";
        let n = events.to_string();
        eprintln!("bench: replay, publishing {events} events to {channel}");
        let (_, output) = timed(
            Command::new(PUBLISH)
                .args(["--server", url, "--channel", channel, "--count", &n])
                .stdout(Stdio::piped()),
        )?;
        let summary = String::from_utf8_lossy(&output.stdout);
        ensure!(
            summary.contains(&format!("Published {events} events")),
            "publish did not store {events} events: {summary}"
        );
        let listen = |json: bool| {
            let mut command = Command::new(LISTEN);
            command.args([
                "--server",
                url,
                "--channel",
                channel,
                "--deliver-all",
                "--no-queue-group",
                "--count",
                &n,
            ]);
            if json {
                command.arg("--json");
            }
            command.stdout(Stdio::null());
            command
        };
        let (mut text, mut json, mut base) = (Vec::new(), Vec::new(), Vec::new());
        let (mut text_rss, mut base_rss) = (Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!("bench: replay, run {}/{runs}", run + 1);
            let (time, rss) = timed_with_peak_rss(&mut listen(false))?;
            text.push(time.as_secs_f64());
            text_rss.push(rss);
            let (time, _) = timed(&mut listen(true))?;
            json.push(time.as_secs_f64());
            let (time, rss) = timed_with_peak_rss(
                Command::new(std::env::current_exe()?)
                    .args(["--baseline-replay", url, channel, &n])
                    .stdout(Stdio::null()),
            )?;
            base.push(time.as_secs_f64());
            base_rss.push(rss);
        }
        let rate = |times: &[f64]| Stats::of(times.iter().map(|t| events as f64 / t).collect());
        let (text_rate, json_rate, base_rate) = (rate(&text), rate(&json), rate(&base));
        let ratio = text_rate.median / base_rate.median;
        table.row(Row {
            figure: format!(
                "2. Replay, `listen --deliver-all --no-queue-group --count {events}` > /dev/null, events/s"
            ),
            tool: text_rate.show(kilo),
            baseline: base_rate.show(kilo),
            ratio: format!("{ratio:.2}"),
            target: format!("ratio ≥ {MIN_THROUGHPUT_RATIO}"),
            pass: Some(ratio >= MIN_THROUGHPUT_RATIO),
        });
        let (text_time, json_time) = (Stats::of(text), Stats::of(json));
        let ratio = json_time.median / text_time.median;
        table.row(Row {
            figure: "2b. Replay with `--json`, events/s (ratio: time with `--json` / time with default output)"
                .into(),
            tool: json_rate.show(kilo),
            baseline: format!("{} (default output)", text_rate.show(kilo)),
            ratio: format!("{ratio:.2}"),
            target: format!("ratio ≤ {MAX_JSON_TIME_RATIO}"),
            pass: Some(ratio <= MAX_JSON_TIME_RATIO),
        });
        let (rss, base_rss) = (Stats::of(text_rss), Stats::of(base_rss));
        table.row(Row {
            figure: format!(
                "5. Peak resident memory (VmHWM) of `listen` replaying {events} events, MiB"
            ),
            tool: rss.show(|v| format!("{v:.1}")),
            baseline: base_rss.show(|v| format!("{v:.1}")),
            ratio: format!("{:.2}", rss.median / base_rss.median),
            target: format!("≤ {MAX_RSS_MIB} MiB"),
            pass: Some(rss.median <= MAX_RSS_MIB),
        });
        Ok(())
    }

    /// Figure 3: one `publish` process, one event, to a stream that exists.
    fn one_shot(url: &str, table: &mut Table) -> anyhow::Result<()> {
        let channel = "bench.oneshot";
        // Creates the stream, and warms the page cache for both binaries.
        timed(
            Command::new(PUBLISH)
                .args(["--server", url, "--channel", channel])
                .stdout(Stdio::null()),
        )?;
        timed(
            Command::new(std::env::current_exe()?)
                .args(["--baseline-oneshot", url, channel])
                .stdout(Stdio::null()),
        )?;
        let (mut tool, mut base) = (Vec::new(), Vec::new());
        eprintln!("bench: one-shot publish, {ONE_SHOT_RUNS} runs each");
        for _ in 0..ONE_SHOT_RUNS {
            let (time, _) = timed(
                Command::new(PUBLISH)
                    .args(["--server", url, "--channel", channel])
                    .stdout(Stdio::null()),
            )?;
            tool.push(time.as_secs_f64() * 1e3);
            let (time, _) = timed(
                Command::new(std::env::current_exe()?)
                    .args(["--baseline-oneshot", url, channel])
                    .stdout(Stdio::null()),
            )?;
            base.push(time.as_secs_f64() * 1e3);
        }
        let (tool, base) = (Stats::of(tool), Stats::of(base));
        let ratio = tool.median / base.median;
        table.row(Row {
            figure: "3. One-shot `publish` (one event, existing stream), exec to exit, ms".into(),
            tool: tool.show(|v| format!("{v:.1}")),
            baseline: base.show(|v| format!("{v:.1}")),
            ratio: format!("{ratio:.2}"),
            target: format!("≤ {MAX_ONE_SHOT_MS} ms and ratio ≤ {MAX_ONE_SHOT_RATIO}"),
            pass: Some(tool.median <= MAX_ONE_SHOT_MS && ratio <= MAX_ONE_SHOT_RATIO),
        });
        Ok(())
    }

    /// Figure 4: `publish --watch --data-file F`, from the write of F to the
    /// `Event published ... as event #N` line.
    fn watch(url: &str, scratch: &Path, table: &mut Table) -> anyhow::Result<()> {
        let channel = "bench.watch";
        let file = scratch.join("ticket-created.json");
        let data =
            |price: usize| format!("{{\"id\":\"123\",\"title\":\"concert\",\"price\":{price}}}\n");
        std::fs::write(&file, data(0))?;
        let mut child = Command::new(PUBLISH)
            .args([
                "--server",
                url,
                "--channel",
                channel,
                "--watch",
                "--data-file",
            ])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("could not start publish --watch")?;
        let guard = KillOnDrop(&mut child);
        let lines = timestamped_lines(guard.0.stdout.take().expect("piped"));
        let stderr = collect(guard.0.stderr.take().expect("piped"));
        let published = |seq: usize| format!("Event published to {channel} as event #{seq}");
        let wait_for = |text: &str| -> anyhow::Result<Instant> {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match lines.recv_timeout(left) {
                    Ok((at, line)) if line.contains(text) => return Ok(at),
                    Ok(_) => {}
                    Err(_) => bail!(
                        "publish --watch did not print {text:?}; stderr: {}",
                        stderr
                            .recv_timeout(Duration::from_secs(1))
                            .unwrap_or_default()
                    ),
                }
            }
        };
        wait_for("Watching")?;
        wait_for(&published(1))?;
        eprintln!("bench: watch latency, {WATCH_SAVES} saves");
        let mut latencies = Vec::new();
        for save in 1..=WATCH_SAVES {
            // Well apart, so that each save is a burst of its own.
            std::thread::sleep(Duration::from_millis(200));
            let saved_at = Instant::now();
            std::fs::write(&file, data(save))?;
            let confirmed_at = wait_for(&published(save + 1))?;
            latencies.push((confirmed_at - saved_at).as_secs_f64() * 1e3);
        }
        let latency = Stats::of(latencies);
        table.row(Row {
            figure: "4. Watch: file saved → `Event published ... as event #N` printed, ms".into(),
            tool: latency.show(|v| format!("{v:.1}")),
            baseline: "–".into(),
            ratio: "–".into(),
            target: format!("≤ {MAX_WATCH_MS} ms"),
            pass: Some(latency.median <= MAX_WATCH_MS),
        });
        Ok(())
    }

    /// Figure 6: what the progress bar costs. `publish --count N` and
    /// `listen --count N` (stdout to /dev/null) run on a terminal, a
    /// pseudo-terminal made by util-linux `script`, once with stderr on it,
    /// where the bar is drawn, and once with stderr sent to /dev/null, where
    /// it is not; the runs alternate, and the ratio is the median of each
    /// pair's. The bar costs CPU time only, so that is
    /// what is compared (user + system, of the command and of `script`
    /// copying the bar to the terminal): the wall time of a run varies by
    /// more than 5% on a shared machine whatever it draws. Meanwhile the
    /// server runs on the first CPU and the commands on the second, which
    /// makes their CPU time vary far less from run to run.
    fn progress_bar(
        url: &str,
        server_pid: u32,
        events: u64,
        runs: usize,
        table: &mut Table,
    ) -> anyhow::Result<()> {
        let _pinned = Pinned::apart(server_pid)?;
        let n = events.to_string();
        for what in ["publish", "listen"] {
            let (mut bar, mut plain) = (Vec::new(), Vec::new());
            let runs = runs.max(PROGRESS_RUNS);
            for run in 0..runs {
                eprintln!("bench: progress bar of {what}, run {}/{runs}", run + 1);
                // Alternating which goes first, so neither gains from the other.
                let mut order = [(true, &mut bar), (false, &mut plain)];
                if run % 2 == 1 {
                    order.reverse();
                }
                for (drawn, times) in order {
                    let channel = format!("bench.progress.{run}.{drawn}");
                    let args = match what {
                        "publish" => vec![PUBLISH, "--channel", &channel],
                        // `replay` left N events on this channel.
                        _ => vec![
                            LISTEN,
                            "--channel",
                            "bench.replay",
                            "--deliver-all",
                            "--no-queue-group",
                        ],
                    };
                    let line = args
                        .into_iter()
                        .chain(["--server", url, "--count", &n])
                        .map(shell_quote)
                        .collect::<Vec<_>>()
                        .join(" ");
                    let redirect = if drawn {
                        ">/dev/null"
                    } else {
                        ">/dev/null 2>/dev/null"
                    };
                    let cpu_before = children_cpu_seconds();
                    let (_, output) = timed(
                        Command::new("script")
                            .args(["--quiet", "--return", "--command"])
                            .arg(format!("{line} {redirect}"))
                            .arg("/dev/null")
                            .stdout(Stdio::piped()),
                    )?;
                    let terminal = String::from_utf8_lossy(&output.stdout);
                    ensure!(
                        terminal.contains("events/s") == drawn,
                        "{what}: the bar was {}drawn on the terminal: {terminal:?}",
                        if drawn { "not " } else { "" }
                    );
                    times.push(children_cpu_seconds() - cpu_before);
                    if what == "publish" {
                        delete_stream(url, &channel)?;
                    }
                }
            }
            // Each run's two halves ran back to back, under the same load:
            // the ratio is the median of theirs.
            let ratios = bar.iter().zip(&plain).map(|(b, p)| b / p).collect();
            let ratio = Stats::of(ratios).median;
            let (bar, plain) = (Stats::of(bar), Stats::of(plain));
            table.row(Row {
                figure: format!(
                    "6. Progress bar of `{what} --count {events}` on a terminal, CPU s \
                     (baseline: the same, bar hidden; ratio: median of {runs} pairs)"
                ),
                tool: bar.show(|v| format!("{v:.2}")),
                baseline: plain.show(|v| format!("{v:.2}")),
                ratio: format!("{ratio:.2}"),
                target: format!("ratio ≤ {MAX_PROGRESS_TIME_RATIO}"),
                pass: Some(ratio <= MAX_PROGRESS_TIME_RATIO),
            });
        }
        Ok(())
    }

    /// Figure 9: what `status --live` watching costs `listen`: the same
    /// replay with a subscriber to the ack reports
    /// (`$JS.EVENT.METRIC.CONSUMER.ACK.>`, this bench, as `status --live`
    /// subscribes) and without, alternating. 9b: `listen --report-acks`,
    /// whose consumer has the server report every ack, watched, against the
    /// plain replay: what exact lanes for out-of-order acks cost.
    fn watched_acks(
        url: &str,
        server_pid: u32,
        events: u64,
        runs: usize,
        table: &mut Table,
    ) -> anyhow::Result<()> {
        let _pinned = Pinned::apart(server_pid)?;
        let n = events.to_string();
        let replay = |report_acks: bool| {
            let mut command = Command::new(LISTEN);
            command
                .args(["--server", url, "--channel", "bench.replay"])
                .args(["--deliver-all", "--no-queue-group", "--count", &n])
                .stdout(Stdio::null());
            if report_acks {
                command.arg("--report-acks");
            }
            command
        };
        let (mut watched, mut plain, mut reporting) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!(
                "bench: replay with the acks watched, run {}/{runs}",
                run + 1
            );
            let mut order = [0, 1, 2];
            order.rotate_left(run % 3);
            for which in order {
                match which {
                    0 => {
                        let watcher = AckWatcher::start(url)?;
                        let (time, _) = timed(&mut replay(false))?;
                        watched.push(time.as_secs_f64());
                        let reports = watcher.stop();
                        ensure!(reports == 0, "{reports} ack reports without --report-acks");
                    }
                    1 => {
                        let (time, _) = timed(&mut replay(false))?;
                        plain.push(time.as_secs_f64());
                    }
                    _ => {
                        let watcher = AckWatcher::start(url)?;
                        let (time, _) = timed(&mut replay(true))?;
                        reporting.push(time.as_secs_f64());
                        let reports = watcher.stop();
                        ensure!(
                            reports >= events,
                            "the server reported {reports} acks of {events} with --report-acks"
                        );
                    }
                }
            }
        }
        let ratio_of = |times: &[f64]| {
            Stats::of(times.iter().zip(&plain).map(|(t, p)| t / p).collect()).median
        };
        let (ratio, reporting_ratio) = (ratio_of(&watched), ratio_of(&reporting));
        let rate = |times: &[f64]| Stats::of(times.iter().map(|t| events as f64 / t).collect());
        table.row(Row {
            figure: format!(
                "9. Replay while `status --live` watches the ack reports, events/s \
                 (baseline: unwatched; ratio: time, median of {runs} pairs)"
            ),
            tool: rate(&watched).show(kilo),
            baseline: rate(&plain).show(kilo),
            ratio: format!("{ratio:.2}"),
            target: format!("ratio ≤ {MAX_WATCHED_ACKS_TIME_RATIO}"),
            pass: Some(ratio <= MAX_WATCHED_ACKS_TIME_RATIO),
        });
        table.row(Row {
            figure: "9b. Replay with `--report-acks`, watched, events/s (baseline: plain replay; ratio: time)"
                .into(),
            tool: rate(&reporting).show(kilo),
            baseline: rate(&plain).show(kilo),
            ratio: format!("{reporting_ratio:.2}"),
            target: "– (opt-in)".into(),
            pass: None,
        });
        Ok(())
    }

    /// A subscriber to every ack report, as `status --live` is, counting them
    /// on a thread of its own.
    struct AckWatcher {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: std::thread::JoinHandle<anyhow::Result<u64>>,
    }

    impl AckWatcher {
        fn start(url: &str) -> anyhow::Result<AckWatcher> {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (ready, is_ready) = mpsc::channel::<()>();
            let url = url.to_owned();
            let thread = std::thread::spawn(move || {
                runtime()?.block_on(async move {
                    let client = async_nats::connect(&url).await?;
                    let mut reports = client.subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.>").await?;
                    client.flush().await?;
                    let _ = ready.send(());
                    let mut count = 0u64;
                    tokio::pin!(stopped);
                    loop {
                        tokio::select! {
                            report = reports.next() => match report {
                                Some(_) => count += 1,
                                None => break,
                            },
                            _ = &mut stopped => break,
                        }
                    }
                    anyhow::Ok(count)
                })
            });
            is_ready
                .recv_timeout(DEADLINE)
                .context("the ack watcher did not subscribe")?;
            Ok(AckWatcher {
                stop: Some(stop),
                thread,
            })
        }

        /// Stops watching once the reports stop coming; how many came.
        fn stop(mut self) -> u64 {
            // The last reports may still be on their way.
            std::thread::sleep(Duration::from_millis(300));
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            self.thread.join().ok().and_then(Result::ok).unwrap_or(0)
        }
    }

    /// Figure 7: `status --json CHANNEL` from exec to exit, on a channel
    /// with a million events and 50 subscriptions.
    fn status_json(
        url: &str,
        server_pid: u32,
        runs: usize,
        table: &mut Table,
    ) -> anyhow::Result<()> {
        let channel = "bench.status";
        eprintln!("bench: status, publishing {STATUS_EVENTS} events to {channel}");
        let (_, output) = timed(
            Command::new(PUBLISH)
                .args(["--server", url, "--channel", channel])
                .args(["--count", &STATUS_EVENTS.to_string()])
                .stdout(Stdio::piped()),
        )?;
        ensure!(
            String::from_utf8_lossy(&output.stdout)
                .contains(&format!("Published {STATUS_EVENTS} events")),
            "publish did not store {STATUS_EVENTS} events"
        );
        runtime()?.block_on(async {
            let client = async_nats::connect(url).await?;
            let js = jetstream::new(client.clone());
            let stream = js.get_stream(js.stream_by_subject(channel).await?).await?;
            for i in 0..STATUS_SUBSCRIPTIONS {
                stream
                    .create_consumer(pull::Config {
                        durable_name: Some(format!("subscription-{i:02}")),
                        deliver_policy: DeliverPolicy::All,
                        ack_policy: AckPolicy::Explicit,
                        ..Default::default()
                    })
                    .await?;
            }
            client.drain().await?;
            anyhow::Ok(())
        })?;
        let _pinned = Pinned::apart(server_pid)?;
        let mut times = Vec::new();
        for run in 0..runs {
            eprintln!("bench: status --json, run {}/{runs}", run + 1);
            let (time, output) = timed(
                Command::new(STATUS)
                    .args(["--server", url, "--json", channel])
                    .stdout(Stdio::piped()),
            )?;
            let document: serde_json::Value = serde_json::from_slice(&output.stdout)?;
            let channel = &document["channels"][0];
            ensure!(
                channel["events"] == STATUS_EVENTS
                    && channel["subscriptions"].as_array().map(Vec::len)
                        == Some(STATUS_SUBSCRIPTIONS),
                "status --json did not show {STATUS_EVENTS} events and {STATUS_SUBSCRIPTIONS} subscriptions"
            );
            times.push(time.as_secs_f64() * 1e3);
        }
        delete_stream(url, channel)?;
        let times = Stats::of(times);
        table.row(Row {
            figure: format!(
                "7. `status --json` of a channel with {STATUS_EVENTS} events and \
                 {STATUS_SUBSCRIPTIONS} subscriptions, exec to exit, ms"
            ),
            tool: times.show(|v| format!("{v:.0}")),
            baseline: "–".into(),
            ratio: "–".into(),
            target: format!("≤ {MAX_STATUS_JSON_MS} ms"),
            pass: Some(times.median <= MAX_STATUS_JSON_MS),
        });
        Ok(())
    }

    /// Figure 8: the CPU time of `status --live` on an 80×24 pseudo-terminal
    /// (util-linux `script`), over [`LIVE_WINDOW`] at idle, then while this
    /// bench publishes [`LIVE_EVENTS_PER_SECOND`] and a listener acks them.
    fn status_live(url: &str, table: &mut Table) -> anyhow::Result<()> {
        let channel = "bench.live";
        timed(
            Command::new(PUBLISH)
                .args(["--server", url, "--channel", channel])
                .stdout(Stdio::null()),
        )?;
        let line = [STATUS, "--server", url, "--live", channel]
            .into_iter()
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = Command::new("script")
            .args(["--quiet", "--command"])
            .arg(format!("stty rows 24 cols 80; exec {line}"))
            .arg("/dev/null")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let _watchdog = Watchdog::new(script.id());
        let status_pid = common::poll(DEADLINE, Duration::from_millis(50), || {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", script.id()))
                    .ok()?;
            let pid: u32 = children.split_whitespace().next()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            cmdline.starts_with(STATUS.as_bytes()).then_some(pid)
        })
        .context("status --live did not start")?;
        let cpu = |pid: u32| -> anyhow::Result<f64> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
            // After the command's name in parentheses: utime and stime are
            // fields 14 and 15, in clock ticks.
            let fields: Vec<&str> = stat[stat.rfind(')').context("stat")? + 2..]
                .split_whitespace()
                .collect();
            let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
            // SAFETY: sysconf only reads a configuration value.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
            Ok(ticks / hz)
        };
        // Let it connect and draw its first screens.
        std::thread::sleep(Duration::from_secs(2));
        let share = |flowing: bool| -> anyhow::Result<f64> {
            let mut listener = None;
            let mut publisher = None;
            if flowing {
                listener = Some(
                    Command::new(LISTEN)
                        .args(["--server", url, "--channel", channel, "--no-queue-group"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()?,
                );
                publisher = Some(Publisher::start(url, channel, LIVE_EVENTS_PER_SECOND)?);
                std::thread::sleep(Duration::from_secs(1));
            }
            let (before, started) = (cpu(status_pid)?, Instant::now());
            std::thread::sleep(LIVE_WINDOW);
            let share = (cpu(status_pid)? - before) / started.elapsed().as_secs_f64();
            if let Some(publisher) = publisher {
                let sent = publisher.stop()?;
                ensure!(
                    sent as f64 >= 0.8 * LIVE_EVENTS_PER_SECOND as f64 * LIVE_WINDOW.as_secs_f64(),
                    "the bench published only {sent} events while measuring"
                );
            }
            if let Some(mut listener) = listener {
                let _ = listener.kill();
                let _ = listener.wait();
            }
            Ok(share)
        };
        eprintln!("bench: status --live at idle, {LIVE_WINDOW:?}");
        let idle = share(false)?;
        eprintln!("bench: status --live at {LIVE_EVENTS_PER_SECOND} events/s, {LIVE_WINDOW:?}");
        let flowing = share(true)?;
        if let Some(stdin) = script.stdin.as_mut() {
            let _ = stdin.write_all(b"q");
        }
        let exited = common::poll(DEADLINE, Duration::from_millis(50), || {
            script.try_wait().ok().flatten()
        });
        if exited.is_none() {
            let _ = script.kill();
            bail!("status --live did not quit on q");
        }
        delete_stream(url, channel)?;
        for (figure, share) in [
            (
                "8a. `status --live` at idle, share of one core".to_owned(),
                idle,
            ),
            (
                format!(
                    "8b. `status --live` while {LIVE_EVENTS_PER_SECOND} events/s are published and acked, share of one core"
                ),
                flowing,
            ),
        ] {
            table.row(Row {
                figure,
                tool: format!("{:.1}%", share * 100.0),
                baseline: "–".into(),
                ratio: "–".into(),
                target: format!("≤ {:.0}%", MAX_LIVE_CPU_SHARE * 100.0),
                pass: Some(share <= MAX_LIVE_CPU_SHARE),
            });
        }
        Ok(())
    }

    /// Publishes at a steady rate on a thread of its own (core NATS
    /// publishes, which the stream stores), until stopped.
    struct Publisher {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: std::thread::JoinHandle<anyhow::Result<u64>>,
    }

    impl Publisher {
        fn start(url: &str, channel: &str, per_second: u64) -> anyhow::Result<Publisher> {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (url, channel) = (url.to_owned(), channel.to_owned());
            let thread = std::thread::spawn(move || {
                runtime()?.block_on(async move {
                    let client = async_nats::connect(&url).await?;
                    let tick = Duration::from_millis(10);
                    let per_tick = per_second / 100;
                    let mut ticks = tokio::time::interval(tick);
                    let mut sent = 0u64;
                    tokio::pin!(stopped);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => {
                                for _ in 0..per_tick {
                                    client.publish(channel.clone(), Bytes::from_static(SEED)).await?;
                                }
                                sent += per_tick;
                            }
                            _ = &mut stopped => break,
                        }
                    }
                    client.flush().await?;
                    anyhow::Ok(sent)
                })
            });
            Ok(Publisher {
                stop: Some(stop),
                thread,
            })
        }

        fn stop(mut self) -> anyhow::Result<u64> {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            self.thread
                .join()
                .map_err(|_| anyhow::anyhow!("the publisher thread panicked"))?
        }
    }

    /// The server's threads pinned to the first CPU and this thread (and so
    /// the commands it starts) to the second, on a machine with two or more;
    /// every CPU again when dropped.
    struct Pinned {
        server_pid: u32,
        cpus: usize,
    }

    impl Pinned {
        fn apart(server_pid: u32) -> anyhow::Result<Option<Pinned>> {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            if cpus < 2 {
                return Ok(None);
            }
            let pinned = Pinned { server_pid, cpus };
            pinned.set(Some(0), Some(1))?;
            Ok(Some(pinned))
        }

        /// Pins the server to `server_cpu` and this thread to `own_cpu`;
        /// `None` is every CPU.
        fn set(&self, server_cpu: Option<usize>, own_cpu: Option<usize>) -> anyhow::Result<()> {
            for task in std::fs::read_dir(format!("/proc/{}/task", self.server_pid))? {
                if let Ok(tid) = task?.file_name().to_string_lossy().parse() {
                    // A thread may have ended since the listing: nothing to pin.
                    let _ = pin(tid, server_cpu, self.cpus);
                }
            }
            pin(0, own_cpu, self.cpus)
        }
    }

    impl Drop for Pinned {
        fn drop(&mut self) {
            let _ = self.set(None, None);
        }
    }

    /// Lets thread `tid` (0: this one) run on `cpu` only, or on all `cpus`.
    fn pin(tid: libc::pid_t, cpu: Option<usize>, cpus: usize) -> anyhow::Result<()> {
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity
        // only touch the set they are given.
        let result = unsafe {
            let mut set = std::mem::zeroed::<libc::cpu_set_t>();
            for c in cpu.map_or(0..cpus, |c| c..c + 1) {
                libc::CPU_SET(c, &mut set);
            }
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        ensure!(
            result == 0,
            "could not pin thread {tid}: {}",
            std::io::Error::last_os_error()
        );
        Ok(())
    }

    /// CPU time (user + system) of every child process waited for so far,
    /// and of theirs.
    fn children_cpu_seconds() -> f64 {
        // SAFETY: getrusage only writes the struct it is given.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
            usage
        };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// `arg` quoted for `sh -c`.
    fn shell_quote(arg: &str) -> String {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }

    /// Runs a process to its end; its time from spawn to exit, and its output.
    fn timed(command: &mut Command) -> anyhow::Result<(Duration, Output)> {
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not run {command:?}"))?;
        let _watchdog = Watchdog::new(child.id());
        let output = child.wait_with_output()?;
        let time = started.elapsed();
        check(command, &output)?;
        Ok((time, output))
    }

    /// Kills a process (ours, by its id) that runs longer than [`DEADLINE`],
    /// so that a hung command fails the bench instead of stalling it.
    struct Watchdog(Option<mpsc::Sender<()>>);

    impl Watchdog {
        fn new(pid: u32) -> Watchdog {
            let (done, finished) = mpsc::channel::<()>();
            std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(DEADLINE) {
                    eprintln!("bench: process {pid} ran longer than {DEADLINE:?}; killing it");
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            });
            Watchdog(Some(done))
        }
    }

    impl Drop for Watchdog {
        fn drop(&mut self) {
            // Dropping the sender ends the watchdog's wait at once.
            self.0.take();
        }
    }

    /// [`timed`], also reading the process's peak resident memory (VmHWM,
    /// in MiB) from `/proc/<pid>/status` every 2 ms until it exits.
    fn timed_with_peak_rss(command: &mut Command) -> anyhow::Result<(Duration, f64)> {
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not run {command:?}"))?;
        let _watchdog = Watchdog::new(child.id());
        let status = PathBuf::from(format!("/proc/{}/status", child.id()));
        let poller = std::thread::spawn(move || {
            let mut peak_kib = 0u64;
            // Once the process has exited (a zombie), VmHWM is gone.
            while let Some(kib) = std::fs::read_to_string(&status)
                .ok()
                .and_then(|text| vm_hwm_kib(&text))
            {
                peak_kib = peak_kib.max(kib);
                std::thread::sleep(Duration::from_millis(2));
            }
            peak_kib
        });
        let output = child.wait_with_output()?;
        let time = started.elapsed();
        check(command, &output)?;
        let peak_kib = poller.join().expect("poller");
        ensure!(peak_kib > 0, "could not read VmHWM of {command:?}");
        Ok((time, peak_kib as f64 / 1024.0))
    }

    fn vm_hwm_kib(status: &str) -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn check(command: &Command, output: &Output) -> anyhow::Result<()> {
        ensure!(
            output.status.success(),
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Deletes the stream that captures `channel`, so the server's state stays small.
    fn delete_stream(url: &str, channel: &str) -> anyhow::Result<()> {
        runtime()?.block_on(async {
            let client = async_nats::connect(url).await?;
            let js = jetstream::new(client.clone());
            let name = js.stream_by_subject(channel).await?;
            js.delete_stream(&name).await?;
            client.drain().await?;
            anyhow::Ok(())
        })
    }

    /// Each line of `pipe`, with the instant it was read.
    fn timestamped_lines(
        pipe: impl std::io::Read + Send + 'static,
    ) -> mpsc::Receiver<(Instant, String)> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Everything `pipe` says, once it closes.
    fn collect(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(pipe).read_to_string(&mut text);
            let _ = tx.send(text);
        });
        rx
    }

    struct KillOnDrop<'a>(&'a mut Child);

    impl Drop for KillOnDrop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
        match std::env::var(name) {
            Ok(text) => text
                .parse()
                .map_err(|_| anyhow::anyhow!("{name}={text} is not a number")),
            Err(_) => Ok(default),
        }
    }

    fn cpu_model() -> Option<String> {
        let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        let line = info.lines().find(|l| l.starts_with("model name"))?;
        Some(line.split(':').nth(1)?.trim().to_owned())
    }

    /// Minimum, median and maximum of some runs.
    struct Stats {
        min: f64,
        median: f64,
        max: f64,
    }

    impl Stats {
        fn of(mut values: Vec<f64>) -> Stats {
            assert!(!values.is_empty());
            values.sort_by(f64::total_cmp);
            let n = values.len();
            let median = if n % 2 == 1 {
                values[n / 2]
            } else {
                (values[n / 2 - 1] + values[n / 2]) / 2.0
            };
            Stats {
                min: values[0],
                median,
                max: values[n - 1],
            }
        }

        fn show(&self, unit: impl Fn(f64) -> String) -> String {
            format!(
                "{} ({}–{})",
                unit(self.median),
                unit(self.min),
                unit(self.max)
            )
        }
    }

    fn kilo(v: f64) -> String {
        format!("{:.1}k", v / 1e3)
    }

    struct Row {
        figure: String,
        tool: String,
        baseline: String,
        ratio: String,
        target: String,
        /// Whether the target is met; `None` for a row without a target.
        pass: Option<bool>,
    }

    #[derive(Default)]
    struct Table {
        rows: Vec<Row>,
    }

    impl Table {
        fn row(&mut self, row: Row) {
            eprintln!(
                "bench: {}: {} vs {} → {} ({}, {})",
                row.figure,
                row.tool,
                row.baseline,
                row.ratio,
                row.target,
                match row.pass {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "no target",
                }
            );
            self.rows.push(row);
        }

        /// The table, rows in the order of their figure numbers.
        fn render(&self) -> String {
            let mut rows: Vec<&Row> = self.rows.iter().collect();
            rows.sort_by_key(|row| row.figure.split(' ').next().unwrap_or_default());
            let mut out = String::from(
                "| Figure | Toolkit | Baseline | Ratio | Target | Result |\n|---|---|---|---|---|---|\n",
            );
            for row in rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} |",
                    row.figure,
                    row.tool,
                    row.baseline,
                    row.ratio,
                    row.target,
                    match row.pass {
                        Some(true) => "pass",
                        Some(false) => "**FAIL**",
                        None => "–",
                    }
                );
            }
            out
        }

        fn missed(&self) -> Vec<String> {
            self.rows
                .iter()
                .filter(|row| row.pass == Some(false))
                .map(|row| format!("{} ({}, target {})", row.figure, row.ratio, row.target))
                .collect()
        }
    }
}
