//! Handing a job's work to a backend, and waiting for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use crate::job::Job;

use super::backend::Backend;
use super::record::{handle_key, unique_name, Handle, HandleState};
use super::run_dir::{RunDir, Script};
use super::supervisor::{stored, Driver, Outcome, Supervisor};
use super::LongRunError;

/// What a long-running job that succeeded leaves behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// Its unique name (the scheduler's job name).
    pub name: String,
    /// Its run directory, with its stdout and stderr.
    pub run_dir: RunDir,
}

/// Run `script` on `backend` as `job`'s work, and wait for it to end; its stdout and
/// stderr are copied into the job's log as they grow.
///
/// The hand-off is idempotent: a job started by a cache is known by its operation, key
/// digest and build number, so when the same build runs again after a restart it finds
/// the stored handle and waits for the job already running (or takes the result of one
/// that ended meanwhile) instead of submitting it again. Cancelling `job` (a user's
/// cancel, a timeout, auto-cancel) kills the backend's job; an engine shutting down
/// leaves it running, to be picked up by the next engine.
///
/// Call it after [`Job::start`], so that the job's level, confirmation, pool and timeout
/// apply as to any job (a `#[primitive]` body runs after the start).
pub async fn run<B: Backend>(
    job: &Job,
    backend: &Arc<B>,
    script: &Script,
    spec: B::Spec,
) -> Result<Completed, LongRunError> {
    let ctx = job.context().ok_or(LongRunError::NoEngine)?;
    let sup = ctx.extension::<Supervisor>();
    let ours = Driver::register(&ctx, backend)?;
    let key = handle_key(job);
    let key_bytes = key.as_bytes().to_vec();

    // A job in flight (resumed at start-up, or still running from an earlier attempt).
    let mut attached = None;
    let mut found_driver = None;
    let mut waited = false;
    while let Some(stored_handle) = stored(&ctx, &key)? {
        if stored_handle.state.is_finished() {
            job.log(format_args!(
                "Long-running job {} ended while nobody waited for it",
                stored_handle.name
            ));
            return finished(job, &stored_handle);
        }
        let Some(driver) = sup.driver(&stored_handle.backend) else {
            if waited {
                return Err(LongRunError::Failed("the job's backend went away".into()));
            }
            orphan(job, &sup, stored_handle).await?;
            waited = true;
            continue;
        };
        if !driver.has(&key_bytes) {
            driver.clone().adopt(key_bytes.clone(), stored_handle);
        }
        attached = driver.attach(&key_bytes, job);
        if attached.is_none() {
            // Its stored parameters could not be read: it was failed as it was adopted.
            return match stored(&ctx, &key)? {
                Some(h) => finished(job, &h),
                None => Err(LongRunError::Failed("the job's handle disappeared".into())),
            };
        }
        found_driver = Some(driver);
        break;
    }
    let (handle, rx, driver) = match (attached, found_driver) {
        (Some((handle, rx)), Some(driver)) => {
            job.log(format_args!(
                "Re-attached to long-running job {} on {}",
                handle.name, handle.backend
            ));
            (handle, rx, driver)
        }
        _ => {
            let name = unique_name(&key);
            let run_dir = RunDir::new(ctx.state_dir().join("run").join(&name));
            run_dir
                .prepare(script)
                .map_err(|source| LongRunError::RunDir {
                    path: run_dir.path().to_path_buf(),
                    source,
                })?;
            let handle = Handle {
                backend: B::NAME.to_string(),
                name: name.clone(),
                run_dir,
                spec: postcard::to_stdvec(&spec)
                    .map_err(|e| LongRunError::Encode(e.to_string()))?,
                running: None,
                state: HandleState::Submitting,
                kill: None,
                job_id: job.id().to_string(),
                last_error: None,
                scheduler: None,
            };
            job.log(format_args!(
                "Submitting long-running job {name} to {} (run directory {})",
                B::NAME,
                handle.run_dir.path().display()
            ));
            let rx = ours
                .create(key_bytes.clone(), handle.clone(), spec, job)
                .await?;
            let driver: Arc<dyn super::supervisor::AnyDriver> = ours;
            (handle, rx, driver)
        }
    };

    // Cancelling the job kills the backend's job, unless the engine is stopping: then
    // the job goes on, and the next engine picks it up.
    let _hook = {
        let (driver, key, ctx) = (driver.clone(), key_bytes.clone(), ctx.clone());
        job.cancel_hook(move |reason| {
            if ctx.is_shutting_down() {
                return;
            }
            driver.cancel(key, reason.to_string());
        })
    };
    let outcome = follow(job, &handle.run_dir, rx).await;
    match outcome {
        Ok(()) => Ok(Completed {
            name: handle.name,
            run_dir: handle.run_dir,
        }),
        Err(reason) => Err(LongRunError::Failed(reason)),
    }
}

