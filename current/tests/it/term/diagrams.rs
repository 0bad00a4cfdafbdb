//! Tests: diagrams. Representative pipelines drawn with `analysis::dot` / `analysis::dot_with`
//! and compared with the expected files in `fixtures/`.
//!
//! Two things are normalised before the comparison, so that the fixtures pin what is drawn
//! rather than incidental numbers:
//!
//! - source locations (the `tooltip` of nodes that did not fail, and the `comment` of every
//!   node) are compared as `file:L:C`: the file is kept, the line and column are replaced,
//!   so editing this file does not break the fixtures;
//! - node numbers `n<i>` and cluster numbers `cluster_<i>` are renumbered in the order they
//!   first appear in the text (`n0`, `n1`, ...). The renderer numbers every term it visits,
//!   drawn or not, so the raw numbers change whenever a combinator is built from a different
//!   number of internal terms; the order in which nodes are printed is still compared.
//!
//! To regenerate the fixtures after a deliberate change to the drawing rules:
//!
//! ```text
//! UPDATE_FIXTURES=1 cargo test -p current --test it term::
//! ```
//!
//! then review every changed `.dot` file by eye against the rules of OCurrent's `pp_dot`
//! (`spec/ocurrent-reference.md`, section 2): the nodes, labels, colours, shapes, clusters
//! and edges must be what OCurrent would draw (node numbers and order may differ).
//!
//! When `dot` (graphviz) is on the PATH, every diagram is also fed to `dot -Tsvg`, which
//! must accept it. Without `dot` that check is skipped with a message, unless the
//! environment variable `CI` is set, in which case a missing `dot` is a failure.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use current::incr::{Changeable, Graph, Var};
use current::term::analysis::{self, DotOptions};
use current::term::{
    with_context, Active, ErrorKind, Executor, ListMapOptions, Metadata, Outcome, Term,
};

// ----- helpers shared with `escaping.rs` ---------------------------------------------------

/// The first lines of every diagram.
pub(super) const PREAMBLE: &str = "digraph pipeline {
  graph [fontname=\"ui-system,sans-serif\",bgcolor=\"transparent\"]
  node [fontname=\"ui-system,sans-serif\",shape=\"box\"]
  edge [fontname=\"ui-system,sans-serif\"]
  rankdir=LR
";

/// Run `dot -T<format>` on `input`. `None` (with the reason printed) when `dot` is not
/// installed and `CI` is not set; a missing `dot` under `CI`, or `dot` rejecting the
/// input, is a failure.
pub(super) fn graphviz(format: &str, input: &str) -> Option<String> {
    let child = Command::new("dot")
        .arg(format!("-T{format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("CI").is_some() {
                panic!("graphviz `dot` is not on the PATH, and CI is set: install graphviz");
            }
            println!("skipping the graphviz check: `dot` is not on the PATH ({e})");
            return None;
        }
        Err(e) => panic!("cannot run `dot`: {e}"),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("waiting for `dot`");
    writer
        .join()
        .expect("writer thread")
        .expect("writing to `dot`");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`dot -T{format}` rejected the diagram ({}):\n{stderr}\n--- input ---\n{input}",
        out.status
    );
    assert!(
        !stderr.contains("Error") && !stderr.contains("Warning"),
        "`dot -T{format}` complained:\n{stderr}\n--- input ---\n{input}"
    );
    Some(String::from_utf8(out.stdout).expect("dot writes UTF-8"))
}

/// `dot` with source locations `file:LINE:COL"` replaced by `file:L:C"`, and nodes and
/// clusters renumbered in the order they first appear.
pub(super) fn normalise(dot: &str) -> String {
    renumber(&normalise_locations(dot))
}

/// The number in `s` if it is `<prefix><digits><rest>`, and `rest`.
fn numbered<'a>(s: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let tail = s.strip_prefix(prefix)?;
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| tail.split_at(digits))
}

