"""Drug schedules: which exposure is in force at each time, or how the drug pressure evolves.

A schedule is written as plain data (docs/model.md)::

    {"kind": "continuous", "exposure": "on"}
    {"kind": "intermittent", "on": 14, "off": 14, "first": "on", "delay": 0}
    {"kind": "piecewise", "segments": [[0, "off"], [30, "on"], [60, "off"]]}
    {"kind": "adaptive", "on": "on", "off": "off", "stop_below": 0.5, "resume_above": 1.0}
    {"kind": "pk", "dose": 10.0, "dose_every": 1.0, "half_life": 1.5, "hill": 2.0, "ec50": 1.0}
    {"kind": "combination", "drugs": {"A": {"kind": "intermittent", "on": 14, "off": 14},
                                      "M": {"kind": "continuous"}}, "none": "off"}

Each kind lives in its own module, which documents its semantics: fixed kinds in
:mod:`.piecewise` (``continuous``, ``piecewise``), :mod:`.intermittent` and :mod:`.combination`;
state-triggered dosing in :mod:`.adaptive`; pharmacokinetics in :mod:`.pk`. An exposure is in
force from its start time inclusive to the next start exclusive; the boundaries of fixed kinds
come from the engine's own arithmetic (:mod:`._segments`).

:class:`Schedule` holds a normalised spec and asks its kind (the registry,
:mod:`._registry`; the protocol, :class:`._kind.ScheduleKind`) for everything else.

Treating exposures
------------------
Every compiled schedule says which exposures count as "on drug" (for ``time_on_drug``,
``treatment_start_time``): all but the schedule's off exposure, which is ``off`` (adaptive, pk),
``none`` (combination), ``off_exposure`` (intermittent) or, for continuous and piecewise
schedules, ``"off"`` if the model has such an exposure (else every exposure is treating).
"""

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

import numpy as np
import numpy.typing as npt

from ..errors import InvalidScheduleError
from ._common import BIOMARKER as BIOMARKER
from ._common import MAX_SEGMENTS as MAX_SEGMENTS
from ._common import normalise_monitor, number
from ._kind import ScheduleKind, SpecHolder
from ._registry import FIXED_KINDS as FIXED_KINDS
from ._registry import KINDS as KINDS
from ._registry import REGISTRY, kind_of, normalise
from .adaptive import REFERENCES as REFERENCES
from .adaptive import RULE_PHASES as RULE_PHASES
from .adaptive import adaptive_monitor_weights, monitors_biomarker
from .pk import dose_times

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Schedule"]

_KEYS: Final[dict[str, tuple[str, ...]]] = {name: kind.keys for name, kind in REGISTRY.items()}
"""The keys each kind's spec may have (``"kind"`` first)."""


