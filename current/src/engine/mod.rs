//! The engine: evaluates a pipeline on its own thread and keeps it up to date.
//!
//! The incremental graph lives on the engine's thread. Each turn of its loop propagates
//! the changes that arrived, runs what the pipeline let go of (after the propagation, so a
//! replacement can take a resource over first), publishes a [`Snapshot`] (result, jobs,
//! stage counts) and waits for the next update. Updates come from anywhere, through
//! [`Context::update`]: job completions, variables being set, monitors.
//!
//! ```
//! use current::engine::{Engine, EngineOptions};
//! use current::term::Term;
//!
//! # let dir = std::env::temp_dir().join(format!("current-doc-engine-{}", std::process::id()));
//! let rt = tokio::runtime::Runtime::new()?;
//! let options = EngineOptions::new(&dir, rt.handle().clone());
//! let engine = Engine::start(options, || Term::labelled("answer", 42))?;
//! let snapshot = engine.wait_until(|s| s.result.is_ok(), std::time::Duration::from_secs(10))?;
//! assert_eq!(snapshot.result, Ok(42));
//! engine.shutdown("example over")?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod lock;
mod signal;
mod view;

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::context::{Context, Update};
use crate::incr::{panic_message, Graph};
use crate::metrics::Metrics;
use crate::term::{Active, ErrorKind, Executor, Outcome, Stats, Term};

pub use signal::{shutdown_signal, Signals};
pub use view::{Summary, View};

