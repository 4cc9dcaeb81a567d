//! 4 producer processes × 4 consumer processes × 1,000,000 sequenced messages each:
//! every message is received exactly once, and each consumer sees each producer's
//! messages in the order they were put.

mod common;

use std::time::Duration;

use shmkit::{GetError, Queue, Segment};

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 1_000_000;
const TOTAL: u64 = PRODUCERS * PER_PRODUCER;
const LIMIT: Duration = Duration::from_secs(120);
const TEST: &str = "four_by_four_million_messages_each_exactly_once_in_order";

fn message(producer: u64, seq: u64) -> u64 {
    (producer << 32) | seq
}

/// Producers 0 and 1 put one at a time, 2 and 3 in batches of 100.
fn produce(q: &Queue<u64>, p: u64) {
    if p < 2 {
        for seq in 0..PER_PRODUCER {
            q.put(message(p, seq)).unwrap();
        }
    } else {
        let mut batch = Vec::with_capacity(100);
        for start in (0..PER_PRODUCER).step_by(100) {
            batch.clear();
            batch.extend((start..(start + 100).min(PER_PRODUCER)).map(|s| message(p, s)));
            q.put_many(&batch).unwrap();
        }
    }
}

/// Consumers 0 and 1 get one at a time, 2 and 3 up to 64 at once. Each writes a
/// bitmap of what it received (one bit per message) into its result segment, and the
/// count of order violations it saw in the first 8 bytes.
fn consume(q: &Queue<u64>, c: usize, result: &Segment) {
    let mut bits = vec![0u64; (TOTAL as usize).div_ceil(64)];
    let mut last = [None::<u64>; PRODUCERS as usize];
    let mut disorder = 0u64;
    let mut duplicates = 0u64;
    let mut record = |m: u64| {
        let (p, seq) = ((m >> 32) as usize, m & 0xffff_ffff);
        assert!(
            p < PRODUCERS as usize && seq < PER_PRODUCER,
            "phantom {m:#x}"
        );
        if last[p].is_some_and(|l| seq <= l) {
            disorder += 1;
        }
        last[p] = Some(seq);
        let bit = p as u64 * PER_PRODUCER + seq;
        let (w, b) = ((bit / 64) as usize, bit % 64);
        if bits[w] & (1 << b) != 0 {
            duplicates += 1;
        }
        bits[w] |= 1 << b;
    };
    if c < 2 {
        loop {
            match q.get() {
                Ok(m) => record(m),
                Err(GetError::Closed) => break,
                Err(e) => panic!("get: {e}"),
            }
        }
    } else {
        let mut buf = [0u64; 64];
        loop {
            match q.get_many(&mut buf) {
                Ok(n) => buf[..n].iter().for_each(|&m| record(m)),
                Err(GetError::Closed) => break,
                Err(e) => panic!("get_many: {e}"),
            }
        }
    }
    result.write_at(0, &disorder.to_ne_bytes()).unwrap();
    result.write_at(8, &duplicates.to_ne_bytes()).unwrap();
    let bytes: Vec<u8> = bits.iter().flat_map(|w| w.to_ne_bytes()).collect();
    result.write_at(16, &bytes).unwrap();
}

#[test]
fn four_by_four_million_messages_each_exactly_once_in_order() {
    if let Some(child) = common::child_role() {
        let q = Queue::<u64>::open(child.arg(0)).unwrap();
        let n: usize = child.arg_parse(1);
        match child.role.as_str() {
            "producer" => produce(&q, n as u64),
            _ => consume(&q, n, &Segment::open(child.arg(2)).unwrap()),
        }
        return;
    }
    let name = common::unique_name("q-mpmc");
    let q = Queue::<u64>::create(&name, 1024).unwrap();
    let words = (TOTAL as usize).div_ceil(64);
    let results: Vec<(String, Segment)> = (0..CONSUMERS)
        .map(|c| {
            let n = common::unique_name(&format!("q-mpmc-result{c}"));
            let s = Segment::create(&n, 16 + words * 8).unwrap();
            (n, s)
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| common::spawn_child(TEST, "consumer", &[&name, &c.to_string(), &results[c].0]))
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| common::spawn_child(TEST, "producer", &[&name, &p.to_string()]))
        .collect();
    for p in producers {
        common::wait_ok(p, LIMIT);
    }
    q.close();
    for c in consumers {
        common::wait_ok(c, LIMIT);
    }

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
    assert_eq!(received, TOTAL, "messages lost");
    let snap = q.snapshot();
    assert_eq!(snap.len, 0);
    assert_eq!(snap.skipped_dead_producers + snap.dropped_dead_consumers, 0);
}
