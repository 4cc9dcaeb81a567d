//! [`MessageQueue`]: a bounded queue of byte messages of any length up to a maximum set
//! at creation, in a byte ring in one segment, with a serde layer (postcard) on top:
//! Python's `multiprocessing.Queue` of pickled objects.
//!
//! ## Design
//! The ring is a byte array of `ring_len` bytes (a multiple of 8). A message is a
//! *record*: an 8-byte native-endian length, then the payload, padded with unspecified
//! bytes to a multiple of 8. Records follow one another and wrap around the end of the
//! ring byte by byte. Two positions count bytes since creation: `head` (the first byte
//! of the oldest record) and `tail` (one past the newest); `tail - head` is the bytes in
//! use. Every access to the ring happens under the segment's robust mutex ([`RawMutex`]);
//! waiting happens outside it, on two futex words (`not_empty`, `not_full`) with waiter
//! counts, so a put or get only enters the kernel to wake someone when a waiter is
//! recorded, and sleeps are sliced so a wake-up lost to a crash costs latency only.
//!
//! ## Crash contract
//! Writes are ordered so that the committed state is always `head` and `tail`:
//! - a put copies its record into free space (beyond `tail`, which nobody reads), then
//!   publishes it with one store of `tail`, then bumps the message count;
//! - a get copies the record out, then releases it with one store of `head`, then
//!   lowers the count.
//!
//! A process killed at any instant while holding the lock therefore leaves `head` and
//! `tail` naming whole records. The next locker is told by the kernel (owner died); it
//! walks the records from `head` to `tail`, recounts them, and carries on. So a producer
//! killed inside `put` either published its message (it is delivered, although its `put`
//! never returned) or did not (nothing changed). A consumer killed inside `get` before it
//! stored `head` leaves the message in the queue for another consumer; **a consumer
//! killed after storing `head`, before its `get` returned, loses that one message** (and,
//! as always, a message a consumer received but had not processed is gone with it).
//! Every message whose `put` returned `Ok` is otherwise delivered exactly once.
//!
//! ## Untrusted memory
//! `head`, `tail` and every record length are checked against the ring (and the maximum
//! message length recorded in the process's own copy of the header) before use; a walk
//! is bounded by the ring's length. Bytes that do not hold together give
//! [`Error::Corrupt`], never an out-of-bounds access or an endless loop.

use std::fmt;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64, fence};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WaitPolicy;
use super::primitive::{SpinMemory, Spinner};
use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentInfo, SegmentOptions, Spec};
use crate::sync::{LockError, RawMutex, RawMutexGuard, init_mutex_in};
use crate::sys;
use crate::types::TypeDesc;

/// The length of a message queue's control block in bytes (docs/FORMAT.md).
pub const MESSAGE_QUEUE_CONTROL_LEN: usize = 320;
/// The bytes of a record's length header.
pub const RECORD_HEADER_LEN: usize = 8;
/// The largest `capacity_bytes` (and so `max_message`) a message queue accepts.
pub const MAX_RING_BYTES: usize = 1 << 40;

/// The message queue's and the pipe's spinning waiters yield their CPU every this many
/// turns, unless their peer shares their CPU (see `primitive::Spinner`).
pub(super) const SPIN_YIELD_EVERY: u32 = 1024;

/// The longest single futex sleep: a wake-up lost to a crash costs at most this much.
const SLICE: Duration = Duration::from_millis(100);

/// The control block (docs/FORMAT.md lists it byte by byte).
#[repr(C, align(64))]
struct Control {
    /// 0: the robust lock over the ring and the positions.
    lock: RawMutex,
    /// 128: position of the oldest record (bytes consumed since creation).
    head: AtomicU64,
    /// 136: position one past the newest record (bytes produced since creation).
    tail: AtomicU64,
    /// 144: records in the ring (recounted after a crash).
    count: AtomicU64,
    /// 152: 1 once closed.
    closed: AtomicU32,
    _reserved0: u32,
    /// 160: messages put since creation.
    puts: AtomicU64,
    /// 168: messages taken since creation.
    gets: AtomicU64,
    /// 176: repairs made after a lock holder died.
    repairs: AtomicU64,
    _reserved1: u64,
    /// 192: futex word bumped after every put (consumers sleep on it).
    not_empty: AtomicU32,
    /// 196: consumers registered as sleeping.
    consumers_waiting: AtomicU32,
    _pad0: [u32; 14],
    /// 256: futex word bumped after every get (producers sleep on it).
    not_full: AtomicU32,
    /// 260: producers registered as sleeping.
    producers_waiting: AtomicU32,
    _pad1: [u32; 14],
}

