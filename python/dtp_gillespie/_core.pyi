"""Stub of the compiled engine (``dtp_gillespie._core``). Private: use the public API instead.

The Python layer compiles the declarative spec into the flat tables below; the engine re-checks
them (finite, non-negative, in range) and raises the ``ValueError`` subclasses of
``dtp_gillespie.errors``. A missing or ill-typed key raises the error of its dict
(``InvalidModelError`` for ``model``, ``InvalidScheduleError`` for ``schedule``,
``InvalidRunError`` for ``run``) naming the key and the value.

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
    capacity_on: str              "division", "death" or "death_additive" (d + slope * N/K)
    capacity_weights: list[float] weight of each state in N (length n_states)
    capacity_slope: list[float]   per state, >= 0 (death_additive; empty otherwise)
    competition: dict | None      Lotka-Volterra competition (None: none; excludes capacity):
        on: str                   "division" (b * max(0, 1 - x)) or "death"
                                  (max(0, d + (b - d) * x))
        rows: list[dict]          one per density-dependent state, with crowding x = C / K,
                                  C = sum_j alpha[e][j] n_j, K = k0[e] + sum_j k_per_cell[e][j] n_j
                                  under exposure e (K = 0: x = inf, division 0; on death every
                                  k0 must be > 0):
            state: int
            alpha: list[float]        exposure-major, n_exposures * n_states, >= 0
            k0: list[float]           n_exposures, >= 0
            k_per_cell: list[float]   exposure-major, n_exposures * n_states, >= 0
    biomarker: dict | None        dy/dt = sum_i p_i n_i - decay * y (None: no biomarker):
        production: list[float]   p_i per exposure, exposure-major (n_exposures * n_states)
        decay: float              > 0
        initial: float | None     y(0); None: sum_i p_i n_i(0) / decay under the initial exposure

``schedule`` keys, common to every kind
    kind: str                     "fixed" (default when absent), "adaptive" or "pk"
    treating: list[bool]          per exposure: does it count as "on drug" (time_on_drug,
                                  treatment_start_time, n_switches counts changes of exposure)

kind "fixed" (piecewise-constant exposure: continuous, intermittent, piecewise, combinations)
    segment_start: list[float]    strictly increasing, first == 0.0
    segment_exposure: list[int]   exposure index in force from segment_start[i]
    cycle_start: int | None       segments[cycle_start:] repeat every ``period`` (None: the
                                  last segment lasts forever)
    period: float                 length of one cycle (> 0 when cycle_start is not None)

kind "adaptive" (state-triggered dosing; the exposure changes only at events or check times)
    initial_exposure: int
    monitor_weights: list[float]  burden B = sum_i w_i * count_i (length n_states)
    monitor_biomarker: bool       (optional, default False) B is the model's biomarker y(t); its
                                  threshold crossings between events are exact breakpoints
    reference: str                "initial" (B at t = 0), "treatment_start" (B when a treating
                                  exposure is first in force), "last_switch" (B at the latest
                                  switch, or t = 0), "absolute" (thresholds are in cells)
    check_every: float            0: after every event (continuous); > 0: at t = k * check_every
    rules: list[dict]             tried in order; the first rule whose ``from`` is the exposure
                                  in force and whose conditions all hold switches to ``to``:
        from: int, to: int
        below: float | None       B <= below * ref
        above: float | None       B >= above * ref
        absolute: bool            this rule's below/above are in cells whatever ``reference``
        after: float | None       time in the current exposure >= after (a timer)
        min_time: float           time in the current exposure >= min_time (default 0)
        phase: str                "any" (default), "before_treatment" (only until a treating
                                  exposure has been in force) or "after_treatment" (only after)
                                  (a relative threshold never holds while ref is undefined)

kind "pk" (pharmacokinetic dosing; rates vary continuously, simulated exactly by thinning)
    off_exposure: int, on_exposure: int   rates interpolate between these two tables:
                                  rate(C) = off + (on - off) * C^h / (ec50^h + C^h)
    dose_times: list[float]       sorted, >= 0 (expanded from dose_every by the Python layer)
    dose: float                   concentration added by each dose (units of the ec50 values)
    half_life: float              > 0, first-order elimination
    ec50: list[float]             per channel, > 0 (inf: the channel stays at its off rate)
    hill: list[float]             per channel, > 0
    missed_dose_probability: float  each dose is skipped with this probability, drawn per
                                  replicate from its own stream
    response_ec50: float, response_hill: float   the drug's own response C^h / (ec50^h + C^h),
                                  which defines the exposure in force and auc_response
    on_threshold: float           in (0, 1): on while the response is at least this

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
    progression_weights: list[float] | None   burden for progression (None: no progression)
    progression_biomarker: bool                progression follows the model's biomarker instead
    progression_factor: float | None          progression when B >= factor * nadir so far
    progression_size: float | None            or when B >= size (cells); either may be None
    progression_min_size: float | None        and only when B >= min_size (None or 0: no floor)
"""

