"""The in-memory sink: every replicate's trajectories, returned as one Dataset.

Run locally, a grid point is one block (one engine call over all its replicates, spread over the
engine's threads); on Dask, the plan's blocks come back to the client and are joined in order.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from ._block import Block, BlockResult, block_dataset, simulate_block
from ._plan import Plan, combine_points, expand
from ._pool_steps import PoolSteps, total

__all__ = ["MemorySink"]


def compute_arrays(block: Block, progress: Any = None) -> BlockResult:
    """Work of one block: the engine's arrays and its regime counts."""
    arrays, capped, pool_steps = simulate_block(block, progress)
    return BlockResult((arrays, pool_steps), capped)


class MemorySink:
    """Keeps every block's arrays; :meth:`result` builds the run's Dataset."""

    work = staticmethod(compute_arrays)

    def __init__(self) -> None:
        self._arrays: dict[tuple[int, int], dict[str, npt.NDArray[Any]]] = {}
        self._pool_steps: dict[tuple[int, int], PoolSteps | None] = {}

    @contextlib.contextmanager
    def session(self, plan: Plan) -> Iterator[tuple[Plan, None]]:
        yield plan, None

    def job(self, plan: Plan, block: Block) -> Block:
        return block

    def absorb(
        self, job: Block, payload: tuple[dict[str, npt.NDArray[Any]], PoolSteps | None]
    ) -> None:
        self._arrays[job.point, job.block], self._pool_steps[job.point, job.block] = payload

    def complete(self, plan: Plan) -> None:
        pass

    def result(self, plan: Plan) -> xr.Dataset:
        datasets = []
        pool_steps = []
        for p, point in enumerate(plan.points):
            pool_steps.append(total(self._pool_steps.pop((p, b)) for b in range(plan.n_blocks)))
            blocks = [self._arrays.pop((p, b)) for b in range(plan.n_blocks)]
            arrays = (
                blocks[0]
                if len(blocks) == 1
                else {k: np.concatenate([r[k] for r in blocks]) for k in blocks[0]}
            )
            offset = int(point.prep.core_run["replicate_offset"])
            datasets.append(expand(plan, block_dataset(point.prep, arrays, offset), point))
        return combine_points(plan, datasets, pool_steps)
