//! Processes and pools: Python's `multiprocessing.Process` and `Pool`.
//!
//! ```
//! use shmkit::process::Process;
//!
//! let counter = shmkit::Value::<u64>::anonymous(0)?; // shared with forked children
//! let p = Process::new(|| {
//!     counter.fetch_add(41);
//! })
//! .name("adder")
//! .start()?;
//! println!("started {} (pid {})", p.name(), p.pid());
//! assert_eq!(p.join()?, 0); // the exit code, as Python's `exitcode`
//! counter.fetch_add(1);
//! assert_eq!(counter.load()?, 42);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Start methods
//! As in Python, a child is started one of two ways ([`StartMethod`]), chosen per
//! process ([`ProcessBuilder::start_method`]) or as a default ([`set_start_method`]):
//!
//! - **fork** (the default on Linux, as in Python up to 3.13): the child is a copy of
//!   this process and runs a closure, which may borrow anything in the parent. Segments,
//!   values and queues created before the fork (named or
//!   [anonymous](crate::Segment::anonymous)) are shared with the child; everything else
//!   is the child's own copy.
//! - **spawn**: the child is a fresh run of this program's binary (`/proc/self/exe`),
//!   which runs a function registered with [`task!`](crate::task) on an argument sent
//!   to it serialized (postcard). Safe in a multi-threaded parent. The child opens named
//!   segments by name; anonymous ones are not inherited.
//!
//! # Spawn needs one line in `main`
//! A spawned child is the same binary started with a special argument. Call
//! [`init`] first thing in `main`, before anything else (in particular before
//! starting threads or parsing arguments): in a spawned child it runs the requested
//! function and exits; in the parent it returns at once.
//!
//! ```no_run
//! fn square(x: u64) {
//!     println!("{x} squared is {}", x * x);
//! }
//!
//! fn main() -> Result<(), shmkit::Error> {
//!     shmkit::process::init(); // a spawned child never returns from this
//!     let p = shmkit::Process::task(shmkit::task!(square), 7)
//!         .start_method(shmkit::process::StartMethod::Spawn)
//!         .start()?;
//!     p.join()?;
//!     Ok(())
//! }
//! ```
//!
//! Every `task!` also registers a constructor that does the same before `main` runs,
//! so spawning works in binaries without a `main` of their own, such as test binaries
//! of the libtest harness: the spawned child runs its function and exits before
//! libtest starts. `init` remains the documented entry point (it is also what catches
//! a child asking for a function the binary does not have).
//!
//! # Exit codes, panics, zombies
//! [`Process::exitcode`] follows Python: `None` while running, `Some(0)`, `Some(n)` for
//! `exit(n)`, `Some(-sig)` when a signal killed the child. A panic in the child gives
//! exit code 1, and its message is sent to the parent over a pipe
//! ([`Process::panic_message`]). A child is reaped by [`Process::join`],
//! [`Process::is_alive`] or [`Process::exitcode`] once it has ended; dropping a
//! [`Process`] leaves the child running and reaps it when it ends (a small thread
//! waits for it), so no zombie stays behind.
//!
//! # Daemon children
//! A daemon child ([`ProcessBuilder::daemon`]) dies with its parent:
//! - when the parent exits normally (the end of `main`, or `std::process::exit`), an
//!   `atexit` handler sends SIGTERM to every daemon child, waits up to one second for
//!   them, and SIGKILLs the rest, as Python's exit handler terminates daemonic children;
//! - when the parent dies any other way, SIGKILL included, the kernel sends the child
//!   SIGKILL (`PR_SET_PDEATHSIG`, requested in the child right after the fork; the child
//!   then checks that its parent is still the process that started it, since a parent
//!   dying before the request would never trigger the signal).
//!
//! Linux sends the parent-death signal when the *thread* that started the child ends,
//! not only the process: start daemon children from a thread that lives as long as
//! they should (the main thread, or a long-lived worker thread).
//!
//! # Fork in a multi-threaded parent
//! A forked child has one thread: a copy of the one that called `start`. Whatever the
//! parent's other threads held at that instant stays held in the child: a
//! `std::sync::Mutex` locked by another thread, stdout's lock while another thread
//! prints, a logger's or an allocator's lock (glibc's malloc is safe; it resets its locks
//! at fork). The child deadlocks if it waits for one of them. So with threads around,
//! keep the child's work to code that does not take such locks, or use
//! [`StartMethod::Spawn`], which starts a fresh program. shmkit's own segment locks are
//! robust process-shared locks and are not affected in this way. shmkit itself flushes
//! Rust's stdout before forking so buffered text is not printed twice, and avoids std's
//! process-wide locks in such a child itself: a child forked from a multi-threaded
//! parent does not flush stdout when it ends (end what you print with a newline, which
//! flushes it, or flush it yourself), and a pool worker forked from one swaps in its
//! silent panic hook on a helper thread with a timeout (a worker that cannot is
//! replaced). Python warns about
//! the same hazard and made a safer method its default in 3.14.
//!
//! # Limits
//! - Linux only (other targets get [`Error::Unsupported`](crate::Error::Unsupported)).
//! - A program that sets SIGCHLD to `SIG_IGN` or reaps with `waitpid(-1)` takes the
//!   exit statuses away from shmkit: such a child reports `-9`.
//! - Running a spawned child's task before `main` relies on glibc passing the arguments
//!   to constructors; with other C libraries call [`init`] in `main` (test binaries of
//!   the libtest harness then cannot spawn).
//! - Spawn re-executes `/proc/self/exe`, the binary this process runs (a rebuilt or
//!   deleted binary still works; the kernel keeps the old one).
//!
//! # Pools
//! [`Pool`] runs tasks on worker processes; see [`pool`].
//!
//! # Other helpers
//! [`current_process`] (pid, name, parent pid), [`cpu_count`] (the CPUs this process
//! may run on, like Python's `os.process_cpu_count()`), [`active_children`].

