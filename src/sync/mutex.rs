//! The robust, process-shared mutex: [`RawMutex`] (placeable in any segment) and the
//! named standalone [`Mutex`].
//!
//! Built on a pthread mutex with `PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST` and
//! `PTHREAD_MUTEX_ERRORCHECK`: the kernel's robust list tells the next locker when an
//! owner died holding the lock, and relocking from the owning thread is an error instead
//! of a deadlock.
//!
//! ## Owner death
//! When a process dies holding the lock, the next `lock` acquires it and returns
//! [`LockError::OwnerDied`]. The data the lock protects may be half-updated. The caller
//! repairs it and calls [`OwnerDied::recover`], which clears the "needs repair" flag; or
//! takes the guard with [`OwnerDied::into_guard`] and leaves the flag set, so that every
//! later locker is told too until someone recovers. Nothing deadlocks either way.
//!
//! ## Trust
//! The pthread mutex's bytes belong to the C library, which trusts them. Before every
//! lock shmkit checks the mutex's type word against the one it initialized, so garbage
//! written over an idle mutex gives [`Error::NotRecoverable`] instead of reaching glibc
//! (which would abort on, say, a bogus "priority protect" type). What cannot be checked:
//! a process with write access that rewrites a mutex *while another process holds it*
//! can make that holder's unlock fail or crash (glibc follows the list pointers stored
//! in the mutex). Such a writer can also simply hold the lock forever; give write access
//! only to processes you trust not to scribble. shmkit's own fields (owner pid, repair
//! flag) are plain atomics, read defensively.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions, Spec};
use crate::sys::{self, LockOutcome, PTHREAD_MUTEX_BYTES};

/// A robust process-shared mutex that can be placed in any segment, including inside a
/// `#[repr(C)]` struct of your own. 128 bytes, 64-byte aligned.
///
/// Initialize it once with [`RawMutex::init`] before any process uses it.
#[repr(C, align(64))]
pub struct RawMutex {
    pthread: UnsafeCell<[u64; PTHREAD_MUTEX_BYTES / 8]>,
    /// 1 while the protected data may need repair (an owner died, nobody recovered yet).
    needs_repair: AtomicU32,
    /// How many times an owner died holding this lock.
    owner_deaths: AtomicU32,
    /// Pid of the holder, 0 when free; informational (for `shmkit show`), written after
    /// locking and cleared before unlocking.
    owner_pid: AtomicU32,
    _reserved: [u32; 13],
}

const _: () = assert!(std::mem::size_of::<RawMutex>() == 128);

// SAFETY: all state is in atomics or in the pthread mutex, which is designed to be used
// from many threads (and processes) at once through shared references.
unsafe impl Sync for RawMutex {}
// SAFETY: as above; the struct holds no thread-affine data.
unsafe impl Send for RawMutex {}

/// A snapshot of a mutex's state, read without taking the lock (for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutexSnapshot {
    /// Whether the lock word says the lock is held (glibc: owner thread id nonzero).
    pub locked: bool,
    /// Thread id of the holder from the lock word, 0 when free.
    pub owner_tid: u32,
    /// Process id of the holder as it recorded itself (kept when the holder died
    /// holding the lock), or, before it did, the process of the thread in the lock word;
    /// `None` when free or unknown.
    pub owner_pid: Option<u32>,
    /// Whether an owner died and the data has not been marked consistent since.
    pub needs_repair: bool,
    /// How many owners died holding the lock.
    pub owner_deaths: u32,
    /// The kernel marked the lock word "owner died" (the holder exited holding it and
    /// nobody has locked it since); the next locker is told.
    pub owner_died_pending: bool,
    /// The lock word says threads are (or were recently) sleeping on it.
    pub waiters: bool,
}

/// glibc's lock word: the owner's thread id in the low bits, two flag bits on top.
const LOCK_WORD_TID_MASK: u32 = 0x3fff_ffff;
const LOCK_WORD_OWNER_DIED: u32 = 0x4000_0000;
const LOCK_WORD_WAITERS: u32 = 0x8000_0000;

