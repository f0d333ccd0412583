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

The jumps' cost stops where the expected population reaches ``max_population`` or the jump
runs' population limit of 2^50 cells (``JUMP_POPULATION_LIMIT``), where a jump run stops
with status ``max_population``. SSA's expected events run on past that limit, to
``max_population`` or the engine's own limit of 2^63 - 1 cells (``POPULATION_LIMIT``), over
whole gaps of the grid (the mean events of a gap are exact whatever its length): a tumour of
2^50 cells or more is never costed at 0 events by SSA, so auto runs jumps, which stop at once
and say so, rather than SSA's ~10^13 events or more. The costs are constants measured once
(``benches/python/bench_jump_crossover.py``); the choice is a pure function of the model,
schedule and run options (plain float arithmetic), so the same inputs always choose the same
method, and the result is bit for bit that of the chosen method with the same options. The
attributes say which method ran, why, and, for a jump run, how many steps each pool is expected
to spend jumped and event by event. The estimate costs a few microseconds per step of the grid.

The mean path is a proxy: the jump run's cost is concave in a pool's size (a pool's events one
by one, or one split, whichever the threshold picks), so when rare large replicates dominate the
expected cost the mean path overestimates the jumps' cost (Jensen) and auto leans to SSA.
"""

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

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

from ._auto_cost import COSTS, CostModel, Estimate, estimate

__all__ = ["AUTO", "COSTS", "Choice", "CostModel", "Estimate", "choose_method", "run_attrs"]

AUTO = "auto"
"""The name of the automatic choice."""


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
    if est.capped_at is None:
        capped = ""
    elif est.capped_by == "max_population":
        capped = f"; the expected population reaches max_population at t = {est.capped_at:.4g}"
    else:
        capped = (
            "; the expected population reaches the jump runs' population limit of 2^50 cells at "
            f"t = {est.capped_at:.4g}, where a jump run stops (status max_population)"
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
