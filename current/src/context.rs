//! The services a running pipeline uses: its state directory, clock, confirmation
//! settings, the registry of open jobs, and the channel that wakes its engine.
//!
//! An engine makes one [`Context`] and enters it on its own thread while it evaluates, so
//! the steps of a pipeline find it with [`Context::current`]; jobs keep what they need
//! from it. Nothing here is global: several engines in one process each have their own.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use crate::clock::Clock;
use crate::config::Config;
use crate::incr::Graph;
use crate::job::{Job, JobId};

/// A change to apply to the incremental graph, sent to the engine's thread.
pub type Update = Box<dyn FnOnce(&mut Graph) + Send>;

/// The services of one engine. Cloning shares them.
#[derive(Clone)]
pub struct Context(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    state_dir: PathBuf,
    clock: Arc<dyn Clock>,
    config: Config,
    runtime: tokio::runtime::Handle,
    jobs: Mutex<BTreeMap<JobId, Job>>,
    shutting_down: AtomicBool,
    updates: mpsc::Sender<Update>,
    /// Work to run after the current propagation (releases of resources, so that a
    /// replacement can take a resource over before the old holder lets it go).
    after_propagation: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    /// Looks at the graph to take once the current evaluation is published.
    after_evaluation: Mutex<Vec<Update>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

impl Context {
    /// A context, and the receiving end of its update channel (for the engine).
    pub fn new(
        state_dir: impl Into<PathBuf>,
        clock: Arc<dyn Clock>,
        config: Config,
        runtime: tokio::runtime::Handle,
    ) -> (Context, mpsc::Receiver<Update>) {
        let (tx, rx) = mpsc::channel();
        let ctx = Context(Arc::new(Inner {
            state_dir: state_dir.into(),
            clock,
            config,
            runtime,
            jobs: Mutex::new(BTreeMap::new()),
            shutting_down: AtomicBool::new(false),
            updates: tx,
            after_propagation: Mutex::new(Vec::new()),
            after_evaluation: Mutex::new(Vec::new()),
        }));
        (ctx, rx)
    }

    /// The context entered on this thread (an engine's), if any.
    pub fn current() -> Option<Context> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Make this the current context of this thread until the guard is dropped.
    pub fn enter(&self) -> Entered {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        Entered(previous)
    }

    /// The state directory (`./var` by default).
    pub fn state_dir(&self) -> &Path {
        &self.0.state_dir
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    /// The confirmation settings.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The tokio runtime jobs run on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.0.runtime
    }

    /// Send a change to the engine; it wakes, applies it and propagates. Returns `false`
    /// if the engine has stopped.
    pub fn update(&self, f: impl FnOnce(&mut Graph) + Send + 'static) -> bool {
        self.0.updates.send(Box::new(f)).is_ok()
    }

    /// Run `f` after the current propagation (OCaml's `Engine.on_disable`): how a step lets
    /// go of a resource when the pipeline no longer needs it.
    pub fn after_propagation(&self, f: impl FnOnce() + Send + 'static) {
        self.lock_after().push(Box::new(f));
    }

    /// Run `f` on the engine's thread once the next evaluation is published (it sees the
    /// graph as that evaluation left it), and wake the engine. Returns `false` if the
    /// engine has stopped.
    pub fn after_evaluation(&self, f: impl FnOnce(&mut Graph) + Send + 'static) -> bool {
        self.0
            .after_evaluation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
        self.update(|_| {})
    }

    pub(crate) fn take_after_evaluation(&self) -> Vec<Update> {
        std::mem::take(
            &mut *self
                .0
                .after_evaluation
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    pub(crate) fn take_after_propagation(&self) -> Vec<Box<dyn FnOnce() + Send>> {
        std::mem::take(&mut *self.lock_after())
    }

    fn lock_after(&self) -> MutexGuard<'_, Vec<Box<dyn FnOnce() + Send>>> {
        self.0
            .after_propagation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn jobs_lock(&self) -> MutexGuard<'_, BTreeMap<JobId, Job>> {
        self.0.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open job with this id (one whose log is still being written).
    pub fn lookup_running(&self, id: &JobId) -> Option<Job> {
        self.jobs_lock().get(id).cloned()
    }

    /// Every open job, oldest first.
    pub fn jobs(&self) -> Vec<Job> {
        self.jobs_lock().values().cloned().collect()
    }

    /// Stop starting jobs: from now on `Job::start` fails.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether the engine is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::SeqCst)
    }
}

/// The guard of [`Context::enter`].
#[must_use = "the context is current only while the guard lives"]
pub struct Entered(Option<Context>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
