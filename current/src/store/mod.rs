//! The store: the one module that opens the database (sled, at `<state dir>/db`).
//!
//! ```
//! use current::store::{KeyBuf, Record, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Build {
//!     job_id: String,
//!     ok: bool,
//! }
//!
//! impl Record for Build {
//!     const TREE: &'static str = "example-builds";
//!     const VERSION: u16 = 1;
//! }
//!
//! # let state_dir = std::env::temp_dir().join(format!("current-store-doc-{}", std::process::id()));
//! let store = Store::open(&state_dir)?;
//! let builds = store.tree::<Build>()?;
//! let key = KeyBuf::new().str("build").u64(0);
//! builds.insert(&key, &Build { job_id: "2025-01-01/120000-build-a1b2".into(), ok: true })?;
//! store.flush()?; // now it is durable
//! assert_eq!(builds.get(&key)?.map(|b| b.ok), Some(true));
//! assert_eq!(builds.scan_prefix(KeyBuf::new().str("build")).count(), 1);
//! # drop((builds, store));
//! # std::fs::remove_dir_all(&state_dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Records
//!
//! Each [`Record`] type has its own [`Tree`], named by [`Record::TREE`]. Every value is
//! a versioned envelope: a header that says what the value is and lets a damaged value
//! be told from a good one, then the record in [postcard](https://docs.rs/postcard):
//!
//! ```text
//! offset  size  field
//!      0     4  magic: b"CUR" and the envelope format, 1
//!      4     8  tree tag: the first 8 bytes of blake3(Record::TREE)
//!     12     2  record version: Record::VERSION, u16 little-endian
//!     14     4  payload length, u32 little-endian
//!     18    32  blake3(payload)
//!     50     …  payload: the record in postcard
//! ```
//!
//! Decoding checks each field in that order and names the first that is wrong
//! ([`Undecodable`]); the checksum catches a flipped bit or a torn write that postcard
//! might otherwise read as a different, valid record. A value that cannot be decoded (an
//! older version, a record of another tree, a flipped bit, a truncated value, a type
//! that changed without its version being bumped) is **a miss and a warning, never a
//! panic**: [`Tree::get`] returns `Ok(None)`, [`Tree::get_checked`] says why
//! ([`Lookup::Undecodable`]), scans skip it ([`Iter`]) or report it ([`CheckedIter`]).
//! `Err` is kept for real errors of the database (I/O, sled's own corruption checks).
//!
//! To change a record type, bump its `VERSION`: old records then miss and are rebuilt.
//!
//! # Keys
//!
//! Keys are byte strings, ordered bytewise. [`KeyBuf`] builds composite keys (strings,
//! integers, digests) that sort like their parts and scan by prefix correctly, and
//! [`KeyReader`] reads them back.
//!
//! # Durability
//!
//! A write (insert, remove, applied batch) is visible to readers at once but **durable
//! only after a [`Store::flush`] or [`Store::flush_async`] that started after it has
//! returned**. One flush covers every tree, so many writes can share one flush (group
//! commit). sled also flushes in the background every 500 ms and when the last handle
//! is dropped, but nothing should count on that: a result is reported only after the
//! flush that covers its record. A [`Batch`] is atomic (all or none of its writes
//! survive a crash); writes to different trees are not atomic together.
//!
//! # Opening
//!
//! [`Store::open`] creates `<state dir>/db`. sled 0.34 takes an exclusive `flock` on
//! `<state dir>/db/db` and refuses a second open of the same database, **from this
//! process as well as from another one**, until every handle of the first (the
//! [`Store`] and all its clones, and every [`Tree`] taken from it) is dropped; that is
//! [`StoreError::InUse`]. (The engine also locks `<state dir>/lock` before it opens the
//! store, so two engines never get this far.)
//!
//! sled's background threads may hold the database's file for a moment after its last
//! handle is dropped, so opening it again right away can find the lock still taken;
//! [`Store::open`] therefore tries a busy lock again for up to [`IN_USE_PATIENCE`]
//! before it gives up with [`StoreError::InUse`].

mod envelope;
mod key;
mod tree;

use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use envelope::Undecodable;
pub use key::{KeyBuf, KeyError, KeyReader};
pub use tree::{Batch, CheckedItem, CheckedIter, Iter, Lookup, Tree};

/// A type of record kept in the store, in a tree of its own.
///
/// ```
/// use current::store::Record;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct OpName(String);
///
/// impl Record for OpName {
///     const TREE: &'static str = "ops";
///     const VERSION: u16 = 1;
/// }
/// ```
pub trait Record: Serialize + DeserializeOwned {
    /// The name of the tree (unique among record types; not empty, not starting with
    /// `__sled__`).
    const TREE: &'static str;
    /// The version of the record's encoding. Bump it whenever the type's serialized
    /// form changes: records of another version are misses.
    const VERSION: u16;
}

