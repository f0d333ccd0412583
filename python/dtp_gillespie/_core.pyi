"""Stub of the compiled engine (``dtp_gillespie._core``). Private: use the public API instead.

The Python layer compiles the declarative spec into the dicts typed below (``ModelSpec``,
``_ScheduleSpec``: one dict per kind, ``RunSpec``). The engine reads each dict into a typed
struct: a missing key, a value of the wrong type or an unknown string of a string enum raises
the error of its dict
(``InvalidModelError`` for ``model``, ``InvalidScheduleError`` for ``schedule``,
``InvalidRunError`` for ``run``) naming the key and the value. The engine then checks only what
it needs to run safely (sizes, indices in range, finite numbers; see CONTRIBUTING.md, "Where each
rule is checked"); the semantic rules and their messages are the Python layer's.

Tables over exposures and states are flat and exposure-major: ``table[e * n + i]``.
"""

from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict, type_check_only

import numpy as np
import numpy.typing as npt

__all__ = [
    "RNG_NAME",
    "STATUS_CODES",
    "__version__",
    "breakpoints",
    "clear_jump_cache",
    "exposure_at",
    "jump_cache_stats",
    "jump_density_report",
    "segment_count",
    "set_jump_cache_budget",
    "simulate_ensemble",
    "trace",
    "trackers_at_once",
]

_ChannelKind = Literal["division", "death", "switch"]
"""``division``: i -> 2i, or i -> i + j when one daughter mutates; ``death``: i -> 0;
``switch``: i -> j."""

_DensityTarget = Literal["division", "death", "death_additive"]

# ------------------------------------------------------------------------------------- model

@type_check_only
class ChannelSpec(TypedDict):
    """One reaction channel; its propensity is ``rate(exposure) * count[source]``."""

    source: int
    """Source state; channels are sorted by it."""
    dec: int | None
    """State losing one cell (None: none; else the source)."""
    inc: int | None
    """State gaining one cell (None: none)."""
    kind: _ChannelKind
    mutation: bool
    """A firing is a mutation event (``first_mutant_time``)."""

@type_check_only
class CompetitionRowSpec(TypedDict):
    """One density-dependent state, with crowding x = C / K, C = sum_j alpha[e][j] n_j,
    K = k0[e] + sum_j k_per_cell[e][j] n_j under exposure e (K = 0: x = inf, division 0; on
    death every k0 must be > 0)."""

    state: int
    alpha: list[float]
    """n_exposures * n_states, exposure-major, >= 0."""
    k0: list[float]
    """n_exposures, >= 0."""
    k_per_cell: list[float]
    """n_exposures * n_states, exposure-major, >= 0."""

@type_check_only
class CompetitionSpec(TypedDict):
    """Lotka-Volterra competition (excludes a capacity)."""

    on: Literal["division", "death"]
    """``division``: b * max(0, 1 - x); ``death``: max(0, d + (b - d) * x)."""
    rows: list[CompetitionRowSpec]

@type_check_only
class BiomarkerSpec(TypedDict):
    """dy/dt = sum_i p_i n_i - decay * y."""

    production: list[float]
    """p_i per exposure, n_exposures * n_states, exposure-major."""
    decay: float
    """> 0."""
    initial: float | None
    """y(0); None: sum_i p_i n_i(0) / decay under the initial exposure."""

@type_check_only
class ModelSpec(TypedDict):
    """The ``model`` dict: the reaction table (``Model.compile``)."""

    n_states: int
    state_names: NotRequired[list[str]]
    """The states' names, for messages (without them, states are named by index)."""
    n_exposures: int
    channels: list[ChannelSpec]
    channel_rate: list[float]
    """Per-cell rates, exposure-major: ``rate[e * n_channels + c]``."""
    capacity: float | None
    """Carrying capacity K (None: no density dependence)."""
    capacity_on: _DensityTarget
    """``death_additive``: d + slope * N/K."""
    capacity_weights: list[float]
    """Weight of each state in N (n_states)."""
    capacity_slope: list[float]
    """Per state, >= 0 (``death_additive``; empty otherwise)."""
    competition: NotRequired[CompetitionSpec | None]
    biomarker: NotRequired[BiomarkerSpec | None]

