//! A MessageQueue and a Pipe between a Rust and a C process (through libshmkit): byte
//! messages of every length, boundaries kept, both directions; the C side grows its
//! buffer to the size SHMKIT_BUFFER_TOO_SMALL reports.

mod common;
#[path = "../ffi/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use shmkit::{Error, MessageQueue, Pipe};

const LIMIT: Duration = Duration::from_secs(60);

fn exe() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let src = support::workspace().join("tests/c/interop_messages.c");
        support::compile("interop_messages", &[src], &[])
    })
}

fn c_process(args: &[&str]) -> Command {
    let mut cmd = Command::new(exe());
    support::sanitizer_env(&mut cmd).args(args);
    cmd
}

fn message(i: usize) -> Vec<u8> {
    (0..i % 300).map(|k| (i * 31 + k) as u8).collect()
}

fn reversed(mut v: Vec<u8>) -> Vec<u8> {
    v.reverse();
    v
}

#[test]
fn message_queues_between_rust_and_c_both_ways() {
    let to_c = common::unique_name("interop-mq-in");
    let from_c = common::unique_name("interop-mq-out");
    let q_in = MessageQueue::create(&to_c, 2048, 512).unwrap();
    let q_out = MessageQueue::create(&from_c, 2048, 512).unwrap();
    let c = c_process(&["mq_echo", &to_c, &from_c])
        .spawn()
        .expect("start the C process");
    const N: usize = 5_000;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..N {
                q_in.put_bytes_timeout(&message(i), LIMIT).unwrap();
            }
            q_in.close();
        });
        for i in 0..N {
            let got = q_out.get_bytes_timeout(LIMIT).unwrap();
            assert_eq!(got, reversed(message(i)), "message {i}");
        }
    });
    common::wait_ok(c, LIMIT);
    assert!(q_out.is_empty());
}

#[test]
fn pipe_between_rust_and_c_with_large_and_empty_messages() {
    let name = common::unique_name("interop-pipe");
    let a = Pipe::create(&name, true, 4096).unwrap();
    let c = c_process(&["pipe_echo", &name])
        .spawn()
        .expect("start the C process");
    let mut msgs: Vec<Vec<u8>> = (0..200).map(message).collect();
    msgs.push(vec![]);
    msgs.push((0..3 << 20).map(|k: usize| (k / 7) as u8).collect());
    msgs.push(b"after the big one".to_vec());
    for m in &msgs {
        a.send_bytes(m).unwrap();
        assert_eq!(a.recv_bytes_timeout(LIMIT).unwrap(), reversed(m.clone()));
    }
    // Closing our end gives the C process EOF: it leaves its loop and exits 0.
    a.close();
    common::wait_ok(c, LIMIT);
    assert!(matches!(a.recv_bytes(), Err(Error::Closed)));
    let snap = a.snapshot();
    assert!(snap.ends[0].closed && snap.ends[1].closed, "{snap:?}");
    assert_eq!((snap.ends[1].received, snap.ends[1].sent), (203, 203));
}
