//! The pool's wire format: a serde data format with fixed-width numbers, for the
//! arguments and results that travel between a pool and its workers.
//!
//! postcard (used by the queues' serde layers) writes integers as varints: compact, but
//! each one costs a loop of byte-sized steps to write and to read. A pool chunk is often
//! thousands of small numbers encoded and decoded four times (arguments out and in,
//! results out and in), and that was the pool's bottleneck. Here every number is its
//! little-endian bytes, so a sequence of numbers encodes and decodes at close to `memcpy`
//! speed. Both ends are the same binary, so the format needs no versioning.
//!
//! | value | bytes |
//! |---|---|
//! | `bool` | 1 byte, 0 or 1 |
//! | integers, `f32`, `f64` | their size, little-endian |
//! | `char` | its scalar value as a `u32` |
//! | `str`, bytes | length (`u64`), then the bytes |
//! | `Option` | 0, or 1 then the value |
//! | unit, unit struct | nothing |
//! | sequence, map | length (`u64`), then the elements (a map's as key, value) |
//! | tuple, struct, newtype | the fields in order |
//! | enum | variant index (`u32`), then its fields |
//!
//! The format is not self-describing: `deserialize_any` is an error, as in postcard.
//!
//! ## Untrusted input
//! Decoding checks every length against the bytes left, so hostile bytes give an error,
//! never a read out of bounds. A sequence's length is also its loop count: for elements
//! that take no bytes (`()`), nothing else bounds it, so such a length may not exceed
//! the bytes left or [`ZERO_SIZED_LIMIT`], whichever is larger.
#![forbid(unsafe_code)]

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// The largest sequence length accepted beyond the input's length (see the module docs).
pub(crate) const ZERO_SIZED_LIMIT: u64 = 1 << 20;

/// An encoding or decoding failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

impl ser::Error for WireError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        WireError(msg.to_string())
    }
}

impl de::Error for WireError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        WireError(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, WireError>;

fn error(msg: &str) -> WireError {
    WireError(msg.to_string())
}

// ---- encoding ----

/// Appends the encoding of `value` to `out`.
#[cfg(test)]
pub(crate) fn encode_into<T: Serialize + ?Sized>(value: &T, out: Vec<u8>) -> Result<Vec<u8>> {
    let mut s = Encoder { out };
    s.put(value)?;
    Ok(s.out)
}

/// The encoding of `value`.
#[cfg(test)]
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    encode_into(value, Vec::new())
}

/// Writes values one after another into a byte vector; a sequence can be written item
/// by item as they come ([`Encoder::begin_seq`], [`Encoder::end_seq`]).
pub(crate) struct Encoder {
    pub(crate) out: Vec<u8>,
}

impl Encoder {
    /// Appends to `out`.
    pub(crate) fn new(out: Vec<u8>) -> Self {
        Encoder { out }
    }

    /// Appends the encoding of `value`.
    #[inline]
    pub(crate) fn put<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self)
    }

    /// Starts a sequence whose length is not known yet; returns where the length goes.
    pub(crate) fn begin_seq(&mut self) -> usize {
        self.len(0);
        self.out.len() - 8
    }

    /// Ends the sequence started at `at` with `count` elements.
    pub(crate) fn end_seq(&mut self, at: usize, count: usize) {
        self.out[at..at + 8].copy_from_slice(&(count as u64).to_le_bytes());
    }

    #[inline]
    fn len(&mut self, n: usize) {
        self.out.extend_from_slice(&(n as u64).to_le_bytes());
    }
}

/// A sequence or map being written: where its length goes when it was not known in
/// advance, and how many elements it got.
pub(crate) struct Compound<'a> {
    enc: &'a mut Encoder,
    patch: Option<usize>,
    count: usize,
}

impl Compound<'_> {
    fn finish(self) {
        if let Some(at) = self.patch {
            self.enc.end_seq(at, self.count);
        }
    }
}

