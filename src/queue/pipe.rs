//! [`Pipe`]: a connection between two processes, like Python's
//! `multiprocessing.Pipe()`: each [`PipeEnd`] sends and receives whole messages (bytes
//! or serde values) of any size, and learns when the other end closed or died.
//!
//! ## Design
//! A pipe segment holds two ends (A and B) and, for a duplex pipe, two byte streams
//! (A→B and B→A); a one-way pipe has only B→A (A receives, B sends: Python's
//! `Pipe(duplex=False)` returns the receiving connection first). Each stream is a
//! single-producer single-consumer byte ring of `capacity_bytes`: the sender owns `tail`
//! (bytes written since creation), the receiver owns `head` (bytes read). A message is
//! an 8-byte native-endian length followed by its bytes, *streamed* through the ring:
//! a message larger than the ring is copied in as room appears, while the receiver
//! copies it out. One sender per direction holds the send side for the whole message
//! (threads of a process sharing an end take turns), so messages never interleave.
//!
//! No lock is shared between the processes: the sender writes bytes into free space,
//! then publishes them with a release store of `tail`; the receiver reads them, then
//! frees them with a release store of `head`. A waiting side sleeps on a futex word
//! (the other side only enters the kernel when a sleeper is recorded), in slices, and
//! while it waits it checks that the other end's process is still alive.
//!
//! ## Ends, owners, EOF
//! Each end records the pid of the process that owns it: `create` claims end A,
//! `open` claims end B, and the ends made by [`Pipe::anonymous`] are claimed by the
//! first process that uses them (so that a parent and its forked child each take
//! their own). An end is used by its owner only. Closing an end (or dropping its owning
//! handle) marks it closed. Then, or when its process is found dead:
//! - the other end's `recv` returns what was already sent, then [`Error::Eof`];
//! - the other end's `send` fails with [`Error::BrokenPipe`].
//!
//! A process killed in the middle of a send leaves a partial message: the receiver
//! discards it and reports [`Error::Eof`].
//!
//! Limits: the death of a process is only known through its end's pid, so an
//! anonymous end that its process never used (never claimed) looks alive to the other
//! end, which then waits (use the timeout forms, or have each process use its end
//! early: a send, a receive or a poll claims it). A pid reused by a new process within the
//! liveness interval makes a dead end look alive until that process exits.
//!
//! ## Untrusted memory
//! Positions are checked against the ring (a stream may never hold more bytes than the
//! ring) and lengths against [`MAX_PIPE_MESSAGE`]; inconsistent values give
//! [`Error::Corrupt`]. A receiver grows its buffer with the bytes that actually arrive
//! (reserving at most the larger of the ring and 1 MiB ahead), whatever length a
//! hostile header claims, and a timed receive honours its timeout even inside a message.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, fence};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::WaitPolicy;
use super::message::{SPIN_YIELD_EVERY, decode, encode, split};
use super::primitive::{SpinMemory, Spinner};
use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentInfo, SegmentOptions, Spec};
use crate::sys;
use crate::types::TypeDesc;

/// The length of a pipe's control block in bytes (docs/FORMAT.md).
pub const PIPE_CONTROL_LEN: usize = 384;
/// The largest message a pipe carries (1 TiB).
pub const MAX_PIPE_MESSAGE: u64 = 1 << 40;
/// The largest ring (per direction) a pipe accepts.
pub const MAX_PIPE_RING: usize = 1 << 40;
/// The bytes of a message's length header.
const FRAME_HEADER: u64 = 8;
/// The longest single sleep: a wake-up lost to a crash, or the other end's death,
/// is noticed within about this much.
const SLICE: Duration = Duration::from_millis(20);
/// How long a wait lasts before the other end's process is checked (a system call).
const LIVENESS_AFTER: Duration = Duration::from_millis(2);
/// A send checks the receiver's process at most this often when it does not wait.
const SEND_LIVENESS_EVERY: Duration = Duration::from_millis(10);

/// One end's record (64 bytes).
#[repr(C, align(64))]
struct EndCtl {
    /// 0: the owning process, 0 while unclaimed.
    pid: AtomicU32,
    /// 4: 1 once closed.
    closed: AtomicU32,
    /// 8: messages this end sent.
    sent: AtomicU64,
    /// 16: messages this end received.
    received: AtomicU64,
    _reserved: [u64; 5],
}

/// One direction's stream (128 bytes: the sender's line, then the receiver's).
#[repr(C, align(64))]
struct DirCtl {
    /// 0: bytes written since creation (the sender's).
    tail: AtomicU64,
    /// 8: futex word bumped when bytes arrive or an end closes (receivers sleep on it).
    data: AtomicU32,
    /// 12: receivers registered as sleeping.
    reader_waiting: AtomicU32,
    _pad0: [u64; 6],
    /// 64: bytes read since creation (the receiver's).
    head: AtomicU64,
    /// 72: futex word bumped when room appears or an end closes (senders sleep on it).
    space: AtomicU32,
    /// 76: senders registered as sleeping.
    writer_waiting: AtomicU32,
    _pad1: [u64; 6],
}

/// The control block: ends A and B at 0 and 64, streams A→B and B→A at 128 and 256.
#[repr(C, align(64))]
struct Control {
    ends: [EndCtl; 2],
    dirs: [DirCtl; 2],
}