impl MutexSnapshot {
    fn decode(word: u32, needs_repair: u32, deaths: u32, pid: u32) -> Self {
        let tid = word & LOCK_WORD_TID_MASK;
        MutexSnapshot {
            locked: tid != 0,
            owner_tid: tid,
            // The recorded pid survives its holder's death (the kernel clears the tid
            // from the lock word then); before it is recorded, ask /proc about the tid.
            owner_pid: match (pid, tid) {
                (0, 0) => None,
                (0, tid) => sys::tid_to_pid(tid),
                (pid, _) => Some(pid),
            },
            needs_repair: needs_repair != 0,
            owner_deaths: deaths,
            owner_died_pending: word & LOCK_WORD_OWNER_DIED != 0,
            waiters: word & LOCK_WORD_WAITERS != 0,
        }
    }

    /// Decodes a snapshot from a copy of a [`RawMutex`]'s bytes (how `shmkit show` reads
    /// a lock without mapping it writable or locking it). Any bytes decode; `None` only
    /// when `bytes` is shorter than a `RawMutex`.
    pub fn from_bytes(bytes: &[u8]) -> Option<MutexSnapshot> {
        if bytes.len() < std::mem::size_of::<RawMutex>() {
            return None;
        }
        let word = |off: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[off..off + 4]);
            u32::from_ne_bytes(w)
        };
        Some(Self::decode(
            word(0),
            word(std::mem::offset_of!(RawMutex, needs_repair)),
            word(std::mem::offset_of!(RawMutex, owner_deaths)),
            word(std::mem::offset_of!(RawMutex, owner_pid)),
        ))
    }
}

impl RawMutex {
    /// Initializes the mutex in place.
    ///
    /// # Safety
    /// - `this` is valid for writes of a `RawMutex`, 64-byte aligned, in memory that stays
    ///   mapped while any process uses the mutex.
    /// - No process uses this mutex yet (initializing a mutex in use is undefined).
    ///
    /// # Errors
    /// [`Error::Io`] if the C library refuses the attributes.
    pub unsafe fn init(this: *mut RawMutex) -> Result<()> {
        // SAFETY:
        // - `this` is valid for writes and unused (caller's contract).
        // - all-zero bytes are a valid RawMutex state before pthread_mutex_init.
        unsafe {
            std::ptr::write_bytes(this.cast::<u8>(), 0, std::mem::size_of::<RawMutex>());
            sys::mutex_init(UnsafeCell::raw_get(std::ptr::addr_of!((*this).pthread)).cast())
        }
        .map_err(|e| Error::io("initialize a process-shared robust mutex", e))
    }

    fn pthread(&self) -> *mut u8 {
        self.pthread.get().cast()
    }

