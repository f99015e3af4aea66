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
//! Should that still be more than the picture's columns (lanes far apart
//! in a long history), the oldest columns go into one gap more, after the
//! first [`KEEP`] events, and the newest stay, as the live view's tape
//! follows the newest events.

use std::ops::RangeInclusive;

use nats_course_toolkit::history::watch::{Lane, Mark};

/// A history this long or shorter is shown whole.
pub const UNFOLDED: u64 = 40;

/// Events kept at each end of a run folded.
pub const KEEP: u64 = 2;

/// At most this many of the newest events are looked at one by one; the
/// ones before them go into one gap (a history of millions of events
/// still folds in a moment).
pub const SCAN: u64 = 100_000;

/// One column of the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// One event (stored or not: the live view's tape has room for the
    /// events to come).
    Event(u64),
    /// Events `from..=to`, folded. `same`: every lane has one mark for all
    /// of them (a run), which the gap shows; else the gap is blank.
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

    /// The column's mark in `lane`.
    pub fn mark(&self, lane: &Lane<'_>) -> Mark {
        match *self {
            Column::Event(seq) => lane.mark(seq),
            Column::Gap {
                from, same: true, ..
            } => lane.mark(from),
            Column::Gap { same: false, .. } => Mark::NotStored,
        }
    }
}

/// The columns of the `stored` events, at most `max` (4 at least), where
/// `marks(seq)` is the mark of event `seq` in each lane.
pub fn fold(
    stored: RangeInclusive<u64>,
    max: usize,
    marks: impl Fn(u64) -> Vec<Mark>,
) -> Vec<Column> {
    if stored.is_empty() {
        return Vec::new();
    }
    let max = max.max(2 * KEEP as usize + 2);
    let (first, last) = (*stored.start(), *stored.end());
    if last - first < UNFOLDED.min(max as u64) {
        return stored.map(Column::Event).collect();
    }
    let mut columns = Vec::new();
    let from = if last - first >= SCAN {
        let from = last + 1 - SCAN;
        columns.extend((first..first + KEEP).map(Column::Event));
        columns.push(Column::Gap {
            from: first + KEEP,
            to: from - 1,
            same: false,
        });
        from
    } else {
        first
    };
    let (mut start, mut run) = (from, marks(from));
    for seq in from + 1..=last {
        let next = marks(seq);
        if next != run {
            push_run(&mut columns, start, seq - 1);
            (start, run) = (seq, next);
        }
    }
    push_run(&mut columns, start, last);
    if columns.len() > max {
        // The oldest into one gap, after the first events.
        let tail = columns.split_off(columns.len() - (max - KEEP as usize - 1));
        let to = tail[0].first() - 1;
        columns.clear();
        columns.extend((first..first + KEEP).map(Column::Event));
        columns.push(Column::Gap {
            from: first + KEEP,
            to,
            same: false,
        });
        columns.extend(tail);
    }
    columns
}

/// A run's columns: each of its events, or its ends and a gap between
/// them when that hides 3 events or more.
fn push_run(columns: &mut Vec<Column>, from: u64, to: u64) {
    if to - from < 2 * KEEP + 2 {
        columns.extend((from..=to).map(Column::Event));
        return;
    }
    columns.extend((from..from + KEEP).map(Column::Event));
    columns.push(Column::Gap {
        from: from + KEEP,
        to: to - KEEP,
        same: true,
    });
    columns.extend((to + 1 - KEEP..=to).map(Column::Event));
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
        assert!(fold(1..=0, 80, lane(0, 0)).is_empty());
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

    /// Marks that change at every event: the oldest fold into one gap,
    /// the newest stay, and no more columns than asked for.
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
            "1 2 [3-183?] 184 185 186 187 188 189 190 191 192 193 194 195 196 197 198 199 200"
        );
    }

    /// A history longer than SCAN: only its newest SCAN events are looked
    /// at, the older ones are one gap.
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
            "1 2 [3-900000?] 900001 900002 [900003-999988] 999989 999990 999991 999992 [999993-999998] 999999 1000000"
        );
    }
}
