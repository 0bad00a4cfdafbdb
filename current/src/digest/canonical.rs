//! The canonical encoding `current-canonical-v1`: a deterministic, self-delimiting,
//! type-tagged byte form of any [`serde::Serialize`] value, made to be hashed.
//!
//! ```
//! use std::collections::{BTreeMap, HashMap};
//! use current::digest::canonical;
//!
//! // A `HashMap` and a `BTreeMap` with the same entries encode the same way.
//! let hashed: HashMap<&str, u32> = [("b", 2), ("a", 1)].into_iter().collect();
//! let ordered: BTreeMap<&str, u32> = [("a", 1), ("b", 2)].into_iter().collect();
//! assert_eq!(canonical::to_vec(&hashed)?, canonical::to_vec(&ordered)?);
//!
//! // Integers of different widths do not collide.
//! assert_ne!(canonical::to_vec(&1u8)?, canonical::to_vec(&1u32)?);
//! # Ok::<(), current::digest::EncodeError>(())
//! ```
//!
//! # The rules
//!
//! Every value starts with a one-byte tag naming its kind. Lengths and counts (`len`
//! below) are `u64` little-endian; a *name* is `len` then its UTF-8 bytes, with no tag.
//!
//! | value | bytes |
//! | --- | --- |
//! | `()` | `00` |
//! | `bool` | `01`, then `00` or `01` |
//! | `u8` `u16` `u32` `u64` `u128` | `10` `11` `12` `13` `14`, then the value little-endian at its width |
//! | `i8` `i16` `i32` `i64` `i128` | `18` `19` `1a` `1b` `1c`, then the value little-endian at its width |
//! | `f32` `f64` | `20` `21`, then the IEEE bits little-endian, every NaN as the quiet NaN `0x7fc0_0000` / `0x7ff8_0000_0000_0000`; `-0.0` and `0.0` stay distinct |
//! | `char` | `28`, then the scalar value as `u32` |
//! | string | `30`, `len`, UTF-8 bytes |
//! | bytes (`serialize_bytes`) | `31`, `len`, bytes |
//! | `None` / `Some(v)` | `40` / `41` then `v` |
//! | unit struct | `50` |
//! | unit variant | `51`, variant name |
//! | newtype struct | `52`, the value |
//! | newtype variant | `53`, variant name, the value |
//! | sequence | `60`, `len`, the elements |
//! | tuple (and `[T; N]`) | `61`, `len`, the elements |
//! | tuple struct | `62`, `len`, the elements |
//! | tuple variant | `63`, variant name, `len`, the elements |
//! | map | `70`, `len`, then key, value for each entry, **entries sorted by the encoded bytes of their keys** (bytewise) |
//! | struct | `71`, `len`, then field name, value for each field, **fields sorted by name** (bytewise) |
//! | struct variant | `72`, variant name, `len`, then the fields as for a struct |
//!
//! Consequences, all on purpose:
//!
//! - Map iteration order never matters: a `HashMap` and a `BTreeMap` (or a `Vec` of pairs
//!   serialized as a map) with the same contents encode to the same bytes. Two entries
//!   whose keys encode to the same bytes are an error ([`EncodeError::DuplicateMapKey`]),
//!   never a silent choice.
//! - Field names and variant names are part of the encoding, so renaming a field or a
//!   variant changes every digest that uses it; reordering the fields of a struct, or
//!   the variants of an enum, does not (variant *indices* are left out).
//! - The *names of types* are left out (structs, enums, newtypes), so renaming a type or
//!   moving it to another module keeps its digests. All unit structs encode as `50`.
//! - A field skipped by `#[serde(skip_serializing_if = ...)]` is simply absent, so adding
//!   an optional field that is skipped when `None` keeps old digests.
//! - The encoding is not human-readable ([`serde::Serializer::is_human_readable`] is
//!   `false`), so types with a compact binary form use it.
//!
//! The encoding is frozen: any change to these rules is a new encoding with a new
//! [`NAME`], because it would change every digest computed with it.

use std::fmt;
use std::ops::Range;

use serde::ser::{self, Serialize};

use super::EncodeError;

/// The name of this encoding, part of every key digest's frame.
pub const NAME: &str = "current-canonical-v1";