# ---------------------------------------------------------------------------------- schedule

@type_check_only
class FixedSegmentsSpec(TypedDict):
    """Piecewise-constant exposure (the dict of ``exposure_at``)."""

    segment_start: list[float]
    """Strictly increasing, first == 0.0."""
    segment_exposure: list[int]
    """Exposure index in force from ``segment_start[i]``."""
    cycle_start: int | None
    """``segments[cycle_start:]`` repeat every ``period`` (None: the last segment lasts
    forever)."""
    period: NotRequired[float]
    """Length of one cycle (> 0; needed when ``cycle_start`` is not None)."""

@type_check_only
class FixedScheduleSpec(FixedSegmentsSpec):
    """Kind ``fixed``: continuous, intermittent, piecewise, combinations."""

    kind: NotRequired[Literal["fixed"]]
    """Default when absent."""
    treating: list[bool]
    """Per exposure: does it count as "on drug" (``time_on_drug``, ``treatment_start_time``;
    ``n_switches`` counts changes of exposure)."""

# ``from`` is a keyword, so that key is declared in the functional form.
_RuleFrom = TypedDict("_RuleFrom", {"from": int})

@type_check_only
class RuleSpec(_RuleFrom):
    """One adaptive rule: from exposure ``from`` to ``to`` when all its conditions hold."""

    to: int
    below: float | None
    """B <= below * ref."""
    above: float | None
    """B >= above * ref."""
    absolute: NotRequired[bool]
    """This rule's below/above are in cells whatever ``reference`` (default False)."""
    after: NotRequired[float | None]
    """Time in the current exposure >= after (a timer)."""
    min_time: NotRequired[float]
    """Time in the current exposure >= min_time (default 0)."""
    phase: NotRequired[Literal["any", "before_treatment", "after_treatment"]]
    """``any`` (default), ``before_treatment`` (only until a treating exposure has been in
    force) or ``after_treatment`` (only after); a relative threshold never holds while ref is
    undefined."""

@type_check_only
class AdaptiveScheduleSpec(TypedDict):
    """Kind ``adaptive``: state-triggered dosing; the exposure changes only at events or check
    times."""

    kind: Literal["adaptive"]
    treating: list[bool]
    initial_exposure: int
    monitor_weights: list[float]
    """Burden B = sum_i w_i * count_i (n_states)."""
    monitor_biomarker: NotRequired[bool]
    """B is the model's biomarker y(t) (default False); its threshold crossings between events
    are exact breakpoints."""
    reference: Literal["initial", "treatment_start", "last_switch", "absolute"]
    """B at t = 0, B when a treating exposure is first in force, B at the latest switch (or
    t = 0), or thresholds in cells."""
    check_every: float
    """0: after every event (continuous); > 0: at t = k * check_every."""
    rules: list[RuleSpec]
    """Tried in order; the first whose ``from`` is the exposure in force and whose conditions
    all hold switches to ``to``."""

@type_check_only
class PkScheduleSpec(TypedDict):
    """Kind ``pk``: pharmacokinetic dosing; rates vary continuously, simulated exactly by
    thinning. rate(C) = off + (on - off) * C^h / (ec50^h + C^h)."""

    kind: Literal["pk"]
    treating: list[bool]
    off_exposure: int
    on_exposure: int
    dose_times: list[float]
    """Sorted, >= 0."""
    dose: float
    """Concentration added by each dose (units of the ec50 values)."""
    half_life: float
    """> 0, first-order elimination."""
    ec50: list[float]
    """Per channel, > 0 (inf: the channel stays at its off rate)."""
    hill: list[float]
    """Per channel, > 0."""
    missed_dose_probability: float
    """Each dose is skipped with this probability, drawn per replicate from its own stream."""
    response_ec50: float
    response_hill: float
    on_threshold: float
    """In (0, 1): the exposure in force is ``on`` while the drug's own response
    C^h / (ec50^h + C^h) is at least this."""

