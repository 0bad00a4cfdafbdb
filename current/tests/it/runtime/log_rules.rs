//! Tests: log_rules.

use current::log_rules::{Error, Rule, RuleSet, MAX_REPORTED_MATCHES, MAX_SHOWN_MATCH_LEN};

fn rules(list: &[(&str, &str, i64)]) -> RuleSet {
    RuleSet::from_rules(list.iter().map(|&(p, r, s)| Rule::new(p, r, s))).unwrap()
}

const LOG: &str = "\
2024-01-02 10:00.01: Exec: \"make\"
cc -c foo.c
foo.c:12:3: error: 'bar' undeclared
make: *** [Makefile:4: foo.o] Error 1
2024-01-02 10:00.02: Job failed: exit code 2
";

#[test]
fn one_rule_with_groups() {
    let set = rules(&[(r"(\w+\.c):(\d+):\d+: error: (.*)", r"\1 line \2: \3", 5)]);
    let analysis = set.analyse(LOG);
    assert_eq!(
        analysis.report.as_deref(),
        Some("foo.c line 12: 'bar' undeclared")
    );
    let best = analysis.best.unwrap();
    assert_eq!(best.text, "foo.c:12:3: error: 'bar' undeclared");
    assert_eq!(&LOG[best.start..best.end], best.text);
    assert_eq!(best.rule.score, 5);
}

