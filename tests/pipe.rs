//! Pipe: the semantics of Python's `multiprocessing.Pipe` connections (message
//! boundaries, zero-length and 16 MiB messages, poll with a timeout, recv_bytes_into,
//! EOF after the peer closes, BrokenPipe and EOF when the peer process was killed),
//! between real processes.

mod common;

use std::time::{Duration, Instant};

use shmkit::queue::PipeSide;
use shmkit::{Error, Pipe, PipeEnd};

const LIMIT: Duration = Duration::from_secs(60);
const MIB16: usize = 16 << 20;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn pipe_end_is_send_and_sync() {
    assert_send_sync::<PipeEnd>();
}

/// A 16 MiB message whose every byte depends on its position and `seed`.
fn big(seed: u8) -> Vec<u8> {
    (0..MIB16)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

#[test]
fn boundaries_and_zero_length_messages_both_ways() {
    let name = common::unique_name("pipe-bounds");
    let a = Pipe::create(&name, true, 64).unwrap();
    let b = Pipe::open(&name).unwrap();
    assert_eq!((a.side(), b.side()), (PipeSide::A, PipeSide::B));
    assert!(a.readable() && a.writable() && b.readable() && b.writable());
    let msgs: Vec<Vec<u8>> = vec![vec![], b"x".to_vec(), vec![], vec![9; 100], b"end".to_vec()];
    // Larger than the 64-byte ring: the sender streams while the receiver (a thread)
    // reads.
    std::thread::scope(|s| {
        s.spawn(|| {
            for m in &msgs {
                a.send_bytes(m).unwrap();
            }
        });
        for m in &msgs {
            assert_eq!(&b.recv_bytes_timeout(LIMIT).unwrap(), m);
        }
    });
    b.send_bytes(b"").unwrap();
    b.send_bytes(b"back").unwrap();
    assert_eq!(a.recv_bytes().unwrap(), b"");
    assert_eq!(a.recv_bytes().unwrap(), b"back");
    assert!(!a.poll(Duration::ZERO).unwrap());
}

#[test]
fn one_way_pipe_rejects_the_wrong_direction() {
    let name = common::unique_name("pipe-oneway");
    let a = Pipe::create(&name, false, 256).unwrap();
    let b = Pipe::open(&name).unwrap();
    assert!(a.readable() && !a.writable());
    assert!(!b.readable() && b.writable());
    assert!(
        matches!(a.send_bytes(b"x"), Err(Error::InvalidArgument(m)) if m.contains("only receives"))
    );
    assert!(matches!(b.recv_bytes(), Err(Error::InvalidArgument(m)) if m.contains("only sends")));
    assert!(matches!(
        b.poll(Duration::ZERO),
        Err(Error::InvalidArgument(_))
    ));
    b.send(&vec![1u32, 2, 3]).unwrap();
    assert_eq!(a.recv::<Vec<u32>>().unwrap(), vec![1, 2, 3]);
}

#[test]
fn an_end_belongs_to_one_process() {
    let name = common::unique_name("pipe-claim");
    let _a = Pipe::create(&name, true, 256).unwrap();
    let _b = Pipe::open(&name).unwrap();
    assert!(matches!(Pipe::open(&name), Err(Error::InvalidArgument(m)) if m.contains("end B")));
    assert!(matches!(
        Pipe::open(&common::unique_name("pipe-missing")),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        Pipe::create(&common::unique_name("pipe-zero"), true, 0),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn poll_and_recv_timeouts_wait_at_least_their_duration() {
    let name = common::unique_name("pipe-poll");
    let a = Pipe::create(&name, true, 256).unwrap();
    let b = Pipe::open(&name).unwrap();
    let t = Duration::from_millis(50);
    let start = Instant::now();
    assert!(!a.poll(t).unwrap());
    assert!(start.elapsed() >= t);
    let start = Instant::now();
    assert!(matches!(a.recv_bytes_timeout(t), Err(Error::Timeout(d)) if d == t));
    assert!(start.elapsed() >= t);
    b.send_bytes(b"now").unwrap();
    assert!(a.poll(Duration::ZERO).unwrap());
    assert!(a.poll(t).unwrap());
    // poll does not consume.
    assert_eq!(a.recv_bytes().unwrap(), b"now");
    // A poll woken by a send from another thread.
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            b.send_bytes(b"later").unwrap();
        });
        assert!(a.poll(LIMIT).unwrap());
    });
    assert_eq!(a.recv_bytes().unwrap(), b"later");
}

