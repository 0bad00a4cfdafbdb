//! Files: a file's contents as an input that follows the file, and a step that saves a
//! value to a file, atomically and only when the contents differ (OCurrent's
//! `Current_fs.save`).
//!
//! ```no_run
//! use current::plugins::fs;
//! use current::term::Term;
//!
//! # fn pipeline() -> Term<bool> {
//! let settings = fs::contents("settings.toml");
//! let report = settings.map(|text| format!("{} lines\n", text.lines().count()).into_bytes());
//! fs::save(&Term::value("report.txt".into()), &report)
//! # }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::job::Job;
use crate::monitor::{BoxFuture, Monitor, Refresh, Unwatch};
use crate::primitive;
use crate::term::Term;

use super::watch;

/// The text of the file at `path`, read again whenever it changes. A missing file, or one
/// that is not UTF-8, is a failure that names it.
#[track_caller]
pub fn contents(path: impl Into<PathBuf>) -> Term<String> {
    let path = path.into();
    let (read_path, watch_path) = (path.clone(), path.clone());
    Monitor::new(
        path.display().to_string(),
        move || -> BoxFuture<Result<String, String>> {
            let path = read_path.clone();
            Box::pin(async move {
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                String::from_utf8(bytes)
                    .map_err(|_| format!("{} is not UTF-8 text", path.display()))
            })
        },
        move |refresh: Refresh| -> BoxFuture<Result<Unwatch, String>> {
            let path = watch_path.clone();
            Box::pin(async move { Ok(watch::watch_paths(vec![path], refresh)) })
        },
    )
    .get()
}

/// Save `contents` to `path`: a cached publish step, run again whenever the contents
/// change. The file is written only if what it holds differs (its outcome is `true` if it
/// was written), and atomically: a temporary file beside it, synced, renamed over it.
#[primitive(publish, id = "current::fs::save", level = Harmless)]
pub async fn save(job: &Job, path: PathBuf, contents: Vec<u8>) -> Result<bool, std::io::Error> {
    if std::fs::read(&path).is_ok_and(|old| old == contents) {
        job.log(format_args!("{} is up to date", path.display()));
        return Ok(false);
    }
    write_atomically(&path, &contents)?;
    job.log(format_args!(
        "wrote {} ({} bytes)",
        path.display(),
        contents.len()
    ));
    Ok(true)
}

/// Write `contents` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
