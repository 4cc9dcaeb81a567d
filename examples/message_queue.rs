//! A variable-size message queue: two producer processes put jobs (serde values of
//! different sizes) into one `MessageQueue`; the parent takes them as they come, with
//! each producer's jobs in order, and closes the queue when both are done.
//!
//! Run: `cargo run --release --example message_queue`

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shmkit::MessageQueue;

/// A job: any serde type goes through the queue (postcard-encoded).
#[derive(Serialize, Deserialize, Debug)]
struct Job {
    producer: u32,
    seq: u32,
    words: Vec<String>,
}

/// What producers put: jobs, then a last word.
#[derive(Serialize, Deserialize, Debug)]
enum Msg {
    Job(Job),
    Done(u32),
}

const JOBS: u32 = 5;

fn producer(name: &str, id: u32) -> Result<(), shmkit::Error> {
    let q = MessageQueue::open(name)?;
    for seq in 0..JOBS {
        let words = (0..=seq).map(|w| format!("word{w}")).collect();
        q.put(&Msg::Job(Job {
            producer: id,
            seq,
            words,
        }))?; // waits while the queue has no room
    }
    q.put(&Msg::Done(id))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("producer") {
        return Ok(producer(&args[2], args[3].parse()?)?);
    }

    let name = format!("example-message-queue-{}", std::process::id());
    // 512 bytes of ring for messages of up to 256 bytes: producers will wait for room.
    let q = MessageQueue::create(&name, 512, 256)?;
    let exe = std::env::current_exe()?;
    let kids = (1..=2)
        .map(|id| {
            Command::new(&exe)
                .args(["producer", &name, &id.to_string()])
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut next: HashMap<u32, u32> = HashMap::new();
    let mut done = 0;
    while done < 2 {
        let job = match q.get_timeout::<Msg>(Duration::from_secs(30))? {
            Msg::Job(job) => job,
            Msg::Done(id) => {
                println!("producer {id} is done");
                done += 1;
                continue;
            }
        };
        println!(
            "got job {} of producer {}: {:?} ({} messages, {} bytes queued now)",
            job.seq,
            job.producer,
            job.words,
            q.len(),
            q.bytes_used()
        );
        let expected = next.entry(job.producer).or_insert(0);
        assert_eq!(job.seq, *expected, "each producer's jobs arrive in order");
        *expected += 1;
    }
    q.close(); // from now on puts fail with Closed; gets report Closed once drained
    for mut k in kids {
        assert!(k.wait()?.success(), "producer failed");
    }
    println!(
        "{} jobs from 2 producers, queue closed",
        next.values().sum::<u32>()
    );
    Ok(())
}
