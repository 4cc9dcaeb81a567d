//! Builds libshmkit and compiles C programs against it, for the C tests (here and in
//! the root crate's `tests/c_interop.rs`, which includes this file by path).
//!
//! The static library is built with `cargo build -p shmkit-ffi` into the target
//! directory of the running test binary, so a plain `cargo test --workspace` from a
//! clean checkout works. C programs compile with `-Wall -Wextra -Werror -pedantic` and
//! AddressSanitizer + UBSan.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("include/shmkit.h").exists())
        .expect("the workspace root holds include/shmkit.h")
        .to_path_buf()
}

/// `(target dir, profile dir)` of the running test binary
/// (`<target>/<profile>/deps/<test>-<hash>`).
fn target_dirs() -> (PathBuf, PathBuf) {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps")
        .to_path_buf();
    let target = profile.parent().expect("<target>").to_path_buf();
    (target, profile)
}

/// Builds libshmkit.a (once per test process) and returns its path.
pub fn static_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let (target, profile) = target_dirs();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "shmkit-ffi"])
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", &target);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build -p shmkit-ffi");
        assert!(status.success(), "cargo build -p shmkit-ffi failed");
        let lib = profile.join("libshmkit.a");
        assert!(lib.exists(), "{} was not built", lib.display());
        lib
    })
}

/// Where compiled C programs go.
pub fn out_dir() -> PathBuf {
    let dir = target_dirs().1.join("c-tests");
    std::fs::create_dir_all(&dir).expect("create c-tests dir");
    dir
}

/// Compiles the C sources into an executable named `name` (sanitized, warnings as
/// errors) and returns its path. `extra` adds compiler arguments.
pub fn compile(name: &str, sources: &[PathBuf], extra: &[&str]) -> PathBuf {
    let lib = static_lib();
    let exe = out_dir().join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ])
        .arg("-I")
        .arg(workspace().join("include"))
        .args(extra)
        .args(sources)
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm", "-lrt", "-lutil"])
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("run {cc}: {e}"));
    assert!(
        out.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Sanitizer settings for running compiled programs.
pub fn sanitizer_env(cmd: &mut Command) -> &mut Command {
    cmd.env("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
}

/// Runs a compiled program to completion and asserts it exited 0.
pub fn run_ok(exe: &Path, args: &[&str]) -> Output {
    let out = sanitizer_env(&mut Command::new(exe))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let text = format!(
        "{} {args:?}: {}\n--- stdout\n{}--- stderr\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    out
}

/// A segment-name prefix unique to this process and call.
pub fn unique_prefix(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "c-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Names of shmkit segments in /dev/shm that start with `prefix`.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let want = format!("shmkit.{prefix}");
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&want))
                .collect()
        })
        .unwrap_or_default()
}
