//! Queues between processes, like Python's `multiprocessing.Queue`.
//!
//! [`Queue<T>`] is a bounded multi-producer multi-consumer FIFO of fixed-size
//! [`Shareable`] messages in one segment. Its fast path (a put on a queue that is not
//! full, a get on one that is not empty) is a few atomic instructions and a copy, with
//! no system call; a process that has to wait spins briefly, then sleeps on a futex, and
//! the other side only enters the kernel when someone is actually asleep.
//!
//! The other flavours: [`JoinableQueue<T>`] (`task_done` / `join`),
//! [`MessageQueue`] (byte messages of any length up to a maximum, and serde values; see
//! the [`message`] module for its design and crash contract) and [`Pipe`] (a
//! connection between two processes, messages of any size, EOF and broken pipe; see
//! the [`pipe`] module).
//!
//! ## Crash contract
//! A producer or consumer killed at any instant, even in the middle of copying a
//! message, never wedges the queue and never corrupts other messages. Every message
//! whose `put` returned `Ok` is delivered exactly once, **unless a consumer dies while
//! holding it**: a consumer killed between claiming a slot and releasing it takes that
//! one message with it (counted in [`QueueSnapshot::dropped_dead_consumers`]), and
//! of course a message a consumer received but had not finished processing is gone with
//! the consumer. A producer killed in the middle of a put leaves a half-written slot
//! that consumers skip once they see its owner is dead (counted in
//! [`QueueSnapshot::skipped_dead_producers`]); that put never returned, so nothing
//! acknowledged is lost. The protocol is described in the `ring` module source and the
//! layout in docs/FORMAT.md. The same holds for the zero-copy guards
//! ([`zero_copy`]): a producer killed holding a [`Reservation`] is a producer killed
//! mid-put, a consumer killed holding a [`ReadGuard`] a consumer killed mid-get.
//!
//! ```
//! # let name = format!("doc-queue-{}", std::process::id());
//! use shmkit::{GetError, Queue};
//!
//! let q = Queue::<u64>::create(&name, 4)?;
//! // Another process: Queue::<u64>::open(&name)?
//! q.put(1)?;
//! q.put(2)?;
//! assert_eq!(q.len(), 2);
//! assert_eq!(q.get()?, 1);
//! assert_eq!(q.try_get()?, 2);
//! assert_eq!(q.try_get(), Err(GetError::Empty));
//! q.close();
//! assert!(q.put(3).is_err());
//! assert_eq!(q.get(), Err(GetError::Closed));
//! # Ok::<(), shmkit::Error>(())
//! ```

mod dynamic;
mod joinable;
pub mod message;
pub mod pipe;
mod primitive;
mod ring;
pub mod zero_copy;

#[cfg(all(test, loom))]
mod loom;

use std::fmt;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentInfo, SegmentOptions, Spec};
use crate::types::{Shareable, TypeDesc};

pub use dynamic::{DynQueue, DynSlot};
pub use joinable::JoinableQueue;
pub use message::{MessageQueue, MessageQueueSnapshot};
pub use pipe::{Pipe, PipeEnd, PipeSide, PipeSnapshot};
use ring::{
    Batch, BatchMut, ByteSlots, CONTROL_LEN, Control, Ring, SegSlots, Slots, TryGet, TryPut, Waited,
};
pub use zero_copy::{GetRefResult, ReadGuard, Reservation, ReserveResult};

/// The largest capacity of a queue.
pub const MAX_CAPACITY: u64 = 1 << 32;
/// The length of a queue's control block in bytes (docs/FORMAT.md).
pub const CONTROL_BLOCK_LEN: usize = CONTROL_LEN;

/// How a blocked `put` or `get` waits: spin (lowest latency, burns a CPU) for a while,
/// then sleep on a futex (no CPU, but a wake-up costs the kernel's latency, tens of
/// microseconds on a virtual machine).
///
/// The policy belongs to a handle, not to the queue: each process picks its own.
///
/// Spinning yields the CPU now and then, so that a peer sharing the waiter's CPU gets
/// to run; a handle whose last wait was ended by such a peer yields at once on its next
/// wait (on one core, two processes bounce a message in about 1.4 µs this way, against
/// about 3.8 µs spinning first). `MessageQueue` and `PipeEnd` wait the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPolicy {
    spin: Duration,
}

impl WaitPolicy {
    /// The default spin before sleeping: long enough to cover a peer that is running on
    /// another CPU, short enough not to matter when it is not.
    pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

    /// Sleep at once (no spinning): best for CPU economy.
    pub const fn sleep() -> WaitPolicy {
        WaitPolicy {
            spin: Duration::ZERO,
        }
    }

