//! Targets other than Linux: processes report `Unsupported`.
#![allow(dead_code)]

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::time::Duration;

pub(crate) const SIGTERM: i32 = 15;
pub(crate) const SIGKILL: i32 = 9;

pub(crate) enum Forked {
    Child,
    Parent(u32),
}

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "shmkit processes support Linux only for now",
    ))
}

/// # Safety
/// Never forks.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    unsupported()
}
pub(crate) fn exit_now(code: i32) -> ! {
    std::process::exit(code)
}
pub(crate) fn waitpid(_pid: u32, _block: bool) -> io::Result<Option<i32>> {
    unsupported()
}
pub(crate) fn child_exited(_pid: u32) -> bool {
    true
}
pub(crate) fn pidfd_open(_pid: u32) -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn poll_readable(_fd: &OwnedFd, _timeout: Option<Duration>) -> io::Result<bool> {
    unsupported()
}
pub(crate) fn send_signal(_pid: u32, _sig: i32) -> io::Result<()> {
    unsupported()
}
pub(crate) fn parent_pid() -> u32 {
    0
}
pub(crate) fn die_with_parent(_parent: u32) -> bool {
    false
}
pub(crate) fn unblock_all_signals() {}
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    unsupported()
}
pub(crate) fn keep_on_exec(_fd: RawFd) -> io::Result<()> {
    unsupported()
}
pub(crate) fn close_on_exec(_fd: RawFd) -> io::Result<()> {
    unsupported()
}
/// # Safety
/// Never called: no parent passes descriptors on this target.
pub(crate) unsafe fn adopt_fd(_fd: RawFd) -> OwnedFd {
    unreachable!("no spawned children on this target")
}
pub(crate) fn fd_is_open(_fd: RawFd) -> bool {
    false
}
pub(crate) fn cpu_count() -> Option<usize> {
    std::thread::available_parallelism().ok().map(|n| n.get())
}
pub(crate) fn at_exit(_f: extern "C" fn()) -> bool {
    false
}
pub(crate) fn keep_freed_memory() {}
pub(crate) fn thread_count() -> Option<usize> {
    None
}
pub(crate) fn write_stderr(msg: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(msg);
}
