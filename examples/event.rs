//! Processes wait on an event until another sets it: three waiter processes block on
//! an `Event`; the parent sets it once they are all waiting, and every one wakes.
//!
//! Run: `cargo run --example event`

use std::process::Command;
use std::time::{Duration, Instant};

use shmkit::Event;

const WAITERS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "waiter" {
        let ev = Event::open(&args[2])?;
        println!("waiter {}: waiting for the event", args[3]);
        if ev.wait_timeout(Duration::from_secs(30)) {
            println!("waiter {}: the event is set, going on", args[3]);
            return Ok(());
        }
        return Err("the event was never set".into());
    }
    let name = format!("ex-event-{}", std::process::id());
    let ev = Event::create(&name)?; // removed from /dev/shm when it drops
    let exe = std::env::current_exe()?;
    let kids: Vec<_> = (0..WAITERS)
        .map(|i| {
            Command::new(&exe)
                .args(["waiter", &name, &i.to_string()])
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    // Wait (bounded) until all of them sleep on the event; the snapshot shows them.
    let start = Instant::now();
    while ev.snapshot().waiters < WAITERS as u32 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "parent: {} processes are waiting; setting the event",
        ev.snapshot().waiters
    );
    ev.set();
    for mut k in kids {
        let status = k.wait()?;
        assert!(status.success(), "a waiter failed: {status}");
    }
    println!("parent: every waiter woke up; is_set = {}", ev.is_set());
    Ok(())
}
