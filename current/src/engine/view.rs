//! A view of a running engine that does not depend on its pipeline's type: what a web
//! page or a control client needs (the result, the stage counts, the jobs, the diagram),
//! from any thread.

use std::rc::Rc;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::context::Context;
use crate::incr::Graph;
use crate::term::{analysis, ErrorKind, Stats, Term};

use super::EngineError;

/// The engine's latest evaluation, without the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Evaluations so far.
    pub step: u64,
    /// `Ok` or the error, as the snapshot has it.
    pub result: Result<(), ErrorKind>,
    /// The jobs the pipeline references now.
    pub jobs: Vec<String>,
    /// Stages by state.
    pub stats: Stats,
}

/// The pipeline's root term, whatever its type, on the engine's thread.
pub(crate) trait Root {
    fn dot(&self, g: &Graph, options: &analysis::DotOptions) -> String;
    fn pp(&self, g: &Graph) -> String;
}

impl<T: Clone + 'static> Root for Term<T> {
    fn dot(&self, g: &Graph, options: &analysis::DotOptions) -> String {
        analysis::dot_with(self, g, options)
    }

    fn pp(&self, g: &Graph) -> String {
        analysis::pp(self, g)
    }
}

thread_local! {
    /// The root of the engine running on this thread, for [`View`].
    pub(crate) static ROOT_VIEW: std::cell::RefCell<Option<Rc<dyn Root>>> =
        const { std::cell::RefCell::new(None) };
}

/// A handle on a running engine for the web server and the control client: cheap to
/// clone, `Send + Sync`.
#[derive(Clone)]
pub struct View {
    ctx: Context,
    summary: Arc<dyn Fn() -> Summary + Send + Sync>,
    changed: Arc<dyn Fn() -> tokio::sync::watch::Receiver<()> + Send + Sync>,
}

impl View {
    pub(crate) fn new(
        ctx: Context,
        summary: Arc<dyn Fn() -> Summary + Send + Sync>,
        changed: Arc<dyn Fn() -> tokio::sync::watch::Receiver<()> + Send + Sync>,
    ) -> View {
        View {
            ctx,
            summary,
            changed,
        }
    }

    /// The engine's context (its jobs, its configuration, its store).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The latest evaluation.
    pub fn summary(&self) -> Summary {
        (self.summary)()
    }

    /// A receiver that changes with every evaluation.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<()> {
        (self.changed)()
    }

    /// The pipeline's diagram (graphviz dot), drawn after the next evaluation with the
    /// options `options` makes there (they hold closures, which stay on that thread).
    pub async fn dot(
        &self,
        options: impl FnOnce() -> analysis::DotOptions + Send + 'static,
    ) -> Result<String, EngineError> {
        self.on_root(move |g, root| root.dot(g, &options())).await
    }

    /// The pipeline's text form.
    pub async fn pp(&self) -> Result<String, EngineError> {
        self.on_root(|g, root| root.pp(g)).await
    }

    async fn on_root<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Graph, &dyn Root) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let (tx, rx) = oneshot::channel();
        let sent = self.ctx.after_evaluation(move |g| {
            let root = ROOT_VIEW.with(|r| r.borrow().clone());
            if let Some(root) = root {
                let _ = tx.send(f(g, &*root));
            }
        });
        if !sent {
            return Err(EngineError::Stopped);
        }
        rx.await.map_err(|_| EngineError::Stopped)
    }
}
