//! What the store keeps of each long-running job: its handle.
//!
//! A handle is written (and flushed) at every transition: before the backend is asked to
//! submit the job (with its unique name), when the backend has said what it started,
//! when a kill is asked for (before the backend is told), and when the job ends.

use serde::{Deserialize, Serialize};

use crate::job::{Job, Origin};
use crate::store::{KeyBuf, Record};

use super::backend::Backend;
use super::run_dir::RunDir;

/// Where a long-running job is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandleState {
    /// Its name is stored; the backend may or may not have been asked to start it.
    Submitting,
    /// The backend started it.
    Running,
    /// Its exit marker says 0.
    Succeeded,
    /// It failed, for this reason.
    Failed(String),
}

impl HandleState {
    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        matches!(self, HandleState::Succeeded | HandleState::Failed(_))
    }
}

/// The stored record of one long-running job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handle {
    /// The name of the backend that runs it.
    pub backend: String,
    /// Its unique name, given to the scheduler.
    pub name: String,
    /// Its files.
    pub run_dir: RunDir,
    /// The backend's spec (postcard).
    pub spec: Vec<u8>,
    /// What the backend said when it started it (postcard); `None` before.
    pub running: Option<Vec<u8>>,
    /// Where it is.
    pub state: HandleState,
    /// The reason of a kill asked for, if one was.
    pub kill: Option<String>,
    /// The engine job that waits for it now (the latest one, after a restart).
    pub job_id: String,
    /// The last recoverable error, while the job survives it.
    pub last_error: Option<String>,
    /// The scheduler's last word on it, for display.
    pub scheduler: Option<String>,
}

impl Handle {
    /// The running parameters, read as backend `B`'s (`None` before the job started, or
    /// when another backend runs it).
    pub fn running_as<B: Backend>(&self) -> Option<B::Running> {
        if self.backend != B::NAME {
            return None;
        }
        postcard::from_bytes(self.running.as_ref()?).ok()
    }
}

impl Record for Handle {
    const TREE: &'static str = "long-running";
    const VERSION: u16 = 1;
}

/// The key of a job's handle: its operation, key digest and build number when a cache
/// started the job (so that the same build finds the same handle after a restart), its
/// job id otherwise.
pub(crate) fn handle_key(job: &Job) -> KeyBuf {
    match job.origin() {
        Some(Origin { op, key, build }) => {
            KeyBuf::new().str("build").str(op).digest(key).u64(*build)
        }
        None => KeyBuf::new().str("job").str(job.id().as_str()),
    }
}

/// A name for the job stored under `key`, the same every time, that schedulers accept
/// (letters, digits and dashes).
pub(crate) fn unique_name(key: &KeyBuf) -> String {
    let hash = blake3::hash(key.as_bytes());
    format!("current-{}", &hash.to_hex()[..16])
}
