//! The simulator's calendar: a 4-ary min-heap of event times (the `u64` bits of
//! non-negative `f64`s, which order as the times do) with each event's `u32` id, stored
//! in groups of four siblings; the popped top is removed lazily. Most events schedule one
//! new event; that push then takes the old top's place with one sift-down, instead of a
//! removal and an insertion. Sifts run a fixed number of rounds for the heap's size and
//! choose without branching on the times, so they cost no mispredicted branches. Events at
//! the same time come out in an order fixed by the pushes and pops before them (not
//! necessarily the order they were pushed in).

use std::hint::select_unpredictable;

/// Children per node: a shallow tree, each level's four children compared without branches.
const ARITY: usize = 4;

/// Four slots of the heap: times (`u64::MAX` when empty) and ids, in one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Group {
    times: [u64; ARITY],
    ids: [u32; ARITY],
}

const EMPTY: Group = Group { times: [u64::MAX; ARITY], ids: [0; ARITY] };

/// Where node `i` of the heap sits: node `i` is slot `i + 3`, so the children of node `i`
/// (nodes `4i + 1 ..= 4i + 4`) are exactly group `i + 1`.
#[inline]
fn place(i: usize) -> (usize, usize) {
    ((i + 3) / ARITY, (i + 3) % ARITY)
}

/// Pending events, soonest first: a 4-ary min-heap of `len` nodes laid out in groups of
/// four (see [`place`]). Every level down to the last node's is allocated in full (and
/// more, to a power of two of groups), slots past the last node holding `u64::MAX`, so
/// children are always read as a whole group.
#[derive(Debug)]
pub(crate) struct Calendar {
    groups: Vec<Group>,
    len: usize,
    /// The last node's level (the root's is 0): how far a sift can go, so the sifts run a
    /// fixed number of rounds and their loops are predicted, whatever the times.
    depth: u32,
    /// The first node of the level below the last node's.
    next_level: usize,
    /// Whether the top was popped already and is only waiting to be overwritten.
    stale: bool,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar::with_capacity(0)
    }
}

impl Calendar {
    /// An empty calendar with room for `capacity` events.
    pub(crate) fn with_capacity(capacity: usize) -> Calendar {
        let mut groups = Vec::with_capacity(capacity / ARITY + 2);
        groups.push(EMPTY);
        Calendar { groups, len: 0, depth: 0, next_level: 1, stale: false }
    }

