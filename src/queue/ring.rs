//! The typed ring: a bounded multi-producer multi-consumer queue of fixed-size elements
//! whose slots carry a sequence stamp (Dmitry Vyukov's bounded MPMC queue), extended
//! so that a process killed at any instant never wedges it.
//!
//! ## The stamp
//! Every slot starts with a 64-bit stamp: the high 32 bits are the slot's *turn*, the
//! low 32 bits the pid of the process that holds the slot (0 when nobody does).
//! A position `pos` (the head and tail counters) is `lap * one_lap + index`, with
//! `one_lap` the capacity rounded up to a power of two (crossbeam's encoding, so any
//! capacity works, not only powers of two). For the slot at `index`, in lap `lap`:
//!
//! | stamp | meaning |
//! |---|---|
//! | `(2·lap, 0)` | empty, waiting for the producer of this lap |
//! | `(2·lap, pid)` | a producer (`pid`) claimed it and is copying its message in |
//! | `(2·lap + 1, 0)` | full: the message is published, waiting for a consumer |
//! | `(2·lap + 1, pid)` | a consumer (`pid`) claimed it and is copying the message out |
//! | `(2·lap + 2, 0)` | empty, waiting for the producer of the next lap |
//!
//! Turns compare with wrapping arithmetic, so they never run out.
//!
//! ## put and get (no system call unless someone waits)
//! A producer reads `tail`, and claims the slot by compare-and-swap of its stamp from
//! `(2·lap, 0)` to `(2·lap, pid)`; then it advances `tail` past the slot with a plain
//! store if `tail` still points at it (anyone may advance `tail`: a process that finds
//! the slot at `tail` already claimed advances it for the claimer, with a
//! compare-and-swap, so a claimer killed before advancing it wedges nothing), copies the
//! message in, and publishes with a release store of `(2·lap + 1, 0)`. Consumers do
//! the same on `head` with the odd turns. The stamps are the truth; `head` and `tail`
//! are hints: every position below them was claimed, and a claimer's plain store that
//! races with another process's advance can move a hint back (never below a claimed
//! slot), which costs the next reader a walk, never a claim out of turn.
//!
//! The fast path is one locked instruction per put or get (the claim): the hint is
//! advanced with a plain store and the wake-up check below needs no fence, because
//! between two cores a locked instruction or a fence waits for the cache lines of the
//! stores before it, and each one cost throughput (docs/BENCHMARKS.md, "Ring fast
//! path").
//!
//! ## Crashes
//! - A producer killed after claiming (before publishing) leaves `(2·lap, pid)`. A
//!   consumer blocked on that slot for longer than [`GRACE`] checks whether `pid` is
//!   alive; if not, it marks the slot *skipped* (`(2·lap + 2, 0)`) and moves on. The
//!   message was never acknowledged (its put never returned), so nothing is lost.
//! - A consumer killed after claiming leaves `(2·lap + 1, pid)`. A producer blocked on
//!   that slot (the queue is full up to it) checks the same way and frees the slot
//!   (`(2·lap + 2, 0)`). That message is lost: the consumer died holding it. This is
//!   the one exception to "every acknowledged message is delivered exactly once".
//! - A waiter killed while asleep leaves its waiter count raised: the queue keeps
//!   working, but peers then call the kernel to wake nobody on every operation.
//! - A process killed between publishing and waking a sleeper: sleepers never sleep
//!   longer than [`SLICE`] at a time, so a lost wake-up costs latency, not liveness.
//! - A pid reused by a new process within the grace period makes a dead claimer look
//!   alive; the slot is then recovered when that process exits.
//!
//! ## Sleeping
//! Waiters spin first (see [`WaitPolicy`](super::WaitPolicy)), then register in a
//! waiter count and sleep on a futex word (a sequence number). After every put the
//! producer passes a barrier and reads the consumers' waiter count; only when it is
//! non-zero does it bump the word and enter the kernel to wake one. The waiter
//! registers, passes a barrier, and re-checks the ring before sleeping on the value it
//! read before registering, so either it sees the message or the producer sees it
//! (Dekker). Both sides start with a fence. A handle whose puts find nobody to wake
//! [`LIGHT_AFTER`] times in a row (it streams) switches to an asymmetric pair
//! (`primitive::light_barrier` and `primitive::heavy_barrier`): its puts' barrier
//! becomes a compiler barrier, and it counts itself in the control block's
//! `light_putters` before it skips a single fence. A consumer about to sleep that
//! finds that count non-zero makes a
//! `membarrier` system call, which runs a full barrier on every CPU running a
//! registered process, so the cost lands on the side that is about to sleep anyway; a
//! sleeper that finds it zero needs only its fence. A handle whose peers sleep at once
//! finds a sleeper to wake nearly every time and keeps its fence, so those sleepers
//! skip the system call (it cost 0.24 µs per sleep on one core). The count drops when
//! the handle is dropped; a process that exits without dropping its handle leaves it
//! raised, and sleepers then pay for the system call, nothing worse. A process the
//! kernel does not register keeps its fence; a sleeper whose `membarrier` is refused
//! sleeps in slices of [`UNFENCED_SLICE`]. Gets and producers waiting for room work the
//! same way (`light_getters`); joiners need no `membarrier`, as `task_done` wakes them
//! after a compare-and-swap.
//!
//! Two more rules keep producer and consumer off each other's cache lines in queues of
//! 128 slots or more. A producer that spins on a full queue waits about a microsecond
//! between looks ([`FULL_BACKOFF`]): the slot it waits for is the one the consumer is
//! releasing. A consumer that was behind (its last get took a message at once) and
//! finds the queue empty lets the producer get 64 slots ahead, for at most 2 µs,
//! before it looks at the head again (`Ring::let_producer_lead`). A consumer that
//! waited for its last message looks at once and again, for latency.
//!
//! ## Untrusted memory
//! Every index is masked and checked against the capacity before it is used; every
//! loop over the ring is bounded; a hostile stamp can make the queue look full, empty or
//! stuck (blocking calls then wait, honouring their timeouts), never read or write out
//! of bounds. A hostile `light_putters` or `light_getters` of zero can make a sleeper miss a wake-up: it
//! then learns of the message at the end of its [`SLICE`].

use std::ptr::NonNull;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::time::{Duration, Instant};

use super::primitive::{self, AtomicU32, AtomicU64, Futex, fence};

/// How long a slot must block us, with the same stamp, before we ask the kernel whether
/// its holder is alive (the check is a system call; live holders finish in nanoseconds).
pub(crate) const GRACE: Duration = Duration::from_millis(2);
/// The longest single sleep: a wake-up lost to a crash costs at most this much.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// How many spin hints (about 1 µs on a CPU whose pause takes 9 ns) a producer that
/// found the queue full waits before it looks again; it then also yields its CPU. A
/// full queue's next free slot is the one its consumer is about to release: every look
/// pulls that slot's cache line away from the consumer, which must fetch it back, so a
/// producer looking at once and again slows the very process it waits for (the W2
/// bench's consumer, between two cores, by about a third). A full queue has a full queue's worth of
/// work for its consumers, so waiting a little costs no throughput. Queues of fewer
/// than `2 * CATCH_UP_LEAD` slots look at once and again as before: their consumers
/// drain them in well under a microsecond, and backing off (with its yield) cost the
/// 4-slot zero-copy rows about 10%.
const FULL_BACKOFF: u64 = 128;

/// How far ahead (in slots) a consumer that caught up with a streaming producer lets
/// it get before looking at the head again, and how long it waits for that at most
/// (see `Ring::let_producer_lead`). 64 `u64` messages are 16 cache lines; at 60 M
/// messages/s the producer gets that far in about 1 µs. Queues of fewer than twice
/// that many slots do not wait (a producer cannot get far ahead in them, and waiting
/// for it to fill most of a small queue cost the zero-copy rows 10-15%).
const CATCH_UP_LEAD: u64 = 64;
const CATCH_UP_WAIT: Duration = Duration::from_micros(2);

/// The longest single sleep of a process whose `membarrier` the kernel refused: a
/// put or get in another process may then miss its registration (see
/// `primitive::heavy_barrier`), and it only learns of the message at the end of a slice.
pub(crate) const UNFENCED_SLICE: Duration = Duration::from_millis(1);

/// A spinning waiter yields its CPU every this many turns (~1 µs): a peer that shares
/// the CPU (both pinned to one core, or more runnable processes than cores) then gets
/// to run within microseconds, while a peer on another core, which answers in well under
/// a microsecond, is caught before the first yield. A handle whose last wait was ended
/// by a peer on its own CPU yields at every turn (`primitive::Spinner`).
const YIELD_EVERY: u32 = 64;

/// How many puts and gets in a row must find nobody to wake before a handle stops
/// fencing (see "Sleeping" in the module docs): a handle whose peers sleep at once
/// finds one to wake nearly every time, and keeps its fence, so that the sleepers need
/// not ask the kernel for a barrier.
const LIGHT_AFTER: u32 = 64;

/// The control block, `CONTROL_LEN` bytes at the start of the queue's control area.
/// docs/FORMAT.md lists it byte by byte.
#[repr(C, align(64))]
pub(crate) struct Control {
    /// 0: the next position to put at (a hint, see the module docs).
    pub(crate) tail: AtomicU64,
    _pad0: [u64; 7],
    /// 64: the next position to get from.
    pub(crate) head: AtomicU64,
    _pad1: [u64; 7],
    /// 128: futex word bumped when messages arrive and consumers wait.
    pub(crate) not_empty: AtomicU32,
    /// 132: consumers registered as sleeping (or about to).
    pub(crate) consumers_waiting: AtomicU32,
    _pad2: [u32; 14],
    /// 192: futex word bumped when slots free up and producers wait.
    pub(crate) not_full: AtomicU32,
    /// 196: producers registered as sleeping (or about to).
    pub(crate) producers_waiting: AtomicU32,
    _pad3: [u32; 14],
    /// 256: 1 once closed.
    pub(crate) closed: AtomicU32,
    /// 260: futex word bumped when `unfinished` reaches zero and joiners wait.
    pub(crate) join_seq: AtomicU32,
    /// 264: joiners registered as sleeping.
    pub(crate) joiners: AtomicU32,
    /// 268: handles whose puts skip the fence (see "Sleeping" in the module docs); a
    /// consumer about to sleep asks the kernel for a barrier only while this is not 0.
    pub(crate) light_putters: AtomicU32,
    /// 272: JoinableQueue: messages put and not yet marked done.
    pub(crate) unfinished: AtomicU64,
    /// 280: slots skipped because their producer died before publishing.
    pub(crate) skipped_dead_producers: AtomicU64,
    /// 288: messages dropped because their consumer died while copying them out.
    pub(crate) dropped_dead_consumers: AtomicU64,
    /// 296: handles whose gets skip the fence; as `light_putters`, for producers
    /// about to sleep for room.
    pub(crate) light_getters: AtomicU32,
    _reserved1: [u32; 5],
    pub(crate) futex_not_empty: Futex,
    pub(crate) futex_not_full: Futex,
    pub(crate) futex_join: Futex,
}

