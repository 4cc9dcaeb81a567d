//! End-to-end tests: the built `shmkit` binary against segments made by the test.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value as Json;
use shmkit::inspect::{self, InspectOptions, State};
use shmkit::{Array, ByteDict, Dict, JoinableQueue, List, Mutex, Queue, SegmentOptions, Value};

fn shmkit(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shmkit"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run shmkit");
    // Read the pipes on threads so a large output cannot block the child, and bound
    // the wait: the tool must never hang.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).unwrap();
        v
    });
    let status = common::wait_timeout(&mut child, Duration::from_secs(30));
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn json(args: &[&str]) -> Json {
    let o = shmkit(args);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed invalid JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn row<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{text}"))
}

fn segment<'a>(list: &'a Json, name: &str) -> &'a Json {
    list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

fn gone(name: &str) -> bool {
    matches!(
        inspect::inspect(name, &InspectOptions::header_only()),
        Err(shmkit::Error::NotFound { .. })
    )
}

#[test]
fn list_shows_created_segments_with_their_fields() {
    let (v, a, m) = (
        common::unique_name("list-v"),
        common::unique_name("list-a"),
        common::unique_name("list-m"),
    );
    let _value = Value::<u64>::create(&v, 7).unwrap();
    let _array = Array::<f32>::create(&a, 10).unwrap();
    let _mutex = Mutex::create(&m).unwrap();
    let pid = std::process::id().to_string();

    let o = shmkit(&["list"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let r = row(&text, &v);
    assert_eq!(r[1..3], ["value", "u64"]);
    assert_eq!(r[4..6], [pid.as_str(), "alive"]);
    assert_eq!(r[7], "ready");
    assert_eq!(row(&text, &a)[1..3], ["array", "f32"]);
    assert_eq!(row(&text, &m)[1..3], ["mutex", "-"]);

    let j = json(&["list", "--json"]);
    assert_eq!(j["schema"], "shmkit-list/1");
    let s = segment(&j, &a);
    assert_eq!(s["kind"], "array");
    assert_eq!(s["type"], "f32");
    assert_eq!(s["capacity"], 10);
    assert_eq!(s["elem_size"], 4);
    assert_eq!(s["creator_pid"], std::process::id());
    assert_eq!(s["creator_alive"], true);
    assert_eq!(s["state"], "ready");
    assert_eq!(s["readable"], true);
    assert_eq!(s["object_len"], _array.segment().info().total_len);
    assert_eq!(s["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn show_of_a_locked_mutex_names_the_owner() {
    let name = common::unique_name("show-mutex");
    let m = Mutex::create(&name).unwrap();
    let pid = std::process::id();
    {
        let _g = m.lock().unwrap();
        let o = shmkit(&["show", &name]);
        assert!(o.status.success());
        let text = stdout(&o);
        assert!(text.contains("locked               yes"), "{text}");
        assert!(
            text.contains(&format!("owner_pid            {pid} (alive)")),
            "{text}"
        );
        let j = json(&["show", &name, "--json"]);
        assert_eq!(j["schema"], "shmkit-show/1");
        assert_eq!(j["view"]["available"], true);
        assert_eq!(j["view"]["fields"]["locked"], true);
        assert_eq!(j["view"]["fields"]["owner_pid"]["pid"], pid);
        assert_eq!(j["view"]["fields"]["owner_pid"]["alive"], true);
        assert_eq!(j["header"]["kind"], 4);
    }
    let j = json(&["show", &name, "--json"]);
    assert_eq!(j["view"]["fields"]["locked"], false);
    assert_eq!(j["view"]["fields"]["owner_pid"]["pid"], 0);
}

#[test]
fn show_prints_values_and_ranges() {
    let (v, a, p) = (
        common::unique_name("show-v"),
        common::unique_name("show-a"),
        common::unique_name("show-pair"),
    );
    let _v = Value::<i32>::create(&v, -7).unwrap();
    let _a = Array::<u16>::from_slice(&a, &[10, 11, 12, 13, 14]).unwrap();
    let _p = Value::<[u8; 4]>::create(&p, *b"ab\x01\xff").unwrap();

    let j = json(&["show", &v, "--json"]);
    assert_eq!(j["view"]["fields"]["value"]["values"][0], -7);
    assert_eq!(j["view"]["fields"]["lock.locked"], false);

    let j = json(&["show", &a, "--json", "--range", "2..4"]);
    assert_eq!(j["view"]["fields"]["values"]["first"], 2);
    assert_eq!(
        j["view"]["fields"]["values"]["values"],
        serde_json::json!([12, 13])
    );
    let text = stdout(&shmkit(&["show", &a]));
    assert!(text.contains("[0] 10  11  12  13  14"), "{text}");

    // Not a primitive: a hex dump, never the raw bytes.
    let j = json(&["show", &p, "--json"]);
    assert_eq!(j["view"]["fields"]["bytes"]["hex"], "616201ff");
    let text = stdout(&shmkit(&["show", &p]));
    assert!(text.contains("61 62 01 ff"), "{text}");
    assert!(!text.contains('\x01'));
}

#[test]
fn show_of_a_queue_lists_len_state_and_queued_values() {
    let name = common::unique_name("show-queue");
    let q = Queue::<u32>::create(&name, 8).unwrap();
    for v in [5, 6, 7, 8] {
        q.put(v).unwrap();
    }
    assert_eq!(q.get().unwrap(), 5);
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("len                  3"), "{text}");
    assert!(text.contains("capacity             8"), "{text}");
    assert!(text.contains("closed               no"), "{text}");
    assert!(text.contains("[0] 6  7  8"), "{text}");
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["view"]["available"], true);
    assert_eq!(f["len"], 3);
    assert_eq!(f["capacity"], 8);
    assert_eq!(f["head"], 1);
    assert_eq!(f["tail"], 4);
    assert_eq!(f["closed"], false);
    assert_eq!(f["writing"], 0);
    assert_eq!(f["scanned_slots"], 8);
    assert_eq!(f["queued"]["values"], serde_json::json!([6, 7, 8]));
    assert!(f.get("unfinished").is_none());
    // A put caught between claiming its slot and publishing (this live process).
    assert!(q.abandon_claim_for_tests(false));
    let j = json(&["show", &name, "--json"]);
    assert_eq!(j["view"]["fields"]["writing"], 1);
    assert_eq!(j["view"]["fields"]["dead_producer_slots"], 0);
    q.close();
    assert_eq!(
        json(&["show", &name, "--json"])["view"]["fields"]["closed"],
        true
    );
}

/// 64 KiB: a pooled queue's element.
#[shmkit::shareable(name = "show-frame")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Frame {
    seq: u64,
    bytes: [u8; 65528],
}

#[test]
fn show_of_a_pooled_queue_has_its_state_and_says_its_messages_are_not_shown() {
    let name = common::unique_name("show-pooled");
    let q = Queue::<Frame>::create(&name, 4).unwrap();
    for seq in 0..3 {
        let mut slot = q.reserve().unwrap();
        slot.seq = seq;
        slot.commit();
    }
    assert_eq!(q.get_ref().unwrap().seq, 0);
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["view"]["available"], true);
    assert_eq!(
        (f["len"].clone(), f["capacity"].clone()),
        (2.into(), 4.into())
    );
    assert_eq!((f["head"].clone(), f["tail"].clone()), (1.into(), 3.into()));
    assert_eq!(f["pooled"], true);
    assert_eq!(f["buffer_stride"], 65600);
    // The window starts at the head's slot (the data area is larger than the
    // window) and stops at the end of the ring: slots 1..4.
    assert_eq!(f["scanned_slots"], 3);
    assert!(f.get("queued").is_none());
    let notes = j["view"]["notes"].to_string();
    assert!(notes.contains("pooled queue"), "{notes}");
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("pooled"), "{text}");
}

