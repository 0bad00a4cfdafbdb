//! One cache entry per (operation, key digest): OCurrent's instance state machine.
//!
//! An instance lives while a pipeline wants its key (or while its job runs). It is loaded
//! from the newest record of its key, runs jobs toward the value the pipeline wants, and
//! records every result in the store before showing it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use crate::context::Context;
use crate::digest::Digest;
use crate::incr::panic_message;
use crate::job::{Job, Origin, Phase};
use crate::metrics::Metrics;
use crate::pool::Priority;
use crate::store::Lookup;
use crate::subscribers::{Shown, Subscribers};
use crate::term::{Active, ErrorKind, Metadata};

use super::db::{CacheDb, CacheRecord, Outcome};
use super::op::Operation;
use super::rules::RulesDb;

/// The reason given to a job whose result nobody wants any more.
pub const AUTO_CANCEL: &str = "Auto-cancelling job because it is no longer needed";

pub use crate::metrics::Counters;

/// The instances of one operation type in one engine (a [`Context::extension`]).
pub(crate) struct Registry<O: Operation> {
    pub(crate) instances: Mutex<HashMap<Digest, Arc<Mutex<Instance<O>>>>>,
    counters: OnceLock<Arc<Counters>>,
}

impl<O: Operation> Default for Registry<O> {
    fn default() -> Self {
        Registry {
            instances: Mutex::new(HashMap::new()),
            counters: OnceLock::new(),
        }
    }
}

impl<O: Operation> Registry<O> {
    fn lock(&self) -> MutexGuard<'_, HashMap<Digest, Arc<Mutex<Instance<O>>>>> {
        self.instances.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The operation's counters, kept in the engine's [`Metrics`].
    pub(crate) fn counters(&self, ctx: &Context) -> &Arc<Counters> {
        self.counters
            .get_or_init(|| Metrics::of(ctx).operation(O::ID))
    }

    /// The instance of `digest`, loaded from the database if it is not in memory.
    pub(crate) fn instance(
        &self,
        ctx: &Context,
        db: &CacheDb,
        op: &Arc<O>,
        key: &O::Key,
        digest: Digest,
    ) -> Arc<Mutex<Instance<O>>> {
        let mut map = self.lock();
        if let Some(i) = map.get(&digest) {
            return i.clone();
        }
        let i = Arc::new(Mutex::new(Instance::load(
            ctx,
            db,
            op,
            key,
            digest,
            self.counters(ctx).clone(),
        )));
        map.insert(digest, i.clone());
        drop(map);
        let job = lock(&i).job_id.clone();
        if let Some(job) = job {
            register_actions(ctx, &job, &i, digest);
        }
        i
    }

    /// The instance of `digest`, if it is in memory.
    pub(crate) fn get(&self, digest: &Digest) -> Option<Arc<Mutex<Instance<O>>>> {
        self.lock().get(digest).cloned()
    }

    /// Forget every instance that runs no job (`reset`).
    pub(crate) fn forget_idle_and_done(&self) {
        self.lock()
            .retain(|_, i| matches!(lock(i).state, State::Active { .. }));
    }

    /// Forget an instance nobody wants and that runs nothing.
    pub(crate) fn release_if_idle(&self, digest: &Digest) {
        let mut map = self.lock();
        let idle = map.get(digest).is_some_and(|i| lock(i).idle());
        if idle {
            map.remove(digest);
        }
    }
}

pub(crate) fn lock<O: Operation>(i: &Mutex<Instance<O>>) -> MutexGuard<'_, Instance<O>> {
    // Every transition is made under the lock and completes before it is released.
    i.lock().unwrap_or_else(|e| e.into_inner())
}

type Result2<T> = Result<T, String>;

enum State<T> {
    /// No usable result: run a job (showing the previous outcome meanwhile, if latched).
    Retry { latched: Option<Result2<T>> },
    /// A job runs toward the value with digest `value`.
    Active {
        job: Job,
        value: Digest,
        /// The description of what this job makes (for the `(stale), then ...` text).
        building: String,
        latched: Option<Result2<T>>,
        auto_cancelled: bool,
    },
    /// The outcome for the value with digest `value`.
    Finished {
        outcome: Result2<T>,
        value: Digest,
        finished: SystemTime,
    },
}

