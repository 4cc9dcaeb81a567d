//! Creates a few segments to look at with `shmkit` (the README's "Inspecting segments"
//! output comes from this), holds the mutex, and waits for Enter (or N seconds).
//!
//! `cargo run -p shmkit-cli --example demo_segments -- [seconds]`

#[shmkit::shareable(name = "point")]
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

fn main() -> Result<(), shmkit::Error> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let counter = shmkit::Value::<u64>::create("demo-counter", 41)?;
    counter.fetch_add(1);
    let samples = shmkit::Array::<f64>::from_slice("demo-samples", &[0.5, 1.5, 2.25, -3.0, 1e9])?;
    let origin = shmkit::Value::<Point>::create("demo-origin", Point { x: 1.0, y: -2.0 })?;
    let lock = shmkit::Mutex::create("demo-lock")?;
    let raw = shmkit::Segment::create("demo-raw", 64)?;
    raw.write_at(0, b"hello from shmkit")?;
    let _guard = lock.lock()?;
    println!(
        "created demo-counter, demo-samples, demo-origin, demo-lock (held), demo-raw; pid {}",
        std::process::id()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(std::time::Duration::from_secs(secs));
    drop((counter, samples, origin, raw));
    Ok(())
}
