//! [`Array<T>`]: a fixed-length shared array with its own robust lock, like Python's
//! `multiprocessing.Array`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentOptions, Spec};
use crate::sync::{Guard, LockResult, RawMutex, RawMutexGuard, init_mutex_in, raw_mutex_in};
use crate::types::{Shareable, TypeDesc};
use zerocopy::IntoBytes;

/// `len` elements of type `T` in a named (or anonymous) segment, with a robust lock.
///
/// Every accessor (`get`, `set`, `read`, `write`, `to_vec`) takes the lock for the
/// duration of its copy, so a reader never sees half of a concurrent `write`;
/// [`lock`](Self::lock) gives `&mut [T]` over the whole array for longer work. An index
/// out of range is an [`Error::OutOfBounds`], never a panic.
///
/// ```
/// # let name = format!("doc-array-{}", std::process::id());
/// let a = shmkit::Array::<i32>::from_slice(&name, &[0, 1, 2, 3])?;
/// a.set(0, 250)?;
/// assert_eq!(a.get(0)?, 250);
/// assert_eq!(a.to_vec()?, [250, 1, 2, 3]);
/// assert!(a.get(4).is_err());
/// a.lock()?.iter_mut().for_each(|x| *x *= 2);
/// assert_eq!(a.to_vec()?, [500, 2, 4, 6]);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct Array<T: Shareable> {
    seg: Segment,
    len: usize,
    _t: PhantomData<T>,
}

fn spec(elem: TypeDesc, len: usize) -> Result<Spec> {
    let data_len = len.checked_mul(elem.size).ok_or_else(|| {
        Error::InvalidArgument(format!("an array of {len} {} is too large", elem.name))
    })?;
    Ok(Spec {
        kind: Kind::Array,
        elem,
        capacity: len as u64,
        control_len: std::mem::size_of::<RawMutex>(),
        data_len,
        params: [0; 4],
    })
}

/// Fills a new array segment: the lock, then `init` (all of the data area) if given;
/// otherwise the data stays zeroed.
fn init_array(seg: &Segment, init: Option<&[u8]>) -> Result<()> {
    init_mutex_in(seg)?;
    if let Some(bytes) = init {
        debug_assert_eq!(bytes.len(), seg.len());
        // SAFETY:
        // - the data area is exactly `bytes.len()` bytes inside the mapping (sized from
        //   the same descriptor and length), not yet visible to other processes.
        // - `bytes` is caller memory, not inside the mapping.
        unsafe { segment::copy_out(bytes, seg.data_ptr()) };
    }
    Ok(())
}

/// Creates a named array segment of `len` elements `elem`, holding `init` (exactly
/// `len * elem.size` bytes, checked by the callers) or zeroes.
pub(crate) fn create_array_segment(
    name: &str,
    elem: TypeDesc,
    len: usize,
    init: Option<&[u8]>,
    opts: &SegmentOptions,
) -> Result<Segment> {
    segment::create_named(name, spec(elem, len)?, opts, |s| init_array(s, init))
}

/// An anonymous array segment; see [`create_array_segment`].
pub(crate) fn anonymous_array_segment(elem: TypeDesc, len: usize) -> Result<Segment> {
    segment::create_anonymous(spec(elem, len)?, |s| init_array(s, None))
}

/// Opens the array segment `name` of element type `elem`; returns it and its length.
pub(crate) fn open_array_segment(
    name: &str,
    elem: TypeDesc,
    opts: &SegmentOptions,
) -> Result<(Segment, usize)> {
    let seg = segment::open_named(
        name,
        &Expect {
            kind: Kind::Array,
            elem: Some(elem),
            control_len: Some(std::mem::size_of::<RawMutex>()),
        },
        opts,
    )?;
    let info = seg.info();
    let expected = info.capacity.checked_mul(elem.size as u64);
    if expected != Some(info.layout.data_len) {
        return Err(Error::corrupt(
            name,
            format!(
                "{} elements of {} bytes do not fill the {}-byte data area",
                info.capacity, elem.size, info.layout.data_len
            ),
        ));
    }
    let len = usize::try_from(info.capacity)
        .map_err(|_| Error::corrupt(name, "the element count does not fit in memory"))?;
    Ok((seg, len))
}

impl<T: Shareable> Array<T> {
    /// Creates the array `name` of `len` zeroed elements.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] if the size overflows.
    pub fn create(name: &str, len: usize) -> Result<Self> {
        Self::create_with(name, len, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, len: usize, opts: &SegmentOptions) -> Result<Self> {
        let seg = create_array_segment(name, TypeDesc::of::<T>(), len, None, opts)?;
        Ok(Self::wrap(seg, len))
    }

    /// Creates the array `name` holding a copy of `items`.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn from_slice(name: &str, items: &[T]) -> Result<Self> {
        Self::from_slice_with(name, items, &SegmentOptions::default())
    }

