//! Rust and C processes sharing segments through libshmkit: a Rust-made Value<Point>
//! updated from C, a C-made Array<f64> filled from Rust, one counter incremented by
//! both under a shmkit Mutex and under a BoundedSemaphore, events set across the
//! languages, one Barrier passed together, owner death (Mutex, RLock) reported across
//! the languages, and a Queue<Point> between a Rust and a C process in both directions.

mod common;
#[path = "../ffi/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{PoolFrame, frame_pattern};
use shmkit::zerocopy::{FromBytes, IntoBytes};

use shmkit::{
    Array, Barrier, BoundedSemaphore, ByteDict, Error, Event, LockError, Mutex, Queue, RLock,
    Semaphore, Value,
};

#[shmkit::shareable(name = "point")]
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// Same name, another layout: must not open a C `point`.
#[shmkit::shareable(name = "point")]
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point3 {
    x: f64,
    y: f64,
    z: f64,
}

const LIMIT: Duration = Duration::from_secs(60);

fn interop_exe() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let src = support::workspace().join("tests/c/interop.c");
        support::compile("interop", &[src], &[])
    })
}

fn c_process(args: &[&str]) -> Command {
    let mut cmd = Command::new(interop_exe());
    support::sanitizer_env(&mut cmd).args(args);
    cmd
}

fn run_c(args: &[&str]) {
    let child = c_process(args).spawn().expect("start the C process");
    common::wait_ok(child, LIMIT);
}

