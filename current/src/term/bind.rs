//! Dynamic pipelines: `bind`, the bind context (`with_context`), and the primitive hook that
//! the runtime builds its steps on.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;

use crate::incr::{Changeable, Graph};

use super::combinators::{output_eq, Equality};
use super::node::{
    bind_context, build_frame, dynamic_scope, with_bind_context, ContextPair, Env, Node, NodeKind,
    Term,
};
use super::output::{Error, Metadata, NodeId, Outcome};
use super::stats::counted;

/// Describes a primitive's input value, to label its box.
pub(crate) type Describe<T> = dyn Fn(&T) -> String;

impl<T: Clone + 'static> Term<T> {
    pub(crate) fn bind_at<U: Clone + 'static>(
        &self,
        location: &'static Location<'static>,
        info: String,
        f: impl Fn(T) -> Term<U> + 'static,
    ) -> Term<U> {
        let input = self.clone();
        let bind_in: Term<T> = Term::make(
            NodeKind::BindIn {
                input: self.any(),
                info,
            },
            location,
            move |node, env, g| {
                let c = input.instance(env, g);
                counted(env, node.id, c, g)
            },
        );
        let current = Rc::new(RefCell::new(None));
        let f = Rc::new(f);
        let shown = current.clone();
        let bind_in_term = bind_in.clone();
        Term::make(
            NodeKind::BindOut {
                bind_in: bind_in.any(),
                current,
            },
            location,
            move |_, env, g| {
                let c = bind_in_term.instance(env, g);
                let (env, f, shown, bind_in) =
                    (env.clone(), f.clone(), shown.clone(), bind_in_term.any());
                g.of_cc(move |cc| {
                    cc.read(&c, move |mut cc, o| match o {
                        Err(e) => {
                            *shown.borrow_mut() = None;
                            cc.write(Err(e))
                        }
                        Ok(v) => {
                            let g = cc.graph();
                            let f = f.clone();
                            // What the function makes joins the bind's context and is
                            // drawn in the same cluster as the bind.
                            let scope = bind_in.node().scope;
                            let t = build_frame(&env, g, || {
                                dynamic_scope(Some(bind_in.clone()), scope, move || f(v))
                            });
                            *shown.borrow_mut() = Some(t.any());
                            let ct = t.instance(&env, g);
                            cc.read(&ct, |cc, o| cc.write(o))
                        }
                    })
                })
            },
        )
    }

    /// A pipeline whose shape depends on this term's value (OCaml's `bind`, `let*`): `f` is
    /// called with each new value and the term it returns is evaluated in place of the
    /// previous one, which is discarded. The diagram shows a box labelled `info` with an
    /// edge to every term `f` makes.
    #[track_caller]
    pub fn bind<U: Clone + 'static>(
        &self,
        info: impl Into<String>,
        f: impl Fn(T) -> Term<U> + 'static,
    ) -> Term<U> {
        self.bind_at(Location::caller(), info.into(), f)
    }

    /// The primitive hook (OCaml's `primitive`, `let>`): whenever this term has a new `Ok`
    /// value, `f` is called with it and returns a changeable outcome with its metadata;
    /// that becomes this node's output. Failures in the outcome belong to this node; an
    /// input that is not ready passes through as blocked. Drawn as a box labelled `info`.
    ///
    /// `f` runs inside the evaluation: values it creates in the graph are discarded (their
    /// release hooks run) when the input changes.
    #[track_caller]
    pub fn primitive<U: Clone + 'static>(
        &self,
        info: impl Into<String>,
        f: impl Fn(&mut Graph, T) -> Changeable<(Outcome<U>, Option<Metadata>)> + 'static,
    ) -> Term<U> {
        self.primitive_at(Location::caller(), info.into(), f, None, None)
    }

    /// [`Term::primitive`] for the runtime's steps: `eq` is an equality cut-off on the
    /// output, and `describe`, if given, relabels the box with a description of each new
    /// input value (a cached step shows its key).
    pub(crate) fn primitive_at<U: Clone + 'static>(
        &self,
        location: &'static Location<'static>,
        info: String,
        f: impl Fn(&mut Graph, T) -> Changeable<(Outcome<U>, Option<Metadata>)> + 'static,
        eq: Option<Rc<Equality<U>>>,
        describe: Option<Box<Describe<T>>>,
    ) -> Term<U> {
        let input = self.clone();
        let meta = Rc::new(Cell::new(None));
        let meta_slot = meta.clone();
        let label = Rc::new(RefCell::new(info));
        let label_slot = label.clone();
        let f = Rc::new(move |g: &mut Graph, v: T| {
            if let Some(describe) = &describe {
                *label_slot.borrow_mut() = describe(&v);
            }
            f(g, v)
        });
        Term::make(
            NodeKind::Primitive {
                input: self.any(),
                info: label,
                meta,
            },
            location,
            move |node, env, g| {
                let c = input.instance(env, g);
                let (id, f) = (node.id, f.clone());
                let both = g.of_cc(move |cc| {
                    cc.read(&c, move |mut cc, o| match o {
                        Ok(v) => {
                            let result = f(cc.graph(), v);
                            cc.read(&result, move |cc, (out, meta)| {
                                cc.write((own(id, out), meta))
                            })
                        }
                        Err(e) => cc.write((Err(e), None)),
                    })
                });
                let meta = g.map(&both, |(_, meta)| meta);
                meta_slot.set(Some(track_job(env, id, meta, g)));
                let out = match &eq {
                    None => g.map(&both, |(out, _)| out),
                    Some(eq) => {
                        let eq = eq.clone();
                        g.map_eq(&both, |(out, _)| out, move |a, b| output_eq(a, b, &*eq))
                    }
                };
                counted(env, id, out, g)
            },
        )
    }
}

/// Pass `meta` through, recording the primitive's job in `env` while it has one.
fn track_job(
    env: &Rc<Env>,
    id: NodeId,
    meta: Changeable<Option<Metadata>>,
    g: &mut Graph,
) -> Changeable<Option<Metadata>> {
    let (env, release_env) = (env.clone(), env.clone());
    g.of_cc(move |mut cc| {
        cc.on_release(move || {
            release_env.jobs.borrow_mut().remove(&id);
        });
        cc.read(&meta, move |cc, m| {
            let job = m.as_ref().and_then(|m| m.job_id.clone());
            let mut jobs = env.jobs.borrow_mut();
            match job {
                Some(job) => jobs.insert(id, job),
                None => jobs.remove(&id),
            };
            drop(jobs);
            cc.write(m)
        })
    })
}

fn own<U>(id: NodeId, out: Outcome<U>) -> Result<U, Error> {
    out.map_err(|kind| Error { source: id, kind })
}

/// Run `f` with `ctx` as an extra input, in diagrams, of every term it creates (OCaml's
/// `with_context`). Contexts nest: inside another context, both apply.
#[track_caller]
pub fn with_context<C: Clone + 'static, R>(ctx: &Term<C>, f: impl FnOnce() -> R) -> R {
    let context = match bind_context() {
        None => ctx.any(),
        Some(outer) => Rc::new(ContextPair {
            node: Node {
                id: NodeId::fresh(),
                kind: NodeKind::Pair(outer, ctx.any()),
                context: None,
                scope: None,
                top_level: true,
                location: Location::caller(),
            },
        }),
    };
    with_bind_context(Some(context), f)
}
