//! Counts of pipeline stages by state: the full walk (`analysis::stats`) and the quick
//! counters kept up to date as nodes come and go (`Executor::quick_stats`).

use std::cell::Cell;
use std::rc::Rc;

use crate::incr::{Changeable, Graph};

use super::node::{Env, State};
use super::output::{Active, ErrorKind, NodeId, Output};

/// How many pipeline stages are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Finished successfully.
    pub ok: usize,
    /// Waiting for a user to confirm they may start.
    pub waiting_for_confirmation: usize,
    /// Ready to start.
    pub ready: usize,
    /// Running.
    pub running: usize,
    /// Failed.
    pub failed: usize,
    /// Waiting on an input that failed or is not finished.
    pub blocked: usize,
}

/// The state of a stage, as diagrams colour it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bucket {
    Ok,
    WaitingForConfirmation,
    Ready,
    Running,
    Failed,
    Blocked,
}

impl Bucket {
    /// Classify `state` as seen by node `id`: an error from another node is *blocked*.
    pub(crate) fn of_state(id: NodeId, state: &State) -> Bucket {
        match state {
            State::Ok => Bucket::Ok,
            State::Err { source, .. } if *source != id => Bucket::Blocked,
            State::Err { kind, .. } => match kind {
                ErrorKind::Msg(_) => Bucket::Failed,
                ErrorKind::Active(Active::Ready) => Bucket::Ready,
                ErrorKind::Active(Active::Running) => Bucket::Running,
                ErrorKind::Active(Active::WaitingForConfirmation) => Bucket::WaitingForConfirmation,
            },
        }
    }
}

impl Stats {
    fn slot(&mut self, b: Bucket) -> &mut usize {
        match b {
            Bucket::Ok => &mut self.ok,
            Bucket::WaitingForConfirmation => &mut self.waiting_for_confirmation,
            Bucket::Ready => &mut self.ready,
            Bucket::Running => &mut self.running,
            Bucket::Failed => &mut self.failed,
            Bucket::Blocked => &mut self.blocked,
        }
    }

    pub(crate) fn add(&mut self, b: Bucket) {
        *self.slot(b) += 1;
    }

    pub(crate) fn remove(&mut self, b: Bucket) {
        let slot = self.slot(b);
        *slot = slot.saturating_sub(1);
    }

    /// The number of stages counted.
    pub fn total(&self) -> usize {
        self.ok
            + self.waiting_for_confirmation
            + self.ready
            + self.running
            + self.failed
            + self.blocked
    }
}

/// Pass `c` through, keeping the quick counters of node `id` up to date: its bucket is
/// counted while it lives and uncounted when its computation is discarded.
pub(crate) fn counted<T: Clone + 'static>(
    env: &Rc<Env>,
    id: NodeId,
    c: Changeable<Output<T>>,
    g: &mut Graph,
) -> Changeable<Output<T>> {
    let last: Rc<Cell<Option<Bucket>>> = Rc::new(Cell::new(None));
    let (env_release, last_release) = (env.clone(), last.clone());
    let env = env.clone();
    g.of_cc(move |mut cc| {
        cc.on_release(move || {
            if let Some(b) = last_release.take() {
                env_release.counts.borrow_mut().remove(b);
            }
        });
        cc.read(&c, move |cc, o| {
            let b = Bucket::of_state(id, &State::of_output(&o));
            let mut counts = env.counts.borrow_mut();
            if let Some(old) = last.replace(Some(b)) {
                counts.remove(old);
            }
            counts.add(b);
            drop(counts);
            cc.write(o)
        })
    })
}
