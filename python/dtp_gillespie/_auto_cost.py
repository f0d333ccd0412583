"""The cost model of ``method="auto"`` (:mod:`dtp_gillespie._auto`): the expected cost per
replicate of SSA and of exact jumps, from the mean path of the linear model over the jump
grid (the module docstring of :mod:`dtp_gillespie._auto` says what is counted and why)."""

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._method import (
    DEFAULT_JUMP_TOLERANCE,
    JUMP_POPULATION_LIMIT,
    POPULATION_LIMIT,
)
from .errors import DtpGillespieError

if TYPE_CHECKING:
    from ._core import ModelSpec, _ScheduleSpec

__all__ = ["COSTS", "CostModel", "Estimate", "estimate"]

_MAX_BREAKPOINTS = 1_000_000
"""As many schedule segments as the engine's jump grid takes."""
_MAX_STEPS = 10_000_000
"""The most steps a jump run takes (``MAX_STEPS`` of the engine)."""


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work on one thread, measured by ``python
    benches/python/bench_jump_crossover.py --calibrate`` (see docs/jumps.md)."""

    ssa_event: float = 15e-9
    """One event of an SSA run."""
    free_event: float = 40e-9
    """One event of a pool a jump run simulates event by event."""
    pool_step: float = 6e-6
    """One jumped pool in one step (the emission binomial and the table split)."""
    grid_step: float = 0.05e-6
    """One step of a jump run, whatever its pools do."""
    emission: float = 0.8e-6
    """One mutation event of a jumped pool (its lineage simulated conditioned on emitting)."""
    table_work: float = 1e-7
    """Building an offspring table, per state of its box times the box's edge (the edge grows
    with the division rate × step, the states as the edge to the power of the states a cell
    reaches by switching; the uniformization's work grows with both). Small tables cost
    milliseconds; a 3-day division rate × step, seconds to a minute."""


COSTS = CostModel()
"""The costs ``method="auto"`` uses."""


@dataclass(frozen=True)
class Estimate:
    """The expected cost of one replicate by each method, from the mean path."""

    events: float
    """Expected SSA events per replicate."""
    emissions: float
    """Expected mutation events of jumped pools per replicate (each simulated one by one)."""
    ssa_seconds: float
    jump_seconds: float
    """Per replicate, with the tables' cost shared over the replicates of the run."""
    jumped_steps: tuple[int, ...]
    """Per state: steps in which the jump run is expected to jump the pool."""
    event_steps: tuple[int, ...]
    """Per state: steps in which the pool is expected to be simulated event by event (an
    expected pool of under half a cell counts as neither)."""
    steps: int
    """Steps of the jump grid up to the end of the mean path."""
    table_work: float
    """The work of building the offspring tables the jump run is expected to build (pools
    jumped at least once, per exposure and step length): states of each box times its edge."""
    capped_at: float | None
    """Where the mean path reached the jumps' population cap (None: it did not); SSA's expected
    events go on past it unless the cap is ``max_population``."""
    refused: str | None = None
    """Why the engine would refuse the jump run (a table too large, too many steps), if so."""
    held: str | None = None
    """Adaptive rules: the exposure held throughout the mean path (the least favourable to jumps
    of those the rules may put in force)."""
    capped_by: str | None = None
    """Which cap ``capped_at`` is: ``"max_population"`` (the user's, where SSA stops too) or
    ``"jump limit"`` (the jump runs' own population limit, ``JUMP_POPULATION_LIMIT``)."""


def _expm(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """exp(a) by scaling and squaring of a degree-18 Taylor sum (small matrices; deterministic)."""
    norm = float(np.max(np.sum(np.abs(a), axis=1))) if a.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm)) + 1) if norm > 0.5 else 0
    b = a / 2.0**squarings
    term = np.eye(a.shape[0])
    out = term.copy()
    for k in range(1, 19):
        term = term @ b / k
        out = out + term
    for _ in range(squarings):
        out = out @ out
    return out


@dataclass(frozen=True)
class _StepMeans:
    """One step of length Δ under one exposure: the mean propagator and, per starting state,
    the expected events and mutation events of one cell's lineage within the step, the state's
    total rate, and the work of building its offspring table (inf: beyond the engine's
    limits)."""

    propagate: npt.NDArray[np.float64]
    events: npt.NDArray[np.float64]
    emissions: npt.NDArray[np.float64]
    rates: npt.NDArray[np.float64]
    table_work: tuple[float, ...]


# The engine's limits on a table (jump/offspring.rs): the box edge and its states.
_MAX_BOX_SIZE = 1e6
_MAX_TABLE_STATES = 4e6


