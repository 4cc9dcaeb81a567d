//! The segment header: its byte layout, its kinds, and its validation.
//!
//! docs/FORMAT.md documents every field; this file is the reference implementation.

use std::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::error::{Error, Result};
use crate::types::TypeDesc;

/// The first 8 bytes of every shmkit segment.
pub const MAGIC: [u8; 8] = *b"SHMKIT\0\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The header's length in bytes; the control block starts right after it.
pub const HEADER_LEN: usize = 256;
/// Control blocks and data areas start on this boundary (a cache line).
pub const BLOCK_ALIGN: u64 = 64;
/// The largest element alignment a segment may record.
pub const MAX_ELEM_ALIGN: u64 = 4096;
/// The longest element type name, in bytes.
pub const MAX_TYPE_NAME: usize = 63;

/// `state`: the creator is still initializing.
pub const STATE_INITIALIZING: u32 = 0;
/// `state`: the segment is ready; every other header field is final.
pub const STATE_READY: u32 = 1;
/// `state`: initialization failed; the segment must not be used.
pub const STATE_POISONED: u32 = 2;

/// Byte offset of `state` (read atomically while waiting for ready).
pub(crate) const STATE_OFFSET: usize = 16;
/// Byte offset of `creator_pid` (read while waiting, to notice a dead creator).
pub(crate) const CREATOR_PID_OFFSET: usize = 88;

/// The header exactly as it lies in memory (little-endian on every supported target).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct RawHeader {
    /// 0: [`MAGIC`].
    pub magic: [u8; 8],
    /// 8: [`FORMAT_VERSION`].
    pub version: u32,
    /// 12: a [`Kind`] number.
    pub kind: u32,
    /// 16: initializing / ready / poisoned.
    pub state: u32,
    /// 20: [`HEADER_LEN`].
    pub header_len: u32,
    /// 24: the whole segment's length in bytes (the OS object's size).
    pub total_len: u64,
    /// 32: where the kind's control block starts.
    pub control_offset: u64,
    /// 40: the control block's length.
    pub control_len: u64,
    /// 48: where the data area starts.
    pub data_offset: u64,
    /// 56: the data area's length.
    pub data_len: u64,
    /// 64: element count (kind-specific meaning; 1 for a Value).
    pub capacity: u64,
    /// 72: `size_of` the element type.
    pub elem_size: u64,
    /// 80: `align_of` the element type.
    pub elem_align: u64,
    /// 88: pid of the creating process.
    pub creator_pid: u32,
    /// 92: which pthread layout the sync primitives use (C library and architecture).
    pub sync_abi: u32,
    /// 96: creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// 104: length of `type_name` in bytes.
    pub type_name_len: u32,
    /// 108: reserved, zero.
    pub reserved0: u32,
    /// 112: four kind-specific parameters.
    pub params: [u64; 4],
    /// 144: element type name, UTF-8, zero-padded.
    pub type_name: [u8; 64],
    /// 208: reserved, zero.
    pub reserved1: [u8; 48],
}

const _: () = assert!(std::mem::size_of::<RawHeader>() == HEADER_LEN);
const _: () = assert!(std::mem::offset_of!(RawHeader, state) == STATE_OFFSET);
const _: () = assert!(std::mem::offset_of!(RawHeader, creator_pid) == CREATOR_PID_OFFSET);

macro_rules! kinds {
    ($($variant:ident = $n:literal, $label:literal;)*) => {
        /// What a segment holds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u32)]
        pub enum Kind {
            $(
                #[doc = concat!("`", $label, "`")]
                $variant = $n,
            )*
        }

        impl Kind {
            /// The kind recorded as `n`, if this build knows it.
            pub fn from_u32(n: u32) -> Option<Kind> {
                match n {
                    $($n => Some(Kind::$variant),)*
                    _ => None,
                }
            }

            /// The kind's short name (`"value"`, `"mutex"`, ...), as the CLI prints it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $label,)*
                }
            }
        }
    };
}

kinds! {
    Raw = 1, "raw";
    Value = 2, "value";
    Array = 3, "array";
    Mutex = 4, "mutex";
    RLock = 5, "rlock";
    Semaphore = 6, "semaphore";
    Event = 7, "event";
    Condition = 8, "condition";
    Barrier = 9, "barrier";
    Queue = 10, "queue";
    MessageQueue = 11, "message-queue";
    JoinableQueue = 12, "joinable-queue";
    Pipe = 13, "pipe";
    Dict = 14, "dict";
    List = 15, "list";
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kind number printed for messages, known or not.
pub(crate) fn kind_label(n: u32) -> String {
    match Kind::from_u32(n) {
        Some(k) => k.name().to_string(),
        None => format!("unknown kind {n}"),
    }
}

fn round_up(x: u64, to: u64) -> Option<u64> {
    debug_assert!(to.is_power_of_two());
    Some(x.checked_add(to - 1)? & !(to - 1))
}

/// Where the control block and data go, from the lengths alone. Both the creator and
/// every opener compute it, and an opener requires the header to agree exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub control_offset: u64,
    pub control_len: u64,
    pub data_offset: u64,
    pub data_len: u64,
    pub total_len: u64,
}

