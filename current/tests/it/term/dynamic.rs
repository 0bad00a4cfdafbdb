//! Tests: dynamic.
//!
//! Pipelines whose shape depends on values: `bind`, `list_map`/`list_iter`, `option_map`,
//! `option_iter`, `option_seq`, and the `primitive` hook the runtime builds its steps on;
//! plus the diagram-only wrappers (`collapse`, `collapse_list`, `with_context`), which must
//! not change values.

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::rc::Rc;
use std::sync::Arc;

use current::incr::{Graph, Var};
use current::term::analysis::{self, MetadataError};
use current::term::{
    with_context, Active, ErrorKind, Executor, ListMapOptions, Metadata, Observed, Outcome, Term,
};

// ----- helpers ---------------------------------------------------------------------------

fn msg<T>(m: &str) -> Observed<T> {
    Observed::Msg(Arc::from(m))
}

fn fail<T>(m: &str) -> Outcome<T> {
    Err(ErrorKind::msg(m))
}

fn pending<T>(a: Active) -> Outcome<T> {
    Err(ErrorKind::Active(a))
}

fn change<T: 'static>(g: &mut Graph, var: &Var<T>, value: T) {
    g.change(var, value).expect("change");
    g.propagate().expect("propagate");
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

/// Counts calls of a user function.
#[derive(Clone, Default)]
struct Counter(Rc<Cell<usize>>);

impl Counter {
    fn bump(&self) {
        self.0.set(self.0.get() + 1);
    }
    fn get(&self) -> usize {
        self.0.get()
    }
}

/// A record of what primitives did, in order.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, event: String) {
        self.0.borrow_mut().push(event);
    }
    /// Everything since the last call, emptying the log.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
    /// [`Log::take`], sorted, for events whose order is not specified.
    fn take_sorted(&self) -> Vec<String> {
        let mut events = self.take();
        events.sort();
        events
    }
}

/// A primitive `name` over `t`: on each value `v` it logs `start <name> <v>`, registers a
/// release hook logging `release <name> <v>`, and succeeds with `<name>(<v>)`.
fn tracked<T: Display + Clone + 'static>(t: &Term<T>, log: &Log, name: &str) -> Term<String> {
    let (log, name) = (log.clone(), name.to_string());
    t.primitive(name.clone(), move |g, v| {
        log.push(format!("start {name} {v}"));
        let (l, n, v2) = (log.clone(), name.clone(), v.to_string());
        g.on_release(move || l.push(format!("release {n} {v2}")));
        g.constant((Ok(format!("{name}({v})")), None))
    })
}

// ----- bind ------------------------------------------------------------------------------

#[test]
fn bind_calls_f_on_each_new_value_and_discards_the_previous_pipeline() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let (log, calls) = (Log::default(), Counter::default());
    let (l, c) = (log.clone(), calls.clone());
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("choose", move |v| {
            c.bump();
            tracked(&Term::value(v), &l, "step")
        })
    });
    assert_eq!(exec.result(&g), Ok("step(1)".to_string()));
    assert_eq!(calls.get(), 1);
    assert_eq!(log.take(), ["start step 1"]);

    change(&mut g, &x, Ok(2));
    assert_eq!(exec.result(&g), Ok("step(2)".to_string()));
    assert_eq!(calls.get(), 2);
    assert_eq!(log.take(), ["release step 1", "start step 2"]);

    // The same value again is a new value (every write is a change).
    change(&mut g, &x, Ok(2));
    assert_eq!(calls.get(), 3);
    assert_eq!(log.take(), ["release step 2", "start step 2"]);

    // An input failure passes through, blocked; the nested pipeline is discarded.
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no x"));
    assert_eq!(calls.get(), 3);
    assert_eq!(log.take(), ["release step 2"]);

    change(&mut g, &x, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    assert_eq!(calls.get(), 3);
    assert_eq!(log.take(), Vec::<String>::new());

    change(&mut g, &x, Ok(3));
    assert_eq!(exec.observe(&g), Observed::Ok("step(3)".to_string()));
    assert_eq!(calls.get(), 4);
    assert_eq!(log.take(), ["start step 3"]);
}

#[test]
fn bind_input_error_is_owned_by_the_input() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(fail("no x"));
    let input = Term::of_changeable("x", x.changeable());
    let bound = input.bind("b", |v| Term::value(v * 2));
    let exec = Executor::run(&mut g, {
        let bound = bound.clone();
        move || bound
    });
    let e = g
        .observe(&exec.output())
        .expect("live")
        .clone()
        .expect_err("failed");
    assert_eq!(e.source, input.id());
    assert_eq!(exec.observe(&g), Observed::Blocked);
    change(&mut g, &x, Ok(4));
    assert_eq!(exec.observe(&g), Observed::Ok(8));
}

