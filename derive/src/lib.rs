//! The `#[shareable]` attribute of [shmkit](https://docs.rs/shmkit).
//!
//! ```text
//! #[shmkit::shareable(name = "point")]
//! #[derive(Clone, Copy, Debug)]
//! #[repr(C)]
//! struct Point { x: f64, y: f64 }
//! ```
//!
//! expands to the struct with zerocopy's `FromBytes`, `IntoBytes`, `Immutable` and
//! `KnownLayout` derived (through shmkit's re-export, so the user needs no zerocopy
//! dependency) and an implementation of `shmkit::Shareable` whose type name is `name`
//! (the struct's own name when omitted). zerocopy's derives refuse any type that has
//! padding, pointers or invalid bit patterns, so only plain data can be shared.
#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use quote::quote;
use syn::{Item, LitStr, parse_macro_input, spanned::Spanned};

/// Marks a `#[repr(C)]` struct (or `#[repr(transparent)]`) as a type that can live in a
/// shared-memory segment. See the crate docs.
#[proc_macro_attribute]
pub fn shareable(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut type_name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            type_name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("unknown #[shareable] option; expected `name = \"...\"`"))
        }
    });
    parse_macro_input!(attr with parser);

    let item = parse_macro_input!(item as Item);
    let (ident, generics, attrs) = match &item {
        Item::Struct(s) => (&s.ident, &s.generics, &s.attrs),
        other => {
            return syn::Error::new(other.span(), "#[shareable] applies to structs only")
                .to_compile_error()
                .into();
        }
    };
    if !generics.params.is_empty() {
        return syn::Error::new(generics.span(), "#[shareable] structs cannot be generic")
            .to_compile_error()
            .into();
    }
    let has_repr = attrs.iter().any(|a| {
        a.path().is_ident("repr") && {
            let mut ok = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path.is_ident("C") || m.path.is_ident("transparent") {
                    ok = true;
                }
                Ok(())
            });
            ok
        }
    });
    if !has_repr {
        return syn::Error::new(
            ident.span(),
            "#[shareable] needs #[repr(C)] (or #[repr(transparent)]) so that Rust and C agree on the layout",
        )
        .to_compile_error()
        .into();
    }
    let name = type_name
        .map(|l| l.value())
        .unwrap_or_else(|| ident.to_string());
    if name.is_empty() || name.len() > 63 || name.bytes().any(|b| b == 0) {
        return syn::Error::new(
            ident.span(),
            "#[shareable] type names must be 1 to 63 bytes without NUL",
        )
        .to_compile_error()
        .into();
    }
    quote! {
        #[derive(
            ::shmkit::zerocopy::FromBytes,
            ::shmkit::zerocopy::IntoBytes,
            ::shmkit::zerocopy::Immutable,
            ::shmkit::zerocopy::KnownLayout
        )]
        #[zerocopy(crate = "::shmkit::zerocopy")]
        #item

        impl ::shmkit::Shareable for #ident {
            const TYPE_NAME: &'static str = #name;
        }
    }
    .into()
}
