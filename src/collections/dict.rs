//! The shared hash table: [`ByteDict`] (variable-length byte keys and values, with a
//! postcard serde layer) and [`Dict<K, V>`](Dict) (fixed-size [`Shareable`] keys and
//! values), both on one engine.
//!
//! ## Layout (docs/FORMAT.md, *Dict*)
//! The data area holds two *sides*; one is active. A side is `nslots` 8-byte slot words
//! (open addressing, linear probing) followed by a byte arena of records
//! `[key_len u32][value_len u32][key][value]`, appended at the side's `top`. A slot word
//! is 0 (empty), 1 (tombstone), or `tag << 40 | (offset + 2)`: the record's offset in
//! the arena and 24 bits of the key's hash, so most mismatches are rejected without
//! touching the arena.
//!
//! ## Commit points
//! - insert of a new key: append the record above `top`, store the new `top`, then store
//!   the slot word (the commit);
//! - replace: append the new record, store `top`, then switch the slot word to it (the
//!   old record becomes garbage);
//! - remove: store a tombstone (or empty) in the slot (the commit);
//! - compaction (when the arena or the slots run out): rebuild the live entries into
//!   the inactive side, store its `top`, then store `active` (the commit); an insert
//!   that needs a compaction is folded into it, so it commits with the same store;
//! - clear: empty the inactive side, then store `active`.
//!
//! Counters are stored after the commit; `recover` recomputes them.
//!
//! ## Trust
//! Every slot word, offset, length and counter read from the segment is checked before
//! use: a record must lie below its side's `top`, `top` inside the arena, `active` is 0
//! or 1; every probe loop runs at most `nslots` steps. Anything else is
//! [`Error::Corrupt`] (or, for `recover`, an entry dropped from the rebuilt table).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{crash_point, hash_key};
use crate::error::{Error, Result};
use crate::segment::{self, Expect, Kind, Segment, SegmentInfo, SegmentOptions, Spec};
use crate::sync::{LockError, RawMutex, RawMutexGuard, init_mutex_in, raw_mutex_in};
use crate::types::{Shareable, TypeDesc};

/// Length of a dict's control block: the RawMutex, then the table words.
pub(crate) const CONTROL_LEN: usize = 256;
pub(crate) const OFF_ACTIVE: usize = 128;
pub(crate) const OFF_LEN: usize = 136;
pub(crate) const OFF_USED: usize = 144;
pub(crate) const OFF_LIVE_BYTES: usize = 152;
pub(crate) const OFF_TOP: usize = 160; // two words, one per side
pub(crate) const OFF_COMPACTIONS: usize = 176;
pub(crate) const OFF_REPAIRS: usize = 184;
/// Sequence word of the optimistic readers: odd while a writer is changing the table.
pub(crate) const OFF_SEQ: usize = 192;
/// Journal of an in-place value replace: 1 while pending (the commit word), then where
/// to, from where, and how many bytes.
pub(crate) const OFF_JOURNAL: usize = 200;
pub(crate) const OFF_JOURNAL_DST: usize = 208;
pub(crate) const OFF_JOURNAL_SRC: usize = 216;
pub(crate) const OFF_JOURNAL_LEN: usize = 224;
/// How many times an optimistic read retries before it takes the lock.
const OPTIMISTIC_TRIES: u32 = 4;

/// Bytes of a record's header (key length, value length).
pub(crate) const RECORD_HEADER: u64 = 8;
const EMPTY: u64 = 0;
const TOMBSTONE: u64 = 1;
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// The largest arena (per side): offsets + 2 must fit in 40 bits.
pub(crate) const MAX_ARENA: u64 = OFFSET_MASK - 2;
/// The largest entry count.
pub const MAX_DICT_CAPACITY: usize = 1 << 30;

/// The element descriptor of the byte form.
const BYTES_DESC: TypeDesc = TypeDesc {
    name: "bytes",
    size: 1,
    align: 1,
};

/// A decoded slot word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Empty,
    Tombstone,
    Live { tag: u64, offset: u64 },
    Bad,
}

pub(crate) fn decode_slot(w: u64) -> Slot {
    match w {
        EMPTY => Slot::Empty,
        TOMBSTONE => Slot::Tombstone,
        _ => {
            let low = w & OFFSET_MASK;
            if low < 2 {
                Slot::Bad
            } else {
                Slot::Live {
                    tag: w >> OFFSET_BITS,
                    offset: low - 2,
                }
            }
        }
    }
}

fn encode_slot(hash: u64, offset: u64) -> u64 {
    (tag_of(hash) << OFFSET_BITS) | (offset + 2)
}

fn tag_of(hash: u64) -> u64 {
    hash >> OFFSET_BITS
}

fn round_up8(x: u64) -> Option<u64> {
    Some(x.checked_add(7)? & !7)
}

/// The sizes of a dict, all derived from the header's capacity and `params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Most entries.
    pub capacity: u64,
    /// Most key + value bytes, summed over the entries.
    pub max_bytes: u64,
    /// Slot words per side (a power of two, at least twice the capacity).
    pub nslots: u64,
    /// Arena bytes per side.
    pub arena_len: u64,
    /// Bytes per side: the slots, then the arena.
    pub side_len: u64,
    /// Key size of the typed form; 0: the byte form (any length).
    pub key_size: u64,
    /// Value size of the typed form; 0 in the byte form.
    pub value_size: u64,
}

impl Geometry {
    pub(crate) fn new(
        capacity: u64,
        max_bytes: u64,
        key_size: u64,
        value_size: u64,
    ) -> std::result::Result<Geometry, String> {
        if capacity == 0 || capacity > MAX_DICT_CAPACITY as u64 {
            return Err(format!(
                "a dict holds 1 to {MAX_DICT_CAPACITY} entries, not {capacity}"
            ));
        }
        let nslots = (capacity * 2).next_power_of_two().max(8);
        let too_large =
            || format!("a dict of {capacity} entries and {max_bytes} bytes is too large");
        let base = max_bytes
            .checked_add(capacity * RECORD_HEADER)
            .ok_or_else(too_large)?;
        // A quarter of slack, so that a compaction frees at least that much.
        let arena_len = base
            .checked_add(base / 4 + 64)
            .and_then(round_up8)
            .filter(|&a| a <= MAX_ARENA)
            .ok_or_else(too_large)?;
        let side_len = arena_len.checked_add(nslots * 8).ok_or_else(too_large)?;
        side_len.checked_mul(2).ok_or_else(too_large)?;
        Ok(Geometry {
            capacity,
            max_bytes,
            nslots,
            arena_len,
            side_len,
            key_size,
            value_size,
        })
    }

    /// The geometry a validated dict header describes, checked against its data length.
    pub(crate) fn from_info(info: &SegmentInfo) -> std::result::Result<Geometry, String> {
        let [max_bytes, key_size, value_size, reserved] = info.params;
        if reserved != 0 {
            return Err(format!("params[3] is {reserved}, expected 0"));
        }
        if (key_size == 0) != (value_size == 0) {
            return Err(format!(
                "key size {key_size} and value size {value_size}: both or neither must be 0"
            ));
        }
        let g = Geometry::new(info.capacity, max_bytes, key_size, value_size)?;
        if key_size != 0 {
            let per = key_size.checked_add(value_size);
            if per.and_then(|p| p.checked_mul(g.capacity)) != Some(max_bytes) {
                return Err(format!(
                    "typed dict: {} entries of {key_size}+{value_size} bytes do not make max_bytes {max_bytes}",
                    g.capacity
                ));
            }
        }
        if Some(info.layout.data_len) != g.side_len.checked_mul(2) {
            return Err(format!(
                "data area is {} bytes; capacity {} and max_bytes {max_bytes} need {}",
                info.layout.data_len,
                info.capacity,
                g.side_len * 2
            ));
        }
        Ok(g)
    }

    fn max_used(&self) -> u64 {
        self.nslots / 4 * 3
    }

    fn mask(&self) -> u64 {
        self.nslots - 1
    }
}

/// The engine: a dict segment and its geometry.
struct Table {
    seg: Segment,
    geo: Geometry,
}

fn spec(elem: TypeDesc, geo: &Geometry) -> Spec {
    Spec {
        kind: Kind::Dict,
        elem,
        capacity: geo.capacity,
        control_len: CONTROL_LEN,
        data_len: (geo.side_len * 2) as usize,
        params: [geo.max_bytes, geo.key_size, geo.value_size, 0],
    }
}

