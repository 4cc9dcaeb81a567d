//! Linux: POSIX shm, memfd, robust process-shared pthread mutexes, shared futexes.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use rustix::fs::Mode;
use rustix::shm;

use super::{LockOutcome, PTHREAD_MUTEX_BYTES};

const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() <= PTHREAD_MUTEX_BYTES);
const _: () = assert!(std::mem::align_of::<libc::pthread_mutex_t>() <= 8);

/// An identifier of the C library and architecture whose pthread layout is inside a
/// segment. Processes sharing a segment must agree on it.
pub(crate) const SYNC_ABI: u32 = {
    let arch: u32 = if cfg!(target_arch = "x86_64") {
        1
    } else if cfg!(target_arch = "aarch64") {
        2
    } else {
        0xff
    };
    let env: u32 = if cfg!(target_env = "gnu") {
        1
    } else if cfg!(target_env = "musl") {
        2
    } else {
        0xff
    };
    (env << 8) | arch
};

/// `shm_open(O_CREAT|O_EXCL|O_RDWR)`, then `fchmod(mode)` so the umask does not narrow it.
pub(crate) fn shm_create(os_name: &str, mode: u32) -> io::Result<OwnedFd> {
    let fd = shm::open(
        os_name,
        shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
        Mode::from_raw_mode(mode),
    )?;
    if let Err(e) = rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)) {
        let _ = shm::unlink(os_name);
        return Err(e.into());
    }
    Ok(fd)
}

/// `shm_open` of an existing object.
pub(crate) fn shm_open(os_name: &str, writable: bool) -> io::Result<OwnedFd> {
    let flags = if writable {
        shm::OFlags::RDWR
    } else {
        shm::OFlags::RDONLY
    };
    Ok(shm::open(os_name, flags, Mode::empty())?)
}

/// `shm_unlink`.
pub(crate) fn shm_unlink(os_name: &str) -> io::Result<()> {
    Ok(shm::unlink(os_name)?)
}

/// An unnamed shared-memory file (memfd), for segments shared with forked children.
pub(crate) fn anonymous_fd() -> io::Result<OwnedFd> {
    Ok(rustix::fs::memfd_create(
        "shmkit-anonymous",
        rustix::fs::MemfdFlags::CLOEXEC,
    )?)
}

pub(crate) fn set_len(fd: impl AsFd, len: u64) -> io::Result<()> {
    Ok(rustix::fs::ftruncate(fd, len)?)
}

/// The object's size and permission bits.
pub(crate) fn file_len_mode(fd: impl AsFd) -> io::Result<(u64, u32)> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_size as u64, st.st_mode & 0o7777))
}

pub(crate) fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// Kills this process with SIGKILL at once (the crash-point test hooks): no destructor,
/// no unlock, exactly what `kill -9` from outside does.
pub(crate) fn kill_self() -> ! {
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    std::process::abort()
}

/// This process's pid without a system call: cached, and forgotten in a forked child
/// (a `pthread_atfork` handler), so a child never reports its parent's pid.
pub(crate) fn cached_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    let pid = current_pid();
    if forget_ids_in_forked_children() {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}

static PID: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static TID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// States of the `pthread_atfork` registration.
const AT_FORK_NONE: u8 = 0;
const AT_FORK_BUSY: u8 = 1;
const AT_FORK_DONE: u8 = 2;
static AT_FORK: AtomicU8 = AtomicU8::new(AT_FORK_NONE);

