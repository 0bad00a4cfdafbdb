//! The timeline: a totally ordered list of time points (an order-maintenance list) and the
//! queue of reads waiting to re-run, ordered by their place on it.
//!
//! Every `read`, release hook and owned constant is a point. A point's `depth` is how many
//! reads enclose it; the points nested inside a read are exactly the run of points after it
//! whose depth is greater than its own, so no end markers are needed.
//!
//! Labels are `u64`s kept in list order. An insertion takes the midpoint of the gap after
//! its predecessor (or a fixed stride when appending at the end); when a gap is exhausted a
//! window around the insertion point is widened until it is sparse enough and is relabelled
//! evenly. Relabelling keeps the relative order of every live point, so the queue (compared
//! through the labels) stays valid across it.
//!
//! The queue has two parts: a *run* of reads queued in increasing label order (the common
//! case: the readers of a value are queued earliest first, and a re-run queues later reads),
//! a vector consumed from its front; and a binary heap for reads queued out of order. A read
//! queued in order costs O(1) to queue and to take, which is what makes a wide fan-out cheap.

use std::any::Any;

/// "No point": the end of a list, an empty link, a point not in the queue.
pub(super) const NIL: u32 = u32::MAX;

/// The gap left after the last point when appending, so that long chains built in program
/// order rarely need relabelling.
const APPEND_STRIDE: u64 = 1 << 32;

/// A continuation stored in a read point; it is given the graph and its own point.
pub(super) type ReadFn = Box<dyn FnMut(&mut super::Graph, u32)>;

/// A release hook.
pub(super) type ReleaseFn = Box<dyn FnOnce()>;

pub(super) struct Point {
    pub(super) label: u64,
    pub(super) prev: u32,
    pub(super) next: u32,
    pub(super) depth: u32,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    /// The sentinel at the start of the timeline.
    Head,
    /// A slot on the free list.
    Free { next_free: u32 },
    /// A read of `input`; `run` is `None` only while it is running.
    Read(Read),
    /// A hook to call when the enclosing computation is discarded.
    Release(Option<ReleaseFn>),
    /// A cell owned by the enclosing computation (a constant or a directly written `of_cc`).
    Own { cell: u32 },
    /// One key's sub-computation of a `Separate` map; its nested points are the key's work.
    Scope,
}

pub(super) struct Read {
    pub(super) input: u32,
    pub(super) rd_prev: u32,
    pub(super) rd_next: u32,
    /// Where the read is queued: `NIL` (not queued), an index into the heap, or
    /// `RUN | index` into the run.
    pub(super) heap_pos: u32,
    /// The cell this read produces and owns (freed with the read), or `NIL`.
    pub(super) owned: u32,
    /// Re-running does not discard the nested points (`Separate` manages them itself).
    pub(super) keep_nested: bool,
    pub(super) run: Option<ReadFn>,
}

pub(super) struct Timeline {
    pub(super) points: Vec<Point>,
    free: u32,
    pub(super) tail: u32,
    live: usize,
    /// Reads to re-run queued out of order: a binary min-heap of point ids by label.
    heap: Vec<u32>,
    /// Reads to re-run queued in order: labels increase from `run_head` on; removed
    /// entries are `NIL`, but never the first or the last. Cleared when it empties.
    run: Vec<u32>,
    run_head: usize,
    /// Reads queued in the heap and the run.
    queued: usize,
}

/// Marks a queue position as an index into the run rather than the heap.
const RUN: u32 = 1 << 31;

impl Timeline {
    pub(super) fn new() -> Self {
        let head = Point {
            label: 0,
            prev: NIL,
            next: NIL,
            depth: 0,
            kind: Kind::Head,
        };
        Timeline {
            points: vec![head],
            free: NIL,
            tail: 0,
            live: 0,
            heap: Vec::new(),
            run: Vec::new(),
            run_head: 0,
            queued: 0,
        }
    }

    pub(super) const HEAD: u32 = 0;

    /// Points in use, not counting the sentinel.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Slots allocated, free or not (the arena's size).
    pub(super) fn capacity(&self) -> usize {
        self.points.len()
    }

