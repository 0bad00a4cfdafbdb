//! Pools: a limited number of slots that jobs wait for (OCaml's `Current.Pool`).
//!
//! A job holds its slot until it completes. Waiters are served first come, first served,
//! high priority before low. Giving up a wait (dropping the future, as a cancelled job does)
//! takes the waiter out of the queue.
//!
//! ```
//! use current::pool::{Pool, Priority};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let pool = Pool::new("docker", 1);
//! let first = pool.acquire(Priority::Low).await;
//! assert_eq!(pool.stats().in_use, 1);
//! let second = pool.acquire(Priority::Low);
//! drop(first);
//! let _second = second.await; // handed over when the first slot was released
//! # });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::metrics::Timings;

use tokio::sync::oneshot;

/// Which queue a waiter joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Served after every high-priority waiter.
    #[default]
    Low,
    /// Served first.
    High,
}

/// A pool of `capacity` slots. Cloning shares it.
#[derive(Clone)]
pub struct Pool(Arc<Inner>);

struct Inner {
    name: String,
    capacity: usize,
    state: Mutex<State>,
    wait: Timings,
    usage: Timings,
}

/// Every pool of this process that is still in use, for [`all`].
static POOLS: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// Every pool of this process that is still held somewhere (what `/metrics` shows).
pub fn all() -> Vec<Pool> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    pools.retain(|p| p.strong_count() > 0);
    pools.iter().filter_map(Weak::upgrade).map(Pool).collect()
}

struct State {
    in_use: usize,
    next_ticket: u64,
    high: VecDeque<Waiter>,
    low: VecDeque<Waiter>,
}

struct Waiter {
    ticket: u64,
    wake: oneshot::Sender<Slot>,
}

/// How busy a pool is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Slots in all.
    pub capacity: usize,
    /// Slots held.
    pub in_use: usize,
    /// Waiters in both queues.
    pub queued: usize,
}

impl Pool {
    /// A pool named `name` (shown in job logs) with `capacity` slots.
    pub fn new(name: impl Into<String>, capacity: usize) -> Pool {
        let inner = Arc::new(Inner {
            name: name.into(),
            capacity,
            state: Mutex::new(State {
                in_use: 0,
                next_ticket: 0,
                high: VecDeque::new(),
                low: VecDeque::new(),
            }),
            wait: Timings::default(),
            usage: Timings::default(),
        });
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(&inner));
        Pool(inner)
    }

    /// How long acquirers waited for a slot (zero when one was free at once); a wait
    /// given up is not counted.
    pub fn wait_time(&self) -> &Timings {
        &self.0.wait
    }

    /// How long slots were held.
    pub fn use_time(&self) -> &Timings {
        &self.0.usage
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state completes before the lock is released, so a panic
        // elsewhere cannot leave it half-changed.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for a slot. Dropping the returned future before it completes gives up the
    /// place in the queue.
    pub fn acquire(&self, priority: Priority) -> Acquire {
        let mut state = self.lock();
        let queued = !state.high.is_empty() || !state.low.is_empty();
        if state.in_use < self.0.capacity && !queued {
            state.in_use += 1;
            return Acquire {
                pool: self.clone(),
                ticket: None,
                rx: None,
                ready: Some(Slot::new(self.clone())),
                queued: Instant::now(),
            };
        }
        let (tx, rx) = oneshot::channel();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let waiter = Waiter { ticket, wake: tx };
        match priority {
            Priority::High => state.high.push_back(waiter),
            Priority::Low => state.low.push_back(waiter),
        }
        Acquire {
            pool: self.clone(),
            ticket: Some(ticket),
            rx: Some(rx),
            ready: None,
            queued: Instant::now(),
        }
    }

    /// A slot now if one is free and nobody is waiting; `None` otherwise (nothing queued).
    pub fn try_acquire(&self) -> Option<Slot> {
        let mut state = self.lock();
        let queued = !state.high.is_empty() || !state.low.is_empty();
        if state.in_use < self.0.capacity && !queued {
            state.in_use += 1;
            self.0.wait.observe(std::time::Duration::ZERO);
            let mut slot = Slot::new(self.clone());
            slot.since = Some(Instant::now());
            Some(slot)
        } else {
            None
        }
    }

    /// Current use of the pool.
    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            capacity: self.0.capacity,
            in_use: state.in_use,
            queued: state.high.len() + state.low.len(),
        }
    }

    /// A slot was let go: hand it to the next waiter still waiting, or free it.
    fn release(&self) {
        let mut state = self.lock();
        loop {
            let next = match state.high.pop_front() {
                Some(w) => Some(w),
                None => state.low.pop_front(),
            };
            let Some(waiter) = next else {
                state.in_use = state.in_use.saturating_sub(1);
                return;
            };
            match waiter.wake.send(Slot::new(self.clone())) {
                Ok(()) => return,
                // The waiter gave up: the slot stays in use, for the next waiter.
                Err(mut slot) => slot.armed = false,
            }
        }
    }

    fn withdraw(&self, ticket: u64) {
        let mut state = self.lock();
        state.high.retain(|w| w.ticket != ticket);
        state.low.retain(|w| w.ticket != ticket);
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pool({:?}, {:?})", self.0.name, self.stats())
    }
}

/// A held slot; dropping it lets the slot go.
pub struct Slot {
    pool: Pool,
    /// Whether dropping this slot releases it (not when it is being passed on).
    armed: bool,
    /// When its holder got it (`None` while it is on its way to a waiter).
    since: Option<Instant>,
}

impl Slot {
    fn new(pool: Pool) -> Slot {
        Slot {
            pool,
            armed: true,
            since: None,
        }
    }

    /// The pool this slot belongs to.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            if let Some(since) = self.since {
                self.pool.0.usage.observe(since.elapsed());
            }
            self.pool.release();
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Slot({})", self.pool.name())
    }
}

/// The future of [`Pool::acquire`].
pub struct Acquire {
    pool: Pool,
    ticket: Option<u64>,
    rx: Option<oneshot::Receiver<Slot>>,
    ready: Option<Slot>,
    queued: Instant,
}

impl Future for Acquire {
    type Output = Slot;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Slot> {
        if let Some(mut slot) = self.ready.take() {
            self.pool.0.wait.observe(self.queued.elapsed());
            slot.since = Some(Instant::now());
            return Poll::Ready(slot);
        }
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Pending;
        };
        match Pin::new(rx).poll(cx) {
            Poll::Ready(Ok(mut slot)) => {
                self.rx = None;
                self.ticket = None;
                self.pool.0.wait.observe(self.queued.elapsed());
                slot.since = Some(Instant::now());
                Poll::Ready(slot)
            }
            // The pool holds the sender until it hands over or we withdraw, and both
            // happen under its lock; a closed channel cannot be seen while we are queued.
            Poll::Ready(Err(_)) => Poll::Pending,
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.pool.withdraw(ticket);
            // A slot may have been handed over just before we withdrew: give it back.
            if let Some(mut rx) = self.rx.take() {
                if let Ok(slot) = rx.try_recv() {
                    drop(slot);
                }
            }
        }
    }
}
