"""Stub of the compiled engine (``dtp_gillespie._core``). Private: use the public API instead.

The Python layer compiles the declarative spec into the flat tables below; the engine re-checks
them (finite, non-negative, in range) and raises the ``ValueError`` subclasses of
``dtp_gillespie.errors``.

``model`` keys
    n_states: int
    n_exposures: int
    channel_source: list[int]     source state of each reaction channel, non-decreasing
    channel_dec: list[int]        state losing one cell (-1: none; else the source)
    channel_inc: list[int]        state gaining one cell (-1: none)
    channel_kind: list[int]       0 division (incl. mutation at division), 1 death, 2 switch
    channel_mutation: list[bool]  a firing is a mutation event (first_mutant_time)
    channel_rate: list[float]     per-cell rates, exposure-major: rate[e * n_channels + c]
    capacity: float | None        carrying capacity K (None: no density dependence)
    capacity_on: str              "division" or "death"
    capacity_weights: list[float] weight of each state in N (length n_states)

``schedule`` keys (piecewise-constant exposure: continuous, intermittent, piecewise)
    segment_start: list[float]    strictly increasing, first == 0.0
    segment_exposure: list[int]   exposure index in force from segment_start[i]
    cycle_start: int | None       segments[cycle_start:] repeat every ``period`` (None: the
                                  last segment lasts forever)
    period: float                 length of one cycle (> 0 when cycle_start is not None)

``run`` keys
    initial: list[int]            cells per state at t = 0
    record_times: list[float]     non-decreasing, within [0, t_end]
    t_end: float
    max_events: int | None
    max_population: int | None
    seed_key: bytes               32 bytes: the ChaCha8 key
    replicate_offset: int         global index of the first replicate (its RNG stream)
    n_replicates: int
    n_threads: int | None         None: all cores
"""

from collections.abc import Callable
from typing import Any

import numpy.typing as npt

__version__: str
RNG_NAME: str
"""The per-replicate generators and samplers, as recorded in the ``rng`` attribute."""

STATUS_CODES: dict[str, int]
"""Status codes written to ``status``: completed, extinct, max_events, max_population."""

def simulate_ensemble(
    model: dict[str, Any],
    schedule: dict[str, Any],
    run: dict[str, Any],
    progress: Callable[[int], None] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Run ``n_replicates`` replicates in parallel with the interpreter released.

    Returns ``count`` (n_replicates, n_times, n_states) int64, ``exposure`` (n_replicates,
    n_times) int8, and per replicate ``extinction_time``, ``first_mutant_time``, ``stop_time``
    (float64, NaN when not applicable), ``n_events`` (int64) and ``status`` (int8). ``count`` at
    record times after a capped replicate's ``stop_time`` is -1 (unknown). ``progress``, if given,
    is called from the calling thread with the number of replicates finished so far, about 20
    times per second. Ctrl-C stops the run within a second and raises ``KeyboardInterrupt``.
    """

def trace(
    model: dict[str, Any],
    schedule: dict[str, Any],
    run: dict[str, Any],
    replicate: int,
) -> dict[str, Any]:
    """Record every event of one replicate (global index ``replicate``).

    Uses ``run`` without ``record_times``, ``n_replicates`` and ``n_threads``, and returns
    ``time`` (n_events + 1,) float64 starting at 0, ``channel`` (n_events + 1,) int32 (-1 for the
    initial row), ``count`` (n_events + 1, n_states) int64, ``exposure`` (n_events + 1,) int8,
    ``status`` (int) and ``stop_time`` (float). The trajectory is replicate ``replicate`` of
    ``simulate_ensemble`` with the same ``seed_key``.
    """

def exposure_at(schedule: dict[str, Any], times: list[float]) -> npt.NDArray[Any]:
    """Index (int64) of the exposure in force at each time, with the engine's breakpoints."""
