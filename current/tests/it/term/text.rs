//! Tests: text. The text form of pipelines (`analysis::pp`, OCaml's `Analysis.pp`), compared
//! with exact expected strings.

use current::incr::{Graph, Var};
use current::term::{analysis, Active, ErrorKind, Executor, Outcome, Term};

/// A primitive that succeeds with its input.
fn step<T: Clone + 'static>(input: &Term<T>, info: &str) -> Term<T> {
    input.primitive(info, |g, v| g.constant((Ok(v), None)))
}

/// A primitive whose outcome follows `var`.
fn follow<T: Clone + 'static, U: Clone + 'static>(
    input: &Term<T>,
    info: &str,
    var: Var<Outcome<U>>,
) -> Term<U> {
    let c = var.changeable();
    input.primitive(info, move |g, _| g.map(&c, |o| (o, None)))
}

/// The text form of the pipeline `f` builds, once evaluated.
fn pp<T: Clone + 'static>(f: impl FnOnce() -> Term<T>) -> String {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, f);
    analysis::pp(exec.term(), &g)
}

#[test]
fn constants_and_labels() {
    assert_eq!(pp(|| Term::value(1).map(|x| x + 1)), "(const)");
    assert_eq!(pp(|| Term::<i32>::fail("boom")), "(const)");
    assert_eq!(pp(|| Term::<()>::of_output(Ok(()))), "(const)");
    assert_eq!(
        pp(|| Term::labelled("src", 1)
            .map(|x| x * 2)
            .cutoff(|a, b| a == b)),
        "src"
    );
    // A failed map is transparent in the text form.
    assert_eq!(
        pp(|| Term::labelled("src", 1).map(|_: i32| -> i32 { panic!("no") })),
        "src"
    );
}

#[test]
fn primitives() {
    assert_eq!(
        pp(|| step(&Term::labelled("build result", ()), "approve")),
        "build result >>= approve"
    );
    assert_eq!(
        pp(|| step(&step(&Term::labelled("src", ()), "build"), "test")),
        "src >>= build >>= test"
    );
}

#[test]
fn binds() {
    let mut g = Graph::new();
    let fetched: Var<Outcome<String>> = g.var(Err(ErrorKind::Active(Active::Running)));
    let exec = Executor::run(&mut g, || {
        let head = follow(&Term::labelled("head", ()), "fetch", fetched);
        head.bind("docs?", |_commit: String| {
            step(&Term::labelled("docs", ()), "build docs")
        })
    });
    // Before the input is ready, the bind itself.
    assert_eq!(analysis::pp(exec.term(), &g), "head >>= fetch >>= docs?");
    // Then, the pipeline it made.
    g.change(&fetched, Ok("abc".into())).unwrap();
    g.propagate().unwrap();
    assert_eq!(analysis::pp(exec.term(), &g), "docs >>= build docs");
}

#[test]
fn all_labelled_is_a_bind() {
    assert_eq!(
        pp(|| {
            Term::all_labelled([
                ("a", Term::labelled("a", ())),
                ("b", Term::<()>::fail("broken")),
            ])
        }),
        // Each item through a hidden `catch`, which the text form shows as OCurrent's does.
        "catch(a)\n||\ncatch((const)) >>= all"
    );
}

#[test]
fn pairs() {
    assert_eq!(
        pp(|| Term::labelled("a", 1).pair(&Term::labelled("b", 2))),
        "a\n||\nb"
    );
    assert_eq!(
        pp(|| {
            let a = Term::labelled("a", ());
            let b = Term::labelled("b", ());
            Term::all([a, b, Term::labelled("c", ())])
        }),
        "a\n||\nb\n||\nc"
    );
    // A node seen before is `...`.
    assert_eq!(
        pp(|| {
            let a = Term::labelled("a", 1);
            a.pair(&a)
        }),
        "a\n||\n..."
    );
}

#[test]
fn gates() {
    assert_eq!(
        pp(|| Term::labelled("v", 1).gate(&Term::labelled("ctrl", ()))),
        "v >> gate (ctrl)"
    );
    // A block inside keeps its lines aligned under its first.
    assert_eq!(
        pp(|| {
            let ctrl = Term::all([Term::labelled("c1", ()), Term::labelled("c2", ())]);
            step(&Term::labelled("v", 1), "build").gate(&ctrl)
        }),
        "v >>= build >> gate (c1\n                     ||\n                     c2)"
    );
}

