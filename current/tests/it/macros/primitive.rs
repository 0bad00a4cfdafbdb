//! `#[primitive]`: the cached step it makes, run by a real engine over a real store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use current::cache::db::CacheDb;
use current::cache::{Builder, Operation};
use current::digest::key_digest;
use current::engine::{Engine, EngineOptions, Snapshot};
use current::job::Job;
use current::pool::Pool;
use current::store::Store;
use current::term::{analysis, Active, ErrorKind, Term};
use current::var::Var;
use current::{primitive, Config, Level};
use serde::{Deserialize, Serialize};

use crate::store::StateDir;
use crate::support::runtime;

const DEADLINE: Duration = Duration::from_secs(20);

/// Counts the builds; the context of the primitives below.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Square {
    pub n: u64,
    pub square: u64,
}

/// Squares `n`; fails for 13.
#[primitive(level = Harmless)]
pub async fn square(job: &Job, #[context] builds: &Counter, n: u64) -> Result<Square, String> {
    builds.0.fetch_add(1, Ordering::SeqCst);
    job.log(format_args!("squaring {n}"));
    if n == 13 {
        return Err(format!("{n} is unlucky"));
    }
    Ok(Square { n, square: n * n })
}

mod other {
    use super::*;

    /// A primitive with the same name in another module: its results are its own.
    #[primitive]
    pub async fn square(_job: &Job, n: u64) -> anyhow::Result<u64> {
        Ok(n + 1000)
    }
}

/// Several keys, one by reference; the context by value.
#[primitive(id = "join-words", version = 7)]
async fn join(_job: &Job, #[context] sep: String, a: &String, b: String) -> Result<String, String> {
    Ok(format!("{a}{sep}{b}"))
}

/// A publish step: the key is the name, the value what is published there.
#[primitive(publish, auto_cancel, latched)]
async fn publish(
    _job: &Job,
    #[context] published: &Counter,
    name: String,
    text: String,
) -> Result<usize, String> {
    published.0.fetch_add(1, Ordering::SeqCst);
    Ok(name.len() + text.len())
}

/// Waits for a slot of `POOL` and times out after 50 ms if it cannot finish.
#[primitive(pool = pool(), timeout = "50ms", level = Dangerous)]
async fn guarded(_job: &Job, n: u64) -> Result<u64, String> {
    if n == 0 {
        std::future::pending::<()>().await;
    }
    Ok(n)
}

fn pool() -> Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Pool::new("guarded", 1)).clone()
}

fn wait<T: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static>(
    engine: &Engine<T>,
    want: Result<T, ErrorKind>,
) -> Snapshot<T> {
    engine
        .wait_until(move |s| s.result == want, DEADLINE)
        .expect("the expected result")
}

fn ops(dir: &StateDir) -> Vec<String> {
    let store = Store::open(dir.path()).expect("the store opens");
    CacheDb::open(&store)
        .expect("the cache opens")
        .ops()
        .expect("the ops")
}

#[test]
fn a_primitive_builds_once_per_key_and_keeps_its_results_across_restarts() {
    let dir = StateDir::new("macro-square");
    let rt = runtime();
    let builds = Counter::default();
    let start = |n: &Var<u64>| {
        let (n, builds) = (n.clone(), builds.clone());
        Engine::start(
            EngineOptions::new(dir.path(), rt.handle().clone()),
            move || square(&builds, &n.get()),
        )
        .expect("the engine starts")
    };
    let n = Var::new("n", Ok(3));
    let engine = start(&n);
    let snap = wait(&engine, Ok(Square { n: 3, square: 9 }));
    assert_eq!(builds.get(), 1);
    // The job's log has the body's line; the job is labelled with the bare name.
    let job = &snap.jobs[0];
    assert!(job.contains("-square-"), "{job}");
    let log = std::fs::read_to_string(dir.path().join("job").join(format!("{job}.log")))
        .expect("the job's log");
    assert!(log.contains(": squaring 3\n"), "{log}");
    // The diagram's box shows the name and the key.
    let text = engine
        .inspect(|g, t| analysis::pp(t, g))
        .expect("the engine runs");
    assert_eq!(text, "(const) >>= n\n||\n(const) >>= square 3");

    n.set(Ok(4));
    wait(&engine, Ok(Square { n: 4, square: 16 }));
    n.set(Ok(3));
    wait(&engine, Ok(Square { n: 3, square: 9 }));
    assert_eq!(builds.get(), 2, "3 was built before");
    engine.shutdown("restart").expect("a clean shutdown");

    let engine = start(&n);
    wait(&engine, Ok(Square { n: 3, square: 9 }));
    assert_eq!(builds.get(), 2, "the restart reads the stored result");
    engine.shutdown("done").expect("a clean shutdown");
    // Its stored identity is its module path and name.
    assert_eq!(ops(&dir), ["it::macros::primitive::square"]);
}

