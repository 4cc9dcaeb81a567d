//! A tour of shmkit: real processes sharing a counter, an array and a lock; then
//! `Process`, `Pool`, a `Pipe` and a shared dict.
//!
//! Run it with `cargo run --release --example tour`.
//!
//! The parent creates named segments; its children are this same program started again
//! with a role as argument (`tour child <role> ...`), and they open the segments by name.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use shmkit::{Array, LockError, Value};

const WORKERS: usize = 4;

/// Two bank accounts kept in one segment. `#[shmkit::shareable]` checks that the type
/// is plain data (no pointers, no padding) and gives it the name recorded in the segment.
#[shmkit::shareable(name = "accounts")]
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Accounts {
    savings: i64,
    checking: i64,
}
const INCREMENTS: u64 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args[2], &args[3..]);
    }
    let tag = std::process::id();
    println!("shmkit tour (parent pid {tag})\n");
    counter(tag)?;
    array(tag)?;
    dead_owner(tag)?;
    processes_pool_pipe_dict(tag)?;
    println!("\nAll segments are removed as the parent's handles drop. Bye!");
    Ok(())
}

/// What each child process does.
fn child(role: &str, args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    match role {
        "racy-adder" => {
            // Read, add, write back, with no lock: updates from other processes that
            // land between our read and our write are lost.
            let counter = Value::<u64>::open(&args[0])?;
            for _ in 0..INCREMENTS {
                let n = counter.atomic_load();
                std::hint::spin_loop();
                counter.atomic_store(n + 1);
            }
        }
        "locked-adder" => {
            let counter = Value::<u64>::open(&args[0])?;
            for _ in 0..INCREMENTS {
                counter.update(|n| *n += 1)?;
            }
        }
        "filler" => {
            let squares = Array::<f64>::open(&args[0])?;
            let part: usize = args[1].parse()?;
            let chunk = squares.len() / WORKERS;
            let values: Vec<f64> = (part * chunk..(part + 1) * chunk)
                .map(|i| (i * i) as f64)
                .collect();
            squares.write(part * chunk, &values)?;
            println!(
                "   child {} filled elements {}..{}",
                std::process::id(),
                part * chunk,
                (part + 1) * chunk
            );
        }
        "careless-banker" => {
            let accounts = Value::<Accounts>::open(&args[0])?;
            let ready = Value::<u32>::open(&args[1])?;
            // `?` turns a lock error into shmkit::Error (a guard cannot leave the function).
            let mut books = accounts.lock().map_err(shmkit::Error::from)?;
            books.savings -= 30; // the money leaves savings ...
            ready.atomic_store(1); // ... and here the parent kills us, mid-transfer.
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => return Err(format!("unknown role {other}").into()),
    }
    Ok(())
}

fn spawn(role: &str, args: &[&str]) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .arg("child")
        .arg(role)
        .args(args)
        .spawn()
}

fn run_all(children: Vec<Child>) -> Result<(), Box<dyn std::error::Error>> {
    for mut c in children {
        let status = c.wait()?;
        if !status.success() {
            return Err(format!("a child failed: {status}").into());
        }
    }
    Ok(())
}

fn counter(tag: u32) -> Result<(), Box<dyn std::error::Error>> {
    println!("1. A shared counter, {WORKERS} processes x {INCREMENTS} increments each");
    let expected = WORKERS as u64 * INCREMENTS;

    let name = format!("tour-racy-{tag}");
    let racy = Value::<u64>::create(&name, 0)?;
    run_all(
        (0..WORKERS)
            .map(|_| spawn("racy-adder", &[&name]))
            .collect::<Result<_, _>>()?,
    )?;
    let got = racy.load()?;
    println!(
        "   without a lock: {got} (expected {expected}; {} updates lost to races)",
        expected - got
    );

    let name = format!("tour-locked-{tag}");
    let locked = Value::<u64>::create(&name, 0)?;
    let start = Instant::now();
    run_all(
        (0..WORKERS)
            .map(|_| spawn("locked-adder", &[&name]))
            .collect::<Result<_, _>>()?,
    )?;
    let got = locked.load()?;
    println!(
        "   with the shmkit lock: {got} (expected {expected}) in {:.0?}, nothing lost\n",
        start.elapsed()
    );
    assert_eq!(got, expected);
    Ok(())
}

