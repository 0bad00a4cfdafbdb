//! Tests: graphviz. A pipeline using every combinator is driven through a series of input
//! changes; at every step its diagram (collapsed, and with every group expanded) must be
//! accepted by `dot -Tsvg`, and `dot -Tplain` must show the expected number of nodes.
//!
//! Needs graphviz's `dot` on the PATH. Without it the test is skipped with a message, unless
//! the environment variable `CI` is set, in which case a missing `dot` is a failure.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use current::incr::{Changeable, Graph, Var};
use current::term::analysis::{self, DotOptions};
use current::term::{with_context, Active, ErrorKind, Executor, ListMapOptions, Outcome, Term};

/// Whether `dot` can be run. A missing `dot` is a failure under `CI`.
fn dot_available() -> bool {
    match Command::new("dot").arg("-V").output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!("`dot -V` failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("CI").is_some() {
                panic!("graphviz `dot` is not on the PATH, and CI is set: install graphviz");
            }
            println!("skipping: graphviz `dot` is not on the PATH ({e})");
            false
        }
        Err(e) => panic!("cannot run `dot`: {e}"),
    }
}

/// `dot -T<format>` of `input`; the diagram must be accepted without complaint.
fn graphviz(format: &str, input: &str) -> String {
    let mut child = Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running dot");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("waiting for dot");
    writer.join().expect("writer").expect("writing to dot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "`dot -T{format}` rejected the diagram ({}):\n{stderr}\n--- input ---\n{input}",
        out.status
    );
    String::from_utf8(out.stdout).expect("dot writes UTF-8")
}

/// The labels of the nodes in `dot -Tplain` output
/// (`node name x y width height label style shape color fillcolor`), sorted.
fn plain_nodes(plain: &str) -> Vec<String> {
    let mut labels: Vec<String> = plain
        .lines()
        .filter_map(|l| l.strip_prefix("node "))
        .map(|rest| {
            // name x y width height, then the label (quoted if it has spaces).
            let mut fields = rest.splitn(6, ' ');
            let label_and_more = fields.nth(5).expect("a node line has a label");
            match label_and_more.strip_prefix('"') {
                Some(quoted) => quoted[..quoted.find('"').expect("closing quote")].to_string(),
                None => label_and_more
                    .split(' ')
                    .next()
                    .expect("a label")
                    .to_string(),
            }
        })
        .collect();
    labels.sort();
    labels
}

/// The settable inputs of the pipeline and the states of its simulated jobs.
#[derive(Clone, Copy)]
struct Inputs {
    head: Var<Outcome<String>>,
    build: Var<Outcome<()>>,
    platforms: Var<Outcome<Vec<String>>>,
    tests: Var<Outcome<()>>,
    failing: Var<Vec<String>>,
    approval: Var<Outcome<()>>,
    release: Var<Outcome<Option<String>>>,
}

fn follow<T: Clone + 'static, U: Clone + 'static>(
    input: &Term<T>,
    info: &str,
    state: Var<Outcome<()>>,
    value: impl Fn(T) -> U + 'static,
) -> Term<U> {
    let c: Changeable<Outcome<()>> = state.changeable();
    input.primitive(info, move |g, v: T| {
        let value = value(v);
        g.map(&c, move |s| (s.map(|()| value.clone()), None))
    })
}

fn ok<T: Clone + 'static>(input: &Term<T>, info: &str) -> Term<()> {
    input.primitive(info, |g, _| g.constant((Ok(()), None)))
}

