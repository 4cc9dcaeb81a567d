//! The shared dict against its peers, in one run:
//! - Python's `Manager().dict()` used from another process (benches/python/
//!   manager_dict.py, run when `python3` is on the PATH): every access is a round trip
//!   to the manager's server process;
//! - `std::collections::HashMap` behind a `std::sync::Mutex` in one process (the floor:
//!   what a shared table costs when nothing is shared between processes).
//!
//! Workload (the same for all): 1000 keys `"key-<i>"` with 8-byte values, present
//! before timing; `get` reads them in turn, `insert` replaces their values in turn (so
//! shmkit's arena fills with old records and compacts itself, included in the
//! figure). Also the typed form, `Dict<u64, u64>` against `HashMap<u64, u64>`.
//! Each shmkit/Rust figure is the median of 9 rounds of 200,000 operations; each
//! round runs every case in turn, so load from other processes hits them alike.
//!
//! Run: `cargo bench --bench dict`
//! (`SHMKIT_BENCH_PY_OPS` sets the Python operation count, default 20,000.)

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Instant;

use shmkit::{ByteDict, Dict};

const KEYS: usize = 1000;
const OPS: usize = 200_000;
const RUNS: usize = 9;

/// Median ns per operation of each closure: `RUNS` rounds, each running every closure
/// for `OPS` calls in turn, so that a noisy neighbour slows the peers alike.
fn time_all(fs: &mut [&mut dyn FnMut(usize)]) -> Vec<f64> {
    for f in fs.iter_mut() {
        for i in 0..OPS / 10 {
            f(i);
        }
    }
    let mut runs = vec![Vec::new(); fs.len()];
    for _ in 0..RUNS {
        for (f, r) in fs.iter_mut().zip(&mut runs) {
            let t = Instant::now();
            for i in 0..OPS {
                f(i);
            }
            r.push(t.elapsed().as_nanos() as f64 / OPS as f64);
        }
    }
    runs.into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[RUNS / 2]
        })
        .collect()
}

fn python_manager() -> Option<(f64, f64)> {
    let n = std::env::var("SHMKIT_BENCH_PY_OPS").unwrap_or_else(|_| "20000".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/manager_dict.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, &n])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> Option<f64> {
        let at = line.find(&format!("\"{k}\": "))? + k.len() + 4;
        line[at..].split([',', '}']).next()?.trim().parse().ok()
    };
    Some((field("get_ns")?, field("insert_ns")?))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list; nothing to list.
    }
    let tag = std::process::id();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key-{i}")).collect();

    // shmkit ByteDict (opened by name through a second handle, as another process would).
    let name = format!("bench-dict-{tag}");
    let owner = ByteDict::create(&name, 2 * KEYS, 64 * KEYS).unwrap();
    for k in &keys {
        owner.insert(k, b"value-00").unwrap();
    }
    let d = ByteDict::open(&name).unwrap();
    // std HashMap behind a Mutex, one process.
    let m: Mutex<HashMap<Vec<u8>, Vec<u8>>> = Mutex::new(
        keys.iter()
            .map(|k| (k.clone().into_bytes(), b"value-00".to_vec()))
            .collect(),
    );
    // Typed: Dict<u64, u64> vs HashMap<u64, u64>.
    let tname = format!("bench-dict-typed-{tag}");
    let t = Dict::<u64, u64>::create(&tname, 2 * KEYS).unwrap();
    for k in 0..KEYS as u64 {
        t.insert(k * 7919, k).unwrap();
    }
    let tm: Mutex<HashMap<u64, u64>> =
        Mutex::new((0..KEYS as u64).map(|k| (k * 7919, k)).collect());
    let key = |i: usize| (i % KEYS) as u64 * 7919;

    let r = time_all(&mut [
        &mut |i| {
            black_box(d.get(&keys[i % KEYS]).unwrap());
        },
        &mut |i| {
            black_box(m.lock().unwrap().get(keys[i % KEYS].as_bytes()).cloned());
        },
        &mut |i| {
            let mut buf = [0u8; 16];
            black_box(d.get_into(&keys[i % KEYS], &mut buf).unwrap());
        },
        &mut |i| {
            black_box(d.insert(&keys[i % KEYS], b"value-xx").unwrap());
        },
        &mut |i| {
            black_box(
                m.lock()
                    .unwrap()
                    .insert(keys[i % KEYS].clone().into_bytes(), b"value-xx".to_vec()),
            );
        },
        &mut |i| {
            black_box(t.get(&key(i)).unwrap());
        },
        &mut |i| {
            black_box(tm.lock().unwrap().get(&key(i)).copied());
        },
        &mut |i| {
            black_box(t.insert(key(i), i as u64).unwrap());
        },
        &mut |i| {
            black_box(tm.lock().unwrap().insert(key(i), i as u64));
        },
    ]);
    let [
        sk_get,
        hm_get,
        sk_get_into,
        sk_insert,
        hm_insert,
        ty_get,
        tm_get,
        ty_insert,
        tm_insert,
    ] = r[..]
    else {
        unreachable!()
    };

    let py = python_manager();

    println!("dict benchmark: ns per operation (median of {RUNS} x {OPS})");
    println!("{:<44} {:>10} {:>10}", "", "get", "insert");
    let row = |what: &str, g: f64, i: f64| println!("{what:<44} {g:>10.1} {i:>10.1}");
    row(
        "shmkit ByteDict (string keys, 8-byte values)",
        sk_get,
        sk_insert,
    );
    println!(
        "{:<44} {:>10.1}",
        "shmkit ByteDict get_into (no allocation)", sk_get_into
    );
    row(
        "std HashMap<Vec<u8>, Vec<u8>> in a Mutex",
        hm_get,
        hm_insert,
    );
    row("shmkit Dict<u64, u64>", ty_get, ty_insert);
    row("std HashMap<u64, u64> in a Mutex", tm_get, tm_insert);
    match py {
        Some((g, i)) => row("Python Manager().dict() from another process", g, i),
        None => println!("Python Manager().dict(): skipped (no python3)"),
    }
    println!();
    println!("ratios (shmkit / in-process HashMap; target <= 3):");
    println!(
        "  ByteDict get {:.2}  insert {:.2}",
        sk_get / hm_get,
        sk_insert / hm_insert
    );
    println!(
        "  Dict<u64,u64> get {:.2}  insert {:.2}",
        ty_get / tm_get,
        ty_insert / tm_insert
    );
    if let Some((g, i)) = py {
        println!("speed-up over Manager().dict() (target >= 100):");
        println!(
            "  ByteDict get {:.0}x  insert {:.0}x",
            g / sk_get,
            i / sk_insert
        );
    }
}
