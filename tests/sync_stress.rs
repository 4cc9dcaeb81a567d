//! Stress across real processes: a Semaphore(2) never lets more than two inside, and a
//! Condition producer/consumer loses no wake-up over 100,000 rounds.

mod common;

use std::time::Duration;

use shmkit::{Condition, Semaphore, Value};

const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn semaphore_of_two_never_lets_three_inside_four_processes() {
    const T: &str = "semaphore_of_two_never_lets_three_inside_four_processes";
    const ROUNDS: u64 = 100_000;
    if let Some(child) = common::child_role() {
        let s = Semaphore::open(child.arg(0)).unwrap();
        let inside = Value::<u64>::open(child.arg(1)).unwrap();
        let peak = Value::<u64>::open(child.arg(2)).unwrap();
        let total = Value::<u64>::open(child.arg(3)).unwrap();
        for _ in 0..ROUNDS {
            s.acquire();
            let n = inside.fetch_add(1) + 1;
            peak.fetch_max(n);
            total.fetch_add(1);
            inside.fetch_sub(1);
            s.release().unwrap();
        }
        return;
    }
    let names: Vec<String> = ["sem", "inside", "peak", "total"]
        .iter()
        .map(|t| common::unique_name(t))
        .collect();
    let s = Semaphore::create(&names[0], 2).unwrap();
    let inside = Value::<u64>::create(&names[1], 0).unwrap();
    let peak = Value::<u64>::create(&names[2], 0).unwrap();
    let total = Value::<u64>::create(&names[3], 0).unwrap();
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let kids: Vec<_> = (0..4)
        .map(|_| common::spawn_child(T, "worker", &args))
        .collect();
    for k in kids {
        common::wait_ok(k, LIMIT);
    }
    assert!(
        peak.atomic_load() <= 2,
        "peak {} inside",
        peak.atomic_load()
    );
    assert_eq!(total.atomic_load(), 4 * ROUNDS);
    assert_eq!(inside.atomic_load(), 0);
    assert_eq!(s.value(), 2);
}

#[test]
fn condition_producer_consumer_loses_no_wakeup_over_100k_rounds() {
    const T: &str = "condition_producer_consumer_loses_no_wakeup_over_100k_rounds";
    const ROUNDS: u64 = 100_000;
    if let Some(child) = common::child_role() {
        let c = Condition::open(child.arg(0)).unwrap();
        let slot = Value::<u64>::open(child.arg(1)).unwrap();
        let consumed = Value::<u64>::open(child.arg(2)).unwrap();
        match child.role.as_str() {
            "producer" => {
                for i in 1..=ROUNDS {
                    let g = c.lock().unwrap();
                    let g = c.wait_while(g, || slot.atomic_load() != 0).unwrap();
                    slot.atomic_store(i);
                    c.notify_one();
                    drop(g);
                }
            }
            "consumer" => {
                for i in 1..=ROUNDS {
                    let g = c.lock().unwrap();
                    let g = c.wait_while(g, || slot.atomic_load() == 0).unwrap();
                    assert_eq!(slot.atomic_load(), i, "items arrive in order, none skipped");
                    slot.atomic_store(0);
                    consumed.fetch_add(1);
                    c.notify_one();
                    drop(g);
                }
            }
            _ => unreachable!(),
        }
        return;
    }
    let name = common::unique_name("pc-cond");
    let sn = common::unique_name("pc-slot");
    let c = Condition::create(&name).unwrap();
    let cn = common::unique_name("pc-consumed");
    let slot = Value::<u64>::create(&sn, 0).unwrap();
    let consumed = Value::<u64>::create(&cn, 0).unwrap();
    let consumer = common::spawn_child(T, "consumer", &[&name, &sn, &cn]);
    let producer = common::spawn_child(T, "producer", &[&name, &sn, &cn]);
    common::wait_ok(producer, LIMIT);
    common::wait_ok(consumer, LIMIT);
    assert_eq!(slot.atomic_load(), 0);
    assert_eq!(consumed.atomic_load(), ROUNDS);
    assert_eq!(c.snapshot().condition.waiters, 0);
}
