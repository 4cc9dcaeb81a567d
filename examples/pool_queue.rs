//! Seed: pool workers communicate through a queue. Python needs a `Manager().Queue()`
//! for this; in shmkit any named queue works: each task opens it by name and puts its
//! result, and the parent reads them. The pool uses the spawn start method here, so
//! the workers are fresh processes that share nothing but the queue's name.
//!
//! Run: `cargo run --release --example pool_queue`

use shmkit::MessageQueue;
use shmkit::process::{Pool, PoolOptions, StartMethod};

/// Puts a greeting into the named queue.
fn greet((queue, i): (String, u32)) {
    let q = MessageQueue::open(&queue).expect("open the queue by name");
    q.put(&format!("task {i} done by pid {}", std::process::id()))
        .expect("put");
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();
    let name = format!("example-pool-queue-{}", std::process::id());
    let queue = MessageQueue::create(&name, 64 * 1024, 1024)?; // removed on drop
    let mut pool = Pool::with_options(
        PoolOptions::new()
            .processes(3)
            .start_method(StartMethod::Spawn),
    )?;
    let args: Vec<(String, u32)> = (0..6).map(|i| (name.clone(), i)).collect();
    pool.map_async(shmkit::task!(greet), args, Some(1))?;
    pool.close();
    pool.join()?;
    let mut lines = Vec::new();
    while let Ok(line) = queue.try_get::<String>() {
        lines.push(line);
    }
    lines.sort();
    for l in &lines {
        println!("{l}");
    }
    assert_eq!(lines.len(), 6);
    Ok(())
}
