//! `shmkit_mutex`: a named standalone robust lock.

use std::ffi::c_char;

use shmkit_core::Mutex;

use crate::handle::{self, impl_handle};
use crate::lock::{self, Wait};
use crate::status::shmkit_status;

/// A handle to a named robust process-shared lock (the C form of `shmkit::Mutex`).
pub struct shmkit_mutex {
    magic: u64,
    inner: Mutex,
}
impl_handle!(shmkit_mutex, Mutex, 0x736b_6d75_7465_7831, "mutex");

/// Creates the mutex `name` (unlocked) and writes a new handle to `*out`. The creating
/// handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_create(
    name: *const c_char,
    out: *mut *mut shmkit_mutex,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Mutex::create) }
    }
}

/// Opens the mutex `name` and writes a new handle to `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_open(
    name: *const c_char,
    out: *mut *mut shmkit_mutex,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Mutex::open) }
    }
}

/// Closes `*mutex` and sets it to NULL (a NULL `*mutex` is a no-op). Releases the lock
/// if the calling thread holds it; the creating handle also removes the name.
///
/// # Safety
/// `mutex` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_close(mutex: *mut *mut shmkit_mutex) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(mutex, |m: &Mutex| lock::release_if_held(m.raw())) }
    }
}

/// Blocks until the calling thread holds the lock. Returns `SHMKIT_OK`, or
/// `SHMKIT_OWNER_DIED` with the lock held (the previous owner died holding it; repair
/// what it protects, then `shmkit_mutex_mark_consistent`), or `SHMKIT_DEADLOCK` if this
/// thread holds it already.
///
/// # Safety
/// `mutex` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_lock(mutex: *const shmkit_mutex) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(mutex) }?.raw(), Wait::Forever)
    }
}

/// `shmkit_mutex_lock`, giving up with `SHMKIT_TIMEOUT` after `timeout_ns` nanoseconds
/// (negative: wait forever).
///
/// # Safety
/// `mutex` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_lock_timeout(
    mutex: *const shmkit_mutex,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(mutex) }?.raw(), Wait::from_ns(timeout_ns))
    }
}

/// `shmkit_mutex_lock` only if the lock is free, else `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `mutex` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_try_lock(mutex: *const shmkit_mutex) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(mutex) }?.raw(), Wait::Try)
    }
}

/// Releases the lock; `SHMKIT_NOT_LOCKED` if the calling thread does not hold it.
///
/// # Safety
/// `mutex` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_unlock(mutex: *const shmkit_mutex) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::unlock(unsafe { handle::get(mutex) }?.raw())
    }
}

/// After `SHMKIT_OWNER_DIED`: declares the protected data consistent, so later lockers
/// get `SHMKIT_OK` again. The calling thread must hold the lock (`SHMKIT_NOT_LOCKED`).
///
/// # Safety
/// `mutex` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_mutex_mark_consistent(mutex: *const shmkit_mutex) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::mark_consistent(unsafe { handle::get(mutex) }?.raw())
    }
}
