//! The run: every figure in turn, and the table.

use crate::measure::*;
use crate::verdict::Target;
use crate::*;

/// Runs every measurement and prints the table; `false` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
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
    // curves, cluster, masking, comma-separated) runs only those figures.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
    if wanted("publish") {
        bulk_publish(&url, server.pid(), events, runs, &mut table)?;
    }
    if wanted("replay") || wanted("progress") || wanted("status") {
        // Leaves `bench.replay` with the events the later figures replay.
        replay(&url, server.pid(), events, runs, &mut table)?;
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
    let mut curves = None;
    if wanted("curves") {
        curves = Some(curves::curves(&url, server.pid(), runs, &mut table)?);
    }
    if wanted("cluster") {
        cluster::cluster(events, runs, &mut table)?;
    }
    if wanted("masking") {
        masking::masking(runs, &mut table)?;
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
    let total = started.elapsed().as_secs_f64();
    let _ = write!(heading, " The whole run took {:.1} min.", total / 60.0);
    println!("{heading}\n");
    print!("{}", table.render());
    if let Some(curves) = curves {
        println!("\nCost curves (figure 10), median (min–max):\n");
        print!("{curves}");
    }
    eprintln!("bench: {total:.0} s in all");
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
fn bulk_publish(
    url: &str,
    server_pid: u32,
    events: u64,
    runs: usize,
    table: &mut Table,
) -> anyhow::Result<()> {
    let _pinned = Pinned::apart(server_pid)?;
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
    table.row(Row::paired(
        format!(
            "1. Bulk publish, `publish --count {events}`, events/s (baseline: the same \
             publishes, each with the `Nats-Msg-Id` header that exactly-once needs; ratio: \
             median of the {runs} runs' ratios)"
        ),
        tool.show(kilo),
        base_id.show(kilo),
        &tool.over(&base_id),
        Some(Target::AtLeast(MIN_THROUGHPUT_RATIO)),
    ));
    table.row(Row {
        figure: "1b. Context, no target: the baseline without `Nats-Msg-Id` (no duplicate \
                 check, so a resend after a fault could store an event twice), events/s"
            .into(),
        tool: "–".into(),
        baseline: base.show(kilo),
        ratio: format!("{:.2}", tool.median / base.median),
        target: "–".into(),
        pass: None,
        noise: None,
    });
    Ok(())
}

/// Figures 2 and 5: replays of one channel of N events: `listen` (default output
/// and `--json`) against the faster of the two raw consumers, pull and push,
/// in this run; and `listen`'s peak memory.
fn replay(
    url: &str,
    server_pid: u32,
    events: u64,
    runs: usize,
    table: &mut Table,
) -> anyhow::Result<()> {
    // A channel whose publishes' ids the server has already forgotten, as
    // the cost curves replay: while it holds them, its garbage collector
    // pauses now and then, on either side's runs.
    let channel = "bench.replay";
    replays::create_settled_stream(url, channel)?;
    replays::fill(url, channel, events, 1)?;
    let _pinned = Pinned::apart(server_pid)?;
    use replays::Replayer::*;
    // The same lines, whichever consumer prints them.
    replays::same_lines(url, channel, events)?;
    // Three times the runs: its target sits closest to the spread of a run.
    let results = replays::replays(
        url,
        channel,
        events,
        3 * runs,
        &[Listen, ListenJson, Pull, Push, ListenExplicit],
        "replay",
    )?;
    let [text, json, pull, push, explicit] = [0, 1, 2, 3, 4].map(|i| results[i].clone());
    // Throughput and time, run by run.
    let rate = |times: &(Vec<f64>, Vec<f64>)| replays::rates(events, &times.0);
    let (text_rate, json_rate) = (rate(&text), rate(&json));
    let (pull_rate, push_rate, explicit_rate) = (rate(&pull), rate(&push), rate(&explicit));
    let (fastest, fastest_rate, fastest_rss) = if push_rate.median > pull_rate.median {
        ("push", &push_rate, &push.1)
    } else {
        ("pull", &pull_rate, &pull.1)
    };
    // Paired: each run's `listen` against the same run's raw consumer (they
    // ran moments apart), so that a slow spell of the machine, which the
    // runs' spread shows, weighs on both sides of a ratio.
    let n = text.0.len();
    table.row(Row::paired(
        format!(
            "2. Replay, `listen --deliver-all --no-queue-group --count {events}` > /dev/null \
             (a listener of its own: acks in order, one ack per written-out batch), events/s \
             (baseline: the faster raw explicit-ack consumer of this run, {fastest}; ratio: \
             median of the {n} runs' ratios, each against the raw consumer's replay of the \
             same run)"
        ),
        text_rate.show(kilo),
        fastest_rate.show(kilo),
        &text_rate.over(fastest_rate),
        Some(Target::AtLeast(MIN_ACK_ALL_REPLAY_RATIO)),
    ));
    table.row(Row::paired(
        "2a. Context, no target: the raw consumers, pull (toolkit column) and push \
         (baseline column), events/s"
            .into(),
        pull_rate.show(kilo),
        push_rate.show(kilo),
        &pull_rate.over(&push_rate),
        None,
    ));
    table.row(Row::paired(
        "2b. Replay with `--json`, events/s (ratio: time with `--json` / time with default \
         output, run by run)"
            .into(),
        json_rate.show(kilo),
        format!("{} (default output)", text_rate.show(kilo)),
        &text_rate.over(&json_rate),
        Some(Target::AtMost(MAX_JSON_TIME_RATIO)),
    ));
    table.row(Row::paired(
        format!(
            "2c. Replay with an ack per event (`--max-in-flight 1000`, the server's default \
             window, which like `--nak`, `--term`, `--skip-ack`, `--fail-on`, `--delay`, a \
             queue group or a delivery limit needs per-event acks), events/s (baseline: the \
             faster raw consumer, {fastest})"
        ),
        explicit_rate.show(kilo),
        fastest_rate.show(kilo),
        &explicit_rate.over(fastest_rate),
        Some(Target::AtLeast(MIN_REPLAY_RATIO)),
    ));
    for (name, raw) in [("pull", &pull_rate), ("push", &push_rate)] {
        table.row(Row::paired(
            format!(
                "2{}. Context, no target: `listen` (acks in order) against the raw {name} \
                 consumer alone, events/s",
                if name == "pull" { "d" } else { "e" }
            ),
            text_rate.show(kilo),
            raw.show(kilo),
            &text_rate.over(raw),
            None,
        ));
    }
    let (rss, base_rss) = (Stats::of(text.1), Stats::of(fastest_rss.clone()));
    table.row(Row {
        figure: format!(
            "5. Peak resident memory (VmHWM) of `listen` replaying {events} events, MiB \
             (baseline: the {fastest} consumer)"
        ),
        tool: rss.show(|v| format!("{v:.1}")),
        baseline: base_rss.show(|v| format!("{v:.1}")),
        ratio: format!("{:.2}", rss.median / base_rss.median),
        target: format!("≤ {MAX_RSS_MIB} MiB"),
        pass: Some(rss.median <= MAX_RSS_MIB),
        noise: None,
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
        noise: None,
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
        noise: None,
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
        let (bar, plain) = (Stats::of(bar), Stats::of(plain));
        table.row(Row::paired(
            format!(
                "6. Progress bar of `{what} --count {events}` on a terminal, CPU s \
                 (baseline: the same, bar hidden; ratio: median of {runs} pairs)"
            ),
            bar.show(|v| format!("{v:.2}")),
            plain.show(|v| format!("{v:.2}")),
            &bar.over(&plain),
            Some(Target::AtMost(MAX_PROGRESS_TIME_RATIO)),
        ));
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
    let ratio_of =
        |times: &[f64]| Stats::of(times.iter().zip(&plain).map(|(t, p)| t / p).collect()).median;
    let reporting_ratio = ratio_of(&reporting);
    let rate = |times: &[f64]| Stats::of(times.iter().map(|t| events as f64 / t).collect());
    table.row(Row::paired(
        format!(
            "9. Replay while `status --live` watches the ack reports, events/s \
             (baseline: unwatched; ratio: time, median of {runs} pairs)"
        ),
        rate(&watched).show(kilo),
        rate(&plain).show(kilo),
        &Stats::of(watched.clone()).over(&Stats::of(plain.clone())),
        Some(Target::AtMost(MAX_WATCHED_ACKS_TIME_RATIO)),
    ));
    table.row(Row {
        figure: "9b. Replay with `--report-acks`, watched, events/s (baseline: plain replay; ratio: time)"
            .into(),
        tool: rate(&reporting).show(kilo),
        baseline: rate(&plain).show(kilo),
        ratio: format!("{reporting_ratio:.2}"),
        target: "– (opt-in)".into(),
        pass: None,
        noise: None,
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
fn status_json(url: &str, server_pid: u32, runs: usize, table: &mut Table) -> anyhow::Result<()> {
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
                && channel["subscriptions"].as_array().map(Vec::len) == Some(STATUS_SUBSCRIPTIONS),
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
        noise: None,
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
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", script.id())).ok()?;
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
            noise: None,
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