def _table_work(
    after: Sequence[tuple[int, float, tuple[int, ...], bool]], n: int, length: float, tol: float
) -> tuple[float, ...]:
    """Per state, the states of its offspring table's box, as the engine sizes it (an edge ``L``
    from a Yule bound of the largest division rate, over the states reachable without an
    emission), times ``L``; inf where the engine refuses the table."""
    growth = max(
        (sum(r for x, r, cells, _ in after if x == y and len(cells) == 2) for y in range(n)),
        default=0.0,
    )
    ln_beta = math.log1p(-math.exp(-growth * length)) if growth > 0 else 0.0
    edge = 1.0 if ln_beta == 0.0 else max(1.0, math.ceil(math.log(tol) / ln_beta))
    out = []
    for x in range(n):
        reach, todo = {x}, [x]
        while todo:
            y = todo.pop()
            for source, _, cells, emits in after:
                if source == y and not emits:
                    todo.extend(z for z in cells if z not in reach)
                    reach.update(cells)
        dims = len(reach)
        simplex = math.prod((edge + k) / k for k in range(1, dims + 1))
        ok = (
            edge <= _MAX_BOX_SIZE
            and simplex <= _MAX_TABLE_STATES
            and (edge + 1) ** dims <= 8 * _MAX_TABLE_STATES
        )
        out.append(simplex * edge if ok else math.inf)
    return tuple(out)


def _generator(
    core_model: "ModelSpec", exposure: int
) -> tuple[npt.NDArray[np.float64], list[tuple[int, float, tuple[int, ...], bool]]]:
    """The augmented generator of the mean process under ``exposure`` and, per channel that
    fires, (source, rate, the cells that replace the firing cell, emits)."""
    n = int(core_model["n_states"])
    channels = core_model["channels"]
    rate = core_model["channel_rate"][exposure * len(channels) : (exposure + 1) * len(channels)]
    # The augmented generator [[M, a, e], [0, 0, 0], [0, 0, 0]]: its exponential holds the mean
    # propagator and the integrals of the mean event and emission rates over the step.
    g = np.zeros((n + 2, n + 2))
    after = []
    for channel, r in zip(channels, rate, strict=True):
        x, dec, inc = int(channel["source"]), channel["dec"], channel["inc"]
        if dec is not None:
            g[x, int(dec)] -= r
        if inc is not None:
            g[x, int(inc)] += r
        g[x, n] += r
        if channel["mutation"]:
            g[x, n + 1] += r
        if r > 0:
            # The cells that replace the firing cell (the engine's LinearRates::from_model).
            cells = ((x,) if dec is None else ()) + (() if inc is None else (int(inc),))
            after.append((x, float(r), cells, bool(channel["mutation"])))
    return g, after


def _step_means(
    core_model: "ModelSpec", exposure: int, length: float, tolerance: float
) -> _StepMeans:
    n = int(core_model["n_states"])
    g, after = _generator(core_model, exposure)
    big = _expm(g * length)
    return _StepMeans(
        big[:n, :n],
        big[:n, n],
        big[:n, n + 1],
        g[:n, n].copy(),
        _table_work(after, n, length, tolerance),
    )


def _visits(check_every: float, t_end: float) -> list[float]:
    """Adaptive rules' visits ``k · check_every`` up to ``t_end``, as the engine computes them."""
    if t_end / check_every > _MAX_STEPS:
        raise DtpGillespieError(
            f"adaptive check_every = {check_every!r} gives more than {_MAX_STEPS} visits"
        )
    times = (k * check_every for k in range(int(t_end / check_every) + 2))
    return [t for t in times if t <= t_end]


def _grid(
    core_schedule: "_ScheduleSpec",
    times: npt.NDArray[np.float64],
    t_end: float,
    step: float,
    exposure: int | None = None,
) -> list[tuple[int, float, int]]:
    """The jump grid as (exposure, step length, number of steps) per gap, in order (the same
    points and cuts as the engine's jump grid); for adaptive rules, their visits' grid with
    ``exposure`` held throughout."""
    if exposure is not None:
        spec: Any = core_schedule
        starts = _visits(float(spec["check_every"]), t_end)
        exposures = [exposure] * len(starts)
    else:
        starts, exposures = _core.breakpoints(core_schedule, t_end, _MAX_BREAKPOINTS)  # type: ignore[arg-type]
    points = sorted({0.0, t_end, *starts, *(float(t) for t in times)})
    points = [t for t in points if 0.0 <= t <= t_end]
    out = []
    for a, b in itertools.pairwise(points):
        pieces = max(1, math.ceil((b - a) / step * (1.0 - 1e-12)))
        exposure = exposures[max(0, bisect.bisect_right(starts, a) - 1)]
        out.append((exposure, (b - a) / pieces, pieces))
    return out


