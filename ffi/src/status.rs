//! The status codes every fallible call returns.

use std::ffi::{CStr, c_int};

use shmkit_core::Error;

/// The result of a shmkit call. `SHMKIT_OK` is 0; every other code is a failure whose
/// details are in `shmkit_last_error_message()`, except `SHMKIT_OWNER_DIED`, which a lock
/// call returns with the lock held.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum shmkit_status {
    /// Success.
    SHMKIT_OK = 0,
    /// No segment of that name exists.
    SHMKIT_NOT_FOUND = 1,
    /// `_create` found a segment of that name already.
    SHMKIT_ALREADY_EXISTS = 2,
    /// The segment name is not a valid portable name (or not UTF-8).
    SHMKIT_INVALID_NAME = 3,
    /// The segment holds elements of another type (name, size or alignment differ).
    SHMKIT_TYPE_MISMATCH = 4,
    /// The segment is of another kind (an array opened as a value, ...).
    SHMKIT_KIND_MISMATCH = 5,
    /// The segment was written by an incompatible format version.
    SHMKIT_VERSION_MISMATCH = 6,
    /// The segment's bytes are not a valid shmkit segment.
    SHMKIT_CORRUPT = 7,
    /// The OS refused access.
    SHMKIT_PERMISSION_DENIED = 8,
    /// The segment never became ready (its creator died or is still initializing).
    SHMKIT_NOT_READY = 9,
    /// A bounded wait ran out.
    SHMKIT_TIMEOUT = 10,
    /// A non-blocking call (`_try_lock`) would have had to wait.
    SHMKIT_WOULD_BLOCK = 11,
    /// The lock was acquired (and is now held by the caller), but its previous owner
    /// died holding it: repair the data, then call `_mark_consistent`.
    SHMKIT_OWNER_DIED = 12,
    /// The calling thread already holds the lock.
    SHMKIT_DEADLOCK = 13,
    /// The lock can no longer be used.
    SHMKIT_NOT_RECOVERABLE = 14,
    /// An index or range past the end.
    SHMKIT_OUT_OF_BOUNDS = 15,
    /// An argument outside what the call accepts (a bad type descriptor, a size that
    /// does not match the element size, ...).
    SHMKIT_INVALID_ARGUMENT = 16,
    /// Not supported on this platform.
    SHMKIT_UNSUPPORTED = 17,
    /// Any other OS error.
    SHMKIT_IO = 18,
    /// `shmkit_rlock_unlock` or `_mark_consistent` by a thread that does not hold the
    /// re-entrant lock (nothing changed).
    SHMKIT_NOT_OWNER = 19,
    /// A bounded semaphore was released beyond its initial value, or a semaphore's
    /// value would overflow (nothing was released).
    SHMKIT_OVER_RELEASE = 20,
    /// The barrier is broken (aborted, another party timed out, or reset while this
    /// party waited); it stays broken until `shmkit_barrier_reset`.
    SHMKIT_BROKEN_BARRIER = 21,
    /// The queue is closed (`shmkit_queue_shutdown`): a put puts nothing, and a get
    /// finds it drained.
    SHMKIT_CLOSED = 22,
    /// A fixed-capacity container (dict, list) has no room; nothing changed.
    SHMKIT_FULL = 23,
    /// A message is larger than the queue or pipe accepts; nothing was sent.
    SHMKIT_TOO_LARGE = 24,
    /// The buffer cannot hold the next message; the needed size was reported and the
    /// message was not consumed.
    SHMKIT_BUFFER_TOO_SMALL = 25,
    /// The other end of the pipe closed and everything it sent has been received.
    SHMKIT_EOF = 26,
    /// The other end of the pipe is closed or its process died; nothing was sent.
    SHMKIT_BROKEN_PIPE = 27,
    /// A required pointer argument was NULL (or the handle was already closed).
    SHMKIT_NULL_ARGUMENT = 100,
    /// shmkit panicked; the call had no effect that can be relied on. Please report it.
    SHMKIT_PANIC = 101,
    /// `_unlock` or `_mark_consistent` by a thread that does not hold the lock.
    SHMKIT_NOT_LOCKED = 102,
    /// The pointer is not a handle of this kind (a handle of another kind, cast).
    SHMKIT_INVALID_HANDLE = 103,
    /// An error this version of the C API has no code for.
    SHMKIT_UNKNOWN_ERROR = 199,
}