const _: () = assert!(std::mem::size_of::<EndCtl>() == 64);
const _: () = assert!(std::mem::size_of::<DirCtl>() == 128);
const _: () = assert!(std::mem::size_of::<Control>() == PIPE_CONTROL_LEN);
const _: () = {
    assert!(std::mem::offset_of!(EndCtl, closed) == 4);
    assert!(std::mem::offset_of!(EndCtl, sent) == 8);
    assert!(std::mem::offset_of!(EndCtl, received) == 16);
    assert!(std::mem::offset_of!(DirCtl, data) == 8);
    assert!(std::mem::offset_of!(DirCtl, reader_waiting) == 12);
    assert!(std::mem::offset_of!(DirCtl, head) == 64);
    assert!(std::mem::offset_of!(DirCtl, space) == 72);
    assert!(std::mem::offset_of!(DirCtl, writer_waiting) == 76);
    assert!(std::mem::offset_of!(Control, dirs) == 128);
};

/// Which end of a pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PipeSide {
    /// The end returned by [`Pipe::create`] (and first by [`Pipe::anonymous`]); in a
    /// one-way pipe, the receiving end.
    A,
    /// The end claimed by [`Pipe::open`]; in a one-way pipe, the sending end.
    B,
}

impl PipeSide {
    fn index(self) -> usize {
        match self {
            PipeSide::A => 0,
            PipeSide::B => 1,
        }
    }

    fn other(self) -> PipeSide {
        match self {
            PipeSide::A => PipeSide::B,
            PipeSide::B => PipeSide::A,
        }
    }
}

impl fmt::Display for PipeSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PipeSide::A => "A",
            PipeSide::B => "B",
        })
    }
}

/// Creates and opens pipes; see the [module docs](self).
///
/// ```
/// # let name = format!("doc-pipe-{}", std::process::id());
/// use shmkit::Pipe;
///
/// let a = Pipe::create(&name, true, 4096)?;   // this process: end A
/// let b = Pipe::open(&name)?;                  // another process: end B
/// a.send_bytes(b"ping")?;
/// assert_eq!(b.recv_bytes()?, b"ping");
/// b.send(&("pong", 2u8))?;
/// assert!(a.poll(std::time::Duration::ZERO)?);
/// assert_eq!(a.recv::<(String, u8)>()?, ("pong".to_string(), 2));
/// b.close();
/// assert!(matches!(a.recv_bytes(), Err(shmkit::Error::Eof)));
/// assert!(matches!(a.send_bytes(b"?"), Err(shmkit::Error::BrokenPipe)));
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipe;

