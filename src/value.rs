//! [`Value<T>`]: one shared value with its own robust lock, like Python's
//! `multiprocessing.Value`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::error::Result;
use crate::segment::{self, Expect, Kind, Segment, SegmentOptions, Spec};
use crate::sync::{Guard, LockResult, RawMutex, RawMutexGuard, init_mutex_in, raw_mutex_in};
use crate::types::{AtomicInt, Shareable, TypeDesc};

/// One value of type `T` in a named (or anonymous) segment, with a robust lock.
///
/// `load`, `store` and `update` take the lock; [`lock`](Self::lock) hands out a guard
/// that gives `&mut T` while it is held. For integer types the atomic operations
/// (`fetch_add`, `compare_exchange`, ...) work without the lock; they do not wait for a
/// holder of the lock, so use one discipline or the other for a given value.
///
/// ```
/// # let name = format!("doc-value-{}", std::process::id());
/// let counter = shmkit::Value::<u64>::create(&name, 1)?;
/// counter.update(|v| *v += 10)?;          // under the lock
/// counter.fetch_add(20);                  // lock-free
/// assert_eq!(counter.load()?, 31);
/// // Another process: shmkit::Value::<u64>::open(&name)
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct Value<T: Shareable> {
    seg: Segment,
    _t: PhantomData<T>,
}

fn spec(elem: TypeDesc) -> Spec {
    Spec {
        kind: Kind::Value,
        elem,
        capacity: 1,
        control_len: std::mem::size_of::<RawMutex>(),
        data_len: elem.size,
        params: [0; 4],
    }
}

/// Fills a new value segment: the lock, then the initial bytes (`elem.size` of them).
fn init_value(seg: &Segment, init: &[u8]) -> Result<()> {
    init_mutex_in(seg)?;
    debug_assert_eq!(init.len(), seg.len());
    // SAFETY:
    // - the data area is exactly `init.len()` bytes inside the mapping (the spec sized
    //   it from the same descriptor), not yet visible to other processes.
    // - `init` is caller memory, not inside the mapping.
    unsafe { segment::copy_out(init, seg.data_ptr()) };
    Ok(())
}

/// Creates a named value segment of element type `elem` holding `init`
/// (`init.len() == elem.size`, checked by the callers).
pub(crate) fn create_value_segment(
    name: &str,
    elem: TypeDesc,
    init: &[u8],
    opts: &SegmentOptions,
) -> Result<Segment> {
    segment::create_named(name, spec(elem), opts, |s| init_value(s, init))
}

/// An anonymous value segment; see [`create_value_segment`].
pub(crate) fn anonymous_value_segment(elem: TypeDesc, init: &[u8]) -> Result<Segment> {
    segment::create_anonymous(spec(elem), |s| init_value(s, init))
}

/// Opens the value segment `name`, checking that it holds one `elem`.
pub(crate) fn open_value_segment(
    name: &str,
    elem: TypeDesc,
    opts: &SegmentOptions,
) -> Result<Segment> {
    let seg = segment::open_named(
        name,
        &Expect {
            kind: Kind::Value,
            elem: Some(elem),
            control_len: Some(std::mem::size_of::<RawMutex>()),
        },
        opts,
    )?;
    let info = seg.info();
    if info.capacity != 1 || info.layout.data_len != elem.size as u64 {
        return Err(crate::Error::corrupt(
            name,
            format!(
                "a value holds one element of {} bytes; header says {} elements in {} bytes",
                elem.size, info.capacity, info.layout.data_len
            ),
        ));
    }
    Ok(seg)
}