    /// Refuses a mutex whose pthread type word was overwritten (see the module docs).
    fn intact(&self) -> std::result::Result<(), LockError<RawMutexGuard<'_>>> {
        // SAFETY: the pthread area is PTHREAD_MUTEX_BYTES long and 8-aligned inside self.
        if unsafe { sys::mutex_type_intact(self.pthread()) } {
            Ok(())
        } else {
            Err(LockError::Failed(Error::NotRecoverable(
                "the mutex's bytes were overwritten (its pthread type word is not the one shmkit initialized)".into(),
            )))
        }
    }

    /// Blocks until the lock is acquired.
    ///
    /// # Errors
    /// [`LockError::OwnerDied`] (the lock is held, the data may need repair), or
    /// [`LockError::Failed`] with [`Error::Deadlock`](Error) if this thread holds it
    /// already, [`Error::NotRecoverable`], [`Error::Io`].
    pub fn lock(&self) -> LockResult<RawMutexGuard<'_>> {
        self.intact()?;
        // SAFETY: the pthread mutex was initialized by `init` (type invariant) and lives
        // as long as `self`.
        let outcome = unsafe { sys::mutex_lock(self.pthread(), None) };
        self.finish(outcome, None)
    }

    /// Like [`lock`](Self::lock), giving up after `timeout`.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::Timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<RawMutexGuard<'_>> {
        self.intact()?;
        // SAFETY: as in `lock`.
        let outcome = unsafe { sys::mutex_lock(self.pthread(), Some(timeout)) };
        self.finish(outcome, Some(Error::Timeout(timeout)))
    }

    /// Acquires the lock only if it is free.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::WouldBlock`].
    pub fn try_lock(&self) -> LockResult<RawMutexGuard<'_>> {
        self.intact()?;
        // SAFETY: as in `lock`.
        let outcome = unsafe { sys::mutex_try_lock(self.pthread()) };
        self.finish(outcome, Some(Error::WouldBlock))
    }

    fn finish(&self, outcome: LockOutcome, busy: Option<Error>) -> LockResult<RawMutexGuard<'_>> {
        let died = match outcome {
            LockOutcome::Acquired => false,
            LockOutcome::OwnerDied => {
                // Make the pthread mutex usable again at once, and carry the "data may
                // be inconsistent" fact in our own flag until someone recovers.
                // SAFETY: we hold the mutex after EOWNERDEAD.
                if let Err(e) = unsafe { sys::mutex_consistent(self.pthread()) } {
                    return Err(LockError::Failed(Error::io("pthread_mutex_consistent", e)));
                }
                self.needs_repair.store(1, Ordering::SeqCst);
                self.owner_deaths.fetch_add(1, Ordering::Relaxed);
                true
            }
            LockOutcome::Busy => {
                return Err(LockError::Failed(busy.unwrap_or(Error::WouldBlock)));
            }
            LockOutcome::Deadlock => return Err(LockError::Failed(Error::Deadlock)),
            LockOutcome::NotRecoverable => {
                return Err(LockError::Failed(Error::NotRecoverable(
                    "the pthread mutex was unlocked without being made consistent".into(),
                )));
            }
            LockOutcome::Failed(code) => {
                return Err(LockError::Failed(if code == 0 {
                    Error::Unsupported("robust process-shared mutexes")
                } else {
                    Error::io("lock mutex", std::io::Error::from_raw_os_error(code))
                }));
            }
        };
        self.owner_pid.store(sys::cached_pid(), Ordering::Relaxed);
        let guard = RawMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        };
        if died || self.needs_repair.load(Ordering::SeqCst) != 0 {
            Err(LockError::OwnerDied(OwnerDied { guard }))
        } else {
            Ok(guard)
        }
    }

    /// glibc's lock word (the holder's thread id and two flag bits).
    fn lock_word(&self) -> u32 {
        // SAFETY: the first 4 bytes of the pthread area are glibc's lock word, an int
        // that glibc only accesses atomically; reading it atomically is sound whatever
        // its value.
        unsafe { AtomicU32::from_ptr(self.pthread().cast()) }.load(Ordering::Relaxed)
    }

    /// Whether a locker would be told the owner died: the kernel marked the lock word
    /// (its holder died), or the repair flag is set. Two loads, no lock; for readers
    /// that skip the lock (the dict's optimistic reads) and must not skip the report.
    pub(crate) fn repair_pending(&self) -> bool {
        self.lock_word() & LOCK_WORD_OWNER_DIED != 0
            || self.needs_repair.load(Ordering::Acquire) != 0
    }

    /// Whether the calling thread holds the lock (the lock word names its thread id).
    #[doc(hidden)]
    pub fn held_by_current_thread(&self) -> bool {
        self.lock_word() & LOCK_WORD_TID_MASK == sys::cached_tid()
    }

    /// Releases a lock that is held without a guard: the C API's lock/unlock pair
    /// acquires with [`lock`](Self::lock) and forgets the guard (`std::mem::forget`), so
    /// the lock stays held across calls; this is the matching unlock.
    ///
    /// # Safety
    /// - The calling thread acquired this lock through a guard it then forgot, and no
    ///   guard for this hold of the lock is alive (else that guard would unlock twice
    ///   and hand out access to unlocked data).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if this thread does not hold the lock (checked before
    /// anything is changed), [`Error::Io`] if the C library refuses the unlock.
    #[doc(hidden)]
    pub unsafe fn unlock_unguarded(&self) -> Result<()> {
        if !self.held_by_current_thread() {
            return Err(Error::InvalidArgument(
                "unlock of a lock this thread does not hold".into(),
            ));
        }
        self.owner_pid.store(0, Ordering::Relaxed);
        // SAFETY:
        // - the pthread mutex was initialized (type invariant); the caller holds it.
        // - the mutex is ERRORCHECK, so even a wrong caller gets EPERM, not UB.
        unsafe { sys::mutex_unlock(self.pthread()) }.map_err(|e| Error::io("unlock mutex", e))
    }

    /// Makes a guard for a hold of this lock taken without one (see
    /// [`unlock_unguarded`](Self::unlock_unguarded)), so that a guard-taking call such as
    /// [`RawCondition::wait`](crate::sync::RawCondition::wait) can be made on it from the
    /// C API. Forget the returned guard (or the one the call hands back) to keep the
    /// hold guard-less again.
    ///
    /// # Safety
    /// - The calling thread acquired this lock through a guard it then forgot, and no
    ///   other guard for this hold of the lock is alive (else two guards would unlock
    ///   it, the second one a lock held by someone else).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if this thread does not hold the lock.
    #[doc(hidden)]
    pub unsafe fn adopt_unguarded(&self) -> Result<RawMutexGuard<'_>> {
        if !self.held_by_current_thread() {
            return Err(Error::InvalidArgument(
                "wait on a condition whose lock this thread does not hold".into(),
            ));
        }
        Ok(RawMutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// Clears the "needs repair" flag of a lock held without a guard (see
    /// [`unlock_unguarded`](Self::unlock_unguarded)); the guard form is
    /// [`Guard::mark_consistent`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if this thread does not hold the lock.
    #[doc(hidden)]
    pub fn mark_consistent_unguarded(&self) -> Result<()> {
        if !self.held_by_current_thread() {
            return Err(Error::InvalidArgument(
                "mark_consistent on a lock this thread does not hold".into(),
            ));
        }
        self.needs_repair.store(0, Ordering::SeqCst);
        Ok(())
    }

    /// Reads the state without locking (for display and monitoring).
    pub fn snapshot(&self) -> MutexSnapshot {
        MutexSnapshot::decode(
            self.lock_word(),
            self.needs_repair.load(Ordering::Relaxed),
            self.owner_deaths.load(Ordering::Relaxed),
            self.owner_pid.load(Ordering::Relaxed),
        )
    }
}

