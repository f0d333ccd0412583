"""Drug schedules: which exposure is in force at each time, or how the drug pressure evolves.

A schedule is written as plain data (README, "The model and its spec")::

    {"kind": "continuous", "exposure": "on"}
    {"kind": "intermittent", "on": 14, "off": 14, "first": "on", "delay": 0}
    {"kind": "piecewise", "segments": [[0, "off"], [30, "on"], [60, "off"]]}
    {"kind": "adaptive", "on": "on", "off": "off", "stop_below": 0.5, "resume_above": 1.0}
    {"kind": "pk", "dose": 10.0, "dose_every": 1.0, "half_life": 1.5, "hill": 2.0, "ec50": 1.0}
    {"kind": "combination", "drugs": {"A": {"kind": "intermittent", "on": 14, "off": 14},
                                      "M": {"kind": "continuous"}}, "none": "off"}

Fixed kinds
-----------
- ``continuous``: one exposure (default ``"on"``) for ever.
- ``intermittent``: during ``[0, delay)`` the off exposure is in force; then cycles of the ``first``
  phase (``"on"`` or ``"off"``, default ``"on"``) and the other phase, of durations ``on`` and
  ``off`` days, for ever. The phases use the exposures ``on_exposure`` (default ``"on"``) and
  ``off_exposure`` (default ``"off"``); ``first`` names a phase, not an exposure.
- ``piecewise``: ``(start time, exposure)`` pairs; the first start is 0, starts are finite and
  strictly increasing, and the last exposure lasts for ever.
- ``combination``: two or more drugs (names without ``+`` or whitespace), each with its own
  continuous, intermittent or piecewise sub-schedule whose exposures are ``"on"`` and ``"off"`` (of
  that drug). The exposure in force is the set of drugs on, joined with ``+`` in drug order
  (``"A"``, ``"M"``, ``"A+M"``), or ``none`` (default ``"off"``) when no drug is on; every
  combination that occurs must be an exposure of the model. It compiles to one piecewise table up
  to ``t_end`` (the breakpoints of all drugs merged, with each drug's own breakpoint arithmetic).

An exposure is in force from its start time inclusive to the next start exclusive.

Adaptive (state-triggered) dosing
---------------------------------
``{"kind": "adaptive", "on": "on", "off": "off", "monitor": ["S", "P"] | {"S": 1, "P": 2},
"reference": "treatment_start", "stop_below": 0.5, "resume_above": 1.0, "check_every": 0,
"start": "on" | "off" | {"detect": 1e6}, "max_holiday": None, "min_on": None, "rules": None}``

- The monitored burden is ``B = Σ w_i·n_i`` over ``monitor`` (a list means weight 1; default every
  state with weight 1), or, with ``monitor = "biomarker"``, the model's biomarker ``y(t)`` (see
  :mod:`dtp_gillespie.model`). The biomarker moves between events; its crossings of the
  thresholds are computed in closed form and the exposure switches at the exact crossing time
  (with ``check_every = 0``; visits read it at the visit times). Thresholds with ``reference =
  "absolute"`` and ``start = {detect = X}`` are then in the biomarker's units.
- Thresholds are multiples of a reference burden: ``"treatment_start"`` (B when a treating
  exposure is first in force), ``"initial"`` (B at t = 0), ``"last_switch"`` (B at the latest
  switch, or t = 0), or ``"absolute"`` (thresholds are in cells).
- Treatment stops (``on`` → ``off``) when ``B <= stop_below × ref`` after at least ``min_on`` days
  on drug, and resumes (``off`` → ``on``) when ``B >= resume_above × ref`` or after ``max_holiday``
  days off. ``resume_above > stop_below`` is required (hysteresis; otherwise the rule would chatter
  or never switch back).
- ``check_every = 0`` checks after every event (continuous monitoring, exact because counts change
  only at events); ``check_every = Δ > 0`` checks at the visits ``t = k·Δ``.
- ``start``: ``"on"`` (treat from t = 0), ``"off"``, or ``{"detect": X}``: start off and start
  treating when the burden first reaches X cells (Greene et al. 2019).
- ``rules``: a list of ``{"from", "to", "below" | "above", "absolute", "after", "min_time"}`` with
  exposure names, for more than two levels (full dose, half dose, off). It replaces
  ``stop_below``, ``resume_above``, ``min_on`` and ``max_holiday``; rules are tried in order and
  the first whose ``from`` is the exposure in force and whose conditions all hold switches to
  ``to`` (``below``: B <= below·ref; ``above``: B >= above·ref; ``absolute``: this rule's
  thresholds are in cells; ``after`` / ``min_time``: days in the current exposure).

How ``start = {detect = X}`` compiles: the initial exposure is ``off`` and the rules are stop,
resume and [max holiday], which apply only after treatment has started (``phase =
"after_treatment"``), and ``{from off, to on, above X, absolute, phase = "before_treatment"}``,
which applies only before. A rule's ``phase`` (``"any"``, ``"before_treatment"`` or
``"after_treatment"``) may also be given in a ``rules`` list.

Pharmacokinetics
----------------
``{"kind": "pk", "dose": 1.0, "dose_every": 1.0 | "dose_times": [...], "first_dose": 0.0,
"half_life": 1.5, "hill": 1.0, "ec50": 1.0, "on": "on", "off": "off", "on_threshold": 0.05,
"missed_dose_probability": 0.0, "rates": [{"process": "death", "state": "S", "ec50": 2.0}, ...]}``

IV boluses: each dose adds ``dose`` to the concentration C, which decays with half-life
``half_life`` (superposition of doses). Every rate moves between its value under ``off`` and
under ``on`` through a Hill response: ``rate(C) = off + (on − off)·Cʰ/(EC50ʰ + Cʰ)``. ``dose`` and
``ec50`` share a unit (with the default ``ec50 = 1`` the dose is in multiples of EC50); ``ec50``
may be ``inf`` (the rate stays at its off value). ``rates`` overrides ``ec50``/``hill`` per
process: ``{"process": "division" | "death", "state": s}`` or ``{"process": "switch" |
"mutation", "from": i, "to": j}``; a division override covers the plain division and the
mutation-at-division channels of that state unless a mutation override names one of them.
``dose_every`` expands to doses at ``first_dose + k·dose_every`` up to ``t_end``. Each dose is
skipped with probability ``missed_dose_probability`` (drawn per replicate from its own stream).
The engine simulates this exactly by thinning (no time step): between doses C decreases and each
rate is monotone in C, so the largest rate over a stretch between doses is at one of its ends.

The exposure in force (the recorded ``exposure``, ``time_on_drug``, ``n_switches``,
``treatment_start_time``) is ``on`` while the drug's own response ``Cʰ/(EC50ʰ + Cʰ)`` (the
top-level ``ec50`` and ``hill``; ``rates`` overrides do not change it) is at least
``on_threshold`` (default 0.05, strictly between 0 and 1) of its maximum, i.e. while
``C ≥ EC50·(θ/(1 − θ))^(1/h)``, and ``off`` otherwise. Runs also report ``auc_concentration`` and
``auc_response``, the areas under C and under that response up to ``stop_time``, in closed form.

Treating exposures
------------------
Every compiled schedule says which exposures count as "on drug" (for ``time_on_drug``,
``treatment_start_time``): all but the schedule's off exposure, which is ``off`` (adaptive, pk),
``none`` (combination), ``off_exposure`` (intermittent) or, for continuous and piecewise
schedules, ``"off"`` if the model has such an exposure (else every exposure is treating).
"""

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

