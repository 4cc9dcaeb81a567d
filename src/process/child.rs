//! `Process`: start a child (fork or spawn), join, signal, exit codes.

use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::task::{Task, TaskEntry, lookup, panic_message, registered_names};
use super::{Run, StartMethod, registry};
use crate::error::{Error, Result};
use crate::sys;

/// The argument that marks a spawned child: `<exe> --shmkit-spawned-child <payload fd>
/// <report fd>`. A binary that never looks for it (no `task!` in it and no
/// `process::init()`) rejects it as an unknown option instead of running its `main`
/// normally, and the libtest harness does the same.
pub(crate) const SPAWN_FLAG: &str = "--shmkit-spawned-child";

/// The largest panic message a child reports (longer ones are cut).
const MAX_REPORT: usize = 4096;
/// How long `join` polls a running child before it sleeps until the child ends.
const JOIN_SPIN: Duration = Duration::from_micros(100);

/// What a spawned child is told (postcard, in a memfd whose descriptor it inherits).
#[derive(Serialize, Deserialize)]
pub(crate) struct SpawnPayload {
    pub target: String,
    pub builtin: bool,
    pub name: String,
    pub arg: Vec<u8>,
}

/// What to run in the child.
struct Target<'a> {
    /// The code a forked child runs.
    fork: Box<dyn FnOnce() + 'a>,
    /// What a spawned child runs: a registered task (or a builtin) and its encoded
    /// argument; `None` for a closure, which only fork can run.
    spawn: Option<(String, bool, Result<Vec<u8>, String>)>,
}

/// A child process not started yet: made by [`Process::new`], [`Process::task`] or
/// [`Process::from_run`]; [`start`](Self::start) starts it and returns its
/// [`Process`] handle.
#[must_use = "a ProcessBuilder does nothing until start() is called"]
pub struct ProcessBuilder<'a> {
    target: Target<'a>,
    name: Option<String>,
    daemon: bool,
    method: Option<StartMethod>,
}

impl std::fmt::Debug for ProcessBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessBuilder")
            .field("name", &self.name)
            .field("daemon", &self.daemon)
            .field("method", &self.method)
            .field("task", &self.target.spawn.as_ref().map(|s| &s.0))
            .finish()
    }
}

impl<'a> ProcessBuilder<'a> {
    /// Names the child (default `Process-N`, or `<parent name>:N` in a child).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes the child a daemon: it is killed when this process exits, even by
    /// SIGKILL (see [the module docs](super#daemon-children)).
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// Chooses the start method for this child (default: [`super::get_start_method`]).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Starts the child. Like Python's `start`, this does not wait for the child to do
    /// anything: it returns as soon as the child exists.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a closure is started with
    /// [`StartMethod::Spawn`] or the task's argument cannot be encoded;
    /// [`Error::Io`] when the OS refuses to create the process;
    /// [`Error::Unsupported`] off Linux.
    pub fn start(self) -> Result<Process> {
        let method = self.method.unwrap_or_else(super::get_start_method);
        let name = self.name.unwrap_or_else(registry::next_child_name);
        match method {
            StartMethod::Fork => start_fork(self.target.fork, name, self.daemon),
            StartMethod::Spawn => {
                let Some((target, builtin, arg)) = self.target.spawn else {
                    return Err(Error::InvalidArgument(
                        "a closure can only be started with StartMethod::Fork; \
                         make the target a `shmkit::task!(function)` to spawn it"
                            .into(),
                    ));
                };
                let arg = arg.map_err(Error::InvalidArgument)?;
                let payload = SpawnPayload {
                    target,
                    builtin,
                    name,
                    arg,
                };
                start_spawn(payload, self.daemon)
            }
        }
    }
}

