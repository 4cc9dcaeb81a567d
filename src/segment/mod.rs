//! Named shared-memory segments: create, open, validate, unlink.
//!
//! A segment is one POSIX shared-memory object named `/shmkit.<name>` (or an anonymous
//! memfd), mapped whole. It starts with a 256-byte header (see [`RawHeader`] and
//! docs/FORMAT.md), then the kind's control block, then the data.

mod header;

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};
use zerocopy::{FromBytes, IntoBytes};

pub use header::{
    FORMAT_VERSION, HEADER_LEN, Kind, MAGIC, MAX_ELEM_ALIGN, MAX_TYPE_NAME, RawHeader,
    STATE_INITIALIZING, STATE_POISONED, STATE_READY, SegmentInfo,
};
pub(crate) use header::{Layout, kind_label, validate};

use crate::error::{Error, Result};
use crate::sys;
use crate::types::TypeDesc;

/// The prefix of every shmkit object name in the OS namespace (`/dev/shm/shmkit.<name>`).
pub const OS_PREFIX: &str = "shmkit.";
/// The longest segment name, in bytes.
pub const MAX_NAME_LEN: usize = 200;

/// Checks that `name` is a portable segment name: 1 to [`MAX_NAME_LEN`] bytes of ASCII
/// letters, digits, `.`, `_` and `-`, not starting with `.`.
///
/// # Errors
/// [`Error::InvalidName`] saying what is wrong.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is longer than 200 bytes");
    }
    if name.contains('/') {
        return bad("it contains '/'");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// The OS name of a segment: `/shmkit.<name>`.
pub(crate) fn os_name(name: &str) -> String {
    format!("/{OS_PREFIX}{name}")
}

/// Removes the segment `name` from the namespace. Processes that have it open keep
/// using it; the memory is freed when the last one unmaps it.
///
/// # Errors
/// [`Error::InvalidName`], [`Error::NotFound`], [`Error::PermissionDenied`].
///
/// # Examples
/// ```
/// # let name = format!("doc-unlink-{}", std::process::id());
/// let v = shmkit::Value::<u32>::create_with(&name, 7, &shmkit::SegmentOptions::new().persistent(true))?;
/// drop(v);
/// shmkit::unlink(&name)?;
/// assert!(matches!(shmkit::unlink(&name), Err(shmkit::Error::NotFound { .. })));
/// # Ok::<(), shmkit::Error>(())
/// ```
pub fn unlink(name: &str) -> Result<()> {
    validate_name(name)?;
    sys::shm_unlink(&os_name(name)).map_err(|e| map_open_error(e, name, "unlink"))
}

fn map_open_error(e: io::Error, name: &str, what: &str) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound {
            name: name.to_string(),
        },
        Some(libc::EEXIST) => Error::AlreadyExists {
            name: name.to_string(),
        },
        Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied {
            name: name.to_string(),
        },
        Some(libc::ENAMETOOLONG) => Error::InvalidName {
            name: name.to_string(),
            reason: "the OS says it is too long",
        },
        _ if e.kind() == io::ErrorKind::Unsupported => {
            Error::Unsupported("shared-memory segments on this platform")
        }
        _ => Error::io(format!("{what} segment `{name}`"), e),
    }
}

/// Options for creating and opening segments.
///
/// ```
/// let opts = shmkit::SegmentOptions::new()
///     .mode(0o660)
///     .open_timeout(std::time::Duration::from_millis(500));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct SegmentOptions {
    mode: u32,
    persistent: bool,
    open_timeout: Duration,
    stall_before_ready: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions {
            mode: 0o600,
            persistent: false,
            open_timeout: Duration::from_secs(2),
            stall_before_ready: false,
        }
    }
}

impl SegmentOptions {
    /// Defaults: mode 0600, unlinked when the creating handle drops, 2 s open timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Permission bits of a created segment (default `0o600`; the umask does not apply).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// When true, the creating handle does not unlink the segment on drop.
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// How long `open` waits for a segment that is still being initialized.
    pub fn open_timeout(mut self, timeout: Duration) -> Self {
        self.open_timeout = timeout;
        self
    }

    /// Test hook: the creator stops forever just before publishing `ready`, so a test
    /// can kill it there.
    #[doc(hidden)]
    pub fn stall_before_ready(mut self, stall: bool) -> Self {
        self.stall_before_ready = stall;
        self
    }
}

/// What a kind asks of a new segment.
pub(crate) struct Spec {
    pub kind: Kind,
    pub elem: TypeDesc,
    pub capacity: u64,
    pub control_len: usize,
    pub data_len: usize,
    pub params: [u64; 4],
}

