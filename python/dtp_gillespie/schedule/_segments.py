"""Kinds that are a table of segments, possibly repeating: what they share.

Such a kind (continuous, piecewise, intermittent) says only its :class:`SegmentTable`; compiling,
:meth:`~SegmentKind.exposure_at` and the breakpoints up to ``t_end`` follow from it. Every
boundary comes from the engine's own arithmetic (``_core.exposure_at``, ``_core.breakpoints``,
``_core.segment_count``; ``rust/dtp_gillespie_core/src/schedule.rs``), so Python and the engine
agree bit for bit on which exposure is in force when.
"""

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..errors import InvalidScheduleError
from ._common import MAX_SEGMENTS, check_breakpoints
from ._kind import Params, ScheduleKind

if TYPE_CHECKING:
    from .._core import FixedScheduleSpec, FixedSegmentsSpec
    from ..model import Model

__all__ = ["SegmentKind", "SegmentTable", "checked_times"]


@dataclass(frozen=True)
class SegmentTable:
    """Segments ``[start(k), start(k + 1))`` with an exposure each; from ``cycle_start`` on (if
    not None) the tail repeats every ``period`` days, otherwise the last segment lasts for ever."""

    starts: list[float]
    names: list[str]
    cycle_start: int | None
    period: float

    def engine_tables(self, index: Callable[[str], int]) -> "FixedSegmentsSpec":
        """The segment keys of the engine's ``fixed`` schedule, exposures numbered by ``index``."""
        return {
            "segment_start": [float(s) for s in self.starts],
            "segment_exposure": [index(n) for n in self.names],
            "cycle_start": self.cycle_start,
            "period": float(self.period),
        }

    def _local(self) -> tuple["FixedScheduleSpec", list[str]]:
        """The engine's schedule dict with the table's own exposure numbering, and that
        numbering (for the ``_core`` functions, which need no model)."""
        labels = list(dict.fromkeys(self.names))
        treating = [True] * len(labels)
        table: FixedScheduleSpec = {
            "kind": "fixed",
            "treating": treating,
            **self.engine_tables(labels.index),
        }
        return table, labels

    def count(self, t_end: float) -> float:
        """How many segments start at or before ``t_end`` (from the period, up to rounding and
        one whole cycle over; infinite for an infinite ``t_end``)."""
        table, _ = self._local()
        return _core.segment_count(table, float(t_end))

    def breakpoints(self, t_end: float, what: str) -> tuple[list[float], list[str]]:
        """Segment starts <= ``t_end`` and their exposures, as the engine steps through them.
        A repeating table is first bounded by :data:`MAX_SEGMENTS` (``what`` names it)."""
        table, labels = self._local()
        if self.cycle_start is None:
            limit = len(self.starts)
        else:
            check_breakpoints(self.count(t_end), "segments", what, t_end)
            # The count is one whole cycle over, so the engine lists no more than it.
            limit = MAX_SEGMENTS
        times, exposures = _core.breakpoints(table, float(t_end), limit)
        return times, [labels[e] for e in exposures]

    def exposure_at(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
        """The exposure in force at each of ``times``, of their shape."""
        table, labels = self._local()
        idx = _core.exposure_at(table, times.ravel().tolist()).reshape(times.shape)
        out: npt.NDArray[np.str_] = np.asarray(labels)[idx]
        return out


class SegmentKind(ScheduleKind):
    """A kind given by a :class:`SegmentTable` (compiles to the engine's ``fixed`` kind)."""

    @abstractmethod
    def segments(self, params: Params) -> SegmentTable:
        """The kind's segment table."""

    def exposures(self, params: Params) -> list[str]:
        return self.segments(params).names

    def compile(self, params: Params, model: "Model", t_end: float | None) -> dict[str, Any]:
        table = self.segments(params)
        if t_end is not None and len(table.starts) > 1:  # one segment is always within bounds
            check_breakpoints(table.count(t_end), "segments", f"{self.name} schedule", t_end)
        return dict(table.engine_tables(model.exposures.index))

    def exposure_at(self, params: Params, times: npt.ArrayLike) -> npt.NDArray[np.str_]:
        return self.segments(params).exposure_at(checked_times(times))


def checked_times(times: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``times`` as an array of floats, refused unless every one is finite and >= 0."""
    t = np.asarray(times, dtype=np.float64)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise InvalidScheduleError("exposure_at: times must be finite and >= 0")
    return t
