//! Tests: combinators.
//!
//! The static combinators of `current::term`, ported from OCurrent's `Current_term`: what
//! each one evaluates to when its input is ok, failed, blocked by an upstream failure or
//! pending, and which node owns the error it shows.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use current::incr::{Graph, Var};
use current::term::{Active, ErrorKind, Executor, NodeId, Observed, Outcome, Term};

// ----- helpers ---------------------------------------------------------------------------

/// A failure as observed by the node that produced it.
fn msg<T>(m: &str) -> Observed<T> {
    Observed::Msg(Arc::from(m))
}

/// A failure as user code writes it.
fn fail<T>(m: &str) -> Outcome<T> {
    Err(ErrorKind::msg(m))
}

fn pending<T>(a: Active) -> Outcome<T> {
    Err(ErrorKind::Active(a))
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

/// The node that produced the error a pipeline shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// No error: the pipeline is `Ok`.
    NoError,
    /// The root of the pipeline: the combinator under test.
    Root,
    /// The pipeline's input.
    Input,
    /// Some other node.
    Other,
}

/// What a pipeline shows: as observed by its root, as a result, and who owns the error.
#[derive(Debug, PartialEq)]
struct Seen<U> {
    observed: Observed<U>,
    result: Outcome<U>,
    owner: Owner,
}

fn owner_of<U: Clone + 'static>(exec: &Executor<U>, g: &Graph, input: Option<NodeId>) -> Owner {
    match g.observe(&exec.output()).expect("the output is live") {
        Ok(_) => Owner::NoError,
        Err(e) if e.source == exec.term().id() => Owner::Root,
        Err(e) if Some(e.source) == input => Owner::Input,
        Err(_) => Owner::Other,
    }
}

fn seen<U: Clone + 'static>(exec: &Executor<U>, g: &Graph, input: Option<NodeId>) -> Seen<U> {
    Seen {
        observed: exec.observe(g),
        result: exec.result(g),
        owner: owner_of(exec, g, input),
    }
}

/// Evaluate `f` applied to an input holding `input`; the root of the pipeline is the term
/// `f` returns.
fn eval<T: Clone + 'static, U: Clone + 'static>(
    input: Outcome<T>,
    f: impl FnOnce(Term<T>) -> Term<U>,
) -> Seen<U> {
    let mut g = Graph::new();
    let var = g.var(input);
    let input_id = Rc::new(Cell::new(None));
    let id = input_id.clone();
    let exec = Executor::run(&mut g, move || {
        let input = Term::of_changeable("input", var.changeable());
        id.set(Some(input.id()));
        f(input)
    });
    seen(&exec, &g, input_id.get())
}

fn ok<U: Clone>(v: U) -> Seen<U> {
    Seen {
        observed: Observed::Ok(v.clone()),
        result: Ok(v),
        owner: Owner::NoError,
    }
}

/// The root's own failure.
fn failed<U>(m: &str) -> Seen<U> {
    Seen {
        observed: msg(m),
        result: fail(m),
        owner: Owner::Root,
    }
}

/// A failure of the input, seen downstream.
fn blocked<U>(m: &str) -> Seen<U> {
    Seen {
        observed: Observed::Blocked,
        result: fail(m),
        owner: Owner::Input,
    }
}

/// Pending work of the input, seen downstream.
fn input_active<U>(a: Active) -> Seen<U> {
    Seen {
        observed: Observed::Active(a),
        result: pending(a),
        owner: Owner::Input,
    }
}

fn change<T: 'static>(g: &mut Graph, var: &Var<T>, value: T) {
    g.change(var, value).expect("change");
    g.propagate().expect("propagate");
}

/// An executor over a term built outside it (to keep the term's id at hand).
fn run<T: Clone + 'static>(g: &mut Graph, t: &Term<T>) -> Executor<T> {
    let t = t.clone();
    Executor::run(g, move || t)
}

// ----- constants -------------------------------------------------------------------------

#[test]
fn value_is_ok() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::value(42));
    assert_eq!(seen(&exec, &g, None), ok(42));
}

#[test]
fn labelled_is_ok() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::labelled("answer", "forty-two".to_string()));
    assert_eq!(seen(&exec, &g, None), ok("forty-two".to_string()));
}

