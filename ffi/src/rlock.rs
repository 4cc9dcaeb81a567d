//! `shmkit_rlock`: a named robust re-entrant lock.
//!
//! A C lock call acquires through the library and leaks the level's guard
//! ([`RLockGuard::leak`](shmkit_core::RLockGuard::leak)); `_unlock` is
//! [`RawRLock::release`](shmkit_core::RawRLock::release), which releases one level of
//! the calling thread's hold.

use std::ffi::c_char;

use shmkit_core::{RLock, RawRLock};

use crate::args::Out;
use crate::boundary::Failure;
use crate::handle::{self, impl_handle};
use crate::lock::{self, Wait};
use crate::status::shmkit_status;

/// A handle to a named robust re-entrant lock (the C form of `shmkit::RLock`).
pub struct shmkit_rlock {
    magic: u64,
    inner: RLock,
}
impl_handle!(shmkit_rlock, RLock, 0x736b_726c_6f63_6b31, "rlock");

fn acquire(l: &RawRLock, wait: Wait) -> Result<(), Failure> {
    lock::keep(match wait {
        Wait::Forever => l.lock(),
        Wait::For(d) => l.lock_timeout(d),
        Wait::Try => l.try_lock(),
    })
}

/// Creates the re-entrant lock `name` (unlocked) and writes a new handle to `*out`. The
/// creating handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_create(
    name: *const c_char,
    out: *mut *mut shmkit_rlock,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, RLock::create) }
    }
}

/// Opens the re-entrant lock `name` and writes a new handle to `*out`
/// (`SHMKIT_KIND_MISMATCH` if `name` is another kind of segment).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_open(
    name: *const c_char,
    out: *mut *mut shmkit_rlock,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, RLock::open) }
    }
}

/// Opens the re-entrant lock `name`, creating it if it does not exist, and writes a new
/// handle to `*out`. The handle removes the name when closed only if this call created
/// it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_open_or_create(
    name: *const c_char,
    out: *mut *mut shmkit_rlock,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, RLock::open_or_create) }
    }
}

/// Closes `*rlock` and sets it to NULL (a NULL `*rlock` is a no-op). Releases every
/// level of a hold the calling thread still has; the creating handle also removes the
/// name.
///
/// # Safety
/// `rlock` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_close(rlock: *mut *mut shmkit_rlock) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe {
            handle::close(rlock, |l: &RLock| {
                while l.is_owned() && l.release().is_ok() {}
            })
        }
    }
}

/// Blocks until the calling thread holds the lock; a thread that holds it already
/// enters again (one more level, released by one more `shmkit_rlock_unlock`). Returns
/// `SHMKIT_OK`, or `SHMKIT_OWNER_DIED` with the lock held at one level (the previous
/// owner died holding it; repair what it protects, then `shmkit_rlock_mark_consistent`).
///
/// # Safety
/// `rlock` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_lock(rlock: *const shmkit_rlock) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        acquire(unsafe { handle::get(rlock) }?.raw(), Wait::Forever)
    }
}

/// `shmkit_rlock_lock`, giving up with `SHMKIT_TIMEOUT` after `timeout_ns` nanoseconds
/// (negative: wait forever). The holding thread re-enters at once.
///
/// # Safety
/// `rlock` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_lock_timeout(
    rlock: *const shmkit_rlock,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        acquire(unsafe { handle::get(rlock) }?.raw(), Wait::from_ns(timeout_ns))
    }
}

/// `shmkit_rlock_lock` only if the lock is free or held by the calling thread, else
/// `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `rlock` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_try_lock(rlock: *const shmkit_rlock) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        acquire(unsafe { handle::get(rlock) }?.raw(), Wait::Try)
    }
}

/// Releases one level of the calling thread's hold; the last level unlocks.
/// `SHMKIT_NOT_OWNER` if the calling thread does not hold the lock (nothing changes).
///
/// # Safety
/// `rlock` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_unlock(rlock: *const shmkit_rlock) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(rlock) }?.release()?;
        Ok(())
    }
}

/// After `SHMKIT_OWNER_DIED`: declares the protected data consistent, so later lockers
/// get `SHMKIT_OK` again. The calling thread must hold the lock (`SHMKIT_NOT_OWNER`).
///
/// # Safety
/// `rlock` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_mark_consistent(rlock: *const shmkit_rlock) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(rlock) }?.raw().mark_consistent_unguarded()?;
        Ok(())
    }
}

/// Writes to `*out` whether the calling thread holds the lock.
///
/// # Safety
/// `rlock` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_rlock_is_owned(
    rlock: *const shmkit_rlock,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let owned = unsafe { handle::get(rlock) }?.is_owned();
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(owned) };
        Ok(())
    }
}