const _: () = assert!(std::mem::size_of::<Control>() == MESSAGE_QUEUE_CONTROL_LEN);
const _: () = {
    assert!(std::mem::offset_of!(Control, head) == 128);
    assert!(std::mem::offset_of!(Control, closed) == 152);
    assert!(std::mem::offset_of!(Control, repairs) == 176);
    assert!(std::mem::offset_of!(Control, not_empty) == 192);
    assert!(std::mem::offset_of!(Control, not_full) == 256);
};

/// Bytes a record of a `len`-byte message takes in the ring.
fn record_len(len: u64) -> Option<u64> {
    len.checked_add(7)
        .map(|l| l & !7)
        .and_then(|l| l.checked_add(RECORD_HEADER_LEN as u64))
}

/// `[ring length, max message, record header length, 0]`.
fn params(ring_len: u64, max_message: u64) -> [u64; 4] {
    [ring_len, max_message, RECORD_HEADER_LEN as u64, 0]
}

/// The ring length for a requested capacity: rounded up to 8, plus one record header,
/// so that a message of `max_message <= capacity_bytes` always fits in an empty ring.
fn spec(capacity_bytes: usize, max_message: usize) -> Result<Spec> {
    if capacity_bytes == 0 || capacity_bytes > MAX_RING_BYTES {
        return Err(Error::InvalidArgument(format!(
            "a message queue's capacity_bytes must be between 1 and {MAX_RING_BYTES}, not {capacity_bytes}"
        )));
    }
    if max_message > capacity_bytes {
        return Err(Error::InvalidArgument(format!(
            "a message queue of capacity_bytes {capacity_bytes} cannot hold one message of max_message {max_message} bytes"
        )));
    }
    let ring_len = (capacity_bytes as u64).div_ceil(8) * 8 + RECORD_HEADER_LEN as u64;
    Ok(Spec {
        kind: Kind::MessageQueue,
        elem: TypeDesc::NONE,
        capacity: ring_len,
        control_len: MESSAGE_QUEUE_CONTROL_LEN,
        data_len: ring_len as usize,
        params: params(ring_len, max_message as u64),
    })
}

/// Checks a message queue header's geometry: returns `(ring_len, max_message)`.
pub(crate) fn geometry(info: &SegmentInfo) -> std::result::Result<(u64, u64), String> {
    let [ring_len, max, header, zero] = info.params;
    let ok = ring_len == info.capacity
        && ring_len == info.layout.data_len
        && ring_len % 8 == 0
        && ring_len > RECORD_HEADER_LEN as u64
        && ring_len <= MAX_RING_BYTES as u64 + 16
        && record_len(max).is_some_and(|r| r <= ring_len)
        && header == RECORD_HEADER_LEN as u64
        && zero == 0
        && info.layout.control_len == MESSAGE_QUEUE_CONTROL_LEN as u64;
    if ok {
        Ok((ring_len, max))
    } else {
        Err(format!(
            "message queue parameters [ring {ring_len}, max message {max}, header {header}, {zero}] do not fit capacity {} and a {}-byte data area",
            info.capacity, info.layout.data_len
        ))
    }
}

/// A bounded FIFO of byte messages (and serde values) shared between processes. See
/// the [module docs](self) for the design and the crash contract.
///
/// Messages keep their boundaries; empty messages are delivered. Each message takes
/// 8 bytes plus its length rounded up to 8 in the ring.
///
/// ```
/// # let name = format!("doc-mq-{}", std::process::id());
/// use shmkit::MessageQueue;
///
/// let q = MessageQueue::create(&name, 4096, 1024)?;
/// // Another process: MessageQueue::open(&name)?
/// q.put_bytes(b"hello")?;
/// q.put_bytes(b"")?;
/// q.put(&("answer", 42u32))?;
/// assert_eq!(q.len(), 3);
/// assert_eq!(q.get_bytes()?, b"hello");
/// assert_eq!(q.get_bytes()?, b"");
/// assert_eq!(q.get::<(String, u32)>()?, ("answer".to_string(), 42));
/// assert!(matches!(q.try_get_bytes(), Err(shmkit::Error::WouldBlock)));
/// q.close();
/// assert!(matches!(q.put_bytes(b"late"), Err(shmkit::Error::Closed)));
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// Handles are `Send + Sync`. The creating handle removes the name when dropped (unless
/// made persistent through [`segment_mut`](Self::segment_mut)).
pub struct MessageQueue {
    seg: Segment,
    ring_len: u64,
    max_message: u64,
    policy: WaitPolicy,
    /// How this handle's last spinning wait ended (see `primitive::Spinner`).
    spin_memory: SpinMemory,
}

/// What a locked attempt found.
enum Attempt<T> {
    Done(T),
    /// Not possible now (full, or empty and not closed): wait and retry.
    Blocked,
}

