//! Composite keys whose bytes sort the way their parts do.
//!
//! sled orders keys bytewise. A [`KeyBuf`] joins parts so that comparing the joined
//! bytes compares the parts in turn, and so that the bytes of a prefix of the parts are
//! a prefix of the bytes of exactly the keys that start with those parts (so
//! [`Tree::scan_prefix`](super::Tree::scan_prefix) of `(op "build")` never finds
//! `(op "buildx", …)`):
//!
//! - strings and byte strings: every `00` byte written as `00 01`, then `00 00` to end
//!   it (order-preserving and prefix-free);
//! - unsigned integers: big-endian at their width;
//! - signed integers: big-endian with the sign bit flipped (negatives first);
//! - digests: their 32 bytes.

use std::fmt;

use crate::digest::Digest;

/// A composite key being built, part by part.
///
/// ```
/// use current::store::{KeyBuf, KeyReader};
///
/// let build = |n| KeyBuf::new().str("build").u64(n);
/// assert!(build(2) < build(10));
/// assert!(KeyBuf::new().str("a").u64(9) < KeyBuf::new().str("ab").u64(0));
///
/// let key = build(7);
/// let mut r = KeyReader::new(key.as_bytes());
/// assert_eq!(r.str()?, "build");
/// assert_eq!(r.u64()?, 7);
/// r.finish()?;
/// # Ok::<(), current::store::KeyError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyBuf(Vec<u8>);

impl KeyBuf {
    /// An empty key.
    pub fn new() -> KeyBuf {
        KeyBuf(Vec::new())
    }

    /// Append a string.
    pub fn str(self, s: &str) -> KeyBuf {
        self.bytes(s.as_bytes())
    }

    /// Append a byte string (escaped and terminated like a string).
    pub fn bytes(mut self, b: &[u8]) -> KeyBuf {
        for &byte in b {
            self.0.push(byte);
            if byte == 0 {
                self.0.push(1);
            }
        }
        self.0.extend_from_slice(&[0, 0]);
        self
    }

    /// Append a `u32`, big-endian.
    pub fn u32(mut self, n: u32) -> KeyBuf {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// Append a `u64`, big-endian.
    pub fn u64(mut self, n: u64) -> KeyBuf {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// Append an `i64`, big-endian with the sign bit flipped.
    pub fn i64(mut self, n: i64) -> KeyBuf {
        self.0
            .extend_from_slice(&((n as u64) ^ (1 << 63)).to_be_bytes());
        self
    }

    /// Append a digest's 32 bytes.
    pub fn digest(mut self, d: &Digest) -> KeyBuf {
        self.0.extend_from_slice(d.as_bytes());
        self
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key's bytes, owned.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl AsRef<[u8]> for KeyBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBuf(\"{}\")", printable(&self.0))
    }
}

/// A key that does not have the parts a [`KeyReader`] asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key \"{key}\": expected {expected} at byte {at}")]
pub struct KeyError {
    /// The key, printable.
    pub key: String,
    /// Where in it.
    pub at: usize,
    /// What was expected there.
    pub expected: &'static str,
}

/// Reads back the parts of a key made by a [`KeyBuf`], in order.
#[derive(Debug, Clone)]
pub struct KeyReader<'a> {
    key: &'a [u8],
    at: usize,
}

impl<'a> KeyReader<'a> {
    /// Read `key` from its start.
    pub fn new(key: &'a [u8]) -> KeyReader<'a> {
        KeyReader { key, at: 0 }
    }

    fn error(&self, expected: &'static str) -> KeyError {
        KeyError {
            key: printable(self.key),
            at: self.at,
            expected,
        }
    }

    fn take<const N: usize>(&mut self, expected: &'static str) -> Result<[u8; N], KeyError> {
        let bytes = self
            .key
            .get(self.at..self.at + N)
            .ok_or_else(|| self.error(expected))?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        self.at += N;
        Ok(out)
    }

    /// Read a byte string.
    pub fn bytes(&mut self) -> Result<Vec<u8>, KeyError> {
        const WHAT: &str = "a terminated byte string";
        let mut out = Vec::new();
        let mut i = self.at;
        loop {
            match self.key.get(i..i + 2) {
                Some([0, 0]) => {
                    self.at = i + 2;
                    return Ok(out);
                }
                Some([0, 1]) => {
                    out.push(0);
                    i += 2;
                }
                Some([0, _]) => return Err(self.error(WHAT)),
                _ => match self.key.get(i) {
                    Some(&b) if b != 0 => {
                        out.push(b);
                        i += 1;
                    }
                    _ => return Err(self.error(WHAT)),
                },
            }
        }
    }

    /// Read a string.
    pub fn str(&mut self) -> Result<String, KeyError> {
        let start = self.at;
        let bytes = self.bytes()?;
        String::from_utf8(bytes).map_err(|_| {
            self.at = start;
            self.error("a UTF-8 string")
        })
    }

    /// Read a `u32`.
    pub fn u32(&mut self) -> Result<u32, KeyError> {
        self.take("a u32").map(u32::from_be_bytes)
    }

    /// Read a `u64`.
    pub fn u64(&mut self) -> Result<u64, KeyError> {
        self.take("a u64").map(u64::from_be_bytes)
    }

    /// Read an `i64`.
    pub fn i64(&mut self) -> Result<i64, KeyError> {
        self.take("an i64")
            .map(|b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
    }

    /// Read a digest.
    pub fn digest(&mut self) -> Result<Digest, KeyError> {
        self.take("a digest").map(Digest::from_bytes)
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.key[self.at..]
    }

    /// Check that the whole key has been read.
    pub fn finish(self) -> Result<(), KeyError> {
        if self.at == self.key.len() {
            Ok(())
        } else {
            Err(self.error("the end of the key"))
        }
    }
}

/// A key as text for messages: printable ASCII as it is, other bytes escaped (`\x00`),
/// cut after 200 characters.
pub(crate) fn printable(key: &[u8]) -> String {
    let mut s: String = key.escape_ascii().to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