impl Table {
    fn create(
        name: Option<&str>,
        elem: TypeDesc,
        geo: Geometry,
        opts: &SegmentOptions,
    ) -> Result<Table> {
        usize::try_from(geo.side_len * 2)
            .map_err(|_| Error::InvalidArgument("the dict does not fit in memory".into()))?;
        let spec = spec(elem, &geo);
        // All-zero bytes are an empty dict: side 0 active, every slot empty, top 0.
        let seg = match name {
            Some(name) => segment::create_named(name, spec, opts, init_mutex_in)?,
            None => segment::create_anonymous(spec, init_mutex_in)?,
        };
        Ok(Table { seg, geo })
    }

    fn open(name: &str, elem: TypeDesc, key_size: u64, opts: &SegmentOptions) -> Result<Table> {
        let seg = segment::open_named(
            name,
            &Expect {
                kind: Kind::Dict,
                elem: Some(elem),
                control_len: Some(CONTROL_LEN),
            },
            opts,
        )?;
        let geo = Geometry::from_info(seg.info()).map_err(|r| Error::corrupt(name, r))?;
        if geo.key_size != key_size {
            return Err(Error::corrupt(
                name,
                format!(
                    "key size {} recorded, {key_size} expected for this type",
                    geo.key_size
                ),
            ));
        }
        Ok(Table { seg, geo })
    }

    fn name(&self) -> &str {
        self.seg.name().unwrap_or("<anonymous>")
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset % 8 == 0 && offset + 8 <= CONTROL_LEN);
        // SAFETY:
        // - the control block is CONTROL_LEN bytes (checked on open and create), 64-byte
        //   aligned, inside the mapping `self.seg` keeps alive; `offset` is one of the
        //   8-aligned word offsets above, past the RawMutex.
        // - these words are only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(self.seg.control_ptr().add(offset).cast()) }
    }

    fn slot(&self, side: u64, i: u64) -> &AtomicU64 {
        debug_assert!(side < 2 && i < self.geo.nslots);
        // SAFETY:
        // - `side` < 2 and `i` < nslots (callers mask or bound them), so the word lies in
        //   the data area (2 × side_len bytes, checked against the header); the data area
        //   starts 64-byte aligned and side_len is a multiple of 8.
        // - slot words are only ever accessed atomically.
        unsafe {
            AtomicU64::from_ptr(
                self.seg
                    .data_ptr()
                    .add((side * self.geo.side_len + i * 8) as usize)
                    .cast(),
            )
        }
    }

    /// Start of a side's arena.
    fn arena(&self, side: u64) -> *mut u8 {
        debug_assert!(side < 2);
        // SAFETY: the arena of side 0 or 1 starts inside the data area (see `slot`).
        unsafe {
            self.seg
                .data_ptr()
                .add((side * self.geo.side_len + self.geo.nslots * 8) as usize)
        }
    }

    fn raw_mutex(&self) -> &RawMutex {
        raw_mutex_in(&self.seg)
    }

    /// Takes the lock and reads the active side. Owner death is `Error::OwnerDied`
    /// (the flag stays set until [`recover`](Self::recover)).
    fn lock(&self) -> Result<Locked<'_>> {
        match self.raw_mutex().lock() {
            Ok(g) => Locked::new(self, Some(g)),
            Err(LockError::OwnerDied(_)) => Err(Error::OwnerDied),
            Err(LockError::Failed(e)) => Err(e),
        }
    }

    /// Runs the read-only `f` without the lock when no writer is active (a seqlock:
    /// the result counts only if the sequence word was even and unchanged around it),
    /// else, after a few tries, under the lock. Every read `f` makes is bounds-checked,
    /// so a torn read can only give a wrong answer, which the sequence check discards.
    /// A pending owner-died report sends the caller to the lock, which reports it.
    fn read<R>(&self, mut f: impl FnMut(&Locked<'_>) -> Result<R>) -> Result<R> {
        let seq = self.word(OFF_SEQ);
        for _ in 0..OPTIMISTIC_TRIES {
            let s1 = seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            if self.raw_mutex().repair_pending() {
                break;
            }
            let r = Locked::new(self, None).and_then(|l| f(&l));
            std::sync::atomic::fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == s1 {
                return r;
            }
        }
        f(&self.lock()?)
    }

    /// Takes the lock even after an owner died, leaving the repair flag as it is.
    fn lock_any(&self) -> Result<(RawMutexGuard<'_>, bool)> {
        match self.raw_mutex().lock() {
            Ok(g) => Ok((g, false)),
            Err(LockError::OwnerDied(d)) => Ok((d.into_guard(), true)),
            Err(LockError::Failed(e)) => Err(e),
        }
    }

    fn recover(&self) -> Result<usize> {
        let (guard, _) = self.lock_any()?;
        let mut l = Locked::new(self, Some(guard))?;
        l.begin_write();
        l.finish_journal();
        let dropped = l.rebuild(None, true)?;
        self.word(OFF_REPAIRS).fetch_add(1, Ordering::Relaxed);
        if let Some(g) = l.guard.as_mut() {
            crate::sync::Guard::mark_consistent(g);
        }
        Ok(dropped)
    }

    fn verify(&self) -> Result<TableCheck> {
        let (guard, _) = self.lock_any()?;
        Locked::new(self, Some(guard))?.verify()
    }
}

/// What [`ByteDict::verify`] / [`Dict::verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableCheck {
    /// Live entries.
    pub len: usize,
    /// Tombstones in the active side.
    pub tombstones: usize,
    /// Key + value bytes of the live entries.
    pub live_bytes: usize,
    /// Arena bytes in use (live records and garbage).
    pub arena_used: usize,
    /// Arena bytes per side; an insert that does not fit above `arena_used` compacts.
    pub arena_len: usize,
    /// Whether the cached counters (`len`, used slots, live bytes) agree with the scan;
    /// false only after a crash (until `recover`) or a foreign write.
    pub counters_agree: bool,
}

/// Where a lookup ended.
enum Found {
    Hit {
        slot: u64,
        offset: u64,
        key_len: u64,
        value_len: u64,
    },
    Miss {
        /// The first tombstone or empty slot of the probe sequence.
        free: Option<u64>,
    },
}

/// Where an old value goes.
pub(crate) enum Sink<'b> {
    Discard,
    Vec(&'b mut Vec<u8>),
    Exact(&'b mut [u8]),
}

/// The table with its active side read and checked: with its lock held, or (`guard`
/// `None`) for an optimistic read, which only reads.
struct Locked<'a> {
    t: &'a Table,
    guard: Option<RawMutexGuard<'a>>,
    side: u64,
    top: u64,
    /// The sequence word is odd: this holder is changing the table.
    writing: bool,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.writing {
            // Even again: the table is consistent. Before the guard unlocks.
            let seq = self.t.word(OFF_SEQ);
            seq.store(
                seq.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Release,
            );
        }
    }
}

