//! The steps file, `.current-ci.toml` at the root of the repository, and the default steps
//! of a repository without one.
//!
//! ```toml
//! # Each [[step]] runs `command` with `sh -c` in a checkout of the commit.
//! [[step]]
//! name = "build"
//! command = "cargo build --all-targets"
//! reads = ["src", "Cargo.toml", "Cargo.lock"]   # what it depends on (default: everything)
//!
//! [[step]]
//! name = "test"
//! command = "cargo test"
//! needs = ["build"]              # runs after these succeed; their keys are part of its key
//! level = "average"              # jobs at or above --confirm wait for a user's approval
//! timeout = "10m"
//! variants = ["debug", "release"] # one job per variant, which sees it as $CI_VARIANT
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name of the steps file.
pub const FILE: &str = ".current-ci.toml";

/// The steps of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steps {
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

/// One step, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub command: String,
    /// Paths the step reads; empty: the whole tree.
    #[serde(default)]
    pub reads: Vec<String>,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub variants: Vec<String>,
}

impl Steps {
    /// Parse a steps file and check it: names unique and plain, `needs` naming earlier
    /// steps, levels and timeouts that parse.
    pub fn parse(text: &str) -> Result<Steps, String> {
        let steps: Steps = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            match line {
                Some(line) => format!("{FILE}, line {line}: {}", e.message()),
                None => format!("{FILE}: {}", e.message()),
            }
        })?;
        steps.check()?;
        Ok(steps)
    }

    /// What a repository without a steps file runs: for a Cargo project, a build and then
    /// the tests.
    pub fn default_for(files: &[String]) -> Result<Steps, String> {
        if files.iter().any(|f| f == "Cargo.toml") {
            return Ok(Steps {
                steps: vec![
                    Step {
                        name: "build".into(),
                        command: "cargo build --all-targets".into(),
                        reads: vec![],
                        needs: vec![],
                        level: None,
                        timeout: None,
                        variants: vec![],
                    },
                    Step {
                        name: "test".into(),
                        command: "cargo test".into(),
                        reads: vec![],
                        needs: vec!["build".into()],
                        level: None,
                        timeout: None,
                        variants: vec![],
                    },
                ],
            });
        }
        Err(format!(
            "the repository has no {FILE} and is not a Cargo project: add a {FILE} (see the local_ci example's documentation)"
        ))
    }

    fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err(format!("{FILE} has no [[step]]"));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            let name = step.name.as_str();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "{FILE}: step {} has the name {name:?}: use letters, digits, '-', '_' and '.'",
                    i + 1
                ));
            }
            if seen.insert(name, i).is_some() {
                return Err(format!("{FILE}: two steps are named {name:?}"));
            }
            for need in &step.needs {
                if !seen.contains_key(need.as_str()) || need == name {
                    return Err(format!(
                        "{FILE}: step {name:?} needs {need:?}, which is not a step before it"
                    ));
                }
            }
            if let Some(level) = &step.level {
                level
                    .parse::<current::Level>()
                    .map_err(|e| format!("{FILE}: step {name:?}: {e}"))?;
            }
            if let Some(timeout) = &step.timeout {
                parse_duration(timeout).map_err(|e| format!("{FILE}: step {name:?}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// `"90s"`, `"10m"`, `"1h30m"`: numbers with units (s, m, h).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("bad timeout {text:?}: write it like \"90s\", \"10m\" or \"1h30m\"");
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}
