//! Dict against `std::collections::HashMap` in one process (proptest): both forms, with
//! inserts, replaces, removes, updates, clears, and tables small enough that the
//! capacity limits (`Full`, `TooLarge`) and compaction are hit all the time.

mod common;

use std::collections::HashMap;

use proptest::prelude::*;
use shmkit::{ByteDict, Dict, Error};

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Vec<u8>),
    Remove(usize),
    Get(usize),
    Update(usize, Option<Vec<u8>>),
    GetOrInsert(usize, Vec<u8>),
    Clear,
    Check,
}

/// Keys of many lengths (empty, short, one past a 64-byte chunk, long).
fn keys() -> Vec<Vec<u8>> {
    let mut k: Vec<Vec<u8>> = vec![b"".to_vec(), vec![0xff; 65], vec![7; 130]];
    k.extend((0..13).map(|i| format!("key-{i}").into_bytes()));
    k
}

fn op() -> impl Strategy<Value = Op> {
    let v = || proptest::collection::vec(any::<u8>(), 0..48);
    prop_oneof![
        6 => (0..16usize, v()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..16usize).prop_map(Op::Remove),
        2 => (0..16usize).prop_map(Op::Get),
        2 => (0..16usize, proptest::option::of(v())).prop_map(|(k, v)| Op::Update(k, v)),
        1 => (0..16usize, v()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        1 => Just(Op::Clear),
        1 => Just(Op::Check),
    ]
}

/// What the model says an insert of `key → value` does: Ok(old) or the error kind.
fn model_insert(
    m: &HashMap<Vec<u8>, Vec<u8>>,
    cap: usize,
    max: usize,
    key: &[u8],
    value: &[u8],
) -> Result<Option<Vec<u8>>, &'static str> {
    let live: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
    let payload = key.len() + value.len();
    if payload > max {
        return Err("too large");
    }
    match m.get(key) {
        Some(old) if live - key.len() - old.len() + payload > max => Err("full"),
        Some(old) => Ok(Some(old.clone())),
        None if m.len() >= cap || live + payload > max => Err("full"),
        None => Ok(None),
    }
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Full(_) => "full",
        Error::TooLarge { .. } => "too large",
        other => panic!("unexpected error {other}"),
    }
}

fn check_same(d: &ByteDict, m: &HashMap<Vec<u8>, Vec<u8>>) {
    let mut items = d.items().unwrap();
    items.sort();
    let mut want: Vec<_> = m.clone().into_iter().collect();
    want.sort();
    assert_eq!(items, want);
    let check = d.verify().unwrap();
    assert!(check.counters_agree, "{check:?}");
    assert_eq!(check.len, m.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn byte_dict_matches_hashmap(cap in 1usize..10, max in 0usize..400, ops in proptest::collection::vec(op(), 1..160)) {
        let name = common::unique_name("dict-model");
        let d = ByteDict::create(&name, cap, max).unwrap();
        let keys = keys();
        let mut m: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let key = &keys[k];
                    let want = model_insert(&m, cap, max, key, &v);
                    let got = d.insert(key, &v).map_err(|e| kind(&e));
                    prop_assert_eq!(&got, &want);
                    if got.is_ok() {
                        m.insert(key.clone(), v);
                    }
                }
                Op::Remove(k) => {
                    prop_assert_eq!(d.remove(&keys[k]).unwrap(), m.remove(&keys[k]));
                }
                Op::Get(k) => {
                    prop_assert_eq!(d.get(&keys[k]).unwrap(), m.get(&keys[k]).cloned());
                    prop_assert_eq!(d.contains_key(&keys[k]).unwrap(), m.contains_key(&keys[k]));
                }
                Op::Update(k, new) => {
                    let key = &keys[k];
                    let before = m.get(key).cloned();
                    let want = match &new {
                        Some(v) => model_insert(&m, cap, max, key, v).map(|_| before.clone()),
                        None => Ok(before.clone()),
                    };
                    let got = d
                        .update(key, |slot| {
                            let seen = slot.clone();
                            *slot = new.clone();
                            seen
                        })
                        .map_err(|e| kind(&e));
                    prop_assert_eq!(&got, &want);
                    if got.is_ok() {
                        match new {
                            Some(v) => { m.insert(key.clone(), v); }
                            None => { m.remove(key); }
                        }
                    }
                }
                Op::GetOrInsert(k, v) => {
                    let key = &keys[k];
                    let want = match m.get(key) {
                        Some(old) => Ok(old.clone()),
                        None => model_insert(&m, cap, max, key, &v).map(|_| v.clone()),
                    };
                    let got = d.get_or_insert(key, &v).map_err(|e| kind(&e));
                    prop_assert_eq!(&got, &want);
                    if got.is_ok() {
                        m.entry(key.clone()).or_insert(v);
                    }
                }
                Op::Clear => {
                    d.clear().unwrap();
                    m.clear();
                }
                Op::Check => check_same(&d, &m),
            }
            prop_assert_eq!(d.len().unwrap(), m.len());
        }
        check_same(&d, &m);
        prop_assert_eq!(d.recover().unwrap(), 0);
        check_same(&d, &m);
        drop(d);
        prop_assert!(common::leftovers().iter().all(|n| !n.ends_with(&name)));
    }

    #[test]
    fn typed_dict_matches_hashmap(cap in 1usize..12, ops in proptest::collection::vec((0u8..6, 0u32..20, any::<u64>()), 1..200)) {
        let name = common::unique_name("dict-typed-model");
        let d = Dict::<u32, u64>::create(&name, cap).unwrap();
        let mut m: HashMap<u32, u64> = HashMap::new();
        for (op, k, v) in ops {
            match op {
                0 | 1 => {
                    let full = !m.contains_key(&k) && m.len() >= cap;
                    match d.insert(k, v) {
                        Ok(old) => {
                            prop_assert!(!full);
                            prop_assert_eq!(old, m.insert(k, v));
                        }
                        Err(Error::Full(_)) => prop_assert!(full),
                        Err(e) => panic!("{e}"),
                    }
                }
                2 => prop_assert_eq!(d.remove(&k).unwrap(), m.remove(&k)),
                3 => prop_assert_eq!(d.get(&k).unwrap(), m.get(&k).copied()),
                4 => {
                    // Add v to the value if present; a present value that ends odd is removed.
                    let r = d.update(k, |slot| {
                        if let Some(x) = slot {
                            let y = x.wrapping_add(v);
                            *slot = (y % 2 == 0).then_some(y);
                        }
                        slot.is_some()
                    }).unwrap();
                    if let Some(x) = m.get(&k).copied() {
                        let y = x.wrapping_add(v);
                        if y % 2 == 0 { m.insert(k, y); } else { m.remove(&k); }
                    }
                    prop_assert_eq!(r, m.contains_key(&k));
                }
                _ => {
                    if v % 8 == 0 {
                        d.clear().unwrap();
                        m.clear();
                    } else if m.contains_key(&k) || m.len() < cap {
                        let got = d.get_or_insert(k, v).unwrap();
                        prop_assert_eq!(got, *m.entry(k).or_insert(v));
                    }
                }
            }
            prop_assert_eq!(d.len().unwrap(), m.len());
        }
        let mut items = d.items().unwrap();
        items.sort();
        let mut want: Vec<_> = m.into_iter().collect();
        want.sort();
        prop_assert_eq!(items, want);
        prop_assert!(d.verify().unwrap().counters_agree);
    }
}

