//! The simulator's calendar: a 4-ary min-heap of `u128` event keys whose popped top is
//! removed lazily. Most events schedule one new event; that push then takes the old top's
//! place with one sift-down, instead of a removal and an insertion.

/// Children per node: a shallow tree, each level's four children compared without branches.
const ARITY: usize = 4;

/// Pending event keys, smallest first: a 4-ary min-heap in `heap[..len]`, followed by at
/// least `ARITY` slots of `u128::MAX` so every node's children can be read as a full group.
#[derive(Debug)]
pub(crate) struct Calendar {
    heap: Vec<u128>,
    len: usize,
    /// Whether `heap[0]` was popped already and is only waiting to be overwritten.
    stale: bool,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar::with_capacity(0)
    }
}

impl Calendar {
    /// An empty calendar with room for `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Calendar {
        let mut heap = Vec::with_capacity(capacity + ARITY);
        heap.resize(ARITY, u128::MAX);
        Calendar { heap, len: 0, stale: false }
    }

    /// Keys waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len - usize::from(self.stale)
    }

    /// Takes the smallest key.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u128> {
        let top = self.first();
        if self.len == 0 {
            return None;
        }
        self.stale = true;
        Some(top)
    }

    /// The smallest key, left in place; `u128::MAX` when there is none.
    #[inline]
    pub(crate) fn first(&mut self) -> u128 {
        if self.stale {
            self.remove_top();
        }
        self.heap[0]
    }

    /// Adds a key.
    #[inline]
    pub(crate) fn push(&mut self, key: u128) {
        if self.stale {
            self.stale = false;
            self.sift_down(key);
        } else {
            let i = self.len;
            self.len += 1;
            if self.heap.len() < self.len + ARITY {
                self.heap.push(u128::MAX);
            }
            self.sift_up(i, key);
        }
    }

    /// Removes the stale top for good: the last key fills its place.
    fn remove_top(&mut self) {
        self.stale = false;
        self.len -= 1;
        let last = std::mem::replace(&mut self.heap[self.len], u128::MAX);
        if self.len > 0 {
            self.sift_down(last);
        }
    }

    /// Puts `key` at the root, whose old key is gone: it sinks while the smallest of a
    /// node's children (picked without branches; padding is never the smallest while a
    /// real child exists) is smaller.
    #[inline]
    fn sift_down(&mut self, key: u128) {
        let n = self.len;
        let h = &mut self.heap[..];
        let mut i = 0;
        let mut c = 1;
        while c < n {
            let group = &h[c..c + ARITY];
            let (a, b) = (usize::from(group[1] < group[0]), 2 + usize::from(group[3] < group[2]));
            let m = c + if group[b] < group[a] { b } else { a };
            if h[m] >= key {
                break;
            }
            h[i] = h[m];
            i = m;
            c = ARITY * i + 1;
        }
        h[i] = key;
    }

    /// Puts `key` in the hole at `i`, moving larger parents down.
    #[inline]
    fn sift_up(&mut self, mut i: usize, key: u128) {
        let h = &mut self.heap[..];
        while i > 0 {
            let p = (i - 1) / ARITY;
            if h[p] <= key {
                break;
            }
            h[i] = h[p];
            i = p;
        }
        h[i] = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a sorted reference: the first key and pops come smallest first, whatever
        /// the mix of pushes and pops (a pop followed by pushes replaces the top; by a pop,
        /// removes it).
        #[test]
        fn pops_in_order(ops in proptest::collection::vec(proptest::option::of(0u128..64), 0..300)) {
            let mut cal = Calendar::with_capacity(4);
            let mut reference: Vec<u128> = Vec::new();
            for (seq, op) in ops.into_iter().enumerate() {
                match op {
                    // Equal times part by sequence number, as the simulator's keys do.
                    Some(t) => {
                        let key = (t << 64) | seq as u128;
                        cal.push(key);
                        reference.push(key);
                    }
                    None => {
                        reference.sort_unstable_by(|a, b| b.cmp(a));
                        prop_assert_eq!(cal.first(), reference.last().copied().unwrap_or(u128::MAX));
                        prop_assert_eq!(cal.pop(), reference.pop());
                    }
                }
                prop_assert_eq!(cal.len(), reference.len());
            }
            reference.sort_unstable();
            let mut rest = Vec::new();
            while let Some(k) = cal.pop() {
                rest.push(k);
            }
            prop_assert_eq!(rest, reference);
        }
    }

    #[test]
    fn empty_and_single() {
        let mut cal = Calendar::default();
        assert_eq!(cal.pop(), None);
        cal.push(5);
        assert_eq!(cal.pop(), Some(5));
        assert_eq!(cal.pop(), None);
        cal.push(3);
        cal.push(1);
        cal.push(2);
        assert_eq!(cal.pop(), Some(1));
        cal.push(0);
        assert_eq!((cal.pop(), cal.pop(), cal.pop(), cal.pop()), (Some(0), Some(2), Some(3), None));
    }
}
