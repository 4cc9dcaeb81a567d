//! Hostile segments: random bytes, and valid headers with random kinds, states, type
//! names and control blocks, never make `inspect`, `show` or `list` panic, hang, or
//! print control characters.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use shmkit::inspect::{self, InspectOptions};
use shmkit::segment::{FORMAT_VERSION, HEADER_LEN, MAGIC, RawHeader};
use shmkit::zerocopy::IntoBytes;

/// A file planted in /dev/shm, removed on drop (also when a case fails).
struct Planted {
    name: String,
    path: String,
}

impl Planted {
    fn new(bytes: &[u8]) -> Planted {
        let name = common::unique_name("hostile");
        let path = format!("/dev/shm/shmkit.{name}");
        std::fs::write(&path, bytes).expect("plant a file in /dev/shm");
        Planted { name, path }
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// This machine's pthread ABI tag, read from a real segment's header.
fn sync_abi() -> u32 {
    static ABI: OnceLock<u32> = OnceLock::new();
    *ABI.get_or_init(|| {
        let name = common::unique_name("abi");
        let _v = shmkit::Value::<u8>::create(&name, 0).unwrap();
        let bytes = std::fs::read(format!("/dev/shm/shmkit.{name}")).unwrap();
        u32::from_ne_bytes(bytes[92..96].try_into().unwrap())
    })
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

#[derive(Debug, Clone)]
struct Hostile {
    kind: u32,
    state: u32,
    type_name: Vec<u8>,
    elem_align_log2: u32,
    elem_size_mult: u64,
    capacity: u64,
    creator_pid: u32,
    created_unix_ns: u64,
    control: Vec<u8>,
    data: Vec<u8>,
    /// The header's kind-specific parameters (a queue's geometry).
    params: [u64; 4],
    /// Byte flips applied after building (offset, xor).
    flips: Vec<(usize, u8)>,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (
        (0u32..18, prop_oneof![Just(1u32), 0u32..4, any::<u32>()]),
        prop_oneof![
            Just(b"u64".to_vec()),
            Just(b"f64".to_vec()),
            Just(b"i8".to_vec()),
            Just(b"u16".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..70),
        ],
        (
            0u32..6,
            0u64..4,
            prop_oneof![Just(1u64), any::<u64>(), 0u64..100],
        ),
        (any::<u32>(), any::<u64>()),
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec((0usize..1200, any::<u8>()), 0..4),
        prop_oneof![
            Just([0u64; 4]),
            any::<[u64; 4]>(),
            (0u64..6, 0u64..3, 0u64..70).prop_map(|(s, o, l)| [s * 8, o * 8, l, 0]),
        ],
    )
        .prop_map(
            |(
                (kind, state),
                type_name,
                (elem_align_log2, elem_size_mult, capacity),
                (creator_pid, created_unix_ns),
                control,
                data,
                flips,
                params,
            )| Hostile {
                kind,
                state,
                type_name,
                elem_align_log2,
                elem_size_mult,
                capacity,
                creator_pid,
                created_unix_ns,
                control,
                data,
                params,
                flips,
            },
        )
}

/// A queue (kind 10 or 12) whose geometry holds together, with random control bytes
/// (head, tail and counters anywhere) and random slots (stamps naming any turn and pid,
/// live or dead).
fn hostile_queue() -> impl Strategy<Value = Hostile> {
    (
        prop_oneof![Just(10u32), Just(12u32)],
        prop_oneof![
            Just((b"u64".to_vec(), 3u32)),
            Just((b"u8".to_vec(), 0)),
            Just((b"Pair".to_vec(), 2))
        ],
        1u64..40,
        proptest::collection::vec(any::<u8>(), 320..=320),
        prop_oneof![any::<u64>(), 0u64..200],
        prop_oneof![any::<u64>(), 0u64..200],
        proptest::collection::vec(any::<u64>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..640),
    )
        .prop_map(
            |(kind, (type_name, align_log2), cap, mut control, head, tail, stamps, fill)| {
                control[..8].copy_from_slice(&tail.to_ne_bytes());
                control[64..72].copy_from_slice(&head.to_ne_bytes());
                let align = 1u64 << align_log2;
                let offset = align.max(8);
                let stride = round_up(offset + align, offset);
                let mut data = vec![0u8; (cap * stride) as usize];
                for (i, b) in data.iter_mut().enumerate() {
                    *b = fill.get(i % fill.len().max(1)).copied().unwrap_or(0);
                }
                for (i, st) in stamps.iter().enumerate().take(cap as usize) {
                    // Half the stamps as written, half with a small turn and this pid or pid 1.
                    let st = if st % 2 == 0 {
                        *st
                    } else {
                        (st >> 60 << 32)
                            | if st % 3 == 0 {
                                1
                            } else {
                                u64::from(std::process::id())
                            }
                    };
                    let at = i * stride as usize;
                    data[at..at + 8].copy_from_slice(&st.to_ne_bytes());
                }
                Hostile {
                    params: [stride, offset, cap.next_power_of_two(), 0],
                    ..sample(kind, &type_name, cap, control, data)
                }
            },
        )
        .prop_map(|h| Hostile {
            elem_align_log2: match h.type_name.as_slice() {
                b"u64" => 3,
                b"Pair" => 2,
                _ => 0,
            },
            ..h
        })
}

/// A pooled queue (elements of 64 KiB: slots of 64 bytes with a stamp and a buffer
/// index, then the buffers, each its owner word then the element; docs/FORMAT.md)
/// whose geometry holds together, with random control bytes, stamps, index words and
/// owner words.
fn hostile_pooled_queue() -> impl Strategy<Value = Hostile> {
    const STRIDE: u64 = 65600;
    (
        prop_oneof![Just(10u32), Just(12u32)],
        1u64..12,
        proptest::collection::vec(any::<u8>(), 320..=320),
        prop_oneof![any::<u64>(), 0u64..40],
        prop_oneof![any::<u64>(), 0u64..40],
        proptest::collection::vec(any::<u64>(), 12),
        proptest::collection::vec(any::<u8>(), 12 * 64),
        proptest::collection::vec(any::<u64>(), 12),
    )
        .prop_map(
            |(kind, cap, mut control, head, tail, stamps, ring, owners)| {
                control[..8].copy_from_slice(&tail.to_ne_bytes());
                control[64..72].copy_from_slice(&head.to_ne_bytes());
                let buffers = cap * 64;
                let mut data = vec![0u8; (buffers + cap * STRIDE) as usize];
                data[..(cap * 64) as usize].copy_from_slice(&ring[..(cap * 64) as usize]);
                for (i, st) in stamps.iter().enumerate().take(cap as usize) {
                    let st = if st % 2 == 0 {
                        *st
                    } else {
                        (st >> 60 << 32) | u64::from(std::process::id())
                    };
                    data[i * 64..i * 64 + 8].copy_from_slice(&st.to_ne_bytes());
                    let at = (buffers + i as u64 * STRIDE) as usize;
                    data[at..at + 8].copy_from_slice(&owners[i].to_ne_bytes());
                }
                Hostile {
                    elem_align_log2: 3,
                    elem_size_mult: 8192,
                    params: [64, 8, cap.next_power_of_two(), STRIDE],
                    ..sample(kind, b"Frame", cap, control, data)
                }
            },
        )
}

/// A header that validates (apart from what the random fields break on purpose), the
/// control block and the data.
fn build(h: &Hostile) -> Vec<u8> {
    let elem_align = 1u64 << h.elem_align_log2;
    let elem_size = elem_align * h.elem_size_mult;
    let control_len = h.control.len() as u64;
    let control_end = HEADER_LEN as u64 + round_up(control_len, 64);
    let data_offset = round_up(control_end, elem_align.max(64));
    let total = data_offset + h.data.len() as u64;
    let mut type_name = [0u8; 64];
    let n = h.type_name.len().min(64);
    type_name[..n].copy_from_slice(&h.type_name[..n]);
    let raw = RawHeader {
        magic: MAGIC,
        version: FORMAT_VERSION,
        kind: h.kind,
        state: h.state,
        header_len: HEADER_LEN as u32,
        total_len: total,
        control_offset: HEADER_LEN as u64,
        control_len,
        data_offset,
        data_len: h.data.len() as u64,
        capacity: h.capacity,
        elem_size,
        elem_align,
        creator_pid: h.creator_pid,
        sync_abi: sync_abi(),
        created_unix_ns: h.created_unix_ns,
        type_name_len: h.type_name.len() as u32,
        reserved0: 0,
        params: h.params,
        type_name,
        reserved1: [0; 48],
    };
    let mut bytes = vec![0u8; total as usize];
    bytes[..HEADER_LEN].copy_from_slice(raw.as_bytes());
    bytes[HEADER_LEN..HEADER_LEN + h.control.len()].copy_from_slice(&h.control);
    bytes[data_offset as usize..].copy_from_slice(&h.data);
    for &(at, x) in &h.flips {
        if let Some(b) = bytes.get_mut(at) {
            *b ^= x;
        }
    }
    bytes
}

fn check_inspect(name: &str, range: Option<std::ops::Range<u64>>) {
    for opts in [
        InspectOptions::default(),
        InspectOptions::header_only(),
        InspectOptions {
            range,
            max_data_bytes: 1 << 20,
        },
    ] {
        let snap = inspect::inspect(name, &opts).expect("a planted file is readable");
        // Every string meant for display is free of control characters.
        for s in snap
            .kind_label()
            .into_iter()
            .chain(snap.type_name())
            .chain(snap.problems.iter().cloned())
            .chain(snap.view.notes.iter().cloned())
        {
            assert!(!s.chars().any(char::is_control), "control char in {s:?}");
        }
        assert!(snap.control.len() as u64 <= inspect::MAX_CONTROL_COPY);
    }
}

/// Runs the binary; it must finish quickly, exit 0 or 1, and print clean UTF-8.
fn check_binary(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).unwrap();
        v
    });
    let status = common::wait_timeout(&mut child, Duration::from_secs(20));
    let out = String::from_utf8(reader.join().unwrap()).expect("stdout is UTF-8");
    assert!(
        matches!(status.code(), Some(0) | Some(1)),
        "{args:?} ended with {status}:\n{out}"
    );
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "{args:?} printed a control character:\n{out:?}"
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn inspect_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500), magic in any::<bool>()) {
        let mut bytes = bytes;
        if magic && bytes.len() >= 12 {
            bytes[..8].copy_from_slice(&MAGIC);
            bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_ne_bytes());
        }
        let f = Planted::new(&bytes);
        check_inspect(&f.name, None);
    }

    #[test]
    fn inspect_survives_hostile_queues(h in hostile_queue(), start in 0u64..700, len in 0u64..700) {
        let f = Planted::new(&build(&h));
        let snap = inspect::inspect(&f.name, &InspectOptions::default()).unwrap();
        prop_assert_eq!(snap.state, inspect::State::Ready, "{:?}", snap.problems);
        prop_assert!(snap.view.available);
        prop_assert!(snap.view.field("len").is_some(), "{:?}", snap.view);
        // The geometry holds, so the slots were scanned and decoded.
        prop_assert!(!snap.view.notes.iter().any(|n| n.contains("queue parameters") || n.contains("slots of")), "{:?}", snap.view.notes);
        prop_assert!(matches!(snap.view.field("scanned_slots"), Some(inspect::Field::U64(n)) if *n > 0));
        check_inspect(&f.name, Some(start..start + len));
    }

    #[test]
    fn inspect_survives_hostile_pooled_queues(h in hostile_pooled_queue(), start in 0u64..900, len in 0u64..900) {
        let f = Planted::new(&build(&h));
        let snap = inspect::inspect(&f.name, &InspectOptions::default()).unwrap();
        prop_assert_eq!(snap.state, inspect::State::Ready, "{:?}", snap.problems);
        prop_assert!(snap.view.available);
        prop_assert!(matches!(snap.view.field("pooled"), Some(inspect::Field::Bool(true))), "{:?}", snap.view);
        prop_assert!(matches!(snap.view.field("scanned_slots"), Some(inspect::Field::U64(n)) if *n > 0));
        check_inspect(&f.name, Some(start..start + len));
    }

    #[test]
    fn inspect_survives_hostile_headers(h in hostile(), start in 0u64..50, len in 0u64..50) {
        let f = Planted::new(&build(&h));
        check_inspect(&f.name, Some(start..start + len));
    }
}