impl<'a> Locked<'a> {
    fn new(t: &'a Table, guard: Option<RawMutexGuard<'a>>) -> Result<Locked<'a>> {
        let side = t.word(OFF_ACTIVE).load(Ordering::Acquire);
        if side > 1 {
            return Err(Error::corrupt(t.name(), format!("active side is {side}")));
        }
        let top = t.word(OFF_TOP + 8 * side as usize).load(Ordering::Acquire);
        if top > t.geo.arena_len {
            return Err(Error::corrupt(
                t.name(),
                format!("arena top {top} is past the arena ({})", t.geo.arena_len),
            ));
        }
        Ok(Locked {
            t,
            guard,
            side,
            top,
            writing: false,
        })
    }

    /// Makes the sequence word odd before the first change (optimistic readers then
    /// retry or take the lock). A writer killed from here on leaves it odd; `recover`
    /// makes it even again.
    fn begin_write(&mut self) {
        debug_assert!(self.guard.is_some(), "a write without the lock");
        if !self.writing {
            let seq = self.t.word(OFF_SEQ);
            seq.store(seq.load(Ordering::Relaxed) | 1, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            self.writing = true;
        }
    }

    /// Finishes an in-place replace whose journal was committed (a writer died after
    /// the commit): copies the value again. Checked first; an invalid journal (only
    /// foreign writes make one) is dropped.
    fn finish_journal(&mut self) {
        let t = self.t;
        if t.word(OFF_JOURNAL).load(Ordering::Acquire) == 0 {
            return;
        }
        let (dst, src, len) = (
            t.word(OFF_JOURNAL_DST).load(Ordering::Relaxed),
            t.word(OFF_JOURNAL_SRC).load(Ordering::Relaxed),
            t.word(OFF_JOURNAL_LEN).load(Ordering::Relaxed),
        );
        let ok = dst.checked_add(len).is_some_and(|e| e <= self.top)
            && src >= self.top
            && src
                .checked_add(len)
                .is_some_and(|e| e <= self.geo().arena_len);
        if ok {
            // SAFETY:
            // - both ranges lie in the active side's arena (checked just above); the
            //   source is above `top`, the destination below it, so they are disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    t.arena(self.side).add(src as usize),
                    t.arena(self.side).add(dst as usize),
                    len as usize,
                )
            };
        }
        t.word(OFF_JOURNAL).store(0, Ordering::Release);
    }

    /// Replaces a value of the same length in place, through the journal: copy the new
    /// value above `top` (unseen), record where it goes, commit, copy it into place,
    /// clear the journal. `recover` redoes the copy if a writer dies after the commit.
    fn replace_in_place(&mut self, at: u64, value: &[u8]) {
        let t = self.t;
        let base = t.arena(self.side);
        // SAFETY:
        // - the caller checked top + value.len() <= arena_len: the scratch copy lands in
        //   this side's arena above top, where nothing is read; the source is caller
        //   memory.
        unsafe { segment::copy_out(value, base.add(self.top as usize)) };
        crash_point();
        t.word(OFF_JOURNAL_DST).store(at, Ordering::Relaxed);
        t.word(OFF_JOURNAL_SRC).store(self.top, Ordering::Relaxed);
        t.word(OFF_JOURNAL_LEN)
            .store(value.len() as u64, Ordering::Relaxed);
        t.word(OFF_JOURNAL).store(1, Ordering::Release);
        crash_point();
        // SAFETY:
        // - `at..at + len` is the value of a record that `record` checked to lie below
        //   top, in this side's arena; the source is caller memory.
        unsafe { segment::copy_out(value, base.add(at as usize)) };
        crash_point();
        t.word(OFF_JOURNAL).store(0, Ordering::Release);
        crash_point();
    }

    fn corrupt(&self, reason: String) -> Error {
        Error::corrupt(self.t.name(), reason)
    }

    fn geo(&self) -> &Geometry {
        &self.t.geo
    }

    fn counter(&self, off: usize) -> u64 {
        self.t.word(off).load(Ordering::Relaxed)
    }

    fn set_counter(&self, off: usize, v: u64) {
        self.t.word(off).store(v, Ordering::Relaxed);
    }

    /// Checks the record at `offset` of `side` (whose top is `top`): its lengths, and
    /// that it lies below `top`. Returns (key_len, value_len).
    fn record(&self, side: u64, top: u64, offset: u64) -> Result<(u64, u64)> {
        if offset.checked_add(RECORD_HEADER).is_none_or(|e| e > top) {
            return Err(self.corrupt(format!(
                "a slot points at offset {offset}, past the arena top {top}"
            )));
        }
        let mut h = [0u8; 8];
        // SAFETY:
        // - offset + 8 <= top <= arena_len (checked above and in `new`/by the caller), so
        //   the 8 bytes lie in this side's arena, inside the mapping.
        unsafe { segment::copy_in(self.t.arena(side).add(offset as usize), &mut h) };
        let key_len = u64::from(u32::from_ne_bytes([h[0], h[1], h[2], h[3]]));
        let value_len = u64::from(u32::from_ne_bytes([h[4], h[5], h[6], h[7]]));
        let end = offset + RECORD_HEADER + key_len + value_len; // < 2^40 + 2^33: no overflow
        if end > top {
            return Err(self.corrupt(format!(
                "record at {offset} ({key_len}+{value_len} bytes) runs past the arena top {top}"
            )));
        }
        let g = self.geo();
        if g.key_size != 0 && (key_len != g.key_size || value_len != g.value_size) {
            return Err(self.corrupt(format!(
                "record at {offset} has {key_len}+{value_len} bytes, the types need {}+{}",
                g.key_size, g.value_size
            )));
        }
        Ok((key_len, value_len))
    }

    /// Copies `out.len()` bytes at `offset` of `side`'s arena (a range checked by
    /// `record`).
    fn read(&self, side: u64, offset: u64, out: &mut [u8]) {
        debug_assert!(offset + out.len() as u64 <= self.geo().arena_len);
        // SAFETY:
        // - callers pass a range inside a record that `record` checked to lie below the
        //   side's top, itself inside the arena and the mapping (`top` was checked
        //   against the arena length when it was read, so even a stale or torn `top`
        //   keeps the range inside the mapping).
        // - `out` is local memory. On the optimistic path (no lock) a writer in another
        //   process may change these bytes meanwhile: they are plain bytes copied out,
        //   any value is valid, and `Table::read` discards the result unless the
        //   sequence word shows that no writer ran (the same tolerance as `copy_in`).
        unsafe { segment::copy_in(self.t.arena(side).add(offset as usize), out) };
    }

    fn key_eq(&self, side: u64, offset: u64, key_len: u64, key: &[u8]) -> bool {
        if key_len != key.len() as u64 {
            return false;
        }
        if key.len() <= 16 {
            // The common short key: one small copy, one compare.
            let mut buf = [0u8; 16];
            let b = &mut buf[..key.len()];
            self.read(side, offset + RECORD_HEADER, b);
            // A byte loop: cheaper than a memcmp call at these lengths.
            return b.iter().zip(key).all(|(x, y)| x == y);
        }
        let mut buf = [0u8; 64];
        let mut at = offset + RECORD_HEADER;
        for chunk in key.chunks(64) {
            let b = &mut buf[..chunk.len()];
            self.read(side, at, b);
            if b != chunk {
                return false;
            }
            at += chunk.len() as u64;
        }
        true
    }

    /// Looks `key` (hash `hash`) up in `side`, at most `nslots` probes.
    fn find_in(&self, side: u64, top: u64, key: &[u8], hash: u64) -> Result<Found> {
        let g = self.geo();
        let tag = tag_of(hash);
        let mut i = hash & g.mask();
        let mut free = None;
        for _ in 0..g.nslots {
            match decode_slot(self.t.slot(side, i).load(Ordering::Relaxed)) {
                Slot::Empty => {
                    return Ok(Found::Miss {
                        free: Some(free.unwrap_or(i)),
                    });
                }
                Slot::Tombstone => {
                    free.get_or_insert(i);
                }
                Slot::Live { tag: t, offset } => {
                    if t == tag {
                        let (key_len, value_len) = self.record(side, top, offset)?;
                        if self.key_eq(side, offset, key_len, key) {
                            return Ok(Found::Hit {
                                slot: i,
                                offset,
                                key_len,
                                value_len,
                            });
                        }
                    }
                }
                Slot::Bad => {
                    return Err(self.corrupt(format!("slot {i} holds an invalid word")));
                }
            }
            i = (i + 1) & g.mask();
        }
        Ok(Found::Miss { free })
    }

    fn find(&self, key: &[u8], hash: u64) -> Result<Found> {
        self.find_in(self.side, self.top, key, hash)
    }

    fn fill(&self, sink: Sink<'_>, offset: u64, key_len: u64, value_len: u64) {
        let at = offset + RECORD_HEADER + key_len;
        match sink {
            Sink::Discard => {}
            Sink::Vec(v) => {
                v.clear();
                v.resize(value_len as usize, 0);
                self.read(self.side, at, v);
            }
            Sink::Exact(b) => {
                debug_assert_eq!(b.len() as u64, value_len);
                let n = b.len().min(value_len as usize);
                self.read(self.side, at, &mut b[..n]);
            }
        }
    }

    /// Writes a record at `top` of `side`'s arena (the caller checked that it fits);
    /// returns its end. Nothing reads above `top`, so these writes are invisible.
    fn write_record(&self, side: u64, top: u64, key: &[u8], value: &[u8]) -> u64 {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&(key.len() as u32).to_ne_bytes());
        h[4..].copy_from_slice(&(value.len() as u32).to_ne_bytes());
        let base = self.t.arena(side);
        let end = top + RECORD_HEADER + (key.len() + value.len()) as u64;
        debug_assert!(end <= self.geo().arena_len);
        // SAFETY:
        // - the caller checked top + record length <= arena_len, so every copy lands in
        //   this side's arena, inside the mapping; the sources are caller memory.
        unsafe {
            segment::copy_out(&h, base.add(top as usize));
            crash_point();
            segment::copy_out(key, base.add((top + RECORD_HEADER) as usize));
            crash_point();
            segment::copy_out(value, base.add((top + RECORD_HEADER) as usize + key.len()));
        }
        crash_point();
        end
    }

    fn check_sizes(&self, key: &[u8], value: &[u8]) -> Result<u64> {
        let g = self.geo();
        if g.key_size != 0 {
            debug_assert!(key.len() as u64 == g.key_size && value.len() as u64 == g.value_size);
        }
        let payload = key.len() as u64 + value.len() as u64;
        if payload > g.max_bytes || key.len() > u32::MAX as usize || value.len() > u32::MAX as usize
        {
            return Err(Error::TooLarge {
                size: payload as usize,
                max: g.max_bytes as usize,
            });
        }
        Ok(payload)
    }

    fn full_entries(&self) -> Error {
        Error::Full(format!(
            "the dict `{}` holds {} entries, its capacity",
            self.t.name(),
            self.geo().capacity
        ))
    }

    fn full_bytes(&self, need: u64) -> Error {
        Error::Full(format!(
            "the dict `{}` would hold {need} key and value bytes; its maximum is {}",
            self.t.name(),
            self.geo().max_bytes
        ))
    }

    /// Inserts or replaces; the old value goes to `old`. Returns whether it replaced.
    fn insert(&mut self, key: &[u8], value: &[u8], old: Sink<'_>) -> Result<bool> {
        crash_point();
        let payload = self.check_sizes(key, value)?;
        let hash = hash_key(key);
        let g = *self.geo();
        let record = RECORD_HEADER + payload;
        let fits = self
            .top
            .checked_add(record)
            .is_some_and(|e| e <= g.arena_len);
        let live = self.counter(OFF_LIVE_BYTES);
        match self.find(key, hash)? {
            Found::Hit {
                slot,
                offset,
                key_len,
                value_len,
            } => {
                let new_live = live
                    .saturating_sub(key_len + value_len)
                    .saturating_add(payload);
                if new_live > g.max_bytes {
                    return Err(self.full_bytes(new_live));
                }
                self.fill(old, offset, key_len, value_len);
                self.begin_write();
                let scratch = self
                    .top
                    .checked_add(value_len)
                    .is_some_and(|e| e <= g.arena_len);
                if value_len == value.len() as u64 && scratch {
                    self.replace_in_place(offset + RECORD_HEADER + key_len, value);
                } else if fits {
                    let end = self.write_record(self.side, self.top, key, value);
                    self.commit_top(end);
                    self.t
                        .slot(self.side, slot)
                        .store(encode_slot(hash, end - record), Ordering::Release);
                    crash_point();
                    self.set_counter(OFF_LIVE_BYTES, new_live);
                } else {
                    self.rebuild(Some((key, value)), false)?;
                }
                Ok(true)
            }
            Found::Miss { free } => {
                let len = self.counter(OFF_LEN);
                if len >= g.capacity {
                    return Err(self.full_entries());
                }
                let new_live = live.saturating_add(payload);
                if new_live > g.max_bytes {
                    return Err(self.full_bytes(new_live));
                }
                let used = self.counter(OFF_USED);
                let reuse = free.map(|i| {
                    let tomb = self.t.slot(self.side, i).load(Ordering::Relaxed) == TOMBSTONE;
                    (i, tomb)
                });
                self.begin_write();
                match reuse {
                    Some((i, tomb)) if fits && (tomb || used < g.max_used()) => {
                        let end = self.write_record(self.side, self.top, key, value);
                        self.commit_top(end);
                        self.t
                            .slot(self.side, i)
                            .store(encode_slot(hash, end - record), Ordering::Release);
                        crash_point();
                        self.set_counter(OFF_LEN, len + 1);
                        crash_point();
                        if !tomb {
                            self.set_counter(OFF_USED, used + 1);
                        }
                        self.set_counter(OFF_LIVE_BYTES, new_live);
                    }
                    _ => {
                        self.rebuild(Some((key, value)), false)?;
                    }
                }
                Ok(false)
            }
        }
    }

    fn commit_top(&mut self, end: u64) {
        self.t
            .word(OFF_TOP + 8 * self.side as usize)
            .store(end, Ordering::Release);
        self.top = end;
        crash_point();
    }

    fn get(&self, key: &[u8], out: Sink<'_>) -> Result<Option<u64>> {
        match self.find(key, hash_key(key))? {
            Found::Hit {
                offset,
                key_len,
                value_len,
                ..
            } => {
                self.fill(out, offset, key_len, value_len);
                Ok(Some(value_len))
            }
            Found::Miss { .. } => Ok(None),
        }
    }

    fn remove(&mut self, key: &[u8], old: Sink<'_>) -> Result<bool> {
        crash_point();
        let Found::Hit {
            slot,
            offset,
            key_len,
            value_len,
        } = self.find(key, hash_key(key))?
        else {
            return Ok(false);
        };
        self.fill(old, offset, key_len, value_len);
        self.begin_write();
        let g = *self.geo();
        // Linear probing: when the next slot is empty, no probe sequence continues past
        // this one, so it can become empty instead of a tombstone.
        let next_empty = self
            .t
            .slot(self.side, (slot + 1) & g.mask())
            .load(Ordering::Relaxed)
            == EMPTY;
        let word = if next_empty { EMPTY } else { TOMBSTONE };
        self.t.slot(self.side, slot).store(word, Ordering::Release);
        crash_point();
        self.set_counter(OFF_LEN, self.counter(OFF_LEN).saturating_sub(1));
        crash_point();
        if next_empty {
            self.set_counter(OFF_USED, self.counter(OFF_USED).saturating_sub(1));
        }
        self.set_counter(
            OFF_LIVE_BYTES,
            self.counter(OFF_LIVE_BYTES)
                .saturating_sub(key_len + value_len),
        );
        Ok(true)
    }

    fn clear(&mut self) {
        crash_point();
        self.begin_write();
        let other = 1 - self.side;
        self.empty_side(other);
        self.flip(other, 0);
        self.set_counter(OFF_LEN, 0);
        self.set_counter(OFF_USED, 0);
        self.set_counter(OFF_LIVE_BYTES, 0);
    }

    fn empty_side(&self, side: u64) {
        for i in 0..self.geo().nslots {
            self.t.slot(side, i).store(EMPTY, Ordering::Relaxed);
        }
        crash_point();
    }

    /// Commits `side` (whose arena holds `top` bytes) as the active side.
    fn flip(&mut self, side: u64, top: u64) {
        self.t
            .word(OFF_TOP + 8 * side as usize)
            .store(top, Ordering::Release);
        crash_point();
        self.t.word(OFF_ACTIVE).store(side, Ordering::Release);
        crash_point();
        self.side = side;
        self.top = top;
    }

    /// Copies the live entries into the inactive side (with `key` set to `value`, when
    /// given) and makes it active. `lenient` (recover): invalid or excess entries are
    /// dropped and counted; otherwise they are `Corrupt` / `Full` and nothing changes.
    fn rebuild(&mut self, over: Option<(&[u8], &[u8])>, lenient: bool) -> Result<usize> {
        crash_point();
        self.begin_write();
        let g = *self.geo();
        let (from, from_top) = (self.side, self.top);
        let to = 1 - from;
        self.empty_side(to);
        let (mut top, mut len, mut live, mut dropped) = (0u64, 0u64, 0u64, 0usize);
        let mut key = Vec::new();
        for i in 0..g.nslots {
            let offset = match decode_slot(self.t.slot(from, i).load(Ordering::Relaxed)) {
                Slot::Empty | Slot::Tombstone => continue,
                Slot::Live { offset, .. } => offset,
                Slot::Bad if lenient => {
                    dropped += 1;
                    continue;
                }
                Slot::Bad => return Err(self.corrupt(format!("slot {i} holds an invalid word"))),
            };
            let (key_len, value_len) = match self.record(from, from_top, offset) {
                Ok(r) => r,
                Err(_) if lenient => {
                    dropped += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            key.resize(key_len as usize, 0);
            self.read(from, offset + RECORD_HEADER, &mut key);
            if over.is_some_and(|(k, _)| k == key.as_slice()) {
                continue;
            }
            let payload = key_len + value_len;
            let record = RECORD_HEADER + payload;
            if len >= g.capacity || live + payload > g.max_bytes || top + record > g.arena_len {
                if lenient {
                    dropped += 1;
                    continue;
                }
                return Err(Error::Full(format!(
                    "the dict `{}` holds more than its capacity (its counters were wrong)",
                    self.t.name()
                )));
            }
            let hash = hash_key(&key);
            let free = match self.find_in(to, top, &key, hash)? {
                Found::Miss { free: Some(j) } => j,
                _ if lenient => {
                    dropped += 1;
                    continue;
                }
                _ => return Err(self.corrupt("the same key is stored twice".into())),
            };
            // SAFETY:
            // - the source record lies below `from_top` in `from`'s arena (checked by
            //   `record`); the destination range ends at top + record <= arena_len in
            //   `to`'s arena (checked above); the two arenas are disjoint halves.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.t.arena(from).add(offset as usize),
                    self.t.arena(to).add(top as usize),
                    record as usize,
                );
            }
            self.t
                .slot(to, free)
                .store(encode_slot(hash, top), Ordering::Relaxed);
            crash_point();
            top += record;
            len += 1;
            live += payload;
        }
        if let Some((k, v)) = over {
            let payload = (k.len() + v.len()) as u64;
            if len >= g.capacity {
                return Err(self.full_entries());
            }
            if live + payload > g.max_bytes || top + RECORD_HEADER + payload > g.arena_len {
                return Err(self.full_bytes(live + payload));
            }
            let hash = hash_key(k);
            let Found::Miss { free: Some(j) } = self.find_in(to, top, k, hash)? else {
                return Err(self.corrupt("no free slot after a compaction".into()));
            };
            let end = self.write_record(to, top, k, v);
            self.t
                .slot(to, j)
                .store(encode_slot(hash, top), Ordering::Relaxed);
            top = end;
            len += 1;
            live += payload;
        }
        self.flip(to, top);
        self.set_counter(OFF_LEN, len);
        crash_point();
        self.set_counter(OFF_USED, len);
        self.set_counter(OFF_LIVE_BYTES, live);
        self.t.word(OFF_COMPACTIONS).fetch_add(1, Ordering::Relaxed);
        Ok(dropped)
    }

    /// Calls `f(key, value)` for every live entry of the active side, in slot order.
    fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) -> Result<()> {
        let mut key = Vec::new();
        let mut value = Vec::new();
        for i in 0..self.geo().nslots {
            match decode_slot(self.t.slot(self.side, i).load(Ordering::Relaxed)) {
                Slot::Empty | Slot::Tombstone => {}
                Slot::Bad => return Err(self.corrupt(format!("slot {i} holds an invalid word"))),
                Slot::Live { offset, .. } => {
                    let (key_len, value_len) = self.record(self.side, self.top, offset)?;
                    key.resize(key_len as usize, 0);
                    value.resize(value_len as usize, 0);
                    self.read(self.side, offset + RECORD_HEADER, &mut key);
                    self.read(self.side, offset + RECORD_HEADER + key_len, &mut value);
                    f(&key, &value);
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> Result<usize> {
        let len = self.counter(OFF_LEN);
        if len > self.geo().capacity {
            return Err(self.corrupt(format!(
                "length {len} exceeds the capacity {}",
                self.geo().capacity
            )));
        }
        Ok(len as usize)
    }

    /// A full read-only check: every slot and record valid, every key found by its
    /// own probe sequence (so reachable and stored once).
    fn verify(&self) -> Result<TableCheck> {
        let (mut len, mut tombstones, mut live) = (0u64, 0u64, 0u64);
        let mut key = Vec::new();
        for i in 0..self.geo().nslots {
            match decode_slot(self.t.slot(self.side, i).load(Ordering::Relaxed)) {
                Slot::Empty => {}
                Slot::Tombstone => tombstones += 1,
                Slot::Bad => return Err(self.corrupt(format!("slot {i} holds an invalid word"))),
                Slot::Live { offset, .. } => {
                    let (key_len, value_len) = self.record(self.side, self.top, offset)?;
                    key.resize(key_len as usize, 0);
                    self.read(self.side, offset + RECORD_HEADER, &mut key);
                    match self.find(&key, hash_key(&key))? {
                        Found::Hit { slot, .. } if slot == i => {}
                        _ => {
                            return Err(self.corrupt(format!(
                                "the entry in slot {i} is not found by its own probe sequence"
                            )));
                        }
                    }
                    len += 1;
                    live += key_len + value_len;
                }
            }
        }
        let g = self.geo();
        if len > g.capacity || live > g.max_bytes {
            return Err(self.corrupt(format!(
                "{len} entries of {live} bytes exceed the capacity {} / {} bytes",
                g.capacity, g.max_bytes
            )));
        }
        let counters_agree = self.counter(OFF_LEN) == len
            && self.counter(OFF_USED) == len + tombstones
            && self.counter(OFF_LIVE_BYTES) == live;
        Ok(TableCheck {
            len: len as usize,
            tombstones: tombstones as usize,
            live_bytes: live as usize,
            arena_used: self.top as usize,
            arena_len: self.geo().arena_len as usize,
            counters_agree,
        })
    }
}

// ---------------------------------------------------------------------------------
// The byte form

/// A shared dict of byte-string keys and values of any length, like Python's
/// `Manager().dict()` without the server process: a hash table in one named segment,
/// guarded by a robust lock.
///
/// Capacity is fixed at creation: at most `capacity` entries whose keys and values
/// total at most `max_bytes` bytes. An insert past either is [`Error::Full`] and
/// changes nothing; removed entries free their room (the table compacts itself when it
/// needs the space). The `*_value` methods store any serde value under a string key
/// (postcard encoding), so `String → any Serialize` works like a Python dict.
///
/// ```
/// # let name = format!("doc-bytedict-{}", std::process::id());
/// let d = shmkit::ByteDict::create(&name, 100, 64 * 1024)?;
/// d.insert("color", "blue")?;
/// assert_eq!(d.get("color")?.as_deref(), Some(&b"blue"[..]));
/// d.insert_value("point", &(1.5f64, 2.5f64))?;
/// assert_eq!(d.get_value::<(f64, f64)>("point")?, Some((1.5, 2.5)));
/// assert_eq!(d.len()?, 2);
/// // Another process: shmkit::ByteDict::open(&name)
/// # Ok::<(), shmkit::Error>(())
/// ```
///
/// When a process dies holding the lock, every later call returns
/// [`Error::OwnerDied`] until someone calls [`recover`](Self::recover), which checks and
/// rebuilds the table; the table is then exactly as before or as after the operation
/// the dead process was in (see the module docs of `shmkit::collections`).
pub struct ByteDict {
    t: Table,
}

impl fmt::Debug for ByteDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteDict")
            .field("name", &self.t.seg.name())
            .field("capacity", &self.t.geo.capacity)
            .field("max_bytes", &self.t.geo.max_bytes)
            .finish()
    }
}

fn byte_geometry(capacity: usize, max_bytes: usize) -> Result<Geometry> {
    Geometry::new(capacity as u64, max_bytes as u64, 0, 0).map_err(Error::InvalidArgument)
}

fn codec(e: postcard::Error) -> Error {
    Error::Codec(e.to_string())
}

impl ByteDict {
    /// Creates the dict `name` for at most `capacity` entries whose keys and values
    /// total at most `max_bytes` bytes.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] for a capacity of 0 or sizes
    /// too large.
    pub fn create(name: &str, capacity: usize, max_bytes: usize) -> Result<ByteDict> {
        Self::create_with(name, capacity, max_bytes, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(
        name: &str,
        capacity: usize,
        max_bytes: usize,
        opts: &SegmentOptions,
    ) -> Result<ByteDict> {
        let geo = byte_geometry(capacity, max_bytes)?;
        Ok(ByteDict {
            t: Table::create(Some(name), BYTES_DESC, geo, opts)?,
        })
    }

    /// Opens the byte dict `name`.
    ///
    /// # Errors
    /// As [`Segment::open`]; [`Error::KindMismatch`] if it is not a dict,
    /// [`Error::TypeMismatch`] if it is a typed [`Dict`].
    pub fn open(name: &str) -> Result<ByteDict> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<ByteDict> {
        Ok(ByteDict {
            t: Table::open(name, BYTES_DESC, 0, opts)?,
        })
    }

    /// Opens `name`, creating it if it does not exist (an existing dict keeps its own
    /// capacity).
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, capacity: usize, max_bytes: usize) -> Result<ByteDict> {
        segment::open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, capacity, max_bytes),
            || Self::open(name),
        )
    }

    /// An unnamed dict shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(capacity: usize, max_bytes: usize) -> Result<ByteDict> {
        let geo = byte_geometry(capacity, max_bytes)?;
        Ok(ByteDict {
            t: Table::create(None, BYTES_DESC, geo, &SegmentOptions::default())?,
        })
    }

    /// The most entries.
    pub fn capacity(&self) -> usize {
        self.t.geo.capacity as usize
    }

    /// The most key + value bytes, summed over all entries.
    pub fn max_bytes(&self) -> usize {
        self.t.geo.max_bytes as usize
    }

    /// Takes the lock: the guard runs several operations as one atomic step.
    ///
    /// # Errors
    /// [`Error::OwnerDied`] when a process died holding the lock (call
    /// [`recover`](Self::recover)), [`Error::Corrupt`], or a lock failure.
    pub fn lock(&self) -> Result<ByteDictGuard<'_>> {
        Ok(ByteDictGuard { l: self.t.lock()? })
    }

    /// Inserts `key → value`; returns the old value.
    ///
    /// # Errors
    /// [`Error::Full`] (nothing changed), [`Error::TooLarge`] when the entry alone
    /// exceeds `max_bytes`, and the errors of [`lock`](Self::lock).
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        self.lock()?.insert(key, value)
    }

    /// The value under `key`.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        self.t.read(|l| get_vec(l, key))
    }

    /// Copies the value under `key` into `buf`; returns its length (`None`: no such
    /// key).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] with the needed size (nothing copied), and as
    /// [`lock`](Self::lock).
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>> {
        let key = key.as_ref();
        self.t.read(|l| get_into_buf(l, key, buf))
    }

    /// Whether `key` is present.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.t.read(|l| Ok(l.get(key, Sink::Discard)?.is_some()))
    }

    /// Removes `key`; returns its value.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.lock()?.remove(key)
    }

    /// The number of entries.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn len(&self) -> Result<usize> {
        self.t.read(|l| l.len())
    }

    /// Whether the dict is empty.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every entry (one atomic step, crash or not).
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn clear(&self) -> Result<()> {
        self.lock()?.clear();
        Ok(())
    }

    /// A snapshot of the keys.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn keys(&self) -> Result<Vec<Vec<u8>>> {
        self.lock()?.keys()
    }

    /// A snapshot of the values.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn values(&self) -> Result<Vec<Vec<u8>>> {
        self.lock()?.values()
    }

    /// A snapshot of the entries.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn items(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.lock()?.items()
    }

    /// Runs `f` on the value under `key` (`None` when absent) under the lock, and
    /// stores what it leaves there (`None` removes). Returns `f`'s result.
    ///
    /// # Errors
    /// As [`insert`](Self::insert); when the new value does not fit, nothing changes.
    pub fn update<R>(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&mut Option<Vec<u8>>) -> R,
    ) -> Result<R> {
        self.lock()?.update(key, f)
    }

    /// The value under `key`, inserting `default` first if it is absent.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn get_or_insert(
        &self,
        key: impl AsRef<[u8]>,
        default: impl AsRef<[u8]>,
    ) -> Result<Vec<u8>> {
        self.lock()?.get_or_insert(key, default)
    }

    /// Stores `value` (postcard-encoded) under the string `key`; returns whether it
    /// replaced an entry.
    ///
    /// # Errors
    /// [`Error::Codec`] if it does not serialize, and as [`insert`](Self::insert).
    pub fn insert_value<V: Serialize + ?Sized>(&self, key: &str, value: &V) -> Result<bool> {
        let bytes = postcard::to_allocvec(value).map_err(codec)?;
        let mut l = self.lock()?;
        l.l.insert(key.as_bytes(), &bytes, Sink::Discard)
    }

    /// The value under the string `key`, decoded.
    ///
    /// # Errors
    /// [`Error::Codec`] if the stored bytes are not a `V`, and as [`get`](Self::get).
    pub fn get_value<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>> {
        self.get(key)?
            .map(|b| postcard::from_bytes(&b).map_err(codec))
            .transpose()
    }

    /// Removes the string `key`; returns its value, decoded.
    ///
    /// # Errors
    /// As [`get_value`](Self::get_value) (the entry is removed even if it does not
    /// decode).
    pub fn remove_value<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>> {
        self.remove(key)?
            .map(|b| postcard::from_bytes(&b).map_err(codec))
            .transpose()
    }

    /// [`update`](Self::update) with decoded values: `f` sees the value under `key`
    /// (`None` when absent), and what it leaves is encoded and stored.
    ///
    /// # Errors
    /// [`Error::Codec`] (nothing changed), and as [`update`](Self::update).
    pub fn update_value<V: Serialize + DeserializeOwned, R>(
        &self,
        key: &str,
        f: impl FnOnce(&mut Option<V>) -> R,
    ) -> Result<R> {
        let mut g = self.lock()?;
        let mut cur = g
            .get(key)?
            .map(|b| postcard::from_bytes::<V>(&b).map_err(codec))
            .transpose()?;
        let r = f(&mut cur);
        match cur {
            Some(v) => {
                let bytes = postcard::to_allocvec(&v).map_err(codec)?;
                g.l.insert(key.as_bytes(), &bytes, Sink::Discard)?;
            }
            None => {
                g.l.remove(key.as_bytes(), Sink::Discard)?;
            }
        }
        Ok(r)
    }

    /// A snapshot of the entries with UTF-8 keys, values decoded.
    ///
    /// # Errors
    /// [`Error::Codec`] if a key is not UTF-8 or a value not a `V`; as
    /// [`items`](Self::items).
    pub fn items_values<V: DeserializeOwned>(&self) -> Result<Vec<(String, V)>> {
        self.items()?
            .into_iter()
            .map(|(k, v)| {
                let k =
                    String::from_utf8(k).map_err(|_| Error::Codec("a key is not UTF-8".into()))?;
                Ok((k, postcard::from_bytes(&v).map_err(codec)?))
            })
            .collect()
    }

    /// Repairs the table after a process died holding its lock: checks every entry,
    /// rebuilds the table (compacting it), recomputes the counters and clears the
    /// lock's repair flag. Returns how many invalid entries were dropped (0 after any
    /// crash; only foreign writes make invalid entries). Works on a healthy table too.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table's header words are invalid; a lock failure.
    pub fn recover(&self) -> Result<usize> {
        self.t.recover()
    }

    /// Checks the whole table without changing it (also while an owner-died report is
    /// pending): every slot, record and probe sequence.
    ///
    /// # Errors
    /// [`Error::Corrupt`] saying what is wrong; a lock failure.
    pub fn verify(&self) -> Result<TableCheck> {
        self.t.verify()
    }

    /// The segment behind this dict.
    pub fn segment(&self) -> &Segment {
        &self.t.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.t.seg
    }
}

