//! Counting semaphores: [`RawSemaphore`] (placeable in any segment), and the named
//! standalone [`Semaphore`] and [`BoundedSemaphore`], like Python's.
//!
//! ## Algorithm
//! `value` is the number of permits and the futex word. `acquire` takes a permit with a
//! compare-and-swap (no system call while permits remain); when there is none it
//! registers in `waiters` and sleeps on `value == 0`. `release` adds permits and enters
//! the kernel only when `waiters` is nonzero. Both the `value` update and the `waiters`
//! read/write are sequentially consistent, so either the releaser sees the waiter, or
//! the waiter's futex sees the new value and does not sleep.
//!
//! ## Crashes
//! - A process killed while waiting leaves `waiters` one too high: later releases make
//!   one futex-wake system call they did not need; nothing else changes.
//! - A process killed just after being woken, before taking its permit, leaves the
//!   permit in `value`; the other waiters re-check at least every 100 ms
//!   ([`SLICE`](super::primitive::SLICE)) and take it.
//! - A process killed while **holding** permits leaks them: nothing records who holds a
//!   permit. `shmkit show` displays the value so the leak can be seen; a bounded
//!   semaphore can be repaired with [`RawSemaphore::release`] by whoever knows.
//!
//! ## Trust
//! Any value in the fields is harmless: `value` is a count checked with overflow
//! checks, `waiters` only decides whether to make a wake-up system call, and waits are
//! bounded by their timeout.

use std::fmt;
use std::time::{Duration, Instant};

use super::primitive::{self, AtomicU32, Ordering};
use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};

/// A counting semaphore that can be placed in any segment. 64 bytes, 64-byte aligned.
///
/// Initialize it once with [`RawSemaphore::init`] or [`RawSemaphore::init_bounded`]
/// before any process uses it.
#[repr(C, align(64))]
pub struct RawSemaphore {
    /// Permits available; the futex word.
    value: AtomicU32,
    /// Processes sleeping (or about to) in `acquire`.
    waiters: AtomicU32,
    /// The largest value when `bounded` is 1.
    bound: AtomicU32,
    /// 1 for a bounded semaphore (release beyond `bound` is an error), else 0.
    bounded: AtomicU32,
    _reserved: [u32; 12],
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<RawSemaphore>() == 64);

/// A snapshot of a semaphore's state (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemaphoreSnapshot {
    /// Permits available now.
    pub value: u32,
    /// Processes recorded as waiting (may be high after a waiter was killed).
    pub waiters: u32,
    /// The bound of a bounded semaphore (its initial value), `None` when unbounded.
    pub bound: Option<u32>,
}

impl SemaphoreSnapshot {
    /// Decodes a copy of a [`RawSemaphore`]'s bytes (`shmkit show` reads segments
    /// without mapping them). Any bytes decode; `None` only when `bytes` is shorter
    /// than the fields.
    pub fn from_bytes(bytes: &[u8]) -> Option<SemaphoreSnapshot> {
        let at = |off| primitive::u32_at(bytes, off);
        Some(SemaphoreSnapshot {
            value: at(0)?,
            waiters: at(4)?,
            bound: (at(12)? == 1).then_some(at(8)?),
        })
    }
}

