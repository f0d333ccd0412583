"""Sister-flask barcode overlap: do the same lineages survive a drug in separate flasks?

Barcoded cells are expanded, split into ``k`` sister flasks, and each flask is treated; the barcodes
that survive in each flask are counted. If tolerance is a heritable state that existed before the
split (pre-existing persisters), a lineage that survives in one flask tends to survive in its
sisters: the overlap of the surviving sets is far above chance. If every cell switches into
tolerance independently when the drug comes (memoryless induction), the surviving sets of sister
flasks are independent: the overlap falls to what chance alone gives.

The chance law. Given the number ``N`` of barcodes present before the split and the numbers
``a`` and ``b`` of barcodes surviving in two flasks, independent survival with the same law for
every barcode makes each flask's surviving set a uniformly random ``a``-subset (``b``-subset) of
the ``N``, independently; the number ``s`` of barcodes surviving in both is then hypergeometric,
``P(s) = C(a, s) C(N - a, b - s) / C(N, b)``, and every overlap measure below is a function of
``s`` given ``a`` and ``b``, so its law follows exactly.
"""

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import INT64_MAX, check_count
from ..errors import InvalidRunError

BARCODE, FLASK, PAIR = "barcode", "flask", "pair"
"""Dimension names: of the input table (barcode x flask) and of the per-pair results."""

_MIN_SHARED_FOR_CORRELATION = 3
"""Fewer barcodes surviving in both flasks leave the correlation of log sizes undefined (NaN):
with two points every correlation is +-1."""


# --- the chance law -------------------------------------------------------------------------------
def _log_factorials(n: int) -> np.ndarray:
    """log(m!) for m = 0..n."""
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1.0, n + 1.0)))))