#[test]
fn fail_is_its_own_failure() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::<i32>::fail("crashed"));
    assert_eq!(seen(&exec, &g, None), failed("crashed"));
}

#[test]
fn active_is_its_own_pending_state() {
    for a in [
        Active::Ready,
        Active::Running,
        Active::WaitingForConfirmation,
    ] {
        let mut g = Graph::new();
        let exec = Executor::run(&mut g, move || Term::<i32>::active(a));
        assert_eq!(
            seen(&exec, &g, None),
            Seen {
                observed: Observed::Active(a),
                result: pending(a),
                owner: Owner::Root,
            }
        );
    }
}

#[test]
fn of_output_is_the_outcome_owned_by_itself() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::of_output(Ok(7)));
    assert_eq!(seen(&exec, &g, None), ok(7));

    let exec = Executor::run(&mut g, || Term::<i32>::of_output(fail("bad output")));
    assert_eq!(seen(&exec, &g, None), failed("bad output"));

    let exec = Executor::run(&mut g, || Term::<i32>::of_output(pending(Active::Running)));
    assert_eq!(
        seen(&exec, &g, None),
        Seen {
            observed: Observed::Active(Active::Running),
            result: pending(Active::Running),
            owner: Owner::Root,
        }
    );
}

#[test]
fn an_input_shows_its_own_failure_and_pending_state() {
    assert_eq!(eval(Ok(1), |t| t), ok(1));
    // The input is the root here: its failure is its own.
    let s = eval::<i32, i32>(fail("no input"), |t| t);
    assert_eq!(s.observed, msg("no input"));
    assert_eq!(s.result, fail("no input"));
    assert_eq!(s.owner, Owner::Root);
    let s = eval::<i32, i32>(pending(Active::Ready), |t| t);
    assert_eq!(s.observed, Observed::Active(Active::Ready));
    assert_eq!(s.owner, Owner::Root);
}

// ----- map and friends -------------------------------------------------------------------

#[test]
fn map_ok_blocked_and_active() {
    assert_eq!(eval(Ok(4), |t| t.map(|x: i32| x * 10)), ok(40));
    assert_eq!(
        eval(fail("no input"), |t| t.map(|x: i32| x * 10)),
        blocked("no input")
    );
    assert_eq!(
        eval(pending(Active::Running), |t| t.map(|x: i32| x * 10)),
        input_active(Active::Running)
    );
    assert_eq!(
        eval(pending(Active::WaitingForConfirmation), |t| t
            .map(|x: i32| x * 10)),
        input_active(Active::WaitingForConfirmation)
    );
}

#[test]
fn map_follows_its_input_and_only_runs_on_ok_values() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let calls = Counter::default();
    let c = calls.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).map(move |v| {
            c.bump();
            v + 100
        })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(101));
    assert_eq!(calls.get(), 1);

    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(102));
    assert_eq!(calls.get(), 2);

    change(&mut g, &x, fail("gone"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("gone"));
    change(&mut g, &x, pending(Active::Ready));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Ready));
    assert_eq!(calls.get(), 2, "f is not called on errors");

    change(&mut g, &x, Ok(3));
    assert_eq!(exec.observe(&g), Observed::Ok(103));
    assert_eq!(calls.get(), 3);
}

#[test]
fn a_panic_in_map_is_a_failure_of_the_map_and_the_graph_stays_usable() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(0));
    let input = Term::of_changeable("x", x.changeable());
    let risky = input.map(|v: i32| {
        if v == 0 {
            panic!("cannot handle {v}");
        }
        100 / v
    });
    let after = risky.map(|v| v + 1);
    let exec_risky = run(&mut g, &risky);
    let exec_after = run(&mut g, &after);

    // Observed at the map itself: its own failure, carrying the panic message.
    assert_eq!(
        seen(&exec_risky, &g, Some(input.id())),
        failed("cannot handle 0")
    );
    let out = g.observe(&exec_risky.output()).expect("live").clone();
    assert_eq!(out.expect_err("failed").source, risky.id());
    // Observed downstream: blocked by the map.
    assert_eq!(exec_after.observe(&g), Observed::Blocked);
    assert_eq!(exec_after.result(&g), fail("cannot handle 0"));

    change(&mut g, &x, Ok(5));
    assert_eq!(exec_risky.observe(&g), Observed::Ok(20));
    assert_eq!(exec_after.observe(&g), Observed::Ok(21));

    // And again: a panic after a success, then a recovery.
    change(&mut g, &x, Ok(0));
    assert_eq!(exec_risky.observe(&g), msg("cannot handle 0"));
    assert_eq!(exec_after.observe(&g), Observed::Blocked);
    change(&mut g, &x, Ok(50));
    assert_eq!(exec_after.observe(&g), Observed::Ok(3));
}