impl RawSemaphore {
    /// Initializes an unbounded semaphore holding `value` permits.
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawSemaphore`, 64-byte aligned, in memory that
    ///   stays mapped while any process uses it.
    /// - No process uses this semaphore yet.
    pub unsafe fn init(this: *mut RawSemaphore, value: u32) {
        // SAFETY: the caller's contract above.
        unsafe { Self::init_fields(this, value, 0, 0) }
    }

    /// Initializes a bounded semaphore holding `value` permits, which may never hold
    /// more than `value` (a release beyond it is an error, as in Python).
    ///
    /// # Safety
    /// As [`init`](Self::init).
    pub unsafe fn init_bounded(this: *mut RawSemaphore, value: u32) {
        // SAFETY: the caller's contract above.
        unsafe { Self::init_fields(this, value, value, 1) }
    }

    /// # Safety
    /// As [`init`](Self::init).
    unsafe fn init_fields(this: *mut RawSemaphore, value: u32, bound: u32, bounded: u32) {
        // SAFETY:
        // - `this` is valid for writes and unused (caller's contract).
        // - all-zero bytes are a valid RawSemaphore (atomics of 0), so the references
        //   made below point at valid values.
        unsafe {
            std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawSemaphore>());
            (*this).value.store(value, Ordering::Relaxed);
            (*this).bound.store(bound, Ordering::Relaxed);
            (*this).bounded.store(bounded, Ordering::Release);
        }
    }

    /// A semaphore on the heap, for loom models.
    #[cfg(all(test, loom))]
    pub(crate) fn new_for_model(value: u32, bound: Option<u32>) -> RawSemaphore {
        RawSemaphore {
            value: AtomicU32::new(value),
            waiters: AtomicU32::new(0),
            bound: AtomicU32::new(bound.unwrap_or(0)),
            bounded: AtomicU32::new(bound.is_some() as u32),
            _reserved: [0; 12],
        }
    }

    /// Takes a permit if one is available, without waiting. No system call.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        // SeqCst: after `primitive::enter`, this is the waiter's side of the handshake.
        let mut v = self.value.load(Ordering::SeqCst);
        while v != 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    /// Takes a permit, waiting as long as it takes.
    #[inline]
    pub fn acquire(&self) {
        if !self.try_acquire() {
            self.acquire_slow(None);
        }
    }

    /// Takes a permit, waiting at most `timeout`. Returns whether a permit was taken
    /// (`false`: timed out), like Python's `acquire(timeout=...)`.
    #[inline]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.try_acquire()
            || self.acquire_slow(primitive::deadline(Some(timeout)).or(Some(far_future())))
    }

    #[inline(never)]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        if primitive::spin_until(|| self.value.load(Ordering::Relaxed) != 0 && self.try_acquire()) {
            return true;
        }
        primitive::enter(&self.waiters);
        let taken = loop {
            if self.try_acquire() {
                break true;
            }
            if !primitive::sleep(&self.value, 0, deadline) {
                break false;
            }
        };
        primitive::leave(&self.waiters);
        taken
    }

    /// Returns one permit, waking a waiter if one is recorded.
    ///
    /// # Errors
    /// [`Error::OverRelease`] if the semaphore is bounded and already holds its bound,
    /// or if the value would overflow `u32`.
    #[inline]
    pub fn release(&self) -> Result<()> {
        self.release_n(1)
    }

    /// Returns `n` permits, waking up to `n` waiters if any are recorded.
    ///
    /// # Errors
    /// As [`release`](Self::release); nothing is released on error.
    #[inline]
    pub fn release_n(&self, n: u32) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let max = if self.bounded.load(Ordering::Relaxed) == 1 {
            self.bound.load(Ordering::Relaxed)
        } else if n == 1 {
            // Unbounded, one permit: a single fetch_add (like glibc's sem_post). At
            // u32::MAX it wraps to 0, which grants nobody a permit, and is undone.
            let old = self.value.fetch_add(1, Ordering::SeqCst);
            if old == u32::MAX {
                self.value.fetch_sub(1, Ordering::SeqCst);
                return Err(over_release(u32::MAX, 1, old));
            }
            if primitive::has_waiters(&self.waiters) {
                self.wake(1);
            }
            return Ok(());
        } else {
            u32::MAX
        };
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            let new = match v.checked_add(n) {
                Some(new) if new <= max => new,
                _ => return Err(over_release(max, n, v)),
            };
            match self
                .value
                .compare_exchange_weak(v, new, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if primitive::has_waiters(&self.waiters) {
            self.wake(n);
        }
        Ok(())
    }

    #[inline(never)]
    fn wake(&self, n: u32) {
        primitive::wake(&self.value, n);
    }

    /// Permits available now (racy by nature: for display and tests).
    pub fn value(&self) -> u32 {
        self.value.load(Ordering::Relaxed)
    }

    /// The state, read without synchronizing (for display).
    pub fn snapshot(&self) -> SemaphoreSnapshot {
        SemaphoreSnapshot {
            value: self.value.load(Ordering::Relaxed),
            waiters: self.waiters.load(Ordering::Relaxed),
            bound: (self.bounded.load(Ordering::Relaxed) == 1)
                .then(|| self.bound.load(Ordering::Relaxed)),
        }
    }
}

#[cold]
fn over_release(max: u32, release: u32, value: u32) -> Error {
    Error::OverRelease {
        max: max as u64,
        release,
        found: value as u64 + release as u64,
    }
}

/// A deadline for a timeout too long to represent: about 30 years away, still bounded.
pub(crate) fn far_future() -> Instant {
    let now = Instant::now();
    now.checked_add(Duration::from_secs(1 << 30)).unwrap_or(now)
}

impl fmt::Debug for RawSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSemaphore")
            .field("state", &self.snapshot())
            .finish()
    }
}

// SAFETY: all state is in atomics, accessed through shared references.
unsafe impl Sync for RawSemaphore {}
// SAFETY: as above; no thread-affine data.
unsafe impl Send for RawSemaphore {}

fn spec(value: u32, bounded: bool) -> Spec {
    Spec::control_only(
        Kind::Semaphore,
        std::mem::size_of::<RawSemaphore>(),
        [bounded as u64, value as u64, 0, 0],
    )
}

fn open_seg(name: &str, opts: &SegmentOptions, bounded: bool) -> Result<Segment> {
    let seg = segment::open_control_only(
        name,
        opts,
        Kind::Semaphore,
        std::mem::size_of::<RawSemaphore>(),
    )?;
    let found_bounded = seg.info().params[0] == 1;
    if found_bounded != bounded {
        let label = |b: bool| if b { "bounded semaphore" } else { "semaphore" };
        return Err(Error::KindMismatch {
            expected: label(bounded).to_string(),
            found: label(found_bounded).to_string(),
        });
    }
    Ok(seg)
}

#[inline]
fn raw_in(seg: &Segment) -> &RawSemaphore {
    // SAFETY:
    // - the segment was created or opened as a semaphore, whose control block length was
    //   checked to be a RawSemaphore's, 64-byte aligned, inside the mapping `seg` keeps
    //   alive.
    // - a RawSemaphore is only accessed through atomics; any bytes are a valid value.
    unsafe { &*seg.control_ptr().cast::<RawSemaphore>() }
}

macro_rules! standalone {
    ($ty:ident, $bounded:expr, $init:ident, $what:literal) => {
        impl $ty {
            #[doc = concat!("Creates a named ", $what, " holding `value` permits.")]
            ///
            /// # Errors
            /// As [`Segment::create`].
            pub fn create(name: &str, value: u32) -> Result<$ty> {
                Self::create_with(name, value, &SegmentOptions::default())
            }

            /// [`create`](Self::create) with options.
            ///
            /// # Errors
            /// As [`Segment::create`].
            pub fn create_with(name: &str, value: u32, opts: &SegmentOptions) -> Result<$ty> {
                let seg = segment::create_named(name, spec(value, $bounded), opts, |s| {
                    // SAFETY:
                    // - the control block is a RawSemaphore-sized, 64-byte aligned area
                    //   inside the new mapping (spec above).
                    // - the segment is not ready yet, so no other process uses it.
                    unsafe { RawSemaphore::$init(s.control_ptr().cast(), value) };
                    Ok(())
                })?;
                Ok($ty { seg })
            }

            #[doc = concat!("Opens a named ", $what, ".")]
            ///
            /// # Errors
            /// As [`Segment::open`]; [`Error::KindMismatch`] if `name` is not one.
            pub fn open(name: &str) -> Result<$ty> {
                Self::open_with(name, &SegmentOptions::default())
            }

            /// [`open`](Self::open) with options.
            ///
            /// # Errors
            /// As [`open`](Self::open).
            pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<$ty> {
                Ok($ty {
                    seg: open_seg(name, opts, $bounded)?,
                })
            }

            /// Opens `name`, creating it with `value` permits if it does not exist.
            ///
            /// # Errors
            /// As [`create`](Self::create) and [`open`](Self::open).
            pub fn open_or_create(name: &str, value: u32) -> Result<$ty> {
                segment::open_or_create_named(
                    name,
                    &SegmentOptions::default(),
                    || Self::create(name, value),
                    || Self::open(name),
                )
            }

            #[doc = concat!("An unnamed ", $what, " shared with children forked after this call.")]
            ///
            /// # Errors
            /// As [`Segment::anonymous`].
            pub fn anonymous(value: u32) -> Result<$ty> {
                let seg = segment::create_anonymous(spec(value, $bounded), |s| {
                    // SAFETY: as in `create_with`.
                    unsafe { RawSemaphore::$init(s.control_ptr().cast(), value) };
                    Ok(())
                })?;
                Ok($ty { seg })
            }

            /// The underlying raw semaphore.
            #[inline]
            pub fn raw(&self) -> &RawSemaphore {
                raw_in(&self.seg)
            }

            /// See [`RawSemaphore::acquire`].
            #[inline]
            pub fn acquire(&self) {
                self.raw().acquire()
            }

            /// See [`RawSemaphore::try_acquire`].
            #[inline]
            pub fn try_acquire(&self) -> bool {
                self.raw().try_acquire()
            }

            /// See [`RawSemaphore::acquire_timeout`].
            #[inline]
            pub fn acquire_timeout(&self, timeout: Duration) -> bool {
                self.raw().acquire_timeout(timeout)
            }

            /// See [`RawSemaphore::release`].
            ///
            /// # Errors
            /// As [`RawSemaphore::release`].
            #[inline]
            pub fn release(&self) -> Result<()> {
                self.raw().release()
            }

            /// See [`RawSemaphore::release_n`].
            ///
            /// # Errors
            /// As [`RawSemaphore::release_n`].
            #[inline]
            pub fn release_n(&self, n: u32) -> Result<()> {
                self.raw().release_n(n)
            }

            /// See [`RawSemaphore::value`].
            pub fn value(&self) -> u32 {
                self.raw().value()
            }

            /// See [`RawSemaphore::snapshot`].
            pub fn snapshot(&self) -> SemaphoreSnapshot {
                self.raw().snapshot()
            }

            /// The segment behind it.
            pub fn segment(&self) -> &Segment {
                &self.seg
            }

            /// Mutable access to the segment (to make it persistent).
            pub fn segment_mut(&mut self) -> &mut Segment {
                &mut self.seg
            }
        }
    };
}

/// A named (or anonymous) counting semaphore, like Python's `multiprocessing.Semaphore`.
///
/// ```
/// # let name = format!("doc-sem-{}", std::process::id());
/// let sem = shmkit::Semaphore::create(&name, 2)?;
/// assert!(sem.try_acquire());
/// assert!(sem.try_acquire());
/// assert!(!sem.acquire_timeout(std::time::Duration::from_millis(1)));
/// sem.release()?;
/// assert_eq!(sem.value(), 1);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Semaphore {
    seg: Segment,
}

