//! Per-thread reuse of the per-replicate lineage buffers (counts, cell lists, barcode and clone
//! ids), and a per-thread tally of zeros for counting cell lists at snapshots: a tracked replicate of 10^4 lineages would otherwise take fresh pages for a few hundred
//! kilobytes, and fault them in, for every replicate. A buffer taken here is empty (its old
//! contents are cleared); the tracker gives its buffers back when its replicate finishes. Only
//! capacity is reused, so results do not depend on it.

use std::cell::RefCell;

/// The most buffers of one kind kept per thread (a replicate uses a few per state).
const KEEP: usize = 32;

/// A kind of buffer kept per thread.
pub(crate) trait Pooled: Sized + 'static {
    fn with_pool<F: FnOnce(&mut Vec<Vec<Self>>) -> R, R>(f: F) -> R;
}

macro_rules! pooled {
    ($t:ty) => {
        impl Pooled for $t {
            fn with_pool<F: FnOnce(&mut Vec<Vec<Self>>) -> R, R>(f: F) -> R {
                thread_local! {
                    static POOL: RefCell<Vec<Vec<$t>>> = const { RefCell::new(Vec::new()) };
                }
                POOL.with(|pool| f(&mut pool.borrow_mut()))
            }
        }
    };
}

pooled!(u64);
pooled!(u32);
pooled!(i64);

/// An empty buffer, with the capacity of one given back earlier on this thread if any.
pub(crate) fn take<T: Pooled>() -> Vec<T> {
    T::with_pool(Vec::pop).unwrap_or_default()
}

/// Keep `buffer`'s capacity for a later [`take`] on this thread.
pub(crate) fn give<T: Pooled>(mut buffer: Vec<T>) {
    if buffer.capacity() == 0 {
        return;
    }
    buffer.clear();
    T::with_pool(|pool| {
        if pool.len() < KEEP {
            pool.push(buffer);
        }
    });
}

/// Run `f` on `n` zeros of a per-thread tally, which `f` must leave all 0 again (it counts into
/// it and takes each counted entry back): counting then costs nothing per entry not counted.
/// The tally only grows.
pub(crate) fn with_zeros<R>(n: usize, f: impl FnOnce(&mut [u64]) -> R) -> R {
    thread_local! {
        static ZEROS: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }
    ZEROS.with(|zeros| {
        let mut zeros = zeros.borrow_mut();
        if zeros.len() < n {
            zeros.resize(n, 0);
        }
        let result = f(&mut zeros[..n]);
        debug_assert!(zeros[..n].iter().all(|&c| c == 0), "a tally left non-zero");
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty() {
        let mut v: Vec<u32> = take();
        v.extend([1, 2, 3]);
        let capacity = v.capacity();
        give(v);
        let again: Vec<u32> = take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity);
        give(Vec::<u32>::new());
        let fresh: Vec<u32> = take();
        assert_eq!(fresh.capacity(), 0);
    }
}
