//! Jobs as the pages and the API see them: found by a validated id, their status, their
//! actions and their logs.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;

use crate::cache::{self, JobActions};
use crate::job::{Job, JobId, Phase};

use super::Site;

/// The most of a log read at once.
pub(crate) const CHUNK: usize = 100 * 1024;

/// A job of the engine's state directory.
pub(crate) struct Found {
    pub(crate) id: JobId,
    pub(crate) log: PathBuf,
    /// Set while the job is open (not complete).
    pub(crate) running: Option<Job>,
    pub(crate) actions: Option<Arc<dyn JobActions>>,
}

/// A refusal: its status and its message.
pub(crate) type Refusal = (StatusCode, String);

/// Find job `date/name`: a bad id is 400 before any path is made; an unknown one 404.
pub(crate) fn find(site: &Site, date: &str, name: &str) -> Result<Found, Refusal> {
    let text = format!("{date}/{name}");
    let id: JobId = text
        .parse()
        .map_err(|e: crate::job::InvalidJobId| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let ctx = site.view.context();
    let log = id.log_path(ctx.state_dir());
    if !log.is_file() {
        return Err((StatusCode::NOT_FOUND, format!("No such job {id}")));
    }
    let running = ctx.lookup_running(&id);
    let actions = cache::job_actions(ctx, id.as_str());
    Ok(Found {
        id,
        log,
        running,
        actions,
    })
}

impl Found {
    pub(crate) fn can_cancel(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|j| j.cancelled().is_none() && j.phase() != Phase::Complete)
    }

    /// Only a job that has ended can be rebuilt (OCurrent: an active key has no rebuild).
    pub(crate) fn can_rebuild(&self) -> bool {
        let active = self
            .running
            .as_ref()
            .is_some_and(|j| j.phase() != Phase::Complete);
        !active && self.actions.as_ref().is_some_and(|a| a.is_live())
    }

    pub(crate) fn waiting_for_confirmation(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|j| j.is_waiting_for_confirmation())
    }

    pub(crate) fn description(&self) -> String {
        match &self.actions {
            Some(a) => a.describe(),
            None => self.id.to_string(),
        }
    }

    pub(crate) fn cancel(&self) -> Result<(), Refusal> {
        match &self.running {
            Some(job) if self.can_cancel() => {
                job.cancel("Cancelled by user");
                Ok(())
            }
            _ => Err((
                StatusCode::BAD_REQUEST,
                "Job does not support cancel (already finished?)".into(),
            )),
        }
    }

    /// The new job's id.
    pub(crate) fn rebuild(&self) -> Result<String, Refusal> {
        let refused = || {
            (
                StatusCode::BAD_REQUEST,
                "Job does not support rebuild".to_string(),
            )
        };
        let actions = self
            .actions
            .as_ref()
            .filter(|a| a.is_live())
            .ok_or_else(refused)?;
        actions.rebuild().ok_or_else(|| {
            (
                StatusCode::CONFLICT,
                "A build of this key is already under way".to_string(),
            )
        })
    }

    pub(crate) fn approve(&self) -> Result<(), Refusal> {
        match &self.running {
            Some(job) if job.is_waiting_for_confirmation() => {
                job.approve_early_start();
                Ok(())
            }
            _ => Err((
                StatusCode::BAD_REQUEST,
                "Job is not awaiting confirmation".into(),
            )),
        }
    }

    /// Up to [`CHUNK`] bytes of the log from `start` (negative: that many bytes from the
    /// end), and the offset after them.
    pub(crate) fn read(&self, start: i64) -> Result<(Vec<u8>, u64), Refusal> {
        read_log(&self.log, start).map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the log of {}: {e}", self.id),
            )
        })
    }
}

pub(crate) fn read_log(path: &std::path::Path, start: i64) -> std::io::Result<(Vec<u8>, u64)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let from = if start < 0 {
        len.saturating_sub(start.unsigned_abs())
    } else {
        (start as u64).min(len)
    };
    file.seek(SeekFrom::Start(from))?;
    let mut data = Vec::with_capacity(CHUNK.min((len - from) as usize));
    file.take(CHUNK as u64).read_to_end(&mut data)?;
    let next = from + data.len() as u64;
    Ok((data, next))
}
