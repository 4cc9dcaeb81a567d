//! Barriers: [`RawBarrier`] (placeable in any segment) and the named standalone
//! [`Barrier`], like Python's `multiprocessing.Barrier` (without the `action`).
//!
//! ## Algorithm
//! One 32-bit futex word holds the whole state, changed only by compare-and-swap:
//! bits 0..16 the parties arrived in this generation, bits 16..30 the generation,
//! bit 30 "the last generation change was a reset", bit 31 "broken". An arriving party
//! increments the count; the last one starts the next generation (count 0) and, only if
//! `waiters` is nonzero, makes one wake-all system call. The others sleep until the
//! generation moves (they passed, unless the move was a reset) or the barrier breaks.
//!
//! ## Broken state
//! [`abort`](RawBarrier::abort), a timed-out waiter, or an invalid word break the
//! barrier: every waiter returns [`Error::BrokenBarrier`] (the one whose timeout expired
//! returns [`Error::Timeout`]), and so does every later `wait` until
//! [`reset`](RawBarrier::reset). A reset wakes the parties still waiting with
//! `BrokenBarrier` and starts an empty generation.
//!
//! ## Crashes
//! A party killed while waiting stays counted as arrived (it did arrive), so the
//! generation completes when the remaining parties arrive. A party that dies **before**
//! arriving makes the others wait for it: with a timeout they time out and break the
//! barrier for everyone, so no one hangs; without one they wait until someone calls
//! `abort`. Recorded `waiters` of a killed process only cost an extra wake-up system
//! call.
//!
//! ## Trust
//! A count that is not below `parties` breaks the barrier instead of being trusted;
//! `parties` outside 1..=[`MAX_PARTIES`] is reported as an error.

use std::fmt;
use std::time::{Duration, Instant};

use super::primitive::{self, AtomicU32, Ordering};
use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};

/// The largest number of parties a barrier accepts.
pub const MAX_PARTIES: u32 = 0xffff;

const COUNT_MASK: u32 = 0xffff;
const GEN_SHIFT: u32 = 16;
const GEN_MASK: u32 = 0x3fff;
const RESET: u32 = 1 << 30;
const BROKEN: u32 = 1 << 31;

fn generation(w: u32) -> u32 {
    (w >> GEN_SHIFT) & GEN_MASK
}

/// The word of the generation after `w`'s: count 0, not broken.
fn next_generation(w: u32, reset: bool) -> u32 {
    let g = (generation(w) + 1) & GEN_MASK;
    (g << GEN_SHIFT) | if reset { RESET } else { 0 }
}

/// A barrier that can be placed in any segment. 64 bytes, 64-byte aligned.
///
/// Initialize it once with [`RawBarrier::init`] before any process uses it.
#[repr(C, align(64))]
pub struct RawBarrier {
    /// Count, generation, reset and broken bits. The futex word.
    word: AtomicU32,
    /// Processes sleeping (or about to) in `wait`.
    waiters: AtomicU32,
    /// How many parties complete a generation.
    parties: AtomicU32,
    _reserved: [u32; 13],
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<RawBarrier>() == 64);

/// A snapshot of a barrier's state (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierSnapshot {
    /// How many parties complete a generation.
    pub parties: u32,
    /// Parties arrived in the current generation and waiting.
    pub n_waiting: u32,
    /// The generation number (wraps at 2^14).
    pub generation: u32,
    /// Whether the barrier is broken.
    pub broken: bool,
    /// Processes recorded as sleeping (may be high after a waiter was killed).
    pub waiters: u32,
}

impl BarrierSnapshot {
    fn decode(word: u32, waiters: u32, parties: u32) -> BarrierSnapshot {
        BarrierSnapshot {
            parties,
            n_waiting: word & COUNT_MASK,
            generation: generation(word),
            broken: word & BROKEN != 0,
            waiters,
        }
    }

    /// Decodes a copy of a [`RawBarrier`]'s bytes (`shmkit show` reads segments without
    /// mapping them). Any bytes decode; `None` only when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<BarrierSnapshot> {
        let at = |off| primitive::u32_at(bytes, off);
        Some(Self::decode(at(0)?, at(4)?, at(8)?))
    }
}