#[test]
fn bind_shows_the_nested_terms_output() {
    let mut g = Graph::new();
    let x: Var<Outcome<&'static str>> = g.var(Ok("ok"));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("b", |v: &'static str| match v {
            "ok" => Term::value(1),
            "fail" => Term::fail("nested failure"),
            _ => Term::active(Active::WaitingForConfirmation),
        })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(1));
    // The nested term owns its failure: the bind shows it as blocked.
    change(&mut g, &x, Ok("fail"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("nested failure"));
    change(&mut g, &x, Ok("wait"));
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
    change(&mut g, &x, Ok("ok"));
    assert_eq!(exec.observe(&g), Observed::Ok(1));
}

#[test]
fn bind_result_follows_the_nested_pipeline_without_calling_f_again() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let y: Var<Outcome<i32>> = g.var(Ok(10));
    let calls = Counter::default();
    let c = calls.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("b", move |v| {
            c.bump();
            Term::of_changeable("y", y.changeable()).map(move |w| v + w)
        })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(11));
    change(&mut g, &y, Ok(20));
    assert_eq!(exec.observe(&g), Observed::Ok(21));
    assert_eq!(calls.get(), 1);
    change(&mut g, &y, fail("no y"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no y"));
    assert_eq!(calls.get(), 1);
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.result(&g), fail("no y"));
    assert_eq!(calls.get(), 2);
    change(&mut g, &y, Ok(30));
    assert_eq!(exec.observe(&g), Observed::Ok(32));
    assert_eq!(calls.get(), 2);
}

#[test]
fn nested_binds() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let y: Var<Outcome<i32>> = g.var(Ok(10));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("outer", move |a| {
            let l = l.clone();
            Term::of_changeable("y", y.changeable())
                .bind("inner", move |b| tracked(&Term::value(a + b), &l, "sum"))
        })
    });
    assert_eq!(exec.result(&g), Ok("sum(11)".to_string()));
    assert_eq!(log.take(), ["start sum 11"]);
    change(&mut g, &y, Ok(20));
    assert_eq!(exec.result(&g), Ok("sum(21)".to_string()));
    assert_eq!(log.take(), ["release sum 11", "start sum 21"]);
    // Re-running the outer bind discards the inner bind and everything in it.
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.result(&g), Ok("sum(22)".to_string()));
    assert_eq!(log.take(), ["release sum 21", "start sum 22"]);
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(log.take(), ["release sum 22"]);
}

#[test]
fn a_term_made_outside_a_bind_but_first_used_inside_it_outlives_the_bind() {
    let mut g = Graph::new();
    let s: Var<Outcome<i32>> = g.var(Ok(1));
    let k: Var<Outcome<i32>> = g.var(Ok(100));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        // Made here, at the top level, but used only inside the bind.
        let shared = tracked(&Term::of_changeable("s", s.changeable()), &l, "shared");
        Term::of_changeable("k", k.changeable())
            .bind("pick", move |k| shared.map(move |v| format!("{v}+{k}")))
    });
    assert_eq!(exec.result(&g), Ok("shared(1)+100".to_string()));
    assert_eq!(log.take(), ["start shared 1"]);

    // The bind re-runs: the shared term is not discarded, nor re-run.
    change(&mut g, &k, Ok(200));
    assert_eq!(exec.result(&g), Ok("shared(1)+200".to_string()));
    assert_eq!(log.take(), Vec::<String>::new());
    change(&mut g, &k, fail("no k"));
    assert_eq!(exec.result(&g), fail("no k"));
    assert_eq!(log.take(), Vec::<String>::new());
    change(&mut g, &k, Ok(300));
    assert_eq!(exec.result(&g), Ok("shared(1)+300".to_string()));
    assert_eq!(log.take(), Vec::<String>::new());

    // And it is still live: a change of its input reaches the bind's result.
    change(&mut g, &s, Ok(2));
    assert_eq!(exec.result(&g), Ok("shared(2)+300".to_string()));
    assert_eq!(log.take(), ["release shared 1", "start shared 2"]);
}

#[test]
fn a_term_shared_between_a_bind_and_the_top_level_stays_live_for_both() {
    let mut g = Graph::new();
    let s: Var<Outcome<i32>> = g.var(Ok(1));
    let k: Var<Outcome<i32>> = g.var(Ok(100));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        let shared = tracked(&Term::of_changeable("s", s.changeable()), &l, "shared");
        let inner = {
            let shared = shared.clone();
            Term::of_changeable("k", k.changeable())
                .bind("pick", move |k| shared.map(move |v| format!("{v}+{k}")))
        };
        let outer = shared.map(|v| format!("top {v}"));
        inner.pair(&outer)
    });
    let both = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
    assert_eq!(exec.result(&g), both("shared(1)+100", "top shared(1)"));
    change(&mut g, &k, Ok(200));
    assert_eq!(exec.result(&g), both("shared(1)+200", "top shared(1)"));
    change(&mut g, &s, Ok(2));
    assert_eq!(exec.result(&g), both("shared(2)+200", "top shared(2)"));
    assert_eq!(
        log.take(),
        ["start shared 1", "release shared 1", "start shared 2"]
    );
}

