//! Process: ports of CPython's test_multiprocessing process semantics (exit codes,
//! join with timeout, terminate, kill, daemon children, names, active_children), with
//! both start methods. Spawned children re-run this test binary: the `task!`
//! constructors run them before libtest starts.

mod common;

use std::time::Duration;

use shmkit::process::{self, Process, Run, StartMethod, current_process};
use shmkit::{Queue, Value};

const METHODS: [StartMethod; 2] = [StartMethod::Fork, StartMethod::Spawn];
const LIMIT: Duration = Duration::from_secs(30);

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn exit_with(code: i32) {
    std::process::exit(code);
}

fn panic_with(msg: String) {
    panic!("{msg}");
}

fn sleep_forever(_: ()) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Whether `pid` is gone or a zombie (a dead orphan whose reaper has not run yet).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The segments among `names` still in /dev/shm (other tests of this binary run at the
/// same time, so only this test's own names are checked).
fn leftovers_of(names: &[&str]) -> Vec<String> {
    common::leftovers()
        .into_iter()
        .filter(|l| names.iter().any(|n| l.ends_with(n)))
        .collect()
}

/// Whether `pid` exists at all (a zombie counts): false once it has been reaped.
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn exitcode_normal_exit_n_and_panic_with_both_methods() {
    for m in METHODS {
        let ok = Process::task(shmkit::task!(sleep_ms), 0)
            .start_method(m)
            .start()
            .unwrap();
        assert_eq!(ok.join().unwrap(), 0, "{m:?}");
        assert_eq!(ok.exitcode(), Some(0));
        assert!(!ok.is_alive());
        assert_eq!(ok.panic_message(), None);

        let three = Process::task(shmkit::task!(exit_with), 3)
            .start_method(m)
            .start()
            .unwrap();
        assert_eq!(three.join().unwrap(), 3, "{m:?}");

        let boom = Process::task(shmkit::task!(panic_with), "boom 42".to_string())
            .start_method(m)
            .start()
            .unwrap();
        assert_eq!(boom.join().unwrap(), 1, "{m:?}");
        let msg = boom.panic_message().expect("the panic is reported");
        assert!(msg.contains("boom 42"), "{m:?}: {msg}");
    }
    // The closure form (fork only).
    let p = Process::new(|| std::process::exit(7)).start().unwrap();
    assert_eq!(p.join().unwrap(), 7);
    let p = Process::new(|| panic!("closure panic")).start().unwrap();
    assert_eq!(p.join().unwrap(), 1);
    assert!(p.panic_message().unwrap().contains("closure panic"));
}

#[test]
fn terminate_gives_minus_15_and_kill_minus_9_with_both_methods() {
    for m in METHODS {
        let p = Process::task(shmkit::task!(sleep_forever), ())
            .start_method(m)
            .start()
            .unwrap();
        assert_eq!(p.exitcode(), None);
        assert!(p.is_alive());
        p.terminate().unwrap();
        assert_eq!(p.join().unwrap(), -15, "{m:?}");
        assert_eq!(p.exitcode(), Some(-15));
        // Signalling a reaped child does nothing (its pid may be reused).
        p.terminate().unwrap();
        p.kill().unwrap();

        let p = Process::task(shmkit::task!(sleep_forever), ())
            .start_method(m)
            .start()
            .unwrap();
        p.kill().unwrap();
        assert_eq!(p.join().unwrap(), -9, "{m:?}");
    }
}

#[test]
fn join_timeout_on_a_sleeping_child_returns_with_the_child_alive() {
    for m in METHODS {
        let p = Process::task(shmkit::task!(sleep_forever), ())
            .start_method(m)
            .start()
            .unwrap();
        let t = std::time::Instant::now();
        assert_eq!(p.join_timeout(Duration::from_millis(50)).unwrap(), None);
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert!(p.is_alive(), "{m:?}");
        assert_eq!(p.exitcode(), None);
        // CPython's test: terminate, then join.
        p.terminate().unwrap();
        assert_eq!(p.join_timeout(LIMIT).unwrap(), Some(-15));
        assert!(!p.is_alive());
    }
}

#[test]
fn a_closure_cannot_be_spawned() {
    let err = Process::new(|| {})
        .start_method(StartMethod::Spawn)
        .start()
        .unwrap_err();
    assert!(matches!(err, shmkit::Error::InvalidArgument(_)), "{err}");
}

fn report_identity(names: String) {
    let me = current_process();
    let q = shmkit::MessageQueue::open(&names).unwrap();
    q.put(&(me.pid, me.name, me.parent_pid)).unwrap();
}

#[test]
fn names_pids_and_current_process_in_the_child() {
    let name = common::unique_name("identity");
    let q = shmkit::MessageQueue::create(&name, 4096, 1024).unwrap();
    for m in METHODS {
        let p = Process::task(shmkit::task!(report_identity), name.clone())
            .start_method(m)
            .start()
            .unwrap();
        assert!(p.name().starts_with("Process-"), "{}", p.name());
        let (pid, child_name, ppid): (u32, String, u32) = q.get_timeout(LIMIT).unwrap();
        assert_eq!(pid, p.pid());
        assert_eq!(child_name, p.name());
        assert_eq!(ppid, std::process::id());
        assert_eq!(p.join().unwrap(), 0);

        let p = Process::task(shmkit::task!(report_identity), name.clone())
            .name("worker-7")
            .start_method(m)
            .start()
            .unwrap();
        let (_, child_name, _): (u32, String, u32) = q.get_timeout(LIMIT).unwrap();
        assert_eq!(child_name, "worker-7");
        assert_eq!(p.join().unwrap(), 0);
    }
    // A grandchild is named after its parent, as in Python.
    let p = Process::new(|| {
        let g = Process::task(shmkit::task!(report_identity), name.clone())
            .start()
            .unwrap();
        assert_eq!(g.join().unwrap(), 0);
    })
    .name("Parent")
    .start()
    .unwrap();
    let (_, grandchild, _): (u32, String, u32) = q.get_timeout(LIMIT).unwrap();
    assert_eq!(grandchild, "Parent:1");
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(current_process().name, "MainProcess");
    drop(q);
    assert_eq!(leftovers_of(&[&name]), Vec::<String>::new());
}

#[test]
fn data_created_before_fork_is_shared_and_named_data_opens_in_spawned_children() {
    // Fork: an anonymous value and a named queue made before start() work in the child.
    let counter = Value::<u64>::anonymous(0).unwrap();
    let qname = common::unique_name("fork-queue");
    let queue = Queue::<u32>::create(&qname, 16).unwrap();
    let mut plain = vec![1, 2, 3];
    let p = Process::new(|| {
        counter.fetch_add(10);
        queue.put(99).unwrap();
        plain.push(4); // the child's own copy
        assert_eq!(plain.len(), 4);
    })
    .start()
    .unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(counter.load().unwrap(), 10);
    assert_eq!(queue.get_timeout(LIMIT).unwrap(), 99);
    plain.push(5);
    assert_eq!(plain, [1, 2, 3, 5], "memory is not shared unless asked for");

    // Spawn: the child opens the named value by name.
    let vname = common::unique_name("spawn-value");
    let v = Value::<u64>::create(&vname, 1).unwrap();
    let p = Process::task(shmkit::task!(add_to_named), vname.clone())
        .start_method(StartMethod::Spawn)
        .start()
        .unwrap();
    assert_eq!(p.join().unwrap(), 0);
    assert_eq!(v.load().unwrap(), 101);
    drop((queue, v));
    assert_eq!(leftovers_of(&[&qname, &vname]), Vec::<String>::new());
}

fn add_to_named(name: String) {
    Value::<u64>::open(&name).unwrap().fetch_add(100);
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Adder {
    value: String,
    amount: u64,
}

impl Run for Adder {
    fn run(&mut self) {
        Value::<u64>::open(&self.value)
            .unwrap()
            .fetch_add(self.amount);
    }
}

#[test]
fn the_run_trait_works_with_both_methods() {
    let name = common::unique_name("run-trait");
    let v = Value::<u64>::create(&name, 0).unwrap();
    let forked = Process::from_run(Adder {
        value: name.clone(),
        amount: 1,
    })
    .start()
    .unwrap();
    let spawned = Process::task(
        shmkit::task!(process::run_worker::<Adder>),
        Adder {
            value: name.clone(),
            amount: 10,
        },
    )
    .start_method(StartMethod::Spawn)
    .start()
    .unwrap();
    assert_eq!(forked.join().unwrap(), 0);
    assert_eq!(spawned.join().unwrap(), 0);
    assert_eq!(v.load().unwrap(), 11);
}

#[test]
fn active_children_lists_running_children_only() {
    let p = Process::task(shmkit::task!(sleep_forever), ())
        .name("lister")
        .daemon(true)
        .start()
        .unwrap();
    let listed = process::active_children();
    let me = listed
        .iter()
        .find(|c| c.pid == p.pid())
        .expect("the running child is listed");
    assert_eq!(me.name, "lister");
    assert!(me.daemon);
    p.kill().unwrap();
    p.join().unwrap();
    assert!(process::active_children().iter().all(|c| c.pid != p.pid()));
}

#[test]
fn no_zombies_after_join_or_drop() {
    for m in METHODS {
        // Joined: reaped at once.
        let p = Process::task(shmkit::task!(sleep_ms), 0)
            .start_method(m)
            .start()
            .unwrap();
        let pid = p.pid();
        p.join().unwrap();
        assert!(!exists(pid), "{m:?}: joined child {pid} still in /proc");
        // Dropped after it ended: reaped by drop.
        let p = Process::task(shmkit::task!(sleep_ms), 0)
            .start_method(m)
            .start()
            .unwrap();
        let pid = p.pid();
        common::wait_until(LIMIT, "child ends", || dead(pid));
        drop(p);
        assert!(!exists(pid), "{m:?}: dropped child {pid} still in /proc");
        // Dropped while running: it keeps running and is reaped when it ends.
        let p = Process::task(shmkit::task!(sleep_ms), 100)
            .start_method(m)
            .start()
            .unwrap();
        let pid = p.pid();
        drop(p);
        assert!(exists(pid));
        common::wait_until(LIMIT, "dropped child reaped", || !exists(pid));
    }
}

#[test]
fn cpu_count_follows_the_affinity_mask() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim();
    let mut n = 0;
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => n += b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => n += 1,
        }
    }
    assert_eq!(process::cpu_count(), n);
}