/// Renumber nodes (`n<i>`) and clusters (`cluster_<i>`) in order of first appearance. An
/// edge to a node that is not drawn is a failure.
fn renumber(dot: &str) -> String {
    let mut nodes = BTreeMap::new();
    let mut clusters = BTreeMap::new();
    let mut out = String::with_capacity(dot.len());
    for line in dot.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        out.push_str(indent);
        if let Some((i, rest)) = numbered(trimmed, "subgraph cluster_") {
            let next = clusters.len();
            let k = *clusters.entry(i.to_string()).or_insert(next);
            out.push_str(&format!("subgraph cluster_{k}{rest}"));
        } else if let Some((i, rest)) = numbered(trimmed, "n").filter(|(_, r)| r.starts_with(" ["))
        {
            let next = nodes.len();
            assert!(
                nodes.insert(i.to_string(), next).is_none(),
                "node n{i} drawn twice:\n{dot}"
            );
            out.push_str(&format!("n{next}{rest}"));
        } else if let Some((a, rest)) =
            numbered(trimmed, "n").filter(|(_, r)| r.starts_with(" -> "))
        {
            let (b, rest) = numbered(&rest[" -> ".len()..], "n").expect("an edge names two nodes");
            let name = |i: &str| {
                let k = nodes
                    .get(i)
                    .unwrap_or_else(|| panic!("edge from or to n{i}, which is not drawn:\n{dot}"));
                format!("n{k}")
            };
            out.push_str(&format!("{} -> {}{rest}", name(a), name(b)));
        } else {
            out.push_str(trimmed);
        }
    }
    out
}

fn normalise_locations(dot: &str) -> String {
    let mut out = String::with_capacity(dot.len());
    let mut rest = dot;
    while let Some(at) = rest.find(".rs:") {
        let (head, tail) = rest.split_at(at + ".rs:".len());
        out.push_str(head);
        rest = tail;
        let line = tail.bytes().take_while(u8::is_ascii_digit).count();
        if line == 0 || tail.as_bytes().get(line) != Some(&b':') {
            continue;
        }
        let after = &tail[line + 1..];
        let col = after.bytes().take_while(u8::is_ascii_digit).count();
        if col == 0 || after.as_bytes().get(col) != Some(&b'"') {
            continue;
        }
        out.push_str("L:C");
        rest = &after[col..];
    }
    out.push_str(rest);
    out
}

/// The rules every diagram follows whatever it draws: the preamble, the closing line, node
/// lines only before the first edge, edges only at the top level.
pub(super) fn check_layout(dot: &str) {
    assert!(dot.starts_with(PREAMBLE), "bad preamble:\n{dot}");
    assert!(dot.ends_with("\n  }\n"), "bad ending:\n{dot}");
    let mut edges = false;
    for line in dot.lines().skip(PREAMBLE.lines().count()) {
        let trimmed = line.trim_start();
        if trimmed.contains(" -> ") {
            edges = true;
            assert!(
                line.starts_with("  n") && !line.starts_with("   "),
                "edge not at the top level: {line:?}\n{dot}"
            );
        } else if edges && line != "  }" {
            panic!("{line:?} comes after an edge; edges are printed after all nodes:\n{dot}");
        }
    }
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/term/fixtures")
        .join(name)
}

/// Compare `dot` (normalised) with `fixtures/<name>.dot`, or write it there when
/// `UPDATE_FIXTURES` is set; then check that graphviz accepts it.
pub(super) fn check_fixture(name: &str, dot: &str) {
    check_layout(dot);
    let got = normalise(dot);
    let path = fixture_path(&format!("{name}.dot"));
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        // Written aside and renamed, so `fixtures_are_valid` never reads half a file.
        let tmp = path.with_extension("dot.tmp");
        std::fs::write(&tmp, &got).unwrap_or_else(|e| panic!("writing {tmp:?}: {e}"));
        std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("renaming to {path:?}: {e}"));
        println!("wrote {}", path.display());
    } else {
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "reading {}: {e}\n(run with UPDATE_FIXTURES=1 to create it)\n--- got ---\n{got}",
                path.display()
            )
        });
        assert!(
            got == expected,
            "diagram {name} differs from {}\n--- expected ---\n{expected}\n--- got ---\n{got}",
            path.display()
        );
    }
    graphviz("svg", dot);
}

/// Every checked-in fixture, those of the known bugs included, is in normal form and is a
/// diagram graphviz accepts.
#[test]
fn fixtures_are_valid() {
    let dir = fixture_path("");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}")) {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "dot") {
            let text = std::fs::read_to_string(&path).expect("a fixture");
            check_layout(&text);
            assert_eq!(
                normalise(&text),
                text,
                "{} is not normalised",
                path.display()
            );
            graphviz("svg", &text);
            count += 1;
        }
    }
    assert!(count >= 20, "only {count} fixtures in {}", dir.display());
}

