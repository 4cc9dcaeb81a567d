//! A shared list, like `Manager().list()`: three children append their squares, the
//! parent sorts the result in place and prints it.
//!
//! Run: `cargo run --example list`

use shmkit::List;

fn main() -> Result<(), shmkit::Error> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name, n] = args.as_slice() {
        if role == "child" {
            let squares = List::<u64>::open(name)?;
            let n: u64 = n.parse().expect("a number");
            for i in n * 3..n * 3 + 3 {
                squares.push(i * i)?;
            }
            return Ok(());
        }
    }

    let name = format!("example-list-{}", std::process::id());
    let squares = List::<u64>::create(&name, 16)?; // room for 16; removed when dropped
    let children: Vec<_> = (0..3)
        .map(|n| {
            std::process::Command::new(std::env::current_exe().expect("own path"))
                .args(["child", &name, &n.to_string()])
                .spawn()
                .expect("start a child")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait for a child").success());
    }
    println!("as appended: {:?}", squares.to_vec()?);

    // Insertion sort with the list's own verbs: remove and insert at an index.
    for i in 1..squares.len()? {
        let x = squares.remove(i)?;
        let mut j = i;
        while j > 0 && squares.get(j - 1)? > x {
            j -= 1;
        }
        squares.insert(j, x)?;
    }
    let sorted = squares.to_vec()?;
    println!("sorted:      {sorted:?}");
    assert_eq!(sorted, (0..9u64).map(|i| i * i).collect::<Vec<_>>());
    assert_eq!(squares.pop()?, Some(64));
    Ok(())
}
