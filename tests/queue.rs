//! Queue<T>: FIFO order, full and empty with and without timeouts, len, close, batch
//! forms, validation on open, and the same across real processes.

mod common;

use std::time::{Duration, Instant};

use shmkit::{Error, GetError, JoinableQueue, PutError, Queue, WaitPolicy};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn fifo_order_in_one_process() {
    let name = common::unique_name("q-fifo");
    let q = Queue::<u64>::create(&name, 8).unwrap();
    for round in 0..10u64 {
        for i in 0..8 {
            q.put(round * 100 + i).unwrap();
        }
        for i in 0..8 {
            assert_eq!(q.get().unwrap(), round * 100 + i);
        }
    }
}

#[test]
fn any_capacity_works_not_only_powers_of_two() {
    for cap in [1usize, 2, 3, 5, 7, 10, 100] {
        let name = common::unique_name("q-cap");
        let q = Queue::<u32>::create(&name, cap).unwrap();
        assert_eq!(q.capacity(), cap);
        for lap in 0..3u32 {
            for i in 0..cap as u32 {
                q.try_put(lap * 1000 + i).unwrap();
            }
            assert!(q.is_full());
            assert!(q.try_put(9).unwrap_err().is_full());
            for i in 0..cap as u32 {
                assert_eq!(q.try_get().unwrap(), lap * 1000 + i);
            }
            assert!(q.is_empty());
        }
    }
}

#[test]
fn full_and_empty_without_timeouts_hand_the_value_back() {
    let name = common::unique_name("q-full");
    let q = Queue::<u64>::create(&name, 2).unwrap();
    assert_eq!(q.try_get(), Err(GetError::Empty));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    match q.try_put(3) {
        Err(PutError::Full(v)) => assert_eq!(v, 3),
        other => panic!("expected Full(3), got {other:?}"),
    }
    let e: Error = q.try_put(4).unwrap_err().into();
    assert!(matches!(e, Error::WouldBlock));
}