#[test]
fn a_panic_with_a_non_string_payload_still_fails_the_map() {
    let s = eval(Ok(1), |t| {
        t.map(|_: i32| -> i32 { std::panic::panic_any(17_u8) })
    });
    assert_eq!(s, failed("(non-string panic payload)"));
}

#[test]
fn map_eq_does_not_rerun_consumers_on_an_equal_result() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(11));
    let (tens, consumer) = (Counter::default(), Counter::default());
    let (t, c) = (tens.clone(), consumer.clone());
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable())
            .map_eq(
                move |v: i32| {
                    t.bump();
                    v / 10
                },
                |a, b| a == b,
            )
            // `state` so that the consumer also sees (and counts) errors.
            .state()
            .map(move |d| {
                c.bump();
                d
            })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(1)));
    assert_eq!((tens.get(), consumer.get()), (1, 1));

    change(&mut g, &x, Ok(12));
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(1)));
    assert_eq!(
        (tens.get(), consumer.get()),
        (2, 1),
        "equal: consumer not re-run"
    );

    change(&mut g, &x, Ok(25));
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(2)));
    assert_eq!((tens.get(), consumer.get()), (3, 2));

    // An error is a change; the same error again (same owner, same kind) is not.
    change(&mut g, &x, fail("gone"));
    assert_eq!(exec.observe(&g), Observed::Ok(fail("gone")));
    assert_eq!((tens.get(), consumer.get()), (3, 3));
    change(&mut g, &x, fail("gone"));
    assert_eq!(
        (tens.get(), consumer.get()),
        (3, 3),
        "same error: no change"
    );
    change(&mut g, &x, fail("gone again"));
    assert_eq!(exec.observe(&g), Observed::Ok(fail("gone again")));
    assert_eq!((tens.get(), consumer.get()), (3, 4));
    change(&mut g, &x, pending(Active::Running));
    assert_eq!((tens.get(), consumer.get()), (3, 5));
    change(&mut g, &x, pending(Active::Running));
    assert_eq!(
        (tens.get(), consumer.get()),
        (3, 5),
        "same state: no change"
    );

    // Ok after an error is a change, even to the value shown before it.
    change(&mut g, &x, Ok(29));
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(2)));
    assert_eq!((tens.get(), consumer.get()), (4, 6));
}

#[test]
fn plain_map_reruns_consumers_even_on_an_equal_result() {
    // OCaml's default equality is physical: every new result is a change.
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(11));
    let consumer = Counter::default();
    let c = consumer.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable())
            .map(|v: i32| v / 10)
            .map(move |d| {
                c.bump();
                d
            })
    });
    assert_eq!(consumer.get(), 1);
    change(&mut g, &x, Ok(12));
    assert_eq!(exec.observe(&g), Observed::Ok(1));
    assert_eq!(consumer.get(), 2);
}

#[test]
fn cutoff_does_not_rerun_consumers_on_an_equal_value() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(3));
    let consumer = Counter::default();
    let c = consumer.clone();
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable())
            .cutoff(|a: &i32, b: &i32| a % 2 == b % 2)
            .map(move |v| {
                c.bump();
                v
            })
    });
    assert_eq!(exec.observe(&g), Observed::Ok(3));
    assert_eq!(consumer.get(), 1);

    change(&mut g, &x, Ok(5));
    // Equal by `eq`: the consumer keeps the old value.
    assert_eq!(exec.observe(&g), Observed::Ok(3));
    assert_eq!(consumer.get(), 1);

    change(&mut g, &x, Ok(6));
    assert_eq!(exec.observe(&g), Observed::Ok(6));
    assert_eq!(consumer.get(), 2);

    // cutoff passes errors through, still owned by the input.
    assert_eq!(
        eval(fail("bad"), |t| t.cutoff(|a: &i32, b: &i32| a == b)),
        blocked("bad")
    );
    assert_eq!(
        eval(pending(Active::Ready), |t| t
            .cutoff(|a: &i32, b: &i32| a == b)),
        input_active(Active::Ready)
    );
}

