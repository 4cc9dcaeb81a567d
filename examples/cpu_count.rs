//! Seed: the pool defaults to the number of cores this process may use.
//!
//! Run: `cargo run --release --example cpu_count`

use shmkit::process::{Pool, cpu_count};

fn whoami(_: u32) -> u32 {
    std::process::id()
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();
    println!("cpu_count() = {}", cpu_count());
    let pool = Pool::new(0)?; // 0: one worker per CPU
    println!("the default pool has {} workers", pool.processes());
    assert_eq!(pool.processes(), cpu_count());
    let pids = pool.map_chunked(shmkit::task!(whoami), 0..100, 1)?;
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    println!(
        "100 tasks ran on {} worker processes: {distinct:?}",
        distinct.len()
    );
    Ok(())
}
