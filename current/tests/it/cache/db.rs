//! Records: latest build and history, build numbers, rebuild flags, job ids, operations,
//! reset, reopening, records that cannot be decoded, and the consistency of the indexes.

use std::time::{Duration, UNIX_EPOCH};

use current::cache::db::{
    finished_key, format_time, from_nanos, job_key, record_key, to_nanos, CacheDb, CacheError,
    CacheRecord, FinishedEntry, JobRef, OpEntry, Outcome, Query, Repair,
};
use current::store::{KeyBuf, Lookup, Store, Undecodable};

use super::{at, builds, jobs, key, rec, warnings, StateDir};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn open(dir: &StateDir) -> Result<(Store, CacheDb)> {
    let store = Store::open(dir.path())?;
    let db = CacheDb::open(&store)?;
    Ok((store, db))
}

#[test]
fn latest_and_history_are_by_build_number() -> Result {
    let dir = StateDir::new("cache-history");
    let (_store, db) = open(&dir)?;
    let k = key("k");
    assert_eq!(db.latest("build", &k)?, Lookup::Missing);
    assert!(db.history("build", &k, 10)?.is_empty());

    // Recorded out of order; build 3 finished last of all but 4 is still the latest.
    for b in [2, 0, 4, 1, 3] {
        db.record(&rec("build", "k", b, if b == 3 { 100 } else { 10 * b }))?;
    }
    db.record(&rec("build", "other", 0, 200))?;
    db.record(&rec("test", "k", 0, 300))?;
    db.record(&rec("build-x", "k", 7, 400))?;

    assert_eq!(
        db.latest("build", &k)?,
        Lookup::Found(rec("build", "k", 4, 40))
    );
    assert_eq!(builds(&db.history("build", &k, 3)?), [4, 3, 2]);
    assert_eq!(builds(&db.history("build", &k, 10)?), [4, 3, 2, 1, 0]);
    assert_eq!(db.history("build", &k, 1)?, [rec("build", "k", 4, 40)]);
    assert!(db.history("build", &k, 0)?.is_empty());
    assert_eq!(
        db.history("build", &key("other"), 10)?,
        [rec("build", "other", 0, 200)]
    );
    assert_eq!(db.history("test", &k, 10)?, [rec("test", "k", 0, 300)]);
    assert_eq!(
        db.history("build-x", &k, 10)?,
        [rec("build-x", "k", 7, 400)]
    );
    assert_eq!(db.latest("deploy", &k)?, Lookup::Missing);
    assert_eq!(db.latest("build", &key("nope"))?, Lookup::Missing);
    Ok(())
}

#[test]
fn a_record_round_trips_exactly() -> Result {
    let dir = StateDir::new("cache-round-trip");
    let (_store, db) = open(&dir)?;
    let record = CacheRecord {
        op: "publish".into(),
        key: key("site"),
        value: Some(key("value")),
        job_id: "2023-11-14/221320-publish-a1b2c3".into(),
        outcome: Outcome::Err("exit code 2".into()),
        build: 3,
        rebuild: true,
        ready: UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        running: None,
        finished: UNIX_EPOCH + Duration::new(1_700_000_060, 1),
    };
    db.record(&record)?;
    let Lookup::Found(back) = db.latest("publish", &key("site"))? else {
        panic!("no record");
    };
    assert_eq!(back, record);
    assert!(!back.is_ok());
    assert_eq!(back.error(), Some("exit code 2"));
    assert!(rec("a", "b", 0, 0).is_ok());
    assert_eq!(rec("a", "b", 0, 0).error(), None);
    Ok(())
}

#[test]
fn build_numbers_follow_the_latest_build() -> Result {
    let dir = StateDir::new("cache-next-build");
    let (store, db) = open(&dir)?;
    let k = key("k");
    assert_eq!(db.next_build("build", &k)?, 0);
    db.record(&rec("build", "k", 0, 1))?;
    assert_eq!(db.next_build("build", &k)?, 1);
    db.record(&rec("build", "k", 7, 2))?;
    assert_eq!(db.next_build("build", &k)?, 8);
    assert_eq!(db.next_build("build", &key("other"))?, 0);
    assert_eq!(db.next_build("test", &k)?, 0);

    // A latest build that cannot be decoded still takes its number.
    store
        .tree::<CacheRecord>()?
        .raw_insert(record_key("build", &k, 9), b"garbage")?;
    assert_eq!(db.next_build("build", &k)?, 10);

    db.record(&rec("build", "max", u64::MAX, 3))?;
    match db.next_build("build", &key("max")) {
        Err(CacheError::BuildOverflow { op, key: d, last }) => {
            assert_eq!((op.as_str(), d, last), ("build", key("max"), u64::MAX));
        }
        other => panic!("expected an overflow, got {other:?}"),
    }
    Ok(())
}

