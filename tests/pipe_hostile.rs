//! The segment is untrusted: random bytes written over a pipe's ends, positions and
//! rings (through the file, as another process could), or over its header parameters,
//! never make an operation read or write out of bounds, panic, allocate what a hostile
//! length claims, or hang once the other end is closed.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use shmkit::{Error, Pipe, PipeEnd};

/// Control block at 256 (384 bytes: ends A and B, streams A→B and B→A), rings at 640.
const CONTROL: u64 = 256;
const RINGS: u64 = 640;
const PARAMS: u64 = 112;

fn clean<T>(r: Result<T, Error>) {
    match r {
        Ok(_)
        | Err(Error::Corrupt { .. })
        | Err(Error::Eof)
        | Err(Error::BrokenPipe)
        | Err(Error::Closed)
        | Err(Error::Timeout(_))
        | Err(Error::InvalidArgument(_))
        | Err(Error::BufferTooSmall { .. })
        | Err(Error::Codec(_)) => {}
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Runs every operation on both ends in a thread; after a moment, closes both ends
/// (as a peer would, through the bytes), which must end every wait.
fn exercise(name: &str, a: &PipeEnd, b: &PipeEnd) {
    let (done, finished) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            let t = Duration::from_millis(2);
            clean(a.poll(t));
            clean(a.recv_bytes_timeout(t));
            clean(b.recv_bytes_timeout(t));
            clean(a.send_bytes(&[1; 100]));
            clean(b.send_bytes(&[2; 3000]));
            clean(a.recv_bytes());
            let mut buf = [0u8; 64];
            clean(b.recv_bytes_into(&mut buf));
            clean(a.recv::<(u8, String)>());
            let snap = a.snapshot();
            assert!(
                snap.dirs
                    .iter()
                    .flatten()
                    .all(|d| d.buffered <= snap.capacity_bytes)
            );
            done.send(()).unwrap();
        });
        std::thread::sleep(Duration::from_millis(5));
        common::scribble(name, CONTROL + 4, &1u32.to_ne_bytes());
        common::scribble(name, CONTROL + 64 + 4, &1u32.to_ne_bytes());
        finished
            .recv_timeout(Duration::from_secs(5))
            .expect("operations ended once both ends were closed");
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn random_ends_positions_and_ring_bytes_are_harmless(
        cap in 16usize..100,
        control in proptest::collection::vec(any::<u8>(), 384),
        rings in proptest::collection::vec(any::<u8>(), 208),
        peer_pid in prop_oneof![Just(0u32), Just(std::process::id()), any::<u32>()],
        positions in proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..300], 4),
        len in prop_oneof![any::<u64>(), 0u64..300],
    ) {
        let name = common::unique_name("pipe-hostile");
        let a = Pipe::create(&name, true, cap).unwrap();
        let b = Pipe::open(&name).unwrap();
        a.send_bytes(b"hello").unwrap();
        let ring = a.capacity_bytes();
        common::scribble(&name, CONTROL, &control);
        // Keep the ends usable (owned by this process, open), the peer's pid hostile.
        common::scribble(&name, CONTROL, &std::process::id().to_ne_bytes());
        common::scribble(&name, CONTROL + 4, &0u32.to_ne_bytes());
        common::scribble(&name, CONTROL + 64, &std::process::id().to_ne_bytes());
        common::scribble(&name, CONTROL + 68, &0u32.to_ne_bytes());
        common::scribble(&name, RINGS, &rings[..2 * ring]);
        exercise(&name, &a, &b);

        // Positions and a frame length that look almost right, B's pid hostile.
        let a = Pipe::create(&common::unique_name("pipe-hostile2"), true, cap).unwrap();
        let name = a.segment().name().unwrap().to_string();
        let b = Pipe::open(&name).unwrap();
        common::scribble(&name, CONTROL + 64, &peer_pid.to_ne_bytes());
        for (i, p) in positions.iter().enumerate() {
            // tail0, head0, tail1, head1
            common::scribble(&name, CONTROL + 128 + 64 * i as u64, &p.to_ne_bytes());
        }
        for dir in 0..2u64 {
            let at = positions[2 * dir as usize + 1] % ring as u64;
            for (i, byte) in len.to_ne_bytes().iter().enumerate() {
                let off = (at + i as u64) % ring as u64;
                common::scribble(&name, RINGS + dir * ring as u64 + off, &[*byte]);
            }
        }
        exercise(&name, &a, &b);
    }

    #[test]
    fn random_header_parameters_are_refused_or_consistent(
        params in proptest::collection::vec(any::<u64>(), 4),
        keep in proptest::collection::vec(any::<bool>(), 4),
    ) {
        let name = common::unique_name("pipe-hostile-params");
        let a = Pipe::create(&name, true, 64).unwrap();
        let original = [a.capacity_bytes() as u64, 1, 8, 0];
        let mixed: Vec<u8> = (0..4)
            .flat_map(|i| if keep[i] { original[i] } else { params[i] }.to_ne_bytes())
            .collect();
        common::scribble(&name, PARAMS, &mixed);
        match Pipe::open(&name) {
            Ok(b) => {
                prop_assert!(b.capacity_bytes() > 0);
                exercise(&name, &a, &b);
            }
            Err(Error::Corrupt { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

#[test]
fn a_frame_claiming_a_terabyte_is_corrupt_not_an_allocation() {
    let name = common::unique_name("pipe-hostile-len");
    let a = Pipe::create(&name, true, 64).unwrap();
    let b = Pipe::open(&name).unwrap();
    b.send_bytes(b"x").unwrap();
    // B→A is stream 1, whose ring is the second 64 bytes.
    common::scribble(&name, RINGS + 64, &u64::MAX.to_ne_bytes());
    assert!(matches!(a.recv_bytes(), Err(Error::Corrupt { .. })));
    // A large but legal claim waits for bytes that never come (no allocation of it),
    // until the sender closes.
    common::scribble(&name, RINGS + 64, &(1u64 << 39).to_ne_bytes());
    drop(b);
    assert!(matches!(a.recv_bytes(), Err(Error::Eof)));
}
