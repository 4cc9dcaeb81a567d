//! Checked conversions of C arguments: names, type descriptors, buffers, out-parameters.

use std::ffi::{CStr, c_char};
use std::time::Duration;

use shmkit_core::TypeDesc;

use crate::boundary::Failure;
use crate::status::shmkit_status;

/// The descriptor of an element type: it must match the segment's exactly (name, size
/// and alignment) for an open to succeed. A Rust type declared with
/// `#[shmkit::shareable(name = "point")]` and a C type described as
/// `SHMKIT_TYPE(struct point, "point")` open the same segments. The Rust primitive types
/// are named `"i8"`..`"i64"`, `"u8"`..`"u64"`, `"f32"`, `"f64"`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct shmkit_type {
    /// The type name: NUL-terminated UTF-8, 1 to 63 bytes.
    pub name: *const c_char,
    /// `sizeof` the type: nonzero, a multiple of `align`.
    pub size: usize,
    /// The type's alignment: a power of two up to 4096.
    pub align: usize,
}

/// A segment name argument.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives `'a`.
pub unsafe fn name<'a>(p: *const c_char) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null("name"));
    }
    // SAFETY:
    // - non-NULL and NUL-terminated, living for 'a (the caller's contract).
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes.to_str().map_err(|_| {
        Failure::new(
            shmkit_status::SHMKIT_INVALID_NAME,
            format!("segment name {bytes:?} is not valid UTF-8"),
        )
    })
}

/// A type descriptor argument, interned as a [`TypeDesc`].
///
/// # Safety
/// `t` is NULL or points to a `shmkit_type` whose `name` is NULL or NUL-terminated.
pub unsafe fn type_desc(t: *const shmkit_type) -> Result<TypeDesc, Failure> {
    if t.is_null() {
        return Err(Failure::null("type"));
    }
    // SAFETY:
    // - non-NULL and pointing to a shmkit_type (the caller's contract); it is
    //   plain data, read by copy.
    let t = unsafe { *t };
    if t.name.is_null() {
        return Err(Failure::null("type->name"));
    }
    // SAFETY:
    // - non-NULL and NUL-terminated (the caller's contract); used only here.
    let raw = unsafe { CStr::from_ptr(t.name) };
    let name = raw.to_str().map_err(|_| {
        Failure::new(
            shmkit_status::SHMKIT_INVALID_ARGUMENT,
            format!("type name {raw:?} is not valid UTF-8"),
        )
    })?;
    Ok(TypeDesc::runtime(name, t.size, t.align)?)
}

/// An out-parameter checked to be non-NULL, written only on success.
pub struct Out<T> {
    ptr: *mut T,
}

impl<T> Out<T> {
    /// Checks `ptr` (named `what` in the error) before the call does anything.
    pub fn new(ptr: *mut T, what: &str) -> Result<Out<T>, Failure> {
        if ptr.is_null() {
            Err(Failure::null(what))
        } else {
            Ok(Out { ptr })
        }
    }

    /// Writes the result.
    ///
    /// # Safety
    /// The pointer given to [`new`](Self::new) is valid for a write of `T` (it may be
    /// unaligned only if `T` has alignment 1).
    pub unsafe fn write(self, v: T) {
        // SAFETY:
        // - non-NULL (checked in `new`) and valid for writes (caller's contract).
        unsafe { self.ptr.write(v) }
    }
}

impl Out<usize> {
    /// Reports a receive into a caller's buffer: the message length on success, the
    /// size needed on `BufferTooSmall` (whose status is still returned), nothing else
    /// on other errors.
    ///
    /// # Safety
    /// As [`write`](Self::write).
    pub unsafe fn write_len(self, got: shmkit_core::Result<usize>) -> Result<(), Failure> {
        match got {
            Ok(n) => {
                // SAFETY: the caller's contract, passed on.
                unsafe { self.write(n) };
                Ok(())
            }
            Err(e @ shmkit_core::Error::BufferTooSmall { needed, .. }) => {
                // SAFETY: the caller's contract, passed on.
                unsafe { self.write(needed) };
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A C buffer of `len` bytes to read from (`len == 0` accepts any pointer, even NULL).
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a`, not written meanwhile.
pub unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY:
    // - non-NULL, valid for `len` bytes for 'a (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A C buffer of `len` bytes to write into (`len == 0` accepts any pointer, even NULL).
///
/// # Safety
/// `p` is NULL or valid for writes of `len` bytes for `'a`, not accessed meanwhile.
pub unsafe fn bytes_mut<'a>(p: *mut u8, len: usize, what: &str) -> Result<&'a mut [u8], Failure> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY:
    // - non-NULL, valid for writes of `len` bytes for 'a, unaliased (contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// `len * elem_size` without overflow.
pub fn byte_len(count: usize, elem_size: usize) -> Result<usize, Failure> {
    count.checked_mul(elem_size).ok_or_else(|| {
        Failure::new(
            shmkit_status::SHMKIT_OUT_OF_BOUNDS,
            format!("{count} elements of {elem_size} bytes overflow"),
        )
    })
}

/// A timeout in nanoseconds: negative means wait forever (`None`).
pub fn timeout(ns: i64) -> Option<Duration> {
    u64::try_from(ns).ok().map(Duration::from_nanos)
}
