//! Log analysis: rules that explain why a job failed (OCaml's `Current.Log_matcher`).
//!
//! A [`Rule`] is a regular expression, a report and a score. When a job fails, its whole log
//! is matched against every rule of a [`RuleSet`]: each match is reported (the job log shows
//! `Log analysis:` and then a `>>> <matched text> (score = n)` line per match), the rule with
//! the highest score wins (ties go to the match that starts first in the log), and the
//! winner's report, with `\1`..`\9` replaced by the groups it captured, replaces the job's
//! error message.
//!
//! Patterns use the syntax of the [`regex`] crate, which searches in time linear in the size
//! of the log; a pattern whose compiled form would be too big is refused when it is added.
//!
//! ```
//! use current::log_rules::{Rule, RuleSet};
//!
//! let mut rules = RuleSet::new();
//! rules.add(Rule::new(r"No space left on device", "Disk full", 10))?;
//! rules.add(Rule::new(r"package (\S+) not found", r"Missing package \1", 5))?;
//!
//! let log = "Fetching...\npackage libfoo not found\nwrite: No space left on device\n";
//! let analysis = rules.analyse(log);
//! assert_eq!(
//!     analysis.log_lines(),
//!     [
//!         "Log analysis:",
//!         ">>> package libfoo not found (score = 5)",
//!         ">>> No space left on device (score = 10)",
//!     ]
//! );
//! assert_eq!(analysis.report.as_deref(), Some("Disk full"));
//!
//! rules.remove("No space left on device")?;
//! assert_eq!(rules.analyse(log).report.as_deref(), Some("Missing package libfoo"));
//! # Ok::<(), current::log_rules::Error>(())
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::sync::OnceLock;

use regex::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// The most memory (in bytes) the compiled form of one pattern may take. A pattern that needs
/// more is refused with [`Error::InvalidPattern`] (its regex error is
/// [`regex::Error::CompiledTooBig`]).
pub const PATTERN_SIZE_LIMIT: usize = 2 << 20;

/// The most memory (in bytes) the lazy DFA of one pattern may use while searching. Searches
/// stay linear-time when it is exhausted, only slower.
pub const PATTERN_DFA_SIZE_LIMIT: usize = 2 << 20;

/// The most memory (in bytes) the combined pattern set may take. Beyond it the rules are
/// tried one by one instead of all at once, which gives the same results.
pub const SET_SIZE_LIMIT: usize = 64 << 20;

/// The most matches an [`Analysis`] lists; further matches are summed up in one line.
pub const MAX_REPORTED_MATCHES: usize = 1000;

/// The most bytes of a matched text shown in a `>>>` line; longer texts are cut and end
/// with `...`.
pub const MAX_SHOWN_MATCH_LEN: usize = 1000;

/// One log-analysis rule.
///
/// A plain record, so that it can be stored as it is: the pattern is only compiled when the
/// rule is added to a [`RuleSet`] (or [checked](Rule::check)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The regular expression searched for in the log ([`regex`] syntax). It identifies the
    /// rule within a set.
    pub pattern: String,
    /// What the job's error becomes when this rule wins: `\1`..`\9` stand for the groups
    /// of the match (`\0` for all of it, empty for a group that did not match) and `\\` for a
    /// backslash; any other backslash is kept as it is.
    pub report: String,
    /// How much this rule counts: the highest-scoring match wins.
    pub score: i64,
}

impl Rule {
    /// A rule.
    pub fn new(pattern: impl Into<String>, report: impl Into<String>, score: i64) -> Rule {
        Rule {
            pattern: pattern.into(),
            report: report.into(),
            score,
        }
    }

    /// Whether the pattern compiles within the size limits, as [`RuleSet::add`] requires.
    pub fn check(&self) -> Result<(), Error> {
        compile(&self.pattern).map(drop)
    }
}

/// What can go wrong with rules.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The pattern does not parse, or compiles to something too big.
    #[error("invalid log rule pattern {pattern:?}: {error}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// Why the regex crate refused it.
        error: regex::Error,
    },
    /// No rule has this pattern (OCaml's `` `Rule_not_found ``).
    #[error("no log rule with pattern {pattern:?}")]
    RuleNotFound {
        /// The pattern asked for.
        pattern: String,
    },
}

fn compile(pattern: &str) -> Result<Regex, Error> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_DFA_SIZE_LIMIT)
        .build()
        .map_err(|error| Error::InvalidPattern {
            pattern: pattern.to_owned(),
            error,
        })
}

#[derive(Clone)]
struct Entry {
    rule: Rule,
    regex: Regex,
}