def estimate(
    core_model: "ModelSpec",
    core_schedule: "_ScheduleSpec",
    *,
    initial: Sequence[int],
    times: npt.NDArray[np.float64],
    t_end: float,
    step: float,
    threshold: float,
    n_replicates: int,
    max_population: int | None,
    tolerance: float = DEFAULT_JUMP_TOLERANCE,
    states: Sequence[str] | None = None,
    costs: CostModel = COSTS,
    exposure: int | None = None,
) -> Estimate:
    """The expected cost of one replicate by SSA and by jumps (module docstring); for adaptive
    rules, with ``exposure`` held throughout."""
    n = int(core_model["n_states"])
    user_cap = math.inf if max_population is None else float(max_population)
    # The jumps stop at their own population limit too; SSA only at the user's cap or the
    # engine's int64 limit (after the jumps stop, its events are added by _ssa_events_after).
    cap = min(user_cap, float(JUMP_POPULATION_LIMIT))
    ssa_cap = min(user_cap, float(POPULATION_LIMIT))
    means: dict[tuple[int, float], _StepMeans] = {}
    built: dict[tuple[int, float, int], float] = {}
    # Plain floats: a few states per step, where numpy's per-call cost would dominate.
    m = [float(c) for c in initial]
    events = emissions = jump_cost = 0.0
    jumped, in_events = [0] * n, [0] * n
    steps = 0
    capped_at: float | None = None
    refused: str | None = None
    t = 0.0
    grid = _grid(core_schedule, times, t_end, step, exposure)
    if sum(pieces for _, _, pieces in grid) > _MAX_STEPS:
        refused = f"jump_step = {step:g} gives more than {_MAX_STEPS} steps"
    # Where the jumps stopped: the gap and the steps of it left.
    stopped = (len(grid), 0)
    for gap, (exposure, length, pieces) in enumerate(grid):
        key = (exposure, length)
        if key not in means:
            means[key] = _step_means(core_model, exposure, length, tolerance)
        sm = means[key]
        for x in range(n):
            # Any pool with cells may be jumped in some replicate: its table must be buildable.
            if m[x] > 0 and sm.table_work[x] == math.inf and refused is None:
                refused = (
                    f"the offspring table of a {length:g}-day step from state "
                    f"{x if states is None else states[x]!r} would exceed "
                    "the engine's limits (a shorter jump_step would do)"
                )
        propagate = sm.propagate.tolist()
        lineage_events, lineage_emissions = sm.events.tolist(), sm.emissions.tolist()
        rate_step = (sm.rates * length).tolist()
        for done in range(pieces):
            if sum(m) >= cap:
                capped_at = t
                stopped = (gap, pieces - done)
                break
            steps += 1
            jump_cost += costs.grid_step
            for x in range(n):
                pool_events = m[x] * lineage_events[x]
                events += pool_events
                # The engine's rule on the expected pool: jumped when it expects >= threshold
                # events in the step.
                if m[x] > 0 and m[x] * rate_step[x] >= threshold:
                    jumped[x] += 1
                    built[(exposure, length, x)] = sm.table_work[x]
                    emitted = m[x] * lineage_emissions[x]
                    emissions += emitted
                    jump_cost += costs.pool_step + costs.emission * emitted
                else:
                    in_events[x] += m[x] >= 0.5
                    jump_cost += costs.free_event * pool_events
            m = [sum(m[i] * propagate[i][j] for i in range(n)) for j in range(n)]
            t += length
        if capped_at is not None:
            break
    capped_by = None
    if capped_at is not None:
        capped_by = "max_population" if cap == user_cap else "jump limit"
        if cap < ssa_cap:
            events += _ssa_events_after(core_model, grid, stopped, m, ssa_cap)
    table_work = sum(built.values())
    jump_cost += costs.table_work * table_work / n_replicates
    return Estimate(
        events=events,
        emissions=emissions,
        ssa_seconds=costs.ssa_event * events,
        jump_seconds=math.inf if refused is not None else jump_cost,
        jumped_steps=tuple(jumped),
        event_steps=tuple(in_events),
        steps=steps,
        table_work=table_work,
        capped_at=capped_at,
        refused=refused,
        capped_by=capped_by,
    )


def _ssa_events_after(
    core_model: "ModelSpec",
    grid: Sequence[tuple[int, float, int]],
    stopped: tuple[int, int],
    m: Sequence[float],
    cap: float,
) -> float:
    """SSA's expected events on the mean path from where the jumps stopped (``stopped``: the gap
    of ``grid`` and its steps left, ``m`` the expected counts there) to ``t_end`` or ``cap``,
    over whole gaps (the augmented exponential of a gap gives its mean events exactly, whatever
    its length: a few gaps, not up to 10^7 steps). The cap is checked at the gaps' ends, so the
    events of the gap in which the path passes it are all counted (an overestimate, of a cost
    already that of 2^50 cells or more). Infinite when the path overflows the floats."""
    gap, left = stopped
    spans = [(grid[gap][0], grid[gap][1] * left)] if gap < len(grid) else []
    spans += [(e, length * pieces) for e, length, pieces in grid[gap + 1 :]]
    n = len(m)
    means: dict[tuple[int, float], npt.NDArray[np.float64]] = {}
    counts = np.asarray(m, dtype=np.float64)
    events = 0.0
    # A long gap of a growing population overflows the floats: that is an infinite cost.
    with np.errstate(over="ignore", invalid="ignore"):
        for exposure, length in spans:
            if float(counts.sum()) >= cap:
                break
            key = (exposure, length)
            if key not in means:
                means[key] = _expm(_generator(core_model, exposure)[0] * length)
            big = means[key]
            events += float(counts @ big[:n, n])
            counts = counts @ big[:n, :n]
            if not (math.isfinite(events) and np.isfinite(counts).all()):
                return math.inf
    return events