/// One cache entry.
pub(crate) struct Instance<O: Operation> {
    op: Arc<O>,
    key: O::Key,
    digest: Digest,
    ctx: Context,
    db: CacheDb,
    counters: Arc<Counters>,
    state: State<O::Outcome>,
    /// The value the pipeline wants, its digest, and the step it was asked for in.
    desired: Option<(O::Value, Digest, u64)>,
    /// Asked for two different values in one step: the error shown until the next step.
    conflict: Option<(String, u64)>,
    next_build: u64,
    /// The job that made or is making the outcome shown.
    job_id: Option<String>,
    readers: Subscribers<O::Outcome>,
    users: usize,
    /// How long a result stays valid (the shortest asked for in the latest step).
    valid_for: Option<(Duration, u64)>,
    /// The timer that re-checks the result when it expires.
    expiry: Option<(SystemTime, tokio::task::AbortHandle)>,
}

impl<O: Operation> Instance<O> {
    /// Load the newest record of the key: a flagged or undecodable record means a retry, a
    /// stored outcome is finished (for the value it was made for).
    fn load(
        ctx: &Context,
        db: &CacheDb,
        op: &Arc<O>,
        key: &O::Key,
        digest: Digest,
        counters: Arc<Counters>,
    ) -> Self {
        let retry = State::Retry { latched: None };
        // The newest record also gives the next build number (no second scan of the key).
        let (state, job_id, next_build) = match db.latest(O::ID, &digest) {
            Ok(Lookup::Found(record)) => {
                let state = if record.rebuild {
                    retry
                } else {
                    match decode::<O::Outcome>(&record.outcome) {
                        Ok(outcome) => State::Finished {
                            outcome,
                            value: record.value.unwrap_or_else(unit_digest),
                            finished: record.finished,
                        },
                        Err(e) => {
                            tracing::warn!(
                                op = O::ID,
                                key = %digest,
                                "stored outcome cannot be decoded ({e}); rebuilding"
                            );
                            let _ = db.invalidate(O::ID, &digest);
                            retry
                        }
                    }
                };
                (
                    state,
                    Some(record.job_id),
                    Some(record.build.saturating_add(1)),
                )
            }
            Ok(Lookup::Undecodable(reason)) => {
                tracing::warn!(op = O::ID, key = %digest, "undecodable record ({reason:?}); rebuilding");
                let _ = db.invalidate(O::ID, &digest);
                (retry, None, None)
            }
            Ok(Lookup::Missing) => (retry, None, Some(0)),
            Err(e) => {
                tracing::warn!(op = O::ID, key = %digest, "cannot read the cache: {e}");
                (retry, None, None)
            }
        };
        let next_build = next_build.unwrap_or_else(|| db.next_build(O::ID, &digest).unwrap_or(0));
        Instance {
            op: op.clone(),
            key: key.clone(),
            digest,
            ctx: ctx.clone(),
            db: db.clone(),
            counters,
            state,
            desired: None,
            conflict: None,
            next_build,
            job_id,
            readers: Subscribers::new(),
            users: 0,
            valid_for: None,
            expiry: None,
        }
    }

    fn idle(&self) -> bool {
        self.users == 0 && !matches!(self.state, State::Active { .. })
    }

    /// A pipeline wants this key at `value` (in engine step `step`).
    pub(crate) fn want(
        &mut self,
        value: O::Value,
        value_digest: Digest,
        step: u64,
        valid_for: Option<Duration>,
    ) {
        // Several schedules in one step: the shortest wins.
        self.valid_for = match (valid_for, self.valid_for) {
            (Some(d), Some((old, at))) if at == step => Some((d.min(old), step)),
            (Some(d), _) => Some((d, step)),
            (None, Some(same_step)) if same_step.1 == step => Some(same_step),
            (None, _) => None,
        };
        if let Some((_, old, at)) = &self.desired {
            if *at == step && *old != value_digest {
                let pp = self.op.pp(&self.key, &value);
                self.conflict = Some((
                    format!("instance {pp} set to different values in the same step!"),
                    step,
                ));
                return;
            }
        }
        if self.conflict.as_ref().is_some_and(|(_, at)| *at != step) {
            self.conflict = None;
        }
        // A new value clears a stored error (latching it if the operation is latched).
        if let State::Finished { outcome, value, .. } = &self.state {
            if *value != value_digest && outcome.is_err() {
                let latched = self.op.latched().then(|| outcome.clone());
                self.state = State::Retry { latched };
            }
        }
        self.desired = Some((value, value_digest, step));
    }