#[test]
fn serde_values_under_string_keys() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
    struct Job {
        id: u32,
        tags: Vec<String>,
        score: Option<f64>,
    }
    let name = common::unique_name("dict-serde");
    let d = ByteDict::create(&name, 16, 4096).unwrap();
    let job = Job {
        id: 7,
        tags: vec!["a".into(), "bb".into()],
        score: Some(0.5),
    };
    assert!(!d.insert_value("job", &job).unwrap());
    d.insert_value("count", &41u64).unwrap();
    assert_eq!(d.get_value::<Job>("job").unwrap(), Some(job.clone()));
    d.update_value::<u64, _>("count", |c| *c = c.map(|n| n + 1))
        .unwrap();
    assert_eq!(d.get_value::<u64>("count").unwrap(), Some(42));
    assert!(matches!(d.get_value::<Job>("count"), Err(Error::Codec(_))));
    assert_eq!(d.remove_value::<u64>("count").unwrap(), Some(42));
    let items: Vec<(String, Job)> = d.items_values().unwrap();
    assert_eq!(items, vec![("job".to_string(), job)]);
    // Another handle (as another process would) sees the same.
    let other = ByteDict::open(&name).unwrap();
    assert_eq!(other.keys().unwrap(), vec![b"job".to_vec()]);
}

#[test]
fn wrong_kind_and_type_are_refused() {
    let name = common::unique_name("dict-types");
    let _d = Dict::<u32, u64>::create(&name, 4).unwrap();
    assert!(matches!(
        Dict::<u64, u32>::open(&name),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        ByteDict::open(&name),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        shmkit::Value::<u64>::open(&name),
        Err(Error::KindMismatch { .. })
    ));
    assert!(Dict::<u32, u64>::open(&name).is_ok());
    assert!(matches!(
        ByteDict::create(&common::unique_name("dict-zero"), 0, 10),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn a_long_insert_remove_workload_never_fills_up() {
    // Every key is replaced and removed many times over: without reclaiming
    // tombstones and garbage the table would be full after a few rounds.
    let name = common::unique_name("dict-churn");
    let d = ByteDict::create(&name, 32, 32 * 40).unwrap();
    let mut m = HashMap::new();
    for round in 0..2000u32 {
        let k = format!("k{}", round % 40);
        if round % 3 == 0 {
            assert_eq!(d.remove(&k).unwrap(), m.remove(k.as_bytes()));
        } else if m.len() < 32 || m.contains_key(k.as_bytes()) {
            let v = vec![round as u8; (round % 30) as usize];
            assert_eq!(d.insert(&k, &v).unwrap(), m.insert(k.into_bytes(), v));
        }
    }
    let check = d.verify().unwrap();
    assert!(check.counters_agree);
    assert_eq!(check.len, m.len());
    // The room was found by compacting, many times over.
    let snap = shmkit::inspect::inspect(&name, &Default::default()).unwrap();
    match snap.view.field("compactions") {
        Some(shmkit::inspect::Field::U64(n)) => assert!(*n > 10, "{n} compactions"),
        other => panic!("{other:?}"),
    }
}
