//! Process-shared synchronization primitives.
//!
//! Each primitive has a `#[repr(C)]` raw form that can be placed in any segment and a
//! named standalone form built on a [`Segment`](crate::Segment).

mod mutex;

pub(crate) use mutex::sealed as mutex_guard_sealed;
pub use mutex::{
    Guard, LockError, LockResult, Mutex, MutexGuard, MutexSnapshot, OwnerDied, RawMutex,
    RawMutexGuard,
};
pub(crate) use mutex::{init_in as init_mutex_in, raw_in as raw_mutex_in};