    pub(crate) fn subscribe(
        &mut self,
        ctx: Context,
        cell: crate::incr::Var<Shown<O::Outcome>>,
    ) -> u64 {
        self.users += 1;
        self.readers.add(ctx, cell)
    }

    pub(crate) fn unsubscribe(&mut self, id: u64) {
        self.users = self.users.saturating_sub(1);
        self.readers.remove(id);
        if self.users == 0 {
            // Nobody wants the key: an auto-cancelling operation stops its job.
            if let State::Active {
                job,
                auto_cancelled,
                ..
            } = &mut self.state
            {
                if self.op.auto_cancel() && !*auto_cancelled {
                    *auto_cancelled = true;
                    job.cancel(AUTO_CANCEL);
                }
            }
        }
    }

    /// What the pipeline shows for this key now.
    pub(crate) fn shown(&self) -> Shown<O::Outcome> {
        let meta = |update: Option<Active>| {
            Some(Metadata {
                job_id: self.job_id.clone(),
                update,
            })
        };
        if let Some((msg, _)) = &self.conflict {
            return (Err(ErrorKind::msg(msg.clone())), meta(None));
        }
        let shown = |r: &Result2<O::Outcome>| r.clone().map_err(ErrorKind::msg);
        match &self.state {
            State::Finished { outcome, .. } => (shown(outcome), meta(None)),
            State::Retry { latched: None } => (Err(ErrorKind::Active(Active::Ready)), meta(None)),
            State::Retry {
                latched: Some(latched),
            } => (shown(latched), meta(Some(Active::Ready))),
            State::Active { job, latched, .. } => {
                let phase = match job.phase() {
                    Phase::WaitingForConfirmation => Active::WaitingForConfirmation,
                    Phase::Running | Phase::Complete => Active::Running,
                    Phase::Created | Phase::WaitingForPool => Active::Ready,
                };
                match latched {
                    None => (Err(ErrorKind::Active(phase)), meta(None)),
                    Some(latched) => (shown(latched), meta(Some(phase))),
                }
            }
        }
    }

    fn publish(&self) {
        self.readers.send(&self.shown());
    }

    /// Move toward the wanted value: start a job if the stored outcome is not for it.
    pub(crate) fn drive(this: &Arc<Mutex<Self>>) {
        Self::drive_for(this, false);
    }

    /// [`Instance::drive`] for an evaluation of the pipeline: a stored result used then
    /// counts as a hit.
    pub(crate) fn evaluate(this: &Arc<Mutex<Self>>) {
        Self::drive_for(this, true);
    }

