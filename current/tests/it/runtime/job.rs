//! Tests: job.
//!
//! Each test has its own state directory and a `ManualClock` stopped at
//! 2022-02-09 11:57:53 UTC, so job ids and log lines are known to the second. Logs are
//! compared exactly. The helpers here are shared with the confirmation, engine and var
//! tests.

use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use current::clock::{Clock, ManualClock};
use current::context::Update;
use current::job::{Job, JobError, JobId, LogProgress, Phase, StartOptions, COMPLETE};
use current::pool::{Pool, PoolStats, Priority};
use current::{Config, Context, Level};

/// 2022-02-09 11:57:53 UTC, where every test's clock starts.
pub(super) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_644_407_873)
}

/// How long a test waits for something before it fails (real time: a guard against a
/// hang, never a measure of behaviour).
pub(super) const DEADLINE: Duration = Duration::from_secs(10);

/// Poll `cond` until it holds; past the deadline, fail showing `state()`.
pub(super) fn wait_for(
    what: impl Display,
    mut cond: impl FnMut() -> bool,
    state: impl Fn() -> String,
) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; state:\n{}", state());
        }
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(1));
    }
}

/// A fresh state directory (not created), removed when dropped.
pub(super) struct StateDir(pub(super) PathBuf);

impl StateDir {
    pub(super) fn new(test: &str) -> StateDir {
        StateDir(std::env::temp_dir().join(format!(
            "current-test-{test}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        )))
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file's text, or a note that it cannot be read.
pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

/// Poll a future once, with a waker that does nothing.
pub(super) fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut TaskContext::from_waker(Waker::noop()))
}

/// A context on a manual clock, with its own state directory and tokio runtime.
pub(super) struct Fixture {
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) clock: ManualClock,
    pub(super) ctx: Context,
    _updates: Receiver<Update>,
    pub(super) dir: StateDir,
}

impl Fixture {
    pub(super) fn new(test: &str) -> Fixture {
        Fixture::with_config(test, Config::new(None))
    }

    pub(super) fn with_config(test: &str, config: Config) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Fixture::with_runtime(test, config, rt)
    }

    /// On a current-thread runtime: tasks run only inside `rt.block_on`, so a test knows
    /// when they have run.
    pub(super) fn current_thread(test: &str) -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Fixture::with_runtime(test, Config::new(None), rt)
    }

    fn with_runtime(test: &str, config: Config, rt: tokio::runtime::Runtime) -> Fixture {
        let dir = StateDir::new(test);
        let clock = ManualClock::new(t0());
        let (ctx, updates) =
            Context::new(&dir.0, Arc::new(clock.clone()), config, rt.handle().clone());
        Fixture {
            rt,
            clock,
            ctx,
            _updates: updates,
            dir,
        }
    }

    pub(super) fn job(&self, label: &str) -> Job {
        Job::create(&self.ctx, label, Priority::Low).expect("create a job")
    }

    /// Start `job` in a task of its own.
    pub(super) fn spawn_start(
        &self,
        job: &Job,
        level: Level,
        options: StartOptions,
    ) -> tokio::task::JoinHandle<Result<(), JobError>> {
        let job = job.clone();
        self.rt
            .spawn(async move { job.start(level, options).await })
    }

    /// The result of a start that has finished (or finishes by the deadline).
    pub(super) fn start_result(
        &self,
        job: &Job,
        start: tokio::task::JoinHandle<Result<(), JobError>>,
    ) -> Result<(), JobError> {
        wait_for(
            format_args!("the start of {job:?}"),
            || start.is_finished(),
            || format!("phase {:?}, log:\n{}", job.phase(), read(job.log_path())),
        );
        self.rt.block_on(start).expect("the start task")
    }

    /// Start `job` with no pool or timeout, and wait until it has started.
    pub(super) fn start(&self, job: &Job, level: Level) {
        let start = self.spawn_start(job, level, StartOptions::default());
        self.start_result(job, start).expect("the job starts");
    }
}

pub(super) fn log_of(job: &Job) -> String {
    read(job.log_path())
}

/// Wait until `job` is in `phase`.
pub(super) fn wait_for_phase(job: &Job, phase: Phase) {
    wait_for(
        format_args!("{job:?} to be {phase:?}"),
        || job.phase() == phase,
        || format!("phase {:?}, log:\n{}", job.phase(), log_of(job)),
    );
}

/// Hook calls, in order: (which hook, the reason it was given).
type Calls = Arc<Mutex<Vec<(usize, String)>>>;

