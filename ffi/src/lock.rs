//! The C lock/unlock pair on a [`RawMutex`]: the lock stays held between the calls.

use std::time::Duration;

use shmkit_core::sync::Guard;
use shmkit_core::{Error, LockError, LockResult, RawMutex};

use crate::boundary::Failure;
use crate::status::shmkit_status;

/// How long a lock call waits.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Until acquired.
    Forever,
    /// Up to this long, then `SHMKIT_TIMEOUT`.
    For(Duration),
    /// Not at all: `SHMKIT_WOULD_BLOCK`.
    Try,
}

impl Wait {
    /// From a C timeout in nanoseconds (negative = forever).
    pub fn from_ns(ns: i64) -> Wait {
        crate::args::timeout(ns).map_or(Wait::Forever, Wait::For)
    }
}

/// Acquires `m` and keeps it held after the call returns (the guard is forgotten).
/// An owner death gives `SHMKIT_OWNER_DIED` with the lock held.
pub fn lock(m: &RawMutex, wait: Wait) -> Result<(), Failure> {
    keep(match wait {
        Wait::Forever => m.lock(),
        Wait::For(d) => m.lock_timeout(d),
        Wait::Try => m.try_lock(),
    })
}

/// Keeps the hold a lock call took after the call returns: the guard (also the one
/// inside an owner-died report) is forgotten, so only an unguarded unlock releases it.
/// An owner death gives `SHMKIT_OWNER_DIED` with the lock held.
pub fn keep<G: Guard>(r: LockResult<G>) -> Result<(), Failure> {
    match r {
        Ok(g) => {
            std::mem::forget(g);
            Ok(())
        }
        Err(LockError::OwnerDied(d)) => {
            std::mem::forget(d.into_guard());
            Err(Error::OwnerDied.into())
        }
        Err(LockError::Failed(e)) => Err(e.into()),
    }
}

pub(crate) fn not_locked(e: Error) -> Failure {
    match e {
        Error::InvalidArgument(m) => Failure::new(shmkit_status::SHMKIT_NOT_LOCKED, m),
        other => other.into(),
    }
}

/// Releases a lock taken by [`lock`]; `SHMKIT_NOT_LOCKED` if this thread does not hold
/// it.
pub fn unlock(m: &RawMutex) -> Result<(), Failure> {
    // SAFETY:
    // - the C API never keeps a guard: every hold of the lock made through it forgot
    //   its guard in `lock`, so no guard will unlock this hold again.
    // - `unlock_unguarded` itself checks that this thread holds the lock.
    unsafe { m.unlock_unguarded() }.map_err(not_locked)
}

/// Clears the "needs repair" flag of a lock this thread holds.
pub fn mark_consistent(m: &RawMutex) -> Result<(), Failure> {
    m.mark_consistent_unguarded().map_err(not_locked)
}

/// Before a handle closes: releases the lock if the calling thread still holds it, so
/// the mapping never goes away under a held robust mutex.
pub fn release_if_held(m: &RawMutex) {
    if m.held_by_current_thread() {
        let _ = unlock(m);
    }
}
