//! Re-entrant locks: [`RawRLock`] (placeable in any segment) and the named standalone
//! [`RLock`], like Python's `multiprocessing.RLock`.
//!
//! ## Design
//! The robust [`RawMutex`] plus an owner identity (pid and thread id) and a recursion
//! count. The first acquire by a thread locks the mutex and records the thread; a
//! further acquire by the same thread only increments the count (no system call, no
//! lock word change); each release decrements it and the last one unlocks. A thread is
//! taken as the owner only if the recorded pid and tid are its own **and** the pthread
//! lock word names its tid, so a stale record (its owner died, its pid was reused) never
//! lets a thread in without the mutex.
//!
//! ## Owner death
//! Through the robust mutex: when the owning process (or thread) dies, whatever its
//! count, the next acquirer gets the lock with [`LockError::OwnerDied`], a count of 1,
//! and itself as the owner.
//!
//! ## Wrong-owner release
//! [`RawRLock::release`] by a thread that does not hold the lock is
//! [`Error::NotOwner`] and changes nothing.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::mutex::{Guard, LockError, LockResult, MutexSnapshot, RawMutex, sealed};
use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};
use crate::sys;

/// A robust re-entrant lock that can be placed in any segment. 192 bytes, 64-byte
/// aligned.
///
/// Initialize it once with [`RawRLock::init`] before any process uses it.
#[repr(C, align(64))]
pub struct RawRLock {
    mutex: RawMutex,
    /// Pid of the owner, 0 when free.
    owner_pid: AtomicU32,
    /// Thread id of the owner, 0 when free.
    owner_tid: AtomicU32,
    /// Recursion depth of the owner, 0 when free.
    count: AtomicU32,
    _reserved: [u32; 13],
}

const _: () = assert!(std::mem::size_of::<RawRLock>() == 192);

/// A snapshot of a re-entrant lock's state (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RLockSnapshot {
    /// The underlying robust mutex.
    pub mutex: MutexSnapshot,
    /// Pid of the owner, 0 when free.
    pub owner_pid: u32,
    /// Thread id of the owner, 0 when free.
    pub owner_tid: u32,
    /// Recursion depth, 0 when free.
    pub count: u32,
}

impl RLockSnapshot {
    /// Decodes a copy of a [`RawRLock`]'s bytes (`shmkit show` reads segments without
    /// mapping them). Any bytes decode; `None` only when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<RLockSnapshot> {
        let at = |off: usize| {
            let b = bytes.get(off..off + 4)?;
            Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(RLockSnapshot {
            mutex: MutexSnapshot::from_bytes(bytes)?,
            owner_pid: at(std::mem::offset_of!(RawRLock, owner_pid))?,
            owner_tid: at(std::mem::offset_of!(RawRLock, owner_tid))?,
            count: at(std::mem::offset_of!(RawRLock, count))?,
        })
    }
}

