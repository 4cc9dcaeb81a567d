//! Pooled queues: elements of 64 KiB or more live in a buffer pool behind the ring
//! (docs/FORMAT.md, "Pooled queues"). Every way in and out round-trips; a consumer that
//! keeps up gets every message through one buffer (seen through the zero-copy guards'
//! addresses); a process that dies holding a buffer, as a producer or as a consumer,
//! gives it back; C programs use the same pool; hostile owner and index words cause
//! neither a panic nor a hang.

mod common;

use std::time::{Duration, Instant};

use common::{PoolFrame as Frame, frame_pattern};
use proptest::prelude::*;
use shmkit::zerocopy::{FromBytes, IntoBytes};
use shmkit::{GetError, Queue, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// 8 KiB: below the threshold, kept in the slots as before.
#[shmkit::shareable(name = "pool-small")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Small {
    seq: u64,
    bytes: [u8; 8184],
}

/// A frame on the heap (a `Frame` is 64 KiB: not for the test threads' stacks).
fn frame(seq: u64) -> Box<Frame> {
    let mut words = vec![0u64; std::mem::size_of::<Frame>() / 8];
    let f = Frame::mut_from_bytes(words.as_mut_bytes()).unwrap();
    f.seq = seq;
    f.bytes.fill(frame_pattern(seq));
    Box::new(*f)
}

fn check(f: &Frame, seq: u64) {
    assert_eq!(f.seq, seq);
    assert!(
        f.bytes.iter().all(|&b| b == frame_pattern(seq)),
        "frame {seq}"
    );
}

#[test]
fn large_elements_are_pooled_small_ones_are_not() {
    let big = Queue::<Frame>::create(&common::unique_name("pool-big"), 3).unwrap();
    let info = big.segment().info();
    assert_eq!(info.params[..2], [64, 8], "one cache line per slot");
    assert_eq!(
        info.params[3], 65600,
        "buffer stride: owner word, element, to 64"
    );
    let small = Queue::<Small>::create(&common::unique_name("pool-small"), 3).unwrap();
    assert_eq!(small.segment().info().params[3], 0);
}

#[test]
fn every_form_round_trips_across_laps() {
    let q = Queue::<Frame>::create(&common::unique_name("pool-forms"), 3).unwrap();
    let mut seq = 0;
    for _lap in 0..4 {
        // put / get, up to full.
        for k in 0..3 {
            q.put(*frame(seq + k)).unwrap();
        }
        assert!(q.try_put(*frame(99)).is_err(), "full at capacity");
        for k in 0..3 {
            check(&q.get().unwrap(), seq + k);
        }
        seq += 3;
        // put_ref / get_into.
        let mut out = frame(0);
        q.put_ref(&frame(seq)).unwrap();
        q.get_into(&mut out).unwrap();
        check(&out, seq);
        seq += 1;
        // put_many / get_many.
        let batch: Vec<Frame> = (0..3).map(|k| *frame(seq + k)).collect();
        q.put_many(&batch).unwrap();
        let mut outs: Vec<Frame> = (0..3).map(|_| *frame(0)).collect();
        assert_eq!(q.get_many(&mut outs).unwrap(), 3);
        for (k, f) in outs.iter().enumerate() {
            check(f, seq + k as u64);
        }
        seq += 3;
        // reserve / commit, get_ref; and an aborted reservation gives its buffer back.
        let mut slot = q.reserve().unwrap();
        slot.seq = seq;
        slot.bytes.fill(frame_pattern(seq));
        slot.commit();
        q.reserve().unwrap().abort();
        check(&q.get_ref().unwrap(), seq);
        seq += 1;
        assert_eq!(q.try_get().err(), Some(GetError::Empty));
    }
    let snap = q.snapshot();
    assert_eq!((snap.len, snap.writing, snap.reading), (0, 0, 0));
}

#[test]
fn a_consumer_that_keeps_up_gets_every_message_through_one_buffer() {
    let q = Queue::<Frame>::create(&common::unique_name("pool-hot"), 4).unwrap();
    let mut seen = Vec::new();
    for seq in 0..20 {
        let mut slot = q.reserve().unwrap();
        slot.seq = seq;
        let at = &*slot as *const Frame as usize;
        slot.commit();
        let g = q.get_ref().unwrap();
        assert_eq!((g.seq, &*g as *const Frame as usize), (seq, at));
        seen.push(at);
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "one buffer, again and again");
    // Two messages in the queue at once need two buffers.
    let a = q.reserve().unwrap();
    let b = q.reserve().unwrap();
    assert_ne!(&*a as *const Frame, &*b as *const Frame);
    a.commit();
    b.commit();
}

/// Child: produces `n` frames by value into the queue.
fn produce(child: &common::ChildRole) {
    let q = Queue::<Frame>::open(child.arg(0)).unwrap();
    let n: u64 = child.arg_parse(1);
    for seq in 0..n {
        q.put_ref(&frame(seq)).unwrap();
    }
}

#[test]
fn frames_cross_processes_intact() {
    const TEST: &str = "frames_cross_processes_intact";
    if let Some(child) = common::child_role() {
        return produce(&child);
    }
    let name = common::unique_name("pool-xproc");
    let q = Queue::<Frame>::create(&name, 4).unwrap();
    let n = 500u64;
    let kid = common::spawn_child(TEST, "producer", &[&name, &n.to_string()]);
    let mut out = frame(0);
    for seq in 0..n {
        q.get_into_timeout(&mut out, LIMIT).unwrap();
        check(&out, seq);
    }
    common::wait_ok(kid, LIMIT);
    assert_eq!(q.try_get().err(), Some(GetError::Empty));
}

