//! The cache's instance state machine (OCurrent's `Current_cache`, reference §4) under a
//! real engine, scenario by scenario.
//!
//! The operations here are test doubles driven by the test: each call is logged (key,
//! value, job) and then waits, first (optionally) before starting its job, then before
//! finishing, until the test lets it go with [`Control::start`] and [`Control::finish`].
//! So a test sees every `Active` state for as long as it likes and counts runs exactly.
//! Every engine runs on a [`ManualClock`] stopped at 2022-02-09 11:57:53 UTC, so job ids
//! and log lines are known to the second. Waiting is polling with a deadline.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use current::cache::rules::RulesDb;
use current::cache::{self, Builder, Operation, AUTO_CANCEL};
use current::clock::ManualClock;
use current::engine::{Engine, EngineOptions, Snapshot};
use current::job::{Job, JobId, StartOptions};
use current::log_rules::Rule;
use current::term::{analysis, Active, ErrorKind, Metadata, Outcome, Term};
use current::var::Var;
use current::{Config, Level};
use tokio::sync::oneshot;

use super::StateDir;
use crate::support::runtime;

/// How long a test waits for something before it fails (real time: a guard against a
/// hang, never a measure of behaviour).
const DEADLINE: Duration = Duration::from_secs(20);

/// 2022-02-09 11:57:53 UTC, where every engine's clock stands.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_644_407_873)
}

/// The stamp of every log line (the clock never moves).
const STAMP: &str = "2022-02-09 11:57.53: ";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ------------------------------------------------------------------------------------
// The test doubles.

/// Where a call waits for the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// Before `job.start` (only when [`Control::hold_start`] is set): the job is `Ready`.
    Start,
    /// After `job.start`: the job is `Running`.
    Finish,
}

/// What the test lets a call finish with: lines to write to the job's log first, then
/// the result.
struct Reply {
    log: Vec<String>,
    result: Result<String, String>,
}

struct Waiter {
    call: usize,
    key: String,
    gate: Gate,
    tx: oneshot::Sender<Reply>,
}

/// One run of an operation.
#[derive(Clone, Debug)]
struct Call {
    key: String,
    value: String,
    job: String,
}

/// The calls of an operation, and the gates they wait at.
#[derive(Default)]
struct Control {
    calls: Mutex<Vec<Call>>,
    waiting: Mutex<Vec<Waiter>>,
    hold_start: AtomicBool,
}

impl Control {
    fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    /// Make every later call wait at [`Gate::Start`] before it starts its job.
    fn holding_start() -> Arc<Control> {
        let c = Control::new();
        c.hold_start.store(true, Ordering::SeqCst);
        c
    }

    /// The body of every operation: log the call, wait (maybe) to start, start the job at
    /// `level`, wait to finish. A cancelled job stops waiting and fails.
    async fn run(
        &self,
        job: &Job,
        level: Level,
        key: String,
        value: String,
    ) -> Result<String, String> {
        let call = {
            let mut calls = lock(&self.calls);
            calls.push(Call {
                key: key.clone(),
                value,
                job: job.id().to_string(),
            });
            calls.len() - 1
        };
        if self.hold_start.load(Ordering::SeqCst) {
            self.wait(job, call, &key, Gate::Start).await?;
        }
        job.start(level, StartOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let reply = self.wait(job, call, &key, Gate::Finish).await?;
        for line in reply.log {
            job.log(line);
        }
        reply.result
    }

    async fn wait(&self, job: &Job, call: usize, key: &str, gate: Gate) -> Result<Reply, String> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).push(Waiter {
            call,
            key: key.to_string(),
            gate,
            tx,
        });
        tokio::select! {
            reply = rx => reply.map_err(|_| "the test let go of the gate".to_string()),
            reason = job.until_cancelled() => {
                lock(&self.waiting).retain(|w| w.call != call);
                Err(format!("stopped: {reason}"))
            }
        }
    }

    /// The calls so far, as (key, value).
    fn calls(&self) -> Vec<(String, String)> {
        lock(&self.calls)
            .iter()
            .map(|c| (c.key.clone(), c.value.clone()))
            .collect()
    }

    /// The job of call `n` (0-based).
    fn job(&self, n: usize) -> String {
        lock(&self.calls)[n].job.clone()
    }

    fn count(&self) -> usize {
        lock(&self.calls).len()
    }

    /// Wait until there have been `n` calls.
    fn wait_calls(&self, n: usize) {
        poll(
            format_args!("{n} calls"),
            || self.count() >= n,
            || format!("{:?}", self.calls()),
        );
        assert_eq!(self.count(), n, "calls: {:?}", self.calls());
    }

    /// Wait until a call of `key` waits at `gate`, and let it go with `reply`.
    fn release(&self, key: &str, gate: Gate, mut reply: Reply) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let waiter = {
                let mut waiting = lock(&self.waiting);
                let found = waiting.iter().position(|w| w.key == key && w.gate == gate);
                found.map(|i| waiting.remove(i))
            };
            match waiter {
                Some(w) => match w.tx.send(reply) {
                    Ok(()) => return,
                    // That call was cancelled meanwhile: try the next one.
                    Err(back) => reply = back,
                },
                None if Instant::now() > deadline => panic!(
                    "timed out waiting for a call of {key:?} at {gate:?}; calls: {:?}",
                    self.calls()
                ),
                None => pause(),
            }
        }
    }

    /// Let the waiting call of `key` start its job.
    fn start(&self, key: &str) {
        self.release(
            key,
            Gate::Start,
            Reply {
                log: Vec::new(),
                result: Ok(String::new()),
            },
        );
    }

    /// Let the running call of `key` finish with `result`.
    fn finish(&self, key: &str, result: Result<&str, &str>) {
        self.finish_logging(key, &[], result);
    }

    /// Let the running call of `key` write `log` to its job's log, then finish.
    fn finish_logging(&self, key: &str, log: &[&str], result: Result<&str, &str>) {
        let reply = Reply {
            log: log.iter().map(|l| l.to_string()).collect(),
            result: result.map(str::to_string).map_err(str::to_string),
        };
        self.release(key, Gate::Finish, reply);
    }

    /// How many calls wait at a gate now.
    fn waiting(&self) -> usize {
        lock(&self.waiting).len()
    }
}

