//! Ports of the semantic cases of CPython's multiprocessing tests (`_TestLock`,
//! `_TestSemaphore`, `_TestEvent`, `_TestCondition`, `_TestBarrier`) for RLock,
//! Semaphore, BoundedSemaphore, Event, Condition and Barrier, each across real
//! processes, plus crash cases (a process killed while waiting or holding).

mod common;

use std::time::{Duration, Instant};

use shmkit::{
    Array, Barrier, BoundedSemaphore, Condition, Error, Event, LockError, RLock, Semaphore, Value,
};

const LIMIT: Duration = Duration::from_secs(60);
const LONG: Duration = Duration::from_secs(30);

fn spawn(test: &str, role: &str, args: &[&str]) -> std::process::Child {
    common::spawn_child(test, role, args)
}

fn park_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

// ---------------------------------------------------------------- RLock

#[test]
fn rlock_is_reentrant_and_release_by_non_owner_is_an_error() {
    const T: &str = "rlock_is_reentrant_and_release_by_non_owner_is_an_error";
    if let Some(child) = common::child_role() {
        let l = RLock::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "intruder" => {
                // The parent holds it twice: we can neither take it nor release it.
                assert!(matches!(
                    l.try_lock(),
                    Err(LockError::Failed(Error::WouldBlock))
                ));
                assert!(matches!(l.release(), Err(Error::NotOwner { .. })));
                assert!(!l.is_owned());
            }
            "reenter" => {
                let a = l.lock().unwrap();
                let b = l.lock().unwrap();
                let c = l.try_lock().unwrap();
                assert_eq!(l.snapshot().count, 3);
                drop((c, b, a));
                assert!(matches!(l.release(), Err(Error::NotOwner { .. })));
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("rlock");
    let l = RLock::create(&name).unwrap();
    let outer = l.lock().unwrap();
    let inner = l.lock().unwrap();
    assert!(l.is_owned());
    let s = l.snapshot();
    assert_eq!((s.count, s.owner_pid), (2, std::process::id()));
    common::wait_ok(spawn(T, "intruder", &[&name]), LIMIT);
    // Another thread of this process is not the owner either.
    std::thread::scope(|sc| {
        sc.spawn(|| assert!(matches!(l.release(), Err(Error::NotOwner { .. }))));
    });
    drop(inner);
    assert_eq!(l.snapshot().count, 1);
    drop(outer);
    assert_eq!(l.snapshot().count, 0);
    assert!(matches!(l.release(), Err(Error::NotOwner { .. })));
    common::wait_ok(spawn(T, "reenter", &[&name]), LIMIT);
    // Python-style acquire/release.
    l.lock().unwrap().leak();
    l.lock().unwrap().leak();
    l.release().unwrap();
    l.release().unwrap();
    assert!(l.release().is_err());
}

#[test]
fn rlock_owner_killed_while_holding_twice_is_reported_to_next_owner() {
    const T: &str = "rlock_owner_killed_while_holding_twice_is_reported_to_next_owner";
    if let Some(child) = common::child_role() {
        let l = RLock::open(child.arg(0)).unwrap();
        let ev = Event::open(child.arg(1)).unwrap();
        l.lock().unwrap().leak();
        l.lock().unwrap().leak();
        ev.set();
        park_forever();
    }
    let name = common::unique_name("rlock-died");
    let ev_name = common::unique_name("rlock-died-ev");
    let l = RLock::create(&name).unwrap();
    let ev = Event::create(&ev_name).unwrap();
    let mut kid = spawn(T, "holder", &[&name, &ev_name]);
    assert!(ev.wait_timeout(LONG), "holder never took the lock");
    common::kill9(&mut kid);
    let g = match l.lock_timeout(LONG) {
        Err(LockError::OwnerDied(d)) => d.recover(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert_eq!(l.snapshot().count, 1);
    assert_eq!(l.snapshot().owner_pid, std::process::id());
    drop(g);
    let g = l.lock().expect("recovered: a plain lock again");
    drop(g);
}

// ---------------------------------------------------------------- Semaphore

#[test]
fn semaphore_counts_and_times_out_across_processes() {
    const T: &str = "semaphore_counts_and_times_out_across_processes";
    if let Some(child) = common::child_role() {
        let s = Semaphore::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "drain" => {
                // Python test_semaphore: two permits, then none.
                assert!(s.try_acquire());
                assert!(s.try_acquire());
                assert_eq!(s.value(), 0);
                assert!(!s.try_acquire());
                // Python test_timeout: acquire(timeout) on an empty semaphore is False
                // and waits at least the timeout.
                let t0 = Instant::now();
                assert!(!s.acquire_timeout(Duration::from_millis(100)));
                assert!(t0.elapsed() >= Duration::from_millis(100));
            }
            "waiter" => {
                // Blocks until the parent releases.
                assert!(s.acquire_timeout(LONG));
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("sem");
    let s = Semaphore::create(&name, 2).unwrap();
    common::wait_ok(spawn(T, "drain", &[&name]), LIMIT);
    assert_eq!(s.value(), 0);
    let kid = spawn(T, "waiter", &[&name]);
    common::wait_until(LONG, "the waiter to sleep", || s.snapshot().waiters == 1);
    s.release().unwrap();
    common::wait_ok(kid, LIMIT);
    assert_eq!(s.value(), 0);
    s.release_n(3).unwrap();
    assert_eq!(s.value(), 3);
    assert!(matches!(
        BoundedSemaphore::open(&name),
        Err(Error::KindMismatch { .. })
    ));
}

#[test]
fn bounded_semaphore_over_release_is_an_error() {
    const T: &str = "bounded_semaphore_over_release_is_an_error";
    if let Some(child) = common::child_role() {
        let s = BoundedSemaphore::open(child.arg(0)).unwrap();
        s.acquire();
        s.release().unwrap();
        match s.release() {
            Err(Error::OverRelease { max, found, .. }) => assert_eq!((max, found), (2, 3)),
            other => panic!("expected OverRelease, got {other:?}"),
        }
        return;
    }
    let name = common::unique_name("bsem");
    let s = BoundedSemaphore::create(&name, 2).unwrap();
    common::wait_ok(spawn(T, "child", &[&name]), LIMIT);
    assert_eq!(s.value(), 2);
    assert_eq!(s.snapshot().bound, Some(2));
    assert!(s.release_n(1).is_err());
    assert_eq!(s.value(), 2);
    assert!(matches!(
        Semaphore::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    // An unbounded semaphore refuses to wrap past u32::MAX, and keeps its value.
    let full = Semaphore::anonymous(u32::MAX).unwrap();
    assert!(matches!(full.release(), Err(Error::OverRelease { .. })));
    assert!(matches!(full.release_n(2), Err(Error::OverRelease { .. })));
    assert_eq!(full.value(), u32::MAX);
}

#[test]
fn semaphore_waiter_killed_mid_wait_does_not_block_others() {
    const T: &str = "semaphore_waiter_killed_mid_wait_does_not_block_others";
    if let Some(child) = common::child_role() {
        let s = Semaphore::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "victim" => {
                s.acquire();
                panic!("the victim should have been killed while waiting");
            }
            "survivor" => assert!(s.acquire_timeout(LONG)),
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("sem-kill");
    let s = Semaphore::create(&name, 0).unwrap();
    let mut victim = spawn(T, "victim", &[&name]);
    common::wait_until(LONG, "the victim to sleep", || s.snapshot().waiters == 1);
    common::kill9(&mut victim);
    let survivor = spawn(T, "survivor", &[&name]);
    // The dead victim's registration stays: wait for the survivor's on top of it.
    common::wait_until(LONG, "the survivor to sleep", || s.snapshot().waiters == 2);
    s.release().unwrap();
    common::wait_ok(survivor, LIMIT);
    assert_eq!(s.value(), 0);
    assert_eq!(
        s.snapshot().waiters,
        1,
        "the killed waiter's registration is the documented leftover"
    );
}

// ---------------------------------------------------------------- Event

#[test]
fn event_set_wakes_every_waiting_process_and_timeout_returns_false() {
    const T: &str = "event_set_wakes_every_waiting_process_and_timeout_returns_false";
    if let Some(child) = common::child_role() {
        let e = Event::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "short" => {
                // Python: wait(timeout) on a clear event returns False.
                let t0 = Instant::now();
                assert!(!e.wait_timeout(Duration::from_millis(100)));
                assert!(t0.elapsed() >= Duration::from_millis(100));
                assert!(!e.is_set());
            }
            "waiter" => {
                assert!(e.wait_timeout(LONG));
                assert!(e.is_set());
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("event");
    let e = Event::create(&name).unwrap();
    assert!(!e.is_set());
    common::wait_ok(spawn(T, "short", &[&name]), LIMIT);
    let kids: Vec<_> = (0..3).map(|_| spawn(T, "waiter", &[&name])).collect();
    common::wait_until(LONG, "three waiters", || e.snapshot().waiters == 3);
    e.set();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    // Python: wait on a set event returns True at once; clear makes it wait again.
    assert!(e.wait_timeout(Duration::ZERO));
    e.clear();
    assert!(!e.wait_timeout(Duration::from_millis(10)));
}

// ---------------------------------------------------------------- Condition

#[test]
fn condition_notify_one_then_notify_all_wakes_exactly_those_waiters() {
    const T: &str = "condition_notify_one_then_notify_all_wakes_exactly_those_waiters";
    if let Some(child) = common::child_role() {
        let c = Condition::open(child.arg(0)).unwrap();
        let tickets = Value::<u64>::open(child.arg(1)).unwrap();
        let woken = Value::<u64>::open(child.arg(2)).unwrap();
        let g = c.lock().unwrap();
        // Plain waits (not wait_while) so that each notify is observed as such;
        // spurious returns go back to waiting while no ticket is available.
        let mut g = c.wait(g).unwrap();
        while tickets.atomic_load() == 0 {
            g = c.wait(g).unwrap();
        }
        tickets.fetch_sub(1);
        woken.fetch_add(1);
        drop(g);
        return;
    }
    let name = common::unique_name("cond");
    let (tn, wn) = (common::unique_name("tickets"), common::unique_name("woken"));
    let c = Condition::create(&name).unwrap();
    let tickets = Value::<u64>::create(&tn, 0).unwrap();
    let woken = Value::<u64>::create(&wn, 0).unwrap();
    let mut kids: Vec<_> = (0..3)
        .map(|_| spawn(T, "waiter", &[&name, &tn, &wn]))
        .collect();
    common::wait_until(LONG, "three waiters", || {
        c.snapshot().condition.waiters == 3
    });
    {
        let _g = c.lock().unwrap();
        tickets.atomic_store(1);
        c.notify_one();
    }
    common::wait_until(LONG, "one waiter to wake", || woken.atomic_load() == 1);
    {
        let _g = c.lock().unwrap();
        tickets.atomic_store(2);
        c.notify_all();
    }
    for k in kids.drain(..) {
        common::wait_ok(k, LIMIT);
    }
    assert_eq!(woken.atomic_load(), 3);
    assert_eq!(tickets.atomic_load(), 0);
}

#[test]
fn condition_wait_for_predicate_with_timeout() {
    const T: &str = "condition_wait_for_predicate_with_timeout";
    if let Some(child) = common::child_role() {
        let c = Condition::open(child.arg(0)).unwrap();
        let state = Value::<u64>::open(child.arg(1)).unwrap();
        let g = c.lock().unwrap();
        // Python test_waitfor_timeout: a predicate that never holds -> False after
        // the timeout.
        let t0 = Instant::now();
        let (g, ok) = c
            .wait_for(
                g,
                || state.atomic_load() == 99,
                Some(Duration::from_millis(100)),
            )
            .unwrap();
        assert!(!ok);
        assert!(t0.elapsed() >= Duration::from_millis(100));
        // Python test_waitfor: the parent makes it true step by step.
        let (g, ok) = c
            .wait_for(g, || state.atomic_load() == 4, Some(LONG))
            .unwrap();
        assert!(ok);
        drop(g);
        return;
    }
    let name = common::unique_name("cond-wf");
    let sn = common::unique_name("cond-state");
    let c = Condition::create(&name).unwrap();
    let state = Value::<u64>::create(&sn, 0).unwrap();
    let kid = spawn(T, "waiter", &[&name, &sn]);
    for i in 1..=4 {
        // Each step waits for the child to be waiting again, then notifies.
        common::wait_until(LONG, "the waiter", || c.snapshot().condition.waiters == 1);
        let _g = c.lock().unwrap();
        state.atomic_store(i);
        c.notify_all();
    }
    common::wait_ok(kid, LIMIT);
    // wait_timeout without a notification reports a timeout.
    let g = c.lock().unwrap();
    let (g, notified) = c.wait_timeout(g, Duration::from_millis(20)).unwrap();
    assert!(!notified);
    drop(g);
    // A guard of another mutex is refused.
    let other = Condition::anonymous().unwrap();
    let og = other.lock().unwrap();
    assert!(matches!(
        c.wait(og),
        Err(LockError::Failed(Error::InvalidArgument(_)))
    ));
}

// ---------------------------------------------------------------- Barrier

#[test]
fn barrier_hands_out_every_index_once_per_generation() {
    const T: &str = "barrier_hands_out_every_index_once_per_generation";
    const ROUNDS: usize = 3;
    if let Some(child) = common::child_role() {
        let b = Barrier::open(child.arg(0)).unwrap();
        let out = Array::<u32>::open(child.arg(1)).unwrap();
        let me: usize = child.arg_parse(2);
        for r in 0..ROUNDS {
            let i = b.wait_timeout(LONG).unwrap();
            out.set(r * 4 + me, i).unwrap();
        }
        return;
    }
    let name = common::unique_name("barrier");
    let an = common::unique_name("barrier-out");
    let b = Barrier::create(&name, 4).unwrap();
    assert_eq!(b.parties().unwrap(), 4);
    let out = Array::<u32>::create(&an, ROUNDS * 4).unwrap();
    let kids: Vec<_> = (1..4)
        .map(|me| spawn(T, "party", &[&name, &an, &me.to_string()]))
        .collect();
    for r in 0..ROUNDS {
        let i = b.wait_timeout(LONG).unwrap();
        out.set(r * 4, i).unwrap();
    }
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    for r in 0..ROUNDS {
        let mut got: Vec<u32> = (0..4).map(|p| out.get(r * 4 + p).unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3], "round {r}");
    }
    assert!(!b.is_broken());
    assert_eq!(b.n_waiting(), 0);
    drop((b, out));
    assert_gone(&name);
    assert_gone(&an);
}

#[test]
fn barrier_abort_breaks_waiters_until_reset() {
    const T: &str = "barrier_abort_breaks_waiters_until_reset";
    if let Some(child) = common::child_role() {
        let b = Barrier::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "broken" => assert!(matches!(b.wait(), Err(Error::BrokenBarrier(_)))),
            "party" => {
                b.wait_timeout(LONG).unwrap();
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("barrier-abort");
    let b = Barrier::create(&name, 3).unwrap();
    let kid = spawn(T, "broken", &[&name]);
    common::wait_until(LONG, "a waiting party", || b.n_waiting() == 1);
    b.abort();
    common::wait_ok(kid, LIMIT);
    assert!(b.is_broken());
    assert!(matches!(b.wait(), Err(Error::BrokenBarrier(_))));
    b.reset();
    assert!(!b.is_broken());
    let kids: Vec<_> = (0..2).map(|_| spawn(T, "party", &[&name])).collect();
    b.wait_timeout(LONG).unwrap();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
}

#[test]
fn barrier_reset_breaks_current_waiters_then_works() {
    const T: &str = "barrier_reset_breaks_current_waiters_then_works";
    if let Some(child) = common::child_role() {
        let b = Barrier::open(child.arg(0)).unwrap();
        match child.role.as_str() {
            "reset-victim" => assert!(matches!(b.wait(), Err(Error::BrokenBarrier(_)))),
            "party" => {
                b.wait_timeout(LONG).unwrap();
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("barrier-reset");
    let b = Barrier::create(&name, 2).unwrap();
    let kid = spawn(T, "reset-victim", &[&name]);
    common::wait_until(LONG, "a waiting party", || b.n_waiting() == 1);
    b.reset();
    common::wait_ok(kid, LIMIT);
    assert!(!b.is_broken());
    assert_eq!(b.n_waiting(), 0);
    let kid = spawn(T, "party", &[&name]);
    b.wait_timeout(LONG).unwrap();
    common::wait_ok(kid, LIMIT);
}

#[test]
fn barrier_timeout_breaks_it_for_everyone() {
    const T: &str = "barrier_timeout_breaks_it_for_everyone";
    if let Some(child) = common::child_role() {
        let b = Barrier::open(child.arg(0)).unwrap();
        // Waits without a timeout: the parent's timeout must release it.
        assert!(matches!(b.wait(), Err(Error::BrokenBarrier(_))));
        return;
    }
    let name = common::unique_name("barrier-timeout");
    let b = Barrier::create(&name, 3).unwrap();
    let kid = spawn(T, "party", &[&name]);
    common::wait_until(LONG, "a waiting party", || b.n_waiting() == 1);
    let t0 = Instant::now();
    assert!(matches!(
        b.wait_timeout(Duration::from_millis(100)),
        Err(Error::Timeout(_))
    ));
    assert!(t0.elapsed() >= Duration::from_millis(100));
    common::wait_ok(kid, LIMIT);
    assert!(b.is_broken());
    assert!(matches!(
        b.wait_timeout(Duration::from_millis(10)),
        Err(Error::BrokenBarrier(_))
    ));
    b.reset();
    assert!(!b.is_broken());
}

#[test]
fn barrier_party_killed_while_waiting_makes_timed_waiters_break_not_hang() {
    const T: &str = "barrier_party_killed_while_waiting_makes_timed_waiters_break_not_hang";
    if let Some(child) = common::child_role() {
        let b = Barrier::open(child.arg(0)).unwrap();
        let _ = b.wait();
        park_forever();
    }
    let name = common::unique_name("barrier-kill");
    let b = Barrier::create(&name, 3).unwrap();
    let mut kid = spawn(T, "victim", &[&name]);
    common::wait_until(LONG, "the victim to wait", || b.n_waiting() == 1);
    common::kill9(&mut kid);
    assert!(matches!(
        b.wait_timeout(Duration::from_millis(100)),
        Err(Error::Timeout(_))
    ));
    assert!(b.is_broken());
}

#[test]
fn opening_with_the_wrong_kind_or_bad_parties_is_an_error() {
    let name = common::unique_name("kinds");
    let _e = Event::create(&name).unwrap();
    assert!(matches!(
        Barrier::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        RLock::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        Condition::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        Semaphore::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        Barrier::anonymous(0),
        Err(Error::InvalidArgument(_))
    ));
    let e2 = Event::open_or_create(&name).unwrap();
    e2.set();
    assert!(_e.is_set());
    drop((e2, _e));
    assert_gone(&name);
}

/// The creating handle removed the name from /dev/shm.
fn assert_gone(name: &str) {
    let path = format!("/dev/shm/shmkit.{name}");
    assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
}

// ---------------------------------------------------------------- inspection

#[test]
fn inspect_shows_each_primitives_state_including_leaked_permits() {
    use shmkit::inspect::{Field, InspectOptions, inspect};
    let view = |name: &str| inspect(name, &InspectOptions::default()).unwrap().view;

    let sn = common::unique_name("show-sem");
    let s = BoundedSemaphore::create(&sn, 3).unwrap();
    assert!(s.try_acquire());
    let v = view(&sn);
    assert!(v.available);
    assert_eq!(v.field("value"), Some(&Field::U64(2)));
    assert_eq!(v.field("bound"), Some(&Field::U64(3)));
    assert!(
        v.notes.iter().any(|n| n.contains("1 permit(s) are out")),
        "{v:?}"
    );

    let en = common::unique_name("show-event");
    let e = Event::create(&en).unwrap();
    e.set();
    assert_eq!(view(&en).field("is_set"), Some(&Field::Bool(true)));

    let bn = common::unique_name("show-barrier");
    let b = Barrier::create(&bn, 4).unwrap();
    b.abort();
    let v = view(&bn);
    assert_eq!(v.field("parties"), Some(&Field::U64(4)));
    assert_eq!(v.field("broken"), Some(&Field::Bool(true)));

    let rn = common::unique_name("show-rlock");
    let r = RLock::create(&rn).unwrap();
    let (_a, _b) = (r.lock().unwrap(), r.lock().unwrap());
    let v = view(&rn);
    assert_eq!(v.field("count"), Some(&Field::U64(2)));
    assert_eq!(v.field("locked"), Some(&Field::Bool(true)));

    let cn = common::unique_name("show-cond");
    let c = Condition::create(&cn).unwrap();
    c.notify_all();
    let v = view(&cn);
    assert_eq!(v.field("seq"), Some(&Field::U64(1)));
    assert_eq!(v.field("lock.locked"), Some(&Field::Bool(false)));
    drop((s, e, b, c));
}

// ---------------------------------------------------------------- owner death, raw forms

#[test]
fn condition_relock_after_notifier_died_holding_the_mutex_reports_owner_died() {
    const T: &str = "condition_relock_after_notifier_died_holding_the_mutex_reports_owner_died";
    if let Some(child) = common::child_role() {
        let c = Condition::open(child.arg(0)).unwrap();
        let holding = Event::open(child.arg(1)).unwrap();
        let g = c.lock().unwrap();
        c.notify_all();
        holding.set();
        std::mem::forget(g);
        park_forever();
    }
    let name = common::unique_name("cond-died");
    let hn = common::unique_name("cond-died-ev");
    let c = Condition::create(&name).unwrap();
    let holding = Event::create(&hn).unwrap();
    let g = c.lock().unwrap();
    let mut kid = spawn(T, "notifier", &[&name, &hn]);
    std::thread::scope(|s| {
        // The killer: once the child holds the mutex (after notifying), kill it.
        s.spawn(|| {
            assert!(
                holding.wait_timeout(LONG),
                "the notifier never held the lock"
            );
            common::kill9(&mut kid);
        });
        match c.wait_for(g, || holding.is_set(), Some(LONG)) {
            Err(LockError::OwnerDied(d)) => drop(d.recover()),
            other => panic!("expected OwnerDied on relock, got {other:?}"),
        }
    });
    drop(c.lock().expect("recovered"));
}

/// A struct of the user's own, placed in a raw segment, holding raw primitives.
#[repr(C)]
struct Shared {
    ready: shmkit::RawEvent,
    permits: shmkit::RawSemaphore,
}

fn shared_in(seg: &shmkit::Segment) -> &Shared {
    assert!(seg.len() >= std::mem::size_of::<Shared>());
    assert_eq!(seg.as_ptr() as usize % 64, 0);
    // SAFETY:
    // - the data area is large enough and 64-byte aligned (checked above), and lives as
    //   long as `seg`.
    // - the creator initialized both primitives before any other process opened it, and
    //   they are only accessed through atomics.
    unsafe { &*seg.as_ptr().cast::<Shared>() }
}

#[test]
fn raw_primitives_in_a_users_struct_work_across_processes() {
    const T: &str = "raw_primitives_in_a_users_struct_work_across_processes";
    if let Some(child) = common::child_role() {
        let seg = shmkit::Segment::open(child.arg(0)).unwrap();
        let shared = shared_in(&seg);
        assert!(shared.permits.acquire_timeout(LONG));
        shared.ready.set();
        return;
    }
    let name = common::unique_name("raw-struct");
    let seg = shmkit::Segment::create(&name, 4096).unwrap();
    let p = seg.as_ptr().cast::<Shared>();
    // SAFETY: the segment is new (no other process knows it) and the data area holds a
    // 64-byte aligned Shared (checked by shared_in below before any use by reference).
    unsafe {
        shmkit::RawEvent::init(std::ptr::addr_of_mut!((*p).ready));
        shmkit::RawSemaphore::init(std::ptr::addr_of_mut!((*p).permits), 0);
    }
    let shared = shared_in(&seg);
    let kid = spawn(T, "child", &[&name]);
    shared.permits.release().unwrap();
    assert!(shared.ready.wait_timeout(LONG));
    common::wait_ok(kid, LIMIT);
}

#[test]
fn hostile_bytes_in_raw_primitives_give_errors_not_hangs() {
    let seg = shmkit::Segment::anonymous(4096).unwrap();
    let base = seg.as_ptr();
    assert_eq!(base as usize % 64, 0);
    let word = |off: usize, v: u32| seg.write_at(off, &v.to_ne_bytes()).unwrap();
    let short = Duration::from_millis(20);
    // SAFETY: the data area is 4096 bytes, 64-byte aligned, used by no other process;
    // each primitive is initialized before a reference to it is made.
    let (barrier, sem, ev) = unsafe {
        shmkit::RawBarrier::init(base.cast(), 2).unwrap();
        shmkit::RawSemaphore::init(base.add(64).cast(), 1);
        shmkit::RawEvent::init(base.add(128).cast());
        (
            &*base.cast::<shmkit::RawBarrier>(),
            &*base.add(64).cast::<shmkit::RawSemaphore>(),
            &*base.add(128).cast::<shmkit::RawEvent>(),
        )
    };
    // Barrier: more arrived than parties -> broken, at once.
    word(0, 7);
    assert!(matches!(
        barrier.wait_timeout(short),
        Err(Error::BrokenBarrier(_))
    ));
    barrier.reset();
    // Barrier: invalid parties -> an error, not a division or a hang.
    word(8, 0);
    assert!(matches!(barrier.wait(), Err(Error::InvalidArgument(_))));
    word(8, u32::MAX);
    assert!(matches!(barrier.parties(), Err(Error::InvalidArgument(_))));
    // Semaphore: a huge waiter count only costs wake-ups; a huge bound is honoured.
    word(64 + 4, u32::MAX);
    assert!(sem.try_acquire());
    sem.release().unwrap();
    word(64 + 8, u32::MAX);
    word(64 + 12, 1);
    sem.release_n(5).unwrap();
    assert_eq!(sem.value(), 6);
    // Semaphore: bounded flag with a bound below the value -> over-release error.
    word(64 + 8, 2);
    assert!(matches!(sem.release(), Err(Error::OverRelease { .. })));
    // Event: any word is a state; a timeout is honoured.
    word(128, 0xffff_fffe);
    let t0 = Instant::now();
    assert!(!ev.wait_timeout(short));
    assert!(t0.elapsed() >= short);
    ev.set();
    assert!(ev.is_set());
    assert_eq!(ev.snapshot().generation, 0, "the generation wraps");
}
