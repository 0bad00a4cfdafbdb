//! The supervisor: the long-running jobs of one engine, polled by backend.
//!
//! Each registered backend has a driver that keeps its jobs in flight and one poll loop
//! that, per cycle, sends the kills asked for (in one call), reads every exit marker,
//! asks the backend for the state of the jobs still without one (in one call), decides,
//! stores what changed (one flush), and only then tells the waiting jobs.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::context::{self, Context};
use crate::job::Job;
use crate::store::{KeyBuf, Store, Tree};

use super::backend::{Backend, BackendError, Liveness, Settings, Submission, Tracked};
use super::decide::{decide, scheduler_says_ended, Decision, Evidence};
use super::record::{Handle, HandleState};
use super::run_dir::RunDir;
use super::scheduler::SchedulerState;
use super::LongRunError;

/// How a long-running job ended: `Ok` when its exit marker says 0.
pub(crate) type Outcome = Result<(), String>;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The environment variable that makes the engine abort right after a backend has
/// accepted a job and before its answer is stored: how the tests make that crash.
pub const CRASH_AFTER_SUBMIT: &str = "CURRENT_TEST_CRASH_AFTER_SUBMIT";

/// The long-running jobs of one engine (a [`Context::extension`]).
pub(crate) struct Supervisor {
    drivers: Mutex<HashMap<&'static str, Arc<dyn AnyDriver>>>,
    /// Jobs whose stored backend this binary does not have: job id → handle.
    orphans: Mutex<HashMap<String, Handle>>,
    /// Bumped when a backend is registered (what orphans wait for).
    registered: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few assignments; a panic cannot leave them half done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            drivers: Mutex::default(),
            orphans: Mutex::default(),
            registered: watch::Sender::new(0),
        }
    }
}

impl Supervisor {
    /// Watch the registrations of backends.
    pub(crate) fn registrations(&self) -> watch::Receiver<u64> {
        self.registered.subscribe()
    }

    pub(crate) fn driver(&self, name: &str) -> Option<Arc<dyn AnyDriver>> {
        lock(&self.drivers).get(name).cloned()
    }

    fn drivers(&self) -> Vec<Arc<dyn AnyDriver>> {
        lock(&self.drivers).values().cloned().collect()
    }

    pub(crate) fn add_orphan(&self, handle: Handle) {
        lock(&self.orphans).insert(handle.job_id.clone(), handle);
    }

    pub(crate) fn remove_orphan(&self, job_id: &str) {
        lock(&self.orphans).remove(job_id);
    }

    /// The handle of the long-running job of engine job `job_id`, in memory or stored.
    pub(crate) fn handle_of(&self, ctx: &Context, job_id: &str) -> Option<Handle> {
        for d in self.drivers() {
            if let Some(h) = d.handle_of(job_id) {
                return Some(h);
            }
        }
        if let Some(h) = lock(&self.orphans).get(job_id) {
            return Some(h.clone());
        }
        let tree = ctx.store().ok()?.tree::<Handle>().ok()?;
        let handles = tree.iter();
        handles
            .filter_map(Result::ok)
            .find_map(|(_, h)| (h.job_id == job_id).then_some(h))
    }
}

/// A driver, whatever its backend.
pub(crate) trait AnyDriver: Send + Sync {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Whether it has the job stored under `key` in flight.
    fn has(&self, key: &[u8]) -> bool;
    /// Take in a stored, unfinished job (after a restart).
    fn adopt(self: Arc<Self>, key: Vec<u8>, handle: Handle);
    /// Wait for the job under `key` on behalf of `job`.
    fn attach(&self, key: &[u8], job: &Job) -> Option<(Handle, watch::Receiver<Option<Outcome>>)>;
    /// Kill the job under `key` (the request is stored first).
    fn cancel(self: Arc<Self>, key: Vec<u8>, reason: String);
    fn handle_of(&self, job_id: &str) -> Option<Handle>;
    fn cycles(&self) -> u64;
    fn describe(&self, handle: &Handle) -> Vec<(String, String)>;
    fn queries(&self) -> Vec<(&'static str, &'static str)>;
    fn query<'a>(
        &'a self,
        handle: &'a Handle,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, BackendError>>;
}

