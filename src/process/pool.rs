//! `Pool`: Python's `multiprocessing.Pool`, on worker processes fed through shmkit's own
//! message queues.
//!
//! ```
//! use shmkit::process::Pool;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! let pool = Pool::new(3)?;
//! let squares = pool.map(shmkit::task!(square), 0..10u64)?;
//! assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//! assert_eq!(pool.apply(shmkit::task!(square), 12)?, 144);
//! # Ok::<(), shmkit::Error>(())
//! ```
//!
//! # Tasks
//! A pool runs [`Task`]s: functions of one argument registered by name with
//! [`task!`](crate::task). The same API serves both start methods: the worker looks the
//! function up by name (registered in every process that runs the binary), and the
//! arguments and results travel in a fixed-width serde format (numbers as their
//! little-endian bytes, so a chunk of numbers costs about a `memcpy`). Closures are not accepted, even
//! by a forked pool, because workers are started before the closures exist (Python's fork
//! pool pickles its functions by name too); pass the data a closure would capture in the
//! argument instead.
//!
//! # How it works
//! Each worker process has its own task queue (a [`MessageQueue`]); all workers reply on
//! one result queue. The pool hands each worker at most two chunks (the one it runs and
//! the next), so it always knows which chunks a worker holds; when a worker is idle and
//! another has a chunk waiting behind a long task, the pool takes that chunk back from
//! the busy worker's queue and gives it to the idle one. A thread of the parent (the
//! result handler) reads
//! the replies, hands them to the [`AsyncResult`]s and iterators, checks every 20 ms that
//! the workers are alive, and replaces any that died: the chunk a dead worker was running
//! fails with [`Error::ProcessDied`], the chunks still queued for it are given to other
//! workers. A task that panics gives [`Error::Panicked`] with its message and the worker
//! carries on. Queues are anonymous for a forked pool and named
//! `pool-<pid>-<n>-...` for a spawned one (removed when the pool goes).
//!
//! Workers are daemon processes: they die with the pool's process, even when it is
//! SIGKILLed. They are all started by the pool's own thread, which lives as long as the
//! pool, so the thread that made the pool may end before it.
//!
//! Dropping a pool terminates it, as leaving Python's `with Pool() as p:` block does:
//! workers get SIGTERM and unfinished tasks fail with [`Error::ProcessDied`]. Call
//! [`close`](Pool::close) then [`join`](Pool::join) to let queued work finish first.

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::task::{ChunkOut, Task, lookup, panic_message};
use super::wire;
use super::{Process, StartMethod};
use crate::MessageQueue;
use crate::error::{Error, Result};
use crate::sys;

/// The builtin spawn target of a pool worker.
pub(crate) const WORKER_TARGET: &str = "shmkit::pool-worker";

/// How often the result handler checks that the workers are alive.
const CHECK_EVERY: Duration = Duration::from_millis(20);
/// Chunks handed to one worker at a time: the one it runs and the next, so it never
/// waits for the parent between chunks. A chunk queued behind a long task is taken
/// back and given to an idle worker ([`steal_for_idle`]).
const IN_FLIGHT: usize = 2;
/// Bytes of a request's header: job id (8) and task-name length (2).
const REQUEST_HEADER: usize = 10;
/// Bytes of a reply's header: job id (8), worker slot (4), status (1).
const REPLY_HEADER: usize = 13;

/// How a pool is made: [`Pool::with_options`].
#[derive(Debug, Clone)]
pub struct PoolOptions {
    processes: Option<usize>,
    method: Option<StartMethod>,
    max_tasks_per_child: Option<u64>,
    queue_bytes: usize,
    result_bytes: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            processes: None,
            method: None,
            max_tasks_per_child: None,
            queue_bytes: 1 << 20,
            result_bytes: 2 << 20,
        }
    }
}

impl PoolOptions {
    /// The defaults: [`cpu_count`](super::cpu_count) workers, the default start method,
    /// workers that live as long as the pool, 1 MiB task queues, a 2 MiB result queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker processes (default [`cpu_count`](super::cpu_count)).
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// How workers are started (default [`get_start_method`](super::get_start_method)).
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// A worker exits after this many tasks (chunks, as in Python) and is replaced by a
    /// fresh one (Python's `maxtasksperchild`).
    pub fn max_tasks_per_child(mut self, n: u64) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }

    /// Each worker's task queue, in bytes; a chunk of arguments must fit in it (else
    /// [`Error::TooLarge`]). Small rings stay in cache: raise it only for big chunks.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// The result queue, in bytes; a chunk of results must fit in it (else the chunk
    /// fails with an error saying so).
    pub fn result_bytes(mut self, bytes: usize) -> Self {
        self.result_bytes = bytes;
        self
    }
}

/// Something waiting for the outcome of chunks: an [`AsyncResult`] or an iterator.
trait Sink: Send + Sync {
    /// Chunk `chunk` ended: the encoded `Vec<Result<R, String>>`, or why it failed.
    fn deliver(&self, chunk: usize, outcome: Result<Vec<u8>>);
}

/// One chunk of one call, ready to send.
struct Job {
    id: u64,
    frame: Vec<u8>,
    sink: Arc<dyn Sink>,
    chunk: usize,
}

struct Worker {
    slot: u32,
    process: Option<Process>,
    queue: MessageQueue,
    in_flight: VecDeque<Job>,
    /// Chunks it may still take (with `max_tasks_per_child`).
    budget: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Closed,
    Joined,
}

struct State {
    workers: Vec<Worker>,
    pending: VecDeque<Job>,
    /// Jobs submitted and not yet delivered.
    unfinished: usize,
    next_job: u64,
    phase: Phase,
    generation: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    results: MessageQueue,
    results_name: Option<String>,
    opts: PoolOptions,
    method: StartMethod,
    tag: String,
}

/// A pool of worker processes (Python's `multiprocessing.Pool`).
pub struct Pool {
    shared: Arc<Shared>,
    handler: Option<JoinHandle<()>>,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("processes", &self.size)
            .field("start_method", &self.shared.method)
            .finish()
    }
}

/// What a worker is told: its queues and its slot.
#[derive(Serialize, Deserialize)]
struct WorkerConfig {
    tasks: String,
    results: String,
    slot: u32,
    max_tasks: Option<u64>,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// A pool of `processes` workers with the default start method; 0 means
    /// [`cpu_count`](super::cpu_count) (Python's `Pool()`).
    ///
    /// # Errors
    /// [`Error::Io`] when a worker cannot be started; errors creating the queues.
    pub fn new(processes: usize) -> Result<Pool> {
        let mut opts = PoolOptions::new();
        if processes > 0 {
            opts = opts.processes(processes);
        }
        Self::with_options(opts)
    }