#[test]
fn report_references() {
    // \0 is the whole match, \\ a backslash, an unmatched or missing group is empty, and
    // any other backslash stays.
    let set = rules(&[(r"make: (\*+) (x)?\[(\S+)", r"\0|\1|\2|\3|\4|\\1|\n|\", 1)]);
    assert_eq!(
        set.analyse(LOG).report.as_deref(),
        Some(r"make: *** [Makefile:4:|***||Makefile:4:||\1|\n|\")
    );
}

#[test]
fn highest_score_wins() {
    let set = rules(&[
        ("Exec", "exec", 1),
        (r"error: '(\w+)'", r"undeclared \1", 10),
        (r"Error (\d)", r"make error \1", 3),
    ]);
    let analysis = set.analyse(LOG);
    assert_eq!(analysis.report.as_deref(), Some("undeclared bar"));
    assert_eq!(analysis.best.unwrap().rule.pattern, r"error: '(\w+)'");
    let texts: Vec<(&str, i64)> = analysis
        .matches
        .iter()
        .map(|m| (m.text, m.rule.score))
        .collect();
    assert_eq!(
        texts,
        [("Exec", 1), ("error: 'bar'", 10), ("Error 1", 3)],
        "all matches, in log order"
    );
    assert!(!analysis.more);
}

#[test]
fn ties_go_to_the_earliest_match() {
    // "make" (pattern order first) matches later in the log than "cc -c"; equal scores.
    let set = rules(&[
        ("make:", "make", 7),
        ("cc -c", "compiler", 7),
        ("foo", "foo", 2),
    ]);
    assert_eq!(set.analyse(LOG).report.as_deref(), Some("compiler"));
    // The earliest match of a rule counts, not its later ones.
    let set = rules(&[("Job failed", "job", 7), (r"foo\.\w", "foo", 7)]);
    let analysis = set.analyse(LOG);
    assert_eq!(analysis.report.as_deref(), Some("foo"));
    assert_eq!(analysis.best.unwrap().start, LOG.find("foo.c").unwrap());
    // Same start, same score: the rule first in list order (by pattern) wins.
    let set = rules(&[("foo.c:12", "b", 4), ("foo", "a", 4)]);
    assert_eq!(set.analyse(LOG).report.as_deref(), Some("a"));
}

#[test]
fn same_pattern_replaces_the_rule() {
    let mut set = RuleSet::new();
    assert_eq!(set.add(Rule::new("Error (1)", r"one \1", 1)).unwrap(), None);
    let old = set.add(Rule::new("Error (1)", r"uno \1", 9)).unwrap();
    assert_eq!(old, Some(Rule::new("Error (1)", r"one \1", 1)));
    assert_eq!(set.len(), 1);
    assert_eq!(set.list(), [&Rule::new("Error (1)", r"uno \1", 9)]);
    let analysis = set.analyse(LOG);
    assert_eq!(analysis.report.as_deref(), Some("uno 1"));
    assert_eq!(analysis.log_lines()[1], ">>> Error 1 (score = 9)");
}

#[test]
fn remove_and_rule_not_found() {
    let mut set = rules(&[("Exec", "exec", 1), ("Error", "error", 2)]);
    assert_eq!(set.analyse(LOG).report.as_deref(), Some("error"));
    assert_eq!(set.remove("Error").unwrap(), Rule::new("Error", "error", 2));
    assert_eq!(set.analyse(LOG).report.as_deref(), Some("exec"));
    let err = set.remove("Error").unwrap_err();
    assert_eq!(
        err,
        Error::RuleNotFound {
            pattern: "Error".into()
        }
    );
    assert_eq!(err.to_string(), r#"no log rule with pattern "Error""#);
    assert_eq!(set.len(), 1);
    assert_eq!(set.get("Exec"), Some(&Rule::new("Exec", "exec", 1)));
    assert_eq!(set.get("Error"), None);
}

#[test]
fn list_by_score_then_pattern() {
    let set = rules(&[
        ("b", "", 1),
        ("c", "", 5),
        ("a", "", 1),
        ("d", "", -3),
        ("e", "", 5),
    ]);
    let order: Vec<(&str, i64)> = set
        .list()
        .iter()
        .map(|r| (r.pattern.as_str(), r.score))
        .collect();
    assert_eq!(order, [("c", 5), ("e", 5), ("a", 1), ("b", 1), ("d", -3)]);
}

#[test]
fn invalid_regex_is_refused() {
    let mut set = rules(&[("ok", "fine", 1)]);
    let err = set.add(Rule::new("error: (", "x", 1)).unwrap_err();
    let Error::InvalidPattern { pattern, error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(pattern, "error: (");
    assert!(matches!(error, regex::Error::Syntax(_)));
    assert_eq!(
        err.to_string(),
        "invalid log rule pattern \"error: (\": regex parse error:\n    error: (\n           ^\nerror: unclosed group"
    );
    assert_eq!(Rule::new("error: (", "x", 1).check(), Err(err));
    // The set is unchanged.
    assert_eq!(set.list(), [&Rule::new("ok", "fine", 1)]);
    assert_eq!(Rule::new("ok", "", 0).check(), Ok(()));
}

#[test]
fn huge_pattern_is_refused() {
    let mut set = RuleSet::new();
    let err = set.add(Rule::new(r"\w{1000}", "too big", 1)).unwrap_err();
    let Error::InvalidPattern { pattern, error } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(pattern, r"\w{1000}");
    assert!(
        matches!(error, regex::Error::CompiledTooBig(_)),
        "{error:?}"
    );
    assert!(
        err.to_string().starts_with(
            r#"invalid log rule pattern "\\w{1000}": Compiled regex exceeds size limit"#
        ),
        "{err}"
    );
    assert!(set.is_empty());
}

#[test]
fn log_analysis_lines() {
    let set = rules(&[
        (r"error: (.*)", r"\1", 10),
        (r"Error \d", "make failed", 3),
        ("foo", "foo", 1),
    ]);
    let analysis = set.analyse(LOG);
    assert_eq!(
        analysis.log_lines(),
        [
            "Log analysis:",
            ">>> foo (score = 1)",
            ">>> foo (score = 1)",
            ">>> error: 'bar' undeclared (score = 10)",
            ">>> foo (score = 1)",
            ">>> Error 1 (score = 3)",
        ]
    );
    let mut lines = Vec::new();
    let report = set.analyse_with(LOG, |l| lines.push(l.to_owned()));
    assert_eq!(report.as_deref(), Some("'bar' undeclared"));
    assert_eq!(lines, analysis.log_lines());
}

#[test]
fn no_match() {
    let set = rules(&[
        ("segfault", "crash", 10),
        ("(?:QQ)*", "empty matches count for nothing", 99),
    ]);
    let analysis = set.analyse(LOG);
    assert_eq!(analysis.report, None);
    assert_eq!(analysis.best, None);
    assert!(analysis.matches.is_empty());
    assert!(analysis.log_lines().is_empty());
    let mut lines = Vec::new();
    assert_eq!(set.analyse_with(LOG, |l| lines.push(l.to_owned())), None);
    assert!(lines.is_empty());
    assert_eq!(RuleSet::new().analyse(LOG).report, None);
}

#[test]
fn many_matches_and_long_texts_are_cut() {
    let log = "E\n".repeat(MAX_REPORTED_MATCHES + 5);
    let set = rules(&[("E", "e", 1)]);
    let analysis = set.analyse(&log);
    assert_eq!(analysis.matches.len(), MAX_REPORTED_MATCHES);
    assert!(analysis.more);
    let lines = analysis.log_lines();
    assert_eq!(lines.len(), MAX_REPORTED_MATCHES + 2);
    assert_eq!(lines.last().unwrap(), ">>> ... (more matches not shown)");

    let long = format!("BEGIN{}END", "é".repeat(MAX_SHOWN_MATCH_LEN));
    let set = rules(&[("BEGIN.*END", "long", 1)]);
    let lines = set.analyse(&long).log_lines();
    let shown = lines[1].strip_prefix(">>> ").unwrap();
    let shown = shown.strip_suffix("... (score = 1)").unwrap();
    assert!(long.starts_with(shown));
    assert!(shown.len() <= MAX_SHOWN_MATCH_LEN && shown.len() > MAX_SHOWN_MATCH_LEN - 4);
}

#[test]
fn many_rules_over_a_large_log() {
    let mut log = String::new();
    for i in 0..20_000 {
        log.push_str(&format!("2024-01-02 10:00.01: step {i} ok\n"));
    }
    log.push_str("fatal: code 4217\n");
    let mut set = RuleSet::new();
    for i in 0..300 {
        set.add(Rule::new(
            format!("fatal: code {i}(\\d+)"),
            format!("rule {i}: \\1"),
            i,
        ))
        .unwrap();
    }
    // "fatal: code 4217" matches rules 4, 42 and 421 (and 4217 does not exist).
    let analysis = set.analyse(&log);
    let scores: Vec<i64> = analysis.matches.iter().map(|m| m.rule.score).collect();
    assert_eq!(scores, [42, 4]);
    assert_eq!(analysis.report.as_deref(), Some("rule 42: 17"));
    // A clone analyses the same, and changes to it leave the original alone.
    let mut other = set.clone();
    assert_eq!(other, set);
    other.remove("fatal: code 42(\\d+)").unwrap();
    assert_eq!(other.analyse(&log).report.as_deref(), Some("rule 4: 217"));
    assert_eq!(set.analyse(&log).report.as_deref(), Some("rule 42: 17"));
}
