//! `shmkit_event`: a named event flag.

use std::ffi::c_char;

use shmkit_core::Event;

use crate::args::{self, Out};
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named event (the C form of `shmkit::Event`).
pub struct shmkit_event {
    magic: u64,
    inner: Event,
}
impl_handle!(shmkit_event, Event, 0x736b_6576_656e_7431, "event");

/// Creates the event `name` (clear) and writes a new handle to `*out`. The creating
/// handle removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_create(
    name: *const c_char,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Event::create) }
    }
}

/// Opens the event `name` and writes a new handle to `*out` (`SHMKIT_KIND_MISMATCH` if
/// `name` is another kind of segment).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_open(
    name: *const c_char,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Event::open) }
    }
}

/// Opens the event `name`, creating it (clear) if it does not exist, and writes a new
/// handle to `*out`. The handle removes the name when closed only if this call created
/// it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_open_or_create(
    name: *const c_char,
    out: *mut *mut shmkit_event,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Event::open_or_create) }
    }
}

/// Closes `*event` and sets it to NULL (a NULL `*event` is a no-op); the creating handle
/// also removes the name.
///
/// # Safety
/// `event` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_close(event: *mut *mut shmkit_event) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(event, |_| {}) }
    }
}

/// Sets the flag and wakes every process waiting for it.
///
/// # Safety
/// `event` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_set(event: *const shmkit_event) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(event) }?.set();
        Ok(())
    }
}

/// Clears the flag.
///
/// # Safety
/// `event` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_clear(event: *const shmkit_event) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(event) }?.clear();
        Ok(())
    }
}

/// Writes to `*out` whether the flag is set.
///
/// # Safety
/// `event` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_is_set(
    event: *const shmkit_event,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let set = unsafe { handle::get(event) }?.is_set();
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(set) };
        Ok(())
    }
}

/// Waits until the flag is set (returns at once if it is).
///
/// # Safety
/// `event` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_wait(event: *const shmkit_event) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(event) }?.wait();
        Ok(())
    }
}

/// Waits at most `timeout_ns` nanoseconds (negative: forever) for the flag, and writes
/// to `*out_set` whether it was set (`false`: timed out), like Python's
/// `Event.wait(timeout)`. A timeout is not a failure: the status is `SHMKIT_OK`. It
/// also reports `true` when the flag was set and cleared again while this call waited.
///
/// # Safety
/// `event` is NULL or a live handle; `out_set` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_event_wait_timeout(
    event: *const shmkit_event,
    timeout_ns: i64,
    out_set: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out_set, "out_set")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let e = unsafe { handle::get(event) }?;
        let set = match args::timeout(timeout_ns) {
            None => {
                e.wait();
                true
            }
            Some(d) => e.wait_timeout(d),
        };
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(set) };
        Ok(())
    }
}
