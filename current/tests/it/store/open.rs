//! Opening the store: errors name the path; a second open is refused.

use current::store::{Store, StoreError};

use super::{build, Build, StateDir};

#[test]
fn a_second_open_of_the_same_store_is_refused() -> Result<(), StoreError> {
    let dir = StateDir::new("twice");
    let first = Store::open(dir.path())?;
    let builds = first.tree::<Build>()?;
    builds.insert("k", &build(1))?;

    let started = std::time::Instant::now();
    let err = Store::open(dir.path()).map(|_| ()).unwrap_err();
    // It waited for the lock before giving up.
    assert!(started.elapsed() >= current::store::IN_USE_PATIENCE);
    assert!(
        matches!(&err, StoreError::InUse { path } if *path == dir.path().join("db")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&dir.path().join("db").display().to_string()),
        "{err}"
    );

    // A tree taken from the store keeps it open.
    drop(first);
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::InUse { .. })
    ));

    // Once every handle is gone it opens again, with the data.
    drop(builds);
    let again = Store::open(dir.path())?;
    assert_eq!(again.tree::<Build>()?.get("k")?, Some(build(1)));
    Ok(())
}

#[test]
fn clones_share_one_open_store() -> Result<(), StoreError> {
    let dir = StateDir::new("clones");
    let a = Store::open(dir.path())?;
    let b = a.clone();
    a.tree::<Build>()?.insert("k", &build(2))?;
    assert_eq!(b.tree::<Build>()?.get("k")?, Some(build(2)));
    Ok(())
}

#[test]
fn an_unusable_state_dir_is_an_error_naming_it() -> Result<(), Box<dyn std::error::Error>> {
    let dir = StateDir::new("file");
    std::fs::create_dir_all(dir.path())?;
    // `<state dir>/db` is a file, so the database's directory cannot be made.
    std::fs::write(dir.path().join("db"), b"not a directory")?;
    let err = Store::open(dir.path()).map(|_| ()).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&dir.path().join("db").display().to_string()),
        "{err}"
    );
    Ok(())
}
