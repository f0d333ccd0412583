"""One block of replicates: the engine call every sink and executor runs, and what it returns."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import xarray as xr

from . import _core
from . import conventions as cv
from ._dataset import build_dataset
from ._options import Prepared
from ._pool_steps import PoolSteps, take

__all__ = [
    "Block",
    "BlockResult",
    "Capped",
    "Simulated",
    "block_dataset",
    "capped_counts",
    "simulate_block",
]


@dataclass(frozen=True)
class Capped:
    """How many replicates stopped early, by reason (the codes of ``cv.STATUS_CAPPED``); adds up
    over blocks."""

    max_events: int = 0
    max_population: int = 0
    rate_overflow: int = 0

    def __add__(self, other: "Capped") -> "Capped":
        return Capped(
            self.max_events + other.max_events,
            self.max_population + other.max_population,
            self.rate_overflow + other.rate_overflow,
        )


def capped_counts(status: npt.NDArray[Any]) -> Capped:
    """Replicates stopped at max_events, at max_population and by a rate overflow."""
    return Capped(
        int(np.count_nonzero(status == cv.STATUS_MAX_EVENTS)),
        int(np.count_nonzero(status == cv.STATUS_MAX_POPULATION)),
        int(np.count_nonzero(status == cv.STATUS_RATE_OVERFLOW)),
    )


@dataclass(frozen=True)
class Block:
    """Replicates ``start:stop`` (positions within the run) of grid point number ``point``: the
    unit of work of every executor. Sinks that need more (a store's location) subclass it."""

    point: int
    block: int
    start: int
    stop: int
    prep: Prepared
    index: tuple[int, ...] = ()
    """The grid point's index along the sweep dimensions (empty for a plain run)."""
    n_threads: int | None = None
    """Engine threads (None: the run's ``n_threads``, else every core)."""

    @property
    def size(self) -> int:
        """Replicates in the block."""
        return self.stop - self.start


class BlockResult(NamedTuple):
    """What a sink's work function returns for one block: its payload (for the sink's
    ``absorb``) and its replicates stopped early (for the one cap warning)."""

    payload: Any
    capped: Capped


class Simulated(NamedTuple):
    """One engine call: the output arrays of its replicates, those stopped early, and (jump
    runs) its per-pool regime counts (:mod:`dtp_gillespie._pool_steps`)."""

    arrays: dict[str, npt.NDArray[Any]]
    capped: Capped
    pool_steps: PoolSteps | None


def simulate_block(block: Block, progress: Callable[[int], None] | None = None) -> Simulated:
    """The engine's arrays of one block, its replicates stopped early and its regime counts."""
    prep = block.prep
    run = prep.core_run.copy()
    run["replicate_offset"] = prep.core_run.get("replicate_offset", 0) + block.start
    run["n_replicates"] = block.size
    if block.n_threads is not None:
        run["n_threads"] = block.n_threads
    arrays = _core.simulate_ensemble(prep.core_model, prep.core_schedule, run, progress)
    pool_steps = take(arrays)
    return Simulated(arrays, capped_counts(np.asarray(arrays[cv.STATUS])), pool_steps)


def block_dataset(prep: Prepared, arrays: Mapping[str, Any], replicate_offset: int) -> xr.Dataset:
    """The Dataset :func:`~dtp_gillespie.simulate` would build from these engine arrays."""
    return build_dataset(
        states=prep.model.states,
        exposures=prep.model.exposures,
        times=prep.times,
        replicate_offset=replicate_offset,
        arrays=arrays,
        model_spec=prep.model.to_dict(),
        schedule_spec=prep.schedule.to_dict(),
        run_spec=prep.run_spec,
        seed_attrs=prep.seed_attrs,
        rng=_core.RNG_NAME,
        version=_core.__version__,
        # The engine returns ``concentration`` exactly when the schedule has one (pk).
        concentration=cv.CONCENTRATION in arrays,
        biomarker=prep.model.biomarker,
        barcode_times=None if prep.lineages is None else prep.lineages.times,
        clones=prep.lineages is not None and prep.lineages.clones,
    )