/// The control block's length in the segment.
pub(crate) const CONTROL_LEN: usize = 320;
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Control>() == CONTROL_LEN);
#[cfg(not(loom))]
const _: () = {
    assert!(std::mem::offset_of!(Control, head) == 64);
    assert!(std::mem::offset_of!(Control, not_empty) == 128);
    assert!(std::mem::offset_of!(Control, not_full) == 192);
    assert!(std::mem::offset_of!(Control, closed) == 256);
    assert!(std::mem::offset_of!(Control, unfinished) == 272);
    assert!(std::mem::offset_of!(Control, dropped_dead_consumers) == 288);
    assert!(std::mem::offset_of!(Control, light_putters) == 268);
    assert!(std::mem::offset_of!(Control, light_getters) == 296);
};

impl Control {
    /// A fresh control block on the heap (the loom models).
    #[cfg(loom)]
    pub(crate) fn new() -> Control {
        Control {
            tail: AtomicU64::new(0),
            _pad0: [0; 7],
            head: AtomicU64::new(0),
            _pad1: [0; 7],
            not_empty: AtomicU32::new(0),
            consumers_waiting: AtomicU32::new(0),
            _pad2: [0; 14],
            not_full: AtomicU32::new(0),
            producers_waiting: AtomicU32::new(0),
            _pad3: [0; 14],
            closed: AtomicU32::new(0),
            join_seq: AtomicU32::new(0),
            joiners: AtomicU32::new(0),
            light_putters: AtomicU32::new(0),
            unfinished: AtomicU64::new(0),
            skipped_dead_producers: AtomicU64::new(0),
            dropped_dead_consumers: AtomicU64::new(0),
            light_getters: AtomicU32::new(0),
            _reserved1: [0; 5],
            futex_not_empty: Futex::new(),
            futex_not_full: Futex::new(),
            futex_join: Futex::new(),
        }
    }
}

/// Where the slots live: the segment's data area, or (loom) a heap array; and how a
/// message is copied in and out: as a `T` ([`SegSlots`]), or as bytes whose length the
/// slots know at run time ([`ByteSlots`], for the C API). The ring itself never sees an
/// element, only these two copies.
pub(crate) trait Slots: Send + Sync {
    /// What a put copies in: a `T`, or `[u8]` of the element's size.
    type Item: ?Sized;
    /// Where a get copies a message out to: a `T`, or `[u8]` of the element's size.
    type Out: ?Sized;
    /// The stamp of slot `idx`. Panics if `idx` is not below the capacity.
    fn stamp(&self, idx: usize) -> &AtomicU64;
    /// Copies `v` into slot `idx`. Must not panic (the slot is claimed).
    ///
    /// # Safety
    /// - `idx` is below the capacity.
    /// - the caller holds the slot: its stamp names this process, with an even turn.
    /// - `v` is a valid item for these slots (for bytes: exactly the element's size).
    unsafe fn write(&self, idx: usize, v: &Self::Item);
    /// Copies the message out of slot `idx` into `out`. Must not panic.
    ///
    /// # Safety
    /// - `idx` is below the capacity.
    /// - the caller holds the slot: its stamp names this process, with an odd turn.
    /// - `out` is a valid destination (for bytes: exactly the element's size).
    unsafe fn read(&self, idx: usize, out: &mut Self::Out);
    /// The segment area behind these slots (`None`: heap slots, never pooled).
    fn area(&self) -> Option<&SlotArea> {
        None
    }
    /// Whether messages live in a buffer pool behind the slots (a pooled queue, see
    /// [`Pool`]); the other methods below then matter.
    #[inline(always)]
    fn pooled(&self) -> bool {
        self.area().is_some_and(SlotArea::pooled)
    }
    /// Gives the claimed slot `idx` a buffer before it is written (by a put or a
    /// reservation); `hot`: worth waiting briefly for the buffer this handle wrote
    /// last. `false` if no buffer could be found (only hostile bytes do that).
    ///
    /// # Safety
    /// - `idx` is below the capacity.
    /// - the caller holds the slot: its stamp names this process, with an even turn.
    unsafe fn assign(&self, idx: usize, hot: bool) -> bool {
        match self.area() {
            // SAFETY: our caller's contract is the area's.
            Some(a) => unsafe { a.assign(idx, hot) },
            None => true,
        }
    }
    /// Hands back the buffer of slot `idx`, claimed with the producers' turn
    /// `put_turn` (after a get, on an abort or a release). Only a buffer that slot's
    /// claim owns is freed: any values are safe.
    fn unassign(&self, idx: usize, put_turn: u32) {
        if let Some(a) = self.area() {
            a.unassign(idx, put_turn);
        }
    }
    /// As [`Slots::unassign`], for a slot whose holder died: finds its buffer by its
    /// owner word (a producer may have died before recording the buffer in the slot).
    fn reclaim(&self, idx: usize, put_turn: u32) {
        if let Some(a) = self.area() {
            a.reclaim(idx, put_turn);
        }
    }
}

/// Items to put, by index: a slice of `T`, or a byte buffer cut into elements.
pub(crate) trait Batch<E: ?Sized> {
    /// How many items.
    fn count(&self) -> usize;
    /// Item `i` (`i < count()`).
    fn at(&self, i: usize) -> &E;
}

/// Places to get messages into, by index.
pub(crate) trait BatchMut<E: ?Sized> {
    /// How many places.
    fn count(&self) -> usize;
    /// Place `i` (`i < count()`).
    fn at_mut(&mut self, i: usize) -> &mut E;
}

impl<T> Batch<T> for [T] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> &T {
        &self[i]
    }
}

impl<T> BatchMut<T> for [T] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut T {
        &mut self[i]
    }
}

/// A byte buffer holding whole elements of `size` bytes (`size > 0`).
pub(crate) struct Elems<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) size: usize,
}

impl Batch<[u8]> for Elems<'_> {
    fn count(&self) -> usize {
        self.bytes.len() / self.size
    }
    fn at(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.size..(i + 1) * self.size]
    }
}

/// A mutable byte buffer of whole elements of `size` bytes (`size > 0`).
pub(crate) struct ElemsMut<'a> {
    pub(crate) bytes: &'a mut [u8],
    pub(crate) size: usize,
}

impl BatchMut<[u8]> for ElemsMut<'_> {
    fn count(&self) -> usize {
        self.bytes.len() / self.size
    }
    fn at_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.bytes[i * self.size..(i + 1) * self.size]
    }
}

fn pack(turn: u32, owner: u32) -> u64 {
    (u64::from(turn) << 32) | u64::from(owner)
}
fn turn_of(stamp: u64) -> u32 {
    (stamp >> 32) as u32
}
fn owner_of(stamp: u64) -> u32 {
    stamp as u32
}

/// Which holder a stamp names: 0 a live producer, 1 a live consumer, 2 a dead producer,
/// 3 a dead consumer; `None` when nobody holds the slot.
pub(crate) fn holder_class(stamp: u64) -> Option<usize> {
    let owner = owner_of(stamp);
    if owner == 0 {
        return None;
    }
    let consumer = turn_of(stamp) % 2 == 1;
    let dead = !primitive::pid_alive(owner);
    Some(usize::from(consumer) + if dead { 2 } else { 0 })
}

/// Messages between `head` and `tail` for a capacity (see docs/FORMAT.md), clamped to
/// `0..=cap`; any values give an answer.
pub(crate) fn queue_len(head: u64, tail: u64, cap: u64) -> u64 {
    let lap = one_lap(cap);
    let (mask, shift) = (lap - 1, lap.trailing_zeros());
    let logical = |pos: u64| {
        (pos >> shift)
            .wrapping_mul(cap)
            .wrapping_add((pos & mask).min(cap))
    };
    let n = logical(tail).wrapping_sub(logical(head));
    if (n as i64) < 0 { 0 } else { n.min(cap) }
}

/// The free-standing position arithmetic of [`Ring`] (for inspection, which has no
/// ring): the slot index of `pos`.
pub(crate) fn slot_index(pos: u64, cap: u64) -> u64 {
    pos & (one_lap(cap) - 1)
}

/// The position after `pos` (as [`Ring`]'s `next`).
pub(crate) fn next_position(pos: u64, cap: u64) -> u64 {
    let shift = one_lap(cap).trailing_zeros();
    if slot_index(pos, cap) + 1 < cap {
        pos.wrapping_add(1)
    } else {
        ((pos >> shift).wrapping_add(1)) << shift
    }
}

/// `pos`, or the start of its next lap when its index is past the capacity (as
/// [`Ring`]'s `sane`).
pub(crate) fn sane_position(pos: u64, cap: u64) -> u64 {
    let shift = one_lap(cap).trailing_zeros();
    if slot_index(pos, cap) < cap {
        pos
    } else {
        ((pos >> shift).wrapping_add(1)) << shift
    }
}

/// The stamp of the slot of `pos` once its message is published: the consumers' turn
/// of that lap, nobody holding it.
pub(crate) fn published_stamp(pos: u64, cap: u64) -> u64 {
    let lap = pos >> one_lap(cap).trailing_zeros();
    pack((lap.wrapping_mul(2) as u32).wrapping_add(1), 0)
}

/// A slot that stopped us, as we saw it (for the dead-holder check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocker {
    pos: u64,
    idx: usize,
    stamp: u64,
}

/// A slot this process holds across calls: reserved by a producer to be written in
/// place, or taken by a consumer to be read in place. `stamp` is the slot's stamp while
/// held (the turn and this process's pid); handing the slot back is a compare-and-swap
/// from exactly that stamp, so a claim can only end once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) pos: u64,
    pub(crate) idx: usize,
    pub(crate) stamp: u64,
}

/// How a non-blocking put ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryPut {
    Done,
    /// No free slot; `Some` when the slot in the way is held by a consumer.
    Full(Option<Blocker>),
    Closed,
}

/// How a non-blocking get ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryGet {
    /// A message was copied out.
    Done,
    /// No published message; `Some` when the slot in the way is being written.
    Empty(Option<Blocker>),
}

/// How a blocking call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited<T> {
    Done(T),
    Closed,
    Timeout,
}

/// Which futex.
#[derive(Clone, Copy)]
enum Word {
    NotEmpty,
    NotFull,
    Join,
}

#[derive(Clone, Copy)]
struct Suspect {
    blocker: Blocker,
    since: Instant,
}

