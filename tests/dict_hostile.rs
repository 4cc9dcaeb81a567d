//! The segment is untrusted: random and almost-right bytes written over a dict's or a
//! list's table words, slots, records and elements (through the file, as another
//! process could) give `Corrupt` or another clean error, never a panic, an
//! out-of-bounds access or an endless probe; and after a successful `recover` the
//! table is fully valid again.

mod common;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::{ByteDict, Dict, Error, List};

/// Control block at 256; the dict's table words start 128 bytes in (after the lock).
const WORDS: u64 = 256 + 128;
/// A dict's data area: round_up(256 + 256, 64).
const DICT_DATA: u64 = 512;
/// A list's data area: round_up(256 + 192, 64).
const LIST_DATA: u64 = 448;

fn clean<T: std::fmt::Debug>(r: Result<T, Error>) {
    if let Err(e) = r {
        assert!(
            matches!(
                e,
                Error::Corrupt { .. }
                    | Error::Full(_)
                    | Error::TooLarge { .. }
                    | Error::OutOfBounds { .. }
                    | Error::BufferTooSmall { .. }
            ),
            "unexpected error {e}"
        );
    }
}

fn exercise(d: &ByteDict) {
    let start = Instant::now();
    for k in ["a", "bb", "", "a-longer-key-of-some-length"] {
        clean(d.get(k));
        clean(d.contains_key(k));
        clean(d.insert(k, "value"));
        clean(d.get_into(k, &mut [0u8; 2]));
        clean(d.update(k, |v| *v = Some(b"x".to_vec())));
        clean(d.remove(k));
        clean(d.get_or_insert(k, "y"));
    }
    clean(d.len());
    clean(d.items());
    clean(d.keys());
    clean(d.verify());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

fn slot_word() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        any::<u64>(),
        (any::<u32>(), 0u64..300).prop_map(|(tag, off)| (u64::from(tag) << 40) | (off + 2)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hostile_dict_bytes_are_harmless(
        // capacity 4, max_bytes 64: 8 slots of 8 bytes, then a 184-byte arena, per side.
        active in prop_oneof![Just(0u64), Just(1), any::<u64>()],
        counters in proptest::collection::vec(prop_oneof![0u64..300, any::<u64>()], 6),
        slots in proptest::collection::vec(slot_word(), 16),
        arena in proptest::collection::vec(any::<u8>(), 184),
        lens in proptest::collection::vec((0u32..40, prop_oneof![0u32..40, any::<u32>()]), 4),
        random_all in any::<bool>(),
        noise in proptest::collection::vec(any::<u8>(), 496),
    ) {
        let name = common::unique_name("dict-hostile");
        let d = ByteDict::create(&name, 4, 64).unwrap();
        d.insert("a", "1").unwrap();
        d.insert("bb", "22").unwrap();
        if random_all {
            common::scribble(&name, DICT_DATA, &noise);
        } else {
            let mut words = vec![active];
            words.extend(&counters);
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
            common::scribble(&name, WORDS, &bytes);
            let s: Vec<u8> = slots.iter().flat_map(|w| w.to_ne_bytes()).collect();
            common::scribble(&name, DICT_DATA, &s[..64]);
            common::scribble(&name, DICT_DATA + 248, &s[64..]);
            let mut a = arena.clone();
            for (i, (k, v)) in lens.iter().enumerate() {
                // Record headers at a few plausible offsets.
                let at = i * 11;
                a[at..at + 4].copy_from_slice(&k.to_ne_bytes());
                a[at + 4..at + 8].copy_from_slice(&v.to_ne_bytes());
            }
            common::scribble(&name, DICT_DATA + 64, &a);
            common::scribble(&name, DICT_DATA + 248 + 64, &a);
        }
        exercise(&d);
        match d.recover() {
            Ok(_) => {
                let check = d.verify().unwrap();
                prop_assert!(check.counters_agree);
                // The entries kept may fill the table; otherwise it takes more.
                match d.insert("after", "recover") {
                    Ok(_) => prop_assert_eq!(d.get("after").unwrap(), Some(b"recover".to_vec())),
                    Err(Error::Full(_)) => prop_assert!(check.len == 4 || check.live_bytes + 13 > 64),
                    Err(e) => panic!("{e}"),
                }
                prop_assert!(d.verify().is_ok());
            }
            Err(e) => prop_assert!(matches!(e, Error::Corrupt { .. }), "{}", e),
        }
        exercise(&d);
    }

    #[test]
    fn hostile_typed_dict_and_list_bytes_are_harmless(
        words in proptest::collection::vec(any::<u64>(), 8),
        noise in proptest::collection::vec(any::<u8>(), 600),
        small in 0u64..20,
    ) {
        let name = common::unique_name("dict-hostile-typed");
        let d = Dict::<u32, u64>::create(&name, 4).unwrap();
        d.insert(1, 2).unwrap();
        common::scribble(&name, DICT_DATA, &noise);
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        common::scribble(&name, WORDS + 8, &bytes[..40]);
        clean(d.insert(3, 4));
        clean(d.get(&1));
        clean(d.remove(&1));
        clean(d.items());
        clean(d.update(5, |v| *v = Some(6)));
        clean(d.recover());
        clean(d.verify());

        let lname = common::unique_name("list-hostile");
        let l = List::<u64>::create(&lname, 8).unwrap();
        l.push(1).unwrap();
        common::scribble(&lname, LIST_DATA, &noise[..8 * 17]);
        // state (len << 1 | side) and journal: random, or almost right.
        common::scribble(&lname, 256 + 128, &bytes[..16]);
        if small % 2 == 0 {
            common::scribble(&lname, 256 + 128, &(small << 1).to_ne_bytes());
            common::scribble(&lname, 256 + 136, &small.to_ne_bytes());
        }
        clean(l.len());
        clean(l.get(0));
        clean(l.set(0, 5));
        clean(l.push(2));
        clean(l.insert(0, 3));
        clean(l.remove(0));
        clean(l.pop());
        clean(l.to_vec());
        clean(l.recover());
        if let Ok(n) = l.len() {
            prop_assert!(n <= l.capacity());
            prop_assert_eq!(l.to_vec().unwrap().len(), n);
        }
    }
}
