//! Measuring processes: timing, peak memory, CPU pinning, statistics and the table.

use crate::verdict::{self, Target, Verdict};
use crate::*;

/// The server's threads (every server's, for a cluster) pinned to the
/// first CPU and this thread (and so the commands it starts) to the second,
/// on a machine with two or more; every CPU again when dropped. Threads the
/// server starts later inherit its pinning.
pub struct Pinned {
    server_pids: Vec<u32>,
    cpus: usize,
}

impl Pinned {
    pub fn apart(server_pid: u32) -> anyhow::Result<Option<Pinned>> {
        Pinned::all_apart(&[server_pid])
    }

    pub fn all_apart(server_pids: &[u32]) -> anyhow::Result<Option<Pinned>> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return Ok(None);
        }
        let pinned = Pinned {
            server_pids: server_pids.to_vec(),
            cpus,
        };
        pinned.set(Some(0), Some(1))?;
        Ok(Some(pinned))
    }

    /// Pins the servers to `server_cpu` and this thread to `own_cpu`;
    /// `None` is every CPU.
    pub fn set(&self, server_cpu: Option<usize>, own_cpu: Option<usize>) -> anyhow::Result<()> {
        for pid in &self.server_pids {
            for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
                if let Ok(tid) = task?.file_name().to_string_lossy().parse() {
                    // A thread may have ended since the listing: nothing to pin.
                    let _ = pin(tid, server_cpu, self.cpus);
                }
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
pub fn pin(tid: libc::pid_t, cpu: Option<usize>, cpus: usize) -> anyhow::Result<()> {
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
pub fn children_cpu_seconds() -> f64 {
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
pub fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs a process to its end; its time from spawn to exit, and its output.
pub fn timed(command: &mut Command) -> anyhow::Result<(Duration, Output)> {
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
pub struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub fn new(pid: u32) -> Watchdog {
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
pub fn timed_with_peak_rss(command: &mut Command) -> anyhow::Result<(Duration, f64)> {
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

pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn check(command: &Command, output: &Output) -> anyhow::Result<()> {
    ensure!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Deletes the stream that captures `channel`, so the server's state stays small.
pub fn delete_stream(url: &str, channel: &str) -> anyhow::Result<()> {
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
pub fn timestamped_lines(
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
pub fn collect(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

pub struct KillOnDrop<'a>(pub &'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={text} is not a number")),
        Err(_) => Ok(default),
    }
}

pub fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split(':').nth(1)?.trim().to_owned())
}

/// Minimum, median and maximum of some runs.
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// The values in the order of their runs, to pair with another's.
    pub runs: Vec<f64>,
}

impl Stats {
    pub fn of(mut values: Vec<f64>) -> Stats {
        assert!(!values.is_empty());
        let runs = values.clone();
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
            runs,
        }
    }

    /// Run by run, this one's value over `other`'s (paired ratios).
    pub fn over(&self, other: &Stats) -> Vec<f64> {
        self.runs
            .iter()
            .zip(&other.runs)
            .map(|(a, b)| a / b)
            .collect()
    }

    pub fn show(&self, unit: impl Fn(f64) -> String) -> String {
        format!(
            "{} ({}–{})",
            unit(self.median),
            unit(self.min),
            unit(self.max)
        )
    }
}

pub fn kilo(v: f64) -> String {
    format!("{:.1}k", v / 1e3)
}

pub struct Row {
    pub figure: String,
    pub tool: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    /// Whether the target is met; `None` for a row without a target, or
    /// one within noise.
    pub pass: Option<bool>,
    /// Within noise: what the Result column says instead of pass or fail.
    pub noise: Option<String>,
}

impl Row {
    /// A row whose ratio is the median of `ratios` (each run's toolkit
    /// against the same run's baseline), shown with its 90% interval; the
    /// target passes when the whole interval is on its side, fails when it
    /// is all on the other, and is within noise otherwise.
    pub fn paired(
        figure: String,
        tool: String,
        baseline: String,
        ratios: &[f64],
        target: Option<Target>,
    ) -> Row {
        let interval = verdict::paired(ratios);
        let (pass, noise) = match target.map(|t| verdict::verdict(interval, t)) {
            None => (None, None),
            Some(Verdict::Pass) => (Some(true), None),
            Some(Verdict::Fail) => (Some(false), None),
            Some(noisy) => (None, Some(verdict::show_verdict(noisy))),
        };
        Row {
            figure,
            tool,
            baseline,
            ratio: verdict::show(interval),
            target: target.map_or("–".into(), Target::describe),
            pass,
            noise,
        }
    }
}

#[derive(Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

impl Table {
    pub fn row(&mut self, row: Row) {
        eprintln!(
            "bench: {}: {} vs {} → {} ({}, {})",
            row.figure,
            row.tool,
            row.baseline,
            row.ratio,
            row.target,
            match (row.pass, &row.noise) {
                (Some(true), _) => "met",
                (Some(false), _) => "MISSED",
                (None, Some(noise)) => noise,
                (None, None) => "no target",
            }
        );
        self.rows.push(row);
    }

    /// The table, rows in the order of their figure numbers.
    pub fn render(&self) -> String {
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        // By number, then letter: 1, 1b, 2, ..., 9, 10a, 11a.
        rows.sort_by_key(|row| {
            let label = row.figure.split(' ').next().unwrap_or_default();
            let digits = label
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(label.len());
            (
                label[..digits].parse::<u32>().unwrap_or(u32::MAX),
                label[digits..].to_owned(),
            )
        });
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
                match (row.pass, &row.noise) {
                    (Some(true), _) => "pass",
                    (Some(false), _) => "**FAIL**",
                    (None, Some(noise)) => noise,
                    (None, None) => "–",
                }
            );
        }
        out
    }

    pub fn missed(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|row| row.pass == Some(false))
            .map(|row| format!("{} ({}, target {})", row.figure, row.ratio, row.target))
            .collect()
    }
}