/// A set of rules, at most one per pattern.
///
/// Analysing a log first finds, in one pass over the log, which rules match at all (with a
/// [`RegexSet`]), and only then runs those rules on their own.
#[derive(Clone, Default)]
pub struct RuleSet {
    /// By pattern; the order of the map is the order of the set's patterns.
    rules: BTreeMap<String, Entry>,
    /// All patterns at once, built on first use after a change; `None` when too big.
    set: OnceLock<Option<RegexSet>>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// A set of the given rules; a later rule replaces an earlier one with the same pattern.
    pub fn from_rules(rules: impl IntoIterator<Item = Rule>) -> Result<RuleSet, Error> {
        let mut set = RuleSet::new();
        for rule in rules {
            set.add(rule)?;
        }
        Ok(set)
    }

    /// Add a rule, replacing (and returning) the rule with the same pattern if there is one.
    /// A pattern that does not compile is refused and the set is left as it was.
    pub fn add(&mut self, rule: Rule) -> Result<Option<Rule>, Error> {
        let regex = compile(&rule.pattern)?;
        self.set = OnceLock::new();
        let old = self
            .rules
            .insert(rule.pattern.clone(), Entry { rule, regex });
        Ok(old.map(|e| e.rule))
    }

    /// Remove the rule with this pattern and return it; [`Error::RuleNotFound`] if there is
    /// none.
    pub fn remove(&mut self, pattern: &str) -> Result<Rule, Error> {
        let entry = self
            .rules
            .remove(pattern)
            .ok_or_else(|| Error::RuleNotFound {
                pattern: pattern.to_owned(),
            })?;
        self.set = OnceLock::new();
        Ok(entry.rule)
    }

    /// The rule with this pattern.
    pub fn get(&self, pattern: &str) -> Option<&Rule> {
        self.rules.get(pattern).map(|e| &e.rule)
    }