/// One job in flight.
struct Slot<B: Backend> {
    handle: Handle,
    spec: B::Spec,
    running: Option<B::Running>,
    outcome: watch::Sender<Option<Outcome>>,
    /// The engine job waiting for it, for log lines.
    job: Option<Job>,
    /// Since when it has looked over (its marker appeared, or the scheduler said it
    /// ended) without being decided.
    ended_since: Option<Instant>,
    kill_sent: bool,
    errors: u32,
    /// The last scheduler state seen, to log changes.
    seen: Option<String>,
}

impl<B: Backend> Slot<B> {
    fn log(&self, msg: impl std::fmt::Display) {
        if let Some(job) = &self.job {
            job.log(msg);
        }
    }
}

/// The jobs of one backend.
pub(crate) struct Driver<B: Backend> {
    backend: Arc<B>,
    settings: Settings,
    ctx: Weak<context::Inner>,
    jobs: Mutex<HashMap<Vec<u8>, Slot<B>>>,
    wake: Notify,
    /// Poll cycles that asked the backend for the state of its jobs.
    cycles: AtomicU64,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("cannot read the stored {what}: {e}"))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, LongRunError> {
    postcard::to_stdvec(value).map_err(|e| LongRunError::Encode(e.to_string()))
}

impl<B: Backend> Driver<B> {
    /// The driver of `backend` in `ctx`'s engine, registered (and its stored jobs
    /// resumed) on first use.
    pub(crate) fn register(
        ctx: &Context,
        backend: &Arc<B>,
    ) -> Result<Arc<Driver<B>>, LongRunError> {
        let sup = ctx.extension::<Supervisor>();
        let driver = {
            let mut drivers = lock(&sup.drivers);
            if let Some(d) = drivers.get(B::NAME) {
                return d
                    .clone()
                    .as_any()
                    .downcast::<Driver<B>>()
                    .map_err(|_| LongRunError::NameTaken(B::NAME));
            }
            let driver = Arc::new(Driver {
                backend: backend.clone(),
                settings: backend.settings(),
                ctx: Arc::downgrade(&ctx.0),
                jobs: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                cycles: AtomicU64::new(0),
            });
            drivers.insert(B::NAME, driver.clone());
            driver
        };
        // Resume the jobs a previous run of the engine left in flight.
        let tree = ctx.store()?.tree::<Handle>()?;
        let mut resumed = 0;
        for entry in tree.iter() {
            match entry {
                Ok((key, h)) if h.backend == B::NAME && !h.state.is_finished() => {
                    driver.clone().adopt(key.to_vec(), h);
                    resumed += 1;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("a long-running handle cannot be read: {e}"),
            }
        }
        if resumed > 0 {
            tracing::info!(backend = B::NAME, "resumed {resumed} long-running jobs");
        }
        sup.registered.send_modify(|n| *n += 1);
        let weak = Arc::downgrade(&driver);
        ctx.runtime().spawn(poll_loop(weak));
        Ok(driver)
    }

    fn context(&self) -> Option<Context> {
        let ctx = self.ctx.upgrade().map(Context)?;
        (!ctx.is_shutting_down()).then_some(ctx)
    }

    fn tree(&self) -> Option<(Store, Tree<Handle>)> {
        let store = self.context()?.store().ok()?;
        let tree = store.tree::<Handle>().ok()?;
        Some((store, tree))
    }

    /// Store `handle` under `key` and flush; false (and a log line) if that failed.
    async fn persist(&self, key: &[u8], handle: &Handle) -> bool {
        let Some((store, tree)) = self.tree() else {
            return false;
        };
        let stored = match tree.insert(key, handle) {
            Ok(()) => store.flush_async().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = &stored {
            tracing::error!(job = %handle.name, "cannot store a long-running handle: {e}");
        }
        stored.is_ok()
    }

    /// Store a new job's handle (durably), then submit it.
    pub(crate) async fn create(
        self: &Arc<Self>,
        key: Vec<u8>,
        handle: Handle,
        spec: B::Spec,
        job: &Job,
    ) -> Result<watch::Receiver<Option<Outcome>>, LongRunError> {
        let (store, tree) = self.tree().ok_or(LongRunError::NoEngine)?;
        tree.insert(&key, &handle)?;
        store.flush_async().await?;
        let (tx, rx) = watch::channel(None);
        lock(&self.jobs).insert(
            key.clone(),
            Slot {
                handle,
                spec,
                running: None,
                outcome: tx,
                job: Some(job.clone()),
                ended_since: None,
                kill_sent: false,
                errors: 0,
                seen: None,
            },
        );
        let driver = self.clone();
        if let Some(ctx) = self.context() {
            ctx.runtime()
                .spawn(async move { driver.submit(key, false).await });
        }
        Ok(rx)
    }

    /// Submit the job under `key`; after a restart (`resumed`), first look for it by name.
    async fn submit(self: Arc<Self>, key: Vec<u8>, mut resumed: bool) {
        loop {
            let Some((name, run_dir, spec, kill)) = ({
                let jobs = lock(&self.jobs);
                jobs.get(&key).map(|s| {
                    (
                        s.handle.name.clone(),
                        s.handle.run_dir.clone(),
                        s.spec.clone(),
                        s.handle.kill.clone(),
                    )
                })
            }) else {
                return;
            };
            if let Some(reason) = kill {
                // Killed before it was submitted: nothing to kill, nothing to submit.
                self.finish(&key, Err(reason)).await;
                return;
            }
            let submission = Submission::new(&name, &run_dir, &spec);
            let result = if resumed {
                match self.backend.find(&submission).await {
                    Ok(Some(running)) => {
                        self.log(
                            &key,
                            format_args!("Found {name}, submitted before the restart"),
                        );
                        Ok(running)
                    }
                    Ok(None) => self.backend.start(&submission).await,
                    Err(e) => Err(e),
                }
            } else {
                self.backend.start(&submission).await
            };
            match result {
                Ok(running) => {
                    if std::env::var_os(CRASH_AFTER_SUBMIT).is_some() {
                        tracing::error!(
                            "{CRASH_AFTER_SUBMIT} is set: aborting after submitting {name}"
                        );
                        std::process::abort();
                    }
                    self.started(&key, running).await;
                    return;
                }
                Err(BackendError::Fatal(msg)) => {
                    self.finish(&key, Err(format!("cannot start the job: {msg}")))
                        .await;
                    return;
                }
                Err(BackendError::Recoverable(msg)) => {
                    // The submission may have gone through: look for it by name next time.
                    resumed = true;
                    let Some(wait) = self.recoverable(&key, &msg) else {
                        let reason = format!(
                            "gave up after {} errors in a row: {msg}",
                            self.settings.error_budget
                        );
                        self.finish(&key, Err(reason)).await;
                        return;
                    };
                    tokio::time::sleep(wait).await;
                    if self.context().is_none() {
                        return;
                    }
                }
            }
        }
    }

    /// Count a recoverable error of the job under `key`; how long to wait before trying
    /// again, or `None` when its budget is spent.
    fn recoverable(&self, key: &[u8], msg: &str) -> Option<Duration> {
        let mut jobs = lock(&self.jobs);
        let slot = jobs.get_mut(key)?;
        slot.errors += 1;
        slot.handle.last_error = Some(msg.to_string());
        slot.log(format_args!(
            "Recoverable error ({} of {}): {msg}",
            slot.errors, self.settings.error_budget
        ));
        if slot.errors >= self.settings.error_budget {
            return None;
        }
        let factor = 1u32 << slot.errors.min(8);
        Some((self.settings.poll_min * factor).min(self.settings.poll_max))
    }

    fn log(&self, key: &[u8], msg: impl std::fmt::Display) {
        if let Some(slot) = lock(&self.jobs).get(key) {
            slot.log(msg);
        }
    }

    /// The backend started the job: store what it said, then poll it.
    async fn started(&self, key: &[u8], running: B::Running) {
        let bytes = match encode(&running) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("{e}");
                Vec::new()
            }
        };
        let handle = {
            let mut jobs = lock(&self.jobs);
            let Some(slot) = jobs.get_mut(key) else {
                return;
            };
            slot.running = Some(running);
            slot.errors = 0;
            slot.handle.running = Some(bytes);
            slot.handle.state = HandleState::Running;
            slot.handle.last_error = None;
            let tracked = Tracked::<B>::new(
                &slot.handle.name,
                &slot.handle.run_dir,
                &slot.spec,
                slot.running
                    .as_ref()
                    .unwrap_or_else(|| unreachable!("set above")),
            );
            for (title, text) in self.backend.describe(&tracked) {
                slot.log(format_args!("{title}: {text}"));
            }
            slot.handle.clone()
        };
        self.persist(key, &handle).await;
        self.wake.notify_one();
    }

