//! Canonical encoding and key digests.

use std::collections::{BTreeMap, HashMap};

use current::digest::{canonical, key_digest, Canonical, Digest, EncodeError, KeyDigest};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct BuildKey {
    repo: String,
    commit: String,
    platforms: Vec<String>,
    env: BTreeMap<String, String>,
}

fn pinned_key() -> BuildKey {
    BuildKey {
        repo: "https://example.com/r.git".into(),
        commit: "abc".into(),
        platforms: vec!["linux".into(), "mac".into()],
        env: [("CC".to_string(), "gcc".to_string())]
            .into_iter()
            .collect(),
    }
}

/// THIS DIGEST MUST NEVER CHANGE. It pins the canonical encoding `current-canonical-v1`
/// and the frame of key digests: if it changes, every cache record on every disk
/// misses. A deliberate change needs a new encoding name (and a new pinned value).
const PINNED: &str = "eb5d4a5812a0086a6ffce7d1f64d07a005fb59e3111d6ccf6d6804f1f690727f";

#[test]
fn pinned_digest_never_changes() -> Result<(), EncodeError> {
    assert_eq!(canonical::NAME, "current-canonical-v1");
    let d = key_digest("build", 1, &pinned_key())?;
    assert_eq!(d.to_string(), PINNED);
    Ok(())
}

/// The canonical bytes of the pinned key, written out by hand from the rules.
#[test]
fn pinned_key_has_the_documented_bytes() -> Result<(), EncodeError> {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    fn name(out: &mut Vec<u8>, s: &str) {
        len(out, s.len());
        out.extend_from_slice(s.as_bytes());
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        out.push(0x30);
        name(out, s);
    }
    let mut want = vec![0x71];
    len(&mut want, 4);
    // Fields sorted by name: commit, env, platforms, repo.
    name(&mut want, "commit");
    string(&mut want, "abc");
    name(&mut want, "env");
    want.push(0x70);
    len(&mut want, 1);
    string(&mut want, "CC");
    string(&mut want, "gcc");
    name(&mut want, "platforms");
    want.push(0x60);
    len(&mut want, 2);
    string(&mut want, "linux");
    string(&mut want, "mac");
    name(&mut want, "repo");
    string(&mut want, "https://example.com/r.git");
    assert_eq!(canonical::to_vec(&pinned_key())?, want);
    Ok(())
}

#[test]
fn hash_map_and_btree_map_agree() -> Result<(), EncodeError> {
    let pairs = [("zeta", 1u32), ("alpha", 2), ("mid", 3)];
    let h: HashMap<&str, u32> = pairs.into_iter().collect();
    let b: BTreeMap<&str, u32> = pairs.into_iter().collect();
    assert_eq!(key_digest("op", 1, &h)?, key_digest("op", 1, &b)?);
    Ok(())
}

#[test]
fn hash_map_insertion_order_never_matters() -> Result<(), EncodeError> {
    let entries: Vec<(String, u64)> = (0..500).map(|i| (format!("key-{i}"), i * 7)).collect();
    let forward: HashMap<_, _> = entries.iter().cloned().collect();
    let backward: HashMap<_, _> = entries.iter().rev().cloned().collect();
    let mut shuffled = entries.clone();
    fastrand::Rng::with_seed(7).shuffle(&mut shuffled);
    let mut third = HashMap::with_capacity(1);
    third.extend(shuffled);
    let d = key_digest("op", 1, &forward)?;
    assert_eq!(d, key_digest("op", 1, &backward)?);
    assert_eq!(d, key_digest("op", 1, &third)?);
    Ok(())
}

#[test]
fn nested_maps_are_sorted() -> Result<(), EncodeError> {
    let mut a: HashMap<String, HashMap<u32, Vec<HashMap<char, bool>>>> = HashMap::new();
    let mut b: BTreeMap<String, BTreeMap<u32, Vec<BTreeMap<char, bool>>>> = BTreeMap::new();
    for i in 0..20u32 {
        let inner: Vec<(char, bool)> = (0..10).map(|c| ((b'a' + c) as char, c % 3 == 0)).collect();
        a.entry(format!("k{}", i % 4))
            .or_default()
            .insert(i, vec![inner.iter().rev().copied().collect()]);
        b.entry(format!("k{}", i % 4))
            .or_default()
            .insert(i, vec![inner.iter().copied().collect()]);
    }
    assert_eq!(canonical::to_vec(&a)?, canonical::to_vec(&b)?);
    Ok(())
}

