"""Drug schedules: which exposure is in force at each time.

A schedule is written as plain data (DESIGN.md §2)::

    {"kind": "continuous", "exposure": "on"}
    {"kind": "intermittent", "on": 14, "off": 14, "first": "on", "delay": 0}
    {"kind": "piecewise", "segments": [[0, "off"], [30, "on"], [60, "off"]]}

Semantics
---------
- ``continuous``: one exposure (default ``"on"``) for ever.
- ``intermittent``: during ``[0, delay)`` the off exposure is in force; then cycles of the ``first``
  phase (``"on"`` or ``"off"``, default ``"on"``) and the other phase, of durations ``on`` and
  ``off`` days, for ever. The phases use the exposures ``on_exposure`` (default ``"on"``) and
  ``off_exposure`` (default ``"off"``); ``first`` names a phase, not an exposure.
- ``piecewise``: ``(start time, exposure)`` pairs; the first start is 0, starts are finite and
  strictly increasing, and the last exposure lasts for ever.

An exposure is in force from its start time inclusive to the next start exclusive. Kinds
``adaptive`` and ``pk`` are planned and rejected for now.
"""

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

import numpy as np
import numpy.typing as npt

from . import _core
from .errors import InvalidScheduleError

if TYPE_CHECKING:
    from .model import Model

__all__ = ["Schedule"]

KINDS: Final = ("continuous", "intermittent", "piecewise")
FUTURE_KINDS: Final = ("adaptive", "pk")
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "continuous": ("kind", "exposure"),
    "intermittent": ("kind", "on", "off", "first", "delay", "on_exposure", "off_exposure"),
    "piecewise": ("kind", "segments"),
}
_PHASES: Final = ("on", "off")


def _number(value: object, what: str, *, positive: bool) -> float:
    ok = not isinstance(value, bool | np.bool_) and isinstance(
        value, int | float | np.integer | np.floating
    )
    try:
        x = float(value) if ok else math.nan  # type: ignore[arg-type]
    except OverflowError:
        x = math.inf
    if not ok or not math.isfinite(x) or (x <= 0 if positive else x < 0):
        need = "> 0" if positive else ">= 0"
        raise InvalidScheduleError(f"{what} is {value!r}; it must be a finite number {need} (days)")
    return x


def _exposure_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidScheduleError(f"{what} is {value!r}; expected an exposure name")
    return value