/// A [`ByteDict`] with its lock held: every call on it is part of one atomic step.
pub struct ByteDictGuard<'a> {
    l: Locked<'a>,
}

impl fmt::Debug for ByteDictGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ByteDictGuard { .. }")
    }
}

fn get_vec(l: &Locked<'_>, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut v = Vec::new();
    Ok(l.get(key, Sink::Vec(&mut v))?.map(|_| v))
}

fn get_into_buf(l: &Locked<'_>, key: &[u8], buf: &mut [u8]) -> Result<Option<usize>> {
    match l.find(key, hash_key(key))? {
        Found::Hit {
            offset,
            key_len,
            value_len,
            ..
        } => {
            let n = value_len as usize;
            if n > buf.len() {
                return Err(Error::BufferTooSmall {
                    needed: n,
                    capacity: buf.len(),
                });
            }
            l.fill(Sink::Exact(&mut buf[..n]), offset, key_len, value_len);
            Ok(Some(n))
        }
        Found::Miss { .. } => Ok(None),
    }
}

impl ByteDictGuard<'_> {
    /// See [`ByteDict::insert`].
    ///
    /// # Errors
    /// As [`ByteDict::insert`].
    pub fn insert(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        let mut old = Vec::new();
        let replaced = self
            .l
            .insert(key.as_ref(), value.as_ref(), Sink::Vec(&mut old))?;
        Ok(replaced.then_some(old))
    }

    /// See [`ByteDict::get`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        get_vec(&self.l, key.as_ref())
    }

    /// See [`ByteDict::get_into`].
    ///
    /// # Errors
    /// As [`ByteDict::get_into`].
    pub fn get_into(&self, key: impl AsRef<[u8]>, buf: &mut [u8]) -> Result<Option<usize>> {
        get_into_buf(&self.l, key.as_ref(), buf)
    }

    /// See [`ByteDict::contains_key`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.l.get(key.as_ref(), Sink::Discard)?.is_some())
    }

    /// See [`ByteDict::remove`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let mut old = Vec::new();
        Ok(self
            .l
            .remove(key.as_ref(), Sink::Vec(&mut old))?
            .then_some(old))
    }

    /// See [`ByteDict::len`].
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the recorded length exceeds the capacity.
    pub fn len(&self) -> Result<usize> {
        self.l.len()
    }

    /// See [`ByteDict::is_empty`].
    ///
    /// # Errors
    /// As [`len`](Self::len).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// See [`ByteDict::clear`].
    pub fn clear(&mut self) {
        self.l.clear()
    }

    /// See [`ByteDict::keys`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn keys(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.l.for_each(|k, _| out.push(k.to_vec()))?;
        Ok(out)
    }

    /// See [`ByteDict::values`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn values(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.l.for_each(|_, v| out.push(v.to_vec()))?;
        Ok(out)
    }

    /// See [`ByteDict::items`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn items(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.l.for_each(|k, v| out.push((k.to_vec(), v.to_vec())))?;
        Ok(out)
    }

    /// See [`ByteDict::update`].
    ///
    /// # Errors
    /// As [`ByteDict::update`].
    pub fn update<R>(
        &mut self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(&mut Option<Vec<u8>>) -> R,
    ) -> Result<R> {
        let key = key.as_ref();
        let mut cur = self.get(key)?;
        let r = f(&mut cur);
        match cur {
            Some(v) => {
                self.l.insert(key, &v, Sink::Discard)?;
            }
            None => {
                self.l.remove(key, Sink::Discard)?;
            }
        }
        Ok(r)
    }

    /// See [`ByteDict::get_or_insert`].
    ///
    /// # Errors
    /// As [`ByteDict::insert`].
    pub fn get_or_insert(
        &mut self,
        key: impl AsRef<[u8]>,
        default: impl AsRef<[u8]>,
    ) -> Result<Vec<u8>> {
        let key = key.as_ref();
        if let Some(v) = self.get(key)? {
            return Ok(v);
        }
        self.l.insert(key, default.as_ref(), Sink::Discard)?;
        Ok(default.as_ref().to_vec())
    }
}

