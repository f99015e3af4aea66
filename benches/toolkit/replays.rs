//! The ways a channel's history is replayed: `listen` (plain lines or
//! `--json`), a queue group of two `listen` processes, and the two raw
//! consumers (pull and push), each one process (or two) timed from exec to
//! exit. Figures 2, 10 and 11 share them.

use std::process::Child;

use crate::measure::*;
use crate::*;

/// One way to replay a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayer {
    /// `listen --deliver-all --no-queue-group --count N`.
    Listen,
    /// The same with `--json`.
    ListenJson,
    /// The same with `--max-in-flight 1000` (the server's default window):
    /// an ack per event, as every subscription that settles events one by
    /// one has (issue #24).
    ListenExplicit,
    /// Two `listen --queue-group G --deliver-all --until-caught-up` at once.
    QueueGroup,
    /// `--baseline-replay`: async-nats's pull consumer.
    Pull,
    /// `--baseline-push-replay`: async-nats's push consumer.
    Push,
}

/// How long one replay took, and the peak memory (MiB) of the process, for
/// those measured with it ([`Replayer::Listen`] and the raw consumers).
pub struct Replay {
    pub seconds: f64,
    pub peak_mib: Option<f64>,
}

/// Replays the `events` events of `channel` (sequences 1 to `events`, the
/// whole stream) once, as `who`. `group` names a fresh queue group.
pub fn replay_once(
    url: &str,
    channel: &str,
    events: u64,
    who: Replayer,
    group: &str,
) -> anyhow::Result<Replay> {
    let n = events.to_string();
    let listen = |json: bool, explicit: bool| {
        let mut command = Command::new(LISTEN);
        if explicit {
            command.args(["--max-in-flight", "1000"]);
        }
        command
            .args(["--server", url, "--channel", channel])
            .args(["--deliver-all", "--no-queue-group", "--count", &n])
            .stdout(Stdio::null());
        if json {
            command.arg("--json");
        }
        command
    };
    let baseline = |mode: &str| -> anyhow::Result<Command> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args([mode, url, channel, &n]).stdout(Stdio::null());
        Ok(command)
    };
    let with_rss = |mut command: Command| -> anyhow::Result<Replay> {
        let (time, peak) = timed_with_peak_rss(&mut command)?;
        Ok(Replay {
            seconds: time.as_secs_f64(),
            peak_mib: Some(peak),
        })
    };
    match who {
        Replayer::Listen => with_rss(listen(false, false)),
        // Every replay that a ratio compares is timed the same way, its
        // memory read every 2 ms as it runs: the reads cost the process
        // read a little, and a ratio of one side read to one not read
        // showed plain `listen` 20% slower than `--json` (issue #24).
        Replayer::ListenJson => with_rss(listen(true, false)),
        Replayer::ListenExplicit => with_rss(listen(false, true)),
        Replayer::Pull => with_rss(baseline("--baseline-replay")?),
        Replayer::Push => with_rss(baseline("--baseline-push-replay")?),
        Replayer::QueueGroup => Ok(Replay {
            seconds: queue_group(url, channel, events, group)?.as_secs_f64(),
            peak_mib: None,
        }),
    }
}

