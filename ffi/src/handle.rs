//! Opaque handles: boxing on `_create`/`_open`, checked borrowing, `_close`.

use crate::args::Out;
use crate::boundary::Failure;
use crate::status::shmkit_status;

/// An opaque C handle around a Rust object. The `magic` field tells handles of
/// different kinds apart (a cast pointer gives `SHMKIT_INVALID_HANDLE`).
pub trait Handle: Sized {
    /// The Rust object inside.
    type Inner;
    /// A constant unique to the handle kind.
    const MAGIC: u64;
    /// The kind's name, for messages.
    const WHAT: &'static str;
    /// Wraps the object.
    fn wrap(inner: Self::Inner) -> Self;
    /// The stored magic.
    fn magic(&self) -> u64;
    /// The object.
    fn inner(&self) -> &Self::Inner;
    /// Clears the magic before the handle is freed.
    fn forget_magic(&mut self);
}

/// Borrows the object behind a handle argument.
///
/// # Safety
/// `p` is NULL or a handle returned by this library and not yet closed.
pub unsafe fn get<'a, H: Handle + 'a>(p: *const H) -> Result<&'a H::Inner, Failure> {
    if p.is_null() {
        return Err(Failure::null(H::WHAT));
    }
    // SAFETY:
    // - non-NULL and a live handle (the caller's contract), so a valid `H` that
    //   lives until `_close`, which the caller does not run concurrently.
    let h = unsafe { &*p };
    if h.magic() != H::MAGIC {
        return Err(Failure::new(
            shmkit_status::SHMKIT_INVALID_HANDLE,
            format!("the pointer is not a live {} handle", H::WHAT),
        ));
    }
    Ok(h.inner())
}

/// Boxes `inner` into a new handle and writes it to `out`.
///
/// # Safety
/// `out` was made from a pointer valid for a write of `*mut H`.
pub unsafe fn publish<H: Handle>(out: Out<*mut H>, inner: H::Inner) {
    let p = Box::into_raw(Box::new(H::wrap(inner)));
    // SAFETY:
    // - valid for the write (the caller's contract).
    unsafe { out.write(p) };
}

/// Checks `out` and `name`, makes the object from the name with `make`, and publishes
/// a new handle to it: the body of every `_create` / `_open` / `_open_or_create`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or valid for a write of `*mut H`.
pub unsafe fn publish_named<H: Handle>(
    name: *const std::ffi::c_char,
    out: *mut *mut H,
    make: impl FnOnce(&str) -> Result<H::Inner, shmkit_core::Error>,
) -> Result<(), Failure> {
    let out = crate::args::Out::new(out, "out")?;
    // SAFETY:
    // - NULL or NUL-terminated (the caller's contract).
    let inner = make(unsafe { crate::args::name(name) }?)?;
    // SAFETY:
    // - `out` is writable (the caller's contract).
    unsafe { publish(out, inner) };
    Ok(())
}

/// Closes the handle at `*pp` (if not NULL already) and sets `*pp` to NULL. `before`
/// runs on the object first (to release a lock the calling thread still holds).
///
/// # Safety
/// `pp` is NULL or valid for reads and writes of a `*mut H` that is NULL or a live
/// handle from this library, not used by another thread during the call.
pub unsafe fn close<H: Handle>(
    pp: *mut *mut H,
    before: impl FnOnce(&H::Inner),
) -> Result<(), Failure> {
    if pp.is_null() {
        return Err(Failure::null(H::WHAT));
    }
    // SAFETY:
    // - `pp` is non-NULL and valid for reads (the caller's contract).
    let p = unsafe { *pp };
    if p.is_null() {
        return Ok(());
    }
    // SAFETY:
    // - a non-NULL `*pp` is a live handle (the caller's contract).
    unsafe { get(p) }?;
    // SAFETY:
    // - `p` came from `Box::into_raw` in `publish` (the magic matched) and is
    //   closed only once: `*pp` is cleared below and the caller does not share it.
    let mut boxed = unsafe { Box::from_raw(p) };
    before(boxed.inner());
    boxed.forget_magic();
    drop(boxed);
    // SAFETY:
    // - valid for writes (the caller's contract).
    unsafe { *pp = std::ptr::null_mut() };
    Ok(())
}

/// Implements [`Handle`] for an opaque handle struct `{ magic: u64, inner: Inner }`.
macro_rules! impl_handle {
    ($handle:ident, $inner:ty, $magic:expr, $what:literal) => {
        impl $crate::handle::Handle for $handle {
            type Inner = $inner;
            const MAGIC: u64 = $magic;
            const WHAT: &'static str = $what;
            fn wrap(inner: $inner) -> Self {
                $handle {
                    magic: $magic,
                    inner,
                }
            }
            fn magic(&self) -> u64 {
                self.magic
            }
            fn inner(&self) -> &$inner {
                &self.inner
            }
            fn forget_magic(&mut self) {
                self.magic = 0;
            }
        }
    };
}
pub(crate) use impl_handle;