/// The futex words a waiter can sleep on.
#[derive(Clone, Copy)]
enum Word {
    NotEmpty,
    NotFull,
}

impl MessageQueue {
    /// Creates the message queue `name`: a ring of about `capacity_bytes` bytes for
    /// messages of up to `max_message` bytes.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] if `capacity_bytes` is 0 or
    /// above [`MAX_RING_BYTES`], or smaller than `max_message`.
    pub fn create(name: &str, capacity_bytes: usize, max_message: usize) -> Result<Self> {
        Self::create_with(
            name,
            capacity_bytes,
            max_message,
            &SegmentOptions::default(),
        )
    }

    /// [`create`](Self::create) with options (permissions, persistence).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(
        name: &str,
        capacity_bytes: usize,
        max_message: usize,
        opts: &SegmentOptions,
    ) -> Result<Self> {
        let seg = segment::create_named(name, spec(capacity_bytes, max_message)?, opts, |s| {
            init_mutex_in(s)
        })?;
        Self::wrap(seg, name)
    }

    /// Opens the message queue `name`.
    ///
    /// # Errors
    /// As [`Segment::open`], plus [`Error::KindMismatch`] and [`Error::Corrupt`] if the
    /// queue's geometry does not hold together.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options (the open timeout).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        let seg = open_segment(name, opts)?;
        Self::wrap(seg, name)
    }

    /// Opens `name`, creating it if it does not exist. An existing queue keeps its own
    /// capacity and maximum message size.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, capacity_bytes: usize, max_message: usize) -> Result<Self> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, capacity_bytes, max_message),
            || Self::open(name),
        )
    }

    /// An unnamed queue shared with children forked after this call.
    ///
    /// # Errors
    /// As [`Segment::anonymous`], and as [`create`](Self::create) for the sizes.
    pub fn anonymous(capacity_bytes: usize, max_message: usize) -> Result<Self> {
        let seg = segment::create_anonymous(spec(capacity_bytes, max_message)?, init_mutex_in)?;
        Self::wrap(seg, "<anonymous>")
    }

    fn wrap(seg: Segment, name: &str) -> Result<Self> {
        let (ring_len, max_message) =
            geometry(seg.info()).map_err(|reason| Error::corrupt(name, reason))?;
        Ok(MessageQueue {
            seg,
            ring_len,
            max_message,
            policy: WaitPolicy::default(),
            spin_memory: SpinMemory::default(),
        })
    }

    fn ctl(&self) -> &Control {
        // SAFETY:
        // - the segment's control block is MESSAGE_QUEUE_CONTROL_LEN bytes (checked on
        //   open by `Expect` and `geometry`), 64-byte aligned (Layout), and lives as
        //   long as `self.seg`.
        // - every field is an atomic or the RawMutex (atomics and the pthread API), so
        //   shared access from many processes is sound whatever the bytes are.
        unsafe { &*self.seg.control_ptr().cast::<Control>() }
    }

    fn name(&self) -> &str {
        self.seg.name().unwrap_or("<anonymous>")
    }

    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.name(), reason)
    }

    /// The ring's size in bytes: `capacity_bytes` as requested at creation, rounded up
    /// to 8, plus 8 (room for one record header).
    pub fn capacity_bytes(&self) -> usize {
        self.ring_len as usize
    }

    /// The largest message accepted, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message as usize
    }

    /// Messages in the queue now (approximate while others work).
    pub fn len(&self) -> usize {
        let count = self.ctl().count.load(Acquire);
        count.min(self.ring_len / RECORD_HEADER_LEN as u64) as usize
    }

    /// Whether the queue looks empty now.
    pub fn is_empty(&self) -> bool {
        self.bytes_used() == 0
    }

    /// Bytes of the ring in use now, record headers and padding included.
    pub fn bytes_used(&self) -> usize {
        let c = self.ctl();
        let (head, tail) = (c.head.load(Acquire), c.tail.load(Acquire));
        tail.wrapping_sub(head).min(self.ring_len) as usize
    }

    /// Closes the queue for every process: puts fail with [`Error::Closed`] from now on
    /// (a put racing with the close may still land, and is then delivered); gets drain
    /// what is left, then report `Closed`. Every sleeper is woken. Closing is permanent.
    pub fn close(&self) {
        let c = self.ctl();
        c.closed.store(1, SeqCst);
        for w in [Word::NotEmpty, Word::NotFull] {
            self.notify(w, u32::MAX);
        }
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        self.ctl().closed.load(Acquire) != 0
    }

    /// Sets how this handle waits when it must (see [`WaitPolicy`]).
    pub fn set_wait_policy(&mut self, p: WaitPolicy) {
        self.policy = p;
    }

    /// This handle's wait policy.
    pub fn wait_policy(&self) -> WaitPolicy {
        self.policy
    }

    /// The segment behind this queue.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.seg
    }

    /// The queue's state, for display and monitoring (read without the lock).
    pub fn snapshot(&self) -> MessageQueueSnapshot {
        let c = self.ctl();
        MessageQueueSnapshot {
            capacity_bytes: self.ring_len,
            max_message: self.max_message,
            len: self.len() as u64,
            bytes_used: self.bytes_used() as u64,
            head: c.head.load(Relaxed),
            tail: c.tail.load(Relaxed),
            closed: self.is_closed(),
            waiting_producers: c.producers_waiting.load(Relaxed),
            waiting_consumers: c.consumers_waiting.load(Relaxed),
            puts: c.puts.load(Relaxed),
            gets: c.gets.load(Relaxed),
            repairs: c.repairs.load(Relaxed),
            lock_holder: c.lock.snapshot().owner_pid,
        }
    }

    // ----- bytes -----

    /// Puts `msg`, waiting while the queue has no room for it.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `msg` is longer than [`max_message`](Self::max_message),
    /// [`Error::Closed`] if the queue is (or gets) closed, [`Error::Corrupt`] if the
    /// segment's bytes do not hold together.
    pub fn put_bytes(&self, msg: &[u8]) -> Result<()> {
        self.put_inner(msg, None, true)
    }

    /// Puts `msg`, waiting at most `t` for room.
    ///
    /// # Errors
    /// [`Error::Timeout`] after at least `t`; otherwise as [`put_bytes`](Self::put_bytes).
    pub fn put_bytes_timeout(&self, msg: &[u8], t: Duration) -> Result<()> {
        self.put_inner(msg, Some(t), true)
    }

    /// Puts `msg` if there is room now (Python's `put_nowait`).
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when the queue has no room; otherwise as
    /// [`put_bytes`](Self::put_bytes).
    pub fn try_put_bytes(&self, msg: &[u8]) -> Result<()> {
        self.put_inner(msg, None, false)
    }

    /// Takes the oldest message, waiting while the queue is empty.
    ///
    /// # Errors
    /// [`Error::Closed`] once the queue is closed and drained; [`Error::Corrupt`].
    pub fn get_bytes(&self) -> Result<Vec<u8>> {
        self.get_inner(None, true, &mut Sink::Vec)
            .map(|r| r.expect_vec())
    }

    /// Takes the oldest message, waiting at most `t`.
    ///
    /// # Errors
    /// [`Error::Timeout`] after at least `t`; otherwise as [`get_bytes`](Self::get_bytes).
    pub fn get_bytes_timeout(&self, t: Duration) -> Result<Vec<u8>> {
        self.get_inner(Some(t), true, &mut Sink::Vec)
            .map(|r| r.expect_vec())
    }

    /// Takes the oldest message if there is one now (Python's `get_nowait`).
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when the queue is empty; otherwise as
    /// [`get_bytes`](Self::get_bytes).
    pub fn try_get_bytes(&self) -> Result<Vec<u8>> {
        self.get_inner(None, false, &mut Sink::Vec)
            .map(|r| r.expect_vec())
    }

    /// Takes the oldest message into `buf`, waiting while the queue is empty; returns its
    /// length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] (with the size needed) when the message does not fit:
    /// the message is **not** consumed. Otherwise as [`get_bytes`](Self::get_bytes).
    pub fn get_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.get_inner(None, true, &mut Sink::Buf(buf))
            .map(|r| r.expect_len())
    }

    /// [`get_bytes_into`](Self::get_bytes_into), waiting at most `t`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; otherwise as [`get_bytes_into`](Self::get_bytes_into).
    pub fn get_bytes_into_timeout(&self, buf: &mut [u8], t: Duration) -> Result<usize> {
        self.get_inner(Some(t), true, &mut Sink::Buf(buf))
            .map(|r| r.expect_len())
    }

    /// [`get_bytes_into`](Self::get_bytes_into) without waiting.
    ///
    /// # Errors
    /// [`Error::WouldBlock`] when empty; otherwise as
    /// [`get_bytes_into`](Self::get_bytes_into).
    pub fn try_get_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.get_inner(None, false, &mut Sink::Buf(buf))
            .map(|r| r.expect_len())
    }

    // ----- serde -----

    /// Serializes `v` with postcard and puts it, waiting for room.
    ///
    /// # Errors
    /// [`Error::Codec`] if `v` cannot be serialized; otherwise as
    /// [`put_bytes`](Self::put_bytes).
    pub fn put<T: Serialize + ?Sized>(&self, v: &T) -> Result<()> {
        self.put_bytes(&encode(v)?)
    }

    /// [`put`](Self::put), waiting at most `t`.
    ///
    /// # Errors
    /// As [`put`](Self::put) and [`put_bytes_timeout`](Self::put_bytes_timeout).
    pub fn put_timeout<T: Serialize + ?Sized>(&self, v: &T, t: Duration) -> Result<()> {
        self.put_bytes_timeout(&encode(v)?, t)
    }

    /// [`put`](Self::put) without waiting.
    ///
    /// # Errors
    /// As [`put`](Self::put) and [`try_put_bytes`](Self::try_put_bytes).
    pub fn try_put<T: Serialize + ?Sized>(&self, v: &T) -> Result<()> {
        self.try_put_bytes(&encode(v)?)
    }

    /// Takes the oldest message and deserializes it with postcard, waiting while empty.
    ///
    /// # Errors
    /// [`Error::Codec`] if the message is not a `T` (the message is consumed);
    /// otherwise as [`get_bytes`](Self::get_bytes).
    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        decode(&self.get_bytes()?)
    }

    /// [`get`](Self::get), waiting at most `t`.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`get_bytes_timeout`](Self::get_bytes_timeout).
    pub fn get_timeout<T: DeserializeOwned>(&self, t: Duration) -> Result<T> {
        decode(&self.get_bytes_timeout(t)?)
    }

    /// [`get`](Self::get) without waiting.
    ///
    /// # Errors
    /// As [`get`](Self::get) and [`try_get_bytes`](Self::try_get_bytes).
    pub fn try_get<T: DeserializeOwned>(&self) -> Result<T> {
        decode(&self.try_get_bytes()?)
    }

    // ----- the machinery -----

    fn put_inner(&self, msg: &[u8], timeout: Option<Duration>, block: bool) -> Result<()> {
        if msg.len() as u64 > self.max_message {
            return Err(Error::TooLarge {
                size: msg.len(),
                max: self.max_message as usize,
            });
        }
        let need = record_len(msg.len() as u64).expect("bounded by max_message");
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.wait_loop(Word::NotFull, timeout, deadline, block, need, |guard| {
            let _g = guard;
            self.put_locked(msg, need)
        })?;
        self.notify(Word::NotEmpty, 1);
        Ok(())
    }

    fn get_inner(
        &self,
        timeout: Option<Duration>,
        block: bool,
        sink: &mut Sink<'_>,
    ) -> Result<Got> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let got = self.wait_loop(Word::NotEmpty, timeout, deadline, block, 0, |guard| {
            let _g = guard;
            self.get_locked(sink)
        })?;
        self.notify(Word::NotFull, u32::MAX);
        Ok(got)
    }

    /// Locks the ring, repairing it first if the previous holder died.
    fn lock(
        &self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<RawMutexGuard<'_>> {
        let m = &self.ctl().lock;
        let r = match deadline {
            None => m.lock(),
            Some(d) => m.lock_timeout(d.saturating_duration_since(Instant::now())),
        };
        match r {
            Ok(g) => Ok(g),
            Err(LockError::OwnerDied(died)) => {
                // The flag stays set (the guard is dropped unrecovered) if repair fails,
                // so the next locker tries again.
                self.repair()?;
                Ok(died.recover())
            }
            Err(LockError::Failed(Error::Timeout(_))) => {
                Err(Error::Timeout(timeout.unwrap_or_default()))
            }
            Err(LockError::Failed(e)) => Err(e),
        }
    }

    /// The committed positions, checked: `(head, tail)`.
    fn positions(&self) -> Result<(u64, u64)> {
        let c = self.ctl();
        let (head, tail) = (c.head.load(Acquire), c.tail.load(Acquire));
        let used = tail.wrapping_sub(head);
        if head % 8 != 0 || tail % 8 != 0 || used > self.ring_len {
            return Err(self.corrupt(format!(
                "positions head {head} and tail {tail} do not fit a {}-byte ring",
                self.ring_len
            )));
        }
        Ok((head, tail))
    }

    /// The length of the record at `pos`, checked against the maximum and `avail`
    /// bytes that are committed from `pos` on.
    fn record_at(&self, pos: u64, avail: u64) -> Result<(u64, u64)> {
        let mut len = [0u8; RECORD_HEADER_LEN];
        self.read_ring(pos, &mut len);
        let len = u64::from_ne_bytes(len);
        match record_len(len) {
            Some(rec) if len <= self.max_message && rec <= avail => Ok((len, rec)),
            _ => Err(self.corrupt(format!(
                "record at position {pos} claims {len} bytes (max message {}, {avail} bytes committed)",
                self.max_message
            ))),
        }
    }

    /// Recounts the records after a lock holder died (see the module docs). Called with
    /// the lock held.
    fn repair(&self) -> Result<()> {
        let (head, tail) = self.positions()?;
        let mut pos = head;
        let mut n = 0u64;
        // Each record is at least 8 bytes, so this ends within ring_len / 8 steps.
        while pos != tail {
            let (_, rec) = self.record_at(pos, tail.wrapping_sub(pos))?;
            pos = pos.wrapping_add(rec);
            n += 1;
        }
        let c = self.ctl();
        c.count.store(n, Release);
        c.repairs.fetch_add(1, Relaxed);
        Ok(())
    }

    fn put_locked(&self, msg: &[u8], need: u64) -> Result<Attempt<()>> {
        let c = self.ctl();
        if c.closed.load(Acquire) != 0 {
            return Err(Error::Closed);
        }
        let (head, tail) = self.positions()?;
        if self.ring_len - tail.wrapping_sub(head) < need {
            return Ok(Attempt::Blocked);
        }
        // Into free space first: nobody reads beyond `tail`, so a crash here changes
        // nothing committed.
        self.write_ring(tail, &(msg.len() as u64).to_ne_bytes());
        self.write_ring(tail.wrapping_add(RECORD_HEADER_LEN as u64), msg);
        // The commit: one store.
        c.tail.store(tail.wrapping_add(need), Release);
        c.count
            .store(c.count.load(Relaxed).saturating_add(1), Release);
        c.puts.fetch_add(1, Relaxed);
        Ok(Attempt::Done(()))
    }

    fn get_locked(&self, sink: &mut Sink<'_>) -> Result<Attempt<Got>> {
        let c = self.ctl();
        let (head, tail) = self.positions()?;
        if head == tail {
            return if c.closed.load(Acquire) != 0 {
                Err(Error::Closed)
            } else {
                Ok(Attempt::Blocked)
            };
        }
        let (len, rec) = self.record_at(head, tail.wrapping_sub(head))?;
        let payload = head.wrapping_add(RECORD_HEADER_LEN as u64);
        let got = match sink {
            Sink::Vec => {
                let mut v = vec![0u8; len as usize];
                self.read_ring(payload, &mut v);
                Got::Vec(v)
            }
            Sink::Buf(buf) => {
                if buf.len() < len as usize {
                    return Err(Error::BufferTooSmall {
                        needed: len as usize,
                        capacity: buf.len(),
                    });
                }
                self.read_ring(payload, &mut buf[..len as usize]);
                Got::Len(len as usize)
            }
        };
        // The commit: one store. A crash before it leaves the message in the queue.
        c.head.store(head.wrapping_add(rec), Release);
        c.count
            .store(c.count.load(Relaxed).saturating_sub(1), Release);
        c.gets.fetch_add(1, Relaxed);
        Ok(Attempt::Done(got))
    }

    /// Copies `out.len()` ring bytes from position `pos` (wrapping).
    fn read_ring(&self, pos: u64, out: &mut [u8]) {
        let (first, second) = split(pos, out.len(), self.ring_len);
        let (a, b) = out.split_at_mut(first.1);
        // SAFETY:
        // - `split` returns ranges inside 0..ring_len, and the data area is ring_len
        //   bytes inside the mapping (checked by `geometry`), which `self.seg` keeps.
        // - the caller holds the ring's lock, so no other process writes these bytes
        //   (a hostile one could, which only changes the bytes copied: any bytes are
        //   valid u8).
        unsafe {
            segment::copy_in(self.seg.data_ptr().add(first.0), a);
            segment::copy_in(self.seg.data_ptr().add(second.0), b);
        }
    }

    /// Copies `src` into the ring from position `pos` (wrapping).
    fn write_ring(&self, pos: u64, src: &[u8]) {
        let (first, second) = split(pos, src.len(), self.ring_len);
        let (a, b) = src.split_at(first.1);
        // SAFETY:
        // - the ranges are inside the data area, as in `read_ring`.
        // - `src` is caller memory, not inside the mapping, so the copies do not overlap.
        // - the caller holds the lock and writes only free space (beyond `tail`).
        unsafe {
            segment::copy_out(a, self.seg.data_ptr().add(first.0));
            segment::copy_out(b, self.seg.data_ptr().add(second.0));
        }
    }

    fn word(&self, w: Word) -> (&AtomicU32, &AtomicU32) {
        let c = self.ctl();
        match w {
            Word::NotEmpty => (&c.not_empty, &c.consumers_waiting),
            Word::NotFull => (&c.not_full, &c.producers_waiting),
        }
    }

    /// Wakes up to `n` sleepers on `w` after a change they wait for (committed just
    /// before), entering the kernel only if a waiter is recorded: a sequentially
    /// consistent fence, then the waiter count; with the waiter's register, fence,
    /// re-check in `wait_loop` (Dekker), either the waiter sees the change or this sees
    /// the waiter. No read-modify-write when nobody waits.
    fn notify(&self, w: Word, n: u32) {
        let (word, waiting) = self.word(w);
        fence(SeqCst);
        if waiting.load(Relaxed) != 0 {
            word.fetch_add(1, SeqCst);
            sys::futex_wake(word, n);
        }
    }

    /// Whether waiting on `w` may be over (read without the lock; a hint only).
    fn ready(&self, w: Word, need: u64) -> bool {
        let c = self.ctl();
        if c.closed.load(Acquire) != 0 {
            return true;
        }
        let used = c.tail.load(Acquire).wrapping_sub(c.head.load(Acquire));
        match w {
            Word::NotEmpty => used != 0,
            // A garbage `used` reads as ready: the locked attempt then reports Corrupt.
            Word::NotFull => used > self.ring_len || self.ring_len - used >= need,
        }
    }

    /// Try under the lock; if blocked, spin (per the policy), then sleep on `w` in
    /// slices, retrying after every wake-up, until done, an error, or the deadline.
    fn wait_loop<T>(
        &self,
        w: Word,
        timeout: Option<Duration>,
        deadline: Option<Instant>,
        block: bool,
        need: u64,
        mut attempt: impl FnMut(RawMutexGuard<'_>) -> Result<Attempt<T>>,
    ) -> Result<T> {
        let timed_out = || Error::Timeout(timeout.unwrap_or_default());
        let mut spun = false;
        loop {
            let guard = self.lock(deadline, timeout)?;
            if let Attempt::Done(v) = attempt(guard)? {
                return Ok(v);
            }
            if !block {
                return Err(Error::WouldBlock);
            }
            if !spun {
                spun = true;
                let spin = self.policy.spin_duration();
                if !spin.is_zero() {
                    let start = Instant::now();
                    let mut spinner = Spinner::new(&self.spin_memory, SPIN_YIELD_EVERY);
                    loop {
                        if self.ready(w, need) {
                            spinner.done();
                            break;
                        }
                        spinner.turn();
                        if spinner.check_clock() {
                            let now = Instant::now();
                            if deadline.is_some_and(|d| now >= d) {
                                return Err(timed_out());
                            }
                            if now.duration_since(start) >= spin {
                                break;
                            }
                        }
                    }
                    if self.ready(w, need) {
                        continue;
                    }
                }
            }
            let slice = match deadline {
                None => SLICE,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(timed_out());
                    }
                    (d - now).min(SLICE)
                }
            };
            let (word, waiting) = self.word(w);
            // The word before registering: a waker that sees us bumps it, so the
            // sleep below returns at once if that happened after this load.
            let seen = word.load(SeqCst);
            waiting.fetch_add(1, SeqCst);
            fence(SeqCst);
            if !self.ready(w, need) {
                sys::futex_wait(word, seen, Some(slice));
            }
            let _ = waiting.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
        }
    }

    /// Test hook for crash tests: takes the lock and writes `msg`'s record into free
    /// space without committing it, or (with `commit_head`) takes the oldest message's
    /// slot by storing `head` without lowering the count, then never returns, so that
    /// the test can kill this process while it holds the lock in the middle of a put or
    /// a get.
    #[doc(hidden)]
    pub fn hang_holding_lock_for_tests(&self, msg: &[u8], commit_head: bool) -> ! {
        let guard = self.lock(None, None).expect("lock");
        let c = self.ctl();
        let (head, tail) = self.positions().expect("positions");
        if commit_head {
            if head != tail {
                let (_, rec) = self.record_at(head, tail - head).expect("record");
                c.head.store(head + rec, Release);
            }
        } else {
            self.write_ring(tail, &(msg.len() as u64).to_ne_bytes());
            self.write_ring(tail + RECORD_HEADER_LEN as u64, &msg[..msg.len() / 2]);
        }
        let _keep = guard;
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

impl fmt::Debug for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageQueue")
            .field("name", &self.seg.name())
            .field("capacity_bytes", &self.ring_len)
            .field("max_message", &self.max_message)
            .field("len", &self.len())
            .finish()
    }
}

