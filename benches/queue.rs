//! Cross-process queue benchmark: shmkit `Queue<u64>` beside a Unix domain socket, a
//! pipe, and the physical floor (two processes bouncing one cache line; memcpy), all
//! in the same run, printed as Markdown tables for docs/BENCHMARKS.md.
//!
//! - W1 ping-pong: one 8-byte message there and back between two processes; median
//!   and 99th percentile of the round trip, shmkit spinning and blocking.
//! - W2 throughput: 8-byte messages, one producer process to one consumer process.
//!
//! Run: `cargo bench --bench queue` (the child processes are this binary re-run).

use std::io::{BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmkit::{Queue, Segment, Value, WaitPolicy};

const ROLE: &str = "SHMKIT_BENCH_ROLE";
const ARGS: &str = "SHMKIT_BENCH_ARGS";
const STOP: u64 = u64::MAX;

fn child(role: &str, args: &[&str]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE, role).env(ARGS, args.join(" "));
    c
}

fn spawn(role: &str, args: &[&str]) -> Child {
    child(role, args).spawn().unwrap()
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

fn run_child(role: &str, args: Vec<String>) {
    match role {
        "floor" => {
            let seg = Segment::open(&args[0]).unwrap();
            let l = line(&seg);
            let mut expect = 1;
            loop {
                let v = l.load(Ordering::Acquire);
                if v == STOP {
                    return;
                }
                if v == expect {
                    l.store(v + 1, Ordering::Release);
                    expect += 2;
                } else {
                    std::hint::spin_loop();
                }
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
        "producer" => {
            let q = Queue::<u64>::open(&args[0])
                .unwrap()
                .with_wait_policy(policy(&args[3]));
            let gate = Value::<u32>::open(&args[1]).unwrap();
            let n: u64 = args[2].parse().unwrap();
            while gate.atomic_load() == 0 {
                std::hint::spin_loop();
            }
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
        other => panic!("unknown role {other}"),
    }
}

struct Stats {
    median: Duration,
    p99: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        median: v[v.len() / 2],
        p99: v[v.len() * 99 / 100],
    }
}

/// Times `n` round trips of `trip` after `warm` untimed ones.
fn round_trips(n: usize, warm: usize, mut trip: impl FnMut(u64)) -> Stats {
    for i in 0..warm {
        trip(i as u64);
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        trip(i as u64);
        v.push(t.elapsed());
    }
    stats(v)
}

fn tag() -> String {
    format!("bench-{}", std::process::id())
}

fn w1_floor(n: usize) -> Stats {
    let name = format!("{}-line", tag());
    let seg = Segment::create(&name, 64).unwrap();
    let l = line(&seg);
    let mut kid = spawn("floor", &[&name]);
    let mut next = 1u64;
    let s = round_trips(n, n / 10, |_| {
        l.store(next, Ordering::Release);
        while l.load(Ordering::Acquire) != next + 1 {
            std::hint::spin_loop();
        }
        next += 2;
    });
    l.store(STOP, Ordering::Release);
    kid.wait().unwrap();
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
/// context switches, parent and echo child), so that the blocking row shows it blocked.
fn w1_shmkit(n: usize, mode: &str) -> (Stats, f64, f64) {
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
    let mut kid = spawn("echo", &[&a, &b, mode]);
    let s = round_trips(n, n / 10, |i| {
        ping.put(i).unwrap();
        assert_eq!(pong.get().unwrap(), i);
    });
    ping.put(STOP).unwrap();
    kid.wait().unwrap();
    let (self1, kids1) = sleeps();
    let trips = (n + n / 10) as f64;
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

fn w1_uds(n: usize) -> Stats {
    let (l, path) = uds_listener("w1");
    let mut kid = spawn("uds-echo", &[&path]);
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0u8; 8];
    let st = round_trips(n, n / 10, |i| {
        s.write_all(&i.to_ne_bytes()).unwrap();
        s.read_exact(&mut b).unwrap();
    });
    s.write_all(&STOP.to_ne_bytes()).unwrap();
    kid.wait().unwrap();
    let _ = std::fs::remove_file(&path);
    st
}

fn w1_pipe(n: usize) -> Stats {
    let mut kid = child("pipe-echo", &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = kid.stdin.take().unwrap();
    let mut from = kid.stdout.take().unwrap();
    let mut b = [0u8; 8];
    let st = round_trips(n, n / 10, |i| {
        to.write_all(&i.to_ne_bytes()).unwrap();
        from.read_exact(&mut b).unwrap();
    });
    to.write_all(&STOP.to_ne_bytes()).unwrap();
    kid.wait().unwrap();
    st
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
    let mut kid = spawn("producer", &[&qn, &gn, &n.to_string(), mode]);
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
    kid.wait().unwrap();
    rate
}

fn w2_stream(n: u64, uds: bool) -> f64 {
    let t;
    let mut kid;
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
        kid = child("pipe-producer", &["-", &n.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        t = Instant::now();
        reader = Box::new(BufReader::with_capacity(
            64 * 1024,
            kid.stdout.take().unwrap(),
        ));
    }
    let mut b = [0u8; 8];
    for i in 0..n {
        reader.read_exact(&mut b).unwrap();
        assert_eq!(u64::from_ne_bytes(b), i);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    kid.wait().unwrap();
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    rate
}

fn memcpy_gib_s() -> f64 {
    let src = vec![1u8; 1 << 20];
    let mut dst = vec![0u8; 1 << 20];
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    }
    (reps as f64) / t.elapsed().as_secs_f64() / 1024.0
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args = std::env::var(ARGS).unwrap_or_default();
        return run_child(&role, args.split(' ').map(str::to_string).collect());
    }
    let fast = 200_000;
    let slow = 20_000;
    println!("### W1 ping-pong: 8-byte round trip between two processes\n");
    println!("| transport | round trips | median | p99 | median / floor | UDS median / this |");
    println!("|---|---:|---:|---:|---:|---:|");
    let (spin, spin_sleeps, _) = w1_shmkit(fast, "spin");
    let (default, default_sleeps, _) = w1_shmkit(slow, "default");
    let (sleep, sleep_self, sleep_echo) = w1_shmkit(slow, "sleep");
    let rows: Vec<(&str, usize, Stats)> = vec![
        (
            "floor: one cache line bounced with atomics",
            fast,
            w1_floor(fast),
        ),
        ("shmkit Queue, spin", fast, spin),
        (
            "shmkit Queue, default (spin 50 µs, then sleep)",
            slow,
            default,
        ),
        ("shmkit Queue, blocking (sleep at once)", slow, sleep),
        ("Unix domain socket (blocking)", slow, w1_uds(slow)),
        ("pipe pair (blocking)", slow, w1_pipe(slow)),
    ];
    let floor = rows[0].2.median.as_secs_f64();
    let uds = rows[4].2.median.as_secs_f64();
    for (what, n, s) in &rows {
        println!(
            "| {what} | {n} | {} | {} | {:.1}× | {:.1}× |",
            us(s.median),
            us(s.p99),
            s.median.as_secs_f64() / floor,
            uds / s.median.as_secs_f64()
        );
    }
    println!(
        "\nSleeps (voluntary context switches) per round trip: spin {spin_sleeps:.2}, \
         default {default_sleeps:.2}, sleep at once {sleep_self:.2} here and \
         {sleep_echo:.2} in the echo process."
    );
    println!(
        "\n### W2 throughput: 8-byte messages, one producer process to one consumer process\n"
    );
    println!("| transport | messages | messages/s | ratio to UDS |");
    println!("|---|---:|---:|---:|");
    let big = 5_000_000;
    let small = 1_000_000;
    let rows: Vec<(&str, u64, f64)> = vec![
        (
            "shmkit Queue (capacity 4096), put/get, default policy",
            big,
            w2_shmkit(big, "default"),
        ),
        ("shmkit Queue, put/get, spin", big, w2_shmkit(big, "spin")),
        (
            "shmkit Queue, put_many/get_many batches of 64",
            big,
            w2_shmkit(big, "batch"),
        ),
        (
            "Unix domain socket, one write per message, buffered reader",
            small,
            w2_stream(small, true),
        ),
        (
            "pipe, one write per message, buffered reader",
            small,
            w2_stream(small, false),
        ),
    ];
    let uds = rows[3].2;
    for (what, n, r) in &rows {
        println!("| {what} | {n} | {:.2} M | {:.1}× |", r / 1e6, r / uds);
    }
    println!(
        "\nmemcpy floor (1 MiB, in one process): {:.1} GiB/s",
        memcpy_gib_s()
    );
}
