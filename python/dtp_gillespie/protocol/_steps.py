"""The steps of a protocol: what each does to the flasks of one experiment, and its checks.

A step is a small frozen dataclass. ``Grow`` runs the engine (``treat`` is a ``Grow`` labelled
``"treat"``: the same thing, named for the reader); ``Split``, ``Passage`` and ``Bottleneck``
sample cells; ``Count`` records the flasks. Each step checks its own fields when it is made, with
messages naming the field (``steps[3].flasks``) and the value.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._checks import check_count, is_real, to_float
from ..errors import InvalidRunError, InvalidScheduleError
from ..schedule import Schedule

__all__ = [
    "MAX_FLASKS",
    "STEP_NAMES",
    "Bottleneck",
    "Count",
    "Grow",
    "Passage",
    "Split",
    "Step",
    "step_from_dict",
]

MAX_FLASKS = 100_000
"""Most flasks one experiment may be split into (the product of its splits)."""


@dataclass(frozen=True)
class Grow:
    """Run the engine on every flask under ``schedule`` for ``duration`` days.

    ``schedule`` is a :class:`~dtp_gillespie.Schedule`, or a name: one of the protocol's
    ``schedules``, else an exposure of the model (continuous exposure). The schedule's clock
    starts at 0 at the start of the step.
    """

    schedule: "str | Schedule"
    duration: float
    label: Literal["grow", "treat"] = "grow"

    def to_dict(self) -> dict[str, Any]:
        """The step as in a TOML ``[[protocol.steps]]`` table."""
        sched = self.schedule if isinstance(self.schedule, str) else self.schedule.to_dict()
        return {"step": self.label, "schedule": sched, "duration": self.duration}


@dataclass(frozen=True)
class Split:
    """Split every flask into ``flasks`` flasks: each cell goes to one of them independently and
    uniformly, so every lineage's cells of every state are partitioned multinomially."""

    flasks: int

    def to_dict(self) -> dict[str, Any]:
        """The step as in a TOML ``[[protocol.steps]]`` table."""
        return {"step": "split", "flasks": self.flasks}


@dataclass(frozen=True)
class Passage:
    """Keep each cell independently with probability ``fraction`` (binomial per lineage and
    state)."""

    fraction: float

    def to_dict(self) -> dict[str, Any]:
        """The step as in a TOML ``[[protocol.steps]]`` table."""
        return {"step": "passage", "fraction": self.fraction}


@dataclass(frozen=True)
class Bottleneck:
    """Keep exactly ``cells`` cells, chosen uniformly without replacement (multivariate
    hypergeometric over every (lineage, state)). A living flask with fewer cells gets the status
    ``short`` and is unknown from then on; an extinct flask stays extinct."""

    cells: int

    def to_dict(self) -> dict[str, Any]:
        """The step as in a TOML ``[[protocol.steps]]`` table."""
        return {"step": "bottleneck", "cells": self.cells}


@dataclass(frozen=True)
class Count:
    """Record each flask's cells per state and its table of cells per barcode and state."""

    def to_dict(self) -> dict[str, Any]:
        """The step as in a TOML ``[[protocol.steps]]`` table."""
        return {"step": "count"}


Step = Grow | Split | Passage | Bottleneck | Count

STEP_NAMES = ("grow", "treat", "split", "passage", "bottleneck", "count")
_KEYS: dict[str, tuple[str, ...]] = {
    "grow": ("schedule", "duration"),
    "treat": ("schedule", "duration"),
    "split": ("flasks",),
    "passage": ("fraction",),
    "bottleneck": ("cells",),
    "count": (),
}


def check_duration(value: object, where: str) -> float:
    """A step's duration: a finite number of days > 0."""
    x = to_float(value) if is_real(value) else math.nan
    if not (math.isfinite(x) and x > 0):
        raise InvalidRunError(f"{where} is {value!r}; it must be a finite number > 0 (days)")
    return x


def check_fraction(value: object, where: str) -> float:
    """A passage fraction in (0, 1]."""
    x = to_float(value) if is_real(value) else math.nan
    if not (0.0 < x <= 1.0):
        raise InvalidRunError(
            f"{where} is {value!r}; a passage keeps a fraction in (0, 1] of the cells"
        )
    return x


def check_schedule(value: object, where: str) -> "str | Schedule":
    """A schedule name or a Schedule (a spec table becomes a Schedule)."""
    if isinstance(value, str | Schedule):
        return value
    if isinstance(value, Mapping):
        try:
            return Schedule.from_dict(value)
        except InvalidScheduleError as exc:
            raise InvalidScheduleError(f"{where}: {exc}") from None
    raise InvalidScheduleError(
        f"{where} is {value!r}; expected a schedule name, a Schedule or a schedule table"
    )


def make_step(kind: str, where: str, **fields: Any) -> Step:
    """The step ``kind`` with checked ``fields`` (``where`` names it in messages: ``steps[2]``)."""
    if kind in ("grow", "treat"):
        return Grow(
            check_schedule(fields["schedule"], f"{where}.schedule"),
            check_duration(fields["duration"], f"{where}.duration"),
            "treat" if kind == "treat" else "grow",
        )
    if kind == "split":
        return Split(check_count(fields["flasks"], f"{where}.flasks", 1))
    if kind == "passage":
        return Passage(check_fraction(fields["fraction"], f"{where}.fraction"))
    if kind == "bottleneck":
        return Bottleneck(check_count(fields["cells"], f"{where}.cells", 1))
    if kind == "count":
        return Count()
    raise InvalidRunError(f"{where}.step is {kind!r}; expected one of {', '.join(STEP_NAMES)}")


def step_from_dict(spec: object, where: str) -> Step:
    """A step from its table (``{"step": "split", "flasks": 2}``), every key checked."""
    if isinstance(spec, Grow | Split | Passage | Bottleneck | Count):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidRunError(f"{where} is {spec!r}; expected a table with a 'step' key")
    kind = spec.get("step")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise InvalidRunError(f"{where}.step is {kind!r}; expected one of {', '.join(STEP_NAMES)}")
    allowed = _KEYS[kind]
    for key in spec:
        if key != "step" and key not in allowed:
            listed = ", ".join(("step", *allowed))
            raise InvalidRunError(
                f"unknown key {key!r} in {where} ({kind}); allowed keys: {listed}"
            )
    for key in allowed:
        if key not in spec:
            raise InvalidRunError(f"{where} ({kind}) has no {key!r}")
    return make_step(kind, where, **{k: spec[k] for k in allowed})