#[test]
fn set_rebuild_flags_only_the_latest_build() -> Result {
    let dir = StateDir::new("cache-rebuild");
    let (_store, db) = open(&dir)?;
    let k = key("k");
    assert!(!db.set_rebuild("build", &k)?);
    for b in 0..3 {
        db.record(&rec("build", "k", b, b))?;
    }
    db.record(&rec("build", "other", 0, 9))?;
    assert!(db.set_rebuild("build", &k)?);
    assert!(db.set_rebuild("build", &k)?, "flagging twice is harmless");
    let flags: Vec<bool> = db
        .history("build", &k, 10)?
        .iter()
        .map(|r| r.rebuild)
        .collect();
    assert_eq!(flags, [true, false, false]);
    assert_eq!(
        db.latest("build", &k)?,
        Lookup::Found(CacheRecord {
            rebuild: true,
            ..rec("build", "k", 2, 2)
        })
    );
    assert_eq!(
        db.history("build", &key("other"), 10)?,
        [rec("build", "other", 0, 9)]
    );
    Ok(())
}

#[test]
fn invalidate_flags_every_build_of_the_key() -> Result {
    let dir = StateDir::new("cache-invalidate");
    let (_store, db) = open(&dir)?;
    let k = key("k");
    assert_eq!(db.invalidate("build", &k)?, 0);
    for b in 0..3 {
        db.record(&rec("build", "k", b, b))?;
    }
    db.record(&rec("build", "other", 0, 9))?;
    db.record(&rec("test", "k", 0, 9))?;
    db.set_rebuild("build", &k)?;
    assert_eq!(
        db.invalidate("build", &k)?,
        2,
        "build 2 was flagged already"
    );
    assert!(db.history("build", &k, 10)?.iter().all(|r| r.rebuild));
    assert!(!db.history("build", &key("other"), 10)?[0].rebuild);
    assert!(!db.history("test", &k, 10)?[0].rebuild);
    assert_eq!(db.invalidate("build", &k)?, 0);
    Ok(())
}

#[test]
fn records_are_found_by_job_id() -> Result {
    let dir = StateDir::new("cache-jobs");
    let (_store, db) = open(&dir)?;
    let a = rec("build", "k", 0, 10);
    let b = rec("build", "k", 1, 20);
    db.record(&a)?;
    db.record(&b)?;
    let job_ref = |build| JobRef {
        op: "build".into(),
        key: key("k"),
        build,
    };
    assert_eq!(db.lookup_job(&a.job_id)?, Some(job_ref(0)));
    assert_eq!(db.lookup_job(&b.job_id)?, Some(job_ref(1)));
    assert_eq!(db.by_job(&a.job_id)?, Some(a.clone()));
    assert_eq!(db.by_job(&b.job_id)?, Some(b.clone()));
    assert_eq!(db.lookup_job("2023-11-14/221320-nope-000000")?, None);
    assert_eq!(db.by_job("2023-11-14/221320-nope-000000")?, None);

    // Recording build 1 again, by another job finishing at another time, replaces it
    // everywhere: the old job id and finish time no longer find it.
    let b2 = CacheRecord {
        job_id: "2023-11-14/221400-build-b2".into(),
        outcome: Outcome::Err("failed".into()),
        finished: at(30),
        ..b.clone()
    };
    db.record(&b2)?;
    assert_eq!(db.lookup_job(&b.job_id)?, None);
    assert_eq!(db.by_job(&b.job_id)?, None);
    assert_eq!(db.by_job(&b2.job_id)?, Some(b2.clone()));
    assert_eq!(db.query(&Query::default())?, [b2.clone(), a.clone()]);
    assert_eq!(db.history("build", &key("k"), 10)?, [b2, a]);
    // The replaced record's index entries are gone, not just ignored.
    let store = db.store();
    assert_eq!(store.tree::<FinishedEntry>()?.len(), 2);
    assert_eq!(store.tree::<JobRef>()?.len(), 2);
    Ok(())
}

#[test]
fn ops_are_distinct_and_sorted() -> Result {
    let dir = StateDir::new("cache-ops");
    let (_store, db) = open(&dir)?;
    assert!(db.ops()?.is_empty());
    for (op, name, b) in [
        ("test", "a", 0),
        ("build", "a", 0),
        ("test", "a", 1),
        ("deploy", "b", 0),
        ("build", "b", 0),
        ("build-image", "a", 0),
        ("Build", "a", 0),
    ] {
        db.record(&rec(op, name, b, b))?;
    }
    assert_eq!(
        db.ops()?,
        ["Build", "build", "build-image", "deploy", "test"]
    );
    Ok(())
}

