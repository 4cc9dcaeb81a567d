//! `shmkit_semaphore`: a named counting semaphore, bounded or not.
//!
//! One handle type for both `shmkit::Semaphore` and `shmkit::BoundedSemaphore`: the
//! `_bounded` functions make and open the bounded kind, the others the unbounded one,
//! and opening one kind as the other is `SHMKIT_KIND_MISMATCH` (the library checks it).

use std::ffi::c_char;

use shmkit_core::{BoundedSemaphore, Error, RawSemaphore, Semaphore};

use crate::args::{self, Out};
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// Either kind of named semaphore.
#[derive(Debug)]
pub enum AnySemaphore {
    /// `release` may raise the value without limit.
    Unbounded(Semaphore),
    /// `release` beyond the initial value is `SHMKIT_OVER_RELEASE`.
    Bounded(BoundedSemaphore),
}

impl AnySemaphore {
    fn raw(&self) -> &RawSemaphore {
        match self {
            AnySemaphore::Unbounded(s) => s.raw(),
            AnySemaphore::Bounded(s) => s.raw(),
        }
    }
}

/// A handle to a named counting semaphore (the C form of `shmkit::Semaphore` and
/// `shmkit::BoundedSemaphore`).
pub struct shmkit_semaphore {
    magic: u64,
    inner: AnySemaphore,
}
impl_handle!(
    shmkit_semaphore,
    AnySemaphore,
    0x736b_7365_6d61_7031,
    "semaphore"
);

/// Creates the semaphore `name` holding `value` permits and writes a new handle to
/// `*out`. Its value is unbounded (see `shmkit_semaphore_create_bounded`). The creating
/// handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_create(
    name: *const c_char,
    value: u32,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Semaphore::create(n, value).map(AnySemaphore::Unbounded)) }
    }
}

/// Creates the bounded semaphore `name` holding `value` permits, whose value may never
/// exceed `value` (a release beyond it is `SHMKIT_OVER_RELEASE`, as in Python's
/// `BoundedSemaphore`), and writes a new handle to `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_create_bounded(
    name: *const c_char,
    value: u32,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| BoundedSemaphore::create(n, value).map(AnySemaphore::Bounded))
        }
    }
}

/// Opens the (unbounded) semaphore `name` and writes a new handle to `*out`.
/// `SHMKIT_KIND_MISMATCH` if `name` is a bounded semaphore or another kind of segment.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_open(
    name: *const c_char,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Semaphore::open(n).map(AnySemaphore::Unbounded)) }
    }
}

/// Opens the bounded semaphore `name` and writes a new handle to `*out`.
/// `SHMKIT_KIND_MISMATCH` if `name` is an unbounded semaphore or another kind.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_open_bounded(
    name: *const c_char,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| BoundedSemaphore::open(n).map(AnySemaphore::Bounded)) }
    }
}

/// Opens the (unbounded) semaphore `name`, creating it with `value` permits if it does
/// not exist, and writes a new handle to `*out`. The handle removes the name when
/// closed only if this call created it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_open_or_create(
    name: *const c_char,
    value: u32,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| {
                Semaphore::open_or_create(n, value).map(AnySemaphore::Unbounded)
            })
        }
    }
}

/// `shmkit_semaphore_open_or_create` for a bounded semaphore (bound `value` when this
/// call creates it).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_open_or_create_bounded(
    name: *const c_char,
    value: u32,
    out: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| {
                BoundedSemaphore::open_or_create(n, value).map(AnySemaphore::Bounded)
            })
        }
    }
}

/// Closes `*semaphore` and sets it to NULL (a NULL `*semaphore` is a no-op). Permits
/// the caller holds are not returned (nothing records who holds a permit); the creating
/// handle removes the name.
///
/// # Safety
/// `semaphore` is NULL or the address of a handle variable (NULL or a live handle) that
/// no other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_close(
    semaphore: *mut *mut shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(semaphore, |_| {}) }
    }
}

/// Takes a permit, waiting as long as it takes.
///
/// # Safety
/// `semaphore` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_acquire(
    semaphore: *const shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(semaphore) }?.raw().acquire();
        Ok(())
    }
}

/// Takes a permit if one is available now, else `SHMKIT_WOULD_BLOCK`.
///
/// # Safety
/// `semaphore` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_try_acquire(
    semaphore: *const shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        if unsafe { handle::get(semaphore) }?.raw().try_acquire() {
            Ok(())
        } else {
            Err(Error::WouldBlock.into())
        }
    }
}

/// Takes a permit, giving up with `SHMKIT_TIMEOUT` (no permit taken) after
/// `timeout_ns` nanoseconds (negative: wait forever).
///
/// # Safety
/// `semaphore` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_acquire_timeout(
    semaphore: *const shmkit_semaphore,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let s = unsafe { handle::get(semaphore) }?.raw();
        match args::timeout(timeout_ns) {
            None => {
                s.acquire();
                Ok(())
            }
            Some(d) if s.acquire_timeout(d) => Ok(()),
            Some(d) => Err(Error::Timeout(d).into()),
        }
    }
}

/// Returns one permit, waking a waiter. `SHMKIT_OVER_RELEASE` (nothing released) if a
/// bounded semaphore holds its bound already, or the value would overflow.
///
/// # Safety
/// `semaphore` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_release(
    semaphore: *const shmkit_semaphore,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(semaphore) }?.raw().release()?;
        Ok(())
    }
}

/// Returns `n` permits at once (0 does nothing), waking up to `n` waiters.
/// `SHMKIT_OVER_RELEASE` as `shmkit_semaphore_release`; nothing is released then.
///
/// # Safety
/// `semaphore` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_release_n(
    semaphore: *const shmkit_semaphore,
    n: u32,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(semaphore) }?.raw().release_n(n)?;
        Ok(())
    }
}

/// Writes the permits available now to `*out` (other processes may change it at once:
/// for display and tests).
///
/// # Safety
/// `semaphore` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_semaphore_value(
    semaphore: *const shmkit_semaphore,
    out: *mut u32,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let v = unsafe { handle::get(semaphore) }?.raw().value();
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(v) };
        Ok(())
    }
}
