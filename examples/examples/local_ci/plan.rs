//! The plan of a commit: its steps (from its steps file, or the defaults), each with the
//! hash of what it reads. A cached step per commit.

use current::job::Job;
use current::plugins::git::{self, Commit};
use current::primitive;
use serde::{Deserialize, Serialize};

use crate::steps::{self, Steps};

/// A step of a commit, ready to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub name: String,
    pub command: String,
    /// What the paths it reads hold in the commit (see `git::tree_hash`).
    pub inputs: String,
    pub needs: Vec<String>,
    pub level: current::Level,
    pub timeout: Option<u64>,
    pub variants: Vec<String>,
}

/// The steps of a commit, in the order of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Planned>,
}

/// Read the steps of `commit` and hash what each reads.
#[primitive(level = Harmless)]
pub async fn plan(job: &Job, commit: Commit) -> Result<Plan, String> {
    let spec = format!("{}:{}", commit.hash, steps::FILE);
    let steps = match git::git(&commit.repo, &["cat-file", "-e", &spec]).await {
        Ok(_) => {
            let text = git::git(&commit.repo, &["show", &spec])
                .await
                .map_err(|e| e.to_string())?;
            job.log(format_args!("steps from {}", steps::FILE));
            Steps::parse(&text)?
        }
        Err(_) => {
            let files = git::git(&commit.repo, &["ls-tree", "--name-only", &commit.hash])
                .await
                .map_err(|e| e.to_string())?;
            let files: Vec<String> = files.lines().map(str::to_string).collect();
            job.log(format_args!("no {}: the default steps", steps::FILE));
            Steps::default_for(&files)?
        }
    };
    let mut planned = Vec::with_capacity(steps.steps.len());
    for step in steps.steps {
        let inputs = git::tree_hash(&commit, &step.reads)
            .await
            .map_err(|e| e.to_string())?;
        let level = match &step.level {
            Some(l) => l
                .parse()
                .map_err(|e| format!("step {:?}: {e}", step.name))?,
            None => current::Level::Average,
        };
        let timeout = match &step.timeout {
            Some(t) => Some(steps::parse_duration(t)?.as_secs()),
            None => None,
        };
        job.log(format_args!("{}: {}", step.name, step.command));
        planned.push(Planned {
            name: step.name,
            command: step.command,
            inputs,
            needs: step.needs,
            level,
            timeout,
            variants: step.variants,
        });
    }
    Ok(Plan { steps: planned })
}