impl RawRLock {
    /// Initializes the lock in place.
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawRLock`, 64-byte aligned, in memory that
    ///   stays mapped while any process uses it.
    /// - No process uses this lock yet.
    ///
    /// # Errors
    /// As [`RawMutex::init`].
    pub unsafe fn init(this: *mut RawRLock) -> Result<()> {
        // SAFETY:
        // - `this` is valid for writes and unused (caller's contract); the mutex field
        //   is at offset 0, 64-byte aligned, and unused too.
        // - zero bytes are the free state of the owner fields.
        unsafe {
            std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawRLock>());
            RawMutex::init(std::ptr::addr_of_mut!((*this).mutex))
        }
    }

    fn held_by_caller(&self, pid: u32, tid: u32) -> bool {
        self.owner_pid.load(Ordering::Relaxed) == pid
            && self.owner_tid.load(Ordering::Relaxed) == tid
            && self.count.load(Ordering::Relaxed) != 0
            && self.mutex.held_by_current_thread()
    }

    fn acquire_with(
        &self,
        lock: impl FnOnce(&RawMutex) -> LockResult<super::RawMutexGuard<'_>>,
    ) -> LockResult<RLockGuard<'_>> {
        let (pid, tid) = (sys::cached_pid(), sys::cached_tid());
        if self.held_by_caller(pid, tid) {
            let c = self.count.load(Ordering::Relaxed);
            let Some(c) = c.checked_add(1) else {
                return Err(LockError::Failed(Error::InvalidArgument(format!(
                    "re-entrant lock acquired too many times: at most {} nested holds, found {c}",
                    u32::MAX
                ))));
            };
            self.count.store(c, Ordering::Relaxed);
            return Ok(self.guard());
        }
        let take = |g: super::RawMutexGuard<'_>| {
            std::mem::forget(g);
            self.owner_pid.store(pid, Ordering::Relaxed);
            self.owner_tid.store(tid, Ordering::Relaxed);
            self.count.store(1, Ordering::Relaxed);
            self.guard()
        };
        match lock(&self.mutex) {
            Ok(g) => Ok(take(g)),
            Err(e) => Err(e.map(take)),
        }
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Acquires the lock, blocking; re-entrant for the owning thread.
    ///
    /// # Errors
    /// As [`RawMutex::lock`]: [`LockError::OwnerDied`] (held; the previous owner died),
    /// or [`LockError::Failed`].
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        self.acquire_with(|m| m.lock())
    }

    /// Like [`lock`](Self::lock), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::Timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<RLockGuard<'_>> {
        self.acquire_with(|m| m.lock_timeout(timeout))
    }

    /// Acquires the lock only if it is free or held by this thread.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::WouldBlock`].
    pub fn try_lock(&self) -> LockResult<RLockGuard<'_>> {
        self.acquire_with(|m| m.try_lock())
    }

    /// `Err(NotOwner)` naming the recorded owner and the caller, unless the calling
    /// thread holds the lock.
    fn check_caller_holds(&self) -> Result<()> {
        let (pid, tid) = (sys::cached_pid(), sys::cached_tid());
        if self.held_by_caller(pid, tid) {
            return Ok(());
        }
        Err(Error::NotOwner {
            owner_pid: self.owner_pid.load(Ordering::Relaxed),
            owner_tid: self.owner_tid.load(Ordering::Relaxed),
            pid,
            tid,
        })
    }

    /// Releases one level of the caller's hold (Python's `release()`), for holds kept
    /// with [`RLockGuard::leak`].
    ///
    /// # Errors
    /// [`Error::NotOwner`] if the calling thread does not hold the lock (nothing
    /// changes); [`Error::Io`] if the mutex refuses the unlock.
    pub fn release(&self) -> Result<()> {
        self.check_caller_holds()?;
        let c = self.count.load(Ordering::Relaxed);
        if c > 1 {
            self.count.store(c - 1, Ordering::Relaxed);
            return Ok(());
        }
        self.count.store(0, Ordering::Relaxed);
        self.owner_pid.store(0, Ordering::Relaxed);
        self.owner_tid.store(0, Ordering::Relaxed);
        // SAFETY: this thread holds the mutex (checked above against the lock word), and
        // its guard was forgotten when the hold began; no guard of this hold exists.
        unsafe { self.mutex.unlock_unguarded() }
    }

    /// Clears the "needs repair" flag of a lock this thread holds without a guard
    /// (holds kept with [`RLockGuard::leak`], as the C API does); the guard form is
    /// [`Guard::mark_consistent`].
    ///
    /// # Errors
    /// [`Error::NotOwner`] if the calling thread does not hold the lock.
    #[doc(hidden)]
    pub fn mark_consistent_unguarded(&self) -> Result<()> {
        self.check_caller_holds()?;
        self.mutex.mark_consistent_unguarded()
    }

    /// Whether the calling thread holds the lock.
    pub fn is_owned(&self) -> bool {
        self.held_by_caller(sys::cached_pid(), sys::cached_tid())
    }

    /// The state, read without locking (for display).
    pub fn snapshot(&self) -> RLockSnapshot {
        RLockSnapshot {
            mutex: self.mutex.snapshot(),
            owner_pid: self.owner_pid.load(Ordering::Relaxed),
            owner_tid: self.owner_tid.load(Ordering::Relaxed),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for RawRLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRLock")
            .field("state", &self.snapshot())
            .finish()
    }
}

// SAFETY: the mutex is Sync, the other fields are atomics.
unsafe impl Sync for RawRLock {}
// SAFETY: as above; no thread-affine data.
unsafe impl Send for RawRLock {}

