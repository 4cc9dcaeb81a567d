//! DynValue / DynArray (the runtime-typed layer under the C API) against the typed
//! Value<T> / Array<T>: same segments, same type checks.

mod common;

use shmkit::dynamic::{DynArray, DynValue};
use shmkit::{Array, Error, SegmentOptions, TypeDesc, Value};

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
