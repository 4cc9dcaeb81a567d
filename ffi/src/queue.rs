//! `shmkit_queue`: a bounded FIFO queue of a described element type, plain or joinable.
//!
//! One handle type for both `shmkit::Queue<T>` and `shmkit::JoinableQueue<T>`, built on
//! [`DynQueue`]: the `shmkit_joinable_queue_*` functions make and open the joinable
//! kind, the `shmkit_queue_*` ones the plain kind, and opening one kind as the other is
//! `SHMKIT_KIND_MISMATCH`. Every other call takes either kind; the joinable calls
//! (`_task_done`, `_join`, `_unfinished`) give `SHMKIT_KIND_MISMATCH` on a plain queue.
//!
//! Elements are copied in and out as exactly `type->size` bytes of the handle's type:
//! an element pointer is read (or written) for that many bytes, `count` elements for
//! `count * type->size`.
//!
//! The calls that move several elements write their count out-parameter also when they
//! stop early: on `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED` and `SHMKIT_WOULD_BLOCK` it holds
//! how many elements were moved before the stop (the exception to "outputs are written
//! only on success", as `SHMKIT_OWNER_DIED` is for the locks).

use std::ffi::{c_char, c_void};

use shmkit_core::dynamic::{DynQueue, DynSlot};
use shmkit_core::{Error, Kind, SegmentOptions};

use crate::args::{self, Out, shmkit_type};
use crate::boundary::Failure;
use crate::handle::{self, impl_handle};
use crate::status::shmkit_status;

/// A handle to a named queue or joinable queue (the C form of `shmkit::Queue<T>` and
/// `shmkit::JoinableQueue<T>`). Made by `shmkit_queue_create` / `_open` /
/// `_open_or_create` (or the `shmkit_joinable_queue_` ones), released by
/// `shmkit_queue_close`.
pub struct shmkit_queue {
    magic: u64,
    inner: DynQueue,
}
impl_handle!(shmkit_queue, DynQueue, 0x736b_7175_6575_6531, "queue");

/// How a constructor makes the queue.
#[derive(Clone, Copy)]
enum Make {
    Create(usize),
    Open,
    OpenOrCreate(usize),
}

/// Checks the arguments, makes the queue of `kind`, and publishes the handle.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `ty` is NULL or a valid descriptor; `out` is NULL
/// or writable.
unsafe fn publish_with(
    name: *const c_char,
    ty: *const shmkit_type,
    kind: Kind,
    make: Make,
    out: *mut *mut shmkit_queue,
) -> Result<(), Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY:
    // - NULL or NUL-terminated (the caller's contract).
    let name = unsafe { args::name(name) }?;
    // SAFETY:
    // - NULL or a valid descriptor (the caller's contract).
    let elem = unsafe { args::type_desc(ty) }?;
    let opts = SegmentOptions::default();
    let q = match make {
        Make::Create(cap) => DynQueue::create(name, kind, elem, cap, &opts)?,
        Make::Open => DynQueue::open(name, kind, elem, &opts)?,
        Make::OpenOrCreate(cap) => DynQueue::open_or_create(name, kind, elem, cap, &opts)?,
    };
    // SAFETY:
    // - `out` is writable (the caller's contract).
    unsafe { handle::publish(out, q) };
    Ok(())
}

/// Creates the queue `name` of up to `capacity` elements of `type` and writes a new
/// handle to `*out`. The creating handle removes the name when it is closed.
///
/// Returns `SHMKIT_ALREADY_EXISTS`, `SHMKIT_INVALID_NAME`, `SHMKIT_INVALID_ARGUMENT`
/// (bad descriptor, capacity 0 or too large), `SHMKIT_PERMISSION_DENIED`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    capacity: usize,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { publish_with(name, r#type, Kind::Queue, Make::Create(capacity), out) }
    }
}

/// Opens the queue `name`, whose elements must be exactly `type`, and writes a new
/// handle to `*out`.
///
/// Returns `SHMKIT_NOT_FOUND`, `SHMKIT_TYPE_MISMATCH`, `SHMKIT_KIND_MISMATCH` (also for
/// a joinable queue), `SHMKIT_CORRUPT`, ...
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_open(
    name: *const c_char,
    r#type: *const shmkit_type,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { publish_with(name, r#type, Kind::Queue, Make::Open, out) }
    }
}

/// Opens the queue `name`, creating it with `capacity` if it does not exist (an
/// existing queue keeps its own capacity), and writes a new handle to `*out`. The
/// handle removes the name when closed only if this call created it.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_open_or_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    capacity: usize,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { publish_with(name, r#type, Kind::Queue, Make::OpenOrCreate(capacity), out) }
    }
}

