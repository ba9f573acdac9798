//! The simulator's random numbers: a ChaCha8 stream read 32 words at a time, so a draw is
//! an index and a load (the generator's own buffer checks its position word by word).

use std::convert::Infallible;

use rand::{Rng, RngExt, TryRng};
use rand_chacha::ChaCha8Rng;

/// Words taken from the generator at once.
const WORDS: usize = 32;

/// A ChaCha8 stream whose 64-bit words are buffered `WORDS` at a time.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    rng: ChaCha8Rng,
    words: [u64; WORDS],
    /// The next word to hand out; `WORDS` when the buffer is used up.
    next: usize,
    /// The high half of the last word a `u32` was cut from, while it is unused.
    half: Option<u32>,
}

impl Stream {
    /// Reads `rng` from its current position on.
    pub(crate) fn new(rng: ChaCha8Rng) -> Stream {
        Stream { rng, words: [0; WORDS], next: WORDS, half: None }
    }

    #[cold]
    fn refill(&mut self) {
        self.rng.fill(&mut self.words[..]);
        self.next = 0;
    }
}

impl TryRng for Stream {
    type Error = Infallible;

    #[inline(always)]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        if self.next >= WORDS {
            self.refill();
        }
        let word = self.words[self.next % WORDS];
        self.next += 1;
        Ok(word)
    }

    /// Half a word: the high half of the last one cut, else the low half of a new one.
    #[inline(always)]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        if let Some(high) = self.half.take() {
            return Ok(high);
        }
        let word = self.try_next_u64()?;
        self.half = Some((word >> 32) as u32);
        Ok(word as u32)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_same_words_as_the_generator() {
        let mut plain = ChaCha8Rng::seed_from_u64(9);
        let mut stream = Stream::new(ChaCha8Rng::seed_from_u64(9));
        for _ in 0..3 * WORDS + 5 {
            assert_eq!(stream.next_u64(), plain.next_u64());
        }
        let mut bytes = [0u8; 12];
        stream.fill_bytes(&mut bytes);
        assert_eq!(bytes[..8], plain.next_u64().to_le_bytes());
        assert_eq!(bytes[8..], plain.next_u64().to_le_bytes()[..4]);
        let word = plain.next_u64();
        assert_eq!((stream.next_u32(), stream.next_u32()), (word as u32, (word >> 32) as u32));
        assert_eq!(stream.next_u64(), plain.next_u64());
    }
}
