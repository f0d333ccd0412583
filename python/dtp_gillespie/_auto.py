"""``method="auto"``: run whichever exact method is expected to be cheaper, and say why.

Both candidates are exact: ``"ssa"`` (event by event) and ``"jump"`` (exact population jumps,
:mod:`dtp_gillespie._method`). Auto never picks an approximation: whenever the jumps cannot run
the model and run exactly (what ``Method.check_fits`` refuses: a biomarker, pharmacokinetic
dosing with missed doses or on a density-dependent model, ``progression``, ``max_events``,
barcodes or clones) auto runs SSA, and so do the runs jumps only approximate: a
density-dependent model (under any schedule), and adaptive rules with continuous monitoring
(read at the end of each step under jumps). Under
pharmacokinetic dosing without missed doses the jumps are exact, but their cost (a
time-dependent table per step) is not in the cost model: auto runs SSA and says so
(:data:`PK_REASON`).

Otherwise it compares the expected cost per replicate of the two, from the **mean path**: the
expected counts of the linear model over the jump grid (the grid ``method="jump"`` would step
through: breakpoints, record times and ``t_end``, each gap cut into steps no longer than
``jump_step``), propagated step by step by the exact mean matrix exponential. Per step and pool
(state) ``x`` with expected ``m_x`` cells,

- SSA fires the expected events of the pool's lineages in the step, ``m_x · E_x(Δ)``, each at
  :attr:`CostModel.ssa_event`;
- the jump run treats the pool as the engine does (jumped when ``m_x · a_x · Δ`` reaches
  ``jump_threshold``, ``a_x`` the pool's total rate): a jumped pool costs
  :attr:`CostModel.pool_step` plus :attr:`CostModel.emission` per expected mutation event (each
  is simulated one by one), a pool in the event regime its expected events at
  :attr:`CostModel.free_event`; every step costs :attr:`CostModel.grid_step`, and the offspring
  tables the run builds :attr:`CostModel.table_work` per state of their boxes times the boxes'
  edge, shared by the replicates.

A run whose jumps the engine would refuse (an offspring table over its size limits, for a fast
division rate and a long step; more than 10^7 steps) runs SSA.

Adaptive rules checked at visits decide the exposure from each replicate's counts, so no single
mean path follows them: auto takes the mean path under each exposure the rules may put in force,
held throughout over the visits' grid, and runs jumps only if they are expected to be cheaper
under every one of them (the attributes report the least favourable to jumps).

The path stops where the expected population reaches ``max_population`` (or the jump runs'
limit of 2^50 cells). The costs are constants measured once
(``benches/python/bench_jump_crossover.py``); the choice is a pure function of the model,
schedule and run options (plain float arithmetic), so the same inputs always choose the same
method, and the result is bit for bit that of the chosen method with the same options. The
attributes say which method ran, why, and, for a jump run, how many steps each pool is expected
to spend jumped and event by event. The estimate costs a few microseconds per step of the grid.

The mean path is a proxy: the jump run's cost is concave in a pool's size (a pool's events one
by one, or one split, whichever the threshold picks), so when rare large replicates dominate the
expected cost the mean path overestimates the jumps' cost (Jensen) and auto leans to SSA.
"""

import bisect
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._method import (
    DEFAULT_JUMP_TOLERANCE,
    SSA,
    Method,
    method_attrs,
    monitor_attrs,
    monitors_continuously,
)
from .errors import DtpGillespieError

if TYPE_CHECKING:
    from ._core import ModelSpec, _ScheduleSpec
    from .model import Model
    from .schedule import Schedule

__all__ = ["AUTO", "COSTS", "Choice", "CostModel", "Estimate", "choose_method", "run_attrs"]

AUTO = "auto"
"""The name of the automatic choice."""

_JUMP_POPULATION_LIMIT = 2.0**50
"""Jump runs stop at this population (``JUMP_POPULATION_LIMIT`` of the engine)."""
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
    """Where the mean path reached the population cap (None: it did not)."""
    refused: str | None = None
    """Why the engine would refuse the jump run (a table too large, too many steps), if so."""
    held: str | None = None
    """Adaptive rules: the exposure held throughout the mean path (the least favourable to jumps
    of those the rules may put in force)."""