_ScheduleSpec = FixedScheduleSpec | AdaptiveScheduleSpec | PkScheduleSpec
"""The ``schedule`` dict (``Schedule.compile``), by ``kind``."""

# --------------------------------------------------------------------------------------- run

@type_check_only
class LineageSpec(TypedDict):
    """The ``lineages`` dict of ``RunSpec``: barcoded lineages and clones to track.

    A lineage is a (barcode, clone) pair. At every event the firing cell's lineage is drawn
    uniformly among the cells of its state from the replicate's lineage stream (never the event
    stream: the totals are bit-identical with tracking on and off). With ``clones``, every
    mutation event founds a new lineage with the parent's barcode and a new clone id.
    Bad values raise ``InvalidRunError`` naming the field (``lineages.n_barcodes``, ...).
    """

    start: Literal["founders", "library", "table"]
    """``founders``: initial cell k (state 0's cells first) gets barcode k, clone 0;
    ``library``: each initial cell draws its barcode uniformly from 0..n_barcodes-1;
    ``table``: explicit lineages per replicate (``table_*``)."""
    times: list[float]
    """Barcode times: non-decreasing, within [0, t_end]; right-continuous like the record
    times. May be empty only if ``clones`` is True."""
    clones: bool
    """Found a clone at every mutation event and return the clone table and summary."""
    n_barcodes: NotRequired[int]
    """``library`` only: the number of barcodes, >= 1."""
    table_offsets: NotRequired[npt.NDArray[np.int64]]
    """``table`` only, CSR over the call's replicates: replicate i's rows are
    ``table_offsets[i]:table_offsets[i + 1]``; (n_replicates + 1,), or (2,) for one table shared
    by every replicate. A replicate's initial counts are the column sums of its rows
    (``initial`` is then ignored, but must still list one count per state)."""
    table_barcode: NotRequired[npt.NDArray[np.int64]]
    """(rows,), >= 0."""
    table_clone: NotRequired[npt.NDArray[np.int64]]
    """(rows,), >= 0; a replicate's (barcode, clone) pairs must be distinct."""
    table_count: NotRequired[npt.NDArray[np.int64]]
    """(rows, n_states), >= 0."""
    next_clone: NotRequired[int]
    """The id of the first clone founded in each replicate (default 1); must exceed every
    clone id of the table."""

@type_check_only
class RunSpec(TypedDict):
    """The ``run`` dict (``simulate.prepare``)."""

    initial: list[int]
    """Cells per state at t = 0."""
    record_times: list[float]
    """Non-decreasing, within [0, t_end]."""
    t_end: float
    max_events: int | None
    max_population: int | None
    seed_key: bytes
    """32 bytes: the ChaCha8 key."""
    replicate_offset: NotRequired[int]
    """Global index of the first replicate (its RNG stream); default 0."""
    n_replicates: NotRequired[int]
    """Default 1."""
    n_threads: NotRequired[int | None]
    """None: all cores."""
    method: NotRequired[Literal["ssa", "jump"]]
    """Default ``"ssa"``; ``"jump"`` needs the three ``jump_*`` keys."""
    jump_step: NotRequired[float]
    jump_tolerance: NotRequired[float]
    jump_threshold: NotRequired[float]
    jump_density_quantum: NotRequired[float]
    """Density-dependent models: crowdings are rounded to a multiple of this, in (0, 0.1];
    default 1e-4."""
    jump_density_rates: NotRequired[Literal["midpoint", "frozen"]]
    """Density-dependent models: where each step's rates are frozen: the mean-field midpoint
    (default) or the step's start (first-order bias; for comparisons)."""
    progression_weights: NotRequired[list[float] | None]
    """Burden for progression (None: no progression)."""
    progression_biomarker: NotRequired[bool]
    """Progression follows the model's biomarker instead."""
    progression_factor: NotRequired[float | None]
    """Progression when B >= factor * nadir so far ..."""
    progression_size: NotRequired[float | None]
    """... or when B >= size (cells); either may be None ..."""
    progression_min_size: NotRequired[float | None]
    """... and only when B >= min_size (None or 0: no floor)."""
    lineages: NotRequired[LineageSpec | None]
    """Track barcoded lineages and clones (None: no tracking). Ignored by ``trace``."""