fn open_segment(name: &str, opts: &SegmentOptions) -> Result<Segment> {
    segment::open_named(
        name,
        &Expect {
            kind: Kind::MessageQueue,
            elem: Some(TypeDesc::NONE),
            control_len: Some(MESSAGE_QUEUE_CONTROL_LEN),
        },
        opts,
    )
}

/// The two pieces of a wrapped range of `len` bytes from `pos` in a ring of `ring`
/// bytes: `((offset, len), (offset, len))`, both inside `0..ring`. `len <= ring`.
pub(super) fn split(pos: u64, len: usize, ring: u64) -> ((usize, usize), (usize, usize)) {
    debug_assert!(len as u64 <= ring);
    let start = (pos % ring) as usize;
    let first = len.min(ring as usize - start);
    ((start, first), (0, len - first))
}

pub(super) fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(v).map_err(|e| Error::Codec(format!("serialize: {e}")))
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Codec(format!("deserialize: {e}")))
}

/// Where a get puts the message.
enum Sink<'a> {
    Vec,
    Buf(&'a mut [u8]),
}

enum Got {
    Vec(Vec<u8>),
    Len(usize),
}

impl Got {
    fn expect_vec(self) -> Vec<u8> {
        match self {
            Got::Vec(v) => v,
            Got::Len(_) => unreachable!("a Vec sink gives a Vec"),
        }
    }
    fn expect_len(self) -> usize {
        match self {
            Got::Len(n) => n,
            Got::Vec(_) => unreachable!("a buffer sink gives a length"),
        }
    }
}