#[test]
fn map_error_rewrites_failures_and_owns_them() {
    let wrap = |t: Term<i32>| t.map_error(|m| format!("wrapped: {m}"));
    assert_eq!(eval(Ok(1), wrap), ok(1));
    // The rewritten failure belongs to the map_error node: failed, not blocked.
    assert_eq!(eval(fail("bad"), wrap), failed("wrapped: bad"));
    // Pending states pass through untouched, still owned by the input.
    assert_eq!(
        eval(pending(Active::Running), wrap),
        input_active(Active::Running)
    );
    assert_eq!(
        eval(pending(Active::WaitingForConfirmation), wrap),
        input_active(Active::WaitingForConfirmation)
    );
}

#[test]
fn map_error_source_is_the_map_error_node_and_downstream_is_blocked() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(fail("disk full"));
    let input = Term::of_changeable("x", x.changeable());
    let rewritten = input.map_error(|m| format!("build: {m}"));
    let after = rewritten.map(|v| v * 2);
    let exec = run(&mut g, &rewritten);
    let exec_after = run(&mut g, &after);

    let out = g.observe(&exec.output()).expect("live").clone();
    let e = out.expect_err("failed");
    assert_eq!(e.source, rewritten.id());
    assert_ne!(e.source, input.id());
    assert_eq!(e.kind, ErrorKind::msg("build: disk full"));
    assert_eq!(exec_after.observe(&g), Observed::Blocked);
    assert_eq!(exec_after.result(&g), fail("build: disk full"));

    change(&mut g, &x, Ok(21));
    assert_eq!(exec_after.observe(&g), Observed::Ok(42));
}

#[test]
fn a_panic_in_map_error_is_the_failure_message() {
    let s = eval(fail("bad"), |t: Term<i32>| {
        t.map_error(|m: &str| -> String { panic!("could not rewrite {m}") })
    });
    assert_eq!(s, failed("could not rewrite bad"));
    // The function is not called on Ok values or pending states.
    let s = eval(Ok(3), |t: Term<i32>| {
        t.map_error(|m: &str| -> String { panic!("could not rewrite {m}") })
    });
    assert_eq!(s, ok(3));
}

#[test]
fn map_error_of_an_upstream_failure_is_owned_by_map_error() {
    // The failure came from upstream of the input, but map_error re-owns it.
    let s = eval(fail("bad"), |t: Term<i32>| {
        t.map(|x| x + 1).map_error(|m| format!("{m}!"))
    });
    assert_eq!(s, failed("bad!"));
}

#[test]
fn ignore_value_forgets_the_value_only() {
    assert_eq!(eval(Ok(5), |t: Term<i32>| t.ignore_value()), ok(()));
    assert_eq!(
        eval(fail("bad"), |t: Term<i32>| t.ignore_value()),
        blocked("bad")
    );
    assert_eq!(
        eval(pending(Active::Ready), |t: Term<i32>| t.ignore_value()),
        input_active(Active::Ready)
    );
}

// ----- pair, all, all_labelled, list_seq -------------------------------------------------

