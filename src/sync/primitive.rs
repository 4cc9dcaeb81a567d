//! The atomics shim of the futex-based primitives (crossbeam's `primitive` module, tokio's
//! `loom` module): with `--cfg loom` the atomics are loom's and a futex sleep is a loom
//! yield, so the algorithms in `semaphore.rs`, `event.rs` and `barrier.rs` can be model
//! checked on heap memory; otherwise they are the std atomics and a shared futex.
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

/// How many times a waiter re-checks before it sleeps (a short spin pays off when the
/// other side is running on another CPU).
#[cfg(not(loom))]
pub(crate) const SPIN: u32 = 64;
/// No spinning under loom: it only multiplies the interleavings to explore.
#[cfg(loom)]
pub(crate) const SPIN: u32 = 0;

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
        if word.load(Ordering::SeqCst) == expected {
            loom::thread::yield_now();
        }
    }
    true
}

/// Wakes up to `n` sleepers on `word`.
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    #[cfg(not(loom))]
    crate::sys::futex_wake(word, n);
    #[cfg(loom)]
    let _ = (word, n);
}

/// A hint inside a spin loop.
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Decrements a waiter count, never below zero: a hostile or stale count then costs at
/// most extra wake-up system calls, and stays readable in `shmkit show`.
pub(crate) fn leave(waiters: &AtomicU32) {
    let _ = waiters.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| w.checked_sub(1));
}
