//! An output buffer of one row per replicate whose rows are cleared as they are handed out, by
//! the thread that goes on to write them (in the SIMD lanes, as their replicates are taken from
//! the queue: at most a batch of replicates ahead).
//!
//! Clearing the whole buffer up front, even on every thread of the pool, is a pass over memory
//! that does not scale with threads (it is bound by memory bandwidth: 1.4–1.6 ms for benchmark
//! case (c)'s 15 MB of counts on one thread or two), and the replicates' own writes pay for it
//! again once the buffer has left the cache. A row cleared just before its replicate runs stays
//! in the cache until the replicate writes it.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

/// `n_rows` rows of `row` values each, cleared as they are handed out (once: by
/// [`Self::rows_mut`] or [`Self::par_rows_mut`]), read back by [`Self::into_values`] once every
/// row was handed out.
pub(crate) struct Rows<T> {
    values: Vec<MaybeUninit<T>>,
    row: usize,
    /// Whether the rows were handed out already.
    handed: bool,
    /// How many rows were cleared, counted as each iterator that handed them out (or each
    /// rayon task's share of one) is dropped.
    cleared: AtomicUsize,
}

impl<T: Copy + Default + Send> Rows<T> {
    /// Room for `n_rows` rows of `row >= 1` values; `None` if the size overflows or the system
    /// refuses the memory.
    pub fn new(n_rows: usize, row: usize) -> Option<Self> {
        assert!(row >= 1, "rows hold at least one value");
        let len = n_rows.checked_mul(row)?;
        let mut values = Vec::new();
        values.try_reserve_exact(len).ok()?;
        // SAFETY: the capacity is reserved, and uninitialised `MaybeUninit`s are valid values.
        unsafe { values.set_len(len) };
        Some(Self {
            values,
            row,
            handed: false,
            cleared: AtomicUsize::new(0),
        })
    }

    /// Every row in order, each cleared (every value `T::default()`) as it is handed out.
    pub fn rows_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [T]> + Send {
        self.hand_out();
        let mut tally = Tally::new(&self.cleared);
        self.values.chunks_mut(self.row).map(move |row| {
            // The whole tally moves into the closure (not just its count), to be dropped with it.
            let tally = &mut tally;
            let row = clear(row);
            tally.rows += 1;
            row
        })
    }

    /// [`Self::rows_mut`] over the current rayon pool: each row cleared by the thread it goes
    /// to.
    pub fn par_rows_mut(&mut self) -> impl IndexedParallelIterator<Item = &mut [T]> {
        self.hand_out();
        let cleared = &self.cleared;
        self.values.par_chunks_mut(self.row).map_init(
            || Tally::new(cleared),
            |tally, row| {
                let row = clear(row);
                tally.rows += 1;
                row
            },
        )
    }

    fn hand_out(&mut self) {
        assert!(!self.handed, "the rows of an output are handed out once");
        self.handed = true;
    }

    /// The values, rows in order, if every row was handed out.
    pub fn into_values(self) -> Option<Vec<T>> {
        if self.cleared.load(Ordering::Acquire) != self.values.len() / self.row {
            return None;
        }
        let mut values = std::mem::ManuallyDrop::new(self.values);
        let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
        // SAFETY: every row was handed out once (`hand_out`), and so cleared: every value is
        // initialised; `MaybeUninit<T>` has the size and alignment of `T`, so the allocation
        // is one of `capacity` `T`s.
        Some(unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, capacity) })
    }
}

/// Rows one thread cleared, added to the output's count when the thread is done with them
/// (one atomic add per thread's share, not per row).
struct Tally<'a> {
    cleared: &'a AtomicUsize,
    rows: usize,
}

impl<'a> Tally<'a> {
    fn new(cleared: &'a AtomicUsize) -> Self {
        Self { cleared, rows: 0 }
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.cleared.fetch_add(self.rows, Ordering::Release);
    }
}

/// Set every value of `row` to `T::default()`, and see it as initialised.
fn clear<T: Copy + Default>(row: &mut [MaybeUninit<T>]) -> &mut [T] {
    row.fill(MaybeUninit::new(T::default()));
    // SAFETY: every value of `row` was just written, and `MaybeUninit<T>` has the layout of `T`.
    unsafe { &mut *(std::ptr::from_mut(row) as *mut [T]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cleared_as_they_are_handed_out() {
        let mut rows = Rows::<i64>::new(5, 3).expect("small");
        for (i, row) in rows.rows_mut().enumerate() {
            assert_eq!(row, [0, 0, 0]);
            row[i % 3] = i as i64 + 1;
        }
        let values = rows.into_values().expect("every row handed out");
        assert_eq!(values, [1, 0, 0, 0, 2, 0, 0, 0, 3, 4, 0, 0, 0, 5, 0]);
    }

    #[test]
    fn rows_are_cleared_by_the_pool_too() {
        let mut rows = Rows::<f64>::new(1000, 7).expect("small");
        rows.par_rows_mut().enumerate().for_each(|(i, row)| {
            assert!(row.iter().all(|&x| x == 0.0));
            row[6] = i as f64;
        });
        let values = rows.into_values().expect("every row handed out");
        assert!((0..1000).all(|i| values[7 * i + 6] == i as f64 && values[7 * i] == 0.0));
    }

    #[test]
    fn rows_not_all_handed_out_are_not_read() {
        let mut rows = Rows::<i64>::new(5, 3).expect("small");
        for row in rows.rows_mut().take(4) {
            row[0] = 1;
        }
        assert!(rows.into_values().is_none());
        let mut rows = Rows::<i64>::new(0, 3).expect("empty");
        assert_eq!(rows.rows_mut().count(), 0);
        assert_eq!(rows.into_values(), Some(vec![]));
    }

    #[test]
    #[should_panic(expected = "handed out once")]
    fn rows_are_handed_out_once() {
        let mut rows = Rows::<i64>::new(2, 1).expect("small");
        rows.rows_mut().for_each(drop);
        let _ = rows.rows_mut();
    }

    #[test]
    fn an_overflowing_size_is_refused() {
        assert!(Rows::<i64>::new(usize::MAX, 2).is_none());
    }
}
