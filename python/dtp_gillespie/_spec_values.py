"""The values of a model spec: numbers, names, and rate tables under each exposure.

Shared by the parsers of :mod:`dtp_gillespie.model`; each check raises ``InvalidModelError``
naming the field and the value.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._checks import is_real, to_float
from .errors import InvalidModelError

DEFAULT_EXPOSURES: Final = ("off", "on")
"""Exposures of a model whose spec has no ``exposures`` key."""


_MODEL_KEYS: Final = (
    "states",
    "exposures",
    "division",
    "death",
    "switch",
    "mutation",
    "capacity",
    "competition",
    "biomarker",
    "modulators",
)


# Tolerance on sum(p) <= 1 for mutation probabilities out of one state (float rounding only).
_PROB_SUM_TOL: Final = 1e-12


Table = tuple[float, ...]
"""A rate or probability under each exposure, in model exposure order."""


def _fmt(value: object) -> str:
    return repr(value)


def _check_keys(obj: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise InvalidModelError(
                f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}"
            )


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise InvalidModelError(f"{what} must be a string, got {_fmt(name)}")
    if not name or any(ch.isspace() for ch in name):
        raise InvalidModelError(f"{what} {name!r} must be non-empty and contain no whitespace")
    return name


def _check_value(value: object, what: str, kind: str) -> float:
    """Check one rate or coefficient (finite, >= 0) or probability (in [0, 1]); return it."""
    if not is_real(value):
        raise InvalidModelError(
            f"{what} is {_fmt(value)}; expected a number or a table {{exposure: number}}"
        )
    x = to_float(value)
    if kind in ("rate", "coefficient"):
        if not (math.isfinite(x) and x >= 0.0):
            raise InvalidModelError(f"{what} is {_fmt(value)}; {kind}s must be finite and >= 0")
    elif not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise InvalidModelError(f"{what} is {_fmt(value)}; probabilities must lie in [0, 1]")
    return x


def _parse_table(
    value: object,
    what: str,
    exposures: Sequence[str],
    kind: str,
    mod: "_Modulation | None" = None,
    key: tuple[str, int, int] | None = None,
) -> Table:
    """Parse a number or an ``{exposure: number}`` table into one value per exposure.

    With modulators (``mod``), exposures that contain a modulator may be omitted and are derived
    (see the module docstring); ``key`` identifies the process for the effect factors.
    """
    if mod is not None and mod.active:
        assert key is not None
        return mod.table(value, what, kind, key)
    if isinstance(value, Mapping):
        for key in value:
            if key not in exposures:
                raise InvalidModelError(
                    f"{what} names unknown exposure {key!r}; "
                    f"the model's exposures are {list(exposures)}"
                )
        out = []
        for e in exposures:
            if e not in value:
                raise InvalidModelError(
                    f"{what} has no value for exposure {e!r}; a table must name every exposure "
                    f"({list(exposures)}), or give one number for all of them"
                )
            out.append(_check_value(value[e], f"{what} under exposure {e!r}", kind))
        return tuple(out)
    x = _check_value(value, what, kind)
    return (x,) * len(exposures)


class _Modulation:
    """Modulator drugs of a model and the derivation of omitted rate-table values."""

    def __init__(
        self,
        exposures: tuple[str, ...],
        drugs: dict[str, tuple[str, dict[tuple[str, int, int], float]]],
    ) -> None:
        self.exposures = exposures
        self.drugs = drugs

    @property
    def active(self) -> bool:
        return bool(self.drugs)

    def modulator_in(self, exposure: str) -> str | None:
        """The last modulator among the ``+``-parts of ``exposure``, or None."""
        parts = [p for p in exposure.split("+") if p in self.drugs]
        return parts[-1] if parts else None

    def parent(self, exposure: str, drug: str) -> str:
        rest = [p for p in exposure.split("+") if p != drug]
        return "+".join(rest) if rest else self.drugs[drug][0]

    def table(self, value: object, what: str, kind: str, key: tuple[str, int, int]) -> Table:
        exps = self.exposures
        given: dict[str, float] = {}
        if isinstance(value, Mapping):
            for k in value:
                if k not in exps:
                    raise InvalidModelError(
                        f"{what} names unknown exposure {k!r}; the model's exposures are "
                        f"{list(exps)}"
                    )
            for e in exps:
                if e in value:
                    given[e] = _check_value(value[e], f"{what} under exposure {e!r}", kind)
        else:
            x = _check_value(value, what, kind)
            given = {e: x for e in exps if self.modulator_in(e) is None}
        out = {}
        for e in exps:
            out[e] = self._value(e, given, what, kind, key, ())
        return tuple(out[e] for e in exps)

    def _value(
        self,
        e: str,
        given: dict[str, float],
        what: str,
        kind: str,
        key: tuple[str, int, int],
        seen: tuple[str, ...],
    ) -> float:
        if e in given:
            return given[e]
        drug = self.modulator_in(e)
        if drug is None:
            raise InvalidModelError(
                f"{what} has no value for exposure {e!r}; a table must name every exposure "
                f"({list(self.exposures)}) except those containing a modulator, or give one number"
            )
        if e in seen:
            raise InvalidModelError(
                f"{what}: deriving exposure {e!r} from its modulators loops ({' -> '.join(seen)})"
            )
        parent = self.parent(e, drug)
        if parent not in self.exposures:
            raise InvalidModelError(
                f"{what} under exposure {e!r} would be derived from exposure {parent!r} (without "
                f"modulator {drug!r}), which is not an exposure of the model; add it or give the "
                "value explicitly"
            )
        base = self._value(parent, given, what, kind, key, (*seen, e))
        x = base * self.drugs[drug][1].get(key, 1.0)
        if kind == "probability" and x > 1.0:
            raise InvalidModelError(
                f"{what} under exposure {e!r} is derived as {base!r} x the effect of modulator "
                f"{drug!r} = {x!r}; probabilities must lie in [0, 1]"
            )
        if not math.isfinite(x):
            raise InvalidModelError(f"{what} under exposure {e!r} is derived as {x!r}; not finite")
        given[e] = x
        return x


def _state_tables(
    spec: object,
    what: str,
    states: tuple[str, ...],
    exposures: tuple[str, ...],
    mod: "_Modulation",
    key: tuple[str, int],
) -> tuple[Table, ...]:
    """``{state: number | {exposure: number}}`` of coefficients into one table per state (0 for
    the states it does not name)."""
    if not isinstance(spec, Mapping):
        raise InvalidModelError(f"{what} must be a table {{state: coefficient}}, got {_fmt(spec)}")
    for name in spec:
        if name not in states:
            raise InvalidModelError(
                f"{what} names unknown state {name!r}; the model's states are {list(states)}"
            )
    zero = (0.0,) * len(exposures)
    return tuple(
        _parse_table(spec[s], f"{what} of state {s!r}", exposures, "coefficient", mod, (*key, j))
        if s in spec
        else zero
        for j, s in enumerate(states)
    )


def _capacity_per_state(
    spec: object, states: tuple[str, ...], key: str, noun: str, default: float
) -> tuple[float, ...]:
    """The capacity's ``{state: value}`` table ``key`` (``weights``, ``slope``) of one ``noun``
    per state: finite values >= 0, ``default`` for states it does not name."""
    if not isinstance(spec, Mapping):
        raise InvalidModelError(
            f"capacity {key} must be a table {{state: {noun}}}, got {_fmt(spec)}"
        )
    for state in spec:
        if state not in states:
            raise InvalidModelError(
                f"capacity {key} names unknown state {state!r}; the model's states are "
                f"{list(states)}"
            )
    values = []
    for s in states:
        x = spec.get(s, default)
        if not is_real(x) or not (math.isfinite(to_float(x)) and to_float(x) >= 0):
            raise InvalidModelError(
                f"capacity {noun} of state {s!r} is {_fmt(x)}; {noun}s must be finite and >= 0"
            )
        values.append(float(x))
    return tuple(values)


def _table_to_spec(table: Table, exposures: Sequence[str]) -> float | dict[str, float]:
    if all(v == table[0] for v in table):
        return table[0]
    return dict(zip(exposures, table, strict=True))
