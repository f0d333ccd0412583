//! The cells of one state, per lineage, as a Fenwick (binary indexed) tree.
//!
//! Lineage `id` (0-based) is node `id + 1` of the tree; node `i` holds the sum of the counts of
//! lineages `i - lowbit(i) .. i` (0-based, half-open), where `lowbit(i)` is `i`'s lowest set bit.
//! Adding to a lineage updates the O(log B) nodes covering it; the r-th cell is found by one
//! descent from the highest power of two, also O(log B). A plain array of counts is kept beside
//! the tree so that `count` is O(1) and a removal can be refused before anything changes.

use rand::Rng;

use super::LineageError;
use super::stream::uniform_below;

/// The number of cells of each lineage in one cell state (module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineageCounts {
    /// `counts[id]`: the cells of lineage `id`.
    counts: Vec<u64>,
    /// Fenwick nodes, 1-based: `tree[0]` is unused and stays 0.
    tree: Vec<u64>,
    /// The sum of `counts`.
    total: u64,
}

/// The lowest set bit of `i` (`i > 0`).
#[inline]
fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl LineageCounts {
    /// No lineages.
    #[must_use]
    pub fn new() -> Self {
        Self {
            counts: Vec::new(),
            tree: vec![0],
            total: 0,
        }
    }

    /// Lineages `0..counts.len()` holding `counts` cells, built in O(B). `Err(Overflow)` if the
    /// total passes `u64::MAX`; `Err(TooManyLineages)` past 2^32 lineages.
    pub fn from_counts(counts: &[u64]) -> Result<Self, LineageError> {
        if counts.len() as u64 > 1 << 32 {
            return Err(LineageError::TooManyLineages);
        }
        let mut total = 0u64;
        for (id, &count) in counts.iter().enumerate() {
            total = total.checked_add(count).ok_or(LineageError::Overflow {
                id: id as u32,
                count,
                delta: 0,
            })?;
        }
        let n = counts.len();
        let mut tree = Vec::with_capacity(n + 1);
        tree.push(0);
        tree.extend_from_slice(counts);
        // Each node passes its sum up to its parent; every partial sum is at most `total`.
        for i in 1..=n {
            let parent = i + lowbit(i);
            if parent <= n {
                tree[parent] += tree[i];
            }
        }
        Ok(Self {
            counts: counts.to_vec(),
            tree,
            total,
        })
    }

    /// The number of lineages (including those with no cell).
    #[must_use]
    pub fn n_lineages(&self) -> usize {
        self.counts.len()
    }

    /// The cells of all lineages together.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The cells of each lineage, by id.
    #[must_use]
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The cells of lineage `id`.
    pub fn count(&self, id: u32) -> Result<u64, LineageError> {
        self.counts
            .get(id as usize)
            .copied()
            .ok_or_else(|| self.unknown(id))
    }

    fn unknown(&self, id: u32) -> LineageError {
        LineageError::UnknownLineage {
            id: u64::from(id),
            n_lineages: self.counts.len(),
        }
    }

    /// Add `delta` cells (negative: remove) to lineage `id`. Refused, with nothing changed, for an
    /// unknown lineage, a count that would go below 0 (`BelowZero`) or a count or total past
    /// `u64::MAX` (`Overflow`).
    pub fn add(&mut self, id: u32, delta: i64) -> Result<(), LineageError> {
        let index = id as usize;
        let Some(&count) = self.counts.get(index) else {
            return Err(self.unknown(id));
        };
        let Some(new_count) = count.checked_add_signed(delta) else {
            return Err(if delta < 0 {
                LineageError::BelowZero { id, count, delta }
            } else {
                LineageError::Overflow { id, count, delta }
            });
        };
        // The total is at least `count`, so it can only overflow (not go below 0) here.
        let new_total = self
            .total
            .checked_add_signed(delta)
            .ok_or(LineageError::Overflow { id, count, delta })?;
        self.counts[index] = new_count;
        self.total = new_total;
        // Two's-complement addition: every node ends in range, as it is a sum of counts.
        let step = delta as u64;
        let mut node = index + 1;
        while node < self.tree.len() {
            self.tree[node] = self.tree[node].wrapping_add(step);
            node += lowbit(node);
        }
        Ok(())
    }

    /// A new lineage holding `initial` cells; returns its id (the next in order). Amortised
    /// O(log B): the new node sums the nodes it covers. Refused past 2^32 lineages or a total past
    /// `u64::MAX`, with nothing changed.
    pub fn push_lineage(&mut self, initial: u64) -> Result<u32, LineageError> {
        let id = u32::try_from(self.counts.len()).map_err(|_| LineageError::TooManyLineages)?;
        let total = self
            .total
            .checked_add(initial)
            .ok_or(LineageError::Overflow {
                id,
                count: 0,
                delta: initial as i64,
            })?;
        let node = self.counts.len() + 1;
        // Node `node` covers lineages node - lowbit(node) .. node: itself plus the nodes below
        // it that cover the rest (node - 1, then down by each one's lowbit).
        let mut sum = initial;
        let mut child = node - 1;
        while child > node - lowbit(node) {
            sum += self.tree[child];
            child -= lowbit(child);
        }
        self.counts.push(initial);
        self.tree.push(sum);
        self.total = total;
        Ok(id)
    }

    /// The lineage holding the r-th cell (0-based) when the cells are listed lineage by lineage
    /// in id order: the `id` with `cells(< id) <= r < cells(<= id)`, so it always has a cell.
    /// O(log B). `Err(PickOutOfRange)` unless `r < total`.
    pub fn pick(&self, r: u64) -> Result<u32, LineageError> {
        if r >= self.total {
            return Err(LineageError::PickOutOfRange {
                r,
                total: self.total,
            });
        }
        let n = self.counts.len();
        // n > 0 here, since the total is positive.
        let mut step = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let (mut node, mut rest) = (0usize, r);
        while step > 0 {
            let next = node + step;
            if next <= n && self.tree[next] <= rest {
                node = next;
                rest -= self.tree[next];
            }
            step >>= 1;
        }
        // Lineages 0..node hold at most r cells together, 0..=node more: the cell is in `node`
        // (0-based id = 1-based node + 1 - 1).
        Ok(node as u32)
    }

    /// The lineage of a cell chosen uniformly among all cells: [`pick`](Self::pick) of an exactly
    /// uniform index drawn from `rng` (one draw, rarely more). `Err(Empty)` with no cell.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<u32, LineageError> {
        self.pick(uniform_below(rng, self.total)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lineage of the r-th cell, by a linear scan.
    fn naive_pick(counts: &[u64], r: u64) -> u32 {
        let mut below = 0;
        for (id, &c) in counts.iter().enumerate() {
            below += c;
            if r < below {
                return id as u32;
            }
        }
        unreachable!("r < total")
    }

    #[test]
    fn every_index_maps_to_its_lineage_for_every_small_shape() {
        // All count vectors of up to 6 lineages with counts 0..=3, built both ways.
        for n in 0..=6u32 {
            for code in 0..4u32.pow(n) {
                let counts: Vec<u64> = (0..n).map(|i| u64::from(code / 4u32.pow(i) % 4)).collect();
                let built = LineageCounts::from_counts(&counts).unwrap();
                let mut grown = LineageCounts::new();
                for &c in &counts {
                    grown.push_lineage(c).unwrap();
                }
                assert_eq!(built, grown, "{counts:?}");
                let total: u64 = counts.iter().sum();
                assert_eq!(built.total(), total);
                for r in 0..total {
                    assert_eq!(
                        built.pick(r),
                        Ok(naive_pick(&counts, r)),
                        "{counts:?} r={r}"
                    );
                }
                assert_eq!(
                    built.pick(total),
                    Err(LineageError::PickOutOfRange { r: total, total })
                );
            }
        }
    }

    #[test]
    fn bad_operations_are_refused_and_change_nothing() {
        let mut c = LineageCounts::from_counts(&[2, 0, 5]).unwrap();
        let before = c.clone();
        assert_eq!(
            c.add(1, -1),
            Err(LineageError::BelowZero {
                id: 1,
                count: 0,
                delta: -1
            })
        );
        assert_eq!(
            c.add(3, 1),
            Err(LineageError::UnknownLineage {
                id: 3,
                n_lineages: 3
            })
        );
        assert_eq!(c.add(0, -3).unwrap_err().to_string(), {
            "lineage 0 has 2 cells; adding -3 would leave fewer than 0"
        });
        assert!(matches!(
            c.add(2, i64::MAX).and_then(|()| c.add(2, i64::MAX)),
            Err(LineageError::Overflow { .. })
        ));
        c.add(2, -i64::MAX).unwrap();
        assert_eq!(c, before);
        assert!(matches!(
            c.count(7),
            Err(LineageError::UnknownLineage { .. })
        ));
        assert!(matches!(
            c.push_lineage(u64::MAX),
            Err(LineageError::Overflow { .. })
        ));
        assert_eq!(c, before);
        assert!(LineageCounts::from_counts(&[u64::MAX, 1]).is_err());
        let empty = LineageCounts::new();
        assert_eq!(
            empty.pick(0),
            Err(LineageError::PickOutOfRange { r: 0, total: 0 })
        );
        let mut rng = crate::lineage::lineage_rng(&[0; 32], 0);
        assert_eq!(empty.sample(&mut rng), Err(LineageError::Empty));
    }

    #[test]
    fn adding_and_removing_keep_picks_exact() {
        let mut c = LineageCounts::from_counts(&[1, 1, 1, 1, 1, 1, 1]).unwrap();
        c.add(3, 4).unwrap();
        c.add(0, -1).unwrap();
        c.push_lineage(2).unwrap();
        c.add(6, -1).unwrap();
        let counts = [0, 1, 1, 5, 1, 1, 0, 2];
        assert_eq!(c.counts(), counts);
        assert_eq!(c, LineageCounts::from_counts(&counts).unwrap());
        for r in 0..c.total() {
            assert_eq!(c.pick(r), Ok(naive_pick(&counts, r)));
        }
    }
}