/// A started child process: Python's `multiprocessing.Process` after `start()`.
///
/// Dropping a `Process` never kills the child: a child that has ended is reaped at
/// once, a running one is handed to a small reaper thread that waits for it, so no
/// zombie is left behind (Python also lets a child outlive its `Process` object).
/// Daemon children still die with this process.
#[derive(Debug)]
pub struct Process {
    pid: u32,
    name: String,
    daemon: bool,
    method: StartMethod,
    pidfd: Option<OwnedFd>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    exitcode: Option<i32>,
    report: Option<OwnedFd>,
    panic: Option<String>,
}

impl Process {
    /// A child that runs `f`. Only [`StartMethod::Fork`] can run a closure: the child is
    /// a copy of this process, so `f` may borrow anything here (segments, queues, plain
    /// data); what it changes stays in the child unless it lives in shared memory.
    ///
    /// ```
    /// let data = vec![1, 2, 3];
    /// let p = shmkit::Process::new(|| {
    ///     assert_eq!(data.len(), 3); // the child's copy
    ///     std::process::exit(3);
    /// })
    /// .start()?;
    /// assert_eq!(p.join()?, 3);
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    #[allow(clippy::new_ret_no_self)] // Python's `Process(target=f)`; start() makes the handle
    pub fn new<'a>(f: impl FnOnce() + 'a) -> ProcessBuilder<'a> {
        ProcessBuilder {
            target: Target {
                fork: Box::new(f),
                spawn: None,
            },
            name: None,
            daemon: false,
            method: None,
        }
    }

    /// A child that runs the registered function `task` on `arg`, with either start
    /// method (spawn sends `arg` serialized with postcard).
    ///
    /// ```
    /// use shmkit::process::{Process, StartMethod};
    ///
    /// fn greet(who: String) {
    ///     println!("hello, {who}");
    /// }
    /// # shmkit::process::init();
    /// let p = Process::task(shmkit::task!(greet), "world".to_string())
    ///     .start_method(StartMethod::Spawn)
    ///     .start()?;
    /// assert_eq!(p.join()?, 0);
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    pub fn task<'a, A, R>(task: Task<A, R>, arg: A) -> ProcessBuilder<'a>
    where
        A: Serialize + 'a,
        R: 'a,
    {
        let encoded = postcard::to_allocvec(&arg)
            .map_err(|e| format!("cannot encode the argument of `{}`: {e}", task.name()));
        ProcessBuilder {
            target: Target {
                fork: Box::new(move || drop(task.call(arg))),
                spawn: Some((task.name().to_string(), false, encoded)),
            },
            name: None,
            daemon: false,
            method: None,
        }
    }

    /// A child that calls `worker.run()`: the "subclass `Process` and override `run`"
    /// form. With fork any [`Run`] type works; to spawn it, make the type a serde type
    /// and use `Process::task(shmkit::task!(shmkit::process::run_worker::<W>), worker)`.
    pub fn from_run<'a, W: Run + 'a>(mut worker: W) -> ProcessBuilder<'a> {
        Process::new(move || worker.run())
    }

    /// A builtin target of shmkit itself (a pool worker), runnable with both methods.
    pub(crate) fn builtin<'a>(
        name: &'static str,
        arg: Vec<u8>,
        fork: impl FnOnce() + 'a,
    ) -> ProcessBuilder<'a> {
        ProcessBuilder {
            target: Target {
                fork: Box::new(fork),
                spawn: Some((name.to_string(), true, Ok(arg))),
            },
            name: None,
            daemon: false,
            method: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the child is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }

    /// How the child was started.
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// Whether the child is still running (it is reaped if it has ended).
    pub fn is_alive(&self) -> bool {
        self.exitcode().is_none()
    }

    /// The exit code: `None` while the child runs, `Some(0)` after a normal end,
    /// `Some(n)` after `exit(n)`, `Some(1)` after a panic, `Some(-sig)` when a signal
    /// killed it (`-15` for [`terminate`](Self::terminate), `-9` for
    /// [`kill`](Self::kill)), as in Python. Reaps the child when it has ended.
    pub fn exitcode(&self) -> Option<i32> {
        self.poll().ok().flatten()
    }

    /// The panic message of a child that panicked (or could not run its task: an
    /// unknown task name, an argument that does not decode), once it has been reaped.
    pub fn panic_message(&self) -> Option<String> {
        let _ = self.poll();
        self.state.lock().ok()?.panic.clone()
    }

    /// Waits for the child to end and returns its exit code (see
    /// [`exitcode`](Self::exitcode)).
    ///
    /// # Errors
    /// [`Error::Io`] when the OS wait fails.
    pub fn join(&self) -> Result<i32> {
        loop {
            if let Some(code) = self.join_timeout(Duration::from_secs(3600))? {
                return Ok(code);
            }
        }
    }

    /// Waits at most `timeout` for the child to end: `Some(exit code)` if it has,
    /// `None` if it is still running (as Python's `join(timeout)` followed by
    /// `exitcode`).
    ///
    /// # Errors
    /// [`Error::Io`] when the OS wait fails.
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<i32>> {
        let start = Instant::now();
        let deadline = start + timeout;
        // A child that ends within microseconds is caught by polling for a moment:
        // sleeping and being woken costs this VM ~25 µs per idle vCPU wake-up. Each poll
        // is a system call that gives the CPU up (sched_yield) in between, so a child
        // that shares this CPU still runs.
        let spin_until = start + JOIN_SPIN.min(timeout);
        loop {
            if let Some(code) = self.poll()? {
                return Ok(Some(code));
            }
            if Instant::now() < spin_until {
                std::thread::yield_now();
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match &self.pidfd {
                Some(fd) => {
                    sys::poll_readable(fd, Some(left))
                        .map_err(|e| Error::io(format!("wait for process {}", self.pid), e))?;
                }
                // No pidfd (a kernel older than 5.3): poll the exit status.
                None => std::thread::sleep(left.min(Duration::from_millis(1))),
            }
        }
    }

    /// Sends SIGTERM (Python's `terminate`). The child may still be alive right after;
    /// [`join`](Self::join) then gives exit code `-15` unless it handles the signal.
    /// Does nothing once the child has been reaped.
    ///
    /// # Errors
    /// [`Error::Io`] when the signal cannot be sent.
    pub fn terminate(&self) -> Result<()> {
        self.signal(sys::SIGTERM)
    }

    /// Sends SIGKILL (Python's `kill`): [`join`](Self::join) then gives `-9`.
    ///
    /// # Errors
    /// [`Error::Io`] when the signal cannot be sent.
    pub fn kill(&self) -> Result<()> {
        self.signal(sys::SIGKILL)
    }

    fn signal(&self, sig: i32) -> Result<()> {
        let st = self.lock_state();
        // Once reaped, the pid may belong to another process: never signal it.
        if st.exitcode.is_some() {
            return Ok(());
        }
        match sys::send_signal(self.pid, sig) {
            Ok(()) => Ok(()),
            // Ended and reaped by someone else (a waitpid(-1) elsewhere): nothing to do.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            Err(e) => Err(Error::io(format!("signal process {}", self.pid), e)),
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reaps the child if it has ended (without waiting).
    fn poll(&self) -> Result<Option<i32>> {
        let mut st = self.lock_state();
        if let Some(code) = st.exitcode {
            return Ok(Some(code));
        }
        match sys::waitpid(self.pid, false) {
            Ok(None) => Ok(None),
            Ok(Some(code)) => {
                finish(&mut st, self.pid, code);
                Ok(Some(code))
            }
            // Someone else reaped it: its status is lost; report the usual "killed".
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                finish(&mut st, self.pid, -sys::SIGKILL);
                Ok(st.exitcode)
            }
            Err(e) => Err(Error::io(format!("wait for process {}", self.pid), e)),
        }
    }
}

/// Records the exit code and reads the child's report.
fn finish(st: &mut State, pid: u32, code: i32) {
    st.exitcode = Some(code);
    registry::forget(pid);
    if let Some(fd) = st.report.take() {
        let mut buf = Vec::new();
        let _ = std::fs::File::from(fd)
            .take(MAX_REPORT as u64)
            .read_to_end(&mut buf);
        if !buf.is_empty() {
            st.panic = Some(String::from_utf8_lossy(&buf).into_owned());
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.poll().ok().flatten().is_some() {
            return;
        }
        // Still running: leave it running and reap it when it ends.
        let pid = self.pid;
        registry::detach(pid);
        let reaper = std::thread::Builder::new()
            .name(format!("shmkit-reap-{pid}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = sys::waitpid(pid, true);
                registry::forget(pid);
            });
        // Without a thread, `active_children()` and exit reap it instead.
        drop(reaper);
    }
}

/// Flushes Rust's stdout and stderr, so buffered text is not written twice (by the
/// parent and by a forked child's copy of the buffer).
fn flush_std() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// False in a child forked from a multi-threaded parent: a process-wide lock of std
/// (stdout's, the panic hook's) may have been held by another thread at the fork and
/// would then never be released in the child.
static GLOBALS_USABLE: AtomicBool = AtomicBool::new(true);

/// Whether this process may take std's process-wide locks without risking a deadlock
/// (see [`GLOBALS_USABLE`]).
pub(crate) fn globals_usable() -> bool {
    GLOBALS_USABLE.load(Ordering::Relaxed)
}

fn start_fork(f: Box<dyn FnOnce() + '_>, name: String, daemon: bool) -> Result<Process> {
    flush_std();
    // With one thread, nobody else can hold a lock at the fork (nor start a thread
    // before it).
    let single_threaded = sys::thread_count() == Some(1);
    let (report_r, report_w) = sys::pipe().map_err(|e| Error::io("create a report pipe", e))?;
    let parent = sys::current_pid();
    // SAFETY:
    // - fork's obligation is that the child only runs code that does not depend on
    //   threads it does not have. The child runs `child_main`, which calls the user's
    //   closure (the module docs spell out the hazards of forking a multi-threaded
    //   process: locks held by other threads stay held) and then ends with `_exit`,
    //   never returning into our callers' frames.
    // - glibc's atfork handlers reset malloc's locks in the child, so allocating is fine.
    match unsafe { sys::fork() } {
        Err(e) => Err(Error::io("fork", e)),
        Ok(sys::Forked::Child) => {
            drop(report_r);
            if daemon && !sys::die_with_parent(parent) {
                sys::exit_now(1);
            }
            sys::unblock_all_signals();
            GLOBALS_USABLE.store(single_threaded, Ordering::Relaxed);
            registry::enter_child(name);
            let code = run_guarded(
                || {
                    f();
                    Ok(())
                },
                &report_w,
            );
            // Flushing takes stdout's lock: only safe if no other thread could hold it.
            if single_threaded {
                flush_std();
            }
            sys::exit_now(code)
        }
        Ok(sys::Forked::Parent(pid)) => {
            drop(f);
            drop(report_w);
            Ok(started(pid, name, daemon, StartMethod::Fork, report_r))
        }
    }
}

fn started(pid: u32, name: String, daemon: bool, method: StartMethod, report: OwnedFd) -> Process {
    registry::add(pid, &name, daemon);
    Process {
        pid,
        name,
        daemon,
        method,
        pidfd: sys::pidfd_open(pid).ok(),
        state: Mutex::new(State {
            exitcode: None,
            report: Some(report),
            panic: None,
        }),
    }
}

fn start_spawn(payload: SpawnPayload, daemon: bool) -> Result<Process> {
    let bytes = postcard::to_allocvec(&payload)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode the spawn payload: {e}")))?;
    let memfd = sys::anonymous_fd().map_err(|e| Error::io("create the spawn payload", e))?;
    let mut file = std::fs::File::from(memfd);
    file.write_all(&bytes)
        .and_then(|_| file.rewind())
        .map_err(|e| Error::io("write the spawn payload", e))?;
    let (report_r, report_w) = sys::pipe().map_err(|e| Error::io("create a report pipe", e))?;
    let (payload_fd, report_fd) = (file.as_raw_fd(), report_w.as_raw_fd());
    let parent = sys::current_pid();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    if let Some(argv0) = std::env::args_os().next() {
        cmd.arg0(argv0);
    }
    cmd.arg(SPAWN_FLAG)
        .arg(payload_fd.to_string())
        .arg(report_fd.to_string());
    // SAFETY: the hook runs in the forked child before exec and only makes
    // async-signal-safe calls (fcntl, prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            sys::keep_on_exec(payload_fd)?;
            sys::keep_on_exec(report_fd)?;
            if daemon && !sys::die_with_parent(parent) {
                sys::exit_now(1);
            }
            Ok(())
        });
    }
    flush_std();
    let child = cmd
        .spawn()
        .map_err(|e| Error::io("spawn a child (re-executing this binary)", e))?;
    let pid = child.id();
    // std's `Child` neither waits nor kills on drop; we reap the pid ourselves.
    drop(child);
    drop(file);
    drop(report_w);
    Ok(started(
        pid,
        payload.name,
        daemon,
        StartMethod::Spawn,
        report_r,
    ))
}

