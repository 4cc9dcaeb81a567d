//! Cross-process benchmark of the variable-size message queue and the pipe, beside a
//! Unix domain socket (length-prefixed messages over a stream, the usual way to keep
//! boundaries) measured in the same run:
//!
//! - small: 64-byte messages, one producer process to one consumer process (msgs/s),
//!   the socket both with buffered writes (many messages per system call) and with one
//!   write per message;
//! - large: 1 MiB messages, one process to another (GB/s, one copy in and one out).
//!
//! Run: `cargo bench --bench messages` (the child processes are this binary re-run).
//! Prints a Markdown table; only ratios within one run mean anything.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::Instant;

use shmkit::{MessageQueue, Pipe};

const ROLE: &str = "SHMKIT_BENCH_ROLE";
const ARGS: &str = "SHMKIT_BENCH_ARGS";

fn spawn(role: &str, args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .env(ARGS, args.join(" "))
        .spawn()
        .unwrap()
}

/// The producer side (a child): `n` messages of `size` bytes.
fn produce(kind: &str, name: &str, n: usize, size: usize) {
    let msg = vec![0x5a_u8; size];
    match kind {
        "mq" => {
            let q = MessageQueue::open(name).unwrap();
            for _ in 0..n {
                q.put_bytes(&msg).unwrap();
            }
        }
        "pipe" => {
            let p = Pipe::open(name).unwrap();
            for _ in 0..n {
                p.send_bytes(&msg).unwrap();
            }
            // Wait for the consumer's "done" so that closing does not race the end.
            p.recv_bytes().unwrap();
        }
        "uds1" => {
            // One write system call per message, as a program sending each message
            // as it is ready does.
            let mut s = UnixStream::connect(name).unwrap();
            let mut framed = (size as u32).to_le_bytes().to_vec();
            framed.extend_from_slice(&msg);
            for _ in 0..n {
                s.write_all(&framed).unwrap();
            }
        }
        "uds" => {
            let s = UnixStream::connect(name).unwrap();
            let mut w = BufWriter::with_capacity(1 << 16, s);
            for _ in 0..n {
                w.write_all(&(size as u32).to_le_bytes()).unwrap();
                w.write_all(&msg).unwrap();
            }
            w.flush().unwrap();
        }
        other => panic!("unknown kind {other}"),
    }
}

/// Consumes `n` messages of `size` bytes; returns the seconds from the first message
/// to the last.
fn consume(kind: &str, name: &str, n: usize, size: usize) -> f64 {
    let mut buf = vec![0u8; size];
    let mut start = None;
    match kind {
        "mq" => {
            // 1 MiB of ring for small messages, 8 for large ones.
            let q = MessageQueue::create(name, (size * 8).max(1 << 20), size).unwrap();
            let mut kid = spawn("produce", &["mq", name, &n.to_string(), &size.to_string()]);
            for _ in 0..n {
                assert_eq!(q.get_bytes_into(&mut buf).unwrap(), size);
                start.get_or_insert_with(Instant::now);
            }
            let t = start.unwrap().elapsed().as_secs_f64();
            assert!(kid.wait().unwrap().success());
            t
        }
        "pipe" => {
            let p = Pipe::create(name, true, 1 << 20).unwrap();
            let mut kid = spawn(
                "produce",
                &["pipe", name, &n.to_string(), &size.to_string()],
            );
            for _ in 0..n {
                assert_eq!(p.recv_bytes_into(&mut buf).unwrap(), size);
                start.get_or_insert_with(Instant::now);
            }
            let t = start.unwrap().elapsed().as_secs_f64();
            p.send_bytes(b"done").unwrap();
            assert!(kid.wait().unwrap().success());
            t
        }
        "uds" | "uds1" => {
            let _ = std::fs::remove_file(name);
            let l = UnixListener::bind(name).unwrap();
            let mut kid = spawn("produce", &[kind, name, &n.to_string(), &size.to_string()]);
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::with_capacity(1 << 16, s);
            let mut len = [0u8; 4];
            for _ in 0..n {
                r.read_exact(&mut len).unwrap();
                let m = u32::from_le_bytes(len) as usize;
                r.read_exact(&mut buf[..m]).unwrap();
                start.get_or_insert_with(Instant::now);
            }
            let t = start.unwrap().elapsed().as_secs_f64();
            assert!(kid.wait().unwrap().success());
            let _ = std::fs::remove_file(name);
            t
        }
        other => panic!("unknown kind {other}"),
    }
}

/// The best of `runs` runs, in messages per second (the first message is not timed).
fn rate(kind: &str, n: usize, size: usize, runs: usize) -> f64 {
    (0..runs)
        .map(|r| {
            let name = match kind {
                "uds" | "uds1" => {
                    format!("/tmp/shmkit-bench-{kind}-{}-{r}.sock", std::process::id())
                }
                _ => format!("bench-msg-{kind}-{}-{r}", std::process::id()),
            };
            (n - 1) as f64 / consume(kind, &name, n, size)
        })
        .fold(0.0, f64::max)
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::var(ARGS)
            .unwrap()
            .split(' ')
            .map(str::to_string)
            .collect();
        assert_eq!(role, "produce");
        produce(
            &args[0],
            &args[1],
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
        );
        return;
    }
    // `cargo bench` passes `--bench`; anything else (cargo test's listing) runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let kinds = [
        (
            "uds",
            "Unix domain socket, length-prefixed, buffered writes (peer)",
        ),
        ("uds1", "Unix domain socket, one write per message (peer)"),
        ("mq", "shmkit `MessageQueue`"),
        ("pipe", "shmkit `Pipe`"),
    ];
    println!("| transport | 64 B msgs/s | ratio | 1 MiB GB/s | ratio |");
    println!("|---|---:|---:|---:|---:|");
    let (mut small0, mut large0) = (0.0, 0.0);
    for (i, (kind, label)) in kinds.iter().enumerate() {
        let small = rate(kind, 300_000, 64, 3);
        let large = rate(kind, 400, 1 << 20, 3) * (1 << 20) as f64 / 1e9;
        if i == 0 {
            (small0, large0) = (small, large);
        }
        println!(
            "| {label} | {:.2} M | {:.2} | {:.2} | {:.2} |",
            small / 1e6,
            small / small0,
            large,
            large / large0
        );
    }
}