import numpy as np
import numpy.typing as npt

from . import _core
from .errors import InvalidScheduleError

if TYPE_CHECKING:
    from .model import Model

__all__ = ["Schedule"]

FIXED_KINDS: Final = ("continuous", "intermittent", "piecewise")
KINDS: Final = (*FIXED_KINDS, "combination", "adaptive", "pk")
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "continuous": ("kind", "exposure"),
    "intermittent": ("kind", "on", "off", "first", "delay", "on_exposure", "off_exposure"),
    "piecewise": ("kind", "segments"),
    "combination": ("kind", "drugs", "none"),
    "adaptive": (
        "kind",
        "on",
        "off",
        "monitor",
        "reference",
        "stop_below",
        "resume_above",
        "check_every",
        "start",
        "max_holiday",
        "min_on",
        "rules",
    ),
    "pk": (
        "kind",
        "dose",
        "dose_every",
        "dose_times",
        "first_dose",
        "half_life",
        "hill",
        "ec50",
        "on",
        "off",
        "missed_dose_probability",
        "on_threshold",
        "rates",
    ),
}
_PHASES: Final = ("on", "off")
REFERENCES: Final = ("treatment_start", "initial", "absolute", "last_switch")
BIOMARKER: Final = "biomarker"
"""The adaptive ``monitor`` that watches the model's biomarker instead of cells."""
_RULE_KEYS: Final = ("from", "to", "below", "above", "absolute", "after", "min_time", "phase")
RULE_PHASES: Final = ("any", "before_treatment", "after_treatment")
_PK_PROCESSES: Final = ("division", "death", "switch", "mutation")
MAX_SEGMENTS: Final = 1_000_000
"""Most breakpoints a schedule may give the engine before ``t_end``: segments (intermittent,
piecewise, combination), doses (pk), visits and timer checks (adaptive). The engine stops at each
one, and ``max_events``, which counts events, cannot limit them."""
_MAX_FLOAT: Final = sys.float_info.max
_DEFAULT_OFF: Final = "off"


def _is_number(value: object) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )


def _number(
    value: object,
    what: str,
    *,
    positive: bool,
    unit: str = "days",
    allow_inf: bool = False,
) -> float:
    """Check a number (finite unless ``allow_inf``; > 0 or >= 0) and return it as a float."""
    ok = _is_number(value)
    try:
        x = float(value) if ok else math.nan  # type: ignore[arg-type]
    except OverflowError:
        x = math.inf
    finite_ok = math.isfinite(x) or (allow_inf and x == math.inf)
    if not ok or math.isnan(x) or not finite_ok or (x <= 0 if positive else x < 0):
        need = "> 0" if positive else ">= 0"
        kind = "a number" if allow_inf else "a finite number"
        suffix = f" ({unit})" if unit else ""
        raise InvalidScheduleError(f"{what} is {value!r}; it must be {kind} {need}{suffix}")
    return x


def _check_breakpoints(count: float, unit: str, what: str, t_end: float) -> None:
    """Refuse ``count`` breakpoints (``unit``: "segments", "doses", ...) of ``what`` before
    ``t_end`` if there are more than :data:`MAX_SEGMENTS`."""
    if not count <= MAX_SEGMENTS:
        raise InvalidScheduleError(
            f"{what} has {count:.6g} {unit} before t_end = {t_end!r}, more than {MAX_SEGMENTS} "
            f"{unit} (the most a schedule may have); use longer periods or a shorter t_end"
        )


def _optional(spec: Mapping[str, Any], key: str) -> Any:
    """The value of ``key``, None when absent."""
    return spec.get(key)


def _exposure_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidScheduleError(f"{what} is {value!r}; expected an exposure name")
    return value


def _check_keys(spec: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in spec:
        if key not in allowed:
            raise InvalidScheduleError(
                f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}"
            )


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | Mapping)