/// One level of a thread's hold on a [`RawRLock`]; releases that level on drop.
///
/// Not `Send`: the hold belongs to the thread that acquired it.
#[must_use = "the hold is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RawRLock,
    _not_send: PhantomData<*const ()>,
}

impl<'a> RLockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &'a RawRLock {
        self.lock
    }

    /// Keeps this level held after the guard goes away (Python-style acquire); release
    /// it later with [`RawRLock::release`] from the same thread.
    pub fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // Only fails if another process rewrote the owner fields; nothing sound to do in
        // a destructor.
        let _ = self.lock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RLockGuard { .. }")
    }
}

impl sealed::Sealed for RLockGuard<'_> {}
impl Guard for RLockGuard<'_> {
    fn mark_consistent(&mut self) {
        // Only fails if this thread does not hold the mutex, which a live guard rules out.
        let _ = self.lock.mutex.mark_consistent_unguarded();
    }
}

fn spec() -> Spec {
    Spec::control_only(Kind::RLock, std::mem::size_of::<RawRLock>(), [0; 4])
}

fn init_in(seg: &Segment) -> Result<()> {
    // SAFETY:
    // - the control block is a RawRLock-sized, 64-byte aligned area of the new mapping.
    // - the segment is not ready yet, so no other process uses it.
    unsafe { RawRLock::init(seg.control_ptr().cast()) }
}

/// A named (or anonymous) robust re-entrant lock, like Python's `multiprocessing.RLock`.
///
/// ```
/// # let name = format!("doc-rlock-{}", std::process::id());
/// let l = shmkit::RLock::create(&name)?;
/// let outer = l.lock()?;
/// let inner = l.lock()?; // the same thread may re-enter
/// assert_eq!(l.snapshot().count, 2);
/// drop(inner);
/// drop(outer);
/// assert!(matches!(l.release(), Err(shmkit::Error::NotOwner { .. })));
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct RLock {
    seg: Segment,
}

impl RLock {
    /// Creates a named re-entrant lock.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::Io`] if the mutex cannot be initialized.
    pub fn create(name: &str) -> Result<RLock> {
        Self::create_with(name, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, opts: &SegmentOptions) -> Result<RLock> {
        let seg = segment::create_named(name, spec(), opts, init_in)?;
        Ok(RLock { seg })
    }

    /// Opens a named re-entrant lock.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`] if `name` is not an rlock.
    pub fn open(name: &str) -> Result<RLock> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<RLock> {
        let seg =
            segment::open_control_only(name, opts, Kind::RLock, std::mem::size_of::<RawRLock>())?;
        Ok(RLock { seg })
    }

    /// Opens `name`, creating it if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str) -> Result<RLock> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name),
            || Self::open(name),
        )
    }

    /// An unnamed re-entrant lock shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous() -> Result<RLock> {
        let seg = segment::create_anonymous(spec(), init_in)?;
        Ok(RLock { seg })
    }

    /// The underlying raw lock.
    pub fn raw(&self) -> &RawRLock {
        // SAFETY:
        // - the control block was checked (on create or open) to be a RawRLock's length,
        //   64-byte aligned, inside the mapping that `self.seg` keeps alive.
        // - a RawRLock is only accessed through atomics and the pthread API.
        unsafe { &*self.seg.control_ptr().cast::<RawRLock>() }
    }

    /// See [`RawRLock::lock`].
    ///
    /// # Errors
    /// As [`RawRLock::lock`].
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        self.raw().lock()
    }

    /// See [`RawRLock::lock_timeout`].
    ///
    /// # Errors
    /// As [`RawRLock::lock_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<RLockGuard<'_>> {
        self.raw().lock_timeout(timeout)
    }

    /// See [`RawRLock::try_lock`].
    ///
    /// # Errors
    /// As [`RawRLock::try_lock`].
    pub fn try_lock(&self) -> LockResult<RLockGuard<'_>> {
        self.raw().try_lock()
    }

    /// See [`RawRLock::release`].
    ///
    /// # Errors
    /// As [`RawRLock::release`].
    pub fn release(&self) -> Result<()> {
        self.raw().release()
    }

    /// See [`RawRLock::is_owned`].
    pub fn is_owned(&self) -> bool {
        self.raw().is_owned()
    }

    /// See [`RawRLock::snapshot`].
    pub fn snapshot(&self) -> RLockSnapshot {
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
