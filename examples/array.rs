//! Seed 6: a child writes 250 into `Array<i32>[0]`; the parent reads 250.
//!
//! Run: `cargo run --example array`

use shmkit::Array;

fn main() -> Result<(), shmkit::Error> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name] = args.as_slice() {
        if role == "child" {
            // The child opens the array by name and writes into it.
            let numbers = Array::<i32>::open(name)?;
            numbers.set(0, 250)?;
            println!("child {}: wrote 250 into numbers[0]", std::process::id());
            return Ok(());
        }
    }

    let name = format!("example-array-{}", std::process::id());
    let numbers = Array::<i32>::create(&name, 4)?; // zeroed; removed when dropped
    println!("parent: numbers = {:?}", numbers.to_vec()?);

    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["child", &name])
        .status()
        .expect("start the child");
    assert!(status.success());

    println!("parent: numbers[0] = {}", numbers.get(0)?);
    assert_eq!(numbers.get(0)?, 250);
    Ok(())
}
