//! `shmkit_value`: one shared value of a described type, with its robust lock.

use std::ffi::{c_char, c_void};
use std::sync::atomic::Ordering;

use shmkit_core::dynamic::DynValue;
use shmkit_core::{AtomicInt, SegmentOptions};

use crate::args::{self, Out, shmkit_type};
use crate::handle::{self, impl_handle};
use crate::lock::{self, Wait};
use crate::status::shmkit_status;

/// A handle to a shared value (the C form of `shmkit::Value<T>`). Made by
/// `shmkit_value_create` / `shmkit_value_open`, released by `shmkit_value_close`.
pub struct shmkit_value {
    magic: u64,
    inner: DynValue,
}
impl_handle!(shmkit_value, DynValue, 0x736b_7661_6c75_6531, "value");

/// Creates the value `name` holding one `type`, initialized from `init` (`type->size`
/// bytes; NULL means zeroed), and writes a new handle to `*out`.
///
/// The creating handle removes the name when it is closed (other processes that have
/// the value open keep it). Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`,
/// `SHMKIT_INVALID_ARGUMENT` (bad descriptor), `SHMKIT_PERMISSION_DENIED`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `init` is
/// NULL or readable for `type->size` bytes; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    init: *const c_void,
    out: *mut *mut shmkit_value,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or NUL-terminated (the caller's contract).
        let name = unsafe { args::name(name) }?;
        // SAFETY:
        // - NULL or a valid descriptor (the caller's contract).
        let elem = unsafe { args::type_desc(r#type) }?;
        let zeroes;
        let bytes = if init.is_null() {
            zeroes = vec![0u8; elem.size];
            &zeroes[..]
        } else {
            // SAFETY:
            // - non-NULL `init` is readable for `type->size` bytes (contract).
            unsafe { args::bytes(init.cast(), elem.size, "init") }?
        };
        let v = DynValue::create(name, elem, bytes, &SegmentOptions::default())?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { handle::publish(out, v) };
        Ok(())
    }
}

/// Opens the value `name`, which must hold exactly `type` (same name, size and
/// alignment), and writes a new handle to `*out`.
///
/// Returns `SHMKIT_NOT_FOUND`, `SHMKIT_TYPE_MISMATCH`, `SHMKIT_KIND_MISMATCH`,
/// `SHMKIT_NOT_READY`, `SHMKIT_CORRUPT`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_open(
    name: *const c_char,
    r#type: *const shmkit_type,
    out: *mut *mut shmkit_value,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or NUL-terminated (the caller's contract).
        let name = unsafe { args::name(name) }?;
        // SAFETY:
        // - NULL or a valid descriptor (the caller's contract).
        let elem = unsafe { args::type_desc(r#type) }?;
        let v = DynValue::open(name, elem, &SegmentOptions::default())?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { handle::publish(out, v) };
        Ok(())
    }
}

/// Closes `*value` and sets it to NULL (a NULL `*value` is a no-op). Releases the lock
/// if the calling thread holds it; the creating handle also removes the name.
///
/// # Safety
/// `value` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_close(value: *mut *mut shmkit_value) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(value, |v: &DynValue| lock::release_if_held(v.raw_mutex())) }
    }
}

/// Writes to `*out` a pointer to the value's bytes (`type->size` of them, aligned to
/// `type->align`), valid until the handle is closed. Other processes change them: access
/// them only between `shmkit_value_lock` and `shmkit_value_unlock`.
///
/// # Safety
/// `value` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_data(
    value: *const shmkit_value,
    out: *mut *mut c_void,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let v = unsafe { handle::get(value) }?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(v.as_ptr().cast()) };
        Ok(())
    }
}

/// Blocks until the value's lock is held by the calling thread. Returns `SHMKIT_OK`, or
/// `SHMKIT_OWNER_DIED` with the lock held (repair, then `shmkit_value_mark_consistent`),
/// or `SHMKIT_DEADLOCK` if this thread holds it already.
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_lock(value: *const shmkit_value) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(value) }?.raw_mutex(), Wait::Forever)
    }
}