/// What a pair shows: as observed, as a result, and the owner of its error (`"a"`, `"b"`,
/// or `"-"` for none).
type PairSeen = (Observed<(i32, i32)>, Outcome<(i32, i32)>, &'static str);

/// What `pair(a, b)` shows.
fn pair_of(a: Term<i32>, b: Term<i32>) -> PairSeen {
    let mut g = Graph::new();
    let p = a.pair(&b);
    let exec = run(&mut g, &p);
    let owner = match g.observe(&exec.output()).expect("live") {
        Ok(_) => "-",
        Err(e) if e.source == a.id() => "a",
        Err(e) if e.source == b.id() => "b",
        Err(_) => "?",
    };
    (exec.observe(&g), exec.result(&g), owner)
}

#[test]
fn pair_of_two_values() {
    assert_eq!(
        pair_of(Term::value(1), Term::labelled("two", 2)),
        (Observed::Ok((1, 2)), Ok((1, 2)), "-")
    );
}

#[test]
fn pair_failure_beats_pending_on_either_side() {
    assert_eq!(
        pair_of(Term::fail("left broke"), Term::active(Active::Running)),
        (Observed::Blocked, fail("left broke"), "a")
    );
    assert_eq!(
        pair_of(Term::active(Active::Running), Term::fail("right broke")),
        (Observed::Blocked, fail("right broke"), "b")
    );
    assert_eq!(
        pair_of(Term::value(1), Term::fail("right broke")),
        (Observed::Blocked, fail("right broke"), "b")
    );
    assert_eq!(
        pair_of(Term::fail("left broke"), Term::value(2)),
        (Observed::Blocked, fail("left broke"), "a")
    );
}

#[test]
fn pair_left_before_right() {
    assert_eq!(
        pair_of(Term::fail("left"), Term::fail("right")),
        (Observed::Blocked, fail("left"), "a")
    );
    assert_eq!(
        pair_of(Term::active(Active::Ready), Term::active(Active::Running)),
        (Observed::Active(Active::Ready), pending(Active::Ready), "a")
    );
    assert_eq!(
        pair_of(
            Term::active(Active::WaitingForConfirmation),
            Term::active(Active::Ready)
        ),
        (
            Observed::Active(Active::WaitingForConfirmation),
            pending(Active::WaitingForConfirmation),
            "a"
        )
    );
    assert_eq!(
        pair_of(Term::value(1), Term::active(Active::Running)),
        (
            Observed::Active(Active::Running),
            pending(Active::Running),
            "b"
        )
    );
}

#[test]
fn pair_follows_both_inputs() {
    let mut g = Graph::new();
    let a: Var<Outcome<i32>> = g.var(pending(Active::Running));
    let b: Var<Outcome<i32>> = g.var(fail("b failed"));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("a", a.changeable()).pair(&Term::of_changeable("b", b.changeable()))
    });
    assert_eq!(exec.result(&g), fail("b failed"));
    change(&mut g, &b, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    change(&mut g, &a, Ok(1));
    assert_eq!(exec.observe(&g), Observed::Ok((1, 2)));
    change(&mut g, &a, fail("a failed"));
    change(&mut g, &b, fail("b failed"));
    assert_eq!(exec.result(&g), fail("a failed"));
}

#[test]
fn all_of_nothing_is_ok() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::all(Vec::new()));
    assert_eq!(seen(&exec, &g, None), ok(()));
}

#[test]
fn all_of_one_term_is_that_term() {
    let x = Term::<()>::fail("alone");
    let all = Term::all([x.clone()]);
    assert_eq!(all.id(), x.id());
    let mut g = Graph::new();
    let exec = run(&mut g, &all);
    // The root is the failing term itself: its own failure.
    assert_eq!(seen(&exec, &g, None), failed("alone"));
}

#[test]
fn all_ok_when_every_term_is() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::all([Term::value(()), Term::labelled("b", ()), Term::value(())])
    });
    assert_eq!(seen(&exec, &g, None), ok(()));
}

#[test]
fn all_failure_beats_pending_and_first_wins() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::all([
            Term::value(()),
            Term::active(Active::Running),
            Term::fail("third"),
            Term::fail("fourth"),
        ])
    });
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("third"));

    let exec = Executor::run(&mut g, || {
        Term::all([
            Term::value(()),
            Term::active(Active::WaitingForConfirmation),
            Term::active(Active::Running),
        ])
    });
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
}

/// `all_labelled` over terms that are ok (`None`), failed (`Some(Ok(msg))`) or pending
/// (`Some(Err(state))`).
fn all_labelled(items: &[(&str, Option<Result<&str, Active>>)]) -> (Observed<()>, Outcome<()>) {
    let mut g = Graph::new();
    let items: Vec<(String, Term<()>)> = items
        .iter()
        .map(|(l, s)| {
            let t = match s {
                None => Term::value(()),
                Some(Ok(m)) => Term::fail(*m),
                Some(Err(a)) => Term::active(*a),
            };
            (l.to_string(), t)
        })
        .collect();
    let exec = Executor::run(&mut g, move || Term::all_labelled(items));
    (exec.observe(&g), exec.result(&g))
}

