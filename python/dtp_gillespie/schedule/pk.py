"""``pk``: pharmacokinetic dosing, the rates following the drug's concentration.

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
``C ≥ EC50·(θ/(1 − θ))^(1/h)``, and ``off`` otherwise (``off`` is the exposure that is not
treatment). Runs also report ``auc_concentration`` and ``auc_response``, the areas under C and
under that response up to ``stop_time``, in closed form.
"""

import math
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..errors import InvalidScheduleError
from ._common import MAX_SEGMENTS, check_breakpoints, check_keys, exposure_name, is_list, number
from ._kind import Params, ScheduleKind

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Pk", "dose_times"]

_PROCESSES: Final = ("division", "death", "switch", "mutation")
_MAX_FLOAT: Final = sys.float_info.max


class Pk(ScheduleKind):
    """Doses of a drug whose concentration moves every rate through a Hill response."""

    name = "pk"
    keys = (
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
    )
    engine_kind = "pk"
    needs_t_end = True

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        if "half_life" not in spec:
            raise InvalidScheduleError("pk schedule has no 'half_life' (days)")
        every, times = spec.get("dose_every"), spec.get("dose_times")
        if every is not None and times is not None:
            raise InvalidScheduleError("pk schedule: give dose_every or dose_times, not both")
        first = spec.get("first_dose")
        out: dict[str, Any] = {"kind": self.name}
        out["dose"] = number(spec.get("dose", 1.0), "pk dose", positive=False, unit="")
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
            out["dose_every"], out["dose_times"], out["first_dose"] = None, _times(times), None
        else:
            out["dose_every"] = number(
                1.0 if every is None else every, "pk dose_every", positive=True
            )
            out["dose_times"] = None
            out["first_dose"] = number(
                0.0 if first is None else first, "pk first_dose", positive=False
            )
        out["half_life"] = number(spec["half_life"], "pk half_life", positive=True)
        if not math.isfinite(math.log(2) / out["half_life"]):
            raise InvalidScheduleError(
                f"pk half_life is {spec['half_life']!r}; it must be at least "
                f"{math.log(2) / _MAX_FLOAT:.6g} days so that the elimination rate "
                "ln 2 / half_life is a finite number"
            )
        out["hill"] = number(spec.get("hill", 1.0), "pk hill", positive=True, unit="")
        out["ec50"] = number(
            spec.get("ec50", 1.0), "pk ec50", positive=True, unit="", allow_inf=True
        )
        on = exposure_name(spec.get("on", "on"), "pk on")
        off = exposure_name(spec.get("off", "off"), "pk off")
        if on == off:
            raise InvalidScheduleError(
                f"pk on and off are both {on!r}; they must be different exposures"
            )
        out["on"], out["off"] = on, off
        p = spec.get("missed_dose_probability", 0.0)
        x = number(p, "pk missed_dose_probability", positive=False, unit="")
        if x > 1.0:
            raise InvalidScheduleError(
                f"pk missed_dose_probability is {p!r}; a probability must lie in [0, 1]"
            )
        out["missed_dose_probability"] = x
        theta = number(spec.get("on_threshold", 0.05), "pk on_threshold", positive=True, unit="")
        if not theta < 1.0:
            raise InvalidScheduleError(
                f"pk on_threshold is {spec.get('on_threshold')!r}; it is a fraction of the maximal "
                "response and must lie strictly between 0 and 1"
            )
        out["on_threshold"] = theta
        out["rates"] = _rates(spec.get("rates", []))
        return out

    def exposures(self, params: Params) -> list[str]:
        return [params["off"], params["on"]]

    def off_exposure(self, params: Params, model: "Model") -> str | None:
        return str(params["off"])

    def validate(self, params: Params, model: "Model", t_end: float | None) -> None:
        super().validate(params, model, t_end)
        _channel_parameters(params, model)
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

    def compile(self, params: Params, model: "Model", t_end: float | None) -> dict[str, Any]:
        assert t_end is not None
        index = model.exposures.index
        ec50, hill = _channel_parameters(params, model)
        return {
            "off_exposure": index(params["off"]),
            "on_exposure": index(params["on"]),
            "dose_times": dose_times(params, t_end),
            "dose": params["dose"],
            "half_life": params["half_life"],
            "ec50": ec50,
            "hill": hill,
            "missed_dose_probability": params["missed_dose_probability"],
            "response_ec50": params["ec50"],
            "response_hill": params["hill"],
            "on_threshold": params["on_threshold"],
        }


