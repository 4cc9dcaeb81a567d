//! Seed: a pool of 10 runs 100 tasks. The tutorial's tasks sleep one second each; here
//! they sleep 10 ms so the example (and CI, which runs it) stays fast: the structure is
//! the same, 100 tasks spread over 10 workers take about a tenth of their summed time.
//!
//! Run: `cargo run --release --example pool_100`

use std::time::{Duration, Instant};

use shmkit::Pool;

/// The tutorial's task sleeps 1 s; 10 ms keeps this example short.
const TASK: Duration = Duration::from_millis(10);

fn task(i: u32) -> u32 {
    std::thread::sleep(TASK);
    i
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();
    let pool = Pool::new(10)?;
    let start = Instant::now();
    let done = pool.map_chunked(shmkit::task!(task), 0..100, 1)?;
    let took = start.elapsed();
    assert_eq!(done, (0..100).collect::<Vec<_>>());
    println!(
        "100 tasks of {TASK:?} on 10 workers took {took:?} ({:?} one after another)",
        TASK * 100
    );
    Ok(())
}