    /// The job under `key` ended: store it, tell its waiters, forget it.
    async fn finish(&self, key: &[u8], outcome: Outcome) {
        let handle = {
            let mut jobs = lock(&self.jobs);
            let Some(slot) = jobs.get_mut(key) else {
                return;
            };
            slot.handle.state = match &outcome {
                Ok(()) => HandleState::Succeeded,
                Err(e) => HandleState::Failed(e.clone()),
            };
            slot.handle.clone()
        };
        self.persist(key, &handle).await;
        if let Some(slot) = lock(&self.jobs).remove(key) {
            slot.outcome.send_replace(Some(outcome));
        }
    }

    /// One poll cycle; whether anything changed.
    async fn cycle(&self) -> bool {
        // The jobs started, with what the cycle needs of each.
        struct Entry<B: Backend> {
            key: Vec<u8>,
            name: String,
            run_dir: RunDir,
            spec: B::Spec,
            running: B::Running,
            kill: Option<String>,
            kill_sent: bool,
            ended_since: Option<Instant>,
        }
        let entries: Vec<Entry<B>> = {
            let jobs = lock(&self.jobs);
            jobs.iter()
                .filter_map(|(key, s)| {
                    Some(Entry {
                        key: key.clone(),
                        name: s.handle.name.clone(),
                        run_dir: s.handle.run_dir.clone(),
                        spec: s.spec.clone(),
                        running: s.running.clone()?,
                        kill: s.handle.kill.clone(),
                        kill_sent: s.kill_sent,
                        ended_since: s.ended_since,
                    })
                })
                .collect()
        };
        if entries.is_empty() {
            return false;
        }
        fn tracked<B: Backend>(e: &Entry<B>) -> Tracked<'_, B> {
            Tracked::new(&e.name, &e.run_dir, &e.spec, &e.running)
        }
        let mut changed = false;

