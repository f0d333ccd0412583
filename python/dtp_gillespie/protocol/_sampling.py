"""Exact samplers of the cells moved between flasks, and of the barcodes given at the start.

Every cell is an individual; the samplers draw the numbers of cells of each (lineage, state)
from the exact laws of the experimenter's action, never an approximation:

- a split into ``k`` flasks sends each cell to one of them independently and uniformly: the
  ``c`` cells of a (lineage, state) are multinomial(c; 1/k, ..., 1/k), drawn as the sequence of
  binomials ``x_j ~ Binomial(c - x_0 - ... - x_{j-1}, 1 / (k - j))``;
- a passage keeps each cell with probability ``f``: Binomial(c, f) per (lineage, state);
- a bottleneck keeps exactly ``n`` cells chosen uniformly without replacement: the kept counts
  are multivariate hypergeometric over all (lineage, state) cells (numpy's "marginals" method,
  exact for populations below 10^9 cells; larger ones are refused rather than approximated);
- a library of ``B`` barcodes: each initial cell of each state draws its barcode uniformly, so a
  state's cells are multinomial(n_s; 1/B, ..., 1/B) over barcodes.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..errors import InvalidRunError
from ._population import Rows

__all__ = [
    "HYPERGEOMETRIC_LIMIT",
    "bottleneck_rows",
    "founder_rows",
    "library_rows",
    "passage_rows",
    "split_rows",
    "uniform_multinomial",
]

HYPERGEOMETRIC_LIMIT = 10**9
"""numpy's multivariate hypergeometric sampler is exact below this many cells."""


def uniform_multinomial(
    counts: npt.NDArray[np.int64], k: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Each of ``counts[...]`` items sent to one of ``k`` bins uniformly: shape (..., k)."""
    out = np.empty((*counts.shape, k), dtype=np.int64)
    left = counts.astype(np.int64, copy=True)
    for j in range(k - 1):
        out[..., j] = rng.binomial(left, 1.0 / (k - j))
        left -= out[..., j]
    out[..., k - 1] = left
    return out


def split_rows(rows: Rows, k: int, rng: np.random.Generator) -> list[Rows]:
    """The ``k`` flasks a split of ``rows`` gives (each keeps only its non-empty lineages)."""
    parts = uniform_multinomial(rows.count, k, rng)
    return [rows.with_count(np.ascontiguousarray(parts[..., j])) for j in range(k)]


def passage_rows(rows: Rows, fraction: float, rng: np.random.Generator) -> Rows:
    """The cells a passage keeping ``fraction`` of them leaves."""
    if fraction == 1.0:
        return rows
    return rows.with_count(rng.binomial(rows.count, fraction).astype(np.int64))


def bottleneck_rows(rows: Rows, cells: int, rng: np.random.Generator) -> Rows | None:
    """Exactly ``cells`` cells chosen uniformly without replacement, or None when the flask
    holds fewer (an empty flask stays empty)."""
    flat = rows.count.ravel()
    total = int(flat.sum())
    if total == 0:
        return rows
    if total < cells:
        return None
    if total >= HYPERGEOMETRIC_LIMIT:
        raise InvalidRunError(
            f"a bottleneck of {cells} cells from a flask of {total} cells: the exact sampler "
            f"handles flasks below {HYPERGEOMETRIC_LIMIT} cells (passage first, or cap the "
            "population with max_population)"
        )
    kept = rng.multivariate_hypergeometric(flat, cells, method="marginals")
    return rows.with_count(kept.astype(np.int64).reshape(rows.count.shape))


def founder_rows(initial: Sequence[int]) -> Rows:
    """One barcode per initial cell: cell k (state 0's cells first) carries barcode k."""
    n_states = len(initial)
    state = np.repeat(np.arange(n_states), initial)
    count = np.zeros((state.size, n_states), dtype=np.int64)
    count[np.arange(state.size), state] = 1
    barcode = np.arange(state.size, dtype=np.int64)
    return Rows(barcode, np.zeros(state.size, np.int64), count)


def library_rows(initial: Sequence[int], n_barcodes: int, rng: np.random.Generator) -> Rows:
    """Each initial cell draws one of ``n_barcodes`` barcodes uniformly (per state, in order)."""
    per_barcode = np.stack(
        [rng.multinomial(int(n), np.full(n_barcodes, 1.0 / n_barcodes)) for n in initial],
        axis=1,
    ).astype(np.int64)
    rows = Rows(np.arange(n_barcodes, dtype=np.int64), np.zeros(n_barcodes, np.int64), per_barcode)
    return rows.nonzero()


def one_lineage_rows(initial: Sequence[int]) -> Rows:
    """No barcodes: every cell in lineage (0, 0)."""
    count = np.array([list(initial)], dtype=np.int64)
    return Rows(np.zeros(1, np.int64), np.zeros(1, np.int64), count).nonzero()
