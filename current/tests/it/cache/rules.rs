//! Stored log rules: add, replace, remove, list, load, reopen.

use current::cache::rules::{RulesDb, RulesError, StoredRule};
use current::log_rules::{Error, Rule};
use current::store::{KeyBuf, Store};

use super::{warnings, StateDir};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const LOG: &str = "\
cc -c foo.c
write: No space left on device
package libfoo not found
";

fn patterns(rules: &[Rule]) -> Vec<&str> {
    rules.iter().map(|r| r.pattern.as_str()).collect()
}

#[test]
fn add_replace_remove_list_and_load_across_reopening() -> Result {
    let dir = StateDir::new("cache-rules");
    {
        let store = Store::open(dir.path())?;
        let rules = RulesDb::open(&store)?;
        assert!(rules.list()?.is_empty());
        assert!(rules.load()?.is_empty());
        assert_eq!(
            rules.add(Rule::new("No space left on device", "Disk full", 10))?,
            None
        );
        assert_eq!(
            rules.add(Rule::new(r"package (\S+) not found", r"Missing \1", 5))?,
            None
        );
        assert_eq!(rules.add(Rule::new("cc", "compiler", 5))?, None);
        assert_eq!(rules.add(Rule::new("zzz", "never", 10))?, None);
        // The same pattern replaces the stored rule.
        assert_eq!(
            rules.add(Rule::new("cc", "the compiler", 1))?,
            Some(Rule::new("cc", "compiler", 5))
        );
        rules.remove("zzz")?;
        rules.flush()?;
    }
    let store = Store::open(dir.path())?;
    let rules = RulesDb::open(&store)?;
    let listed = rules.list()?;
    assert_eq!(
        listed,
        [
            Rule::new("No space left on device", "Disk full", 10),
            Rule::new(r"package (\S+) not found", r"Missing \1", 5),
            Rule::new("cc", "the compiler", 1),
        ],
        "highest score first, then by pattern"
    );
    let set = rules.load()?;
    assert_eq!(set.list().into_iter().cloned().collect::<Vec<_>>(), listed);
    assert_eq!(set.analyse(LOG).report.as_deref(), Some("Disk full"));

    rules.remove("No space left on device")?;
    assert_eq!(
        rules.load()?.analyse(LOG).report.as_deref(),
        Some("Missing libfoo")
    );
    match rules.remove("No space left on device") {
        Err(RulesError::Rule(Error::RuleNotFound { pattern })) => {
            assert_eq!(pattern, "No space left on device")
        }
        other => panic!("expected RuleNotFound, got {other:?}"),
    }
    assert_eq!(patterns(&rules.list()?), [r"package (\S+) not found", "cc"]);
    Ok(())
}

#[test]
fn an_invalid_pattern_is_refused_without_writing() -> Result {
    let dir = StateDir::new("cache-rules-invalid");
    let store = Store::open(dir.path())?;
    let rules = RulesDb::open(&store)?;
    rules.add(Rule::new("ok", "fine", 1))?;
    match rules.add(Rule::new("(unclosed", "never stored", 1)) {
        Err(e @ RulesError::Rule(Error::InvalidPattern { .. })) => {
            assert!(
                e.to_string()
                    .starts_with("invalid log rule pattern \"(unclosed\""),
                "{e}"
            );
        }
        other => panic!("expected InvalidPattern, got {other:?}"),
    }
    assert_eq!(store.tree::<StoredRule>()?.len(), 1);
    assert_eq!(rules.list()?, [Rule::new("ok", "fine", 1)]);
    Ok(())
}

#[test]
fn rules_that_cannot_be_used_are_skipped_by_load() -> Result {
    let dir = StateDir::new("cache-rules-damaged");
    let store = Store::open(dir.path())?;
    let rules = RulesDb::open(&store)?;
    rules.add(Rule::new("good", "fine", 1))?;
    let tree = store.tree::<StoredRule>()?;
    tree.raw_insert(KeyBuf::new().str("garbage"), b"garbage")?;
    // A pattern that an older build accepted and this one does not.
    tree.insert(
        KeyBuf::new().str("(old"),
        &StoredRule {
            pattern: "(old".into(),
            report: "old".into(),
            score: 3,
        },
    )?;

    let (set, warned) = warnings(|| rules.load());
    assert_eq!(set?.list(), [&Rule::new("good", "fine", 1)]);
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(warned.iter().all(|w| w.contains("log-rules")), "{warned:?}");
    assert!(warned.iter().any(|w| w.contains("(old")), "{warned:?}");

    // Both can still be removed; the one that decodes is listed.
    let (listed, _) = warnings(|| rules.list());
    assert_eq!(patterns(&listed?), ["(old", "good"]);
    rules.remove("(old")?;
    rules.remove("garbage")?;
    let (set, warned) = warnings(|| rules.load());
    assert_eq!(set?.len(), 1);
    assert!(warned.is_empty(), "{warned:?}");
    Ok(())
}
