//! The log-analysis rules, kept in the store (OCurrent keeps them in the SQLite table
//! `log_regexp(re PK, report, score)`).
//!
//! When a job of the cache fails, its log is matched against the rules
//! ([`RuleSet::analyse`]) and the best match's report replaces the error message; the
//! rules themselves are added and removed from the web page or the control client, and
//! survive a restart here.
//!
//! ```
//! use current::cache::rules::RulesDb;
//! use current::log_rules::Rule;
//! use current::store::Store;
//!
//! # let state_dir = std::env::temp_dir().join(format!("current-rules-doc-{}", std::process::id()));
//! let store = Store::open(&state_dir)?;
//! let rules = RulesDb::open(&store)?;
//! rules.add(Rule::new("No space left on device", "Disk full", 10))?;
//! rules.add(Rule::new(r"package (\S+) not found", r"Missing package \1", 5))?;
//! assert!(rules.add(Rule::new("(unclosed", "never stored", 1)).is_err());
//! rules.flush()?;
//!
//! let set = rules.load()?;
//! let log = "package libfoo not found\n";
//! assert_eq!(set.analyse(log).report.as_deref(), Some("Missing package libfoo"));
//! assert_eq!(rules.list()?.len(), 2);
//! # drop((rules, store));
//! # std::fs::remove_dir_all(&state_dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tree
//!
//! | tree        | key            | value          |
//! |-------------|----------------|----------------|
//! | `log-rules` | pattern (str)  | [`StoredRule`] |
//!
//! A rule is identified by its pattern, as in a [`RuleSet`]: adding a rule with the
//! pattern of a stored one replaces it. Each change is one write, durable after the next
//! [`flush`](RulesDb::flush).

use serde::{Deserialize, Serialize};

use crate::log_rules::{self, Rule, RuleSet};
use crate::store::{KeyBuf, Record, Store, StoreError, Tree};

/// A [`Rule`] as it is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRule {
    /// The rule's pattern ([`Rule::pattern`]), also its key.
    pub pattern: String,
    /// Its report ([`Rule::report`]).
    pub report: String,
    /// Its score ([`Rule::score`]).
    pub score: i64,
}

impl Record for StoredRule {
    const TREE: &'static str = "log-rules";
    const VERSION: u16 = 1;
}

impl From<Rule> for StoredRule {
    fn from(rule: Rule) -> StoredRule {
        StoredRule {
            pattern: rule.pattern,
            report: rule.report,
            score: rule.score,
        }
    }
}

impl From<StoredRule> for Rule {
    fn from(rule: StoredRule) -> Rule {
        Rule::new(rule.pattern, rule.report, rule.score)
    }
}

/// An error of the stored rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A pattern that does not compile, or a pattern with no rule
    /// ([`log_rules::Error::RuleNotFound`]).
    #[error(transparent)]
    Rule(#[from] log_rules::Error),
    /// The store failed.
    #[error("log rules: {what}: {source}")]
    Store {
        /// What was being done, naming the pattern.
        what: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

fn failed(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> RulesError {
    move |source| RulesError::Store {
        what: what(),
        source,
    }
}

/// The key of a rule: its pattern.
fn rule_key(pattern: &str) -> KeyBuf {
    KeyBuf::new().str(pattern)
}

/// The log-analysis rules of a [`Store`]. Cloning shares them.
#[derive(Clone, Debug)]
pub struct RulesDb {
    store: Store,
    tree: Tree<StoredRule>,
}

impl RulesDb {
    /// The rules kept in `store` (the tree is created if need be).
    pub fn open(store: &Store) -> Result<RulesDb, RulesError> {
        Ok(RulesDb {
            store: store.clone(),
            tree: store
                .tree()
                .map_err(failed(|| "opening the tree".to_owned()))?,
        })
    }

    /// Every stored rule, as a set to analyse logs with. A record that cannot be decoded is
    /// skipped with the store's warning, and a rule whose pattern no longer compiles (the
    /// regex syntax of a newer build may differ) with a warning of its own; both stay
    /// stored, and [`list`](RulesDb::list) and [`remove`](RulesDb::remove) still see the
    /// latter.
    pub fn load(&self) -> Result<RuleSet, RulesError> {
        let mut set = RuleSet::new();
        for rule in self.stored()? {
            if let Err(error) = set.add(rule) {
                tracing::warn!(
                    store = %self.store.path().display(),
                    tree = StoredRule::TREE,
                    %error,
                    "stored log rule skipped",
                );
            }
        }
        Ok(set)
    }

    /// The rules that decode, in pattern order.
    fn stored(&self) -> Result<Vec<Rule>, RulesError> {
        self.tree
            .iter()
            .map(|item| {
                item.map(|(_, rule)| Rule::from(rule))
                    .map_err(failed(|| "reading the rules".to_owned()))
            })
            .collect()
    }

    /// Store a rule, replacing (and returning) the stored rule with the same pattern if
    /// there is one (OCurrent's `add_rule`). A pattern that does not compile is refused
    /// ([`log_rules::Error::InvalidPattern`]) and nothing is written.
    pub fn add(&self, rule: Rule) -> Result<Option<Rule>, RulesError> {
        rule.check()?;
        let pattern = rule.pattern.clone();
        let what = || format!("adding the rule for pattern {pattern:?}");
        let key = rule_key(&rule.pattern);
        let old = self.tree.get(&key).map_err(failed(what))?;
        self.tree
            .insert(&key, &StoredRule::from(rule))
            .map_err(failed(what))?;
        Ok(old.map(Rule::from))
    }

    /// Remove the rule with this pattern (even one that no longer decodes);
    /// [`log_rules::Error::RuleNotFound`] if there is none (OCurrent's `remove_rule`).
    pub fn remove(&self, pattern: &str) -> Result<(), RulesError> {
        let removed = self.tree.remove(rule_key(pattern)).map_err(failed(|| {
            format!("removing the rule for pattern {pattern:?}")
        }))?;
        if removed {
            Ok(())
        } else {
            Err(log_rules::Error::RuleNotFound {
                pattern: pattern.to_owned(),
            }
            .into())
        }
    }

    /// Every stored rule that decodes (including any whose pattern no longer compiles),
    /// highest score first, then by pattern, as [`RuleSet::list`] orders them (OCurrent's
    /// `list_rules`).
    pub fn list(&self) -> Result<Vec<Rule>, RulesError> {
        let mut rules = self.stored()?;
        rules.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        Ok(rules)
    }

    /// Make every change so far durable ([`Store::flush`]).
    pub fn flush(&self) -> Result<usize, RulesError> {
        self.store.flush().map_err(failed(|| "flushing".to_owned()))
    }

    /// [`flush`](RulesDb::flush) without blocking the calling task.
    pub async fn flush_async(&self) -> Result<usize, RulesError> {
        self.store
            .flush_async()
            .await
            .map_err(failed(|| "flushing".to_owned()))
    }
}
