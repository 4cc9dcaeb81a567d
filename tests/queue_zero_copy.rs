//! Zero-copy on `Queue<T>`: messages written in place (`reserve` → `commit`) and read in
//! place (`get_ref`), across processes; aborted reservations; the try/timeout forms;
//! megabyte messages that never travel through the stack; and the crash contract for
//! a process SIGKILLed while holding either guard.

mod common;

use std::time::{Duration, Instant};

use shmkit::zerocopy::{FromBytes, IntoBytes};
use shmkit::{GetError, JoinableQueue, PutError, Queue, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// 64 KiB: big enough that a copy through the stack would show, small enough for a
/// quick test.
#[shmkit::shareable(name = "zc-frame")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Frame {
    seq: u64,
    fill: u64,
    bytes: [u8; 65520],
}

/// 1 MiB.
#[shmkit::shareable(name = "zc-mib")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Mib {
    seq: u64,
    bytes: [u8; (1 << 20) - 8],
}

/// Zeroed heap memory for one `Mib`, 8-aligned, without a `Mib` ever on the stack.
fn heap_mib() -> Vec<u64> {
    vec![0u64; std::mem::size_of::<Mib>() / 8]
}

fn pattern(seq: u64) -> u8 {
    (seq.wrapping_mul(31) % 251) as u8
}

/// Child: produces `n` frames through reserve/commit, every byte written in place.
fn produce_in_place(child: &common::ChildRole) {
    let q = Queue::<Frame>::open(child.arg(0)).unwrap();
    let n: u64 = child.arg_parse(1);
    for seq in 0..n {
        let mut slot = q.reserve().unwrap();
        slot.seq = seq;
        slot.fill = u64::from(pattern(seq));
        slot.bytes.fill(pattern(seq));
        slot.commit();
    }
}

#[test]
fn frames_written_in_place_are_read_in_place_in_another_process() {
    const TEST: &str = "frames_written_in_place_are_read_in_place_in_another_process";
    if let Some(child) = common::child_role() {
        return produce_in_place(&child);
    }
    let name = common::unique_name("zc-frames");
    let q = Queue::<Frame>::create(&name, 4).unwrap();
    let n = 300u64;
    let kid = common::spawn_child(TEST, "producer", &[&name, &n.to_string()]);
    for seq in 0..n {
        let frame = q.get_ref_timeout(LIMIT).unwrap();
        assert_eq!(frame.seq, seq);
        assert_eq!(frame.fill, u64::from(pattern(seq)));
        assert!(
            frame.bytes.iter().all(|&b| b == pattern(seq)),
            "frame {seq}"
        );
    }
    common::wait_ok(kid, LIMIT);
    assert_eq!(q.try_get_ref().err(), Some(GetError::Empty));
    assert_eq!(q.snapshot().reading, 0);
}

/// Child: takes `n` frames by copy (`get_into`) and sends their sequence numbers back
/// through a second queue, so the parent checks order and content.
fn consume_by_copy(child: &common::ChildRole) {
    let q = Queue::<Frame>::open(child.arg(0)).unwrap();
    let acks = Queue::<u64>::open(child.arg(1)).unwrap();
    let n: u64 = child.arg_parse(2);
    let mut frame = Box::new(Frame {
        seq: 0,
        fill: 0,
        bytes: [0; 65520],
    });
    for _ in 0..n {
        q.get_into(&mut frame).unwrap();
        let ok = frame.bytes.iter().all(|&b| b == pattern(frame.seq));
        acks.put(if ok { frame.seq } else { u64::MAX }).unwrap();
    }
}

#[test]
fn put_ref_and_get_into_copy_frames_between_processes() {
    const TEST: &str = "put_ref_and_get_into_copy_frames_between_processes";
    if let Some(child) = common::child_role() {
        return consume_by_copy(&child);
    }
    let name = common::unique_name("zc-copy");
    let acks_name = common::unique_name("zc-copy-acks");
    let q = Queue::<Frame>::create(&name, 3).unwrap();
    let acks = Queue::<u64>::create(&acks_name, 512).unwrap();
    let n = 300u64;
    let kid = common::spawn_child(TEST, "consumer", &[&name, &acks_name, &n.to_string()]);
    let mut frame = Box::new(Frame {
        seq: 0,
        fill: 0,
        bytes: [0; 65520],
    });
    for seq in 0..n {
        frame.seq = seq;
        frame.bytes.fill(pattern(seq));
        q.put_ref_timeout(&frame, LIMIT).unwrap();
    }
    for seq in 0..n {
        assert_eq!(acks.get_timeout(LIMIT), Ok(seq));
    }
    common::wait_ok(kid, LIMIT);
}

