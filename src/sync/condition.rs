//! Condition variables: [`RawCondition`] (placeable in any segment, paired with any
//! [`RawMutex`]) and the named standalone [`Condition`], which carries its own robust
//! mutex, like Python's `multiprocessing.Condition`.
//!
//! ## Algorithm
//! A futex sequence counter. `wait` reads `seq` while holding the mutex, registers in
//! `waiters`, unlocks, sleeps while `seq` is unchanged, then relocks. `notify_*` bump
//! `seq` and make a wake-up system call only when `waiters` is nonzero. A notification
//! after the waiter read `seq` changes it, so the futex does not sleep on a stale value:
//! no wake-up is lost. Waits may return spuriously (as with every condition variable):
//! use [`wait_while`](RawCondition::wait_while) / [`wait_for`](RawCondition::wait_for)
//! or re-check your predicate.
//!
//! ## Owner death
//! The relock after a wait goes through the robust mutex: if a process died holding it,
//! the wait returns [`LockError::OwnerDied`] with the lock held, exactly like `lock`.
//!
//! ## Crashes
//! A waiter killed while sleeping leaves `waiters` one too high (an extra wake-up system
//! call later). A waiter killed just after `notify_one` picked it consumes that
//! notification; the other waiters re-check `seq` at least every 100 ms and return, so
//! nobody who waits with a predicate is stranded.

use std::fmt;
use std::time::{Duration, Instant};

use super::mutex::{LockError, LockResult, MutexGuard, MutexSnapshot, RawMutex, RawMutexGuard};
use super::primitive::{self, AtomicU32, Ordering};
use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};

/// A condition variable that can be placed in any segment. 64 bytes, 64-byte aligned.
///
/// All-zero bytes are a valid condition; [`RawCondition::init`] writes exactly that.
/// Always use it with the same [`RawMutex`].
#[repr(C, align(64))]
pub struct RawCondition {
    /// Bumped by every notify. The futex word.
    seq: AtomicU32,
    /// Processes sleeping (or about to) in `wait`.
    waiters: AtomicU32,
    _reserved: [u32; 14],
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<RawCondition>() == 64);

/// A snapshot of a condition's state (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionSnapshot {
    /// The notification sequence number (wrapping).
    pub seq: u32,
    /// Processes recorded as waiting (may be high after a waiter was killed).
    pub waiters: u32,
}

impl ConditionSnapshot {
    /// Decodes a copy of a [`RawCondition`]'s bytes. Any bytes decode; `None` only when
    /// `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<ConditionSnapshot> {
        Some(ConditionSnapshot {
            seq: primitive::u32_at(bytes, 0)?,
            waiters: primitive::u32_at(bytes, 4)?,
        })
    }
}