    pub(super) fn pt(&self, p: u32) -> &Point {
        &self.points[p as usize]
    }

    pub(super) fn pt_mut(&mut self, p: u32) -> &mut Point {
        &mut self.points[p as usize]
    }

    pub(super) fn read_mut(&mut self, p: u32) -> Option<&mut Read> {
        match &mut self.points[p as usize].kind {
            Kind::Read(r) => Some(r),
            _ => None,
        }
    }

    /// Insert a new point directly after `after`.
    pub(super) fn insert_after(&mut self, after: u32, depth: u32, kind: Kind) -> u32 {
        let label = self.label_after(after);
        let next = self.pt(after).next;
        let point = Point {
            label,
            prev: after,
            next,
            depth,
            kind,
        };
        let id = if self.free != NIL {
            let id = self.free;
            self.free = match self.pt(id).kind {
                Kind::Free { next_free } => next_free,
                _ => unreachable!("free list holds a live point"),
            };
            self.points[id as usize] = point;
            id
        } else {
            self.points.push(point);
            (self.points.len() - 1) as u32
        };
        self.pt_mut(after).next = id;
        if next == NIL {
            self.tail = id;
        } else {
            self.pt_mut(next).prev = id;
        }
        self.live += 1;
        id
    }

    /// Unlink `p`, put its slot on the free list and return what it held.
    pub(super) fn remove(&mut self, p: u32) -> Kind {
        debug_assert_ne!(p, Self::HEAD);
        let (prev, next) = (self.pt(p).prev, self.pt(p).next);
        self.pt_mut(prev).next = next;
        if next == NIL {
            self.tail = prev;
        } else {
            self.pt_mut(next).prev = prev;
        }
        let free = self.free;
        let point = self.pt_mut(p);
        let kind = std::mem::replace(&mut point.kind, Kind::Free { next_free: free });
        point.prev = NIL;
        point.next = NIL;
        self.free = p;
        self.live -= 1;
        kind
    }

    /// A label strictly between `after` and its successor, relabelling if needed.
    fn label_after(&mut self, after: u32) -> u64 {
        if let Some(label) = self.gap_after(after) {
            return label;
        }
        self.relabel_around(after);
        self.gap_after(after)
            .expect("relabelling always leaves a gap after the insertion point")
    }

    fn gap_after(&self, after: u32) -> Option<u64> {
        let lo = self.pt(after).label;
        let next = self.pt(after).next;
        let hi = if next == NIL {
            u64::MAX
        } else {
            self.pt(next).label
        };
        let gap = hi - lo;
        if gap < 2 {
            None
        } else if next == NIL {
            Some(lo + (gap / 2).min(APPEND_STRIDE))
        } else {
            Some(lo + gap / 2)
        }
    }

    /// Spread the labels of a window around `p` evenly. The window, bounded by two points
    /// that keep their labels, doubles until it leaves a gap of at least `k + 1` between
    /// neighbours for the `k` points inside it and the one to come: the amortised cost of
    /// an insertion stays logarithmic.
    fn relabel_around(&mut self, p: u32) {
        let mut lo_pt = p;
        let mut hi_pt = self.pt(p).next;
        let mut k: u64 = 0; // points strictly between lo_pt and hi_pt
        loop {
            let lo = self.pt(lo_pt).label;
            let hi = if hi_pt == NIL {
                u64::MAX
            } else {
                self.pt(hi_pt).label
            };
            let step = (hi - lo) / (k + 2);
            if step >= (k + 1).max(2) {
                let mut label = lo;
                let mut q = self.pt(lo_pt).next;
                while q != hi_pt {
                    label += step;
                    self.pt_mut(q).label = label;
                    q = self.pt(q).next;
                }
                return;
            }
            assert!(
                lo_pt != Self::HEAD || hi_pt != NIL,
                "incr timeline is full: too many live points for 64-bit labels"
            );
            let grow = k + 1;
            for _ in 0..grow {
                if lo_pt != Self::HEAD {
                    lo_pt = self.pt(lo_pt).prev;
                    k += 1;
                }
                if hi_pt != NIL {
                    hi_pt = self.pt(hi_pt).next;
                    k += 1;
                }
            }
        }
    }

