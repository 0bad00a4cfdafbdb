//! Cells: the changeable values. Metadata (generation, owner, readers) lives in one untyped
//! arena; the values themselves live in one typed store per value type, so a value is kept
//! inline, without a box of its own.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use super::timeline::NIL;

pub(super) struct Meta {
    /// Bumped when the cell is freed, so stale handles are detected.
    pub(super) gen: u32,
    /// Head of the intrusive list of reads of this cell (linked through `Read::rd_next`).
    pub(super) first_reader: u32,
    /// The point that owns this cell (freeing that point frees the cell), or `NIL`.
    pub(super) owner: u32,
    pub(super) store: u32,
    /// The slot in the typed store; `NIL` while the cell is free.
    pub(super) slot: u32,
}

trait AnyStore: Any {
    fn free(&mut self, slot: u32);
    fn slots(&self) -> usize;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

pub(super) struct Store<T> {
    values: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T: 'static> AnyStore for Store<T> {
    fn free(&mut self, slot: u32) {
        self.values[slot as usize] = None;
        self.free.push(slot);
    }
    fn slots(&self) -> usize {
        self.values.len()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<T> Store<T> {
    fn insert(&mut self, value: Option<T>) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.values[slot as usize] = value;
                slot
            }
            None => {
                self.values.push(value);
                (self.values.len() - 1) as u32
            }
        }
    }

    pub(super) fn get(&self, slot: u32) -> Option<&T> {
        self.values[slot as usize].as_ref()
    }

    pub(super) fn slot_mut(&mut self, slot: u32) -> &mut Option<T> {
        &mut self.values[slot as usize]
    }
}

#[derive(Default)]
pub(super) struct Cells {
    pub(super) meta: Vec<Meta>,
    free_meta: Vec<u32>,
    stores: Vec<Box<dyn AnyStore>>,
    by_type: HashMap<TypeId, u32>,
    live: usize,
}

impl Cells {
    /// A new cell holding `value` (`None` until its computation first writes it).
    pub(super) fn alloc<T: 'static>(&mut self, value: Option<T>) -> (u32, u32) {
        let store = self.store_id::<T>();
        let slot = self.store_mut::<T>(store).insert(value);
        self.live += 1;
        let meta = Meta {
            gen: 0,
            first_reader: NIL,
            owner: NIL,
            store,
            slot,
        };
        match self.free_meta.pop() {
            Some(id) => {
                let gen = self.meta[id as usize].gen;
                self.meta[id as usize] = Meta { gen, ..meta };
                (id, gen)
            }
            None => {
                self.meta.push(meta);
                ((self.meta.len() - 1) as u32, 0)
            }
        }
    }

    /// Free a cell: drop its value and invalidate its handles. Readers must be unlinked first.
    pub(super) fn free(&mut self, cell: u32) {
        let meta = &mut self.meta[cell as usize];
        debug_assert_eq!(meta.first_reader, NIL);
        if meta.slot == NIL {
            return;
        }
        let (store, slot) = (meta.store, meta.slot);
        meta.gen = meta.gen.wrapping_add(1);
        meta.slot = NIL;
        meta.owner = NIL;
        self.stores[store as usize].free(slot);
        self.free_meta.push(cell);
        self.live -= 1;
    }

    pub(super) fn is_live(&self, cell: u32, gen: u32) -> bool {
        self.meta
            .get(cell as usize)
            .is_some_and(|m| m.gen == gen && m.slot != NIL)
    }

    fn store_id<T: 'static>(&mut self) -> u32 {
        let stores = &mut self.stores;
        *self.by_type.entry(TypeId::of::<T>()).or_insert_with(|| {
            stores.push(Box::new(Store::<T> {
                values: Vec::new(),
                free: Vec::new(),
            }));
            (stores.len() - 1) as u32
        })
    }

    fn store_mut<T: 'static>(&mut self, store: u32) -> &mut Store<T> {
        self.stores[store as usize]
            .as_any_mut()
            .downcast_mut::<Store<T>>()
            .expect("cell store holds another type")
    }

    /// The value of a live cell (`None` before its first write).
    pub(super) fn value<T: 'static>(&self, cell: u32) -> Option<&T> {
        let m = &self.meta[cell as usize];
        self.stores[m.store as usize]
            .as_any()
            .downcast_ref::<Store<T>>()
            .expect("cell store holds another type")
            .get(m.slot)
    }

    pub(super) fn value_mut<T: 'static>(&mut self, cell: u32) -> &mut Option<T> {
        let (store, slot) = {
            let m = &self.meta[cell as usize];
            (m.store, m.slot)
        };
        self.store_mut::<T>(store).slot_mut(slot)
    }

    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Slots allocated for metadata and values, free or not.
    pub(super) fn capacity(&self) -> usize {
        self.meta.len() + self.stores.iter().map(|s| s.slots()).sum::<usize>()
    }
}