#[test]
fn show_of_a_wrapped_queue_bigger_than_the_window_starts_at_the_head() {
    let name = common::unique_name("show-queue-big");
    // 1000 slots of 16 bytes: more than the default 4096-byte window.
    let q = Queue::<u64>::create(&name, 1000).unwrap();
    let mut next = 0u64;
    for _ in 0..990 {
        q.put(next).unwrap();
        next += 1;
    }
    for want in 0..985 {
        assert_eq!(q.get().unwrap(), want);
    }
    for _ in 0..10 {
        q.put(next).unwrap();
        next += 1;
    }
    // Queued now: 985..1000, wrapping from slot 985 to slot 4.
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(f["len"], 15);
    assert_eq!(j["data"]["offset"], 985 * 16);
    assert_eq!(
        f["queued"]["values"],
        serde_json::json!((985..1000).collect::<Vec<u64>>())
    );
    let j = json(&["show", &name, "--json", "--max-bytes", "32"]);
    assert_eq!(
        j["view"]["fields"]["queued"]["values"],
        serde_json::json!([985, 986])
    );
    let notes = j["view"]["notes"].to_string();
    assert!(notes.contains("2 of 15 queued"), "{notes}");
}

#[test]
fn show_of_a_joinable_queue_has_unfinished_and_a_struct_queue_a_hex_dump() {
    let name = common::unique_name("show-jq");
    let q = JoinableQueue::<i16>::create(&name, 4).unwrap();
    q.put(-1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.get().unwrap(), -1);
    let j = json(&["show", &name, "--json"]);
    assert_eq!(j["segment"]["kind"], "joinable-queue");
    assert_eq!(j["view"]["fields"]["unfinished"], 2);
    assert_eq!(j["view"]["fields"]["len"], 1);
    assert_eq!(
        j["view"]["fields"]["queued"]["values"],
        serde_json::json!([2])
    );
    q.task_done().unwrap();
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("unfinished           1"), "{text}");

    let p = common::unique_name("show-q-pair");
    let q = Queue::<[u8; 4]>::create(&p, 2).unwrap();
    q.put(*b"a\x01z!").unwrap();
    let j = json(&["show", &p, "--json"]);
    let hex = j["view"]["fields"]["bytes"]["hex"].as_str().unwrap();
    assert!(hex.contains("61017a21"), "{hex}");
    assert!(j["view"]["fields"].get("queued").is_none());
}