// ----- building blocks ---------------------------------------------------------------------

/// A primitive that reports `out` (and `meta`) for any input value.
fn step<T: Clone + 'static, U: Clone + 'static>(
    input: &Term<T>,
    info: &str,
    out: Outcome<U>,
    meta: Option<Metadata>,
) -> Term<U> {
    input.primitive(info, move |g, _| g.constant((out.clone(), meta.clone())))
}

/// A primitive that succeeds with `()`.
fn ok<T: Clone + 'static>(input: &Term<T>, info: &str) -> Term<()> {
    step(input, info, Ok(()), None)
}

/// A primitive whose outcome follows `var`.
fn follow<T: Clone + 'static, U: Clone + 'static>(
    input: &Term<T>,
    info: &str,
    var: Var<Outcome<U>>,
) -> Term<U> {
    let c: Changeable<Outcome<U>> = var.changeable();
    input.primitive(info, move |g, _| g.map(&c, |o| (o, None)))
}

fn msg(m: &str) -> ErrorKind {
    ErrorKind::msg(m)
}

fn active<T>(a: Active) -> Outcome<T> {
    Err(ErrorKind::Active(a))
}

fn job(name: &str, update: Option<Active>) -> Option<Metadata> {
    Some(Metadata {
        job_id: Some(format!("2026-01-02/030405-{name}-abcdef")),
        update,
    })
}

/// The lines of `dot` that draw nodes (`n<i> [...]`).
fn node_lines(dot: &str) -> Vec<&str> {
    dot.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('n') && l.contains(" [label="))
        .collect()
}

/// The node line of the node labelled `label` (exactly one must exist).
fn node_line<'a>(dot: &'a str, label: &str) -> &'a str {
    let needle = format!(" [label=\"{label}\",");
    let found: Vec<&str> = node_lines(dot)
        .into_iter()
        .filter(|l| l.contains(&needle))
        .collect();
    assert_eq!(found.len(), 1, "one node labelled {label:?} in\n{dot}");
    found[0]
}

/// The `n<i>` name of the node labelled `label`.
fn node_name<'a>(dot: &'a str, label: &str) -> &'a str {
    let line = node_line(dot, label);
    &line[..line.find(' ').expect("a node line has attributes")]
}

fn has_edge(dot: &str, from: &str, to: &str) -> bool {
    let (a, b) = (node_name(dot, from), node_name(dot, to));
    dot.lines().any(|l| {
        l.trim() == format!("{a} -> {b}") || l.trim().starts_with(&format!("{a} -> {b} ["))
    })
}

fn update(g: &mut Graph, f: impl FnOnce(&mut Graph) -> Result<(), current::incr::Error>) {
    f(g).expect("change");
    g.propagate().expect("propagate");
}

// ----- (a) gates ---------------------------------------------------------------------------

#[test]
fn gate() {
    let mut g = Graph::new();
    let approval: Var<Outcome<()>> = g.var(active(Active::WaitingForConfirmation));
    let exec = Executor::run(&mut g, || {
        let src = Term::labelled("src", 1);
        let tested = step(&src, "test", Ok(2), None);
        let approved = follow(&Term::value(()), "approve", approval);
        let deploy = tested.gate(&approved);
        ok(&deploy, "deploy")
    });
    let waiting = analysis::dot(exec.term(), &g);
    check_fixture("gate_waiting", &waiting);
    // The gate is a circle with no label, grey while the control input is pending; the
    // control edge is dashed, the data edge solid.
    assert!(node_line(&waiting, "")
        .contains("color=\"#d3d3d3\",fillcolor=\"#d3d3d3\",style=\"filled\",shape=\"circle\""));
    assert!(node_line(&waiting, "approve").contains("color=\"#4975ff\""));
    let (approve, circle, test) = (
        node_name(&waiting, "approve"),
        node_name(&waiting, ""),
        node_name(&waiting, "test"),
    );
    assert!(waiting.contains(&format!("  {approve} -> {circle} [style=\"dashed\"]\n")));
    assert!(waiting.contains(&format!("  {test} -> {circle}\n")));

    update(&mut g, |g| g.change(&approval, Ok(())));
    check_fixture("gate_open", &analysis::dot(exec.term(), &g));
}

