//! Pool: ports of CPython's test_multiprocessing pool semantics (map, imap,
//! imap_unordered, apply_async with callbacks, a task that raises, a worker killed
//! mid-task, maxtasksperchild, close/join/terminate), with both start methods.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shmkit::process::{Pool, PoolOptions, StartMethod};
use shmkit::{Error, Value};

const METHODS: [StartMethod; 2] = [StartMethod::Fork, StartMethod::Spawn];
const LIMIT: Duration = Duration::from_secs(30);

fn pool(method: StartMethod, n: usize) -> Pool {
    Pool::with_options(PoolOptions::new().processes(n).start_method(method)).unwrap()
}

fn square(x: i64) -> i64 {
    x * x
}

fn pid_of(_: u32) -> u32 {
    std::process::id()
}

fn fails_on_odd(x: u32) -> u32 {
    assert!(x % 2 == 0, "odd input {x}");
    x
}

/// Stores this worker's pid in the named value, then sleeps until killed.
fn announce_and_hang(value: String) -> u32 {
    Value::<u32>::open(&value)
        .unwrap()
        .store(std::process::id())
        .unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn add((a, b): (i32, i32)) -> i32 {
    a + b
}

fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Which of `names` are still in /dev/shm.
fn still_there(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| std::path::Path::new(&format!("/dev/shm/shmkit.{n}")).exists())
        .cloned()
        .collect()
}

