//! The services a running pipeline uses: its state directory, clock, confirmation
//! settings, the registry of open jobs, and the channel that wakes its engine.
//!
//! An engine makes one [`Context`] and enters it on its own thread while it evaluates, so
//! the steps of a pipeline find it with [`Context::current`]; jobs keep what they need
//! from it. Nothing here is global: several engines in one process each have their own.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use crate::clock::Clock;
use crate::config::Config;
use crate::incr::Graph;
use crate::job::{Job, JobId};
use crate::store::{Store, StoreError};

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
    /// The engine's evaluation number.
    step: AtomicU64,
    /// The database, opened when first needed.
    store: Mutex<Option<Store>>,
    /// Per-type services of the layers above (the cache's instances, for one).
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
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
            step: AtomicU64::new(0),
            store: Mutex::new(None),
            extensions: Mutex::new(HashMap::new()),
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

    /// The number of the engine's current evaluation (0 before the first).
    pub fn step(&self) -> u64 {
        self.0.step.load(Ordering::SeqCst)
    }

    pub(crate) fn next_step(&self) {
        self.0.step.fetch_add(1, Ordering::SeqCst);
    }

    /// The database of the state directory (`<state dir>/db`), opened on first use.
    pub fn store(&self) -> Result<Store, StoreError> {
        let mut slot = self.0.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = slot.as_ref() {
            return Ok(store.clone());
        }
        let store = Store::open(&self.0.state_dir)?;
        *slot = Some(store.clone());
        Ok(store)
    }

    /// The one `T` of this context, made with `T::default()` on first use: how the layers
    /// above keep per-engine state (the cache keeps its instances here).
    pub fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.0.extensions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match entry.clone().downcast::<T>() {
            Ok(t) => t,
            // The map is keyed by the type's id, so the value is always a T.
            Err(_) => unreachable!(
                "extension map holds another type under {:?}",
                TypeId::of::<T>()
            ),
        }
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
