//! The segment is untrusted: random bytes written over a queue's control block and
//! slots (through the file, as another process could) never make an operation read or
//! write out of bounds, panic, or wait longer than its timeout.

mod common;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::Queue;

/// Where the control block and data start for a `Queue<u64>` (docs/FORMAT.md):
/// control at 256, 320 bytes; data at round_up(576, 64) = 576; 16-byte slots.
const CONTROL: u64 = 256;
const DATA: u64 = 576;

fn exercise(q: &Queue<u64>) {
    let t = Duration::from_millis(3);
    let limit = Duration::from_secs(2);
    let start = Instant::now();
    let _ = q.try_put(1);
    let _ = q.try_get();
    let _ = q.put_timeout(2, t);
    let _ = q.get_timeout(t);
    let _ = q.try_put_many(&[3, 4, 5]);
    let mut out = [0u64; 4];
    let _ = q.try_get_many(&mut out);
    let _ = q.get_many_timeout(&mut out, t);
    // Zero-copy: held slots over hostile stamps.
    if let Ok(mut slot) = q.try_reserve() {
        *slot = 6;
        slot.commit();
    }
    if let Ok(slot) = q.reserve_timeout(t) {
        slot.abort();
    }
    if let Ok(g) = q.try_get_ref() {
        let _ = *g;
    }
    let _ = q.get_ref_timeout(t).map(|g| *g);
    let _ = q.put_ref_timeout(&7, t);
    let mut one = 0;
    let _ = q.get_into_timeout(&mut one, t);
    assert!(q.len() <= q.capacity());
    let snap = q.snapshot();
    assert!(snap.len <= snap.capacity);
    assert!(
        start.elapsed() < limit,
        "operations took {:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_control_and_slot_bytes_are_harmless(
        cap in 1usize..9,
        control in proptest::collection::vec(any::<u8>(), 320),
        slots in proptest::collection::vec(any::<u8>(), 16 * 8),
        // Also positions and stamps that look almost right.
        head in any::<u64>(),
        tail in any::<u64>(),
        stamp_turns in proptest::collection::vec(any::<u32>(), 8),
        stamp_owner in prop_oneof![Just(0u32), Just(std::process::id()), any::<u32>()],
    ) {
        let name = common::unique_name("q-hostile");
        let q = Queue::<u64>::create(&name, cap).unwrap();
        common::scribble(&name, CONTROL, &control);
        common::scribble(&name, DATA, &slots[..16 * cap]);
        exercise(&q);
        common::scribble(&name, CONTROL, &tail.to_ne_bytes());
        common::scribble(&name, CONTROL + 64, &head.to_ne_bytes());
        // Not closed, so that the waits really run.
        common::scribble(&name, CONTROL + 256, &[0; 4]);
        for (i, turn) in stamp_turns.iter().take(cap).enumerate() {
            let stamp = (u64::from(*turn) << 32) | u64::from(stamp_owner);
            common::scribble(&name, DATA + 16 * i as u64, &stamp.to_ne_bytes());
        }
        exercise(&q);
    }

    /// The C API keeps held slots as two numbers a caller hands back: made-up ones end
    /// nothing (a clean error), whatever the ring holds.
    #[test]
    fn made_up_slot_tokens_give_clean_errors(pos in any::<u64>(), stamp in any::<u64>(), held in any::<bool>()) {
        use shmkit::dynamic::{DynQueue, DynSlot};
        let name = common::unique_name("q-tokens");
        let q = DynQueue::create(&name, shmkit::Kind::Queue, shmkit::TypeDesc::of::<u64>(), 4, &Default::default()).unwrap();
        let real = held.then(|| q.try_reserve().unwrap());
        let fake = DynSlot { pos, stamp };
        if Some(fake) != real {
            prop_assert!(matches!(q.commit(fake), Err(shmkit::Error::InvalidArgument(_))));
            prop_assert!(matches!(q.abort(fake), Err(shmkit::Error::InvalidArgument(_))));
            prop_assert!(matches!(q.release(fake), Err(shmkit::Error::InvalidArgument(_))));
        }
        let _ = q.slot_ptr(&fake);
        if let Some(r) = real {
            q.commit(r).unwrap();
            prop_assert!(q.commit(r).is_err());
            let taken = q.try_get_ref().unwrap();
            prop_assert!(q.commit(taken).is_err());
            q.release(taken).unwrap();
            prop_assert!(q.release(taken).is_err());
        }
    }
}

/// A claimer advances `tail`/`head` past its slot with a plain store, which can race
/// with another process's advance and move the hint back (never below a claimed slot).
/// Such a hint costs the next put or get a walk over claimed slots, never a message:
/// FIFO order, exactly once, and the same capacity.
#[test]
fn hints_moved_back_by_a_racing_store_cost_a_walk_not_a_message() {
    let name = common::unique_name("q-hint-back");
    let q = Queue::<u64>::create(&name, 8).unwrap();
    for i in 0..5 {
        q.try_put(i).unwrap();
    }
    assert_eq!(q.try_get().unwrap(), 0);
    assert_eq!(q.try_get().unwrap(), 1);
    // tail 5 -> 1 and head 2 -> 0 (lap 0; every position below them was claimed).
    common::scribble(&name, CONTROL, &1u64.to_ne_bytes());
    common::scribble(&name, CONTROL + 64, &0u64.to_ne_bytes());
    for i in 5..10 {
        q.try_put(i).unwrap();
    }
    assert!(
        q.try_put(10).unwrap_err().is_full(),
        "8 messages fill 8 slots"
    );
    assert_eq!(q.len(), 8);
    // Both hints back again, now a lap behind what their slots show.
    common::scribble(&name, CONTROL, &0u64.to_ne_bytes());
    common::scribble(&name, CONTROL + 64, &0u64.to_ne_bytes());
    let got: Vec<u64> = std::iter::from_fn(|| q.try_get().ok()).collect();
    assert_eq!(got, (2..10).collect::<Vec<_>>());
    assert!(q.is_empty());
    q.try_put(10).unwrap();
    assert_eq!(q.try_get().unwrap(), 10);
    drop(q);
    assert!(!common::leftovers().iter().any(|l| l.contains(&name)));
}
