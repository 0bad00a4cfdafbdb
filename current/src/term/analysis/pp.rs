//! The text form of a pipeline (OCaml's `Analysis.pp`), e.g. `build result >>= approve`.

use std::collections::HashSet;

use crate::incr::Graph;

use super::super::node::{AnyTerm, ListShow, NodeKind, Placeholder, State};
use super::super::output::{ErrorKind, NodeId};
use super::super::Term;

/// The pipeline as text, as OCurrent prints it: constants are `(const)` (`(input)` while
/// pending), labelled ones their label, and one made by a bind's function prints as that
/// bind; `x >>= name` is a bind or primitive, `a || b` a pair (one per line),
/// `v >> gate (ctrl)`, `items >> list_map (pipeline)`, `[item] >> option_map (pipeline)`,
/// `state(x)`, `catch(x)`; maps and collapsed groups are transparent and a node already
/// printed is `...`.
pub fn pp<T: Clone + 'static>(t: &Term<T>, g: &Graph) -> String {
    let mut printer = Printer {
        g,
        seen: HashSet::new(),
    };
    printer.aux(&t.any()).join("\n")
}

struct Printer<'g> {
    g: &'g Graph,
    seen: HashSet<NodeId>,
}

/// A block of lines. Joining keeps a block's later lines aligned under its first.
type Block = Vec<String>;

fn one(s: impl Into<String>) -> Block {
    vec![s.into()]
}

/// `a`, then `sep` and `b` on `a`'s last line, `b`'s other lines aligned under its first.
fn join(mut a: Block, sep: &str, b: Block) -> Block {
    let last = a.pop().unwrap_or_default();
    let head = format!("{last}{sep}");
    let indent = " ".repeat(head.chars().count());
    let mut b = b.into_iter();
    a.push(format!("{head}{}", b.next().unwrap_or_default()));
    a.extend(b.map(|l| format!("{indent}{l}")));
    a
}

fn close(mut a: Block, suffix: &str) -> Block {
    if let Some(last) = a.last_mut() {
        last.push_str(suffix);
    }
    a
}

impl Printer<'_> {
    fn aux(&mut self, t: &AnyTerm) -> Block {
        let node = t.node();
        if !self.seen.insert(node.id) {
            return one("...");
        }
        match &node.kind {
            NodeKind::Constant { label: Some(l) } => one(l.clone()),
            NodeKind::Constant { label: None } => match &node.context {
                // A constant made by a bind's function prints as that bind.
                Some(ctx) => self.aux(ctx),
                None => match t.state(self.g) {
                    Some(State::Err {
                        kind: ErrorKind::Active(_),
                        ..
                    }) => one("(input)"),
                    _ => one("(const)"),
                },
            },
            NodeKind::MapInput { info, .. } => one(match info {
                Ok(label) => label.clone(),
                Err(Placeholder::EachItem) => "(blocked)".to_string(),
                Err(Placeholder::EmptyList) => "(empty list)".to_string(),
            }),
            NodeKind::OptInput { source } => close(join(one(""), "[", self.aux(source)), "]"),
            NodeKind::BindIn { input, info } => join(self.aux(input), " >>= ", one(info.clone())),
            NodeKind::Primitive { input, info, .. } => {
                join(self.aux(input), " >>= ", one(info.borrow().clone()))
            }
            NodeKind::BindOut { bind_in, current } => {
                let current = current.borrow().clone();
                match current {
                    Some(t) => self.aux(&t),
                    None => self.aux(bind_in),
                }
            }
            NodeKind::Pair(a, b) => {
                let mut block = self.aux(a);
                block.push("||".to_string());
                block.extend(self.aux(b));
                block
            }
            NodeKind::Gate { ctrl, value } => {
                let v = self.aux(value);
                close(join(v, " >> gate (", self.aux(ctrl)), ")")
            }
            NodeKind::ListMap { items, show, .. } => {
                let items = self.aux(items);
                let shown = match &*show.borrow() {
                    ListShow::Items(ts) => ts.clone(),
                    ListShow::Template(t) => vec![t.clone()],
                    ListShow::Nothing => Vec::new(),
                };
                let mut out = Block::new();
                for (i, t) in shown.iter().enumerate() {
                    if i > 0 {
                        out.push("||".to_string());
                    }
                    out.extend(self.aux(t));
                }
                if out.is_empty() {
                    out.push(String::new());
                }
                close(join(items, " >> list_map (", out), ")")
            }
            NodeKind::OptionMap { item, output, .. } => {
                let item = self.aux(item);
                close(join(item, " >> option_map (", self.aux(output)), ")")
            }
            NodeKind::State { source, .. } => close(join(one(""), "state(", self.aux(source)), ")"),
            NodeKind::Catch { source, .. } => close(join(one(""), "catch(", self.aux(source)), ")"),
            NodeKind::Map { source } => self.aux(source),
            NodeKind::Collapse { output, .. } => self.aux(output),
        }
    }
}
