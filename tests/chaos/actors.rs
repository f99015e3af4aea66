//! The chaos run's moving parts: the listeners (each restarted with the
//! same flags after a kill, every line it prints recorded with the run of
//! it that printed it), the publisher of the batches, the sampler of the
//! stream, and the read-back of what the stream holds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;

use crate::common::cluster::{self, STREAM};
use crate::common::{Running, block_on, command, text};
use crate::verdict::{BatchRun, Consumer, Data, End, ListenerRun, Print, Printed, RunId, Stored};

/// A batch still running after this long is taken as hung, killed and reported.
const BATCH_DEADLINE: Duration = Duration::from_secs(90);

/// The program run as `listen`: the built binary, or a wrapper of it.
#[derive(Clone)]
pub struct ListenProgram {
    pub path: String,
    /// Its environment on top of the run's (the wrapper finds the binary
    /// in `LISTEN_BIN`).
    pub env: Vec<(String, String)>,
}

impl ListenProgram {
    pub fn built() -> ListenProgram {
        ListenProgram {
            path: env!("CARGO_BIN_EXE_listen").to_owned(),
            env: Vec::new(),
        }
    }
}

/// One `listen --json` line.
#[derive(Deserialize)]
struct Line {
    seq: u64,
    #[serde(default)]
    delivery: u64,
    #[serde(default)]
    data: serde_json::Value,
}

/// What one consumer's listeners printed, as it comes.
#[derive(Default)]
pub struct Prints {
    pub printed: Printed,
    /// Which sequences were printed, and how many.
    seen: Vec<bool>,
    pub distinct: u64,
}

impl Prints {
    fn record(&mut self, at: Duration, run: RunId, line: &str) {
        let Ok(parsed) = serde_json::from_str::<Line>(line) else {
            self.printed.unreadable.push(line.to_owned());
            return;
        };
        let seq = parsed.seq as usize;
        if seq >= self.seen.len() {
            self.seen.resize(seq + 1, false);
        }
        if !self.seen[seq] {
            self.seen[seq] = true;
            self.distinct += 1;
        }
        let batch = parsed.data.as_object().and_then(|data| match data.len() {
            1 => data.get("batch")?.as_u64(),
            _ => None,
        });
        let data = match batch {
            Some(batch) => Data::Batch(batch),
            None => Data::Other(parsed.data.to_string()),
        };
        self.printed.lines.push(Print {
            at,
            run,
            seq: parsed.seq,
            delivery: parsed.delivery,
            data,
        });
    }
}

/// Sends `signal` to the process group `pid` leads: the program and
/// whatever it started (a wrapper's pipeline), as Ctrl-C on a terminal does.
fn signal_group(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on the group of a child not yet waited for.
    unsafe { libc::kill(-(pid as libc::pid_t), signal) };
}

/// One `listen` of the run, started again with the same flags after each kill.
pub struct Listener {
    pub name: String,
    index: usize,
    consumer: Consumer,
    program: ListenProgram,
    server: String,
    args: Vec<String>,
    prints: Arc<Mutex<Prints>>,
    stderr: Arc<Mutex<String>>,
    child: Option<Child>,
    readers: Vec<JoinHandle<()>>,
    starts: u32,
    /// The runs that ended.
    pub ended: Vec<ListenerRun>,
    t0: Instant,
}

