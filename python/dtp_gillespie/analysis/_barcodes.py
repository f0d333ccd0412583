"""Barcodes and clones of a run: dense per-barcode counts and clone sizes from the long tables.

A run with ``barcodes=`` (or ``clones=True``) stores its lineage sizes as a long table (dim
``lineage_row``: one row per replicate, barcode time, lineage and state with a count > 0; see
docs/lineages.md). These functions turn it into the tables the analyses take:

- :func:`barcode_counts`: cells per (replicate, barcode) at one barcode time, a dense
  DataArray (refused when it would exceed the memory limit);
- :func:`sister_table`: the same with the replicates as flasks, dims ``(barcode, flask)``, the
  input of :func:`~dtp_gillespie.analysis.sister_overlap`;
- :func:`clone_sizes`: the size of every clone of the clone table at one barcode time.

For :func:`~dtp_gillespie.analysis.fluctuation_test`, each barcode of one replicate is a
culture: ``fluctuation_test(barcode_counts(ds, state="R").isel(replicate=0).values)``.

The tables are read in slices of :data:`ROWS_PER_READ` rows, so a stored run (opened lazily)
is never loaded whole.
"""

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from .. import conventions as cv
from .._memory import LIMIT_ENV, memory_limit
from ..errors import InvalidRunError

__all__ = ["ROWS_PER_READ", "barcode_counts", "clone_sizes", "sister_table"]

BARCODE, FLASK = "barcode", "flask"
ROWS_PER_READ = 1 << 22
"""Rows of the lineage table read at once (about 150 MB of columns)."""


def _selection(
    ds: xr.Dataset, what: str, time: float | None, state: str | Sequence[str] | None
) -> tuple[int, float, npt.NDArray[np.int64]]:
    """The rows a function counts: the position and value of the barcode time, and the state
    codes (refusing a Dataset without the lineage table)."""
    _needs_table(ds, what)
    k = _time_index(ds, time)
    return k, float(ds[cv.BARCODE_TIME].values[k]), _state_codes(ds, state)


def _needs_table(ds: xr.Dataset, what: str) -> None:
    if cv.LINEAGE_COUNT not in ds:
        raise InvalidRunError(
            f"{what} needs the lineage table (lineage_count); the Dataset has none: run with "
            "barcodes= (e.g. 'founders' or a number of barcodes) or clones=True"
        )
    if cv.LINEAGE_REPLICATE in ds and len(ds[cv.LINEAGE_REPLICATE].dims) != 1:
        raise InvalidRunError(f"{what} takes one run's Dataset (the lineage table is 1-D)")


def _time_index(ds: xr.Dataset, time: float | None) -> int:
    """Position along ``barcode_time`` of ``time`` (default: the last barcode time)."""
    times = np.asarray(ds[cv.BARCODE_TIME].values, dtype=np.float64)
    if times.size == 0:
        raise InvalidRunError("the run recorded no barcode times (barcode_times=[])")
    if time is None:
        return int(times.size - 1)
    t = float(time)
    hits = np.flatnonzero(np.isclose(times, t, rtol=1e-12, atol=0.0))
    if hits.size == 0:
        raise InvalidRunError(f"time is {time!r}; the barcode times are {times.tolist()}")
    return int(hits[0])


def _state_codes(ds: xr.Dataset, state: str | Sequence[str] | None) -> npt.NDArray[np.int64]:
    """The codes (positions along ``cell_state``) of the states to count (None: every one)."""
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    if state is None:
        return np.arange(len(names), dtype=np.int64)
    wanted = [state] if isinstance(state, str) else list(state)
    for s in wanted:
        if s not in names:
            raise InvalidRunError(f"state is {s!r}; the run's states are {names}")
    return np.asarray([names.index(s) for s in wanted], dtype=np.int64)


def _n_barcodes(ds: xr.Dataset) -> int | None:
    """The number of barcodes the run gave out (from its ``run`` attribute), if known."""
    try:
        run = json.loads(ds.attrs[cv.ATTR_RUN])
    except (KeyError, TypeError, ValueError):
        return None
    barcodes = run.get("barcodes")
    if barcodes is None:
        return 1 if run.get("clones") else None
    if barcodes == "founders":
        return int(sum(run["initial"].values()))
    return int(barcodes)