    /// Every rule, highest score first, then by pattern.
    pub fn list(&self) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self.rules.values().map(|e| &e.rule).collect();
        rules.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        rules
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn set(&self) -> Option<&RegexSet> {
        self.set
            .get_or_init(|| {
                let limit = PATTERN_SIZE_LIMIT
                    .saturating_mul(self.rules.len())
                    .min(SET_SIZE_LIMIT);
                RegexSetBuilder::new(self.rules.keys())
                    .size_limit(limit)
                    .dfa_size_limit(PATTERN_DFA_SIZE_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// Match every rule against `log`, the full text of a job's log.
    ///
    /// Every non-empty match of every rule is found (the matches of one rule do not
    /// overlap; those of different rules may). The highest score wins, then the match that
    /// starts first in the log, then the rule that comes first in [`list`](RuleSet::list)
    /// order.
    pub fn analyse<'a>(&'a self, log: &'a str) -> Analysis<'a> {
        self.analyse_using(self.set(), log)
    }

    /// [`analyse`](RuleSet::analyse), with `set` (if any) to tell which rules match.
    fn analyse_using<'a>(&'a self, set: Option<&RegexSet>, log: &'a str) -> Analysis<'a> {
        let entries: Vec<&Entry> = self.rules.values().collect();
        let matching: Vec<usize> = match set {
            Some(set) => set.matches(log).into_iter().collect(),
            None => (0..entries.len())
                .filter(|&i| entries[i].regex.is_match(log))
                .collect(),
        };

        // Merge the (ordered) matches of each matching rule into log order.
        let mut iters: Vec<_> = matching
            .iter()
            .map(|&i| {
                let regex = &entries[i].regex;
                (i, regex.find_iter(log).filter(|m| !m.is_empty()))
            })
            .collect();
        // Heap of (start, score descending, rule index, end, slot in `iters`): the smallest
        // is the next match in the log.
        let mut heap = BinaryHeap::new();
        for (slot, (i, it)) in iters.iter_mut().enumerate() {
            if let Some(m) = it.next() {
                let score = entries[*i].rule.score;
                heap.push(Reverse((m.start(), Reverse(score), *i, m.end(), slot)));
            }
        }

        // Each rule's best match is its first; the first matches are all in the heap now.
        let best = heap
            .iter()
            .map(|Reverse(k)| *k)
            .min_by_key(|&(start, Reverse(score), i, _, _)| (Reverse(score), start, i))
            .map(|(start, _, i, end, _)| (i, start, end));

        let mut matches = Vec::new();
        let mut more = false;
        while let Some(Reverse((start, Reverse(score), i, end, slot))) = heap.pop() {
            if matches.len() == MAX_REPORTED_MATCHES {
                more = true;
                break;
            }
            matches.push(Match {
                rule: &entries[i].rule,
                start,
                end,
                text: &log[start..end],
            });
            if let Some(m) = iters[slot].1.next() {
                heap.push(Reverse((m.start(), Reverse(score), i, m.end(), slot)));
            }
        }

        let (best, report) = match best {
            None => (None, None),
            Some((i, start, end)) => {
                let entry = entries[i];
                // The groups of the rule's first non-empty match, found again.
                let report = entry
                    .regex
                    .captures_iter(log)
                    .find(|c| c.get(0).is_some_and(|m| !m.is_empty()))
                    .map(|c| substitute(&entry.rule.report, &c))
                    .unwrap_or_default();
                let best = Match {
                    rule: &entry.rule,
                    start,
                    end,
                    text: &log[start..end],
                };
                (Some(best), Some(report))
            }
        };

        Analysis {
            matches,
            more,
            best,
            report,
        }
    }

    /// [`analyse`](RuleSet::analyse) `log`, pass each line of the analysis to `log_line`
    /// (nothing when no rule matched), and return the winning report.
    pub fn analyse_with(&self, log: &str, mut log_line: impl FnMut(&str)) -> Option<String> {
        let analysis = self.analyse(log);
        for line in analysis.log_lines() {
            log_line(&line);
        }
        analysis.report
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.list()).finish()
    }
}

impl PartialEq for RuleSet {
    fn eq(&self, other: &RuleSet) -> bool {
        self.rules.len() == other.rules.len()
            && self
                .rules
                .values()
                .zip(other.rules.values())
                .all(|(a, b)| a.rule == b.rule)
    }
}

impl Eq for RuleSet {}

/// Replace `\0`..`\9` in `report` with the groups of `caps`, and `\\` with `\`.
fn substitute(report: &str, caps: &Captures<'_>) -> String {
    substitute_by(report, |n| caps.get(n).map_or("", |m| m.as_str()))
}

fn substitute_by<'t>(report: &str, group: impl Fn(usize) -> &'t str) -> String {
    let mut out = String::with_capacity(report.len());
    let mut chars = report.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some(d @ '0'..='9') => {
                chars.next();
                out.push_str(group(d as usize - '0' as usize));
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// One match of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    /// The rule that matched.
    pub rule: &'a Rule,
    /// Where the match starts in the log (a byte offset).
    pub start: usize,
    /// Where it ends (a byte offset, exclusive).
    pub end: usize,
    /// The text matched.
    pub text: &'a str,
}

/// The result of [`RuleSet::analyse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis<'a> {
    /// Every match, in log order (by start, then highest score, then pattern); at most
    /// [`MAX_REPORTED_MATCHES`].
    pub matches: Vec<Match<'a>>,
    /// Whether there were more matches than [`MAX_REPORTED_MATCHES`].
    pub more: bool,
    /// The winning match: highest score, then first in the log.
    pub best: Option<Match<'a>>,
    /// The winning rule's report, its group references replaced; `None` if nothing matched.
    pub report: Option<String>,
}

impl Analysis<'_> {
    /// The lines to write into the job's log: `Log analysis:`, then one
    /// `>>> <matched text> (score = n)` per match (texts longer than [`MAX_SHOWN_MATCH_LEN`]
    /// bytes are cut and end with `...`), then, if some were left out,
    /// `>>> ... (more matches not shown)`. No lines at all when nothing matched.
    pub fn log_lines(&self) -> Vec<String> {
        if self.matches.is_empty() {
            return Vec::new();
        }
        let mut lines = Vec::with_capacity(self.matches.len() + 2);
        lines.push("Log analysis:".to_owned());
        for m in &self.matches {
            let text = if m.text.len() > MAX_SHOWN_MATCH_LEN {
                let mut cut = MAX_SHOWN_MATCH_LEN;
                while !m.text.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}...", &m.text[..cut])
            } else {
                m.text.to_owned()
            };
            lines.push(format!(">>> {text} (score = {})", m.rule.score));
        }
        if self.more {
            lines.push(">>> ... (more matches not shown)".to_owned());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the combined set (too big to build), the rules are tried one by one, with
    /// the same results.
    #[test]
    fn without_the_set() {
        let rules = RuleSet::from_rules([
            Rule::new(r"error: (\w+)", r"error \1", 3),
            Rule::new(r"warning: (\w+)", r"warning \1", 1),
            Rule::new(r"absent", "absent", 9),
            Rule::new(r"e", "e", 3),
        ])
        .unwrap();
        let log = "warning: w1\nerror: e1\nwarning: w2\nerror: e2\n";
        let with = rules.analyse(log);
        let without = rules.analyse_using(None, log);
        assert!(rules.set().is_some());
        assert_eq!(with, without);
        assert_eq!(without.report.as_deref(), Some("e"));
        assert_eq!(without.matches.len(), 8);
    }
}
