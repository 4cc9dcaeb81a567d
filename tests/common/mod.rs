//! Helpers shared by the integration tests: unique segment names, and real child
//! processes made by re-running the current test binary on one test in "child mode".
//!
//! A multi-process test looks like this:
//! ```ignore
//! #[test]
//! fn counter_across_processes() {
//!     if let Some(child) = common::child_role() {
//!         // child side: child.role, child.arg(0), ...; exit by returning
//!         return;
//!     }
//!     let name = common::unique_name("counter");
//!     let kid = common::spawn_child("counter_across_processes", "adder", &[&name]);
//!     common::wait_ok(kid, Duration::from_secs(30));
//! }
//! ```
#![allow(dead_code)]

pub mod exactly_once;

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ROLE_ENV: &str = "SHMKIT_TEST_CHILD_ROLE";
const ARGS_ENV: &str = "SHMKIT_TEST_CHILD_ARGS";

/// A segment name unique to this process and call: `<tag>-<pid>-<n>`.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a child process was asked to do.
pub struct ChildRole {
    pub role: String,
    pub args: Vec<String>,
}

impl ChildRole {
    pub fn arg(&self, i: usize) -> &str {
        &self.args[i]
    }
    pub fn arg_parse<T: std::str::FromStr>(&self, i: usize) -> T
    where
        T::Err: std::fmt::Debug,
    {
        self.args[i].parse().expect("child argument parses")
    }
}

/// `Some` when this process is a child started by [`spawn_child`].
pub fn child_role() -> Option<ChildRole> {
    let role = std::env::var(ROLE_ENV).ok()?;
    let args = std::env::var(ARGS_ENV)
        .map(|a| {
            if a.is_empty() {
                vec![]
            } else {
                a.split('\u{1f}').map(str::to_string).collect()
            }
        })
        .unwrap_or_default();
    Some(ChildRole { role, args })
}

/// The command that re-runs this test binary on `test` in child mode as `role`.
pub fn child_command(test: &str, role: &str, args: &[&str]) -> Command {
    let exe = std::env::current_exe().expect("current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE_ENV, role)
        .env(ARGS_ENV, args.join("\u{1f}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Starts a child running `test` as `role` with `args`.
pub fn spawn_child(test: &str, role: &str, args: &[&str]) -> Child {
    child_command(test, role, args)
        .spawn()
        .expect("spawn child test process")
}

/// Waits for `child` at most `limit`; kills it and panics if it takes longer.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not finish within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for `child` and asserts it exited with status 0.
pub fn wait_ok(mut child: Child, limit: Duration) {
    let status = wait_timeout(&mut child, limit);
    assert!(status.success(), "child failed: {status}");
}

/// SIGKILLs `child` and reaps it.
pub fn kill9(child: &mut Child) {
    child.kill().expect("SIGKILL child");
    child.wait().expect("reap child");
}

/// Polls `cond` every millisecond until it holds; panics after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Writes `bytes` at offset `at` of the segment `name`'s file, as a hostile process
/// could (the hostile-input tests).
pub fn scribble(name: &str, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/shmkit.{name}"))
        .unwrap();
    f.write_all_at(bytes, at).unwrap();
}

/// Entries in /dev/shm made by this test process (names containing `-<pid>-`).
pub fn leftovers() -> Vec<String> {
    let tag = format!("-{}-", std::process::id());
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("shmkit.") && n.contains(&tag))
                .collect()
        })
        .unwrap_or_default()
}

/// 64 KiB: the smallest element of a pooled queue (docs/FORMAT.md); tests/c/interop.c
/// has the same `struct frame`.
#[shmkit::shareable(name = "pool-frame")]
#[derive(Clone, Copy)]
#[repr(C)]
pub struct PoolFrame {
    pub seq: u64,
    pub bytes: [u8; 65528],
}

/// The byte every byte of frame `seq` holds in the pooled-queue tests.
pub fn frame_pattern(seq: u64) -> u8 {
    (seq.wrapping_mul(31) % 251) as u8
}