#[test]
fn missing_and_invalid_names_exit_1_usage_exits_2() {
    let name = common::unique_name("missing");
    let o = shmkit(&["show", &name]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert_eq!(shmkit(&["show", "bad/name"]).status.code(), Some(1));
    assert_eq!(shmkit(&["rm", &name]).status.code(), Some(1));
    assert_eq!(shmkit(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(shmkit(&["show"]).status.code(), Some(2));
    assert_eq!(shmkit(&["list", "--range", "x"]).status.code(), Some(2));
}

#[test]
fn rm_unlinks_and_watch_redraws() {
    let name = common::unique_name("rm");
    let v = Value::<u8>::create_with(&name, 3, &SegmentOptions::new().persistent(true)).unwrap();
    let o = shmkit(&["watch", &name, "--interval", "0.01", "--count", "2"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).matches("shmkit watch").count(), 2);
    let o = shmkit(&["rm", &name]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("removed {name}\n"));
    assert!(gone(&name));
    drop(v);
}

/// Child role: creates a persistent value and a persistent mutex, locks the mutex, and
/// waits to be killed.
fn creator_child(child: &common::ChildRole) {
    let keep = SegmentOptions::new().persistent(true);
    let _v = Value::<u32>::create_with(child.arg(0), 5, &keep).unwrap();
    let m = Mutex::create_with(child.arg(1), &keep).unwrap();
    let _g = m.lock().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn killed_creator_shows_dead_and_gc_removes_only_its_segments() {
    if let Some(child) = common::child_role() {
        creator_child(&child);
        return;
    }
    let (v, m, live) = (
        common::unique_name("gc-v"),
        common::unique_name("gc-m"),
        common::unique_name("gc-live"),
    );
    let mut kid = common::spawn_child(
        "killed_creator_shows_dead_and_gc_removes_only_its_segments",
        "creator",
        &[&v, &m],
    );
    let kid_pid = kid.id();
    common::wait_until(Duration::from_secs(20), "the child's mutex is held", || {
        inspect::inspect(&m, &InspectOptions::header_only())
            .is_ok_and(|s| s.state == State::Ready && s.view.field("locked").is_some())
            && json(&["show", &m, "--json"])["view"]["fields"]["locked"] == true
    });
    common::kill9(&mut kid);
    let _live = Value::<u8>::create(&live, 1).unwrap();

    let result = std::panic::catch_unwind(|| {
        let j = json(&["list", "--json"]);
        assert_eq!(segment(&j, &v)["creator_pid"], kid_pid);
        assert_eq!(segment(&j, &v)["creator_alive"], false);
        let text = stdout(&shmkit(&["list"]));
        assert_eq!(row(&text, &v)[4..6], [kid_pid.to_string().as_str(), "dead"]);

        // The kernel marked the robust lock: its holder died.
        let j = json(&["show", &m, "--json"]);
        assert_eq!(j["view"]["fields"]["owner_died"], true, "{j}");
        assert_eq!(j["view"]["fields"]["owner_pid"]["pid"], kid_pid);
        assert_eq!(j["view"]["fields"]["owner_pid"]["alive"], false);

        let dry = json(&["gc", "--dry-run", "--json", &v, &m, &live]);
        assert_eq!(dry["dry_run"], true);
        assert!(!gone(&v) && !gone(&m));

        let o = shmkit(&["gc", &v, &m, &live]);
        assert!(o.status.success());
        let text = stdout(&o);
        assert!(text.contains(&format!("removed {v}:")), "{text}");
        assert!(text.contains(&format!("removed {m}:")), "{text}");
        assert!(text.contains(&format!("kept {live}:")), "{text}");
        assert!(gone(&v) && gone(&m));
        assert!(!gone(&live));
    });
    let _ = shmkit::unlink(&v);
    let _ = shmkit::unlink(&m);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn gc_keeps_segments_that_a_live_process_maps() {
    let name = common::unique_name("gc-mapped");
    // /proc/*/maps sees our own mapping, and a mapping alone keeps a segment even when
    // its file is old and its creator looks dead.
    let v = Value::<u8>::create(&name, 1).unwrap();
    let (pids, _) = inspect::mapped_by(&name).unwrap();
    assert!(pids.contains(&std::process::id()), "{pids:?}");
    let snap = inspect::inspect(&name, &InspectOptions::header_only()).unwrap();
    let (remove, reason) = inspect::gc_verdict(&snap, &pids, u64::MAX);
    assert!(!remove, "{reason}");
    drop(v);
    assert!(gone(&name));
}

#[test]
fn corrupt_files_are_listed_with_the_reason_and_gc_waits_a_minute() {
    let name = common::unique_name("corrupt");
    let path = format!("/dev/shm/shmkit.{name}");
    std::fs::write(&path, vec![0xabu8; 300]).unwrap();
    let result = std::panic::catch_unwind(|| {
        let text = stdout(&shmkit(&["list"]));
        let r = row(&text, &name);
        assert_eq!(r[7], "corrupt", "{text}");
        assert!(text.contains("bad magic"), "{text}");
        let o = shmkit(&["show", &name]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stdout(&o).contains("problem: bad magic"));

        let o = shmkit(&["gc", &name]);
        assert!(stdout(&o).contains(&format!("kept {name}")));
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(120))
            .unwrap();
        let o = shmkit(&["gc", &name]);
        assert!(
            stdout(&o).contains(&format!("removed {name}")),
            "{}",
            stdout(&o)
        );
        assert!(gone(&name));
    });
    let _ = std::fs::remove_file(&path);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn zombie_creator_counts_as_dead() {
    if let Some(child) = common::child_role() {
        creator_child(&child);
        return;
    }
    let (v, m) = (
        common::unique_name("zombie-v"),
        common::unique_name("zombie-m"),
    );
    let mut kid = common::spawn_child("zombie_creator_counts_as_dead", "creator", &[&v, &m]);
    common::wait_until(Duration::from_secs(20), "the child's segments", || {
        inspect::inspect(&m, &InspectOptions::header_only()).is_ok_and(|s| s.state == State::Ready)
    });
    // SIGKILL without reaping: the child stays a zombie (as under an init that does
    // not reap, in a container) until `wait` below.
    kid.kill().unwrap();
    let result = std::panic::catch_unwind(|| {
        common::wait_until(Duration::from_secs(20), "creator seen dead", || {
            inspect::inspect(&v, &InspectOptions::header_only())
                .is_ok_and(|s| s.creator_alive == Some(false))
        });
        let o = shmkit(&["gc", &v, &m]);
        assert!(
            stdout(&o).contains(&format!("removed {v}:")),
            "{}",
            stdout(&o)
        );
        assert!(gone(&v) && gone(&m));
    });
    kid.wait().unwrap();
    let _ = shmkit::unlink(&v);
    let _ = shmkit::unlink(&m);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn initializing_segment_of_a_dead_creator_is_listed_and_collected() {
    if let Some(child) = common::child_role() {
        // Stops forever just before publishing `ready`.
        let opts = SegmentOptions::new().stall_before_ready(true);
        let _ = Value::<u64>::create_with(child.arg(0), 1, &opts);
        return;
    }
    let name = common::unique_name("stalled");
    let mut kid = common::spawn_child(
        "initializing_segment_of_a_dead_creator_is_listed_and_collected",
        "staller",
        &[&name],
    );
    common::wait_until(Duration::from_secs(20), "the stalled segment", || {
        inspect::inspect(&name, &InspectOptions::header_only())
            .is_ok_and(|s| s.state == State::Initializing && s.info.is_some())
    });
    common::kill9(&mut kid);
    let result = std::panic::catch_unwind(|| {
        let text = stdout(&shmkit(&["list"]));
        let r = row(&text, &name);
        assert_eq!(r[1..3], ["value", "u64"], "{text}");
        assert_eq!(r[5], "dead");
        assert_eq!(r[7], "initializing");
        assert!(text.contains("died before publishing it"), "{text}");
        let o = shmkit(&["gc", &name]);
        assert!(
            stdout(&o).contains(&format!("removed {name}: initializing segment")),
            "{}",
            stdout(&o)
        );
        assert!(gone(&name));
    });
    let _ = shmkit::unlink(&name);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn show_of_a_message_queue_and_a_pipe() {
    let name = common::unique_name("show-mq");
    let q = shmkit::MessageQueue::create(&name, 1000, 100).unwrap();
    q.put_bytes(b"first").unwrap();
    q.put_bytes(b"hello").unwrap();
    q.put_bytes(b"").unwrap();
    q.put_bytes(&[1; 20]).unwrap();
    q.get_bytes().unwrap();
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("message-queue"), "{text}");
    assert!(text.contains("len                  3"), "{text}");
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["view"]["available"], true);
    assert_eq!(f["len"], 3);
    assert_eq!(f["bytes_used"], 16 + 8 + 32);
    assert_eq!(f["capacity_bytes"], 1008);
    assert_eq!(f["max_message"], 100);
    assert_eq!((f["puts"].clone(), f["gets"].clone()), (4.into(), 1.into()));
    assert_eq!(f["queued_lengths"]["values"], serde_json::json!([5, 0, 20]));
    assert_eq!(f["oldest_message"]["hex"], "68656c6c6f");
    assert_eq!(f["closed"], false);
    assert_eq!(f["waiting_consumers"], 0);
    assert_eq!(f["lock.locked"], false);
    q.close();
    assert_eq!(
        json(&["show", &name, "--json"])["view"]["fields"]["closed"],
        true
    );

    let name = common::unique_name("show-pipe");
    let a = shmkit::Pipe::create(&name, true, 256).unwrap();
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["segment"]["kind"], "pipe");
    assert_eq!(f["duplex"], true);
    assert_eq!(f["capacity_bytes"], 256);
    assert_eq!(f["a.pid"]["pid"], std::process::id());
    assert_eq!(f["a.pid"]["alive"], true);
    assert_eq!(f["b.pid"]["pid"], 0);
    let notes = j["view"]["notes"].to_string();
    assert!(notes.contains("end B is not claimed"), "{notes}");
    let b = shmkit::Pipe::open(&name).unwrap();
    a.send_bytes(b"12345").unwrap();
    b.close();
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(f["a_to_b.buffered"], 8 + 5);
    assert_eq!(f["b_to_a.buffered"], 0);
    assert_eq!(f["a.sent"], 1);
    assert_eq!(f["b.closed"], true);
    assert_eq!(f["a.closed"], false);
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("a_to_b.buffered"), "{text}");
}

#[test]
fn show_of_a_dict_lists_its_entries_escaped_and_cut() {
    let name = common::unique_name("show-dict");
    let d = ByteDict::create(&name, 8, 1024).unwrap();
    d.insert("greeting", "hello").unwrap();
    d.insert(b"bin\x01\x1b[31m".as_slice(), vec![b'x'; 100])
        .unwrap();
    d.insert("gone", "soon").unwrap();
    d.remove("gone").unwrap();
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("\"greeting\" => \"hello\""), "{text}");
    assert!(text.contains("\"bin\\x01\\x1b[31m\" => "), "{text}");
    assert!(text.contains("... (100 bytes)"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "a control character reached the terminal"
    );
    assert!(text.contains("len                  2"), "{text}");
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["segment"]["kind"], "dict");
    assert_eq!(f["form"], "bytes");
    assert_eq!(f["len"], 2);
    assert_eq!(f["capacity"], 8);
    assert_eq!(f["max_bytes"], 1024);
    assert_eq!(f["lock.locked"], false);
    let entries = f["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(&serde_json::json!({"key": "\"greeting\"", "value": "\"hello\""})));
    d.clear().unwrap();
    let j = json(&["show", &name, "--json"]);
    assert_eq!(j["view"]["fields"]["entries"], serde_json::json!([]));
    assert_eq!(j["view"]["fields"]["active_side"], 1);

    let typed = common::unique_name("show-dict-typed");
    let t = Dict::<u32, f64>::create(&typed, 4).unwrap();
    t.insert(7, 2.5).unwrap();
    let j = json(&["show", &typed, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(f["form"], "typed");
    assert_eq!(f["key_type"], "u32");
    assert_eq!(f["value_type"], "f64");
    assert_eq!(
        f["entries"],
        serde_json::json!([{"key": "7", "value": "2.5"}])
    );
}

#[test]
fn show_of_a_list_prints_its_elements_in_order() {
    let name = common::unique_name("show-list");
    let l = List::<i32>::create(&name, 6).unwrap();
    for v in [4, 5, 6] {
        l.push(v).unwrap();
    }
    l.remove(0).unwrap(); // moves the list to the other side
    let j = json(&["show", &name, "--json"]);
    let f = &j["view"]["fields"];
    assert_eq!(j["segment"]["kind"], "list");
    assert_eq!(f["len"], 2);
    assert_eq!(f["capacity"], 6);
    assert_eq!(f["active_side"], 1);
    assert_eq!(f["values"]["values"], serde_json::json!([5, 6]));
    let text = stdout(&shmkit(&["show", &name]));
    assert!(text.contains("[0] 5  6"), "{text}");
}