/// An error of the store. Each names the database's path, and the tree and key when
/// there is one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or the database's directory could not be created.
    #[error("cannot create the store's directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The database is already open, in this process or another one.
    #[error(
        "the store {} is already open (by this process or another one): sled locks it",
        path.display()
    )]
    InUse {
        /// The database's directory.
        path: PathBuf,
    },
    /// sled could not open the database.
    #[error("cannot open the store {}: {source}", path.display())]
    Open {
        /// The database's directory.
        path: PathBuf,
        /// Why (sled's error).
        source: io::Error,
    },
    /// A tree name that sled reserves.
    #[error("store {}: invalid tree name {tree:?}", path.display())]
    TreeName {
        /// The database's directory.
        path: PathBuf,
        /// The name.
        tree: &'static str,
    },
    /// An error of the database while reading or writing a tree.
    #[error("store {}, tree {tree:?}: {source}", path.display())]
    Sled {
        /// The database's directory.
        path: PathBuf,
        /// The tree.
        tree: &'static str,
        /// sled's error (I/O, or corruption that sled itself detected).
        source: io::Error,
    },
    /// A record that cannot be encoded (its `Serialize` impl failed, or it needs
    /// something postcard does not support, such as a sequence of unknown length).
    #[error("store {}, tree {tree:?}: cannot encode the record for key \"{key}\": {message}", path.display())]
    Encode {
        /// The database's directory.
        path: PathBuf,
        /// The tree.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// postcard's message.
        message: String,
    },
    /// A record whose encoding is larger than an envelope can hold (4 GiB).
    #[error("store {}, tree {tree:?}: the record for key \"{key}\" is {len} bytes, too large", path.display())]
    TooBig {
        /// The database's directory.
        path: PathBuf,
        /// The tree.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// The length of its encoding.
        len: usize,
    },
}

/// The database of a state directory. Cloning shares it; it is `Send` and `Sync`.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: Arc<Path>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// What sled 0.34 says (as an `io::Error` of kind `Other`) when its lock is held.
const SLED_LOCKED: &str = "could not acquire lock on";

/// How long [`Store::open`] waits for a busy lock before it reports
/// [`StoreError::InUse`].
pub const IN_USE_PATIENCE: Duration = Duration::from_secs(1);

impl Store {
    /// Open (or create) the database of `state_dir`, at `<state_dir>/db`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("db");
        std::fs::create_dir_all(&path).map_err(|source| StoreError::CreateDir {
            path: path.clone(),
            source,
        })?;
        // sled's background threads can hold the database's file for a moment after
        // its last handle is dropped, so a lock that is busy is tried again for a while
        // before the store counts as in use.
        let deadline = Instant::now() + IN_USE_PATIENCE;
        let db = loop {
            match sled::Config::new().path(&path).open() {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if io.to_string().starts_with(SLED_LOCKED) => {
                    if Instant::now() >= deadline {
                        return Err(StoreError::InUse { path });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(other) => {
                    return Err(StoreError::Open {
                        path,
                        source: other.into(),
                    })
                }
            }
        };
        Ok(Store {
            db,
            path: path.into(),
        })
    }

    /// The database's directory, `<state dir>/db`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tree of the records of type `R`.
    pub fn tree<R: Record>(&self) -> Result<Tree<R>, StoreError> {
        if R::TREE.is_empty() || R::TREE.starts_with("__sled__") {
            return Err(StoreError::TreeName {
                path: self.path.to_path_buf(),
                tree: R::TREE,
            });
        }
        let tree = self.db.open_tree(R::TREE).map_err(|e| StoreError::Sled {
            path: self.path.to_path_buf(),
            tree: R::TREE,
            source: e.into(),
        })?;
        Ok(Tree {
            tree,
            path: self.path.clone(),
            tag: envelope::tree_tag(R::TREE),
            _record: PhantomData,
        })
    }

    /// Make every write that came before the call durable. Blocks; returns the number
    /// of bytes written.
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.db.flush().map_err(|e| self.flush_error(e))
    }

    /// [`flush`](Store::flush) without blocking the calling task: the blocking flush runs
    /// on tokio's blocking pool. (Not sled's own `flush_async`: sled 0.34 runs those on its
    /// small I/O pool, where a handful of concurrent flushes wait for writes queued behind
    /// themselves and deadlock.) Needs a tokio runtime.
    pub async fn flush_async(&self) -> Result<usize, StoreError> {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Sled {
                path: self.path.to_path_buf(),
                tree: "(flush)",
                source: std::io::Error::other(format!("the flush task failed: {e}")),
            }),
        }
    }

    fn flush_error(&self, e: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.to_path_buf(),
            tree: "(flush)",
            source: e.into(),
        }
    }
}
