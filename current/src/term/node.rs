//! Term nodes: the static part of a term (id, kind, inputs, label, bind context, source
//! location), the typed handle [`Term`], and how a term becomes incremental values.
//!
//! A term is a description: combinators build nodes without touching any [`Graph`]. The
//! executor instantiates them into the graph in creation order, which is what OCurrent's
//! eager construction does, so a term made outside a `bind` but first used inside one
//! still lives at the top level and is not torn down when the bind re-runs.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::incr::{Changeable, Graph};

use super::output::{ErrorKind, Metadata, NodeId, Output};

/// An untyped reference to a term, for walking the graph.
pub(crate) type AnyTerm = Rc<dyn TermObj>;

/// What the analysis needs from every node, whatever its type.
pub(crate) trait TermObj {
    fn node(&self) -> &Node;
    /// The current state of the node's output, if it has been instantiated.
    fn state(&self, g: &Graph) -> Option<State>;
    /// Instantiate into `g` (no-op if already there).
    fn instantiate(&self, env: &Rc<Env>, g: &mut Graph);
}

/// The state of an output, without its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Ok,
    Err { source: NodeId, kind: ErrorKind },
}

impl State {
    pub(crate) fn of_output<T>(o: &Output<T>) -> State {
        match o {
            Ok(_) => State::Ok,
            Err(e) => State::Err {
                source: e.source,
                kind: e.kind.clone(),
            },
        }
    }
}

/// How a list-map item placeholder is shown when there is no real item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholder {
    /// The input list is not available: `(each item)`.
    EachItem,
    /// The input list is empty: `(empty list)`.
    EmptyList,
}

/// What a `list_map` cluster currently shows.
pub(crate) enum ListShow {
    /// Not evaluated yet.
    Nothing,
    /// The pipeline of each item.
    Items(Vec<AnyTerm>),
    /// A template over a placeholder item.
    Template(AnyTerm),
}

pub(crate) enum NodeKind {
    /// `value`, `labelled`, `fail`, `active`, `of_output`; `counted` for `of_output`.
    Constant {
        label: Option<String>,
    },
    /// A list item, or a placeholder for one.
    MapInput {
        source: AnyTerm,
        info: Result<String, Placeholder>,
    },
    /// The item of an `option_map`.
    OptInput {
        source: AnyTerm,
    },
    State {
        source: AnyTerm,
        hidden: bool,
    },
    Catch {
        source: AnyTerm,
        hidden: bool,
    },
    /// `map`, `map_error`, `cutoff`, `ignore_value`: drawn only if its function failed.
    Map {
        source: AnyTerm,
    },
    /// The box of a `bind`: its input, under the bind's label.
    BindIn {
        input: AnyTerm,
        info: String,
    },
    /// The result of a `bind`: whatever term the function returned last.
    BindOut {
        bind_in: AnyTerm,
        current: Rc<RefCell<Option<AnyTerm>>>,
    },
    Primitive {
        input: AnyTerm,
        /// The box's label: fixed, or the description of the latest input value.
        info: Rc<RefCell<String>>,
        meta: Rc<Cell<Option<Changeable<Option<Metadata>>>>>,
    },
    Pair(AnyTerm, AnyTerm),
    Gate {
        ctrl: AnyTerm,
        value: AnyTerm,
    },
    ListMap {
        items: AnyTerm,
        label: Option<String>,
        show: Rc<RefCell<ListShow>>,
    },
    OptionMap {
        item: AnyTerm,
        label: Option<String>,
        output: AnyTerm,
    },
    /// A collapsible group. For a member of a `collapse_list`, `group` is the group's own
    /// node, whose box stands for the member while collapsed.
    Collapse {
        key: String,
        value: String,
        input: AnyTerm,
        output: AnyTerm,
        group: Option<AnyTerm>,
    },
}

/// The static part of a term.
pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) kind: NodeKind,
    /// The bind context: terms made while a `bind` function or `with_context` runs get an
    /// edge from it in diagrams.
    pub(crate) context: Option<AnyTerm>,
    /// The `list_map` or `option_map` whose pipeline this node was made for, if any: its
    /// diagram cluster is where the node is drawn.
    pub(crate) scope: Option<NodeId>,
    /// Made outside any `bind` or `list_map` function: part of the pipeline's fixed
    /// structure, evaluated at the top level wherever it is first needed.
    pub(crate) top_level: bool,
    pub(crate) location: &'static Location<'static>,
}

/// Shared state of one evaluation: the quick statistics and the jobs referenced.
#[derive(Default)]
pub(crate) struct Env {
    pub(crate) counts: RefCell<super::stats::Stats>,
    /// The job of each primitive that has one now, kept up to date as primitives come,
    /// change and go.
    pub(crate) jobs: RefCell<std::collections::BTreeMap<NodeId, String>>,
}

type Build<T> = dyn Fn(&Node, &Rc<Env>, &mut Graph) -> Changeable<Output<T>>;

pub(crate) struct Inner<T> {
    pub(crate) node: Node,
    build: Box<Build<T>>,
    instance: Cell<Option<Changeable<Output<T>>>>,
}

