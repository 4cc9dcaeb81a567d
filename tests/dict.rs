//! The dict across real processes: the seed scenario (two children insert their pid,
//! the parent sees all three), 4 processes × 50,000 random operations checked against
//! a model replayed from their logs, and a process killed while holding the lock.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Duration;

use shmkit::{ByteDict, Dict, Error, Value};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn seed_two_children_and_the_parent_share_a_dict() {
    const TEST: &str = "seed_two_children_and_the_parent_share_a_dict";
    if let Some(child) = common::child_role() {
        let d = ByteDict::open(child.arg(0)).unwrap();
        let pid = std::process::id();
        d.insert(
            format!("child-{}", child.arg(1)),
            format!("I am process {pid}"),
        )
        .unwrap();
        return;
    }
    let name = common::unique_name("dict-seed");
    let d = ByteDict::create(&name, 16, 1024).unwrap();
    let kids: Vec<_> = (0..2)
        .map(|i| common::spawn_child(TEST, "inserter", &[&name, &i.to_string()]))
        .collect();
    let pids: Vec<u32> = kids.iter().map(|k| k.id()).collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    d.insert("parent", format!("I am process {}", std::process::id()))
        .unwrap();
    let mut items = d.items().unwrap();
    items.sort();
    let want = vec![
        (
            b"child-0".to_vec(),
            format!("I am process {}", pids[0]).into_bytes(),
        ),
        (
            b"child-1".to_vec(),
            format!("I am process {}", pids[1]).into_bytes(),
        ),
        (
            b"parent".to_vec(),
            format!("I am process {}", std::process::id()).into_bytes(),
        ),
    ];
    assert_eq!(items, want);
    drop(d);
    assert!(common::leftovers().iter().all(|n| !n.ends_with(&name)));
}

const PROCS: usize = 4;
const OPS: usize = 50_000;
const CAP: usize = 48;
const MAX_BYTES: usize = 48 * 16;
const KEYS: u64 = 64;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn opt(v: &Option<Vec<u8>>) -> String {
    v.as_ref().map_or("-".into(), |b| format!("={}", hex(b)))
}

fn res(r: Result<Option<Vec<u8>>, Error>) -> String {
    match r {
        Ok(v) => opt(&v),
        Err(Error::Full(_)) => "full".into(),
        Err(e) => panic!("unexpected {e}"),
    }
}