// ----- transitive reduction ----------------------------------------------------------------

#[test]
fn transitive_reduction() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let a = Term::labelled("a", ());
        let b = ok(&a, "b");
        // `c` reads `a` directly and through `b`: only `b -> c` is drawn.
        let c = ok(&a.pair(&b), "c");
        // Independent inputs of a pair are both drawn.
        let d = Term::labelled("d", ());
        let e = ok(&c.pair(&d), "e");
        // A `state` box forgets what is upstream of it, so `a -> f` stays.
        let f = ok(&a.pair(&b.state()), "f");
        Term::all([e, f])
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("transitive", &dot);
    assert!(has_edge(&dot, "a", "b"));
    assert!(has_edge(&dot, "b", "c"));
    assert!(
        !has_edge(&dot, "a", "c"),
        "a -> c is implied by a -> b -> c:\n{dot}"
    );
    assert!(has_edge(&dot, "c", "e") && has_edge(&dot, "d", "e"));
    assert!(has_edge(&dot, "a", "f") && has_edge(&dot, "state", "f"));
    assert!(!has_edge(&dot, "b", "f"));
}

/// Node numbers come from a counter per render: drawing twice gives the same text, and a
/// location is printed with its workspace-relative file.
#[test]
fn deterministic_and_located() {
    let mut g = Graph::new();
    let line = line!() + 2;
    let exec = Executor::run(&mut g, || {
        let src = Term::labelled("located", ());
        ok(&src, "consumer")
    });
    let first = analysis::dot(exec.term(), &g);
    assert_eq!(first, analysis::dot(exec.term(), &g));
    let expected = format!("\"current/tests/it/term/diagrams.rs:{line}:");
    let located = node_line(&first, "located");
    assert!(
        located.contains(&format!("tooltip={expected}"))
            && located.contains(&format!("comment={expected}")),
        "expected a location starting {expected} in {located}"
    );
    assert_eq!(
        exec.term().location().file(),
        "current/tests/it/term/diagrams.rs"
    );
    check_layout(&first);
}

// ----- (b) list_map ------------------------------------------------------------------------

/// An item type whose `Display` differs from its `Debug`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Platform {
    os: &'static str,
    arch: &'static str,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

const LINUX: Platform = Platform {
    os: "linux",
    arch: "x86_64",
};
const MACOS: Platform = Platform {
    os: "macos",
    arch: "arm64",
};

fn platform_pipeline(platforms: Var<Outcome<Vec<Platform>>>) -> Term<()> {
    let list = Term::of_changeable("platforms", platforms.changeable());
    let image = Term::labelled("image", "img-1".to_string());
    let tests = list.list_map_with(
        ListMapOptions {
            label: Some("tests".into()),
            collapse_key: None,
        },
        move |p| {
            p.pair(&image).primitive("test", |g, (p, _image)| {
                let out = if p == LINUX {
                    Ok(())
                } else {
                    active(Active::Running)
                };
                g.constant((out, None))
            })
        },
    );
    ok(&tests, "report")
}

