//! Process-shared synchronization primitives.
//!
//! Each primitive has a `#[repr(C)]` raw form that can be placed in any segment and a
//! named standalone form built on a [`Segment`](crate::Segment).

mod barrier;
mod condition;
mod event;
mod mutex;
mod primitive;
mod rlock;
mod semaphore;

pub use barrier::{Barrier, BarrierSnapshot, MAX_PARTIES, RawBarrier};
pub use condition::{
    Condition, ConditionBlockSnapshot, ConditionSnapshot, RawCondition, WaitTimeoutResult,
};
pub use event::{Event, EventSnapshot, RawEvent};
pub(crate) use mutex::sealed as mutex_guard_sealed;
pub use mutex::{
    Guard, LockError, LockResult, Mutex, MutexGuard, MutexSnapshot, OwnerDied, RawMutex,
    RawMutexGuard,
};
pub(crate) use mutex::{init_in as init_mutex_in, raw_in as raw_mutex_in};
pub use rlock::{RLock, RLockGuard, RLockSnapshot, RawRLock};
pub use semaphore::{BoundedSemaphore, RawSemaphore, Semaphore, SemaphoreSnapshot};
