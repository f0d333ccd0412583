//! A process-wide cache of step laws ([`StepLaw`]: the Riccati solve and the offspring tables),
//! shared by every engine call of the process.
//!
//! A streamed or Dask run calls the engine once per block of replicates, and every call needs the
//! same laws (the 60-day scenario of `docs/jumps.md` builds about 0.6 s of tables). Within a call
//! the laws are shared by every replicate and thread; this cache shares them across calls too.
//!
//! **The key** is everything a law depends on, bit for bit: the linear rates under the exposure
//! (per type, every channel's rate bits, the cells that replace the firing cell and whether it
//! emits), the step length's bits, the tables' tail tolerance and the event-regime threshold. A
//! changed rate, step, tolerance or threshold is another key, never a stale entry. If a law
//! comes to depend on another input (an argument of [`StepLaw::new`]), it must join the key.
//!
//! **Deterministic.** A law is a deterministic function of its key, and its tables (built on
//! first use) consume no random numbers, so a run draws exactly the same numbers with the cache
//! cold or warm: results are bit-identical either way. Two calls that build the same law at once
//! both build it; the first to insert it wins and both use that one.
//!
//! **Bounded.** The cache holds at most [`MAX_LAWS`] laws and, after each insertion, at most its
//! budget of bytes ([`DEFAULT_BUDGET_BYTES`], settable with [`LawCache::set_budget`]), counted as
//! the solves and the tables built so far (tables built after an insertion are counted at the
//! next one). Past either bound it evicts the least recently used laws; a law evicted while a
//! run uses it lives on in that run (it is shared by reference) and is freed when the run ends.
//! A budget of 0 keeps nothing: every call builds its own laws, as before the cache.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use super::JumpError;
use super::linear::LinearRates;
use super::step::StepLaw;

/// The default budget: 256 MiB of solves and tables.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;
/// At most this many laws (bounds the bookkeeping of a density-dependent run's many laws).
pub const MAX_LAWS: usize = 4096;

/// Everything a [`StepLaw`] depends on, bit for bit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LawKey {
    /// Per type: the channel count, then per channel the rate's bits, the cells after it (count
    /// first) and whether it emits.
    rates: Vec<u64>,
    duration: u64,
    tolerance: u64,
    threshold: u64,
}