/// `shmkit_value_lock`, giving up with `SHMKIT_TIMEOUT` after `timeout_ns` nanoseconds
/// (negative: wait forever).
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_lock_timeout(
    value: *const shmkit_value,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(value) }?.raw_mutex(), Wait::from_ns(timeout_ns))
    }
}

/// `shmkit_value_lock` only if the lock is free, else `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_try_lock(value: *const shmkit_value) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(value) }?.raw_mutex(), Wait::Try)
    }
}

/// Releases the value's lock; `SHMKIT_NOT_LOCKED` if the calling thread does not hold it.
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_unlock(value: *const shmkit_value) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::unlock(unsafe { handle::get(value) }?.raw_mutex())
    }
}

/// After `SHMKIT_OWNER_DIED`: declares the repaired data consistent, so later lockers
/// get `SHMKIT_OK` again. The calling thread must hold the lock (`SHMKIT_NOT_LOCKED`).
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_mark_consistent(value: *const shmkit_value) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::mark_consistent(unsafe { handle::get(value) }?.raw_mutex())
    }
}

/// Copies the value (`size` bytes, which must equal the type's size) into `out`, under
/// the lock. Do not call it while holding the lock (`SHMKIT_DEADLOCK`). An owner death
/// gives `SHMKIT_OWNER_DIED` and releases the lock again (recover through
/// `shmkit_value_lock`).
///
/// # Safety
/// `value` is NULL or a live handle; `out` is NULL or writable for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_load(
    value: *const shmkit_value,
    out: *mut c_void,
    size: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let v = unsafe { handle::get(value) }?;
        // SAFETY:
        // - NULL or writable for `size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), size, "out") }?;
        let mut tmp = vec![0u8; size];
        v.read(&mut tmp)?;
        out.copy_from_slice(&tmp);
        Ok(())
    }
}

/// Copies `size` bytes (the type's size) from `in` into the value, under the lock.
/// Errors as `shmkit_value_load`.
///
/// # Safety
/// `value` is NULL or a live handle; `in` is NULL or readable for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_store(
    value: *const shmkit_value,
    r#in: *const c_void,
    size: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let v = unsafe { handle::get(value) }?;
        // SAFETY:
        // - NULL or readable for `size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(r#in.cast(), size, "in") }?;
        v.write(bytes)?;
        Ok(())
    }
}

/// The lock-free form of a value of integer type `T`.
///
/// # Safety
/// `value` is NULL or a live handle.
unsafe fn atomic<'a, T: AtomicInt>(
    value: *const shmkit_value,
) -> Result<&'a T::Atomic, crate::boundary::Failure> {
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    Ok(unsafe { handle::get(value) }?.atomic::<T>()?)
}

/// Atomically adds `delta` (wrapping) to a value of type `"i64"`, without the lock, and
/// writes the previous value to `*out_previous` (which may be NULL). Another type gives
/// `SHMKIT_TYPE_MISMATCH`.
///
/// # Safety
/// `value` is NULL or a live handle; `out_previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_fetch_add_i64(
    value: *const shmkit_value,
    delta: i64,
    out_previous: *mut i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { fetch_add::<i64>(value, delta, out_previous) }
    }
}

/// Atomically reads a value of type `"i64"` into `*out`, without the lock.
///
/// # Safety
/// `value` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_load_i64(
    value: *const shmkit_value,
    out: *mut i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { load::<i64>(value, out) }
    }
}

/// Atomically writes `v` into a value of type `"i64"`, without the lock.
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_store_i64(
    value: *const shmkit_value,
    v: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { atomic::<i64>(value) }?.store(v, Ordering::SeqCst);
        Ok(())
    }
}