#[test]
fn reset_removes_one_op_and_its_index_entries() -> Result {
    let dir = StateDir::new("cache-reset");
    let (store, db) = open(&dir)?;
    let mut kept = Vec::new();
    let mut gone = Vec::new();
    for (op, name, b, t) in [
        ("build", "a", 0, 1),
        ("build", "a", 1, 2),
        ("build", "b", 0, 3),
        ("build-image", "a", 0, 4),
        ("test", "a", 0, 5),
        ("build", "b", 1, 6),
    ] {
        let r = rec(op, name, b, t);
        db.record(&r)?;
        (if op == "build" { &mut gone } else { &mut kept }).push(r);
    }
    // A record of the op that cannot be decoded goes too.
    store
        .tree::<CacheRecord>()?
        .raw_insert(record_key("build", &key("a"), 2), b"garbage")?;

    let (removed, _) = warnings(|| db.reset("build"));
    assert_eq!(removed?, 5);
    assert_eq!(db.latest("build", &key("a"))?, Lookup::Missing);
    assert_eq!(db.latest("build", &key("b"))?, Lookup::Missing);
    assert_eq!(db.next_build("build", &key("a"))?, 0);
    for r in &gone {
        assert_eq!(db.lookup_job(&r.job_id)?, None);
        assert_eq!(db.by_job(&r.job_id)?, None);
    }
    for r in &kept {
        assert_eq!(db.by_job(&r.job_id)?.as_ref(), Some(r));
    }
    assert_eq!(db.ops()?, ["build-image", "test"]);
    assert!(db
        .query(&Query {
            op: Some("build".into()),
            ..Query::default()
        })?
        .is_empty());
    kept.reverse();
    assert_eq!(db.query(&Query::default())?, kept);

    // Nothing of the op is left in any tree.
    assert_eq!(store.tree::<CacheRecord>()?.len(), 2);
    assert_eq!(store.tree::<FinishedEntry>()?.len(), 2);
    assert_eq!(store.tree::<JobRef>()?.len(), 2);
    assert_eq!(store.tree::<OpEntry>()?.len(), 2);
    assert!(store
        .tree::<JobRef>()?
        .iter()
        .all(|item| item.is_ok_and(|(_, r)| r.op != "build")));

    assert_eq!(db.reset("build")?, 0);
    assert_eq!(db.reset("nope")?, 0);
    // The op can be used again.
    db.record(&rec("build", "a", 0, 9))?;
    assert_eq!(db.ops()?, ["build", "build-image", "test"]);
    Ok(())
}

#[test]
fn records_survive_reopening() -> Result {
    let dir = StateDir::new("cache-reopen");
    let a = rec("build", "k", 0, 10);
    let b = rec("test", "k", 0, 20);
    {
        let (_store, db) = open(&dir)?;
        db.record(&a)?;
        db.record(&b)?;
        db.set_rebuild("test", &key("k"))?;
        db.flush()?;
    }
    let (_store, db) = open(&dir)?;
    let b = CacheRecord { rebuild: true, ..b };
    assert_eq!(db.latest("build", &key("k"))?, Lookup::Found(a.clone()));
    assert_eq!(db.latest("test", &key("k"))?, Lookup::Found(b.clone()));
    assert_eq!(db.by_job(&a.job_id)?, Some(a.clone()));
    assert_eq!(db.query(&Query::default())?, [b.clone(), a.clone()]);
    assert_eq!(db.ops()?, ["build", "test"]);
    assert_eq!(db.next_build("build", &key("k"))?, 1);
    Ok(())
}

#[test]
fn flush_async_makes_records_durable() -> Result {
    let dir = StateDir::new("cache-flush-async");
    let a = rec("build", "k", 0, 10);
    {
        let (_store, db) = open(&dir)?;
        db.record(&a)?;
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        rt.block_on(db.flush_async())?;
    }
    let (_store, db) = open(&dir)?;
    assert_eq!(db.latest("build", &key("k"))?, Lookup::Found(a));
    Ok(())
}

