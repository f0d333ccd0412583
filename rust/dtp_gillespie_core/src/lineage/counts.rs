//! The cells of one state, per lineage, as a Fenwick (binary indexed) tree over blocks of
//! lineages.
//!
//! Lineages are grouped in blocks of [`BLOCK`] consecutive ids (8 counts: one 64-byte cache
//! line); block `k` (0-based) is node `k + 1` of a Fenwick tree, where node `i` holds the cells of
//! blocks `i - lowbit(i) .. i` (half-open) and `lowbit(i)` is `i`'s lowest set bit. Adding to a
//! lineage changes its count and the O(log B) nodes covering its block. The r-th cell is found by
//! one descent of the tree, from its top power of two down, to the block holding it (O(log B)),
//! then a scan of that block's at most 8 counts. Blocks make the tree 8 times smaller than one
//! node per lineage, so that at 10⁴ lineages it fits in the L1 cache (measured by
//! `benches/benches/lineage.rs`).
//!
//! The tree is padded to a power of two with nodes of `u64::MAX`, which the descent never takes
//! (no count of cells reaches them), so that it runs without a bounds test per level; growing past
//! the padding doubles it (amortised O(1) per new block).

use rand::Rng;

use super::LineageError;
use super::stream::uniform_below;

/// Lineages per block of the tree.
pub const BLOCK: usize = 8;

/// A padding node: larger than any index the descent compares it with.
const PAD: u64 = u64::MAX;

/// The number of cells of each lineage in one cell state (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineageCounts {
    /// `counts[id]`: the cells of lineage `id`.
    counts: Vec<u64>,
    /// Fenwick nodes over blocks, 1-based: `tree[0]` is unused and stays 0; nodes past the last
    /// block up to the top power of two are [`PAD`].
    tree: Vec<u64>,
    /// The sum of `counts`.
    total: u64,
}

impl Default for LineageCounts {
    fn default() -> Self {
        Self::new()
    }
}

/// The lowest set bit of `i` (`i > 0`).
#[inline]
fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