def _chance_law(n: int, a: int, b: int, logf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The support ``s`` and probabilities of the number of barcodes surviving in both of two
    flasks with ``a`` and ``b`` survivors out of ``n`` barcodes, under independent survival."""
    s = np.arange(max(0, a + b - n), min(a, b) + 1)

    def log_choose(top: int, k: np.ndarray) -> np.ndarray:
        return np.asarray(logf[top] - logf[k] - logf[top - k])

    log_p = log_choose(a, s) + log_choose(n - a, b - s) - (logf[n] - logf[b] - logf[n - b])
    p = np.exp(log_p)
    return s, p / p.sum()  # the terms sum to 1 up to rounding; renormalise it away


def _jaccard(shared: np.ndarray | int, a: int, b: int) -> Any:
    """Jaccard index ``s / (a + b - s)``; NaN when neither flask has a survivor."""
    union = a + b - np.asarray(shared)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, np.asarray(shared) / np.where(union > 0, union, 1), np.nan)


# --- one table ------------------------------------------------------------------------------------
def _log_size_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of log counts over the barcodes that survive in both flasks."""
    both = (x > 0) & (y > 0)
    if both.sum() < _MIN_SHARED_FOR_CORRELATION:
        return math.nan
    lx, ly = np.log(x[both]), np.log(y[both])
    lx, ly = lx - lx.mean(), ly - ly.mean()
    norm = math.sqrt(float(np.dot(lx, lx)) * float(np.dot(ly, ly)))
    return float(np.dot(lx, ly)) / norm if norm > 0 else math.nan


def _mean_or_nan(values: list[float]) -> float:
    """Mean of the finite values (NaN when there are none), without numpy's all-NaN warning."""
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _one_table(table: np.ndarray, n_barcodes: int | None, logf: np.ndarray) -> dict[str, Any]:
    """Every result for one (barcode x flask) table of whole counts >= 0."""
    alive = table > 0
    survivors = alive.sum(axis=0)
    seen = int(alive.any(axis=1).sum())
    n = seen if n_barcodes is None else n_barcodes
    if n < seen:
        raise InvalidRunError(
            f"n_barcodes is {n_barcodes!r}; it must be at least the {seen} barcodes that survive "
            "in some flask"
        )
    k = table.shape[1]
    rows: dict[str, list[float]] = {name: [] for name in _PAIR_ATTRS}
    for i in range(k):
        for j in range(i + 1, k):
            a, b = int(survivors[i]), int(survivors[j])
            s = int(np.sum(alive[:, i] & alive[:, j]))
            support, p = _chance_law(n, a, b, logf)
            jac = _jaccard(support, a, b)
            rows["shared"].append(s)
            rows["shared_fraction"].append(s / min(a, b) if min(a, b) > 0 else math.nan)
            rows["jaccard"].append(float(_jaccard(s, a, b)))
            rows["log_size_correlation"].append(_log_size_correlation(table[:, i], table[:, j]))
            rows["shared_chance"].append(a * b / n if n > 0 else 0.0)
            rows["jaccard_chance"].append(float(np.dot(p, jac)) if a + b > 0 else math.nan)
            rows["p_overlap"].append(min(1.0, float(p[support >= s].sum())))
    n_pairs = len(rows["p_overlap"])
    return {
        "pairs": rows,
        "n_survivors": survivors,
        "n_barcodes": n,
        "mean_shared_fraction": _mean_or_nan(rows["shared_fraction"]),
        "mean_jaccard": _mean_or_nan(rows["jaccard"]),
        # NaN exactly where jaccard is (no survivor in either flask): the same pairs are averaged
        "mean_jaccard_chance": _mean_or_nan(rows["jaccard_chance"]),
        "mean_log_size_correlation": _mean_or_nan(rows["log_size_correlation"]),
        # One pair: its exact tail. More: Bonferroni over the pairs (valid whatever their
        # dependence, conservative; the pairs of one table share flasks, so they are dependent).
        "p_value": min(1.0, n_pairs * min(rows["p_overlap"])),
    }


# --- input checks ---------------------------------------------------------------------------------
def _as_table(counts: object) -> xr.DataArray:
    """The counts as a DataArray with dims (..., barcode, flask) of whole numbers >= 0."""
    if isinstance(counts, xr.DataArray):
        missing = [d for d in (BARCODE, FLASK) if d not in counts.dims]
        if missing:
            raise InvalidRunError(
                f"counts has dims {tuple(counts.dims)}; expected dims (..., {BARCODE!r}, "
                f"{FLASK!r}) (missing {missing})"
            )
        table = counts.transpose(..., BARCODE, FLASK)
    else:
        arr = np.asarray(counts)
        if arr.ndim < 2:
            raise InvalidRunError(
                f"counts is {counts!r}; expected a table with one row per barcode and one column "
                "per flask (a 2-D array, or a DataArray with dims (..., 'barcode', 'flask'))"
            )
        lead = [f"dim_{i}" for i in range(arr.ndim - 2)]
        table = xr.DataArray(arr, dims=[*lead, BARCODE, FLASK])
    values = table.values
    if values.dtype.kind not in "iuf":
        raise InvalidRunError(
            f"counts has dtype {values.dtype}; expected whole numbers >= 0 (surviving cells of "
            "each barcode in each flask)"
        )
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values)) | (values > INT64_MAX)
    if bad.any():
        where = np.unravel_index(int(np.argmax(bad)), values.shape)
        index = ", ".join(str(int(i)) for i in where)
        raise InvalidRunError(
            f"counts[{index}] is {values[where].item()!r}; counts of surviving cells must be "
            f"whole numbers from 0 to {INT64_MAX}"
        )
    if table.sizes[FLASK] < 2:
        raise InvalidRunError(
            f"counts has {table.sizes[FLASK]} flask(s); a sister-flask overlap needs >= 2"
        )
    if table.sizes[BARCODE] < 1:
        raise InvalidRunError("counts has 0 barcodes; a sister-flask overlap needs >= 1")
    return table


