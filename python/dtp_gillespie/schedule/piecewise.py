"""Fixed lists of segments: ``continuous`` (one exposure for ever) and ``piecewise``.

- ``{"kind": "continuous", "exposure": "on"}``: one exposure (default ``"on"``) for ever; a
  piecewise schedule of one segment.
- ``{"kind": "piecewise", "segments": [[0, "off"], [30, "on"], [60, "off"]]}``: ``(start time,
  exposure)`` pairs; the first start is 0, starts are finite and strictly increasing, and the last
  exposure lasts for ever.
"""

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidScheduleError
from ._common import exposure_name, number, pairs
from ._kind import Params
from ._segments import SegmentKind, SegmentTable

__all__ = ["Continuous", "Piecewise"]


class Continuous(SegmentKind):
    """One exposure for ever."""

    name = "continuous"
    keys = ("kind", "exposure")

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        exposure = exposure_name(spec.get("exposure", "on"), "continuous exposure")
        return {"kind": self.name, "exposure": exposure}

    def segments(self, params: Params) -> SegmentTable:
        return SegmentTable([0.0], [params["exposure"]], None, 0.0)


class Piecewise(SegmentKind):
    """Explicit ``[start, exposure]`` segments; the last lasts for ever."""

    name = "piecewise"
    keys = ("kind", "segments")

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        if "segments" not in spec:
            raise InvalidScheduleError("piecewise schedule has no 'segments'")
        out: list[list[Any]] = []
        for n, (value, exp) in enumerate(
            pairs(spec["segments"], "piecewise segments", "start time")
        ):
            start = number(value, f"piecewise segments[{n}] start", positive=False)
            if n == 0 and start != 0.0:
                raise InvalidScheduleError(
                    f"piecewise segments[0] starts at {value!r}; the first segment must start at 0"
                )
            if n > 0 and start <= out[-1][0]:
                raise InvalidScheduleError(
                    f"piecewise segments[{n}] starts at {value!r}, not after the previous start "
                    f"{out[-1][0]!r}; start times must be strictly increasing"
                )
            out.append([start, exp])
        return {"kind": self.name, "segments": out}

    def segments(self, params: Params) -> SegmentTable:
        segs = params["segments"]
        return SegmentTable([s for s, _ in segs], [e for _, e in segs], None, 0.0)