    /// [`from_slice`](Self::from_slice) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn from_slice_with(name: &str, items: &[T], opts: &SegmentOptions) -> Result<Self> {
        let seg = create_array_segment(
            name,
            TypeDesc::of::<T>(),
            items.len(),
            Some(items.as_bytes()),
            opts,
        )?;
        Ok(Self::wrap(seg, items.len()))
    }

    /// Opens the array `name`.
    ///
    /// # Errors
    /// As [`Segment::open`], plus kind and type mismatches.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        let (seg, len) = open_array_segment(name, TypeDesc::of::<T>(), opts)?;
        Ok(Self::wrap(seg, len))
    }

    /// Opens `name`, creating it with `len` zeroed elements if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open);
    /// [`Error::InvalidArgument`] if it exists with another length.
    pub fn open_or_create(name: &str, len: usize) -> Result<Self> {
        let a = segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, len),
            || Self::open(name),
        )?;
        if a.len != len {
            return Err(Error::InvalidArgument(format!(
                "array `{name}` exists with length {}, not {len}",
                a.len
            )));
        }
        Ok(a)
    }

    /// An unnamed array of `len` zeroed elements shared with children forked later.
    ///
    /// # Errors
    /// As [`Segment::anonymous`].
    pub fn anonymous(len: usize) -> Result<Self> {
        let seg = anonymous_array_segment(TypeDesc::of::<T>(), len)?;
        Ok(Self::wrap(seg, len))
    }

    fn wrap(seg: Segment, len: usize) -> Self {
        Array {
            seg,
            len,
            _t: PhantomData,
        }
    }

    fn ptr(&self) -> *mut T {
        self.seg.data_ptr().cast()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The array's lock.
    pub fn raw_mutex(&self) -> &RawMutex {
        raw_mutex_in(&self.seg)
    }

    fn check(&self, start: usize, count: usize) -> Result<()> {
        Error::check_range(start, count, self.len)
    }

    /// Element `i`, read under the lock.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`]; [`Error::OwnerDied`] (recover through
    /// [`lock`](Self::lock)) or another lock failure.
    pub fn get(&self, i: usize) -> Result<T> {
        self.check(i, 1)?;
        Ok(self.lock()?[i])
    }

    /// Sets element `i` under the lock.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn set(&self, i: usize, v: T) -> Result<()> {
        self.check(i, 1)?;
        self.lock()?[i] = v;
        Ok(())
    }

    /// Copies `out.len()` elements starting at `start` into `out`, under the lock.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn read(&self, start: usize, out: &mut [T]) -> Result<()> {
        self.check(start, out.len())?;
        let g = self.lock()?;
        out.copy_from_slice(&g[start..start + out.len()]);
        Ok(())
    }

    /// Copies `items` into the array starting at `start`, under the lock.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn write(&self, start: usize, items: &[T]) -> Result<()> {
        self.check(start, items.len())?;
        let mut g = self.lock()?;
        g[start..start + items.len()].copy_from_slice(items);
        Ok(())
    }

    /// A copy of the whole array, taken under the lock.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        Ok(self.lock()?.to_vec())
    }

    /// Locks the array and returns a guard giving `&mut [T]` until it drops.
    ///
    /// # Errors
    /// [`LockError::OwnerDied`](crate::LockError::OwnerDied) or
    /// [`LockError::Failed`](crate::LockError::Failed), as for [`Value::lock`](crate::Value::lock).
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        self.guarded(self.raw_mutex().lock())
    }

    /// [`lock`](Self::lock) with a timeout.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::Timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> LockResult<ArrayGuard<'_, T>> {
        self.guarded(self.raw_mutex().lock_timeout(timeout))
    }

    /// [`lock`](Self::lock) only if free.
    ///
    /// # Errors
    /// As [`lock`](Self::lock), plus [`Error::WouldBlock`].
    pub fn try_lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        self.guarded(self.raw_mutex().try_lock())
    }

    fn guarded<'a>(&'a self, r: LockResult<RawMutexGuard<'a>>) -> LockResult<ArrayGuard<'a, T>> {
        let (ptr, len) = (self.ptr(), self.len);
        let wrap = move |raw| ArrayGuard { raw, ptr, len };
        r.map(wrap).map_err(|e| e.map(wrap))
    }

    /// The segment behind this array.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}

impl<T: Shareable> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("name", &self.seg.name())
            .field("type", &T::TYPE_NAME)
            .field("len", &self.len)
            .finish()
    }
}

/// Exclusive access to an [`Array`]'s elements while its lock is held.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T> {
    raw: RawMutexGuard<'a>,
    ptr: *mut T,
    len: usize,
}

impl<T> crate::sync::mutex_guard_sealed::Sealed for ArrayGuard<'_, T> {}
impl<T> Guard for ArrayGuard<'_, T> {
    fn mark_consistent(&mut self) {
        self.raw.mark_consistent();
    }
}

impl<T> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY:
        // - `ptr..ptr+len` is the Array's aligned data area (validated on open), alive
        //   while the guard borrows the Array.
        // - the lock is held, so cooperating processes do not write it meanwhile; `T`
        //   is FromBytes, so any bytes there are valid values.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes this the only slice handed out.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T: fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
