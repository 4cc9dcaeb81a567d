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
fn c_api_rlock() {
    run_c_test("rlock.c");
}

#[test]
fn c_api_semaphore() {
    run_c_test("semaphore.c");
}

#[test]
fn c_api_event() {
    run_c_test("event.c");
}

#[test]
fn c_api_condition() {
    run_c_test("condition.c");
}

#[test]
fn c_api_barrier() {
    run_c_test("barrier.c");
}

#[test]
fn c_api_queue() {
    run_c_test("queue.c");
}

#[test]
fn c_api_queue_zero_copy() {
    run_c_test("queue_zero_copy.c");
}

#[test]
fn c_api_message_queue() {
    run_c_test("message_queue.c");
}

#[test]
fn c_api_pipe() {
    run_c_test("pipe.c");
}

#[test]
fn c_api_dict() {
    run_c_test("dict.c");
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
        (
            "semaphore",
            "all workers done; 2 permits free again, 0 inside",
        ),
        ("event", "every waiter woke up; is_set = true"),
        ("add_under_lock", "final value 31"),
        ("queue", "reader got A B C in order"),
        (
            "zero_copy",
            "viewer read 49 frames in place, frame 13 never arrived",
        ),
        ("pipe", "parent and child talked both ways; child exited"),
        ("dict", "3 entries"),
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
        if example == "add_under_lock" {
            // The first adder to get the lock sees 11 or 21, the second 31.
            let mut totals: Vec<&str> = stdout
                .lines()
                .filter_map(|l| l.split("counter is now ").nth(1))
                .collect();
            totals.sort_unstable();
            assert!(totals == ["11", "31"] || totals == ["21", "31"], "{stdout}");
        }
        if example == "semaphore" {
            assert!(!stdout.contains("3 inside"), "{stdout}");
        }
        assert_eq!(support::leftovers(&prefix), Vec::<String>::new());
    }
}

#[test]
fn install_and_pkg_config() {
    let lib = support::static_lib();
    let build = lib.parent().unwrap();
    let prefix = build.join(format!("c-tests/prefix-{}", std::process::id()));
    let ws = support::workspace();
    let st = std::process::Command::new("bash")
        .arg(ws.join("ffi/install.sh"))
        .arg(&prefix)
        .arg(build)
        .status()
        .expect("run ffi/install.sh");
    assert!(st.success());
    let pc = std::process::Command::new("pkg-config")
        .args(["--cflags", "--libs", "shmkit"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("run pkg-config");
    assert!(
        pc.status.success(),
        "{}",
        String::from_utf8_lossy(&pc.stderr)
    );
    let flags = String::from_utf8(pc.stdout).unwrap();
    assert!(flags.contains("-lshmkit"), "{flags}");
    // Link the shared library through pkg-config's flags and run an example.
    let exe = prefix.join("array");
    let mut cc = std::process::Command::new("cc");
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(ws.join("examples/c/array.c"))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
        .arg("-o")
        .arg(&exe);
    let out = cc.output().expect("run cc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tag = support::unique_prefix("pkgconfig");
    let out = support::run_ok(&exe, &[&tag]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("parent read 250"));
    let _ = std::fs::remove_dir_all(&prefix);
}

/// The complete program in docs/C.md compiles cleanly and does what it says.
#[test]
fn docs_c_md_program() {
    let ws = support::workspace();
    let doc = std::fs::read_to_string(ws.join("docs/C.md")).expect("read docs/C.md");
    let start = doc.find("```c\n").expect("a C block in docs/C.md") + 5;
    let len = doc[start..].find("```").expect("the end of the C block");
    let src = support::out_dir().join("doc_program.c");
    let name = support::unique_prefix("doc-point");
    std::fs::write(&src, doc[start..start + len].replace("demo-point", &name)).unwrap();
    let exe = support::compile("doc_program", &[src], &[]);
    let out = support::run_ok(&exe, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("point is (11, 22)"));
    assert_eq!(support::leftovers(&name), Vec::<String>::new());
}
