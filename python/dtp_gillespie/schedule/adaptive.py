"""``adaptive``: state-triggered dosing, switching when the monitored burden crosses a threshold.

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
- A reference is only taken from a positive burden (a reference of 0 would make every relative
  threshold 0, and ``resume_above × 0`` holds at once: the exposure would flip at every check).
  Where it is taken at t = 0 (``"initial"``, ``"last_switch"``, or ``"treatment_start"`` with
  treatment on from t = 0), an initial burden of 0 is refused by the engine before the run
  (``InvalidScheduleError`` naming the initial counts). During a run, a switch at a burden of 0
  leaves the reference as it was: the previous one under ``"last_switch"``; under
  ``"treatment_start"`` it stays undefined (rules with relative thresholds do not apply) until
  a later switch into a treating exposure at a positive burden.
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

The off exposure (``off``) is the one that is not treatment.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ..errors import InvalidScheduleError
from ._common import (
    BIOMARKER,
    check_breakpoints,
    check_keys,
    exposure_name,
    is_list,
    monitor_weights,
    normalise_monitor,
    number,
)
from ._kind import Params, ScheduleKind

if TYPE_CHECKING:
    from ..model import Model

__all__ = [
    "REFERENCES",
    "RULE_PHASES",
    "Adaptive",
    "adaptive_monitor_weights",
    "monitors_biomarker",
]

REFERENCES: Final = ("treatment_start", "initial", "absolute", "last_switch")
RULE_PHASES: Final = ("any", "before_treatment", "after_treatment")
_RULE_KEYS: Final = ("from", "to", "below", "above", "absolute", "after", "min_time", "phase")
_STARTS: Final = ("on", "off")


class Adaptive(ScheduleKind):
    """State-triggered dosing (a two-level rule, or a list of rules)."""

    name = "adaptive"
    keys = (
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
    )
    engine_kind = "adaptive"

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        on = exposure_name(spec.get("on", "on"), "adaptive on")
        off = exposure_name(spec.get("off", "off"), "adaptive off")
        if on == off:
            raise InvalidScheduleError(
                f"adaptive on and off are both {on!r}; they must be different exposures"
            )
        monitor = normalise_monitor(spec.get("monitor"), "adaptive monitor", biomarker=True)
        reference = spec.get("reference", "treatment_start")
        if reference not in REFERENCES:
            raise InvalidScheduleError(
                f"adaptive reference is {reference!r}; expected one of {', '.join(REFERENCES)}"
            )
        check_every = number(spec.get("check_every", 0.0), "adaptive check_every", positive=False)
        start = _normalise_start(spec.get("start", "on"))
        opt = {}
        for key in ("max_holiday", "min_on"):
            v = spec.get(key)
            opt[key] = None if v is None else number(v, f"adaptive {key}", positive=True)
        out: dict[str, Any] = {
            "kind": self.name,
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
        if spec.get("rules") is not None:
            out["rules"] = _normalise_rules(spec, reference)
            return out
        stop = number(spec.get("stop_below", 0.5), "adaptive stop_below", positive=False, unit="")
        resume = number(
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

    def exposures(self, params: Params) -> list[str]:
        names = [params["on"], params["off"]]
        for r in params["rules"] or []:
            names += [r["from"], r["to"]]
        return names

    def off_exposure(self, params: Params, model: "Model") -> str | None:
        return str(params["off"])

    def validate(self, params: Params, model: "Model", t_end: float | None) -> None:
        super().validate(params, model, t_end)
        adaptive_monitor_weights(params, model)
        if monitors_biomarker(params) and model.biomarker is None:
            raise InvalidScheduleError(
                "adaptive monitor is 'biomarker', but the model has no biomarker; add one "
                "(model key 'biomarker': {production, decay, ...}) or monitor states"
            )

    def compile(self, params: Params, model: "Model", t_end: float | None) -> dict[str, Any]:
        if t_end is not None:
            _check_breakpoints(params, t_end)
        return _tables(params, model)


def monitors_biomarker(params: Params) -> bool:
    """Does a schedule watch the model's biomarker (an adaptive one with ``monitor =
    "biomarker"``)?"""
    return params["kind"] == Adaptive.name and params.get("monitor") == BIOMARKER


def adaptive_monitor_weights(params: Params, model: "Model") -> list[float]:
    """Burden weights of an adaptive schedule's ``monitor`` (else 1 for every state, also when
    the schedule monitors the biomarker)."""
    monitor = params.get("monitor") if params["kind"] == Adaptive.name else None
    if monitor == BIOMARKER:
        monitor = None
    return monitor_weights(monitor, model, "adaptive monitor", InvalidScheduleError)


def _normalise_start(start: object) -> Any:
    """``start``: ``"on"``, ``"off"`` or ``{"detect": size}``."""
    if isinstance(start, Mapping):
        check_keys(start, ("detect",), "adaptive start")
        if "detect" not in start:
            raise InvalidScheduleError(
                "adaptive start table has no 'detect' (the burden that starts treatment)"
            )
        detect = number(start["detect"], "adaptive start.detect", positive=True, unit="cells")
        return {"detect": detect}
    if start not in _STARTS:
        raise InvalidScheduleError(
            f"adaptive start is {start!r}; expected 'on', 'off' or {{detect = size}}"
        )
    return start


def _normalise_rules(spec: Mapping[str, Any], reference: str) -> list[dict[str, Any]]:
    """The ``rules`` list of an adaptive spec, checked alone and against each other."""
    rules_spec = spec["rules"]
    given = [
        k
        for k in ("stop_below", "resume_above", "max_holiday", "min_on")
        if spec.get(k) is not None
    ]
    if given:
        raise InvalidScheduleError(
            f"adaptive rules replaces stop_below, resume_above, min_on and max_holiday; "
            f"remove {', '.join(given)} or the rules"
        )
    if not is_list(rules_spec) or not rules_spec:
        raise InvalidScheduleError(
            f"adaptive rules is {rules_spec!r}; expected a non-empty list of rule tables"
        )
    rules = [_normalise_rule(r, n) for n, r in enumerate(rules_spec)]
    _check_hysteresis(rules)
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
    return rules


def _normalise_rule(rule: object, n: int) -> dict[str, Any]:
    where = f"adaptive rules[{n}]"
    if not isinstance(rule, Mapping):
        raise InvalidScheduleError(f"{where} is {rule!r}; expected a table {{from, to, ...}}")
    check_keys(rule, _RULE_KEYS, where)
    for key in ("from", "to"):
        if key not in rule:
            raise InvalidScheduleError(f"{where} has no {key!r} (an exposure name)")
    src = exposure_name(rule["from"], f"{where}.from")
    dst = exposure_name(rule["to"], f"{where}.to")
    if src == dst:
        raise InvalidScheduleError(f"{where} goes from exposure {src!r} to itself")
    out: dict[str, Any] = {"from": src, "to": dst}
    for key in ("below", "above"):
        v = rule.get(key)
        out[key] = None if v is None else number(v, f"{where}.{key}", positive=False, unit="")
    absolute = rule.get("absolute", False)
    if not isinstance(absolute, bool | np.bool_):
        raise InvalidScheduleError(f"{where}.absolute is {absolute!r}; expected true or false")
    out["absolute"] = bool(absolute)
    after = rule.get("after")
    out["after"] = None if after is None else number(after, f"{where}.after", positive=True)
    out["min_time"] = number(rule.get("min_time", 0.0), f"{where}.min_time", positive=False)
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


def _check_hysteresis(rules: list[dict[str, Any]]) -> None:
    """A rule that leaves an exposure below a threshold and one that returns above it need a
    gap between the thresholds."""
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


def _check_breakpoints(params: Params, t_end: float) -> None:
    """Bound the breakpoints of an adaptive schedule: its visits (``check_every``) and the
    timer checks of its rules (``after``, ``min_time``, ``max_holiday``, ``min_on``; each
    needs that much time in an exposure, so no more than t_end / the shortest of them)."""
    if params["check_every"] > 0:
        what = f"adaptive schedule with check_every = {params['check_every']!r}"
        check_breakpoints(t_end / params["check_every"], "visits", what, t_end)
    timers = [params["max_holiday"], params["min_on"]]
    for r in params["rules"] or []:
        timers += [r["after"], r["min_time"]]
    shortest = min((x for x in timers if x), default=None)
    if shortest is not None:
        what = f"adaptive schedule with a timer of {shortest!r} days"
        check_breakpoints(t_end / shortest, "timer checks", what, t_end)


def _tables(params: Params, model: "Model") -> dict[str, Any]:
    """The engine's adaptive tables: exposures by index, the two-level rule (and detection) as
    rules, the monitor as weights."""
    index = model.exposures.index
    on, off = index(params["on"]), index(params["off"])
    start = params["start"]
    rules: list[dict[str, Any]] = []

    def rule(src: int, dst: int, **kw: Any) -> dict[str, Any]:
        base = {"from": src, "to": dst, "below": None, "above": None, "absolute": False}
        return {**base, "after": None, "min_time": 0.0, "phase": "any", **kw}

    if params["rules"] is not None:
        for r in params["rules"]:
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
        rules.append(rule(on, off, below=params["stop_below"], min_time=params["min_on"] or 0.0))
        rules.append(rule(off, on, above=params["resume_above"], phase=after))
        if params["max_holiday"] is not None:
            rules.append(rule(off, on, after=params["max_holiday"], phase=after))
    if isinstance(start, Mapping):
        rules.append(rule(off, on, above=start["detect"], absolute=True, phase="before_treatment"))
    out = {
        "initial_exposure": on if start == "on" else off,
        "monitor_weights": adaptive_monitor_weights(params, model),
        "reference": params["reference"],
        "check_every": params["check_every"],
        "rules": rules,
    }
    if monitors_biomarker(params):
        # Absent means False (the engine's default): cell-burden tables are unchanged.
        out["monitor_biomarker"] = True
    return out
