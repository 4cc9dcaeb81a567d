//! `shmkit_message_queue`: a bounded queue of byte messages of any length up to a
//! maximum (the C form of `shmkit::MessageQueue`).
//!
//! A get copies the next message into the caller's buffer and writes its length to
//! `*out_len`. When the buffer is too small the call returns `SHMKIT_BUFFER_TOO_SMALL`,
//! writes the size needed to `*out_len` (the documented exception to "outputs are
//! written only on success") and leaves the message in the queue: allocate that much
//! and call again. `shmkit_message_queue_max_message` gives a size that always fits.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use shmkit_core::MessageQueue;

use crate::args::{self, Out};
use crate::boundary::Failure;
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named message queue (the C form of `shmkit::MessageQueue`). Made by
/// `shmkit_message_queue_create` / `_open` / `_open_or_create`, released by
/// `shmkit_message_queue_close`.
pub struct shmkit_message_queue {
    magic: u64,
    inner: MessageQueue,
}
impl_handle!(
    shmkit_message_queue,
    MessageQueue,
    0x736b_6d73_6771_7565,
    "message queue"
);

/// Creates the message queue `name`: a ring of about `capacity_bytes` bytes for
/// messages of up to `max_message` bytes (each message takes 8 bytes plus its length
/// rounded up to 8). Writes a new handle to `*out`; the creating handle removes the
/// name when it is closed.
///
/// Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`, `SHMKIT_INVALID_ARGUMENT`
/// (`capacity_bytes` 0, too large, or below `max_message`), ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_create(
    name: *const c_char,
    capacity_bytes: usize,
    max_message: usize,
    out: *mut *mut shmkit_message_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| {
                MessageQueue::create(n, capacity_bytes, max_message)
            })
        }
    }
}

/// Opens the message queue `name` and writes a new handle to `*out`.
///
/// Returns `SHMKIT_NOT_FOUND`, `SHMKIT_KIND_MISMATCH`, `SHMKIT_CORRUPT`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_open(
    name: *const c_char,
    out: *mut *mut shmkit_message_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, MessageQueue::open) }
    }
}

/// Opens the message queue `name`, creating it if it does not exist (an existing queue
/// keeps its own sizes), and writes a new handle to `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_open_or_create(
    name: *const c_char,
    capacity_bytes: usize,
    max_message: usize,
    out: *mut *mut shmkit_message_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| {
                MessageQueue::open_or_create(n, capacity_bytes, max_message)
            })
        }
    }
}

/// Closes `*queue` and sets it to NULL (a NULL `*queue` is a no-op). This releases the
/// handle only; `shmkit_message_queue_shutdown` closes the queue for every process.
///
/// # Safety
/// `queue` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_close(
    queue: *mut *mut shmkit_message_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(queue, |_| {}) }
    }
}

/// Puts the `len` bytes at `msg` as one message (`len` may be 0), waiting while there
/// is no room: at most `timeout_ns` nanoseconds, forever if negative.
///
/// Returns `SHMKIT_TOO_LARGE` (above the maximum), `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED`.
///
/// # Safety
/// `queue` is NULL or a live handle; `msg` is readable for `len` bytes (NULL only if
/// `len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_put(
    queue: *const shmkit_message_queue,
    msg: *const c_void,
    len: usize,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - readable for `len` bytes (the caller's contract).
        let msg = unsafe { args::bytes(msg.cast(), len, "msg") }?;
        match args::timeout(timeout_ns) {
            None => q.put_bytes(msg)?,
            Some(t) => q.put_bytes_timeout(msg, t)?,
        }
        Ok(())
    }
}

/// Puts one message if there is room now; `SHMKIT_WOULD_BLOCK` when full,
/// `SHMKIT_TOO_LARGE`, `SHMKIT_CLOSED`.
///
/// # Safety
/// As `shmkit_message_queue_put`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_try_put(
    queue: *const shmkit_message_queue,
    msg: *const c_void,
    len: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - readable for `len` bytes (the caller's contract).
        let msg = unsafe { args::bytes(msg.cast(), len, "msg") }?;
        q.try_put_bytes(msg)?;
        Ok(())
    }
}

/// How a get waits.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    For(Duration),
    No,
}

