//! A pipeline step that runs a job: the building block of cached steps.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};

use crate::context::Context;
use crate::incr::panic_message;
use crate::level::Level;
use crate::pool::Priority;
use crate::term::{Active, ErrorKind, Metadata, Outcome, Term};

use super::{Job, Phase, StartOptions};

/// The reason given to a job whose step the pipeline no longer needs.
pub const AUTO_CANCEL: &str = "Auto-cancelling job because it is no longer needed";

/// A step that runs `work` as a new job, labelled `label`, for each new value of `input`
/// (no cache: the cache issue's steps remember results across values and restarts).
///
/// The job is started first (waiting for confirmation if `level` needs it, and for a pool
/// slot); the step shows `WaitingForConfirmation`, `Ready` and `Running` as it goes, then
/// the outcome of `work`. The job logs `Job succeeded` or `Job failed: <message>`; a panic
/// in `work` fails the job with the panic message. When the pipeline stops needing the
/// step (its input changed, or a bind dropped it), the job is cancelled with
/// [`AUTO_CANCEL`].
///
/// Outside an engine (no [`Context::current`]) the step stays `Ready`.
#[track_caller]
pub fn step<A, B, F, Fut>(
    input: &Term<A>,
    label: impl Into<String>,
    level: Level,
    options: StartOptions,
    work: F,
) -> Term<B>
where
    A: Clone + 'static,
    B: Clone + Send + 'static,
    F: Fn(Job, A) -> Fut + 'static,
    Fut: Future<Output = Result<B, String>> + Send + 'static,
{
    let label: String = label.into();
    let location = Location::caller();
    input.primitive(label.clone(), move |g, a| {
        let Some(ctx) = Context::current() else {
            return g.constant((Err(ErrorKind::Active(Active::Ready)), None));
        };
        let job = match Job::create(&ctx, &label, Priority::Low) {
            Ok(job) => job,
            Err(e) => return g.constant((Err(ErrorKind::msg(e.to_string())), None)),
        };
        tracing::debug!(job = %job.id(), "step {label} at {location}");
        let meta = Metadata {
            job_id: Some(job.id().to_string()),
            update: None,
        };
        let state = g.var::<(Outcome<B>, Option<Metadata>)>((
            Err(ErrorKind::Active(Active::Ready)),
            Some(meta.clone()),
        ));

        // Show the job's phase until it ends.
        let mut phases = job.watch_phase();
        let (phase_ctx, phase_meta) = (ctx.clone(), meta.clone());
        ctx.runtime().spawn(async move {
            loop {
                let shown = match *phases.borrow_and_update() {
                    Phase::WaitingForConfirmation => Active::WaitingForConfirmation,
                    Phase::Running => Active::Running,
                    Phase::Created | Phase::WaitingForPool => Active::Ready,
                    Phase::Complete => return,
                };
                let meta = phase_meta.clone();
                let updated = phase_ctx.update(move |g| {
                    // Only while the job is still under way: the outcome may already be in.
                    let still_active = matches!(
                        g.observe(&state.changeable()),
                        Ok((Err(ErrorKind::Active(_)), _))
                    );
                    if still_active {
                        let _ = g.change(&state, (Err(ErrorKind::Active(shown)), Some(meta)));
                    }
                });
                if !updated || phases.changed().await.is_err() {
                    return;
                }
            }
        });

        let run = match catch_unwind(AssertUnwindSafe(|| work(job.clone(), a))) {
            Ok(run) => run,
            Err(panic) => {
                let msg = panic_message(panic.as_ref());
                job.log(format_args!("Job failed: {msg}"));
                job.complete();
                return g.constant((Err(ErrorKind::msg(msg)), Some(meta)));
            }
        };
        let (run_ctx, run_job, options) = (ctx.clone(), job.clone(), options.clone());
        ctx.runtime().spawn(async move {
            let outcome = match run_job.start(level, options).await {
                Err(e) => Err(e.to_string()),
                Ok(()) => match tokio::spawn(run).await {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(panic_message(e.into_panic().as_ref())),
                    Err(e) => Err(e.to_string()),
                },
            };
            let outcome = match (outcome, run_job.cancelled()) {
                (Err(_), Some(reason)) => Err(format!("Cancelled: {reason}")),
                (outcome, _) => outcome,
            };
            match &outcome {
                Ok(_) => run_job.log("Job succeeded"),
                Err(e) => run_job.log(format_args!("Job failed: {e}")),
            }
            run_job.complete();
            let outcome = outcome.map_err(ErrorKind::msg);
            run_ctx.update(move |g| {
                // The step may have been discarded meanwhile: then nobody reads this any more.
                let _ = g.change(&state, (outcome, Some(meta)));
            });
        });

        let (release_ctx, release_job) = (ctx.clone(), job);
        g.on_release(move || {
            release_ctx.after_propagation(move || release_job.cancel(AUTO_CANCEL));
        });
        state.changeable()
    })
}