# ----------------------------------------------------------------------------------- results

_EnsembleResult: TypeAlias = dict[str, npt.NDArray[Any]]
"""What ``simulate_ensemble`` returns: one array per output variable, named and shaped as the
rows of ``dtp_gillespie.conventions.OUTPUTS`` say (the one list of them; the engine's
per-replicate rows are ``dtp_gillespie_core::outcome::PER_REPLICATE``). A jump run adds
``jump_pool_steps``, int64 of shape (n_states, 4): per pool (state), the (replicate, step) pairs
simulated event by event, jumped and empty, and the emitting lineages simulated (summed over the
call's replicates; ``dtp_gillespie._pool_steps`` reads it)."""

@type_check_only
class TraceResult(TypedDict):
    """What ``trace`` returns."""

    time: npt.NDArray[np.float64]
    """(n_events + 1,), starting at 0."""
    channel: npt.NDArray[np.int32]
    """(n_events + 1,); -1 for the initial row."""
    count: npt.NDArray[np.int64]
    """(n_events + 1, n_states)."""
    exposure: npt.NDArray[np.int8]
    """(n_events + 1,): the exposure each event fired under (row 0: the initial exposure,
    before any check at t = 0)."""
    switch_time: npt.NDArray[np.float64]
    """Every change of the exposure in force (fixed and adaptive kinds; empty for ``pk``)."""
    switch_exposure: npt.NDArray[np.int8]
    status: int
    stop_time: float

__version__: str
RNG_NAME: str
"""The per-replicate generators and samplers, as recorded in the ``rng`` attribute."""

STATUS_CODES: dict[str, int]
"""Status codes written to ``status``: completed, extinct, max_events, max_population,
rate_overflow. The one source of these codes (``conventions.STATUS_CODES`` reads it)."""

def simulate_ensemble(
    model: ModelSpec,
    schedule: _ScheduleSpec,
    run: RunSpec,
    progress: Callable[[int], None] | None = None,
) -> _EnsembleResult:
    """Run ``n_replicates`` replicates in parallel with the interpreter released.

    Returns one array per output variable of ``dtp_gillespie.conventions.OUTPUTS`` (name,
    shape from its dims, dtype as listed there): ``count`` (n_replicates, n_times, n_states),
    ``exposure`` (n_replicates, n_times), ``concentration`` (only for kind "pk"), ``biomarker``
    (only for models with a biomarker; NaN after a capped replicate stopped), and one
    (n_replicates,) array for each row of the engine's table of per-replicate variables
    (``dtp_gillespie_core::outcome::PER_REPLICATE``: ``extinction_time``, ``stop_time``,
    ``status``, ...; float64 NaN when not applicable, e.g. ``auc_concentration`` and
    ``auc_response`` outside kind "pk"). ``count`` at record times after a capped replicate's
    ``stop_time`` is -1 (unknown).

    With ``run["lineages"]``, also the lineage table, one row per (replicate, barcode time,
    lineage, state) with a positive count, ordered by replicate, time, lineage (creation order),
    state: ``lineage_replicate`` int64 (global index), ``lineage_time`` int32 (index into
    ``lineages.times``), ``lineage_barcode`` int64, ``lineage_clone`` int64, ``lineage_state``
    int8, ``lineage_count`` int64 (no rows after a capped replicate's ``stop_time``, nor after
    extinction); the clone table, one row per clone founded in this call, ordered by replicate
    then id (empty without ``clones``): ``clone_replicate``, ``clone_id``, ``clone_parent`` (0:
    the background), ``clone_barcode`` int64, ``clone_birth_time`` float64, ``clone_state``,
    ``clone_birth_exposure`` int8, ``clone_extinction_time`` float64 (when it lost its last cell;
    NaN if alive at ``stop_time``); and, with ``clones``, per replicate: ``clones_born``,
    ``clones_alive`` int64 and ``first_surviving_resistant_time`` float64 (the earliest birth
    among clones alive at ``stop_time``; NaN if none). ``progress``, if given,
    is called from the calling thread with the number of replicates finished so far, about 20
    times per second. Ctrl-C stops the run within a second and raises ``KeyboardInterrupt``.
    """

