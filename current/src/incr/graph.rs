//! The graph: cells, reads on the timeline, writes, propagation and teardown.

use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::cells::Cells;
use super::timeline::{run_release, Kind, Read, ReadFn, Timeline, NIL};
use super::Error;

/// An equality used to decide whether a write is a change (`true`: equal, nothing to do).
pub(super) type EqFn<'a, T> = &'a dyn Fn(&T, &T) -> bool;

/// A handle to a changeable value of type `T` in a [`Graph`].
///
/// Handles are plain indices: they are `Copy`, cheap to capture in closures, and checked on
/// use, so a handle to a value whose computation has been discarded is reported as
/// [`Error::Released`] rather than reading another value.
pub struct Changeable<T> {
    pub(super) cell: u32,
    pub(super) gen: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> Changeable<T> {
    pub(super) fn new(cell: u32, gen: u32) -> Self {
        Changeable {
            cell,
            gen,
            _t: PhantomData,
        }
    }
}

impl<T> Clone for Changeable<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Changeable<T> {}

impl<T> std::fmt::Debug for Changeable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Changeable(#{}.{})", self.cell, self.gen)
    }
}

/// An input cell: a changeable value set from outside with [`Graph::change`].
pub struct Var<T>(Changeable<T>);

impl<T> Var<T> {
    /// The changeable value of this input, to read or map.
    pub fn changeable(&self) -> Changeable<T> {
        self.0
    }
}

impl<T> Clone for Var<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Var<T> {}

impl<T> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(#{}.{})", self.0.cell, self.0.gen)
    }
}

/// Where a computation's single write goes: a cell, or a custom sink (one key of a
/// [`Graph::separate`] map).
pub(super) enum Dest<T> {
    Cell(u32),
    Sink(Rc<SinkFn<T>>),
}

pub(super) type SinkFn<T> = dyn Fn(&mut Graph, T, Option<EqFn<'_, T>>);

impl<T> Clone for Dest<T> {
    fn clone(&self) -> Self {
        match self {
            Dest::Cell(c) => Dest::Cell(*c),
            Dest::Sink(s) => Dest::Sink(s.clone()),
        }
    }
}

/// A changeable computation that will produce a `T`: OCaml's `'a cc`.
///
/// A `Cc` is consumed by exactly one [`read`](Cc::read) or [`write`](Cc::write), and both
/// return the [`Written`] token that a computation must hand back, so the compiler checks
/// that every computation ends in exactly one write.
pub struct Cc<'g, T> {
    g: &'g mut Graph,
    dest: Dest<T>,
    /// This is the first step of an `of_cc`: whatever it creates owns the destination cell.
    owns: bool,
}

/// Proof that a computation wrote its result. Only [`Cc`] can make one.
#[must_use = "a computation must return the `Written` token of its write"]
pub struct Written(pub(super) ());

/// Counts of what a graph holds, for tests and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Live time points: reads, release hooks, owned constants, `separate` keys.
    pub points: usize,
    /// Live reader edges (a read depends on one cell).
    pub edges: usize,
    /// Live cells.
    pub cells: usize,
    /// Slots allocated in the arenas, live or free: the arena's size.
    pub arena_slots: usize,
    /// Reads waiting to re-run.
    pub queued: usize,
}

/// A self-adjusting computation graph (OCaml's `Current_incr`).
///
/// Single-threaded and arena-backed: values and reads live in vectors indexed by handles,
/// with no reference cycles. See the [module documentation](super) for an example.
pub struct Graph {
    pub(super) tl: Timeline,
    pub(super) cells: Cells,
    /// The point after which the next point is inserted.
    pub(super) now: u32,
    /// The depth of points inserted now: the number of enclosing reads.
    pub(super) depth: u32,
    propagating: bool,
    edges: usize,
    /// How many `at_top_level` calls are under way (inside a computation).
    detours: u32,
}

