//! `shmkit_condition`: a named condition variable with its own robust mutex.
//!
//! The C shape is POSIX's: lock the condition's mutex with `shmkit_condition_lock`,
//! check the predicate, `shmkit_condition_wait` (which releases the mutex while it
//! sleeps and holds it again when it returns), and `shmkit_condition_unlock`. The wait
//! adopts the guard-less hold the C lock call left
//! ([`RawMutex::adopt_unguarded`](shmkit_core::RawMutex::adopt_unguarded)), waits
//! through the library, and forgets the guard it gets back.

use std::ffi::c_char;
use std::time::Duration;

use shmkit_core::Condition;

use crate::args::{self, Out};
use crate::boundary::Failure;
use crate::handle::{self, impl_handle};
use crate::lock::{self, Wait};
use crate::status::shmkit_status;

/// A handle to a named condition variable and its mutex (the C form of
/// `shmkit::Condition`).
pub struct shmkit_condition {
    magic: u64,
    inner: Condition,
}
impl_handle!(
    shmkit_condition,
    Condition,
    0x736b_636f_6e64_7631,
    "condition"
);

/// Waits on `c` with its mutex held by the calling thread (through the C lock call);
/// returns whether a notification arrived (`false`: timed out). The mutex is held again
/// when this returns `Ok` or `SHMKIT_OWNER_DIED`.
fn wait(c: &Condition, timeout: Option<Duration>) -> Result<bool, Failure> {
    // SAFETY:
    // - every hold of a lock taken through the C API forgot its guard (`lock::keep`), so
    //   if this thread holds the mutex, no guard of this hold is alive; the header tells
    //   C callers not to mix a Rust guard with the C calls on one lock in one thread.
    // - `adopt_unguarded` checks that this thread holds the mutex.
    let guard = unsafe { c.mutex().adopt_unguarded() }.map_err(lock::not_locked)?;
    let r = match timeout {
        None => c.wait(guard).map(|g| (g, true)),
        Some(d) => c.wait_timeout(guard, d),
    };
    let mut notified = true;
    lock::keep(r.map(|(g, n)| {
        notified = n;
        g
    }))?;
    Ok(notified)
}

/// Creates the condition `name` and its mutex (unlocked) and writes a new handle to
/// `*out`. The creating handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_create(
    name: *const c_char,
    out: *mut *mut shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Condition::create) }
    }
}

/// Opens the condition `name` and writes a new handle to `*out` (`SHMKIT_KIND_MISMATCH`
/// if `name` is another kind of segment).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_open(
    name: *const c_char,
    out: *mut *mut shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Condition::open) }
    }
}

/// Opens the condition `name`, creating it if it does not exist, and writes a new
/// handle to `*out`. The handle removes the name when closed only if this call created
/// it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_open_or_create(
    name: *const c_char,
    out: *mut *mut shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Condition::open_or_create) }
    }
}

/// Closes `*condition` and sets it to NULL (a NULL `*condition` is a no-op). Releases
/// the mutex if the calling thread holds it; the creating handle also removes the name.
///
/// # Safety
/// `condition` is NULL or the address of a handle variable (NULL or a live handle) that
/// no other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_close(
    condition: *mut *mut shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(condition, |c: &Condition| lock::release_if_held(c.mutex())) }
    }
}

/// Blocks until the calling thread holds the condition's mutex. Returns `SHMKIT_OK`, or
/// `SHMKIT_OWNER_DIED` with the mutex held (repair, then
/// `shmkit_condition_mark_consistent`), or `SHMKIT_DEADLOCK` if this thread holds it
/// already.
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_lock(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(condition) }?.mutex(), Wait::Forever)
    }
}

/// `shmkit_condition_lock`, giving up with `SHMKIT_TIMEOUT` after `timeout_ns`
/// nanoseconds (negative: wait forever).
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_lock_timeout(
    condition: *const shmkit_condition,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(condition) }?.mutex(), Wait::from_ns(timeout_ns))
    }
}

/// `shmkit_condition_lock` only if the mutex is free, else `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_try_lock(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::lock(unsafe { handle::get(condition) }?.mutex(), Wait::Try)
    }
}

/// Releases the condition's mutex; `SHMKIT_NOT_LOCKED` if the calling thread does not
/// hold it.
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_unlock(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::unlock(unsafe { handle::get(condition) }?.mutex())
    }
}

/// After `SHMKIT_OWNER_DIED` (from a lock or a wait): declares the protected data
/// consistent. The calling thread must hold the mutex (`SHMKIT_NOT_LOCKED`).
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_mark_consistent(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        lock::mark_consistent(unsafe { handle::get(condition) }?.mutex())
    }
}

/// With the condition's mutex held by the calling thread: releases it, sleeps until a
/// notification, and locks it again before returning. Returns `SHMKIT_OK` (held),
/// `SHMKIT_OWNER_DIED` (held; a process died holding the mutex while this one slept),
/// `SHMKIT_NOT_LOCKED` if the calling thread does not hold the mutex (nothing waited),
/// or another failure of the relock (not held). Wake-ups may be spurious: re-check the
/// predicate in a loop.
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_wait(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        wait(unsafe { handle::get(condition) }?, None)?;
        Ok(())
    }
}

/// `shmkit_condition_wait` for at most `timeout_ns` nanoseconds (negative: forever).
/// Writes to `*out_notified` whether a notification arrived (`false`: timed out). A
/// timeout is not a failure: the status is `SHMKIT_OK` and the mutex is held again,
/// as after a notification. `SHMKIT_OWNER_DIED` (held) writes nothing.
///
/// # Safety
/// `condition` is NULL or a live handle; `out_notified` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_wait_timeout(
    condition: *const shmkit_condition,
    timeout_ns: i64,
    out_notified: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out_notified, "out_notified")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let notified = wait(unsafe { handle::get(condition) }?, args::timeout(timeout_ns))?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(notified) };
        Ok(())
    }
}

/// Wakes one waiter (with the mutex held or not: both are sound).
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_notify_one(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(condition) }?.notify_one();
        Ok(())
    }
}

/// Wakes up to `n` waiters (0 does nothing).
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_notify(
    condition: *const shmkit_condition,
    n: u32,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(condition) }?.notify(n);
        Ok(())
    }
}

/// Wakes every waiter.
///
/// # Safety
/// `condition` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_condition_notify_all(
    condition: *const shmkit_condition,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(condition) }?.notify_all();
        Ok(())
    }
}