mod tag {
    pub const UNIT: u8 = 0x00;
    pub const BOOL: u8 = 0x01;
    pub const U8: u8 = 0x10;
    pub const U16: u8 = 0x11;
    pub const U32: u8 = 0x12;
    pub const U64: u8 = 0x13;
    pub const U128: u8 = 0x14;
    pub const I8: u8 = 0x18;
    pub const I16: u8 = 0x19;
    pub const I32: u8 = 0x1a;
    pub const I64: u8 = 0x1b;
    pub const I128: u8 = 0x1c;
    pub const F32: u8 = 0x20;
    pub const F64: u8 = 0x21;
    pub const CHAR: u8 = 0x28;
    pub const STR: u8 = 0x30;
    pub const BYTES: u8 = 0x31;
    pub const NONE: u8 = 0x40;
    pub const SOME: u8 = 0x41;
    pub const UNIT_STRUCT: u8 = 0x50;
    pub const UNIT_VARIANT: u8 = 0x51;
    pub const NEWTYPE_STRUCT: u8 = 0x52;
    pub const NEWTYPE_VARIANT: u8 = 0x53;
    pub const SEQ: u8 = 0x60;
    pub const TUPLE: u8 = 0x61;
    pub const TUPLE_STRUCT: u8 = 0x62;
    pub const TUPLE_VARIANT: u8 = 0x63;
    pub const MAP: u8 = 0x70;
    pub const STRUCT: u8 = 0x71;
    pub const STRUCT_VARIANT: u8 = 0x72;
}

/// The canonical encoding of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Append the canonical encoding of `value` to `out`. On error, `out` may hold a partial
/// encoding after its original contents.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    value.serialize(Encoder { out }).map_err(Error::into_public)
}

/// The encoder's own error: where it happened (innermost segment first, as the error
/// travels outwards) and what.
#[derive(Debug)]
struct Error {
    rev_path: Vec<String>,
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    DuplicateMapKey(String),
    DuplicateField(&'static str),
    Custom(String),
}

impl Error {
    fn new(kind: ErrorKind) -> Error {
        Error {
            rev_path: Vec::new(),
            kind,
        }
    }

    fn at(mut self, segment: impl FnOnce() -> String) -> Error {
        self.rev_path.push(segment());
        self
    }

