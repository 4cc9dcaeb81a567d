//! Cross-process queue benchmark: shmkit's `Queue<T>` beside its peers (a Unix domain
//! socket, a pipe, the `ipc-channel` crate, Python's `multiprocessing.Queue` and
//! `multiprocessing.Pipe`) and the physical floor (two processes bouncing one cache
//! line; memcpy), all in the same run, printed as Markdown tables for
//! docs/BENCHMARKS.md.
//!
//! - W1 ping-pong: one 8-byte message there and back between two processes; median
//!   and 99th percentile of the round trip; shmkit spinning, with the default
//!   spin-then-sleep policy, and sleeping at once.
//! - W2 throughput: 8-byte messages, one producer process to one consumer process, and
//!   four producer processes to four consumer processes.
//! - W3 bandwidth: large messages (64 KiB, 1 MiB, 16 MiB) copied in and out, copied in
//!   and read in place, or written and read in place (zero-copy), beside memcpy,
//!   through a 4-slot queue; the 1 MiB copy rows again through a 2-slot and a 1-slot
//!   queue (smaller working sets for the producer's cache).
//!
//! Every workload runs twice: with both processes pinned to one core, and with the two
//! sides pinned to two different cores (`sched_setaffinity`).
//!
//! Run: `cargo bench --bench queue` (the child processes are this binary re-run; the
//! Python peers are `benches/python/mp_bench.py`, skipped when `python3` is missing).
//! Environment: `SHMKIT_BENCH_SCALE` (default 1.0) scales every count and time budget,
//! e.g. 0.1 for a quick look; `SHMKIT_BENCH_CORES` = `1`, `2` or `1,2` (default) picks
//! the pinnings; `SHMKIT_BENCH_PYTHON=0` skips Python; `SHMKIT_BENCH_ONLY=quick` runs
//! only shmkit's own key rows on two cores (one-process put+get, W1 spin, W2 1→1, W3
//! 1 MiB copy rows and memcpy), one line each, for A/B comparisons of two builds.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ipc_channel::ipc::{
    self, IpcBytesReceiver, IpcOneShotServer, IpcReceiver, IpcSender, IpcSharedMemory,
};
use shmkit::zerocopy::IntoBytes;
use shmkit::{Array, Queue, Segment, Shareable, Value, WaitPolicy};

const ROLE: &str = "SHMKIT_BENCH_ROLE";
const ARGS: &str = "SHMKIT_BENCH_ARGS";
const CPU: &str = "SHMKIT_BENCH_CPU";
const STOP: u64 = u64::MAX;

// ---- Configuration ----------------------------------------------------------------------

fn scale() -> f64 {
    std::env::var("SHMKIT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(1.0)
}

/// `n` scaled, at least `min`.
fn count(n: u64, min: u64) -> u64 {
    ((n as f64 * scale()) as u64).max(min)
}

/// A time budget scaled.
fn budget(secs: f64) -> Duration {
    Duration::from_secs_f64(secs * scale())
}

/// The CPU children are pinned to in the current configuration.
static CHILD_CPU: AtomicUsize = AtomicUsize::new(0);
/// The CPU this process is pinned to.
const PARENT_CPU: usize = 0;

fn pin(cpu: usize) {
    // SAFETY:
    // - `set` is a plain bit set, zeroed, then filled by CPU_SET for a CPU below
    //   CPU_SETSIZE; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity to CPU {cpu}");
    }
}

// ---- Children ---------------------------------------------------------------------------

fn child_on(cpu: usize, role: &str, args: &[&str]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE, role)
        .env(ARGS, args.join(" "))
        .env(CPU, cpu.to_string());
    c
}

fn child(role: &str, args: &[&str]) -> Command {
    child_on(CHILD_CPU.load(Ordering::Relaxed), role, args)
}

fn spawn(role: &str, args: &[&str]) -> Child {
    child(role, args).spawn().unwrap()
}

fn reap(mut kid: Child) {
    let st = kid.wait().unwrap();
    assert!(st.success(), "a child process failed: {st}");
}

fn policy(name: &str) -> WaitPolicy {
    match name {
        "spin" => WaitPolicy::spin(),
        "sleep" => WaitPolicy::sleep(),
        _ => WaitPolicy::default(),
    }
}

/// The cache line both processes bounce (8 bytes at the start of a raw segment).
fn line(seg: &Segment) -> &AtomicU64 {
    // SAFETY:
    // - the data area is at least 8 bytes, 64-aligned, mapped as long as `seg` lives.
    // - both processes access these bytes only atomically.
    unsafe { AtomicU64::from_ptr(seg.as_ptr().cast()) }
}

/// Spins until `f` holds, yielding the CPU every 64 turns, so that two spinners
/// sharing one core still take turns.
fn spin_until(f: impl FnMut() -> bool) {
    spin_until_every(64, f);
}

/// Spins until `f` holds, yielding the CPU every `every` turns (1: at every turn).
fn spin_until_every(every: u32, mut f: impl FnMut() -> bool) {
    let mut i = 0u32;
    while !f() {
        i = i.wrapping_add(1);
        if i % every == 0 {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn wait_gate(gate: &Value<u32>) {
    spin_until(|| gate.atomic_load() != 0);
}

/// Large messages: a sequence number and the payload.
trait Big: Shareable {
    fn seq(&self) -> u64;
    fn set_seq(&mut self, s: u64);
}

macro_rules! big {
    ($t:ident) => {
        impl Big for $t {
            fn seq(&self) -> u64 {
                self.seq
            }
            fn set_seq(&mut self, s: u64) {
                self.seq = s;
            }
        }
    };
}

#[shmkit::shareable(name = "bench-64k")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Msg64K {
    seq: u64,
    data: [u8; (64 << 10) - 8],
}
big!(Msg64K);

#[shmkit::shareable(name = "bench-1m")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Msg1M {
    seq: u64,
    data: [u8; (1 << 20) - 8],
}
big!(Msg1M);

#[shmkit::shareable(name = "bench-16m")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Msg16M {
    seq: u64,
    data: [u8; (16 << 20) - 8],
}
big!(Msg16M);

