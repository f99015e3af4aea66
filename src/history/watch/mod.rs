//! Which event is in which state, for each subscription: what
//! `status --live` draws as one lane per subscription under the tape.
//!
//! A consumer's info (see [`SubscriptionStatus`]) gives three numbers: its
//! ack floor, its delivered position and how many events wait for their
//! ack. It does not say *which* events between the floor and the delivered
//! position are acked. JetStream says that elsewhere, on subjects anyone may
//! subscribe to, while someone does:
//!
//! | What | Subject | JSON `type` |
//! |---|---|---|
//! | An event was acked (every ack of a subscription with `sample_frequency: 100`: `listen --report-acks`) | `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>` | `io.nats.jetstream.metric.v1.consumer_ack` |
//! | An event was NAKed: it goes out again at once | `$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.<stream>.<consumer>` | `io.nats.jetstream.advisory.v1.nak` |
//! | An event was terminated: never delivered again | `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.<stream>.<consumer>` | `io.nats.jetstream.advisory.v1.terminated` |
//! | An event was given up after its max deliveries | `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>` | `io.nats.jetstream.advisory.v1.max_deliver` |
//! | A subscription was created or deleted | `$JS.EVENT.ADVISORY.CONSUMER.CREATED.<stream>.<consumer>` (and `DELETED`) | `io.nats.jetstream.advisory.v1.consumer_action` |
//!
//! Each carries the event's `stream_seq` and its `deliveries` (how many
//! times it was sent). [`Notices`] subscribes to them, [`Notice::parse`]
//! reads them, and [`Watch`] keeps what they said per subscription and per
//! event, merged with the polled infos: [`Watch::lane`] tells each event's
//! [`Mark`].
//!
//! What is exact and what is not: every event at or below the ack floor is
//! acked (or given up, where an advisory said so). Above the delivered
//! position nothing was delivered yet. Between the two, an event is known
//! acked, NAKed or given up when a notice said so; the others are
//! delivered and wait for their ack *when the server's ack pending count
//! equals their number*. When it does not (acks made before anyone
//! watched, or by a subscription made without ack sampling), the lane
//! shows the span as unsure, with its counts ([`Lane::span`]).
//!
//! Memory stays bounded: per subscription, only what is still needed to
//! tell the span apart (above the ack floor) and what the tape shows
//! ([`Watch::keep`]), at most [`MAX_KNOWN`] events.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use super::{ChannelStatus, SubscriptionStatus};

mod notices;
#[cfg(test)]
mod tests;

pub use notices::{ACK_METRICS, CONSUMER_ADVISORIES, Notice, NoticeKind, Notices, event};

/// At most this many events are remembered per subscription; past it the
/// oldest are forgotten, and the span below them shows as unsure.
pub const MAX_KNOWN: usize = 4096;

/// What a notice said about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Acked,
    Naked { deliveries: u64 },
    GivenUp { deliveries: u64 },
}

/// How one event stands with one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not stored: deleted from the history, or not published yet.
    NotStored,
    /// Acked: at or below the ack floor, or reported acked.
    Acked,
    /// Delivered, waiting for its ack.
    Waiting,
    /// Delivered again, waiting for its ack; how many times it was sent,
    /// where known.
    Redelivered(Option<u64>),
    /// Given up: never delivered again (max deliver, or terminated);
    /// how many times it was sent.
    GivenUp(u64),
    /// Delivered, and either acked or waiting: the server's counts do not
    /// say which (see [`Lane::span`]).
    Unsure,
    /// Stored, not delivered yet.
    NotDelivered,
    /// Stored before the subscription's start (`new`, `last`, `#N`, a
    /// time): never delivered to it.
    BeforeStart,
}

/// What the events of the span between the ack floor and the delivered
/// position are, where no notice told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    Acked,
    Waiting,
    Redelivered,
    Unsure,
}

/// The span between a subscription's ack floor and its delivered position,
/// where its events' states are not all known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first event after the ack floor.
    pub from: u64,
    /// The delivered position.
    pub to: u64,
    /// How many of its events wait for their ack (the server's count).
    pub waiting: u64,
    /// How many of them no notice told about.
    pub unknown: u64,
}