        // Kills asked for and not yet sent, in one call.
        let kills: Vec<&Entry<B>> = entries
            .iter()
            .filter(|e| e.kill.is_some() && !e.kill_sent)
            .collect();
        if !kills.is_empty() {
            let batch: Vec<Tracked<'_, B>> = kills.iter().map(|e| tracked(e)).collect();
            match self.backend.kill(&batch).await {
                Ok(()) => {
                    let mut jobs = lock(&self.jobs);
                    for e in &kills {
                        if let Some(slot) = jobs.get_mut(&e.key) {
                            slot.kill_sent = true;
                            slot.log(format_args!("Kill sent to {}", B::NAME));
                        }
                    }
                }
                Err(err) => {
                    for e in &kills {
                        self.log(&e.key, format_args!("Cannot kill the job yet: {err}"));
                    }
                }
            }
            changed = true;
        }

        // Markers first; the scheduler only for the jobs without a zero.
        let markers: Vec<Result<Option<i32>, String>> = entries
            .iter()
            .map(|e| e.run_dir.exit_marker().map_err(|err| err.to_string()))
            .collect();
        let asked: Vec<usize> = (0..entries.len())
            .filter(|&i| !matches!(markers[i], Ok(Some(0))))
            .collect();
        let status: Result<Vec<Liveness<B::Running>>, BackendError> = if asked.is_empty() {
            Ok(Vec::new())
        } else {
            let batch: Vec<Tracked<'_, B>> = asked.iter().map(|&i| tracked(&entries[i])).collect();
            self.cycles.fetch_add(1, Ordering::Relaxed);
            match self.backend.status(&batch).await {
                Ok(v) if v.len() == batch.len() => Ok(v),
                Ok(v) => Err(BackendError::Recoverable(format!(
                    "the backend answered for {} jobs out of {}",
                    v.len(),
                    batch.len()
                ))),
                Err(e) => Err(e),
            }
        };
        let mut states: Vec<Option<Liveness<B::Running>>> =
            (0..entries.len()).map(|_| None).collect();
        match status {
            Ok(answers) => {
                for (i, answer) in asked.iter().zip(answers) {
                    states[*i] = Some(answer);
                }
            }
            Err(err) => {
                // Nobody's state is known this cycle: count it against each job asked
                // for; jobs whose marker is there are still decided.
                for &i in &asked {
                    if let Ok(Some(_)) = markers[i] {
                        continue;
                    }
                    if self
                        .recoverable(&entries[i].key, &err.to_string())
                        .is_none()
                    {
                        let reason = format!(
                            "gave up after {} errors in a row: {err}",
                            self.settings.error_budget
                        );
                        self.finish(&entries[i].key, Err(reason)).await;
                        changed = true;
                    }
                }
                for (i, m) in markers.iter().enumerate() {
                    if !matches!(m, Ok(Some(_))) {
                        continue;
                    }
                    let e = &entries[i];
                    let d = decide(Evidence {
                        marker: *m.as_ref().unwrap_or(&None),
                        state: Some(&SchedulerState::Completed),
                        kill: e.kill.as_deref(),
                        ended_for: None,
                        grace: self.settings.grace,
                    });
                    changed |= self.apply(&e.key, d).await;
                }
                return changed;
            }
        }

