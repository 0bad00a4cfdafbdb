//! Short, human-readable renderings of [`serde::Serialize`] values, for labels.
//!
//! The diagram label of a cached build step shows its key, which can be any
//! `Serialize` value; [`describe`] turns it into a short line of text.
//!
//! ```
//! use current::describe::describe;
//!
//! #[derive(serde::Serialize)]
//! struct Commit {
//!     repo: String,
//!     hash: String,
//! }
//!
//! let commit = Commit { repo: "/src/x".into(), hash: "abc123".into() };
//! // Several key arguments: a top-level tuple, its elements joined by spaces.
//! assert_eq!(describe(&("main", "abc123")), "main abc123");
//! assert_eq!(describe(&("main", &commit)), "main {repo: /src/x, hash: abc123}");
//! // A top-level struct loses its braces.
//! assert_eq!(describe(&commit), "repo: /src/x, hash: abc123");
//! // Strings that could be misread are quoted.
//! assert_eq!(describe(&vec!["a b", "", "c"]), r#"["a b", "", c]"#);
//! assert_eq!(describe(&Some(1.5)), "1.5");
//! // Long values are cut at 100 chars.
//! assert_eq!(describe(&"x".repeat(500)), format!("{}…", "x".repeat(99)));
//! ```
//!
//! # The rules
//!
//! | value | rendering |
//! | --- | --- |
//! | `bool`, integers, floats | their `Display`: `true`, `-3`, `1.5`, `NaN` |
//! | `char`, string | as is (`main`), or with Rust `{:?}` quoting (`"a b"`, `' '`) if the string is empty or contains whitespace, a comma, one of `()[]{}`, `=`, `"` or a control character |
//! | bytes (`serialize_bytes`) | lowercase hex of the first 16 bytes, then `…` if there are more |
//! | `()` / unit struct / unit variant | `()` / the struct's name / the variant's name |
//! | `None` / `Some(x)` | `none` / as `x` |
//! | newtype struct | as its inner value |
//! | newtype variant | `Variant(inner)` |
//! | tuple (and `[T; N]`) | `(a, b)`; **at the top level**: `a b` |
//! | tuple struct | `Name(a, b)`; **at the top level**: `a b` |
//! | tuple variant | `Variant(a, b)` |
//! | sequence | `[a, b, c]` |
//! | map | `{k: v, k2: v2}`, in the order serde gives the entries |
//! | struct | `{field: value, field2: value2}`; **at the top level**: `field: value, field2: value2` |
//! | struct variant | `Variant {field: value}` |
//!
//! - *Top level* means the value itself, seen through any `Some` and newtype structs
//!   (which are transparent): `Some((a, b))` is `a b`. Everything inside a tuple,
//!   sequence, map, struct or variant is nested.
//! - An empty top-level tuple is `()` and a top-level struct without fields (or whose
//!   fields are all skipped) is `{}`, so that the result is not empty.
//! - Fields skipped by serde (`#[serde(skip)]`, `skip_serializing_if`) do not appear.
//! - The result is at most [`MAX_CHARS`] chars (chars, not bytes): a longer one is cut
//!   to its first `MAX_CHARS - 1` chars followed by `…`. Serialization stops as soon as
//!   the cap is passed, so a huge value costs little.
//! - [`describe`] never fails: if the value's `Serialize` impl returns an error, the
//!   result is the text written so far followed by `…` (still within the cap).

use std::fmt::{self, Write as _};

use serde::ser::{self, Serialize};

/// The most chars [`describe`] returns.
pub const MAX_CHARS: usize = 100;

/// How many bytes of a byte string are shown.
const MAX_BYTES: usize = 16;

/// The marker of a cut (or failed) rendering.
const ELLIPSIS: char = '…';

/// A short, human-readable rendering of `value` for labels, at most [`MAX_CHARS`]
/// chars; see [the module docs](self) for the rules. Never fails: an error from the
/// value's `Serialize` impl ends the text with `…`.
pub fn describe<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Out::default();
    let failed = value
        .serialize(Describer {
            out: &mut out,
            top: true,
        })
        .is_err();
    if failed || out.overflow {
        let mut text: String = out.text.chars().take(MAX_CHARS - 1).collect();
        text.push(ELLIPSIS);
        text
    } else {
        out.text
    }
}

/// The text being written: at most [`MAX_CHARS`] chars, refusing (with `fmt::Error`)
/// everything once one more has been offered.
#[derive(Default)]
struct Out {
    text: String,
    chars: usize,
    overflow: bool,
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.chars >= MAX_CHARS {
                self.overflow = true;
                return Err(fmt::Error);
            }
            self.text.push(c);
            self.chars += 1;
        }
        Ok(())
    }
}