#[test]
fn map_over_10000_items_equals_the_sequential_result_in_order() {
    for m in METHODS {
        let p = pool(m, 2);
        let items: Vec<i64> = (0..10_000).map(|i| i * 7 - 3000).collect();
        let want: Vec<i64> = items.iter().map(|&x| square(x)).collect();
        assert_eq!(
            p.map(shmkit::task!(square), items.clone()).unwrap(),
            want,
            "{m:?}"
        );
        for chunksize in [1, 7, 10_000] {
            let got = p
                .map_chunked(
                    shmkit::task!(square),
                    items.iter().copied().take(500),
                    chunksize,
                )
                .unwrap();
            assert_eq!(got, want[..500], "{m:?} chunksize {chunksize}");
        }
        assert_eq!(
            p.map(shmkit::task!(square), Vec::new()).unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(
            p.starmap(shmkit::task!(add), vec![(1, 2), (3, 4)]).unwrap(),
            [3, 7]
        );
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: u32,
    customer: String,
    lines: Vec<(String, u16, f64)>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Verdict {
    Empty,
    Total { id: u32, sum: f64, shout: String },
    TooBig(u32),
}

fn judge(o: Order) -> Verdict {
    if o.lines.is_empty() {
        return Verdict::Empty;
    }
    let sum: f64 = o.lines.iter().map(|(_, n, p)| f64::from(*n) * p).sum();
    if sum > 1000.0 {
        return Verdict::TooBig(o.id);
    }
    Verdict::Total {
        id: o.id,
        sum,
        shout: o.note.unwrap_or_default().to_uppercase() + &o.customer,
    }
}

/// Structs, strings, options and enums make the trip (the pool's wire format), and an
/// iterator without a known length works with and without a chunk size.
#[test]
fn map_takes_any_serde_type_and_any_iterator() {
    for m in METHODS {
        let p = pool(m, 2);
        let orders: Vec<Order> = (0..300u32)
            .map(|i| Order {
                id: i,
                customer: format!("cüstomer {i}"),
                lines: (0..i % 5)
                    .map(|j| (format!("item {j}"), (i % 7 + j) as u16, f64::from(i) * 1.5))
                    .collect(),
                note: (i % 3 == 0).then(|| format!("note {i}")),
            })
            .collect();
        let want: Vec<Verdict> = orders.iter().cloned().map(judge).collect();
        assert!(want.iter().any(|v| matches!(v, Verdict::Empty)));
        assert!(want.iter().any(|v| matches!(v, Verdict::TooBig(_))));
        assert!(want.iter().any(|v| matches!(v, Verdict::Total { .. })));
        assert_eq!(
            p.map(shmkit::task!(judge), orders.clone()).unwrap(),
            want,
            "{m:?}"
        );
        for chunksize in [1, 16, 1000] {
            assert_eq!(
                p.map_chunked(shmkit::task!(judge), orders.iter().cloned(), chunksize)
                    .unwrap(),
                want,
                "{m:?} chunksize {chunksize}"
            );
        }
        // No exact length: the default chunk size collects first; a given one streams.
        let odd = || (0..2001i64).filter(|x| x % 2 == 1);
        let want: Vec<i64> = odd().map(square).collect();
        assert_eq!(p.map(shmkit::task!(square), odd()).unwrap(), want, "{m:?}");
        assert_eq!(
            p.map_chunked(shmkit::task!(square), odd(), 77).unwrap(),
            want,
            "{m:?}"
        );
        assert_eq!(
            p.map_chunked(shmkit::task!(square), odd().take(0), 5)
                .unwrap(),
            Vec::<i64>::new()
        );
    }
}

#[test]
fn imap_is_ordered_and_imap_unordered_yields_each_result_once() {
    for m in METHODS {
        let p = pool(m, 3);
        let want: Vec<i64> = (0..1000).map(square).collect();
        let ordered: Vec<i64> = p
            .imap(shmkit::task!(square), 0..1000, 1)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ordered, want, "{m:?}");
        let ordered: Vec<i64> = p
            .imap(shmkit::task!(square), 0..1000, 33)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ordered, want, "{m:?}");
        for chunksize in [1, 10] {
            let mut got: Vec<i64> = p
                .imap_unordered(shmkit::task!(square), 0..1000, chunksize)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(got.len(), 1000);
            got.sort();
            let mut sorted = want.clone();
            sorted.sort();
            assert_eq!(got, sorted, "{m:?} chunksize {chunksize}");
        }
    }
}

#[test]
fn a_panicking_task_gives_an_error_and_the_pool_keeps_working() {
    for m in METHODS {
        let p = pool(m, 2);
        match p.apply(shmkit::task!(fails_on_odd), 3) {
            Err(Error::Panicked(msg)) => assert!(msg.contains("odd input 3"), "{msg}"),
            other => panic!("{m:?}: expected Panicked, got {other:?}"),
        }
        assert_eq!(p.apply(shmkit::task!(fails_on_odd), 4).unwrap(), 4);
        // map fails with the first error; imap reports each item.
        let err = p.map(shmkit::task!(fails_on_odd), 0..100).unwrap_err();
        assert!(matches!(err, Error::Panicked(_)), "{err}");
        let items: Vec<_> = p
            .imap(shmkit::task!(fails_on_odd), 0..10, 3)
            .unwrap()
            .collect();
        for (i, r) in items.iter().enumerate() {
            assert_eq!(r.is_ok(), i % 2 == 0, "{m:?} item {i}: {r:?}");
        }
        assert_eq!(p.map(shmkit::task!(square), 0..10).unwrap()[9], 81);
    }
}

#[test]
fn apply_async_with_callbacks_ready_successful_and_timeouts() {
    for m in METHODS {
        let p = pool(m, 2);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let results: Vec<_> = (0..10)
            .map(|x| {
                let (seen, errors) = (Arc::clone(&seen), Arc::clone(&errors));
                p.apply_async_with(
                    shmkit::task!(fails_on_odd),
                    x,
                    move |r: &u32| seen.lock().unwrap().push(*r),
                    move |e: &Error| errors.lock().unwrap().push(e.to_string()),
                )
                .unwrap()
            })
            .collect();
        for (x, r) in results.iter().enumerate() {
            r.wait();
            assert!(r.ready());
            assert_eq!(r.successful(), Some(x % 2 == 0));
            let got = r.get_timeout(LIMIT);
            assert_eq!(got.is_ok(), x % 2 == 0, "{m:?} {x}: {got:?}");
            // The value was taken.
            assert!(matches!(r.get(), Err(Error::InvalidArgument(_))));
        }
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, [0, 2, 4, 6, 8]);
        assert_eq!(errors.lock().unwrap().len(), 5);

        // A result that cannot arrive yet times out without being lost.
        let name = common::unique_name("hang");
        let v = Value::<u32>::create(&name, 0).unwrap();
        let r = p
            .apply_async(shmkit::task!(announce_and_hang), name.clone())
            .unwrap();
        assert!(!r.ready());
        assert_eq!(r.successful(), None);
        assert!(matches!(
            r.get_timeout(Duration::from_millis(20)),
            Err(Error::Timeout(_))
        ));
        assert!(!r.wait_timeout(Duration::from_millis(1)));
        common::wait_until(LIMIT, "task started", || v.atomic_load() != 0);
        // map_async with a callback.
        let total = Arc::new(Mutex::new(0i64));
        let t = Arc::clone(&total);
        let m_async = p
            .map_async_with(
                shmkit::task!(square),
                0..10,
                Some(3),
                move |v: &Vec<i64>| *t.lock().unwrap() = v.iter().sum(),
                |_| {},
            )
            .unwrap();
        assert_eq!(m_async.get().unwrap().len(), 10);
        assert_eq!(*total.lock().unwrap(), 285);
        // Dropping the pool terminates it: the hanging task fails instead of hanging.
        let names = p.segment_names();
        assert_eq!(names.is_empty(), m == StartMethod::Fork);
        drop(p);
        assert!(matches!(r.get(), Err(Error::ProcessDied(_))));
        assert_eq!(still_there(&names), Vec::<String>::new());
    }
}

