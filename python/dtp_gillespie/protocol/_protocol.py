"""``Protocol``: an experiment as a sequence of steps over the cells of each replicate."""

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._options import _check_initial, coerce_model
from .._seeding import SeedLike
from ..barcodes import Barcodes, check_barcodes
from ..errors import InvalidRunError, InvalidScheduleError
from ..model import Model
from ..schedule import Schedule
from ._steps import (
    MAX_FLASKS,
    Bottleneck,
    Count,
    Grow,
    Passage,
    Split,
    Step,
    check_schedule,
    make_step,
    step_from_dict,
)

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Protocol"]


class Protocol:
    """An experiment: barcoded cells at the start, then steps (grow, treat, split, passage,
    bottleneck, count) applied to every flask of every replicate.

    Build one step at a time; each method returns a new Protocol and checks the step at once::

        proto = (
            dg.Protocol(model, initial={"S": 500}, barcodes="founders")
            .grow("off", 4.0)
            .split(2)
            .treat("on", 6.0)
            .count()
        )
        ds = proto.run(n_replicates=100, seed=1)

    Parameters
    ----------
    model : Model or dict
    initial : mapping
        Cells per state at the start of each replicate (``{"S": 500}``).
    barcodes : "founders", int, dg.Barcodes or None, default "founders"
        ``"founders"``: initial cell k (state 0's cells first) carries barcode k; an int ``B``:
        each initial cell draws one of ``B`` barcodes uniformly (a library); None: every cell
        carries barcode 0.
    schedules : mapping of str to Schedule (or spec dict), optional
        Named schedules that ``grow`` and ``treat`` steps may name.
    steps : sequence, optional
        Steps as made by the methods, or as tables (``{"step": "split", "flasks": 2}``).
    """

    model: Model
    initial: tuple[int, ...]
    """Cells per state at the start, in the model's state order."""
    barcodes: Barcodes | None
    schedules: Mapping[str, Schedule]
    steps: tuple[Step, ...]

    def __init__(
        self,
        model: Model | Mapping[str, Any],
        *,
        initial: Mapping[str, Any],
        barcodes: Barcodes | str | int | None = "founders",
        schedules: Mapping[str, Schedule | Mapping[str, Any]] | None = None,
        steps: Sequence[Step | Mapping[str, Any]] = (),
    ) -> None:
        m = coerce_model(model)
        if not isinstance(initial, Mapping):
            raise InvalidRunError(
                f"initial is {initial!r}; expected a table {{state: count}}, e.g. {{'S': 500}}"
            )
        named: dict[str, Schedule] = {}
        for name, spec in (schedules or {}).items():
            if not isinstance(name, str):
                raise InvalidScheduleError(f"schedule name {name!r} is not a string")
            sched = check_schedule(spec, f"schedules[{name!r}]")
            if isinstance(sched, str):
                sched = Schedule.coerce(sched)
            try:
                sched.validate(m)
            except InvalidScheduleError as exc:
                raise InvalidScheduleError(f"schedule {name!r}: {exc}") from None
            named[name] = sched
        self.model = m
        self.initial = tuple(_check_initial(initial, m))
        self.barcodes = check_barcodes(barcodes)
        self.schedules = named
        self.steps = ()
        for i, step in enumerate(steps):
            self.steps = self._append(step_from_dict(step, f"steps[{i}]")).steps

    # --- building -------------------------------------------------------------------------------
    def grow(self, schedule: "str | Schedule | Mapping[str, Any]", duration: float) -> "Protocol":
        """Run every flask under ``schedule`` (a Schedule, a name of ``schedules``, or an
        exposure of the model) for ``duration`` days."""
        where = f"steps[{len(self.steps)}]"
        return self._append(make_step("grow", where, schedule=schedule, duration=duration))

    def treat(self, schedule: "str | Schedule | Mapping[str, Any]", duration: float) -> "Protocol":
        """As :meth:`grow` (recorded as a treatment)."""
        where = f"steps[{len(self.steps)}]"
        return self._append(make_step("treat", where, schedule=schedule, duration=duration))

    def split(self, flasks: int) -> "Protocol":
        """Split every flask into ``flasks`` flasks (each cell independently and uniformly)."""
        return self._append(make_step("split", f"steps[{len(self.steps)}]", flasks=flasks))

    def passage(self, fraction: float) -> "Protocol":
        """Keep each cell independently with probability ``fraction`` in (0, 1]."""
        where = f"steps[{len(self.steps)}]"
        return self._append(make_step("passage", where, fraction=fraction))

    def bottleneck(self, cells: int) -> "Protocol":
        """Keep exactly ``cells`` cells of every flask, chosen uniformly without replacement."""
        return self._append(make_step("bottleneck", f"steps[{len(self.steps)}]", cells=cells))

    def count(self) -> "Protocol":
        """Record every flask: cells per state, and cells per barcode and state."""
        return self._append(Count())

    def _append(self, step: Step) -> "Protocol":
        """A copy with ``step`` added, checked against the steps before it."""
        where = f"steps[{len(self.steps)}]"
        if isinstance(step, Grow):
            self.schedule_of(step, where)
        elif isinstance(step, Split) and self.n_flasks() * step.flasks > MAX_FLASKS:
            raise InvalidRunError(
                f"{where}.flasks is {step.flasks}: the experiment would have "
                f"{self.n_flasks() * step.flasks} flasks; at most {MAX_FLASKS}"
            )
        elif isinstance(step, Bottleneck):
            bound = self.population_bound()
            if bound is not None and step.cells > bound:
                raise InvalidRunError(
                    f"{where}.cells is {step.cells}; larger than the population, which is at "
                    f"most {bound} cells there (no grow step before it)"
                )
        out = copy.copy(self)
        out.steps = (*self.steps, step)
        return out

    # --- questions ------------------------------------------------------------------------------
    def schedule_of(self, step: Grow, where: str = "step") -> Schedule:
        """The Schedule a grow or treat step runs, checked against the model."""
        sched = step.schedule
        if isinstance(sched, str):
            if sched in self.schedules:
                return self.schedules[sched]
            if sched not in self.model.exposures:
                raise InvalidScheduleError(
                    f"{where}.schedule is {sched!r}: not a schedule of the protocol "
                    f"({sorted(self.schedules) or 'none'}) nor an exposure of the model "
                    f"({list(self.model.exposures)})"
                )
            sched = Schedule.continuous(sched)
        try:
            sched.validate(self.model, step.duration)
        except InvalidScheduleError as exc:
            raise InvalidScheduleError(f"{where}.schedule: {exc}") from None
        return sched

    def n_flasks(self, upto: int | None = None) -> int:
        """Flasks of each replicate after the first ``upto`` steps (default all)."""
        return math.prod(s.flasks for s in self.steps[:upto] if isinstance(s, Split))

    def population_bound(self) -> int | None:
        """The most cells a flask can hold after the steps so far, if no grow step sets none."""
        bound = sum(self.initial)
        for step in self.steps:
            if isinstance(step, Grow):
                return None
            if isinstance(step, Bottleneck):
                bound = min(bound, step.cells)
        return bound

    # --- conversion -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The protocol as plain data (what :meth:`from_dict` reads, and the ``protocol``
        attribute of a result records)."""
        return {
            "model": self.model.to_dict(),
            "schedules": {k: s.to_dict() for k, s in self.schedules.items()},
            "protocol": {
                "initial": dict(zip(self.model.states, self.initial, strict=True)),
                "barcodes": None if self.barcodes is None else self.barcodes.to_spec(),
                "steps": [self._step_dict(s) for s in self.steps],
            },
        }

    def _step_dict(self, step: Step) -> dict[str, Any]:
        """A step's table; an exposure name becomes its continuous schedule's table (a file's
        steps name only the file's schedules)."""
        out = step.to_dict()
        if isinstance(step, Grow) and isinstance(step.schedule, str):
            name = step.schedule
            out["schedule"] = (
                name if name in self.schedules else Schedule.continuous(name).to_dict()
            )
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Protocol":
        """A protocol from ``{"model": ..., "schedules": ..., "protocol": {...}}`` (the layout
        of a protocol TOML file, without its ``[run]`` table)."""
        from ._toml import protocol_from_config

        return protocol_from_config(data)[0]

    @classmethod
    def from_toml(cls, source: "str | os.PathLike[str]") -> "Protocol":
        """A protocol from a TOML file (a path) or TOML text (a str holding a newline)."""
        from ._toml import load_protocol

        return load_protocol(source)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Protocol) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        steps = ", ".join(s.to_dict()["step"] for s in self.steps)
        return f"Protocol(states={list(self.model.states)}, steps=[{steps}])"

    # --- running --------------------------------------------------------------------------------
    def run(
        self,
        n_replicates: int = 1,
        *,
        seed: SeedLike = None,
        n_threads: int | None = None,
        replicate_offset: int = 0,
        max_events: int | None = None,
        max_population: int | None = None,
        block_size: int | None = None,
    ) -> "xr.Dataset":
        """Run the experiment ``n_replicates`` times.

        Parameters
        ----------
        n_replicates : int
            Experiments (each with its own flasks).
        seed : int, SeedSequence, Generator or None
            As for :func:`~dtp_gillespie.simulate`; every flask, step and replicate draws from
            its own stream derived from it (docs/protocols.md), so a result is bit-identical for
            any ``n_threads``, ``block_size`` and ``replicate_offset`` split of the replicates.
        n_threads : int, optional
            Engine threads (default: every core).
        replicate_offset : int
            Global index of the first replicate.
        max_events, max_population : int, optional
            Caps of each flask's trajectory in each grow step; a capped flask is unknown from
            then on (status ``max_events`` / ``max_population``), never counted as data.
        block_size : int, optional
            Replicates run through the protocol together (memory); default 256.

        Returns
        -------
        xarray.Dataset
            See docs/protocols.md ("Output").
        """
        from ._execute import run_protocol

        return run_protocol(
            self,
            n_replicates=n_replicates,
            seed=seed,
            n_threads=n_threads,
            replicate_offset=replicate_offset,
            max_events=max_events,
            max_population=max_population,
            block_size=block_size,
        )


# Steps a Protocol may hold, for isinstance checks by callers.
STEP_TYPES = (Grow, Split, Passage, Bottleneck, Count)
