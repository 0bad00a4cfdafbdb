//! Composite keys.

use current::digest::Digest;
use current::store::{KeyBuf, KeyError, KeyReader};

#[test]
fn keys_sort_like_their_parts() {
    let strings = [
        "", "\0", "\0\0", "\0\x01", "\x01", "a", "a\0", "a\0b", "aa", "ab", "b", "é",
    ];
    let numbers = [0u64, 1, 255, 256, u64::MAX];
    let mut tuples = Vec::new();
    for s in strings {
        for n in numbers {
            tuples.push((s, n));
        }
    }
    let mut by_key = tuples.clone();
    by_key.sort_by_key(|(s, n)| KeyBuf::new().str(s).u64(*n));
    tuples.sort();
    assert_eq!(by_key, tuples);

    let signed = [i64::MIN, -2, -1, 0, 1, i64::MAX];
    let keys: Vec<_> = signed.iter().map(|n| KeyBuf::new().i64(*n)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_prefix_of_parts_is_a_prefix_of_bytes_only_for_its_keys() {
    let strings = ["a", "a\0", "a\0\0", "ab", "a\x01"];
    for s in strings {
        for t in strings {
            let prefix = KeyBuf::new().str(s);
            let key = KeyBuf::new().str(t).u64(u64::MAX).str("more");
            assert_eq!(
                key.as_bytes().starts_with(prefix.as_bytes()),
                s == t,
                "{s:?} {t:?}"
            );
        }
    }
}

#[test]
fn keys_read_back() -> Result<(), KeyError> {
    let d = Digest::of_bytes(b"x");
    let key = KeyBuf::new()
        .str("op\0with nul")
        .digest(&d)
        .u64(42)
        .u32(7)
        .i64(-3)
        .bytes(&[0, 0, 1, 255]);
    let mut r = KeyReader::new(key.as_bytes());
    assert_eq!(r.str()?, "op\0with nul");
    assert_eq!(r.digest()?, d);
    assert_eq!(r.u64()?, 42);
    assert_eq!(r.u32()?, 7);
    assert_eq!(r.i64()?, -3);
    assert_eq!(r.bytes()?, [0, 0, 1, 255]);
    assert!(r.rest().is_empty());
    r.finish()
}

#[test]
fn malformed_keys_are_errors_not_panics() {
    let bad: [&[u8]; 5] = [b"", b"abc", b"ab\0", b"ab\0\x02", b"\xff\xfe\0\0"];
    for key in bad {
        let mut r = KeyReader::new(key);
        assert!(r.str().is_err(), "{key:?}");
        let mut r = KeyReader::new(key);
        assert!(r.u64().is_err(), "{key:?}");
    }
    let key = KeyBuf::new().str("op").u32(1);
    let mut r = KeyReader::new(key.as_bytes());
    assert_eq!(r.str().as_deref(), Ok("op"));
    let err = r.u64().unwrap_err();
    assert_eq!(err.at, 4);
    assert!(err.to_string().contains("op\\x00\\x00"), "{err}");
    assert_eq!(
        format!("{key:?}"),
        "KeyBuf(\"op\\x00\\x00\\x00\\x00\\x00\\x01\")"
    );
    let mut r = KeyReader::new(key.as_bytes());
    assert!(r.str().is_ok());
    assert!(r.clone().finish().is_err());
}