/// A shared input `s` behind a tracked primitive, and a bind over `k` that uses it; all of
/// it built *before* `Executor::run`, as a user may well do. `consumer_first` puts a
/// top-level consumer of the shared term before the bind in the root pair.
struct Prebuilt {
    g: Graph,
    s: Var<Outcome<i32>>,
    k: Var<Outcome<i32>>,
    log: Log,
    exec: Executor<(String, String)>,
}

fn prebuilt(consumer_first: bool) -> Prebuilt {
    let mut g = Graph::new();
    let s: Var<Outcome<i32>> = g.var(Ok(1));
    let k: Var<Outcome<i32>> = g.var(Ok(100));
    let log = Log::default();
    let shared = tracked(&Term::of_changeable("s", s.changeable()), &log, "shared");
    let inner = {
        let shared = shared.clone();
        Term::of_changeable("k", k.changeable())
            .bind("pick", move |k| shared.map(move |v| format!("{v}+{k}")))
    };
    let outer = shared.map(|v| format!("top {v}"));
    let root = if consumer_first {
        outer.pair(&inner).map(|(o, i)| (i, o))
    } else {
        inner.pair(&outer)
    };
    let exec = Executor::run(&mut g, move || root);
    Prebuilt { g, s, k, log, exec }
}

fn both(a: &str, b: &str) -> Outcome<(String, String)> {
    Ok((a.to_string(), b.to_string()))
}

#[test]
fn a_term_built_before_the_executor_and_used_inside_a_bind_and_after_it_stays_live() {
    let mut p = prebuilt(false);
    assert_eq!(p.exec.result(&p.g), both("shared(1)+100", "top shared(1)"));
    assert_eq!(p.log.take(), ["start shared 1"]);
    change(&mut p.g, &p.k, Ok(200));
    assert_eq!(p.exec.result(&p.g), both("shared(1)+200", "top shared(1)"));
    assert_eq!(p.log.take(), Vec::<String>::new());
    change(&mut p.g, &p.s, Ok(2));
    assert_eq!(p.exec.result(&p.g), both("shared(2)+200", "top shared(2)"));
    assert_eq!(p.log.take(), ["release shared 1", "start shared 2"]);
}

#[test]
fn a_term_built_before_the_executor_and_used_by_a_bind_first_stays_live() {
    let mut p = prebuilt(true);
    assert_eq!(p.exec.result(&p.g), both("shared(1)+100", "top shared(1)"));
    assert_eq!(p.log.take(), ["start shared 1"]);

    change(&mut p.g, &p.k, Ok(200));
    assert_eq!(p.exec.result(&p.g), both("shared(1)+200", "top shared(1)"));
    assert_eq!(
        p.log.take(),
        Vec::<String>::new(),
        "the shared term is not discarded"
    );

    change(&mut p.g, &p.s, Ok(2));
    assert_eq!(
        p.exec.result(&p.g),
        both("shared(2)+200", "top shared(2)"),
        "the top-level consumer still follows the shared term"
    );
}

#[test]
fn a_term_built_before_the_executor_and_used_only_inside_a_bind_outlives_the_bind() {
    let mut g = Graph::new();
    let s: Var<Outcome<i32>> = g.var(Ok(1));
    let k: Var<Outcome<i32>> = g.var(Ok(100));
    let log = Log::default();
    let shared = tracked(&Term::of_changeable("s", s.changeable()), &log, "shared");
    let root = Term::of_changeable("k", k.changeable())
        .bind("pick", move |k| shared.map(move |v| format!("{v}+{k}")));
    let exec = Executor::run(&mut g, move || root);
    assert_eq!(exec.result(&g), Ok("shared(1)+100".to_string()));
    assert_eq!(log.take(), ["start shared 1"]);

    change(&mut g, &k, Ok(200));
    assert_eq!(exec.result(&g), Ok("shared(1)+200".to_string()));
    assert_eq!(
        log.take(),
        Vec::<String>::new(),
        "the shared term is not re-run"
    );
}

// ----- list_map --------------------------------------------------------------------------

/// A list input and a `list_map` over it whose item pipeline is a [`tracked`] primitive;
/// `calls` counts the calls of the function given to `list_map`.
struct Lists {
    g: Graph,
    items: Var<Outcome<Vec<String>>>,
    log: Log,
    calls: Counter,
    exec: Executor<Vec<String>>,
}

