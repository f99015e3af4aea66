//! The exactly-once account of a batch: which events are in flight, which
//! are stored, which must be sent again. Plain data, no I/O.

use std::collections::VecDeque;

use super::{Published, Stored, WINDOW};

/// What became of one event in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Sent, no ack yet.
    Waiting,
    /// Sent again at least once, no ack yet.
    Retried,
    /// Stored with this sequence.
    Stored(Stored),
}

/// The exactly-once account of a batch's events: events `[base, next)` are
/// in flight. Acks may come in any order; events count as stored in the
/// order they were sent, so what is reported is always a prefix of the batch.
#[derive(Debug)]
pub struct Window {
    slots: VecDeque<Slot>,
    base: u64,
    next: u64,
    published: Published,
}

impl Default for Window {
    fn default() -> Window {
        Window::new()
    }
}

impl Window {
    /// An empty window, at event 0.
    pub fn new() -> Window {
        Window {
            slots: VecDeque::with_capacity(WINDOW as usize),
            base: 0,
            next: 0,
            published: Published::default(),
        }
    }

    /// Adds the next event, sent: returns its index in the batch.
    pub fn push(&mut self) -> u64 {
        self.slots.push_back(Slot::Waiting);
        self.next += 1;
        self.next - 1
    }

    /// The first event not known to be stored (all before it are).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// How many events were sent: the index the next one gets.
    pub fn sent(&self) -> u64 {
        self.next
    }

    /// How many events are sent and not known to be stored.
    pub fn in_flight(&self) -> u64 {
        self.next - self.base
    }

    /// What is stored so far, in order.
    pub fn published(&self) -> Published {
        self.published
    }

    /// Whether event `i` is in flight (an ack for any other is a late copy).
    pub fn holds(&self, i: u64) -> bool {
        (self.base..self.next).contains(&i)
    }

    /// Records that event `i` is stored (a duplicate's ack names the
    /// sequence of the copy stored first: either way, stored once).
    pub fn record_ack(&mut self, i: u64, stored: Stored) {
        if let Some(slot) = self
            .holds(i)
            .then(|| &mut self.slots[(i - self.base) as usize])
            && !matches!(slot, Slot::Stored(_))
        {
            *slot = Slot::Stored(stored);
        }
    }

    /// The next event stored in order, if any: it leaves the window.
    pub fn pop_stored(&mut self) -> Option<Stored> {
        let Some(Slot::Stored(stored)) = self.slots.front().copied() else {
            return None;
        };
        self.slots.pop_front();
        self.base += 1;
        self.published.record(stored.sequence);
        Some(stored)
    }

    /// The events to send again (all not stored), counting each event's
    /// first resend in [`Published::retried`].
    pub fn to_resend(&mut self) -> Vec<u64> {
        let mut again = Vec::new();
        for (offset, slot) in self.slots.iter_mut().enumerate() {
            if *slot == Slot::Waiting {
                self.published.retried += 1;
                *slot = Slot::Retried;
            }
            if !matches!(slot, Slot::Stored(_)) {
                again.push(self.base + offset as u64);
            }
        }
        again
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sequence: u64) -> Stored {
        Stored {
            sequence,
            duplicate: false,
        }
    }

    #[test]
    fn events_count_as_stored_in_the_order_they_were_sent() {
        let mut window = Window::new();
        let (a, b, c) = (window.push(), window.push(), window.push());
        assert_eq!((a, b, c), (0, 1, 2));
        window.record_ack(b, at(11));
        assert_eq!(window.pop_stored(), None, "event 0 is not stored yet");
        window.record_ack(a, at(10));
        assert_eq!(window.pop_stored(), Some(at(10)));
        assert_eq!(window.pop_stored(), Some(at(11)));
        assert_eq!(window.pop_stored(), None);
        assert_eq!((window.base(), window.in_flight()), (2, 1));
        assert_eq!(window.published().count, 2);
    }

    #[test]
    fn what_is_not_stored_is_sent_again_and_counted_once() {
        let mut window = Window::new();
        for _ in 0..3 {
            window.push();
        }
        window.record_ack(1, at(7));
        assert_eq!(window.to_resend(), [0, 2]);
        assert_eq!(window.to_resend(), [0, 2], "until their acks come");
        assert_eq!(window.published().retried, 2, "each event counted once");
    }

    #[test]
    fn a_late_or_second_ack_changes_nothing() {
        let mut window = Window::new();
        window.push();
        window.record_ack(0, at(5));
        window.record_ack(0, at(9)); // a duplicate's ack: the first copy's sequence stands
        assert_eq!(window.pop_stored(), Some(at(5)));
        window.record_ack(0, at(6)); // no longer in flight
        assert!(!window.holds(0));
        assert_eq!(window.published().describe(), "1 was stored (event #5)");
    }
}
