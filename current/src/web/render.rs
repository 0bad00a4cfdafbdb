//! Drawing a pipeline's diagram as SVG: with graphviz's `dot` when it is installed, or
//! in-process with `layout-rs`, which cannot draw clusters: the builtin drawing shows the
//! boxes of a `list_map` or `option_map` group without the frame around them (each item's
//! box, labelled with the item, still leads to the boxes made for it).

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

/// How diagrams are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Renderer {
    /// graphviz's `dot -Tsvg`.
    Graphviz,
    /// In-process, with `layout-rs` (no clusters).
    Builtin,
}

impl Renderer {
    /// graphviz if `dot` is on the `PATH`, builtin otherwise.
    pub fn detect() -> Renderer {
        let found = std::process::Command::new("dot")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if found {
            Renderer::Graphviz
        } else {
            Renderer::Builtin
        }
    }

    /// Draw `dot` as SVG.
    pub async fn render(self, dot: &str) -> Result<String, String> {
        match self {
            Renderer::Graphviz => graphviz(dot).await,
            Renderer::Builtin => {
                let dot = dot.to_string();
                tokio::task::spawn_blocking(move || builtin(&dot))
                    .await
                    .map_err(|e| format!("the builtin renderer failed: {e}"))?
            }
        }
    }
}

async fn graphviz(dot: &str) -> Result<String, String> {
    let mut child = tokio::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run dot ({e}) - is graphviz installed?"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .await
            .map_err(|e| format!("cannot write to dot: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("dot failed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "dot failed ({}) - is graphviz installed? {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| "dot wrote something that is not UTF-8".to_string())
}

/// Draw with `layout-rs`, after taking the clusters out. layout-rs reads labels
/// literally and ignores `URL`: entities are decoded before, and each box is made a link
/// to its `URL` after.
pub fn builtin(dot: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};

    let flat = decode_entities(&without_clusters(dot));
    let links = node_links(&flat);
    let mut parser = DotParser::new(&flat);
    let graph = parser
        .process()
        .map_err(|e| format!("the builtin renderer cannot read the diagram: {e}"))?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    let mut svg = SVGWriter::new();
    visual.do_it(false, false, false, &mut svg);
    Ok(add_links(&svg.finalize(), links))
}

/// `text` with the entities the dot writer uses (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
/// `&#N;`, `&#xN;`) replaced by their characters; anything else is kept.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The label and `URL` of each node of `dot` that has both, in order.
fn node_links(dot: &str) -> Vec<(String, String)> {
    let attr = |attrs: &str, name: &str| -> Option<String> {
        let at = attrs.find(&format!("{name}=\""))? + name.len() + 2;
        let mut value = String::new();
        let mut chars = attrs[at..].chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(value),
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        None
    };
    dot.lines()
        .filter_map(|line| {
            let line = line.trim();
            let open = line.find('[')?;
            if line[..open].contains("->") || !line.ends_with(']') {
                return None;
            }
            let attrs = &line[open..];
            // Attribute names are matched after a `[` or a `,`.
            let label = attr(attrs, "[label").or_else(|| attr(attrs, ",label"))?;
            let url = attr(attrs, ",URL").or_else(|| attr(attrs, "[URL"))?;
            Some((label, url))
        })
        .collect()
}

/// Each node's box and label in layout-rs's SVG (a `<g >` with its shape, then its
/// `<text>`), wrapped in a link to its `URL` when its label is one of `links` (each
/// link used once, in order).
fn add_links(svg: &str, mut links: Vec<(String, String)>) -> String {
    let mut out = String::with_capacity(svg.len() + links.len() * 64);
    let mut rest = svg;
    while let Some(start) = rest.find("<g >") {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let Some(group_end) = rest.find("</g>").map(|i| i + "</g>".len()) else {
            break;
        };
        let after = rest[group_end..].trim_start();
        let text_end = after
            .starts_with("<text")
            .then(|| after.find("</text>"))
            .flatten()
            .map(|i| rest.len() - after.len() + i + "</text>".len());
        let Some(end) = text_end else {
            out.push_str(&rest[..group_end]);
            rest = &rest[group_end..];
            continue;
        };
        let node = &rest[..end];
        let label = tspans(node);
        match links
            .iter()
            .position(|(l, _)| !label.is_empty() && *l == label)
        {
            Some(i) => {
                let (_, url) = links.remove(i);
                out.push_str(&format!(
                    "<a href=\"{}\" target=\"_top\">{node}</a>",
                    super::html::escape(&url)
                ));
            }
            None => out.push_str(node),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The text of the `<tspan>`s of an SVG fragment, one line each, entities decoded.
fn tspans(fragment: &str) -> String {
    let mut lines = Vec::new();
    let mut rest = fragment;
    while let Some(at) = rest.find("<tspan") {
        rest = &rest[at..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</tspan>") else {
            break;
        };
        if close > open_end {
            lines.push(decode_entities(&rest[open_end + 1..close]));
        }
        rest = &rest[close + "</tspan>".len()..];
    }
    lines.join("\n")
}

/// The diagram with its `subgraph cluster_*` frames (and their attributes) removed and
/// their boxes kept.
pub fn without_clusters(dot: &str) -> String {
    let mut out = String::with_capacity(dot.len());
    let mut depth = 0usize;
    for line in dot.lines() {
        let t = line.trim();
        if t.starts_with("subgraph ") && t.ends_with('{') {
            depth += 1;
            continue;
        }
        if depth > 0 {
            if t == "}" {
                depth -= 1;
                continue;
            }
            // The cluster's own attributes (`label=""`, `style="dotted"`, `URL=...`).
            if !t.contains('[') && !t.contains("->") && t.contains('=') {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOT: &str = "digraph pipeline {\n  node [shape=\"box\"]\n  \
        n1 [label=\"quick &#x2714;\",fillcolor=\"#90ee90\",style=\"filled\",URL=\"/job/2026-11-22/010203-quick-aa\"]\n  \
        n2 [label=\"a &lt;b&gt; &amp; c\",URL=\"/job/2026-11-22/010204-slow-bb\"]\n  \
        n3 [label=\"quick &#x2714;\"]\n  \
        n1 -> n2\n  n2 -> n3\n}\n";

    #[test]
    fn builtin_boxes_link_to_their_jobs_and_labels_show_their_characters() {
        let svg = builtin(DOT).expect("drawn");
        assert_eq!(svg.matches("<a href=").count(), 2, "{svg}");
        assert!(
            svg.contains("<a href=\"/job/2026-11-22/010203-quick-aa\" target=\"_top\"><g >"),
            "{svg}"
        );
        assert!(svg.contains("/job/2026-11-22/010204-slow-bb"), "{svg}");
        assert!(svg.contains(">quick \u{2714}</tspan>"), "{svg}");
        assert!(svg.contains(">a &lt;b&gt; &amp; c</tspan>"), "{svg}");
        assert!(!svg.contains("&amp;#x"), "{svg}");
    }

    #[test]
    fn entities_are_decoded_and_anything_else_kept() {
        assert_eq!(
            decode_entities("a &amp; b &#x2714; &#65; &nbsp; & &#xZZ; &lt;"),
            "a & b \u{2714} A &nbsp; & &#xZZ; <"
        );
    }
}