@dataclass(frozen=True)
class Choice:
    """The method a run uses; ``attrs`` is what ``method="auto"`` adds to the output (for a
    method given by name, only the label of an approximation it runs: ``monitor_attrs``)."""

    method: Method
    attrs: dict[str, Any]


def choose_method(
    method: Method,
    model: "Model",
    schedule: "Schedule",
    core_model: "ModelSpec",
    core_schedule: "_ScheduleSpec",
    *,
    initial: Sequence[int],
    times: npt.NDArray[np.float64],
    t_end: float,
    n_replicates: int,
    max_events: int | None,
    max_population: int | None,
    progression: object,
    tracks_lineages: bool,
) -> Choice:
    """The method that runs: ``method`` itself (checked to fit) unless it is ``"auto"``."""
    fits: dict[str, Any] = {
        "max_events": max_events,
        "progression": progression,
        "tracks_lineages": tracks_lineages,
    }
    if method.name != AUTO:
        method.check_fits(model, schedule, **fits)
        return Choice(method, monitor_attrs(method, schedule))
    jump = Method("jump", step=method.step, tolerance=method.tolerance, threshold=method.threshold)
    why_not = _why_not_jumps(jump, model, schedule, fits)
    if why_not is not None:
        return Choice(SSA, _ssa_attrs(f"exact jumps cannot run it exactly: {why_not}", None))
    if schedule.engine_kind == "pk":
        return Choice(SSA, _ssa_attrs(PK_REASON, None))
    assert jump.step is not None
    assert jump.threshold is not None
    exposures = _held_exposures(core_schedule)
    try:
        ests = [
            estimate(
                core_model,
                core_schedule,
                initial=initial,
                times=times,
                t_end=t_end,
                step=jump.step,
                threshold=jump.threshold,
                n_replicates=n_replicates,
                max_population=max_population,
                tolerance=jump.tolerance if jump.tolerance is not None else DEFAULT_JUMP_TOLERANCE,
                states=model.states,
                exposure=e,
            )
            for e in exposures
        ]
    except DtpGillespieError as exc:  # e.g. more schedule segments than a jump grid takes
        return Choice(SSA, _ssa_attrs(f"exact jumps cannot run it: {exc}", None))
    est = _least_favourable(ests, exposures, model.exposures)
    if est.refused is not None:
        return Choice(SSA, _ssa_attrs(f"exact jumps cannot run it: {est.refused}", None))
    if est.jump_seconds < est.ssa_seconds:
        return Choice(jump, _jump_attrs(jump, est, model.states))
    return Choice(SSA, _ssa_attrs("it is expected to be the cheaper of the two exact methods", est))


def _held_exposures(core_schedule: "_ScheduleSpec") -> Sequence[int | None]:
    """The exposures to hold along the mean path: for adaptive rules, each one they may put in
    force (the initial one and every rule's target); else None (the schedule's own path)."""
    if core_schedule["kind"] != "adaptive":
        return [None]
    spec: Any = core_schedule
    reach = {int(spec["initial_exposure"])} | {int(r["to"]) for r in spec["rules"]}
    return sorted(reach)


def _least_favourable(
    ests: Sequence[Estimate], exposures: Sequence[int | None], names: Sequence[str]
) -> Estimate:
    """The estimate least favourable to jumps (a refusal first, then the largest ratio of the
    jumps' cost to SSA's), labelled with its held exposure if there are several."""
    if len(ests) == 1:
        return ests[0]

    def ratio(est: Estimate) -> float:
        if est.refused is not None:
            return math.inf
        return est.jump_seconds / est.ssa_seconds if est.ssa_seconds > 0 else math.inf

    worst = max(range(len(ests)), key=lambda k: ratio(ests[k]))
    held = exposures[worst]
    return replace(ests[worst], held=None if held is None else names[held])


PK_REASON = (
    "under pk dosing method='jump' is exact too, but auto does not estimate its cost, which is "
    "dominated by a time-dependent offspring table per step of the concentration path (10-80 ms "
    "each, not in the cost model); ask for method='jump' to run it with jumps"
)
"""Why auto keeps SSA under pharmacokinetic dosing (without missed doses)."""


