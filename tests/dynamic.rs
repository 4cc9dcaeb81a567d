//! DynValue / DynArray / DynQueue (the runtime-typed layer under the C API) against the
//! typed Value<T> / Array<T> / Queue<T>: same segments, same type checks.

mod common;

use std::time::Duration;

use shmkit::dynamic::{DynArray, DynQueue, DynValue};
use shmkit::segment::Kind;
use shmkit::{Array, Error, JoinableQueue, Queue, SegmentOptions, TypeDesc, Value};

#[shmkit::shareable(name = "point")]
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

fn opts() -> SegmentOptions {
    SegmentOptions::default()
}

#[test]
fn runtime_descriptor_equals_the_static_one() {
    assert_eq!(
        TypeDesc::runtime("point", 16, 8).unwrap(),
        TypeDesc::of::<Point>()
    );
    assert_eq!(
        TypeDesc::runtime("f64", 8, 8).unwrap(),
        TypeDesc::of::<f64>()
    );
    for (name, size, align) in [("", 8, 8), ("x", 0, 1), ("x", 12, 8), ("x", 8, 3)] {
        let err = TypeDesc::runtime(name, size, align).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    }
    let long = "n".repeat(64);
    assert!(TypeDesc::runtime(&long, 8, 8).is_err());
}