impl Spec {
    /// A segment that is only a control block of `control_len` bytes (a lock, an event,
    /// ...): no elements, no data.
    pub(crate) fn control_only(kind: Kind, control_len: usize, params: [u64; 4]) -> Spec {
        Spec {
            kind,
            elem: TypeDesc::NONE,
            capacity: 0,
            control_len,
            data_len: 0,
            params,
        }
    }
}

/// Opens a segment made by [`Spec::control_only`] with the same kind and length.
pub(crate) fn open_control_only(
    name: &str,
    opts: &SegmentOptions,
    kind: Kind,
    control_len: usize,
) -> Result<Segment> {
    open_named(
        name,
        &Expect {
            kind,
            elem: Some(TypeDesc::NONE),
            control_len: Some(control_len),
        },
        opts,
    )
}

/// What a kind expects of a segment it opens.
pub(crate) struct Expect {
    pub kind: Kind,
    /// `None`: any element type (checked by the caller).
    pub elem: Option<TypeDesc>,
    /// `None`: any control block length (checked by the caller).
    pub control_len: Option<usize>,
}

/// A mapped shmkit segment: named, or anonymous (shared with forked children).
///
/// The creating handle owns the name and unlinks it when dropped, unless made
/// persistent; handles from `open` never unlink. A handle inherited by a forked child
/// never unlinks either: only the process that created it does.
///
/// `Segment` used directly is a raw byte area like Python's
/// `shared_memory.SharedMemory`; the typed kinds ([`Value`](crate::Value),
/// [`Array`](crate::Array), [`Mutex`](crate::Mutex), ...) are built on it.
#[derive(Debug)]
pub struct Segment {
    map: MmapRaw,
    name: Option<String>,
    unlink_on_drop: bool,
    owner_pid: u32,
    info: SegmentInfo,
}

impl Segment {
    /// Creates a raw segment of `size` data bytes, zeroed.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::AlreadyExists`], [`Error::PermissionDenied`],
    /// [`Error::Io`].
    ///
    /// # Examples
    /// ```
    /// # let name = format!("doc-seg-{}", std::process::id());
    /// let seg = shmkit::Segment::create(&name, 4096)?;
    /// seg.write_at(0, b"hello")?;
    /// let other = shmkit::Segment::open(&name)?;
    /// let mut buf = [0u8; 5];
    /// other.read_at(0, &mut buf)?;
    /// assert_eq!(&buf, b"hello");
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    pub fn create(name: &str, size: usize) -> Result<Segment> {
        Self::create_with(name, size, &SegmentOptions::default())
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_with(name: &str, size: usize, opts: &SegmentOptions) -> Result<Segment> {
        create_named(name, raw_spec(size), opts, |_| Ok(()))
    }

    /// Opens an existing raw segment.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::KindMismatch`] if it is not a raw segment,
    /// [`Error::Corrupt`], [`Error::VersionMismatch`], [`Error::NotReady`],
    /// [`Error::PermissionDenied`].
    pub fn open(name: &str) -> Result<Segment> {
        Self::open_with(name, &SegmentOptions::default())
    }

    /// [`open`](Self::open) with options (the open timeout).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(name: &str, opts: &SegmentOptions) -> Result<Segment> {
        let seg = open_named(
            name,
            &Expect {
                kind: Kind::Raw,
                elem: Some(TypeDesc::of::<u8>()),
                control_len: Some(0),
            },
            opts,
        )?;
        if seg.info.capacity != seg.info.layout.data_len {
            return Err(Error::corrupt(
                name,
                "raw segment capacity differs from its data length",
            ));
        }
        Ok(seg)
    }

    /// Opens the raw segment `name`, creating it with `size` bytes if it does not exist.
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(name: &str, size: usize) -> Result<Segment> {
        open_or_create_named(
            name,
            &SegmentOptions::default(),
            || Self::create(name, size),
            || Self::open(name),
        )
    }

    /// An unnamed segment of `size` bytes, shared with children forked after this call.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Unsupported`].
    pub fn anonymous(size: usize) -> Result<Segment> {
        create_anonymous(raw_spec(size), |_| Ok(()))
    }

    /// The segment's name (`None` when anonymous).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The validated header.
    pub fn info(&self) -> &SegmentInfo {
        &self.info
    }

    /// Length of the data area in bytes.
    pub fn len(&self) -> usize {
        self.info.layout.data_len as usize
    }

