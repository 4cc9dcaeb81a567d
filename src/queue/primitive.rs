//! The atomics shim under the ring (crossbeam's `primitive` module, tokio's `loom`
//! module): std atomics and the OS futex in normal builds; loom's atomics and a modelled
//! futex under `--cfg loom`, so the same ring code is model-checked on heap memory.
//!
//! Everything the ring needs from the outside world goes through here: atomics,
//! fences, spinning, the futex, the clock, and process identity.
#![forbid(unsafe_code)]

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, fence};

/// One step of a busy wait.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// Lets another thread run (a busy wait that has gone on for a while).
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// A yield that took at least this long let another thread run on our CPU: a bare
/// `sched_yield` with nobody else to run returns in about 0.2 µs on this project's test
/// machine, while handing the CPU to another process and getting it back takes a
/// context switch each way (0.5 µs or more).
const YIELD_SWITCHED: std::time::Duration = std::time::Duration::from_nanos(500);

/// A yield during which other threads ran for longer than this did not hand the CPU to
/// one peer that answered us at once, but to several processes, or to one with much
/// to do: yielding at once would not shorten the wait. Worse, when several waiters
/// share a CPU (four producers and four consumers on one core), waiters that yield at
/// once barely run and so stay first in the scheduler's line, and the CPU goes back and
/// forth among them: that run moved 6.5–7.2 M messages/s, against 10–27 M spinning
/// first, until yields this long stopped counting.
const YIELD_ANSWERED: std::time::Duration = std::time::Duration::from_micros(20);

/// What a handle learned from its last wait (shared by the threads using the handle):
/// whether the peer that ended it shares our CPU. See [`Spinner`].
#[derive(Debug, Default)]
pub(crate) struct SpinMemory(std::sync::atomic::AtomicBool);

/// The spinning phase of a wait: spin hints, with a yield every `every` turns; but a
/// yield at once when the peer we wait for runs on our own CPU. Spinning is then pure
/// loss: the peer cannot make progress until we give the CPU up, and every turn spent
/// spinning before the yield is added to the round trip (two processes pinned to one
/// core bounced a message in 1.15 µs yielding at once, 2.5 µs spinning 64 turns first).
/// The spinner tells the cases apart by timing its yields: a wait that ends just after
/// a yield during which another thread ran briefly (longer than [`YIELD_SWITCHED`],
/// shorter than [`YIELD_ANSWERED`]) was ended by a peer on our CPU, so the handle's
/// next wait yields at its first turn. If that yield does not end the wait, the wait
/// spins as usual.
pub(crate) struct Spinner<'a> {
    memory: &'a SpinMemory,
    /// `every - 1`, `every` a power of two.
    every_mask: u32,
    turn: u32,
    /// Whether the first turn yields (the last wait was ended by a peer on our CPU).
    yield_first: bool,
    /// Whether the last turn yielded and another thread ran meanwhile.
    switched: bool,
}

