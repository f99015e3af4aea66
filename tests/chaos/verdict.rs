//! The chaos run's verdict: a function of what the run observed
//! ([`Observations`]: the publish runs, what the stream holds, every line
//! each listener printed, how each listener ended, the faults), so that it
//! can be tested on its own, with made-up observations of a cheating
//! listener (the tests at the end of this file).
//!
//! What `listen` promises, and so what is checked (see `src/cmd/listen/`
//! and `src/subscription/`):
//!
//! - One run of `listen` never prints an event twice: an event comes back
//!   only while unacked (the copy is acked with the first, not shown) or
//!   after its ack (the subscription remembers what it acked, and skips it).
//! - An event is acked only once its line is out, so a listener killed at
//!   any moment may have printed events it had not acked: the server sends
//!   them again, and another run prints them too. A node fault can do the
//!   same (a consumer leader that dies or stops before its acks are
//!   replicated), and so can the ack wait (a queue group member that held
//!   an event too long: the server sends it to another, with a higher
//!   delivery count). So an event printed again by another run must have
//!   one of those causes: its first printer killed before the second print
//!   ([`End::Killed`]), a node fault around the first print
//!   ([`FAULT_SLACK`]) and before the second, or another delivery count.
//!   At any moment the server holds at most its consumer's
//!   `max_ack_pending` events delivered and not acked, so a kill or a node
//!   fault leaves at most that many printed and unacked: events printed
//!   again after kills and node faults are bounded by that window times
//!   their number.
//! - Each printed line's data is the data of the event stored at its
//!   sequence, which is the data its `publish` run sent, `{"batch":B}`.
//! - Sent SIGINT, a listener exits 0 within [`STOP_DEADLINE`]; none exits
//!   on its own.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

/// How long a listener sent SIGINT may take to exit (0) before the run
/// fails: it writes out and acks what it printed, gives back what it held,
/// and waits for the server to confirm its acks (at most 5 s).
pub const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// A node fault explains a second print if it began before that print,
/// and the first print came within this of the fault (before it: an ack
/// the dead or stopped consumer leader had not replicated yet; during it or
/// just after: an ack sent to it, or to a new leader still settling).
pub const FAULT_SLACK: Duration = Duration::from_secs(5);

/// Why a run fails: what a cheat test expects to see named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A `publish` exited non-zero, hung, or never ran.
    PublishFailed,
    /// Confirmed by `publish`, not stored.
    Lost,
    /// An event stored twice, a batch under two runs' ids, an event not the run's.
    StoredTwice,
    /// The stream does not hold one event per sequence from #1.
    NotOnePerSequence,
    /// A consumer never printed a stored event.
    NeverPrinted,
    /// A line that is not an event.
    Unreadable,
    /// One run of `listen` printed an event twice.
    PrintedTwiceByOneRun,
    /// An event printed again by another run with no kill, fault or
    /// redelivery to explain it.
    DuplicateWithoutCause,
    /// More events printed again after kills and faults than they can explain.
    TooManyDuplicates,
    /// A printed line whose data is not what was published at its sequence.
    WrongData,
    /// A listener exited while it should have been running.
    ExitedOnItsOwn,
    /// A listener sent SIGINT exited non-zero.
    StoppedUncleanly,
    /// A listener sent SIGINT had not exited within [`STOP_DEADLINE`].
    IgnoredSigint,
    /// The listeners stopped printing while they missed events.
    CatchUpStalled,
    /// A fault hit the stream's leader during a batch, and `publish` sent nothing again.
    NoResend,
}

/// One reason the run failed, with what to show.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: Reason,
    pub text: String,
}

impl Failure {
    pub fn new(reason: Reason, text: impl Into<String>) -> Failure {
        Failure {
            reason,
            text: text.into(),
        }
    }
}

/// The two consumers of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// The queue group's three members.
    Group,
    Durable,
}

impl Consumer {
    pub fn name(self) -> &'static str {
        match self {
            Consumer::Group => "the queue group",
            Consumer::Durable => "the durable",
        }
    }
}