    /// Spin and never sleep: best latency, one CPU busy per waiter.
    pub const fn spin() -> WaitPolicy {
        WaitPolicy {
            spin: Duration::MAX,
        }
    }

    /// Spin for `spin`, then sleep.
    pub const fn spin_then_sleep(spin: Duration) -> WaitPolicy {
        WaitPolicy { spin }
    }

    /// How long a waiter spins before it sleeps.
    pub const fn spin_duration(&self) -> Duration {
        self.spin
    }
}

impl Default for WaitPolicy {
    /// [`WaitPolicy::spin_then_sleep`]`(`[`WaitPolicy::DEFAULT_SPIN`]`)`.
    fn default() -> Self {
        WaitPolicy::spin_then_sleep(Self::DEFAULT_SPIN)
    }
}

/// Why a put failed. Every variant hands the value back, so nothing is lost.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue is full (`try_put`).
    Full(T),
    /// The queue stayed full for the whole timeout (`put_timeout`).
    Timeout(T, Duration),
    /// The queue is closed.
    Closed(T),
}

impl<T> PutError<T> {
    /// The value that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(v) | PutError::Timeout(v, _) | PutError::Closed(v) => v,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PutError::Closed(_))
    }

    /// Whether the wait timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PutError::Timeout(..))
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Timeout(_, d) => write!(f, "Timeout(.., {d:?})"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full"),
            PutError::Timeout(_, d) => write!(f, "the queue stayed full for {d:?}"),
            PutError::Closed(_) => f.write_str("the queue is closed"),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

impl<T> From<PutError<T>> for Error {
    fn from(e: PutError<T>) -> Error {
        match e {
            PutError::Full(_) => Error::WouldBlock,
            PutError::Timeout(_, d) => Error::Timeout(d),
            PutError::Closed(_) => Error::Closed,
        }
    }
}

/// Why a get returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// The queue is empty (`try_get`).
    #[error("the queue is empty")]
    Empty,
    /// The queue stayed empty for the whole timeout (`get_timeout`).
    #[error("the queue stayed empty for {0:?}")]
    Timeout(Duration),
    /// The queue is closed and everything in it has been taken.
    #[error("the queue is closed and drained")]
    Closed,
}

impl From<GetError> for Error {
    fn from(e: GetError) -> Error {
        match e {
            GetError::Empty => Error::WouldBlock,
            GetError::Timeout(d) => Error::Timeout(d),
            GetError::Closed => Error::Closed,
        }
    }
}

/// A queue's state, read without stopping anyone (for `shmkit show` and monitoring).
/// Counts are a moment's picture while others work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// [`Kind::Queue`] or [`Kind::JoinableQueue`].
    pub kind: Kind,
    /// How many messages fit.
    pub capacity: u64,
    /// Messages in the queue, counting slots being written or read.
    pub len: u64,
    /// The raw head position (`lap * one_lap + index`, see docs/FORMAT.md).
    pub head: u64,
    /// The raw tail position.
    pub tail: u64,
    /// Producers registered as sleeping because the queue is full.
    pub waiting_producers: u32,
    /// Consumers registered as sleeping because the queue is empty.
    pub waiting_consumers: u32,
    /// Whether the queue is closed.
    pub closed: bool,
    /// Slots being written by a live producer.
    pub writing: u64,
    /// Slots being read by a live consumer.
    pub reading: u64,
    /// Slots claimed by a producer that died before publishing, not yet skipped.
    pub dead_producer_slots: u64,
    /// Slots held by a consumer that died, not yet freed (those messages are lost).
    pub dead_consumer_slots: u64,
    /// Slots skipped so far because their producer died mid-put.
    pub skipped_dead_producers: u64,
    /// Messages lost so far because their consumer died mid-get (freed slots).
    pub dropped_dead_consumers: u64,
    /// JoinableQueue only: messages put and not yet marked done.
    pub unfinished: Option<u64>,
}

