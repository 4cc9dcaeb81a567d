//! Segment creation, opening, validation and lifetime: every error path.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use shmkit::{Array, Error, Mutex, Segment, SegmentOptions, Value};

fn shm_path(name: &str) -> String {
    format!("/dev/shm/shmkit.{name}")
}

#[test]
fn missing_segment_is_not_found() {
    let name = common::unique_name("missing");
    let err = Value::<u32>::open(&name).unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { name: n } if *n == name),
        "{err}"
    );
    assert!(err.to_string().contains(&name));
}

#[test]
fn second_create_is_already_exists() {
    let name = common::unique_name("twice");
    let _a = Value::<u32>::create(&name, 1).unwrap();
    let err = Value::<u32>::create(&name, 2).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(_a.load().unwrap(), 1, "the failed create changed nothing");
}

#[test]
fn wrong_element_type_names_both_types() {
    let name = common::unique_name("wrongtype");
    let _a = Array::<f64>::create(&name, 8).unwrap();
    let err = Array::<u64>::open(&name).unwrap_err();
    match &err {
        Error::TypeMismatch { expected, found } => {
            assert_eq!(expected, "u64 (size 8, align 8)");
            assert_eq!(found, "f64 (size 8, align 8)");
        }
        other => panic!("expected TypeMismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("u64") && msg.contains("f64"), "{msg}");
}

#[test]
fn wrong_kind_is_kind_mismatch() {
    let name = common::unique_name("wrongkind");
    let _v = Value::<u32>::create(&name, 1).unwrap();
    let err = Array::<u32>::open(&name).unwrap_err();
    assert!(
        matches!(&err, Error::KindMismatch { expected, found } if expected == "array" && found == "value"),
        "{err}"
    );
    assert!(matches!(
        Mutex::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        Segment::open(&name),
        Err(Error::KindMismatch { .. })
    ));
}

#[test]
fn bad_names_are_invalid_name() {
    let long = "x".repeat(201);
    for bad in [
        "",
        "a/b",
        "/abs",
        "nul\0x",
        ".hidden",
        "sp ace",
        "é",
        long.as_str(),
    ] {
        let err = Value::<u8>::create(bad, 0).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
        assert!(matches!(
            Value::<u8>::open(bad),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            shmkit::unlink(bad),
            Err(Error::InvalidName { .. })
        ));
    }
    let ok = "x".repeat(200);
    let ok_name = format!("{}{}", common::unique_name("n"), &ok[..150]);
    let v = Value::<u8>::create(&ok_name, 3).unwrap();
    assert_eq!(v.load().unwrap(), 3);
}

#[test]
fn default_mode_is_0600_and_wider_mode_is_honoured() {
    let name = common::unique_name("mode");
    let _v = Value::<u8>::create(&name, 0).unwrap();
    let mode = std::fs::metadata(shm_path(&name))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let wide = common::unique_name("mode-wide");
    let _w = Value::<u8>::create_with(&wide, 0, &SegmentOptions::new().mode(0o664)).unwrap();
    let mode = std::fs::metadata(shm_path(&wide))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o664, "the umask must not narrow an explicit mode");
}

#[test]
fn creating_handle_unlinks_unless_persistent_open_handles_never() {
    let name = common::unique_name("life");
    let created = Value::<u8>::create(&name, 1).unwrap();
    let opened = Value::<u8>::open(&name).unwrap();
    drop(opened);
    assert!(std::path::Path::new(&shm_path(&name)).exists());
    drop(created);
    assert!(!std::path::Path::new(&shm_path(&name)).exists());

    let kept = common::unique_name("kept");
    let mut v = Value::<u8>::create(&kept, 5).unwrap();
    v.segment_mut().set_persistent(true);
    drop(v);
    assert_eq!(Value::<u8>::open(&kept).unwrap().load().unwrap(), 5);
    shmkit::unlink(&kept).unwrap();
    assert!(matches!(shmkit::unlink(&kept), Err(Error::NotFound { .. })));
}

#[test]
fn raw_segment_read_write_and_bounds() {
    let name = common::unique_name("raw");
    let seg = Segment::create(&name, 100).unwrap();
    assert_eq!(seg.len(), 100);
    seg.write_at(90, &[7; 10]).unwrap();
    assert!(matches!(
        seg.write_at(91, &[7; 10]),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(matches!(
        seg.read_at(usize::MAX, &mut [0; 2]),
        Err(Error::OutOfBounds { .. })
    ));
    let other = Segment::open_or_create(&name, 100).unwrap();
    let mut buf = [0u8; 11];
    other.read_at(89, &mut buf).unwrap();
    assert_eq!(buf, [0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
    let anon = Segment::anonymous(10).unwrap();
    assert!(anon.name().is_none());
    assert_eq!(anon.info().kind, shmkit::Kind::Raw);
}

/// Writes `bytes` at `offset` of the OS object behind `name`, bypassing shmkit.
fn scribble(name: &str, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(name))
        .unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

fn open_err(name: &str) -> Error {
    Value::<u64>::open_with(
        name,
        &SegmentOptions::new().open_timeout(Duration::from_millis(200)),
    )
    .unwrap_err()
}

#[test]
fn garbage_in_each_header_field_is_reported() {
    // (offset, bytes, what the error must be)
    let cases: &[(u64, &[u8], &str)] = &[
        (0, b"NOTSHMKT", "magic"),
        (8, &99u32.to_le_bytes(), "version"),
        (12, &77u32.to_le_bytes(), "kind"),
        (16, &9u32.to_le_bytes(), "state"),
        (16, &2u32.to_le_bytes(), "poisoned"),
        (20, &8u32.to_le_bytes(), "header length"),
        (24, &(1u64 << 40).to_le_bytes(), "total"),
        (48, &8u64.to_le_bytes(), "layout"),
        (56, &(1u64 << 62).to_le_bytes(), "data length"),
        (64, &2u64.to_le_bytes(), "capacity"),
        (72, &16u64.to_le_bytes(), "type"),
        (80, &3u64.to_le_bytes(), "alignment"),
        (92, &0xdeadu32.to_le_bytes(), "ABI"),
        (104, &200u32.to_le_bytes(), "type name length"),
        (144, &[0xff, 0xfe], "UTF-8"),
    ];
    for (offset, bytes, what) in cases {
        let name = common::unique_name("garbage");
        let _v = Value::<u64>::create(&name, 42).unwrap();
        scribble(&name, *offset, bytes);
        let err = open_err(&name);
        let ok = match *what {
            "version" => matches!(err, Error::VersionMismatch { found: 99, .. }),
            "type" => matches!(err, Error::TypeMismatch { .. }),
            _ => matches!(err, Error::Corrupt { .. }),
        };
        assert!(ok, "field {what} at {offset}: got {err:?}");
    }
}

#[test]
fn truncated_or_grown_object_is_corrupt() {
    let name = common::unique_name("trunc");
    let _v = Value::<u64>::create(&name, 42).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(shm_path(&name))
        .unwrap();
    f.set_len(300).unwrap();
    assert!(matches!(open_err(&name), Error::Corrupt { .. }));
    f.set_len(100).unwrap();
    assert!(matches!(open_err(&name), Error::Corrupt { .. }));
    f.set_len(1 << 20).unwrap();
    assert!(matches!(open_err(&name), Error::Corrupt { .. }));
}

#[test]
fn empty_object_is_not_ready_within_the_timeout() {
    let name = common::unique_name("empty");
    std::fs::File::create(shm_path(&name)).unwrap();
    let start = Instant::now();
    let err = open_err(&name);
    let waited = start.elapsed();
    std::fs::remove_file(shm_path(&name)).unwrap();
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[test]
fn creator_killed_before_ready_gives_clear_error() {
    if let Some(child) = common::child_role() {
        // Stalls forever just before publishing `ready`.
        let _ = Value::<u64>::create_with(
            child.arg(0),
            1,
            &SegmentOptions::new().stall_before_ready(true),
        );
        unreachable!("stall_before_ready never returns");
    }
    let name = common::unique_name("stalled");
    let mut kid = common::spawn_child(
        "creator_killed_before_ready_gives_clear_error",
        "creator",
        &[&name],
    );
    common::wait_until(
        Duration::from_secs(30),
        "the child to create the object",
        || std::fs::metadata(shm_path(&name)).is_ok_and(|m| m.len() > 256),
    );
    // While the creator lives, open waits and then says who is initializing.
    let err = open_err(&name);
    assert!(
        matches!(&err, Error::NotReady { reason, .. } if reason.contains("alive")),
        "{err}"
    );
    common::kill9(&mut kid);
    let start = Instant::now();
    let err = Value::<u64>::open(&name).unwrap_err();
    assert!(
        matches!(&err, Error::NotReady { reason, .. } if reason.contains("died")),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "a dead creator is seen at once"
    );
    shmkit::unlink(&name).unwrap();
}

#[test]
fn no_segment_of_this_process_is_left_behind() {
    // Runs with the others; each test removes what it made, so by the end of this test
    // binary nothing with our pid should remain. Checked here for the segments this
    // test itself makes and drops.
    let name = common::unique_name("leak");
    {
        let _a = Array::<u8>::create(&name, 10).unwrap();
    }
    assert!(!common::leftovers().contains(&format!("shmkit.{name}")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes over a valid segment's header never crash, hang or succeed with
    /// a wrong layout.
    #[test]
    fn random_header_bytes_never_crash_or_hang(
        offset in 0u64..256,
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let name = common::unique_name("fuzz");
        let _v = Value::<u64>::create(&name, 42).unwrap();
        scribble(&name, offset, &bytes);
        let start = Instant::now();
        match Value::<u64>::open_with(&name, &SegmentOptions::new().open_timeout(Duration::from_millis(50))) {
            Ok(v) => {
                // Whatever survived validation must still be a usable value.
                prop_assert_eq!(v.segment().info().capacity, 1);
                let _ = v.lock_timeout(Duration::from_millis(50)).map(|g| *g);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        prop_assert!(start.elapsed() < Duration::from_secs(2));
    }

    /// Random bytes over an idle mutex: locking gives the lock or an error, bounded in
    /// time, never a crash.
    #[test]
    fn random_mutex_bytes_never_crash_or_hang(
        offset in 0u64..128,
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let name = common::unique_name("fuzzmutex");
        let v = Value::<u64>::create(&name, 42).unwrap();
        // Only the mutex (control block bytes 256..384), never the value after it.
        let end = bytes.len().min(128 - offset as usize);
        scribble(&name, 256 + offset, &bytes[..end]);
        let start = Instant::now();
        match v.lock_timeout(Duration::from_millis(20)) {
            Ok(g) => prop_assert_eq!(*g, 42),
            Err(shmkit::LockError::OwnerDied(d)) => prop_assert_eq!(*d.into_guard(), 42),
            Err(shmkit::LockError::Failed(e)) => { let _ = e.to_string(); }
        }
        let _ = v.raw_mutex().snapshot();
        prop_assert!(start.elapsed() < Duration::from_secs(2));
    }

    /// A whole header of random bytes.
    #[test]
    fn random_whole_header_never_crashes(bytes in proptest::collection::vec(any::<u8>(), 256)) {
        let name = common::unique_name("fuzzall");
        let _s = Segment::create(&name, 64).unwrap();
        scribble(&name, 0, &bytes);
        let r = Segment::open_with(&name, &SegmentOptions::new().open_timeout(Duration::from_millis(20)));
        prop_assert!(r.is_err());
    }
}