#[test]
fn list_map_items_and_template() {
    let mut g = Graph::new();
    let platforms = g.var(Ok(vec![MACOS, LINUX, MACOS]));
    let exec = Executor::run(&mut g, || platform_pipeline(platforms));
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("list_map_items", &dot);
    // Items are labelled by `Display`; duplicates share one pipeline.
    assert_eq!(node_lines(&dot).len(), 7, "{dot}");
    assert!(node_line(&dot, "macos/arm64").contains("#90ee90"));
    assert!(dot.contains("subgraph cluster_"));
    assert!(dot.contains("    label=\"tests\"\n"));

    // The list itself failed: one template pipeline over an `(each item)` placeholder.
    update(&mut g, |g| {
        g.change(&platforms, Err(msg("platforms.toml: parse error")))
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("list_map_failed", &dot);
    assert!(node_line(&dot, "(each item)").contains("#d3d3d3"));
    assert!(node_line(&dot, "platforms").contains("tooltip=\"platforms.toml: parse error\""));
}

#[test]
fn list_map_empty() {
    let mut g = Graph::new();
    let platforms = g.var(Ok(vec![]));
    let exec = Executor::run(&mut g, || platform_pipeline(platforms));
    check_fixture("list_map_empty", &analysis::dot(exec.term(), &g));
}

fn repos_pipeline() -> Term<Vec<()>> {
    let list = Term::labelled("repos", vec!["alpha".to_string(), "beta".to_string()]);
    list.list_map_with(
        ListMapOptions {
            label: None,
            collapse_key: Some("repo".into()),
        },
        |r| ok(&ok(&r, "fetch"), "build"),
    )
}

fn expand_beta() -> DotOptions {
    DotOptions {
        env: BTreeMap::from([("repo".to_string(), "beta".to_string())]),
        ..DotOptions::default()
    }
}

/// Items of a list_map with a `collapse_key`: each item's pipeline is a `+` box, expanded
/// per item through the environment (the value is the item's text).
#[test]
fn list_map_collapse_key() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, repos_pipeline);
    let collapsed = analysis::dot(exec.term(), &g);
    check_layout(&collapsed);
    let labels = |dot: &str| -> Vec<String> {
        node_lines(dot)
            .iter()
            .map(|l| {
                l[l.find("[label=\"").unwrap() + 8..]
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(labels(&collapsed), ["repos", "alpha", "+", "beta", "+"]);
    let edges = |dot: &str| -> Vec<String> {
        dot.lines()
            .filter(|l| l.contains(" -> "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(
        edges(&normalise(&collapsed)),
        ["n3 -> n4", "n0 -> n3", "n1 -> n2", "n0 -> n1"]
    );
    graphviz("svg", &collapsed);

    let expanded = analysis::dot_with(exec.term(), &g, &expand_beta());
    check_layout(&expanded);
    assert_eq!(
        labels(&expanded),
        ["repos", "alpha", "+", "beta", "fetch", "build"]
    );
    assert_eq!(
        edges(&normalise(&expanded)),
        ["n4 -> n5", "n3 -> n4", "n0 -> n3", "n1 -> n2", "n0 -> n1"]
    );
    graphviz("svg", &expanded);
}

#[test]
fn list_map_collapsed_items() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, repos_pipeline);
    check_fixture("list_map_collapsed", &analysis::dot(exec.term(), &g));
    check_fixture(
        "list_map_one_expanded",
        &analysis::dot_with(exec.term(), &g, &expand_beta()),
    );
}

// ----- (c) option_map ----------------------------------------------------------------------

#[test]
fn option_map_some_and_none() {
    let mut g = Graph::new();
    let tag: Var<Outcome<Option<String>>> = g.var(Ok(Some("v1.0".into())));
    let exec = Executor::run(&mut g, || {
        let tag = Term::of_changeable("release tag", tag.changeable());
        let image = Term::labelled("image", ());
        let published = tag.option_map(move |t| ok(&t.pair(&image), "publish"));
        ok(&published, "announce")
    });
    let some = analysis::dot(exec.term(), &g);
    check_fixture("option_map_some", &some);
    assert!(some.contains("    label=\"\"\n    style=\"dotted\"\n"));
    assert!(node_line(&some, "publish").contains("#90ee90"));

    update(&mut g, |g| g.change(&tag, Ok(None)));
    let none = analysis::dot(exec.term(), &g);
    check_fixture("option_map_none", &none);
    // No value: the pipeline is still shown, blocked; the result is `Ok(None)`.
    assert!(node_line(&none, "publish").contains("#d3d3d3"));
    assert!(node_line(&none, "announce").contains("#90ee90"));
}

#[test]
fn option_map_labelled_blocked() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let tag: Term<Option<String>> =
            step(&Term::value(()), "release tag", Err(msg("no tags")), None);
        tag.option_map_labelled("release", |t| ok(&t, "publish"))
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("option_map_blocked", &dot);
    assert!(dot.contains("    label=\"release\"\n    style=\"dotted\"\n"));
}

// ----- (d) collapse ------------------------------------------------------------------------

fn collapse_pipeline(build: Var<Outcome<()>>) -> Term<()> {
    let src = Term::labelled("src", ());
    let built = follow(&src, "build", build);
    let tested = ok(&built, "test");
    let group = tested.collapse("group", "main", &src);
    ok(&group, "deploy")
}

fn link(k: &str, v: &str) -> String {
    format!("/pipeline?{k}={v}&expand=yes")
}

#[test]
fn collapse_and_expand() {
    let mut g = Graph::new();
    let build = g.var(Ok(()));
    let exec = Executor::run(&mut g, || collapse_pipeline(build));

    let collapsed = analysis::dot(exec.term(), &g);
    check_fixture("collapse_collapsed", &collapsed);
    assert!(node_line(&collapsed, "+").contains("#90ee90"));
    assert!(has_edge(&collapsed, "src", "+") && has_edge(&collapsed, "+", "deploy"));

    // With a link, the `+` box links to it, `&` escaped.
    let options = DotOptions {
        collapse_link: Some(Box::new(link)),
        ..DotOptions::default()
    };
    let linked = analysis::dot_with(exec.term(), &g, &options);
    check_layout(&linked);
    let plus = node_lines(&linked)
        .into_iter()
        .find(|l| l.contains(" [label=\"+"))
        .expect("a + box");
    assert!(
        plus.contains(",URL=\"/pipeline?group=main&amp;expand=yes\",")
            && plus.contains(",target=\"_top\""),
        "{plus}"
    );
    graphviz("svg", &linked);

    // Expanded through the environment: the group's stages are drawn.
    let options = DotOptions {
        env: BTreeMap::from([("group".to_string(), "main".to_string())]),
        collapse_link: Some(Box::new(link)),
        ..DotOptions::default()
    };
    let expanded = analysis::dot_with(exec.term(), &g, &options);
    check_fixture("collapse_expanded", &expanded);
    assert!(!expanded.contains("label=\"+\""));
    assert!(has_edge(&expanded, "test", "deploy") && has_edge(&expanded, "src", "build"));

    // Another value of the key does not expand the group.
    let options = DotOptions {
        env: BTreeMap::from([("group".to_string(), "other".to_string())]),
        ..DotOptions::default()
    };
    assert_eq!(analysis::dot_with(exec.term(), &g, &options), collapsed);

    // A failure inside the group is shown as the group's own.
    update(&mut g, |g| g.change(&build, Err(msg("compiler crashed"))));
    let failed = analysis::dot(exec.term(), &g);
    check_fixture("collapse_failed_inside", &failed);
    assert!(node_line(&failed, "+").contains("#ff4500"));
    assert!(node_line(&failed, "+").contains("tooltip=\"compiler crashed\""));
}

#[test]
fn collapse_link_suffix() {
    let mut g = Graph::new();
    let build = g.var(Ok(()));
    let exec = Executor::run(&mut g, || collapse_pipeline(build));
    let options = DotOptions {
        collapse_link: Some(Box::new(link)),
        ..DotOptions::default()
    };
    check_fixture(
        "collapse_linked",
        &analysis::dot_with(exec.term(), &g, &options),
    );
}

#[test]
fn collapse_blocked_input() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let fetched = step::<(), ()>(&Term::value(()), "fetch", Err(msg("offline")), None);
        let src = ok(&fetched, "checkout");
        let group = ok(&ok(&src, "build"), "test").collapse("group", "main", &src);
        ok(&group, "deploy")
    });
    check_fixture("collapse_blocked_input", &analysis::dot(exec.term(), &g));
}

