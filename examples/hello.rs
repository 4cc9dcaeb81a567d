//! Seed: start a child that prints its pid and its parent's pid. The parent prints
//! first, because `start` does not wait for the child; `join` then waits for it. The
//! second child is started with the spawn method (a fresh run of this binary).
//!
//! Run: `cargo run --release --example hello`

use shmkit::process::{Process, StartMethod, current_process};

fn greet(who: String) {
    let me = current_process();
    println!(
        "hello {who} from {} (pid {}, parent pid {})",
        me.name, me.pid, me.parent_pid
    );
}

fn main() -> Result<(), shmkit::Error> {
    // In a spawned child this runs the requested function and exits.
    shmkit::process::init();

    let me = current_process();
    println!("parent: pid {}", me.pid);

    // fork: the child runs the closure.
    let p = Process::new(|| greet("forked".to_string())).start()?;
    println!("parent: started {} (pid {})", p.name(), p.pid());
    let code = p.join()?;
    println!("parent: {} exited with {code}", p.name());

    // spawn: the child runs a registered function on a serialized argument.
    let p = Process::task(shmkit::task!(greet), "spawned".to_string())
        .start_method(StartMethod::Spawn)
        .start()?;
    println!("parent: started {} (pid {})", p.name(), p.pid());
    let code = p.join()?;
    println!("parent: {} exited with {code}", p.name());
    assert_eq!(code, 0);
    Ok(())
}