    fn drive_for(this: &Arc<Mutex<Self>>, evaluation: bool) {
        let mut i = lock(this);
        let Some((value, want, _)) = i.desired.clone() else {
            return;
        };
        if i.conflict.is_some() {
            i.publish();
            return;
        }
        let now = i.ctx.clock().now();
        let latched = match &i.state {
            State::Finished {
                value: made,
                finished,
                outcome,
            } if *made == want => {
                let deadline = i.valid_for.map(|(d, _)| *finished + d);
                match deadline {
                    // Expired: rebuild, showing the old outcome meanwhile.
                    Some(deadline) if deadline <= now => Some(outcome.clone()),
                    _ => {
                        // Up to date, or failed for this very value: wait for a change, a
                        // rebuild or the expiry.
                        if let Some(deadline) = deadline {
                            Self::arm_expiry(this, &mut i, deadline);
                        }
                        if evaluation {
                            i.counters.hits.fetch_add(1, Ordering::Relaxed);
                        }
                        i.publish();
                        return;
                    }
                }
            }
            State::Finished { outcome, .. } => i.op.latched().then(|| outcome.clone()),
            State::Retry { latched } => latched.clone(),
            State::Active { value: made, .. } if *made == want => {
                i.publish();
                return;
            }
            State::Active {
                job,
                auto_cancelled,
                ..
            } => {
                // Wanted at another value: an auto-cancelling operation stops the old job;
                // either way the new value is built once the job has finished.
                if i.op.auto_cancel() && !*auto_cancelled {
                    let job = job.clone();
                    if let State::Active { auto_cancelled, .. } = &mut i.state {
                        *auto_cancelled = true;
                    }
                    job.cancel(AUTO_CANCEL);
                }
                i.publish();
                return;
            }
        };
        i.counters.misses.fetch_add(1, Ordering::Relaxed);
        Self::start(this, &mut i, value, want, latched);
    }

    /// Re-check the result at `deadline`.
    fn arm_expiry(this: &Arc<Mutex<Self>>, i: &mut Instance<O>, deadline: SystemTime) {
        if i.expiry.as_ref().is_some_and(|(at, _)| *at == deadline) {
            return;
        }
        if let Some((_, timer)) = i.expiry.take() {
            timer.abort();
        }
        let (sleep, ctx, weak) = (
            i.ctx.clock().sleep_until(deadline),
            i.ctx.clone(),
            Arc::downgrade(this),
        );
        let timer = i.ctx.runtime().spawn(async move {
            sleep.await;
            ctx.update(move |_| {
                if let Some(this) = weak.upgrade() {
                    lock(&this).expiry = None;
                    Self::drive(&this);
                }
            });
        });
        i.expiry = Some((deadline, timer.abort_handle()));
    }

    /// The text of this key's actions (OCaml's `pp` of the job's actions).
    pub(crate) fn describe(&self) -> String {
        let wanted = match &self.desired {
            Some((value, _, _)) => self.op.pp(&self.key, value),
            None => O::LABEL.to_string(),
        };
        match &self.state {
            State::Finished {
                outcome: Ok(_),
                finished,
                ..
            } => match self.valid_for {
                None => format!("{wanted} (completed)"),
                Some((d, _)) => {
                    let now = self.ctx.clock().now();
                    match (*finished + d).duration_since(now) {
                        Ok(left) if !left.is_zero() => {
                            format!("{wanted} will be invalid after {}", pp_remaining(left))
                        }
                        _ => format!("{wanted} (expired)"),
                    }
                }
            },
            State::Finished {
                outcome: Err(e), ..
            } => format!("{wanted}: {e}"),
            State::Retry { .. } => format!("{wanted} (retry scheduled)"),
            State::Active {
                value, building, ..
            } => match &self.desired {
                Some((_, want, _)) if want != value => format!("{building} (stale), then {wanted}"),
                _ => format!("{wanted} (in-progress)"),
            },
        }
    }

    /// Build again, unless a job is already under way: flags the stored record and returns
    /// the new job's id.
    pub(crate) fn rebuild(this: &Arc<Mutex<Self>>) -> Option<String> {
        {
            let mut i = lock(this);
            if matches!(i.state, State::Active { .. }) || i.desired.is_none() {
                return None;
            }
            i.state = State::Retry { latched: None };
            if let Err(e) = i.db.set_rebuild(O::ID, &i.digest) {
                tracing::warn!(op = O::ID, key = %i.digest, "cannot flag the record for rebuild: {e}");
            }
        }
        Self::drive(this);
        let i = lock(this);
        match &i.state {
            State::Active { job, .. } => Some(job.id().to_string()),
            _ => None,
        }
    }

    /// Forget the result: flag the stored record and, unless a job is under way, build
    /// again if the key is wanted.
    pub(crate) fn invalidate(this: &Arc<Mutex<Self>>) {
        {
            let mut i = lock(this);
            if let Err(e) = i.db.invalidate(O::ID, &i.digest) {
                tracing::warn!(op = O::ID, key = %i.digest, "cannot invalidate the record: {e}");
            }
            if matches!(i.state, State::Active { .. }) {
                return;
            }
            i.state = State::Retry { latched: None };
            i.publish();
        }
        Self::drive(this);
    }

