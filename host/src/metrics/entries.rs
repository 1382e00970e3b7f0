//! The per-listener and per-process handles kept beside the registered families, so the request
//! path never builds a label set (two `String`s) or hashes one: it finds its entry by name under a
//! read lock and adds to handles that share their value with the family's series.
//!
//! Both containers look up under a read lock, which many request tasks can hold at once, and take
//! the write lock only the first time a key is seen.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus_client::metrics::counter::Counter;

// A panic elsewhere while a lock was held cannot leave a map half-updated (every update is one
// insert or one atomic add), so a poisoned lock is used as is: metrics must never take the host
// down.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Entries by name (listener or process names from the deployment, a bounded set, so no cap);
/// a BTreeMap so the listener states render sorted.
#[derive(Debug)]
pub struct Table<V> {
    entries: RwLock<BTreeMap<String, V>>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            entries: RwLock::new(BTreeMap::new()),
        }
    }
}

impl<V> Table<V> {
    /// Runs `update` on the entry for `name`, made by `make` on first use. The update runs under
    /// the lock rather than on a cloned `Arc`, which would add a contended reference count to
    /// every request.
    pub fn with<R>(&self, name: &str, make: impl FnOnce() -> V, update: impl FnOnce(&V) -> R) -> R {
        if let Some(entry) = read(&self.entries).get(name) {
            return update(entry);
        }
        // Another thread may have inserted between the two locks; `entry` keeps the first one.
        let mut entries = write(&self.entries);
        update(entries.entry(name.to_string()).or_insert_with(make))
    }

    /// Every entry, sorted by name.
    pub fn for_each(&self, mut visit: impl FnMut(&str, &V)) {
        for (name, entry) in read(&self.entries).iter() {
            visit(name, entry);
        }
    }
}

/// Counter handles keyed by one label's value, at most `cap` of them. Values past the cap are
/// counted together under `other`, so a misbehaving connector inventing statuses or disposition
/// texts cannot grow the exposition (and Prometheus' series count) without bound.
pub struct Capped<K> {
    counters: RwLock<BTreeMap<K, Counter>>,
    /// Made on the first overflow only, so no `other` series shows while it would read 0.
    other: OnceLock<Counter>,
    cap: usize,
}

impl<K: Ord> Capped<K> {
    pub fn new(cap: usize) -> Self {
        Capped {
            counters: RwLock::new(BTreeMap::new()),
            other: OnceLock::new(),
            cap,
        }
    }

    /// Adds `n` to the counter for `key`. `series` hands out the family's counter for a label
    /// value (the key's text, or `other`); it runs once per kept key and once for `other`.
    pub fn add<Q>(&self, key: &Q, n: u64, series: impl FnOnce(&str) -> Counter)
    where
        K: Borrow<Q>,
        Q: Ord + Display + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(counter) = read(&self.counters).get(key) {
            counter.inc_by(n);
            return;
        }
        let mut counters = write(&self.counters);
        // Checked again under the write lock: another thread may have added the key meanwhile.
        if let Some(counter) = counters.get(key) {
            counter.inc_by(n);
        } else if counters.len() < self.cap {
            let counter = series(&key.to_string());
            counter.inc_by(n);
            counters.insert(key.to_owned(), counter);
        } else {
            drop(counters);
            self.other.get_or_init(|| series("other")).inc_by(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_goes_to_other_and_known_keys_keep_counting() {
        let made = RwLock::new(Vec::new());
        let series = |label: &str| {
            let counter = Counter::default();
            write(&made).push((label.to_string(), counter.clone()));
            counter
        };
        let capped: Capped<String> = Capped::new(2);
        capped.add("a", 1, series);
        capped.add("b", 1, series);
        capped.add("c", 5, series);
        capped.add("d", 1, series);
        capped.add("a", 1, series);
        let made: Vec<(String, u64)> = read(&made)
            .iter()
            .map(|(label, counter)| (label.clone(), counter.get()))
            .collect();
        let expected = [("a", 2), ("b", 1), ("other", 6)].map(|(l, n)| (l.to_string(), n));
        assert_eq!(made, expected);
    }

    #[test]
    fn table_makes_an_entry_once() {
        let table: Table<Counter> = Table::default();
        table.with("x", Counter::default, |c| c.inc());
        table.with("x", || unreachable!("made twice"), |c| c.inc());
        let mut seen = Vec::new();
        table.for_each(|name, c| seen.push((name.to_string(), c.get())));
        assert_eq!(seen, [("x".to_string(), 2)]);
    }
}