fn record(calls: &Calls, which: usize) -> impl FnOnce(&str) + Send + 'static {
    let calls = calls.clone();
    move |reason: &str| calls.lock().unwrap().push((which, reason.to_string()))
}

fn calls_of(calls: &Calls) -> Vec<(usize, String)> {
    calls.lock().unwrap().clone()
}

fn called(list: &[(usize, &str)]) -> Vec<(usize, String)> {
    list.iter().map(|(i, r)| (*i, r.to_string())).collect()
}

#[test]
fn ids_name_the_date_time_and_label_and_logs_live_under_the_state_dir() {
    let fx = Fixture::new("job-ids");
    let job = fx.job("docker-build");
    let id = job.id().to_string();
    let pattern = regex::Regex::new(r"^2022-02-09/115753-docker-build-[0-9a-f]{6}$").unwrap();
    assert!(pattern.is_match(&id), "{id}");
    assert_eq!(id.parse::<JobId>().as_ref(), Ok(job.id()));
    assert_eq!(job.id().date(), "2022-02-09");

    let file = format!("{}.log", id.strip_prefix("2022-02-09/").unwrap());
    let expected = fx.dir.0.join("job").join("2022-02-09").join(file);
    assert_eq!(job.log_path(), expected);
    assert_eq!(job.id().log_path(&fx.dir.0), expected);
    assert_eq!(read(&expected), "", "the log exists and is empty");

    // Characters that cannot stand in a file name become `-`.
    fx.clock.advance(Duration::from_secs(3600 * 13));
    let other = fx.job("docker build/x");
    let pattern = regex::Regex::new(r"^2022-02-10/005753-docker-build-x-[0-9a-f]{6}$").unwrap();
    assert!(pattern.is_match(other.id().as_str()), "{}", other.id());
    assert!(other
        .log_path()
        .starts_with(fx.dir.0.join("job").join("2022-02-10")));

    // Both are open jobs, listed oldest first.
    let open: Vec<JobId> = fx.ctx.jobs().iter().map(|j| j.id().clone()).collect();
    assert_eq!(open, vec![job.id().clone(), other.id().clone()]);
    assert_eq!(
        fx.ctx.lookup_running(job.id()).map(|j| j.id().clone()),
        Some(job.id().clone())
    );
    assert_eq!(job.phase(), Phase::Created);
    assert_eq!(job.priority(), Priority::Low);
    assert_eq!(format!("{job:?}"), format!("Job({id})"));

    // Many jobs created in the same second get distinct ids.
    let many: std::collections::BTreeSet<JobId> =
        (0..50).map(|_| fx.job("same").id().clone()).collect();
    assert_eq!(many.len(), 50);
}

#[test]
fn log_lines_are_stamped_with_the_clock_and_write_is_raw() {
    let fx = Fixture::new("job-log");
    let job = fx.job("log");
    job.log("Hello");
    fx.clock.advance(Duration::from_secs(61));
    job.log(format_args!("{} + {} = {}", 1, 2, 3));
    job.write(b"raw output, ");
    job.write(b"no stamp\n");
    job.write(b"partial");
    job.write(b" line\n");
    fx.clock
        .set(UNIX_EPOCH + Duration::from_secs(1_644_451_199)); // 23:59:59
    job.log("multi\nline");
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Hello\n\
         2022-02-09 11:58.54: 1 + 2 = 3\n\
         raw output, no stamp\n\
         partial line\n\
         2022-02-09 23:59.59: multi\nline\n"
    );
}

#[test]
fn log_progress_counts_bytes_and_sees_the_close() {
    let fx = Fixture::new("job-progress");
    let job = fx.job("progress");
    let mut progress = job.log_progress();
    assert_eq!(
        *progress.borrow_and_update(),
        LogProgress {
            len: 0,
            closed: false
        }
    );
    job.log("one");
    assert!(progress.has_changed().unwrap());
    let line = "2022-02-09 11:57.53: one\n".len() as u64;
    assert_eq!(
        *progress.borrow_and_update(),
        LogProgress {
            len: line,
            closed: false
        }
    );
    job.write(b"12345");
    assert_eq!(
        *progress.borrow_and_update(),
        LogProgress {
            len: line + 5,
            closed: false
        }
    );
    assert!(!progress.has_changed().unwrap());
    job.complete();
    assert!(progress.has_changed().unwrap());
    assert_eq!(
        *progress.borrow_and_update(),
        LogProgress {
            len: line + 5,
            closed: true
        }
    );
    // Writes to a closed log are ignored, and change nothing.
    job.log("too late");
    job.write(b"too late");
    assert!(!progress.has_changed().unwrap());
    assert_eq!(log_of(&job), "2022-02-09 11:57.53: one\n12345");
}