    /// Whether the data area is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this handle unlinks the name when dropped.
    pub fn unlinks_on_drop(&self) -> bool {
        self.unlink_on_drop
    }

    /// Keeps the name after this handle drops (`true`), or unlinks it then (`false`).
    pub fn set_persistent(&mut self, persistent: bool) {
        self.unlink_on_drop = !persistent && self.name.is_some();
    }

    /// Pointer to the first data byte. Other processes may change these bytes at any
    /// time: read and write them with volatile or atomic accesses, or under a lock you
    /// placed in the segment.
    pub fn as_ptr(&self) -> *mut u8 {
        self.data_ptr()
    }

    /// Copies `buf.len()` bytes at `offset` of the data area into `buf`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the range passes the end.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        // SAFETY:
        // - the range was checked to lie inside the data area of our mapping.
        // - `buf` is a distinct local buffer; bytes are plain data (any value valid).
        unsafe { copy_in(self.data_ptr().add(offset), buf) };
        Ok(())
    }

    /// Copies `buf` into the data area at `offset`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the range passes the end.
    pub fn write_at(&self, offset: usize, buf: &[u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        // SAFETY:
        // - the range was checked to lie inside the data area of our writable mapping.
        // - `buf` does not overlap the mapping (it is a Rust slice we were given, and
        //   we never hand out slices into the mapping).
        unsafe { copy_out(buf, self.data_ptr().add(offset)) };
        Ok(())
    }

    fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        Error::check_range(offset, len, self.len())
    }

    #[inline]
    pub(crate) fn control_ptr(&self) -> *mut u8 {
        // SAFETY: the layout was validated against the mapping length, so the control
        // offset is inside the mapping.
        unsafe {
            self.map
                .as_mut_ptr()
                .add(self.info.layout.control_offset as usize)
        }
    }

    pub(crate) fn data_ptr(&self) -> *mut u8 {
        // SAFETY: the layout was validated against the mapping length, so the data
        // offset is at most the mapping's end.
        unsafe {
            self.map
                .as_mut_ptr()
                .add(self.info.layout.data_offset as usize)
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.unlink_on_drop && sys::current_pid() == self.owner_pid {
            if let Some(name) = &self.name {
                let _ = sys::shm_unlink(&os_name(name));
            }
        }
    }
}

/// Copies bytes out of shared memory with volatile reads, word by word where aligned.
///
/// # Safety
/// - `src..src+dst.len()` lies inside a live mapping.
pub(crate) unsafe fn copy_in(src: *const u8, dst: &mut [u8]) {
    // SAFETY: the caller guarantees the source range; `dst` is exclusive local memory.
    // A plain memcpy is the right primitive here: the bytes are plain data, the copy
    // only reads the mapping, and concurrent writers are excluded by the caller's lock
    // or tolerated (any bit pattern is valid).
    unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) }
}

/// Copies bytes into shared memory.
///
/// # Safety
/// - `dst..dst+src.len()` lies inside a live writable mapping and does not overlap `src`.
pub(crate) unsafe fn copy_out(src: &[u8], dst: *mut u8) {
    // SAFETY: the caller guarantees the destination range and no overlap.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
}

fn raw_spec(size: usize) -> Spec {
    Spec {
        kind: Kind::Raw,
        elem: TypeDesc::of::<u8>(),
        capacity: size as u64,
        control_len: 0,
        data_len: size,
        params: [0; 4],
    }
}

fn header_for(spec: &Spec, layout: &Layout) -> Result<RawHeader> {
    let name = spec.elem.name.as_bytes();
    if name.len() > header::MAX_TYPE_NAME {
        return Err(Error::InvalidArgument(format!(
            "type name `{}` is longer than {} bytes",
            spec.elem.name,
            header::MAX_TYPE_NAME
        )));
    }
    let mut type_name = [0u8; 64];
    type_name[..name.len()].copy_from_slice(name);
    Ok(RawHeader {
        magic: MAGIC,
        version: FORMAT_VERSION,
        kind: spec.kind as u32,
        state: STATE_INITIALIZING,
        header_len: HEADER_LEN as u32,
        total_len: layout.total_len,
        control_offset: layout.control_offset,
        control_len: layout.control_len,
        data_offset: layout.data_offset,
        data_len: layout.data_len,
        capacity: spec.capacity,
        elem_size: spec.elem.size as u64,
        elem_align: spec.elem.align as u64,
        creator_pid: sys::current_pid(),
        sync_abi: sys::SYNC_ABI,
        created_unix_ns: sys::unix_time_ns(),
        type_name_len: name.len() as u32,
        reserved0: 0,
        params: spec.params,
        type_name,
        reserved1: [0; 48],
    })
}