impl QueueSnapshot {
    /// Decodes a queue's state from copied bytes (how `shmkit show` reads a queue without
    /// mapping it): `info` is the validated header, `control` a copy of the control block,
    /// `slots` a copy of the start of the data area (only the whole slots in it are
    /// scanned for holders; pass an empty slice to skip the scan). Any bytes decode;
    /// `None` only when `control` is shorter than the queue's control block
    /// (`CONTROL_LEN`, 320 bytes) or the kind is not a queue.
    pub fn from_bytes(info: &SegmentInfo, control: &[u8], slots: &[u8]) -> Option<QueueSnapshot> {
        if control.len() < CONTROL_LEN || !matches!(info.kind, Kind::Queue | Kind::JoinableQueue) {
            return None;
        }
        let u64_at = |off: usize| u64::from_ne_bytes(control[off..off + 8].try_into().unwrap());
        let u32_at = |off: usize| u32::from_ne_bytes(control[off..off + 4].try_into().unwrap());
        let cap = info.capacity.clamp(1, MAX_CAPACITY);
        let (head, tail) = (u64_at(64), u64_at(0));
        let stride = (info.params[0] as usize).max(8);
        let mut holders = [0u64; 4];
        for chunk in slots.chunks_exact(stride).take(cap as usize) {
            let stamp = u64::from_ne_bytes(chunk[..8].try_into().unwrap());
            if let Some(i) = ring::holder_class(stamp) {
                holders[i] += 1;
            }
        }
        Some(QueueSnapshot {
            kind: info.kind,
            capacity: info.capacity,
            len: ring::queue_len(head, tail, cap),
            head,
            tail,
            waiting_producers: u32_at(196),
            waiting_consumers: u32_at(132),
            closed: u32_at(256) != 0,
            writing: holders[0],
            reading: holders[1],
            dead_producer_slots: holders[2],
            dead_consumer_slots: holders[3],
            skipped_dead_producers: u64_at(280),
            dropped_dead_consumers: u64_at(288),
            unfinished: (info.kind == Kind::JoinableQueue).then(|| u64_at(272)),
        })
    }
}

/// The queue geometry recorded in the header's `params`:
/// `[slot stride, value offset in a slot, one_lap, 0]`; for a pooled queue (elements
/// of `ring::POOL_MIN_ELEM` bytes or more, docs/FORMAT.md) `[64, 8, one_lap, buffer
/// stride]`.
fn params_for(desc: &TypeDesc, capacity: u64) -> Option<[u64; 4]> {
    params_for_elem(desc.size, desc.align, capacity)
}

/// [`params_for`] from the element's size and alignment alone.
fn params_for_elem(size: usize, align: usize, capacity: u64) -> Option<[u64; 4]> {
    if size >= ring::POOL_MIN_ELEM {
        if capacity > ring::POOLED_MAX_CAPACITY {
            return None;
        }
        return Some([
            ring::POOLED_SLOT as u64,
            ring::POOLED_INDEX_OFFSET as u64,
            ring::one_lap(capacity),
            ring::pool_stride(size, align)? as u64,
        ]);
    }
    let stride = ring::slot_stride(size, align)?;
    Some([
        stride as u64,
        ring::value_offset(align) as u64,
        ring::one_lap(capacity),
        0,
    ])
}

pub(crate) fn spec<T: Shareable>(kind: Kind, capacity: usize) -> Result<Spec> {
    spec_of(kind, TypeDesc::of::<T>(), capacity)
}

/// The segment spec of a queue of `capacity` elements `desc`.
pub(crate) fn spec_of(kind: Kind, desc: TypeDesc, capacity: usize) -> Result<Spec> {
    let cap = capacity as u64;
    if cap == 0 || cap > MAX_CAPACITY {
        return Err(Error::InvalidArgument(format!(
            "a queue's capacity must be between 1 and {MAX_CAPACITY}, not {capacity}"
        )));
    }
    let too_large =
        || Error::InvalidArgument(format!("a queue of {capacity} {} is too large", desc.name));
    let params = params_for(&desc, cap).ok_or_else(too_large)?;
    let data_len = match pool_of(params, capacity, desc.align) {
        Some(g) => g.ok_or_else(too_large)?.data_len,
        None => capacity
            .checked_mul(params[0] as usize)
            .ok_or_else(too_large)?,
    };
    Ok(Spec {
        kind,
        elem: desc,
        capacity: cap,
        control_len: CONTROL_LEN,
        data_len,
        params,
    })
}

/// A pooled queue's pool geometry from its `params` (`None`: not pooled; `Some(None)`:
/// pooled, but the layout overflows).
fn pool_of(params: [u64; 4], cap: usize, align: usize) -> Option<Option<ring::PoolGeometry>> {
    let stride = params[3];
    (stride != 0).then(|| ring::pool_geometry(cap, align, usize::try_from(stride).ok()?))
}

/// Checks the queue geometry of an open segment. With `desc`, against that element
/// type; without, only for internal consistency (an untyped inspection).
fn check_geometry(seg: &Segment, desc: Option<&TypeDesc>, name: &str) -> Result<(u64, usize)> {
    geometry(seg.info(), desc).map_err(|reason| Error::corrupt(name, reason))
}

