//! [`JoinableQueue<T>`]: a [`Queue<T>`] that counts unfinished messages, like Python's
//! `multiprocessing.JoinableQueue`.
#![forbid(unsafe_code)]

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::Queue;
use super::ring::Waited;
use crate::error::{Error, Result};
use crate::segment::{Kind, SegmentOptions};
use crate::types::Shareable;

/// A [`Queue<T>`] whose consumers mark each message done with
/// [`task_done`](Self::task_done), so that [`join`](Self::join) can wait until every
/// message put has been processed. All the queue's methods are available through
/// `Deref`.
///
/// The unfinished count lives in the segment: a put adds one before the message is
/// published, `task_done` removes one. Crashes: a slot skipped because its producer died,
/// or freed because its consumer died, is removed from the count; a consumer killed
/// after its `get` returned but before its `task_done` leaves the count one too high
/// (use [`join_timeout`](Self::join_timeout) where that can happen), and so does a
/// producer killed inside `put` before it claimed a slot.
///
/// ```
/// # let name = format!("doc-joinable-{}", std::process::id());
/// let q = shmkit::JoinableQueue::<u32>::create(&name, 8)?;
/// q.put(7)?;
/// assert_eq!(q.unfinished(), 1);
/// assert_eq!(q.get()?, 7);
/// q.task_done()?;
/// q.join()?; // returns at once: everything put was marked done
/// assert!(q.task_done().is_err()); // one call too many
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct JoinableQueue<T: Shareable> {
    q: Queue<T>,
}

impl<T: Shareable> JoinableQueue<T> {
    /// Creates the joinable queue `name` holding up to `capacity` messages.
    ///
    /// # Errors
    /// As [`Queue::create`].
    pub fn create(name: &str, capacity: usize) -> Result<Self> {
        Self::create_with(name, capacity, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`Queue::create`].
    pub fn create_with(name: &str, capacity: usize, opts: &SegmentOptions) -> Result<Self> {
        Ok(JoinableQueue {
            q: Queue::create_kind(name, capacity, opts, Kind::JoinableQueue)?,
        })
    }

    /// Opens the joinable queue `name`.
    ///
    /// # Errors
    /// As [`Queue::open`]; a plain queue gives [`Error::KindMismatch`].
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        Ok(JoinableQueue {
            q: Queue::open_kind(name, opts, Kind::JoinableQueue)?,
        })
    }

    /// Opens `name`, creating it with `capacity` if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, capacity: usize) -> Result<Self> {
        crate::segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, capacity),
            || Self::open(name),
        )
    }

    /// Marks one message taken from the queue as processed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if called more times than messages were put.
    pub fn task_done(&self) -> Result<()> {
        self.q.ring().task_done().map_err(|()| {
            Error::InvalidArgument(
                "task_done() called more times than there were messages put".into(),
            )
        })
    }

    /// Messages put and not yet marked done.
    pub fn unfinished(&self) -> u64 {
        self.q.ring().unfinished()
    }

    /// Waits until every message put has been marked done.
    ///
    /// # Errors
    /// None today; fallible for symmetry with [`join_timeout`](Self::join_timeout).
    pub fn join(&self) -> Result<()> {
        match self.q.ring().join(None) {
            Waited::Done(()) => Ok(()),
            Waited::Closed | Waited::Timeout => unreachable!("join has no deadline"),
        }
    }

    /// Waits at most `timeout` until every message put has been marked done.
    ///
    /// # Errors
    /// [`Error::Timeout`] after at least `timeout`.
    pub fn join_timeout(&self, timeout: Duration) -> Result<()> {
        match self.q.ring().join(Instant::now().checked_add(timeout)) {
            Waited::Done(()) => Ok(()),
            Waited::Closed | Waited::Timeout => Err(Error::Timeout(timeout)),
        }
    }

    /// The plain queue inside.
    pub fn queue(&self) -> &Queue<T> {
        &self.q
    }
}

impl<T: Shareable> Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.q
    }
}

impl<T: Shareable> DerefMut for JoinableQueue<T> {
    fn deref_mut(&mut self) -> &mut Queue<T> {
        &mut self.q
    }
}

impl<T: Shareable> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("queue", &self.q)
            .field("unfinished", &self.unfinished())
            .finish()
    }
}