def trace(
    model: ModelSpec,
    schedule: _ScheduleSpec,
    run: RunSpec,
    replicate: int,
) -> TraceResult:
    """Record every event of one replicate (global index ``replicate``).

    Ignores ``n_replicates`` and ``n_threads`` of ``run``. The trajectory is replicate
    ``replicate`` of ``simulate_ensemble`` with the same ``seed_key``.
    """

def exposure_at(schedule: FixedSegmentsSpec, times: list[float]) -> npt.NDArray[np.int64]:
    """Index of the exposure in force at each time, with the engine's breakpoints.

    Raises ``InvalidScheduleError`` for a time < 0, NaN, or beyond the 2^64 segments a repeating
    schedule can number."""

def breakpoints(
    schedule: FixedSegmentsSpec, t_end: float, limit: int
) -> tuple[list[float], list[int]]:
    """Start times and exposure indices of the segments of a ``fixed`` schedule that start at or
    before ``t_end``, in order, by the engine's own arithmetic (bit for bit the boundaries a run
    steps through). Raises ``InvalidScheduleError`` if there are more than ``limit`` of them, or
    if the engine refuses the schedule."""

def jump_density_report(
    model: ModelSpec, schedule: _ScheduleSpec, run: RunSpec
) -> tuple[float, float] | None:
    """``(max_rate_change_per_step, density_rate_error)`` along the mean-field path of a
    density-dependent ``method="jump"`` run over its step grid; None for a linear model or an
    SSA run. Refuses what the jump run refuses, with the same errors."""

def jump_cache_stats() -> tuple[int, int, int, int, int]:
    """The process's cache of jump step laws, shared by every engine call (docs/jumps.md):
    ``(laws, bytes, budget, hits, misses)``; bytes count the solves and the tables built so
    far."""

def set_jump_cache_budget(bytes: int) -> None:
    """Set the jump law cache's budget in bytes, evicting the least recently used laws down to
    it (0 keeps none: every engine call builds its own laws). Default 256 MiB."""

def clear_jump_cache() -> None:
    """Drop every cached jump law (runs using one keep it until they end)."""

def trackers_at_once(n_threads: int | None, n_replicates: int) -> int:
    """The most replicates whose lineage trackers a tracked call of ``n_replicates`` replicates
    on ``n_threads`` threads (None: the engine's default) holds at once: per thread, one per lane
    where the CPU runs the SIMD lanes (8 for tracked runs), else one."""

def segment_count(schedule: FixedSegmentsSpec, t_end: float) -> float:
    """How many segments of a ``fixed`` schedule start at or before ``t_end``, from the period:
    exact for a plain list; for a repeating schedule up to rounding and one whole cycle over (never
    fewer than :func:`breakpoints` lists). Infinite for an infinite ``t_end``, NaN for a NaN one."""
