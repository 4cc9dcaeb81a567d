//! # shmkit
//!
//! Python's `multiprocessing` toolbox for native code, on named shared-memory segments,
//! shared by name between any processes, Rust or C, at memory speed:
//!
//! | multiprocessing | shmkit |
//! |---|---|
//! | `shared_memory.SharedMemory` | [`Segment`] |
//! | `Value`, `Array` | [`Value<T>`](Value), [`Array<T>`](Array) |
//! | `Lock`, `RLock` | [`Mutex`], [`RLock`]: robust, a dead owner is detected and reported |
//! | `Semaphore`, `BoundedSemaphore` | [`Semaphore`], [`BoundedSemaphore`] |
//! | `Event`, `Condition`, `Barrier` | [`Event`], [`Condition`], [`Barrier`] |
//! | `Queue`, `JoinableQueue` | [`Queue<T>`](Queue), [`JoinableQueue<T>`](JoinableQueue) |
//! | `Process`, `current_process`, `cpu_count` | [`Process`] (fork and spawn start methods), [`process`] |
//! | `Pool` | [`Pool`]: tasks registered with [`task!`] |
//! | `Queue` of pickled objects | [`MessageQueue`]: byte messages of any length, serde values |
//! | `Pipe(duplex)`, `Connection` | [`Pipe`], [`PipeEnd`]: send/recv/poll, EOF and broken pipe |
//! | `Manager().dict()` | [`ByteDict`] (byte or string keys, any serde value), [`Dict<K, V>`](Dict) (fixed-size keys and values) |
//! | `Manager().list()` | [`List<T>`](List) |
//!
//! Every primitive also has a `#[repr(C)]` raw form ([`RawMutex`], [`RawSemaphore`], ...)
//! that can be placed inside any segment. [`inspect`] reads segments without touching
//! them (the `shmkit` tool is built on it); [`dynamic`] offers the same values, arrays and
//! queues with an element type known only at run time (the C API is built on it).
//!
//! ## Quick start
//! ```
//! use shmkit::{Array, Value};
//! # let tag = std::process::id();
//! # let (counter_name, samples_name) = (format!("quick-counter-{tag}"), format!("quick-samples-{tag}"));
//!
//! // Process A creates; the creating handle removes the names when it drops.
//! let counter = Value::<u64>::create(&counter_name, 0)?;
//! let samples = Array::<f64>::create(&samples_name, 1024)?;
//!
//! // Process B (here the same one, for the doctest) opens them by name.
//! let c = Value::<u64>::open(&counter_name)?;
//! c.update(|n| *n += 1)?;               // under the robust lock
//! c.fetch_add(1);                       // lock-free
//! let s = Array::<f64>::open(&samples_name)?;
//! s.set(3, 2.5)?;
//!
//! assert_eq!(counter.load()?, 2);
//! assert_eq!(samples.get(3)?, 2.5);
//!
//! // Opening with the wrong type is an error that names both types.
//! let err = Value::<f64>::open(&counter_name).unwrap_err();
//! assert!(matches!(err, shmkit::Error::TypeMismatch { .. }));
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! ## A lock whose owner died
//! ```no_run
//! # fn main() -> Result<(), shmkit::Error> {
//! let balance = shmkit::Value::<i64>::open("bank-balance")?;
//! let guard = match balance.lock() {
//!     Ok(g) => g,
//!     Err(shmkit::LockError::OwnerDied(mut died)) => {
//!         // The previous holder was killed mid-update: repair, then recover.
//!         **died.guard_mut() = 0;
//!         died.recover()
//!     }
//!     Err(shmkit::LockError::Failed(e)) => return Err(e),
//! };
//! println!("balance = {}", *guard);
//! # Ok(()) }
//! ```
//!
//! See `docs/FORMAT.md` for the byte layout every segment shares with C programs and
//! the `shmkit` debugging tool.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod array;
pub mod collections;
pub mod dynamic;
pub mod error;
pub mod inspect;
pub mod process;
pub mod queue;
pub mod segment;
pub mod sync;
mod sys;
pub mod types;
pub mod value;

pub use array::{Array, ArrayGuard};
pub use collections::{ByteDict, ByteDictGuard, Dict, DictGuard, List, TableCheck};
pub use error::{Error, Result};
pub use process::{Pool, Process};
pub use queue::{
    GetError, JoinableQueue, MessageQueue, Pipe, PipeEnd, PutError, Queue, QueueSnapshot,
    WaitPolicy,
};
pub use queue::{ReadGuard, Reservation};
pub use segment::{Kind, Segment, SegmentInfo, SegmentOptions, unlink};
pub use sync::{
    Barrier, BoundedSemaphore, Condition, Event, RLock, RLockGuard, RawBarrier, RawCondition,
    RawEvent, RawRLock, RawSemaphore, Semaphore,
};
pub use sync::{LockError, LockResult, Mutex, MutexGuard, OwnerDied, RawMutex};
pub use types::{AtomicInt, Shareable, TypeDesc};
pub use value::{Value, ValueGuard};

/// Marks a `#[repr(C)]` struct as a type that may live in a segment; see [`Shareable`].
pub use shmkit_derive::shareable;

/// zerocopy, re-exported for [`shareable`]'s expansion.
#[doc(hidden)]
pub use zerocopy;

/// Whether a process with this pid exists (used to tell live owners from dead ones).
pub fn pid_alive(pid: u32) -> bool {
    sys::pid_alive(pid)
}