/// The outcome of a timed wait: the guard and whether the wait ended by notification
/// (`true`) or by timeout (`false`), or a relock error.
pub type WaitTimeoutResult<'a> =
    std::result::Result<(RawMutexGuard<'a>, bool), LockError<RawMutexGuard<'a>>>;

impl RawCondition {
    /// Initializes the condition (all-zero bytes).
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawCondition`, 64-byte aligned, in memory that
    ///   stays mapped while any process uses it.
    /// - No process uses this condition yet.
    pub unsafe fn init(this: *mut RawCondition) {
        // SAFETY: `this` is valid for writes and unused (caller's contract); zero bytes
        // are a valid condition.
        unsafe { std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawCondition>()) }
    }

    /// Releases the mutex, waits for a notification, and relocks.
    ///
    /// # Errors
    /// As [`RawMutex::lock`] for the relock (owner died: the lock is held).
    pub fn wait<'a>(&self, guard: RawMutexGuard<'a>) -> LockResult<RawMutexGuard<'a>> {
        self.wait_inner(guard, None).map(|(g, _)| g)
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`; returns the guard and
    /// whether a notification arrived (`false`: timed out).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout<'a>(
        &self,
        guard: RawMutexGuard<'a>,
        timeout: Duration,
    ) -> WaitTimeoutResult<'a> {
        let deadline = primitive::deadline(Some(timeout)).or(Some(super::semaphore::far_future()));
        self.wait_inner(guard, deadline)
    }

    /// Waits while `condition()` is true (checked under the lock); returns when it is
    /// false. Spurious wake-ups are absorbed.
    ///
    /// # Errors
    /// As [`wait`](Self::wait); an owner-died relock is returned at once.
    pub fn wait_while<'a>(
        &self,
        mut guard: RawMutexGuard<'a>,
        mut condition: impl FnMut() -> bool,
    ) -> LockResult<RawMutexGuard<'a>> {
        while condition() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Python's `wait_for(predicate, timeout)`: waits until `predicate()` is true
    /// (checked under the lock) or the timeout passes; returns the guard and the
    /// predicate's last value.
    ///
    /// # Errors
    /// As [`wait`](Self::wait); an owner-died relock is returned at once.
    pub fn wait_for<'a>(
        &self,
        mut guard: RawMutexGuard<'a>,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> WaitTimeoutResult<'a> {
        let deadline = match timeout {
            None => None,
            Some(t) => primitive::deadline(Some(t)).or(Some(super::semaphore::far_future())),
        };
        loop {
            if predicate() {
                return Ok((guard, true));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok((guard, false));
            }
            guard = self.wait_inner(guard, deadline)?.0;
        }
    }

    fn wait_inner<'a>(
        &self,
        guard: RawMutexGuard<'a>,
        deadline: Option<Instant>,
    ) -> WaitTimeoutResult<'a> {
        let mutex = guard.mutex();
        let seq = self.seq.load(Ordering::SeqCst);
        primitive::enter(&self.waiters);
        drop(guard);
        let notified = loop {
            if self.seq.load(Ordering::SeqCst) != seq {
                break true;
            }
            if !primitive::sleep(&self.seq, seq, deadline) {
                break false;
            }
        };
        primitive::leave(&self.waiters);
        mutex.lock().map(|g| (g, notified))
    }

    /// Wakes one waiter (call it with the mutex held, as in Python, or not: both are
    /// sound).
    pub fn notify_one(&self) {
        self.notify(1)
    }

    /// Wakes up to `n` waiters.
    pub fn notify(&self, n: u32) {
        if n == 0 {
            return;
        }
        self.seq.fetch_add(1, Ordering::SeqCst);
        if primitive::has_waiters(&self.waiters) {
            primitive::wake(&self.seq, n);
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.notify(u32::MAX)
    }

    /// The state, read without synchronizing (for display).
    pub fn snapshot(&self) -> ConditionSnapshot {
        ConditionSnapshot {
            seq: self.seq.load(Ordering::Relaxed),
            waiters: self.waiters.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for RawCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCondition")
            .field("state", &self.snapshot())
            .finish()
    }
}

// SAFETY: all state is in atomics, accessed through shared references.
unsafe impl Sync for RawCondition {}
// SAFETY: as above; no thread-affine data.
unsafe impl Send for RawCondition {}

/// The control block of a standalone [`Condition`]: its mutex, then the condition.
#[repr(C, align(64))]
struct ConditionBlock {
    mutex: RawMutex,
    cond: RawCondition,
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<ConditionBlock>() == 192);

fn spec() -> Spec {
    Spec::control_only(
        Kind::Condition,
        std::mem::size_of::<ConditionBlock>(),
        [0; 4],
    )
}

fn init_in(seg: &Segment) -> Result<()> {
    let block = seg.control_ptr().cast::<ConditionBlock>();
    // SAFETY:
    // - the control block is a ConditionBlock-sized, 64-byte aligned area of the new
    //   mapping; both fields are 64-byte aligned inside it.
    // - the segment is not ready yet, so no other process uses it.
    unsafe {
        RawCondition::init(std::ptr::addr_of_mut!((*block).cond));
        RawMutex::init(std::ptr::addr_of_mut!((*block).mutex))
    }
}

/// A snapshot of a standalone condition: its mutex and its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionBlockSnapshot {
    /// The mutex's state.
    pub mutex: MutexSnapshot,
    /// The condition's state.
    pub condition: ConditionSnapshot,
}

impl ConditionBlockSnapshot {
    /// Decodes a copy of a standalone [`Condition`]'s control block (its
    /// [`RawMutex`] at offset 0, its [`RawCondition`] at offset 128). Any bytes decode;
    /// `None` only when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<ConditionBlockSnapshot> {
        let cond_at = std::mem::size_of::<RawMutex>();
        Some(ConditionBlockSnapshot {
            mutex: MutexSnapshot::from_bytes(bytes)?,
            condition: ConditionSnapshot::from_bytes(bytes.get(cond_at..)?)?,
        })
    }
}

/// A named (or anonymous) condition with its own robust mutex, like Python's
/// `multiprocessing.Condition()`.
///
/// ```
/// # let name = format!("doc-cond-{}", std::process::id());
/// let cond = shmkit::Condition::create(&name)?;
/// let guard = cond.lock()?;
/// let (guard, notified) = cond.wait_timeout(guard, std::time::Duration::from_millis(1))?;
/// assert!(!notified);
/// cond.notify_all();
/// drop(guard);
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Condition {
    seg: Segment,
}

