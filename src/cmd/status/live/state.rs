//! What the live view shows: a plain struct, updated from the server's
//! answers and from keys, drawn by [`super::draw`].

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

use nats_course_toolkit::history::watch::Watch;
use nats_course_toolkit::history::{ChannelStatus, StoredEvent};

/// The smallest terminal the view draws on.
pub const MIN_WIDTH: u16 = 80;
/// The smallest terminal the view draws on.
pub const MIN_HEIGHT: u16 = 24;

/// Rows above the lanes (title, banner, tape, rule) and below them
/// (legend, keys).
pub const TOP: u16 = 4;
pub const BOTTOM: u16 = 2;
/// Rows per lane: its name, its cells, its counts.
pub const LANE: u16 = 3;

/// Columns the tape leaves free on the left (the lanes' margin).
pub const MARGIN: u16 = 1;

/// Everything the view draws.
#[derive(Debug, Clone)]
pub struct State {
    /// The subscriptions' infos and what the notices told, merged.
    pub watch: Watch,
    /// The channel shown, an index into `watch.channels()`.
    pub channel: usize,
    /// Whether a channel was named on the command line (then Tab has
    /// nothing to switch to).
    pub one_channel: bool,
    /// Whether the tape follows the newest event (the selected cell being it).
    pub follow: bool,
    /// The selected event, when not following.
    pub selected: u64,
    /// The first subscription's lane shown (↑/↓ scroll the lanes).
    pub first_lane: usize,
    /// The last event of the tape, when not following.
    pub window_end: u64,
    /// The terminal's size.
    pub width: u16,
    /// The terminal's size.
    pub height: u16,
    /// The event shown in a popup, if any.
    pub popup: Option<Popup>,
    /// What went wrong, or that the connection is being restored.
    pub banner: Option<String>,
    /// `NO_COLOR`: states told apart by their characters only.
    pub no_color: bool,
    /// The server, as the user can read it (passwords masked).
    pub server: String,
    /// The channel named on the command line, which may have no stream
    /// yet: the view then waits for its first event.
    pub named: Option<String>,
    /// The selected lane (↑/↓), an index into the channel's subscriptions:
    /// the one `P`, `R` and `X` act on.
    pub lane: usize,
    /// A question on the bottom line (`P`, `R`, `X`), while it is asked.
    pub prompt: Option<super::actions::Prompt>,
    /// What the last action did, on the bottom line until the next key.
    pub said: Option<String>,
    /// The server's version, for what it can do.
    pub server_version: Option<nats_course_toolkit::subscription::control::ServerVersion>,
    /// Each channel's lanes in the order they were first seen (a new one
    /// at the end), by stream: the server lists them by name.
    lane_order: HashMap<String, Vec<String>>,
}

/// The popup of one event's data.
#[derive(Debug, Clone)]
pub enum Popup {
    /// Asked for, not answered yet.
    Loading(u64),
    /// The event as stored.
    Event(StoredEvent),
    /// Not stored (deleted since), or the server did not answer.
    Failed(u64, String),
}

impl State {
    /// A view of the channels polled first.
    pub fn new(channels: Vec<ChannelStatus>, one_channel: bool, server: String) -> State {
        let mut state = State {
            watch: Watch::default(),
            channel: 0,
            one_channel,
            follow: true,
            selected: 0,
            first_lane: 0,
            window_end: 0,
            width: MIN_WIDTH,
            height: MIN_HEIGHT,
            popup: None,
            banner: None,
            no_color: false,
            server,
            named: None,
            lane: 0,
            prompt: None,
            said: None,
            server_version: None,
            lane_order: HashMap::new(),
        };
        state.update(channels);
        state
    }

    /// Takes freshly polled infos.
    pub fn update(&mut self, mut channels: Vec<ChannelStatus>) {
        let stream = self.current().map(|c| c.stream.clone());
        self.keep_lane_order(&mut channels);
        self.watch.update(channels);
        // Stay on the same channel if it is still there.
        let channels = self.watch.channels();
        self.channel = stream
            .and_then(|s| channels.iter().position(|c| c.stream == s))
            .unwrap_or(0);
        self.clamp();
    }

    /// Puts each channel's lanes in the order they were first seen, a new
    /// one after the others; forgets those gone.
    fn keep_lane_order(&mut self, channels: &mut [ChannelStatus]) {
        self.lane_order
            .retain(|stream, _| channels.iter().any(|c| c.stream == *stream));
        for c in channels.iter_mut() {
            let order = self.lane_order.entry(c.stream.clone()).or_default();
            let present: HashSet<&str> = c.subscriptions.iter().map(|s| s.name.as_str()).collect();
            order.retain(|name| present.contains(name.as_str()));
            let seen: HashSet<String> = order.iter().cloned().collect();
            for s in &c.subscriptions {
                if !seen.contains(&s.name) {
                    order.push(s.name.clone());
                }
            }
            let place: HashMap<&str, usize> = order
                .iter()
                .enumerate()
                .map(|(i, name)| (name.as_str(), i))
                .collect();
            c.subscriptions
                .sort_by_key(|s| place.get(s.name.as_str()).copied());
        }
    }

