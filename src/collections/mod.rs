//! Shared collections living in one segment: [`ByteDict`] / [`Dict<K, V>`](Dict) (what
//! Python's `Manager().dict()` gives, without a server process) and [`List<T>`](List)
//! (`Manager().list()`).
//!
//! Each is guarded by the segment's robust [`RawMutex`](crate::RawMutex); every
//! operation takes the lock for the duration of its copy in or out.
//!
//! ## Crash safety
//! Writes are ordered so that a process killed at any instant of an operation leaves a
//! table that is either exactly as before the operation or exactly as after it:
//! - new bytes are only ever written where no reader looks (above the arena's top, into
//!   the inactive half, into a scratch element);
//! - then one aligned 8-byte word is stored with release ordering (a slot word, the
//!   `active` half, a list's length word, a journal word): that store *is* the commit;
//! - the counters (`len`, `live_bytes`, ...) are caches, stored after the commit and
//!   recomputed by `recover`.
//!
//! Reads of a dict (`get`, `get_into`, `contains_key`, `len`) usually take no lock: a
//! sequence word, odd while a writer works, tells a reader whether what it copied is
//! consistent (a seqlock); every offset it reads is bounds-checked, so a torn read can
//! only produce an answer that is then thrown away. A writer killed mid-change leaves the
//! word odd, and readers fall back to the lock, which reports the dead owner.
//!
//! The next locker is told ([`Error::OwnerDied`](crate::Error::OwnerDied)) and calls
//! `recover`, which validates the table, rebuilds it (dropping anything invalid, which
//! a crash alone never produces) and clears the lock's repair flag. docs/FORMAT.md has
//! the byte layout and the commit points of every operation.

mod dict;
mod list;

pub use dict::{ByteDict, ByteDictGuard, Dict, DictGuard, TableCheck};
pub(crate) use dict::{entries_from, words_from};
pub use list::List;
pub(crate) use list::{check_info as check_list_info, list_words};

use std::sync::atomic::{AtomicU32, Ordering};

/// Test hook state: kill the process at the `CRASH_AT`-th crash point (0: never).
static CRASH_AT: AtomicU32 = AtomicU32::new(0);
static CRASH_STEP: AtomicU32 = AtomicU32::new(0);

/// Test hook: SIGKILLs this process at the `step`-th crash point that the dict and list
/// write paths pass from now on (0 disables). Crash points sit between every two
/// stores of an insert, remove, clear, compaction or list update, so a test can kill a
/// process at each of them in turn and check that the table stays consistent.
#[doc(hidden)]
pub fn crash_at_step_for_tests(step: u32) {
    CRASH_STEP.store(0, Ordering::SeqCst);
    CRASH_AT.store(step, Ordering::SeqCst);
}

/// A crash point (see [`crash_at_step_for_tests`]): one relaxed load when disabled.
#[inline]
pub(crate) fn crash_point() {
    let at = CRASH_AT.load(Ordering::Relaxed);
    if at != 0 {
        crash_point_slow(at);
    }
}

#[cold]
fn crash_point_slow(at: u32) {
    if CRASH_STEP.fetch_add(1, Ordering::SeqCst) + 1 == at {
        crate::sys::kill_self();
    }
}

/// The key hash of the dict format (docs/FORMAT.md, *Dict*): part of the format, the
/// same in every process, no per-process seed.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (key.len() as u64).wrapping_mul(K) ^ 0x243f_6a88_85a3_08d3;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K).rotate_left(31);
    }
    // murmur3's fmix64
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_is_stable_and_spreads() {
        // Pinned (computed from the description in docs/FORMAT.md by an independent
        // implementation): the hash is part of the on-memory format.
        assert_eq!(super::hash_key(b"shmkit"), 0x50db_aaa3_072f_ffe8);
        assert_eq!(super::hash_key(b""), 0x7acd_bb98_b134_4213);
        assert_eq!(super::hash_key(b"key-12345678"), 0x4bff_631d_97f6_e4ce);
        assert_ne!(super::hash_key(b"a"), super::hash_key(b"b"));
        assert_ne!(super::hash_key(b"a"), super::hash_key(b"a\0"));
        let low: std::collections::HashSet<u64> = (0u32..1000)
            .map(|i| super::hash_key(&i.to_le_bytes()) & 1023)
            .collect();
        assert!(low.len() > 550, "{}", low.len());
    }
}
