//! Targets other than Linux: everything reports `Unsupported`.
#![allow(dead_code)]

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::LockOutcome;

pub(crate) const SYNC_ABI: u32 = 0;

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "shmkit supports Linux only for now",
    ))
}

pub(crate) fn shm_create(_os_name: &str, _mode: u32) -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn shm_open(_os_name: &str, _writable: bool) -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn shm_unlink(_os_name: &str) -> io::Result<()> {
    unsupported()
}
pub(crate) fn anonymous_fd() -> io::Result<OwnedFd> {
    unsupported()
}
pub(crate) fn set_len(_fd: impl std::os::fd::AsFd, _len: u64) -> io::Result<()> {
    unsupported()
}
pub(crate) fn file_len_mode(_fd: impl std::os::fd::AsFd) -> io::Result<(u64, u32)> {
    unsupported()
}
pub(crate) fn current_pid() -> u32 {
    std::process::id()
}
pub(crate) fn kill_self() -> ! {
    std::process::abort()
}
pub(crate) fn cached_pid() -> u32 {
    std::process::id()
}
pub(crate) fn cached_tid() -> u32 {
    0
}
pub(crate) fn tid_to_pid(_tid: u32) -> Option<u32> {
    None
}
pub(crate) fn pid_alive(_pid: u32) -> bool {
    false
}
pub(crate) fn unix_time_ns() -> u64 {
    0
}
pub(crate) fn futex_wait(_word: &AtomicU32, _expected: u32, timeout: Option<Duration>) {
    std::thread::sleep(timeout.unwrap_or(Duration::from_millis(1)));
}
pub(crate) fn futex_wake(_word: &AtomicU32, _n: u32) -> usize {
    0
}
pub(crate) fn membarrier_register() -> bool {
    false
}
pub(crate) fn membarrier_global() -> bool {
    false
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_init(_m: *mut u8) -> io::Result<()> {
    unsupported()
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_lock(_m: *mut u8, _timeout: Option<Duration>) -> LockOutcome {
    LockOutcome::Failed(0)
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_try_lock(_m: *mut u8) -> LockOutcome {
    LockOutcome::Failed(0)
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_consistent(_m: *mut u8) -> io::Result<()> {
    unsupported()
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_unlock(_m: *mut u8) -> io::Result<()> {
    unsupported()
}
/// # Safety
/// Never touches `m`.
pub(crate) unsafe fn mutex_type_intact(_m: *mut u8) -> bool {
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectStat {
    pub len: u64,
    pub mode: u32,
    pub uid: u32,
    pub modified_unix_ns: u64,
    pub regular_file: bool,
}
pub(crate) fn object_path(os_name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(os_name)
}
pub(crate) fn open_read_only(_os_name: &str) -> io::Result<std::fs::File> {
    unsupported()
}
pub(crate) fn object_stat(_file: &std::fs::File) -> io::Result<ObjectStat> {
    unsupported()
}
pub(crate) fn read_at(_file: &std::fs::File, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> {
    unsupported()
}
pub(crate) fn list_objects(_prefix: &str) -> io::Result<Vec<Vec<u8>>> {
    unsupported()
}
pub(crate) fn pids_mapping(_os_names: &[String]) -> io::Result<(Vec<Vec<u32>>, usize)> {
    unsupported()
}
pub(crate) fn pid_running(_pid: u32) -> bool {
    false
}