impl<'a> Spinner<'a> {
    /// A spinner that yields every `every` turns (a power of two: rounded up), and at
    /// its first turn if `memory` says the handle's last wait was ended by a peer on
    /// our CPU.
    #[inline]
    pub(crate) fn new(memory: &'a SpinMemory, every: u32) -> Spinner<'a> {
        use std::sync::atomic::Ordering::Relaxed;
        Spinner {
            memory,
            every_mask: every.max(1).next_power_of_two() - 1,
            turn: 0,
            yield_first: memory.0.load(Relaxed),
            switched: false,
        }
    }

    /// One turn of waiting: a spin hint or a yield.
    #[inline]
    pub(crate) fn turn(&mut self) {
        self.turn_with(|| {
            let start = std::time::Instant::now();
            yield_now();
            start.elapsed()
        });
    }

    /// [`Spinner::turn`], with `yield_cpu` (which yields and returns how long that
    /// took) in place of the real yield; returns whether the turn yielded.
    #[inline]
    fn turn_with(&mut self, yield_cpu: impl FnOnce() -> std::time::Duration) -> bool {
        self.turn = self.turn.wrapping_add(1);
        self.switched = false;
        if !self.yield_first && self.turn & self.every_mask != 0 {
            spin_hint();
            return false;
        }
        self.switched = (YIELD_SWITCHED..YIELD_ANSWERED).contains(&yield_cpu());
        // One yield at once per wait: if it did not end the wait, nobody else wanted
        // our CPU (the peer runs elsewhere) or others ran who did not help us. Either
        // way spin as usual.
        self.yield_first = false;
        true
    }

    /// Whether the caller should look at the clock after this turn (every 16th).
    pub(crate) fn check_clock(&self) -> bool {
        self.turn % 16 == 0
    }

    /// The wait ended (what it waited for happened after the last turn): remembers for
    /// the handle's next wait whether a peer on our CPU ended it.
    pub(crate) fn done(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.memory.0.load(Relaxed) != self.switched {
            self.memory.0.store(self.switched, Relaxed);
        }
    }
}

/// This process's id, as recorded in the slots it claims.
#[inline]
pub(crate) fn pid() -> u32 {
    #[cfg(loom)]
    {
        loom_pid::current()
    }
    #[cfg(not(loom))]
    {
        crate::sys::cached_pid()
    }
}

// ---- The wake-up handshake's barriers ------------------------------------------------
//
// After publishing a slot, a producer reads the consumers' waiter count; a consumer about
// to sleep raises that count and then looks at the ring again (ring.rs, "Sleeping"). Each
// side needs a full barrier between its write and its read (a store-load ordering, as
// in Dekker's algorithm), or both can miss the other's write and the consumer sleeps
// on a published message. A `fence(SeqCst)` on the producer's side costs little alone,
// but it waits for the producer's stores to reach the cache, so across two cores it
// pays for a cache-line transfer on every message. The barrier is therefore
// asymmetric (the kernel's `membarrier`, as userspace RCU uses it) once a handle
// streams (ring.rs, "Sleeping"): the fast side (every put and get) has only a compiler
// barrier, and the slow side (a process about to sleep, which enters the kernel
// anyway) asks the kernel to run a full barrier on every CPU that runs a process
// registered for it. Whichever way the two sides' instructions interleave, the
// kernel's barrier on the fast side's CPU then falls after its write or before its
// read, and the membarrier's own barriers order the sleeper's write and read: one of
// the two sees the other's write.
//
// A handle uses the light barrier only once its process is registered (a failed
// registration, or a forked child that has not registered yet, keeps the fence). A
// sleeper whose membarrier the kernel refuses cannot make registered processes' writes
// visible in time; it then sleeps in short slices (see ring.rs), so a missed wake-up
// costs it about a millisecond.

/// The process whose membarrier registration is recorded (its pid shifted left by one,
/// plus 1 if the kernel accepted): a forked child has another pid, and registers anew.
#[cfg(not(loom))]
static LIGHT_BARRIER: AtomicU64 = AtomicU64::new(0);

/// Registers this process (once per pid) so that its fast paths may use
/// [`light_barrier`]; returns whether they may. Called when a handle is about to stop
/// fencing (ring.rs, `count_quiet`), so a process that never streams never registers.
pub(crate) fn prepare_light_barrier() -> bool {
    #[cfg(loom)]
    {
        false
    }
    #[cfg(not(loom))]
    {
        use std::sync::atomic::Ordering::{Acquire, Release};
        let me = u64::from(pid());
        let state = LIGHT_BARRIER.load(Acquire);
        if state >> 1 == me {
            return state & 1 == 1;
        }
        let ok = crate::sys::membarrier_register();
        LIGHT_BARRIER.store((me << 1) | u64::from(ok), Release);
        ok
    }
}

/// Test hook: the pid whose registration is recorded, and whether the kernel accepted.
#[cfg(all(test, not(loom)))]
pub(crate) fn light_barrier_state() -> (u32, bool) {
    let state = LIGHT_BARRIER.load(std::sync::atomic::Ordering::Acquire);
    ((state >> 1) as u32, state & 1 == 1)
}

/// The fast side's barrier between its write and its read (see above), for a process
/// that [`prepare_light_barrier`] registered: a compiler barrier.
#[inline(always)]
pub(crate) fn light_barrier() {
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// The slow side's barrier between its write and its read, after its own
/// `fence(SeqCst)` (ring.rs, `sleeper_barrier`): the kernel's barrier on every CPU
/// running a registered process. Returns `false` if the kernel refused (registered
/// processes' writes may then be missed: sleep in short slices).
pub(crate) fn heavy_barrier() -> bool {
    #[cfg(loom)]
    {
        true
    }
    #[cfg(not(loom))]
    {
        crate::sys::membarrier_global()
    }
}

/// Whether the process `pid` is still running. A zombie counts as dead: it can never
/// finish what it started, and its parent may be the very process waiting on it.
pub(crate) fn pid_alive(pid: u32) -> bool {
    #[cfg(loom)]
    {
        loom_pid::alive(pid)
    }
    #[cfg(not(loom))]
    {
        crate::sys::pid_running(pid)
    }
}

/// Whether time exists: under loom, waits are untimed (a lost wake-up then shows up as
/// a deadlock the model checker reports, instead of being hidden by a timeout).
pub(crate) const TIMED: bool = !cfg!(loom);

/// A futex: a word, plus (under loom) the lock and condition variable that model the
/// kernel's compare-and-sleep.
pub(crate) struct Futex {
    #[cfg(loom)]
    park: loom::sync::Mutex<()>,
    #[cfg(loom)]
    cv: loom::sync::Condvar,
}

impl Futex {
    #[cfg(loom)]
    pub(crate) fn new() -> Futex {
        Futex {
            #[cfg(loom)]
            park: loom::sync::Mutex::new(()),
            #[cfg(loom)]
            cv: loom::sync::Condvar::new(),
        }
    }

    /// Sleeps while `word == expected`, at most `timeout`.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Option<std::time::Duration>,
    ) {
        #[cfg(loom)]
        {
            let _ = timeout;
            let guard = self.park.lock().unwrap();
            if word.load(std::sync::atomic::Ordering::SeqCst) == expected {
                drop(self.cv.wait(guard).unwrap());
            }
        }
        #[cfg(not(loom))]
        crate::sys::futex_wait(word, expected, timeout);
    }

    /// Wakes up to `n` sleepers on `word` (whose value the caller has just changed).
    pub(crate) fn wake(&self, word: &AtomicU32, n: u32) {
        #[cfg(loom)]
        {
            let _ = word;
            let _guard = self.park.lock().unwrap();
            if n == 1 {
                self.cv.notify_one();
            } else {
                self.cv.notify_all();
            }
        }
        #[cfg(not(loom))]
        {
            crate::sys::futex_wake(word, n);
        }
    }
}

/// Under loom every model thread plays a process: it gets a pid, and a test can declare
/// it dead to model a crash.
#[cfg(loom)]
pub(crate) mod loom_pid {
    use std::cell::Cell;