proptest! {
    // Each case runs the binary three times: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn show_survives_hostile_queues(h in hostile_queue()) {
        let f = Planted::new(&build(&h));
        check_binary(&["show", &f.name]);
        let j = check_binary(&["show", &f.name, "--json", "--max-bytes", "40"]);
        let v: serde_json::Value = serde_json::from_str(&j).expect("show --json parses");
        prop_assert_eq!(&v["view"]["available"], &serde_json::json!(true));
    }

    #[test]
    fn show_and_list_survive_hostile_segments(h in hostile(), raw in any::<bool>()) {
        let bytes = if raw {
            let mut b = build(&h);
            b.iter_mut().skip(8).step_by(3).for_each(|x| *x = x.wrapping_mul(31));
            b
        } else {
            build(&h)
        };
        let f = Planted::new(&bytes);
        check_binary(&["show", &f.name]);
        let j = check_binary(&["show", &f.name, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&j).expect("show --json parses");
        prop_assert_eq!(&v["segment"]["name"], &serde_json::json!(f.name));
        let list = check_binary(&["list"]);
        prop_assert!(list.contains(&f.name));
    }
}

#[test]
fn special_files_are_reported_not_opened() {
    // A FIFO must not make the tool block on open.
    let name = common::unique_name("fifo");
    let path = format!("/dev/shm/shmkit.{name}");
    let c = std::ffi::CString::new(path.clone()).unwrap();
    // SAFETY:
    // - `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0);
    let f = Planted {
        name: name.clone(),
        path,
    };
    let out = check_binary(&["list"]);
    assert!(out.contains(&name), "{out}");
    assert!(out.contains("not a regular file"), "{out}");
    let err = inspect::inspect(&name, &InspectOptions::default()).unwrap_err();
    assert!(matches!(err, shmkit::Error::Corrupt { .. }), "{err}");
    drop(f);
}

