//! Seed: a writer process puts A, B and C with random pauses; a reader process gets
//! them, in order. The reader loops forever, so the parent terminates it once the
//! writer has been joined and the reader has seen everything.
//!
//! Run: `cargo run --release --example queue`

use std::process::Command;
use std::time::{Duration, Instant};

use shmkit::{Queue, Value};

/// A pause of 0 to 50 ms, different in every process (no random crate needed).
fn random_pause(step: u64) -> Duration {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let x = (t ^ (u64::from(std::process::id()) << 16) ^ step).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    Duration::from_millis((x >> 32) % 50)
}

fn writer(queue: &str) -> Result<(), shmkit::Error> {
    let q = Queue::<u8>::open(queue)?;
    for (i, letter) in [b'A', b'B', b'C'].into_iter().enumerate() {
        std::thread::sleep(random_pause(i as u64));
        println!("  writer: put {}", letter as char);
        q.put(letter)?;
    }
    Ok(())
}

fn reader(queue: &str, seen: &str) -> Result<(), shmkit::Error> {
    let q = Queue::<u8>::open(queue)?;
    let seen = Value::<u32>::open(seen)?;
    loop {
        let letter = q.get()?; // sleeps while the queue is empty
        println!("  reader: got {}", letter as char);
        seen.fetch_add(1);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("writer") => return Ok(writer(&args[2])?),
        Some("reader") => return Ok(reader(&args[2], &args[3])?),
        _ => {}
    }

    let tag = std::process::id();
    let (queue_name, seen_name) = (
        format!("example-queue-{tag}"),
        format!("example-queue-seen-{tag}"),
    );
    // The parent creates the queue (and a counter of letters read); both names are
    // removed when these handles drop at the end of main.
    let q = Queue::<u8>::create(&queue_name, 8)?;
    let seen = Value::<u32>::create(&seen_name, 0)?;
    println!("queue `{queue_name}` holds up to {} letters", q.capacity());

    let exe = std::env::current_exe()?;
    let mut reader = Command::new(&exe)
        .args(["reader", &queue_name, &seen_name])
        .spawn()?;
    let writer = Command::new(&exe)
        .args(["writer", &queue_name])
        .spawn()?
        .wait()?;
    assert!(writer.success(), "writer failed");
    println!("writer joined");

    // Wait (bounded) until the reader has printed all three, then terminate it: it
    // would otherwise wait for more letters forever.
    let start = Instant::now();
    while seen.atomic_load() < 3 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(1));
    }
    reader.kill()?;
    reader.wait()?;
    println!(
        "reader terminated after reading {} letters",
        seen.atomic_load()
    );
    assert_eq!(seen.atomic_load(), 3);
    Ok(())
}