#[test]
fn recv_into_reports_the_needed_size_and_keeps_the_message() {
    let name = common::unique_name("pipe-into");
    let a = Pipe::create(&name, true, 64).unwrap();
    let b = Pipe::open(&name).unwrap();
    b.send_bytes(&[5; 40]).unwrap();
    let mut small = [0u8; 10];
    match a.recv_bytes_into(&mut small) {
        Err(Error::BufferTooSmall { needed, capacity }) => assert_eq!((needed, capacity), (40, 10)),
        other => panic!("expected BufferTooSmall, got {other:?}"),
    }
    let mut buf = [0u8; 64];
    assert_eq!(a.recv_bytes_into(&mut buf).unwrap(), 40);
    assert_eq!(&buf[..40], &[5; 40]);
    // Zero-length into an empty buffer.
    b.send_bytes(b"").unwrap();
    assert_eq!(a.recv_bytes_into(&mut []).unwrap(), 0);
}

#[test]
fn closed_end_and_eof_after_the_peer_closes() {
    let name = common::unique_name("pipe-close");
    let a = Pipe::create(&name, true, 256).unwrap();
    let b = Pipe::open(&name).unwrap();
    b.send_bytes(b"one").unwrap();
    b.send_bytes(b"two").unwrap();
    drop(b); // dropping the owning handle closes end B
    assert!(a.poll(Duration::ZERO).unwrap());
    assert_eq!(a.recv_bytes().unwrap(), b"one");
    assert_eq!(a.recv_bytes().unwrap(), b"two");
    assert!(matches!(a.recv_bytes(), Err(Error::Eof)));
    assert!(matches!(a.recv_bytes_timeout(LIMIT), Err(Error::Eof)));
    assert!(
        a.poll(Duration::ZERO).unwrap(),
        "poll says recv would not block"
    );
    assert!(matches!(a.send_bytes(b"x"), Err(Error::BrokenPipe)));
    a.close();
    assert!(a.is_closed());
    assert!(matches!(a.recv_bytes(), Err(Error::Closed)));
    assert!(matches!(a.send_bytes(b"x"), Err(Error::Closed)));
}

#[test]
fn sixteen_mib_messages_both_ways_between_processes() {
    const TEST: &str = "sixteen_mib_messages_both_ways_between_processes";
    if let Some(child) = common::child_role() {
        let b = Pipe::open(child.arg(0)).unwrap();
        let m = b.recv_bytes().unwrap();
        assert!(m == big(1), "the 16 MiB message arrived intact");
        // Into a caller's buffer, too.
        let mut buf = vec![0u8; MIB16];
        assert_eq!(b.recv_bytes_into(&mut buf).unwrap(), MIB16);
        assert!(buf == big(2));
        b.send_bytes(&big(3)).unwrap();
        b.send_bytes(b"").unwrap();
        return;
    }
    let name = common::unique_name("pipe-16m");
    // A 64 KiB ring: each message streams through it 256 times over.
    let a = Pipe::create(&name, true, 64 * 1024).unwrap();
    let kid = common::spawn_child(TEST, "peer", &[&name]);
    a.send_bytes(&big(1)).unwrap();
    a.send_bytes(&big(2)).unwrap();
    let back = a.recv_bytes_timeout(LIMIT).unwrap();
    assert!(back.len() == MIB16 && back == big(3));
    assert_eq!(a.recv_bytes_timeout(LIMIT).unwrap(), b"");
    common::wait_ok(kid, LIMIT);
    // The child exited without closing (process exit skips nothing here, its handle
    // dropped): either way the pipe now reports EOF.
    assert!(matches!(a.recv_bytes_timeout(LIMIT), Err(Error::Eof)));
}

#[test]
fn eof_after_the_peer_process_closes_and_serde_values() {
    const TEST: &str = "eof_after_the_peer_process_closes_and_serde_values";
    if let Some(child) = common::child_role() {
        let b = Pipe::open(child.arg(0)).unwrap();
        let n: u32 = b.recv().unwrap();
        for i in 0..n {
            b.send(&(i, format!("reply {i}"))).unwrap();
        }
        b.close();
        // Stay alive a little: the EOF must come from the close, not the exit.
        std::thread::sleep(Duration::from_millis(300));
        return;
    }
    let name = common::unique_name("pipe-eof");
    let a = Pipe::create(&name, true, 128).unwrap();
    let kid = common::spawn_child(TEST, "peer", &[&name]);
    a.send(&5u32).unwrap();
    for i in 0..5u32 {
        assert_eq!(
            a.recv::<(u32, String)>().unwrap(),
            (i, format!("reply {i}"))
        );
    }
    let start = Instant::now();
    assert!(matches!(a.recv_bytes(), Err(Error::Eof)));
    assert!(
        start.elapsed() < Duration::from_millis(250),
        "EOF came from the close"
    );
    assert!(matches!(a.send_bytes(b"x"), Err(Error::BrokenPipe)));
    common::wait_ok(kid, LIMIT);
}