/// The ring's geometry and algorithms over a control block and its slots.
pub(crate) struct Ring<S: Slots> {
    ctl: NonNull<Control>,
    slots: S,
    cap: u64,
    /// `one_lap - 1`: masks the index out of a position.
    mask: u64,
    /// `log2(one_lap)`: shifts the lap out of a position.
    shift: u32,
    joinable: bool,
    /// Whether this handle's last blocking get took a message at its first look (the
    /// consumer was behind its producers). Per handle, a hint: threads sharing a
    /// handle share it.
    behind: std::sync::atomic::AtomicBool,
    /// Whether this handle's puts, and its gets, skip the fence (see [`Lightness`]).
    light: [Lightness; 2],
    /// Whether this handle's last spinning wait was ended by a peer on our own CPU
    /// (see `primitive::Spinner`). Per handle, a hint, like `behind`.
    spin_memory: primitive::SpinMemory,
    /// The slot we last found in our way, and since when (per handle).
    suspect: std::sync::Mutex<Option<Suspect>>,
}

impl<S: Slots> Drop for Ring<S> {
    /// A handle that stopped fencing in this process no longer counts.
    fn drop(&mut self) {
        for side in [Side::Put, Side::Get] {
            if self.light[side as usize].pid.load(Acquire) == primitive::pid() {
                self.light_count(side).fetch_sub(1, Release);
            }
        }
    }
}

/// A side of a handle: its puts, or its gets.
#[derive(Clone, Copy)]
enum Side {
    Put = 0,
    Get = 1,
}

/// Whether one side of a handle (its puts, or its gets) skips the fence between
/// publishing (or freeing) a slot and reading the other side's waiter count.
struct Lightness {
    /// The process (pid) in which it does; it is then counted in the control block's
    /// `light_putters` (or `light_getters`). 0 if none. A forked child's copy names
    /// its parent, so the child fences until it counts itself.
    pid: AtomicU32,
    /// Operations in a row that found nobody to wake (while fencing): after
    /// [`LIGHT_AFTER`] of them the side stops fencing.
    quiet: AtomicU32,
}

impl Lightness {
    fn new() -> Lightness {
        Lightness {
            pid: AtomicU32::new(0),
            quiet: AtomicU32::new(0),
        }
    }
}

// SAFETY: the control block is only accessed through atomics, and `S: Send + Sync`
// guards slot access; the raw pointer is valid for the ring's life (constructor).
unsafe impl<S: Slots> Send for Ring<S> {}
// SAFETY: as above.
unsafe impl<S: Slots> Sync for Ring<S> {}

/// `one_lap` for a capacity: the next power of two (at least 1).
pub(crate) fn one_lap(cap: u64) -> u64 {
    cap.max(1).next_power_of_two()
}

/// How many times a non-blocking operation walks before it gives up: enough for any
/// legitimate contention, finite against hostile stamps.
fn walk_limit(cap: u64) -> u64 {
    cap.saturating_mul(2).saturating_add(1024)
}

impl<S: Slots> Ring<S> {
    /// # Safety
    /// - `ctl` points to a control block that outlives the ring, accessed by everyone
    ///   only through its atomics.
    /// - `slots` has `cap` slots; `1 <= cap <= 2^32`.
    pub(crate) unsafe fn new(ctl: NonNull<Control>, slots: S, cap: u64, joinable: bool) -> Self {
        let lap = one_lap(cap);
        Ring {
            ctl,
            slots,
            cap,
            mask: lap - 1,
            shift: lap.trailing_zeros(),
            joinable,
            behind: std::sync::atomic::AtomicBool::new(false),
            spin_memory: primitive::SpinMemory::default(),
            light: [Lightness::new(), Lightness::new()],
            suspect: std::sync::Mutex::new(None),
        }
    }

    pub(crate) fn ctl(&self) -> &Control {
        // SAFETY: valid for the ring's life (constructor contract); only atomics inside.
        unsafe { self.ctl.as_ref() }
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.cap
    }

    pub(crate) fn joinable(&self) -> bool {
        self.joinable
    }

    fn index(&self, pos: u64) -> u64 {
        pos & self.mask
    }

    fn lap(&self, pos: u64) -> u64 {
        pos >> self.shift
    }

    /// The position after `pos`.
    fn next(&self, pos: u64) -> u64 {
        let idx = self.index(pos);
        if idx + 1 < self.cap {
            pos.wrapping_add(1)
        } else {
            (self.lap(pos).wrapping_add(1)) << self.shift
        }
    }

    /// The position `k` steps after `pos` (`k` below the capacity).
    fn ahead(&self, pos: u64, k: u64) -> u64 {
        let idx = self.index(pos) + k;
        if idx < self.cap {
            pos.wrapping_add(k)
        } else {
            ((self.lap(pos).wrapping_add(1)) << self.shift) | (idx - self.cap)
        }
    }

    /// The producers' turn at `pos` (the consumers' is one more).
    fn put_turn(&self, pos: u64) -> u32 {
        self.lap(pos).wrapping_mul(2) as u32
    }

    /// A position whose index is past the capacity (only hostile bytes make one) is
    /// replaced by the start of its next lap.
    fn sane(&self, pos: u64) -> u64 {
        if self.index(pos) < self.cap {
            pos
        } else {
            (self.lap(pos).wrapping_add(1)) << self.shift
        }
    }

    /// Moves `counter` from `pos` past it (if nobody did already) and returns where to
    /// look next.
    fn advance(&self, counter: &AtomicU64, pos: u64) -> u64 {
        let next = self.next(pos);
        match counter.compare_exchange(pos, next, Relaxed, Relaxed) {
            Ok(_) => next,
            Err(now) => self.sane(now),
        }
    }

    /// After claiming the slot at `pos`: moves `counter` past it, unless someone did
    /// already. A plain store, not a compare-and-swap (a locked instruction on the
    /// fast path of every put and get): the store can race with another process that
    /// advanced `counter` meanwhile and move it back, but only to `next(pos)`, and
    /// every position below any value the counter ever held was claimed (a counter only
    /// moves past claimed slots). So a counter moved back costs its next reader a walk
    /// over claimed slots (at most a lap: our slot stays claimed until we publish it,
    /// so nobody gets further than a lap past it), never a claim out of turn: the
    /// stamps decide who may claim what.
    #[inline(always)]
    fn step_past(&self, counter: &AtomicU64, pos: u64) {
        if counter.load(Relaxed) == pos {
            counter.store(self.next(pos), Relaxed);
        }
    }

    /// Claims the next free slot for a producer (the first half of a put), without
    /// waiting: on success the slot's stamp names `me` with the producers' turn and
    /// `tail` has moved past it; nobody else touches the slot until we publish it
    /// ([`Ring::commit`]) or give it up ([`Ring::abort`]).
    #[inline(always)]
    fn claim_put(&self, me: u32) -> Result<(Claim, &AtomicU64), TryPut> {
        let ctl = self.ctl();
        if ctl.closed.load(Relaxed) != 0 {
            return Err(TryPut::Closed);
        }
        let mut pos = self.sane(ctl.tail.load(Relaxed));
        for _ in 0..walk_limit(self.cap) {
            let idx = self.index(pos) as usize;
            let slot = self.slots.stamp(idx);
            let stamp = slot.load(Acquire);
            let want = self.put_turn(pos);
            let ahead = turn_of(stamp).wrapping_sub(want) as i32;
            if ahead == 0 && owner_of(stamp) == 0 {
                let held = pack(want, me);
                if slot
                    .compare_exchange(stamp, held, Acquire, Relaxed)
                    .is_err()
                {
                    continue;
                }
                self.step_past(&ctl.tail, pos);
                return Ok((
                    Claim {
                        pos,
                        idx,
                        stamp: held,
                    },
                    slot,
                ));
            }
            if ahead >= 0 {
                // Claimed by another producer, or we are behind: move on.
                pos = self.advance(&ctl.tail, pos);
                continue;
            }
            // The slot still belongs to the previous lap: full, unless `tail` moved.
            let now = self.sane(ctl.tail.load(Relaxed));
            if now != pos {
                pos = now;
                continue;
            }
            let held = ahead == -1 && owner_of(stamp) != 0;
            return Err(TryPut::Full(held.then_some(Blocker { pos, idx, stamp })));
        }
        Err(TryPut::Full(None))
    }

    /// Gives the slot of our fresh claim `c` a buffer (pooled queues; always `true`
    /// otherwise). If none can be found (only hostile bytes do that), the claim is given
    /// up as skipped and `false` is returned: the caller then reports the queue full.
    /// `hot`: a put, which copies a whole message; it may wait briefly for the buffer
    /// this handle wrote last while that message is the only other one in the ring
    /// (its consumer is about to hand it back).
    #[inline(always)]
    fn assign(&self, c: Claim, hot: bool) -> bool {
        if !self.slots.pooled() {
            return true;
        }
        self.assign_pooled(c, hot)
    }

    /// [`Ring::assign`] for a pooled queue.
    #[cold]
    fn assign_pooled(&self, c: Claim, hot: bool) -> bool {
        let hot = hot && self.len() <= 2;
        // SAFETY: `c.idx` is below the capacity (a claim's index), and we hold the slot
        // with the producers' turn (a fresh claim).
        if unsafe { self.slots.assign(c.idx, hot) } {
            return true;
        }
        self.skip_held(c);
        false
    }

    /// Puts `v` if a slot is free, without waiting; does not wake anyone (see
    /// [`Ring::after_put`]).
    #[inline(always)]
    fn put_once(&self, v: &S::Item, me: u32) -> TryPut {
        match self.claim_put(me) {
            Ok((c, slot)) => {
                if !self.assign(c, true) {
                    return TryPut::Full(None);
                }
                // SAFETY:
                // - `c.idx` = `pos & mask`, checked below the capacity by `sane`/`stamp`.
                // - our compare-and-swap put our pid in the stamp with the producers'
                //   turn: nobody else writes or reads this slot until we publish.
                unsafe { self.slots.write(c.idx, v) };
                slot.store(pack(turn_of(c.stamp).wrapping_add(1), 0), Release);
                TryPut::Done
            }
            Err(e) => e,
        }
    }

    /// Claims the oldest published message for a consumer (the first half of a get),
    /// without waiting: on success the slot's stamp names `me` with the consumers' turn
    /// and `head` has moved past it; nobody else touches the slot until we hand it back
    /// ([`Ring::release`]).
    #[inline(always)]
    fn claim_get(&self, me: u32) -> Result<(Claim, &AtomicU64), TryGet> {
        let ctl = self.ctl();
        let mut pos = self.sane(ctl.head.load(Relaxed));
        for _ in 0..walk_limit(self.cap) {
            let idx = self.index(pos) as usize;
            let slot = self.slots.stamp(idx);
            let stamp = slot.load(Acquire);
            let want = self.put_turn(pos).wrapping_add(1);
            let ahead = turn_of(stamp).wrapping_sub(want) as i32;
            if ahead == 0 && owner_of(stamp) == 0 {
                let held = pack(want, me);
                if slot
                    .compare_exchange(stamp, held, Acquire, Relaxed)
                    .is_err()
                {
                    continue;
                }
                self.step_past(&ctl.head, pos);
                return Ok((
                    Claim {
                        pos,
                        idx,
                        stamp: held,
                    },
                    slot,
                ));
            }
            if ahead >= 0 {
                pos = self.advance(&ctl.head, pos);
                continue;
            }
            let now = self.sane(ctl.head.load(Relaxed));
            if now != pos {
                pos = now;
                continue;
            }
            let writing = ahead == -1 && owner_of(stamp) != 0;
            return Err(TryGet::Empty(writing.then_some(Blocker {
                pos,
                idx,
                stamp,
            })));
        }
        Err(TryGet::Empty(None))
    }