fn spec_layout(spec: &Spec) -> Result<Layout> {
    if !spec.elem.align.is_power_of_two() || spec.elem.align as u64 > header::MAX_ELEM_ALIGN {
        return Err(Error::InvalidArgument(format!(
            "element alignment {} is not a power of two up to {}",
            spec.elem.align,
            header::MAX_ELEM_ALIGN
        )));
    }
    Layout::compute(
        spec.control_len as u64,
        spec.elem.align as u64,
        spec.data_len as u64,
    )
    .ok_or_else(|| {
        Error::InvalidArgument(format!(
            "a segment of {} data bytes is too large",
            spec.data_len
        ))
    })
}

fn map(fd: &OwnedFd, len: u64, name: &str) -> Result<MmapRaw> {
    let len = usize::try_from(len)
        .map_err(|_| Error::corrupt(name, format!("length {len} does not fit in memory")))?;
    MmapOptions::new()
        .len(len)
        .map_raw(fd)
        .map_err(|e| Error::io(format!("mmap segment `{name}` ({len} bytes)"), e))
}

fn state_word(map: &MmapRaw) -> &AtomicU32 {
    // SAFETY:
    // - the mapping is at least HEADER_LEN bytes (checked by every caller), so the
    //   4 bytes at STATE_OFFSET are inside it; the offset is 4-aligned and the mapping
    //   page-aligned.
    // - the state word is only ever accessed atomically by shmkit.
    unsafe { AtomicU32::from_ptr(map.as_mut_ptr().add(header::STATE_OFFSET).cast()) }
}