    fn start(
        this: &Arc<Mutex<Self>>,
        i: &mut Instance<O>,
        value: O::Value,
        want: Digest,
        latched: Option<Result2<O::Outcome>>,
    ) {
        let priority = if latched.is_some() {
            Priority::Low
        } else {
            Priority::High
        };
        let job = match Job::create(&i.ctx, O::LABEL, priority) {
            Ok(job) => job,
            Err(e) => {
                i.state = State::Finished {
                    outcome: Err(e.to_string()),
                    value: want,
                    finished: i.ctx.clock().now(),
                };
                i.publish();
                return;
            }
        };
        i.counters.builds.fetch_add(1, Ordering::Relaxed);
        job.log(format_args!("New job: {}", i.op.pp(&i.key, &value)));
        i.job_id = Some(job.id().to_string());
        register_actions(&i.ctx, job.id().as_str(), this, i.digest);
        i.state = State::Active {
            job: job.clone(),
            value: want,
            building: i.op.pp(&i.key, &value),
            latched,
            auto_cancelled: false,
        };
        let build = i.next_build;
        i.next_build += 1;
        job.set_origin(Origin {
            op: O::ID,
            key: i.digest,
            build,
        });
        let ready = i.ctx.clock().now();
        i.publish();

        // Show the job's phases as they change.
        let mut phases = job.watch_phase();
        let watcher = this.clone();
        i.ctx.runtime().spawn(async move {
            while phases.changed().await.is_ok() {
                let phase = *phases.borrow_and_update();
                let i = lock(&watcher);
                if matches!(i.state, State::Active { .. }) {
                    i.publish();
                }
                if phase == Phase::Complete {
                    return;
                }
            }
        });

        let (op, key, runner) = (i.op.clone(), i.key.clone(), this.clone());
        i.ctx.runtime().spawn(async move {
            let run = {
                let job = job.clone();
                async move { op.run(job, key, value).await }
            };
            let result = match tokio::spawn(run).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(panic_message(e.into_panic().as_ref())),
                Err(e) => Err(e.to_string()),
            };
            Self::finish(runner, job, result, want, build, ready).await;
        });
    }

    /// Record a job's result (durably) and show it.
    async fn finish(
        this: Arc<Mutex<Self>>,
        job: Job,
        result: Result2<O::Outcome>,
        want: Digest,
        build: u64,
        ready: SystemTime,
    ) {
        let (ctx, db, digest, auto_cancelled) = {
            let i = lock(&this);
            let auto = matches!(
                i.state,
                State::Active {
                    auto_cancelled: true,
                    ..
                }
            );
            (i.ctx.clone(), i.db.clone(), i.digest, auto)
        };
        // A job cut off by the engine shutting down did not fail: it is not recorded, and
        // runs again after the restart.
        let interrupted = job.cancelled().is_some() && ctx.is_shutting_down();
        let result = match (result, job.cancelled()) {
            (_, Some(reason)) => {
                job.log(format_args!("Cancelled: {reason}"));
                Err("Cancelled".to_string())
            }
            (Ok(_), None) if job.start_time().is_none() => Err("Job.start not called!".to_string()),
            (result, None) => result,
        };
        let mut result = match result {
            Ok(v) => {
                job.log("Job succeeded");
                Ok(v)
            }
            Err(e) => {
                job.log(format_args!("Job failed: {e}"));
                Err(explain_failure(&ctx, &job).unwrap_or(e))
            }
        };
        if auto_cancelled {
            // Nobody wants this result: discard it, and make sure the key is retried.
            let _ = db.invalidate(O::ID, &digest);
        } else if interrupted {
            job.log("Not recorded: the engine is shutting down");
        } else {
            let outcome = match &result {
                Ok(v) => match postcard::to_stdvec(v) {
                    Ok(bytes) => Outcome::Ok(bytes),
                    Err(e) => Outcome::Err(format!("cannot store the result: {e}")),
                },
                Err(e) => Outcome::Err(e.clone()),
            };
            let record = CacheRecord {
                op: O::ID.to_string(),
                key: digest,
                value: Some(want),
                job_id: job.id().to_string(),
                outcome,
                build,
                rebuild: false,
                ready,
                running: job.start_time(),
                finished: ctx.clock().now(),
            };
            // A result is shown only once its record is durable; results that finish together
            // share one flush (group commit).
            let stored = match db.record(&record) {
                Ok(()) => durable(&ctx, db.store()).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = stored {
                job.log(format_args!("Cannot record the result: {e}"));
                tracing::error!(op = O::ID, key = %digest, "cannot record a result: {e}");
                // Not durable, so not reported as done: it is built again next time.
                result = Err(format!("cannot record the result: {e}"));
            }
        }
        job.complete();
        ctx.update(move |_g| Self::completed(&this, result, want, auto_cancelled));
    }

    /// On the engine thread: take in a job's result, then move on toward what is wanted.
    fn completed(
        this: &Arc<Mutex<Self>>,
        result: Result2<O::Outcome>,
        made: Digest,
        auto_cancelled: bool,
    ) {
        {
            let mut i = lock(this);
            let latched = match &i.state {
                State::Active { latched, .. } => latched.clone(),
                _ => None,
            };
            let wanted = i.desired.as_ref().is_some_and(|(_, want, _)| *want == made);
            let finished = i.ctx.clock().now();
            i.state = match result {
                _ if auto_cancelled => State::Retry { latched },
                Ok(v) => State::Finished {
                    outcome: Ok(v),
                    value: made,
                    finished,
                },
                Err(e) if wanted => State::Finished {
                    outcome: Err(e),
                    value: made,
                    finished,
                },
                // An error for a value nobody wants any more is not shown.
                Err(_) => State::Retry { latched },
            };
            i.publish();
            if i.users == 0 {
                let (ctx, digest) = (i.ctx.clone(), i.digest);
                drop(i);
                ctx.extension::<Registry<O>>().release_if_idle(&digest);
                return;
            }
        }
        Self::drive(this);
    }
}