// ---------------------------------------------------------------------------------
// The typed form

/// A shared dict of fixed-size keys `K` and values `V` (any [`Shareable`] types), in
/// one named segment, guarded by a robust lock.
///
/// Keys compare by their bytes (so `-0.0` and `0.0` are different `f64` keys, and a
/// NaN equals itself). The segment records both type names (`"u64:f64"`), and opening
/// it with other types is [`Error::TypeMismatch`].
///
/// ```
/// # let name = format!("doc-dict-{}", std::process::id());
/// let scores = shmkit::Dict::<u32, f64>::create(&name, 1000)?;
/// assert_eq!(scores.insert(7, 1.5)?, None);
/// assert_eq!(scores.insert(7, 2.5)?, Some(1.5));
/// scores.update(7, |v| *v = v.map(|x| x * 2.0))?;
/// assert_eq!(scores.get(&7)?, Some(5.0));
/// assert_eq!(scores.get_or_insert(8, 0.5)?, 0.5);
/// assert_eq!(scores.len()?, 2);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub struct Dict<K: Shareable, V: Shareable> {
    t: Table,
    _t: PhantomData<(K, V)>,
}

impl<K: Shareable, V: Shareable> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dict")
            .field("name", &self.t.seg.name())
            .field("key", &K::TYPE_NAME)
            .field("value", &V::TYPE_NAME)
            .field("capacity", &self.t.geo.capacity)
            .finish()
    }
}