/// `shmkit_queue_create` for a joinable queue (`shmkit_queue_task_done`,
/// `shmkit_queue_join`).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_joinable_queue_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    capacity: usize,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { publish_with(name, r#type, Kind::JoinableQueue, Make::Create(capacity), out) }
    }
}

/// `shmkit_queue_open` for a joinable queue (`SHMKIT_KIND_MISMATCH` for a plain one).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_joinable_queue_open(
    name: *const c_char,
    r#type: *const shmkit_type,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { publish_with(name, r#type, Kind::JoinableQueue, Make::Open, out) }
    }
}

/// `shmkit_queue_open_or_create` for a joinable queue.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `type` is NULL or a valid descriptor; `out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_joinable_queue_open_or_create(
    name: *const c_char,
    r#type: *const shmkit_type,
    capacity: usize,
    out: *mut *mut shmkit_queue,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            publish_with(name, r#type, Kind::JoinableQueue, Make::OpenOrCreate(capacity), out)
        }
    }
}

/// Closes `*queue` and sets it to NULL (a NULL `*queue` is a no-op). This releases the
/// handle only; to close the queue itself for every process, see
/// `shmkit_queue_shutdown`. The creating handle removes the name.
///
/// # Safety
/// `queue` is NULL or the address of a handle variable (NULL or a live handle) that no
/// other thread uses during or after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_close(queue: *mut *mut shmkit_queue) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - as documented above (the caller's contract).
        unsafe { handle::close(queue, |_| {}) }
    }
}

/// Puts one element (`type->size` bytes at `elem`), waiting while the queue is full:
/// at most `timeout_ns` nanoseconds, forever if negative.
///
/// Returns `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED` (nothing put).
///
/// # Safety
/// `queue` is NULL or a live handle; `elem` is NULL or readable for `type->size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_put(
    queue: *const shmkit_queue,
    elem: *const c_void,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - NULL or readable for `type->size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(elem.cast(), q.elem().size, "elem") }?;
        q.put(bytes, args::timeout(timeout_ns))?;
        Ok(())
    }
}

/// Puts one element if there is room now; `SHMKIT_WOULD_BLOCK` when full,
/// `SHMKIT_CLOSED`.
///
/// # Safety
/// `queue` is NULL or a live handle; `elem` is NULL or readable for `type->size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_put(
    queue: *const shmkit_queue,
    elem: *const c_void,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - NULL or readable for `type->size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(elem.cast(), q.elem().size, "elem") }?;
        q.try_put(bytes)?;
        Ok(())
    }
}

/// Takes the oldest element into `out` (`type->size` bytes), waiting while the queue
/// is empty: at most `timeout_ns` nanoseconds, forever if negative.
///
/// Returns `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED` (closed and drained).
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable for `type->size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_get(
    queue: *const shmkit_queue,
    out: *mut c_void,
    timeout_ns: i64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - NULL or writable for `type->size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), q.elem().size, "out") }?;
        q.get(out, args::timeout(timeout_ns))?;
        Ok(())
    }
}

/// Takes the oldest element into `out` if there is one now; `SHMKIT_WOULD_BLOCK` when
/// empty, `SHMKIT_CLOSED` when closed and drained.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable for `type->size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_get(
    queue: *const shmkit_queue,
    out: *mut c_void,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        // SAFETY:
        // - NULL or writable for `type->size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), q.elem().size, "out") }?;
        q.try_get(out)?;
        Ok(())
    }
}

/// Writes `n` to the count out-parameter, then returns `e` (the documented exception:
/// the count is written also when a call moving several elements stops early).
///
/// # Safety
/// As [`Out::write`].
unsafe fn stopped(count: Out<usize>, n: usize, e: Error) -> Result<(), Failure> {
    // SAFETY:
    // - the caller's contract.
    unsafe { count.write(n) };
    Err(e.into())
}

/// Puts the `count` elements at `elems` in order, waiting for room as needed (at most
/// `timeout_ns` nanoseconds in all, forever if negative), waking consumers once per
/// batch. Writes how many were put to `*put`: `count` on `SHMKIT_OK`, and also on
/// `SHMKIT_TIMEOUT` and `SHMKIT_CLOSED`, where the first `*put` elements were put and
/// the rest were not.
///
/// # Safety
/// `queue` is NULL or a live handle; `elems` is NULL or readable for
/// `count * type->size` bytes; `put` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_put_many(
    queue: *const shmkit_queue,
    elems: *const c_void,
    count: usize,
    timeout_ns: i64,
    put: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let put = Out::new(put, "put")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let len = args::byte_len(count, q.elem().size)?;
        // SAFETY:
        // - NULL or readable for `count * size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(elems.cast(), len, "elems") }?;
        match q.put_many(bytes, args::timeout(timeout_ns)) {
            Ok(()) => {
                // SAFETY:
                // - `put` is writable (the caller's contract).
                unsafe { put.write(count) };
                Ok(())
            }
            // SAFETY:
            // - `put` is writable (the caller's contract).
            Err((n, e)) => unsafe { stopped(put, n, e) },
        }
    }
}