#[test]
fn wait_for_log_data_wakes_on_new_data_and_on_the_close() {
    let fx = Fixture::new("job-wait-data");
    let job = fx.job("wait");
    let progress = |len, closed| LogProgress { len, closed };
    {
        let mut wait = pin!(job.wait_for_log_data(0));
        assert!(poll_once(wait.as_mut()).is_pending());
        assert!(poll_once(wait.as_mut()).is_pending(), "nothing written yet");
        job.write(b"data\n");
        assert_eq!(poll_once(wait.as_mut()), Poll::Ready(progress(5, false)));
    }
    {
        // Data written after the call but before the first poll is not missed: the caller
        // says how much it has seen.
        let mut wait = pin!(job.wait_for_log_data(5));
        job.log("a line");
        let len = 5 + "2022-02-09 11:57.53: a line\n".len() as u64;
        assert_eq!(poll_once(wait.as_mut()), Poll::Ready(progress(len, false)));
        // Already more than seen: at once.
        let mut wait = pin!(job.wait_for_log_data(5));
        assert_eq!(poll_once(wait.as_mut()), Poll::Ready(progress(len, false)));
        // Up to date: waits, and the close wakes it.
        let mut wait = pin!(job.wait_for_log_data(len));
        assert!(poll_once(wait.as_mut()).is_pending());
        job.complete();
        assert_eq!(poll_once(wait.as_mut()), Poll::Ready(progress(len, true)));
        // A closed log never makes anyone wait.
        let mut wait = pin!(job.wait_for_log_data(len));
        assert_eq!(poll_once(wait.as_mut()), Poll::Ready(progress(len, true)));
    }

    // A reader in another task follows the log to its close.
    let job2 = fx.job("wait2");
    let reader = fx.rt.spawn({
        let job2 = job2.clone();
        async move {
            let mut seen = 0;
            let mut wakes = Vec::new();
            loop {
                let p = job2.wait_for_log_data(seen).await;
                wakes.push(p);
                if p.closed {
                    return wakes;
                }
                seen = p.len;
            }
        }
    });
    job2.write(b"x");
    job2.write(b"yz");
    job2.complete();
    wait_for(
        "the reader to see the close",
        || reader.is_finished(),
        || log_of(&job2),
    );
    let wakes = fx.rt.block_on(reader).unwrap();
    assert_eq!(wakes.last(), Some(&progress(3, true)), "{wakes:?}");
    assert!(
        wakes.windows(2).all(|w| w[0].len < w[1].len || w[1].closed),
        "{wakes:?}"
    );
}

#[test]
fn starting_twice_fails_and_is_logged() {
    let fx = Fixture::new("job-twice");
    let job = fx.job("twice");
    assert_eq!(job.start_time(), None);
    fx.start(&job, Level::Average);
    assert_eq!(job.phase(), Phase::Running);
    assert_eq!(job.start_time(), Some(t0()));
    fx.clock.advance(Duration::from_secs(2));
    let again = fx.spawn_start(&job, Level::Average, StartOptions::default());
    let err = fx.start_result(&job, again).unwrap_err();
    assert!(matches!(err, JobError::StartedTwice), "{err:?}");
    assert_eq!(err.to_string(), "Job.start called twice!");
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.55: Job.start called twice!\n"
    );
    assert_eq!(job.phase(), Phase::Running, "the first start stands");
    assert_eq!(job.start_time(), Some(t0()));
}