/// Why an engine could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Another engine holds the state directory's lock.
    #[error("the state directory {path} is already used by a running engine (its lock file {path}/lock is held)")]
    StateDirInUse {
        /// The state directory.
        path: PathBuf,
    },
    /// The state directory could not be created or locked.
    #[error("cannot use the state directory {path}: {source}")]
    StateDir {
        /// The state directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The engine's thread could not be started.
    #[error("cannot start the engine thread: {0}")]
    Thread(std::io::Error),
    /// Two primitives of the binary share an id.
    #[error(transparent)]
    DuplicatePrimitive(#[from] crate::registry::DuplicatePrimitive),
    /// The engine has stopped.
    #[error("the engine has stopped")]
    Stopped,
    /// Waiting for a condition took too long; the last snapshot is included.
    #[error("timed out after {waited:?} waiting for the engine; last state: {last}")]
    Timeout {
        /// How long we waited.
        waited: Duration,
        /// The last snapshot, printed.
        last: String,
    },
}

/// How to run an engine.
pub struct EngineOptions {
    /// Where jobs' logs and the database go (`./var` by convention).
    pub state_dir: PathBuf,
    /// The confirmation threshold.
    pub config: Config,
    /// The clock (a [`ManualClock`](crate::clock::ManualClock) in tests).
    pub clock: Arc<dyn Clock>,
    /// The tokio runtime that runs jobs.
    pub runtime: tokio::runtime::Handle,
    /// How long [`Engine::shutdown`] waits for cancelled jobs to finish before closing
    /// their logs anyway.
    pub shutdown_grace: Duration,
}

impl EngineOptions {
    /// Options with no confirmation threshold and the system clock.
    pub fn new(state_dir: impl Into<PathBuf>, runtime: tokio::runtime::Handle) -> Self {
        EngineOptions {
            state_dir: state_dir.into(),
            config: Config::new(None),
            clock: Arc::new(SystemClock),
            runtime,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What the engine published after an evaluation.
#[derive(Clone, Debug)]
pub struct Snapshot<T> {
    /// Evaluations so far (0: not evaluated yet).
    pub step: u64,
    /// The pipeline's result (initially `Running`).
    pub result: Outcome<T>,
    /// The jobs the pipeline references now.
    pub jobs: Vec<String>,
    /// Binds, primitives and `of_output` terms by state.
    pub stats: Stats,
}

/// A running engine. Dropping it stops the engine (see [`Engine::shutdown`] to stop it
/// cleanly, cancelling its jobs).
pub struct Engine<T> {
    ctx: Context,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    snapshots: watch::Receiver<Snapshot<T>>,
    grace: Duration,
    _lock: lock::StateLock,
}

thread_local! {
    /// The root term of the engine running on this thread, for [`Engine::inspect`].
    static ROOT: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

impl<T> Engine<T>
where
    T: Clone + Debug + Send + Sync + 'static,
{
    /// Start an engine over `options.state_dir` (refused if another engine uses it) that
    /// builds its pipeline with `pipeline`, on its own thread, and keeps it up to date.
    pub fn start(
        options: EngineOptions,
        pipeline: impl FnOnce() -> Term<T> + Send + 'static,
    ) -> Result<Engine<T>, EngineError> {
        crate::registry::check_unique()?;
        let lock = lock::StateLock::acquire(&options.state_dir)?;
        let grace = options.shutdown_grace;
        let (ctx, updates) = Context::new(
            options.state_dir,
            options.clock,
            options.config,
            options.runtime,
        );
        let (snap_tx, snapshots) = watch::channel(Snapshot {
            step: 0,
            result: Err(ErrorKind::Active(Active::Running)),
            jobs: Vec::new(),
            stats: Stats::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (ctx, stop) = (ctx.clone(), stop.clone());
            std::thread::Builder::new()
                .name("current-engine".into())
                // Users' pipelines may nest deeply; the engine's own code never recurses
                // with the graph's size.
                .stack_size(16 << 20)
                .spawn(move || run(ctx, updates, pipeline, snap_tx, stop))
                .map_err(EngineError::Thread)?
        };
        let auto_release = ctx.clone();
        ctx.runtime().spawn(async move {
            let clock = auto_release.clock().clone();
            auto_release.config().run_auto_release(&*clock).await;
        });
        Ok(Engine {
            ctx,
            stop,
            thread: Some(thread),
            snapshots,
            grace,
            _lock: lock,
        })
    }

    /// The services this engine gives its pipeline (jobs, config, clock...).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Snapshot<T> {
        self.snapshots.borrow().clone()
    }

    /// A view of the engine that does not depend on `T`, for the web server.
    pub fn view(&self) -> View {
        let rx = self.snapshots.clone();
        let changes = self.snapshots.clone();
        View::new(
            self.ctx.clone(),
            Arc::new(move || {
                let s = rx.borrow();
                Summary {
                    step: s.step,
                    result: s.result.as_ref().map(|_| ()).map_err(Clone::clone),
                    jobs: s.jobs.clone(),
                    stats: s.stats,
                }
            }),
            Arc::new(move || {
                let mut snapshots = changes.clone();
                let (tx, rx) = watch::channel(());
                tokio::spawn(async move {
                    while snapshots.changed().await.is_ok() {
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                });
                rx
            }),
        )
    }

    /// Every snapshot as it is published.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot<T>> {
        self.snapshots.clone()
    }

    /// Block until a snapshot satisfies `done`, for at most `timeout` (then the error
    /// shows the last snapshot). For tests and command-line tools; not inside async code.
    pub fn wait_until(
        &self,
        mut done: impl FnMut(&Snapshot<T>) -> bool + Send,
        timeout: Duration,
    ) -> Result<Snapshot<T>, EngineError> {
        let mut rx = self.snapshots.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        let wait = async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if done(&s) {
                        return Ok(s.clone());
                    }
                }
                match tokio::time::timeout_at(deadline, rx.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(EngineError::Stopped),
                    Err(_) => {
                        return Err(EngineError::Timeout {
                            waited: timeout,
                            last: format!("{:?}", *rx.borrow()),
                        })
                    }
                }
            }
        };
        let handle = self.ctx.runtime().clone();
        std::thread::scope(|s| {
            s.spawn(|| handle.block_on(wait))
                .join()
                .unwrap_or(Err(EngineError::Stopped))
        })
    }

    /// Run `f` on the engine's thread with the graph and the pipeline's root term (to
    /// draw it, print it, count its stages) and return its result. It runs after an
    /// evaluation is published, so it sees the pipeline as that snapshot describes it.
    pub fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Graph, &Term<T>) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let (tx, rx) = oneshot::channel();
        let sent = self.ctx.after_evaluation(move |g| {
            let root = ROOT.with(|r| r.borrow().clone());
            if let Some(term) = root.as_ref().and_then(|r| r.downcast_ref::<Term<T>>()) {
                let _ = tx.send(f(g, term));
            }
        });
        if !sent {
            return Err(EngineError::Stopped);
        }
        rx.blocking_recv().map_err(|_| EngineError::Stopped)
    }

    /// Stop cleanly: start no more jobs, cancel the running ones with `reason` (each logs
    /// `Cancelling: <reason>`), wait for them to finish (at most the grace period, then
    /// their logs are closed anyway), then stop the engine's thread.
    pub fn shutdown(mut self, reason: &str) -> Result<(), EngineError> {
        tracing::info!("Shutting down: {reason}");
        self.ctx.begin_shutdown();
        for job in self.ctx.jobs() {
            job.cancel(reason);
        }
        let deadline = Instant::now() + self.grace;
        let mut progress = self.snapshots.clone();
        let handle = self.ctx.runtime().clone();
        let ctx = self.ctx.clone();
        std::thread::scope(|s| {
            s.spawn(|| {
                handle.block_on(async {
                    while !ctx.jobs().is_empty() && Instant::now() < deadline {
                        let left = deadline.saturating_duration_since(Instant::now());
                        // Jobs finishing send updates, which publish snapshots.
                        let _ = tokio::time::timeout(
                            left.min(Duration::from_millis(100)),
                            progress.changed(),
                        )
                        .await;
                    }
                })
            });
        });
        for job in self.ctx.jobs() {
            tracing::warn!(job = %job.id(), "still running after the grace period; closing its log");
            job.complete();
        }
        self.stop_thread();
        Ok(())
    }

    /// Wait for SIGINT or SIGTERM, then [`shutdown`](Engine::shutdown) with the reason
    /// `Engine shutting down (<signal>)`. A second signal exits the process at once (code
    /// 130). Returns the exit code for `main`: success after a clean shutdown.
    ///
    /// The listeners are installed when this is called; call it right after starting the
    /// engine.
    pub fn run_until_signal(self) -> ExitCode {
        let handle = self.ctx.runtime().clone();
        let listening = {
            let _runtime = handle.enter();
            Signals::new()
        };
        let mut signals = match listening {
            Ok(signals) => signals,
            Err(e) => {
                tracing::error!("cannot listen for signals: {e}");
                return ExitCode::FAILURE;
            }
        };
        let name = std::thread::scope(|s| {
            s.spawn(|| handle.block_on(signals.recv()))
                .join()
                .unwrap_or("an unknown signal")
        });
        handle.spawn(async move {
            let second = signals.recv().await;
            eprintln!("second signal ({second}): exiting at once");
            std::process::exit(130);
        });
        match self.shutdown(&format!("Engine shutting down ({name})")) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ctx.update(|_| {});
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the engine thread panicked");
            }
        }
    }
}