#[test]
fn integer_widths_do_not_collide() -> Result<(), EncodeError> {
    let digests = [
        key_digest("op", 1, &1u8)?,
        key_digest("op", 1, &1u16)?,
        key_digest("op", 1, &1u32)?,
        key_digest("op", 1, &1u64)?,
        key_digest("op", 1, &1u128)?,
        key_digest("op", 1, &1i8)?,
        key_digest("op", 1, &1i32)?,
        key_digest("op", 1, &1i64)?,
        key_digest("op", 1, &1.0f64)?,
        key_digest("op", 1, &true)?,
        key_digest("op", 1, &'\u{1}')?,
        key_digest("op", 1, &Some(1u8))?,
    ];
    for (i, a) in digests.iter().enumerate() {
        for b in &digests[i + 1..] {
            assert_ne!(a, b);
        }
    }
    Ok(())
}

#[test]
fn renaming_a_field_changes_the_digest_reordering_does_not() -> Result<(), EncodeError> {
    #[derive(Serialize)]
    struct A {
        name: String,
        n: u32,
    }
    #[derive(Serialize)]
    struct Renamed {
        label: String,
        n: u32,
    }
    #[derive(Serialize)]
    struct Reordered {
        n: u32,
        name: String,
    }
    let a = key_digest(
        "op",
        1,
        &A {
            name: "x".into(),
            n: 1,
        },
    )?;
    let renamed = key_digest(
        "op",
        1,
        &Renamed {
            label: "x".into(),
            n: 1,
        },
    )?;
    let reordered = key_digest(
        "op",
        1,
        &Reordered {
            n: 1,
            name: "x".into(),
        },
    )?;
    assert_ne!(a, renamed);
    assert_eq!(a, reordered);
    Ok(())
}

#[test]
fn variant_names_count_type_names_do_not() -> Result<(), EncodeError> {
    #[derive(Serialize)]
    enum E {
        Fast,
        Slow(u8),
    }
    #[derive(Serialize)]
    enum F {
        Quick,
        Slow(u8),
    }
    assert_ne!(canonical::to_vec(&E::Fast)?, canonical::to_vec(&F::Quick)?);
    // The same variant name and contents: equal, whatever the enum is called.
    assert_eq!(
        canonical::to_vec(&E::Slow(3))?,
        canonical::to_vec(&F::Slow(3))?
    );
    Ok(())
}

#[test]
fn sequences_tuples_and_strings_are_delimited() -> Result<(), EncodeError> {
    // Without length prefixes these would collide.
    let a = canonical::to_vec(&("ab", "c"))?;
    let b = canonical::to_vec(&("a", "bc"))?;
    assert_ne!(a, b);
    let a = canonical::to_vec(&vec![vec![1u8], vec![]])?;
    let b = canonical::to_vec(&vec![vec![], vec![1u8]])?;
    assert_ne!(a, b);
    assert_ne!(
        canonical::to_vec(&None::<()>)?,
        canonical::to_vec(&Some(()))?
    );
    Ok(())
}

#[test]
fn op_id_and_version_change_the_digest() -> Result<(), EncodeError> {
    let key = pinned_key();
    let d = key_digest("build", 1, &key)?;
    assert_ne!(d, key_digest("build", 2, &key)?);
    assert_ne!(d, key_digest("builds", 1, &key)?);
    assert_ne!(d, key_digest("", 1, &key)?);
    // The frame is delimited: moving bytes between the op id and the key changes it.
    assert_ne!(key_digest("ab", 1, "c")?, key_digest("a", 1, "bc")?);
    // Not the plain hash of anything, nor a value digest.
    assert_ne!(d, Digest::of_bytes(&canonical::to_vec(&key)?));
    assert_ne!(d, Digest::of_value(&key)?);
    Ok(())
}

