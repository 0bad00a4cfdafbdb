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

/// Draw with `layout-rs`, after taking the clusters out.
pub fn builtin(dot: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};

    let flat = without_clusters(dot);
    let mut parser = DotParser::new(&flat);
    let graph = parser
        .process()
        .map_err(|e| format!("the builtin renderer cannot read the diagram: {e}"))?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    let mut svg = SVGWriter::new();
    visual.do_it(false, false, false, &mut svg);
    Ok(svg.finalize())
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
