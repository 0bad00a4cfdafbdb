//! Queries: each filter and their combinations, newest first, limits, job prefixes.

use current::cache::db::{CacheDb, CacheError, CacheRecord, Outcome, Query, DEFAULT_QUERY_LIMIT};
use current::store::Store;

use super::{at, jobs, key, StateDir};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn record(op: &str, name: &str, build: u64, ok: bool, finished: u64, job: &str) -> CacheRecord {
    CacheRecord {
        op: op.into(),
        key: key(name),
        value: None,
        job_id: job.into(),
        outcome: if ok {
            Outcome::Ok(vec![1])
        } else {
            Outcome::Err("failed".into())
        },
        build,
        rebuild: false,
        ready: at(0),
        running: None,
        finished: at(finished),
    }
}

const A: &str = "2025-01-01/100000-build-a";
const B: &str = "2025-01-01/110000-build-b";
const C: &str = "2025-01-02/100000-test-c";
const D: &str = "2025-01-02/110000-test-d";
const E: &str = "2025-01-02/120000-build-e";

/// Five records, B flagged for rebuilding; newest first they are D, E, B, C, A.
fn five(db: &CacheDb) -> Result {
    db.record(&record("build", "k0", 0, true, 10, A))?;
    db.record(&record("build", "k0", 1, false, 30, B))?;
    db.record(&record("test", "k0", 0, true, 20, C))?;
    db.record(&record("test", "k1", 0, false, 50, D))?;
    db.record(&record("build", "k1", 0, true, 40, E))?;
    db.set_rebuild("build", &key("k0"))?;
    Ok(())
}

fn q() -> Query {
    Query::default()
}

fn op(op: &str) -> Option<String> {
    Some(op.into())
}

#[test]
fn each_filter_and_their_combinations() -> Result {
    let dir = StateDir::new("cache-query");
    let store = Store::open(dir.path())?;
    let db = CacheDb::open(&store)?;
    five(&db)?;
    let run = |query: Query| -> Result<Vec<String>> {
        Ok(jobs(&db.query(&query)?)
            .into_iter()
            .map(String::from)
            .collect())
    };

    assert_eq!(run(q())?, [D, E, B, C, A]);
    // By operation.
    assert_eq!(
        run(Query {
            op: op("build"),
            ..q()
        })?,
        [E, B, A]
    );
    assert_eq!(
        run(Query {
            op: op("test"),
            ..q()
        })?,
        [D, C]
    );
    assert!(run(Query {
        op: op("deploy"),
        ..q()
    })?
    .is_empty());
    assert!(run(Query {
        op: op("buil"),
        ..q()
    })?
    .is_empty());
    // By outcome.
    assert_eq!(
        run(Query {
            ok: Some(false),
            ..q()
        })?,
        [D, B]
    );
    assert_eq!(
        run(Query {
            ok: Some(true),
            ..q()
        })?,
        [E, C, A]
    );
    // By rebuild flag.
    assert_eq!(
        run(Query {
            rebuild: Some(true),
            ..q()
        })?,
        [B]
    );
    assert_eq!(
        run(Query {
            rebuild: Some(false),
            ..q()
        })?,
        [D, E, C, A]
    );
    // By job id prefix.
    let prefix = |p: &str| Query {
        job_prefix: Some(p.into()),
        ..q()
    };
    assert_eq!(run(prefix("2025-01-02/"))?, [D, E, C]);
    assert_eq!(run(prefix("2025-01-01/11"))?, [B]);
    assert_eq!(run(prefix(A))?, [A]);
    assert_eq!(run(prefix(""))?, [D, E, B, C, A]);
    assert!(run(prefix("2025-01-03"))?.is_empty());
    assert!(run(prefix("025"))?.is_empty(), "a prefix, not a substring");

    // Combinations.
    assert_eq!(
        run(Query {
            op: op("build"),
            ok: Some(true),
            ..q()
        })?,
        [E, A]
    );
    assert_eq!(
        run(Query {
            op: op("test"),
            ..prefix("2025-01-02/11")
        })?,
        [D]
    );
    assert_eq!(
        run(Query {
            ok: Some(true),
            ..prefix("2025-01-02")
        })?,
        [E, C]
    );
    assert_eq!(
        run(Query {
            op: op("build"),
            ok: Some(true),
            rebuild: Some(false),
            ..q()
        })?,
        [E, A]
    );
    assert_eq!(
        run(Query {
            op: op("build"),
            ok: Some(false),
            rebuild: Some(true),
            ..prefix("2025-01-01")
        })?,
        [B]
    );
    assert!(run(Query {
        op: op("test"),
        rebuild: Some(true),
        ..q()
    })?
    .is_empty());

    // Limits.
    assert_eq!(run(Query { limit: 2, ..q() })?, [D, E]);
    assert!(run(Query { limit: 0, ..q() })?.is_empty());
    assert_eq!(
        run(Query {
            op: op("build"),
            limit: 1,
            ..q()
        })?,
        [E]
    );
    assert_eq!(
        run(Query {
            ok: Some(true),
            limit: 2,
            ..q()
        })?,
        [E, C]
    );
    assert_eq!(
        run(Query {
            rebuild: Some(false),
            limit: 3,
            ..q()
        })?,
        [D, E, C]
    );

    // Whole records come back.
    assert_eq!(
        db.query(&Query {
            rebuild: Some(true),
            ..q()
        })?,
        [CacheRecord {
            rebuild: true,
            ..record("build", "k0", 1, false, 30, B)
        }]
    );
    Ok(())
}