/// Writes the header, lets `init` set up the control block, then publishes `ready`.
fn initialize(
    map: MmapRaw,
    spec: &Spec,
    layout: &Layout,
    name: Option<&str>,
    opts: &SegmentOptions,
    init: impl FnOnce(&Segment) -> Result<()>,
) -> Result<Segment> {
    let header = header_for(spec, layout)?;
    // SAFETY:
    // - the mapping is `layout.total_len >= HEADER_LEN` bytes long and page-aligned.
    // - nobody else reads the header until `state` says ready (state is still 0 from
    //   ftruncate's zero fill, and the header we copy has state = initializing).
    unsafe { copy_out(header.as_bytes(), map.as_mut_ptr()) };
    let info = validate(
        &RawHeader {
            state: STATE_READY,
            ..header
        },
        layout.total_len,
        name.unwrap_or("<anonymous>"),
    )?;
    let seg = Segment {
        map,
        name: name.map(str::to_string),
        unlink_on_drop: false,
        owner_pid: sys::current_pid(),
        info,
    };
    if let Err(e) = init(&seg) {
        state_word(&seg.map).store(STATE_POISONED, Ordering::Release);
        return Err(e);
    }
    if opts.stall_before_ready {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    state_word(&seg.map).store(STATE_READY, Ordering::Release);
    Ok(seg)
}

pub(crate) fn create_named(
    name: &str,
    spec: Spec,
    opts: &SegmentOptions,
    init: impl FnOnce(&Segment) -> Result<()>,
) -> Result<Segment> {
    validate_name(name)?;
    let layout = spec_layout(&spec)?;
    let os = os_name(name);
    let fd = sys::shm_create(&os, opts.mode).map_err(|e| map_open_error(e, name, "create"))?;
    let result = (|| {
        sys::set_len(&fd, layout.total_len)
            .map_err(|e| Error::io(format!("size segment `{name}`"), e))?;
        let map = map(&fd, layout.total_len, name)?;
        initialize(map, &spec, &layout, Some(name), opts, init)
    })();
    match result {
        Ok(mut seg) => {
            // The name is ours from here on (a failure above unlinks it below).
            seg.unlink_on_drop = !opts.persistent;
            Ok(seg)
        }
        Err(e) => {
            let _ = sys::shm_unlink(&os);
            Err(e)
        }
    }
}

pub(crate) fn create_anonymous(
    spec: Spec,
    init: impl FnOnce(&Segment) -> Result<()>,
) -> Result<Segment> {
    let layout = spec_layout(&spec)?;
    let fd = sys::anonymous_fd().map_err(|e| map_open_error(e, "<anonymous>", "create"))?;
    sys::set_len(&fd, layout.total_len).map_err(|e| Error::io("size anonymous segment", e))?;
    let map = map(&fd, layout.total_len, "<anonymous>")?;
    initialize(map, &spec, &layout, None, &SegmentOptions::default(), init)
}

/// Opens `name`, waits (bounded) for it to be ready, validates the header against the
/// object size and `expect`, and maps it.
pub(crate) fn open_named(name: &str, expect: &Expect, opts: &SegmentOptions) -> Result<Segment> {
    validate_name(name)?;
    let os = os_name(name);
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    loop {
        let fd = sys::shm_open(&os, true).map_err(|e| map_open_error(e, name, "open"))?;
        let (len, _mode) =
            sys::file_len_mode(&fd).map_err(|e| Error::io(format!("stat segment `{name}`"), e))?;
        let waiting_reason;
        if len >= HEADER_LEN as u64 {
            let map = map(&fd, len, name)?;
            match state_word(&map).load(Ordering::Acquire) {
                STATE_READY => return finish_open(map, len, name, expect),
                STATE_INITIALIZING => {
                    // SAFETY: the mapping is >= HEADER_LEN bytes and the pid field is
                    // 4-aligned inside the header; a racy read is harmless (any value).
                    let pid = unsafe {
                        AtomicU32::from_ptr(map.as_mut_ptr().add(header::CREATOR_PID_OFFSET).cast())
                    }
                    .load(Ordering::Relaxed);
                    if pid != 0 && !sys::pid_alive(pid) {
                        return Err(Error::NotReady {
                            name: name.to_string(),
                            reason: format!(
                                "its creator (pid {pid}) died before it became ready; remove it with `shmkit rm {name}` or shmkit::unlink"
                            ),
                        });
                    }
                    waiting_reason = if pid == 0 {
                        "it is still being initialized (creator not yet recorded)".to_string()
                    } else {
                        format!("it is still being initialized by pid {pid}, which is alive")
                    };
                }
                STATE_POISONED => {
                    return Err(Error::corrupt(name, "its creator failed to initialize it"));
                }
                other => {
                    return Err(Error::corrupt(name, format!("unknown state {other}")));
                }
            }
        } else if len == 0 {
            waiting_reason =
                "the object is empty: its creator has not sized it (it may have died)".to_string();
        } else {
            return Err(Error::corrupt(
                name,
                format!("the object is {len} bytes, shorter than the {HEADER_LEN}-byte header"),
            ));
        }
        if start.elapsed() >= opts.open_timeout {
            return Err(Error::NotReady {
                name: name.to_string(),
                reason: format!("after waiting {:?}, {waiting_reason}", opts.open_timeout),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Reads the header out of a mapping that is at least `HEADER_LEN` bytes.
pub(crate) fn read_header(base: *const u8) -> RawHeader {
    let mut bytes = [0u8; HEADER_LEN];
    // SAFETY: callers pass the start of a mapping of at least HEADER_LEN bytes.
    unsafe { copy_in(base, &mut bytes) };
    RawHeader::read_from_bytes(&bytes).expect("HEADER_LEN bytes make a RawHeader")
}

fn finish_open(map: MmapRaw, len: u64, name: &str, expect: &Expect) -> Result<Segment> {
    let raw = read_header(map.as_ptr());
    let info = validate(&raw, len, name)?;
    if info.kind != expect.kind {
        return Err(Error::KindMismatch {
            expected: expect.kind.name().to_string(),
            found: kind_label(raw.kind),
        });
    }
    if let Some(elem) = &expect.elem {
        if !info.has_type(elem) {
            return Err(Error::TypeMismatch {
                expected: elem.to_string(),
                found: info.type_display(),
            });
        }
    }
    if let Some(control_len) = expect.control_len {
        if info.layout.control_len != control_len as u64 {
            return Err(Error::corrupt(
                name,
                format!(
                    "control block is {} bytes, a {} has {control_len}",
                    info.layout.control_len, expect.kind
                ),
            ));
        }
    }
    Ok(Segment {
        map,
        name: Some(name.to_string()),
        unlink_on_drop: false,
        owner_pid: sys::current_pid(),
        info,
    })
}

/// Tries `create`, falls back to `open` when the name exists; retries if the segment
/// vanished in between (its creator dropped it).
pub(crate) fn open_or_create_named<T>(
    name: &str,
    _opts: &SegmentOptions,
    mut create: impl FnMut() -> Result<T>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    for _ in 0..100 {
        match create() {
            Err(Error::AlreadyExists { .. }) => match open() {
                Err(Error::NotFound { .. }) => continue,
                other => return other,
            },
            other => return other,
        }
    }
    Err(Error::io(
        format!("open_or_create segment `{name}`"),
        io::Error::other("the segment kept appearing and vanishing"),
    ))
}
