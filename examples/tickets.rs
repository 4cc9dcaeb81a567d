//! Seed 9: ten processes each try to buy tickets from a shared count. Without a lock
//! the check-then-buy races and tickets are oversold; with the lock exactly the right
//! number are sold.
//!
//! Run: `cargo run --release --example tickets`

use std::process::Command;

use shmkit::Value;

const BUYERS: usize = 10;
const TICKETS: i64 = 1_000;
/// How many tickets each buyer tries to buy (together they want far more than exist).
const WANTS: usize = 500;

/// The ticket office: tickets left, tickets sold.
#[shmkit::shareable(name = "office")]
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Office {
    left: i64,
    sold: i64,
}

fn buy_without_lock(office: &Value<Office>) -> Result<(), shmkit::Error> {
    for _ in 0..WANTS {
        // Check, then buy: another process can buy the same ticket in between.
        let seen = office.load()?;
        if seen.left <= 0 {
            break;
        }
        std::thread::yield_now(); // the tutorial sleeps here, widening the window
        office.update(|o| {
            o.left = seen.left - 1;
            o.sold += 1;
        })?;
    }
    Ok(())
}

fn buy_with_lock(office: &Value<Office>) -> Result<(), shmkit::Error> {
    for _ in 0..WANTS {
        // Check and buy under one lock: nobody can slip in between.
        let bought = office.update(|o| {
            if o.left > 0 {
                o.left -= 1;
                o.sold += 1;
                true
            } else {
                false
            }
        })?;
        if !bought {
            break;
        }
    }
    Ok(())
}

fn run(mode: &str) -> Result<Office, Box<dyn std::error::Error>> {
    let name = format!("example-tickets-{mode}-{}", std::process::id());
    let office = Value::create(
        &name,
        Office {
            left: TICKETS,
            sold: 0,
        },
    )?;
    // A start gate, so all buyers run at the same time as in a real rush.
    let gate_name = format!("{name}-gate");
    let gate = Value::<u32>::create(&gate_name, 0)?;
    let exe = std::env::current_exe()?;
    let buyers: Vec<_> = (0..BUYERS)
        .map(|_| {
            Command::new(&exe)
                .args(["buyer", mode, &name, &gate_name])
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    gate.atomic_store(1);
    for mut b in buyers {
        assert!(b.wait()?.success());
    }
    Ok(office.load()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && args[1] == "buyer" {
        let office = Value::<Office>::open(&args[3])?;
        let gate = Value::<u32>::open(&args[4])?;
        while gate.atomic_load() == 0 {
            std::thread::yield_now();
        }
        match args[2].as_str() {
            "locked" => buy_with_lock(&office)?,
            _ => buy_without_lock(&office)?,
        }
        return Ok(());
    }
    println!("{BUYERS} buyers, {TICKETS} tickets, each buyer wants {WANTS}");
    let racy = run("racy")?;
    println!(
        "without the lock: sold {} tickets (only {TICKETS} exist) -> {}",
        racy.sold,
        if racy.sold > TICKETS {
            "oversold!"
        } else {
            "lucky this time"
        }
    );
    let locked = run("locked")?;
    println!(
        "with the lock:    sold {} tickets, {} left",
        locked.sold, locked.left
    );
    assert_eq!(locked.sold, TICKETS);
    assert_eq!(locked.left, 0);
    Ok(())
}
