//! Loom models of the ring's put/get, wake-up, close, join and crash-repair protocols,
//! on heap memory through the atomics shim in `primitive.rs`.
//!
//! Run (about a minute in release mode):
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom cargo test --release --lib queue::loom
//! ```
//! Waits are untimed under loom, so a lost wake-up shows up as a deadlock; slot values
//! live in loom `UnsafeCell`s, so two processes touching one slot at once shows up as a
//! data race.

use std::ptr::NonNull;
use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use super::primitive::{AtomicU64, loom_pid};
use super::ring::{Control, Ring, Slots, TryGet, TryPut, Waited};

struct HeapSlots {
    stamps: Vec<AtomicU64>,
    values: Vec<UnsafeCell<u64>>,
}

// SAFETY: values are only touched by the holder of their slot (the protocol under
// test); loom's UnsafeCell reports any concurrent access.
unsafe impl Sync for HeapSlots {}

impl Slots for HeapSlots {
    type Item = u64;
    type Out = u64;

    fn stamp(&self, idx: usize) -> &AtomicU64 {
        &self.stamps[idx]
    }

    unsafe fn write(&self, idx: usize, v: &u64) {
        // SAFETY: the caller holds the slot; loom checks that claim for races.
        self.values[idx].with_mut(|p| unsafe { *p = *v });
    }

    unsafe fn read(&self, idx: usize, out: &mut u64) {
        // SAFETY: as in `write`.
        *out = self.values[idx].with(|p| unsafe { *p });
    }
}

struct Model {
    // The ring points into `_ctl`'s box, which never moves; the ring is dropped first.
    ring: Ring<HeapSlots>,
    _ctl: Box<Control>,
}

// SAFETY: Model is only shared to call the ring's `&self` methods, which are Sync.
unsafe impl Sync for Model {}
// SAFETY: as above.
unsafe impl Send for Model {}

fn model(cap: usize, joinable: bool) -> Arc<Model> {
    let ctl = Box::new(Control::new());
    let slots = HeapSlots {
        stamps: (0..cap).map(|_| AtomicU64::new(0)).collect(),
        values: (0..cap).map(|_| UnsafeCell::new(0)).collect(),
    };
    let ptr = NonNull::from(&*ctl);
    // SAFETY: the control block is boxed and lives as long as the Model; `slots` has
    // `cap` slots.
    let ring = unsafe { Ring::new(ptr, slots, cap as u64, joinable) };
    Arc::new(Model { ring, _ctl: ctl })
}

fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

const NO_SPIN: Duration = Duration::ZERO;

fn put(m: &Model, v: u64) {
    assert_eq!(m.ring.put(&v, NO_SPIN, None), Waited::Done(()));
}