/// The number of blocks that hold `n` lineages.
#[inline]
fn blocks_for(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

/// The padded tree size for `n_blocks` blocks: the top power of two (0 for no block).
#[inline]
fn top_for(n_blocks: usize) -> usize {
    if n_blocks == 0 {
        0
    } else {
        n_blocks.next_power_of_two()
    }
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

    /// Lineages `0..counts.len()` holding `counts` cells, built in O(B). `Err(TotalTooLarge)`
    /// (naming state 0: [`Lineages`](super::Lineages) names the state) if the total passes
    /// `u64::MAX`; `Err(TooManyLineages)` past 2^32 lineages.
    pub fn from_counts(counts: &[u64]) -> Result<Self, LineageError> {
        if counts.len() as u64 > 1 << 32 {
            return Err(LineageError::TooManyLineages);
        }
        let total = counts
            .iter()
            .try_fold(0u64, |sum, &count| sum.checked_add(count))
            .ok_or(LineageError::TotalTooLarge { state: 0 })?;
        let n_blocks = blocks_for(counts.len());
        let mut tree = vec![PAD; top_for(n_blocks) + 1];
        tree[0] = 0;
        for (k, block) in counts.chunks(BLOCK).enumerate() {
            tree[k + 1] = block.iter().sum();
        }
        // Each node passes its sum up to its parent; every partial sum is at most `total`.
        for i in 1..=n_blocks {
            let parent = i + lowbit(i);
            if parent <= n_blocks {
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
            id,
            n_lineages: self.counts.len(),
        }
    }

    /// Add `step` (a two's-complement delta) to the nodes covering block `block`, up to the last
    /// real block (the padding stays as it is).
    #[inline]
    fn add_to_nodes(&mut self, block: usize, step: u64) {
        let n_blocks = blocks_for(self.counts.len());
        let mut node = block + 1;
        while node <= n_blocks {
            self.tree[node] = self.tree[node].wrapping_add(step);
            node += lowbit(node);
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
                LineageError::Overflow {
                    id,
                    count,
                    delta: delta.into(),
                }
            });
        };
        // The total is at least `count`, so it can only overflow (not go below 0) here.
        let new_total = self
            .total
            .checked_add_signed(delta)
            .ok_or(LineageError::Overflow {
                id,
                count,
                delta: delta.into(),
            })?;
        self.counts[index] = new_count;
        self.total = new_total;
        // Two's-complement addition: every node ends in range, as it is a sum of counts.
        self.add_to_nodes(index / BLOCK, delta as u64);
        Ok(())
    }

    /// A new lineage holding `initial` cells; returns its id (the next in order). Amortised
    /// O(log B). Refused past 2^32 lineages or a total past `u64::MAX`, with nothing changed.
    pub fn push_lineage(&mut self, initial: u64) -> Result<u32, LineageError> {
        let id = u32::try_from(self.counts.len()).map_err(|_| LineageError::TooManyLineages)?;
        let total = self
            .total
            .checked_add(initial)
            .ok_or(LineageError::Overflow {
                id,
                count: 0,
                delta: initial.into(),
            })?;
        let index = self.counts.len();
        self.counts.push(initial);
        self.total = total;
        if index % BLOCK != 0 {
            // The last block gains a lineage.
            self.add_to_nodes(index / BLOCK, initial);
            return Ok(id);
        }
        // A new block: its node `node` covers blocks node - lowbit(node) .. node, itself plus
        // the nodes below it that cover the rest (node - 1, then down by each one's lowbit).
        let node = index / BLOCK + 1;
        if node >= self.tree.len() {
            let top = top_for(node);
            self.tree.resize(top + 1, PAD);
        }
        let mut sum = initial;
        let mut child = node - 1;
        while child > node - lowbit(node) {
            sum += self.tree[child];
            child -= lowbit(child);
        }
        self.tree[node] = sum;
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
        // Descend to the block: blocks 0..node hold at most `r` cells together, and `rest` is
        // what is left of r past them. A padding node is never taken (`rest < PAD`), nor a real
        // node covering the cell (its sum exceeds `rest`). Selects rather than branches: which
        // way the descent goes is a coin toss the branch predictor cannot learn.
        let mut step = self.tree.len() - 1;
        let (mut node, mut rest) = (0usize, r);
        while step > 0 {
            let sum = self.tree[node + step];
            let take = sum <= rest;
            node += if take { step } else { 0 };
            rest -= if take { sum } else { 0 };
            step >>= 1;
        }
        // The cell is in block `node` (0-based), `rest` cells into it.
        let first = node * BLOCK;
        let block = &self.counts[first..self.counts.len().min(first + BLOCK)];
        let mut offset = block.len() - 1;
        for (j, &count) in block.iter().enumerate() {
            if rest < count {
                offset = j;
                break;
            }
            rest -= count;
        }
        Ok((first + offset) as u32)
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
    fn every_index_maps_to_its_lineage_across_many_blocks() {
        // Up to 9 blocks (the padded tree crossing 1, 2, 4, 8 and 16 nodes), with empty lineages
        // and whole empty blocks, built both ways.
        for n in 0..=(9 * BLOCK) {
            for pattern in 0..4u64 {
                let counts: Vec<u64> = (0..n as u64)
                    .map(|i| match pattern {
                        0 => 1,
                        1 => i % 3,
                        2 => u64::from((i / 8) % 2 == 1) * (i % 5),
                        _ => (i * 7 + 3) % 11 / 4,
                    })
                    .collect();
                let built = LineageCounts::from_counts(&counts).unwrap();
                let mut grown = LineageCounts::new();
                for &c in &counts {
                    grown.push_lineage(c).unwrap();
                }
                assert_eq!(built, grown, "{counts:?}");
                for r in 0..built.total() {
                    assert_eq!(
                        built.pick(r),
                        Ok(naive_pick(&counts, r)),
                        "{counts:?} r={r}"
                    );
                }
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
        assert_eq!(
            LineageCounts::from_counts(&[u64::MAX, 1]),
            Err(LineageError::TotalTooLarge { state: 0 })
        );
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
