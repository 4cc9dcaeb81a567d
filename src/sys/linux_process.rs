//! Linux: fork, wait, signals, parent-death signal, pidfd, CPU affinity (for `process`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// SIGTERM, as a positive signal number.
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
/// SIGKILL, as a positive signal number.
pub(crate) const SIGKILL: i32 = libc::SIGKILL;

/// What `fork` returned to this process.
pub(crate) enum Forked {
    /// This is the child.
    Child,
    /// This is the parent; the child has this pid.
    Parent(u32),
}

/// `fork()` through the C library, so its `pthread_atfork` handlers run (glibc resets its
/// malloc locks in the child; shmkit forgets its cached pid).
///
/// # Safety
/// - In the child, only the calling thread exists. Locks held by other threads of the
///   parent stay locked forever in the child; the caller must only run code in the child
///   that does not wait for such locks, and must end the child with [`exit_now`] or
///   `std::process::exit` rather than returning into the parent's callers.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller takes on fork's obligations for the child (see `# Safety`).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// `_exit(code)`: ends the process at once, without running `atexit` handlers or
/// flushing C stdio (the caller flushes Rust's stdout first).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe, takes no pointers and never returns.
    unsafe { libc::_exit(code) }
}

/// Python's exit code of a wait status: the exit status, or minus the signal number.
fn exitcode(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        // Stopped or continued: not reported without WUNTRACED/WCONTINUED.
        i32::MIN
    }
}

/// Reaps child `pid`: waits for it when `block`, else only looks. `Ok(None)` while it
/// runs; `Ok(Some(code))` once reaped (Python's exit code convention).
pub(crate) fn waitpid(pid: u32, block: bool) -> io::Result<Option<i32>> {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a local the kernel writes one int into.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, flags) };
        match rc {
            0 => return Ok(None),
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            _ => return Ok(Some(exitcode(status))),
        }
    }
}

/// Whether child `pid` has ended (it is a zombie), without reaping it.
pub(crate) fn child_exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value (plain integers and a union of them).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a local the kernel writes into; no other pointer is passed.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: after a successful waitid the kernel filled `si_pid` (0 when nothing ended).
    rc == -1 || unsafe { info.si_pid() } != 0
}

/// `pidfd_open(pid)`: a descriptor that becomes readable when the process ends.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: the syscall takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits at most `timeout` (forever when `None`) for `fd` to become readable.
pub(crate) fn poll_readable(fd: &OwnedFd, timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        // Round up, so a short timeout does not become a busy loop.
        Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
    };
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd on our stack; the count says 1.
    let rc = unsafe { libc::poll(&mut p, 1, ms) };
    match rc {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Sends `sig` to process `pid`.
pub(crate) fn send_signal(pid: u32, sig: i32) -> io::Result<()> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill takes two integers; `pid` is positive, so it names one process.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The parent's pid.
pub(crate) fn parent_pid() -> u32 {
    // SAFETY: getppid takes nothing and cannot fail.
    unsafe { libc::getppid() as u32 }
}

/// In a just-forked child: asks for SIGKILL when the parent dies, then checks that the
/// parent is still `parent` (it may have died before the request, in which case the
/// child was already re-parented and the signal would never come). Async-signal-safe.
/// Returns false when the parent is gone: the caller must exit.
pub(crate) fn die_with_parent(parent: u32) -> bool {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only; getppid cannot fail.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) == 0
            && libc::getppid() as u32 == parent
    }
}

/// In a just-forked child: unblocks every signal (the forking thread may have blocked
/// some) so SIGTERM and SIGINT work as in a fresh process. Async-signal-safe.
pub(crate) fn unblock_all_signals() {
    // SAFETY: `set` is a local sigset initialized by sigemptyset before use.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
    }
}

/// A pipe; both ends close on exec. The read end is non-blocking.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just created both descriptors; we own them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_fd_flag(
        r.as_raw_fd(),
        libc::F_GETFL,
        libc::F_SETFL,
        libc::O_NONBLOCK,
        true,
    )?;
    Ok((r, w))
}