#[test]
fn megabyte_messages_never_travel_through_the_stack() {
    let name = common::unique_name("zc-mib");
    let q = Queue::<Mib>::create(&name, 2).unwrap();
    // A 64 KiB stack: any 1 MiB `Mib` by value on it would overflow (and abort).
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut src = heap_mib();
            let boxed = Mib::mut_from_bytes(src.as_mut_bytes()).unwrap();
            boxed.seq = 1;
            boxed.bytes[(1 << 20) - 9] = 9;
            q.put_ref(boxed).unwrap();
            let mut slot = q.reserve().unwrap();
            slot.seq = 2;
            slot.bytes[0] = 2;
            slot.commit();
            let mut dst = heap_mib();
            let out = Mib::mut_from_bytes(dst.as_mut_bytes()).unwrap();
            q.get_into(out).unwrap();
            assert_eq!((out.seq, out.bytes[(1 << 20) - 9]), (1, 9));
            let g = q.get_ref().unwrap();
            assert_eq!((g.seq, g.bytes[0]), (2, 2));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_dropped_reservation_is_aborted_and_never_delivered() {
    let name = common::unique_name("zc-abort");
    let q = Queue::<u64>::create(&name, 2).unwrap();
    {
        let mut slot = q.reserve().unwrap();
        *slot = 7;
        // Dropped without commit.
    }
    q.try_reserve().unwrap().abort();
    assert_eq!(q.try_get_ref().err(), Some(GetError::Empty));
    assert!(q.is_empty());
    // A panic while filling a slot aborts it too.
    let q = std::sync::Arc::new(q);
    let q2 = q.clone();
    let panicked = std::thread::spawn(move || {
        let mut slot = q2.reserve().unwrap();
        *slot = 8;
        panic!("the code filling the slot failed");
    })
    .join();
    assert!(panicked.is_err());
    assert_eq!(q.try_get(), Err(GetError::Empty));
    // The ring goes on across laps; skipped slots are not counted as dead producers.
    for i in 0..10u64 {
        let mut slot = q.reserve().unwrap();
        *slot = i;
        slot.commit();
        assert_eq!(*q.get_ref().unwrap(), i);
    }
    assert_eq!(q.snapshot().skipped_dead_producers, 0);
}

#[test]
fn joinable_counts_a_reservation_once_committed_and_not_when_aborted() {
    let name = common::unique_name("zc-joinable");
    let q = JoinableQueue::<u64>::create(&name, 4).unwrap();
    let slot = q.reserve().unwrap();
    assert_eq!(q.unfinished(), 1);
    drop(slot);
    assert_eq!(q.unfinished(), 0);
    let mut slot = q.reserve().unwrap();
    *slot = 3;
    slot.commit();
    assert_eq!(*q.get_ref().unwrap(), 3);
    assert_eq!(q.unfinished(), 1);
    q.task_done().unwrap();
    q.join_timeout(LIMIT).unwrap();
}

#[test]
fn try_and_timeout_forms_and_close() {
    let name = common::unique_name("zc-forms");
    let q = Queue::<u64>::create(&name, 2).unwrap();
    let d = Duration::from_millis(20);
    // Empty: no message to take.
    assert_eq!(q.try_get_ref().err(), Some(GetError::Empty));
    let t = Instant::now();
    assert_eq!(q.get_ref_timeout(d).err(), Some(GetError::Timeout(d)));
    assert!(t.elapsed() >= d);
    let mut out = 0;
    assert_eq!(q.try_get_into(&mut out), Err(GetError::Empty));
    assert_eq!(q.get_into_timeout(&mut out, d), Err(GetError::Timeout(d)));
    // Full: no slot to reserve, no room for put_ref.
    q.put_ref(&1).unwrap();
    q.try_put_ref(&2).unwrap();
    assert_eq!(q.try_reserve().err(), Some(PutError::Full(())));
    let t = Instant::now();
    assert_eq!(q.reserve_timeout(d).err(), Some(PutError::Timeout((), d)));
    assert!(t.elapsed() >= d);
    assert_eq!(q.try_put_ref(&3), Err(PutError::Full(())));
    assert_eq!(q.put_ref_timeout(&3, d), Err(PutError::Timeout((), d)));
    // A read guard holds its slot: the queue stays full until it is dropped.
    let g = q.try_get_ref().unwrap();
    assert_eq!(*g, 1);
    assert_eq!(q.snapshot().reading, 1);
    assert_eq!(q.try_reserve().err(), Some(PutError::Full(())));
    drop(g);
    let mut slot = q.reserve_timeout(d).unwrap();
    *slot = 3;
    assert_eq!(q.snapshot().writing, 1);
    slot.commit();
    // Close: reservations fail, gets drain, then report Closed.
    q.close();
    assert_eq!(q.try_reserve().err(), Some(PutError::Closed(())));
    assert_eq!(q.reserve().err(), Some(PutError::Closed(())));
    assert_eq!(q.put_ref(&4), Err(PutError::Closed(())));
    assert_eq!(*q.get_ref().unwrap(), 2);
    q.get_into(&mut out).unwrap();
    assert_eq!(out, 3);
    assert_eq!(q.try_get_ref().err(), Some(GetError::Closed));
    assert_eq!(q.get_ref().err(), Some(GetError::Closed));
    assert_eq!(q.get_into(&mut out), Err(GetError::Closed));
}

#[test]
fn a_consumer_sleeping_on_a_reservation_wakes_when_it_is_committed() {
    let name = common::unique_name("zc-wake");
    let q = Queue::<u64>::create(&name, 2)
        .unwrap()
        .with_wait_policy(shmkit::WaitPolicy::sleep());
    let slot = q.reserve().unwrap();
    std::thread::scope(|s| {
        let c = s.spawn(|| *q.get_ref_timeout(LIMIT).unwrap());
        let mut slot = slot;
        std::thread::sleep(Duration::from_millis(10));
        *slot = 42;
        slot.commit();
        assert_eq!(c.join().unwrap(), 42);
    });
}

/// Child: holds a reservation (`producer`) or a read guard (`consumer`), raises the
/// flag, and waits to be killed.
fn hold_then_hang(child: &common::ChildRole) {
    let q = Queue::<u64>::open(child.arg(0)).unwrap();
    let flag = Value::<u32>::open(child.arg(1)).unwrap();
    if child.arg(2) == "producer" {
        let mut slot = q.reserve().unwrap();
        *slot = 666;
        flag.atomic_store(1);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    } else {
        let g = q.get_ref().unwrap();
        assert_eq!(*g, 1);
        flag.atomic_store(1);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

#[test]
fn a_producer_killed_holding_a_reservation_is_skipped() {
    const TEST: &str = "a_producer_killed_holding_a_reservation_is_skipped";
    if let Some(child) = common::child_role() {
        return hold_then_hang(&child);
    }
    let name = common::unique_name("zc-kill-p");
    let flag_name = common::unique_name("zc-kill-p-flag");
    let q = Queue::<u64>::create(&name, 4).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    let mut kid = common::spawn_child(TEST, "holder", &[&name, &flag_name, "producer"]);
    common::wait_until(LIMIT, "the child to reserve", || flag.atomic_load() == 1);
    q.put(2).unwrap();
    // Its holder is alive: the consumer waits behind the reservation (FIFO).
    let d = Duration::from_millis(30);
    assert_eq!(q.get_ref_timeout(d).err(), Some(GetError::Timeout(d)));
    assert_eq!(q.snapshot().writing, 1);
    common::kill9(&mut kid);
    // Dead: its slot is skipped, the uncommitted 666 is never delivered.
    assert_eq!(*q.get_ref_timeout(LIMIT).unwrap(), 2);
    let snap = q.snapshot();
    assert_eq!((snap.skipped_dead_producers, snap.len), (1, 0));
    for i in 0..10 {
        let mut slot = q.reserve().unwrap();
        *slot = i;
        slot.commit();
        assert_eq!(q.get().unwrap(), i);
    }
}

#[test]
fn a_consumer_killed_holding_a_read_guard_frees_its_slot() {
    const TEST: &str = "a_consumer_killed_holding_a_read_guard_frees_its_slot";
    if let Some(child) = common::child_role() {
        return hold_then_hang(&child);
    }
    let name = common::unique_name("zc-kill-c");
    let flag_name = common::unique_name("zc-kill-c-flag");
    let q = Queue::<u64>::create(&name, 2).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    q.put(1).unwrap();
    let mut kid = common::spawn_child(TEST, "holder", &[&name, &flag_name, "consumer"]);
    common::wait_until(LIMIT, "the child to take a message", || {
        flag.atomic_load() == 1
    });
    q.put(2).unwrap();
    // The ring is full up to the slot the live child reads: a reservation waits.
    let d = Duration::from_millis(30);
    assert_eq!(q.reserve_timeout(d).err(), Some(PutError::Timeout((), d)));
    assert_eq!(q.snapshot().reading, 1);
    common::kill9(&mut kid);
    // Dead: the producer frees its slot; message 1 is lost with the child.
    let mut slot = q.reserve_timeout(LIMIT).unwrap();
    *slot = 3;
    slot.commit();
    assert_eq!(q.get().unwrap(), 2);
    assert_eq!(q.get().unwrap(), 3);
    let snap = q.snapshot();
    assert_eq!((snap.dropped_dead_consumers, snap.len), (1, 0));
}

#[test]
fn nothing_is_left_in_dev_shm() {
    // The other tests clean up as they go; this one checks names of its own.
    let name = common::unique_name("zc-left");
    {
        let q = Queue::<u64>::create(&name, 1).unwrap();
        let _slot = q.reserve().unwrap();
    }
    assert!(
        !common::leftovers().contains(&format!("shmkit.{name}")),
        "{:?}",
        common::leftovers()
    );
}
