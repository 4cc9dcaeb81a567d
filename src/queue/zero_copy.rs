//! Zero-copy for [`Queue<T>`]: write a message in place in its slot and publish it
//! ([`Queue::reserve`] → [`Reservation`] → [`Reservation::commit`]), read it in place
//! ([`Queue::get_ref`] → [`ReadGuard`], which hands the slot back when dropped), and the
//! copying forms that never move a `T` through the stack ([`Queue::put_ref`],
//! [`Queue::get_into`]), for messages of megabytes.
//!
//! ## How a held slot behaves
//! A guard holds its slot exactly as a `put` or `get` does for the few nanoseconds of
//! its copy: the slot's stamp names this process (see the `ring` module). While a
//! [`Reservation`] is held, consumers cannot get past its slot (FIFO order: the messages
//! behind it wait); while a [`ReadGuard`] is held, producers cannot reuse its slot once
//! the ring has gone round to it. So hold guards briefly, and never wait on the same
//! queue while holding one (with a small capacity that can wait forever on yourself).
//!
//! - **Dropping a reservation without committing aborts it**: the slot is marked
//!   skipped, exactly like the slot of a producer that died mid-put, and consumers step
//!   over it. No half-written message is ever delivered, even when the code filling the
//!   slot panics. (The other choice, publishing on drop, would deliver whatever the slot
//!   happened to hold.)
//! - **Crashes**: a producer killed while holding a reservation leaves a claimed slot;
//!   a consumer blocked on it finds its owner dead (after the ring's grace period,
//!   2 ms) and skips it, counted in
//!   [`QueueSnapshot::skipped_dead_producers`](super::QueueSnapshot::skipped_dead_producers).
//!   Nothing acknowledged is lost: the message was never committed. A consumer killed
//!   while holding a read guard leaves a taken slot; a producer that needs it frees it
//!   once it sees the owner dead, counted in
//!   [`QueueSnapshot::dropped_dead_consumers`](super::QueueSnapshot::dropped_dead_consumers):
//!   **that message is lost**, as for a consumer killed in the middle of a `get` (the
//!   one exception to "every acknowledged message is delivered exactly once").
//! - **Leaking** a guard (`std::mem::forget`) keeps its slot held until this process
//!   exits; the queue then repairs it as above.
//! - A reservation starts with the bytes of an earlier message in its slot (or zeros):
//!   any bytes are a valid `T` ([`Shareable`]), but write every field the consumer
//!   reads. Not clearing the slot is what makes a reservation cost the same for any
//!   message size.
//! - Guards borrow the queue handle, may move to another thread of the same process
//!   (the slot belongs to the process), and must not outlive a `fork` in both parent and
//!   child: a guard ends exactly once (compare-and-swap), the other end is then ignored.
//!
//! ```
//! # let name = format!("doc-zero-copy-{}", std::process::id());
//! #[shmkit::shareable(name = "frame")]
//! #[derive(Clone, Copy)]
//! #[repr(C)]
//! struct Frame {
//!     seq: u64,
//!     pixels: [u8; 4096],
//! }
//!
//! let q = shmkit::Queue::<Frame>::create(&name, 4)?;
//! let mut slot = q.reserve()?; // waits while the queue is full
//! slot.seq = 1;
//! slot.pixels.fill(7); // written straight into shared memory
//! slot.commit(); // now a consumer can take it
//!
//! let frame = q.get_ref()?; // waits while the queue is empty
//! assert_eq!((frame.seq, frame.pixels[4095]), (1, 7));
//! drop(frame); // the slot goes back to the producers
//!
//! drop(q.reserve()?); // dropped without commit: aborted, never delivered
//! assert!(q.try_get_ref().is_err());
//! # Ok::<(), shmkit::Error>(())
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::Duration;

use super::ring::{Claim, TryGet, TryPut, Waited};
use super::{GetError, PutError, Queue, get_now};
use crate::types::Shareable;

/// A slot reserved in a [`Queue<T>`] to write a message in place: dereferences to the
/// slot's `T` in shared memory. [`commit`](Self::commit) publishes it; dropping it
/// without committing aborts it (the slot is skipped, nothing is delivered). See the
/// [module docs](self).
#[must_use = "a reservation dropped without commit() is aborted"]
pub struct Reservation<'a, T: Shareable> {
    queue: &'a Queue<T>,
    claim: Claim,
    value: NonNull<T>,
}

/// A message taken from a [`Queue<T>`] and read in place: dereferences to the slot's
/// `T` in shared memory; dropping it hands the slot back to the producers. See the
/// [module docs](self).
#[must_use = "dropping a read guard releases the message at once"]
pub struct ReadGuard<'a, T: Shareable> {
    queue: &'a Queue<T>,
    claim: Claim,
    value: NonNull<T>,
}

// SAFETY: a guard is a slot held by this process (not by a thread) plus a borrow of the
// queue handle, which is Sync; moving it to another thread moves a `&mut T` / `&T`,
// which `T: Send + Sync` (Shareable) allows.
unsafe impl<T: Shareable> Send for Reservation<'_, T> {}
// SAFETY: `&Reservation` only gives `&T`; `T: Sync`.
unsafe impl<T: Shareable> Sync for Reservation<'_, T> {}
// SAFETY: as for Reservation.
unsafe impl<T: Shareable> Send for ReadGuard<'_, T> {}
// SAFETY: as for Reservation.
unsafe impl<T: Shareable> Sync for ReadGuard<'_, T> {}

