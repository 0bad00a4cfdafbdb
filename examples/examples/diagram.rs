//! A pipeline over settable inputs, changed step by step; after each step the pipeline's
//! text form and its graphviz diagram are written to a folder.
//!
//! ```text
//! cargo run --example diagram -- [OUT_DIR]      # default: target/diagram
//! dot -Tsvg target/diagram/step-3.dot > step-3.svg
//! ```
//!
//! The pipeline: a commit (`head`) is built; the build is tested on each platform of a list
//! (`list_map`); a deployment waits for the tests and for an approval (`gate`); an optional
//! release tag is published (`option_map`); and what to check for documentation depends on
//! the commit itself (`bind`).
//!
//! The build and the tests are simulated jobs, whose states the example sets step by step
//! through `Term::primitive`; the deployment, the publication and the documentation check
//! are written with `pipeline!` (`let>` and `let*`).

use std::fs;
use std::path::PathBuf;

use anyhow::Context;
use current::incr::{Changeable, Graph, Var};
use current::pipeline;
use current::term::{analysis, Active, ErrorKind, Executor, Metadata, Outcome, Term};

/// The settable inputs, and the states of the simulated jobs.
struct Inputs {
    head: Var<Outcome<String>>,
    platforms: Var<Outcome<Vec<String>>>,
    release: Var<Outcome<Option<String>>>,
    approval: Var<Outcome<()>>,
    build: Var<Outcome<()>>,
    tests: Var<Outcome<()>>,
    failing: Var<Vec<String>>,
}

/// A simulated job: its outcome follows `state`, and its metadata names a job.
fn job<T: Clone + 'static>(
    g: &mut Graph,
    name: &str,
    state: &Var<Outcome<()>>,
    value: T,
) -> Changeable<(Outcome<T>, Option<Metadata>)> {
    let job_id = format!("2026-11-22/120000-{name}-abc123");
    g.map(&state.changeable(), move |s| {
        let meta = Metadata {
            job_id: Some(job_id.clone()),
            update: None,
        };
        (s.map(|()| value.clone()), Some(meta))
    })
}

fn pipeline(i: &Inputs) -> Term<()> {
    let head = Term::of_changeable("head", i.head.changeable());
    let build_state = i.build;
    let image = head.primitive("build", move |g, commit: String| {
        job(g, "build", &build_state, format!("image-{commit}"))
    });

    let (tests_state, failing) = (i.tests, i.failing.changeable());
    let platforms = Term::of_changeable("platforms", i.platforms.changeable());
    let built = image.clone();
    let tests = platforms.list_map(move |platform| {
        platform
            .pair(&built)
            .primitive("test", move |g, (platform, _image)| {
                let c = tests_state.changeable();
                let both = g.of_cc(move |cc| {
                    cc.read(&c, move |cc, state| {
                        let platform = platform.clone();
                        cc.read(&failing, move |cc, failing| {
                            let outcome = match &state {
                                Ok(()) if failing.contains(&platform) => {
                                    Err(ErrorKind::msg(format!("tests failed on {platform}")))
                                }
                                other => other.clone(),
                            };
                            cc.write((outcome, None))
                        })
                    })
                });
                both
            })
    });

    let approval = Term::of_changeable("approval", i.approval.changeable());
    let ready = Term::all([tests.ignore_value(), approval]);
    let deploy = pipeline! {
        let gated = image.gate(&ready);
        component "deploy";
        let> image = gated;
        Ok::<_, String>(format!("deployed {image}"))
    };

    let release = Term::of_changeable("release tag", i.release.changeable());
    let published = release.option_map(|tag| {
        pipeline! {
            component "publish";
            let> tag = tag and> image = image;
            Ok::<_, String>(format!("{image} as {tag}"))
        }
    });

    let docs = pipeline! {
        component "docs?";
        let* commit = head;
        if commit.starts_with("docs") {
            Term::labelled("build docs", ())
        } else {
            Term::labelled("no docs change", ())
        }
    };

    Term::all_labelled([
        ("deploy", deploy.ignore_value()),
        ("release", published.ignore_value()),
        ("docs", docs),
    ])
}

fn pp_outcome<T: std::fmt::Debug>(o: &Outcome<T>) -> String {
    match o {
        Ok(v) => format!("Ok: {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn main() -> anyhow::Result<()> {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/diagram"));
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut g = Graph::new();
    let inputs = Inputs {
        head: g.var(Err(ErrorKind::Active(Active::Running))),
        platforms: g.var(Ok(vec!["linux".to_string(), "macos".to_string()])),
        release: g.var(Ok(None)),
        approval: g.var(Err(ErrorKind::Active(Active::WaitingForConfirmation))),
        build: g.var(Err(ErrorKind::Active(Active::Running))),
        tests: g.var(Err(ErrorKind::Active(Active::Ready))),
        failing: g.var(Vec::new()),
    };
    let exec = Executor::run(&mut g, || pipeline(&inputs));

    type Step = (
        &'static str,
        Box<dyn Fn(&mut Graph, &Inputs) -> Result<(), current::incr::Error>>,
    );
    let steps: Vec<Step> = vec![
        ("fetching the head commit", Box::new(|_, _| Ok(()))),
        (
            "head is abc123; building",
            Box::new(|g, i| g.change(&i.head, Ok("abc123".into()))),
        ),
        (
            "build done; tests running",
            Box::new(|g, i| {
                g.change(&i.build, Ok(()))?;
                g.change(&i.tests, Err(ErrorKind::Active(Active::Running)))
            }),
        ),
        (
            "tests pass, approved, release v1.0 tagged",
            Box::new(|g, i| {
                g.change(&i.tests, Ok(()))?;
                g.change(&i.approval, Ok(()))?;
                g.change(&i.release, Ok(Some("v1.0".into())))
            }),
        ),
        (
            "windows added, and its tests fail",
            Box::new(|g, i| {
                g.change(&i.failing, vec!["windows".into()])?;
                g.change(
                    &i.platforms,
                    Ok(vec!["linux".into(), "macos".into(), "windows".into()]),
                )
            }),
        ),
        (
            "a documentation commit; the platform list is unavailable",
            Box::new(|g, i| {
                g.change(&i.head, Ok("docs-1f2e".into()))?;
                g.change(
                    &i.platforms,
                    Err(ErrorKind::msg("platforms.toml: parse error")),
                )
            }),
        ),
        (
            "no platforms at all, no release",
            Box::new(|g, i| {
                g.change(&i.platforms, Ok(vec![]))?;
                g.change(&i.release, Ok(None))
            }),
        ),
    ];

    for (n, (what, change)) in steps.iter().enumerate() {
        change(&mut g, &inputs)?;
        g.propagate()?;
        let text = analysis::pp(exec.term(), &g);
        let dot = analysis::dot(exec.term(), &g);
        let base = out.join(format!("step-{n}"));
        fs::write(base.with_extension("txt"), &text)
            .with_context(|| format!("writing {}.txt", base.display()))?;
        fs::write(base.with_extension("dot"), &dot)
            .with_context(|| format!("writing {}.dot", base.display()))?;
        println!("step {n}: {what}");
        println!("  result: {}", pp_outcome(&exec.result(&g)));
        println!("  stages: {:?}", analysis::stats(exec.term(), &g));
        println!("  diagram: {}.dot", base.display());
    }
    Ok(())
}
