//! Read-only inspection of live segments: what `shmkit list`, `show`, `watch` and `gc`
//! print, available to monitoring code too.
//!
//! Inspection never maps a segment and never takes a lock: it opens the object read-only
//! and copies the header, the control block and a bounded slice of the data out with
//! `pread`. (A mapping would raise SIGBUS if another process truncated the object while
//! we read it; a `pread` just comes back short.) Every byte read is untrusted: the header
//! goes through the same validation as [`Segment::open`](crate::Segment::open), every
//! length is bounded before it is used, and whatever is wrong is reported in
//! [`Snapshot::problems`] instead of failing the whole inspection.
//!
//! ## Adding the view of a new kind
//! A kind's detailed state is one function `fn view_<kind>(input: &ViewInput) -> KindView`
//! in this file, called from the `match` in [`decode_view`]. It decodes its control block
//! from `input.control` (a copy; decode with `from_ne_bytes` or a `from_bytes` function
//! next to the kind's raw struct, never by casting) and returns named [`Field`]s. The
//! `shmkit` tool prints any `KindView` as text and as JSON without further changes.
#![forbid(unsafe_code)]

use std::ops::Range;
use std::path::PathBuf;

use zerocopy::FromBytes;

use crate::collections;
use crate::error::{Error, Result};
use crate::queue::{self, QueueSnapshot};
use crate::segment::{
    self, FORMAT_VERSION, HEADER_LEN, Kind, MAGIC, OS_PREFIX, RawHeader, STATE_INITIALIZING,
    STATE_POISONED, STATE_READY, SegmentInfo,
};
use crate::sync::{
    BarrierSnapshot, ConditionSnapshot, EventSnapshot, MutexSnapshot, RLockSnapshot,
    SemaphoreSnapshot,
};
use crate::sys;

/// The most control-block bytes copied out of a segment.
pub const MAX_CONTROL_COPY: u64 = 64 * 1024;
/// Data bytes copied by default ([`InspectOptions::default`]).
pub const DEFAULT_MAX_DATA: u64 = 4096;
/// The most data bytes copied whatever the options say.
pub const MAX_DATA_COPY: u64 = 16 * 1024 * 1024;
/// gc removes a corrupt or empty segment only when its file is at least this old.
pub const GC_CORRUPT_MIN_AGE_NS: u64 = 60 * 1_000_000_000;

/// What to copy out of a segment's data area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectOptions {
    /// Which part of the data to copy: element indices for a Value or Array, byte
    /// offsets for other kinds. `None`: from the start.
    pub range: Option<Range<u64>>,
    /// The most data bytes to copy (bounded by [`MAX_DATA_COPY`]); 0 copies none.
    pub max_data_bytes: u64,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            range: None,
            max_data_bytes: DEFAULT_MAX_DATA,
        }
    }
}

impl InspectOptions {
    /// Copies no data (what `list` uses).
    pub fn header_only() -> Self {
        InspectOptions {
            range: None,
            max_data_bytes: 0,
        }
    }
}

/// The segment's life-cycle state as read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Published by its creator; the header validated.
    Ready,
    /// The creator has not published it yet (or died before it did).
    Initializing,
    /// The creator failed to initialize it.
    Poisoned,
    /// The bytes are not a valid segment; see [`Snapshot::problems`].
    Corrupt,
}

impl State {
    /// `"ready"`, `"initializing"`, `"poisoned"` or `"corrupt"`.
    pub fn name(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Initializing => "initializing",
            State::Poisoned => "poisoned",
            State::Corrupt => "corrupt",
        }
    }
}

/// What the OS says about the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub len: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner's user id.
    pub uid: u32,
    /// Last modification time (creation and sizing), nanoseconds since the Unix epoch.
    pub modified_unix_ns: u64,
}

/// A number decoded from a primitive element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A signed integer element.
    I64(i64),
    /// An unsigned integer element.
    U64(u64),
    /// A floating-point element.
    F64(f64),
}

/// One value in a kind's view.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A flag.
    Bool(bool),
    /// A count, index or id.
    U64(u64),
    /// A process id, and whether that process is alive now (0: nobody).
    Pid {
        /// The pid (0 when none is recorded).
        pid: u32,
        /// Whether it names a live process.
        alive: bool,
    },
    /// Free text (already free of control characters).
    Text(String),
    /// Elements of a primitive type, starting at element `first`.
    Values {
        /// Index of the first element.
        first: u64,
        /// The elements.
        values: Vec<Scalar>,
    },
    /// Raw bytes, starting at byte `offset` of the data area.
    Bytes {
        /// Offset of the first byte in the data area.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Key → value pairs, already printable (a dict's entries).
    Entries(Vec<(String, String)>),
}

/// A kind's own state, as named fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KindView {
    /// Whether this version decodes the kind (false: only the header and a hex dump of
    /// the control block can be shown).
    pub available: bool,
    /// The decoded fields, in display order. Keys are stable (they are JSON keys).
    pub fields: Vec<(&'static str, Field)>,
    /// What looks wrong or noteworthy (a dead lock owner, an inconsistent length, ...).
    pub notes: Vec<String>,
}

impl KindView {
    /// The field named `key`, if the view has it.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, f)| f)
    }
}

/// Everything read from one segment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The segment name (without the `shmkit.` prefix).
    pub name: String,
    /// The object's path (`/dev/shm/shmkit.<name>` on Linux).
    pub path: PathBuf,
    /// What the OS says about the object.
    pub object: ObjectMeta,
    /// The raw header as copied (`None` if the object is shorter than a header).
    pub header: Option<RawHeader>,
    /// The state.
    pub state: State,
    /// The validated header (`None` when it does not validate).
    pub info: Option<SegmentInfo>,
    /// Whether the creator recorded in the header is alive (`None`: no pid recorded).
    /// A zombie counts as dead: it no longer maps anything or holds any lock.
    pub creator_alive: Option<bool>,
    /// What is wrong with the segment, one sentence each.
    pub problems: Vec<String>,
    /// A copy of the control block (at most [`MAX_CONTROL_COPY`] bytes).
    pub control: Vec<u8>,
    /// The part of the data area that was copied.
    pub data_offset: u64,
    /// The copied data bytes.
    pub data: Vec<u8>,
    /// The kind's decoded state (empty when the header does not validate).
    pub view: KindView,
}

impl Snapshot {
    /// The header if it at least starts with shmkit's magic (the other fields may still
    /// be invalid); `None` otherwise: then no field of it means anything.
    pub fn header_with_magic(&self) -> Option<&RawHeader> {
        self.header.as_ref().filter(|h| h.magic == MAGIC)
    }

