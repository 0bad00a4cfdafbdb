//! Tests: var.
//!
//! `current::var::Var`: a named input set from outside the pipeline, read by engines.

use std::sync::Arc;

use current::clock::ManualClock;
use current::engine::{Engine, EngineOptions, Snapshot};
use current::incr::Graph;
use current::term::{analysis, Active, ErrorKind, Executor, Observed, Outcome, Term};
use current::var::Var;

use super::job::{t0, StateDir, DEADLINE};
use crate::support::runtime;

fn start<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
    rt: &tokio::runtime::Runtime,
    dir: &StateDir,
    pipeline: impl FnOnce() -> Term<T> + Send + 'static,
) -> Engine<T> {
    let mut options = EngineOptions::new(&dir.0, rt.handle().clone());
    options.clock = Arc::new(ManualClock::new(t0()));
    match Engine::start(options, pipeline) {
        Ok(engine) => engine,
        Err(e) => panic!("the engine does not start: {e}"),
    }
}

fn until<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
    engine: &Engine<T>,
    done: impl FnMut(&Snapshot<T>) -> bool + Send,
) -> Snapshot<T> {
    engine
        .wait_until(done, DEADLINE)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn msg<T>(m: &str) -> Outcome<T> {
    Err(ErrorKind::msg(m))
}

/// The pipeline as text and as a diagram, from the engine's thread.
fn drawn<T: Clone + std::fmt::Debug + Send + Sync + 'static>(
    engine: &Engine<T>,
) -> (String, String) {
    let (pp, dot) = engine
        .inspect(|g, t| (analysis::pp(t, g), analysis::dot(t, g)))
        .expect("inspect the engine");
    // Source locations (tooltips) are normalised to `var.rs:L:C`.
    let dot = regex::Regex::new(r"var\.rs:\d+:\d+")
        .unwrap()
        .replace_all(&dot, "var.rs:L:C");
    (pp, dot.into_owned())
}

/// A drawn node of this file: `n<n> [label=...,<colour>,tooltip=...]`; the tooltip is
/// the error message of a failed node, else the source location.
fn node(n: usize, label: &str, colour: &str, error: Option<&str>) -> String {
    let at = "current/tests/it/runtime/var.rs:L:C";
    let tooltip = error.unwrap_or(at);
    format!(
        "  n{n} [label=\"{label}\",color=\"{colour}\",fillcolor=\"{colour}\",style=\"filled\",tooltip=\"{tooltip}\",comment=\"{at}\"]\n"
    )
}

const PREAMBLE: &str = "digraph pipeline {\n  \
    graph [fontname=\"ui-system,sans-serif\",bgcolor=\"transparent\"]\n  \
    node [fontname=\"ui-system,sans-serif\",shape=\"box\"]\n  \
    edge [fontname=\"ui-system,sans-serif\"]\n  \
    rankdir=LR\n";

#[test]
fn get_set_update_and_value() {
    let v = Var::new("counter", Ok(1));
    assert_eq!(v.name(), "counter");
    assert_eq!(v.value(), Ok(1));
    v.set(Ok(2));
    assert_eq!(v.value(), Ok(2));
    v.update(|o| o.map(|x| x * 10));
    assert_eq!(v.value(), Ok(20));
    let shared = v.clone();
    shared.set(msg("no value"));
    assert_eq!(v.value(), msg("no value"), "clones share the value");
    v.update(|o| match o {
        Err(ErrorKind::Msg(m)) => Ok(m.len() as i32),
        other => other,
    });
    assert_eq!(shared.value(), Ok(8));
    v.set(Err(ErrorKind::Active(Active::Ready)));
    assert_eq!(v.value(), Err(ErrorKind::Active(Active::Ready)));
}

#[test]
fn outside_an_engine_a_var_gives_its_value() {
    let v = Var::new("branch", Ok("main".to_string()));
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, {
        let v = v.clone();
        move || v.get().map(|b| b.len())
    });
    assert_eq!(exec.observe(&g), Observed::Ok(4));
    assert_eq!(analysis::pp(exec.term(), &g), "(const) >>= branch");
}

