//! Folding a long history into the columns of one picture.
//!
//! A history of up to [`UNFOLDED`] events is shown whole, one column per
//! event. A longer one is cut into runs: events in a row whose mark is the
//! same in every lane (all acked, say, or all not delivered yet). Of a run
//! long enough, the first and last [`KEEP`] events keep their columns and
//! the ones between become one [`Column::Gap`], drawn as a visible break
//! that says how many events it holds. What changes anywhere keeps its
//! columns: the ack floors, the delivered positions, each event waiting
//! or redelivered.
//!
//! When that is still more columns than the picture has (many lanes far
//! apart), the columns go first to the first and the last event, then to
//! the runs of events held somewhere (waiting, redelivered, given up,
//! unsure), then to the ends of the other runs, the newest first, as the
//! live view's tape follows the newest events. A gap then may hold events
//! of several runs: it shows a lane's mark where that lane has one for
//! all of them, and is blank in the others.

use std::ops::RangeInclusive;

use nats_course_toolkit::history::watch::{Lane, Mark};

/// A history this long or shorter is shown whole.
pub const UNFOLDED: u64 = 40;

/// Events kept at each end of a run folded, when there is room.
pub const KEEP: u64 = 2;

/// At most this many of the newest events are looked at one by one; the
/// ones before them (but the first) go into one gap (a history of millions of events
/// still folds in a moment).
pub const SCAN: u64 = 100_000;

/// One column of the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// One event (stored or not: the live view's tape has room for the
    /// events to come).
    Event(u64),
    /// Events `from..=to`, folded. `same`: they are one run (every lane
    /// has one mark for all of them), which the gap shows.
    Gap { from: u64, to: u64, same: bool },
}

impl Column {
    /// The first event of the column.
    pub fn first(&self) -> u64 {
        match *self {
            Column::Event(seq) => seq,
            Column::Gap { from, .. } => from,
        }
    }

    /// The column's mark in `lane`: a gap's when all its events have the
    /// same in this lane (looked at one by one in a gap of several runs,
    /// up to [`SCAN`] of them), else none ([`Mark::NotStored`]: blank).
    pub fn mark(&self, lane: &Lane<'_>) -> Mark {
        match *self {
            Column::Event(seq) => lane.mark(seq),
            Column::Gap {
                from, same: true, ..
            } => lane.mark(from),
            Column::Gap { from, to, .. } if to - from < SCAN => {
                let mark = lane.mark(from);
                if (from + 1..=to).all(|seq| lane.mark(seq) == mark) {
                    mark
                } else {
                    Mark::NotStored
                }
            }
            Column::Gap { .. } => Mark::NotStored,
        }
    }
}

/// The columns of the `stored` events, at most `max` (3 at least), where
/// `marks(seq)` is the mark of event `seq` in each lane.
pub fn fold(
    stored: RangeInclusive<u64>,
    max: usize,
    marks: impl Fn(u64) -> Vec<Mark>,
) -> Vec<Column> {
    if stored.is_empty() {
        return Vec::new();
    }
    let max = max.max(3);
    let (first, last) = (*stored.start(), *stored.end());
    if last - first < UNFOLDED.min(max as u64) {
        return stored.map(Column::Event).collect();
    }
    let from = if last - first >= SCAN {
        last + 1 - SCAN
    } else {
        first
    };
    let runs = runs(from..=last, marks);
    let mut kept = Kept::new(max);
    kept.add(first);
    kept.add(last);
    for run in runs.iter().rev().filter(|run| run.held) {
        run.shown().rev().for_each(|seq| kept.add(seq));
    }
    for run in runs.iter().rev().filter(|run| !run.held) {
        kept.add(run.to);
        kept.add(run.from);
    }
    for run in runs.iter().rev().filter(|run| !run.held) {
        run.shown().rev().for_each(|seq| kept.add(seq));
    }
    let mut columns = Vec::new();
    let mut previous: Option<u64> = None;
    for &seq in &kept.seqs {
        if let Some(before) = previous
            && seq - before > 1
        {
            let (from, to) = (before + 1, seq - 1);
            let run = |seq: u64| runs.iter().position(|r| (r.from..=r.to).contains(&seq));
            let same = run(from).is_some() && run(from) == run(to);
            columns.push(Column::Gap { from, to, same });
        }
        columns.push(Column::Event(seq));
        previous = Some(seq);
    }
    columns
}

/// Events in a row with the same marks in every lane.
struct Run {
    from: u64,
    to: u64,
    /// Whether some lane holds them: waiting, redelivered, given up, unsure.
    held: bool,
}

impl Run {
    /// The events of the run that keep a column when there is room: all,
    /// or its ends when folding the rest hides 3 events or more.
    fn shown(&self) -> impl DoubleEndedIterator<Item = u64> + use<> {
        let (from, to) = (self.from, self.to);
        let whole = to - from < 2 * KEEP + 2;
        let head = if whole { to } else { from + KEEP - 1 };
        let tail = if whole { to + 1 } else { to + 1 - KEEP };
        (from..=head).chain(tail..=to)
    }
}

