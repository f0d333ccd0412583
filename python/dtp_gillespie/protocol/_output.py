"""The Dataset of a protocol run, and the barcode tables analyses read from it.

Layout (docs/protocols.md, "Output"):

- ``total`` (replicate, flask, count_step, cell_state) int64: cells per state of each flask at
  each count step; -1 where unknown (a cap or a short bottleneck before it) or where the flask
  does not exist yet (a later split makes it);
- ``flask_status`` (replicate, flask, count_step) int8: the codes of ``FLASK_STATUS``;
- the barcode table, one row per (replicate, count_step, flask, barcode, state) with cells > 0,
  on dim ``barcode_row``, in that order: ``barcode_replicate``, ``barcode_count_step``,
  ``barcode_flask``, ``barcode``, ``barcode_state`` (index into ``cell_state``), ``barcode_count``;
- coordinates ``step`` (the count's index among the protocol's steps), ``elapsed`` (days since the
  start: the durations of the grow steps before it) and ``n_flasks`` on ``count_step``.
"""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from .. import _core
from .. import conventions as cv
from .._seeding import SeedInfo
from ..errors import InvalidRunError
from ._status import ABSENT, FLASK_STATUS, UNKNOWN_CODES
from ._steps import Count, Grow

if TYPE_CHECKING:
    from ._execute import BlockRecord
    from ._protocol import Protocol

__all__ = ["barcode_table", "build_result", "is_protocol_result"]

FLASK, COUNT_STEP, BARCODE_ROW = "flask", "count_step", "barcode_row"
TOTAL, FLASK_STATUS_VAR = "total", "flask_status"
ROW_VARIABLES = (
    "barcode_replicate",
    "barcode_count_step",
    "barcode_flask",
    "barcode",
    "barcode_state",
    "barcode_count",
)
ATTR_PROTOCOL = "protocol"


def _count_steps(protocol: "Protocol") -> tuple[list[int], list[float], list[int]]:
    """Per count step: its index among the steps, the days elapsed, the flasks then."""
    index, elapsed, flasks = [], [], []
    t = 0.0
    for s, step in enumerate(protocol.steps):
        if isinstance(step, Grow):
            t += step.duration
        elif isinstance(step, Count):
            index.append(s)
            elapsed.append(t)
            flasks.append(protocol.n_flasks(s))
    return index, elapsed, flasks