# --- the public function --------------------------------------------------------------------------
def sister_overlap(
    counts: object,
    n_barcodes: int | None = None,
    *,
    count_step: int = -1,
    states: Sequence[str] | None = None,
) -> xr.Dataset:
    """Overlap of the barcodes surviving in sister flasks, and its law under pure chance.

    Parameters
    ----------
    counts : array-like, xarray.DataArray or xarray.Dataset
        A result of :meth:`dtp_gillespie.Protocol.run` (read as below), or a table:
        Surviving cells of each barcode (rows) in each flask (columns): a 2-D array, or a
        DataArray with dims ``(..., "barcode", "flask")`` whose leading dims (replicates, sweep
        parameters, experiments) are kept: every result is computed separately for each point of
        them. An array with more than 2 axes is read the same way, its leading axes named
        ``dim_0``, ``dim_1``, ... A barcode *survives* in a flask when its count there is > 0.
        Rows of zeros (library barcodes that survive nowhere) are allowed.
    n_barcodes : int, optional
        ``N``, the number of barcodes present in every flask before treatment (each flask received
        cells of each of them). Default: the barcodes that survive in some flask, per table. The
        default is a lower bound of the true ``N`` when some barcodes died out in every flask; a
        smaller ``N`` makes chance overlap larger, so the p-values are then conservative.
    count_step, states
        For a protocol result only: the count whose flasks are compared (default the last) and
        the states whose cells count (default all). Each replicate is one table
        (:func:`dtp_gillespie.protocol.barcode_table`); replicates with a flask whose cells are
        unknown there (a cap, a short bottleneck) are left out. Without ``n_barcodes``, ``N`` of
        each replicate is the number of barcodes present at the latest count before the split
        that made the flasks (a ``count`` step before ``split``), else the default above.

    Returns
    -------
    xarray.Dataset
        Per pair of flasks (dim ``pair``, with coordinates ``flask_a`` < ``flask_b``), for flasks
        with ``a`` and ``b`` surviving barcodes of which ``s`` survive in both:

        - ``shared``: ``s``;
        - ``shared_fraction``: ``s / min(a, b)``, the fraction of the smaller surviving set that
          also survives in the other flask (the overlap coefficient; 1 when one set holds the
          other; NaN when a flask has no survivor);
        - ``jaccard``: ``s / (a + b - s)``, shared over surviving in either (NaN if neither has a
          survivor);
        - ``log_size_correlation``: Pearson correlation of the log counts of the barcodes that
          survive in both (NaN with fewer than 3 of them);
        - ``shared_chance``, ``jaccard_chance``: the exact means of ``s`` (``a b / N``) and of the
          Jaccard index under independent survival (hypergeometric ``s``; see the module);
        - ``p_overlap``: the exact one-sided p-value ``P(S >= s)`` under that law: small when the
          same barcodes survive more often than chance (heritable survival). Given ``a`` and ``b``
          the three overlap measures all increase with ``s``, so it is the p-value of each.

        Per flask (dim ``flask``): ``n_survivors``. Per table: ``n_barcodes`` (the ``N`` used),
        the averages over pairs ``mean_shared_fraction``, ``mean_jaccard``,
        ``mean_log_size_correlation`` (over the pairs where each is defined), the exact chance
        mean of ``mean_jaccard``, ``mean_jaccard_chance`` (the mean of the pairs'
        ``jaccard_chance``: a mean of means, exact whatever the dependence between pairs), and
        ``p_value``: for two flasks the pair's ``p_overlap``; for k > 2 flasks the Bonferroni
        bound ``min(1, k (k - 1) / 2 * min p_overlap)``, a valid (conservative) p-value of
        "every flask survives independently", since the pairs share flasks and their exact joint
        law is not computed.

    Raises
    ------
    InvalidRunError
        Counts that are negative, fractional, NaN or not numbers; a table that is not 2-D (or a
        DataArray without ``barcode`` and ``flask`` dims); fewer than 2 flasks; ``n_barcodes``
        not a whole number >= 1 or below the barcodes that survive in some flask.

    Notes
    -----
    The chance law treats barcodes as exchangeable: each survives in each flask with the same
    probability. Barcodes with very different numbers of cells per flask (uneven expansion
    before the split) survive with different probabilities even when survival is induced, which
    raises the overlap above this chance level without any heritable state: compare like with
    like (for instance barcodes of similar size before the split), or simulate the null with the
    measured sizes.
    """
    n = None if n_barcodes is None else check_count(n_barcodes, "n_barcodes", 1)
    per_table: list[int | None] | None = None
    if isinstance(counts, xr.Dataset):
        counts, per_table = _protocol_tables(counts, n, count_step, states)
    table = _as_table(counts)
    lead: tuple[Hashable, ...] = tuple(table.dims[:-2])
    lead_shape = tuple(table.shape[:-2])
    values = table.values.astype(np.int64).reshape(-1, *table.shape[-2:])
    ns = [n] * len(values) if per_table is None else per_table
    top = max(max((x or 0) for x in ns), table.sizes[BARCODE])
    logf = _log_factorials(top)
    results = [_one_table(t, nt, logf) for t, nt in zip(values, ns, strict=True)]
    return _as_result(results, table, lead, lead_shape)


