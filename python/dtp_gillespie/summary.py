"""Summary mode: per-replicate summaries and exact, mergeable ensemble statistics over time.

For runs whose full trajectories are too big to keep, ``simulate(..., summary_only=True)`` (with or
without ``store=``) keeps, instead of the trajectories ``count``, ``exposure``,
``concentration`` and ``biomarker`` (replicate, time, ...):

- every **per-replicate** variable of the engine (``extinction_time``, ``first_mutant_time``,
  ``stop_time``, ``n_events``, ``status``, ``treatment_start_time``, ``time_on_drug``,
  ``n_switches``, ``progression_time``, and for pk runs ``auc_concentration`` and
  ``auc_response``), ``final_count`` (replicate, cell_state), the counts at
  the last record time, and for a model with a biomarker ``final_biomarker``, its value then (no
  statistics of the biomarker over time are kept);
- **ensemble statistics** per record time (and state), over the replicates whose counts are known
  at that time (``n_known``; a replicate stopped by a cap has unknown counts after its
  ``stop_time`` and is left out from then on): ``count_mean``, ``count_var`` (ddof = 1),
  ``count_min``, ``count_max``, ``count_quantile`` (levels :data:`QUANTILES`), ``n_extinct``,
  ``extinct_fraction``, ``n_progressed``, ``progressed_fraction``.

The replicates run in blocks (as in :mod:`dtp_gillespie.stream`), and each block is reduced to
*partial statistics* that merge exactly and in any order:

- sums of counts and of squared counts as exact integers (Python ints in memory; three uint64
  limbs per value in a store), so the mean and the variance are the correctly rounded values of
  the exact rational ``S1/n`` and ``(n·S2 − S1²)/(n(n−1))``;
- minima, maxima and the replicate tallies as integers;
- a sparse count histogram with exact bins below :data:`EXACT_BELOW` cells and, above, bins of
  relative width ``2**-QUANTILE_BITS`` (an HDR-histogram-like layout); quantiles are read from the
  merged histogram (``inverted_cdf``: the smallest count whose cumulative fraction reaches the
  level) and are therefore exact for counts below :data:`EXACT_BELOW` and, above, the lower edge of
  the bin of the exact quantile (relative error < 2**-10 ≈ 0.1 %).

Every statistic is therefore bit-identical whatever the block size, the number of threads or
workers, the order in which blocks finish and whether the run was resumed.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import conventions as cv

__all__ = [
    "EXACT_BELOW",
    "QUANTILES",
    "STATISTICS",
    "BlockStats",
    "block_stats",
    "merge_stats",
    "statistics",
]

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantile levels of ``count_quantile``."""

QUANTILE_BITS = 10
EXACT_BELOW = 2 << QUANTILE_BITS
"""Counts below this (2048) have one histogram bin each: their quantiles are exact."""
_FIRST_OCTAVE = QUANTILE_BITS + 1
_N_BINS = EXACT_BELOW + (63 - _FIRST_OCTAVE) * (1 << QUANTILE_BITS)
_LIMBS = 3
_MASK = (1 << 64) - 1
_I64_MAX = np.iinfo(np.int64).max

# Names of the summary variables.
FINAL_COUNT = f"final_{cv.COUNT}"
FINAL_BIOMARKER = f"final_{cv.BIOMARKER}"
COUNT_MEAN = "count_mean"
COUNT_VAR = "count_var"
COUNT_MIN = "count_min"
COUNT_MAX = "count_max"
COUNT_QUANTILE = "count_quantile"
N_KNOWN = "n_known"
N_EXTINCT = "n_extinct"
EXTINCT_FRACTION = "extinct_fraction"
N_PROGRESSED = "n_progressed"
PROGRESSED_FRACTION = "progressed_fraction"
QUANTILE = "quantile"

STATISTICS = (
    COUNT_MEAN,
    COUNT_VAR,
    COUNT_MIN,
    COUNT_MAX,
    COUNT_QUANTILE,
    N_KNOWN,
    N_EXTINCT,
    EXTINCT_FRACTION,
    N_PROGRESSED,
    PROGRESSED_FRACTION,
)
"""Ensemble statistics (no replicate dimension), in Dataset order."""

