//! The envelope every stored value is wrapped in (its layout is in the docs of
//! [`store`](super)).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first four bytes of every envelope: `CUR` and the envelope format.
pub const MAGIC: [u8; 4] = *b"CUR\x01";

/// The length of the header before the payload.
pub const HEADER_LEN: usize = 4 + 8 + 2 + 4 + 32;

/// Why a stored value could not be decoded. The store treats such a value as missing
/// (and logs a warning); the cache invalidates it and builds again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undecodable {
    /// Shorter than the header.
    #[error("{len} bytes, shorter than the {HEADER_LEN}-byte envelope header (truncated)")]
    Truncated {
        /// The length of the stored value.
        len: usize,
    },
    /// Not an envelope (or one of a format this build does not know).
    #[error("bad magic {found:02x?}, expected {MAGIC:02x?}")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// An envelope of a record of another tree.
    #[error("record of another tree (tag {found:02x?}, expected {expected:02x?})")]
    OtherTree {
        /// The tag found.
        found: [u8; 8],
        /// The tag of this tree.
        expected: [u8; 8],
    },
    /// A record of another version (usually written by an older build).
    #[error("record version {found}, this build reads version {expected}")]
    Version {
        /// The version found.
        found: u16,
        /// [`Record::VERSION`](super::Record::VERSION).
        expected: u16,
    },
    /// The payload is shorter (truncated) or longer than the header says.
    #[error("payload of {found} bytes, the header says {expected}")]
    Length {
        /// The length in the header.
        expected: u32,
        /// The length of what follows the header.
        found: usize,
    },
    /// The payload is not the one that was written (corrupted).
    #[error("payload checksum mismatch (corrupted)")]
    Checksum,
    /// The payload passed its checksum but is not a record of this type, or has bytes
    /// left over after it: the type changed without its version being bumped.
    #[error("payload does not decode: {message}")]
    Payload {
        /// What the decoder said.
        message: String,
    },
}

/// The tag of a tree: the first 8 bytes of blake3 of its name.
pub(crate) fn tree_tag(tree: &str) -> [u8; 8] {
    let hash = blake3::hash(tree.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&hash.as_bytes()[..8]);
    tag
}

/// Why a record could not be encoded: postcard's message, or a payload too large for
/// the header's length field.
pub(crate) enum EncodeFailure {
    Postcard(String),
    TooBig(usize),
}

/// Wrap `record` in an envelope.
pub(crate) fn encode<R: Serialize>(
    tag: [u8; 8],
    version: u16,
    record: &R,
) -> Result<Vec<u8>, EncodeFailure> {
    let mut out = Vec::with_capacity(HEADER_LEN + 64);
    out.resize(HEADER_LEN, 0);
    let mut out =
        postcard::to_extend(record, out).map_err(|e| EncodeFailure::Postcard(e.to_string()))?;
    let payload_len = out.len() - HEADER_LEN;
    let len = u32::try_from(payload_len).map_err(|_| EncodeFailure::TooBig(payload_len))?;
    let checksum = blake3::hash(&out[HEADER_LEN..]);
    out[0..4].copy_from_slice(&MAGIC);
    out[4..12].copy_from_slice(&tag);
    out[12..14].copy_from_slice(&version.to_le_bytes());
    out[14..18].copy_from_slice(&len.to_le_bytes());
    out[18..50].copy_from_slice(checksum.as_bytes());
    Ok(out)
}

/// Unwrap and decode a value written by [`encode`] with the same tag and version.
pub(crate) fn decode<R: DeserializeOwned>(
    tag: [u8; 8],
    version: u16,
    bytes: &[u8],
) -> Result<R, Undecodable> {
    let Some((header, payload)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(Undecodable::Truncated { len: bytes.len() });
    };
    let field = |range: std::ops::Range<usize>| &header[range];
    let mut magic = [0u8; 4];
    magic.copy_from_slice(field(0..4));
    if magic != MAGIC {
        return Err(Undecodable::BadMagic { found: magic });
    }
    let mut found_tag = [0u8; 8];
    found_tag.copy_from_slice(field(4..12));
    if found_tag != tag {
        return Err(Undecodable::OtherTree {
            found: found_tag,
            expected: tag,
        });
    }
    let found_version = u16::from_le_bytes([header[12], header[13]]);
    if found_version != version {
        return Err(Undecodable::Version {
            found: found_version,
            expected: version,
        });
    }
    let len = u32::from_le_bytes([header[14], header[15], header[16], header[17]]);
    if u32::try_from(payload.len()) != Ok(len) {
        return Err(Undecodable::Length {
            expected: len,
            found: payload.len(),
        });
    }
    if blake3::hash(payload).as_bytes()[..] != header[18..50] {
        return Err(Undecodable::Checksum);
    }
    match postcard::take_from_bytes::<R>(payload) {
        Ok((record, [])) => Ok(record),
        Ok((_, rest)) => Err(Undecodable::Payload {
            message: format!("{} bytes left over after the record", rest.len()),
        }),
        Err(e) => Err(Undecodable::Payload {
            message: e.to_string(),
        }),
    }
}