/// [`check_geometry`] on a header alone (also what `shmkit show` uses): the capacity
/// and the slot stride, or why the header's queue geometry does not hold together.
pub(crate) fn geometry(
    info: &SegmentInfo,
    desc: Option<&TypeDesc>,
) -> std::result::Result<(u64, usize), String> {
    let cap = info.capacity;
    if cap == 0 || cap > MAX_CAPACITY {
        return Err(format!(
            "queue capacity {cap} is not between 1 and {MAX_CAPACITY}"
        ));
    }
    let [stride, offset, lap, zero] = info.params;
    if zero != 0 {
        return pooled_geometry(info, desc);
    }
    let expected = match desc {
        Some(d) => params_for(d, cap),
        None => Some([stride, offset, ring::one_lap(cap), 0]),
    };
    let sane = stride % 8 == 0
        && offset >= 8
        && offset <= stride
        && info.elem_size <= stride - offset
        && info.elem_align != 0
        && stride % info.elem_align.max(8) == 0
        && offset % info.elem_align == 0;
    if expected != Some([stride, offset, lap, zero]) || !sane {
        return Err(format!(
            "queue parameters [stride {stride}, value offset {offset}, one_lap {lap}, {zero}] do not fit {} elements of {}",
            cap,
            info.type_display()
        ));
    }
    if cap.checked_mul(stride) != Some(info.layout.data_len) {
        return Err(format!(
            "{cap} slots of {stride} bytes do not fill the {}-byte data area",
            info.layout.data_len
        ));
    }
    Ok((cap, stride as usize))
}

/// [`geometry`] for a pooled queue (`params[3]`, the buffer stride, is not 0).
fn pooled_geometry(
    info: &SegmentInfo,
    desc: Option<&TypeDesc>,
) -> std::result::Result<(u64, usize), String> {
    let cap = info.capacity;
    let align = info.elem_align;
    // The header's own element (its alignment is a validated power of two) must give
    // these parameters, and so must `desc`'s: an element below the pooling size gives
    // a zero buffer stride, which these parameters do not have.
    let own = usize::try_from(info.elem_size)
        .ok()
        .zip(usize::try_from(align).ok())
        .and_then(|(size, align)| params_for_elem(size, align, cap));
    let expected = desc.map_or(own, |d| params_for(d, cap));
    if expected != Some(info.params) || own != Some(info.params) {
        let [stride, offset, lap, buffers] = info.params;
        return Err(format!(
            "pooled queue parameters [slot stride {stride}, index offset {offset}, one_lap {lap}, buffer stride {buffers}] do not fit {cap} elements of {}",
            info.type_display()
        ));
    }
    let g = pool_of(info.params, cap as usize, align as usize)
        .flatten()
        .ok_or_else(|| format!("a pool of {cap} buffers does not fit in memory"))?;
    if g.data_len as u64 != info.layout.data_len {
        return Err(format!(
            "{cap} slots and buffers of {} bytes do not fill the {}-byte data area",
            g.stride, info.layout.data_len
        ));
    }
    Ok((cap, ring::POOLED_SLOT))
}

/// The slots of the first `max` messages between `head` and `len` messages later,
/// oldest first, each with the stamp it shows when its message is published (for
/// `shmkit show`). Any `head` works (a corrupt index is moved to the next lap, as the
/// ring does); at most `min(len, max, cap)` entries.
pub(crate) fn queued_slots(head: u64, len: u64, cap: u64, max: usize) -> Vec<(u64, u64)> {
    let cap = cap.clamp(1, MAX_CAPACITY);
    let n = len.min(cap).min(max as u64) as usize;
    let mut out = Vec::with_capacity(n);
    let mut pos = ring::sane_position(head, cap);
    for _ in 0..n {
        out.push((ring::slot_index(pos, cap), ring::published_stamp(pos, cap)));
        pos = ring::next_position(pos, cap);
    }
    out
}

fn open_kind(
    name: &str,
    kind: Kind,
    elem: Option<TypeDesc>,
    opts: &SegmentOptions,
) -> Result<Segment> {
    segment::open_named(
        name,
        &Expect {
            kind,
            elem,
            control_len: Some(CONTROL_LEN),
        },
        opts,
    )
}

/// A validated queue segment's geometry: (data area, capacity, stride, value offset,
/// pool geometry of a pooled queue).
fn slot_geometry(seg: &Segment) -> (NonNull<u8>, usize, usize, usize, Option<ring::PoolGeometry>) {
    let info = seg.info();
    let base = NonNull::new(seg.data_ptr()).expect("mapping is not null");
    let cap = info.capacity as usize;
    (
        base,
        cap,
        info.params[0] as usize,
        info.params[1] as usize,
        pool_of(info.params, cap, info.elem_align as usize).flatten(),
    )
}

