//! `shmkit_barrier`: a named barrier for a fixed number of parties.

use std::ffi::c_char;

use shmkit_core::Barrier;

use crate::args::{self, Out};
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named barrier (the C form of `shmkit::Barrier`).
pub struct shmkit_barrier {
    magic: u64,
    inner: Barrier,
}
impl_handle!(shmkit_barrier, Barrier, 0x736b_6261_7272_6931, "barrier");

/// Creates the barrier `name` for `parties` parties (1 to 65535, else
/// `SHMKIT_INVALID_ARGUMENT`) and writes a new handle to `*out`. The creating handle
/// removes the name when it is closed.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_create(
    name: *const c_char,
    parties: u32,
    out: *mut *mut shmkit_barrier,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Barrier::create(n, parties)) }
    }
}

/// Opens the barrier `name` and writes a new handle to `*out` (`SHMKIT_KIND_MISMATCH`
/// if `name` is another kind of segment).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_open(
    name: *const c_char,
    out: *mut *mut shmkit_barrier,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Barrier::open) }
    }
}

/// Opens the barrier `name`, creating it for `parties` parties if it does not exist
/// (an existing barrier keeps its own count of parties), and writes a new handle to
/// `*out`. The handle removes the name when closed only if this call created it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_open_or_create(
    name: *const c_char,
    parties: u32,
    out: *mut *mut shmkit_barrier,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Barrier::open_or_create(n, parties)) }
    }
}

/// Closes `*barrier` and sets it to NULL (a NULL `*barrier` is a no-op); the creating
/// handle also removes the name.
///
/// # Safety
/// `barrier` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_close(barrier: *mut *mut shmkit_barrier) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(barrier, |_| {}) }
    }
}

/// Writes an arrival index to the optional `out_index`.
///
/// # Safety
/// `out_index` is NULL or writable.
unsafe fn write_index(out_index: *mut u32, index: u32) {
    if !out_index.is_null() {
        // SAFETY:
        // - non-NULL and writable (the caller's contract).
        unsafe { out_index.write(index) };
    }
}

/// Waits until all parties have called `shmkit_barrier_wait`, then writes this party's
/// arrival index (0 to parties - 1; the last to arrive gets parties - 1, so exactly one
/// party gets any given index) to `*out_index`, which may be NULL. Returns
/// `SHMKIT_BROKEN_BARRIER` if the barrier is or becomes broken (an abort, another
/// party's timeout, a reset while waiting).
///
/// # Safety
/// `barrier` is NULL or a live handle; `out_index` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_wait(
    barrier: *const shmkit_barrier,
    out_index: *mut u32,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let index = unsafe { handle::get(barrier) }?.wait()?;
        // SAFETY:
        // - NULL or writable (the caller's contract).
        unsafe { write_index(out_index, index) };
        Ok(())
    }
}

/// `shmkit_barrier_wait` giving up after `timeout_ns` nanoseconds (negative: forever)
/// with `SHMKIT_TIMEOUT`; giving up breaks the barrier for every party (the others get
/// `SHMKIT_BROKEN_BARRIER`), as in Python.
///
/// # Safety
/// `barrier` is NULL or a live handle; `out_index` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_wait_timeout(
    barrier: *const shmkit_barrier,
    timeout_ns: i64,
    out_index: *mut u32,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let b = unsafe { handle::get(barrier) }?;
        let index = match args::timeout(timeout_ns) {
            None => b.wait(),
            Some(d) => b.wait_timeout(d),
        }?;
        // SAFETY:
        // - NULL or writable (the caller's contract).
        unsafe { write_index(out_index, index) };
        Ok(())
    }
}

/// Breaks the barrier: every waiting party, and every later wait until
/// `shmkit_barrier_reset`, gets `SHMKIT_BROKEN_BARRIER`.
///
/// # Safety
/// `barrier` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_abort(barrier: *const shmkit_barrier) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(barrier) }?.abort();
        Ok(())
    }
}

/// Returns the barrier to its empty, working state; parties waiting now get
/// `SHMKIT_BROKEN_BARRIER`.
///
/// # Safety
/// `barrier` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_reset(barrier: *const shmkit_barrier) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(barrier) }?.reset();
        Ok(())
    }
}

/// Writes to `*out` how many parties complete a generation (`SHMKIT_INVALID_ARGUMENT`
/// if the stored count was overwritten with an invalid one).
///
/// # Safety
/// `barrier` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_parties(
    barrier: *const shmkit_barrier,
    out: *mut u32,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let parties = unsafe { handle::get(barrier) }?.parties()?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(parties) };
        Ok(())
    }
}

/// Writes to `*out` how many parties are waiting in the current generation.
///
/// # Safety
/// `barrier` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_n_waiting(
    barrier: *const shmkit_barrier,
    out: *mut u32,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let n = unsafe { handle::get(barrier) }?.n_waiting();
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(n) };
        Ok(())
    }
}

/// Writes to `*out` whether the barrier is broken.
///
/// # Safety
/// `barrier` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_barrier_is_broken(
    barrier: *const shmkit_barrier,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let broken = unsafe { handle::get(barrier) }?.is_broken();
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(broken) };
        Ok(())
    }
}