/// Why the rendering stopped early: the cap was passed, or the value's `Serialize`
/// impl failed. Either way [`describe`] ends its text with `…`.
#[derive(Debug, thiserror::Error)]
#[error("the rendering stopped: it is too long, or the value could not be serialized")]
struct Stop;

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_msg: T) -> Stop {
        Stop
    }
}

impl From<fmt::Error> for Stop {
    fn from(_: fmt::Error) -> Stop {
        Stop
    }
}

/// Whether `s` must be quoted to be read back unambiguously in a label.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '=' | '"')
        })
}

/// The serializer: writes one value to `out`. `top` is true for the value itself
/// (through `Some` and newtype structs), false for anything nested in it.
struct Describer<'a> {
    out: &'a mut Out,
    top: bool,
}

impl<'a> Describer<'a> {
    fn display(self, v: impl fmt::Display) -> Result<(), Stop> {
        write!(self.out, "{v}")?;
        Ok(())
    }

    /// Start a nested compound value: `open`, its parts separated by `, `, `close`.
    fn nested(self, open: &str, close: &'static str) -> Result<Compound<'a>, Stop> {
        self.out.write_str(open)?;
        Ok(Compound::new(self.out, ", ", close, ""))
    }
}

/// A sequence, tuple, map or struct being written: `sep` goes between its parts,
/// `close` after them, and `empty` instead of them if there were none.
struct Compound<'a> {
    out: &'a mut Out,
    sep: &'static str,
    close: &'static str,
    empty: &'static str,
    first: bool,
}

impl<'a> Compound<'a> {
    fn new(
        out: &'a mut Out,
        sep: &'static str,
        close: &'static str,
        empty: &'static str,
    ) -> Compound<'a> {
        Compound {
            out,
            sep,
            close,
            empty,
            first: true,
        }
    }

    /// Write the separator before a new part, unless it is the first.
    fn next(&mut self) -> Result<(), Stop> {
        if self.first {
            self.first = false;
        } else {
            self.out.write_str(self.sep)?;
        }
        Ok(())
    }

    fn nested<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(Describer {
            out: self.out,
            top: false,
        })
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.next()?;
        self.nested(value)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Stop> {
        self.next()?;
        self.out.write_str(key)?;
        self.out.write_str(": ")?;
        self.nested(value)
    }

    fn finish(self) -> Result<(), Stop> {
        if self.first {
            self.out.write_str(self.empty)?;
        }
        self.out.write_str(self.close)?;
        Ok(())
    }
}

impl<'a> ser::Serializer for Describer<'a> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Stop> {
        self.display(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Stop> {
        let mut buf = [0u8; 4];
        if needs_quotes(v.encode_utf8(&mut buf)) {
            write!(self.out, "{v:?}")?;
        } else {
            self.out.write_char(v)?;
        }
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Stop> {
        // `write!` stops formatting a long string as soon as `out` is full.
        if needs_quotes(v) {
            write!(self.out, "{v:?}")?;
        } else {
            self.out.write_str(v)?;
        }
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Stop> {
        for b in v.iter().take(MAX_BYTES) {
            write!(self.out, "{b:02x}")?;
        }
        if v.len() > MAX_BYTES {
            self.out.write_char(ELLIPSIS)?;
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Stop> {
        self.out.write_str("none")?;
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        self.out.write_str("()")?;
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), Stop> {
        self.display(name)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Stop> {
        self.display(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.out.write_str(variant)?;
        self.out.write_char('(')?;
        value.serialize(Describer {
            out: &mut *self.out,
            top: false,
        })?;
        self.out.write_char(')')?;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a>, Stop> {
        self.nested("[", "]")
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a>, Stop> {
        if self.top {
            Ok(Compound::new(self.out, " ", "", "()"))
        } else {
            self.nested("(", ")")
        }
    }
    fn serialize_tuple_struct(self, name: &'static str, _len: usize) -> Result<Compound<'a>, Stop> {
        if self.top {
            Ok(Compound::new(self.out, " ", "", "()"))
        } else {
            self.out.write_str(name)?;
            self.nested("(", ")")
        }
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Stop> {
        self.out.write_str(variant)?;
        self.nested("(", ")")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a>, Stop> {
        self.nested("{", "}")
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Compound<'a>, Stop> {
        if self.top {
            Ok(Compound::new(self.out, ", ", "", "{}"))
        } else {
            self.nested("{", "}")
        }
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, Stop> {
        self.out.write_str(variant)?;
        self.nested(" {", "}")
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.element(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.out.write_str(": ")?;
        self.nested(value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Stop> {
        self.finish()
    }
}