/// A node of a pipeline that evaluates to a `T`: OCaml's `'a Current.t`.
///
/// A term is a cheap handle (`Clone` shares it). Building one does no work; an
/// [`Executor`](super::Executor) evaluates it and keeps it up to date.
pub struct Term<T: 'static>(pub(crate) Rc<Inner<T>>);

impl<T> Clone for Term<T> {
    fn clone(&self) -> Self {
        Term(self.0.clone())
    }
}

impl<T> fmt::Debug for Term<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Term({} at {})",
            self.0.node.id,
            super::analysis::location(self.0.node.location)
        )
    }
}

impl<T: Clone + 'static> TermObj for Inner<T> {
    fn node(&self) -> &Node {
        &self.node
    }

    fn state(&self, g: &Graph) -> Option<State> {
        let c = self.instance.get()?;
        g.observe(&c).ok().map(State::of_output)
    }

    fn instantiate(&self, env: &Rc<Env>, g: &mut Graph) {
        self.instance_in(env, g);
    }
}

impl<T: Clone + 'static> Inner<T> {
    fn instance_in(&self, env: &Rc<Env>, g: &mut Graph) -> Changeable<Output<T>> {
        if let Some(c) = self.instance.get() {
            if g.observe(&c).is_ok() {
                return c;
            }
        }
        let c = if self.node.top_level {
            g.at_top_level(|g| (self.build)(&self.node, env, g))
        } else {
            (self.build)(&self.node, env, g)
        };
        self.instance.set(Some(c));
        c
    }
}

impl<T: Clone + 'static> Term<T> {
    /// Make a node of `kind` whose output is built by `build`; it joins the current bind
    /// context and is recorded for instantiation in creation order.
    pub(crate) fn make(
        kind: NodeKind,
        location: &'static Location<'static>,
        build: impl Fn(&Node, &Rc<Env>, &mut Graph) -> Changeable<Output<T>> + 'static,
    ) -> Term<T> {
        Self::make_with_id(NodeId::fresh(), kind, location, build)
    }

    /// [`Term::make`] with an id chosen beforehand (to make terms scoped to this one first).
    pub(crate) fn make_with_id(
        id: NodeId,
        kind: NodeKind,
        location: &'static Location<'static>,
        build: impl Fn(&Node, &Rc<Env>, &mut Graph) -> Changeable<Output<T>> + 'static,
    ) -> Term<T> {
        let (context, scope, dynamic) = CONSTRUCTION.with(|c| {
            let c = c.borrow();
            (c.context.clone(), c.scope, c.dynamic)
        });
        let node = Node {
            id,
            kind,
            context,
            scope,
            top_level: dynamic == 0,
            location,
        };
        let term = Term(Rc::new(Inner {
            node,
            build: Box::new(build),
            instance: Cell::new(None),
        }));
        record_created(&term.any());
        term
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.0.node.id
    }

    /// Where in the source this term was built (`file:line:column`).
    pub fn location(&self) -> &'static Location<'static> {
        self.0.node.location
    }

    pub(crate) fn any(&self) -> AnyTerm {
        self.0.clone()
    }

    /// The incremental value of this term in `g`, instantiating it if needed.
    pub(crate) fn instance(&self, env: &Rc<Env>, g: &mut Graph) -> Changeable<Output<T>> {
        self.0.instance_in(env, g)
    }
}

// ----- the construction context ---------------------------------------------------------

thread_local! {
    static CONSTRUCTION: RefCell<Construction> = const { RefCell::new(Construction {
        context: None,
        scope: None,
        dynamic: 0,
        frames: Vec::new(),
    }) };
}

/// Terms are built by ordinary functions with no graph at hand, so the bind context and the
/// terms made during a callback are tracked per thread, for the duration of the callback.
struct Construction {
    context: Option<AnyTerm>,
    scope: Option<NodeId>,
    /// How many `bind`/`list_map` functions are running: terms they make are dynamic.
    dynamic: u32,
    frames: Vec<Vec<Weak<dyn TermObj>>>,
}

fn current_context() -> Option<AnyTerm> {
    CONSTRUCTION.with(|c| c.borrow().context.clone())
}

/// Run `f` with `context` as the bind context and `scope` as the diagram scope of the
/// terms it makes (both restored afterwards, even on panic).
pub(crate) fn with_scope<R>(
    context: Option<AnyTerm>,
    scope: Option<NodeId>,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(Option<NodeId>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0;
            CONSTRUCTION.with(|c| c.borrow_mut().scope = old);
        }
    }
    let old = CONSTRUCTION.with(|c| std::mem::replace(&mut c.borrow_mut().scope, scope));
    let _restore = Restore(old);
    with_bind_context(context, f)
}

/// Run a `bind` or `list_map` function with [`with_scope`]: the terms it makes are
/// dynamic, evaluated inside the computation that made them and discarded with it.
pub(crate) fn dynamic_scope<R>(
    context: Option<AnyTerm>,
    scope: Option<NodeId>,
    f: impl FnOnce() -> R,
) -> R {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            CONSTRUCTION.with(|c| c.borrow_mut().dynamic -= 1);
        }
    }
    CONSTRUCTION.with(|c| c.borrow_mut().dynamic += 1);
    let _restore = Restore;
    with_scope(context, scope, f)
}

