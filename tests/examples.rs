//! Runs every Rust example (`examples/*.rs`) as a user would, and checks that each one
//! succeeds and leaves nothing in /dev/shm. `cargo test` builds the examples before it
//! runs the tests; their binaries sit in `target/<profile>/examples/`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

fn examples_dir() -> PathBuf {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples")
}

#[test]
fn every_example_runs_and_cleans_up() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .expect("examples/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.contains(&"tour".to_string()),
        "examples found: {names:?}"
    );
    let dir = examples_dir();
    for name in names {
        let bin = dir.join(&name);
        assert!(
            bin.exists(),
            "example binary {} is missing: run the tests with `cargo test`, which builds the examples",
            bin.display()
        );
        let mut child = std::process::Command::new(&bin)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start example");
        let status = common::wait_timeout(&mut child, Duration::from_secs(120));
        assert!(status.success(), "example {name} failed: {status}");
        let pid = child.id();
        let left: Vec<_> = std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("shmkit.") && n.contains(&pid.to_string()))
            .collect();
        assert!(left.is_empty(), "example {name} left {left:?} in /dev/shm");
    }
}
