//! Tests: engine.
//!
//! Engines over their own state directories, on a `ManualClock` stopped at
//! 2022-02-09 11:57:53 UTC, running pipelines of `current::job::step`s and variables.
//! Waiting is `Engine::wait_until` (or polling with a deadline); job logs are compared
//! exactly.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use current::clock::ManualClock;
use current::engine::{Engine, EngineError, EngineOptions, Snapshot};
use current::job::{step, Job, JobId, Phase, StartOptions, AUTO_CANCEL};
use current::process::{self, Command};
use current::term::{analysis, Active, ErrorKind, Outcome, Stats, Term};
use current::var::Var;
use current::{Config, Context, Level};

use super::job::{read, t0, wait_for, StateDir, DEADLINE};

/// A runtime, a manual clock and a state directory for one engine (or more).
struct Setup {
    rt: tokio::runtime::Runtime,
    clock: ManualClock,
    dir: StateDir,
}

impl Setup {
    fn new(test: &str) -> Setup {
        Setup {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            clock: ManualClock::new(t0()),
            dir: StateDir::new(test),
        }
    }

    fn options(&self) -> EngineOptions {
        self.options_in(self.dir.0.clone())
    }

    fn options_in(&self, dir: PathBuf) -> EngineOptions {
        let mut options = EngineOptions::new(dir, self.rt.handle().clone());
        options.clock = Arc::new(self.clock.clone());
        options
    }

    fn start<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
        &self,
        options: EngineOptions,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> Engine<T> {
        match Engine::start(options, pipeline) {
            Ok(engine) => engine,
            Err(e) => panic!("the engine does not start: {e}"),
        }
    }
}

fn until<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
    engine: &Engine<T>,
    done: impl FnMut(&Snapshot<T>) -> bool + Send,
) -> Snapshot<T> {
    engine
        .wait_until(done, DEADLINE)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The log of the job `id` in the state directory `dir`.
fn job_log(dir: &StateDir, id: &str) -> String {
    let id: JobId = id.parse().expect("a job id");
    read(&id.log_path(&dir.0))
}

/// Wait until the log of job `id` satisfies `done`; the log.
fn wait_for_job_log(dir: &StateDir, id: &str, mut done: impl FnMut(&str) -> bool) -> String {
    wait_for(
        format_args!("the log of {id}"),
        || done(&job_log(dir, id)),
        || job_log(dir, id),
    );
    job_log(dir, id)
}

fn msg<T>(m: &str) -> Outcome<T> {
    Err(ErrorKind::msg(m))
}

/// The future of a step's work.
type Work<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>;

/// Work for a step that counts its runs, logs its input and returns twice it.
fn doubling(runs: &Arc<AtomicUsize>) -> impl Fn(Job, i32) -> Work<i32> + 'static {
    let runs = runs.clone();
    move |job: Job, x: i32| {
        runs.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            job.log(format_args!("doubling {x}"));
            Ok(x * 2)
        })
    }
}

