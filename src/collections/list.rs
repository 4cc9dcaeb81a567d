//! [`List<T>`]: a bounded shared list, like Python's `Manager().list()`.
//!
//! ## Layout (docs/FORMAT.md, *List*)
//! The data area holds two arrays of `capacity` elements (the two *sides*) and one
//! scratch element. The control block's `state` word is `len << 1 | active`.
//!
//! ## Commit points
//! - push: write the element at index `len` of the active side (beyond `len`, unseen),
//!   then store `state` with `len + 1` (the commit); pop: store `state` with `len - 1`;
//! - insert / remove at `i`: copy the list with the change into the inactive side, then
//!   store `state` with the new length and the other side (the commit);
//! - set: copy the element into the scratch slot, store `journal = i + 1` (the commit),
//!   copy it into place, store `journal = 0`. `recover` finishes a set whose journal is
//!   still non-zero (copying the scratch element again is idempotent);
//! - clear: store `state` with length 0.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use super::crash_point;
use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentInfo, SegmentOptions, Spec};
use crate::sync::{LockError, RawMutexGuard, init_mutex_in, raw_mutex_in};
use crate::types::{Shareable, TypeDesc};

/// Length of a list's control block: the RawMutex, `state`, `journal`, reserved.
pub(crate) const CONTROL_LEN: usize = 192;
pub(crate) const OFF_STATE: usize = 128;
pub(crate) const OFF_JOURNAL: usize = 136;

/// The largest list capacity.
pub const MAX_LIST_CAPACITY: usize = 1 << 40;

/// `data_len` of a list of `capacity` elements of `elem_size` bytes: two sides and a
/// scratch element.
pub(crate) fn data_len(capacity: u64, elem_size: u64) -> Option<u64> {
    capacity
        .checked_mul(2)?
        .checked_add(1)?
        .checked_mul(elem_size)
}

/// Checks a list header's sizes (shared with `inspect`).
pub(crate) fn check_info(info: &SegmentInfo) -> std::result::Result<(), String> {
    if info.capacity == 0 || info.capacity > MAX_LIST_CAPACITY as u64 || info.elem_size == 0 {
        return Err(format!(
            "a list has 1 to {MAX_LIST_CAPACITY} elements of a non-empty type; header says {} of {} bytes",
            info.capacity, info.elem_size
        ));
    }
    if data_len(info.capacity, info.elem_size) != Some(info.layout.data_len) {
        return Err(format!(
            "data area is {} bytes; (2 × {} + 1) elements of {} bytes need more or less",
            info.layout.data_len, info.capacity, info.elem_size
        ));
    }
    Ok(())
}

/// A list's `(len, side, journal)` from a copied control block (`None`: too short).
pub(crate) fn list_words(control: &[u8]) -> Option<(u64, u64, u64)> {
    let w = |off: usize| {
        Some(u64::from_ne_bytes(
            control.get(off..off + 8)?.try_into().ok()?,
        ))
    };
    let state = w(OFF_STATE)?;
    Some((state >> 1, state & 1, w(OFF_JOURNAL)?))
}

/// A bounded list of up to `capacity` elements of `T` in a named (or anonymous)
/// segment, with a robust lock: Python's `Manager().list()` without the server.
///
/// Every call takes the lock for its copy in or out. `push` past the capacity is
/// [`Error::Full`] (nothing changes); an index past the end is
/// [`Error::OutOfBounds`]. `push`, `pop`, `get` and `set` are O(1); `insert` and
/// `remove` move the elements after the index, O(len), as in Python.
///
/// ```
/// # let name = format!("doc-list-{}", std::process::id());
/// let l = shmkit::List::<i64>::create(&name, 8)?;
/// l.push(1)?;
/// l.push(3)?;
/// l.insert(1, 2)?;
/// assert_eq!(l.to_vec()?, [1, 2, 3]);
/// assert_eq!(l.remove(0)?, 1);
/// l.set(0, 20)?;
/// assert_eq!(l.pop()?, Some(3));
/// assert_eq!(l.to_vec()?, [20]);
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// When a process dies holding the lock, every later call returns
/// [`Error::OwnerDied`] until someone calls [`recover`](Self::recover); the list is then
/// exactly as before or as after the operation the dead process was in.
pub struct List<T: Shareable> {
    seg: Segment,
    capacity: u64,
    _t: PhantomData<T>,
}

