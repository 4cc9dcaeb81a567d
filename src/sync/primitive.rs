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

/// How many times a waiter re-checks before it sleeps (a short spin pays off when the
/// other side is running on another CPU).
#[cfg(not(loom))]
pub(crate) const SPIN: u32 = 64;
/// One spin under loom: more only multiplies the interleavings to explore.
#[cfg(loom)]
pub(crate) const SPIN: u32 = 1;

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

/// A hint inside a spin loop.
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Registers a waiter: call before the last check of the futex word.
///
/// Together with [`has_waiters`] this is the "no lost wake-up" handshake, stated with
/// read-modify-writes so that it holds under acquire/release alone (and loom can check
/// it): the waker's RMW on `waiters` comes after its change of the futex word; if it
/// comes after the waiter's `enter` in `waiters`' modification order it sees the
/// waiter, otherwise the waiter's `enter` reads from it (acquire) and so sees the new
/// futex word and does not sleep.
pub(crate) fn enter(waiters: &AtomicU32) {
    waiters.fetch_add(1, Ordering::AcqRel);
}

/// Whether a waiter is recorded: call after changing the futex word, before deciding
/// whether to wake (see [`enter`]).
pub(crate) fn has_waiters(waiters: &AtomicU32) -> bool {
    waiters.fetch_add(0, Ordering::AcqRel) != 0
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
