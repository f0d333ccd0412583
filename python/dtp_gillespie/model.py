"""The cell-population model: declarative spec, validation and compilation for the engine.

A model is written as plain data (README, "The model and its spec")::

    {
        "states": ["S", "P", {"name": "R", "genetic": True}],
        "exposures": ["off", "on"],
        "division": {"S": 0.04, "P": 0.005, "R": 0.035},
        "death": {"S": {"off": 0.01, "on": 0.30}, "P": 0.005, "R": 0.01},
        "switch": [{"from": "S", "to": "P", "rate": {"off": 0.001, "on": 0.01}}],
        "mutation": [{"from": "P", "to": "R", "probability": 1e-4}],
        "capacity": {"K": 1e6, "on": "division", "weights": {"R": 1.0}},  # optional
    }

Rules
-----
- ``states`` is required; a state is a name or ``{name, genetic}``. A *genetic* state is reached
  only by mutation and never reverts: a switch or mutation out of a genetic state into a
  non-genetic state is an error; a switch into a genetic state is a mutation per unit time.
- ``exposures`` defaults to ``["off", "on"]`` when omitted (the exposure names the schedules use by
  default), so a model whose rates are all single numbers needs no ``exposures`` key.
- A rate (or probability) is one number, the same under every exposure, or a table
  ``{exposure: number}`` naming every exposure of the model (a partial table is an error naming
  the missing exposure).
- ``division`` and ``death`` map state names to rates; a missing state has rate 0.
- Rates are per day, finite and >= 0; probabilities lie in [0, 1], and the mutation
  probabilities out of one state sum to at most 1 under every exposure.
- Names (states and exposures) are non-empty strings without whitespace; unknown keys are errors.

Density dependence: capacity and competition
--------------------------------------------
``capacity = {"K": K, "on": "division" | "death" | "death_additive", "weights": {state: w},
"slope": ...}`` gives every state the same crowding ``x = Σ_j w_j n_j / K``. ``"death_additive"``
makes the death rate ``d_i + c_i·x`` under every exposure, so crowding only ever adds death;
the slope ``c_i`` is ``slope``: an exposure name (default ``"off"``), giving ``c_i = max(0, b_i −
d_i)`` under that exposure (there the model is the logistic ``"death"`` form), or a number or
``{state: number}`` table (states it does not name get 0). ``competition`` gives each listed
state ``i`` its own Lotka–Volterra row::

    "competition": {
        "on": "death",                     # or "division" (default)
        "states": {
            "T+": {"K": 1.0, "K_per_cell": {"TP": {"off": 1.5, "on": 0.5}},
                   "alpha": {"T+": 1.0, "TP": 0.7, "T-": 0.8}},
            "TP": {"K": {"off": 10000, "on": 100}, "alpha": {"T+": 0.4, "TP": 1.0, "T-": 0.5}},
        },
    }

with crowding ``x_i = C_i / K_i``, ``C_i = Σ_j alpha_ij n_j`` and ``K_i = K + Σ_j K_per_cell_j n_j``
(a capacity that grows with another population's count). On division the division rate of ``i``
is ``b_i·max(0, 1 − x_i)``; on death its death rate is ``max(0, d_i + (b_i − d_i)·x_i)`` (with
``d_i = 0``: birth ``b_i``, death ``b_i x_i``, whose mean is the Lotka–Volterra growth
``b_i n_i (1 − x_i)``, also above capacity). Two declarations are accepted with a
:class:`~dtp_gillespie.errors.CrowdingWarning` naming the state and exposure: on death where
``d_i > b_i`` (a drug that kills the state), since crowding then *lowers* death; and on division
with death rate 0 under an exposure whose capacity is lower than another's, since cells above it
are frozen. Every coefficient is a number or an ``{exposure: number}`` table, finite and >= 0.
``alpha`` defaults to ``{i: 1}`` (logistic in the state's own count); states it does not name
have coefficient 0; ``K`` defaults to 0 and ``K_per_cell`` to ``{}``. When ``K_i = 0``
(``K = 0`` and the populations of ``K_per_cell`` extinct) the state has no room to grow: its
division rate is 0. On death ``K`` must be > 0 under every exposure (the death rate would be
infinite). States not listed are not density dependent. A model has ``capacity`` or
``competition``, not both; a capacity is the special case of one row per state with
``alpha = weights`` and constant ``K``.

Biomarker
---------
``biomarker = {"name": "PSA", "units": "ng/mL", "production": {state: p}, "decay": 0.5,
"initial": "steady" | y0}`` adds a circulating biomarker ``dy/dt = Σ_i p_i n_i − decay·y``
(``p_i`` per cell per day, a number or an exposure table; ``decay`` per day, > 0). ``initial``
is ``y(0)`` (>= 0) or ``"steady"`` (default): ``Σ p_i n_i(0) / decay`` under the initial exposure.
Between events ``y`` is known in closed form, so adaptive schedules can monitor it (``monitor =
"biomarker"``) and switch at its exact threshold crossings; runs record it as ``biomarker``.
``name`` (default ``"biomarker"``) and ``units`` (default ``"1"``) label the output.

Drug combinations and modulators
--------------------------------
Exposures may name drug combinations (``["off", "A", "M", "A+M"]``): every rate table then has one
value per combination. A *modulator* (an epigenetic or metabolic drug that changes chosen rates by
a factor) can instead be declared once::

    "modulators": [{"drug": "M", "base": "off",
                    "effects": [{"process": "switch", "from": "P", "to": "S", "factor": 3.0},
                                {"process": "death", "state": "P", "factor": 2.0}]}]

An exposure *contains* the modulator when ``"M"`` is one of its ``+``-separated parts (``"M"``,
``"A+M"``). A rate table may omit such exposures, and a single number gives the value under the
exposures that contain no modulator only; an omitted value is derived as the value under the
exposure without the modulator (``"A+M"`` → ``"A"``; ``"M"`` alone → ``base``, default ``"off"``)
times the effect's ``factor`` for that process (1 when the modulator has no effect on it). With
several modulators in one exposure the last one in the name is removed first, recursively, so the
factors multiply. Values given explicitly always win. ``process`` is ``"division"`` or ``"death"``
(with ``state``) or ``"switch"`` or ``"mutation"`` (with ``from``/``to``, which the model must
declare); factors are finite and >= 0, and a derived mutation probability must stay <= 1. The
normalised spec (:meth:`Model.to_dict`) lists every derived value explicitly, next to the
``modulators`` table.
"""