mod child;
pub mod pool;
mod registry;
mod task;
mod wire;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub use child::{Process, ProcessBuilder};
pub use pool::{AsyncResult, Pool, PoolOptions};
pub use task::Task;
#[doc(hidden)]
pub use task::{__call_chunk, __call_one, __register, TaskEntry};

use crate::sys;

/// How a child process is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartMethod {
    /// `fork()`: the child is a copy of this process and may run a closure.
    #[default]
    Fork,
    /// Re-execute this binary and run a function registered with
    /// [`task!`](crate::task). Needs [`init`] at the top of `main`.
    Spawn,
}

static DEFAULT_METHOD: AtomicU8 = AtomicU8::new(0);

/// Sets the start method used when a process or pool does not choose one (Python's
/// `set_start_method`; here it may be changed at any time).
pub fn set_start_method(method: StartMethod) {
    DEFAULT_METHOD.store(
        match method {
            StartMethod::Fork => 0,
            StartMethod::Spawn => 1,
        },
        Ordering::Relaxed,
    );
}

/// The default start method ([`StartMethod::Fork`] unless [`set_start_method`] said
/// otherwise).
pub fn get_start_method() -> StartMethod {
    match DEFAULT_METHOD.load(Ordering::Relaxed) {
        0 => StartMethod::Fork,
        _ => StartMethod::Spawn,
    }
}

/// The "subclass `Process` and override `run`" form: a worker type with its own fields.
///
/// ```
/// use shmkit::process::{Process, Run};
///
/// struct Greeter {
///     greeting: String,
/// }
///
/// impl Run for Greeter {
///     fn run(&mut self) {
///         println!("{} from {}", self.greeting, shmkit::process::current_process().name);
///     }
/// }
///
/// let p = Process::from_run(Greeter { greeting: "hello".into() }).start()?;
/// assert_eq!(p.join()?, 0);
/// # Ok::<(), shmkit::Error>(())
/// ```
pub trait Run {
    /// The child's work.
    fn run(&mut self);
}

/// Calls `worker.run()`: register `run_worker::<W>` with [`task!`](crate::task) to
/// spawn a [`Run`] type that is also a serde type.
pub fn run_worker<W: Run>(mut worker: W) {
    worker.run();
}

/// Must be the first call in `main` of a program that starts children with
/// [`StartMethod::Spawn`]: in a spawned child it runs the requested function and exits
/// the process (it never returns); anywhere else it returns at once.
///
/// Call it before starting threads or reading arguments. A spawned child whose
/// function is not registered in the binary reports that to its parent (see
/// [`Process::panic_message`]) and exits with code 1.
pub fn init() {
    __dispatch();
}

/// Runs the spawned-child target when this process is one (never returns then). Called
/// by [`init`] and by the constructors that [`task!`](crate::task) registers.
#[doc(hidden)]
pub fn __dispatch() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(child::SPAWN_FLAG)) {
        return;
    }
    let mut fd = || -> i32 {
        args.next()
            .and_then(|a| a.to_str().and_then(|s| s.parse().ok()))
            .unwrap_or(-1)
    };
    let (payload, report) = (fd(), fd());
    child::run_spawned(payload, report)
}

/// The builtin targets a spawned child may be asked to run.
fn run_builtin(target: &str, arg: &[u8]) -> Result<(), String> {
    match target {
        pool::WORKER_TARGET => pool::spawned_worker_main(arg),
        other => Err(format!("no builtin target `{other}`")),
    }
}

/// The process calling it, as Python's `current_process()` (plus the parent's pid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentProcess {
    /// This process's pid.
    pub pid: u32,
    /// `MainProcess`, or the name this process was started under by shmkit.
    pub name: String,
    /// The parent's pid (Python's `parent_process().pid`).
    pub parent_pid: u32,
}

/// Who is calling: pid, name and parent pid.
///
/// ```
/// let me = shmkit::process::current_process();
/// assert_eq!(me.pid, std::process::id());
/// assert_eq!(me.name, "MainProcess");
/// ```
pub fn current_process() -> CurrentProcess {
    CurrentProcess {
        pid: sys::current_pid(),
        name: registry::current_name(),
        parent_pid: sys::parent_pid(),
    }
}

/// The number of CPUs this process may run on (its affinity mask, as Python's
/// `os.process_cpu_count()`); at least 1. The default size of a [`Pool`].
///
/// ```
/// assert!(shmkit::process::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    sys::cpu_count()
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// A running child of this process, as listed by [`active_children`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its pid.
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// Whether it is a daemon.
    pub daemon: bool,
}

/// The children started by this process that are still running (Python's
/// `active_children()`). Children whose [`Process`] was dropped and that have ended are
/// reaped on the way.
pub fn active_children() -> Vec<ChildInfo> {
    registry::running()
        .into_iter()
        .map(|r| ChildInfo {
            pid: r.pid,
            name: r.name,
            daemon: r.daemon,
        })
        .collect()
}