/// Child: `OPS` random operations, each logged under the dict's lock with a sequence
/// number taken under that lock, so the log order is the lock order.
fn worker(child: &common::ChildRole) {
    let d = ByteDict::open(child.arg(0)).unwrap();
    let seq = Value::<u64>::open(child.arg(1)).unwrap();
    let me: u64 = child.arg_parse(3);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (me + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let mut log = BufWriter::new(std::fs::File::create(child.arg(2)).unwrap());
    for _ in 0..OPS {
        let r = rng.next();
        let key = format!("key{}", r % KEYS);
        let value = vec![(r >> 8) as u8; ((r >> 16) % 24) as usize];
        let mut g = d.lock().unwrap();
        let n = seq.fetch_add(1);
        let line = match (r >> 32) % 8 {
            0..=2 => format!(
                "{n} ins {key} {} {}",
                hex(&value),
                res(g.insert(&key, &value))
            ),
            3 | 4 => format!("{n} rem {key} - {}", res(g.remove(&key))),
            5 => format!("{n} get {key} - {}", res(g.get(&key))),
            6 => {
                // Append a byte; drop the entry when it grows past 20 bytes.
                let mut seen = None;
                let r = g.update(&key, |v| {
                    seen = v.clone();
                    *v = match v.take() {
                        Some(mut b) if b.len() < 20 => {
                            b.push(me as u8);
                            Some(b)
                        }
                        Some(_) => None,
                        None => Some(vec![me as u8]),
                    };
                });
                format!("{n} upd {key} {me} {}", res(r.map(|()| seen)))
            }
            _ => format!(
                "{n} goi {key} {} {}",
                hex(&value),
                res(g.get_or_insert(&key, &value).map(Some))
            ),
        };
        drop(g);
        writeln!(log, "{line}").unwrap();
    }
    log.flush().unwrap();
}

struct Model {
    m: HashMap<Vec<u8>, Vec<u8>>,
}

impl Model {
    fn live(&self) -> usize {
        self.m.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
    fn fits(&self, key: &[u8], value: &[u8]) -> bool {
        let old = self.m.get(key);
        let live = self.live() - old.map_or(0, |v| key.len() + v.len());
        (old.is_some() || self.m.len() < CAP) && live + key.len() + value.len() <= MAX_BYTES
    }
    fn insert(&mut self, key: &[u8], value: &[u8]) -> String {
        if !self.fits(key, value) {
            return "full".into();
        }
        opt(&self.m.insert(key.to_vec(), value.to_vec()))
    }
}

#[test]
fn four_processes_random_ops_match_a_model_replayed_from_their_logs() {
    const TEST: &str = "four_processes_random_ops_match_a_model_replayed_from_their_logs";
    if let Some(child) = common::child_role() {
        return worker(&child);
    }
    let name = common::unique_name("dict-mp");
    let seq_name = common::unique_name("dict-mp-seq");
    let d = ByteDict::create(&name, CAP, MAX_BYTES).unwrap();
    let seq = Value::<u64>::create(&seq_name, 0).unwrap();
    let dir = std::env::temp_dir();
    let logs: Vec<String> = (0..PROCS)
        .map(|i| {
            dir.join(format!("{name}-log{i}"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let kids: Vec<_> = (0..PROCS)
        .map(|i| {
            common::spawn_child(
                TEST,
                "worker",
                &[&name, &seq_name, &logs[i], &i.to_string()],
            )
        })
        .collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    let mut lines: Vec<(u64, String)> = Vec::new();
    for path in &logs {
        for line in BufReader::new(std::fs::File::open(path).unwrap()).lines() {
            let line = line.unwrap();
            let n = line.split(' ').next().unwrap().parse().unwrap();
            lines.push((n, line));
        }
        std::fs::remove_file(path).unwrap();
    }
    lines.sort();
    assert_eq!(lines.len(), PROCS * OPS);
    assert!(lines.iter().enumerate().all(|(i, (n, _))| *n == i as u64));
    assert_eq!(seq.atomic_load(), (PROCS * OPS) as u64);
    let mut model = Model { m: HashMap::new() };
    let mut full = 0;
    for (_, line) in &lines {
        let f: Vec<&str> = line.split(' ').collect();
        let (op, key, arg, seen) = (f[1], f[2].as_bytes(), f[3], f[4]);
        let want = match op {
            "ins" => model.insert(key, &unhex(arg)),
            "rem" => opt(&model.m.remove(key)),
            "get" => opt(&model.m.get(key).cloned()),
            "upd" => {
                let me: u8 = arg.parse().unwrap();
                let before = model.m.get(key).cloned();
                let after = match before.clone() {
                    Some(mut b) if b.len() < 20 => {
                        b.push(me);
                        Some(b)
                    }
                    Some(_) => None,
                    None => Some(vec![me]),
                };
                match after {
                    Some(v) if !model.fits(key, &v) => "full".into(),
                    Some(v) => {
                        model.m.insert(key.to_vec(), v);
                        opt(&before)
                    }
                    None => {
                        model.m.remove(key);
                        opt(&before)
                    }
                }
            }
            "goi" => match model.m.get(key).cloned() {
                Some(v) => opt(&Some(v)),
                None => {
                    let v = unhex(arg);
                    match model.insert(key, &v).as_str() {
                        "full" => "full".into(),
                        _ => opt(&Some(v)),
                    }
                }
            },
            other => panic!("unknown op {other}"),
        };
        if want == "full" {
            full += 1;
        }
        assert_eq!(seen, want, "at {line}");
    }
    assert!(full > 0, "the workload never reached the capacity");
    let mut items = d.items().unwrap();
    items.sort();
    let mut want: Vec<_> = model.m.into_iter().collect();
    want.sort();
    assert_eq!(items, want);
    assert!(d.verify().unwrap().counters_agree);
}

#[test]
fn a_holder_killed_with_the_lock_is_reported_and_the_table_stays_usable() {
    const TEST: &str = "a_holder_killed_with_the_lock_is_reported_and_the_table_stays_usable";
    if let Some(child) = common::child_role() {
        let d = Dict::<u64, u64>::open(child.arg(0)).unwrap();
        let flag = Value::<u32>::open(child.arg(1)).unwrap();
        let mut g = d.lock().unwrap();
        g.insert(100, 1).unwrap();
        flag.atomic_store(1);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let name = common::unique_name("dict-kill");
    let flag_name = common::unique_name("dict-kill-flag");
    let d = Dict::<u64, u64>::create(&name, 64).unwrap();
    let flag = Value::<u32>::create(&flag_name, 0).unwrap();
    for i in 0..40 {
        d.insert(i, i * i).unwrap();
    }
    let mut kid = common::spawn_child(TEST, "holder", &[&name, &flag_name]);
    common::wait_until(LIMIT, "the child to hold the lock", || {
        flag.atomic_load() == 1
    });
    common::kill9(&mut kid);
    assert!(matches!(d.get(&3), Err(Error::OwnerDied)));
    assert!(matches!(d.insert(1, 1), Err(Error::OwnerDied)));
    // Still reported: nobody recovered.
    assert!(matches!(d.len(), Err(Error::OwnerDied)));
    let check = d.verify().unwrap();
    assert_eq!(check.len, 41);
    assert!(check.counters_agree);
    assert_eq!(d.recover().unwrap(), 0);
    assert_eq!(d.get(&3).unwrap(), Some(9));
    assert_eq!(d.get(&100).unwrap(), Some(1));
    assert_eq!(d.len().unwrap(), 41);
    d.insert(200, 2).unwrap();
    assert_eq!(d.remove(&0).unwrap(), Some(0));
    assert!(d.verify().unwrap().counters_agree);
}

/// Child of the torn-read test: reads without the lock (the optimistic path) and checks
/// that every value is whole: `n` bytes, each equal to `n`.
fn torn_reader(child: &common::ChildRole) {
    let d = ByteDict::open(child.arg(0)).unwrap();
    let stop = Value::<u32>::open(child.arg(1)).unwrap();
    let mut seen = 0u64;
    let mut buf = [0u8; 64];
    while stop.atomic_load() == 0 || seen < 1000 {
        for k in 0..16 {
            let key = format!("k{k}");
            if let Some(v) = d.get(&key).unwrap() {
                assert!(v.iter().all(|&b| b as usize == v.len()), "torn value {v:?}");
                seen += 1;
            }
            if let Some(n) = d.get_into(&key, &mut buf).unwrap() {
                assert!(buf[..n].iter().all(|&b| b as usize == n), "torn value");
            }
        }
    }
}

#[test]
fn lock_free_readers_never_see_a_torn_value() {
    const TEST: &str = "lock_free_readers_never_see_a_torn_value";
    if let Some(child) = common::child_role() {
        return torn_reader(&child);
    }
    let name = common::unique_name("dict-torn");
    let stop_name = common::unique_name("dict-torn-stop");
    let d = ByteDict::create(&name, 16, 16 * 40).unwrap();
    let stop = Value::<u32>::create(&stop_name, 0).unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| common::spawn_child(TEST, "reader", &[&name, &stop_name]))
        .collect();
    // Replaces of the same length (in place), of other lengths (appends, compactions),
    // removes and clears, while the readers read.
    let mut rng = Rng(42);
    for i in 0..60_000u32 {
        let r = rng.next();
        let key = format!("k{}", r % 16);
        match (r >> 8) % 16 {
            0 => {
                d.remove(&key).unwrap();
            }
            1 if i % 1000 == 1 => d.clear().unwrap(),
            _ => {
                let n = ((r >> 16) % 40) as usize;
                d.insert(&key, vec![n as u8; n]).unwrap();
            }
        }
    }
    stop.atomic_store(1);
    for k in readers {
        common::wait_ok(k, LIMIT);
    }
    assert!(d.verify().unwrap().counters_agree);
}
