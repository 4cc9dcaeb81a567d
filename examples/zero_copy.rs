//! Zero-copy: a camera process writes 1 MiB frames straight into the queue's shared
//! memory (`reserve` → fill in place → `commit`), and a viewer process reads them where
//! they lie (`get_ref`), so no frame is ever copied by shmkit. A frame the camera gives
//! up on (dropped without `commit`) is never delivered.
//!
//! Run: `cargo run --release --example zero_copy`

use std::process::Command;

use shmkit::Queue;

/// One video frame: 1 MiB in all.
#[shmkit::shareable(name = "example-frame")]
#[derive(Clone, Copy)]
#[repr(C)]
struct Frame {
    number: u64,
    width: u32,
    height: u32,
    pixels: [u8; (1 << 20) - 16],
}

const FRAMES: u64 = 50;

fn camera(name: &str) -> Result<(), shmkit::Error> {
    let q = Queue::<Frame>::open(name)?;
    for number in 0..FRAMES {
        // Waits while the queue is full; the guard is the slot in shared memory.
        let mut frame = q.reserve()?;
        frame.number = number;
        frame.width = 1024;
        frame.height = 1023;
        // "Capture" straight into the slot: a gradient that moves with the frame.
        for (i, px) in frame.pixels.iter_mut().enumerate() {
            *px = (i as u64 + number) as u8;
        }
        if number == 13 {
            // Unlucky frame: dropped without commit, so the viewer never sees it.
            continue;
        }
        frame.commit();
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("camera") {
        return Ok(camera(&args[2])?);
    }
    let name = format!("example-zero-copy-{}", std::process::id());
    // Four 1 MiB slots; the name is removed when `q` drops at the end of main.
    let q = Queue::<Frame>::create(&name, 4)?;
    println!(
        "queue `{name}`: {} slots of {} KiB",
        q.capacity(),
        std::mem::size_of::<Frame>() >> 10
    );
    let mut camera = Command::new(std::env::current_exe()?)
        .args(["camera", &name])
        .spawn()?;

    let mut seen = 0;
    let mut checksum = 0u64;
    for _ in 0..FRAMES - 1 {
        // Waits while the queue is empty; the guard reads the frame in place and hands
        // the slot back to the camera when it drops.
        let frame = q.get_ref()?;
        assert_ne!(frame.number, 13, "an uncommitted frame was delivered");
        assert_eq!(frame.pixels[100], (100 + frame.number) as u8);
        checksum = checksum.wrapping_add(frame.pixels.iter().map(|&p| u64::from(p)).sum());
        seen += 1;
    }
    assert!(camera.wait()?.success(), "camera failed");
    println!("viewer saw {seen} frames of {FRAMES} (frame 13 was dropped), checksum {checksum}");
    let snap = q.snapshot();
    println!(
        "left in the queue: {}, skipped slots of dead producers: {}",
        snap.len, snap.skipped_dead_producers
    );
    Ok(())
}