from collections.abc import Callable
from typing import Any

import numpy.typing as npt

__version__: str
RNG_NAME: str
"""The per-replicate generators and samplers, as recorded in the ``rng`` attribute."""

STATUS_CODES: dict[str, int]
"""Status codes written to ``status``: completed, extinct, max_events, max_population,
rate_overflow."""

def simulate_ensemble(
    model: dict[str, Any],
    schedule: dict[str, Any],
    run: dict[str, Any],
    progress: Callable[[int], None] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Run ``n_replicates`` replicates in parallel with the interpreter released.

    Returns one array per output variable of ``dtp_gillespie.conventions.OUTPUTS`` (name,
    shape from its dims, dtype as listed there): ``count`` (n_replicates, n_times, n_states),
    ``exposure`` (n_replicates, n_times), ``concentration`` (only for kind "pk"), ``biomarker``
    (only for models with a biomarker; NaN after a capped replicate stopped), and one
    (n_replicates,) array for each row of the engine's table of per-replicate variables
    (``dtp_gillespie_core::outcome::PER_REPLICATE``: ``extinction_time``, ``stop_time``,
    ``status``, ...; float64 NaN when not applicable, e.g. ``auc_concentration`` and
    ``auc_response`` outside kind "pk"). ``count`` at record times after a capped replicate's
    ``stop_time`` is -1 (unknown). ``progress``, if given,
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
    ``status`` (int), ``stop_time`` (float), and ``switch_time`` (float64) /
    ``switch_exposure`` (int8), every change of the exposure in force with its time (fixed and
    adaptive kinds; empty for "pk"). ``exposure`` is the one each event fired under
    (an adaptive rule reacts to the event afterwards; row 0 holds the initial exposure, before
    any check at t = 0). The trajectory is replicate ``replicate`` of ``simulate_ensemble`` with
    the same ``seed_key``.
    """

def exposure_at(schedule: dict[str, Any], times: list[float]) -> npt.NDArray[Any]:
    """Index (int64) of the exposure in force at each time, with the engine's breakpoints.

    Raises ``InvalidScheduleError`` for a time < 0, NaN, or beyond the 2^64 segments a repeating
    schedule can number."""

def breakpoints(
    schedule: dict[str, Any], t_end: float, limit: int
) -> tuple[list[float], list[int]]:
    """Start times and exposure indices of the segments of a ``fixed`` schedule that start at or
    before ``t_end``, in order, by the engine's own arithmetic (bit for bit the boundaries a run
    steps through). Raises ``InvalidScheduleError`` if there are more than ``limit`` of them, or
    if the engine refuses the schedule."""

def segment_count(schedule: dict[str, Any], t_end: float) -> float:
    """How many segments of a ``fixed`` schedule start at or before ``t_end``, from the period:
    exact for a plain list; for a repeating schedule up to rounding and one whole cycle over (never
    fewer than :func:`breakpoints` lists). Infinite for an infinite ``t_end``, NaN for a NaN one."""
