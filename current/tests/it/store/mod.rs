//! Tests of the store and of digests: canonical encoding, key digests, typed trees,
//! envelopes and what happens to records that cannot be decoded.

mod corruption;
mod digest;
mod keys;
mod open;
mod records;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use current::store::Record;
use serde::{Deserialize, Serialize};

/// The example record of these tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    pub job_id: String,
    pub ok: bool,
    pub outcome: Vec<u8>,
    pub build: u64,
}

impl Record for Build {
    const TREE: &'static str = "test-builds";
    const VERSION: u16 = 1;
}

pub fn build(n: u64) -> Build {
    Build {
        job_id: format!("2025-01-01/120000-build-{n:04}"),
        ok: n.is_multiple_of(2),
        outcome: format!("outcome {n}").into_bytes(),
        build: n,
    }
}

/// A fresh state directory, removed when dropped.
pub struct StateDir(PathBuf);

impl StateDir {
    pub fn new(label: &str) -> StateDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "current-it-store-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        StateDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The messages of the warnings logged on this thread while `f` runs.
pub fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = Warnings(seen.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (out, seen)
}

/// A subscriber that keeps the text of every warning.
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() != tracing::Level::WARN {
            return;
        }
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        if let Ok(mut seen) = self.0.lock() {
            seen.push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