impl shmkit_status {
    /// The code of a library error.
    pub fn of(e: &Error) -> shmkit_status {
        use shmkit_status::*;
        match e {
            Error::NotFound { .. } => SHMKIT_NOT_FOUND,
            Error::AlreadyExists { .. } => SHMKIT_ALREADY_EXISTS,
            Error::InvalidName { .. } => SHMKIT_INVALID_NAME,
            Error::TypeMismatch { .. } => SHMKIT_TYPE_MISMATCH,
            Error::KindMismatch { .. } => SHMKIT_KIND_MISMATCH,
            Error::VersionMismatch { .. } => SHMKIT_VERSION_MISMATCH,
            Error::Corrupt { .. } => SHMKIT_CORRUPT,
            Error::PermissionDenied { .. } => SHMKIT_PERMISSION_DENIED,
            Error::NotReady { .. } => SHMKIT_NOT_READY,
            Error::Timeout(_) => SHMKIT_TIMEOUT,
            Error::WouldBlock => SHMKIT_WOULD_BLOCK,
            Error::OwnerDied => SHMKIT_OWNER_DIED,
            Error::Deadlock => SHMKIT_DEADLOCK,
            Error::NotRecoverable(_) => SHMKIT_NOT_RECOVERABLE,
            Error::OutOfBounds { .. } => SHMKIT_OUT_OF_BOUNDS,
            Error::InvalidArgument(_) => SHMKIT_INVALID_ARGUMENT,
            Error::Unsupported(_) => SHMKIT_UNSUPPORTED,
            Error::Io { .. } => SHMKIT_IO,
            Error::NotOwner { .. } => SHMKIT_NOT_OWNER,
            Error::OverRelease { .. } => SHMKIT_OVER_RELEASE,
            Error::BrokenBarrier(_) => SHMKIT_BROKEN_BARRIER,
            Error::Closed => SHMKIT_CLOSED,
            Error::Full(_) => SHMKIT_FULL,
            Error::TooLarge { .. } => SHMKIT_TOO_LARGE,
            Error::BufferTooSmall { .. } => SHMKIT_BUFFER_TOO_SMALL,
            Error::Eof => SHMKIT_EOF,
            Error::BrokenPipe => SHMKIT_BROKEN_PIPE,
            _ => SHMKIT_UNKNOWN_ERROR,
        }
    }
}

/// The static description of a status code.
pub(crate) fn message(code: c_int) -> &'static CStr {
    use shmkit_status::*;
    let all = [
        (SHMKIT_OK, c"success"),
        (SHMKIT_NOT_FOUND, c"no segment of that name exists"),
        (
            SHMKIT_ALREADY_EXISTS,
            c"a segment of that name already exists",
        ),
        (SHMKIT_INVALID_NAME, c"invalid segment name"),
        (
            SHMKIT_TYPE_MISMATCH,
            c"the segment holds elements of another type",
        ),
        (SHMKIT_KIND_MISMATCH, c"the segment is of another kind"),
        (
            SHMKIT_VERSION_MISMATCH,
            c"incompatible segment format version",
        ),
        (SHMKIT_CORRUPT, c"the segment is corrupt"),
        (SHMKIT_PERMISSION_DENIED, c"permission denied"),
        (SHMKIT_NOT_READY, c"the segment is not ready"),
        (SHMKIT_TIMEOUT, c"timed out"),
        (SHMKIT_WOULD_BLOCK, c"the operation would block"),
        (
            SHMKIT_OWNER_DIED,
            c"the lock is held, but its previous owner died holding it; the data may need repair",
        ),
        (
            SHMKIT_DEADLOCK,
            c"the calling thread already holds the lock",
        ),
        (SHMKIT_NOT_RECOVERABLE, c"the lock is not recoverable"),
        (SHMKIT_OUT_OF_BOUNDS, c"index out of bounds"),
        (SHMKIT_INVALID_ARGUMENT, c"invalid argument"),
        (SHMKIT_UNSUPPORTED, c"not supported on this platform"),
        (SHMKIT_IO, c"operating system error"),
        (
            SHMKIT_NOT_OWNER,
            c"the calling thread does not hold the re-entrant lock",
        ),
        (
            SHMKIT_OVER_RELEASE,
            c"the semaphore was released more times than its bound allows",
        ),
        (SHMKIT_BROKEN_BARRIER, c"the barrier is broken"),
        (
            SHMKIT_CLOSED,
            c"the queue is closed (and drained, for a get)",
        ),
        (SHMKIT_FULL, c"the container is full; nothing changed"),
        (
            SHMKIT_TOO_LARGE,
            c"the message is larger than the maximum; nothing was sent",
        ),
        (
            SHMKIT_BUFFER_TOO_SMALL,
            c"the buffer is too small for the next message; it was not consumed",
        ),
        (
            SHMKIT_EOF,
            c"end of file: the other end closed and everything it sent was received",
        ),
        (
            SHMKIT_BROKEN_PIPE,
            c"broken pipe: the other end is closed or its process died",
        ),
        (SHMKIT_NULL_ARGUMENT, c"a required argument was NULL"),
        (SHMKIT_PANIC, c"internal error: shmkit panicked"),
        (
            SHMKIT_NOT_LOCKED,
            c"the calling thread does not hold the lock",
        ),
        (SHMKIT_INVALID_HANDLE, c"not a valid handle of this kind"),
        (SHMKIT_UNKNOWN_ERROR, c"unknown error"),
    ];
    all.iter()
        .find(|(s, _)| *s as c_int == code)
        .map_or(c"unknown status", |(_, m)| m)
}
