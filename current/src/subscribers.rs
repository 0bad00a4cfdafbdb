//! The pipelines reading a value that lives outside their graph (a [`Var`](crate::var::Var)
//! or a [`Monitor`](crate::monitor::Monitor)), and how new values reach them.

use crate::context::Context;
use crate::incr;
use crate::term::{Metadata, Outcome};

/// What a subscribed pipeline holds: the value and the metadata its node shows.
pub(crate) type Shown<T> = (Outcome<T>, Option<Metadata>);

/// The subscribed pipelines: for each, its engine and the input cell to change.
pub(crate) struct Subscribers<T> {
    next: u64,
    list: Vec<Subscriber<T>>,
}

struct Subscriber<T> {
    id: u64,
    ctx: Context,
    cell: incr::Var<Shown<T>>,
}

impl<T: Clone + Send + 'static> Subscribers<T> {
    pub(crate) fn new() -> Self {
        Subscribers {
            next: 0,
            list: Vec::new(),
        }
    }

    /// Subscribe `cell` of the engine of `ctx`; the id to [`remove`](Self::remove) it with.
    pub(crate) fn add(&mut self, ctx: Context, cell: incr::Var<Shown<T>>) -> u64 {
        let id = self.next;
        self.next += 1;
        self.list.push(Subscriber { id, ctx, cell });
        id
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.list.retain(|s| s.id != id);
    }

    /// Send `shown` to every subscriber's engine. A pipeline that stopped reading before
    /// the update arrives just ignores it.
    pub(crate) fn send(&self, shown: &Shown<T>) {
        for s in &self.list {
            let (cell, shown) = (s.cell, shown.clone());
            s.ctx.update(move |g| {
                let _ = g.change(&cell, shown);
            });
        }
    }
}
