"""The cells of one flask in every replicate of a block: lineage tables in CSR form.

Replicate ``i`` of the block owns rows ``offsets[i]:offsets[i + 1]``; a row is one lineage
(barcode, clone) with its cells per state. This is the engine's "table" start
(``LineageSpec`` in ``_core.pyi``:
``table_offsets``, ``table_barcode``, ``table_clone``, ``table_count``) and what a step hands to
the next. ``known[i]`` is False once the flask's cells are unknown (a capped run, a bottleneck
short of cells); its rows are then empty.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Population", "Rows"]


@dataclass(frozen=True)
class Rows:
    """The lineages of one flask of one replicate."""

    barcode: npt.NDArray[np.int64]
    clone: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    """(rows, n_states)."""

    def nonzero(self) -> "Rows":
        """The rows that still hold a cell."""
        keep = self.count.sum(axis=1) > 0
        if keep.all():
            return self
        return Rows(self.barcode[keep], self.clone[keep], self.count[keep])

    def with_count(self, count: npt.NDArray[np.int64]) -> "Rows":
        """The same lineages holding ``count`` cells, rows left empty dropped."""
        return Rows(self.barcode, self.clone, count).nonzero()


@dataclass(frozen=True)
class Population:
    """The lineage tables of one flask in each replicate of a block."""

    offsets: npt.NDArray[np.int64]
    barcode: npt.NDArray[np.int64]
    clone: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    known: npt.NDArray[np.bool_]

    @property
    def size(self) -> int:
        """Replicates."""
        return int(self.known.size)

    def rows(self, i: int) -> Rows:
        """The lineages of replicate ``i`` (position in the block)."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return Rows(self.barcode[a:b], self.clone[a:b], self.count[a:b])

    def totals(self) -> npt.NDArray[np.int64]:
        """Cells per state, (replicates, n_states); unknown replicates read 0 here."""
        n_states = self.count.shape[1]
        out = np.zeros((self.size, n_states), dtype=np.int64)
        rep = np.repeat(np.arange(self.size), np.diff(self.offsets))
        np.add.at(out, rep, self.count)
        return out

    @classmethod
    def build(cls, tables: Sequence[Rows | None], n_states: int) -> "Population":
        """From one table per replicate (None: unknown)."""
        empty = Rows(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, n_states), np.int64)
        )
        filled = [empty if t is None else t for t in tables]
        sizes = np.array([t.barcode.size for t in filled], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        return cls(
            offsets=offsets,
            barcode=np.concatenate([t.barcode for t in filled]).astype(np.int64),
            clone=np.concatenate([t.clone for t in filled]).astype(np.int64),
            count=np.concatenate([t.count for t in filled]).reshape(-1, n_states).astype(np.int64),
            known=np.array([t is not None for t in tables], dtype=bool),
        )