/// Builds the ring over a validated queue segment and its slots.
fn ring_with<S: Slots>(seg: &Segment, slots: S) -> Ring<S> {
    let cap = seg.info().capacity;
    let joinable = seg.info().kind == Kind::JoinableQueue;
    let ctl = NonNull::new(seg.control_ptr().cast::<Control>()).expect("mapping is not null");
    // SAFETY:
    // - the control block is CONTROL_LEN bytes at a 64-aligned offset of the mapping
    //   (validated control_len), and all its fields are atomics (or zero-sized); the
    //   mapping outlives the ring (both live in one handle, the ring dropped first).
    // - `slots` was built over this segment's `cap` slots; 1 <= cap <= 2^32 was
    //   validated.
    unsafe { Ring::new(ctl, slots, cap, joinable) }
}

/// Builds the typed ring over a validated queue segment.
fn ring_over<T: Shareable>(seg: &Segment) -> Ring<SegSlots<T>> {
    let (base, cap, stride, offset, pool) = slot_geometry(seg);
    // SAFETY:
    // - the geometry was validated (check_geometry): `cap * stride` bytes of data area,
    //   aligned to max(64, align_of T), stride and offset multiples of the alignment,
    //   the value fits in the slot; or, pooled, the pool's layout for `cap` buffers of
    //   T fills the data area.
    // - the segment's mapping outlives the ring: both live in the same Queue, and the
    //   ring is dropped first.
    let slots = unsafe { SegSlots::new(base, cap, stride, offset, pool) };
    ring_with(seg, slots)
}

/// Builds the byte-copying ring over a queue segment validated for elements `elem`.
fn byte_ring_over(seg: &Segment, elem: TypeDesc) -> Ring<ByteSlots> {
    let (base, cap, stride, offset, pool) = slot_geometry(seg);
    // SAFETY:
    // - the geometry was validated for `elem` (the segment was created from it, or
    //   check_geometry compared it with `elem`): `cap * stride` bytes of data area,
    //   aligned to max(64, elem.align), stride and offset multiples of the alignment,
    //   `offset + elem.size <= stride`; or, pooled, the pool's layout for `cap`
    //   buffers of `elem` fills the data area.
    // - the segment's mapping outlives the ring: both live in the same DynQueue, and
    //   the ring is dropped first.
    let slots = unsafe { ByteSlots::new(base, cap, stride, offset, elem.size, pool) };
    ring_with(seg, slots)
}

// ---- The front logic shared by Queue<T> and DynQueue -------------------------------

/// Why a call that moves several messages stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Closed,
    Timeout,
}

/// Puts every item in order, waiting for room (until `deadline`); on an early stop,
/// how many were put.
fn put_all<S: Slots, B: Batch<S::Item> + ?Sized>(
    ring: &Ring<S>,
    items: &B,
    spin: Duration,
    deadline: Option<Instant>,
) -> std::result::Result<(), (usize, Stop)> {
    let total = items.count();
    let mut done = 0;
    while done < total {
        let (n, last) = ring.try_put_many(items, done);
        done += n;
        match last {
            TryPut::Done => {}
            TryPut::Closed => return Err((done, Stop::Closed)),
            TryPut::Full(_) => match ring.put(items.at(done), spin, deadline) {
                Waited::Done(()) => done += 1,
                Waited::Closed => return Err((done, Stop::Closed)),
                Waited::Timeout => return Err((done, Stop::Timeout)),
            },
        }
    }
    Ok(())
}

/// Puts as many items as fit now; `Err` if the queue is closed and none was put.
fn put_now<S: Slots, B: Batch<S::Item> + ?Sized>(
    ring: &Ring<S>,
    items: &B,
) -> std::result::Result<usize, Stop> {
    match ring.try_put_many(items, 0) {
        (0, TryPut::Closed) => Err(Stop::Closed),
        (n, _) => Ok(n),
    }
}

/// A non-blocking get that tells an empty queue from a closed and drained one.
fn get_now<S: Slots>(ring: &Ring<S>, out: &mut S::Out) -> std::result::Result<(), GetError> {
    match ring.try_get(out) {
        TryGet::Done => Ok(()),
        TryGet::Empty(Some(_)) => Err(GetError::Empty),
        TryGet::Empty(None) => {
            if ring.is_closed() {
                match ring.try_get(out) {
                    TryGet::Done => Ok(()),
                    TryGet::Empty(Some(_)) => Err(GetError::Empty),
                    TryGet::Empty(None) => Err(GetError::Closed),
                }
            } else {
                Err(GetError::Empty)
            }
        }
    }
}

