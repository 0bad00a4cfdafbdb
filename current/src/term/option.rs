//! Optional values: `option_map`, `option_iter`, `option_seq`.

use std::panic::Location;

use super::node::{with_scope, NodeKind, Term};
use super::output::NodeId;
use super::output::{Active, Error, ErrorKind};

impl<A: Clone + 'static> Term<Option<A>> {
    fn option_map_at<B: Clone + 'static>(
        &self,
        location: &'static Location<'static>,
        label: Option<String>,
        f: impl FnOnce(Term<A>) -> Term<B>,
    ) -> Term<Option<B>> {
        let input = self.clone();
        let id = NodeId::fresh();
        let context = super::node::bind_context();
        // The item: the value when there is one, `Ready` when there is none, the input's
        // error when it has one. `f` is applied once, to this item, so the diagram always
        // shows the pipeline an item would go through.
        let (item, output) = with_scope(context, Some(id), || {
            let item: Term<A> = Term::make(
                NodeKind::OptInput { source: self.any() },
                location,
                move |node, env, g| {
                    let c = input.instance(env, g);
                    let id = node.id;
                    g.map(&c, move |o| match o {
                        Ok(Some(v)) => Ok(v),
                        Ok(None) => Err(Error {
                            source: id,
                            kind: ErrorKind::Active(Active::Ready),
                        }),
                        Err(e) => Err(e),
                    })
                },
            );
            let output = f(item.clone());
            (item, output)
        });
        drop(item);
        let (input, out) = (self.clone(), output.clone());
        Term::make_with_id(
            id,
            NodeKind::OptionMap {
                item: self.any(),
                label,
                output: output.any(),
            },
            location,
            move |_, env, g| {
                let (ci, co) = (input.instance(env, g), out.instance(env, g));
                g.of_cc(move |cc| {
                    cc.read(&ci, move |cc, o| match o {
                        Ok(None) => cc.write(Ok(None)),
                        Err(e) => cc.write(Err(e)),
                        Ok(Some(_)) => cc.read(&co, |cc, o| cc.write(o.map(Some))),
                    })
                })
            },
        )
    }

    /// Apply the pipeline `f` to the value if there is one: `None` gives `Ok(None)`. The
    /// diagram shows `f`'s pipeline in a dotted group either way.
    #[track_caller]
    pub fn option_map<B: Clone + 'static>(
        &self,
        f: impl FnOnce(Term<A>) -> Term<B>,
    ) -> Term<Option<B>> {
        self.option_map_at(Location::caller(), None, f)
    }

    /// [`Term::option_map`] with a label on the group.
    #[track_caller]
    pub fn option_map_labelled<B: Clone + 'static>(
        &self,
        label: impl Into<String>,
        f: impl FnOnce(Term<A>) -> Term<B>,
    ) -> Term<Option<B>> {
        self.option_map_at(Location::caller(), Some(label.into()), f)
    }

    /// [`Term::option_map`] for a pipeline with no result.
    #[track_caller]
    pub fn option_iter(&self, f: impl FnOnce(Term<A>) -> Term<()>) -> Term<()> {
        let location = Location::caller();
        self.option_map_at(location, None, f)
            .map_at(location, |_| (), None)
    }
}

impl<T: Clone + 'static> Term<T> {
    /// `None` becomes `Ok(None)`; `Some(t)` becomes `t`'s value in `Some`.
    #[track_caller]
    pub fn option_seq(t: Option<Term<T>>) -> Term<Option<T>> {
        let location = Location::caller();
        match t {
            None => Term::value(None),
            Some(t) => t.map_at(location, Some, None),
        }
    }
}