impl Default for Graph {
    fn default() -> Self {
        Self::new()
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            tl: Timeline::new(),
            cells: Cells::default(),
            now: Timeline::HEAD,
            depth: 0,
            propagating: false,
            edges: 0,
            detours: 0,
        }
    }

    /// A new input cell holding `value`.
    ///
    /// Created inside a computation, it belongs to that computation and is freed with it.
    pub fn var<T: 'static>(&mut self, value: T) -> Var<T> {
        Var(self.constant(value))
    }

    /// A value that never changes.
    pub fn constant<T: 'static>(&mut self, value: T) -> Changeable<T> {
        let (cell, gen) = self.cells.alloc(Some(value));
        if self.depth > 0 {
            self.own(cell);
        }
        Changeable::new(cell, gen)
    }

    /// Evaluate the computation `f` now into a new changeable value.
    pub fn of_cc<T: 'static>(&mut self, f: impl FnOnce(Cc<'_, T>) -> Written) -> Changeable<T> {
        let (cell, gen) = self.cells.alloc::<T>(None);
        let Written(()) = f(Cc {
            g: self,
            dest: Dest::Cell(cell),
            owns: true,
        });
        Changeable::new(cell, gen)
    }

    /// `f` applied to the value of `input`, re-applied whenever it changes. Every result
    /// counts as a change (OCaml's default, physical equality); see [`Graph::map_eq`].
    pub fn map<A, B>(
        &mut self,
        input: &Changeable<A>,
        mut f: impl FnMut(A) -> B + 'static,
    ) -> Changeable<B>
    where
        A: Clone + 'static,
        B: 'static,
    {
        self.map_with(input, move |g, out, a| g.write_cell(out, f(a), None))
    }

    /// Like [`Graph::map`], but a result `eq` to the previous one is not a change, so the
    /// readers of the result do not re-run.
    pub fn map_eq<A, B>(
        &mut self,
        input: &Changeable<A>,
        mut f: impl FnMut(A) -> B + 'static,
        eq: impl Fn(&B, &B) -> bool + 'static,
    ) -> Changeable<B>
    where
        A: Clone + 'static,
        B: 'static,
    {
        self.map_with(input, move |g, out, a| g.write_cell(out, f(a), Some(&eq)))
    }

    /// A read of `input` that owns a new cell and writes it with `write`: what `map` is,
    /// without the general read's closure state. The read point already holds its input
    /// and the cell it produces, so the closure keeps only the user's function, and an
    /// ordinary closure (`|v| v + 1`) costs no allocation at all.
    fn map_with<A, B>(
        &mut self,
        input: &Changeable<A>,
        mut write: impl FnMut(&mut Graph, u32, A) + 'static,
    ) -> Changeable<B>
    where
        A: Clone + 'static,
        B: 'static,
    {
        if let Err(e) = self.check(input) {
            panic!("incr: map of {input:?}: {e}");
        }
        let (cell, gen) = self.cells.alloc::<B>(None);
        let run: ReadFn = Box::new(move |g: &mut Graph, p: u32| {
            let (input, out) = match g.tl.read_mut(p) {
                Some(r) if r.input != NIL => (r.input, r.owned),
                _ => return,
            };
            if let Some(a) = g.cells.value::<A>(input).cloned() {
                write(g, out, a);
            }
        });
        self.add_read(input.cell, cell, false, run);
        Changeable::new(cell, gen)
    }

    /// Register `hook` to run when the computation being evaluated now is discarded
    /// (re-run or no longer needed). At the top level it runs when the graph is torn down
    /// with [`Graph::dispose`] of an enclosing value, or never.
    pub fn on_release(&mut self, hook: impl FnOnce() + 'static) {
        self.now = self
            .tl
            .insert_after(self.now, self.depth, Kind::Release(Some(Box::new(hook))));
    }

    /// Set an input. Every write is a change (see [`Graph::change_eq`]); the readers of the
    /// input re-run at the next [`Graph::propagate`].
    ///
    /// Returns [`Error::ChangeDuringPropagate`] when called from inside a computation that
    /// is being propagated; the graph is left as it was.
    pub fn change<T: 'static>(&mut self, var: &Var<T>, value: T) -> Result<(), Error> {
        self.change_with(var, value, None)
    }

    /// Set an input unless `eq` says the new value equals the current one.
    pub fn change_eq<T: 'static>(
        &mut self,
        var: &Var<T>,
        value: T,
        eq: impl Fn(&T, &T) -> bool,
    ) -> Result<(), Error> {
        self.change_with(var, value, Some(&eq))
    }

    fn change_with<T: 'static>(
        &mut self,
        var: &Var<T>,
        value: T,
        eq: Option<EqFn<'_, T>>,
    ) -> Result<(), Error> {
        if self.propagating {
            return Err(Error::ChangeDuringPropagate);
        }
        self.check(&var.0)?;
        self.write_cell(var.0.cell, value, eq);
        Ok(())
    }

    /// Re-run, earliest first, every read whose input changed, discarding the nested work
    /// of each (its release hooks run) before it re-runs.
    ///
    /// If a computation panics, the panic is passed on after the graph has been put back in
    /// a usable state: the read that panicked keeps its previous result.
    ///
    /// Returns [`Error::PropagateDuringPropagate`] when called from inside a computation
    /// (during a propagation or the first evaluation of a read); nothing is run.
    pub fn propagate(&mut self) -> Result<(), Error> {
        // `depth > 0`: inside a read's continuation outside any propagation (its first
        // run). Propagating there would move `now`/`depth` to the top level under the
        // caller's feet, so the rest of its work would not be nested in it.
        if self.propagating || self.depth > 0 || self.detours > 0 {
            return Err(Error::PropagateDuringPropagate);
        }
        self.propagating = true;
        while let Some(p) = self.tl.pop_min() {
            let (keep_nested, run) = match self.tl.read_mut(p) {
                Some(r) => (r.keep_nested, r.run.take()),
                None => continue,
            };
            let Some(run) = run else { continue };
            if !keep_nested {
                self.discard_nested(p);
            }
            if let Err(panic) = self.run_read(p, run) {
                self.propagating = false;
                self.now = self.tl.tail;
                self.depth = 0;
                resume_unwind(panic);
            }
        }
        self.propagating = false;
        self.now = self.tl.tail;
        self.depth = 0;
        Ok(())
    }

    /// Whether [`Graph::propagate`] is under way (inside a computation it re-runs).
    pub fn is_propagating(&self) -> bool {
        self.propagating
    }

    /// The current value. It is stale until [`Graph::propagate`] has applied pending changes.
    pub fn observe<T: 'static>(&self, c: &Changeable<T>) -> Result<&T, Error> {
        self.check(c)?;
        self.cells.value::<T>(c.cell).ok_or(Error::NoValue)
    }

    /// Discard the computation that produces `c` (running its release hooks) and free `c`.
    ///
    /// Only at the top level, outside propagation, and only when nothing reads `c`
    /// ([`Error::InUse`]); values made inside a computation are discarded with it.
    pub fn dispose<T: 'static>(&mut self, c: Changeable<T>) -> Result<(), Error> {
        if self.propagating || self.depth > 0 || self.detours > 0 {
            return Err(Error::DisposeInsideComputation);
        }
        self.check(&c)?;
        let meta = &self.cells.meta[c.cell as usize];
        if meta.first_reader != NIL {
            return Err(Error::InUse);
        }
        let owner = meta.owner;
        if owner == NIL {
            self.cells.free(c.cell);
        } else {
            self.discard_nested(owner);
            self.forget(owner);
        }
        self.now = self.tl.tail;
        Ok(())
    }

    /// Run `f` at the top level, even from inside a computation: what it creates is not
    /// nested in the computation running now, so it is not discarded when that computation
    /// re-runs. It is placed on the timeline just before the top-level computation that
    /// encloses the current one, so it still comes before its consumer.
    ///
    /// For values shared by several computations that must outlive each of them (the term
    /// layer evaluates a term built outside any `bind` this way).
    pub fn at_top_level<R>(&mut self, f: impl FnOnce(&mut Graph) -> R) -> R {
        if self.depth == 0 {
            return f(self);
        }
        let (now, depth) = (self.now, self.depth);
        // The enclosing top-level point is the nearest one before `now` at depth 0 (the
        // points in between are all nested in it).
        let mut anchor = now;
        while self.tl.pt(anchor).depth > 0 {
            anchor = self.tl.pt(anchor).prev;
        }
        self.now = if anchor == Timeline::HEAD {
            Timeline::HEAD
        } else {
            self.tl.pt(anchor).prev
        };
        self.depth = 0;
        self.detours += 1;
        let result = catch_unwind(AssertUnwindSafe(|| f(self)));
        self.detours -= 1;
        self.now = now;
        self.depth = depth;
        match result {
            Ok(r) => r,
            Err(panic) => resume_unwind(panic),
        }
    }

    /// Discard every computation, first to last, running every release hook (what a
    /// program that stops does, so that everything a pipeline holds is let go). Values stay
    /// readable only for inputs and top-level constants. Only at the top level, outside
    /// propagation.
    pub fn release_all(&mut self) -> Result<(), Error> {
        if self.propagating || self.depth > 0 || self.detours > 0 {
            return Err(Error::DisposeInsideComputation);
        }
        loop {
            let first = self.tl.pt(Timeline::HEAD).next;
            if first == NIL {
                break;
            }
            self.forget(first);
        }
        self.now = Timeline::HEAD;
        Ok(())
    }

    /// Counts of live points, edges and cells, and the arenas' size.
    pub fn stats(&self) -> Stats {
        Stats {
            points: self.tl.live(),
            edges: self.edges,
            cells: self.cells.live(),
            arena_slots: self.tl.capacity() + self.cells.capacity(),
            queued: self.tl.queue_len(),
        }
    }

    // ----- internals --------------------------------------------------------------------

    pub(super) fn check<T>(&self, c: &Changeable<T>) -> Result<(), Error> {
        if self.cells.is_live(c.cell, c.gen) {
            Ok(())
        } else {
            Err(Error::Released)
        }
    }

    /// Record that the enclosing computation owns `cell`.
    fn own(&mut self, cell: u32) {
        self.now = self
            .tl
            .insert_after(self.now, self.depth, Kind::Own { cell });
        self.cells.meta[cell as usize].owner = self.now;
    }

    /// Add a read of `input` at the current position and run it once.
    pub(super) fn add_read(&mut self, input: u32, owned: u32, keep_nested: bool, run: ReadFn) {
        let meta = &self.cells.meta[input as usize];
        let rd_next = meta.first_reader;
        let p = self.tl.insert_after(
            self.now,
            self.depth,
            Kind::Read(Read {
                input,
                rd_prev: NIL,
                rd_next,
                heap_pos: NIL,
                owned,
                keep_nested,
                run: None,
            }),
        );
        if rd_next != NIL {
            if let Some(r) = self.tl.read_mut(rd_next) {
                r.rd_prev = p;
            }
        }
        self.cells.meta[input as usize].first_reader = p;
        self.edges += 1;
        if owned != NIL {
            self.cells.meta[owned as usize].owner = p;
        }
        let depth = self.depth;
        let result = self.run_read(p, run);
        self.depth = depth;
        if let Err(panic) = result {
            resume_unwind(panic);
        }
    }

    /// Run read `p` at its place on the timeline, then store its continuation back.
    fn run_read(&mut self, p: u32, mut run: ReadFn) -> std::thread::Result<()> {
        self.now = p;
        self.depth = self.tl.pt(p).depth + 1;
        let result = catch_unwind(AssertUnwindSafe(|| run(self, p)));
        if let Some(r) = self.tl.read_mut(p) {
            r.run = Some(run);
        }
        result
    }

    /// Discard every point nested inside `p`.
    pub(super) fn discard_nested(&mut self, p: u32) {
        let depth = self.tl.pt(p).depth;
        loop {
            let n = self.tl.pt(p).next;
            if n == NIL || self.tl.pt(n).depth <= depth {
                break;
            }
            self.forget(n);
        }
    }

    /// Remove one point, undoing what it held (its nested points must be gone already or
    /// be discarded next).
    pub(super) fn forget(&mut self, p: u32) {
        if let Kind::Read(_) = self.tl.pt(p).kind {
            self.tl.dequeue(p);
            self.unlink_reader(p);
        }
        match self.tl.remove(p) {
            Kind::Read(r) => {
                if r.owned != NIL {
                    self.free_cell(r.owned);
                }
            }
            Kind::Release(Some(hook)) => run_release(hook),
            Kind::Own { cell } => self.free_cell(cell),
            Kind::Release(None) | Kind::Scope | Kind::Head | Kind::Free { .. } => {}
        }
    }

    fn unlink_reader(&mut self, p: u32) {
        let Some(r) = self.tl.read_mut(p) else { return };
        let (input, prev, next) = (r.input, r.rd_prev, r.rd_next);
        if input == NIL {
            return;
        }
        r.input = NIL;
        r.rd_prev = NIL;
        r.rd_next = NIL;
        if prev == NIL {
            self.cells.meta[input as usize].first_reader = next;
        } else if let Some(pr) = self.tl.read_mut(prev) {
            pr.rd_next = next;
        }
        if next != NIL {
            if let Some(nr) = self.tl.read_mut(next) {
                nr.rd_prev = prev;
            }
        }
        self.edges -= 1;
    }

    /// Free a cell, detaching any reads of it that outlived it (they never run again).
    fn free_cell(&mut self, cell: u32) {
        while self.cells.meta[cell as usize].first_reader != NIL {
            let r = self.cells.meta[cell as usize].first_reader;
            self.tl.dequeue(r);
            self.unlink_reader(r);
        }
        self.cells.free(cell);
    }

    /// Queue every read of `cell`.
    ///
    /// Reads are added at the head of a cell's reader list, so the list runs newest first;
    /// it is walked from its tail so that reads are queued oldest (earliest) first, which
    /// for readers made in program order costs one comparison each in the queue instead of
    /// a sift to its top.
    pub(super) fn schedule_readers(&mut self, cell: u32) {
        let link = |tl: &Timeline, r: u32, next: bool| match &tl.pt(r).kind {
            Kind::Read(read) if next => read.rd_next,
            Kind::Read(read) => read.rd_prev,
            _ => NIL,
        };
        let mut r = self.cells.meta[cell as usize].first_reader;
        if r == NIL {
            return;
        }
        loop {
            let next = link(&self.tl, r, true);
            if next == NIL {
                break;
            }
            r = next;
        }
        while r != NIL {
            self.tl.enqueue(r);
            r = link(&self.tl, r, false);
        }
    }

    /// Write `value` into `cell`; unless `eq` says it is unchanged, queue its readers.
    pub(super) fn write_cell<T: 'static>(&mut self, cell: u32, value: T, eq: Option<EqFn<'_, T>>) {
        let slot = self.cells.value_mut::<T>(cell);
        if let (Some(eq), Some(old)) = (eq, slot.as_ref()) {
            if eq(old, &value) {
                return;
            }
        }
        *slot = Some(value);
        self.schedule_readers(cell);
    }

    fn write_dest<T: 'static>(&mut self, dest: &Dest<T>, value: T, eq: Option<EqFn<'_, T>>) {
        match dest {
            Dest::Cell(cell) => self.write_cell(*cell, value, eq),
            Dest::Sink(sink) => sink(self, value, eq),
        }
    }
}