impl fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMutex")
            .field("state", &self.snapshot())
            .finish()
    }
}

/// Proof that this thread holds a [`RawMutex`]; unlocks on drop.
///
/// Not `Send`: a pthread mutex must be unlocked by the thread that locked it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RawMutexGuard<'a> {
    mutex: &'a RawMutex,
    _not_send: PhantomData<*const ()>,
}

impl<'a> RawMutexGuard<'a> {
    /// The mutex this guard holds.
    pub fn mutex(&self) -> &'a RawMutex {
        self.mutex
    }
}

impl Drop for RawMutexGuard<'_> {
    fn drop(&mut self) {
        self.mutex.owner_pid.store(0, Ordering::Relaxed);
        // SAFETY: the guard exists only while this thread holds the mutex. An error here
        // (EPERM) would mean another process rewrote the lock word; there is nothing
        // sound to do about it in a destructor, so it is ignored.
        let _ = unsafe { sys::mutex_unlock(self.mutex.pthread()) };
    }
}

impl fmt::Debug for RawMutexGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawMutexGuard { .. }")
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Guards of shmkit's robust locks (sealed).
pub trait Guard: sealed::Sealed {
    /// Clears the lock's "needs repair" flag: the protected data is consistent again.
    fn mark_consistent(&mut self);
}

impl sealed::Sealed for RawMutexGuard<'_> {}
impl Guard for RawMutexGuard<'_> {
    fn mark_consistent(&mut self) {
        self.mutex.needs_repair.store(0, Ordering::SeqCst);
    }
}

/// The lock was acquired, but a previous owner died holding it (or died while an
/// earlier owner-died report was still unrecovered). Holds the lock.
pub struct OwnerDied<G> {
    guard: G,
}

impl<G: Guard> OwnerDied<G> {
    /// The data has been repaired (or needs none): clears the flag and returns the guard.
    pub fn recover(mut self) -> G {
        self.guard.mark_consistent();
        self.guard
    }

    /// Returns the guard and leaves the flag set: later lockers are told too.
    pub fn into_guard(self) -> G {
        self.guard
    }

    /// The guard, to inspect or repair the data before deciding.
    pub fn guard_mut(&mut self) -> &mut G {
        &mut self.guard
    }

    pub(crate) fn map<H: Guard>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            guard: f(self.guard),
        }
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerDied { .. }")
    }
}

/// Why a lock call did not simply succeed.
pub enum LockError<G> {
    /// The lock is held by the caller, but its previous owner died: see [`OwnerDied`].
    OwnerDied(OwnerDied<G>),
    /// The lock was not acquired.
    Failed(Error),
}

/// The result of a lock call.
pub type LockResult<G> = std::result::Result<G, LockError<G>>;

impl<G: Guard> LockError<G> {
    pub(crate) fn map<H: Guard>(self, f: impl FnOnce(G) -> H) -> LockError<H> {
        match self {
            LockError::OwnerDied(d) => LockError::OwnerDied(d.map(f)),
            LockError::Failed(e) => LockError::Failed(e),
        }
    }