impl LawKey {
    fn new(rates: &LinearRates, duration: f64, tolerance: f64, threshold: f64) -> Self {
        let mut words = vec![rates.n_types() as u64];
        for x in 0..rates.n_types() {
            let channels = rates.channels(x);
            words.push(channels.len() as u64);
            for channel in channels {
                words.push(channel.rate.to_bits());
                words.push(channel.after().len() as u64);
                words.extend(channel.after().iter().map(|&y| y as u64));
                words.push(u64::from(channel.emits));
            }
        }
        Self {
            rates: words,
            duration: duration.to_bits(),
            tolerance: tolerance.to_bits(),
            threshold: threshold.to_bits(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    law: Arc<StepLaw>,
    /// The cache's clock at the last lookup (least recently used goes first).
    used: u64,
}

#[derive(Debug, Default)]
struct Laws {
    entries: HashMap<LawKey, Entry>,
    budget: usize,
    clock: u64,
    hits: u64,
    misses: u64,
}

impl Laws {
    fn bytes(&self) -> usize {
        self.entries.values().map(|e| e.law.heap_bytes()).sum()
    }

    /// Evict the least recently used laws until the bounds hold.
    fn evict(&mut self) {
        let mut bytes = self.bytes();
        while !self.entries.is_empty() && (bytes > self.budget || self.entries.len() > MAX_LAWS) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            let Some(entry) = oldest.and_then(|k| self.entries.remove(&k)) else {
                return;
            };
            bytes -= entry.law.heap_bytes().min(bytes);
        }
    }
}

/// What the cache holds and how it served (for tests and benchmarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    pub laws: usize,
    pub bytes: usize,
    pub budget: usize,
    pub hits: u64,
    pub misses: u64,
}

/// A bounded cache of step laws, safe to share between threads.
#[derive(Debug)]
pub struct LawCache(Mutex<Laws>);

impl LawCache {
    /// An empty cache of `budget` bytes.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self(Mutex::new(Laws {
            budget,
            ..Laws::default()
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Laws> {
        // The map is never left half-updated by a panic (no user code runs under the lock).
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The law of a step of length `duration` under `rates` (see [`StepLaw::new`]): the cached
    /// one if there is one for exactly these inputs, else a new one, cached. Errors are not
    /// cached.
    pub fn step_law(
        &self,
        rates: LinearRates,
        duration: f64,
        tolerance: f64,
        threshold: f64,
    ) -> Result<Arc<StepLaw>, JumpError> {
        let key = LawKey::new(&rates, duration, tolerance, threshold);
        {
            let mut laws = self.lock();
            laws.clock += 1;
            let now = laws.clock;
            if let Some(entry) = laws.entries.get_mut(&key) {
                entry.used = now;
                let law = Arc::clone(&entry.law);
                laws.hits += 1;
                return Ok(law);
            }
        }
        // Built without the lock: other calls keep using the cache meanwhile.
        let built = Arc::new(StepLaw::new(rates, duration, tolerance, threshold)?);
        let mut laws = self.lock();
        laws.misses += 1;
        laws.clock += 1;
        let used = laws.clock;
        let law = Arc::clone(
            &laws
                .entries
                .entry(key)
                .or_insert(Entry { law: built, used })
                .law,
        );
        laws.evict();
        Ok(law)
    }

    /// Set the budget in bytes (evicting down to it); 0 keeps nothing.
    pub fn set_budget(&self, bytes: usize) {
        let mut laws = self.lock();
        laws.budget = bytes;
        laws.evict();
    }

    /// Drop every law (runs using one keep it until they end).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// What the cache holds and its hits and misses so far.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let laws = self.lock();
        CacheStats {
            laws: laws.entries.len(),
            bytes: laws.bytes(),
            budget: laws.budget,
            hits: laws.hits,
            misses: laws.misses,
        }
    }
}

/// The cache of the process, used by every jump run.
pub static LAWS: LazyLock<LawCache> = LazyLock::new(|| LawCache::new(DEFAULT_BUDGET_BYTES));

/// [`LawCache::step_law`] of the process's cache.
pub fn step_law(
    rates: LinearRates,
    duration: f64,
    tolerance: f64,
    threshold: f64,
) -> Result<Arc<StepLaw>, JumpError> {
    LAWS.step_law(rates, duration, tolerance, threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jump::LinearChannel;

    /// Birth–death with a mutant division: one type that can leave a second.
    fn rates(birth: f64) -> LinearRates {
        LinearRates::new(vec![
            vec![
                LinearChannel::new(birth, &[0, 0], false).unwrap(),
                LinearChannel::new(0.3, &[], false).unwrap(),
                LinearChannel::new(1e-3, &[0, 1], true).unwrap(),
            ],
            vec![LinearChannel::new(0.2, &[1, 1], false).unwrap()],
        ])
        .unwrap()
    }

    #[test]
    fn the_same_inputs_share_a_law_and_any_changed_bit_builds_another() {
        let cache = LawCache::new(DEFAULT_BUDGET_BYTES);
        let law = cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        let again = cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        assert!(Arc::ptr_eq(&law, &again));
        let nudged = f64::from_bits(1.0f64.to_bits() + 1);
        for other in [
            cache.step_law(rates(nudged), 0.5, 1e-20, 10.0).unwrap(),
            cache
                .step_law(rates(1.0), 0.5 + 1e-16, 1e-20, 10.0)
                .unwrap(),
            cache.step_law(rates(1.0), 0.5, 1e-19, 10.0).unwrap(),
            cache.step_law(rates(1.0), 0.5, 1e-20, 11.0).unwrap(),
        ] {
            assert!(!Arc::ptr_eq(&law, &other));
        }
        let stats = cache.stats();
        assert_eq!((stats.laws, stats.hits, stats.misses), (5, 1, 5));
    }

    #[test]
    fn the_budget_evicts_the_least_recently_used() {
        let cache = LawCache::new(DEFAULT_BUDGET_BYTES);
        let first = cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        first.table(0).unwrap();
        let one = first.heap_bytes();
        cache.step_law(rates(1.1), 0.5, 1e-20, 10.0).unwrap();
        // Use the first again: the second is now the least recently used.
        cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        cache.set_budget(one);
        let stats = cache.stats();
        assert_eq!(stats.laws, 1);
        assert!(stats.bytes <= one);
        let kept = cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        assert!(Arc::ptr_eq(&first, &kept));
        cache.set_budget(0);
        assert_eq!(cache.stats().laws, 0);
        // Nothing kept: each lookup builds afresh.
        let a = cache.step_law(rates(1.0), 0.5, 1e-20, 10.0).unwrap();
        assert!(!Arc::ptr_eq(&first, &a));
        assert_eq!(cache.stats().laws, 0);
    }

    #[test]
    fn errors_are_not_cached() {
        let cache = LawCache::new(DEFAULT_BUDGET_BYTES);
        assert!(cache.step_law(rates(1.0), -1.0, 1e-20, 10.0).is_err());
        assert_eq!(cache.stats().laws, 0);
    }
}