/// Heap memory for one `T`, 8-aligned, filled with `byte` (faulted in), never a `T` on
/// the stack.
fn heap<T: Big>(byte: u8) -> Vec<u64> {
    vec![u64::from_ne_bytes([byte; 8]); std::mem::size_of::<T>() / 8]
}

fn as_msg<T: Big>(buf: &mut [u64]) -> &mut T {
    T::mut_from_bytes(buf.as_mut_bytes()).unwrap()
}

fn run_child(role: &str, args: Vec<String>) {
    if let Some(cpu) = std::env::var(CPU).ok().and_then(|c| c.parse().ok()) {
        pin(cpu);
    }
    match role {
        "floor" => {
            let seg = Segment::open(&args[0]).unwrap();
            let l = line(&seg);
            let every: u32 = args[1].parse().unwrap();
            let mut expect = 1;
            loop {
                spin_until_every(every, || {
                    let v = l.load(Ordering::Acquire);
                    v == expect || v == STOP
                });
                if l.load(Ordering::Acquire) == STOP {
                    return;
                }
                l.store(expect + 1, Ordering::Release);
                expect += 2;
            }
        }
        "echo" => {
            let ping = Queue::<u64>::open(&args[0])
                .unwrap()
                .with_wait_policy(policy(&args[2]));
            let pong = Queue::<u64>::open(&args[1])
                .unwrap()
                .with_wait_policy(policy(&args[2]));
            loop {
                let v = ping.get().unwrap();
                if v == STOP {
                    return;
                }
                pong.put(v).unwrap();
            }
        }
        "uds-echo" => {
            let mut s = UnixStream::connect(&args[0]).unwrap();
            let mut b = [0u8; 8];
            while s.read_exact(&mut b).is_ok() {
                if u64::from_ne_bytes(b) == STOP {
                    return;
                }
                s.write_all(&b).unwrap();
            }
        }
        "pipe-echo" => {
            let (mut i, mut o) = (std::io::stdin().lock(), std::io::stdout().lock());
            let mut b = [0u8; 8];
            while i.read_exact(&mut b).is_ok() {
                if u64::from_ne_bytes(b) == STOP {
                    return;
                }
                o.write_all(&b).unwrap();
                o.flush().unwrap();
            }
        }
        "ipc-echo" => {
            let (ping_tx, ping_rx) = ipc::channel::<u64>().unwrap();
            let (pong_tx, pong_rx) = ipc::channel::<u64>().unwrap();
            let boot = IpcSender::connect(args[0].clone()).unwrap();
            boot.send((ping_tx, pong_rx)).unwrap();
            loop {
                let v = ping_rx.recv().unwrap();
                if v == STOP {
                    return;
                }
                pong_tx.send(v).unwrap();
            }
        }
        "producer" => {
            let q = Queue::<u64>::open(&args[0])
                .unwrap()
                .with_wait_policy(policy(&args[3]));
            let gate = Value::<u32>::open(&args[1]).unwrap();
            let n: u64 = args[2].parse().unwrap();
            wait_gate(&gate);
            if args[3] == "batch" {
                let mut buf = [0u64; 64];
                for start in (0..n).step_by(64) {
                    let k = (n - start).min(64) as usize;
                    for (j, b) in buf[..k].iter_mut().enumerate() {
                        *b = start + j as u64;
                    }
                    q.put_many(&buf[..k]).unwrap();
                }
            } else {
                for i in 0..n {
                    q.put(i).unwrap();
                }
            }
        }
        "uds-producer" | "pipe-producer" => {
            let n: u64 = args[1].parse().unwrap();
            let mut out: Box<dyn Write> = if role == "uds-producer" {
                Box::new(UnixStream::connect(&args[0]).unwrap())
            } else {
                Box::new(std::io::stdout().lock())
            };
            // One write (one system call) per message, as a message-passing peer does.
            for i in 0..n {
                out.write_all(&i.to_ne_bytes()).unwrap();
            }
        }
        "ipc-producer" => {
            let (tx, rx) = ipc::channel::<u64>().unwrap();
            let boot = IpcSender::connect(args[0].clone()).unwrap();
            boot.send(rx).unwrap();
            let gate = Value::<u32>::open(&args[1]).unwrap();
            let n: u64 = args[2].parse().unwrap();
            wait_gate(&gate);
            for i in 0..n {
                tx.send(i).unwrap();
            }
        }
        "mpmc-producer" => {
            let q = Queue::<u64>::open(&args[0]).unwrap();
            let gate = Value::<u32>::open(&args[1]).unwrap();
            let id: u64 = args[2].parse().unwrap();
            let n: u64 = args[3].parse().unwrap();
            wait_gate(&gate);
            for i in 0..n {
                q.put((id << 48) | i).unwrap();
            }
        }
        "mpmc-consumer" => {
            let q = Queue::<u64>::open(&args[0]).unwrap();
            let gate = Value::<u32>::open(&args[1]).unwrap();
            let counts = Array::<u64>::open(&args[2]).unwrap();
            let me: usize = args[3].parse().unwrap();
            let mut last = [None::<u64>; 4];
            let mut n = 0u64;
            wait_gate(&gate);
            loop {
                let v = q.get().unwrap();
                if v == STOP {
                    break;
                }
                let (p, seq) = ((v >> 48) as usize, v & ((1 << 48) - 1));
                // Per-producer order holds for what one consumer sees.
                assert!(last[p].is_none_or(|l| l < seq), "producer {p} out of order");
                last[p] = Some(seq);
                n += 1;
            }
            counts.set(me, n).unwrap();
        }
        "big-producer" => {
            let n: u64 = args[3].parse().unwrap();
            match args[0].as_str() {
                "64k" => big_producer::<Msg64K>(&args[1], &args[2], n),
                "1m" => big_producer::<Msg1M>(&args[1], &args[2], n),
                "16m" => big_producer::<Msg16M>(&args[1], &args[2], n),
                other => panic!("unknown size {other}"),
            }
        }
        "uds-big-producer" | "pipe-big-producer" => {
            let n: u64 = args[1].parse().unwrap();
            let mut buf = heap::<Msg1M>(7);
            let mut out: Box<dyn Write> = if role == "uds-big-producer" {
                Box::new(UnixStream::connect(&args[0]).unwrap())
            } else {
                Box::new(std::io::stdout().lock())
            };
            for i in 0..n {
                as_msg::<Msg1M>(&mut buf).set_seq(i);
                out.write_all(buf.as_bytes()).unwrap();
            }
        }
        "ipc-big-producer" => {
            let (tx, rx) = ipc::bytes_channel().unwrap();
            let boot = IpcSender::connect(args[0].clone()).unwrap();
            boot.send(rx).unwrap();
            let n: u64 = args[1].parse().unwrap();
            let mut buf = heap::<Msg1M>(7);
            for i in 0..n {
                as_msg::<Msg1M>(&mut buf).set_seq(i);
                tx.send(buf.as_bytes()).unwrap();
            }
        }
        "ipc-shm-producer" => {
            let (tx, rx) = ipc::channel::<IpcSharedMemory>().unwrap();
            let boot = IpcSender::connect(args[0].clone()).unwrap();
            boot.send(rx).unwrap();
            let n: u64 = args[1].parse().unwrap();
            let mut buf = heap::<Msg1M>(7);
            for i in 0..n {
                as_msg::<Msg1M>(&mut buf).set_seq(i);
                tx.send(IpcSharedMemory::from_bytes(buf.as_bytes()))
                    .unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// W3 producer: `n` messages of `T` in `mode`: "copy" and "one-copy" put a prepared
/// message by reference; "zero-copy" reserves a slot, writes the sequence number in
/// place and commits.
fn big_producer<T: Big>(name: &str, mode: &str, n: u64) {
    let q = Queue::<T>::open(name).unwrap();
    if mode == "zero-copy" {
        for i in 0..n {
            let mut slot = q.reserve().unwrap();
            slot.set_seq(i);
            slot.commit();
        }
    } else {
        let mut buf = heap::<T>(7);
        for i in 0..n {
            let m = as_msg::<T>(&mut buf);
            m.set_seq(i);
            q.put_ref(m).unwrap();
        }
    }
}

// ---- Measurements -----------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Stats {
    trips: usize,
    median: Duration,
    p99: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        trips: v.len(),
        median: v[v.len() / 2],
        p99: v[v.len() * 99 / 100],
    }
}

/// Times round trips of `trip`, after a tenth as many untimed ones: `max` of them, or
/// fewer if `limit` runs out first (at least 100).
fn round_trips(max: u64, limit: Duration, mut trip: impl FnMut(u64)) -> Stats {
    for i in 0..(max / 10).max(10) {
        trip(i);
    }
    let mut v = Vec::with_capacity(max as usize);
    let end = Instant::now() + limit;
    let mut i = 0;
    while (i as u64) < max && (i < 100 || Instant::now() < end) {
        let t = Instant::now();
        trip(i as u64);
        v.push(t.elapsed());
        i += 1;
    }
    stats(v)
}

fn tag() -> String {
    format!("bench-{}", std::process::id())
}

fn w1_floor(n: u64) -> Stats {
    let name = format!("{}-line", tag());
    let seg = Segment::create(&name, 64).unwrap();
    let l = line(&seg);
    // The best a spinner can do: on one core, give the CPU to the peer at once (it
    // cannot answer before); on two, spin (it answers in well under a microsecond).
    let every: u32 = if CHILD_CPU.load(Ordering::Relaxed) == PARENT_CPU {
        1
    } else {
        64
    };
    let kid = spawn("floor", &[&name, &every.to_string()]);
    let mut next = 1u64;
    let s = round_trips(n, budget(1.0), |_| {
        l.store(next, Ordering::Release);
        spin_until_every(every, || l.load(Ordering::Acquire) == next + 1);
        next += 2;
    });
    l.store(STOP, Ordering::Release);
    reap(kid);
    s
}

/// Voluntary context switches (sleeps) so far: this process, and its waited-for children.
fn sleeps() -> (i64, i64) {
    let get = |who| {
        let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY:
        // - `u` is a writable rusage; getrusage writes it and nothing else.
        let rc = unsafe { libc::getrusage(who, u.as_mut_ptr()) };
        assert_eq!(rc, 0, "getrusage");
        // SAFETY:
        // - getrusage returned 0, so it initialized `u` (zeroed before anyway).
        unsafe { u.assume_init() }.ru_nvcsw
    };
    (get(libc::RUSAGE_SELF), get(libc::RUSAGE_CHILDREN))
}

/// W1 for the shmkit queue; also how often each side slept per round trip (voluntary
/// context switches, this process and the echo child).
fn w1_shmkit(n: u64, mode: &str) -> (Stats, f64, f64) {
    let (a, b) = (
        format!("{}-ping-{mode}", tag()),
        format!("{}-pong-{mode}", tag()),
    );
    let ping = Queue::<u64>::create(&a, 8)
        .unwrap()
        .with_wait_policy(policy(mode));
    let pong = Queue::<u64>::create(&b, 8)
        .unwrap()
        .with_wait_policy(policy(mode));
    let (self0, kids0) = sleeps();
    let kid = spawn("echo", &[&a, &b, mode]);
    let s = round_trips(n, budget(1.5), |i| {
        ping.put(i).unwrap();
        assert_eq!(pong.get().unwrap(), i);
    });
    ping.put(STOP).unwrap();
    reap(kid);
    let (self1, kids1) = sleeps();
    let trips = (s.trips as u64 + (n / 10).max(10)) as f64;
    (
        s,
        (self1 - self0) as f64 / trips,
        (kids1 - kids0) as f64 / trips,
    )
}

fn uds_listener(what: &str) -> (UnixListener, String) {
    let path = format!("/tmp/shmkit-{}-{what}.sock", tag());
    let _ = std::fs::remove_file(&path);
    (UnixListener::bind(&path).unwrap(), path)
}

fn w1_uds(n: u64) -> Stats {
    let (l, path) = uds_listener("w1");
    let kid = spawn("uds-echo", &[&path]);
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0u8; 8];
    let st = round_trips(n, budget(1.5), |i| {
        s.write_all(&i.to_ne_bytes()).unwrap();
        s.read_exact(&mut b).unwrap();
    });
    s.write_all(&STOP.to_ne_bytes()).unwrap();
    reap(kid);
    let _ = std::fs::remove_file(&path);
    st
}

fn w1_pipe(n: u64) -> Stats {
    let mut kid = child("pipe-echo", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = kid.stdin.take().unwrap();
    let mut from = kid.stdout.take().unwrap();
    let mut b = [0u8; 8];
    let st = round_trips(n, budget(1.5), |i| {
        to.write_all(&i.to_ne_bytes()).unwrap();
        from.read_exact(&mut b).unwrap();
    });
    to.write_all(&STOP.to_ne_bytes()).unwrap();
    reap(kid);
    st
}

fn w1_ipc(n: u64) -> Stats {
    let (server, name) = IpcOneShotServer::<(IpcSender<u64>, IpcReceiver<u64>)>::new().unwrap();
    let kid = spawn("ipc-echo", &[&name]);
    let (_, (tx, rx)) = server.accept().unwrap();
    let st = round_trips(n, budget(1.5), |i| {
        tx.send(i).unwrap();
        assert_eq!(rx.recv().unwrap(), i);
    });
    tx.send(STOP).unwrap();
    reap(kid);
    st
}

/// Runs the Python driver; `None` (with the reason) when python3 cannot run it.
fn python(workload: &str, n: u64, limit: Duration) -> Result<Vec<(String, f64)>, String> {
    if std::env::var("SHMKIT_BENCH_PYTHON").as_deref() == Ok("0") {
        return Err("skipped (SHMKIT_BENCH_PYTHON=0)".into());
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/mp_bench.py");
    let out = Command::new("python3")
        .args([
            script,
            workload,
            &n.to_string(),
            &format!("{:.3}", limit.as_secs_f64()),
            &PARENT_CPU.to_string(),
            &CHILD_CPU.load(Ordering::Relaxed).to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!("python3 failed: {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

fn field(kv: &[(String, f64)], key: &str) -> f64 {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .unwrap_or(f64::NAN)
}

fn python_w1(workload: &str, n: u64) -> Result<Stats, String> {
    let kv = python(workload, n, budget(1.5))?;
    let ns = |k| Duration::from_nanos(field(&kv, k) as u64);
    Ok(Stats {
        trips: field(&kv, "trips") as usize,
        median: ns("median_ns"),
        p99: ns("p99_ns"),
    })
}

fn python_rate(workload: &str, n: u64) -> Result<f64, String> {
    Ok(field(&python(workload, n, budget(1.0))?, "rate"))
}

/// Messages per second, 1 producer process -> this process.
fn w2_shmkit(n: u64, mode: &str) -> f64 {
    let (qn, gn) = (
        format!("{}-w2-{mode}", tag()),
        format!("{}-w2-gate-{mode}", tag()),
    );
    let q = Queue::<u64>::create(&qn, 4096)
        .unwrap()
        .with_wait_policy(policy(mode));
    let gate = Value::<u32>::create(&gn, 0).unwrap();
    let kid = spawn("producer", &[&qn, &gn, &n.to_string(), mode]);
    let t = Instant::now();
    gate.atomic_store(1);
    if mode == "batch" {
        let mut buf = [0u64; 64];
        let mut got = 0;
        while got < n {
            let k = q.get_many(&mut buf).unwrap();
            assert_eq!(buf[0], got);
            got += k as u64;
        }
    } else {
        for i in 0..n {
            assert_eq!(q.get().unwrap(), i);
        }
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    rate
}

fn w2_stream(n: u64, uds: bool) -> f64 {
    let t;
    let kid;
    let mut reader: Box<dyn Read>;
    let mut path = None;
    if uds {
        let (l, p) = uds_listener("w2");
        kid = spawn("uds-producer", &[&p, &n.to_string()]);
        let (s, _) = l.accept().unwrap();
        t = Instant::now();
        reader = Box::new(BufReader::with_capacity(64 * 1024, s));
        path = Some(p);
    } else {
        let mut k = child("pipe-producer", &["-", &n.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        t = Instant::now();
        reader = Box::new(BufReader::with_capacity(
            64 * 1024,
            k.stdout.take().unwrap(),
        ));
        kid = k;
    }
    let mut b = [0u8; 8];
    for i in 0..n {
        reader.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_ne_bytes(b), i);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    rate
}

fn w2_ipc(n: u64) -> f64 {
    let gn = format!("{}-w2-ipc-gate", tag());
    let gate = Value::<u32>::create(&gn, 0).unwrap();
    let (server, name) = IpcOneShotServer::<IpcReceiver<u64>>::new().unwrap();
    let kid = spawn("ipc-producer", &[&name, &gn, &n.to_string()]);
    let (_, rx) = server.accept().unwrap();
    let t = Instant::now();
    gate.atomic_store(1);
    for i in 0..n {
        assert_eq!(rx.recv().unwrap(), i);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    rate
}

/// Messages per second through one queue, 4 producer processes to 4 consumer
/// processes: from the start signal until every consumer has exited.
fn w2_mpmc(n: u64) -> f64 {
    let per = n / 4;
    let (qn, gn, cn) = (
        format!("{}-mpmc", tag()),
        format!("{}-mpmc-gate", tag()),
        format!("{}-mpmc-counts", tag()),
    );
    let q = Queue::<u64>::create(&qn, 4096).unwrap();
    let gate = Value::<u32>::create(&gn, 0).unwrap();
    let counts = Array::<u64>::create(&cn, 4).unwrap();
    let producer_cpu = CHILD_CPU.load(Ordering::Relaxed);
    let producers: Vec<Child> = (0..4)
        .map(|id| {
            child_on(
                producer_cpu,
                "mpmc-producer",
                &[&qn, &gn, &id.to_string(), &per.to_string()],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let consumers: Vec<Child> = (0..4)
        .map(|id| {
            child_on(
                PARENT_CPU,
                "mpmc-consumer",
                &[&qn, &gn, &cn, &id.to_string()],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let t = Instant::now();
    gate.atomic_store(1);
    for p in producers {
        reap(p);
    }
    for _ in 0..4 {
        q.put(STOP).unwrap();
    }
    for c in consumers {
        reap(c);
    }
    let rate = (per * 4) as f64 / t.elapsed().as_secs_f64();
    let got: u64 = (0..4).map(|i| counts.get(i).unwrap()).sum();
    assert_eq!(got, per * 4, "every message received exactly once");
    rate
}

/// memcpy bandwidth for `size`-byte buffers, in one process, GiB/s.
fn memcpy_gib_s(size: usize) -> f64 {
    let src = vec![1u8; size];
    let mut dst = vec![0u8; size];
    let reps = ((2u64 << 30) / size as u64).max(16);
    let reps = count(reps, 16);
    let t = Instant::now();
    for _ in 0..reps {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    }
    (reps as f64 * size as f64) / t.elapsed().as_secs_f64() / (1u64 << 30) as f64
}

/// memcpy bandwidth from one `size`-byte buffer into `ring` destination buffers in
/// turn (the working set of a ring of `ring` slots), in one process, GiB/s.
fn memcpy_ring_gib_s(size: usize, ring: usize) -> f64 {
    let src = vec![1u8; size];
    let mut dst: Vec<Vec<u8>> = (0..ring).map(|_| vec![0u8; size]).collect();
    let reps = count(((2u64 << 30) / size as u64).max(16), 16);
    let t = Instant::now();
    for r in 0..reps as usize {
        let d = &mut dst[r % ring];
        d.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(d);
    }
    (reps as f64 * size as f64) / t.elapsed().as_secs_f64() / (1u64 << 30) as f64
}

/// W3 through a shmkit queue of `T`: messages per second, measured in this process (the
/// consumer) after `warm` untimed messages. Modes: "copy" (put_ref in, get_into out:
/// two copies), "one-copy" (put_ref in, read in place with get_ref), "zero-copy"
/// (reserve/commit, get_ref; only the sequence number is written and read).
fn w3_shmkit<T: Big>(mode: &str, n: u64) -> f64 {
    w3_shmkit_slots::<T>(mode, n, 4)
}

/// [`w3_shmkit`] through a queue of `slots` slots.
fn w3_shmkit_slots<T: Big>(mode: &str, n: u64, slots: usize) -> f64 {
    let size = match std::mem::size_of::<T>() {
        s if s == 64 << 10 => "64k",
        s if s == 1 << 20 => "1m",
        _ => "16m",
    };
    let qn = format!("{}-w3-{size}-{mode}-{slots}", tag());
    let q = Queue::<T>::create(&qn, slots).unwrap();
    let warm = 8;
    let kid = spawn("big-producer", &[size, &qn, mode, &(warm + n).to_string()]);
    let mut out = heap::<T>(0);
    let mut t = Instant::now();
    for i in 0..warm + n {
        if i == warm {
            t = Instant::now();
        }
        let seq = if mode == "copy" {
            let m = as_msg::<T>(&mut out);
            q.get_into(m).unwrap();
            m.seq()
        } else {
            q.get_ref().unwrap().seq()
        };
        assert_eq!(seq, i);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    rate
}

/// W3 1 MiB messages through a stream (UDS or pipe): messages per second.
fn w3_stream(n: u64, uds: bool) -> f64 {
    let warm = 8;
    let total = (warm + n).to_string();
    let kid;
    let mut reader: Box<dyn Read>;
    let mut path = None;
    if uds {
        let (l, p) = uds_listener("w3");
        kid = spawn("uds-big-producer", &[&p, &total]);
        reader = Box::new(l.accept().unwrap().0);
        path = Some(p);
    } else {
        let mut k = child("pipe-big-producer", &["-", &total])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        reader = Box::new(k.stdout.take().unwrap());
        kid = k;
    }
    let mut buf = heap::<Msg1M>(0);
    let mut t = Instant::now();
    for i in 0..warm + n {
        if i == warm {
            t = Instant::now();
        }
        reader.read_exact(buf.as_mut_bytes()).unwrap();
        assert_eq!(as_msg::<Msg1M>(&mut buf).seq(), i);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    rate
}

/// W3 1 MiB messages through ipc-channel: a bytes channel (copied through a socket),
/// or an `IpcSharedMemory` per message (its shared-memory path).
fn w3_ipc(n: u64, shm: bool) -> f64 {
    let warm = 8;
    let total = (warm + n).to_string();
    let check = |i: u64, bytes: &[u8]| {
        assert_eq!(u64::from_ne_bytes(bytes[..8].try_into().unwrap()), i);
    };
    let mut t = Instant::now();
    let kid;
    if shm {
        let (server, name) = IpcOneShotServer::<IpcReceiver<IpcSharedMemory>>::new().unwrap();
        kid = spawn("ipc-shm-producer", &[&name, &total]);
        let (_, rx) = server.accept().unwrap();
        for i in 0..warm + n {
            if i == warm {
                t = Instant::now();
            }
            check(i, &rx.recv().unwrap());
        }
    } else {
        let (server, name) = IpcOneShotServer::<IpcBytesReceiver>::new().unwrap();
        kid = spawn("ipc-big-producer", &[&name, &total]);
        let (_, rx) = server.accept().unwrap();
        for i in 0..warm + n {
            if i == warm {
                t = Instant::now();
            }
            check(i, &rx.recv().unwrap());
        }
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    reap(kid);
    rate
}

// ---- Report -----------------------------------------------------------------------------

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn rate_m(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.0} k", r / 1e3)
    } else if r >= 1e3 {
        format!("{:.1} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// One configuration's key figures, for the targets.
struct Key {
    floor: f64,
    spin: f64,
    default: f64,
    sleep: f64,
    uds: f64,
    pipe: f64,
    w2: f64,
    w2_uds: f64,
    w2_pyq: Option<f64>,
    w3_copy: f64,
    w3_one_copy: f64,
    /// 1 MiB through a 2-slot and a 1-slot ring: (copy in and out, one copy), GiB/s.
    w3_small: [(f64, f64); 2],
    memcpy_1m: f64,
    memcpy_ring_1m: f64,
    zero_copy: Vec<f64>,
}

fn run_config(cores: usize) -> Key {
    CHILD_CPU.store(if cores == 1 { PARENT_CPU } else { 1 }, Ordering::Relaxed);
    let where_ = if cores == 1 {
        "both processes pinned to CPU 0"
    } else {
        "this process (the timing side) pinned to CPU 0, the other to CPU 1"
    };
    println!(
        "### {cores} core{}: {where_}\n",
        if cores == 1 { "" } else { "s" }
    );

    let fast = count(200_000, 1000);
    let slow = count(20_000, 200);
    println!("#### W1 ping-pong: 8-byte round trip between two processes\n");
    println!("| transport | round trips | median | p99 | median / floor | UDS median / this |");
    println!("|---|---:|---:|---:|---:|---:|");
    let floor = w1_floor(fast);
    let (spin, spin_sleeps, _) = w1_shmkit(fast, "spin");
    let (default, default_sleeps, _) = w1_shmkit(slow, "default");
    let (sleep, sleep_self, sleep_echo) = w1_shmkit(slow, "sleep");
    let uds = w1_uds(slow);
    let pipe = w1_pipe(slow);
    let ipc = w1_ipc(slow);
    let mut rows: Vec<(&str, Result<Stats, String>)> = vec![
        ("floor: one cache line bounced with atomics", Ok(floor)),
        ("shmkit Queue, spin", Ok(spin)),
        (
            "shmkit Queue, default policy (spin 50 µs, then sleep)",
            Ok(default),
        ),
        ("shmkit Queue, sleep at once (WaitPolicy::sleep)", Ok(sleep)),
        ("Unix domain socket (blocking)", Ok(uds)),
        ("pipe pair (blocking)", Ok(pipe)),
        ("ipc-channel (blocking)", Ok(ipc)),
    ];
    rows.push((
        "Python multiprocessing.Pipe (send_bytes/recv_bytes)",
        python_w1("w1-pipe", slow),
    ));
    rows.push((
        "Python multiprocessing.Queue (two queues)",
        python_w1("w1-queue", slow),
    ));
    let f = floor.median.as_secs_f64();
    let u = uds.median.as_secs_f64();
    for (what, s) in &rows {
        match s {
            Ok(s) => println!(
                "| {what} | {} | {} | {} | {:.1}× | {:.2}× |",
                s.trips,
                us(s.median),
                us(s.p99),
                s.median.as_secs_f64() / f,
                u / s.median.as_secs_f64()
            ),
            Err(why) => println!("| {what} | – | – | – | – | {why} |"),
        }
    }
    println!(
        "\nSleeps (voluntary context switches) per round trip: spin {spin_sleeps:.2}, \
         default {default_sleeps:.2}, sleep at once {sleep_self:.2} here and \
         {sleep_echo:.2} in the echo process.\n"
    );

    println!("#### W2 throughput: 8-byte messages, one-way\n");
    println!("| transport | producers → consumers | messages | messages/s | ratio to UDS |");
    println!("|---|---|---:|---:|---:|");
    let big = count(5_000_000, 10_000);
    let small = count(1_000_000, 10_000);
    let py = count(200_000, 2_000);
    let w2 = w2_shmkit(big, "default");
    let w2_uds = w2_stream(small, true);
    let mut rows: Vec<(&str, &str, u64, Result<f64, String>)> = vec![
        (
            "shmkit Queue (capacity 4096), put/get, default policy",
            "1 → 1",
            big,
            Ok(w2),
        ),
        (
            "shmkit Queue, put/get, spin",
            "1 → 1",
            big,
            Ok(w2_shmkit(big, "spin")),
        ),
        (
            "shmkit Queue, put_many/get_many batches of 64",
            "1 → 1",
            big,
            Ok(w2_shmkit(big, "batch")),
        ),
        (
            "Unix domain socket, one write per message, buffered reader",
            "1 → 1",
            small,
            Ok(w2_uds),
        ),
        (
            "pipe, one write per message, buffered reader",
            "1 → 1",
            small,
            Ok(w2_stream(small, false)),
        ),
        ("ipc-channel", "1 → 1", small, Ok(w2_ipc(small))),
    ];
    let pyq = python_rate("w2-queue", py);
    rows.push(("Python multiprocessing.Queue", "1 → 1", py, pyq.clone()));
    rows.push((
        "Python multiprocessing.Pipe (send_bytes)",
        "1 → 1",
        py,
        python_rate("w2-pipe", py),
    ));
    rows.push((
        "shmkit Queue, put/get, default policy",
        "4 → 4",
        big,
        Ok(w2_mpmc(big)),
    ));
    rows.push((
        "Python multiprocessing.Queue",
        "4 → 4",
        py,
        python_rate("w2-queue-4x4", py),
    ));
    for (what, shape, n, r) in &rows {
        match r {
            Ok(r) => println!(
                "| {what} | {shape} | {n} | {} | {:.2}× |",
                rate_m(*r),
                r / w2_uds
            ),
            Err(why) => println!("| {what} | {shape} | – | – | {why} |"),
        }
    }
    println!(
        "\n4 → 4: four producer processes on CPU {}, four consumer processes on CPU {PARENT_CPU}, \
         one queue; from the start signal until every consumer has exited.\n",
        CHILD_CPU.load(Ordering::Relaxed)
    );

    println!("#### W3 large messages, one-way\n");
    println!("| transport | size | messages | messages/s | GiB/s | ratio to memcpy of that size |");
    println!("|---|---|---:|---:|---:|---:|");
    let sizes = [64usize << 10, 1 << 20, 16 << 20];
    let memcpy: Vec<f64> = sizes.iter().map(|&s| memcpy_gib_s(s)).collect();
    let gib = |rate: f64, size: usize| rate * size as f64 / (1u64 << 30) as f64;
    let row = |what: &str, size: usize, n: u64, rate: f64, floor: f64| {
        println!(
            "| {what} | {} | {n} | {} | {:.1} | {:.2}× |",
            label(size),
            rate_m(rate),
            gib(rate, size),
            gib(rate, size) / floor
        );
    };
    for (i, &size) in sizes.iter().enumerate() {
        println!(
            "| memcpy (one process, `copy_from_slice`) | {} | – | – | {:.1} | 1.00× |",
            label(size),
            memcpy[i]
        );
    }
    let ring_floor = memcpy_ring_gib_s(1 << 20, 4);
    println!(
        "| memcpy into 4 buffers in turn (a 4-slot ring's working set) | 1 MiB | – | – | {ring_floor:.1} | {:.2}× |",
        ring_floor / memcpy[1]
    );
    let ring2_floor = memcpy_ring_gib_s(1 << 20, 2);
    println!(
        "| memcpy into 2 buffers in turn (a 2-slot ring's working set) | 1 MiB | – | – | {ring2_floor:.1} | {:.2}× |",
        ring2_floor / memcpy[1]
    );
    // About 2 GiB of copies per copying row; a fixed count for zero-copy rows.
    let copies = |size: usize| count(((2u64 << 30) / size as u64).max(64), 32);
    // Zero-copy: the three sizes in turn, five rounds, the median of each size (so that
    // a disturbance of the shared machine hits every size alike).
    let zc_n = count(100_000, 1000);
    let mut zc_runs: [Vec<f64>; 3] = Default::default();
    for _ in 0..5 {
        zc_runs[0].push(w3_shmkit::<Msg64K>("zero-copy", zc_n));
        zc_runs[1].push(w3_shmkit::<Msg1M>("zero-copy", zc_n));
        zc_runs[2].push(w3_shmkit::<Msg16M>("zero-copy", zc_n));
    }
    let zero: Vec<f64> = zc_runs
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    let mut copy_1m = 0.0;
    let mut one_copy_1m = 0.0;
    for (i, &size) in sizes.iter().enumerate() {
        let n = copies(size);
        let (c, o) = match i {
            0 => (
                w3_shmkit::<Msg64K>("copy", n),
                w3_shmkit::<Msg64K>("one-copy", n),
            ),
            1 => (
                w3_shmkit::<Msg1M>("copy", n),
                w3_shmkit::<Msg1M>("one-copy", n),
            ),
            _ => (
                w3_shmkit::<Msg16M>("copy", n),
                w3_shmkit::<Msg16M>("one-copy", n),
            ),
        };
        row(
            "shmkit, copy in and out (put_ref + get_into)",
            size,
            n,
            c,
            memcpy[i],
        );
        row(
            "shmkit, one copy (put_ref + get_ref in place)",
            size,
            n,
            o,
            memcpy[i],
        );
        row(
            "shmkit, zero-copy (reserve/commit + get_ref), median of 5",
            size,
            zc_n,
            zero[i],
            memcpy[i],
        );
        if i == 1 {
            copy_1m = c;
            one_copy_1m = o;
        }
    }
    // The same 1 MiB rows through smaller rings: the producer's working set (source and
    // slots) shrinks from 5 MiB to 3 MiB and 2 MiB (the memcpy floor's).
    let n = copies(1 << 20);
    let mut small = [(0.0, 0.0); 2];
    for (j, slots) in [2usize, 1].into_iter().enumerate() {
        let c = w3_shmkit_slots::<Msg1M>("copy", n, slots);
        let o = w3_shmkit_slots::<Msg1M>("one-copy", n, slots);
        let what = |m: &str| format!("shmkit, {m}, {slots}-slot ring");
        row(&what("copy in and out"), 1 << 20, n, c, memcpy[1]);
        row(&what("one copy"), 1 << 20, n, o, memcpy[1]);
        small[j] = (gib(c, 1 << 20), gib(o, 1 << 20));
    }
    row(
        "Unix domain socket",
        1 << 20,
        n,
        w3_stream(n, true),
        memcpy[1],
    );
    row("pipe", 1 << 20, n, w3_stream(n, false), memcpy[1]);
    row(
        "ipc-channel, bytes channel",
        1 << 20,
        n,
        w3_ipc(n, false),
        memcpy[1],
    );
    row(
        "ipc-channel, one IpcSharedMemory per message",
        1 << 20,
        n,
        w3_ipc(n, true),
        memcpy[1],
    );
    println!(
        "\nZero-copy rows write and read only the message's sequence number in place (the \
         cost of the transport, whatever the payload); the copy rows move every byte.\n"
    );
    Key {
        floor: f,
        spin: spin.median.as_secs_f64(),
        default: default.median.as_secs_f64(),
        sleep: sleep.median.as_secs_f64(),
        uds: u,
        pipe: pipe.median.as_secs_f64(),
        w2,
        w2_uds,
        w2_pyq: pyq.ok(),
        w3_copy: gib(copy_1m, 1 << 20),
        w3_one_copy: gib(one_copy_1m, 1 << 20),
        w3_small: small,
        memcpy_1m: memcpy[1],
        memcpy_ring_1m: ring_floor,
        zero_copy: zero,
    }
}

/// `SHMKIT_BENCH_ONLY=quick` (or `w2`, `w3`: only those rows): shmkit's key rows on
/// two cores (one with `SHMKIT_BENCH_CORES=1`), one `key value` line each.
fn quick(only: &str) {
    let one_core = std::env::var("SHMKIT_BENCH_CORES").is_ok_and(|c| c.trim() == "1");
    CHILD_CPU.store(if one_core { PARENT_CPU } else { 1 }, Ordering::Relaxed);
    if only == "w2" {
        quick_w2();
        return;
    }
    if only == "w3" {
        quick_w3(true);
        return;
    }
    let q = Queue::<u64>::create(&format!("{}-solo", tag()), 4096).unwrap();
    let n = count(20_000_000, 10_000);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..n {
            q.put(std::hint::black_box(i)).unwrap();
            std::hint::black_box(q.get().unwrap());
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    drop(q);
    println!("solo_put_get_ns {best:.2}");
    println!(
        "w1_spin_us {:.3}",
        w1_shmkit(count(200_000, 1000), "spin")
            .0
            .median
            .as_secs_f64()
            * 1e6
    );
    quick_w2();
    quick_w3(false);
}

/// The quick mode's W2 rows.
fn quick_w2() {
    let big = count(5_000_000, 10_000);
    for mode in ["default", "spin", "batch"] {
        println!("w2_{mode}_mps {:.2}", w2_shmkit(big, mode) / 1e6);
    }
}

/// The quick mode's W3 rows at 1 MiB; `slots` adds the 2-slot and 1-slot queues.
fn quick_w3(slots: bool) {
    let n = count(2048, 32);
    let gib = |rate: f64| rate * (1u64 << 20) as f64 / (1u64 << 30) as f64;
    println!("memcpy_1m_gibs {:.2}", memcpy_gib_s(1 << 20));
    println!(
        "w3_one_copy_1m_gibs {:.2}",
        gib(w3_shmkit::<Msg1M>("one-copy", n))
    );
    println!("w3_copy_1m_gibs {:.2}", gib(w3_shmkit::<Msg1M>("copy", n)));
    if !slots {
        return;
    }
    for (k, suffix) in [(2, "2slots"), (1, "1slot")] {
        for mode in ["one-copy", "copy"] {
            println!(
                "w3_{}_1m_{suffix}_gibs {:.2}",
                mode.replace('-', "_"),
                gib(w3_shmkit_slots::<Msg1M>(mode, n, k))
            );
        }
    }
}

fn label(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{} KiB", size >> 10)
    }
}

fn targets(cores: usize, k: &Key) {
    let yes = |b: bool| if b { "met" } else { "NOT met" };
    println!(
        "#### Targets, {cores} core{}\n",
        if cores == 1 { "" } else { "s" }
    );
    println!("| target | measured | verdict |");
    println!("|---|---|---|");
    println!(
        "| W1 spin within 2× of the cache-line floor | {:.2}× | {} |",
        k.spin / k.floor,
        yes(k.spin / k.floor <= 2.0)
    );
    println!(
        "| W1 spin ≥ 20× faster than UDS | {:.1}× (the floor itself: {:.1}×) | {} |",
        k.uds / k.spin,
        k.uds / k.floor,
        yes(k.uds / k.spin >= 20.0)
    );
    println!(
        "| W1 blocking (default policy) faster than UDS and pipe | {:.1}× UDS, {:.1}× pipe | {} |",
        k.uds / k.default,
        k.pipe / k.default,
        yes(k.default < k.uds && k.default < k.pipe)
    );
    println!(
        "| W1 blocking (sleep at once) faster than UDS and pipe | {:.2}× UDS, {:.2}× pipe | {} |",
        k.uds / k.sleep,
        k.pipe / k.sleep,
        yes(k.sleep < k.uds && k.sleep < k.pipe)
    );
    match k.w2_pyq {
        Some(p) => println!(
            "| W2 1→1 ≥ 100× Python multiprocessing.Queue | {:.0}× | {} |",
            k.w2 / p,
            yes(k.w2 / p >= 100.0)
        ),
        None => println!("| W2 1→1 ≥ 100× Python multiprocessing.Queue | no Python | – |"),
    }
    println!(
        "| W2 1→1 ≥ 20× UDS | {:.1}× | {} |",
        k.w2 / k.w2_uds,
        yes(k.w2 / k.w2_uds >= 20.0)
    );
    println!(
        "| W3 copy (put_ref) ≥ 0.8× memcpy (1 MiB), 4-slot ring | one copy {:.2}× memcpy, {:.2}× memcpy into 4 buffers; copy in and out {:.2}× | {} |",
        k.w3_one_copy / k.memcpy_1m,
        k.w3_one_copy / k.memcpy_ring_1m,
        k.w3_copy / k.memcpy_1m,
        yes(k.w3_one_copy / k.memcpy_1m >= 0.8)
    );
    for (slots, (c, o)) in [2, 1].into_iter().zip(k.w3_small) {
        println!(
            "| W3 copy (put_ref) ≥ 0.8× memcpy (1 MiB), {slots}-slot ring | one copy {:.2}× memcpy; copy in and out {:.2}× | {} |",
            o / k.memcpy_1m,
            c / k.memcpy_1m,
            yes(o / k.memcpy_1m >= 0.8)
        );
    }
    let (lo, hi) = k
        .zero_copy
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &z| (lo.min(z), hi.max(z)));
    println!(
        "| W3 zero-copy independent of size (64 KiB … 16 MiB) | {} … {} messages/s (max/min {:.2}) | {} |\n",
        rate_m(lo),
        rate_m(hi),
        hi / lo,
        yes(hi / lo <= 1.5)
    );
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args = std::env::var(ARGS).unwrap_or_default();
        return run_child(&role, args.split(' ').map(str::to_string).collect());
    }
    // Criterion-style arguments from `cargo bench` (e.g. `--bench`) are ignored.
    let cores: Vec<usize> = std::env::var("SHMKIT_BENCH_CORES")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|c| *c == 1 || *c == 2)
        .collect();
    pin(PARENT_CPU);
    if let Ok(only) = std::env::var("SHMKIT_BENCH_ONLY") {
        return quick(&only);
    }
    let started = Instant::now();
    let mut keys = Vec::new();
    for &c in &cores {
        keys.push((c, run_config(c)));
    }
    for (c, k) in &keys {
        targets(*c, k);
    }
    println!(
        "Scale {}, {:.0} s in all.",
        scale(),
        started.elapsed().as_secs_f64()
    );
}
