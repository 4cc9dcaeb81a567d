//! Values, arrays and queues whose element type is known only at run time:
//! [`DynValue`], [`DynArray`] and [`DynQueue`].
//!
//! They open exactly the same segments as [`Value<T>`](crate::Value) and
//! [`Array<T>`](crate::Array) (same kind, same type check, same lock), with the element
//! type given as a [`TypeDesc`] (usually [`TypeDesc::runtime`]) and the data moved as
//! bytes. The C API is built on them; Rust code that knows its types uses the typed forms.
//!
//! ```
//! #[shmkit::shareable(name = "point")]
//! #[derive(Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Point { x: f64, y: f64 }
//!
//! # let name = format!("doc-dyn-{}", std::process::id());
//! let typed = shmkit::Value::create(&name, Point { x: 1.0, y: 2.0 })?;
//! let desc = shmkit::TypeDesc::runtime("point", 16, 8)?;
//! let dynamic = shmkit::dynamic::DynValue::open(&name, desc, &Default::default())?;
//! let mut bytes = [0u8; 16];
//! dynamic.read(&mut bytes)?;
//! assert_eq!(&bytes[..8], &1.0f64.to_ne_bytes());
//! # drop(typed);
//! # Ok::<(), shmkit::Error>(())
//! ```

use std::fmt;

use crate::array::{anonymous_array_segment, create_array_segment, open_array_segment};
use crate::error::{Error, Result};
use crate::segment::{Segment, SegmentOptions};
use crate::sync::{RawMutex, raw_mutex_in};
use crate::types::{AtomicInt, TypeDesc};
use crate::value::{anonymous_value_segment, create_value_segment, open_value_segment};

pub use crate::queue::{DynQueue, DynSlot};

fn size_mismatch(what: &str, expected: usize, found: usize) -> Error {
    Error::InvalidArgument(format!("{what}: expected {expected} bytes, got {found}"))
}

/// One value of a runtime-described type in a segment, with its robust lock; the
/// untyped twin of [`Value<T>`](crate::Value).
pub struct DynValue {
    seg: Segment,
    elem: TypeDesc,
}

impl DynValue {
    /// Creates the value `name` of type `elem`, holding `init` (`elem.size` bytes).
    ///
    /// # Errors
    /// As [`Value::create`](crate::Value::create); [`Error::InvalidArgument`] if `init`
    /// is not `elem.size` bytes.
    pub fn create(
        name: &str,
        elem: TypeDesc,
        init: &[u8],
        opts: &SegmentOptions,
    ) -> Result<DynValue> {
        if init.len() != elem.size {
            return Err(size_mismatch("initial value", elem.size, init.len()));
        }
        let seg = create_value_segment(name, elem, init, opts)?;
        Ok(DynValue { seg, elem })
    }

    /// Opens the value `name`, which must hold an `elem`.
    ///
    /// # Errors
    /// As [`Value::open`](crate::Value::open) ([`Error::TypeMismatch`] names both types).
    pub fn open(name: &str, elem: TypeDesc, opts: &SegmentOptions) -> Result<DynValue> {
        let seg = open_value_segment(name, elem, opts)?;
        Ok(DynValue { seg, elem })
    }

    /// An unnamed value shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(elem: TypeDesc, init: &[u8]) -> Result<DynValue> {
        if init.len() != elem.size {
            return Err(size_mismatch("initial value", elem.size, init.len()));
        }
        let seg = anonymous_value_segment(elem, init)?;
        Ok(DynValue { seg, elem })
    }

    /// The element type.
    pub fn elem(&self) -> TypeDesc {
        self.elem
    }

    /// Pointer to the value's `elem.size` bytes, aligned to `elem.align`, valid while
    /// `self` lives. Other processes change these bytes: access them under the lock.
    pub fn as_ptr(&self) -> *mut u8 {
        self.seg.data_ptr()
    }

    /// The value's lock.
    pub fn raw_mutex(&self) -> &RawMutex {
        raw_mutex_in(&self.seg)
    }

    /// Copies the value into `out` (`elem.size` bytes) under the lock.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a wrong `out` length; [`Error::OwnerDied`] (the
    /// lock is released again, the flag stays set) or another lock failure.
    pub fn read(&self, out: &mut [u8]) -> Result<()> {
        if out.len() != self.elem.size {
            return Err(size_mismatch("value buffer", self.elem.size, out.len()));
        }
        let _g = self.raw_mutex().lock()?;
        // SAFETY:
        // - the data area is `elem.size` bytes inside the mapping `self.seg` keeps alive.
        // - the lock is held, so cooperating processes do not write it meanwhile.
        unsafe { crate::segment::copy_in(self.as_ptr(), out) };
        Ok(())
    }

    /// Copies `bytes` (`elem.size` of them) into the value under the lock.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() != self.elem.size {
            return Err(size_mismatch("value bytes", self.elem.size, bytes.len()));
        }
        let _g = self.raw_mutex().lock()?;
        // SAFETY:
        // - the data area is `elem.size` bytes inside the writable mapping.
        // - `bytes` is caller memory outside the mapping; the lock is held.
        unsafe { crate::segment::copy_out(bytes, self.as_ptr()) };
        Ok(())
    }

    /// The value as an atomic integer of type `T`, for lock-free operations.
    ///
    /// # Errors
    /// [`Error::TypeMismatch`] unless the element type is `T`'s.
    pub fn atomic<T: AtomicInt>(&self) -> Result<&T::Atomic> {
        let want = TypeDesc::of::<T>();
        if self.elem != want {
            return Err(Error::TypeMismatch {
                expected: want.to_string(),
                found: self.elem.to_string(),
            });
        }
        // SAFETY:
        // - the element type is `T` (checked above), so the data area holds one `T`
        //   aligned to `align_of::<T>()`, inside the mapping alive as long as `&self`.
        // - integer values are accessed atomically or under the lock, as for `Value<T>`.
        Ok(unsafe { T::atomic(self.as_ptr().cast()) })
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

impl fmt::Debug for DynValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynValue")
            .field("name", &self.seg.name())
            .field("type", &self.elem)
            .finish()
    }
}