/// The result of a handle that has ended.
fn finished(job: &Job, handle: &Handle) -> Result<Completed, LongRunError> {
    match &handle.state {
        HandleState::Succeeded => {
            job.log("It succeeded");
            Ok(Completed {
                name: handle.name.clone(),
                run_dir: handle.run_dir.clone(),
            })
        }
        HandleState::Failed(reason) => Err(LongRunError::Failed(reason.clone())),
        HandleState::Submitting | HandleState::Running => {
            Err(LongRunError::Failed("the job has not ended".into()))
        }
    }
}

/// A job stored with a backend this program does not have: it stays alive, shown on
/// its job page, until it is cancelled (an error) or the backend is registered (`Ok`:
/// look again).
async fn orphan(job: &Job, sup: &Supervisor, mut handle: Handle) -> Result<(), LongRunError> {
    let msg = format!(
        "Long-running job {} was started by the backend {:?}, which this program does not have; \
         waiting for a program that has it",
        handle.name, handle.backend
    );
    job.log(&msg);
    tracing::warn!(job = %job.id(), "{msg}");
    let backend = handle.backend.clone();
    handle.job_id = job.id().to_string();
    handle.last_error = Some(format!("the backend {backend:?} is not registered"));
    let mut registrations = sup.registrations();
    sup.add_orphan(handle);
    let outcome = loop {
        if sup.driver(&backend).is_some() {
            job.log(format_args!("The backend {backend:?} is registered now"));
            break Ok(());
        }
        tokio::select! {
            reason = job.until_cancelled() => break Err(LongRunError::Failed(reason)),
            _ = registrations.changed() => {}
        }
    };
    sup.remove_orphan(job.id().as_str());
    outcome
}

/// Copy the job's stdout and stderr into its log as they grow, until it ends.
async fn follow(job: &Job, run_dir: &RunDir, mut rx: watch::Receiver<Option<Outcome>>) -> Outcome {
    let mut outputs = [Output::new(run_dir.stdout()), Output::new(run_dir.stderr())];
    let mut delay = Duration::from_millis(100);
    loop {
        let done = rx.borrow_and_update().clone();
        let mut grew = false;
        for out in &mut outputs {
            grew |= out.forward(job, done.is_some()).await;
        }
        if let Some(outcome) = done {
            return outcome;
        }
        delay = if grew {
            Duration::from_millis(100)
        } else {
            (delay * 2).min(Duration::from_secs(2))
        };
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return Err("the engine stopped watching the job".into());
                }
            }
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// One output file being copied into a log, whole lines at a time.
struct Output {
    path: std::path::PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Output {
    fn new(path: std::path::PathBuf) -> Output {
        Output {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Copy what was added since last time (every byte, on the `last` call); whether
    /// anything was.
    async fn forward(&mut self, job: &Job, last: bool) -> bool {
        let mut added = Vec::new();
        if let Ok(mut file) = tokio::fs::File::open(&self.path).await {
            if file
                .seek(std::io::SeekFrom::Start(self.offset))
                .await
                .is_ok()
            {
                let _ = file.read_to_end(&mut added).await;
            }
        }
        self.offset += added.len() as u64;
        self.partial.extend_from_slice(&added);
        let cut = if last {
            self.partial.len()
        } else {
            self.partial
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        if cut > 0 {
            let mut lines: Vec<u8> = self.partial.drain(..cut).collect();
            if lines.last() != Some(&b'\n') {
                lines.push(b'\n');
            }
            job.write(&lines);
        }
        !added.is_empty()
    }
}