impl<T: Shareable> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("name", &self.seg.name())
            .field("type", &T::TYPE_NAME)
            .field("capacity", &self.capacity)
            .finish()
    }
}

fn spec<T: Shareable>(capacity: usize) -> Result<Spec> {
    let size = std::mem::size_of::<T>() as u64;
    let data = data_len(capacity as u64, size)
        .filter(|_| capacity != 0 && capacity <= MAX_LIST_CAPACITY && size != 0);
    let data = data
        .and_then(|d| usize::try_from(d).ok())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "a list holds 1 to {MAX_LIST_CAPACITY} elements of a non-empty type, not {capacity} of {size} bytes"
            ))
        })?;
    Ok(Spec {
        kind: Kind::List,
        elem: TypeDesc::of::<T>(),
        capacity: capacity as u64,
        control_len: CONTROL_LEN,
        data_len: data,
        params: [0; 4],
    })
}

/// The list with its lock held.
struct Locked<'a, T: Shareable> {
    list: &'a List<T>,
    guard: RawMutexGuard<'a>,
    len: u64,
    side: u64,
}

impl<T: Shareable> List<T> {
    /// Creates the list `name` (empty) for at most `capacity` elements.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] for capacity 0 or too large.
    pub fn create(name: &str, capacity: usize) -> Result<Self> {
        Self::create_with(name, capacity, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, capacity: usize, opts: &SegmentOptions) -> Result<Self> {
        let seg = segment::create_named(name, spec::<T>(capacity)?, opts, init_mutex_in)?;
        Ok(Self::wrap(seg))
    }

    /// Opens the list `name`.
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
        let seg = segment::open_named(
            name,
            &Expect {
                kind: Kind::List,
                elem: Some(TypeDesc::of::<T>()),
                control_len: Some(CONTROL_LEN),
            },
            opts,
        )?;
        check_info(seg.info()).map_err(|r| Error::corrupt(name, r))?;
        Ok(Self::wrap(seg))
    }

