//! What a term evaluates to: a value, or an error that remembers the node it came from.

use std::fmt;
use std::sync::Arc;

/// The identity of a term node. Ids are unique within a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u64);

impl NodeId {
    pub(crate) fn fresh() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NodeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Work that is not finished yet: OCaml's `` `Active ``.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Active {
    /// Ready to start (waiting for a resource or an input).
    Ready,
    /// Running now.
    Running,
    /// Waiting for a user to confirm it may start.
    WaitingForConfirmation,
}

impl fmt::Display for Active {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Active::Ready => "Ready",
            Active::Running => "Running",
            Active::WaitingForConfirmation => "Waiting for confirmation",
        })
    }
}

/// Why a term has no value: a failure with a message, or work still under way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A failure (OCaml's `` `Msg ``).
    Msg(Arc<str>),
    /// Not finished yet.
    Active(Active),
}

impl ErrorKind {
    /// A failure with this message.
    pub fn msg(message: impl Into<String>) -> Self {
        ErrorKind::Msg(Arc::from(message.into()))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Msg(m) => write!(f, "Error: {m}"),
            ErrorKind::Active(a) => a.fmt(f),
        }
    }
}

/// An error in a term's output, with the node that produced it.
///
/// A node whose output carries its own id *failed* (or is *active*); one whose output
/// carries another node's id is *blocked* by that node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    /// The node that produced the error.
    pub source: NodeId,
    /// The failure or the pending state.
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// The dynamic value of a term: `Ok`, or an error owned by the node that produced it.
pub type Output<T> = Result<T, Error>;

/// An output as produced by user code, before the framework records its owner.
pub type Outcome<T> = Result<T, ErrorKind>;

/// Format an output the way OCurrent's `Output.pp` does: `Ok: <v>`, `Ready`, `Running`,
/// `Waiting for confirmation`, `Error: <msg>`.
pub fn pp_output<T: fmt::Debug>(output: &Output<T>) -> String {
    match output {
        Ok(v) => format!("Ok: {v:?}"),
        Err(e) => e.kind.to_string(),
    }
}

/// What [`Executor::observe`](super::Executor::observe) reports: like an [`Output`], but a failure that
/// came from upstream is `Blocked` (OCaml's `Output.Blockable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed<T> {
    /// The value.
    Ok(T),
    /// This node failed.
    Msg(Arc<str>),
    /// This node (or an input) is not finished.
    Active(Active),
    /// An input failed.
    Blocked,
}

impl<T> Observed<T> {
    pub(crate) fn of_output(node: NodeId, output: Output<T>) -> Self {
        match output {
            Ok(v) => Observed::Ok(v),
            Err(Error {
                kind: ErrorKind::Active(a),
                ..
            }) => Observed::Active(a),
            Err(Error {
                source,
                kind: ErrorKind::Msg(m),
            }) => {
                if source == node {
                    Observed::Msg(m)
                } else {
                    Observed::Blocked
                }
            }
        }
    }
}

impl<T: fmt::Debug> fmt::Display for Observed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Ok(v) => write!(f, "Ok: {v:?}"),
            Observed::Msg(m) => write!(f, "Error: {m}"),
            Observed::Active(a) => a.fmt(f),
            Observed::Blocked => f.write_str("Blocked"),
        }
    }
}

/// What the runtime attaches to a primitive: the job behind it and whether it is updating
/// in the background (OCaml's `Current.Metadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The job that produced (or is producing) the current output.
    pub job_id: Option<String>,
    /// Set while a new output is being made and the previous one is still shown.
    pub update: Option<Active>,
}