def dose_times(params: Params, t_end: float) -> list[float]:
    """Dose times of a pk schedule up to ``t_end`` (``first_dose + k·dose_every``)."""
    if params["kind"] != Pk.name:
        raise InvalidScheduleError(f"dose_times: a {params['kind']} schedule has no doses")
    if params["dose_times"] is not None:
        out = [t for t in params["dose_times"] if t <= t_end]
    else:
        first, every = params["first_dose"], params["dose_every"]
        if first > t_end:
            return []
        span = (t_end - first) / every
        check_breakpoints(span + 1, "doses", f"pk dose_every {every!r}", t_end)
        n = math.floor(span) + 1
        out = [first + k * every for k in range(n)]
        out = [t for t in out if t <= t_end]
    check_breakpoints(len(out), "doses", "pk schedule", t_end)
    return out


def _times(times: Any) -> list[float]:
    """``dose_times``: a sorted list of days."""
    if not is_list(times):
        raise InvalidScheduleError(f"pk dose_times is {times!r}; expected a list of days")
    ts: list[float] = []
    for n, t in enumerate(times):
        x = number(t, f"pk dose_times[{n}]", positive=False)
        if ts and x < ts[-1]:
            raise InvalidScheduleError(
                f"pk dose_times[{n}] is {t!r}, before dose_times[{n - 1}] = {ts[-1]!r}; "
                "dose times must be sorted"
            )
        ts.append(x)
    return ts


def _rates(rates: Any) -> list[dict[str, Any]]:
    """``rates``: per-process ``ec50``/``hill`` overrides, none repeated."""
    if rates is None:
        rates = []
    if not is_list(rates):
        raise InvalidScheduleError(f"pk rates is {rates!r}; expected a list of tables")
    norm = [_rate(r, n) for n, r in enumerate(rates)]
    seen: set[tuple[str, ...]] = set()
    for n, r in enumerate(norm):
        key = (r["process"], r.get("state", ""), r.get("from", ""), r.get("to", ""))
        if key in seen:
            raise InvalidScheduleError(f"pk rates[{n}] repeats an earlier override {key!r}")
        seen.add(key)
    return norm


def _rate(entry: object, n: int) -> dict[str, Any]:
    where = f"pk rates[{n}]"
    if not isinstance(entry, Mapping):
        raise InvalidScheduleError(f"{where} is {entry!r}; expected a table {{process, ...}}")
    process = entry.get("process")
    if process not in _PROCESSES:
        raise InvalidScheduleError(
            f"{where}.process is {process!r}; expected one of {', '.join(_PROCESSES)}"
        )
    names = ("state",) if process in ("division", "death") else ("from", "to")
    check_keys(entry, ("process", *names, "ec50", "hill"), where)
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
        else number(ec50, f"{where}.ec50", positive=True, unit="", allow_inf=True)
    )
    out["hill"] = None if hill is None else number(hill, f"{where}.hill", positive=True, unit="")
    return out


def _channel_parameters(params: Params, model: "Model") -> tuple[list[float], list[float]]:
    """Per-channel ec50 and hill of a pk schedule (overrides by process)."""
    procs = model.channel_processes()
    ec50 = [params["ec50"]] * len(procs)
    hill = [params["hill"]] * len(procs)
    for n, r in enumerate(params["rates"]):
        where = f"pk rates[{n}]"
        proc = r["process"]
        names = [r["state"]] if "state" in r else [r["from"], r["to"]]
        for key, name in zip(("state",) if "state" in r else ("from", "to"), names, strict=True):
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
    order = sorted(params["rates"], key=lambda r: r["process"] == "mutation")
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