/// The body of the gets: the message into `buf`, its length (or the size needed) to
/// `out_len`.
///
/// # Safety
/// `queue` is NULL or a live handle; `buf` is writable for `cap` bytes (NULL only if
/// `cap` is 0); `out_len` is NULL or writable.
unsafe fn get_into(
    queue: *const shmkit_message_queue,
    buf: *mut c_void,
    cap: usize,
    wait: Wait,
    out_len: *mut usize,
) -> Result<(), Failure> {
    let out_len = Out::new(out_len, "out_len")?;
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let q = unsafe { handle::get(queue) }?;
    // SAFETY:
    // - writable for `cap` bytes (the caller's contract).
    let buf = unsafe { args::bytes_mut(buf.cast(), cap, "buf") }?;
    let got = match wait {
        Wait::Forever => q.get_bytes_into(buf),
        Wait::For(t) => q.get_bytes_into_timeout(buf, t),
        Wait::No => q.try_get_bytes_into(buf),
    };
    // SAFETY:
    // - `out_len` is writable (the caller's contract).
    unsafe { out_len.write_len(got) }
}

/// Takes the oldest message into `buf` (`cap` bytes) and writes its length to
/// `*out_len`, waiting while the queue is empty: at most `timeout_ns` nanoseconds,
/// forever if negative.
///
/// Returns `SHMKIT_BUFFER_TOO_SMALL` with the size needed in `*out_len` (the message
/// stays in the queue), `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED` (closed and drained).
///
/// # Safety
/// `queue` is NULL or a live handle; `buf` is writable for `cap` bytes (NULL only if
/// `cap` is 0); `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_get(
    queue: *const shmkit_message_queue,
    buf: *mut c_void,
    cap: usize,
    timeout_ns: i64,
    out_len: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let wait = match args::timeout(timeout_ns) {
            None => Wait::Forever,
            Some(t) => Wait::For(t),
        };
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { get_into(queue, buf, cap, wait, out_len) }
    }
}

/// Takes the oldest message into `buf` if there is one now; `SHMKIT_WOULD_BLOCK` when
/// empty, otherwise as `shmkit_message_queue_get`.
///
/// # Safety
/// As `shmkit_message_queue_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_try_get(
    queue: *const shmkit_message_queue,
    buf: *mut c_void,
    cap: usize,
    out_len: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { get_into(queue, buf, cap, Wait::No, out_len) }
    }
}

/// Reads one property of the queue into `out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
unsafe fn read_out<T>(
    queue: *const shmkit_message_queue,
    out: *mut T,
    f: impl FnOnce(&MessageQueue) -> T,
) -> Result<(), Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let v = f(unsafe { handle::get(queue) }?);
    // SAFETY:
    // - `out` is writable (the caller's contract).
    unsafe { out.write(v) };
    Ok(())
}

/// Writes the number of messages in the queue now to `*out` (approximate while other
/// processes work).
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_len(
    queue: *const shmkit_message_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, MessageQueue::len) }
    }
}

/// Writes the ring bytes in use now (record headers and padding included) to `*out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_bytes_used(
    queue: *const shmkit_message_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, MessageQueue::bytes_used) }
    }
}

/// Writes the ring's size in bytes to `*out` (the requested capacity rounded up to 8,
/// plus 8).
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_capacity_bytes(
    queue: *const shmkit_message_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, MessageQueue::capacity_bytes) }
    }
}

/// Writes the largest message the queue accepts to `*out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_max_message(
    queue: *const shmkit_message_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, MessageQueue::max_message) }
    }
}

/// Writes whether the queue was closed (`shmkit_message_queue_shutdown`) to `*out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_is_closed(
    queue: *const shmkit_message_queue,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, MessageQueue::is_closed) }
    }
}

/// Closes the queue for every process: puts fail with `SHMKIT_CLOSED` from now on,
/// gets take what is left and then fail with `SHMKIT_CLOSED`; every waiter wakes. The
/// handle stays valid (release it with `shmkit_message_queue_close`).
///
/// # Safety
/// `queue` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_message_queue_shutdown(
    queue: *const shmkit_message_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(queue) }?.close();
        Ok(())
    }
}
