//! `shmkit`: look inside live shmkit segments without writing code.
//!
//! `list`, `show`, `watch`, `rm` and `gc`; `--json` on `list`, `show` and `gc` (schema in
//! docs/CLI.md). Reading never maps a segment writable and never takes a lock.
//! Exit codes: 0 ok, 1 not found / invalid / failed, 2 usage.
#![forbid(unsafe_code)]

mod json;
mod render;

use std::io::Write;
use std::ops::Range;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use shmkit::inspect::{self, InspectOptions, State};

/// Inspect and clean up shmkit shared-memory segments (/dev/shm/shmkit.*).
#[derive(Debug, Parser)]
#[command(name = "shmkit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every shmkit segment on the machine, one row each.
    List {
        /// Print JSON (schema `shmkit-list/1`, see docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
    /// The whole header of one segment, decoded, and its kind's state.
    Show {
        /// Segment name (without the `shmkit.` prefix).
        name: String,
        /// Print JSON (schema `shmkit-show/1`, see docs/CLI.md).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Redraws `show` every interval until interrupted.
    Watch {
        /// Segment name.
        name: String,
        /// Seconds between redraws.
        #[arg(long, short, default_value_t = 1.0, value_parser = parse_interval)]
        interval: f64,
        /// Stop after this many redraws (default: until interrupted).
        #[arg(long, hide = true)]
        count: Option<u64>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Removes segments by name (unlink: processes using them keep them until they exit).
    Rm {
        /// Segment names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Removes segments whose creator is dead and that no live process maps.
    Gc {
        /// Consider only these segments (default: every shmkit segment).
        names: Vec<String>,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON (schema `shmkit-gc/1`, see docs/CLI.md).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct DataArgs {
    /// Which data to show: elements `START..END` of a value or array (bytes for other
    /// kinds); `N..`, `..N` and `N` work too.
    #[arg(long, value_parser = parse_range)]
    range: Option<Range<u64>>,
    /// The most data bytes to read.
    #[arg(long, default_value_t = inspect::DEFAULT_MAX_DATA)]
    max_bytes: u64,
}

impl DataArgs {
    fn options(&self) -> InspectOptions {
        InspectOptions {
            range: self.range.clone(),
            max_data_bytes: self.max_bytes,
        }
    }
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(0.01..=86_400.0).contains(&v) {
        return Err("the interval must be between 0.01 and 86400 seconds".into());
    }
    Ok(v)
}

fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let num = |t: &str| -> Result<u64, String> {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{t}` is not a non-negative integer"))
    };
    let r = match s.split_once("..") {
        None => {
            let n = num(s)?;
            n..n.saturating_add(1)
        }
        Some((a, b)) => {
            let start = if a.is_empty() { 0 } else { num(a)? };
            let end = if b.is_empty() { u64::MAX } else { num(b)? };
            start..end
        }
    };
    if r.start > r.end {
        return Err(format!("range {s} ends before it starts"));
    }
    Ok(r)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { json } => list(json),
        Command::Show { name, json, data } => show(&name, json, &data.options()),
        Command::Watch {
            name,
            interval,
            count,
            data,
        } => watch(&name, interval, count, &data.options()),
        Command::Rm { names } => rm(&names),
        Command::Gc {
            names,
            dry_run,
            json,
        } => gc(&names, dry_run, json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shmkit: {}", render::clean(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

type CmdResult = Result<ExitCode, shmkit::Error>;

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`shmkit list | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn list(json: bool) -> CmdResult {
    let entries = inspect::list(&InspectOptions::header_only())?;
    let now = now_ns();
    if json {
        print(&format!("{}\n", json::list(&entries, now)));
    } else {
        print(&render::list(&entries, now));
    }
    Ok(ExitCode::SUCCESS)
}

fn show(name: &str, json: bool, opts: &InspectOptions) -> CmdResult {
    let snap = inspect::inspect(name, opts)?;
    let now = now_ns();
    if json {
        print(&format!("{}\n", json::show(&snap, now)));
    } else {
        print(&render::show(&snap, now));
    }
    Ok(match snap.state {
        State::Ready | State::Initializing => ExitCode::SUCCESS,
        State::Poisoned | State::Corrupt => ExitCode::FAILURE,
    })
}

fn watch(name: &str, interval: f64, count: Option<u64>, opts: &InspectOptions) -> CmdResult {
    let mut n = 0u64;
    loop {
        let now = now_ns();
        let body = match inspect::inspect(name, opts) {
            Ok(snap) => render::show(&snap, now),
            Err(e) => format!("{}\n", render::clean(&e.to_string())),
        };
        // Home the cursor and clear the screen, then draw.
        print(&format!(
            "\x1b[H\x1b[2Jshmkit watch {name}, every {interval}s (Ctrl-C to stop)\n\n{body}"
        ));
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs_f64(interval));
    }
}

fn rm(names: &[String]) -> CmdResult {
    let mut failed = false;
    for name in names {
        match shmkit::unlink(name) {
            Ok(()) => print(&format!("removed {name}\n")),
            Err(e) => {
                failed = true;
                eprintln!("shmkit: {}", render::clean(&e.to_string()));
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn gc(names: &[String], dry_run: bool, json: bool) -> CmdResult {
    for n in names {
        shmkit::segment::validate_name(n)?;
    }
    let only = (!names.is_empty()).then_some(names);
    let decisions = inspect::gc(dry_run, only)?;
    if json {
        print(&format!("{}\n", json::gc(&decisions, dry_run)));
    } else {
        print(&render::gc(&decisions, dry_run));
    }
    let failed = !dry_run && decisions.iter().any(|d| d.remove && !d.removed);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("2..5"), Ok(2..5));
        assert_eq!(parse_range("3"), Ok(3..4));
        assert_eq!(parse_range("..4"), Ok(0..4));
        assert_eq!(parse_range("7.."), Ok(7..u64::MAX));
        assert!(parse_range("5..2").is_err());
        assert!(parse_range("x..2").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