#[test]
fn nan_is_canonical_and_negative_zero_is_distinct() -> Result<(), EncodeError> {
    let quiet = f64::NAN;
    let other = f64::from_bits(0x7ff0_0000_0000_0001); // a signalling NaN
    let negative = -f64::NAN;
    assert!(other.is_nan() && negative.is_nan());
    let d = key_digest("op", 1, &quiet)?;
    assert_eq!(d, key_digest("op", 1, &other)?);
    assert_eq!(d, key_digest("op", 1, &negative)?);
    assert_eq!(
        key_digest("op", 1, &f32::NAN)?,
        key_digest("op", 1, &f32::from_bits(0xffc0_0001))?
    );
    assert_ne!(
        key_digest("op", 1, &0.0f64)?,
        key_digest("op", 1, &-0.0f64)?
    );
    Ok(())
}

#[test]
fn duplicate_map_keys_are_an_error_naming_the_key() {
    /// Serializes as a map with the same key twice.
    struct Dup;
    impl Serialize for Dup {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("CC", "gcc")?;
            m.serialize_entry("CC", "clang")?;
            m.end()
        }
    }
    #[derive(Serialize)]
    struct Key {
        env: Vec<Dup>,
    }
    let err = key_digest("op", 1, &Key { env: vec![Dup] });
    assert_eq!(
        err,
        Err(EncodeError::DuplicateMapKey {
            path: "$.env[0]".into(),
            key: "\"CC\"".into()
        })
    );
    let text = err.map(|_| ()).unwrap_err().to_string();
    assert!(
        text.contains("\"CC\"") && text.contains("$.env[0]"),
        "{text}"
    );
}

#[test]
fn serialize_errors_name_where_they_happened() {
    struct Bad;
    impl Serialize for Bad {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no canonical form"))
        }
    }
    let mut env = BTreeMap::new();
    env.insert("PATH", Bad);
    let err = canonical::to_vec(&(1u8, env));
    assert_eq!(
        err,
        Err(EncodeError::Custom {
            path: "$[1][\"PATH\"]".into(),
            message: "no canonical form".into()
        })
    );
}

#[test]
fn a_key_can_leave_a_path_out_of_its_digest() -> Result<(), EncodeError> {
    struct Checkout {
        commit: String,
        workdir: std::path::PathBuf,
    }
    impl KeyDigest for Checkout {
        fn key_digest(&self, op_id: &str, version: u32) -> Result<Digest, EncodeError> {
            key_digest(op_id, version, &self.commit)
        }
    }
    let a = Checkout {
        commit: "abc".into(),
        workdir: "/tmp/a".into(),
    };
    let b = Checkout {
        commit: "abc".into(),
        workdir: "/tmp/b".into(),
    };
    assert_ne!(a.workdir, b.workdir);
    assert_eq!(a.key_digest("checkout", 1)?, b.key_digest("checkout", 1)?);
    assert_eq!(
        Canonical(pinned_key()).key_digest("build", 1)?.to_string(),
        PINNED
    );
    Ok(())
}

#[test]
fn digests_print_parse_and_serialize() -> Result<(), Box<dyn std::error::Error>> {
    let d: Digest = PINNED.parse()?;
    assert_eq!(d.to_hex(), PINNED);
    assert_eq!(format!("{d:?}"), format!("Digest({PINNED})"));
    assert_eq!(PINNED.to_uppercase().parse::<Digest>()?, d);
    assert!("abc".parse::<Digest>().is_err());
    assert!(PINNED.replace('e', "g").parse::<Digest>().is_err());
    let non_ascii = format!("{}é", &PINNED[..62]);
    assert!(non_ascii.parse::<Digest>().is_err());

    // Binary formats carry the 32 bytes.
    let bytes = postcard::to_stdvec(&d)?;
    assert_eq!(bytes.len(), 33);
    assert_eq!(postcard::from_bytes::<Digest>(&bytes)?, d);

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Holder {
        d: Digest,
    }
    let bytes = postcard::to_stdvec(&Holder { d })?;
    assert_eq!(postcard::from_bytes::<Holder>(&bytes)?, Holder { d });
    assert_eq!(Digest::of_bytes(b"").to_string().len(), 64);
    Ok(())
}
