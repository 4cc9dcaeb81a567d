//! Process-wide bookkeeping: this process's name, the children it started (for
//! `active_children` and for stopping daemon children at exit).
//!
//! Every piece of state here is reached through an `AtomicPtr` to a leaked value, so a
//! forked child can replace it with a fresh one: a lock that another thread of the
//! parent held at the instant of the fork would otherwise stay locked in the child.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use crate::sys;

/// A child started by this process and not reaped yet.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub pid: u32,
    pub name: String,
    pub daemon: bool,
    /// Its `Process` handle was dropped while it ran.
    pub detached: bool,
}

type Children = Mutex<Vec<Record>>;

static CHILDREN: AtomicPtr<Children> = AtomicPtr::new(std::ptr::null_mut());
/// This process's name; null means `MainProcess`.
static NAME: AtomicPtr<String> = AtomicPtr::new(std::ptr::null_mut());
/// How many children this process has named so far.
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn children() -> MutexGuard<'static, Vec<Record>> {
    let mut p = CHILDREN.load(Ordering::Acquire);
    if p.is_null() {
        let fresh = Box::into_raw(Box::new(Children::default()));
        match CHILDREN.compare_exchange(p, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => p = fresh,
            Err(other) => {
                // SAFETY: `fresh` came from Box::into_raw just above and was not published.
                drop(unsafe { Box::from_raw(fresh) });
                p = other;
            }
        }
    }
    // SAFETY: every non-null value of CHILDREN comes from Box::into_raw and is never
    // freed (a forked child swaps in a new one and leaks the old), so it is valid for
    // 'static.
    let m: &'static Children = unsafe { &*p };
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's name: `MainProcess`, or the name it was started under.
pub(crate) fn current_name() -> String {
    let p = NAME.load(Ordering::Acquire);
    if p.is_null() {
        "MainProcess".to_string()
    } else {
        // SAFETY: non-null values of NAME come from Box::into_raw in `enter_child` and
        // are never freed.
        unsafe { (*p).clone() }
    }
}

/// The default name of the next child: `Process-N` in the main process, `<name>:N` in a
/// child (Python names grandchildren the same way).
pub(crate) fn next_child_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    if NAME.load(Ordering::Acquire).is_null() {
        format!("Process-{n}")
    } else {
        format!("{}:{n}", current_name())
    }
}

/// In a new child (forked or spawned): it has no children yet, a name of its own, and
/// counts its own children from 1. Leaks the parent's copies (they may be locked).
pub(crate) fn enter_child(name: String) {
    CHILDREN.store(
        Box::into_raw(Box::new(Children::default())),
        Ordering::Release,
    );
    NAME.store(Box::into_raw(Box::new(name)), Ordering::Release);
    COUNTER.store(0, Ordering::Relaxed);
}

pub(crate) fn add(pid: u32, name: &str, daemon: bool) {
    if daemon {
        static AT_EXIT: Once = Once::new();
        AT_EXIT.call_once(|| {
            sys::at_exit(stop_daemons_at_exit);
        });
    }
    children().push(Record {
        pid,
        name: name.to_string(),
        daemon,
        detached: false,
    });
}

pub(crate) fn forget(pid: u32) {
    children().retain(|r| r.pid != pid);
}

pub(crate) fn detach(pid: u32) {
    if let Some(r) = children().iter_mut().find(|r| r.pid == pid) {
        r.detached = true;
    }
}

/// The children that are still running; detached ones that have ended are reaped.
pub(crate) fn running() -> Vec<Record> {
    let snapshot: Vec<Record> = children().clone();
    let mut alive = Vec::new();
    for r in snapshot {
        if !sys::child_exited(r.pid) {
            alive.push(r);
        } else if r.detached {
            let _ = sys::waitpid(r.pid, false);
            forget(r.pid);
        }
    }
    alive
}

/// At a normal exit (`exit` or the end of `main`), as Python does: SIGTERM every daemon
/// child, wait for them (at most a second in all), SIGKILL the ones still running.
extern "C" fn stop_daemons_at_exit() {
    let p = CHILDREN.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: as in `children`: non-null values are leaked boxes, valid for 'static.
    let m: &'static Children = unsafe { &*p };
    // Another thread may hold the lock while the process exits: never wait for it.
    let Ok(list) = m.try_lock() else { return };
    let daemons: Vec<u32> = list.iter().filter(|r| r.daemon).map(|r| r.pid).collect();
    drop(list);
    for &pid in &daemons {
        let _ = sys::send_signal(pid, sys::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    for &pid in &daemons {
        while !sys::child_exited(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if !sys::child_exited(pid) {
            let _ = sys::send_signal(pid, sys::SIGKILL);
        }
        let _ = sys::waitpid(pid, true);
    }
}
