//! A map that keeps its entries in order of last use and knows their
//! weight (estimated bytes), for caches bounded by memory: the engine's
//! loaded documents ([`crate::engine::cache`]) and the reads a node keeps
//! of a shared store ([`crate::storage::read_cache`]).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

struct Held<V> {
    value: V,
    weight: u64,
    tick: u64,
}

/// Entries by key, least recently used first, with their total weight.
pub struct WeightedLru<K, V> {
    entries: HashMap<K, Held<V>>,
    /// Keys by the tick of their last use.
    order: BTreeMap<u64, K>,
    tick: u64,
    weight: u64,
}

impl<K, V> Default for WeightedLru<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            weight: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> WeightedLru<K, V> {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value of `key`, marked as used now.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let tick = self.next_tick();
        let held = self.entries.get_mut(key)?;
        let old = std::mem::replace(&mut held.tick, tick);
        self.order.remove(&old);
        self.order.insert(tick, key.clone());
        Some(&held.value)
    }

    /// Whether `key` is held (without marking it used).
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Holds `value` under `key` as the most recently used, replacing what
    /// was there.
    pub fn insert(&mut self, key: K, value: V, weight: u64) {
        self.remove(&key);
        let tick = self.next_tick();
        self.order.insert(tick, key.clone());
        self.weight += weight;
        self.entries.insert(
            key,
            Held {
                value,
                weight,
                tick,
            },
        );
    }

    /// Changes the weight of `key`, if held.
    pub fn reweigh(&mut self, key: &K, weight: u64) {
        if let Some(held) = self.entries.get_mut(key) {
            let old = std::mem::replace(&mut held.weight, weight);
            self.weight = self.weight - old + weight;
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let held = self.entries.remove(key)?;
        self.order.remove(&held.tick);
        self.weight -= held.weight;
        Some(held.value)
    }

    /// Drops the least recently used entries until the total weight is at
    /// most `budget`, never `spare` (kept as the most recently used) and
    /// never the last entry.
    pub fn evict_to(&mut self, budget: u64, spare: Option<&K>) {
        while self.weight > budget && self.entries.len() > 1 {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if spare == Some(&oldest) {
                let tick = self.next_tick();
                self.order.insert(tick, oldest.clone());
                if let Some(held) = self.entries.get_mut(&oldest) {
                    held.tick = tick;
                }
                continue;
            }
            if let Some(held) = self.entries.remove(&oldest) {
                self.weight -= held.weight;
            }
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.weight = 0;
    }

    /// The total weight held.
    pub fn weight(&self) -> u64 {
        self.weight
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_go_first_and_the_spared_one_stays() {
        let mut lru = WeightedLru::default();
        for n in 0..10u32 {
            lru.insert(n, n, 10);
        }
        assert_eq!(lru.weight(), 100);
        assert_eq!(lru.get(&0), Some(&0));
        lru.evict_to(50, Some(&1));
        assert_eq!(lru.weight(), 50);
        for kept in [0, 1, 7, 8, 9] {
            assert!(lru.contains(&kept), "{kept}");
        }
        lru.reweigh(&9, 30);
        assert_eq!(lru.weight(), 70);
        assert_eq!(lru.remove(&9), Some(9));
        assert_eq!(lru.weight(), 40);
        // The last entry stays, whatever it weighs.
        lru.clear();
        lru.insert(1, 1, 500);
        lru.evict_to(10, None);
        assert_eq!(lru.len(), 1);
    }
}
