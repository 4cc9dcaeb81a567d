//! Value<T> and Array<T> across real processes.

mod common;

use std::time::Duration;

use shmkit::{Array, Value};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn locked_increments_from_four_processes_reach_exact_total() {
    const PER_CHILD: u64 = 250_000;
    if let Some(child) = common::child_role() {
        let v = Value::<u64>::open(child.arg(0)).unwrap();
        for _ in 0..PER_CHILD {
            v.update(|n| *n += 1).unwrap();
        }
        return;
    }
    let name = common::unique_name("locked-inc");
    let v = Value::<u64>::create(&name, 0).unwrap();
    let kids: Vec<_> = (0..4)
        .map(|_| {
            common::spawn_child(
                "locked_increments_from_four_processes_reach_exact_total",
                "adder",
                &[&name],
            )
        })
        .collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    assert_eq!(v.load().unwrap(), 4 * PER_CHILD);
}

#[test]
fn fetch_add_from_four_processes_reaches_exact_total() {
    const PER_CHILD: u64 = 250_000;
    if let Some(child) = common::child_role() {
        let v = Value::<u64>::open(child.arg(0)).unwrap();
        for _ in 0..PER_CHILD {
            v.fetch_add(1);
        }
        return;
    }
    let name = common::unique_name("atomic-inc");
    let v = Value::<u64>::create(&name, 0).unwrap();
    let kids: Vec<_> = (0..4)
        .map(|_| {
            common::spawn_child(
                "fetch_add_from_four_processes_reaches_exact_total",
                "adder",
                &[&name],
            )
        })
        .collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    assert_eq!(v.atomic_load(), 4 * PER_CHILD);
}

#[test]
fn child_fills_a_million_f64_parent_reads_them() {
    const N: usize = 1_000_000;
    fn value_at(i: usize) -> f64 {
        (i as f64).sqrt() * 1.5 - 3.0
    }
    if let Some(child) = common::child_role() {
        let a = Array::<f64>::open(child.arg(0)).unwrap();
        let data: Vec<f64> = (0..N).map(value_at).collect();
        a.write(0, &data).unwrap();
        return;
    }
    let name = common::unique_name("fill");
    let a = Array::<f64>::create(&name, N).unwrap();
    assert_eq!(a.len(), N);
    common::wait_ok(
        common::spawn_child(
            "child_fills_a_million_f64_parent_reads_them",
            "filler",
            &[&name],
        ),
        LIMIT,
    );
    let got = a.to_vec().unwrap();
    assert_eq!(got.len(), N);
    for (i, x) in got.iter().enumerate() {
        assert_eq!(x.to_bits(), value_at(i).to_bits(), "element {i}");
    }
}

#[shmkit::shareable(name = "point")]
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
    tag: u32,
    _pad: u32,
}

#[test]
fn repr_c_struct_round_trips_between_processes() {
    if let Some(child) = common::child_role() {
        let v = Value::<Point>::open(child.arg(0)).unwrap();
        let mut g = v.lock().unwrap();
        assert_eq!(
            *g,
            Point {
                x: 1.0,
                y: 2.0,
                tag: 7,
                _pad: 0
            }
        );
        g.x = 10.5;
        g.y = -4.25;
        g.tag = 99;
        return;
    }
    let name = common::unique_name("point");
    let v = Value::create(
        &name,
        Point {
            x: 1.0,
            y: 2.0,
            tag: 7,
            _pad: 0,
        },
    )
    .unwrap();
    common::wait_ok(
        common::spawn_child(
            "repr_c_struct_round_trips_between_processes",
            "mover",
            &[&name],
        ),
        LIMIT,
    );
    assert_eq!(
        v.load().unwrap(),
        Point {
            x: 10.5,
            y: -4.25,
            tag: 99,
            _pad: 0
        }
    );
}

#[test]
fn value_ops_in_one_process() {
    let name = common::unique_name("ops");
    let v = Value::<i32>::create(&name, 5).unwrap();
    assert_eq!(v.fetch_add(3), 5);
    assert_eq!(v.fetch_sub(10), 8);
    assert_eq!(v.atomic_load(), -2);
    assert_eq!(v.swap(40), -2);
    assert_eq!(v.compare_exchange(40, 41), Ok(40));
    assert_eq!(v.compare_exchange(40, 42), Err(41));
    assert_eq!(v.fetch_max(100), 41);
    assert_eq!(v.fetch_min(-1), 100);
    assert_eq!(v.fetch_or(0b110), -1);
    v.atomic_store(0b1010);
    assert_eq!(v.fetch_and(0b0110), 0b1010);
    assert_eq!(v.fetch_xor(0b0011), 0b0010);
    assert_eq!(v.load().unwrap(), 0b0001);
    v.store(-7).unwrap();
    assert_eq!(v.update(|x| std::mem::replace(x, 8)).unwrap(), -7);
    assert_eq!(v.load().unwrap(), 8);

    let again = Value::<i32>::open_or_create(&name, 123).unwrap();
    assert_eq!(
        again.load().unwrap(),
        8,
        "open_or_create opens the existing value"
    );

    let anon = Value::<u16>::anonymous(9).unwrap();
    assert_eq!(anon.load().unwrap(), 9);
    assert!(anon.segment().name().is_none());
}

#[test]
fn array_ops_and_bounds() {
    let name = common::unique_name("arr");
    let a = Array::<u32>::from_slice(&name, &[1, 2, 3, 4, 5]).unwrap();
    assert_eq!(a.len(), 5);
    assert!(!a.is_empty());
    assert_eq!(a.get(4).unwrap(), 5);
    assert!(matches!(
        a.get(5),
        Err(shmkit::Error::OutOfBounds { index: 5, len: 5 })
    ));
    assert!(matches!(
        a.set(usize::MAX, 0),
        Err(shmkit::Error::OutOfBounds { .. })
    ));
    a.write(3, &[40, 50]).unwrap();
    assert!(matches!(
        a.write(4, &[1, 2]),
        Err(shmkit::Error::OutOfBounds { index: 6, len: 5 })
    ));
    let mut out = [0u32; 3];
    a.read(2, &mut out).unwrap();
    assert_eq!(out, [3, 40, 50]);
    assert!(a.read(3, &mut out).is_err());
    assert_eq!(
        a.to_vec().unwrap(),
        [1, 2, 3, 40, 50],
        "a failed write changes nothing"
    );
    {
        let mut g = a.lock().unwrap();
        g.reverse();
    }
    assert_eq!(a.to_vec().unwrap(), [50, 40, 3, 2, 1]);

    let opened = Array::<u32>::open_or_create(&name, 5).unwrap();
    assert_eq!(opened.get(0).unwrap(), 50);
    assert!(matches!(
        Array::<u32>::open_or_create(&name, 6),
        Err(shmkit::Error::InvalidArgument(_))
    ));

    let empty = Array::<f32>::anonymous(0).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_vec().unwrap(), Vec::<f32>::new());
}

#[test]
fn no_leftovers_after_drops() {
    let name = common::unique_name("drop");
    {
        let _v = Value::<u8>::create(&name, 1).unwrap();
        let _o = Value::<u8>::open(&name).unwrap();
    }
    assert!(matches!(
        Value::<u8>::open(&name),
        Err(shmkit::Error::NotFound { .. })
    ));
}