    /// The kind's name, or `unknown(N)` (`None` without a header with shmkit's magic).
    pub fn kind_label(&self) -> Option<String> {
        self.header_with_magic()
            .map(|h| match Kind::from_u32(h.kind) {
                Some(k) => k.name().to_string(),
                None => format!("unknown({})", h.kind),
            })
    }

    /// The element type name with non-printable bytes escaped (`\xNN`), bounded to the
    /// 64-byte field whatever the recorded length says (`None` without a header with
    /// shmkit's magic).
    pub fn type_name(&self) -> Option<String> {
        self.header_with_magic().map(|h| {
            let n = (h.type_name_len as usize).min(h.type_name.len());
            escape_bytes(&h.type_name[..n])
        })
    }

    /// The creator's pid as recorded (0 when none, or without shmkit's magic).
    pub fn creator_pid(&self) -> u32 {
        self.header_with_magic().map_or(0, |h| h.creator_pid)
    }

    /// Nanoseconds since creation as recorded in the header (`None` without a header
    /// with shmkit's magic, or when the recorded time is in the future).
    pub fn age_ns(&self, now_unix_ns: u64) -> Option<u64> {
        let created = self.header_with_magic()?.created_unix_ns;
        now_unix_ns.checked_sub(created)
    }
}

/// Escapes every byte that is not printable ASCII as `\xNN` (and `\` as `\\`), so
/// untrusted names never put control characters on a terminal.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn open_error(e: std::io::Error, name: &str) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound {
            name: name.to_string(),
        },
        Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied {
            name: name.to_string(),
        },
        Some(libc::ELOOP) => Error::corrupt(name, "it is a symbolic link, not a segment"),
        _ if e.kind() == std::io::ErrorKind::Unsupported => {
            Error::Unsupported("shared-memory segments on this platform")
        }
        _ => Error::io(format!("read segment `{name}`"), e),
    }
}