    /// Takes a message if one is published at the head, without waiting; does not wake
    /// anyone (see [`Ring::after_get`]).
    #[inline(always)]
    fn get_once(&self, me: u32, out: &mut S::Out) -> TryGet {
        match self.claim_get(me) {
            Ok((c, slot)) => {
                // SAFETY:
                // - `c.idx` = `pos & mask`, checked below the capacity by `sane`/`stamp`.
                // - our compare-and-swap put our pid in the stamp with the consumers'
                //   turn: the producer published (release, read with acquire) and nobody
                //   else touches the slot until we hand it back.
                // - `out` is a valid destination (our caller's contract, passed on).
                unsafe { self.slots.read(c.idx, out) };
                if self.slots.pooled() {
                    self.slots.unassign(c.idx, turn_of(c.stamp).wrapping_sub(1));
                }
                slot.store(pack(turn_of(c.stamp).wrapping_add(1), 0), Release);
                TryGet::Done
            }
            Err(e) => e,
        }
    }

    /// Wakes `n` consumers if any are registered. One barrier and one load when none is.
    fn after_put(&self, n: u32) {
        self.after(Side::Put, n);
    }

    /// Wakes `n` producers if any are registered.
    fn after_get(&self, n: u32) {
        self.after(Side::Get, n);
    }

    /// After a put (or get): the barrier, then wakes `n` of the other side's sleepers
    /// if any are registered.
    #[inline(always)]
    fn after(&self, side: Side, n: u32) {
        let ctl = self.ctl();
        let (waiting, word) = match side {
            Side::Put => (&ctl.consumers_waiting, Word::NotEmpty),
            Side::Get => (&ctl.producers_waiting, Word::NotFull),
        };
        let l = &self.light[side as usize];
        let light = l.pid.load(Acquire) == primitive::pid();
        if light {
            primitive::light_barrier();
        } else {
            fence(SeqCst);
        }
        if waiting.load(Acquire) > 0 {
            if !light {
                l.quiet.store(0, Relaxed);
            }
            self.wake(word, n);
        } else if !light {
            self.count_quiet(side);
        }
    }

    /// A fenced put (or get) found nobody to wake: after [`LIGHT_AFTER`] in a row,
    /// this handle's puts (or gets) stop fencing (see "Sleeping" in the module docs).
    #[cold]
    fn count_quiet(&self, side: Side) {
        let l = &self.light[side as usize];
        let n = l.quiet.load(Relaxed).saturating_add(1);
        l.quiet.store(n, Relaxed);
        if n < LIGHT_AFTER || !primitive::prepare_light_barrier() {
            return;
        }
        let me = primitive::pid();
        let was = l.pid.load(Acquire);
        if was == me {
            return;
        }
        // Counted first, then marked: a thread that sees the mark skips its fence
        // only after the count is visible to sleepers.
        let count = self.light_count(side);
        count.fetch_add(1, SeqCst);
        if l.pid.compare_exchange(was, me, AcqRel, Acquire).is_err() {
            // Another thread of this handle got there first (and counted itself).
            count.fetch_sub(1, Release);
        }
    }

    /// The control block's count of handles whose puts (or gets) skip the fence.
    fn light_count(&self, side: Side) -> &AtomicU32 {
        let ctl = self.ctl();
        match side {
            Side::Put => &ctl.light_putters,
            Side::Get => &ctl.light_getters,
        }
    }

    /// The barrier of a sleeper on `w` between registering as a waiter and looking at
    /// the ring again: a fence, then, if some handle of the side that would wake it
    /// skips its fence, the kernel's barrier on every CPU running a registered
    /// process. Returns `false` if that was needed and the kernel refused.
    fn sleeper_barrier(&self, w: Word) -> bool {
        fence(SeqCst);
        let waker = match w {
            Word::NotEmpty => Side::Put,
            Word::NotFull => Side::Get,
            // `task_done` wakes joiners after a compare-and-swap: a full barrier.
            Word::Join => return true,
        };
        if self.light_count(waker).load(Acquire) == 0 {
            return true;
        }
        primitive::heavy_barrier()
    }

    fn word(&self, w: Word) -> (&AtomicU32, &AtomicU32, &Futex) {
        let ctl = self.ctl();
        match w {
            Word::NotEmpty => (&ctl.not_empty, &ctl.consumers_waiting, &ctl.futex_not_empty),
            Word::NotFull => (&ctl.not_full, &ctl.producers_waiting, &ctl.futex_not_full),
            Word::Join => (&ctl.join_seq, &ctl.joiners, &ctl.futex_join),
        }
    }

    fn wake(&self, w: Word, n: u32) {
        let (word, _, futex) = self.word(w);
        word.fetch_add(1, Release);
        futex.wake(word, n);
    }

    /// Non-blocking put: `Done`, `Full` or `Closed`.
    pub(crate) fn try_put(&self, v: &S::Item) -> TryPut {
        self.count_put(1);
        let r = self.put_once(v, primitive::pid());
        match r {
            TryPut::Done => self.after_put(1),
            TryPut::Full(b) => {
                self.finish_tasks(1);
                if let Some(b) = b {
                    self.maybe_reap(b);
                }
            }
            TryPut::Closed => self.finish_tasks(1),
        }
        r
    }

    /// Puts as many of `items` as fit now, in order; wakes consumers once.
    /// Returns how many were put, and how the first failure ended (if any).
    /// Puts items `from..` of `items`.
    pub(crate) fn try_put_many<B: Batch<S::Item> + ?Sized>(
        &self,
        items: &B,
        from: usize,
    ) -> (usize, TryPut) {
        let me = primitive::pid();
        let total = items.count().saturating_sub(from);
        self.count_put(total as u64);
        let mut n = 0;
        let mut last = TryPut::Done;
        while n < total {
            // Evaluated before the claim: nothing can panic while a slot is claimed.
            let v = items.at(from + n);
            last = self.put_once(v, me);
            if last != TryPut::Done {
                break;
            }
            n += 1;
        }
        self.finish_tasks((total - n) as u64);
        if n > 0 {
            self.after_put(n.min(u32::MAX as usize) as u32);
        }
        if let TryPut::Full(Some(b)) = last {
            self.maybe_reap(b);
        }
        (n, last)
    }

    /// Non-blocking get into `out`. `Empty` says nothing about closing; see
    /// [`Ring::get`].
    pub(crate) fn try_get(&self, out: &mut S::Out) -> TryGet {
        let r = self.get_once(primitive::pid(), out);
        match r {
            TryGet::Done => self.after_get(1),
            TryGet::Empty(Some(b)) => {
                self.maybe_reap(b);
            }
            TryGet::Empty(None) => {}
        }
        r
    }

    /// Takes as many messages as are published now into places `from..` of `out`;
    /// wakes producers once. Returns how many.
    pub(crate) fn try_get_many<B: BatchMut<S::Out> + ?Sized>(
        &self,
        out: &mut B,
        from: usize,
    ) -> usize {
        let me = primitive::pid();
        let total = out.count().saturating_sub(from);
        let mut n = 0;
        let mut blocker = None;
        while n < total {
            // Evaluated before the claim: nothing can panic while a slot is claimed.
            let o = out.at_mut(from + n);
            match self.get_once(me, o) {
                TryGet::Done => {
                    n += 1;
                }
                TryGet::Empty(b) => {
                    blocker = b;
                    break;
                }
            }
        }
        if n > 0 {
            self.after_get(n.min(u32::MAX as usize) as u32);
        }
        if let Some(b) = blocker {
            self.maybe_reap(b);
        }
        n
    }

    // ---- Zero-copy: slots held across calls -------------------------------------------

    /// The slots (to reach a held slot's bytes).
    pub(crate) fn slots(&self) -> &S {
        &self.slots
    }

    /// Reserves a slot to be written in place, without waiting; nobody is woken until
    /// [`Ring::commit`]. For a joinable queue the reservation counts as a put from now
    /// on (and stops counting if it is aborted).
    pub(crate) fn try_reserve(&self) -> Result<Claim, TryPut> {
        self.count_put(1);
        match self.claim_put(primitive::pid()) {
            Ok((c, _)) if self.assign(c, false) => Ok(c),
            Ok(_) => {
                self.finish_tasks(1);
                Err(TryPut::Full(None))
            }
            Err(e) => {
                self.finish_tasks(1);
                if let TryPut::Full(Some(b)) = e {
                    self.maybe_reap(b);
                }
                Err(e)
            }
        }
    }

    /// Blocking [`Ring::try_reserve`]: spins for `spin`, then sleeps; `deadline` bounds
    /// the whole wait.
    pub(crate) fn reserve(&self, spin: Duration, deadline: Option<Instant>) -> Waited<Claim> {
        self.wait_for(Word::NotFull, spin, deadline, || match self.try_reserve() {
            Ok(c) => Step::Done(c),
            Err(TryPut::Closed) => Step::Closed,
            Err(other) => Step::Blocked(matches!(other, TryPut::Full(Some(_)))),
        })
    }

    /// A claim from its position and stamp (the C API keeps claims as two numbers);
    /// any values give a claim, which [`Ring::commit`] and friends then check.
    pub(crate) fn claim_of(&self, pos: u64, stamp: u64) -> Claim {
        Claim {
            pos,
            idx: usize::try_from(self.index(pos)).unwrap_or(usize::MAX),
            stamp,
        }
    }

    /// The stamp of a claim's slot, if `c` describes a slot this process can hold with
    /// the given parity of turn (even: reserved by a producer; odd: taken by a
    /// consumer). Claims come from this ring, but through the C API a caller can hand
    /// back any bytes: nothing here trusts them beyond a compare-and-swap.
    fn held_stamp(&self, c: Claim, consumer: bool) -> Option<&AtomicU64> {
        let ok = c.idx < self.cap as usize
            && self.index(c.pos) as usize == c.idx
            && owner_of(c.stamp) == primitive::pid()
            && (turn_of(c.stamp) % 2 == 1) == consumer;
        ok.then(|| self.slots.stamp(c.idx))
    }

