//! Seed: the same squares with `apply_async` and a callback, then `close`, `join` and
//! collecting the results; the worker pids show that 3 processes are reused.
//!
//! Run: `cargo run --release --example pool_async`

use std::sync::{Arc, Mutex};

use shmkit::Pool;

/// Returns the square and the pid of the worker that computed it.
fn square(x: u64) -> (u64, u32) {
    (x * x, std::process::id())
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();
    let mut pool = Pool::new(3)?;
    let collected = Arc::new(Mutex::new(Vec::new()));
    let pending: Vec<_> = (0..10)
        .map(|x| {
            let collected = Arc::clone(&collected);
            pool.apply_async_with(
                shmkit::task!(square),
                x,
                // Runs on the pool's result thread as each result arrives.
                move |&(sq, pid): &(u64, u32)| collected.lock().unwrap().push((sq, pid)),
                |e| eprintln!("task failed: {e}"),
            )
        })
        .collect::<Result<_, _>>()?;
    pool.close();
    pool.join()?;
    let results: Vec<u64> = pending
        .iter()
        .map(|r| r.get().map(|(sq, _)| sq))
        .collect::<Result<_, _>>()?;
    println!("results: {results:?}");
    let mut pids: Vec<u32> = collected
        .lock()
        .unwrap()
        .iter()
        .map(|&(_, pid)| pid)
        .collect();
    pids.sort();
    pids.dedup();
    println!("computed by worker pids {pids:?}");
    assert_eq!(results, (0..10).map(|x| x * x).collect::<Vec<_>>());
    assert!(pids.len() <= 3);
    Ok(())
}