/// Runs `f`, turning a panic (or an error) into exit code 1 and a report to the parent.
fn run_guarded(f: impl FnOnce() -> std::result::Result<(), String>, report: &OwnedFd) -> i32 {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return 0,
        Ok(Err(msg)) => msg,
        Err(payload) => panic_message(&*payload),
    };
    let mut msg = failure.into_bytes();
    msg.truncate(MAX_REPORT);
    // The pipe holds 64 KiB and nothing else is written to it: this never blocks.
    let _ = rustix::io::write(report, &msg);
    1
}

/// In a spawned child: runs the target named in the payload and exits. Never returns.
pub(crate) fn run_spawned(payload_fd: RawFd, report_fd: RawFd) -> ! {
    if !sys::fd_is_open(payload_fd) || !sys::fd_is_open(report_fd) || payload_fd == report_fd {
        eprintln!("shmkit: {SPAWN_FLAG} given without the descriptors a parent passes");
        std::process::exit(1);
    }
    // SAFETY: the parent passed these two open descriptors for this process alone; they
    // were checked to be open and distinct, and nothing else in this process uses them.
    let (payload, report) = unsafe { (sys::adopt_fd(payload_fd), sys::adopt_fd(report_fd)) };
    let _ = sys::close_on_exec(report.as_raw_fd());
    let mut bytes = Vec::new();
    let read = std::fs::File::from(payload).read_to_end(&mut bytes);
    let decoded = read
        .map_err(|e| e.to_string())
        .and_then(|_| postcard::from_bytes::<SpawnPayload>(&bytes).map_err(|e| e.to_string()));
    let p = match decoded {
        Ok(p) => p,
        Err(e) => {
            let code = run_guarded(
                || Err(format!("cannot read the spawn payload: {e}")),
                &report,
            );
            std::process::exit(code);
        }
    };
    registry::enter_child(p.name.clone());
    let code = run_guarded(
        || {
            if p.builtin {
                super::run_builtin(&p.target, &p.arg)
            } else {
                run_registered(&p.target, &p.arg)
            }
        },
        &report,
    );
    flush_std();
    std::process::exit(code)
}

fn run_registered(target: &str, arg: &[u8]) -> std::result::Result<(), String> {
    let entry: &TaskEntry = lookup(target).ok_or_else(|| {
        format!(
            "no task `{target}` is registered in this binary (registered: {:?})",
            registered_names()
        )
    })?;
    entry.call_one(arg)
}