#[test]
fn the_default_start_method_can_be_changed() {
    assert_eq!(process::get_start_method(), StartMethod::Fork);
    process::set_start_method(StartMethod::Spawn);
    let p = Process::task(shmkit::task!(sleep_ms), 0).start();
    process::set_start_method(StartMethod::Fork);
    let p = p.unwrap();
    assert_eq!(p.start_method(), StartMethod::Spawn);
    assert_eq!(p.join().unwrap(), 0);
}

// ---- daemon children ----

/// Child role: starts a daemon (or not) child with `method`, writes its pid into the
/// named value, then either waits to be killed or returns normally.
fn daemon_parent(role: &common::ChildRole) {
    let value = Value::<u32>::open(role.arg(0)).unwrap();
    let method = match role.arg(1) {
        "fork" => StartMethod::Fork,
        _ => StartMethod::Spawn,
    };
    let daemon = role.arg(2) == "daemon";
    let p = Process::task(shmkit::task!(sleep_forever), ())
        .daemon(daemon)
        .start_method(method)
        .start()
        .unwrap();
    value.store(p.pid()).unwrap();
    if role.arg(3) == "wait" {
        sleep_forever(());
    }
    if !daemon {
        // Leave the non-daemon child running when this process ends.
        std::mem::forget(p);
    }
    // Returning ends the test and the process normally: atexit stops daemon children.
}

