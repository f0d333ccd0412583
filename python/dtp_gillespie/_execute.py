"""The one run loop: ``execute(plan, sink, executor)``.

Every run goes through here: :func:`~dtp_gillespie.simulate` (in memory, summary, store, Dask),
:func:`~dtp_gillespie.sweep`, :func:`~dtp_gillespie.reproduce` and the CLI. The *plan*
(:mod:`dtp_gillespie._plan`) says which blocks of replicates to compute; the *executor*
(:mod:`dtp_gillespie._executors`: local threads or Dask) computes them; the *sink* (in-memory
Dataset, summary, zarr store) says what a block's work is and what becomes of its result.

This module owns the progress bar (:class:`Progress`) and the warning about replicates stopped
early (:func:`warn_capped`); the sinks own nothing of either.
"""

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

import xarray as xr

from . import conventions as cv
from ._block import Block, BlockResult, Capped
from ._method import population_cap_words
from ._options import Prepared
from ._plan import Plan

__all__ = ["Executor", "Progress", "Sink", "execute", "warn_capped"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Progress:
    """The progress bar of a run (tqdm, counting replicates), or nothing when ``progress`` is
    False; a str names the bar."""

    def __init__(self, progress: bool | str, total: int, initial: int = 0) -> None:
        self._bar: Any = None
        self._n = initial
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                initial=initial,
                unit="replicate",
                smoothing=0.1,
                desc=progress if isinstance(progress, str) else "simulate",
            )

    @property
    def n(self) -> int:
        """Replicates done so far."""
        return self._n

    def advance_to(self, n: int) -> None:
        """Set the count of replicates done."""
        if self._bar is not None and n != self._n:
            self._bar.update(n - self._n)
        self._n = n

    def engine_callback(self) -> Callable[[int], None] | None:
        """For one engine call starting now: a callback taking the call's replicates done (None
        without a bar, so that the engine does not call back at all)."""
        if self._bar is None:
            return None
        base = self._n
        return lambda done: self.advance_to(base + done)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()


Work = Callable[[Any, Callable[[int], None] | None], BlockResult]
"""A sink's work on one block (a module-level function, so that Dask can ship it)."""


class Sink(Protocol):
    """Where a run's blocks go. A sink is used once, by one :func:`execute`."""

    def session(self, plan: Plan) -> contextlib.AbstractContextManager[tuple[Plan, Any]]:
        """Open the destination for ``plan``: yields the plan to run (a store may impose its
        block size) and ``done[point, block]`` (blocks already there), or None for none."""
        ...

    @property
    def work(self) -> Work:
        """The function computing one block (runs on the executor)."""
        ...

    def job(self, plan: Plan, block: Block) -> Any:
        """What ``work`` takes for this block (the block, or the block and the store)."""
        ...

    def absorb(self, job: Any, payload: Any) -> None:
        """Take one block's payload (on the caller's side), in whatever order blocks finish."""
        ...

    def complete(self, plan: Plan) -> None:
        """Every block is done: finish the destination (still inside the session)."""
        ...

    def result(self, plan: Plan) -> xr.Dataset:
        """The run's output, after the session closed."""
        ...


class Executor(Protocol):
    """Runs a sink's work on blocks: locally (threads in the engine) or as Dask tasks."""

    def run(
        self,
        work: Work,
        jobs: Sequence[Any],
        on_result: Callable[[Any, BlockResult], None],
        progress: Progress,
    ) -> None:
        """Run ``work`` on every job, calling ``on_result(job, result)`` as each finishes and
        advancing ``progress``; on an error or interrupt, stop the jobs not done and re-raise."""
        ...


def execute(plan: Plan, sink: Sink, executor: Executor, progress: bool | str = False) -> xr.Dataset:
    """Run every block of ``plan`` not yet in ``sink`` on ``executor``; return the output.

    Warns (``UserWarning``) when replicates stopped early, if every block ran in this call (a
    resumed run cannot count the replicates of the blocks it found done)."""
    with sink.session(plan) as (plan, done):
        done_before = 0 if done is None else plan.replicates_in(done)
        capped = Capped()

        def absorb(job: Any, result: BlockResult) -> None:
            nonlocal capped
            capped += result.capped
            sink.absorb(job, result.payload)

        jobs = [sink.job(plan, block) for block in plan.blocks(done)]
        with Progress(progress, plan.total_replicates, done_before) as bar:
            executor.run(sink.work, jobs, absorb, bar)
        sink.complete(plan)
    out = sink.result(plan)
    if not done_before:
        warn_capped(capped, plan.total_replicates, plan.points[0].prep)
    return out


def warn_capped(capped: Capped, total: int, prep: Prepared) -> None:
    """The warning of a run whose replicates stopped early (by a cap or a rate overflow)."""
    parts = []
    if capped.max_events:
        parts.append(f"{capped.max_events} at max_events={prep.core_run['max_events']}")
    if capped.max_population:
        parts.append(f"{capped.max_population} {population_cap_words(prep.core_run)}")
    if capped.rate_overflow:
        parts.append(
            f"{capped.rate_overflow} at rate_overflow: their total event rate overflowed the "
            "largest float (lower the rates, or max_population)"
        )
    if not parts:
        return
    n = capped.max_events + capped.max_population + capped.rate_overflow
    warn(
        f"{n} of {total} replicates stopped early ({', '.join(parts)}); "
        f"their counts after stop_time are {cv.COUNT_UNKNOWN}"
    )


def warn(message: str) -> None:
    """A ``UserWarning`` attributed to the first caller outside this package (the user's line
    that started the run), however deep in the pipeline it is raised."""
    warnings.warn(message, UserWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the innermost frame outside this package, seen from ``warn``."""
    level = 1  # ``warn``'s own frame
    frame: Any = sys._getframe(1)
    while frame is not None:
        if not os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
            return level
        level += 1
        frame = frame.f_back
    return 2
