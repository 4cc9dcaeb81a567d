//! Seed 8: two children each insert "I am process <pid>" under their own key in a
//! shared dict; the parent adds its own entry and prints all three. Python's version
//! needs `Manager().dict()` and its server process; here the table lives in a segment.
//!
//! Run: `cargo run --example dict`

use shmkit::ByteDict;

fn main() -> Result<(), shmkit::Error> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name, key] = args.as_slice() {
        if role == "child" {
            // The child opens the dict by name and adds its entry.
            let d = ByteDict::open(name)?;
            d.insert_value(key, &format!("I am process {}", std::process::id()))?;
            return Ok(());
        }
    }

    let name = format!("example-dict-{}", std::process::id());
    // Up to 100 entries of up to 64 KiB of keys and values; removed when dropped.
    let d = ByteDict::create(&name, 100, 64 * 1024)?;
    let children: Vec<_> = ["child-1", "child-2"]
        .iter()
        .map(|key| {
            std::process::Command::new(std::env::current_exe().expect("own path"))
                .args(["child", &name, key])
                .spawn()
                .expect("start a child")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait for a child").success());
    }
    d.insert_value("parent", &format!("I am process {}", std::process::id()))?;

    // Any serde value works under a string key; `items_values` decodes them all.
    let mut items: Vec<(String, String)> = d.items_values()?;
    items.sort();
    for (key, value) in &items {
        println!("{key}: {value}");
    }
    assert_eq!(items.len(), 3);
    Ok(())
}