fn set_fd_flag(fd: RawFd, get: i32, set: i32, flag: i32, on: bool) -> io::Result<()> {
    // SAFETY: fcntl get/set of descriptor or status flags takes integers only; an invalid
    // descriptor gives EBADF.
    unsafe {
        let old = libc::fcntl(fd, get);
        if old == -1 {
            return Err(io::Error::last_os_error());
        }
        let new = if on { old | flag } else { old & !flag };
        if new != old && libc::fcntl(fd, set, new) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Lets `fd` survive `exec` (clears FD_CLOEXEC). Async-signal-safe.
pub(crate) fn keep_on_exec(fd: RawFd) -> io::Result<()> {
    set_fd_flag(fd, libc::F_GETFD, libc::F_SETFD, libc::FD_CLOEXEC, false)
}

/// Closes `fd` on `exec` (sets FD_CLOEXEC).
pub(crate) fn close_on_exec(fd: RawFd) -> io::Result<()> {
    set_fd_flag(fd, libc::F_GETFD, libc::F_SETFD, libc::FD_CLOEXEC, true)
}

/// Takes ownership of a descriptor number passed by a parent.
///
/// # Safety
/// - `fd` is an open descriptor that nothing else in this process owns or will close.
pub(crate) unsafe fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller guarantees sole ownership of an open descriptor.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Whether `fd` is an open descriptor.
pub(crate) fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD takes integers only; an invalid descriptor gives EBADF.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
}

/// How many CPUs this process may run on (its affinity mask), like Python's
/// `os.process_cpu_count()`.
pub(crate) fn cpu_count() -> Option<usize> {
    // Start with the fixed-size set and grow it for machines with more CPUs.
    let mut words = std::mem::size_of::<libc::cpu_set_t>() / 8;
    for _ in 0..8 {
        let mut mask = vec![0u64; words];
        // SAFETY: `mask` is `words * 8` writable bytes; the kernel writes at most that.
        let rc = unsafe {
            libc::sched_getaffinity(0, words * 8, mask.as_mut_ptr().cast::<libc::cpu_set_t>())
        };
        if rc == 0 {
            let n: u32 = mask.iter().map(|w| w.count_ones()).sum();
            return (n > 0).then_some(n as usize);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return None;
        }
        words *= 2;
    }
    None
}

/// Registers `f` to run when the process exits normally (`exit`, or returning from
/// `main`), like C's `atexit`.
pub(crate) fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: `f` is a plain function with no captured state, valid for the program's life.
    unsafe { libc::atexit(f) == 0 }
}

/// Asks glibc's malloc to keep up to 64 MiB of freed memory instead of returning it to
/// the OS at once (for pool workers, which allocate and free similar buffers for every
/// chunk). Does nothing with other C libraries.
pub(crate) fn keep_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt takes two integers and only changes malloc's tuning parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// How many threads this process has (`num_threads` in `/proc/self/stat`, which is
/// much cheaper to produce than `/proc/self/status`).
pub(crate) fn thread_count() -> Option<usize> {
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open("/proc/self/stat")
        .and_then(|mut f| std::io::Read::read(&mut f, &mut buf))
        .ok()?;
    let stat = buf.get(..n)?;
    // Fields after the command name (which may contain ')'): state is the 1st,
    // num_threads the 18th.
    let after = stat.iter().rposition(|&b| b == b')')? + 1;
    let field = stat[after..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .nth(17)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Writes `msg` to standard error with one `write` call, without Rust's stderr lock
/// (usable in a forked child whatever the parent's threads held).
pub(crate) fn write_stderr(msg: &[u8]) {
    // SAFETY: `msg` is a valid slice for its length; fd 2 may be closed (EBADF, ignored).
    let _ = unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn thread_count_matches_proc_status() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let want: usize = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(want >= 2);
        assert_eq!(super::thread_count(), Some(want));
        drop(tx);
        let _ = t.join();
    }
}