/// Child: holds a buffer (a producer's claim made as a put's, or a message taken in
/// place), raises the flag, and waits to be killed.
fn hold_then_hang(child: &common::ChildRole) {
    let q = Queue::<Frame>::open(child.arg(0)).unwrap();
    let flag = Value::<u32>::open(child.arg(1)).unwrap();
    let guard = if child.arg(2) == "consumer" {
        Some(q.get_ref().unwrap())
    } else {
        assert!(q.abandon_claim_for_tests(false));
        None
    };
    flag.atomic_store(1);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let _ = &guard;
    }
}

/// Fills the queue to capacity and drains it, `laps` times: with a buffer lost, the
/// last put of a lap could never find one.
fn fill_and_drain(q: &Queue<Frame>, laps: u64, mut seq: u64) {
    let cap = q.capacity() as u64;
    for _ in 0..laps {
        for k in 0..cap {
            q.put_ref_timeout(&frame(seq + k), Duration::from_secs(5))
                .unwrap();
        }
        for k in 0..cap {
            check(&q.get_timeout(LIMIT).unwrap(), seq + k);
        }
        seq += cap;
    }
}

fn killed_holder_gives_its_buffer_back(test: &str, role: &str) {
    if let Some(child) = common::child_role() {
        return hold_then_hang(&child);
    }
    let name = common::unique_name("pool-crash");
    let flag_name = common::unique_name("pool-crash-flag");
    let q = Queue::<Frame>::create(&name, 2).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    if role == "consumer" {
        q.put_ref(&frame(1000)).unwrap();
    }
    let mut kid = common::spawn_child(test, "holder", &[&name, &flag_name, role]);
    common::wait_until(LIMIT, "the child to hold a buffer", || {
        flag.atomic_load() == 1
    });
    common::kill9(&mut kid);
    if role == "producer" {
        // A consumer steps over a dead producer's slot (the ring's rule): until one
        // reaches it, it stands in the way of the next lap's put.
        q.put_ref(&frame(500)).unwrap();
        check(&q.get_timeout(LIMIT).unwrap(), 500);
    }
    fill_and_drain(&q, 5, 0);
    let snap = q.snapshot();
    assert_eq!(snap.skipped_dead_producers, u64::from(role == "producer"));
    assert_eq!(snap.dropped_dead_consumers, u64::from(role == "consumer"));
}

#[test]
fn a_producer_killed_holding_a_buffer_gives_it_back() {
    killed_holder_gives_its_buffer_back(
        "a_producer_killed_holding_a_buffer_gives_it_back",
        "producer",
    );
}

#[test]
fn a_consumer_killed_reading_in_place_gives_its_buffer_back() {
    killed_holder_gives_its_buffer_back(
        "a_consumer_killed_reading_in_place_gives_its_buffer_back",
        "consumer",
    );
}

/// Where a `Queue<Frame>`'s data starts (docs/FORMAT.md): the 256-byte header, the
/// 320-byte control block, then the data area at a multiple of 64: ring slots of 64
/// bytes, then the buffers of `STRIDE` bytes, each starting with its owner word.
const DATA: u64 = 576;
const STRIDE: u64 = 65600;

fn exercise(q: &Queue<Frame>) {
    let t = Duration::from_millis(3);
    let start = Instant::now();
    let _ = q.try_put(*frame(1));
    let _ = q.put_ref_timeout(&frame(2), t);
    let mut out = frame(0);
    let _ = q.get_into_timeout(&mut out, t);
    let _ = q.try_get();
    if let Ok(mut slot) = q.try_reserve() {
        slot.seq = 3;
        slot.commit();
    }
    if let Ok(slot) = q.reserve_timeout(t) {
        slot.abort();
    }
    if let Ok(g) = q.try_get_ref() {
        let _ = g.seq;
    }
    let _ = q.get_ref_timeout(t).map(|g| g.seq);
    assert!(q.len() <= q.capacity());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "operations took {:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random slot index words and owner words (and stamps), before and after some
    /// messages: no panic, no hang, every index in bounds.
    #[test]
    fn hostile_owner_and_index_words_are_harmless(
        cap in 1usize..5,
        slots in proptest::collection::vec(any::<u8>(), 64 * 4),
        owners in proptest::collection::vec(
            prop_oneof![Just(0u64), Just(1u64 << 32 | 1), any::<u64>()], 4),
        messages in 0u64..4,
    ) {
        let name = common::unique_name("pool-hostile");
        let q = Queue::<Frame>::create(&name, cap).unwrap();
        for seq in 0..messages.min(cap as u64) {
            q.put_ref(&frame(seq)).unwrap();
        }
        common::scribble(&name, DATA, &slots[..64 * cap]);
        for (b, w) in owners[..cap].iter().enumerate() {
            common::scribble(&name, DATA + 64 * cap as u64 + STRIDE * b as u64, &w.to_ne_bytes());
        }
        exercise(&q);
        // Only the index words (offset 8 of each slot), this time with the stamps kept.
        let name2 = common::unique_name("pool-hostile-idx");
        let q2 = Queue::<Frame>::create(&name2, cap).unwrap();
        for seq in 0..messages.min(cap as u64) {
            q2.put_ref(&frame(seq)).unwrap();
        }
        for i in 0..cap {
            common::scribble(&name2, DATA + 64 * i as u64 + 8, &slots[4 * i..4 * i + 4]);
        }
        exercise(&q2);
    }
}
