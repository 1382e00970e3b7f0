//! The two keyed containers behind the metrics: a table of per-name entries (one per listener or
//! process) and a capped set of labelled counters (statuses, outcomes, dispositions).
//!
//! Both look up under a read lock, which many request tasks can hold at once, and take the write
//! lock only the first time a key is seen. Counting itself is an atomic add.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

// A panic elsewhere while a lock was held cannot leave a map half-updated (every update is one
// insert or one atomic add), so a poisoned lock is used as is: metrics must never take the host
// down.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Entries by name; a BTreeMap so that rendering comes out sorted and stable between scrapes.
/// Names are listener and process names from the deployment, a bounded set, so no cap here.
pub struct Table<V> {
    entries: RwLock<BTreeMap<String, Arc<V>>>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            entries: RwLock::new(BTreeMap::new()),
        }
    }
}

impl<V: Default> Table<V> {
    /// The entry for `name`, created on first use. The Arc is cloned out so the caller updates
    /// it with no lock held.
    pub fn get(&self, name: &str) -> Arc<V> {
        if let Some(entry) = read(&self.entries).get(name) {
            return Arc::clone(entry);
        }
        // Another thread may have inserted between the two locks; `entry` keeps the first one.
        Arc::clone(write(&self.entries).entry(name.to_string()).or_default())
    }

    /// Every entry, sorted by name, for rendering.
    pub fn snapshot(&self) -> Vec<(String, Arc<V>)> {
        read(&self.entries)
            .iter()
            .map(|(name, entry)| (name.clone(), Arc::clone(entry)))
            .collect()
    }
}

/// Counters keyed by a label value, with at most `cap` distinct keys. Values past the cap are
/// counted together under `other`, so a misbehaving connector inventing statuses or disposition
/// texts cannot grow the exposition (and Prometheus' series count) without bound.
pub struct Capped<K> {
    counters: RwLock<BTreeMap<K, AtomicU64>>,
    other: AtomicU64,
    cap: usize,
}

impl<K: Ord> Capped<K> {
    pub fn new(cap: usize) -> Self {
        Capped {
            counters: RwLock::new(BTreeMap::new()),
            other: AtomicU64::new(0),
            cap,
        }
    }

    pub fn add<Q>(&self, key: &Q, n: u64)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(counter) = read(&self.counters).get(key) {
            counter.fetch_add(n, Ordering::Relaxed);
            return;
        }
        let mut counters = write(&self.counters);
        // Checked again under the write lock: another thread may have added the key meanwhile.
        if let Some(counter) = counters.get(key) {
            counter.fetch_add(n, Ordering::Relaxed);
        } else if counters.len() < self.cap {
            counters.insert(key.to_owned(), AtomicU64::new(n));
        } else {
            self.other.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The counters sorted by key, and the overflow count (rendered only when not zero).
    pub fn snapshot(&self) -> (Vec<(K, u64)>, u64)
    where
        K: Clone,
    {
        let counters = read(&self.counters)
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        (counters, self.other.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_goes_to_other_and_known_keys_keep_counting() {
        let capped: Capped<String> = Capped::new(2);
        capped.add("a", 1);
        capped.add("b", 1);
        capped.add("c", 5);
        capped.add("a", 1);
        let (counters, other) = capped.snapshot();
        assert_eq!(counters, vec![("a".to_string(), 2), ("b".to_string(), 1)]);
        assert_eq!(other, 5);
    }

    #[test]
    fn table_returns_the_same_entry() {
        let table: Table<AtomicU64> = Table::default();
        table.get("x").fetch_add(1, Ordering::Relaxed);
        table.get("x").fetch_add(1, Ordering::Relaxed);
        let snapshot = table.snapshot();
        assert_eq!(snapshot.len(), 1);
        assert_eq!(snapshot[0].1.load(Ordering::Relaxed), 2);
    }
}