fn lists(initial: Outcome<Vec<String>>) -> Lists {
    let mut g = Graph::new();
    let items = g.var(initial);
    let (log, calls) = (Log::default(), Counter::default());
    let (l, c) = (log.clone(), calls.clone());
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("items", items.changeable()).list_map(move |item| {
            c.bump();
            tracked(&item, &l, "test")
        })
    });
    Lists {
        g,
        items,
        log,
        calls,
        exec,
    }
}

fn tests_of(xs: &[&str]) -> Outcome<Vec<String>> {
    Ok(xs.iter().map(|x| format!("test({x})")).collect())
}

#[test]
fn list_map_applies_f_only_to_new_items() {
    let mut l = lists(Ok(strings(&["a", "b"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["a", "b"]));
    assert_eq!(l.calls.get(), 2);
    assert_eq!(l.log.take_sorted(), ["start test a", "start test b"]);

    // Added: only the new item gets a pipeline.
    change(&mut l.g, &l.items, Ok(strings(&["a", "b", "c"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["a", "b", "c"]));
    assert_eq!(l.calls.get(), 3);
    assert_eq!(l.log.take(), ["start test c"]);

    // Removed: its pipeline is discarded, the others are left alone. Reordered: the result
    // follows the input's order.
    change(&mut l.g, &l.items, Ok(strings(&["c", "a"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["c", "a"]));
    assert_eq!(l.calls.get(), 3);
    assert_eq!(l.log.take(), ["release test b"]);

    // Duplicates share one pipeline, and the result keeps them.
    change(&mut l.g, &l.items, Ok(strings(&["a", "c", "a"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["a", "c", "a"]));
    assert_eq!(l.calls.get(), 3);
    assert_eq!(l.log.take(), Vec::<String>::new());

    // Added and removed at once.
    change(&mut l.g, &l.items, Ok(strings(&["d", "a", "b", "d"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["d", "a", "b", "d"]));
    assert_eq!(l.calls.get(), 5);
    assert_eq!(
        l.log.take_sorted(),
        ["release test c", "start test b", "start test d"]
    );

    // The same list again: nothing to do.
    change(&mut l.g, &l.items, Ok(strings(&["d", "a", "b", "d"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["d", "a", "b", "d"]));
    assert_eq!(l.calls.get(), 5);
    assert_eq!(l.log.take(), Vec::<String>::new());
}

#[test]
fn list_map_of_an_empty_list_is_ok_empty() {
    let mut l = lists(Ok(vec![]));
    assert_eq!(l.exec.observe(&l.g), Observed::Ok(vec![]));
    // `f` is applied once, to a placeholder, for the diagram; nothing runs.
    assert_eq!(l.calls.get(), 1);
    assert_eq!(l.log.take(), Vec::<String>::new());

    change(&mut l.g, &l.items, Ok(strings(&["a"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["a"]));
    assert_eq!(l.calls.get(), 2);
    assert_eq!(l.log.take(), ["start test a"]);

    change(&mut l.g, &l.items, Ok(vec![]));
    assert_eq!(l.exec.observe(&l.g), Observed::Ok(vec![]));
    assert_eq!(l.calls.get(), 3);
    assert_eq!(l.log.take(), ["release test a"]);
}

#[test]
fn list_map_input_failure_is_blocked_and_drops_every_item() {
    let mut l = lists(Ok(strings(&["a", "b"])));
    assert_eq!(l.log.take_sorted(), ["start test a", "start test b"]);

    change(&mut l.g, &l.items, fail("no list"));
    assert_eq!(l.exec.observe(&l.g), Observed::Blocked);
    assert_eq!(l.exec.result(&l.g), fail("no list"));
    assert_eq!(l.log.take_sorted(), ["release test a", "release test b"]);
    // One more call of `f`: the template the diagram shows.
    assert_eq!(l.calls.get(), 3);

    change(&mut l.g, &l.items, pending(Active::Running));
    assert_eq!(l.exec.observe(&l.g), Observed::Active(Active::Running));
    assert_eq!(l.log.take(), Vec::<String>::new());

    // Back: every item is new again.
    change(&mut l.g, &l.items, Ok(strings(&["b", "a"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["b", "a"]));
    assert_eq!(l.log.take_sorted(), ["start test a", "start test b"]);
}

#[test]
fn list_map_starting_from_an_unavailable_list() {
    let mut l = lists(pending(Active::Ready));
    assert_eq!(l.exec.observe(&l.g), Observed::Active(Active::Ready));
    assert_eq!(l.log.take(), Vec::<String>::new());
    change(&mut l.g, &l.items, Ok(strings(&["x"])));
    assert_eq!(l.exec.result(&l.g), tests_of(&["x"]));
    assert_eq!(l.log.take(), ["start test x"]);
}

/// A `list_map` whose item pipeline fails for items starting with `bad` and is running for
/// items starting with `wait`.
fn checked(items: &[&str]) -> (Observed<Vec<String>>, Outcome<Vec<String>>) {
    let mut g = Graph::new();
    let items = g.var(Ok(strings(items)));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("items", items.changeable()).list_map(|item| {
            item.primitive("check", |g, s: String| {
                let out = if s.starts_with("bad") {
                    fail(&format!("{s} is bad"))
                } else if s.starts_with("wait") {
                    pending(Active::Running)
                } else {
                    Ok(s)
                };
                g.constant((out, None))
            })
        })
    });
    (exec.observe(&g), exec.result(&g))
}

#[test]
fn list_map_an_item_failure_fails_the_whole_list() {
    assert_eq!(
        checked(&["ok", "bad1"]),
        (Observed::Blocked, fail("bad1 is bad"))
    );
    // The first failure in input order wins.
    assert_eq!(
        checked(&["ok", "bad2", "bad1"]),
        (Observed::Blocked, fail("bad2 is bad"))
    );
    // A failure beats pending work, wherever it is.
    assert_eq!(
        checked(&["wait", "ok", "bad1"]),
        (Observed::Blocked, fail("bad1 is bad"))
    );
    assert_eq!(
        checked(&["ok", "wait"]),
        (Observed::Active(Active::Running), pending(Active::Running))
    );
    assert_eq!(
        checked(&["ok", "fine"]),
        (
            Observed::Ok(strings(&["ok", "fine"])),
            Ok(strings(&["ok", "fine"]))
        )
    );
}

/// Items `a`, `b` each built and paired with a shared `suffix` step made outside the item
/// pipelines: inside `Executor::run`, or before it.
fn shared_suffix(built_before_run: bool) {
    let mut g = Graph::new();
    let items: Var<Outcome<Vec<String>>> = g.var(Ok(strings(&["a", "b"])));
    let suffix: Var<Outcome<i32>> = g.var(Ok(1));
    let (log, calls) = (Log::default(), Counter::default());
    let (l, c) = (log.clone(), calls.clone());
    let pipeline = move || {
        let sfx = tracked(
            &Term::of_changeable("suffix", suffix.changeable()),
            &l,
            "sfx",
        );
        Term::of_changeable("items", items.changeable()).list_map(move |item| {
            c.bump();
            tracked(&item, &l, "build")
                .pair(&sfx)
                .map(|(b, s)| format!("{b}-{s}"))
        })
    };
    let exec = if built_before_run {
        let root = pipeline();
        Executor::run(&mut g, move || root)
    } else {
        Executor::run(&mut g, pipeline)
    };
    assert_eq!(
        exec.result(&g),
        Ok(strings(&["build(a)-sfx(1)", "build(b)-sfx(1)"]))
    );
    assert_eq!(
        log.take_sorted(),
        ["start build a", "start build b", "start sfx 1"]
    );

    // The shared step changes: each item follows, without being rebuilt.
    change(&mut g, &suffix, Ok(2));
    assert_eq!(
        exec.result(&g),
        Ok(strings(&["build(a)-sfx(2)", "build(b)-sfx(2)"]))
    );
    assert_eq!(calls.get(), 2);
    assert_eq!(log.take(), ["release sfx 1", "start sfx 2"]);

    // An item goes: its pipeline is discarded, the shared step is not.
    change(&mut g, &items, Ok(strings(&["b", "c"])));
    assert_eq!(
        exec.result(&g),
        Ok(strings(&["build(b)-sfx(2)", "build(c)-sfx(2)"]))
    );
    assert_eq!(calls.get(), 3);
    assert_eq!(log.take_sorted(), ["release build a", "start build c"]);

    change(&mut g, &suffix, fail("no suffix"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no suffix"));
    assert_eq!(log.take(), ["release sfx 2"]);

    change(&mut g, &suffix, Ok(3));
    assert_eq!(
        exec.result(&g),
        Ok(strings(&["build(b)-sfx(3)", "build(c)-sfx(3)"]))
    );
    assert_eq!(log.take(), ["start sfx 3"]);
    assert_eq!(calls.get(), 3);
}

#[test]
fn list_map_items_share_a_term_made_outside_them() {
    shared_suffix(false);
}

#[test]
fn list_map_items_share_a_term_built_before_the_executor() {
    shared_suffix(true);
}

#[test]
fn list_map_with_a_label_and_collapsed_items_has_the_same_values() {
    let mut g = Graph::new();
    let items: Var<Outcome<Vec<String>>> = g.var(Ok(strings(&["b", "a"])));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        let options = ListMapOptions {
            label: Some("platforms".to_string()),
            collapse_key: Some("platform".to_string()),
        };
        Term::of_changeable("items", items.changeable())
            .list_map_with(options, move |item| tracked(&item, &l, "test"))
    });
    assert_eq!(exec.result(&g), tests_of(&["b", "a"]));
    assert_eq!(log.take_sorted(), ["start test a", "start test b"]);
    change(&mut g, &items, Ok(strings(&["a", "c"])));
    assert_eq!(exec.result(&g), tests_of(&["a", "c"]));
    assert_eq!(log.take_sorted(), ["release test b", "start test c"]);
    change(&mut g, &items, fail("no items"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no items"));
}

#[test]
fn list_map_item_terms_hold_the_item() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::value(vec![3, 1, 2]).list_map(|item: Term<i32>| item.map(|x| x * 10))
    });
    assert_eq!(exec.observe(&g), Observed::Ok(vec![30, 10, 20]));
}

#[test]
fn list_iter_is_ok_when_every_item_is() {
    let mut g = Graph::new();
    let items: Var<Outcome<Vec<String>>> = g.var(Ok(strings(&["a", "b"])));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("items", items.changeable())
            .list_iter(move |item| tracked(&item, &l, "deploy").ignore_value())
    });
    assert_eq!(exec.observe(&g), Observed::Ok(()));
    assert_eq!(log.take_sorted(), ["start deploy a", "start deploy b"]);
    change(&mut g, &items, Ok(strings(&["b"])));
    assert_eq!(exec.observe(&g), Observed::Ok(()));
    assert_eq!(log.take(), ["release deploy a"]);
    change(&mut g, &items, Ok(vec![]));
    assert_eq!(exec.observe(&g), Observed::Ok(()));
    change(&mut g, &items, fail("no items"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no items"));

    let exec = Executor::run(&mut g, || {
        Term::value(strings(&["x", "y"])).list_iter(|item| {
            item.map(|s: String| {
                if s == "y" {
                    panic!("cannot deploy {s}");
                }
            })
        })
    });
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("cannot deploy y"));
}

// ----- option_map, option_iter, option_seq -----------------------------------------------

#[test]
fn option_map_applies_the_pipeline_to_some_only() {
    let mut g = Graph::new();
    let tag: Var<Outcome<Option<String>>> = g.var(Ok(None));
    let (log, calls) = (Log::default(), Counter::default());
    let (l, c) = (log.clone(), calls.clone());
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("tag", tag.changeable()).option_map(move |t| {
            c.bump();
            tracked(&t, &l, "publish")
        })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(None));
    assert_eq!(log.take(), Vec::<String>::new());

    change(&mut g, &tag, Ok(Some("v1".to_string())));
    assert_eq!(
        exec.observe(&g),
        Observed::Ok(Some("publish(v1)".to_string()))
    );
    assert_eq!(log.take(), ["start publish v1"]);

    change(&mut g, &tag, Ok(Some("v2".to_string())));
    assert_eq!(
        exec.observe(&g),
        Observed::Ok(Some("publish(v2)".to_string()))
    );
    assert_eq!(log.take(), ["release publish v1", "start publish v2"]);

    change(&mut g, &tag, Ok(None));
    assert_eq!(exec.observe(&g), Observed::Ok(None));
    assert_eq!(log.take(), ["release publish v2"]);

    change(&mut g, &tag, fail("no tags"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no tags"));
    assert_eq!(log.take(), Vec::<String>::new());

    change(&mut g, &tag, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));

    // The pipeline is built once, whatever the value.
    assert_eq!(calls.get(), 1);
}

#[test]
fn option_map_failure_inside_the_pipeline() {
    let mut g = Graph::new();
    let tag: Var<Outcome<Option<i32>>> = g.var(Ok(Some(0)));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("tag", tag.changeable()).option_map(|t| {
            t.map(|v: i32| {
                if v == 0 {
                    panic!("zero tag");
                }
                v * 2
            })
        })
    });
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("zero tag"));
    change(&mut g, &tag, Ok(Some(4)));
    assert_eq!(exec.observe(&g), Observed::Ok(Some(8)));
    change(&mut g, &tag, Ok(None));
    assert_eq!(exec.observe(&g), Observed::Ok(None));
}

#[test]
fn option_map_labelled_has_the_same_values() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::value(Some(2)).option_map_labelled("double", |t: Term<i32>| t.map(|x| x * 2))
    });
    assert_eq!(exec.observe(&g), Observed::Ok(Some(4)));
    let exec = Executor::run(&mut g, || {
        Term::value(None).option_map_labelled("double", |t: Term<i32>| t.map(|x| x * 2))
    });
    assert_eq!(exec.observe(&g), Observed::Ok(None));
}

#[test]
fn option_iter_is_ok_for_none_and_for_a_successful_some() {
    let mut g = Graph::new();
    let tag: Var<Outcome<Option<String>>> = g.var(Ok(None));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("tag", tag.changeable())
            .option_iter(move |t| tracked(&t, &l, "publish").ignore_value())
    });
    assert_eq!(exec.observe(&g), Observed::Ok(()));
    change(&mut g, &tag, Ok(Some("v1".to_string())));
    assert_eq!(exec.observe(&g), Observed::Ok(()));
    assert_eq!(log.take(), ["start publish v1"]);
    change(&mut g, &tag, fail("no tags"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no tags"));
    assert_eq!(log.take(), ["release publish v1"]);
}

#[test]
fn option_seq_of_none_and_some() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::<i32>::option_seq(None));
    assert_eq!(exec.observe(&g), Observed::Ok(None));
    let exec = Executor::run(&mut g, || Term::option_seq(Some(Term::value(3))));
    assert_eq!(exec.observe(&g), Observed::Ok(Some(3)));
    let exec = Executor::run(&mut g, || Term::<i32>::option_seq(Some(Term::fail("bad"))));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("bad"));
    let exec = Executor::run(&mut g, || {
        Term::<i32>::option_seq(Some(Term::active(Active::Ready)))
    });
    assert_eq!(exec.observe(&g), Observed::Active(Active::Ready));

    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let exec = Executor::run(&mut g, move || {
        Term::option_seq(Some(Term::of_changeable("x", x.changeable())))
    });
    assert_eq!(exec.observe(&g), Observed::Ok(Some(1)));
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(Some(2)));
}

// ----- collapse, collapse_list, with_context ---------------------------------------------

#[test]
fn collapse_passes_the_value_through() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let exec = Executor::run(&mut g, move || {
        let input = Term::of_changeable("x", x.changeable());
        input.map(|v| v * 3).collapse("stage", "build", &input)
    });
    assert_eq!(exec.observe(&g), Observed::Ok(3));
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(6));
    change(&mut g, &x, fail("bad"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("bad"));
    change(&mut g, &x, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
}

#[test]
fn collapse_list_passes_every_value_through() {
    let mut g = Graph::new();
    let a: Var<Outcome<i32>> = g.var(Ok(1));
    let b: Var<Outcome<i32>> = g.var(Ok(2));
    let exec = Executor::run(&mut g, move || {
        let input = Term::labelled("src", ());
        let terms = vec![
            Term::of_changeable("a", a.changeable()),
            Term::of_changeable("b", b.changeable()),
        ];
        let (members, group) = Term::collapse_list("group", "g1", &input, terms);
        assert_eq!(members.len(), 2);
        Term::list_seq(members).pair(&group)
    });
    assert_eq!(exec.observe(&g), Observed::Ok((vec![1, 2], ())));
    change(&mut g, &b, Ok(20));
    assert_eq!(exec.observe(&g), Observed::Ok((vec![1, 20], ())));
    change(&mut g, &a, fail("a broke"));
    assert_eq!(exec.result(&g), fail("a broke"));
}

#[test]
fn collapse_list_group_term_is_all_of_the_members() {
    let mut g = Graph::new();
    let b: Var<Outcome<i32>> = g.var(pending(Active::Running));
    let exec = Executor::run(&mut g, move || {
        let input = Term::labelled("src", ());
        let terms = vec![Term::value(1), Term::of_changeable("b", b.changeable())];
        Term::collapse_list("group", "g1", &input, terms).1
    });
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    change(&mut g, &b, fail("b broke"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("b broke"));
    change(&mut g, &b, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(()));
}

#[test]
fn with_context_does_not_change_values() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let ctx: Var<Outcome<()>> = g.var(fail("context failed"));
    let exec = Executor::run(&mut g, move || {
        let ctx = Term::of_changeable("ctx", ctx.changeable());
        let outer = Term::labelled("outer", 5);
        with_context(&outer, || {
            with_context(&ctx, || {
                let r = with_context(&Term::labelled("innermost", ()), || 7);
                Term::of_changeable("x", x.changeable()).map(move |v| v + r)
            })
        })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(8));
    change(&mut g, &ctx, Ok(()));
    assert_eq!(exec.observe(&g), Observed::Ok(8));
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(9));
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
}

// ----- primitive -------------------------------------------------------------------------

#[test]
fn primitive_runs_f_on_each_new_ok_value() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        tracked(&Term::of_changeable("x", x.changeable()), &l, "build")
    });
    assert_eq!(exec.observe(&g), Observed::Ok("build(1)".to_string()));
    assert_eq!(log.take(), ["start build 1"]);

    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok("build(2)".to_string()));
    assert_eq!(log.take(), ["release build 1", "start build 2"]);

    // Not on errors: the input's error passes through, blocked.
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no x"));
    assert_eq!(log.take(), ["release build 2"]);
    change(&mut g, &x, pending(Active::WaitingForConfirmation));
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
    assert_eq!(log.take(), Vec::<String>::new());

    // The same value as before the error is a new value.
    change(&mut g, &x, Ok(2));
    assert_eq!(log.take(), ["start build 2"]);
}

