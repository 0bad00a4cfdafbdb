//! Slurm's job states, and what each means for the engine.

use std::fmt;

use crate::long_running::scheduler::{Failure, SchedulerState};

/// A job state of Slurm, as `squeue` (`%T`, `State`; `%t`, `StateCompact`) and `sacct`
/// (`State`) print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlurmState {
    /// `PENDING` (`PD`): waiting for resources, a dependency, a begin time, a release.
    Pending,
    /// `CONFIGURING` (`CF`): allocated, waiting for its nodes to be ready.
    Configuring,
    /// `REQUEUED` (`RQ`): being put back in the queue.
    Requeued,
    /// `REQUEUE_HOLD` (`RH`): requeued and held.
    RequeueHold,
    /// `REQUEUE_FED` (`RF`): requeued by a federation.
    RequeueFed,
    /// `RESV_DEL_HOLD` (`RD`): held because its reservation was deleted.
    ResvDelHold,
    /// `PREEMPTED` (`PR`): preempted; requeued when the cluster allows it.
    Preempted,
    /// `RUNNING` (`R`).
    Running,
    /// `COMPLETING` (`CG`): ended, some processes still being cleaned up.
    Completing,
    /// `STAGE_OUT` (`SO`): staging out data (burst buffers).
    StageOut,
    /// `SIGNALING` (`SI`): being signalled.
    Signaling,
    /// `RESIZING` (`RS`): changing size.
    Resizing,
    /// `SUSPENDED` (`S`): suspended by an administrator or a preemption.
    Suspended,
    /// `STOPPED` (`ST`): stopped with `SIGSTOP`, still holding its resources.
    Stopped,
    /// `COMPLETED` (`CD`): every process exited with status 0.
    Completed,
    /// `FAILED` (`F`): a non-zero exit code or another failure.
    Failed,
    /// `TIMEOUT` (`TO`): killed at its time limit.
    Timeout,
    /// `OUT_OF_MEMORY` (`OOM`): killed above its memory limit.
    OutOfMemory,
    /// `NODE_FAIL` (`NF`): a node it ran on failed.
    NodeFail,
    /// `BOOT_FAIL` (`BF`): a node failed to boot.
    BootFail,
    /// `CANCELLED` (`CA`): cancelled by a user or an administrator (`sacct` says who:
    /// `CANCELLED by 1000`).
    Cancelled,
    /// `DEADLINE` (`DL`): its deadline passed.
    Deadline,
    /// `REVOKED` (`RV`): revoked by a federation (it runs on another cluster).
    Revoked,
    /// `SPECIAL_EXIT` (`SE`): requeued in a special state after a job-defined exit
    /// value.
    SpecialExit,
}

/// Every state with its long name and its short code.
const STATES: [(SlurmState, &str, &str); 24] = [
    (SlurmState::Pending, "PENDING", "PD"),
    (SlurmState::Configuring, "CONFIGURING", "CF"),
    (SlurmState::Requeued, "REQUEUED", "RQ"),
    (SlurmState::RequeueHold, "REQUEUE_HOLD", "RH"),
    (SlurmState::RequeueFed, "REQUEUE_FED", "RF"),
    (SlurmState::ResvDelHold, "RESV_DEL_HOLD", "RD"),
    (SlurmState::Preempted, "PREEMPTED", "PR"),
    (SlurmState::Running, "RUNNING", "R"),
    (SlurmState::Completing, "COMPLETING", "CG"),
    (SlurmState::StageOut, "STAGE_OUT", "SO"),
    (SlurmState::Signaling, "SIGNALING", "SI"),
    (SlurmState::Resizing, "RESIZING", "RS"),
    (SlurmState::Suspended, "SUSPENDED", "S"),
    (SlurmState::Stopped, "STOPPED", "ST"),
    (SlurmState::Completed, "COMPLETED", "CD"),
    (SlurmState::Failed, "FAILED", "F"),
    (SlurmState::Timeout, "TIMEOUT", "TO"),
    (SlurmState::OutOfMemory, "OUT_OF_MEMORY", "OOM"),
    (SlurmState::NodeFail, "NODE_FAIL", "NF"),
    (SlurmState::BootFail, "BOOT_FAIL", "BF"),
    (SlurmState::Cancelled, "CANCELLED", "CA"),
    (SlurmState::Deadline, "DEADLINE", "DL"),
    (SlurmState::Revoked, "REVOKED", "RV"),
    (SlurmState::SpecialExit, "SPECIAL_EXIT", "SE"),
];

impl SlurmState {
    /// Every state Slurm (22.05 to 24.x) documents for jobs.
    pub fn all() -> impl Iterator<Item = SlurmState> {
        STATES.iter().map(|(s, _, _)| *s)
    }

