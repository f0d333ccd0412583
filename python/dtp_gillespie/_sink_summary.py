"""The summary sink without a store: per-replicate summaries and ensemble statistics in memory.

Memory stays at a block plus the per-replicate summaries and one merged set of partial
statistics per grid point (each block's is merged in as it arrives: the merge is exact and
order-free, so the result does not depend on the block size, the executor or the order in
which blocks finish). Identical to the streamed summary (:mod:`dtp_gillespie._sink_store`).
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import xarray as xr

from . import conventions as cv
from . import summary
from ._block import Block, BlockResult, block_dataset, simulate_block
from ._plan import Plan, combine_points, expand
from ._pool_steps import PoolSteps, total

__all__ = ["SummarySink", "summarise_block"]


def summarise_block(block: Block, progress: Any = None) -> BlockResult:
    """Work of one block: its per-replicate Dataset, its partial statistics and its regime
    counts."""
    arrays, capped, pool_steps = simulate_block(block, progress)
    stats = summary.block_stats(arrays, block.prep.times)
    offset = int(block.prep.core_run["replicate_offset"]) + block.start
    per_rep = summary.per_replicate(block_dataset(block.prep, arrays, offset))
    return BlockResult((per_rep, stats, pool_steps), capped)


class SummarySink:
    """Keeps each block's per-replicate summaries and merges its statistics as it arrives."""

    work = staticmethod(summarise_block)

    def __init__(self) -> None:
        self._per_replicate: dict[tuple[int, int], xr.Dataset] = {}
        self._merged: dict[int, summary.BlockStats] = {}
        self._pool_steps: dict[int, PoolSteps | None] = {}

    @contextlib.contextmanager
    def session(self, plan: Plan) -> Iterator[tuple[Plan, None]]:
        yield plan, None

    def job(self, plan: Plan, block: Block) -> Block:
        return block

    def absorb(
        self, job: Block, payload: tuple[xr.Dataset, summary.BlockStats, PoolSteps | None]
    ) -> None:
        per_rep, stats, pool_steps = payload
        p = job.point
        self._per_replicate[p, job.block] = per_rep
        self._pool_steps[p] = total([self._pool_steps.get(p), pool_steps])
        merged = self._merged
        merged[p] = stats if p not in merged else summary.merge_stats([merged[p], stats])

    def complete(self, plan: Plan) -> None:
        pass

    def result(self, plan: Plan) -> xr.Dataset:
        datasets = []
        for p, point in enumerate(plan.points):
            blocks = [self._per_replicate.pop((p, b)) for b in range(plan.n_blocks)]
            per_rep = xr.concat(blocks, dim=cv.REPLICATE, data_vars="minimal", coords="minimal")
            per_rep.attrs = dict(blocks[0].attrs)
            stats = summary.statistics(self._merged.pop(p))
            datasets.append(expand(plan, summary.with_statistics(per_rep, stats), point))
        pool_steps = [self._pool_steps.get(p) for p in range(len(plan.points))]
        return combine_points(plan, datasets, pool_steps)