/// What varies between the operations of these tests.
trait Flavour: Send + Sync + 'static {
    const ID: &'static str;
    const AUTO_CANCEL: bool = false;
    const LATCHED: bool = false;
    const LEVEL: Level = Level::Harmless;
}

/// A publish step (OCaml's `Current_cache.Output` / `Generic`): key and value are
/// strings; the outcome is what the test says.
struct Publish<F> {
    control: Arc<Control>,
    _flavour: PhantomData<fn() -> F>,
}

fn publish<F: Flavour>(control: &Arc<Control>) -> Arc<Publish<F>> {
    Arc::new(Publish {
        control: control.clone(),
        _flavour: PhantomData,
    })
}

impl<F: Flavour> Operation for Publish<F> {
    const ID: &'static str = F::ID;
    type Key = String;
    type Value = String;
    type Outcome = String;

    fn auto_cancel(&self) -> bool {
        F::AUTO_CANCEL
    }

    fn latched(&self) -> bool {
        F::LATCHED
    }

    fn level(&self, _key: &String, _value: &String) -> Level {
        F::LEVEL
    }

    fn pp(&self, key: &String, value: &String) -> String {
        format!("{key}={value}")
    }

    async fn run(&self, job: Job, key: String, value: String) -> Result<String, String> {
        self.control.run(&job, F::LEVEL, key, value).await
    }
}

/// A build (OCaml's `Current_cache.Make`): the key is a string, the value what the test
/// says.
struct Make<F> {
    control: Arc<Control>,
    _flavour: PhantomData<fn() -> F>,
}

fn make<F: Flavour>(control: &Arc<Control>) -> Arc<Make<F>> {
    Arc::new(Make {
        control: control.clone(),
        _flavour: PhantomData,
    })
}

impl<F: Flavour> Builder for Make<F> {
    const ID: &'static str = F::ID;
    type Key = String;
    type Value = String;

    fn auto_cancel(&self) -> bool {
        F::AUTO_CANCEL
    }

    fn level(&self, _key: &String) -> Level {
        F::LEVEL
    }

    fn pp(&self, key: &String) -> String {
        format!("build {key}")
    }

    async fn build(&self, job: Job, key: String) -> Result<String, String> {
        self.control.run(&job, F::LEVEL, key, String::new()).await
    }
}

struct Plain;
impl Flavour for Plain {
    const ID: &'static str = "plain";
}

struct AutoCancel;
impl Flavour for AutoCancel {
    const ID: &'static str = "auto-cancel";
    const AUTO_CANCEL: bool = true;
}

struct Latched;
impl Flavour for Latched {
    const ID: &'static str = "latched";
    const LATCHED: bool = true;
}

struct LatchedDangerous;
impl Flavour for LatchedDangerous {
    const ID: &'static str = "latched-dangerous";
    const LATCHED: bool = true;
    const LEVEL: Level = Level::Dangerous;
}

struct LatchedAutoCancel;
impl Flavour for LatchedAutoCancel {
    const ID: &'static str = "latched-auto-cancel";
    const AUTO_CANCEL: bool = true;
    const LATCHED: bool = true;
}

struct AutoCancelDangerous;
impl Flavour for AutoCancelDangerous {
    const ID: &'static str = "auto-cancel-dangerous";
    const AUTO_CANCEL: bool = true;
    const LEVEL: Level = Level::Dangerous;
}

struct Dangerous;
impl Flavour for Dangerous {
    const ID: &'static str = "deploy";
    const LEVEL: Level = Level::Dangerous;
}

// ------------------------------------------------------------------------------------
// Engines and what they show.

fn pause() {
    std::thread::yield_now();
    std::thread::park_timeout(Duration::from_millis(1));
}

/// Poll `cond` until it holds; past the deadline, fail showing `state()`.
fn poll(what: impl std::fmt::Display, mut cond: impl FnMut() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; state:\n{}", state());
        }
        pause();
    }
}

/// An engine over `dir` on a manual clock, with the confirmation settings `config`.
fn start<T: Clone + Debug + Send + Sync + 'static>(
    dir: &StateDir,
    rt: &tokio::runtime::Runtime,
    config: Config,
    pipeline: impl FnOnce() -> Term<T> + Send + 'static,
) -> Engine<T> {
    let options = EngineOptions {
        config,
        clock: Arc::new(ManualClock::new(t0())),
        ..EngineOptions::new(dir.path(), rt.handle().clone())
    };
    Engine::start(options, pipeline).expect("the engine starts")
}

/// Wait until the engine shows `want` (after its first evaluation: the snapshot of an
/// engine still booting says `Running` too).
fn wait<T: Clone + Debug + PartialEq + Send + Sync + 'static>(
    engine: &Engine<T>,
    want: Outcome<T>,
) -> Snapshot<T> {
    let shown = format!("{want:?}");
    engine
        .wait_until(move |s| s.step > 0 && s.result == want, DEADLINE)
        .unwrap_or_else(|e| panic!("waiting for {shown}: {e}"))
}

/// Wait until the engine shows `want` and references exactly `jobs`.
fn wait_jobs<T: Clone + Debug + PartialEq + Send + Sync + 'static>(
    engine: &Engine<T>,
    want: Outcome<T>,
    jobs: &[&str],
) -> Snapshot<T> {
    let shown = format!("{want:?} with jobs {jobs:?}");
    let jobs: Vec<String> = jobs.iter().map(|j| j.to_string()).collect();
    engine
        .wait_until(
            move |s| s.step > 0 && s.result == want && s.jobs == jobs,
            DEADLINE,
        )
        .unwrap_or_else(|e| panic!("waiting for {shown}: {e}"))
}