fn get(m: &Model) -> u64 {
    match blocking_get(m) {
        Waited::Done(v) => v,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn blocking_get(m: &Model) -> Waited<u64> {
    let mut v = 0;
    match m.ring.get(NO_SPIN, None, &mut v) {
        Waited::Done(()) => Waited::Done(v),
        Waited::Closed => Waited::Closed,
        Waited::Timeout => Waited::Timeout,
    }
}

/// A non-blocking get: the message, or `None` when empty.
fn try_get(m: &Model) -> Option<u64> {
    let mut v = 0;
    (m.ring.try_get(&mut v) == TryGet::Done).then_some(v)
}

/// One producer, one consumer, a ring smaller than the stream: order, no loss, and both
/// sides' sleeps (empty and full) are woken.
#[test]
fn spsc_blocking_fifo_through_a_small_ring() {
    check(|| {
        let m = model(1, false);
        let p = {
            let m = m.clone();
            thread::spawn(move || {
                put(&m, 1);
                put(&m, 2);
            })
        };
        assert_eq!(get(&m), 1);
        assert_eq!(get(&m), 2);
        p.join().unwrap();
        assert_eq!(m.ring.len(), 0);
    });
}

/// Two producers race for the slots; the consumer sees each message exactly once.
#[test]
fn two_producers_one_consumer_exactly_once() {
    check(|| {
        let m = model(2, false);
        let ps: Vec<_> = [10u64, 20]
            .into_iter()
            .map(|v| {
                let m = m.clone();
                thread::spawn(move || put(&m, v))
            })
            .collect();
        let mut got = [get(&m), get(&m)];
        got.sort();
        assert_eq!(got, [10, 20]);
        for p in ps {
            p.join().unwrap();
        }
    });
}

/// Two consumers race for two messages: each message to exactly one consumer.
#[test]
fn one_producer_two_consumers_exactly_once() {
    check(|| {
        let m = model(2, false);
        let cs: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || get(&m))
            })
            .collect();
        put(&m, 1);
        put(&m, 2);
        let mut got: Vec<u64> = cs.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

/// Non-blocking forms: a try_get racing a try_put either sees the message or Empty,
/// and a message is never seen twice or lost.
#[test]
fn try_put_try_get_race() {
    check(|| {
        let m = model(1, false);
        let p = {
            let m = m.clone();
            thread::spawn(move || m.ring.try_put(&7))
        };
        let first = try_get(&m);
        let put = p.join().unwrap();
        assert_eq!(put, TryPut::Done);
        let second = try_get(&m);
        let seen = [first, second].iter().filter(|r| **r == Some(7)).count();
        assert_eq!(seen, 1, "{first:?} then {second:?}");
    });
}

/// close wakes a consumer asleep on an empty queue, which then reports Closed.
#[test]
fn close_wakes_a_sleeping_consumer() {
    check(|| {
        let m = model(1, false);
        let c = {
            let m = m.clone();
            thread::spawn(move || blocking_get(&m))
        };
        m.ring.close();
        assert_eq!(c.join().unwrap(), Waited::Closed);
    });
}

/// A message put before close is still delivered after it.
#[test]
fn close_after_put_still_delivers() {
    check(|| {
        let m = model(1, false);
        let c = {
            let m = m.clone();
            thread::spawn(move || blocking_get(&m))
        };
        put(&m, 3);
        m.ring.close();
        assert_eq!(c.join().unwrap(), Waited::Done(3));
    });
}

/// A producer that claimed a slot and died is skipped; the next message still arrives.
#[test]
fn dead_producer_slot_is_skipped() {
    check(|| {
        let m = model(2, false);
        let dying = {
            let m = m.clone();
            thread::spawn(move || {
                loom_pid::set(2);
                assert!(m.ring.claim_and_abandon(false));
                loom_pid::kill(2);
            })
        };
        dying.join().unwrap();
        let p = {
            let m = m.clone();
            thread::spawn(move || put(&m, 5))
        };
        assert_eq!(get(&m), 5);
        p.join().unwrap();
        let ctl = m.ring.ctl();
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(ctl.skipped_dead_producers.load(Relaxed), 1);
    });
}

/// A consumer that claimed a slot and died frees it for a blocked producer.
#[test]
fn dead_consumer_slot_is_freed_for_producers() {
    check(|| {
        let m = model(1, false);
        put(&m, 1);
        let dying = {
            let m = m.clone();
            thread::spawn(move || {
                loom_pid::set(3);
                assert!(m.ring.claim_and_abandon(true));
                loom_pid::kill(3);
            })
        };
        dying.join().unwrap();
        let c = {
            let m = m.clone();
            thread::spawn(move || get(&m))
        };
        put(&m, 2);
        assert_eq!(c.join().unwrap(), 2);
        let ctl = m.ring.ctl();
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(ctl.dropped_dead_consumers.load(Relaxed), 1);
    });
}

/// join returns only after every message put was marked done, and is woken by the
/// last task_done.
#[test]
fn join_waits_for_the_last_task_done() {
    check(|| {
        let m = model(2, true);
        put(&m, 1);
        put(&m, 2);
        let w = {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    get(&m);
                    m.ring.task_done().unwrap();
                }
            })
        };
        assert_eq!(m.ring.join(None), Waited::Done(()));
        assert_eq!(m.ring.unfinished(), 0);
        assert!(m.ring.task_done().is_err());
        w.join().unwrap();
    });
}

