//! What may live in a segment: [`Shareable`] types and their [`TypeDesc`].

use std::fmt;
use std::sync::atomic::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering,
};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A type that may live in a shared-memory segment.
///
/// The zerocopy supertraits guarantee that every bit pattern is a valid value and that
/// the type holds no pointers and no padding, so bytes written by any other process (even
/// a hostile one) can be read as a `Self` without undefined behaviour. `TYPE_NAME` is
/// recorded in the segment and checked, with the size and alignment, when the segment is
/// opened.
///
/// Implemented for `i8`..`i64`, `u8`..`u64`, `f32`, `f64`, `bool`-free byte arrays
/// `[u8; N]`, and for your own `#[repr(C)]` structs with the [`shareable`](crate::shareable)
/// attribute:
///
/// ```
/// #[shmkit::shareable(name = "point")]
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
/// assert_eq!(shmkit::TypeDesc::of::<Point>().name, "point");
/// ```
pub trait Shareable:
    FromBytes + IntoBytes + Immutable + KnownLayout + Copy + Send + Sync + 'static
{
    /// The name recorded in segments, 1 to 63 bytes (C programs use the same name).
    const TYPE_NAME: &'static str;
}

/// The descriptor of an element type: name, size and alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeDesc {
    /// The type's name (`"f64"`, `"point"`, ...).
    pub name: &'static str,
    /// `size_of::<T>()`.
    pub size: usize,
    /// `align_of::<T>()`.
    pub align: usize,
}

impl TypeDesc {
    /// The descriptor of `T`.
    pub fn of<T: Shareable>() -> TypeDesc {
        TypeDesc {
            name: T::TYPE_NAME,
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
        }
    }

    /// A descriptor made at run time (from a C program's `shmkit_type`, a config file,
    /// ...): it opens the same segments as the Rust type with that name, size and
    /// alignment.
    ///
    /// The name is interned for the life of the process (descriptors are `Copy` and
    /// carry a `&'static str`), so a process may use at most [`MAX_RUNTIME_TYPE_NAMES`]
    /// distinct runtime names.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if the name is empty or
    /// longer than 63 bytes, the size is 0 or not a multiple of the alignment, the
    /// alignment is not a power of two up to 4096, or too many names were interned.
    ///
    /// # Examples
    /// ```
    /// #[shmkit::shareable(name = "point")]
    /// #[derive(Clone, Copy)]
    /// #[repr(C)]
    /// struct Point { x: f64, y: f64 }
    /// let desc = shmkit::TypeDesc::runtime("point", 16, 8)?;
    /// assert_eq!(desc, shmkit::TypeDesc::of::<Point>());
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    pub fn runtime(name: &str, size: usize, align: usize) -> crate::Result<TypeDesc> {
        use crate::segment::{MAX_ELEM_ALIGN, MAX_TYPE_NAME};
        let bad = |why: String| {
            Err(crate::Error::InvalidArgument(format!(
                "type `{name}` (size {size}, align {align}): {why}"
            )))
        };
        if name.is_empty() || name.len() > MAX_TYPE_NAME {
            return bad(format!("the name must be 1 to {MAX_TYPE_NAME} bytes"));
        }
        if name.contains('\0') {
            return bad("the name contains a NUL byte".into());
        }
        if !align.is_power_of_two() || align as u64 > MAX_ELEM_ALIGN {
            return bad(format!(
                "the alignment must be a power of two up to {MAX_ELEM_ALIGN}"
            ));
        }
        if size == 0 || size % align != 0 {
            return bad("the size must be a nonzero multiple of the alignment".into());
        }
        Ok(TypeDesc {
            name: intern(name)?,
            size,
            align,
        })
    }

    /// The descriptor of segments that hold no elements (a standalone lock, ...).
    pub const NONE: TypeDesc = TypeDesc {
        name: "",
        size: 0,
        align: 1,
    };
}

/// How many distinct names [`TypeDesc::runtime`] interns per process.
pub const MAX_RUNTIME_TYPE_NAMES: usize = 4096;

/// One interned name: a node of a lock-free, grow-only list of leaked nodes.
struct Interned {
    name: &'static str,
    next: *const Interned,
}

/// Interns `name` for the life of the process. Lock-free, so a child forked while
/// another thread of the parent was in here can still use it (a lock held at the fork
/// would stay held forever in the child).
fn intern(name: &str) -> crate::Result<&'static str> {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    static HEAD: AtomicPtr<Interned> = AtomicPtr::new(std::ptr::null_mut());
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    /// The node named `name` among those reachable from `from`.
    fn find(mut p: *const Interned, name: &str) -> Option<&'static str> {
        while !p.is_null() {
            // SAFETY: every pointer in the list (HEAD and each `next`) comes from
            // Box::leak of a node that is never freed nor changed after it is published
            // by the compare-and-swap below (Release, read here after an Acquire load).
            let node: &'static Interned = unsafe { &*p };
            if node.name == name {
                return Some(node.name);
            }
            p = node.next;
        }
        None
    }

    let mut head = HEAD.load(Ordering::Acquire);
    if let Some(known) = find(head, name) {
        return Ok(known);
    }
    // Bounded: MAX_RUNTIME_TYPE_NAMES names of at most 63 bytes each (a race between two
    // threads interning the same new name may leak one extra node).
    if COUNT.fetch_add(1, Ordering::Relaxed) >= MAX_RUNTIME_TYPE_NAMES {
        COUNT.fetch_sub(1, Ordering::Relaxed);
        return Err(crate::Error::InvalidArgument(format!(
            "more than {MAX_RUNTIME_TYPE_NAMES} distinct runtime type names in one process"
        )));
    }
    let node: &'static mut Interned = Box::leak(Box::new(Interned {
        name: Box::leak(name.to_owned().into_boxed_str()),
        next: head,
    }));
    loop {
        match HEAD.compare_exchange(head, &mut *node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(node.name),
            Err(now) => {
                // Someone else pushed meanwhile: maybe this very name.
                if let Some(known) = find(now, name) {
                    COUNT.fetch_sub(1, Ordering::Relaxed);
                    return Ok(known);
                }
                head = now;
                node.next = now;
            }
        }
    }
}