    /// Ends a hold this process has on a slot (a reservation, or a message taken when
    /// `consumer`): moves its stamp `turns` turns on, with nobody named in it. `false`,
    /// changing nothing, if the claim is not one this process holds.
    fn end_hold(&self, c: Claim, consumer: bool, turns: u32) -> bool {
        let Some(slot) = self.held_stamp(c, consumer) else {
            return false;
        };
        if consumer || turns == 2 {
            // Read, or given up: the slot's buffer (pooled queues) goes back.
            self.slots.unassign(c.idx, turn_of(c.stamp) & !1);
        }
        let next = pack(turn_of(c.stamp).wrapping_add(turns), 0);
        slot.compare_exchange(c.stamp, next, Release, Relaxed)
            .is_ok()
    }

    /// Publishes a reserved slot (its message is then delivered like a put's) and wakes
    /// a consumer if one sleeps. `false`, changing nothing, if the claim is not one this
    /// process holds (already ended, or not a reservation).
    pub(crate) fn commit(&self, c: Claim) -> bool {
        if !self.end_hold(c, false, 1) {
            return false;
        }
        self.after_put(1);
        true
    }

    /// Gives a reserved slot up unpublished: it is marked skipped, exactly as the slot
    /// of a producer that died (consumers step over it; the next lap's producer reuses
    /// it). `false`, changing nothing, if the claim is not one this process holds.
    pub(crate) fn abort(&self, c: Claim) -> bool {
        if !self.skip_held(c) {
            return false;
        }
        self.finish_tasks(1);
        true
    }

    /// Marks a slot this process holds as a producer skipped (two turns on), exactly
    /// as a dead producer's slot, and wakes whoever it stood in the way of. `false`,
    /// changing nothing, if the claim is not one this process holds.
    fn skip_held(&self, c: Claim) -> bool {
        if !self.end_hold(c, false, 2) {
            return false;
        }
        let _ = self
            .ctl()
            .head
            .compare_exchange(c.pos, self.next(c.pos), Relaxed, Relaxed);
        // Consumers stuck on this slot move on; the next lap's producer may use it.
        self.after_put(1);
        self.after_get(1);
        true
    }

    /// Takes the oldest published message to be read in place, without waiting; its
    /// slot stays ours (producers cannot reuse it) until [`Ring::release`].
    pub(crate) fn try_take(&self) -> Result<Claim, TryGet> {
        let r = self.claim_get(primitive::pid()).map(|(c, _)| c);
        if let Err(TryGet::Empty(Some(b))) = r {
            self.maybe_reap(b);
        }
        r
    }

    /// Blocking [`Ring::try_take`]: the next message, or `Closed` once the queue is
    /// closed and drained, or `Timeout` (as [`Ring::get`]).
    pub(crate) fn take(&self, spin: Duration, deadline: Option<Instant>) -> Waited<Claim> {
        self.wait_for(Word::NotEmpty, spin, deadline, || match self.try_take() {
            Ok(c) => Step::Done(c),
            Err(TryGet::Empty(Some(_))) => Step::Blocked(true),
            Err(TryGet::Empty(None)) if self.is_closed() => match self.try_take() {
                Ok(c) => Step::Done(c),
                Err(TryGet::Empty(Some(_))) => Step::Blocked(true),
                Err(TryGet::Empty(None)) => Step::Closed,
                Err(TryGet::Done) => Step::Blocked(false),
            },
            Err(_) => Step::Blocked(false),
        })
    }

    /// Hands a taken slot back to the producers and wakes one if any sleeps. `false`,
    /// changing nothing, if the claim is not a message this process holds.
    pub(crate) fn release(&self, c: Claim) -> bool {
        if !self.end_hold(c, true, 1) {
            return false;
        }
        self.after_get(1);
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.ctl().closed.load(Acquire) != 0
    }

    /// Closes the queue and wakes every sleeper.
    pub(crate) fn close(&self) {
        let ctl = self.ctl();
        ctl.closed.store(1, Release);
        fence(SeqCst);
        for w in [Word::NotEmpty, Word::NotFull] {
            let (_, waiting, _) = self.word(w);
            if waiting.load(Acquire) > 0 {
                self.wake(w, u32::MAX);
            }
        }
    }

    /// Blocking put: spins for `spin`, then sleeps; `deadline` bounds the whole wait.
    pub(crate) fn put(&self, v: &S::Item, spin: Duration, deadline: Option<Instant>) -> Waited<()> {
        self.wait_for(Word::NotFull, spin, deadline, || match self.try_put(v) {
            TryPut::Done => Step::Done(()),
            TryPut::Closed => Step::Closed,
            TryPut::Full(b) => Step::Blocked(b.is_some()),
        })
    }

    /// Blocking get: the next message into `out`, or `Closed` once the queue is closed
    /// and drained, or `Timeout`.
    pub(crate) fn get(
        &self,
        spin: Duration,
        deadline: Option<Instant>,
        out: &mut S::Out,
    ) -> Waited<()> {
        self.wait_for(Word::NotEmpty, spin, deadline, || match self.try_get(out) {
            TryGet::Done => Step::Done(()),
            // A slot being written is not the end, even after close.
            TryGet::Empty(Some(_)) => Step::Blocked(true),
            TryGet::Empty(None) if self.is_closed() => {
                // A put that published just before the close: take it.
                match self.try_get(out) {
                    TryGet::Done => Step::Done(()),
                    TryGet::Empty(Some(_)) => Step::Blocked(true),
                    TryGet::Empty(None) => Step::Closed,
                }
            }
            TryGet::Empty(None) => Step::Blocked(false),
        })
    }

    /// Records that a get took a message without waiting (see [`Ring::wait_for`]).
    pub(crate) fn note_behind(&self) {
        if !self.behind.load(Relaxed) {
            self.behind.store(true, Relaxed);
        }
    }

    /// A consumer that was behind its producers and now finds the queue empty has
    /// caught up with a producer that is probably still producing: looking at the head
    /// again and again would pull the cache lines the producer is writing, slot after
    /// slot, and slow both down (a bounded stream then ran at half speed between two
    /// cores, in about half the runs). Instead it lets the producer get
    /// [`CATCH_UP_LEAD`] slots ahead, watching the stamp of that one slot, for at most
    /// [`CATCH_UP_WAIT`] (and not past `deadline`); then the consumer follows a few
    /// cache lines behind. Only in queues of at least twice [`CATCH_UP_LEAD`] slots. A consumer that waited for its last message (ping-pong,
    /// sparse messages) never gets here, so its latency is not affected; the first
    /// message after a burst can be seen up to [`CATCH_UP_WAIT`] late.
    fn let_producer_lead(&self, deadline: Option<Instant>) {
        if self.cap < 2 * CATCH_UP_LEAD {
            return;
        }
        let target = self.ahead(self.sane(self.ctl().head.load(Relaxed)), CATCH_UP_LEAD);
        let slot = self.slots.stamp(self.index(target) as usize);
        let published = self.put_turn(target).wrapping_add(1);
        let start = Instant::now();
        loop {
            // Yield, not spin: a producer sharing this CPU runs at once, and one on
            // another CPU is looked at a few times per microsecond, not more.
            primitive::yield_now();
            // Published (or already taken, or later): the producer is that far ahead.
            if turn_of(slot.load(Relaxed)).wrapping_sub(published) as i32 >= 0 {
                return;
            }
            let now = Instant::now();
            if now.duration_since(start) >= CATCH_UP_WAIT || deadline.is_some_and(|d| now >= d) {
                return;
            }
        }
    }

    /// The generic wait: try, spin, then register and sleep on `w`, re-trying after
    /// every wake-up. `attempt` reports `Blocked(true)` when a slot held by another
    /// process is in the way (sleeps are then short, so its holder's death is noticed).
    fn wait_for<T>(
        &self,
        w: Word,
        spin: Duration,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Step<T>,
    ) -> Waited<T> {
        let consumer = matches!(w, Word::NotEmpty);
        match attempt() {
            Step::Done(v) => {
                if consumer {
                    self.note_behind();
                }
                return Waited::Done(v);
            }
            Step::Closed => return Waited::Closed,
            Step::Blocked(_) => {}
        }
        if primitive::TIMED && !spin.is_zero() {
            if consumer && self.behind.swap(false, Relaxed) {
                self.let_producer_lead(deadline);
            }
            let start = Instant::now();
            // A producer facing a full queue backs off between looks (see FULL_BACKOFF).
            let backoff = match w {
                Word::NotFull if self.cap >= 2 * CATCH_UP_LEAD => FULL_BACKOFF,
                Word::NotFull => 0,
                Word::NotEmpty | Word::Join => 0,
            };
            let mut spinner = primitive::Spinner::new(&self.spin_memory, YIELD_EVERY);
            loop {
                if backoff > 0 {
                    for _ in 0..backoff {
                        primitive::spin_hint();
                    }
                    primitive::yield_now();
                } else {
                    spinner.turn();
                }
                match attempt() {
                    Step::Done(v) => {
                        if backoff == 0 {
                            spinner.done();
                        }
                        return Waited::Done(v);
                    }
                    Step::Closed => return Waited::Closed,
                    Step::Blocked(_) => {}
                }
                if backoff > 0 || spinner.check_clock() {
                    let now = Instant::now();
                    if deadline.is_some_and(|d| now >= d) {
                        return Waited::Timeout;
                    }
                    if now.duration_since(start) >= spin {
                        break;
                    }
                }
            }
        }
        let (word, waiting, futex) = self.word(w);
        let mut slept = false;
        loop {
            let now = primitive::TIMED.then(Instant::now);
            if let (Some(d), Some(now)) = (deadline, now) {
                if now >= d {
                    if slept {
                        self.pass_on(w);
                    }
                    return Waited::Timeout;
                }
            }
            let seen = word.load(Acquire);
            waiting.fetch_add(1, SeqCst);
            let fenced = self.sleeper_barrier(w);
            let step = attempt();
            let held = match step {
                Step::Blocked(held) => held,
                Step::Done(v) => {
                    waiting.fetch_sub(1, Release);
                    return Waited::Done(v);
                }
                Step::Closed => {
                    waiting.fetch_sub(1, Release);
                    return Waited::Closed;
                }
            };
            let timeout = match (primitive::TIMED, now) {
                (true, Some(now)) => {
                    let slice = if held {
                        GRACE
                    } else if !fenced {
                        UNFENCED_SLICE
                    } else {
                        SLICE
                    };
                    Some(match deadline {
                        Some(d) => slice.min(d.saturating_duration_since(now)),
                        None => slice,
                    })
                }
                _ => None,
            };
            futex.wait(word, seen, timeout);
            waiting.fetch_sub(1, Release);
            slept = true;
        }
    }

    /// A sleeper giving up after a wake-up may have swallowed it: if the condition it
    /// waited for holds and others sleep, wake one of them instead.
    fn pass_on(&self, w: Word) {
        let ready = match w {
            Word::NotEmpty => self.len() > 0,
            Word::NotFull => self.len() < self.cap,
            Word::Join => true,
        };
        if ready {
            fence(SeqCst);
            let (_, waiting, _) = self.word(w);
            if waiting.load(Acquire) > 0 {
                self.wake(w, 1);
            }
        }
    }