#[test]
fn primitive_behind_a_cutoff_runs_only_on_values_that_differ() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(10));
    let log = Log::default();
    let l = log.clone();
    let exec = Executor::run(&mut g, move || {
        let tens = Term::of_changeable("x", x.changeable())
            .map(|v| v / 10)
            .cutoff(|a, b| a == b);
        tracked(&tens, &l, "build")
    });
    assert_eq!(log.take(), ["start build 1"]);
    change(&mut g, &x, Ok(15));
    assert_eq!(log.take(), Vec::<String>::new());
    assert_eq!(exec.observe(&g), Observed::Ok("build(1)".to_string()));
    change(&mut g, &x, Ok(20));
    assert_eq!(log.take(), ["release build 1", "start build 2"]);
    assert_eq!(exec.observe(&g), Observed::Ok("build(2)".to_string()));
}

#[test]
fn primitive_outcome_errors_are_its_own() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let state: Var<Outcome<()>> = g.var(pending(Active::Ready));
    let calls = Counter::default();
    let c = calls.clone();
    let input = Term::of_changeable("x", x.changeable());
    let prim = input.primitive("job", move |g, v: i32| {
        c.bump();
        g.map(&state.changeable(), move |s| (s.map(|()| v * 10), None))
    });
    let after = prim.map(|v| v + 1);
    let exec = Executor::run(&mut g, {
        let prim = prim.clone();
        move || prim
    });
    let exec_after = Executor::run(&mut g, move || after);
    let owner = |g: &Graph| {
        g.observe(&exec.output())
            .expect("live")
            .as_ref()
            .err()
            .map(|e| e.source)
    };

    assert_eq!(exec.observe(&g), Observed::Active(Active::Ready));
    assert_eq!(owner(&g), Some(prim.id()));
    change(&mut g, &state, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    change(&mut g, &state, fail("exit 1"));
    assert_eq!(exec.observe(&g), msg("exit 1"));
    assert_eq!(exec.result(&g), fail("exit 1"));
    assert_eq!(owner(&g), Some(prim.id()));
    assert_eq!(exec_after.observe(&g), Observed::Blocked);
    change(&mut g, &state, Ok(()));
    assert_eq!(exec.observe(&g), Observed::Ok(10));
    assert_eq!(exec_after.observe(&g), Observed::Ok(11));
    // The outcome changed on its own: f was called once.
    assert_eq!(calls.get(), 1);

    // An input failure is the input's, not the primitive's.
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(owner(&g), Some(input.id()));
    assert_eq!(calls.get(), 1);
}

