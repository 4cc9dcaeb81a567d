//! Sync primitives against their POSIX equivalents, in one run.
//!
//! - uncontended: shmkit `Semaphore` acquire+release vs `sem_wait`+`sem_post` on a
//!   process-shared `sem_t`; shmkit `RLock` lock+unlock and `Mutex` lock+unlock vs a
//!   process-shared robust pthread mutex (the same as shmkit's Mutex underneath);
//!   shmkit `Event` set+clear and wait-on-set vs the POSIX way to build an event
//!   (a process-shared mutex, a flag and a condvar).
//! - across two processes (the bench binary re-run as a child): one-way wake latency
//!   (round trip / 2) of shmkit `Event` ping-pong vs a process-shared pthread
//!   mutex+condvar ping-pong, and shmkit `Semaphore` ping-pong vs `sem_t` ping-pong.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-sync cargo bench --bench sync`
#![allow(clippy::undocumented_unsafe_blocks)] // bench-only FFI calls, commented inline

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use shmkit::{Event, Mutex, RLock, Segment, Semaphore};

const CHILD_ENV: &str = "SHMKIT_BENCH_CHILD";

/// A process-shared POSIX block living in a raw shmkit segment: two semaphores, a
/// mutex, a condvar and a turn word.
#[repr(C, align(64))]
struct Posix {
    sem_a: libc::sem_t,
    sem_b: libc::sem_t,
    mutex: libc::pthread_mutex_t,
    cond: libc::pthread_cond_t,
    turn: u32,
}

fn posix(seg: &Segment) -> *mut Posix {
    assert!(seg.len() >= std::mem::size_of::<Posix>());
    assert_eq!(seg.as_ptr() as usize % 64, 0);
    seg.as_ptr().cast()
}

fn posix_init(p: *mut Posix) {
    // SAFETY: `p` points to a zeroed, aligned Posix inside a live shared mapping that no
    // other process uses yet; the attr objects are locals initialized before use.
    unsafe {
        assert_eq!(libc::sem_init(&mut (*p).sem_a, 1, 0), 0);
        assert_eq!(libc::sem_init(&mut (*p).sem_b, 1, 0), 0);
        let mut ma: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut ma);
        libc::pthread_mutexattr_setpshared(&mut ma, libc::PTHREAD_PROCESS_SHARED);
        assert_eq!(libc::pthread_mutex_init(&mut (*p).mutex, &ma), 0);
        let mut ca: libc::pthread_condattr_t = std::mem::zeroed();
        libc::pthread_condattr_init(&mut ca);
        libc::pthread_condattr_setpshared(&mut ca, libc::PTHREAD_PROCESS_SHARED);
        assert_eq!(libc::pthread_cond_init(&mut (*p).cond, &ca), 0);
    }
}

fn spawn_child(role: &str, args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{role}\u{1f}{}", args.join("\u{1f}")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn child_main(spec: &str) {
    let parts: Vec<&str> = spec.split('\u{1f}').collect();
    let idle = Duration::from_secs(20);
    match parts[0] {
        "event" => {
            let (ping, pong) = (
                Event::open(parts[1]).unwrap(),
                Event::open(parts[2]).unwrap(),
            );
            while ping.wait_timeout(idle) {
                ping.clear();
                pong.set();
            }
        }
        "sem" => {
            let (ping, pong) = (
                Semaphore::open(parts[1]).unwrap(),
                Semaphore::open(parts[2]).unwrap(),
            );
            while ping.acquire_timeout(idle) {
                pong.release().unwrap();
            }
        }
        "posix" => {
            let seg = Segment::open(parts[1]).unwrap();
            let p = posix(&seg);
            // SAFETY: the parent initialized the block before spawning us and keeps the
            // segment alive until it kills us.
            unsafe {
                libc::pthread_mutex_lock(&mut (*p).mutex);
                loop {
                    while std::ptr::read_volatile(&(*p).turn) != 1 {
                        libc::pthread_cond_wait(&mut (*p).cond, &mut (*p).mutex);
                    }
                    std::ptr::write_volatile(&mut (*p).turn, 0);
                    libc::pthread_cond_broadcast(&mut (*p).cond);
                }
            }
        }
        "posix-sem" => {
            let seg = Segment::open(parts[1]).unwrap();
            let p = posix(&seg);
            // SAFETY: as above.
            unsafe {
                loop {
                    libc::sem_wait(&mut (*p).sem_a);
                    libc::sem_post(&mut (*p).sem_b);
                }
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

fn name(tag: &str) -> String {
    format!("bench-{tag}-{}", std::process::id())
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended");
    let sem = Semaphore::create(&name("u-sem"), 1).unwrap();
    g.bench_function("shmkit Semaphore acquire+release", |b| {
        b.iter(|| {
            sem.acquire();
            sem.release().unwrap();
        })
    });
    let seg = Segment::create(&name("u-posix"), 4096).unwrap();
    let p = posix(&seg);
    posix_init(p);
    // SAFETY: sem_a was initialized by posix_init and lives as long as `seg`.
    unsafe { libc::sem_post(&mut (*p).sem_a) };
    g.bench_function("POSIX sem_wait+sem_post (pshared)", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe {
                libc::sem_wait(&mut (*p).sem_a);
                libc::sem_post(&mut (*p).sem_a);
            }
        })
    });
    let rl = RLock::create(&name("u-rlock")).unwrap();
    g.bench_function("shmkit RLock lock+unlock", |b| {
        b.iter(|| drop(rl.lock().unwrap()))
    });
    let m = Mutex::create(&name("u-mutex")).unwrap();
    g.bench_function("shmkit Mutex lock+unlock", |b| {
        b.iter(|| drop(m.lock().unwrap()))
    });
    g.bench_function("POSIX pthread_mutex lock+unlock (pshared)", |b| {
        b.iter(|| {
            // SAFETY: the mutex was initialized by posix_init and lives as long as `seg`.
            unsafe {
                libc::pthread_mutex_lock(&mut (*p).mutex);
                libc::pthread_mutex_unlock(&mut (*p).mutex);
            }
        })
    });
    let ev = Event::create(&name("u-event")).unwrap();
    g.bench_function("shmkit Event set+clear (no waiter)", |b| {
        b.iter(|| {
            ev.set();
            ev.clear();
        })
    });
    g.bench_function("POSIX event set+clear (mutex, flag, cond_broadcast)", |b| {
        b.iter(|| {
            // SAFETY: the mutex and condvar were initialized by posix_init and live as
            // long as `seg`.
            unsafe {
                libc::pthread_mutex_lock(&mut (*p).mutex);
                std::ptr::write_volatile(&mut (*p).turn, 1);
                libc::pthread_cond_broadcast(&mut (*p).cond);
                libc::pthread_mutex_unlock(&mut (*p).mutex);
                libc::pthread_mutex_lock(&mut (*p).mutex);
                std::ptr::write_volatile(&mut (*p).turn, 0);
                libc::pthread_mutex_unlock(&mut (*p).mutex);
            }
        })
    });
    ev.set();
    g.bench_function("shmkit Event wait (already set)", |b| b.iter(|| ev.wait()));
    // SAFETY: as above.
    unsafe { std::ptr::write_volatile(&mut (*p).turn, 1) };
    g.bench_function("POSIX event wait (already set: mutex, check flag)", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe {
                libc::pthread_mutex_lock(&mut (*p).mutex);
                while std::ptr::read_volatile(&(*p).turn) != 1 {
                    libc::pthread_cond_wait(&mut (*p).cond, &mut (*p).mutex);
                }
                libc::pthread_mutex_unlock(&mut (*p).mutex);
            }
        })
    });
    g.finish();
}

