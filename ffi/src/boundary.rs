//! The panic boundary and the thread-local last error.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use shmkit_core::Error;

use crate::status::shmkit_status;

/// Why an exported call failed: the status code and the detailed message.
#[derive(Debug)]
pub struct Failure {
    pub(crate) status: shmkit_status,
    pub(crate) message: String,
}

impl Failure {
    /// A failure with its own message.
    pub fn new(status: shmkit_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// `SHMKIT_NULL_ARGUMENT` naming the argument.
    pub fn null(what: &str) -> Failure {
        Failure::new(
            shmkit_status::SHMKIT_NULL_ARGUMENT,
            format!("`{what}` is NULL"),
        )
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            status: shmkit_status::of(&e),
            message: e.to_string(),
        }
    }
}

impl<G> From<shmkit_core::LockError<G>> for Failure {
    fn from(e: shmkit_core::LockError<G>) -> Failure {
        Error::from(e).into()
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|l| *l.borrow_mut() = c);
}

pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|l| l.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    format!("shmkit panicked: {what}")
}

/// Runs an exported body: `Ok` gives `SHMKIT_OK`; a failure records its message and
/// gives its code; a panic is caught and gives `SHMKIT_PANIC`.
pub fn run(body: impl FnOnce() -> Result<(), Failure>) -> shmkit_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => shmkit_status::SHMKIT_OK,
        Ok(Err(f)) => {
            set_last_error(&f.message);
            f.status
        }
        Err(payload) => {
            set_last_error(&panic_message(&*payload));
            shmkit_status::SHMKIT_PANIC
        }
    }
}

/// [`run`] for the few functions that return a value instead of a status: a failure or
/// a panic gives `default`.
pub fn run_or<T>(default: T, body: impl FnOnce() -> Result<T, Failure>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(f)) => {
            set_last_error(&f.message);
            default
        }
        Err(payload) => {
            set_last_error(&panic_message(&*payload));
            default
        }
    }
}

/// The one wrapper of every exported body, so that no panic crosses into C.
///
/// `ffi_boundary! { ...; Ok(()) }` evaluates the body as a
/// `Result<(), Failure>` (`?` works on library errors) and returns a `shmkit_status`;
/// `ffi_boundary! { default: expr; ... }` returns the body's value, or `expr` on failure.
macro_rules! ffi_boundary {
    (default: $default:expr; $($body:tt)*) => {
        $crate::boundary::run_or($default, || { $($body)* })
    };
    ($($body:tt)*) => {
        $crate::boundary::run(|| -> ::std::result::Result<(), $crate::boundary::Failure> {
            $($body)*
        })
    };
}