#[test]
fn timeouts_wait_at_least_their_duration() {
    let name = common::unique_name("q-timeout");
    let mut q = Queue::<u64>::create(&name, 1).unwrap();
    for policy in [
        WaitPolicy::sleep(),
        WaitPolicy::default(),
        WaitPolicy::spin(),
    ] {
        q.set_wait_policy(policy);
        let d = Duration::from_millis(30);
        let start = Instant::now();
        assert_eq!(q.get_timeout(d), Err(GetError::Timeout(d)));
        assert!(start.elapsed() >= d, "get_timeout returned early");
        q.put(5).unwrap();
        let start = Instant::now();
        match q.put_timeout(6, d) {
            Err(PutError::Timeout(v, after)) => assert_eq!((v, after), (6, d)),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(start.elapsed() >= d, "put_timeout returned early");
        assert_eq!(q.get_timeout(d), Ok(5));
        let mut buf = [0u64; 4];
        let start = Instant::now();
        assert_eq!(q.get_many_timeout(&mut buf, d), Err(GetError::Timeout(d)));
        assert!(start.elapsed() >= d);
    }
}

/// A blocking get whose predecessor took a message at once and that finds the queue
/// empty first lets a presumed streaming producer get ahead (ring.rs,
/// `let_producer_lead`): it still waits no less than its timeout, and takes a message
/// put while it waits, whatever the capacity (small queues skip the wait).
#[test]
fn a_get_after_a_drained_burst_honours_its_timeout_and_takes_a_late_message() {
    for cap in [1usize, 2, 4, 100, 127, 128, 4096] {
        let name = common::unique_name("q-burst");
        let mut q = Queue::<u64>::create(&name, cap).unwrap();
        for policy in [WaitPolicy::default(), WaitPolicy::spin()] {
            q.set_wait_policy(policy);
            q.put(1).unwrap();
            assert_eq!(q.get(), Ok(1));
            let d = Duration::from_millis(20);
            let start = Instant::now();
            assert_eq!(q.get_timeout(d), Err(GetError::Timeout(d)));
            assert!(start.elapsed() >= d, "get_timeout returned early");
            q.put(2).unwrap();
            assert_eq!(q.get(), Ok(2));
            std::thread::scope(|s| {
                s.spawn(|| q.put(3).unwrap());
                assert_eq!(q.get_timeout(LIMIT), Ok(3));
            });
            let mut buf = [0u64; 4];
            q.put(4).unwrap();
            assert_eq!(q.get_many(&mut buf), Ok(1));
            std::thread::scope(|s| {
                s.spawn(|| q.put(5).unwrap());
                assert_eq!(q.get_many_timeout(&mut buf, LIMIT), Ok(1));
            });
            assert_eq!(buf[0], 5);
        }
    }
}

#[test]
fn len_follows_puts_and_gets() {
    let name = common::unique_name("q-len");
    let q = Queue::<u16>::create(&name, 5).unwrap();
    assert_eq!((q.len(), q.is_empty(), q.is_full()), (0, true, false));
    for i in 0..5 {
        q.put(i).unwrap();
        assert_eq!(q.len(), i as usize + 1);
    }
    assert!(q.is_full());
    for i in 0..5 {
        q.get().unwrap();
        assert_eq!(q.len(), 4 - i);
    }
    // Across laps too.
    for i in 0..23 {
        q.put(i).unwrap();
        q.put(i).unwrap();
        assert_eq!(q.len(), 2);
        q.get().unwrap();
        q.get().unwrap();
        assert_eq!(q.len(), 0);
    }
    let snap = q.snapshot();
    assert_eq!((snap.capacity, snap.len, snap.closed), (5, 0, false));
}

#[test]
fn put_and_get_after_close() {
    let name = common::unique_name("q-close");
    let q = Queue::<u64>::create(&name, 4).unwrap();
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.close();
    assert!(q.is_closed());
    assert!(matches!(q.put(3), Err(PutError::Closed(3))));
    assert!(matches!(q.try_put(3), Err(PutError::Closed(3))));
    assert!(matches!(
        q.put_timeout(3, Duration::from_millis(1)),
        Err(PutError::Closed(3))
    ));
    assert!(matches!(q.put_many(&[3, 4]), Err(PutError::Closed(0))));
    // Gets drain what is left, then report Closed.
    assert_eq!(q.get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.get(), Err(GetError::Closed));
    assert_eq!(q.try_get(), Err(GetError::Closed));
    assert_eq!(q.get_timeout(Duration::from_secs(5)), Err(GetError::Closed));
    let e: Error = q.get().unwrap_err().into();
    assert!(matches!(e, Error::Closed));
    // Other handles see it too.
    let other = Queue::<u64>::open(&name).unwrap();
    assert!(other.is_closed());
}

#[test]
fn batch_put_and_get() {
    let name = common::unique_name("q-batch");
    let q = Queue::<u64>::create(&name, 8).unwrap();
    let items: Vec<u64> = (0..6).collect();
    q.put_many(&items).unwrap();
    assert_eq!(q.try_put_many(&[6, 7, 8, 9]), Ok(2));
    let mut out = [0u64; 5];
    assert_eq!(q.get_many(&mut out), Ok(5));
    assert_eq!(out, [0, 1, 2, 3, 4]);
    assert_eq!(q.try_get_many(&mut out), Ok(3));
    assert_eq!(out[..3], [5, 6, 7]);
    assert_eq!(q.try_get_many(&mut out), Err(GetError::Empty));
}

#[test]
fn open_checks_kind_type_and_geometry() {
    let name = common::unique_name("q-open");
    let q = Queue::<u64>::create(&name, 3).unwrap();
    q.put(42).unwrap();
    let same = Queue::<u64>::open(&name).unwrap();
    assert_eq!(same.capacity(), 3);
    assert_eq!(same.get().unwrap(), 42);
    assert!(matches!(
        Queue::<u32>::open(&name),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        JoinableQueue::<u64>::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        shmkit::Value::<u64>::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        Queue::<u64>::create(&name, 3),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        Queue::<u64>::create(&common::unique_name("q-zero"), 0),
        Err(Error::InvalidArgument(_))
    ));
    let again = Queue::<u64>::open_or_create(&name, 99).unwrap();
    assert_eq!(again.capacity(), 3);
    let snap = shmkit::queue::snapshot(&name).unwrap();
    assert_eq!(snap.capacity, 3);
}

#[test]
fn struct_messages_keep_their_bytes() {
    #[shmkit::shareable(name = "q-order")]
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    struct Order {
        id: u64,
        price: f64,
        qty: u32,
        side: u32,
    }
    let name = common::unique_name("q-struct");
    let q = Queue::<Order>::create(&name, 3).unwrap();
    let o = Order {
        id: 7,
        price: 101.25,
        qty: 3,
        side: 1,
    };
    q.put(o).unwrap();
    assert_eq!(q.get().unwrap(), o);
    let big = Queue::<[u8; 4096]>::create(&common::unique_name("q-big"), 2).unwrap();
    big.put([9; 4096]).unwrap();
    assert_eq!(big.get().unwrap(), [9; 4096]);
}

#[test]
fn anonymous_queue_works_in_one_process() {
    let q = Queue::<u64>::anonymous(4).unwrap();
    q.put(1).unwrap();
    assert_eq!(q.get().unwrap(), 1);
    assert!(q.segment().name().is_none());
}

#[test]
fn blocked_get_is_woken_by_a_put_from_another_process() {
    if let Some(child) = common::child_role() {
        let q = Queue::<u64>::open(child.arg(0)).unwrap();
        let ready = shmkit::Value::<u32>::open(child.arg(1)).unwrap();
        // Wait until the parent sleeps in get, then put.
        common::wait_until(LIMIT, "the parent to wait", || {
            q.snapshot().waiting_consumers > 0
        });
        ready.atomic_store(1);
        q.put(77).unwrap();
        // And the other way round: fill it, put once more (blocks until the parent gets).
        q.put(1).unwrap();
        q.put(2).unwrap();
        return;
    }
    let name = common::unique_name("q-wake");
    let flag = common::unique_name("q-wake-flag");
    let q = Queue::<u64>::create(&name, 1)
        .unwrap()
        .with_wait_policy(WaitPolicy::sleep());
    let ready = shmkit::Value::<u32>::create(&flag, 0).unwrap();
    let kid = common::spawn_child(
        "blocked_get_is_woken_by_a_put_from_another_process",
        "putter",
        &[&name, &flag],
    );
    assert_eq!(q.get_timeout(LIMIT), Ok(77));
    assert_eq!(ready.atomic_load(), 1);
    common::wait_until(LIMIT, "the child to block on a full queue", || {
        q.snapshot().waiting_producers > 0
    });
    assert_eq!(q.get_timeout(LIMIT), Ok(1));
    assert_eq!(q.get_timeout(LIMIT), Ok(2));
    common::wait_ok(kid, LIMIT);
}

#[test]
fn nothing_left_in_dev_shm() {
    {
        let _q = Queue::<u64>::create(&common::unique_name("q-left"), 4).unwrap();
        let _j = JoinableQueue::<u64>::create(&common::unique_name("q-left-j"), 4).unwrap();
    }
    let left: Vec<_> = common::leftovers()
        .into_iter()
        .filter(|n| n.contains("q-left"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn joinable_queue_join_waits_for_task_done_in_another_process() {
    const TEST: &str = "joinable_queue_join_waits_for_task_done_in_another_process";
    if let Some(child) = common::child_role() {
        let q = JoinableQueue::<u64>::open(child.arg(0)).unwrap();
        for _ in 0..100 {
            q.get().unwrap();
            q.task_done().unwrap();
        }
        return;
    }
    let name = common::unique_name("q-join");
    let q = JoinableQueue::<u64>::create(&name, 8).unwrap();
    q.join().unwrap(); // nothing put yet
    q.put(1).unwrap();
    let d = Duration::from_millis(20);
    let start = Instant::now();
    assert!(matches!(q.join_timeout(d), Err(Error::Timeout(_))));
    assert!(start.elapsed() >= d);
    assert_eq!(q.get().unwrap(), 1);
    q.task_done().unwrap();
    assert!(matches!(q.task_done(), Err(Error::InvalidArgument(_))));
    let kid = common::spawn_child(TEST, "worker", &[&name]);
    q.put_many(&(0..100).collect::<Vec<_>>()).unwrap();
    q.join_timeout(LIMIT).unwrap();
    assert_eq!(q.unfinished(), 0);
    assert_eq!(q.snapshot().unfinished, Some(0));
    common::wait_ok(kid, LIMIT);
}

#[test]
fn snapshot_decodes_from_copied_bytes_like_the_mapped_one() {
    use std::os::unix::fs::FileExt;
    let name = common::unique_name("q-bytes");
    let q = JoinableQueue::<u64>::create(&name, 5).unwrap();
    q.put_many(&[1, 2, 3]).unwrap();
    q.get().unwrap();
    let info = q.segment().info().clone();
    let f = std::fs::File::open(format!("/dev/shm/shmkit.{name}")).unwrap();
    let mut control = vec![0u8; shmkit::queue::CONTROL_BLOCK_LEN];
    f.read_exact_at(&mut control, 256).unwrap();
    let mut slots = vec![0u8; 5 * 16];
    f.read_exact_at(&mut slots, 576).unwrap();
    let decoded = shmkit::QueueSnapshot::from_bytes(&info, &control, &slots).unwrap();
    assert_eq!(decoded, q.snapshot());
    assert_eq!((decoded.len, decoded.unfinished), (2, Some(3)));
    assert!(shmkit::QueueSnapshot::from_bytes(&info, &control[..100], &slots).is_none());
}
