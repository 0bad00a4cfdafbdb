//! Job ids: `YYYY-MM-DD/HHMMSS-label-rand`, which is also where the job's log lives.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A job's id, e.g. `2022-02-09/115753-docker-build-71c777`: the UTC date, then the time,
/// the job's label and six random hex digits. The log is `job/<id>.log` in the state
/// directory.
///
/// ```
/// use current::job::JobId;
///
/// let id: JobId = "2022-02-09/115753-docker-build-71c777".parse()?;
/// assert_eq!(id.date(), "2022-02-09");
/// assert!("../../etc/passwd".parse::<JobId>().is_err());
/// # Ok::<(), current::job::InvalidJobId>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(String);

/// A string that is not a job id; OCaml's `Invalid job ID "<id>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid job ID {0:?}")]
pub struct InvalidJobId(pub String);

impl JobId {
    /// A fresh id for a job labelled `label`, started at `now`. Characters of the label
    /// that could not stand in a file name become `-`.
    pub fn generate(now: SystemTime, label: &str) -> JobId {
        let t = crate::clock::utc(now);
        let label: String = label
            .chars()
            .map(|c| if safe(c) { c } else { '-' })
            .collect();
        let label = label.trim_start_matches('.');
        let label = if label.is_empty() { "job" } else { label };
        JobId(format!(
            "{:04}-{:02}-{:02}/{:02}{:02}{:02}-{label}-{:06x}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            fastrand::u32(..0x0100_0000)
        ))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The date part, `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        self.0.split_once('/').map_or("", |(d, _)| d)
    }

    /// The log file of this job under the state directory `state_dir`.
    pub fn log_path(&self, state_dir: &Path) -> PathBuf {
        let (date, file) = self.0.split_once('/').unwrap_or(("", &self.0));
        state_dir.join("job").join(date).join(format!("{file}.log"))
    }
}

fn safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

impl std::str::FromStr for JobId {
    type Err = InvalidJobId;

    /// Accept only `YYYY-MM-DD/<name>` where the name is made of letters, digits, `-`, `_`
    /// and `.`, does not start with a dot and is at most 200 bytes: nothing that could
    /// name a file outside the log folder.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidJobId(s.to_string());
        let (date, name) = s.split_once('/').ok_or_else(invalid)?;
        let date_ok = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        let name_ok = !name.is_empty()
            && name.len() <= 200
            && !name.starts_with('.')
            && name.chars().all(safe);
        if date_ok && name_ok {
            Ok(JobId(s.to_string()))
        } else {
            Err(invalid())
        }
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn generated_ids_parse() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_644_407_873);
        let id = JobId::generate(t, "docker build/x");
        let s = id.to_string();
        assert!(s.starts_with("2022-02-09/115753-docker-build-x-"), "{s}");
        assert_eq!(s.len(), "2022-02-09/115753-docker-build-x-".len() + 6);
        assert_eq!(s.parse::<JobId>(), Ok(id));
        assert!(JobId::generate(t, "..").as_str().contains("-job-"));
    }

    #[test]
    fn validation() {
        for bad in [
            "",
            "2022-02-09",
            "2022-02-09/",
            "../../etc/passwd",
            "2022-02-09/../x",
            "2022-02-09/.hidden",
            "2022-02-09/a/b",
            "/etc/passwd",
            "2022-02-09/a\\b",
            "2022-2-09/abc",
            "2022-02-09/a%2e",
            "2022-02-09/a\0b",
        ] {
            let err = bad.parse::<JobId>().unwrap_err();
            assert_eq!(err.to_string(), format!("Invalid job ID {bad:?}"));
        }
        let id: JobId = "2022-02-09/115753-docker-build-71c777".parse().unwrap();
        assert_eq!(
            id.log_path(Path::new("var")),
            Path::new("var/job/2022-02-09/115753-docker-build-71c777.log")
        );
    }
}