/// One run of one listener: its `start`th start (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId {
    pub listener: usize,
    pub start: u32,
}

/// The data of one printed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `{"batch":B}`, the data of batch B.
    Batch(u64),
    /// Anything else, as printed.
    Other(String),
}

/// One event line a listener printed.
#[derive(Debug, Clone)]
pub struct Print {
    /// When the run read it.
    pub at: Duration,
    pub run: RunId,
    pub seq: u64,
    pub delivery: u64,
    pub data: Data,
}

/// Everything one consumer printed, in the order the lines were read.
#[derive(Debug, Default)]
pub struct Printed {
    pub lines: Vec<Print>,
    /// Lines that are not events.
    pub unreadable: Vec<String>,
}

/// How a run of a listener ended.
#[derive(Debug, Clone)]
pub enum End {
    /// SIGKILLed by the fault injector, at this time.
    Killed(Duration),
    /// Exited while it should have been running, at this time.
    ExitedOnItsOwn(Duration, ExitStatus),
    /// Sent SIGINT at the end: how it exited, `None` if it had not within
    /// [`STOP_DEADLINE`] (it was SIGKILLed then).
    Stopped(Option<ExitStatus>),
}

/// One run of a listener, ended.
#[derive(Debug, Clone)]
pub struct ListenerRun {
    pub id: RunId,
    /// `member-2 #3`: the listener's name and its start.
    pub name: String,
    pub consumer: Consumer,
    pub end: End,
    /// The last lines of its stderr.
    pub stderr_tail: String,
}

/// What a fault did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    KillListener,
    /// SIGKILL of a node, restarted later.
    KillNode,
    /// SIGSTOP of a node, SIGCONT later.
    StopNode,
    /// SIGSTOP of two nodes, SIGCONT later.
    QuorumLoss,
}

/// One fault injected.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    /// From the fault to the node(s) or listener being back.
    pub at: Duration,
    pub back: Duration,
    /// A batch was being stored, and the stream's leader was among the
    /// nodes hit (killed, or stopped for longer than `publish`'s ack
    /// timeout): the batch's events in flight got no ack, and `publish`
    /// must have sent them again.
    pub hit_batch: bool,
}

/// One `publish` run.
#[derive(Debug)]
pub struct BatchRun {
    pub index: u64,
    pub count: u64,
    /// When it started, after the faults did.
    pub at: Duration,
    pub took: Duration,
    /// `None`: still running after its deadline, so it was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl BatchRun {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Events `publish` had to send again after a lost ack: it says so on
    /// the line after its summary (stdout, or stderr with `--json`).
    pub fn resent(&self) -> u64 {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter_map(|l| {
                l.strip_suffix(
                    " events were sent again after a lost connection; each is stored once",
                )
            })
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum()
    }
}

/// What the stream holds, read back through a client.
#[derive(Debug, Default)]
pub struct Stored {
    pub messages: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Per batch: how many times each index was stored.
    pub per_batch: HashMap<u64, HashMap<u64, u32>>,
    /// Per batch: the id prefixes seen (one per `publish` run).
    pub prefixes: HashMap<u64, Vec<String>>,
    /// Events whose data or id is not one of the run's.
    pub foreign: u64,
    /// Per sequence, the batch whose event is stored there (`None`: none
    /// of the run's).
    pub batch_at: Vec<Option<u64>>,
}

impl Stored {
    pub fn batch_at(&self, seq: u64) -> Option<u64> {
        self.batch_at.get(seq as usize).copied().flatten()
    }
}

/// Everything the run saw.
#[derive(Debug, Default)]
pub struct Observations {
    /// The events each batch was to publish, in order.
    pub planned: Vec<u64>,
    pub runs: Vec<BatchRun>,
    pub stored: Stored,
    pub group: Printed,
    pub durable: Printed,
    pub listeners: Vec<ListenerRun>,
    pub faults: Vec<Fault>,
    /// Each consumer's ack window as the server reports it.
    pub max_ack_pending: u64,
    /// The listeners stopped printing while they missed events.
    pub stalled: Option<String>,
}

