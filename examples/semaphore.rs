//! Only N processes at a time inside a section: five worker processes share a
//! `Semaphore(2)`; the parent checks that never more than two were inside at once.
//!
//! Run: `cargo run --example semaphore`

use std::process::Command;
use std::time::Duration;

use shmkit::{Semaphore, Value};

const WORKERS: usize = 5;
const SLOTS: u32 = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "worker" {
        return worker(&args[2], &args[3], &args[4]);
    }
    let tag = std::process::id();
    let (sem_name, inside_name) = (format!("ex-sem-{tag}"), format!("ex-sem-inside-{tag}"));
    // The creating handles remove the names from /dev/shm when they drop.
    let sem = Semaphore::create(&sem_name, SLOTS)?;
    let inside = Value::<u32>::create(&inside_name, 0)?;
    println!("parent: a semaphore with {SLOTS} permits; starting {WORKERS} worker processes");
    let exe = std::env::current_exe()?;
    let mut kids = Vec::new();
    for i in 0..WORKERS {
        kids.push(
            Command::new(&exe)
                .args(["worker", &sem_name, &inside_name, &i.to_string()])
                .spawn()?,
        );
    }
    for mut k in kids {
        let status = k.wait()?;
        assert!(status.success(), "a worker failed: {status}");
    }
    println!(
        "parent: all workers done; {} permits free again, {} inside",
        sem.value(),
        inside.atomic_load()
    );
    Ok(())
}

fn worker(sem_name: &str, inside_name: &str, id: &str) -> Result<(), Box<dyn std::error::Error>> {
    let sem = Semaphore::open(sem_name)?;
    let inside = Value::<u32>::open(inside_name)?;
    sem.acquire();
    let now = inside.fetch_add(1) + 1;
    println!(
        "worker {id} (pid {}): entered, {now} inside",
        std::process::id()
    );
    assert!(now <= SLOTS, "more than {SLOTS} inside!");
    std::thread::sleep(Duration::from_millis(100)); // the "work"
    inside.fetch_sub(1);
    println!("worker {id}: leaving");
    sem.release()?;
    Ok(())
}