class Schedule:
    """A drug schedule: fixed (continuous, intermittent, piecewise, combination), adaptive or pk.

    Build one with :meth:`continuous`, :meth:`intermittent`, :meth:`piecewise`,
    :meth:`combination`, :meth:`adaptive`, :meth:`pk` or :meth:`from_dict`. Instances are
    immutable; equality compares :meth:`to_dict`. See the module docstring for the semantics.
    """

    __slots__ = ("_params",)

    _params: dict[str, Any]

    def __init__(self, spec: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_params", self._normalise(spec))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Schedule is immutable")

    # ------------------------------------------------------------------ constructors

    @classmethod
    def continuous(cls, exposure: str = "on") -> "Schedule":
        """One exposure for ever.

        Parameters
        ----------
        exposure : str, default "on"
            Name of the exposure in force.
        """
        return cls({"kind": "continuous", "exposure": exposure})

    @classmethod
    def intermittent(
        cls,
        on: float,
        off: float,
        first: str = "on",
        delay: float = 0.0,
        on_exposure: str = "on",
        off_exposure: str = "off",
    ) -> "Schedule":
        """Alternate ``on`` days of the on exposure with ``off`` days of the off exposure.

        Parameters
        ----------
        on, off : float
            Durations of the on and off phases (days, > 0).
        first : {"on", "off"}, default "on"
            Phase each cycle starts with.
        delay : float, default 0
            Days of the off exposure before the first cycle.
        on_exposure, off_exposure : str
            Exposure names of the two phases (default ``"on"`` and ``"off"``).
        """
        return cls(
            {
                "kind": "intermittent",
                "on": on,
                "off": off,
                "first": first,
                "delay": delay,
                "on_exposure": on_exposure,
                "off_exposure": off_exposure,
            }
        )

    @classmethod
    def piecewise(cls, segments: Sequence[tuple[float, str]]) -> "Schedule":
        """Explicit ``(start time, exposure)`` segments; the last one lasts for ever.

        Parameters
        ----------
        segments : sequence of (float, str)
            Start times (days; the first is 0, strictly increasing) and the exposure from then on.
        """
        return cls({"kind": "piecewise", "segments": [list(s) for s in segments]})

    @classmethod
    def combination(
        cls, drugs: Mapping[str, "Schedule | Mapping[str, Any]"], none: str = "off"
    ) -> "Schedule":
        """Several drugs with their own on/off schedules; the exposure is the set of drugs on.

        Parameters
        ----------
        drugs : mapping of drug name to Schedule or spec
            Continuous, intermittent or piecewise sub-schedules with exposures ``"on"``/``"off"``.
        none : str, default "off"
            Exposure in force when no drug is on.
        """
        subs = {k: v.to_dict() if isinstance(v, Schedule) else v for k, v in drugs.items()}
        return cls({"kind": "combination", "drugs": subs, "none": none})

    @classmethod
    def adaptive(cls, **spec: Any) -> "Schedule":
        """State-triggered dosing; keyword arguments are the keys of the adaptive spec.

        Keys (module docstring, "Adaptive (state-triggered) dosing", and README, "Adaptive
        dosing, pharmacokinetics and combinations", give the details):

        - ``on`` (default ``"on"``), ``off`` (default ``"off"``): the treating and the holiday
          exposure.
        - ``monitor`` (default every state, weight 1): the burden B, a list of states, a table
          ``{state: weight}``, or ``"biomarker"`` (the model's biomarker).
        - ``reference`` (default ``"treatment_start"``): what the thresholds multiply,
          ``"treatment_start"``, ``"initial"``, ``"last_switch"`` or ``"absolute"`` (cells).
        - ``stop_below`` (default 0.5): stop treating when B <= stop_below x reference.
        - ``resume_above`` (default 1.0): resume when B >= resume_above x reference (must be
          greater than ``stop_below``).
        - ``check_every`` (default 0): 0 checks after every event (continuous monitoring);
          a positive Δ checks at the visits k·Δ.
        - ``start`` (default ``"on"``): ``"on"``, ``"off"`` or ``{"detect": X}`` (start treating
          when B first reaches X).
        - ``min_on`` (default None): never stop before this many days on drug.
        - ``max_holiday`` (default None): never hold for more than this many days.
        - ``rules`` (default None): a list of ``{"from", "to", "below" | "above", "absolute",
          "after", "min_time", "phase"}`` tables for more than two levels; replaces
          ``stop_below``, ``resume_above``, ``min_on`` and ``max_holiday``.

        Example: ``Schedule.adaptive(monitor=["S", "P"], stop_below=0.5, resume_above=1.0)``.
        """
        return cls({"kind": "adaptive", **spec})

    @classmethod
    def pk(cls, **spec: Any) -> "Schedule":
        """Pharmacokinetic dosing; keyword arguments are the keys of the pk spec.

        Keys (module docstring, "Pharmacokinetics", and README, "Adaptive dosing,
        pharmacokinetics and combinations", give the details):

        - ``half_life`` (required): half-life of the drug's concentration C (days).
        - ``dose`` (default 1.0): what each IV bolus adds to C (in the unit of ``ec50``).
        - ``dose_every`` (default 1.0) and ``first_dose`` (default 0.0): doses at
          first_dose + k·dose_every up to t_end; or ``dose_times``: an explicit sorted list.
        - ``ec50`` (default 1.0; ``inf``: no effect) and ``hill`` (default 1.0): the Hill
          response Cʰ/(EC50ʰ + Cʰ) that moves every rate from its ``off`` to its ``on`` value.
        - ``on`` (default ``"on"``), ``off`` (default ``"off"``): the two rate tables.
        - ``on_threshold`` (default 0.05): the recorded exposure is ``on`` while the response is
          at least this fraction of its maximum.
        - ``missed_dose_probability`` (default 0.0): each dose skipped independently, per
          replicate.
        - ``rates`` (default none): per-rate ``ec50``/``hill`` overrides, e.g.
          ``[{"process": "death", "state": "S", "ec50": 2.0}]``.

        Example: ``Schedule.pk(dose=10.0, dose_every=1.0, half_life=1.5, hill=2.0)``.
        """
        return cls({"kind": "pk", **spec})

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "Schedule":
        """Build a schedule from its declarative spec (a dict, e.g. a TOML ``[schedule]`` table).

        Raises
        ------
        InvalidScheduleError
            If the spec is invalid; the message names the field and the value.
        """
        if isinstance(spec, Schedule):
            return spec
        return cls(spec)

    @classmethod
    def coerce(cls, value: "Schedule | Mapping[str, Any] | str") -> "Schedule":
        """Accept a Schedule, a spec dict, or an exposure name (meaning continuous)."""
        if isinstance(value, Schedule):
            return value
        if isinstance(value, str):
            return cls.continuous(value)
        if isinstance(value, Mapping):
            return cls(value)
        raise InvalidScheduleError(
            f"a schedule must be a Schedule, a spec dict or an exposure name, got {value!r}"
        )

    # ------------------------------------------------------------------ normalisation

    @classmethod
    def _normalise(cls, spec: object, where: str = "schedule") -> dict[str, Any]:
        if not isinstance(spec, Mapping):
            raise InvalidScheduleError(f"a schedule spec must be a table/dict, got {spec!r}")
        if "kind" not in spec:
            raise InvalidScheduleError(f"{where} has no 'kind' (one of {', '.join(KINDS)})")
        kind = spec["kind"]
        if kind not in KINDS:
            raise InvalidScheduleError(
                f"unknown schedule kind {kind!r}; expected one of {', '.join(KINDS)}"
            )
        _check_keys(spec, _KEYS[kind], f"{kind} schedule")
        if kind == "continuous":
            return {
                "kind": kind,
                "exposure": _exposure_name(spec.get("exposure", "on"), "continuous exposure"),
            }
        if kind == "intermittent":
            return cls._normalise_intermittent(spec)
        if kind == "piecewise":
            return cls._normalise_piecewise(spec)
        if kind == "combination":
            return cls._normalise_combination(spec)
        if kind == "adaptive":
            return cls._normalise_adaptive(spec)
        return cls._normalise_pk(spec)

    @staticmethod
    def _normalise_intermittent(spec: Mapping[str, Any]) -> dict[str, Any]:
        for key in ("on", "off"):
            if key not in spec:
                raise InvalidScheduleError(
                    f"intermittent schedule has no {key!r} (duration of the {key} phase, days)"
                )
        first = spec.get("first", "on")
        if first not in _PHASES:
            raise InvalidScheduleError(
                f"intermittent first is {first!r}; expected 'on' or 'off' (the phase to start "
                "with; the exposure names are set by on_exposure/off_exposure)"
            )
        on_exp = _exposure_name(spec.get("on_exposure", "on"), "intermittent on_exposure")
        off_exp = _exposure_name(spec.get("off_exposure", "off"), "intermittent off_exposure")
        return {
            "kind": "intermittent",
            "on": _number(spec["on"], "intermittent on", positive=True),
            "off": _number(spec["off"], "intermittent off", positive=True),
            "first": first,
            "delay": _number(spec.get("delay", 0.0), "intermittent delay", positive=False),
            "on_exposure": on_exp,
            "off_exposure": off_exp,
        }

    @staticmethod
    def _normalise_piecewise(spec: Mapping[str, Any]) -> dict[str, Any]:
        if "segments" not in spec:
            raise InvalidScheduleError("piecewise schedule has no 'segments'")
        segs = spec["segments"]
        if not _is_list(segs) or not segs:
            raise InvalidScheduleError(
                f"piecewise segments is {segs!r}; expected a non-empty list of [start, exposure]"
            )
        out: list[list[Any]] = []
        for n, seg in enumerate(segs):
            if not _is_list(seg) or len(seg) != 2:
                raise InvalidScheduleError(
                    f"piecewise segments[{n}] is {seg!r}; expected [start time, exposure name]"
                )
            start = _number(seg[0], f"piecewise segments[{n}] start", positive=False)
            exp = _exposure_name(seg[1], f"piecewise segments[{n}] exposure")
            if n == 0 and start != 0.0:
                raise InvalidScheduleError(
                    f"piecewise segments[0] starts at {seg[0]!r}; the first segment must start at 0"
                )
            if n > 0 and start <= out[-1][0]:
                raise InvalidScheduleError(
                    f"piecewise segments[{n}] starts at {seg[0]!r}, not after the previous start "
                    f"{out[-1][0]!r}; start times must be strictly increasing"
                )
            out.append([start, exp])
        return {"kind": "piecewise", "segments": out}

    @classmethod
    def _normalise_combination(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        if "drugs" not in spec:
            raise InvalidScheduleError(
                "combination schedule has no 'drugs' (a table {drug: schedule})"
            )
        drugs = spec["drugs"]
        if not isinstance(drugs, Mapping) or not drugs:
            raise InvalidScheduleError(
                f"combination drugs is {drugs!r}; expected a non-empty table {{drug: schedule}}"
            )
        out: dict[str, Any] = {}
        for name, sub in drugs.items():
            if (
                not isinstance(name, str)
                or not name
                or "+" in name
                or any(c.isspace() for c in name)
            ):
                raise InvalidScheduleError(
                    f"combination drug name {name!r} must be non-empty, without '+' or whitespace"
                )
            if isinstance(sub, Schedule):
                sub = sub.to_dict()
            if not isinstance(sub, Mapping):
                raise InvalidScheduleError(
                    f"combination drugs.{name} is {sub!r}; expected a schedule table"
                )
            kind = sub.get("kind")
            if kind not in FIXED_KINDS:
                raise InvalidScheduleError(
                    f"combination drugs.{name} has kind {kind!r}; a drug's schedule must be one of "
                    f"{', '.join(FIXED_KINDS)}"
                )
            try:
                norm = cls._normalise(sub, where=f"combination drugs.{name}")
            except InvalidScheduleError as exc:
                raise InvalidScheduleError(f"combination drugs.{name}: {exc}") from None
            for exp in Schedule(norm).exposures:
                if exp not in _PHASES:
                    raise InvalidScheduleError(
                        f"combination drugs.{name} uses exposure {exp!r}; a drug's schedule uses "
                        "only 'on' and 'off' (of that drug)"
                    )
            out[name] = norm
        none = _exposure_name(spec.get("none", _DEFAULT_OFF), "combination none")
        return {"kind": "combination", "drugs": out, "none": none}

    @staticmethod
    def _normalise_rule(rule: object, n: int) -> dict[str, Any]:
        where = f"adaptive rules[{n}]"
        if not isinstance(rule, Mapping):
            raise InvalidScheduleError(f"{where} is {rule!r}; expected a table {{from, to, ...}}")
        _check_keys(rule, _RULE_KEYS, where)
        for key in ("from", "to"):
            if key not in rule:
                raise InvalidScheduleError(f"{where} has no {key!r} (an exposure name)")
        src = _exposure_name(rule["from"], f"{where}.from")
        dst = _exposure_name(rule["to"], f"{where}.to")
        if src == dst:
            raise InvalidScheduleError(f"{where} goes from exposure {src!r} to itself")
        out: dict[str, Any] = {"from": src, "to": dst}
        for key in ("below", "above"):
            v = rule.get(key)
            out[key] = None if v is None else _number(v, f"{where}.{key}", positive=False, unit="")
        absolute = rule.get("absolute", False)
        if not isinstance(absolute, bool | np.bool_):
            raise InvalidScheduleError(f"{where}.absolute is {absolute!r}; expected true or false")
        out["absolute"] = bool(absolute)
        after = rule.get("after")
        out["after"] = None if after is None else _number(after, f"{where}.after", positive=True)
        out["min_time"] = _number(rule.get("min_time", 0.0), f"{where}.min_time", positive=False)
        phase = rule.get("phase", "any")
        if phase not in RULE_PHASES:
            raise InvalidScheduleError(
                f"{where}.phase is {phase!r}; expected one of {', '.join(RULE_PHASES)}"
            )
        out["phase"] = phase
        if out["below"] is None and out["above"] is None and out["after"] is None:
            raise InvalidScheduleError(
                f"{where} has no condition; give at least one of below, above or after"
            )
        return out

    @classmethod
    def _normalise_adaptive(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        on = _exposure_name(spec.get("on", "on"), "adaptive on")
        off = _exposure_name(spec.get("off", "off"), "adaptive off")
        if on == off:
            raise InvalidScheduleError(
                f"adaptive on and off are both {on!r}; they must be different exposures"
            )
        monitor = cls._normalise_monitor(
            _optional(spec, "monitor"), "adaptive monitor", biomarker=True
        )
        reference = spec.get("reference", "treatment_start")
        if reference not in REFERENCES:
            raise InvalidScheduleError(
                f"adaptive reference is {reference!r}; expected one of {', '.join(REFERENCES)}"
            )
        check_every = _number(spec.get("check_every", 0.0), "adaptive check_every", positive=False)
        start = spec.get("start", "on")
        if isinstance(start, Mapping):
            _check_keys(start, ("detect",), "adaptive start")
            if "detect" not in start:
                raise InvalidScheduleError(
                    "adaptive start table has no 'detect' (the burden that starts treatment)"
                )
            start = {
                "detect": _number(
                    start["detect"], "adaptive start.detect", positive=True, unit="cells"
                )
            }
        elif start not in _PHASES:
            raise InvalidScheduleError(
                f"adaptive start is {start!r}; expected 'on', 'off' or {{detect = size}}"
            )
        opt = {}
        for key in ("max_holiday", "min_on"):
            v = _optional(spec, key)
            opt[key] = None if v is None else _number(v, f"adaptive {key}", positive=True)
        rules_spec = _optional(spec, "rules")
        out: dict[str, Any] = {
            "kind": "adaptive",
            "on": on,
            "off": off,
            "monitor": monitor,
            "reference": reference,
            "stop_below": None,
            "resume_above": None,
            "check_every": check_every,
            "start": start,
            "max_holiday": opt["max_holiday"],
            "min_on": opt["min_on"],
            "rules": None,
        }
        if rules_spec is not None:
            given = [
                k
                for k in ("stop_below", "resume_above", "max_holiday", "min_on")
                if _optional(spec, k) is not None
            ]
            if given:
                raise InvalidScheduleError(
                    f"adaptive rules replaces stop_below, resume_above, min_on and max_holiday; "
                    f"remove {', '.join(given)} or the rules"
                )
            if not _is_list(rules_spec) or not rules_spec:
                raise InvalidScheduleError(
                    f"adaptive rules is {rules_spec!r}; expected a non-empty list of rule tables"
                )
            rules = [cls._normalise_rule(r, n) for n, r in enumerate(rules_spec)]
            cls._check_hysteresis(rules)
            if reference == "last_switch":
                for n, r in enumerate(rules):
                    if r["absolute"]:
                        continue
                    if (r["below"] is not None and r["below"] >= 1.0) or (
                        r["above"] is not None and r["above"] <= 1.0
                    ):
                        raise InvalidScheduleError(
                            f"adaptive rules[{n}] with reference 'last_switch' needs below < 1 "
                            "and above > 1: the reference becomes the burden at each switch, so "
                            "this rule would hold as soon as its exposure is entered"
                        )
            out["rules"] = rules
            return out
        stop = _number(spec.get("stop_below", 0.5), "adaptive stop_below", positive=False, unit="")
        resume = _number(
            spec.get("resume_above", 1.0), "adaptive resume_above", positive=False, unit=""
        )
        if not resume > stop:
            raise InvalidScheduleError(
                f"adaptive resume_above ({resume!r}) must be greater than stop_below ({stop!r}): "
                "treatment stops when the burden falls to stop_below and resumes when it climbs "
                "back to resume_above; without that gap the rule chatters at every event or never "
                "switches back"
            )
        out["stop_below"], out["resume_above"] = stop, resume
        if reference == "last_switch" and not (stop < 1.0 < resume):
            raise InvalidScheduleError(
                f"adaptive reference 'last_switch' needs stop_below < 1 < resume_above, got "
                f"stop_below {stop!r} and resume_above {resume!r}: the reference becomes the "
                "burden at each switch, so a threshold on the wrong side of 1 holds at once and "
                "the exposure chatters"
            )
        if start == "off" and reference == "treatment_start" and opt["max_holiday"] is None:
            raise InvalidScheduleError(
                "adaptive start is 'off' with reference 'treatment_start' and no max_holiday: "
                "treatment would never start (the reference is the burden at treatment start); "
                "use start = {detect = size}, another reference, or max_holiday"
            )
        return out

    @staticmethod
    def _check_hysteresis(rules: list[dict[str, Any]]) -> None:
        for i, a in enumerate(rules):
            for j, b in enumerate(rules):
                if (
                    a["from"] == b["to"]
                    and a["to"] == b["from"]
                    and a["below"] is not None
                    and b["above"] is not None
                    and a["absolute"] == b["absolute"]
                    and not b["above"] > a["below"]
                ):
                    raise InvalidScheduleError(
                        f"adaptive rules[{j}].above ({b['above']!r}) must be greater than "
                        f"rules[{i}].below ({a['below']!r}): rules[{i}] leaves {a['from']!r} "
                        f"below the threshold and rules[{j}] returns above it; without a gap the "
                        "exposure chatters at every check"
                    )

    @staticmethod
    def _normalise_monitor(
        value: object, what: str, biomarker: bool = False
    ) -> dict[str, float] | str | None:
        if value is None:
            return None
        if isinstance(value, str):
            if biomarker and value == BIOMARKER:
                return BIOMARKER
            allowed = "'biomarker', " if biomarker else ""
            raise InvalidScheduleError(
                f"{what} is {value!r}; expected {allowed}a list of states or a table "
                "{state: weight}"
            )
        if _is_list(value):
            names = list(value)  # type: ignore[call-overload]
            if not names:
                raise InvalidScheduleError(f"{what} is empty; name at least one state")
            for name in names:
                if not isinstance(name, str) or not name:
                    raise InvalidScheduleError(f"{what} entry {name!r} is not a state name")
            if len(set(names)) != len(names):
                raise InvalidScheduleError(f"{what} {names!r} names a state twice")
            return dict.fromkeys(names, 1.0)
        if isinstance(value, Mapping):
            if not value:
                raise InvalidScheduleError(f"{what} is empty; name at least one state")
            out = {
                str(k): _number(v, f"{what} weight of state {k!r}", positive=False, unit="")
                for k, v in value.items()
            }
            if not any(w > 0 for w in out.values()):
                raise InvalidScheduleError(f"{what} weights are all 0; at least one must be > 0")
            return out
        raise InvalidScheduleError(
            f"{what} is {value!r}; expected a list of states or a table {{state: weight}}"
        )

    @staticmethod
    def _normalise_pk_rate(entry: object, n: int) -> dict[str, Any]:
        where = f"pk rates[{n}]"
        if not isinstance(entry, Mapping):
            raise InvalidScheduleError(f"{where} is {entry!r}; expected a table {{process, ...}}")
        process = entry.get("process")
        if process not in _PK_PROCESSES:
            raise InvalidScheduleError(
                f"{where}.process is {process!r}; expected one of {', '.join(_PK_PROCESSES)}"
            )
        names = ("state",) if process in ("division", "death") else ("from", "to")
        _check_keys(entry, ("process", *names, "ec50", "hill"), where)
        out: dict[str, Any] = {"process": process}
        for key in names:
            if key not in entry:
                raise InvalidScheduleError(f"{where} ({process}) has no {key!r}")
            v = entry[key]
            if not isinstance(v, str) or not v:
                raise InvalidScheduleError(f"{where}.{key} is {v!r}; expected a state name")
            out[key] = v
        ec50, hill = entry.get("ec50"), entry.get("hill")
        if ec50 is None and hill is None:
            raise InvalidScheduleError(f"{where} sets neither ec50 nor hill")
        out["ec50"] = (
            None
            if ec50 is None
            else _number(ec50, f"{where}.ec50", positive=True, unit="", allow_inf=True)
        )
        out["hill"] = (
            None if hill is None else _number(hill, f"{where}.hill", positive=True, unit="")
        )
        return out

    @classmethod
    def _normalise_pk(cls, spec: Mapping[str, Any]) -> dict[str, Any]:
        if "half_life" not in spec:
            raise InvalidScheduleError("pk schedule has no 'half_life' (days)")
        every, times = _optional(spec, "dose_every"), _optional(spec, "dose_times")
        if every is not None and times is not None:
            raise InvalidScheduleError("pk schedule: give dose_every or dose_times, not both")
        first = _optional(spec, "first_dose")
        out: dict[str, Any] = {"kind": "pk"}
        out["dose"] = _number(spec.get("dose", 1.0), "pk dose", positive=False, unit="")
        if out["dose"] > _MAX_FLOAT / MAX_SEGMENTS:
            raise InvalidScheduleError(
                f"pk dose is {spec.get('dose')!r}; it must be at most "
                f"{_MAX_FLOAT / MAX_SEGMENTS:.6g} so that the concentration after the most doses a "
                f"schedule may have ({MAX_SEGMENTS}) is a finite number"
            )
        if times is not None:
            if first is not None:
                raise InvalidScheduleError(
                    "pk first_dose goes with dose_every; with dose_times list every dose time"
                )
            if not _is_list(times):
                raise InvalidScheduleError(f"pk dose_times is {times!r}; expected a list of days")
            ts: list[float] = []
            for n, t in enumerate(times):
                x = _number(t, f"pk dose_times[{n}]", positive=False)
                if ts and x < ts[-1]:
                    raise InvalidScheduleError(
                        f"pk dose_times[{n}] is {t!r}, before dose_times[{n - 1}] = {ts[-1]!r}; "
                        "dose times must be sorted"
                    )
                ts.append(x)
            out["dose_every"], out["dose_times"], out["first_dose"] = None, ts, None
        else:
            out["dose_every"] = _number(
                1.0 if every is None else every, "pk dose_every", positive=True
            )
            out["dose_times"] = None
            out["first_dose"] = _number(
                0.0 if first is None else first, "pk first_dose", positive=False
            )
        out["half_life"] = _number(spec["half_life"], "pk half_life", positive=True)
        if not math.isfinite(math.log(2) / out["half_life"]):
            raise InvalidScheduleError(
                f"pk half_life is {spec['half_life']!r}; it must be at least "
                f"{math.log(2) / _MAX_FLOAT:.6g} days so that the elimination rate "
                "ln 2 / half_life is a finite number"
            )
        out["hill"] = _number(spec.get("hill", 1.0), "pk hill", positive=True, unit="")
        out["ec50"] = _number(
            spec.get("ec50", 1.0), "pk ec50", positive=True, unit="", allow_inf=True
        )
        on = _exposure_name(spec.get("on", "on"), "pk on")
        off = _exposure_name(spec.get("off", "off"), "pk off")
        if on == off:
            raise InvalidScheduleError(
                f"pk on and off are both {on!r}; they must be different exposures"
            )
        out["on"], out["off"] = on, off
        p = spec.get("missed_dose_probability", 0.0)
        x = _number(p, "pk missed_dose_probability", positive=False, unit="")
        if x > 1.0:
            raise InvalidScheduleError(
                f"pk missed_dose_probability is {p!r}; a probability must lie in [0, 1]"
            )
        out["missed_dose_probability"] = x
        theta = _number(spec.get("on_threshold", 0.05), "pk on_threshold", positive=True, unit="")
        if not theta < 1.0:
            raise InvalidScheduleError(
                f"pk on_threshold is {spec.get('on_threshold')!r}; it is a fraction of the maximal "
                "response and must lie strictly between 0 and 1"
            )
        out["on_threshold"] = theta
        rates = spec.get("rates", [])
        if rates is None:
            rates = []
        if not _is_list(rates):
            raise InvalidScheduleError(f"pk rates is {rates!r}; expected a list of tables")
        norm = [cls._normalise_pk_rate(r, n) for n, r in enumerate(rates)]
        seen: set[tuple[str, ...]] = set()
        for n, r in enumerate(norm):
            key = (r["process"], r.get("state", ""), r.get("from", ""), r.get("to", ""))
            if key in seen:
                raise InvalidScheduleError(f"pk rates[{n}] repeats an earlier override {key!r}")
            seen.add(key)
        out["rates"] = norm
        return out

    # ------------------------------------------------------------------ accessors

    @property
    def kind(self) -> str:
        """The schedule kind (``"continuous"``, ``"intermittent"``, ``"piecewise"``,
        ``"combination"``, ``"adaptive"`` or ``"pk"``)."""
        return str(self._params["kind"])

    @property
    def engine_kind(self) -> str:
        """The engine's kind: ``"fixed"``, ``"adaptive"`` or ``"pk"``."""
        return self.kind if self.kind in ("adaptive", "pk") else "fixed"

    @property
    def exposures(self) -> tuple[str, ...]:
        """Exposure names the schedule may use (in order of first mention, without duplicates).

        For a combination, every combination its drugs could form (whether or not they overlap).
        """
        p = self._params
        if p["kind"] == "continuous":
            names = [p["exposure"]]
        elif p["kind"] == "intermittent":
            first, second = self._phase_exposures()
            names = [p["off_exposure"], first, second] if p["delay"] > 0 else [first, second]
        elif p["kind"] == "piecewise":
            names = [e for _, e in p["segments"]]
        elif p["kind"] == "combination":
            names = self._possible_combinations()
        elif p["kind"] == "adaptive":
            names = [p["on"], p["off"]]
            for r in p["rules"] or []:
                names += [r["from"], r["to"]]
        else:
            names = [p["off"], p["on"]]
        return tuple(dict.fromkeys(names))

    def _possible_combinations(self) -> list[str]:
        p = self._params
        choices = [(name, set(Schedule(sub).exposures)) for name, sub in p["drugs"].items()]
        out: list[str] = []
        n = len(choices)
        for mask in range(1 << n):
            ok = True
            on_names = []
            for k, (name, used) in enumerate(choices):
                state = "on" if mask >> k & 1 else "off"
                if state not in used:
                    ok = False
                    break
                if state == "on":
                    on_names.append(name)
            if ok:
                out.append("+".join(on_names) if on_names else p["none"])
        return out

    def off_exposure(self, model: "Model") -> str | None:
        """The schedule's off (non-treating) exposure in ``model``, or None (all treating)."""
        p = self._params
        kind = p["kind"]
        if kind in ("adaptive", "pk"):
            return str(p["off"])
        if kind == "combination":
            return str(p["none"])
        if kind == "intermittent":
            return str(p["off_exposure"])
        return _DEFAULT_OFF if _DEFAULT_OFF in model.exposures else None

    def treating(self, model: "Model") -> list[bool]:
        """Per model exposure: does it count as on drug (all but :meth:`off_exposure`)."""
        off = self.off_exposure(model)
        return [e != off for e in model.exposures]

    @property
    def monitors_biomarker(self) -> bool:
        """Does an adaptive schedule watch the model's biomarker (``monitor = "biomarker"``)?"""
        return self.kind == "adaptive" and self._params.get("monitor") == BIOMARKER

    def monitor_weights(self, model: "Model") -> list[float]:
        """Burden weights of an adaptive schedule's ``monitor`` (else 1 for every state, also
        when the schedule monitors the biomarker)."""
        monitor = self._params.get("monitor") if self.kind == "adaptive" else None
        if monitor == BIOMARKER:
            monitor = None
        return _monitor_weights(monitor, model, "adaptive monitor", InvalidScheduleError)

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised, JSON-able spec (every key explicit, times as floats)."""
        return json.loads(json.dumps(self._params))

    def to_json(self) -> str:
        """Return the normalised spec as a JSON string (the ``schedule`` attribute of outputs)."""
        return json.dumps(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items() if k != "kind")
        return f"Schedule.{self.kind}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Schedule.from_dict, (self.to_dict(),))

    # ------------------------------------------------------------------ semantics

    def _phase_exposures(self) -> tuple[str, str]:
        p = self._params
        if p["first"] == "on":
            return p["on_exposure"], p["off_exposure"]
        return p["off_exposure"], p["on_exposure"]

    def _segments(self) -> tuple[list[float], list[str], int | None, float]:
        """(segment_start, segment_exposure names, cycle_start, period) of a fixed simple kind."""
        p = self._params
        if p["kind"] == "continuous":
            return [0.0], [p["exposure"]], None, 0.0
        if p["kind"] == "piecewise":
            return [s for s, _ in p["segments"]], [e for _, e in p["segments"]], None, 0.0
        first, second = self._phase_exposures()
        first_dur = p["on"] if p["first"] == "on" else p["off"]
        period = p["on"] + p["off"]
        d = p["delay"]
        if d > 0:
            return [0.0, d, d + first_dur], [p["off_exposure"], first, second], 1, period
        return [0.0, first_dur], [first, second], 0, period

    def _breakpoints(self, t_end: float, what: str) -> tuple[list[float], list[str]]:
        """Segment starts <= t_end and their exposures, with the engine's arithmetic
        (start of segment k = stored start + whole cycles × period)."""
        starts, names, cycle_start, period = self._segments()
        if cycle_start is None:
            keep = [k for k, s in enumerate(starts) if s <= t_end]
            return [starts[k] for k in keep], [names[k] for k in keep]
        _check_breakpoints(self._segment_count(t_end), "segments", what, t_end)
        out_t: list[float] = []
        out_e: list[str] = []
        length = len(starts) - cycle_start
        index = 0
        while True:
            if index < cycle_start:
                pos, cycles = index, 0
            else:
                k = index - cycle_start
                pos, cycles = cycle_start + k % length, k // length
            t = starts[pos] + float(cycles) * period if cycles else starts[pos]
            if t > t_end:
                break
            out_t.append(t)
            out_e.append(names[pos])
            index += 1
        return out_t, out_e

    def _segment_count(self, t_end: float) -> float:
        """How many segments of a fixed simple kind start at or before ``t_end`` (up to rounding,
        from the period; it may be infinite)."""
        starts, _, cycle_start, period = self._segments()
        if cycle_start is None:
            return float(sum(s <= t_end for s in starts))
        cycles = max(t_end - starts[cycle_start], 0.0) / period + 1.0
        return cycle_start + (len(starts) - cycle_start) * cycles

    def _check_adaptive_breakpoints(self, t_end: float) -> None:
        """Bound the breakpoints of an adaptive schedule: its visits (``check_every``) and the
        timer checks of its rules (``after``, ``min_time``, ``max_holiday``, ``min_on``; each
        needs that much time in an exposure, so no more than t_end / the shortest of them)."""
        p = self._params
        if p["check_every"] > 0:
            what = f"adaptive schedule with check_every = {p['check_every']!r}"
            _check_breakpoints(t_end / p["check_every"], "visits", what, t_end)
        timers = [p["max_holiday"], p["min_on"]]
        for r in p["rules"] or []:
            timers += [r["after"], r["min_time"]]
        shortest = min((x for x in timers if x), default=None)
        if shortest is not None:
            what = f"adaptive schedule with a timer of {shortest!r} days"
            _check_breakpoints(t_end / shortest, "timer checks", what, t_end)

    def validate(self, model: "Model", t_end: float | None = None) -> None:
        """Check the schedule against ``model``: exposures, states and processes it names.

        Parameters
        ----------
        model : Model
        t_end : float, optional
            For a combination, check only the combinations that occur before ``t_end``;
            without it every combination the drugs could form must be an exposure.

        Raises
        ------
        InvalidScheduleError
            Naming the first unknown exposure, state or process.
        """
        p = self._params
        kind = p["kind"]
        if kind == "combination":
            names = self._merged(t_end)[1] if t_end is not None else self.exposures
            for name in dict.fromkeys(names):
                if name not in model.exposures:
                    raise InvalidScheduleError(
                        f"combination schedule needs exposure {name!r} (the drugs "
                        f"{name.split('+')} on together, or 'none'), which is not an exposure of "
                        f"the model (exposures: {list(model.exposures)})"
                    )
            return
        for name in self.exposures:
            if name not in model.exposures:
                raise InvalidScheduleError(
                    f"{kind} schedule uses exposure {name!r}, which is not an exposure of the "
                    f"model (exposures: {list(model.exposures)})"
                )
        if kind == "adaptive":
            self.monitor_weights(model)
            if self.monitors_biomarker and model.biomarker is None:
                raise InvalidScheduleError(
                    "adaptive monitor is 'biomarker', but the model has no biomarker; add one "
                    "(model key 'biomarker': {production, decay, ...}) or monitor states"
                )
        elif kind == "pk":
            self._pk_channel_parameters(model)
            if model.biomarker is not None:
                raise InvalidScheduleError(
                    "pk schedules do not support a model biomarker yet; remove the model's "
                    "biomarker or use a fixed or adaptive schedule"
                )
            comp = model.competition
            if comp is not None and any(
                isinstance(v, Mapping) and len(set(v.values())) > 1
                for row in comp["states"].values()
                for v in (row["K"], *row["K_per_cell"].values(), *row["alpha"].values())
            ):
                raise InvalidScheduleError(
                    "pk schedules need competition coefficients (K, K_per_cell, alpha) that are "
                    "the same under every exposure: rates are interpolated between the off and "
                    "on exposures, capacities are not"
                )

    def compile(self, model: "Model", t_end: float | None = None) -> dict[str, Any]:
        """Compile to the engine's ``schedule`` dict (see ``_core.pyi``).

        Parameters
        ----------
        model : Model
        t_end : float, optional
            End of the run (days); required for ``pk`` (``dose_every`` expands to dose times up
            to ``t_end``) and ``combination`` (breakpoints merged up to ``t_end``).

        Raises
        ------
        InvalidScheduleError
            If the schedule names an exposure, state or process the model does not have.
        """
        p = self._params
        kind = p["kind"]
        needs_t_end = kind in ("pk", "combination")
        if needs_t_end:
            if t_end is None:
                raise InvalidScheduleError(f"compiling a {kind} schedule needs t_end")
            t_end = _number(t_end, "t_end", positive=True)
        self.validate(model, t_end if kind == "combination" else None)
        if t_end is not None and kind in ("intermittent", "piecewise"):
            _check_breakpoints(self._segment_count(t_end), "segments", f"{kind} schedule", t_end)
        if t_end is not None and kind == "adaptive":
            self._check_adaptive_breakpoints(t_end)
        index = model.exposures.index
        common: dict[str, Any] = {"treating": self.treating(model)}
        if kind in FIXED_KINDS:
            starts, names, cycle_start, period = self._segments()
            return {
                "kind": "fixed",
                **common,
                "segment_start": [float(s) for s in starts],
                "segment_exposure": [index(n) for n in names],
                "cycle_start": cycle_start,
                "period": float(period),
            }
        if kind == "combination":
            assert t_end is not None
            starts, names = self._merged(t_end)
            return {
                "kind": "fixed",
                **common,
                "segment_start": starts,
                "segment_exposure": [index(n) for n in names],
                "cycle_start": None,
                "period": 0.0,
            }
        if kind == "adaptive":
            return {"kind": "adaptive", **common, **self._adaptive_tables(model)}
        assert t_end is not None
        ec50, hill = self._pk_channel_parameters(model)
        return {
            "kind": "pk",
            **common,
            "off_exposure": index(p["off"]),
            "on_exposure": index(p["on"]),
            "dose_times": self.dose_times(t_end),
            "dose": p["dose"],
            "half_life": p["half_life"],
            "ec50": ec50,
            "hill": hill,
            "missed_dose_probability": p["missed_dose_probability"],
            "response_ec50": p["ec50"],
            "response_hill": p["hill"],
            "on_threshold": p["on_threshold"],
        }

    # ------------------------------------------------------------------ kind-specific helpers

    def _merged(self, t_end: float) -> tuple[list[float], list[str]]:
        """Merged segments of a combination up to ``t_end``: (starts, exposure names)."""
        p = self._params
        drugs = list(p["drugs"])
        events: list[tuple[float, int, bool]] = []
        for k, name in enumerate(drugs):
            ts, es = Schedule(p["drugs"][name])._breakpoints(t_end, f"combination drugs.{name}")
            events += [(t, k, e == "on") for t, e in zip(ts, es, strict=True)]
        events.sort(key=lambda x: x[0])
        state = [False] * len(drugs)
        starts: list[float] = []
        names: list[str] = []
        i = 0
        while i < len(events):
            t = events[i][0]
            while i < len(events) and events[i][0] == t:
                state[events[i][1]] = events[i][2]
                i += 1
            on = [d for d, s in zip(drugs, state, strict=True) if s]
            name = "+".join(on) if on else p["none"]
            if names and names[-1] == name:
                continue
            starts.append(float(t))
            names.append(name)
            _check_breakpoints(len(starts), "segments", "combination schedule", t_end)
        return starts, names

    def dose_times(self, t_end: float) -> list[float]:
        """Dose times of a pk schedule up to ``t_end`` (``first_dose + k·dose_every``)."""
        p = self._params
        if p["kind"] != "pk":
            raise InvalidScheduleError(f"dose_times: a {p['kind']} schedule has no doses")
        if p["dose_times"] is not None:
            out = [t for t in p["dose_times"] if t <= t_end]
        else:
            first, every = p["first_dose"], p["dose_every"]
            if first > t_end:
                return []
            span = (t_end - first) / every
            _check_breakpoints(span + 1, "doses", f"pk dose_every {every!r}", t_end)
            n = math.floor(span) + 1
            out = [first + k * every for k in range(n)]
            out = [t for t in out if t <= t_end]
        _check_breakpoints(len(out), "doses", "pk schedule", t_end)
        return out

    def _pk_channel_parameters(self, model: "Model") -> tuple[list[float], list[float]]:
        """Per-channel ec50 and hill of a pk schedule (overrides by process)."""
        p = self._params
        procs = model.channel_processes()
        ec50 = [p["ec50"]] * len(procs)
        hill = [p["hill"]] * len(procs)
        for n, r in enumerate(p["rates"]):
            where = f"pk rates[{n}]"
            proc = r["process"]
            names = [r["state"]] if "state" in r else [r["from"], r["to"]]
            for key, name in zip(
                ("state",) if "state" in r else ("from", "to"), names, strict=True
            ):
                if name not in model.states:
                    raise InvalidScheduleError(
                        f"{where}.{key} is {name!r}, not a state of the model "
                        f"(states: {list(model.states)})"
                    )
            if proc in ("switch", "mutation") and not model.has_transition(proc, *names):
                raise InvalidScheduleError(
                    f"{where} names the {proc} from {names[0]!r} to {names[1]!r}, which the model "
                    "does not have"
                )
        # Division overrides first, then mutation overrides (more specific) on top.
        order = sorted(p["rates"], key=lambda r: r["process"] == "mutation")
        for r in order:
            for c, (proc, src, dst) in enumerate(procs):
                if r["process"] == "mutation":
                    hit = proc == "mutation" and (src, dst) == (r["from"], r["to"])
                elif r["process"] == "division":
                    hit = proc in ("division", "mutation") and src == r["state"]
                elif r["process"] == "death":
                    hit = proc == "death" and src == r["state"]
                else:
                    hit = proc == "switch" and (src, dst) == (r["from"], r["to"])
                if hit:
                    if r["ec50"] is not None:
                        ec50[c] = r["ec50"]
                    if r["hill"] is not None:
                        hill[c] = r["hill"]
        return ec50, hill

    def _adaptive_tables(self, model: "Model") -> dict[str, Any]:
        p = self._params
        index = model.exposures.index
        on, off = index(p["on"]), index(p["off"])
        start = p["start"]
        rules: list[dict[str, Any]] = []

        def rule(src: int, dst: int, **kw: Any) -> dict[str, Any]:
            base = {"from": src, "to": dst, "below": None, "above": None, "absolute": False}
            return {**base, "after": None, "min_time": 0.0, "phase": "any", **kw}

        if p["rules"] is not None:
            for r in p["rules"]:
                rules.append(
                    {
                        "from": index(r["from"]),
                        "to": index(r["to"]),
                        "below": r["below"],
                        "above": r["above"],
                        "absolute": r["absolute"],
                        "after": r["after"],
                        "min_time": r["min_time"],
                        "phase": r.get("phase", "any"),
                    }
                )
        else:
            # With detection, treatment starts only by the detection rule, and resuming or ending a
            # holiday applies only once it has started.
            after = "after_treatment" if isinstance(start, Mapping) else "any"
            rules.append(rule(on, off, below=p["stop_below"], min_time=p["min_on"] or 0.0))
            rules.append(rule(off, on, above=p["resume_above"], phase=after))
            if p["max_holiday"] is not None:
                rules.append(rule(off, on, after=p["max_holiday"], phase=after))
        if isinstance(start, Mapping):
            rules.append(
                rule(off, on, above=start["detect"], absolute=True, phase="before_treatment")
            )
        out = {
            "initial_exposure": on if start == "on" else off,
            "monitor_weights": self.monitor_weights(model),
            "reference": p["reference"],
            "check_every": p["check_every"],
            "rules": rules,
        }
        if self.monitors_biomarker:
            # Absent means False (the engine's default): cell-burden tables are unchanged.
            out["monitor_biomarker"] = True
        return out

    @overload
    def exposure_at(self, times: float) -> str: ...
    @overload
    def exposure_at(self, times: npt.ArrayLike) -> npt.NDArray[np.str_]: ...

    def exposure_at(self, times: npt.ArrayLike) -> str | npt.NDArray[np.str_]:
        """Exposure name in force at each time, as the engine computes it (fixed kinds only).

        An exposure is in force from its start time inclusive; breakpoints of repeating schedules
        come from the engine's own arithmetic, so the result agrees with the recorded
        ``exposure`` even exactly at a breakpoint. For a combination, each drug's schedule is
        evaluated and the drugs on are joined with ``+``.

        Parameters
        ----------
        times : float or array_like
            Times (days, >= 0).

        Returns
        -------
        str or numpy.ndarray of str
            A str for a scalar input, otherwise an array of the shape of ``times``.

        Raises
        ------
        InvalidScheduleError
            For adaptive and pk schedules (their exposure depends on the trajectory).
        """
        kind = self.kind
        if kind in ("adaptive", "pk"):
            raise InvalidScheduleError(
                f"exposure_at: the exposure of a {kind} schedule depends on the trajectory; read "
                "the recorded 'exposure' of a run instead"
            )
        t = np.asarray(times, dtype=np.float64)
        if np.any(~np.isfinite(t)) or np.any(t < 0):
            raise InvalidScheduleError("exposure_at: times must be finite and >= 0")
        if kind == "combination":
            p = self._params
            on = [np.asarray(Schedule(sub).exposure_at(t)) == "on" for sub in p["drugs"].values()]
            drugs = list(p["drugs"])
            flat = [
                "+".join(d for d, o in zip(drugs, col, strict=True) if o) or p["none"]
                for col in zip(*(o.ravel() for o in on), strict=True)
            ]
            arr = np.asarray(flat if flat else [], dtype=np.str_).reshape(t.shape)
            if arr.ndim == 0:
                return str(arr)
            return arr
        starts, names, cycle_start, period = self._segments()
        labels = list(dict.fromkeys(names))
        core_schedule = {
            "kind": "fixed",
            "treating": [True] * len(labels),
            "segment_start": list(starts),
            "segment_exposure": [labels.index(n) for n in names],
            "cycle_start": cycle_start,
            "period": float(period),
        }
        idx = _core.exposure_at(core_schedule, t.ravel().tolist()).reshape(t.shape)
        out = np.asarray(labels)[idx]
        if out.ndim == 0:
            return str(out)
        return out


def _monitor_weights(
    monitor: Mapping[str, float] | None,
    model: "Model",
    what: str,
    error: type[Exception],
) -> list[float]:
    """Per-state weights of a monitor table (None: weight 1 for every state)."""
    if monitor is None:
        return [1.0] * model.n_states
    for name in monitor:
        if name not in model.states:
            raise error(
                f"{what} names {name!r}, not a state of the model (states: {list(model.states)})"
            )
    return [float(monitor.get(s, 0.0)) for s in model.states]