impl Pipe {
    /// Creates the pipe `name` with rings of `capacity_bytes` (rounded up to 8) per
    /// direction, and returns end A, owned by this process. Messages of any size pass
    /// through any ring; a larger ring lets a sender run further ahead.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] if `capacity_bytes` is 0 or
    /// above [`MAX_PIPE_RING`].
    pub fn create(name: &str, duplex: bool, capacity_bytes: usize) -> Result<PipeEnd> {
        Self::create_with(name, duplex, capacity_bytes, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options (permissions, persistence).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(
        name: &str,
        duplex: bool,
        capacity_bytes: usize,
        opts: &SegmentOptions,
    ) -> Result<PipeEnd> {
        let seg = segment::create_named(name, spec(duplex, capacity_bytes)?, opts, |s| {
            claim_at_init(s, 0);
            Ok(())
        })?;
        PipeEnd::wrap(Arc::new(seg), PipeSide::A, name)
    }

    /// Opens the pipe `name` and claims its end B for this process.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`], [`Error::Corrupt`] if the
    /// geometry does not hold together, [`Error::InvalidArgument`] if end B already
    /// belongs to a process.
    pub fn open(name: &str) -> Result<PipeEnd> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options (the open timeout).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<PipeEnd> {
        let seg = segment::open_named(
            name,
            &Expect {
                kind: Kind::Pipe,
                elem: Some(TypeDesc::NONE),
                control_len: Some(PIPE_CONTROL_LEN),
            },
            opts,
        )?;
        let end = PipeEnd::wrap(Arc::new(seg), PipeSide::B, name)?;
        let me = sys::cached_pid();
        if let Err(owner) = end.me().pid.compare_exchange(0, me, SeqCst, Acquire) {
            // Not ours: dropping this handle must not close the owner's end.
            end.closed_here.store(true, Relaxed);
            return Err(Error::InvalidArgument(format!(
                "end B of pipe `{name}` is already open (owned by pid {owner}): a pipe connects two ends"
            )));
        }
        Ok(end)
    }

    /// An unnamed pipe for a parent and the children it forks after this call: returns
    /// `(A, B)`. Each end belongs to the first process that uses it; like with Python's
    /// `Pipe()`, each process uses one end (in a one-way pipe, A receives, B sends).
    ///
    /// # Errors
    /// As [`Segment::anonymous`], and as [`create`](Self::create) for the capacity.
    pub fn anonymous(duplex: bool, capacity_bytes: usize) -> Result<(PipeEnd, PipeEnd)> {
        let seg = Arc::new(segment::create_anonymous(
            spec(duplex, capacity_bytes)?,
            |_| Ok(()),
        )?);
        let a = PipeEnd::wrap(seg.clone(), PipeSide::A, "<anonymous>")?;
        let b = PipeEnd::wrap(seg, PipeSide::B, "<anonymous>")?;
        Ok((a, b))
    }
}

/// Records this process as the owner of end `side` while the segment is initialized.
fn claim_at_init(seg: &Segment, side: usize) {
    // SAFETY: the control block is PIPE_CONTROL_LEN bytes, 64-aligned (Layout), and
    // only accessed through atomics.
    let ctl = unsafe { &*seg.control_ptr().cast::<Control>() };
    ctl.ends[side].pid.store(sys::cached_pid(), Release);
}

fn spec(duplex: bool, capacity_bytes: usize) -> Result<Spec> {
    if capacity_bytes == 0 || capacity_bytes > MAX_PIPE_RING {
        return Err(Error::InvalidArgument(format!(
            "a pipe's capacity_bytes must be between 1 and {MAX_PIPE_RING}, not {capacity_bytes}"
        )));
    }
    let ring = (capacity_bytes as u64).div_ceil(8) * 8;
    let dirs = if duplex { 2 } else { 1 };
    Ok(Spec {
        kind: Kind::Pipe,
        elem: TypeDesc::NONE,
        capacity: ring,
        control_len: PIPE_CONTROL_LEN,
        data_len: (ring * dirs) as usize,
        params: [ring, duplex as u64, FRAME_HEADER, 0],
    })
}

/// Checks a pipe header's geometry: returns `(ring_len, duplex)`.
pub(crate) fn geometry(info: &SegmentInfo) -> std::result::Result<(u64, bool), String> {
    let [ring, duplex, header, zero] = info.params;
    let dirs = if duplex == 1 { 2 } else { 1 };
    let ok = ring == info.capacity
        && ring % 8 == 0
        && ring > 0
        && ring <= MAX_PIPE_RING as u64
        && duplex <= 1
        && ring.checked_mul(dirs) == Some(info.layout.data_len)
        && header == FRAME_HEADER
        && zero == 0
        && info.layout.control_len == PIPE_CONTROL_LEN as u64;
    if ok {
        Ok((ring, duplex == 1))
    } else {
        Err(format!(
            "pipe parameters [ring {ring}, duplex {duplex}, header {header}, {zero}] do not fit capacity {} and a {}-byte data area",
            info.capacity, info.layout.data_len
        ))
    }
}

/// One end of a [`Pipe`], like Python's `multiprocessing.connection.Connection`.
///
/// `Send + Sync`: threads of the owning process may share it (sends take turns, and so
/// do receives). Dropping the handle that owns an end closes that end; the handle
/// returned by [`Pipe::create`] also removes the name.
pub struct PipeEnd {
    seg: Arc<Segment>,
    side: PipeSide,
    ring_len: u64,
    duplex: bool,
    send_turn: std::sync::Mutex<SendState>,
    recv_turn: std::sync::Mutex<RecvState>,
    /// This handle was closed (the end itself too, if this process owns it).
    closed_here: AtomicBool,
    policy: WaitPolicy,
    /// How this handle's last spinning wait ended (see `primitive::Spinner`).
    spin_memory: SpinMemory,
}

/// A sender's private state (under the send turn).
struct SendState {
    /// When the receiver's process was last checked.
    last_check: Instant,
    /// The receiver's `head` as last read: free space is at least what it implies
    /// (`head` only grows), so the shared line is read again only when that runs out.
    head: u64,
}

/// A receiver's private state (under the receive turn).
struct RecvState {
    /// The sender's `tail` as last read (published bytes are at least up to it).
    tail: u64,
    /// A message whose receive timed out half-way: the bytes taken so far (its frame
    /// header and these bytes are consumed from the ring) and how many are still to
    /// come. The next receive completes it first.
    partial: Option<(Vec<u8>, u64)>,
}

/// The two futex words of a stream.
#[derive(Clone, Copy)]
enum Word {
    Data,
    Space,
}

/// How a wait ended.
enum Waited {
    Ready,
    PeerGone,
    Timeout,
}

impl PipeEnd {
    fn wrap(seg: Arc<Segment>, side: PipeSide, name: &str) -> Result<PipeEnd> {
        let (ring_len, duplex) =
            geometry(seg.info()).map_err(|reason| Error::corrupt(name, reason))?;
        Ok(PipeEnd {
            seg,
            side,
            ring_len,
            duplex,
            send_turn: std::sync::Mutex::new(SendState {
                // In the past, so that the first send checks the receiver's process.
                last_check: Instant::now()
                    .checked_sub(SEND_LIVENESS_EVERY)
                    .unwrap_or_else(Instant::now),
                head: 0,
            }),
            recv_turn: std::sync::Mutex::new(RecvState {
                tail: 0,
                partial: None,
            }),
            closed_here: AtomicBool::new(false),
            policy: WaitPolicy::default(),
            spin_memory: SpinMemory::default(),
        })
    }

    fn ctl(&self) -> &Control {
        // SAFETY:
        // - the control block is PIPE_CONTROL_LEN bytes (checked on open by `Expect` and
        //   `geometry`), 64-byte aligned, and lives as long as `self.seg`.
        // - every field is an atomic (or padding never read), so shared access from many
        //   processes is sound whatever the bytes are.
        unsafe { &*self.seg.control_ptr().cast::<Control>() }
    }

    fn me(&self) -> &EndCtl {
        &self.ctl().ends[self.side.index()]
    }

    fn peer(&self) -> &EndCtl {
        &self.ctl().ends[self.side.other().index()]
    }

    fn name(&self) -> &str {
        self.seg.name().unwrap_or("<anonymous>")
    }

    /// The stream this end sends on (A sends on 0 = A→B, B on 1 = B→A), if any.
    fn send_dir(&self) -> Option<usize> {
        match (self.side, self.duplex) {
            (PipeSide::A, true) => Some(0),
            (PipeSide::A, false) => None,
            (PipeSide::B, _) => Some(1),
        }
    }

    /// The stream this end receives on, if any.
    fn recv_dir(&self) -> Option<usize> {
        match (self.side, self.duplex) {
            (PipeSide::A, _) => Some(1),
            (PipeSide::B, true) => Some(0),
            (PipeSide::B, false) => None,
        }
    }

    /// Where stream `dir`'s ring starts in the data area.
    fn ring_offset(&self, dir: usize) -> usize {
        if self.duplex {
            dir * self.ring_len as usize
        } else {
            0
        }
    }

    /// Makes sure this process owns this end (claiming it if nobody does yet) and that
    /// the end is open.
    fn claim(&self) -> Result<()> {
        if self.closed_here.load(Acquire) {
            return Err(Error::Closed);
        }
        let me = sys::cached_pid();
        let end = self.me();
        let owner = match end.pid.load(Acquire) {
            0 => match end.pid.compare_exchange(0, me, SeqCst, Acquire) {
                Ok(_) => me,
                Err(p) => p,
            },
            p => p,
        };
        if owner != me {
            return Err(Error::InvalidArgument(format!(
                "end {} of pipe `{}` belongs to pid {owner}, not to this process ({me}): each end is used by one process",
                self.side,
                self.name()
            )));
        }
        if end.closed.load(Acquire) != 0 {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Whether the other end is closed, or (with `check_pid`) its process is gone.
    fn peer_gone(&self, check_pid: bool) -> bool {
        let peer = self.peer();
        if peer.closed.load(Acquire) != 0 {
            return true;
        }
        if !check_pid {
            return false;
        }
        match peer.pid.load(Acquire) {
            0 => false,
            pid => !sys::pid_running(pid),
        }
    }

    fn dir(&self, dir: usize) -> &DirCtl {
        &self.ctl().dirs[dir]
    }

    /// Bytes waiting in stream `dir`, checked.
    fn buffered(&self, dir: usize) -> Result<u64> {
        let d = self.dir(dir);
        let (head, tail) = (d.head.load(Acquire), d.tail.load(Acquire));
        let n = tail.wrapping_sub(head);
        if n > self.ring_len {
            return Err(Error::corrupt(
                self.name(),
                format!(
                    "stream {dir} holds {n} bytes (head {head}, tail {tail}), more than its {}-byte ring",
                    self.ring_len
                ),
            ));
        }
        Ok(n)
    }

    /// Wakes the sleepers on stream `dir`'s word `w` after a change they wait for (a
    /// store just made), entering the kernel only when a waiter is recorded: a
    /// sequentially consistent fence, then the waiter count (Dekker with the waiter's
    /// register-fence-recheck in `wait`). No read-modify-write when nobody waits.
    fn corrupt_stream(&self, dir: usize, head: u64, tail: u64) -> Error {
        Error::corrupt(
            self.name(),
            format!(
                "stream {dir} holds {} bytes (head {head}, tail {tail}), more than its {}-byte ring",
                tail.wrapping_sub(head),
                self.ring_len
            ),
        )
    }

    fn notify(&self, dir: usize, w: Word) {
        let d = self.dir(dir);
        let (word, waiting) = match w {
            Word::Data => (&d.data, &d.reader_waiting),
            Word::Space => (&d.space, &d.writer_waiting),
        };
        fence(SeqCst);
        if waiting.load(Relaxed) != 0 {
            word.fetch_add(1, SeqCst);
            sys::futex_wake(word, u32::MAX);
        }
    }

    /// Waits on stream `dir`'s word `w` until `ready()`, the other end is gone, or the
    /// deadline. Spins first per the policy; checks the other end's process when the
    /// wait lasts.
    fn wait(
        &self,
        dir: usize,
        w: Word,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> Waited {
        if ready() {
            return Waited::Ready;
        }
        let start = Instant::now();
        let spin = self.policy.spin_duration();
        let mut spinner = Spinner::new(&self.spin_memory, SPIN_YIELD_EVERY);
        while !spin.is_zero() {
            spinner.turn();
            if ready() {
                spinner.done();
                return Waited::Ready;
            }
            if spinner.check_clock() {
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    return Waited::Timeout;
                }
                if now.duration_since(start) >= spin {
                    break;
                }
                if self.peer_gone(false) {
                    // What the other end sent before it closed is still ours: it may
                    // have landed since `ready` last looked.
                    return if ready() {
                        Waited::Ready
                    } else {
                        Waited::PeerGone
                    };
                }
            }
        }
        let d = self.dir(dir);
        let (word, waiting) = match w {
            Word::Data => (&d.data, &d.reader_waiting),
            Word::Space => (&d.space, &d.writer_waiting),
        };
        loop {
            let now = Instant::now();
            let check_pid = now.duration_since(start) >= LIVENESS_AFTER;
            if self.peer_gone(check_pid) {
                return if ready() {
                    Waited::Ready
                } else {
                    Waited::PeerGone
                };
            }
            let mut slice = if check_pid { SLICE } else { LIVENESS_AFTER };
            if let Some(d) = deadline {
                if now >= d {
                    return Waited::Timeout;
                }
                slice = slice.min(d - now);
            }
            // The word before registering: a waker that sees us bumps it, so the
            // sleep below returns at once if that happened after this load.
            let seen = word.load(SeqCst);
            waiting.fetch_add(1, SeqCst);
            fence(SeqCst);
            let done = ready();
            if !done && !self.peer_gone(false) {
                sys::futex_wait(word, seen, Some(slice));
            }
            let _ = waiting.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
            if done || ready() {
                return Waited::Ready;
            }
        }
    }

    // ----- send -----

    /// Sends `msg` as one message, waiting for room as needed (a message larger than
    /// the ring is streamed through it).
    ///
    /// # Errors
    /// [`Error::BrokenPipe`] if the other end is closed or its process died (before or
    /// during the send); [`Error::Closed`] if this end is closed;
    /// [`Error::InvalidArgument`] on the receiving end of a one-way pipe or an end
    /// owned by another process; [`Error::TooLarge`] above [`MAX_PIPE_MESSAGE`];
    /// [`Error::Corrupt`].
    pub fn send_bytes(&self, msg: &[u8]) -> Result<()> {
        let Some(dir) = self.send_dir() else {
            return Err(Error::InvalidArgument(format!(
                "end {} of the one-way pipe `{}` only receives",
                self.side,
                self.name()
            )));
        };
        if msg.len() as u64 > MAX_PIPE_MESSAGE {
            return Err(Error::TooLarge {
                size: msg.len(),
                max: MAX_PIPE_MESSAGE as usize,
            });
        }
        self.claim()?;
        let mut st = self.send_turn.lock().unwrap_or_else(|p| p.into_inner());
        let check_pid = st.last_check.elapsed() >= SEND_LIVENESS_EVERY;
        if check_pid {
            st.last_check = Instant::now();
        }
        if self.peer_gone(check_pid) {
            return Err(Error::BrokenPipe);
        }
        let header = (msg.len() as u64).to_ne_bytes();
        let mut parts: [&[u8]; 2] = [&header, msg];
        let mut left = FRAME_HEADER + msg.len() as u64;
        let d = self.dir(dir);
        let mut tail = d.tail.load(Relaxed);
        while left > 0 {
            // Free space by the cached head; read the shared head again only when that
            // is not enough for the rest of the message.
            let mut used = tail.wrapping_sub(st.head);
            if used > self.ring_len || self.ring_len - used < left {
                st.head = d.head.load(Acquire);
                used = tail.wrapping_sub(st.head);
                if used > self.ring_len {
                    return Err(self.corrupt_stream(dir, st.head, tail));
                }
            }
            let free = self.ring_len - used;
            if free == 0 {
                match self.wait(dir, Word::Space, None, || {
                    self.buffered(dir).map_or(true, |u| u < self.ring_len)
                }) {
                    Waited::Ready => continue,
                    Waited::PeerGone => return Err(Error::BrokenPipe),
                    Waited::Timeout => unreachable!("no deadline"),
                }
            }
            // Copy as much as fits, then publish it with one store.
            let mut room = free as usize;
            for part in parts.iter_mut() {
                let n = part.len().min(room);
                self.write_ring(dir, tail, &part[..n]);
                *part = &part[n..];
                tail = tail.wrapping_add(n as u64);
                room -= n;
                left -= n as u64;
            }
            d.tail.store(tail, Release);
            self.notify(dir, Word::Data);
        }
        // Only this end's owner writes its counters: no read-modify-write needed.
        let sent = &self.me().sent;
        sent.store(sent.load(Relaxed).wrapping_add(1), Relaxed);
        Ok(())
    }

    /// Serializes `v` with postcard and sends it.
    ///
    /// # Errors
    /// [`Error::Codec`] if `v` cannot be serialized; otherwise as
    /// [`send_bytes`](Self::send_bytes).
    pub fn send<T: Serialize + ?Sized>(&self, v: &T) -> Result<()> {
        self.send_bytes(&encode(v)?)
    }

    // ----- receive -----

    /// Receives the next message, waiting for it.
    ///
    /// # Errors
    /// [`Error::Eof`] when the other end closed (or died) and everything it sent has
    /// been received; [`Error::Closed`] if this end is closed;
    /// [`Error::InvalidArgument`] on the sending end of a one-way pipe or an end owned
    /// by another process; [`Error::Corrupt`].
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        self.recv_inner(None, &mut Dest::Vec(Vec::new()))
            .map(|r| r.into_vec())
    }

    /// Receives the next message, waiting at most `t` for it. A message that has begun
    /// to arrive but is not complete after `t` (a large one streamed through a small
    /// ring) is kept by this handle, and the next receive completes it first.
    ///
    /// # Errors
    /// [`Error::Timeout`] after at least `t`; otherwise as
    /// [`recv_bytes`](Self::recv_bytes).
    pub fn recv_bytes_timeout(&self, t: Duration) -> Result<Vec<u8>> {
        self.recv_inner(Some(t), &mut Dest::Vec(Vec::new()))
            .map(|r| r.into_vec())
    }

    /// Receives the next message into `buf`, waiting for it; returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] with the size needed when the message does not fit:
    /// the message is **not** consumed (call again with a larger buffer). Otherwise as
    /// [`recv_bytes`](Self::recv_bytes).
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_inner(None, &mut Dest::Buf(buf, 0))
            .map(|r| r.len())
    }

    /// [`recv_bytes_into`](Self::recv_bytes_into), waiting at most `t` for the message
    /// (see [`recv_bytes_timeout`](Self::recv_bytes_timeout)).
    ///
    /// # Errors
    /// [`Error::Timeout`]; otherwise as [`recv_bytes_into`](Self::recv_bytes_into).
    pub fn recv_bytes_into_timeout(&self, buf: &mut [u8], t: Duration) -> Result<usize> {
        self.recv_inner(Some(t), &mut Dest::Buf(buf, 0))
            .map(|r| r.len())
    }

    /// Receives the next message and deserializes it with postcard.
    ///
    /// # Errors
    /// [`Error::Codec`] if the message is not a `T` (it is consumed); otherwise as
    /// [`recv_bytes`](Self::recv_bytes).
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        decode(&self.recv_bytes()?)
    }

    /// [`recv`](Self::recv), waiting at most `t` for the message.
    ///
    /// # Errors
    /// As [`recv`](Self::recv) and [`recv_bytes_timeout`](Self::recv_bytes_timeout).
    pub fn recv_timeout<T: DeserializeOwned>(&self, t: Duration) -> Result<T> {
        decode(&self.recv_bytes_timeout(t)?)
    }

    /// Whether a `recv` would return without waiting: a message has begun to arrive,
    /// or the other end is closed or dead (`recv` then reports [`Error::Eof`]). Waits
    /// at most `timeout` for that (`Duration::ZERO`: just look).
    ///
    /// # Errors
    /// [`Error::Closed`] if this end is closed; [`Error::InvalidArgument`] on the
    /// sending end of a one-way pipe; [`Error::Corrupt`].
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        let dir = self.recv_dir_or_err()?;
        self.claim()?;
        if self.buffered(dir)? > 0 || self.peer_gone(false) {
            return Ok(true);
        }
        if timeout.is_zero() {
            return Ok(self.peer_gone(true));
        }
        let deadline = Instant::now().checked_add(timeout);
        Ok(
            match self.wait(dir, Word::Data, deadline, || {
                self.buffered(dir).map_or(true, |n| n > 0)
            }) {
                Waited::Ready | Waited::PeerGone => true,
                Waited::Timeout => false,
            },
        )
    }

