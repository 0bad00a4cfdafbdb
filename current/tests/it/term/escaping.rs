//! Tests: escaping. Labels, error messages, cluster labels and links with quotes,
//! backslashes, newlines, `<>&` and non-ASCII text give dot that graphviz accepts and shows
//! exactly as written; long errors are cut in tooltips.
//!
//! The SVG checks need graphviz's `dot`; without it they are skipped with a message (a
//! failure when `CI` is set), and only the dot text is checked.

use current::incr::Graph;
use current::term::analysis::{self, DotOptions};
use current::term::{ErrorKind, Executor, ListMapOptions, Metadata, Outcome, Term};

use super::diagrams::{check_layout, graphviz};

/// Text with entities decoded, as an XML parser reads it.
fn xml_decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').expect("an entity ends with ;");
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&e[2..], 16).expect("hex")).expect("char")
            }
            e if e.starts_with('#') => {
                char::from_u32(e[1..].parse().expect("decimal")).expect("char")
            }
            e => panic!("unknown entity &{e};"),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The decoded contents of the SVG's `<text>` elements, one per line of a label.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find("<text ") {
        rest = &rest[at..];
        let open = rest.find('>').expect("end of <text>") + 1;
        let close = rest.find("</text>").expect("</text>");
        texts.push(xml_decode(&rest[open..close]));
        rest = &rest[close..];
    }
    texts
}

/// The decoded values of every `name="..."` attribute in the SVG.
fn svg_attrs(svg: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    svg.split(needle.as_str())
        .skip(1)
        .map(|s| xml_decode(&s[..s.find('"').expect("closing quote")]))
        .collect()
}

fn svg_of(dot: &str) -> Option<String> {
    check_layout(dot);
    graphviz("svg", dot)
}

const TRICKY: &[&str] = &[
    "say \"hi\"",
    "back\\slash C:\\new\\Node \\l",
    "<b>bold?</b> & more",
    "&amp; stays as typed",
    "naïve ✓ 日本",
    "two\nlines",
    "quote\" and \\\" both",
];

#[test]
fn labels_are_shown_as_written() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let steps: Vec<Term<()>> = TRICKY
            .iter()
            .map(|label| {
                Term::labelled(*label, ())
                    .primitive(format!("step {label}"), |g, ()| g.constant((Ok(()), None)))
            })
            .collect();
        Term::all(steps)
    });
    let dot = analysis::dot(exec.term(), &g);
    // The dot text itself: quotes and backslashes escaped, `\n` for a newline, entities
    // for `<>&`, UTF-8 kept.
    for expected in [
        r#"label="say \"hi\"""#,
        r#"label="back\\slash C:\\new\\Node \\l""#,
        r#"label="&lt;b&gt;bold?&lt;/b&gt; &amp; more""#,
        r#"label="&amp;amp; stays as typed""#,
        "label=\"naïve ✓ 日本\"",
        r#"label="two\nlines""#,
        r#"label="quote\" and \\\" both""#,
    ] {
        assert!(dot.contains(expected), "missing {expected} in\n{dot}");
    }
    let Some(svg) = svg_of(&dot) else { return };
    let texts = svg_texts(&svg);
    for label in TRICKY {
        // graphviz draws each line of a label as its own <text>.
        let lines: Vec<&str> = label.split('\n').collect();
        for prefix in ["", "step "] {
            let first = format!("{prefix}{}", lines[0]);
            let at = texts
                .iter()
                .position(|t| *t == first)
                .unwrap_or_else(|| panic!("no text {first:?} in {texts:#?}"));
            assert_eq!(texts[at..at + lines.len()][1..], lines[1..], "{label:?}");
        }
    }
    // In the SVG source: XML escapes, and the UTF-8 text as is.
    assert!(svg.contains("&lt;b&gt;bold?&lt;/b&gt; &amp; more"));
    assert!(svg.contains("&amp;amp; stays as typed"));
    assert!(svg.contains("say &quot;hi&quot;"));
    assert!(svg.contains(">naïve ✓ 日本</text>"));
    assert!(svg.contains(">back\\slash C:\\new\\Node \\l</text>"));
}

const MESSAGE: &str = "exit \"1\": C:\\tmp <stdin> & stderr\nnaïve ✓ 日本";

#[test]
fn error_messages_as_tooltips() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::labelled("src", ()).primitive("build", |g, ()| {
            g.constant((Err::<(), _>(ErrorKind::msg(MESSAGE)), None))
        })
    });
    let dot = analysis::dot(exec.term(), &g);
    assert!(
        dot.contains(r#",tooltip="exit \"1\": C:\\tmp &lt;stdin&gt; &amp; stderr\nnaïve ✓ 日本","#),
        "{dot}"
    );
    let Some(svg) = svg_of(&dot) else { return };
    let titles = svg_attrs(&svg, "xlink:title");
    assert!(
        titles.iter().any(|t| t == MESSAGE),
        "no tooltip {MESSAGE:?} in {titles:#?}"
    );
    assert!(svg.contains("xlink:title=\"exit &quot;1&quot;: C:\\tmp &lt;stdin&gt; &amp; stderr"));
}

/// The tooltip of the failed node `label` in `dot`, still quoted for dot.
fn tooltip<'a>(dot: &'a str, label: &str) -> &'a str {
    let line = dot
        .lines()
        .find(|l| l.contains(&format!("[label=\"{label}\",")))
        .unwrap_or_else(|| panic!("no node {label} in\n{dot}"));
    let start = line.find(",tooltip=\"").expect("a tooltip") + ",tooltip=\"".len();
    let len = line[start..].find("\",").expect("end of the tooltip");
    &line[start..start + len]
}