    /// The state named by `word`: a long name (`CANCELLED`) or a short code (`CA`), in
    /// any case. `None` for anything else, including a truncated name (`CANCELLED+`,
    /// see [`classify`]).
    pub fn from_word(word: &str) -> Option<SlurmState> {
        STATES
            .iter()
            .find(|(_, long, short)| {
                word.eq_ignore_ascii_case(long) || word.eq_ignore_ascii_case(short)
            })
            .map(|(s, _, _)| *s)
    }

    /// Its long name, as `squeue --Format=State` and `sacct` print it.
    pub fn long_name(self) -> &'static str {
        STATES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("", |(_, long, _)| long)
    }

    /// Its short code, as `squeue --Format=StateCompact` prints it.
    pub fn short_code(self) -> &'static str {
        STATES
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("", |(_, _, short)| short)
    }

    /// What the state means for the engine (the table of the design notes, C4):
    ///
    /// | Slurm | [`SchedulerState`] |
    /// |---|---|
    /// | `PENDING`, `CONFIGURING`, `REQUEUED`, `REQUEUE_HOLD`, `REQUEUE_FED`, `RESV_DEL_HOLD`, `PREEMPTED` | `Queued` |
    /// | `RUNNING`, `COMPLETING`, `STAGE_OUT`, `SIGNALING`, `RESIZING`, `SUSPENDED`, `STOPPED` | `Running` |
    /// | `COMPLETED` | `Completed` |
    /// | `FAILED` | `Failed(ExitCode(..))`, from `exit` (see below) |
    /// | `TIMEOUT` | `Failed(Timeout)` |
    /// | `OUT_OF_MEMORY` | `Failed(OutOfMemory)` |
    /// | `NODE_FAIL`, `BOOT_FAIL` | `Failed(NodeFail)` |
    /// | `CANCELLED` | `Failed(Cancelled { by })` |
    /// | `DEADLINE`, `REVOKED`, `SPECIAL_EXIT` | `Failed(Other(long name))` |
    ///
    /// A preempted job waits: it is requeued when the cluster allows it, and when it is
    /// not, the exit marker (or its absence after the grace period) decides. A
    /// suspended or stopped job has not failed.
    ///
    /// `FAILED` carries `exit`'s code when it is not 0; a job killed by signal `n`
    /// (Slurm's `0:n`) gets `128 + n`, as a shell reports it; `0:0` gives no code.
    /// `by` is who cancelled a cancelled job (`sacct`'s `CANCELLED by <uid>`).
    pub fn scheduler_state(self, exit: Option<ExitStatus>, by: Option<&str>) -> SchedulerState {
        use SlurmState::*;
        match self {
            Pending | Configuring | Requeued | RequeueHold | RequeueFed | ResvDelHold
            | Preempted => SchedulerState::Queued,
            Running | Completing | StageOut | Signaling | Resizing | Suspended | Stopped => {
                SchedulerState::Running
            }
            Completed => SchedulerState::Completed,
            Failed => {
                SchedulerState::Failed(Failure::ExitCode(exit.and_then(|e| e.code_or_signal())))
            }
            Timeout => SchedulerState::Failed(Failure::Timeout),
            OutOfMemory => SchedulerState::Failed(Failure::OutOfMemory),
            NodeFail | BootFail => SchedulerState::Failed(Failure::NodeFail),
            Cancelled => SchedulerState::Failed(Failure::Cancelled {
                by: by.map(str::to_string),
            }),
            Deadline | Revoked | SpecialExit => {
                SchedulerState::Failed(Failure::Other(self.long_name().to_string()))
            }
        }
    }
}

impl fmt::Display for SlurmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.long_name())
    }
}

/// How a job's processes ended, as Slurm reports it: `sacct`'s `ExitCode` `code:signal`,
/// or the wait status of `squeue --Format=exit_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExitStatus {
    /// The exit code of the batch script (0 when it was killed by a signal).
    pub code: i32,
    /// The signal that killed it, 0 if none. Slurm reports 125 for a job killed by the
    /// out-of-memory handler.
    pub signal: i32,
}

impl ExitStatus {
    /// `sacct`'s `ExitCode` field: `3:0`, `0:15`. `None` when it is not two numbers.
    pub fn parse_pair(field: &str) -> Option<ExitStatus> {
        let (code, signal) = field.trim().split_once(':')?;
        Some(ExitStatus {
            code: code.parse().ok()?,
            signal: signal.parse().ok()?,
        })
    }

