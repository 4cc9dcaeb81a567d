//! Text output. Everything that came from a segment is escaped before it is printed.

use std::fmt::Write;

use shmkit::inspect::{Field, GcDecision, KindView, ListEntry, Scalar, Snapshot};
use shmkit::segment::RawHeader;

/// Replaces control characters (other than newline) with `\u{..}` escapes.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `3s`, `5m12s`, `2h03m`, `4d02h`.
pub fn duration(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A Unix time in ns as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn alive_word(alive: Option<bool>) -> &'static str {
    match alive {
        Some(true) => "alive",
        Some(false) => "dead",
        None => "-",
    }
}

fn age(snap: &Snapshot, now: u64) -> String {
    match snap.age_ns(now) {
        Some(ns) => duration(ns),
        None if snap.header_with_magic().is_some() => "future".into(),
        None => "-".into(),
    }
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// At most `max` characters, with `...` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max - 3).collect::<String>())
    }
}

/// The `list` table.
pub fn list(entries: &[ListEntry], now: u64) -> String {
    if entries.is_empty() {
        return "no shmkit segments\n".into();
    }
    let mut rows = vec![
        [
            "NAME", "KIND", "TYPE", "SIZE", "CREATOR", "ALIVE", "AGE", "STATE", "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in entries {
        match &e.result {
            Ok(s) => rows.push(vec![
                clean(&e.name),
                s.kind_label().unwrap_or_else(|| "-".into()),
                s.type_name()
                    .filter(|t| !t.is_empty())
                    .map(|t| shorten(&t, 24))
                    .unwrap_or_else(|| "-".into()),
                s.object.len.to_string(),
                match s.creator_pid() {
                    0 => "-".into(),
                    p => p.to_string(),
                },
                alive_word(s.creator_alive).into(),
                age(s, now),
                s.state.name().into(),
                s.problems.first().map(|p| clean(p)).unwrap_or_default(),
            ]),
            Err(err) => rows.push(vec![
                clean(&e.name),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "unreadable".into(),
                clean(&err.to_string()),
            ]),
        }
    }
    table(&rows)
}

fn header_rows(h: &RawHeader) -> Vec<Vec<String>> {
    let kind = match shmkit::Kind::from_u32(h.kind) {
        Some(k) => format!("{} ({k})", h.kind),
        None => format!("{} (unknown)", h.kind),
    };
    let state = match h.state {
        shmkit::segment::STATE_INITIALIZING => "0 (initializing)".to_string(),
        shmkit::segment::STATE_READY => "1 (ready)".to_string(),
        shmkit::segment::STATE_POISONED => "2 (poisoned)".to_string(),
        n => format!("{n} (unknown)"),
    };
    let name_len = (h.type_name_len as usize).min(h.type_name.len());
    let reserved_nonzero = h.reserved0 != 0
        || h.reserved1.iter().any(|&b| b != 0)
        || h.type_name[name_len..].iter().any(|&b| b != 0);
    let r = |k: &str, v: String| vec![format!("  {k}"), v];
    vec![
        r(
            "magic",
            format!("\"{}\"", shmkit::inspect::escape_bytes(&h.magic)),
        ),
        r("version", h.version.to_string()),
        r("kind", kind),
        r("state", state),
        r("header_len", h.header_len.to_string()),
        r("total_len", h.total_len.to_string()),
        r("control_offset", h.control_offset.to_string()),
        r("control_len", h.control_len.to_string()),
        r("data_offset", h.data_offset.to_string()),
        r("data_len", h.data_len.to_string()),
        r("capacity", h.capacity.to_string()),
        r("elem_size", h.elem_size.to_string()),
        r("elem_align", h.elem_align.to_string()),
        r("creator_pid", h.creator_pid.to_string()),
        r("sync_abi", format!("{:#06x}", h.sync_abi)),
        r(
            "created_unix_ns",
            format!("{} ({})", h.created_unix_ns, utc(h.created_unix_ns)),
        ),
        r("type_name_len", h.type_name_len.to_string()),
        r(
            "type_name",
            format!(
                "\"{}\"",
                shmkit::inspect::escape_bytes(&h.type_name[..name_len])
            ),
        ),
        r("params", format!("{:?}", h.params)),
        r(
            "reserved",
            if reserved_nonzero { "NOT zero" } else { "zero" }.to_string(),
        ),
    ]
}

/// A classic hex dump: offset, 16 bytes in hex, the printable ASCII.
pub fn hexdump(offset: u64, bytes: &[u8], indent: &str) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let mut hex = String::new();
        for (j, b) in chunk.iter().enumerate() {
            let _ = write!(hex, "{b:02x}{}", if j == 7 { "  " } else { " " });
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "{indent}{:08x}  {hex:<49} |{ascii}|",
            offset + (i as u64) * 16
        );
    }
    if bytes.is_empty() {
        let _ = writeln!(out, "{indent}(no bytes)");
    }
    out
}

fn scalar(v: &Scalar) -> String {
    match v {
        Scalar::I64(n) => n.to_string(),
        Scalar::U64(n) => n.to_string(),
        Scalar::F64(f) => f.to_string(),
    }
}

