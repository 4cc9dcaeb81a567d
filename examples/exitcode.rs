//! Seed: `terminate` a running child; `is_alive` right after may still be true; after
//! `join`, the exit code is negative (the signal). A clean exit is 0, `exit(n)` is n,
//! a panic is 1.
//!
//! Run: `cargo run --release --example exitcode`

use std::time::Duration;

use shmkit::Process;

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();

    let sleeper = Process::new(|| std::thread::sleep(Duration::from_secs(60))).start()?;
    println!(
        "before: alive={} exitcode={:?}",
        sleeper.is_alive(),
        sleeper.exitcode()
    );
    sleeper.terminate()?;
    println!(
        "just terminated: alive={} (the signal may not have landed yet)",
        sleeper.is_alive()
    );
    sleeper.join()?;
    println!(
        "joined: alive={} exitcode={:?}",
        sleeper.is_alive(),
        sleeper.exitcode()
    );
    assert_eq!(sleeper.exitcode(), Some(-15));

    let clean = Process::new(|| {}).start()?;
    let three = Process::new(|| std::process::exit(3)).start()?;
    // This child panics on purpose: its panic message on stderr is expected.
    let panics = Process::new(|| panic!("something went wrong")).start()?;
    let killed = Process::new(|| std::thread::sleep(Duration::from_secs(60))).start()?;
    killed.kill()?;
    for (what, p) in [
        ("clean", &clean),
        ("exit(3)", &three),
        ("panic", &panics),
        ("kill", &killed),
    ] {
        println!("{what}: exitcode {}", p.join()?);
    }
    assert_eq!(
        [clean.join()?, three.join()?, panics.join()?, killed.join()?],
        [0, 3, 1, -9]
    );
    println!("the panic said: {:?}", panics.panic_message());
    Ok(())
}