    fn recv_dir_or_err(&self) -> Result<usize> {
        self.recv_dir().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "end {} of the one-way pipe `{}` only sends",
                self.side,
                self.name()
            ))
        })
    }

    fn recv_inner(&self, timeout: Option<Duration>, into: &mut Dest<'_>) -> Result<Received> {
        let dir = self.recv_dir_or_err()?;
        self.claim()?;
        let mut st = self.recv_turn.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let timed_out = || Error::Timeout(timeout.unwrap_or_default());
        let d = self.dir(dir);
        let head = d.head.load(Relaxed);
        // `pos`: how far this message has been copied; `stored`: the head published.
        let (mut pos, mut stored, mut left);
        if let Some((taken, rest)) = st.partial.take() {
            // Finish the message a timed-out receive began.
            let total = taken.len() as u64 + rest;
            if let Dest::Buf(buf, at) = into {
                if (buf.len() as u64) < total {
                    st.partial = Some((taken, rest));
                    return Err(Error::BufferTooSmall {
                        needed: total as usize,
                        capacity: buf.len(),
                    });
                }
                buf[..taken.len()].copy_from_slice(&taken);
                *at = taken.len();
            } else if let Dest::Vec(v) = into {
                *v = taken;
            }
            (pos, stored, left) = (head, head, rest);
        } else {
            // Published bytes by the cached tail; read the shared tail again only when
            // the cache does not show a whole frame header.
            let mut avail = st.tail.wrapping_sub(head);
            if avail > self.ring_len || avail < FRAME_HEADER {
                // The frame header: wait (bounded by the deadline) for all 8 bytes.
                match self.wait(dir, Word::Data, deadline, || {
                    self.buffered(dir).map_or(true, |n| n >= FRAME_HEADER)
                }) {
                    Waited::Ready => {}
                    Waited::PeerGone => return Err(Error::Eof),
                    Waited::Timeout => return Err(timed_out()),
                }
                st.tail = d.tail.load(Acquire);
                avail = st.tail.wrapping_sub(head);
                if avail > self.ring_len {
                    return Err(self.corrupt_stream(dir, head, st.tail));
                }
                if avail < FRAME_HEADER {
                    return Err(Error::Eof);
                }
            }
            let mut len = [0u8; FRAME_HEADER as usize];
            self.read_ring(dir, head, &mut len);
            let len = u64::from_ne_bytes(len);
            if len > MAX_PIPE_MESSAGE {
                return Err(Error::corrupt(
                    self.name(),
                    format!("a message claims {len} bytes, more than {MAX_PIPE_MESSAGE}"),
                ));
            }
            if let Dest::Buf(buf, _) = into {
                if (buf.len() as u64) < len {
                    // Nothing consumed: the caller may come back with a larger buffer.
                    return Err(Error::BufferTooSmall {
                        needed: len as usize,
                        capacity: buf.len(),
                    });
                }
            }
            if let Dest::Vec(v) = into {
                v.reserve(len.min(self.ring_len.max(1 << 20)) as usize);
            }
            (pos, stored, left) = (head.wrapping_add(FRAME_HEADER), head, len);
        }
        while left > 0 {
            let mut avail = st.tail.wrapping_sub(pos);
            if avail == 0 || avail > self.ring_len {
                // Free what was copied (the sender may be waiting for room), then look
                // at the shared tail, and wait if nothing more has arrived.
                if pos != stored {
                    d.head.store(pos, Release);
                    self.notify(dir, Word::Space);
                    stored = pos;
                }
                st.tail = d.tail.load(Acquire);
                avail = st.tail.wrapping_sub(pos);
                if st.tail.wrapping_sub(stored) > self.ring_len || avail > self.ring_len {
                    return Err(self.corrupt_stream(dir, stored, st.tail));
                }
                if avail == 0 {
                    match self.wait(dir, Word::Data, deadline, || {
                        self.buffered(dir).map_or(true, |n| n > 0)
                    }) {
                        Waited::Ready => continue,
                        // The sender died (or closed) in the middle of the message.
                        Waited::PeerGone => return Err(Error::Eof),
                        Waited::Timeout => {
                            // Keep what arrived (already freed in the ring, `pos ==
                            // stored`) for the next receive.
                            let taken = match into {
                                Dest::Vec(v) => std::mem::take(v),
                                Dest::Buf(buf, at) => buf[..*at].to_vec(),
                            };
                            st.partial = Some((taken, left));
                            return Err(timed_out());
                        }
                    }
                }
            }
            let n = avail.min(left) as usize;
            match into {
                Dest::Vec(v) => {
                    let at = v.len();
                    v.resize(at + n, 0);
                    self.read_ring(dir, pos, &mut v[at..]);
                }
                Dest::Buf(buf, at) => {
                    self.read_ring(dir, pos, &mut buf[*at..*at + n]);
                    *at += n;
                }
            }
            pos = pos.wrapping_add(n as u64);
            left -= n as u64;
        }
        if pos != stored {
            d.head.store(pos, Release);
            self.notify(dir, Word::Space);
        }
        let received = &self.me().received;
        received.store(received.load(Relaxed).wrapping_add(1), Relaxed);
        Ok(match into {
            Dest::Vec(v) => Received::Vec(std::mem::take(v)),
            Dest::Buf(_, at) => Received::Len(*at),
        })
    }

    fn read_ring(&self, dir: usize, pos: u64, out: &mut [u8]) {
        let base = self.ring_offset(dir);
        let (first, second) = split(pos, out.len(), self.ring_len);
        let (a, b) = out.split_at_mut(first.1);
        // SAFETY:
        // - `split` gives ranges inside 0..ring_len (callers pass at most the buffered
        //   bytes, <= ring_len), and stream `dir`'s ring is ring_len bytes at `base`
        //   inside the data area (checked by `geometry`), kept mapped by `self.seg`.
        // - these bytes were published by the sender and are not rewritten until we
        //   store `head` past them (a hostile writer can change them: any bytes are
        //   valid u8).
        unsafe {
            segment::copy_in(self.seg.data_ptr().add(base + first.0), a);
            segment::copy_in(self.seg.data_ptr().add(base + second.0), b);
        }
    }

    fn write_ring(&self, dir: usize, pos: u64, src: &[u8]) {
        let base = self.ring_offset(dir);
        let (first, second) = split(pos, src.len(), self.ring_len);
        let (a, b) = src.split_at(first.1);
        // SAFETY:
        // - the ranges are inside stream `dir`'s ring, as in `read_ring` (callers pass
        //   at most the free bytes).
        // - `src` is caller memory, not in the mapping; the bytes are free space that
        //   only this sender writes and no receiver reads until `tail` passes them.
        unsafe {
            segment::copy_out(a, self.seg.data_ptr().add(base + first.0));
            segment::copy_out(b, self.seg.data_ptr().add(base + second.0));
        }
    }

    // ----- state -----

    /// Closes this handle; if this process owns the end, closes the end: the other
    /// end's receives return what was sent, then [`Error::Eof`], and its sends fail with
    /// [`Error::BrokenPipe`]; sleepers are woken. A process that does not own the end
    /// (a parent holding the end its forked child uses, the Python idiom
    /// `child_conn.close()` in the parent) only closes its handle, like closing a
    /// duplicated file descriptor. Closing twice is fine.
    pub fn close(&self) {
        if self.closed_here.swap(true, AcqRel) {
            return;
        }
        let end = self.me();
        if end.pid.load(Acquire) != sys::cached_pid() {
            return;
        }
        end.closed.store(1, SeqCst);
        let dirs: &[usize] = if self.duplex { &[0, 1] } else { &[1] };
        for &dir in dirs {
            self.notify(dir, Word::Data);
            self.notify(dir, Word::Space);
        }
    }

    /// Whether this handle or its end is closed.
    pub fn is_closed(&self) -> bool {
        self.closed_here.load(Acquire) || self.me().closed.load(Acquire) != 0
    }

    /// Whether this end can receive (false for the sending end of a one-way pipe).
    pub fn readable(&self) -> bool {
        self.recv_dir().is_some()
    }

    /// Whether this end can send (false for the receiving end of a one-way pipe).
    pub fn writable(&self) -> bool {
        self.send_dir().is_some()
    }

    /// Which end this is.
    pub fn side(&self) -> PipeSide {
        self.side
    }

    /// The process owning the other end, if it has been claimed.
    pub fn peer_pid(&self) -> Option<u32> {
        match self.peer().pid.load(Acquire) {
            0 => None,
            p => Some(p),
        }
    }

    /// Whether the pipe carries messages both ways.
    pub fn is_duplex(&self) -> bool {
        self.duplex
    }

    /// The size of each direction's ring in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.ring_len as usize
    }

    /// Sets how this handle waits when it must (see [`WaitPolicy`]).
    pub fn set_wait_policy(&mut self, p: WaitPolicy) {
        self.policy = p;
    }

    /// The segment behind this pipe.
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The pipe's state, for display and monitoring.
    pub fn snapshot(&self) -> PipeSnapshot {
        // Copy each field with an access of its own size, into the documented layout.
        let mut control = vec![0u8; PIPE_CONTROL_LEN];
        let mut put = |off: usize, bytes: &[u8]| {
            control[off..off + bytes.len()].copy_from_slice(bytes);
        };
        let c = self.ctl();
        for (i, e) in c.ends.iter().enumerate() {
            let base = i * 64;
            put(base, &e.pid.load(Relaxed).to_ne_bytes());
            put(base + 4, &e.closed.load(Relaxed).to_ne_bytes());
            put(base + 8, &e.sent.load(Relaxed).to_ne_bytes());
            put(base + 16, &e.received.load(Relaxed).to_ne_bytes());
        }
        for (i, d) in c.dirs.iter().enumerate() {
            let base = 128 + i * 128;
            put(base, &d.tail.load(Relaxed).to_ne_bytes());
            put(base + 8, &d.data.load(Relaxed).to_ne_bytes());
            put(base + 12, &d.reader_waiting.load(Relaxed).to_ne_bytes());
            put(base + 64, &d.head.load(Relaxed).to_ne_bytes());
            put(base + 72, &d.space.load(Relaxed).to_ne_bytes());
            put(base + 76, &d.writer_waiting.load(Relaxed).to_ne_bytes());
        }
        PipeSnapshot::from_bytes(self.seg.info(), &control).expect("a pipe's control block")
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        // Only the owner closes the end (a forked child's copy of the parent's end
        // does not); see `close`.
        self.close();
    }
}