impl<K: Shareable, V: Shareable> Dict<K, V> {
    fn desc() -> Result<TypeDesc> {
        let (ks, vs) = (std::mem::size_of::<K>(), std::mem::size_of::<V>());
        if ks == 0 || vs == 0 {
            return Err(Error::InvalidArgument(
                "dict keys and values must not be zero-sized".into(),
            ));
        }
        let align = std::mem::align_of::<K>().max(std::mem::align_of::<V>());
        let size = (ks + vs).div_ceil(align) * align;
        TypeDesc::runtime(&format!("{}:{}", K::TYPE_NAME, V::TYPE_NAME), size, align)
    }

    fn geometry(capacity: usize) -> Result<Geometry> {
        let (ks, vs) = (
            std::mem::size_of::<K>() as u64,
            std::mem::size_of::<V>() as u64,
        );
        let max_bytes = (capacity as u64).checked_mul(ks + vs).ok_or_else(|| {
            Error::InvalidArgument(format!("a dict of {capacity} entries is too large"))
        })?;
        Geometry::new(capacity as u64, max_bytes, ks, vs).map_err(Error::InvalidArgument)
    }

    /// Creates the dict `name` for at most `capacity` entries.
    ///
    /// # Errors
    /// As [`Segment::create`]; [`Error::InvalidArgument`] for a capacity of 0 or too
    /// large, or type names longer than 63 bytes together.
    pub fn create(name: &str, capacity: usize) -> Result<Self> {
        Self::create_with(name, capacity, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, capacity: usize, opts: &SegmentOptions) -> Result<Self> {
        let (desc, geo) = (Self::desc()?, Self::geometry(capacity)?);
        Ok(Self::wrap(Table::create(Some(name), desc, geo, opts)?))
    }

    /// Opens the dict `name`.
    ///
    /// # Errors
    /// As [`Segment::open`], plus kind and type mismatches.
    pub fn open(name: &str) -> Result<Self> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Self> {
        let t = Table::open(name, Self::desc()?, std::mem::size_of::<K>() as u64, opts)?;
        if t.geo.value_size != std::mem::size_of::<V>() as u64 {
            return Err(Error::corrupt(name, "value size differs from the type's"));
        }
        Ok(Self::wrap(t))
    }

    /// Opens `name`, creating it if it does not exist.
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

    /// An unnamed dict shared with children forked after this call.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn anonymous(capacity: usize) -> Result<Self> {
        let (desc, geo) = (Self::desc()?, Self::geometry(capacity)?);
        Ok(Self::wrap(Table::create(
            None,
            desc,
            geo,
            &SegmentOptions::default(),
        )?))
    }