/// Wait until every change sent to the engine so far has been evaluated: an evaluation
/// ends, then another that takes in whatever was queued before the first ended.
fn settle<T: Clone + Debug + Send + Sync + 'static>(engine: &Engine<T>) {
    for _ in 0..2 {
        engine.inspect(|_, _| ()).expect("the engine runs");
    }
}

fn running<T>() -> Outcome<T> {
    Err(ErrorKind::Active(Active::Running))
}

fn ready<T>() -> Outcome<T> {
    Err(ErrorKind::Active(Active::Ready))
}

fn confirming<T>() -> Outcome<T> {
    Err(ErrorKind::Active(Active::WaitingForConfirmation))
}

fn failed<T>(msg: &str) -> Outcome<T> {
    Err(ErrorKind::msg(msg))
}

fn ok(s: &str) -> Outcome<String> {
    Ok(s.to_string())
}

/// The metadata of the pipeline's root, which is a cache step.
fn metadata<T: Clone + Debug + Send + Sync + 'static>(engine: &Engine<T>) -> Option<Metadata> {
    engine
        .inspect(|g, t| analysis::metadata(t, g).expect("the root is a cache step"))
        .expect("the engine runs")
}

/// Wait until the engine shows `want` and its root's metadata says `update` (and, if
/// given, names `job`).
fn wait_shown<T: Clone + Debug + PartialEq + Send + Sync + 'static>(
    engine: &Engine<T>,
    want: Outcome<T>,
    update: Option<Active>,
    job: Option<&str>,
) {
    poll(
        format_args!("{want:?} with update {update:?} and job {job:?}"),
        || {
            let shown = engine.snapshot().result;
            let meta = metadata(engine);
            shown == want
                && meta.as_ref().is_some_and(|m| {
                    m.update == update && job.is_none_or(|j| m.job_id.as_deref() == Some(j))
                })
        },
        || format!("{:?}\nmetadata: {:?}", engine.snapshot(), metadata(engine)),
    );
}