/// The runs of `range`.
fn runs(range: RangeInclusive<u64>, marks: impl Fn(u64) -> Vec<Mark>) -> Vec<Run> {
    let held = |marks: &[Mark]| {
        marks.iter().any(|m| {
            matches!(
                m,
                Mark::Waiting | Mark::Redelivered(_) | Mark::GivenUp(_) | Mark::Unsure
            )
        })
    };
    let (from, last) = (*range.start(), *range.end());
    let mut runs = Vec::new();
    let (mut start, mut run) = (from, marks(from));
    for seq in from + 1..=last {
        let next = marks(seq);
        if next != run {
            runs.push(Run {
                from: start,
                to: seq - 1,
                held: held(&run),
            });
            (start, run) = (seq, next);
        }
    }
    runs.push(Run {
        from: start,
        to: last,
        held: held(&run),
    });
    runs
}

/// The events that keep a column, and how many columns they make with the
/// gaps between them.
struct Kept {
    seqs: std::collections::BTreeSet<u64>,
    columns: usize,
    max: usize,
}

impl Kept {
    fn new(max: usize) -> Kept {
        Kept {
            seqs: Default::default(),
            columns: 0,
            max,
        }
    }

    /// Keeps `seq` if the columns stay within the most.
    fn add(&mut self, seq: u64) {
        if self.seqs.contains(&seq) {
            return;
        }
        let before = self.seqs.range(..seq).next_back().copied();
        let after = self.seqs.range(seq + 1..).next().copied();
        let gap = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => usize::from(b - a > 1),
            _ => 0,
        };
        let columns =
            self.columns + 1 + gap(before, Some(seq)) + gap(Some(seq), after) - gap(before, after);
        if columns <= self.max {
            self.seqs.insert(seq);
            self.columns = columns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One lane: acked to `floor`, waiting to `delivered`, then not
    /// delivered.
    fn lane(floor: u64, delivered: u64) -> impl Fn(u64) -> Vec<Mark> {
        move |seq| {
            vec![if seq <= floor {
                Mark::Acked
            } else if seq <= delivered {
                Mark::Waiting
            } else {
                Mark::NotDelivered
            }]
        }
    }

    fn seqs(columns: &[Column]) -> String {
        columns
            .iter()
            .map(|c| match c {
                Column::Event(seq) => seq.to_string(),
                Column::Gap { from, to, same } => {
                    format!("[{from}-{to}{}]", if *same { "" } else { "?" })
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A short history is shown whole, each event a column.
    #[test]
    fn a_short_history_is_not_folded() {
        let columns = fold(1..=40, 80, lane(10, 20));
        assert_eq!(columns.len(), 40);
        assert!(columns.iter().all(|c| matches!(c, Column::Event(_))));
        assert!(fold(RangeInclusive::new(1, 0), 80, lane(0, 0)).is_empty());
    }

    /// 200 events, acked to #150, waiting to #190: each run keeps its
    /// two ends, the rest of it is a gap; the floor and the delivered
    /// position stay in sight.
    #[test]
    fn runs_fold_to_their_ends() {
        let columns = fold(1..=200, 80, lane(150, 190));
        assert_eq!(
            seqs(&columns),
            "1 2 [3-148] 149 150 151 152 [153-188] 189 190 191 192 [193-198] 199 200"
        );
    }

    /// A run of 6 is shown whole: folding it would hide fewer than 3.
    #[test]
    fn a_short_run_is_not_folded() {
        let columns = fold(1..=60, 80, lane(6, 54));
        assert_eq!(
            seqs(&columns),
            "1 2 3 4 5 6 7 8 [9-52] 53 54 55 56 57 58 59 60"
        );
    }

    /// Marks that change at every event: the oldest fold into one gap
    /// (blank: it holds events of many runs), the newest stay, the events
    /// waiting first, and no more columns than asked for.
    #[test]
    fn too_many_runs_fold_the_oldest() {
        let columns = fold(1..=200, 20, |seq| {
            vec![if seq % 2 == 0 {
                Mark::Acked
            } else {
                Mark::Waiting
            }]
        });
        assert_eq!(columns.len(), 20);
        assert_eq!(
            seqs(&columns),
            "1 [2-182?] 183 184 185 186 187 188 189 190 191 192 193 194 195 196 197 198 199 200"
        );
    }

    /// A history longer than SCAN: only its newest SCAN events are looked
    /// at, the older ones (but the first) are one gap.
    #[test]
    fn a_huge_history_looks_at_its_newest_events_only() {
        let looked = std::cell::Cell::new(0u64);
        let columns = fold(1..=1_000_000, 80, |seq| {
            looked.set(looked.get() + 1);
            lane(999_990, 1_000_000)(seq)
        });
        assert_eq!(looked.get(), SCAN);
        assert_eq!(
            seqs(&columns),
            "1 [2-900000?] 900001 900002 [900003-999988] 999989 999990 999991 999992 [999993-999998] 999999 1000000"
        );
    }
}