    /// A pool made as `opts` says.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`Error::InvalidArgument`] for zero queue sizes.
    pub fn with_options(opts: PoolOptions) -> Result<Pool> {
        static POOLS: AtomicU32 = AtomicU32::new(0);
        let size = opts.processes.unwrap_or_else(super::cpu_count).max(1);
        let method = opts.method.unwrap_or_else(super::get_start_method);
        let tag = format!(
            "pool-{}-{}",
            sys::current_pid(),
            POOLS.fetch_add(1, Ordering::Relaxed)
        );
        let (results, results_name) = match method {
            StartMethod::Fork => (
                MessageQueue::anonymous(opts.result_bytes, opts.result_bytes)?,
                None,
            ),
            StartMethod::Spawn => {
                let name = format!("{tag}-results");
                (
                    MessageQueue::create(&name, opts.result_bytes, opts.result_bytes)?,
                    Some(name),
                )
            }
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                workers: Vec::with_capacity(size),
                pending: VecDeque::new(),
                unfinished: 0,
                next_job: 0,
                phase: Phase::Running,
                generation: 0,
            }),
            changed: Condvar::new(),
            results,
            results_name,
            opts,
            method,
            tag,
        });
        let mut pool = Pool {
            shared: Arc::clone(&shared),
            handler: None,
            size,
        };
        // The pool's own thread starts every worker: Linux sends a daemon child its
        // parent-death signal when the thread that started it ends, and this thread
        // lives exactly as long as the pool.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let handler = std::thread::Builder::new()
            .name("shmkit-pool".into())
            .spawn(move || {
                let started = (|| {
                    let mut st = lock(&shared);
                    for slot in 0..size {
                        let w = start_worker(&shared, &mut st, slot as u32)?;
                        st.workers.push(w);
                    }
                    Ok::<(), Error>(())
                })();
                let ok = started.is_ok();
                let _ = started_tx.send(started);
                if ok {
                    result_handler(&shared);
                }
            })
            .map_err(|e| Error::io("start the pool's result handler thread", e))?;
        pool.handler = Some(handler);
        started_rx.recv().map_err(|_| {
            Error::ProcessDied("the pool's thread ended while starting the workers".into())
        })??;
        Ok(pool)
    }

    /// The number of workers.
    pub fn processes(&self) -> usize {
        self.size
    }

    /// The names of the segments the pool uses (its named queues; none for a forked
    /// pool, whose queues are anonymous). They are removed when the pool goes.
    pub fn segment_names(&self) -> Vec<String> {
        let st = lock(&self.shared);
        self.shared
            .results_name
            .iter()
            .cloned()
            .chain(
                st.workers
                    .iter()
                    .filter_map(|w| w.queue.segment().name().map(str::to_string)),
            )
            .collect()
    }

    /// The pids of the current workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        lock(&self.shared)
            .workers
            .iter()
            .filter_map(|w| w.process.as_ref().map(Process::pid))
            .collect()
    }

    /// Runs `task(arg)` on a worker and waits for the result (Python's `apply`).
    ///
    /// # Errors
    /// [`Error::Panicked`] if the task panicked, [`Error::ProcessDied`] if its worker
    /// died, [`Error::InvalidArgument`] if the pool is closed, [`Error::Codec`],
    /// [`Error::TooLarge`].
    pub fn apply<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        task: Task<A, R>,
        arg: A,
    ) -> Result<R> {
        self.apply_async(task, arg)?.get()
    }

    /// Starts `task(arg)` on a worker and returns at once (Python's `apply_async`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the pool is closed; [`Error::Codec`].
    pub fn apply_async<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        task: Task<A, R>,
        arg: A,
    ) -> Result<AsyncResult<R>> {
        self.apply_async_inner(task, arg, None, None)
    }

    /// [`apply_async`](Self::apply_async) with callbacks, run on the pool's result
    /// handler thread when the result arrives (keep them short): `callback` with the
    /// result, or `error_callback` with the error.
    ///
    /// # Errors
    /// As [`apply_async`](Self::apply_async).
    pub fn apply_async_with<A, R>(
        &self,
        task: Task<A, R>,
        arg: A,
        callback: impl FnOnce(&R) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.apply_async_inner(
            task,
            arg,
            Some(Box::new(callback)),
            Some(Box::new(error_callback)),
        )
    }

    fn apply_async_inner<A: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        task: Task<A, R>,
        arg: A,
        callback: Option<Callback<R>>,
        error_callback: Option<ErrorCallback>,
    ) -> Result<AsyncResult<R>> {
        let cell = ResultCell::new(callback, error_callback);
        let sink = Arc::new(OneSink {
            cell: Arc::clone(&cell),
            _r: std::marker::PhantomData,
        });
        self.submit(task.entry().name(), std::slice::from_ref(&arg), 1, sink)?;
        Ok(AsyncResult { cell })
    }

    /// Applies `task` to every item and returns the results in order (Python's `map`,
    /// with its default chunk size: items / (4 × workers), rounded up).
    ///
    /// # Errors
    /// The first failed item's error ([`Error::Panicked`], [`Error::ProcessDied`]);
    /// [`Error::InvalidArgument`] if the pool is closed; [`Error::Codec`],
    /// [`Error::TooLarge`].
    pub fn map<A, R>(&self, task: Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_sync(task, items, None)
    }

    /// [`map`](Self::map) with chunks of `chunksize` items.
    ///
    /// # Errors
    /// As [`map`](Self::map).
    pub fn map_chunked<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_sync(task, items, Some(chunksize))
    }

    /// The synchronous map: chunks are encoded straight from the iterator (no copy of
    /// the items is collected first), and the caller's thread decodes each chunk's
    /// results into the output as the chunks arrive, in order.
    fn map_sync<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        if lock(&self.shared).phase != Phase::Running {
            return Err(closed_pool());
        }
        let mut items = items.into_iter();
        // The default chunk size needs the length: a known one, or collect (as Python
        // makes a list of an iterable without `len`).
        let (mut collected, len) = match (chunksize, items.size_hint()) {
            (Some(_), (lo, _)) => (None, lo),
            (None, (lo, Some(hi))) if lo == hi => (None, lo),
            (None, _) => {
                let v: Vec<A> = items.by_ref().collect();
                let n = v.len();
                (Some(v.into_iter()), n)
            }
        };
        let chunksize = chunksize
            .unwrap_or_else(|| default_chunksize(len, self.size))
            .max(1);
        let sink = Arc::new(RawSink {
            chunks: Mutex::new(Vec::new()),
            cv: Condvar::new(),
        });
        let name = task.entry().name();
        let mut n_chunks = 0;
        loop {
            let chunk = match &mut collected {
                Some(v) => {
                    encode_frame(name, v.by_ref().take(chunksize), chunksize, size_of::<A>())
                }
                None => encode_frame(
                    name,
                    items.by_ref().take(chunksize),
                    chunksize,
                    size_of::<A>(),
                ),
            };
            if matches!(chunk, Ok(None)) {
                break;
            }
            self.submit_chunk(
                chunk.map(Option::unwrap_or_default),
                n_chunks,
                &(Arc::clone(&sink) as _),
            )?;
            n_chunks += 1;
        }
        let mut all = Vec::with_capacity(len);
        for i in 0..n_chunks {
            let bytes = sink.take(i)?;
            let mut de = wire::Decoder::new(&bytes);
            let errors = serde::de::DeserializeSeed::deserialize(ChunkInto(&mut all), &mut de)
                .and_then(|errors| de.end().map(|()| errors))
                .map_err(|e| Error::Codec(e.to_string()))?;
            if let Some((_, msg)) = errors.into_iter().next() {
                return Err(Error::Panicked(msg));
            }
        }
        Ok(all)
    }

    /// Python's `starmap`: in Rust a task of several arguments takes a tuple
    /// (`fn add((a, b): (i32, i32)) -> i32`), so this is [`map`](Self::map) over tuples.
    ///
    /// # Errors
    /// As [`map`](Self::map).
    pub fn starmap<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map(task, items)
    }

    /// Starts a [`map`](Self::map) and returns at once (Python's `map_async`);
    /// `chunksize` `None` means the default.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the pool is closed; [`Error::Codec`].
    pub fn map_async<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_async_inner(task, items, chunksize, None, None)
    }

    /// [`map_async`](Self::map_async) with callbacks (see
    /// [`apply_async_with`](Self::apply_async_with)).
    ///
    /// # Errors
    /// As [`map_async`](Self::map_async).
    pub fn map_async_with<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        callback: impl FnOnce(&Vec<R>) + Send + 'static,
        error_callback: impl FnOnce(&Error) + Send + 'static,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_async_inner(
            task,
            items,
            chunksize,
            Some(Box::new(callback)),
            Some(Box::new(error_callback)),
        )
    }

    fn map_async_inner<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        callback: Option<Callback<Vec<R>>>,
        error_callback: Option<ErrorCallback>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let items: Vec<A> = items.into_iter().collect();
        let chunksize = chunksize
            .unwrap_or_else(|| default_chunksize(items.len(), self.size))
            .max(1);
        let n_chunks = items.len().div_ceil(chunksize);
        let cell = ResultCell::new(callback, error_callback);
        if n_chunks == 0 {
            cell.complete(Ok(Vec::new()));
            return Ok(AsyncResult { cell });
        }
        let sink = Arc::new(MapSink {
            cell: Arc::clone(&cell),
            parts: Mutex::new(MapParts {
                parts: (0..n_chunks).map(|_| None).collect(),
                missing: n_chunks,
                failed: false,
                total: items.len(),
            }),
        });
        self.submit(task.entry().name(), &items, chunksize, sink)?;
        Ok(AsyncResult { cell })
    }

    /// Applies `task` to every item and yields the results in order as they arrive
    /// (Python's `imap`; Python's default chunk size is 1). The items are encoded and
    /// queued at once; the results stream.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the pool is closed or `chunksize` is 0;
    /// [`Error::Codec`]. Each item's own failure comes out of the iterator.
    pub fn imap<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<IMap<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.imap_inner(task, items, chunksize, true)
    }

    /// As [`imap`](Self::imap), but yields each result as soon as it arrives, in any
    /// order (Python's `imap_unordered`).
    ///
    /// # Errors
    /// As [`imap`](Self::imap).
    pub fn imap_unordered<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<IMap<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.imap_inner(task, items, chunksize, false)
    }

    fn imap_inner<A, R>(
        &self,
        task: Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMap<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        if chunksize == 0 {
            return Err(Error::InvalidArgument(
                "chunksize must be at least 1".into(),
            ));
        }
        let items: Vec<A> = items.into_iter().collect();
        let n_chunks = items.len().div_ceil(chunksize);
        let stream = Arc::new(Stream {
            state: Mutex::new(StreamState {
                ready: BTreeMap::new(),
                arrived: VecDeque::new(),
                next_chunk: 0,
                received: 0,
                total: n_chunks,
            }),
            cv: Condvar::new(),
            ordered,
        });
        if n_chunks > 0 {
            self.submit(
                task.entry().name(),
                &items,
                chunksize,
                Arc::clone(&stream) as _,
            )?;
        }
        Ok(IMap { stream })
    }

    /// Encodes and queues the chunks of `items` one by one, so workers start on the
    /// first chunk while the next ones are encoded.
    fn submit<A: Serialize>(
        &self,
        task: &str,
        items: &[A],
        chunksize: usize,
        sink: Arc<dyn Sink>,
    ) -> Result<()> {
        if lock(&self.shared).phase != Phase::Running {
            return Err(closed_pool());
        }
        let chunksize = chunksize.max(1);
        let mut chunks = items.chunks(chunksize).enumerate();
        while let Some((chunk, part)) = chunks.next() {
            let frame = encode_frame(task, part.iter(), chunksize, size_of::<A>())
                .map(Option::unwrap_or_default);
            if let Err(e) = self.submit_chunk(frame, chunk, &sink) {
                // This chunk and the ones after it fail with the same error.
                let again = |e: &Error| match e {
                    Error::Codec(m) => Error::Codec(m.clone()),
                    _ => closed_pool(),
                };
                for (c, _) in chunks {
                    sink.deliver(c, Err(again(&e)));
                }
                sink.deliver(chunk, Err(e));
                return Ok(());
            }
        }
        Ok(())
    }

    /// Queues one encoded chunk (a worker with room gets it at once). An error (the
    /// encoding's, or the pool closed meanwhile) is returned, not delivered.
    fn submit_chunk(
        &self,
        frame: Result<Vec<u8>>,
        chunk: usize,
        sink: &Arc<dyn Sink>,
    ) -> Result<()> {
        let mut frame = frame?;
        let mut st = lock(&self.shared);
        if st.phase != Phase::Running {
            return Err(closed_pool());
        }
        let id = st.next_job;
        st.next_job += 1;
        frame[0..8].copy_from_slice(&id.to_le_bytes());
        st.pending.push_back(Job {
            id,
            frame,
            sink: Arc::clone(sink),
            chunk,
        });
        st.unfinished += 1;
        let failed = dispatch(&mut st);
        drop(st);
        deliver_all(&self.shared, failed);
        Ok(())
    }

    /// Accepts no more tasks; the queued ones still run (Python's `close`).
    pub fn close(&self) {
        let mut st = lock(&self.shared);
        if st.phase == Phase::Running {
            st.phase = Phase::Closed;
        }
    }

    /// Waits for every queued task to finish, then for the workers to exit (Python's
    /// `join`; call [`close`](Self::close) or [`terminate`](Self::terminate) first).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the pool is still running.
    pub fn join(&mut self) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let mut st = lock(&shared);
        match st.phase {
            Phase::Running => {
                return Err(Error::InvalidArgument(
                    "join needs close() or terminate() first".into(),
                ));
            }
            Phase::Joined => return Ok(()),
            Phase::Closed => {
                while st.unfinished > 0 {
                    st = self
                        .shared
                        .changed
                        .wait(st)
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        self.shutdown(st, false);
        Ok(())
    }

    /// Stops the workers now (SIGTERM) without finishing queued tasks (Python's
    /// `terminate`); their results fail with [`Error::ProcessDied`].
    pub fn terminate(&mut self) {
        let shared = Arc::clone(&self.shared);
        let st = lock(&shared);
        if st.phase == Phase::Joined {
            return;
        }
        self.shutdown(st, true);
    }

    fn shutdown(&mut self, mut st: MutexGuard<'_, State>, kill: bool) {
        let mut failed = Vec::new();
        for job in st.pending.drain(..) {
            failed.push((job, terminated()));
        }
        let workers: Vec<Worker> = st.workers.drain(..).collect();
        for w in &workers {
            w.queue.close();
            if kill && let Some(p) = &w.process {
                let _ = p.terminate();
            }
        }
        st.phase = Phase::Joined;
        st.unfinished = 0;
        drop(st);
        for mut w in workers {
            if let Some(p) = w.process.take() {
                // A worker that ignores SIGTERM (or is stuck) gets SIGKILL after 2 s.
                if !matches!(p.join_timeout(Duration::from_secs(2)), Ok(Some(_))) {
                    let _ = p.kill();
                    let _ = p.join();
                }
            }
            for job in w.in_flight.drain(..) {
                failed.push((job, terminated()));
            }
        }
        // Replies that arrived before the workers stopped are still delivered.
        let mut st = lock(&self.shared);
        while let Ok(msg) = self.shared.results.try_get_bytes() {
            failed.extend(take_reply(&mut st, &msg));
        }
        drop(st);
        deliver_results(failed);
        self.shared.changed.notify_all();
        if let Some(h) = self.handler.take() {
            let _ = h.join();
        }
    }
}

fn terminated() -> Result<Vec<u8>> {
    Err(Error::ProcessDied(
        "the pool was terminated before this task finished".into(),
    ))
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Python's default `map` chunk size: ceil(items / (4 × workers)).
fn default_chunksize(items: usize, workers: usize) -> usize {
    items.div_ceil(4 * workers.max(1)).max(1)
}

fn closed_pool() -> Error {
    Error::InvalidArgument("the pool is closed (close, join or terminate was called)".into())
}

/// A request: job id (filled in when queued), task name, the chunk's arguments (at most
/// `max` items of about `item_size` bytes taken from `items`). `None` when `items` had
/// none.
fn encode_frame<T: Serialize>(
    task: &str,
    items: impl Iterator<Item = T>,
    max: usize,
    item_size: usize,
) -> Result<Option<Vec<u8>>> {
    let mut frame = Vec::with_capacity(
        REQUEST_HEADER + task.len() + 8 + max.saturating_mul(item_size).min(1 << 24),
    );
    frame.extend_from_slice(&0u64.to_le_bytes());
    frame.extend_from_slice(&(task.len() as u16).to_le_bytes());
    frame.extend_from_slice(task.as_bytes());
    let mut enc = wire::Encoder::new(frame);
    let at = enc.begin_seq();
    let mut n = 0;
    for item in items {
        enc.put(&item).map_err(|e| Error::Codec(e.to_string()))?;
        n += 1;
    }
    if n == 0 {
        return Ok(None);
    }
    enc.end_seq(at, n);
    Ok(Some(enc.out))
}

/// Starts the worker for `slot` with a fresh task queue.
fn start_worker(shared: &Shared, st: &mut State, slot: u32) -> Result<Worker> {
    let opts = &shared.opts;
    st.generation += 1;
    let (queue, queue_name) = match shared.method {
        StartMethod::Fork => (
            MessageQueue::anonymous(opts.queue_bytes, opts.queue_bytes)?,
            String::new(),
        ),
        StartMethod::Spawn => {
            let name = format!("{}-w{slot}-{}", shared.tag, st.generation);
            (
                MessageQueue::create(&name, opts.queue_bytes, opts.queue_bytes)?,
                name,
            )
        }
    };
    let config = WorkerConfig {
        tasks: queue_name,
        results: shared.results_name.clone().unwrap_or_default(),
        slot,
        max_tasks: opts.max_tasks_per_child,
    };
    let arg = postcard::to_allocvec(&config).map_err(|e| Error::Codec(e.to_string()))?;
    let (tasks, results) = (&queue, &shared.results);
    let max_tasks = opts.max_tasks_per_child;
    let process = Process::builtin(WORKER_TARGET, arg, move || {
        if let Err(e) = worker_loop(tasks, results, slot, max_tasks) {
            // Not a panic: in a child forked from a multi-threaded parent the panic
            // machinery's locks may be held forever. Say why and leave at once.
            sys::write_stderr(format!("shmkit pool worker: {e}\n").as_bytes());
            sys::exit_now(1);
        }
    })
    .name(format!("{}-worker-{slot}", shared.tag))
    .daemon(true)
    .start_method(shared.method)
    .start()?;
    Ok(Worker {
        slot,
        process: Some(process),
        queue,
        in_flight: VecDeque::new(),
        budget: opts.max_tasks_per_child,
    })
}

/// Sends pending jobs to the workers with room; returns the jobs that cannot be sent.
fn dispatch(st: &mut State) -> Vec<(Job, Result<Vec<u8>>)> {
    let mut failed = Vec::new();
    while let Some(job) = st.pending.pop_front() {
        let target = st
            .workers
            .iter_mut()
            .filter(|w| {
                w.process.is_some()
                    && w.in_flight.len() < IN_FLIGHT
                    && w.budget.is_none_or(|b| b > w.in_flight.len() as u64)
            })
            .min_by_key(|w| w.in_flight.len());
        let Some(w) = target else {
            st.pending.push_front(job);
            break;
        };
        match w.queue.try_put_bytes(&job.frame) {
            Ok(()) => w.in_flight.push_back(job),
            Err(Error::WouldBlock) | Err(Error::Full(_)) => {
                st.pending.push_front(job);
                break;
            }
            Err(e) => failed.push((job, Err(e))),
        }
    }
    failed
}

/// When nothing is pending, a worker is idle and another has a chunk waiting behind the
/// one it runs: takes that chunk back out of the busy worker's queue (the pool is a
/// consumer of it too; whoever gets the message first has it) and gives it to the idle
/// worker.
fn steal_for_idle(st: &mut State) -> Vec<(Job, Result<Vec<u8>>)> {
    let mut failed = Vec::new();
    for _ in 0..st.workers.len() {
        if !st.pending.is_empty() {
            break;
        }
        let idle = st.workers.iter().any(|w| {
            w.process.is_some() && w.in_flight.is_empty() && w.budget.is_none_or(|b| b > 0)
        });
        let busy = st
            .workers
            .iter()
            .position(|w| w.process.is_some() && w.in_flight.len() >= 2);
        let (true, Some(b)) = (idle, busy) else { break };
        let Ok(frame) = st.workers[b].queue.try_get_bytes() else {
            // The worker took it: it finished its first chunk, whose reply is on the way.
            break;
        };
        let Some(id) = frame
            .get(0..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
        else {
            break;
        };
        let w = &mut st.workers[b];
        if let Some(pos) = w.in_flight.iter().position(|j| j.id == id)
            && let Some(job) = w.in_flight.remove(pos)
        {
            st.pending.push_front(job);
            failed.extend(dispatch(st));
        }
    }
    failed
}

/// Hands finished jobs to their sinks, outside the pool's lock.
fn deliver_all(shared: &Shared, done: Vec<(Job, Result<Vec<u8>>)>) {
    if done.is_empty() {
        return;
    }
    let n = done.len();
    deliver_results(done);
    let mut st = lock(shared);
    st.unfinished = st.unfinished.saturating_sub(n);
    drop(st);
    shared.changed.notify_all();
}

fn deliver_results(done: Vec<(Job, Result<Vec<u8>>)>) {
    for (job, outcome) in done {
        job.sink.deliver(job.chunk, outcome);
    }
}

/// Matches a reply to the job it answers; returns it with its outcome.
fn take_reply(st: &mut State, msg: &[u8]) -> Option<(Job, Result<Vec<u8>>)> {
    // The reply's bytes come from a worker: check every length before use.
    if msg.len() < REPLY_HEADER {
        return None;
    }
    let id = u64::from_le_bytes(msg[0..8].try_into().ok()?);
    let slot = u32::from_le_bytes(msg[8..12].try_into().ok()?);
    let status = msg[12];
    let body = &msg[REPLY_HEADER..];
    let w = st.workers.iter_mut().find(|w| w.slot == slot)?;
    let pos = w.in_flight.iter().position(|j| j.id == id)?;
    let job = w.in_flight.remove(pos)?;
    if let Some(b) = &mut w.budget {
        *b = b.saturating_sub(1);
    }
    let outcome = match status {
        0 => Ok(body.to_vec()),
        _ => Err(Error::Panicked(String::from_utf8_lossy(body).into_owned())),
    };
    Some((job, outcome))
}

/// The result handler thread: replies to sinks, dead workers replaced.
fn result_handler(shared: &Shared) {
    let mut last_check = Instant::now();
    loop {
        let mut done = Vec::new();
        let got = shared.results.get_bytes_timeout(CHECK_EVERY);
        let mut st = lock(shared);
        if st.phase == Phase::Joined {
            return;
        }
        match got {
            Ok(msg) => {
                done.extend(take_reply(&mut st, &msg));
                // Take whatever else is there under the same lock.
                for _ in 0..256 {
                    match shared.results.try_get_bytes() {
                        Ok(msg) => done.extend(take_reply(&mut st, &msg)),
                        Err(_) => break,
                    }
                }
            }
            Err(Error::Timeout(_)) | Err(Error::WouldBlock) => {}
            Err(_) => {
                // The result queue is unusable: fail everything rather than hang.
                for w in &mut st.workers {
                    for job in w.in_flight.drain(..) {
                        done.push((
                            job,
                            Err(Error::ProcessDied("the pool's result queue failed".into())),
                        ));
                    }
                }
            }
        }
        if last_check.elapsed() >= CHECK_EVERY {
            last_check = Instant::now();
            done.extend(replace_dead_workers(shared, &mut st));
        }
        done.extend(dispatch(&mut st));
        done.extend(steal_for_idle(&mut st));
        drop(st);
        deliver_all(shared, done);
    }
}

/// Reaps workers that have ended: fails the chunk a dead worker was running, requeues
/// the chunks it had not started, starts a replacement while there is work to do.
fn replace_dead_workers(shared: &Shared, st: &mut State) -> Vec<(Job, Result<Vec<u8>>)> {
    let mut done = Vec::new();
    let dead: Vec<usize> = (0..st.workers.len())
        .filter(|&i| {
            st.workers[i]
                .process
                .as_ref()
                .is_some_and(|p| p.exitcode().is_some())
        })
        .collect();
    if dead.is_empty() {
        return done;
    }
    // Everything a dead worker put on the result queue is there now: take it first.
    while let Ok(msg) = shared.results.try_get_bytes() {
        done.extend(take_reply(st, &msg));
    }
    for i in dead {
        let (slot, code, pid, mut in_flight, queued) = {
            let w = &mut st.workers[i];
            let p = w.process.as_ref().expect("checked above");
            (
                w.slot,
                p.exitcode().unwrap_or(0),
                p.pid(),
                std::mem::take(&mut w.in_flight),
                w.queue.len(),
            )
        };
        // The worker takes its chunks in order: the ones still in its queue were not
        // started; the one before them (if any) was running when it died.
        let started = in_flight.len().saturating_sub(queued);
        if started > 0
            && let Some(job) = in_flight.pop_front()
        {
            done.push((
                job,
                Err(Error::ProcessDied(format!(
                    "worker {pid} died (exit code {code}) while running this task"
                ))),
            ));
        }
        for job in in_flight.into_iter().rev() {
            st.pending.push_front(job);
        }
        let needed = st.phase == Phase::Running || st.unfinished > done.len();
        if needed {
            match start_worker(shared, st, slot) {
                Ok(w) => st.workers[i] = w,
                Err(e) => {
                    // Keep the dead slot; a later check tries again.
                    eprintln!("shmkit pool: cannot replace worker {slot}: {e}");
                    st.workers[i].process = None;
                }
            }
        } else {
            st.workers[i].process = None;
        }
    }
    done
}

/// The worker's loop: run chunks until the queue is closed or the budget is spent.
fn worker_loop(
    tasks: &MessageQueue,
    results: &MessageQueue,
    slot: u32,
    max_tasks: Option<u64>,
) -> std::result::Result<(), String> {
    // A task's panic is returned as its result; do not also print it here.
    if !install_silent_panic_hook() {
        return Err(format!(
            "pool worker {slot}: the panic hook's lock was held when this worker was forked; \
             exiting so that the pool starts another"
        ));
    }
    // Keep freed memory for the next chunk instead of returning it to the OS after
    // every chunk (and faulting it in again).
    sys::keep_freed_memory();
    let mut done = 0u64;
    let mut msg = vec![0u8; 64 * 1024];
    let mut reply = Vec::new();
    loop {
        if max_tasks.is_some_and(|m| done >= m) {
            return Ok(());
        }
        let len = match tasks.get_bytes_into(&mut msg) {
            Ok(n) => n,
            Err(Error::Closed) => return Ok(()),
            Err(Error::BufferTooSmall { needed, .. }) => {
                msg.resize(needed, 0);
                continue;
            }
            Err(e) => return Err(format!("pool worker {slot}: task queue failed: {e}")),
        };
        let Some(bytes) = run_request(&msg[..len], slot, std::mem::take(&mut reply)) else {
            continue;
        };
        if let Err(e) = results.put_bytes(&bytes) {
            let mut short = bytes[..REPLY_HEADER].to_vec();
            short[REPLY_HEADER - 1] = 1;
            short.extend_from_slice(format!("cannot send the task's results: {e}").as_bytes());
            results
                .put_bytes(&short)
                .map_err(|e| format!("pool worker {slot}: result queue failed: {e}"))?;
        }
        reply = bytes;
        done += 1;
    }
}

/// Replaces the panic hook with one that prints nothing (a task's panic is its result,
/// and the default hook takes std's backtrace and stderr locks, which another thread of a
/// multi-threaded parent may have held at the fork, forever in this child). In such a
/// child the hook's own lock may be held as well: the swap is tried on a helper thread
/// for at most 200 ms. False if it did not happen.
fn install_silent_panic_hook() -> bool {
    if super::child::globals_usable() {
        std::panic::set_hook(Box::new(|_| {}));
        return true;
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let helper = std::thread::Builder::new().spawn(move || {
        std::panic::set_hook(Box::new(|_| {}));
        let _ = done_tx.send(());
    });
    helper.is_ok() && done_rx.recv_timeout(Duration::from_millis(200)).is_ok()
}

/// Decodes one request and runs it; returns the reply (job id, worker slot, status,
/// then the encoded results or the error message), built in `buf`.
fn run_request(msg: &[u8], slot: u32, mut buf: Vec<u8>) -> Option<Vec<u8>> {
    if msg.len() < REQUEST_HEADER {
        return None;
    }
    let id = u64::from_le_bytes(msg[0..8].try_into().ok()?);
    let name_len = u16::from_le_bytes(msg[8..10].try_into().ok()?) as usize;
    buf.clear();
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&slot.to_le_bytes());
    buf.push(0);
    let fail = |mut buf: Vec<u8>, why: &str| {
        buf.truncate(REPLY_HEADER);
        buf[REPLY_HEADER - 1] = 1;
        buf.extend_from_slice(why.as_bytes());
        Some(buf)
    };
    let rest = &msg[REQUEST_HEADER..];
    if rest.len() < name_len {
        return fail(buf, "malformed request");
    }
    let (name, args) = rest.split_at(name_len);
    let Ok(name) = std::str::from_utf8(name) else {
        return fail(buf, "malformed task name");
    };
    let Some(entry) = lookup(name) else {
        return fail(
            Vec::from(&buf[..REPLY_HEADER]),
            &format!("no task `{name}` is registered in this worker's binary"),
        );
    };
    let head = Vec::from(&buf[..REPLY_HEADER]);
    match std::panic::catch_unwind(AssertUnwindSafe(|| entry.call_chunk(args, buf))) {
        Ok(Ok(reply)) => Some(reply),
        Ok(Err(why)) => fail(head, &why),
        Err(p) => fail(head, &panic_message(&*p)),
    }
}

/// A spawned worker: open the queues named in the config and run.
pub(crate) fn spawned_worker_main(arg: &[u8]) -> std::result::Result<(), String> {
    let config: WorkerConfig =
        postcard::from_bytes(arg).map_err(|e| format!("bad pool worker config: {e}"))?;
    let tasks = MessageQueue::open(&config.tasks).map_err(|e| e.to_string())?;
    let results = MessageQueue::open(&config.results).map_err(|e| e.to_string())?;
    worker_loop(&tasks, &results, config.slot, config.max_tasks)
}

// ---- results ----

type Callback<T> = Box<dyn FnOnce(&T) + Send>;
type ErrorCallback = Box<dyn FnOnce(&Error) + Send>;

struct Slot<T> {
    outcome: Option<Result<T>>,
    taken: bool,
    callback: Option<Callback<T>>,
    error_callback: Option<ErrorCallback>,
}

struct ResultCell<T> {
    slot: Mutex<Slot<T>>,
    cv: Condvar,
}

impl<T> ResultCell<T> {
    fn new(callback: Option<Callback<T>>, error_callback: Option<ErrorCallback>) -> Arc<Self> {
        Arc::new(ResultCell {
            slot: Mutex::new(Slot {
                outcome: None,
                taken: false,
                callback,
                error_callback,
            }),
            cv: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn complete(&self, outcome: Result<T>) {
        let (cb, ecb) = {
            let mut s = self.lock();
            if s.outcome.is_some() || s.taken {
                return;
            }
            (s.callback.take(), s.error_callback.take())
        };
        // Callbacks run before the result is visible, as in Python. A callback that
        // panics must not take the pool's result thread down with it.
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| match &outcome {
            Ok(v) => {
                if let Some(cb) = cb {
                    cb(v);
                }
            }
            Err(e) => {
                if let Some(ecb) = ecb {
                    ecb(e);
                }
            }
        }));
        if let Err(p) = ran {
            eprintln!(
                "shmkit pool: a result callback panicked: {}",
                panic_message(&*p)
            );
        }
        self.lock().outcome = Some(outcome);
        self.cv.notify_all();
    }
}

/// The result of [`Pool::apply_async`] or [`Pool::map_async`] (Python's `AsyncResult`).
pub struct AsyncResult<T> {
    cell: Arc<ResultCell<T>>,
}

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T> AsyncResult<T> {
    /// Whether the result has arrived.
    pub fn ready(&self) -> bool {
        let s = self.cell.lock();
        s.outcome.is_some() || s.taken
    }

    /// `Some(true)` if the task succeeded, `Some(false)` if it failed, `None` while it
    /// runs (where Python raises `ValueError`).
    pub fn successful(&self) -> Option<bool> {
        self.cell.lock().outcome.as_ref().map(|o| o.is_ok())
    }

    /// Waits for the result.
    pub fn wait(&self) {
        let mut s = self.cell.lock();
        while s.outcome.is_none() && !s.taken {
            s = self.cell.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits at most `timeout`; true if the result has arrived.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.cell.lock();
        while s.outcome.is_none() && !s.taken {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .cell
                .cv
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits for the result and takes it.
    ///
    /// # Errors
    /// The task's error ([`Error::Panicked`], [`Error::ProcessDied`], ...);
    /// [`Error::InvalidArgument`] if the result was already taken.
    pub fn get(&self) -> Result<T> {
        self.wait();
        self.take()
    }

    /// Waits at most `timeout` for the result and takes it.
    ///
    /// # Errors
    /// [`Error::Timeout`] if it has not arrived; otherwise as [`get`](Self::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        if !self.wait_timeout(timeout) {
            return Err(Error::Timeout(timeout));
        }
        self.take()
    }

    fn take(&self) -> Result<T> {
        let mut s = self.cell.lock();
        match s.outcome.take() {
            Some(o) => {
                s.taken = true;
                o
            }
            None => Err(Error::InvalidArgument(
                "the result was already taken by an earlier get".into(),
            )),
        }
    }
}

/// Decodes a chunk's results: the values of the items that succeeded, in order, and
/// the (index, panic message) of those that failed.
fn decode_chunk<R: DeserializeOwned>(bytes: &[u8]) -> Result<ChunkOut<R>> {
    wire::decode(bytes).map_err(|e| Error::Codec(e.to_string()))
}

/// A chunk's results item by item.
fn decode_results<R: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<Result<R>>> {
    let out = decode_chunk::<R>(bytes)?;
    let n = out.values.len() + out.errors.len();
    let mut errors = out.errors.into_iter().peekable();
    let mut values = out.values.into_iter();
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        match errors.next_if(|(at, _)| *at as usize == i) {
            Some((_, msg)) => items.push(Err(Error::Panicked(msg))),
            None => match values.next() {
                Some(v) => items.push(Ok(v)),
                None => return Err(Error::Codec("a chunk reply with too few values".into())),
            },
        }
    }
    Ok(items)
}

struct OneSink<R> {
    cell: Arc<ResultCell<R>>,
    _r: std::marker::PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned + Send> Sink for OneSink<R> {
    fn deliver(&self, _chunk: usize, outcome: Result<Vec<u8>>) {
        let r = outcome.and_then(|b| decode_results::<R>(&b)).and_then(|v| {
            v.into_iter()
                .next()
                .unwrap_or_else(|| Err(Error::Codec("a reply without a result".into())))
        });
        self.cell.complete(r);
    }
}

/// Keeps each chunk's encoded results for [`Pool::map_sync`] to decode (chunk numbers
/// are known as they are submitted: the list grows).
struct RawSink {
    chunks: Mutex<Vec<Option<Result<Vec<u8>>>>>,
    cv: Condvar,
}

impl RawSink {
    /// Waits for chunk `i` (which was submitted) and takes its outcome.
    fn take(&self, i: usize) -> Result<Vec<u8>> {
        let mut c = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match c.get_mut(i).and_then(Option::take) {
                Some(outcome) => return outcome,
                None => c = self.cv.wait(c).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

impl Sink for RawSink {
    fn deliver(&self, chunk: usize, outcome: Result<Vec<u8>>) {
        let mut c = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() <= chunk {
            c.resize_with(chunk + 1, || None);
        }
        c[chunk] = Some(outcome);
        drop(c);
        self.cv.notify_all();
    }
}

/// Decodes a [`ChunkOut`] with its values appended to an existing vector; gives back
/// the errors.
struct ChunkInto<'a, R>(&'a mut Vec<R>);

/// Appends a sequence's elements to an existing vector.
struct ExtendVec<'a, R>(&'a mut Vec<R>);

impl<'de, R: Deserialize<'de>> serde::de::DeserializeSeed<'de> for ChunkInto<'_, R> {
    type Value = Vec<(u32, String)>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de, R: Deserialize<'de>> serde::de::Visitor<'de> for ChunkInto<'_, R> {
    type Value = Vec<(u32, String)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a chunk of results (values, errors)")
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(
        self,
        mut seq: S,
    ) -> std::result::Result<Self::Value, S::Error> {
        use serde::de::Error as _;
        seq.next_element_seed(ExtendVec(self.0))?
            .ok_or_else(|| S::Error::invalid_length(0, &self))?;
        let errors: Vec<(u32, String)> = seq
            .next_element()?
            .ok_or_else(|| S::Error::invalid_length(1, &"a chunk of results"))?;
        Ok(errors)
    }
}

impl<'de, R: Deserialize<'de>> serde::de::DeserializeSeed<'de> for ExtendVec<'_, R> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, R: Deserialize<'de>> serde::de::Visitor<'de> for ExtendVec<'_, R> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence of results")
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(
        self,
        mut seq: S,
    ) -> std::result::Result<(), S::Error> {
        // The length comes from another process: reserve a bounded amount up front.
        self.0.reserve(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(v) = seq.next_element()? {
            self.0.push(v);
        }
        Ok(())
    }
}

struct MapParts<R> {
    parts: Vec<Option<Vec<R>>>,
    missing: usize,
    failed: bool,
    total: usize,
}

struct MapSink<R> {
    cell: Arc<ResultCell<Vec<R>>>,
    parts: Mutex<MapParts<R>>,
}

impl<R: DeserializeOwned + Send> Sink for MapSink<R> {
    fn deliver(&self, chunk: usize, outcome: Result<Vec<u8>>) {
        let decoded = outcome.and_then(|b| decode_chunk::<R>(&b)).and_then(|out| {
            match out.errors.into_iter().next() {
                Some((_, msg)) => Err(Error::Panicked(msg)),
                None => Ok(out.values),
            }
        });
        let mut p = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        if p.failed {
            return;
        }
        match decoded {
            Err(e) => {
                p.failed = true;
                drop(p);
                self.cell.complete(Err(e));
            }
            Ok(v) => {
                if let Some(slot) = p.parts.get_mut(chunk)
                    && slot.is_none()
                {
                    *slot = Some(v);
                    p.missing -= 1;
                }
                if p.missing == 0 {
                    let mut all = Vec::with_capacity(p.total);
                    for part in p.parts.iter_mut() {
                        all.extend(part.take().unwrap_or_default());
                    }
                    drop(p);
                    self.cell.complete(Ok(all));
                }
            }
        }
    }
}

struct StreamState<R> {
    ready: BTreeMap<usize, VecDeque<Result<R>>>,
    arrived: VecDeque<Result<R>>,
    next_chunk: usize,
    received: usize,
    total: usize,
}

struct Stream<R> {
    state: Mutex<StreamState<R>>,
    cv: Condvar,
    ordered: bool,
}

impl<R: DeserializeOwned + Send> Sink for Stream<R> {
    fn deliver(&self, chunk: usize, outcome: Result<Vec<u8>>) {
        let items: VecDeque<Result<R>> = match outcome.and_then(|b| decode_results::<R>(&b)) {
            Ok(v) => v.into(),
            Err(e) => VecDeque::from([Err(e)]),
        };
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.received += 1;
        if self.ordered {
            s.ready.insert(chunk, items);
        } else {
            s.arrived.extend(items);
        }
        drop(s);
        self.cv.notify_all();
    }
}

/// The iterator of [`Pool::imap`] and [`Pool::imap_unordered`]: each item's result.
/// A chunk that fails as a whole (its worker died) yields one error for the chunk.
pub struct IMap<R> {
    stream: Arc<Stream<R>>,
}

impl<R> std::fmt::Debug for IMap<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IMap")
            .field("ordered", &self.stream.ordered)
            .finish()
    }
}

impl<R> IMap<R> {
    /// The next result, waiting at most `timeout` for it: `Err(Timeout)` if it has
    /// not arrived, `None` at the end.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R>> {
        self.next_until(Some(Instant::now() + timeout), timeout)
    }

    fn next_until(&mut self, deadline: Option<Instant>, timeout: Duration) -> Option<Result<R>> {
        let mut s = self.stream.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stream.ordered {
                let next = s.next_chunk;
                if let Some(items) = s.ready.get_mut(&next) {
                    if let Some(item) = items.pop_front() {
                        return Some(item);
                    }
                    s.ready.remove(&next);
                    s.next_chunk += 1;
                    continue;
                }
                if s.next_chunk >= s.total {
                    return None;
                }
            } else {
                if let Some(item) = s.arrived.pop_front() {
                    return Some(item);
                }
                if s.received >= s.total {
                    return None;
                }
            }
            s = match deadline {
                None => self.stream.cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Some(Err(Error::Timeout(timeout)));
                    }
                    self.stream
                        .cv
                        .wait_timeout(s, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

impl<R> Iterator for IMap<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_until(None, Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn empty_state() -> State {
        State {
            workers: Vec::new(),
            pending: VecDeque::new(),
            unfinished: 0,
            next_job: 0,
            phase: Phase::Running,
            generation: 0,
        }
    }

    proptest! {
        /// Bytes in a pool's queues come from other processes: any bytes give a clean
        /// answer (no reply, an error reply, a codec error), never a panic.
        #[test]
        fn hostile_queue_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Some(reply) = run_request(&bytes, 3, Vec::new()) {
                prop_assert!(reply.len() >= REPLY_HEADER);
                prop_assert_eq!(&reply[..8], &bytes[..8]);
                prop_assert_eq!(reply[REPLY_HEADER - 1], 1, "no task runs from garbage");
            }
            prop_assert!(take_reply(&mut empty_state(), &bytes).is_none());
            let _ = decode_results::<u64>(&bytes);
            let _ = decode_results::<String>(&bytes);
            let mut out: Vec<u64> = Vec::new();
            let mut de = wire::Decoder::new(&bytes);
            let _ = serde::de::DeserializeSeed::deserialize(ChunkInto(&mut out), &mut de);
        }

        /// A reply that claims more results than it holds is an error, not a hang or
        /// an allocation of the claimed size.
        #[test]
        fn chunk_lengths_from_another_process_are_not_trusted(n in any::<u32>()) {
            let mut bytes = u64::from(n).to_le_bytes().to_vec();
            bytes.extend_from_slice(&[1, 2, 3]);
            let mut out: Vec<u64> = Vec::new();
            let mut de = wire::Decoder::new(&bytes);
            let r = serde::de::DeserializeSeed::deserialize(ChunkInto(&mut out), &mut de);
            prop_assert!(n <= 3 || r.is_err());
            prop_assert!(out.capacity() <= (1 << 16) + 16);
        }
    }

    #[test]
    fn default_chunksize_is_pythons() {
        // Python: chunksize, extra = divmod(len, 4 * workers); chunksize += bool(extra)
        assert_eq!(default_chunksize(100_000, 2), 12_500);
        assert_eq!(default_chunksize(10, 3), 1);
        assert_eq!(default_chunksize(13, 1), 4);
        assert_eq!(default_chunksize(0, 4), 1);
    }
}
