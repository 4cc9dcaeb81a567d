//! Foundation micro benchmarks, each beside its peer or floor in the same run:
//! - uncontended lock+unlock: shmkit Mutex vs bare pthread mutexes (private; shared),
//!   a pthread mutex with shmkit's attributes (shared, robust, error-checking), and
//!   std::sync::Mutex;
//! - Value<u64>: locked load/store, atomic load, fetch_add;
//! - Array<f64>: 1 MiB write+read vs two memcpy of the same size.
//!
//! Run: `cargo bench --bench foundation`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shmkit::{Array, Mutex, Value};

struct PthreadMutex(Box<std::cell::UnsafeCell<libc::pthread_mutex_t>>);

#[derive(PartialEq)]
enum Attrs {
    /// PTHREAD_MUTEX_INITIALIZER: process-private, normal.
    Default,
    /// Process-shared, normal: what a C program uses across processes without robustness.
    Shared,
    /// shmkit's attributes: shared, robust, error-checking.
    SharedRobust,
}

impl PthreadMutex {
    fn new(attrs: Attrs) -> Self {
        let m = Box::new(std::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
        if attrs != Attrs::Default {
            let robust = attrs == Attrs::SharedRobust;
            let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            // SAFETY: attr is initialized by pthread_mutexattr_init before use; `m` is a
            // fresh heap mutex that nobody else uses yet.
            unsafe {
                libc::pthread_mutexattr_init(attr.as_mut_ptr());
                libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
                if robust {
                    libc::pthread_mutexattr_setrobust(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_MUTEX_ROBUST,
                    );
                    libc::pthread_mutexattr_settype(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_MUTEX_ERRORCHECK,
                    );
                }
                libc::pthread_mutex_init(m.get(), attr.as_ptr());
                libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
            }
        }
        PthreadMutex(m)
    }

    fn lock_unlock(&self) {
        // SAFETY: the mutex was initialized in `new` and is locked/unlocked by this
        // thread only.
        unsafe {
            libc::pthread_mutex_lock(self.0.get());
            libc::pthread_mutex_unlock(self.0.get());
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

fn mutex(c: &mut Criterion) {
    let mut g = c.benchmark_group("lock_unlock");
    let shm = Mutex::anonymous().unwrap();
    g.bench_function("shmkit_mutex", |b| {
        b.iter(|| drop(black_box(shm.lock().unwrap())))
    });
    let bare = PthreadMutex::new(Attrs::Default);
    g.bench_function("pthread_private", |b| b.iter(|| bare.lock_unlock()));
    let shared = PthreadMutex::new(Attrs::Shared);
    g.bench_function("pthread_pshared", |b| b.iter(|| shared.lock_unlock()));
    let robust = PthreadMutex::new(Attrs::SharedRobust);
    g.bench_function("pthread_robust_pshared", |b| {
        b.iter(|| robust.lock_unlock())
    });
    let std_m = std::sync::Mutex::new(());
    g.bench_function("std_mutex", |b| {
        b.iter(|| drop(black_box(std_m.lock().unwrap())))
    });
    g.finish();
}

fn value(c: &mut Criterion) {
    let mut g = c.benchmark_group("value_u64");
    let v = Value::<u64>::anonymous(0).unwrap();
    g.bench_function("load_locked", |b| b.iter(|| black_box(v.load().unwrap())));
    g.bench_function("store_locked", |b| {
        b.iter(|| v.store(black_box(7)).unwrap())
    });
    g.bench_function("atomic_load", |b| b.iter(|| black_box(v.atomic_load())));
    g.bench_function("fetch_add", |b| b.iter(|| black_box(v.fetch_add(1))));
    let local = std::sync::atomic::AtomicU64::new(0);
    g.bench_function("heap_atomic_fetch_add", |b| {
        b.iter(|| black_box(local.fetch_add(1, std::sync::atomic::Ordering::SeqCst)))
    });
    g.finish();
}

fn array(c: &mut Criterion) {
    const N: usize = (1 << 20) / 8;
    let mut g = c.benchmark_group("array_1MiB_write_read");
    g.throughput(Throughput::Bytes(2 * (N as u64) * 8));
    let a = Array::<f64>::anonymous(N).unwrap();
    let src: Vec<f64> = (0..N).map(|i| i as f64).collect();
    let mut dst = vec![0f64; N];
    g.bench_function("shmkit_array", |b| {
        b.iter(|| {
            a.write(0, black_box(&src)).unwrap();
            a.read(0, black_box(&mut dst)).unwrap();
        })
    });
    let mut mid = vec![0f64; N];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            black_box(&mut mid).copy_from_slice(black_box(&src));
            black_box(&mut dst).copy_from_slice(black_box(&mid));
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = mutex, value, array
}
criterion_main!(benches);