/// Waits (until `deadline`) for at least one message, then takes as many as are there,
/// up to the places in `out`.
fn get_some<S: Slots, B: BatchMut<S::Out> + ?Sized>(
    ring: &Ring<S>,
    out: &mut B,
    spin: Duration,
    deadline: Option<Instant>,
) -> std::result::Result<usize, Stop> {
    if out.count() == 0 {
        return Ok(0);
    }
    let n = ring.try_get_many(out, 0);
    if n > 0 {
        ring.note_behind();
        return Ok(n);
    }
    match ring.get(spin, deadline, out.at_mut(0)) {
        Waited::Done(()) => Ok(1 + ring.try_get_many(out, 1)),
        Waited::Closed => Err(Stop::Closed),
        Waited::Timeout => Err(Stop::Timeout),
    }
}

/// Takes as many messages as are there now, without waiting.
fn get_many_now<S: Slots, B: BatchMut<S::Out> + ?Sized>(
    ring: &Ring<S>,
    out: &mut B,
) -> std::result::Result<usize, GetError> {
    if out.count() == 0 {
        return Ok(0);
    }
    match ring.try_get_many(out, 0) {
        0 => get_now(ring, out.at_mut(0)).map(|()| 1),
        n => Ok(n),
    }
}

/// A bounded FIFO queue of `T` shared between processes. See the [module
/// docs](self) for the crash contract.
///
/// Elements of 64 KiB or more live in a pool of buffers behind the ring (a *pooled*
/// queue, docs/FORMAT.md): a put takes the buffer its handle wrote last when the
/// consumer has handed it back (waiting a few microseconds for that when its message
/// is the only other one queued), so a consumer that keeps up gets every message
/// through one buffer that stays in the producer's cache. Nothing changes in the API.
///
/// Handles are `Send + Sync`: threads of one process may share one handle. The
/// creating handle removes the name when dropped (unless made persistent through
/// [`segment_mut`](Self::segment_mut)); processes that opened it keep working.
pub struct Queue<T: Shareable> {
    ring: Ring<SegSlots<T>>,
    seg: Segment,
    policy: WaitPolicy,
}

impl<T: Shareable> Queue<T> {
    /// Creates the queue `name` holding up to `capacity` messages.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] if `capacity` is 0, above
    /// [`MAX_CAPACITY`], or too large for memory.
    pub fn create(name: &str, capacity: usize) -> Result<Self> {
        Self::create_with(name, capacity, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options (permissions, persistence).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, capacity: usize, opts: &SegmentOptions) -> Result<Self> {
        Self::create_kind(name, capacity, opts, Kind::Queue)
    }

    pub(crate) fn create_kind(
        name: &str,
        capacity: usize,
        opts: &SegmentOptions,
        kind: Kind,
    ) -> Result<Self> {
        // A zero-filled segment is an empty queue: every stamp says "empty, lap 0".
        let seg = segment::create_named(name, spec::<T>(kind, capacity)?, opts, |_| Ok(()))?;
        Ok(Self::wrap(seg))
    }

    /// Opens the queue `name`.
    ///
    /// # Errors
    /// As [`Segment::open`], plus [`Error::KindMismatch`], [`Error::TypeMismatch`]
    /// naming both types, and [`Error::Corrupt`] if the queue's geometry does not fit.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options (the open timeout).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        Self::open_kind(name, opts, Kind::Queue)
    }

    pub(crate) fn open_kind(name: &str, opts: &SegmentOptions, kind: Kind) -> Result<Self> {
        let seg = open_kind(name, kind, Some(TypeDesc::of::<T>()), opts)?;
        check_geometry(&seg, Some(&TypeDesc::of::<T>()), name)?;
        Ok(Self::wrap(seg))
    }