#[test]
fn long_errors_are_cut() {
    // 4,096 characters is the most shown; the text is non-ASCII so that characters and
    // bytes differ.
    let fits: String = "é".repeat(4095) + "x";
    let long: String = "é".repeat(4095) + "xyz" + &"z".repeat(10_000);
    let mut g = Graph::new();
    let (f, l) = (fits.clone(), long.clone());
    let exec = Executor::run(&mut g, move || {
        let fail = |label: &str, m: String| -> Term<()> {
            Term::labelled("src", ()).primitive(label, move |g, ()| {
                g.constant((Err(ErrorKind::msg(m.clone())), None))
            })
        };
        Term::all([fail("fits", f), fail("long", l)])
    });
    let dot = analysis::dot(exec.term(), &g);
    assert_eq!(tooltip(&dot, "fits"), fits);
    let cut = tooltip(&dot, "long");
    assert_eq!(cut.chars().count(), 4096 + 3);
    assert_eq!(cut, format!("{}x...", "é".repeat(4095)));
    let Some(svg) = svg_of(&dot) else { return };
    let titles = svg_attrs(&svg, "xlink:title");
    assert!(titles.contains(&fits));
    assert!(titles.contains(&format!("{}x...", "é".repeat(4095))));
}

#[test]
fn cluster_labels_and_links() {
    let label = "tests \"all\" <x86> & 日本";
    let url = "/pipeline?key=a b&value=<v>&x=naïve";
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, move || {
        let items = Term::labelled("items", vec!["a&b".to_string(), "<c>".to_string()]);
        let tests = items.list_map_with(
            ListMapOptions {
                label: Some(label.to_string()),
                collapse_key: None,
            },
            |i| {
                i.primitive("test", |g, _| {
                    let meta = Metadata {
                        job_id: Some("2026-01-02/030405-test-&<r>".into()),
                        update: None,
                    };
                    g.constant((Ok::<_, ErrorKind>(()), Some(meta)))
                })
            },
        );
        let src = Term::labelled("src", ());
        let group = src
            .primitive("inner", |g, ()| g.constant((Outcome::Ok(()), None)))
            .collapse("key \"k\"", "value <v> & 日本", &src);
        tests.ignore_value().pair(&group)
    });
    let options = DotOptions {
        collapse_link: Some(Box::new(move |_k, _v| url.to_string())),
        job_info: Some(Box::new(|m: &Metadata| {
            (
                None,
                m.job_id.as_ref().map(|id| format!("/job/{id}?a=1&b=2")),
            )
        })),
        ..DotOptions::default()
    };
    let dot = analysis::dot_with(exec.term(), &g, &options);
    assert!(
        dot.contains("label=\"tests \\\"all\\\" &lt;x86&gt; &amp; 日本\"\n"),
        "{dot}"
    );
    assert!(dot.contains("[label=\"a&amp;b\","), "{dot}");
    assert!(dot.contains("[label=\"test &#x2714;\","), "{dot}");
    let Some(svg) = svg_of(&dot) else { return };
    let texts = svg_texts(&svg);
    for expected in [label, "a&b", "<c>", "test ✔"] {
        assert!(
            texts.iter().any(|t| t == expected),
            "no text {expected:?} in {texts:#?}"
        );
    }
    let links = svg_attrs(&svg, "xlink:href");
    let job = "/job/2026-01-02/030405-test-&<r>?a=1&b=2".to_string();
    assert!(links.contains(&job), "no link {job:?} in {links:#?}");
    assert!(
        links.contains(&url.to_string()),
        "no link {url:?} in {links:#?}"
    );
}

#[test]
fn urls_with_quotes() {
    let url = "/pipeline?key=\"a b\"";
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        let src = Term::labelled("src", ());
        src.primitive("inner", |g, ()| g.constant((Outcome::Ok(()), None)))
            .collapse("k", "v", &src)
    });
    let options = DotOptions {
        collapse_link: Some(Box::new(move |_k, _v| url.to_string())),
        ..DotOptions::default()
    };
    let dot = analysis::dot_with(exec.term(), &g, &options);
    let Some(svg) = svg_of(&dot) else { return };
    // Either the URL as written or with the quotes percent-encoded is fine; a cut one is not.
    let links = svg_attrs(&svg, "xlink:href");
    assert_eq!(links.len(), 1, "{svg}");
    assert!(
        links[0] == url || links[0] == url.replace('"', "%22"),
        "link {:?} in\n{svg}",
        links[0]
    );
}

#[test]
fn control_characters() {
    let mut g = Graph::new();
    let exec = Executor::run(&mut g, || {
        Term::labelled("tab\there, bell\u{7}, crlf\r\nend", ()).primitive("p", |g, ()| {
            g.constant((Err::<(), _>(ErrorKind::msg("nul\u{0} esc\u{1b}[31m")), None))
        })
    });
    let dot = analysis::dot(exec.term(), &g);
    assert!(
        dot.contains("[label=\"tab here, bell , crlf\\nend\","),
        "{dot}"
    );
    assert!(dot.contains(",tooltip=\"nul  esc [31m\","), "{dot}");
    let Some(svg) = svg_of(&dot) else { return };
    let texts = svg_texts(&svg);
    assert!(
        texts.contains(&"tab here, bell , crlf".to_string()),
        "{texts:#?}"
    );
    assert!(texts.contains(&"end".to_string()), "{texts:#?}");
}
