//! Seed: a global list appended to in two children stays empty in the parent: memory
//! is not shared unless you ask for it (a shmkit segment, value or queue).
//!
//! Run: `cargo run --release --example isolation`

use std::sync::Mutex;

use shmkit::Process;

static ITEMS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn main() -> Result<(), shmkit::Error> {
    shmkit::process::init();

    // What *is* shared: a value in shared memory.
    let appended = shmkit::Value::<u32>::anonymous(0)?;
    let children: Vec<Process> = ["first", "second"]
        .into_iter()
        .map(|who| {
            Process::new(|| {
                let mut items = ITEMS.lock().unwrap();
                items.push(format!("added by the {who} child"));
                println!("{who} child sees {:?}", *items);
                appended.fetch_add(1);
            })
            .start()
        })
        .collect::<Result<_, _>>()?;
    for c in &children {
        assert_eq!(c.join()?, 0);
    }
    let items = ITEMS.lock().unwrap();
    println!(
        "parent sees {:?} (the children appended {} times)",
        *items,
        appended.load()?
    );
    assert!(items.is_empty());
    assert_eq!(appended.load()?, 2);
    Ok(())
}
