//! [`DynQueue`]: a queue or joinable queue whose element type is known only at run time
//! (what the C API is built on).
//!
//! It opens exactly the segments [`Queue<T>`](super::Queue) and
//! [`JoinableQueue<T>`](super::JoinableQueue) open (same kinds, same type check, same
//! geometry check) and runs the same ring; only the copies differ: messages move as
//! bytes of the element's size ([`ByteSlots`]) instead of as a `T`.
#![forbid(unsafe_code)]

use std::fmt;
use std::time::{Duration, Instant};

use super::ring::{ByteSlots, Claim, Elems, ElemsMut, Ring, TryGet, TryPut, Waited};
use super::{
    QueueSnapshot, Stop, WaitPolicy, byte_ring_over, check_geometry, get_many_now, get_now,
    get_some, open_kind, put_all, put_now, snapshot_of, spec_of,
};
use crate::error::{Error, Result};
use crate::segment::{self, Kind, Segment, SegmentOptions};
use crate::types::TypeDesc;

/// A bounded FIFO queue of elements described by a [`TypeDesc`], moved as bytes; the
/// untyped twin of [`Queue<T>`](super::Queue) (and, with [`Kind::JoinableQueue`], of
/// [`JoinableQueue<T>`](super::JoinableQueue)). Same crash contract.
///
/// Every element argument is exactly `elem().size` bytes (several elements: a whole
/// number of them); anything else is [`Error::InvalidArgument`] and changes nothing.
///
/// ```
/// # let name = format!("doc-dynqueue-{}", std::process::id());
/// use shmkit::segment::Kind;
/// let typed = shmkit::Queue::<u32>::create(&name, 4)?;
/// let q = shmkit::dynamic::DynQueue::open(&name, Kind::Queue, shmkit::TypeDesc::of::<u32>(), &Default::default())?;
/// q.put(&7u32.to_ne_bytes(), None)?;
/// assert_eq!(typed.get()?, 7);
/// typed.put(8)?;
/// let mut out = [0u8; 4];
/// q.try_get(&mut out)?;
/// assert_eq!(u32::from_ne_bytes(out), 8);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct DynQueue {
    ring: Ring<ByteSlots>,
    seg: Segment,
    elem: TypeDesc,
    policy: WaitPolicy,
}

fn check_kind(kind: Kind) -> Result<()> {
    match kind {
        Kind::Queue | Kind::JoinableQueue => Ok(()),
        other => Err(Error::InvalidArgument(format!(
            "a DynQueue is a queue or a joinable-queue, not a {}",
            other.name()
        ))),
    }
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    // A timeout too large to represent waits forever.
    timeout.and_then(|d| Instant::now().checked_add(d))
}

fn stop_error(stop: Stop, timeout: Option<Duration>) -> Error {
    match stop {
        Stop::Closed => Error::Closed,
        Stop::Timeout => Error::Timeout(timeout.unwrap_or(Duration::MAX)),
    }
}

impl DynQueue {
    /// Creates the queue `name` (`kind` [`Kind::Queue`] or [`Kind::JoinableQueue`]) of
    /// up to `capacity` elements `elem`.
    ///
    /// # Errors
    /// As [`Queue::create`](super::Queue::create); [`Error::InvalidArgument`] for
    /// another kind.
    pub fn create(
        name: &str,
        kind: Kind,
        elem: TypeDesc,
        capacity: usize,
        opts: &SegmentOptions,
    ) -> Result<DynQueue> {
        check_kind(kind)?;
        let seg = segment::create_named(name, spec_of(kind, elem, capacity)?, opts, |_| Ok(()))?;
        Ok(Self::wrap(seg, elem))
    }

    /// Opens the queue `name`, which must be of `kind` and hold elements `elem`.
    ///
    /// # Errors
    /// As [`Queue::open`](super::Queue::open): [`Error::KindMismatch`] (a joinable queue
    /// opened as a plain one, or the reverse), [`Error::TypeMismatch`] naming both
    /// types, [`Error::Corrupt`].
    pub fn open(name: &str, kind: Kind, elem: TypeDesc, opts: &SegmentOptions) -> Result<DynQueue> {
        check_kind(kind)?;
        let seg = open_kind(name, kind, Some(elem), opts)?;
        check_geometry(&seg, Some(&elem), name)?;
        Ok(Self::wrap(seg, elem))
    }