class Schedule:
    """A piecewise-constant drug schedule (continuous, intermittent or piecewise).

    Build one with :meth:`continuous`, :meth:`intermittent`, :meth:`piecewise` or
    :meth:`from_dict`. Instances are immutable; equality compares :meth:`to_dict`.
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
    def from_dict(cls, spec: Mapping[str, Any]) -> "Schedule":
        """Build a schedule from its declarative spec (a dict, e.g. a TOML ``[schedule]`` table).

        Raises
        ------
        InvalidScheduleError
            If the spec is invalid (unknown kind or key, bad duration, bad segments).
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

    @staticmethod
    def _normalise(spec: object) -> dict[str, Any]:
        if not isinstance(spec, Mapping):
            raise InvalidScheduleError(f"a schedule spec must be a table/dict, got {spec!r}")
        if "kind" not in spec:
            raise InvalidScheduleError(f"schedule has no 'kind' (one of {', '.join(KINDS)})")
        kind = spec["kind"]
        if kind in FUTURE_KINDS:
            raise InvalidScheduleError(
                f"schedule kind {kind!r} is not supported yet; supported kinds: {', '.join(KINDS)}"
            )
        if kind not in KINDS:
            raise InvalidScheduleError(
                f"unknown schedule kind {kind!r}; expected one of {', '.join(KINDS)}"
            )
        allowed = _KEYS[kind]
        for key in spec:
            if key not in allowed:
                raise InvalidScheduleError(
                    f"unknown key {key!r} in {kind} schedule; allowed keys: {', '.join(allowed)}"
                )
        if kind == "continuous":
            return {
                "kind": kind,
                "exposure": _exposure_name(spec.get("exposure", "on"), "continuous exposure"),
            }
        if kind == "intermittent":
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
                "kind": kind,
                "on": _number(spec["on"], "intermittent on", positive=True),
                "off": _number(spec["off"], "intermittent off", positive=True),
                "first": first,
                "delay": _number(spec.get("delay", 0.0), "intermittent delay", positive=False),
                "on_exposure": on_exp,
                "off_exposure": off_exp,
            }
        # piecewise
        if "segments" not in spec:
            raise InvalidScheduleError("piecewise schedule has no 'segments'")
        segs = spec["segments"]
        if isinstance(segs, str | bytes | Mapping) or not isinstance(segs, Sequence) or not segs:
            raise InvalidScheduleError(
                f"piecewise segments is {segs!r}; expected a non-empty list of [start, exposure]"
            )
        out: list[list[Any]] = []
        for n, seg in enumerate(segs):
            if isinstance(seg, str | bytes) or not isinstance(seg, Sequence) or len(seg) != 2:
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
        return {"kind": kind, "segments": out}

    # ------------------------------------------------------------------ accessors

    @property
    def kind(self) -> str:
        """The schedule kind: ``"continuous"``, ``"intermittent"`` or ``"piecewise"``."""
        return str(self._params["kind"])

    @property
    def exposures(self) -> tuple[str, ...]:
        """Exposure names the schedule uses (in order of first use, without duplicates)."""
        p = self._params
        if p["kind"] == "continuous":
            names = [p["exposure"]]
        elif p["kind"] == "intermittent":
            first, second = self._phase_exposures()
            names = [p["off_exposure"], first, second] if p["delay"] > 0 else [first, second]
        else:
            names = [e for _, e in p["segments"]]
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised, JSON-able spec (every key explicit, times as floats)."""
        return json.loads(json.dumps(self._params))

    def to_json(self) -> str:
        """Return the normalised spec as a JSON string (the ``schedule`` attribute of outputs)."""
        return json.dumps(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._params == other._params

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
        """(segment_start, segment_exposure names, cycle_start, period)."""
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

    def validate(self, model: "Model") -> None:
        """Check that every exposure the schedule uses is an exposure of ``model``.

        Raises
        ------
        InvalidScheduleError
            Naming the first unknown exposure.
        """
        for name in self.exposures:
            if name not in model.exposures:
                raise InvalidScheduleError(
                    f"{self.kind} schedule uses exposure {name!r}, which is not an exposure of the "
                    f"model (exposures: {list(model.exposures)})"
                )

    def compile(self, model: "Model") -> dict[str, Any]:
        """Compile to the engine's piecewise-constant table (the ``schedule`` dict of ``_core``).

        Raises
        ------
        InvalidScheduleError
            If the schedule names an exposure the model does not have.
        """
        self.validate(model)
        starts, names, cycle_start, period = self._segments()
        return {
            "segment_start": [float(s) for s in starts],
            "segment_exposure": [model.exposures.index(n) for n in names],
            "cycle_start": cycle_start,
            "period": float(period),
        }

    @overload
    def exposure_at(self, times: float) -> str: ...
    @overload
    def exposure_at(self, times: npt.ArrayLike) -> npt.NDArray[np.str_]: ...

    def exposure_at(self, times: npt.ArrayLike) -> str | npt.NDArray[np.str_]:
        """Exposure name in force at each time, as the engine computes it.

        An exposure is in force from its start time inclusive; breakpoints of repeating schedules
        come from the engine's own arithmetic, so the result agrees with the recorded
        ``exposure`` even exactly at a breakpoint.

        Parameters
        ----------
        times : float or array_like
            Times (days, >= 0).

        Returns
        -------
        str or numpy.ndarray of str
            A str for a scalar input, otherwise an array of the shape of ``times``.
        """
        t = np.asarray(times, dtype=np.float64)
        if np.any(~np.isfinite(t)) or np.any(t < 0):
            raise InvalidScheduleError("exposure_at: times must be finite and >= 0")
        starts, names, cycle_start, period = self._segments()
        labels = list(dict.fromkeys(names))
        core_schedule = {
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
