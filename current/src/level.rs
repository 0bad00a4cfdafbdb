//! How risky a job is, and the confirmation threshold jobs are compared with.

use std::fmt;
use std::str::FromStr;

/// How dangerous a job is, least to most (OCaml's `Current.Level`). A job whose level is at
/// or above the confirmation threshold waits for a user to confirm it.
///
/// ```
/// use current::Level;
///
/// let level: Level = "mostly-harmless".parse()?;
/// assert!(level < Level::Average);
/// assert_eq!(level.to_string(), "mostly-harmless");
/// assert_eq!(
///     "risky".parse::<Level>().unwrap_err().to_string(),
///     r#"Unknown level "risky"; expected one of harmless, mostly-harmless, average, above-average, dangerous"#
/// );
/// # Ok::<(), current::level::UnknownLevel>(())
/// ```
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Reads only.
    Harmless,
    /// Changes little, easily undone.
    MostlyHarmless,
    /// The usual build or test step.
    Average,
    /// Changes things others see.
    AboveAverage,
    /// Deploys, publishes, deletes.
    Dangerous,
}

impl Level {
    /// Every level, least dangerous first.
    pub const ALL: [Level; 5] = [
        Level::Harmless,
        Level::MostlyHarmless,
        Level::Average,
        Level::AboveAverage,
        Level::Dangerous,
    ];

    /// The level's name, as parsed and printed.
    pub fn name(self) -> &'static str {
        match self {
            Level::Harmless => "harmless",
            Level::MostlyHarmless => "mostly-harmless",
            Level::Average => "average",
            Level::AboveAverage => "above-average",
            Level::Dangerous => "dangerous",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A level name that is not one of [`Level::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown level {0:?}; expected one of harmless, mostly-harmless, average, above-average, dangerous")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLevel(s.to_string()))
    }
}