#[test]
fn dyn_value_opens_a_typed_value_and_back() {
    let name = common::unique_name("dyn-value");
    let typed = Value::create(&name, Point { x: 1.0, y: 2.0 }).unwrap();
    let desc = TypeDesc::runtime("point", 16, 8).unwrap();
    let d = DynValue::open(&name, desc, &opts()).unwrap();
    let mut bytes = [0u8; 16];
    d.read(&mut bytes).unwrap();
    assert_eq!(&bytes[..8], &1.0f64.to_ne_bytes());
    let mut new = [0u8; 16];
    new[..8].copy_from_slice(&3.0f64.to_ne_bytes());
    new[8..].copy_from_slice(&4.0f64.to_ne_bytes());
    d.write(&new).unwrap();
    assert_eq!(typed.load().unwrap(), Point { x: 3.0, y: 4.0 });
    assert!(matches!(
        d.read(&mut [0u8; 8]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(d.atomic::<i64>(), Err(Error::TypeMismatch { .. })));

    for wrong in [("point", 24, 8), ("point", 16, 4), ("pointy", 16, 8)] {
        let desc = TypeDesc::runtime(wrong.0, wrong.1, wrong.2).unwrap();
        let err = DynValue::open(&name, desc, &opts()).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    }
    let arr = DynArray::open(&name, desc, &opts()).unwrap_err();
    assert!(matches!(arr, Error::KindMismatch { .. }));

    // And the other way: a runtime-created value opened by the typed API.
    let name2 = common::unique_name("dyn-value2");
    let made =
        DynValue::create(&name2, TypeDesc::of::<i64>(), &7i64.to_ne_bytes(), &opts()).unwrap();
    assert_eq!(
        made.atomic::<i64>()
            .unwrap()
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        7
    );
    assert_eq!(Value::<i64>::open(&name2).unwrap().load().unwrap(), 8);
    assert!(matches!(
        Value::<u64>::open(&name2).unwrap_err(),
        Error::TypeMismatch { .. }
    ));
}

#[test]
fn dyn_array_matches_the_typed_array() {
    let name = common::unique_name("dyn-array");
    let init: Vec<u8> = [1i32, 2, 3, 4]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    let d = DynArray::create(&name, TypeDesc::of::<i32>(), 4, Some(&init), &opts()).unwrap();
    let typed = Array::<i32>::open(&name).unwrap();
    assert_eq!(typed.to_vec().unwrap(), [1, 2, 3, 4]);
    typed.set(3, 40).unwrap();
    let mut out = [0u8; 8];
    d.read(2, &mut out).unwrap();
    assert_eq!(out[4..], 40i32.to_ne_bytes());
    assert!(matches!(
        d.read(3, &mut out),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(matches!(
        d.read(0, &mut [0u8; 3]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        d.write(usize::MAX, &out),
        Err(Error::OutOfBounds { .. })
    ));
    d.write(0, &out).unwrap();
    assert_eq!(typed.get(1).unwrap(), 40);
    assert_eq!(d.len(), 4);
    assert!(DynArray::create(&name, TypeDesc::of::<i32>(), 4, Some(&init[..3]), &opts()).is_err());
    assert!(matches!(
        Array::<u32>::open(&name).unwrap_err(),
        Error::TypeMismatch { .. }
    ));
}

fn point_bytes(p: Point) -> Vec<u8> {
    [p.x.to_ne_bytes(), p.y.to_ne_bytes()].concat()
}

fn point_of(b: &[u8]) -> Point {
    Point {
        x: f64::from_ne_bytes(b[..8].try_into().unwrap()),
        y: f64::from_ne_bytes(b[8..16].try_into().unwrap()),
    }
}

#[test]
fn dyn_queue_and_typed_queue_share_one_ring() {
    let name = common::unique_name("dynq");
    let desc = TypeDesc::runtime("point", 16, 8).unwrap();
    let typed = Queue::<Point>::create(&name, 3).unwrap();
    let q = DynQueue::open(&name, Kind::Queue, desc, &opts()).unwrap();
    assert_eq!((q.capacity(), q.len(), q.kind()), (3, 0, Kind::Queue));

    q.put(&point_bytes(Point { x: 1.0, y: 2.0 }), None).unwrap();
    typed.put(Point { x: 3.0, y: 4.0 }).unwrap();
    assert_eq!(typed.get().unwrap(), Point { x: 1.0, y: 2.0 });
    let mut out = [0u8; 16];
    q.get(&mut out, Some(Duration::ZERO)).unwrap();
    assert_eq!(point_of(&out), Point { x: 3.0, y: 4.0 });

    // Batches, in order; a full queue takes what fits.
    let batch: Vec<u8> = (0..4)
        .flat_map(|i| {
            point_bytes(Point {
                x: i as f64,
                y: 0.0,
            })
        })
        .collect();
    assert_eq!(q.try_put_many(&batch).unwrap(), 3);
    assert!(matches!(q.try_put(&batch[..16]), Err(Error::WouldBlock)));
    assert!(matches!(
        q.put(&batch[..16], Some(Duration::from_millis(5))),
        Err(Error::Timeout(_))
    ));
    let mut many = [0u8; 16 * 5];
    assert_eq!(q.try_get_many(&mut many).unwrap(), 3);
    assert_eq!(point_of(&many[32..48]).x, 2.0);
    assert!(matches!(q.try_get(&mut out), Err(Error::WouldBlock)));
    assert!(matches!(
        q.get_many(&mut many, Some(Duration::from_millis(5))),
        Err(Error::Timeout(_))
    ));
    // put_many waits for room: a consumer thread drains.
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..4 {
                assert_eq!(typed.get().unwrap().x, i as f64);
            }
        });
        q.put_many(&batch, None).unwrap();
    });

    // Wrong lengths change nothing.
    assert!(matches!(
        q.put(&[0u8; 15], None),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        q.put_many(&[0u8; 17], None),
        Err((0, Error::InvalidArgument(_)))
    ));
    assert!(matches!(
        q.try_get(&mut [0u8; 8]),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(q.len(), 0);

    // A plain queue has no join.
    assert!(matches!(q.task_done(), Err(Error::KindMismatch { .. })));
    assert!(matches!(q.join(None), Err(Error::KindMismatch { .. })));

    // Close: puts fail, gets drain then report Closed.
    typed.put(Point { x: 9.0, y: 9.0 }).unwrap();
    q.close();
    assert!(typed.is_closed());
    assert!(matches!(q.put(&batch[..16], None), Err(Error::Closed)));
    assert!(matches!(q.put_many(&batch, None), Err((0, Error::Closed))));
    assert!(matches!(q.try_put_many(&batch), Err(Error::Closed)));
    assert_eq!(q.get_many(&mut many, None).unwrap(), 1);
    assert!(matches!(q.get(&mut out, None), Err(Error::Closed)));
    assert!(matches!(q.try_get(&mut out), Err(Error::Closed)));
}

#[test]
fn dyn_queue_checks_type_and_kind_and_joins() {
    let name = common::unique_name("dynjq");
    let u32_desc = TypeDesc::of::<u32>();
    let q = DynQueue::create(&name, Kind::JoinableQueue, u32_desc, 4, &opts()).unwrap();
    assert!(matches!(
        DynQueue::open(&name, Kind::JoinableQueue, TypeDesc::of::<i32>(), &opts()),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        DynQueue::open(&name, Kind::Queue, u32_desc, &opts()),
        Err(Error::KindMismatch { .. })
    ));
    assert!(matches!(
        DynQueue::create(
            &common::unique_name("dynq-kind"),
            Kind::Mutex,
            u32_desc,
            4,
            &opts()
        ),
        Err(Error::InvalidArgument(_))
    ));
    let typed = JoinableQueue::<u32>::open(&name).unwrap();
    q.put(&5u32.to_ne_bytes(), None).unwrap();
    assert_eq!(q.unfinished().unwrap(), 1);
    assert!(matches!(
        q.join(Some(Duration::from_millis(5))),
        Err(Error::Timeout(_))
    ));
    assert_eq!(typed.get().unwrap(), 5);
    q.task_done().unwrap();
    q.join(None).unwrap();
    assert!(matches!(q.task_done(), Err(Error::InvalidArgument(_))));
    let again =
        DynQueue::open_or_create(&name, Kind::JoinableQueue, u32_desc, 99, &opts()).unwrap();
    assert_eq!(again.capacity(), 4);
    assert_eq!(q.snapshot().unfinished, Some(0));
}