/// Every distinct result an engine publishes, in order (a best effort: a result that is
/// replaced before the recorder looks is missed).
fn record<T: Clone + Debug + PartialEq + Send + Sync + 'static>(
    engine: &Engine<T>,
    rt: &tokio::runtime::Runtime,
) -> Arc<Mutex<Vec<Outcome<T>>>> {
    let seen = Arc::new(Mutex::new(Vec::<Outcome<T>>::new()));
    let mut rx = engine.subscribe();
    let out = seen.clone();
    rt.spawn(async move {
        loop {
            let result = rx.borrow_and_update().result.clone();
            {
                let mut seen = lock(&out);
                if seen.last() != Some(&result) {
                    seen.push(result);
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
    seen
}

/// The lines of a job's log, without their stamps (which must all be [`STAMP`]).
fn log_of(dir: &StateDir, job: &str) -> Vec<String> {
    let path = job.parse::<JobId>().expect("a job id").log_path(dir.path());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| {
            l.strip_prefix(STAMP)
                .unwrap_or_else(|| panic!("unstamped line {l:?} in the log of {job}"))
                .to_string()
        })
        .collect()
}

/// Wait until the log of `job` has `n` lines (a job logs its end after it is shown).
fn wait_log(dir: &StateDir, job: &str, n: usize) -> Vec<String> {
    poll(
        format_args!("{n} lines in the log of {job}"),
        || log_of(dir, job).len() >= n,
        || log_of(dir, job).join("\n"),
    );
    log_of(dir, job)
}

fn assert_job_id(id: &str, op: &str) {
    let pattern = regex::Regex::new(&format!("^2022-02-09/115753-{op}-[0-9a-f]{{6}}$")).unwrap();
    assert!(pattern.is_match(id), "{id} is not a job of {op}");
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn counts<O: Operation, T: Clone + Debug + Send + Sync + 'static>(
    engine: &Engine<T>,
) -> (u64, u64, u64) {
    let c = cache::counters::<O>(engine.context());
    (
        c.hits.load(Ordering::SeqCst),
        c.misses.load(Ordering::SeqCst),
        c.builds.load(Ordering::SeqCst),
    )
}

/// A pipeline publishing `value` to `key` with `op`.
fn publishing<O: Operation<Key = String, Value = String, Outcome = String>>(
    op: &Arc<O>,
    key: &Var<String>,
    value: &Var<String>,
) -> impl FnOnce() -> Term<String> + Send + 'static {
    let (op, key, value) = (op.clone(), key.clone(), value.clone());
    move || cache::run(&op, &key.get(), &value.get())
}

/// A pipeline building `key` with `builder`.
fn building<B: Builder<Key = String, Value = String>>(
    builder: &Arc<B>,
    key: &Var<String>,
) -> impl FnOnce() -> Term<String> + Send + 'static {
    let (builder, key) = (builder.clone(), key.clone());
    move || cache::build(&builder, &key.get())
}

fn var(name: &str, value: &str) -> Var<String> {
    Var::new(name, Ok(value.to_string()))
}

fn set(v: &Var<String>, value: &str) {
    v.set(Ok(value.to_string()));
}

// ------------------------------------------------------------------------------------
// 1. Basic build.

#[test]
fn a_build_is_ready_then_running_then_done_and_made_once_per_key() {
    let dir = StateDir::new("scen-basic");
    let rt = runtime();
    let control = Control::holding_start();
    let builder = make::<Plain>(&control);
    let key = var("key", "a");
    let engine = start(&dir, &rt, Config::new(None), building(&builder, &key));

    // The job exists but has not started: Ready.
    control.wait_calls(1);
    let job = control.job(0);
    assert_job_id(&job, "plain");
    // The job is referenced while it is ready.
    wait_jobs(&engine, ready(), &[&job]);
    assert_eq!(log_of(&dir, &job), ["New job: build a"]);

    control.start("a");
    wait_jobs(&engine, running(), &[&job]);
    control.finish("a", Ok("built a"));
    wait_jobs(&engine, ok("built a"), &[&job]);
    assert_eq!(
        wait_log(&dir, &job, 2),
        ["New job: build a", "Job succeeded"]
    );

    // The same key again: nothing to do.
    set(&key, "a");
    settle(&engine);
    wait_jobs(&engine, ok("built a"), &[&job]);
    assert_eq!(control.calls(), pairs(&[("a", "")]));

    // A new key: a new job.
    set(&key, "b");
    control.wait_calls(2);
    let job_b = control.job(1);
    assert_ne!(job_b, job);
    wait_jobs(&engine, ready(), &[&job_b]);
    control.start("b");
    wait_jobs(&engine, running(), &[&job_b]);
    control.finish("b", Ok("built b"));
    wait_jobs(&engine, ok("built b"), &[&job_b]);
    assert_eq!(
        wait_log(&dir, &job_b, 2),
        ["New job: build b", "Job succeeded"]
    );

    // Back to the first key: read back, no job.
    set(&key, "a");
    wait_jobs(&engine, ok("built a"), &[&job]);
    assert_eq!(control.calls(), pairs(&[("a", ""), ("b", "")]));
    assert_eq!(control.waiting(), 0);
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 2. A build's key changes while it is being built.

#[test]
fn an_auto_cancelling_build_no_longer_wanted_is_cancelled_and_its_result_discarded() {
    let dir = StateDir::new("scen-auto-build");
    let rt = runtime();
    let control = Control::new();
    let builder = make::<AutoCancel>(&control);
    let key = var("key", "a");
    let engine = start(&dir, &rt, Config::new(None), building(&builder, &key));
    let seen = record(&engine, &rt);

    control.wait_calls(1);
    wait(&engine, running());
    let job_a = control.job(0);

    set(&key, "b");
    control.wait_calls(2);
    let job_b = control.job(1);
    // The job of `a` is cancelled because nobody wants it any more.
    let log_a = wait_log(&dir, &job_a, 4);
    assert_eq!(
        log_a,
        [
            "New job: build a".to_string(),
            format!("Cancelling: {AUTO_CANCEL}"),
            format!("Cancelled: {AUTO_CANCEL}"),
            "Job failed: Cancelled".to_string(),
        ]
    );
    wait_jobs(&engine, running(), &[&job_b]);
    control.finish("b", Ok("built b"));
    wait_jobs(&engine, ok("built b"), &[&job_b]);
    assert_eq!(
        wait_log(&dir, &job_b, 2),
        ["New job: build b", "Job succeeded"]
    );
    assert!(
        !lock(&seen)
            .iter()
            .any(|r| matches!(r, Err(ErrorKind::Msg(_)))),
        "the cancellation is never shown: {:?}",
        lock(&seen)
    );

    // The result of `a` was discarded: wanting `a` again builds it again.
    set(&key, "a");
    control.wait_calls(3);
    wait(&engine, running());
    control.finish("a", Ok("built a"));
    wait(&engine, ok("built a"));
    assert_eq!(control.calls(), pairs(&[("a", ""), ("b", ""), ("a", "")]));
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_build_no_longer_wanted_finishes_and_is_kept_without_being_shown() {
    let dir = StateDir::new("scen-plain-build");
    let rt = runtime();
    let control = Control::new();
    let builder = make::<Plain>(&control);
    let key = var("key", "a");
    let engine = start(&dir, &rt, Config::new(None), building(&builder, &key));
    let seen = record(&engine, &rt);

    control.wait_calls(1);
    wait(&engine, running());
    let job_a = control.job(0);

    // Another key: built at once, while the job of `a` goes on.
    set(&key, "b");
    control.wait_calls(2);
    let job_b = control.job(1);
    wait(&engine, running());
    control.finish("a", Ok("built a"));
    assert_eq!(
        wait_log(&dir, &job_a, 2),
        ["New job: build a", "Job succeeded"]
    );
    control.finish("b", Ok("built b"));
    wait_jobs(&engine, ok("built b"), &[&job_b]);
    assert!(
        !lock(&seen).contains(&ok("built a")),
        "the result of a key nobody wants is not shown: {:?}",
        lock(&seen)
    );

    // It was kept: wanting `a` again reads it back.
    set(&key, "a");
    wait_jobs(&engine, ok("built a"), &[&job_a]);
    assert_eq!(control.calls(), pairs(&[("a", ""), ("b", "")]));
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 3. A publish whose value changes while it is being published.

#[test]
fn an_auto_cancelling_publish_is_cancelled_when_its_value_changes() {
    let dir = StateDir::new("scen-auto-publish");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<AutoCancel>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    let seen = record(&engine, &rt);

    control.wait_calls(1);
    let job1 = control.job(0);
    wait_jobs(&engine, running(), &[&job1]);

    set(&value, "v2");
    let log1 = wait_log(&dir, &job1, 4);
    assert_eq!(
        log1,
        [
            "New job: k=v1".to_string(),
            format!("Cancelling: {AUTO_CANCEL}"),
            format!("Cancelled: {AUTO_CANCEL}"),
            "Job failed: Cancelled".to_string(),
        ]
    );
    // Once the cancelled job has finished, the new value is published.
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_jobs(&engine, running(), &[&job2]);
    control.finish("k", Ok("published v2"));
    wait_jobs(&engine, ok("published v2"), &[&job2]);
    assert_eq!(wait_log(&dir, &job2, 2), ["New job: k=v2", "Job succeeded"]);
    assert_eq!(control.calls(), pairs(&[("k", "v1"), ("k", "v2")]));
    assert!(
        !lock(&seen)
            .iter()
            .any(|r| matches!(r, Err(ErrorKind::Msg(_)))),
        "the cancellation is never shown: {:?}",
        lock(&seen)
    );

    // Back to v1: its cancelled run left nothing to reuse.
    set(&value, "v1");
    control.wait_calls(3);
    wait(&engine, running());
    control.finish("k", Ok("published v1"));
    wait(&engine, ok("published v1"));
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_publish_whose_value_changes_finishes_first_and_its_stale_result_is_not_shown() {
    let dir = StateDir::new("scen-plain-publish");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    let seen = record(&engine, &rt);

    control.wait_calls(1);
    wait(&engine, running());
    let job1 = control.job(0);

    // v2 is wanted: the job for v1 goes on (still shown as the running work).
    set(&value, "v2");
    settle(&engine);
    wait_jobs(&engine, running(), &[&job1]);
    assert_eq!(control.count(), 1, "no second job while the first runs");
    control.finish("k", Ok("published v1"));
    assert_eq!(wait_log(&dir, &job1, 2), ["New job: k=v1", "Job succeeded"]);

    // Then v2 is published; the stale outcome for v1 is never shown.
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_jobs(&engine, running(), &[&job2]);
    control.finish("k", Ok("published v2"));
    wait(&engine, ok("published v2"));
    assert!(
        !lock(&seen).contains(&ok("published v1")),
        "the stale outcome is not shown: {:?}",
        lock(&seen)
    );

    // A stale failure is not shown either.
    set(&value, "v3");
    control.wait_calls(3);
    wait(&engine, running());
    set(&value, "v4");
    settle(&engine);
    control.finish("k", Err("v3 is broken"));
    control.wait_calls(4);
    wait(&engine, running());
    control.finish("k", Ok("published v4"));
    wait(&engine, ok("published v4"));
    assert!(
        !lock(&seen).contains(&failed("v3 is broken")),
        "the stale failure is not shown: {:?}",
        lock(&seen)
    );
    assert_eq!(
        control.calls(),
        pairs(&[("k", "v1"), ("k", "v2"), ("k", "v3"), ("k", "v4")])
    );
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_publish_wanted_again_at_its_running_value_is_not_run_twice() {
    let dir = StateDir::new("scen-still-wanted");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    wait(&engine, running());
    let job1 = control.job(0);
    set(&value, "v2");
    settle(&engine);
    wait(&engine, running());
    set(&value, "v1");
    settle(&engine);
    wait_jobs(&engine, running(), &[&job1]);
    control.finish("k", Ok("published v1"));
    wait_jobs(&engine, ok("published v1"), &[&job1]);
    assert_eq!(control.calls(), pairs(&[("k", "v1")]));
    assert_eq!(control.waiting(), 0);
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 4. Retry after failure.

#[test]
fn a_failure_is_not_retried_for_the_same_value_even_after_a_restart() {
    let dir = StateDir::new("scen-retry");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    control.finish("k", Err("v1 is broken"));
    let job1 = control.job(0);
    wait_jobs(&engine, failed("v1 is broken"), &[&job1]);
    assert_eq!(
        wait_log(&dir, &job1, 2),
        ["New job: k=v1", "Job failed: v1 is broken"]
    );

    // The same value again: the failure stands.
    set(&value, "v1");
    settle(&engine);
    wait_jobs(&engine, failed("v1 is broken"), &[&job1]);
    assert_eq!(control.count(), 1);

    // Another value: a new try.
    set(&value, "v2");
    control.wait_calls(2);
    wait(&engine, running());
    control.finish("k", Err("v2 is broken too"));
    let job2 = control.job(1);
    wait_jobs(&engine, failed("v2 is broken too"), &[&job2]);
    engine.shutdown("restart").unwrap();

    // A new engine over the same state: the failure is still there and not retried.
    let value = var("value", "v2");
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    wait_jobs(&engine, failed("v2 is broken too"), &[&job2]);
    assert_eq!(control.count(), 2);
    set(&value, "v2");
    settle(&engine);
    wait(&engine, failed("v2 is broken too"));
    assert_eq!(control.count(), 2);

    // And a new value is tried.
    set(&value, "v3");
    control.wait_calls(3);
    control.finish("k", Ok("published v3"));
    wait(&engine, ok("published v3"));
    assert_eq!(
        control.calls(),
        pairs(&[("k", "v1"), ("k", "v2"), ("k", "v3")])
    );
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 5. Latching.

#[test]
fn a_latched_step_keeps_showing_its_previous_outcome_while_it_updates() {
    let dir = StateDir::new("scen-latched");
    let rt = runtime();
    let control = Control::holding_start();
    let op = publish::<Latched>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    // Nothing to latch the first time.
    control.wait_calls(1);
    let job1 = control.job(0);
    wait_shown(&engine, ready(), None, Some(&job1));
    control.start("k");
    wait_shown(&engine, running(), None, Some(&job1));
    control.finish("k", Ok("published v1"));
    wait_shown(&engine, ok("published v1"), None, Some(&job1));

    // A new value: the old outcome stays, with the update's state in the metadata.
    set(&value, "v2");
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Ready),
        Some(&job2),
    );
    control.start("k");
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Running),
        Some(&job2),
    );
    // The job making the update is referenced.
    wait_jobs(&engine, ok("published v1"), &[&job2]);
    control.finish("k", Ok("published v2"));
    wait_shown(&engine, ok("published v2"), None, Some(&job2));
    assert_eq!(wait_log(&dir, &job2, 2), ["New job: k=v2", "Job succeeded"]);
    assert_eq!(control.calls(), pairs(&[("k", "v1"), ("k", "v2")]));
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_latched_step_waiting_for_confirmation_shows_so_in_its_metadata() {
    let dir = StateDir::new("scen-latched-confirm");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<LatchedDangerous>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let config = Config::new(None);
    let engine = start(&dir, &rt, config.clone(), publishing(&op, &key, &value));

    control.wait_calls(1);
    control.finish("k", Ok("published v1"));
    wait_shown(&engine, ok("published v1"), None, Some(&control.job(0)));

    config.set_confirm(Some(Level::Average));
    set(&value, "v2");
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::WaitingForConfirmation),
        Some(&job2),
    );
    assert_eq!(
        log_of(&dir, &job2),
        ["New job: k=v2", "Waiting for confirm-threshold > dangerous"]
    );
    engine.context().config().set_confirm(None);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Running),
        Some(&job2),
    );
    control.finish("k", Ok("published v2"));
    wait_shown(&engine, ok("published v2"), None, Some(&job2));
    assert_eq!(
        wait_log(&dir, &job2, 4),
        [
            "New job: k=v2",
            "Waiting for confirm-threshold > dangerous",
            "Confirm-threshold now disabled",
            "Job succeeded",
        ]
    );
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 6. Clearing an error.

#[test]
fn a_new_value_clears_a_failure() {
    let dir = StateDir::new("scen-clear");
    let rt = runtime();
    let control = Control::holding_start();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    control.start("k");
    control.finish("k", Err("v1 is broken"));
    wait_shown(&engine, failed("v1 is broken"), None, Some(&control.job(0)));

    set(&value, "v2");
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(&engine, ready(), None, Some(&job2));
    control.start("k");
    wait_shown(&engine, running(), None, Some(&job2));
    control.finish("k", Ok("published v2"));
    wait_shown(&engine, ok("published v2"), None, Some(&job2));
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_new_value_latches_the_failure_of_a_latched_step() {
    let dir = StateDir::new("scen-clear-latched");
    let rt = runtime();
    let control = Control::holding_start();
    let op = publish::<Latched>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    control.start("k");
    control.finish("k", Err("v1 is broken"));
    wait_shown(&engine, failed("v1 is broken"), None, Some(&control.job(0)));

    set(&value, "v2");
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(
        &engine,
        failed("v1 is broken"),
        Some(Active::Ready),
        Some(&job2),
    );
    control.start("k");
    wait_shown(
        &engine,
        failed("v1 is broken"),
        Some(Active::Running),
        Some(&job2),
    );
    control.finish("k", Ok("published v2"));
    wait_shown(&engine, ok("published v2"), None, Some(&job2));
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 7. A restart.

#[test]
fn a_restart_reloads_every_result_and_runs_nothing() {
    let dir = StateDir::new("scen-restart");
    let rt = runtime();
    let keys = ["a", "b", "c"];
    let pipeline = |builder: &Arc<Make<Plain>>| {
        let builder = builder.clone();
        move || Term::list_seq(keys.map(|k| cache::build(&builder, &Term::value(k.to_string()))))
    };
    let built: Outcome<Vec<String>> = Ok(keys.map(|k| format!("built {k}")).to_vec());

    let control = Control::new();
    let engine = start(&dir, &rt, Config::new(None), pipeline(&make(&control)));
    control.wait_calls(3);
    for k in keys {
        control.finish(k, Ok(&format!("built {k}")));
    }
    let mut jobs: Vec<String> = (0..3).map(|n| control.job(n)).collect();
    jobs.sort();
    let jobs: Vec<&str> = jobs.iter().map(String::as_str).collect();
    wait_jobs(&engine, built.clone(), &jobs);
    let mut calls = control.calls();
    calls.sort();
    assert_eq!(calls, pairs(&[("a", ""), ("b", ""), ("c", "")]));
    engine.shutdown("restart").unwrap();

    let again = Control::new();
    let engine = start(&dir, &rt, Config::new(None), pipeline(&make(&again)));
    // The jobs shown are the ones that made the results.
    wait_jobs(&engine, built, &jobs);
    assert_eq!(again.count(), 0);
    assert_eq!(
        counts::<cache::Build<Make<Plain>>, _>(&engine),
        (3, 0, 0),
        "(hits, misses, builds)"
    );
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 8. Two values for one key in one step.

#[test]
fn two_values_for_one_key_in_one_step_is_an_error() {
    let dir = StateDir::new("scen-conflict");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, other) = (var("key", "k"), var("other", "b"));
    let engine = start(&dir, &rt, Config::new(None), {
        let (op, key, other) = (op.clone(), key.clone(), other.clone());
        move || {
            let a = cache::run(&op, &key.get(), &Term::value("a".to_string()));
            let b = cache::run(&op, &key.get(), &other.get());
            a.pair(&b)
        }
    });

    let conflict = |v: &str| format!("instance k={v} set to different values in the same step!");
    let (for_a, for_b) = (conflict("a"), conflict("b"));
    engine
        .wait_until(
            |s| matches!(&s.result, Err(ErrorKind::Msg(m)) if **m == for_a || **m == for_b),
            DEADLINE,
        )
        .unwrap_or_else(|e| panic!("waiting for the conflict: {e}"));
    assert!(
        control.count() <= 1,
        "at most one value is published: {:?}",
        control.calls()
    );

    // Agreeing on one value clears the error.
    set(&other, "a");
    control.wait_calls(1);
    assert_eq!(control.calls(), pairs(&[("k", "a")]));
    control.finish("k", Ok("published a"));
    wait(
        &engine,
        Ok(("published a".to_string(), "published a".to_string())),
    );
    assert_eq!(control.count(), 1);
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 9. Confirmation, and the counters.

#[test]
fn a_dangerous_step_waits_for_confirmation_until_the_threshold_is_lowered() {
    type Op = Publish<Dangerous>;
    let dir = StateDir::new("scen-confirm");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Dangerous>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(
        &dir,
        &rt,
        Config::new(Some(Level::Average)),
        publishing(&op, &key, &value),
    );

    control.wait_calls(1);
    let job1 = control.job(0);
    wait_jobs(&engine, confirming(), &[&job1]);
    assert_eq!(
        log_of(&dir, &job1),
        ["New job: k=v1", "Waiting for confirm-threshold > dangerous"]
    );
    assert_eq!(
        counts::<Op, _>(&engine),
        (0, 1, 1),
        "(hits, misses, builds)"
    );
    // Asked again while it waits: neither a hit nor a miss.
    set(&value, "v1");
    settle(&engine);
    wait(&engine, confirming());
    assert_eq!(
        counts::<Op, _>(&engine),
        (0, 1, 1),
        "(hits, misses, builds)"
    );
    assert_eq!(control.waiting(), 0, "the job has not started");

    engine.context().config().set_confirm(None);
    wait(&engine, running());
    control.finish("k", Ok("deployed v1"));
    wait(&engine, ok("deployed v1"));
    assert_eq!(
        wait_log(&dir, &job1, 4),
        [
            "New job: k=v1",
            "Waiting for confirm-threshold > dangerous",
            "Confirm-threshold now disabled",
            "Job succeeded",
        ]
    );

    // A new key (no confirmation needed any more): a miss and a build.
    set(&key, "k2");
    control.wait_calls(2);
    wait(&engine, running());
    control.finish("k2", Ok("deployed v1 to k2"));
    wait(&engine, ok("deployed v1 to k2"));
    assert_eq!(
        wait_log(&dir, &control.job(1), 2),
        ["New job: k2=v1", "Job succeeded"]
    );
    let (_, misses, builds) = counts::<Op, _>(&engine);
    assert_eq!((misses, builds), (2, 2), "misses and builds");

    // The first key again (read back from the store): no job.
    set(&key, "k");
    wait(&engine, ok("deployed v1"));
    assert_eq!(control.calls(), pairs(&[("k", "v1"), ("k2", "v1")]));
    engine.shutdown("test over").unwrap();
}

#[test]
fn the_counters_count_what_the_pipeline_asks_for() {
    type Op = Publish<Dangerous>;
    let dir = StateDir::new("scen-counters");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Dangerous>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(
        &dir,
        &rt,
        Config::new(Some(Level::Average)),
        publishing(&op, &key, &value),
    );

    control.wait_calls(1);
    wait(&engine, confirming());
    assert_eq!(
        counts::<Op, _>(&engine),
        (0, 1, 1),
        "(hits, misses, builds)"
    );
    set(&value, "v1");
    settle(&engine);
    wait(&engine, confirming());
    assert_eq!(
        counts::<Op, _>(&engine),
        (0, 1, 1),
        "(hits, misses, builds)"
    );

    engine.context().config().set_confirm(None);
    control.finish("k", Ok("deployed v1"));
    wait(&engine, ok("deployed v1"));
    assert_eq!(
        counts::<Op, _>(&engine),
        (0, 1, 1),
        "(hits, misses, builds): a job finishing is not a hit"
    );

    // Asked again: a hit.
    set(&value, "v1");
    settle(&engine);
    poll(
        "a hit",
        || counts::<Op, _>(&engine).0 >= 1,
        || format!("{:?}", counts::<Op, _>(&engine)),
    );
    assert_eq!(
        counts::<Op, _>(&engine),
        (1, 1, 1),
        "(hits, misses, builds)"
    );

    // A new key: a miss and a build.
    set(&key, "k2");
    control.wait_calls(2);
    control.finish("k2", Ok("deployed v1 to k2"));
    wait(&engine, ok("deployed v1 to k2"));
    assert_eq!(
        counts::<Op, _>(&engine),
        (1, 2, 2),
        "(hits, misses, builds)"
    );

    // The first key again (read back from the store): a hit.
    set(&key, "k");
    wait(&engine, ok("deployed v1"));
    assert_eq!(
        counts::<Op, _>(&engine),
        (2, 2, 2),
        "(hits, misses, builds)"
    );
    engine.shutdown("test over").unwrap();
}

#[test]
fn an_auto_cancelling_step_waiting_for_confirmation_is_cancelled_when_its_value_changes() {
    let dir = StateDir::new("scen-confirm-cancel");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<AutoCancelDangerous>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(
        &dir,
        &rt,
        Config::new(Some(Level::Average)),
        publishing(&op, &key, &value),
    );

    control.wait_calls(1);
    let job1 = control.job(0);
    wait(&engine, confirming());
    set(&value, "v2");
    assert_eq!(
        wait_log(&dir, &job1, 5),
        [
            "New job: k=v1".to_string(),
            "Waiting for confirm-threshold > dangerous".to_string(),
            format!("Cancelling: {AUTO_CANCEL}"),
            format!("Cancelled: {AUTO_CANCEL}"),
            "Job failed: Cancelled".to_string(),
        ]
    );
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_jobs(&engine, confirming(), &[&job2]);
    engine.context().config().set_confirm(None);
    wait(&engine, running());
    control.finish("k", Ok("deployed v2"));
    wait(&engine, ok("deployed v2"));
    assert_eq!(control.calls(), pairs(&[("k", "v1"), ("k", "v2")]));
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// 10. Log analysis.

#[test]
fn a_failure_is_explained_by_the_log_rules() {
    let dir = StateDir::new("scen-rules");
    let rt = runtime();
    let control = Control::new();
    let builder = make::<Plain>(&control);
    let key = var("key", "a");
    // The engine holds the store; rules are added through it before anything fails.
    let engine = start(&dir, &rt, Config::new(None), building(&builder, &key));
    let rules = RulesDb::open(&engine.context().store().unwrap()).unwrap();
    rules
        .add(Rule::new("No space left on device", "Disk full", 10))
        .unwrap();
    rules
        .add(Rule::new(r"os error (\d+)", r"OS error \1", 5))
        .unwrap();
    rules.flush().unwrap();

    control.wait_calls(1);
    control.finish_logging(
        "a",
        &[
            "Copying files",
            "write: No space left on device (os error 28)",
        ],
        Err("exit code 1"),
    );
    let job = control.job(0);
    wait_jobs(&engine, failed("Disk full"), &[&job]);
    assert_eq!(
        wait_log(&dir, &job, 7),
        [
            "New job: build a",
            "Copying files",
            "write: No space left on device (os error 28)",
            "Job failed: exit code 1",
            "Log analysis:",
            ">>> No space left on device (score = 10)",
            ">>> os error 28 (score = 5)",
        ]
    );

    // A failure no rule explains keeps its message, and its log has no analysis.
    set(&key, "b");
    control.wait_calls(2);
    control.finish_logging("b", &["Compiling"], Err("exit code 2"));
    wait(&engine, failed("exit code 2"));
    assert_eq!(
        wait_log(&dir, &control.job(1), 3),
        ["New job: build b", "Compiling", "Job failed: exit code 2"]
    );
    engine.shutdown("test over").unwrap();
}

// ------------------------------------------------------------------------------------
// More: cancellation, sharing, latching across auto-cancel and restarts.

#[test]
fn a_job_cancelled_by_a_user_fails_and_is_not_retried_for_the_same_value() {
    let dir = StateDir::new("scen-user-cancel");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    wait(&engine, running());
    let job1 = control.job(0);
    let job = engine
        .context()
        .lookup_running(&job1.parse().unwrap())
        .expect("the job runs");
    job.cancel("Cancelled by user");
    wait_jobs(&engine, failed("Cancelled"), &[&job1]);
    assert_eq!(
        wait_log(&dir, &job1, 4),
        [
            "New job: k=v1",
            "Cancelling: Cancelled by user",
            "Cancelled: Cancelled by user",
            "Job failed: Cancelled",
        ]
    );
    set(&value, "v1");
    settle(&engine);
    wait(&engine, failed("Cancelled"));
    assert_eq!(control.count(), 1);
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_job_interrupted_by_a_shutdown_runs_again_after_the_restart() {
    let dir = StateDir::new("scen-interrupted");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<Plain>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    control.wait_calls(1);
    wait(&engine, running());
    engine.shutdown("restart").unwrap();
    assert_eq!(
        log_of(&dir, &control.job(0))[..2],
        ["New job: k=v1", "Cancelling: restart"]
    );

    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    control.wait_calls(2);
    wait(&engine, running());
    control.finish("k", Ok("published v1"));
    wait(&engine, ok("published v1"));
    engine.shutdown("test over").unwrap();
}

#[test]
fn two_terms_wanting_one_key_at_one_value_share_one_job() {
    let dir = StateDir::new("scen-shared");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<AutoCancel>(&control);
    let both = Var::new("both", Ok(true));
    let engine = start(&dir, &rt, Config::new(None), {
        let (op, both) = (op.clone(), both.clone());
        move || {
            let k = || Term::value("k".to_string());
            let v = || Term::value("v".to_string());
            let first = cache::run(&op, &k(), &v());
            let second = both.get().bind("second", move |on| {
                if on {
                    cache::run(&op, &k(), &v())
                } else {
                    Term::value("off".to_string())
                }
            });
            first.pair(&second)
        }
    });

    control.wait_calls(1);
    let job = control.job(0);
    wait_jobs(&engine, running(), &[&job]);
    // One of the two lets go of the key: the other still wants it, so it is not cancelled.
    both.set(Ok(false));
    settle(&engine);
    wait_jobs(&engine, running(), &[&job]);
    control.finish("k", Ok("published v"));
    wait(&engine, Ok(("published v".to_string(), "off".to_string())));
    assert_eq!(
        wait_log(&dir, &job, 2),
        ["New job: k=v", "Job succeeded"],
        "never cancelled"
    );
    // Both again: read back.
    both.set(Ok(true));
    wait(
        &engine,
        Ok(("published v".to_string(), "published v".to_string())),
    );
    assert_eq!(control.calls(), pairs(&[("k", "v")]));
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_latched_auto_cancelling_step_keeps_its_last_outcome_across_cancellations() {
    let dir = StateDir::new("scen-latched-cancel");
    let rt = runtime();
    let control = Control::new();
    let op = publish::<LatchedAutoCancel>(&control);
    let (key, value) = (var("key", "k"), var("value", "v1"));
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));

    control.wait_calls(1);
    control.finish("k", Ok("published v1"));
    wait_shown(&engine, ok("published v1"), None, Some(&control.job(0)));

    set(&value, "v2");
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Running),
        Some(&job2),
    );
    set(&value, "v3");
    assert_eq!(
        wait_log(&dir, &job2, 4)[1],
        format!("Cancelling: {AUTO_CANCEL}")
    );
    control.wait_calls(3);
    let job3 = control.job(2);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Running),
        Some(&job3),
    );
    control.finish("k", Ok("published v3"));
    wait_shown(&engine, ok("published v3"), None, Some(&job3));
    assert_eq!(
        control.calls(),
        pairs(&[("k", "v1"), ("k", "v2"), ("k", "v3")])
    );
    engine.shutdown("test over").unwrap();
}

#[test]
fn a_latched_step_latches_what_it_loads_after_a_restart() {
    let dir = StateDir::new("scen-latched-restart");
    let rt = runtime();
    let control = Control::holding_start();
    let op = publish::<Latched>(&control);
    let key = var("key", "k");

    // First engine: v1 succeeds.
    let value = var("value", "v1");
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    control.wait_calls(1);
    control.start("k");
    control.finish("k", Ok("published v1"));
    wait(&engine, ok("published v1"));
    engine.shutdown("restart").unwrap();

    // Second engine, wanting v2: the stored outcome for v1 is shown while v2 is made.
    let value = var("value", "v2");
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    control.wait_calls(2);
    let job2 = control.job(1);
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Ready),
        Some(&job2),
    );
    control.start("k");
    wait_shown(
        &engine,
        ok("published v1"),
        Some(Active::Running),
        Some(&job2),
    );
    control.finish("k", Err("v2 is broken"));
    wait_shown(&engine, failed("v2 is broken"), None, Some(&job2));
    engine.shutdown("restart").unwrap();

    // Third engine, wanting v3: the stored failure for v2 is latched.
    let value = var("value", "v3");
    let engine = start(&dir, &rt, Config::new(None), publishing(&op, &key, &value));
    control.wait_calls(3);
    let job3 = control.job(2);
    wait_shown(
        &engine,
        failed("v2 is broken"),
        Some(Active::Ready),
        Some(&job3),
    );
    control.start("k");
    control.finish("k", Ok("published v3"));
    wait_shown(&engine, ok("published v3"), None, Some(&job3));
    engine.shutdown("test over").unwrap();
}