/// Two members of the new queue group `group` replay the channel together:
/// both start at once with `--deliver-all --until-caught-up`, and the
/// replay is over when every event has been printed and acked, from the
/// exec of the first to the exit of the last.
///
/// `--until-caught-up` ends the member that handles the channel's last
/// event at once; the other one, with nothing to write out, learns it from
/// the group's ack floor, which it asks for every 500 ms. So that this
/// polling interval is not timed, once one member has exited the bench
/// asks the server about the group's consumer every half millisecond, and
/// when it has acked every event (ack floor at the last sequence, nothing
/// pending, nothing awaiting an ack) that instant ends the replay; a member
/// still running then gets a SIGINT (Ctrl-C), which it answers with a
/// clean close, untimed.
fn queue_group(url: &str, channel: &str, events: u64, group: &str) -> anyhow::Result<Duration> {
    let rt = runtime()?;
    // Connected before the clock starts: only the members are timed.
    let (client, stream) = rt.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        let name = js.stream_by_subject(channel).await?;
        let stream = js.get_stream(&name).await?;
        anyhow::Ok((client, stream))
    })?;
    let member = || {
        Command::new(LISTEN)
            .args(["--server", url, "--channel", channel])
            .args(["--queue-group", group, "--deliver-all", "--until-caught-up"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("could not start a listen of the queue group")
    };
    let started = Instant::now();
    let mut members: Vec<(Child, Option<Instant>)> = vec![(member()?, None), (member()?, None)];
    let _watchdogs: Vec<Watchdog> = members.iter().map(|(c, _)| Watchdog::new(c.id())).collect();
    let end = loop {
        for (child, exited) in &mut members {
            if exited.is_none() && child.try_wait()?.is_some() {
                *exited = Some(Instant::now());
            }
        }
        let exits: Vec<Instant> = members.iter().filter_map(|(_, e)| *e).collect();
        if exits.len() == members.len() {
            break exits.into_iter().max().expect("two members");
        }
        if !exits.is_empty() {
            let info = rt.block_on(stream.consumer_info(group))?;
            if info.ack_floor.stream_sequence >= events
                && info.num_pending == 0
                && info.num_ack_pending == 0
            {
                break Instant::now();
            }
        }
        ensure!(
            started.elapsed() < DEADLINE,
            "the queue group {group} did not replay {events} events within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_micros(500));
    };
    for (child, exited) in &mut members {
        if exited.is_none() {
            common::signal(child.id(), "INT");
        }
    }
    for (child, _) in members {
        let output = child.wait_with_output()?;
        ensure!(
            output.status.success(),
            "a listen of the queue group {group} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    rt.block_on(async {
        // Non-durable: it would expire by itself; gone at once keeps the server small.
        let _ = stream.delete_consumer(group).await;
        client.drain().await
    })?;
    Ok(end - started)
}

/// Publishes `events` events to `channel` with `publish` (creating its
/// stream with `replicas` copies), to be replayed.
pub fn fill(url: &str, channel: &str, events: u64, replicas: u8) -> anyhow::Result<()> {
    eprintln!("bench: publishing {events} events to {channel}");
    let (_, output) = timed(
        Command::new(PUBLISH)
            .args(["--server", url, "--channel", channel])
            .args(["--count", &events.to_string()])
            .args(["--replicas", &replicas.to_string()])
            .stdout(Stdio::piped()),
    )?;
    let summary = String::from_utf8_lossy(&output.stdout);
    ensure!(
        summary.contains(&format!("Published {events} events")),
        "publish did not store {events} events: {summary}"
    );
    Ok(())
}

/// Makes `channel`'s stream, before [`fill`], with a duplicate window of
/// [`SETTLED_WINDOW`] instead of the 2 minutes `publish` gives a stream: the
/// server then forgets each event's `Nats-Msg-Id` a second after storing
/// it, as it has for any history replayed more than 2 minutes after it was
/// published. A million remembered ids hold about 230 MB of the server's
/// memory, and its garbage collector slows every replay while they last.
pub fn create_settled_stream(url: &str, channel: &str) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = async_nats::connect(url).await?;
        let js = jetstream::new(client.clone());
        js.create_stream(jetstream::stream::Config {
            duplicate_window: SETTLED_WINDOW,
            ..crate::baseline::stream_config(channel, 1)
        })
        .await?;
        client.drain().await?;
        anyhow::Ok(())
    })
}

/// Checks that `listen` (acking in order), `listen` with an ack per event
/// and both raw consumers print the same lines for the channel's `events`
/// events: what figure 2 times is the same output.
pub fn same_lines(url: &str, channel: &str, events: u64) -> anyhow::Result<()> {
    let n = events.to_string();
    // The event lines (`listen` says where it listens first).
    let lines = |command: &mut Command| -> anyhow::Result<Vec<String>> {
        let output = command.stderr(Stdio::null()).output()?;
        ensure!(output.status.success(), "{command:?}: {}", output.status);
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with("Received event #"))
            .map(str::to_owned)
            .collect())
    };
    let listen = |extra: &[&str]| {
        let mut command = Command::new(LISTEN);
        command
            .args(["--server", url, "--channel", channel])
            .args(["--deliver-all", "--no-queue-group", "--count", &n])
            .args(extra);
        command
    };
    let in_order = lines(&mut listen(&[]))?;
    ensure!(
        in_order.len() as u64 == events,
        "listen printed {} event lines of {events}",
        in_order.len()
    );
    let explicit = lines(&mut listen(&["--max-in-flight", "1000"]))?;
    ensure!(
        in_order == explicit,
        "listen with an ack per event printed other lines"
    );
    for mode in ["--baseline-replay", "--baseline-push-replay"] {
        let raw = lines(Command::new(std::env::current_exe()?).args([mode, url, channel, &n]))?;
        ensure!(
            raw == in_order,
            "the raw consumer {mode} printed other lines than listen"
        );
    }
    Ok(())
}

/// The duplicate window of [`create_settled_stream`].
pub const SETTLED_WINDOW: Duration = Duration::from_secs(1);

/// Runs each of `who` once per run, the order rotated from run to run so
/// that none always goes first; the times (s) and peak memory (MiB) of each.
pub fn replays(
    url: &str,
    channel: &str,
    events: u64,
    runs: usize,
    who: &[Replayer],
    what: &str,
) -> anyhow::Result<Vec<(Vec<f64>, Vec<f64>)>> {
    let mut results = vec![(Vec::new(), Vec::new()); who.len()];
    for run in 0..runs {
        eprintln!("bench: {what}, run {}/{runs}", run + 1);
        for k in 0..who.len() {
            let i = (k + run) % who.len();
            let group = format!("bench-group-{}-{run}-{i}", std::process::id());
            let replay = replay_once(url, channel, events, who[i], &group)?;
            results[i].0.push(replay.seconds);
            results[i].1.extend(replay.peak_mib);
        }
    }
    Ok(results)
}

/// Events per second of each time.
pub fn rates(events: u64, seconds: &[f64]) -> Stats {
    Stats::of(seconds.iter().map(|s| events as f64 / s).collect())
}