def _unknown(ds: xr.Dataset, t: float) -> npt.NDArray[np.bool_]:
    """Replicates whose lineages at ``t`` are unknown: not run yet (an unfinished store), or
    stopped by a cap before ``t``."""
    status = np.asarray(ds[cv.STATUS].values)
    stop = np.asarray(ds[cv.STOP_TIME].values, dtype=np.float64)
    known = np.isin(status, list(cv.STATUS_CODES.values())) & np.isfinite(stop)
    capped = np.isin(status, cv.STATUS_CAPPED) & (stop < t)
    return np.asarray(~known | capped)


def _rows(
    ds: xr.Dataset, k: int, codes: npt.NDArray[np.int64], columns: Sequence[str]
) -> "list[dict[str, npt.NDArray[np.int64]]]":
    """The lineage rows at barcode time ``k`` in the states ``codes``, slice by slice:
    ``columns`` (and ``lineage_replicate``, ``lineage_count``) of each slice."""
    n = ds.sizes[cv.LINEAGE_ROW]
    wanted = {cv.LINEAGE_REPLICATE, cv.LINEAGE_COUNT, *columns}
    out = []
    for start in range(0, n, ROWS_PER_READ):
        part = ds[[cv.LINEAGE_TIME, cv.LINEAGE_STATE, *sorted(wanted)]].isel(
            {cv.LINEAGE_ROW: slice(start, start + ROWS_PER_READ)}
        )
        keep = (np.asarray(part[cv.LINEAGE_TIME].values) == k) & np.isin(
            np.asarray(part[cv.LINEAGE_STATE].values), codes
        )
        out.append({c: np.asarray(part[c].values)[keep].astype(np.int64) for c in wanted})
    return out


def barcode_counts(
    ds: xr.Dataset, time: float | None = None, state: str | Sequence[str] | None = None
) -> xr.DataArray:
    """Cells of each barcode in each replicate at one barcode time: a dense table.

    Parameters
    ----------
    ds : xarray.Dataset
        A run with ``barcodes=`` (in memory, or a store opened with
        :func:`~dtp_gillespie.open_run`); a selection of its replicates
        (``ds.isel(replicate=...)``) counts only those.
    time : float, optional
        One of the ``barcode_time`` values; default the last.
    state : str or list of str, optional
        Count the cells of these states only; default every state.

    Returns
    -------
    xarray.DataArray
        int64, dims ``(replicate, barcode)``, ``barcode`` = 0 .. B - 1 (B: the run's number of
        barcodes; every clone of a barcode counted together). A replicate whose lineages at
        ``time`` are unknown (stopped by a cap before it, or not run yet in an unfinished
        store) reads -1 in every column.

    Raises
    ------
    InvalidRunError
        The Dataset has no lineage table, ``time`` is not a barcode time, an unknown state, or
        the table (replicates x barcodes x 8 bytes) would exceed the memory limit
        (``DTP_GILLESPIE_MEMORY_LIMIT_GIB``; the long table itself has no such limit).
    """
    k, t, codes = _selection(ds, "barcode_counts", time, state)
    replicates = np.asarray(ds[cv.REPLICATE].values, dtype=np.int64)
    slices = _rows(ds, k, codes, [cv.LINEAGE_BARCODE])
    top = max((int(s[cv.LINEAGE_BARCODE].max(initial=-1)) for s in slices), default=-1)
    n_barcodes = max(_n_barcodes(ds) or 0, top + 1, 1)
    nbytes = 8 * replicates.size * n_barcodes
    limit, source = memory_limit()
    if nbytes > limit:
        raise InvalidRunError(
            f"barcode_counts would build a dense table of {replicates.size} replicates x "
            f"{n_barcodes} barcodes (int64), about {nbytes / (1 << 30):.3g} GiB, more than the "
            f"memory limit of {limit / (1 << 30):.3g} GiB ({source}); select fewer replicates "
            f"(ds.isel(replicate=...)), raise {LIMIT_ENV}, or work on the long table "
            "(lineage_* variables) directly"
        )
    order = np.argsort(replicates, kind="stable")
    table = np.zeros((replicates.size, n_barcodes), dtype=np.int64)
    for s in slices:
        pos = np.searchsorted(replicates, s[cv.LINEAGE_REPLICATE], sorter=order)
        pos = np.minimum(pos, replicates.size - 1)
        rows = order[pos]
        here = replicates[rows] == s[cv.LINEAGE_REPLICATE]
        np.add.at(table, (rows[here], s[cv.LINEAGE_BARCODE][here]), s[cv.LINEAGE_COUNT][here])
    table[_unknown(ds, t)] = -1
    return xr.DataArray(
        table,
        dims=(cv.REPLICATE, BARCODE),
        coords={cv.REPLICATE: ds[cv.REPLICATE].values, BARCODE: np.arange(n_barcodes)},
        name="barcode_count",
        attrs={
            "units": "1",
            "long_name": "cells of each barcode",
            "comment": (
                f"at barcode time {t!r}"
                + ("" if state is None else f" in states {[str(s) for s in np.atleast_1d(state)]}")
                + "; -1: unknown (the replicate was stopped by a cap before it, or not run yet)"
            ),
        },
    )