impl fmt::Display for TypeDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (size {}, align {})",
            self.name, self.size, self.align
        )
    }
}

macro_rules! shareable_prims {
    ($($t:ty => $name:literal),* $(,)?) => {
        $(impl Shareable for $t { const TYPE_NAME: &'static str = $name; })*
    };
}

shareable_prims! {
    i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64",
    u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64",
    f32 => "f32", f64 => "f64",
}

macro_rules! shareable_byte_arrays {
    ($($n:literal),* $(,)?) => {
        $(impl Shareable for [u8; $n] { const TYPE_NAME: &'static str = concat!("u8x", $n); })*
    };
}

shareable_byte_arrays!(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096);

mod sealed {
    pub trait Sealed {}
}

/// Integer element types with lock-free atomic operations in a segment
/// ([`Value::fetch_add`](crate::Value::fetch_add) and friends).
///
/// Sealed: implemented for `i8`..`i64` and `u8`..`u64`.
pub trait AtomicInt: Shareable + sealed::Sealed + PartialEq {
    #[doc(hidden)]
    type Atomic;
    #[doc(hidden)]
    /// # Safety
    /// `p` is aligned for `Self`, valid for the lifetime `'a` and only accessed
    /// atomically (or under a lock that excludes atomic access) by anyone else.
    unsafe fn atomic<'a>(p: *mut Self) -> &'a Self::Atomic;
    #[doc(hidden)]
    fn load(a: &Self::Atomic, o: Ordering) -> Self;
    #[doc(hidden)]
    fn store(a: &Self::Atomic, v: Self, o: Ordering);
    #[doc(hidden)]
    fn swap(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_add(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_sub(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_and(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_or(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_xor(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_max(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn fetch_min(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn compare_exchange(a: &Self::Atomic, current: Self, new: Self) -> Result<Self, Self>;
}

macro_rules! atomic_ints {
    ($($t:ty => $a:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl AtomicInt for $t {
            type Atomic = $a;
            unsafe fn atomic<'a>(p: *mut Self) -> &'a $a {
                // SAFETY:
                // - the atomic type has the same size and alignment as the integer.
                // - the caller guarantees `p` is aligned, valid for 'a, and accessed
                //   only atomically by others.
                unsafe { <$a>::from_ptr(p) }
            }
            fn load(a: &$a, o: Ordering) -> Self { a.load(o) }
            fn store(a: &$a, v: Self, o: Ordering) { a.store(v, o) }
            fn swap(a: &$a, v: Self, o: Ordering) -> Self { a.swap(v, o) }
            fn fetch_add(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_add(v, o) }
            fn fetch_sub(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_sub(v, o) }
            fn fetch_and(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_and(v, o) }
            fn fetch_or(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_or(v, o) }
            fn fetch_xor(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_xor(v, o) }
            fn fetch_max(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_max(v, o) }
            fn fetch_min(a: &$a, v: Self, o: Ordering) -> Self { a.fetch_min(v, o) }
            fn compare_exchange(a: &$a, current: Self, new: Self) -> Result<Self, Self> {
                // Sequentially consistent, like every other atomic operation of a Value.
                a.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst)
            }
        }
    )*};
}

atomic_ints! {
    i8 => AtomicI8, i16 => AtomicI16, i32 => AtomicI32, i64 => AtomicI64,
    u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::intern;

    /// Threads racing to intern the same new names all get the same `&'static str`.
    #[test]
    fn racing_threads_intern_one_copy_of_each_name() {
        let names: Vec<String> = (0..64).map(|i| format!("intern-race-{i}")).collect();
        let results: Vec<Vec<&'static str>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let names = &names;
                    s.spawn(move || {
                        // Each thread walks the names in its own order.
                        (0..names.len())
                            .map(|i| intern(&names[(i * (2 * t + 1)) % names.len()]).unwrap())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (t, got) in results.iter().enumerate() {
            for (i, s) in got.iter().enumerate() {
                let name = &names[(i * (2 * t + 1)) % names.len()];
                assert_eq!(s, name);
                assert!(
                    std::ptr::eq(*s, intern(name).unwrap()),
                    "{name} interned twice"
                );
            }
        }
    }
}