    /// Opens `name`, creating it if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, capacity: usize) -> Result<Self> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, capacity),
            || Self::open(name),
        )
    }

    /// An unnamed list shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(capacity: usize) -> Result<Self> {
        let seg = segment::create_anonymous(spec::<T>(capacity)?, init_mutex_in)?;
        Ok(Self::wrap(seg))
    }

    fn wrap(seg: Segment) -> Self {
        let capacity = seg.info().capacity;
        List {
            seg,
            capacity,
            _t: PhantomData,
        }
    }

    fn name(&self) -> &str {
        self.seg.name().unwrap_or("<anonymous>")
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY:
        // - the control block is CONTROL_LEN bytes (checked on open), 64-byte aligned,
        //   inside the mapping `self.seg` keeps alive; `offset` is 8-aligned, past the
        //   RawMutex.
        // - these words are only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(self.seg.control_ptr().add(offset).cast()) }
    }

    /// Element `i` of side `side` (2 is the scratch element: side 2, index 0).
    fn elem_ptr(&self, side: u64, i: u64) -> *mut u8 {
        debug_assert!((side < 2 && i < self.capacity) || (side == 2 && i == 0));
        let size = std::mem::size_of::<T>() as u64;
        // SAFETY: side × capacity + i < 2 × capacity + 1 elements: inside the data area
        // (its length was checked against the header on open).
        unsafe {
            self.seg
                .data_ptr()
                .add(((side * self.capacity + i) * size) as usize)
        }
    }

    fn read_elem(&self, side: u64, i: u64) -> T {
        let mut v = T::new_zeroed();
        // SAFETY:
        // - `elem_ptr` is inside the data area for a valid (side, i) (debug-checked;
        //   callers bound `i` by len <= capacity).
        // - `v` is local; any bytes are a valid `T` (FromBytes).
        unsafe { segment::copy_in(self.elem_ptr(side, i), v.as_mut_bytes()) };
        v
    }

    fn write_elem(&self, side: u64, i: u64, v: &T) {
        // SAFETY: as in `read_elem`; the source is local memory.
        unsafe { segment::copy_out(v.as_bytes(), self.elem_ptr(side, i)) };
    }

    /// Copies `n` elements from (side `from`, index `a`) to (side `to`, index `b`).
    fn copy_elems(&self, from: u64, a: u64, to: u64, b: u64, n: u64) {
        if n == 0 {
            return;
        }
        debug_assert!(from != to && a + n <= self.capacity && b + n <= self.capacity);
        // SAFETY:
        // - both ranges lie inside their side (bounded by capacity, checked by callers),
        //   and the two sides are disjoint parts of the data area.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.elem_ptr(from, a),
                self.elem_ptr(to, b),
                (n * std::mem::size_of::<T>() as u64) as usize,
            )
        }
    }

    fn lock_raw(&self) -> Result<(RawMutexGuard<'_>, bool)> {
        match raw_mutex_in(&self.seg).lock() {
            Ok(g) => Ok((g, false)),
            Err(LockError::OwnerDied(d)) => Ok((d.into_guard(), true)),
            Err(LockError::Failed(e)) => Err(e),
        }
    }

    fn locked<'a>(&'a self, guard: RawMutexGuard<'a>) -> Result<Locked<'a, T>> {
        let state = self.word(OFF_STATE).load(Ordering::Acquire);
        let (len, side) = (state >> 1, state & 1);
        if len > self.capacity {
            return Err(Error::corrupt(
                self.name(),
                format!("length {len} exceeds the capacity {}", self.capacity),
            ));
        }
        Ok(Locked {
            list: self,
            guard,
            len,
            side,
        })
    }

    fn lock(&self) -> Result<Locked<'_, T>> {
        match self.lock_raw()? {
            (_, true) => Err(Error::OwnerDied),
            (g, false) => {
                let l = self.locked(g)?;
                // Killed holding the lock before any write.
                crash_point();
                Ok(l)
            }
        }
    }

    /// The most elements.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// The number of elements.
    ///
    /// # Errors
    /// [`Error::OwnerDied`] until [`recover`](Self::recover) after a holder died,
    /// [`Error::Corrupt`], a lock failure.
    pub fn len(&self) -> Result<usize> {
        Ok(self.lock()?.len as usize)
    }

    /// Whether the list is empty.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Appends `v`.
    ///
    /// # Errors
    /// [`Error::Full`] (nothing changed), and as [`len`](Self::len).
    pub fn push(&self, v: T) -> Result<()> {
        let l = self.lock()?;
        if l.len >= self.capacity {
            return Err(Error::Full(format!(
                "the list `{}` holds {} elements, its capacity",
                self.name(),
                self.capacity
            )));
        }
        self.write_elem(l.side, l.len, &v);
        crash_point();
        l.commit(l.len + 1, l.side);
        Ok(())
    }

    /// Removes and returns the last element (`None` when empty).
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn pop(&self) -> Result<Option<T>> {
        let l = self.lock()?;
        if l.len == 0 {
            return Ok(None);
        }
        let v = self.read_elem(l.side, l.len - 1);
        l.commit(l.len - 1, l.side);
        Ok(Some(v))
    }

    fn check_index(&self, i: usize, len: u64) -> Result<u64> {
        if (i as u64) < len {
            Ok(i as u64)
        } else {
            Err(Error::OutOfBounds {
                index: i,
                len: len as usize,
            })
        }
    }

    /// Element `i`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`], and as [`len`](Self::len).
    pub fn get(&self, i: usize) -> Result<T> {
        let l = self.lock()?;
        let i = self.check_index(i, l.len)?;
        Ok(self.read_elem(l.side, i))
    }

    /// Replaces element `i` with `v`; returns the old element.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`], and as [`len`](Self::len).
    pub fn set(&self, i: usize, v: T) -> Result<T> {
        let l = self.lock()?;
        let i = self.check_index(i, l.len)?;
        let old = self.read_elem(l.side, i);
        self.write_elem(2, 0, &v);
        crash_point();
        self.word(OFF_JOURNAL).store(i + 1, Ordering::Release);
        crash_point();
        self.write_elem(l.side, i, &v);
        crash_point();
        self.word(OFF_JOURNAL).store(0, Ordering::Release);
        Ok(old)
    }

    /// Inserts `v` before index `i` (`i == len` appends).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] when `i > len`, [`Error::Full`], and as [`len`](Self::len).
    pub fn insert(&self, i: usize, v: T) -> Result<()> {
        let l = self.lock()?;
        if i as u64 > l.len {
            return Err(Error::OutOfBounds {
                index: i,
                len: l.len as usize,
            });
        }
        if l.len >= self.capacity {
            return Err(Error::Full(format!(
                "the list `{}` holds {} elements, its capacity",
                self.name(),
                self.capacity
            )));
        }
        let i = i as u64;
        let (from, to) = (l.side, 1 - l.side);
        self.copy_elems(from, 0, to, 0, i);
        crash_point();
        self.write_elem(to, i, &v);
        crash_point();
        self.copy_elems(from, i, to, i + 1, l.len - i);
        crash_point();
        l.commit(l.len + 1, to);
        Ok(())
    }

    /// Removes and returns element `i`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`], and as [`len`](Self::len).
    pub fn remove(&self, i: usize) -> Result<T> {
        let l = self.lock()?;
        let i = self.check_index(i, l.len)?;
        let v = self.read_elem(l.side, i);
        let (from, to) = (l.side, 1 - l.side);
        self.copy_elems(from, 0, to, 0, i);
        crash_point();
        self.copy_elems(from, i + 1, to, i, l.len - i - 1);
        crash_point();
        l.commit(l.len - 1, to);
        Ok(v)
    }

    /// Removes every element.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn clear(&self) -> Result<()> {
        let l = self.lock()?;
        l.commit(0, l.side);
        Ok(())
    }

    /// A copy of the elements.
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let l = self.lock()?;
        Ok((0..l.len).map(|i| self.read_elem(l.side, i)).collect())
    }

    /// Repairs the list after a process died holding its lock: finishes an interrupted
    /// `set` (its journal names the element), then clears the lock's repair flag.
    /// Returns whether a `set` was finished. Works on a healthy list too.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the length word exceeds the capacity; a lock failure.
    pub fn recover(&self) -> Result<bool> {
        let (guard, _) = self.lock_raw()?;
        let mut l = self.locked(guard)?;
        let journal = self.word(OFF_JOURNAL).load(Ordering::Acquire);
        let finished = journal != 0 && journal - 1 < l.len;
        if finished {
            let v = self.read_elem(2, 0);
            self.write_elem(l.side, journal - 1, &v);
        }
        self.word(OFF_JOURNAL).store(0, Ordering::Release);
        crate::sync::Guard::mark_consistent(&mut l.guard);
        Ok(finished)
    }

    /// The segment behind this list.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}

impl<T: Shareable> Locked<'_, T> {
    /// Stores the new length and side: the commit point of every list update.
    fn commit(&self, len: u64, side: u64) {
        self.list
            .word(OFF_STATE)
            .store(len << 1 | side, Ordering::Release);
        crash_point();
    }
}
