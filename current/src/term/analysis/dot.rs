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

    /// Both sides' outputs, except those the other side already depends on (the
    /// transitive reduction: a consumer is not connected to what is upstream of another of
    /// its inputs); if that leaves nothing, this side's outputs.
    fn union(&self, other: &Outputs) -> Outputs {
        let mut outputs: BTreeSet<usize> = self
            .outputs
            .iter()
            .filter(|o| !other.trans.contains(o))
            .chain(other.outputs.iter().filter(|o| !self.trans.contains(o)))
            .copied()
            .collect();
        if outputs.is_empty() {
            outputs = self.outputs.clone();
        }
        Outputs {
            outputs,
            trans: self.trans.union(&other.trans).copied().collect(),
        }
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
        for &o in &from.outputs {
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
        if look.url.is_some() {
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
            // Graphviz copies URLs into SVG attributes as they are: no bare quotes.
            let _ = write!(attrs, ",URL={}", quote(&url.replace('"', "%22")));
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
            Some(State::Err { source, .. }) => match &node.kind {
                // An error passed on from a collapsed group's input keeps it blocked; one
                // from inside the group is shown as the group's own.
                NodeKind::Collapse { input, .. } => match input.state(self.g) {
                    Some(State::Err {
                        source: from_input, ..
                    }) => *source != from_input,
                    _ => true,
                },
                _ => false,
            },
            _ => false,
        };
        let plain = Look::default;
        let outputs = match &node.kind {
            NodeKind::Constant { label: Some(l) } => {
                self.node(t, i, l, from_self, plain());
                Outputs::singleton(&ctx, i)
            }
            NodeKind::Constant { label: None } if ctx.outputs.is_empty() => {
                if matches!(state, Some(State::Ok)) {
                    ctx
                } else {
                    let label = if from_self { "(const)" } else { "(input)" };
                    self.node(t, i, label, from_self, plain());
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
                self.node(t, i, &label, from_self, plain());
                let source = self.aux(source);
                self.connect(&source, i, false);
                Outputs::singleton(&source.union(&ctx), i)
            }
            NodeKind::OptInput { source } => self.aux(source),
            NodeKind::BindIn { input, info } => {
                let inputs = self.aux(input);
                self.node(t, i, info, from_self, plain());
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
                let inputs = if matches!(input.node().kind, NodeKind::Constant { label: None }) {
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
                let info = info.borrow().clone();
                self.node(
                    t,
                    i,
                    &info,
                    from_self,
                    Look {
                        url,
                        update,
                        ..plain()
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
                        ..plain()
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
                    self.node(t, i, "state", from_self, plain());
                    self.connect(&inputs, i, false);
                    // A state is known before its input is: nothing upstream of it may be
                    // hidden from its consumers.
                    Outputs::singleton(&Outputs::default(), i)
                }
            }
            NodeKind::Catch { source, hidden } => {
                let inputs = self.aux(source);
                if *hidden {
                    inputs
                } else {
                    self.node(t, i, "catch", from_self, plain());
                    let all = inputs.union(&ctx);
                    self.connect(&all, i, false);
                    Outputs::singleton(&all, i)
                }
            }
            NodeKind::Map { source } => {
                let inputs = self.aux(source);
                let own_failure = from_self
                    && matches!(
                        state,
                        Some(State::Err {
                            kind: ErrorKind::Msg(_),
                            ..
                        })
                    );
                if own_failure {
                    self.node(t, i, "map", from_self, plain());
                    let all = inputs.union(&ctx);
                    self.connect(&all, i, false);
                    Outputs::singleton(&all, i)
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
                if let Some(group) = group {
                    // A member of a `collapse_list` stands for its whole group.
                    self.aux(group)
                } else if self.options.env.get(key) == Some(value) {
                    self.aux(output)
                } else {
                    let inputs = self.aux(input);
                    let url = self
                        .options
                        .collapse_link
                        .as_ref()
                        .map(|link| link(key, value));
                    self.node(t, i, "+", from_self, Look { url, ..plain() });
                    let all = inputs.union(&ctx);
                    self.connect(&all, i, false);
                    Outputs::singleton(&all, i)
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