DROPPED = tuple(v.name for v in cv.OUTPUTS if v.summary != "keep")
"""Variables of a full run that summary mode does not keep as they are (``count``, ``exposure``,
``concentration``, ``biomarker``; the table :data:`dtp_gillespie.conventions.OUTPUTS` says)."""

FINALS = {v.name: f"final_{v.name}" for v in cv.OUTPUTS if v.summary == "final"}
"""Variables whose value at the last record time summary mode keeps, and the name it keeps it
under (``count``: ``final_count``; ``biomarker``: ``final_biomarker``)."""

_KNOWN = "over the replicates whose counts are known at this time (n_known)"
_ATTRS: dict[str, dict[str, str]] = {
    COUNT_MEAN: {
        "units": "1",
        "long_name": "ensemble mean of the number of cells in each state",
        "comment": f"{_KNOWN}; exact integer sums, correctly rounded; NaN if n_known = 0",
    },
    COUNT_VAR: {
        "units": "1",
        "long_name": "ensemble variance (ddof = 1) of the number of cells in each state",
        "comment": f"{_KNOWN}; exact integer sums, correctly rounded; NaN if n_known < 2",
    },
    COUNT_MIN: {
        "units": "1",
        "long_name": "ensemble minimum of the number of cells in each state",
        "comment": f"{_KNOWN}; {cv.COUNT_UNKNOWN} if n_known = 0",
    },
    COUNT_MAX: {
        "units": "1",
        "long_name": "ensemble maximum of the number of cells in each state",
        "comment": f"{_KNOWN}; {cv.COUNT_UNKNOWN} if n_known = 0",
    },
    COUNT_QUANTILE: {
        "units": "1",
        "long_name": "ensemble quantiles of the number of cells in each state",
        "comment": (
            f"{_KNOWN}; method inverted_cdf (smallest count whose cumulative fraction reaches "
            f"the level); exact for counts below {EXACT_BELOW}, above that the lower edge of a "
            f"histogram bin of relative width 2**-{QUANTILE_BITS}; {cv.COUNT_UNKNOWN} if "
            "n_known = 0"
        ),
    },
    N_KNOWN: {
        "units": "1",
        "long_name": "number of replicates whose counts are known at this time",
        "comment": "replicates stopped by a cap are unknown after their stop_time",
    },
    N_EXTINCT: {
        "units": "1",
        "long_name": "number of known replicates extinct by this time",
        "comment": "extinction_time <= time",
    },
    EXTINCT_FRACTION: {
        "units": "1",
        "long_name": "fraction of known replicates extinct by this time",
        "comment": "n_extinct / n_known; NaN if n_known = 0",
    },
    N_PROGRESSED: {
        "units": "1",
        "long_name": "number of known replicates that progressed by this time",
        "comment": "progression_time <= time; 0 when the run has no progression criterion",
    },
    PROGRESSED_FRACTION: {
        "units": "1",
        "long_name": "fraction of known replicates that progressed by this time",
        "comment": (
            "n_progressed / n_known; NaN if n_known = 0; 0 when the run has no progression "
            "criterion"
        ),
    },
    QUANTILE: {"units": "1", "long_name": "quantile level"},
}


# --------------------------------------------------------------------------------------------
# Partial statistics of a block.


@dataclass(frozen=True)
class BlockStats:
    """Exact, mergeable statistics of some replicates (shapes: T times, S states).

    ``count_sum`` and ``count_sum_sq`` are object arrays of Python ints (T, S); ``count_min`` is
    int64 max and ``count_max`` is -1 where no replicate is known; ``hist_key`` (sorted, unique)
    and ``hist_count`` are the non-empty bins of the count histogram, keyed
    ``(time index * S + state index) * n_bins + bin``.
    """

    count_sum: npt.NDArray[np.object_]
    count_sum_sq: npt.NDArray[np.object_]
    count_min: npt.NDArray[np.int64]
    count_max: npt.NDArray[np.int64]
    n_known: npt.NDArray[np.int64]
    n_extinct: npt.NDArray[np.int64]
    n_progressed: npt.NDArray[np.int64]
    hist_key: npt.NDArray[np.int64]
    hist_count: npt.NDArray[np.int64]