impl Layout {
    pub(crate) fn compute(control_len: u64, elem_align: u64, data_len: u64) -> Option<Layout> {
        let control_offset = HEADER_LEN as u64;
        let control_end = control_offset.checked_add(round_up(control_len, BLOCK_ALIGN)?)?;
        let data_offset = round_up(control_end, elem_align.max(BLOCK_ALIGN))?;
        let total_len = data_offset.checked_add(data_len)?;
        // A mapping must fit in the address space with room to spare.
        if total_len > isize::MAX as u64 / 2 {
            return None;
        }
        Some(Layout {
            control_offset,
            control_len,
            data_offset,
            data_len,
            total_len,
        })
    }
}

/// The validated, decoded header of an open segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// What the segment holds.
    pub kind: Kind,
    /// The element type's name (empty when the kind has no elements).
    pub type_name: String,
    /// The element type's size in bytes.
    pub elem_size: u64,
    /// The element type's alignment.
    pub elem_align: u64,
    /// Element count (1 for a Value, the length of an Array, ...).
    pub capacity: u64,
    /// Kind-specific parameters.
    pub params: [u64; 4],
    /// The whole segment's length in bytes.
    pub total_len: u64,
    /// Pid of the process that created the segment.
    pub creator_pid: u32,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    pub(crate) layout: Layout,
}

impl SegmentInfo {
    /// The element type descriptor, formatted for messages.
    pub fn type_display(&self) -> String {
        format!(
            "{} (size {}, align {})",
            self.type_name, self.elem_size, self.elem_align
        )
    }

    /// Whether the element type is `desc`.
    pub fn has_type(&self, desc: &TypeDesc) -> bool {
        self.type_name == desc.name
            && self.elem_size == desc.size as u64
            && self.elem_align == desc.align as u64
    }
}

/// Checks every field of a header that claims to be ready, against the real size of
/// the object (`object_len`). Touches nothing but the copy.
pub(crate) fn validate(raw: &RawHeader, object_len: u64, name: &str) -> Result<SegmentInfo> {
    let corrupt = |reason: String| Error::corrupt(name, reason);
    if raw.magic != MAGIC {
        return Err(corrupt(format!(
            "bad magic {:02x?} (expected {:02x?}): not a shmkit segment",
            raw.magic, MAGIC
        )));
    }
    if raw.version != FORMAT_VERSION {
        return Err(Error::VersionMismatch {
            expected: FORMAT_VERSION,
            found: raw.version,
        });
    }
    match raw.state {
        STATE_READY => {}
        STATE_POISONED => return Err(corrupt("its creator failed to initialize it".into())),
        STATE_INITIALIZING => return Err(corrupt("it is still initializing".into())),
        other => return Err(corrupt(format!("unknown state {other}"))),
    }
    if raw.header_len as usize != HEADER_LEN {
        return Err(corrupt(format!(
            "header length {} (expected {HEADER_LEN})",
            raw.header_len
        )));
    }
    let kind = Kind::from_u32(raw.kind)
        .ok_or_else(|| corrupt(format!("unknown kind number {}", raw.kind)))?;
    if raw.sync_abi != crate::sys::SYNC_ABI {
        return Err(corrupt(format!(
            "it was made for pthread ABI {:#x}, this process uses {:#x} (another C library or architecture)",
            raw.sync_abi,
            crate::sys::SYNC_ABI
        )));
    }
    if raw.total_len != object_len {
        return Err(corrupt(format!(
            "header says {} bytes but the object is {object_len} bytes (truncated or resized)",
            raw.total_len
        )));
    }
    if !raw.elem_align.is_power_of_two() || raw.elem_align > MAX_ELEM_ALIGN {
        return Err(corrupt(format!(
            "element alignment {} is not a power of two up to {MAX_ELEM_ALIGN}",
            raw.elem_align
        )));
    }
    if raw.elem_size % raw.elem_align != 0 {
        return Err(corrupt(format!(
            "element size {} is not a multiple of its alignment {}",
            raw.elem_size, raw.elem_align
        )));
    }
    let name_len = raw.type_name_len as usize;
    if name_len > MAX_TYPE_NAME {
        return Err(corrupt(format!(
            "type name length {name_len} exceeds {MAX_TYPE_NAME}"
        )));
    }
    let type_name = std::str::from_utf8(&raw.type_name[..name_len])
        .map_err(|_| corrupt("type name is not UTF-8".into()))?
        .to_string();
    if raw.type_name[name_len..].iter().any(|&b| b != 0) {
        return Err(corrupt("bytes after the type name are not zero".into()));
    }
    let layout =
        Layout::compute(raw.control_len, raw.elem_align, raw.data_len).ok_or_else(|| {
            corrupt(format!(
                "control length {} and data length {} overflow",
                raw.control_len, raw.data_len
            ))
        })?;
    if layout.control_offset != raw.control_offset
        || layout.data_offset != raw.data_offset
        || layout.total_len != raw.total_len
    {
        return Err(corrupt(format!(
            "layout mismatch: header has control at {}, data at {}, total {}; expected {}, {}, {}",
            raw.control_offset,
            raw.data_offset,
            raw.total_len,
            layout.control_offset,
            layout.data_offset,
            layout.total_len
        )));
    }
    Ok(SegmentInfo {
        kind,
        type_name,
        elem_size: raw.elem_size,
        elem_align: raw.elem_align,
        capacity: raw.capacity,
        params: raw.params,
        total_len: raw.total_len,
        creator_pid: raw.creator_pid,
        created_unix_ns: raw.created_unix_ns,
        layout,
    })
}
