//! Lists: `list_map` and `list_iter`, one pipeline per distinct item.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::panic::Location;
use std::rc::Rc;

use super::collapse::collapse_at;
use super::node::{build_frame, dynamic_scope, AnyTerm, ListShow, NodeKind, Placeholder, Term};
use super::output::{Active, Error, ErrorKind, NodeId, Output};

/// The outputs of the items, combined as `all` does: the first failure, else the first
/// pending state, else every value.
fn combine<B>(outputs: Vec<Output<B>>) -> Output<Vec<B>> {
    let mut pending = None;
    let mut values = Vec::with_capacity(outputs.len());
    for o in outputs {
        match o {
            Ok(v) => values.push(v),
            Err(
                e @ Error {
                    kind: ErrorKind::Msg(_),
                    ..
                },
            ) => return Err(e),
            Err(e) => {
                pending.get_or_insert(e);
            }
        }
    }
    match pending {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// Options of [`Term::list_map_with`].
#[derive(Clone, Debug, Default)]
pub struct ListMapOptions {
    /// The label of the group in diagrams.
    pub label: Option<String>,
    /// Draw each item's pipeline as a collapsible group under this key, with the item's
    /// text as the value.
    pub collapse_key: Option<String>,
}

impl<A> Term<Vec<A>>
where
    A: Ord + Clone + Display + 'static,
{
    /// Apply the pipeline `f` to each item of the list (OCaml's `list_map`).
    ///
    /// Items are told apart by `Ord`: equal items share one pipeline. When the list
    /// changes, `f` is applied only to items that are new; the pipelines of removed items
    /// are discarded and the others are left alone. The result lists each item's value in
    /// the order of the input. Each item is shown in diagrams labelled with its `Display`.
    #[track_caller]
    pub fn list_map<B: Clone + 'static>(
        &self,
        f: impl Fn(Term<A>) -> Term<B> + 'static,
    ) -> Term<Vec<B>> {
        self.list_map_at(Location::caller(), ListMapOptions::default(), f)
    }

    /// [`Term::list_map`] with a label and collapsible items.
    #[track_caller]
    pub fn list_map_with<B: Clone + 'static>(
        &self,
        options: ListMapOptions,
        f: impl Fn(Term<A>) -> Term<B> + 'static,
    ) -> Term<Vec<B>> {
        self.list_map_at(Location::caller(), options, f)
    }

    /// [`Term::list_map`] for pipelines with no result.
    #[track_caller]
    pub fn list_iter(&self, f: impl Fn(Term<A>) -> Term<()> + 'static) -> Term<()> {
        let location = Location::caller();
        self.list_map_at(location, ListMapOptions::default(), f)
            .map_at(location, |_| (), None)
    }

    fn list_map_at<B: Clone + 'static>(
        &self,
        location: &'static Location<'static>,
        options: ListMapOptions,
        f: impl Fn(Term<A>) -> Term<B> + 'static,
    ) -> Term<Vec<B>> {
        let input = self.clone();
        let show = Rc::new(RefCell::new(ListShow::Nothing));
        let shown = show.clone();
        let f = Rc::new(f);
        let collapse_key = options.collapse_key;
        Term::make(
            NodeKind::ListMap {
                items: self.any(),
                label: options.label,
                show,
            },
            location,
            move |node, env, g| {
                let c_in = input.instance(env, g);
                let keys = g.map_eq(
                    &c_in,
                    |o: Output<Vec<A>>| match o {
                        Ok(items) => items.into_iter().collect::<BTreeSet<A>>(),
                        Err(_) => BTreeSet::new(),
                    },
                    |a, b| a == b,
                );
                let context = node.context.clone();
                let list_id = node.id;
                // One pipeline per distinct item, made when the item first appears.
                let per_item = {
                    let (env, input, f, context, collapse_key) = (
                        env.clone(),
                        input.clone(),
                        f.clone(),
                        context.clone(),
                        collapse_key.clone(),
                    );
                    g.separate(&keys, move |mut cc, item: A| {
                        let g = cc.graph();
                        let (input, f, collapse_key) =
                            (input.clone(), f.clone(), collapse_key.clone());
                        let out = build_frame(&env, g, || {
                            dynamic_scope(context.clone(), Some(list_id), || {
                                let text = item.to_string();
                                let item_term = Term::make(
                                    NodeKind::MapInput {
                                        source: input.any(),
                                        info: Ok(text.clone()),
                                    },
                                    location,
                                    move |_, _, g| g.constant(Ok(item.clone())),
                                );
                                let out = f(item_term.clone());
                                match collapse_key {
                                    Some(key) => {
                                        collapse_at(location, key, text, &item_term, &out, None)
                                    }
                                    None => out,
                                }
                            })
                        });
                        let any: AnyTerm = out.any();
                        let c = out.instance(&env, g);
                        cc.read(&c, move |cc, o| cc.write((any.clone(), o)))
                    })
                };
                let (env, input, f) = (env.clone(), input.clone(), f.clone());
                let shown = shown.clone();
                g.of_cc(move |cc| {
                    cc.read(&c_in, move |mut cc, o| {
                        let template =
                            |cc: &mut crate::incr::Cc<'_, Output<Vec<B>>>,
                             placeholder: Placeholder,
                             value: Option<Error>| {
                                let g = cc.graph();
                                let (input, f) = (input.clone(), f.clone());
                                let t = build_frame(&env, g, || {
                                    dynamic_scope(context.clone(), Some(list_id), || {
                                        let item = Term::make(
                                            NodeKind::MapInput {
                                                source: input.any(),
                                                info: Err(placeholder),
                                            },
                                            location,
                                            move |_, _, g| {
                                                g.constant(Err(value.clone().unwrap_or(Error {
                                                    source: NodeId::fresh(),
                                                    kind: ErrorKind::Active(Active::Ready),
                                                })))
                                            },
                                        );
                                        f(item)
                                    })
                                });
                                t.instance(&env, g);
                                *shown.borrow_mut() = ListShow::Template(t.any());
                            };
                        match o {
                            Err(e) => {
                                template(&mut cc, Placeholder::EachItem, Some(e.clone()));
                                cc.write(Err(e))
                            }
                            Ok(items) if items.is_empty() => {
                                template(&mut cc, Placeholder::EmptyList, None);
                                cc.write(Ok(Vec::new()))
                            }
                            Ok(items) => {
                                let shown = shown.clone();
                                cc.read(&per_item, move |cc, results| {
                                    let mut seen = BTreeSet::new();
                                    let mut terms = Vec::new();
                                    let mut outputs = Vec::with_capacity(items.len());
                                    for item in &items {
                                        match results.get(item) {
                                            Some((t, o)) => {
                                                if seen.insert(item) {
                                                    terms.push(t.clone());
                                                }
                                                outputs.push(o.clone());
                                            }
                                            None => outputs.push(Err(Error {
                                                source: list_id,
                                                kind: ErrorKind::Active(Active::Ready),
                                            })),
                                        }
                                    }
                                    *shown.borrow_mut() = ListShow::Items(terms);
                                    cc.write(combine(outputs))
                                })
                            }
                        }
                    })
                })
            },
        )
    }
}
