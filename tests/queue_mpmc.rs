//! 4 producer processes × 4 consumer processes × 1,000,000 sequenced messages each:
//! every message is received exactly once, and each consumer sees each producer's
//! messages in the order they were put.

mod common;

use std::time::Duration;

use common::exactly_once::{Tally, check_exactly_once, result_segments};
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
    let mut tally = Tally::new(PRODUCERS, PER_PRODUCER);
    let mut record = |m: u64| tally.record(m >> 32, m & 0xffff_ffff);
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
    tally.write_to(result);
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
    let results = result_segments("q-mpmc-result", CONSUMERS, TOTAL);
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
    assert_eq!(snap.len, 0);
    assert_eq!(snap.skipped_dead_producers + snap.dropped_dead_consumers, 0);
}