/// Starts a C process with piped stdin/stdout and waits for its first line.
fn start_c(args: &[&str], first_line: &str) -> (Child, ChildStdin, BufReader<ChildStdout>) {
    let mut child = c_process(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the C process");
    let stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("read from the C process");
    assert_eq!(line.trim(), first_line, "the C process said {line:?}");
    (child, stdin, stdout)
}

#[test]
fn rust_value_point_updated_by_c_under_the_lock() {
    let name = common::unique_name("interop-point");
    let v = Value::create(&name, Point { x: 1.0, y: 2.5 }).unwrap();
    run_c(&["point", &name]);
    assert_eq!(v.load().unwrap(), Point { x: 2.0, y: 5.0 });
    drop(v);
    assert!(!common::leftovers().iter().any(|n| n.ends_with(&name)));
}

#[test]
fn c_value_point_opened_from_rust_and_type_checked() {
    let name = common::unique_name("interop-cpoint");
    let (mut child, mut stdin, _out) = start_c(&["point_owner", &name], "ready");
    assert_eq!(
        Value::<Point>::open(&name).unwrap().load().unwrap(),
        Point { x: 5.0, y: 6.0 }
    );
    let err = Value::<Point3>::open(&name).unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    assert!(matches!(
        Value::<f64>::open(&name).unwrap_err(),
        Error::TypeMismatch { .. }
    ));
    writeln!(stdin, "done").unwrap();
    assert!(common::wait_timeout(&mut child, LIMIT).success());
    assert!(matches!(
        Value::<Point>::open(&name).unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[test]
fn c_array_f64_filled_by_rust() {
    let name = common::unique_name("interop-array");
    let n = 1000;
    let (mut child, mut stdin, mut out) = start_c(&["array_owner", &name, "1000"], "ready");
    let a = Array::<f64>::open(&name).unwrap();
    assert_eq!(a.len(), n);
    let values: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
    a.write(0, &values).unwrap();
    writeln!(stdin, "filled").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "verified");
    assert!(common::wait_timeout(&mut child, LIMIT).success());
    drop(a);
    assert!(!common::leftovers().iter().any(|n| n.ends_with(&name)));
}

#[test]
fn rust_and_c_increment_one_counter_under_the_mutex() {
    let mutex_name = common::unique_name("interop-mutex");
    let value_name = common::unique_name("interop-counter");
    let m = Mutex::create(&mutex_name).unwrap();
    let counter = Value::<i64>::create(&value_name, 0).unwrap();
    let per_process = 3000i64;
    let kids: Vec<Child> = (0..2)
        .map(|_| {
            c_process(&["count", &mutex_name, &value_name, &per_process.to_string()])
                .spawn()
                .expect("start the C process")
        })
        .collect();
    for _ in 0..per_process {
        let _g = m.lock().unwrap();
        // A split read-modify-write: only the shmkit Mutex makes it correct.
        let now = counter.atomic_load();
        counter.atomic_store(now + 1);
    }
    for kid in kids {
        common::wait_ok(kid, LIMIT);
    }
    assert_eq!(counter.atomic_load(), 3 * per_process);
}

#[test]
fn c_process_killed_holding_the_lock_is_owner_died_in_rust() {
    let name = common::unique_name("interop-died");
    let m = Mutex::create(&name).unwrap();
    let (mut child, _stdin, _out) = start_c(&["die_holding", &name], "locked");
    assert!(matches!(
        m.try_lock(),
        Err(LockError::Failed(Error::WouldBlock))
    ));
    common::kill9(&mut child);
    match m.lock_timeout(LIMIT) {
        Err(LockError::OwnerDied(died)) => drop(died.recover()),
        other => panic!("expected owner died, got {other:?}"),
    }
    assert!(m.try_lock().is_ok());
}

#[test]
fn rust_process_killed_holding_the_lock_is_owner_died_in_c() {
    const TEST: &str = "rust_process_killed_holding_the_lock_is_owner_died_in_c";
    if let Some(child) = common::child_role() {
        // The Rust child: lock, report through a file, then wait to be killed.
        let m = Mutex::open(child.arg(0)).unwrap();
        let guard = m.lock().unwrap();
        std::fs::write(child.arg(1), "locked").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        drop(guard);
        return;
    }
    let name = common::unique_name("interop-rdied");
    let m = Mutex::create(&name).unwrap();
    let flag = std::env::temp_dir().join(format!("{name}.locked"));
    let mut kid = common::spawn_child(TEST, "holder", &[&name, flag.to_str().unwrap()]);
    common::wait_until(LIMIT, "the Rust child to lock", || flag.exists());
    common::kill9(&mut kid);
    let _ = std::fs::remove_file(&flag);
    let (mut c, _stdin, _out) = start_c(&["expect_owner_died", &name], "owner died");
    assert!(common::wait_timeout(&mut c, LIMIT).success());
    // C marked it consistent: Rust locks cleanly.
    assert!(m.try_lock().is_ok());
}

#[test]
fn rust_waits_on_an_event_that_c_sets_and_c_on_one_rust_sets() {
    let (ping_name, pong_name) = (
        common::unique_name("interop-ping"),
        common::unique_name("interop-pong"),
    );
    let ping = Event::create(&ping_name).unwrap();
    let pong = Event::create(&pong_name).unwrap();
    let (mut child, _stdin, _out) = start_c(&["event_pingpong", &ping_name, &pong_name], "ready");
    // C waits for ping; only Rust sets it, and only C sets pong.
    assert!(!pong.is_set());
    ping.set();
    assert!(pong.wait_timeout(LIMIT), "C never set the event");
    assert!(common::wait_timeout(&mut child, LIMIT).success());
    drop((ping, pong));
    let left = common::leftovers();
    assert!(
        !left
            .iter()
            .any(|n| n.ends_with(&ping_name) || n.ends_with(&pong_name))
    );
}

#[test]
fn rust_and_c_increment_one_counter_under_a_bounded_semaphore() {
    let sem_name = common::unique_name("interop-sem");
    let value_name = common::unique_name("interop-sem-counter");
    let sem = BoundedSemaphore::create(&sem_name, 1).unwrap();
    let counter = Value::<i64>::create(&value_name, 0).unwrap();
    let per_process = 3000i64;
    let kids: Vec<Child> = (0..2)
        .map(|_| {
            c_process(&[
                "sem_count",
                &sem_name,
                &value_name,
                &per_process.to_string(),
            ])
            .spawn()
            .expect("start the C process")
        })
        .collect();
    for _ in 0..per_process {
        sem.acquire();
        // A split read-modify-write: only the one permit makes it correct.
        let now = counter.atomic_load();
        counter.atomic_store(now + 1);
        sem.release().unwrap();
    }
    for kid in kids {
        common::wait_ok(kid, LIMIT);
    }
    assert_eq!(counter.atomic_load(), 3 * per_process);
    assert_eq!(sem.value(), 1);
    assert!(matches!(sem.release(), Err(Error::OverRelease { .. })));
    assert!(matches!(
        Semaphore::open(&sem_name).unwrap_err(),
        Error::KindMismatch { .. }
    ));
}

#[test]
fn c_and_rust_processes_pass_one_barrier_with_distinct_indices() {
    let name = common::unique_name("interop-barrier");
    let rounds = 3;
    let b = Barrier::create(&name, 3).unwrap();
    let mut kids: Vec<(Child, BufReader<ChildStdout>)> = (0..2)
        .map(|_| {
            let mut child = c_process(&["barrier", &name, &rounds.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the C process");
            let out = BufReader::new(child.stdout.take().expect("stdout"));
            (child, out)
        })
        .collect();
    for round in 0..rounds {
        let mut indices = vec![b.wait_timeout(LIMIT).unwrap()];
        for (_, out) in &mut kids {
            let mut line = String::new();
            out.read_line(&mut line).expect("read an index");
            indices.push(line.trim().parse().expect("an index"));
        }
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2], "round {round}");
    }
    for (mut child, _) in kids {
        assert!(common::wait_timeout(&mut child, LIMIT).success());
    }
    assert!(!b.is_broken());
}

#[test]
fn c_process_killed_holding_an_rlock_twice_is_owner_died_in_rust() {
    let name = common::unique_name("interop-rlock");
    let l = RLock::create(&name).unwrap();
    let (mut child, _stdin, _out) = start_c(&["rlock_die_holding", &name], "locked");
    assert!(matches!(
        l.try_lock(),
        Err(LockError::Failed(Error::WouldBlock))
    ));
    assert_eq!(l.snapshot().count, 2);
    common::kill9(&mut child);
    match l.lock_timeout(LIMIT) {
        Err(LockError::OwnerDied(died)) => {
            // Held once, by this thread, whatever depth the dead owner had.
            assert_eq!(l.snapshot().count, 1);
            assert!(l.is_owned());
            drop(died.recover());
        }
        other => panic!("expected owner died, got {other:?}"),
    }
    assert!(!l.is_owned());
    assert!(l.try_lock().is_ok());
}

/// Messages through a small queue, so that both sides wait on each other many times.
const QUEUE_MESSAGES: usize = 20_000;

#[test]
fn rust_producer_c_consumer_through_a_queue_of_points() {
    let name = common::unique_name("interop-queue-rc");
    let q = Queue::<Point>::create(&name, 16).unwrap();
    let consumer = c_process(&["queue_consume", &name, &QUEUE_MESSAGES.to_string()])
        .spawn()
        .expect("start the C consumer");
    for i in 0..QUEUE_MESSAGES {
        let p = Point {
            x: i as f64,
            y: -(i as f64),
        };
        q.put_timeout(p, LIMIT)
            .expect("the C consumer keeps taking");
    }
    common::wait_ok(consumer, LIMIT);
    assert!(q.is_empty());
}

#[test]
fn c_producer_rust_consumer_through_a_queue_of_points() {
    let name = common::unique_name("interop-queue-cr");
    let q = Queue::<Point>::create(&name, 16).unwrap();
    let producer = c_process(&["queue_produce", &name, &QUEUE_MESSAGES.to_string()])
        .spawn()
        .expect("start the C producer");
    for i in 0..QUEUE_MESSAGES {
        let p = q.get_timeout(LIMIT).expect("the C producer keeps putting");
        assert_eq!(
            p,
            Point {
                x: i as f64,
                y: -(i as f64)
            },
            "message {i}"
        );
    }
    common::wait_ok(producer, LIMIT);
    assert!(q.is_empty());
}

const FRAMES: u64 = 300;

/// A pooled queue (its messages live in a buffer pool) between C and Rust, both ways,
/// through every way in and out: C puts and writes in place, Rust reads by copy and in
/// place; Rust puts and writes in place, C reads by copy and in place.
#[test]
fn c_and_rust_share_a_pooled_queue_of_64_kib_frames() {
    let name = common::unique_name("interop-frames-cr");
    let q = Queue::<PoolFrame>::create(&name, 3).unwrap();
    assert_ne!(q.segment().info().params[3], 0, "pooled");
    let producer = c_process(&["frames_produce", &name, &FRAMES.to_string()])
        .spawn()
        .expect("start the C producer");
    let mut words = vec![0u64; std::mem::size_of::<PoolFrame>() / 8];
    let out = PoolFrame::mut_from_bytes(words.as_mut_bytes()).unwrap();
    for seq in 0..FRAMES {
        let ok = if seq % 3 == 0 {
            let g = q
                .get_ref_timeout(LIMIT)
                .expect("the C producer keeps putting");
            g.seq == seq && g.bytes.iter().all(|&b| b == frame_pattern(seq))
        } else {
            q.get_into_timeout(out, LIMIT)
                .expect("the C producer keeps putting");
            out.seq == seq && out.bytes.iter().all(|&b| b == frame_pattern(seq))
        };
        assert!(ok, "frame {seq} from C");
    }
    common::wait_ok(producer, LIMIT);

    let name = common::unique_name("interop-frames-rc");
    let q = Queue::<PoolFrame>::create(&name, 3).unwrap();
    let consumer = c_process(&["frames_consume", &name, &FRAMES.to_string()])
        .spawn()
        .expect("start the C consumer");
    for seq in 0..FRAMES {
        if seq % 3 == 0 {
            let mut slot = q
                .reserve_timeout(LIMIT)
                .expect("the C consumer keeps taking");
            slot.seq = seq;
            slot.bytes.fill(frame_pattern(seq));
            slot.commit();
        } else {
            out.seq = seq;
            out.bytes.fill(frame_pattern(seq));
            q.put_ref_timeout(out, LIMIT)
                .expect("the C consumer keeps taking");
        }
    }
    common::wait_ok(consumer, LIMIT);
    assert!(q.is_empty());
}

/// One byte dict used by a Rust and a C process at the same time: each reads the
/// other's entry, both insert and remove concurrently, and every entry is intact.
#[test]
fn rust_and_c_share_one_byte_dict() {
    let name = common::unique_name("interop-dict");
    let n = 300usize;
    let d = ByteDict::create(&name, 2 * n + 8, 64 * n).unwrap();
    d.insert("from-rust", "hello from rust").unwrap();
    let child = c_process(&["dict_share", &name, &n.to_string()])
        .spawn()
        .expect("start the C process");
    for i in 0..n {
        d.insert(format!("r-{i}"), format!("rust {i}")).unwrap();
        if i % 3 == 0 {
            assert!(d.remove(format!("r-{i}")).unwrap().is_some());
        }
    }
    common::wait_ok(child, LIMIT);
    assert_eq!(d.get("from-c").unwrap(), Some(b"hello from c".to_vec()));
    for i in 0..n {
        let c = d.get(format!("c-{i}")).unwrap();
        let r = d.get(format!("r-{i}")).unwrap();
        if i % 3 == 0 {
            assert_eq!((c, r), (None, None));
        } else {
            assert_eq!(c, Some(format!("value {}", i * i).into_bytes()));
            assert_eq!(r, Some(format!("rust {i}").into_bytes()));
        }
    }
    assert_eq!(d.len().unwrap(), 2 + 2 * (n - n.div_ceil(3)));
    assert!(d.verify().unwrap().counters_agree);
}
