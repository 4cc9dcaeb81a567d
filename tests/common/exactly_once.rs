//! Exactly-once bookkeeping for the N producers x M consumers tests: each producer
//! puts sequence numbers 0..per_producer; each consumer process keeps a [`Tally`] and
//! writes it into a result segment; the parent checks the union with
//! [`check_exactly_once`].

use shmkit::Segment;

/// What one consumer received: a bitmap with one bit per message, the last sequence
/// number seen per producer, and the order violations and duplicates it saw.
pub struct Tally {
    per_producer: u64,
    bits: Vec<u64>,
    last: Vec<Option<u64>>,
    disorder: u64,
    duplicates: u64,
}

impl Tally {
    pub fn new(producers: u64, per_producer: u64) -> Tally {
        Tally {
            per_producer,
            bits: vec![0; words(producers * per_producer)],
            last: vec![None; producers as usize],
            disorder: 0,
            duplicates: 0,
        }
    }

    /// Records producer `p`'s message `seq`; panics on a message no producer sent.
    pub fn record(&mut self, p: u64, seq: u64) {
        assert!(
            (p as usize) < self.last.len() && seq < self.per_producer,
            "phantom message {p}/{seq}"
        );
        let last = &mut self.last[p as usize];
        if last.is_some_and(|l| seq <= l) {
            self.disorder += 1;
        }
        *last = Some(seq);
        let bit = p * self.per_producer + seq;
        let (w, b) = ((bit / 64) as usize, bit % 64);
        if self.bits[w] & (1 << b) != 0 {
            self.duplicates += 1;
        }
        self.bits[w] |= 1 << b;
    }

    /// Writes the disorder count, the duplicate count, then the bitmap.
    pub fn write_to(&self, result: &Segment) {
        result.write_at(0, &self.disorder.to_ne_bytes()).unwrap();
        result.write_at(8, &self.duplicates.to_ne_bytes()).unwrap();
        let bytes: Vec<u8> = self.bits.iter().flat_map(|w| w.to_ne_bytes()).collect();
        result.write_at(16, &bytes).unwrap();
    }
}

fn words(total: u64) -> usize {
    (total as usize).div_ceil(64)
}

/// One result segment per consumer, named from `prefix`, sized for `total` messages.
pub fn result_segments(prefix: &str, consumers: usize, total: u64) -> Vec<(String, Segment)> {
    (0..consumers)
        .map(|c| {
            let n = super::unique_name(&format!("{prefix}{c}"));
            let s = Segment::create(&n, 16 + words(total) * 8).unwrap();
            (n, s)
        })
        .collect()
}

/// Checks the consumers' tallies: no consumer saw a producer out of order or a message
/// twice, no message went to two consumers, and all `total` arrived.
pub fn check_exactly_once(results: &[(String, Segment)], total: u64) {
    let words = words(total);
    let mut union = vec![0u64; words];
    let mut received = 0u64;
    for (c, (_, seg)) in results.iter().enumerate() {
        let mut head = [0u8; 16];
        seg.read_at(0, &mut head).unwrap();
        let disorder = u64::from_ne_bytes(head[..8].try_into().unwrap());
        let duplicates = u64::from_ne_bytes(head[8..].try_into().unwrap());
        assert_eq!(
            disorder, 0,
            "consumer {c} saw a producer's messages out of order"
        );
        assert_eq!(duplicates, 0, "consumer {c} got a message twice");
        let mut bytes = vec![0u8; words * 8];
        seg.read_at(16, &mut bytes).unwrap();
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let w = u64::from_ne_bytes(chunk.try_into().unwrap());
            assert_eq!(union[i] & w, 0, "a message went to two consumers");
            union[i] |= w;
            received += u64::from(w.count_ones());
        }
    }
    assert_eq!(received, total, "messages lost");
}