    // ----- the queue -------------------------------------------------------------------

    fn less(&self, a: u32, b: u32) -> bool {
        self.pt(a).label < self.pt(b).label
    }

    fn set_pos(&mut self, p: u32, pos: u32) {
        if let Some(r) = self.read_mut(p) {
            r.heap_pos = pos;
        }
    }

    /// Queue read `p` to re-run (no-op if already queued).
    pub(super) fn enqueue(&mut self, p: u32) {
        let queued = match &self.pt(p).kind {
            Kind::Read(r) => r.heap_pos != NIL,
            _ => true,
        };
        if queued {
            return;
        }
        self.queued += 1;
        let in_order = match self.run.last() {
            None => true,
            Some(&last) => self.less(last, p),
        };
        if in_order && self.run.len() < (RUN - 1) as usize {
            let pos = self.run.len() as u32;
            self.run.push(p);
            self.set_pos(p, RUN | pos);
            return;
        }
        let pos = self.heap.len();
        self.heap.push(p);
        self.set_pos(p, pos as u32);
        self.sift_up(pos);
    }

    /// Take the earliest queued read.
    pub(super) fn pop_min(&mut self) -> Option<u32> {
        let first = self.run.get(self.run_head).copied();
        let top = self.heap.first().copied();
        match (first, top) {
            (None, None) => None,
            (Some(f), Some(t)) if self.less(t, f) => {
                self.remove_at(0);
                Some(t)
            }
            (Some(f), _) => {
                self.remove_from_run(f);
                Some(f)
            }
            (None, Some(t)) => {
                self.remove_at(0);
                Some(t)
            }
        }
    }

    /// Take `p` out of the queue if it is there.
    pub(super) fn dequeue(&mut self, p: u32) {
        let pos = match &self.pt(p).kind {
            Kind::Read(r) => r.heap_pos,
            _ => NIL,
        };
        if pos == NIL {
            return;
        }
        if pos & RUN != 0 {
            self.remove_from_run(p);
        } else {
            self.remove_at(pos as usize);
        }
    }

    pub(super) fn queue_len(&self) -> usize {
        self.queued
    }

    /// Remove queued read `p` from the run, keeping its first and last entries live.
    fn remove_from_run(&mut self, p: u32) {
        let pos = match &self.pt(p).kind {
            Kind::Read(r) => r.heap_pos & !RUN,
            _ => unreachable!("a queued point is a read"),
        };
        self.set_pos(p, NIL);
        self.queued -= 1;
        self.run[pos as usize] = NIL;
        while self.run.last() == Some(&NIL) {
            self.run.pop();
        }
        while self.run.get(self.run_head) == Some(&NIL) {
            self.run_head += 1;
        }
        if self.run_head >= self.run.len() {
            self.run.clear();
            self.run_head = 0;
        }
    }

    fn remove_at(&mut self, pos: usize) {
        let p = self.heap[pos];
        self.set_pos(p, NIL);
        self.queued -= 1;
        let last = self.heap.pop().expect("remove_at on an empty queue");
        if pos < self.heap.len() {
            self.heap[pos] = last;
            self.set_pos(last, pos as u32);
            self.sift_down(pos);
            self.sift_up(pos);
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !self.less(self.heap[pos], self.heap[parent]) {
                break;
            }
            self.swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let (l, r) = (2 * pos + 1, 2 * pos + 2);
            let mut min = pos;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[min]) {
                min = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[min]) {
                min = r;
            }
            if min == pos {
                break;
            }
            self.swap(pos, min);
            pos = min;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (pa, pb) = (self.heap[a], self.heap[b]);
        self.set_pos(pa, a as u32);
        self.set_pos(pb, b as u32);
    }
}

/// Run a release hook, containing a panic so that teardown always completes.
pub(super) fn run_release(hook: ReleaseFn) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook)) {
        tracing::error!("a release hook panicked: {}", panic_message(panic.as_ref()));
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
