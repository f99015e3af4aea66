//! Events laid end to end in one buffer, as `publish --lines` reads them:
//! 4 bytes of index per event, and no allocation for any event, so a file
//! of millions of small events takes about its own size in memory.

use std::sync::Arc;

use bytes::Bytes;

/// Events in one buffer: event `i` is `data[ends[i - 1]..ends[i]]` (the
/// first starts at 0). Clones share the buffer and the index.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    data: Bytes,
    ends: Arc<Vec<u32>>,
}

impl Packed {
    /// The events of `data` that end at `ends`, in order; `None` unless
    /// `ends` never goes back and stays within `data` (at most 4 GiB).
    pub fn new(data: Bytes, ends: Vec<u32>) -> Option<Packed> {
        let ordered = ends.windows(2).all(|pair| pair[0] <= pair[1]);
        let within = ends.last().is_none_or(|&end| end as usize <= data.len());
        (ordered && within).then(|| Packed {
            data,
            ends: Arc::new(ends),
        })
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where event `i` starts and ends in the buffer.
    fn range(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        (start, self.ends[i] as usize)
    }

    /// Event `i`'s data, sharing the buffer (no copy).
    pub fn get(&self, i: usize) -> Bytes {
        let (start, end) = self.range(i);
        self.data.slice(start..end)
    }

    /// Every event's size, in order.
    pub fn sizes(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|i| {
            let (start, end) = self.range(i);
            end - start
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_where_they_end() {
        let packed = Packed::new(Bytes::from_static(b"{}{\"a\":1}"), vec![2, 9]).unwrap();
        assert_eq!(
            (packed.len(), packed.get(0), packed.get(1)),
            (2, "{}".into(), "{\"a\":1}".into())
        );
        assert_eq!(packed.sizes().collect::<Vec<_>>(), [2, 7]);
        assert!(Packed::new(Bytes::from_static(b"{}"), vec![3]).is_none());
        assert!(Packed::new(Bytes::from_static(b"{}{}"), vec![4, 2]).is_none());
    }
}
