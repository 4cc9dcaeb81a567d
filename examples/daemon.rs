//! Seed: a daemon child that loops forever is stopped when the parent's main code
//! ends; a non-daemon child runs to completion.
//!
//! Run: `cargo run --release --example daemon`

use std::time::Duration;

use shmkit::Process;

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();

    let daemon = Process::new(|| {
        loop {
            println!("daemon: still here");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .name("looper")
    .daemon(true)
    .start()?;

    let worker = Process::new(|| {
        for i in 1..=3 {
            println!("worker: step {i} of 3");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .start()?;

    assert_eq!(worker.join()?, 0);
    println!(
        "worker finished; main ends now and the daemon {} is stopped",
        daemon.pid()
    );
    // At the end of main, an exit handler sends SIGTERM to every daemon child and waits
    // for it (and the kernel would SIGKILL it even if this process were killed).
    Ok(())
}