/// Registers (once) a `pthread_atfork` child handler that forgets the cached pid and
/// the forking thread's cached tid: in the child, both are new. Returns whether the
/// handler is registered, i.e. whether caching is safe.
///
/// Never blocks: a `std::sync::Once` here hung forked children for good when another
/// thread of the parent was inside the registration at the instant of `fork` (the child
/// inherits the "running" state, and the thread that would finish it does not exist
/// there). While another thread registers, or in such a child, the caller simply does
/// not cache. The registration normally runs in a constructor before `main`
/// ([`REGISTER_AT_FORK`]), when the process has one thread.
fn forget_ids_in_forked_children() -> bool {
    extern "C" fn forget() {
        PID.store(0, Ordering::Relaxed);
        let _ = TID.try_with(|t| t.set(0));
    }
    match AT_FORK.compare_exchange(
        AT_FORK_NONE,
        AT_FORK_BUSY,
        Ordering::Acquire,
        Ordering::Acquire,
    ) {
        Ok(_) => {
            // SAFETY: registers a handler that only stores to an atomic and to this
            // thread's own thread-local cell (`try_with`: no registration of a
            // destructor, no allocation); both are valid in the forked child.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(forget)) };
            let next = if rc == 0 { AT_FORK_DONE } else { AT_FORK_NONE };
            AT_FORK.store(next, Ordering::Release);
            rc == 0
        }
        Err(state) => state == AT_FORK_DONE,
    }
}

/// Registers the fork handler (and learns the mutex kind word) before `main`, while the
/// process has a single thread.
#[used]
#[unsafe(link_section = ".init_array")]
static REGISTER_AT_FORK: extern "C" fn() = {
    extern "C" fn register() {
        forget_ids_in_forked_children();
        expected_kind();
    }
    register
};

/// This thread's id without a system call (cached per thread, forgotten across fork).
pub(crate) fn cached_tid() -> u32 {
    let tid = TID.try_with(|t| t.get()).unwrap_or(0);
    if tid != 0 {
        return tid;
    }
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    if forget_ids_in_forked_children() {
        let _ = TID.try_with(|t| t.set(tid));
    }
    tid
}

/// The process a thread belongs to (its `Tgid` in `/proc/<tid>/status`), if the thread
/// exists.
pub(crate) fn tid_to_pid(tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a process with this pid exists (a zombie counts as alive until reaped).
pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; no memory
    // is passed.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn unix_time_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}

/// Sleeps on a shared (not PRIVATE) futex while `*word == expected`, at most `timeout`.
/// Returns on wake-up, value change, signal or timeout; callers re-check their condition.
#[cfg_attr(loom, allow(dead_code))] // loom models sleep on its own futex
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    use rustix::thread::futex;
    let ts = timeout.map(|d| futex::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: d.subsec_nanos() as _,
    });
    let _ = futex::wait(word, futex::Flags::empty(), expected, ts.as_ref());
}

/// Wakes up to `n` processes sleeping on `word`. Returns how many were woken.
#[cfg_attr(loom, allow(dead_code))] // loom models sleep on its own futex
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) -> usize {
    use rustix::thread::futex;
    futex::wake(word, futex::Flags::empty(), n.min(i32::MAX as u32)).unwrap_or(0)
}

/// `membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)`: from now on, a
/// [`membarrier_global`] issued by any process runs a full memory barrier on every CPU
/// that is running a thread of this one. Whether the kernel accepted (Linux 4.16 and
/// later, unless a seccomp filter forbids the call).
#[cfg_attr(loom, allow(dead_code))] // loom models use fences on both sides
pub(crate) fn membarrier_register() -> bool {
    use rustix::thread::{MembarrierCommand, membarrier};
    membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
}

/// `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`: a full memory barrier here and on
/// every CPU running a thread of a process registered by [`membarrier_register`],
/// before it returns (CPUs running other processes are not disturbed). Whether the
/// kernel accepted.
#[cfg_attr(loom, allow(dead_code))] // loom models use fences on both sides
pub(crate) fn membarrier_global() -> bool {
    use rustix::thread::{MembarrierCommand, membarrier};
    membarrier(MembarrierCommand::GlobalExpedited).is_ok()
}