#[test]
fn primitive_metadata() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let input = Term::of_changeable("x", x.changeable());
    let prim = input.primitive("job", |g, v: i32| {
        let meta = Metadata {
            job_id: Some(format!("2026-01-01/000000-job-{v}")),
            update: (v > 1).then_some(Active::Running),
        };
        g.constant((Ok(v), Some(meta)))
    });
    let mapped = prim.map(|v| v * 2);
    let job = |v: i32| Metadata {
        job_id: Some(format!("2026-01-01/000000-job-{v}")),
        update: (v > 1).then_some(Active::Running),
    };

    // Not evaluated yet: no metadata.
    assert_eq!(analysis::metadata(&prim, &g), Ok(None));

    let exec = Executor::run(&mut g, {
        let mapped = mapped.clone();
        move || mapped
    });
    assert_eq!(exec.observe(&g), Observed::Ok(2));
    assert_eq!(analysis::metadata(&prim, &g), Ok(Some(job(1))));
    // Through a map of a primitive too.
    assert_eq!(analysis::metadata(&mapped, &g), Ok(Some(job(1))));

    change(&mut g, &x, Ok(2));
    assert_eq!(analysis::metadata(&prim, &g), Ok(Some(job(2))));

    // An input error: the primitive has produced nothing, so it has no metadata.
    change(&mut g, &x, fail("no x"));
    assert_eq!(analysis::metadata(&prim, &g), Ok(None));

    // An input is a primitive with no metadata.
    assert_eq!(analysis::metadata(&input, &g), Ok(None));
}

#[test]
fn metadata_of_a_non_primitive_term_is_an_error() {
    let g = Graph::new();
    let not_primitive: [Result<Option<Metadata>, MetadataError>; 4] = [
        analysis::metadata(&Term::value(1), &g),
        analysis::metadata(&Term::value(1).pair(&Term::value(2)), &g),
        analysis::metadata(&Term::<i32>::fail("x").catch(), &g),
        analysis::metadata(&Term::value(1).bind("b", Term::value), &g),
    ];
    for r in not_primitive {
        let e = r.expect_err("not a primitive");
        assert_eq!(e, MetadataError::NotPrimitive);
        assert_eq!(e.to_string(), "metadata: this is not a primitive term!");
    }
}
