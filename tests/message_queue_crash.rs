//! MessageQueue crash contract: a process killed while it holds the queue's lock, in the
//! middle of a put or a get, is repaired from the committed positions by the next
//! locker; and a chaos run that SIGKILLs producers and consumers at random moments
//! loses no acknowledged message (consumers' in-flight excepted and counted) and
//! duplicates none.

mod common;

use std::process::Child;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmkit::{Error, MessageQueue, Segment};

const LIMIT: Duration = Duration::from_secs(60);

fn hang_child(child: &common::ChildRole) {
    let q = MessageQueue::open(child.arg(0)).unwrap();
    q.hang_holding_lock_for_tests(&[0xAB; 40], child.arg(1) == "get");
}

fn wait_for_holder(q: &MessageQueue, kid: &Child) {
    common::wait_until(LIMIT, "the child to hold the lock", || {
        q.snapshot().lock_holder == Some(kid.id())
    });
}

#[test]
fn producer_killed_holding_the_lock_mid_put_changes_nothing() {
    const TEST: &str = "producer_killed_holding_the_lock_mid_put_changes_nothing";
    if let Some(child) = common::child_role() {
        return hang_child(&child);
    }
    let name = common::unique_name("mq-crash-put");
    let q = MessageQueue::create(&name, 256, 64).unwrap();
    q.put_bytes(b"first").unwrap();
    let mut kid = common::spawn_child(TEST, "hanger", &[&name, "put"]);
    wait_for_holder(&q, &kid);
    // The holder is alive: a timed put waits for it (and times out).
    let t = Duration::from_millis(30);
    assert!(matches!(
        q.put_bytes_timeout(b"x", t),
        Err(Error::Timeout(d)) if d == t
    ));
    common::kill9(&mut kid);
    // The next locker repairs: the half-written record was never committed.
    q.put_bytes(b"second").unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q.get_bytes().unwrap(), b"first");
    assert_eq!(q.get_bytes().unwrap(), b"second");
    assert!(q.is_empty());
    let snap = q.snapshot();
    assert_eq!((snap.repairs, snap.len), (1, 0));
    for i in 0..100u32 {
        q.put(&i).unwrap();
        assert_eq!(q.get::<u32>().unwrap(), i);
    }
}

#[test]
fn consumer_killed_after_committing_head_loses_only_its_message() {
    const TEST: &str = "consumer_killed_after_committing_head_loses_only_its_message";
    if let Some(child) = common::child_role() {
        return hang_child(&child);
    }
    let name = common::unique_name("mq-crash-get");
    let q = MessageQueue::create(&name, 256, 64).unwrap();
    for m in [&b"taken by the dying consumer"[..], b"two", b"three"] {
        q.put_bytes(m).unwrap();
    }
    let mut kid = common::spawn_child(TEST, "hanger", &[&name, "get"]);
    wait_for_holder(&q, &kid);
    common::kill9(&mut kid);
    // The count was not lowered before the death; the repair recounts.
    assert_eq!(q.get_bytes().unwrap(), b"two");
    assert_eq!(q.len(), 1);
    assert_eq!(q.get_bytes().unwrap(), b"three");
    assert!(matches!(q.try_get_bytes(), Err(Error::WouldBlock)));
    assert_eq!(q.snapshot().repairs, 1);
}

// ----- chaos -----

/// Producer lives (each restart is a new life with its own sequence space).
const LIVES: usize = 64;
const PER_LIFE: u64 = 4_000;
const SENTINEL: u64 = 0xffff_ffff;
const TEST_CHAOS: &str = "chaos_sigkill_loses_no_acknowledged_message";

/// The shared bookkeeping: `acked[life]` (u64, how many of that life's messages were
/// acknowledged by a returned put), then `received[life * PER_LIFE + seq]` (u32 counts).
struct Book {
    seg: Segment,
}

impl Book {
    const BYTES: usize = LIVES * 8 + LIVES * PER_LIFE as usize * 4 + 8;

    fn acked(&self, life: usize) -> &AtomicU64 {
        assert!(life < LIVES);
        // SAFETY: offset life*8 < LIVES*8 is inside the data area (BYTES long), 8-aligned
        // (the data area is 64-aligned); the word is only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.seg.as_ptr().add(life * 8).cast()) }
    }