#[test]
fn an_error_fails_the_step_and_is_not_retried_for_the_same_key() {
    let dir = StateDir::new("macro-error");
    let rt = runtime();
    let builds = Counter::default();
    let n = Var::new("n", Ok(13));
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), {
        let (n, builds) = (n.clone(), builds.clone());
        move || square(&builds, &n.get()).map(|s| s.square)
    })
    .expect("the engine starts");
    wait(&engine, Err(ErrorKind::msg("13 is unlucky")));
    n.set(Ok(2));
    wait(&engine, Ok(4));
    n.set(Ok(13));
    wait(&engine, Err(ErrorKind::msg("13 is unlucky")));
    assert_eq!(builds.get(), 2, "the failure of 13 is kept");
    engine.shutdown("done").expect("a clean shutdown");
}

#[test]
fn primitives_of_the_same_name_in_two_modules_keep_separate_results() {
    let dir = StateDir::new("macro-modules");
    let rt = runtime();
    let builds = Counter::default();
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), {
        let builds = builds.clone();
        move || {
            let n = Term::value(5);
            square(&builds, &n).pair(&other::square(&n))
        }
    })
    .expect("the engine starts");
    wait(&engine, Ok((Square { n: 5, square: 25 }, 1005)));
    engine.shutdown("done").expect("a clean shutdown");
    assert_eq!(
        ops(&dir),
        [
            "it::macros::primitive::other::square",
            "it::macros::primitive::square"
        ]
    );
}

#[test]
fn several_keys_an_id_and_a_version() {
    let dir = StateDir::new("macro-join");
    let rt = runtime();
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), || {
        join(
            "-".to_string(),
            &Term::value("left".to_string()),
            &Term::value("right".to_string()),
        )
    })
    .expect("the engine starts");
    let snap = wait(&engine, Ok("left-right".to_string()));
    assert!(snap.jobs[0].contains("-join-words-"), "{:?}", snap.jobs);
    let text = engine
        .inspect(|g, t| analysis::pp(t, g))
        .expect("the engine runs");
    assert_eq!(
        text,
        "(const)\n||\n(const)\n||\n(const) >>= join-words left right"
    );
    engine.shutdown("done").expect("a clean shutdown");
    assert_eq!(ops(&dir), ["join-words"]);

    // The key's digest covers the id, the version and the function's tokens.
    let op = join::Op { sep: "-".into() };
    let key = ("a".to_string(), "b".to_string());
    assert_eq!(<join::Op as Builder>::VERSION, 7);
    assert_eq!(
        op.key_digest(&key).expect("a digest"),
        key_digest("join-words", 7, &(join::TOKENS, &key)).expect("a digest")
    );
    assert_ne!(join::TOKENS, square::TOKENS);
    assert_eq!(join::TOKENS.len(), 64);
}

#[test]
fn a_publish_step_runs_again_when_its_value_changes() {
    let dir = StateDir::new("macro-publish");
    let rt = runtime();
    let published = Counter::default();
    let text = Var::new("text", Ok("hello".to_string()));
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), {
        let (text, published) = (text.clone(), published.clone());
        move || publish(&published, &Term::value("site".to_string()), &text.get())
    })
    .expect("the engine starts");
    wait(&engine, Ok(9));
    text.set(Ok("hello world".to_string()));
    wait(&engine, Ok(15));
    text.set(Ok("hello".to_string()));
    wait(&engine, Ok(9));
    assert_eq!(
        published.get(),
        3,
        "a publish step keeps only the latest value"
    );
    let label = engine
        .inspect(|g, t| analysis::pp(t, g))
        .expect("the engine runs");
    assert_eq!(label, "(const)\n||\n(const) >>= text >>= publish site");
    engine.shutdown("done").expect("a clean shutdown");
    let op = publish::Op { published };
    assert!(op.auto_cancel() && op.latched());
}