    /// If the slot in our way has shown the same stamp for [`GRACE`] and its holder is
    /// dead, repairs it: skips a dead producer's slot, frees a dead consumer's.
    /// Returns whether it repaired something.
    fn maybe_reap(&self, b: Blocker) -> bool {
        let owner = owner_of(b.stamp);
        if owner == 0 {
            return false;
        }
        if primitive::TIMED {
            let Ok(mut suspect) = self.suspect.try_lock() else {
                return false;
            };
            let now = Instant::now();
            match &mut *suspect {
                Some(s) if s.blocker == b => {
                    if now.duration_since(s.since) < GRACE {
                        return false;
                    }
                    s.since = now;
                }
                other => {
                    *other = Some(Suspect {
                        blocker: b,
                        since: now,
                    });
                    return false;
                }
            }
        }
        if primitive::pid_alive(owner) {
            return false;
        }
        self.repair(b)
    }

    /// Repairs a slot whose holder is known dead (see [`Ring::maybe_reap`]).
    fn repair(&self, b: Blocker) -> bool {
        let ctl = self.ctl();
        let turn = turn_of(b.stamp);
        let producer_died = turn % 2 == 0;
        // Either way the slot becomes empty for the next lap's producer.
        let fresh = if producer_died {
            pack(turn.wrapping_add(2), 0)
        } else {
            pack(turn.wrapping_add(1), 0)
        };
        // The dead holder's buffer (pooled queues) goes back first, so the next lap's
        // producer finds one free. It is found by its owner word, which names this
        // slot and claim: a second reaper, or a later claim of the slot, is not hurt.
        self.slots.reclaim(b.idx, turn & !1);
        if self
            .slots
            .stamp(b.idx)
            .compare_exchange(b.stamp, fresh, AcqRel, Relaxed)
            .is_err()
        {
            return false;
        }
        if producer_died {
            ctl.skipped_dead_producers.fetch_add(1, Relaxed);
            let _ = ctl
                .head
                .compare_exchange(b.pos, self.next(b.pos), Relaxed, Relaxed);
        } else {
            ctl.dropped_dead_consumers.fetch_add(1, Relaxed);
        }
        // That message will never be taken, or never be marked done.
        self.finish_tasks(1);
        self.after_get(1);
        true
    }

    /// Messages in the ring now, counting slots being written or read (approximate
    /// while others work).
    pub(crate) fn len(&self) -> u64 {
        let ctl = self.ctl();
        let mut tail = ctl.tail.load(Acquire);
        let mut head = ctl.head.load(Acquire);
        for _ in 0..8 {
            let again = ctl.tail.load(Acquire);
            if again == tail {
                break;
            }
            tail = again;
            head = ctl.head.load(Acquire);
        }
        queue_len(head, tail, self.cap)
    }

    /// Raw head and tail positions.
    pub(crate) fn positions(&self) -> (u64, u64) {
        let ctl = self.ctl();
        (ctl.head.load(Acquire), ctl.tail.load(Acquire))
    }

    /// Walks every slot: (being written by a live producer, being read by a live
    /// consumer, held by a dead producer, held by a dead consumer).
    pub(crate) fn scan_holders(&self) -> [u64; 4] {
        let mut counts = [0u64; 4];
        for idx in 0..self.cap as usize {
            if let Some(i) = holder_class(self.slots.stamp(idx).load(Acquire)) {
                counts[i] += 1;
            }
        }
        counts
    }

    /// Test hook: claims the next slot (as a producer, or as a consumer) the way a put
    /// or get does, and then abandons it, as a process killed right after its claim
    /// would. Returns whether it claimed a slot.
    pub(crate) fn claim_and_abandon(&self, consumer: bool) -> bool {
        let ctl = self.ctl();
        let counter = if consumer { &ctl.head } else { &ctl.tail };
        let pos = self.sane(counter.load(Relaxed));
        let slot = self.slots.stamp(self.index(pos) as usize);
        let want = self.put_turn(pos).wrapping_add(u32::from(consumer));
        let claimed = slot
            .compare_exchange(
                pack(want, 0),
                pack(want, primitive::pid()),
                Acquire,
                Relaxed,
            )
            .is_ok();
        if claimed && !consumer {
            // A producer killed mid-copy holds a buffer too (pooled queues).
            // SAFETY: the slot's index is below the capacity (`index`), and we hold it
            // with the producers' turn.
            let _ = unsafe { self.slots.assign(self.index(pos) as usize, false) };
        }
        claimed
    }

    // ---- JoinableQueue -------------------------------------------------------------

    /// Counts `n` messages as unfinished before they are put (so a fast consumer's
    /// task_done can never run ahead of the count).
    fn count_put(&self, n: u64) {
        if self.joinable && n > 0 {
            self.ctl().unfinished.fetch_add(n, Relaxed);
        }
    }

    /// Removes `n` from the unfinished count (saturating), waking joiners at zero.
    fn finish_tasks(&self, n: u64) {
        if !self.joinable || n == 0 {
            return;
        }
        let _ = self.task_done_n(n, true);
    }

    /// Marks one message done. `Err(())` if more were marked done than were put.
    pub(crate) fn task_done(&self) -> Result<(), ()> {
        self.task_done_n(1, false)
    }

    fn task_done_n(&self, n: u64, saturate: bool) -> Result<(), ()> {
        let ctl = self.ctl();
        let mut cur = ctl.unfinished.load(Acquire);
        let left = loop {
            if cur < n && !saturate {
                return Err(());
            }
            let new = cur.saturating_sub(n);
            match ctl.unfinished.compare_exchange(cur, new, AcqRel, Acquire) {
                Ok(_) => break new,
                Err(now) => cur = now,
            }
        };
        if left == 0 {
            fence(SeqCst);
            if ctl.joiners.load(Acquire) > 0 {
                self.wake(Word::Join, u32::MAX);
            }
        }
        Ok(())
    }

    pub(crate) fn unfinished(&self) -> u64 {
        self.ctl().unfinished.load(Acquire)
    }

    /// Waits until every message put has been marked done.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> Waited<()> {
        self.wait_for(Word::Join, Duration::ZERO, deadline, || {
            if self.ctl().unfinished.load(Acquire) == 0 {
                Step::Done(())
            } else {
                Step::Blocked(false)
            }
        })
    }
}

enum Step<T> {
    Done(T),
    Closed,
    /// `true` when a slot held by another process is in the way.
    Blocked(bool),
}

/// The slots of a queue segment's data area, whatever the element: the geometry and
/// the stamps, and for a pooled queue its buffer pool.
pub(crate) struct SlotArea {
    base: NonNull<u8>,
    stride: usize,
    value_offset: usize,
    cap: usize,
    /// A pooled queue's pool (boxed: the hot path of other queues stays as it was).
    pool: Option<Box<Pool>>,
}

// ---- Pooled queues ----------------------------------------------------------------
//
// A copy into a queue of large messages runs at cache speed only while the producer's
// working set (its source and the slot it writes) fits its core's L2. In ring order a
// producer writes a different slot every time, so a queue of a few 1 MiB slots keeps
// it copying at L3 speed (about 0.65-0.7 of the L2 figure on this project's machine).
// Elements of `POOL_MIN_ELEM` bytes or more therefore live in a pool of buffers behind
// the ring: each ring slot (one cache line) holds its stamp and the index of its
// message's buffer, and a put takes, first, the buffer its handle wrote last, waiting
// for it a little while its consumer is about to hand it back (so a consumer that
// keeps up gets every message through one buffer, still in the producer's cache),
// then the next free buffer after it.
//
// Each buffer starts with an owner word (in the cache line where the element starts,
// so a message whose first bytes are all that is read or written moves no extra line):
// 0 when free, else the claim that holds it (the producers' turn and the slot index).
// A producer takes a buffer by compare-and-swap from 0 to its claim, then records the
// buffer's index in its slot, then publishes the slot; a consumer copies out (or reads in place), then frees the buffer by
// compare-and-swap from that claim back to 0, then releases the slot. So a slot in use
// owns at most one buffer, and a producer that just claimed a slot always finds a free
// one (there are as many buffers as slots). Whoever repairs the slot of a dead holder
// frees the buffers whose owner word names that claim (found by scanning, since a
// producer may have died between taking the buffer and recording it); a later claim of
// the same slot has another turn, so a late repair never frees its buffer.

/// Elements at least this large live in a buffer pool behind the ring (see above).
pub(crate) const POOL_MIN_ELEM: usize = 64 << 10;
/// The slot stride of a pooled queue: one cache line, the stamp then the buffer index.
pub(crate) const POOLED_SLOT: usize = 64;
/// Where a pooled queue's slot keeps its buffer's index (a `u32`).
pub(crate) const POOLED_INDEX_OFFSET: usize = 8;
/// The largest capacity of a pooled queue (an owner word packs the slot index + 1 into
/// 32 bits).
pub(crate) const POOLED_MAX_CAPACITY: u64 = (1 << 31) - 1;
/// The longest a put waits for the buffer its handle wrote last.
const HOT_WAIT_MAX: Duration = Duration::from_micros(5);
/// A producer waiting for the buffer it wrote last yields its CPU every this many turns
/// (and at once when its consumer shares the CPU: `primitive::Spinner`).
const HOT_YIELD_EVERY: u32 = 64;
/// A pool of at most this many bytes does not wait for the buffer written last (it fits
/// in half of a core's L2 on this project's machine, which has 2 MiB per core).
const HOT_POOL_MIN: usize = 1 << 20;
/// How many times a producer walks the owner words before it gives up (only hostile
/// bytes make it give up: a free buffer always exists for a fresh claim).
const POOL_PASSES: u32 = 64;

/// The geometry of a pooled queue's data area: `cap` ring slots of [`POOLED_SLOT`]
/// bytes, then from `buffers_offset` (aligned to the element, and to 64) `cap` buffers
/// of `stride` bytes, each its owner word then the element at `value_offset` (as a
/// slot of an unpooled queue has its stamp then the element).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolGeometry {
    pub(crate) buffers_offset: usize,
    pub(crate) stride: usize,
    pub(crate) value_offset: usize,
    pub(crate) data_len: usize,
}

/// A pooled queue's buffer stride for elements of `size` bytes aligned to `align`: the
/// owner word and the element, rounded up to 64 and to the alignment.
pub(crate) fn pool_stride(size: usize, align: usize) -> Option<usize> {
    let a = align.max(64);
    let raw = value_offset(align).checked_add(size)?;
    Some(raw.checked_add(a - 1)? & !(a - 1))
}

