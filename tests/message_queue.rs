//! MessageQueue: the semantics of Python's `multiprocessing.Queue` (FIFO, Full/Empty
//! with and without timeouts, qsize, close) for byte messages and serde values, in one
//! process and across real processes.

mod common;

use std::time::{Duration, Instant};

use shmkit::{Error, MessageQueue, Queue};

const LIMIT: Duration = Duration::from_secs(60);

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn message_queue_is_send_and_sync() {
    assert_send_sync::<MessageQueue>();
}

#[test]
fn fifo_keeps_boundaries_and_delivers_empty_messages() {
    let name = common::unique_name("mq-fifo");
    let q = MessageQueue::create(&name, 256, 64).unwrap();
    let msgs: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        vec![],
        b"hello world".to_vec(),
        vec![7; 64],
        vec![],
        b"12345678".to_vec(),
    ];
    for m in &msgs {
        q.put_bytes(m).unwrap();
    }
    assert_eq!(q.len(), msgs.len());
    for m in &msgs {
        assert_eq!(&q.get_bytes().unwrap(), m);
    }
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    assert_eq!(q.bytes_used(), 0);
}

#[test]
fn messages_wrap_around_the_ring_intact() {
    let name = common::unique_name("mq-wrap");
    // A small ring: records wrap at every possible offset.
    let q = MessageQueue::create(&name, 100, 40).unwrap();
    let mut expect = std::collections::VecDeque::new();
    let mut next = 0u32;
    for round in 0..2000u32 {
        let len = (round * 7 % 41) as usize;
        let msg: Vec<u8> = (0..len).map(|i| (next as usize + i) as u8).collect();
        match q.try_put_bytes(&msg) {
            Ok(()) => {
                expect.push_back(msg);
                next += 1;
            }
            Err(Error::WouldBlock) => {
                assert!(!expect.is_empty(), "an empty ring must take a max message");
                assert_eq!(q.get_bytes().unwrap(), expect.pop_front().unwrap());
            }
            Err(e) => panic!("{e}"),
        }
        if round % 3 == 0 {
            if let Some(m) = expect.pop_front() {
                assert_eq!(q.try_get_bytes().unwrap(), m);
            }
        }
        assert_eq!(q.len(), expect.len());
    }
    while let Some(m) = expect.pop_front() {
        assert_eq!(q.try_get_bytes().unwrap(), m);
    }
    assert!(matches!(q.try_get_bytes(), Err(Error::WouldBlock)));
}

