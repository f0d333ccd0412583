"""What every schedule kind checks the same way: numbers, exposure names, keys, the bound on
breakpoints, and the burden monitor (of adaptive schedules and of a run's progression rule).

The numbers are :mod:`dtp_gillespie._checks`'s; this module adds the schedule's messages.
"""

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from .._checks import is_real, to_float
from ..errors import InvalidScheduleError

if TYPE_CHECKING:
    from ..model import Model

__all__ = [
    "BIOMARKER",
    "DEFAULT_OFF",
    "MAX_SEGMENTS",
    "check_breakpoints",
    "check_keys",
    "exposure_name",
    "is_list",
    "monitor_weights",
    "normalise_monitor",
    "number",
    "pairs",
]

MAX_SEGMENTS: Final = 1_000_000
"""Most breakpoints a schedule may give the engine before ``t_end``: segments (intermittent,
piecewise, combination), doses (pk), visits and timer checks (adaptive). The engine stops at each
one, and ``max_events``, which counts events, cannot limit them."""
DEFAULT_OFF: Final = "off"
"""The exposure that is not treatment when a schedule does not name one (continuous, piecewise)."""
BIOMARKER: Final = "biomarker"
"""The adaptive ``monitor`` that watches the model's biomarker instead of cells."""


def number(
    value: object,
    what: str,
    *,
    positive: bool,
    unit: str = "days",
    allow_inf: bool = False,
) -> float:
    """Check a number (finite unless ``allow_inf``; > 0 or >= 0) and return it as a float."""
    ok = is_real(value)
    x = to_float(value) if ok else math.nan
    finite_ok = math.isfinite(x) or (allow_inf and x == math.inf)
    if not ok or math.isnan(x) or not finite_ok or (x <= 0 if positive else x < 0):
        need = "> 0" if positive else ">= 0"
        kind = "a number" if allow_inf else "a finite number"
        suffix = f" ({unit})" if unit else ""
        raise InvalidScheduleError(f"{what} is {value!r}; it must be {kind} {need}{suffix}")
    return x


def check_breakpoints(count: float, unit: str, what: str, t_end: object) -> None:
    """Refuse ``count`` breakpoints (``unit``: "segments", "doses", ...) of ``what`` before
    ``t_end`` if there are more than :data:`MAX_SEGMENTS`."""
    if not count <= MAX_SEGMENTS:
        raise InvalidScheduleError(
            f"{what} has {count:.6g} {unit} before t_end = {t_end!r}, more than {MAX_SEGMENTS} "
            f"{unit} (the most a schedule may have); use longer periods or a shorter t_end"
        )


def pairs(value: object, what: str, first: str) -> list[tuple[object, str]]:
    """``value`` as a non-empty list of ``[<first>, exposure]`` pairs (the number unchecked),
    refused naming ``what`` (``"piecewise segments"``) and the entry."""
    if not is_list(value) or not value:
        raise InvalidScheduleError(
            f"{what} is {value!r}; expected a non-empty list of [{first.split()[0]}, exposure]"
        )
    out: list[tuple[object, str]] = []
    for n, pair in enumerate(value):
        if not is_list(pair) or len(pair) != 2:
            raise InvalidScheduleError(
                f"{what}[{n}] is {pair!r}; expected [{first}, exposure name]"
            )
        out.append((pair[0], exposure_name(pair[1], f"{what}[{n}] exposure")))
    return out


def exposure_name(value: object, what: str) -> str:
    """``value`` as an exposure name (a non-empty str)."""
    if not isinstance(value, str) or not value:
        raise InvalidScheduleError(f"{what} is {value!r}; expected an exposure name")
    return value


def check_keys(spec: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Refuse a key of ``spec`` that is not in ``allowed`` (a typo would otherwise be ignored)."""
    for key in spec:
        if key not in allowed:
            raise InvalidScheduleError(
                f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}"
            )


def is_list(value: object) -> TypeGuard[Sequence[Any]]:
    """A list-like value (a sequence that is not a str, bytes or a table)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | Mapping)


def normalise_monitor(
    value: object, what: str, biomarker: bool = False
) -> dict[str, float] | str | None:
    """A burden monitor as ``{state: weight}`` (a list means weight 1), ``"biomarker"`` (if
    ``biomarker`` allows it) or None (every state, weight 1). The states are checked against a
    model later, by :func:`monitor_weights`."""
    if value is None:
        return None
    if isinstance(value, str):
        if biomarker and value == BIOMARKER:
            return BIOMARKER
        allowed = "'biomarker', " if biomarker else ""
        raise InvalidScheduleError(
            f"{what} is {value!r}; expected {allowed}a list of states or a table {{state: weight}}"
        )
    if is_list(value):
        names = list(value)
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
            str(k): number(v, f"{what} weight of state {k!r}", positive=False, unit="")
            for k, v in value.items()
        }
        if not any(w > 0 for w in out.values()):
            raise InvalidScheduleError(f"{what} weights are all 0; at least one must be > 0")
        return out
    raise InvalidScheduleError(
        f"{what} is {value!r}; expected a list of states or a table {{state: weight}}"
    )


def monitor_weights(
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