#[test]
fn a_pipeline_sees_every_value_and_draws_the_var_under_its_name() {
    let rt = runtime();
    let dir = StateDir::new("var-engine");
    let branch = Var::new("branch", Ok("main".to_string()));
    let engine = start(&rt, &dir, {
        let branch = branch.clone();
        move || branch.get().map(|b| format!("building {b}"))
    });
    until(&engine, |s| s.result == Ok("building main".to_string()));
    let (pp, dot) = drawn(&engine);
    assert_eq!(pp, "(const) >>= branch");
    assert_eq!(
        dot,
        format!("{PREAMBLE}{}  }}\n", node(1, "branch", "#90ee90", None))
    );

    branch.set(Ok("release".into()));
    until(&engine, |s| s.result == Ok("building release".to_string()));
    branch.update(|b| b.map(|b| format!("{b}-2")));
    until(&engine, |s| {
        s.result == Ok("building release-2".to_string())
    });

    // Errors and pending states pass through, and colour the box.
    branch.set(msg("no such branch"));
    let s = until(&engine, |s| s.result.is_err());
    assert_eq!(s.result, msg("no such branch"));
    assert_eq!(s.stats.failed, 1, "{s:?}");
    let (_, dot) = drawn(&engine);
    assert_eq!(
        dot,
        format!(
            "{PREAMBLE}{}  }}\n",
            node(1, "branch", "#ff4500", Some("no such branch"))
        )
    );

    branch.set(Err(ErrorKind::Active(Active::Running)));
    let s = until(&engine, |s| {
        s.result == Err(ErrorKind::Active(Active::Running))
    });
    assert_eq!(s.stats.running, 1, "{s:?}");
    let (_, dot) = drawn(&engine);
    assert_eq!(
        dot,
        format!("{PREAMBLE}{}  }}\n", node(1, "branch", "#ffa500", None))
    );

    branch.set(Ok("main".into()));
    until(&engine, |s| s.result == Ok("building main".to_string()));
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn a_var_read_twice_in_one_pipeline_updates_both_readers() {
    let rt = runtime();
    let dir = StateDir::new("var-twice");
    let n = Var::new("n", Ok(1));
    let engine = start(&rt, &dir, {
        let n = n.clone();
        move || n.get().map(|x| x + 1).pair(&n.get().map(|x| x * 10))
    });
    until(&engine, |s| s.result == Ok((2, 10)));
    n.set(Ok(5));
    until(&engine, |s| s.result == Ok((6, 50)));
    engine.shutdown("test over").expect("a clean shutdown");
}

#[test]
fn two_engines_reading_one_var_both_update() {
    let rt = runtime();
    let (dir1, dir2) = (StateDir::new("var-two-a"), StateDir::new("var-two-b"));
    let n = Var::new("n", Ok(1));
    let plus = start(&rt, &dir1, {
        let n = n.clone();
        move || n.get().map(|x| x + 1)
    });
    let times = start(&rt, &dir2, {
        let n = n.clone();
        move || n.get().map(|x| x * 100)
    });
    until(&plus, |s| s.result == Ok(2));
    until(&times, |s| s.result == Ok(100));
    for x in 2..5 {
        n.set(Ok(x));
        until(&plus, |s| s.result == Ok(x + 1));
        until(&times, |s| s.result == Ok(x * 100));
    }
    // One engine stopping does not disturb the other.
    plus.shutdown("one down").expect("a clean shutdown");
    n.set(Ok(7));
    until(&times, |s| s.result == Ok(700));
    times.shutdown("test over").expect("a clean shutdown");
    // Nor does setting it with no engine left.
    n.set(Ok(8));
    assert_eq!(n.value(), Ok(8));
}

#[test]
fn a_var_no_longer_read_stops_receiving_updates() {
    let rt = runtime();
    let dir = StateDir::new("var-unused");
    let use_x = Var::new("use-x", Ok(true));
    let x = Var::new("x", Ok(1));
    let y = Var::new("y", Ok(100));
    let engine = start(&rt, &dir, {
        let (use_x, x, y) = (use_x.clone(), x.clone(), y.clone());
        move || {
            let chosen = use_x.get().bind(
                "choose",
                move |on| if on { x.get() } else { Term::value(0) },
            );
            chosen.pair(&y.get())
        }
    });
    until(&engine, |s| s.result == Ok((1, 100)));
    assert_eq!(
        drawn(&engine).0,
        "(const) >>= use-x >>= choose >>= x\n||\n(const) >>= y"
    );
    x.set(Ok(2));
    until(&engine, |s| s.result == Ok((2, 100)));

    use_x.set(Ok(false));
    let s = until(&engine, |s| s.result == Ok((0, 100)));
    // Setting x now reaches no pipeline: the engine has nothing to evaluate for it. The
    // inspection is a barrier: updates sent before it are applied before it runs, and it
    // costs one evaluation itself, whose snapshot follows. (An update still sent for x
    // shows as an extra evaluation only when it is not batched with the inspection's.)
    let before = s.step;
    x.set(Ok(3));
    x.set(Ok(4));
    let (pp, _) = drawn(&engine);
    assert_eq!(pp, "(const) >>= use-x >>= choose\n||\n(const) >>= y");
    let s = until(&engine, |s| s.step > before);
    assert_eq!(
        s.step,
        before + 1,
        "x's updates still reach the engine: {s:?}"
    );
    assert_eq!(s.result, Ok((0, 100)));

    y.set(Ok(200));
    until(&engine, |s| s.result == Ok((0, 200)));
    // Read again, x gives its latest value and follows it.
    use_x.set(Ok(true));
    until(&engine, |s| s.result == Ok((4, 200)));
    x.set(Ok(5));
    until(&engine, |s| s.result == Ok((5, 200)));
    engine.shutdown("test over").expect("a clean shutdown");
}
