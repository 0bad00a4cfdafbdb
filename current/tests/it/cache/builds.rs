//! The cache's state machine under a real engine: builds are made once per key, kept in
//! the store across restarts, and failures are not retried for the same key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use current::cache::{self, Builder};
use current::engine::{Engine, EngineOptions, Snapshot};
use current::job::{Job, StartOptions};
use current::term::ErrorKind;
use current::var::Var;
use current::Level;

use super::StateDir;

const DEADLINE: Duration = Duration::from_secs(20);

/// Squares its key, counting its builds; keys in `failing` fail.
#[derive(Default)]
struct Square {
    builds: AtomicUsize,
    failing: Mutex<Vec<u64>>,
}

impl Builder for Square {
    const ID: &'static str = "square";
    type Key = u64;
    type Value = u64;

    fn pp(&self, key: &u64) -> String {
        format!("square {key}")
    }

    fn level(&self, _key: &u64) -> Level {
        Level::Harmless
    }

    async fn build(&self, job: Job, key: u64) -> Result<u64, String> {
        job.start(Level::Harmless, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        self.builds.fetch_add(1, Ordering::SeqCst);
        if self.failing.lock().unwrap().contains(&key) {
            return Err(format!("{key} is cursed"));
        }
        Ok(key * key)
    }
}

struct Pipeline {
    engine: Engine<u64>,
    input: Var<u64>,
}

fn start(
    dir: &StateDir,
    rt: &tokio::runtime::Runtime,
    square: &Arc<Square>,
    first: u64,
) -> Pipeline {
    let input = Var::new("n", Ok(first));
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), {
        let (input, square) = (input.clone(), square.clone());
        move || cache::build(&square, &input.get())
    })
    .expect("engine starts");
    Pipeline { engine, input }
}

fn wait(p: &Pipeline, want: Result<u64, &str>) -> Snapshot<u64> {
    let want = want.map_err(ErrorKind::msg);
    p.engine
        .wait_until(move |s| s.result == want, DEADLINE)
        .expect("the expected result")
}

#[test]
fn a_key_is_built_once_and_kept_across_restarts() {
    let dir = StateDir::new("cache-once");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let square = Arc::new(Square::default());

    let p = start(&dir, &rt, &square, 3);
    let done = wait(&p, Ok(9));
    assert_eq!(done.jobs.len(), 1, "{done:?}");
    let job = done.jobs[0].clone();
    p.input.set(Ok(4));
    wait(&p, Ok(16));
    // Back to 3: the stored result, no new build.
    p.input.set(Ok(3));
    let again = wait(&p, Ok(9));
    assert_eq!(
        again.jobs,
        std::slice::from_ref(&job),
        "the job that built it is still the one shown"
    );
    assert_eq!(square.builds.load(Ordering::SeqCst), 2);
    let counters = cache::counters::<cache::Build<Square>>(p.engine.context());
    assert_eq!(counters.builds.load(Ordering::SeqCst), 2);
    p.engine.shutdown("restart").unwrap();

    // A new engine over the same state directory builds nothing it has.
    let p = start(&dir, &rt, &square, 4);
    wait(&p, Ok(16));
    p.input.set(Ok(3));
    wait(&p, Ok(9));
    assert_eq!(square.builds.load(Ordering::SeqCst), 2);
    p.engine.shutdown("done").unwrap();

    let log = std::fs::read_to_string(
        job.parse::<current::job::JobId>()
            .unwrap()
            .log_path(dir.path()),
    )
    .unwrap();
    let lines: Vec<&str> = log.lines().map(|l| &l[21..]).collect();
    assert_eq!(lines, ["New job: square 3", "Job succeeded"]);
}

#[test]
fn a_failure_is_kept_for_its_key_until_the_key_changes() {
    let dir = StateDir::new("cache-fail");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let square = Arc::new(Square::default());
    square.failing.lock().unwrap().push(5);

    let p = start(&dir, &rt, &square, 5);
    wait(&p, Err("5 is cursed"));
    p.input.set(Ok(2));
    wait(&p, Ok(4));
    p.input.set(Ok(5));
    wait(&p, Err("5 is cursed"));
    assert_eq!(
        square.builds.load(Ordering::SeqCst),
        2,
        "5 is not built again"
    );
    p.engine.shutdown("restart").unwrap();

    let p = start(&dir, &rt, &square, 5);
    wait(&p, Err("5 is cursed"));
    assert_eq!(
        square.builds.load(Ordering::SeqCst),
        2,
        "not after a restart either"
    );
    p.engine.shutdown("done").unwrap();
}

