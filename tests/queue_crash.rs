//! The crash contract, deterministically: a process that dies holding a slot (in the
//! middle of a put or a get) is recognised, its slot skipped or freed, and nothing
//! acknowledged is lost; a live holder is never mistaken for a dead one.

mod common;

use std::time::Duration;

use shmkit::{GetError, Queue, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// Child: claims the next slot as a producer or consumer, raises the flag, then either
/// waits to be killed or exits at once (leaving a zombie until the parent reaps it).
fn claim_then(child: &common::ChildRole) {
    let q = Queue::<u64>::open(child.arg(0)).unwrap();
    let flag = Value::<u32>::open(child.arg(1)).unwrap();
    assert!(q.abandon_claim_for_tests(child.arg(2) == "consumer"));
    flag.atomic_store(1);
    if child.arg(3) == "hang" {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

#[test]
fn producer_killed_mid_put_is_skipped_and_later_messages_arrive() {
    const TEST: &str = "producer_killed_mid_put_is_skipped_and_later_messages_arrive";
    if let Some(child) = common::child_role() {
        return claim_then(&child);
    }
    let name = common::unique_name("q-crash-p");
    let flag_name = common::unique_name("q-crash-p-flag");
    let q = Queue::<u64>::create(&name, 4).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    q.put(1).unwrap();
    let mut kid = common::spawn_child(TEST, "claimer", &[&name, &flag_name, "producer", "hang"]);
    common::wait_until(LIMIT, "the child to claim a slot", || {
        flag.atomic_load() == 1
    });
    q.put(2).unwrap();
    assert_eq!(q.get().unwrap(), 1);
    // The slot's producer is alive (just slow): it must not be skipped.
    assert_eq!(q.try_get(), Err(GetError::Empty));
    let d = Duration::from_millis(30);
    assert_eq!(q.get_timeout(d), Err(GetError::Timeout(d)));
    assert_eq!(q.snapshot().writing, 1);
    common::kill9(&mut kid);
    assert_eq!(q.snapshot().dead_producer_slots, 1);
    // Now it is dead: the consumer skips its slot.
    assert_eq!(q.get_timeout(LIMIT), Ok(2));
    let snap = q.snapshot();
    assert_eq!(snap.skipped_dead_producers, 1);
    assert_eq!((snap.dead_producer_slots, snap.len), (0, 0));
    // And the queue goes on, across laps.
    for i in 0..20 {
        q.put(i).unwrap();
        assert_eq!(q.get().unwrap(), i);
    }
}

#[test]
fn consumer_killed_mid_get_frees_its_slot_for_producers() {
    const TEST: &str = "consumer_killed_mid_get_frees_its_slot_for_producers";
    if let Some(child) = common::child_role() {
        return claim_then(&child);
    }
    let name = common::unique_name("q-crash-c");
    let flag_name = common::unique_name("q-crash-c-flag");
    let q = Queue::<u64>::create(&name, 3).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    q.put(1).unwrap();
    q.put(2).unwrap();
    let mut kid = common::spawn_child(TEST, "claimer", &[&name, &flag_name, "consumer", "hang"]);
    common::wait_until(LIMIT, "the child to claim a slot", || {
        flag.atomic_load() == 1
    });
    assert_eq!(q.get().unwrap(), 2);
    q.put(3).unwrap();
    // The next put would go into the slot the child holds.
    // The ring is full up to the slot the live consumer holds: a put waits.
    let d = Duration::from_millis(30);
    assert!(q.put_timeout(4, d).unwrap_err().is_timeout());
    assert_eq!(q.snapshot().reading, 1);
    common::kill9(&mut kid);
    // Its holder is dead: the producer frees the slot (message 1 is lost with it).
    q.put_timeout(4, LIMIT).unwrap();
    assert_eq!(q.get().unwrap(), 3);
    assert_eq!(q.get().unwrap(), 4);
    let snap = q.snapshot();
    assert_eq!(snap.dropped_dead_consumers, 1);
    assert_eq!(snap.len, 0);
}

#[test]
fn a_zombie_holder_counts_as_dead() {
    const TEST: &str = "a_zombie_holder_counts_as_dead";
    if let Some(child) = common::child_role() {
        return claim_then(&child);
    }
    let name = common::unique_name("q-crash-z");
    let flag_name = common::unique_name("q-crash-z-flag");
    let q = Queue::<u64>::create(&name, 4).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    // The child claims and exits; we do not reap it until after the get, as a parent
    // busy consuming would not.
    let mut kid = common::spawn_child(TEST, "claimer", &[&name, &flag_name, "producer", "exit"]);
    common::wait_until(LIMIT, "the child to claim a slot", || {
        flag.atomic_load() == 1
    });
    q.put(5).unwrap();
    assert_eq!(q.get_timeout(LIMIT), Ok(5));
    assert!(kid.wait().unwrap().success());
}
