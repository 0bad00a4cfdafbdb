//! Tests: pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use current::pool::{Acquire, Pool, PoolStats, Priority, Slot};

/// Poll `f` once, with a waker that does nothing.
fn poll_now<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    match Pin::new(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// A slot that must be granted at once.
fn granted(acquire: &mut Acquire) -> Slot {
    poll_now(acquire).expect("a slot was granted")
}

fn stats(capacity: usize, in_use: usize, queued: usize) -> PoolStats {
    PoolStats {
        capacity,
        in_use,
        queued,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn capacity_is_respected() {
    let pool = Pool::new("build", 2);
    assert_eq!(pool.stats(), stats(2, 0, 0));
    let a = granted(&mut pool.acquire(Priority::Low));
    assert_eq!(pool.stats(), stats(2, 1, 0));
    let b = granted(&mut pool.acquire(Priority::High));
    assert_eq!(pool.stats(), stats(2, 2, 0));

    let mut c = pool.acquire(Priority::High);
    let mut d = pool.acquire(Priority::Low);
    for _ in 0..3 {
        assert!(poll_now(&mut c).is_none());
        assert!(poll_now(&mut d).is_none());
    }
    assert_eq!(pool.stats(), stats(2, 2, 2));

    drop(a);
    assert_eq!(pool.stats(), stats(2, 2, 1), "handed over, not freed");
    let c = granted(&mut c);
    assert!(poll_now(&mut d).is_none());
    drop(b);
    let d = granted(&mut d);
    assert_eq!(pool.stats(), stats(2, 2, 0));
    drop(c);
    assert_eq!(pool.stats(), stats(2, 1, 0));
    drop(d);
    assert_eq!(pool.stats(), stats(2, 0, 0));
}

#[test]
fn a_slot_is_held_until_dropped() {
    let pool = Pool::new("deploy", 1);
    let slot = granted(&mut pool.acquire(Priority::Low));
    assert_eq!(slot.pool().name(), "deploy");
    assert_eq!(format!("{slot:?}"), "Slot(deploy)");
    let waiter = pool.acquire(Priority::High);
    let got = Arc::new(AtomicUsize::new(0));
    runtime().block_on(async {
        let task = tokio::spawn({
            let got = got.clone();
            async move {
                let slot = waiter.await;
                got.store(1, Ordering::SeqCst);
                slot
            }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(got.load(Ordering::SeqCst), 0, "still held");
        assert_eq!(pool.stats(), stats(1, 1, 1));
        drop(slot);
        let second = task.await.unwrap();
        assert_eq!(got.load(Ordering::SeqCst), 1);
        assert_eq!(pool.stats(), stats(1, 1, 0));
        drop(second);
        assert_eq!(pool.stats(), stats(1, 0, 0));
    });
}

#[test]
fn fifo_within_a_priority_and_high_before_low() {
    let pool = Pool::new("p", 1);
    let order = Arc::new(Mutex::new(Vec::new()));
    runtime().block_on(async {
        let holder = granted(&mut pool.acquire(Priority::Low));
        // Queue in this arrival order (acquire joins the queue when it is called).
        let arrivals = [
            ("low-1", Priority::Low),
            ("high-1", Priority::High),
            ("low-2", Priority::Low),
            ("low-3", Priority::Low),
            ("high-2", Priority::High),
            ("high-3", Priority::High),
            ("low-4", Priority::Low),
        ];
        let mut tasks = Vec::new();
        for (id, priority) in arrivals {
            let acquire = pool.acquire(priority);
            let order = order.clone();
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let slot = acquire.await;
                // Only one holder at a time.
                assert_eq!(pool.stats().in_use, 1);
                order.lock().unwrap().push(id);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                drop(slot);
            }));
        }
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(order.lock().unwrap().is_empty());
        assert_eq!(pool.stats(), stats(1, 1, 7));
        drop(holder);
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(
        *order.lock().unwrap(),
        ["high-1", "high-2", "high-3", "low-1", "low-2", "low-3", "low-4"]
    );
    assert_eq!(pool.stats(), stats(1, 0, 0));
}

#[test]
fn exact_grant_order_with_two_slots() {
    let pool = Pool::new("p", 2);
    let a = granted(&mut pool.acquire(Priority::Low));
    let b = granted(&mut pool.acquire(Priority::Low));
    let mut l1 = pool.acquire(Priority::Low);
    let mut l2 = pool.acquire(Priority::Low);
    let mut h1 = pool.acquire(Priority::High);
    let mut h2 = pool.acquire(Priority::High);
    assert_eq!(pool.stats(), stats(2, 2, 4));
    // The high waiters go first, in arrival order, then the low ones.
    drop(a);
    assert!(poll_now(&mut l1).is_none());
    assert!(poll_now(&mut h2).is_none());
    let h1 = granted(&mut h1);
    assert_eq!(pool.stats(), stats(2, 2, 3));
    drop(b);
    assert!(poll_now(&mut l1).is_none());
    let h2 = granted(&mut h2);
    drop(h1);
    let l1 = granted(&mut l1);
    assert!(poll_now(&mut l2).is_none());
    drop(h2);
    let l2 = granted(&mut l2);
    assert_eq!(pool.stats(), stats(2, 2, 0));
    drop((l1, l2));
    assert_eq!(pool.stats(), stats(2, 0, 0));
}

#[test]
fn a_waiter_that_gives_up_leaves_the_queue() {
    let pool = Pool::new("p", 1);
    let holder = granted(&mut pool.acquire(Priority::Low));
    let mut w1 = pool.acquire(Priority::Low);
    let mut w2 = pool.acquire(Priority::Low);
    let mut w3 = pool.acquire(Priority::Low);
    assert!(poll_now(&mut w2).is_none());
    assert_eq!(pool.stats(), stats(1, 1, 3));
    drop(w2);
    assert_eq!(pool.stats(), stats(1, 1, 2));

    drop(holder);
    let s1 = granted(&mut w1);
    assert!(poll_now(&mut w3).is_none());
    assert_eq!(pool.stats(), stats(1, 1, 1));
    drop(s1);
    let s3 = granted(&mut w3);
    assert_eq!(pool.stats(), stats(1, 1, 0));

    // The head of the queue gives up: the slot goes to the one behind it.
    let w4 = pool.acquire(Priority::High);
    let mut w5 = pool.acquire(Priority::Low);
    drop(w4);
    assert_eq!(pool.stats(), stats(1, 1, 1));
    drop(s3);
    let s5 = granted(&mut w5);
    drop(s5);
    assert_eq!(pool.stats(), stats(1, 0, 0));

    // A waiter that never polled its future again does not keep the pool.
    let mut w6 = pool.acquire(Priority::Low);
    drop(granted(&mut w6));
    assert_eq!(pool.stats(), stats(1, 0, 0));
    let w7 = pool.acquire(Priority::Low);
    drop(w7);
    assert_eq!(
        pool.stats(),
        stats(1, 0, 0),
        "an unpolled ready slot is let go"
    );

    // Waits and uses are counted for the slots handed over: holder, s1, s3, s5, w6's.
    assert_eq!(pool.wait_time().count(), 5);
    assert_eq!(pool.use_time().count(), 5);
}

#[test]
fn a_waiter_that_gives_up_after_the_handover_passes_the_slot_on() {
    let pool = Pool::new("p", 1);
    let holder = granted(&mut pool.acquire(Priority::Low));
    let w1 = pool.acquire(Priority::Low);
    let mut w2 = pool.acquire(Priority::Low);
    drop(holder);
    // The slot is w1's now, though w1 has not seen it yet.
    assert_eq!(pool.stats(), stats(1, 1, 1));
    assert!(poll_now(&mut w2).is_none());
    drop(w1);
    let s2 = granted(&mut w2);
    assert_eq!(pool.stats(), stats(1, 1, 0));
    drop(s2);
    assert_eq!(pool.stats(), stats(1, 0, 0));
}

#[test]
fn cancelled_and_timed_out_waiters_never_get_a_slot() {
    let pool = Pool::new("p", 1);
    let order = Arc::new(Mutex::new(Vec::new()));
    runtime().block_on(async {
        let holder = pool.acquire(Priority::Low).await;
        let impatient = tokio::spawn({
            let acquire = pool.acquire(Priority::High);
            let order = order.clone();
            async move {
                // A timeout that has already passed: the wait is given up at once.
                match tokio::time::timeout(Duration::ZERO, acquire).await {
                    Ok(_slot) => order.lock().unwrap().push("impatient"),
                    Err(_) => order.lock().unwrap().push("gave up"),
                }
            }
        });
        let cancelled = tokio::spawn({
            let acquire = pool.acquire(Priority::High);
            let order = order.clone();
            async move {
                let _slot = acquire.await;
                order.lock().unwrap().push("cancelled");
            }
        });
        let patient = tokio::spawn({
            let acquire = pool.acquire(Priority::Low);
            let order = order.clone();
            async move {
                let _slot = acquire.await;
                order.lock().unwrap().push("patient");
            }
        });
        assert_eq!(pool.stats(), stats(1, 1, 3));
        impatient.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["gave up"]);
        assert_eq!(pool.stats(), stats(1, 1, 2));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        assert_eq!(pool.stats(), stats(1, 1, 1));
        drop(holder);
        patient.await.unwrap();
    });
    assert_eq!(*order.lock().unwrap(), ["gave up", "patient"]);
    assert_eq!(pool.stats(), stats(1, 0, 0));
}

#[test]
fn clones_share_the_pool() {
    let pool = Pool::new("docker", 2);
    let other = pool.clone();
    let slot = granted(&mut other.acquire(Priority::Low));
    assert_eq!(pool.stats(), stats(2, 1, 0));
    assert_eq!(pool.name(), "docker");
    assert_eq!(pool.to_string(), "docker");
    assert_eq!(
        format!("{pool:?}"),
        r#"Pool("docker", PoolStats { capacity: 2, in_use: 1, queued: 0 })"#
    );
    drop(slot);
    assert_eq!(other.stats(), stats(2, 0, 0));
}

#[test]
fn many_threads_never_exceed_capacity_and_lose_no_slot() {
    const CAPACITY: usize = 3;
    let pool = Pool::new("p", CAPACITY);
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8usize {
            let (pool, holders, most) = (pool.clone(), holders.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..200usize {
                    let priority = if (t + i) % 3 == 0 {
                        Priority::High
                    } else {
                        Priority::Low
                    };
                    let mut acquire = pool.acquire(priority);
                    if (t + i) % 4 == 0 {
                        // Give up after one poll, racing with the holders' releases;
                        // a slot that arrives meanwhile is let go with it.
                        std::future::poll_fn(|cx| {
                            let _ = Pin::new(&mut acquire).poll(cx);
                            Poll::Ready(())
                        })
                        .await;
                        drop(acquire);
                        continue;
                    }
                    let slot = acquire.await;
                    let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    holders.fetch_sub(1, Ordering::SeqCst);
                    drop(slot);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(most.load(Ordering::SeqCst) <= CAPACITY);
    assert_eq!(pool.stats(), stats(CAPACITY, 0, 0));
}