fn platforms(list: Term<Vec<String>>) -> Term<Vec<String>> {
    list.list_map(|p| step(&p, "test"))
}

#[test]
fn list_maps() {
    assert_eq!(
        pp(|| platforms(Term::labelled(
            "platforms",
            vec!["linux".to_string(), "macos".to_string(), "linux".to_string()]
        ))),
        "platforms >> list_map (linux >>= test\n                       ||\n                       macos >>= test)"
    );
    assert_eq!(
        pp(|| platforms(Term::labelled("platforms", vec![]))),
        "platforms >> list_map ((empty list) >>= test)"
    );
    assert_eq!(
        pp(|| platforms(Term::fail("no list"))),
        "(const) >> list_map ((blocked) >>= test)"
    );
    assert_eq!(
        pp(|| {
            Term::labelled("platforms", vec!["linux".to_string()])
                .list_iter(|p| step(&p, "test").ignore_value())
        }),
        "platforms >> list_map (linux >>= test)"
    );
}

#[test]
fn option_maps() {
    assert_eq!(
        pp(|| Term::labelled("tag", Some(1)).option_map(|t| step(&t, "publish"))),
        "tag >> option_map ([...] >>= publish)"
    );
    assert_eq!(
        pp(|| Term::labelled("tag", None::<i32>).option_map(|t| step(&t, "publish"))),
        "tag >> option_map ([...] >>= publish)"
    );
    // The option's item, printed before the option_map itself.
    assert_eq!(
        pp(|| {
            let mut item = None;
            let published = Term::labelled("tag", Some(1)).option_map(|t| {
                item = Some(t.clone());
                step(&t, "publish")
            });
            let item = item.expect("option_map calls its function");
            step(&item, "sign").pair(&published)
        }),
        "[tag] >>= sign\n||\n... >> option_map (... >>= publish)"
    );
}

#[test]
fn state_catch_and_transparent_nodes() {
    assert_eq!(pp(|| Term::labelled("build", ()).state()), "state(build)");
    assert_eq!(pp(|| Term::labelled("build", ()).catch()), "catch(build)");
    assert_eq!(
        pp(|| Term::labelled("a", ())
            .pair(&Term::labelled("b", ()))
            .state()),
        "state(a\n      ||\n      b)"
    );
    // Hidden only in diagrams: OCurrent's text form prints them too.
    assert_eq!(
        pp(|| Term::labelled("build", ()).state_hidden()),
        "state(build)"
    );
    assert_eq!(
        pp(|| Term::labelled("build", ()).catch_hidden()),
        "catch(build)"
    );
    // A collapsed group is transparent: the text shows what is inside.
    assert_eq!(
        pp(|| {
            let src = Term::labelled("src", ());
            step(&step(&src, "build"), "test").collapse("k", "v", &src)
        }),
        "src >>= build >>= test"
    );
}

#[test]
fn a_whole_pipeline() {
    let text = pp(|| {
        let src = Term::labelled("src", ());
        let built = step(&src, "build");
        let tests = Term::labelled("platforms", vec!["linux".to_string()])
            .list_map(move |p| step(&p, "test"));
        let approval = Term::labelled("approval", ());
        let deployed = step(&built.gate(&approval), "deploy");
        tests.ignore_value().pair(&deployed.state())
    });
    assert_eq!(
        text,
        "platforms >> list_map (linux >>= test)\n||\nstate(src >>= build >> gate (approval) >>= deploy)"
    );
}

// ----- deviations from OCurrent ------------------------------------------------------------

#[test]
fn primitive_over_a_constant() {
    assert_eq!(
        pp(|| step(&Term::value(()), "approve")),
        "(const) >>= approve"
    );
}

#[test]
fn pending_constant_is_an_input() {
    assert_eq!(pp(|| Term::<()>::active(Active::Running)), "(input)");
    assert_eq!(
        pp(|| Term::<()>::of_output(Err(ErrorKind::Active(Active::Ready)))),
        "(input)"
    );
}

#[test]
fn constant_inside_a_bind() {
    assert_eq!(
        pp(|| { Term::labelled("head", 1).bind("docs?", |v| step(&Term::value(v), "build docs")) }),
        "head >>= docs? >>= build docs"
    );
}
