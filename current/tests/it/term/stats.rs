//! Tests: stats.
//!
//! Counting pipeline stages by state: the quick counters an executor keeps up to date as
//! nodes come and go (`Executor::quick_stats`, OCaml's `quick_stat`), and the full walk
//! that counts exactly what the diagram draws (`analysis::stats`, OCaml's `stat`).

use std::collections::BTreeSet;

use current::incr::{Graph, Var};
use current::term::{analysis, Active, ErrorKind, Executor, Outcome, Stats, Term};

// ----- helpers ---------------------------------------------------------------------------

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

/// Stats with the given counts: `[ok, waiting_for_confirmation, ready, running, failed,
/// blocked]`.
fn stats(counts: [usize; 6]) -> Stats {
    let [ok, waiting_for_confirmation, ready, running, failed, blocked] = counts;
    Stats {
        ok,
        waiting_for_confirmation,
        ready,
        running,
        failed,
        blocked,
    }
}

/// Counts the node lines of a dot diagram by their background colour.
fn stats_of_dot(dot: &str) -> Stats {
    let mut s = Stats::default();
    for line in dot.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix('n') else {
            continue;
        };
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || !rest[digits..].starts_with(" [label=") {
            continue;
        }
        let colour = line
            .split(",color=\"")
            .nth(1)
            .and_then(|c| c.split('"').next())
            .expect("a node line has a colour");
        // A background update is drawn as a gradient `<update>:<state>`.
        let colour = colour.rsplit(':').next().unwrap_or(colour);
        let slot = match colour {
            "#90ee90" => &mut s.ok,
            "#4975ff" => &mut s.waiting_for_confirmation,
            "#ffff00" => &mut s.ready,
            "#ffa500" => &mut s.running,
            "#ff4500" => &mut s.failed,
            "#d3d3d3" => &mut s.blocked,
            other => panic!("unexpected colour {other} in {line}"),
        };
        *slot += 1;
    }
    s
}

/// `analysis::stats`, checked against the diagram: it counts exactly the nodes `dot`
/// draws, by colour.
fn drawn<T: Clone + 'static>(exec: &Executor<T>, g: &Graph) -> Stats {
    let s = analysis::stats(exec.term(), g);
    let dot = analysis::dot(exec.term(), g);
    assert_eq!(
        s,
        stats_of_dot(&dot),
        "stats differ from the diagram:\n{dot}"
    );
    s
}

/// A pipeline with one stage in each state: inputs `ok`, `approve` (waiting for
/// confirmation), `queued` (ready), `building` (running), `broken` (failed), and a step
/// after `broken` (blocked).
struct EachState {
    g: Graph,
    approve: Var<Outcome<()>>,
    queued: Var<Outcome<()>>,
    building: Var<Outcome<()>>,
    broken: Var<Outcome<()>>,
    exec: Executor<()>,
}

fn each_state() -> EachState {
    let mut g = Graph::new();
    let ok = g.var(Ok(()));
    let approve = g.var(pending(Active::WaitingForConfirmation));
    let queued = g.var(pending(Active::Ready));
    let building = g.var(pending(Active::Running));
    let broken = g.var(fail("broken"));
    let exec = Executor::run(&mut g, move || {
        let after = Term::of_changeable("broken", broken.changeable())
            .primitive("after", |g, ()| g.constant((Ok(()), None)));
        Term::all([
            Term::of_changeable("ok", ok.changeable()),
            Term::of_changeable("approve", approve.changeable()),
            Term::of_changeable("queued", queued.changeable()),
            Term::of_changeable("building", building.changeable()),
            after,
        ])
    });
    EachState {
        g,
        approve,
        queued,
        building,
        broken,
        exec,
    }
}

// ----- quick_stats -----------------------------------------------------------------------

#[test]
fn quick_stats_count_one_stage_in_each_state() {
    let p = each_state();
    assert_eq!(p.exec.quick_stats(), stats([1, 1, 1, 1, 1, 1]));
    assert_eq!(p.exec.quick_stats().total(), 6);
}