impl<T: Shareable> Value<T> {
    /// Creates the value `name` holding `init`.
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create(name: &str, init: T) -> Result<Self> {
        Self::create_with(name, init, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options (permissions, persistence).
    ///
    /// # Errors
    /// As [`Segment::create`].
    pub fn create_with(name: &str, init: T, opts: &SegmentOptions) -> Result<Self> {
        let seg = create_value_segment(name, TypeDesc::of::<T>(), init.as_bytes(), opts)?;
        Ok(Self::wrap(seg))
    }

    /// Opens the value `name`.
    ///
    /// # Errors
    /// As [`Segment::open`], plus [`Error::KindMismatch`](crate::Error::KindMismatch) and
    /// [`Error::TypeMismatch`](crate::Error::TypeMismatch) naming both types.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options (the open timeout).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        let seg = open_value_segment(name, TypeDesc::of::<T>(), opts)?;
        Ok(Self::wrap(seg))
    }

    /// Opens `name`, creating it with `init` if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, init: T) -> Result<Self> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, init),
            || Self::open(name),
        )
    }

    /// An unnamed value shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous(init: T) -> Result<Self> {
        let seg = anonymous_value_segment(TypeDesc::of::<T>(), init.as_bytes())?;
        Ok(Self::wrap(seg))
    }

    fn wrap(seg: Segment) -> Self {
        Value {
            seg,
            _t: PhantomData,
        }
    }

    fn ptr(&self) -> *mut T {
        self.seg.data_ptr().cast()
    }

    /// The value's lock.
    pub fn raw_mutex(&self) -> &RawMutex {
        raw_mutex_in(&self.seg)
    }

    /// Locks the value and returns a guard giving `&mut T` until it drops.
    ///
    /// # Errors
    /// [`LockError::OwnerDied`](crate::LockError::OwnerDied) when a previous holder died
    /// (the guard is inside; repair the value and call `recover`), or
    /// [`LockError::Failed`](crate::LockError::Failed).
    pub fn lock(&self) -> LockResult<ValueGuard<'_, T>> {
        self.guarded(self.raw_mutex().lock())
    }

    /// [`lock`](Self::lock), giving up after `timeout` with
    /// [`Error::Timeout`](crate::Error::Timeout).
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus the timeout.
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<ValueGuard<'_, T>> {
        self.guarded(self.raw_mutex().lock_timeout(timeout))
    }

    /// [`lock`](Self::lock) only if the lock is free, else
    /// [`Error::WouldBlock`](crate::Error::WouldBlock).
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus would-block.
    pub fn try_lock(&self) -> LockResult<ValueGuard<'_, T>> {
        self.guarded(self.raw_mutex().try_lock())
    }

    fn guarded<'a>(&'a self, r: LockResult<RawMutexGuard<'a>>) -> LockResult<ValueGuard<'a, T>> {
        let ptr = self.ptr();
        let wrap = move |raw| ValueGuard { raw, ptr };
        r.map(wrap).map_err(|e| e.map(wrap))
    }

    /// Reads the value under the lock.
    ///
    /// # Errors
    /// [`Error::OwnerDied`](crate::Error::OwnerDied) if the value may be inconsistent
    /// (recover through [`lock`](Self::lock)), or a lock failure.
    pub fn load(&self) -> Result<T> {
        Ok(*self.lock()?)
    }

    /// Writes the value under the lock.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn store(&self, v: T) -> Result<()> {
        *self.lock()? = v;
        Ok(())
    }

    /// Runs `f` on the value under the lock and returns its result.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R> {
        let mut g = self.lock()?;
        Ok(f(&mut g))
    }

    /// The segment behind this value.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}

impl<T: AtomicInt> Value<T> {
    fn atomic(&self) -> &T::Atomic {
        // SAFETY:
        // - the data area holds one `T` aligned to `align_of::<T>()` (validated layout),
        //   inside the mapping that `self.seg` keeps alive for the reference's lifetime.
        // - integers in a Value are accessed atomically or under the lock; see the type
        //   docs for mixing the two.
        unsafe { T::atomic(self.ptr()) }
    }

    /// Atomically reads the value, without the lock.
    pub fn atomic_load(&self) -> T {
        T::load(self.atomic(), Ordering::SeqCst)
    }

    /// Atomically writes the value, without the lock.
    pub fn atomic_store(&self, v: T) {
        T::store(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomically replaces the value, returning the old one.
    pub fn swap(&self, v: T) -> T {
        T::swap(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomically adds (wrapping), returning the old value.
    pub fn fetch_add(&self, v: T) -> T {
        T::fetch_add(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomically subtracts (wrapping), returning the old value.
    pub fn fetch_sub(&self, v: T) -> T {
        T::fetch_sub(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomic bitwise and, returning the old value.
    pub fn fetch_and(&self, v: T) -> T {
        T::fetch_and(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomic bitwise or, returning the old value.
    pub fn fetch_or(&self, v: T) -> T {
        T::fetch_or(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomic bitwise xor, returning the old value.
    pub fn fetch_xor(&self, v: T) -> T {
        T::fetch_xor(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomic maximum, returning the old value.
    pub fn fetch_max(&self, v: T) -> T {
        T::fetch_max(self.atomic(), v, Ordering::SeqCst)
    }

    /// Atomic minimum, returning the old value.
    pub fn fetch_min(&self, v: T) -> T {
        T::fetch_min(self.atomic(), v, Ordering::SeqCst)
    }

    /// Stores `new` if the value is `current`.
    ///
    /// # Errors
    /// `Err(actual)` with the value found when it was not `current`.
    pub fn compare_exchange(&self, current: T, new: T) -> std::result::Result<T, T> {
        T::compare_exchange(self.atomic(), current, new)
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("name", &self.seg.name())
            .field("type", &T::TYPE_NAME)
            .finish()
    }
}

/// Exclusive access to a [`Value`]'s data while its lock is held.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T> {
    raw: RawMutexGuard<'a>,
    ptr: *mut T,
}

impl<T> crate::sync::mutex_guard_sealed::Sealed for ValueGuard<'_, T> {}
impl<T> Guard for ValueGuard<'_, T> {
    fn mark_consistent(&mut self) {
        self.raw.mark_consistent();
    }
}

impl<T> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY:
        // - `ptr` is the Value's aligned data, alive while the guard borrows the Value.
        // - the lock is held, so no cooperating process writes it meanwhile; `T` is
        //   FromBytes, so whatever bytes are there form a valid `T`.
        unsafe { &*self.ptr }
    }
}

impl<T> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference handed out.
        unsafe { &mut *self.ptr }
    }
}

impl<T: fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