fn problem_text(e: Error) -> String {
    match e {
        Error::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Reads the segment `name` without mapping it and without locking anything.
///
/// A segment that can be read but is invalid is not an error: the snapshot says what is
/// wrong ([`Snapshot::state`], [`Snapshot::problems`]).
///
/// # Errors
/// [`Error::InvalidName`], [`Error::NotFound`], [`Error::PermissionDenied`],
/// [`Error::Corrupt`] when the name is not a regular file (a symlink, a FIFO, ...),
/// [`Error::Io`], [`Error::Unsupported`].
///
/// # Examples
/// ```
/// # let name = format!("doc-inspect-{}", std::process::id());
/// let v = shmkit::Value::<u32>::create(&name, 42)?;
/// let snap = shmkit::inspect::inspect(&name, &Default::default())?;
/// assert_eq!(snap.state, shmkit::inspect::State::Ready);
/// assert_eq!(
///     snap.view.field("value"),
///     Some(&shmkit::inspect::Field::Values { first: 0, values: vec![shmkit::inspect::Scalar::U64(42)] })
/// );
/// # Ok::<(), shmkit::Error>(())
/// ```
pub fn inspect(name: &str, opts: &InspectOptions) -> Result<Snapshot> {
    segment::validate_name(name)?;
    let os = segment::os_name(name);
    let file = sys::open_read_only(&os).map_err(|e| open_error(e, name))?;
    let stat = sys::object_stat(&file).map_err(|e| open_error(e, name))?;
    if !stat.regular_file {
        return Err(Error::corrupt(
            name,
            "it is not a regular file (a FIFO, socket or device was put in its place)",
        ));
    }
    let read = |offset: u64, buf: &mut [u8]| {
        sys::read_at(&file, offset, buf).map_err(|e| open_error(e, name))
    };
    let mut snap = Snapshot {
        name: name.to_string(),
        path: sys::object_path(&os),
        object: ObjectMeta {
            len: stat.len,
            mode: stat.mode,
            uid: stat.uid,
            modified_unix_ns: stat.modified_unix_ns,
        },
        header: None,
        state: State::Corrupt,
        info: None,
        creator_alive: None,
        problems: Vec::new(),
        control: Vec::new(),
        data_offset: 0,
        data: Vec::new(),
        view: KindView::default(),
    };

    let mut bytes = [0u8; HEADER_LEN];
    let got = read(0, &mut bytes)?;
    if got < HEADER_LEN {
        if got == 0 {
            snap.state = State::Initializing;
            snap.problems.push(
                "the object is empty: its creator has not sized it yet (or died first)".into(),
            );
        } else {
            snap.problems.push(format!(
                "the object is {got} bytes, shorter than the {HEADER_LEN}-byte header"
            ));
        }
        return Ok(snap);
    }
    let raw = RawHeader::read_from_bytes(&bytes).map_err(|_| {
        Error::corrupt(name, "header bytes do not decode") // unreachable: any bytes decode
    })?;
    snap.header = Some(raw);
    if raw.creator_pid != 0 && raw.magic == MAGIC {
        snap.creator_alive = Some(sys::pid_running(raw.creator_pid));
    }
    if raw.magic != MAGIC || raw.version != FORMAT_VERSION {
        // Nothing else in the header can be interpreted; validate says which is wrong.
        if let Err(e) = segment::validate(&raw, stat.len, name) {
            snap.problems.push(problem_text(e));
        }
        return Ok(snap);
    }
    // The object's size may have changed between fstat and the read; validate against
    // what fstat said (a later short read is reported where it happens).
    let as_ready = RawHeader {
        state: STATE_READY,
        ..raw
    };
    match raw.state {
        STATE_READY => match segment::validate(&raw, stat.len, name) {
            Ok(info) => {
                snap.state = State::Ready;
                snap.info = Some(info);
            }
            Err(e) => snap.problems.push(problem_text(e)),
        },
        STATE_INITIALIZING => {
            snap.state = State::Initializing;
            match snap.creator_alive {
                Some(false) => snap.problems.push(format!(
                    "its creator (pid {}) died before publishing it",
                    raw.creator_pid
                )),
                None => snap
                    .problems
                    .push("no creator pid is recorded yet".to_string()),
                Some(true) => {}
            }
            match segment::validate(&as_ready, stat.len, name) {
                Ok(info) => snap.info = Some(info),
                Err(e) => snap
                    .problems
                    .push(format!("header not valid (yet): {}", problem_text(e))),
            }
        }
        STATE_POISONED => {
            snap.state = State::Poisoned;
            snap.problems
                .push("its creator failed to initialize it".to_string());
            if let Ok(info) = segment::validate(&as_ready, stat.len, name) {
                snap.info = Some(info);
            }
        }
        other => snap.problems.push(format!("unknown state {other}")),
    }
    let Some(info) = snap.info.clone() else {
        return Ok(snap);
    };

    // Control block: the layout was validated against the object size.
    let control_len = info.layout.control_len.min(MAX_CONTROL_COPY);
    let mut control = vec![0u8; control_len as usize];
    let got = read(info.layout.control_offset, &mut control)?;
    if got < control.len() {
        snap.problems.push(format!(
            "the object shrank while being read: control block cut at {got} of {control_len} bytes"
        ));
        control.truncate(got);
    }
    if info.layout.control_len > MAX_CONTROL_COPY {
        snap.problems.push(format!(
            "control block is {} bytes; only the first {MAX_CONTROL_COPY} were read",
            info.layout.control_len
        ));
    }
    snap.control = control;

    // Data: a bounded window.
    let window = data_window(&info, &snap.control, opts);
    if !window.is_empty() {
        let mut data = vec![0u8; (window.end - window.start) as usize];
        let got = read(info.layout.data_offset + window.start, &mut data)?;
        if got < data.len() {
            snap.problems.push(format!(
                "the object shrank while being read: data cut at {got} of {} bytes",
                data.len()
            ));
            data.truncate(got);
        }
        snap.data_offset = window.start;
        snap.data = data;
    }

    snap.view = decode_view(&ViewInput {
        info: &info,
        control: &snap.control,
        data_offset: snap.data_offset,
        data: &snap.data,
    });
    Ok(snap)
}

/// Whether the kind's data area is an array of `capacity` elements of the header's type.
fn has_elements(kind: Kind) -> bool {
    matches!(kind, Kind::Value | Kind::Array)
}

/// The byte range of the data area to copy, bounded by the data length and the options.
/// A queue's default window is its whole data area when that fits, otherwise whole
/// slots starting at the head's slot (so the oldest messages are the ones shown).
fn data_window(info: &SegmentInfo, control: &[u8], opts: &InspectOptions) -> Range<u64> {
    let data_len = info.layout.data_len;
    let max = opts.max_data_bytes.min(MAX_DATA_COPY);
    let (start, end) = if has_elements(info.kind) && info.elem_size > 0 {
        let r = opts.range.clone().unwrap_or(0..u64::MAX);
        let start = r.start.saturating_mul(info.elem_size);
        let end = r.end.saturating_mul(info.elem_size);
        // Whole elements only.
        let max = max - max % info.elem_size;
        (start, end.min(start.saturating_add(max)))
    } else if let (None, Some(w)) = (&opts.range, collection_window(info, control)) {
        (w.start, w.end.min(w.start.saturating_add(max)))
    } else if let (None, Some(start)) = (&opts.range, message_head_offset(info, control)) {
        (start, start.saturating_add(max))
    } else if let (None, Some(start)) = (&opts.range, queue_head_offset(info, control, max)) {
        let stride = info.params[0];
        (start, start.saturating_add(max - max % stride))
    } else {
        let r = opts.range.clone().unwrap_or(0..u64::MAX);
        (r.start, r.end.min(r.start.saturating_add(max)))
    };
    let start = start.min(data_len);
    start..end.clamp(start, data_len)
}

/// For a queue whose data area is larger than `max` bytes and whose geometry holds
/// together, the byte offset of the head's slot (bounded: the index is masked and
/// checked against the capacity before use).
/// Where a message queue's oldest record lies in its ring (the data window then starts
/// there, so `show` can list the queued messages).
fn message_head_offset(info: &SegmentInfo, control: &[u8]) -> Option<u64> {
    if info.kind != Kind::MessageQueue {
        return None;
    }
    let (ring, _) = queue::message::geometry(info).ok()?;
    let head = u64::from_ne_bytes(control.get(128..136)?.try_into().ok()?);
    Some(head % ring)
}

fn queue_head_offset(info: &SegmentInfo, control: &[u8], max: u64) -> Option<u64> {
    if !matches!(info.kind, Kind::Queue | Kind::JoinableQueue)
        || info.layout.data_len <= max
        || queue::geometry(info, None).is_err()
    {
        return None;
    }
    let head = u64::from_ne_bytes(control.get(64..72)?.try_into().ok()?);
    let idx = queue::queued_slots(head, 1, info.capacity, 1).first()?.0;
    idx.checked_mul(info.params[0])
}

/// A dict's or list's default window: its active side (slots and arena, or elements).
fn collection_window(info: &SegmentInfo, control: &[u8]) -> Option<Range<u64>> {
    match info.kind {
        Kind::Dict => {
            let w = collections::words_from(info, control).ok()?;
            let start = w.active * w.geo.side_len;
            Some(start..start + w.geo.side_len)
        }
        Kind::List => {
            collections::check_list_info(info).ok()?;
            let (len, side, _) = collections::list_words(control)?;
            let start = side * info.capacity * info.elem_size;
            Some(start..start + len.min(info.capacity) * info.elem_size)
        }
        _ => None,
    }
}

/// What a kind's view function gets: the validated header and copies of the bytes.
#[derive(Debug, Clone, Copy)]
pub struct ViewInput<'a> {
    /// The validated header.
    pub info: &'a SegmentInfo,
    /// The copied control block (may be shorter than `info`'s control length if the
    /// object shrank while being read).
    pub control: &'a [u8],
    /// Offset of `data` in the data area.
    pub data_offset: u64,
    /// The copied window of the data area.
    pub data: &'a [u8],
}

/// A kind's view: one function per kind. Extend this match when adding a kind.
pub fn decode_view(input: &ViewInput<'_>) -> KindView {
    match input.info.kind {
        Kind::Raw => view_raw(input),
        Kind::Value => view_value(input),
        Kind::Array => view_array(input),
        Kind::Mutex => view_mutex(input),
        Kind::RLock => view_rlock(input),
        Kind::Semaphore => view_semaphore(input),
        Kind::Event => view_event(input),
        Kind::Condition => view_condition(input),
        Kind::Barrier => view_barrier(input),
        Kind::Queue | Kind::JoinableQueue => view_queue(input),
        Kind::MessageQueue => view_message_queue(input),
        Kind::Pipe => view_pipe(input),
        Kind::Dict => view_dict(input),
        Kind::List => view_list(input),
    }
}

fn view_raw(input: &ViewInput<'_>) -> KindView {
    let mut v = KindView {
        available: true,
        ..KindView::default()
    };
    v.fields
        .push(("length", Field::U64(input.info.layout.data_len)));
    v.fields.push((
        "bytes",
        Field::Bytes {
            offset: input.data_offset,
            bytes: input.data.to_vec(),
        },
    ));
    v
}

/// Fields of a RawMutex, each key prefixed with `prefix`.
fn mutex_fields(
    bytes: &[u8],
    keys: &MutexKeys,
    v: &mut KindView,
    what: &str,
) -> Option<MutexSnapshot> {
    let Some(m) = MutexSnapshot::from_bytes(bytes) else {
        v.notes.push(format!(
            "the control block is {} bytes, too short for {what}",
            bytes.len()
        ));
        return None;
    };
    let owner_pid = m.owner_pid.unwrap_or(0);
    let owner_alive = owner_pid != 0 && sys::pid_running(owner_pid);
    v.fields.push((keys.locked, Field::Bool(m.locked)));
    v.fields.push((
        keys.owner_pid,
        Field::Pid {
            pid: owner_pid,
            alive: owner_alive,
        },
    ));
    v.fields
        .push((keys.owner_tid, Field::U64(m.owner_tid.into())));
    v.fields.push((keys.waiters, Field::Bool(m.waiters)));
    v.fields
        .push((keys.owner_died, Field::Bool(m.owner_died_pending)));
    v.fields
        .push((keys.needs_repair, Field::Bool(m.needs_repair)));
    v.fields
        .push((keys.owner_deaths, Field::U64(m.owner_deaths.into())));
    if m.owner_died_pending {
        v.notes.push(format!(
            "{what}: its holder (thread {}) died holding it; the next locker is told the owner died",
            m.owner_tid
        ));
    } else if m.locked && !owner_alive {
        v.notes.push(format!(
            "{what} is held by thread {}, which no longer runs (it died holding the lock, or lives in another pid namespace); the next locker is told the owner died",
            m.owner_tid
        ));
    }
    if m.needs_repair {
        v.notes.push(format!(
            "{what}: an owner died and nobody has recovered it; the data may need repair"
        ));
    }
    Some(m)
}

struct MutexKeys {
    locked: &'static str,
    owner_pid: &'static str,
    owner_tid: &'static str,
    waiters: &'static str,
    owner_died: &'static str,
    needs_repair: &'static str,
    owner_deaths: &'static str,
}

const MUTEX_KEYS: MutexKeys = MutexKeys {
    locked: "locked",
    owner_pid: "owner_pid",
    owner_tid: "owner_tid",
    waiters: "waiters",
    owner_died: "owner_died",
    needs_repair: "needs_repair",
    owner_deaths: "owner_deaths",
};

const LOCK_KEYS: MutexKeys = MutexKeys {
    locked: "lock.locked",
    owner_pid: "lock.owner_pid",
    owner_tid: "lock.owner_tid",
    waiters: "lock.waiters",
    owner_died: "lock.owner_died",
    needs_repair: "lock.needs_repair",
    owner_deaths: "lock.owner_deaths",
};

fn view_mutex(input: &ViewInput<'_>) -> KindView {
    let mut v = KindView {
        available: true,
        ..KindView::default()
    };
    mutex_fields(input.control, &MUTEX_KEYS, &mut v, "the mutex");
    v
}

fn available() -> KindView {
    KindView {
        available: true,
        ..KindView::default()
    }
}

fn too_short(v: &mut KindView, input: &ViewInput<'_>, what: &str) {
    v.notes.push(format!(
        "the control block is {} bytes, too short for {what}",
        input.control.len()
    ));
}

const WAITERS_NOTE: &str = "waiters counts processes recorded as sleeping; one killed while waiting stays counted (it only costs a wake-up system call)";

fn waiters_field(v: &mut KindView, waiters: u32) {
    v.fields.push(("waiters", Field::U64(waiters.into())));
    if waiters != 0 {
        v.notes.push(WAITERS_NOTE.to_string());
    }
}

fn view_rlock(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    mutex_fields(input.control, &MUTEX_KEYS, &mut v, "the re-entrant lock");
    match RLockSnapshot::from_bytes(input.control) {
        Some(r) => v.fields.push(("count", Field::U64(r.count.into()))),
        None => too_short(&mut v, input, "a re-entrant lock"),
    }
    v
}

fn view_semaphore(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    let Some(s) = SemaphoreSnapshot::from_bytes(input.control) else {
        too_short(&mut v, input, "a semaphore");
        return v;
    };
    v.fields.push(("value", Field::U64(s.value.into())));
    match s.bound {
        Some(bound) => {
            v.fields.push(("bound", Field::U64(bound.into())));
            if s.value > bound {
                v.notes.push(format!(
                    "the value {} is above the bound {bound}: the segment was overwritten",
                    s.value
                ));
            } else if s.value < bound {
                v.notes.push(format!(
                    "{} permit(s) are out: held now, or leaked by a process that died holding them",
                    bound - s.value
                ));
            }
        }
        None => v.fields.push(("bound", Field::Text("none".into()))),
    }
    waiters_field(&mut v, s.waiters);
    v
}

fn view_event(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    let Some(e) = EventSnapshot::from_bytes(input.control) else {
        too_short(&mut v, input, "an event");
        return v;
    };
    v.fields.push(("is_set", Field::Bool(e.is_set)));
    v.fields
        .push(("generation", Field::U64(e.generation.into())));
    waiters_field(&mut v, e.waiters);
    v
}

fn view_condition(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the condition's lock");
    let cond = input
        .control
        .get(std::mem::size_of::<crate::sync::RawMutex>()..);
    let Some(c) = cond.and_then(ConditionSnapshot::from_bytes) else {
        too_short(&mut v, input, "a condition");
        return v;
    };
    v.fields.push(("seq", Field::U64(c.seq.into())));
    waiters_field(&mut v, c.waiters);
    v
}

fn view_barrier(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    let Some(b) = BarrierSnapshot::from_bytes(input.control) else {
        too_short(&mut v, input, "a barrier");
        return v;
    };
    v.fields.push(("parties", Field::U64(b.parties.into())));
    v.fields.push(("n_waiting", Field::U64(b.n_waiting.into())));
    v.fields
        .push(("generation", Field::U64(b.generation.into())));
    v.fields.push(("broken", Field::Bool(b.broken)));
    waiters_field(&mut v, b.waiters);
    if b.parties == 0 || b.parties > crate::sync::MAX_PARTIES {
        v.notes.push(format!(
            "parties is {}, outside 1..={}: the segment was overwritten",
            b.parties,
            crate::sync::MAX_PARTIES
        ));
    }
    if b.broken {
        v.notes.push(
            "the barrier is broken (aborted or a party timed out); every wait fails until reset()"
                .into(),
        );
    }
    v
}

fn view_value(input: &ViewInput<'_>) -> KindView {
    let mut v = KindView {
        available: true,
        ..KindView::default()
    };
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the lock");
    if input.info.capacity != 1 {
        v.notes.push(format!(
            "a value has capacity 1, this header says {}",
            input.info.capacity
        ));
    }
    elements(input, "value", &mut v);
    v
}

fn view_array(input: &ViewInput<'_>) -> KindView {
    let mut v = KindView {
        available: true,
        ..KindView::default()
    };
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the lock");
    v.fields.push(("length", Field::U64(input.info.capacity)));
    elements(input, "values", &mut v);
    v
}

/// The most queued messages `show` decodes.
pub const MAX_QUEUED_SHOWN: usize = 4096;

fn view_queue(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    let info = input.info;
    let what = if info.kind == Kind::JoinableQueue {
        "a joinable queue"
    } else {
        "a queue"
    };
    let geometry = queue::geometry(info, None);
    if let Err(reason) = &geometry {
        v.notes.push(reason.clone());
    }
    // The copied window, cut to whole slots (none when the geometry is broken).
    let stride = geometry.as_ref().map_or(0, |&(_, s)| s as u64);
    let (window, first_slot) = if stride == 0 || input.data_offset % stride != 0 {
        (&input.data[..0], 0)
    } else {
        // Only the ring's slots (a pooled queue's buffers follow them).
        let ring = info.capacity.saturating_mul(stride);
        let left = usize::try_from(ring.saturating_sub(input.data_offset)).unwrap_or(usize::MAX);
        let data = &input.data[..input.data.len().min(left)];
        let whole = data.len() - data.len() % stride as usize;
        (&data[..whole], input.data_offset / stride)
    };
    let Some(q) = QueueSnapshot::from_bytes(info, input.control, window) else {
        too_short(&mut v, input, what);
        return v;
    };
    let scanned = window.len() as u64 / stride.max(1);
    v.fields.push(("capacity", Field::U64(q.capacity)));
    v.fields.push(("len", Field::U64(q.len)));
    v.fields.push(("head", Field::U64(q.head)));
    v.fields.push(("tail", Field::U64(q.tail)));
    v.fields
        .push(("waiting_producers", Field::U64(q.waiting_producers.into())));
    v.fields
        .push(("waiting_consumers", Field::U64(q.waiting_consumers.into())));
    v.fields.push(("closed", Field::Bool(q.closed)));
    v.fields.push(("scanned_slots", Field::U64(scanned)));
    v.fields.push(("writing", Field::U64(q.writing)));
    v.fields.push(("reading", Field::U64(q.reading)));
    v.fields
        .push(("dead_producer_slots", Field::U64(q.dead_producer_slots)));
    v.fields
        .push(("dead_consumer_slots", Field::U64(q.dead_consumer_slots)));
    v.fields.push((
        "skipped_dead_producers",
        Field::U64(q.skipped_dead_producers),
    ));
    v.fields.push((
        "dropped_dead_consumers",
        Field::U64(q.dropped_dead_consumers),
    ));
    if let Some(u) = q.unfinished {
        v.fields.push(("unfinished", Field::U64(u)));
    }
    if scanned < q.capacity && stride != 0 {
        v.notes.push(format!(
            "writing, reading and the dead-holder counts cover slots {first_slot}..{} of {} (the data window; --max-bytes reads more)",
            first_slot + scanned,
            q.capacity
        ));
    }
    if q.dead_producer_slots + q.dead_consumer_slots > 0 {
        v.notes.push(format!(
            "{} slot(s) are held by dead processes; the next put or get that reaches them repairs them",
            q.dead_producer_slots + q.dead_consumer_slots
        ));
    }
    if q.waiting_producers != 0 || q.waiting_consumers != 0 {
        v.notes.push(
            "waiting_producers and waiting_consumers count processes recorded as sleeping; one killed while waiting stays counted (it only costs a wake-up system call)"
                .into(),
        );
    }
    if info.params[3] != 0 {
        v.fields.push(("pooled", Field::Bool(true)));
        v.fields.push(("buffer_stride", Field::U64(info.params[3])));
        v.notes.push(
            "a pooled queue: its messages live in a buffer pool behind the slots (docs/FORMAT.md) and are not shown"
                .into(),
        );
    } else if geometry.is_ok() {
        queued(input, &q, window, first_slot, &mut v);
    }
    v
}

fn view_message_queue(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    if let Err(reason) = queue::message::geometry(input.info) {
        v.notes.push(reason);
    }
    let Some(q) = queue::MessageQueueSnapshot::from_bytes(input.info, input.control) else {
        too_short(&mut v, input, "a message queue");
        return v;
    };
    v.fields.push(("len", Field::U64(q.len)));
    v.fields.push(("bytes_used", Field::U64(q.bytes_used)));
    v.fields
        .push(("capacity_bytes", Field::U64(q.capacity_bytes)));
    v.fields.push(("max_message", Field::U64(q.max_message)));
    v.fields.push(("head", Field::U64(q.head)));
    v.fields.push(("tail", Field::U64(q.tail)));
    v.fields
        .push(("waiting_producers", Field::U64(q.waiting_producers.into())));
    v.fields
        .push(("waiting_consumers", Field::U64(q.waiting_consumers.into())));
    v.fields.push(("closed", Field::Bool(q.closed)));
    v.fields.push(("puts", Field::U64(q.puts)));
    v.fields.push(("gets", Field::U64(q.gets)));
    v.fields.push(("repairs", Field::U64(q.repairs)));
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the queue's lock");
    queued_messages(input, &q, &mut v);
    if q.tail.wrapping_sub(q.head) > q.capacity_bytes {
        v.notes.push(format!(
            "head {} and tail {} are {} bytes apart, more than the ring: the segment was overwritten (operations report it as corrupt)",
            q.head,
            q.tail,
            q.tail.wrapping_sub(q.head)
        ));
    }
    if q.waiting_producers != 0 || q.waiting_consumers != 0 {
        v.notes.push(
            "waiting_producers and waiting_consumers count processes recorded as sleeping; one killed while waiting stays counted (it only costs a wake-up system call)"
                .into(),
        );
    }
    v
}

/// The most queued message lengths `show` lists, and the most bytes of the oldest
/// message it prints.
const MAX_MESSAGES_SHOWN: usize = 16;
const MAX_MESSAGE_BYTES_SHOWN: usize = 256;

/// The lengths of the queued messages whose records lie in the copied window (it starts
/// at the oldest record unless `--range` moved it), and the first bytes of the oldest.
fn queued_messages(input: &ViewInput<'_>, q: &queue::MessageQueueSnapshot, v: &mut KindView) {
    let Ok((ring, max)) = queue::message::geometry(input.info) else {
        return;
    };
    let used = q.tail.wrapping_sub(q.head);
    if used > ring || q.head % 8 != 0 || input.data_offset != q.head % ring {
        return;
    }
    let (mut lengths, mut at, mut walked) = (Vec::new(), 0usize, 0u64);
    let mut first: Option<&[u8]> = None;
    // Bounded: at most MAX_MESSAGES_SHOWN records, each inside the window.
    while walked < used && lengths.len() < MAX_MESSAGES_SHOWN {
        let Some(h) = input.data.get(at..at + 8) else {
            break;
        };
        let len = u64::from_ne_bytes(h.try_into().unwrap_or_default());
        let rec = 8 + len.div_ceil(8).saturating_mul(8);
        if len > max || rec > used - walked {
            v.notes.push(format!(
                "the record at position {} claims {len} bytes: the ring is corrupt there",
                q.head.wrapping_add(walked)
            ));
            break;
        }
        if first.is_none() {
            let end = (at + 8).saturating_add(len as usize);
            let shown = end
                .min(at + 8 + MAX_MESSAGE_BYTES_SHOWN)
                .min(input.data.len());
            first = input.data.get(at + 8..shown);
        }
        lengths.push(Scalar::U64(len));
        walked += rec;
        at = at.saturating_add(rec as usize);
    }
    if (lengths.len() as u64) < q.len {
        v.notes.push(format!(
            "{} of {} queued message length(s) shown: the others lie past the data window or the end of the ring (--max-bytes reads more)",
            lengths.len(),
            q.len
        ));
    }
    v.fields.push((
        "queued_lengths",
        Field::Values {
            first: 0,
            values: lengths,
        },
    ));
    if let Some(bytes) = first {
        v.fields.push((
            "oldest_message",
            Field::Bytes {
                offset: input.data_offset + 8,
                bytes: bytes.to_vec(),
            },
        ));
    }
}

fn view_pipe(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    if let Err(reason) = queue::pipe::geometry(input.info) {
        v.notes.push(reason);
    }
    let Some(p) = queue::PipeSnapshot::from_bytes(input.info, input.control) else {
        too_short(&mut v, input, "a pipe");
        return v;
    };
    v.fields.push(("duplex", Field::Bool(p.duplex)));
    v.fields
        .push(("capacity_bytes", Field::U64(p.capacity_bytes)));
    const END_KEYS: [[&str; 5]; 2] = [
        ["a.pid", "a.closed", "a.sent", "a.received", "A"],
        ["b.pid", "b.closed", "b.sent", "b.received", "B"],
    ];
    for (end, keys) in p.ends.iter().zip(END_KEYS) {
        v.fields.push((
            keys[0],
            Field::Pid {
                pid: end.pid.unwrap_or(0),
                alive: end.alive,
            },
        ));
        v.fields.push((keys[1], Field::Bool(end.closed)));
        v.fields.push((keys[2], Field::U64(end.sent)));
        v.fields.push((keys[3], Field::U64(end.received)));
        match end.pid {
            None => v
                .notes
                .push(format!("end {} is not claimed by any process yet", keys[4])),
            Some(pid) if !end.alive && !end.closed => v.notes.push(format!(
                "end {} belongs to pid {pid}, which no longer runs: the other end sees EOF / broken pipe",
                keys[4]
            )),
            _ => {}
        }
    }
    const DIR_KEYS: [[&str; 3]; 2] = [
        [
            "a_to_b.buffered",
            "a_to_b.waiting_receivers",
            "a_to_b.waiting_senders",
        ],
        [
            "b_to_a.buffered",
            "b_to_a.waiting_receivers",
            "b_to_a.waiting_senders",
        ],
    ];
    for (dir, keys) in p.dirs.iter().zip(DIR_KEYS) {
        if let Some(d) = dir {
            v.fields.push((keys[0], Field::U64(d.buffered)));
            v.fields
                .push((keys[1], Field::U64(d.waiting_receivers.into())));
            v.fields
                .push((keys[2], Field::U64(d.waiting_senders.into())));
        }
    }
    v
}

/// The published messages between head and tail that lie in the copied window, oldest
/// first: numbers for a primitive type, their bytes otherwise.
fn queued(
    input: &ViewInput<'_>,
    q: &QueueSnapshot,
    window: &[u8],
    first_slot: u64,
    v: &mut KindView,
) {
    let info = input.info;
    let (stride, offset, size) = (
        info.params[0] as usize,
        info.params[1] as usize,
        info.elem_size as usize,
    );
    let in_window = (window.len() / stride.max(1)) as u64;
    let mut bytes = Vec::new();
    let (mut shown, mut missing) = (0u64, 0u64);
    for (idx, want) in queue::queued_slots(q.head, q.len, q.capacity, MAX_QUEUED_SHOWN) {
        // Bounded: `idx` < capacity, and only slots inside the copied window are read.
        let Some(rel) = idx.checked_sub(first_slot).filter(|&r| r < in_window) else {
            missing += 1;
            continue;
        };
        let slot = &window[rel as usize * stride..(rel as usize + 1) * stride];
        let stamp = u64::from_ne_bytes(slot[..8].try_into().unwrap_or_default());
        if stamp != want {
            // Being written or read, or held by a dead process: not a queued value.
            continue;
        }
        bytes.extend_from_slice(&slot[offset..offset + size]);
        shown += 1;
    }
    if missing > 0 || q.len > MAX_QUEUED_SHOWN as u64 {
        v.notes.push(format!(
            "{shown} of {} queued message(s) shown: the others lie outside the data window",
            q.len
        ));
    }
    match decode_primitives(&info.type_name, size, &bytes) {
        Some(values) => v
            .fields
            .push(("queued", Field::Values { first: 0, values })),
        None => v.fields.push((
            "bytes",
            Field::Bytes {
                offset: input.data_offset,
                bytes: input.data.to_vec(),
            },
        )),
    }
}

/// Decodes the copied elements as numbers when the type is a primitive, as bytes
/// otherwise; checks the data length against capacity × element size first.
fn elements(input: &ViewInput<'_>, key: &'static str, v: &mut KindView) {
    let info = input.info;
    let expected = info.capacity.checked_mul(info.elem_size);
    if expected != Some(info.layout.data_len) {
        v.notes.push(format!(
            "data area is {} bytes, but {} elements of {} bytes need {}",
            info.layout.data_len,
            info.capacity,
            info.elem_size,
            expected.map_or("more than 2^64".to_string(), |n| n.to_string())
        ));
        v.fields.push((
            "bytes",
            Field::Bytes {
                offset: input.data_offset,
                bytes: input.data.to_vec(),
            },
        ));
        return;
    }
    let size = info.elem_size as usize;
    let first = if size == 0 {
        0
    } else {
        input.data_offset / info.elem_size
    };
    match decode_primitives(&info.type_name, size, input.data) {
        Some(values) => v.fields.push((key, Field::Values { first, values })),
        None => v.fields.push((
            "bytes",
            Field::Bytes {
                offset: input.data_offset,
                bytes: input.data.to_vec(),
            },
        )),
    }
}

/// The most dict entries `show` lists.
pub const MAX_ENTRIES_SHOWN: usize = 1000;
/// Bytes of a byte-dict key or value printed before it is cut.
pub const MAX_ENTRY_TEXT: usize = 64;

/// A byte-dict key or value: escaped, cut after [`MAX_ENTRY_TEXT`] bytes.
fn entry_text(b: &[u8]) -> String {
    if b.len() <= MAX_ENTRY_TEXT {
        format!("\"{}\"", escape_bytes(b))
    } else {
        format!(
            "\"{}\"... ({} bytes)",
            escape_bytes(&b[..MAX_ENTRY_TEXT]),
            b.len()
        )
    }
}

/// A typed-dict key or value: a number for a primitive type, hex otherwise.
fn typed_text(type_name: &str, b: &[u8]) -> String {
    match decode_primitives(type_name, b.len(), b).as_deref() {
        Some([Scalar::I64(n)]) => n.to_string(),
        Some([Scalar::U64(n)]) => n.to_string(),
        Some([Scalar::F64(f)]) => f.to_string(),
        _ => format!(
            "{type_name}:{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

fn view_dict(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the lock");
    let info = input.info;
    let w = match collections::words_from(info, input.control) {
        Ok(w) => w,
        Err(reason) => {
            v.notes.push(reason);
            return v;
        }
    };
    let g = w.geo;
    let typed = g.key_size != 0;
    let (key_type, value_type) = if typed {
        info.type_name
            .split_once(':')
            .unwrap_or((&info.type_name, ""))
    } else {
        ("bytes", "bytes")
    };
    v.fields.push((
        "form",
        Field::Text(if typed { "typed" } else { "bytes" }.into()),
    ));
    v.fields.push(("key_type", Field::Text(key_type.into())));
    v.fields
        .push(("value_type", Field::Text(value_type.into())));
    v.fields.push(("capacity", Field::U64(g.capacity)));
    v.fields.push(("max_bytes", Field::U64(g.max_bytes)));
    v.fields.push(("len", Field::U64(w.len)));
    v.fields
        .push(("tombstones", Field::U64(w.used.saturating_sub(w.len))));
    v.fields.push(("live_bytes", Field::U64(w.live_bytes)));
    v.fields.push(("arena_used", Field::U64(w.top)));
    v.fields.push(("arena_len", Field::U64(g.arena_len)));
    v.fields.push(("active_side", Field::U64(w.active)));
    v.fields.push(("compactions", Field::U64(w.compactions)));
    v.fields.push(("repairs", Field::U64(w.repairs)));
    if w.len > g.capacity || w.live_bytes > g.max_bytes {
        v.notes.push(format!(
            "the counters ({} entries, {} bytes) exceed the capacity: a crash is being repaired, or the bytes were overwritten",
            w.len, w.live_bytes
        ));
    }
    let (entries, missing) =
        collections::entries_from(&w, input.data_offset, input.data, MAX_ENTRIES_SHOWN);
    if missing {
        v.notes.push(format!(
            "{} entr(ies) shown; others lie outside the data window (--max-bytes reads more) or are invalid",
            entries.len()
        ));
    }
    let text = |t: &str, b: &[u8]| {
        if typed {
            typed_text(t, b)
        } else {
            entry_text(b)
        }
    };
    v.fields.push((
        "entries",
        Field::Entries(
            entries
                .iter()
                .map(|(k, val)| (text(key_type, k), text(value_type, val)))
                .collect(),
        ),
    ));
    v
}

fn view_list(input: &ViewInput<'_>) -> KindView {
    let mut v = available();
    mutex_fields(input.control, &LOCK_KEYS, &mut v, "the lock");
    let info = input.info;
    if let Err(reason) = collections::check_list_info(info) {
        v.notes.push(reason);
        return v;
    }
    let Some((len, side, journal)) = collections::list_words(input.control) else {
        too_short(&mut v, input, "a list");
        return v;
    };
    v.fields.push(("capacity", Field::U64(info.capacity)));
    v.fields.push(("len", Field::U64(len)));
    v.fields.push(("active_side", Field::U64(side)));
    v.fields.push(("pending_set", Field::U64(journal)));
    if len > info.capacity {
        v.notes.push(format!(
            "length {len} exceeds the capacity {}",
            info.capacity
        ));
    }
    if journal != 0 {
        v.notes.push(format!(
            "a set of element {} was interrupted; recover() finishes it",
            journal - 1
        ));
    }
    let size = info.elem_size;
    let start = side * info.capacity * size;
    let shown = if input.data_offset == start {
        let n = (input.data.len() as u64 / size).min(len);
        &input.data[..(n * size) as usize]
    } else {
        &input.data[..0]
    };
    if (shown.len() as u64) < len.min(info.capacity) * size {
        v.notes.push(format!(
            "{} of {len} element(s) shown (the data window; --max-bytes reads more)",
            shown.len() as u64 / size
        ));
    }
    match decode_primitives(&info.type_name, size as usize, shown) {
        Some(values) => v
            .fields
            .push(("values", Field::Values { first: 0, values })),
        None => v.fields.push((
            "bytes",
            Field::Bytes {
                offset: input.data_offset,
                bytes: shown.to_vec(),
            },
        )),
    }
    v
}

/// The elements of `bytes` as numbers, when `type_name` is one of shmkit's primitive
/// types and `elem_size` its size; `None` otherwise. A trailing partial element is
/// ignored.
pub fn decode_primitives(type_name: &str, elem_size: usize, bytes: &[u8]) -> Option<Vec<Scalar>> {
    fn ne<const N: usize>(c: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }
    let (size, decode): (usize, fn(&[u8]) -> Scalar) = match type_name {
        "i8" => (1, |c| Scalar::I64(i8::from_ne_bytes(ne(c)).into())),
        "i16" => (2, |c| Scalar::I64(i16::from_ne_bytes(ne(c)).into())),
        "i32" => (4, |c| Scalar::I64(i32::from_ne_bytes(ne(c)).into())),
        "i64" => (8, |c| Scalar::I64(i64::from_ne_bytes(ne(c)))),
        "u8" => (1, |c| Scalar::U64(c[0].into())),
        "u16" => (2, |c| Scalar::U64(u16::from_ne_bytes(ne(c)).into())),
        "u32" => (4, |c| Scalar::U64(u32::from_ne_bytes(ne(c)).into())),
        "u64" => (8, |c| Scalar::U64(u64::from_ne_bytes(ne(c)))),
        "f32" => (4, |c| Scalar::F64(f32::from_ne_bytes(ne(c)).into())),
        "f64" => (8, |c| Scalar::F64(f64::from_ne_bytes(ne(c)))),
        _ => return None,
    };
    if size != elem_size {
        return None;
    }
    Some(bytes.chunks_exact(size).map(decode).collect())
}

/// One entry of [`list`]: a name found in the shared-memory directory, and what reading
/// it gave.
#[derive(Debug)]
pub struct ListEntry {
    /// The segment name (non-printable bytes escaped if the file name is not a valid
    /// segment name).
    pub name: String,
    /// The snapshot, or why the segment could not be read at all.
    pub result: Result<Snapshot>,
}

/// Every shmkit segment on the machine (objects named `shmkit.*`), sorted by name.
/// Segments that cannot be read are listed with the reason.
///
/// # Errors
/// [`Error::Io`] if the shared-memory directory cannot be read,
/// [`Error::Unsupported`] on platforms without one.
pub fn list(opts: &InspectOptions) -> Result<Vec<ListEntry>> {
    let names = sys::list_objects(OS_PREFIX).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Unsupported {
            Error::Unsupported("shared-memory segments on this platform")
        } else {
            Error::io("list shared-memory objects", e)
        }
    })?;
    Ok(names
        .into_iter()
        .map(|raw| {
            let rest = &raw[OS_PREFIX.len()..];
            match std::str::from_utf8(rest) {
                Ok(name) => ListEntry {
                    name: if segment::validate_name(name).is_ok() {
                        name.to_string()
                    } else {
                        escape_bytes(rest)
                    },
                    result: inspect(name, opts),
                },
                Err(_) => ListEntry {
                    name: escape_bytes(rest),
                    result: Err(Error::InvalidName {
                        name: escape_bytes(rest),
                        reason: "it is not UTF-8",
                    }),
                },
            }
        })
        .collect())
}

/// Which processes map the segment `name` (from `/proc/*/maps`), and how many
/// processes could not be checked (reading their maps was denied: other users'
/// processes without root, or more privileged ones).
///
/// # Errors
/// [`Error::InvalidName`], [`Error::Io`] if `/proc` cannot be read,
/// [`Error::Unsupported`].
pub fn mapped_by(name: &str) -> Result<(Vec<u32>, usize)> {
    let (mut pids, unreadable) = mapped_by_each(&[name.to_string()])?;
    Ok((pids.pop().unwrap_or_default(), unreadable))
}

/// [`mapped_by`] for many segments in one pass over `/proc`.
fn mapped_by_each(names: &[String]) -> Result<(Vec<Vec<u32>>, usize)> {
    let mut os_names = Vec::with_capacity(names.len());
    for n in names {
        segment::validate_name(n)?;
        os_names.push(segment::os_name(n));
    }
    sys::pids_mapping(&os_names).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Unsupported {
            Error::Unsupported("listing the processes that map a segment")
        } else {
            Error::io("read /proc/*/maps", e)
        }
    })
}

