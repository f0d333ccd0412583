"""``combination``: two or more drugs, each on its own fixed schedule.

``{"kind": "combination", "drugs": {"A": {"kind": "intermittent", "on": 14, "off": 14},
"M": {"kind": "continuous"}}, "none": "off"}``: each drug (a name without ``+`` or whitespace)
has a continuous, intermittent or piecewise sub-schedule whose exposures are ``"on"`` and
``"off"`` (of that drug). The exposure in force is the set of drugs on, joined with ``+`` in drug
order (``"A"``, ``"M"``, ``"A+M"``), or ``none`` (default ``"off"``, also the one that is not
treatment) when no drug is on; every combination that occurs must be an exposure of the model. It
compiles to one piecewise table up to ``t_end``: the breakpoints of all drugs merged, each drug's
from the engine's own arithmetic.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidScheduleError
from ._common import DEFAULT_OFF, check_breakpoints, exposure_name
from ._kind import Params, ScheduleKind, SpecHolder
from ._segments import SegmentKind, SegmentTable, checked_times

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["Combination"]

DRUG_EXPOSURES = ("on", "off")
"""The exposures of a drug's own schedule."""


class Combination(ScheduleKind):
    """Several drugs, each with a fixed schedule; the exposure is the set of drugs on."""

    name = "combination"
    keys = ("kind", "drugs", "none")
    needs_t_end = True

    def __init__(self, drug_kinds: Sequence[SegmentKind]) -> None:
        """``drug_kinds``: the kinds a drug's schedule may have."""
        self.drug_kinds = {kind.name: kind for kind in drug_kinds}

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
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
            out[name] = self._normalise_drug(name, _as_spec(sub))
        none = exposure_name(spec.get("none", DEFAULT_OFF), "combination none")
        return {"kind": self.name, "drugs": out, "none": none}

    def _normalise_drug(self, name: str, sub: object) -> Params:
        if not isinstance(sub, Mapping):
            raise InvalidScheduleError(
                f"combination drugs.{name} is {sub!r}; expected a schedule table"
            )
        kind_name = sub.get("kind")
        if not isinstance(kind_name, str) or kind_name not in self.drug_kinds:
            raise InvalidScheduleError(
                f"combination drugs.{name} has kind {kind_name!r}; a drug's schedule must be one "
                f"of {', '.join(self.drug_kinds)}"
            )
        kind = self.drug_kinds[kind_name]
        try:
            norm = kind.normalise(sub)
        except InvalidScheduleError as exc:
            raise InvalidScheduleError(f"combination drugs.{name}: {exc}") from None
        for exp in dict.fromkeys(kind.exposures(norm)):
            if exp not in DRUG_EXPOSURES:
                raise InvalidScheduleError(
                    f"combination drugs.{name} uses exposure {exp!r}; a drug's schedule uses "
                    "only 'on' and 'off' (of that drug)"
                )
        return norm

    def _table(self, drug: Params) -> SegmentTable:
        return self.drug_kinds[drug["kind"]].segments(drug)

    def exposures(self, params: Params) -> list[str]:
        """Every combination the drugs could form (whether or not they overlap)."""
        choices = [(name, set(self._table(sub).names)) for name, sub in params["drugs"].items()]
        out: list[str] = []
        for mask in range(1 << len(choices)):
            states = ["on" if mask >> k & 1 else "off" for k in range(len(choices))]
            if all(state in used for state, (_, used) in zip(states, choices, strict=True)):
                on = [
                    name for state, (name, _) in zip(states, choices, strict=True) if state == "on"
                ]
                out.append("+".join(on) if on else params["none"])
        return out

    def off_exposure(self, params: Params, model: "Model") -> str | None:
        return str(params["none"])

    def validate(self, params: Params, model: "Model", t_end: float | None) -> None:
        """Without ``t_end``, every combination the drugs could form must be an exposure of the
        model; with it, only those that occur before ``t_end``."""
        names = self.merged(params, t_end)[1] if t_end is not None else self.exposures(params)
        for name in dict.fromkeys(names):
            if name not in model.exposures:
                raise InvalidScheduleError(
                    f"combination schedule needs exposure {name!r} (the drugs "
                    f"{name.split('+')} on together, or 'none'), which is not an exposure of the "
                    f"model (exposures: {list(model.exposures)})"
                )

    def merged(self, params: Params, t_end: float) -> tuple[list[float], list[str]]:
        """Merged segments up to ``t_end``: (starts, exposure names), a new segment wherever the
        set of drugs on changes."""
        drugs = list(params["drugs"])
        events: list[tuple[float, int, bool]] = []
        for k, name in enumerate(drugs):
            table = self._table(params["drugs"][name])
            ts, es = table.breakpoints(t_end, f"combination drugs.{name}")
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
            name = "+".join(on) if on else params["none"]
            if names and names[-1] == name:
                continue
            starts.append(float(t))
            names.append(name)
            check_breakpoints(len(starts), "segments", "combination schedule", t_end)
        return starts, names

    def compile(self, params: Params, model: "Model", t_end: float | None) -> dict[str, Any]:
        assert t_end is not None
        starts, names = self.merged(params, t_end)
        return dict(SegmentTable(starts, names, None, 0.0).engine_tables(model.exposures.index))

    def exposure_at(self, params: Params, times: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Each drug's schedule evaluated at ``times``, the drugs on joined with ``+``."""
        t = checked_times(times)
        drugs = list(params["drugs"])
        on = [self._table(sub).exposure_at(t) == "on" for sub in params["drugs"].values()]
        flat = [
            "+".join(d for d, o in zip(drugs, col, strict=True) if o) or params["none"]
            for col in zip(*(o.ravel() for o in on), strict=True)
        ]
        out: npt.NDArray[np.str_] = np.asarray(flat if flat else [], dtype=np.str_)
        return out.reshape(t.shape)


def _as_spec(sub: object) -> object:
    """A drug's schedule as a spec (a ``Schedule`` by its dict)."""
    return sub.to_dict() if isinstance(sub, SpecHolder) else sub