#[test]
fn options_set_the_level_the_pool_and_the_timeout() {
    let dir = StateDir::new("macro-options");
    let rt = runtime();
    let mut options = EngineOptions::new(dir.path(), rt.handle().clone());
    options.config = Config::new(Some(Level::AboveAverage));
    let engine = Engine::start(options, || {
        guarded(&Term::value(1)).pair(&guarded(&Term::value(0)))
    })
    .expect("the engine starts");
    // Dangerous is above the threshold: both wait for confirmation.
    engine
        .wait_until(
            |s| {
                s.result == Err(ErrorKind::Active(Active::WaitingForConfirmation))
                    && s.jobs.len() == 2
            },
            DEADLINE,
        )
        .expect("both wait for confirmation");
    let held = pool().try_acquire().expect("the pool is free");
    engine.context().config().set_confirm(None);
    // Both now wait for the pool, held by the test.
    engine
        .wait_until(
            |s| s.result == Err(ErrorKind::Active(Active::Ready)),
            DEADLINE,
        )
        .expect("waiting for the pool");
    drop(held);
    // One finishes; the other never does and is cancelled by its timeout.
    let snap = engine
        .wait_until(|s| matches!(&s.result, Err(ErrorKind::Msg(_))), DEADLINE)
        .expect("the timeout");
    assert_eq!(snap.result, Err(ErrorKind::msg("Cancelled")), "{snap:?}");
    // Log lines without their time stamps (`YYYY-MM-DD HH:MM.SS: `).
    let lines = |job: &String| -> Vec<String> {
        std::fs::read_to_string(dir.path().join("job").join(format!("{job}.log")))
            .expect("a job's log")
            .lines()
            .map(|l| l.get(21..).unwrap_or(l).to_string())
            .collect()
    };
    let mut logs: Vec<Vec<String>> = snap.jobs.iter().map(lines).collect();
    logs.sort();
    let common = [
        "Waiting for confirm-threshold > dangerous",
        "Confirm-threshold now disabled",
        "Waiting for resource in pool guarded",
        "Got resource from pool guarded",
    ];
    let expect = |first: &str, last: &[&str]| -> Vec<String> {
        std::iter::once(first)
            .chain(common)
            .chain(last.iter().copied())
            .map(String::from)
            .collect()
    };
    assert_eq!(
        logs,
        [
            expect(
                "New job: guarded 0",
                &[
                    "Cancelling: Timeout (50 ms)",
                    "Cancelled: Timeout (50 ms)",
                    "Job failed: Cancelled"
                ]
            ),
            expect("New job: guarded 1", &["Job succeeded"]),
        ]
    );
    engine.shutdown("done").expect("a clean shutdown");
}

#[test]
fn the_body_can_be_called_directly_with_a_standalone_job() {
    let dir = StateDir::new("macro-body");
    let rt = runtime();
    let builds = Counter::default();
    let (out, log) = rt.block_on(async {
        let job = Job::standalone(dir.path(), "test").expect("a job");
        let out = square::body(&job, &builds, 7).await;
        job.complete();
        (
            out,
            std::fs::read_to_string(job.log_path()).expect("the log"),
        )
    });
    assert_eq!(out, Ok(Square { n: 7, square: 49 }));
    assert!(log.contains(": squaring 7\n"), "{log}");
    assert_eq!(builds.get(), 1);
    assert_eq!(<square::Op as Builder>::ID, "it::macros::primitive::square");
    assert_eq!(<square::Op as Builder>::LABEL, "square");
    assert_eq!(<publish::Op as Operation>::LABEL, "publish");
}