/// What one consumer printed, in figures.
#[derive(Debug, Default, Clone)]
pub struct PrintFigures {
    pub distinct: u64,
    pub missing: Vec<u64>,
    /// Lines of an event already printed, by what explains them.
    pub duplicates: u64,
    pub after_kill: u64,
    pub after_node_fault: u64,
    pub redelivered_elsewhere: u64,
    /// Lines with a delivery count above 1.
    pub redelivered: u64,
    pub wrong_data: u64,
}

/// The run's figures that come from the observations.
#[derive(Debug, Default)]
pub struct Figures {
    pub lost: u64,
    pub not_published: u64,
    pub stored_twice: u64,
    pub resent: u64,
    pub hits: u64,
    pub group: PrintFigures,
    pub durable: PrintFigures,
}

/// The verdict: every reason the run fails (none: it passed), and its figures.
pub fn check(obs: &Observations) -> (Vec<Failure>, Figures) {
    let mut failures = Vec::new();
    let mut figures = Figures::default();
    check_stored(obs, &mut failures, &mut figures);
    figures.group = check_prints(obs, Consumer::Group, &mut failures);
    figures.durable = check_prints(obs, Consumer::Durable, &mut failures);
    check_ends(obs, &mut failures);
    if let Some(stall) = &obs.stalled {
        failures.push(Failure::new(Reason::CatchUpStalled, stall.clone()));
    }
    figures.resent = obs.runs.iter().map(BatchRun::resent).sum();
    figures.hits = obs.faults.iter().filter(|f| f.hit_batch).count() as u64;
    if figures.hits > 0 && figures.resent == 0 {
        failures.push(Failure::new(
            Reason::NoResend,
            format!(
                "{} faults hit the stream's leader while a batch was being stored, \
                 and publish sent no event again",
                figures.hits
            ),
        ));
    }
    (failures, figures)
}

/// Lost, stored twice, not published: the stream against the publish runs.
fn check_stored(obs: &Observations, failures: &mut Vec<Failure>, figures: &mut Figures) {
    let stored = &obs.stored;
    let mut owners: HashMap<&str, u64> = HashMap::new();
    for run in &obs.runs {
        let indices = stored.per_batch.get(&run.index);
        let present = indices.map_or(0, |i| (0..run.count).filter(|k| i.contains_key(k)).count());
        let missing = run.count - present as u64;
        if run.ok() {
            figures.lost += missing;
        } else {
            figures.not_published += missing;
            let how = match run.status {
                Some(status) => match status.code() {
                    Some(code) => format!("exited {code}"),
                    None => format!("was killed by signal {:?}", status.signal()),
                },
                None => "hung and was killed".to_owned(),
            };
            failures.push(Failure::new(
                Reason::PublishFailed,
                format!(
                    "publish of batch {} {how}:\n{}{}",
                    run.index, run.stdout, run.stderr
                ),
            ));
        }
        figures.stored_twice += indices.map_or(0, |i| i.values().map(|&n| u64::from(n) - 1).sum());
        let prefixes = stored
            .prefixes
            .get(&run.index)
            .map_or(&[][..], Vec::as_slice);
        if prefixes.len() > 1 {
            failures.push(Failure::new(
                Reason::StoredTwice,
                format!("batch {} is stored under two publish runs' ids", run.index),
            ));
        }
        for prefix in prefixes {
            if let Some(other) = owners.insert(prefix, run.index) {
                failures.push(Failure::new(
                    Reason::StoredTwice,
                    format!(
                        "batches {other} and {} are stored under one publish run's ids",
                        run.index
                    ),
                ));
            }
        }
    }
    let not_run: u64 = obs.planned.iter().skip(obs.runs.len()).sum();
    if not_run > 0 {
        failures.push(Failure::new(
            Reason::PublishFailed,
            format!(
                "{} batches were never published",
                obs.planned.len() - obs.runs.len()
            ),
        ));
    }
    figures.not_published += not_run;
    if figures.not_published > 0 {
        failures.push(Failure::new(
            Reason::PublishFailed,
            format!(
                "{} events were not stored because their publish failed",
                figures.not_published
            ),
        ));
    }
    if figures.lost > 0 {
        failures.push(Failure::new(
            Reason::Lost,
            format!(
                "{} events were lost: publish confirmed them, the stream does not hold them",
                figures.lost
            ),
        ));
    }
    if figures.stored_twice > 0 || stored.foreign > 0 {
        failures.push(Failure::new(
            Reason::StoredTwice,
            format!(
                "{} events were stored twice and {} events are not the run's; \
                 the stream holds {} events",
                figures.stored_twice, stored.foreign, stored.messages
            ),
        ));
    }
    if stored.messages != stored.last_seq || (stored.messages > 0 && stored.first_seq != 1) {
        failures.push(Failure::new(
            Reason::NotOnePerSequence,
            format!(
                "the stream holds {} events as #{} to #{}: not one per sequence from #1",
                stored.messages, stored.first_seq, stored.last_seq
            ),
        ));
    }
}

