//! Chaos: producers and consumers are SIGKILLed at random moments (mid-put, mid-get,
//! asleep, anywhere) and replaced, while the others keep going. Afterwards the queue
//! still works, nothing is duplicated or invented, and every acknowledged message was
//! received, except at most one per killed consumer (the one it held when it died).

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use shmkit::{GetError, Queue, Segment};

const TEST: &str = "random_sigkills_lose_nothing_acknowledged";
const LIMIT: Duration = Duration::from_secs(120);
/// Messages each producer puts unless killed first.
const QUOTA: u64 = 20_000;
const KILLS: usize = 120;
const LIVE_PRODUCERS: usize = 3;
const LIVE_CONSUMERS: usize = 3;
/// Producer ids (and so acknowledgement slots and bitmap rows) over the whole run.
const MAX_PRODUCERS: usize = LIVE_PRODUCERS + KILLS;
/// A consumer's record: duplicates seen, order violations seen, messages received,
/// then one bit per possible message.
const RECORD_HEADER: usize = 24;
const RECORD_LEN: usize = RECORD_HEADER + MAX_PRODUCERS * QUOTA as usize / 8;

/// A small deterministic generator (xorshift64*), seeded from the pid and the clock.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng((t ^ u64::from(std::process::id()) << 32) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Producer `id`: puts `(id << 32) | seq`, and after each put returns Ok records
/// `seq + 1` in its acknowledgement slot. Mixes put, put_timeout and small batches.
fn produce(q: &Queue<u64>, id: u64, acks: &Segment) {
    let mut rng = Rng::new();
    let mut seq = 0;
    while seq < QUOTA {
        match rng.below(3) {
            0 => q.put(id << 32 | seq).unwrap(),
            1 => {
                if q.put_timeout(id << 32 | seq, Duration::from_millis(5))
                    .is_err()
                {
                    continue;
                }
            }
            _ => {
                let n = (QUOTA - seq).min(1 + rng.below(4));
                let batch: Vec<u64> = (seq..seq + n).map(|s| id << 32 | s).collect();
                q.put_many(&batch).unwrap();
                seq += n;
                acks.write_at(id as usize * 8, &seq.to_ne_bytes()).unwrap();
                continue;
            }
        }
        seq += 1;
        acks.write_at(id as usize * 8, &seq.to_ne_bytes()).unwrap();
    }
}

/// A consumer: records every message it got in its bitmap (the bit first, then the
/// count), until the queue is closed and drained.
fn consume(q: &Queue<u64>, record: &Segment) {
    let mut rng = Rng::new();
    let mut last = vec![None::<u64>; MAX_PRODUCERS];
    let (mut received, mut duplicates, mut disorder) = (0u64, 0u64, 0u64);
    loop {
        let got = if rng.below(2) == 0 {
            q.get()
        } else {
            match q.get_timeout(Duration::from_millis(3)) {
                Err(GetError::Timeout(_)) => continue,
                other => other,
            }
        };
        let m = match got {
            Ok(m) => m,
            Err(GetError::Closed) => return,
            Err(e) => panic!("get: {e}"),
        };
        let (p, seq) = ((m >> 32) as usize, m & 0xffff_ffff);
        assert!(p < MAX_PRODUCERS && seq < QUOTA, "phantom {m:#x}");
        if last[p].is_some_and(|l| seq <= l) {
            disorder += 1;
            record.write_at(8, &disorder.to_ne_bytes()).unwrap();
        }
        last[p] = Some(seq);
        let bit = p * QUOTA as usize + seq as usize;
        let at = RECORD_HEADER + bit / 8;
        let mut byte = [0u8];
        record.read_at(at, &mut byte).unwrap();
        if byte[0] & (1 << (bit % 8)) != 0 {
            duplicates += 1;
            record.write_at(0, &duplicates.to_ne_bytes()).unwrap();
        }
        record.write_at(at, &[byte[0] | 1 << (bit % 8)]).unwrap();
        received += 1;
        record.write_at(16, &received.to_ne_bytes()).unwrap();
    }
}

fn read_u64(seg: &Segment, offset: usize) -> u64 {
    let mut b = [0u8; 8];
    seg.read_at(offset, &mut b).unwrap();
    u64::from_ne_bytes(b)
}

struct Consumer {
    child: Child,
    record: Segment,
}

