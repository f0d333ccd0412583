"""Parsing what couples cells to the whole population: a carrying capacity, Lotka–Volterra
competition, and a biomarker the cells produce (module doc of :mod:`dtp_gillespie.model`).
"""

import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from ._checks import is_real, to_float
from ._spec_values import (
    Table,
    _capacity_per_state,
    _check_keys,
    _fmt,
    _Modulation,
    _parse_table,
    _state_tables,
)
from .errors import InvalidModelError

if TYPE_CHECKING:
    from ._core import BiomarkerSpec, CompetitionSpec

_CAPACITY_KEYS: Final = ("K", "on", "weights", "slope")


DEATH_ADDITIVE: Final = "death_additive"
"""Capacity ``on`` value for crowding that adds death: ``d_i + c_i·N/K``."""


_CAPACITY_ON: Final = ("division", "death")


_COMPETITION_KEYS: Final = ("on", "states")


_COMPETITION_ROW_KEYS: Final = ("K", "K_per_cell", "alpha")


_BIOMARKER_KEYS: Final = ("name", "units", "production", "decay", "initial")


class _Competition:
    """Parsed competition: ``on`` and rows ``(state, K table, K_per_cell table per state, alpha
    table per state)``."""

    __slots__ = ("on", "rows")

    def __init__(
        self, on: str, rows: tuple[tuple[int, Table, tuple[Table, ...], tuple[Table, ...]], ...]
    ) -> None:
        self.on = on
        self.rows = rows

    def compile(self, n_exp: int) -> "CompetitionSpec":
        """The engine's ``competition`` dict (``_core.pyi``)."""

        def flat(tables: tuple[Table, ...]) -> list[float]:
            return [t[e] for e in range(n_exp) for t in tables]

        return {
            "on": "death" if self.on == "death" else "division",  # validated: one of the two
            "rows": [
                {"state": i, "alpha": flat(alpha), "k0": list(k0), "k_per_cell": flat(per_cell)}
                for i, k0, per_cell, alpha in self.rows
            ],
        }


class _Biomarker:
    """Parsed biomarker."""

    __slots__ = ("decay", "initial", "name", "production", "units")

    def __init__(
        self,
        name: str,
        units: str,
        production: tuple[Table, ...],
        decay: float,
        initial: float | str,
    ) -> None:
        self.name = name
        self.units = units
        self.production = production
        self.decay = decay
        self.initial = initial

    def compile(self, n_exp: int) -> "BiomarkerSpec":
        """The engine's ``biomarker`` dict (``_core.pyi``)."""
        return {
            "production": [t[e] for e in range(n_exp) for t in self.production],
            "decay": self.decay,
            "initial": None if self.initial == "steady" else float(self.initial),
        }


def _parse_competition(
    spec: object, states: tuple[str, ...], exposures: tuple[str, ...], mod: "_Modulation"
) -> _Competition | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidModelError(f"competition must be a table {{on, states}}, got {_fmt(spec)}")
    _check_keys(spec, _COMPETITION_KEYS, "competition")
    on = spec.get("on", "division")
    if on not in _CAPACITY_ON:
        raise InvalidModelError(f"competition on is {_fmt(on)}; expected 'division' or 'death'")
    rows_spec = spec.get("states")
    if not isinstance(rows_spec, Mapping) or not rows_spec:
        raise InvalidModelError(
            f"competition states is {_fmt(rows_spec)}; expected a non-empty table "
            "{state: {K, K_per_cell, alpha}}"
        )
    for name in rows_spec:
        if name not in states:
            raise InvalidModelError(
                f"competition states names unknown state {name!r}; the model's states are "
                f"{list(states)}"
            )
    rows = []
    for i, s in enumerate(states):
        if s not in rows_spec:
            continue
        where = f"competition states.{s}"
        row = rows_spec[s]
        if not isinstance(row, Mapping):
            raise InvalidModelError(
                f"{where} must be a table {{K, K_per_cell, alpha}}, got {_fmt(row)}"
            )
        _check_keys(row, _COMPETITION_ROW_KEYS, where)
        k0 = _parse_table(
            row.get("K", 0.0), f"{where}.K", exposures, "coefficient", mod, ("K", i, -1)
        )
        per_cell = _state_tables(
            row.get("K_per_cell", {}), f"{where}.K_per_cell", states, exposures, mod, ("Kc", i)
        )
        alpha = _state_tables(
            row.get("alpha", {s: 1.0}), f"{where}.alpha", states, exposures, mod, ("alpha", i)
        )
        for e, exp in enumerate(exposures):
            if not any(a[e] > 0 for a in alpha):
                raise InvalidModelError(
                    f"{where}.alpha is 0 for every state under exposure {exp!r}; at least one "
                    "competition coefficient must be > 0"
                )
            if on == "death" and not k0[e] > 0:
                raise InvalidModelError(
                    f"{where}.K under exposure {exp!r} is {k0[e]!r}; competition on death needs "
                    "K > 0 (the constant part of the capacity), or the death rate would be "
                    "infinite once the populations of K_per_cell die out; add a constant, "
                    "e.g. K = 1"
                )
            if not k0[e] > 0 and not any(c[e] > 0 for c in per_cell):
                raise InvalidModelError(
                    f"{where}: the capacity under exposure {exp!r} is always 0 (K = 0 and no "
                    "K_per_cell); give K > 0 or K_per_cell"
                )
        rows.append((i, k0, per_cell, alpha))
    return _Competition(str(on), tuple(rows))


