//! What a subscription acked lately: one bit per sequence, to recognise an
//! event that comes back (a crashed server forgot its ack, or the ack came
//! after the ack wait) and to know where to resume after a reconnect.

use super::*;

/// Which of the last [`RECENT_ACKS`] sequences (up to the highest acked)
/// were acked: one bit each, in a fixed amount of memory.
#[derive(Debug)]
pub(super) struct RecentlyAcked {
    /// Bit `s % RECENT_ACKS` is sequence `s`'s, for `s` in `(top - RECENT_ACKS, top]`.
    bits: Box<[u64]>,
    /// The highest sequence acked, 0 before the first.
    top: u64,
}

impl Default for RecentlyAcked {
    fn default() -> RecentlyAcked {
        RecentlyAcked {
            bits: vec![0; (RECENT_ACKS / 64) as usize].into_boxed_slice(),
            top: 0,
        }
    }
}

impl RecentlyAcked {
    fn slot(sequence: u64) -> (usize, u64) {
        let bit = sequence % RECENT_ACKS;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn in_window(&self, sequence: u64) -> bool {
        sequence <= self.top && self.top - sequence < RECENT_ACKS
    }

    pub(super) fn contains(&self, sequence: u64) -> bool {
        let (word, mask) = Self::slot(sequence);
        self.in_window(sequence) && self.bits[word] & mask != 0
    }

    /// The first sequence from `start` on that was not acked: `top + 1`
    /// when all were. Sequences older than the window count as acked.
    pub(super) fn first_missing_from(&self, start: u64) -> u64 {
        let oldest = (self.top + 1).saturating_sub(RECENT_ACKS);
        (start.max(oldest)..=self.top)
            .find(|&sequence| !self.contains(sequence))
            .unwrap_or(self.top + 1)
    }

    pub(super) fn insert(&mut self, sequence: u64) {
        if sequence > self.top {
            // Slide the window up: forget the sequences it leaves behind.
            if sequence - self.top >= RECENT_ACKS {
                self.bits.fill(0);
            } else {
                for old in self.top + 1..=sequence {
                    let (word, mask) = Self::slot(old);
                    self.bits[word] &= !mask;
                }
            }
            self.top = sequence;
        }
        if self.in_window(sequence) {
            let (word, mask) = Self::slot(sequence);
            self.bits[word] |= mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recently_acked_remembers_acked_sequences_only() {
        let mut acked = RecentlyAcked::default();
        for sequence in [1, 2, 5] {
            acked.insert(sequence);
        }
        assert!(acked.contains(1) && acked.contains(2) && acked.contains(5));
        assert!(!acked.contains(3) && !acked.contains(4) && !acked.contains(6));
        // An older sequence acked late (a queue group's redelivery) counts too.
        acked.insert(3);
        assert!(acked.contains(3));
    }

    #[test]
    fn first_missing_is_the_first_sequence_not_acked_from_the_start() {
        let mut acked = RecentlyAcked::default();
        assert_eq!(acked.first_missing_from(1), 1);
        for sequence in [3, 4, 6] {
            acked.insert(sequence);
        }
        assert_eq!(acked.first_missing_from(3), 5);
        assert_eq!(acked.first_missing_from(1), 1);
        acked.insert(5);
        assert_eq!(acked.first_missing_from(3), 7, "all acked: the next one");
    }

    #[test]
    fn recently_acked_forgets_sequences_older_than_its_window() {
        let mut acked = RecentlyAcked::default();
        acked.insert(7);
        acked.insert(7 + RECENT_ACKS - 1);
        assert!(acked.contains(7));
        acked.insert(7 + RECENT_ACKS);
        assert!(!acked.contains(7), "slid out of the window");
        // The bit sequence 7 used now belongs to 7 + RECENT_ACKS.
        assert!(acked.contains(7 + RECENT_ACKS));
        acked.insert(10 * RECENT_ACKS);
        assert!(
            !acked.contains(7 + RECENT_ACKS),
            "a long jump forgets everything"
        );
        assert!(acked.contains(10 * RECENT_ACKS));
    }
}