/// A semaphore whose value may never exceed its initial value, like Python's
/// `multiprocessing.BoundedSemaphore`: an extra `release` is an error.
///
/// ```
/// # let name = format!("doc-bsem-{}", std::process::id());
/// let sem = shmkit::BoundedSemaphore::create(&name, 1)?;
/// assert!(matches!(sem.release(), Err(shmkit::Error::OverRelease { .. })));
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct BoundedSemaphore {
    seg: Segment,
}

standalone!(Semaphore, false, init, "semaphore");
standalone!(BoundedSemaphore, true, init_bounded, "bounded semaphore");

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    /// Two threads through a Semaphore(1): never both inside, and no permit lost.
    #[test]
    fn loom_semaphore_mutual_exclusion() {
        super::super::primitive::model(|| {
            let sem = Arc::new(RawSemaphore::new_for_model(1, Some(1)));
            let inside = Arc::new(AtomicU32::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (sem, inside) = (sem.clone(), inside.clone());
                    loom::thread::spawn(move || {
                        sem.acquire();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        sem.release().unwrap();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(sem.value(), 1);
            assert_eq!(sem.snapshot().waiters, 0);
        });
    }

    /// Three threads through a Semaphore(2): never three inside, and nobody sleeps
    /// through a release (loom reports a deadlock if a wake-up is skipped).
    #[test]
    fn loom_semaphore_two_permits_three_threads() {
        super::super::primitive::model(|| {
            let sem = Arc::new(RawSemaphore::new_for_model(2, None));
            let inside = Arc::new(AtomicU32::new(0));
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let (sem, inside) = (sem.clone(), inside.clone());
                    loom::thread::spawn(move || {
                        sem.acquire();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        sem.release().unwrap();
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(sem.value(), 2);
        });
    }

    /// A release racing with a waiter going to sleep is never lost.
    #[test]
    fn loom_semaphore_release_wakes_waiter() {
        super::super::primitive::model(|| {
            let sem = Arc::new(RawSemaphore::new_for_model(0, None));
            let s2 = sem.clone();
            let t = loom::thread::spawn(move || s2.acquire());
            sem.release().unwrap();
            t.join().unwrap();
            assert_eq!(sem.value(), 0);
        });
    }
}