def count_bin(c: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Histogram bin of non-negative counts (exact below :data:`EXACT_BELOW`)."""
    c = np.asarray(c, dtype=np.int64)
    # e = floor(log2 c) exactly, for c >= 1 (c = 0 gives 0; only used where c >= EXACT_BELOW).
    e = np.zeros(c.shape, dtype=np.int64)
    x = c.copy()
    for s in (32, 16, 8, 4, 2, 1):
        m = (x >> s) > 0
        e += m * s
        x = np.where(m, x >> s, x)
    shift = np.maximum(e - QUANTILE_BITS, 0)
    sub = (c >> shift) - (1 << QUANTILE_BITS)
    big = EXACT_BELOW + (e - _FIRST_OCTAVE) * (1 << QUANTILE_BITS) + sub
    return np.where(c < EXACT_BELOW, c, big)


def bin_lower_edge(b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Smallest count of each histogram bin (the inverse of :func:`count_bin` on bin edges)."""
    b = np.asarray(b, dtype=np.int64)
    k = np.maximum(b - EXACT_BELOW, 0)
    e = k // (1 << QUANTILE_BITS) + _FIRST_OCTAVE
    sub = k % (1 << QUANTILE_BITS)
    big = (sub + (1 << QUANTILE_BITS)) << (e - QUANTILE_BITS)
    return np.where(b < EXACT_BELOW, b, big)


def _exact_sums(
    c: npt.NDArray[np.int64], known: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Exact sums over replicates of counts and squared counts (known entries only)."""
    z = np.where(known[..., None], c, 0)
    n, t, s = z.shape
    cmax = int(z.max()) if z.size else 0
    s1 = np.zeros((t, s), dtype=object)
    s2 = np.zeros((t, s), dtype=object)
    if cmax * cmax > _I64_MAX:  # counts above 3e9: exact Python ints
        zo = z.astype(object)
        return zo.sum(axis=0) + s1, (zo * zo).sum(axis=0) + s2
    # Replicates per int64 partial sum with no overflow possible.
    step = max(1, _I64_MAX // max(1, cmax * cmax))
    for a in range(0, n, step):
        part = z[a : a + step]
        s1 = s1 + part.sum(axis=0, dtype=np.int64).astype(object)
        s2 = s2 + (part * part).sum(axis=0, dtype=np.int64).astype(object)
    return s1, s2


def block_stats(
    arrays: Mapping[str, Any], times: npt.ArrayLike, max_cells: int = 1 << 22
) -> BlockStats:
    """Partial statistics of one block of engine arrays."""
    t = np.asarray(times, dtype=np.float64)
    c = np.asarray(arrays[cv.COUNT], dtype=np.int64)
    _, nt, ns = c.shape
    known = np.all(c >= 0, axis=2)  # (n, T): capped replicates after stop_time are -1
    s1, s2 = _exact_sums(c, known)
    cmin = np.where(known[..., None], c, _I64_MAX).min(axis=0, initial=_I64_MAX)
    cmax = np.where(known[..., None], c, -1).max(axis=0, initial=-1)
    ext = np.asarray(arrays[cv.EXTINCTION_TIME], dtype=np.float64)
    prog = np.asarray(arrays[cv.PROGRESSION_TIME], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        extinct = known & (ext[:, None] <= t[None, :])
        progressed = known & (prog[:, None] <= t[None, :])
    # Sparse histogram, a few record times at a time (bincount over at most max_cells bins).
    keys: list[npt.NDArray[np.int64]] = []
    counts: list[npt.NDArray[np.int64]] = []
    width = ns * _N_BINS
    step = max(1, max_cells // width)
    for a in range(0, nt, step):
        z = min(nt, a + step)
        cc = c[:, a:z, :]
        kk = known[:, a:z]
        local = (np.arange(z - a, dtype=np.int64)[:, None] * ns + np.arange(ns)) * _N_BINS
        key = (local[None, :, :] + count_bin(np.maximum(cc, 0)))[kk]
        if key.size == 0:
            continue
        key = key.ravel()
        if 16 * key.size < int(key.max()):  # sparse: sort rather than tally every bin
            nz, tally_nz = np.unique(key, return_counts=True)
        else:
            tally = np.bincount(key)
            nz = np.flatnonzero(tally)
            tally_nz = tally[nz]
        keys.append(nz.astype(np.int64) + a * width)
        counts.append(tally_nz.astype(np.int64))
    return BlockStats(
        count_sum=s1,
        count_sum_sq=s2,
        count_min=cmin.astype(np.int64),
        count_max=cmax.astype(np.int64),
        n_known=known.sum(axis=0).astype(np.int64),
        n_extinct=extinct.sum(axis=0).astype(np.int64),
        n_progressed=progressed.sum(axis=0).astype(np.int64),
        hist_key=np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64),
        hist_count=np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
    )


def empty_stats(n_times: int, n_states: int) -> BlockStats:
    """Statistics of no replicate (the neutral element of :func:`merge_stats`)."""
    shape = (n_times, n_states)
    return BlockStats(
        count_sum=np.zeros(shape, dtype=object),
        count_sum_sq=np.zeros(shape, dtype=object),
        count_min=np.full(shape, _I64_MAX, dtype=np.int64),
        count_max=np.full(shape, -1, dtype=np.int64),
        n_known=np.zeros(n_times, dtype=np.int64),
        n_extinct=np.zeros(n_times, dtype=np.int64),
        n_progressed=np.zeros(n_times, dtype=np.int64),
        hist_key=np.zeros(0, dtype=np.int64),
        hist_count=np.zeros(0, dtype=np.int64),
    )


def merge_stats(parts: Sequence[BlockStats]) -> BlockStats:
    """Merge partial statistics exactly; the result does not depend on the order of ``parts``."""
    first = parts[0]
    s1, s2 = first.count_sum.copy(), first.count_sum_sq.copy()
    cmin, cmax = first.count_min.copy(), first.count_max.copy()
    nk, ne, npg = first.n_known.copy(), first.n_extinct.copy(), first.n_progressed.copy()
    for p in parts[1:]:
        s1 = s1 + p.count_sum
        s2 = s2 + p.count_sum_sq
        cmin = np.minimum(cmin, p.count_min)
        cmax = np.maximum(cmax, p.count_max)
        nk, ne, npg = nk + p.n_known, ne + p.n_extinct, npg + p.n_progressed
    key = np.concatenate([p.hist_key for p in parts])
    cnt = np.concatenate([p.hist_count for p in parts])
    if key.size:
        order = np.argsort(key, kind="stable")
        key, cnt = key[order], cnt[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        key, cnt = key[starts], np.add.reduceat(cnt, starts)
    return BlockStats(s1, s2, cmin, cmax, nk, ne, npg, key, cnt.astype(np.int64))


def _quantiles(
    st: BlockStats, n_times: int, n_states: int, levels: Sequence[float]
) -> npt.NDArray[np.int64]:
    out = np.full((len(levels), n_times, n_states), cv.COUNT_UNKNOWN, dtype=np.int64)
    if st.hist_key.size == 0:
        return out
    group = st.hist_key // _N_BINS  # time index * S + state index
    cum = np.cumsum(st.hist_count)
    n_groups = n_times * n_states
    first = np.searchsorted(group, np.arange(n_groups), side="left")
    last = np.searchsorted(group, np.arange(n_groups), side="right")
    before = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0)
    total = np.where(last > first, cum[np.maximum(last - 1, 0)] - before, 0)
    for i, q in enumerate(levels):
        # inverted_cdf: the k-th smallest value, k = max(1, ceil(q n)).
        k = np.maximum(1, np.ceil(q * total.astype(np.float64)).astype(np.int64))
        pos = np.searchsorted(cum, before + k, side="left")
        ok = total > 0
        val = bin_lower_edge(st.hist_key[np.minimum(pos, cum.size - 1)] % _N_BINS)
        out[i] = np.where(ok, val, cv.COUNT_UNKNOWN).reshape(n_times, n_states)
    return out


def _ratio(num: npt.NDArray[np.object_], den: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Correctly rounded num/den of exact integers (NaN where den = 0)."""
    flat_n, flat_d = num.ravel(), den.ravel()
    out = np.array(
        [int(a) / int(b) if b else np.nan for a, b in zip(flat_n, flat_d, strict=True)],
        dtype=np.float64,
    )
    return out.reshape(num.shape)


def statistics(st: BlockStats, levels: Sequence[float] = QUANTILES) -> dict[str, npt.NDArray[Any]]:
    """The ensemble statistics (arrays named as in :data:`STATISTICS`) of merged statistics."""
    nt, ns = st.count_sum.shape
    n = np.broadcast_to(st.n_known.astype(object)[:, None], (nt, ns))
    mean = _ratio(st.count_sum, n)
    num = n * st.count_sum_sq - st.count_sum * st.count_sum
    var = _ratio(num, np.where(n > 1, n * (n - 1), 0))
    nk = st.n_known
    with np.errstate(invalid="ignore", divide="ignore"):
        ext_frac = np.where(nk > 0, st.n_extinct / np.maximum(nk, 1), np.nan)
        prog_frac = np.where(nk > 0, st.n_progressed / np.maximum(nk, 1), np.nan)
    none = np.broadcast_to((nk == 0)[:, None], (nt, ns))
    return {
        COUNT_MEAN: mean,
        COUNT_VAR: var,
        COUNT_MIN: np.where(none, cv.COUNT_UNKNOWN, st.count_min).astype(np.int64),
        COUNT_MAX: np.where(none, cv.COUNT_UNKNOWN, st.count_max).astype(np.int64),
        COUNT_QUANTILE: _quantiles(st, nt, ns, levels),
        N_KNOWN: nk.astype(np.int64),
        N_EXTINCT: st.n_extinct.astype(np.int64),
        EXTINCT_FRACTION: ext_frac.astype(np.float64),
        N_PROGRESSED: st.n_progressed.astype(np.int64),
        PROGRESSED_FRACTION: prog_frac.astype(np.float64),
    }


_STAT_DIMS: dict[str, tuple[str, ...]] = {
    COUNT_MEAN: (cv.TIME, cv.CELL_STATE),
    COUNT_VAR: (cv.TIME, cv.CELL_STATE),
    COUNT_MIN: (cv.TIME, cv.CELL_STATE),
    COUNT_MAX: (cv.TIME, cv.CELL_STATE),
    COUNT_QUANTILE: (QUANTILE, cv.TIME, cv.CELL_STATE),
    N_KNOWN: (cv.TIME,),
    N_EXTINCT: (cv.TIME,),
    EXTINCT_FRACTION: (cv.TIME,),
    N_PROGRESSED: (cv.TIME,),
    PROGRESSED_FRACTION: (cv.TIME,),
}


# --------------------------------------------------------------------------------------------
# Datasets.


def per_replicate(ds: xr.Dataset) -> xr.Dataset:
    """A full run's Dataset without its trajectories, plus the values at the last record time
    that :data:`FINALS` names: ``final_count`` (and, for a model with a biomarker,
    ``final_biomarker``)."""
    out = ds.drop_vars([v for v in DROPPED if v in ds.data_vars])
    for name, final_name in FINALS.items():
        if name not in ds.data_vars:
            continue
        var, source = cv.OUTPUT[name], ds[name]
        out[final_name] = (
            source.isel({cv.TIME: -1}, drop=True)
            .astype(var.dtype)
            .assign_attrs(
                units=source.attrs["units"],
                long_name=f"{source.attrs['long_name']} at the last record time",
                comment=var.final_comment,
            )
        )
    return out


def with_statistics(ds: xr.Dataset, stats: Mapping[str, npt.NDArray[Any]]) -> xr.Dataset:
    """Add the statistics (and the ``quantile`` coordinate) to a per-replicate Dataset."""
    out = ds.assign_coords(
        {QUANTILE: (QUANTILE, np.asarray(QUANTILES, dtype=np.float64), _ATTRS[QUANTILE])}
    )
    for name in STATISTICS:
        out[name] = (_STAT_DIMS[name], np.asarray(stats[name]), _ATTRS[name])
    return out


# --------------------------------------------------------------------------------------------
# Storage of partial statistics (the ``_progress`` group of a streamed store).


def to_limbs(a: npt.NDArray[np.object_]) -> npt.NDArray[np.uint64]:
    """Non-negative exact integers < 2**192 as three little-endian uint64 limbs (last axis)."""
    if a.size and (int(a.min()) < 0 or int(a.max()) >> (64 * _LIMBS)):
        raise OverflowError("internal error: exact sum out of the range of the stored limbs")
    return np.stack([(a >> (64 * i)) & _MASK for i in range(_LIMBS)], axis=-1).astype(np.uint64)


def from_limbs(limbs: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Inverse of :func:`to_limbs`."""
    arr = np.asarray(limbs, dtype=np.uint64)
    out = np.zeros(arr.shape[:-1], dtype=object)
    for i in range(_LIMBS):
        out = out + (arr[..., i].astype(object) << (64 * i))
    return out


PARTIALS = (
    "count_sum",
    "count_sum_sq",
    "count_min",
    "count_max",
    "n_known",
    "n_extinct",
    "n_progressed",
)
"""Dense partial arrays stored per (point, block) in ``_progress/stats``."""


def create_partials(
    prog: Any,
    n_points: int,
    n_blocks: int,
    n_times: int,
    n_states: int,
    lead_dims: tuple[str, str] = ("grid_point", "block"),
) -> None:
    """Create the per-block partial-statistics arrays in the ``_progress`` group; ``lead_dims``
    names their (point, block) dimensions (named dimensions let xr.open_datatree read them)."""
    g = prog.create_group("stats", overwrite=True)
    lead = (n_points, n_blocks)
    for name in ("count_sum", "count_sum_sq"):
        g.create_array(
            name,
            shape=(*lead, n_times, n_states, _LIMBS),
            chunks=(1, 1, n_times, n_states, _LIMBS),
            dtype="uint64",
            fill_value=0,
            dimension_names=(*lead_dims, cv.TIME, cv.CELL_STATE, "limb"),
        )
    for name in ("count_min", "count_max"):
        g.create_array(
            name,
            shape=(*lead, n_times, n_states),
            chunks=(1, 1, n_times, n_states),
            dtype="int64",
            fill_value=0,
            dimension_names=(*lead_dims, cv.TIME, cv.CELL_STATE),
        )
    for name in ("n_known", "n_extinct", "n_progressed"):
        g.create_array(
            name,
            shape=(*lead, n_times),
            chunks=(1, 1, n_times),
            dtype="int64",
            fill_value=0,
            dimension_names=(*lead_dims, cv.TIME),
        )
    g.attrs["description"] = (
        "partial statistics of each (grid point, block), valid where block_done = 1: exact sums "
        "as 3 uint64 limbs (little-endian), min/max, tallies; hist_<p>_<b>: [key, count] of the "
        "non-empty count-histogram bins (dtp_gillespie.summary)"
    )


def write_partials(prog: Any, point: int, block: int, st: BlockStats) -> None:
    """Store one block's partial statistics (before its ``block_done`` is set)."""
    g = prog["stats"]
    g["count_sum"][point, block] = to_limbs(st.count_sum)
    g["count_sum_sq"][point, block] = to_limbs(st.count_sum_sq)
    for name in ("count_min", "count_max", "n_known", "n_extinct", "n_progressed"):
        g[name][point, block] = getattr(st, name)
    k = max(1, int(st.hist_key.size))
    name = f"hist_{point}_{block}"
    hist = g.create_array(
        name,
        shape=(2, k),
        chunks=(2, k),
        dtype="int64",
        overwrite=True,
        # A dimension of its own: each block's histogram has its own number of bins.
        dimension_names=("key_count", f"bin_{point}_{block}"),
    )
    data = np.zeros((2, k), dtype=np.int64)
    data[0, : st.hist_key.size] = st.hist_key
    data[1, : st.hist_count.size] = st.hist_count  # an empty histogram is one bin of count 0
    hist[...] = data


def read_partials(prog: Any, point: int, block: int) -> BlockStats:
    """Inverse of :func:`write_partials`."""
    g = prog["stats"]
    hist = np.asarray(g[f"hist_{point}_{block}"][...])
    keep = hist[1] > 0
    return BlockStats(
        count_sum=from_limbs(g["count_sum"][point, block]),
        count_sum_sq=from_limbs(g["count_sum_sq"][point, block]),
        count_min=np.asarray(g["count_min"][point, block], dtype=np.int64),
        count_max=np.asarray(g["count_max"][point, block], dtype=np.int64),
        n_known=np.asarray(g["n_known"][point, block], dtype=np.int64),
        n_extinct=np.asarray(g["n_extinct"][point, block], dtype=np.int64),
        n_progressed=np.asarray(g["n_progressed"][point, block], dtype=np.int64),
        hist_key=hist[0][keep].astype(np.int64),
        hist_count=hist[1][keep].astype(np.int64),
    )