#[test]
fn quick_stats_follow_state_changes() {
    let mut p = each_state();
    change(&mut p.g, &p.approve, Ok(()));
    assert_eq!(p.exec.quick_stats(), stats([2, 0, 1, 1, 1, 1]));
    change(&mut p.g, &p.queued, pending(Active::Running));
    assert_eq!(p.exec.quick_stats(), stats([2, 0, 0, 2, 1, 1]));
    change(&mut p.g, &p.building, fail("exit 1"));
    assert_eq!(p.exec.quick_stats(), stats([2, 0, 0, 1, 2, 1]));
    // The failed input recovers: the step after it runs.
    change(&mut p.g, &p.broken, Ok(()));
    assert_eq!(p.exec.quick_stats(), stats([4, 0, 0, 1, 1, 0]));
    // An upstream pending state blocks the step after it, too.
    change(&mut p.g, &p.broken, pending(Active::Ready));
    assert_eq!(p.exec.quick_stats(), stats([2, 0, 1, 1, 1, 1]));
    change(&mut p.g, &p.queued, Ok(()));
    change(&mut p.g, &p.building, Ok(()));
    change(&mut p.g, &p.broken, Ok(()));
    assert_eq!(p.exec.quick_stats(), stats([6, 0, 0, 0, 0, 0]));
}

#[test]
fn waiting_for_confirmation_is_not_also_counted_as_blocked() {
    // OCaml's quick_stat computes blocked = total - ok - ready - running - failed, so a
    // stage waiting for confirmation also counted as blocked. Not here.
    let mut g = Graph::new();
    let approve: Var<Outcome<()>> = g.var(pending(Active::WaitingForConfirmation));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("approve", approve.changeable())
    });
    assert_eq!(exec.quick_stats(), stats([0, 1, 0, 0, 0, 0]));
    assert_eq!(exec.quick_stats().total(), 1);
    change(&mut g, &approve, Ok(()));
    assert_eq!(exec.quick_stats(), stats([1, 0, 0, 0, 0, 0]));
}

#[test]
fn quick_stats_ignore_constants_maps_pairs_gates_catch_and_state() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let a = Term::labelled("a", ())
            .map(|()| ())
            .gate(&Term::value(()))
            .catch()
            .state()
            .ignore_value();
        let b = Term::<()>::fail("b").catch_hidden().ignore_value();
        let c = Term::<()>::active(Active::Running)
            .state_hidden()
            .ignore_value();
        let d = Term::value(()).map(|()| -> () { panic!("map fails") });
        Term::all([a, b, c, d])
    });
    assert_eq!(exec.quick_stats(), Stats::default());
}

#[test]
fn quick_stats_count_of_output() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::all([
            Term::of_output(Ok(())),
            Term::of_output(Ok(())),
            Term::of_output(pending(Active::WaitingForConfirmation)),
            Term::of_output(pending(Active::Ready)),
            Term::of_output(pending(Active::Running)),
            Term::of_output(fail("bad")),
        ])
    });
    assert_eq!(exec.quick_stats(), stats([2, 1, 1, 1, 1, 0]));
}

#[test]
fn quick_stats_count_binds_and_what_they_make_while_it_lives() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("b", |v: i32| {
            // Two counted terms per run of the bind.
            Term::all([
                Term::of_output(Ok(())),
                Term::value(v).primitive("step", |g, v| {
                    let out = if v > 0 {
                        Ok(())
                    } else {
                        pending(Active::Running)
                    };
                    g.constant((out, None))
                }),
            ])
        })
    });
    // The input, the bind, the `of_output` and the primitive.
    assert_eq!(exec.quick_stats(), stats([4, 0, 0, 0, 0, 0]));
    for v in [2, 3, 4] {
        change(&mut g, &x, Ok(v));
        assert_eq!(exec.quick_stats(), stats([4, 0, 0, 0, 0, 0]), "after {v}");
    }
    change(&mut g, &x, Ok(0));
    assert_eq!(exec.quick_stats(), stats([3, 0, 0, 1, 0, 0]));
    // The input fails: the bind is blocked and what it made is gone.
    change(&mut g, &x, fail("no x"));
    assert_eq!(exec.quick_stats(), stats([0, 0, 0, 0, 1, 1]));
    change(&mut g, &x, pending(Active::Running));
    assert_eq!(exec.quick_stats(), stats([0, 0, 0, 1, 0, 1]));
    change(&mut g, &x, Ok(5));
    assert_eq!(exec.quick_stats(), stats([4, 0, 0, 0, 0, 0]));
}

