//! MessageQueue: 4 producer processes × 4 consumer processes × 50,000 sequenced
//! variable-length messages each: every message is received exactly once, intact, and
//! each consumer sees each producer's messages in the order they were put.

mod common;

use std::time::Duration;

use shmkit::{Error, MessageQueue, Segment};

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 50_000;
const TOTAL: u64 = PRODUCERS * PER_PRODUCER;
const MAX_MESSAGE: usize = 200;
const LIMIT: Duration = Duration::from_secs(120);
const TEST: &str = "four_by_four_variable_length_messages_each_exactly_once_in_order";

/// Producer `p`'s message `seq`: 8 bytes of (p, seq), then 0 to 192 bytes of a pattern
/// derived from both, so a torn or misplaced message is caught.
fn message(p: u64, seq: u64) -> Vec<u8> {
    let tag = (p << 32) | seq;
    let extra = (seq.wrapping_mul(2_654_435_761) ^ p) % (MAX_MESSAGE as u64 - 7);
    let mut m = tag.to_le_bytes().to_vec();
    m.extend((0..extra).map(|i| (tag.wrapping_add(i) % 251) as u8));
    m
}

fn produce(q: &MessageQueue, p: u64) {
    for seq in 0..PER_PRODUCER {
        let m = message(p, seq);
        // Half the producers use the serde-free byte API with a timeout, half without.
        if p % 2 == 0 {
            q.put_bytes(&m).unwrap();
        } else {
            q.put_bytes_timeout(&m, LIMIT).unwrap();
        }
    }
}

/// Writes the disorder count, the duplicate count and a bitmap of what it received into
/// `result`.
fn consume(q: &MessageQueue, c: usize, result: &Segment) {
    let mut bits = vec![0u64; (TOTAL as usize).div_ceil(64)];
    let mut last = [None::<u64>; PRODUCERS as usize];
    let (mut disorder, mut duplicates) = (0u64, 0u64);
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        // Consumers 0 and 1 get Vecs, 2 and 3 get into a buffer.
        let got = if c < 2 {
            q.get_bytes().map(|v| {
                buf[..v.len()].copy_from_slice(&v);
                v.len()
            })
        } else {
            q.get_bytes_into(&mut buf)
        };
        let n = match got {
            Ok(n) => n,
            Err(Error::Closed) => break,
            Err(e) => panic!("get: {e}"),
        };
        let tag = u64::from_le_bytes(buf[..8].try_into().unwrap());
        let (p, seq) = (tag >> 32, tag & 0xffff_ffff);
        assert!(p < PRODUCERS && seq < PER_PRODUCER, "phantom {tag:#x}");
        assert_eq!(&buf[..n], &message(p, seq)[..], "message {p}/{seq} torn");
        if last[p as usize].is_some_and(|l| seq <= l) {
            disorder += 1;
        }
        last[p as usize] = Some(seq);
        let bit = p * PER_PRODUCER + seq;
        let (w, b) = ((bit / 64) as usize, bit % 64);
        if bits[w] & (1 << b) != 0 {
            duplicates += 1;
        }
        bits[w] |= 1 << b;
    }
    result.write_at(0, &disorder.to_ne_bytes()).unwrap();
    result.write_at(8, &duplicates.to_ne_bytes()).unwrap();
    let bytes: Vec<u8> = bits.iter().flat_map(|w| w.to_ne_bytes()).collect();
    result.write_at(16, &bytes).unwrap();
}

#[test]
fn four_by_four_variable_length_messages_each_exactly_once_in_order() {
    if let Some(child) = common::child_role() {
        let q = MessageQueue::open(child.arg(0)).unwrap();
        let n: usize = child.arg_parse(1);
        match child.role.as_str() {
            "producer" => produce(&q, n as u64),
            _ => consume(&q, n, &Segment::open(child.arg(2)).unwrap()),
        }
        return;
    }
    let name = common::unique_name("mq-mpmc");
    let q = MessageQueue::create(&name, 16 * 1024, MAX_MESSAGE).unwrap();
    let words = (TOTAL as usize).div_ceil(64);
    let results: Vec<(String, Segment)> = (0..CONSUMERS)
        .map(|c| {
            let n = common::unique_name(&format!("mq-mpmc-result{c}"));
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
        assert_eq!(disorder, 0, "consumer {c} saw a producer out of order");
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
    assert_eq!((snap.len, snap.bytes_used), (0, 0));
    assert_eq!((snap.puts, snap.gets, snap.repairs), (TOTAL, TOTAL, 0));
}