// ---- Zero-copy: slots held across calls (reserve/commit/abort, take/release) ----------

fn reserve_write_commit(m: &Model, v: u64) {
    let c = match m.ring.reserve(NO_SPIN, None) {
        Waited::Done(c) => c,
        other => panic!("expected a reservation, got {other:?}"),
    };
    // SAFETY: the reservation holds the slot (what the model checks).
    unsafe { m.ring.slots().write(c.idx, &v) };
    assert!(m.ring.commit(c));
    assert!(!m.ring.commit(c), "a claim ends once");
}

/// A reservation written in place and committed wakes a consumer asleep on the empty
/// queue, which reads what was written (no race on the slot).
#[test]
fn committed_reservation_reaches_a_sleeping_consumer() {
    check(|| {
        let m = model(1, false);
        let p = {
            let m = m.clone();
            thread::spawn(move || {
                reserve_write_commit(&m, 4);
                reserve_write_commit(&m, 5);
            })
        };
        assert_eq!(get(&m), 4);
        assert_eq!(get(&m), 5);
        p.join().unwrap();
    });
}

/// A reservation aborted while another producer puts and a consumer waits: the consumer
/// steps over the skipped slot and gets the other message, whichever order the two
/// producers claimed in; the ring then still works across the lap.
#[test]
fn aborted_reservation_is_skipped_by_a_waiting_consumer() {
    check(|| {
        let m = model(2, false);
        let aborter = {
            let m = m.clone();
            thread::spawn(move || {
                let c = match m.ring.reserve(NO_SPIN, None) {
                    Waited::Done(c) => c,
                    other => panic!("expected a reservation, got {other:?}"),
                };
                assert!(m.ring.abort(c));
                assert!(!m.ring.commit(c), "an aborted claim cannot be committed");
            })
        };
        let p = {
            let m = m.clone();
            thread::spawn(move || put(&m, 9))
        };
        assert_eq!(get(&m), 9);
        aborter.join().unwrap();
        p.join().unwrap();
        put(&m, 10);
        assert_eq!(try_get(&m), Some(10));
        assert_eq!(m.ring.len(), 0);
    });
}

/// A message taken to be read in place keeps its slot from the producers until it is
/// released: a producer blocked on the full ring is woken by the release and its write
/// never overlaps the read (loom's cell tracking would report it).
#[test]
fn read_guard_holds_its_slot_until_released() {
    check(|| {
        let m = model(1, false);
        put(&m, 1);
        let c = match m.ring.take(NO_SPIN, None) {
            Waited::Done(c) => c,
            other => panic!("expected a message, got {other:?}"),
        };
        let p = {
            let m = m.clone();
            thread::spawn(move || put(&m, 2))
        };
        let mut v = 0;
        // SAFETY: the taken claim holds the slot (what the model checks).
        unsafe { m.ring.slots().read(c.idx, &mut v) };
        assert_eq!(v, 1);
        assert!(m.ring.release(c));
        assert!(!m.ring.release(c), "a claim ends once");
        assert_eq!(get(&m), 2);
        p.join().unwrap();
    });
}

/// A producer that died holding a reservation is skipped like one that died mid-put.
#[test]
fn dead_reservation_holder_is_skipped() {
    check(|| {
        let m = model(1, false);
        let dying = {
            let m = m.clone();
            thread::spawn(move || {
                loom_pid::set(4);
                assert!(m.ring.try_reserve().is_ok());
                loom_pid::kill(4);
            })
        };
        dying.join().unwrap();
        let p = {
            let m = m.clone();
            thread::spawn(move || put(&m, 6))
        };
        assert_eq!(get(&m), 6);
        p.join().unwrap();
    });
}
