//! The robust process-shared mutex: exclusion, timeouts, owner death.

mod common;

use std::time::{Duration, Instant};

use shmkit::{Error, LockError, Mutex, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// The child locks `name`'s value, marks that it holds the lock, and waits to be killed.
fn hold_until_killed(value_name: &str, flag_name: &str) -> ! {
    let v = Value::<u64>::open(value_name).unwrap();
    let flag = Value::<u32>::open(flag_name).unwrap();
    let mut g = v.lock().unwrap();
    *g = 1234; // a "half-finished update" the next owner has to look at
    flag.atomic_store(1);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn owner_killed_holding_the_lock_is_reported_and_value_readable() {
    if let Some(child) = common::child_role() {
        hold_until_killed(child.arg(0), child.arg(1));
    }
    let name = common::unique_name("death");
    let flag_name = common::unique_name("death-flag");
    let v = Value::<u64>::create(&name, 7).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    let mut kid = common::spawn_child(
        "owner_killed_holding_the_lock_is_reported_and_value_readable",
        "holder",
        &[&name, &flag_name],
    );
    common::wait_until(LIMIT, "the child to hold the lock", || {
        flag.atomic_load() == 1
    });

    // Held by a live process: a timed lock times out after at least its duration.
    let start = Instant::now();
    match v.lock_timeout(Duration::from_millis(100)) {
        Err(LockError::Failed(Error::Timeout(_))) => {}
        other => panic!("expected a timeout, got {:?}", other.map(|g| *g)),
    }
    assert!(start.elapsed() >= Duration::from_millis(100));
    let snap = v.raw_mutex().snapshot();
    assert!(snap.locked);
    assert_eq!(snap.owner_pid, Some(kid.id()));

    common::kill9(&mut kid);

    // The next locker gets the lock with the owner-died indication.
    let died = match v.lock_timeout(Duration::from_secs(1)) {
        Err(LockError::OwnerDied(d)) => d,
        other => panic!("expected OwnerDied, got {:?}", other.map(|g| *g)),
    };
    let mut g = died.into_guard();
    assert_eq!(*g, 1234, "the data is still readable");
    drop(g);

    // Not recovered: the next locker is told again; `?`-style conversion says OwnerDied.
    assert!(matches!(v.load(), Err(Error::OwnerDied)));
    match v.lock() {
        Err(LockError::OwnerDied(d)) => {
            g = d.recover();
            *g = 0;
        }
        other => panic!("expected OwnerDied again, got {:?}", other.map(|g| *g)),
    }
    drop(g);
    assert_eq!(v.load().unwrap(), 0, "after recover the lock is clean");
    let snap = v.raw_mutex().snapshot();
    assert!(!snap.locked && !snap.needs_repair);
    assert_eq!(snap.owner_deaths, 1);
}

#[test]
fn standalone_mutex_excludes_across_processes() {
    const ROUNDS: u32 = 20_000;
    if let Some(child) = common::child_role() {
        let m = Mutex::open(child.arg(0)).unwrap();
        let inside = Value::<u32>::open(child.arg(1)).unwrap();
        let total = Value::<u32>::open(child.arg(2)).unwrap();
        for _ in 0..ROUNDS {
            let _g = m.lock().unwrap();
            // With the lock held, nobody else may be inside.
            assert_eq!(inside.fetch_add(1), 0, "two processes inside the mutex");
            total.fetch_add(1);
            inside.fetch_sub(1);
        }
        return;
    }
    let name = common::unique_name("excl");
    let inside_name = common::unique_name("excl-inside");
    let total_name = common::unique_name("excl-total");
    let _m = Mutex::create(&name).unwrap();
    let _inside = Value::<u32>::create(&inside_name, 0).unwrap();
    let total = Value::<u32>::create(&total_name, 0).unwrap();
    let kids: Vec<_> = (0..3)
        .map(|_| {
            common::spawn_child(
                "standalone_mutex_excludes_across_processes",
                "locker",
                &[&name, &inside_name, &total_name],
            )
        })
        .collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    assert_eq!(total.atomic_load(), 3 * ROUNDS);
}

#[test]
fn try_lock_relock_and_threads() {
    let name = common::unique_name("try");
    let m = Mutex::create(&name).unwrap();
    let g = m.lock().unwrap();
    // The same thread locking again is an error, not a deadlock.
    assert!(matches!(m.lock(), Err(LockError::Failed(Error::Deadlock))));
    std::thread::scope(|s| {
        s.spawn(|| {
            let other = Mutex::open(&name).unwrap();
            assert!(matches!(
                other.try_lock(),
                Err(LockError::Failed(Error::WouldBlock))
            ));
        });
    });
    drop(g);
    let again = Mutex::open_or_create(&name).unwrap();
    assert!(again.try_lock().is_ok());
    let anon = Mutex::anonymous().unwrap();
    assert!(anon.lock_timeout(Duration::from_millis(1)).is_ok());
}