fn unit_digest() -> Digest {
    Digest::of_value(&()).unwrap_or_else(|_| Digest::of_bytes(&[]))
}

fn decode<T: serde::de::DeserializeOwned>(outcome: &Outcome) -> Result<Result2<T>, String> {
    match outcome {
        Outcome::Ok(bytes) => postcard::from_bytes(bytes)
            .map(Ok)
            .map_err(|e| e.to_string()),
        Outcome::Err(e) => Ok(Err(e.clone())),
    }
}

/// Run the log rules over a failed job's log: the best match's report replaces the error.
fn explain_failure(ctx: &Context, job: &Job) -> Option<String> {
    let store = ctx.store().ok()?;
    let rules = RulesDb::open(&store).ok()?.load().ok()?;
    if rules.is_empty() {
        return None;
    }
    let log = std::fs::read_to_string(job.log_path()).ok()?;
    let mut lines = Vec::new();
    let report = rules.analyse_with(&log, |line| lines.push(line.to_string()));
    for line in lines {
        job.log(line);
    }
    report
}

/// `N units` for the first unit with at least 5 of them, else seconds (OCaml's format).
fn pp_remaining(d: Duration) -> String {
    let s = d.as_secs_f64();
    for (unit, secs) in [
        ("years", 365.0 * 86400.0),
        ("days", 86400.0),
        ("hours", 3600.0),
        ("minutes", 60.0),
        ("seconds", 1.0),
    ] {
        let n = s / secs;
        if n >= 5.0 {
            return format!("{} {unit}", n as u64);
        }
    }
    format!("{s:.3} s")
}

/// What can be done about a job's key from outside the pipeline (the web page, the
/// control client).
pub trait JobActions: Send + Sync {
    /// The text of the key's state (`<pp> (completed)`, `<pp> (in-progress)`, ...).
    fn describe(&self) -> String;
    /// Build the key again; the new job's id, or `None` while a job is under way.
    fn rebuild(&self) -> Option<String>;
    /// Whether the key is still in memory (its actions can still act).
    fn is_live(&self) -> bool;
}