    /// `squeue --Format=exit_code`: a raw wait status (`768` is exit code 3, `15` is
    /// signal 15). `None` when it is not a number (or is negative).
    pub fn parse_wait_status(field: &str) -> Option<ExitStatus> {
        let status: u32 = field.trim().parse().ok()?;
        Some(ExitStatus {
            code: i32::try_from((status >> 8) & 0xff).ok()?,
            signal: i32::try_from(status & 0x7f).ok()?,
        })
    }

    /// The exit code a shell would report: the code when it is not 0, else `128 +
    /// signal` when a signal killed it, else `None` (success, or nothing known).
    pub fn code_or_signal(self) -> Option<i32> {
        if self.code != 0 {
            Some(self.code)
        } else if self.signal != 0 {
            Some(128 + self.signal)
        } else {
            None
        }
    }
}

impl fmt::Display for ExitStatus {
    /// `code:signal`, as `sacct` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code, self.signal)
    }
}

/// The engine's reading of a state field, in any of the forms Slurm prints:
///
/// - a long name or a short code (`RUNNING`, `R`);
/// - followed by more words: `sacct`'s `CANCELLED by 1000` (matched by its first word;
///   `1000` becomes [`Failure::Cancelled`]'s `by`);
/// - truncated by a fixed-width column, marked by a final `+` (`CANCELLED+`,
///   `OUT_OF_ME+`): the states whose long names start with the rest; when they all mean
///   the same for the engine (`REQUEUE+` is queued whichever it is), that;
///
/// and [`SchedulerState::Unrecognised`] (holding the whole field) otherwise. Returns
/// the Slurm state too when it is known exactly.
pub fn classify(raw: &str, exit: Option<ExitStatus>) -> (Option<SlurmState>, SchedulerState) {
    let raw = raw.trim();
    let mut words = raw.split_whitespace();
    let first = words.next().unwrap_or("");
    // `CANCELLED by 1000`: who cancelled it is the word after `by`.
    let by = match (words.next(), words.next()) {
        (Some(b), Some(who)) if b.eq_ignore_ascii_case("by") => Some(who),
        _ => None,
    };
    if let Some(state) = SlurmState::from_word(first) {
        return (Some(state), state.scheduler_state(exit, by));
    }
    if let Some(prefix) = first.strip_suffix('+').filter(|p| !p.is_empty()) {
        let mut candidates = STATES
            .iter()
            .filter(|(_, long, _)| {
                long.get(..prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
            })
            .map(|(s, _, _)| *s);
        if let Some(first_match) = candidates.next() {
            let meaning = first_match.scheduler_state(exit, by);
            let mut unique = true;
            let mut same = true;
            for other in candidates {
                unique = false;
                same &= other.scheduler_state(exit, by) == meaning;
            }
            if same {
                return (unique.then_some(first_match), meaning);
            }
        }
    }
    (None, SchedulerState::Unrecognised(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meaning(raw: &str) -> SchedulerState {
        classify(raw, None).1
    }

    #[test]
    fn slurm_every_state_has_a_long_name_and_a_short_code_that_read_back() {
        assert_eq!(SlurmState::all().count(), 24);
        for state in SlurmState::all() {
            assert_eq!(SlurmState::from_word(state.long_name()), Some(state));
            assert_eq!(SlurmState::from_word(state.short_code()), Some(state));
            assert_eq!(
                SlurmState::from_word(&state.long_name().to_lowercase()),
                Some(state)
            );
            assert_eq!(state.to_string(), state.long_name());
        }
    }

    #[test]
    fn slurm_state_table_of_the_design_notes() {
        use SchedulerState::*;
        let queued = [
            "PENDING",
            "CONFIGURING",
            "REQUEUED",
            "REQUEUE_HOLD",
            "REQUEUE_FED",
        ];
        for s in queued.iter().chain(&["RESV_DEL_HOLD", "PREEMPTED"]) {
            assert_eq!(meaning(s), Queued, "{s}");
        }
        for s in ["PD", "CF", "RQ", "RH", "RF", "RD", "PR"] {
            assert_eq!(meaning(s), Queued, "{s}");
        }
        for s in [
            "RUNNING",
            "COMPLETING",
            "STAGE_OUT",
            "SIGNALING",
            "RESIZING",
            "SUSPENDED",
            "STOPPED",
            "R",
            "CG",
            "SO",
            "SI",
            "RS",
            "S",
            "ST",
        ] {
            assert_eq!(meaning(s), Running, "{s}");
        }
        assert_eq!(meaning("COMPLETED"), Completed);
        assert_eq!(meaning("CD"), Completed);
        for (s, f) in [
            ("TIMEOUT", Failure::Timeout),
            ("TO", Failure::Timeout),
            ("OUT_OF_MEMORY", Failure::OutOfMemory),
            ("OOM", Failure::OutOfMemory),
            ("NODE_FAIL", Failure::NodeFail),
            ("NF", Failure::NodeFail),
            ("BOOT_FAIL", Failure::NodeFail),
            ("BF", Failure::NodeFail),
            ("CANCELLED", Failure::Cancelled { by: None }),
            ("CA", Failure::Cancelled { by: None }),
            ("DEADLINE", Failure::Other("DEADLINE".into())),
            ("DL", Failure::Other("DEADLINE".into())),
            ("REVOKED", Failure::Other("REVOKED".into())),
            ("RV", Failure::Other("REVOKED".into())),
            ("SPECIAL_EXIT", Failure::Other("SPECIAL_EXIT".into())),
            ("SE", Failure::Other("SPECIAL_EXIT".into())),
            ("FAILED", Failure::ExitCode(None)),
            ("F", Failure::ExitCode(None)),
        ] {
            assert_eq!(meaning(s), Failed(f), "{s}");
        }
    }

    #[test]
    fn slurm_failed_takes_its_exit_code_or_signal() {
        let failed = |code, signal| classify("FAILED", Some(ExitStatus { code, signal })).1;
        assert_eq!(
            failed(3, 0),
            SchedulerState::Failed(Failure::ExitCode(Some(3)))
        );
        assert_eq!(
            failed(0, 9),
            SchedulerState::Failed(Failure::ExitCode(Some(137)))
        );
        assert_eq!(
            failed(0, 0),
            SchedulerState::Failed(Failure::ExitCode(None))
        );
    }

    #[test]
    fn slurm_cancelled_by_a_user_is_matched_by_its_first_word() {
        assert_eq!(
            classify("CANCELLED by 0", None),
            (
                Some(SlurmState::Cancelled),
                SchedulerState::Failed(Failure::Cancelled {
                    by: Some("0".into())
                })
            )
        );
        assert_eq!(
            meaning("  CANCELLED by alice  "),
            SchedulerState::Failed(Failure::Cancelled {
                by: Some("alice".into())
            })
        );
        assert_eq!(
            meaning("CANCELLED by"),
            SchedulerState::Failed(Failure::Cancelled { by: None })
        );
    }

    #[test]
    fn slurm_truncated_states_are_matched_by_their_prefix() {
        assert_eq!(
            classify("CANCELLED+", None),
            (
                Some(SlurmState::Cancelled),
                SchedulerState::Failed(Failure::Cancelled { by: None })
            )
        );
        assert_eq!(
            classify("OUT_OF_ME+", None),
            (
                Some(SlurmState::OutOfMemory),
                SchedulerState::Failed(Failure::OutOfMemory)
            )
        );
        // REQUEUED, REQUEUE_HOLD and REQUEUE_FED: all queued.
        assert_eq!(classify("REQUEUE+", None), (None, SchedulerState::Queued));
        // COMPLETED or COMPLETING: they differ, so it is not guessed.
        assert_eq!(
            classify("COMPL+", None),
            (None, SchedulerState::Unrecognised("COMPL+".into()))
        );
        assert_eq!(meaning("+"), SchedulerState::Unrecognised("+".into()));
        assert_eq!(
            meaning("NOSUCH+"),
            SchedulerState::Unrecognised("NOSUCH+".into())
        );
    }

    #[test]
    fn slurm_unknown_states_are_kept_verbatim() {
        assert_eq!(
            meaning("ERROR"),
            SchedulerState::Unrecognised("ERROR".into())
        );
        assert_eq!(meaning(""), SchedulerState::Unrecognised(String::new()));
        assert_eq!(meaning("é+"), SchedulerState::Unrecognised("é+".into()));
    }

    #[test]
    fn slurm_exit_status_fields() {
        let e = |code, signal| Some(ExitStatus { code, signal });
        assert_eq!(ExitStatus::parse_pair("3:0"), e(3, 0));
        assert_eq!(ExitStatus::parse_pair("0:125"), e(0, 125));
        assert_eq!(ExitStatus::parse_pair("3"), None);
        assert_eq!(ExitStatus::parse_pair("a:b"), None);
        assert_eq!(ExitStatus::parse_wait_status("768"), e(3, 0));
        assert_eq!(ExitStatus::parse_wait_status("15"), e(0, 15));
        // 253: signal 125 (Slurm's out-of-memory code) with the core-dump bit
        assert_eq!(ExitStatus::parse_wait_status("253"), e(0, 125));
        assert_eq!(ExitStatus::parse_wait_status("-2"), None);
        assert_eq!(ExitStatus::parse_wait_status("N/A"), None);
        assert_eq!(e(3, 0).map(|x| x.to_string()), Some("3:0".to_string()));
    }
}