fn record_created(t: &AnyTerm) {
    CONSTRUCTION.with(|c| {
        if let Some(frame) = c.borrow_mut().frames.last_mut() {
            frame.push(Rc::downgrade(t));
        }
    });
}

/// Run `f` with `context` as the bind context (restored afterwards, even on panic).
pub(crate) fn with_bind_context<R>(context: Option<AnyTerm>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<AnyTerm>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            CONSTRUCTION.with(|c| c.borrow_mut().context = old);
        }
    }
    let old = CONSTRUCTION.with(|c| std::mem::replace(&mut c.borrow_mut().context, context));
    let _restore = Restore(old);
    f()
}

/// The current bind context, for `with_context` to extend.
pub(crate) fn bind_context() -> Option<AnyTerm> {
    current_context()
}

/// Run `f`, collecting the terms it creates, then instantiate them into `g` in creation
/// order (inputs before consumers, as OCurrent's eager construction would).
pub(crate) fn build_frame<R>(env: &Rc<Env>, g: &mut Graph, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            CONSTRUCTION.with(|c| {
                c.borrow_mut().frames.pop();
            });
        }
    }
    CONSTRUCTION.with(|c| c.borrow_mut().frames.push(Vec::new()));
    let (result, created) = {
        let pop = Pop;
        let result = f();
        let created = CONSTRUCTION.with(|c| {
            c.borrow_mut()
                .frames
                .last_mut()
                .map(std::mem::take)
                .unwrap_or_default()
        });
        drop(pop);
        (result, created)
    };
    for t in created {
        if let Some(t) = t.upgrade() {
            t.instantiate(env, g);
        }
    }
    result
}

/// A context-only pair of two contexts (`with_context` inside another context).
pub(crate) struct ContextPair {
    pub(crate) node: Node,
}

impl TermObj for ContextPair {
    fn node(&self) -> &Node {
        &self.node
    }
    fn state(&self, _g: &Graph) -> Option<State> {
        None
    }
    fn instantiate(&self, _env: &Rc<Env>, _g: &mut Graph) {}
}

impl NodeKind {
    /// The terms this node reads whatever its inputs turn out to be (not the ones a
    /// `bind` or a `list_map` makes as it runs).
    fn static_inputs(&self) -> Vec<&AnyTerm> {
        match self {
            NodeKind::Constant { .. } | NodeKind::MapInput { .. } => Vec::new(),
            NodeKind::OptInput { source }
            | NodeKind::State { source, .. }
            | NodeKind::Catch { source, .. }
            | NodeKind::Map { source } => vec![source],
            NodeKind::BindIn { input, .. } | NodeKind::Primitive { input, .. } => vec![input],
            NodeKind::BindOut { bind_in, .. } => vec![bind_in],
            NodeKind::Pair(a, b) => vec![a, b],
            NodeKind::Gate { ctrl, value } => vec![ctrl, value],
            NodeKind::ListMap { items, .. } => vec![items],
            NodeKind::OptionMap { item, output, .. } => vec![item, output],
            NodeKind::Collapse { output, group, .. } => {
                let mut v = vec![output];
                v.extend(group);
                v
            }
        }
    }
}

/// Instantiate everything `root` reads statically in the order the terms were made (ids
/// are handed out in creation order, and a term's inputs exist before it): each term is
/// evaluated before its consumers, as OCurrent's eager construction does, and nothing
/// recurses with the pipeline's depth.
pub(crate) fn instantiate_static(root: &AnyTerm, env: &Rc<Env>, g: &mut Graph) {
    let mut reachable = std::collections::BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(t) = stack.pop() {
        let node = t.node();
        if reachable.contains_key(&node.id) {
            continue;
        }
        stack.extend(node.kind.static_inputs().into_iter().cloned());
        stack.extend(node.context.iter().cloned());
        reachable.insert(node.id, t);
    }
    for t in reachable.values() {
        t.instantiate(env, g);
    }
}

/// Visit every node reachable from `root` now, once each: static inputs, contexts, and what
/// binds and list maps currently show. Iterative, so pipelines of any depth are fine.
pub(crate) fn walk(root: &AnyTerm, mut visit: impl FnMut(&AnyTerm)) {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.clone()];
    while let Some(t) = stack.pop() {
        if !seen.insert(t.node().id) {
            continue;
        }
        visit(&t);
        let node = t.node();
        stack.extend(node.kind.static_inputs().into_iter().cloned());
        stack.extend(node.context.iter().cloned());
        match &node.kind {
            NodeKind::BindOut { current, .. } => stack.extend(current.borrow().iter().cloned()),
            NodeKind::ListMap { show, .. } => match &*show.borrow() {
                ListShow::Items(ts) => stack.extend(ts.iter().cloned()),
                ListShow::Template(t) => stack.push(t.clone()),
                ListShow::Nothing => {}
            },
            _ => {}
        }
    }
}
