//! Looking at a pipeline: its text form ([`pp`]), its diagram ([`dot`]), counts of its
//! stages by state ([`stats`]) and the metadata of its primitives ([`metadata`]).

mod dot;
mod escape;
mod pp;

use std::collections::BTreeMap;
use std::panic::Location;

use crate::incr::Graph;

use super::node::{AnyTerm, NodeKind, Term};
use super::output::{Active, Metadata};
use super::stats::Stats;

pub use dot::{dot, dot_with};
pub use pp::pp;

/// What the diagram shows beyond the pipeline itself.
#[derive(Default)]
pub struct DotOptions {
    /// Which collapsed groups to expand: a group with key `k` and value `v` is drawn in
    /// full when this maps `k` to `v`.
    pub env: BTreeMap<String, String>,
    /// The link of a collapsed group's `+` box, given its key and value.
    pub collapse_link: Option<CollapseLink>,
    /// For a primitive's metadata: whether it is updating in the background (drawn as a
    /// gradient) and the link of its job. By default the metadata's own `update`, and no
    /// link.
    pub job_info: Option<JobInfo>,
}

/// See [`DotOptions::collapse_link`].
pub type CollapseLink = Box<dyn Fn(&str, &str) -> String>;

/// See [`DotOptions::job_info`].
pub type JobInfo = Box<dyn Fn(&Metadata) -> (Option<Active>, Option<String>)>;

/// Counts of the stages the diagram draws, by state (a full walk of the pipeline). The
/// gate circles and the `state`, `catch` and failed `map` boxes count as stages too.
pub fn stats<T: Clone + 'static>(t: &Term<T>, g: &Graph) -> Stats {
    dot::render(&t.any(), g, &DotOptions::default()).1
}

/// Why [`metadata`] has none to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// OCaml: `metadata: this is not a primitive term!`.
    #[error("metadata: this is not a primitive term!")]
    NotPrimitive,
}

/// The metadata of a primitive term (or of a map of one): its job and whether it is
/// updating in the background. `Ok(None)` until the primitive has produced some.
pub fn metadata<T: Clone + 'static>(
    t: &Term<T>,
    g: &Graph,
) -> Result<Option<Metadata>, MetadataError> {
    metadata_of(&t.any(), g)
}

pub(crate) fn metadata_of(t: &AnyTerm, g: &Graph) -> Result<Option<Metadata>, MetadataError> {
    let mut t = t.clone();
    loop {
        let next = match &t.node().kind {
            NodeKind::Primitive { meta, .. } => {
                return Ok(meta
                    .get()
                    .and_then(|c| g.observe(&c).ok().cloned().flatten()));
            }
            NodeKind::Map { source } => source.clone(),
            _ => return Err(MetadataError::NotPrimitive),
        };
        t = next;
    }
}

/// The ids of the jobs behind the primitives of the pipeline as it is now, sorted: the jobs
/// an engine reports as referenced by its pipeline.
pub fn job_ids<T: Clone + 'static>(t: &Term<T>, g: &Graph) -> Vec<String> {
    let mut ids = std::collections::BTreeSet::new();
    super::node::walk(&t.any(), |t| {
        if let Ok(Some(Metadata {
            job_id: Some(id), ..
        })) = metadata_of(t, g)
        {
            if matches!(t.node().kind, NodeKind::Primitive { .. }) {
                ids.insert(id);
            }
        }
    });
    ids.into_iter().collect()
}

/// `file:line:column`, as diagrams and messages show a term's source location.
pub fn location(l: &Location<'_>) -> String {
    format!("{}:{}:{}", l.file(), l.line(), l.column())
}