/// The actions of a job: they act on the job's key, through the instance that ran the job
/// or, if that one was let go since (released while idle and loaded again), through the
/// key's instance now.
struct InstanceActions<O: Operation> {
    instance: Weak<Mutex<Instance<O>>>,
    ctx: Weak<crate::context::Inner>,
    digest: Digest,
}

impl<O: Operation> InstanceActions<O> {
    fn live(&self) -> Option<Arc<Mutex<Instance<O>>>> {
        self.instance.upgrade().or_else(|| {
            let ctx = Context(self.ctx.upgrade()?);
            ctx.extension::<Registry<O>>().get(&self.digest)
        })
    }
}

impl<O: Operation> JobActions for InstanceActions<O> {
    fn describe(&self) -> String {
        match self.live() {
            Some(i) => lock(&i).describe(),
            None => format!("{} (no longer in memory)", O::LABEL),
        }
    }

    fn rebuild(&self) -> Option<String> {
        Instance::rebuild(&self.live()?)
    }

    fn is_live(&self) -> bool {
        self.live().is_some()
    }
}

/// The actions of each job an instance has shown, by job id.
#[derive(Default)]
pub(crate) struct ActionsByJob(pub(crate) Mutex<HashMap<String, JobEntry>>);

/// A job's actions, and the instance that ran it (to forget jobs whose instance is gone
/// without taking any other lock).
pub(crate) struct JobEntry {
    pub(crate) actions: Arc<dyn JobActions>,
    held: Weak<dyn std::any::Any + Send + Sync>,
}

fn register_actions<O: Operation>(
    ctx: &Context,
    job_id: &str,
    this: &Arc<Mutex<Instance<O>>>,
    digest: Digest,
) {
    let actions = ctx.extension::<ActionsByJob>();
    let mut map = actions.0.lock().unwrap_or_else(|e| e.into_inner());
    // Forget the jobs of keys gone from memory now and then, so the map stays small.
    if map.len() >= 64 && map.len().is_power_of_two() {
        map.retain(|_, e| e.held.strong_count() > 0);
    }
    let held: Weak<dyn std::any::Any + Send + Sync> = Arc::downgrade(this) as _;
    map.insert(
        job_id.to_string(),
        JobEntry {
            actions: Arc::new(InstanceActions {
                instance: Arc::downgrade(this),
                ctx: Arc::downgrade(&ctx.0),
                digest,
            }),
            held,
        },
    );
}

/// The one task of an engine that makes recorded results durable: it takes every request
/// waiting, flushes the database once for all of them, and answers them all (group commit).
#[derive(Default)]
pub(crate) struct Flusher(Mutex<Option<tokio::sync::mpsc::UnboundedSender<FlushRequest>>>);

type FlushRequest = tokio::sync::oneshot::Sender<Result<(), String>>;

/// Wait until everything recorded so far in `store` is durable.
async fn durable(ctx: &Context, store: &crate::store::Store) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sent = {
        let flusher = ctx.extension::<Flusher>();
        let mut slot = flusher.0.lock().unwrap_or_else(|e| e.into_inner());
        let sender = slot.get_or_insert_with(|| {
            let (requests, mut queue) = tokio::sync::mpsc::unbounded_channel::<FlushRequest>();
            let store = store.clone();
            ctx.runtime().spawn(async move {
                while let Some(first) = queue.recv().await {
                    let mut waiting = vec![first];
                    while let Ok(more) = queue.try_recv() {
                        waiting.push(more);
                    }
                    let flushed = store
                        .flush_async()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    for w in waiting {
                        let _ = w.send(flushed.clone());
                    }
                }
            });
            requests
        });
        sender.send(tx).is_ok()
    };
    if !sent {
        return Err("the flusher has stopped".to_string());
    }
    rx.await
        .unwrap_or_else(|_| Err("the flusher has stopped".to_string()))
}