def _why_not_jumps(
    jump: Method, model: "Model", schedule: "Schedule", fits: Mapping[str, Any]
) -> str | None:
    """Why exact jumps cannot run this run (None: they can)."""
    if model.capacity is not None or model.competition is not None:
        # Checked here, not only by check_fits: jumps of a density-dependent model are an
        # approximation, which auto never chooses.
        return (
            "the model is density dependent (capacity or competition), where jumps would be an "
            "approximation"
        )
    try:
        jump.check_fits(model, schedule, **fits)
    except DtpGillespieError as exc:
        return str(exc)
    if monitors_continuously(schedule):
        return (
            "adaptive check_every is 0 (continuous monitoring), which jumps read only at the "
            "end of each step (an approximation)"
        )
    return None


def _seconds(x: float) -> str:
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def _cost_words(est: Estimate) -> str:
    capped = (
        ""
        if est.capped_at is None
        else f"; the expected population reaches the cap at t = {est.capped_at:.4g}"
    )
    held = (
        ""
        if est.held is None
        else f" with exposure {est.held!r} held throughout (of the exposures the adaptive "
        "rules may put in force, the least favourable to jumps)"
    )
    return (
        f"expected cost per replicate{held} {_seconds(est.ssa_seconds)} by SSA "
        f"({est.events:.3g} expected events) against {_seconds(est.jump_seconds)} by jumps "
        f"({est.steps} steps{capped})"
    )


def _numbers(est: Estimate) -> dict[str, Any]:
    return {
        "auto_expected_events": est.events,
        "auto_ssa_seconds": est.ssa_seconds,
        "auto_jump_seconds": est.jump_seconds,
    }


def _ssa_attrs(reason: str, est: Estimate | None) -> dict[str, Any]:
    text = f"method='auto' ran exact SSA (event by event): {reason}"
    if est is not None:
        text += f"; {_cost_words(est)}"
    return {"algorithm": "ssa", "auto": text + ".", **({} if est is None else _numbers(est))}


def _jump_attrs(jump: Method, est: Estimate, states: Sequence[str]) -> dict[str, Any]:
    pools = {
        s: {"jumped_steps": j, "event_steps": e}
        for s, j, e in zip(states, est.jumped_steps, est.event_steps, strict=True)
    }
    text = (
        f"method='auto' ran exact population jumps (method='jump'): {_cost_words(est)}. Within "
        "the jump run the engine decides per pool and step: a pool expecting fewer than "
        f"jump_threshold = {jump.threshold:g} events in the step is simulated event by event, a "
        "larger one jumped exactly; auto_pools gives the steps each pool is expected to spend "
        "in each regime, from the mean path."
    )
    return {
        **method_attrs(jump.run_spec()),
        "auto": text,
        **_numbers(est),
        "auto_pools": json.dumps(pools),
    }


def run_attrs(points: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, Any]:
    """The method attributes of a run's output from its points' ``(run_spec, auto attrs)``: a
    plain run has one point; a sweep one per grid point (C order). A sweep whose points chose
    differently has ``algorithm = "mixed"`` and the choice per point in ``auto_points``."""
    run_spec, attrs = points[0]
    if run_spec.get("method") != AUTO:
        # A method given by name: its attributes, and the label of an approximation it runs.
        return {**method_attrs(run_spec), **attrs}
    if len(points) == 1:
        return dict(attrs)
    chosen = [a["algorithm"] for _, a in points]
    out: dict[str, Any] = {
        "algorithm": chosen[0] if len(set(chosen)) == 1 else "mixed",
        "auto": (
            "method='auto' chose a method per grid point (auto_points, C order): exact SSA or "
            "exact jumps, whichever is expected to be cheaper and can run the point exactly."
        ),
        "auto_points": json.dumps(chosen),
    }
    if "jump" in chosen:
        out.update({k: v for k, v in method_attrs(run_spec).items() if k != "algorithm"})
    return out


# --------------------------------------------------------------------------------------------
# The mean path.


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


def _step_means(
    core_model: "ModelSpec", exposure: int, length: float, tolerance: float
) -> _StepMeans:
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
    cap = min(math.inf if max_population is None else float(max_population), _JUMP_POPULATION_LIMIT)
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
    for exposure, length, pieces in grid:
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
        for _ in range(pieces):
            if sum(m) >= cap:
                capped_at = t
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
    )
