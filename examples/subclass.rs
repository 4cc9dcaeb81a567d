//! Seed: a worker type with its own fields and a `run` method (Python's "subclass
//! `Process` and override `run`"), started twice: once forked, once spawned.
//!
//! Run: `cargo run --release --example subclass`

use shmkit::process::{Process, Run, StartMethod, current_process};

#[derive(serde::Serialize, serde::Deserialize)]
struct Worker {
    label: String,
    rounds: u32,
}

impl Run for Worker {
    fn run(&mut self) {
        for i in 1..=self.rounds {
            println!("{} (pid {}): round {i}", self.label, current_process().pid);
        }
    }
}

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();

    // With fork, any `Run` type works.
    let a = Process::from_run(Worker {
        label: "forked worker".into(),
        rounds: 2,
    })
    .start()?;
    // With spawn, the type travels serialized and runs through a registered task.
    let b = Process::task(
        shmkit::task!(shmkit::process::run_worker::<Worker>),
        Worker {
            label: "spawned worker".into(),
            rounds: 3,
        },
    )
    .start_method(StartMethod::Spawn)
    .start()?;
    assert_eq!(a.join()?, 0);
    assert_eq!(b.join()?, 0);
    println!("both workers finished");
    Ok(())
}
