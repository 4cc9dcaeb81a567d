//! Seed 7: a child sets a `Value<f64>` to 3.14 and element 0 of an `Array<i32>` holding
//! 0..10 to 5; the parent sees both.
//!
//! Run: `cargo run --example value_array`

use shmkit::{Array, Value};

// 3.14 is the tutorial's value, not an attempt at pi.
#[allow(clippy::approx_constant)]
fn main() -> Result<(), shmkit::Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "child" {
        let num = Value::<f64>::open(&args[2])?;
        let arr = Array::<i32>::open(&args[3])?;
        num.store(3.14)?;
        arr.set(0, 5)?;
        return Ok(());
    }

    let tag = std::process::id();
    let (num_name, arr_name) = (format!("example-num-{tag}"), format!("example-arr-{tag}"));
    let num = Value::<f64>::create(&num_name, 0.0)?;
    let arr = Array::<i32>::from_slice(&arr_name, &(0..10).collect::<Vec<_>>())?;

    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["child", &num_name, &arr_name])
        .status()
        .expect("start the child");
    assert!(status.success());

    println!("{}", num.load()?);
    println!("{:?}", arr.to_vec()?);
    assert_eq!(num.load()?, 3.14);
    assert_eq!(arr.to_vec()?, [5, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    Ok(())
}
