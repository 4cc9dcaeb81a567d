//! Seed 15: two processes talk both ways over a duplex pipe, like Python's
//! `parent_conn, child_conn = Pipe()`: the parent sends a greeting and questions, the
//! child answers each one, and the parent closing its end is the child's EOF.
//!
//! Run: `cargo run --release --example pipe`

use std::process::Command;

use shmkit::{Error, Pipe};

/// The child: answers every question until the parent closes its end.
fn child(name: &str) -> Result<(), Error> {
    let conn = Pipe::open(name)?; // claims end B
    let greeting: String = conn.recv()?;
    println!("  child  got: {greeting}");
    conn.send(&format!("hello parent, I am pid {}", std::process::id()))?;
    loop {
        match conn.recv::<(u32, u32)>() {
            Ok((a, b)) => {
                println!("  child  got: what is {a} + {b}?");
                conn.send(&(a + b))?;
            }
            // The parent closed its end and everything it sent was received.
            Err(Error::Eof) => {
                println!("  child  got: EOF, goodbye");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return Ok(child(&args[2])?);
    }

    let name = format!("example-pipe-{}", std::process::id());
    // The parent creates the pipe and holds end A; dropping it removes the name.
    let conn = Pipe::create(&name, true, 4096)?;
    let mut kid = Command::new(std::env::current_exe()?)
        .args(["child", &name])
        .spawn()?;

    conn.send("hello child")?;
    let reply: String = conn.recv()?;
    println!("parent got: {reply}");
    for (a, b) in [(1, 2), (40, 2), (1000, 24)] {
        conn.send(&(a, b))?;
        let sum: u32 = conn.recv()?;
        println!("parent got: {a} + {b} = {sum}");
        assert_eq!(sum, a + b);
    }
    conn.close(); // the child's next recv reports EOF
    assert!(kid.wait()?.success(), "child failed");
    println!("parent: child exited");
    Ok(())
}