    /// Takes a poll that read the subscriptions of `polled.fresh`'s
    /// channel only (all when `None`): the others keep those read before.
    pub fn update_polled(&mut self, polled: super::poll::Polled) {
        let mut channels = polled.channels;
        if let Some(fresh) = &polled.fresh {
            for channel in channels.iter_mut().filter(|c| c.stream != *fresh) {
                if let Some(before) = self
                    .watch
                    .channels()
                    .iter()
                    .find(|b| b.stream == channel.stream)
                {
                    channel.subscriptions = before.subscriptions.clone();
                }
            }
        }
        self.update(channels);
    }

    /// The stream of the channel shown.
    pub fn shown_stream(&self) -> Option<String> {
        self.current().map(|c| c.stream.clone())
    }

    /// Which lanes of the current channel's `total` subscriptions a frame
    /// `height` rows high shows: from the first, how many. When they do not
    /// all fit, one row tells how many are above and below.
    pub fn lanes(&self, height: u16) -> (usize, usize) {
        let total = self.current().map_or(0, |c| c.subscriptions.len());
        let fits = usize::from(height.saturating_sub(TOP + BOTTOM) / LANE);
        if total <= fits {
            return (0, total);
        }
        let shown = fits.saturating_sub(1).max(1);
        (self.first_lane.min(total - shown), shown)
    }

    /// Scrolls the lanes by `by`, within what there is to see.
    pub fn scroll_lanes(&mut self, by: isize) {
        let total = self.current().map_or(0, |c| c.subscriptions.len());
        let (first, shown) = self.lanes(self.height);
        let last_first = total.saturating_sub(shown);
        self.first_lane = first.saturating_add_signed(by).min(last_first);
    }

    /// The channel shown.
    pub fn current(&self) -> Option<&ChannelStatus> {
        self.watch.channels().get(self.channel)
    }

    /// The stored events of the channel shown, `first..=last` (empty when
    /// none is stored).
    pub fn stored(&self) -> RangeInclusive<u64> {
        match self.current() {
            Some(c) if c.events > 0 => c.first_seq.max(1)..=c.last_seq,
            // Empty ranges: nothing stored.
            Some(c) => c.last_seq + 1..=c.last_seq,
            None => RangeInclusive::new(1, 0),
        }
    }

    /// The selected event: the newest when following.
    pub fn selected(&self) -> Option<u64> {
        let stored = self.stored();
        if stored.is_empty() {
            return None;
        }
        Some(if self.follow {
            *stored.end()
        } else {
            self.selected.clamp(*stored.start(), *stored.end())
        })
    }

    /// A cell's width: the widest event number and a space.
    pub fn cell_width(&self) -> u16 {
        let last = self.current().map_or(0, |c| c.last_seq);
        let digits = last.max(1).ilog10() as u16 + 1;
        (digits + 1).max(3)
    }

    /// How many cells the tape has.
    pub fn cells(&self) -> u64 {
        u64::from(self.width.saturating_sub(MARGIN) / self.cell_width()).max(1)
    }

    /// The events on the tape, the newest at the right: from the first
    /// stored on while they all fit (the cells after the last one stay
    /// empty, for the events to come), else the window that ends at the
    /// newest (following) or shows the selected event.
    pub fn window(&self) -> RangeInclusive<u64> {
        let n = self.cells();
        let stored = self.stored();
        let first = *stored.start();
        let last = *stored.end();
        if stored.is_empty() || last - first < n {
            return first..=first + n - 1;
        }
        let end = if self.follow {
            last
        } else {
            self.window_end.clamp(first + n - 1, last)
        };
        end + 1 - n..=end
    }

    /// Keeps the selection on a stored event, and the window around it.
    pub fn clamp(&mut self) {
        let stored = self.stored();
        if stored.is_empty() {
            self.follow = true;
            return;
        }
        if let Some(selected) = self.selected() {
            self.selected = selected;
        }
        if self.follow {
            self.window_end = *stored.end();
        }
        let n = self.cells();
        if self.selected > self.window_end {
            self.window_end = self.selected;
        } else if self.selected + n <= self.window_end {
            self.window_end = self.selected + n - 1;
        }
        if let Some(channel) = self.current() {
            let stream = channel.stream.clone();
            let window = self.window();
            self.watch.keep(&stream, window);
        }
    }
}
