//! Records that cannot be decoded are misses and warnings, never panics.

use current::store::{KeyBuf, Lookup, Record, Store, StoreError, Tree, Undecodable};
use serde::{Deserialize, Serialize};

use super::{build, warnings, Build, StateDir};

/// `Build` as a later build would write it: another version.
#[derive(Serialize, Deserialize)]
struct BuildV2 {
    job_id: String,
    ok: bool,
    outcome: Vec<u8>,
    build: u64,
    duration_ms: u64,
}

impl Record for BuildV2 {
    const TREE: &'static str = "test-builds";
    const VERSION: u16 = 2;
}

/// `Build` changed without its version being bumped.
#[derive(Serialize, Deserialize)]
struct BuildChanged {
    job_id: String,
}

impl Record for BuildChanged {
    const TREE: &'static str = "test-builds";
    const VERSION: u16 = 1;
}

/// A record of another tree.
#[derive(Serialize, Deserialize)]
struct Other {
    job_id: String,
    ok: bool,
    outcome: Vec<u8>,
    build: u64,
}

impl Record for Other {
    const TREE: &'static str = "test-other";
    const VERSION: u16 = 1;
}

fn key(name: &str) -> KeyBuf {
    KeyBuf::new().str("build").str(name)
}

/// Read `name` and check that it is a miss for `want`, with a warning naming the tree
/// and the key.
fn assert_undecodable(builds: &Tree<Build>, name: &str, want: impl Fn(&Undecodable) -> bool) {
    let (lookup, warned) = warnings(|| builds.get_checked(key(name)));
    match lookup {
        Ok(Lookup::Undecodable(reason)) => assert!(want(&reason), "{name}: {reason:?}"),
        other => panic!("{name}: expected an undecodable record, got {other:?}"),
    }
    assert_eq!(warned.len(), 1, "{name}: {warned:?}");
    assert!(warned[0].contains("test-builds"), "{warned:?}");
    assert!(
        warned[0].contains(&format!("build\\x00\\x00{name}")),
        "{warned:?}"
    );

    let (plain, warned) = warnings(|| builds.get(key(name)));
    assert!(matches!(plain, Ok(None)), "{name}: {plain:?}");
    assert_eq!(warned.len(), 1, "{name}: {warned:?}");
}

#[test]
fn damaged_records_are_misses_with_warnings() -> Result<(), StoreError> {
    let dir = StateDir::new("damaged");
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    builds.insert(key("good"), &build(1))?;
    let Some(valid) = builds.raw_get(key("good"))? else {
        panic!("the record just written is not there");
    };
    assert_eq!(&valid[..4], b"CUR\x01");

    builds.raw_insert(key("short-garbage"), b"xyz")?;
    builds.raw_insert(key("garbage"), &[0x5a; 100])?;
    builds.raw_insert(key("empty"), b"")?;
    builds.raw_insert(key("header-only"), &valid[..20])?;
    builds.raw_insert(key("truncated"), &valid[..valid.len() - 3])?;
    let mut longer = valid.clone();
    longer.push(0);
    builds.raw_insert(key("longer"), &longer)?;
    let mut flipped = valid.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    builds.raw_insert(key("flipped-payload"), &flipped)?;
    let mut flipped_version = valid.clone();
    flipped_version[12] ^= 0x01;
    builds.raw_insert(key("flipped-version"), &flipped_version)?;
    store.tree::<BuildV2>()?.insert(
        key("version-2"),
        &BuildV2 {
            job_id: "j".into(),
            ok: true,
            outcome: vec![],
            build: 0,
            duration_ms: 5,
        },
    )?;
    store
        .tree::<BuildChanged>()?
        .insert(key("changed"), &BuildChanged { job_id: "j".into() })?;
    // A record of another tree, copied here.
    let other = store.tree::<Other>()?;
    other.insert(
        "x",
        &Other {
            job_id: "j".into(),
            ok: true,
            outcome: vec![],
            build: 0,
        },
    )?;
    if let Some(bytes) = other.raw_get("x")? {
        builds.raw_insert(key("other-tree"), &bytes)?;
    }

    use Undecodable as U;
    assert_undecodable(&builds, "short-garbage", |r| *r == U::Truncated { len: 3 });
    assert_undecodable(&builds, "empty", |r| *r == U::Truncated { len: 0 });
    assert_undecodable(&builds, "header-only", |r| *r == U::Truncated { len: 20 });
    assert_undecodable(&builds, "garbage", |r| matches!(r, U::BadMagic { .. }));
    assert_undecodable(&builds, "truncated", |r| matches!(r, U::Length { .. }));
    assert_undecodable(&builds, "longer", |r| matches!(r, U::Length { .. }));
    assert_undecodable(&builds, "flipped-payload", |r| *r == U::Checksum);
    assert_undecodable(&builds, "flipped-version", |r| {
        *r == U::Version {
            found: 0,
            expected: 1,
        }
    });
    assert_undecodable(&builds, "version-2", |r| {
        *r == U::Version {
            found: 2,
            expected: 1,
        }
    });
    assert_undecodable(&builds, "changed", |r| matches!(r, U::Payload { .. }));
    assert_undecodable(&builds, "other-tree", |r| matches!(r, U::OtherTree { .. }));

    // The good record still reads, with no warning.
    let (good, warned) = warnings(|| builds.get(key("good")));
    assert_eq!(good?, Some(build(1)));
    assert!(warned.is_empty(), "{warned:?}");

    // Scans skip the damaged records (warning about each), or report them.
    let (all, warned) = warnings(|| builds.iter().collect::<Result<Vec<_>, _>>());
    assert_eq!(all?.len(), 1);
    assert_eq!(warned.len(), 11);
    let (all, _) = warnings(|| builds.scan_prefix(KeyBuf::new().str("build")).rev().count());
    assert_eq!(all, 1);
    let checked = builds.iter().checked().collect::<Result<Vec<_>, _>>()?;
    assert_eq!(checked.len(), 12);
    assert_eq!(checked.iter().filter(|(_, r)| r.is_err()).count(), 11);

    // Overwriting a damaged record repairs it.
    builds.insert(key("garbage"), &build(2))?;
    assert_eq!(builds.get(key("garbage"))?, Some(build(2)));
    Ok(())
}