#[test]
fn sizes_are_validated() {
    let name = common::unique_name("mq-args");
    assert!(matches!(
        MessageQueue::create(&name, 0, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        MessageQueue::create(&name, 100, 101),
        Err(Error::InvalidArgument(_))
    ));
    // A capacity equal to the maximum message holds one such message.
    let q = MessageQueue::create(&name, 100, 100).unwrap();
    assert!(q.capacity_bytes() >= 100);
    assert_eq!(q.max_message(), 100);
    q.put_bytes(&[1; 100]).unwrap();
    assert!(matches!(q.try_put_bytes(&[]), Err(Error::WouldBlock)));
    assert!(matches!(
        q.put_bytes(&[0; 101]),
        Err(Error::TooLarge {
            size: 101,
            max: 100
        })
    ));
    assert_eq!(q.get_bytes().unwrap(), vec![1; 100]);
}

#[test]
fn full_and_empty_with_and_without_timeouts() {
    let name = common::unique_name("mq-full");
    let q = MessageQueue::create(&name, 32, 8).unwrap();
    // 32 + 8 = 40 ring bytes: two 8-byte messages (16 each) fit, a third does not.
    q.put_bytes(b"one").unwrap();
    q.put_bytes(b"two").unwrap();
    assert!(matches!(q.try_put_bytes(b"3"), Err(Error::WouldBlock)));
    let t = Duration::from_millis(50);
    let start = Instant::now();
    assert!(matches!(q.put_bytes_timeout(b"3", t), Err(Error::Timeout(d)) if d == t));
    assert!(
        start.elapsed() >= t,
        "a timeout waits at least its duration"
    );
    // An empty message still needs its 8-byte header.
    assert_eq!(q.bytes_used(), 32);
    q.put_bytes_timeout(b"", t).unwrap();
    assert!(matches!(q.try_put_bytes(b""), Err(Error::WouldBlock)));
    assert_eq!(q.get_bytes_timeout(t).unwrap(), b"one");
    assert_eq!(q.try_get_bytes().unwrap(), b"two");
    assert_eq!(q.get_bytes().unwrap(), b"");
    assert!(matches!(q.try_get_bytes(), Err(Error::WouldBlock)));
    let start = Instant::now();
    assert!(matches!(q.get_bytes_timeout(t), Err(Error::Timeout(d)) if d == t));
    assert!(
        start.elapsed() >= t,
        "a timeout waits at least its duration"
    );
    // A zero timeout on a queue that is ready succeeds.
    q.put_bytes_timeout(b"z", Duration::ZERO).unwrap();
    assert_eq!(q.get_bytes_timeout(Duration::ZERO).unwrap(), b"z");
}

#[test]
fn len_follows_puts_and_gets() {
    let name = common::unique_name("mq-len");
    let q = MessageQueue::create(&name, 1024, 100).unwrap();
    for i in 0..10usize {
        assert_eq!(q.len(), i);
        q.put_bytes(&vec![i as u8; i * 3]).unwrap();
    }
    assert_eq!(q.len(), 10);
    let used = q.bytes_used();
    assert_eq!(
        used,
        (0..10).map(|i: usize| 8 + (i * 3).div_ceil(8) * 8).sum()
    );
    for i in (0..10usize).rev() {
        q.get_bytes().unwrap();
        assert_eq!(q.len(), i);
    }
    assert!(q.is_empty());
}

#[test]
fn put_and_get_after_close() {
    let name = common::unique_name("mq-close");
    let q = MessageQueue::create(&name, 256, 16).unwrap();
    q.put_bytes(b"left").unwrap();
    assert!(!q.is_closed());
    q.close();
    assert!(q.is_closed());
    let other = MessageQueue::open(&name).unwrap();
    assert!(other.is_closed());
    assert!(matches!(other.put_bytes(b"x"), Err(Error::Closed)));
    assert!(matches!(other.try_put_bytes(b"x"), Err(Error::Closed)));
    assert!(matches!(
        other.put_bytes_timeout(b"x", Duration::from_millis(5)),
        Err(Error::Closed)
    ));
    // Gets drain what is left, then report Closed (never block).
    assert_eq!(other.get_bytes().unwrap(), b"left");
    assert!(matches!(other.get_bytes(), Err(Error::Closed)));
    assert!(matches!(other.try_get_bytes(), Err(Error::Closed)));
    assert!(matches!(
        other.get_bytes_timeout(Duration::from_secs(5)),
        Err(Error::Closed)
    ));
}

#[test]
fn close_wakes_a_blocked_consumer() {
    let name = common::unique_name("mq-close-wake");
    let q = MessageQueue::create(&name, 256, 16).unwrap();
    std::thread::scope(|s| {
        let t = s.spawn(|| q.get_bytes());
        std::thread::sleep(Duration::from_millis(20));
        q.close();
        assert!(matches!(t.join().unwrap(), Err(Error::Closed)));
    });
}

#[test]
fn get_into_reports_the_needed_size_and_keeps_the_message() {
    let name = common::unique_name("mq-into");
    let q = MessageQueue::create(&name, 256, 64).unwrap();
    q.put_bytes(b"a message of 26 bytes long").unwrap();
    let mut small = [0u8; 4];
    match q.get_bytes_into(&mut small) {
        Err(Error::BufferTooSmall { needed, capacity }) => {
            assert_eq!((needed, capacity), (26, 4));
        }
        other => panic!("expected BufferTooSmall, got {other:?}"),
    }
    assert_eq!(q.len(), 1, "the message was not consumed");
    let mut buf = [0u8; 64];
    assert_eq!(q.get_bytes_into(&mut buf).unwrap(), 26);
    assert_eq!(&buf[..26], b"a message of 26 bytes long");
    assert!(matches!(
        q.try_get_bytes_into(&mut buf),
        Err(Error::WouldBlock)
    ));
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Job {
    id: u64,
    name: String,
    weights: Vec<f64>,
}

#[test]
fn serde_values_round_trip() {
    let name = common::unique_name("mq-serde");
    let q = MessageQueue::create(&name, 4096, 512).unwrap();
    let job = Job {
        id: 7,
        name: "resize".into(),
        weights: vec![0.5, 1.5],
    };
    q.put(&job).unwrap();
    q.put("a str").unwrap();
    q.try_put(&vec![1u16, 2, 3]).unwrap();
    q.put_timeout(&Some(3i8), Duration::from_millis(10))
        .unwrap();
    assert_eq!(q.get::<Job>().unwrap(), job);
    assert_eq!(q.get::<String>().unwrap(), "a str");
    assert_eq!(q.try_get::<Vec<u16>>().unwrap(), vec![1, 2, 3]);
    assert_eq!(
        q.get_timeout::<Option<i8>>(Duration::from_millis(10))
            .unwrap(),
        Some(3)
    );
    // Bytes that are not the type: Codec.
    q.put_bytes(&[0xff, 0xff, 0xff]).unwrap();
    assert!(matches!(q.get::<Job>(), Err(Error::Codec(_))));
    // A value too large to fit: TooLarge.
    assert!(matches!(
        q.put(&vec![0u8; 600]),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn open_checks_the_kind_and_open_or_create_keeps_the_geometry() {
    let name = common::unique_name("mq-kind");
    let _typed = Queue::<u64>::create(&name, 4).unwrap();
    assert!(matches!(
        MessageQueue::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    let name = common::unique_name("mq-ooc");
    let a = MessageQueue::open_or_create(&name, 512, 100).unwrap();
    let b = MessageQueue::open_or_create(&name, 64, 8).unwrap();
    assert_eq!(b.max_message(), 100);
    assert_eq!(a.capacity_bytes(), b.capacity_bytes());
    b.put_bytes(&[3; 90]).unwrap();
    assert_eq!(a.get_bytes().unwrap(), vec![3; 90]);
    assert!(matches!(
        MessageQueue::open(&common::unique_name("mq-missing")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn anonymous_queue_is_shared_with_a_forked_child() {
    let q = MessageQueue::anonymous(1024, 128).unwrap();
    // SAFETY: the child only uses the queue (async-signal-unsafe calls such as malloc are
    // fine here: the test harness thread forks from a state where no other thread of
    // this test holds a lock we need) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let mut ok = true;
        for i in 0..100u32 {
            ok &= q.put(&(i, format!("msg {i}"))).is_ok();
        }
        // SAFETY: _exit ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    for i in 0..100u32 {
        let (n, s): (u32, String) = q.get_timeout(LIMIT).unwrap();
        assert_eq!((n, s), (i, format!("msg {i}")));
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

#[test]
fn a_producer_process_and_a_consumer_process() {
    const TEST: &str = "a_producer_process_and_a_consumer_process";
    if let Some(child) = common::child_role() {
        let q = MessageQueue::open(child.arg(0)).unwrap();
        for i in 0..2000u32 {
            let len = (i % 300) as usize;
            let mut msg = i.to_le_bytes().to_vec();
            msg.resize(4 + len, (i % 251) as u8);
            q.put_bytes(&msg).unwrap();
        }
        q.put_bytes(b"").unwrap();
        return;
    }
    let name = common::unique_name("mq-procs");
    // A ring much smaller than the traffic: the producer blocks on full many times.
    let q = MessageQueue::create(&name, 2048, 512).unwrap();
    let kid = common::spawn_child(TEST, "producer", &[&name]);
    for i in 0..2000u32 {
        let msg = q.get_bytes_timeout(LIMIT).unwrap();
        assert_eq!(msg.len(), 4 + (i % 300) as usize);
        assert_eq!(u32::from_le_bytes(msg[..4].try_into().unwrap()), i);
        assert!(msg[4..].iter().all(|&b| b == (i % 251) as u8));
    }
    assert_eq!(q.get_bytes_timeout(LIMIT).unwrap(), b"");
    common::wait_ok(kid, LIMIT);
    drop(q);
    assert!(!std::path::Path::new(&format!("/dev/shm/shmkit.{name}")).exists());
}