#[test]
fn a_worker_killed_mid_task_is_replaced_and_its_task_reports_an_error() {
    for m in METHODS {
        let p = pool(m, 2);
        let before: HashSet<u32> = p.worker_pids().into_iter().collect();
        let name = common::unique_name("victim");
        let v = Value::<u32>::create(&name, 0).unwrap();
        let r = p
            .apply_async(shmkit::task!(announce_and_hang), name.clone())
            .unwrap();
        common::wait_until(LIMIT, "task started", || v.atomic_load() != 0);
        let victim = v.atomic_load();
        assert!(before.contains(&victim));
        // Queue more work behind it, then kill the worker running the task.
        let more = p.map_async(shmkit::task!(square), 0..200, Some(1)).unwrap();
        shmkit_kill9(victim);
        match r.get_timeout(LIMIT) {
            Err(Error::ProcessDied(msg)) => assert!(msg.contains("-9"), "{msg}"),
            other => panic!("{m:?}: expected ProcessDied, got {other:?}"),
        }
        let want: Vec<i64> = (0..200).map(square).collect();
        assert_eq!(more.get_timeout(LIMIT).unwrap(), want, "{m:?}");
        common::wait_until(LIMIT, "replacement", || {
            let now = p.worker_pids();
            now.len() == 2 && !now.contains(&victim)
        });
        assert_eq!(p.map(shmkit::task!(square), 0..100).unwrap().len(), 100);
    }
}

fn shmkit_kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn maxtasksperchild_replaces_workers() {
    for m in METHODS {
        let p = Pool::with_options(
            PoolOptions::new()
                .processes(1)
                .start_method(m)
                .max_tasks_per_child(2),
        )
        .unwrap();
        let mut pids = HashSet::new();
        for i in 0..6 {
            pids.insert(p.apply(shmkit::task!(pid_of), i).unwrap());
        }
        assert_eq!(pids.len(), 3, "{m:?}: 6 tasks, 2 per worker: {pids:?}");
        // Chunks count as tasks, as in Python.
        let got = p.map_chunked(shmkit::task!(pid_of), 0..8, 2).unwrap();
        let distinct: HashSet<u32> = got.into_iter().collect();
        assert!(distinct.len() >= 2, "{m:?}: {distinct:?}");
    }
}