/// Succeeds without starting its job.
struct Lazy;

impl Builder for Lazy {
    const ID: &'static str = "lazy";
    type Key = ();
    type Value = ();

    fn pp(&self, _key: &()) -> String {
        "lazy".into()
    }

    async fn build(&self, _job: Job, _key: ()) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn succeeding_without_starting_the_job_is_a_failure() {
    let dir = StateDir::new("cache-lazy");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Engine::start(EngineOptions::new(dir.path(), rt.handle().clone()), || {
        cache::build(&Arc::new(Lazy), &current::term::Term::value(()))
    })
    .unwrap();
    engine
        .wait_until(
            |s| s.result == Err(ErrorKind::msg("Job.start not called!")),
            DEADLINE,
        )
        .unwrap();
    engine.shutdown("done").unwrap();
}

#[test]
fn a_rebuild_runs_a_new_job_and_the_actions_describe_the_key() {
    let dir = StateDir::new("cache-rebuild");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let square = Arc::new(Square::default());
    let p = start(&dir, &rt, &square, 6);
    let done = wait(&p, Ok(36));
    let first = done.jobs[0].clone();
    let ctx = p.engine.context();
    let actions = cache::job_actions(ctx, &first).expect("the job's actions");
    assert_eq!(actions.describe(), "square 6 (completed)");

    let second = actions.rebuild().expect("a new job");
    assert_ne!(second, first);
    p.engine
        .wait_until(
            |s| s.result == Ok(36) && s.jobs == [second.clone()],
            DEADLINE,
        )
        .unwrap();
    assert_eq!(square.builds.load(Ordering::SeqCst), 2);
    // The first build's record is flagged for rebuild; the second is the latest.
    let db = cache::database(ctx).unwrap();
    let history = db
        .history(
            "square",
            &current::digest::key_digest("square", 1, &6u64).unwrap(),
            10,
        )
        .unwrap();
    let flags: Vec<(u64, bool)> = history.iter().map(|r| (r.build, r.rebuild)).collect();
    assert_eq!(flags, [(1, false), (0, true)]);

    // Invalidating builds it once more.
    cache::invalidate(ctx, &cache::Build(square.clone()), &6).unwrap();
    p.engine
        .wait_until(
            |s| s.result == Ok(36) && s.jobs != [second.clone()],
            DEADLINE,
        )
        .unwrap();
    assert_eq!(square.builds.load(Ordering::SeqCst), 3);
    p.engine.shutdown("done").unwrap();
}

#[test]
fn an_expired_result_is_rebuilt_while_the_old_one_is_shown() {
    use current::clock::ManualClock;
    use std::time::UNIX_EPOCH;

    let dir = StateDir::new("cache-expiry");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let square = Arc::new(Square::default());
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_644_407_873),
    ));
    let mut options = EngineOptions::new(dir.path(), rt.handle().clone());
    options.clock = clock.clone();
    let schedule = cache::Schedule {
        valid_for: Some(Duration::from_secs(3600)),
    };
    let engine = Engine::start(options, {
        let square = square.clone();
        move || cache::build_with(&square, &current::term::Term::value(7u64), schedule)
    })
    .unwrap();
    let done = engine.wait_until(|s| s.result == Ok(49), DEADLINE).unwrap();
    let job = done.jobs[0].clone();
    let actions = cache::job_actions(engine.context(), &job).unwrap();
    assert_eq!(
        actions.describe(),
        "square 7 will be invalid after 60 minutes"
    );

    clock.advance(Duration::from_secs(3601));
    // The old result stays shown (latched) under the new job until the rebuild is done.
    let rebuilt = {
        let square = square.clone();
        move |s: &Snapshot<u64>| {
            s.result == Ok(49)
                && s.jobs != [job.clone()]
                && square.builds.load(Ordering::SeqCst) == 2
        }
    };
    engine.wait_until(rebuilt, DEADLINE).unwrap();
    engine.shutdown("done").unwrap();
}