    fn wrap(t: Table) -> Self {
        Dict { t, _t: PhantomData }
    }

    /// The most entries.
    pub fn capacity(&self) -> usize {
        self.t.geo.capacity as usize
    }

    /// Takes the lock: the guard runs several operations as one atomic step.
    ///
    /// # Errors
    /// As [`ByteDict::lock`].
    pub fn lock(&self) -> Result<DictGuard<'_, K, V>> {
        Ok(DictGuard {
            l: self.t.lock()?,
            _t: PhantomData,
        })
    }

    /// Inserts `key → value`; returns the old value.
    ///
    /// # Errors
    /// [`Error::Full`] (nothing changed), and as [`lock`](Self::lock).
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>> {
        self.lock()?.insert(key, value)
    }

    /// The value under `key`.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.t.read(|l| {
            let mut v = V::new_zeroed();
            Ok(l.get(key.as_bytes(), Sink::Exact(v.as_mut_bytes()))?
                .map(|_| v))
        })
    }

    /// Whether `key` is present.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        self.t
            .read(|l| Ok(l.get(key.as_bytes(), Sink::Discard)?.is_some()))
    }

    /// Removes `key`; returns its value.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        self.lock()?.remove(key)
    }

    /// The number of entries.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn len(&self) -> Result<usize> {
        self.t.read(|l| l.len())
    }

    /// Whether the dict is empty.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every entry (one atomic step).
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn clear(&self) -> Result<()> {
        self.lock()?.clear();
        Ok(())
    }

    /// A snapshot of the keys.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn keys(&self) -> Result<Vec<K>> {
        Ok(self.items()?.into_iter().map(|(k, _)| k).collect())
    }

    /// A snapshot of the values.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn values(&self) -> Result<Vec<V>> {
        Ok(self.items()?.into_iter().map(|(_, v)| v).collect())
    }

    /// A snapshot of the entries.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        self.lock()?.items()
    }

    /// Runs `f` on the value under `key` (`None` when absent) under the lock and stores
    /// what it leaves (`None` removes). Returns `f`'s result.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn update<R>(&self, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> Result<R> {
        self.lock()?.update(key, f)
    }

    /// The value under `key`, inserting `default` first if it is absent.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn get_or_insert(&self, key: K, default: V) -> Result<V> {
        self.lock()?.get_or_insert(key, default)
    }

    /// See [`ByteDict::recover`].
    ///
    /// # Errors
    /// As [`ByteDict::recover`].
    pub fn recover(&self) -> Result<usize> {
        self.t.recover()
    }

    /// See [`ByteDict::verify`].
    ///
    /// # Errors
    /// As [`ByteDict::verify`].
    pub fn verify(&self) -> Result<TableCheck> {
        self.t.verify()
    }

    /// The segment behind this dict.
    pub fn segment(&self) -> &Segment {
        &self.t.seg
    }

    /// Mutable access to the segment (to make it persistent).
    pub fn segment_mut(&mut self) -> &mut Segment {
        &mut self.t.seg
    }
}

