//! The pipeline as a graphviz diagram, drawn as OCurrent draws it (`Analysis.pp_dot`).
//!
//! Each drawn node is a box coloured by its state; maps, pairs and unlabelled constants are
//! transparent. Edges are reduced transitively: a consumer is connected only to those
//! outputs of its inputs that are not already upstream of another of its inputs.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::incr::Graph;

use super::super::node::{AnyTerm, ListShow, NodeKind, Placeholder, State};
use super::super::output::{Active, ErrorKind, NodeId};
use super::super::stats::{Bucket, Stats};
use super::super::Term;
use super::escape::{quote, truncate};
use super::{location, metadata_of, DotOptions};

const PREAMBLE: &str = "digraph pipeline {
  graph [fontname=\"ui-system,sans-serif\",bgcolor=\"transparent\"]
  node [fontname=\"ui-system,sans-serif\",shape=\"box\"]
  edge [fontname=\"ui-system,sans-serif\"]
  rankdir=LR
";

/// The pipeline as a graphviz `dot` file, with default options: no groups expanded, no
/// job links.
pub fn dot<T: Clone + 'static>(t: &Term<T>, g: &Graph) -> String {
    render(&t.any(), g, &DotOptions::default()).0
}

/// The pipeline as a graphviz `dot` file.
pub fn dot_with<T: Clone + 'static>(t: &Term<T>, g: &Graph, options: &DotOptions) -> String {
    render(&t.any(), g, options).0
}

/// The outputs of a visited term and everything upstream of them (OCaml's `Out_node`).
#[derive(Clone, Default)]
struct Outputs {
    outputs: BTreeSet<usize>,
    trans: BTreeSet<usize>,
}

impl Outputs {
    fn singleton(deps: &Outputs, i: usize) -> Outputs {
        Outputs {
            outputs: BTreeSet::from([i]),
            trans: deps.outputs.union(&deps.trans).copied().collect(),
        }
    }

    fn union(&self, other: &Outputs) -> Outputs {
        Outputs {
            outputs: self.outputs.union(&other.outputs).copied().collect(),
            trans: self.trans.union(&other.trans).copied().collect(),
        }
    }

    /// The outputs a consumer should be connected to.
    fn direct(&self) -> impl Iterator<Item = usize> + '_ {
        self.outputs
            .iter()
            .copied()
            .filter(|o| !self.trans.contains(o))
    }
}

/// The text of the diagram, or of a cluster being drawn.
struct Buffer {
    /// The `list_map` or `option_map` whose cluster this is (`None`: the whole diagram).
    scope: Option<NodeId>,
    depth: usize,
    /// Where the cluster goes when it is closed.
    parent: usize,
    text: String,
}

struct Renderer<'a> {
    g: &'a Graph,
    options: &'a DotOptions,
    /// The open clusters, innermost last; the first is the diagram itself.
    buffers: Vec<Buffer>,
    next: usize,
    seen: HashMap<NodeId, Outputs>,
    edges: Vec<(usize, usize, bool)>,
    stats: Stats,
}

/// The dot text and the counts of the nodes it draws.
pub(super) fn render(t: &AnyTerm, g: &Graph, options: &DotOptions) -> (String, Stats) {
    let mut r = Renderer {
        g,
        options,
        buffers: vec![Buffer {
            scope: None,
            depth: 1,
            parent: 0,
            text: String::from(PREAMBLE),
        }],
        next: 0,
        seen: HashMap::new(),
        edges: Vec::new(),
        stats: Stats::default(),
    };
    r.aux(t);
    for (from, to, dashed) in std::mem::take(&mut r.edges).into_iter().rev() {
        let style = if dashed { " [style=\"dashed\"]" } else { "" };
        r.line(0, format_args!("n{from} -> n{to}{style}"));
    }
    let mut out = std::mem::take(&mut r.buffers[0].text);
    out.push_str("  }\n");
    (out, r.stats)
}

fn colour(a: Active) -> &'static str {
    match a {
        Active::WaitingForConfirmation => "#4975ff",
        Active::Ready => "#ffff00",
        Active::Running => "#ffa500",
    }
}

const OK: &str = "#90ee90";
const BLOCKED: &str = "#d3d3d3";
const FAILED: &str = "#ff4500";

/// How one drawn node looks.
#[derive(Default)]
struct Look {
    shape: Option<&'static str>,
    url: Option<String>,
    /// The link is a job's: the label gets a ✔, … or ✗ suffix.
    job: bool,
    update: Option<Active>,
}