/// Initializes a robust, process-shared, error-checking pthread mutex in place.
///
/// # Safety
/// - `m` points to `PTHREAD_MUTEX_BYTES` writable bytes, 8-aligned, that no process uses
///   as a mutex yet.
pub(crate) unsafe fn mutex_init(m: *mut u8) -> io::Result<()> {
    let m = m.cast::<libc::pthread_mutex_t>();
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    // SAFETY:
    // - `attr` is a local that pthread_mutexattr_init initializes before any other use.
    // - `m` is valid for writes of a pthread_mutex_t by the caller's contract.
    unsafe {
        check(libc::pthread_mutexattr_init(attr.as_mut_ptr()))?;
        let result = (|| {
            check(libc::pthread_mutexattr_setpshared(
                attr.as_mut_ptr(),
                libc::PTHREAD_PROCESS_SHARED,
            ))?;
            check(libc::pthread_mutexattr_setrobust(
                attr.as_mut_ptr(),
                libc::PTHREAD_MUTEX_ROBUST,
            ))?;
            check(libc::pthread_mutexattr_settype(
                attr.as_mut_ptr(),
                libc::PTHREAD_MUTEX_ERRORCHECK,
            ))?;
            check(libc::pthread_mutex_init(m, attr.as_ptr()))
        })();
        libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        result
    }
}

/// Byte offset of glibc's `__kind` in a 64-bit `pthread_mutex_t`
/// (`__lock`, `__count`, `__owner`, `__nusers`, then `__kind`).
const KIND_OFFSET: usize = 16;

/// The `__kind` word that [`mutex_init`] produces, learned from a private mutex
/// initialized with the same attributes (cached; `u32::MAX` if that fails, which makes
/// every mutex count as damaged). Never blocks (no `OnceLock`): a fork while another
/// thread initializes must not leave the child waiting for a thread it does not have.
fn expected_kind() -> u32 {
    static KIND: AtomicU32 = AtomicU32::new(0);
    let known = KIND.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let mut probe = [0u64; PTHREAD_MUTEX_BYTES / 8];
    let p = probe.as_mut_ptr().cast::<u8>();
    // SAFETY: `probe` is a private, 8-aligned, PTHREAD_MUTEX_BYTES-long buffer that no
    // one else uses; it is destroyed right after reading its kind word.
    let kind = unsafe {
        if mutex_init(p).is_err() {
            u32::MAX
        } else {
            let kind = p.add(KIND_OFFSET).cast::<u32>().read();
            libc::pthread_mutex_destroy(p.cast());
            kind
        }
    };
    // Threads racing here compute the same word; a robust, error-checking, shared
    // mutex's kind is never 0, so 0 stays free to mean "not learned yet".
    KIND.store(kind, Ordering::Relaxed);
    kind
}

