//! Seed 16, the tutorial's homework: one process reads a file and computes its size in
//! bytes, and sends the result to another process, which prints it. The two talk over a
//! one-way pipe: the reader process sends, the parent receives.
//!
//! Run: `cargo run --release --example file_size [path]` (default: this example's
//! source file, or the program itself when the source is not around).

use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};
use shmkit::Pipe;

/// What the reader sends.
#[derive(Serialize, Deserialize, Debug)]
struct FileSize {
    path: String,
    bytes: u64,
}

/// The reader process: reads the whole file, counts its bytes, sends the result.
fn reader(pipe: &str, path: &str) -> Result<(), shmkit::Error> {
    let conn = Pipe::open(pipe)?; // end B: the sending end of a one-way pipe
    let bytes = std::fs::read(path)
        .map_err(|e| shmkit::Error::InvalidArgument(format!("read {path}: {e}")))?
        .len() as u64;
    conn.send(&FileSize {
        path: path.to_string(),
        bytes,
    })
}

fn default_file() -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file!());
    if source.exists() {
        source
    } else {
        std::env::current_exe().expect("the program's own path")
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("reader") {
        return Ok(reader(&args[2], &args[3])?);
    }
    let path = args.get(1).map(PathBuf::from).unwrap_or_else(default_file);

    let name = format!("example-file-size-{}", std::process::id());
    // A one-way pipe: end A (ours) receives, end B (the reader's) sends.
    let conn = Pipe::create(&name, false, 1024)?;
    let mut kid = Command::new(std::env::current_exe()?)
        .args(["reader", &name, &path.to_string_lossy()])
        .spawn()?;
    let result: FileSize = conn.recv()?;
    println!("{} is {} bytes", result.path, result.bytes);
    assert!(kid.wait()?.success(), "reader failed");
    // Check against the file system's own answer.
    assert_eq!(result.bytes, std::fs::metadata(&path)?.len());
    Ok(())
}