#[test]
fn cancel_runs_hooks_in_order_and_a_second_cancel_is_only_logged() {
    let fx = Fixture::new("job-cancel");
    let job = fx.job("cancel");
    fx.start(&job, Level::Average);
    let calls: Calls = Arc::default();
    for i in 1..=3 {
        job.on_cancel(record(&calls, i));
    }
    let waiter = fx.rt.spawn({
        let job = job.clone();
        async move { job.until_cancelled().await }
    });
    assert_eq!(job.cancelled(), None);
    assert!(calls_of(&calls).is_empty());

    job.cancel("Stop please");
    assert_eq!(job.cancelled().as_deref(), Some("Stop please"));
    assert_eq!(
        calls_of(&calls),
        called(&[(1, "Stop please"), (2, "Stop please"), (3, "Stop please")])
    );
    wait_for("until_cancelled", || waiter.is_finished(), || log_of(&job));
    assert_eq!(fx.rt.block_on(waiter).unwrap(), "Stop please");

    fx.clock.advance(Duration::from_secs(1));
    job.cancel("Again");
    // A hook added after the cancel runs at once, with the first reason.
    job.on_cancel(record(&calls, 4));
    assert_eq!(
        calls_of(&calls),
        called(&[
            (1, "Stop please"),
            (2, "Stop please"),
            (3, "Stop please"),
            (4, "Stop please")
        ])
    );
    assert_eq!(job.cancelled().as_deref(), Some("Stop please"));
    assert_eq!(
        job.phase(),
        Phase::Running,
        "a cancel is a request; the job runs on until complete"
    );
    assert!(fx.ctx.lookup_running(job.id()).is_some());

    // Completing it runs no hook again and logs nothing.
    job.complete();
    assert_eq!(calls_of(&calls).len(), 4);
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Cancelling: Stop please\n\
         2022-02-09 11:57.54: cancel(\"Again\"): already cancelled (\"Stop please\")!\n"
    );
}

#[test]
fn a_hook_that_panics_does_not_stop_the_others() {
    let fx = Fixture::new("job-hook-panic");
    let job = fx.job("panicky");
    let calls: Calls = Arc::default();
    job.on_cancel(record(&calls, 1));
    job.on_cancel(|_| panic!("hook 2 failed"));
    job.on_cancel(record(&calls, 3));
    job.cancel("why");
    assert_eq!(calls_of(&calls), called(&[(1, "why"), (3, "why")]));
    assert_eq!(log_of(&job), "2022-02-09 11:57.53: Cancelling: why\n");
}

#[test]
fn a_cancel_hook_guard_removes_its_hook_when_dropped() {
    let fx = Fixture::new("job-hook-guard");
    let job = fx.job("guard");
    let calls: Calls = Arc::default();
    job.on_cancel(record(&calls, 1));
    let guard = job.cancel_hook(record(&calls, 2));
    drop(guard);
    let _kept = job.cancel_hook(record(&calls, 3));
    job.cancel("done");
    assert_eq!(calls_of(&calls), called(&[(1, "done"), (3, "done")]));
}

#[test]
fn a_job_cancelled_before_it_starts_does_not_start() {
    let fx = Fixture::new("job-cancel-first");
    let job = fx.job("early");
    job.cancel("Not wanted");
    let start = fx.spawn_start(&job, Level::Average, StartOptions::default());
    let err = fx.start_result(&job, start).unwrap_err();
    assert!(
        matches!(&err, JobError::Cancelled(r) if r == "Not wanted"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "Not wanted");
    assert_eq!(job.start_time(), None);
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Cancelling: Not wanted\n"
    );
}

#[test]
fn complete_runs_the_remaining_hooks_closes_the_log_and_forgets_the_job() {
    let fx = Fixture::new("job-complete");
    let job = fx.job("complete");
    let other = fx.job("other");
    fx.start(&job, Level::Average);
    job.log("working");
    let calls: Calls = Arc::default();
    job.on_cancel(record(&calls, 1));
    job.on_cancel(record(&calls, 2));
    let mut progress = job.log_progress();
    progress.borrow_and_update();

    job.complete();
    assert_eq!(calls_of(&calls), called(&[(1, COMPLETE), (2, COMPLETE)]));
    assert_eq!(COMPLETE, "Job complete");
    assert_eq!(job.cancelled(), None, "completing is not cancelling");
    assert_eq!(job.phase(), Phase::Complete);
    assert!(progress.borrow_and_update().closed);
    assert!(fx.ctx.lookup_running(job.id()).is_none());
    let open: Vec<JobId> = fx.ctx.jobs().iter().map(|j| j.id().clone()).collect();
    assert_eq!(open, vec![other.id().clone()]);

    // Idempotent: no hook runs twice.
    job.complete();
    assert_eq!(calls_of(&calls).len(), 2);
    // A hook added now runs at once with `Job complete`.
    job.on_cancel(record(&calls, 3));
    assert_eq!(calls_of(&calls)[2], (3, COMPLETE.to_string()));
    // Cancelling a complete job does nothing, and the log takes no more writes.
    job.cancel("too late");
    assert_eq!(job.cancelled(), None);
    job.log("ignored");
    job.write(b"ignored too");
    assert_eq!(log_of(&job), "2022-02-09 11:57.53: working\n");
    assert_eq!(job.start_time(), Some(t0()));
}