#[test]
fn all_labelled_ok_and_empty() {
    assert_eq!(all_labelled(&[]), (Observed::Ok(()), Ok(())));
    assert_eq!(
        all_labelled(&[("a", None), ("b", None)]),
        (Observed::Ok(()), Ok(()))
    );
}

#[test]
fn all_labelled_names_the_failed_terms() {
    // The failure is a `fail` made inside the `all` bind: the root (the bind) shows it as
    // blocked, as OCurrent's bind shows its nested term's output.
    assert_eq!(
        all_labelled(&[("a", Some(Ok("msg"))), ("b", None)]),
        (Observed::Blocked, fail("a failed: msg"))
    );
    assert_eq!(
        all_labelled(&[("a", None), ("b", Some(Ok("msg")))]),
        (Observed::Blocked, fail("b failed: msg"))
    );
    assert_eq!(
        all_labelled(&[("a", Some(Ok("same msg"))), ("b", Some(Ok("same msg")))]),
        (Observed::Blocked, fail("a, b failed: same msg"))
    );
    assert_eq!(
        all_labelled(&[
            ("a", Some(Ok("same msg"))),
            ("b", None),
            ("c", Some(Ok("same msg")))
        ]),
        (Observed::Blocked, fail("a, c failed: same msg"))
    );
    assert_eq!(
        all_labelled(&[("a", Some(Ok("one"))), ("b", Some(Ok("two")))]),
        (Observed::Blocked, fail("a, b failed"))
    );
    assert_eq!(
        all_labelled(&[
            ("a", Some(Ok("one"))),
            ("b", Some(Ok("two"))),
            ("c", Some(Ok("two")))
        ]),
        (Observed::Blocked, fail("a, b, c failed"))
    );
    assert_eq!(
        all_labelled(&[
            ("a", Some(Ok("one"))),
            ("b", Some(Ok("one"))),
            ("c", Some(Ok("two")))
        ]),
        (Observed::Blocked, fail("a, b, c failed"))
    );
}

#[test]
fn all_labelled_is_pending_while_any_term_is() {
    assert_eq!(
        all_labelled(&[("a", None), ("b", Some(Err(Active::Running)))]),
        (Observed::Active(Active::Running), pending(Active::Running))
    );
    assert_eq!(
        all_labelled(&[
            ("a", Some(Err(Active::Ready))),
            ("b", Some(Err(Active::Running)))
        ]),
        (Observed::Active(Active::Ready), pending(Active::Ready))
    );
    // Failures are caught (hidden `catch`) before they are paired, so pending work wins
    // over them here, unlike in `all`: the summary waits for every term to finish.
    assert_eq!(
        all_labelled(&[("a", Some(Ok("msg"))), ("b", Some(Err(Active::Running)))]),
        (Observed::Active(Active::Running), pending(Active::Running))
    );
}

#[test]
fn all_labelled_follows_its_terms() {
    let mut g = Graph::new();
    let a: Var<Outcome<()>> = g.var(pending(Active::Running));
    let b: Var<Outcome<()>> = g.var(Ok(()));
    let exec = Executor::run(&mut g, move || {
        Term::all_labelled([
            ("build", Term::of_changeable("a", a.changeable())),
            ("test", Term::of_changeable("b", b.changeable())),
        ])
    });
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    change(&mut g, &a, fail("exit 1"));
    assert_eq!(exec.result(&g), fail("build failed: exit 1"));
    change(&mut g, &b, fail("exit 1"));
    assert_eq!(exec.result(&g), fail("build, test failed: exit 1"));
    change(&mut g, &b, fail("exit 2"));
    assert_eq!(exec.result(&g), fail("build, test failed"));
    change(&mut g, &a, Ok(()));
    assert_eq!(exec.result(&g), fail("test failed: exit 2"));
    change(&mut g, &b, Ok(()));
    assert_eq!(exec.observe(&g), Observed::Ok(()));
}