/// What gc decided about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcDecision {
    /// The segment name.
    pub name: String,
    /// Whether it is (or, in a dry run, would be) removed.
    pub remove: bool,
    /// Whether it was actually removed (false in a dry run or when removal failed).
    pub removed: bool,
    /// Why, in one sentence.
    pub reason: String,
    /// Live processes that map it.
    pub mapped_by: Vec<u32>,
}

/// The gc policy for one readable segment, given who maps it.
///
/// Removable: nobody maps it, and either its recorded creator is dead (ready,
/// initializing or poisoned), or it is corrupt or has no creator recorded and its file
/// was last modified at least [`GC_CORRUPT_MIN_AGE_NS`] ago.
pub fn gc_verdict(snap: &Snapshot, mapped_by: &[u32], now_unix_ns: u64) -> (bool, String) {
    if !mapped_by.is_empty() {
        return (false, format!("mapped by live processes {mapped_by:?}"));
    }
    let pid = snap.creator_pid();
    let trusted_pid = snap.state != State::Corrupt && pid != 0;
    if trusted_pid {
        return match snap.creator_alive {
            Some(true) => (false, format!("creator pid {pid} is alive")),
            _ => (
                true,
                format!(
                    "{} segment whose creator pid {pid} is dead and that no process maps",
                    snap.state.name()
                ),
            ),
        };
    }
    let file_age = now_unix_ns.saturating_sub(snap.object.modified_unix_ns);
    if file_age >= GC_CORRUPT_MIN_AGE_NS {
        (
            true,
            format!(
                "{} segment with no trustworthy creator, unmodified for {}s and mapped by no process",
                snap.state.name(),
                file_age / 1_000_000_000
            ),
        )
    } else {
        (
            false,
            format!(
                "{} segment with no trustworthy creator, but modified {}s ago (gc waits {}s)",
                snap.state.name(),
                file_age / 1_000_000_000,
                GC_CORRUPT_MIN_AGE_NS / 1_000_000_000
            ),
        )
    }
}