#[test]
fn a_timeout_cancels_the_job() {
    let fx = Fixture::new("job-timeout");
    let job = fx.job("slow");
    let calls: Calls = Arc::default();
    job.on_cancel(record(&calls, 1));
    let options = StartOptions {
        timeout: Some(Duration::from_secs(150)),
        ..StartOptions::default()
    };
    let start = fx.spawn_start(&job, Level::Average, options);
    fx.start_result(&job, start).expect("the job starts");
    wait_for(
        "the timeout to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{} sleepers", fx.clock.sleepers()),
    );

    fx.clock.advance(Duration::from_secs(149));
    assert_eq!(fx.clock.sleepers(), 1, "not due yet");
    assert_eq!(job.cancelled(), None);
    fx.clock.advance(Duration::from_secs(1));
    wait_for("the timeout", || job.cancelled().is_some(), || log_of(&job));
    assert_eq!(job.cancelled().as_deref(), Some("Timeout (2.5 minutes)"));
    assert_eq!(calls_of(&calls), called(&[(1, "Timeout (2.5 minutes)")]));
    assert_eq!(
        log_of(&job),
        "2022-02-09 12:00.23: Cancelling: Timeout (2.5 minutes)\n"
    );
    job.complete();
}

#[test]
fn a_short_timeout_is_shown_in_seconds() {
    let fx = Fixture::new("job-timeout-secs");
    let job = fx.job("quick");
    let options = StartOptions {
        timeout: Some(Duration::from_secs(30)),
        ..StartOptions::default()
    };
    let start = fx.spawn_start(&job, Level::Average, options);
    fx.start_result(&job, start).expect("the job starts");
    wait_for(
        "the timeout to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{} sleepers", fx.clock.sleepers()),
    );
    fx.clock.advance(Duration::from_secs(30));
    wait_for("the timeout", || job.cancelled().is_some(), || log_of(&job));
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:58.23: Cancelling: Timeout (30.0 seconds)\n"
    );
}

#[test]
fn completing_a_job_stops_its_timeout() {
    let fx = Fixture::new("job-timeout-stop");
    let job = fx.job("quick");
    let options = StartOptions {
        timeout: Some(Duration::from_secs(60)),
        ..StartOptions::default()
    };
    let start = fx.spawn_start(&job, Level::Average, options);
    fx.start_result(&job, start).expect("the job starts");
    wait_for(
        "the timeout to sleep",
        || fx.clock.sleepers() == 1,
        || format!("{} sleepers", fx.clock.sleepers()),
    );
    job.log("done");
    job.complete();
    wait_for(
        "the timeout to be dropped",
        || fx.clock.sleepers() == 0,
        || format!("{} sleepers", fx.clock.sleepers()),
    );
    fx.clock.advance(Duration::from_secs(3600));
    assert_eq!(job.cancelled(), None);
    assert_eq!(log_of(&job), "2022-02-09 11:57.53: done\n");
}

/// OCaml's timeout does nothing if the job was already cancelled.
#[test]
fn a_timeout_after_a_cancel_adds_nothing_to_the_log() {
    let fx = Fixture::current_thread("job-timeout-after-cancel");
    let job = fx.job("cancelled");
    let options = StartOptions {
        timeout: Some(Duration::from_secs(60)),
        ..StartOptions::default()
    };
    fx.rt
        .block_on(job.start(Level::Average, options))
        .expect("the job starts");
    // Let the timeout task go to sleep.
    fx.rt.block_on(settle());
    assert_eq!(fx.clock.sleepers(), 1);
    job.cancel("User cancelled");
    fx.rt.block_on(settle());
    // Either the timer went with the cancel, or it wakes now and must do nothing.
    fx.clock.advance(Duration::from_secs(60));
    fx.rt.block_on(settle());
    job.complete();
    assert_eq!(
        log_of(&job),
        "2022-02-09 11:57.53: Cancelling: User cancelled\n"
    );
}