#[test]
fn collapse_list_group() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let src = Term::labelled("src", ());
        let tests = vec![ok(&src, "unit"), ok(&src, "lint")];
        let (members, group) = Term::collapse_list("checks", "all", &src, tests);
        let first = ok(&members[0], "after unit");
        Term::all([first, ok(&group, "after all")])
    });
    check_fixture("collapse_list", &analysis::dot(exec.term(), &g));
}

#[test]
fn collapse_list_expanded() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let src = Term::labelled("src", ());
        let tests = vec![ok(&src, "unit"), ok(&src, "lint")];
        let (members, group) = Term::collapse_list("checks", "all", &src, tests);
        let first = ok(&members[0], "after unit");
        Term::all([first, ok(&group, "after all")])
    });
    let options = DotOptions {
        env: BTreeMap::from([("checks".to_string(), "all".to_string())]),
        ..DotOptions::default()
    };
    check_fixture(
        "collapse_list_expanded",
        &analysis::dot_with(exec.term(), &g, &options),
    );
}

// ----- (e) colours and job links -----------------------------------------------------------

fn colour_pipeline(with_jobs: bool) -> Term<()> {
    let meta = |name: &str, update: Option<Active>| {
        if with_jobs {
            job(name, update)
        } else {
            update.map(|u| Metadata {
                job_id: None,
                update: Some(u),
            })
        }
    };
    let src = Term::labelled("src", ());
    let ok_ = step(&src, "ok", Ok(()), meta("ok", None));
    let waiting = step(
        &src,
        "waiting",
        active(Active::WaitingForConfirmation),
        meta("waiting", None),
    );
    let ready = step(&src, "ready", active(Active::Ready), meta("ready", None));
    let running = step(
        &src,
        "running",
        active(Active::Running),
        meta("running", None),
    );
    let failed: Term<()> = step(
        &src,
        "failed",
        Err(msg("exit code 2")),
        meta("failed", None),
    );
    let blocked = step(&failed, "blocked", Ok(()), meta("blocked", None));
    let rebuilding = step(
        &src,
        "rebuilding",
        Ok(()),
        meta("rebuilding", Some(Active::Running)),
    );
    Term::all([ok_, waiting, ready, running, blocked, rebuilding])
}

