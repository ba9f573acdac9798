//! Sets of nodes as bit vectors: the placement loop combines whole filters a word (64
//! nodes) at a time instead of node by node.

/// A set of node indexes below `len`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// The empty set over `len` nodes.
    pub(crate) fn zeros(len: usize) -> Bits {
        Bits { words: vec![0; len.div_ceil(64)], len }
    }

    /// The set of all `len` nodes.
    pub(crate) fn ones(len: usize) -> Bits {
        let mut bits = Bits { words: vec![u64::MAX; len.div_ceil(64)], len };
        bits.trim();
        bits
    }

    /// The nodes at which `keep` holds.
    pub(crate) fn from_fn(len: usize, mut keep: impl FnMut(usize) -> bool) -> Bits {
        let mut bits = Bits::zeros(len);
        for (w, word) in bits.words.iter_mut().enumerate() {
            let base = w * 64;
            let mut value = 0u64;
            for b in 0..64.min(len - base) {
                value |= u64::from(keep(base + b)) << b;
            }
            *word = value;
        }
        bits
    }

    /// Clears the bits past `len` in the last word.
    fn trim(&mut self) {
        let tail = self.len % 64;
        if tail != 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= (1u64 << tail) - 1;
        }
    }

    /// Whether node `i` is in the set.
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Puts node `i` in the set, or takes it out.
    pub(crate) fn set(&mut self, i: usize, value: bool) {
        let mask = 1u64 << (i % 64);
        if value {
            self.words[i / 64] |= mask;
        } else {
            self.words[i / 64] &= !mask;
        }
    }

    /// Adds a node slot at the end.
    pub(crate) fn push(&mut self, value: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        self.len += 1;
        self.set(self.len - 1, value);
    }

    /// Removes the last node slot.
    pub(crate) fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.set(self.len - 1, false);
        self.len -= 1;
        if self.len.is_multiple_of(64) {
            self.words.pop();
        }
    }

    /// Keeps the nodes also in `other`.
    pub(crate) fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// Adds the nodes of `other`.
    pub(crate) fn or(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Removes the nodes of `other`.
    pub(crate) fn and_not(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// The set as words of 64 nodes.
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// Whether the two sets have a node in common.
    pub(crate) fn intersects(&self, other: &Bits) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The number of nodes in the set.
    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The lowest node in the set.
    pub(crate) fn first(&self) -> Option<usize> {
        self.words.iter().position(|&w| w != 0).map(|w| w * 64 + self.words[w].trailing_zeros() as usize)
    }

    /// The nodes of the set, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| Ones { word, base: w * 64 })
    }

    /// The nodes in this set and in `words` (a set as bits), in increasing order.
    pub(crate) fn iter_common_words<'a>(&'a self, words: &'a [u64]) -> impl Iterator<Item = usize> + 'a {
        self.words.iter().zip(words).enumerate().flat_map(|(w, (a, b))| Ones { word: a & b, base: w * 64 })
    }
}

/// The set bits of one word.
struct Ones {
    word: u64,
    base: usize,
}

impl Iterator for Ones {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.word == 0 {
            return None;
        }
        let bit = self.word.trailing_zeros() as usize;
        self.word &= self.word - 1;
        Some(self.base + bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_agree_with_a_list_of_booleans() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [0usize, 1, 63, 64, 65, 130, 200] {
            let a: Vec<bool> = (0..len).map(|_| next() % 3 == 0).collect();
            let b: Vec<bool> = (0..len).map(|_| next() % 2 == 0).collect();
            let (ba, bb) = (Bits::from_fn(len, |i| a[i]), Bits::from_fn(len, |i| b[i]));
            let members = |v: &[bool]| v.iter().enumerate().filter(|(_, x)| **x).map(|(i, _)| i).collect::<Vec<_>>();
            assert_eq!(ba.iter().collect::<Vec<_>>(), members(&a));
            assert_eq!(ba.count(), members(&a).len());
            assert_eq!(ba.first(), members(&a).first().copied());
            let both: Vec<bool> = a.iter().zip(&b).map(|(x, y)| *x && *y).collect();
            assert_eq!(ba.iter_common_words(&bb.words).collect::<Vec<_>>(), members(&both));
            let mut and = ba.clone();
            and.and(&bb);
            assert_eq!(and, Bits::from_fn(len, |i| both[i]));
            let mut or = ba.clone();
            or.or(&bb);
            assert_eq!(or, Bits::from_fn(len, |i| a[i] || b[i]));
            let mut minus = ba.clone();
            minus.and_not(&bb);
            assert_eq!(minus, Bits::from_fn(len, |i| a[i] && !b[i]));
            assert_eq!(minus.is_empty(), !(0..len).any(|i| a[i] && !b[i]));
            assert_eq!(Bits::ones(len).count(), len);
            let mut grown = ba.clone();
            grown.push(true);
            assert!(grown.get(len));
            assert_eq!(grown.count(), ba.count() + 1);
            grown.pop();
            assert_eq!(grown, ba);
            let mut flipped = ba.clone();
            for (i, &bit) in a.iter().enumerate() {
                flipped.set(i, !bit);
            }
            assert_eq!(flipped, Bits::from_fn(len, |i| !a[i]));
        }
    }
}
