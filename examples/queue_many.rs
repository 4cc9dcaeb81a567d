//! Seed: ten producer processes and ten consumer processes share a queue that holds
//! only three messages. Producers block while it is full; every message is consumed
//! exactly once.
//!
//! Run: `cargo run --release --example queue_many`

use std::process::Command;

use shmkit::{Array, GetError, PutError, Queue};

const PRODUCERS: u32 = 10;
const CONSUMERS: u32 = 10;
const EACH: u32 = 5;

fn producer(queue: &str, id: u32) -> Result<(), shmkit::Error> {
    let q = Queue::<u32>::open(queue)?;
    for i in 0..EACH {
        let msg = id * 100 + i;
        match q.try_put(msg) {
            Ok(()) => {}
            Err(PutError::Full(msg)) => {
                println!("  producer {id}: queue full, waiting to put {msg}");
                q.put(msg)?; // blocks until a consumer makes room
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn consumer(queue: &str, counts: &str, id: u32) -> Result<(), shmkit::Error> {
    let q = Queue::<u32>::open(queue)?;
    let counts = Array::<u32>::open(counts)?;
    let mut mine = Vec::new();
    loop {
        match q.get() {
            Ok(msg) => {
                let slot = (msg / 100 * EACH + msg % 100) as usize;
                counts.lock()?[slot] += 1;
                mine.push(msg);
            }
            // Closed by the parent once every producer is done, and drained.
            Err(GetError::Closed) => break,
            Err(e) => return Err(e.into()),
        }
    }
    println!("  consumer {id}: got {mine:?}");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("producer") => return Ok(producer(&args[2], args[3].parse()?)?),
        Some("consumer") => return Ok(consumer(&args[2], &args[3], args[4].parse()?)?),
        _ => {}
    }

    let tag = std::process::id();
    let queue_name = format!("example-queue-many-{tag}");
    let counts_name = format!("example-queue-many-counts-{tag}");
    let q = Queue::<u32>::create(&queue_name, 3)?;
    // How many times each message was consumed, to check "exactly once".
    let counts = Array::<u32>::create(&counts_name, (PRODUCERS * EACH) as usize)?;
    println!(
        "{PRODUCERS} producers x {EACH} messages through a queue of {} slots, {CONSUMERS} consumers",
        q.capacity()
    );

    let exe = std::env::current_exe()?;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|id| {
            Command::new(&exe)
                .args(["consumer", &queue_name, &counts_name, &id.to_string()])
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            Command::new(&exe)
                .args(["producer", &queue_name, &id.to_string()])
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for mut p in producers {
        assert!(p.wait()?.success(), "a producer failed");
    }
    println!("all producers done; closing the queue so consumers stop once it is drained");
    q.close();
    for mut c in consumers {
        assert!(c.wait()?.success(), "a consumer failed");
    }
    let counts = counts.to_vec()?;
    assert!(counts.iter().all(|&n| n == 1), "counts: {counts:?}");
    println!(
        "every one of the {} messages was consumed exactly once",
        counts.len()
    );
    Ok(())
}