/// Atomically replaces a value of type `"i64"` by `desired` if it equals `expected`.
/// Writes whether it did to `*out_exchanged` and the value found to `*out_previous`
/// (either may be NULL). A failed comparison is not an error: the status is `SHMKIT_OK`.
///
/// # Safety
/// `value` is NULL or a live handle; the out pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_compare_exchange_i64(
    value: *const shmkit_value,
    expected: i64,
    desired: i64,
    out_exchanged: *mut bool,
    out_previous: *mut i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { compare_exchange::<i64>(value, expected, desired, out_exchanged, out_previous) }
    }
}

/// Atomically adds `delta` (wrapping) to a value of type `"u64"`; see
/// `shmkit_value_fetch_add_i64`.
///
/// # Safety
/// `value` is NULL or a live handle; `out_previous` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_fetch_add_u64(
    value: *const shmkit_value,
    delta: u64,
    out_previous: *mut u64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { fetch_add::<u64>(value, delta, out_previous) }
    }
}

/// Atomically reads a value of type `"u64"` into `*out`, without the lock.
///
/// # Safety
/// `value` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_load_u64(
    value: *const shmkit_value,
    out: *mut u64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { load::<u64>(value, out) }
    }
}

/// Atomically writes `v` into a value of type `"u64"`, without the lock.
///
/// # Safety
/// `value` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_store_u64(
    value: *const shmkit_value,
    v: u64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { atomic::<u64>(value) }?.store(v, Ordering::SeqCst);
        Ok(())
    }
}

/// `shmkit_value_compare_exchange_i64` for a value of type `"u64"`.
///
/// # Safety
/// `value` is NULL or a live handle; the out pointers are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_value_compare_exchange_u64(
    value: *const shmkit_value,
    expected: u64,
    desired: u64,
    out_exchanged: *mut bool,
    out_previous: *mut u64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { compare_exchange::<u64>(value, expected, desired, out_exchanged, out_previous) }
    }
}

type Status = Result<(), crate::boundary::Failure>;

/// The body of `shmkit_value_fetch_add_{i64,u64}`.
///
/// # Safety
/// `value` is NULL or a live handle; `out_previous` is NULL or writable.
unsafe fn fetch_add<T: AtomicInt>(
    value: *const shmkit_value,
    delta: T,
    out_previous: *mut T,
) -> Status {
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let old = T::fetch_add(unsafe { atomic::<T>(value) }?, delta, Ordering::SeqCst);
    if !out_previous.is_null() {
        // SAFETY:
        // - non-NULL and writable (the caller's contract).
        unsafe { out_previous.write(old) };
    }
    Ok(())
}

/// The body of `shmkit_value_load_{i64,u64}`.
///
/// # Safety
/// `value` is NULL or a live handle; `out` is NULL or writable.
unsafe fn load<T: AtomicInt>(value: *const shmkit_value, out: *mut T) -> Status {
    let out = Out::new(out, "out")?;
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let v = T::load(unsafe { atomic::<T>(value) }?, Ordering::SeqCst);
    // SAFETY:
    // - writable (the caller's contract).
    unsafe { out.write(v) };
    Ok(())
}

/// The body of `shmkit_value_compare_exchange_{i64,u64}`: sequentially consistent on
/// both outcomes.
///
/// # Safety
/// `value` is NULL or a live handle; the out pointers are NULL or writable.
unsafe fn compare_exchange<T: AtomicInt>(
    value: *const shmkit_value,
    expected: T,
    desired: T,
    exchanged: *mut bool,
    previous: *mut T,
) -> Status {
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let a = unsafe { atomic::<T>(value) }?;
    let r = T::compare_exchange(a, expected, desired);
    let (ok, prev) = match r {
        Ok(p) => (true, p),
        Err(p) => (false, p),
    };
    if !exchanged.is_null() {
        // SAFETY:
        // - non-NULL and writable (the caller's contract).
        unsafe { exchanged.write(ok) };
    }
    if !previous.is_null() {
        // SAFETY:
        // - non-NULL and writable (the caller's contract).
        unsafe { previous.write(prev) };
    }
    Ok(())
}