#[test]
fn quick_stats_of_all_labelled_count_the_bind_and_its_result() {
    let mut g = Graph::new();
    let a: Var<Outcome<()>> = g.var(Ok(()));
    let exec = Executor::run(&mut g, move || {
        Term::all_labelled([
            ("a", Term::of_changeable("a", a.changeable())),
            ("b", Term::value(())),
        ])
    });
    // The input, the `all` bind, and the constant it made.
    assert_eq!(exec.quick_stats(), stats([3, 0, 0, 0, 0, 0]));
    change(&mut g, &a, fail("bad"));
    // The input failed; its failure was caught, so the bind is ok; the summary it made is
    // its own failure.
    assert_eq!(exec.quick_stats(), stats([1, 0, 0, 0, 2, 0]));
    change(&mut g, &a, pending(Active::Running));
    assert_eq!(exec.quick_stats(), stats([0, 0, 0, 1, 0, 1]));
}

/// A list input whose items each get a primitive; the primitives' outcome is `mode`.
struct Items {
    g: Graph,
    items: Var<Outcome<Vec<String>>>,
    mode: Var<Outcome<()>>,
    exec: Executor<Vec<()>>,
}

fn items(initial: &[&str]) -> Items {
    let mut g = Graph::new();
    let items = g.var(Ok(strings(initial)));
    let mode: Var<Outcome<()>> = g.var(Ok(()));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("items", items.changeable()).list_map(move |item| {
            item.primitive("test", move |g, _item: String| {
                g.map(&mode.changeable(), |m| (m, None))
            })
        })
    });
    Items {
        g,
        items,
        mode,
        exec,
    }
}

#[test]
fn quick_stats_follow_list_items_as_they_come_and_go() {
    let mut p = items(&["a", "b", "c"]);
    // The input and one primitive per item.
    assert_eq!(p.exec.quick_stats(), stats([4, 0, 0, 0, 0, 0]));

    change(&mut p.g, &p.items, Ok(strings(&["a", "b", "c", "d"])));
    assert_eq!(p.exec.quick_stats(), stats([5, 0, 0, 0, 0, 0]));

    change(&mut p.g, &p.items, Ok(strings(&["c", "d"])));
    assert_eq!(p.exec.quick_stats(), stats([3, 0, 0, 0, 0, 0]));

    // Duplicates share one pipeline.
    change(&mut p.g, &p.items, Ok(strings(&["c", "d", "c", "c"])));
    assert_eq!(p.exec.quick_stats(), stats([3, 0, 0, 0, 0, 0]));

    change(&mut p.g, &p.mode, pending(Active::WaitingForConfirmation));
    assert_eq!(p.exec.quick_stats(), stats([1, 2, 0, 0, 0, 0]));
    change(&mut p.g, &p.items, Ok(strings(&["a", "b", "c", "d", "e"])));
    assert_eq!(p.exec.quick_stats(), stats([1, 5, 0, 0, 0, 0]));
    change(&mut p.g, &p.mode, fail("exit 1"));
    assert_eq!(p.exec.quick_stats(), stats([1, 0, 0, 0, 5, 0]));
    change(&mut p.g, &p.items, Ok(strings(&["e"])));
    assert_eq!(p.exec.quick_stats(), stats([1, 0, 0, 0, 1, 0]));
    change(&mut p.g, &p.mode, Ok(()));
    assert_eq!(p.exec.quick_stats(), stats([2, 0, 0, 0, 0, 0]));
}

