//! The atomics shim under the ring (crossbeam's `primitive` module, tokio's `loom`
//! module): std atomics and the OS futex in normal builds; loom's atomics and a modelled
//! futex under `--cfg loom`, so the same ring code is model-checked on heap memory.
//!
//! Everything the ring needs from the outside world goes through here: atomics,
//! fences, spinning, the futex, the clock, and process identity.
#![forbid(unsafe_code)]

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, fence};

/// One step of a busy wait.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Lets another thread run (a busy wait that has gone on for a while).
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// This process's id, as recorded in the slots it claims.
#[inline]
pub(crate) fn pid() -> u32 {
    #[cfg(loom)]
    {
        loom_pid::current()
    }
    #[cfg(not(loom))]
    {
        crate::sys::cached_pid()
    }
}

/// Whether the process `pid` is still running. A zombie counts as dead: it can never
/// finish what it started, and its parent may be the very process waiting on it.
pub(crate) fn pid_alive(pid: u32) -> bool {
    #[cfg(loom)]
    {
        loom_pid::alive(pid)
    }
    #[cfg(not(loom))]
    {
        crate::sys::pid_running(pid)
    }
}

/// Whether time exists: under loom, waits are untimed (a lost wake-up then shows up as
/// a deadlock the model checker reports, instead of being hidden by a timeout).
pub(crate) const TIMED: bool = !cfg!(loom);

/// A futex: a word, plus (under loom) the lock and condition variable that model the
/// kernel's compare-and-sleep.
pub(crate) struct Futex {
    #[cfg(loom)]
    park: loom::sync::Mutex<()>,
    #[cfg(loom)]
    cv: loom::sync::Condvar,
}

impl Futex {
    #[cfg(loom)]
    pub(crate) fn new() -> Futex {
        Futex {
            #[cfg(loom)]
            park: loom::sync::Mutex::new(()),
            #[cfg(loom)]
            cv: loom::sync::Condvar::new(),
        }
    }

    /// Sleeps while `word == expected`, at most `timeout`.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<std::time::Duration>,
    ) {
        #[cfg(loom)]
        {
            let _ = timeout;
            let guard = self.park.lock().unwrap();
            if word.load(std::sync::atomic::Ordering::SeqCst) == expected {
                drop(self.cv.wait(guard).unwrap());
            }
        }
        #[cfg(not(loom))]
        crate::sys::futex_wait(word, expected, timeout);
    }

    /// Wakes up to `n` sleepers on `word` (whose value the caller has just changed).
    pub(crate) fn wake(&self, word: &AtomicU32, n: u32) {
        #[cfg(loom)]
        {
            let _ = word;
            let _guard = self.park.lock().unwrap();
            if n == 1 {
                self.cv.notify_one();
            } else {
                self.cv.notify_all();
            }
        }
        #[cfg(not(loom))]
        {
            crate::sys::futex_wake(word, n);
        }
    }
}

/// Under loom every model thread plays a process: it gets a pid, and a test can declare
/// it dead to model a crash.
#[cfg(loom)]
pub(crate) mod loom_pid {
    use std::cell::Cell;

    loom::thread_local! {
        static PID: Cell<u32> = Cell::new(1);
    }
    loom::lazy_static! {
        static ref DEAD: loom::sync::Mutex<Vec<u32>> = loom::sync::Mutex::new(Vec::new());
    }

    /// The pid of the current model thread (1 unless [`set`] was called).
    pub(crate) fn current() -> u32 {
        PID.with(Cell::get)
    }

    /// Gives the current model thread the pid `pid`.
    pub(crate) fn set(pid: u32) {
        PID.with(|p| p.set(pid));
    }

    /// Declares `pid` dead from now on.
    pub(crate) fn kill(pid: u32) {
        DEAD.lock().unwrap().push(pid);
    }

    pub(crate) fn alive(pid: u32) -> bool {
        !DEAD.lock().unwrap().contains(&pid)
    }
}