impl<T> std::fmt::Debug for Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state_dir", &self.ctx.state_dir())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl<T> Drop for Engine<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ctx.update(|_| {});
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The engine's thread.
fn run<T: Clone + Debug + 'static>(
    ctx: Context,
    updates: mpsc::Receiver<Update>,
    pipeline: impl FnOnce() -> Term<T>,
    snapshots: watch::Sender<Snapshot<T>>,
    stop: Arc<AtomicBool>,
) {
    let _entered = ctx.enter();
    ctx.next_step();
    let mut g = Graph::new();
    let exec = match catch_unwind(AssertUnwindSafe(|| Executor::run(&mut g, pipeline))) {
        Ok(exec) => exec,
        Err(panic) => {
            let msg = format!(
                "the pipeline panicked while being built: {}",
                panic_message(panic.as_ref())
            );
            tracing::error!("{msg}");
            snapshots.send_modify(|s| {
                s.step = 1;
                s.result = Err(ErrorKind::msg(msg));
            });
            return;
        }
    };
    ROOT.with(|r| *r.borrow_mut() = Some(Rc::new(exec.term().clone())));
    view::ROOT_VIEW.with(|r| *r.borrow_mut() = Some(Rc::new(exec.term().clone())));
    let mut last_result: Option<String> = None;
    let mut step = 0;
    let metrics = Metrics::of(&ctx);
    loop {
        let started = Instant::now();
        ctx.next_step();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| g.propagate())) {
            tracing::error!(
                "a step panicked during propagation: {}",
                panic_message(panic.as_ref())
            );
        }
        for release in ctx.take_after_propagation() {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(release)) {
                tracing::error!("a release panicked: {}", panic_message(panic.as_ref()));
            }
        }
        step += 1;
        let result = exec.result(&g);
        let shown = match &result {
            Ok(v) => format!("Ok: {v:?}"),
            Err(e) => e.to_string(),
        };
        if last_result.as_deref() != Some(shown.as_str()) {
            tracing::info!("Result: {shown}");
            last_result = Some(shown);
        }
        let snapshot = Snapshot {
            step,
            result,
            jobs: exec.job_ids(),
            stats: exec.quick_stats(),
        };
        snapshots.send_replace(snapshot);
        metrics.evaluation().observe(started.elapsed());
        for look in ctx.take_after_evaluation() {
            apply(&mut g, look);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(first) = updates.recv() else { break };
        apply(&mut g, first);
        while let Ok(next) = updates.try_recv() {
            apply(&mut g, next);
        }
    }
    ROOT.with(|r| *r.borrow_mut() = None);
    view::ROOT_VIEW.with(|r| *r.borrow_mut() = None);
    // Let go of everything the pipeline holds (monitors unwatch, steps cancel their jobs).
    if let Err(e) = g.release_all() {
        tracing::error!("cannot release the pipeline: {e}");
    }
    for release in ctx.take_after_propagation() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(release)) {
            tracing::error!("a release panicked: {}", panic_message(panic.as_ref()));
        }
    }
}

fn apply(g: &mut Graph, update: Update) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| update(g))) {
        tracing::error!("an update panicked: {}", panic_message(panic.as_ref()));
    }
}
