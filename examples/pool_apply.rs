//! Seed: a pool of 3 squares 0..9 with synchronous `apply` (one at a time).
//!
//! Run: `cargo run --release --example pool_apply`

use shmkit::Pool;

fn square(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();
    let pool = Pool::new(3)?;
    let mut results = Vec::new();
    for x in 0..10 {
        results.push(pool.apply(shmkit::task!(square), x)?);
    }
    println!("{results:?}");
    assert_eq!(results, (0..10).map(|x| x * x).collect::<Vec<_>>());
    Ok(())
}
