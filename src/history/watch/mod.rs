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
//! A redelivery, once known, stays known while the event waits: from a
//! NAK advisory (with its delivery count, `R3`), or from the counts when
//! every waiting event of the span was sent again (`R`, the count not
//! told: the server does not announce redeliveries after an ack wait). It
//! is forgotten when the event is acked, given up, or when the counts
//! show that some of those remembered were acked unseen (more remembered
//! than wait: they are then unsure).
//!
//! Where a subscription starts comes from its info (see
//! [`crate::history::start`]), remembered from the first poll
//! that told it: events before it are not its own ([`Mark::BeforeStart`]).
//! Until its first ack its ack floor acks nothing. Seen only after its
//! first ack, a subscription that starts at `new`, `last` or a time has
//! its events at or below the ack floor unsure: acked, or before its
//! start ([`Lane::unknown_start`]).
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

pub use notices::{
    ACK_METRICS, CONSUMER_ADVISORIES, GIVEN_UP_READ, Notice, NoticeKind, Notices, event, given_up,
};

/// At most this many events are remembered per subscription; past it the
/// oldest are forgotten, and the span below them shows as unsure.
pub const MAX_KNOWN: usize = 4096;

/// What a notice said about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Acked,
    /// Sent again and waiting: how many times, where a NAK advisory told.
    Redelivered {
        deliveries: Option<u64>,
    },
    GivenUp {
        deliveries: u64,
    },
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
    /// Where it started, where known.
    start: Option<u64>,
    /// The first event of the span after the floor.
    from: u64,
    /// More redeliveries remembered than events wait: some were acked unseen.
    stale: bool,
    /// How many times each event redelivered was sent, where the counts
    /// tell it and no notice did (see [`Watch::lane`]).
    each: Option<u64>,
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
        if self.start.is_some_and(|start| seq < start) {
            return Mark::BeforeStart;
        }
        if seq <= self.status.ack_floor {
            return if !self.status.has_acked() {
                // Before its first ack the floor marks its start, no ack.
                Mark::BeforeStart
            } else if self.start.is_none() && known != Some(Known::Acked) {
                Mark::Unsure
            } else {
                Mark::Acked
            };
        }
        if seq > self.status.delivered {
            return Mark::NotDelivered;
        }
        match known {
            Some(Known::Acked) => Mark::Acked,
            Some(Known::Redelivered { .. }) if self.stale => Mark::Unsure,
            Some(Known::Redelivered { deliveries }) => Mark::Redelivered(deliveries.or(self.each)),
            Some(Known::GivenUp { deliveries }) => Mark::GivenUp(deliveries),
            None => match self.rest {
                Rest::Acked => Mark::Acked,
                Rest::Waiting => Mark::Waiting,
                Rest::Redelivered => Mark::Redelivered(self.each),
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

    /// Whether every event of the span is exact (no [`Mark::Unsure`]).
    pub fn is_exact(&self) -> bool {
        (self.rest != Rest::Unsure || self.unknown == 0) && !self.stale
    }

    /// The first event it may be given, where known.
    pub fn start(&self) -> Option<u64> {
        self.start
    }

    /// When it was seen only after its first ack, and its start was not
    /// told: the ack floor, at or below which each event is acked or
    /// before its start.
    pub fn unknown_start(&self) -> Option<u64> {
        let s = self.status;
        (self.start.is_none() && s.has_acked() && s.ack_floor >= self.first).then_some(s.ack_floor)
    }

    /// The span whose events are unsure, with its counts; `None` when the
    /// lane is exact.
    pub fn span(&self) -> Option<Span> {
        (!self.is_exact()).then_some(Span {
            from: self.from,
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
            // A NAKed event goes out again at once, as delivery n + 1.
            NoticeKind::Naked { seq, deliveries } => (
                seq,
                Known::Redelivered {
                    deliveries: Some(deliveries + 1),
                },
            ),
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
        // Where each subscription starts: told by its info (see the history
        // module's doc) or remembered from a poll that told it.
        let mut starts = HashMap::new();
        for c in &channels {
            for s in &c.subscriptions {
                let key = (c.stream.clone(), s.name.clone());
                if let Some(start) = s.start_seq().or_else(|| self.starts.get(&key).copied()) {
                    starts.insert(key, start);
                }
            }
        }
        self.starts = starts;
        channels.sort_by(|a, b| a.channel.cmp(&b.channel));
        self.channels = channels;
        self.remember_redeliveries();
    }

    /// Where the counts tell that every waiting event of a span was sent
    /// again, remembers each as redelivered: the next events delivered
    /// would otherwise hide which ones were.
    fn remember_redeliveries(&mut self) {
        let mut told = Vec::new();
        for c in &self.channels {
            for s in &c.subscriptions {
                let lane = self.lane(c, s);
                if lane.rest != Rest::Redelivered || lane.unknown == 0 {
                    continue;
                }
                if lane.unknown > MAX_KNOWN as u64 {
                    continue;
                }
                let seqs: Vec<u64> = (lane.from..=s.delivered)
                    .filter(|seq| lane.known.is_none_or(|k| !k.contains_key(seq)))
                    .collect();
                told.push(((c.stream.clone(), s.name.clone()), seqs));
            }
        }
        for (key, seqs) in told {
            let events = self.known.entry(key).or_default();
            for seq in seqs {
                events.insert(seq, Known::Redelivered { deliveries: None });
            }
            while events.len() > MAX_KNOWN {
                events.pop_first();
            }
        }
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
        let start = self.starts.get(&key).copied();
        // The span between the floor and the delivered position, less what
        // the notices told: those events are what the server's ack pending
        // count is about.
        let from = (s.ack_floor + 1).max(first).max(start.unwrap_or(0));
        let (mut unknown, mut held, mut counted) = (0u64, 0u64, 0u64);
        if s.delivered >= from {
            let span = s.delivered + 1 - from;
            let told = known.map_or(0, |known| {
                known
                    .range(from..=s.delivered)
                    .inspect(|(_, k)| {
                        if let Known::Redelivered { deliveries } = k {
                            held += 1;
                            counted += u64::from(deliveries.is_none());
                        }
                    })
                    .count() as u64
            });
            unknown = span.saturating_sub(told);
        }
        // More remembered as redelivered than wait, or than the server
        // counts as redelivered: some of them were acked unseen.
        let stale = held > s.ack_pending || counted > s.redelivered;
        // How many times each was sent, from the delivery count: while
        // every event delivered since the start still waits (none acked or
        // given up), the deliveries are theirs: one each, and the rest
        // among the `redelivered` ones. Those are sent twice each when the
        // rest is one each; a single one was sent all the rest. Not while
        // a NAK advisory told a count (its redelivery may be still to come).
        let delivered_since = start.map(|start| (s.delivered + 1).saturating_sub(start));
        let each = (delivered_since == Some(s.ack_pending)
            && s.redelivered > 0
            && held == counted
            && s.deliveries >= s.ack_pending + s.redelivered)
            .then(|| s.deliveries - s.ack_pending)
            .and_then(|again| match again {
                again if again == s.redelivered => Some(2),
                again if s.redelivered == 1 => Some(again + 1),
                _ => None,
            });
        let waiting = s.ack_pending.saturating_sub(held);
        let redelivered = s.redelivered.saturating_sub(held);
        let rest = if stale && unknown > 0 {
            Rest::Unsure
        } else if waiting == 0 {
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
            start,
            from,
            stale,
            each,
        }
    }
}
