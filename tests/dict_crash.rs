//! Crash safety, step by step: a child process is SIGKILLed at every crash point of an
//! operation in turn (the hidden `crash_at_step_for_tests` hook sits between every two
//! stores of the write paths). The next user is told the owner died, the table is
//! structurally valid even before repair, and after `recover` it holds exactly the
//! entries from before the operation or exactly those from after it.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use shmkit::{ByteDict, Error, List};

const LIMIT: Duration = Duration::from_secs(60);
type Items = Vec<(Vec<u8>, Vec<u8>)>;

/// Brings a fresh dict to the state before `scenario`'s operation.
fn setup(d: &ByteDict, scenario: &str) {
    for i in 0..6 {
        d.insert(format!("k{i}"), vec![i as u8; 10]).unwrap();
    }
    d.remove("k5").unwrap();
    if scenario.ends_with("compacting") {
        // Garbage up to the brim: the next record does not fit above the top.
        let mut n = 0u8;
        loop {
            let c = d.verify().unwrap();
            if c.arena_used + 8 + 2 + 30 > c.arena_len {
                break;
            }
            // Alternate lengths: an equal-length replace is made in place.
            n = n.wrapping_add(1);
            d.insert("k0", vec![n; 10 + usize::from(n % 2)]).unwrap();
        }
    }
}

/// The operation under test.
fn apply(d: &ByteDict, scenario: &str) {
    match scenario {
        "insert" | "insert-compacting" => {
            d.insert("new", vec![9; 30]).unwrap();
        }
        "replace" | "replace-compacting" => {
            d.insert("k1", vec![8; 30]).unwrap();
        }
        "replace-same-length" => {
            // In place, through the journal.
            d.insert("k1", vec![8; 10]).unwrap();
        }
        "remove" => {
            d.remove("k2").unwrap();
        }
        "clear" => d.clear().unwrap(),
        "update" => d
            .update("k3", |v| v.as_mut().unwrap().extend_from_slice(b"more"))
            .unwrap(),
        "recover" => {
            d.recover().unwrap();
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn items(d: &ByteDict) -> Items {
    let mut v = d.items().unwrap();
    v.sort();
    v
}

#[test]
fn dict_killed_at_every_crash_point_is_before_or_after() {
    const TEST: &str = "dict_killed_at_every_crash_point_is_before_or_after";
    if let Some(child) = common::child_role() {
        let d = ByteDict::open(child.arg(0)).unwrap();
        shmkit::collections::crash_at_step_for_tests(child.arg_parse(2));
        apply(&d, child.arg(1));
        return;
    }
    for scenario in [
        "insert",
        "replace",
        "replace-same-length",
        "remove",
        "clear",
        "update",
        "insert-compacting",
        "replace-compacting",
        "recover",
    ] {
        // The expected states, from an identical dict in this process.
        let ref_name = common::unique_name("dict-crash-ref");
        let r = ByteDict::create(&ref_name, 8, 120).unwrap();
        setup(&r, scenario);
        let before = items(&r);
        apply(&r, scenario);
        let after = items(&r);
        drop(r);
        let (mut saw_before, mut saw_after) = (0, 0);
        for step in 1.. {
            assert!(step < 200, "{scenario}: the operation never completed");
            let name = common::unique_name("dict-crash");
            let d = ByteDict::create(&name, 8, 120).unwrap();
            setup(&d, scenario);
            let mut kid = common::spawn_child(TEST, "op", &[&name, scenario, &step.to_string()]);
            let status = common::wait_timeout(&mut kid, LIMIT);
            if status.success() {
                // Past the last crash point: the operation completed.
                assert_eq!(items(&d), after, "{scenario}");
                break;
            }
            assert_eq!(status.signal(), Some(9), "{scenario} step {step}: {status}");
            assert!(
                matches!(d.get("k0"), Err(Error::OwnerDied)),
                "{scenario} step {step}"
            );
            // Valid before any repair; only the counters may lag.
            let check = d.verify().unwrap();
            assert_eq!(d.recover().unwrap(), 0, "{scenario} step {step}");
            let now = items(&d);
            assert_eq!(check.len, now.len());
            if now == before {
                saw_before += 1;
            } else {
                assert_eq!(
                    now, after,
                    "{scenario} step {step}: neither before nor after"
                );
                saw_after += 1;
            }
            assert!(d.verify().unwrap().counters_agree);
            // And it goes on working.
            d.insert("later", "x").unwrap();
            assert_eq!(d.get("later").unwrap(), Some(b"x".to_vec()));
        }
        if before != after {
            assert!(
                saw_before > 0 && saw_after > 0,
                "{scenario}: {saw_before} {saw_after}"
            );
        }
    }
    assert!(
        common::leftovers()
            .iter()
            .all(|n| !n.contains("dict-crash"))
    );
}

fn list_setup(l: &List<u64>) {
    for i in 0..5 {
        l.push(i * 10).unwrap();
    }
}

fn list_apply(l: &List<u64>, scenario: &str) {
    match scenario {
        "push" => l.push(99).unwrap(),
        "pop" => {
            l.pop().unwrap();
        }
        "set" => {
            l.set(2, 77).unwrap();
        }
        "insert" => l.insert(1, 55).unwrap(),
        "remove" => {
            l.remove(1).unwrap();
        }
        "clear" => l.clear().unwrap(),
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn list_killed_at_every_crash_point_is_before_or_after() {
    const TEST: &str = "list_killed_at_every_crash_point_is_before_or_after";
    if let Some(child) = common::child_role() {
        let l = List::<u64>::open(child.arg(0)).unwrap();
        shmkit::collections::crash_at_step_for_tests(child.arg_parse(2));
        list_apply(&l, child.arg(1));
        return;
    }
    for scenario in ["push", "pop", "set", "insert", "remove", "clear"] {
        let ref_name = common::unique_name("list-crash-ref");
        let r = List::<u64>::create(&ref_name, 8).unwrap();
        list_setup(&r);
        let before = r.to_vec().unwrap();
        list_apply(&r, scenario);
        let after = r.to_vec().unwrap();
        drop(r);
        let (mut saw_before, mut saw_after) = (0, 0);
        for step in 1.. {
            assert!(step < 50, "{scenario}: the operation never completed");
            let name = common::unique_name("list-crash");
            let l = List::<u64>::create(&name, 8).unwrap();
            list_setup(&l);
            let mut kid = common::spawn_child(TEST, "op", &[&name, scenario, &step.to_string()]);
            let status = common::wait_timeout(&mut kid, LIMIT);
            if status.success() {
                assert_eq!(l.to_vec().unwrap(), after, "{scenario}");
                break;
            }
            assert_eq!(status.signal(), Some(9), "{scenario} step {step}: {status}");
            assert!(matches!(l.len(), Err(Error::OwnerDied)));
            l.recover().unwrap();
            let now = l.to_vec().unwrap();
            if now == before {
                saw_before += 1;
            } else {
                assert_eq!(
                    now, after,
                    "{scenario} step {step}: neither before nor after"
                );
                saw_after += 1;
            }
            l.push(1).unwrap();
        }
        assert!(
            saw_before > 0 && saw_after > 0,
            "{scenario}: {saw_before} {saw_after}"
        );
    }
    assert!(
        common::leftovers()
            .iter()
            .all(|n| !n.contains("list-crash"))
    );
}