impl RawBarrier {
    /// Initializes a barrier for `parties` parties.
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawBarrier`, 64-byte aligned, in memory that
    ///   stays mapped while any process uses it.
    /// - No process uses this barrier yet.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `1 <= parties <= MAX_PARTIES` (nothing written).
    pub unsafe fn init(this: *mut RawBarrier, parties: u32) -> Result<()> {
        check_parties(parties)?;
        // SAFETY:
        // - `this` is valid for writes and unused (caller's contract).
        // - all-zero bytes are a valid RawBarrier (atomics of 0), so the reference made
        //   for the store points at a valid value.
        unsafe {
            std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawBarrier>());
            (*this).parties.store(parties, Ordering::Release);
        }
        Ok(())
    }

    /// A barrier on the heap, for loom models.
    #[cfg(all(test, loom))]
    pub(crate) fn new_for_model(parties: u32) -> RawBarrier {
        RawBarrier {
            word: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            parties: AtomicU32::new(parties),
            _reserved: [0; 13],
        }
    }

    /// How many parties complete a generation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the stored value is outside 1..=[`MAX_PARTIES`]
    /// (the segment was overwritten).
    pub fn parties(&self) -> Result<u32> {
        let p = self.parties.load(Ordering::Relaxed);
        check_parties(p)?;
        Ok(p)
    }

    /// Waits until `parties` parties have called `wait`. Returns this party's arrival
    /// index in `0..parties` (the last to arrive gets `parties - 1`), like Python.
    ///
    /// # Errors
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken (abort, another
    /// party's timeout, a reset while waiting); [`Error::InvalidArgument`] if `parties`
    /// is invalid.
    pub fn wait(&self) -> Result<u32> {
        self.wait_until(None, Duration::MAX)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`; giving up breaks the
    /// barrier for every party, as in Python.
    ///
    /// # Errors
    /// As [`wait`](Self::wait), plus [`Error::Timeout`] for the party whose timeout
    /// expired.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        let deadline = primitive::deadline(Some(timeout)).or(Some(super::semaphore::far_future()));
        self.wait_until(deadline, timeout)
    }

    fn wait_until(&self, deadline: Option<Instant>, timeout: Duration) -> Result<u32> {
        let parties = self.parties()?;
        let mut w = self.word.load(Ordering::SeqCst);
        let (index, era) = loop {
            if w & BROKEN != 0 {
                return Err(Error::BrokenBarrier("broken (aborted or timed out)"));
            }
            let count = w & COUNT_MASK;
            if count >= parties {
                self.break_generation(generation(w));
                return Err(Error::BrokenBarrier(
                    "with more parties arrived than it has (invalid state)",
                ));
            }
            let last = count + 1 == parties;
            let new = if last {
                next_generation(w, false)
            } else {
                w + 1
            };
            match self
                .word
                .compare_exchange_weak(w, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) if last => {
                    if primitive::has_waiters(&self.waiters) {
                        primitive::wake(&self.word, u32::MAX);
                    }
                    return Ok(count);
                }
                Ok(_) => break (count, generation(w)),
                Err(now) => w = now,
            }
        };
        primitive::enter(&self.waiters);
        let result = loop {
            let now = self.word.load(Ordering::SeqCst);
            if let Some(r) = passed(now, era, index) {
                break r;
            }
            if !primitive::sleep(&self.word, now, deadline) {
                if self.break_generation(era) {
                    break Err(Error::Timeout(timeout));
                }
                // The generation moved just as we gave up: report what happened.
                match passed(self.word.load(Ordering::SeqCst), era, index) {
                    Some(r) => break r,
                    None => break Err(Error::Timeout(timeout)),
                }
            }
        };
        primitive::leave(&self.waiters);
        result
    }

    /// Sets the broken bit if the barrier is still in generation `era` and not broken.
    /// Returns whether this call broke it. Wakes every waiter.
    fn break_generation(&self, era: u32) -> bool {
        let mut w = self.word.load(Ordering::SeqCst);
        loop {
            if generation(w) != era || w & BROKEN != 0 {
                return false;
            }
            match self
                .word
                .compare_exchange_weak(w, w | BROKEN, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    primitive::wake(&self.word, u32::MAX);
                    return true;
                }
                Err(now) => w = now,
            }
        }
    }

    /// Breaks the barrier: every waiter, and every later `wait` until
    /// [`reset`](Self::reset), gets [`Error::BrokenBarrier`].
    pub fn abort(&self) {
        let w = self.word.fetch_or(BROKEN, Ordering::SeqCst);
        if w & BROKEN == 0 {
            primitive::wake(&self.word, u32::MAX);
        }
    }

    /// Returns the barrier to its empty, working state. Parties waiting now get
    /// [`Error::BrokenBarrier`].
    pub fn reset(&self) {
        let mut w = self.word.load(Ordering::SeqCst);
        loop {
            match self.word.compare_exchange_weak(
                w,
                next_generation(w, true),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        if w & COUNT_MASK != 0 || primitive::has_waiters(&self.waiters) {
            primitive::wake(&self.word, u32::MAX);
        }
    }

    /// Whether the barrier is broken.
    pub fn is_broken(&self) -> bool {
        self.word.load(Ordering::Acquire) & BROKEN != 0
    }

    /// Parties waiting in the current generation.
    pub fn n_waiting(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & COUNT_MASK
    }

    /// The state, read without synchronizing (for display).
    pub fn snapshot(&self) -> BarrierSnapshot {
        BarrierSnapshot::decode(
            self.word.load(Ordering::Relaxed),
            self.waiters.load(Ordering::Relaxed),
            self.parties.load(Ordering::Relaxed),
        )
    }
}

/// What a waiter of generation `era` concludes from the word `now`, or `None` to keep
/// waiting.
fn passed(now: u32, era: u32, index: u32) -> Option<Result<u32>> {
    let g = generation(now);
    if g != era {
        // Exactly one generation later with the reset bit: the move was a reset. (More
        // than one later: a full generation completed after ours, which it could only do
        // after ours ended; we count it as passed.)
        if g == (era + 1) & GEN_MASK && now & RESET != 0 {
            return Some(Err(Error::BrokenBarrier("reset while this party waited")));
        }
        return Some(Ok(index));
    }
    if now & BROKEN != 0 {
        return Some(Err(Error::BrokenBarrier(
            "broken while this party waited (aborted or another party timed out)",
        )));
    }
    None
}

fn check_parties(parties: u32) -> Result<()> {
    if parties == 0 || parties > MAX_PARTIES {
        return Err(Error::InvalidArgument(format!(
            "a barrier needs 1 to {MAX_PARTIES} parties, found {parties}"
        )));
    }
    Ok(())
}

impl fmt::Debug for RawBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBarrier")
            .field("state", &self.snapshot())
            .finish()
    }
}