#[test]
fn daemon_child_dies_with_its_parent_even_when_the_parent_is_sigkilled() {
    if let Some(role) = common::child_role() {
        daemon_parent(&role);
        return;
    }
    for method in ["fork", "spawn"] {
        for ending in ["wait", "return"] {
            let name = common::unique_name("daemon");
            let v = Value::<u32>::create(&name, 0).unwrap();
            let mut parent = common::spawn_child(
                "daemon_child_dies_with_its_parent_even_when_the_parent_is_sigkilled",
                "parent",
                &[&name, method, "daemon", ending],
            );
            common::wait_until(LIMIT, "daemon started", || v.atomic_load() != 0);
            let daemon = v.atomic_load();
            if ending == "wait" {
                assert!(!dead(daemon));
                common::kill9(&mut parent);
            } else {
                common::wait_ok(parent, LIMIT);
            }
            common::wait_until(LIMIT, "daemon child gone", || dead(daemon));
        }
    }
    // A non-daemon child outlives its SIGKILLed parent.
    let name = common::unique_name("nondaemon");
    let v = Value::<u32>::create(&name, 0).unwrap();
    let mut parent = common::spawn_child(
        "daemon_child_dies_with_its_parent_even_when_the_parent_is_sigkilled",
        "parent",
        &[&name, "fork", "plain", "wait"],
    );
    common::wait_until(LIMIT, "child started", || v.atomic_load() != 0);
    let child = v.atomic_load();
    common::kill9(&mut parent);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!dead(child), "a non-daemon child keeps running");
    shmkit_kill(child);
    drop(v);
    assert_eq!(leftovers_of(&[&name]), Vec::<String>::new());
}

fn shmkit_kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}
