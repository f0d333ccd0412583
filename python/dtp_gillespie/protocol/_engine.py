"""A ``grow`` step of one flask: one engine call over a block's replicates, from their lineage
tables to the lineage tables at the end of the step.

The engine starts each replicate from its table (``start = "table"``, ``LineageSpec`` in
``_core.pyi``) and records
the lineages once, at the step's end (its only barcode time); the long table of lineage sizes it
returns is folded back into one table per replicate. A replicate stopped by a cap has no rows
there (its cells are unknown), and comes back as unknown.
"""

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from .. import _core
from .. import conventions as cv
from .._options import Prepared
from ._population import Population

if TYPE_CHECKING:
    from .._core import RunSpec

__all__ = ["grow_population"]


def grow_population(
    prep: Prepared,
    population: Population,
    key: bytes,
    replicate_offset: int,
    n_threads: int | None,
) -> tuple[Population, npt.NDArray[np.int8]]:
    """The flask's lineages after the step, and the engine's status of each replicate.

    ``prep`` is the step's run (model, schedule, ``t_end`` = the step's duration, record and
    barcode time ``t_end``); ``key`` the flask's stream; replicate ``i`` of the block is the
    engine's replicate ``replicate_offset + i``. Unknown replicates start empty and stay
    unknown.
    """
    n = population.size
    duration = float(prep.core_run["t_end"])
    run: dict[str, Any] = dict(prep.core_run)
    run.update(
        seed_key=key,
        replicate_offset=replicate_offset,
        n_replicates=n,
        n_threads=n_threads,
        lineages={
            "start": "table",
            "times": [duration],
            "clones": False,
            "table_offsets": population.offsets,
            "table_barcode": population.barcode,
            "table_clone": population.clone,
            "table_count": population.count,
        },
    )
    arrays = _core.simulate_ensemble(
        prep.core_model, prep.core_schedule, cast("RunSpec", run), None
    )
    status = np.asarray(arrays[cv.STATUS]).astype(np.int8)
    known = population.known & ~np.isin(status, cv.STATUS_CAPPED)
    return _fold(arrays, n, replicate_offset, population.count.shape[1], known), status


def _fold(
    arrays: dict[str, Any], n: int, replicate_offset: int, n_states: int, known: Any
) -> Population:
    """One table per replicate from the engine's long table (rows ordered by replicate, then
    lineage, then state)."""
    rep = np.asarray(arrays["lineage_replicate"], dtype=np.int64) - replicate_offset
    barcode = np.asarray(arrays["lineage_barcode"], dtype=np.int64)
    clone = np.asarray(arrays["lineage_clone"], dtype=np.int64)
    state = np.asarray(arrays["lineage_state"], dtype=np.int64)
    count = np.asarray(arrays["lineage_count"], dtype=np.int64)
    keep = known[rep] if rep.size else np.zeros(0, bool)
    rep, barcode, clone, state, count = (
        rep[keep],
        barcode[keep],
        clone[keep],
        state[keep],
        count[keep],
    )
    new = np.ones(rep.size, dtype=bool)
    new[1:] = (np.diff(rep) != 0) | (np.diff(barcode) != 0) | (np.diff(clone) != 0)
    lineage = np.cumsum(new) - 1
    n_lineages = int(new.sum())
    table = np.zeros((n_lineages, n_states), dtype=np.int64)
    np.add.at(table, (lineage, state), count)
    first = np.flatnonzero(new)
    offsets = np.searchsorted(rep[first], np.arange(n + 1)).astype(np.int64)
    return Population(
        offsets=offsets,
        barcode=barcode[first],
        clone=clone[first],
        count=table,
        known=np.asarray(known, dtype=bool),
    )
