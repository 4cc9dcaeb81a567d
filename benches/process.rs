//! Process and Pool benchmark: shmkit beside `std::process::Command` and Python's
//! `multiprocessing`, in the same run, printed as Markdown tables for
//! docs/BENCHMARKS.md.
//!
//! - Start + join latency of a child that returns at once: shmkit fork, shmkit spawn
//!   (re-executes this binary), the kernel's floor (a bare `fork`, `_exit`, `waitpid`),
//!   `std::process::Command` of this same binary (which exits at the top of `main`),
//!   Python's `Process` with the fork and spawn contexts.
//! - `Pool::map` of a trivial function (`x * 2`) over 100,000 integers on 2 workers,
//!   with Python's default chunk size for that case (12,500), beside Python's
//!   `Pool(2).map(f, range(100000), chunksize=12500)`; pools already started.
//!
//! Run: `cargo bench --bench process` (Python rows need `python3` on the PATH).

use std::process::Command;
use std::time::{Duration, Instant};

use shmkit::process::{Pool, PoolOptions, Process, StartMethod};

const EXIT_NOW: &str = "--bench-exit-now";
const ITEMS: u64 = 100_000;
const CHUNKSIZE: usize = 12_500;

fn nothing(_: ()) {}

fn double(x: u64) -> u64 {
    x * 2
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_n(n: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// Medians of `a` and `b`, timed `n` times each in alternation.
fn time_pair(n: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    a();
    b();
    let (mut ta, mut tb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let t = Instant::now();
        a();
        ta.push(t.elapsed());
        let t = Instant::now();
        b();
        tb.push(t.elapsed());
    }
    (median(ta), median(tb))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct PythonFigures {
    version: String,
    fork: f64,
    spawn: f64,
    pool_map: f64,
}

fn python() -> Option<PythonFigures> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/python/process_bench.py"
    );
    let out = Command::new("python3")
        .args([
            script,
            "100",
            "10",
            &ITEMS.to_string(),
            &CHUNKSIZE.to_string(),
            "10",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // A flat JSON object of numbers and one string: no JSON crate needed.
    let field = |key: &str| -> Option<String> {
        let at = text.find(&format!("\"{key}\": "))? + key.len() + 4;
        let rest = &text[at..];
        let end = rest.find([',', '}'])?;
        Some(rest[..end].trim().trim_matches('"').to_string())
    };
    Some(PythonFigures {
        version: field("python")?,
        fork: field("fork_start_join_us")?.parse().ok()?,
        spawn: field("spawn_start_join_us")?.parse().ok()?,
        pool_map: field("pool_map_us")?.parse().ok()?,
    })
}

fn main() {
    shmkit::process::init();
    if std::env::args().nth(1).as_deref() == Some(EXIT_NOW) {
        return;
    }
    // `cargo bench` passes `--bench`; nothing else is expected.
    let spawn = time_n(50, || {
        let p = Process::task(shmkit::task!(nothing), ())
            .start_method(StartMethod::Spawn)
            .start()
            .unwrap();
        assert_eq!(p.join().unwrap(), 0);
    });
    // shmkit's fork beside the kernel's floor (fork, `_exit` at once in the child, the
    // parent's blocking `waitpid`, nothing else), alternating so that both see the same
    // machine.
    let (fork, raw_fork) = time_pair(
        200,
        || {
            let p = Process::new(|| {}).start().unwrap();
            assert_eq!(p.join().unwrap(), 0);
        },
        || {
            // SAFETY: the child calls only `_exit` (async-signal-safe) and never
            // returns; the parent reaps it with `waitpid` on its own pid.
            unsafe {
                let pid = libc::fork();
                assert!(pid >= 0, "fork failed");
                if pid == 0 {
                    libc::_exit(0);
                }
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            }
        },
    );
    let exe = std::env::current_exe().unwrap();
    let command = time_n(50, || {
        let s = Command::new(&exe).arg(EXIT_NOW).status().unwrap();
        assert!(s.success());
    });

    let items: Vec<u64> = (0..ITEMS).collect();
    let want: Vec<u64> = items.iter().map(|&x| double(x)).collect();
    let mut maps = Vec::new();
    for method in [StartMethod::Fork, StartMethod::Spawn] {
        let pool =
            Pool::with_options(PoolOptions::new().processes(2).start_method(method)).unwrap();
        let t = time_n(20, || {
            let got = pool
                .map_chunked(shmkit::task!(double), items.iter().copied(), CHUNKSIZE)
                .unwrap();
            assert_eq!(got.len(), want.len());
        });
        assert_eq!(
            pool.map_chunked(shmkit::task!(double), items.iter().copied(), CHUNKSIZE)
                .unwrap(),
            want
        );
        maps.push((method, t));
    }

    let py = python();
    let ratio = |ours: Duration, theirs: Option<f64>| match theirs {
        Some(t) => format!("{:.1}×", t / us(ours)),
        None => "n/a".into(),
    };
    println!("### Process start + join (median)\n");
    println!("| how | time | Python's time ÷ this |");
    println!("|---|---:|---:|");
    println!(
        "| shmkit `Process`, fork | {:.0} µs | {} (vs Python fork) |",
        us(fork),
        ratio(fork, py.as_ref().map(|p| p.fork))
    );
    println!(
        "| shmkit `Process`, spawn | {:.0} µs | {} (vs Python spawn) |",
        us(spawn),
        ratio(spawn, py.as_ref().map(|p| p.spawn))
    );
    println!(
        "| floor: `fork` + `_exit` + blocking `waitpid`, nothing else | {:.0} µs | {} (vs Python fork) |",
        us(raw_fork),
        ratio(raw_fork, py.as_ref().map(|p| p.fork))
    );
    println!(
        "| `std::process::Command` of the same binary | {:.0} µs | |",
        us(command)
    );
    if let Some(p) = &py {
        println!(
            "| Python {} `Process`, fork | {:.0} µs | 1.0× |",
            p.version, p.fork
        );
        println!(
            "| Python {} `Process`, spawn | {:.0} µs | 1.0× |",
            p.version, p.spawn
        );
    }
    println!(
        "\nshmkit fork ÷ the fork floor: {:.2}; shmkit spawn ÷ `Command` of the same binary: {:.2}",
        us(fork) / us(raw_fork),
        us(spawn) / us(command)
    );
    println!("\n### Pool map, {ITEMS} trivial tasks, 2 workers, chunksize {CHUNKSIZE} (median)\n");
    println!("| pool | time | Python's time ÷ this |");
    println!("|---|---:|---:|");
    for (method, t) in &maps {
        println!(
            "| shmkit `Pool::map_chunked`, {method:?} workers | {:.2} ms | {} |",
            us(*t) / 1000.0,
            ratio(*t, py.as_ref().map(|p| p.pool_map))
        );
    }
    if let Some(p) = &py {
        println!(
            "| Python {} `Pool.map`, fork workers | {:.2} ms | 1.0× |",
            p.version,
            p.pool_map / 1000.0
        );
    } else {
        println!("\n(python3 not found: no Python rows)");
    }
}