#[test]
fn list_seq_keeps_the_order() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::list_seq([Term::value(1), Term::labelled("two", 2), Term::value(3)])
    });
    assert_eq!(seen(&exec, &g, None), ok(vec![1, 2, 3]));

    let exec = Executor::run(&mut g, || Term::<i32>::list_seq(Vec::new()));
    assert_eq!(seen(&exec, &g, None), ok(vec![]));

    let exec = Executor::run(&mut g, || Term::list_seq([Term::value(1)]));
    assert_eq!(exec.observe(&g), Observed::Ok(vec![1]));
}

#[test]
fn list_seq_failure_beats_pending_and_first_wins() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::list_seq([
            Term::value(1),
            Term::active(Active::Ready),
            Term::fail("third"),
            Term::fail("fourth"),
        ])
    });
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("third"));

    let exec = Executor::run(&mut g, || {
        Term::list_seq([
            Term::value(1),
            Term::active(Active::Running),
            Term::active(Active::Ready),
        ])
    });
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
}

#[test]
fn list_seq_follows_its_terms() {
    let mut g = Graph::new();
    let a: Var<Outcome<String>> = g.var(Ok("a".into()));
    let b: Var<Outcome<String>> = g.var(Ok("b".into()));
    let exec = Executor::run(&mut g, move || {
        Term::list_seq([
            Term::of_changeable("a", a.changeable()),
            Term::of_changeable("b", b.changeable()),
            Term::value("c".to_string()),
        ])
    });
    assert_eq!(
        exec.observe(&g),
        Observed::Ok(vec!["a".into(), "b".into(), "c".into()])
    );
    change(&mut g, &b, Ok("B".into()));
    assert_eq!(
        exec.observe(&g),
        Observed::Ok(vec!["a".into(), "B".into(), "c".into()])
    );
}

// ----- gate ------------------------------------------------------------------------------

#[test]
fn gate_shows_the_value_only_once_the_control_is_ok() {
    let mut g = Graph::new();
    let ctrl: Var<Outcome<()>> = g.var(pending(Active::WaitingForConfirmation));
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let calls = Counter::default();
    let c = calls.clone();
    let control = Term::of_changeable("approve", ctrl.changeable());
    let value = Term::of_changeable("x", x.changeable()).map(move |v| {
        c.bump();
        v * 10
    });
    let gated = value.gate(&control);
    let exec = run(&mut g, &gated);

    // The control's pending state, owned by the control.
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
    let out = g.observe(&exec.output()).expect("live").clone();
    assert_eq!(out.expect_err("gated").source, control.id());
    // The value is computed even while gated.
    assert_eq!(calls.get(), 1);
    change(&mut g, &x, Ok(2));
    assert_eq!(calls.get(), 2);
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );

    // The control failed: its failure, blocked at the gate.
    change(&mut g, &ctrl, fail("rejected"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("rejected"));
    let out = g.observe(&exec.output()).expect("live").clone();
    assert_eq!(out.expect_err("gated").source, control.id());

    // Open: the latest value, not recomputed.
    change(&mut g, &ctrl, Ok(()));
    assert_eq!(exec.observe(&g), Observed::Ok(20));
    assert_eq!(calls.get(), 2);

    // Open, and the value changes: passed straight through.
    change(&mut g, &x, Ok(3));
    assert_eq!(exec.observe(&g), Observed::Ok(30));
    assert_eq!(calls.get(), 3);

    // Open, and the value is not available: its state, owned upstream.
    change(&mut g, &x, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Running));
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("no x"));

    // Closed again: the control's state wins over the value's failure.
    change(&mut g, &ctrl, pending(Active::Ready));
    assert_eq!(exec.observe(&g), Observed::Active(Active::Ready));
}

#[test]
fn gate_with_constant_controls() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || Term::value(5).gate(&Term::value(())));
    assert_eq!(seen(&exec, &g, None), ok(5));
    let exec = Executor::run(&mut g, || Term::value(5).gate(&Term::fail("closed")));
    assert_eq!(exec.observe(&g), Observed::Blocked);
    assert_eq!(exec.result(&g), fail("closed"));
    let exec = Executor::run(&mut g, || {
        Term::value(5).gate(&Term::active(Active::WaitingForConfirmation))
    });
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
}

// ----- catch and state -------------------------------------------------------------------