class Schedule(SpecHolder):
    """A drug schedule: fixed (continuous, intermittent, piecewise, combination), adaptive or pk.

    Build one with :meth:`continuous`, :meth:`intermittent`, :meth:`piecewise`,
    :meth:`combination`, :meth:`adaptive`, :meth:`pk` or :meth:`from_dict`. Instances are
    immutable; equality compares :meth:`to_dict`. See the module docstring for the semantics.
    """

    __slots__ = ("_params",)

    _params: dict[str, Any]

    def __init__(self, spec: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_params", normalise(spec))

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
    def cyclic(
        cls,
        phases: Sequence[tuple[float, str]],
        delay: float = 0.0,
        delay_exposure: str = "off",
    ) -> "Schedule":
        """Phases ``(duration, exposure)`` in order, repeating for ever (e.g. a week of drug A,
        a week of drug B, a fortnight off: ``[(7, "A"), (7, "B"), (14, "off")]``).

        Parameters
        ----------
        phases : sequence of (float, str)
            Durations (days, > 0) and the exposure in force during each phase.
        delay : float, default 0
            Days of ``delay_exposure`` before the first cycle.
        delay_exposure : str, default "off"
            Exposure in force during the delay.
        """
        return cls(
            {
                "kind": "cyclic",
                "phases": [list(p) for p in phases],
                "delay": delay,
                "delay_exposure": delay_exposure,
            }
        )

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
        if not isinstance(drugs, Mapping):
            raise InvalidScheduleError(
                f"combination drugs is {drugs!r}; expected a mapping of drug name to schedule, "
                "e.g. {'A': 'on', 'B': Schedule.intermittent(on=7, off=7)}"
            )
        subs = {k: v.to_dict() if isinstance(v, Schedule) else v for k, v in drugs.items()}
        return cls({"kind": "combination", "drugs": subs, "none": none})

    @classmethod
    def adaptive(cls, **spec: Any) -> "Schedule":
        """State-triggered dosing; keyword arguments are the keys of the adaptive spec.

        Keys (the docstring of ``dtp_gillespie.schedule.adaptive`` and docs/schedules.md,
        "Adaptive dosing", give the details):

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

        Keys (the docstring of ``dtp_gillespie.schedule.pk`` and docs/schedules.md,
        "Pharmacokinetic dosing", give the details):

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

    # ------------------------------------------------------------------ accessors

    _normalise_monitor = staticmethod(normalise_monitor)
    """A burden monitor's normalised form (a run's progression monitor uses it too)."""

    @property
    def _kind(self) -> ScheduleKind:
        return kind_of(self._params)

    @property
    def kind(self) -> str:
        """The schedule kind (``"continuous"``, ``"intermittent"``, ``"piecewise"``,
        ``"combination"``, ``"adaptive"`` or ``"pk"``)."""
        return str(self._params["kind"])

    @property
    def engine_kind(self) -> str:
        """The engine's kind: ``"fixed"``, ``"adaptive"`` or ``"pk"``."""
        return self._kind.engine_kind

    @property
    def exposures(self) -> tuple[str, ...]:
        """Exposure names the schedule may use (in order of first mention, without duplicates).

        For a combination, every combination its drugs could form (whether or not they overlap).
        """
        return tuple(dict.fromkeys(self._kind.exposures(self._params)))

    def off_exposure(self, model: "Model") -> str | None:
        """The schedule's off (non-treating) exposure in ``model``, or None (all treating)."""
        return self._kind.off_exposure(self._params, model)

    def treating(self, model: "Model") -> list[bool]:
        """Per model exposure: does it count as on drug (all but :meth:`off_exposure`)."""
        off = self.off_exposure(model)
        return [e != off for e in model.exposures]

    @property
    def monitors_biomarker(self) -> bool:
        """Does an adaptive schedule watch the model's biomarker (``monitor = "biomarker"``)?"""
        return monitors_biomarker(self._params)

    def monitor_weights(self, model: "Model") -> list[float]:
        """Burden weights of an adaptive schedule's ``monitor`` (else 1 for every state, also
        when the schedule monitors the biomarker)."""
        return adaptive_monitor_weights(self._params, model)

    def to_dict(self) -> dict[str, Any]:
        """Return the normalised, JSON-able spec (every key explicit, times as floats)."""
        return self._kind.to_dict(self._params)

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

    def dose_times(self, t_end: float) -> list[float]:
        """Dose times of a pk schedule up to ``t_end`` (``first_dose + k·dose_every``)."""
        return dose_times(self._params, t_end)

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
        self._kind.validate(self._params, model, t_end)

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
        from ..model import Model  # the model module imports this one

        if not isinstance(model, Model):
            raise InvalidScheduleError(
                f"compile needs a dtp_gillespie.Model, not {type(model).__name__}; build one "
                "with dg.Model.from_dict(spec)"
            )
        kind = self._kind
        if kind.needs_t_end and t_end is None:
            raise InvalidScheduleError(f"compiling a {kind.name} schedule needs t_end")
        if t_end is not None:
            t_end = number(t_end, "t_end", positive=True)
        kind.validate(self._params, model, t_end if kind.needs_t_end else None)
        tables = kind.compile(self._params, model, t_end)
        return {"kind": kind.engine_kind, "treating": self.treating(model), **tables}

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
        try:
            values = np.asarray(times)
            numeric = values.dtype.kind in "iuf" and np.isfinite(values).all()
        except (TypeError, ValueError):
            numeric = False
        if not numeric:
            raise InvalidScheduleError(
                f"times is {times!r}; expected finite times in days (a number or an array of them)"
            )
        out = self._kind.exposure_at(self._params, values)
        if out.ndim == 0:
            return str(out)
        return out