#[test]
fn every_colour() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || colour_pipeline(false));
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("colours", &dot);
    let colour = |label: &str, c: &str| {
        let line = node_line(&dot, label);
        assert!(
            line.contains(&format!("color=\"{c}\",fillcolor=\"{c}\",style=\"filled\"")),
            "{label} should be {c}: {line}"
        );
    };
    colour("ok", "#90ee90");
    colour("waiting", "#4975ff");
    colour("ready", "#ffff00");
    colour("running", "#ffa500");
    colour("failed", "#ff4500");
    colour("blocked", "#d3d3d3");
    colour("rebuilding", "#ffa500:#90ee90");
    assert!(node_line(&dot, "failed").contains(",tooltip=\"exit code 2\","));
    assert!(!dot.contains("URL="), "no links without job_info:\n{dot}");
}

#[test]
fn job_links() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || colour_pipeline(true));
    let options = DotOptions {
        job_info: Some(Box::new(|m: &Metadata| {
            (
                m.update,
                m.job_id
                    .as_ref()
                    .map(|id| format!("/job/{id}?tab=log&follow=1")),
            )
        })),
        ..DotOptions::default()
    };
    let dot = analysis::dot_with(exec.term(), &g, &options);
    check_fixture("job_links", &dot);
    let label = |name: &str, suffix: &str| {
        let line = node_lines(&dot)
            .into_iter()
            .find(|l| l.contains(&format!(" [label=\"{name}")))
            .unwrap_or_else(|| panic!("no node {name} in\n{dot}"));
        assert!(
            line.contains(&format!("[label=\"{name}{suffix}\",")),
            "{name} should be labelled {name}{suffix}: {line}"
        );
        line
    };
    let ok_line = label("ok", " &#x2714;");
    assert!(
        ok_line.contains(",URL=\"/job/2026-01-02/030405-ok-abcdef?tab=log&amp;follow=1\",tooltip=")
    );
    assert!(ok_line.contains(",target=\"_top\","));
    label("waiting", " &#x2026;");
    label("ready", " &#x2026;");
    label("running", " &#x2026;");
    label("failed", " &#x2717;");
    label("rebuilding", " &#x2714;");
    // A blocked primitive has no job, so no link and no suffix.
    let blocked = label("blocked", "");
    assert!(!blocked.contains("URL="));
    assert!(node_line(&dot, "rebuilding &#x2714;").contains("\"#ffa500:#90ee90\""));
}

// ----- (f) bind ----------------------------------------------------------------------------

#[test]
fn bind() {
    let mut g = Graph::new();
    let commit: Var<Outcome<String>> = g.var(active(Active::Running));
    let exec = Executor::run(&mut g, || {
        let head = Term::of_changeable("head", commit.changeable());
        let docs = head.bind("docs?", |c: String| {
            let built = step(&Term::value(c), "build docs", Ok(()), None);
            ok(&built, "publish docs")
        });
        ok(&docs, "notify")
    });
    let pending = analysis::dot(exec.term(), &g);
    check_fixture("bind_pending", &pending);
    assert!(node_line(&pending, "docs?").contains("#d3d3d3"));

    update(&mut g, |g| g.change(&commit, Ok("abc".into())));
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("bind_expanded", &dot);
    assert!(has_edge(&dot, "head", "docs?"));
    assert!(has_edge(&dot, "docs?", "build docs"));
    assert!(has_edge(&dot, "build docs", "publish docs"));
    assert!(
        !has_edge(&dot, "docs?", "publish docs"),
        "implied by docs? -> build docs -> publish docs:\n{dot}"
    );
    assert!(has_edge(&dot, "publish docs", "notify"));
}