/// Puts as many of the `count` elements at `elems` as fit now, in order, and writes
/// how many to `*put`. `SHMKIT_WOULD_BLOCK` (with `*put` = 0) if `count` > 0 and none
/// fit; `SHMKIT_CLOSED` (with `*put` = 0) if the queue is closed.
///
/// # Safety
/// `queue` is NULL or a live handle; `elems` is NULL or readable for
/// `count * type->size` bytes; `put` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_put_many(
    queue: *const shmkit_queue,
    elems: *const c_void,
    count: usize,
    put: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let put = Out::new(put, "put")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let len = args::byte_len(count, q.elem().size)?;
        // SAFETY:
        // - NULL or readable for `count * size` bytes (the caller's contract).
        let bytes = unsafe { args::bytes(elems.cast(), len, "elems") }?;
        match q.try_put_many(bytes) {
            // SAFETY:
            // - `put` is writable (the caller's contract).
            Ok(0) if count > 0 => unsafe { stopped(put, 0, Error::WouldBlock) },
            Ok(n) => {
                // SAFETY:
                // - `put` is writable (the caller's contract).
                unsafe { put.write(n) };
                Ok(())
            }
            // SAFETY:
            // - `put` is writable (the caller's contract).
            Err(e) => unsafe { stopped(put, 0, e) },
        }
    }
}

/// Waits for at least one element (at most `timeout_ns` nanoseconds, forever if
/// negative), then takes as many as are there, up to `max`, into `out`, and writes how
/// many to `*got` (at least 1 unless `max` is 0). On `SHMKIT_TIMEOUT` and
/// `SHMKIT_CLOSED` (closed and drained) `*got` is written too, as 0.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable for `max * type->size`
/// bytes; `got` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_get_many(
    queue: *const shmkit_queue,
    out: *mut c_void,
    max: usize,
    timeout_ns: i64,
    got: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let got = Out::new(got, "got")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let len = args::byte_len(max, q.elem().size)?;
        // SAFETY:
        // - NULL or writable for `max * size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), len, "out") }?;
        match q.get_many(out, args::timeout(timeout_ns)) {
            Ok(n) => {
                // SAFETY:
                // - `got` is writable (the caller's contract).
                unsafe { got.write(n) };
                Ok(())
            }
            // SAFETY:
            // - `got` is writable (the caller's contract).
            Err(e) => unsafe { stopped(got, 0, e) },
        }
    }
}

/// Takes as many elements as are there now, up to `max`, into `out`, and writes how
/// many to `*got`. `SHMKIT_WOULD_BLOCK` (with `*got` = 0) if there were none,
/// `SHMKIT_CLOSED` (with `*got` = 0) when closed and drained.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable for `max * type->size`
/// bytes; `got` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_get_many(
    queue: *const shmkit_queue,
    out: *mut c_void,
    max: usize,
    got: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        let got = Out::new(got, "got")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let len = args::byte_len(max, q.elem().size)?;
        // SAFETY:
        // - NULL or writable for `max * size` bytes (the caller's contract).
        let out = unsafe { args::bytes_mut(out.cast(), len, "out") }?;
        match q.try_get_many(out) {
            Ok(n) => {
                // SAFETY:
                // - `got` is writable (the caller's contract).
                unsafe { got.write(n) };
                Ok(())
            }
            // SAFETY:
            // - `got` is writable (the caller's contract).
            Err(e) => unsafe { stopped(got, 0, e) },
        }
    }
}

/// Borrows the queue and writes `f(queue)` to `out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
unsafe fn read_out<T>(
    queue: *const shmkit_queue,
    out: *mut T,
    f: impl FnOnce(&DynQueue) -> Result<T, Error>,
) -> Result<(), Failure> {
    let out = Out::new(out, "out")?;
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let v = f(unsafe { handle::get(queue) }?)?;
    // SAFETY:
    // - `out` is writable (the caller's contract).
    unsafe { out.write(v) };
    Ok(())
}