impl Condition {
    /// Creates a named condition and its mutex.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::Io`] if the mutex cannot be initialized.
    pub fn create(name: &str) -> Result<Condition> {
        Self::create_with(name, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, opts: &SegmentOptions) -> Result<Condition> {
        let seg = segment::create_named(name, spec(), opts, init_in)?;
        Ok(Condition { seg })
    }

    /// Opens a named condition.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`] if `name` is not a condition.
    pub fn open(name: &str) -> Result<Condition> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Condition> {
        let seg = segment::open_control_only(
            name,
            opts,
            Kind::Condition,
            std::mem::size_of::<ConditionBlock>(),
        )?;
        Ok(Condition { seg })
    }

    /// Opens `name`, creating it if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str) -> Result<Condition> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name),
            || Self::open(name),
        )
    }

    /// An unnamed condition shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous() -> Result<Condition> {
        let seg = segment::create_anonymous(spec(), init_in)?;
        Ok(Condition { seg })
    }

    fn block(&self) -> &ConditionBlock {
        // SAFETY:
        // - the control block was checked (on create or open) to be a ConditionBlock's
        //   length, 64-byte aligned, inside the mapping that `self.seg` keeps alive.
        // - both fields are only accessed through atomics and the pthread API.
        unsafe { &*self.seg.control_ptr().cast::<ConditionBlock>() }
    }

    /// The condition's mutex.
    pub fn mutex(&self) -> &RawMutex {
        &self.block().mutex
    }

    /// The underlying raw condition.
    pub fn raw(&self) -> &RawCondition {
        &self.block().cond
    }

    /// Locks the condition's mutex. See [`RawMutex::lock`].
    ///
    /// # Errors
    /// As [`RawMutex::lock`].
    pub fn lock(&self) -> LockResult<MutexGuard<'_>> {
        self.mutex().lock()
    }

    /// See [`RawMutex::lock_timeout`].
    ///
    /// # Errors
    /// As [`RawMutex::lock_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<MutexGuard<'_>> {
        self.mutex().lock_timeout(timeout)
    }

    /// See [`RawMutex::try_lock`].
    ///
    /// # Errors
    /// As [`RawMutex::try_lock`].
    pub fn try_lock(&self) -> LockResult<MutexGuard<'_>> {
        self.mutex().try_lock()
    }

    fn check<'a>(&self, guard: &RawMutexGuard<'a>) -> std::result::Result<(), Error> {
        if std::ptr::eq(guard.mutex(), self.mutex()) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the guard passed to Condition::wait must be of this condition's own mutex, found another mutex's guard".into(),
            ))
        }
    }

    /// See [`RawCondition::wait`].
    ///
    /// # Errors
    /// As [`RawCondition::wait`]; [`Error::InvalidArgument`] if `guard` is not of
    /// this condition's mutex (that guard is dropped, its lock released).
    pub fn wait<'a>(&'a self, guard: MutexGuard<'a>) -> LockResult<MutexGuard<'a>> {
        self.check(&guard).map_err(LockError::Failed)?;
        self.raw().wait(guard)
    }

    /// See [`RawCondition::wait_timeout`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout<'a>(
        &'a self,
        guard: MutexGuard<'a>,
        timeout: Duration,
    ) -> WaitTimeoutResult<'a> {
        self.check(&guard).map_err(LockError::Failed)?;
        self.raw().wait_timeout(guard, timeout)
    }

    /// See [`RawCondition::wait_while`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_while<'a>(
        &'a self,
        guard: MutexGuard<'a>,
        condition: impl FnMut() -> bool,
    ) -> LockResult<MutexGuard<'a>> {
        self.check(&guard).map_err(LockError::Failed)?;
        self.raw().wait_while(guard, condition)
    }

    /// See [`RawCondition::wait_for`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_for<'a>(
        &'a self,
        guard: MutexGuard<'a>,
        predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> WaitTimeoutResult<'a> {
        self.check(&guard).map_err(LockError::Failed)?;
        self.raw().wait_for(guard, predicate, timeout)
    }

    /// See [`RawCondition::notify_one`].
    pub fn notify_one(&self) {
        self.raw().notify_one()
    }

    /// See [`RawCondition::notify`].
    pub fn notify(&self, n: u32) {
        self.raw().notify(n)
    }

    /// See [`RawCondition::notify_all`].
    pub fn notify_all(&self) {
        self.raw().notify_all()
    }

    /// The mutex's and the condition's state, read without locking.
    pub fn snapshot(&self) -> ConditionBlockSnapshot {
        ConditionBlockSnapshot {
            mutex: self.mutex().snapshot(),
            condition: self.raw().snapshot(),
        }
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