#[test]
fn glob_characters_in_a_job_prefix_are_refused() -> Result {
    let dir = StateDir::new("cache-query-glob");
    let store = Store::open(dir.path())?;
    let db = CacheDb::open(&store)?;
    five(&db)?;
    for bad in ["2025-*", "2025-01-0?", "*", "?"] {
        match db.query(&Query {
            job_prefix: Some(bad.into()),
            ..q()
        }) {
            Err(e @ CacheError::JobPrefix { .. }) => assert_eq!(
                e.to_string(),
                format!("bad character in job id prefix {bad:?}: `*` and `?` are not allowed")
            ),
            other => panic!("{bad}: expected a refusal, got {other:?}"),
        }
    }
    // Other glob characters mean nothing special.
    db.record(&record("x", "k", 0, true, 60, "2025-01-03/[x]-a"))?;
    let found = db.query(&Query {
        job_prefix: Some("2025-01-03/[x]".into()),
        ..q()
    })?;
    assert_eq!(jobs(&found), ["2025-01-03/[x]-a"]);
    Ok(())
}

#[test]
fn ties_and_many_ops_merge_newest_first() -> Result {
    let dir = StateDir::new("cache-query-model");
    let store = Store::open(dir.path())?;
    let db = CacheDb::open(&store)?;
    let mut all = Vec::new();
    let ops = ["build", "test", "deploy"];
    for i in 0..24u64 {
        let op = ops[(i % 3) as usize];
        let name = format!("k{}", (i / 3) % 2);
        let finished = 1000 + (i * 7 % 24) * 10;
        let job = format!("2025-01-{:02}/12{:04}-{op}-{i:06x}", 1 + i / 8, i);
        all.push(record(op, &name, i / 6, i % 4 != 1, finished, &job));
    }
    // Finished at the same instant: descending (op, key, build).
    all.push(record(
        "build",
        "tie",
        0,
        true,
        5000,
        "2025-01-04/000000-build-tie",
    ));
    all.push(record(
        "test",
        "tie",
        0,
        false,
        5000,
        "2025-01-04/000000-test-tie",
    ));
    all.push(record(
        "test",
        "tie",
        1,
        true,
        5000,
        "2025-01-04/000000-test-tie-1",
    ));
    for r in &all {
        db.record(r)?;
    }
    db.set_rebuild("build", &key("k0"))?;
    db.invalidate("test", &key("k1"))?;
    for r in &mut all {
        let latest_of_build_k0 = r.op == "build" && r.key == key("k0") && r.build == 3;
        if latest_of_build_k0 || (r.op == "test" && r.key == key("k1")) {
            r.rebuild = true;
        }
    }

    assert_eq!(
        jobs(&db.query(&Query { limit: 3, ..q() })?),
        [
            "2025-01-04/000000-test-tie-1",
            "2025-01-04/000000-test-tie",
            "2025-01-04/000000-build-tie"
        ]
    );

    // Every combination of filters against a model: filter, then sort newest first.
    let mut expected_all = all.clone();
    expected_all.sort_by(|a, b| {
        (b.finished, &b.op, b.key, b.build).cmp(&(a.finished, &a.op, a.key, a.build))
    });
    let mut checked = 0;
    for op in [
        None,
        Some("build"),
        Some("test"),
        Some("deploy"),
        Some("nope"),
    ] {
        for ok in [None, Some(true), Some(false)] {
            for rebuild in [None, Some(true), Some(false)] {
                for job_prefix in [
                    None,
                    Some("2025-01-01/"),
                    Some("2025-01-02/1200"),
                    Some("x"),
                ] {
                    for limit in [0, 1, 3, 100] {
                        let query = Query {
                            op: op.map(String::from),
                            ok,
                            rebuild,
                            job_prefix: job_prefix.map(String::from),
                            limit,
                        };
                        let expected: Vec<&CacheRecord> = expected_all
                            .iter()
                            .filter(|r| op.is_none_or(|op| r.op == op))
                            .filter(|r| ok.is_none_or(|ok| r.is_ok() == ok))
                            .filter(|r| rebuild.is_none_or(|rebuild| r.rebuild == rebuild))
                            .filter(|r| job_prefix.is_none_or(|p| r.job_id.starts_with(p)))
                            .take(limit)
                            .collect();
                        let got = db.query(&query)?;
                        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{query:?}");
                        checked += usize::from(!expected.is_empty());
                    }
                }
            }
        }
    }
    assert!(
        checked > 100,
        "the model's queries mostly find something: {checked}"
    );
    Ok(())
}

#[test]
fn the_default_limit_is_a_hundred() -> Result {
    let dir = StateDir::new("cache-query-limit");
    let store = Store::open(dir.path())?;
    let db = CacheDb::open(&store)?;
    for i in 0..150 {
        let op = if i % 2 == 0 { "even" } else { "odd" };
        db.record(&record(
            op,
            &format!("k{i}"),
            0,
            true,
            i,
            &format!("job-{i:03}"),
        ))?;
    }
    let newest = db.query(&q())?;
    assert_eq!(newest.len(), DEFAULT_QUERY_LIMIT);
    let expected: Vec<String> = (50..150).rev().map(|i| format!("job-{i:03}")).collect();
    assert_eq!(jobs(&newest), expected);
    assert_eq!(db.query(&Query { limit: 1000, ..q() })?.len(), 150);
    assert_eq!(
        db.query(&Query {
            op: op("odd"),
            limit: 1000,
            ..q()
        })?
        .len(),
        75
    );
    Ok(())
}