#[test]
fn the_first_snapshot_is_running_with_no_jobs_then_the_result_arrives() {
    let setup = Setup::new("engine-first");
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let engine = setup.start(setup.options(), move || {
        // Hold the engine before its first evaluation until the test has looked.
        wait.recv().expect("the test lets the engine go");
        Term::labelled("answer", 41).map(|x| x + 1)
    });
    let first = engine.snapshot();
    assert_eq!(first.step, 0);
    assert_eq!(first.result, Err(ErrorKind::Active(Active::Running)));
    assert!(first.jobs.is_empty());
    assert_eq!(first.stats, Stats::default());

    go.send(()).unwrap();
    let done = until(&engine, |s| s.step >= 1);
    assert_eq!(done.step, 1);
    assert_eq!(done.result, Ok(42));
    assert!(done.jobs.is_empty());
    assert_eq!(engine.context().state_dir(), setup.dir.0.as_path());
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_pipeline_that_panics_while_being_built_fails() {
    let setup = Setup::new("engine-build-panic");
    let engine: Engine<i32> = setup.start(setup.options(), || panic!("no pipeline today"));
    let s = until(&engine, |s| s.step >= 1);
    assert_eq!(
        s.result,
        msg("the pipeline panicked while being built: no pipeline today")
    );
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn two_engines_run_at_once_over_two_state_dirs() {
    let setup = Setup::new("engine-two-a");
    let other_dir = StateDir::new("engine-two-b");
    let (a, b) = (Var::new("a", Ok(1)), Var::new("b", Ok(100)));
    let runs = Arc::new(AtomicUsize::new(0));
    let one = setup.start(setup.options(), {
        let (a, work) = (a.clone(), doubling(&runs));
        move || {
            step(
                &a.get(),
                "double",
                Level::Average,
                StartOptions::default(),
                work,
            )
        }
    });
    let two = setup.start(setup.options_in(other_dir.0.clone()), {
        let (b, work) = (b.clone(), doubling(&runs));
        move || {
            step(
                &b.get(),
                "double",
                Level::Average,
                StartOptions::default(),
                work,
            )
        }
    });
    let s1 = until(&one, |s| s.result == Ok(2));
    let s2 = until(&two, |s| s.result == Ok(200));
    a.set(Ok(3));
    until(&one, |s| s.result == Ok(6));
    b.set(Ok(300));
    until(&two, |s| s.result == Ok(600));
    assert_eq!(one.snapshot().result, Ok(6));

    // Each engine's jobs are logged in its own state directory.
    assert_eq!(
        job_log(&setup.dir, &s1.jobs[0]),
        "2022-02-09 11:57.53: doubling 1\n2022-02-09 11:57.53: Job succeeded\n"
    );
    assert_eq!(
        job_log(&other_dir, &s2.jobs[0]),
        "2022-02-09 11:57.53: doubling 100\n2022-02-09 11:57.53: Job succeeded\n"
    );
    assert!(!s2.jobs[0]
        .parse::<JobId>()
        .unwrap()
        .log_path(&setup.dir.0)
        .exists());
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    one.shutdown("test over").expect("a clean shutdown");
    two.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_state_dir_is_used_by_one_engine_at_a_time() {
    let setup = Setup::new("engine-lock");
    let first = setup.start(setup.options(), || Term::value(1));
    until(&first, |s| s.result == Ok(1));
    match Engine::start(setup.options(), || Term::value(2)) {
        Ok(_) => panic!("a second engine started over the same state directory"),
        Err(e) => {
            assert!(
                matches!(&e, EngineError::StateDirInUse { path } if *path == setup.dir.0),
                "{e:?}"
            );
            let d = setup.dir.0.display();
            assert_eq!(
                e.to_string(),
                format!("the state directory {d} is already used by a running engine (its lock file {d}/lock is held)")
            );
        }
    }
    assert_eq!(
        first.snapshot().result,
        Ok(1),
        "the first engine is unharmed"
    );
    first.shutdown("test over").expect("a clean shutdown");

    // Once the first has stopped, the directory is free again.
    let second = setup.start(setup.options(), || Term::value(2));
    until(&second, |s| s.result == Ok(2));
    drop(second);
    let third = setup.start(setup.options(), || Term::value(3));
    until(&third, |s| s.result == Ok(3));
    third.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_step_runs_a_job_per_input_value() {
    let setup = Setup::new("engine-step");
    let n = Var::new("n", Ok(1));
    let runs = Arc::new(AtomicUsize::new(0));
    let engine = setup.start(setup.options(), {
        let (n, work) = (n.clone(), doubling(&runs));
        move || {
            step(
                &n.get(),
                "double",
                Level::Average,
                StartOptions::default(),
                work,
            )
            .map(|x| x + 1)
        }
    });
    let s = until(&engine, |s| s.result == Ok(3));
    assert_eq!(s.jobs.len(), 1, "{s:?}");
    let first = s.jobs[0].clone();
    let pattern = regex::Regex::new(r"^2022-02-09/115753-double-[0-9a-f]{6}$").unwrap();
    assert!(pattern.is_match(&first), "{first}");
    assert_eq!(
        job_log(&setup.dir, &first),
        "2022-02-09 11:57.53: doubling 1\n2022-02-09 11:57.53: Job succeeded\n"
    );
    assert!(
        engine.context().jobs().is_empty(),
        "a finished job is closed, though the pipeline still references it"
    );
    assert_eq!(s.stats.ok, 2, "the variable and the step: {s:?}");

    setup.clock.advance(Duration::from_secs(60));
    n.set(Ok(5));
    let s = until(&engine, |s| s.result == Ok(11));
    assert_eq!(s.jobs.len(), 1, "{s:?}");
    let second = s.jobs[0].clone();
    assert!(second.starts_with("2022-02-09/115853-double-"), "{second}");
    assert_eq!(
        job_log(&setup.dir, &second),
        "2022-02-09 11:58.53: doubling 5\n2022-02-09 11:58.53: Job succeeded\n"
    );
    // The old job was complete: letting it go logs nothing more.
    assert_eq!(
        job_log(&setup.dir, &first),
        "2022-02-09 11:57.53: doubling 1\n2022-02-09 11:57.53: Job succeeded\n"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_step_that_fails_logs_job_failed() {
    let setup = Setup::new("engine-step-fails");
    let n = Var::new("n", Ok(-1));
    let engine = setup.start(setup.options(), {
        let n = n.clone();
        move || {
            step(
                &n.get(),
                "check",
                Level::Average,
                StartOptions::default(),
                |job, x: i32| async move {
                    job.log(format_args!("checking {x}"));
                    if x < 0 {
                        Err(format!("{x} is negative"))
                    } else {
                        Ok(x)
                    }
                },
            )
        }
    });
    let s = until(&engine, |s| matches!(s.result, Err(ErrorKind::Msg(_))));
    assert_eq!(s.result, msg("-1 is negative"));
    assert_eq!(s.stats.failed, 1, "{s:?}");
    assert_eq!(
        job_log(&setup.dir, &s.jobs[0]),
        "2022-02-09 11:57.53: checking -1\n2022-02-09 11:57.53: Job failed: -1 is negative\n"
    );
    n.set(Ok(4));
    until(&engine, |s| s.result == Ok(4));
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_panic_in_a_steps_work_fails_that_step_and_the_engine_carries_on() {
    let setup = Setup::new("engine-step-panic");
    let n = Var::new("n", Ok(0));
    let other = Var::new("other", Ok("a".to_string()));
    let engine = setup.start(setup.options(), {
        let (n, other) = (n.clone(), other.clone());
        move || {
            let checked = step(
                &n.get(),
                "check",
                Level::Average,
                StartOptions::default(),
                |job, x: i32| async move {
                    job.log("checking");
                    if x == 0 {
                        panic!("division by zero");
                    }
                    Ok(100 / x)
                },
            );
            checked.pair(&other.get())
        }
    });
    let s = until(&engine, |s| matches!(s.result, Err(ErrorKind::Msg(_))));
    assert_eq!(s.result, msg("division by zero"));
    assert_eq!(
        job_log(&setup.dir, &s.jobs[0]),
        "2022-02-09 11:57.53: checking\n2022-02-09 11:57.53: Job failed: division by zero\n"
    );
    assert!(
        engine.context().jobs().is_empty(),
        "the failed job is closed"
    );
    // The engine still evaluates changes.
    other.set(Ok("b".into()));
    n.set(Ok(4));
    until(&engine, |s| s.result == Ok((25, "b".to_string())));
    engine.shutdown("test over").expect("a clean shutdown");
}

/// The same, when the panic comes from the synchronous part of the work (before its future
/// is made), as in `|job, x| { let y = parse(x).unwrap(); async move { ... } }`.
#[test]
fn a_panic_while_making_a_steps_work_fails_that_step_and_closes_its_job() {
    let setup = Setup::new("engine-step-sync-panic");
    let n = Var::new("n", Ok(1));
    let engine = setup.start(setup.options(), {
        let n = n.clone();
        move || {
            step(
                &n.get(),
                "check",
                Level::Average,
                StartOptions::default(),
                |_job, x: i32| {
                    assert!(x != 0, "zero is not allowed");
                    std::future::ready(Ok::<i32, String>(100 / x))
                },
            )
        }
    });
    until(&engine, |s| s.result == Ok(100));
    let before = engine.snapshot().step;
    n.set(Ok(0));
    // Whatever the evaluation of 0 shows, it is not the old value.
    let s = until(&engine, |s| s.step > before && s.result != Ok(100));
    assert_eq!(s.result, msg("zero is not allowed"));
    wait_for(
        "the job to close",
        || engine.context().jobs().is_empty(),
        || format!("{:?}", engine.context().jobs()),
    );
    n.set(Ok(2));
    until(&engine, |s| s.result == Ok(50));
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_step_waiting_for_confirmation_is_released_by_the_config() {
    let setup = Setup::new("engine-confirm");
    let mut options = setup.options();
    options.config = Config::new(Some(Level::Average));
    let engine = setup.start(options, || {
        step(
            &Term::value(7),
            "deploy",
            Level::Dangerous,
            StartOptions::default(),
            |job, x: i32| async move {
                job.log("deploying");
                Ok(x)
            },
        )
    });
    let s = until(&engine, |s| {
        s.result == Err(ErrorKind::Active(Active::WaitingForConfirmation))
    });
    assert_eq!(s.stats.waiting_for_confirmation, 1, "{s:?}");
    let id = s.jobs[0].clone();
    let job = engine
        .context()
        .lookup_running(&id.parse().unwrap())
        .expect("the job is open");
    assert!(job.is_waiting_for_confirmation());
    // The phase changes just before the line is written.
    let log = wait_for_job_log(&setup.dir, &id, |log| log.ends_with('\n'));
    assert_eq!(
        log,
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n"
    );

    setup.clock.advance(Duration::from_secs(30));
    engine.context().config().set_confirm(None);
    let s = until(&engine, |s| s.result == Ok(7));
    assert_eq!(s.jobs, vec![id.clone()]);
    assert_eq!(
        job_log(&setup.dir, &id),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:58.23: Confirm-threshold now disabled\n\
         2022-02-09 11:58.23: deploying\n\
         2022-02-09 11:58.23: Job succeeded\n"
    );
    assert_eq!(job.phase(), Phase::Complete);
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_step_shows_running_while_its_work_runs() {
    let setup = Setup::new("engine-running");
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let engine = setup.start(setup.options(), {
        let gate = gate.clone();
        move || {
            step(
                &Term::value(1),
                "wait",
                Level::Average,
                StartOptions::default(),
                move |_job, x: i32| {
                    let gate = gate.clone();
                    async move {
                        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                        Ok(x)
                    }
                },
            )
        }
    });
    let s = until(&engine, |s| {
        s.result == Err(ErrorKind::Active(Active::Running)) && s.stats.running == 1
    });
    assert_eq!(s.jobs.len(), 1);
    let id: JobId = s.jobs[0].parse().unwrap();
    assert_eq!(
        engine.context().lookup_running(&id).map(|j| j.phase()),
        Some(Phase::Running)
    );
    gate.add_permits(1);
    let s = until(&engine, |s| s.result == Ok(1));
    assert_eq!(s.stats.running, 0);
    assert_eq!(s.stats.ok, 1);
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn changing_a_var_reruns_only_the_dependent_step() {
    let setup = Setup::new("engine-rerun");
    let (a, b) = (Var::new("a", Ok(1)), Var::new("b", Ok(10)));
    let (runs_a, runs_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let engine = setup.start(setup.options(), {
        let (a, b) = (a.clone(), b.clone());
        let (work_a, work_b) = (doubling(&runs_a), doubling(&runs_b));
        move || {
            let da = step(
                &a.get(),
                "double-a",
                Level::Average,
                StartOptions::default(),
                work_a,
            );
            let db = step(
                &b.get(),
                "double-b",
                Level::Average,
                StartOptions::default(),
                work_b,
            );
            da.pair(&db).map(|(x, y)| x + y)
        }
    });
    let s = until(&engine, |s| s.result == Ok(22));
    assert_eq!(
        (runs_a.load(Ordering::SeqCst), runs_b.load(Ordering::SeqCst)),
        (1, 1)
    );
    let job_a = s
        .jobs
        .iter()
        .find(|id| id.contains("-double-a-"))
        .cloned()
        .expect("a's job");

    b.set(Ok(20));
    let s = until(&engine, |s| s.result == Ok(42));
    assert_eq!(
        (runs_a.load(Ordering::SeqCst), runs_b.load(Ordering::SeqCst)),
        (1, 2)
    );
    assert_eq!(s.jobs.len(), 2);
    assert!(s.jobs.contains(&job_a), "a's step kept its job: {s:?}");

    a.set(Ok(2));
    until(&engine, |s| s.result == Ok(44));
    assert_eq!(
        (runs_a.load(Ordering::SeqCst), runs_b.load(Ordering::SeqCst)),
        (2, 2)
    );
    engine.shutdown("test over").expect("a clean shutdown");
}

/// What the old job's cancel hook saw when it ran.
#[derive(Debug, Clone, PartialEq)]
struct AtCancel {
    reason: String,
    work_made: usize,
    /// (The old job itself may be gone: cancelling it wakes its work, which can complete
    /// it while the hooks are still running.)
    open_jobs: Vec<String>,
}

#[test]
fn a_step_no_longer_needed_is_cancelled_after_the_propagation() {
    let setup = Setup::new("engine-auto-cancel");
    let n = Var::new("n", Ok(1));
    let made = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<AtCancel>>> = Arc::default();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let engine = setup.start(setup.options(), {
        let (n, made, seen, gate) = (n.clone(), made.clone(), seen.clone(), gate.clone());
        move || {
            step(
                &n.get(),
                "slow",
                Level::Average,
                StartOptions::default(),
                move |job: Job, x: i32| {
                    made.fetch_add(1, Ordering::SeqCst);
                    let ctx = Context::current().expect("work is made on the engine's thread");
                    let (made, seen, gate) = (made.clone(), seen.clone(), gate.clone());
                    job.on_cancel(move |reason| {
                        seen.lock().unwrap().push(AtCancel {
                            reason: reason.to_string(),
                            work_made: made.load(Ordering::SeqCst),
                            open_jobs: ctx.jobs().iter().map(|j| j.id().to_string()).collect(),
                        })
                    });
                    async move {
                        job.log(format_args!("working on {x}"));
                        if x == 1 {
                            let reason = job.until_cancelled().await;
                            job.log(format_args!("stopping: {reason}"));
                            Err("stopped".to_string())
                        } else {
                            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
                            Ok(x)
                        }
                    }
                },
            )
        }
    });
    let s = until(&engine, |s| !s.jobs.is_empty());
    let old = s.jobs[0].clone();
    wait_for_job_log(&setup.dir, &old, |log| log.contains("working on 1"));

    setup.clock.advance(Duration::from_secs(1));
    n.set(Ok(2));
    let s = until(&engine, |s| s.jobs.len() == 1 && s.jobs[0] != old);
    let new = s.jobs[0].clone();
    let log = wait_for_job_log(&setup.dir, &old, |log| log.contains("Job failed"));
    assert_eq!(
        log,
        "2022-02-09 11:57.53: working on 1\n\
         2022-02-09 11:57.54: Cancelling: Auto-cancelling job because it is no longer needed\n\
         2022-02-09 11:57.54: stopping: Auto-cancelling job because it is no longer needed\n\
         2022-02-09 11:57.54: Job failed: Cancelled: Auto-cancelling job because it is no longer needed\n"
    );
    // The cancel came after the propagation had made the replacement's work and job.
    // (The hook runs on the engine's thread after the cancel has woken the work, which
    // may log its end first.)
    wait_for(
        "the cancel hook",
        || !seen.lock().unwrap().is_empty(),
        String::new,
    );
    let at_cancel = seen.lock().unwrap().clone();
    assert_eq!(at_cancel.len(), 1, "{at_cancel:?}");
    assert_eq!(at_cancel[0].reason, AUTO_CANCEL);
    assert_eq!(at_cancel[0].work_made, 2);
    assert!(at_cancel[0].open_jobs.contains(&new), "{at_cancel:?}");
    assert_eq!(
        AUTO_CANCEL,
        "Auto-cancelling job because it is no longer needed"
    );
    wait_for_job_log(&setup.dir, &new, |log| log.contains("working on 2"));
    assert!(engine
        .context()
        .lookup_running(&new.parse().unwrap())
        .is_some());
    assert!(engine
        .context()
        .lookup_running(&old.parse().unwrap())
        .is_none());

    gate.add_permits(1);
    until(&engine, |s| s.result == Ok(2));
    assert_eq!(
        job_log(&setup.dir, &new),
        "2022-02-09 11:57.54: working on 2\n2022-02-09 11:57.54: Job succeeded\n"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(seen.lock().unwrap()[1].reason, "Job complete");
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn inspect_shows_the_live_pipeline() {
    let setup = Setup::new("engine-inspect");
    let branch = Var::new("branch", Ok("main".to_string()));
    let engine = setup.start(setup.options(), {
        let branch = branch.clone();
        move || {
            let built = step(
                &branch.get(),
                "build",
                Level::Average,
                StartOptions::default(),
                |_job, b: String| std::future::ready(Ok(format!("built {b}"))),
            );
            built.pair(&Term::labelled("tests", ())).map(|(b, ())| b)
        }
    });
    until(&engine, |s| s.result == Ok("built main".to_string()));
    let (pp, dot) = engine
        .inspect(|g, t| (analysis::pp(t, g), analysis::dot(t, g)))
        .expect("inspect the engine");
    assert_eq!(pp, "(const) >>= branch >>= build\n||\ntests", "{pp}");
    // Source locations (tooltips) are normalised to `engine.rs:L:C`.
    let dot = regex::Regex::new(r"engine\.rs:\d+:\d+")
        .unwrap()
        .replace_all(&dot, "engine.rs:L:C");
    let node = |n: usize, label: &str| {
        let at = "current/tests/it/runtime/engine.rs:L:C";
        format!(
            "  n{n} [label=\"{label}\",color=\"#90ee90\",fillcolor=\"#90ee90\",style=\"filled\",tooltip=\"{at}\",comment=\"{at}\"]\n"
        )
    };
    let expected = [
        "digraph pipeline {\n".to_string(),
        "  graph [fontname=\"ui-system,sans-serif\",bgcolor=\"transparent\"]\n".to_string(),
        "  node [fontname=\"ui-system,sans-serif\",shape=\"box\"]\n".to_string(),
        "  edge [fontname=\"ui-system,sans-serif\"]\n".to_string(),
        "  rankdir=LR\n".to_string(),
        node(3, "branch"),
        node(2, "build"),
        node(4, "tests"),
        "  n3 -> n2\n".to_string(),
        "  }\n".to_string(),
    ]
    .concat();
    assert_eq!(dot, expected);
    let stats = engine
        .inspect(|g, t| analysis::stats(t, g))
        .expect("inspect");
    assert_eq!(stats.ok, 3, "{stats:?}");
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn shutdown_cancels_running_jobs_and_kills_their_processes() {
    let setup = Setup::new("engine-shutdown");
    let engine = setup.start(setup.options(), || {
        step(
            &Term::value(()),
            "sleep",
            Level::Average,
            StartOptions::default(),
            |job, ()| async move {
                let cmd = Command::new("sh").args(["-c", "echo pid $$; exec sleep 120"]);
                process::exec(&job, &cmd).await.map_err(|e| e.to_string())
            },
        )
    });
    let s = until(&engine, |s| s.jobs.len() == 1);
    let id = s.jobs[0].clone();
    let log = wait_for_job_log(&setup.dir, &id, |log| {
        log.ends_with('\n') && log.contains("\npid ")
    });
    let pid: i32 = log
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the log:\n{log}"));
    let job = engine
        .context()
        .lookup_running(&id.parse().unwrap())
        .expect("the job is open");
    let ctx = engine.context().clone();

    setup.clock.advance(Duration::from_secs(5));
    engine.shutdown("Test over").expect("a clean shutdown");
    assert_eq!(
        job_log(&setup.dir, &id),
        format!(
            "2022-02-09 11:57.53: Exec: \"sh\" \"-c\" \"echo pid $$; exec sleep 120\"\n\
             pid {pid}\n\
             2022-02-09 11:57.58: Cancelling: Test over\n\
             2022-02-09 11:57.58: Job failed: Cancelled: Test over\n"
        )
    );
    assert_eq!(job.cancelled().as_deref(), Some("Test over"));
    assert_eq!(job.phase(), Phase::Complete);
    assert!(job.log_progress().borrow().closed, "the log is closed");
    assert!(ctx.jobs().is_empty());
    assert!(ctx.is_shutting_down());
    // The process is gone (and reaped: not even a zombie is left).
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None);
    assert_eq!(
        alive,
        Err(nix::errno::Errno::ESRCH),
        "process {pid} is still there"
    );
}

#[test]
fn shutdown_cancels_jobs_waiting_for_confirmation() {
    let setup = Setup::new("engine-shutdown-confirm");
    let mut options = setup.options();
    options.config = Config::new(Some(Level::Harmless));
    let engine = setup.start(options, || {
        step(
            &Term::value(()),
            "deploy",
            Level::Dangerous,
            StartOptions::default(),
            |_job, ()| std::future::ready(Ok(())),
        )
    });
    let s = until(&engine, |s| {
        s.result == Err(ErrorKind::Active(Active::WaitingForConfirmation))
    });
    let id = s.jobs[0].clone();
    // The phase changes just before the line is written.
    wait_for_job_log(&setup.dir, &id, |log| {
        log.contains("Waiting for confirm-threshold")
    });
    engine.shutdown("Going away").expect("a clean shutdown");
    assert_eq!(
        job_log(&setup.dir, &id),
        "2022-02-09 11:57.53: Waiting for confirm-threshold > dangerous\n\
         2022-02-09 11:57.53: Cancelling: Going away\n\
         2022-02-09 11:57.53: Job failed: Cancelled: Going away\n"
    );
}

/// `EngineOptions::shutdown_grace` says how long shutdown waits for cancelled jobs.
#[test]
fn shutdown_waits_for_stuck_jobs_only_for_the_grace_period() {
    let setup = Setup::new("engine-shutdown-grace");
    let mut options = setup.options();
    options.shutdown_grace = Duration::ZERO;
    let engine = setup.start(options, || {
        step(
            &Term::value(()),
            "stuck",
            Level::Average,
            StartOptions::default(),
            |job, ()| async move {
                job.log("ignoring cancels");
                std::future::pending::<Result<(), String>>().await
            },
        )
    });
    let s = until(&engine, |s| s.jobs.len() == 1);
    let id = s.jobs[0].clone();
    wait_for_job_log(&setup.dir, &id, |log| log.contains("ignoring cancels"));
    let job = engine
        .context()
        .lookup_running(&id.parse().unwrap())
        .expect("the job is open");
    let began = Instant::now();
    engine.shutdown("Test over").expect("a clean shutdown");
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "a zero grace period took {took:?}"
    );
    assert_eq!(job.phase(), Phase::Complete, "its log was closed anyway");
    assert_eq!(
        job_log(&setup.dir, &id),
        "2022-02-09 11:57.53: ignoring cancels\n2022-02-09 11:57.53: Cancelling: Test over\n"
    );
}
