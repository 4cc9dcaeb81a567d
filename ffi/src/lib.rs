//! The C ABI of shmkit: `libshmkit.a` / `libshmkit.so` and `include/shmkit.h`.
//!
//! Conventions (rustls-ffi is the model):
//! - every fallible function returns a [`shmkit_status`]; `SHMKIT_OK` is 0;
//! - outputs go through out-parameters, written only when the call returns `SHMKIT_OK`
//!   (lock calls that return `SHMKIT_OWNER_DIED` hold the lock but write nothing);
//! - a NULL argument gives `SHMKIT_NULL_ARGUMENT`, never a crash;
//! - every exported body runs inside [`ffi_boundary!`], so a panic becomes
//!   `SHMKIT_PANIC` instead of crossing into C;
//! - handles are opaque, made by `_create` / `_open` and released by `_close`, which
//!   takes the address of the handle and sets it to NULL, so a closed handle is NULL and
//!   any later call with it gives `SHMKIT_NULL_ARGUMENT`.
//!
//! ## Adding a primitive (say `Queue`)
//! `src/event.rs` is the smallest complete example; `src/rlock.rs` and
//! `src/condition.rs` show locks held across calls.
//! 1. In a new `src/queue.rs`, declare the opaque handle and its [`handle::Handle`]
//!    impl (cbindgen reads the struct, so it must be written out, not macro-made):
//!    ```ignore
//!    pub struct shmkit_queue { magic: u64, inner: shmkit_core::Queue }
//!    impl_handle!(shmkit_queue, shmkit_core::Queue, 0x736b_7175_6575_6531, "queue");
//!    ```
//!    The magic is unique to the kind (the existing ones spell "sk" and the kind).
//! 2. Write each function as `#[unsafe(no_mangle)] pub unsafe extern "C" fn
//!    shmkit_queue_<verb>(...) -> shmkit_status { ffi_boundary! { ... Ok(()) } }`:
//!    [`args::name`], [`args::type_desc`], [`args::Out`] and [`handle::get`] /
//!    [`handle::publish`] / [`handle::close`] do the argument checks, `?` turns a
//!    library error into its status, and [`lock::lock`] / [`lock::unlock`] /
//!    [`lock::Wait`] give the C lock pair and the nanosecond timeouts ([`lock::keep`]
//!    keeps the hold of any guard-returning lock call). A call that takes something
//!    reports a timeout as `SHMKIT_TIMEOUT`; a call that waits for a state returns
//!    `SHMKIT_OK` and a `bool` out-parameter (see docs/C.md).
//! 3. `mod queue;` here, then `ffi/check-header.sh --write`, and a C test
//!    `ffi/tests/c/queue.c` with a `run_c_test("queue.c")` line in
//!    `ffi/tests/c_api.rs`. A new `Error` variant needs a code in [`status`].
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
pub mod args;
pub mod array;
pub mod barrier;
pub mod condition;
pub mod dict;
pub mod event;
pub mod handle;
pub mod lock;
pub mod message_queue;
pub mod mutex;
pub mod pipe;
pub mod queue;
pub mod rlock;
pub mod segment;
pub mod semaphore;
pub mod status;
pub mod value;

use std::ffi::{c_char, c_int};

pub use status::shmkit_status;

/// Major version of the library the header was generated from.
pub const SHMKIT_VERSION_MAJOR: u32 = 0;
/// Minor version of the library the header was generated from.
pub const SHMKIT_VERSION_MINOR: u32 = 1;
/// Patch version of the library the header was generated from.
pub const SHMKIT_VERSION_PATCH: u32 = 0;

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

// The header's version macros must follow Cargo.toml.
const _: () = assert!(SHMKIT_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(SHMKIT_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(SHMKIT_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));

/// The library's version as a static string, such as `"0.1.0"`. Compare with the
/// `SHMKIT_VERSION_*` macros to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn shmkit_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A static, NUL-terminated description of a `shmkit_status` value (never NULL; an
/// unknown code gives "unknown status").
#[unsafe(no_mangle)]
pub extern "C" fn shmkit_status_message(status: c_int) -> *const c_char {
    ffi_boundary! { default: c"unknown status".as_ptr();
        Ok(status::message(status).as_ptr())
    }
}

/// The message of the most recent failed call on the calling thread (empty when none
/// failed yet): what was expected and what was found, the segment name, the OS error.
/// The string is owned by the library and stays valid until the next shmkit call on
/// this thread.
#[unsafe(no_mangle)]
pub extern "C" fn shmkit_last_error_message() -> *const c_char {
    boundary::last_error_ptr()
}

/// Removes the segment `name` (of any kind) from the namespace. Processes that have it
/// open keep using it; the memory is freed when the last handle closes.
///
/// Returns `SHMKIT_NULL_ARGUMENT`, `SHMKIT_INVALID_NAME`, `SHMKIT_NOT_FOUND`,
/// `SHMKIT_PERMISSION_DENIED`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_unlink(name: *const c_char) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller passes NULL or a NUL-terminated string.
        let name = unsafe { args::name(name) }?;
        shmkit_core::unlink(name)?;
        Ok(())
    }
}

/// Test hook: panics inside the boundary, to check that it becomes `SHMKIT_PANIC`.
/// Not in the header.
#[doc(hidden)]
#[unsafe(no_mangle)]
pub extern "C" fn shmkit_test_panic() -> shmkit_status {
    ffi_boundary! {
        if std::hint::black_box(true) {
            panic!("shmkit_test_panic was called");
        }
        Ok(())
    }
}