/// One subscription's lane: the mark of each event.
#[derive(Debug, Clone)]
pub struct Lane<'a> {
    status: &'a SubscriptionStatus,
    first: u64,
    last: u64,
    known: Option<&'a BTreeMap<u64, Known>>,
    rest: Rest,
    unknown: u64,
    redelivered: u64,
    start: u64,
}

impl Lane<'_> {
    /// How event `seq` stands with this subscription.
    pub fn mark(&self, seq: u64) -> Mark {
        if seq < self.first || seq > self.last || seq == 0 {
            return Mark::NotStored;
        }
        let known = self.known.and_then(|known| known.get(&seq)).copied();
        if let Some(Known::GivenUp { deliveries }) = known {
            return Mark::GivenUp(deliveries);
        }
        if seq < self.start {
            return Mark::BeforeStart;
        }
        if seq <= self.status.ack_floor {
            return Mark::Acked;
        }
        if seq > self.status.delivered {
            return Mark::NotDelivered;
        }
        match known {
            Some(Known::Acked) => Mark::Acked,
            // A NAKed event goes out again at once, as delivery n + 1.
            Some(Known::Naked { deliveries }) => Mark::Redelivered(Some(deliveries + 1)),
            Some(Known::GivenUp { deliveries }) => Mark::GivenUp(deliveries),
            None => match self.rest {
                Rest::Acked => Mark::Acked,
                Rest::Waiting => Mark::Waiting,
                Rest::Redelivered => Mark::Redelivered(None),
                Rest::Unsure => Mark::Unsure,
            },
        }
    }

    /// When some of the waiting events were redelivered, and the server's
    /// counts do not say which: how many of how many.
    pub fn redelivered_among_waiting(&self) -> Option<(u64, u64)> {
        (self.rest == Rest::Waiting && self.redelivered > 0 && self.unknown > 0)
            .then_some((self.redelivered, self.unknown))
    }

    /// Whether every event's mark is exact (no [`Mark::Unsure`]).
    pub fn is_exact(&self) -> bool {
        self.rest != Rest::Unsure || self.unknown == 0
    }

    /// The span whose events are unsure, with its counts; `None` when the
    /// lane is exact.
    pub fn span(&self) -> Option<Span> {
        (!self.is_exact()).then(|| Span {
            from: (self.status.ack_floor + 1).max(self.start),
            to: self.status.delivered,
            waiting: self.status.ack_pending,
            unknown: self.unknown,
        })
    }
}

/// What is known of every watched subscription: the polled infos and the
/// notices, merged.
#[derive(Debug, Default, Clone)]
pub struct Watch {
    channels: Vec<ChannelStatus>,
    known: HashMap<(String, String), BTreeMap<u64, Known>>,
    windows: HashMap<String, RangeInclusive<u64>>,
    /// Where the subscriptions that start at `new`, `last` or a time
    /// started, as far as seen (see [`Watch::update`]).
    starts: HashMap<(String, String), u64>,
}

impl Watch {
    /// The channels and their subscriptions, as last polled.
    pub fn channels(&self) -> &[ChannelStatus] {
        &self.channels
    }

    /// Takes what a notice said.
    pub fn notice(&mut self, notice: Notice) {
        let key = (notice.stream, notice.consumer);
        let (seq, known) = match notice.kind {
            NoticeKind::Changed => {
                self.known.remove(&key);
                self.starts.remove(&key);
                return;
            }
            NoticeKind::Acked { seq, .. } => (seq, Known::Acked),
            NoticeKind::Naked { seq, deliveries } => (seq, Known::Naked { deliveries }),
            NoticeKind::GivenUp { seq, deliveries } => (seq, Known::GivenUp { deliveries }),
        };
        let events = self.known.entry(key).or_default();
        // A given-up event stays given up, whatever comes after.
        if !matches!(events.get(&seq), Some(Known::GivenUp { .. })) {
            events.insert(seq, known);
        }
        while events.len() > MAX_KNOWN {
            events.pop_first();
        }
    }