        let now = Instant::now();
        for (i, e) in entries.iter().enumerate() {
            let marker = match &markers[i] {
                Ok(m) => *m,
                Err(err) => {
                    self.finish(
                        &e.key,
                        Err(format!("the exit marker cannot be read: {err}")),
                    )
                    .await;
                    changed = true;
                    continue;
                }
            };
            let liveness = states[i].take();
            let state = liveness.as_ref().and_then(|l| l.state.clone());
            let asked_scheduler = liveness.is_some();
            let ended =
                marker.is_some() || (asked_scheduler && scheduler_says_ended(state.as_ref()));
            let ended_since = if ended {
                Some(e.ended_since.unwrap_or(now))
            } else {
                None
            };
            // Remember what the scheduler said and what the backend learnt.
            let new_running = {
                let mut jobs = lock(&self.jobs);
                let Some(slot) = jobs.get_mut(&e.key) else {
                    continue;
                };
                slot.ended_since = ended_since;
                if asked_scheduler {
                    slot.errors = 0;
                    slot.handle.last_error = None;
                    let said = match &state {
                        Some(s) => format!("{s:?}"),
                        None => "not known to the scheduler".to_string(),
                    };
                    if slot.seen.as_deref() != Some(said.as_str()) {
                        slot.log(format_args!("{}: {said}", B::NAME));
                        slot.handle.scheduler = Some(said.clone());
                        slot.seen = Some(said);
                        changed = true;
                    }
                }
                match liveness {
                    Some(l) => match encode(&l.running) {
                        Ok(bytes) if Some(&bytes) != slot.handle.running.as_ref() => {
                            slot.running = Some(l.running);
                            slot.handle.running = Some(bytes);
                            Some(slot.handle.clone())
                        }
                        _ => None,
                    },
                    None => None,
                }
            };
            if let Some(handle) = new_running {
                self.persist(&e.key, &handle).await;
            }
            let d = decide(Evidence {
                marker,
                state: if asked_scheduler {
                    state.as_ref()
                } else {
                    Some(&SchedulerState::Completed)
                },
                kill: e.kill.as_deref(),
                ended_for: ended_since.map(|t| now.saturating_duration_since(t)),
                grace: self.settings.grace,
            });
            changed |= self.apply(&e.key, d).await;
        }
        changed
    }

    async fn apply(&self, key: &[u8], d: Decision) -> bool {
        match d {
            Decision::Wait => false,
            Decision::Succeeded => {
                self.log(key, "The exit marker says 0");
                self.finish(key, Ok(())).await;
                true
            }
            Decision::Failed(reason) => {
                self.finish(key, Err(reason)).await;
                true
            }
        }
    }
}

/// The poll loop of one driver: adaptive interval, woken early by new jobs and kills;
/// ends with the engine.
async fn poll_loop<B: Backend>(driver: Weak<Driver<B>>) {
    let mut interval = None::<Duration>;
    loop {
        {
            let Some(d) = driver.upgrade() else { return };
            // Idle, it still looks now and then whether the engine has gone.
            let wait = interval.unwrap_or(d.settings.poll_max);
            let _ = tokio::time::timeout(wait, d.wake.notified()).await;
        }
        let Some(d) = driver.upgrade() else { return };
        if d.context().is_none() {
            return;
        }
        let changed = d.cycle().await;
        let settings = d.settings;
        let (busy, waiting_for_marker) = {
            let jobs = lock(&d.jobs);
            let waiting = jobs.values().any(|s| s.ended_since.is_some());
            (!jobs.is_empty(), waiting)
        };
        interval = match interval {
            _ if !busy => None,
            None => Some(settings.poll_min),
            Some(_) if changed => Some(settings.poll_min),
            // A job in its grace period is looked at often enough to end on time.
            Some(i) if waiting_for_marker => {
                Some((i * 2).min(settings.grace / 4).max(settings.poll_min))
            }
            Some(i) => Some((i * 2).min(settings.poll_max)),
        };
    }
}