// SAFETY: all state is in atomics, accessed through shared references.
unsafe impl Sync for RawBarrier {}
// SAFETY: as above; no thread-affine data.
unsafe impl Send for RawBarrier {}

fn spec(parties: u32) -> Spec {
    Spec::control_only(
        Kind::Barrier,
        std::mem::size_of::<RawBarrier>(),
        [parties as u64, 0, 0, 0],
    )
}

fn init_with(parties: u32) -> impl FnOnce(&Segment) -> Result<()> {
    move |seg| {
        // SAFETY:
        // - the control block is a RawBarrier-sized, 64-byte aligned area of the new
        //   mapping.
        // - the segment is not ready yet, so no other process uses it.
        unsafe { RawBarrier::init(seg.control_ptr().cast(), parties) }
    }
}

/// A named (or anonymous) barrier, like Python's `multiprocessing.Barrier`.
///
/// ```
/// # let name = format!("doc-barrier-{}", std::process::id());
/// let b = shmkit::Barrier::create(&name, 1)?;
/// assert_eq!(b.wait()?, 0);
/// b.abort();
/// assert!(matches!(b.wait(), Err(shmkit::Error::BrokenBarrier(_))));
/// b.reset();
/// assert_eq!(b.wait()?, 0);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Barrier {
    seg: Segment,
}