/// Whether the mutex's type word is still the one [`mutex_init`] wrote. glibc trusts
/// that word (a "priority protect" type, for one, aborts the process on a bad
/// priority), so bytes overwritten by another process are refused before glibc sees
/// them.
///
/// # Safety
/// - `m` points to `PTHREAD_MUTEX_BYTES` mapped bytes, 8-aligned.
pub(crate) unsafe fn mutex_type_intact(m: *mut u8) -> bool {
    // SAFETY: the kind word is inside the mutex bytes (caller's contract), 4-aligned;
    // glibc never writes it after init, and an atomic read is sound whatever its value.
    let kind = unsafe { AtomicU32::from_ptr(m.add(KIND_OFFSET).cast()) }.load(Ordering::Relaxed);
    kind == expected_kind()
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

fn outcome(rc: libc::c_int) -> LockOutcome {
    match rc {
        0 => LockOutcome::Acquired,
        libc::EOWNERDEAD => LockOutcome::OwnerDied,
        libc::EBUSY | libc::ETIMEDOUT => LockOutcome::Busy,
        libc::EDEADLK => LockOutcome::Deadlock,
        libc::ENOTRECOVERABLE => LockOutcome::NotRecoverable,
        other => LockOutcome::Failed(other),
    }
}

unsafe extern "C" {
    // glibc >= 2.30; absent from the libc crate. Waits against CLOCK_MONOTONIC so a
    // wall-clock jump does not stretch or cut a timeout.
    fn pthread_mutex_clocklock(
        m: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// Locks, blocking at most `timeout` (forever when `None`).
///
/// # Safety
/// - `m` points to a mutex initialized by [`mutex_init`] that stays mapped for the call.
pub(crate) unsafe fn mutex_lock(m: *mut u8, timeout: Option<Duration>) -> LockOutcome {
    let m = m.cast::<libc::pthread_mutex_t>();
    match timeout {
        // SAFETY: `m` is an initialized mutex (caller's contract).
        None => outcome(unsafe { libc::pthread_mutex_lock(m) }),
        Some(d) => {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
            let total_ns = now.tv_nsec as u128 + d.subsec_nanos() as u128;
            let secs = (now.tv_sec as u128 + d.as_secs() as u128 + total_ns / 1_000_000_000)
                .min(i64::MAX as u128 / 2);
            let abs = libc::timespec {
                tv_sec: secs as libc::time_t,
                tv_nsec: (total_ns % 1_000_000_000) as _,
            };
            // SAFETY: `m` is an initialized mutex (caller's contract); `abs` is a local.
            outcome(unsafe { pthread_mutex_clocklock(m, libc::CLOCK_MONOTONIC, &abs) })
        }
    }
}

/// Tries to lock without blocking.
///
/// # Safety
/// - `m` points to a mutex initialized by [`mutex_init`] that stays mapped for the call.
pub(crate) unsafe fn mutex_try_lock(m: *mut u8) -> LockOutcome {
    // SAFETY: `m` is an initialized mutex (caller's contract).
    outcome(unsafe { libc::pthread_mutex_trylock(m.cast()) })
}

/// Marks a mutex acquired with owner-died as consistent again (at the pthread level).
///
/// # Safety
/// - `m` points to a mutex initialized by [`mutex_init`], held by this thread after an
///   `OwnerDied` outcome.
pub(crate) unsafe fn mutex_consistent(m: *mut u8) -> io::Result<()> {
    // SAFETY: the caller holds the mutex after EOWNERDEAD.
    check(unsafe { libc::pthread_mutex_consistent(m.cast()) })
}

/// Unlocks.
///
/// # Safety
/// - `m` points to a mutex initialized by [`mutex_init`] and held by this thread.
pub(crate) unsafe fn mutex_unlock(m: *mut u8) -> io::Result<()> {
    // SAFETY: the caller holds the mutex.
    check(unsafe { libc::pthread_mutex_unlock(m.cast()) })
}

// ---- Read-only inspection (`shmkit list/show/gc`) ----

/// Where the OS keeps POSIX shared-memory objects.
const SHM_DIR: &str = "/dev/shm";

/// What `fstat` says about a shared-memory object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectStat {
    pub len: u64,
    pub mode: u32,
    pub uid: u32,
    pub modified_unix_ns: u64,
    pub regular_file: bool,
}

/// The filesystem path of the object `os_name` (`/shmkit.x` → `/dev/shm/shmkit.x`).
pub(crate) fn object_path(os_name: &str) -> std::path::PathBuf {
    std::path::Path::new(SHM_DIR).join(os_name.trim_start_matches('/'))
}

/// Opens an existing object for reading only. `O_NONBLOCK` so that a FIFO planted in
/// `/dev/shm` cannot make the open hang, `O_NOFOLLOW` so a symlink is not followed.
pub(crate) fn open_read_only(os_name: &str) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(object_path(os_name))
}

pub(crate) fn object_stat(file: &std::fs::File) -> io::Result<ObjectStat> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata()?;
    let modified_unix_ns = u64::try_from(m.mtime())
        .ok()
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|ns| ns.checked_add(m.mtime_nsec().clamp(0, 999_999_999) as u64))
        .unwrap_or(0);
    Ok(ObjectStat {
        len: m.len(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        modified_unix_ns,
        regular_file: m.file_type().is_file(),
    })
}

