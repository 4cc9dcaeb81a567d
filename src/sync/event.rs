//! Events: [`RawEvent`] (placeable in any segment) and the named standalone [`Event`],
//! like Python's `multiprocessing.Event`.
//!
//! ## Algorithm
//! One 32-bit futex word: bit 0 is the flag, bits 1..32 a generation that every `set`
//! of a clear event advances. A waiter reads the word, registers in `waiters`, and sleeps
//! while the word is unchanged; it returns `true` when it sees the flag set or the
//! generation moved (a `set` happened, even if a `clear` followed before it ran). `set`
//! is one compare-and-swap and makes a wake-all system call only when `waiters` is
//! nonzero; `is_set`, and `wait` on a set event, make none.
//!
//! ## Crashes
//! A process killed while waiting leaves `waiters` one too high: later `set`s of a clear
//! event make one wake-up system call they did not need. Nothing else depends on it.
//!
//! ## Trust
//! Any word is a valid state; waits are bounded by their timeout.

use std::fmt;
use std::time::{Duration, Instant};

use super::primitive::{self, AtomicU32, Ordering};
use crate::error::Result;
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};

const FLAG: u32 = 1;

/// An event flag that can be placed in any segment. 64 bytes, 64-byte aligned.
///
/// All-zero bytes are a valid, clear event; [`RawEvent::init`] writes exactly that.
#[repr(C, align(64))]
pub struct RawEvent {
    /// Bit 0: set. Bits 1..32: generation. The futex word.
    word: AtomicU32,
    /// Processes sleeping (or about to) in `wait`.
    waiters: AtomicU32,
    _reserved: [u32; 14],
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<RawEvent>() == 64);

/// A snapshot of an event's state (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSnapshot {
    /// Whether the flag is set.
    pub is_set: bool,
    /// How many times the event went from clear to set (wrapping at 2^31).
    pub generation: u32,
    /// Processes recorded as waiting (may be high after a waiter was killed).
    pub waiters: u32,
}

impl EventSnapshot {
    fn decode(word: u32, waiters: u32) -> EventSnapshot {
        EventSnapshot {
            is_set: word & FLAG != 0,
            generation: word >> 1,
            waiters,
        }
    }

    /// Decodes a copy of a [`RawEvent`]'s bytes (`shmkit show` reads segments without
    /// mapping them). Any bytes decode; `None` only when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<EventSnapshot> {
        Some(Self::decode(
            primitive::u32_at(bytes, 0)?,
            primitive::u32_at(bytes, 4)?,
        ))
    }
}

impl RawEvent {
    /// Initializes a clear event (all-zero bytes).
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawEvent`, 64-byte aligned, in memory that
    ///   stays mapped while any process uses it.
    /// - No process uses this event yet.
    pub unsafe fn init(this: *mut RawEvent) {
        // SAFETY: `this` is valid for writes and unused (caller's contract); zero bytes
        // are a clear event.
        unsafe { std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawEvent>()) }
    }

    /// An event on the heap, for loom models.
    #[cfg(all(test, loom))]
    pub(crate) fn new_for_model() -> RawEvent {
        RawEvent {
            word: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            _reserved: [0; 14],
        }
    }

    /// Sets the flag and wakes every waiter. No system call when nobody waits.
    #[inline]
    pub fn set(&self) {
        let mut w = self.word.load(Ordering::SeqCst);
        loop {
            if w & FLAG != 0 {
                return;
            }
            let new = w.wrapping_add(2) | FLAG;
            match self
                .word
                .compare_exchange_weak(w, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        if primitive::has_waiters(&self.waiters) {
            self.wake_all();
        }
    }

    #[inline(never)]
    fn wake_all(&self) {
        primitive::wake(&self.word, u32::MAX);
    }

    /// Clears the flag.
    #[inline]
    pub fn clear(&self) {
        self.word.fetch_and(!FLAG, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) & FLAG != 0
    }

    /// Waits until the flag is set.
    #[inline]
    pub fn wait(&self) {
        if !self.is_set() {
            self.wait_until(None);
        }
    }

    /// Waits at most `timeout` for the flag; returns whether it was set (`false`: timed
    /// out), like Python's `Event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(primitive::deadline(Some(timeout)).or(Some(super::semaphore::far_future())))
    }

    #[inline(never)]
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let start = self.word.load(Ordering::Acquire);
        if start & FLAG != 0 {
            return true;
        }
        if primitive::spin_until(|| self.word.load(Ordering::Acquire) != start) {
            return true;
        }
        primitive::enter(&self.waiters);
        let set = loop {
            let now = self.word.load(Ordering::SeqCst);
            if now & FLAG != 0 || now >> 1 != start >> 1 {
                break true;
            }
            if !primitive::sleep(&self.word, now, deadline) {
                break false;
            }
        };
        primitive::leave(&self.waiters);
        set
    }

    /// The state, read without synchronizing (for display).
    pub fn snapshot(&self) -> EventSnapshot {
        EventSnapshot::decode(
            self.word.load(Ordering::Relaxed),
            self.waiters.load(Ordering::Relaxed),
        )
    }
}