def _parse_biomarker(
    spec: object, states: tuple[str, ...], exposures: tuple[str, ...], mod: "_Modulation"
) -> _Biomarker | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidModelError(
            f"biomarker must be a table {{name, units, production, decay, initial}}, got "
            f"{_fmt(spec)}"
        )
    _check_keys(spec, _BIOMARKER_KEYS, "biomarker")
    labels = {}
    for key, default in (("name", "biomarker"), ("units", "1")):
        value = spec.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise InvalidModelError(
                f"biomarker {key} is {_fmt(value)}; expected a non-empty string"
            )
        labels[key] = value
    if "production" not in spec:
        raise InvalidModelError(
            "biomarker has no 'production' (per cell of each state per day, e.g. {S = 1.0})"
        )
    production = _state_tables(
        spec["production"], "biomarker production", states, exposures, mod, ("production", 0)
    )
    if not any(x > 0 for t in production for x in t):
        raise InvalidModelError("biomarker production is 0 for every state; give one > 0")
    if "decay" not in spec:
        raise InvalidModelError("biomarker has no 'decay' (clearance rate per day, > 0)")
    decay = spec["decay"]
    if not is_real(decay) or not (math.isfinite(to_float(decay)) and to_float(decay) > 0):
        raise InvalidModelError(
            f"biomarker decay is {_fmt(decay)}; it must be a finite number > 0 (per day)"
        )
    _check_biomarker_range(production, float(decay))
    initial = spec.get("initial", "steady")
    if initial != "steady":
        if not is_real(initial) or not (
            math.isfinite(to_float(initial)) and to_float(initial) >= 0
        ):
            raise InvalidModelError(
                f"biomarker initial is {_fmt(initial)}; expected 'steady' or a finite number >= 0"
            )
        initial = float(initial)
    return _Biomarker(labels["name"], labels["units"], production, float(decay), initial)


MAX_BIOMARKER_PRODUCTION: Final = sys.float_info.max / 2.0**64
"""Largest per-cell biomarker production, and production / decay, accepted: with up to 2^64 cells
the production and the steady state stay finite, and so does every value of the biomarker."""


def _check_biomarker_range(production: Sequence[Table], decay: float) -> None:
    """Refuse a production that lets the biomarker of a large population overflow."""
    top = max(x for t in production for x in t)
    if top > MAX_BIOMARKER_PRODUCTION or top / decay > MAX_BIOMARKER_PRODUCTION:
        raise InvalidModelError(
            f"biomarker production {top!r} per cell with decay {decay!r}: production and "
            f"production / decay must be at most {MAX_BIOMARKER_PRODUCTION:.6g}, or the "
            "biomarker of a large population is not a finite number"
        )


def parse_capacity(
    spec: object,
    states: tuple[str, ...],
    exposures: tuple[str, ...],
    division: tuple[Table, ...],
    death: tuple[Table, ...],
) -> tuple[float, str, tuple[float, ...], tuple[float, ...]] | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidModelError(f"capacity must be a table {{K, on, weights}}, got {_fmt(spec)}")
    _check_keys(spec, _CAPACITY_KEYS, "capacity")
    if "K" not in spec:
        raise InvalidModelError("capacity has no 'K' (the carrying capacity)")
    k = spec["K"]
    if not is_real(k) or not (math.isfinite(to_float(k)) and to_float(k) > 0):
        raise InvalidModelError(f"capacity K is {_fmt(k)}; it must be a finite number > 0")
    on = spec.get("on", "division")
    if on not in (*_CAPACITY_ON, DEATH_ADDITIVE):
        raise InvalidModelError(
            f"capacity on is {_fmt(on)}; expected 'division', 'death' or '{DEATH_ADDITIVE}'"
        )
    weights = _capacity_per_state(spec.get("weights", {}), states, "weights", "weight", 1.0)
    if not any(w > 0 for w in weights):
        raise InvalidModelError("capacity weights are all 0; at least one must be > 0")
    if on != DEATH_ADDITIVE:
        if "slope" in spec:
            raise InvalidModelError(
                f"capacity slope goes with on = '{DEATH_ADDITIVE}', not on = {on!r}"
            )
        return float(k), str(on), weights, ()
    return (
        float(k),
        str(on),
        weights,
        capacity_slope(spec.get("slope"), states, exposures, division, death),
    )


def capacity_slope(
    spec: object,
    states: tuple[str, ...],
    exposures: tuple[str, ...],
    division: tuple[Table, ...],
    death: tuple[Table, ...],
) -> tuple[float, ...]:
    """Per-state death added at ``N = K`` by a ``death_additive`` capacity (module doc)."""
    if spec is None:
        if "off" not in exposures:
            raise InvalidModelError(
                f"capacity on '{DEATH_ADDITIVE}' needs a slope: the model has no 'off' "
                f"exposure to take it from; give slope = an exposure name (one of "
                f"{list(exposures)}), a number or a table {{state: number}}"
            )
        spec = "off"
    if isinstance(spec, str):
        if spec not in exposures:
            raise InvalidModelError(
                f"capacity slope is {spec!r}, not an exposure of the model {list(exposures)}"
            )
        e = exposures.index(spec)
        rates = zip(division, death, strict=True)
        return tuple(max(0.0, b[e] - d[e]) for b, d in rates)
    if is_real(spec):
        spec = dict.fromkeys(states, spec)
    if not isinstance(spec, Mapping):
        raise InvalidModelError(
            f"capacity slope is {_fmt(spec)}; expected an exposure name, a number or a table "
            "{state: number}"
        )
    return _capacity_per_state(spec, states, "slope", "slope", 0.0)