impl Listener {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        index: usize,
        consumer: Consumer,
        program: &ListenProgram,
        server: &str,
        args: &[&str],
        prints: &Arc<Mutex<Prints>>,
        t0: Instant,
    ) -> Listener {
        Listener {
            name: name.to_owned(),
            index,
            consumer,
            program: program.clone(),
            server: server.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            prints: Arc::clone(prints),
            stderr: Arc::default(),
            child: None,
            readers: Vec::new(),
            starts: 0,
            ended: Vec::new(),
            t0,
        }
    }

    fn run_id(&self) -> RunId {
        RunId {
            listener: self.index,
            start: self.starts,
        }
    }

    /// Starts it in a process group of its own, so that a signal reaches a
    /// wrapper's whole pipeline.
    pub fn start(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut child = command(&self.program.path, &self.server, &args)
            .envs(self.program.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start listen");
        self.starts += 1;
        let run = self.run_id();
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (prints, t0) = (Arc::clone(&self.prints), self.t0);
        self.readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                prints.lock().unwrap().record(t0.elapsed(), run, &line);
            }
        }));
        let (notes, tag) = (
            Arc::clone(&self.stderr),
            format!("[{} #{}] ", self.name, self.starts),
        );
        self.readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut notes = notes.lock().unwrap();
                notes.push_str(&tag);
                notes.push_str(&line);
                notes.push('\n');
            }
        }));
        self.child = Some(child);
    }

    fn end(&mut self, end: End) {
        self.join_readers();
        self.ended.push(ListenerRun {
            id: self.run_id(),
            name: format!("{} #{}", self.name, self.starts),
            consumer: self.consumer,
            end,
            stderr_tail: self.stderr_tail(10),
        });
    }

    /// SIGKILL (the fault), then waits until everything it wrote has been read.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            self.end(End::Killed(self.t0.elapsed()));
        }
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    pub fn connected(&self) -> bool {
        let tag = format!(
            "[{} #{}] Listener connected to NATS",
            self.name, self.starts
        );
        self.stderr.lock().unwrap().contains(&tag)
    }

    /// Its exit status if it exited on its own (it should not).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().expect("try_wait")?;
        let child = self.child.take();
        // Whatever it started (a wrapper's pipeline) goes with it.
        if let Some(child) = child {
            signal_group(child.id(), libc::SIGKILL);
        }
        self.end(End::ExitedOnItsOwn(self.t0.elapsed(), status));
        Some(status)
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        if let Some(child) = &self.child {
            signal_group(child.id(), libc::SIGINT);
        }
    }

    /// Waits until it has exited, SIGKILLs it after `deadline`.
    pub fn wait_stopped(&mut self, deadline: Instant) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                signal_group(child.id(), libc::SIGKILL);
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // What it left running (a wrapper's pipeline) would keep its
        // output open.
        signal_group(child.id(), libc::SIGKILL);
        self.end(End::Stopped(status));
    }

    pub fn stderr_tail(&self, lines: usize) -> String {
        let text = self.stderr.lock().unwrap();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

/// The data of batch `b`.
pub fn batch_data(b: u64) -> String {
    format!(r#"{{"batch":{b}}}"#)
}

/// The batch being published: the stream's last sequence before it, and
/// after it once all its events are stored.
pub type Span = Arc<Mutex<Option<(u64, u64)>>>;

/// The stream's highest last sequence over the nodes that answer.
pub fn stream_last(monitor_ports: &[u16]) -> u64 {
    monitor_ports
        .iter()
        .filter_map(|&port| cluster::local_copy(&cluster::jsz(port)?))
        .map(|(_, last)| last)
        .max()
        .unwrap_or(0)
}

/// What the publisher thread shares with the run.
pub struct Publishing {
    pub stop: Arc<AtomicBool>,
    /// A batch is being published.
    pub active: Arc<AtomicBool>,
    pub span: Span,
}

/// Publishes the batches one after the other, batch `b` not before
/// `starts[b]` after `t0`, until done or `stop`.
pub fn publish_batches(
    server: String,
    monitor_ports: Vec<u16>,
    batches: Vec<(Duration, u64)>,
    t0: Instant,
    shared: Publishing,
) -> Vec<BatchRun> {
    let Publishing { stop, active, span } = shared;
    let mut runs = Vec::new();
    for (index, (start, count)) in batches.into_iter().enumerate() {
        while t0.elapsed() < start && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20).min(start - t0.elapsed()));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let base = stream_last(&monitor_ports);
        *span.lock().unwrap() = Some((base, base + count));
        let (started, at) = (Instant::now(), t0.elapsed());
        active.store(true, Ordering::Relaxed);
        let (count_arg, data) = (count.to_string(), batch_data(index as u64));
        let args = ["--replicas", "3", "--count", &count_arg, "--data", &data];
        let mut publish = Running::spawn(
            &format!("publish of batch {index}"),
            &mut command(env!("CARGO_BIN_EXE_publish"), &server, &args),
        );
        let exited = loop {
            if publish.try_wait().is_some() {
                break true;
            }
            if started.elapsed() > BATCH_DEADLINE || stop.load(Ordering::Relaxed) {
                publish.kill();
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (status, stdout, stderr) = if exited {
            let output = publish.finish();
            (
                Some(output.status),
                text(&output.stdout),
                text(&output.stderr),
            )
        } else {
            (None, publish.stdout(), publish.stderr())
        };
        let took = started.elapsed();
        active.store(false, Ordering::Relaxed);
        *span.lock().unwrap() = None;
        runs.push(BatchRun {
            index: index as u64,
            count,
            at,
            took,
            status,
            stdout,
            stderr,
        });
    }
    runs
}

/// Samples (when, the stream's highest last sequence over the nodes that
/// answer, whether a batch was being published) until `stop`.
pub fn sample_stream(
    monitor_ports: Vec<u16>,
    every: Duration,
    t0: Instant,
    stop: Arc<AtomicBool>,
    active: Arc<AtomicBool>,
) -> Vec<(Duration, u64, bool)> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let publishing = active.load(Ordering::Relaxed);
        samples.push((t0.elapsed(), stream_last(&monitor_ports), publishing));
        std::thread::sleep(every);
    }
    samples
}