    loom::thread_local! {
        static PID: Cell<u32> = Cell::new(1);
    }
    loom::lazy_static! {
        static ref DEAD: loom::sync::Mutex<Vec<u32>> = loom::sync::Mutex::new(Vec::new());
    }

    /// The pid of the current model thread (1 unless [`set`] was called).
    pub(crate) fn current() -> u32 {
        PID.with(Cell::get)
    }

    /// Gives the current model thread the pid `pid`.
    pub(crate) fn set(pid: u32) {
        PID.with(|p| p.set(pid));
    }

    /// Declares `pid` dead from now on.
    pub(crate) fn kill(pid: u32) {
        DEAD.lock().unwrap().push(pid);
    }

    pub(crate) fn alive(pid: u32) -> bool {
        !DEAD.lock().unwrap().contains(&pid)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Runs turns with the given yield durations (one per yield, in order) until they
    /// are used up; returns on which turns the spinner yielded.
    fn run(sp: &mut Spinner<'_>, yields: &[Duration]) -> Vec<u32> {
        let mut at = Vec::new();
        let mut next = yields.iter();
        let mut turn = 0;
        while next.len() > 0 {
            turn += 1;
            if sp.turn_with(|| *next.next().unwrap()) {
                at.push(turn);
            }
        }
        at
    }

    const BARE: Duration = Duration::from_nanos(200);
    const PEER: Duration = Duration::from_micros(1);
    const CROWD: Duration = Duration::from_micros(300);

    #[test]
    fn a_wait_ended_by_a_peer_on_our_cpu_makes_the_next_wait_yield_first() {
        use std::sync::atomic::Ordering::Relaxed;
        let memory = SpinMemory::default();
        // A fresh handle spins first: it yields at turns 4 and 8 only.
        let mut sp = Spinner::new(&memory, 4);
        assert_eq!(run(&mut sp, &[BARE, PEER]), vec![4, 8]);
        sp.done();
        assert!(
            memory.0.load(Relaxed),
            "ended just after a peer's brief turn"
        );
        // The next wait yields at its first turn, then spins as usual.
        let mut sp = Spinner::new(&memory, 4);
        assert_eq!(run(&mut sp, &[PEER]), vec![1]);
        sp.done();
        assert!(memory.0.load(Relaxed));
        let mut sp = Spinner::new(&memory, 4);
        assert_eq!(run(&mut sp, &[BARE, BARE]), vec![1, 4]);
        sp.done();
        assert!(
            !memory.0.load(Relaxed),
            "nobody else ran: the peer is elsewhere"
        );
        let mut sp = Spinner::new(&memory, 4);
        assert_eq!(run(&mut sp, &[BARE]), vec![4]);
    }

    #[test]
    fn long_yields_and_waits_ended_while_spinning_do_not_count() {
        use std::sync::atomic::Ordering::Relaxed;
        let memory = SpinMemory::default();
        let mut sp = Spinner::new(&memory, 4);
        run(&mut sp, &[CROWD]);
        sp.done();
        assert!(
            !memory.0.load(Relaxed),
            "others ran long: a crowd, not a peer"
        );
        memory.0.store(true, Relaxed);
        let mut sp = Spinner::new(&memory, 4);
        run(&mut sp, &[PEER]);
        // A spin turn after the yield: the wait ended while spinning.
        assert!(!sp.turn_with(|| unreachable!("turn 2 spins")));
        sp.done();
        assert!(!memory.0.load(Relaxed));
    }
}