    /// Opens `name`, creating it with `capacity` if it does not exist. An existing
    /// queue keeps its own capacity.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, capacity: usize) -> Result<Self> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, capacity),
            || Self::open(name),
        )
    }

    /// An unnamed queue shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`], and as [`create`](Self::create) for the capacity.
    pub fn anonymous(capacity: usize) -> Result<Self> {
        let seg = segment::create_anonymous(spec::<T>(Kind::Queue, capacity)?, |_| Ok(()))?;
        Ok(Self::wrap(seg))
    }

    fn wrap(seg: Segment) -> Self {
        Queue {
            ring: ring_over::<T>(&seg),
            seg,
            policy: WaitPolicy::default(),
        }
    }

    /// This handle's wait policy.
    pub fn wait_policy(&self) -> WaitPolicy {
        self.policy
    }

    /// Sets how this handle waits when it must (see [`WaitPolicy`]).
    pub fn set_wait_policy(&mut self, policy: WaitPolicy) {
        self.policy = policy;
    }

    /// [`set_wait_policy`](Self::set_wait_policy), builder style.
    pub fn with_wait_policy(mut self, policy: WaitPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn deadline(timeout: Duration) -> Option<Instant> {
        // A timeout too large to represent waits forever.
        Instant::now().checked_add(timeout)
    }

    /// Puts `value`, waiting while the queue is full.
    ///
    /// # Errors
    /// [`PutError::Closed`] with the value if the queue is (or gets) closed.
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        match self.ring.put(&value, self.policy.spin, None) {
            Waited::Done(()) => Ok(()),
            Waited::Closed => Err(PutError::Closed(value)),
            Waited::Timeout => unreachable!("no deadline"),
        }
    }

    /// Puts `value`, waiting at most `timeout` while the queue is full.
    ///
    /// # Errors
    /// [`PutError::Timeout`] after at least `timeout`, or [`PutError::Closed`]; both
    /// hand the value back.
    pub fn put_timeout(&self, value: T, timeout: Duration) -> Result<(), PutError<T>> {
        let deadline = Self::deadline(timeout);
        match self.ring.put(&value, self.policy.spin, deadline) {
            Waited::Done(()) => Ok(()),
            Waited::Closed => Err(PutError::Closed(value)),
            Waited::Timeout => Err(PutError::Timeout(value, timeout)),
        }
    }

    /// Puts `value` if there is room now (Python's `put_nowait`).
    ///
    /// # Errors
    /// [`PutError::Full`] or [`PutError::Closed`], with the value.
    pub fn try_put(&self, value: T) -> Result<(), PutError<T>> {
        match self.ring.try_put(&value) {
            TryPut::Done => Ok(()),
            TryPut::Full(_) => Err(PutError::Full(value)),
            TryPut::Closed => Err(PutError::Closed(value)),
        }
    }

    /// Puts every item of `items` in order, waiting for room as needed, waking
    /// consumers once per batch rather than once per message.
    ///
    /// # Errors
    /// [`PutError::Closed`]`(n)` if the queue is (or gets) closed: the first `n` items
    /// were put, the rest were not.
    pub fn put_many(&self, items: &[T]) -> Result<(), PutError<usize>> {
        put_all(&self.ring, items, self.policy.spin, None).map_err(|(n, _)| PutError::Closed(n))
    }

    /// Puts as many of `items` as fit now, in order, without waiting; returns how many.
    ///
    /// # Errors
    /// [`PutError::Closed`]`(0)` if the queue is closed.
    pub fn try_put_many(&self, items: &[T]) -> Result<usize, PutError<usize>> {
        put_now(&self.ring, items).map_err(|_| PutError::Closed(0))
    }

    /// Takes the oldest message, waiting while the queue is empty.
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained.
    pub fn get(&self) -> Result<T, GetError> {
        let mut v = T::new_zeroed();
        match self.ring.get(self.policy.spin, None, &mut v) {
            Waited::Done(()) => Ok(v),
            Waited::Closed => Err(GetError::Closed),
            Waited::Timeout => unreachable!("no deadline"),
        }
    }

    /// Takes the oldest message, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`GetError::Timeout`] after at least `timeout`, or [`GetError::Closed`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        let mut v = T::new_zeroed();
        match self
            .ring
            .get(self.policy.spin, Self::deadline(timeout), &mut v)
        {
            Waited::Done(()) => Ok(v),
            Waited::Closed => Err(GetError::Closed),
            Waited::Timeout => Err(GetError::Timeout(timeout)),
        }
    }

    /// Takes the oldest message if one is there now (Python's `get_nowait`).
    ///
    /// # Errors
    /// [`GetError::Empty`], or [`GetError::Closed`] if closed and drained.
    pub fn try_get(&self) -> Result<T, GetError> {
        let mut v = T::new_zeroed();
        get_now(&self.ring, &mut v).map(|()| v)
    }

    /// Waits for at least one message, then takes as many as are there, up to
    /// `out.len()`, into `out`; returns how many (at least 1 unless `out` is empty).
    ///
    /// # Errors
    /// [`GetError::Closed`] once the queue is closed and drained.
    pub fn get_many(&self, out: &mut [T]) -> Result<usize, GetError> {
        get_some(&self.ring, out, self.policy.spin, None).map_err(|_| GetError::Closed)
    }

    /// [`get_many`](Self::get_many), waiting at most `timeout` for the first message.
    ///
    /// # Errors
    /// [`GetError::Timeout`] or [`GetError::Closed`].
    pub fn get_many_timeout(&self, out: &mut [T], timeout: Duration) -> Result<usize, GetError> {
        get_some(&self.ring, out, self.policy.spin, Self::deadline(timeout)).map_err(|e| match e {
            Stop::Closed => GetError::Closed,
            Stop::Timeout => GetError::Timeout(timeout),
        })
    }

    /// Takes as many messages as are there now, up to `out.len()`, without waiting.
    ///
    /// # Errors
    /// [`GetError::Empty`] if there were none, [`GetError::Closed`] if closed and
    /// drained.
    pub fn try_get_many(&self, out: &mut [T]) -> Result<usize, GetError> {
        get_many_now(&self.ring, out)
    }

    /// Messages in the queue now (Python's `qsize`), counting slots being written or
    /// read; approximate while other processes work.
    pub fn len(&self) -> usize {
        self.ring.len() as usize
    }

    /// Whether the queue looks empty now.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// Whether the queue looks full now.
    pub fn is_full(&self) -> bool {
        self.ring.len() >= self.ring.capacity()
    }

    /// How many messages fit.
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Closes the queue for every process: puts fail with `Closed` from now on (a put
    /// racing with the close may still land, and is then delivered); gets drain what is
    /// left, then report `Closed`. Every sleeper is woken. Closing is permanent.
    pub fn close(&self) {
        self.ring.close();
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// The queue's state, for display and monitoring (walks every slot: O(capacity)).
    pub fn snapshot(&self) -> QueueSnapshot {
        snapshot_of(&self.ring, self.seg.info().kind)
    }

    /// The segment behind this queue.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }

    /// Test hook for crash tests: claims the next slot as a put (or, with
    /// `as_consumer`, as a get) would, and leaves it claimed, as a process killed in
    /// the middle of copying would. Returns whether a slot was claimed.
    #[doc(hidden)]
    pub fn abandon_claim_for_tests(&self, as_consumer: bool) -> bool {
        self.ring.claim_and_abandon(as_consumer)
    }

    pub(crate) fn ring(&self) -> &Ring<SegSlots<T>> {
        &self.ring
    }
}

impl<T: Shareable> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.seg.name())
            .field("type", &T::TYPE_NAME)
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

