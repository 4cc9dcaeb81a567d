//! `shmkit_dict`: the shared dict of byte-string keys and values (`shmkit::ByteDict`).
//!
//! Keys and values are byte strings of any length (a `(pointer, length)` pair; a
//! length of 0 accepts any pointer, even NULL). A Rust process opens the same dict
//! with `shmkit::ByteDict::open`; strings stored from Rust with `insert("k", "v")` are
//! the plain bytes `k` and `v` here, without a terminating NUL.
//!
//! While a process that died holding the dict's lock has not been recovered from,
//! every call returns `SHMKIT_OWNER_DIED` *without* holding the lock (unlike the lock
//! calls); `shmkit_dict_recover` repairs the table and ends that state.

use std::ffi::{c_char, c_void};

use shmkit_core::{ByteDict, Error};

use crate::args::{self, Out};
use crate::boundary::Failure;
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named dict of byte strings (the C form of `shmkit::ByteDict`). Made by
/// `shmkit_dict_create` / `_open` / `_open_or_create`, released by `shmkit_dict_close`.
pub struct shmkit_dict {
    magic: u64,
    inner: ByteDict,
}
impl_handle!(shmkit_dict, ByteDict, 0x736b_6469_6374_3031, "dict");

/// Writes `v` through an optional out-parameter (NULL: ignored).
///
/// # Safety
/// `p` is NULL or valid for a write of `T`.
unsafe fn write_optional<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY:
        // - non-NULL and writable (the caller's contract).
        unsafe { p.write(v) };
    }
}

/// Creates the dict `name` for at most `capacity` entries whose keys and values total
/// at most `max_bytes` bytes, and writes a new handle to `*out`. The creating handle
/// removes the name when it is closed.
///
/// Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`, `SHMKIT_INVALID_ARGUMENT`
/// (capacity 0 or sizes too large), `SHMKIT_PERMISSION_DENIED`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_create(
    name: *const c_char,
    capacity: usize,
    max_bytes: usize,
    out: *mut *mut shmkit_dict,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, |n| ByteDict::create(n, capacity, max_bytes)) }
    }
}

/// Opens the dict `name` and writes a new handle to `*out` (`SHMKIT_KIND_MISMATCH` if
/// `name` is another kind of segment, `SHMKIT_TYPE_MISMATCH` if it is a typed Rust
/// `Dict<K, V>`).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_open(
    name: *const c_char,
    out: *mut *mut shmkit_dict,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { handle::publish_named(name, out, ByteDict::open) }
    }
}

/// Opens the dict `name`, creating it with `capacity` and `max_bytes` if it does not
/// exist (an existing dict keeps its own sizes), and writes a new handle to `*out`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_open_or_create(
    name: *const c_char,
    capacity: usize,
    max_bytes: usize,
    out: *mut *mut shmkit_dict,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            handle::publish_named(name, out, |n| ByteDict::open_or_create(n, capacity, max_bytes))
        }
    }
}

/// Closes `*dict` and sets it to NULL (a NULL `*dict` is a no-op); the creating handle
/// also removes the name.
///
/// # Safety
/// `dict` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_close(dict: *mut *mut shmkit_dict) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(dict, |_| {}) }
    }
}

/// Inserts `key → value`, replacing any value under `key`. `*out_replaced` (if
/// `out_replaced` is not NULL) says whether a value was replaced.
///
/// Returns `SHMKIT_FULL` (the entry count or byte total would pass the dict's
/// capacity; nothing changed), `SHMKIT_TOO_LARGE` (the entry alone is larger than the
/// dict's `max_bytes`), `SHMKIT_OWNER_DIED`, `SHMKIT_CORRUPT`.
///
/// # Safety
/// `dict` is NULL or a live handle; `key` is valid for `key_len` bytes and `value` for
/// `value_len` bytes (either may be NULL when its length is 0); `out_replaced` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_insert(
    dict: *const shmkit_dict,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    out_replaced: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - valid for the lengths given (the caller's contract).
        let (k, v) = unsafe {
            (
                args::bytes(key.cast(), key_len, "key")?,
                args::bytes(value.cast(), value_len, "value")?,
            )
        };
        let mut g = d.lock()?;
        let replaced = g.insert(k, v)?.is_some();
        drop(g);
        // SAFETY:
        // - NULL or writable (the caller's contract).
        unsafe { write_optional(out_replaced, replaced) };
        Ok(())
    }
}

/// Looks `key` up. Not found: `SHMKIT_OK` with `*out_found = false` and
/// `*out_len = 0`. Found: copies the value into `buf` and writes its length to
/// `*out_len` and `true` to `*out_found`; when `buf_len` is too small, nothing is
/// copied, `*out_len` receives the needed size and the call returns
/// `SHMKIT_BUFFER_TOO_SMALL` (call again with a larger buffer).
///
/// # Safety
/// `dict` is NULL or a live handle; `key` is valid for `key_len` bytes; `buf` is valid
/// for writes of `buf_len` bytes (NULL when `buf_len` is 0); `out_len` and `out_found`
/// are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_get(
    dict: *const shmkit_dict,
    key: *const c_void,
    key_len: usize,
    buf: *mut c_void,
    buf_len: usize,
    out_len: *mut usize,
    out_found: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let len_out = Out::new(out_len, "out_len")?;
        let found_out = Out::new(out_found, "out_found")?;
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - valid for the lengths given, `buf` writable and not aliased (contract).
        let (k, b) = unsafe {
            (
                args::bytes(key.cast(), key_len, "key")?,
                args::bytes_mut(buf.cast(), buf_len, "buf")?,
            )
        };
        match d.get_into(k, b) {
            Ok(n) => {
                // SAFETY:
                // - both are writable (the caller's contract).
                unsafe {
                    len_out.write(n.unwrap_or(0));
                    found_out.write(n.is_some());
                }
                Ok(())
            }
            Err(e @ Error::BufferTooSmall { needed, .. }) => {
                // SAFETY:
                // - both are writable (the caller's contract).
                unsafe {
                    len_out.write(needed);
                    found_out.write(true);
                }
                Err(Failure::from(e))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Writes whether `key` is present to `*out`.
///
/// # Safety
/// `dict` is NULL or a live handle; `key` is valid for `key_len` bytes; `out` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_contains(
    dict: *const shmkit_dict,
    key: *const c_void,
    key_len: usize,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - valid for `key_len` bytes (the caller's contract).
        let k = unsafe { args::bytes(key.cast(), key_len, "key") }?;
        let present = d.contains_key(k)?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(present) };
        Ok(())
    }
}