fn field(out: &mut String, key: &str, f: &Field) {
    match f {
        Field::Bool(b) => {
            let _ = writeln!(out, "  {key:<20} {}", if *b { "yes" } else { "no" });
        }
        Field::U64(n) => {
            let _ = writeln!(out, "  {key:<20} {n}");
        }
        Field::Pid { pid: 0, .. } => {
            let _ = writeln!(out, "  {key:<20} none");
        }
        Field::Pid { pid, alive } => {
            let _ = writeln!(
                out,
                "  {key:<20} {pid} ({})",
                if *alive { "alive" } else { "dead" }
            );
        }
        Field::Text(t) => {
            let _ = writeln!(out, "  {key:<20} {}", clean(t));
        }
        Field::Values { first, values } => {
            if values.len() == 1 && *first == 0 {
                let _ = writeln!(out, "  {key:<20} {}", scalar(&values[0]));
            } else if values.is_empty() {
                let _ = writeln!(out, "  {key:<20} (none in range)");
            } else {
                let _ = writeln!(out, "  {key}:");
                for (row, chunk) in values.chunks(8).enumerate() {
                    let cells: Vec<String> = chunk.iter().map(scalar).collect();
                    let _ = writeln!(
                        out,
                        "    [{}] {}",
                        *first + (row as u64) * 8,
                        cells.join("  ")
                    );
                }
            }
        }
        Field::Bytes { offset, bytes } => {
            let _ = writeln!(
                out,
                "  {key} ({} bytes from data offset {offset}):",
                bytes.len()
            );
            out.push_str(&hexdump(*offset, bytes, "    "));
        }
        Field::Entries(entries) if entries.is_empty() => {
            let _ = writeln!(out, "  {key:<20} (none)");
        }
        Field::Entries(entries) => {
            let _ = writeln!(out, "  {key}:");
            for (k, v) in entries {
                let _ = writeln!(out, "    {} => {}", clean(k), clean(v));
            }
        }
    }
}

fn view(out: &mut String, kind: &str, v: &KindView, snap: &Snapshot) {
    if v.available {
        let _ = writeln!(out, "{kind}:");
        for (k, f) in &v.fields {
            field(out, k, f);
        }
    } else {
        let _ = writeln!(out, "control block ({} bytes):", snap.control.len());
        out.push_str(&hexdump(0, &snap.control, "  "));
    }
    for n in &v.notes {
        let _ = writeln!(out, "note: {}", clean(n));
    }
}

/// The `show` page.
pub fn show(snap: &Snapshot, now: u64) -> String {
    let mut out = String::new();
    let mut rows = vec![
        vec!["segment".to_string(), clean(&snap.name)],
        vec!["path".into(), clean(&snap.path.to_string_lossy())],
        vec!["state".into(), snap.state.name().into()],
        vec![
            "kind".into(),
            snap.kind_label().unwrap_or_else(|| "-".into()),
        ],
    ];
    if let Some(info) = &snap.info {
        rows.push(vec![
            "type".into(),
            if info.type_name.is_empty() {
                "none".into()
            } else {
                format!(
                    "{} (size {}, align {})",
                    shmkit::inspect::escape_bytes(info.type_name.as_bytes()),
                    info.elem_size,
                    info.elem_align
                )
            },
        ]);
        rows.push(vec!["capacity".into(), info.capacity.to_string()]);
    } else if let Some(t) = snap.type_name() {
        rows.push(vec!["type".into(), format!("\"{t}\" (header not valid)")]);
    }
    rows.push(vec![
        "object".into(),
        format!(
            "{} bytes, mode {:04o}, uid {}, modified {}",
            snap.object.len,
            snap.object.mode,
            snap.object.uid,
            utc(snap.object.modified_unix_ns)
        ),
    ]);
    rows.push(vec![
        "creator".into(),
        match snap.creator_pid() {
            0 => "none recorded".into(),
            p => format!("pid {p} ({})", alive_word(snap.creator_alive)),
        },
    ]);
    if let Some(h) = snap.header_with_magic() {
        rows.push(vec![
            "created".into(),
            format!("{} ({} ago)", utc(h.created_unix_ns), age(snap, now)),
        ]);
    }
    out.push_str(&table(&rows));
    for p in &snap.problems {
        let _ = writeln!(out, "problem: {}", clean(p));
    }
    if let Some(h) = &snap.header {
        out.push_str("header:\n");
        out.push_str(&table(&header_rows(h)));
    }
    if snap.info.is_some() {
        let kind = snap.kind_label().unwrap_or_default();
        view(&mut out, &kind, &snap.view, snap);
    }
    out
}

/// The `gc` report.
pub fn gc(decisions: &[GcDecision], dry_run: bool) -> String {
    let mut out = String::new();
    let mut n = 0;
    for d in decisions {
        let verb = match (d.remove, d.removed, dry_run) {
            (true, _, true) => "would remove",
            (true, true, false) => "removed",
            (true, false, false) => "FAILED to remove",
            (false, _, _) => "kept",
        };
        if d.remove {
            n += 1;
        }
        let _ = writeln!(out, "{verb} {}: {}", clean(&d.name), clean(&d.reason));
    }
    let _ = writeln!(
        out,
        "{n} of {} segments {}",
        decisions.len(),
        if dry_run {
            "would be removed"
        } else {
            "removed"
        }
    );
    out
}