import json
import math
import sys
import tomllib
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np

from ._crowding import warn_frozen_above_capacity, warn_lowered_death
from .errors import InvalidModelError

if TYPE_CHECKING:
    from ._core import BiomarkerSpec, CompetitionSpec, ModelSpec, _ChannelKind, _DensityTarget

__all__ = ["DEFAULT_EXPOSURES", "Model"]

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
_MODULATOR_KEYS: Final = ("drug", "base", "effects")
_EFFECT_PROCESSES: Final = ("division", "death", "switch", "mutation")
_STATE_KEYS: Final = ("name", "genetic")
_SWITCH_KEYS: Final = ("from", "to", "rate")
_MUTATION_KEYS: Final = ("from", "to", "probability")
_CAPACITY_KEYS: Final = ("K", "on", "weights", "slope")
DEATH_ADDITIVE: Final = "death_additive"
"""Capacity ``on`` value for crowding that adds death: ``d_i + c_i·N/K``."""
_CAPACITY_ON: Final = ("division", "death")
_COMPETITION_KEYS: Final = ("on", "states")
_COMPETITION_ROW_KEYS: Final = ("K", "K_per_cell", "alpha")
_BIOMARKER_KEYS: Final = ("name", "units", "production", "decay", "initial")

# Channel kinds of the engine's reaction table (``ChannelSpec.kind`` in ``_core.pyi``).
KIND_DIVISION: Final = "division"
KIND_DEATH: Final = "death"
KIND_SWITCH: Final = "switch"

# Tolerance on sum(p) <= 1 for mutation probabilities out of one state (float rounding only).
_PROB_SUM_TOL: Final = 1e-12

Table = tuple[float, ...]
# A compiled reaction channel (``Model._channels``).
_Channel = tuple[int, int, int, "_ChannelKind", bool, Table, str, str, str]
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


