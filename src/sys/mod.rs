//! The only place with OS-specific code.
//!
//! `linux.rs` implements everything shmkit needs (POSIX shared memory, memfd, robust
//! process-shared pthread mutexes, shared futexes). Every other target gets
//! `unsupported.rs`, whose functions exist with the same signatures and report
//! [`crate::Error::Unsupported`], so the crate still compiles there.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(target_os = "linux")]
mod linux_process;
#[cfg(target_os = "linux")]
pub(crate) use linux_process::*;

#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
pub(crate) use unsupported::*;
#[cfg(not(target_os = "linux"))]
mod unsupported_process;
#[cfg(not(target_os = "linux"))]
pub(crate) use unsupported_process::*;

/// How a pthread lock call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockOutcome {
    /// The lock is ours.
    Acquired,
    /// The lock is ours, and its previous owner died holding it.
    OwnerDied,
    /// The lock is held by someone else (try_lock) or the deadline passed.
    Busy,
    /// This thread already holds the lock.
    Deadlock,
    /// The lock was left inconsistent and cannot be used any more.
    NotRecoverable,
    /// Any other error number (an invalid lock object, for instance).
    Failed(i32),
}

/// Bytes reserved for the pthread mutex inside shmkit's segment layout, on every target,
/// so the format does not change with the platform.
pub(crate) const PTHREAD_MUTEX_BYTES: usize = 64;