/// Yield to the other tasks of a current-thread runtime until those that can run have.
pub(super) async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_pool_slot_is_held_until_the_job_completes() {
    let fx = Fixture::new("job-pool");
    let pool = Pool::new("docker", 1);
    let with_pool = || StartOptions {
        pool: Some(pool.clone()),
        ..StartOptions::default()
    };
    let first = fx.job("first");
    let start = fx.spawn_start(&first, Level::Average, with_pool());
    fx.start_result(&first, start)
        .expect("the first job starts");
    // A free slot is taken without a word, as in OCurrent.
    assert_eq!(log_of(&first), "");
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 1,
            queued: 0
        }
    );

    let second = fx.job("second");
    let start2 = fx.spawn_start(&second, Level::Average, with_pool());
    wait_for_phase(&second, Phase::WaitingForPool);
    wait_for(
        "the second job to queue",
        || pool.stats().queued == 1,
        || format!("{pool:?}"),
    );
    assert!(!start2.is_finished());
    assert_eq!(second.start_time(), None);
    assert_eq!(
        log_of(&second),
        "2022-02-09 11:57.53: Waiting for resource in pool docker\n"
    );

    // A cancel does not give the slot back: only completing does.
    fx.clock.advance(Duration::from_secs(5));
    first.cancel("no slot back yet");
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 1,
            queued: 1
        }
    );
    first.complete();
    fx.start_result(&second, start2)
        .expect("the second job gets the slot");
    assert_eq!(
        log_of(&second),
        "2022-02-09 11:57.53: Waiting for resource in pool docker\n\
         2022-02-09 11:57.58: Got resource from pool docker\n"
    );
    assert_eq!(second.start_time(), Some(t0() + Duration::from_secs(5)));
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 1,
            queued: 0
        }
    );
    second.complete();
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 0,
            queued: 0
        }
    );
}

#[test]
fn cancelling_a_job_waiting_for_a_slot_fails_its_start() {
    let fx = Fixture::new("job-pool-cancel");
    let pool = Pool::new("build \"pool\"", 1);
    let with_pool = || StartOptions {
        pool: Some(pool.clone()),
        ..StartOptions::default()
    };
    let holder = fx.job("holder");
    let start = fx.spawn_start(&holder, Level::Average, with_pool());
    fx.start_result(&holder, start).expect("the holder starts");

    let waiter = fx.job("waiter");
    let start = fx.spawn_start(&waiter, Level::Average, with_pool());
    wait_for(
        "the waiter to queue",
        || pool.stats().queued == 1,
        || format!("{pool:?}"),
    );
    waiter.cancel("No longer needed");
    let err = fx.start_result(&waiter, start).unwrap_err();
    assert!(matches!(err, JobError::Cancelled(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"Cancelled waiting for resource from pool "build \"pool\"""#
    );
    assert_eq!(
        log_of(&waiter),
        "2022-02-09 11:57.53: Waiting for resource in pool build \"pool\"\n\
         2022-02-09 11:57.53: Cancelling: No longer needed\n"
    );
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 1,
            queued: 0
        },
        "the waiter left the queue"
    );
    assert_eq!(waiter.start_time(), None);
    holder.complete();
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 0,
            queued: 0
        }
    );
    waiter.complete();
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 0,
            queued: 0
        }
    );
}

#[test]
fn shutting_down_stops_jobs_starting() {
    let fx = Fixture::new("job-shutdown");
    let pool = Pool::new("p", 1);
    let holder = fx.job("holder");
    let start = fx.spawn_start(
        &holder,
        Level::Average,
        StartOptions {
            pool: Some(pool.clone()),
            ..StartOptions::default()
        },
    );
    fx.start_result(&holder, start).expect("the holder starts");
    let queued = fx.job("queued");
    let queued_start = fx.spawn_start(
        &queued,
        Level::Average,
        StartOptions {
            pool: Some(pool.clone()),
            ..StartOptions::default()
        },
    );
    wait_for(
        "the job to queue",
        || pool.stats().queued == 1,
        || format!("{pool:?}"),
    );

    assert!(!fx.ctx.is_shutting_down());
    fx.ctx.begin_shutdown();
    assert!(fx.ctx.is_shutting_down());
    let job = fx.job("late");
    let start = fx.spawn_start(&job, Level::Average, StartOptions::default());
    let err = fx.start_result(&job, start).unwrap_err();
    assert!(matches!(err, JobError::ShuttingDown), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the engine is shutting down: no new jobs start"
    );
    assert_eq!(job.start_time(), None);
    assert_eq!(log_of(&job), "");

    // A job that was waiting for a slot does not start when it gets one.
    holder.complete();
    let err = fx.start_result(&queued, queued_start).unwrap_err();
    assert!(matches!(err, JobError::ShuttingDown), "{err:?}");
    assert_eq!(queued.start_time(), None);
    queued.complete();
    assert_eq!(
        pool.stats(),
        PoolStats {
            capacity: 1,
            in_use: 0,
            queued: 0
        },
        "its slot is given back"
    );
    assert_eq!(fx.clock.now(), t0());
}