/// The layout of a pooled queue of `cap` buffers of `stride` bytes (elements aligned to
/// `align`); `None` if it overflows.
pub(crate) fn pool_geometry(cap: usize, align: usize, stride: usize) -> Option<PoolGeometry> {
    let a = align.max(64);
    let buffers_offset = cap.checked_mul(POOLED_SLOT)?.checked_add(a - 1)? & !(a - 1);
    let data_len = buffers_offset.checked_add(cap.checked_mul(stride)?)?;
    Some(PoolGeometry {
        buffers_offset,
        stride,
        value_offset: value_offset(align),
        data_len,
    })
}

/// The owner word of a buffer held by the claim of slot `idx` with the producers' turn
/// `put_turn` (never 0: `idx` is below [`POOLED_MAX_CAPACITY`]).
fn owner_tag(put_turn: u32, idx: usize) -> u64 {
    (u64::from(put_turn) << 32) | (idx as u64 + 1)
}

/// A pooled queue's buffers, as one handle sees them.
pub(crate) struct Pool {
    buffers: NonNull<u8>,
    stride: usize,
    value_offset: usize,
    count: usize,
    /// How long a put waits for the buffer this handle wrote last: an eighth of what
    /// copying a message takes at 32 GiB/s (1 ns per 256 bytes), at most
    /// [`HOT_WAIT_MAX`].
    hot_wait: Duration,
    /// The buffer this handle wrote last (`u32::MAX`: none yet). Per handle, a hint.
    last: std::sync::atomic::AtomicU32,
    /// How many takes in a row found the buffer written last still held (0 after a
    /// hit). Per handle, a hint.
    misses: std::sync::atomic::AtomicU32,
    /// How this handle's last wait for a buffer ended (see `primitive::Spinner`).
    spin: primitive::SpinMemory,
}

impl Pool {
    /// Buffer `b`'s owner word (`b` below the count).
    fn owner(&self, b: usize) -> &std::sync::atomic::AtomicU64 {
        assert!(b < self.count, "buffer {b} out of {}", self.count);
        // SAFETY:
        // - b < count: the word starts buffer b, inside the data area, 8-aligned (the
        //   data area is 64-aligned, the buffers' offset and stride multiples of 64),
        //   in the mapping that outlives the pool.
        // - every process accesses owner words only atomically.
        unsafe {
            std::sync::atomic::AtomicU64::from_ptr(
                self.buffers.as_ptr().add(b * self.stride).cast::<u64>(),
            )
        }
    }

    /// Buffer `b`'s element (`b` below the count).
    fn buffer(&self, b: usize) -> *mut u8 {
        assert!(b < self.count, "buffer {b} out of {}", self.count);
        // SAFETY: b < count: the buffer lies inside the data area, and its element at
        // `value_offset` inside the buffer.
        unsafe {
            self.buffers
                .as_ptr()
                .add(b * self.stride + self.value_offset)
        }
    }

    /// Takes buffer `b` for the claim `tag` if it is free.
    fn grab(&self, b: usize, tag: u64) -> bool {
        let o = self.owner(b);
        // Acquire: the consumer that freed it has finished reading it.
        o.load(Relaxed) == 0 && o.compare_exchange(0, tag, Acquire, Relaxed).is_ok()
    }

    /// Takes a buffer for the claim `tag`: the one this handle wrote last if it is free
    /// (with `hot`, waiting up to `hot_wait` for it), else the next free one after it.
    fn take(&self, tag: u64, hot: bool) -> Option<usize> {
        let last = self.last.load(Relaxed) as usize;
        let mut got = None;
        // A reservation (not `hot`) whose last tries at the buffer written last failed
        // (its consumer lags) looks there only now and then: the look pulls the line
        // the consumer is reading.
        let misses = self.misses.load(Relaxed);
        if last < self.count && (hot || misses % 16 == 0) {
            if self.grab(last, tag) {
                got = Some(last);
            } else if hot && primitive::TIMED && !self.hot_wait.is_zero() {
                // Yielding as any wait does: a consumer on our CPU must run to hand the
                // buffer back.
                let mut spinner = primitive::Spinner::new(&self.spin, HOT_YIELD_EVERY);
                let start = Instant::now();
                while start.elapsed() < self.hot_wait {
                    spinner.turn();
                    if self.grab(last, tag) {
                        spinner.done();
                        got = Some(last);
                        break;
                    }
                }
            }
        }
        // Counts looks at the buffer written last that failed or were skipped.
        let next = if last >= self.count || got.is_some() {
            0
        } else {
            misses.wrapping_add(1)
        };
        if next != misses {
            self.misses.store(next, Relaxed);
        }
        let first = if last < self.count { last + 1 } else { 0 };
        'passes: for pass in 0..POOL_PASSES {
            if got.is_some() {
                break;
            }
            for k in 0..self.count {
                let b = (first + k) % self.count;
                if self.grab(b, tag) {
                    got = Some(b);
                    break 'passes;
                }
            }
            // Another producer took the free buffer we were heading for while a
            // consumer freed one behind us: look again.
            if pass > 0 {
                primitive::yield_now();
            }
        }
        let b = got?;
        self.last.store(b as u32, Relaxed);
        Some(b)
    }

    /// Frees buffer `b` if the claim `tag` holds it.
    fn free(&self, b: usize, tag: u64) {
        let o = self.owner(b);
        // Release: our reads of it happen before its next writer's.
        if o.load(Relaxed) == tag {
            let _ = o.compare_exchange(tag, 0, Release, Relaxed);
        }
    }
}

// SAFETY: the slots are shared memory accessed through atomics (stamps) and through
// copies made only by the slot's holder; the bytes are plain data.
unsafe impl Send for SlotArea {}
// SAFETY: as above.
unsafe impl Sync for SlotArea {}

/// Where a `T` sits in a slot: after the 8-byte stamp, aligned for `T`.
pub(crate) fn value_offset(align: usize) -> usize {
    align.max(8)
}

/// The distance between slots for a `T`: stamp and value, rounded up to the alignment.
pub(crate) fn slot_stride(size: usize, align: usize) -> Option<usize> {
    let a = align.max(8);
    let raw = value_offset(align).checked_add(size)?;
    Some(raw.checked_add(a - 1)? & !(a - 1))
}

impl SlotArea {
    /// # Safety
    /// - `base` points to `cap * stride` bytes of mapped, writable memory that outlive
    ///   this value, 8-aligned and aligned for the element type.
    /// - `stride` is a multiple of 8 and of the element's alignment; `value_offset` is
    ///   a multiple of the element's alignment, at least 8, and `value_offset` plus the
    ///   element's size is at most `stride`.
    ///
    /// With `pool` (a pooled queue): `stride` is [`POOLED_SLOT`], `value_offset`
    /// [`POOLED_INDEX_OFFSET`], `cap` is at most [`POOLED_MAX_CAPACITY`], and `base`
    /// points to the pool's whole `data_len` bytes; its buffers hold `elem_size`-byte
    /// elements.
    pub(crate) unsafe fn new(
        base: NonNull<u8>,
        cap: usize,
        stride: usize,
        value_offset: usize,
        pool: Option<(PoolGeometry, usize)>,
    ) -> Self {
        let pool = pool.map(|(g, elem_size)| {
            Box::new(Pool {
                // SAFETY: the offset lies inside the data area (constructor contract).
                buffers: unsafe { base.add(g.buffers_offset) },
                stride: g.stride,
                value_offset: g.value_offset,
                count: cap,
                // A pool that fits in half a core's L2 stays cached whichever buffer a
                // put takes: waiting for one would only cost time.
                hot_wait: if cap.saturating_mul(g.stride) <= HOT_POOL_MIN {
                    Duration::ZERO
                } else {
                    Duration::from_nanos((elem_size / 256) as u64).min(HOT_WAIT_MAX)
                },
                last: std::sync::atomic::AtomicU32::new(u32::MAX),
                misses: std::sync::atomic::AtomicU32::new(0),
                spin: primitive::SpinMemory::default(),
            })
        });
        SlotArea {
            base,
            stride,
            value_offset,
            cap,
            pool,
        }
    }

    #[inline]
    fn slot(&self, idx: usize) -> *mut u8 {
        assert!(idx < self.cap, "slot index {idx} out of {} slots", self.cap);
        // SAFETY: idx < cap, so the slot lies inside the `cap * stride` bytes.
        unsafe { self.base.as_ptr().add(idx * self.stride) }
    }

    /// The element's bytes in slot `idx`.
    ///
    /// # Safety
    /// `idx` is below the capacity (then this cannot panic).
    #[inline]
    unsafe fn value(&self, idx: usize) -> *mut u8 {
        // SAFETY:
        // - idx < cap (the caller's contract), so `slot` does not panic and the slot is
        //   inside the data area.
        // - `value_offset` is inside the slot (constructor contract).
        let own = unsafe { self.slot(idx).add(self.value_offset) };
        match &self.pool {
            None => own,
            Some(p) => self.pooled_value(p, idx),
        }
    }

    /// A pooled slot's buffer: the slot holds its index (a hostile index is replaced by
    /// 0, any in-bounds buffer: the bytes are untrusted anyway).
    #[cold]
    fn pooled_value(&self, p: &Pool, idx: usize) -> *mut u8 {
        p.buffer(self.index_word(idx).map_or(0, |b| b as usize))
    }

    /// A pooled slot's buffer index, if it is below the count.
    fn index_word(&self, idx: usize) -> Option<u32> {
        let p = self.pool.as_ref()?;
        // SAFETY:
        // - `slot` checks idx < cap; the index word is 4 bytes at offset 8 of the
        //   64-byte slot, 4-aligned, inside the mapping.
        // - every process accesses it only atomically.
        let w = unsafe {
            std::sync::atomic::AtomicU32::from_ptr(self.slot(idx).add(POOLED_INDEX_OFFSET).cast())
        };
        // Relaxed: written before the slot's stamp is published (release), read after
        // it is claimed (acquire).
        let b = w.load(Relaxed);
        ((b as usize) < p.count).then_some(b)
    }

    #[inline(always)]
    fn pooled(&self) -> bool {
        self.pool.is_some()
    }

    /// See [`Slots::assign`].
    ///
    /// # Safety
    /// As [`Slots::assign`].
    unsafe fn assign(&self, idx: usize, hot: bool) -> bool {
        let Some(p) = &self.pool else {
            return true;
        };
        // Our claim's stamp: it names us with the producers' turn until we publish.
        let tag = owner_tag(turn_of(self.stamp(idx).load(Relaxed)), idx);
        let Some(b) = p.take(tag, hot) else {
            return false;
        };
        // SAFETY: as in `index_word`; we hold the slot, so only we write the word.
        let w = unsafe {
            std::sync::atomic::AtomicU32::from_ptr(self.slot(idx).add(POOLED_INDEX_OFFSET).cast())
        };
        w.store(b as u32, Relaxed);
        true
    }

    /// See [`Slots::unassign`].
    fn unassign(&self, idx: usize, put_turn: u32) {
        if let (Some(p), Some(b)) = (&self.pool, self.index_word(idx)) {
            p.free(b as usize, owner_tag(put_turn, idx));
        }
    }

