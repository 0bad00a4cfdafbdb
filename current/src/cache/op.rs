//! The operations the cache runs: OCaml's `Current_cache` signatures.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::digest::{self, Digest, EncodeError};
use crate::job::Job;
use crate::level::Level;

/// An operation whose results the cache keeps (OCaml's `GENERIC`): for a key, bring the
/// world to a desired value and report the outcome. The operation value itself is the
/// *context*: what it needs to run but what is not part of the key (a tool's path, a
/// client, credentials).
///
/// A build is an operation with no value ([`Builder`]); a publish step takes the value to
/// publish (OCaml's `PUBLISHER`).
pub trait Operation: Send + Sync + 'static {
    /// The operation's id: its name in the database. Two operations must not share one.
    const ID: &'static str;
    /// What its jobs and diagram boxes are called (by default, its id).
    const LABEL: &'static str = Self::ID;
    /// Bumping it gives every key a new digest: earlier results are not used again.
    const VERSION: u32 = 1;

    /// What identifies a result.
    type Key: Serialize + Clone + Send + Sync + 'static;
    /// What the key should be brought to (`()` for builds).
    type Value: Serialize + Clone + Send + Sync + 'static;
    /// What running the operation produces; stored in the database.
    type Outcome: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The key's digest: by default blake3 of its canonical encoding with [`Self::ID`] and
    /// [`Self::VERSION`] (see [`digest::key_digest`]). Override it to leave parts of the
    /// key out (a work directory, say).
    fn key_digest(&self, key: &Self::Key) -> Result<Digest, EncodeError> {
        digest::key_digest(Self::ID, Self::VERSION, key)
    }

    /// Cancel a running job when the key is wanted at another value instead of waiting for
    /// it to finish.
    fn auto_cancel(&self) -> bool {
        false
    }

    /// Keep reporting the previous outcome while a new value is being processed (the
    /// diagram shows it with the running gradient).
    fn latched(&self) -> bool {
        false
    }

    /// How risky running it is: jobs at or above the confirmation threshold wait.
    fn level(&self, _key: &Self::Key, _value: &Self::Value) -> Level {
        Level::Average
    }

    /// The text that describes a job (`New job: <pp>`) and its actions, and labels the
    /// step's box in diagrams once its key is known.
    fn pp(&self, key: &Self::Key, value: &Self::Value) -> String;

    /// Do it. The job must be started (`job.start(..)`) before the work: an operation that
    /// succeeds without starting its job fails with `Job.start not called!`.
    fn run(
        &self,
        job: Job,
        key: Self::Key,
        value: Self::Value,
    ) -> impl Future<Output = Result<Self::Outcome, String>> + Send;
}

/// A build (OCaml's `BUILDER`): from a key, make a value. See [`crate::cache::build`].
pub trait Builder: Send + Sync + 'static {
    /// The operation's id (see [`Operation::ID`]).
    const ID: &'static str;
    /// See [`Operation::LABEL`].
    const LABEL: &'static str = Self::ID;
    /// See [`Operation::VERSION`].
    const VERSION: u32 = 1;

    /// What identifies a result.
    type Key: Serialize + Clone + Send + Sync + 'static;
    /// What a build makes; stored in the database.
    type Value: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// See [`Operation::key_digest`].
    fn key_digest(&self, key: &Self::Key) -> Result<Digest, EncodeError> {
        digest::key_digest(Self::ID, Self::VERSION, key)
    }

    /// See [`Operation::auto_cancel`].
    fn auto_cancel(&self) -> bool {
        false
    }

    /// See [`Operation::latched`].
    fn latched(&self) -> bool {
        false
    }

    /// See [`Operation::level`].
    fn level(&self, _key: &Self::Key) -> Level {
        Level::Average
    }

    /// Describe the build of `key` (see [`Operation::pp`]).
    fn pp(&self, key: &Self::Key) -> String;

    /// Build. Start the job first (`job.start(..)`).
    fn build(
        &self,
        job: Job,
        key: Self::Key,
    ) -> impl Future<Output = Result<Self::Value, String>> + Send;
}

/// A [`Builder`] as an [`Operation`] with no value.
pub struct Build<B>(pub std::sync::Arc<B>);

impl<B: Builder> Operation for Build<B> {
    const ID: &'static str = B::ID;
    const LABEL: &'static str = B::LABEL;
    const VERSION: u32 = B::VERSION;
    type Key = B::Key;
    type Value = ();
    type Outcome = B::Value;

    fn key_digest(&self, key: &Self::Key) -> Result<Digest, EncodeError> {
        self.0.key_digest(key)
    }

    fn auto_cancel(&self) -> bool {
        self.0.auto_cancel()
    }

    fn latched(&self) -> bool {
        self.0.latched()
    }

    fn level(&self, key: &Self::Key, _value: &()) -> Level {
        self.0.level(key)
    }

    fn pp(&self, key: &Self::Key, _value: &()) -> String {
        self.0.pp(key)
    }

    fn run(
        &self,
        job: Job,
        key: Self::Key,
        _value: (),
    ) -> impl Future<Output = Result<Self::Outcome, String>> + Send {
        self.0.build(job, key)
    }
}