/// Each consumer's `max_ack_pending`, as the server reports it.
pub fn max_ack_pending(server: &str, consumers: &[&str]) -> Vec<u64> {
    let urls: Vec<String> = server.split(',').map(str::to_owned).collect();
    let consumers: Vec<String> = consumers.iter().map(|c| c.to_string()).collect();
    block_on(async move {
        let client = async_nats::connect(urls)
            .await
            .expect("connect to the cluster");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(STREAM).await.expect("the stream");
        let mut windows = Vec::new();
        for name in consumers {
            let info = stream.consumer_info(&name).await.expect("the consumer");
            windows.push(info.config.max_ack_pending as u64);
        }
        windows
    })
}

/// What the stream holds, read back through a client.
pub fn read_stored(server: &str) -> Stored {
    let urls: Vec<String> = server.split(',').map(str::to_owned).collect();
    block_on(async move {
        let work = async {
            let client = async_nats::connect(urls)
                .await
                .expect("connect to the cluster");
            let js = async_nats::jetstream::new(client);
            let mut stream = js.get_stream(STREAM).await.expect("the stream");
            let state = stream.info().await.expect("stream info").state.clone();
            let consumer = stream
                .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
                    deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .expect("an ordered consumer");
            let mut messages = consumer.messages().await.expect("messages");
            let mut stored = Stored {
                messages: state.messages,
                first_seq: state.first_sequence,
                last_seq: state.last_sequence,
                per_batch: HashMap::new(),
                prefixes: HashMap::new(),
                foreign: 0,
                batch_at: vec![None; state.last_sequence as usize + 1],
            };
            for _ in 0..state.messages {
                let message = messages
                    .next()
                    .await
                    .expect("as many events as the stream holds")
                    .expect("an event");
                let seq = message.info().expect("an event's metadata").stream_sequence;
                // Exactly the data `publish` was given, `{"batch":B}`.
                let batch = std::str::from_utf8(&message.payload)
                    .ok()
                    .and_then(|data| data.strip_prefix(r#"{"batch":"#)?.strip_suffix('}'))
                    .and_then(|b| b.parse::<u64>().ok())
                    .filter(|&b| message.payload == batch_data(b).as_bytes());
                let id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default();
                let index = id
                    .rsplit_once('-')
                    .and_then(|(prefix, i)| Some((prefix.to_owned(), i.parse::<u64>().ok()?)));
                let (Some(batch), Some((prefix, index))) = (batch, index) else {
                    stored.foreign += 1;
                    continue;
                };
                if let Some(slot) = stored.batch_at.get_mut(seq as usize) {
                    *slot = Some(batch);
                }
                *stored
                    .per_batch
                    .entry(batch)
                    .or_default()
                    .entry(index)
                    .or_default() += 1;
                let prefixes = stored.prefixes.entry(batch).or_default();
                if !prefixes.contains(&prefix) {
                    prefixes.push(prefix);
                }
            }
            stored
        };
        tokio::time::timeout(Duration::from_secs(120), work)
            .await
            .expect("reading the stored events took more than 120 s")
    })
}