    /// See [`Slots::reclaim`].
    fn reclaim(&self, idx: usize, put_turn: u32) {
        if let Some(p) = &self.pool {
            let tag = owner_tag(put_turn, idx);
            for b in 0..p.count {
                p.free(b, tag);
            }
        }
    }

    /// The element's bytes in slot `idx`; panics if `idx` is not below the capacity.
    fn value_ptr(&self, idx: usize) -> NonNull<u8> {
        assert!(idx < self.cap, "slot index {idx} out of {} slots", self.cap);
        // SAFETY:
        // - idx < cap was just checked, so `value` cannot panic and points inside the
        //   mapping, which is not null.
        unsafe { NonNull::new_unchecked(self.value(idx)) }
    }

    #[cfg(loom)]
    fn stamp(&self, _idx: usize) -> &AtomicU64 {
        unimplemented!("segments are not modelled under loom; the models use heap slots")
    }

    #[cfg(not(loom))]
    #[inline]
    fn stamp(&self, idx: usize) -> &AtomicU64 {
        // SAFETY:
        // - the slot starts with an 8-byte stamp, 8-aligned (base alignment, stride a
        //   multiple of 8), inside the mapping that outlives `self`.
        // - every process accesses stamps only atomically.
        unsafe { AtomicU64::from_ptr(self.slot(idx).cast()) }
    }
}

/// A segment's slots holding `T`s ([`Queue<T>`](super::Queue)).
pub(crate) struct SegSlots<T> {
    area: SlotArea,
    _t: std::marker::PhantomData<T>,
}

impl<T> SegSlots<T> {
    /// # Safety
    /// As [`SlotArea::new`], for the element type `T` (its size and alignment).
    pub(crate) unsafe fn new(
        base: NonNull<u8>,
        cap: usize,
        stride: usize,
        value_offset: usize,
        pool: Option<PoolGeometry>,
    ) -> Self {
        let pool = pool.map(|g| (g, std::mem::size_of::<T>()));
        SegSlots {
            // SAFETY:
            // - the caller's contract is SlotArea's, for T.
            area: unsafe { SlotArea::new(base, cap, stride, value_offset, pool) },
            _t: std::marker::PhantomData,
        }
    }
}

impl<T: Copy + Send + Sync> Slots for SegSlots<T> {
    type Item = T;
    type Out = T;

    #[inline]
    fn stamp(&self, idx: usize) -> &AtomicU64 {
        self.area.stamp(idx)
    }

    #[inline]
    unsafe fn write(&self, idx: usize, v: &T) {
        // SAFETY:
        // - idx < cap (our caller's contract); the value sits at `value_offset`,
        //   aligned for T, inside the slot.
        // - the caller holds the slot, so no cooperating process reads or writes it.
        // - a copy between pointers, never through a `T` on the stack (a `T` may be
        //   megabytes); `v` is caller memory, which cannot overlap the slot.
        unsafe { std::ptr::copy_nonoverlapping(v, self.area.value(idx).cast::<T>(), 1) }
    }

    #[inline]
    unsafe fn read(&self, idx: usize, out: &mut T) {
        // SAFETY:
        // - as in `write`; the caller holds the slot after its producer published it.
        // - T is Shareable (FromBytes): any bytes form a valid T, even if a hostile
        //   process scribbled over the slot.
        // - copied between pointers (as in `write`); `out` is caller memory.
        unsafe { std::ptr::copy_nonoverlapping(self.area.value(idx).cast::<T>(), out, 1) }
    }

    #[inline(always)]
    fn area(&self) -> Option<&SlotArea> {
        Some(&self.area)
    }
}

impl<T> SegSlots<T> {
    /// Where the `T` of slot `idx` lives. Panics if `idx` is not below the capacity.
    /// Reading or writing through it is sound only while holding the slot.
    pub(crate) fn value_ptr(&self, idx: usize) -> NonNull<T> {
        self.area.value_ptr(idx).cast()
    }
}

/// A segment's slots holding elements whose size is known at run time
/// ([`DynQueue`](super::DynQueue)): messages are copied in and out as bytes.
pub(crate) struct ByteSlots {
    area: SlotArea,
    size: usize,
}

impl ByteSlots {
    /// # Safety
    /// As [`SlotArea::new`], for elements of `size` bytes.
    pub(crate) unsafe fn new(
        base: NonNull<u8>,
        cap: usize,
        stride: usize,
        value_offset: usize,
        size: usize,
        pool: Option<PoolGeometry>,
    ) -> Self {
        ByteSlots {
            // SAFETY:
            // - the caller's contract is SlotArea's, for `size`-byte elements.
            area: unsafe {
                SlotArea::new(base, cap, stride, value_offset, pool.map(|g| (g, size)))
            },
            size,
        }
    }
}

impl Slots for ByteSlots {
    type Item = [u8];
    type Out = [u8];

    #[inline]
    fn stamp(&self, idx: usize) -> &AtomicU64 {
        self.area.stamp(idx)
    }

    unsafe fn write(&self, idx: usize, v: &[u8]) {
        // SAFETY:
        // - idx < cap (our caller's contract), so the element's `size` bytes at
        //   `value_offset` are inside the slot, in the writable mapping.
        // - `v` is exactly `size` bytes (our caller's contract) of caller memory, which
        //   cannot overlap the slot we hold; the copy goes into shared memory, no
        //   reference into it is made.
        // - the caller holds the slot, so no cooperating process reads or writes it.
        unsafe { crate::segment::copy_out(&v[..self.size.min(v.len())], self.area.value(idx)) }
    }

    unsafe fn read(&self, idx: usize, out: &mut [u8]) {
        let n = self.size.min(out.len());
        // SAFETY:
        // - as in `write`: `n` <= size bytes inside the slot we hold, copied out into
        //   caller memory (any bytes are a valid element: plain data).
        unsafe { crate::segment::copy_in(self.area.value(idx), &mut out[..n]) }
    }

    #[inline(always)]
    fn area(&self) -> Option<&SlotArea> {
        Some(&self.area)
    }
}

impl ByteSlots {
    /// Where the element of slot `idx` lives (`size` bytes). Panics if `idx` is not
    /// below the capacity. Reading or writing through it is sound only while holding
    /// the slot.
    pub(crate) fn value_ptr(&self, idx: usize) -> NonNull<u8> {
        self.area.value_ptr(idx)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::primitive;

    use crate::Queue;
    use std::sync::atomic::Ordering::Acquire;

    /// The control block's counts of handles whose puts, and whose gets, skip the fence.
    fn light(q: &Queue<u64>) -> (u32, u32) {
        let ctl = q.ring().ctl();
        (
            ctl.light_putters.load(Acquire),
            ctl.light_getters.load(Acquire),
        )
    }

    /// A handle that streams (finds nobody to wake) stops fencing its puts (or gets)
    /// after `LIGHT_AFTER` of them and counts itself; dropping it uncounts it; a forked
    /// child's copy does not skip its fence until it counts itself (in its own
    /// process).
    #[test]
    fn a_streaming_handle_counts_itself_until_dropped() {
        let name = format!("ring-light-{}", std::process::id());
        let a = Queue::<u64>::create(&name, 256).unwrap();
        let b = Queue::<u64>::open(&name).unwrap();
        for i in 0..super::LIGHT_AFTER as u64 - 1 {
            a.put(i).unwrap();
        }
        assert_eq!(light(&a), (0, 0), "fences until LIGHT_AFTER quiet puts");
        a.put(0).unwrap();
        let r = u32::from(primitive::prepare_light_barrier());
        assert_eq!(light(&a), (r, 0));
        for _ in 0..super::LIGHT_AFTER {
            b.get().unwrap();
        }
        assert_eq!(light(&a), (r, r));
        // SAFETY: the child only uses the queue (atomics and system calls) and
        // `_exit`s; it never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let me = primitive::pid();
            let inherited = a.ring().light[super::Side::Put as usize].pid.load(Acquire);
            a.put(1).unwrap();
            b.get().unwrap();
            // Both copies had been quiet long enough: each counted itself at once.
            let ok = inherited != me
                && a.ring().light[super::Side::Put as usize].pid.load(Acquire) == r * me
                && light(&a) == (2 * r, 2 * r);
            // SAFETY: ends the child at once, without running destructors (so the
            // child's counts stay, as for any process that exits without dropping).
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let status = crate::sys::reap_test_child(pid, "the forked child did not finish");
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(light(&a), (2 * r, 2 * r));
        drop(b);
        assert_eq!(light(&a), (2 * r, r));
    }

    /// A handle whose consumers sleep at once finds one to wake nearly every time: its
    /// puts keep their fence (so sleepers need no `membarrier`) for as long as fewer
    /// than `LIGHT_AFTER` puts in a row find nobody. A registered waiter stands in for
    /// the sleeping consumer (the real race depends on the scheduler).
    #[test]
    fn puts_that_find_a_sleeper_keep_their_fence() {
        let name = format!("ring-fenced-{}", std::process::id());
        let a = Queue::<u64>::create(&name, 8).unwrap();
        let b = Queue::<u64>::open(&name).unwrap();
        let waiting = &a.ring().ctl().consumers_waiting;
        for round in 0..4 * u64::from(super::LIGHT_AFTER) {
            // Every other put finds the "sleeper".
            if round % 2 == 0 {
                waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            a.put(round).unwrap();
            if round % 2 == 0 {
                waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
            assert_eq!(b.get().unwrap(), round);
        }
        assert_eq!(light(&a).0, 0, "no run of LIGHT_AFTER quiet puts");
        for round in 0..u64::from(super::LIGHT_AFTER) {
            a.put(round).unwrap();
            b.get().unwrap();
        }
        let r = u32::from(primitive::prepare_light_barrier());
        assert_eq!(light(&a).0, r, "LIGHT_AFTER quiet puts in a row");
    }

    /// A forked child has its own pid and is not registered for `membarrier` by its
    /// parent's registration record: it registers itself before any of its handles
    /// skips a fence, so sleepers' barriers never miss its CPU.
    #[test]
    fn a_forked_child_registers_for_the_light_barrier_itself() {
        let parent_ok = primitive::prepare_light_barrier();
        assert_eq!(
            primitive::light_barrier_state(),
            (primitive::pid(), parent_ok)
        );
        // SAFETY: the child only reads and writes atomics, makes system calls and
        // `_exit`s; it never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let me = primitive::pid();
            let inherited = primitive::light_barrier_state();
            primitive::prepare_light_barrier();
            let ok =
                me != 0 && inherited.0 != me && primitive::light_barrier_state() == (me, parent_ok);
            // SAFETY: ends the child at once, without running the parent's atexit
            // handlers or destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let status = crate::sys::reap_test_child(pid, "the forked child did not finish");
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