    /// Events waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len - usize::from(self.stale)
    }

    /// Takes the soonest event: its time bits and id.
    #[cfg(test)]
    pub(crate) fn pop(&mut self) -> Option<(u64, u32)> {
        self.settle();
        if self.len == 0 {
            return None;
        }
        let time = self.peek();
        Some((time, self.take()))
    }

    /// Finishes removing a popped top that no push replaced.
    #[inline]
    pub(crate) fn settle(&mut self) {
        if self.stale {
            self.remove_top();
        }
    }

    /// The soonest time's bits once settled; `u64::MAX` when there is none.
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        self.groups[0].times[ARITY - 1]
    }

    /// Takes the soonest event (settled, and there is one) and returns its id; the next
    /// push takes its place.
    #[inline]
    pub(crate) fn take(&mut self) -> u32 {
        debug_assert!(self.len > 0 && !self.stale);
        self.stale = true;
        self.groups[0].ids[ARITY - 1]
    }

    /// The soonest time's bits, left in place; `u64::MAX` when there is none.
    #[cfg(test)]
    pub(crate) fn first(&mut self) -> u64 {
        self.settle();
        self.peek()
    }

    /// Adds an event at the time whose bits are `time`.
    #[inline(always)]
    pub(crate) fn push(&mut self, time: u64, id: u32) {
        if self.stale {
            self.stale = false;
            self.sift_down(time, id);
        } else {
            self.insert(time, id);
        }
    }

    /// Adds a node at the end and sifts the event up from there.
    fn insert(&mut self, time: u64, id: u32) {
        let i = self.len;
        self.len += 1;
        if self.len > self.next_level {
            // The new node starts a level: its groups are the children of the level above,
            // the last of them group `next_level`.
            self.depth += 1;
            if self.groups.len() <= self.next_level {
                self.groups.resize((self.next_level + 1).next_power_of_two(), EMPTY);
            }
            self.next_level = ARITY * self.next_level + 1;
        }
        self.sift_up(i, time, id);
    }

    /// Removes the stale top for good: the last event fills its place.
    fn remove_top(&mut self) {
        self.stale = false;
        self.len -= 1;
        let (g, l) = place(self.len);
        let last = &mut self.groups[g];
        let (time, id) = (std::mem::replace(&mut last.times[l], u64::MAX), last.ids[l]);
        let level = (self.next_level - 1) / ARITY;
        if self.len <= level && self.depth > 0 {
            self.depth -= 1;
            self.next_level = level;
        }
        if self.len > 0 {
            self.sift_down(time, id);
        }
    }

    /// Puts an event at the root, whose old one is gone: it sinks while the soonest of a
    /// node's children (picked without branches; padding is never the soonest while a
    /// real child exists) is sooner. Every round runs, without branching on the times:
    /// once the event has found its place it stays there.
    #[inline]
    fn sift_down(&mut self, time: u64, id: u32) {
        // Every group index here is below the length, a power of two: masking it changes
        // nothing but lets the compiler drop the bounds checks.
        let mask = self.groups.len() - 1;
        let groups = &mut self.groups[..=mask];
        // The hole (the event's place so far): its node, group and lane.
        let mut i = 0;
        let (mut hg, mut hl) = place(0);
        for _ in 0..self.depth {
            let g = &groups[(i + 1) & mask];
            let t = &g.times;
            let (a, b) = (usize::from(t[1] < t[0]), 2 + usize::from(t[3] < t[2]));
            let k = select_unpredictable(t[b] < t[a], b, a);
            let (soonest, sid) = (t[k], g.ids[k]);
            let sink = soonest < time;
            let hole = &mut groups[hg & mask];
            hole.times[hl % ARITY] = select_unpredictable(sink, soonest, time);
            hole.ids[hl % ARITY] = select_unpredictable(sink, sid, id);
            hg = select_unpredictable(sink, i + 1, hg);
            hl = select_unpredictable(sink, k, hl);
            i = select_unpredictable(sink, ARITY * i + 1 + k, i);
        }
        let hole = &mut groups[hg & mask];
        hole.times[hl % ARITY] = time;
        hole.ids[hl % ARITY] = id;
    }

    /// Puts an event in the hole at node `i` (the last), moving later parents down; as
    /// `sift_down`, a fixed number of rounds.
    #[inline]
    fn sift_up(&mut self, mut i: usize, time: u64, id: u32) {
        let groups = &mut self.groups[..];
        for _ in 0..self.depth {
            let p = i.saturating_sub(1) / ARITY;
            let (pg, pl) = place(p);
            let (pt, pid) = (groups[pg].times[pl], groups[pg].ids[pl]);
            let rise = pt > time;
            let (g, l) = place(i);
            groups[g].times[l] = select_unpredictable(rise, pt, time);
            groups[g].ids[l] = select_unpredictable(rise, pid, id);
            i = select_unpredictable(rise, p, i);
        }
        let (g, l) = place(i);
        groups[g].times[l] = time;
        groups[g].ids[l] = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a reference list: the first time and pops come soonest first, each
        /// with an id pushed at that time, whatever the mix of pushes and pops (a pop
        /// followed by pushes replaces the top; by a pop, removes it).
        #[test]
        fn pops_in_order(ops in proptest::collection::vec(proptest::option::of(0u64..64), 0..300)) {
            let mut cal = Calendar::with_capacity(4);
            let mut reference: Vec<(u64, u32)> = Vec::new();
            for (seq, op) in ops.into_iter().enumerate() {
                match op {
                    Some(t) => {
                        cal.push(t, seq as u32);
                        reference.push((t, seq as u32));
                    }
                    None => {
                        let soonest = reference.iter().map(|r| r.0).min();
                        prop_assert_eq!(cal.first(), soonest.unwrap_or(u64::MAX));
                        let popped = cal.pop();
                        prop_assert_eq!(popped.map(|p| p.0), soonest);
                        if let Some(p) = popped {
                            let at = reference.iter().position(|r| *r == p);
                            prop_assert!(at.is_some(), "{:?} was not pending", p);
                            reference.swap_remove(at.unwrap_or(0));
                        }
                    }
                }
                prop_assert_eq!(cal.len(), reference.len());
            }
            reference.sort_unstable();
            let mut rest = Vec::new();
            while let Some(p) = cal.pop() {
                rest.push(p);
            }
            prop_assert!(rest.windows(2).all(|w| w[0].0 <= w[1].0), "{:?}", rest);
            rest.sort_unstable();
            prop_assert_eq!(rest, reference);
        }
    }

    #[test]
    fn empty_and_single() {
        let mut cal = Calendar::default();
        assert_eq!(cal.pop(), None);
        cal.push(5, 50);
        assert_eq!(cal.pop(), Some((5, 50)));
        assert_eq!(cal.pop(), None);
        cal.push(3, 30);
        cal.push(1, 10);
        cal.push(2, 20);
        assert_eq!(cal.pop(), Some((1, 10)));
        cal.push(0, 0);
        assert_eq!((cal.pop(), cal.pop(), cal.pop(), cal.pop()), (Some((0, 0)), Some((2, 20)), Some((3, 30)), None));
    }

    #[test]
    fn times_order_as_their_bits() {
        let times = [0.0, 1e-300, 0.5, 1.0, 1.5, 1e9, f64::MAX];
        assert!(times.windows(2).all(|w| w[0].to_bits() < w[1].to_bits()));
    }
}