/// One consumer's lines: every stored event printed, each line's data the
/// event's, and every event printed again explained.
fn check_prints(
    obs: &Observations,
    consumer: Consumer,
    failures: &mut Vec<Failure>,
) -> PrintFigures {
    let printed = match consumer {
        Consumer::Group => &obs.group,
        Consumer::Durable => &obs.durable,
    };
    let name = consumer.name();
    let mut figures = PrintFigures::default();
    let runs: HashMap<RunId, &ListenerRun> = obs.listeners.iter().map(|r| (r.id, r)).collect();
    // Per sequence, the prints so far: (when, run, delivery).
    let mut earlier: HashMap<u64, Vec<(Duration, RunId, u64)>> = HashMap::new();
    let (mut twice_by_one, mut without_cause) = (Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for print in &printed.lines {
        if print.delivery > 1 {
            figures.redelivered += 1;
        }
        let stored_batch = obs.stored.batch_at(print.seq);
        if stored_batch.is_none() || print.data != Data::Batch(stored_batch.unwrap_or(0)) {
            figures.wrong_data += 1;
            if wrong.len() < 3 {
                wrong.push(format!(
                    "#{} printed {:?}, stored {}",
                    print.seq,
                    print.data,
                    stored_batch.map_or("nothing of the run's".to_owned(), |b| {
                        format!("the data of batch {b}")
                    })
                ));
            }
        }
        let before = earlier.entry(print.seq).or_default();
        if let Some(&(at, run, delivery)) = before.last() {
            figures.duplicates += 1;
            if before.iter().any(|&(_, r, _)| r == print.run) {
                twice_by_one.push(print.seq);
            } else if runs
                .get(&run)
                .is_some_and(|r| matches!(r.end, End::Killed(killed) if killed <= print.at))
            {
                figures.after_kill += 1;
            } else if obs.faults.iter().any(|f| {
                f.kind != FaultKind::KillListener
                    && f.at <= print.at
                    && f.at <= at + FAULT_SLACK
                    && at <= f.back + FAULT_SLACK
            }) {
                figures.after_node_fault += 1;
            } else if delivery != print.delivery {
                // Sent again after the ack wait while its first printer
                // lived (a member held it too long), to another member.
                figures.redelivered_elsewhere += 1;
            } else {
                without_cause.push(print.seq);
            }
        } else {
            figures.distinct += 1;
        }
        before.push((print.at, print.run, print.delivery));
    }
    figures.missing = (1..=obs.stored.last_seq)
        .filter(|seq| !earlier.contains_key(seq))
        .collect();
    if !figures.missing.is_empty() {
        failures.push(Failure::new(
            Reason::NeverPrinted,
            format!(
                "{name} never printed {} events, e.g. #{:?}",
                figures.missing.len(),
                &figures.missing[..figures.missing.len().min(10)]
            ),
        ));
    }
    if !printed.unreadable.is_empty() {
        failures.push(Failure::new(
            Reason::Unreadable,
            format!(
                "{name} printed {} lines that are not events, e.g. {:?}",
                printed.unreadable.len(),
                &printed.unreadable[..printed.unreadable.len().min(3)]
            ),
        ));
    }
    if figures.wrong_data > 0 {
        failures.push(Failure::new(
            Reason::WrongData,
            format!(
                "{name} printed {} lines whose data is not what was published at their \
                 sequence, e.g. {}",
                figures.wrong_data,
                wrong.join("; ")
            ),
        ));
    }
    if !twice_by_one.is_empty() {
        failures.push(Failure::new(
            Reason::PrintedTwiceByOneRun,
            format!(
                "{name}: one run of listen printed {} events it had printed already, e.g. #{:?}",
                twice_by_one.len(),
                &twice_by_one[..twice_by_one.len().min(10)]
            ),
        ));
    }
    if !without_cause.is_empty() {
        failures.push(Failure::new(
            Reason::DuplicateWithoutCause,
            format!(
                "{name} printed {} events again, with the same delivery count, though \
                 their first printer was not killed before and no node fault came between, \
                 e.g. #{:?}",
                without_cause.len(),
                &without_cause[..without_cause.len().min(10)]
            ),
        ));
    }
    let kills = obs
        .listeners
        .iter()
        .filter(|r| r.consumer == consumer && matches!(r.end, End::Killed(_)))
        .count() as u64;
    let node_faults = obs
        .faults
        .iter()
        .filter(|f| f.kind != FaultKind::KillListener)
        .count() as u64;
    let bound = obs.max_ack_pending * (kills + node_faults);
    let explained = figures.after_kill + figures.after_node_fault;
    if explained > bound {
        failures.push(Failure::new(
            Reason::TooManyDuplicates,
            format!(
                "{name} printed {explained} events again after kills and node faults, more than \
                 its ack window ({}) × ({kills} kills of its listeners + {node_faults} node \
                 faults) = {bound} can hold unacked",
                obs.max_ack_pending
            ),
        ));
    }
    figures
}

/// Every listener ran until stopped, and stopped cleanly.
fn check_ends(obs: &Observations, failures: &mut Vec<Failure>) {
    for run in &obs.listeners {
        let (reason, what) = match &run.end {
            End::Killed(_) => continue,
            End::Stopped(Some(status)) if status.success() => continue,
            End::ExitedOnItsOwn(at, status) => (
                Reason::ExitedOnItsOwn,
                format!(
                    "exited on its own at {:.1} s with {status}",
                    at.as_secs_f64()
                ),
            ),
            End::Stopped(Some(status)) => (
                Reason::StoppedUncleanly,
                format!("exited with {status} after SIGINT (not 0)"),
            ),
            End::Stopped(None) => (
                Reason::IgnoredSigint,
                format!(
                    "had not exited {} s after SIGINT, and was killed",
                    STOP_DEADLINE.as_secs()
                ),
            ),
        };
        failures.push(Failure::new(
            reason,
            format!("{} {what}:\n{}", run.name, run.stderr_tail),
        ));
    }
}

/// An exit status with this code, for made-up observations.
pub fn exit_code(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

#[cfg(test)]
mod tests {
    //! The checker on made-up observations: an honest run passes, and each
    //! way of cheating fails for its own reason.

    use super::*;

    const EVENTS: u64 = 40;
    const WINDOW: u64 = 8;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// An honest run: two batches of 20 events, stored once as #1 to #40;
    /// member 1 is killed at 5 s after printing #1..#10 (#9 and #10 not
    /// acked: member 2 prints them again, redelivered); member 2 prints
    /// #9..#40; the durable prints everything; all stop cleanly.
    fn honest() -> Observations {
        let mut stored = Stored {
            messages: EVENTS,
            first_seq: 1,
            last_seq: EVENTS,
            batch_at: vec![None],
            ..Stored::default()
        };
        for seq in 1..=EVENTS {
            let (batch, index) = ((seq - 1) / 20, (seq - 1) % 20);
            stored.per_batch.entry(batch).or_default().insert(index, 1);
            stored.batch_at.push(Some(batch));
        }
        stored.prefixes.insert(0, vec!["a".into()]);
        stored.prefixes.insert(1, vec!["b".into()]);
        let runs = (0..2)
            .map(|index| BatchRun {
                index,
                count: 20,
                at: s(index),
                took: s(1),
                status: Some(exit_code(0)),
                stdout: String::new(),
                stderr: String::new(),
            })
            .collect();
        let line = |at: u64, listener: usize, start: u32, seq: u64, delivery: u64| Print {
            at: s(at),
            run: RunId { listener, start },
            seq,
            delivery,
            data: Data::Batch((seq - 1) / 20),
        };
        let mut group = Printed::default();
        group
            .lines
            .extend((1..=10).map(|seq| line(1, 0, 1, seq, 1)));
        group
            .lines
            .extend((9..=10).map(|seq| line(8, 1, 1, seq, 2)));
        group
            .lines
            .extend((11..=EVENTS).map(|seq| line(9, 1, 1, seq, 1)));
        let mut durable = Printed::default();
        durable
            .lines
            .extend((1..=EVENTS).map(|seq| line(2, 2, 1, seq, 1)));
        let run = |listener: usize, start: u32, consumer: Consumer, end: End| ListenerRun {
            id: RunId { listener, start },
            name: format!("listener-{listener} #{start}"),
            consumer,
            end,
            stderr_tail: String::new(),
        };
        let stopped = || End::Stopped(Some(exit_code(0)));
        Observations {
            planned: vec![20, 20],
            runs,
            stored,
            group,
            durable,
            listeners: vec![
                run(0, 1, Consumer::Group, End::Killed(s(5))),
                run(0, 2, Consumer::Group, stopped()),
                run(1, 1, Consumer::Group, stopped()),
                run(2, 1, Consumer::Durable, stopped()),
            ],
            faults: vec![Fault {
                kind: FaultKind::KillListener,
                at: s(5),
                back: s(6),
                hit_batch: false,
            }],
            max_ack_pending: WINDOW,
            stalled: None,
        }
    }

    fn reasons(obs: &Observations) -> Vec<Reason> {
        check(obs).0.iter().map(|f| f.reason).collect()
    }

    /// The made-up honest run passes, its duplicates put down to the kill.
    #[test]
    fn an_honest_run_passes() {
        let (failures, figures) = check(&honest());
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(figures.group.duplicates, 2);
        assert_eq!(figures.group.after_kill, 2);
        assert_eq!(figures.durable.duplicates, 0);
    }

    /// Events printed again by another member after a node fault, or
    /// redelivered to it while their first printer lived, pass.
    #[test]
    fn duplicates_after_a_node_fault_or_a_redelivery_pass() {
        let mut obs = honest();
        // Member 1's second run prints #11 and #12 again at 20 s; member 2
        // printed them at 9 s.
        obs.group.lines.extend((11..=12).map(|seq| Print {
            at: s(20),
            run: RunId {
                listener: 0,
                start: 2,
            },
            seq,
            delivery: 1,
            data: Data::Batch(0),
        }));
        assert_eq!(reasons(&obs), [Reason::DuplicateWithoutCause]);
        // A node stopped long after the first print does not explain it.
        obs.faults.push(Fault {
            kind: FaultKind::StopNode,
            at: s(15),
            back: s(18),
            hit_batch: false,
        });
        assert_eq!(reasons(&obs), [Reason::DuplicateWithoutCause]);
        // One stopped from 7 s to 10 s does.
        obs.faults[1].at = s(7);
        obs.faults[1].back = s(10);
        let (failures, figures) = check(&obs);
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(figures.group.after_node_fault, 2);
        // Without the fault, a higher delivery count explains it too.
        obs.faults.pop();
        for line in obs.group.lines.iter_mut().rev().take(2) {
            line.delivery = 2;
        }
        let (failures, figures) = check(&obs);
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(figures.group.redelivered_elsewhere, 2);
    }

    /// A listener that prints every line twice: one run printed an event twice.
    #[test]
    fn a_listener_printing_every_line_twice_fails() {
        let mut obs = honest();
        for printed in [&mut obs.group, &mut obs.durable] {
            printed.lines = printed
                .lines
                .iter()
                .flat_map(|line| [line.clone(), line.clone()])
                .collect();
        }
        assert!(reasons(&obs).contains(&Reason::PrintedTwiceByOneRun));
    }

    /// Events printed again by another run that no kill, fault or
    /// redelivery explains.
    #[test]
    fn an_unexplained_duplicate_fails() {
        let mut obs = honest();
        let mut again = obs.durable.lines[0].clone();
        again.run = RunId {
            listener: 2,
            start: 2,
        };
        again.at = s(20);
        obs.durable.lines.push(again);
        obs.listeners.push(ListenerRun {
            id: RunId {
                listener: 2,
                start: 2,
            },
            name: "durable #2".into(),
            consumer: Consumer::Durable,
            end: End::Stopped(Some(exit_code(0))),
            stderr_tail: String::new(),
        });
        assert_eq!(reasons(&obs), [Reason::DuplicateWithoutCause]);
    }

    /// More events printed again after a kill than the ack window holds.
    #[test]
    fn more_duplicates_than_the_ack_window_fail() {
        let mut obs = honest();
        obs.max_ack_pending = 1;
        assert_eq!(reasons(&obs), [Reason::TooManyDuplicates]);
    }

    /// A listener that replaces every event's data.
    #[test]
    fn a_listener_replacing_the_data_fails() {
        let mut obs = honest();
        for line in &mut obs.group.lines {
            line.data = Data::Other(r#"{"replaced":true}"#.into());
        }
        assert_eq!(reasons(&obs), [Reason::WrongData]);
        // One line whose data is another batch's is caught too.
        let mut obs = honest();
        obs.durable.lines[3].data = Data::Batch(1);
        assert_eq!(reasons(&obs), [Reason::WrongData]);
    }

    /// A listener that does not exit on SIGINT.
    #[test]
    fn a_listener_ignoring_sigint_fails() {
        let mut obs = honest();
        obs.listeners[1].end = End::Stopped(None);
        assert_eq!(reasons(&obs), [Reason::IgnoredSigint]);
    }

    /// A listener that exits 3 on SIGINT, or on its own.
    #[test]
    fn a_listener_exiting_3_fails() {
        let mut obs = honest();
        obs.listeners[3].end = End::Stopped(Some(exit_code(3)));
        assert_eq!(reasons(&obs), [Reason::StoppedUncleanly]);
        let mut obs = honest();
        obs.listeners[3].end = End::ExitedOnItsOwn(s(30), exit_code(3));
        assert_eq!(reasons(&obs), [Reason::ExitedOnItsOwn]);
    }

    /// A leader fault during a batch with no resend means the check of
    /// "none stored twice" was not exercised: the run fails.
    #[test]
    fn a_hit_batch_without_resends_fails() {
        let mut obs = honest();
        obs.faults.push(Fault {
            kind: FaultKind::KillNode,
            at: s(30),
            back: s(32),
            hit_batch: true,
        });
        assert_eq!(reasons(&obs), [Reason::NoResend]);
        obs.runs[1].stdout = "35 events were sent again after a lost connection; \
                              each is stored once\n"
            .into();
        assert!(reasons(&obs).is_empty());
    }

    /// An event lost, stored twice, or never printed.
    #[test]
    fn lost_twice_stored_and_unprinted_events_fail() {
        let mut obs = honest();
        obs.stored.per_batch.get_mut(&1).unwrap().remove(&3);
        assert!(reasons(&obs).contains(&Reason::Lost));
        let mut obs = honest();
        obs.stored.per_batch.get_mut(&1).unwrap().insert(3, 2);
        assert!(reasons(&obs).contains(&Reason::StoredTwice));
        let mut obs = honest();
        obs.durable.lines.retain(|line| line.seq != 7);
        assert_eq!(reasons(&obs), [Reason::NeverPrinted]);
    }
}