/// Copies up to `buf.len()` bytes at `offset` with `pread`; returns how many were there
/// (fewer when the object is shorter). Never maps: a concurrent truncation gives a short
/// read here, where a mapping would raise SIGBUS.
pub(crate) fn read_at(file: &std::fs::File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        let Some(at) = offset.checked_add(done as u64) else {
            break;
        };
        match file.read_at(&mut buf[done..], at) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Names of the entries in the shared-memory directory that start with `prefix`, as raw
/// bytes (they may not be UTF-8).
pub(crate) fn list_objects(prefix: &str) -> io::Result<Vec<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(SHM_DIR)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.as_bytes().starts_with(prefix.as_bytes()) {
            names.push(name.as_bytes().to_vec());
        }
    }
    names.sort();
    Ok(names)
}

/// For each object of `os_names`, which processes map it, from one pass over
/// `/proc/*/maps`; and how many processes' maps could not be read (permission denied).
pub(crate) fn pids_mapping(os_names: &[String]) -> io::Result<(Vec<Vec<u32>>, usize)> {
    use std::io::BufRead;
    let paths: Vec<Vec<u8>> = os_names
        .iter()
        .map(|n| {
            let mut p = b" ".to_vec();
            p.extend_from_slice(object_path(n).to_string_lossy().as_bytes());
            p
        })
        .collect();
    let mut pids = vec![Vec::new(); os_names.len()];
    let mut unreadable = 0;
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let file = match std::fs::File::open(entry.path().join("maps")) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                unreadable += 1;
                continue;
            }
            // Gone since the directory was read: it maps nothing any more.
            Err(_) => continue,
        };
        for line in io::BufReader::new(file).split(b'\n') {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    // Another user's process (the check happens on read), or gone.
                    if e.kind() == io::ErrorKind::PermissionDenied {
                        unreadable += 1;
                    }
                    break;
                }
            };
            // The path is the last field and ends the line (" (deleted)" once unlinked).
            for (i, path) in paths.iter().enumerate() {
                if line.ends_with(path) && pids[i].last() != Some(&pid) {
                    pids[i].push(pid);
                }
            }
        }
    }
    Ok((pids, unreadable))
}

/// Whether `pid` is a running process: it exists and is not a zombie (a zombie has
/// released its memory, mappings and robust locks; only its exit status is left).
pub(crate) fn pid_running(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/stat")) {
        // The state letter follows the last ')' (the command name may contain one).
        Ok(stat) => match stat.iter().rposition(|&b| b == b')') {
            Some(i) => !matches!(stat.get(i + 2), Some(b'Z') | Some(b'X') | Some(b'x')),
            None => true,
        },
        Err(_) => true,
    }
}

#[cfg(all(test, not(loom)))]
/// Waits (at most 10 s) for a child forked by a test and returns its wait status;
/// a child still running then is killed, reaped, and the test fails with `what`.
pub(crate) fn reap_test_child(pid: libc::pid_t, what: &str) -> libc::c_int {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, non-blocking, into a local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return status;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: our own child; kill and reap it so nothing is left behind.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("{what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A forked child that inherited the registration "in progress" (another thread of
    /// the parent was inside it at the fork) must neither block nor cache a pid.
    #[test]
    fn a_child_that_inherited_a_busy_registration_does_not_block() {
        // SAFETY: the child only touches atomics, makes system calls and `_exit`s; it
        // never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            AT_FORK.store(AT_FORK_BUSY, Ordering::Relaxed);
            PID.store(0, Ordering::Relaxed);
            let ok = cached_pid() == current_pid()
                && PID.load(Ordering::Relaxed) == 0
                && cached_tid() == current_pid();
            // SAFETY: ends the child at once, without running the parent's atexit
            // handlers or destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let status = reap_test_child(pid, "the child blocked in cached_pid");
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn the_registration_ran_before_main() {
        assert_eq!(AT_FORK.load(Ordering::Acquire), AT_FORK_DONE);
        assert_ne!(expected_kind(), 0);
    }
}
