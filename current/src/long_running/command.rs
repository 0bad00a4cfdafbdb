//! A scheduler command to run, as every scheduler's command builders return it.

use std::fmt;
use std::path::PathBuf;

/// A scheduler command to run: a program, its arguments, and the file to feed on its
/// standard input, if any (every scheduler's builders return one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The program (`qsub`, `bsub`, ...), found on the `PATH`.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The file to open as its standard input: LSF's `bsub` reads the job's script
    /// there; no PBS or Slurm command has one.
    pub stdin: Option<PathBuf>,
}

impl CommandLine {
    pub(crate) fn new(program: &str, args: Vec<String>) -> CommandLine {
        CommandLine {
            program: program.to_string(),
            args,
            stdin: None,
        }
    }
}

impl fmt::Display for CommandLine {
    /// The command as a shell would read it (for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_word(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", shell_word(arg))?;
        }
        if let Some(stdin) = &self.stdin {
            write!(f, " < {}", shell_word(&stdin.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// A word quoted for a shell, when it needs it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
