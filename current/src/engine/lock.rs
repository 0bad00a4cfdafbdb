//! The lock that keeps two engines off one state directory.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::EngineError;

/// An exclusive lock on `<state dir>/lock`, held while the engine runs (and released by
/// the system if the process dies).
pub(super) struct StateLock {
    _lock: Flock<File>,
}

impl StateLock {
    pub(super) fn acquire(state_dir: &Path) -> Result<StateLock, EngineError> {
        let io = |source| EngineError::StateDir {
            path: state_dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let path: PathBuf = state_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(StateLock { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(EngineError::StateDirInUse {
                path: state_dir.to_path_buf(),
            }),
            Err((_, errno)) => Err(io(std::io::Error::from(errno))),
        }
    }
}
