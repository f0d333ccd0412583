"""The simulation method of a run: exact SSA (the default) or exact population jumps.

``method="jump"`` advances a *linear* model (no capacity, no competition) under a fixed schedule
over a step grid: small pools event by event, large pools by exact jumps (one-ancestor offspring
tables split over the ancestors, mutation events simulated one by one so that their times stay
exact). See the documentation page "Exact population jumps" (docs/jumps.md) for what is exact
and what is resolved only to the step.

This module owns the method options (``method``, ``jump_step``, ``jump_tolerance``,
``jump_threshold``): their checks and messages, what they add to the ``run`` attribute and to the
engine's run dict, and the output attributes of a jump run. An SSA run adds nothing anywhere, so
its output is unchanged.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._checks import is_real, to_float
from .errors import InvalidModelError, InvalidRunError, InvalidScheduleError

if TYPE_CHECKING:
    from .model import Model
    from .schedule import Schedule

__all__ = [
    "DEFAULT_JUMP_STEP",
    "DEFAULT_JUMP_THRESHOLD",
    "DEFAULT_JUMP_TOLERANCE",
    "METHODS",
    "SSA",
    "Method",
    "check_method",
    "method_attrs",
]

METHODS = ("ssa", "jump", "auto")
"""The simulation methods (``"auto"`` runs one of the other two: :mod:`dtp_gillespie._auto`)."""

DEFAULT_JUMP_STEP = 0.5
"""Longest step of a jump run (days)."""
DEFAULT_JUMP_TOLERANCE = 1e-20
"""Tail mass of each offspring table, per ancestor and step."""
DEFAULT_JUMP_THRESHOLD = 1000.0
"""Pools expecting fewer events than this in a step are simulated event by event."""

_JUMP_KEYS = ("jump_step", "jump_tolerance", "jump_threshold")


@dataclass(frozen=True)
class Method:
    """A checked simulation method; the jump options are None for ``"ssa"``."""

    name: str
    step: float | None = None
    tolerance: float | None = None
    threshold: float | None = None

    def run_spec(self) -> dict[str, Any]:
        """What the method adds to the ``run`` attribute and to the engine's run dict."""
        if self.name == "ssa":
            return {}
        return {
            "method": self.name,
            "jump_step": self.step,
            "jump_tolerance": self.tolerance,
            "jump_threshold": self.threshold,
        }

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
        if model.capacity is not None or model.competition is not None:
            raise InvalidModelError(
                "method='jump' needs a linear model; this one has a "
                f"{'capacity' if model.capacity is not None else 'competition'} (density "
                "dependence breaks the branching property the exact jumps rely on): use "
                "method='ssa'"
            )
        if model.biomarker is not None:
            raise InvalidModelError("method='jump' does not simulate a biomarker; use method='ssa'")
        if schedule.engine_kind != "fixed":
            raise InvalidScheduleError(
                f"method='jump' supports fixed schedules only; this schedule is "
                f"{schedule.kind!r}: use method='ssa'"
            )
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
) -> Method:
    """Check the method options; the jump options are refused with ``method="ssa"`` (with
    ``"auto"`` they apply if it chooses jumps)."""
    if method not in METHODS:
        raise InvalidRunError(f"method is {method!r}; expected one of {', '.join(METHODS)}")
    given = {
        "jump_step": jump_step,
        "jump_tolerance": jump_tolerance,
        "jump_threshold": jump_threshold,
    }
    if method == "ssa":
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise InvalidRunError(
                f"{extra[0]} applies to method='jump' only (and to 'auto' when it chooses "
                "jumps); method is 'ssa'"
            )
        return SSA
    step = DEFAULT_JUMP_STEP if jump_step is None else jump_step
    tolerance = DEFAULT_JUMP_TOLERANCE if jump_tolerance is None else jump_tolerance
    threshold = DEFAULT_JUMP_THRESHOLD if jump_threshold is None else jump_threshold
    return Method(
        str(method),
        step=_number(step, "jump_step", "(0, inf) (days)", lambda x: 0 < x < math.inf),
        tolerance=_number(tolerance, "jump_tolerance", "(0, 1e-6]", lambda x: 0 < x <= 1e-6),
        threshold=_number(threshold, "jump_threshold", "[0, inf]", _at_least_0),
    )


def method_attrs(run_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The output attributes that say how a run was simulated: none for SSA (the default), and
    ``algorithm``, ``jump_step``, ``jump_tolerance``, ``jump_threshold`` for jumps."""
    if run_spec.get("method", "ssa") == "ssa":
        return {}
    return {"algorithm": run_spec["method"], **{k: run_spec[k] for k in _JUMP_KEYS}}
