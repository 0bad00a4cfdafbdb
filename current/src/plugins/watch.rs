//! Watching paths for changes: with the system's file notifications (the `notify` crate),
//! or, where they cannot be had (no inotify instances left, a filesystem without them), by
//! polling the paths' metadata.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};

use crate::monitor::{BoxFuture, Refresh, Unwatch};

/// How often paths are polled when they cannot be watched.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Call `refresh` whenever something under `paths` may have changed (a directory is
/// watched with all it contains). Paths that do not exist yet are watched through their
/// parent. Returns how to stop.
pub fn watch_paths(paths: Vec<PathBuf>, refresh: Refresh) -> Unwatch {
    match notify_watch(&paths, refresh.clone()) {
        Ok(watcher) => Box::new(move || -> BoxFuture<()> {
            drop(watcher);
            Box::pin(async {})
        }),
        Err(e) => {
            tracing::warn!(
                "cannot watch {}: {e}; polling every {:?} instead",
                pp_paths(&paths),
                POLL_INTERVAL
            );
            poll(paths, POLL_INTERVAL, refresh)
        }
    }
}

fn pp_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

fn notify_watch(paths: &[PathBuf], refresh: Refresh) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // An error from the watcher (an overflow, say) may hide a change: read again.
        match event {
            Ok(e) if e.kind.is_access() => {}
            _ => refresh.refresh(),
        }
    })?;
    for path in paths {
        let (target, mode) = existing(path);
        watcher.watch(&target, mode)?;
    }
    Ok(watcher)
}

/// The path itself if it exists (recursively if it is a directory), else its nearest
/// existing ancestor (not recursively).
fn existing(path: &Path) -> (PathBuf, RecursiveMode) {
    if path.is_dir() {
        return (path.to_path_buf(), RecursiveMode::Recursive);
    }
    if path.exists() {
        // A file: watch its directory, so that a rename over it (an atomic save, a git
        // ref update) is seen too.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            return (parent.to_path_buf(), RecursiveMode::NonRecursive);
        }
        return (path.to_path_buf(), RecursiveMode::NonRecursive);
    }
    let mut ancestor = path.parent();
    while let Some(a) = ancestor {
        if a.exists() {
            return (a.to_path_buf(), RecursiveMode::NonRecursive);
        }
        ancestor = a.parent();
    }
    (PathBuf::from("."), RecursiveMode::NonRecursive)
}

/// Poll the metadata (modification time and length) of `paths` and of the entries of
/// directories among them.
pub fn poll(paths: Vec<PathBuf>, every: Duration, refresh: Refresh) -> Unwatch {
    // The baseline is taken now, so that a change right after the watch is seen.
    let mut last = snapshot(&paths);
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let now = snapshot(&paths);
            if now != last {
                last = now;
                refresh.refresh();
            }
        }
    });
    Box::new(move || -> BoxFuture<()> {
        task.abort();
        Box::pin(async {})
    })
}

type Stamp = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

fn snapshot(paths: &[PathBuf]) -> Stamp {
    let mut stamp = Vec::new();
    for path in paths {
        stamp.push((path.clone(), meta(path)));
        if let Ok(entries) = std::fs::read_dir(path) {
            let mut inner: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            inner.sort();
            stamp.extend(inner.into_iter().map(|p| {
                let m = meta(&p);
                (p, m)
            }));
        }
    }
    stamp
}

fn meta(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
