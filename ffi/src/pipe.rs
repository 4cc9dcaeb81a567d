//! `shmkit_pipe`: one end of a connection between two processes (the C form of
//! `shmkit::PipeEnd`, Python's `multiprocessing.Pipe` connections).
//!
//! `shmkit_pipe_create` makes the pipe and returns end A; `shmkit_pipe_open` claims end
//! B in another process; `shmkit_pipe_anonymous` makes both ends for a `fork()`ed
//! pair (each end belongs to the first process that uses it). Messages of any size
//! (including 0 bytes, and far larger than the ring) keep their boundaries. When the
//! other end is closed or its process died, `shmkit_pipe_recv` returns what was sent,
//! then `SHMKIT_EOF`, and `shmkit_pipe_send` returns `SHMKIT_BROKEN_PIPE`.
//!
//! `shmkit_pipe_recv` reports a buffer too small like `shmkit_message_queue_get`:
//! `SHMKIT_BUFFER_TOO_SMALL` with the size needed in `*out_len`, the message not
//! consumed.

use std::ffi::{c_char, c_void};

use shmkit_core::{Pipe, PipeEnd};

use crate::args::{self, Out};
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to one end of a pipe (the C form of `shmkit::PipeEnd`). Made by
/// `shmkit_pipe_create` / `_open` / `_anonymous`, released by `shmkit_pipe_close`.
pub struct shmkit_pipe {
    magic: u64,
    inner: PipeEnd,
}
impl_handle!(shmkit_pipe, PipeEnd, 0x736b_7069_7065_656e, "pipe");

/// Creates the pipe `name` with rings of `capacity_bytes` (rounded up to 8) per
/// direction, duplex or one-way (in a one-way pipe end A receives and end B sends),
/// and writes a handle to end A, owned by this process, to `*out`. Closing it closes
/// end A and removes the name.
///
/// Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`, `SHMKIT_INVALID_ARGUMENT`
/// (`capacity_bytes` 0 or too large), ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_create(
    name: *const c_char,
    duplex: bool,
    capacity_bytes: usize,
    out: *mut *mut shmkit_pipe,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| Pipe::create(n, duplex, capacity_bytes)) }
    }
}

/// Opens the pipe `name`, claims its end B for this process, and writes a handle to it
/// to `*out`.
///
/// Returns `SHMKIT_NOT_FOUND`, `SHMKIT_KIND_MISMATCH`, `SHMKIT_INVALID_ARGUMENT` (end B
/// is already taken), `SHMKIT_CORRUPT`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_open(
    name: *const c_char,
    out: *mut *mut shmkit_pipe,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, Pipe::open) }
    }
}

/// Makes an unnamed pipe and writes handles to its ends A and B to `*out_a` and
/// `*out_b`, for a parent and the child it forks afterwards: each process uses one end
/// (the first process to use an end owns it) and may close its handle to the other.
///
/// # Safety
/// `out_a` and `out_b` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_anonymous(
    duplex: bool,
    capacity_bytes: usize,
    out_a: *mut *mut shmkit_pipe,
    out_b: *mut *mut shmkit_pipe,
) -> shmkit_status {
    ffi_boundary! {
        let out_a = Out::new(out_a, "out_a")?;
        let out_b = Out::new(out_b, "out_b")?;
        let (a, b) = Pipe::anonymous(duplex, capacity_bytes)?;
        // SAFETY:
        // - both out-parameters are writable (the caller's contract).
        unsafe {
            handle::publish(out_a, a);
            handle::publish(out_b, b);
        }
        Ok(())
    }
}

/// Closes `*pipe` and sets it to NULL (a NULL `*pipe` is a no-op). If this process owns
/// the end, the end is closed too (the other end then sees EOF); the handle from
/// `shmkit_pipe_create` also removes the name.
///
/// # Safety
/// `pipe` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_close(pipe: *mut *mut shmkit_pipe) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(pipe, |_| {}) }
    }
}

/// Closes the end (if this process owns it) but keeps the handle valid: later calls on
/// it return `SHMKIT_CLOSED`; the other end sees EOF once it has received everything.
///
/// # Safety
/// `pipe` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_shutdown(pipe: *const shmkit_pipe) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(pipe) }?.close();
        Ok(())
    }
}

/// Sends the `len` bytes at `msg` as one message (`len` may be 0, or larger than the
/// ring: it is streamed), waiting for room as needed.
///
/// Returns `SHMKIT_BROKEN_PIPE` (the other end is closed or its process died),
/// `SHMKIT_CLOSED` (this end is closed), `SHMKIT_INVALID_ARGUMENT` (the receiving end of
/// a one-way pipe, or an end owned by another process).
///
/// # Safety
/// `pipe` is NULL or a live handle; `msg` is readable for `len` bytes (NULL only if
/// `len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_send(
    pipe: *const shmkit_pipe,
    msg: *const c_void,
    len: usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let p = unsafe { handle::get(pipe) }?;
        // SAFETY:
        // - readable for `len` bytes (the caller's contract).
        let msg = unsafe { args::bytes(msg.cast(), len, "msg") }?;
        p.send_bytes(msg)?;
        Ok(())
    }
}

/// Receives the next message into `buf` (`cap` bytes) and writes its length to
/// `*out_len`, waiting at most `timeout_ns` nanoseconds for it (forever if negative; 0
/// does not wait). A message that has begun to arrive but is not complete in time is
/// kept by the handle (`SHMKIT_TIMEOUT`) and completed by the next receive.
///
/// Returns `SHMKIT_EOF` (the other end closed or died and everything it sent was
/// received), `SHMKIT_BUFFER_TOO_SMALL` with the size needed in `*out_len` (the message
/// is not consumed), `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED`, `SHMKIT_INVALID_ARGUMENT` (the
/// sending end of a one-way pipe).
///
/// # Safety
/// `pipe` is NULL or a live handle; `buf` is writable for `cap` bytes (NULL only if
/// `cap` is 0); `out_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_recv(
    pipe: *const shmkit_pipe,
    buf: *mut c_void,
    cap: usize,
    timeout_ns: i64,
    out_len: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let out_len = Out::new(out_len, "out_len")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let p = unsafe { handle::get(pipe) }?;
        // SAFETY:
        // - writable for `cap` bytes (the caller's contract).
        let buf = unsafe { args::bytes_mut(buf.cast(), cap, "buf") }?;
        let got = match args::timeout(timeout_ns) {
            None => p.recv_bytes_into(buf),
            Some(t) => p.recv_bytes_into_timeout(buf, t),
        };
        // SAFETY:
        // - `out_len` is writable (the caller's contract).
        unsafe { out_len.write_len(got) }
    }
}

/// Waits at most `timeout_ns` nanoseconds (negative: forever, 0: just look) until a
/// receive would not block, and writes whether it would to `*out_ready`: a message has
/// begun to arrive, or the other end is closed or dead (a receive then reports
/// `SHMKIT_EOF`). Python's `Connection.poll(timeout)`; a timeout is `SHMKIT_OK` with
/// `false`.
///
/// # Safety
/// `pipe` is NULL or a live handle; `out_ready` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_pipe_poll(
    pipe: *const shmkit_pipe,
    timeout_ns: i64,
    out_ready: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out_ready, "out_ready")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let p = unsafe { handle::get(pipe) }?;
        let ready = p.poll(args::timeout(timeout_ns).unwrap_or(std::time::Duration::MAX))?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { out.write(ready) };
        Ok(())
    }
}