fn pipeline(i: Inputs) -> Term<()> {
    let head = Term::of_changeable("head", i.head.changeable());
    let image = follow(&head, "build", i.build, |c: String| format!("image-{c}"));

    // list_map, each item collapsible.
    let platforms = Term::of_changeable("platforms", i.platforms.changeable());
    let (tests_state, failing) = (i.tests.changeable(), i.failing.changeable());
    let built = image.clone();
    let tests = platforms.list_map_with(
        ListMapOptions {
            label: Some("tests".into()),
            collapse_key: Some("platform".into()),
        },
        move |platform| {
            let prepared = ok(&platform, "prepare");
            prepared
                .pair(&platform)
                .pair(&built)
                .primitive("test", move |g, (((), p), _image)| {
                    g.of_cc(move |cc| {
                        cc.read(&tests_state, move |cc, state| {
                            let p = p.clone();
                            cc.read(&failing, move |cc, failing| {
                                let out = match &state {
                                    Ok(()) if failing.contains(&p) => Err(ErrorKind::msg(format!(
                                        "tests \"failed\" on <{p}> & more"
                                    ))),
                                    other => other.clone(),
                                };
                                cc.write((out, None))
                            })
                        })
                    })
                })
        },
    );

    // gate
    let approval = Term::of_changeable("approval", i.approval.changeable());
    let ready = Term::all([tests.ignore_value(), approval]);
    let deployed = ok(&image.gate(&ready), "deploy");

    // option_map
    let release = Term::of_changeable("release tag", i.release.changeable());
    let img = image.clone();
    let published = release.option_map(move |tag| ok(&tag.pair(&img), "publish"));

    // collapse
    let packaged = ok(&image, "package");
    let signed = ok(&packaged, "sign").collapse("steps", "release", &image);

    // bind
    let docs = head.bind("docs?", |commit: String| {
        if commit.starts_with("docs") {
            ok(&ok(&Term::value(commit), "build docs"), "upload docs")
        } else {
            ok(&Term::value(commit), "check links")
        }
    });

    // with_context
    let lint_lock = Term::labelled("lint lock", ());
    let linted = with_context(&lint_lock, || ok(&head, "lint"));

    // catch and state
    let build_report = ok(&image.catch(), "report build");
    let status = ok(&deployed.state(), "set status");

    Term::all_labelled([
        ("deploy", deployed),
        ("release", published.ignore_value()),
        ("sign", signed),
        ("docs", docs),
        ("lint", linted),
        ("report", build_report),
        ("status", status),
    ])
}

