//! The atomics shim of the futex-based primitives (crossbeam's `primitive` module, tokio's
//! `loom` module): with `--cfg loom` the atomics are loom's and a futex sleep is a loom
//! yield, so the algorithms in `semaphore.rs`, `event.rs` and `barrier.rs` can be model
//! checked on heap memory; otherwise they are the std atomics and a shared futex.
//!
//! The loom futex is faithful where it matters: a sleeper checks the word and blocks
//! under one model lock, and a waker takes that lock to wake, so a wake-up the algorithm
//! forgets to make (a waiter not seen by the waker) is a deadlock loom reports. It wakes
//! every sleeper on every wake (a superset of the real futex's wakes), and models no
//! timeouts or slices.
//!
//! Every sleep is bounded by [`SLICE`]: a waiter re-checks its condition at least that
//! often, so a wake-up consumed by a process that was killed before acting on it delays
//! the others by at most one slice instead of blocking them forever.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, Ordering};

use std::time::{Duration, Instant};

/// The longest single futex sleep.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Pause-and-check rounds before a waiter yields: about 2 µs on the 2-vCPU machines of
/// docs/BENCHMARKS.md (a pause is ~8 ns there).
#[cfg(not(loom))]
const SPIN: u32 = 256;
/// `sched_yield` rounds after the spin, before sleeping: when the partner runs on the
/// same CPU, a yield lets it answer without either side paying for a futex sleep and
/// wake-up (1 to 25 µs here); when it runs elsewhere, the spin has usually seen it.
#[cfg(not(loom))]
const YIELDS: u32 = 8;
/// Spins, then yields, re-checking `ready` each round, before a waiter commits to
/// sleeping. Returns whether `ready` became true. A partner that answers within the
/// spin is seen without a system call on either side (the waker finds no waiter
/// recorded, so it does not call futex_wake).
#[inline]
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    // No spinning under loom: it only multiplies the interleavings to explore.
    #[cfg(loom)]
    {
        let _ = &mut ready;
        false
    }
    #[cfg(not(loom))]
    {
        for _ in 0..SPIN {
            std::hint::spin_loop();
            if ready() {
                return true;
            }
        }
        for _ in 0..YIELDS {
            std::thread::yield_now();
            if ready() {
                return true;
            }
        }
        false
    }
}

/// The native-endian `u32` at byte `offset` of a copied control block, if it is there
/// (for the `from_bytes` decoders that `shmkit show` uses on untrusted copies).
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The instant `timeout` from now; `None` (wait forever) when there is no timeout or it
/// does not fit in an `Instant`.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Sleeps while `*word == expected`, until woken, the deadline or one [`SLICE`].
/// Returns `false` (without sleeping) when the deadline has passed. Callers re-check
/// their condition in a loop: a return says nothing about why it returned.
pub(crate) fn sleep(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    let slice = match deadline {
        None => SLICE,
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return false;
            }
            (d - now).min(SLICE)
        }
    };
    #[cfg(not(loom))]
    crate::sys::futex_wait(word, expected, Some(slice));
    #[cfg(loom)]
    {
        let _ = slice;
        let (lock, cv) = &*model_futex::FUTEX;
        let guard = lock.lock().unwrap();
        if word.load(Ordering::SeqCst) == expected {
            drop(cv.wait(guard).unwrap());
        }
    }
    true
}

#[cfg(loom)]
mod model_futex {
    loom::lazy_static! {
        /// One wait queue for every futex word of the model.
        pub(super) static ref FUTEX: (loom::sync::Mutex<()>, loom::sync::Condvar) =
            (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
    }
}

/// Wakes up to `n` sleepers on `word`.
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    #[cfg(not(loom))]
    crate::sys::futex_wake(word, n);
    #[cfg(loom)]
    {
        let _ = (word, n);
        let (lock, cv) = &*model_futex::FUTEX;
        let _guard = lock.lock().unwrap();
        cv.notify_all();
    }
}

/// Registers a waiter: call before the last check of the futex word, which must be a
/// `SeqCst` load.
///
/// Together with [`has_waiters`] this is the "no lost wake-up" handshake. In the real
/// build it is the classic store-load (Dekker) pattern on two words, sound because every
/// access involved is `SeqCst` (one total order): the waker's change of the futex word
/// (a `SeqCst` RMW) precedes its `SeqCst` load of `waiters`; the waiter's `SeqCst`
/// increment of `waiters` precedes its `SeqCst` load of the futex word (and the
/// kernel's re-check). If the waker's load misses the increment, the increment is later
/// in the total order than the waker's change, so the waiter's load sees the change and
/// it does not sleep. On x86 the waker's load is a plain `mov` after its locked RMW.
///
/// loom models `SeqCst` as acquire/release only, under which that pattern is not
/// sound; so with `--cfg loom` the waker reads `waiters` with an `AcqRel` RMW instead
/// (sound under acquire/release alone: the two RMWs on `waiters` are ordered, and the
/// later one reads from and synchronizes with the earlier). The models thus check the
/// algorithms with a handshake at least as strong as the real one.
pub(crate) fn enter(waiters: &AtomicU32) {
    waiters.fetch_add(1, Ordering::SeqCst);
}

/// Whether a waiter is recorded: call after changing the futex word with a `SeqCst`
/// RMW, before deciding whether to wake (see [`enter`]).
pub(crate) fn has_waiters(waiters: &AtomicU32) -> bool {
    #[cfg(not(loom))]
    return waiters.load(Ordering::SeqCst) != 0;
    #[cfg(loom)]
    return waiters.fetch_add(0, Ordering::AcqRel) != 0;
}

/// Decrements a waiter count, never below zero: a hostile or stale count then costs at
/// most extra wake-up system calls, and stays readable in `shmkit show`.
pub(crate) fn leave(waiters: &AtomicU32) {
    let _ = waiters.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| w.checked_sub(1));
}

/// Runs a loom model with a preemption bound, so the models stay cheap enough for CI
/// (the bound covers every interleaving with up to 3 forced preemptions, which is where
/// lost wake-ups and double grants show up in these algorithms).
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}