impl Barrier {
    /// Creates a named barrier for `parties` parties.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0 or more than [`MAX_PARTIES`] parties; as
    /// [`Segment::create`].
    pub fn create(name: &str, parties: u32) -> Result<Barrier> {
        Self::create_with(name, parties, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, parties: u32, opts: &SegmentOptions) -> Result<Barrier> {
        check_parties(parties)?;
        let seg = segment::create_named(name, spec(parties), opts, init_with(parties))?;
        Ok(Barrier { seg })
    }

    /// Opens a named barrier.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`] if `name` is not a barrier.
    pub fn open(name: &str) -> Result<Barrier> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Barrier> {
        let seg = segment::open_control_only(
            name,
            opts,
            Kind::Barrier,
            std::mem::size_of::<RawBarrier>(),
        )?;
        Ok(Barrier { seg })
    }

    /// Opens `name`, creating a barrier for `parties` parties if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, parties: u32) -> Result<Barrier> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, parties),
            || Self::open(name),
        )
    }

    /// An unnamed barrier shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`Segment::anonymous`].
    pub fn anonymous(parties: u32) -> Result<Barrier> {
        check_parties(parties)?;
        let seg = segment::create_anonymous(spec(parties), init_with(parties))?;
        Ok(Barrier { seg })
    }

    /// The underlying raw barrier.
    pub fn raw(&self) -> &RawBarrier {
        // SAFETY:
        // - the control block was checked (on create or open) to be a RawBarrier's
        //   length, 64-byte aligned, inside the mapping that `self.seg` keeps alive.
        // - a RawBarrier is only accessed through atomics; any bytes are a valid value.
        unsafe { &*self.seg.control_ptr().cast::<RawBarrier>() }
    }

    /// See [`RawBarrier::parties`].
    ///
    /// # Errors
    /// As [`RawBarrier::parties`].
    pub fn parties(&self) -> Result<u32> {
        self.raw().parties()
    }

    /// See [`RawBarrier::wait`].
    ///
    /// # Errors
    /// As [`RawBarrier::wait`].
    pub fn wait(&self) -> Result<u32> {
        self.raw().wait()
    }

    /// See [`RawBarrier::wait_timeout`].
    ///
    /// # Errors
    /// As [`RawBarrier::wait_timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.raw().wait_timeout(timeout)
    }

    /// See [`RawBarrier::abort`].
    pub fn abort(&self) {
        self.raw().abort()
    }

    /// See [`RawBarrier::reset`].
    pub fn reset(&self) {
        self.raw().reset()
    }

    /// See [`RawBarrier::is_broken`].
    pub fn is_broken(&self) -> bool {
        self.raw().is_broken()
    }

    /// See [`RawBarrier::n_waiting`].
    pub fn n_waiting(&self) -> u32 {
        self.raw().n_waiting()
    }

    /// See [`RawBarrier::snapshot`].
    pub fn snapshot(&self) -> BarrierSnapshot {
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

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    /// Two rounds of a 2-party barrier: each round hands out indices 0 and 1, nobody
    /// passes before both arrived, and nobody sleeps through a completed round (loom
    /// reports a deadlock if a wake-up is skipped).
    #[test]
    fn loom_barrier_two_parties_two_rounds() {
        super::super::primitive::model(|| {
            let b = Arc::new(RawBarrier::new_for_model(2));
            let arrived = Arc::new(AtomicU32::new(0));
            let (b2, a2) = (b.clone(), arrived.clone());
            let t = loom::thread::spawn(move || {
                let mut got = [0; 2];
                for (round, slot) in got.iter_mut().enumerate() {
                    a2.fetch_add(1, Ordering::SeqCst);
                    *slot = b2.wait().unwrap();
                    assert!(a2.load(Ordering::SeqCst) >= 2 * (round as u32 + 1));
                }
                got
            });
            let mut mine = [0; 2];
            for (round, slot) in mine.iter_mut().enumerate() {
                arrived.fetch_add(1, Ordering::SeqCst);
                *slot = b.wait().unwrap();
                assert!(arrived.load(Ordering::SeqCst) >= 2 * (round as u32 + 1));
            }
            let theirs = t.join().unwrap();
            assert_eq!([mine[0] + theirs[0], mine[1] + theirs[1]], [1, 1]);
            assert!(!b.is_broken());
        });
    }

    /// An abort racing with a waiter: the waiter always returns (broken or passed).
    #[test]
    fn loom_barrier_abort_releases_waiter() {
        super::super::primitive::model(|| {
            let b = Arc::new(RawBarrier::new_for_model(2));
            let b2 = b.clone();
            let t = loom::thread::spawn(move || b2.wait());
            b.abort();
            assert!(matches!(t.join().unwrap(), Err(Error::BrokenBarrier(_))));
            assert!(b.is_broken());
        });
    }
}