    fn received(&self, life: usize, seq: u64) -> &AtomicU32 {
        assert!(life < LIVES && seq < PER_LIFE);
        let i = life * PER_LIFE as usize + seq as usize;
        // SAFETY: the offset is below BYTES and 4-aligned; only accessed atomically.
        unsafe { AtomicU32::from_ptr(self.seg.as_ptr().add(LIVES * 8 + i * 4).cast()) }
    }

    /// How many sentinel messages (life `SENTINEL`) consumers received.
    fn sentinels(&self) -> &AtomicU64 {
        // SAFETY: the last 8 bytes of the data area, 8-aligned (BYTES - 8 is a multiple
        // of 8); only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.seg.as_ptr().add(Self::BYTES - 8).cast()) }
    }
}

fn chaos_message(life: u64, seq: u64) -> Vec<u8> {
    let mut m = ((life << 32) | seq).to_le_bytes().to_vec();
    // Mostly small, every fourth one large, so that kills land mid-copy too.
    let extra = if seq % 4 == 0 {
        30_000 + seq % 2_000
    } else {
        (seq * 31 + life * 7) % 150
    };
    m.extend((0..extra).map(|i| (seq + i) as u8));
    m
}

fn chaos_child(child: &common::ChildRole) {
    let q = MessageQueue::open(child.arg(0)).unwrap();
    let book = Book {
        seg: Segment::open(child.arg(1)).unwrap(),
    };
    if child.role == "producer" {
        let life: u64 = child.arg_parse(2);
        for seq in 0..PER_LIFE {
            match q.put_bytes(&chaos_message(life, seq)) {
                Ok(()) => book.acked(life as usize).store(seq + 1, Ordering::SeqCst),
                Err(Error::Closed) => return,
                Err(e) => panic!("put: {e}"),
            }
        }
    } else {
        loop {
            match q.get_bytes() {
                Ok(m) => {
                    let tag = u64::from_le_bytes(m[..8].try_into().unwrap());
                    let (life, seq) = (tag >> 32, tag & 0xffff_ffff);
                    if life == SENTINEL {
                        book.sentinels().fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    assert_eq!(m, chaos_message(life, seq), "torn message");
                    book.received(life as usize, seq)
                        .fetch_add(1, Ordering::SeqCst);
                }
                Err(Error::Closed) => return,
                Err(e) => panic!("get: {e}"),
            }
        }
    }
}

/// A pseudo-random sequence (no random crate needed).
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn chaos_sigkill_loses_no_acknowledged_message() {
    if let Some(child) = common::child_role() {
        return chaos_child(&child);
    }
    let name = common::unique_name("mq-chaos");
    let book_name = common::unique_name("mq-chaos-book");
    let q = MessageQueue::create(&name, 128 * 1024, 32 * 1024).unwrap();
    let book = Book {
        seg: Segment::create(&book_name, Book::BYTES).unwrap(),
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let mut next_life = 0usize;
    let spawn_producer = |lives: &mut usize| {
        let life = *lives;
        *lives += 1;
        common::spawn_child(
            TEST_CHAOS,
            "producer",
            &[&name, &book_name, &life.to_string()],
        )
    };
    let mut producers: Vec<Child> = (0..2).map(|_| spawn_producer(&mut next_life)).collect();
    let spawn_consumer = || common::spawn_child(TEST_CHAOS, "consumer", &[&name, &book_name]);
    let mut consumers: Vec<Child> = (0..2).map(|_| spawn_consumer()).collect();
    let mut consumer_kills = 0u64;
    let mut producer_kills = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) && next_life < LIVES - 4 {
        std::thread::sleep(Duration::from_millis(5 + rng.next(60)));
        let mut victim = rng.next(4) as usize;
        if rng.next(2) == 0 {
            // Half the kills aim at whoever holds the lock: stop it, and if it still
            // holds the lock (mid-copy), that is the victim.
            let aim = Instant::now();
            while aim.elapsed() < Duration::from_millis(20) {
                let Some(holder) = q.snapshot().lock_holder else {
                    continue;
                };
                let all: Vec<u32> = producers.iter().chain(&consumers).map(Child::id).collect();
                let Some(i) = all.iter().position(|&id| id == holder) else {
                    continue;
                };
                // SAFETY: signals our own child (not yet reaped, so the pid is its).
                unsafe { libc::kill(holder as libc::pid_t, libc::SIGSTOP) };
                if q.snapshot().lock_holder == Some(holder) {
                    victim = i;
                    break;
                }
                // SAFETY: as above.
                unsafe { libc::kill(holder as libc::pid_t, libc::SIGCONT) };
            }
        }
        if victim < 2 {
            common::kill9(&mut producers[victim]);
            producer_kills += 1;
            producers[victim] = spawn_producer(&mut next_life);
        } else {
            common::kill9(&mut consumers[victim - 2]);
            consumer_kills += 1;
            consumers[victim - 2] = spawn_consumer();
        }
    }
    // Calm: the last producers finish their lives; the consumers drain the queue.
    for p in producers {
        common::wait_ok(p, LIMIT);
    }
    // The queue still works after all that: a message put now reaches a consumer.
    q.put_bytes(&((SENTINEL << 32) | 1).to_le_bytes()).unwrap();
    common::wait_until(LIMIT, "a consumer to take the sentinel", || {
        book.sentinels().load(Ordering::SeqCst) == 1
    });
    assert_eq!(q.len(), 0);
    q.close();
    for c in consumers {
        common::wait_ok(c, LIMIT);
    }
    assert!(producer_kills + consumer_kills > 0);

    let (mut lost, mut unacked_delivered, mut delivered) = (0u64, 0u64, 0u64);
    for life in 0..next_life {
        let acked = book.acked(life).load(Ordering::SeqCst);
        for seq in 0..PER_LIFE {
            let n = book.received(life, seq).load(Ordering::SeqCst);
            assert!(n <= 1, "message {life}/{seq} delivered {n} times");
            delivered += u64::from(n);
            if seq < acked && n == 0 {
                lost += 1;
            }
            if seq >= acked && n == 1 {
                // A put that committed but was killed before returning (or before the
                // ack was recorded): only the message right after the last ack.
                assert_eq!(seq, acked, "message {life}/{seq} was never put");
                unacked_delivered += 1;
            }
        }
    }
    // Only consumers killed in flight lose messages: at most one each.
    assert!(
        lost <= consumer_kills,
        "{lost} acknowledged messages lost, only {consumer_kills} consumers killed"
    );
    eprintln!(
        "chaos: {next_life} producer lives, {producer_kills} producers and {consumer_kills} consumers killed, \
         {delivered} delivered, {lost} lost in flight, {unacked_delivered} unacknowledged delivered, \
         {} repairs",
        q.snapshot().repairs
    );
    assert!(
        q.snapshot().repairs > 0,
        "no kill landed while the lock was held"
    );
    assert_eq!(q.bytes_used(), 0);
}

#[test]
fn consumer_killed_holding_the_lock_before_committing_loses_nothing() {
    const TEST: &str = "consumer_killed_holding_the_lock_before_committing_loses_nothing";
    if let Some(child) = common::child_role() {
        // Takes the lock and dies before storing `head`: as a consumer killed while
        // copying the message out.
        let q = MessageQueue::open(child.arg(0)).unwrap();
        q.hang_holding_lock_for_tests(&[], false);
    }
    let name = common::unique_name("mq-crash-get-early");
    let q = MessageQueue::create(&name, 256, 64).unwrap();
    q.put_bytes(b"still here").unwrap();
    let mut kid = common::spawn_child(TEST, "hanger", &[&name]);
    wait_for_holder(&q, &kid);
    // A blocked consumer is handed the lock (owner died) when the holder is killed.
    std::thread::scope(|s| {
        let getter = s.spawn(|| q.get_bytes_timeout(LIMIT));
        std::thread::sleep(Duration::from_millis(20));
        common::kill9(&mut kid);
        assert_eq!(getter.join().unwrap().unwrap(), b"still here");
    });
    assert_eq!((q.len(), q.snapshot().repairs), (0, 1));
}