impl<B: Backend> AnyDriver for Driver<B> {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn has(&self, key: &[u8]) -> bool {
        lock(&self.jobs).contains_key(key)
    }

    fn adopt(self: Arc<Self>, key: Vec<u8>, handle: Handle) {
        let spec = decode::<B::Spec>(&handle.spec, "parameters");
        let running = match &handle.running {
            Some(bytes) => decode::<B::Running>(bytes, "running parameters").map(Some),
            None => Ok(None),
        };
        let (spec, running) = match (spec, running) {
            (Ok(s), Ok(r)) => (s, r),
            (Err(e), _) | (_, Err(e)) => {
                let mut handle = handle;
                handle.state = HandleState::Failed(e.clone());
                tracing::warn!(job = %handle.name, "{e}");
                if let Some((store, tree)) = self.tree() {
                    let _ = tree.insert(&key, &handle).and_then(|_| store.flush());
                }
                return;
            }
        };
        let submitting = handle.state == HandleState::Submitting;
        let (tx, _) = watch::channel(None);
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(&key) {
            // Adopted already (at registration, or by another waiter).
            return;
        }
        jobs.insert(
            key.clone(),
            Slot {
                handle,
                spec,
                running,
                outcome: tx,
                job: None,
                ended_since: None,
                kill_sent: false,
                errors: 0,
                seen: None,
            },
        );
        drop(jobs);
        if submitting {
            if let Some(ctx) = self.context() {
                let driver = self.clone();
                ctx.runtime()
                    .spawn(async move { driver.submit(key, true).await });
            }
        } else {
            self.wake.notify_one();
        }
    }

    fn attach(&self, key: &[u8], job: &Job) -> Option<(Handle, watch::Receiver<Option<Outcome>>)> {
        let mut jobs = lock(&self.jobs);
        let slot = jobs.get_mut(key)?;
        slot.job = Some(job.clone());
        slot.handle.job_id = job.id().to_string();
        slot.seen = None;
        Some((slot.handle.clone(), slot.outcome.subscribe()))
    }

    fn cancel(self: Arc<Self>, key: Vec<u8>, reason: String) {
        let handle = {
            let mut jobs = lock(&self.jobs);
            let Some(slot) = jobs.get_mut(&key) else {
                return;
            };
            if slot.handle.kill.is_some() {
                return;
            }
            slot.handle.kill = Some(reason);
            slot.handle.clone()
        };
        let Some(ctx) = self.ctx.upgrade().map(Context) else {
            return;
        };
        ctx.runtime().clone().spawn(async move {
            // The request is durable before the backend hears of it: a crash in between
            // still kills the job after the restart.
            self.persist(&key, &handle).await;
            self.wake.notify_one();
        });
    }

    fn handle_of(&self, job_id: &str) -> Option<Handle> {
        lock(&self.jobs)
            .values()
            .find(|s| s.handle.job_id == job_id)
            .map(|s| s.handle.clone())
    }

    fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Relaxed)
    }

    fn describe(&self, handle: &Handle) -> Vec<(String, String)> {
        let Ok(spec) = decode::<B::Spec>(&handle.spec, "parameters") else {
            return Vec::new();
        };
        let Some(Ok(running)) = handle
            .running
            .as_ref()
            .map(|b| decode::<B::Running>(b, "running parameters"))
        else {
            return Vec::new();
        };
        self.backend.describe(&Tracked::new(
            &handle.name,
            &handle.run_dir,
            &spec,
            &running,
        ))
    }

    fn queries(&self) -> Vec<(&'static str, &'static str)> {
        self.backend.queries()
    }

    fn query<'a>(
        &'a self,
        handle: &'a Handle,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            let spec =
                decode::<B::Spec>(&handle.spec, "parameters").map_err(BackendError::Fatal)?;
            let running = match &handle.running {
                Some(b) => {
                    decode::<B::Running>(b, "running parameters").map_err(BackendError::Fatal)?
                }
                None => return Err(BackendError::Fatal("the job has not started".into())),
            };
            self.backend
                .query(
                    &Tracked::new(&handle.name, &handle.run_dir, &spec, &running),
                    name,
                )
                .await
        })
    }
}

/// The handle stored under `key`, if any.
pub(crate) fn stored(ctx: &Context, key: &KeyBuf) -> Result<Option<Handle>, LongRunError> {
    Ok(ctx.store()?.tree::<Handle>()?.get(key)?)
}
