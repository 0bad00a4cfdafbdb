//! Digests: blake3 hashes of keys and values, for the cache and the store.
//!
//! ```
//! use std::collections::BTreeMap;
//! use current::digest::{key_digest, Digest};
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Build<'a> {
//!     repo: &'a str,
//!     commit: &'a str,
//!     env: BTreeMap<&'a str, &'a str>,
//! }
//!
//! let key = Build { repo: "https://example.com/r.git", commit: "abc", env: BTreeMap::new() };
//! let d = key_digest("build", 1, &key)?;
//! assert_eq!(d.to_string().len(), 64);
//! assert_eq!(d.to_string().parse::<Digest>()?, d);
//! // The operation and its version are part of the digest.
//! assert_ne!(d, key_digest("build", 2, &key)?);
//! assert_ne!(d, key_digest("test", 1, &key)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A key digest is the identity of a cached build: two keys with the same digest are the
//! same build. [`key_digest`] computes it from the key's canonical encoding
//! ([`canonical`], named [`canonical::NAME`]), which is deterministic: maps are sorted,
//! integer widths are tagged, field names are included. A key type that wants a
//! different identity (for example one that leaves a work-directory path out)
//! implements [`KeyDigest`] by hand.

pub mod canonical;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The blake3 `derive_key` context of key digests. Frozen: changing it changes every
/// key digest.
pub const KEY_DIGEST_CONTEXT: &str = "current key digest 2025, encoding current-canonical-v1";

/// The blake3 `derive_key` context of value digests ([`Digest::of_value`]). Frozen.
pub const VALUE_DIGEST_CONTEXT: &str = "current value digest 2025, encoding current-canonical-v1";

/// A 32-byte blake3 digest. Shown (and parsed) as 64 lowercase hex digits; serialized as
/// that hex string by human-readable formats (JSON) and as 32 bytes by binary ones.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The length of a digest in bytes.
    pub const LEN: usize = 32;

    /// The plain blake3 hash of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// The digest of a value's canonical encoding, in its own domain (a value digest
    /// never equals a key digest or the hash of the same bytes). For the values of
    /// publish steps, where a change of value means the step must run again.
    pub fn of_value<T: Serialize + ?Sized>(value: &T) -> Result<Digest, EncodeError> {
        let encoded = canonical::to_vec(value)?;
        let mut hasher = blake3::Hasher::new_derive_key(VALUE_DIGEST_CONTEXT);
        hasher.update(&encoded);
        Ok(Digest(*hasher.finalize().as_bytes()))
    }

    /// A digest from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    /// The 32 bytes of the digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hex digits (the same as its `Display`).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// A string that is not 64 hex digits, given to [`Digest::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a digest (64 hex digits): {input:?}")]
pub struct ParseDigestError {
    /// The input, cut after 100 characters.
    pub input: String,
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    /// Parse 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Digest, ParseDigestError> {
        let err = || ParseDigestError {
            input: s.chars().take(100).collect(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hex = |c: u8| (c as char).to_digit(16);
            match (hex(pair[0]), hex(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
                _ => return Err(err()),
            }
        }
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest: 64 hex digits or 32 bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Digest, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Digest, E> {
                <[u8; 32]>::try_from(v)
                    .map(Digest)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Digest, A::Error> {
                let mut out = [0u8; 32];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(33, &self));
                }
                Ok(Digest(out))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(Visitor)
        } else {
            deserializer.deserialize_bytes(Visitor)
        }
    }
}

/// A value that has no canonical encoding. `path` says where inside it the problem is,
/// from `$` (the value itself), e.g. `$.env["CC"]` or `$.platforms[2]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Two entries of one map whose keys encode to the same bytes.
    #[error("cannot encode {path} canonically: duplicate map key {key}")]
    DuplicateMapKey {
        /// Where the map is.
        path: String,
        /// The key, as a string or number when it is one, else in hex.
        key: String,
    },
    /// A struct that serialized the same field twice.
    #[error("cannot encode {path} canonically: duplicate field `{field}`")]
    DuplicateField {
        /// Where the struct is.
        path: String,
        /// The field.
        field: String,
    },
    /// An error raised by the value's own `Serialize` impl.
    #[error("cannot encode {path} canonically: {message}")]
    Custom {
        /// Where the failing value is.
        path: String,
        /// What its `Serialize` impl said.
        message: String,
    },
}

/// The digest of `key` as the key of operation `op_id` at `version`: the blake3 hash, in
/// `derive_key` mode with the context [`KEY_DIGEST_CONTEXT`], of
///
/// ```text
/// u64-le(len op_id) ‖ op_id ‖ u32-le(version) ‖ current-canonical-v1(key)
/// ```
///
/// Bump `version` when the meaning of a key changes without its encoding changing (for
/// example when the build it names now does something else): every old record misses.
pub fn key_digest<K: Serialize + ?Sized>(
    op_id: &str,
    version: u32,
    key: &K,
) -> Result<Digest, EncodeError> {
    let mut frame = Vec::with_capacity(64 + op_id.len());
    frame.extend_from_slice(&(op_id.len() as u64).to_le_bytes());
    frame.extend_from_slice(op_id.as_bytes());
    frame.extend_from_slice(&version.to_le_bytes());
    canonical::encode_into(key, &mut frame)?;
    Ok(key_digest_of_frame(&frame))
}

fn key_digest_of_frame(frame: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new_derive_key(KEY_DIGEST_CONTEXT);
    hasher.update(frame);
    Digest(*hasher.finalize().as_bytes())
}

/// How a key type gives its digest. There is deliberately no blanket impl: a key either
/// wraps itself in [`Canonical`] (the digest of its whole canonical encoding) or
/// implements this by hand, usually by calling [`key_digest`] on the part of itself
/// that is its identity:
///
/// ```
/// use std::path::PathBuf;
/// use current::digest::{key_digest, Digest, EncodeError, KeyDigest};
///
/// struct Checkout {
///     repo: String,
///     commit: String,
///     /// Where it happens to be checked out: not part of its identity.
///     workdir: PathBuf,
/// }
///
/// impl KeyDigest for Checkout {
///     fn key_digest(&self, op_id: &str, version: u32) -> Result<Digest, EncodeError> {
///         key_digest(op_id, version, &(&self.repo, &self.commit))
///     }
/// }
///
/// let at = |dir: &str| Checkout { repo: "r".into(), commit: "c".into(), workdir: dir.into() };
/// assert_eq!(at("/tmp/a").key_digest("checkout", 1)?, at("/tmp/b").key_digest("checkout", 1)?);
/// # Ok::<(), EncodeError>(())
/// ```
pub trait KeyDigest {
    /// The digest of this key as a key of operation `op_id` at `version`.
    fn key_digest(&self, op_id: &str, version: u32) -> Result<Digest, EncodeError>;
}

/// A key whose digest is [`key_digest`] of all of it. Serializes as the key itself.
///
/// ```
/// use current::digest::{key_digest, Canonical, KeyDigest};
///
/// let key = Canonical(("https://example.com/r.git", "main"));
/// assert_eq!(key.key_digest("fetch", 1)?, key_digest("fetch", 1, &key.0)?);
/// # Ok::<(), current::digest::EncodeError>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Canonical<K>(pub K);

impl<K: Serialize> KeyDigest for Canonical<K> {
    fn key_digest(&self, op_id: &str, version: u32) -> Result<Digest, EncodeError> {
        key_digest(op_id, version, &self.0)
    }
}