#[test]
fn quick_stats_of_a_list_that_is_unavailable_or_empty() {
    let mut p = items(&["a", "b"]);
    assert_eq!(p.exec.quick_stats(), stats([3, 0, 0, 0, 0, 0]));

    // The input failed: every item's pipeline is gone; the diagram's template (one
    // primitive over a placeholder) is blocked.
    change(&mut p.g, &p.items, fail("no list"));
    assert_eq!(p.exec.quick_stats(), stats([0, 0, 0, 0, 1, 1]));
    // Failing again does not count the template twice.
    change(&mut p.g, &p.items, fail("still no list"));
    assert_eq!(p.exec.quick_stats(), stats([0, 0, 0, 0, 1, 1]));

    // Empty: the template again, blocked on the placeholder.
    change(&mut p.g, &p.items, Ok(vec![]));
    assert_eq!(p.exec.quick_stats(), stats([1, 0, 0, 0, 0, 1]));

    change(&mut p.g, &p.items, Ok(strings(&["x", "y", "z"])));
    assert_eq!(p.exec.quick_stats(), stats([4, 0, 0, 0, 0, 0]));
}

#[test]
fn quick_stats_after_many_changes_are_those_of_the_last_state() {
    let mut p = items(&[]);
    let all: Vec<String> = (0..20).map(|i| format!("item{i:02}")).collect();
    let mut live = BTreeSet::new();
    for step in 0..60usize {
        // Add and drop items in a fixed pattern.
        let chosen: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| (i * 7 + step * 3) % 5 < 2)
            .map(|(_, s)| s.clone())
            .collect();
        live = chosen.iter().cloned().collect();
        change(&mut p.g, &p.items, Ok(chosen));
        let expected_blocked = usize::from(live.is_empty());
        assert_eq!(
            p.exec.quick_stats(),
            stats([1 + live.len(), 0, 0, 0, 0, expected_blocked]),
            "step {step}"
        );
    }
    assert!(!live.is_empty());
}

// ----- analysis::stats (the full walk) ---------------------------------------------------

#[test]
fn full_stats_count_one_stage_in_each_state() {
    let p = each_state();
    assert_eq!(drawn(&p.exec, &p.g), stats([1, 1, 1, 1, 1, 1]));
}

#[test]
fn full_stats_follow_state_changes() {
    let mut p = each_state();
    change(&mut p.g, &p.approve, Ok(()));
    change(&mut p.g, &p.broken, Ok(()));
    assert_eq!(drawn(&p.exec, &p.g), stats([4, 0, 1, 1, 0, 0]));
    change(&mut p.g, &p.building, fail("exit 2"));
    assert_eq!(drawn(&p.exec, &p.g), stats([4, 0, 1, 0, 1, 0]));
}

#[test]
fn full_stats_count_drawn_constants_only() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::all([
            // Drawn: labelled constants, and unlabelled ones showing their own error.
            Term::labelled("a", ()),
            Term::fail("b"),
            Term::active(Active::Ready),
            // Not drawn: an unlabelled Ok constant, maps, pairs.
            Term::value(()).map(|()| ()),
        ])
    });
    assert_eq!(drawn(&exec, &g), stats([1, 0, 1, 0, 1, 0]));
    // The quick counters see none of them.
    assert_eq!(exec.quick_stats(), Stats::default());
}