/// Writes the number of elements in the queue now to `*out` (approximate while other
/// processes work).
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_len(
    queue: *const shmkit_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, |q| Ok(q.len())) }
    }
}

/// Writes how many elements fit in the queue to `*out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_capacity(
    queue: *const shmkit_queue,
    out: *mut usize,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, |q| Ok(q.capacity())) }
    }
}

/// Writes whether the queue was closed (`shmkit_queue_shutdown`) to `*out`.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_is_closed(
    queue: *const shmkit_queue,
    out: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, |q| Ok(q.is_closed())) }
    }
}

/// Closes the queue for every process (Python's `Queue.close`, as the library's
/// `Queue::close`): puts fail with `SHMKIT_CLOSED` from now on, gets take what is left
/// and then fail with `SHMKIT_CLOSED`; every waiter wakes. The handle stays valid
/// (release it with `shmkit_queue_close`).
///
/// # Safety
/// `queue` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_shutdown(queue: *const shmkit_queue) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(queue) }?.close();
        Ok(())
    }
}

/// Joinable queues: marks one element taken from the queue as processed.
/// `SHMKIT_KIND_MISMATCH` on a plain queue; `SHMKIT_INVALID_ARGUMENT` if called more
/// times than elements were put.
///
/// # Safety
/// `queue` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_task_done(queue: *const shmkit_queue) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(queue) }?.task_done()?;
        Ok(())
    }
}

/// Joinable queues: waits until every element put has been marked done.
/// `SHMKIT_KIND_MISMATCH` on a plain queue.
///
/// # Safety
/// `queue` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_join(queue: *const shmkit_queue) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        unsafe { handle::get(queue) }?.join(None)?;
        Ok(())
    }
}

/// Joinable queues: `shmkit_queue_join` waiting at most `timeout_ns` nanoseconds
/// (negative: forever). A wait for a state: returns `SHMKIT_OK` and writes to `*done`
/// whether every element was marked done (false when the time ran out).
///
/// # Safety
/// `queue` is NULL or a live handle; `done` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_join_timeout(
    queue: *const shmkit_queue,
    timeout_ns: i64,
    done: *mut bool,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe {
            read_out(queue, done, |q| match q.join(args::timeout(timeout_ns)) {
                Ok(()) => Ok(true),
                Err(Error::Timeout(_)) => Ok(false),
                Err(e) => Err(e),
            })
        }
    }
}

/// Joinable queues: writes the number of elements put and not yet marked done to
/// `*out`. `SHMKIT_KIND_MISMATCH` on a plain queue.
///
/// # Safety
/// `queue` is NULL or a live handle; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_unfinished(
    queue: *const shmkit_queue,
    out: *mut u64,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { read_out(queue, out, |q| q.unfinished()) }
    }
}

// ---- Zero-copy ---------------------------------------------------------------------

/// A slot of a queue that this process holds between two calls (zero-copy): reserved by
/// `shmkit_queue_reserve` (write the element in place at `data`, then
/// `shmkit_queue_commit` or `shmkit_queue_abort`), or taken by `shmkit_queue_get_ref`
/// (read the element in place at `data`, then `shmkit_queue_release`).
///
/// `data` points to the element's `type->size` bytes in shared memory, aligned for the
/// type, valid until the slot is ended (the call that ends it sets `data` to NULL).
/// `pos` and `stamp` identify the slot for the queue: do not change them. A slot that
/// is not ended stays held until the process exits; while it is held, consumers wait
/// behind a reservation (FIFO order) and producers cannot reuse a taken slot, so hold
/// slots briefly. A process killed while holding a slot does not wedge the queue: a
/// reservation is skipped (its element was never committed), a taken element is lost.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct shmkit_queue_slot {
    /// The element's bytes in shared memory (NULL once the slot is ended).
    pub data: *mut c_void,
    /// The slot's position in the ring (identifies the slot; do not change).
    pub pos: u64,
    /// The slot's stamp while held (identifies the hold; do not change).
    pub stamp: u64,
}

/// Writes a held slot to `out`.
///
/// # Safety
/// As [`Out::write`].
unsafe fn publish_slot(
    q: &DynQueue,
    out: Out<shmkit_queue_slot>,
    slot: DynSlot,
) -> Result<(), Failure> {
    let data = q.slot_ptr(&slot)?.cast();
    // SAFETY:
    // - `out` is writable (the caller's contract).
    unsafe {
        out.write(shmkit_queue_slot {
            data,
            pos: slot.pos,
            stamp: slot.stamp,
        })
    };
    Ok(())
}

