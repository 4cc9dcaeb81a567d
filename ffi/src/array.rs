//! `shmkit_array`: a fixed-length shared array of a described type, with its robust lock.

use std::ffi::{c_char, c_void};

use shmkit_core::SegmentOptions;
use shmkit_core::dynamic::DynArray;

use crate::args::{self, Out, shmkit_type};
use crate::handle::{self, impl_handle};
use crate::lock::{self, Wait};
use crate::status::shmkit_status;

/// A handle to a shared array (the C form of `shmkit::Array<T>`). Made by
/// `shmkit_array_create` / `shmkit_array_open`, released by `shmkit_array_close`.
pub struct shmkit_array {
    magic: u64,
    inner: DynArray,
}
impl_handle!(shmkit_array, DynArray, 0x736b_6172_7261_7931, "array");

/// Creates the array `name` of `len` zeroed elements of `type` and writes a new handle
/// to `*out`. The creating handle removes the name when it is closed.
///
/// Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`, `SHMKIT_INVALID_ARGUMENT`
/// (bad descriptor, size overflow), `SHMKIT_PERMISSION_DENIED`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    len: usize,
    out: *mut *mut shmkit_array,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or NUL-terminated (the caller's contract).
        let name = unsafe { args::name(name) }?;
        // SAFETY:
        // - NULL or a valid descriptor (the caller's contract).
        let elem = unsafe { args::type_desc(r#type) }?;
        let a = DynArray::create(name, elem, len, None, &SegmentOptions::default())?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { handle::publish(out, a) };
        Ok(())
    }
}

/// Opens the array `name`, whose elements must be exactly `type`, and writes a new
/// handle to `*out` (its length: `shmkit_array_len`).
///
/// Returns `SHMKIT_NOT_FOUND`, `SHMKIT_TYPE_MISMATCH`, `SHMKIT_KIND_MISMATCH`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_open(
    name: *const c_char,
    r#type: *const shmkit_type,
    out: *mut *mut shmkit_array,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or NUL-terminated (the caller's contract).
        let name = unsafe { args::name(name) }?;
        // SAFETY:
        // - NULL or a valid descriptor (the caller's contract).
        let elem = unsafe { args::type_desc(r#type) }?;
        let a = DynArray::open(name, elem, &SegmentOptions::default())?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { handle::publish(out, a) };
        Ok(())
    }
}

/// Closes `*array` and sets it to NULL (a NULL `*array` is a no-op). Releases the lock
/// if the calling thread holds it; the creating handle also removes the name.
///
/// # Safety
/// `array` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_close(array: *mut *mut shmkit_array) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(array, |a: &DynArray| lock::release_if_held(a.raw_mutex())) }
    }
}

/// Writes the number of elements to `*out`.
///
/// # Safety
/// `array` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_len(
    array: *const shmkit_array,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let a = unsafe { handle::get(array) }?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(a.len()) };
        Ok(())
    }
}

/// Writes to `*out` a pointer to the first element (`len * type->size` bytes, aligned to
/// `type->align`), valid until the handle is closed. Access the elements only between
/// `shmkit_array_lock` and `shmkit_array_unlock`.
///
/// # Safety
/// `array` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_data(
    array: *const shmkit_array,
    out: *mut *mut c_void,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let a = unsafe { handle::get(array) }?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(a.as_ptr().cast()) };
        Ok(())
    }
}

/// Blocks until the array's lock is held by the calling thread. Returns `SHMKIT_OK`, or
/// `SHMKIT_OWNER_DIED` with the lock held (repair, then `shmkit_array_mark_consistent`),
/// or `SHMKIT_DEADLOCK` if this thread holds it already.
///
/// # Safety
/// `array` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_lock(array: *const shmkit_array) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(array) }?.raw_mutex(), Wait::Forever)
    }
}

/// `shmkit_array_lock`, giving up with `SHMKIT_TIMEOUT` after `timeout_ns` nanoseconds
/// (negative: wait forever).
///
/// # Safety
/// `array` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_lock_timeout(
    array: *const shmkit_array,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(array) }?.raw_mutex(), Wait::from_ns(timeout_ns))
    }
}

/// `shmkit_array_lock` only if the lock is free, else `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `array` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_try_lock(array: *const shmkit_array) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(array) }?.raw_mutex(), Wait::Try)
    }
}

/// Releases the array's lock; `SHMKIT_NOT_LOCKED` if the calling thread does not hold it.
///
/// # Safety
/// `array` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_unlock(array: *const shmkit_array) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::unlock(unsafe { handle::get(array) }?.raw_mutex())
    }
}

/// After `SHMKIT_OWNER_DIED`: declares the repaired elements consistent. The calling
/// thread must hold the lock (`SHMKIT_NOT_LOCKED`).
///
/// # Safety
/// `array` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_mark_consistent(array: *const shmkit_array) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::mark_consistent(unsafe { handle::get(array) }?.raw_mutex())
    }
}

/// Copies `count` elements starting at index `start` into `out` (room for
/// `count * type->size` bytes), under the lock. Returns `SHMKIT_OUT_OF_BOUNDS` past the
/// end; `SHMKIT_OWNER_DIED` (lock released again) or `SHMKIT_DEADLOCK` as for
/// `shmkit_value_load`.
///
/// # Safety
/// `array` is NULL or a live handle; `out` is NULL or writable for `count * type->size`
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_read(
    array: *const shmkit_array,
    start: usize,
    count: usize,
    out: *mut c_void,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let a = unsafe { handle::get(array) }?;
        let len = args::byte_len(count, a.elem().size)?;
        // SAFETY:
        // - NULL or writable for `count * size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), len, "out") }?;
        let mut tmp = vec![0u8; len];
        a.read(start, &mut tmp)?;
        out.copy_from_slice(&tmp);
        Ok(())
    }
}

/// Copies `count` elements from `in` into the array starting at index `start`, under the
/// lock. Errors as `shmkit_array_read`.
///
/// # Safety
/// `array` is NULL or a live handle; `in` is NULL or readable for `count * type->size`
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_array_write(
    array: *const shmkit_array,
    start: usize,
    count: usize,
    r#in: *const c_void,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let a = unsafe { handle::get(array) }?;
        let len = args::byte_len(count, a.elem().size)?;
        // SAFETY:
        // - NULL or readable for `count * size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(r#in.cast(), len, "in") }?;
        a.write(start, bytes)?;
        Ok(())
    }
}
