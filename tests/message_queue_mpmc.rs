//! MessageQueue: 4 producer processes × 4 consumer processes × 50,000 sequenced
//! variable-length messages each: every message is received exactly once, intact, and
//! each consumer sees each producer's messages in the order they were put.

mod common;

use std::time::Duration;

use common::exactly_once::{Tally, check_exactly_once, result_segments};
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
    let mut tally = Tally::new(PRODUCERS, PER_PRODUCER);
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
        tally.record(p, seq);
    }
    tally.write_to(result);
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
    let results = result_segments("mq-mpmc-result", CONSUMERS, TOTAL);
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

    check_exactly_once(&results, TOTAL);
    let snap = q.snapshot();
    assert_eq!((snap.len, snap.bytes_used), (0, 0));
    assert_eq!((snap.puts, snap.gets, snap.repairs), (TOTAL, TOTAL, 0));
}