/// Ends the held slot `*slot` with `end` and clears its `data`.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or points to a `shmkit_queue_slot`
/// writable by this thread.
unsafe fn end_slot(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
    end: impl FnOnce(&DynQueue, DynSlot) -> Result<(), Error>,
) -> Result<(), Failure> {
    // SAFETY:
    // - NULL or a live handle (the caller's contract).
    let q = unsafe { handle::get(queue) }?;
    if slot.is_null() {
        return Err(Failure::null("slot"));
    }
    // SAFETY:
    // - non-NULL, pointing to a shmkit_queue_slot (the caller's contract); plain data,
    //   read by copy. Its numbers are checked by the queue before anything changes.
    let s = unsafe { *slot };
    end(
        q,
        DynSlot {
            pos: s.pos,
            stamp: s.stamp,
        },
    )?;
    // SAFETY:
    // - non-NULL and writable (the caller's contract).
    unsafe { (*slot).data = std::ptr::null_mut() };
    Ok(())
}

/// Reserves the next slot to write one element in place, waiting while the queue is
/// full: at most `timeout_ns` nanoseconds, forever if negative. On success `*slot`
/// describes the reservation: write `type->size` bytes at `slot->data`, then
/// `shmkit_queue_commit` (publish) or `shmkit_queue_abort` (give up).
///
/// Returns `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED`.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_reserve(
    queue: *const shmkit_queue,
    timeout_ns: i64,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(slot, "slot")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let s = q.reserve(args::timeout(timeout_ns))?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { publish_slot(q, out, s) }
    }
}

/// `shmkit_queue_reserve` if a slot is free now; `SHMKIT_WOULD_BLOCK` when full,
/// `SHMKIT_CLOSED`.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_reserve(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(slot, "slot")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let s = q.try_reserve()?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { publish_slot(q, out, s) }
    }
}

/// Publishes the reserved slot `*slot` (a consumer can take its element from now on)
/// and sets `slot->data` to NULL.
///
/// Returns `SHMKIT_INVALID_ARGUMENT`, changing nothing, if `*slot` is not a reservation
/// this process holds on this queue (already committed or aborted, for example).
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or points to a writable
/// `shmkit_queue_slot`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_commit(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { end_slot(queue, slot, |q, s| q.commit(s)) }
    }
}

/// Gives the reserved slot `*slot` up unpublished (consumers skip it) and sets
/// `slot->data` to NULL. `SHMKIT_INVALID_ARGUMENT` as for `shmkit_queue_commit`.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or points to a writable
/// `shmkit_queue_slot`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_abort(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { end_slot(queue, slot, |q, s| q.abort(s)) }
    }
}

/// Takes the oldest element to read it in place, waiting while the queue is empty: at
/// most `timeout_ns` nanoseconds, forever if negative. On success `*slot` describes it:
/// read `type->size` bytes at `slot->data`, then `shmkit_queue_release`.
///
/// Returns `SHMKIT_TIMEOUT`, `SHMKIT_CLOSED` (closed and drained).
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_get_ref(
    queue: *const shmkit_queue,
    timeout_ns: i64,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(slot, "slot")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let s = q.get_ref(args::timeout(timeout_ns))?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { publish_slot(q, out, s) }
    }
}

/// `shmkit_queue_get_ref` if an element is there now; `SHMKIT_WOULD_BLOCK` when empty,
/// `SHMKIT_CLOSED` when closed and drained.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_try_get_ref(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        let out = Out::new(slot, "slot")?;
        // SAFETY:
        // - NULL or a live handle (the caller's contract).
        let q = unsafe { handle::get(queue) }?;
        let s = q.try_get_ref()?;
        // SAFETY:
        // - `out` is writable (the caller's contract).
        unsafe { publish_slot(q, out, s) }
    }
}

/// Hands the taken slot `*slot` back to the producers and sets `slot->data` to NULL.
/// `SHMKIT_INVALID_ARGUMENT`, changing nothing, if `*slot` is not an element this
/// process holds on this queue.
///
/// # Safety
/// `queue` is NULL or a live handle; `slot` is NULL or points to a writable
/// `shmkit_queue_slot`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shmkit_queue_release(
    queue: *const shmkit_queue,
    slot: *mut shmkit_queue_slot,
) -> shmkit_status {
    ffi_boundary! {
        // SAFETY:
        // - the caller's contract, as documented above.
        unsafe { end_slot(queue, slot, |q, s| q.release(s)) }
    }
}