#[test]
fn random_sigkills_lose_nothing_acknowledged() {
    if let Some(child) = common::child_role() {
        let q = Queue::<u64>::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "producer" => produce(
                &q,
                child.arg_parse(1),
                &Segment::open(child.arg(2)).unwrap(),
            ),
            _ => consume(&q, &Segment::open(child.arg(1)).unwrap()),
        }
        return;
    }
    let name = common::unique_name("q-chaos");
    let q = Queue::<u64>::create(&name, 16).unwrap();
    let acks_name = common::unique_name("q-chaos-acks");
    let acks = Segment::create(&acks_name, MAX_PRODUCERS * 8).unwrap();

    let mut next_producer = 0u64;
    let spawn_producer = |next: &mut u64| {
        let id = *next;
        *next += 1;
        (
            id,
            common::spawn_child(TEST, "producer", &[&name, &id.to_string(), &acks_name]),
        )
    };
    let spawn_consumer = || {
        let rn = common::unique_name("q-chaos-record");
        let record = Segment::create(&rn, RECORD_LEN).unwrap();
        Consumer {
            child: common::spawn_child(TEST, "consumer", &[&name, &rn]),
            record,
        }
    };

    let mut producers: Vec<(u64, Child)> = (0..LIVE_PRODUCERS)
        .map(|_| spawn_producer(&mut next_producer))
        .collect();
    let mut consumers: Vec<Consumer> = (0..LIVE_CONSUMERS).map(|_| spawn_consumer()).collect();
    let mut records: Vec<Segment> = Vec::new();
    let mut rng = Rng::new();
    let (mut killed_producers, mut killed_consumers) = (0u64, 0u64);

    let kills: usize = std::env::var("CHAOS_KILLS").map_or(KILLS, |v| v.parse().unwrap());
    for _ in 0..kills {
        // Pick a victim, let it get going (so the kill lands in its loop, not in its
        // start-up), let everyone run for a random moment, then SIGKILL it.
        let producer = rng.below(2) == 0;
        let i = rng.below(3) as usize;
        let progress = |consumers: &Vec<Consumer>| {
            if producer {
                read_u64(&acks, producers[i].0 as usize * 8)
            } else {
                read_u64(&consumers[i].record, 16)
            }
        };
        let start = progress(&consumers);
        let t = Instant::now();
        while progress(&consumers) == start && t.elapsed() < Duration::from_millis(20) {
            std::thread::sleep(Duration::from_micros(100));
        }
        std::thread::sleep(Duration::from_micros(rng.below(3_000)));
        if producer {
            common::kill9(&mut producers[i].1);
            killed_producers += 1;
            producers[i] = spawn_producer(&mut next_producer);
        } else {
            common::kill9(&mut consumers[i].child);
            killed_consumers += 1;
            let old = std::mem::replace(&mut consumers[i], spawn_consumer());
            records.push(old.record);
        }
    }

    // The survivors finish their quotas: the queue still works after all that.
    let t = Instant::now();
    for (_, p) in producers {
        common::wait_ok(p, LIMIT);
    }
    eprintln!("producers finished after {:?}", t.elapsed());
    // Everything acknowledged is in the queue or taken; let the consumers drain it
    // (bounded wait), then close so they stop.
    let start = Instant::now();
    while !q.is_empty() && start.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(1));
    }
    q.close();
    for c in consumers {
        common::wait_ok(c.child, LIMIT);
        records.push(c.record);
    }

    // No duplicates, no order violations, nothing acknowledged lost beyond one per
    // killed consumer (phantoms made the consumers fail their assertion above).
    let bits_len = RECORD_LEN - RECORD_HEADER;
    let mut union = vec![0u8; bits_len];
    let mut received = 0u64;
    for r in &records {
        assert_eq!(read_u64(r, 0), 0, "a consumer got a message twice");
        assert_eq!(
            read_u64(r, 8),
            0,
            "a consumer saw a producer's messages out of order"
        );
        let mut bits = vec![0u8; bits_len];
        r.read_at(RECORD_HEADER, &mut bits).unwrap();
        for (u, b) in union.iter_mut().zip(&bits) {
            assert_eq!(*u & b, 0, "a message went to two consumers");
            *u |= b;
        }
        received += bits.iter().map(|b| u64::from(b.count_ones())).sum::<u64>();
    }
    let mut missing = 0u64;
    for p in 0..next_producer as usize {
        let acked = read_u64(&acks, p * 8) as usize;
        for seq in 0..acked {
            let bit = p * QUOTA as usize + seq;
            if union[bit / 8] & (1 << (bit % 8)) == 0 {
                missing += 1;
            }
        }
    }
    let snap = q.snapshot();
    eprintln!(
        "chaos: killed {killed_producers} producers and {killed_consumers} consumers; \
         received {received} messages; {missing} acknowledged messages lost with killed \
         consumers; skipped {} dead-producer slots, freed {} dead-consumer slots, {} still \
         held by dead consumers",
        snap.skipped_dead_producers, snap.dropped_dead_consumers, snap.dead_consumer_slots
    );
    assert!(
        missing <= killed_consumers,
        "{missing} acknowledged messages lost, but only {killed_consumers} consumers were killed"
    );
    assert_eq!(snap.len, 0);
    assert_eq!(snap.writing + snap.reading, 0);
}
