//! `pipeline!`: each binding form, its values as inputs change, its boxes in the diagram
//! and the source line each box points at.

use std::cell::Cell;
use std::rc::Rc;

use current::incr::{Graph, Var};
use current::pipeline;
use current::term::{analysis, ErrorKind, Executor, Observed, Outcome, Term};

fn change<T: 'static>(g: &mut Graph, var: &Var<T>, value: T) {
    g.change(var, value).expect("change");
    g.propagate().expect("propagate");
}

/// The line of this file where `marker` is written (once).
fn line_of(marker: &str) -> usize {
    let source = include_str!("pipeline.rs");
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(marker) && !l.contains(&format!("\"{marker}")))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{marker:?} should be written once");
    lines[0]
}

/// The diagram's line for the box labelled `label`.
fn dot_node<'a>(dot: &'a str, label: &str) -> &'a str {
    let wanted = format!("label=\"{label}\"");
    dot.lines()
        .find(|l| l.contains(&wanted))
        .unwrap_or_else(|| panic!("no box labelled {label:?} in\n{dot}"))
}

#[test]
fn map_and_pairs_follow_their_inputs() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(2));
    let y: Var<Outcome<i32>> = g.var(Ok(3));
    let calls = Rc::new(Cell::new(0));
    let exec = Executor::run(&mut g, || {
        let (x, y) = (
            Term::of_changeable("x", x.changeable()),
            Term::of_changeable("y", y.changeable()),
        );
        pipeline! {
            let calls = calls.clone();
            let+ a = x and+ b = y;
            calls.set(calls.get() + 1);
            a * 10 + b
        }
    });
    assert_eq!(exec.observe(&g), Observed::Ok(23));
    change(&mut g, &x, Ok(4));
    assert_eq!(exec.observe(&g), Observed::Ok(43));
    change(&mut g, &y, Err(ErrorKind::msg("no y")));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), Err(ErrorKind::msg("no y")));
    assert_eq!(calls.get(), 2);
}

#[test]
fn bind_makes_a_labelled_box_and_rebuilds_its_pipeline() {
    let mut g = Graph::new();
    let n: Var<Outcome<usize>> = g.var(Ok(2));
    let exec = Executor::run(&mut g, || {
        let n = Term::of_changeable("n", n.changeable());
        pipeline! {
            let words = Term::value(vec!["a", "b", "c"]);
            component "take {}", "some";
            let* count = n;
            let+ words = words;
            words[..count.min(words.len())].join("")
        }
    });
    assert_eq!(exec.observe(&g), Observed::Ok("ab".to_string()));
    change(&mut g, &n, Ok(3));
    assert_eq!(exec.observe(&g), Observed::Ok("abc".to_string()));
    let dot = analysis::dot(exec.term(), &g);
    let bind = dot_node(&dot, "take some");
    let at = format!(
        "current/tests/it/macros/pipeline.rs:{}:",
        line_of("let* count = n;")
    );
    assert!(bind.contains(&at), "{bind} should point at {at}");
}

#[test]
fn a_bind_without_component_is_labelled_with_its_names() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        pipeline! {
            let* first = Term::value(1) and* second = Term::value(2);
            Term::value(first + second)
        }
    });
    assert_eq!(exec.observe(&g), Observed::Ok(3));
    let dot = analysis::dot(exec.term(), &g);
    dot_node(&dot, "first, second");
}

#[test]
fn an_inline_primitive_outputs_its_body_and_owns_its_errors() {
    let mut g = Graph::new();
    let version: Var<Outcome<u32>> = g.var(Ok(3));
    let exec = Executor::run(&mut g, || {
        let version = Term::of_changeable("version", version.changeable());
        pipeline! {
            let minimum = 2;
            component "check version >= {minimum}";
            let> v = version;
            if v >= minimum { Ok(v * 100) } else { Err(format!("version {v} is too old")) }
        }
    });
    assert_eq!(exec.observe(&g), Observed::Ok(300));
    let dot = analysis::dot(exec.term(), &g);
    let check = dot_node(&dot, "check version &gt;= 2");
    let at = format!(
        "current/tests/it/macros/pipeline.rs:{}:",
        line_of("let> v = version;")
    );
    assert!(check.contains(&at), "{check} should point at {at}");

    change(&mut g, &version, Ok(1));
    assert_eq!(
        exec.observe(&g),
        Observed::Msg("version 1 is too old".into())
    );
    // The failure is the box's own: it is drawn failed, not blocked.
    let stats = analysis::stats(exec.term(), &g);
    assert_eq!((stats.failed, stats.blocked), (1, 0), "{stats:?}");
}

#[test]
fn nested_blocks_and_variables_used_by_several_closures() {
    let mut g = Graph::new();
    let src: Var<Outcome<String>> = g.var(Ok("hello".to_string()));
    let exec = Executor::run(&mut g, || {
        let src = Term::of_changeable("src", src.changeable());
        pipeline! {
            let suffix = String::from("!");
            let src = src.clone();
            let size = {
                let+ s = src;
                s.len()
            };
            let shout = {
                let+ s = src;
                format!("{}{suffix}", s.to_uppercase())
            };
            let* n = size;
            let+ text = shout and+ again = src;
            format!("{text} {n} {again}{suffix}")
        }
    });
    assert_eq!(
        exec.observe(&g),
        Observed::Ok("HELLO! 5 hello!".to_string())
    );
    change(&mut g, &src, Ok("hi".to_string()));
    assert_eq!(exec.observe(&g), Observed::Ok("HI! 2 hi!".to_string()));
}

#[test]
fn every_box_points_at_the_line_of_its_binding() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        pipeline! {
            let base = Term::labelled("base", 1);
            component "outer";
            let* a = base;
            component "inner {a}";
            let* b = Term::labelled("again", a + 1);
            Term::value(b)
        }
    });
    assert_eq!(exec.observe(&g), Observed::Ok(2));
    let dot = analysis::dot(exec.term(), &g);
    for (label, marker) in [
        ("outer", "let* a = base;"),
        ("inner 1", "let* b = Term::labelled"),
    ] {
        let at = format!("current/tests/it/macros/pipeline.rs:{}:", line_of(marker));
        let node = dot_node(&dot, label);
        assert!(node.contains(&at), "{node} should point at {at}");
    }
}