def build_result(
    protocol: "Protocol",
    records: Sequence["BlockRecord"],
    seed: SeedInfo,
    run: dict[str, Any],
) -> xr.Dataset:
    """The Dataset of a run from its blocks' records; ``run`` holds the run options that shape
    the result (``n_replicates``, ``replicate_offset``, ``max_events``, ``max_population``)."""
    replicate_offset, n_replicates = run["replicate_offset"], run["n_replicates"]
    index, elapsed, n_flasks = _count_steps(protocol)
    n_states = len(protocol.model.states)
    n_counts, n_flask_max = len(index), protocol.n_flasks()
    total = np.full((n_replicates, n_flask_max, n_counts, n_states), -1, dtype=np.int64)
    status = np.full((n_replicates, n_flask_max, n_counts), ABSENT, dtype=np.int8)
    for rec in records:
        a = rec.start - replicate_offset
        for c in range(n_counts):
            for f, (t, st) in enumerate(zip(rec.totals[c], rec.status[c], strict=True)):
                total[a : a + rec.size, f, c] = t
                status[a : a + rec.size, f, c] = st
    columns = [np.concatenate([r[j] for rec in records for r in rec.rows]) for j in range(6)]
    rep, step, flask, barcode, state, _ = columns
    order = np.lexsort((state, barcode, flask, step, rep))
    states = list(protocol.model.states)
    data: dict[str, Any] = {
        TOTAL: (
            (cv.REPLICATE, FLASK, COUNT_STEP, cv.CELL_STATE),
            total,
            {"units": "cells", "long_name": "cells per state (-1: unknown or no such flask)"},
        ),
        FLASK_STATUS_VAR: (
            (cv.REPLICATE, FLASK, COUNT_STEP),
            status,
            {
                "long_name": "state of the flask at the count",
                "flag_values": np.array(list(FLASK_STATUS.values()), dtype=np.int8),
                "flag_meanings": " ".join(FLASK_STATUS),
            },
        ),
    }
    dtypes = (np.int64, np.int64, np.int64, np.int64, np.int8, np.int64)
    for name, col, dtype in zip(ROW_VARIABLES, columns, dtypes, strict=True):
        data[name] = ((BARCODE_ROW,), col[order].astype(dtype), {})
    data["barcode_count"][2]["units"] = "cells"
    data["barcode_state"][2]["long_name"] = "index into cell_state"
    coords = {
        cv.REPLICATE: np.arange(replicate_offset, replicate_offset + n_replicates, dtype=np.int64),
        FLASK: np.arange(n_flask_max, dtype=np.int64),
        COUNT_STEP: np.arange(n_counts, dtype=np.int64),
        "step": (COUNT_STEP, np.array(index, dtype=np.int64)),
        "elapsed": (COUNT_STEP, np.array(elapsed, dtype=np.float64), {"units": cv.TIME_UNITS}),
        "n_flasks": (COUNT_STEP, np.array(n_flasks, dtype=np.int64)),
        cv.CELL_STATE: np.array(states, dtype=object),
    }
    attrs: dict[str, Any] = {
        ATTR_PROTOCOL: protocol.to_json(),
        cv.ATTR_RUN: json.dumps(run),
        "flask_status_codes": json.dumps(FLASK_STATUS),
        **{k: v for k, v in seed.attrs.items()},
        cv.ATTR_RNG: _core.RNG_NAME,
        cv.ATTR_VERSION: _core.__version__,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def is_protocol_result(data: object) -> bool:
    """True for a Dataset made by :meth:`Protocol.run`."""
    return isinstance(data, xr.Dataset) and ATTR_PROTOCOL in data.attrs and TOTAL in data


def _resolve_count_step(ds: xr.Dataset, count_step: int) -> int:
    n = ds.sizes[COUNT_STEP]
    if not -n <= count_step < n:
        raise InvalidRunError(
            f"count_step is {count_step!r}; the protocol has {n} count steps (0..{n - 1})"
        )
    return count_step % n


def barcode_table(
    ds: xr.Dataset, count_step: int = -1, states: Sequence[str] | None = None
) -> xr.DataArray:
    """Cells per barcode in each flask at one count step: dims (replicate, barcode, flask).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :meth:`Protocol.run`.
    count_step : int, default -1
        Which count (the last by default).
    states : sequence of str, optional
        States whose cells count (default: every state).

    Returns
    -------
    xarray.DataArray of int64
        The barcodes (coordinate ``barcode``) are every barcode recorded at any count step of
        the Dataset, so barcodes present before a split and lost in every flask are rows of
        zeros. Only the flasks existing at that count step are columns. A flask whose cells
        are unknown there (``flask_status`` a cap or ``short``) reads -1 in every row.
    """
    if not is_protocol_result(ds):
        raise InvalidRunError("expected a Dataset made by Protocol.run (a protocol result)")
    c = _resolve_count_step(ds, count_step)
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    chosen = names if states is None else list(states)
    for s in chosen:
        if s not in names:
            raise InvalidRunError(f"states names unknown state {s!r}; the states are {names}")
    n_flasks = int(ds["n_flasks"].values[c])
    barcodes = np.unique(ds["barcode"].values)
    reps = ds[cv.REPLICATE].values
    table = np.zeros((reps.size, barcodes.size, n_flasks), dtype=np.int64)
    rows = ds[list(ROW_VARIABLES)]
    state_ok = np.isin(rows["barcode_state"].values, [names.index(s) for s in chosen])
    pick = (rows["barcode_count_step"].values == c) & state_ok
    rep_pos = np.searchsorted(reps, rows["barcode_replicate"].values[pick])
    bc_pos = np.searchsorted(barcodes, rows["barcode"].values[pick])
    np.add.at(
        table,
        (rep_pos, bc_pos, rows["barcode_flask"].values[pick]),
        rows["barcode_count"].values[pick],
    )
    status = ds[FLASK_STATUS_VAR].values[:, :n_flasks, c]
    unknown = np.isin(status, UNKNOWN_CODES)
    table[np.broadcast_to(unknown[:, None, :], table.shape)] = -1
    return xr.DataArray(
        table,
        dims=(cv.REPLICATE, "barcode", FLASK),
        coords={cv.REPLICATE: reps, "barcode": barcodes, FLASK: np.arange(n_flasks)},
        name="barcode_cells",
    )


def barcodes_present(ds: xr.Dataset, count_step: int) -> npt.NDArray[np.int64] | None:
    """Per replicate, the barcodes present (in any flask, any state) at the latest count step
    before ``count_step`` with fewer flasks (the parent before the split), or None if there is
    none. -1 where that count is unknown."""
    c = _resolve_count_step(ds, count_step)
    n = ds["n_flasks"].values
    before = [j for j in range(c) if n[j] < n[c]]
    if not before:
        return None
    p = before[-1]
    reps = ds[cv.REPLICATE].values
    pick = ds["barcode_count_step"].values == p
    rep = ds["barcode_replicate"].values[pick]
    key = np.stack([rep, ds["barcode"].values[pick]], axis=1)
    distinct = np.unique(key, axis=0) if key.size else key.reshape(0, 2)
    out = np.zeros(reps.size, dtype=np.int64)
    np.add.at(out, np.searchsorted(reps, distinct[:, 0]), 1)
    status = ds[FLASK_STATUS_VAR].values[:, : int(n[p]), p]
    out[np.isin(status, UNKNOWN_CODES).any(axis=1)] = -1
    return out


def known_totals(ds: xr.Dataset, state: str | None, count_step: int = -1) -> npt.NDArray[np.int64]:
    """The cells of ``state`` in every flask whose cells are known at ``count_step`` (alive or
    extinct), over replicates and flasks: the cultures of a fluctuation test."""
    if not is_protocol_result(ds):
        raise InvalidRunError("expected a Dataset made by Protocol.run (a protocol result)")
    names = [str(s) for s in ds[cv.CELL_STATE].values]
    if state not in names:
        raise InvalidRunError(f"state is {state!r}; choose the counted state among {names}")
    c = _resolve_count_step(ds, count_step)
    status = ds[FLASK_STATUS_VAR].values[:, :, c]
    counts = ds[TOTAL].values[:, :, c, names.index(state)]
    known = (status == FLASK_STATUS["alive"]) | (status == FLASK_STATUS["extinct"])
    return np.asarray(counts[known], dtype=np.int64)