#[test]
fn full_stats_count_gates_state_catch_and_failed_maps() {
    let mut g = Graph::new();
    let approve: Var<Outcome<()>> = g.var(pending(Active::WaitingForConfirmation));
    let exec = Executor::run(&mut g, move || {
        let approve = Term::of_changeable("approve", approve.changeable());
        // labelled (ok) -> gate circle (blocked by approve) -> state box (ok).
        let gated = Term::labelled("v", 1).gate(&approve).state().ignore_value();
        // labelled (ok) -> map that panics (failed) -> catch box (ok).
        let caught = Term::labelled("w", 2)
            .map(|_: i32| -> i32 { panic!("bad w") })
            .catch()
            .ignore_value();
        // Hidden ones are not drawn.
        let hidden = Term::labelled("h", 3)
            .catch_hidden()
            .state_hidden()
            .ignore_value();
        Term::all([gated, caught, hidden])
    });
    // Ok: v, the state box, w, the catch box, h.
    assert_eq!(drawn(&exec, &g), stats([5, 1, 0, 0, 1, 1]));
    change(&mut g, &approve, Ok(()));
    assert_eq!(drawn(&exec, &g), stats([7, 0, 0, 0, 1, 0]));
}

#[test]
fn full_stats_of_a_bind() {
    let mut g = Graph::new();
    let x: Var<Outcome<i32>> = g.var(Ok(1));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("x", x.changeable()).bind("b", |v: i32| {
            Term::labelled("inside", v).primitive("step", |g, v| g.constant((Ok(v), None)))
        })
    });
    // x, the bind box, the labelled constant and the step.
    assert_eq!(drawn(&exec, &g), stats([4, 0, 0, 0, 0, 0]));
    change(&mut g, &x, fail("no x"));
    // x failed; the bind box shows it, blocked; nothing inside is drawn.
    assert_eq!(drawn(&exec, &g), stats([0, 0, 0, 0, 1, 1]));
    change(&mut g, &x, Ok(2));
    assert_eq!(drawn(&exec, &g), stats([4, 0, 0, 0, 0, 0]));
}

#[test]
fn full_stats_of_a_list_map_as_items_come_and_go() {
    let mut p = items(&["a", "b"]);
    // The input, and for each item its box and its primitive.
    assert_eq!(drawn(&p.exec, &p.g), stats([5, 0, 0, 0, 0, 0]));
    change(&mut p.g, &p.items, Ok(strings(&["a", "b", "c"])));
    assert_eq!(drawn(&p.exec, &p.g), stats([7, 0, 0, 0, 0, 0]));
    change(&mut p.g, &p.mode, pending(Active::Running));
    assert_eq!(drawn(&p.exec, &p.g), stats([4, 0, 0, 3, 0, 0]));
    change(&mut p.g, &p.items, Ok(strings(&["c"])));
    assert_eq!(drawn(&p.exec, &p.g), stats([2, 0, 0, 1, 0, 0]));
    // Unavailable: the input failed; the template's item and primitive are blocked.
    change(&mut p.g, &p.items, fail("no list"));
    assert_eq!(drawn(&p.exec, &p.g), stats([0, 0, 0, 0, 1, 2]));
    // Empty: as in OCurrent, the `(empty list)` placeholder's `Ready` belongs to no node,
    // so the placeholder and the primitive are both drawn blocked.
    change(&mut p.g, &p.items, Ok(vec![]));
    assert_eq!(drawn(&p.exec, &p.g), stats([1, 0, 0, 0, 0, 2]));
}

#[test]
fn full_stats_of_an_option_map() {
    let mut g = Graph::new();
    let tag: Var<Outcome<Option<String>>> = g.var(Ok(None));
    let exec = Executor::run(&mut g, move || {
        Term::of_changeable("tag", tag.changeable())
            .option_map(|t| t.primitive("publish", |g, t: String| g.constant((Ok(t), None))))
    });
    // The input, and the publish step waiting on an absent item.
    assert_eq!(drawn(&exec, &g), stats([1, 0, 0, 0, 0, 1]));
    change(&mut g, &tag, Ok(Some("v1".to_string())));
    assert_eq!(drawn(&exec, &g), stats([2, 0, 0, 0, 0, 0]));
    change(&mut g, &tag, fail("no tags"));
    assert_eq!(drawn(&exec, &g), stats([0, 0, 0, 0, 1, 1]));
}