    /// Whether the lock is held despite the error (owner died).
    pub fn is_owner_died(&self) -> bool {
        matches!(self, LockError::OwnerDied(_))
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            LockError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::OwnerDied(_) => fmt::Display::fmt(&Error::OwnerDied, f),
            LockError::Failed(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<G> std::error::Error for LockError<G> {}

/// `?` on a lock result: owner-died becomes [`Error::OwnerDied`] (the guard is dropped,
/// the lock released, and the flag stays set for the next locker).
impl<G> From<LockError<G>> for Error {
    fn from(e: LockError<G>) -> Error {
        match e {
            LockError::OwnerDied(_) => Error::OwnerDied,
            LockError::Failed(e) => e,
        }
    }
}

/// A named (or anonymous) standalone robust lock, like Python's `multiprocessing.Lock`.
///
/// ```
/// # let name = format!("doc-mutex-{}", std::process::id());
/// let m = shmkit::Mutex::create(&name)?;
/// {
///     let _guard = m.lock()?;
///     // ... exclusive across every process that opened `name` ...
/// }
/// assert!(m.try_lock().is_ok());
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Mutex {
    seg: Segment,
}

/// Guard of a [`Mutex`].
pub type MutexGuard<'a> = RawMutexGuard<'a>;

fn mutex_spec() -> Spec {
    Spec::control_only(Kind::Mutex, std::mem::size_of::<RawMutex>(), [0; 4])
}

/// Initializes the RawMutex at the start of `seg`'s control block.
pub(crate) fn init_in(seg: &Segment) -> Result<()> {
    // SAFETY:
    // - every kind that calls this reserved a RawMutex-sized control block, which starts
    //   64-byte aligned (Layout) inside the mapping.
    // - the segment is not ready yet, so no other process uses the mutex.
    unsafe { RawMutex::init(seg.control_ptr().cast()) }
}

/// The RawMutex at the start of `seg`'s control block.
pub(crate) fn raw_in(seg: &Segment) -> &RawMutex {
    // SAFETY:
    // - the caller's kind validated that the control block holds a RawMutex (its length
    //   was checked on open), 64-byte aligned, inside the mapping that `seg` keeps alive.
    // - a RawMutex is only accessed through atomics and the pthread API.
    unsafe { &*seg.control_ptr().cast::<RawMutex>() }
}

impl Mutex {
    /// Creates a named mutex.
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create(name: &str) -> Result<Mutex> {
        Self::create_with(name, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create_with(name: &str, opts: &SegmentOptions) -> Result<Mutex> {
        let seg = segment::create_named(name, mutex_spec(), opts, init_in)?;
        Ok(Mutex { seg })
    }

    /// Opens a named mutex.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`] if `name` is not a mutex.
    pub fn open(name: &str) -> Result<Mutex> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Mutex> {
        let seg =
            segment::open_control_only(name, opts, Kind::Mutex, std::mem::size_of::<RawMutex>())?;
        Ok(Mutex { seg })
    }

    /// Opens `name`, creating it if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str) -> Result<Mutex> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name),
            || Self::open(name),
        )
    }

    /// An unnamed mutex shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous() -> Result<Mutex> {
        let seg = segment::create_anonymous(mutex_spec(), init_in)?;
        Ok(Mutex { seg })
    }

    /// The underlying raw mutex.
    pub fn raw(&self) -> &RawMutex {
        raw_in(&self.seg)
    }

    /// See [`RawMutex::lock`].
    ///
    /// # Errors
    /// As [`RawMutex::lock`].
    pub fn lock(&self) -> LockResult<MutexGuard<'_>> {
        self.raw().lock()
    }

    /// See [`RawMutex::lock_timeout`].
    ///
    /// # Errors
    /// As [`RawMutex::lock_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<MutexGuard<'_>> {
        self.raw().lock_timeout(timeout)
    }

    /// See [`RawMutex::try_lock`].
    ///
    /// # Errors
    /// As [`RawMutex::try_lock`].
    pub fn try_lock(&self) -> LockResult<MutexGuard<'_>> {
        self.raw().try_lock()
    }

    /// The lock's state, read without locking.
    pub fn snapshot(&self) -> MutexSnapshot {
        self.raw().snapshot()
    }

    /// The segment behind this mutex.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}
