//! Functions registered by name: the targets a spawned child (or a pool worker) runs.
//!
//! [`task!`](crate::task) makes a [`Task`] from a function of one argument. Its expansion
//! puts two small constructors into the binary's `.init_array`: one records the function
//! in a process-wide list (before `main`, in every process that runs this binary), the
//! other checks whether this process is a spawned child and, if so, runs the requested
//! function and exits, before `main` (or the libtest harness) starts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Runs a chunk: encoded arguments in, encoded results appended to the buffer.
#[doc(hidden)]
pub type ChunkFn = fn(&[u8], Vec<u8>) -> Result<Vec<u8>, String>;

/// One registered function, with its argument and result codecs erased. Made by
/// [`task!`](crate::task); never built by hand.
#[doc(hidden)]
pub struct TaskEntry {
    name: &'static str,
    call_one: fn(&[u8]) -> Result<(), String>,
    call_chunk: ChunkFn,
    next: AtomicPtr<TaskEntry>,
    registered: AtomicBool,
}

impl TaskEntry {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        call_one: fn(&[u8]) -> Result<(), String>,
        call_chunk: ChunkFn,
    ) -> TaskEntry {
        TaskEntry {
            name,
            call_one,
            call_chunk,
            next: AtomicPtr::new(std::ptr::null_mut()),
            registered: AtomicBool::new(false),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Decodes one argument, runs the function, drops its result.
    pub(crate) fn call_one(&self, arg: &[u8]) -> Result<(), String> {
        (self.call_one)(arg)
    }

    /// Decodes a `Vec<A>`, runs the function on each item (a panic is recorded with the
    /// item's index), and appends the encoded [`ChunkOut`] to `out`.
    pub(crate) fn call_chunk(&self, args: &[u8], out: Vec<u8>) -> Result<Vec<u8>, String> {
        (self.call_chunk)(args, out)
    }
}

impl std::fmt::Debug for TaskEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskEntry")
            .field("name", &self.name)
            .finish()
    }
}

/// A function of one argument, registered by name so that a spawned child or a pool
/// worker started by either start method can run it. Make one with
/// [`task!`](crate::task):
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// let t = shmkit::task!(square);
/// assert_eq!(t.call(7), 49);
/// assert!(t.name().contains("square"));
/// ```
///
/// Both are serde types: `A` travels to a spawned child serialized with postcard; a
/// pool's arguments and results travel in its own fixed-width format, which encodes and
/// decodes numbers at close to `memcpy` speed.
pub struct Task<A, R = ()> {
    entry: &'static TaskEntry,
    f: fn(A) -> R,
}

impl<A, R> Clone for Task<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A, R> Copy for Task<A, R> {}

impl<A, R> std::fmt::Debug for Task<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Task").field(&self.entry.name).finish()
    }
}

impl<A, R> Task<A, R> {
    #[doc(hidden)]
    pub const fn __new(entry: &'static TaskEntry, f: fn(A) -> R) -> Self {
        Task { entry, f }
    }

    /// The name the function is registered under: its path as written at the `task!`
    /// call, with the module, line and column of the call.
    pub fn name(&self) -> &'static str {
        self.entry.name
    }

    /// Runs the function here, in this process.
    pub fn call(&self, arg: A) -> R {
        (self.f)(arg)
    }

    pub(crate) fn entry(&self) -> &'static TaskEntry {
        self.entry
    }
}

/// Makes a [`Task`] from a function (or generic function instance) of one argument, and
/// registers it so that children started with [`StartMethod::Spawn`] and pool workers
/// can find it by name.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Job { id: u32, text: String }
///
/// fn work(job: Job) -> usize {
///     job.text.len() + job.id as usize
/// }
/// let t = shmkit::task!(work);
/// assert_eq!(t.call(Job { id: 1, text: "abc".into() }), 4);
/// ```
///
/// The registration happens before `main` (a constructor in `.init_array`), wherever the
/// `task!` call sits: it does not have to run. Functions with several arguments take a
/// tuple (`fn add((a, b): (i32, i32)) -> i32`).
///
/// [`StartMethod::Spawn`]: crate::process::StartMethod::Spawn
#[macro_export]
macro_rules! task {
    ($f:path) => {{
        static __SHMKIT_TASK: $crate::process::TaskEntry = $crate::process::TaskEntry::__new(
            ::core::concat!(
                ::core::module_path!(),
                "::",
                ::core::stringify!($f),
                "@",
                ::core::line!(),
                ":",
                ::core::column!()
            ),
            |arg| $crate::process::__call_one($f, arg),
            |args, out| $crate::process::__call_chunk($f, args, out),
        );
        #[cfg(target_os = "linux")]
        #[used]
        #[unsafe(link_section = ".init_array.00200")]
        static __SHMKIT_REGISTER: extern "C" fn() = {
            extern "C" fn register() {
                $crate::process::__register(&__SHMKIT_TASK)
            }
            register
        };
        #[cfg(target_os = "linux")]
        #[used]
        #[unsafe(link_section = ".init_array")]
        static __SHMKIT_DISPATCH: extern "C" fn() = {
            extern "C" fn dispatch() {
                $crate::process::__dispatch()
            }
            dispatch
        };
        $crate::process::Task::__new(&__SHMKIT_TASK, $f)
    }};
}

