//! How a job's exit marker and its scheduler's view decide whether it has ended: what
//! Ketrew's `update` does for every backend.

use std::time::Duration;

use super::scheduler::{Failure, SchedulerState};

/// What a poll cycle concludes about one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Still running (or waiting for its marker).
    Wait,
    /// Its marker says 0.
    Succeeded,
    /// It failed, for this reason.
    Failed(String),
}

/// What is known of one job in a poll cycle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Evidence<'a> {
    /// The exit code in its marker, if written.
    pub marker: Option<i32>,
    /// What the scheduler says (`None`: it does not know the job; `Some(None)` is not
    /// used: a job whose status was not asked for has no evidence of that kind).
    pub state: Option<&'a SchedulerState>,
    /// The reason of a kill asked for.
    pub kill: Option<&'a str>,
    /// How long the job has looked over: the scheduler said it ended (or did not know
    /// it), or its marker appeared.
    pub ended_for: Option<Duration>,
    /// How long to wait after that for the marker, or for the scheduler's reason of a
    /// failure.
    pub grace: Duration,
}

/// Whether the scheduler says the job is over (or does not know it).
pub(crate) fn scheduler_says_ended(state: Option<&SchedulerState>) -> bool {
    match state {
        None => true,
        Some(s) => s.is_finished(),
    }
}

/// Whether the grace period is over.
fn waited(e: Evidence<'_>) -> bool {
    e.ended_for.is_some_and(|waited| waited >= e.grace)
}

/// The decision. The marker decides when there is one; without one, a job the
/// scheduler says has ended gets `grace` to write it, then fails with the scheduler's
/// reason (or as lost).
pub(crate) fn decide(e: Evidence<'_>) -> Decision {
    let scheduler_failure = match e.state {
        Some(SchedulerState::Failed(f)) => Some(f),
        _ => None,
    };
    match e.marker {
        Some(0) => return Decision::Succeeded,
        Some(_) if e.kill.is_none() && !scheduler_says_ended(e.state) && !waited(e) => {
            // Give the scheduler a moment to say why (a time limit, a node failure).
            return Decision::Wait;
        }
        Some(code) => {
            return Decision::Failed(match (e.kill, scheduler_failure) {
                (Some(reason), _) => format!("{reason} (exit code {code})"),
                (None, Some(f)) if !matches!(f, Failure::ExitCode(_)) => {
                    format!("{f} (exit code {code})")
                }
                _ => format!("exit code {code}"),
            })
        }
        None => {}
    }
    if !scheduler_says_ended(e.state) {
        return Decision::Wait;
    }
    if let Some(reason) = e.kill {
        return Decision::Failed(reason.to_string());
    }
    if !waited(e) {
        return Decision::Wait;
    }
    Decision::Failed(match (e.state, scheduler_failure) {
        (_, Some(f)) => f.to_string(),
        (Some(_), None) => {
            "the scheduler says the job completed, but it wrote no exit marker".into()
        }
        (None, None) => {
            "lost: the scheduler does not know the job, and it wrote no exit marker".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(marker: Option<i32>, state: Option<&SchedulerState>) -> Evidence<'_> {
        Evidence {
            marker,
            state,
            kill: None,
            ended_for: None,
            grace: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_marker_decides() {
        let running = SchedulerState::Running;
        let timeout = SchedulerState::Failed(Failure::Timeout);
        assert_eq!(
            decide(evidence(Some(0), Some(&timeout))),
            Decision::Succeeded
        );
        assert_eq!(
            decide(evidence(Some(3), Some(&running))),
            Decision::Wait,
            "the scheduler may yet say why"
        );
        let mut later = evidence(Some(3), Some(&running));
        later.ended_for = Some(Duration::from_secs(10));
        assert_eq!(decide(later), Decision::Failed("exit code 3".into()));
        let completed = SchedulerState::Completed;
        assert_eq!(
            decide(evidence(Some(3), Some(&completed))),
            Decision::Failed("exit code 3".into())
        );
        assert_eq!(
            decide(evidence(Some(137), Some(&timeout))),
            Decision::Failed("time limit reached (exit code 137)".into())
        );
        let failed = SchedulerState::Failed(Failure::ExitCode(Some(3)));
        assert_eq!(
            decide(evidence(Some(3), Some(&failed))),
            Decision::Failed("exit code 3".into())
        );
    }

    #[test]
    fn without_a_marker_an_ended_job_gets_a_grace_period() {
        let completed = SchedulerState::Completed;
        let queued = SchedulerState::Queued;
        assert_eq!(decide(evidence(None, Some(&queued))), Decision::Wait);
        let mut e = evidence(None, Some(&completed));
        assert_eq!(decide(e), Decision::Wait);
        e.ended_for = Some(Duration::from_secs(9));
        assert_eq!(decide(e), Decision::Wait);
        e.ended_for = Some(Duration::from_secs(10));
        assert_eq!(
            decide(e),
            Decision::Failed(
                "the scheduler says the job completed, but it wrote no exit marker".into()
            )
        );
        let mut lost = evidence(None, None);
        lost.ended_for = Some(Duration::from_secs(60));
        assert_eq!(
            decide(lost),
            Decision::Failed(
                "lost: the scheduler does not know the job, and it wrote no exit marker".into()
            )
        );
        let oom = SchedulerState::Failed(Failure::OutOfMemory);
        let mut e = evidence(None, Some(&oom));
        e.ended_for = Some(Duration::from_secs(10));
        assert_eq!(decide(e), Decision::Failed("out of memory".into()));
    }

    #[test]
    fn a_killed_job_fails_with_the_kill_reason_at_once() {
        let cancelled = SchedulerState::Failed(Failure::Cancelled {
            by: Some("0".into()),
        });
        let mut e = evidence(None, Some(&cancelled));
        e.kill = Some("Cancelled by user");
        assert_eq!(decide(e), Decision::Failed("Cancelled by user".into()));
        let running = SchedulerState::Running;
        e.state = Some(&running);
        assert_eq!(decide(e), Decision::Wait, "still dying");
    }
}
