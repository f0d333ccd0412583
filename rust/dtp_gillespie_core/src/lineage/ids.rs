//! The barcode or clone id of each lineage, listed only when it must be: a founders or library
//! start without clones has barcode `l` and clone 0 for lineage `l`, and building those two
//! vectors (10^4 entries each at 10^4 founders) for every replicate cost about a third of a
//! tracked replicate's setup in the lanes.

use super::scratch;

/// Per-lineage ids (module docs).
#[derive(Debug, PartialEq, Eq)]
pub enum Ids {
    /// `n` lineages; lineage `l`'s id is `l`.
    Index(usize),
    /// `n` lineages, every id 0.
    Zero(usize),
    /// One id per lineage (a table start, or once a lineage was added).
    Listed(Vec<i64>),
}

impl Ids {
    /// The id of `lineage` (below [`Self::len`]).
    #[inline]
    #[must_use]
    pub fn get(&self, lineage: usize) -> i64 {
        match self {
            Self::Index(n) => {
                debug_assert!(lineage < *n);
                lineage as i64
            }
            Self::Zero(n) => {
                debug_assert!(lineage < *n);
                0
            }
            Self::Listed(ids) => ids[lineage],
        }
    }

    /// The number of lineages.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Index(n) | Self::Zero(n) => *n,
            Self::Listed(ids) => ids.len(),
        }
    }

    /// Whether there is no lineage.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new lineage with id `id` (the ids are listed from then on).
    pub fn push(&mut self, id: i64) {
        if !matches!(self, Self::Listed(_)) {
            let mut ids = scratch::take();
            ids.extend((0..self.len()).map(|l| self.get(l)));
            *self = Self::Listed(ids);
        }
        if let Self::Listed(ids) = self {
            ids.push(id);
        }
    }

    /// Every id, in lineage order (for checks).
    #[must_use]
    pub fn to_vec(&self) -> Vec<i64> {
        (0..self.len()).map(|l| self.get(l)).collect()
    }

    /// Give a listed buffer back for the next replicate of this thread (`scratch`).
    pub(crate) fn recycle(self) {
        if let Self::Listed(ids) = self {
            scratch::give(ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implicit_ids_read_and_grow_as_listed_ones() {
        let mut barcode = Ids::Index(3);
        let mut clone = Ids::Zero(3);
        assert_eq!(barcode.to_vec(), [0, 1, 2]);
        assert_eq!(clone.to_vec(), [0, 0, 0]);
        barcode.push(1);
        clone.push(7);
        assert_eq!(barcode, Ids::Listed(vec![0, 1, 2, 1]));
        assert_eq!(clone, Ids::Listed(vec![0, 0, 0, 7]));
        assert_eq!((barcode.get(3), clone.get(3), clone.len()), (1, 7, 4));
        assert!(Ids::Zero(0).is_empty());
    }
}