/// `len` elements of a runtime-described type in a segment, with a robust lock; the
/// untyped twin of [`Array<T>`](crate::Array).
pub struct DynArray {
    seg: Segment,
    elem: TypeDesc,
    len: usize,
}

impl DynArray {
    /// Creates the array `name` of `len` elements `elem`, holding `init`
    /// (`len * elem.size` bytes) or zeroes.
    ///
    /// # Errors
    /// As [`Array::create`](crate::Array::create); [`Error::InvalidArgument`] for a wrong
    /// `init` length.
    pub fn create(
        name: &str,
        elem: TypeDesc,
        len: usize,
        init: Option<&[u8]>,
        opts: &SegmentOptions,
    ) -> Result<DynArray> {
        if let Some(bytes) = init {
            let want = len.saturating_mul(elem.size);
            if bytes.len() != want {
                return Err(size_mismatch("initial elements", want, bytes.len()));
            }
        }
        let seg = create_array_segment(name, elem, len, init, opts)?;
        Ok(DynArray { seg, elem, len })
    }

    /// Opens the array `name`, which must hold elements `elem`.
    ///
    /// # Errors
    /// As [`Array::open`](crate::Array::open).
    pub fn open(name: &str, elem: TypeDesc, opts: &SegmentOptions) -> Result<DynArray> {
        let (seg, len) = open_array_segment(name, elem, opts)?;
        Ok(DynArray { seg, elem, len })
    }

    /// An unnamed zeroed array shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(elem: TypeDesc, len: usize) -> Result<DynArray> {
        let seg = anonymous_array_segment(elem, len)?;
        Ok(DynArray { seg, elem, len })
    }

    /// The element type.
    pub fn elem(&self) -> TypeDesc {
        self.elem
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pointer to the first element (`len * elem.size` bytes, aligned to
    /// `elem.align`), valid while `self` lives. Access the elements under the lock.
    pub fn as_ptr(&self) -> *mut u8 {
        self.seg.data_ptr()
    }

    /// The array's lock.
    pub fn raw_mutex(&self) -> &RawMutex {
        raw_mutex_in(&self.seg)
    }

    /// The byte range of `count` elements from `start`, bounds-checked.
    fn byte_range(&self, start: usize, count: usize) -> Result<(usize, usize)> {
        Error::check_range(start, count, self.len)?;
        Ok((start * self.elem.size, count * self.elem.size))
    }

    fn count_of(&self, bytes: usize) -> Result<usize> {
        if bytes % self.elem.size != 0 {
            return Err(Error::InvalidArgument(format!(
                "{bytes} bytes are not a whole number of {}-byte elements",
                self.elem.size
            )));
        }
        Ok(bytes / self.elem.size)
    }

    /// Copies elements from `start` into `out` (a whole number of elements) under the
    /// lock.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`], [`Error::InvalidArgument`] for a partial element,
    /// [`Error::OwnerDied`] or another lock failure.
    pub fn read(&self, start: usize, out: &mut [u8]) -> Result<()> {
        let (offset, _) = self.byte_range(start, self.count_of(out.len())?)?;
        let _g = self.raw_mutex().lock()?;
        // SAFETY:
        // - `offset + out.len()` is within the data area (bounds checked above), inside
        //   the mapping `self.seg` keeps alive.
        // - the lock is held, so cooperating processes do not write it meanwhile.
        unsafe { crate::segment::copy_in(self.as_ptr().add(offset), out) };
        Ok(())
    }

    /// Copies `bytes` (a whole number of elements) into the array from `start`, under
    /// the lock.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn write(&self, start: usize, bytes: &[u8]) -> Result<()> {
        let (offset, _) = self.byte_range(start, self.count_of(bytes.len())?)?;
        let _g = self.raw_mutex().lock()?;
        // SAFETY:
        // - the range is within the data area of the writable mapping (checked above).
        // - `bytes` is caller memory outside the mapping; the lock is held.
        unsafe { crate::segment::copy_out(bytes, self.as_ptr().add(offset)) };
        Ok(())
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

impl fmt::Debug for DynArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynArray")
            .field("name", &self.seg.name())
            .field("type", &self.elem)
            .field("len", &self.len)
            .finish()
    }
}