    fn into_public(self) -> EncodeError {
        let mut path = String::from("$");
        for segment in self.rev_path.iter().rev() {
            path.push_str(segment);
        }
        match self.kind {
            ErrorKind::DuplicateMapKey(key) => EncodeError::DuplicateMapKey { path, key },
            ErrorKind::DuplicateField(field) => EncodeError::DuplicateField {
                path,
                field: field.to_string(),
            },
            ErrorKind::Custom(message) => EncodeError::Custom { path, message },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only seen if a `Serialize` impl formats the error of an inner value itself.
        match &self.kind {
            ErrorKind::DuplicateMapKey(key) => write!(f, "duplicate map key {key}"),
            ErrorKind::DuplicateField(field) => write!(f, "duplicate field `{field}`"),
            ErrorKind::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::new(ErrorKind::Custom(msg.to_string()))
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    put_len(out, name.len());
    out.extend_from_slice(name.as_bytes());
}

/// Reserve a `u64` count at the end of `out`; [`patch_len`] fills it in.
fn reserve_len(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 8]);
    at
}

fn patch_len(out: &mut [u8], at: usize, len: u64) {
    out[at..at + 8].copy_from_slice(&len.to_le_bytes());
}

/// A short printable form of an encoded map key, for errors: the string or number it
/// encodes when it is one, else its bytes in hex (cut after 32 bytes).
pub(crate) fn describe(encoded: &[u8]) -> String {
    let (Some(&tag), rest) = (encoded.first(), encoded.get(1..).unwrap_or(&[])) else {
        return "(empty)".to_string();
    };
    let int = |width: usize| -> Option<[u8; 16]> {
        (rest.len() == width).then(|| {
            let mut buf = [0u8; 16];
            buf[..width].copy_from_slice(rest);
            buf
        })
    };
    let described = match tag {
        tag::STR if rest.len() >= 8 => std::str::from_utf8(&rest[8..])
            .ok()
            .map(|s| format!("{s:?}")),
        tag::U8 | tag::U16 | tag::U32 | tag::U64 | tag::U128 => {
            int(1 << (tag - tag::U8)).map(|b| u128::from_le_bytes(b).to_string())
        }
        tag::I8 | tag::I16 | tag::I32 | tag::I64 | tag::I128 => {
            let width = 1usize << (tag - tag::I8);
            int(width).map(|b| {
                let shift = 128 - 8 * width as u32;
                ((i128::from_le_bytes(b) << shift) >> shift).to_string()
            })
        }
        _ => None,
    };
    described.unwrap_or_else(|| {
        let shown: String = encoded
            .iter()
            .take(32)
            .map(|b| format!("{b:02x}"))
            .collect();
        let more = if encoded.len() > 32 { "…" } else { "" };
        format!("0x{shown}{more} (encoded)")
    })
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn tagged(self, tag: u8, bytes: &[u8]) -> Result<(), Error> {
        self.out.push(tag);
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

impl<'a> ser::Serializer for Encoder<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Elements<'a>;
    type SerializeTuple = Elements<'a>;
    type SerializeTupleStruct = Elements<'a>;
    type SerializeTupleVariant = Elements<'a>;
    type SerializeMap = Entries<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Fields<'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.tagged(tag::BOOL, &[u8::from(v)])
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.tagged(tag::I8, &v.to_le_bytes())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.tagged(tag::I16, &v.to_le_bytes())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.tagged(tag::I32, &v.to_le_bytes())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.tagged(tag::I64, &v.to_le_bytes())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.tagged(tag::I128, &v.to_le_bytes())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.tagged(tag::U8, &v.to_le_bytes())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.tagged(tag::U16, &v.to_le_bytes())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.tagged(tag::U32, &v.to_le_bytes())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.tagged(tag::U64, &v.to_le_bytes())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.tagged(tag::U128, &v.to_le_bytes())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        let bits = if v.is_nan() {
            f32::NAN.to_bits()
        } else {
            v.to_bits()
        };
        self.tagged(tag::F32, &bits.to_le_bytes())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let bits = if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        };
        self.tagged(tag::F64, &bits.to_le_bytes())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.tagged(tag::CHAR, &u32::from(v).to_le_bytes())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.out.push(tag::STR);
        put_name(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.out.push(tag::BYTES);
        put_len(self.out, v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.tagged(tag::NONE, &[])
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.tagged(tag::UNIT, &[])
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.tagged(tag::UNIT_STRUCT, &[])
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.out.push(tag::UNIT_VARIANT);
        put_name(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(tag::NEWTYPE_STRUCT);
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(tag::NEWTYPE_VARIANT);
        put_name(self.out, variant);
        value
            .serialize(self)
            .map_err(|e| e.at(|| format!("::{variant}")))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Elements<'a>, Error> {
        Ok(Elements::start(self.out, tag::SEQ, None))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Elements<'a>, Error> {
        Ok(Elements::start(self.out, tag::TUPLE, None))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Elements<'a>, Error> {
        Ok(Elements::start(self.out, tag::TUPLE_STRUCT, None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Elements<'a>, Error> {
        Ok(Elements::start(self.out, tag::TUPLE_VARIANT, Some(variant)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Entries<'a>, Error> {
        Ok(Entries {
            out: self.out,
            scratch: Vec::new(),
            entries: Vec::new(),
            pending_key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, Error> {
        Ok(Fields::start(self.out, None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Fields<'a>, Error> {
        Ok(Fields::start(self.out, Some(variant)))
    }
}

/// The elements of a sequence, tuple, tuple struct or tuple variant: written in place,
/// their count patched in at the end (so sequences of unknown length need no buffer).
struct Elements<'a> {
    out: &'a mut Vec<u8>,
    count_at: usize,
    count: u64,
    variant: Option<&'static str>,
}

impl<'a> Elements<'a> {
    fn start(out: &'a mut Vec<u8>, tag: u8, variant: Option<&'static str>) -> Elements<'a> {
        out.push(tag);
        if let Some(variant) = variant {
            put_name(out, variant);
        }
        let count_at = reserve_len(out);
        Elements {
            out,
            count_at,
            count: 0,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let index = self.count;
        let variant = self.variant;
        value.serialize(Encoder { out: self.out }).map_err(|e| {
            e.at(|| match variant {
                Some(v) => format!("::{v}.{index}"),
                None => format!("[{index}]"),
            })
        })?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        patch_len(self.out, self.count_at, self.count);
        Ok(())
    }
}

impl ser::SerializeSeq for Elements<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Elements<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Elements<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Elements<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// The entries of a map, encoded into a scratch buffer and written out sorted by the
/// encoded bytes of their keys.
struct Entries<'a> {
    out: &'a mut Vec<u8>,
    scratch: Vec<u8>,
    /// (key bytes, value bytes) as ranges of `scratch`.
    entries: Vec<(Range<usize>, Range<usize>)>,
    pending_key: Option<Range<usize>>,
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let start = self.scratch.len();
        let index = self.entries.len();
        key.serialize(Encoder {
            out: &mut self.scratch,
        })
        .map_err(|e| e.at(|| format!("{{key #{index}}}")))?;
        self.pending_key = Some(start..self.scratch.len());
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let Some(key) = self.pending_key.take() else {
            return Err(ser::Error::custom(
                "serialize_value called before serialize_key",
            ));
        };
        let start = self.scratch.len();
        let result = value.serialize(Encoder {
            out: &mut self.scratch,
        });
        if let Err(e) = result {
            let shown = describe(&self.scratch[key.clone()]);
            return Err(e.at(|| format!("[{shown}]")));
        }
        self.entries.push((key, start..self.scratch.len()));
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        let Entries {
            out,
            scratch,
            mut entries,
            pending_key,
        } = self;
        if pending_key.is_some() {
            return Err(ser::Error::custom("a map key without a value"));
        }
        entries.sort_unstable_by(|(a, _), (b, _)| scratch[a.clone()].cmp(&scratch[b.clone()]));
        for pair in entries.windows(2) {
            let (a, b) = (&scratch[pair[0].0.clone()], &scratch[pair[1].0.clone()]);
            if a == b {
                return Err(Error::new(ErrorKind::DuplicateMapKey(describe(a))));
            }
        }
        out.push(tag::MAP);
        put_len(out, entries.len());
        for (key, value) in entries {
            out.extend_from_slice(&scratch[key]);
            out.extend_from_slice(&scratch[value]);
        }
        Ok(())
    }
}

/// The fields of a struct or struct variant, encoded into a scratch buffer and written
/// out sorted by name.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    variant: Option<&'static str>,
    scratch: Vec<u8>,
    fields: Vec<(&'static str, Range<usize>)>,
}

impl<'a> Fields<'a> {
    fn start(out: &'a mut Vec<u8>, variant: Option<&'static str>) -> Fields<'a> {
        Fields {
            out,
            variant,
            scratch: Vec::new(),
            fields: Vec::new(),
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), Error> {
        let start = self.scratch.len();
        let variant = self.variant;
        value
            .serialize(Encoder {
                out: &mut self.scratch,
            })
            .map_err(|e| {
                e.at(|| match variant {
                    Some(v) => format!("::{v}.{name}"),
                    None => format!(".{name}"),
                })
            })?;
        self.fields.push((name, start..self.scratch.len()));
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        let Fields {
            out,
            variant,
            scratch,
            mut fields,
        } = self;
        fields.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
        for pair in fields.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(Error::new(ErrorKind::DuplicateField(pair[0].0)));
            }
        }
        match variant {
            Some(variant) => {
                out.push(tag::STRUCT_VARIANT);
                put_name(out, variant);
            }
            None => out.push(tag::STRUCT),
        }
        put_len(out, fields.len());
        for (name, value) in fields {
            put_name(out, name);
            out.extend_from_slice(&scratch[value]);
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Fields<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_have_their_documented_bytes() {
        assert_eq!(to_vec(&()).ok(), Some(vec![0x00]));
        assert_eq!(to_vec(&true).ok(), Some(vec![0x01, 0x01]));
        assert_eq!(to_vec(&1u16).ok(), Some(vec![0x11, 1, 0]));
        assert_eq!(to_vec(&-1i8).ok(), Some(vec![0x18, 0xff]));
        assert_eq!(
            to_vec("ab").ok(),
            Some(vec![0x30, 2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b'])
        );
        assert_eq!(to_vec(&Some(1u8)).ok(), Some(vec![0x41, 0x10, 1]));
        assert_eq!(to_vec(&None::<u8>).ok(), Some(vec![0x40]));
    }

    #[test]
    fn keys_are_described_for_errors() {
        fn key<T: Serialize>(v: T) -> Vec<u8> {
            to_vec(&v).unwrap_or_default()
        }
        assert_eq!(describe(&key("CC")), "\"CC\"");
        assert_eq!(describe(&key(300u16)), "300");
        assert_eq!(describe(&key(-5i32)), "-5");
        assert_eq!(describe(&key(i128::MIN)), i128::MIN.to_string());
        assert_eq!(describe(&key(u128::MAX)), u128::MAX.to_string());
        assert_eq!(describe(&key((1u8,))), "0x6101000000000000001001 (encoded)");
        assert_eq!(describe(&[]), "(empty)");
    }
}
