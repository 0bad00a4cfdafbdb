//! Typed trees: writing, reading, scanning, batches, reopening.

use current::store::{KeyBuf, Lookup, Store, StoreError};

use super::{build, Build, StateDir};

fn key(n: u64) -> KeyBuf {
    KeyBuf::new().str("build").u64(n)
}

#[test]
fn round_trip() -> Result<(), StoreError> {
    let dir = StateDir::new("round-trip");
    let store = Store::open(dir.path())?;
    assert_eq!(store.path(), dir.path().join("db"));
    let builds = store.tree::<Build>()?;
    assert_eq!(builds.name(), "test-builds");
    assert!(builds.is_empty());
    assert_eq!(builds.get(key(1))?, None);
    assert_eq!(builds.get_checked(key(1))?, Lookup::Missing);

    builds.insert(key(1), &build(1))?;
    assert_eq!(builds.get(key(1))?, Some(build(1)));
    assert_eq!(builds.get_checked(key(1))?, Lookup::Found(build(1)));
    assert!(builds.contains_key(key(1))?);

    builds.insert(key(1), &build(3))?;
    assert_eq!(builds.get(key(1))?, Some(build(3)));
    assert_eq!(builds.len(), 1);

    assert!(builds.remove(key(1))?);
    assert!(!builds.remove(key(1))?);
    assert_eq!(builds.get(key(1))?, None);
    Ok(())
}

#[test]
fn data_survives_reopening() -> Result<(), StoreError> {
    let dir = StateDir::new("reopen");
    {
        let store = Store::open(dir.path())?;
        let builds = store.tree::<Build>()?;
        for n in 0..10 {
            builds.insert(key(n), &build(n))?;
        }
        builds.remove(key(4))?;
        store.flush()?;
    }
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    assert_eq!(builds.len(), 9);
    assert_eq!(builds.get(key(7))?, Some(build(7)));
    assert_eq!(builds.get(key(4))?, None);
    Ok(())
}

#[test]
fn scans_are_in_key_order_both_ways() -> Result<(), StoreError> {
    let dir = StateDir::new("scan");
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    // Inserted out of order, with numbers whose decimal text would sort differently.
    for n in [10, 2, 300, 1, 20] {
        builds.insert(key(n), &build(n))?;
    }
    // Neighbouring prefixes that a careless key format would mix in.
    builds.insert(KeyBuf::new().str("buildx").u64(5), &build(5))?;
    builds.insert(KeyBuf::new().str("buil").u64(6), &build(6))?;
    builds.insert(KeyBuf::new().str("build\0").u64(7), &build(7))?;

    fn numbers(
        it: impl Iterator<Item = Result<(Vec<u8>, Build), StoreError>>,
    ) -> Result<Vec<u64>, StoreError> {
        it.map(|item| item.map(|(_, b)| b.build)).collect()
    }
    let prefix = KeyBuf::new().str("build");
    assert_eq!(numbers(builds.scan_prefix(&prefix))?, [1, 2, 10, 20, 300]);
    assert_eq!(
        numbers(builds.scan_prefix(&prefix).rev())?,
        [300, 20, 10, 2, 1]
    );
    assert_eq!(
        builds
            .scan_prefix(&prefix)
            .next_back()
            .transpose()?
            .map(|(k, _)| k),
        Some(key(300).into_vec())
    );
    assert_eq!(numbers(builds.iter())?.len(), 8);
    assert_eq!(numbers(builds.range(key(2)..key(20)))?, [2, 10]);
    Ok(())
}

#[test]
fn batches_apply_all_their_writes() -> Result<(), StoreError> {
    let dir = StateDir::new("batch");
    let store = Store::open(dir.path())?;
    let builds = store.tree::<Build>()?;
    builds.insert(key(0), &build(0))?;

    let mut batch = builds.batch();
    assert!(batch.is_empty());
    for n in 1..=100 {
        batch.insert(key(n), &build(n))?;
    }
    batch.remove(key(0));
    batch.insert(key(1), &build(1001))?; // the later write wins
    assert_eq!(batch.len(), 102);
    // Nothing is visible before `apply`.
    assert_eq!(builds.get(key(50))?, None);
    batch.apply()?;

    assert_eq!(builds.len(), 100);
    assert_eq!(builds.get(key(0))?, None);
    assert_eq!(builds.get(key(1))?.map(|b| b.build), Some(1001));
    assert_eq!(builds.get(key(100))?, Some(build(100)));
    Ok(())
}

#[test]
fn a_big_record_round_trips() -> Result<(), StoreError> {
    let dir = StateDir::new("big");
    let big = Build {
        outcome: (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect(),
        ..build(9)
    };
    {
        let store = Store::open(dir.path())?;
        store.tree::<Build>()?.insert(key(9), &big)?;
        store.flush()?;
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.tree::<Build>()?.get(key(9))?, Some(big));
    Ok(())
}

#[test]
fn flush_async_is_send_and_makes_writes_durable() -> Result<(), Box<dyn std::error::Error>> {
    let dir = StateDir::new("flush-async");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    {
        let store = Store::open(dir.path())?;
        let writer = store.clone();
        runtime.block_on(async move {
            // Group commit: many records, then one flush, from a spawned task.
            tokio::spawn(async move {
                let builds = writer.tree::<Build>()?;
                for n in 0..50 {
                    builds.insert(key(n), &build(n))?;
                }
                writer.flush_async().await
            })
            .await
        })??;
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.tree::<Build>()?.len(), 50);
    Ok(())
}

#[test]
fn store_and_trees_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Store>();
    check::<current::store::Tree<Build>>();
}

#[test]
fn trees_of_different_records_are_separate() -> Result<(), StoreError> {
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Name(String);
    impl current::store::Record for Name {
        const TREE: &'static str = "test-names";
        const VERSION: u16 = 1;
    }
    let dir = StateDir::new("trees");
    let store = Store::open(dir.path())?;
    store.tree::<Build>()?.insert("k", &build(1))?;
    store.tree::<Name>()?.insert("k", &Name("build".into()))?;
    assert_eq!(store.tree::<Build>()?.get("k")?, Some(build(1)));
    assert_eq!(store.tree::<Name>()?.get("k")?, Some(Name("build".into())));
    Ok(())
}

#[test]
fn reserved_tree_names_are_refused() -> Result<(), StoreError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Sneaky;
    impl current::store::Record for Sneaky {
        const TREE: &'static str = "__sled__default";
        const VERSION: u16 = 1;
    }
    let dir = StateDir::new("reserved");
    let store = Store::open(dir.path())?;
    let err = store.tree::<Sneaky>().map(|_| ()).unwrap_err();
    assert!(matches!(err, StoreError::TreeName { .. }), "{err}");
    assert!(err.to_string().contains("__sled__default"), "{err}");
    Ok(())
}

#[test]
fn unencodable_records_are_errors_naming_the_key() -> Result<(), StoreError> {
    #[derive(serde::Deserialize)]
    struct Odd(#[allow(dead_code)] u8);
    impl serde::Serialize for Odd {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot"))
        }
    }
    impl current::store::Record for Odd {
        const TREE: &'static str = "test-odd";
        const VERSION: u16 = 1;
    }
    let dir = StateDir::new("unencodable");
    let store = Store::open(dir.path())?;
    let err = store
        .tree::<Odd>()?
        .insert(KeyBuf::new().str("op").u64(3), &Odd(1));
    let err = err.unwrap_err();
    assert!(matches!(err, StoreError::Encode { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("test-odd") && text.contains("op\\x00\\x00"),
        "{text}"
    );
    Ok(())
}