/// A message queue's state, read without the lock (for `shmkit show` and monitoring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageQueueSnapshot {
    /// The ring's size in bytes.
    pub capacity_bytes: u64,
    /// The largest message accepted.
    pub max_message: u64,
    /// Messages in the queue.
    pub len: u64,
    /// Ring bytes in use (record headers and padding included).
    pub bytes_used: u64,
    /// The raw head position (bytes consumed since creation).
    pub head: u64,
    /// The raw tail position (bytes produced since creation).
    pub tail: u64,
    /// Whether the queue is closed.
    pub closed: bool,
    /// Producers registered as sleeping because the queue is full.
    pub waiting_producers: u32,
    /// Consumers registered as sleeping because the queue is empty.
    pub waiting_consumers: u32,
    /// Messages put since creation.
    pub puts: u64,
    /// Messages taken since creation.
    pub gets: u64,
    /// Repairs made after a process died holding the lock.
    pub repairs: u64,
    /// The pid holding the lock now, if any.
    pub lock_holder: Option<u32>,
}

impl MessageQueueSnapshot {
    /// Decodes a message queue's state from a copy of its control block (how
    /// `shmkit show` reads it without mapping it): `info` is the validated header. Any
    /// bytes decode; `None` only when `control` is shorter than the control block or the
    /// kind is not a message queue.
    pub fn from_bytes(info: &SegmentInfo, control: &[u8]) -> Option<MessageQueueSnapshot> {
        if control.len() < MESSAGE_QUEUE_CONTROL_LEN || info.kind != Kind::MessageQueue {
            return None;
        }
        let u64_at = |off: usize| u64::from_ne_bytes(control[off..off + 8].try_into().unwrap());
        let u32_at = |off: usize| u32::from_ne_bytes(control[off..off + 4].try_into().unwrap());
        let ring = info.params[0].max(8);
        let (head, tail) = (u64_at(128), u64_at(136));
        let lock = crate::sync::MutexSnapshot::from_bytes(&control[..128])?;
        Some(MessageQueueSnapshot {
            capacity_bytes: info.params[0],
            max_message: info.params[1],
            len: u64_at(144).min(ring / 8),
            bytes_used: tail.wrapping_sub(head).min(ring),
            head,
            tail,
            closed: u32_at(152) != 0,
            waiting_producers: u32_at(260),
            waiting_consumers: u32_at(196),
            puts: u64_at(160),
            gets: u64_at(168),
            repairs: u64_at(176),
            lock_holder: lock.owner_pid,
        })
    }
}

/// Reads the state of the message queue `name` (for `shmkit show`).
///
/// # Errors
/// As [`MessageQueue::open`].
pub fn snapshot(name: &str) -> Result<MessageQueueSnapshot> {
    MessageQueue::open(name).map(|q| q.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths_round_up_to_eight_plus_a_header() {
        assert_eq!(record_len(0), Some(8));
        assert_eq!(record_len(1), Some(16));
        assert_eq!(record_len(8), Some(16));
        assert_eq!(record_len(9), Some(24));
        assert_eq!(record_len(u64::MAX), None);
    }

    #[test]
    fn split_wraps_at_the_end_of_the_ring() {
        assert_eq!(split(0, 8, 32), ((0, 8), (0, 0)));
        assert_eq!(split(24, 16, 32), ((24, 8), (0, 8)));
        assert_eq!(split(64 + 8, 24, 32), ((8, 24), (0, 0)));
        assert_eq!(split(31, 0, 32), ((31, 0), (0, 0)));
    }
}
