"""The engine's own count of the regime of each pool of a jump run: the output attribute
``jump_pool_steps`` (docs/jumps.md).

Each engine call of a jump run (a block of replicates) returns, per pool (state), the
(replicate, step) pairs it simulated event by event, jumped and found empty, and the emitting
lineages it simulated (``_core.simulate_ensemble``'s ``jump_pool_steps``, shape
``(n_states, 4)``). A run's counts are the sum over its blocks: the in-memory and summary sinks
add the blocks they hold; a streamed store keeps each block's counts in its ``_progress`` group
(written before the block is marked done, so a resumed run finds those of the blocks done
before) and writes their sum into its attributes when the last block is done. Integer sums: the
result does not depend on the block size, the thread count or the order in which blocks finish.

A plain run's attribute is a JSON object, per state
``{"event_by_event": ..., "jumped": ..., "empty": ..., "emitting_lineages": ...}``; a sweep's is
a JSON list of them, one per grid point in C order (``null`` where exact SSA ran). SSA runs have
no such attribute.
"""

import json
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import conventions as cv
from . import store_safety as safety

__all__ = [
    "POOL_STEPS",
    "REGIMES",
    "PoolSteps",
    "create_progress",
    "pool_steps_attrs",
    "runs_jumps",
    "stored_pool_steps",
    "take",
    "total",
    "write_progress",
]

POOL_STEPS = "jump_pool_steps"
"""The engine's result key, the output attribute and the store's progress array."""

REGIMES = ("event_by_event", "jumped", "empty", "emitting_lineages")
"""The columns of the engine's array, as the attribute names them."""

PoolSteps = npt.NDArray[np.int64]
"""One block's (or a run's) counts, shape ``(n_states, len(REGIMES))``."""


def take(arrays: MutableMapping[str, Any]) -> PoolSteps | None:
    """Remove a block's counts from the engine's arrays (None: not a jump run)."""
    steps = arrays.pop(POOL_STEPS, None)
    return None if steps is None else np.asarray(steps, dtype=np.int64)


def total(blocks: Iterable[PoolSteps | None]) -> PoolSteps | None:
    """The sum of the blocks' counts (None if no block ran jumps)."""
    out: PoolSteps | None = None
    for steps in blocks:
        if steps is not None:
            out = steps.copy() if out is None else out + steps
    return out


def _by_state(states: Sequence[str], steps: PoolSteps) -> dict[str, dict[str, int]]:
    return {
        state: {name: int(v) for name, v in zip(REGIMES, row, strict=True)}
        for state, row in zip(states, steps, strict=True)
    }


def pool_steps_attrs(states: Sequence[str], points: Sequence[PoolSteps | None]) -> dict[str, str]:
    """The ``jump_pool_steps`` attribute of a run from its grid points' counts (C order; one
    point for a plain run): empty if no point ran jumps."""
    if all(p is None for p in points):
        return {}
    if len(points) == 1 and points[0] is not None:
        return {POOL_STEPS: json.dumps(_by_state(states, points[0]))}
    per_point = [None if p is None else _by_state(states, p) for p in points]
    return {POOL_STEPS: json.dumps(per_point)}


# --------------------------------------------------------------------------------------------
# A streamed store: each block's counts in the ``_progress`` group.


def create_progress(
    prog: Any, n_points: int, n_blocks: int, n_states: int, lead_dims: tuple[str, str]
) -> None:
    """Create the per-block counts array (``-1``: block not written) in the ``_progress``
    group; ``lead_dims`` names its (point, block) dimensions."""
    prog.create_array(
        POOL_STEPS,
        shape=(n_points, n_blocks, n_states, len(REGIMES)),
        chunks=(1, 1, n_states, len(REGIMES)),
        dtype="int64",
        fill_value=-1,
        compressors=safety.checksummed_codecs(),
        dimension_names=(*lead_dims, cv.CELL_STATE, "pool_regime"),
    )


def write_progress(prog: Any, point: int, block: int, steps: PoolSteps | None) -> None:
    """Store one block's counts (before its ``block_done`` is set), if the store keeps them
    (a store written by a version without them does not; its run then has no attribute)."""
    if steps is not None and POOL_STEPS in prog:
        prog[POOL_STEPS][point, block] = steps


def stored_pool_steps(prog: Any, states: Sequence[str]) -> dict[str, str]:
    """The ``jump_pool_steps`` attribute from a finished store's per-block counts: a point none
    of whose blocks wrote counts ran exact SSA. Empty if the store keeps no counts, or if a
    point has only some of its blocks' counts (never so in a finished store)."""
    if POOL_STEPS not in prog:
        return {}
    points: list[PoolSteps | None] = []
    for blocks in np.asarray(prog[POOL_STEPS][...], dtype=np.int64):
        written = (blocks >= 0).all(axis=(1, 2))
        if written.all():
            points.append(total(blocks))
        elif written.any():
            return {}
        else:
            points.append(None)
    return pool_steps_attrs(states, points)


def runs_jumps(core_runs: Iterable[Any]) -> bool:
    """Whether any of these engine run dicts runs jumps (its blocks return counts)."""
    return any(run.get("method") == "jump" for run in core_runs)
