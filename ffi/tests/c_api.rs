//! The C API from C: every exported function, NULL arguments, wrong types, closed
//! handles, owner death, and the C examples. Compiled with sanitizers against
//! libshmkit.a.

mod support;

use std::path::PathBuf;

fn c_test(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(file)
}

fn run_c_test(file: &str) {
    let exe = support::compile(file.trim_end_matches(".c"), &[c_test(file)], &[]);
    let prefix = support::unique_prefix(file.trim_end_matches(".c"));
    let out = support::run_ok(&exe, &[&prefix]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("all passed"), "{stdout}");
    assert_eq!(support::leftovers(&prefix), Vec::<String>::new());
}

#[test]
fn c_api_general() {
    run_c_test("general.c");
}

#[test]
fn c_api_segment() {
    run_c_test("segment.c");
}

#[test]
fn c_api_value() {
    run_c_test("value.c");
}

#[test]
fn c_api_array() {
    run_c_test("array.c");
}

#[test]
fn c_api_mutex() {
    run_c_test("mutex.c");
}

#[test]
fn header_compiles_as_cxx() {
    let _ = support::static_lib();
    let src = c_test("header.cpp");
    let out = std::process::Command::new("c++")
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(support::workspace().join("include"))
        .arg(&src)
        .output()
        .expect("run c++");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn c_examples_build_and_run() {
    let dir = support::workspace().join("examples/c");
    for (example, expect) in [
        ("array", "parent read 250"),
        ("value_array", "parent sees 3.14 and 5"),
        ("tickets", "sold 5 of 5 tickets to 10 buyers"),
    ] {
        let exe = support::compile(
            &format!("example_{example}"),
            &[dir.join(format!("{example}.c"))],
            &[],
        );
        let prefix = support::unique_prefix(example);
        let out = support::run_ok(&exe, &[&prefix]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expect), "{example}: {stdout}");
        assert_eq!(support::leftovers(&prefix), Vec::<String>::new());
    }
}