fn array(tag: u32) -> Result<(), Box<dyn std::error::Error>> {
    println!("2. A shared array filled by {WORKERS} children, read by the parent");
    let name = format!("tour-squares-{tag}");
    let squares = Array::<f64>::create(&name, 16)?;
    let kids = (0..WORKERS)
        .map(|part| spawn("filler", &[&name, &part.to_string()]))
        .collect::<Result<_, _>>()?;
    run_all(kids)?;
    let values = squares.to_vec()?;
    println!("   parent reads: {values:?}");
    assert!(values.iter().enumerate().all(|(i, v)| *v == (i * i) as f64));
    println!();
    Ok(())
}

fn dead_owner(tag: u32) -> Result<(), Box<dyn std::error::Error>> {
    println!("3. A process dies while holding the lock");
    let name = format!("tour-accounts-{tag}");
    let ready_name = format!("tour-ready-{tag}");
    let accounts = Value::create(
        &name,
        Accounts {
            savings: 100,
            checking: 0,
        },
    )?;
    let ready = Value::<u32>::create(&ready_name, 0)?;
    println!("   accounts before: {:?} (total 100)", accounts.load()?);

    let mut banker = spawn("careless-banker", &[&name, &ready_name])?;
    let start = Instant::now();
    while ready.atomic_load() == 0 {
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the child never took the lock".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    banker.kill()?; // SIGKILL, mid-transfer, lock held
    banker.wait()?;
    println!(
        "   child {} took the lock, moved 30 out of savings, and was killed (SIGKILL)",
        banker.id()
    );

    match accounts.lock_timeout(Duration::from_secs(1)) {
        Ok(_) => unreachable!("the previous owner died holding the lock"),
        Err(LockError::OwnerDied(mut died)) => {
            let books = died.guard_mut();
            println!(
                "   parent got the lock with an owner-died report; data: {:?}",
                **books
            );
            // Repair: finish the transfer the dead process started.
            books.checking += 30;
            println!("   repaired: {:?}; marking the data consistent", **books);
            drop(died.recover());
        }
        Err(LockError::Failed(e)) => return Err(e.into()),
    }
    let books = accounts.load()?;
    println!(
        "   accounts after: {books:?} (total {})",
        books.savings + books.checking
    );
    assert_eq!(books.savings + books.checking, 100);
    Ok(())
}

fn square(x: u64) -> u64 {
    x * x
}

/// `Process`, `Pool`, `Pipe` and a shared dict, as Python's multiprocessing offers them.
fn processes_pool_pipe_dict(tag: u32) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n4. Processes, a pool, a pipe and a shared dict (no server process)");
    // A pool of two worker processes squares numbers; arguments and results travel
    // through shmkit's own message queues.
    let pool = shmkit::Pool::new(2)?;
    let squares = pool.map(shmkit::task!(square), 0..10u64)?;
    println!(
        "   a pool of workers {:?} squared 0..10: {squares:?}",
        pool.worker_pids()
    );
    assert_eq!(squares[9], 81);
    drop(pool);

    // Two forked children each add an entry to a dict living in a segment.
    let dict = shmkit::ByteDict::create(&format!("tour-dict-{tag}"), 16, 4096)?;
    let (parent_end, child_end) = shmkit::Pipe::anonymous(true, 4096)?;
    let mut children = Vec::new();
    for i in 1..=2 {
        let (dict, pipe) = (&dict, &child_end);
        let p = shmkit::Process::new(move || {
            let me = format!("I am process {}", std::process::id());
            dict.insert_value(&format!("child-{i}"), &me)
                .expect("insert into the dict");
            if i == 1 {
                // The first child also answers a question over the duplex pipe.
                let question: String = pipe.recv().expect("receive a question");
                pipe.send(&format!("{question} -> 42"))
                    .expect("send an answer");
            }
        })
        .start()?;
        children.push(p);
    }
    parent_end.send("the answer?")?;
    let answer: String = parent_end.recv()?;
    println!("   over the pipe, child 1 answered: {answer}");
    for c in &children {
        assert_eq!(c.join()?, 0, "child {} failed", c.pid());
    }
    dict.insert_value("parent", &format!("I am process {tag}"))?;
    let mut items: Vec<(String, String)> = dict.items_values()?;
    items.sort();
    for (key, value) in &items {
        println!("   dict[{key:?}] = {value:?}");
    }
    assert_eq!(items.len(), 3);
    Ok(())
}