#[test]
fn close_join_terminate_and_no_zombies() {
    for m in METHODS {
        let mut p = pool(m, 2);
        let r = p
            .map_async(shmkit::task!(square), 0..1000, Some(10))
            .unwrap();
        let pids = p.worker_pids();
        let names = p.segment_names();
        assert!(matches!(p.join(), Err(Error::InvalidArgument(_))));
        p.close();
        assert!(matches!(
            p.apply(shmkit::task!(square), 1),
            Err(Error::InvalidArgument(_))
        ));
        for items in [vec![1, 2, 3], vec![]] {
            assert!(matches!(
                p.map(shmkit::task!(square), items),
                Err(Error::InvalidArgument(_))
            ));
        }
        p.join().unwrap();
        // join waited for the queued work.
        assert_eq!(r.get().unwrap().len(), 1000);
        for pid in &pids {
            assert!(!exists(*pid), "{m:?}: worker {pid} left behind");
        }
        p.join().unwrap();
        drop(p);
        assert_eq!(still_there(&names), Vec::<String>::new());

        let mut p = pool(m, 2);
        let pids = p.worker_pids();
        let name = common::unique_name("terminated");
        let v = Value::<u32>::create(&name, 0).unwrap();
        let r = p
            .apply_async(shmkit::task!(announce_and_hang), name.clone())
            .unwrap();
        common::wait_until(LIMIT, "task started", || v.atomic_load() != 0);
        p.terminate();
        assert!(matches!(r.get(), Err(Error::ProcessDied(_))));
        for pid in &pids {
            assert!(!exists(*pid), "{m:?}: worker {pid} left behind");
        }
        assert!(matches!(
            p.apply(shmkit::task!(square), 1),
            Err(Error::InvalidArgument(_))
        ));
        let names = p.segment_names();
        drop(p);
        assert_eq!(still_there(&names), Vec::<String>::new());
    }
}

#[test]
fn default_pool_size_is_cpu_count() {
    let p = Pool::new(0).unwrap();
    assert_eq!(p.processes(), shmkit::process::cpu_count());
    assert_eq!(p.worker_pids().len(), p.processes());
}

#[test]
fn garbage_in_a_spawned_pools_result_queue_is_ignored() {
    let p = pool(StartMethod::Spawn, 2);
    // A spawned pool's queues are named; write garbage into every one of them.
    let names = p.segment_names();
    assert_eq!(names.len(), 3);
    for name in &names {
        let q = shmkit::MessageQueue::open(name).unwrap();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..64usize {
            let msg: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = q.try_put_bytes(&msg);
        }
        // A reply that names a job nobody is waiting for.
        let mut fake = vec![0xff; 13];
        fake.extend_from_slice(b"junk");
        let _ = q.try_put_bytes(&fake);
    }
    let want: Vec<i64> = (0..1000).map(square).collect();
    assert_eq!(p.map(shmkit::task!(square), 0..1000).unwrap(), want);
    assert_eq!(p.apply(shmkit::task!(square), 9).unwrap(), 81);
}

#[test]
fn a_pool_outlives_the_thread_that_made_it() {
    for m in METHODS {
        let p = std::thread::spawn(move || pool(m, 2)).join().unwrap();
        let pids = p.worker_pids();
        // Workers tied to the ended thread would have been killed and replaced by now.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(p.worker_pids(), pids, "{m:?}");
        assert_eq!(p.map(shmkit::task!(square), 0..100).unwrap()[10], 100);
    }
}

#[test]
fn a_panicking_callback_does_not_stop_the_pool() {
    let p = pool(StartMethod::Fork, 1);
    let r = p
        .apply_async_with(shmkit::task!(square), 3, |_| panic!("callback bug"), |_| {})
        .unwrap();
    assert_eq!(r.get_timeout(LIMIT).unwrap(), 9);
    assert_eq!(p.apply(shmkit::task!(square), 4).unwrap(), 16);
}

#[test]
fn work_queued_behind_a_hanging_task_is_given_to_an_idle_worker() {
    for m in METHODS {
        let p = pool(m, 2);
        let name = common::unique_name("hog");
        let v = Value::<u32>::create(&name, 0).unwrap();
        let hog = p
            .apply_async(shmkit::task!(announce_and_hang), name.clone())
            .unwrap();
        common::wait_until(LIMIT, "hog started", || v.atomic_load() != 0);
        // Some of these are queued to the hog's worker behind the task that never ends.
        let quick: Vec<_> = (0..20)
            .map(|x| p.apply_async(shmkit::task!(square), x).unwrap())
            .collect();
        for (x, r) in quick.iter().enumerate() {
            assert_eq!(r.get_timeout(LIMIT).unwrap(), (x * x) as i64, "{m:?}");
        }
        assert!(!hog.ready());
    }
}
