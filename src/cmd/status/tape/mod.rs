//! The tape, laid out once for both its pictures: which events are its
//! columns, which subscriptions have a lane, and the [`Mark`] of each
//! column in each lane. The live view draws a [`Tape`] on a terminal
//! (`live::draw`), `status --svg` writes one as an SVG (`svg`): both read
//! the same layout, made here from the same [`State`], so they cannot
//! drift apart.
//!
//! Two layouts of one state:
//! - [`Tape::live`]: what fits a terminal: the window of events around
//!   the selected one (the newest when following), the lanes scrolled to;
//! - [`Tape::whole`]: everything at once, for a picture: every stored
//!   event and every lane, a long history folded where nothing changes
//!   ([`fold`]).

use std::ops::RangeInclusive;

use nats_course_toolkit::history::watch::{Lane, Mark};
use nats_course_toolkit::history::{ChannelStatus, SubscriptionStatus};

use super::live::state::State;

pub mod fold;
pub mod text;

pub use fold::Column;

/// One layout of the tape.
#[derive(Debug, Clone)]
pub struct Tape<'a> {
    /// The channel shown.
    pub channel: &'a ChannelStatus,
    /// The tape's columns, left to right.
    pub columns: Vec<Column>,
    /// The events stored (a column of an event outside it is blank).
    pub stored: RangeInclusive<u64>,
    /// The selected event, if any (the live view's cursor).
    pub selected: Option<u64>,
    /// The lanes shown, in order.
    pub lanes: Vec<TapeLane<'a>>,
    /// The index of the first lane shown among all the channel's.
    pub first_lane: usize,
    /// How many subscriptions the channel has (lanes shown or not).
    pub total_lanes: usize,
}

/// One subscription's lane.
#[derive(Debug, Clone)]
pub struct TapeLane<'a> {
    /// The subscription, as last polled.
    pub subscription: &'a SubscriptionStatus,
    /// What is known of its events (for its name line).
    pub lane: Lane<'a>,
    /// The mark of each column.
    pub marks: Vec<Mark>,
}

impl<'a> TapeLane<'a> {
    /// The lane of `subscription`, its marks read in `columns`.
    fn new(
        subscription: &'a SubscriptionStatus,
        lane: Lane<'a>,
        columns: &[Column],
    ) -> TapeLane<'a> {
        let marks = columns.iter().map(|c| c.mark(&lane)).collect();
        TapeLane {
            subscription,
            lane,
            marks,
        }
    }

    /// Its first line, for `width` characters.
    pub fn name_line(&self, width: usize) -> text::NameLine {
        text::name_line(self.subscription, &self.lane, width)
    }

    /// Its last line: the counts.
    pub fn counts(&self) -> String {
        text::counts(self.subscription)
    }
}

impl<'a> Tape<'a> {
    /// The live view's tape on a terminal `height` rows high (the width
    /// is the state's): the window of events, the lanes that fit. `None`
    /// when there is no channel to show.
    pub fn live(state: &'a State, height: u16) -> Option<Tape<'a>> {
        let channel = state.current()?;
        let columns: Vec<Column> = state.window().map(Column::Event).collect();
        let (first, shown) = state.lanes(height);
        let lanes = channel
            .subscriptions
            .iter()
            .skip(first)
            .take(shown)
            .map(|s| TapeLane::new(s, state.watch.lane(channel, s), &columns))
            .collect();
        Some(Tape {
            channel,
            columns,
            stored: state.stored(),
            selected: state.selected(),
            lanes,
            first_lane: first,
            total_lanes: channel.subscriptions.len(),
        })
    }

    /// The whole channel at one moment, for a picture: every lane, every
    /// stored event, a long history folded where no lane's mark changes
    /// (see [`fold::fold`]), at most `max_columns` columns. No selection.
    pub fn whole(state: &'a State, max_columns: usize) -> Option<Tape<'a>> {
        let channel = state.current()?;
        let stored = state.stored();
        let lanes: Vec<Lane<'a>> = channel
            .subscriptions
            .iter()
            .map(|s| state.watch.lane(channel, s))
            .collect();
        let columns = fold::fold(stored.clone(), max_columns, |seq| {
            lanes.iter().map(|lane| lane.mark(seq)).collect()
        });
        let lanes = channel
            .subscriptions
            .iter()
            .zip(lanes)
            .map(|(s, lane)| TapeLane::new(s, lane, &columns))
            .collect();
        Some(Tape {
            channel,
            columns,
            stored,
            selected: None,
            lanes,
            first_lane: 0,
            total_lanes: channel.subscriptions.len(),
        })
    }

    /// Whether the column holds a stored event (else it is blank).
    pub fn is_stored(&self, column: &Column) -> bool {
        match column {
            Column::Event(seq) => self.stored.contains(seq),
            Column::Gap { .. } => true,
        }
    }

    /// The widest event number's digits (at least 1).
    pub fn digits(&self) -> usize {
        self.channel.last_seq.max(1).ilog10() as usize + 1
    }
}