    /// Opens `name`, creating it with `capacity` if it does not exist. An existing
    /// queue keeps its own capacity.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(
        name: &str,
        kind: Kind,
        elem: TypeDesc,
        capacity: usize,
        opts: &SegmentOptions,
    ) -> Result<DynQueue> {
        segment::open_or_create_named(
            name,
            opts,
            || Self::create(name, kind, elem, capacity, opts),
            || Self::open(name, kind, elem, opts),
        )
    }

    /// An unnamed queue shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(kind: Kind, elem: TypeDesc, capacity: usize) -> Result<DynQueue> {
        check_kind(kind)?;
        let seg = segment::create_anonymous(spec_of(kind, elem, capacity)?, |_| Ok(()))?;
        Ok(Self::wrap(seg, elem))
    }

    fn wrap(seg: Segment, elem: TypeDesc) -> DynQueue {
        DynQueue {
            ring: byte_ring_over(&seg, elem),
            seg,
            elem,
            policy: WaitPolicy::default(),
        }
    }

    /// The element type.
    pub fn elem(&self) -> TypeDesc {
        self.elem
    }

    /// [`Kind::Queue`] or [`Kind::JoinableQueue`].
    pub fn kind(&self) -> Kind {
        self.seg.info().kind
    }

    /// This handle's wait policy.
    pub fn wait_policy(&self) -> WaitPolicy {
        self.policy
    }

    /// Sets how this handle waits when it must (see [`WaitPolicy`]).
    pub fn set_wait_policy(&mut self, policy: WaitPolicy) {
        self.policy = policy;
    }

    fn one(&self, len: usize, what: &str) -> Result<()> {
        if len != self.elem.size {
            return Err(Error::InvalidArgument(format!(
                "{what}: expected one {}-byte element of {}, got {len} bytes",
                self.elem.size, self.elem
            )));
        }
        Ok(())
    }

    fn whole(&self, len: usize, what: &str) -> Result<()> {
        if len % self.elem.size != 0 {
            return Err(Error::InvalidArgument(format!(
                "{what}: {len} bytes are not a whole number of {}-byte elements of {}",
                self.elem.size, self.elem
            )));
        }
        Ok(())
    }

    /// Puts one element, waiting while the queue is full: forever with `None`, at most
    /// `timeout` otherwise.
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::Timeout`], [`Error::InvalidArgument`] for a wrong
    /// length.
    pub fn put(&self, elem: &[u8], timeout: Option<Duration>) -> Result<()> {
        self.one(elem.len(), "put")?;
        match self.ring.put(elem, self.policy.spin, deadline(timeout)) {
            Waited::Done(()) => Ok(()),
            Waited::Closed => Err(Error::Closed),
            Waited::Timeout => Err(stop_error(Stop::Timeout, timeout)),
        }
    }

    /// Puts one element if there is room now.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when full, [`Error::Closed`], [`Error::InvalidArgument`].
    pub fn try_put(&self, elem: &[u8]) -> Result<()> {
        self.one(elem.len(), "try_put")?;
        match self.ring.try_put(elem) {
            TryPut::Done => Ok(()),
            TryPut::Full(_) => Err(Error::WouldBlock),
            TryPut::Closed => Err(Error::Closed),
        }
    }

    /// Puts every element of `elems` in order, waiting for room (forever with `None`,
    /// at most `timeout` in all otherwise).
    ///
    /// # Errors
    /// `(n, why)`: the first `n` elements were put, the rest not, because of
    /// [`Error::Closed`] or [`Error::Timeout`]; `(0, `[`Error::InvalidArgument`]`)` for
    /// a partial element.
    pub fn put_many(
        &self,
        elems: &[u8],
        timeout: Option<Duration>,
    ) -> std::result::Result<(), (usize, Error)> {
        self.whole(elems.len(), "put_many").map_err(|e| (0, e))?;
        let items = Elems {
            bytes: elems,
            size: self.elem.size,
        };
        put_all(&self.ring, &items, self.policy.spin, deadline(timeout))
            .map_err(|(n, stop)| (n, stop_error(stop, timeout)))
    }

    /// Puts as many of `elems` as fit now, in order; returns how many (0 when full).
    ///
    /// # Errors
    /// [`Error::Closed`] if the queue is closed (nothing was put),
    /// [`Error::InvalidArgument`].
    pub fn try_put_many(&self, elems: &[u8]) -> Result<usize> {
        self.whole(elems.len(), "try_put_many")?;
        let items = Elems {
            bytes: elems,
            size: self.elem.size,
        };
        put_now(&self.ring, &items).map_err(|_| Error::Closed)
    }

    /// Takes the oldest element into `out`, waiting while the queue is empty (forever
    /// with `None`, at most `timeout` otherwise). `out` is written only on success.
    ///
    /// # Errors
    /// [`Error::Closed`] once closed and drained, [`Error::Timeout`],
    /// [`Error::InvalidArgument`].
    pub fn get(&self, out: &mut [u8], timeout: Option<Duration>) -> Result<()> {
        self.one(out.len(), "get")?;
        match self.ring.get(self.policy.spin, deadline(timeout), out) {
            Waited::Done(()) => Ok(()),
            Waited::Closed => Err(Error::Closed),
            Waited::Timeout => Err(stop_error(Stop::Timeout, timeout)),
        }
    }

    /// Takes the oldest element into `out` if there is one now.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when empty, [`Error::Closed`] once closed and drained,
    /// [`Error::InvalidArgument`].
    pub fn try_get(&self, out: &mut [u8]) -> Result<()> {
        self.one(out.len(), "try_get")?;
        get_now(&self.ring, out).map_err(Error::from)
    }

    /// Waits for at least one element (forever with `None`, at most `timeout`
    /// otherwise), then takes as many as are there, up to the whole elements `out`
    /// holds; returns how many (0 only when `out` holds none).
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::Timeout`], [`Error::InvalidArgument`].
    pub fn get_many(&self, out: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        self.whole(out.len(), "get_many")?;
        let mut places = ElemsMut {
            bytes: out,
            size: self.elem.size,
        };
        get_some(&self.ring, &mut places, self.policy.spin, deadline(timeout))
            .map_err(|stop| stop_error(stop, timeout))
    }

    /// Takes as many elements as are there now, up to the whole elements `out` holds.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] if there were none, [`Error::Closed`] once closed and
    /// drained, [`Error::InvalidArgument`].
    pub fn try_get_many(&self, out: &mut [u8]) -> Result<usize> {
        self.whole(out.len(), "try_get_many")?;
        let mut places = ElemsMut {
            bytes: out,
            size: self.elem.size,
        };
        get_many_now(&self.ring, &mut places).map_err(Error::from)
    }

    // ---- Zero-copy (the C API's reserve/commit and get_ref/release) ------------------

    fn slot(&self, w: Waited<Claim>, timeout: Option<Duration>) -> Result<DynSlot> {
        match w {
            Waited::Done(c) => Ok(DynSlot {
                pos: c.pos,
                stamp: c.stamp,
            }),
            Waited::Closed => Err(Error::Closed),
            Waited::Timeout => Err(stop_error(Stop::Timeout, timeout)),
        }
    }

    /// Reserves the next slot to write an element in place, waiting while the queue is
    /// full (forever with `None`, at most `timeout` otherwise). Write `elem().size`
    /// bytes at [`slot_ptr`](Self::slot_ptr), then [`commit`](Self::commit) (or
    /// [`abort`](Self::abort)). Same rules as [`Queue::reserve`](super::Queue::reserve),
    /// except that nothing ends the slot automatically: a slot never committed nor
    /// aborted stays held until this process exits.
    ///
    /// # Errors
    /// [`Error::Closed`], [`Error::Timeout`].
    pub fn reserve(&self, timeout: Option<Duration>) -> Result<DynSlot> {
        let w = self.ring.reserve(self.policy.spin, deadline(timeout));
        self.slot(w, timeout)
    }

    /// [`reserve`](Self::reserve) if a slot is free now.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when full, [`Error::Closed`].
    pub fn try_reserve(&self) -> Result<DynSlot> {
        match self.ring.try_reserve() {
            Ok(c) => self.slot(Waited::Done(c), None),
            Err(TryPut::Closed) => Err(Error::Closed),
            Err(_) => Err(Error::WouldBlock),
        }
    }

    /// Takes the oldest element to read it in place, waiting while the queue is empty
    /// (forever with `None`, at most `timeout` otherwise). Read `elem().size` bytes at
    /// [`slot_ptr`](Self::slot_ptr), then [`release`](Self::release) the slot.
    ///
    /// # Errors
    /// [`Error::Closed`] once closed and drained, [`Error::Timeout`].
    pub fn get_ref(&self, timeout: Option<Duration>) -> Result<DynSlot> {
        let w = self.ring.take(self.policy.spin, deadline(timeout));
        self.slot(w, timeout)
    }

    /// [`get_ref`](Self::get_ref) if an element is there now.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when empty, [`Error::Closed`] once closed and drained.
    pub fn try_get_ref(&self) -> Result<DynSlot> {
        let take = || match self.ring.try_take() {
            Ok(c) => Ok(Some(c)),
            Err(TryGet::Empty(Some(_))) => Err(Error::WouldBlock),
            Err(_) => Ok(None),
        };
        let claim = match take()? {
            Some(c) => c,
            None if self.ring.is_closed() => take()?.ok_or(Error::Closed)?,
            None => return Err(Error::WouldBlock),
        };
        self.slot(Waited::Done(claim), None)
    }

    fn not_held(slot: DynSlot, what: &str) -> Error {
        Error::InvalidArgument(format!(
            "{what}: slot (position {}, stamp {:#x}) is not one this process holds \
             (already ended, or not from this queue)",
            slot.pos, slot.stamp
        ))
    }

    /// Where the element of a slot this process holds lives: `elem().size` bytes,
    /// writable (a reservation) or readable (a taken element) until the slot is
    /// committed, aborted or released.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `slot` does not name a slot of this queue.
    pub fn slot_ptr(&self, slot: &DynSlot) -> Result<*mut u8> {
        let c = self.ring.claim_of(slot.pos, slot.stamp);
        if c.idx >= self.capacity() {
            return Err(Self::not_held(*slot, "slot_ptr"));
        }
        Ok(self.ring.slots().value_ptr(c.idx).as_ptr())
    }

    /// Publishes a reserved slot.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `slot` is not a reservation this process holds
    /// (it was already committed or aborted, for example); nothing changes then.
    pub fn commit(&self, slot: DynSlot) -> Result<()> {
        let c = self.ring.claim_of(slot.pos, slot.stamp);
        self.ring
            .commit(c)
            .then_some(())
            .ok_or_else(|| Self::not_held(slot, "commit"))
    }

    /// Gives a reserved slot up unpublished (consumers skip it).
    ///
    /// # Errors
    /// As [`commit`](Self::commit).
    pub fn abort(&self, slot: DynSlot) -> Result<()> {
        let c = self.ring.claim_of(slot.pos, slot.stamp);
        self.ring
            .abort(c)
            .then_some(())
            .ok_or_else(|| Self::not_held(slot, "abort"))
    }

    /// Hands a slot taken by [`get_ref`](Self::get_ref) back to the producers.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `slot` is not an element this process holds.
    pub fn release(&self, slot: DynSlot) -> Result<()> {
        let c = self.ring.claim_of(slot.pos, slot.stamp);
        self.ring
            .release(c)
            .then_some(())
            .ok_or_else(|| Self::not_held(slot, "release"))
    }

    /// Elements in the queue now (approximate while other processes work).
    pub fn len(&self) -> usize {
        self.ring.len() as usize
    }

    /// Whether the queue looks empty now.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// How many elements fit.
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Closes the queue for every process (see [`Queue::close`](super::Queue::close)).
    pub fn close(&self) {
        self.ring.close();
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    fn joinable(&self) -> Result<()> {
        if self.ring.joinable() {
            Ok(())
        } else {
            Err(Error::KindMismatch {
                expected: Kind::JoinableQueue.name().into(),
                found: self.kind().name().into(),
            })
        }
    }

    /// Joinable queues: marks one element taken from the queue as processed.
    ///
    /// # Errors
    /// [`Error::KindMismatch`] on a plain queue; [`Error::InvalidArgument`] if called
    /// more times than elements were put.
    pub fn task_done(&self) -> Result<()> {
        self.joinable()?;
        self.ring.task_done().map_err(|()| {
            Error::InvalidArgument(
                "task_done() called more times than there were messages put".into(),
            )
        })
    }

    /// Joinable queues: elements put and not yet marked done.
    ///
    /// # Errors
    /// [`Error::KindMismatch`] on a plain queue.
    pub fn unfinished(&self) -> Result<u64> {
        self.joinable()?;
        Ok(self.ring.unfinished())
    }

    /// Joinable queues: waits until every element put has been marked done (forever
    /// with `None`, at most `timeout` otherwise).
    ///
    /// # Errors
    /// [`Error::KindMismatch`] on a plain queue, [`Error::Timeout`].
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        self.joinable()?;
        match self.ring.join(deadline(timeout)) {
            Waited::Done(()) => Ok(()),
            Waited::Closed | Waited::Timeout => Err(stop_error(Stop::Timeout, timeout)),
        }
    }

    /// The queue's state (walks every slot: O(capacity)).
    pub fn snapshot(&self) -> QueueSnapshot {
        snapshot_of(&self.ring, self.kind())
    }

    /// The segment behind this queue.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }
}

/// A slot of a [`DynQueue`] this process holds: reserved ([`DynQueue::reserve`]) or
/// taken ([`DynQueue::get_ref`]). Plain numbers: the queue checks them when the slot is
/// ended, so a stale or made-up `DynSlot` gives an error, never a wrong slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynSlot {
    /// The slot's position in the ring.
    pub pos: u64,
    /// The slot's stamp while held (turn and owner pid).
    pub stamp: u64,
}

impl fmt::Debug for DynQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynQueue")
            .field("name", &self.seg.name())
            .field("kind", &self.kind())
            .field("type", &self.elem)
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}