/// Times `iters` round trips with `round_trip`, reporting half (one-way latency).
fn one_way(iters: u64, mut round_trip: impl FnMut()) -> Duration {
    let t0 = Instant::now();
    for _ in 0..iters {
        round_trip();
    }
    t0.elapsed() / 2
}

fn cross_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("wake latency across 2 processes (one way)");
    g.measurement_time(Duration::from_secs(4));

    let (pn, qn) = (name("x-ev-ping"), name("x-ev-pong"));
    let (ping, pong) = (Event::create(&pn).unwrap(), Event::create(&qn).unwrap());
    let mut kid = spawn_child("event", &[&pn, &qn]);
    g.bench_function("shmkit Event set->wait", |b| {
        b.iter_custom(|iters| {
            one_way(iters, || {
                ping.set();
                pong.wait();
                pong.clear();
            })
        })
    });
    let _ = kid.kill();
    let _ = kid.wait();

    let (pn, qn) = (name("x-sem-ping"), name("x-sem-pong"));
    let (ping, pong) = (
        Semaphore::create(&pn, 0).unwrap(),
        Semaphore::create(&qn, 0).unwrap(),
    );
    let mut kid = spawn_child("sem", &[&pn, &qn]);
    g.bench_function("shmkit Semaphore release->acquire", |b| {
        b.iter_custom(|iters| {
            one_way(iters, || {
                ping.release().unwrap();
                pong.acquire();
            })
        })
    });
    let _ = kid.kill();
    let _ = kid.wait();

    let sn = name("x-posix");
    let seg = Segment::create(&sn, 4096).unwrap();
    let p = posix(&seg);
    posix_init(p);
    let mut kid = spawn_child("posix", &[&sn]);
    g.bench_function("POSIX pthread_cond signal->wait (pshared)", |b| {
        b.iter_custom(|iters| {
            one_way(iters, || {
                // SAFETY: the block was initialized above and outlives the child.
                unsafe {
                    libc::pthread_mutex_lock(&mut (*p).mutex);
                    std::ptr::write_volatile(&mut (*p).turn, 1);
                    libc::pthread_cond_broadcast(&mut (*p).cond);
                    while std::ptr::read_volatile(&(*p).turn) != 0 {
                        libc::pthread_cond_wait(&mut (*p).cond, &mut (*p).mutex);
                    }
                    libc::pthread_mutex_unlock(&mut (*p).mutex);
                }
            })
        })
    });
    let _ = kid.kill();
    let _ = kid.wait();

    let mut kid = spawn_child("posix-sem", &[&sn]);
    g.bench_function("POSIX sem_post->sem_wait (pshared)", |b| {
        b.iter_custom(|iters| {
            one_way(iters, || {
                // SAFETY: the semaphores were initialized above and outlive the child.
                unsafe {
                    libc::sem_post(&mut (*p).sem_a);
                    libc::sem_wait(&mut (*p).sem_b);
                }
            })
        })
    });
    let _ = kid.kill();
    let _ = kid.wait();
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = uncontended, cross_process
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child_main(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
