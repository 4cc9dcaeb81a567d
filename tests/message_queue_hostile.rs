//! The segment is untrusted: random bytes written over a message queue's positions,
//! counters and ring (through the file, as another process could), or over its header
//! parameters, never make an operation read or write out of bounds, panic, or wait
//! longer than its timeout; inconsistent positions and lengths give `Error::Corrupt`.

mod common;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::{Error, MessageQueue};

/// Control block at 256 (320 bytes, a RawMutex first), ring at 576 (docs/FORMAT.md).
const CONTROL: u64 = 256;
const RING: u64 = 576;
/// The header's `params` field.
const PARAMS: u64 = 112;

fn clean(r: Result<impl Sized, Error>) {
    match r {
        Ok(_)
        | Err(Error::Corrupt { .. })
        | Err(Error::WouldBlock)
        | Err(Error::Timeout(_))
        | Err(Error::Closed)
        | Err(Error::TooLarge { .. })
        | Err(Error::BufferTooSmall { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn exercise(q: &MessageQueue) {
    let t = Duration::from_millis(3);
    let start = Instant::now();
    clean(q.try_put_bytes(b"hello"));
    clean(q.try_get_bytes());
    clean(q.put_bytes_timeout(&[1; 20], t));
    clean(q.get_bytes_timeout(t));
    let mut buf = [0u8; 16];
    clean(q.try_get_bytes_into(&mut buf));
    clean(q.get_bytes_into_timeout(&mut buf, t));
    clean(q.try_get::<(u32, String)>().or_else(|e| match e {
        Error::Codec(_) => Ok((0, String::new())),
        e => Err(e),
    }));
    assert!(q.bytes_used() <= q.capacity_bytes());
    assert!(q.len() <= q.capacity_bytes() / 8);
    let snap = q.snapshot();
    assert!(snap.bytes_used <= snap.capacity_bytes);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "operations took {:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_positions_counters_and_ring_bytes_are_harmless(
        cap in 32usize..200,
        control in proptest::collection::vec(any::<u8>(), 192),
        ring in proptest::collection::vec(any::<u8>(), 208),
        head in prop_oneof![any::<u64>(), (0u64..64).prop_map(|x| x * 8)],
        used in prop_oneof![any::<u64>(), (0u64..30).prop_map(|x| x * 8)],
        len in prop_oneof![any::<u64>(), 0u64..300],
    ) {
        let name = common::unique_name("mq-hostile");
        let q = MessageQueue::create(&name, cap, cap / 2).unwrap();
        q.put_bytes(b"some message").unwrap();
        let ring_len = q.capacity_bytes();
        // Everything after the mutex, and the ring.
        common::scribble(&name, CONTROL + 128, &control);
        common::scribble(&name, RING, &ring[..ring_len]);
        exercise(&q);
        // Positions and a record length that look almost right; not closed.
        common::scribble(&name, CONTROL + 128, &head.to_ne_bytes());
        common::scribble(&name, CONTROL + 136, &head.wrapping_add(used).to_ne_bytes());
        common::scribble(&name, CONTROL + 152, &[0; 4]);
        let at = (head % ring_len as u64) as usize;
        for (i, b) in len.to_ne_bytes().iter().enumerate() {
            common::scribble(&name, RING + ((at + i) % ring_len) as u64, &[*b]);
        }
        exercise(&q);
    }

    #[test]
    fn random_header_parameters_are_refused_or_consistent(
        params in proptest::collection::vec(any::<u64>(), 4),
        keep in proptest::collection::vec(any::<bool>(), 4),
    ) {
        let name = common::unique_name("mq-hostile-params");
        let q = MessageQueue::create(&name, 100, 50).unwrap();
        let original = [q.capacity_bytes() as u64, 50, 8, 0];
        let mixed: Vec<u8> = (0..4)
            .flat_map(|i| if keep[i] { original[i] } else { params[i] }.to_ne_bytes())
            .collect();
        common::scribble(&name, PARAMS, &mixed);
        match MessageQueue::open(&name) {
            Ok(other) => {
                prop_assert!(other.max_message() <= other.capacity_bytes());
                exercise(&other);
            }
            Err(Error::Corrupt { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

#[test]
fn a_record_longer_than_the_maximum_is_corrupt_not_a_huge_allocation() {
    let name = common::unique_name("mq-hostile-len");
    let q = MessageQueue::create(&name, 64, 32).unwrap();
    q.put_bytes(b"x").unwrap();
    common::scribble(&name, RING, &(u64::MAX - 3).to_ne_bytes());
    assert!(matches!(q.try_get_bytes(), Err(Error::Corrupt { .. })));
    // Messages stay where they are: fixing the length makes the queue work again.
    common::scribble(&name, RING, &1u64.to_ne_bytes());
    assert_eq!(q.try_get_bytes().unwrap(), b"x");
}