#[test]
fn with_context_and_all_labelled() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let lock = Term::labelled("lock", ());
        let src = Term::labelled("src", ());
        let (a, b) = with_context(&lock, || (ok(&src, "a"), ok(&src, "b")));
        let c: Term<()> = step(&src, "c", Err(msg("oops")), None);
        Term::all_labelled([("a", a), ("b", b), ("c", c)])
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("context_all_labelled", &dot);
    assert!(has_edge(&dot, "lock", "a") && has_edge(&dot, "src", "a"));
    assert!(has_edge(&dot, "c", "all"));
}

#[test]
fn state_catch_and_failed_map() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let build: Term<()> = step(&Term::value(()), "build", Err(msg("compile error")), None);
        let status = build.state();
        let caught = build.catch();
        let checked = Term::labelled("n", 1).map(|n: i32| -> i32 {
            if n > 0 {
                panic!("n must not be positive")
            }
            n
        });
        ok(&status.pair(&caught).pair(&checked), "report")
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("state_catch_map", &dot);
    assert!(node_line(&dot, "state").contains("#90ee90"));
    assert!(node_line(&dot, "catch").contains("#90ee90"));
    assert!(node_line(&dot, "map").contains(",tooltip=\"n must not be positive\","));
}

/// Unlabelled constants are drawn only when they have no value: `(const)`, coloured by
/// their own state.
#[test]
fn failed_and_pending_constants() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let config: Term<()> = Term::fail("config missing");
        let pending: Term<()> = Term::active(Active::Ready);
        let ok_const = Term::value(());
        ok(&config.pair(&pending).pair(&ok_const), "build")
    });
    let dot = analysis::dot(exec.term(), &g);
    check_fixture("constants", &dot);
    let consts: Vec<&str> = node_lines(&dot)
        .into_iter()
        .filter(|l| l.contains("[label=\"(const)\""))
        .collect();
    assert_eq!(consts.len(), 2, "{dot}");
    assert!(consts[0].contains("#ff4500") && consts[0].contains("tooltip=\"config missing\""));
    assert!(consts[1].contains("#ffff00"));
}

// ----- deviations from OCurrent, with the drawing OCurrent makes ---------------------------

#[test]
fn bind_inside_clusters() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let items = Term::labelled("items", vec![1, 2]);
        let tests = items.list_map(|i| i.bind("configure", |v| ok(&Term::value(v), "test")));
        let opt = Term::labelled("opt", Some(3));
        let published = opt.option_map(|i| i.bind("choose", |v| ok(&Term::value(v), "publish")));
        Term::all([tests.ignore_value(), published.ignore_value()])
    });
    check_fixture("bind_inside_clusters", &analysis::dot(exec.term(), &g));
}

#[test]
fn labelled_constant_in_bind() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let head = Term::labelled("head", "docs-1".to_string());
        let docs = head.bind("docs?", |c: String| Term::labelled("build docs", c));
        ok(&docs, "notify")
    });
    check_fixture("labelled_constant_in_bind", &analysis::dot(exec.term(), &g));
}

#[test]
fn failed_map_in_bind() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let other = Term::labelled("other", 1);
        let head = Term::labelled("head", 2);
        head.bind("check", move |_| {
            other.map(|_: i32| -> i32 { panic!("bad value") })
        })
    });
    check_fixture("failed_map_in_bind", &analysis::dot(exec.term(), &g));
}

#[test]
fn bind_over_failed_constant() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let input: Term<i32> = Term::fail("no input");
        input.bind("configure", |v| Term::labelled("configured", v))
    });
    check_fixture("bind_over_failed_constant", &analysis::dot(exec.term(), &g));
}

#[test]
fn list_map_in_context() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let lock = Term::labelled("lock", ());
        let items = Term::labelled("items", vec![1]);
        with_context(&lock, || items.list_map(|i| ok(&i, "test")))
    });
    check_fixture("list_map_in_context", &analysis::dot(exec.term(), &g));
}
