//! `List<T>`: against `Vec` in one process (proptest), pushed to by several processes,
//! and its errors (full, out of bounds, wrong type).

mod common;

use std::time::Duration;

use proptest::prelude::*;
use shmkit::{Error, List};

#[derive(Debug, Clone)]
enum Op {
    Push(i32),
    Pop,
    Get(usize),
    Set(usize, i32),
    Insert(usize, i32),
    Remove(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<i32>().prop_map(Op::Push),
        2 => Just(Op::Pop),
        2 => (0usize..12).prop_map(Op::Get),
        2 => (0usize..12, any::<i32>()).prop_map(|(i, v)| Op::Set(i, v)),
        2 => (0usize..12, any::<i32>()).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => (0usize..12).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn list_matches_vec(cap in 1usize..10, ops in proptest::collection::vec(op(), 1..120)) {
        let name = common::unique_name("list-model");
        let l = List::<i32>::create(&name, cap).unwrap();
        let mut m: Vec<i32> = Vec::new();
        for op in ops {
            match op {
                Op::Push(v) => match l.push(v) {
                    Ok(()) => m.push(v),
                    Err(Error::Full(_)) => prop_assert_eq!(m.len(), cap),
                    Err(e) => panic!("{e}"),
                },
                Op::Pop => prop_assert_eq!(l.pop().unwrap(), m.pop()),
                Op::Get(i) => match l.get(i) {
                    Ok(v) => prop_assert_eq!(Some(&v), m.get(i)),
                    Err(Error::OutOfBounds { index, len }) => {
                        prop_assert!(i >= m.len());
                        prop_assert_eq!((index, len), (i, m.len()));
                    }
                    Err(e) => panic!("{e}"),
                },
                Op::Set(i, v) => match l.set(i, v) {
                    Ok(old) => prop_assert_eq!(std::mem::replace(&mut m[i], v), old),
                    Err(Error::OutOfBounds { .. }) => prop_assert!(i >= m.len()),
                    Err(e) => panic!("{e}"),
                },
                Op::Insert(i, v) => match l.insert(i, v) {
                    Ok(()) => m.insert(i, v),
                    Err(Error::OutOfBounds { .. }) => prop_assert!(i > m.len()),
                    Err(Error::Full(_)) => prop_assert!(i <= m.len() && m.len() == cap),
                    Err(e) => panic!("{e}"),
                },
                Op::Remove(i) => match l.remove(i) {
                    Ok(v) => prop_assert_eq!(m.remove(i), v),
                    Err(Error::OutOfBounds { .. }) => prop_assert!(i >= m.len()),
                    Err(e) => panic!("{e}"),
                },
                Op::Clear => {
                    l.clear().unwrap();
                    m.clear();
                }
            }
            prop_assert_eq!(l.len().unwrap(), m.len());
            prop_assert_eq!(l.is_empty().unwrap(), m.is_empty());
        }
        prop_assert_eq!(l.to_vec().unwrap(), m);
        prop_assert!(!l.recover().unwrap());
    }
}

#[test]
fn children_push_and_the_parent_sees_every_element() {
    const TEST: &str = "children_push_and_the_parent_sees_every_element";
    if let Some(child) = common::child_role() {
        let l = List::<u64>::open(child.arg(0)).unwrap();
        let base: u64 = child.arg_parse(1);
        for i in 0..500 {
            l.push(base + i).unwrap();
        }
        return;
    }
    let name = common::unique_name("list-mp");
    let l = List::<u64>::create(&name, 1000).unwrap();
    let kids: Vec<_> = [0u64, 10_000]
        .iter()
        .map(|b| common::spawn_child(TEST, "pusher", &[&name, &b.to_string()]))
        .collect();
    for k in kids {
        common::wait_ok(k, Duration::from_secs(60));
    }
    let v = l.to_vec().unwrap();
    assert_eq!(v.len(), 1000);
    // Each child's elements arrive in its own order.
    for base in [0u64, 10_000] {
        let mine: Vec<u64> = v
            .iter()
            .copied()
            .filter(|x| (*x >= base) && *x < base + 500)
            .collect();
        assert_eq!(mine, (base..base + 500).collect::<Vec<_>>());
    }
    assert!(matches!(l.push(1), Err(Error::Full(_))));
    assert!(matches!(
        List::<u32>::open(&name),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        List::<u64>::create(&common::unique_name("list-0"), 0),
        Err(Error::InvalidArgument(_))
    ));
}
