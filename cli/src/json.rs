//! JSON output; the schema is documented in docs/CLI.md. Keys are stable; new keys may
//! be added within a schema version, never removed or retyped.

use serde_json::{Map, Value, json};
use shmkit::inspect::{Field, GcDecision, ListEntry, Scalar, Snapshot};
use shmkit::segment::RawHeader;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(snap: &Snapshot, now: u64) -> Value {
    let info = snap.info.as_ref();
    json!({
        "name": snap.name,
        "path": snap.path.to_string_lossy(),
        "readable": true,
        "error": null,
        "state": snap.state.name(),
        "kind": snap.kind_label(),
        "kind_number": snap.header_with_magic().map(|h| h.kind),
        "type": snap.type_name(),
        "elem_size": info.map(|i| i.elem_size),
        "elem_align": info.map(|i| i.elem_align),
        "capacity": info.map(|i| i.capacity),
        "object_len": snap.object.len,
        "mode": format!("{:04o}", snap.object.mode),
        "uid": snap.object.uid,
        "modified_unix_ns": snap.object.modified_unix_ns,
        "creator_pid": snap.header_with_magic().map(|h| h.creator_pid),
        "creator_alive": snap.creator_alive,
        "created_unix_ns": snap.header_with_magic().map(|h| h.created_unix_ns),
        "age_seconds": snap.age_ns(now).map(|ns| ns as f64 / 1e9),
        "problems": snap.problems,
    })
}

fn unreadable(name: &str, err: &shmkit::Error) -> Value {
    json!({
        "name": name,
        "readable": false,
        "error": err.to_string(),
        "state": "unreadable",
    })
}

/// `shmkit list --json`.
pub fn list(entries: &[ListEntry], now: u64) -> Value {
    let segments: Vec<Value> = entries
        .iter()
        .map(|e| match &e.result {
            Ok(s) => entry(s, now),
            Err(err) => unreadable(&e.name, err),
        })
        .collect();
    json!({ "schema": "shmkit-list/1", "segments": segments })
}

fn header(h: &RawHeader) -> Value {
    let name_len = (h.type_name_len as usize).min(h.type_name.len());
    json!({
        "magic_hex": hex(&h.magic),
        "version": h.version,
        "kind": h.kind,
        "state": h.state,
        "header_len": h.header_len,
        "total_len": h.total_len,
        "control_offset": h.control_offset,
        "control_len": h.control_len,
        "data_offset": h.data_offset,
        "data_len": h.data_len,
        "capacity": h.capacity,
        "elem_size": h.elem_size,
        "elem_align": h.elem_align,
        "creator_pid": h.creator_pid,
        "sync_abi": h.sync_abi,
        "created_unix_ns": h.created_unix_ns,
        "type_name_len": h.type_name_len,
        "type_name_hex": hex(&h.type_name[..name_len]),
        "params": h.params,
        "reserved_zero": h.reserved0 == 0 && h.reserved1.iter().all(|&b| b == 0),
    })
}

fn scalar(s: &Scalar) -> Value {
    match s {
        Scalar::I64(n) => json!(n),
        Scalar::U64(n) => json!(n),
        // NaN and infinities become null (JSON has no such numbers).
        Scalar::F64(f) => json!(f),
    }
}

fn field(f: &Field) -> Value {
    match f {
        Field::Bool(b) => json!(b),
        Field::U64(n) => json!(n),
        Field::Pid { pid, alive } => json!({ "pid": pid, "alive": alive }),
        Field::Text(t) => json!(t),
        Field::Values { first, values } => json!({
            "first": first,
            "values": values.iter().map(scalar).collect::<Vec<_>>(),
        }),
        Field::Bytes { offset, bytes } => json!({ "offset": offset, "hex": hex(bytes) }),
        Field::Entries(entries) => json!(
            entries
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect::<Vec<_>>()
        ),
    }
}

/// `shmkit show --json`.
pub fn show(snap: &Snapshot, now: u64) -> Value {
    let mut fields = Map::new();
    for (k, f) in &snap.view.fields {
        fields.insert((*k).to_string(), field(f));
    }
    json!({
        "schema": "shmkit-show/1",
        "segment": entry(snap, now),
        "header": snap.header.as_ref().map(header),
        "view": {
            "available": snap.view.available,
            "fields": fields,
            "notes": snap.view.notes,
        },
        "control_hex": hex(&snap.control),
        "data": { "offset": snap.data_offset, "hex": hex(&snap.data) },
    })
}

/// `shmkit gc --json`.
pub fn gc(decisions: &[GcDecision], dry_run: bool) -> Value {
    let list: Vec<Value> = decisions
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "remove": d.remove,
                "removed": d.removed,
                "reason": d.reason,
                "mapped_by": d.mapped_by,
            })
        })
        .collect();
    json!({ "schema": "shmkit-gc/1", "dry_run": dry_run, "segments": list })
}
