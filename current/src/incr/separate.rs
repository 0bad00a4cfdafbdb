//! `Graph::separate`: per-key computations over a changing set of keys (OCaml's
//! `Current_incr.Separate`).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use super::graph::{Cc, Changeable, Dest, EqFn, Graph, Written};
use super::timeline::{Kind, ReadFn, NIL};

impl Graph {
    /// Run `f` once per key of `keys`, into a map from each key to its computation's
    /// result.
    ///
    /// When keys are added only the new keys are computed; when a key is removed its
    /// computation is discarded (its release hooks run) and it leaves the map; the
    /// computations of keys that stay are not re-run. Each key's computation re-runs on its
    /// own when what it reads changes, updating just that key of the map.
    ///
    /// ```
    /// use current::incr::Graph;
    /// use std::collections::BTreeSet;
    ///
    /// let mut g = Graph::new();
    /// let keys = g.var(BTreeSet::from([1, 2]));
    /// let squares = g.separate(&keys.changeable(), |cc, k: i32| cc.write(k * k));
    /// assert_eq!(g.observe(&squares)?.get(&2), Some(&4));
    ///
    /// g.change(&keys, BTreeSet::from([2, 3]))?;
    /// g.propagate()?;
    /// let now: Vec<_> = g.observe(&squares)?.iter().map(|(k, v)| (*k, *v)).collect();
    /// assert_eq!(now, [(2, 4), (3, 9)]);
    /// # Ok::<(), current::incr::Error>(())
    /// ```
    pub fn separate<K, V>(
        &mut self,
        keys: &Changeable<BTreeSet<K>>,
        mut f: impl FnMut(Cc<'_, V>, K) -> Written + 'static,
    ) -> Changeable<Rc<BTreeMap<K, V>>>
    where
        K: Ord + Clone + 'static,
        V: Clone + 'static,
    {
        if let Err(e) = self.check(keys) {
            panic!("incr: separate over {keys:?}: {e}");
        }
        let (out, out_gen) = self
            .cells
            .alloc::<Rc<BTreeMap<K, V>>>(Some(Rc::new(BTreeMap::new())));
        let input = keys.cell;
        let mut scopes: BTreeMap<K, u32> = BTreeMap::new();
        let run: ReadFn = Box::new(move |g: &mut Graph, p: u32| {
            let Some(wanted) = g.cells.value::<BTreeSet<K>>(input).cloned() else {
                return;
            };
            let removed: Vec<K> = scopes
                .keys()
                .filter(|k| !wanted.contains(*k))
                .cloned()
                .collect();
            for k in &removed {
                if let Some(scope) = scopes.remove(k) {
                    g.discard_nested(scope);
                    g.forget(scope);
                }
                if let Some(map) = g.cells.value_mut::<Rc<BTreeMap<K, V>>>(out) {
                    Rc::make_mut(map).remove(k);
                }
            }
            if !removed.is_empty() {
                g.schedule_readers(out);
            }
            // New keys go at the end of this read's interval, each in a scope of its own.
            let depth = g.tl.pt(p).depth;
            let mut end = p;
            loop {
                let n = g.tl.pt(end).next;
                if n == NIL || g.tl.pt(n).depth <= depth {
                    break;
                }
                end = n;
            }
            for k in wanted {
                if scopes.contains_key(&k) {
                    continue;
                }
                let scope = g.tl.insert_after(end, depth + 1, Kind::Scope);
                scopes.insert(k.clone(), scope);
                g.now = scope;
                g.depth = depth + 2;
                let key = k.clone();
                let sink = Rc::new(move |g: &mut Graph, v: V, eq: Option<EqFn<'_, V>>| {
                    let Some(map) = g.cells.value_mut::<Rc<BTreeMap<K, V>>>(out) else {
                        return;
                    };
                    if let (Some(eq), Some(old)) = (eq, map.get(&key)) {
                        if eq(old, &v) {
                            return;
                        }
                    }
                    Rc::make_mut(map).insert(key.clone(), v);
                    g.schedule_readers(out);
                });
                let Written(..) = f(Cc::new(g, Dest::Sink(sink)), k);
                end = g.now;
            }
            g.now = end;
            g.depth = depth + 1;
        });
        self.add_read(input, out, true, run);
        Changeable::new(out, out_gen)
    }
}