impl<'g, T: 'static> Cc<'g, T> {
    pub(super) fn new(g: &'g mut Graph, dest: Dest<T>) -> Self {
        Cc {
            g,
            dest,
            owns: false,
        }
    }

    /// The graph, to build nested values (they belong to this computation and are discarded
    /// when it re-runs).
    pub fn graph(&mut self) -> &mut Graph {
        self.g
    }

    /// Register `hook` to run when this computation is discarded (re-run or no longer
    /// needed).
    pub fn on_release(&mut self, hook: impl FnOnce() + 'static) {
        self.g.on_release(hook);
    }

    /// Depend on `input`: run `f` with its value now and again whenever it changes. Work
    /// done inside `f` is nested in this read and discarded before each re-run.
    ///
    /// # Panics
    ///
    /// If `input` was released (its computation discarded): a handle must not outlive the
    /// computation that made it.
    pub fn read<A: Clone + 'static>(
        self,
        input: &Changeable<A>,
        mut f: impl FnMut(Cc<'_, T>, A) -> Written + 'static,
    ) -> Written {
        let Cc { g, dest, owns } = self;
        if let Err(e) = g.check(input) {
            panic!("incr: read of {input:?}: {e}");
        }
        let owned = match (&dest, owns) {
            (Dest::Cell(cell), true) => *cell,
            _ => NIL,
        };
        let input = *input;
        let run: ReadFn = Box::new(move |g: &mut Graph, _p: u32| {
            let Some(a) = g.cells.value::<A>(input.cell).cloned() else {
                return;
            };
            let Written(()) = f(Cc::new(g, dest.clone()), a);
        });
        g.add_read(input.cell, owned, false, run);
        Written(())
    }

    /// End the computation with `value`. Every write counts as a change.
    pub fn write(self, value: T) -> Written {
        self.write_opt(value, None)
    }

    /// End the computation with `value`; if `eq` says it equals the previous value, it is
    /// not a change and readers do not re-run.
    pub fn write_eq(self, value: T, eq: impl Fn(&T, &T) -> bool) -> Written {
        self.write_opt(value, Some(&eq))
    }

    fn write_opt(self, value: T, eq: Option<EqFn<'_, T>>) -> Written {
        let Cc { g, dest, owns } = self;
        if let (Dest::Cell(cell), true) = (&dest, owns) {
            g.own(*cell);
        }
        g.write_dest(&dest, value, eq);
        Written(())
    }
}