macro_rules! put_le {
    ($($method:ident: $t:ty),*) => {$(
        #[inline]
        fn $method(self, v: $t) -> Result<()> {
            self.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Encoder {
    type Ok = ();
    type Error = WireError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    put_le!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128, serialize_f32: f32, serialize_f64: f64
    );

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.push(u8::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.out.push(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_u32(u32::from(v))
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        self.serialize_bytes(v.as_bytes())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.len(v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<()> {
        self.out.push(0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<()> {
        self.out.push(1);
        v.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<()> {
        self.serialize_u32(index)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<()> {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        v: &T,
    ) -> Result<()> {
        self.serialize_u32(index)?;
        v.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>> {
        let patch = match len {
            Some(n) => {
                self.len(n);
                None
            }
            None => Some(self.begin_seq()),
        };
        Ok(Compound {
            enc: self,
            patch,
            count: 0,
        })
    }

    fn serialize_tuple(self, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self> {
        self.serialize_u32(index)?;
        Ok(self)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>> {
        self.serialize_seq(len)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self> {
        // The same bytes as a tuple variant: the index, then the fields in order.
        self.serialize_tuple_variant(name, index, variant, len)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = WireError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.count += 1;
        v.serialize(&mut *self.enc)
    }

    fn end(self) -> Result<()> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = WireError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.count += 1;
        k.serialize(&mut *self.enc)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        v.serialize(&mut *self.enc)
    }

    fn end(self) -> Result<()> {
        self.finish();
        Ok(())
    }
}

/// Tuples, structs and their variants: the fields one after another.
macro_rules! fields_in_order {
    ($($tr:ident, $method:ident $(, $key:ident)?;)*) => {$(
        impl ser::$tr for &mut Encoder {
            type Ok = ();
            type Error = WireError;

            #[inline]
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                v: &T,
            ) -> Result<()> {
                $(let _ = $key;)?
                v.serialize(&mut **self)
            }

            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}

fields_in_order! {
    SerializeTuple, serialize_element;
    SerializeTupleStruct, serialize_field;
    SerializeTupleVariant, serialize_field;
    SerializeStruct, serialize_field, key;
    SerializeStructVariant, serialize_field, key;
}

// ---- decoding ----

/// Decodes a `T` that must use all of `bytes`.
pub(crate) fn decode<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let mut d = Decoder::new(bytes);
    let v = T::deserialize(&mut d)?;
    d.end()?;
    Ok(v)
}

/// Reads values out of a byte slice.
pub(crate) struct Decoder<'de> {
    input: &'de [u8],
}

impl<'de> Decoder<'de> {
    pub(crate) fn new(input: &'de [u8]) -> Self {
        Decoder { input }
    }

    /// Fails unless every byte was used.
    pub(crate) fn end(&self) -> Result<()> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(error("trailing bytes after the value"))
        }
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        if self.input.len() < n {
            return Err(error("the input ends in the middle of a value"));
        }
        let (head, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        match self.input.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.input = rest;
                Ok(*head)
            }
            None => Err(error("the input ends in the middle of a value")),
        }
    }

    /// Reads the next value.
    #[inline]
    pub(crate) fn value<T: de::Deserialize<'de>>(&mut self) -> Result<T> {
        T::deserialize(&mut *self)
    }

    /// A sequence's element count, bounded (see the module docs): the sequence's
    /// elements follow, to be read one by one with [`Decoder::value`].
    pub(crate) fn count(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.array()?);
        if n > (self.input.len() as u64).max(ZERO_SIZED_LIMIT) {
            return Err(error("a sequence longer than its input"));
        }
        Ok(n as usize)
    }

    /// A string's or byte string's length, checked against the input.
    fn byte_len(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.array()?);
        if n > self.input.len() as u64 {
            return Err(error("a string longer than its input"));
        }
        Ok(n as usize)
    }
}

macro_rules! get_le {
    ($($method:ident: $t:ty => $visit:ident),*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
            v.$visit(<$t>::from_le_bytes(self.array()?))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = WireError;

    get_le!(
        deserialize_i8: i8 => visit_i8, deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32, deserialize_i64: i64 => visit_i64,
        deserialize_i128: i128 => visit_i128, deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16, deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64, deserialize_u128: u128 => visit_u128,
        deserialize_f32: f32 => visit_f32, deserialize_f64: f64 => visit_f64
    );

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(error(
            "the pool's wire format is not self-describing (deserialize_any)",
        ))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.array::<1>()?[0] {
            0 => v.visit_bool(false),
            1 => v.visit_bool(true),
            _ => Err(error("a bool that is neither 0 nor 1")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let c = char::from_u32(u32::from_le_bytes(self.array()?))
            .ok_or_else(|| error("a char that is not a Unicode scalar value"))?;
        v.visit_char(c)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let n = self.byte_len()?;
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| error("a str that is not UTF-8"))?;
        v.visit_borrowed_str(s)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let n = self.byte_len()?;
        v.visit_borrowed_bytes(self.take(n)?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        match self.array::<1>()?[0] {
            0 => v.visit_none(),
            1 => v.visit_some(self),
            _ => Err(error("an Option tag that is neither 0 nor 1")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value> {
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let left = self.count()?;
        v.visit_seq(Elements { d: self, left })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        v.visit_seq(Elements { d: self, left: len })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let left = self.count()?;
        v.visit_map(Elements { d: self, left })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        v.visit_enum(self)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_u32(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(error(
            "the pool's wire format cannot skip a value (deserialize_ignored_any)",
        ))
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a sequence, tuple or map, `left` of them still to read.
struct Elements<'a, 'de> {
    d: &'a mut Decoder<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = WireError;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.d).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Elements<'_, 'de> {
    type Error = WireError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.d).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.d)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::EnumAccess<'de> for &mut Decoder<'de> {
    type Error = WireError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let index = u32::from_le_bytes(self.array()?);
        let v = seed.deserialize(index.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Decoder<'de> {
    type Error = WireError;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, len, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(self, fields.len(), v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u32, h: u32 },
        Path(Vec<(i16, i16)>, bool),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Job {
        id: u64,
        name: String,
        tags: Vec<String>,
        shape: Shape,
        parent: Option<Box<Job>>,
        weights: BTreeMap<char, i128>,
        unit: (),
        raw: serde_bytes_like::Raw,
    }

    /// A byte string through serialize_bytes/deserialize_bytes (what serde_bytes does).
    mod serde_bytes_like {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Raw(pub Vec<u8>);

        impl serde::Serialize for Raw {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for Raw {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = Raw;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
                        Ok(Raw(v.to_vec()))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            Just(Shape::Dot),
            any::<f64>()
                .prop_filter("NaN never equals itself", |x| !x.is_nan())
                .prop_map(Shape::Circle),
            (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
            (
                proptest::collection::vec(any::<(i16, i16)>(), 0..8),
                any::<bool>()
            )
                .prop_map(|(p, b)| Shape::Path(p, b)),
        ]
    }

    fn leaf() -> impl Strategy<Value = Job> {
        (
            any::<u64>(),
            ".*",
            proptest::collection::vec(".{0,4}", 0..4),
            shape(),
            proptest::collection::btree_map(any::<char>(), any::<i128>(), 0..4),
            proptest::collection::vec(any::<u8>(), 0..16),
        )
            .prop_map(|(id, name, tags, shape, weights, raw)| Job {
                id,
                name,
                tags,
                shape,
                parent: None,
                weights,
                unit: (),
                raw: serde_bytes_like::Raw(raw),
            })
    }

    fn job() -> impl Strategy<Value = Job> {
        (leaf(), proptest::option::of(leaf())).prop_map(|(mut j, p)| {
            j.parent = p.map(Box::new);
            j
        })
    }

    proptest! {
        #[test]
        fn every_value_comes_back(j in job()) {
            let bytes = encode(&j).unwrap();
            prop_assert_eq!(decode::<Job>(&bytes).unwrap(), j);
        }

        /// Any prefix of a valid encoding, and any bytes at all, decode to an error or a
        /// value, never a panic, and in bounded time.
        #[test]
        fn hostile_bytes_give_errors(j in job(), cut in any::<prop::sample::Index>(),
                                     junk in proptest::collection::vec(any::<u8>(), 0..256)) {
            let bytes = encode(&j).unwrap();
            let short = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode::<Job>(short).is_err());
            let _ = decode::<Job>(&junk);
            let _ = decode::<Vec<()>>(&junk);
            let _ = decode::<Vec<Vec<u64>>>(&junk);
        }
    }

    #[test]
    fn numbers_are_fixed_width_little_endian() {
        assert_eq!(
            encode(&(1u8, -2i16, 3u32, 4u64)).unwrap(),
            [
                &[1u8][..],
                &(-2i16).to_le_bytes(),
                &3u32.to_le_bytes(),
                &4u64.to_le_bytes()
            ]
            .concat()
        );
        let v: Vec<u64> = (0..100).collect();
        let bytes = encode(&v).unwrap();
        assert_eq!(bytes.len(), 8 + 100 * 8);
        assert_eq!(&bytes[..8], &100u64.to_le_bytes());
        assert_eq!(decode::<Vec<u64>>(&bytes).unwrap(), v);
    }

    #[test]
    fn bad_input_is_named() {
        let e = |r: Result<bool>| r.unwrap_err().to_string();
        assert!(e(decode::<bool>(&[2])).contains("neither 0 nor 1"));
        assert!(e(decode::<bool>(&[])).contains("ends in the middle"));
        assert!(e(decode::<bool>(&[1, 0])).contains("trailing bytes"));
        let huge = u64::MAX.to_le_bytes();
        assert!(
            decode::<Vec<()>>(&huge)
                .unwrap_err()
                .to_string()
                .contains("longer than its input")
        );
        assert!(
            decode::<String>(&huge)
                .unwrap_err()
                .to_string()
                .contains("longer than its input")
        );
        let not_utf8 = [&2u64.to_le_bytes()[..], &[0xff, 0xfe]].concat();
        assert!(
            decode::<String>(&not_utf8)
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        assert!(decode::<char>(&0xD800u32.to_le_bytes()).is_err());
        // Zero-sized elements: up to the limit, and no further.
        let ok = ZERO_SIZED_LIMIT.to_le_bytes();
        assert_eq!(
            decode::<Vec<()>>(&ok).unwrap().len(),
            ZERO_SIZED_LIMIT as usize
        );
        let over = (ZERO_SIZED_LIMIT + 1).to_le_bytes();
        assert!(decode::<Vec<()>>(&over).is_err());
    }

    #[test]
    fn sequences_of_unknown_length_are_counted() {
        struct Odd(Vec<u32>);
        impl Serialize for Odd {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().filter(|x| *x % 2 == 1))
            }
        }
        let bytes = encode(&Odd((0..10).collect())).unwrap();
        assert_eq!(decode::<Vec<u32>>(&bytes).unwrap(), vec![1, 3, 5, 7, 9]);
    }
}