/// Removes `key`; `*out_removed` (if `out_removed` is not NULL) says whether it was
/// present.
///
/// # Safety
/// `dict` is NULL or a live handle; `key` is valid for `key_len` bytes; `out_removed`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_remove(
    dict: *const shmkit_dict,
    key: *const c_void,
    key_len: usize,
    out_removed: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - valid for `key_len` bytes (the caller's contract).
        let k = unsafe { args::bytes(key.cast(), key_len, "key") }?;
        let removed = d.lock()?.remove(k)?.is_some();
        // SAFETY:
        // - NULL or writable (the caller's contract).
        unsafe { write_optional(out_removed, removed) };
        Ok(())
    }
}

/// Writes the number of entries to `*out`.
///
/// # Safety
/// `dict` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_len(
    dict: *const shmkit_dict,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        // SAFETY:
        // - the caller's contract, as documented above.
        let n = unsafe { handle::get(dict) }?.len()?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe { out.write(n) };
        Ok(())
    }
}

/// Writes the dict's capacity (most entries) to `*out_capacity` and its byte limit
/// (most key + value bytes in total) to `*out_max_bytes`.
///
/// # Safety
/// `dict` is NULL or a live handle; both outs are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_capacity(
    dict: *const shmkit_dict,
    out_capacity: *mut usize,
    out_max_bytes: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let cap = Out::new(out_capacity, "out_capacity")?;
        let max = Out::new(out_max_bytes, "out_max_bytes")?;
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - writable (the caller's contract).
        unsafe {
            cap.write(d.capacity());
            max.write(d.max_bytes());
        }
        Ok(())
    }
}

/// Removes every entry, as one atomic step.
///
/// # Safety
/// `dict` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_clear(dict: *const shmkit_dict) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(dict) }?.clear()?;
        Ok(())
    }
}

/// A snapshot of the keys, packed into `buf`: for each key, its length as a
/// native-endian `uint32_t` (read it with `memcpy`: it is not aligned) followed by its
/// bytes. Writes the bytes used to `*out_len` and the number of keys to `*out_count`.
/// When `buf_len` is too small, nothing is copied, `*out_len` receives the needed
/// size, and the call returns `SHMKIT_BUFFER_TOO_SMALL` (the dict may change before
/// the next call; call again with some room to spare).
///
/// # Safety
/// `dict` is NULL or a live handle; `buf` is valid for writes of `buf_len` bytes (NULL
/// when `buf_len` is 0); `out_len` and `out_count` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_keys(
    dict: *const shmkit_dict,
    buf: *mut c_void,
    buf_len: usize,
    out_len: *mut usize,
    out_count: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let len_out = Out::new(out_len, "out_len")?;
        let count_out = Out::new(out_count, "out_count")?;
        // SAFETY:
        // - the caller's contract, as documented above.
        let d = unsafe { handle::get(dict) }?;
        // SAFETY:
        // - writable for `buf_len` bytes, not aliased (the caller's contract).
        let b = unsafe { args::bytes_mut(buf.cast(), buf_len, "buf") }?;
        let keys = d.keys()?;
        let needed: usize = keys.iter().map(|k| 4 + k.len()).sum();
        if needed > b.len() {
            // SAFETY:
            // - writable (the caller's contract).
            unsafe { len_out.write(needed) };
            return Err(Error::BufferTooSmall { needed, capacity: b.len() }.into());
        }
        let mut at = 0;
        for k in &keys {
            // A key is at most u32::MAX bytes (the dict refuses longer ones).
            b[at..at + 4].copy_from_slice(&(k.len() as u32).to_ne_bytes());
            b[at + 4..at + 4 + k.len()].copy_from_slice(k);
            at += 4 + k.len();
        }
        // SAFETY:
        // - writable (the caller's contract).
        unsafe {
            len_out.write(needed);
            count_out.write(keys.len());
        }
        Ok(())
    }
}

/// Repairs the dict after a process died holding its lock (every other call returns
/// `SHMKIT_OWNER_DIED` until then): checks every entry, rebuilds the table, and ends
/// the owner-died state. Writes how many invalid entries were dropped to
/// `*out_dropped` (if not NULL): 0 after any crash, since the dict's writes are ordered
/// so that a crash leaves it valid. Also fine on a healthy dict.
///
/// # Safety
/// `dict` is NULL or a live handle; `out_dropped` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_dict_recover(
    dict: *const shmkit_dict,
    out_dropped: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let dropped = unsafe { handle::get(dict) }?.recover()?;
        // SAFETY:
        // - NULL or writable (the caller's contract).
        unsafe { write_optional(out_dropped, dropped) };
        Ok(())
    }
}
