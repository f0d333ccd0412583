"""The protocol every schedule kind implements, and the defaults most kinds share.

A kind is a stateless object that works on the kind's *parameters*: the normalised spec, a plain
JSON-able dict with every key explicit (``{"kind": "intermittent", "on": 14.0, ...}``).
:class:`~dtp_gillespie.schedule.Schedule` holds the parameters and asks its kind (found by
``params["kind"]`` in the registry, :mod:`dtp_gillespie.schedule._registry`) for everything that
depends on the kind. To add a kind, see CONTRIBUTING.md, "Adding a schedule kind".
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..errors import InvalidScheduleError
from ._common import DEFAULT_OFF, check_keys

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Params", "ScheduleKind", "SpecHolder"]

Params = dict[str, Any]
"""A kind's normalised spec (the result of :meth:`ScheduleKind.normalise`)."""


class ScheduleKind(ABC):
    """One schedule kind: how its spec is checked, what it says, and what the engine runs."""

    name: ClassVar[str]
    """The spec's ``kind``."""
    keys: ClassVar[tuple[str, ...]]
    """Every key the spec may have, ``"kind"`` first (unknown keys are refused)."""
    engine_kind: ClassVar[str] = "fixed"
    """What :meth:`compile` gives the engine: ``"fixed"``, ``"adaptive"`` or ``"pk"``."""
    needs_t_end: ClassVar[bool] = False
    """Does :meth:`compile` need the end of the run (to expand doses or merge breakpoints)?"""

    def normalise(self, spec: Mapping[str, Any]) -> Params:
        """Check the spec (its ``kind`` is this one) and return its parameters: every key
        explicit, numbers as floats. Raises ``InvalidScheduleError`` naming the field."""
        check_keys(spec, self.keys, f"{self.name} schedule")
        return self.normalise_fields(spec)

    @abstractmethod
    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        """:meth:`normalise` after the keys are checked."""

    def to_dict(self, params: Params) -> dict[str, Any]:
        """The parameters as a fresh JSON-able dict (what ``Schedule.to_dict`` returns)."""
        out: dict[str, Any] = json.loads(json.dumps(params))
        return out

    @abstractmethod
    def exposures(self, params: Params) -> list[str]:
        """Every exposure name the schedule may put in force (duplicates allowed)."""

    def off_exposure(self, params: Params, model: "Model") -> str | None:
        """The exposure that is not treatment, or None (every exposure is). By default
        ``"off"`` if the model has it."""
        return DEFAULT_OFF if DEFAULT_OFF in model.exposures else None

    def validate(self, params: Params, model: "Model", t_end: float | None) -> None:
        """Check the schedule against ``model`` (by default: its exposures are the model's)."""
        for name in dict.fromkeys(self.exposures(params)):
            if name not in model.exposures:
                raise InvalidScheduleError(
                    f"{self.name} schedule uses exposure {name!r}, which is not an exposure of "
                    f"the model (exposures: {list(model.exposures)})"
                )

    @abstractmethod
    def compile(self, params: Params, model: "Model", t_end: float | None) -> dict[str, Any]:
        """The engine's tables for this kind (``Schedule.compile`` adds ``kind`` and
        ``treating``; see ``_core.pyi``), after :meth:`validate`. Checks the bound on
        breakpoints before ``t_end`` where the kind has breakpoints."""

    def exposure_at(self, params: Params, times: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """The exposure in force at each of ``times`` (checked: finite, >= 0), of their shape.
        By default refused: the exposure of a state-triggered kind depends on the trajectory."""
        raise InvalidScheduleError(
            f"exposure_at: the exposure of a {self.name} schedule depends on the trajectory; "
            "read the recorded 'exposure' of a run instead"
        )


class SpecHolder(ABC):
    """Anything that stands for a schedule spec, i.e. ``Schedule`` (which is defined where the
    kinds are imported, so that a kind recognises one by this base class)."""

    __slots__ = ()

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The normalised spec."""