fn hang_peer(child: &common::ChildRole) {
    let b = Pipe::open(child.arg(0)).unwrap();
    if child.arg(1) == "mid-send" {
        // Blocks with the ring full, in the middle of the message.
        b.send_bytes(&big(7)).unwrap();
    } else {
        b.send_bytes(b"sent before dying").unwrap();
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn eof_and_broken_pipe_when_the_peer_process_is_killed() {
    const TEST: &str = "eof_and_broken_pipe_when_the_peer_process_is_killed";
    if let Some(child) = common::child_role() {
        return hang_peer(&child);
    }
    let name = common::unique_name("pipe-kill");
    let a = Pipe::create(&name, true, 4096).unwrap();
    let mut kid = common::spawn_child(TEST, "peer", &[&name, "whole"]);
    assert_eq!(a.recv_bytes_timeout(LIMIT).unwrap(), b"sent before dying");
    // A receiver blocked when the peer dies wakes up with EOF.
    std::thread::scope(|s| {
        let r = s.spawn(|| a.recv_bytes());
        std::thread::sleep(Duration::from_millis(30));
        common::kill9(&mut kid);
        assert!(matches!(r.join().unwrap(), Err(Error::Eof)));
    });
    assert!(matches!(a.recv_bytes_timeout(LIMIT), Err(Error::Eof)));
    assert!(a.poll(Duration::ZERO).unwrap());
    // A send notices the death at once or within the liveness interval (bounded).
    common::wait_until(LIMIT, "send to fail with BrokenPipe", || {
        matches!(a.send_bytes(b"anyone?"), Err(Error::BrokenPipe))
    });
}

#[test]
fn a_sender_killed_mid_message_gives_eof_and_a_blocked_sender_gets_broken_pipe() {
    const TEST: &str =
        "a_sender_killed_mid_message_gives_eof_and_a_blocked_sender_gets_broken_pipe";
    if let Some(child) = common::child_role() {
        return hang_peer(&child);
    }
    let name = common::unique_name("pipe-kill-mid");
    let a = Pipe::create(&name, true, 4096).unwrap();
    let mut kid = common::spawn_child(TEST, "peer", &[&name, "mid-send"]);
    common::wait_until(LIMIT, "the ring to fill", || {
        a.snapshot().dirs[1].unwrap().buffered == 4096
    });
    common::kill9(&mut kid);
    // The partial message is discarded: EOF.
    assert!(matches!(a.recv_bytes_timeout(LIMIT), Err(Error::Eof)));

    // And the other way: our send blocks on a full ring when the receiver dies.
    let name = common::unique_name("pipe-kill-recv");
    let a = Pipe::create(&name, true, 4096).unwrap();
    let mut kid = common::spawn_child(TEST, "peer", &[&name, "whole"]);
    assert_eq!(a.recv_bytes_timeout(LIMIT).unwrap(), b"sent before dying");
    std::thread::scope(|s| {
        let w = s.spawn(|| a.send_bytes(&[1; 100_000]));
        common::wait_until(LIMIT, "the sender to block", || {
            a.snapshot().dirs[0].unwrap().buffered == 4096
        });
        common::kill9(&mut kid);
        assert!(matches!(w.join().unwrap(), Err(Error::BrokenPipe)));
    });
}

#[test]
fn anonymous_pipe_between_a_parent_and_a_forked_child() {
    let (parent, child) = Pipe::anonymous(true, 1024).unwrap();
    // SAFETY: the child only uses the pipe and leaves with _exit (no destructors of the
    // parent's state run in it).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // Python's idiom: the child closes the parent's end (a handle it does not own).
        parent.close();
        let ok = (|| -> shmkit::Result<()> {
            loop {
                match child.recv::<String>() {
                    Ok(s) => child.send(&s.to_uppercase())?,
                    Err(Error::Eof) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        })();
        // SAFETY: ends the forked child at once.
        unsafe { libc::_exit(if ok.is_ok() { 0 } else { 1 }) };
    }
    // The parent closes its copy of the child's end: the child's end stays open.
    child.close();
    for w in ["ping", "", "pipe"] {
        parent.send(w).unwrap();
        assert_eq!(
            parent.recv_timeout::<String>(LIMIT).unwrap(),
            w.to_uppercase()
        );
    }
    assert_eq!(parent.peer_pid(), Some(pid as u32));
    parent.close();
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

#[test]
fn threads_sharing_an_end_take_turns_whole_messages() {
    let name = common::unique_name("pipe-threads");
    // A small ring: every message is streamed in several pieces.
    let a = Pipe::create(&name, true, 64).unwrap();
    let b = Pipe::open(&name).unwrap();
    const PER_THREAD: u32 = 500;
    std::thread::scope(|s| {
        for t in 0..3u8 {
            let a = &a;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let len = 1 + (i as usize * 37) % 300;
                    a.send_bytes(&vec![t; len]).unwrap();
                }
            });
        }
        let mut next = [0u32; 3];
        for _ in 0..3 * PER_THREAD {
            let m = b.recv_bytes_timeout(LIMIT).unwrap();
            let t = m[0];
            assert!(
                m.iter().all(|&x| x == t),
                "a message was interleaved with another"
            );
            let i = next[t as usize];
            assert_eq!(
                m.len(),
                1 + (i as usize * 37) % 300,
                "thread {t} message {i}"
            );
            next[t as usize] += 1;
        }
        assert_eq!(next, [PER_THREAD; 3]);
    });
}

#[test]
fn a_process_cannot_use_the_end_another_process_owns() {
    let (a, b) = Pipe::anonymous(true, 256).unwrap();
    a.send_bytes(b"parent claims A").unwrap();
    // SAFETY: the child only uses the pipe and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let refused = matches!(a.send_bytes(b"x"), Err(Error::InvalidArgument(m)) if m.contains("belongs to pid"));
        let got = b.recv_bytes().ok();
        // Dropping the child's copy of A (owned by the parent) must not close it.
        drop(a);
        let ok = refused && got.as_deref() == Some(&b"parent claims A"[..]);
        let _ = b.send_bytes(if ok { b"ok" } else { b"bad" });
        // SAFETY: ends the forked child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    assert_eq!(a.recv_bytes_timeout(LIMIT).unwrap(), b"ok");
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert!(!a.is_closed());
    // B's owner (the child) is gone: EOF.
    assert!(matches!(a.recv_bytes_timeout(LIMIT), Err(Error::Eof)));
}

#[test]
fn a_timed_receive_of_a_message_still_arriving_keeps_it_for_the_next_receive() {
    const TEST: &str = "a_timed_receive_of_a_message_still_arriving_keeps_it_for_the_next_receive";
    if let Some(child) = common::child_role() {
        return hang_peer(&child);
    }
    let name = common::unique_name("pipe-partial");
    let a = Pipe::create(&name, true, 4096).unwrap();
    let mut kid = common::spawn_child(TEST, "peer", &[&name, "mid-send"]);
    common::wait_until(LIMIT, "the ring to fill", || {
        a.snapshot().dirs[1].unwrap().buffered == 4096
    });
    // Freeze the sender in the middle of its 16 MiB message.
    // SAFETY: signals our own child (not yet reaped).
    unsafe { libc::kill(kid.id() as libc::pid_t, libc::SIGSTOP) };
    let t = Duration::from_millis(30);
    let start = Instant::now();
    assert!(matches!(a.recv_bytes_timeout(t), Err(Error::Timeout(d)) if d == t));
    assert!(start.elapsed() >= t, "the timeout covers the whole message");
    // A buffer too small for the kept message: the size needed, nothing lost.
    let mut small = [0u8; 16];
    assert!(matches!(
        a.recv_bytes_into_timeout(&mut small, t),
        Err(Error::BufferTooSmall { needed: MIB16, .. })
    ));
    // SAFETY: as above.
    unsafe { libc::kill(kid.id() as libc::pid_t, libc::SIGCONT) };
    let m = a.recv_bytes_timeout(LIMIT).unwrap();
    assert!(m.len() == MIB16 && m == big(7), "the message arrived whole");
    common::kill9(&mut kid);
}