fn snapshot_of<S: ring::Slots>(ring: &Ring<S>, kind: Kind) -> QueueSnapshot {
    let ctl = ring.ctl();
    let (head, tail) = ring.positions();
    let [writing, reading, dead_producer_slots, dead_consumer_slots] = ring.scan_holders();
    use std::sync::atomic::Ordering::Relaxed;
    QueueSnapshot {
        kind,
        capacity: ring.capacity(),
        len: ring.len(),
        head,
        tail,
        waiting_producers: ctl.producers_waiting.load(Relaxed),
        waiting_consumers: ctl.consumers_waiting.load(Relaxed),
        closed: ring.is_closed(),
        writing,
        reading,
        dead_producer_slots,
        dead_consumer_slots,
        skipped_dead_producers: ctl.skipped_dead_producers.load(Relaxed),
        dropped_dead_consumers: ctl.dropped_dead_consumers.load(Relaxed),
        unfinished: ring.joinable().then(|| ring.unfinished()),
    }
}

/// Reads the state of the queue `name` without knowing its element type (for the
/// `shmkit show` command): any queue or joinable queue, validated like an open.
///
/// # Errors
/// As [`Queue::open`], except that any element type is accepted; a segment that is
/// not a queue gives [`Error::KindMismatch`].
pub fn snapshot(name: &str) -> Result<QueueSnapshot> {
    let opts = SegmentOptions::default();
    let seg = match open_kind(name, Kind::Queue, None, &opts) {
        Err(Error::KindMismatch { .. }) => open_kind(name, Kind::JoinableQueue, None, &opts)
            .map_err(|e| match e {
                Error::KindMismatch { found, .. } => Error::KindMismatch {
                    expected: "queue or joinable-queue".into(),
                    found,
                },
                other => other,
            })?,
        other => other?,
    };
    check_geometry(&seg, None, name)?;
    // The ring never reads or writes a value here (snapshot only), so any element type
    // with the segment's alignment would do; u8 keeps the geometry checks trivial.
    let ring = ring_over::<u8>(&seg);
    Ok(snapshot_of(&ring, seg.info().kind))
}
