//! Typed trees: the records of one [`Record`] type, by key.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use super::envelope::{self, EncodeFailure, Undecodable};
use super::key::printable;
use super::{Record, StoreError};

/// The records of type `R`, in the sled tree named [`Record::TREE`], ordered by key
/// bytewise. Cloning shares the tree. A `Tree` keeps the database open (and locked)
/// even after every [`Store`](super::Store) handle is dropped.
pub struct Tree<R> {
    pub(super) tree: sled::Tree,
    pub(super) path: Arc<Path>,
    pub(super) tag: [u8; 8],
    pub(super) _record: PhantomData<fn() -> R>,
}

impl<R> Clone for Tree<R> {
    fn clone(&self) -> Self {
        Tree {
            tree: self.tree.clone(),
            path: self.path.clone(),
            tag: self.tag,
            _record: PhantomData,
        }
    }
}

impl<R: Record> std::fmt::Debug for Tree<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("store", &self.path)
            .field("tree", &R::TREE)
            .field("version", &R::VERSION)
            .finish()
    }
}

/// The result of [`Tree::get_checked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<R> {
    /// A record that decoded.
    Found(R),
    /// No value under the key.
    Missing,
    /// A value that is not a record this build can read (logged as a warning). The
    /// caller should treat it as missing, and may remove or overwrite it.
    Undecodable(Undecodable),
}

impl<R> Lookup<R> {
    /// The record, if one was found and decoded.
    pub fn found(self) -> Option<R> {
        match self {
            Lookup::Found(r) => Some(r),
            Lookup::Missing | Lookup::Undecodable(_) => None,
        }
    }
}

impl<R: Record> Tree<R> {
    fn sled_error(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.to_path_buf(),
            tree: R::TREE,
            source: source.into(),
        }
    }

    fn encode(&self, key: &[u8], record: &R) -> Result<Vec<u8>, StoreError> {
        envelope::encode(self.tag, R::VERSION, record).map_err(|failure| match failure {
            EncodeFailure::Postcard(message) => StoreError::Encode {
                path: self.path.to_path_buf(),
                tree: R::TREE,
                key: printable(key),
                message,
            },
            EncodeFailure::TooBig(len) => StoreError::TooBig {
                path: self.path.to_path_buf(),
                tree: R::TREE,
                key: printable(key),
                len,
            },
        })
    }

    /// Decode a stored value, logging a warning if it cannot be.
    fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<R, Undecodable> {
        envelope::decode(self.tag, R::VERSION, bytes).inspect_err(|reason| {
            tracing::warn!(
                store = %self.path.display(),
                tree = R::TREE,
                key = %printable(key),
                %reason,
                "undecodable record, treated as missing",
            );
        })
    }

    /// The tree's name, [`Record::TREE`].
    pub fn name(&self) -> &'static str {
        R::TREE
    }

    /// The record under `key`. A value that cannot be decoded is `Ok(None)` and a
    /// warning; `Err` is an I/O error of the database.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<R>, StoreError> {
        Ok(self.get_checked(key)?.found())
    }

    /// The record under `key`, or why there is none (a value that cannot be decoded is
    /// also logged as a warning).
    pub fn get_checked(&self, key: impl AsRef<[u8]>) -> Result<Lookup<R>, StoreError> {
        let key = key.as_ref();
        match self.tree.get(key).map_err(|e| self.sled_error(e))? {
            None => Ok(Lookup::Missing),
            Some(bytes) => Ok(match self.decode(key, &bytes) {
                Ok(record) => Lookup::Found(record),
                Err(reason) => Lookup::Undecodable(reason),
            }),
        }
    }

    /// Whether a value (decodable or not) is stored under `key`.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        self.tree.contains_key(key).map_err(|e| self.sled_error(e))
    }

    /// Store `record` under `key`, replacing any value there. Durable only once a
    /// [`Store::flush`](super::Store::flush) that started after it returns.
    pub fn insert(&self, key: impl AsRef<[u8]>, record: &R) -> Result<(), StoreError> {
        let key = key.as_ref();
        let value = self.encode(key, record)?;
        self.tree
            .insert(key, value)
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }

    /// Remove the value under `key`; whether there was one.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<bool, StoreError> {
        Ok(self
            .tree
            .remove(key)
            .map_err(|e| self.sled_error(e))?
            .is_some())
    }

    /// Every record, in key order (`.rev()` for reverse order). Values that cannot be
    /// decoded are skipped with a warning; see [`Iter::checked`] to see them.
    pub fn iter(&self) -> Iter<R> {
        self.wrap(self.tree.iter())
    }

    /// The records whose keys start with `prefix`, in key order (`.rev()` for reverse
    /// order, so `.rev().next()` is the one with the greatest key).
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter<R> {
        self.wrap(self.tree.scan_prefix(prefix))
    }

    /// The records whose keys are in `range`, in key order.
    pub fn range<K, B>(&self, range: B) -> Iter<R>
    where
        K: AsRef<[u8]>,
        B: std::ops::RangeBounds<K>,
    {
        self.wrap(self.tree.range(range))
    }

    fn wrap(&self, inner: sled::Iter) -> Iter<R> {
        Iter(CheckedIter {
            inner,
            tree: self.clone(),
        })
    }

    /// The number of values (decodable or not). This walks the whole tree: O(n).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the tree holds no value.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Remove every value.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.tree.clear().map_err(|e| self.sled_error(e))
    }

    /// A batch of writes to this tree, applied atomically by [`Batch::apply`].
    pub fn batch(&self) -> Batch<'_, R> {
        Batch {
            tree: self,
            batch: sled::Batch::default(),
            len: 0,
        }
    }

    /// The raw stored bytes under `key`, envelope and all. For tests of damaged records.
    #[doc(hidden)]
    pub fn raw_get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(key)
            .map_err(|e| self.sled_error(e))?
            .map(|v| v.to_vec()))
    }

    /// Store raw bytes under `key`, with no envelope. For tests of damaged records.
    #[doc(hidden)]
    pub fn raw_insert(&self, key: impl AsRef<[u8]>, bytes: &[u8]) -> Result<(), StoreError> {
        self.tree
            .insert(key.as_ref(), bytes)
            .map_err(|e| self.sled_error(e))?;
        Ok(())
    }
}

