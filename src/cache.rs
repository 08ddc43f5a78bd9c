//! A node-local cache of what every request would otherwise read from Redis
//! or Postgres (live sessions, what a pairing needs of a user). Entries live
//! `ttl` at most, which bounds how stale one can be if an invalidation is
//! missed; writes invalidate them at once on this node, and on the others
//! through the event bus (`realtime::bus::invalidate`).
//!
//! A value read before a write and stored after that write's invalidation
//! would undo it; so a reader takes a `Ticket` before reading, and its value
//! is kept only if nothing was invalidated meanwhile.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LocalCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    ttl: Duration,
    capacity: usize,
}

struct Inner<K, V> {
    entries: HashMap<K, (V, Instant)>,
    /// Bumped by every invalidation.
    generation: u64,
}

/// When a reader started reading (see the module's doc).
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl<K: Hash + Eq, V: Clone> LocalCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        LocalCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                generation: 0,
            }),
            ttl,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value, if cached less than `ttl` ago; else a ticket to store what
    /// the caller reads instead.
    pub fn get<Q>(&self, key: &Q) -> Result<V, Ticket>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.lock();
        match inner.entries.get(key) {
            Some((v, at)) if at.elapsed() < self.ttl => Ok(v.clone()),
            _ => Err(Ticket(inner.generation)),
        }
    }

    /// Stores what was read after `ticket`, unless something was invalidated since.
    pub fn insert(&self, ticket: Ticket, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.entries.len() >= self.capacity {
            // full: drop what is stale, and everything if that is not enough
            let ttl = self.ttl;
            inner.entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if inner.entries.len() >= self.capacity {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key, (value, Instant::now()));
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(key);
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_are_removed_and_stay_bounded() {
        let cache = LocalCache::new(Duration::from_millis(50), 3);
        let ticket = cache.get(&1).unwrap_err();
        cache.insert(ticket, 1, "a");
        assert_eq!(cache.get(&1).ok(), Some("a"));
        cache.remove(&1);
        assert!(cache.get(&1).is_err());
        let ticket = cache.get(&2).unwrap_err();
        cache.insert(ticket, 2, "b");
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&2).is_err(), "stale");
        for k in 10..20 {
            let ticket = cache.get(&k).unwrap_err();
            cache.insert(ticket, k, "x");
        }
        assert!(cache.lock().entries.len() <= 3);
        let off = LocalCache::new(Duration::ZERO, 3);
        let ticket = off.get(&1).unwrap_err();
        off.insert(ticket, 1, "a");
        assert!(off.get(&1).is_err(), "a zero ttl caches nothing");
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let cache = LocalCache::new(Duration::from_secs(60), 10);
        let ticket = cache.get(&1).unwrap_err();
        // a write lands and is invalidated while the reader reads the old value
        cache.remove(&1);
        cache.insert(ticket, 1, "old");
        assert!(cache.get(&1).is_err());
        cache.clear();
        let ticket = cache.get(&1).unwrap_err();
        cache.insert(ticket, 1, "new");
        assert_eq!(cache.get(&1).ok(), Some("new"));
    }
}