impl fmt::Debug for PipeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeEnd")
            .field("name", &self.seg.name())
            .field("side", &self.side)
            .field("duplex", &self.duplex)
            .field("capacity_bytes", &self.ring_len)
            .finish()
    }
}

/// Where a receive puts the message.
enum Dest<'a> {
    Vec(Vec<u8>),
    /// The caller's buffer and how much of it is filled.
    Buf(&'a mut [u8], usize),
}

enum Received {
    Vec(Vec<u8>),
    Len(usize),
}

impl Received {
    fn into_vec(self) -> Vec<u8> {
        match self {
            Received::Vec(v) => v,
            Received::Len(_) => unreachable!("a Vec receive gives a Vec"),
        }
    }
    fn len(self) -> usize {
        match self {
            Received::Len(n) => n,
            Received::Vec(_) => unreachable!("a buffer receive gives a length"),
        }
    }
}

/// One end's state in a [`PipeSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeEndSnapshot {
    /// The owning process, if claimed.
    pub pid: Option<u32>,
    /// Whether that process is running (false when unclaimed).
    pub alive: bool,
    /// Whether the end is closed.
    pub closed: bool,
    /// Messages it sent.
    pub sent: u64,
    /// Messages it received.
    pub received: u64,
}

/// One direction's state in a [`PipeSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeDirSnapshot {
    /// Bytes written and not yet read (frame headers included), at most the ring.
    pub buffered: u64,
    /// Receivers sleeping on this direction.
    pub waiting_receivers: u32,
    /// Senders sleeping on this direction.
    pub waiting_senders: u32,
}

