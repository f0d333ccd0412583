"""Executors: who computes a plan's blocks. Locally, one block after another (the engine spreads
each block's replicates over ``n_threads`` threads), or as Dask tasks on a ``distributed`` client
(each task uses as many engine threads as its worker has). The result is bit-identical either
way: a replicate's stream depends only on the seed and its global index."""

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from ._block import BlockResult
from ._execute import Progress, Work
from .errors import InvalidRunError

__all__ = ["DaskExecutor", "LocalExecutor", "executor_for"]


class LocalExecutor:
    """Blocks in this process, in plan order, with a live progress bar from the engine."""

    def run(
        self,
        work: Work,
        jobs: Sequence[Any],
        on_result: Callable[[Any, BlockResult], None],
        progress: Progress,
    ) -> None:
        for job in jobs:
            base = progress.n
            result = work(job, progress.engine_callback())
            progress.advance_to(base + job.size)
            on_result(job, result)


class DaskExecutor:
    """Blocks as Dask tasks, taken in as they finish; an error or interrupt cancels the rest."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(
        self,
        work: Work,
        jobs: Sequence[Any],
        on_result: Callable[[Any, BlockResult], None],
        progress: Progress,
    ) -> None:
        from distributed import as_completed

        futures = {
            self.client.submit(
                _on_worker,
                work,
                job,
                pure=False,
                key=f"dtp-gillespie-block-{job.point}-{job.block}-{os.urandom(4).hex()}",
            ): job
            for job in jobs
        }
        try:
            for fut in as_completed(futures):  # type: ignore[no-untyped-call]
                job = futures[fut]
                on_result(job, fut.result())
                progress.advance_to(progress.n + job.size)
        except BaseException:
            self.client.cancel(list(futures))
            raise


def _on_worker(work: Work, job: Any) -> BlockResult:
    """Dask task: one block, with as many engine threads as the worker has (unless the run
    fixed ``n_threads``)."""
    if job.n_threads is None and job.prep.core_run.get("n_threads") is None:
        try:
            from distributed import get_worker

            nthreads = int(get_worker().state.nthreads)
            job = dataclasses.replace(job, n_threads=max(1, nthreads))
        except Exception:  # pragma: no cover - not on a worker
            pass
    return work(job, None)


def executor_for(client: Any) -> LocalExecutor | DaskExecutor:
    """The executor of a run: Dask with a client, else local."""
    if client is None:
        return LocalExecutor()
    if not callable(getattr(client, "submit", None)):
        raise InvalidRunError(
            f"client is {client!r}; expected a distributed.Client (or None to run locally)"
        )
    return DaskExecutor(client)