impl<'a, T: Shareable> Reservation<'a, T> {
    fn new(queue: &'a Queue<T>, claim: Claim) -> Self {
        Reservation {
            queue,
            claim,
            value: queue.ring.slots().value_ptr(claim.idx),
        }
    }

    /// Publishes the message: a consumer can take it from now on (one that sleeps is
    /// woken).
    pub fn commit(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // A claim this process made cannot be refused; if it ever were (a hostile
        // process rewrote the stamp), there is nothing left to publish.
        let _ = this.queue.ring.commit(this.claim);
    }

    /// Gives the slot up without publishing (what dropping does): consumers skip it.
    pub fn abort(self) {
        drop(self);
    }
}

impl<T: Shareable> Deref for Reservation<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY:
        // - `value` points to the `T` of a slot inside the queue's mapping, which lives
        //   as long as the borrowed queue; it is aligned for T (validated geometry).
        // - the slot's stamp names this process with the producers' turn until commit
        //   or abort (both consume the guard), so no cooperating process reads or writes
        //   it meanwhile; any bytes are a valid T (Shareable: FromBytes).
        unsafe { self.value.as_ref() }
    }
}

impl<T: Shareable> DerefMut for Reservation<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY:
        // - as in `deref`; `&mut self` makes this the only reference through the guard.
        unsafe { self.value.as_mut() }
    }
}

impl<T: Shareable> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        let _ = self.queue.ring.abort(self.claim);
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for Reservation<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reservation").field(&**self).finish()
    }
}

impl<'a, T: Shareable> ReadGuard<'a, T> {
    fn new(queue: &'a Queue<T>, claim: Claim) -> Self {
        ReadGuard {
            queue,
            claim,
            value: queue.ring.slots().value_ptr(claim.idx),
        }
    }
}

impl<T: Shareable> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY:
        // - `value` points to the `T` of a slot inside the queue's mapping, which lives
        //   as long as the borrowed queue; it is aligned for T (validated geometry).
        // - the producer published the slot (release store, read with acquire by our
        //   claim) and its stamp names this process with the consumers' turn until the
        //   guard is dropped: no cooperating process writes it meanwhile; any bytes are
        //   a valid T (Shareable: FromBytes).
        unsafe { self.value.as_ref() }
    }
}

impl<T: Shareable> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        let _ = self.queue.ring.release(self.claim);
    }
}

impl<T: Shareable + fmt::Debug> fmt::Debug for ReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadGuard").field(&**self).finish()
    }
}

fn put_error(w: Waited<()>, timeout: Option<Duration>) -> Result<(), PutError<()>> {
    match (w, timeout) {
        (Waited::Done(()), _) => Ok(()),
        (Waited::Closed, _) => Err(PutError::Closed(())),
        (Waited::Timeout, Some(d)) => Err(PutError::Timeout((), d)),
        (Waited::Timeout, None) => unreachable!("no deadline"),
    }
}

fn get_error(w: Waited<()>, timeout: Option<Duration>) -> Result<(), GetError> {
    match (w, timeout) {
        (Waited::Done(()), _) => Ok(()),
        (Waited::Closed, _) => Err(GetError::Closed),
        (Waited::Timeout, Some(d)) => Err(GetError::Timeout(d)),
        (Waited::Timeout, None) => unreachable!("no deadline"),
    }
}

impl<T: Shareable> Queue<T> {
    // ---- Copying by reference (large messages) ---------------------------------------

    /// Puts a copy of `*value`, waiting while the queue is full: [`put`](Self::put)
    /// without moving a `T` by value (one copy, from `value` straight into the slot).
    ///
    /// # Errors
    /// [`PutError::Closed`] if the queue is (or gets) closed.
    pub fn put_ref(&self, value: &T) -> Result<(), PutError<()>> {
        put_error(self.ring.put(value, self.policy.spin, None), None)
    }

    /// [`put_ref`](Self::put_ref), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PutError::Timeout`] after at least `timeout`, or [`PutError::Closed`].
    pub fn put_ref_timeout(&self, value: &T, timeout: Duration) -> Result<(), PutError<()>> {
        let w = self
            .ring
            .put(value, self.policy.spin, Self::deadline(timeout));
        put_error(w, Some(timeout))
    }

    /// [`put_ref`](Self::put_ref) if there is room now.
    ///
    /// # Errors
    /// [`PutError::Full`] or [`PutError::Closed`].
    pub fn try_put_ref(&self, value: &T) -> Result<(), PutError<()>> {
        match self.ring.try_put(value) {
            TryPut::Done => Ok(()),
            TryPut::Full(_) => Err(PutError::Full(())),
            TryPut::Closed => Err(PutError::Closed(())),
        }
    }

