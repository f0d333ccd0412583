"""The simulation method of a run: exact SSA (the default) or population jumps.

``method="jump"`` advances a model under a fixed schedule or adaptive rules over a step grid:
small pools event by event, large pools by jumps (one-ancestor offspring tables split over the
ancestors, mutation events simulated one by one so that their times stay exact). On a *linear*
model (no capacity, no competition) the jumps are exact, and so are adaptive rules checked at
visits. Two cases are approximations with their own label: a model with a capacity or
competition, ``algorithm = "jump+density(midpoint)"`` (each step freezes the rates at the step's
mean-field midpoint), and adaptive rules with continuous monitoring, ``algorithm =
"jump+monitor(step)"`` (the rules are read at the end of every step); both at once,
``"jump+density(midpoint)+monitor(step)"``. See the documentation
page "Exact population jumps" (docs/jumps.md) for what is exact, what is resolved only to the
step, and the measured bias.

This module owns the method options (``method``, ``jump_step``, ``jump_tolerance``,
``jump_threshold``, ``jump_density_quantum``): their checks and messages, what they add to the
``run`` attribute and to the engine's run dict, and the output attributes of a jump run. An SSA
run adds nothing anywhere, so its output is unchanged.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import _core
from ._checks import is_real, to_float
from .errors import InvalidModelError, InvalidRunError, InvalidScheduleError

if TYPE_CHECKING:
    from ._core import ModelSpec, RunSpec, _ScheduleSpec
    from .model import Model
    from .schedule import Schedule

__all__ = [
    "DEFAULT_JUMP_DENSITY_QUANTUM",
    "DEFAULT_JUMP_STEP",
    "DEFAULT_JUMP_THRESHOLD",
    "DEFAULT_JUMP_TOLERANCE",
    "DENSITY_MONITOR_ALGORITHM",
    "JUMP_POPULATION_LIMIT",
    "METHODS",
    "POPULATION_LIMIT",
    "SSA",
    "Method",
    "check_method",
    "density_attrs",
    "method_attrs",
    "monitor_attrs",
    "monitors_continuously",
    "population_cap_words",
]

METHODS = ("ssa", "jump", "auto")
"""The simulation methods (``"auto"`` runs one of the other two: :mod:`dtp_gillespie._auto`)."""

DEFAULT_JUMP_STEP = 0.5
"""Longest step of a jump run (days)."""
DEFAULT_JUMP_TOLERANCE = 1e-20
"""Tail mass of each offspring table, per ancestor and step."""
DEFAULT_JUMP_THRESHOLD = 1000.0
"""Pools expecting fewer events than this in a step are simulated event by event."""
DEFAULT_JUMP_DENSITY_QUANTUM = 1e-4
"""Density-dependent jumps: crowdings (N/K) are rounded to a multiple of this to share tables."""
DENSITY_ALGORITHM = "jump+density(midpoint)"
"""The ``algorithm`` attr of a jump run on a density-dependent model (an approximation)."""

MONITOR_ALGORITHM = "jump+monitor(step)"
"""The ``algorithm`` attr of a jump run of adaptive rules with continuous monitoring (an
approximation: the rules are read at the end of every step)."""
DENSITY_MONITOR_ALGORITHM = DENSITY_ALGORITHM + "+monitor(step)"
"""The ``algorithm`` attr of a jump run with both approximations: continuously monitored adaptive
rules on a density-dependent model."""

_JUMP_KEYS = ("jump_step", "jump_tolerance", "jump_threshold")

JUMP_POPULATION_LIMIT = 2**50
"""Jump runs stop at this population with status ``max_population`` whatever
``max_population`` says (``JUMP_POPULATION_LIMIT`` of the engine: its samplers are exact up to
2^53 cells, and one step must not take a pool past that)."""
POPULATION_LIMIT = 2**63 - 1
"""Every run stops at this population with status ``max_population`` whatever
``max_population`` says: counts are int64 (``POPULATION_LIMIT`` of the engine)."""


@dataclass(frozen=True)
class Method:
    """A checked simulation method; the jump options are None for ``"ssa"``."""

    name: str
    step: float | None = None
    tolerance: float | None = None
    threshold: float | None = None
    density_quantum: float | None = None

    def run_spec(self) -> dict[str, Any]:
        """What the method adds to the ``run`` attribute and to the engine's run dict
        (``jump_density_quantum`` only for a density-dependent model, see :meth:`for_model`)."""
        if self.name == "ssa":
            return {}
        spec: dict[str, Any] = {
            "method": self.name,
            "jump_step": self.step,
            "jump_tolerance": self.tolerance,
            "jump_threshold": self.threshold,
        }
        if self.density_quantum is not None:
            spec["jump_density_quantum"] = self.density_quantum
        return spec

    def for_model(self, model: "Model") -> "Method":
        """The method as it runs on ``model``: a jump run on a model with a capacity or
        competition gets its density quantum (the default if not given), which labels it an
        approximation; a quantum given for a linear model is refused."""
        if self.name != "jump":
            return self
        if model.capacity is not None or model.competition is not None:
            if self.density_quantum is None:
                return replace(self, density_quantum=DEFAULT_JUMP_DENSITY_QUANTUM)
            return self
        if self.density_quantum is not None:
            raise InvalidRunError(
                f"jump_density_quantum is {self.density_quantum!r}; it applies only to models "
                "with a capacity or competition, and this model is linear"
            )
        return self

    def check_fits(
        self,
        model: "Model",
        schedule: "Schedule",
        *,
        max_events: int | None,
        progression: object,
        tracks_lineages: bool = False,
    ) -> None:
        """Refuse what the jumps cannot do exactly (nothing for ``"ssa"``)."""
        if self.name == "ssa":
            return
        if tracks_lineages:
            raise InvalidRunError(
                "method='jump' does not track barcodes or clones (a jump moves many cells at "
                "once, not one lineage at a time); use method='ssa' with barcodes= or clones="
            )
        if model.biomarker is not None:
            raise InvalidModelError("method='jump' does not simulate a biomarker; use method='ssa'")
        _check_schedule_fits(model, schedule)
        if progression is not None:
            raise InvalidRunError(
                "method='jump' does not monitor progression (it sees the counts only on its "
                "step grid); use method='ssa'"
            )
        if max_events is not None:
            raise InvalidRunError(
                f"max_events is {max_events!r}; method='jump' does not count the events it "
                "jumps over, so it takes no event cap (use max_population)"
            )


def _check_schedule_fits(model: "Model", schedule: "Schedule") -> None:
    """Refuse the schedules the jumps cannot run exactly: pharmacokinetic dosing on a
    density-dependent model, and pharmacokinetic dosing with missed doses (each replicate would
    have its own concentration path, and so its own step laws). (Adaptive rules run on any
    model; on a density-dependent one each replicate's exposure comes from its rules and its step
    law from the density laws under that exposure.)"""
    density = model.capacity is not None or model.competition is not None
    kind = schedule.engine_kind
    if kind == "pk" and density:
        raise InvalidScheduleError(
            "method='jump' runs pk schedules on linear models only (this model has a capacity or "
            "competition); use method='ssa'"
        )
    if kind == "pk":
        missed = schedule.to_dict()["missed_dose_probability"]
        if missed > 0:
            raise InvalidScheduleError(
                f"missed_dose_probability is {missed!r}; method='jump' runs pk schedules "
                "without missed doses only (each replicate would have its own concentration "
                "path, and so its own step laws); use method='ssa'"
            )


def monitors_continuously(schedule: "Schedule") -> bool:
    """Is ``schedule`` adaptive with continuous monitoring (``check_every = 0``)? Under jumps
    its rules are read at the end of every step: the approximation ``jump+monitor(step)``."""
    return _continuous(schedule.to_dict())


def _continuous(spec: Mapping[str, object]) -> bool:
    """Does a schedule's dict (its ``to_dict()`` or the engine's spec, which share these keys)
    monitor adaptive rules continuously?"""
    return spec.get("kind") == "adaptive" and spec.get("check_every") == 0


def monitor_attrs(method: Method, schedule: "Schedule") -> dict[str, Any]:
    """The attributes that label a jump run of continuously monitored adaptive rules (none for
    other runs): ``algorithm = "jump+monitor(step)"`` and ``monitor_step``, the longest step,
    the delay Δ_min within which a threshold crossing or a timer is acted on."""
    if method.name != "jump" or not monitors_continuously(schedule):
        return {}
    return {"algorithm": MONITOR_ALGORITHM, "monitor_step": method.step}


def population_cap_words(run: Mapping[str, Any]) -> str:
    """The population cap that stopped replicates with status ``max_population``, in words, for
    the engine's run dict ``run`` (its ``max_population`` and ``method``): the user's
    ``max_population`` when it is set at or below the engine's limit for the method, else that
    limit (2^50 cells for jumps, 2^63 - 1 for SSA), which the user never set."""
    jump = run.get("method", "ssa") != "ssa"
    limit = JUMP_POPULATION_LIMIT if jump else POPULATION_LIMIT
    user = run.get("max_population")
    if user is not None and user <= limit:
        return f"at max_population={user}"
    what = (
        "the jump runs' population limit of 2^50 cells"
        if jump
        else "the engine's population limit of 2^63 - 1 cells, the largest int64 count"
    )
    return f"at {what}, below max_population={user}" if user is not None else f"at {what}"


def _number(value: object, name: str, interval: str, ok: Callable[[float], bool]) -> float:
    """A real number satisfying ``ok``; else an error naming the option, value and ``interval``."""
    x = to_float(value) if is_real(value) else math.nan
    if not ok(x):
        raise InvalidRunError(f"{name} is {value!r}; it must be a number in {interval}")
    return x


SSA = Method("ssa")
"""The default method: exact SSA, event by event."""


def _at_least_0(x: float) -> bool:
    return x >= 0


def check_method(
    method: object,
    jump_step: object = None,
    jump_tolerance: object = None,
    jump_threshold: object = None,
    jump_density_quantum: object = None,
) -> Method:
    """Check the method options; the jump options are refused with ``method="ssa"`` (with
    ``"auto"`` they apply if it chooses jumps)."""
    if method not in METHODS:
        raise InvalidRunError(f"method is {method!r}; expected one of {', '.join(METHODS)}")
    given = {
        "jump_step": jump_step,
        "jump_tolerance": jump_tolerance,
        "jump_threshold": jump_threshold,
        "jump_density_quantum": jump_density_quantum,
    }
    if method == "ssa":
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise InvalidRunError(
                f"{extra[0]} applies to method='jump' only (and to 'auto' when it chooses "
                "jumps); method is 'ssa'"
            )
        return SSA
    if method == "auto" and jump_density_quantum is not None:
        raise InvalidRunError(
            "jump_density_quantum applies to method='jump' only: method='auto' never chooses "
            "the density approximation (it runs SSA on a model with a capacity or competition)"
        )
    step = DEFAULT_JUMP_STEP if jump_step is None else jump_step
    tolerance = DEFAULT_JUMP_TOLERANCE if jump_tolerance is None else jump_tolerance
    threshold = DEFAULT_JUMP_THRESHOLD if jump_threshold is None else jump_threshold
    return Method(
        str(method),
        step=_number(step, "jump_step", "(0, inf) (days)", lambda x: 0 < x < math.inf),
        tolerance=_number(tolerance, "jump_tolerance", "(0, 1e-6]", lambda x: 0 < x <= 1e-6),
        threshold=_number(threshold, "jump_threshold", "[0, inf]", _at_least_0),
        density_quantum=_density_quantum(jump_density_quantum),
    )


def _density_quantum(value: object) -> float | None:
    """The checked ``jump_density_quantum`` (None: not given)."""
    if value is None:
        return None
    return _number(value, "jump_density_quantum", "(0, 0.1]", lambda x: 0 < x <= 0.1)


def method_attrs(run_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The output attributes that say how a run was simulated: none for SSA (the default), and
    ``algorithm``, ``jump_step``, ``jump_tolerance``, ``jump_threshold`` for jumps (with
    ``algorithm = "jump+density(midpoint)"`` and ``density_quantum`` on a density-dependent
    model: an approximation)."""
    if run_spec.get("method", "ssa") == "ssa":
        return {}
    attrs = {"algorithm": run_spec["method"], **{k: run_spec[k] for k in _JUMP_KEYS}}
    if "jump_density_quantum" in run_spec:
        attrs["algorithm"] = DENSITY_ALGORITHM
        attrs["density_quantum"] = run_spec["jump_density_quantum"]
    return attrs


def density_attrs(
    run_spec: Mapping[str, Any],
    core_model: "ModelSpec",
    core_schedule: "_ScheduleSpec",
    core_run: "RunSpec",
) -> dict[str, Any]:
    """A density-dependent jump run's measures of its approximation (none for other runs),
    from the engine's mean-field path over the run's step grid (under adaptive rules, with the
    rules applied to that path): ``max_rate_change_per_step`` (the largest relative change of
    any rate across one step) and ``density_rate_error`` (the largest relative rate error of
    rounding the crowding to ``density_quantum``). With continuously monitored rules it also
    gives the label of both approximations, ``algorithm =
    "jump+density(midpoint)+monitor(step)"`` (these attrs are applied after ``monitor_attrs``'
    and ``method_attrs``')."""
    if "jump_density_quantum" not in run_spec:
        return {}
    report = _core.jump_density_report(core_model, core_schedule, core_run)
    if report is None:
        return {}
    change, error = report
    attrs: dict[str, Any] = {"max_rate_change_per_step": change, "density_rate_error": error}
    if _continuous(core_schedule):
        attrs["algorithm"] = DENSITY_MONITOR_ALGORITHM
    return attrs
