"""``cyclic``: a list of phases that repeats for ever (sequential and alternating therapy).

``{"kind": "cyclic", "phases": [[7, "A"], [7, "B"], [14, "off"]], "delay": 0, "delay_exposure":
"off"}``: the phases, each ``[duration in days, exposure]``, in order, then again from the first,
for ever (period: the sum of the durations). During ``[0, delay)`` the ``delay_exposure`` (default
``"off"``) is in force. It says what ``intermittent`` cannot: more than two phases per cycle, such
as a week of drug A, a week of drug B and a fortnight's holiday; ``intermittent(on=3, off=2)`` is
``cyclic`` with the phases ``[[3, "on"], [2, "off"]]``, to the bit.
"""

from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from ..errors import InvalidScheduleError
from ._common import DEFAULT_OFF, exposure_name, number, pairs
from ._kind import Params
from ._segments import SegmentKind, SegmentTable

__all__ = ["Cyclic"]


class Cyclic(SegmentKind):
    """Phases ``[duration, exposure]`` repeating with the period of their total duration."""

    name = "cyclic"
    keys = ("kind", "phases", "delay", "delay_exposure")

    def normalise_fields(self, spec: Mapping[str, Any]) -> Params:
        out: list[list[Any]] = [
            [number(duration, f"cyclic phases[{n}] duration", positive=True), exposure]
            for n, (duration, exposure) in enumerate(
                pairs(spec.get("phases"), "cyclic phases", "duration in days")
            )
        ]
        # Each phase must move the clock: a duration lost to rounding next to a much longer cycle
        # would be a phase that never happens.
        ends = list(accumulate(d for d, _ in out))
        for n in range(1, len(out)):
            if not ends[n] > ends[n - 1]:
                raise InvalidScheduleError(
                    f"cyclic phases[{n}] lasts {out[n][0]!r} days, which is lost to rounding "
                    f"after {ends[n - 1]!r} days of earlier phases; give durations of similar size"
                )
        return {
            "kind": self.name,
            "phases": out,
            "delay": number(spec.get("delay", 0.0), "cyclic delay", positive=False),
            "delay_exposure": exposure_name(
                spec.get("delay_exposure", DEFAULT_OFF), "cyclic delay_exposure"
            ),
        }

    def segments(self, params: Params) -> SegmentTable:
        durations = [d for d, _ in params["phases"]]
        names = [e for _, e in params["phases"]]
        starts = [0.0, *accumulate(durations[:-1])]
        period = sum(durations)
        delay = params["delay"]
        if delay > 0:
            shifted = [delay + s for s in starts]
            return SegmentTable([0.0, *shifted], [params["delay_exposure"], *names], 1, period)
        return SegmentTable(starts, names, 0, period)