impl fmt::Debug for RawEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawEvent")
            .field("state", &self.snapshot())
            .finish()
    }
}

// SAFETY: all state is in atomics, accessed through shared references.
unsafe impl Sync for RawEvent {}
// SAFETY: as above; no thread-affine data.
unsafe impl Send for RawEvent {}

fn spec() -> Spec {
    Spec::control_only(Kind::Event, std::mem::size_of::<RawEvent>(), [0; 4])
}

fn init_in(seg: &Segment) -> Result<()> {
    // SAFETY:
    // - the control block is a RawEvent-sized, 64-byte aligned area of the new mapping.
    // - the segment is not ready yet, so no other process uses it.
    unsafe { RawEvent::init(seg.control_ptr().cast()) };
    Ok(())
}

/// A named (or anonymous) event, like Python's `multiprocessing.Event`.
///
/// ```
/// # let name = format!("doc-event-{}", std::process::id());
/// let ev = shmkit::Event::create(&name)?;
/// assert!(!ev.wait_timeout(std::time::Duration::from_millis(1)));
/// shmkit::Event::open(&name)?.set();
/// assert!(ev.is_set());
/// ev.wait();
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Event {
    seg: Segment,
}

impl Event {
    /// Creates a named, clear event.
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create(name: &str) -> Result<Event> {
        Self::create_with(name, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create_with(name: &str, opts: &SegmentOptions) -> Result<Event> {
        let seg = segment::create_named(name, spec(), opts, init_in)?;
        Ok(Event { seg })
    }

    /// Opens a named event.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`](crate::Error::KindMismatch) if
    /// `name` is not an event.
    pub fn open(name: &str) -> Result<Event> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Event> {
        let seg =
            segment::open_control_only(name, opts, Kind::Event, std::mem::size_of::<RawEvent>())?;
        Ok(Event { seg })
    }

    /// Opens `name`, creating a clear event if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str) -> Result<Event> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name),
            || Self::open(name),
        )
    }

    /// An unnamed event shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous() -> Result<Event> {
        let seg = segment::create_anonymous(spec(), init_in)?;
        Ok(Event { seg })
    }

    /// The underlying raw event.
    #[inline]
    pub fn raw(&self) -> &RawEvent {
        // SAFETY:
        // - the control block was checked (on create or open) to be a RawEvent's length,
        //   64-byte aligned, inside the mapping that `self.seg` keeps alive.
        // - a RawEvent is only accessed through atomics; any bytes are a valid value.
        unsafe { &*self.seg.control_ptr().cast::<RawEvent>() }
    }

    /// See [`RawEvent::set`].
    #[inline]
    pub fn set(&self) {
        self.raw().set()
    }

    /// See [`RawEvent::clear`].
    #[inline]
    pub fn clear(&self) {
        self.raw().clear()
    }

    /// See [`RawEvent::is_set`].
    #[inline]
    pub fn is_set(&self) -> bool {
        self.raw().is_set()
    }

    /// See [`RawEvent::wait`].
    #[inline]
    pub fn wait(&self) {
        self.raw().wait()
    }

    /// See [`RawEvent::wait_timeout`].
    #[inline]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.raw().wait_timeout(timeout)
    }

    /// See [`RawEvent::snapshot`].
    pub fn snapshot(&self) -> EventSnapshot {
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

    /// Two waiters return once the event is set, whatever the interleaving: a set
    /// racing with a waiter going to sleep is never lost (loom reports a deadlock if
    /// `set` skips a needed wake-up).
    #[test]
    fn loom_event_set_releases_all_waiters() {
        super::super::primitive::model(|| {
            let ev = Arc::new(RawEvent::new_for_model());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let ev = ev.clone();
                    loom::thread::spawn(move || ev.wait())
                })
                .collect();
            ev.set();
            for w in waiters {
                w.join().unwrap();
            }
            assert!(ev.is_set());
        });
    }

    /// set, clear, set again while a waiter may be asleep: the waiter returns, because
    /// it sees the flag or a new generation.
    #[test]
    fn loom_event_set_clear_set_releases_waiter() {
        super::super::primitive::model(|| {
            let ev = Arc::new(RawEvent::new_for_model());
            let e2 = ev.clone();
            let waiter = loom::thread::spawn(move || e2.wait());
            ev.set();
            ev.clear();
            ev.set();
            waiter.join().unwrap();
        });
    }
}