#[test]
fn catch_turns_failures_into_values() {
    for hidden in [false, true] {
        let catch = move |t: Term<i32>| if hidden { t.catch_hidden() } else { t.catch() };
        assert_eq!(eval(Ok(3), catch), ok(Ok(3)), "hidden: {hidden}");
        assert_eq!(
            eval(fail("bad"), catch),
            ok(Err("bad".to_string())),
            "hidden: {hidden}"
        );
        // Pending stays pending, still owned by the input.
        assert_eq!(
            eval(pending(Active::Running), catch),
            input_active(Active::Running),
            "hidden: {hidden}"
        );
        // A failure from further upstream is caught too.
        assert_eq!(
            eval(fail("bad"), move |t: Term<i32>| catch(t.map(|x| x + 1))),
            ok(Err("bad".to_string())),
            "hidden: {hidden}"
        );
    }
}

#[test]
fn catch_then_map_sees_the_failure_as_a_value() {
    // The documented OCurrent example: `Term.fail "Crashed" |> catch |> map ...`.
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::<()>::fail("Crashed").catch().map(|r| match r {
            Ok(()) => "good",
            Err(_) => "bad",
        })
    });
    assert_eq!(exec.result(&g), Ok("bad"));
}

#[test]
fn catch_follows_its_input() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).catch()
    });
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(1)));
    change(&mut g, &x, fail("oops"));
    assert_eq!(exec.observe(&g), Observed::Ok(Err("oops".to_string())));
    change(&mut g, &x, pending(Active::WaitingForConfirmation));
    assert_eq!(
        exec.observe(&g),
        Observed::Active(Active::WaitingForConfirmation)
    );
    change(&mut g, &x, Ok(2));
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(2)));
}

#[test]
fn state_is_always_ok_with_the_outcome() {
    for hidden in [false, true] {
        let state = move |t: Term<i32>| if hidden { t.state_hidden() } else { t.state() };
        assert_eq!(eval(Ok(3), state), ok(Ok(3)), "hidden: {hidden}");
        assert_eq!(
            eval(fail("bad"), state),
            ok(fail("bad")),
            "hidden: {hidden}"
        );
        assert_eq!(
            eval(fail("bad"), move |t: Term<i32>| state(t.map(|x| x + 1))),
            ok(fail("bad")),
            "hidden: {hidden}"
        );
        for a in [
            Active::Ready,
            Active::Running,
            Active::WaitingForConfirmation,
        ] {
            assert_eq!(eval(pending(a), state), ok(pending(a)), "hidden: {hidden}");
        }
    }
}

#[test]
fn state_follows_its_input() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(pending(Active::Ready));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).state()
    });
    assert_eq!(exec.observe(&g), Observed::Ok(pending(Active::Ready)));
    change(&mut g, &x, pending(Active::Running));
    assert_eq!(exec.observe(&g), Observed::Ok(pending(Active::Running)));
    change(&mut g, &x, fail("exit 2"));
    assert_eq!(exec.observe(&g), Observed::Ok(fail("exit 2")));
    change(&mut g, &x, Ok(9));
    assert_eq!(exec.observe(&g), Observed::Ok(Ok(9)));
}

// ----- error ownership through a pipeline ------------------------------------------------

#[test]
fn a_failure_is_failed_at_its_source_and_blocked_downstream() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(fail("no such commit"));
    let source = Term::of_changeable("x", x.changeable());
    let built = source.map(|v| v + 1);
    let tested = built.pair(&Term::value(2)).map(|(a, b)| a * b);
    let gated = tested.gate(&Term::value(()));
    let at_source = run(&mut g, &source);
    let at_map = run(&mut g, &built);
    let at_end = run(&mut g, &gated);

    assert_eq!(at_source.observe(&g), msg("no such commit"));
    assert_eq!(at_map.observe(&g), Observed::Blocked);
    assert_eq!(at_end.observe(&g), Observed::Blocked);
    for out in [at_source.output(), at_map.output()] {
        let e = g.observe(&out).expect("live").clone().expect_err("failed");
        assert_eq!(e.source, source.id());
    }
    assert_eq!(at_end.result(&g), fail("no such commit"));

    change(&mut g, &x, Ok(20));
    assert_eq!(at_end.observe(&g), Observed::Ok(42));
}