type Change = Box<dyn Fn(&mut Graph, &Inputs) -> Result<(), current::incr::Error>>;

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn diagrams_through_input_changes() {
    if !dot_available() {
        return;
    }
    let mut g = Graph::new();
    let inputs = Inputs {
        head: g.var(Err(ErrorKind::Active(Active::Running))),
        build: g.var(Err(ErrorKind::Active(Active::Running))),
        platforms: g.var(Ok(strings(&["linux", "macos"]))),
        tests: g.var(Err(ErrorKind::Active(Active::Ready))),
        failing: g.var(Vec::new()),
        approval: g.var(Err(ErrorKind::Active(Active::WaitingForConfirmation))),
        release: g.var(Ok(None)),
    };
    let exec = Executor::run(&mut g, || pipeline(inputs));

    // Each step: what changes, then the labels of the nodes drawn beyond those drawn at
    // every step, with every group collapsed, and with the release steps and the `linux`
    // platform expanded.
    let always = [
        "head",
        "build",
        "platforms",
        "approval",
        "",
        "deploy",
        "release tag",
        "publish",
        "docs?",
        "lint lock",
        "lint",
        "catch",
        "report build",
        "state",
        "set status",
        "all",
    ];
    #[rustfmt::skip]
    let steps: Vec<(&str, Change, &[&str], &[&str])> = vec![
        (
            "head pending",
            Box::new(|_, _| Ok(())),
            &["linux", "+", "macos", "+", "+"],
            &["linux", "prepare", "test", "macos", "+", "package", "sign"],
        ),
        (
            "head known, build running",
            Box::new(|g, i| g.change(&i.head, Ok("abc123".into()))),
            &["linux", "+", "macos", "+", "+", "check links"],
            &["linux", "prepare", "test", "macos", "+", "package", "sign", "check links"],
        ),
        (
            "build done, tests running",
            Box::new(|g, i| {
                g.change(&i.build, Ok(()))?;
                g.change(&i.tests, Err(ErrorKind::Active(Active::Running)))
            }),
            &["linux", "+", "macos", "+", "+", "check links"],
            &["linux", "prepare", "test", "macos", "+", "package", "sign", "check links"],
        ),
        (
            "tests pass, approved, release tagged",
            Box::new(|g, i| {
                g.change(&i.tests, Ok(()))?;
                g.change(&i.approval, Ok(()))?;
                g.change(&i.release, Ok(Some("v1.0".into())))
            }),
            &["linux", "+", "macos", "+", "+", "check links"],
            &["linux", "prepare", "test", "macos", "+", "package", "sign", "check links"],
        ),
        (
            "windows added and failing",
            Box::new(|g, i| {
                g.change(&i.failing, strings(&["windows"]))?;
                g.change(&i.platforms, Ok(strings(&["linux", "macos", "windows"])))
            }),
            &["linux", "+", "macos", "+", "windows", "+", "+", "check links"],
            &["linux", "prepare", "test", "macos", "+", "windows", "+", "package", "sign",
              "check links"],
        ),
        (
            "a docs commit, the platform list broken",
            Box::new(|g, i| {
                g.change(&i.head, Ok("docs-1f2e".into()))?;
                g.change(&i.platforms, Err(ErrorKind::msg("platforms.toml: parse error")))
            }),
            // The template pipeline over the placeholder is never collapsed.
            &["(each item)", "prepare", "test", "+", "build docs", "upload docs"],
            &["(each item)", "prepare", "test", "package", "sign", "build docs", "upload docs"],
        ),
        (
            "no platforms, no release",
            Box::new(|g, i| {
                g.change(&i.platforms, Ok(vec![]))?;
                g.change(&i.release, Ok(None))
            }),
            &["(empty list)", "prepare", "test", "+", "build docs", "upload docs"],
            &["(empty list)", "prepare", "test", "package", "sign", "build docs", "upload docs"],
        ),
        (
            "linux only, and the build fails",
            Box::new(|g, i| {
                g.change(&i.platforms, Ok(strings(&["linux"])))?;
                g.change(&i.build, Err(ErrorKind::msg("compiler \"crashed\" <oom> & exit 137")))
            }),
            &["linux", "+", "+", "build docs", "upload docs"],
            &["linux", "prepare", "test", "package", "sign", "build docs", "upload docs"],
        ),
    ];

    for (n, (what, change, collapsed, expanded)) in steps.iter().enumerate() {
        change(&mut g, &inputs).expect("change");
        g.propagate().expect("propagate");
        for (which, options, extra) in [
            ("collapsed", DotOptions::default(), *collapsed),
            ("expanded", expanded_options(), *expanded),
        ] {
            let dot = analysis::dot_with(exec.term(), &g, &options);
            let svg = graphviz("svg", &dot);
            assert!(svg.contains("<svg"), "step {n} ({what}), {which}: no SVG");
            let got = plain_nodes(&graphviz("plain", &dot));
            let mut expected: Vec<String> = always
                .iter()
                .chain(extra.iter())
                .map(|s| s.to_string())
                .collect();
            expected.sort();
            assert_eq!(
                got.len(),
                expected.len(),
                "step {n} ({what}), {which}: number of nodes\n{dot}"
            );
            assert_eq!(
                got, expected,
                "step {n} ({what}), {which}: the nodes drawn differ\n{dot}"
            );
            let drawn = dot.lines().filter(|l| l.contains(" [label=")).count();
            assert_eq!(
                drawn,
                got.len(),
                "step {n} ({what}), {which}: dot and graphviz disagree"
            );
        }
        // The statistics count the stages the collapsed diagram draws.
        let stats = analysis::stats(exec.term(), &g);
        let total = stats.ok
            + stats.waiting_for_confirmation
            + stats.ready
            + stats.running
            + stats.failed
            + stats.blocked;
        assert_eq!(
            total,
            always.len() + collapsed.len(),
            "step {n} ({what}): {stats:?}"
        );
    }
    // The failures reach the root through all_labelled.
    assert_eq!(
        exec.result(&g),
        Err(ErrorKind::msg(
            "deploy, sign failed: compiler \"crashed\" <oom> & exit 137"
        ))
    );
}

/// Diagram options that expand the release steps and the `linux` platform.
fn expanded_options() -> DotOptions {
    DotOptions {
        env: BTreeMap::from([
            ("platform".to_string(), "linux".to_string()),
            ("steps".to_string(), "release".to_string()),
        ]),
        ..DotOptions::default()
    }
}
