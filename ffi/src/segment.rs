//! `shmkit_segment`: a named raw byte area (like Python's `SharedMemory`).

use std::ffi::{c_char, c_void};

use shmkit_core::Segment;

use crate::args::{self, Out};
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named raw segment of bytes (the C form of `shmkit::Segment`).
pub struct shmkit_segment {
    magic: u64,
    inner: Segment,
}
impl_handle!(shmkit_segment, Segment, 0x736b_7365_676d_6e31, "segment");

/// Creates the raw segment `name` of `size` zeroed bytes and writes a new handle to
/// `*out`. The creating handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_create(
    name: *const c_char,
    size: usize,
    out: *mut *mut shmkit_segment,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Segment::create(n, size)) }
    }
}

/// Opens the raw segment `name` and writes a new handle to `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_open(
    name: *const c_char,
    out: *mut *mut shmkit_segment,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Segment::open) }
    }
}

/// Closes `*segment` and sets it to NULL (a NULL `*segment` is a no-op); the creating
/// handle also removes the name.
///
/// # Safety
/// `segment` is NULL or the address of a handle variable (NULL or a live handle) that
/// no other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_close(segment: *mut *mut shmkit_segment) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(segment, |_| ()) }
    }
}

/// Writes the size of the data area in bytes to `*out`.
///
/// # Safety
/// `segment` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_size(
    segment: *const shmkit_segment,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let s = unsafe { handle::get(segment) }?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(s.len()) };
        Ok(())
    }
}

/// Writes to `*out` a pointer to the data area (64-byte aligned), valid until the
/// handle is closed. Other processes may change the bytes at any time: synchronize
/// with a lock or atomics of your own.
///
/// # Safety
/// `segment` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_data(
    segment: *const shmkit_segment,
    out: *mut *mut c_void,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let s = unsafe { handle::get(segment) }?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(s.as_ptr().cast()) };
        Ok(())
    }
}

/// Copies `len` bytes at `offset` of the data area into `out`; `SHMKIT_OUT_OF_BOUNDS`
/// past the end.
///
/// # Safety
/// `segment` is NULL or a live handle; `out` is NULL or writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_read(
    segment: *const shmkit_segment,
    offset: usize,
    out: *mut c_void,
    len: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let s = unsafe { handle::get(segment) }?;
        // SAFETY:
        // - NULL or writable for `len` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), len, "out") }?;
        s.read_at(offset, out)?;
        Ok(())
    }
}

/// Copies `len` bytes from `in` into the data area at `offset`; `SHMKIT_OUT_OF_BOUNDS`
/// past the end.
///
/// # Safety
/// `segment` is NULL or a live handle; `in` is NULL or readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_segment_write(
    segment: *const shmkit_segment,
    offset: usize,
    r#in: *const c_void,
    len: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let s = unsafe { handle::get(segment) }?;
        // SAFETY:
        // - NULL or readable for `len` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(r#in.cast(), len, "in") }?;
        s.write_at(offset, bytes)?;
        Ok(())
    }
}