def _is_number(value: object) -> bool:
    """True for ints and floats (Python or numpy), False for bools and everything else."""
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, int | float | np.integer | np.floating)


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _check_value(value: object, what: str, kind: str) -> float:
    """Check one rate or coefficient (finite, >= 0) or probability (in [0, 1]); return it."""
    if not _is_number(value):
        raise InvalidModelError(
            f"{what} is {_fmt(value)}; expected a number or a table {{exposure: number}}"
        )
    try:
        x = float(value)  # type: ignore[arg-type]
    except OverflowError:
        x = math.inf
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
        if not _is_number(x) or not (math.isfinite(_to_float(x)) and _to_float(x) >= 0):
            raise InvalidModelError(
                f"capacity {noun} of state {s!r} is {_fmt(x)}; {noun}s must be finite and >= 0"
            )
        values.append(float(x))
    return tuple(values)


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
    if not _is_number(decay) or not (math.isfinite(_to_float(decay)) and _to_float(decay) > 0):
        raise InvalidModelError(
            f"biomarker decay is {_fmt(decay)}; it must be a finite number > 0 (per day)"
        )
    _check_biomarker_range(production, float(decay))
    initial = spec.get("initial", "steady")
    if initial != "steady":
        if not _is_number(initial) or not (
            math.isfinite(_to_float(initial)) and _to_float(initial) >= 0
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


def _table_to_spec(table: Table, exposures: Sequence[str]) -> float | dict[str, float]:
    if all(v == table[0] for v in table):
        return table[0]
    return dict(zip(exposures, table, strict=True))


class Model:
    """A multi-type cell-population model (states, exposures, processes, optional capacity).

    Build it from the declarative spec with :meth:`from_dict` / :meth:`from_toml`, or directly
    with the same keyword arguments (``Model(states=[...], division={...}, ...)``). Instances are
    immutable; equality compares the normalised spec (:meth:`to_dict`).

    Parameters
    ----------
    states : sequence of str or dict
        State names in model order; ``{"name": "R", "genetic": True}`` marks a genetic state.
    exposures : sequence of str, optional
        Exposure (drug environment) names; default ``["off", "on"]``.
    division, death : mapping of state name to rate, optional
        Per-cell division / death rate (per day) of each state; a rate is a number or
        ``{exposure: number}``. Missing states have rate 0.
    switch : sequence of dict, optional
        Phenotype switches ``{"from": i, "to": j, "rate": r}`` (per day).
    mutation : sequence of dict, optional
        Mutations at division ``{"from": i, "to": j, "probability": p}``: at a division of ``i`` one
        daughter becomes ``j`` with probability ``p``.
    capacity : dict, optional
        Density dependence ``{"K": K, "on": "division" | "death", "weights": {state: w}}``.
        ``on`` defaults to ``"division"`` (rate ``b·max(0, 1 − N/K)``; ``"death"``:
        ``d + (b − d)·N/K``); N is the weighted sum of the counts, weights defaulting to 1.
    competition : dict, optional
        Lotka–Volterra competition ``{"on": ..., "states": {state: {"K", "K_per_cell",
        "alpha"}}}``: per-state crowding with capacities that may depend on other counts
        (module docstring). Excludes ``capacity``.
    biomarker : dict, optional
        A biomarker ``{"name", "units", "production", "decay", "initial"}`` driven by the cells
        (module docstring).
    modulators : sequence of dict, optional
        Multiplicative modulator effects ``{"drug": "M", "base": "off", "effects": [...]}`` from
        which rate values under exposures containing the modulator are derived (module
        docstring).

    Raises
    ------
    InvalidModelError
        If the spec is invalid; the message names the field and the value.
    """

    __slots__ = (
        "_biomarker",
        "_capacity",
        "_competition",
        "_death",
        "_division",
        "_exposures",
        "_genetic",
        "_modulators",
        "_mutation",
        "_states",
        "_switch",
    )

    _states: tuple[str, ...]
    _genetic: tuple[bool, ...]
    _exposures: tuple[str, ...]
    _division: tuple[Table, ...]
    _death: tuple[Table, ...]
    _switch: tuple[tuple[int, int, Table], ...]
    _mutation: tuple[tuple[int, int, Table], ...]
    _capacity: tuple[float, str, tuple[float, ...], tuple[float, ...]] | None
    _competition: "_Competition | None"
    _biomarker: "_Biomarker | None"
    _modulators: tuple[dict[str, Any], ...]

    def __init__(
        self,
        states: Sequence[str | Mapping[str, Any]],
        exposures: Sequence[str] | None = None,
        division: Mapping[str, Any] | None = None,
        death: Mapping[str, Any] | None = None,
        switch: Sequence[Mapping[str, Any]] | None = None,
        mutation: Sequence[Mapping[str, Any]] | None = None,
        capacity: Mapping[str, Any] | None = None,
        competition: Mapping[str, Any] | None = None,
        biomarker: Mapping[str, Any] | None = None,
        modulators: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        set_ = object.__setattr__
        names, genetic = self._parse_states(states)
        exps = self._parse_exposures(exposures)
        mods, mod = self._parse_modulators(modulators, names, exps)
        set_(self, "_states", names)
        set_(self, "_genetic", genetic)
        set_(self, "_exposures", exps)
        set_(self, "_modulators", mods)
        set_(self, "_division", self._parse_per_state(division, "division", names, exps, mod))
        set_(self, "_death", self._parse_per_state(death, "death", names, exps, mod))
        set_(self, "_switch", self._parse_transitions(switch, "switch", names, genetic, exps, mod))
        set_(
            self,
            "_mutation",
            self._parse_transitions(mutation, "mutation", names, genetic, exps, mod),
        )
        self._check_effect_targets()
        self._check_mutation_sums()
        set_(self, "_capacity", self._parse_capacity(capacity, names, exps))
        if capacity is not None and competition is not None:
            raise InvalidModelError(
                "a model has either capacity or competition, not both (a capacity is competition "
                "with the same row, alpha = weights, for every state)"
            )
        set_(self, "_competition", _parse_competition(competition, names, exps, mod))
        set_(self, "_biomarker", _parse_biomarker(biomarker, names, exps, mod))
        self._warn_unbiological_crowding()

    # ------------------------------------------------------------------ parsing

    @staticmethod
    def _parse_states(states: object) -> tuple[tuple[str, ...], tuple[bool, ...]]:
        if isinstance(states, str | bytes) or not isinstance(states, Sequence):
            raise InvalidModelError(
                f"states must be a list of names or {{name, genetic}} tables, got {_fmt(states)}"
            )
        if not states:
            raise InvalidModelError("states is empty; a model needs at least one state")
        names: list[str] = []
        genetic: list[bool] = []
        for i, entry in enumerate(states):
            if isinstance(entry, Mapping):
                _check_keys(entry, _STATE_KEYS, f"states[{i}]")
                if "name" not in entry:
                    raise InvalidModelError(f"states[{i}] has no 'name'")
                name = _check_name(entry["name"], f"states[{i}].name")
                g = entry.get("genetic", False)
                if not isinstance(g, bool):
                    raise InvalidModelError(
                        f"genetic of state {name!r} is {_fmt(g)}; expected true or false"
                    )
            else:
                name = _check_name(entry, f"states[{i}]")
                g = False
            if name in names:
                raise InvalidModelError(f"duplicate state name {name!r} in states")
            names.append(name)
            genetic.append(g)
        return tuple(names), tuple(genetic)

    @staticmethod
    def _parse_exposures(exposures: object) -> tuple[str, ...]:
        if exposures is None:
            return DEFAULT_EXPOSURES
        if isinstance(exposures, str | bytes) or not isinstance(exposures, Sequence):
            raise InvalidModelError(f"exposures must be a list of names, got {_fmt(exposures)}")
        if not exposures:
            raise InvalidModelError("exposures is empty; a model needs at least one exposure")
        out: list[str] = []
        for i, e in enumerate(exposures):
            name = _check_name(e, f"exposures[{i}]")
            if name in out:
                raise InvalidModelError(f"duplicate exposure name {name!r} in exposures")
            out.append(name)
        if len(out) > 127:
            raise InvalidModelError(f"a model has at most 127 exposures, got {len(out)}")
        return tuple(out)

    @staticmethod
    def _parse_modulators(
        spec: object, states: tuple[str, ...], exposures: tuple[str, ...]
    ) -> tuple[tuple[dict[str, Any], ...], _Modulation]:
        if spec is None:
            return (), _Modulation(exposures, {})
        if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Sequence):
            raise InvalidModelError(
                f"modulators must be a list of {{drug, base, effects}} tables, got {_fmt(spec)}"
            )
        drugs: dict[str, tuple[str, dict[tuple[str, int, int], float]]] = {}
        normalised: list[dict[str, Any]] = []
        for n, entry in enumerate(spec):
            where = f"modulators[{n}]"
            if not isinstance(entry, Mapping):
                raise InvalidModelError(f"{where} must be a table {{drug, base, effects}}")
            _check_keys(entry, _MODULATOR_KEYS, where)
            if "drug" not in entry:
                raise InvalidModelError(f"{where} has no 'drug'")
            drug = _check_name(entry["drug"], f"{where}.drug")
            if "+" in drug:
                raise InvalidModelError(f"{where}.drug {drug!r} must not contain '+'")
            if drug in drugs:
                raise InvalidModelError(f"duplicate modulator {drug!r} in modulators")
            if not any(drug in e.split("+") for e in exposures):
                raise InvalidModelError(
                    f"{where}.drug {drug!r} is part of no exposure (exposures: {list(exposures)}); "
                    "name the combinations that contain it, e.g. 'A+" + drug + "'"
                )
            base = entry.get("base", "off")
            if not isinstance(base, str) or base not in exposures or drug in base.split("+"):
                alone = drug in exposures
                if alone or "base" in entry:
                    raise InvalidModelError(
                        f"{where}.base is {_fmt(base)}; it must be an exposure of the model "
                        f"without {drug!r} (the exposure {drug!r} alone is derived from it; "
                        f"exposures: {list(exposures)})"
                    )
            effects_spec = entry.get("effects", [])
            if isinstance(effects_spec, str | bytes | Mapping) or not isinstance(
                effects_spec, Sequence
            ):
                raise InvalidModelError(f"{where}.effects must be a list of tables")
            effects: dict[tuple[str, int, int], float] = {}
            norm_effects: list[dict[str, Any]] = []
            for k, eff in enumerate(effects_spec):
                ew = f"{where}.effects[{k}]"
                if not isinstance(eff, Mapping):
                    raise InvalidModelError(f"{ew} must be a table {{process, ..., factor}}")
                process = eff.get("process")
                if process not in _EFFECT_PROCESSES:
                    raise InvalidModelError(
                        f"{ew}.process is {_fmt(process)}; expected one of "
                        f"{', '.join(_EFFECT_PROCESSES)}"
                    )
                ends = ("state",) if process in ("division", "death") else ("from", "to")
                _check_keys(eff, ("process", *ends, "factor"), ew)
                idx = []
                for key in ends:
                    if key not in eff:
                        raise InvalidModelError(f"{ew} ({process}) has no {key!r}")
                    if eff[key] not in states:
                        raise InvalidModelError(
                            f"{ew}.{key} is {_fmt(eff[key])}, not a state of the model "
                            f"(states: {list(states)})"
                        )
                    idx.append(states.index(eff[key]))
                if "factor" not in eff:
                    raise InvalidModelError(f"{ew} has no 'factor'")
                f = eff["factor"]
                if not _is_number(f) or not (math.isfinite(_to_float(f)) and _to_float(f) >= 0):
                    raise InvalidModelError(
                        f"{ew}.factor is {_fmt(f)}; it must be a finite number >= 0"
                    )
                key3 = (str(process), idx[0], idx[1] if len(idx) > 1 else -1)
                if key3 in effects:
                    raise InvalidModelError(f"{ew} repeats an earlier effect of {drug!r}")
                effects[key3] = float(f)
                norm_effects.append(
                    {"process": process, **{k2: eff[k2] for k2 in ends}, "factor": float(f)}
                )
            drugs[drug] = (str(base), effects)
            normalised.append({"drug": drug, "base": str(base), "effects": norm_effects})
        return tuple(normalised), _Modulation(exposures, drugs)

    def _check_effect_targets(self) -> None:
        pairs = {
            "switch": {(i, j) for i, j, _ in self._switch},
            "mutation": {(i, j) for i, j, _ in self._mutation},
        }
        for n, m in enumerate(self._modulators):
            for k, eff in enumerate(m["effects"]):
                proc = eff["process"]
                if proc in pairs:
                    i, j = self._states.index(eff["from"]), self._states.index(eff["to"])
                    if (i, j) not in pairs[proc]:
                        raise InvalidModelError(
                            f"modulators[{n}].effects[{k}] names the {proc} from {eff['from']!r} "
                            f"to {eff['to']!r}, which the model does not declare"
                        )

    @staticmethod
    def _parse_per_state(
        spec: object,
        field: str,
        states: tuple[str, ...],
        exposures: tuple[str, ...],
        mod: _Modulation | None = None,
    ) -> tuple[Table, ...]:
        zero = (0.0,) * len(exposures)
        if spec is None:
            return (zero,) * len(states)
        if not isinstance(spec, Mapping):
            raise InvalidModelError(f"{field} must be a table {{state: rate}}, got {_fmt(spec)}")
        for key in spec:
            if key not in states:
                raise InvalidModelError(
                    f"{field} names unknown state {key!r}; the model's states are {list(states)}"
                )
        return tuple(
            _parse_table(
                spec[s], f"{field} rate of state {s!r}", exposures, "rate", mod, (field, i, -1)
            )
            if s in spec
            else zero
            for i, s in enumerate(states)
        )

    @staticmethod
    def _parse_transitions(
        spec: object,
        field: str,
        states: tuple[str, ...],
        genetic: tuple[bool, ...],
        exposures: tuple[str, ...],
        mod: _Modulation | None = None,
    ) -> tuple[tuple[int, int, Table], ...]:
        if spec is None:
            return ()
        if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Sequence):
            raise InvalidModelError(
                f"{field} must be a list of {{from, to, ...}} tables, got {_fmt(spec)}"
            )
        keys = _SWITCH_KEYS if field == "switch" else _MUTATION_KEYS
        value_key = keys[2]
        kind = "rate" if field == "switch" else "probability"
        seen: set[tuple[int, int]] = set()
        out: list[tuple[int, int, Table]] = []
        for n, entry in enumerate(spec):
            where = f"{field}[{n}]"
            if not isinstance(entry, Mapping):
                raise InvalidModelError(f"{where} must be a table {{{', '.join(keys)}}}")
            _check_keys(entry, keys, where)
            for key in keys:
                if key not in entry:
                    raise InvalidModelError(f"{where} has no {key!r}")
            ends = []
            for key in ("from", "to"):
                name = entry[key]
                if name not in states:
                    raise InvalidModelError(
                        f"{where}.{key} is {_fmt(name)}, not a state of the model "
                        f"(states: {list(states)})"
                    )
                ends.append(states.index(name))
            i, j = ends
            src, dst = states[i], states[j]
            if i == j:
                raise InvalidModelError(f"{where} goes from state {src!r} to itself")
            if genetic[i] and not genetic[j]:
                raise InvalidModelError(
                    f"{field} from genetic state {src!r} to non-genetic state {dst!r} is not "
                    "allowed: genetic states never revert"
                )
            if (i, j) in seen:
                raise InvalidModelError(
                    f"duplicate {field} from {src!r} to {dst!r}; give each pair once"
                )
            seen.add((i, j))
            what = f"{field} {kind} from {src!r} to {dst!r}"
            table = _parse_table(entry[value_key], what, exposures, kind, mod, (field, i, j))
            out.append((i, j, table))
        return tuple(out)

    def _check_mutation_sums(self) -> None:
        for i, src in enumerate(self._states):
            for e, exp in enumerate(self._exposures):
                total = sum(p[e] for (k, _, p) in self._mutation if k == i)
                if total > 1.0 + _PROB_SUM_TOL:
                    raise InvalidModelError(
                        f"mutation probabilities from state {src!r} under exposure {exp!r} sum to "
                        f"{total!r}; they must sum to at most 1"
                    )

    def _parse_capacity(
        self, spec: object, states: tuple[str, ...], exposures: tuple[str, ...]
    ) -> tuple[float, str, tuple[float, ...], tuple[float, ...]] | None:
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise InvalidModelError(
                f"capacity must be a table {{K, on, weights}}, got {_fmt(spec)}"
            )
        _check_keys(spec, _CAPACITY_KEYS, "capacity")
        if "K" not in spec:
            raise InvalidModelError("capacity has no 'K' (the carrying capacity)")
        k = spec["K"]
        if not _is_number(k) or not (math.isfinite(_to_float(k)) and _to_float(k) > 0):
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
        return float(k), str(on), weights, self._capacity_slope(spec.get("slope"), exposures)

    def _capacity_slope(self, spec: object, exposures: tuple[str, ...]) -> tuple[float, ...]:
        """Per-state death added at ``N = K`` by a ``death_additive`` capacity (module doc)."""
        states = self._states
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
            rates = zip(self._division, self._death, strict=True)
            return tuple(max(0.0, b[e] - d[e]) for b, d in rates)
        if _is_number(spec):
            spec = dict.fromkeys(states, spec)
        if not isinstance(spec, Mapping):
            raise InvalidModelError(
                f"capacity slope is {_fmt(spec)}; expected an exposure name, a number or a table "
                "{state: number}"
            )
        return _capacity_per_state(spec, states, "slope", "slope", 0.0)

    def _warn_unbiological_crowding(self) -> None:
        """Warn where the declared density dependence stops being biological (``_crowding``)."""
        args = (self._states, self._exposures, self._division, self._death)
        if self._capacity is not None and self._capacity[1] == "death":
            remedy = f'Use on = "{DEATH_ADDITIVE}" (death = d + slope·N/K) to only add death.'
            warn_lowered_death("capacity on death", *args, range(len(self._states)), remedy)
        comp = self._competition
        if comp is not None and comp.on == "death":
            remedy = 'Put the competition on division, or use a capacity on "death_additive".'
            rows = [row[0] for row in comp.rows]
            warn_lowered_death("competition on death", *args, rows, remedy)
        if comp is not None and comp.on == "division":
            warn_frozen_above_capacity(*args, comp.rows)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "Model":
        """Build a model from its declarative spec (a dict, e.g. a TOML ``[model]`` table).

        Parameters
        ----------
        spec : mapping
            The spec; see the module docstring for its shape.

        Returns
        -------
        Model

        Raises
        ------
        InvalidModelError
            If the spec is invalid (unknown keys included).
        """
        if isinstance(spec, Model):
            return spec
        if not isinstance(spec, Mapping):
            raise InvalidModelError(f"a model spec must be a table/dict, got {_fmt(spec)}")
        _check_keys(spec, _MODEL_KEYS, "model")
        if "states" not in spec:
            raise InvalidModelError("model has no 'states'")
        return cls(**spec)

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> "Model":
        """Read a model from a TOML file.

        The file is either a bare model spec or a config with a ``[model]`` table (other tables,
        such as ``[schedule]`` and ``[run]``, are then ignored).

        Parameters
        ----------
        path : str or path-like
            Path of the TOML file.

        Returns
        -------
        Model
        """
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise InvalidModelError(f"{path}: invalid TOML: {exc}") from None
        if "model" in data and "states" not in data:
            data = data["model"]
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> "Model":
        """Build a model from a JSON string such as the ``model`` attribute of an output Dataset."""
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ accessors

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Model is immutable")

    @property
    def states(self) -> tuple[str, ...]:
        """State names in model order."""
        return self._states

    @property
    def genetic_states(self) -> tuple[str, ...]:
        """Names of the genetic states, in model order."""
        return tuple(s for s, g in zip(self._states, self._genetic, strict=True) if g)

    @property
    def exposures(self) -> tuple[str, ...]:
        """Exposure names; the exposure codes in the output are indices into this tuple."""
        return self._exposures

    @property
    def n_states(self) -> int:
        """Number of cell states."""
        return len(self._states)

    @property
    def capacity(self) -> dict[str, Any] | None:
        """The normalised capacity spec, or None without density dependence."""
        if self._capacity is None:
            return None
        k, on, weights, slope = self._capacity
        out = {"K": k, "on": on, "weights": dict(zip(self._states, weights, strict=True))}
        if on == DEATH_ADDITIVE:
            out["slope"] = dict(zip(self._states, slope, strict=True))
        return out

    @property
    def competition(self) -> dict[str, Any] | None:
        """The normalised competition spec, or None."""
        return None if self._competition is None else self.to_dict()["competition"]

    @property
    def biomarker(self) -> dict[str, Any] | None:
        """The normalised biomarker spec (``name``, ``units``, ...), or None."""
        return None if self._biomarker is None else self.to_dict()["biomarker"]

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised, JSON-able spec.

        Every state appears in ``division`` and ``death`` (0.0 when absent from the input); a rate
        equal under every exposure is written as one number (always a full table when the model
        has modulators), otherwise as a full ``{exposure: rate}`` table; ``exposures`` is always
        explicit.
        ``Model.from_dict(m.to_dict()) == m``.
        """
        exps = self._exposures

        def table(t: Table) -> float | dict[str, float]:
            # With modulators a single number would mean "derive the modulated exposures", so
            # derived values are written out explicitly.
            if self._modulators:
                return dict(zip(exps, t, strict=True))
            return _table_to_spec(t, exps)

        states: list[Any] = [
            {"name": s, "genetic": True} if g else s
            for s, g in zip(self._states, self._genetic, strict=True)
        ]
        out: dict[str, Any] = {
            "states": states,
            "exposures": list(exps),
            "division": {s: table(t) for s, t in zip(self._states, self._division, strict=True)},
            "death": {s: table(t) for s, t in zip(self._states, self._death, strict=True)},
            "switch": [
                {"from": self._states[i], "to": self._states[j], "rate": table(t)}
                for i, j, t in self._switch
            ],
            "mutation": [
                {
                    "from": self._states[i],
                    "to": self._states[j],
                    "probability": table(t),
                }
                for i, j, t in self._mutation
            ],
        }
        if self._capacity is not None:
            out["capacity"] = self.capacity
        if self._competition is not None:
            comp = self._competition
            states_out: dict[str, Any] = {}
            for i, k0, per_cell, alpha in comp.rows:
                states_out[self._states[i]] = {
                    "K": table(k0),
                    "K_per_cell": {
                        self._states[j]: table(t) for j, t in enumerate(per_cell) if any(t)
                    },
                    "alpha": {self._states[j]: table(t) for j, t in enumerate(alpha) if any(t)},
                }
            out["competition"] = {"on": comp.on, "states": states_out}
        if self._biomarker is not None:
            bm = self._biomarker
            out["biomarker"] = {
                "name": bm.name,
                "units": bm.units,
                "production": {
                    s: table(t) for s, t in zip(self._states, bm.production, strict=True)
                },
                "decay": bm.decay,
                "initial": bm.initial,
            }
        if self._modulators:
            out["modulators"] = json.loads(json.dumps(self._modulators))
        return out

    def to_json(self) -> str:
        """Return the normalised spec as a JSON string (the ``model`` attribute of outputs)."""
        return json.dumps(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return (
            f"Model(states={list(self._states)!r}, exposures={list(self._exposures)!r}, "
            f"n_channels={len(self._channels())})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Model.from_dict, (self.to_dict(),))

    # ------------------------------------------------------------------ compilation

    def _channels(self) -> list[_Channel]:
        """Reaction channels: (source, dec, inc, kind, mutation, rates per exposure, label,
        process, target state or ""); dec and inc are -1 for none."""
        names = self._states
        n_exp = len(self._exposures)
        chans: list[_Channel] = []
        for i, s in enumerate(names):
            b = self._division[i]
            muts = [(j, p) for (k, j, p) in self._mutation if k == i]
            p_total = [sum(p[e] for _, p in muts) for e in range(n_exp)]
            plain = tuple(max(0.0, b[e] * (1.0 - p_total[e])) for e in range(n_exp))
            chans.append((i, -1, i, KIND_DIVISION, False, plain, f"{s}->2{s}", "division", ""))
            for j, p in muts:
                rates = tuple(b[e] * p[e] for e in range(n_exp))
                chans.append(
                    (
                        i,
                        -1,
                        j,
                        KIND_DIVISION,
                        True,
                        rates,
                        f"{s}->{s}+{names[j]}",
                        "mutation",
                        names[j],
                    )
                )
            chans.append((i, i, -1, KIND_DEATH, False, self._death[i], f"{s}->0", "death", ""))
            for k, j, r in self._switch:
                if k == i:
                    label = f"{s}->{names[j]}"
                    chans.append(
                        (i, i, j, KIND_SWITCH, self._genetic[j], r, label, "switch", names[j])
                    )
        # With density-dependent death (d + (b - d)·x) a death channel matters even at d = 0.
        keep_death: set[int] = set()
        if self._capacity is not None and self._capacity[1] in ("death", DEATH_ADDITIVE):
            keep_death = set(range(len(names)))
        if self._competition is not None and self._competition.on == "death":
            keep_death = {row[0] for row in self._competition.rows}
        return [
            c
            for c in chans
            if any(x > 0.0 for x in c[5]) or (c[3] == KIND_DEATH and c[0] in keep_death)
        ]

    def channel_names(self) -> list[str]:
        """Labels of the compiled reaction channels, in engine order.

        E.g. ``"S->2S"`` (division), ``"S->S+R"`` (mutation at division), ``"S->0"`` (death),
        ``"S->P"`` (switch). Channels with rate 0 under every exposure are omitted (death
        channels are kept when the capacity or competition acts on death).
        """
        return [c[6] for c in self._channels()]

    def channel_processes(self) -> list[tuple[str, str, str | None]]:
        """The process of each compiled channel (engine order), as ``(process, source, target)``.

        ``process`` is ``"division"`` (plain division), ``"mutation"`` (mutation at division of
        ``source``, one daughter becomes ``target``), ``"death"`` or ``"switch"``; ``target`` is
        None for division and death.
        """
        return [(c[7], self._states[c[0]], c[8] or None) for c in self._channels()]

    def has_transition(self, process: str, source: str, target: str) -> bool:
        """True if the model declares the ``"switch"`` or ``"mutation"`` from source to target."""
        table = self._switch if process == "switch" else self._mutation
        if source not in self._states or target not in self._states:
            return False
        i, j = self._states.index(source), self._states.index(target)
        return any((a, b) == (i, j) for a, b, _ in table)

    @property
    def modulators(self) -> tuple[dict[str, Any], ...]:
        """The normalised modulator specs (empty without modulators)."""
        return tuple(json.loads(json.dumps(self._modulators)))

    def compile(self) -> "ModelSpec":
        """Compile to the engine's flat reaction table (the ``model`` dict of ``_core``).

        Channels are grouped by source state in model order. For each state ``i``: one division
        channel at rate ``b_i·(1 − Σ_j p_ij)``; one channel per mutation target ``j`` at rate
        ``b_i·p_ij`` (one daughter becomes ``j``); one death channel; one channel per switch
        ``i → j`` (a mutation event iff ``j`` is genetic). Channels whose rate is 0 under every
        exposure are dropped, except death channels when the capacity acts on death.
        ``channels`` holds one dict per channel and ``channel_rate`` is exposure-major
        (``ModelSpec`` in ``_core.pyi``). This format is private to the package and may change.
        """
        chans = self._channels()
        n_exp = len(self._exposures)
        cap = self._capacity
        return {
            "n_states": len(self._states),
            "n_exposures": n_exp,
            "channels": [
                {
                    "source": c[0],
                    "dec": None if c[1] < 0 else c[1],
                    "inc": None if c[2] < 0 else c[2],
                    "kind": c[3],
                    "mutation": bool(c[4]),
                }
                for c in chans
            ],
            "channel_rate": [c[5][e] for e in range(n_exp) for c in chans],
            "capacity": None if cap is None else cap[0],
            "capacity_on": "division" if cap is None else cast("_DensityTarget", cap[1]),
            "capacity_weights": [1.0] * len(self._states) if cap is None else list(cap[2]),
            "capacity_slope": [] if cap is None else list(cap[3]),
            "competition": None if self._competition is None else self._competition.compile(n_exp),
            "biomarker": None if self._biomarker is None else self._biomarker.compile(n_exp),
        }