fn sample(kind: u32, type_name: &[u8], capacity: u64, control: Vec<u8>, data: Vec<u8>) -> Hostile {
    Hostile {
        kind,
        state: 1,
        type_name: type_name.to_vec(),
        elem_align_log2: 0,
        elem_size_mult: 1,
        capacity,
        creator_pid: std::process::id(),
        created_unix_ns: 1,
        control,
        data,
        params: [0; 4],
        flips: vec![],
    }
}

#[test]
fn escape_sequences_in_a_valid_type_name_are_escaped() {
    // UTF-8, so the header validates, but it would recolour a terminal.
    let f = Planted::new(&build(&sample(2, b"\x1b[31mred", 1, vec![0; 128], vec![7])));
    let snap = inspect::inspect(&f.name, &InspectOptions::default()).unwrap();
    assert_eq!(snap.state, inspect::State::Ready, "{:?}", snap.problems);
    for args in [vec!["show", &f.name], vec!["list"]] {
        let out = check_binary(&args);
        assert!(out.contains("\\x1b[31mred"), "{out}");
    }
}

#[test]
fn inconsistent_value_and_short_lock_are_noted_not_trusted() {
    // A "value" with capacity 3 of u8 but 2 data bytes, and a 16-byte lock.
    let f = Planted::new(&build(&sample(2, b"u8", 3, vec![0xff; 16], vec![1, 2])));
    let snap = inspect::inspect(&f.name, &InspectOptions::default()).unwrap();
    assert_eq!(snap.state, inspect::State::Ready, "{:?}", snap.problems);
    let notes = snap.view.notes.join("\n");
    assert!(notes.contains("too short"), "{notes}");
    assert!(notes.contains("capacity 1"), "{notes}");
    assert!(notes.contains("data area is 2 bytes"), "{notes}");
    // A mutex whose lock word claims a dead owner, with waiters.
    let mut control = vec![0u8; 128];
    control[..4].copy_from_slice(&0xc000_0000u32.to_ne_bytes());
    let f = Planted::new(&build(&sample(4, b"", 0, control, vec![])));
    let j: serde_json::Value =
        serde_json::from_str(&check_binary(&["show", &f.name, "--json"])).unwrap();
    assert_eq!(j["view"]["fields"]["owner_died"], true);
    assert_eq!(j["view"]["fields"]["waiters"], true);
    assert_eq!(j["view"]["fields"]["locked"], false);
}
