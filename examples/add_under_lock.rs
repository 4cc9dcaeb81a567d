//! Two processes add 10 and 20 to a shared counter that starts at 1, each under a
//! re-entrant lock (`RLock`): they print 11 and 31, in some order, and never lose an
//! update.
//!
//! Run: `cargo run --example add_under_lock`

use std::process::Command;

use shmkit::{RLock, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "adder" {
        let lock = RLock::open(&args[2])?;
        let counter = Value::<i64>::open(&args[3])?;
        let amount: i64 = args[4].parse()?;
        let _outer = lock.lock().map_err(shmkit::Error::from)?;
        // A helper that takes the lock again: fine, the lock is re-entrant.
        let total = add(&lock, &counter, amount)?;
        println!(
            "adder +{amount} (pid {}): counter is now {total}",
            std::process::id()
        );
        return Ok(());
    }
    let tag = std::process::id();
    let (lock_name, counter_name) = (format!("ex-rlock-{tag}"), format!("ex-counter-{tag}"));
    // The creating handles remove the names from /dev/shm when they drop.
    let _lock = RLock::create(&lock_name)?;
    let counter = Value::<i64>::create(&counter_name, 1)?;
    println!("parent: counter starts at {}", counter.atomic_load());
    let exe = std::env::current_exe()?;
    let kids: Vec<_> = [10, 20]
        .iter()
        .map(|n| {
            Command::new(&exe)
                .args(["adder", &lock_name, &counter_name, &n.to_string()])
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for mut k in kids {
        let status = k.wait()?;
        assert!(status.success(), "an adder failed: {status}");
    }
    println!("parent: final value {}", counter.atomic_load());
    assert_eq!(counter.atomic_load(), 31);
    Ok(())
}

fn add(lock: &RLock, counter: &Value<i64>, amount: i64) -> Result<i64, shmkit::Error> {
    let _inner = lock.lock()?;
    let v = counter.atomic_load() + amount;
    counter.atomic_store(v);
    Ok(v)
}