#[test]
fn records_damaged_on_disk_are_misses_after_reopening() -> Result<(), Box<dyn std::error::Error>> {
    let dir = StateDir::new("on-disk");
    {
        let store = Store::open(dir.path())?;
        let builds = store.tree::<Build>()?;
        builds.insert(key("a"), &build(1))?;
        builds.insert(key("b"), &build(2))?;
        store.flush()?;
    }
    {
        // Someone else's hand on the database, through sled itself (which may find its
        // lock still held for a moment by the background threads of the store).
        let mut tries = 0;
        let db = loop {
            match sled::open(dir.path().join("db")) {
                Err(e) if tries < 100 => {
                    tries += 1;
                    eprintln!("retrying sled::open: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        let tree = db.open_tree("test-builds")?;
        let Some(valid) = tree.get(key("b"))? else {
            panic!("record b is not on disk");
        };
        tree.insert(key("b").as_bytes(), &valid[..valid.len() / 2])?;
        tree.insert(key("c").as_bytes(), &b"\x00\x01garbage"[..])?;
        db.flush()?;
    }
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    let (b, warned) = warnings(|| builds.get(key("b")));
    assert_eq!(b?, None);
    assert_eq!(warned.len(), 1);
    let (c, warned) = warnings(|| builds.get_checked(key("c")));
    assert!(matches!(
        c?,
        Lookup::Undecodable(Undecodable::Truncated { len: 9 })
    ));
    assert_eq!(warned.len(), 1);
    assert_eq!(builds.get(key("a"))?, Some(build(1)));
    Ok(())
}

/// Thousands of random damages to a valid record: each read is either the original
/// record (never another one) or a miss, and never a panic.
#[test]
fn random_damage_never_panics_or_misreads() -> Result<(), StoreError> {
    let dir = StateDir::new("random");
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    let original = build(7);
    builds.insert("k", &original)?;
    let Some(valid) = builds.raw_get("k")? else {
        panic!("the record just written is not there");
    };
    let mut rng = fastrand::Rng::with_seed(2025);
    let (result, _) = warnings(|| -> Result<(), StoreError> {
        for _ in 0..2000 {
            let mut bytes = valid.clone();
            match rng.u8(0..4) {
                0 => bytes.truncate(rng.usize(0..bytes.len())),
                1 => {
                    let i = rng.usize(0..bytes.len());
                    bytes[i] ^= 1 << rng.u8(0..8);
                }
                2 => {
                    let i = rng.usize(0..bytes.len());
                    bytes[i] = rng.u8(..);
                }
                _ => bytes = (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect(),
            }
            builds.raw_insert("k", &bytes)?;
            match builds.get_checked("k")? {
                Lookup::Found(record) => assert!(bytes == valid && record == original),
                Lookup::Undecodable(_) => {}
                Lookup::Missing => panic!("the key is there"),
            }
        }
        Ok(())
    });
    result
}