/// A pipe's state, read without stopping anyone (for `shmkit show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeSnapshot {
    /// Whether the pipe is duplex.
    pub duplex: bool,
    /// Each direction's ring size in bytes.
    pub capacity_bytes: u64,
    /// Ends A and B.
    pub ends: [PipeEndSnapshot; 2],
    /// A→B (`None` in a one-way pipe) and B→A.
    pub dirs: [Option<PipeDirSnapshot>; 2],
}

impl PipeSnapshot {
    /// Decodes a pipe's state from a copy of its control block: `info` is the validated
    /// header. Any bytes decode; `None` only when `control` is shorter than the control
    /// block or the kind is not a pipe. Liveness is asked of the OS.
    pub fn from_bytes(info: &SegmentInfo, control: &[u8]) -> Option<PipeSnapshot> {
        if control.len() < PIPE_CONTROL_LEN || info.kind != Kind::Pipe {
            return None;
        }
        let u64_at = |off: usize| u64::from_ne_bytes(control[off..off + 8].try_into().unwrap());
        let u32_at = |off: usize| u32::from_ne_bytes(control[off..off + 4].try_into().unwrap());
        let ring = info.params[0];
        let duplex = info.params[1] == 1;
        let end = |i: usize| {
            let base = i * 64;
            let pid = u32_at(base);
            PipeEndSnapshot {
                pid: (pid != 0).then_some(pid),
                alive: pid != 0 && sys::pid_running(pid),
                closed: u32_at(base + 4) != 0,
                sent: u64_at(base + 8),
                received: u64_at(base + 16),
            }
        };
        let dir = |i: usize| {
            let base = 128 + i * 128;
            PipeDirSnapshot {
                buffered: u64_at(base).wrapping_sub(u64_at(base + 64)).min(ring),
                waiting_receivers: u32_at(base + 12),
                waiting_senders: u32_at(base + 76),
            }
        };
        Some(PipeSnapshot {
            duplex,
            capacity_bytes: ring,
            ends: [end(0), end(1)],
            dirs: [duplex.then(|| dir(0)), Some(dir(1))],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The other end sends its last message and closes between a spinning receiver's
    /// look at the ring and its look at the other end: the receiver must still take the
    /// message (a receiver once reported `Eof` here and the message was lost).
    #[test]
    fn a_message_sent_just_before_the_close_is_not_lost_by_a_spinning_receiver() {
        let name = format!("pipe-last-{}", std::process::id());
        let mut a = Pipe::create(&name, true, 4096).unwrap();
        // Spin for as long as it takes: a receiver preempted for longer than the
        // default spin would take the sleeping path, which checks in its own way.
        a.policy = WaitPolicy::spin();
        let b = Pipe::open(&name).unwrap();
        let dir = a.recv_dir().unwrap();
        let mut looks = 0;
        let mut b = Some(b);
        let waited = a.wait(dir, Word::Data, None, || {
            looks += 1;
            if let Some(b) = b.take() {
                b.send_bytes(b"last").unwrap();
                drop(b);
            }
            // The looks until the receiver checks the other end (one before spinning,
            // then one per turn; it checks every 16th turn) see the ring as it was
            // before the send: they happened just before it, as far as it can tell.
            looks > 17 && a.buffered(dir).is_ok_and(|n| n > 0)
        });
        assert!(
            matches!(waited, Waited::Ready),
            "the message was reported gone"
        );
        assert_eq!(a.recv_bytes().unwrap(), b"last");
        assert!(matches!(a.recv_bytes(), Err(Error::Eof)));
    }
}
