//! The crate's one error type.
#![forbid(unsafe_code)]

use std::io;

/// Everything that can go wrong in shmkit.
///
/// Each variant says what was expected and what was found, so the message alone is
/// enough to fix the call. Operations that fail on a hot path and must not lose the
/// caller's value (a full queue, for instance) use their own small error types that hand
/// the value back; they convert into this one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No segment of that name exists.
    #[error("segment `{name}` does not exist")]
    NotFound {
        /// The segment name as given by the caller.
        name: String,
    },
    /// `create` found a segment of that name already.
    #[error("segment `{name}` already exists")]
    AlreadyExists {
        /// The segment name as given by the caller.
        name: String,
    },
    /// The name is not a valid portable segment name.
    #[error("invalid segment name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The segment holds elements of another type.
    #[error("type mismatch: expected {expected}, found {found}")]
    TypeMismatch {
        /// The caller's type, as `name (size S, align A)`.
        expected: String,
        /// The segment's type, in the same form.
        found: String,
    },
    /// The segment is of another kind (a queue opened as a value, ...).
    #[error("kind mismatch: expected a {expected} segment, found {found}")]
    KindMismatch {
        /// The kind the caller asked for.
        expected: String,
        /// The kind recorded in the segment.
        found: String,
    },
    /// The segment was written by an incompatible format version.
    #[error(
        "format version mismatch: this build reads version {expected}, the segment has {found}"
    )]
    VersionMismatch {
        /// The version this build understands.
        expected: u32,
        /// The version recorded in the segment.
        found: u32,
    },
    /// The segment's bytes are not a valid shmkit segment.
    #[error("segment `{name}` is corrupt: {reason}")]
    Corrupt {
        /// The segment name (empty for an anonymous segment).
        name: String,
        /// What exactly is wrong.
        reason: String,
    },
    /// The OS refused access.
    #[error("permission denied for segment `{name}`")]
    PermissionDenied {
        /// The segment name.
        name: String,
    },
    /// A segment never became ready: its creator died or is still initializing.
    #[error("segment `{name}` is not ready: {reason}")]
    NotReady {
        /// The segment name.
        name: String,
        /// What was seen (creator pid and whether it is alive, or an empty object).
        reason: String,
    },
    /// A bounded wait ran out.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// A non-blocking call would have had to wait.
    #[error("the operation would block")]
    WouldBlock,
    /// The queue (or pipe) was closed: nothing more can be put, and everything that was
    /// put has been taken.
    #[error("the queue is closed")]
    Closed,
    /// The lock was acquired, but its previous owner died while holding it; the protected
    /// data may be inconsistent. See [`crate::sync::OwnerDied`] to recover the lock.
    #[error("the previous owner of the lock died while holding it; the data may need repair")]
    OwnerDied,
    /// This thread already holds the lock (a second `lock` would deadlock).
    #[error("this thread already holds the lock; locking it again would deadlock")]
    Deadlock,
    /// A lock can no longer be used: its state is unrecoverable.
    #[error("the lock is not recoverable: {0}")]
    NotRecoverable(String),
    /// A lock was released by a thread that does not hold it.
    #[error(
        "release by a non-owner: the lock is held by pid {owner_pid} tid {owner_tid} (0 = nobody), the caller is pid {pid} tid {tid}"
    )]
    NotOwner {
        /// Pid recorded as the holder (0 when the lock is free).
        owner_pid: u32,
        /// Thread id recorded as the holder (0 when the lock is free).
        owner_tid: u32,
        /// The caller's pid.
        pid: u32,
        /// The caller's thread id.
        tid: u32,
    },
    /// A semaphore was released more times than its bound allows.
    #[error(
        "semaphore released too many times: its value may be at most {max}, releasing {release} would make it {found}"
    )]
    OverRelease {
        /// The largest value the semaphore may hold.
        max: u64,
        /// How many permits the call released.
        release: u32,
        /// The value the release would have produced.
        found: u64,
    },
    /// A barrier is broken (aborted, timed out, reset while waiting, or its state was
    /// invalid); it stays broken until `reset`.
    #[error("the barrier is broken: expected a working barrier, found one {0}; call reset()")]
    BrokenBarrier(&'static str),
    /// An index past the end of an array.
    #[error("index {index} is out of bounds for length {len}")]
    OutOfBounds {
        /// The index asked for (or the end of the range).
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// An argument was outside what the call accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation is not supported on this platform or build.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A fixed-capacity container (dict, list, message ring) has no room for the item;
    /// nothing was changed.
    #[error("full: {0}")]
    Full(String),
    /// A message is larger than the queue or pipe accepts.
    #[error("message of {size} bytes is larger than the maximum of {max} bytes")]
    TooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The largest message the queue or pipe accepts.
        max: usize,
    },
    /// The caller's buffer cannot hold the next message; the message was not consumed.
    #[error("buffer of {capacity} bytes is too small: the next message needs {needed} bytes")]
    BufferTooSmall {
        /// The size the buffer must have.
        needed: usize,
        /// The size of the buffer given.
        capacity: usize,
    },
    /// The other end of a pipe closed (or its process died) and every message it sent has
    /// been received: nothing more will arrive.
    #[error("end of file: the other end closed and everything it sent has been received")]
    Eof,
    /// The other end of a pipe is closed or its process died: a send cannot be delivered.
    #[error("broken pipe: the other end is closed or its process died")]
    BrokenPipe,
    /// A value could not be serialized or deserialized (postcard).
    #[error("serialization error: {0}")]
    Codec(String),
    /// A task or child process panicked; the panic message is included.
    #[error("panicked: {0}")]
    Panicked(String),
    /// A worker or child process died (killed by a signal or exited) before finishing.
    #[error("process died: {0}")]
    ProcessDied(String),
    /// Any other OS error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What shmkit was doing.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// shmkit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Checks that `count` items from `start` fit in `len`: the error names the single
    /// index for one item, else the range's end.
    pub(crate) fn check_range(start: usize, count: usize, len: usize) -> Result<()> {
        match start.checked_add(count) {
            Some(end) if end <= len => Ok(()),
            Some(end) => Err(Error::OutOfBounds {
                index: if count == 1 { start } else { end },
                len,
            }),
            None => Err(Error::OutOfBounds {
                index: usize::MAX,
                len,
            }),
        }
    }

    pub(crate) fn corrupt(name: &str, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}