impl Renderer<'_> {
    fn line(&mut self, buffer: usize, args: std::fmt::Arguments<'_>) {
        let depth = self.buffers[buffer].depth;
        self.line_at(buffer, depth, args);
    }

    fn line_at(&mut self, buffer: usize, depth: usize, args: std::fmt::Arguments<'_>) {
        let b = &mut self.buffers[buffer];
        for _ in 0..depth {
            b.text.push_str("  ");
        }
        let _ = b.text.write_fmt(args);
        b.text.push('\n');
    }

    /// The open buffer a node of `scope` is drawn in: its own cluster's, or else the
    /// diagram's (a node is never drawn inside a cluster it was not made for).
    fn buffer_for(&self, scope: Option<NodeId>) -> usize {
        self.buffers
            .iter()
            .rposition(|b| b.scope == scope)
            .unwrap_or(0)
    }

    /// Draw `body` inside a cluster for node `t` (numbered `i`).
    fn cluster(
        &mut self,
        t: &AnyTerm,
        i: usize,
        label: Option<&str>,
        dotted: bool,
        body: &[AnyTerm],
    ) -> Outputs {
        let parent = self.buffer_for(t.node().scope);
        let depth = self.buffers[parent].depth + 1;
        self.buffers.push(Buffer {
            scope: Some(t.node().id),
            depth,
            parent,
            text: String::new(),
        });
        let me = self.buffers.len() - 1;
        self.line_at(me, depth - 1, format_args!("subgraph cluster_{i} {{"));
        self.line(me, format_args!("label={}", quote(label.unwrap_or(""))));
        if dotted {
            self.line(me, format_args!("style=\"dotted\""));
        }
        let mut outputs = Outputs::default();
        for t in body {
            outputs = outputs.union(&self.aux(t));
        }
        self.line_at(me, depth - 1, format_args!("}}"));
        if let Some(done) = self.buffers.pop() {
            self.buffers[done.parent].text.push_str(&done.text);
        }
        outputs
    }

    fn connect(&mut self, from: &Outputs, to: usize, dashed: bool) {
        for o in from.direct() {
            self.edges.push((o, to, dashed));
        }
    }

    /// Emit node `i` for term `t`.
    fn node(&mut self, t: &AnyTerm, i: usize, label: &str, from_self: bool, look: Look) {
        let state = t.state(self.g);
        let bucket = match &state {
            None => Bucket::Blocked,
            Some(s) if from_self => Bucket::of_state(t.node().id, &own(s, t.node().id)),
            Some(s) => Bucket::of_state(t.node().id, s),
        };
        self.stats.add(bucket);
        let mut bg = match bucket {
            Bucket::Ok => OK,
            Bucket::Blocked => BLOCKED,
            Bucket::Failed => FAILED,
            Bucket::WaitingForConfirmation => colour(Active::WaitingForConfirmation),
            Bucket::Ready => colour(Active::Ready),
            Bucket::Running => colour(Active::Running),
        }
        .to_string();
        if let Some(update) = look.update {
            bg = format!("{}:{bg}", colour(update));
        }
        let mut label = quote(label);
        if look.job && look.url.is_some() {
            let suffix = match bucket {
                Bucket::Ok => " &#x2714;",
                Bucket::Failed => " &#x2717;",
                Bucket::Blocked => "",
                _ => " &#x2026;",
            };
            label.insert_str(label.len() - 1, suffix);
        }
        let loc = location(t.node().location);
        let tooltip = match (&state, bucket) {
            (
                Some(State::Err {
                    kind: ErrorKind::Msg(m),
                    ..
                }),
                Bucket::Failed,
            ) => truncate(m),
            _ => loc.clone(),
        };
        let mut attrs = format!("label={label},color=\"{bg}\",fillcolor=\"{bg}\",style=\"filled\"");
        if let Some(shape) = look.shape {
            let _ = write!(attrs, ",shape=\"{shape}\"");
        }
        if let Some(url) = &look.url {
            let _ = write!(attrs, ",URL={}", quote(url));
        }
        let _ = write!(attrs, ",tooltip={}", quote(&tooltip));
        if look.url.is_some() {
            attrs.push_str(",target=\"_top\"");
        }
        let _ = write!(attrs, ",comment={}", quote(&loc));
        let buffer = self.buffer_for(t.node().scope);
        self.line(buffer, format_args!("n{i} [{attrs}]"));
    }

    fn aux(&mut self, t: &AnyTerm) -> Outputs {
        let node = t.node();
        if let Some(o) = self.seen.get(&node.id) {
            return o.clone();
        }
        let i = self.next;
        self.next += 1;
        let ctx = match &node.context {
            None => Outputs::default(),
            Some(c) => self.aux(c),
        };
        let state = t.state(self.g);
        let from_self = match &state {
            Some(State::Err { source, .. }) if *source == node.id => true,
            // A collapsed group shows an error from inside it as its own.
            Some(State::Err { source, .. }) => match &node.kind {
                NodeKind::Collapse { input, .. } => *source != input.node().id,
                _ => false,
            },
            _ => false,
        };
        let unlabelled_constant =
            |t: &AnyTerm| matches!(t.node().kind, NodeKind::Constant { label: None });
        let outputs = match &node.kind {
            NodeKind::Constant { label: Some(l) } => {
                self.node(t, i, l, from_self, Look::default());
                self.connect(&ctx, i, false);
                Outputs::singleton(&ctx, i)
            }
            NodeKind::Constant { label: None } if ctx.outputs.is_empty() => {
                if matches!(state, Some(State::Ok)) {
                    Outputs::default()
                } else {
                    let label = if from_self { "(const)" } else { "(input)" };
                    self.node(t, i, label, from_self, Look::default());
                    Outputs::singleton(&ctx, i)
                }
            }
            NodeKind::Constant { label: None } => ctx,
            NodeKind::MapInput { source, info } => {
                let label = match info {
                    Ok(l) => l.clone(),
                    Err(Placeholder::EachItem) => "(each item)".to_string(),
                    Err(Placeholder::EmptyList) => "(empty list)".to_string(),
                };
                let inputs = self.aux(source).union(&ctx);
                self.node(t, i, &label, from_self, Look::default());
                self.connect(&inputs, i, false);
                Outputs::singleton(&inputs, i)
            }
            NodeKind::OptInput { source } => self.aux(source).union(&ctx),
            NodeKind::BindIn { input, info } => {
                let inputs = if unlabelled_constant(input) {
                    Outputs::default()
                } else {
                    self.aux(input)
                };
                self.node(t, i, info, from_self, Look::default());
                let all = inputs.union(&ctx);
                self.connect(&all, i, false);
                Outputs::singleton(&all, i)
            }
            NodeKind::BindOut { bind_in, current } => {
                let current = current.borrow().clone();
                match current {
                    Some(nested) => self.aux(&nested),
                    None => self.aux(bind_in),
                }
            }
            NodeKind::Primitive { input, info, .. } => {
                let inputs = if unlabelled_constant(input) {
                    Outputs::default()
                } else {
                    self.aux(input)
                };
                let meta = metadata_of(t, self.g).ok().flatten();
                let (update, url) = match (&meta, &self.options.job_info) {
                    (None, _) => (None, None),
                    (Some(m), Some(job_info)) => job_info(m),
                    (Some(m), None) => (m.update, None),
                };
                self.node(
                    t,
                    i,
                    info,
                    from_self,
                    Look {
                        url,
                        job: true,
                        update,
                        ..Look::default()
                    },
                );
                let all = inputs.union(&ctx);
                self.connect(&all, i, false);
                Outputs::singleton(&all, i)
            }
            NodeKind::Pair(a, b) => {
                let a = self.aux(a);
                let b = self.aux(b);
                a.union(&b).union(&ctx)
            }
            NodeKind::Gate { ctrl, value } => {
                let ctrls = self.aux(ctrl);
                let values = self.aux(value);
                self.node(
                    t,
                    i,
                    "",
                    from_self,
                    Look {
                        shape: Some("circle"),
                        ..Look::default()
                    },
                );
                self.connect(&ctrls, i, true);
                let data = values.union(&ctx);
                self.connect(&data, i, false);
                Outputs::singleton(&ctrls.union(&data), i)
            }
            NodeKind::State { source, hidden } => {
                let inputs = self.aux(source);
                if *hidden {
                    inputs
                } else {
                    self.node(t, i, "state", from_self, Look::default());
                    self.connect(&inputs, i, false);
                    Outputs::singleton(&Outputs::default(), i)
                }
            }
            NodeKind::Catch { source, hidden } => {
                let inputs = self.aux(source);
                if *hidden {
                    inputs
                } else {
                    self.node(t, i, "catch", from_self, Look::default());
                    let all = inputs.union(&ctx);
                    self.connect(&all, i, false);
                    Outputs::singleton(&all, i)
                }
            }
            NodeKind::Map { source } => {
                let inputs = self.aux(source);
                if from_self {
                    self.node(t, i, "map", from_self, Look::default());
                    self.connect(&inputs, i, false);
                    Outputs::singleton(&inputs, i)
                } else {
                    inputs
                }
            }
            NodeKind::ListMap { items, label, show } => {
                self.aux(items);
                let shown = match &*show.borrow() {
                    ListShow::Items(ts) => ts.clone(),
                    ListShow::Template(t) => vec![t.clone()],
                    ListShow::Nothing => Vec::new(),
                };
                self.cluster(t, i, label.as_deref(), false, &shown)
            }
            NodeKind::OptionMap {
                item,
                label,
                output,
            } => {
                self.aux(item);
                self.cluster(t, i, label.as_deref(), true, std::slice::from_ref(output))
            }
            NodeKind::Collapse {
                key,
                value,
                input,
                output,
                group,
            } => {
                if self.options.env.get(key) == Some(value) {
                    self.aux(output)
                } else if let Some(group) = group {
                    self.aux(group)
                } else {
                    let url = self
                        .options
                        .collapse_link
                        .as_ref()
                        .map(|link| link(key, value));
                    let inputs = self.aux(input).union(&ctx);
                    self.node(
                        t,
                        i,
                        "+",
                        from_self,
                        Look {
                            url,
                            ..Look::default()
                        },
                    );
                    self.connect(&inputs, i, false);
                    Outputs::singleton(&inputs, i)
                }
            }
        };
        self.seen.insert(node.id, outputs.clone());
        outputs
    }
}

/// `s` as if `id` had produced it (for a collapsed group showing an inner error as its own).
fn own(s: &State, id: NodeId) -> State {
    match s {
        State::Ok => State::Ok,
        State::Err { kind, .. } => State::Err {
            source: id,
            kind: kind.clone(),
        },
    }
}