/// The head of the list of registered tasks (a lock-free stack of `&'static` entries).
static TASKS: AtomicPtr<TaskEntry> = AtomicPtr::new(std::ptr::null_mut());

/// Records `entry` in the process-wide list (once). Called by the constructors that
/// [`task!`](crate::task) emits.
#[doc(hidden)]
pub fn __register(entry: &'static TaskEntry) {
    if entry.registered.swap(true, Ordering::AcqRel) {
        return;
    }
    let me = entry as *const TaskEntry as *mut TaskEntry;
    let mut head = TASKS.load(Ordering::Acquire);
    loop {
        entry.next.store(head, Ordering::Relaxed);
        match TASKS.compare_exchange_weak(head, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// The registered task named `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static TaskEntry> {
    let mut p = TASKS.load(Ordering::Acquire);
    while !p.is_null() {
        // SAFETY:
        // - every pointer in the list was made from a `&'static TaskEntry` in `__register`
        //   (the head and each `next`), so it points to a live, immutable-but-for-atomics
        //   entry for the rest of the program.
        // - the list only grows at the head; `next` of a published entry never changes
        //   after its CAS, so the walk ends at the null that the first entry stored.
        let e = unsafe { &*p };
        if e.name == name {
            return Some(e);
        }
        p = e.next.load(Ordering::Acquire);
    }
    None
}

/// The names of every registered task (for error messages).
pub(crate) fn registered_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut p = TASKS.load(Ordering::Acquire);
    while !p.is_null() {
        // SAFETY: as in `lookup`: every pointer in the list comes from a `&'static`.
        let e = unsafe { &*p };
        names.push(e.name);
        p = e.next.load(Ordering::Acquire);
    }
    names
}

/// The panic message of a payload caught by `catch_unwind`.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

#[doc(hidden)]
pub fn __call_one<A: DeserializeOwned, R>(f: fn(A) -> R, arg: &[u8]) -> Result<(), String> {
    let a: A = postcard::from_bytes(arg)
        .map_err(|e| format!("cannot decode the argument of the task: {e}"))?;
    drop(f(a));
    Ok(())
}

/// A chunk's results as sent back by a pool worker: the values of the items that
/// succeeded, in order, and the (index, panic message) of the items that panicked.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct ChunkOut<R> {
    pub values: Vec<R>,
    pub errors: Vec<(u32, String)>,
}

/// Runs a chunk item by item as its arguments are decoded, encoding each result as it
/// comes: the reply is the encoding of a [`ChunkOut`] appended to `buf`.
#[doc(hidden)]
pub fn __call_chunk<A: DeserializeOwned, R: Serialize>(
    f: fn(A) -> R,
    args: &[u8],
    buf: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let bad_args =
        |e: super::wire::WireError| format!("cannot decode the arguments of the task: {e}");
    let mut de = super::wire::Decoder::new(args);
    let n = de.count().map_err(bad_args)?;
    let mut enc = super::wire::Encoder::new(buf);
    enc.out
        .reserve(n.saturating_mul(std::mem::size_of::<R>()).min(1 << 24) + 16);
    let at = enc.begin_seq();
    let mut values = 0;
    let mut errors: Vec<(u32, String)> = Vec::new();
    for i in 0..n {
        let a: A = de.value().map_err(bad_args)?;
        match catch_unwind(AssertUnwindSafe(|| f(a))) {
            Ok(r) => {
                enc.put(&r)
                    .map_err(|e| format!("cannot encode the task's results: {e}"))?;
                values += 1;
            }
            Err(p) => errors.push((i as u32, panic_message(&*p))),
        }
    }
    de.end().map_err(bad_args)?;
    enc.end_seq(at, values);
    enc.put(&errors)
        .map_err(|e| format!("cannot encode the task's results: {e}"))?;
    Ok(enc.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half(x: u32) -> u64 {
        assert!(x % 2 == 0, "odd {x}");
        u64::from(x / 2) << 40
    }

    /// A chunk's reply is the wire encoding of a `ChunkOut`, after what the buffer held.
    #[test]
    fn call_chunk_writes_a_chunk_out() {
        std::panic::set_hook(Box::new(|_| {}));
        let args = super::super::wire::encode(&[0u32, 2, 3, 4, 300_000][..]).unwrap();
        let got = __call_chunk(half, &args, b"head".to_vec()).unwrap();
        let _ = std::panic::take_hook();
        let want = ChunkOut {
            values: vec![0u64, 1 << 40, 2 << 40, 150_000 << 40],
            errors: vec![(2u32, "odd 3".to_string())],
        };
        assert_eq!(&got[..4], b"head");
        assert_eq!(got[4..], super::super::wire::encode(&want).unwrap()[..]);
        assert!(__call_chunk(half, &[0xff, 0xff], Vec::new()).is_err());
    }
}