    /// Takes the oldest message into `*out`, waiting while the queue is empty:
    /// [`get`](Self::get) without returning a `T` by value (one copy, from the slot
    /// straight into `out`). `out` is written only on success.
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained.
    pub fn get_into(&self, out: &mut T) -> Result<(), GetError> {
        get_error(self.ring.get(self.policy.spin, None, out), None)
    }

    /// [`get_into`](Self::get_into), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`GetError::Timeout`] after at least `timeout`, or [`GetError::Closed`].
    pub fn get_into_timeout(&self, out: &mut T, timeout: Duration) -> Result<(), GetError> {
        let w = self
            .ring
            .get(self.policy.spin, Self::deadline(timeout), out);
        get_error(w, Some(timeout))
    }

    /// [`get_into`](Self::get_into) if a message is there now.
    ///
    /// # Errors
    /// [`GetError::Empty`], or [`GetError::Closed`] if closed and drained.
    pub fn try_get_into(&self, out: &mut T) -> Result<(), GetError> {
        get_now(&self.ring, out)
    }

    // ---- Zero-copy --------------------------------------------------------------------

    fn reserved(&self, w: Waited<Claim>, timeout: Option<Duration>) -> ReserveResult<'_, T> {
        match (w, timeout) {
            (Waited::Done(c), _) => Ok(Reservation::new(self, c)),
            (Waited::Closed, _) => Err(PutError::Closed(())),
            (Waited::Timeout, Some(d)) => Err(PutError::Timeout((), d)),
            (Waited::Timeout, None) => unreachable!("no deadline"),
        }
    }

    /// Reserves the next slot to write a message in place, waiting while the queue is
    /// full. Write through the returned guard, then [`commit`](Reservation::commit) it;
    /// dropping it uncommitted aborts it. See the [zero-copy docs](super::zero_copy).
    ///
    /// # Errors
    /// [`PutError::Closed`] if the queue is (or gets) closed.
    pub fn reserve(&self) -> ReserveResult<'_, T> {
        self.reserved(self.ring.reserve(self.policy.spin, None), None)
    }

    /// [`reserve`](Self::reserve), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PutError::Timeout`] after at least `timeout`, or [`PutError::Closed`].
    pub fn reserve_timeout(&self, timeout: Duration) -> ReserveResult<'_, T> {
        let w = self.ring.reserve(self.policy.spin, Self::deadline(timeout));
        self.reserved(w, Some(timeout))
    }

    /// [`reserve`](Self::reserve) if a slot is free now.
    ///
    /// # Errors
    /// [`PutError::Full`] or [`PutError::Closed`].
    pub fn try_reserve(&self) -> ReserveResult<'_, T> {
        match self.ring.try_reserve() {
            Ok(c) => Ok(Reservation::new(self, c)),
            Err(TryPut::Closed) => Err(PutError::Closed(())),
            Err(_) => Err(PutError::Full(())),
        }
    }

    fn taken(&self, w: Waited<Claim>, timeout: Option<Duration>) -> GetRefResult<'_, T> {
        match (w, timeout) {
            (Waited::Done(c), _) => Ok(ReadGuard::new(self, c)),
            (Waited::Closed, _) => Err(GetError::Closed),
            (Waited::Timeout, Some(d)) => Err(GetError::Timeout(d)),
            (Waited::Timeout, None) => unreachable!("no deadline"),
        }
    }

    /// Takes the oldest message to read it in place, waiting while the queue is empty;
    /// the slot goes back to the producers when the guard is dropped. See the
    /// [zero-copy docs](super::zero_copy).
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained.
    pub fn get_ref(&self) -> GetRefResult<'_, T> {
        self.taken(self.ring.take(self.policy.spin, None), None)
    }

    /// [`get_ref`](Self::get_ref), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`GetError::Timeout`] after at least `timeout`, or [`GetError::Closed`].
    pub fn get_ref_timeout(&self, timeout: Duration) -> GetRefResult<'_, T> {
        let w = self.ring.take(self.policy.spin, Self::deadline(timeout));
        self.taken(w, Some(timeout))
    }

    /// [`get_ref`](Self::get_ref) if a message is there now.
    ///
    /// # Errors
    /// [`GetError::Empty`], or [`GetError::Closed`] if closed and drained.
    pub fn try_get_ref(&self) -> GetRefResult<'_, T> {
        let take = || match self.ring.try_take() {
            Ok(c) => Ok(Some(c)),
            Err(TryGet::Empty(Some(_))) => Err(GetError::Empty),
            Err(_) => Ok(None),
        };
        let claim = match take()? {
            Some(c) => c,
            // Empty, with nobody writing: closed and drained, or just empty. A put that
            // published just before the close is still taken.
            None if self.ring.is_closed() => take()?.ok_or(GetError::Closed)?,
            None => return Err(GetError::Empty),
        };
        Ok(ReadGuard::new(self, claim))
    }
}

/// What [`Queue::reserve`] and its forms return.
pub type ReserveResult<'a, T> = Result<Reservation<'a, T>, PutError<()>>;
/// What [`Queue::get_ref`] and its forms return.
pub type GetRefResult<'a, T> = Result<ReadGuard<'a, T>, GetError>;