/// A [`Dict`] with its lock held: every call on it is part of one atomic step.
pub struct DictGuard<'a, K, V> {
    l: Locked<'a>,
    _t: PhantomData<(K, V)>,
}

impl<K, V> fmt::Debug for DictGuard<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DictGuard { .. }")
    }
}

impl<K: Shareable, V: Shareable> DictGuard<'_, K, V> {
    /// See [`Dict::insert`].
    ///
    /// # Errors
    /// As [`Dict::insert`].
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>> {
        let mut old = V::new_zeroed();
        let replaced = self.l.insert(
            key.as_bytes(),
            value.as_bytes(),
            Sink::Exact(old.as_mut_bytes()),
        )?;
        Ok(replaced.then_some(old))
    }

    /// See [`Dict::get`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let mut v = V::new_zeroed();
        Ok(self
            .l
            .get(key.as_bytes(), Sink::Exact(v.as_mut_bytes()))?
            .map(|_| v))
    }

    /// See [`Dict::contains_key`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        Ok(self.l.get(key.as_bytes(), Sink::Discard)?.is_some())
    }

    /// See [`Dict::remove`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn remove(&mut self, key: &K) -> Result<Option<V>> {
        let mut old = V::new_zeroed();
        Ok(self
            .l
            .remove(key.as_bytes(), Sink::Exact(old.as_mut_bytes()))?
            .then_some(old))
    }

    /// See [`Dict::len`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn len(&self) -> Result<usize> {
        self.l.len()
    }

    /// See [`Dict::is_empty`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// See [`Dict::clear`].
    pub fn clear(&mut self) {
        self.l.clear()
    }

    /// See [`Dict::items`].
    ///
    /// # Errors
    /// [`Error::Corrupt`].
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        self.l.for_each(|k, v| {
            let mut key = K::new_zeroed();
            let mut value = V::new_zeroed();
            // `record` checked both lengths against the types.
            key.as_mut_bytes().copy_from_slice(k);
            value.as_mut_bytes().copy_from_slice(v);
            out.push((key, value));
        })?;
        Ok(out)
    }

    /// See [`Dict::update`].
    ///
    /// # Errors
    /// As [`Dict::update`].
    pub fn update<R>(&mut self, key: K, f: impl FnOnce(&mut Option<V>) -> R) -> Result<R> {
        let mut cur = self.get(&key)?;
        let r = f(&mut cur);
        match cur {
            Some(v) => {
                self.l.insert(key.as_bytes(), v.as_bytes(), Sink::Discard)?;
            }
            None => {
                self.l.remove(key.as_bytes(), Sink::Discard)?;
            }
        }
        Ok(r)
    }

    /// See [`Dict::get_or_insert`].
    ///
    /// # Errors
    /// As [`Dict::insert`].
    pub fn get_or_insert(&mut self, key: K, default: V) -> Result<V> {
        if let Some(v) = self.get(&key)? {
            return Ok(v);
        }
        self.l
            .insert(key.as_bytes(), default.as_bytes(), Sink::Discard)?;
        Ok(default)
    }
}

// ---------------------------------------------------------------------------------
// Reading copied bytes (for `inspect` and `shmkit show`)

/// A dict's table words, decoded from a copy of its control block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DictWords {
    pub geo: Geometry,
    pub active: u64,
    pub len: u64,
    pub used: u64,
    pub live_bytes: u64,
    pub top: u64,
    pub compactions: u64,
    pub repairs: u64,
}

fn word_at(bytes: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        bytes.get(off..off + 8)?.try_into().ok()?,
    ))
}

/// Decodes the table words from a copied control block; any bytes decode, and what
/// is out of range is an `Err` saying so.
pub(crate) fn words_from(
    info: &SegmentInfo,
    control: &[u8],
) -> std::result::Result<DictWords, String> {
    let geo = Geometry::from_info(info)?;
    let w = |off| word_at(control, off).ok_or_else(|| "the control block is too short".to_string());
    let active = w(OFF_ACTIVE)?;
    if active > 1 {
        return Err(format!("active side is {active}, not 0 or 1"));
    }
    let top = w(OFF_TOP + 8 * active as usize)?;
    Ok(DictWords {
        geo,
        active,
        len: w(OFF_LEN)?,
        used: w(OFF_USED)?,
        live_bytes: w(OFF_LIVE_BYTES)?,
        top: top.min(geo.arena_len),
        compactions: w(OFF_COMPACTIONS)?,
        repairs: w(OFF_REPAIRS)?,
    })
}

/// A key and its value, copied.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// The live entries found in a copied window of the data area (`data` starts at byte
/// `data_offset`), at most `max` of them, in slot order; and whether some could not be
/// read (outside the window, or invalid).
pub(crate) fn entries_from(
    w: &DictWords,
    data_offset: u64,
    data: &[u8],
    max: usize,
) -> (Vec<Entry>, bool) {
    let g = &w.geo;
    let side = w.active * g.side_len;
    let at = |abs: u64, len: u64| -> Option<&[u8]> {
        let start = usize::try_from(abs.checked_sub(data_offset)?).ok()?;
        data.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    };
    let (mut out, mut missing) = (Vec::new(), false);
    for i in 0..g.nslots {
        let Some(word) = at(side + i * 8, 8) else {
            missing = true;
            break;
        };
        let offset = match decode_slot(u64::from_ne_bytes(word.try_into().unwrap_or_default())) {
            Slot::Empty | Slot::Tombstone => continue,
            Slot::Bad => {
                missing = true;
                continue;
            }
            Slot::Live { offset, .. } => offset,
        };
        if out.len() >= max {
            missing = true;
            break;
        }
        let arena = side + g.nslots * 8;
        let rec = (|| {
            if offset.checked_add(RECORD_HEADER)? > w.top {
                return None;
            }
            let h = at(arena + offset, RECORD_HEADER)?;
            let k = u64::from(u32::from_ne_bytes(h[..4].try_into().ok()?));
            let v = u64::from(u32::from_ne_bytes(h[4..].try_into().ok()?));
            if offset + RECORD_HEADER + k + v > w.top {
                return None;
            }
            let key = at(arena + offset + RECORD_HEADER, k)?.to_vec();
            let value = at(arena + offset + RECORD_HEADER + k, v)?.to_vec();
            Some((key, value))
        })();
        match rec {
            Some(e) => out.push(e),
            None => missing = true,
        }
    }
    (out, missing)
}