    /// Takes freshly polled infos, of every channel watched. What was
    /// known of subscriptions that are gone is dropped, and so is what the
    /// ack floors now tell by themselves.
    pub fn update(&mut self, mut channels: Vec<ChannelStatus>) {
        let floors: HashMap<(&str, &str), u64> = channels
            .iter()
            .flat_map(|c| {
                c.subscriptions
                    .iter()
                    .map(move |s| ((c.stream.as_str(), s.name.as_str()), s.ack_floor))
            })
            .collect();
        let windows = &self.windows;
        self.known.retain(|(stream, consumer), events| {
            let Some(&floor) = floors.get(&(stream.as_str(), consumer.as_str())) else {
                return false;
            };
            let window = windows.get(stream);
            events.retain(|&seq, known| {
                seq > floor || (*known != Known::Acked && window.is_some_and(|w| w.contains(&seq)))
            });
            !events.is_empty()
        });
        // A subscription that starts at `new`, `last` or a time has an ack
        // floor of 0 until its first ack: the events before its start are
        // not told apart from those delivered and waiting. While the floor
        // is 0, and nothing was acked unseen, its first event is the
        // delivered position less the events it has had. Seen early (as
        // when the view runs before the listener starts) this is exact;
        // the lowest guess is kept, as later ones may miss unseen acks.
        let mut starts = HashMap::new();
        for c in &channels {
            for s in &c.subscriptions {
                let key = (c.stream.clone(), s.name.clone());
                let mut start = self.starts.get(&key).copied();
                if s.ack_floor == 0 && s.delivered > 0 && !matches!(s.start.as_str(), "all") {
                    let told = self.known.get(&key).map_or(0, |k| {
                        k.range(1..=s.delivered)
                            .filter(|(_, k)| !matches!(k, Known::Naked { .. }))
                            .count() as u64
                    });
                    let had = s.ack_pending + told;
                    let guess = (s.delivered + 1).saturating_sub(had).max(1);
                    start = Some(start.map_or(guess, |seen: u64| seen.min(guess)));
                }
                if let Some(n) = s.start.strip_prefix('#').and_then(|n| n.parse().ok()) {
                    start = Some(n);
                }
                if let Some(start) = start {
                    starts.insert(key, start);
                }
            }
        }
        self.starts = starts;
        channels.sort_by(|a, b| a.channel.cmp(&b.channel));
        self.channels = channels;
    }

    /// Keeps, below the ack floors of `stream`'s subscriptions, only what
    /// is known of the events in `window` (the tape's), from the next
    /// update on.
    pub fn keep(&mut self, stream: &str, window: RangeInclusive<u64>) {
        self.windows.insert(stream.to_owned(), window);
    }

    /// How many events are remembered in all (for tests of the bounds).
    pub fn remembered(&self) -> usize {
        self.known.values().map(BTreeMap::len).sum()
    }

    /// The lane of `subscription`, one of `channel`'s.
    pub fn lane<'a>(
        &'a self,
        channel: &ChannelStatus,
        subscription: &'a SubscriptionStatus,
    ) -> Lane<'a> {
        let key = (channel.stream.clone(), subscription.name.clone());
        let known = self.known.get(&key);
        let s = subscription;
        let first = if channel.events == 0 {
            channel.last_seq + 1
        } else {
            channel.first_seq.max(1)
        };
        // The span between the floor and the delivered position, less what
        // the notices told: those events are what the server's ack pending
        // count is about.
        let (mut unknown, mut naked) = (0u64, 0u64);
        if s.delivered > s.ack_floor {
            let start = self.starts.get(&key).copied().unwrap_or(first);
            let from = (s.ack_floor + 1).max(first).max(start);
            let span = s.delivered.saturating_sub(from - 1);
            let told = known.map_or(0, |known| {
                known
                    .range(from..=s.delivered)
                    .inspect(|(_, k)| naked += u64::from(matches!(k, Known::Naked { .. })))
                    .count() as u64
            });
            unknown = span.saturating_sub(told);
        }
        let waiting = s.ack_pending.saturating_sub(naked);
        let redelivered = s.redelivered.saturating_sub(naked);
        let rest = if waiting == 0 {
            Rest::Acked
        } else if waiting == unknown && redelivered == unknown {
            Rest::Redelivered
        } else if waiting == unknown {
            Rest::Waiting
        } else {
            Rest::Unsure
        };
        Lane {
            status: subscription,
            first,
            last: channel.last_seq,
            known,
            rest,
            unknown,
            redelivered,
            start: self.starts.get(&key).copied().unwrap_or(first),
        }
    }
}