/// Writes to one tree that [`apply`](Batch::apply) makes all at once: after a crash
/// either all of them or none are there.
pub struct Batch<'t, R> {
    tree: &'t Tree<R>,
    batch: sled::Batch,
    len: usize,
}

impl<R: Record> Batch<'_, R> {
    /// Add the insertion of `record` under `key`. Fails only if the record cannot be
    /// encoded.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, record: &R) -> Result<(), StoreError> {
        let key = key.as_ref();
        let value = self.tree.encode(key, record)?;
        self.batch.insert(key, value);
        self.len += 1;
        Ok(())
    }

    /// Add the removal of `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.batch.remove(key.as_ref());
        self.len += 1;
    }

    /// The number of writes added.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no write has been added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Apply every write atomically (later writes to a key win). Durable only once a
    /// [`Store::flush`](super::Store::flush) that started after it returns.
    pub fn apply(self) -> Result<(), StoreError> {
        self.tree
            .tree
            .apply_batch(self.batch)
            .map_err(|e| self.tree.sled_error(e))
    }
}

/// The records of a scan, as `(key, record)`, skipping values that cannot be decoded
/// (each logged as a warning). Double-ended.
pub struct Iter<R>(CheckedIter<R>);

impl<R: Record> Iter<R> {
    /// Also yield the values that cannot be decoded, with why.
    pub fn checked(self) -> CheckedIter<R> {
        self.0
    }
}

impl<R: Record> Iterator for Iter<R> {
    type Item = Result<(Vec<u8>, R), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.0.next()? {
                Err(e) => return Some(Err(e)),
                Ok((key, Ok(record))) => return Some(Ok((key, record))),
                Ok((_, Err(_))) => continue,
            }
        }
    }
}

impl<R: Record> DoubleEndedIterator for Iter<R> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            match self.0.next_back()? {
                Err(e) => return Some(Err(e)),
                Ok((key, Ok(record))) => return Some(Ok((key, record))),
                Ok((_, Err(_))) => continue,
            }
        }
    }
}

/// The values of a scan, as `(key, record or why it cannot be decoded)`. Values that
/// cannot be decoded are also logged as warnings. Double-ended.
pub struct CheckedIter<R> {
    inner: sled::Iter,
    tree: Tree<R>,
}

/// An item of a [`CheckedIter`].
pub type CheckedItem<R> = Result<(Vec<u8>, Result<R, Undecodable>), StoreError>;

impl<R: Record> CheckedIter<R> {
    fn item(&self, item: sled::Result<(sled::IVec, sled::IVec)>) -> CheckedItem<R> {
        let (key, value) = item.map_err(|e| self.tree.sled_error(e))?;
        let record = self.tree.decode(&key, &value);
        Ok((key.to_vec(), record))
    }
}

impl<R: Record> Iterator for CheckedIter<R> {
    type Item = CheckedItem<R>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        Some(self.item(item))
    }
}

impl<R: Record> DoubleEndedIterator for CheckedIter<R> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.inner.next_back()?;
        Some(self.item(item))
    }
}