/// Removes segments that no live process uses (see [`gc_verdict`]), or with `dry_run`
/// only says what it would remove. `only`: consider just these names (all segments when
/// `None`). Before unlinking, each segment is read again and left alone if its header
/// changed (recreated under the same name meanwhile). Segments that cannot be read are
/// kept, with the reason.
///
/// # Errors
/// As [`list`] and [`mapped_by`].
pub fn gc(dry_run: bool, only: Option<&[String]>) -> Result<Vec<GcDecision>> {
    let now = sys::unix_time_ns();
    let mut out = Vec::new();
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    let entries: Vec<ListEntry> = list(&InspectOptions::header_only())?
        .into_iter()
        .filter(|e| wanted(&e.name))
        .collect();
    let readable: Vec<String> = entries
        .iter()
        .filter_map(|e| e.result.as_ref().ok().map(|s| s.name.clone()))
        .collect();
    let (mut mappers, unreadable) = mapped_by_each(&readable)?;
    mappers.reverse(); // popped in entry order below
    for entry in entries {
        let snap = match entry.result {
            Ok(s) => s,
            Err(e) => {
                out.push(GcDecision {
                    name: entry.name,
                    remove: false,
                    removed: false,
                    reason: format!("kept: cannot read it ({e})"),
                    mapped_by: Vec::new(),
                });
                continue;
            }
        };
        let pids = mappers.pop().unwrap_or_default();
        let (mut remove, mut reason) = gc_verdict(&snap, &pids, now);
        if remove && unreadable > 0 {
            reason.push_str(&format!(
                " ({unreadable} processes could not be checked: reading their maps was denied)"
            ));
        }
        let mut removed = false;
        if remove && !dry_run {
            let again = inspect(&snap.name, &InspectOptions::header_only());
            let unchanged = match &again {
                Ok(a) => {
                    a.header
                        .as_ref()
                        .map(|h| (h.creator_pid, h.created_unix_ns))
                        == snap
                            .header
                            .as_ref()
                            .map(|h| (h.creator_pid, h.created_unix_ns))
                        && a.object.len == snap.object.len
                }
                Err(_) => false,
            };
            if !unchanged {
                remove = false;
                reason = "kept: it changed while gc was looking at it".to_string();
            } else {
                match segment::unlink(&snap.name) {
                    Ok(()) => removed = true,
                    Err(e) => reason = format!("{reason}; removing it failed: {e}"),
                }
            }
        }
        out.push(GcDecision {
            name: snap.name,
            remove,
            removed,
            reason,
            mapped_by: pids,
        });
    }
    Ok(out)
}