#[test]
fn an_undecodable_latest_record_is_reported() -> Result {
    let dir = StateDir::new("cache-undecodable");
    let (store, db) = open(&dir)?;
    let k = key("k");
    for b in 0..2 {
        db.record(&rec("build", "k", b, b))?;
    }
    let records = store.tree::<CacheRecord>()?;
    records.raw_insert(record_key("build", &k, 2), b"garbage")?;

    let (latest, warned) = warnings(|| db.latest("build", &k));
    assert_eq!(
        latest?,
        Lookup::Undecodable(Undecodable::Truncated { len: 7 }),
        "not skipped for build 1"
    );
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("cache-records"), "{warned:?}");

    // It is a miss: not in the history, not flagged, but its number is taken.
    let (history, _) = warnings(|| db.history("build", &k, 10));
    assert_eq!(builds(&history?), [1, 0]);
    let (flagged, _) = warnings(|| db.set_rebuild("build", &k));
    assert!(!flagged?);
    let (next, _) = warnings(|| db.next_build("build", &k));
    assert_eq!(next?, 3);

    // An older record that cannot be decoded is left out of the history.
    records.raw_insert(record_key("build", &k, 0), b"garbage")?;
    let (history, _) = warnings(|| db.history("build", &k, 10));
    assert_eq!(builds(&history?), [1]);
    let (found, _) = warnings(|| db.by_job(&rec("build", "k", 0, 0).job_id));
    assert_eq!(found?, None);
    let (job_ref, _) = warnings(|| db.lookup_job(&rec("build", "k", 0, 0).job_id));
    assert_eq!(
        job_ref?,
        Some(JobRef {
            op: "build".into(),
            key: k,
            build: 0
        }),
        "the job's entry still says where its record is"
    );
    let (newest, _) = warnings(|| db.query(&Query::default()));
    assert_eq!(jobs(&newest?), [rec("build", "k", 1, 1).job_id]);
    Ok(())
}

#[test]
fn dangling_index_entries_are_ignored_and_repaired() -> Result {
    let dir = StateDir::new("cache-repair");
    let (store, db) = open(&dir)?;
    let a = rec("build", "k", 0, 10);
    let b = rec("build", "k", 1, 20);
    db.record(&a)?;
    db.record(&b)?;
    assert_eq!(db.repair()?, Repair::default());

    let finished = store.tree::<FinishedEntry>()?;
    let job_refs = store.tree::<JobRef>()?;
    let ops = store.tree::<OpEntry>()?;

    // The entries of a record whose write a crash lost.
    let ghost = rec("build", "k", 5, 30);
    finished.insert(
        finished_key("build", to_nanos(ghost.finished), &ghost.key, 5),
        &FinishedEntry {
            job_id: ghost.job_id.clone(),
            ok: true,
        },
    )?;
    job_refs.insert(
        job_key(&ghost.job_id),
        &JobRef {
            op: "build".into(),
            key: ghost.key,
            build: 5,
        },
    )?;
    ops.insert(KeyBuf::new().str("ghost"), &OpEntry {})?;
    // An entry that does not match its record (another finish time).
    finished.insert(
        finished_key("build", to_nanos(at(15)), &a.key, 0),
        &FinishedEntry {
            job_id: a.job_id.clone(),
            ok: true,
        },
    )?;
    // An entry that cannot be decoded.
    finished.raw_insert(finished_key("build", 1, &a.key, 9), b"garbage")?;

    let (newest, _) = warnings(|| db.query(&Query::default()));
    assert_eq!(newest?, [b.clone(), a.clone()]);
    assert_eq!(db.by_job(&ghost.job_id)?, None);
    assert_eq!(db.lookup_job(&ghost.job_id)?, None);
    assert_eq!(db.ops()?, ["build"]);

    // Entries that a crash lost.
    finished.remove(finished_key("build", to_nanos(b.finished), &b.key, 1))?;
    job_refs.remove(job_key(&b.job_id))?;
    let (newest, _) = warnings(|| db.query(&Query::default()));
    assert_eq!(newest?, std::slice::from_ref(&a));
    assert_eq!(db.by_job(&b.job_id)?, None);

    let (repair, _) = warnings(|| db.repair());
    assert_eq!(
        repair?,
        Repair {
            added: 2,
            removed: 5
        }
    );
    assert_eq!(db.query(&Query::default())?, [b.clone(), a.clone()]);
    assert_eq!(db.by_job(&b.job_id)?, Some(b.clone()));
    assert_eq!(finished.len(), 2);
    assert_eq!(job_refs.len(), 2);
    assert_eq!(ops.len(), 1);
    assert_eq!(db.repair()?, Repair::default());
    Ok(())
}

#[test]
fn times_are_kept_to_the_nanosecond_and_shown_in_utc() {
    let t = UNIX_EPOCH + Duration::new(1_644_407_873, 999_999_999);
    assert_eq!(format_time(t), "2022-02-09 11:57:53");
    assert_eq!(to_nanos(t), 1_644_407_873_999_999_999);
    assert_eq!(from_nanos(to_nanos(t)), t);
    assert_eq!(format_time(UNIX_EPOCH), "1970-01-01 00:00:00");
    assert_eq!(to_nanos(UNIX_EPOCH - Duration::from_secs(1)), 0);
    assert_eq!(
        to_nanos(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
        u64::MAX
    );
    assert_eq!(format_time(from_nanos(u64::MAX)), "2554-07-21 23:34:33");
}