def _protocol_tables(
    ds: xr.Dataset, n: int | None, count_step: int, states: Sequence[str] | None
) -> tuple[xr.DataArray, list[int | None]]:
    """A protocol result as (replicate, barcode, flask) tables of its known replicates, with
    each one's ``N`` (given, the barcodes present before the split, or None)."""
    from ..protocol._output import barcode_table, barcodes_present

    table = barcode_table(ds, count_step, states)
    keep = np.asarray((table >= 0).all(("barcode", "flask")).values)
    if not keep.any():
        raise InvalidRunError(
            "no replicate of the protocol result has every flask known at that count step"
        )
    present = None if n is not None else barcodes_present(ds, count_step)
    ns: list[int | None] = (
        [n] * int(keep.sum())
        if present is None
        else [int(x) if x >= 0 else None for x in present[keep]]
    )
    return table.isel({"replicate": np.flatnonzero(keep)}), ns


_PAIR_ATTRS = {
    "shared": ("barcodes", "barcodes surviving in both flasks of the pair"),
    "shared_fraction": ("1", "shared / min(survivors of each flask) (overlap coefficient)"),
    "jaccard": ("1", "shared / barcodes surviving in either flask (Jaccard index)"),
    "log_size_correlation": ("1", "Pearson correlation of log counts of the shared barcodes"),
    "shared_chance": ("barcodes", "mean of shared under independent survival, a b / N"),
    "jaccard_chance": ("1", "exact mean Jaccard index under independent survival"),
    "p_overlap": ("1", "P(shared >= observed) under independent survival (hypergeometric)"),
}

_TABLE_ATTRS = {
    "n_barcodes": ("barcodes", "barcodes present before the split, N"),
    "mean_shared_fraction": ("1", "shared_fraction averaged over pairs of flasks"),
    "mean_jaccard": ("1", "Jaccard index averaged over pairs of flasks"),
    "mean_jaccard_chance": ("1", "exact mean of mean_jaccard under independent survival"),
    "mean_log_size_correlation": ("1", "log_size_correlation averaged over pairs of flasks"),
    "p_value": ("1", "p-value of independent survival (one pair: exact; more: Bonferroni)"),
}


def _as_result(
    results: list[dict[str, Any]],
    table: xr.DataArray,
    lead: tuple[Hashable, ...],
    lead_shape: tuple[int, ...],
) -> xr.Dataset:
    k = table.sizes[FLASK]
    flasks = table[FLASK].values if FLASK in table.coords else np.arange(k)
    first, second = zip(*[(i, j) for i in range(k) for j in range(i + 1, k)], strict=True)
    n_pairs = len(first)
    data: dict[Hashable, Any] = {}
    for name, (units, long_name) in _PAIR_ATTRS.items():
        v = np.array([r["pairs"][name] for r in results]).reshape(*lead_shape, n_pairs)
        data[name] = ((*lead, PAIR), v, {"units": units, "long_name": long_name})
    survivors = np.array([r["n_survivors"] for r in results]).reshape(*lead_shape, k)
    data["n_survivors"] = (
        (*lead, FLASK),
        survivors,
        {"units": "barcodes", "long_name": "barcodes surviving in each flask"},
    )
    for name, (units, long_name) in _TABLE_ATTRS.items():
        v = np.array([r[name] for r in results]).reshape(lead_shape)
        data[name] = (lead, v, {"units": units, "long_name": long_name})
    coords: dict[Hashable, Any] = {
        name: c for name, c in table.coords.items() if set(c.dims) <= set(lead)
    }
    coords[FLASK] = flasks
    coords["flask_a"] = (PAIR, flasks[list(first)])
    coords["flask_b"] = (PAIR, flasks[list(second)])
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "chance_law": "hypergeometric number of shared survivors given each flask's "
            "survivors and N barcodes (independent, exchangeable survival)",
            "test": "one-sided, overlap above chance; k > 2 flasks: Bonferroni over pairs",
        },
    )