def sister_table(
    ds: xr.Dataset, time: float | None = None, state: str | Sequence[str] | None = None
) -> xr.DataArray:
    """:func:`barcode_counts` with the replicates as flasks: dims ``(barcode, flask)``, the
    input of :func:`~dtp_gillespie.analysis.sister_overlap`.

    The replicates of a run share their barcode labels (with ``barcodes="founders"``, barcode
    ``k`` is initial cell ``k`` in every replicate), so each replicate is a flask seeded with
    the same labelled founders. Replicates with unknown counts (-1) are refused."""
    counts = barcode_counts(ds, time, state)
    if bool((counts < 0).any()):
        bad = counts[cv.REPLICATE].values[np.asarray((counts < 0).any(BARCODE))].tolist()
        raise InvalidRunError(
            f"replicates {bad[:5]} have unknown barcode counts (stopped by a cap before the "
            "barcode time, or not run yet); select the others (ds.isel(replicate=...))"
        )
    return counts.rename({cv.REPLICATE: FLASK}).transpose(BARCODE, FLASK)


def _pairs(replicate: npt.NDArray[np.int64], clone: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """(replicate, clone) pairs as one structured array, ordered as the clone table is."""
    out = np.empty(replicate.size, dtype=[("replicate", np.int64), ("clone", np.int64)])
    out["replicate"], out["clone"] = replicate, clone
    return out


def clone_sizes(
    ds: xr.Dataset, time: float | None = None, state: str | Sequence[str] | None = None
) -> xr.DataArray:
    """Cells of each clone of the clone table at one barcode time.

    Parameters
    ----------
    ds : xarray.Dataset
        A run with ``clones=True``.
    time : float, optional
        One of the ``barcode_time`` values; default the last.
    state : str or list of str, optional
        Count the cells of these states only; default every state.

    Returns
    -------
    xarray.DataArray
        int64 on dim ``clone_row`` (aligned with ``clone_id``, ``clone_birth_time``, ...): 0
        for a clone born after ``time`` or extinct by then, -1 where its replicate's lineages
        are unknown at ``time`` (stopped by a cap before it, not run yet). Clones of replicates
        outside a selection (``ds.isel(replicate=...)``) read -1 too.
    """
    k, t, codes = _selection(ds, "clone_sizes", time, state)
    if cv.CLONE_ID not in ds:
        raise InvalidRunError("clone_sizes needs the clone table; run with clones=True")
    clone_rep = np.asarray(ds[cv.CLONE_REPLICATE].values, dtype=np.int64)
    clone_id = np.asarray(ds[cv.CLONE_ID].values, dtype=np.int64)
    # The clone table is ordered by (replicate, clone id): find each row's clone by bisection.
    keys = _pairs(clone_rep, clone_id)
    sizes = np.zeros(clone_id.size, dtype=np.int64)
    for s in _rows(ds, k, codes, [cv.LINEAGE_CLONE]) if clone_id.size else []:
        mine = s[cv.LINEAGE_CLONE] > 0
        query = _pairs(s[cv.LINEAGE_REPLICATE][mine], s[cv.LINEAGE_CLONE][mine])
        pos = np.minimum(np.searchsorted(keys, query), clone_id.size - 1)
        found = keys[pos] == query
        np.add.at(sizes, pos[found], s[cv.LINEAGE_COUNT][mine][found])
    replicates = np.asarray(ds[cv.REPLICATE].values, dtype=np.int64)
    unknown_reps = replicates[_unknown(ds, t)]
    unknown = np.isin(clone_rep, unknown_reps) | ~np.isin(clone_rep, replicates)
    sizes[unknown] = -1
    return xr.DataArray(
        sizes,
        dims=(cv.CLONE_ROW,),
        name="clone_size",
        attrs={
            "units": "1",
            "long_name": "cells of the clone",
            "comment": f"at barcode time {t!r}; -1: unknown",
        },
    )
